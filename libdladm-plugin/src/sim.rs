// SPDX-License-Identifier: MPL-2.0
//! The simulated system as a [`Platform`] (feature `sim`): the real
//! driver logic on [`tuntap_sim::SimHost`], its dlmgmtd model, a process
//! table ([`SimProcesses`]) and IP modelled as mac clients.
//!
//! Theory statement.  [`SimSystem`] is one simulated host with the
//! tuntap driver attached, plus what the host's userland would hold:
//! daemons' open streams (per pid), plumbed IP interfaces (a mac client
//! held open on the link, which is what IP is to a datalink) and
//! processes that start and die.  [`SimPlatform`] is the view of one
//! caller (a credential and a pid): every [`Platform`] call goes through
//! the same interfaces the illumos implementation uses -- dlmgmtd calls
//! with the caller's credential, `I_STR` ioctls on a freshly opened
//! control node -- so the driver does its own privilege and zone checks.
//!
//! Only what illumos offers is offered here: the live members of a
//! service (the process table's history is not consulted, as no illumos
//! interface keeps it), and the owner registry, kept in memory
//! ([`MemStore`]) like the tmpfs directory it stands for: it survives a
//! daemon's crash and is emptied by [`SimSystem::reboot`].
//!
//! Locks: each mutex here guards one table and is never held while
//! calling into the simulator, except `streams`/`ip` while closing what
//! they hold (the simulator takes none of ours).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use illumos_sys_hdrs as sys;
use tuntap_abi as abi;
use tuntap_drv::Driver;
use tuntap_drv::ddi::node_minor;
use tuntap_sim::{OpenArgs, SimCred, SimHost, SimKernel, SimMacClient, SimProcesses, SimStream};

use crate::owners::{MemStore, OwnerStore};
use crate::platform::*;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn dl_error(e: tuntap_sim::DlError) -> DlError {
    match e {
        tuntap_sim::DlError::Exists => DlError::Exists,
        tuntap_sim::DlError::NotFound => DlError::NotFound,
        tuntap_sim::DlError::Permission => DlError::Denied,
        tuntap_sim::DlError::TempOnly => DlError::TempOnly,
        tuntap_sim::DlError::BadArg => DlError::BadArg,
        tuntap_sim::DlError::Busy => DlError::Busy,
        tuntap_sim::DlError::NoSpace => DlError::Other("no link id left".into()),
    }
}

fn sim_flags(f: DlFlags) -> tuntap_sim::DlFlags {
    tuntap_sim::DlFlags { active: f.active, persistent: f.persistent, transient: f.transient }
}

fn entry(i: tuntap_sim::LinkInfo) -> DlEntry {
    DlEntry {
        linkid: i.linkid,
        name: i.name,
        class: i.class as u32,
        media: i.media,
        flags: DlFlags { active: i.flags.active, persistent: i.flags.persistent, transient: i.flags.transient },
    }
}

struct Inner {
    host: SimHost,
    driver: Mutex<Arc<Driver<SimKernel>>>,
    procs: SimProcesses,
    root: SimCred,
    /// Daemons' open streams, by pid.
    streams: Mutex<Vec<(i32, SimStream)>>,
    /// Plumbed IP interfaces: link name -> the mac clients IP holds.
    ip: Mutex<BTreeMap<String, Vec<SimMacClient>>>,
    /// The owner registry (tmpfs on illumos).
    owners: Arc<MemStore>,
    /// dlmgmtd is stopped: its door is gone ([`SimSystem::stop_dlmgmtd`]).
    dlmgmtd_down: std::sync::atomic::AtomicBool,
    /// Link properties mac applies itself (bandwidth, priority), by link
    /// id: the running values ([`SimSystem::linkprop`]).
    mac_props: Mutex<BTreeMap<(u32, String), String>>,
    /// What the bridge daemons and `dladm_vnic_up` were asked to do, in
    /// order: `refresh <bridge>`, `vnic-up <linkid>`
    /// ([`SimSystem::take_dladm_events`]).
    dladm_events: Mutex<Vec<String>>,
}

/// The properties the simulated libdladm knows: `mtu` goes to the driver
/// (`mc_setprop`), the others are mac's own resources.
const SIM_LINKPROPS: [&str; 3] = ["mtu", "maxbw", "priority"];

/// A simulated host running the tuntap driver.  Cheap to clone.
#[derive(Clone)]
pub struct SimSystem {
    inner: Arc<Inner>,
}

/// One caller on a [`SimSystem`]: a credential and a pid.
#[derive(Clone)]
pub struct SimPlatform {
    sys: SimSystem,
    cred: SimCred,
    pid: i32,
}

impl Default for SimSystem {
    fn default() -> Self {
        Self::new()
    }
}

impl SimSystem {
    pub fn new() -> Self {
        let host = SimHost::new();
        let driver = Arc::new(Driver::new(host.kernel()));
        host.attach(driver.clone());
        let procs = SimProcesses::new(&host);
        let root = host.root_cred();
        SimSystem {
            inner: Arc::new(Inner {
                host,
                driver: Mutex::new(driver),
                procs,
                root,
                streams: Mutex::new(Vec::new()),
                ip: Mutex::new(BTreeMap::new()),
                owners: Arc::new(MemStore::new()),
                dlmgmtd_down: std::sync::atomic::AtomicBool::new(false),
                mac_props: Mutex::new(BTreeMap::new()),
                dladm_events: Mutex::new(Vec::new()),
            }),
        }
    }

    pub fn host(&self) -> &SimHost {
        &self.inner.host
    }

    pub fn driver(&self) -> Arc<Driver<SimKernel>> {
        lock(&self.inner.driver).clone()
    }

    pub fn processes(&self) -> &SimProcesses {
        &self.inner.procs
    }

    /// The owner registry every caller on this host shares.
    pub fn owner_store(&self) -> Arc<MemStore> {
        self.inner.owners.clone()
    }

    pub fn root_cred(&self) -> SimCred {
        self.inner.root.clone()
    }

    /// The bridge refreshes and VNIC re-creations libdladm was asked for
    /// since the last call (`refresh <bridge>`, `vnic-up <linkid>`).
    pub fn take_dladm_events(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.inner.dladm_events))
    }

    /// An administrator (root, global zone) running a tool in a process
    /// of its own.
    pub fn admin(&self) -> SimPlatform {
        self.platform_as(self.inner.root.clone())
    }

    /// A caller with `cred`, in a process of its own.
    pub fn platform_as(&self, cred: SimCred) -> SimPlatform {
        let pid = self.inner.procs.spawn("tunctl", None);
        SimPlatform { sys: self.clone(), cred, pid }
    }

    /// Start a process (a daemon), optionally under an SMF service.
    pub fn spawn(&self, name: &str, service: Option<&str>) -> i32 {
        self.inner.procs.spawn(name, service)
    }

    fn open_as(&self, pid: i32, node: u32, cred: &SimCred) -> Result<SimStream, i32> {
        self.open_flags(pid, node, cred, sys::FREAD | sys::FWRITE)
    }

    fn open_flags(&self, pid: i32, node: u32, cred: &SimCred, flag: i32) -> Result<SimStream, i32> {
        self.inner.host.open_with(OpenArgs {
            minor: sys::MAC_PRIVATE_MINOR + node,
            flag,
            sflag: sys::CLONEOPEN,
            cred: cred.clone(),
            pid,
        })
    }

    /// Process `pid` (as root) opens `/dev/tun` or `/dev/tap` and
    /// attaches to `link` with `flags` (`attach_flags::*`); it keeps the
    /// stream open until [`SimSystem::close_streams`] or a crash.
    pub fn daemon_attach(&self, pid: i32, link: &str, tap: bool, flags: u32) -> Result<(), i32> {
        let node = if tap { node_minor::TAP } else { node_minor::TUN };
        let s = self.open_as(pid, node, &self.inner.root)?;
        let req = abi::TunIocAttach::new(link, flags).map_err(|_| sys::EINVAL)?;
        s.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&req))?;
        lock(&self.inner.streams).push((pid, s));
        Ok(())
    }

    /// Process `pid` makes a link the old way (`TUNNEWPPA` with `ppa`,
    /// -1 for any); returns the unit.  The stream stays open.
    pub fn daemon_old_api(&self, pid: i32, tap: bool, ppa: i32) -> Result<i32, i32> {
        let node = if tap { node_minor::TAP } else { node_minor::TUN };
        let s = self.open_as(pid, node, &self.inner.root)?;
        let r = s.ioctl_istr(abi::TUNNEWPPA, &ppa.to_ne_bytes())?;
        lock(&self.inner.streams).push((pid, s));
        Ok(r.rval)
    }

    /// Process `pid` marks the link of its latest stream persistent
    /// (`TUN_IOC_SET_PERSIST`).
    pub fn daemon_set_persist(&self, pid: i32, on: bool) -> Result<(), i32> {
        let streams = lock(&self.inner.streams);
        let (_, s) = streams.iter().rev().find(|(p, _)| *p == pid).ok_or(sys::EBADF)?;
        s.ioctl_istr(abi::TUN_IOC_SET_PERSIST, &u32::from(on).to_ne_bytes()).map(|_| ())
    }

    /// Process `pid` writes `data` (one packet) on its latest stream.
    pub fn daemon_write(&self, pid: i32, data: &[u8]) -> Result<usize, i32> {
        let streams = lock(&self.inner.streams);
        let (_, s) = streams.iter().rev().find(|(p, _)| *p == pid).ok_or(sys::EBADF)?;
        s.write(data)
    }

    /// Process `pid` closes every stream it holds.
    pub fn close_streams(&self, pid: i32) {
        let mine: Vec<SimStream> = {
            let mut all = lock(&self.inner.streams);
            let (mine, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|(p, _)| *p == pid);
            *all = rest;
            mine.into_iter().map(|(_, s)| s).collect()
        };
        for s in mine {
            s.close();
        }
    }

    /// Process `pid` dies: its streams close, its pid is free.
    pub fn crash(&self, pid: i32) {
        self.close_streams(pid);
        self.inner.procs.exit(pid);
    }

    /// Plumb IP on `link` (global zone): a mac client held open.
    pub fn plumb_ip(&self, link: &str) -> Result<(), i32> {
        let c = self.inner.host.mac_client_open(link)?;
        lock(&self.inner.ip).entry(link.to_string()).or_default().push(c);
        Ok(())
    }

    /// Is IP plumbed on `link`?
    pub fn ip_plumbed(&self, link: &str) -> bool {
        lock(&self.inner.ip).get(link).is_some_and(|v| !v.is_empty())
    }

    fn unplumb(&self, link: &str) -> bool {
        let clients = lock(&self.inner.ip).remove(link);
        match clients {
            Some(v) if !v.is_empty() => {
                for c in v {
                    c.close();
                }
                true
            }
            _ => false,
        }
    }

    fn delete_every_kernel_link(&self) {
        let ctl = self.open_as(1, node_minor::CTL, &self.inner.root).ok();
        for link in self.driver().links() {
            let del = abi::TunIocDelete {
                version: abi::TUN_ABI_VERSION,
                flags: abi::delete_flags::FORCE,
                linkid: link.linkid,
                _pad: 0,
            };
            if let Some(c) = &ctl {
                let _ = c.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del));
            }
        }
        if let Some(c) = ctl {
            c.close();
        }
    }

    fn close_everything(&self) {
        let streams: Vec<_> = lock(&self.inner.streams).drain(..).collect();
        for (_, s) in streams {
            s.close();
        }
        let links: Vec<String> = lock(&self.inner.ip).keys().cloned().collect();
        for l in links {
            self.unplumb(&l);
        }
    }

    /// The running value of a mac-handled link property (`maxbw`,
    /// `priority`) of `link`, as `dladm show-linkprop` would show it.
    pub fn linkprop(&self, link: &str, name: &str) -> Option<String> {
        let id = self.inner.host.dlmgmt_name2info(GLOBAL_ZONEID, link).ok()?.linkid;
        lock(&self.inner.mac_props).get(&(id, name.to_string())).cloned()
    }

    /// Stop dlmgmtd: its door goes away, and every libdladm call of a
    /// platform fails as an illumos backend reports it
    /// ([`crate::platform::not_found_or_unavailable`]).
    pub fn stop_dlmgmtd(&self) {
        self.inner.dlmgmtd_down.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Start dlmgmtd again.
    pub fn start_dlmgmtd(&self) {
        self.inner.dlmgmtd_down.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Reboot: every process dies, the kernel state goes (links, IP,
    /// streams), the owner registry (tmpfs) empties, dlmgmtd keeps only
    /// persistent entries (inactive) with their configuration, and a
    /// fresh driver instance attaches.
    pub fn reboot(&self) {
        self.close_everything();
        self.delete_every_kernel_link();
        self.inner.host.detach();
        self.inner.host.reboot();
        self.inner.procs.exit_all();
        self.inner.owners.clear();
        lock(&self.inner.mac_props).clear();
        let driver = Arc::new(Driver::new(self.inner.host.kernel()));
        self.inner.host.attach(driver.clone());
        *lock(&self.inner.driver) = driver;
    }

    /// End a test: close and delete everything and fail on any rule the
    /// driver broke so far.  The host's full leak check runs when the
    /// last handle on the system (this or a [`SimPlatform`]) is dropped.
    #[track_caller]
    pub fn finish(self) {
        self.close_everything();
        self.delete_every_kernel_link();
        assert!(self.driver().links().is_empty(), "links left after forced deletes");
        assert!(self.inner.host.settle(std::time::Duration::from_secs(10)), "simulator work did not finish");
        let violations = self.inner.host.violations();
        assert!(violations.is_empty(), "rule violations: {violations:#?}");
    }
}

impl SimPlatform {
    /// Set a link property on the running link, as libdladm does: `mtu`
    /// through mac to the driver's `mc_setprop`, the others in mac.
    fn apply_linkprop(&self, linkid: DatalinkId, name: &str, value: &str) -> Result<(), DlError> {
        let bad = || DlError::Other(format!("invalid value '{value}' for {name}"));
        match name {
            "mtu" => {
                let mtu: u32 = value.parse().map_err(|_| bad())?;
                self.sys.host().set_prop_mtu(linkid, mtu).map_err(|e| match e {
                    illumos_sys_hdrs::ENOENT => DlError::NotFound,
                    _ => bad(),
                })
            }
            "maxbw" | "priority" => {
                let ok = if name == "maxbw" {
                    value.trim_end_matches(['K', 'M', 'G', 'k', 'm', 'g']).parse::<u64>().is_ok()
                } else {
                    matches!(value, "low" | "medium" | "high")
                };
                if !ok {
                    return Err(bad());
                }
                lock(&self.sys.inner.mac_props).insert((linkid, name.to_string()), value.to_string());
                Ok(())
            }
            _ => Err(DlError::Other(format!("invalid link property '{name}'"))),
        }
    }

    /// Every libdladm call goes through dlmgmtd's door.
    fn door(&self) -> Result<(), DlError> {
        if self.sys.inner.dlmgmtd_down.load(std::sync::atomic::Ordering::SeqCst) { Err(DlError::Unavailable) } else { Ok(()) }
    }

    fn log_dladm(&self, event: String) {
        lock(&self.sys.inner.dladm_events).push(event);
    }

    /// The system this caller lives on.
    pub fn system(&self) -> &SimSystem {
        &self.sys
    }

    /// The caller's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }
}

impl Platform for SimPlatform {
    fn zone(&self) -> ZoneId {
        self.cred.zone()
    }

    fn zone_name(&self, zone: ZoneId) -> Option<String> {
        self.sys.host().zone_name(zone)
    }

    fn dl_create_id(&self, name: &str, flags: DlFlags) -> Result<DatalinkId, DlError> {
        self.door()?;
        self.sys
            .host()
            .dlmgmt_create_id(&self.cred, name, sys::DATALINK_CLASS_MISC, sys::DL_ETHER, sim_flags(flags))
            .map_err(dl_error)
    }

    fn dl_destroy_id(&self, linkid: DatalinkId, flags: DlFlags) -> Result<(), DlError> {
        self.door()?;
        self.sys.host().dlmgmt_destroy_id(&self.cred, linkid, sim_flags(flags)).map_err(dl_error)
    }

    fn dl_up_id(&self, linkid: DatalinkId) -> Result<(), DlError> {
        self.door()?;
        if !self.cred.spec().privs.dl_config {
            return Err(DlError::Denied);
        }
        self.sys.host().dlmgmt_up_id(linkid).map_err(dl_error)
    }

    fn dl_name2info(&self, name: &str) -> Result<DlEntry, DlError> {
        self.door()?;
        self.sys.host().dlmgmt_name2info(self.zone(), name).map(entry).map_err(dl_error)
    }

    fn dl_id2info(&self, linkid: DatalinkId) -> Result<DlEntry, DlError> {
        self.door()?;
        self.sys.host().dlmgmt_id2info(self.zone(), linkid).map(entry).map_err(dl_error)
    }

    fn dl_walk(&self, class_mask: u32) -> Result<Vec<DlEntry>, DlError> {
        self.door()?;
        Ok(self.sys.host().dlmgmt_walk(self.zone(), class_mask as i32).into_iter().map(entry).collect())
    }

    fn conf_create(&self, linkid: DatalinkId, _name: &str, fields: &[(&str, String)]) -> Result<(), DlError> {
        self.door()?;
        for (key, value) in fields {
            self.sys.host().dlmgmt_set_conf(&self.cred, linkid, key, value.as_bytes()).map_err(dl_error)?;
        }
        Ok(())
    }

    fn conf_update(&self, linkid: DatalinkId, fields: &[(&str, Option<String>)]) -> Result<(), DlError> {
        self.door()?;
        for (key, value) in fields {
            match value {
                Some(v) => self.sys.host().dlmgmt_set_conf(&self.cred, linkid, key, v.as_bytes()),
                None => self.sys.host().dlmgmt_unset_conf(&self.cred, linkid, key),
            }
            .map_err(dl_error)?;
        }
        Ok(())
    }

    fn conf_get(&self, linkid: DatalinkId, key: &str) -> Result<Option<String>, DlError> {
        self.door()?;
        match self.sys.host().dlmgmt_get_conf(self.zone(), linkid, key) {
            Ok(v) => Ok(Some(String::from_utf8_lossy(&v).into_owned())),
            Err(tuntap_sim::DlError::NotFound) => Ok(None),
            Err(e) => Err(dl_error(e)),
        }
    }

    fn conf_remove(&self, linkid: DatalinkId) -> Result<(), DlError> {
        self.door()?;
        self.sys.host().dlmgmt_remove_conf(&self.cred, linkid).map_err(dl_error)
    }

    fn set_linkprop(&self, linkid: DatalinkId, name: &str, value: &str, temporary: bool) -> Result<(), DlError> {
        self.door()?;
        if !self.cred.spec().privs.dl_config {
            return Err(DlError::Denied);
        }
        self.apply_linkprop(linkid, name, value)?;
        if !temporary {
            self.sys.host().dlmgmt_set_conf(&self.cred, linkid, name, value.as_bytes()).map_err(dl_error)?;
        }
        Ok(())
    }

    fn init_linkprop(&self, linkid: DatalinkId) -> Result<(), DlError> {
        self.door()?;
        for name in SIM_LINKPROPS {
            match self.sys.host().dlmgmt_get_conf(self.zone(), linkid, name) {
                Ok(v) => self.apply_linkprop(linkid, name, &String::from_utf8_lossy(&v))?,
                Err(tuntap_sim::DlError::NotFound) => {}
                Err(e) => return Err(dl_error(e)),
            }
        }
        Ok(())
    }

    /// libdlbridge.c `dladm_bridge_setlink`: `dladm_open_conf` (dlmgmtd
    /// answers `ENOENT` for a link without persistent configuration:
    /// `dlmgmt_openconf` in dlmgmt_door.c), no move from one bridge to
    /// another (`EXIST`), the `FBRIDGE` field, then `bridge_refresh`.
    fn bridge_setlink(&self, linkid: DatalinkId, bridge: &str) -> Result<(), DlError> {
        self.door()?;
        let e = self.dl_id2info(linkid)?;
        if !e.flags.persistent {
            return Err(DlError::NotFound);
        }
        let old = self.bridge_getlink(linkid)?;
        if old.is_some() && !bridge.is_empty() {
            return Err(DlError::Exists);
        }
        let host = self.sys.host();
        if bridge.is_empty() {
            if old.is_none() {
                return Ok(());
            }
            host.dlmgmt_unset_conf(&self.cred, linkid, "bridge").map_err(dl_error)?;
        } else {
            host.dlmgmt_set_conf(&self.cred, linkid, "bridge", bridge.as_bytes()).map_err(dl_error)?;
        }
        let refreshed = if bridge.is_empty() { old.unwrap_or_default() } else { bridge.to_string() };
        self.log_dladm(format!("refresh {refreshed}"));
        Ok(())
    }

    fn bridge_getlink(&self, linkid: DatalinkId) -> Result<Option<String>, DlError> {
        self.door()?;
        match self.sys.host().dlmgmt_get_conf(self.zone(), linkid, "bridge") {
            Ok(v) if !v.is_empty() => Ok(Some(String::from_utf8_lossy(&v).into_owned())),
            Ok(_) | Err(tuntap_sim::DlError::NotFound) => Ok(None),
            Err(e) => Err(dl_error(e)),
        }
    }

    fn bridge_refresh(&self, linkid: DatalinkId) -> Result<(), DlError> {
        if let Some(bridge) = self.bridge_getlink(linkid)? {
            self.log_dladm(format!("refresh {bridge}"));
        }
        Ok(())
    }

    fn vnic_lower(&self, vnic: DatalinkId) -> Result<Option<DatalinkId>, DlError> {
        self.door()?;
        match self.sys.host().dlmgmt_get_conf(self.zone(), vnic, "linkover") {
            Ok(v) => Ok(<[u8; 8]>::try_from(v.as_slice()).ok().and_then(|b| u32::try_from(u64::from_ne_bytes(b)).ok())),
            Err(tuntap_sim::DlError::NotFound) => Ok(None),
            Err(e) => Err(dl_error(e)),
        }
    }

    /// libdlvnic.c `i_dladm_vnic_up`: the VNIC is created in the kernel
    /// (not modelled: logged) and its id made active
    /// (`dladm_up_datalink_id`).
    fn vnic_up(&self, vnic: DatalinkId) -> Result<(), DlError> {
        self.dl_up_id(vnic)?;
        self.log_dladm(format!("vnic-up {vnic}"));
        Ok(())
    }

    fn control_ioctl(&self, cmd: i32, input: &[u8]) -> Result<Vec<u8>, Errno> {
        // As the illumos backend: read-only for INFO and LIST.
        let flag = if control_needs_write(cmd) { sys::FREAD | sys::FWRITE } else { sys::FREAD };
        let ctl = self.sys.open_flags(self.pid, node_minor::CTL, &self.cred, flag).map_err(Errno)?;
        let r = ctl.ioctl_istr(cmd, input);
        ctl.close();
        r.map(|reply| reply.data).map_err(Errno)
    }

    fn process(&self, pid: Pid) -> Option<ProcessInfo> {
        self.sys
            .processes()
            .live(pid)
            .map(|p| ProcessInfo { pid: p.pid, name: p.name, started_ns: p.started_ns })
    }

    fn service_pids(&self, fmri: &str) -> Result<Vec<Pid>, String> {
        Ok(self.sys.processes().service_pids(fmri))
    }

    fn owner_store(&self) -> Arc<dyn OwnerStore> {
        self.sys.inner.owners.clone()
    }

    fn ip_interfaces(&self, link: &str) -> Result<Vec<String>, String> {
        Ok(if self.sys.ip_plumbed(link) { vec![link.to_string()] } else { vec![] })
    }

    fn ip_unplumb(&self, ifname: &str) -> Result<(), String> {
        if self.sys.unplumb(ifname) { Ok(()) } else { Err(format!("no IP interface {ifname} is plumbed")) }
    }
}
