// SPDX-License-Identifier: MPL-2.0
//! Plain locks for the lean kernel, and the per-thread count of driver
//! lock acquisitions ([`locks_taken`]).
//!
//! The mutex is a test-and-test-and-set spin lock that yields the CPU
//! after a short spin, in the spirit of an illumos adaptive mutex
//! (`usr/src/uts/common/os/mutex.c`: spin while the owner runs, else
//! block); no owner tracking, no rule checks.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use tuntap_drv::ddi::{RawCondvar, RawMutex};

thread_local! {
    static LOCKS: Cell<u64> = const { Cell::new(0) };
}

/// Driver mutex acquisitions (`mutex_enter`) made by this thread so far.
pub fn locks_taken() -> u64 {
    LOCKS.with(Cell::get)
}

pub struct LeanMutex {
    held: AtomicBool,
}

impl LeanMutex {
    /// Take the lock without counting it (the lean kernel's own locks).
    pub(crate) fn acquire_uncounted(&self) {
        self.acquire();
    }

    fn acquire(&self) {
        let mut spins = 0u32;
        loop {
            if !self.held.load(Ordering::Relaxed)
                && self.held.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                return;
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

impl RawMutex for LeanMutex {
    fn new() -> Self {
        Self { held: AtomicBool::new(false) }
    }
    fn enter(&self) {
        LOCKS.with(|n| n.set(n.get() + 1));
        self.acquire();
    }
    fn exit(&self) {
        self.held.store(false, Ordering::Release);
    }
}

pub struct LeanCondvar {
    generation: AtomicU32,
}

impl RawCondvar<LeanMutex> for LeanCondvar {
    fn new() -> Self {
        Self { generation: AtomicU32::new(0) }
    }
    fn wait(&self, m: &LeanMutex) {
        let g = self.generation.load(Ordering::Acquire);
        m.exit();
        while self.generation.load(Ordering::Acquire) == g {
            std::thread::yield_now();
        }
        m.acquire();
    }
    fn timed_wait(&self, m: &LeanMutex, usec: u64) -> Option<u64> {
        let g = self.generation.load(Ordering::Acquire);
        let (start, limit) = (std::time::Instant::now(), std::time::Duration::from_micros(usec));
        m.exit();
        let mut woken = true;
        while self.generation.load(Ordering::Acquire) == g {
            if start.elapsed() >= limit {
                woken = false;
                break;
            }
            std::thread::yield_now();
        }
        m.acquire();
        woken.then(|| (limit.saturating_sub(start.elapsed()).as_micros() as u64).max(1))
    }
    fn broadcast(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}
