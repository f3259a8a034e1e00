// SPDX-License-Identifier: MPL-2.0

//! DDI/DKI routines: memory, console, locks, time, credentials, the
//! device tree, task queues, ID spaces and module linkage.
//!
//! Theory statement.  Each function names the illumos-gate header of its
//! prototype (the one `kernel/allowlist.txt` gives).  Locks, condition
//! variables, credentials, time, randomness and deferred work forward to
//! the simulator (`SimMutex`/`SimCondvar` keyed by the address of the
//! module's `kmutex_t`/`kcondvar_t`, `SimKernel::cred_*`, `defer`), so the
//! simulator's lock rules (no recursive enter, no lock held across an
//! upcall, no sleep in `mc_tx`) hold for the loaded code.  kmem buffers
//! are tracked with their size: `kmem_free` with another size, a double
//! free, or a buffer alive after the modules are unloaded is an error
//! (kmem_alloc(9F): the size passed to kmem_free must be the allocated
//! one).  Module linkage checks the revision fields and the `mod_ops`
//! identity the kernel would (modctl.c `mod_install` walks `ml_linkage`
//! through each `modl*` structure's ops).
//!
//! Not implemented, because the simulator has no user address space
//! behind a `SimKernel` or poll heads to wake: `ddi_copyin`,
//! `ddi_copyout`, `uiomove`, `pollwakeup` (crate::image lists them).
//! rwlocks are modelled as exclusive locks (readers serialise: a
//! conservative model that can only add waiting, never remove it).
//!
//! Locks: the `State` tables only, never across a blocking call.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::ffi::{c_char, c_int, c_short, c_void};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use illumos_sys_hdrs::{
    CB_REV, DDI_FAILURE, DDI_SUCCESS, DEVO_REV, EBUSY, EINVAL, ENXIO, KM_NOSLEEP, MODREV_1,
    cred_t, ddi_taskq_t, dev_info_t, dev_ops, dev_t, kcondvar_t, kmutex_t, krwlock_t, modinfo,
    modldrv, modlinkage,
};
use tuntap_drv::ddi::{Cred, Kernel, RawCondvar, RawMutex};
use tuntap_sim::sync::{SimCondvar, SimMutex};

use super::{Installed, MinorNode, State, TaskQueue, cstr, format_c, lock, st};
use crate::kstack::{enter, host};

macro_rules! f {
    ($name:ident) => {
        (stringify!($name), $name as *const () as usize)
    };
}

pub fn table() -> Vec<(&'static str, usize)> {
    vec![
        f!(memcpy), f!(memmove), f!(memset), f!(memcmp), f!(bcmp), f!(strlen),
        f!(kmem_alloc), f!(kmem_zalloc), f!(kmem_free),
        f!(cmn_err), f!(panic),
        f!(mutex_init), f!(mutex_enter), f!(mutex_exit), f!(mutex_destroy), f!(mutex_owned),
        f!(rw_init), f!(rw_enter), f!(rw_exit), f!(rw_destroy),
        f!(cv_init), f!(cv_wait), f!(cv_wait_sig), f!(cv_signal), f!(cv_broadcast), f!(cv_destroy),
        f!(gethrtime), f!(ddi_get_lbolt), f!(ddi_get_time), f!(random_get_pseudo_bytes),
        f!(crgetzoneid), f!(crgetuid), f!(crgetgid), f!(groupmember), f!(ddi_get_cred),
        f!(ddi_get_pid), f!(secpolicy_dl_config),
        f!(ddi_create_minor_node), f!(ddi_remove_minor_node), f!(ddi_get_instance),
        f!(ddi_report_dev), f!(ddi_quiesce_not_needed), f!(ddi_quiesce_not_supported),
        f!(ddi_prop_op), f!(nochpoll), f!(getmajor), f!(getminor), f!(makedevice), f!(nodev),
        f!(nulldev),
        f!(ddi_taskq_create), f!(ddi_taskq_destroy), f!(ddi_taskq_dispatch), f!(ddi_taskq_wait),
        f!(id_space_create), f!(id_space_destroy), f!(id_alloc), f!(id_alloc_nosleep), f!(id_free),
        f!(mod_install), f!(mod_remove), f!(mod_info),
    ]
}

// ----- sys/systm.h: memory and string routines (leaves: run in place) -----

/// `void *memcpy(void *, const void *, size_t)` (sys/systm.h).
unsafe extern "C" fn memcpy(d: *mut c_void, s: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: the module's contract with memcpy.
    unsafe { libc::memcpy(d, s, n) }
}
/// `void *memmove(void *, const void *, size_t)` (sys/systm.h).
unsafe extern "C" fn memmove(d: *mut c_void, s: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: as above.
    unsafe { libc::memmove(d, s, n) }
}
/// `void *memset(void *, int, size_t)` (sys/systm.h).
unsafe extern "C" fn memset(d: *mut c_void, c: c_int, n: usize) -> *mut c_void {
    // SAFETY: as above.
    unsafe { libc::memset(d, c, n) }
}
/// `int memcmp(const void *, const void *, size_t)` (sys/systm.h).
unsafe extern "C" fn memcmp(a: *const c_void, b: *const c_void, n: usize) -> c_int {
    // SAFETY: as above.
    unsafe { libc::memcmp(a, b, n) }
}
/// `int bcmp(const void *, const void *, size_t)` (sys/systm.h).
unsafe extern "C" fn bcmp(a: *const c_void, b: *const c_void, n: usize) -> c_int {
    // SAFETY: as above.
    unsafe { libc::memcmp(a, b, n) }
}
/// `size_t strlen(const char *)` (sys/systm.h).
unsafe extern "C" fn strlen(s: *const c_char) -> usize {
    // SAFETY: as above.
    unsafe { libc::strlen(s) }
}

// ----- sys/kmem.h -----

fn kmem(size: usize, flags: c_int, zero: bool) -> *mut c_void {
    if size == 0 {
        return std::ptr::null_mut(); // kmem_alloc(9F): size 0 returns NULL
    }
    if flags & !KM_NOSLEEP != 0 {
        st().error(format!("kmem_alloc({size}, {flags:#x}): unknown flag bits"));
    }
    // SAFETY: plain allocation; malloc's 16-byte alignment covers kmem's 8.
    let p = unsafe { if zero { libc::calloc(1, size) } else { libc::malloc(size) } };
    if !zero && !p.is_null() {
        // SAFETY: p has size bytes; poison uninitialised memory.
        unsafe { std::ptr::write_bytes(p.cast::<u8>(), 0xbb, size) };
    }
    lock(&st().kmem).insert(p as usize, size);
    p
}

/// kmem_zalloc/kmem_alloc for the loader's own kernel objects.
pub(crate) fn kmem_raw(size: usize, zero: bool) -> *mut c_void {
    kmem(size, 0, zero)
}

/// kmem_free for the loader's own kernel objects.
pub(crate) fn kmem_free_raw(buf: *mut c_void, size: usize) {
    // SAFETY: forwarded contract.
    unsafe { kmem_free(buf, size) }
}

/// `void *kmem_alloc(size_t size, int kmflag)` (sys/kmem.h).
unsafe extern "C" fn kmem_alloc(size: usize, flags: c_int) -> *mut c_void {
    host(|| kmem(size, flags, false))
}
/// `void *kmem_zalloc(size_t size, int kmflag)` (sys/kmem.h).
unsafe extern "C" fn kmem_zalloc(size: usize, flags: c_int) -> *mut c_void {
    host(|| kmem(size, flags, true))
}
/// `void kmem_free(void *buf, size_t size)` (sys/kmem.h).
unsafe extern "C" fn kmem_free(buf: *mut c_void, size: usize) {
    host(|| {
        let s = st();
        let known = lock(&s.kmem).remove(&(buf as usize));
        match known {
            None => s.error(format!("kmem_free({buf:p}, {size}): not a live kmem_alloc buffer (double free?)")),
            Some(real) if real != size => {
                s.error(format!("kmem_free({buf:p}, {size}) of a {real}-byte buffer: wrong size"));
                // SAFETY: from malloc/calloc above.
                unsafe { libc::free(buf) }
            }
            // SAFETY: from malloc/calloc above.
            Some(_) => unsafe { libc::free(buf) },
        }
    })
}

// ----- sys/cmn_err.h -----

const CE_PANIC: c_int = 3;

/// `void cmn_err(int level, char *fmt, ...)` (sys/cmn_err.h); see
/// `format_c` for how the variadic arguments are read.
unsafe extern "C" fn cmn_err(level: c_int, fmt: *const c_char, a: usize, b: usize, c: usize, d: usize) {
    // SAFETY: fmt and its %s arguments come from the module's cmn_err call.
    let msg = host(|| unsafe { format_c(fmt, &[a, b, c, d]) });
    if level == CE_PANIC {
        die(&msg);
    }
    host(|| {
        if std::env::var_os("TUNTAP_SIM_VERBOSE").is_some() {
            eprintln!("kloader: cmn_err({level}): {msg}");
        }
        lock(&st().console).push(msg)
    });
}

fn die(msg: &str) -> ! {
    let entry = crate::kstack::current_entry().unwrap_or("?");
    eprintln!("kloader: the module called panic() in entry point {entry}: {msg}");
    std::process::abort()
}

/// `void panic(const char *fmt, ...)` (sys/cmn_err.h): the system stops;
/// here the process aborts with the message.
unsafe extern "C" fn panic(fmt: *const c_char, a: usize, b: usize, c: usize, d: usize, e: usize) -> ! {
    // SAFETY: as for cmn_err.
    let msg = host(|| unsafe { format_c(fmt, &[a, b, c, d, e]) });
    die(&msg)
}

// ----- sys/mutex.h, sys/rwlock.h, sys/condvar.h -----

fn mutex_of(s: &State, m: usize) -> Arc<SimMutex> {
    lock(&s.mutexes).entry(m).or_insert_with(|| Arc::new(SimMutex::new())).clone()
}

fn cv_of(s: &State, c: usize) -> Arc<SimCondvar> {
    lock(&s.condvars).entry(c).or_insert_with(|| Arc::new(SimCondvar::new())).clone()
}

/// `void mutex_init(kmutex_t *, char *, kmutex_type_t, void *)` (sys/mutex.h).
unsafe extern "C" fn mutex_init(m: *mut kmutex_t, _n: *mut c_char, _t: c_int, _a: *mut c_void) {
    host(|| {
        lock(&st().mutexes).insert(m as usize, Arc::new(SimMutex::new()));
    })
}
/// `void mutex_enter(kmutex_t *)` (sys/mutex.h).
unsafe extern "C" fn mutex_enter(m: *mut kmutex_t) {
    host(|| {
        let mx = mutex_of(&st(), m as usize);
        mx.enter()
    })
}
/// `void mutex_exit(kmutex_t *)` (sys/mutex.h).
unsafe extern "C" fn mutex_exit(m: *mut kmutex_t) {
    host(|| {
        let s = st();
        let mx = lock(&s.mutexes).get(&(m as usize)).cloned();
        match mx {
            Some(mx) => mx.exit(),
            None => s.error(format!("mutex_exit({m:p}) of a mutex never entered")),
        }
    })
}
/// `void mutex_destroy(kmutex_t *)` (sys/mutex.h).
unsafe extern "C" fn mutex_destroy(m: *mut kmutex_t) {
    host(|| {
        let s = st();
        let mx = lock(&s.mutexes).remove(&(m as usize));
        if let Some(mx) = mx
            && mx.held()
        {
            s.error(format!("mutex_destroy({m:p}) of a held mutex"));
        }
    })
}
/// `int mutex_owned(const kmutex_t *)` (sys/mutex.h).
unsafe extern "C" fn mutex_owned(m: *mut kmutex_t) -> c_int {
    host(|| {
        let mx = lock(&st().mutexes).get(&(m as usize)).cloned();
        c_int::from(mx.is_some_and(|mx| mx.held()))
    })
}
/// `void rw_init(krwlock_t *, char *, krw_type_t, void *)` (sys/rwlock.h).
unsafe extern "C" fn rw_init(l: *mut krwlock_t, _n: *mut c_char, _t: c_int, _a: *mut c_void) {
    host(|| {
        lock(&st().mutexes).insert(l as usize, Arc::new(SimMutex::new()));
    })
}
/// `void rw_enter(krwlock_t *, krw_t)` (sys/rwlock.h): exclusive model.
unsafe extern "C" fn rw_enter(l: *mut krwlock_t, _how: c_int) {
    // SAFETY: same lock word model as a kmutex.
    unsafe { mutex_enter(l.cast()) }
}
/// `void rw_exit(krwlock_t *)` (sys/rwlock.h).
unsafe extern "C" fn rw_exit(l: *mut krwlock_t) {
    // SAFETY: as above.
    unsafe { mutex_exit(l.cast()) }
}
/// `void rw_destroy(krwlock_t *)` (sys/rwlock.h).
unsafe extern "C" fn rw_destroy(l: *mut krwlock_t) {
    // SAFETY: as above.
    unsafe { mutex_destroy(l.cast()) }
}
/// `void cv_init(kcondvar_t *, char *, kcv_type_t, void *)` (sys/condvar.h).
unsafe extern "C" fn cv_init(c: *mut kcondvar_t, _n: *mut c_char, _t: c_int, _a: *mut c_void) {
    host(|| {
        lock(&st().condvars).insert(c as usize, Arc::new(SimCondvar::new()));
    })
}
/// `void cv_wait(kcondvar_t *, kmutex_t *)` (sys/condvar.h).
unsafe extern "C" fn cv_wait(c: *mut kcondvar_t, m: *mut kmutex_t) {
    host(|| {
        let s = st();
        let (cv, mx) = (cv_of(&s, c as usize), mutex_of(&s, m as usize));
        drop(s);
        cv.wait(&mx)
    })
}
/// `int cv_wait_sig(kcondvar_t *, kmutex_t *)` (sys/condvar.h): no
/// signals are ever pending here, so it returns > 0 like a normal wakeup.
unsafe extern "C" fn cv_wait_sig(c: *mut kcondvar_t, m: *mut kmutex_t) -> c_int {
    // SAFETY: as cv_wait.
    unsafe { cv_wait(c, m) };
    1
}
/// `void cv_signal(kcondvar_t *)` (sys/condvar.h): wakes all waiters,
/// which cv_wait(9F) callers must tolerate (they recheck their condition).
unsafe extern "C" fn cv_signal(c: *mut kcondvar_t) {
    // SAFETY: as cv_broadcast.
    unsafe { cv_broadcast(c) }
}
/// `void cv_broadcast(kcondvar_t *)` (sys/condvar.h).
unsafe extern "C" fn cv_broadcast(c: *mut kcondvar_t) {
    host(|| cv_of(&st(), c as usize).broadcast())
}
/// `void cv_destroy(kcondvar_t *)` (sys/condvar.h).
unsafe extern "C" fn cv_destroy(c: *mut kcondvar_t) {
    host(|| {
        lock(&st().condvars).remove(&(c as usize));
    })
}

// ----- time, randomness, credentials -----

fn boot() -> Instant {
    static BOOT: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *BOOT.get_or_init(Instant::now)
}

/// `hrtime_t gethrtime(void)` (sys/time.h): monotonic nanoseconds.
unsafe extern "C" fn gethrtime() -> i64 {
    host(|| boot().elapsed().as_nanos() as i64)
}
/// `clock_t ddi_get_lbolt(void)` (sys/sunddi.h): ticks at hz = 100.
unsafe extern "C" fn ddi_get_lbolt() -> libc::c_long {
    host(|| (boot().elapsed().as_millis() / 10) as libc::c_long)
}
/// `time_t ddi_get_time(void)` (sys/sunddi.h): the simulator's wall clock.
unsafe extern "C" fn ddi_get_time() -> libc::c_long {
    host(|| (st().sim.wall_clock_ns() / 1_000_000_000) as libc::c_long)
}
/// `int random_get_pseudo_bytes(uint8_t *, size_t)` (sys/random.h).
unsafe extern "C" fn random_get_pseudo_bytes(p: *mut u8, len: usize) -> c_int {
    // SAFETY: the module passes a writable buffer of len bytes.
    host(|| st().sim.random_bytes(unsafe { std::slice::from_raw_parts_mut(p, len) }));
    0
}
/// `zoneid_t crgetzoneid(const cred_t *)` (sys/cred.h).
unsafe extern "C" fn crgetzoneid(cr: *const cred_t) -> c_int {
    host(|| st().sim.cred_zone(Cred(cr)))
}
/// `uid_t crgetuid(const cred_t *)` (sys/cred.h).
unsafe extern "C" fn crgetuid(cr: *const cred_t) -> u32 {
    host(|| st().sim.cred_uid(Cred(cr)))
}
/// `gid_t crgetgid(const cred_t *)` (sys/cred.h).
unsafe extern "C" fn crgetgid(cr: *const cred_t) -> u32 {
    host(|| st().sim.cred_gid(Cred(cr)))
}
/// `int groupmember(gid_t, const cred_t *)` (sys/cred.h).
unsafe extern "C" fn groupmember(gid: u32, cr: *const cred_t) -> c_int {
    host(|| c_int::from(st().sim.cred_in_group(Cred(cr), gid)))
}
/// `int secpolicy_dl_config(const cred_t *)` (sys/policy.h).
unsafe extern "C" fn secpolicy_dl_config(cr: *const cred_t) -> c_int {
    host(|| st().sim.secpolicy_dl_config(Cred(cr)).err().unwrap_or(0))
}

thread_local! {
    static CURRENT_CRED: Cell<*const cred_t> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` with `cr` as the calling thread's credential (`CRED()`).
pub fn with_cred<R>(cr: *const cred_t, f: impl FnOnce() -> R) -> R {
    let old = CURRENT_CRED.with(|c| c.replace(cr));
    let r = f();
    CURRENT_CRED.with(|c| c.set(old));
    r
}

/// `cred_t *ddi_get_cred(void)` (sys/sunddi.h): the credential of the
/// thread's caller, which the entry adapters set from the open/close
/// argument or the ioctl's `ioc_cr`.
unsafe extern "C" fn ddi_get_cred() -> *mut cred_t {
    let cr = CURRENT_CRED.with(Cell::get);
    if cr.is_null() {
        host(|| st().error("ddi_get_cred() outside any user context (no credential)".into()));
    }
    cr.cast_mut()
}
/// The calling thread's credential, for dls_mgmt_create.
///
/// # Safety
/// None beyond reading a thread-local; unsafe to match ddi_get_cred.
pub(crate) unsafe fn current_cred() -> *const cred_t {
    // SAFETY: no arguments.
    unsafe { ddi_get_cred() }.cast_const()
}

/// `pid_t ddi_get_pid(void)` (sys/sunddi.h).
unsafe extern "C" fn ddi_get_pid() -> c_int {
    host(|| st().sim.current_pid())
}

// ----- the device tree (sys/sunddi.h, sys/ddi.h, sys/systm.h) -----

/// Looks up the instance name of a dip the loader made.
fn dip_name(s: &State, dip: *mut dev_info_t) -> Option<String> {
    lock(&s.dips).iter().find(|(_, d)| **d == dip as usize).map(|(n, _)| n.clone())
}

/// `int ddi_create_minor_node(dev_info_t *, const char *name, int
/// spec_type, minor_t, const char *node_type, int flag)` (sys/sunddi.h).
unsafe extern "C" fn ddi_create_minor_node(
    dip: *mut dev_info_t,
    name: *const c_char,
    spec_type: c_int,
    minor: u32,
    node_type: *const c_char,
    _flag: c_int,
) -> c_int {
    host(|| {
        let s = st();
        if dip_name(&s, dip).is_none() {
            s.error(format!("ddi_create_minor_node on unknown dip {dip:p}"));
            return DDI_FAILURE;
        }
        // SAFETY: NUL-terminated strings from the module.
        let (name, node_type) = unsafe { (cstr(name), cstr(node_type)) };
        let mut nodes = lock(&s.minor_nodes);
        if nodes.iter().any(|n| n.dip == dip as usize && (n.name == name || n.minor == minor)) {
            return DDI_FAILURE;
        }
        nodes.push(MinorNode { dip: dip as usize, name, spec_type, minor, node_type });
        DDI_SUCCESS
    })
}
/// `void ddi_remove_minor_node(dev_info_t *, const char *name)`
/// (sys/sunddi.h): NULL removes every node of the instance.
unsafe extern "C" fn ddi_remove_minor_node(dip: *mut dev_info_t, name: *const c_char) {
    host(|| {
        // SAFETY: NULL or a NUL-terminated string.
        let name = (!name.is_null()).then(|| unsafe { cstr(name) });
        lock(&st().minor_nodes).retain(|n| n.dip != dip as usize || name.as_ref().is_some_and(|x| *x != n.name));
    })
}
/// `int ddi_get_instance(dev_info_t *)` (sys/sunddi.h).  The loader makes
/// one instance, 0, per driver (the `.conf` files declare one).
unsafe extern "C" fn ddi_get_instance(dip: *mut dev_info_t) -> c_int {
    host(|| {
        let s = st();
        if dip_name(&s, dip).is_some() {
            0
        } else {
            s.error(format!("ddi_get_instance on unknown dip {dip:p}"));
            -1
        }
    })
}
/// `void ddi_report_dev(dev_info_t *)` (sys/sunddi.h): a console line.
unsafe extern "C" fn ddi_report_dev(dip: *mut dev_info_t) {
    host(|| {
        let s = st();
        let name = dip_name(&s, dip).unwrap_or_else(|| "?".into());
        lock(&s.console).push(format!("{name}0 is /pseudo/{name}@0"));
    })
}
/// `int ddi_quiesce_not_needed(dev_info_t *)` (sys/sunddi.h).
unsafe extern "C" fn ddi_quiesce_not_needed(_dip: *mut dev_info_t) -> c_int {
    DDI_SUCCESS
}
/// `int ddi_quiesce_not_supported(dev_info_t *)` (sys/sunddi.h).
unsafe extern "C" fn ddi_quiesce_not_supported(_dip: *mut dev_info_t) -> c_int {
    DDI_FAILURE
}
/// `int ddi_prop_op(dev_t, dev_info_t *, ddi_prop_op_t, int, char *,
/// caddr_t, int *)` (sys/sunddi.h): the loaded instances have no
/// properties, so every lookup is DDI_PROP_NOT_FOUND.
unsafe extern "C" fn ddi_prop_op(
    _dev: dev_t,
    _dip: *mut dev_info_t,
    _op: c_int,
    _flags: c_int,
    _name: *mut c_char,
    _valuep: *mut c_char,
    _lengthp: *mut c_int,
) -> c_int {
    1 // DDI_PROP_NOT_FOUND (sys/sunddi.h)
}
/// `int nochpoll(dev_t, short, int, short *, struct pollhead **)` (sys/sunddi.h).
unsafe extern "C" fn nochpoll(_d: dev_t, _e: c_short, _a: c_int, _r: *mut c_short, _p: *mut *mut c_void) -> c_int {
    ENXIO
}
/// Bits of minor number in a 64-bit dev_t (`NBITSMINOR64`, sys/mkdev.h).
const NBITSMINOR64: u32 = 32;
/// `major_t getmajor(dev_t)` (sys/ddi.h).
unsafe extern "C" fn getmajor(dev: dev_t) -> u32 {
    (dev >> NBITSMINOR64) as u32
}
/// `minor_t getminor(dev_t)` (sys/ddi.h).
unsafe extern "C" fn getminor(dev: dev_t) -> u32 {
    (dev & 0xffff_ffff) as u32
}
/// `dev_t makedevice(major_t, minor_t)` (sys/ddi.h).
unsafe extern "C" fn makedevice(major: u32, minor: u32) -> dev_t {
    (dev_t::from(major) << NBITSMINOR64) | dev_t::from(minor)
}
/// `int nodev()` (sys/systm.h).
unsafe extern "C" fn nodev() -> c_int {
    ENXIO
}
/// `int nulldev()` (sys/systm.h).
unsafe extern "C" fn nulldev() -> c_int {
    0
}

/// Public for the loader's own dev_t handling.
pub fn make_dev(major: u32, minor: u32) -> dev_t {
    // SAFETY: a pure function.
    unsafe { makedevice(major, minor) }
}

/// Public for the loader's own dev_t handling.
pub fn dev_minor(dev: dev_t) -> u32 {
    // SAFETY: a pure function.
    unsafe { getminor(dev) }
}

// ----- task queues (sys/sunddi.h) -----

/// How long ddi_taskq_wait/destroy wait before reporting a stuck task.
const TASKQ_WAIT: Duration = Duration::from_secs(10);

/// `ddi_taskq_t *ddi_taskq_create(dev_info_t *, const char *name, int
/// nthreads, pri_t, uint_t cflags)` (sys/sunddi.h).  Tasks run on the
/// simulator's taskq thread, one at a time, in order.
unsafe extern "C" fn ddi_taskq_create(_dip: *mut dev_info_t, name: *const c_char, _n: c_int, _pri: c_short, _f: u32) -> *mut ddi_taskq_t {
    host(|| {
        // SAFETY: NUL-terminated name.
        let tq = Arc::new(TaskQueue { name: unsafe { cstr(name) }, pending: Mutex::new(0), idle: std::sync::Condvar::new() });
        let key = Arc::as_ptr(&tq) as usize;
        lock(&st().taskqs).insert(key, tq);
        key as *mut ddi_taskq_t
    })
}

fn taskq(s: &State, tq: *mut ddi_taskq_t) -> Option<Arc<TaskQueue>> {
    let t = lock(&s.taskqs).get(&(tq as usize)).cloned();
    if t.is_none() {
        s.error(format!("unknown ddi_taskq_t {tq:p}"));
    }
    t
}

fn wait_idle(s: &State, tq: &TaskQueue, what: &str) {
    let deadline = Instant::now() + TASKQ_WAIT;
    let mut n = lock(&tq.pending);
    while *n > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            s.error(format!("{what} of taskq {}: {} task(s) still pending after {TASKQ_WAIT:?}", tq.name, *n));
            return;
        }
        n = tq.idle.wait_timeout(n, left).unwrap_or_else(|e| e.into_inner()).0;
    }
}

/// `void ddi_taskq_destroy(ddi_taskq_t *)` (sys/sunddi.h): waits for
/// queued tasks.
unsafe extern "C" fn ddi_taskq_destroy(tq: *mut ddi_taskq_t) {
    host(|| {
        let s = st();
        if let Some(t) = taskq(&s, tq) {
            wait_idle(&s, &t, "ddi_taskq_destroy");
            lock(&s.taskqs).remove(&(tq as usize));
        }
    })
}
/// `void ddi_taskq_wait(ddi_taskq_t *)` (sys/sunddi.h).
unsafe extern "C" fn ddi_taskq_wait(tq: *mut ddi_taskq_t) {
    host(|| {
        let s = st();
        if let Some(t) = taskq(&s, tq) {
            wait_idle(&s, &t, "ddi_taskq_wait");
        }
    })
}

struct Task {
    func: unsafe extern "C" fn(*mut c_void),
    arg: *mut c_void,
    tq: Arc<TaskQueue>,
}

unsafe extern "C" fn run_task(p: *mut c_void) {
    // SAFETY: p is the Box<Task> ddi_taskq_dispatch leaked for this run.
    let task = unsafe { Box::from_raw(p.cast::<Task>()) };
    // SAFETY: the module's task function with its own argument.
    enter("ddi_taskq task", || unsafe { (task.func)(task.arg) });
    let mut n = lock(&task.tq.pending);
    *n = n.saturating_sub(1);
    task.tq.idle.notify_all();
}

/// `int ddi_taskq_dispatch(ddi_taskq_t *, void (*)(void *), void *, uint_t
/// dflags)` (sys/sunddi.h): DDI_SUCCESS, or DDI_FAILURE when the simulator
/// refuses (fail_next_defer).
unsafe extern "C" fn ddi_taskq_dispatch(tq: *mut ddi_taskq_t, func: unsafe extern "C" fn(*mut c_void), arg: *mut c_void, _flags: u32) -> c_int {
    host(|| {
        let s = st();
        let Some(t) = taskq(&s, tq) else { return DDI_FAILURE };
        *lock(&t.pending) += 1;
        let task = Box::into_raw(Box::new(Task { func, arg, tq: t.clone() }));
        // SAFETY: run_task frees the box when the simulator runs it.
        match unsafe { s.sim.defer(run_task, task.cast()) } {
            Ok(()) => DDI_SUCCESS,
            Err(_) => {
                // SAFETY: not queued, still ours.
                drop(unsafe { Box::from_raw(task) });
                let mut n = lock(&t.pending);
                *n = n.saturating_sub(1);
                DDI_FAILURE
            }
        }
    })
}

// ----- ID spaces (sys/id_space.h) -----

struct IdSpace {
    low: i32,
    high: i32,
    used: Mutex<BTreeSet<i32>>,
}

/// `id_space_t *id_space_create(const char *, id_t low, id_t high)`
/// (sys/id_space.h): IDs in [low, high).
unsafe extern "C" fn id_space_create(_name: *const c_char, low: c_int, high: c_int) -> *mut c_void {
    Box::into_raw(Box::new(IdSpace { low, high, used: Mutex::new(BTreeSet::new()) })).cast()
}
/// `void id_space_destroy(id_space_t *)` (sys/id_space.h).
unsafe extern "C" fn id_space_destroy(isp: *mut c_void) {
    // SAFETY: made by id_space_create.
    drop(unsafe { Box::from_raw(isp.cast::<IdSpace>()) });
}
fn id_take(isp: *mut c_void) -> i32 {
    // SAFETY: made by id_space_create and not destroyed (module's contract).
    let sp = unsafe { &*isp.cast::<IdSpace>() };
    let mut used = lock(&sp.used);
    let id = (sp.low..sp.high).find(|i| !used.contains(i));
    id.inspect(|i| {
        used.insert(*i);
    })
    .unwrap_or(-1)
}
/// `id_t id_alloc(id_space_t *)` (sys/id_space.h).  A full space would
/// sleep forever in illumos; here it is reported.
unsafe extern "C" fn id_alloc(isp: *mut c_void) -> c_int {
    host(|| {
        let id = id_take(isp);
        if id < 0 {
            st().error("id_alloc on a full ID space would sleep forever".into());
        }
        id
    })
}
/// `id_t id_alloc_nosleep(id_space_t *)` (sys/id_space.h): -1 when full.
unsafe extern "C" fn id_alloc_nosleep(isp: *mut c_void) -> c_int {
    host(|| id_take(isp))
}
/// `void id_free(id_space_t *, id_t)` (sys/id_space.h).
unsafe extern "C" fn id_free(isp: *mut c_void, id: c_int) {
    host(|| {
        // SAFETY: as id_take.
        let sp = unsafe { &*isp.cast::<IdSpace>() };
        if !lock(&sp.used).remove(&id) {
            st().error(format!("id_free of id {id}, which is not allocated"));
        }
    })
}

// ----- module linkage (sys/modctl.h) -----

thread_local! {
    /// The module whose _init/_fini runs on this thread.
    pub(crate) static LOADING: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Checks a MODREV_1 linkage with one modldrv; returns its dev_ops.
fn check_linkage(s: &State, ml: *mut modlinkage) -> Result<usize, String> {
    if ml.is_null() {
        return Err("NULL modlinkage".into());
    }
    // SAFETY: the module passes its static modlinkage.
    let ml = unsafe { &*ml };
    if ml.ml_rev != MODREV_1 {
        return Err(format!("ml_rev is {}, not MODREV_1", ml.ml_rev));
    }
    let drv = ml.ml_linkage[0].cast::<modldrv>();
    if drv.is_null() {
        return Err("ml_linkage[0] is NULL".into());
    }
    // SAFETY: a modldrv by the check on drv_modops below.
    let drv = unsafe { &*drv };
    let ops = crate::image::data_address("mod_driverops");
    if drv.drv_modops as usize != ops {
        return Err(format!(
            "ml_linkage[0]->drv_modops is {:p}, not &mod_driverops ({ops:#x}): a wrong field offset in modldrv/modlinkage?",
            drv.drv_modops
        ));
    }
    let dops = drv.drv_dev_ops;
    if dops.is_null() {
        return Err("drv_dev_ops is NULL".into());
    }
    // SAFETY: a dev_ops structure of the module.
    let d: &dev_ops = unsafe { &*dops };
    if d.devo_rev != DEVO_REV {
        return Err(format!("devo_rev is {}, not DEVO_REV ({DEVO_REV}): a wrong field offset in dev_ops?", d.devo_rev));
    }
    if !d.devo_cb_ops.is_null() {
        // SAFETY: the module's cb_ops.
        let cb = unsafe { &*d.devo_cb_ops };
        if cb.cb_rev != CB_REV {
            return Err(format!("cb_rev is {}, not CB_REV ({CB_REV}): a wrong field offset in cb_ops?", cb.cb_rev));
        }
    }
    let _ = s;
    Ok(dops as usize)
}

/// `int mod_install(struct modlinkage *)` (sys/modctl.h).
unsafe extern "C" fn mod_install(ml: *mut modlinkage) -> c_int {
    host(|| {
        let s = st();
        match check_linkage(&s, ml) {
            Ok(dev_ops) => {
                lock(&s.installed).push(Installed { modlinkage: ml as usize, dev_ops });
                0
            }
            Err(e) => {
                let m = LOADING.with(|l| l.borrow().clone());
                s.error(format!("mod_install from {m}: {e}"));
                EINVAL
            }
        }
    })
}
/// `int mod_remove(struct modlinkage *)` (sys/modctl.h): EBUSY while the
/// driver has an attached instance (the framework detaches first).
unsafe extern "C" fn mod_remove(ml: *mut modlinkage) -> c_int {
    host(|| {
        let s = st();
        let m = LOADING.with(|l| l.borrow().clone());
        if lock(&s.dips).contains_key(&m) {
            return EBUSY;
        }
        let mut inst = lock(&s.installed);
        match inst.iter().position(|i| i.modlinkage == ml as usize) {
            Some(p) => {
                inst.remove(p);
                0
            }
            None => {
                drop(inst);
                s.error(format!("mod_remove from {m} of a linkage never installed"));
                EINVAL
            }
        }
    })
}
/// `int mod_info(struct modlinkage *, struct modinfo *)` (sys/modctl.h):
/// validates the linkage; the modinfo contents (krtld-private) are not
/// filled.  Non-zero on success, as _info(9E) passes it on.
unsafe extern "C" fn mod_info(ml: *mut modlinkage, _mi: *mut modinfo) -> c_int {
    host(|| c_int::from(check_linkage(&st(), ml).is_ok()))
}
