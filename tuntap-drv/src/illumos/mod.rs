// SPDX-License-Identifier: MPL-2.0

//! The illumos kernel face of `drv/tuntap`, the mac provider: module
//! linkage, autoconfiguration, and (in [`streams`]) the entry points the
//! STREAMS module `drv/tun` calls.
//!
//! Theory statement.
//!
//! *What it does.*  `_init` marks the driver as a GLDv3 (mac) provider with
//! `mac_init_ops` (dld then owns `cb_str`: every open of this major is a
//! dld DLPI open of one of our links) and installs the module; `_fini`
//! removes it and undoes `mac_init_ops`; `_info` reports it.  The single
//! pseudo instance (instance 0, from `tuntap.conf`) attaches by creating
//! the driver's taskq and the one [`Driver`], published in
//! [`streams`]; it creates no minor nodes: mac_register makes the link
//! nodes, and `/dev/tun`, `/dev/tap` and the control node belong to
//! `drv/tun` (the crate's theory statement says why).  `devo_getinfo`
//! is left NULL: `mac_init_ops` -> `dld_init_ops`
//! (`usr/src/uts/common/io/dld/dld_str.c`) installs `dld_getinfo` when it
//! is, and every minor of this major is a mac/dld one.  (`mac_getinfo`,
//! which only forwards there, is not in every supported release.)  Detach is refused while [`Driver::can_detach`] says the
//! driver is busy (links exist or streams are open).  The character entry
//! points are never reached for link minors (dld's STREAMS open serves
//! them) and refuse service (ENXIO / ENOTTY) for anything else.
//!
//! *Locking.*  The ops statics are written only by the kernel
//! (`mac_init_ops` in `_init`, `mac_fini_ops` in `_fini`, both run
//! single-threaded by the module framework before/after any other entry
//! point).  `ATTACHED_DIP` is written by attach/detach, which the DDI
//! framework serialises.  Publishing and retiring the driver takes the
//! entry lock of [`streams`] (order: entry lock, then driver locks).
//!
//! *Invariants.*  `TUNTAP_DEV_OPS.devo_cb_ops` points at `TUNTAP_CB_OPS`,
//! `MODLDRV` points at `TUNTAP_DEV_OPS` and `MODLINKAGE` at `MODLDRV`, all
//! for the lifetime of the module; `ATTACHED_DIP` is non-NULL exactly
//! while instance 0 is attached, and then the driver is published.

pub mod kernel;
pub mod kmutex;
pub mod log;
pub mod streams;

pub use kernel::Illumos;

use core::ffi::{CStr, c_int, c_void};
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use alloc::boxed::Box;
use core::ptr::NonNull;

use illumos_sys_hdrs::kernel::{
    ddi_get_instance, ddi_prop_op, ddi_quiesce_not_needed, ddi_report_dev, ddi_taskq_create,
    ddi_taskq_destroy, mac_fini_ops, mac_init_ops, mod_driverops, mod_info,
    mod_install, mod_remove, nochpoll,
};
use illumos_sys_hdrs::nodev;
use illumos_sys_hdrs::{
    CB_REV, D_MP, DDI_ATTACH, DDI_DETACH, DDI_FAILURE, DDI_SUCCESS, DEVO_REV,
    ENOTTY, ENXIO, MODREV_1, TASKQ_DEFAULTPRI, cb_ops, cred_t, ddi_attach_cmd_t, ddi_detach_cmd_t,
    dev_info_t, dev_ops, dev_t, intptr_t, modinfo, modldrv,
    modlinkage, uio,
};

use crate::driver::Driver;

/// The driver's name: must match `/etc/name_to_major`, which is what
/// `mac_init_ops` looks the major up by.
pub const DRIVER_NAME: &CStr = c"tuntap";

/// Module dependencies for krtld when the object is linked without
/// `-N` options (kobj.c `depends_on()`): the mac and dls misc modules, the
/// dld driver, and drv/random for `random_get_pseudo_bytes` (the set
/// simnet declares in usr/src/uts/intel/simnet/Makefile).
#[unsafe(no_mangle)]
#[used]
pub static _depends_on: [u8; 37] = *b"misc/mac misc/dls drv/dld drv/random\0";

/// Name of the driver's taskq for deferred data-path work.
const TASKQ_NAME: &CStr = c"tuntap_defer";
/// Name of the driver's taskq for control work (ioctls, DLPI).
const CONTROL_TASKQ_NAME: &CStr = c"tuntap_control";
/// Threads of the control taskq: one slow request (a dlmgmtd upcall that
/// retries for seconds) holds up only itself.
const CONTROL_THREADS: c_int = 4;

/// A static the kernel may write through a pointer we hand it.
///
pub use illumos_sys_hdrs::nodev::KernelStatic;

static TUNTAP_CB_OPS: KernelStatic<cb_ops> = KernelStatic::new(cb_ops {
    cb_open: Some(tuntap_open),
    cb_close: Some(tuntap_close),
    cb_strategy: Some(nodev::strategy),
    cb_print: Some(nodev::print),
    cb_dump: Some(nodev::dump),
    cb_read: Some(tuntap_read),
    cb_write: Some(tuntap_write),
    cb_ioctl: Some(tuntap_ioctl),
    cb_devmap: Some(nodev::devmap),
    cb_mmap: Some(nodev::mmap),
    cb_segmap: Some(nodev::segmap),
    cb_chpoll: Some(nochpoll),
    cb_prop_op: Some(ddi_prop_op),
    // Filled in by dld through mac_init_ops().
    cb_str: ptr::null_mut(),
    cb_flag: D_MP,
    cb_rev: CB_REV,
    cb_aread: Some(nodev::aio),
    cb_awrite: Some(nodev::aio),
});

static TUNTAP_DEV_OPS: KernelStatic<dev_ops> = KernelStatic::new(dev_ops {
    devo_rev: DEVO_REV,
    devo_refcnt: 0,
    // NULL: dld_init_ops installs dld_getinfo (see the theory statement).
    devo_getinfo: None,
    devo_identify: Some(nodev::identify),
    devo_probe: Some(nodev::probe),
    devo_attach: Some(tuntap_attach),
    devo_detach: Some(tuntap_detach),
    devo_reset: Some(nodev::reset),
    // KernelStatic is repr(transparent) over UnsafeCell<cb_ops>, so the
    // address of the static is the address of the cb_ops inside it.
    devo_cb_ops: (&raw const TUNTAP_CB_OPS).cast::<cb_ops>().cast_mut(),
    devo_bus_ops: ptr::null_mut(),
    devo_power: None,
    devo_quiesce: Some(ddi_quiesce_not_needed),
});

static MODLDRV: KernelStatic<modldrv> = KernelStatic::new(modldrv {
    drv_modops: &raw mut mod_driverops,
    drv_linkinfo: c"tun/tap GLDv3 pseudo driver".as_ptr(),
    drv_dev_ops: (&raw const TUNTAP_DEV_OPS).cast::<dev_ops>().cast_mut(),
});

static MODLINKAGE: KernelStatic<modlinkage> = KernelStatic::new(modlinkage {
    ml_rev: MODREV_1,
    ml_linkage: [
        (&raw const MODLDRV).cast::<c_void>().cast_mut(),
        ptr::null_mut(),
        ptr::null_mut(),
        ptr::null_mut(),
        ptr::null_mut(),
        ptr::null_mut(),
        ptr::null_mut(),
    ],
});

/// The attached instance 0, or NULL.
static ATTACHED_DIP: AtomicPtr<dev_info_t> = AtomicPtr::new(ptr::null_mut());

/// The taskqs made at attach, or NULL.
static ATTACHED_TASKQ: AtomicPtr<illumos_sys_hdrs::ddi_taskq_t> = AtomicPtr::new(ptr::null_mut());
static ATTACHED_CONTROL_TASKQ: AtomicPtr<illumos_sys_hdrs::ddi_taskq_t> = AtomicPtr::new(ptr::null_mut());

// ---------------------------------------------------------------------
// Loadable module entry points: _init(9E), _info(9E), _fini(9E).
// ---------------------------------------------------------------------

/// _init(9E): load-time entry point.
///
/// # Safety
/// Only the illumos kernel calls this, with the arguments its manual
/// page describes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _init() -> c_int {
    // SAFETY: TUNTAP_DEV_OPS lives as long as the module and nothing else
    // uses it yet; mac_init_ops may write cb_str/devo_getinfo through it.
    // DRIVER_NAME is NUL-terminated.
    unsafe { mac_init_ops(TUNTAP_DEV_OPS.get(), DRIVER_NAME.as_ptr()) };
    // SAFETY: MODLINKAGE is a valid MODREV_1 linkage pointing at static
    // modldrv/dev_ops that outlive the installed module.
    let status = unsafe { mod_install(MODLINKAGE.get()) };
    if status != 0 {
        // SAFETY: undoes the mac_init_ops above; the module was not
        // installed, so no other entry point can be running.
        unsafe { mac_fini_ops(TUNTAP_DEV_OPS.get()) };
    }
    status
}

/// _info(9E): report module information.
///
/// # Safety
/// Only the illumos kernel calls this, with the arguments its manual
/// page describes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _info(modinfop: *mut modinfo) -> c_int {
    // SAFETY: the kernel passes a valid modinfo; MODLINKAGE is static.
    unsafe { mod_info(MODLINKAGE.get(), modinfop) }
}

/// _fini(9E): unload-time entry point.
///
/// # Safety
/// Only the illumos kernel calls this, with the arguments its manual
/// page describes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _fini() -> c_int {
    // SAFETY: MODLINKAGE is the linkage installed by _init.
    let status = unsafe { mod_remove(MODLINKAGE.get()) };
    if status == 0 {
        // SAFETY: the module is removed, so no entry point can run any
        // more; this pairs with mac_init_ops in _init.
        unsafe { mac_fini_ops(TUNTAP_DEV_OPS.get()) };
    }
    status
}

// ---------------------------------------------------------------------
// Autoconfiguration: getinfo(9E), identify/probe, attach(9E), detach(9E).
// ---------------------------------------------------------------------

/// attach(9E): make the taskq and the driver, and publish the driver.
///
/// # Safety
/// Only the illumos kernel calls this, with the arguments its manual
/// page describes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tuntap_attach(dip: *mut dev_info_t, cmd: ddi_attach_cmd_t) -> c_int {
    if cmd != DDI_ATTACH {
        return DDI_FAILURE;
    }
    let Some(dip_ref) = NonNull::new(dip) else {
        return DDI_FAILURE;
    };
    // SAFETY: dip is the node the framework is attaching.
    let instance = unsafe { ddi_get_instance(dip) };
    if instance != 0 {
        log::warn(format_args!(
            "instance {instance} refused: only instance 0 exists"
        ));
        return DDI_FAILURE;
    }
    if !ATTACHED_DIP.load(Ordering::Acquire).is_null() {
        return DDI_FAILURE;
    }
    // One thread: deferred work (resolver replies) is short and ordered.
    // SAFETY: dip is being attached; the name is NUL-terminated and static.
    let taskq = unsafe { ddi_taskq_create(dip, TASKQ_NAME.as_ptr(), 1, TASKQ_DEFAULTPRI, 0) };
    let Some(taskq) = NonNull::new(taskq) else {
        log::warn(format_args!("cannot create taskq"));
        return DDI_FAILURE;
    };
    // Several threads: control work may block (see Kernel::dispatch_control).
    // SAFETY: as above.
    let control = unsafe { ddi_taskq_create(dip, CONTROL_TASKQ_NAME.as_ptr(), CONTROL_THREADS, TASKQ_DEFAULTPRI, 0) };
    let Some(control) = NonNull::new(control) else {
        log::warn(format_args!("cannot create the control taskq"));
        // SAFETY: no task was dispatched on it.
        unsafe { ddi_taskq_destroy(taskq.as_ptr()) };
        return DDI_FAILURE;
    };
    // SAFETY: dip stays attached and the taskqs alive until detach, which
    // destroys them before it frees the driver (and every Illumos copy).
    let kernel = unsafe { Illumos::new(dip_ref, taskq, control) };
    let driver = Box::into_raw(Box::new(Driver::new(kernel)));
    // SAFETY: driver is a fresh Box pointer; nothing is published yet.
    if unsafe { !streams::publish(driver) } {
        // SAFETY: not published, so still exclusively ours.
        drop(unsafe { Box::from_raw(driver) });
        // SAFETY: no task was dispatched on them.
        unsafe {
            ddi_taskq_destroy(taskq.as_ptr());
            ddi_taskq_destroy(control.as_ptr());
        }
        return DDI_FAILURE;
    }
    ATTACHED_TASKQ.store(taskq.as_ptr(), Ordering::Release);
    ATTACHED_CONTROL_TASKQ.store(control.as_ptr(), Ordering::Release);
    ATTACHED_DIP.store(dip, Ordering::Release);
    // SAFETY: dip is attached.
    unsafe { ddi_report_dev(dip) };
    DDI_SUCCESS
}

/// detach(9E): refused while the driver has links or open streams.
///
/// # Safety
/// Only the illumos kernel calls this, with the arguments its manual
/// page describes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tuntap_detach(dip: *mut dev_info_t, cmd: ddi_detach_cmd_t) -> c_int {
    if cmd != DDI_DETACH {
        return DDI_FAILURE;
    }
    if ATTACHED_DIP.load(Ordering::Acquire) != dip {
        return DDI_FAILURE;
    }
    let Some(driver) = streams::retire() else {
        return DDI_FAILURE;
    };
    // The taskq goes first: ddi_taskq_destroy runs what is still queued
    // before it returns (taskq_destroy -> taskq_wait,
    // usr/src/uts/common/os/taskq.c), and such a task may still use the
    // driver; only then is the driver freed.  (Every task owns what it
    // uses, and can_detach() held, so none dispatches more.)
    for taskq in [&ATTACHED_CONTROL_TASKQ, &ATTACHED_TASKQ] {
        let taskq = taskq.swap(ptr::null_mut(), Ordering::AcqRel);
        if !taskq.is_null() {
            // SAFETY: made in attach; runs and waits for any task still queued.
            unsafe { ddi_taskq_destroy(taskq) };
        }
    }
    // SAFETY: retire() unpublished the driver under the entry lock after
    // can_detach() held, so no entry point can reach it any more, and its
    // taskq has run dry.
    drop(unsafe { Box::from_raw(driver) });
    ATTACHED_DIP.store(ptr::null_mut(), Ordering::Release);
    DDI_SUCCESS
}

// ---------------------------------------------------------------------
// Character-device entry points (cb_ops).  specfs requires cb_open even
// for STREAMS drivers; dld's streamtab serves every link minor, so these
// only answer opens dld hands back (private minors, of which this driver
// has none) with the errno a missing device or request gets.
// ---------------------------------------------------------------------

/// open(9E): there are no private minors.
///
/// # Safety
/// Only the illumos kernel calls this, with the arguments its manual
/// page describes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tuntap_open(
    _devp: *mut dev_t,
    _flag: c_int,
    _otyp: c_int,
    _credp: *mut cred_t,
) -> c_int {
    ENXIO
}

/// close(9E).
///
/// # Safety
/// Only the illumos kernel calls this, with the arguments its manual
/// page describes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tuntap_close(
    _dev: dev_t,
    _flag: c_int,
    _otyp: c_int,
    _credp: *mut cred_t,
) -> c_int {
    // Nothing can have been opened, so there is nothing to release.
    0
}

/// ioctl(9E).
///
/// # Safety
/// Only the illumos kernel calls this, with the arguments its manual
/// page describes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tuntap_ioctl(
    _dev: dev_t,
    _cmd: c_int,
    _arg: intptr_t,
    _mode: c_int,
    _credp: *mut cred_t,
    _rvalp: *mut c_int,
) -> c_int {
    ENOTTY
}

unsafe extern "C" fn tuntap_read(_dev: dev_t, _uiop: *mut uio, _credp: *mut cred_t) -> c_int {
    ENXIO
}

unsafe extern "C" fn tuntap_write(_dev: dev_t, _uiop: *mut uio, _credp: *mut cred_t) -> c_int {
    ENXIO
}

// The remaining slots behave like nodev(9F): ENXIO.
