// SPDX-License-Identifier: MPL-2.0

//! DDI routines: time, randomness, credentials, the device tree, task
//! queues and ID spaces (illumos-gate `usr/src/uts/common/sys/sunddi.h`,
//! `ddi.h`, `time.h`, `random.h`, `cred.h`, `policy.h`, `id_space.h`).
//!
//! Theory statement.  Credentials, time, randomness and deferred work
//! forward to the simulator (`SimKernel::cred_*`, `wall_clock_ns`,
//! `random_bytes`, `defer`).  The device tree is the loader's: one
//! `dev_info_t` per driver (instance 0, as the `.conf` files declare),
//! minor nodes recorded for the tests.  A task queue runs its tasks on the
//! simulator's taskq thread, each on a kernel stack under the entry name
//! `ddi_taskq task`; `ddi_taskq_wait`/`destroy` wait for them (reporting a
//! task stuck for 10 s).  `ddi_get_cred` is the credential the entry
//! adapter set for the calling thread in open/close; elsewhere it is a
//! finding (ddi_get_cred(9F): user context only).
//!
//! Not implemented, because the simulator has no user address space
//! behind a `SimKernel` or poll heads to wake: `ddi_copyin`,
//! `ddi_copyout`, `uiomove`, `pollwakeup` (crate::image lists them).
//!
//! Locks: the `State` tables only, never across a blocking call.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::ffi::{c_char, c_int, c_short, c_void};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use illumos_sys_hdrs::{
    DDI_FAILURE, DDI_SUCCESS, ENXIO, cred_t, ddi_taskq_t, dev_info_t, dev_t,
};
use tuntap_drv::ddi::{Cred, Kernel};

use super::{MinorNode, State, TaskQueue, cstr, lock, st};
use crate::kstack::{enter, host};

pub fn table() -> Vec<(&'static str, usize)> {
    vec![
        f!(gethrtime),
        f!(ddi_get_lbolt),
        f!(drv_usectohz),
        f!(ddi_get_time),
        f!(random_get_pseudo_bytes),
        f!(gethrestime),
        f!(crhold),
        f!(crfree),
        f!(crgetzoneid),
        f!(crgetuid),
        f!(crgetgid),
        f!(groupmember),
        f!(secpolicy_dl_config),
        f!(ddi_get_cred),
        f!(ddi_get_pid),
        f!(ddi_create_minor_node),
        f!(ddi_remove_minor_node),
        f!(ddi_get_instance),
        f!(ddi_name_to_major),
        f!(ddi_hold_devi_by_instance),
        f!(ddi_release_devi),
        f!(ddi_report_dev),
        f!(ddi_quiesce_not_needed),
        f!(ddi_quiesce_not_supported),
        f!(ddi_prop_op),
        f!(nochpoll),
        f!(getmajor),
        f!(getminor),
        f!(makedevice),
        f!(nodev),
        f!(nulldev),
        f!(ddi_taskq_create),
        f!(ddi_taskq_destroy),
        f!(ddi_taskq_wait),
        f!(ddi_taskq_dispatch),
        f!(id_space_create),
        f!(id_space_destroy),
        f!(id_alloc),
        f!(id_alloc_nosleep),
        f!(id_free),
    ]
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
/// `clock_t drv_usectohz(clock_t)` (sys/ddi.h): microseconds to ticks
/// at hz = 100, rounded up.
unsafe extern "C" fn drv_usectohz(us: libc::c_long) -> libc::c_long {
    (us.max(0) + 9_999) / 10_000
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
/// `void gethrestime(timespec_t *)` (sys/time.h): the wall clock.
unsafe extern "C" fn gethrestime(ts: *mut libc::timespec) {
    let ns = host(|| st().sim.wall_clock_ns());
    // SAFETY: the module passes a timespec_t (LP64: time_t, long).
    unsafe {
        (*ts).tv_sec = (ns / 1_000_000_000) as libc::time_t;
        (*ts).tv_nsec = (ns % 1_000_000_000) as libc::c_long;
    }
}
/// `void crhold(cred_t *)` (sys/cred.h): the simulator counts holds;
/// one left at the end is a leak it reports.
unsafe extern "C" fn crhold(cr: *mut cred_t) {
    host(|| st().sim.cred_hold(Cred(cr)))
}
/// `void crfree(cred_t *)` (sys/cred.h): a crfree without a crhold is a
/// simulator violation.
unsafe extern "C" fn crfree(cr: *mut cred_t) {
    host(|| st().sim.cred_release(Cred(cr)))
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
    /// The credential of the process whose open/close runs on this thread.
    static CURRENT_CRED: Cell<*const cred_t> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` (an open or close) with `cr` as the calling process's
/// credential, what `CRED()` is in that thread.
pub fn with_cred<R>(cr: *const cred_t, f: impl FnOnce() -> R) -> R {
    let old = CURRENT_CRED.with(|c| c.replace(cr));
    let r = f();
    CURRENT_CRED.with(|c| c.set(old));
    r
}

/// `cred_t *ddi_get_cred(void)` (sys/sunddi.h).  ddi_get_cred(9F): "can
/// be called from user context only".  In open/close (the simulator's
/// user context) it is the caller's credential; anywhere else (put, srv,
/// taskq, mac callbacks) the call is recorded, naming the entry point,
/// and answered with NULL; in module lifecycle code (no process) NULL.
unsafe extern "C" fn ddi_get_cred() -> *mut cred_t {
    match tuntap_sim::context::current() {
        tuntap_sim::context::Ctx::User { .. } => CURRENT_CRED.with(Cell::get).cast_mut(),
        tuntap_sim::context::Ctx::Kernel => std::ptr::null_mut(),
        ctx => {
            let entry = crate::kstack::current_entry().unwrap_or("?");
            host(|| {
                st().error(format!(
                    "ddi_get_cred() in entry point {entry}, {ctx:?} context, which has no user \
                     context (ddi_get_cred(9F): user context only)"
                ))
            });
            std::ptr::null_mut()
        }
    }
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
/// `major_t ddi_name_to_major(const char *)` (sys/sunddi.h): the loader's
/// majors for its two drivers, `DDI_MAJOR_T_NONE` ((major_t)-1) otherwise.
unsafe extern "C" fn ddi_name_to_major(name: *const c_char) -> u32 {
    // SAFETY: a NUL-terminated driver name.
    let n = unsafe { cstr(name) };
    match n.as_str() {
        "tuntap" => crate::TUNTAP_MAJOR,
        "tun" => crate::TUN_MAJOR,
        _ => u32::MAX,
    }
}

/// `E_DDI_HOLD_DEVI_NOATTACH` (sys/sunddi.h): fail instead of attaching.
const E_DDI_HOLD_DEVI_NOATTACH: c_int = 0x01;

/// `dev_info_t *ddi_hold_devi_by_instance(major_t, int instance, int
/// flags)` (sys/sunddi.h): "Attach and hold the specified instance of a
/// driver."  An attached instance is held at once (devcfg.c's fast path);
/// otherwise it is attached first unless E_DDI_HOLD_DEVI_NOATTACH.  The
/// attaching slow path from another driver's attach(9E) is a deadlock
/// hazard (docs/research/kernel-contexts.md, 1e) and is reported.
unsafe extern "C" fn ddi_hold_devi_by_instance(major: u32, instance: c_int, flags: c_int) -> *mut dev_info_t {
    host(|| {
        let s = st();
        let Some(name) = crate::driver_of_major(major) else { return std::ptr::null_mut() };
        if instance != 0 {
            return std::ptr::null_mut();
        }
        if crate::devtree::dip(&s, name).is_none() {
            if flags & E_DDI_HOLD_DEVI_NOATTACH != 0 {
                return std::ptr::null_mut();
            }
            if let Some(entry @ "devo_attach") = crate::kstack::current_entry() {
                s.error(format!(
                    "ddi_hold_devi_by_instance of unattached {name} from {entry}: the attaching \
                     path from attach(9E) can deadlock (devcfg.c hold_devi)"
                ));
            }
            if crate::devtree::attach(&s, name) != DDI_SUCCESS {
                return std::ptr::null_mut();
            }
        }
        let Some(d) = crate::devtree::dip(&s, name) else { return std::ptr::null_mut() };
        *lock(&s.devi_holds).entry(d as usize).or_insert(0) += 1;
        d
    })
}
/// `void ddi_release_devi(dev_info_t *)` (sys/sunddi.h).
unsafe extern "C" fn ddi_release_devi(dip: *mut dev_info_t) {
    host(|| {
        let s = st();
        let mut h = lock(&s.devi_holds);
        match h.get_mut(&(dip as usize)) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                h.remove(&(dip as usize));
            }
            None => {
                drop(h);
                s.error(format!("ddi_release_devi({dip:p}) without a hold"));
            }
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

