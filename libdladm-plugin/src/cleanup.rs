// SPDX-License-Identifier: MPL-2.0
//! `cleanup`: find and remove the links crashed daemons left behind.
//!
//! Theory statement.  A link is **stale** when all of these hold:
//! 1. a process made it, not an administrator: the driver marks links
//!    made through the old API (`TUNNEWPPA`) or by attach-with-create as
//!    transient-origin; links made by `create`/`up` are configuration and
//!    are never touched (delete them with `delete`);
//! 2. no queue is attached to it (nobody serves it); a link in use is
//!    never touched;
//! 3. the process that made it is gone: no process has its pid, or the
//!    process that has it now started after the link was created (the
//!    pid was reused).
//!
//! Such a link is normally removed by the driver when its last queue
//! closes; it stays when it was made persistent (`TUN_IOC_SET_PERSIST`,
//! the analogue of Linux `TUNSETPERSIST`) or when an IP interface was
//! still plumbed on it.  Removal unplumbs IP first, then deletes the
//! link without force (if a daemon attached meanwhile, the driver says
//! busy and the link is left alone); the kernel gives its id back.
//!
//! `--for` narrows the candidates to what one daemon left:
//! * a pid: links whose creator had that pid (and, by rule 3, is gone);
//! * an SMF FMRI: links whose creator (or an attached process) is a live
//!   member of the service (`svcs -p`), or whose creator is **registered**
//!   for the service in the owner registry ([`crate::owners`]) with a
//!   start time at or before the link's creation.  Of all registrations
//!   of that pid (any service) started by then, the newest is the
//!   creator; a live unregistered process that started later still (and
//!   before the link) is the creator instead.  So a reused pid never
//!   ties a link to the wrong service.  Process contracts die with their
//!   processes; after a crash the registry is the only tie left.
//!
//! A non-dry run then prunes the registry: entries whose process is gone
//! and to which no remaining link can be traced are dropped.
//!
//! Clocks.  "Started at or before the link's creation" compares a
//! process's `pr_start` (a full `timestruc_t`, nanoseconds: `prgetpsinfo`
//! in illumos usr/src/uts/common/fs/proc/prsubr.c) with the driver's
//! creation stamp, which a driver stamping with `ddi_get_time(9F)` gives
//! in whole seconds.  Comparing those directly makes a daemon that
//! creates its link in the second it started look younger than the link
//! ([`started_by`] says why).  Every such comparison therefore goes
//! through [`started_by`], which compares whole seconds on both sides:
//! right for a seconds stamp and for a `gethrestime` one.  The price is
//! that a pid reused within the second of the link's creation is taken
//! for the creator: that keeps a link (or ties it to a service) it should
//! not, never deletes one still in use.

use std::collections::BTreeMap;

use crate::error::{Error, ErrorKind};
use crate::manager::TunAdm;
use crate::owners::{self, Fmri, OwnerEntry, OwnerError};
use crate::platform::{Errno, Pid, Platform, ProcessInfo};
use crate::types::*;

const NS_PER_SEC: u64 = 1_000_000_000;

/// Was a process that started at `started_ns` (`pr_start`) already
/// running when the driver stamped a link `created_ns`?  Like with like:
/// both in whole seconds, the precision of the coarser clock (see the
/// module text).
pub(crate) fn started_by(started_ns: u64, created_ns: u64) -> bool {
    started_ns / NS_PER_SEC <= created_ns / NS_PER_SEC
}

impl<P: Platform> TunAdm<P> {
    /// Is the creator of a link created at `created_ns` still running?
    fn creator_alive(&self, pid: i32, created_ns: u64) -> Option<ProcessInfo> {
        if pid <= 0 {
            return None;
        }
        self.platform().process(pid).filter(|p| started_by(p.started_ns, created_ns))
    }

    /// Find stale links and remove them (or, with `dry_run`, only say
    /// what would be done).  Links that were considered and kept are
    /// listed with the reason.
    pub fn cleanup(&self, opts: &CleanupOptions) -> Result<CleanupReport, Error> {
        let mut report = CleanupReport { dry_run: opts.dry_run, ..CleanupReport::default() };
        let (service_pids, registry) = match &opts.target {
            Some(CleanupTarget::Service(fmri)) => {
                let pids = match self.platform().service_pids(fmri.as_str()) {
                    Ok(pids) => pids,
                    Err(message) => {
                        // A deleted instance has no members, but its
                        // registry entries still count.
                        report.warnings.push(format!("cannot list the processes of {fmri}: {message}"));
                        Vec::new()
                    }
                };
                (pids, owners::load_all(self.owner_store(), &mut report.warnings))
            }
            _ => (Vec::new(), BTreeMap::new()),
        };
        for link in self.list()? {
            let Some(k) = &link.kernel else { continue };
            if k.zone != self.platform().zone() && self.platform().zone() != crate::platform::GLOBAL_ZONEID {
                continue;
            }
            let matches_target = match &opts.target {
                None => true,
                Some(CleanupTarget::Pid(pid)) => k.creator_pid == *pid,
                Some(CleanupTarget::Service(fmri)) => self.traced_to(k, fmri, &service_pids, &registry),
            };
            if !matches_target {
                continue;
            }
            let keep = |reason: String| CleanupKept { link: link.name.clone(), reason };
            if k.origin == Origin::Admin {
                report.kept.push(keep("configured by an administrator; remove it with 'delete'".into()));
                continue;
            }
            if k.queues > 0 {
                let pids = k.pids.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");
                report.kept.push(keep(format!("in use: {} queue(s) attached (pid {pids})", k.queues)));
                continue;
            }
            if let Some(p) = self.creator_alive(k.creator_pid, k.created_ns) {
                report.kept.push(keep(format!("its creator, pid {} ({}), is still running", p.pid, p.name)));
                continue;
            }
            let what = match (k.origin, k.kernel_persist) {
                (Origin::OldApi, _) => "old-API link",
                (_, true) => "persistent link",
                _ => "transient link",
            };
            let ifs = match self.platform().ip_interfaces(&link.name) {
                Ok(ifs) => ifs,
                Err(message) => {
                    report.actions.push(CleanupAction {
                        link: link.name.clone(),
                        linkid: link.linkid,
                        reason: format!("{what} of pid {}, which is gone", k.creator_pid),
                        steps: vec![],
                        result: Some(Err(Error::new(&link.name, ErrorKind::Ip { message }))),
                    });
                    continue;
                }
            };
            let mut reason = format!("{what} of pid {}, which is gone; no queue attached", k.creator_pid);
            if !ifs.is_empty() {
                reason.push_str(&format!("; IP still plumbed ({})", ifs.join(", ")));
            }
            let mut steps: Vec<CleanupStep> = ifs.iter().cloned().map(CleanupStep::UnplumbIp).collect();
            steps.push(CleanupStep::DeleteLink);
            let result = if opts.dry_run { None } else { Some(self.remove_stale(&link.name, link.linkid, &steps)) };
            report.actions.push(CleanupAction { link: link.name.clone(), linkid: link.linkid, reason, steps, result });
        }
        if !opts.dry_run {
            let only = match &opts.target {
                Some(CleanupTarget::Service(fmri)) => Some(fmri),
                _ => None,
            };
            let pruned = self.prune_owners(only)?;
            report.pruned = pruned.pruned;
            for w in pruned.warnings {
                // Pruning re-reads the files: say each problem once.
                if !report.warnings.contains(&w) {
                    report.warnings.push(w);
                }
            }
        }
        Ok(report)
    }

    /// Can link `k` be traced to service `fmri`?  See the module text.
    fn traced_to(
        &self,
        k: &KernelLink,
        fmri: &Fmri,
        service_pids: &[Pid],
        registry: &BTreeMap<Fmri, Vec<OwnerEntry>>,
    ) -> bool {
        let creator_now = self.platform().process(k.creator_pid);
        let live_creator = creator_now.as_ref().filter(|p| started_by(p.started_ns, k.created_ns));
        if live_creator.is_some() && service_pids.contains(&k.creator_pid) {
            return true;
        }
        let newest_registration = registry
            .iter()
            .flat_map(|(f, entries)| {
                entries
                    .iter()
                    .filter(|e| e.pid == k.creator_pid && started_by(e.started_ns, k.created_ns))
                    .map(move |e| (e.started_ns, f))
            })
            .max();
        if let Some((started_ns, registered_for)) = newest_registration {
            let superseded = live_creator.is_some_and(|p| p.started_ns > started_ns);
            if registered_for == fmri && !superseded {
                return true;
            }
        }
        let registered_live = |pid: Pid| {
            registry.get(fmri).is_some_and(|entries| {
                entries.iter().any(|e| {
                    e.pid == pid && self.platform().process(pid).is_some_and(|p| p.started_ns == e.started_ns)
                })
            })
        };
        k.pids.iter().any(|pid| service_pids.contains(pid) || registered_live(*pid))
    }

    /// Record that process `pid` runs under service `fmri` (the service's
    /// start method calls this right after starting its daemon), with the
    /// process's start time, so that `cleanup` with
    /// [`CleanupTarget::Service`] finds the links it makes even after it
    /// crashed.  Dead entries of `fmri` are pruned on the way.
    pub fn register_owner(&self, fmri: &Fmri, pid: Pid) -> Result<Registration, OwnerError> {
        let pid = owners::validate_pid(i64::from(pid))?;
        let process = self.platform().process(pid).ok_or(OwnerError::NoSuchProcess { pid })?;
        let entry = OwnerEntry { pid, started_ns: process.started_ns };
        let file = owners::load(self.owner_store(), fmri)?;
        let mut warnings = file.warnings;
        let before = file.entries.len();
        let mut entries = match self.kernel_links() {
            Ok(links) => file.entries.into_iter().filter(|e| self.entry_needed(e, &links)).collect(),
            Err(e) => {
                warnings.push(format!("not pruning the registry of {fmri}: {e}"));
                file.entries
            }
        };
        let pruned = before - entries.len();
        let already = entries.contains(&entry);
        if !already {
            entries.push(entry);
        }
        // Damaged lines are dropped by the rewrite; the entries are kept.
        if !already || pruned > 0 || !warnings.is_empty() {
            owners::save(self.owner_store(), fmri, &entries)?;
        }
        Ok(Registration { fmri: fmri.clone(), entry, process_name: process.name, already, pruned, warnings })
    }

    /// Remove `pid`'s entries (every entry, with `None`) from the
    /// registry of `fmri`.  Returns how many were removed.
    pub fn unregister_owner(&self, fmri: &Fmri, pid: Option<Pid>) -> Result<usize, OwnerError> {
        if let Some(p) = pid {
            owners::validate_pid(i64::from(p))?;
        }
        let file = owners::load(self.owner_store(), fmri)?;
        let before = file.entries.len();
        let kept: Vec<OwnerEntry> = file.entries.into_iter().filter(|e| pid.is_some_and(|p| p != e.pid)).collect();
        let removed = before - kept.len();
        if removed > 0 || !file.warnings.is_empty() {
            owners::save(self.owner_store(), fmri, &kept)?;
        }
        Ok(removed)
    }

    /// The entries of service `fmri` as stored (damaged lines reported
    /// as warnings).
    pub fn owners(&self, fmri: &Fmri) -> Result<owners::OwnerFile, OwnerError> {
        owners::load(self.owner_store(), fmri)
    }

    /// Drop registry entries (of `only`, or of every service) whose
    /// process is gone and to which no link can be traced any more.
    pub fn prune_owners(&self, only: Option<&Fmri>) -> Result<PruneReport, Error> {
        let links = self.kernel_links()?;
        let mut report = PruneReport::default();
        let files = match only {
            Some(fmri) => match owners::load(self.owner_store(), fmri) {
                Ok(file) => {
                    report.warnings.extend(file.warnings);
                    BTreeMap::from([(fmri.clone(), file.entries)])
                }
                Err(e) => {
                    report.warnings.push(e.to_string());
                    return Ok(report);
                }
            },
            None => owners::load_all(self.owner_store(), &mut report.warnings),
        };
        for (fmri, entries) in files {
            let before = entries.len();
            let kept: Vec<OwnerEntry> = entries.into_iter().filter(|e| self.entry_needed(e, &links)).collect();
            if kept.len() == before {
                continue;
            }
            match owners::save(self.owner_store(), &fmri, &kept) {
                Ok(()) => report.pruned += before - kept.len(),
                Err(e) => report.warnings.push(e.to_string()),
            }
        }
        Ok(report)
    }

    /// Every link the driver has (visible to the caller).
    fn kernel_links(&self) -> Result<Vec<KernelLink>, Error> {
        Ok(self.list()?.into_iter().filter_map(|l| l.kernel).collect())
    }

    /// Is a registry entry still worth keeping: its process runs, or a
    /// link it may have made is still there?
    fn entry_needed(&self, e: &OwnerEntry, links: &[KernelLink]) -> bool {
        let alive = self.platform().process(e.pid).is_some_and(|p| p.started_ns == e.started_ns);
        alive || links.iter().any(|k| k.creator_pid == e.pid && started_by(e.started_ns, k.created_ns))
    }

    fn remove_stale(&self, name: &str, linkid: u32, steps: &[CleanupStep]) -> Result<(), Error> {
        for step in steps {
            match step {
                CleanupStep::UnplumbIp(ifname) => self
                    .platform()
                    .ip_unplumb(ifname)
                    .map_err(|message| Error::new(name, ErrorKind::Ip { message }))?,
                CleanupStep::DeleteLink => {
                    // Re-check just before: a daemon may have attached.
                    let req = tuntap_abi::TunIocDelete {
                        version: tuntap_abi::TUN_ABI_VERSION,
                        flags: 0,
                        linkid,
                        _pad: 0,
                    };
                    match self.platform().control_ioctl(tuntap_abi::TUN_IOC_DELETE, tuntap_abi::as_bytes(&req)) {
                        Ok(_) | Err(Errno::ENOENT) => {}
                        Err(Errno::EBUSY) => {
                            return Err(Error::new(
                                name,
                                ErrorKind::Busy { reason: "it came into use meanwhile; left alone".into() },
                            ));
                        }
                        Err(e) => return Err(Error::new(name, ErrorKind::Kernel { op: "delete the link", errno: e })),
                    }
                }
            }
        }
        Ok(())
    }
}

