// SPDX-License-Identifier: MPL-2.0
//! The simulated host: its shared state, thread context and the public
//! handles.  Violation kinds live in `violation.rs`, the worker threads in
//! `worker.rs`, the `Kernel` implementation that dispatches to the other
//! modules in `kernel.rs`.
//!
//! Theory statement.  A [`SimHost`] owns an `Arc<HostShared>`; the
//! [`SimKernel`] handles the driver holds are clones of that `Arc`.  All
//! state of one host lives in `HostShared`, each part behind its own
//! `std` mutex, none held while calling into the driver.
//!
//! Thread context: whenever the simulator calls into the driver (a
//! STREAMS entry point, a mac callback, a service procedure, deferred
//! work) it pushes `(host, pid)` on a per-thread stack for the duration
//! of the call.  [`tuntap_drv::ddi::Kernel::current_pid`] reads it, and violations found
//! by code that has no host at hand (a recursive `mutex_enter`) are
//! recorded on it.  Message blocks never use it: they carry their host.
//!
//! Workers: a STREAMS service thread (service procedures) and a taskq
//! thread (`defer`, mac transmit restarts).  Jobs run with no simulator
//! lock held.  [`SimHost::finish`] drains both, closes what the
//! application side still has open (as process exit would), releases the
//! messages the simulator itself holds, then reports leaks and
//! violations.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tuntap_abi::{DatalinkId, LinkName};
use tuntap_drv::ddi::{
    DropReason, Errno, LinkState, Probe, RelayEvent,
    StreamsEntry,
};

use crate::sync::driver_locks_held;
use crate::context;
use crate::{boot, dls, mac, mblk, streams};

pub use crate::violation::{Violation, ViolationKind};
pub(crate) use crate::worker::Worker;

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
    Relay(DatalinkId, RelayEvent, Errno),
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
            Probe::Relay(l, ev, e) => ProbeRecord::Relay(l, ev, e),
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
    pub(crate) probes: Mutex<Vec<ProbeRecord>>,
    /// What the driver printed with `cmn_err(9F)`, one line each.
    pub(crate) console: Mutex<Vec<String>>,
    rng: Mutex<u64>,
    pub(crate) clock_base_ns: u64,
    pub(crate) clock_offset_ns: AtomicU64,
    pub(crate) start: Instant,
    pub(crate) svc: Arc<Worker>,
    pub(crate) taskq: Arc<Worker>,
    /// The driver's control taskq (`Kernel::dispatch_control`).
    pub(crate) control: Arc<Worker>,
    /// dld's own taskq (`dld_taskq`): the control messages of dld streams
    /// the driver opened through LDI (mac/dld.rs).
    pub(crate) dld: Arc<Worker>,
    /// Streams the driver opened through LDI (ldi.rs).
    pub(crate) ldi: Mutex<crate::ldi::LdiTable>,
    pub(crate) allocb_failures: AtomicUsize,
    /// `mac_register` calls left to fail (see `fail_next_mac_register`).
    pub(crate) mac_register_failures: AtomicUsize,
    /// The modelled mac's `mac_capab_lso_t` has the TCP/IPv6 member
    /// (current gate; see `set_mac_lso_ipv6`).
    pub(crate) mac_lso_ipv6: AtomicBool,
    pub(crate) defer_failures: AtomicUsize,
    pub(crate) ioctl_timeout: Mutex<Duration>,
    /// The longest a timed condition wait lasts (`set_timed_wait_cap`).
    timed_wait_cap: Mutex<Option<Duration>>,
    finished: AtomicBool,
    pub(crate) faults: crate::faults::Faults,
    pub(crate) watchdog: Arc<crate::watchdog::Watchdog>,
}

impl HostShared {
    /// See [`SimHost::set_timed_wait_cap`].
    pub(crate) fn timed_wait_cap(&self) -> Option<Duration> {
        *lock(&self.timed_wait_cap)
    }
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

/// The driver's handle on the host: implements [`tuntap_drv::ddi::Kernel`].  Cheap to
/// clone.
#[derive(Clone, Debug)]
pub struct SimKernel(pub(crate) Arc<HostShared>);

impl SimKernel {
    /// The fine wall clock, nanoseconds since the epoch: what
    /// `gethrestime(9F)` returns and what `/proc` reports as a process's
    /// `pr_start` (a full `timestruc_t`, `prgetpsinfo` in illumos
    /// usr/src/uts/common/fs/proc/prsubr.c).
    pub fn hrestime_ns(&self) -> u64 {
        self.0
            .clock_base_ns
            .wrapping_add(self.0.start.elapsed().as_nanos() as u64)
            .wrapping_add(self.0.clock_offset_ns.load(Ordering::SeqCst))
    }
}

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
            console: Mutex::new(Vec::new()),
            rng: Mutex::new(seed),
            clock_base_ns: 1_700_000_000_000_000_000,
            clock_offset_ns: AtomicU64::new(0),
            start: Instant::now(),
            svc: Worker::start(format!("sim{id}-strsvc")),
            taskq: Worker::start(format!("sim{id}-taskq")),
            control: Worker::start(format!("sim{id}-control")),
            dld: Worker::start(format!("sim{id}-dld")),
            ldi: Mutex::new(Default::default()),
            allocb_failures: AtomicUsize::new(0),
            mac_register_failures: AtomicUsize::new(0),
            mac_lso_ipv6: AtomicBool::new(true),
            defer_failures: AtomicUsize::new(0),
            ioctl_timeout: Mutex::new(Duration::from_secs(10)),
            timed_wait_cap: Mutex::new(None),
            finished: AtomicBool::new(false),
            faults: Default::default(),
            watchdog: Default::default(),
        });
        SimHost { shared }
    }

    /// The [`tuntap_drv::ddi::Kernel`] handle to give the driver.
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
        self.shared.control.drain(Duration::from_secs(10));
        self.shared.taskq.drain(Duration::from_secs(10));
        lock(&self.shared.driver).take();
    }

    /// Let deferred work held back to run late go now (see
    /// `SimKernel::defer`).  Waits for it to finish (bounded).
    pub fn run_deferred(&self) {
        self.shared.taskq.release();
        self.shared.control.drain(Duration::from_secs(10));
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

    /// The driver's `cmn_err(9F)` lines, in order.
    pub fn console(&self) -> Vec<String> {
        lock(&self.shared.console).clone()
    }

    /// How long the stream head waits for an ioctl reply before it
    /// records [`ViolationKind::IoctlNoReply`] (default 10 s).
    pub fn set_ioctl_timeout(&self, t: Duration) {
        *lock(&self.shared.ioctl_timeout) = t;
    }

    /// Let the driver's timed condition waits (`cv_reltimedwait`) run
    /// out after at most `cap` of real time: time passing faster for a
    /// test of a timeout that is seconds long in the driver.  A wake-up
    /// still ends a wait at once.
    pub fn set_timed_wait_cap(&self, cap: Duration) {
        *lock(&self.shared.timed_wait_cap) = Some(cap);
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

    /// Model a mac whose `mac_capab_lso_t` has (`true`, current
    /// illumos-gate, the default) or lacks (`false`, gates before TCPv6 LSO, illumos
    /// 12466 of 2020: 8 bytes) the TCP/IPv6 member.  `mc_getcapab` is handed a
    /// structure of that size with a guard word behind it; a driver that
    /// writes the guard is recorded as [`ViolationKind::MacProtocol`]
    /// (on illumos: a write past `dld_capab_lso`'s stack variable).
    pub fn set_mac_lso_ipv6(&self, has: bool) {
        self.shared.mac_lso_ipv6.store(has, Ordering::SeqCst);
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
            let c = self.shared.control.drain(deadline.saturating_duration_since(Instant::now()));
            let b = self.shared.taskq.drain(deadline.saturating_duration_since(Instant::now()));
            let d = self.shared.dld.drain(deadline.saturating_duration_since(Instant::now()));
            if !(a && b && c && d) {
                return false;
            }
            // A job on one worker may have queued work on another.
            let idle = {
                let s = lock(&self.shared.svc.q);
                let t = lock(&self.shared.taskq.q);
                let c = lock(&self.shared.control.q);
                let d = lock(&self.shared.dld.q);
                d.jobs.is_empty()
                    && !d.busy
                    && s.jobs.is_empty()
                    && !s.busy
                    && t.jobs.is_empty()
                    && t.held.is_empty()
                    && !t.busy
                    && c.jobs.is_empty()
                    && !c.busy
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
        crate::ldi::check_leaks(sh);
        mac::close_all_clients(sh);
        if !self.settle(Duration::from_secs(10)) {
            sh.record(ViolationKind::WorkerStuck, "service/taskq work did not finish in 10 s".into());
        }
        mac::check_leaks(sh);
        dls::check_leaks(sh);
        mblk::check_leaks(sh);
        dls::check_cred_leaks(sh);
        sh.svc.stop();
        sh.control.stop();
        sh.taskq.stop();
        sh.dld.stop();
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
                self.shared.control.stop();
                self.shared.taskq.stop();
                self.shared.dld.stop();
            }
            return;
        }
        self.finish_inner(true);
    }
}

