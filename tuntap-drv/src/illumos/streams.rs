// SPDX-License-Identifier: MPL-2.0

//! The interface `drv/tuntap` exports to `drv/tun`: the STREAMS entry
//! points of the driver, as plain `extern "C"` functions.
//!
//! Theory statement.
//!
//! *What it does.*  `drv/tun` (tuntap-drv/kmod-tun) owns the STREAMS
//! devices `/dev/tun`, `/dev/tap` and the control node; its queue
//! procedures call these functions, which translate the C arguments and
//! forward to the one [`Driver`]'s [`StreamsEntry`] implementation.  krtld
//! resolves `drv/tun`'s references to them against this module, which
//! `drv/tun` names in its `_depends_on`, so this module stays loaded while
//! `drv/tun` is.  Minor numbers cross this interface in the driver's own
//! numbering (`private_minor_base() + ddi::node_minor::*` for the nodes,
//! higher for clones); [`tuntap_str_minor_base`] gives `drv/tun` the base
//! to translate its minors.
//!
//! *Lifetime of the driver.*  The driver exists while instance 0 of
//! `drv/tuntap` is attached; `drv/tun` can be opened at any time.  An open
//! therefore looks the driver up under the entry lock and runs
//! `Driver::open` with it held; detach retires the driver under the same
//! lock, and only when `Driver::can_detach` holds (no links, no open
//! streams).  Close, put and service run on a stream whose open succeeded,
//! which keeps `can_detach` false and so the driver alive, without the
//! lock.  A failed lookup answers `ENXIO` (open) or frees the message.
//! What an open sends up (`M_SETOPTS`) goes after the lock is dropped
//! ([`StreamsEntry::opened`]): nothing is `putnext` with a lock held.
//!
//! *Locks.*  `ENTRY_LOCK` (a static adaptive `kmutex_t`: zeroed memory is
//! an initialised adaptive mutex, mutex.c) is taken before any driver
//! lock and never while one is held.  It is held across `Driver::open`,
//! which makes no mac upcall and sends nothing up.
//!
//! *Invariants.*  `DRIVER` is NULL or a `Box<Driver<Illumos>>` pointer
//! published by attach; it changes only under `ENTRY_LOCK`.

use core::ffi::c_int;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use illumos_sys_hdrs::kernel::{freemsg, mac_private_minor, mutex_enter, mutex_exit, qprocsoff};
use illumos_sys_hdrs::{ENXIO, cred_t, kmutex_t, mblk_t, minor_t, queue_t};

use super::KernelStatic;
use super::kernel::Illumos;
use crate::ddi::{Cred, StreamsEntry};
use crate::driver::Driver;

/// The published driver, or NULL.
static DRIVER: AtomicPtr<Driver<Illumos>> = AtomicPtr::new(ptr::null_mut());

/// Serialises opens against attach/detach (see the module documentation).
static ENTRY_LOCK: KernelStatic<kmutex_t> = KernelStatic::new(kmutex_t {
    _opaque: [ptr::null_mut()],
});

/// Holds `ENTRY_LOCK` until dropped.
struct EntryGuard;

impl EntryGuard {
    fn enter() -> Self {
        // SAFETY: a static zeroed adaptive mutex, never destroyed.
        unsafe { mutex_enter(ENTRY_LOCK.get()) };
        EntryGuard
    }
}

impl Drop for EntryGuard {
    fn drop(&mut self) {
        // SAFETY: entered by this thread in enter().
        unsafe { mutex_exit(ENTRY_LOCK.get()) };
    }
}

/// Publish `driver`; false if one is published already.
///
/// # Safety
/// `driver` comes from `Box::into_raw` and is not used by the caller
/// afterwards unless this returns false.
pub(super) unsafe fn publish(driver: *mut Driver<Illumos>) -> bool {
    let _entry = EntryGuard::enter();
    DRIVER
        .compare_exchange(ptr::null_mut(), driver, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// Unpublish the driver if it may detach; the caller then owns the Box.
pub(super) fn retire() -> Option<*mut Driver<Illumos>> {
    let _entry = EntryGuard::enter();
    let driver = DRIVER.load(Ordering::Acquire);
    // SAFETY: published pointers stay valid until retired, which only
    // this function does, under the lock we hold.
    let busy = unsafe { driver.as_ref() }.is_none_or(|d| d.can_detach().is_err());
    if busy {
        return None;
    }
    DRIVER.store(ptr::null_mut(), Ordering::Release);
    Some(driver)
}

/// The driver of a stream that is open (so the driver cannot retire).
fn open_stream_driver<'a>() -> Option<&'a Driver<Illumos>> {
    // SAFETY: see the module documentation: a stream that opened keeps
    // can_detach() false until its close has returned.
    unsafe { DRIVER.load(Ordering::Acquire).as_ref() }
}

/// The driver's first private minor: `drv/tun` adds `ddi::node_minor::*`
/// to it for its nodes.
#[unsafe(no_mangle)]
pub extern "C" fn tuntap_str_minor_base() -> minor_t {
    // SAFETY: a pure function of the mac module.
    unsafe { mac_private_minor() }
}

/// `qi_qopen`: `*minorp` is a node minor in the driver's numbering on
/// entry and the stream's own minor on success.  Returns an errno.
///
/// # Safety
/// Called by `drv/tun`'s open with its arguments; `minorp` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tuntap_str_open(
    rq: *mut queue_t,
    minorp: *mut minor_t,
    flag: c_int,
    sflag: c_int,
    cr: *mut cred_t,
) -> c_int {
    if rq.is_null() || minorp.is_null() {
        return ENXIO;
    }
    // SAFETY: minorp was checked non-NULL and points to the caller's value.
    let mut minor = unsafe { *minorp };
    let driver = {
        let _entry = EntryGuard::enter();
        // SAFETY: published pointers stay valid while ENTRY_LOCK is held.
        let Some(driver) = (unsafe { DRIVER.load(Ordering::Acquire).as_ref() }) else {
            return ENXIO;
        };
        // SAFETY: rq is the read queue of the pair being opened.
        if let Err(e) = unsafe { driver.open(rq, &mut minor, flag, sflag, Cred(cr.cast_const())) } {
            return e;
        }
        driver
    };
    // The stream is open, which keeps the driver attached (can_detach),
    // so it may be used without the entry lock; M_SETOPTS goes up with no
    // lock held.
    // SAFETY: rq is the stream just opened.
    unsafe { driver.opened(rq) };
    // SAFETY: as above.
    unsafe { *minorp = minor };
    0
}

/// `qi_qclose`.
///
/// # Safety
/// `rq` is the read queue of a stream `tuntap_str_open` opened.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tuntap_str_close(rq: *mut queue_t, flag: c_int, cr: *mut cred_t) -> c_int {
    if let Some(driver) = open_stream_driver() {
        // SAFETY: rq is the read queue of a stream the driver opened.
        unsafe { driver.close(rq, flag, Cred(cr.cast_const())) };
    }
    0
}

/// Write-side `qi_putp`: takes ownership of `mp`.
///
/// # Safety
/// `wq` is the write queue of an open stream; `mp` a valid message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tuntap_str_wput(wq: *mut queue_t, mp: *mut mblk_t) -> c_int {
    match open_stream_driver() {
        // SAFETY: wq is our write queue; the driver now owns mp.
        Some(driver) => unsafe { driver.wput(wq, mp) },
        // SAFETY: nobody else will free it.
        None => unsafe { freemsg(mp) },
    }
    0
}

/// Read-side `qi_srvp`.
///
/// # Safety
/// `rq` is the read queue of an open stream.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tuntap_str_rsrv(rq: *mut queue_t) -> c_int {
    if let Some(driver) = open_stream_driver() {
        // SAFETY: rq is our read queue, between qprocson and qprocsoff.
        unsafe { driver.rsrv(rq) };
    }
    0
}

// ----- the relay module `tunrly` (dlpi/relay.rs), registered by drv/tun
// in its modlinkage as a STREAMS module; an open instance counts as an
// open stream, so the driver stays while one exists. -----

/// Module `qi_qopen` (`sflag` must be `MODOPEN`).  Returns an errno.
///
/// # Safety
/// Called by `drv/tun`'s module open with its arguments.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tuntap_mod_open(rq: *mut queue_t, sflag: c_int, cr: *mut cred_t) -> c_int {
    if rq.is_null() {
        return ENXIO;
    }
    let _entry = EntryGuard::enter();
    // SAFETY: published pointers stay valid while ENTRY_LOCK is held.
    let Some(driver) = (unsafe { DRIVER.load(Ordering::Acquire).as_ref() }) else {
        return ENXIO;
    };
    // SAFETY: rq is the read queue of the module pair being opened.
    match unsafe { driver.mod_open(rq, sflag, Cred(cr.cast_const())) } {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// Module `qi_qclose`.
///
/// # Safety
/// `rq` is the read queue of a module instance `tuntap_mod_open` opened.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tuntap_mod_close(rq: *mut queue_t) -> c_int {
    match open_stream_driver() {
        // SAFETY: as documented.
        Some(driver) => unsafe { driver.mod_close(rq) },
        // Unreachable while the instance counts as an open stream, but
        // kept consistent with the put procedures: a close(9E) of a
        // module must still qprocsoff and free its q_ptr state.
        // SAFETY: as documented; no driver entry runs on rq after this.
        None => unsafe {
            qprocsoff(rq);
            crate::dlpi::relay::mod_forget::<Illumos>(rq);
        },
    }
    0
}

/// Module write-side `qi_putp`: takes ownership of `mp`.
///
/// # Safety
/// `wq` is the module's write queue; `mp` a valid message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tuntap_mod_wput(wq: *mut queue_t, mp: *mut mblk_t) -> c_int {
    match open_stream_driver() {
        // SAFETY: wq is the module's; the driver now owns mp.
        Some(driver) => unsafe { driver.mod_wput(wq, mp) },
        // SAFETY: nobody else will free it.
        None => unsafe { freemsg(mp) },
    }
    0
}

/// Module read-side `qi_putp`: takes ownership of `mp`.
///
/// # Safety
/// `rq` is the module's read queue; `mp` a valid message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tuntap_mod_rput(rq: *mut queue_t, mp: *mut mblk_t) -> c_int {
    match open_stream_driver() {
        // SAFETY: rq is the module's; the driver now owns mp.
        Some(driver) => unsafe { driver.mod_rput(rq, mp) },
        // SAFETY: nobody else will free it.
        None => unsafe { freemsg(mp) },
    }
    0
}
