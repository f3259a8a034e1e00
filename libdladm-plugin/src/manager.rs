// SPDX-License-Identifier: MPL-2.0
//! [`TunAdm`]: create, delete, show, modify, up and cleanup of tun/tap
//! links over a [`Platform`].
//!
//! Theory statement.
//! * **Create** is three steps: a datalink id from dlmgmtd (class
//!   `misc`, media Ethernet, active and, unless temporary, persistent);
//!   the driver's `TUN_IOC_CREATE` with that id; for persistent links the
//!   configuration fields.  A failed step undoes the earlier ones in
//!   reverse order, so no id, configuration or kernel link is left.
//! * **Delete** is the reverse: the kernel link, then the id (active
//!   and persistent parts), then the configuration.  Links the kernel
//!   made itself (old API, attach-with-create) get their id back from
//!   the kernel; only the kernel link is deleted for them.
//! * **Persistence** lives in dlmgmtd's persistent configuration, in
//!   fields of our own (`tun_mode`, `tun_mac`, `tun_owner`, `tun_group`)
//!   and the standard `mtu` link property ([`crate::linkprop`]), so
//!   configured links show in `dladm show-link -P` and
//!   `dladm show-linkprop -P`.  A persistent link of class `misc` with a
//!   `tun_mode` field is ours.
//! * **Up** re-creates every configured link that the driver does not
//!   have and re-applies its persistent link properties; one already
//!   running is left as it is, so `up` is idempotent.
//! * **Zones.**  The caller acts in its own zone.  A link the kernel says
//!   belongs to another zone is refused by name (from the global zone,
//!   which sees it); other zones' links are invisible to a non-global
//!   zone, as dlmgmtd and the driver make them.
//! * **Cleanup** removes links made by processes (not by an
//!   administrator) that no queue serves and whose creating process is
//!   gone -- see [`TunAdm::cleanup`].
//!
//! No lock is held here: dlmgmtd and the driver serialise; races with
//! other administrators surface as their errors (`EEXIST`, `ENOENT`,
//! `EBUSY`), never as a half-made link.

use std::collections::BTreeMap;
use std::sync::Arc;

use tuntap_abi::{self as abi, TUN_NO_ID, info_flags, modify_what};

use crate::checks::{check_create_request, check_modify_request, validate_name};
use crate::error::{Error, ErrorKind};
use crate::owners::OwnerStore;
use crate::platform::{
    DATALINK_CLASS_MISC, DatalinkId, DlEntry, DlError, DlFlags, Errno, Platform, class_name,
};
use crate::types::*;

/// Persistent configuration field: `tun` or `tap`.  Its presence marks a
/// configured link as ours.
pub const CONF_MODE: &str = "tun_mode";
/// Persistent configuration field: the MTU (decimal) -- the `mtu` link
/// property itself, where `dladm set-linkprop -p mtu=` persists it.
pub const CONF_MTU: &str = "mtu";
/// Persistent configuration field: the MAC address (tap).
pub const CONF_MAC: &str = "tun_mac";
/// Persistent configuration field: the owner uid (decimal).
pub const CONF_OWNER: &str = "tun_owner";
/// Persistent configuration field: the group gid (decimal).
pub const CONF_GROUP: &str = "tun_group";

/// Link management over a [`Platform`].
pub struct TunAdm<P: Platform> {
    platform: P,
    owners: Arc<dyn OwnerStore>,
}

/// A name resolved to an entry of ours.
struct Resolved {
    entry: DlEntry,
    kernel: Option<abi::TunIocInfo>,
    config: Option<LinkConfig>,
}

fn id_or_none(v: u32) -> Option<u32> {
    (v != TUN_NO_ID).then_some(v)
}

fn kernel_errno_kind(op: &'static str, errno: Errno) -> ErrorKind {
    match errno {
        Errno::EPERM | Errno::EACCES => ErrorKind::Permission,
        _ => ErrorKind::Kernel { op, errno },
    }
}

pub(crate) fn dl_kind(op: &'static str, e: DlError) -> ErrorKind {
    match e {
        DlError::Denied => ErrorKind::Permission,
        DlError::TempOnly => ErrorKind::TemporaryOnly,
        DlError::NotFound => ErrorKind::NotFound,
        DlError::Unavailable => ErrorKind::Unavailable,
        error => ErrorKind::Dladm { op, error },
    }
}

impl KernelLink {
    fn from_info(info: &abi::TunIocInfo) -> KernelLink {
        let origin = if info.state_flags & info_flags::OLD_API != 0 {
            Origin::OldApi
        } else if info.state_flags & info_flags::TRANSIENT != 0 {
            Origin::Attach
        } else {
            Origin::Admin
        };
        let shown = (info.nqueues as usize).min(abi::INFO_MAX_PIDS);
        KernelLink {
            mode: Mode::from_abi(info.mode).unwrap_or(Mode::Tun),
            mtu: info.mtu,
            mac: MacAddr(info.mac),
            owner: id_or_none(info.owner),
            group: id_or_none(info.group),
            zone: info.zoneid,
            link_up: info.state_flags & info_flags::LINK_UP != 0,
            carrier: info.state_flags & info_flags::CARRIER != 0,
            origin,
            kernel_persist: info.state_flags & info_flags::PERSIST != 0,
            exclusive: info.state_flags & info_flags::EXCLUSIVE != 0,
            queues: info.nqueues,
            pids: info.pids.iter().take(shown).copied().filter(|p| *p > 0).collect(),
            creator_pid: info.creator_pid,
            created_ns: info.created_ns,
            counters: info.counters,
        }
    }
}

impl<P: Platform> TunAdm<P> {
    /// Manage `platform`, with the owner registry where the platform
    /// keeps it.
    pub fn new(platform: P) -> Self {
        let owners = platform.owner_store();
        TunAdm { platform, owners }
    }

    /// Manage `platform` with the owner registry in `owners` (tests, or
    /// a registry in another directory).
    pub fn with_owner_store(platform: P, owners: Arc<dyn OwnerStore>) -> Self {
        TunAdm { platform, owners }
    }

    /// The owner registry's store.
    pub fn owner_store(&self) -> &dyn OwnerStore {
        &*self.owners
    }

    /// The platform (for tests and tools that need it).
    pub fn platform(&self) -> &P {
        &self.platform
    }

    // ----- the driver's control node -----

    fn kernel_info(&self, linkid: DatalinkId) -> Result<Option<abi::TunIocInfo>, Errno> {
        let req = abi::TunIocInfo { version: abi::TUN_ABI_VERSION, linkid, ..Default::default() };
        match self.platform.control_ioctl(abi::TUN_IOC_INFO, abi::as_bytes(&req)) {
            Ok(bytes) => abi::decode::<abi::TunIocInfo>(&bytes).map(Some).map_err(|_| Errno::EINVAL),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn kernel_ids(&self) -> Result<Vec<DatalinkId>, Errno> {
        let mut ids = Vec::new();
        let mut after = 0;
        loop {
            let req = abi::TunIocList { version: abi::TUN_ABI_VERSION, after, ..Default::default() };
            let bytes = self.platform.control_ioctl(abi::TUN_IOC_LIST, abi::as_bytes(&req))?;
            let page = abi::decode::<abi::TunIocList>(&bytes).map_err(|_| Errno::EINVAL)?;
            let n = (page.count as usize).min(abi::LIST_PAGE);
            ids.extend(page.linkids.iter().take(n));
            match ids.last() {
                Some(last) if page.more != 0 && *last > after => after = *last,
                _ => return Ok(ids),
            }
        }
    }

    fn kernel_delete(&self, linkid: DatalinkId, force: bool) -> Result<(), Errno> {
        let req = abi::TunIocDelete {
            version: abi::TUN_ABI_VERSION,
            flags: if force { abi::delete_flags::FORCE } else { 0 },
            linkid,
            _pad: 0,
        };
        self.platform.control_ioctl(abi::TUN_IOC_DELETE, abi::as_bytes(&req)).map(|_| ())
    }

    fn kernel_create(&self, name: &str, linkid: DatalinkId, spec: &LinkConfig, persistent: bool) -> Result<(), Error> {
        let LinkConfig { mode, mtu, mac, owner, group } = *spec;
        let mut flags = mode.abi_bits();
        if persistent {
            flags |= abi::create_flags::PERSIST;
        }
        let mut req = abi::TunIocCreate::new(name, flags, linkid).map_err(|e| Error::new(name, ErrorKind::BadName(e)))?;
        req.mtu = mtu.unwrap_or(0);
        req.owner = owner.unwrap_or(TUN_NO_ID);
        req.group = group.unwrap_or(TUN_NO_ID);
        if let Some(m) = mac {
            req.flags |= abi::create_flags::MAC_GIVEN;
            req.mac = m.0;
        }
        match self.platform.control_ioctl(abi::TUN_IOC_CREATE, abi::as_bytes(&req)) {
            Ok(_) => Ok(()),
            Err(Errno::EEXIST) => Err(Error::new(name, ErrorKind::Exists { what: "link in the tuntap driver".into() })),
            Err(e) => Err(Error::new(name, kernel_errno_kind("create the link", e))),
        }
    }

    // ----- configuration -----

    fn read_config(&self, linkid: DatalinkId) -> Result<Option<LinkConfig>, DlError> {
        let Some(mode) = self.platform.conf_get(linkid, CONF_MODE)? else { return Ok(None) };
        let Ok(mode) = mode.parse::<Mode>() else { return Ok(None) };
        let num = |key| -> Result<Option<u32>, DlError> {
            Ok(self.platform.conf_get(linkid, key)?.and_then(|v| v.parse().ok()))
        };
        Ok(Some(LinkConfig {
            mode,
            mtu: num(CONF_MTU)?,
            mac: self.platform.conf_get(linkid, CONF_MAC)?.and_then(|v| v.parse().ok()),
            owner: num(CONF_OWNER)?,
            group: num(CONF_GROUP)?,
        }))
    }

    fn config_fields(req: &CreateRequest) -> Vec<(&'static str, String)> {
        let mut fields = vec![(CONF_MODE, req.mode.as_str().to_string())];
        if let Some(m) = req.mtu {
            fields.push((CONF_MTU, m.to_string()));
        }
        if let Some(m) = req.mac {
            fields.push((CONF_MAC, m.to_string()));
        }
        if let Some(o) = req.owner {
            fields.push((CONF_OWNER, o.to_string()));
        }
        if let Some(g) = req.group {
            fields.push((CONF_GROUP, g.to_string()));
        }
        fields
    }

    // ----- resolving names -----

    fn resolve_entry(&self, entry: DlEntry) -> Result<Resolved, Error> {
        let name = entry.name.clone();
        if entry.class != DATALINK_CLASS_MISC {
            return Err(Error::new(&name, ErrorKind::NotTunTap { class: class_name(entry.class).into() }));
        }
        let kernel = self
            .kernel_info(entry.linkid)
            .map_err(|e| Error::new(&name, kernel_errno_kind("describe the link", e)))?;
        let config = if entry.flags.persistent {
            self.read_config(entry.linkid).map_err(|e| Error::new(&name, dl_kind("read the configuration", e)))?
        } else {
            None
        };
        if kernel.is_none() && config.is_none() {
            // A misc link of another driver (e.g. OPTE's xde).
            return Err(Error::new(&name, ErrorKind::NotTunTap { class: "misc".into() }));
        }
        Ok(Resolved { entry, kernel, config })
    }

    fn resolve(&self, name: &str) -> Result<Resolved, Error> {
        validate_name(name)?;
        let entry = self.platform.dl_name2info(name).map_err(|e| Error::new(name, dl_kind("look up the link", e)))?;
        self.resolve_entry(entry)
    }

    /// Resolve for a change: the link must be in the caller's zone.
    fn resolve_own(&self, name: &str) -> Result<Resolved, Error> {
        let r = self.resolve(name)?;
        if let Some(k) = &r.kernel
            && k.zoneid != self.platform.zone()
        {
            let zone = self.platform.zone_name(k.zoneid).unwrap_or_else(|| k.zoneid.to_string());
            return Err(Error::new(name, ErrorKind::OtherZone { zone }));
        }
        Ok(r)
    }

    fn to_link(&self, r: Resolved) -> TunLink {
        let kernel = r.kernel.as_ref().map(KernelLink::from_info);
        let zone = kernel.as_ref().map(|k| k.zone).unwrap_or_else(|| self.platform.zone());
        let mode = kernel.as_ref().map(|k| k.mode).or(r.config.as_ref().map(|c| c.mode)).unwrap_or(Mode::Tun);
        TunLink {
            name: r.entry.name,
            linkid: r.entry.linkid,
            mode,
            zone,
            zone_name: self.platform.zone_name(zone).unwrap_or_else(|| zone.to_string()),
            persistent: r.entry.flags.persistent,
            active: kernel.is_some(),
            kernel,
            config: r.config,
        }
    }

    // ----- the verbs -----

    /// Create a link.  On any failure nothing is left behind.
    pub fn create(&self, req: &CreateRequest) -> Result<TunLink, Error> {
        let name = req.name.as_str();
        check_create_request(req)?;
        match self.platform.dl_name2info(name) {
            Ok(e) => {
                let what = match self.resolve_entry(e.clone()) {
                    Ok(r) => format!("{} link", self.to_link(r).mode),
                    Err(_) => format!("{} link", class_name(e.class)),
                };
                return Err(Error::new(name, ErrorKind::Exists { what }));
            }
            Err(DlError::NotFound) => {}
            Err(e) => return Err(Error::new(name, dl_kind("look up the name", e))),
        }
        let flags = DlFlags { active: true, persistent: req.persistent, transient: false };
        let linkid = self.platform.dl_create_id(name, flags).map_err(|e| {
            let kind = match e {
                DlError::Exists => ErrorKind::Exists { what: "link".into() },
                e => dl_kind("allocate a link id", e),
            };
            Error::new(name, kind)
        })?;
        let undo_id = |adm: &Self| {
            let _ = adm.platform.dl_destroy_id(linkid, flags);
        };
        let spec = LinkConfig { mode: req.mode, mtu: req.mtu, mac: req.mac, owner: req.owner, group: req.group };
        if let Err(e) = self.kernel_create(name, linkid, &spec, req.persistent) {
            undo_id(self);
            return Err(e);
        }
        let stored = if req.persistent {
            self.platform
                .conf_create(linkid, name, &Self::config_fields(req))
                .map_err(|e| Error::new(name, dl_kind("store the configuration", e)))
        } else {
            Ok(())
        };
        // Other link properties once the link and its configuration exist.
        if let Err(e) = stored.and_then(|()| self.set_link_props(name, linkid, &req.link_props, !req.persistent)) {
            let _ = self.kernel_delete(linkid, true);
            undo_id(self);
            let _ = self.platform.conf_remove(linkid);
            return Err(e);
        }
        self.show(name)
    }

    /// Delete a link (and, unless `opts.temporary`, its configuration).
    pub fn delete(&self, name: &str, opts: DeleteOptions) -> Result<(), Error> {
        let r = self.resolve_own(name)?;
        if opts.temporary && r.kernel.is_none() {
            return Err(Error::new(name, ErrorKind::NotActive));
        }
        // A bridge port holds the link open (a mac client): off the
        // bridge first, so its daemon lets go (bridge.rs).
        if r.entry.flags.persistent && !opts.temporary {
            self.leave_bridge_before_delete(name, r.entry.linkid)?;
        }
        if let Some(info) = &r.kernel {
            match self.kernel_delete(r.entry.linkid, opts.force) {
                Ok(()) => {}
                Err(Errno::EBUSY) => {
                    let reason = if info.nqueues > 0 && !opts.force {
                        let k = KernelLink::from_info(info);
                        format!(
                            "{} queue(s) attached (pid {}); stop the daemon or use --force",
                            k.queues,
                            k.pids.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
                        )
                    } else {
                        format!("an IP interface is plumbed on it; run 'ipadm delete-ip {name}' first")
                    };
                    return Err(Error::new(name, ErrorKind::Busy { reason }));
                }
                Err(e) => return Err(Error::new(name, kernel_errno_kind("delete the link", e))),
            }
        }
        let kernel_made = r.kernel.as_ref().is_some_and(|k| k.state_flags & info_flags::TRANSIENT != 0);
        let drop_persistent = r.entry.flags.persistent && !opts.temporary;
        let flags = DlFlags { active: r.entry.flags.active && !kernel_made, persistent: drop_persistent, transient: false };
        if flags.active || flags.persistent {
            match self.platform.dl_destroy_id(r.entry.linkid, flags) {
                Ok(()) | Err(DlError::NotFound) => {}
                Err(e) => return Err(Error::new(name, dl_kind("release the link id", e))),
            }
        }
        if drop_persistent {
            match self.platform.conf_remove(r.entry.linkid) {
                Ok(()) | Err(DlError::NotFound) => {}
                Err(e) => return Err(Error::new(name, dl_kind("remove the configuration", e))),
            }
        }
        Ok(())
    }

    /// One link, by name.
    pub fn show(&self, name: &str) -> Result<TunLink, Error> {
        let r = self.resolve(name)?;
        Ok(self.to_link(r))
    }

    /// Every tun/tap link visible in the caller's zone, running or only
    /// configured, by name.
    pub fn list(&self) -> Result<Vec<TunLink>, Error> {
        let kernel_ids = self.kernel_ids().map_err(|e| Error { link: None, kind: kernel_errno_kind("list links", e) })?;
        let entries = self
            .platform
            .dl_walk(DATALINK_CLASS_MISC)
            .map_err(|e| Error { link: None, kind: dl_kind("list links", e) })?;
        let mut out = BTreeMap::new();
        for e in entries {
            if !(kernel_ids.contains(&e.linkid) || e.flags.persistent) {
                continue;
            }
            // A link that vanished meanwhile, or another driver's, is skipped.
            if let Ok(r) = self.resolve_entry(e) {
                let l = self.to_link(r);
                out.insert(l.name.clone(), l);
            }
        }
        Ok(out.into_values().collect())
    }

    /// Change a link's MTU, MAC, owner or group: the running link, and
    /// (unless `req.temporary`) its persistent configuration.
    pub fn modify(&self, name: &str, req: &ModifyRequest) -> Result<TunLink, Error> {
        check_modify_request(name, req)?;
        let r = self.resolve_own(name)?;
        let link = self.to_link(Resolved { entry: r.entry.clone(), kernel: r.kernel, config: r.config });
        if req.mac.is_some() && link.mode == Mode::Tun {
            return Err(Error::new(name, ErrorKind::MacOnTun));
        }
        if (req.temporary || !req.link_props.is_empty()) && r.kernel.is_none() {
            return Err(Error::new(name, ErrorKind::NotActive));
        }
        if r.kernel.is_some() {
            let mut m = abi::TunIocModify {
                version: abi::TUN_ABI_VERSION,
                what: 0,
                linkid: r.entry.linkid,
                mtu: 0,
                owner: TUN_NO_ID,
                group: TUN_NO_ID,
                persist: 0,
                carrier: 0,
                mac: [0; 6],
                _pad: [0; 2],
            };
            if let Some(mtu) = req.mtu {
                // The mtu link property, as dladm set-linkprop sets it; a
                // link without configuration can only change for now.
                self.set_mtu_property(name, r.entry.linkid, mtu, req.temporary || r.config.is_none())?;
            }
            if let Some(mac) = req.mac {
                m.what |= modify_what::MAC;
                m.mac = mac.0;
            }
            if let Some(owner) = req.owner {
                m.what |= modify_what::OWNER;
                m.owner = owner.unwrap_or(TUN_NO_ID);
            }
            if let Some(group) = req.group {
                m.what |= modify_what::GROUP;
                m.group = group.unwrap_or(TUN_NO_ID);
            }
            if m.what != 0 {
                self.platform
                    .control_ioctl(abi::TUN_IOC_MODIFY, abi::as_bytes(&m))
                    .map_err(|e| Error::new(name, kernel_errno_kind("change the link", e)))?;
            }
        }
        if !req.link_props.is_empty() {
            self.set_link_props(name, r.entry.linkid, &req.link_props, req.temporary || r.config.is_none())?;
        }
        if r.config.is_some() && !req.temporary {
            let mut fields: Vec<(&str, Option<String>)> = Vec::new();
            // A running link's mtu was persisted with the property.
            if let (Some(mtu), None) = (req.mtu, r.kernel) {
                fields.push((CONF_MTU, Some(mtu.to_string())));
            }
            if let Some(mac) = req.mac {
                fields.push((CONF_MAC, Some(mac.to_string())));
            }
            if let Some(owner) = req.owner {
                fields.push((CONF_OWNER, owner.map(|o| o.to_string())));
            }
            if let Some(group) = req.group {
                fields.push((CONF_GROUP, group.map(|g| g.to_string())));
            }
            if !fields.is_empty() {
                self.platform
                    .conf_update(r.entry.linkid, &fields)
                    .map_err(|e| Error::new(name, dl_kind("store the configuration", e)))?;
            }
        }
        self.show(name)
    }

    /// Bring up configured links the driver does not have (all of them,
    /// or only `name`).  Running links are left alone, so calling it
    /// again changes nothing.  Failures are per link, in the report.
    pub fn up(&self, name: Option<&str>) -> Result<UpReport, Error> {
        let entries = match name {
            Some(n) => {
                let r = self.resolve_own(n)?;
                if r.config.is_none() {
                    return Err(Error::new(n, ErrorKind::Busy { reason: "it is a temporary link; nothing to bring up".into() }));
                }
                vec![r.entry]
            }
            None => self
                .platform
                .dl_walk(DATALINK_CLASS_MISC)
                .map_err(|e| Error { link: None, kind: dl_kind("list links", e) })?
                .into_iter()
                .filter(|e| e.flags.persistent)
                .collect(),
        };
        let mut report = UpReport::default();
        for e in entries {
            let name = e.name.clone();
            let config = match self.read_config(e.linkid) {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(err) => {
                    let error = Error::new(&name, dl_kind("read the configuration", err));
                    report.entries.push(UpEntry { name, outcome: UpOutcome::Failed(error) });
                    continue;
                }
            };
            let outcome = match self.up_one(&e, &config) {
                Ok(o) => o,
                Err(err) => UpOutcome::Failed(err),
            };
            report.entries.push(UpEntry { name, outcome });
        }
        Ok(report)
    }

    fn up_one(&self, e: &DlEntry, c: &LinkConfig) -> Result<UpOutcome, Error> {
        let name = e.name.as_str();
        if self.kernel_info(e.linkid).map_err(|x| Error::new(name, kernel_errno_kind("describe the link", x)))?.is_some() {
            return Ok(UpOutcome::AlreadyUp);
        }
        let was_active = e.flags.active;
        if !was_active {
            self.platform.dl_up_id(e.linkid).map_err(|x| Error::new(name, dl_kind("activate the link id", x)))?;
        }
        let spec = LinkConfig { mac: if c.mode == Mode::Tap { c.mac } else { None }, ..*c };
        if let Err(err) = self.kernel_create(name, e.linkid, &spec, true) {
            if !was_active {
                let _ = self.platform.dl_destroy_id(e.linkid, DlFlags { active: true, ..DlFlags::default() });
            }
            return Err(err);
        }
        // maxbw, priority and the rest an administrator persisted; the
        // link stays up if that fails, and the report says why.
        self.reapply_properties(name, e.linkid)?;
        if c.mode == Mode::Tap {
            self.up_dependents(name, e.linkid)?;
        }
        Ok(UpOutcome::Created)
    }
}
