// SPDX-License-Identifier: MPL-2.0

//! `KMutex<T>`: a value guarded by an illumos kernel mutex (`kmutex_t`).
//!
//! Theory statement.  A `KMutex` owns its `T`; the only way to reach the
//! value through a shared reference is [`KMutex::lock`], which enters the
//! mutex and returns a [`KMutexGuard`] that exits it on drop.  The mutex
//! is an adaptive `MUTEX_DRIVER` lock with a NULL interrupt cookie: it may
//! be held across blocking calls but never taken in high-level interrupt
//! context (this driver has no interrupts).
//!
//! Invariants:
//! - The `kmutex_t` is initialised with `mutex_init` at its final
//!   address and never moves afterwards: lock and value live in one heap
//!   block (`Box`, i.e. `kmem_alloc` in the kernel) that the `KMutex`
//!   merely points to.  It is destroyed with `mutex_destroy` in `Drop`,
//!   which can only run when no guard exists (guards borrow the `KMutex`).
//! - A guard is `!Send`: illumos requires the thread that entered a mutex
//!   to be the one that exits it.
//! - Lock ordering between `KMutex`es is the caller's business and is
//!   written down in the theory statement of the code that nests them.

// Also declared at the crate root by the driver; repeating it here keeps
// this module self-contained.
extern crate alloc;

use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::ptr;

use illumos_sys_hdrs::kernel::{
    mutex_destroy, mutex_enter, mutex_exit, mutex_init, mutex_owned, mutex_tryenter,
};
use illumos_sys_hdrs::{MUTEX_DRIVER, kmutex_t};

struct Shared<T> {
    lock: UnsafeCell<kmutex_t>,
    value: UnsafeCell<T>,
}

/// A `T` protected by a kernel adaptive mutex.
pub struct KMutex<T> {
    shared: Box<Shared<T>>,
}

// SAFETY: the value moves between threads only with the KMutex itself,
// which requires T: Send.
unsafe impl<T: Send> Send for KMutex<T> {}
// SAFETY: shared access hands out &T/&mut T only while the kernel mutex
// is held, so at most one thread at a time touches the value; T: Send
// because the value is effectively passed between the threads that lock.
unsafe impl<T: Send> Sync for KMutex<T> {}

impl<T> KMutex<T> {
    /// Allocate the lock and value together and initialise the lock.
    pub fn new(value: T) -> Self {
        let shared = Box::new(Shared {
            lock: UnsafeCell::new(kmutex_t {
                _opaque: [ptr::null_mut()],
            }),
            value: UnsafeCell::new(value),
        });
        // SAFETY: the kmutex_t is at its final heap address, is not yet
        // initialised and nobody else can see it.  A NULL name and NULL
        // interrupt cookie are what mutex(9F) asks of driver mutexes.
        unsafe {
            mutex_init(
                shared.lock.get(),
                ptr::null_mut(),
                MUTEX_DRIVER,
                ptr::null_mut(),
            )
        };
        Self { shared }
    }

    /// Enter the mutex, blocking until it is free.
    pub fn lock(&self) -> KMutexGuard<'_, T> {
        // SAFETY: the lock was initialised in new() and is destroyed only
        // in drop(), which cannot run while &self is borrowed.
        unsafe { mutex_enter(self.shared.lock.get()) };
        KMutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }

    /// Enter the mutex only if it is free right now.
    pub fn try_lock(&self) -> Option<KMutexGuard<'_, T>> {
        // SAFETY: as in lock().
        let entered = unsafe { mutex_tryenter(self.shared.lock.get()) };
        (entered != 0).then_some(KMutexGuard {
            mutex: self,
            _not_send: PhantomData,
        })
    }

    /// Whether the calling thread holds this mutex (for assertions).
    pub fn held_by_current_thread(&self) -> bool {
        // SAFETY: as in lock(); mutex_owned only reads the lock word.
        unsafe { mutex_owned(self.shared.lock.get()) != 0 }
    }

    /// Exclusive access without locking: `&mut self` proves no guard and
    /// no other reference exists.
    pub fn get_mut(&mut self) -> &mut T {
        self.shared.value.get_mut()
    }
}

impl<T> Drop for KMutex<T> {
    fn drop(&mut self) {
        // SAFETY: &mut self means no guard is alive, so the mutex is not
        // held; it was initialised in new() and is destroyed exactly once.
        unsafe { mutex_destroy(self.shared.lock.get()) };
    }
}

/// Proof that the calling thread holds a [`KMutex`]; exits it on drop.
pub struct KMutexGuard<'a, T> {
    mutex: &'a KMutex<T>,
    /// Kernel mutexes must be exited by the thread that entered them.
    _not_send: PhantomData<*const ()>,
}

impl<T> Deref for KMutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the mutex,
        // so no other reference to the value is live.
        unsafe { &*self.mutex.shared.value.get() }
    }
}

impl<T> DerefMut for KMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in deref(); &mut self makes this the only borrow.
        unsafe { &mut *self.mutex.shared.value.get() }
    }
}

impl<T> Drop for KMutexGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this guard was created right after the mutex was entered
        // by this thread and is dropped once, so the thread still owns it.
        unsafe { mutex_exit(self.mutex.shared.lock.get()) };
    }
}
