// SPDX-License-Identifier: MPL-2.0

//! [`Illumos`]: the [`Kernel`] services as calls into the illumos kernel.
//!
//! Theory statement.  Each method translates one trait call into the
//! kernel interface of the same name (the header is named next to each
//! extern in `illumos_sys_hdrs::kernel`) and its result into the trait's
//! types; there is no logic here beyond that translation.
//!
//! *State.*  An `Illumos` is a copyable pair of pointers fixed at attach:
//! the `dev_info_t` of instance 0 (mac_register's `m_dip`) and the
//! driver's private `ddi_taskq_t` (for [`Kernel::defer`]).  Both outlive
//! every `Illumos` value: detach frees the driver, and with it every
//! clone, before it destroys the taskq (`ddi_taskq_destroy` waits for
//! queued work) and before the dip goes away.
//!
//! *Locks.*  [`KernelMutex`] is an adaptive `kmutex_t` and
//! [`KernelCondvar`] a `kcondvar_t`, both used in place inside the
//! structure that owns them.  The trait lets a value be moved before its
//! first use: illumos allows that because an adaptive mutex and a
//! condition variable in zeroed memory are initialised already (comment
//! above `mutex_init` in usr/src/uts/common/os/mutex.c: "Adaptive mutexes
//! created in zeroed memory do not need to call mutex_init()"; `cv_init`
//! only zeroes).  So `new` zeroes and never calls `mutex_init`/`cv_init`;
//! `Drop` calls `mutex_destroy`/`cv_destroy`, which only touch the word
//! itself.  A held mutex is never moved: holding needs `&self`.
//!
//! *Zones of dlmgmtd upcalls.*  `dls_mgmt_create` has no zone argument:
//! dlmgmtd files the new link under the zone of the *calling thread*
//! (`zone_kcred()` in `i_dls_mgmt_upcall`, `usr/src/uts/common/io/dls/dls_mgmt.c`).
//! The driver makes every upcall from its taskq (never from a put
//! procedure, which may not block), whose thread runs with `kcred` in the
//! global zone; a link made for a non-global zone is then moved there
//! with [`Kernel::dls_devnet_setzid`] (docs/research/kernel-contexts.md
//! section 4).  Nothing here calls `ddi_get_cred()`, which is
//! user-context only (ddi_get_cred(9F)).
//!
//! *Invariants.*  No method panics; no `unsafe` block does more than one
//! call or one pointer access.

use core::cell::UnsafeCell;
use core::ffi::{c_int, c_void};
use core::ptr::{self, NonNull};

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::kernel as k;
use illumos_sys_hdrs::{
    ddi_taskq_t, dev_info_t, kcondvar_t, kmutex_t, mac_register_t, mblk_t, queue_t,
};
use tuntap_abi::{DatalinkId, LinkName};

use crate::ddi::{
    Cred, DeferredTask, LdiHandle, DlmgmtLink, DropReason, Errno, Kernel, LinkState, MacClientHandle, MacHandle, MacRxFn,
    MacUnicastHandle, Probe, PropInfoHandle, PropPerm, RawCondvar, RawMutex, ZoneId,
};

/// The kernel services of the attached instance.
#[derive(Clone, Copy, Debug)]
pub struct Illumos {
    dip: NonNull<dev_info_t>,
    /// One thread: resolver replies, short and ordered ([`Kernel::defer`]).
    taskq: NonNull<ddi_taskq_t>,
    /// Several threads: control work, which may block
    /// ([`Kernel::dispatch_control`]).
    control: NonNull<ddi_taskq_t>,
}

// SAFETY: both pointers name kernel objects that any thread may use
// (ddi_taskq_dispatch and mac_register are callable from any kernel
// thread); neither is dereferenced by Rust code.
unsafe impl Send for Illumos {}
// SAFETY: as above; Illumos has no interior state.
unsafe impl Sync for Illumos {}

impl Illumos {
    /// # Safety
    /// `dip` is the attached instance and `taskq`, `control` live taskqs;
    /// all stay valid until every `Illumos` made from them is gone.
    pub unsafe fn new(dip: NonNull<dev_info_t>, taskq: NonNull<ddi_taskq_t>, control: NonNull<ddi_taskq_t>) -> Self {
        Self { dip, taskq, control }
    }

    /// `ddi_taskq_dispatch(tq, task, arg, DDI_NOSLEEP)`.
    ///
    /// # Safety
    /// `tq` is one of this instance's live taskqs; `arg` stays valid for
    /// `task` until it has run.
    unsafe fn dispatch(tq: NonNull<ddi_taskq_t>, task: DeferredTask, arg: *mut c_void) -> Result<(), Errno> {
        // SAFETY: the caller's contract; DDI_NOSLEEP never blocks.
        let status = unsafe { k::ddi_taskq_dispatch(tq.as_ptr(), task, arg, sys::DDI_NOSLEEP as sys::uint_t) };
        if status == sys::DDI_SUCCESS { Ok(()) } else { Err(sys::ENOMEM) }
    }
}

fn errno(status: c_int) -> Result<(), Errno> {
    if status == 0 { Ok(()) } else { Err(status) }
}

fn boolean(value: bool) -> sys::boolean_t {
    if value { sys::B_TRUE } else { sys::B_FALSE }
}

// ----- locks -----

/// An adaptive `kmutex_t`, valid zeroed (see the module documentation).
pub struct KernelMutex(UnsafeCell<kmutex_t>);

// SAFETY: a kmutex_t is made to be shared between threads; all access
// goes through the kernel's mutex functions.
unsafe impl Send for KernelMutex {}
// SAFETY: as above.
unsafe impl Sync for KernelMutex {}

impl KernelMutex {
    fn raw(&self) -> *mut kmutex_t {
        self.0.get()
    }
}

impl RawMutex for KernelMutex {
    fn new() -> Self {
        Self(UnsafeCell::new(kmutex_t {
            _opaque: [ptr::null_mut()],
        }))
    }
    fn enter(&self) {
        // SAFETY: the lock word is a valid (zero-initialised) adaptive mutex.
        unsafe { k::mutex_enter(self.raw()) }
    }
    fn exit(&self) {
        // SAFETY: the caller entered this mutex on this thread (KMutexGuard).
        unsafe { k::mutex_exit(self.raw()) }
    }
}

impl Drop for KernelMutex {
    fn drop(&mut self) {
        // SAFETY: &mut self: no guard exists, so the mutex is not held.
        unsafe { k::mutex_destroy(self.raw()) }
    }
}

/// A `kcondvar_t`, valid zeroed.
pub struct KernelCondvar(UnsafeCell<kcondvar_t>);

// SAFETY: condition variables are shared between threads by design.
unsafe impl Send for KernelCondvar {}
// SAFETY: as above.
unsafe impl Sync for KernelCondvar {}

impl RawCondvar<KernelMutex> for KernelCondvar {
    fn new() -> Self {
        Self(UnsafeCell::new(kcondvar_t { _opaque: 0 }))
    }
    fn wait(&self, m: &KernelMutex) {
        // SAFETY: the caller holds `m` (KMutex::wait_until passes its guard's
        // lock); cv_wait releases and re-acquires it.
        unsafe { k::cv_wait(self.0.get(), m.raw()) }
    }
    fn timed_wait(&self, m: &KernelMutex, usec: u64) -> Option<u64> {
        let us = sys::clock_t::try_from(usec).unwrap_or(sys::clock_t::MAX);
        // SAFETY: a pure conversion (drv_usectohz(9F)).
        let ticks = unsafe { k::drv_usectohz(us) }.max(1);
        // SAFETY: the caller holds `m`; cv_reltimedwait releases and
        // re-acquires it, as cv_wait does.
        let left = unsafe { k::cv_reltimedwait(self.0.get(), m.raw(), ticks, sys::TR_CLOCK_TICK) };
        let (left, ticks) = (u128::try_from(left).ok()?, u128::try_from(ticks).ok()?);
        u64::try_from(u128::from(usec) * left / ticks).ok()
    }
    fn broadcast(&self) {
        // SAFETY: the condvar is valid; broadcast needs no lock.
        unsafe { k::cv_broadcast(self.0.get()) }
    }
}

impl Drop for KernelCondvar {
    fn drop(&mut self) {
        // SAFETY: &mut self: nobody can be waiting on it.
        unsafe { k::cv_destroy(self.0.get()) }
    }
}

// ----- probes: DTrace SDT, `sdt:::tuntap-<name>` -----
//
// `DTRACE_PROBEn(name, ...)` in usr/src/uts/common/sys/sdt.h declares
// `extern void __dtrace_probe_##name(uintptr_t, ...)` and calls it; krtld
// turns each such call into a probe site (nops) at load, and DTrace shows
// `__` in the name as `-`.
unsafe extern "C" {
    fn __dtrace_probe_tuntap__drop(linkid: usize, reason: usize);
    fn __dtrace_probe_tuntap__relay(linkid: usize, event: usize, errno: usize);
    fn __dtrace_probe_tuntap__link__create(linkid: usize, name: usize);
    fn __dtrace_probe_tuntap__link__destroy(linkid: usize);
    fn __dtrace_probe_tuntap__link__state(linkid: usize, state: usize);
    fn __dtrace_probe_tuntap__queue__attach(linkid: usize, minor: usize);
    fn __dtrace_probe_tuntap__queue__detach(linkid: usize, minor: usize);
    fn __dtrace_probe_tuntap__ioctl__fail(cmd: usize, errno: usize);
}

/// The probe argument for a drop reason (stable numbers for D scripts).
fn drop_reason_code(reason: DropReason) -> usize {
    match reason {
        DropReason::BadWrite => 1,
        DropReason::TooLong => 2,
        DropReason::NoBuffer => 3,
        DropReason::NoQueue => 4,
        DropReason::NotIp => 5,
        DropReason::Closing => 6,
        DropReason::BadOffload => 7,
    }
}

/// Sign-extend an `i32` into a probe argument (`(uintptr_t)(int)` in C).
fn signed_arg(value: i32) -> usize {
    value as isize as usize
}

impl Kernel for Illumos {
    type Mutex = KernelMutex;
    type Condvar = KernelCondvar;

    fn allocb(&self, size: usize) -> *mut mblk_t {
        // SAFETY: allocb may be called from any context; NULL on failure.
        unsafe { k::allocb(size, sys::BPRI_MED) }
    }

    unsafe fn freemsg(mp: *mut mblk_t) {
        // SAFETY: the caller owns mp and gives it up.
        unsafe { k::freemsg(mp) }
    }

    unsafe fn msgpullup(&self, mp: *mut mblk_t) -> *mut mblk_t {
        // SAFETY: mp is a valid message the caller keeps; -1 = whole message.
        unsafe { k::msgpullup(mp, -1) }
    }

    unsafe fn hcksum_get(&self, mp: *const mblk_t) -> crate::ddi::Hcksum {
        let mut h = crate::ddi::Hcksum::default();
        // SAFETY: mp is a valid M_DATA message (caller); every out pointer
        // is a live u32 of ours.
        unsafe { k::mac_hcksum_get(mp, &mut h.start, &mut h.stuff, &mut h.end, &mut h.value, &mut h.flags) };
        h
    }

    unsafe fn hcksum_set(&self, mp: *mut mblk_t, h: crate::ddi::Hcksum) {
        // SAFETY: mp is a valid M_DATA message the caller owns.
        unsafe { k::mac_hcksum_set(mp, h.start, h.stuff, h.end, h.value, h.flags) }
    }

    unsafe fn lso_get(&self, mp: *mut mblk_t) -> Option<u32> {
        let (mut mss, mut flags) = (0u32, 0u32);
        // SAFETY: mp is a valid M_DATA message the caller owns.
        unsafe { k::mac_lso_get(mp, &mut mss, &mut flags) };
        (flags & sys::HW_LSO != 0).then_some(mss)
    }

    unsafe fn putnext(&self, q: *mut queue_t, mp: *mut mblk_t) {
        // SAFETY: q is a queue of an open stream, mp is owned (caller).
        unsafe { k::putnext(q, mp) }
    }

    unsafe fn canputnext(&self, q: *mut queue_t) -> bool {
        // SAFETY: q is a queue of an open stream (caller).
        unsafe { k::canputnext(q) != 0 }
    }

    unsafe fn qreply(&self, q: *mut queue_t, mp: *mut mblk_t) {
        // SAFETY: q is a write queue of an open stream, mp is owned (caller).
        unsafe { k::qreply(q, mp) }
    }

    unsafe fn qenable(&self, q: *mut queue_t) {
        // SAFETY: q is a queue of an open stream (caller).
        unsafe { k::qenable(q) }
    }

    unsafe fn qprocson(&self, q: *mut queue_t) {
        // SAFETY: q is the read queue passed to open (caller).
        unsafe { k::qprocson(q) }
    }

    unsafe fn qprocsoff(&self, q: *mut queue_t) {
        // SAFETY: q is the read queue passed to close (caller).
        unsafe { k::qprocsoff(q) }
    }

    fn mac_register(&self, fill: &mut dyn FnMut(&mut mac_register_t)) -> Result<MacHandle, Errno> {
        // SAFETY: MAC_VERSION is the version this header set describes.
        let reg = unsafe { k::mac_alloc(sys::MAC_VERSION) };
        if reg.is_null() {
            // mac_alloc fails only for an unsupported version.
            return Err(sys::EINVAL);
        }
        // SAFETY: mac_alloc returned a zeroed, exclusively owned register
        // structure with m_version set.
        let reg_ref = unsafe { &mut *reg };
        fill(reg_ref);
        reg_ref.m_dip = self.dip.as_ptr();
        let mut handle: sys::mac_handle_t = ptr::null_mut();
        // SAFETY: reg is filled; handle is a valid out pointer.
        let status = unsafe { k::mac_register(reg, &mut handle) };
        // SAFETY: mac_register copied what it keeps; reg is ours to free.
        unsafe { k::mac_free(reg) };
        errno(status)?;
        NonNull::new(handle.cast::<c_void>())
            .map(MacHandle)
            .ok_or(sys::EINVAL)
    }

    fn mac_disable(&self, mh: MacHandle) -> Result<(), Errno> {
        // SAFETY: mh came from mac_register and is not yet unregistered.
        errno(unsafe { k::mac_disable(mh.0.as_ptr().cast()) })
    }

    fn mac_unregister(&self, mh: MacHandle) -> Result<(), Errno> {
        // SAFETY: as in mac_disable.
        errno(unsafe { k::mac_unregister(mh.0.as_ptr().cast()) })
    }

    unsafe fn mac_rx(&self, mh: MacHandle, chain: *mut mblk_t) {
        // SAFETY: mh is registered; chain is owned (caller); NULL resource
        // handle = the default ring, as single-ring providers pass.
        unsafe { k::mac_rx(mh.0.as_ptr().cast(), ptr::null_mut(), chain) }
    }

    fn mac_tx_update(&self, mh: MacHandle) {
        // SAFETY: mh is registered.
        unsafe { k::mac_tx_update(mh.0.as_ptr().cast()) }
    }

    fn mac_capab_update(&self, mh: MacHandle) {
        // SAFETY: mh is registered.
        unsafe { k::mac_capab_update(mh.0.as_ptr().cast()) }
    }

    /// Yes where the running kernel exports `mac_getinfo` (the witness:
    /// see link/offload.rs, "The LSO structure grew"), read through the
    /// weak reference [`MAC_GETINFO_WITNESS`]; no elsewhere.
    fn mac_lso_ipv6(&self) -> bool {
        // SAFETY: a word of our own data section, written only by krtld
        // at load (or left as the object's 0).
        unsafe { ptr::read_volatile(&raw const MAC_GETINFO_WITNESS) != 0 }
    }

    fn mac_link_update(&self, mh: MacHandle, state: LinkState) {
        // SAFETY: mh is registered; LinkState holds link_state_t values.
        unsafe { k::mac_link_update(mh.0.as_ptr().cast(), state as sys::link_state_t) }
    }

    fn mac_maxsdu_update(&self, mh: MacHandle, sdu: u32) -> Result<(), Errno> {
        // SAFETY: mh is registered.
        errno(unsafe { k::mac_maxsdu_update(mh.0.as_ptr().cast(), sdu) })
    }

    fn mac_unicst_update(&self, mh: MacHandle, addr: &[u8; 6]) {
        // SAFETY: mh is registered; addr is ETHERADDRL bytes mac copies.
        unsafe { k::mac_unicst_update(mh.0.as_ptr().cast(), addr.as_ptr()) }
    }

    fn mac_prop_info_set_default_uint32(&self, ph: PropInfoHandle, value: u32) {
        // SAFETY: ph is the handle of the running mc_propinfo call.
        unsafe { k::mac_prop_info_set_default_uint32(ph.0.cast(), value) }
    }

    fn mac_prop_info_set_range_uint32(&self, ph: PropInfoHandle, min: u32, max: u32) {
        // SAFETY: as above.
        unsafe { k::mac_prop_info_set_range_uint32(ph.0.cast(), min, max) }
    }

    fn mac_prop_info_set_perm(&self, ph: PropInfoHandle, perm: PropPerm) {
        // SAFETY: as above; PropPerm holds mac_prop_perm_t values.
        unsafe { k::mac_prop_info_set_perm(ph.0.cast(), perm as u8) }
    }

    fn dls_devnet_create(
        &self,
        mh: MacHandle,
        linkid: DatalinkId,
        zone: ZoneId,
    ) -> Result<(), Errno> {
        // SAFETY: mh is registered; linkid came from dlmgmtd.
        errno(unsafe { k::dls_devnet_create(mh.0.as_ptr().cast(), linkid, zone) })
    }

    fn dls_devnet_destroy(&self, mh: MacHandle) -> Result<DatalinkId, Errno> {
        let mut linkid: sys::datalink_id_t = 0;
        // SAFETY: mh is registered with a devnet entry; linkid is a valid
        // out pointer.  B_TRUE waits for transient holds of the entry.
        errno(unsafe { k::dls_devnet_destroy(mh.0.as_ptr().cast(), &mut linkid, sys::B_TRUE) })?;
        Ok(linkid)
    }

    fn dls_mgmt_create(&self, name: &LinkName) -> Result<DatalinkId, Errno> {
        // Valid link names are shorter than the field: NUL-terminated.
        let devname = name.to_bytes();
        let mut linkid: sys::datalink_id_t = 0;
        // SAFETY: devname is NUL-terminated and lives across the call;
        // dev 0: no physical device (dlmgmtd ignores it for MISC links).
        let status = unsafe {
            k::dls_mgmt_create(
                devname.as_ptr().cast(),
                0,
                sys::DATALINK_CLASS_MISC,
                sys::DL_ETHER,
                boolean(false),
                &mut linkid,
            )
        };
        errno(status)?;
        Ok(linkid)
    }

    fn dls_mgmt_linkinfo(&self, linkid: DatalinkId) -> Result<DlmgmtLink, Errno> {
        let mut name = [0u8; tuntap_abi::LINK_NAME_LEN];
        let (mut class, mut media, mut flags): (sys::datalink_class_t, u32, u32) = (0, 0, 0);
        // SAFETY: name has MAXLINKNAMELEN bytes, as dls_mgmt_get_linkinfo
        // expects; the other out-pointers are valid.
        errno(unsafe {
            k::dls_mgmt_get_linkinfo(linkid, name.as_mut_ptr().cast(), &mut class, &mut media, &mut flags)
        })?;
        let name = LinkName::from_field(&name).map_err(|_| sys::EINVAL)?;
        Ok(DlmgmtLink { name, class, media })
    }

    fn mac_open_by_linkid(&self, linkid: DatalinkId) -> Result<MacHandle, Errno> {
        let mut mh: sys::mac_handle_t = ptr::null_mut();
        // SAFETY: mh is a valid out-pointer; the hold is released by
        // mac_close.
        errno(unsafe { k::mac_open_by_linkid(linkid, &mut mh) })?;
        NonNull::new(mh.cast::<c_void>()).map(MacHandle).ok_or(sys::EINVAL)
    }

    fn mac_close(&self, mh: MacHandle) {
        // SAFETY: mh came from mac_open_by_linkid and is released once.
        unsafe { k::mac_close(mh.0.as_ptr().cast()) }
    }

    fn mac_client_open(&self, mh: MacHandle, name: &[u8], flags: u16) -> Result<MacClientHandle, Errno> {
        // MAXNAMELEN (sys/param.h) bounds a client name; ours are link names.
        let mut buf = [0u8; 256];
        let Some(dst) = buf.get_mut(..name.len()) else { return Err(sys::EINVAL) };
        if name.len() >= 256 {
            return Err(sys::EINVAL);
        }
        dst.copy_from_slice(name);
        let mut mch: sys::mac_client_handle_t = ptr::null_mut();
        // SAFETY: mh is held open; buf is NUL-terminated and mac copies the
        // name (mac_client.c, i_mac_client_open's strlcpy); mch is a valid
        // out-pointer.
        errno(unsafe { k::mac_client_open(mh.0.as_ptr().cast(), &mut mch, buf.as_mut_ptr().cast(), flags) })?;
        NonNull::new(mch).map(MacClientHandle).ok_or(sys::EINVAL)
    }

    fn mac_client_close(&self, mch: MacClientHandle, flags: u16) {
        // SAFETY: mch came from mac_client_open and is closed once.
        unsafe { k::mac_client_close(mch.0.as_ptr(), flags) }
    }

    fn mac_unicast_add_primary(&self, mch: MacClientHandle, flags: u16) -> Result<MacUnicastHandle, (Errno, i32)> {
        let mut muh: sys::mac_unicast_handle_t = ptr::null_mut();
        let mut diag: sys::mac_diag_t = 0;
        // SAFETY: mch is open; a NULL address with MAC_UNICAST_PRIMARY
        // means the mac's primary address (mac_client.c,
        // i_mac_unicast_add); muh and diag are valid out-pointers.
        let r = unsafe { k::mac_unicast_add(mch.0.as_ptr(), ptr::null_mut(), flags, &mut muh, 0, &mut diag) };
        if r != 0 {
            return Err((r, diag));
        }
        NonNull::new(muh).map(MacUnicastHandle).ok_or((sys::EINVAL, 0))
    }

    fn mac_unicast_remove(&self, mch: MacClientHandle, muh: MacUnicastHandle) -> Result<(), Errno> {
        // SAFETY: both handles are live and belong together.
        errno(unsafe { k::mac_unicast_remove(mch.0.as_ptr(), muh.0.as_ptr()) })
    }

    unsafe fn mac_rx_set(&self, mch: MacClientHandle, rx: MacRxFn, arg: *mut c_void) {
        // SAFETY: mch is open; the caller keeps arg valid until
        // mac_rx_clear.  MacRxFn has mac_rx_t's C ABI: the resource handle
        // is passed as a raw pointer and boolean_t as i32.
        unsafe {
            let f: unsafe extern "C" fn(*mut c_void, sys::mac_resource_handle_t, *mut mblk_t, sys::boolean_t) =
                core::mem::transmute(rx);
            k::mac_rx_set(mch.0.as_ptr(), Some(f), arg)
        }
    }

    fn mac_rx_clear(&self, mch: MacClientHandle) {
        // SAFETY: mch is open.
        unsafe { k::mac_rx_clear(mch.0.as_ptr()) }
    }

    unsafe fn mac_tx(&self, mch: MacClientHandle, chain: *mut mblk_t, flag: u16) -> *mut mblk_t {
        let mut ret: *mut mblk_t = ptr::null_mut();
        // SAFETY: mch is open with a unicast address; chain is owned and
        // handed over; ret is a valid out-pointer.  The cookie only says
        // the client is flow-controlled, which MAC_DROP_ON_NO_DESC callers
        // ignore.
        let _cookie = unsafe { k::mac_tx(mch.0.as_ptr(), chain, 0, flag, &mut ret) };
        ret
    }

    fn ldi_open_by_name(&self, path: &[u8]) -> Result<LdiHandle, Errno> {
        let mut p = alloc::vec::Vec::with_capacity(path.len() + 1);
        p.extend_from_slice(path);
        p.push(0);
        let mut li: k::ldi_ident_t = ptr::null_mut();
        // SAFETY: dip is our attached instance; li is a valid out-pointer.
        errno(unsafe { k::ldi_ident_from_dip(self.dip.as_ptr(), &mut li) })?;
        let mut lh: k::ldi_handle_t = ptr::null_mut();
        // SAFETY: p is NUL-terminated and outlives the call; kcred is the
        // kernel's credential; lh is a valid out-pointer; li was made above.
        let r = unsafe { k::ldi_open_by_name(p.as_mut_ptr().cast(), sys::FREAD | sys::FWRITE, k::kcred, &mut lh, li) };
        // SAFETY: the ident made above, no longer needed after the open.
        unsafe { k::ldi_ident_release(li) };
        errno(r)?;
        NonNull::new(lh).map(LdiHandle).ok_or(sys::ENXIO)
    }

    unsafe fn ldi_ioctl(&self, lh: LdiHandle, cmd: i32, arg: isize) -> Result<i32, Errno> {
        let mut rval: i32 = 0;
        // SAFETY: lh is open; the caller passes the argument cmd expects in
        // kernel memory (FKIOCTL: strioctl copies K_TO_K).
        errno(unsafe { k::ldi_ioctl(lh.0.as_ptr(), cmd, arg, sys::FKIOCTL, k::kcred, &mut rval) })?;
        Ok(rval)
    }

    fn ldi_ioctl_istr(&self, lh: LdiHandle, cmd: i32, data: &mut [u8], timeout_secs: i32) -> Result<i32, Errno> {
        let mut sio = sys::strioctl {
            ic_cmd: cmd,
            ic_timout: timeout_secs,
            ic_len: i32::try_from(data.len()).map_err(|_| sys::EINVAL)?,
            ic_dp: data.as_mut_ptr().cast(),
        };
        // SAFETY: sio and data live across the call (kernel memory).
        unsafe { self.ldi_ioctl(lh, sys::I_STR, (&raw mut sio) as isize) }
    }

    fn ldi_close(&self, lh: LdiHandle) {
        // SAFETY: lh is open and not used again; the close cannot fail in
        // a way we could act on.
        let _ = unsafe { k::ldi_close(lh.0.as_ptr(), sys::FREAD | sys::FWRITE, k::kcred) };
    }

    fn is_kcred(&self, cr: Cred) -> bool {
        // SAFETY: kcred is set at boot and never changes.
        core::ptr::eq(cr.0, unsafe { k::kcred }.cast_const())
    }

    fn dls_mgmt_linkid(&self, name: &LinkName) -> Result<DatalinkId, Errno> {
        let link = name.to_bytes();
        let mut linkid: sys::datalink_id_t = 0;
        // SAFETY: link is NUL-terminated and outlives the call; linkid is
        // a valid out-pointer.
        errno(unsafe { k::dls_mgmt_get_linkid(link.as_ptr().cast(), &mut linkid) })?;
        Ok(linkid)
    }

    fn dls_devnet_setzid(&self, linkid: DatalinkId, zone: ZoneId) -> Result<(), Errno> {
        let mut ddh: *mut c_void = ptr::null_mut();
        // SAFETY: ddh is a valid out-pointer; the hold is released below.
        errno(unsafe { k::dls_devnet_hold_tmp(linkid, &mut ddh) })?;
        // SAFETY: ddh is the handle just held.
        let r = errno(unsafe { k::dls_devnet_setzid(ddh, zone) });
        // SAFETY: releases the hold taken above, exactly once.
        unsafe { k::dls_devnet_rele_tmp(ddh) };
        r
    }

    fn dls_mgmt_destroy(&self, linkid: DatalinkId) -> Result<(), Errno> {
        // SAFETY: a plain upcall to dlmgmtd; the id is ours.
        errno(unsafe { k::dls_mgmt_destroy(linkid, boolean(false)) })
    }

    fn cred_hold(&self, cr: Cred) {
        // SAFETY: cr is a live credential (an ioctl's ioc_cr while the
        // ioctl is in progress); crhold adds a reference.
        unsafe { k::crhold(cr.0.cast_mut()) }
    }

    fn cred_release(&self, cr: Cred) {
        // SAFETY: releases a reference taken by cred_hold.
        unsafe { k::crfree(cr.0.cast_mut()) }
    }

    fn cred_zone(&self, cr: Cred) -> ZoneId {
        // SAFETY: cr is the live credential of the running entry point.
        unsafe { k::crgetzoneid(cr.0) }
    }

    fn cred_uid(&self, cr: Cred) -> u32 {
        // SAFETY: as above.
        unsafe { k::crgetuid(cr.0) }
    }

    fn cred_gid(&self, cr: Cred) -> u32 {
        // SAFETY: as above.
        unsafe { k::crgetgid(cr.0) }
    }

    fn cred_in_group(&self, cr: Cred, gid: u32) -> bool {
        // SAFETY: as above.
        unsafe { k::groupmember(gid, cr.0) != 0 }
    }

    fn secpolicy_dl_config(&self, cr: Cred) -> Result<(), Errno> {
        // SAFETY: as above.
        errno(unsafe { k::secpolicy_dl_config(cr.0) })
    }

    fn current_pid(&self) -> i32 {
        // SAFETY: no arguments; valid in any thread context.
        unsafe { k::ddi_get_pid() }
    }

    fn wall_clock_ns(&self) -> u64 {
        // SAFETY: no arguments.
        let seconds = unsafe { k::ddi_get_time() };
        u64::try_from(seconds)
            .unwrap_or(0)
            .saturating_mul(1_000_000_000)
    }

    fn random_bytes(&self, out: &mut [u8]) {
        // SAFETY: out is a writable buffer of out.len() bytes.
        let status = unsafe { k::random_get_pseudo_bytes(out.as_mut_ptr(), out.len()) };
        if status != 0 {
            // The trait promises bytes; never hand back stale memory.
            out.fill(0);
        }
    }

    /// Fire an SDT probe.  Every probe must be a real `call`, never a
    /// tail jump: krtld's `sdt_reloc_resolve` (illumos-gate
    /// `usr/src/uts/intel/amd64/krtld/kobj_reloc.c`) NOPs the five bytes
    /// of the site, and before 2024 it did so for a `jmp` too, so
    /// execution would fall through into the next function.  The
    /// `black_box` after the match is code after every call, so none is
    /// in tail position; `cargo xtask kmod-check`'s probe-sites gate
    /// rejects any probe relocation not on an `e8` call.
    fn warn(&self, args: core::fmt::Arguments<'_>) {
        super::log::warn(args);
    }

    #[inline(never)]
    fn probe(&self, probe: Probe<'_>) {
        // SAFETY (every call below): an SDT probe site; krtld replaces the
        // call at load, and the arguments are plain integers or a pointer
        // to a NUL-terminated name that lives across the call.
        match probe {
            Probe::Drop(linkid, reason) => unsafe {
                __dtrace_probe_tuntap__drop(linkid as usize, drop_reason_code(reason))
            },
            Probe::LinkCreate(linkid, name) => {
                let name = name.to_bytes();
                unsafe {
                    __dtrace_probe_tuntap__link__create(linkid as usize, name.as_ptr() as usize)
                }
            }
            Probe::LinkDestroy(linkid) => unsafe {
                __dtrace_probe_tuntap__link__destroy(linkid as usize)
            },
            Probe::LinkState(linkid, state) => unsafe {
                __dtrace_probe_tuntap__link__state(linkid as usize, signed_arg(state as i32))
            },
            Probe::QueueAttach(linkid, minor) => unsafe {
                __dtrace_probe_tuntap__queue__attach(linkid as usize, minor as usize)
            },
            Probe::QueueDetach(linkid, minor) => unsafe {
                __dtrace_probe_tuntap__queue__detach(linkid as usize, minor as usize)
            },
            Probe::IoctlFail(cmd, err) => unsafe {
                __dtrace_probe_tuntap__ioctl__fail(signed_arg(cmd), signed_arg(err))
            },
            Probe::Relay(linkid, event, err) => unsafe {
                __dtrace_probe_tuntap__relay(linkid as usize, event as usize + 1, signed_arg(err))
            },
        }
        core::hint::black_box(());
    }

    unsafe fn defer(&self, task: DeferredTask, arg: *mut c_void) -> Result<(), Errno> {
        // SAFETY: the taskq is live (type invariant); the caller keeps arg
        // valid until the task runs.
        unsafe { Self::dispatch(self.taskq, task, arg) }
    }

    unsafe fn dispatch_control(&self, task: DeferredTask, arg: *mut c_void) -> Result<(), Errno> {
        // SAFETY: as for defer.
        unsafe { Self::dispatch(self.control, task, arg) }
    }

    fn private_minor_base(&self) -> u32 {
        // SAFETY: a pure function of the mac module.
        unsafe { k::mac_private_minor() }
    }
}

// ----- TCPv6 LSO witness (h11-leftovers) -----

// A data word holding the address of `mac_getinfo`, referenced weakly:
// krtld fills it in where the running kernel has the symbol and leaves
// the object's 0 where it does not (a weak undefined symbol neither fails
// the load nor gets its relocation: `do_symbols` in
// usr/src/uts/common/krtld/kobj.c, `do_relocate` in
// usr/src/uts/intel/amd64/krtld/kobj_reloc.c).  Never called.
// kernel/allowlist.txt keys the symbol `weak`; kmod-check fails a strong
// reference to it.
core::arch::global_asm!(
    ".weak mac_getinfo",
    ".pushsection .data.tuntap_mac_getinfo_witness,\"aw\",@progbits",
    ".balign 8",
    ".globl tuntap_mac_getinfo_witness",
    ".hidden tuntap_mac_getinfo_witness",
    "tuntap_mac_getinfo_witness:",
    ".quad mac_getinfo",
    ".popsection",
);

unsafe extern "C" {
    /// The word above: `&mac_getinfo`, or 0 where the kernel lacks it.
    #[link_name = "tuntap_mac_getinfo_witness"]
    static MAC_GETINFO_WITNESS: usize;
}
