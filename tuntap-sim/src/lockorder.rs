// SPDX-License-Identifier: MPL-2.0
//! Lock order: the simulator's lockdep for driver kmutexes.
//!
//! Theory statement.  illumos has no lock-order checker: `mutex_enter(9F)`
//! of two adaptive mutexes taken in opposite orders by two threads simply
//! deadlocks (`usr/src/uts/common/os/mutex.c`, `mutex_vector_enter`: a
//! waiter sleeps on the turnstile until the owner exits, with no cycle
//! detection).  The driver documents one order (tuntap-drv/src/lib.rs,
//! "Locks and their order", and each file's theory statement), and this
//! module holds it to one order at run time: any cycle among the
//! acquisitions a test makes inverts whatever order is documented.
//!
//! Every [`crate::sync::SimMutex`] gets a unique instance number at
//! creation.  Each thread keeps the stack of instances it holds.  When a
//! thread takes mutex `B` while holding `A`, the edge `A -> B` ("A was
//! held when B was taken") is recorded with a backtrace of the first time
//! it was seen.  Before recording it, the graph is searched for a path
//! `B -> ... -> A`: if there is one, this acquisition inverts an order
//! the driver already used, which on illumos is a deadlock waiting for
//! the right interleaving, and a [`ViolationKind::LockOrder`] is recorded
//! (once per pair) naming the driver functions of both orders.  The
//! inverting edge is not added, so the graph stays acyclic.
//!
//! The check runs before the mutex is taken (as lockdep does), so a test
//! reports the inversion even when its single thread could never
//! deadlock.  Instances are forgotten when their mutex is dropped, so a
//! freed link's locks never alias a new one's.
//!
//! Locks: one process-wide `std` mutex guards the graph (instance numbers
//! are unique across hosts); it is never held while calling anything that
//! could take a driver lock.

use std::backtrace::Backtrace;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::host::{ViolationKind, lock, record_in_context};

/// Where the driver documents its lock order (named in every report; the
/// order itself has its one home there).
pub const DOCUMENTED_ORDER: &str = "tuntap-drv/src/lib.rs, \"Locks and their order\"";

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Instances of driver mutexes the calling thread holds, oldest first.
    static HELD: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

#[derive(Default)]
struct Graph {
    /// `after[a][b]`: `b` was taken while `a` was held; where first seen.
    after: HashMap<u64, HashMap<u64, Backtrace>>,
    /// Reverse index of `after`, to forget an instance quickly.
    before: HashMap<u64, HashSet<u64>>,
    /// Pairs already reported.
    reported: HashSet<(u64, u64)>,
}

impl Graph {
    /// Is there a path `from -> ... -> to`?  Returns the first edge of it
    /// out of `from` (to name the earlier order).
    fn path(&self, from: u64, to: u64) -> Option<u64> {
        let first_steps = self.after.get(&from)?;
        for &first in first_steps.keys() {
            let mut seen = HashSet::new();
            let mut stack = vec![first];
            while let Some(n) = stack.pop() {
                if n == to {
                    return Some(first);
                }
                if !seen.insert(n) {
                    continue;
                }
                if let Some(next) = self.after.get(&n) {
                    stack.extend(next.keys().copied());
                }
            }
        }
        None
    }
}

fn graph() -> &'static Mutex<Graph> {
    static G: OnceLock<Mutex<Graph>> = OnceLock::new();
    G.get_or_init(|| Mutex::new(Graph::default()))
}

/// A fresh instance number for a new mutex.
pub(crate) fn new_instance() -> u64 {
    NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed)
}

/// How many driver mutexes the calling thread holds.
pub(crate) fn held_count() -> usize {
    HELD.with(|h| h.borrow().len())
}

/// The calling thread is about to take `id`: check and record the order.
#[track_caller]
pub(crate) fn before_enter(id: u64) {
    let held: Vec<u64> = HELD.with(|h| h.borrow().clone());
    if held.is_empty() {
        return;
    }
    let mut report = None;
    {
        let mut g = lock(graph());
        for &h in &held {
            if h == id || g.after.get(&h).is_some_and(|m| m.contains_key(&id)) {
                continue;
            }
            if let Some(first) = g.path(id, h) {
                if g.reported.insert((h, id)) {
                    let earlier = g.after.get(&id).and_then(|m| m.get(&first)).map(driver_frames);
                    report = Some((h, id, earlier.unwrap_or_default()));
                }
                continue;
            }
            g.after.entry(h).or_default().insert(id, Backtrace::force_capture());
            g.before.entry(id).or_default().insert(h);
        }
    }
    if let Some((h, id, earlier)) = report {
        record_in_context(
            ViolationKind::LockOrder,
            format!(
                "lock order inversion: taking kmutex #{id} while holding kmutex #{h}, but #{id} was held \
                 when #{h} (or a lock taken under it) was taken before, at:\n{earlier}\n\
                 Two threads taking them in these opposite orders deadlock on illumos, which has no \
                 lockdep (mutex_vector_enter in usr/src/uts/common/os/mutex.c).  Documented order: \
                 {DOCUMENTED_ORDER}"
            ),
        );
    }
}

/// The calling thread now holds `id`.
pub(crate) fn push_held(id: u64) {
    HELD.with(|h| h.borrow_mut().push(id));
}

/// The calling thread released `id`.
pub(crate) fn pop_held(id: u64) {
    HELD.with(|h| {
        let mut v = h.borrow_mut();
        if let Some(pos) = v.iter().rposition(|x| *x == id) {
            v.remove(pos);
        }
    });
}

/// Forget a dropped mutex.
pub(crate) fn forget(id: u64) {
    let mut g = lock(graph());
    if let Some(next) = g.after.remove(&id) {
        for n in next.keys() {
            if let Some(b) = g.before.get_mut(n) {
                b.remove(&id);
            }
        }
    }
    if let Some(prev) = g.before.remove(&id) {
        for p in prev {
            if let Some(a) = g.after.get_mut(&p) {
                a.remove(&id);
            }
        }
    }
    g.reported.retain(|(a, b)| *a != id && *b != id);
}

/// The driver frames of a backtrace (the functions that took the locks),
/// one per line; the whole backtrace when none is recognisable.
fn driver_frames(bt: &Backtrace) -> String {
    let text = bt.to_string();
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        let t = l.trim();
        let is_fn = t.split_once(": ").is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()));
        if is_fn && t.contains("tuntap_drv::") && !t.contains("tuntap_drv::sync::") && !t.contains("tuntap_sim::") {
            out.push_str("    ");
            out.push_str(t);
            if let Some(at) = lines.peek().filter(|n| n.trim_start().starts_with("at ")) {
                out.push_str(&format!(" ({})", at.trim()));
            }
            out.push('\n');
        }
    }
    if out.is_empty() { text } else { out }
}
