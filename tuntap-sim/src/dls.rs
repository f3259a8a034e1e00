// SPDX-License-Identifier: MPL-2.0
//! dlmgmtd, dls devnet bindings, credentials and zones.
//!
//! Theory statement.  The dlmgmtd model keeps a table of datalink ids
//! with name, class, media, zone and flags (active, persistent,
//! transient).  Ids are allocated upward from 1 by a cursor and never
//! reused while in use; names are unique per zone (dlmgmtd keys its name
//! tree by zone and name).  Userland calls (`dlmgmt_*`) take a credential
//! and perform dlmgmtd's checks: `PRIV_SYS_DL_CONFIG` to create, destroy
//! or configure; a non-global zone sees only its own links and may only
//! create temporary (transient) ones.  Persistent configuration is a
//! key/value store per persistent link that survives [`SimHost::reboot`].
//!
//! The kernel side: `dls_devnet_create(mh, linkid, zone)` binds an
//! existing dlmgmtd id to a registered mac (`ENOENT` if the id does not
//! exist, `EEXIST` if the id or the mac is already bound);
//! `dls_devnet_destroy` unbinds and returns the id (`EBUSY` while a mac
//! client holds the link).  A bound devnet holds a mac reference, so
//! `mac_disable`/`mac_unregister` fail with `EBUSY` until it is
//! destroyed.  `dls_mgmt_create(name, zone)` is the kernel's upcall: a
//! transient active id of class `MISC`, media `DL_ETHER`; the kernel
//! must give every such id back with `dls_mgmt_destroy`, which the end
//! of a test checks.
//!
//! Credentials are simulator objects whose address is the `cred_t *`
//! the driver sees; the host keeps every credential alive and looks the
//! pointer up before reading it, so a bad pointer is a violation, never
//! a wild read.
//!
//! Locks: the host's `dl` mutex, then a mac's state mutex.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use illumos_sys_hdrs::{
    DATALINK_CLASS_ALL, DATALINK_CLASS_MISC, DL_ETHER, EBUSY, EEXIST, EINVAL, ENOENT, ENOSPC, EPERM,
    cred_t,
};
use tuntap_abi::{DatalinkId, LinkName, validate_link_name};
use tuntap_drv::ddi::{Cred, DlmgmtLink, Errno, GLOBAL_ZONEID, MacHandle, ZoneId};

use crate::host::{HostShared, SimHost, ViolationKind, lock};
use crate::mac;

const CRED_MAGIC: u64 = 0x4352_4544_5349_4d00;

/// Privileges a simulated credential may hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Privileges {
    /// `PRIV_SYS_DL_CONFIG` (what `secpolicy_dl_config` checks).
    pub dl_config: bool,
    /// `PRIV_NET_RAWACCESS`.
    pub net_rawaccess: bool,
}

impl Privileges {
    /// Every privilege (root in the global zone).
    pub fn all() -> Self {
        Privileges { dl_config: true, net_rawaccess: true }
    }
}

/// What a credential holds.
#[derive(Clone, Debug)]
pub struct CredSpec {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub zone: ZoneId,
    pub privs: Privileges,
}

#[repr(C)]
pub(crate) struct CredInner {
    magic: u64,
    pub spec: CredSpec,
}

/// A simulated `cred_t`.  [`SimCred::as_cred`] is what the driver gets.
#[derive(Clone)]
pub struct SimCred(Arc<CredInner>);

impl std::fmt::Debug for SimCred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimCred({:?})", self.0.spec)
    }
}

impl SimCred {
    /// The `cred_t *` handed to the driver.
    pub fn as_cred(&self) -> Cred {
        Cred(Arc::as_ptr(&self.0).cast::<cred_t>())
    }
    pub fn spec(&self) -> &CredSpec {
        &self.0.spec
    }
    pub fn zone(&self) -> ZoneId {
        self.0.spec.zone
    }
}

/// dlmgmtd link flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DlFlags {
    /// `DLMGMT_ACTIVE`: exists in the running system.
    pub active: bool,
    /// `DLMGMT_PERSIST`: in the persistent configuration.
    pub persistent: bool,
    /// `DLMGMT_TRANSIENT`: goes away with its zone / creator.
    pub transient: bool,
}

impl DlFlags {
    pub const ACTIVE: DlFlags = DlFlags { active: true, persistent: false, transient: false };
    pub const PERSIST: DlFlags = DlFlags { active: false, persistent: true, transient: false };
    pub const ACTIVE_PERSIST: DlFlags = DlFlags { active: true, persistent: true, transient: false };
}

/// A dlmgmtd entry as `dladm_datalink_id2info` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub linkid: DatalinkId,
    pub name: String,
    pub class: i32,
    pub media: u32,
    pub zone: ZoneId,
    pub flags: DlFlags,
}

/// dlmgmtd failures (`dladm_status_t` counterparts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DlError {
    /// `DLADM_STATUS_EXIST`.
    Exists,
    /// `DLADM_STATUS_NOTFOUND`.
    NotFound,
    /// `DLADM_STATUS_DENIED`.
    Permission,
    /// `DLADM_STATUS_TEMPONLY`: a non-global zone asked for persistence.
    TempOnly,
    /// `DLADM_STATUS_BADARG`.
    BadArg,
    /// No id left.
    NoSpace,
    /// The kernel still has the link (devnet bound).
    Busy,
}

impl DlError {
    pub fn errno(self) -> Errno {
        match self {
            DlError::Exists => EEXIST,
            DlError::NotFound => ENOENT,
            DlError::Permission => EPERM,
            DlError::TempOnly | DlError::BadArg => EINVAL,
            DlError::NoSpace => ENOSPC,
            DlError::Busy => EBUSY,
        }
    }
}

#[derive(Clone)]
struct LinkEntry {
    info: LinkInfo,
    conf: BTreeMap<String, Vec<u8>>,
    /// Made by the kernel's `dls_mgmt_create` upcall: the kernel must
    /// give it back (`dls_mgmt_destroy`); checked at the end of a test.
    kernel_made: bool,
}

pub(crate) struct DlState {
    links: BTreeMap<DatalinkId, LinkEntry>,
    cursor: DatalinkId,
    zones: BTreeMap<ZoneId, String>,
    creds: HashMap<usize, Arc<CredInner>>,
    /// linkid -> (mac handle address, zone).
    devnet: HashMap<DatalinkId, (usize, ZoneId)>,
    /// Links moved out of the global zone by `dls_devnet_setzid` (each
    /// holds an extra devnet reference until moved back).
    moved: std::collections::BTreeSet<DatalinkId>,
    /// Outstanding `crhold`s per credential address.
    cred_holds: HashMap<usize, u32>,
}

impl DlState {
    pub(crate) fn new() -> Self {
        let mut zones = BTreeMap::new();
        zones.insert(GLOBAL_ZONEID, "global".to_string());
        DlState {
            links: BTreeMap::new(),
            cursor: 1,
            zones,
            creds: HashMap::new(),
            devnet: HashMap::new(),
            moved: std::collections::BTreeSet::new(),
            cred_holds: HashMap::new(),
        }
    }

    /// The entry of `linkid` as a caller in `zone` sees it (dlmgmtd
    /// looks a link up in the caller's zone): `NotFound` when it is not
    /// visible there.
    fn visible_mut(&mut self, linkid: DatalinkId, zone: ZoneId) -> Result<&mut LinkEntry, DlError> {
        match self.links.get_mut(&linkid) {
            Some(e) if visible(&e.info, zone) => Ok(e),
            _ => Err(DlError::NotFound),
        }
    }

    fn alloc_id(&mut self) -> Option<DatalinkId> {
        for _ in 0..u32::MAX {
            let id = self.cursor;
            self.cursor = if self.cursor == u32::MAX { 1 } else { self.cursor + 1 };
            if id != 0 && !self.links.contains_key(&id) {
                return Some(id);
            }
        }
        None
    }

    fn name_taken(&self, name: &str, zone: ZoneId) -> bool {
        self.links.values().any(|l| l.info.name == name && l.info.zone == zone)
    }

    pub(crate) fn devnet_of(&self, linkid: DatalinkId) -> Option<(usize, ZoneId)> {
        self.devnet.get(&linkid).copied()
    }

    pub(crate) fn id_by_name(&self, name: &str, zone: ZoneId) -> Option<DatalinkId> {
        let mut best = None;
        for l in self.links.values() {
            if l.info.name == name {
                if l.info.zone == zone {
                    return Some(l.info.linkid);
                }
                if zone == GLOBAL_ZONEID && best.is_none() {
                    best = Some(l.info.linkid);
                }
            }
        }
        best
    }
}

fn visible(info: &LinkInfo, zone: ZoneId) -> bool {
    zone == GLOBAL_ZONEID || info.zone == zone
}

// ----- credentials and zones -----

impl SimHost {
    /// A credential.  The zone must exist ([`SimHost::create_zone`]).
    pub fn cred(&self, spec: CredSpec) -> SimCred {
        assert!(lock(&self.shared.dl).zones.contains_key(&spec.zone), "tuntap-sim: cred in unknown zone {}", spec.zone);
        new_cred(&self.shared, spec)
    }

    /// uid 0 in the global zone with every privilege.
    pub fn root_cred(&self) -> SimCred {
        self.cred(CredSpec { uid: 0, gid: 0, groups: vec![], zone: GLOBAL_ZONEID, privs: Privileges::all() })
    }

    /// An unprivileged user in `zone`.
    pub fn user_cred(&self, uid: u32, gid: u32, zone: ZoneId) -> SimCred {
        self.cred(CredSpec { uid, gid, groups: vec![], zone, privs: Privileges::default() })
    }

    /// Create a non-global zone; returns its id (1, 2, ...).
    pub fn create_zone(&self, name: &str) -> ZoneId {
        let mut dl = lock(&self.shared.dl);
        let id = dl.zones.keys().next_back().copied().unwrap_or(0) + 1;
        dl.zones.insert(id, name.to_string());
        id
    }

    /// The name of a zone (`getzonenamebyid`).
    pub fn zone_name(&self, zone: ZoneId) -> Option<String> {
        lock(&self.shared.dl).zones.get(&zone).cloned()
    }

    /// The zone id of a zone name.
    pub fn zone_id(&self, name: &str) -> Option<ZoneId> {
        lock(&self.shared.dl).zones.iter().find(|(_, n)| n.as_str() == name).map(|(id, _)| *id)
    }
}

/// A new live credential of the host.
pub(crate) fn new_cred(host: &Arc<HostShared>, spec: CredSpec) -> SimCred {
    let inner = Arc::new(CredInner { magic: CRED_MAGIC, spec });
    lock(&host.dl).creds.insert(Arc::as_ptr(&inner) as usize, inner.clone());
    SimCred(inner)
}

/// Look up a credential the driver passes back; records a violation and
/// returns None when it is not a live simulator credential.
#[track_caller]
/// `crhold(9F)`.
pub(crate) fn cred_hold(host: &Arc<HostShared>, cr: Cred) {
    if cred_read(host, cr).is_some() {
        *lock(&host.dl).cred_holds.entry(cr.0 as usize).or_insert(0) += 1;
    }
}

/// `crfree(9F)` of a hold: one without a `crhold` before it is a
/// violation (it would free the caller's credential under it).
#[track_caller]
pub(crate) fn cred_release(host: &Arc<HostShared>, cr: Cred) {
    let mut dl = lock(&host.dl);
    match dl.cred_holds.get_mut(&(cr.0 as usize)) {
        Some(n) if *n > 0 => *n -= 1,
        _ => {
            drop(dl);
            host.record(ViolationKind::BadCred, format!("crfree of {:p} without a crhold", cr.0));
        }
    }
}

/// Credentials still held at the end: a leak.
pub(crate) fn check_cred_leaks(host: &Arc<HostShared>) {
    let held: u32 = lock(&host.dl).cred_holds.values().sum();
    if held > 0 {
        host.record(ViolationKind::Leak, format!("{held} crhold(s) never released with crfree"));
    }
}

pub(crate) fn cred_read(host: &Arc<HostShared>, cr: Cred) -> Option<CredSpec> {
    let found = lock(&host.dl).creds.get(&(cr.0 as usize)).cloned();
    match found {
        Some(c) if c.magic == CRED_MAGIC => Some(c.spec.clone()),
        _ => {
            host.record(ViolationKind::BadCred, format!("{:p} is not a credential of this host", cr.0));
            None
        }
    }
}

// ----- dlmgmtd: the userland door interface -----

impl SimHost {
    /// `dladm_create_datalink_id`: a new link id for `name` in the
    /// caller's zone.
    pub fn dlmgmt_create_id(
        &self,
        cred: &SimCred,
        name: &str,
        class: i32,
        media: u32,
        flags: DlFlags,
    ) -> Result<DatalinkId, DlError> {
        if validate_link_name(name.as_bytes()).is_err() || class == DATALINK_CLASS_ALL || class == 0 {
            return Err(DlError::BadArg);
        }
        if !flags.active && !flags.persistent {
            return Err(DlError::BadArg);
        }
        if !cred.spec().privs.dl_config {
            return Err(DlError::Permission);
        }
        let zone = cred.zone();
        let mut flags = flags;
        if zone != GLOBAL_ZONEID {
            if flags.persistent {
                return Err(DlError::TempOnly);
            }
            flags.transient = true;
        }
        let mut dl = lock(&self.shared.dl);
        if dl.name_taken(name, zone) {
            return Err(DlError::Exists);
        }
        let id = dl.alloc_id().ok_or(DlError::NoSpace)?;
        dl.links.insert(
            id,
            LinkEntry {
                info: LinkInfo { linkid: id, name: name.to_string(), class, media, zone, flags },
                conf: BTreeMap::new(),
                kernel_made: false,
            },
        );
        Ok(id)
    }

    /// `dladm_destroy_datalink_id`: drop the `flags` parts (active and/or
    /// persistent); the id goes away when neither is left.  `Busy` while
    /// the kernel still has the link bound (dls devnet).
    pub fn dlmgmt_destroy_id(&self, cred: &SimCred, linkid: DatalinkId, flags: DlFlags) -> Result<(), DlError> {
        if !cred.spec().privs.dl_config {
            return Err(DlError::Permission);
        }
        let mut dl = lock(&self.shared.dl);
        let bound = dl.devnet.contains_key(&linkid);
        let e = dl.visible_mut(linkid, cred.zone())?;
        if flags.active && e.info.flags.active && bound {
            return Err(DlError::Busy);
        }
        if flags.active {
            e.info.flags.active = false;
        }
        if flags.persistent {
            e.info.flags.persistent = false;
            e.conf.clear();
        }
        if !e.info.flags.active && !e.info.flags.persistent {
            dl.links.remove(&linkid);
        }
        Ok(())
    }

    /// `dladm_name2info` as seen from `zone`.
    pub fn dlmgmt_name2info(&self, zone: ZoneId, name: &str) -> Result<LinkInfo, DlError> {
        let dl = lock(&self.shared.dl);
        let id = dl.id_by_name(name, zone).ok_or(DlError::NotFound)?;
        dl.links.get(&id).map(|e| e.info.clone()).ok_or(DlError::NotFound)
    }

    /// `dladm_datalink_id2info` as seen from `zone`.
    pub fn dlmgmt_id2info(&self, zone: ZoneId, linkid: DatalinkId) -> Result<LinkInfo, DlError> {
        let dl = lock(&self.shared.dl);
        match dl.links.get(&linkid) {
            Some(e) if visible(&e.info, zone) => Ok(e.info.clone()),
            _ => Err(DlError::NotFound),
        }
    }

    /// `dladm_walk_datalink_id`: links visible from `zone` whose class is
    /// in `class_mask`, by id.
    pub fn dlmgmt_walk(&self, zone: ZoneId, class_mask: i32) -> Vec<LinkInfo> {
        let dl = lock(&self.shared.dl);
        dl.links
            .values()
            .filter(|e| visible(&e.info, zone) && e.info.class & class_mask != 0)
            .map(|e| e.info.clone())
            .collect()
    }

    /// Store a persistent configuration value of a persistent link.
    pub fn dlmgmt_set_conf(&self, cred: &SimCred, linkid: DatalinkId, key: &str, val: &[u8]) -> Result<(), DlError> {
        if !cred.spec().privs.dl_config {
            return Err(DlError::Permission);
        }
        let mut dl = lock(&self.shared.dl);
        let e = dl.visible_mut(linkid, cred.zone())?;
        if !e.info.flags.persistent {
            return Err(DlError::BadArg);
        }
        e.conf.insert(key.to_string(), val.to_vec());
        Ok(())
    }

    /// Read a persistent configuration value.
    pub fn dlmgmt_get_conf(&self, zone: ZoneId, linkid: DatalinkId, key: &str) -> Result<Vec<u8>, DlError> {
        let dl = lock(&self.shared.dl);
        let e = dl.links.get(&linkid).ok_or(DlError::NotFound)?;
        if !visible(&e.info, zone) {
            return Err(DlError::NotFound);
        }
        e.conf.get(key).cloned().ok_or(DlError::NotFound)
    }

    /// Remove one persistent configuration value (`dladm_unset_conf_field`
    /// then `dladm_write_conf`).  Removing an absent key is not an error.
    pub fn dlmgmt_unset_conf(&self, cred: &SimCred, linkid: DatalinkId, key: &str) -> Result<(), DlError> {
        if !cred.spec().privs.dl_config {
            return Err(DlError::Permission);
        }
        let mut dl = lock(&self.shared.dl);
        let e = dl.visible_mut(linkid, cred.zone())?;
        e.conf.remove(key);
        Ok(())
    }

    /// Remove a link's whole persistent configuration (`dladm_remove_conf`).
    pub fn dlmgmt_remove_conf(&self, cred: &SimCred, linkid: DatalinkId) -> Result<(), DlError> {
        self.dlmgmt_destroy_id(cred, linkid, DlFlags::PERSIST)
    }

    /// `dladm_up_datalink_id`: make a persistent link active again (after
    /// a reboot).
    pub fn dlmgmt_up_id(&self, linkid: DatalinkId) -> Result<(), DlError> {
        let mut dl = lock(&self.shared.dl);
        let e = dl.links.get_mut(&linkid).ok_or(DlError::NotFound)?;
        e.info.flags.active = true;
        Ok(())
    }

    /// Model a reboot of dlmgmtd's state: links that are not persistent
    /// disappear, persistent ones stay (inactive) with their
    /// configuration.  The kernel side must be gone first: a bound devnet
    /// is a violation.
    pub fn reboot(&self) {
        let mut dl = lock(&self.shared.dl);
        if !dl.devnet.is_empty() {
            let n = dl.devnet.len();
            drop(dl);
            self.shared.record(ViolationKind::DlsProtocol, format!("reboot with {n} devnet binding(s) still present"));
            dl = lock(&self.shared.dl);
        }
        dl.links.retain(|_, e| e.info.flags.persistent);
        for e in dl.links.values_mut() {
            e.info.flags.active = false;
            e.info.flags.transient = false;
        }
    }

    /// The link id bound (dls devnet) to the mac of `mh`, if any.
    pub fn devnet_linkid(&self, mh: MacHandle) -> Option<DatalinkId> {
        let dl = lock(&self.shared.dl);
        dl.devnet.iter().find(|(_, (h, _))| *h == mh.0.as_ptr() as usize).map(|(id, _)| *id)
    }
}

// ----- the kernel side -----

#[track_caller]
pub(crate) fn dls_devnet_create(host: &Arc<HostShared>, mh: MacHandle, linkid: DatalinkId, zone: ZoneId) -> Result<(), Errno> {
    crate::context::check_may_block(host, "dls_devnet_create (mac perimeter and a dlmgmtd door upcall)");
    host.injected(crate::faults::Fault::DlsDevnetCreate)?;
    let Some(m) = mac::lookup_handle(host, mh, "dls_devnet_create") else { return Err(EINVAL) };
    let mut dl = lock(&host.dl);
    if !dl.zones.contains_key(&zone) {
        drop(dl);
        host.record(ViolationKind::DlsProtocol, format!("dls_devnet_create in unknown zone {zone}"));
        return Err(EINVAL);
    }
    let Some(e) = dl.links.get(&linkid) else { return Err(ENOENT) };
    if !e.info.flags.active {
        return Err(ENOENT);
    }
    if dl.devnet.contains_key(&linkid) {
        return Err(EEXIST);
    }
    let mut st = lock(&m.st);
    if st.devnet.is_some() {
        return Err(EEXIST);
    }
    if st.disabled {
        return Err(ENOENT);
    }
    st.devnet = Some((linkid, zone));
    dl.devnet.insert(linkid, (mh.0.as_ptr() as usize, zone));
    Ok(())
}

#[track_caller]
pub(crate) fn dls_devnet_destroy(host: &Arc<HostShared>, mh: MacHandle) -> Result<DatalinkId, Errno> {
    crate::context::check_may_block(host, "dls_devnet_destroy (mac perimeter and a dlmgmtd door upcall)");
    let Some(m) = mac::lookup_handle(host, mh, "dls_devnet_destroy") else { return Err(EINVAL) };
    let mut dl = lock(&host.dl);
    let mut st = lock(&m.st);
    let Some((linkid, _)) = st.devnet else {
        drop(st);
        drop(dl);
        // dls_devnet_destroy of a mac with no binding goes on into
        // dls_link_rele_by_name and dls_devnet_set with no link id, and
        // newer dls_devnet_unset returns ENOENT with the devnet lock held
        // (usr/src/uts/common/io/dls/dls_mgmt.c): a driver unbinds only
        // what it bound.
        host.record(ViolationKind::DlsProtocol, "dls_devnet_destroy of a mac that has no dls binding".into());
        return Err(ENOENT);
    };
    // An open dld stream (mac/dld.rs rule 1) holds the devnet too.
    if !st.clients.is_empty() || !st.dld.is_empty() || dl.moved.contains(&linkid) {
        return Err(EBUSY);
    }
    st.devnet = None;
    dl.devnet.remove(&linkid);
    Ok(linkid)
}

#[track_caller]
/// `dls_mgmt_create`: dlmgmtd files the link in the zone of the calling
/// thread (`zone_kcred()` in `i_dls_mgmt_upcall`; see context.rs rule 3).
pub(crate) fn dls_mgmt_create(host: &Arc<HostShared>, name: &LinkName) -> Result<DatalinkId, Errno> {
    crate::context::check_may_block(host, "dls_mgmt_create (a door upcall to dlmgmtd)");
    host.injected(crate::faults::Fault::DlsMgmtCreate)?;
    let zone = crate::context::caller_zone();
    let mut dl = lock(&host.dl);
    if !dl.zones.contains_key(&zone) {
        return Err(EINVAL);
    }
    if dl.name_taken(name.as_str(), zone) {
        return Err(EEXIST);
    }
    let id = dl.alloc_id().ok_or(ENOSPC)?;
    dl.links.insert(
        id,
        LinkEntry {
            info: LinkInfo {
                linkid: id,
                name: name.as_str().to_string(),
                class: DATALINK_CLASS_MISC,
                media: DL_ETHER,
                zone,
                flags: DlFlags { active: true, persistent: false, transient: true },
            },
            conf: BTreeMap::new(),
            kernel_made: true,
        },
    );
    Ok(id)
}

/// `dls_mgmt_get_linkinfo` (DLMGMT_CMD_GETNAME): name, class and media of
/// a link id, as dlmgmtd answers the calling thread's zone (the global
/// zone sees every link; `dlmgmt_getname` in
/// `usr/src/cmd/dlmgmtd/dlmgmt_door.c`).
pub(crate) fn dls_mgmt_linkinfo(host: &Arc<HostShared>, linkid: DatalinkId) -> Result<DlmgmtLink, Errno> {
    crate::context::check_may_block(host, "dls_mgmt_get_linkinfo (a door upcall to dlmgmtd)");
    let zone = crate::context::caller_zone();
    let dl = lock(&host.dl);
    let e = dl.links.get(&linkid).filter(|e| visible(&e.info, zone)).ok_or(ENOENT)?;
    let name = LinkName::new(&e.info.name).map_err(|_| EINVAL)?;
    Ok(DlmgmtLink { name, class: e.info.class, media: e.info.media })
}

/// `dls_mgmt_get_linkid` (DLMGMT_CMD_GETLINKID): the id `name` has in the
/// calling thread's zone.
pub(crate) fn dls_mgmt_linkid(host: &Arc<HostShared>, name: &LinkName) -> Result<DatalinkId, Errno> {
    crate::context::check_may_block(host, "dls_mgmt_get_linkid (a door upcall to dlmgmtd)");
    let zone = crate::context::caller_zone();
    // dlmgmtd's `link_by_name` (usr/src/cmd/dlmgmtd/dlmgmt_util.c) looks
    // the name up in the caller's zone only.
    lock(&host.dl)
        .links
        .values()
        .find(|l| l.info.name == name.as_str() && l.info.zone == zone)
        .map(|l| l.info.linkid)
        .ok_or(ENOENT)
}

/// `dls_devnet_setzid` on an active link: dls and dlmgmtd
/// (`DLMGMT_CMD_SETZONEID`) both move it to `zone`.  Moving a link out of
/// the global zone takes an extra devnet hold that only moving it back
/// releases (`dls_devnet_setzid` in `usr/src/uts/common/io/dls/dls_mgmt.c`),
/// so `dls_devnet_destroy` of a link still in a zone it was moved to is
/// refused (`EBUSY`).
pub(crate) fn dls_devnet_setzid(host: &Arc<HostShared>, linkid: DatalinkId, zone: ZoneId) -> Result<(), Errno> {
    crate::context::check_may_block(host, "dls_devnet_setzid (mac perimeter and a dlmgmtd door upcall)");
    host.injected(crate::faults::Fault::DlsDevnetSetzid)?;
    // dlmgmtd moves links between zones only for the global zone
    // (`dlmgmt_setzoneid` in usr/src/cmd/dlmgmtd/dlmgmt_door.c answers
    // EACCES otherwise), and the door call carries the calling thread's
    // zone (`i_dls_mgmt_upcall`).
    if crate::context::caller_zone() != tuntap_drv::ddi::GLOBAL_ZONEID {
        return Err(illumos_sys_hdrs::EACCES);
    }
    let mut dl = lock(&host.dl);
    if !dl.zones.contains_key(&zone) {
        return Err(EINVAL);
    }
    let Some(&(mh, _)) = dl.devnet.get(&linkid) else { return Err(ENOENT) };
    let Some(e) = dl.links.get(&linkid) else { return Err(ENOENT) };
    let name = e.info.name.clone();
    if e.info.zone != zone && dl.name_taken(&name, zone) {
        return Err(EEXIST);
    }
    dl.devnet.insert(linkid, (mh, zone));
    if let Some(e) = dl.links.get_mut(&linkid) {
        e.info.zone = zone;
    }
    if zone == GLOBAL_ZONEID {
        dl.moved.remove(&linkid);
    } else {
        dl.moved.insert(linkid);
    }
    Ok(())
}

/// End of a test: every link id the kernel asked dlmgmtd for
/// (`dls_mgmt_create`) must have been given back (`dls_mgmt_destroy`),
/// as a failed creation or a destroyed link does on illumos.  A leaked id
/// keeps its name taken in dlmgmtd until reboot.
pub(crate) fn check_leaks(host: &Arc<HostShared>) {
    let left: Vec<String> = lock(&host.dl)
        .links
        .values()
        .filter(|e| e.kernel_made)
        .map(|e| format!("{} `{}` (zone {})", e.info.linkid, e.info.name, e.info.zone))
        .collect();
    if !left.is_empty() {
        host.record(
            ViolationKind::Leak,
            format!(
                "dlmgmtd link id(s) made by the kernel (dls_mgmt_create) never given back with \
                 dls_mgmt_destroy: {}",
                left.join(", ")
            ),
        );
    }
}

#[track_caller]
pub(crate) fn dls_mgmt_destroy(host: &Arc<HostShared>, linkid: DatalinkId) -> Result<(), Errno> {
    crate::context::check_may_block(host, "dls_mgmt_destroy (a door upcall to dlmgmtd)");
    // dlmgmtd destroys only links the caller's zone may see
    // (`dlmgmt_upcall_destroy` looks the id up in the door caller's zone).
    let zone = crate::context::caller_zone();
    let mut dl = lock(&host.dl);
    if dl.devnet.contains_key(&linkid) {
        drop(dl);
        host.record(
            ViolationKind::DlsProtocol,
            format!("dls_mgmt_destroy of link id {linkid} while its devnet is still bound (dls_devnet_destroy first)"),
        );
        return Err(EBUSY);
    }
    if dl.links.get(&linkid).is_some_and(|e| !visible(&e.info, zone)) {
        return Err(ENOENT);
    }
    match dl.links.remove(&linkid) {
        Some(_) => Ok(()),
        None => Err(ENOENT),
    }
}
