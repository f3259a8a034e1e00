// SPDX-License-Identifier: MPL-2.0

//! Functions and data the illumos kernel exports to drivers.
//!
//! Theory statement.  Only compiled with the `kernel` feature, so that
//! host and userland builds never carry references to kernel symbols.
//! Each group names the illumos-gate header whose prototype it follows;
//! argument types use the aliases from the crate root so the mapping to
//! C stays visible.  Every function here is `unsafe`: the callers own the
//! pointer, context (interrupt vs. kernel thread) and locking rules
//! stated in the corresponding 9F manual page.  Nothing in this file has
//! state or takes locks.

use core::ffi::{c_char, c_int, c_short, c_void};

use crate::*;

// ===== usr/src/uts/common/sys/stream.h =====
unsafe extern "C" {
    pub fn allocb(size: size_t, pri: uint_t) -> *mut mblk_t;
    pub fn desballoc(base: *mut u8, size: size_t, pri: uint_t, frp: *mut frtn_t) -> *mut mblk_t;
    pub fn freeb(bp: *mut mblk_t);
    pub fn freemsg(mp: *mut mblk_t);
    pub fn dupmsg(mp: *mut mblk_t) -> *mut mblk_t;
    pub fn copymsg(mp: *mut mblk_t) -> *mut mblk_t;
    pub fn msgpullup(mp: *mut mblk_t, len: ssize_t) -> *mut mblk_t;
    pub fn msgdsize(mp: *mut mblk_t) -> size_t;
    pub fn getq(q: *mut queue_t) -> *mut mblk_t;
    pub fn putq(q: *mut queue_t, mp: *mut mblk_t) -> c_int;
    pub fn putbq(q: *mut queue_t, mp: *mut mblk_t) -> c_int;
    pub fn flushq(q: *mut queue_t, flag: c_int);
    pub fn canputnext(q: *mut queue_t) -> c_int;
    pub fn putnext(q: *mut queue_t, mp: *mut mblk_t);
    pub fn qreply(q: *mut queue_t, mp: *mut mblk_t);
    pub fn qenable(q: *mut queue_t);
    pub fn qprocson(q: *mut queue_t);
    pub fn qprocsoff(q: *mut queue_t);
}

// ===== usr/src/uts/common/sys/strsubr.h =====
unsafe extern "C" {
    pub fn freemsgchain(mp: *mut mblk_t);
}

// ===== usr/src/uts/common/sys/strsun.h =====
unsafe extern "C" {
    pub fn mcopyin(mp: *mut mblk_t, private: *mut c_void, size: size_t, useraddr: *mut c_void);
    pub fn mcopyout(
        mp: *mut mblk_t,
        private: *mut c_void,
        size: size_t,
        useraddr: *mut c_void,
        dp: *mut mblk_t,
    );
    pub fn merror(q: *mut queue_t, mp: *mut mblk_t, error: c_int);
    pub fn mioc2ack(mp: *mut mblk_t, dp: *mut mblk_t, count: size_t, rval: c_int);
    pub fn miocack(q: *mut queue_t, mp: *mut mblk_t, count: c_int, rval: c_int);
    pub fn miocnak(q: *mut queue_t, mp: *mut mblk_t, count: c_int, error: c_int);
    pub fn miocpullup(mp: *mut mblk_t, size: size_t) -> c_int;
    pub fn mexchange(
        q: *mut queue_t,
        mp: *mut mblk_t,
        size: size_t,
        type_: u8,
        primtype: i32,
    ) -> *mut mblk_t;
}

// ===== usr/src/uts/common/sys/kmem.h =====
unsafe extern "C" {
    pub fn kmem_alloc(size: size_t, kmflags: c_int) -> *mut c_void;
    pub fn kmem_zalloc(size: size_t, kmflags: c_int) -> *mut c_void;
    pub fn kmem_free(buf: *mut c_void, size: size_t);
}

// ===== usr/src/uts/common/sys/cmn_err.h =====
unsafe extern "C" {
    /// `cmn_err(9F)`.  Always pass a constant format such as `c"%s"`:
    /// a leading `!`, `^` or `?` in the format changes where it prints.
    pub fn cmn_err(level: c_int, fmt: *const c_char, ...);
    /// `panic(9F)`: does not return.
    pub fn panic(fmt: *const c_char, ...) -> !;
}

// ===== usr/src/uts/common/sys/mutex.h =====
unsafe extern "C" {
    pub fn mutex_init(mp: *mut kmutex_t, name: *mut c_char, ty: kmutex_type_t, arg: *mut c_void);
    pub fn mutex_destroy(mp: *mut kmutex_t);
    pub fn mutex_enter(mp: *mut kmutex_t);
    pub fn mutex_tryenter(mp: *mut kmutex_t) -> c_int;
    pub fn mutex_exit(mp: *mut kmutex_t);
    pub fn mutex_owned(mp: *mut kmutex_t) -> c_int;
}

// ===== usr/src/uts/common/sys/rwlock.h =====
unsafe extern "C" {
    pub fn rw_init(rwlp: *mut krwlock_t, name: *mut c_char, ty: krw_type_t, arg: *mut c_void);
    pub fn rw_destroy(rwlp: *mut krwlock_t);
    pub fn rw_enter(rwlp: *mut krwlock_t, enter_type: krw_t);
    pub fn rw_tryenter(rwlp: *mut krwlock_t, enter_type: krw_t) -> c_int;
    pub fn rw_exit(rwlp: *mut krwlock_t);
    pub fn rw_downgrade(rwlp: *mut krwlock_t);
    pub fn rw_tryupgrade(rwlp: *mut krwlock_t) -> c_int;
    pub fn rw_read_held(rwlp: *mut krwlock_t) -> c_int;
    pub fn rw_write_held(rwlp: *mut krwlock_t) -> c_int;
}

// ===== usr/src/uts/common/sys/condvar.h =====
unsafe extern "C" {
    pub fn cv_init(cvp: *mut kcondvar_t, name: *mut c_char, ty: kcv_type_t, arg: *mut c_void);
    pub fn cv_destroy(cvp: *mut kcondvar_t);
    pub fn cv_wait(cvp: *mut kcondvar_t, mp: *mut kmutex_t);
    pub fn cv_wait_sig(cvp: *mut kcondvar_t, mp: *mut kmutex_t) -> c_int;
    pub fn cv_timedwait(cvp: *mut kcondvar_t, mp: *mut kmutex_t, timeout: clock_t) -> clock_t;
    /// `clock_t cv_reltimedwait(kcondvar_t *, kmutex_t *, clock_t,
    /// time_res_t)`: -1 when `delta` ticks passed, else the ticks left
    /// (usr/src/uts/common/os/condvar.c `cv_timedwait_hires`).
    pub fn cv_reltimedwait(cvp: *mut kcondvar_t, mp: *mut kmutex_t, delta: clock_t, res: time_res_t) -> clock_t;
    pub fn cv_signal(cvp: *mut kcondvar_t);
    pub fn cv_broadcast(cvp: *mut kcondvar_t);
}

// ===== usr/src/uts/common/sys/time.h =====
unsafe extern "C" {
    // UNVERIFIED: sys/time.h was not opened through the index; the
    // prototype is the DDI gethrtime(9F) one, `hrtime_t gethrtime(void)`.
    pub fn gethrtime() -> hrtime_t;
    // UNVERIFIED: only found as an `extern clock_t ddi_get_lbolt(void);`
    // forward declaration in gate .c files; the exporting header in the
    // current gate (sys/sunddi.h per ddi_get_lbolt(9F)) was not seen.
    pub fn ddi_get_lbolt() -> clock_t;
}

// ===== usr/src/uts/common/sys/ddi.h =====
unsafe extern "C" {
    pub fn drv_usectohz(microsecs: clock_t) -> clock_t;
    pub fn getmajor(dev: dev_t) -> major_t;
    pub fn getminor(dev: dev_t) -> minor_t;
    pub fn makedevice(majnum: major_t, minnum: minor_t) -> dev_t;
}

// ===== usr/src/uts/common/sys/random.h =====
unsafe extern "C" {
    pub fn random_get_pseudo_bytes(ptr: *mut u8, len: size_t) -> c_int;
    pub fn random_get_bytes(ptr: *mut u8, len: size_t) -> c_int;
}

// ===== usr/src/uts/common/sys/cred.h =====
unsafe extern "C" {
    pub fn crgetzoneid(cr: *const cred_t) -> zoneid_t;
    pub fn crhold(cr: *mut cred_t);
    pub fn crfree(cr: *mut cred_t);
    pub fn crgetuid(cr: *const cred_t) -> uid_t;
    pub fn crgetgid(cr: *const cred_t) -> gid_t;
    /// `int groupmember(gid_t, const cred_t *)`: non-zero when `gid` is the
    /// credential's effective gid or in its supplementary list.
    pub fn groupmember(gid: gid_t, cr: *const cred_t) -> c_int;
}

// ===== usr/src/uts/common/sys/policy.h =====
unsafe extern "C" {
    pub fn secpolicy_dl_config(cr: *const cred_t) -> c_int;
}

// ===== usr/src/uts/common/sys/sunddi.h =====
unsafe extern "C" {
    pub fn ddi_copyin(
        buf: *const c_void,
        driverbuf: *mut c_void,
        cn: size_t,
        flags: c_int,
    ) -> c_int;
    pub fn ddi_copyout(
        driverbuf: *const c_void,
        buf: *mut c_void,
        cn: size_t,
        flags: c_int,
    ) -> c_int;
    pub fn ddi_create_minor_node(
        dip: *mut dev_info_t,
        name: *const c_char,
        spec_type: c_int,
        minor_num: minor_t,
        node_type: *const c_char,
        flag: c_int,
    ) -> c_int;
    /// `name == NULL` removes every minor node of `dip`.
    pub fn ddi_remove_minor_node(dip: *mut dev_info_t, name: *const c_char);
    pub fn ddi_get_instance(dip: *mut dev_info_t) -> c_int;
    pub fn ddi_driver_major(dip: *mut dev_info_t) -> major_t;
    /// `major_t ddi_name_to_major(const char *)`: `DDI_MAJOR_T_NONE` for
    /// an unknown driver name.
    pub fn ddi_name_to_major(name: *const c_char) -> major_t;
    /// `dev_info_t *ddi_hold_devi_by_instance(major_t, int, int)`: attach
    /// (if need be) and hold an instance; `flags` must be 0.  May block:
    /// user context (open(9E)), never attach(9E) (devcfg.c `hold_devi`).
    pub fn ddi_hold_devi_by_instance(major: major_t, instance: c_int, flags: c_int) -> *mut dev_info_t;
    /// `void ddi_release_devi(dev_info_t *)`: release such a hold.
    pub fn ddi_release_devi(dip: *mut dev_info_t);
    pub fn ddi_report_dev(dip: *mut dev_info_t);
    pub fn ddi_quiesce_not_needed(dip: *mut dev_info_t) -> c_int;
    pub fn ddi_quiesce_not_supported(dip: *mut dev_info_t) -> c_int;
    pub fn nochpoll(
        dev: dev_t,
        events: c_short,
        anyyet: c_int,
        reventsp: *mut c_short,
        phpp: *mut *mut pollhead,
    ) -> c_int;
    /// `cred_t *ddi_get_cred(void)` (ddi_get_cred(9F)): the calling
    /// thread's credential.
    pub fn ddi_get_cred() -> *mut cred_t;
    /// `pid_t ddi_get_pid(void)` (ddi_get_pid(9F)): the current process.
    pub fn ddi_get_pid() -> pid_t;
    /// `time_t ddi_get_time(void)` (ddi_get_time(9F)): seconds since the
    /// epoch.
    pub fn ddi_get_time() -> time_t;
    /// `ddi_taskq_t *ddi_taskq_create(dev_info_t *, const char *, int nthreads,
    /// pri_t, uint_t cflags)`: NULL on failure.
    pub fn ddi_taskq_create(
        dip: *mut dev_info_t,
        name: *const c_char,
        nthreads: c_int,
        pri: pri_t,
        cflags: uint_t,
    ) -> *mut ddi_taskq_t;
    /// `void ddi_taskq_destroy(ddi_taskq_t *)`: waits for queued tasks.
    pub fn ddi_taskq_destroy(tq: *mut ddi_taskq_t);
    /// `int ddi_taskq_dispatch(ddi_taskq_t *, void (*)(void *), void *,
    /// uint_t dflags)`: `DDI_SUCCESS` or `DDI_FAILURE`.
    pub fn ddi_taskq_dispatch(
        tq: *mut ddi_taskq_t,
        func: unsafe extern "C" fn(*mut c_void),
        arg: *mut c_void,
        dflags: uint_t,
    ) -> c_int;
    /// `void ddi_taskq_wait(ddi_taskq_t *)`.
    pub fn ddi_taskq_wait(tq: *mut ddi_taskq_t);
    pub fn ddi_prop_op(
        dev: dev_t,
        dip: *mut dev_info_t,
        prop_op: ddi_prop_op_t,
        mod_flags: c_int,
        name: *mut c_char,
        valuep: caddr_t,
        lengthp: *mut c_int,
    ) -> c_int;
}

// ===== nodev(9F), nulldev(9F) =====
unsafe extern "C" {
    // UNVERIFIED: the gate header that prototypes these was not located
    // (they are K&R `int nodev()`); sys/devops.h's DDI_DEFINE_STREAM_OPS
    // names both, so the kernel exports them.
    pub fn nodev() -> c_int;
    pub fn nulldev() -> c_int;
}

// ===== usr/src/uts/common/sys/uio.h =====
unsafe extern "C" {
    pub fn uiomove(addr: *mut c_void, n: size_t, rw: uio_rw_t, uio: *mut uio_t) -> c_int;
}

// ===== usr/src/uts/common/sys/poll.h =====
unsafe extern "C" {
    pub fn pollwakeup(php: *mut pollhead_t, event: c_short);
    pub fn pollhead_clean(php: *mut pollhead_t);
}

// ===== usr/src/uts/common/sys/id_space.h =====
unsafe extern "C" {
    pub fn id_space_create(name: *const c_char, low: id_t, high: id_t) -> *mut id_space_t;
    pub fn id_space_destroy(isp: *mut id_space_t);
    pub fn id_alloc(isp: *mut id_space_t) -> id_t;
    pub fn id_alloc_nosleep(isp: *mut id_space_t) -> id_t;
    pub fn id_free(isp: *mut id_space_t, id: id_t);
}

// ===== usr/src/uts/common/sys/modctl.h =====
unsafe extern "C" {
    // UNVERIFIED: the modctl.h prototypes of these three were not in the
    // portion of the header the index returned; the signatures are the
    // documented _init(9E)/_fini(9E) ones (`int mod_install(struct
    // modlinkage *)` etc.).
    pub fn mod_install(modlp: *mut modlinkage) -> c_int;
    pub fn mod_remove(modlp: *mut modlinkage) -> c_int;
    pub fn mod_info(modlp: *mut modlinkage, modinfop: *mut modinfo) -> c_int;

    /// `extern struct mod_ops mod_driverops;` (sys/modctl.h).  Only its
    /// address is ever used.
    pub static mut mod_driverops: mod_ops;
    /// `extern struct mod_ops mod_strmodops;` (sys/modctl.h): the ops of a
    /// STREAMS module's linkage (`modlstrmod`); only its address is used.
    pub static mut mod_strmodops: mod_ops;
}

// ===== usr/src/uts/common/sys/mac_provider.h =====
unsafe extern "C" {
    pub fn mac_alloc(version: uint_t) -> *mut mac_register_t;
    pub fn mac_free(mregp: *mut mac_register_t);
    pub fn mac_register(mregp: *mut mac_register_t, mhp: *mut mac_handle_t) -> c_int;
    pub fn mac_disable(mh: mac_handle_t) -> c_int;
    pub fn mac_disable_nowait(mh: mac_handle_t) -> c_int;
    pub fn mac_unregister(mh: mac_handle_t) -> c_int;
    pub fn mac_rx(mh: mac_handle_t, mrh: mac_resource_handle_t, mp: *mut mblk_t);
    pub fn mac_link_update(mh: mac_handle_t, link: link_state_t);
    pub fn mac_unicst_update(mh: mac_handle_t, addr: *const u8);
    pub fn mac_tx_update(mh: mac_handle_t);
    pub fn mac_capab_update(mh: mac_handle_t);
    pub fn mac_hcksum_get(
        mp: *const mblk_t,
        start: *mut u32,
        stuff: *mut u32,
        end: *mut u32,
        value: *mut u32,
        flags: *mut u32,
    );
    pub fn mac_hcksum_set(mp: *mut mblk_t, start: u32, stuff: u32, end: u32, value: u32, flags: u32);
    pub fn mac_lso_get(mp: *mut mblk_t, mss: *mut u32, flags: *mut u32);
    pub fn mac_maxsdu_update(mh: mac_handle_t, sdu_max: uint_t) -> c_int;
    pub fn mac_init_ops(ops: *mut dev_ops, name: *const c_char);
    pub fn mac_fini_ops(ops: *mut dev_ops);
    pub fn mac_devt_to_instance(devt: dev_t) -> c_int;
    pub fn mac_private_minor() -> minor_t;
    pub fn mac_prop_info_set_default_uint8(ph: mac_prop_info_handle_t, val: u8);
    pub fn mac_prop_info_set_default_uint32(ph: mac_prop_info_handle_t, val: u32);
    pub fn mac_prop_info_set_default_uint64(ph: mac_prop_info_handle_t, val: u64);
    pub fn mac_prop_info_set_default_str(ph: mac_prop_info_handle_t, val: *const c_char);
    pub fn mac_prop_info_set_range_uint32(ph: mac_prop_info_handle_t, min: u32, max: u32);
    pub fn mac_prop_info_set_perm(ph: mac_prop_info_handle_t, perm: u8);
}

// ===== usr/src/uts/common/sys/mac_client.h (and mac_open_by_linkid in sys/mac.h) =====
// Uncommitted Crossbow client interface, also used out of tree by OPTE
// xde and VirtualBox's VBoxNetFlt; see tuntap-drv/src/dlpi/mac_client.rs.
unsafe extern "C" {
    pub fn mac_open_by_linkid(linkid: datalink_id_t, mhp: *mut mac_handle_t) -> c_int;
    pub fn mac_close(mh: mac_handle_t);
    pub fn mac_client_open(mh: mac_handle_t, mchp: *mut mac_client_handle_t, name: *mut c_char, flags: u16) -> c_int;
    pub fn mac_client_close(mch: mac_client_handle_t, flags: u16);
    pub fn mac_unicast_add(
        mch: mac_client_handle_t,
        addr: *mut u8,
        flags: u16,
        mahp: *mut mac_unicast_handle_t,
        vid: u16,
        diag: *mut mac_diag_t,
    ) -> c_int;
    pub fn mac_unicast_remove(mch: mac_client_handle_t, mah: mac_unicast_handle_t) -> c_int;
    pub fn mac_rx_set(mch: mac_client_handle_t, rx: mac_rx_t, arg: *mut c_void);
    pub fn mac_rx_clear(mch: mac_client_handle_t);
    pub fn mac_tx(
        mch: mac_client_handle_t,
        mp: *mut mblk_t,
        hint: usize,
        flag: u16,
        ret: *mut *mut mblk_t,
    ) -> mac_tx_cookie_t;
}

// ===== usr/src/uts/common/sys/sunldi.h, sys/cred.h =====
/// `ldi_ident_t` (sys/sunldi.h): an opaque pointer.
pub type ldi_ident_t = *mut c_void;
/// `ldi_handle_t` (sys/sunldi.h): an opaque pointer.
pub type ldi_handle_t = *mut c_void;

unsafe extern "C" {
    /// `int ldi_ident_from_dip(dev_info_t *, ldi_ident_t *)`.
    pub fn ldi_ident_from_dip(dip: *mut dev_info_t, lip: *mut ldi_ident_t) -> c_int;
    /// `void ldi_ident_release(ldi_ident_t)`.
    pub fn ldi_ident_release(li: ldi_ident_t);
    /// `int ldi_open_by_name(char *, int, cred_t *, ldi_handle_t *,
    /// ldi_ident_t)`.
    pub fn ldi_open_by_name(
        path: *mut c_char,
        flag: c_int,
        cr: *mut cred_t,
        lhp: *mut ldi_handle_t,
        li: ldi_ident_t,
    ) -> c_int;
    /// `int ldi_ioctl(ldi_handle_t, int, intptr_t, int, cred_t *, int *)`.
    pub fn ldi_ioctl(lh: ldi_handle_t, cmd: c_int, arg: intptr_t, mode: c_int, cr: *mut cred_t, rvalp: *mut c_int)
        -> c_int;
    /// `int ldi_close(ldi_handle_t, int, cred_t *)`.
    pub fn ldi_close(lh: ldi_handle_t, flag: c_int, cr: *mut cred_t) -> c_int;
    /// `extern struct cred *kcred` (sys/cred.h): the kernel's credential.
    pub static kcred: *mut cred_t;
}

// ===== usr/src/uts/common/sys/dls.h =====
unsafe extern "C" {
    pub fn dls_devnet_create(mh: mac_handle_t, linkid: datalink_id_t, zoneid: zoneid_t) -> c_int;
    pub fn dls_devnet_destroy(mh: mac_handle_t, idp: *mut datalink_id_t, wait: boolean_t) -> c_int;
    pub fn dls_mgmt_create(
        devname: *const c_char,
        dev: dev_t,
        class: datalink_class_t,
        media: u32,
        persist: boolean_t,
        linkidp: *mut datalink_id_t,
    ) -> c_int;
    pub fn dls_mgmt_destroy(linkid: datalink_id_t, persist: boolean_t) -> c_int;
    /// dlmgmtd upcall (DLMGMT_CMD_GETLINKID): the link id `link` names in
    /// the zone of the calling thread.
    pub fn dls_mgmt_get_linkid(link: *const c_char, linkid: *mut datalink_id_t) -> c_int;
    /// `int dls_devnet_hold_tmp(datalink_id_t, dls_dl_handle_t *)`: a
    /// temporary hold on an active link's devnet entry.
    pub fn dls_devnet_hold_tmp(linkid: datalink_id_t, ddhp: *mut *mut c_void) -> c_int;
    /// `void dls_devnet_rele_tmp(dls_dl_handle_t)`.
    pub fn dls_devnet_rele_tmp(ddh: *mut c_void);
    /// `int dls_devnet_setzid(dls_dl_handle_t, zoneid_t)`: move a link to
    /// a zone in dls and (DLMGMT_CMD_SETZONEID) in dlmgmtd.
    pub fn dls_devnet_setzid(ddh: *mut c_void, zid: zoneid_t) -> c_int;
    /// dlmgmtd upcall: name (may be NULL), class, media and flags of a
    /// link id (DLMGMT_CMD_GETNAME, `dlmgmt_getname_retval_t`).
    pub fn dls_mgmt_get_linkinfo(
        linkid: datalink_id_t,
        link: *mut c_char,
        class: *mut datalink_class_t,
        media: *mut u32,
        flags: *mut u32,
    ) -> c_int;
}

// ===== usr/src/uts/common/sys/dld.h =====
unsafe extern "C" {
    // UNVERIFIED: signature from dld_str.c as summarised in the project's
    // reference notes (exported entry used by STREAMS opens that hand a
    // minor to dld); the header prototype was not opened.
    pub fn dld_str_open(rq: *mut queue_t, devp: *mut dev_t, private: *mut c_void) -> c_int;
}
