// SPDX-License-Identifier: MPL-2.0

//! The simulator's STREAMS driver for the loaded objects: the adapter
//! that turns the simulator's `StreamsEntry` calls into calls of
//! `drv/tun`'s `streamtab` procedures on the kernel stack.
//!
//! Theory statement.  The simulator opens minors in `drv/tuntap`'s
//! numbering (`mac_private_minor() + node`); drv/tun's nodes are `ctl` =
//! 0, `tun` = 1, `tap` = 2 in its own, so the adapter hands drv/tun a
//! `dev_t` of its own major and node minor, as specfs would, and converts
//! the clone minor drv/tun returns back.  An open attaches drv/tun first
//! if it is not attached (spec_open holds the devinfo node of the dev_t).
//! open/close run with the opener's credential as `CRED()`.  Locks: none.

use std::ffi::c_int;

use illumos_sys_hdrs::{DDI_SUCCESS, EBUSY, cred_t, dev_t, mblk_t, queue_t, streamtab};
use tuntap_drv::ddi::{Cred, Errno, Kernel, StreamsEntry};

use crate::{TUN_MAJOR, devtree, kstack, shims};

/// Calls a module function `f` of type `T` at `addr` on the kernel stack.
macro_rules! call {
    ($entry:expr, $addr:expr, $t:ty, ($($a:expr),*)) => {{
        // SAFETY: $addr is the address of a function of type $t in a
        // loaded module (a pointer the module stored in its streamtab).
        let f: $t = unsafe { std::mem::transmute::<usize, $t>($addr) };
        kstack::enter($entry, move || unsafe { f($($a),*) })
    }};
}

/// The simulator's STREAMS driver: `drv/tun`'s streamtab.
///
/// The simulator opens minors in `drv/tuntap`'s numbering
/// (`mac_private_minor() + node`); drv/tun's nodes are `ctl` = 0, `tun` =
/// 1, `tap` = 2 in its own, so the adapter converts both ways, as
/// specfs/the clone convention would hand drv/tun its own dev_t.
pub(crate) struct TunStreams {
    pub(crate) st: usize,
    /// The relay module's streamtab (drv/tun's modlstrmod), if linked.
    pub(crate) rly: Option<usize>,
}

impl TunStreams {
    fn tab(&self) -> &streamtab {
        // SAFETY: the loaded tun module's static streamtab.
        unsafe { &*(self.st as *const streamtab) }
    }

    fn rly(&self) -> Option<&streamtab> {
        // SAFETY: the loaded tun module's static module streamtab.
        self.rly.map(|p| unsafe { &*(p as *const streamtab) })
    }
}

impl StreamsEntry for TunStreams {
    unsafe fn open(&self, rq: *mut queue_t, minor: &mut u32, flag: i32, sflag: i32, cr: Cred) -> Result<(), Errno> {
        let state = shims::st();
        // spec_open holds the devinfo node of the dev_t, attaching it.
        if devtree::attach(&state, "tun") != DDI_SUCCESS {
            return Err(illumos_sys_hdrs::ENXIO);
        }
        let base = state.sim.private_minor_base();
        let node = minor.checked_sub(base).ok_or(illumos_sys_hdrs::ENXIO)?;
        let mut dev = shims::ddi::make_dev(TUN_MAJOR, node);
        // SAFETY: the read init of the module's streamtab.
        let Some(f) = (unsafe { (*self.tab().st_rdinit).qi_qopen }) else { return Err(illumos_sys_hdrs::ENXIO) };
        let devp = &raw mut dev;
        let crp = cr.0.cast_mut();
        let rc = shims::ddi::with_cred(cr.0, || {
            call!("tun qi_qopen", f as usize, unsafe extern "C" fn(*mut queue_t, *mut dev_t, c_int, c_int, *mut cred_t) -> c_int, (rq, devp, flag, sflag, crp))
        });
        if rc != 0 {
            return Err(rc);
        }
        *minor = base + shims::ddi::dev_minor(dev);
        Ok(())
    }

    /// Nothing to do: drv/tun's qi_qopen already ran the whole open,
    /// including what `tuntap_str_open` sends up after dropping its lock.
    unsafe fn opened(&self, _rq: *mut queue_t) {}

    unsafe fn close(&self, rq: *mut queue_t, flag: i32, cr: Cred) {
        // SAFETY: as open.
        let Some(f) = (unsafe { (*self.tab().st_rdinit).qi_qclose }) else { return };
        let crp = cr.0.cast_mut();
        shims::ddi::with_cred(cr.0, || {
            call!("tun qi_qclose", f as usize, unsafe extern "C" fn(*mut queue_t, c_int, *mut cred_t) -> c_int, (rq, flag, crp))
        });
    }

    unsafe fn wput(&self, wq: *mut queue_t, mp: *mut mblk_t) {
        // SAFETY: the write init of the module's streamtab.
        let Some(f) = (unsafe { (*self.tab().st_wrinit).qi_putp }) else {
            // SAFETY: nobody else frees it.
            unsafe { <tuntap_sim::SimKernel as Kernel>::freemsg(mp) };
            return;
        };
        call!("tun qi_putp (write)", f as usize, unsafe extern "C" fn(*mut queue_t, *mut mblk_t) -> c_int, (wq, mp));
    }

    /// The loaded driver decides detach in its own `devo_detach`, which
    /// [`LoadedKernel::detach`] calls; the simulator's auto-detach model is
    /// not used with loaded objects, so this answers "busy".
    fn detach_check(&self) -> Result<(), Errno> {
        Err(EBUSY)
    }

    /// The relay module's `qi_qopen` (the simulator pushes it for the
    /// module's own `ldi_ioctl(I_PUSH)`); `ENXIO` if drv/tun links none.
    unsafe fn mod_open(&self, rq: *mut queue_t, sflag: i32, cr: Cred) -> Result<(), Errno> {
        // SAFETY: the read init of the module's streamtab.
        let Some(f) = self.rly().and_then(|t| unsafe { (*t.st_rdinit).qi_qopen }) else {
            return Err(illumos_sys_hdrs::ENXIO);
        };
        let mut dev: dev_t = shims::ddi::make_dev(TUN_MAJOR, 0);
        let devp = &raw mut dev;
        let crp = cr.0.cast_mut();
        let rc = call!("tunrly qi_qopen", f as usize, unsafe extern "C" fn(*mut queue_t, *mut dev_t, c_int, c_int, *mut cred_t) -> c_int, (rq, devp, 0, sflag, crp));
        if rc != 0 { Err(rc) } else { Ok(()) }
    }

    unsafe fn mod_close(&self, rq: *mut queue_t) {
        // SAFETY: as mod_open.
        let Some(f) = self.rly().and_then(|t| unsafe { (*t.st_rdinit).qi_qclose }) else { return };
        let crp = std::ptr::null_mut::<cred_t>();
        call!("tunrly qi_qclose", f as usize, unsafe extern "C" fn(*mut queue_t, c_int, *mut cred_t) -> c_int, (rq, 0, crp));
    }

    unsafe fn mod_wput(&self, wq: *mut queue_t, mp: *mut mblk_t) {
        // SAFETY: the write init of the module's streamtab.
        match self.rly().and_then(|t| unsafe { (*t.st_wrinit).qi_putp }) {
            Some(f) => {
                call!("tunrly qi_putp (write)", f as usize, unsafe extern "C" fn(*mut queue_t, *mut mblk_t) -> c_int, (wq, mp));
            }
            // SAFETY: nobody else frees it.
            None => unsafe { <tuntap_sim::SimKernel as Kernel>::freemsg(mp) },
        }
    }

    unsafe fn mod_rput(&self, rq: *mut queue_t, mp: *mut mblk_t) {
        // SAFETY: the read init of the module's streamtab.
        match self.rly().and_then(|t| unsafe { (*t.st_rdinit).qi_putp }) {
            Some(f) => {
                call!("tunrly qi_putp (read)", f as usize, unsafe extern "C" fn(*mut queue_t, *mut mblk_t) -> c_int, (rq, mp));
            }
            // SAFETY: nobody else frees it.
            None => unsafe { <tuntap_sim::SimKernel as Kernel>::freemsg(mp) },
        }
    }

    unsafe fn rsrv(&self, rq: *mut queue_t) {
        // SAFETY: as open.
        let Some(f) = (unsafe { (*self.tab().st_rdinit).qi_srvp }) else { return };
        call!("tun qi_srvp (read)", f as usize, unsafe extern "C" fn(*mut queue_t) -> c_int, (rq));
    }
}

// SAFETY: the streamtab is static module data, read-only after _init.
unsafe impl Send for TunStreams {}
// SAFETY: as above.
unsafe impl Sync for TunStreams {}
