// SPDX-License-Identifier: MPL-2.0
//! Driver locks (`kmutex_t`, `kcondvar_t`) that know who holds them.
//!
//! Theory statement.  [`SimMutex`] and [`SimCondvar`] are the simulator's
//! [`RawMutex`]/[`RawCondvar`].  Each thread keeps a count of the driver
//! locks it holds ([`driver_locks_held`]); the mac/dls upcalls, `putnext`
//! and `qreply` check it and record a violation when it is non-zero.
//! A kmutex is not recursive: entering a mutex the thread already holds
//! is recorded as a violation (on the host whose driver code the thread
//! is running, see [`crate::host`]'s thread context) and then allowed to
//! nest, so the test reports instead of deadlocking.  Exiting a mutex the
//! thread does not hold, and `cv_wait` without holding the mutex, are
//! violations too.  Sleeping on a condition variable inside `mc_tx` is a
//! violation (mc_tx must never block).
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

use crate::host::{ViolationKind, record_in_context};

thread_local! {
    static HELD: Cell<usize> = const { Cell::new(0) };
    static IN_MC_TX: Cell<bool> = const { Cell::new(false) };
}

/// How many driver locks ([`SimMutex`]) the calling thread holds now.
pub fn driver_locks_held() -> usize {
    HELD.with(|h| h.get())
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
        HELD.with(|h| h.set(h.get().saturating_sub(1)));
        self.freed.notify_one();
        depth
    }

    fn acquire(&self, depth: usize) {
        let me = std::thread::current().id();
        let mut o = lock(&self.owner);
        while o.thread.is_some() {
            o = self.freed.wait(o).unwrap_or_else(|e| e.into_inner());
        }
        o.thread = Some(me);
        o.depth = depth;
        HELD.with(|h| h.set(h.get() + 1));
    }
}

impl RawMutex for SimMutex {
    fn new() -> Self {
        SimMutex { owner: Mutex::new(Owner { thread: None, depth: 0 }), freed: Condvar::new() }
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
        self.acquire(1);
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
        HELD.with(|h| h.set(h.get().saturating_sub(1)));
        self.freed.notify_one();
    }
}

/// The simulator's `kcondvar_t`.
pub struct SimCondvar {
    generation: Mutex<u64>,
    cv: Condvar,
}

impl RawCondvar<SimMutex> for SimCondvar {
    fn new() -> Self {
        SimCondvar { generation: Mutex::new(0), cv: Condvar::new() }
    }

    #[track_caller]
    fn wait(&self, m: &SimMutex) {
        if IN_MC_TX.with(|c| c.get()) {
            record_in_context(
                ViolationKind::BlockingInCallback,
                "cv_wait inside mc_tx: the transmit entry point must never block".into(),
            );
        } else if let Some(host) = crate::context::current_host() {
            crate::context::check_may_block(&host, "cv_wait");
        }
        if !m.held() {
            record_in_context(
                ViolationKind::MutexNotHeld,
                "cv_wait without holding the mutex".into(),
            );
            return;
        }
        let g = lock(&self.generation);
        let start = *g;
        // Release the mutex while holding the generation lock: a
        // broadcast cannot slip in between release and sleep.
        let depth = m.release_all();
        let mut g = g;
        while *g == start {
            g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        drop(g);
        m.acquire(depth);
    }

    fn broadcast(&self) {
        let mut g = lock(&self.generation);
        *g = g.wrapping_add(1);
        self.cv.notify_all();
    }
}
