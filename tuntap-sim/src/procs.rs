// SPDX-License-Identifier: MPL-2.0
//! A process table for the simulated host: processes that start, run
//! under an SMF service (their process contract's `svc_fmri`) and die.
//!
//! Theory statement.  Link-management tools decide whether a link is
//! stale by asking whether the process that made it is still alive, so
//! the simulator needs processes whose life the test controls.  Each
//! process has a pid, a name, an optional service FMRI and a start time
//! read from the host's wall clock (the clock the driver stamps links
//! with).  A dead process stays in the table as history: a pid can be
//! reused by a later process, and [`SimProcesses::lookup_at`] answers
//! "which process had this pid at time t" -- what a kernel that records
//! a link creator's identity at creation time would know.
//!
//! The table is its own object (not part of [`SimHost`]'s state): the
//! driver never sees it; only the userland model does.  Locks: one
//! mutex, never held while calling anything else.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};


use crate::host::{SimHost, SimKernel};

/// One process, alive or dead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessRecord {
    pub pid: i32,
    pub name: String,
    /// The SMF service FMRI of the process contract it runs in.
    pub service: Option<String>,
    /// Start time, nanoseconds since the epoch (host wall clock).
    pub started_ns: u64,
    /// Exit time; `None` while alive.
    pub exited_ns: Option<u64>,
}

impl ProcessRecord {
    pub fn alive(&self) -> bool {
        self.exited_ns.is_none()
    }
}

#[derive(Default)]
struct Table {
    /// Every process that ever had the pid, oldest first.
    by_pid: BTreeMap<i32, Vec<ProcessRecord>>,
    next_pid: i32,
}

/// The simulated host's processes.  Cheap to clone (shared table).
#[derive(Clone)]
pub struct SimProcesses {
    kernel: SimKernel,
    table: Arc<Mutex<Table>>,
}

/// Why a process could not be started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// A live process already has the pid.
    PidInUse(i32),
}

impl SimProcesses {
    /// Pids handed out by [`SimProcesses::spawn`] start here, clear of
    /// the default pid (1000) of [`SimHost::open`].
    pub const FIRST_PID: i32 = 2000;

    pub fn new(host: &SimHost) -> Self {
        SimProcesses {
            kernel: host.kernel(),
            table: Arc::new(Mutex::new(Table { by_pid: BTreeMap::new(), next_pid: Self::FIRST_PID })),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Start and exit times are `pr_start`-fine (nanoseconds), unlike the
    /// driver's `ddi_get_time` clock.
    fn now(&self) -> u64 {
        self.kernel.hrestime_ns()
    }

    /// Start a process with a fresh pid.
    pub fn spawn(&self, name: &str, service: Option<&str>) -> i32 {
        let now = self.now();
        let mut t = self.table();
        let mut pid = t.next_pid;
        while t.by_pid.get(&pid).is_some_and(|v| v.iter().any(ProcessRecord::alive)) {
            pid += 1;
        }
        t.next_pid = pid + 1;
        t.by_pid.entry(pid).or_default().push(ProcessRecord {
            pid,
            name: name.to_string(),
            service: service.map(str::to_string),
            started_ns: now,
            exited_ns: None,
        });
        pid
    }

    /// Start a process with a given pid (pid reuse after a death).
    pub fn spawn_with_pid(&self, pid: i32, name: &str, service: Option<&str>) -> Result<(), SpawnError> {
        let now = self.now();
        let mut t = self.table();
        let history = t.by_pid.entry(pid).or_default();
        if history.iter().any(ProcessRecord::alive) {
            return Err(SpawnError::PidInUse(pid));
        }
        history.push(ProcessRecord {
            pid,
            name: name.to_string(),
            service: service.map(str::to_string),
            started_ns: now,
            exited_ns: None,
        });
        Ok(())
    }

    /// The process exits (or crashes).  Returns false if no live
    /// process had the pid.
    pub fn exit(&self, pid: i32) -> bool {
        let now = self.now();
        let mut t = self.table();
        match t.by_pid.get_mut(&pid).and_then(|v| v.iter_mut().find(|p| p.alive())) {
            Some(p) => {
                p.exited_ns = Some(now);
                true
            }
            None => false,
        }
    }

    /// Every process exits (a reboot).
    pub fn exit_all(&self) {
        let now = self.now();
        let mut t = self.table();
        for p in t.by_pid.values_mut().flatten().filter(|p| p.alive()) {
            p.exited_ns = Some(now);
        }
    }

    /// The live process with this pid, as `/proc/<pid>` shows it.
    pub fn live(&self, pid: i32) -> Option<ProcessRecord> {
        self.table().by_pid.get(&pid).and_then(|v| v.iter().find(|p| p.alive()).cloned())
    }

    /// The process that had `pid` at time `at_ns` (alive or dead since).
    pub fn lookup_at(&self, pid: i32, at_ns: u64) -> Option<ProcessRecord> {
        let t = self.table();
        t.by_pid
            .get(&pid)?
            .iter()
            .rev()
            .find(|p| p.started_ns <= at_ns && p.exited_ns.is_none_or(|e| e >= at_ns))
            .cloned()
    }

    /// Live pids of the processes running under `fmri`, in order.
    pub fn service_pids(&self, fmri: &str) -> Vec<i32> {
        self.table()
            .by_pid
            .values()
            .flatten()
            .filter(|p| p.alive() && p.service.as_deref() == Some(fmri))
            .map(|p| p.pid)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn processes_live_die_and_are_remembered() {
        let host = SimHost::new();
        let procs = SimProcesses::new(&host);
        let a = procs.spawn("openvpn", Some("svc:/network/openvpn:office"));
        let b = procs.spawn("sh", None);
        assert_ne!(a, b);
        assert!(procs.live(a).is_some());
        assert_eq!(procs.service_pids("svc:/network/openvpn:office"), vec![a]);
        let t0 = host.kernel().hrestime_ns();
        host.advance_clock(Duration::from_secs(1));
        assert!(procs.exit(a));
        assert!(!procs.exit(a), "already dead");
        assert!(procs.live(a).is_none());
        assert!(procs.service_pids("svc:/network/openvpn:office").is_empty());
        // History still knows who had the pid before the death.
        assert_eq!(procs.lookup_at(a, t0).unwrap().name, "openvpn");
        // Reuse: a new process with the same pid is not the old one.
        host.advance_clock(Duration::from_secs(1));
        procs.spawn_with_pid(a, "cron", None).unwrap();
        assert_eq!(procs.live(a).unwrap().name, "cron");
        assert_eq!(procs.lookup_at(a, t0).unwrap().name, "openvpn");
        assert_eq!(procs.spawn_with_pid(a, "x", None), Err(SpawnError::PidInUse(a)));
        procs.exit_all();
        assert!(procs.live(b).is_none());
        host.finish();
    }
}
