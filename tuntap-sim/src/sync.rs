// SPDX-License-Identifier: MPL-2.0
//! Driver locks (`kmutex_t`, `kcondvar_t`) that know who holds them.
//!
//! Theory statement.  [`SimMutex`] and [`SimCondvar`] are the simulator's
//! [`RawMutex`]/[`RawCondvar`].  Each thread keeps the stack of driver
//! locks it holds ([`driver_locks_held`]); the mac/dls upcalls, `putnext`
//! and `qreply` check it and record a violation when it is non-empty, and
//! every `mutex_enter` is checked against the order of earlier ones
//! ([`crate::lockorder`]).
//! A kmutex is not recursive: entering a mutex the thread already holds
//! is recorded as a violation (on the host whose driver code the thread
//! is running, see [`crate::host`]'s thread context) and then allowed to
//! nest, so the test reports instead of deadlocking.  Exiting a mutex the
//! thread does not hold, and `cv_wait` without holding the mutex, are
//! violations too.  Sleeping on a condition variable inside `mc_tx` is a
//! violation (mc_tx must never block).
//!
//! Every wait is bounded by [`crate::watchdog::WAIT_BOUND`]: a
//! `mutex_enter` that cannot get the mutex, or a `cv_wait` nobody wakes,
//! within it is a deadlock or a lost wake-up in the driver; it is recorded
//! ([`ViolationKind::Deadlock`]) and the waiting thread panics with the
//! rule, so the test fails instead of hanging.
//!
//! Locks: each `SimMutex` has one internal `std` mutex guarding its
//! owner; a `SimCondvar` has one guarding its generation counter.  Lock
//! order inside `cv_wait`: the condvar's, then the mutex's.
//!
//! Both types are plain values that may be moved until first use, as a
//! zeroed kmutex may.

use std::cell::Cell;
use std::sync::{Condvar, Mutex};
use std::thread::ThreadId;

use tuntap_drv::ddi::{RawCondvar, RawMutex};

use std::time::{Duration, Instant};

use crate::host::{ViolationKind, record_in_context};
use crate::lockorder;
use crate::watchdog::WAIT_BOUND;

thread_local! {
    static IN_MC_TX: Cell<bool> = const { Cell::new(false) };
}

/// How many driver locks ([`SimMutex`]) the calling thread holds now.
pub fn driver_locks_held() -> usize {
    lockorder::held_count()
}

/// Marks the calling thread as inside `mc_tx` while alive.
pub(crate) struct McTxGuard(bool);

impl McTxGuard {
    pub(crate) fn enter() -> McTxGuard {
        McTxGuard(IN_MC_TX.with(|c| c.replace(true)))
    }
}

impl Drop for McTxGuard {
    fn drop(&mut self) {
        IN_MC_TX.with(|c| c.set(self.0));
    }
}

struct Owner {
    thread: Option<ThreadId>,
    depth: usize,
}

/// The simulator's `kmutex_t`.
pub struct SimMutex {
    /// Instance number for the lock-order checker.
    id: u64,
    owner: Mutex<Owner>,
    freed: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimMutex {
    /// Does the calling thread hold this mutex (`MUTEX_HELD`)?
    pub fn held(&self) -> bool {
        lock(&self.owner).thread == Some(std::thread::current().id())
    }

    /// Release completely (for cv_wait); returns the nesting depth.
    fn release_all(&self) -> usize {
        let mut o = lock(&self.owner);
        let depth = o.depth;
        o.thread = None;
        o.depth = 0;
        lockorder::pop_held(self.id);
        self.freed.notify_one();
        depth
    }

    /// Take the mutex, waiting at most [`WAIT_BOUND`]; false on timeout.
    fn acquire(&self, depth: usize) -> bool {
        let me = std::thread::current().id();
        let deadline = Instant::now() + WAIT_BOUND;
        let mut o = lock(&self.owner);
        while o.thread.is_some() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            o = self.freed.wait_timeout(o, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        o.thread = Some(me);
        o.depth = depth;
        lockorder::push_held(self.id);
        true
    }

    #[track_caller]
    fn acquire_or_fail(&self, depth: usize, what: &str) {
        if !self.acquire(depth) {
            let msg = format!(
                "{what} waited {WAIT_BOUND:?} for kmutex #{}: a deadlock in the driver (a lock-order \
                 inversion or a lock never released)",
                self.id
            );
            record_in_context(ViolationKind::Deadlock, msg.clone());
            panic!("tuntap-sim: {msg}");
        }
    }
}

impl Drop for SimMutex {
    fn drop(&mut self) {
        lockorder::forget(self.id);
    }
}

impl RawMutex for SimMutex {
    fn new() -> Self {
        SimMutex {
            id: lockorder::new_instance(),
            owner: Mutex::new(Owner { thread: None, depth: 0 }),
            freed: Condvar::new(),
        }
    }

    #[track_caller]
    fn enter(&self) {
        let me = std::thread::current().id();
        {
            let mut o = lock(&self.owner);
            if o.thread == Some(me) {
                o.depth += 1;
                drop(o);
                record_in_context(
                    ViolationKind::RecursiveEnter,
                    "mutex_enter of a kmutex this thread already holds (kmutex is not \
                     recursive: this deadlocks on illumos)"
                        .into(),
                );
                return;
            }
        }
        lockorder::before_enter(self.id);
        self.acquire_or_fail(1, "mutex_enter");
    }

    #[track_caller]
    fn exit(&self) {
        let me = std::thread::current().id();
        let mut o = lock(&self.owner);
        if o.thread != Some(me) {
            drop(o);
            record_in_context(
                ViolationKind::MutexNotHeld,
                "mutex_exit of a kmutex this thread does not hold".into(),
            );
            return;
        }
        if o.depth > 1 {
            o.depth -= 1;
            return;
        }
        o.thread = None;
        o.depth = 0;
        lockorder::pop_held(self.id);
        self.freed.notify_one();
    }
}

/// The simulator's `kcondvar_t`.
pub struct SimCondvar {
    generation: Mutex<u64>,
    cv: Condvar,
}

impl SimCondvar {
    /// Sleep until a broadcast (true) or until `limit` (default
    /// [`WAIT_BOUND`]) passed (false); `m` is released meanwhile.
    #[track_caller]
    fn sleep(&self, m: &SimMutex, what: &str, limit: Option<Duration>) -> bool {
        if IN_MC_TX.with(|c| c.get()) {
            record_in_context(
                ViolationKind::BlockingInCallback,
                format!("{what} inside mc_tx: the transmit entry point must never block"),
            );
        } else if let Some(host) = crate::context::current_host() {
            crate::context::check_may_block(&host, what);
        }
        if !m.held() {
            record_in_context(ViolationKind::MutexNotHeld, format!("{what} without holding the mutex"));
            return true;
        }
        let g = lock(&self.generation);
        let start = *g;
        // Release the mutex while holding the generation lock: a
        // broadcast cannot slip in between release and sleep.
        let depth = m.release_all();
        let deadline = Instant::now() + limit.unwrap_or(WAIT_BOUND).min(WAIT_BOUND);
        let mut g = g;
        let mut woken = true;
        while *g == start {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                woken = false;
                break;
            }
            g = self.cv.wait_timeout(g, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        drop(g);
        m.acquire_or_fail(depth, &format!("{what} (re-entering the mutex)"));
        woken
    }
}

impl RawCondvar<SimMutex> for SimCondvar {
    fn new() -> Self {
        SimCondvar { generation: Mutex::new(0), cv: Condvar::new() }
    }

    #[track_caller]
    fn wait(&self, m: &SimMutex) {
        if !self.sleep(m, "cv_wait", None) {
            let msg = format!(
                "cv_wait slept {WAIT_BOUND:?} and nobody called cv_broadcast: a lost wake-up or a \
                 deadlock in the driver"
            );
            record_in_context(ViolationKind::Deadlock, msg.clone());
            panic!("tuntap-sim: {msg}");
        }
    }

    /// `cv_reltimedwait` (usr/src/uts/common/os/condvar.c): the same
    /// checks as `cv_wait`; the time is real time, shortened to the
    /// host's [`crate::SimHost::set_timed_wait_cap`] if a test set one
    /// (time passing faster, never a wake-up earlier than a real one).
    #[track_caller]
    fn timed_wait(&self, m: &SimMutex, usec: u64) -> Option<u64> {
        let mut d = Duration::from_micros(usec);
        if let Some(cap) = crate::context::current_host().and_then(|h| h.timed_wait_cap()) {
            d = d.min(cap);
        }
        let start = Instant::now();
        if !self.sleep(m, "cv_reltimedwait", Some(d)) {
            return None;
        }
        let left = d.saturating_sub(start.elapsed());
        // Scale what is left back to the caller's time.
        let full = Duration::from_micros(usec);
        let left_us = if d.is_zero() { 0 } else { (left.as_secs_f64() / d.as_secs_f64() * full.as_micros() as f64) as u64 };
        Some(left_us.max(1))
    }

    fn broadcast(&self) {
        let mut g = lock(&self.generation);
        *g = g.wrapping_add(1);
        self.cv.notify_all();
    }
}
