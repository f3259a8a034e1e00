// SPDX-License-Identifier: MPL-2.0
//! The host's worker threads: the STREAMS service thread and the taskq.
//!
//! Theory statement.  A [`Worker`] runs boxed jobs one at a time, in
//! order, on its own named thread, with no simulator lock held; jobs
//! queued with `push_late` wait until `release`.  A job that panics (a
//! bug in a test driver) is caught so the worker lives on.
//! [`Worker::drain`] waits, bounded, until nothing is queued or running;
//! [`Worker::stop`] ends the thread and joins it unless a job is still
//! running after [`WAIT_BOUND`] (a hung driver call is left behind rather
//! than hanging the test).  [`Worker::hold`] occupies the thread with a
//! job that waits for its [`Gate`] (at most [`WAIT_BOUND`]), so work
//! queued meanwhile waits behind it.
//!
//! Locks: the worker's own queue mutex, and a gate's own mutex (a leaf).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::host::lock;
use crate::watchdog::WAIT_BOUND;

pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// Holds a worker busy (see [`Worker::hold`]) until opened or dropped.
pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    /// Let the worker go on with the jobs queued behind the hold.
    pub fn open(&self) {
        *lock(&self.0.0) = true;
        self.0.1.notify_all();
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.open();
    }
}

pub(crate) struct WorkerQ {
    pub(crate) jobs: VecDeque<Job>,
    /// Deferred work held back to run late (see `SimKernel::defer`).
    pub(crate) held: VecDeque<Job>,
    pub(crate) busy: bool,
    stop: bool,
}

pub(crate) struct Worker {
    pub(crate) q: Mutex<WorkerQ>,
    cv: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: Mutex<Option<std::thread::ThreadId>>,
}

impl Worker {
    pub(crate) fn start(name: String) -> Arc<Worker> {
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

    /// Occupy the thread until the returned gate opens (or [`WAIT_BOUND`]
    /// passes): jobs pushed meanwhile queue behind, as taskq entries do
    /// while every thread of the taskq is busy.
    pub(crate) fn hold(&self) -> Gate {
        let gate = Gate(Arc::new((Mutex::new(false), Condvar::new())));
        let g = gate.0.clone();
        self.push(Box::new(move || {
            let (open, cv) = &*g;
            let deadline = Instant::now() + WAIT_BOUND;
            let mut o = lock(open);
            while !*o && Instant::now() < deadline {
                o = cv.wait_timeout(o, deadline - Instant::now()).unwrap_or_else(|e| e.into_inner()).0;
            }
        }));
        gate
    }

    pub(crate) fn is_current(&self) -> bool {
        *lock(&self.thread_id) == Some(std::thread::current().id())
    }

    /// Wait until no job is queued or running; false on timeout.
    pub(crate) fn drain(&self, timeout: Duration) -> bool {
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
    pub(crate) fn stop(&self) {
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

