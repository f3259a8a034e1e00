// SPDX-License-Identifier: MPL-2.0
//! The driver instance: the link table, stream open/close, the write-side
//! put procedure, and every ioctl.
//!
//! # Theory statement
//!
//! **Table.**  `table` maps link ids and (zone, name) pairs to links, and
//! holds *reservations* for links being created, so two creators of one
//! id or name cannot both proceed; the loser gets `EEXIST`.  Creation
//! registers with mac and dls with no lock held, then publishes the link;
//! deletion condemns the link, tears mac and dls down with no lock held,
//! then unpublishes it.  Any failed step undoes the ones before it, so a
//! failure leaves no half-made link, no leaked id and no leaked memory.
//!
//! **Zones.**  A link belongs to its creator's zone.  A caller sees only
//! the links of its zone; the global zone sees and administers all.  Old
//! API units are numbered per zone.
//!
//! **Privilege.**  Create, delete and modify need `secpolicy_dl_config`.
//! Attaching needs to be the link's owner, in its group, or privileged.
//! Credentials come from each ioctl's own `ioc_cr`/`cp_cr`.
//!
//! **Old API.**  `TUNNEWPPA`/`TUNSETPPA`/`TUNGETPPA` take an `int`, as
//! `I_STR` (4 bytes of payload) or transparently.  Transparently the old
//! driver read the argument *value* (`ioctl(fd, TUNNEWPPA, -1)`); callers
//! that pass a pointer instead are served by `M_COPYIN`.  A value in
//! [-1, OLD_API_MAX_PPA] is taken as the value, anything else as a user
//! address (no valid user address is that small).
//!
//! Locks: `table` is taken before any link or minor lock, never after.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ffi::c_char;
use core::ptr;

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::{mac_callbacks_t, mblk_t, queue_t};
use tuntap_abi::{
    self as abi, AbiError, DatalinkId, LinkName, Pod, TUN_NO_ID, attach_flags, create_flags,
    delete_flags, modify_what,
};

use crate::ddi::{Cred, DropReason, Errno, GLOBAL_ZONEID, Kernel, Probe, StreamsEntry, ZoneId, node_minor};
use crate::frame;
use crate::ioctl::{self, IoctlHeader};
use crate::link::{self, Link, LinkSpec, Mode, Origin};
use crate::mblk::MsgBlk;
use crate::minor::{self, Minor, Node, Pending, Stage};
use crate::sync::KMutex;

struct Table<K: Kernel> {
    by_id: BTreeMap<DatalinkId, Arc<Link<K>>>,
    by_name: BTreeMap<(ZoneId, LinkName), DatalinkId>,
    reserved_ids: BTreeSet<DatalinkId>,
    reserved_names: BTreeSet<(ZoneId, LinkName)>,
    minors: BTreeSet<u32>,
    opens: usize,
}

/// Private property names handed to mac (`m_priv_props`): a
/// NULL-terminated array of C strings.
struct PrivProps([*mut c_char; 3]);
// SAFETY: the array points at static C strings and is never written.
unsafe impl Send for PrivProps {}
// SAFETY: as above.
unsafe impl Sync for PrivProps {}

pub struct Driver<K: Kernel> {
    k: K,
    table: KMutex<K, Table<K>>,
    callbacks: Box<mac_callbacks_t>,
    priv_props: Box<PrivProps>,
}

// SAFETY: the callback table holds only function pointers and a null
// reserved pointer; it is never written after construction.
unsafe impl<K: Kernel> Send for Driver<K> {}
// SAFETY: as above; everything else is behind KMutex or atomics.
unsafe impl<K: Kernel> Sync for Driver<K> {}

/// The result of a command: `ioc_rval` and the bytes to copy out.
struct Reply {
    rval: i32,
    out: Option<Vec<u8>>,
}

impl Reply {
    fn rval(rval: i32) -> Self {
        Self { rval, out: None }
    }
    fn with<T: Pod>(value: &T) -> Self {
        Self { rval: 0, out: Some(abi::as_bytes(value).to_vec()) }
    }
}

fn abi_errno(e: AbiError) -> Errno {
    match e {
        AbiError::BadSize { .. } | AbiError::UnknownFlags { .. } => sys::EINVAL,
        AbiError::BadVersion { .. } => sys::ENOTSUP,
    }
}

fn decode<T: Pod>(input: &[u8]) -> Result<T, Errno> {
    abi::decode_versioned::<T>(input).map_err(abi_errno)
}

/// How a command takes its argument.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ArgKind {
    /// No argument.
    None,
    /// A fixed-size structure (copied in transparently).
    Fixed(usize),
    /// An old-API int: I_STR payload, or transparent value-or-pointer.
    OldInt,
}

fn arg_kind(cmd: i32) -> Option<ArgKind> {
    use core::mem::size_of;
    Some(match cmd {
        abi::TUN_IOC_CREATE => ArgKind::Fixed(size_of::<abi::TunIocCreate>()),
        abi::TUN_IOC_DELETE => ArgKind::Fixed(size_of::<abi::TunIocDelete>()),
        abi::TUN_IOC_INFO => ArgKind::Fixed(size_of::<abi::TunIocInfo>()),
        abi::TUN_IOC_LIST => ArgKind::Fixed(size_of::<abi::TunIocList>()),
        abi::TUN_IOC_MODIFY => ArgKind::Fixed(size_of::<abi::TunIocModify>()),
        abi::TUN_IOC_ATTACH => ArgKind::Fixed(size_of::<abi::TunIocAttach>()),
        abi::TUN_IOC_DETACH => ArgKind::None,
        abi::TUN_IOC_SET_OWNER
        | abi::TUN_IOC_SET_GROUP
        | abi::TUN_IOC_SET_PERSIST
        | abi::TUN_IOC_SET_CARRIER => ArgKind::Fixed(4),
        abi::TUN_IOC_QUEUE_LIMITS => ArgKind::Fixed(size_of::<abi::TunIocQueueLimits>()),
        abi::TUNNEWPPA | abi::TUNSETPPA => ArgKind::OldInt,
        abi::TUNGETPPA => ArgKind::None,
        _ => return None,
    })
}

/// Reserved (padding) fields must be zero, so a later ABI version can
/// give them a meaning without old drivers misreading new callers.
fn reserved_zero(is_zero: bool) -> Result<(), Errno> {
    if is_zero { Ok(()) } else { Err(sys::EINVAL) }
}

fn read_u32(input: &[u8]) -> Result<u32, Errno> {
    let arr: [u8; 4] = input.try_into().map_err(|_| sys::EINVAL)?;
    Ok(u32::from_ne_bytes(arr))
}

impl<K: Kernel> Driver<K> {
    pub fn new(k: K) -> Self {
        Self {
            k,
            table: KMutex::new(Table {
                by_id: BTreeMap::new(),
                by_name: BTreeMap::new(),
                reserved_ids: BTreeSet::new(),
                reserved_names: BTreeSet::new(),
                minors: BTreeSet::new(),
                opens: 0,
            }),
            callbacks: Box::new(link::mac_callbacks::<K>()),
            priv_props: Box::new(PrivProps([
                link::PROP_MODE.as_ptr().cast_mut(),
                link::PROP_OWNER.as_ptr().cast_mut(),
                ptr::null_mut(),
            ])),
        }
    }

    pub fn kernel(&self) -> &K {
        &self.k
    }

    /// `detach(9E)`: refused while any link exists or any stream is open.
    pub fn can_detach(&self) -> Result<(), Errno> {
        let t = self.table.lock();
        if t.by_id.is_empty() && t.opens == 0 && t.reserved_ids.is_empty() { Ok(()) } else { Err(sys::EBUSY) }
    }

    /// Every link, for tests and the simulator's inspection.
    pub fn links(&self) -> Vec<Arc<Link<K>>> {
        self.table.lock().by_id.values().cloned().collect()
    }

    pub fn link_by_id(&self, linkid: DatalinkId) -> Option<Arc<Link<K>>> {
        self.table.lock().by_id.get(&linkid).cloned()
    }

    fn visible(link: &Link<K>, zone: ZoneId) -> bool {
        zone == GLOBAL_ZONEID || link.zone == zone
    }

    fn lookup_visible(&self, linkid: DatalinkId, zone: ZoneId) -> Result<Arc<Link<K>>, Errno> {
        match self.link_by_id(linkid) {
            Some(l) if Self::visible(&l, zone) => Ok(l),
            _ => Err(sys::ENOENT),
        }
    }

    pub(crate) fn lookup_name(&self, zone: ZoneId, name: &LinkName) -> Option<Arc<Link<K>>> {
        let t = self.table.lock();
        let id = t.by_name.get(&(zone, *name))?;
        t.by_id.get(id).cloned()
    }

    // ----- link creation and destruction -----

    /// Create and publish a link.  On failure nothing is left behind
    /// (a kernel-made link id is given back too).
    pub fn create_link(&self, spec: LinkSpec) -> Result<Arc<Link<K>>, Errno> {
        {
            let mut t = self.table.lock();
            let key = (spec.zone, spec.name);
            if t.by_id.contains_key(&spec.linkid)
                || t.reserved_ids.contains(&spec.linkid)
                || t.by_name.contains_key(&key)
                || t.reserved_names.contains(&key)
            {
                return Err(sys::EEXIST);
            }
            t.reserved_ids.insert(spec.linkid);
            t.reserved_names.insert(key);
        }
        let unreserve = |d: &Self| {
            let mut t = d.table.lock();
            t.reserved_ids.remove(&spec.linkid);
            t.reserved_names.remove(&(spec.zone, spec.name));
        };
        let link = Arc::new(Link::new(&self.k, &spec, self.k.current_pid()));
        let mut mac = [0u8; 6];
        let callbacks: *const mac_callbacks_t = &*self.callbacks;
        let priv_props = self.priv_props.0.as_ptr().cast_mut();
        let reg = self
            .k
            .mac_register(&mut |reg| link.fill_registration(reg, callbacks, &mut mac, priv_props));
        let mh = match reg {
            Ok(mh) => mh,
            Err(e) => {
                unreserve(self);
                return Err(e);
            }
        };
        link.set_mac_handle(Some(mh));
        if let Err(e) = self.k.dls_devnet_create(mh, spec.linkid, spec.zone) {
            if self.k.mac_unregister(mh).is_err() {
                // Nothing opened it yet, so this cannot be busy; if it is,
                // keep the link published rather than free what mac uses.
                self.publish(&spec, link);
                return Err(e);
            }
            link.set_mac_handle(None);
            unreserve(self);
            return Err(e);
        }
        self.publish(&spec, link.clone());
        self.k.probe(Probe::LinkCreate(spec.linkid, &spec.name));
        // Once published a concurrent delete may condemn the link: these
        // upcalls go through with_mac so they never follow its teardown.
        link.sync_link_state();
        link.with_mac(|mh| self.k.mac_tx_update(mh));
        Ok(link)
    }

    /// Turn a creation reservation into a published link.
    fn publish(&self, spec: &LinkSpec, link: Arc<Link<K>>) {
        let mut t = self.table.lock();
        t.reserved_ids.remove(&spec.linkid);
        t.reserved_names.remove(&(spec.zone, spec.name));
        t.by_name.insert((spec.zone, spec.name), spec.linkid);
        t.by_id.insert(spec.linkid, link);
    }

    /// Create a link whose id the kernel asks dlmgmtd for.
    fn create_kernel_link(&self, mut spec: LinkSpec) -> Result<Arc<Link<K>>, Errno> {
        spec.linkid = self.k.dls_mgmt_create(&spec.name, spec.zone)?;
        self.create_link(spec).inspect_err(|_| {
            let _ = self.k.dls_mgmt_destroy(spec.linkid);
        })
    }

    /// Tear a link down: dls, quiesce, mac; `force` detaches queues.
    pub fn destroy_link(&self, link: &Arc<Link<K>>, force: bool) -> Result<(), Errno> {
        link.condemn(force).map_err(|e| match e {
            link::CondemnError::AlreadyGoing => sys::ENOENT,
            link::CondemnError::HasQueues | link::CondemnError::IpPlumbed => sys::EBUSY,
        })?;
        let Some(mh) = link.mac_handle() else {
            link.restore();
            return Err(sys::ENOENT);
        };
        if let Err(e) = self.k.dls_devnet_destroy(mh) {
            link.restore();
            return Err(e);
        }
        if let Err(e) = self.k.mac_disable(mh) {
            let _ = self.k.dls_devnet_create(mh, link.linkid, link.zone);
            link.restore();
            return Err(e);
        }
        // No client can send now: detach every queue.  Readers get ENXIO.
        for minor in link.queue_snapshot().iter() {
            self.detach_minor(minor, link, true);
        }
        // Resolver replies queued for a taskq must not outlive the link.
        while link.replies_pending() {
            link.flush_replies();
        }
        if let Err(e) = self.k.mac_unregister(mh) {
            let _ = self.k.dls_devnet_create(mh, link.linkid, link.zone);
            link.restore();
            return Err(e);
        }
        link.set_mac_handle(None);
        {
            let mut t = self.table.lock();
            t.by_id.remove(&link.linkid);
            t.by_name.remove(&(link.zone, link.name));
        }
        if link.origin.kernel_owns_id() {
            let _ = self.k.dls_mgmt_destroy(link.linkid);
        }
        self.k.probe(Probe::LinkDestroy(link.linkid));
        Ok(())
    }

    /// Detach `minor` from `link`; `gone`: the link is being deleted, so
    /// tell the reader with M_ERROR.  Removes a transient link that lost
    /// its last queue.
    fn detach_minor(&self, minor: &Arc<Minor<K>>, link: &Arc<Link<K>>, gone: bool) {
        let was = {
            let mut st = minor.state.lock();
            match &st.link {
                Some(l) if Arc::ptr_eq(l, link) => {
                    st.link = None;
                    true
                }
                _ => false,
            }
        };
        link.detach(minor);
        if gone && was && minor.enter() {
            if let Some(msg) = MsgBlk::<K>::alloc_with(&self.k, 0, &[sys::ENXIO as u8, sys::ENXIO as u8]) {
                // SAFETY: the message is ours; set its type before sending.
                unsafe { (*(*msg.as_ptr()).b_datap).db_type = sys::M_ERROR };
                // SAFETY: we are a user of rq, so the stream is open.
                unsafe { self.k.putnext(minor.rq(), msg.into_raw()) };
            }
            minor.exit();
        }
        if !gone && link.should_vanish() {
            // A plumbed IP interface keeps it busy: it stays, as a stale
            // link for `tunctl cleanup` to find.
            let _ = self.destroy_link(link, false);
        }
    }

    // ----- commands -----

    fn privileged(&self, cr: Cred) -> Result<(), Errno> {
        self.k.secpolicy_dl_config(cr)
    }

    fn cmd_create(&self, cr: Cred, input: &[u8]) -> Result<Reply, Errno> {
        let mut req: abi::TunIocCreate = decode(input)?;
        abi::check_flags(req.flags, create_flags::ALL).map_err(abi_errno)?;
        reserved_zero(req._pad == [0; 2])?;
        let mode = match req.flags & abi::mode::MASK {
            abi::mode::TUN => Mode::Tun,
            abi::mode::TAP => Mode::Tap,
            _ => return Err(sys::EINVAL),
        };
        let name = LinkName::from_field(&req.name).map_err(|_| sys::EINVAL)?;
        if req.linkid == abi::DATALINK_INVALID_LINKID {
            return Err(sys::EINVAL);
        }
        let mtu = if req.mtu == 0 { link::MTU_DEFAULT } else { req.mtu };
        if !(link::MTU_MIN..=link::MTU_MAX).contains(&mtu) {
            return Err(sys::EINVAL);
        }
        let mac = if req.flags & create_flags::MAC_GIVEN != 0 {
            if !frame::is_valid_unicast(&req.mac) {
                return Err(sys::EINVAL);
            }
            Some(req.mac)
        } else {
            None
        };
        self.privileged(cr)?;
        let zone = self.k.cred_zone(cr);
        // The id must be the one dlmgmtd gave this name in the caller's
        // zone, for a MISC/Ether link: otherwise a zone could take over
        // another zone's (or the global zone's) not-yet-active link id,
        // or the link would be misnamed in dladm.
        let known = self.k.dls_mgmt_lookup(&name, zone)?;
        if known.linkid != req.linkid || known.class != sys::DATALINK_CLASS_MISC || known.media != sys::DL_ETHER {
            return Err(sys::EINVAL);
        }
        let link = self.create_link(LinkSpec {
            linkid: req.linkid,
            name,
            mode,
            zone,
            origin: Origin::Control,
            mtu,
            mac,
            owner: req.owner,
            group: req.group,
            persist: req.flags & create_flags::PERSIST != 0,
        })?;
        req.mac = link.mac();
        req.mtu = mtu;
        Ok(Reply::with(&req))
    }

    fn cmd_delete(&self, cr: Cred, input: &[u8]) -> Result<Reply, Errno> {
        let req: abi::TunIocDelete = decode(input)?;
        abi::check_flags(req.flags, delete_flags::ALL).map_err(abi_errno)?;
        reserved_zero(req._pad == 0)?;
        self.privileged(cr)?;
        let link = self.lookup_visible(req.linkid, self.k.cred_zone(cr))?;
        self.destroy_link(&link, req.flags & delete_flags::FORCE != 0)?;
        Ok(Reply::rval(0))
    }

    fn cmd_info(&self, cr: Cred, minor: &Minor<K>, input: &[u8]) -> Result<Reply, Errno> {
        let req: abi::TunIocInfo = decode(input)?;
        let link = if req.linkid == abi::DATALINK_INVALID_LINKID {
            minor.link().ok_or(sys::ENXIO)?
        } else {
            self.lookup_visible(req.linkid, self.k.cred_zone(cr))?
        };
        Ok(Reply::with(&link.info()))
    }

    fn cmd_list(&self, cr: Cred, input: &[u8]) -> Result<Reply, Errno> {
        let mut req: abi::TunIocList = decode(input)?;
        let zone = self.k.cred_zone(cr);
        let t = self.table.lock();
        let mut ids = t
            .by_id
            .range(req.after.saturating_add(1)..)
            .filter(|(_, l)| Self::visible(l, zone))
            .map(|(id, _)| *id);
        req.count = 0;
        req.linkids = [0; abi::LIST_PAGE];
        for slot in req.linkids.iter_mut() {
            match ids.next() {
                Some(id) => {
                    *slot = id;
                    req.count += 1;
                }
                None => break,
            }
        }
        req.more = u32::from(ids.next().is_some());
        drop(t);
        Ok(Reply::with(&req))
    }

    fn cmd_modify(&self, cr: Cred, input: &[u8]) -> Result<Reply, Errno> {
        let req: abi::TunIocModify = decode(input)?;
        abi::check_flags(req.what, modify_what::ALL).map_err(abi_errno)?;
        reserved_zero(req._pad == [0; 2])?;
        if req.what & modify_what::MTU != 0 && !(link::MTU_MIN..=link::MTU_MAX).contains(&req.mtu) {
            return Err(sys::EINVAL);
        }
        if req.what & modify_what::MAC != 0 && !frame::is_valid_unicast(&req.mac) {
            return Err(sys::EINVAL);
        }
        if req.what & (modify_what::PERSIST | modify_what::CARRIER) != 0 && (req.persist > 1 || req.carrier > 1) {
            return Err(sys::EINVAL);
        }
        self.privileged(cr)?;
        let link = self.lookup_visible(req.linkid, self.k.cred_zone(cr))?;
        if req.what & modify_what::MTU != 0 {
            link.set_mtu(req.mtu)?;
        }
        if req.what & modify_what::MAC != 0 {
            link.set_mac(req.mac, true)?;
        }
        if req.what & modify_what::OWNER != 0 {
            link.set_owner(req.owner);
        }
        if req.what & modify_what::GROUP != 0 {
            link.set_group(req.group);
        }
        if req.what & modify_what::PERSIST != 0 {
            link.set_persist(req.persist == 1);
        }
        if req.what & modify_what::CARRIER != 0 {
            link.set_carrier(req.carrier == 1);
        }
        Ok(Reply::rval(0))
    }

    fn node_mode(node: Node) -> Option<Mode> {
        match node {
            Node::Tun => Some(Mode::Tun),
            Node::Tap => Some(Mode::Tap),
            Node::Control => None,
        }
    }

    fn cmd_attach(&self, cr: Cred, minor: &Arc<Minor<K>>, input: &[u8]) -> Result<Reply, Errno> {
        let mut req: abi::TunIocAttach = decode(input)?;
        abi::check_flags(req.flags, attach_flags::ALL).map_err(abi_errno)?;
        reserved_zero(req._pad == 0)?;
        let node_mode = Self::node_mode(minor.node).ok_or(sys::EINVAL)?;
        Self::not_dlpi(minor)?;
        let mode = match req.flags & abi::mode::MASK {
            0 => node_mode,
            m if m == node_mode.abi_bits() => node_mode,
            _ => return Err(sys::EINVAL),
        };
        let name = LinkName::from_field(&req.name).map_err(|_| sys::EINVAL)?;
        if minor.link().is_some() {
            return Err(sys::EBUSY);
        }
        let zone = self.k.cred_zone(cr);
        let privileged = self.privileged(cr).is_ok();
        let link = match self.lookup_name(zone, &name) {
            Some(l) => l,
            None if req.flags & attach_flags::CREATE != 0 => {
                if !privileged {
                    return Err(sys::EPERM);
                }
                self.create_kernel_link(LinkSpec {
                    linkid: 0,
                    name,
                    mode,
                    zone,
                    origin: Origin::Attach,
                    mtu: link::MTU_DEFAULT,
                    mac: None,
                    owner: TUN_NO_ID,
                    group: TUN_NO_ID,
                    persist: false,
                })?
            }
            None => return Err(sys::ENOENT),
        };
        if link.mode != mode {
            return Err(sys::EINVAL);
        }
        if !link.may_attach(self.k.cred_uid(cr), |g| self.k.cred_in_group(cr, g), privileged) {
            return Err(sys::EPERM);
        }
        self.attach_minor(
            minor,
            &link,
            req.flags & attach_flags::EXCLUSIVE != 0,
            req.flags & attach_flags::MULTI_QUEUE != 0,
            req.flags & attach_flags::PACKET_INFO != 0,
        )?;
        req.linkid = link.linkid;
        req.flags |= mode.abi_bits();
        Ok(Reply::with(&req))
    }

    fn attach_minor(
        &self,
        minor: &Arc<Minor<K>>,
        link: &Arc<Link<K>>,
        exclusive: bool,
        multi: bool,
        packet_info: bool,
    ) -> Result<(), Errno> {
        {
            let mut st = minor.state.lock();
            if st.link.is_some() {
                return Err(sys::EBUSY);
            }
            st.link = Some(link.clone());
            st.packet_info = packet_info;
        }
        if let Err(e) = link.attach(minor, exclusive, multi) {
            minor.state.lock().link = None;
            // A transient link made for this attach must not linger.
            if link.should_vanish() {
                let _ = self.destroy_link(link, false);
            }
            return Err(e.errno());
        }
        Ok(())
    }

    /// A stream that speaks DLPI (old-API IP plumbing) never becomes a
    /// packet queue.
    fn not_dlpi(minor: &Minor<K>) -> Result<(), Errno> {
        if minor.state.lock().dlpi.is_some() { Err(sys::EINVAL) } else { Ok(()) }
    }

    fn attached(minor: &Minor<K>) -> Result<Arc<Link<K>>, Errno> {
        minor.link().ok_or(sys::ENXIO)
    }

    /// Changes through a queue need ownership or privilege.
    fn may_change(&self, cr: Cred, link: &Link<K>) -> Result<(), Errno> {
        let privileged = self.privileged(cr).is_ok();
        if link.may_attach(self.k.cred_uid(cr), |g| self.k.cred_in_group(cr, g), privileged) {
            Ok(())
        } else {
            Err(sys::EPERM)
        }
    }

    // ----- old API -----

    fn old_prefix(node: Node) -> Option<&'static str> {
        match node {
            Node::Tun => Some("tun"),
            Node::Tap => Some("tap"),
            Node::Control => None,
        }
    }

    fn cmd_newppa(&self, cr: Cred, minor: &Arc<Minor<K>>, ppa: i64) -> Result<Reply, Errno> {
        let prefix = Self::old_prefix(minor.node).ok_or(sys::EINVAL)?;
        let mode = Self::node_mode(minor.node).ok_or(sys::EINVAL)?;
        Self::not_dlpi(minor)?;
        if ppa < -1 || ppa > i64::from(abi::OLD_API_MAX_PPA) {
            return Err(sys::EINVAL);
        }
        if minor.link().is_some() {
            return Err(sys::EBUSY);
        }
        self.privileged(cr)?;
        let zone = self.k.cred_zone(cr);
        let unit = if ppa == -1 {
            let t = self.table.lock();
            let taken = |u: u32| {
                LinkName::with_unit(prefix, u)
                    .map(|n| t.by_name.contains_key(&(zone, n)) || t.reserved_names.contains(&(zone, n)))
                    .unwrap_or(true)
            };
            (0..=abi::OLD_API_MAX_PPA as u32).find(|u| !taken(*u)).ok_or(sys::ENOSPC)?
        } else {
            ppa as u32
        };
        let name = LinkName::with_unit(prefix, unit).map_err(|_| sys::EINVAL)?;
        if self.lookup_name(zone, &name).is_some() {
            return Err(sys::EEXIST);
        }
        let link = self.create_kernel_link(LinkSpec {
            linkid: 0,
            name,
            mode,
            zone,
            origin: Origin::OldApi(unit),
            mtu: link::MTU_DEFAULT,
            mac: None,
            owner: TUN_NO_ID,
            group: TUN_NO_ID,
            persist: false,
        })?;
        self.attach_minor(minor, &link, false, true, false)?;
        Ok(Reply::rval(unit as i32))
    }

    fn cmd_setppa(&self, cr: Cred, minor: &Arc<Minor<K>>, ppa: i64) -> Result<Reply, Errno> {
        let prefix = Self::old_prefix(minor.node).ok_or(sys::EINVAL)?;
        Self::not_dlpi(minor)?;
        if ppa < 0 || ppa > i64::from(abi::OLD_API_MAX_PPA) {
            return Err(sys::EINVAL);
        }
        if minor.link().is_some() {
            return Err(sys::EBUSY);
        }
        let zone = self.k.cred_zone(cr);
        let name = LinkName::with_unit(prefix, ppa as u32).map_err(|_| sys::EINVAL)?;
        let link = self.lookup_name(zone, &name).ok_or(sys::ENODEV)?;
        self.may_change(cr, &link)?;
        self.attach_minor(minor, &link, false, true, false)?;
        Ok(Reply::rval(ppa as i32))
    }

    fn cmd_getppa(&self, minor: &Minor<K>) -> Result<Reply, Errno> {
        let link = minor.link().ok_or(sys::ENODEV)?;
        match (link.origin, link.name.split_unit()) {
            (Origin::OldApi(unit), _) => Ok(Reply::rval(unit as i32)),
            (_, (_, Some(unit))) if unit <= i32::MAX as u32 => Ok(Reply::rval(unit as i32)),
            _ => Err(sys::ENODEV),
        }
    }

    /// Run one command with its input bytes.
    fn run(&self, cmd: i32, cr: Cred, minor: &Arc<Minor<K>>, input: &[u8], old_arg: i64) -> Result<Reply, Errno> {
        let control = minor.node == Node::Control;
        match cmd {
            abi::TUN_IOC_CREATE if control => self.cmd_create(cr, input),
            abi::TUN_IOC_DELETE if control => self.cmd_delete(cr, input),
            abi::TUN_IOC_LIST if control => self.cmd_list(cr, input),
            abi::TUN_IOC_MODIFY if control => self.cmd_modify(cr, input),
            abi::TUN_IOC_INFO => self.cmd_info(cr, minor, input),
            abi::TUN_IOC_ATTACH if !control => self.cmd_attach(cr, minor, input),
            abi::TUN_IOC_DETACH if !control => {
                if !input.is_empty() {
                    return Err(sys::EINVAL);
                }
                let link = Self::attached(minor)?;
                // The stream stays open, so mc_tx users of rq may finish
                // delivering what they took before the detach.
                self.detach_minor(minor, &link, false);
                Ok(Reply::rval(0))
            }
            abi::TUN_IOC_SET_OWNER | abi::TUN_IOC_SET_GROUP | abi::TUN_IOC_SET_PERSIST | abi::TUN_IOC_SET_CARRIER
                if !control =>
            {
                let v = read_u32(input)?;
                let link = Self::attached(minor)?;
                self.may_change(cr, &link)?;
                match cmd {
                    abi::TUN_IOC_SET_OWNER => link.set_owner(v),
                    abi::TUN_IOC_SET_GROUP => link.set_group(v),
                    _ if v > 1 => return Err(sys::EINVAL),
                    abi::TUN_IOC_SET_PERSIST => link.set_persist(v == 1),
                    _ => link.set_carrier(v == 1),
                }
                Ok(Reply::rval(0))
            }
            abi::TUN_IOC_QUEUE_LIMITS if !control => {
                let mut req: abi::TunIocQueueLimits = decode(input)?;
                reserved_zero(req._pad == 0)?;
                if req.max_packets > minor::LIMIT_MAX_PACKETS || req.max_bytes > minor::LIMIT_MAX_BYTES {
                    return Err(sys::EINVAL);
                }
                let (mut packets, mut bytes) = minor.limits();
                if req.max_packets != 0 {
                    packets = req.max_packets;
                }
                if req.max_bytes != 0 {
                    bytes = req.max_bytes;
                }
                minor.set_limits(packets, bytes);
                req.max_packets = packets;
                req.max_bytes = bytes;
                Ok(Reply::with(&req))
            }
            abi::TUNNEWPPA if !control => self.cmd_newppa(cr, minor, old_arg),
            abi::TUNSETPPA if !control => self.cmd_setppa(cr, minor, old_arg),
            abi::TUNGETPPA if !control => self.cmd_getppa(minor),
            _ => Err(sys::EINVAL),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(&self, wq: *mut queue_t, msg: MsgBlk<K>, hdr_cmd: i32, transparent_addr: Option<usize>, r: Result<Reply, Errno>, minor: &Minor<K>, id: u32) {
        match r {
            Err(e) => {
                self.k.probe(Probe::IoctlFail(hdr_cmd, e));
                ioctl::nak(&self.k, wq, msg, e)
            }
            Ok(reply) => match (transparent_addr, reply.out) {
                (Some(addr), Some(out)) => {
                    minor.state.lock().pending =
                        Some(Pending { cmd: hdr_cmd, id, addr, stage: Stage::CopyOut { rval: reply.rval } });
                    ioctl::copyout(&self.k, wq, msg, addr, &out)
                }
                (Some(_), None) => ioctl::ack(&self.k, wq, msg, reply.rval, None),
                (None, out) => ioctl::ack(&self.k, wq, msg, reply.rval, out.as_deref()),
            },
        }
    }

    fn handle_ioctl(&self, wq: *mut queue_t, minor: &Arc<Minor<K>>, msg: MsgBlk<K>) {
        let Some(hdr) = ioctl::header(&msg).filter(|_| ioctl::big_enough(&msg)) else {
            // Not a well-formed ioctl: nothing can be replied to.
            drop(msg);
            return;
        };
        let IoctlHeader { cmd, id, cred, transparent, count } = hdr;
        if minor.state.lock().pending.is_some() {
            // One transparent ioctl at a time per stream (the stream head
            // serialises them; anything else is a confused caller).
            return ioctl::nak(&self.k, wq, msg, sys::EBUSY);
        }
        let Some(kind) = arg_kind(cmd) else {
            return ioctl::nak(&self.k, wq, msg, sys::EINVAL);
        };
        if !transparent {
            let Some(input) = ioctl::payload(&msg, ioctl::MAX_PAYLOAD).filter(|p| p.len() == count.min(p.len()))
            else {
                return ioctl::nak(&self.k, wq, msg, sys::EINVAL);
            };
            let old_arg = match kind {
                ArgKind::OldInt => match <[u8; 4]>::try_from(input.as_slice()) {
                    Ok(b) => i64::from(i32::from_ne_bytes(b)),
                    Err(_) => return ioctl::nak(&self.k, wq, msg, sys::EINVAL),
                },
                _ => 0,
            };
            let r = self.run(cmd, cred, minor, &input, old_arg);
            return self.finish(wq, msg, cmd, None, r, minor, id);
        }
        let Some(arg) = ioctl::transparent_arg(&msg) else {
            return ioctl::nak(&self.k, wq, msg, sys::EINVAL);
        };
        match kind {
            ArgKind::None => {
                let r = self.run(cmd, cred, minor, &[], 0);
                self.finish(wq, msg, cmd, None, r, minor, id)
            }
            ArgKind::OldInt if (-1..=i64::from(abi::OLD_API_MAX_PPA)).contains(&arg) => {
                let r = self.run(cmd, cred, minor, &[], arg);
                self.finish(wq, msg, cmd, None, r, minor, id)
            }
            ArgKind::OldInt | ArgKind::Fixed(_) => {
                let size = match kind {
                    ArgKind::Fixed(n) => n,
                    _ => 4,
                };
                if arg <= 0 {
                    return ioctl::nak(&self.k, wq, msg, sys::EFAULT);
                }
                minor.state.lock().pending = Some(Pending { cmd, id, addr: arg as usize, stage: Stage::CopyIn });
                ioctl::copyin(&self.k, wq, msg, arg as usize, size)
            }
        }
    }

    fn handle_iocdata(&self, wq: *mut queue_t, minor: &Arc<Minor<K>>, msg: MsgBlk<K>) {
        let Some(data) = ioctl::iocdata(&msg).filter(|_| ioctl::big_enough(&msg)) else {
            drop(msg);
            return;
        };
        let pending = minor.state.lock().pending.take();
        let Some(p) = pending.filter(|p| p.id == data.id && p.cmd == data.cmd) else {
            // Not ours (or stale): put the expectation back and drop it.
            if let Some(p) = pending {
                minor.state.lock().pending = Some(p);
            }
            drop(msg);
            return;
        };
        if data.failed {
            // The copy failed; the stream head already failed the ioctl.
            drop(msg);
            return;
        }
        match p.stage {
            Stage::CopyOut { rval } => ioctl::ack(&self.k, wq, msg, rval, None),
            Stage::CopyIn => {
                let input = ioctl::payload(&msg, ioctl::MAX_PAYLOAD).unwrap_or_default();
                let r = match arg_kind(p.cmd) {
                    Some(ArgKind::OldInt) => match <[u8; 4]>::try_from(input.as_slice()) {
                        Ok(b) => self.run(p.cmd, data.cred, minor, &[], i64::from(i32::from_ne_bytes(b))),
                        Err(_) => Err(sys::EINVAL),
                    },
                    _ => self.run(p.cmd, data.cred, minor, &input, 0),
                };
                self.finish(wq, msg, p.cmd, Some(p.addr), r, minor, p.id)
            }
        }
    }

    fn handle_data(&self, minor: &Minor<K>, msg: MsgBlk<K>) {
        let (link, packet_info) = {
            let st = minor.state.lock();
            (st.link.clone(), st.packet_info)
        };
        match link {
            Some(link) => {
                let _ = link.input(msg, packet_info);
            }
            None => {
                // Not attached: the write has nowhere to go.
                self.k.probe(Probe::Drop(0, DropReason::NoQueue));
                drop(msg);
            }
        }
    }

    fn handle_flush(&self, wq: *mut queue_t, minor: &Minor<K>, msg: MsgBlk<K>) {
        let flags = msg.first_block().first().copied().unwrap_or(0);
        if flags & sys::FLUSHR != 0 {
            minor.flush();
            // Send it back up so the stream head flushes its read side.
            let m = msg.into_raw();
            // SAFETY: the message is ours; clearing FLUSHW keeps it from
            // bouncing back down.
            unsafe { *(*m).b_rptr &= !sys::FLUSHW };
            // SAFETY: wq is our write queue.
            unsafe { self.k.qreply(wq, m) };
        } else {
            drop(msg);
        }
    }

    fn send_options(&self, rq: *mut queue_t) {
        let Some(msg) = MsgBlk::<K>::alloc_with(&self.k, 0, &[0u8; core::mem::size_of::<sys::stroptions>()]) else {
            return;
        };
        let m = msg.as_ptr();
        // SAFETY: the block holds a whole stroptions that we own.
        unsafe {
            (*(*m).b_datap).db_type = sys::M_SETOPTS;
            let so = (*m).b_rptr.cast::<sys::stroptions>();
            let mut v: sys::stroptions = core::mem::zeroed();
            v.so_flags = sys::SO_READOPT | sys::SO_WROFF | sys::SO_MAXPSZ | sys::SO_MINPSZ | sys::SO_HIWAT | sys::SO_LOWAT;
            v.so_readopt = sys::RMSGD as i16;
            v.so_wroff = (frame::ETHER_HDR_LEN + frame::VLAN_TAG_LEN) as u16;
            v.so_minpsz = 0;
            v.so_maxpsz = (link::MTU_MAX as usize + frame::ETHER_HDR_LEN + frame::VLAN_TAG_LEN + 4) as isize;
            v.so_hiwat = STREAM_HEAD_HIWAT;
            v.so_lowat = STREAM_HEAD_LOWAT;
            ptr::write_unaligned(so, v);
        }
        // SAFETY: rq is the read queue being opened, procedures are on.
        unsafe { self.k.putnext(rq, msg.into_raw()) };
    }
}

/// Stream-head read high/low water marks we ask for: room for a burst of
/// full-size packets so the reader is not woken for each one.
pub const STREAM_HEAD_HIWAT: usize = 1024 * 1024;
pub const STREAM_HEAD_LOWAT: usize = 256 * 1024;

/// The `Minor` in a queue's `q_ptr`.
///
/// # Safety
/// `q` is a queue of a stream this driver opened and has not closed.
unsafe fn minor_of<'a, K: Kernel>(q: *mut queue_t) -> Option<&'a Arc<Minor<K>>> {
    // SAFETY: open stored a Box<Arc<Minor<K>>> in q_ptr of both queues;
    // close clears it after every user is gone.
    unsafe { ((*q).q_ptr as *const Arc<Minor<K>>).as_ref() }
}

/// The other queue of the pair (`OTHERQ`): illumos allocates the read
/// queue immediately before the write queue.
fn other_queue(q: *mut queue_t) -> *mut queue_t {
    // SAFETY: q is one queue of an allocated pair, so q +/- 1 is the other.
    unsafe {
        if (*q).q_flag & sys::QREADR != 0 { q.add(1) } else { q.sub(1) }
    }
}

impl<K: Kernel> StreamsEntry for Driver<K> {
    unsafe fn open(&self, rq: *mut queue_t, minor: &mut u32, _flag: i32, _sflag: i32, cr: Cred) -> Result<(), Errno> {
        let base = self.k.private_minor_base();
        let node = match minor.checked_sub(base) {
            Some(node_minor::CTL) => Node::Control,
            Some(node_minor::TUN) => Node::Tun,
            Some(node_minor::TAP) => Node::Tap,
            _ => return Err(sys::ENXIO),
        };
        // SAFETY: rq is the read queue the kernel is opening.
        if unsafe { !(*rq).q_ptr.is_null() } {
            // A re-open of an existing stream: nothing to do.
            return Ok(());
        }
        let new_minor = {
            let mut t = self.table.lock();
            let first = base.checked_add(node_minor::FIRST_CLONE).ok_or(sys::ENXIO)?;
            let mut m = first;
            while t.minors.contains(&m) {
                m = m.checked_add(1).ok_or(sys::ENOSPC)?;
            }
            t.minors.insert(m);
            t.opens += 1;
            m
        };
        let state = Box::new(Arc::new(Minor::new(&self.k, new_minor, node, self.k.current_pid(), self.k.cred_zone(cr), rq)));
        let ptr = Box::into_raw(state).cast::<core::ffi::c_void>();
        // SAFETY: rq/wq are the fresh queue pair of this open.
        unsafe {
            (*rq).q_ptr = ptr;
            (*other_queue(rq)).q_ptr = ptr;
            self.k.qprocson(rq);
        }
        *minor = new_minor;
        if node != Node::Control {
            self.send_options(rq);
        }
        Ok(())
    }

    unsafe fn close(&self, rq: *mut queue_t, _flag: i32, _cr: Cred) {
        // SAFETY: rq is the read queue of a stream we opened.
        let Some(minor) = (unsafe { minor_of::<K>(rq) }).cloned() else { return };
        minor.quiesce();
        if let Some(link) = minor.link() {
            self.detach_minor(&minor, &link, false);
        }
        let plumbed = minor.state.lock().dlpi.as_mut().and_then(|d| d.link.take());
        if let Some(link) = plumbed {
            self.release_plumbing(&minor, &link);
        }
        // SAFETY: every user of rq is gone; after this no procedure runs.
        unsafe { self.k.qprocsoff(rq) };
        minor.flush();
        // SAFETY: open stored this Box; both q_ptrs are cleared so nothing
        // finds it again.
        unsafe {
            let p = (*rq).q_ptr as *mut Arc<Minor<K>>;
            (*rq).q_ptr = ptr::null_mut();
            (*other_queue(rq)).q_ptr = ptr::null_mut();
            drop(Box::from_raw(p));
        }
        let mut t = self.table.lock();
        t.minors.remove(&minor.minor);
        t.opens = t.opens.saturating_sub(1);
    }

    unsafe fn wput(&self, wq: *mut queue_t, mp: *mut mblk_t) {
        // SAFETY: STREAMS hands us ownership of mp.
        let Some(msg) = (unsafe { MsgBlk::<K>::from_raw(mp) }) else { return };
        // SAFETY: wq is our write queue.
        let Some(minor) = (unsafe { minor_of::<K>(wq) }).cloned() else {
            drop(msg);
            return;
        };
        match msg.db_type() {
            sys::M_DATA if minor.node != Node::Control => self.handle_data(&minor, msg),
            sys::M_IOCTL => self.handle_ioctl(wq, &minor, msg),
            sys::M_IOCDATA => self.handle_iocdata(wq, &minor, msg),
            sys::M_PROTO | sys::M_PCPROTO => self.handle_dlpi(wq, &minor, msg),
            sys::M_FLUSH => self.handle_flush(wq, &minor, msg),
            _ => drop(msg),
        }
    }

    unsafe fn rsrv(&self, rq: *mut queue_t) {
        // SAFETY: rq is our read queue; the service procedure only runs
        // between qprocson and qprocsoff.
        if let Some(minor) = unsafe { minor_of::<K>(rq) } {
            minor.service();
        }
    }
}


#[allow(dead_code)]
fn _assert_send_sync<K: Kernel>() {
    fn is<T: Send + Sync>() {}
    is::<Driver<K>>();
}
