// SPDX-License-Identifier: MPL-2.0

//! The loadable module `drv/tun`: the STREAMS driver behind `/dev/tun`,
//! `/dev/tap` and the control node `/dev/tuntap`.
//!
//! Theory statement.
//!
//! *Why a second module.*  `drv/tuntap` is a mac provider; dld owns its
//! `cb_str`, and dld's open refuses minors at or above
//! `mac_private_minor()` with `ENOSTR` (docs/research/illumos-facts.md,
//! section a), so the provider cannot offer STREAMS devices of its own.
//! This driver owns them and forwards every queue procedure to the
//! `tuntap_str_*` functions `drv/tuntap` exports
//! (tuntap-drv/src/illumos/streams.rs), where the driver logic runs.
//! Nothing but translation happens here.
//!
//! *Minor numbers.*  Instance 0 has three minor nodes, made at attach:
//! `ctl` = 0, `tun` = 1, `tap` = 2 (`tuntap_abi::limits::node`).  They
//! are ordinary nodes, not `CLONE_DEV` ones: the clone driver opens a
//! cloned driver with minor 0 whatever node was opened (`clnopen` in
//! usr/src/uts/common/io/clone.c passes `makedevice(emaj, 0)`), which
//! would make `tun` and `tap` indistinguishable.  Instead the open routine
//! clones by rewriting `*devp` (a self-cloning STREAMS driver).  The
//! driver numbers its minors from `tuntap_str_minor_base()` (=
//! `mac_private_minor()`): this module passes `base + node` in and gets
//! `base + n` back for the new stream (n >= 16), and makes the stream's
//! dev_t `makedevice(major, n)`.  So this module's minor space is the
//! driver's minus `base`; the translation lives only in [`tun_open`].
//!
//! *Module dependency.*  `_depends_on = "drv/tuntap"`: krtld loads
//! `drv/tuntap` first, resolves the `tuntap_str_*` references against it,
//! and keeps it loaded while this module is.  Loaded is not attached:
//! nothing attaches a `.conf` pseudo node by itself after boot, and an
//! open of our nodes attaches only this driver (`spec_open` ->
//! `e_ddi_hold_devi_by_dev`, usr/src/uts/common/fs/specfs/spec_vnops.c).
//! `tuntap.conf` asks for `ddi-forceattach=1` and `ddi-no-autodetach=1`;
//! besides, the first open here holds instance 0 of `drv/tuntap`
//! (`ddi_hold_devi_by_instance`, which attaches it) and keeps the hold
//! until this driver detaches (`PROVIDER_DIP`).  The hold is taken in
//! open(9E), user context, never in attach(9E): its slow path configures
//! the device tree from the root while our parent is busy, a deadlock
//! risk (`hold_devi` in usr/src/uts/common/os/devcfg.c;
//! docs/research/kernel-contexts.md section 1e).  If the provider cannot
//! be attached, opens fail with `ENXIO`.
//!
//! *The relay module.*  The same `modlinkage` links a STREAMS module,
//! `tunrly` (a `modlstrmod` after the `modldrv`, as softmac_dev.c links
//! its module next to its driver): the old-API DLPI stream pushes it on
//! the lower dld stream it opens through LDI (tuntap-drv/src/dlpi/
//! relay.rs).  Its procedures forward to the `tuntap_mod_*` functions
//! `drv/tuntap` exports, like the driver's; an open instance counts as an
//! open stream there, so `drv/tuntap`'s driver stays while one exists.
//!
//! *Locks.*  None here.  `OPEN_STREAMS` counts streams between a
//! successful open and its close, so detach is refused while any is open.
//!
//! *Invariants.*  Every static that the kernel receives a pointer to lives
//! as long as the module; `TUN_DIP` is non-NULL exactly while instance 0 is
//! attached.  No code here panics or allocates.

#![no_std]

use core::ffi::{CStr, c_int, c_void};
use core::panic::PanicInfo;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use illumos_sys_hdrs::nodev;
use illumos_sys_hdrs::kernel::{
    cmn_err, ddi_create_minor_node, ddi_get_instance, ddi_hold_devi_by_instance, ddi_name_to_major,
    ddi_prop_op, ddi_quiesce_not_needed, ddi_release_devi, ddi_remove_minor_node, ddi_report_dev, freemsg, getmajor, getminor, makedevice, mod_driverops,
    mod_info, mod_install, mod_remove, mod_strmodops, nochpoll, panic,
};
use illumos_sys_hdrs::{
    CB_REV, CE_WARN, D_MP, DDI_MAJOR_T_NONE, DDI_ATTACH, DDI_DETACH, DDI_FAILURE, DDI_INFO_DEVT2DEVINFO, DDI_INFO_DEVT2INSTANCE, DDI_PSEUDO, DDI_SUCCESS, DEVO_REV, EINVAL, ENXIO, MODOPEN, MODREV_1, S_IFCHR, STRUIOT_NONE, cb_ops, cred_t, ddi_attach_cmd_t, ddi_detach_cmd_t, ddi_info_cmd_t, dev_info_t, dev_ops, dev_t, mblk_t, minor_t, modinfo, fmodsw, modldrv, modlinkage, modlstrmod, module_info, qinit, queue_t, streamtab,
};

// ----- the interface drv/tuntap exports (tuntap-drv/src/illumos/streams.rs) -----
unsafe extern "C" {
    fn tuntap_str_minor_base() -> minor_t;
    fn tuntap_str_open(
        rq: *mut queue_t,
        minorp: *mut minor_t,
        flag: c_int,
        sflag: c_int,
        cr: *mut cred_t,
    ) -> c_int;
    fn tuntap_str_close(rq: *mut queue_t, flag: c_int, cr: *mut cred_t) -> c_int;
    fn tuntap_str_wput(wq: *mut queue_t, mp: *mut mblk_t) -> c_int;
    fn tuntap_str_rsrv(rq: *mut queue_t) -> c_int;
    fn tuntap_mod_open(rq: *mut queue_t, sflag: c_int, cr: *mut cred_t) -> c_int;
    fn tuntap_mod_close(rq: *mut queue_t) -> c_int;
    fn tuntap_mod_wput(wq: *mut queue_t, mp: *mut mblk_t) -> c_int;
    fn tuntap_mod_rput(rq: *mut queue_t, mp: *mut mblk_t) -> c_int;
}

/// The minor nodes of instance 0: (name, minor), from the one table in
/// `tuntap_abi::limits::node`.
const MINOR_NODES: [(&CStr, minor_t); 3] = tuntap_abi::limits::node::ALL;

/// Module dependency for krtld (kobj.c `depends_on()`).
#[unsafe(no_mangle)]
#[used]
pub static _depends_on: [u8; 11] = *b"drv/tuntap\0";

use illumos_sys_hdrs::nodev::KernelStatic;

// ----- STREAMS tables -----

/// Driver's own queue limits: the driver paces its read side itself
/// (per-stream backlog) and sets the stream head's marks with M_SETOPTS.
static TUN_MINFO: KernelStatic<module_info> = KernelStatic::new(module_info {
    mi_idnum: 0x7475,
    mi_idname: c"tun".as_ptr().cast_mut(),
    mi_minpsz: 0,
    mi_maxpsz: 65_535 + 64,
    mi_hiwat: 65_536,
    mi_lowat: 8_192,
});

static TUN_RINIT: KernelStatic<qinit> = KernelStatic::new(qinit {
    qi_putp: Some(tun_rput),
    qi_srvp: Some(tun_rsrv),
    qi_qopen: Some(tun_open),
    qi_qclose: Some(tun_close),
    qi_qadmin: None,
    qi_minfo: TUN_MINFO.get(),
    qi_mstat: ptr::null_mut(),
    qi_rwp: None,
    qi_infop: None,
    qi_struiot: STRUIOT_NONE,
});

static TUN_WINIT: KernelStatic<qinit> = KernelStatic::new(qinit {
    qi_putp: Some(tun_wput),
    qi_srvp: None,
    qi_qopen: None,
    qi_qclose: None,
    qi_qadmin: None,
    qi_minfo: TUN_MINFO.get(),
    qi_mstat: ptr::null_mut(),
    qi_rwp: None,
    qi_infop: None,
    qi_struiot: STRUIOT_NONE,
});

static TUN_STREAMTAB: KernelStatic<streamtab> = KernelStatic::new(streamtab {
    st_rdinit: TUN_RINIT.get(),
    st_wrinit: TUN_WINIT.get(),
    st_muxrinit: ptr::null_mut(),
    st_muxwinit: ptr::null_mut(),
});

static TUN_CB_OPS: KernelStatic<cb_ops> = KernelStatic::new(cb_ops {
    // specfs requires cb_open even for STREAMS drivers; the stream open
    // goes to qi_qopen, so these behave as nulldev(9F).
    cb_open: Some(tun_cb_open),
    cb_close: Some(tun_cb_close),
    cb_strategy: Some(nodev::strategy),
    cb_print: Some(nodev::print),
    cb_dump: Some(nodev::dump),
    cb_read: Some(nodev::rw),
    cb_write: Some(nodev::rw),
    cb_ioctl: Some(nodev::ioctl),
    cb_devmap: Some(nodev::devmap),
    cb_mmap: Some(nodev::mmap),
    cb_segmap: Some(nodev::segmap),
    cb_chpoll: Some(nochpoll),
    cb_prop_op: Some(ddi_prop_op),
    cb_str: TUN_STREAMTAB.get(),
    cb_flag: D_MP,
    cb_rev: CB_REV,
    cb_aread: Some(nodev::aio),
    cb_awrite: Some(nodev::aio),
});

static TUN_DEV_OPS: KernelStatic<dev_ops> = KernelStatic::new(dev_ops {
    devo_rev: DEVO_REV,
    devo_refcnt: 0,
    devo_getinfo: Some(tun_getinfo),
    devo_identify: Some(nodev::identify),
    devo_probe: Some(nodev::probe),
    devo_attach: Some(tun_attach),
    devo_detach: Some(tun_detach),
    devo_reset: Some(nodev::reset),
    devo_cb_ops: TUN_CB_OPS.get(),
    devo_bus_ops: ptr::null_mut(),
    devo_power: None,
    devo_quiesce: Some(ddi_quiesce_not_needed),
});

static MODLDRV: KernelStatic<modldrv> = KernelStatic::new(modldrv {
    drv_modops: &raw mut mod_driverops,
    drv_linkinfo: c"tun/tap STREAMS devices".as_ptr(),
    drv_dev_ops: TUN_DEV_OPS.get(),
});

// ----- the relay module `tunrly` (tuntap-drv/src/dlpi/relay.rs) -----
//
// A STREAMS module registered next to the driver, as softmac registers
// its module in the same modlinkage as its driver (softmac_dev.c): the
// old-API DLPI stream pushes it on its lower dld stream (`I_PUSH` through
// `ldi_ioctl`).  Its procedures forward to drv/tuntap like the driver's.

static RLY_MINFO: KernelStatic<module_info> = KernelStatic::new(module_info {
    mi_idnum: 0x7476,
    mi_idname: c"tunrly".as_ptr().cast_mut(),
    mi_minpsz: 0,
    mi_maxpsz: -1,
    mi_hiwat: 65_536,
    mi_lowat: 8_192,
});

static RLY_RINIT: KernelStatic<qinit> = KernelStatic::new(qinit {
    qi_putp: Some(rly_rput),
    qi_srvp: None,
    qi_qopen: Some(rly_open),
    qi_qclose: Some(rly_close),
    qi_qadmin: None,
    qi_minfo: RLY_MINFO.get(),
    qi_mstat: ptr::null_mut(),
    qi_rwp: None,
    qi_infop: None,
    qi_struiot: STRUIOT_NONE,
});

static RLY_WINIT: KernelStatic<qinit> = KernelStatic::new(qinit {
    qi_putp: Some(rly_wput),
    qi_srvp: None,
    qi_qopen: None,
    qi_qclose: None,
    qi_qadmin: None,
    qi_minfo: RLY_MINFO.get(),
    qi_mstat: ptr::null_mut(),
    qi_rwp: None,
    qi_infop: None,
    qi_struiot: STRUIOT_NONE,
});

static RLY_STREAMTAB: KernelStatic<streamtab> = KernelStatic::new(streamtab {
    st_rdinit: RLY_RINIT.get(),
    st_wrinit: RLY_WINIT.get(),
    st_muxrinit: ptr::null_mut(),
    st_muxwinit: ptr::null_mut(),
});

static RLY_FMODSW: KernelStatic<fmodsw> = KernelStatic::new(fmodsw {
    f_name: [b't' as _, b'u' as _, b'n' as _, b'r' as _, b'l' as _, b'y' as _, 0, 0, 0],
    f_str: RLY_STREAMTAB.get(),
    f_flag: D_MP,
});

static MODLSTRMOD: KernelStatic<modlstrmod> = KernelStatic::new(modlstrmod {
    strmod_modops: &raw mut mod_strmodops,
    strmod_linkinfo: c"tun/tap old-API relay module".as_ptr(),
    strmod_fmodsw: RLY_FMODSW.get(),
});

static MODLINKAGE: KernelStatic<modlinkage> = KernelStatic::new(modlinkage {
    ml_rev: MODREV_1,
    ml_linkage: [
        MODLDRV.get().cast::<c_void>(),
        MODLSTRMOD.get().cast::<c_void>(),
        ptr::null_mut(),
        ptr::null_mut(),
        ptr::null_mut(),
        ptr::null_mut(),
        ptr::null_mut(),
    ],
});

/// Instance 0 while attached, else NULL.
static TUN_DIP: AtomicPtr<dev_info_t> = AtomicPtr::new(ptr::null_mut());

/// Streams between a successful open and their close.
static OPEN_STREAMS: AtomicUsize = AtomicUsize::new(0);

/// Our hold on instance 0 of `drv/tuntap`, taken by the first open and
/// released at detach (see the module docs).
static PROVIDER_DIP: AtomicPtr<dev_info_t> = AtomicPtr::new(ptr::null_mut());

/// Make sure `drv/tuntap` instance 0 is attached and held.  Open(9E)
/// only (it may block).  `false` if it cannot be.
fn hold_provider() -> bool {
    if !PROVIDER_DIP.load(Ordering::Acquire).is_null() {
        return true;
    }
    // SAFETY: a static NUL-terminated driver name.
    let major = unsafe { ddi_name_to_major(c"tuntap".as_ptr()) };
    if major == DDI_MAJOR_T_NONE {
        return false;
    }
    // SAFETY: flags 0 as the manual page requires; user context.
    let dip = unsafe { ddi_hold_devi_by_instance(major, 0, 0) };
    if dip.is_null() {
        return false;
    }
    if PROVIDER_DIP.compare_exchange(ptr::null_mut(), dip, Ordering::AcqRel, Ordering::Acquire).is_err() {
        // Another open got there first: keep one hold only.
        // SAFETY: releases the hold just taken.
        unsafe { ddi_release_devi(dip) };
    }
    true
}

// ----- module linkage -----

/// _init(9E).
///
/// # Safety
/// Only the kernel calls this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _init() -> c_int {
    // SAFETY: MODLINKAGE is a valid MODREV_1 linkage of static lifetime.
    unsafe { mod_install(MODLINKAGE.get()) }
}

/// _info(9E).
///
/// # Safety
/// Only the kernel calls this, with a valid `modinfop`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _info(modinfop: *mut modinfo) -> c_int {
    // SAFETY: as above.
    unsafe { mod_info(MODLINKAGE.get(), modinfop) }
}

/// _fini(9E).
///
/// # Safety
/// Only the kernel calls this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _fini() -> c_int {
    // SAFETY: the linkage installed by _init.
    unsafe { mod_remove(MODLINKAGE.get()) }
}

// ----- autoconfiguration -----

unsafe extern "C" fn tun_getinfo(
    _dip: *mut dev_info_t,
    cmd: ddi_info_cmd_t,
    _arg: *mut c_void,
    result: *mut *mut c_void,
) -> c_int {
    if result.is_null() {
        return DDI_FAILURE;
    }
    let answer: *mut c_void = match cmd {
        DDI_INFO_DEVT2DEVINFO => {
            let dip = TUN_DIP.load(Ordering::Acquire);
            if dip.is_null() {
                return DDI_FAILURE;
            }
            dip.cast()
        }
        // Every minor belongs to instance 0.
        DDI_INFO_DEVT2INSTANCE => ptr::null_mut(),
        _ => return DDI_FAILURE,
    };
    // SAFETY: result was checked non-NULL; it is the kernel's slot.
    unsafe { *result = answer };
    DDI_SUCCESS
}

unsafe extern "C" fn tun_attach(dip: *mut dev_info_t, cmd: ddi_attach_cmd_t) -> c_int {
    if cmd != DDI_ATTACH || dip.is_null() {
        return DDI_FAILURE;
    }
    // SAFETY: dip is the node being attached.
    if unsafe { ddi_get_instance(dip) } != 0 || !TUN_DIP.load(Ordering::Acquire).is_null() {
        return DDI_FAILURE;
    }
    for (name, minor) in MINOR_NODES {
        // SAFETY: dip is being attached; the strings are static and
        // NUL-terminated.  Flag 0: not CLONE_DEV (see the module docs).
        let status = unsafe {
            ddi_create_minor_node(dip, name.as_ptr(), S_IFCHR, minor, DDI_PSEUDO.as_ptr(), 0)
        };
        if status != DDI_SUCCESS {
            // SAFETY: constant format, static NUL-terminated argument.
            unsafe { cmn_err(CE_WARN, c"tun: cannot create minor node %s".as_ptr(), name.as_ptr()) };
            // SAFETY: NULL removes every node made so far.
            unsafe { ddi_remove_minor_node(dip, ptr::null()) };
            return DDI_FAILURE;
        }
    }
    TUN_DIP.store(dip, Ordering::Release);
    // SAFETY: dip is attached.
    unsafe { ddi_report_dev(dip) };
    DDI_SUCCESS
}

unsafe extern "C" fn tun_detach(dip: *mut dev_info_t, cmd: ddi_detach_cmd_t) -> c_int {
    if cmd != DDI_DETACH || TUN_DIP.load(Ordering::Acquire) != dip {
        return DDI_FAILURE;
    }
    if OPEN_STREAMS.load(Ordering::Acquire) != 0 {
        return DDI_FAILURE;
    }
    // SAFETY: dip is our attached instance; NULL removes all its nodes.
    unsafe { ddi_remove_minor_node(dip, ptr::null()) };
    TUN_DIP.store(ptr::null_mut(), Ordering::Release);
    let provider = PROVIDER_DIP.swap(ptr::null_mut(), Ordering::AcqRel);
    if !provider.is_null() {
        // SAFETY: the hold hold_provider took; released once.
        unsafe { ddi_release_devi(provider) };
    }
    DDI_SUCCESS
}

// ----- queue procedures: translate and forward -----

/// `qi_qopen`: translate this module's minor to the driver's and back.
unsafe extern "C" fn tun_open(
    rq: *mut queue_t,
    devp: *mut dev_t,
    flag: c_int,
    sflag: c_int,
    cr: *mut cred_t,
) -> c_int {
    if rq.is_null() || devp.is_null() {
        return ENXIO;
    }
    if sflag == MODOPEN {
        // A driver, not a module: I_PUSH "tun" is meaningless.
        return EINVAL;
    }
    // SAFETY: rq is the read queue being opened.
    if unsafe { !(*rq).q_ptr.is_null() } {
        // Re-open of an existing stream (same clone minor): nothing to do.
        return 0;
    }
    if !hold_provider() {
        return ENXIO;
    }
    // SAFETY: devp was checked non-NULL and points to the opened dev_t.
    let dev = unsafe { *devp };
    // SAFETY: pure functions of a dev_t / of drv/tuntap.
    let (major, node, base) = unsafe { (getmajor(dev), getminor(dev), tuntap_str_minor_base()) };
    let Some(mut minor) = base.checked_add(node) else {
        return ENXIO;
    };
    // SAFETY: rq is a fresh queue pair; minor is a valid in/out slot.
    let status = unsafe { tuntap_str_open(rq, &mut minor, flag, sflag, cr) };
    if status != 0 {
        return status;
    }
    let Some(clone) = minor.checked_sub(base) else {
        // The driver broke its numbering: undo the open.
        // SAFETY: the stream was opened by the call above.
        unsafe { tuntap_str_close(rq, flag, cr) };
        return ENXIO;
    };
    OPEN_STREAMS.fetch_add(1, Ordering::AcqRel);
    // SAFETY: pure function; devp checked above.
    unsafe { *devp = makedevice(major, clone) };
    0
}

unsafe extern "C" fn tun_close(rq: *mut queue_t, flag: c_int, cr: *mut cred_t) -> c_int {
    // SAFETY: rq is the read queue of a stream tun_open opened.
    let status = unsafe { tuntap_str_close(rq, flag, cr) };
    // Never wraps: a close pairs with a successful open.
    let _ = OPEN_STREAMS.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    status
}

unsafe extern "C" fn tun_wput(wq: *mut queue_t, mp: *mut mblk_t) -> c_int {
    // SAFETY: STREAMS hands ownership of mp to the driver.
    unsafe { tuntap_str_wput(wq, mp) }
}

unsafe extern "C" fn tun_rsrv(rq: *mut queue_t) -> c_int {
    // SAFETY: rq is the read queue of an open stream.
    unsafe { tuntap_str_rsrv(rq) }
}

/// Nothing puts into a driver's own read queue; free what might.
unsafe extern "C" fn tun_rput(_rq: *mut queue_t, mp: *mut mblk_t) -> c_int {
    // SAFETY: put procedures own the message they get.
    unsafe { freemsg(mp) };
    0
}

// ----- the relay module's procedures: forwarding only -----

unsafe extern "C" fn rly_open(rq: *mut queue_t, _devp: *mut dev_t, _flag: c_int, sflag: c_int, cr: *mut cred_t) -> c_int {
    // SAFETY: the module's fresh queue pair and the opener's credential.
    unsafe { tuntap_mod_open(rq, sflag, cr) }
}

unsafe extern "C" fn rly_close(rq: *mut queue_t, _flag: c_int, _cr: *mut cred_t) -> c_int {
    // SAFETY: an instance rly_open opened.
    unsafe { tuntap_mod_close(rq) }
}

unsafe extern "C" fn rly_wput(wq: *mut queue_t, mp: *mut mblk_t) -> c_int {
    // SAFETY: put procedures own the message they get.
    unsafe { tuntap_mod_wput(wq, mp) }
}

unsafe extern "C" fn rly_rput(rq: *mut queue_t, mp: *mut mblk_t) -> c_int {
    // SAFETY: as above.
    unsafe { tuntap_mod_rput(rq, mp) }
}

// ----- cb_ops slots: nulldev/nodev behaviour -----

unsafe extern "C" fn tun_cb_open(_devp: *mut dev_t, _flag: c_int, _otyp: c_int, _cr: *mut cred_t) -> c_int {
    0
}

unsafe extern "C" fn tun_cb_close(_dev: dev_t, _flag: c_int, _otyp: c_int, _cr: *mut cred_t) -> c_int {
    0
}

/// Nothing here can panic by design; should it, stop the system the way
/// the kernel does, without formatting (no core::fmt in this module).
#[panic_handler]
fn tun_panic(_info: &PanicInfo<'_>) -> ! {
    // SAFETY: constant format without conversions; panic() does not return.
    unsafe { panic(c"tun: Rust panic".as_ptr()) }
}
