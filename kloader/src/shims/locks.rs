// SPDX-License-Identifier: MPL-2.0

//! Locks and condition variables: `sys/mutex.h`, `sys/rwlock.h`,
//! `sys/condvar.h` (illumos-gate `usr/src/uts/common/sys/`).
//!
//! Theory statement.  Each `kmutex_t`/`kcondvar_t` of the module is, by
//! its address, one simulator `SimMutex`/`SimCondvar`, so the simulator's
//! lock rules (no recursive enter, no lock held across an upcall, no
//! sleep in `mc_tx`, exit only by the holder) hold for the loaded code.
//! A zeroed lock word is a valid adaptive mutex in illumos (mutex.c), so
//! the first `mutex_enter` creates the simulator lock; `mutex_destroy`
//! forgets it.  rwlocks are modelled as exclusive locks: readers
//! serialise, which can only add waiting, never remove it.  `cv_signal`
//! wakes every waiter, which cv_wait(9F) callers must tolerate.
//! Locks: the `State` tables, never held while blocking.

use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

use illumos_sys_hdrs::{kcondvar_t, kmutex_t, krwlock_t};
use tuntap_drv::ddi::{RawCondvar, RawMutex};
use tuntap_sim::sync::{SimCondvar, SimMutex};

use super::{State, lock, st};
use crate::kstack::host;

pub fn table() -> Vec<(&'static str, usize)> {
    vec![
        f!(mutex_init),
        f!(mutex_enter),
        f!(mutex_exit),
        f!(mutex_destroy),
        f!(mutex_owned),
        f!(rw_init),
        f!(rw_enter),
        f!(rw_exit),
        f!(rw_destroy),
        f!(cv_init),
        f!(cv_wait),
        f!(cv_wait_sig),
        f!(cv_reltimedwait),
        f!(cv_signal),
        f!(cv_broadcast),
        f!(cv_destroy),
    ]
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
/// `clock_t cv_reltimedwait(kcondvar_t *, kmutex_t *, clock_t,
/// time_res_t)` (sys/condvar.h): -1 when `delta` ticks (hz = 100, as
/// `ddi_get_lbolt` and `drv_usectohz` here) passed, else the ticks left.
unsafe extern "C" fn cv_reltimedwait(c: *mut kcondvar_t, m: *mut kmutex_t, delta: libc::c_long, _res: c_int) -> libc::c_long {
    if delta <= 0 {
        return -1;
    }
    host(|| {
        let s = st();
        let (cv, mx) = (cv_of(&s, c as usize), mutex_of(&s, m as usize));
        drop(s);
        let usec = u64::try_from(delta).unwrap_or(0).saturating_mul(10_000);
        match cv.timed_wait(&mx, usec) {
            Some(left) => libc::c_long::try_from(left.div_ceil(10_000)).unwrap_or(1).max(1),
            None => -1,
        }
    })
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

