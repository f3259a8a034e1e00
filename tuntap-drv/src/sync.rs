// SPDX-License-Identifier: MPL-2.0
//! `KMutex`: data guarded by a kernel mutex, with an RAII guard.
//!
//! Theory statement.  A `KMutex<K, T>` owns its `T` and hands out access
//! only through a [`KMutexGuard`], which exits the mutex when dropped.  The
//! raw lock is the kernel's (`kmutex_t`) or the simulator's, which records
//! which thread holds driver locks so that it can catch a mac upcall made
//! with one held.  Lock order across the driver is documented in lib.rs.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

use crate::ddi::{Kernel, RawCondvar, RawMutex};

pub struct KMutex<K: Kernel, T> {
    raw: K::Mutex,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by `raw`.
unsafe impl<K: Kernel, T: Send> Send for KMutex<K, T> {}
// SAFETY: as above; a shared KMutex only gives out &mut T under the lock.
unsafe impl<K: Kernel, T: Send> Sync for KMutex<K, T> {}

impl<K: Kernel, T> KMutex<K, T> {
    pub fn new(value: T) -> Self {
        Self { raw: K::Mutex::new(), data: UnsafeCell::new(value) }
    }

    pub fn lock(&self) -> KMutexGuard<'_, K, T> {
        self.raw.enter();
        KMutexGuard { lock: self }
    }

    /// Sleep on `cv` until `done` holds; the lock is held when it is
    /// evaluated and when this returns.
    pub fn wait_until<'a>(
        &'a self,
        mut guard: KMutexGuard<'a, K, T>,
        cv: &KCondvar<K>,
        mut done: impl FnMut(&mut T) -> bool,
    ) -> KMutexGuard<'a, K, T> {
        while !done(&mut guard) {
            cv.raw.wait(&self.raw);
        }
        guard
    }

    /// As [`KMutex::wait_until`], but for at most `usec` microseconds in
    /// all (`cv_reltimedwait(9F)` with what is left after each wake-up);
    /// the second value is false when the time ran out with `done` still
    /// false.
    pub fn wait_until_for<'a>(
        &'a self,
        mut guard: KMutexGuard<'a, K, T>,
        cv: &KCondvar<K>,
        usec: u64,
        mut done: impl FnMut(&mut T) -> bool,
    ) -> (KMutexGuard<'a, K, T>, bool) {
        let mut left = usec;
        while !done(&mut guard) {
            match cv.raw.timed_wait(&self.raw, left) {
                Some(l) if l > 0 => left = l,
                _ => {
                    let ok = done(&mut guard);
                    return (guard, ok);
                }
            }
        }
        (guard, true)
    }
}

pub struct KMutexGuard<'a, K: Kernel, T> {
    lock: &'a KMutex<K, T>,
}

impl<K: Kernel, T> Deref for KMutexGuard<'_, K, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while the mutex is held.
        unsafe { &*self.lock.data.get() }
    }
}

impl<K: Kernel, T> DerefMut for KMutexGuard<'_, K, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while the mutex is held, and it is
        // borrowed mutably, so this is the only reference.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<K: Kernel, T> Drop for KMutexGuard<'_, K, T> {
    fn drop(&mut self) {
        self.lock.raw.exit();
    }
}

/// A condition variable to pair with a [`KMutex`].
pub struct KCondvar<K: Kernel> {
    raw: K::Condvar,
}

impl<K: Kernel> KCondvar<K> {
    pub fn new() -> Self {
        Self { raw: K::Condvar::new() }
    }
    pub fn raw(&self) -> &K::Condvar {
        &self.raw
    }
    pub fn broadcast(&self) {
        self.raw.broadcast();
    }
}

impl<K: Kernel> Default for KCondvar<K> {
    fn default() -> Self {
        Self::new()
    }
}
