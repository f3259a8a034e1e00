// SPDX-License-Identifier: MPL-2.0
//! The simulated host: violations, thread context, worker threads, and the
//! [`Kernel`] implementation that dispatches to the other modules.
//!
//! Theory statement.  A [`SimHost`] owns an `Arc<HostShared>`; the
//! [`SimKernel`] handles the driver holds are clones of that `Arc`.  All
//! state of one host lives in `HostShared`, each part behind its own
//! `std` mutex, none held while calling into the driver.
//!
//! Thread context: whenever the simulator calls into the driver (a
//! STREAMS entry point, a mac callback, a service procedure, deferred
//! work) it pushes `(host, pid)` on a per-thread stack for the duration
//! of the call.  [`Kernel::current_pid`] reads it, and violations found
//! by code that has no host at hand (a recursive `mutex_enter`) are
//! recorded on it.  Message blocks never use it: they carry their host.
//!
//! Workers: a STREAMS service thread (service procedures) and a taskq
//! thread (`defer`, mac transmit restarts).  Jobs run with no simulator
//! lock held.  [`SimHost::finish`] drains both, closes what the
//! application side still has open (as process exit would), releases the
//! messages the simulator itself holds, then reports leaks and
//! violations.

use std::ffi::c_void;
use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use illumos_sys_hdrs::{ENOMEM, MAC_PRIVATE_MINOR, mac_register_t, mblk_t, queue_t};
use tuntap_abi::{DatalinkId, LinkName};
use tuntap_drv::ddi::{
    Cred, DeferredTask, DlmgmtLink, DropReason, Errno, Kernel, LinkState, MacHandle, Probe, PropInfoHandle, PropPerm,
    StreamsEntry, ZoneId,
};

use crate::sync::{SimCondvar, SimMutex, driver_locks_held};
use crate::context::{self, Ctx};
use crate::watchdog::WAIT_BOUND;
use crate::{boot, dls, mac, mblk, streams};

/// What rule a [`Violation`] broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViolationKind {
    /// A message block freed twice (or a freed block freed again).
    DoubleFree,
    /// A freed message block handed to the simulator (putnext, mac_rx, ...).
    UseAfterFree,
    /// `b_rptr`/`b_wptr` outside `[db_base, db_lim]` or `b_rptr > b_wptr`.
    BadPointers,
    /// `b_next` (or `b_prev`) set on a message passed as a single message.
    BNextSet,
    /// A message of the wrong type or shape for the interface.
    BadMessage,
    /// Memory (message blocks, registrations) not released by the end.
    Leak,
    /// The driver wrote into a data block it shared (`db_ref > 1`).
    SharedBlockWritten,
    /// An `M_IOCTL` got no `M_IOCACK`/`M_IOCNAK`.
    IoctlNoReply,
    /// A reply for an ioctl that is not pending (second reply, wrong id,
    /// reply after the stream head failed the ioctl).
    IoctlDoubleReply,
    /// `M_IOCACK` data longer than the caller's buffer (I_STR `ic_len`).
    IoctlReplyTooLong,
    /// Any other breach of the ioctl protocol (`M_COPYIN` on an I_STR
    /// ioctl, malformed `copyreq`, short reply, ...).
    IoctlProtocol,
    /// `M_COPYIN`/`M_COPYOUT` with a size of 0 or beyond the bound.
    CopyBounds,
    /// A mac/dls upcall, `putnext` or `qreply` with a driver lock held.
    LockHeldInUpcall,
    /// `mutex_enter` of a mutex the thread already holds.
    RecursiveEnter,
    /// `mutex_exit`/`cv_wait` of a mutex the thread does not hold.
    MutexNotHeld,
    /// A callback that must not block did (cv_wait in mc_tx).
    BlockingInCallback,
    /// `mac_register` rejected the registration (the driver filled it
    /// wrongly).
    MacRegister,
    /// A mac handle that is not (or no longer) registered.
    BadHandle,
    /// A breach of a mac rule (foreign chain returned by mc_tx, upcall
    /// after unregister, ...).
    MacProtocol,
    /// A STREAMS queue used in a state that forbids it (put after
    /// qprocsoff/close, no qprocson in open, no qprocsoff in close, ...).
    QueueState,
    /// A pointer that is not a queue of an open stream of this host.
    BadQueue,
    /// A breach of a dls/dlmgmtd rule.
    DlsProtocol,
    /// A credential pointer that is not a live simulator credential.
    BadCred,
    /// Simulator worker threads did not go idle (deadlock in the driver?).
    WorkerStuck,
    /// A call not allowed in the context it was made from: a blocking
    /// call in a put or service procedure or mac callback, or a
    /// user-context-only call outside open/close (see `context.rs`).
    Context,
    /// A kmutex taken against the order of earlier acquisitions
    /// ([`crate::lockorder`]).
    LockOrder,
    /// A `mutex_enter` or `cv_wait` that did not return within
    /// [`crate::watchdog::WAIT_BOUND`].
    Deadlock,
    /// An application-side wait without a timeout (read, getmsg, poll)
    /// that lasted [`crate::watchdog::WAIT_BOUND`].
    WaitBound,
    /// `I_FLUSH`'s dummy ioctl (`ic_cmd = -1`) was acknowledged: it must
    /// be NAKed (strioctl in usr/src/uts/common/os/streamio.c).
    FlushProtocol,
}

/// A broken rule, with where it was found.
#[derive(Clone)]
pub struct Violation {
    pub kind: ViolationKind,
    pub message: String,
    /// Source location of the simulator entry point that found it.
    pub location: String,
    pub thread: String,
    /// A backtrace (captured for the first few violations of a host).
    pub backtrace: Option<String>,
}

impl fmt::Debug for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:?}] {} (at {}, thread {})", self.kind, self.message, self.location, self.thread)
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)?;
        if let Some(bt) = &self.backtrace {
            write!(f, "\n  backtrace:\n{bt}")?;
        }
        Ok(())
    }
}

/// An owned copy of a [`Probe`] the driver fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeRecord {
    Drop(DatalinkId, DropReason),
    LinkCreate(DatalinkId, LinkName),
    LinkDestroy(DatalinkId),
    LinkState(DatalinkId, LinkState),
    QueueAttach(DatalinkId, u32),
    QueueDetach(DatalinkId, u32),
    IoctlFail(i32, Errno),
}

impl From<Probe<'_>> for ProbeRecord {
    fn from(p: Probe<'_>) -> Self {
        match p {
            Probe::Drop(l, r) => ProbeRecord::Drop(l, r),
            Probe::LinkCreate(l, n) => ProbeRecord::LinkCreate(l, *n),
            Probe::LinkDestroy(l) => ProbeRecord::LinkDestroy(l),
            Probe::LinkState(l, s) => ProbeRecord::LinkState(l, s),
            Probe::QueueAttach(l, m) => ProbeRecord::QueueAttach(l, m),
            Probe::QueueDetach(l, m) => ProbeRecord::QueueDetach(l, m),
            Probe::IoctlFail(c, e) => ProbeRecord::IoctlFail(c, e),
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ----- worker threads -----

type Job = Box<dyn FnOnce() + Send>;

struct WorkerQ {
    jobs: VecDeque<Job>,
    /// Deferred work held back to run late (see `SimKernel::defer`).
    held: VecDeque<Job>,
    busy: bool,
    stop: bool,
}

pub(crate) struct Worker {
    q: Mutex<WorkerQ>,
    cv: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: Mutex<Option<std::thread::ThreadId>>,
}

impl Worker {
    fn start(name: String) -> Arc<Worker> {
        let w = Arc::new(Worker {
            q: Mutex::new(WorkerQ { jobs: VecDeque::new(), held: VecDeque::new(), busy: false, stop: false }),
            cv: Condvar::new(),
            thread: Mutex::new(None),
            thread_id: Mutex::new(None),
        });
        let w2 = w.clone();
        let h = std::thread::Builder::new()
            .name(name)
            .spawn(move || w2.run())
            .unwrap_or_else(|e| panic!("tuntap-sim: cannot start a worker thread: {e}"));
        *lock(&w.thread_id) = Some(h.thread().id());
        *lock(&w.thread) = Some(h);
        w
    }

    fn run(&self) {
        loop {
            let job = {
                let mut q = lock(&self.q);
                loop {
                    if let Some(j) = q.jobs.pop_front() {
                        q.busy = true;
                        break j;
                    }
                    if q.stop {
                        return;
                    }
                    q = self.cv.wait(q).unwrap_or_else(|e| e.into_inner());
                }
            };
            // A panicking job (a bug in a test driver) must not kill the
            // worker; the panic message is printed by the hook.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            let mut q = lock(&self.q);
            q.busy = false;
            self.cv.notify_all();
        }
    }

    pub(crate) fn push(&self, job: Job) {
        let mut q = lock(&self.q);
        q.jobs.push_back(job);
        self.cv.notify_all();
    }

    /// Queue a job that runs only once released ([`Worker::release`]).
    pub(crate) fn push_late(&self, job: Job) {
        lock(&self.q).held.push_back(job);
    }

    /// Let every held job run, after the jobs already queued.
    pub(crate) fn release(&self) {
        let mut q = lock(&self.q);
        let held = std::mem::take(&mut q.held);
        q.jobs.extend(held);
        self.cv.notify_all();
    }

    pub(crate) fn is_current(&self) -> bool {
        *lock(&self.thread_id) == Some(std::thread::current().id())
    }

    /// Wait until no job is queued or running; false on timeout.
    fn drain(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut q = lock(&self.q);
        while q.busy || !q.jobs.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            q = self.cv.wait_timeout(q, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }

    /// Stop the thread; joins it unless a job is still running after
    /// [`WAIT_BOUND`] (a hung driver call: the thread is left behind).
    fn stop(&self) {
        lock(&self.q).stop = true;
        self.cv.notify_all();
        if let Some(h) = lock(&self.thread).take()
            && std::thread::current().id() != h.thread().id()
            && self.drain(WAIT_BOUND)
        {
            let _ = h.join();
        }
    }
}

// ----- the host -----

static NEXT_HOST: AtomicU64 = AtomicU64::new(1);

/// Everything one simulated host knows.  Reached by the driver through
/// [`SimKernel`] and by message blocks through their header.
pub struct HostShared {
    pub(crate) id: u64,
    violations: Mutex<Vec<Violation>>,
    backtraces_left: AtomicUsize,
    pub(crate) blocks: Mutex<mblk::Registry>,
    pub(crate) streams: Mutex<streams::StreamTable>,
    pub(crate) driver: Mutex<Option<Arc<dyn StreamsEntry + Send + Sync>>>,
    /// The installed driver and its `.conf` (see boot.rs).
    pub(crate) installed: Mutex<Option<boot::Installed>>,
    pub(crate) mac: Mutex<mac::MacTable>,
    pub(crate) dl: Mutex<dls::DlState>,
    pub(crate) user_mem: Mutex<streams::UserMemState>,
    probes: Mutex<Vec<ProbeRecord>>,
    rng: Mutex<u64>,
    clock_base_ns: u64,
    clock_offset_ns: AtomicU64,
    start: Instant,
    pub(crate) svc: Arc<Worker>,
    pub(crate) taskq: Arc<Worker>,
    pub(crate) allocb_failures: AtomicUsize,
    /// `mac_register` calls left to fail (see `fail_next_mac_register`).
    pub(crate) mac_register_failures: AtomicUsize,
    pub(crate) defer_failures: AtomicUsize,
    pub(crate) ioctl_timeout: Mutex<Duration>,
    finished: AtomicBool,
    pub(crate) faults: crate::faults::Faults,
    pub(crate) watchdog: Arc<crate::watchdog::Watchdog>,
}

// SAFETY: the raw pointers inside (message blocks, queues, mac
// registrations) are simulator-owned memory, and every access to them goes
// through the mutex of the table that holds them or through the driver
// protocol that transfers ownership between threads, as in the kernel.
unsafe impl Send for HostShared {}
// SAFETY: as above.
unsafe impl Sync for HostShared {}

impl fmt::Debug for HostShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostShared#{}", self.id)
    }
}

impl HostShared {
    /// Record a violation found at `loc`.
    pub(crate) fn record_at(&self, kind: ViolationKind, message: String, loc: &Location<'_>) {
        let bt = if self.backtraces_left.load(Ordering::Relaxed) > 0 {
            self.backtraces_left.fetch_sub(1, Ordering::Relaxed);
            Some(std::backtrace::Backtrace::force_capture().to_string())
        } else {
            None
        };
        let v = Violation {
            kind,
            message,
            location: loc.to_string(),
            thread: std::thread::current().name().unwrap_or("?").to_string(),
            backtrace: bt,
        };
        if std::env::var_os("TUNTAP_SIM_VERBOSE").is_some() {
            eprintln!("tuntap-sim host {}: violation {v:?}", self.id);
        }
        lock(&self.violations).push(v);
    }

    #[track_caller]
    pub(crate) fn record(&self, kind: ViolationKind, message: String) {
        self.record_at(kind, message, Location::caller());
    }

    /// Record a violation when the calling thread holds a driver lock.
    #[track_caller]
    pub(crate) fn check_no_driver_locks(&self, what: &str) {
        let n = driver_locks_held();
        if n > 0 {
            self.record(
                ViolationKind::LockHeldInUpcall,
                format!("{what} called while holding {n} driver lock(s)"),
            );
        }
    }

    pub(crate) fn driver(&self) -> Option<Arc<dyn StreamsEntry + Send + Sync>> {
        lock(&self.driver).clone()
    }

    pub(crate) fn next_random(&self) -> u64 {
        // splitmix64: deterministic per host seed.
        let mut s = lock(&self.rng);
        *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Violations recorded so far (for the watchdog's report).
    pub(crate) fn violations_now(&self) -> Vec<Violation> {
        lock(&self.violations).clone()
    }

    pub(crate) fn take_allocb_failure(&self) -> bool {
        self.allocb_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

// ----- thread context (see context.rs) -----

fn context_host() -> Option<Arc<HostShared>> {
    context::current_host()
}

/// Record a violation on the host whose driver code this thread runs.
/// Outside any host context (test code misusing a lock directly) it
/// panics, which fails the test as well.
#[track_caller]
pub(crate) fn record_in_context(kind: ViolationKind, message: String) {
    match context_host() {
        Some(h) => h.record(kind, message),
        None => panic!("tuntap-sim: {kind:?}: {message}"),
    }
}

// ----- public handles -----

/// One simulated illumos host.  See the crate documentation.
///
/// ```ignore
/// let host = SimHost::new();
/// let k = host.kernel();
/// host.attach(Arc::new(MyDriver::new(k.clone())));
/// let s = host.open(minor, &host.root_cred())?;
/// ...
/// host.finish(); // panics listing violations and leaks
/// ```
pub struct SimHost {
    pub(crate) shared: Arc<HostShared>,
}

/// The driver's handle on the host: implements [`Kernel`].  Cheap to
/// clone.
#[derive(Clone, Debug)]
pub struct SimKernel(pub(crate) Arc<HostShared>);

impl Default for SimHost {
    fn default() -> Self {
        Self::new()
    }
}

impl SimHost {
    /// A new host with the default random seed (deterministic).
    pub fn new() -> SimHost {
        Self::with_seed(0x7475_6e74_6170)
    }

    /// A new host whose `random_bytes` stream is seeded by `seed`.
    pub fn with_seed(seed: u64) -> SimHost {
        let id = NEXT_HOST.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(HostShared {
            id,
            violations: Mutex::new(Vec::new()),
            backtraces_left: AtomicUsize::new(8),
            blocks: Mutex::new(mblk::Registry::default()),
            streams: Mutex::new(streams::StreamTable::default()),
            driver: Mutex::new(None),
            installed: Mutex::new(None),
            mac: Mutex::new(mac::MacTable::default()),
            dl: Mutex::new(dls::DlState::new()),
            user_mem: Mutex::new(streams::UserMemState::default()),
            probes: Mutex::new(Vec::new()),
            rng: Mutex::new(seed),
            clock_base_ns: 1_700_000_000_000_000_000,
            clock_offset_ns: AtomicU64::new(0),
            start: Instant::now(),
            svc: Worker::start(format!("sim{id}-strsvc")),
            taskq: Worker::start(format!("sim{id}-taskq")),
            allocb_failures: AtomicUsize::new(0),
            mac_register_failures: AtomicUsize::new(0),
            defer_failures: AtomicUsize::new(0),
            ioctl_timeout: Mutex::new(Duration::from_secs(10)),
            finished: AtomicBool::new(false),
            faults: Default::default(),
            watchdog: Default::default(),
        });
        SimHost { shared }
    }

    /// The [`Kernel`] handle to give the driver.
    pub fn kernel(&self) -> SimKernel {
        SimKernel(self.shared.clone())
    }

    /// Install the driver whose STREAMS entry points [`SimHost::open`]
    /// and friends call (its `qinit`).
    pub fn attach(&self, driver: Arc<dyn StreamsEntry + Send + Sync>) {
        *lock(&self.shared.driver) = Some(driver);
    }

    /// Forget the driver (after its links are gone), e.g. to model
    /// `_fini`.  The simulator drops its reference.  Work still on the
    /// driver's taskq runs first, as `ddi_taskq_destroy` runs what is
    /// queued before it returns (`taskq_destroy` -> `taskq_wait`,
    /// usr/src/uts/common/os/taskq.c).
    pub fn detach(&self) {
        self.shared.taskq.release();
        self.shared.taskq.drain(Duration::from_secs(10));
        lock(&self.shared.driver).take();
    }

    /// Let deferred work held back to run late go now (see
    /// `SimKernel::defer`).  Waits for it to finish (bounded).
    pub fn run_deferred(&self) {
        self.shared.taskq.release();
        self.shared.taskq.drain(Duration::from_secs(10));
    }

    /// Violations recorded so far.
    pub fn violations(&self) -> Vec<Violation> {
        lock(&self.shared.violations).clone()
    }

    /// Remove and return the violations recorded so far (for tests that
    /// provoke one on purpose).
    pub fn take_violations(&self) -> Vec<Violation> {
        std::mem::take(&mut *lock(&self.shared.violations))
    }

    /// Assert that at least one violation of `kind` was recorded, and
    /// remove those; returns them.  Panics (listing what was recorded)
    /// otherwise.
    #[track_caller]
    pub fn expect_violation(&self, kind: ViolationKind) -> Vec<Violation> {
        let mut all = lock(&self.shared.violations);
        let (hit, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|v| v.kind == kind);
        *all = rest;
        if hit.is_empty() {
            let list: Vec<String> = all.iter().map(|v| format!("{v:?}")).collect();
            drop(all);
            panic!("expected a {kind:?} violation; recorded: {list:#?}");
        }
        hit
    }

    /// Probes the driver fired, in order.
    pub fn probes(&self) -> Vec<ProbeRecord> {
        lock(&self.shared.probes).clone()
    }

    /// How long the stream head waits for an ioctl reply before it
    /// records [`ViolationKind::IoctlNoReply`] (default 10 s).
    pub fn set_ioctl_timeout(&self, t: Duration) {
        *lock(&self.shared.ioctl_timeout) = t;
    }

    /// Make the next `n` `allocb` calls fail (return null).
    pub fn fail_next_allocb(&self, n: usize) {
        self.shared.allocb_failures.store(n, Ordering::SeqCst);
    }

    /// Make the next `n` `mac_register` calls fail with `ENOMEM` (as the
    /// kernel's does when it cannot allocate the mac), e.g. to test that
    /// a failed link creation leaves nothing behind.
    pub fn fail_next_mac_register(&self, n: usize) {
        self.shared.mac_register_failures.store(n, Ordering::SeqCst);
    }

    /// Make the next `n` `defer` calls fail with `ENOMEM`.
    pub fn fail_next_defer(&self, n: usize) {
        self.shared.defer_failures.store(n, Ordering::SeqCst);
    }

    /// Move the simulated wall clock forward.
    pub fn advance_clock(&self, d: Duration) {
        self.shared.clock_offset_ns.fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
    }

    /// Message blocks allocated on this host so far (`allocb`, dups,
    /// pullups, the simulator's own).  For allocation-per-packet counts.
    pub fn blocks_allocated(&self) -> u64 {
        lock(&self.shared.blocks).allocated
    }

    /// Message blocks alive now.
    pub fn blocks_live(&self) -> usize {
        lock(&self.shared.blocks).live.len()
    }

    /// Wait until the service and taskq threads are idle (all pending
    /// service procedures and deferred work ran).  False on timeout.
    pub fn settle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            self.shared.taskq.release();
            let a = self.shared.svc.drain(deadline.saturating_duration_since(Instant::now()));
            let b = self.shared.taskq.drain(deadline.saturating_duration_since(Instant::now()));
            if !(a && b) {
                return false;
            }
            // A job on one worker may have queued work on the other.
            let idle = {
                let s = lock(&self.shared.svc.q);
                let t = lock(&self.shared.taskq.q);
                s.jobs.is_empty() && !s.busy && t.jobs.is_empty() && t.held.is_empty() && !t.busy
            };
            if idle {
                return true;
            }
        }
    }

    /// End the test: drain the workers, close what is still open (as
    /// process exit would), release the simulator's own messages, check
    /// for leaks, and panic listing every violation if there is any.
    #[track_caller]
    pub fn finish(self) {
        self.finish_inner(true);
    }

    /// Like [`SimHost::finish`] but returns the violations instead of
    /// panicking.
    pub fn finish_report(self) -> Vec<Violation> {
        self.finish_inner(false)
    }

    fn finish_inner(&self, panic_on_violation: bool) -> Vec<Violation> {
        if self.shared.finished.swap(true, Ordering::SeqCst) {
            return Vec::new();
        }
        let sh = &self.shared;
        if !self.settle(Duration::from_secs(10)) {
            sh.record(ViolationKind::WorkerStuck, "service/taskq work did not finish in 10 s".into());
        }
        streams::close_all(sh);
        mac::close_all_clients(sh);
        if !self.settle(Duration::from_secs(10)) {
            sh.record(ViolationKind::WorkerStuck, "service/taskq work did not finish in 10 s".into());
        }
        mac::check_leaks(sh);
        dls::check_leaks(sh);
        mblk::check_leaks(sh);
        dls::check_cred_leaks(sh);
        sh.svc.stop();
        sh.taskq.stop();
        sh.watchdog.disarm();
        let v = self.violations();
        if panic_on_violation && !v.is_empty() {
            panic!("{}", crate::watchdog::report(sh.id, &v));
        }
        v
    }
}

impl Drop for SimHost {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if !self.shared.finished.swap(true, Ordering::SeqCst) {
                self.shared.watchdog.disarm();
                // The test already failed: show the rules broken so far,
                // which usually caused the failure (no finish: that would
                // call into a driver that may be in a bad state).
                let v = self.violations();
                if !v.is_empty() {
                    eprintln!("{}", crate::watchdog::report(self.shared.id, &v));
                }
                self.shared.svc.stop();
                self.shared.taskq.stop();
            }
            return;
        }
        self.finish_inner(true);
    }
}

// ----- the Kernel implementation -----

impl Kernel for SimKernel {
    type Mutex = SimMutex;
    type Condvar = SimCondvar;

    fn allocb(&self, size: usize) -> *mut mblk_t {
        if self.0.take_allocb_failure() {
            return std::ptr::null_mut();
        }
        mblk::allocb(&self.0, size)
    }

    #[track_caller]
    unsafe fn freemsg(mp: *mut mblk_t) {
        // SAFETY: forwarded contract; the block header identifies the host.
        unsafe { mblk::freemsg_any(mp, Location::caller()) }
    }

    unsafe fn msgpullup(&self, mp: *mut mblk_t) -> *mut mblk_t {
        if self.0.take_allocb_failure() {
            return std::ptr::null_mut();
        }
        mblk::msgpullup(&self.0, mp)
    }

    #[track_caller]
    unsafe fn putnext(&self, q: *mut queue_t, mp: *mut mblk_t) {
        streams::putnext(&self.0, q, mp, "putnext");
    }

    #[track_caller]
    unsafe fn canputnext(&self, q: *mut queue_t) -> bool {
        streams::canputnext(&self.0, q)
    }

    #[track_caller]
    unsafe fn qreply(&self, q: *mut queue_t, mp: *mut mblk_t) {
        streams::qreply(&self.0, q, mp);
    }

    #[track_caller]
    unsafe fn qenable(&self, q: *mut queue_t) {
        streams::qenable(&self.0, q);
    }

    #[track_caller]
    unsafe fn qprocson(&self, q: *mut queue_t) {
        streams::qprocson(&self.0, q);
    }

    #[track_caller]
    unsafe fn qprocsoff(&self, q: *mut queue_t) {
        streams::qprocsoff(&self.0, q);
    }

    #[track_caller]
    fn mac_register(&self, fill: &mut dyn FnMut(&mut mac_register_t)) -> Result<MacHandle, Errno> {
        self.0.check_no_driver_locks("mac_register");
        mac::mac_register(&self.0, fill)
    }

    #[track_caller]
    fn mac_disable(&self, mh: MacHandle) -> Result<(), Errno> {
        self.0.check_no_driver_locks("mac_disable");
        mac::mac_disable(&self.0, mh)
    }

    #[track_caller]
    fn mac_unregister(&self, mh: MacHandle) -> Result<(), Errno> {
        self.0.check_no_driver_locks("mac_unregister");
        mac::mac_unregister(&self.0, mh)
    }

    #[track_caller]
    unsafe fn mac_rx(&self, mh: MacHandle, chain: *mut mblk_t) {
        self.0.check_no_driver_locks("mac_rx");
        mac::mac_rx(&self.0, mh, chain);
    }

    #[track_caller]
    fn mac_tx_update(&self, mh: MacHandle) {
        self.0.check_no_driver_locks("mac_tx_update");
        mac::mac_tx_update(&self.0, mh);
    }

    #[track_caller]
    fn mac_link_update(&self, mh: MacHandle, state: LinkState) {
        self.0.check_no_driver_locks("mac_link_update");
        mac::mac_link_update(&self.0, mh, state);
    }

    #[track_caller]
    fn mac_maxsdu_update(&self, mh: MacHandle, sdu: u32) -> Result<(), Errno> {
        self.0.check_no_driver_locks("mac_maxsdu_update");
        mac::mac_maxsdu_update(&self.0, mh, sdu)
    }

    #[track_caller]
    fn mac_unicst_update(&self, mh: MacHandle, addr: &[u8; 6]) {
        self.0.check_no_driver_locks("mac_unicst_update");
        mac::mac_unicst_update(&self.0, mh, addr);
    }

    #[track_caller]
    fn mac_prop_info_set_default_uint32(&self, ph: PropInfoHandle, value: u32) {
        mac::prop_info_set(&self.0, ph, |p| p.default_u32 = Some(value));
    }

    #[track_caller]
    fn mac_prop_info_set_range_uint32(&self, ph: PropInfoHandle, min: u32, max: u32) {
        mac::prop_info_set(&self.0, ph, |p| p.ranges_u32.push((min, max)));
    }

    #[track_caller]
    fn mac_prop_info_set_perm(&self, ph: PropInfoHandle, perm: PropPerm) {
        mac::prop_info_set(&self.0, ph, |p| p.perm = Some(perm));
    }

    #[track_caller]
    fn dls_devnet_create(&self, mh: MacHandle, linkid: DatalinkId, zone: ZoneId) -> Result<(), Errno> {
        self.0.check_no_driver_locks("dls_devnet_create");
        dls::dls_devnet_create(&self.0, mh, linkid, zone)
    }

    #[track_caller]
    fn dls_devnet_destroy(&self, mh: MacHandle) -> Result<DatalinkId, Errno> {
        self.0.check_no_driver_locks("dls_devnet_destroy");
        dls::dls_devnet_destroy(&self.0, mh)
    }

    #[track_caller]
    fn dls_mgmt_create(&self, name: &LinkName) -> Result<DatalinkId, Errno> {
        self.0.check_no_driver_locks("dls_mgmt_create");
        dls::dls_mgmt_create(&self.0, name)
    }

    #[track_caller]
    fn dls_mgmt_linkinfo(&self, linkid: DatalinkId) -> Result<DlmgmtLink, Errno> {
        self.0.check_no_driver_locks("dls_mgmt_get_linkinfo");
        dls::dls_mgmt_linkinfo(&self.0, linkid)
    }

    #[track_caller]
    fn dls_mgmt_linkid(&self, name: &LinkName) -> Result<DatalinkId, Errno> {
        self.0.check_no_driver_locks("dls_mgmt_get_linkid");
        dls::dls_mgmt_linkid(&self.0, name)
    }

    #[track_caller]
    fn dls_devnet_setzid(&self, linkid: DatalinkId, zone: ZoneId) -> Result<(), Errno> {
        self.0.check_no_driver_locks("dls_devnet_setzid");
        dls::dls_devnet_setzid(&self.0, linkid, zone)
    }

    #[track_caller]
    fn dls_mgmt_destroy(&self, linkid: DatalinkId) -> Result<(), Errno> {
        dls::dls_mgmt_destroy(&self.0, linkid)
    }

    #[track_caller]
    fn cred_hold(&self, cr: Cred) {
        dls::cred_hold(&self.0, cr);
    }

    #[track_caller]
    fn cred_release(&self, cr: Cred) {
        dls::cred_release(&self.0, cr);
    }

    fn cred_zone(&self, cr: Cred) -> ZoneId {
        dls::cred_read(&self.0, cr).map(|c| c.zone).unwrap_or(-1)
    }

    #[track_caller]
    fn cred_uid(&self, cr: Cred) -> u32 {
        dls::cred_read(&self.0, cr).map(|c| c.uid).unwrap_or(u32::MAX)
    }

    #[track_caller]
    fn cred_gid(&self, cr: Cred) -> u32 {
        dls::cred_read(&self.0, cr).map(|c| c.gid).unwrap_or(u32::MAX)
    }

    #[track_caller]
    fn cred_in_group(&self, cr: Cred, gid: u32) -> bool {
        dls::cred_read(&self.0, cr).map(|c| c.gid == gid || c.groups.contains(&gid)).unwrap_or(false)
    }

    #[track_caller]
    fn secpolicy_dl_config(&self, cr: Cred) -> Result<(), Errno> {
        match dls::cred_read(&self.0, cr) {
            Some(c) if c.privs.dl_config => Ok(()),
            _ => Err(illumos_sys_hdrs::EPERM),
        }
    }

    #[track_caller]
    fn current_pid(&self) -> i32 {
        context::caller_pid(&self.0, "ddi_get_pid")
    }

    fn wall_clock_ns(&self) -> u64 {
        self.0
            .clock_base_ns
            .wrapping_add(self.0.start.elapsed().as_nanos() as u64)
            .wrapping_add(self.0.clock_offset_ns.load(Ordering::SeqCst))
    }

    fn random_bytes(&self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let r = self.0.next_random().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }

    fn probe(&self, probe: Probe<'_>) {
        lock(&self.0.probes).push(probe.into());
    }

    unsafe fn defer(&self, task: DeferredTask, arg: *mut c_void) -> Result<(), Errno> {
        if self
            .0
            .defer_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(ENOMEM);
        }
        let host = Arc::downgrade(&self.0);
        let arg = arg as usize;
        // Deferred work runs late: work dispatched from the data path
        // (mc_tx, a service procedure, a mac callback) is held until
        // someone waits for its effect (a mac client or observer
        // receiving), the test settles, or the taskq is destroyed —
        // never within the dispatching call, and as late as a loaded
        // kernel could run it, so work that outlives its object shows.
        // Control work dispatched from a put procedure runs as soon as
        // the worker is free: its caller waits for the reply.
        let late = matches!(context::current(), Ctx::MacTx | Ctx::MacCallback | Ctx::Service);
        let job: Job = Box::new(move || {
            if let Some(h) = host.upgrade() {
                let _g = context::enter(&h, Ctx::Taskq);
                // SAFETY: the driver keeps arg valid until the task ran.
                unsafe { task(arg as *mut c_void) };
            }
        });
        if late {
            self.0.taskq.push_late(job);
        } else {
            self.0.taskq.push(job);
        }
        Ok(())
    }

    fn private_minor_base(&self) -> u32 {
        MAC_PRIVATE_MINOR
    }
}
