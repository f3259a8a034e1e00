// SPDX-License-Identifier: MPL-2.0
//! Bounds: every simulator wait has one, every test a time limit, and a
//! failing test always shows the rules it broke.
//!
//! Theory statement.  A broken driver must make a test fail with the
//! broken rule named, never hang the suite or fail with a bare errno.
//! Three mechanisms:
//! * [`WAIT_BOUND`]: the longest any simulator wait lasts (a kmutex, a
//!   condition variable, a worker join, a read or poll without a
//!   timeout).  Past it the wait is recorded as a violation and given up.
//! * [`SimHost::set_time_limit`]: a watchdog thread per host.  If the host
//!   is not finished (or dropped) within the limit, it prints the test's
//!   name, the limit and every violation recorded so far, and ends the
//!   test process with status 124 (a hung test cannot be unwound from
//!   outside).  The test rigs set [`TEST_TIME_LIMIT`].
//! * [`report`]: the text of the violations, printed by `finish` and also
//!   by the host's drop while a test is already panicking (a failed
//!   assertion), so the first broken rule is on the screen next to the
//!   assertion it caused.
//!
//! Locks: the watchdog's own `std` mutex only.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::host::{HostShared, SimHost, Violation, lock};

/// The longest a simulator wait lasts before it is a violation.
pub const WAIT_BOUND: Duration = Duration::from_secs(30);

/// The time limit the test rigs give each test (one host per test).
pub const TEST_TIME_LIMIT: Duration = Duration::from_secs(300);

/// Exit status of a test process ended by the watchdog (as timeout(1)).
pub const TIME_LIMIT_EXIT: i32 = 124;

/// Set when the host is finished; the watchdog thread waits on it.
#[derive(Default)]
pub(crate) struct Watchdog {
    done: Mutex<bool>,
    cv: Condvar,
}

impl Watchdog {
    /// The host finished: stop the watchdog.
    pub(crate) fn disarm(&self) {
        *lock(&self.done) = true;
        self.cv.notify_all();
    }
}

/// The violations as a report, one per line with its backtrace.
pub fn report(host_id: u64, v: &[Violation]) -> String {
    let mut out = format!("tuntap-sim: {} violation(s) on host {host_id}:\n", v.len());
    for x in v {
        out.push_str(&format!("- {x}\n"));
    }
    out
}

impl SimHost {
    /// End the test process (status [`TIME_LIMIT_EXIT`]) if this host is
    /// not finished within `limit`, after printing the test's name and
    /// every violation recorded so far.  Call once per host.
    pub fn set_time_limit(&self, limit: Duration) {
        let wd = self.shared.watchdog.clone();
        let host: Weak<HostShared> = Arc::downgrade(&self.shared);
        let test = std::thread::current().name().unwrap_or("?").to_string();
        let id = self.shared.id;
        let spawned = std::thread::Builder::new().name(format!("sim{id}-watchdog")).spawn(move || {
            let deadline = Instant::now() + limit;
            let mut done = lock(&wd.done);
            while !*done {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                done = wd.cv.wait_timeout(done, left).unwrap_or_else(|e| e.into_inner()).0;
            }
            if *done {
                return;
            }
            drop(done);
            let v = host.upgrade().map(|h| h.violations_now()).unwrap_or_default();
            eprintln!(
                "\ntuntap-sim: test `{test}` exceeded its time limit of {limit:?} (host {id}): a hang in \
                 the driver or the test; ending the test process.\n{}",
                report(id, &v)
            );
            std::process::exit(TIME_LIMIT_EXIT);
        });
        if let Err(e) = spawned {
            panic!("tuntap-sim: cannot start the watchdog thread: {e}");
        }
    }
}
