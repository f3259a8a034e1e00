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
//! * an SMF FMRI: links whose creator ran under that service, as the
//!   platform recorded it ([`Platform::recorded_service`]), or whose
//!   creator pid is one of the service's current processes.  Process
//!   contracts die with their processes, so after a crash only a record
//!   made at creation time can tie a link to a service; see the README.

use crate::error::{Error, ErrorKind};
use crate::manager::TunAdm;
use crate::platform::{Errno, Platform, ProcessInfo};
use crate::types::*;

impl<P: Platform> TunAdm<P> {
    /// Is the creator of a link created at `created_ns` still running?
    fn creator_alive(&self, pid: i32, created_ns: u64) -> Option<ProcessInfo> {
        if pid <= 0 {
            return None;
        }
        self.platform().process(pid).filter(|p| p.started_ns <= created_ns)
    }

    /// Find stale links and remove them (or, with `dry_run`, only say
    /// what would be done).  Links that were considered and kept are
    /// listed with the reason.
    pub fn cleanup(&self, opts: &CleanupOptions) -> Result<CleanupReport, Error> {
        let service_pids = match &opts.target {
            Some(CleanupTarget::Service(fmri)) => self
                .platform()
                .service_pids(fmri)
                .map_err(|message| Error { link: None, kind: ErrorKind::Ip { message } })?,
            _ => Vec::new(),
        };
        let mut report = CleanupReport { dry_run: opts.dry_run, ..CleanupReport::default() };
        for link in self.list()? {
            let Some(k) = &link.kernel else { continue };
            if k.zone != self.platform().zone() && self.platform().zone() != crate::platform::GLOBAL_ZONEID {
                continue;
            }
            let matches_target = match &opts.target {
                None => true,
                Some(CleanupTarget::Pid(pid)) => k.creator_pid == *pid,
                Some(CleanupTarget::Service(fmri)) => {
                    service_pids.contains(&k.creator_pid)
                        || self.platform().recorded_service(link.linkid, k.creator_pid, k.created_ns).as_deref()
                            == Some(fmri.as_str())
                }
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
        Ok(report)
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

