// SPDX-License-Identifier: MPL-2.0
//! The driver's commands: one function per ioctl, each reached through
//! one row of the table in `ioctls.rs`, which has already decoded the
//! argument's transport and checked the privilege its row names.
//!
//! # Theory statement
//!
//! A command validates its whole argument before it changes anything
//! (bad sizes, versions, flags and reserved fields are `EINVAL`, an ABI
//! version we do not speak `ENOTSUP`), then acts through the driver's
//! link lifecycle in `driver/mod.rs`.  Commands take no lock across a
//! call into mac, dls or STREAMS; the table lock only inside the
//! lifecycle functions and `cmd_list`.

use alloc::sync::Arc;

use illumos_sys_hdrs as sys;
use tuntap_abi::{self as abi, LinkName, TUN_NO_ID, attach_flags, create_flags, delete_flags, modify_what};

use super::Driver;
use super::ioctls::{Reply, abi_errno, decode, read_u32, reserved_zero};
use crate::ddi::{Cred, Errno, GLOBAL_ZONEID, Kernel, ZoneId};
use crate::frame;
use crate::link::{Link, LinkSpec, Mode, Origin};
use crate::minor::{Minor, Node};
use crate::queue;

/// How many more units a `TUNNEWPPA(-1)` tries when dlmgmtd already
/// knows a unit's name.
const NEWPPA_RETRIES: u32 = 8;

impl<K: Kernel> Driver<K> {
    pub(super) fn cmd_create(&self, cr: Cred, creator: i32, input: &[u8]) -> Result<Reply, Errno> {
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
        let mtu = abi::mtu_or_default(req.mtu).map_err(|_| sys::EINVAL)?;
        let mac = if req.flags & create_flags::MAC_GIVEN != 0 {
            if !frame::is_valid_unicast(&req.mac) {
                return Err(sys::EINVAL);
            }
            Some(req.mac)
        } else {
            None
        };
        let zone = self.k.cred_zone(cr);
        // The id must be one dlmgmtd gave this name, for a MISC/Ether
        // link, or the link would be misnamed in dladm
        // (`dls_mgmt_get_linkinfo`).  This runs on the taskq, whose upcalls
        // dlmgmtd answers for the global zone, so it cannot ask which zone
        // the id was filed in; it refuses a non-global caller the id the
        // global zone has for that name (`dls_mgmt_get_linkid`), so a
        // zone cannot take over a global-zone link id.  Like
        // `vnic_ioc_create`, it otherwise trusts a caller holding
        // PRIV_SYS_DL_CONFIG with the id dladm made in its zone.
        let known = self.k.dls_mgmt_linkinfo(req.linkid)?;
        if known.name != name || known.class != sys::DATALINK_CLASS_MISC || known.media != sys::DL_ETHER {
            return Err(sys::EINVAL);
        }
        if zone != GLOBAL_ZONEID && self.k.dls_mgmt_linkid(&name) == Ok(req.linkid) {
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
            creator_pid: creator,
        })?;
        req.mac = link.mac();
        req.mtu = mtu;
        Ok(Reply::with(&req))
    }

    pub(super) fn cmd_delete(&self, cr: Cred, input: &[u8]) -> Result<Reply, Errno> {
        let req: abi::TunIocDelete = decode(input)?;
        abi::check_flags(req.flags, delete_flags::ALL).map_err(abi_errno)?;
        reserved_zero(req._pad == 0)?;
        let link = self.lookup_visible(req.linkid, self.k.cred_zone(cr))?;
        self.destroy_link(&link, req.flags & delete_flags::FORCE != 0)?;
        Ok(Reply::rval(0))
    }

    pub(super) fn cmd_info(&self, cr: Cred, minor: &Minor<K>, input: &[u8]) -> Result<Reply, Errno> {
        let req: abi::TunIocInfo = decode(input)?;
        let link = if req.linkid == abi::DATALINK_INVALID_LINKID {
            minor.link().ok_or(sys::ENXIO)?
        } else {
            self.lookup_visible(req.linkid, self.k.cred_zone(cr))?
        };
        Ok(Reply::with(&link.info()))
    }

    pub(super) fn cmd_list(&self, cr: Cred, input: &[u8]) -> Result<Reply, Errno> {
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

    pub(super) fn cmd_modify(&self, cr: Cred, input: &[u8]) -> Result<Reply, Errno> {
        let req: abi::TunIocModify = decode(input)?;
        abi::check_flags(req.what, modify_what::ALL).map_err(abi_errno)?;
        reserved_zero(req._pad == [0; 2])?;
        if req.what & modify_what::MTU != 0 && abi::check_mtu(req.mtu).is_err() {
            return Err(sys::EINVAL);
        }
        if req.what & modify_what::MAC != 0 && !frame::is_valid_unicast(&req.mac) {
            return Err(sys::EINVAL);
        }
        if req.what & (modify_what::PERSIST | modify_what::CARRIER) != 0 && (req.persist > 1 || req.carrier > 1) {
            return Err(sys::EINVAL);
        }
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

    pub(super) fn cmd_attach(&self, cr: Cred, minor: &Arc<Minor<K>>, input: &[u8]) -> Result<Reply, Errno> {
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
                    mtu: abi::MTU_DEFAULT,
                    mac: None,
                    owner: TUN_NO_ID,
                    group: TUN_NO_ID,
                    persist: false,
                    creator_pid: minor.queue.pid,
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

    // ----- old API -----

    fn old_prefix(node: Node) -> Option<&'static str> {
        match node {
            Node::Tun => Some("tun"),
            Node::Tap => Some("tap"),
            Node::Control => None,
        }
    }

    pub(super) fn cmd_newppa(&self, cr: Cred, minor: &Arc<Minor<K>>, ppa: i64) -> Result<Reply, Errno> {
        let prefix = Self::old_prefix(minor.node).ok_or(sys::EINVAL)?;
        let mode = Self::node_mode(minor.node).ok_or(sys::EINVAL)?;
        Self::not_dlpi(minor)?;
        if ppa < -1 || ppa > i64::from(abi::OLD_API_MAX_PPA) {
            return Err(sys::EINVAL);
        }
        if minor.link().is_some() {
            return Err(sys::EBUSY);
        }
        let zone = self.k.cred_zone(cr);
        // A unit's name must be free in the caller's zone and, for a
        // non-global zone, in the global zone too: dlmgmtd files the
        // name there first (see create_kernel_link).
        let free = |u: u32| {
            let t = self.table.lock();
            LinkName::with_unit(prefix, u).is_ok_and(|n| {
                let taken = |z: ZoneId| t.by_name.contains_key(&(z, n)) || t.reserved_names.contains(&(z, n));
                !taken(zone) && !taken(GLOBAL_ZONEID)
            })
        };
        let mut unit = if ppa == -1 {
            (0..=abi::OLD_API_MAX_PPA as u32).find(|u| free(*u)).ok_or(sys::ENOSPC)?
        } else {
            ppa as u32
        };
        // dlmgmtd may know the name from elsewhere (another link class):
        // a wildcard request moves on to the next free unit, a few times.
        let mut tries = 0;
        let link = loop {
            let name = LinkName::with_unit(prefix, unit).map_err(|_| sys::EINVAL)?;
            if self.lookup_name(zone, &name).is_some() {
                return Err(sys::EEXIST);
            }
            let made = self.create_kernel_link(LinkSpec {
                linkid: 0,
                name,
                mode,
                zone,
                origin: Origin::OldApi(unit),
                mtu: abi::MTU_DEFAULT,
                mac: None,
                owner: TUN_NO_ID,
                group: TUN_NO_ID,
                persist: false,
                creator_pid: minor.queue.pid,
            });
            match made {
                Err(sys::EEXIST) if ppa == -1 && tries < NEWPPA_RETRIES => {
                    tries += 1;
                    unit = (unit + 1..=abi::OLD_API_MAX_PPA as u32).find(|u| free(*u)).ok_or(sys::ENOSPC)?;
                }
                other => break other?,
            }
        };
        self.attach_minor(minor, &link, false, true, false)?;
        Ok(Reply::rval(unit as i32))
    }

    pub(super) fn cmd_setppa(&self, cr: Cred, minor: &Arc<Minor<K>>, ppa: i64) -> Result<Reply, Errno> {
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

    pub(super) fn cmd_getppa(&self, minor: &Minor<K>) -> Result<Reply, Errno> {
        let link = minor.link().ok_or(sys::ENODEV)?;
        match (link.origin, link.name.split_unit()) {
            (Origin::OldApi(unit), _) => Ok(Reply::rval(unit as i32)),
            (_, (_, Some(unit))) if unit <= i32::MAX as u32 => Ok(Reply::rval(unit as i32)),
            _ => Err(sys::ENODEV),
        }
    }

    pub(super) fn cmd_detach(&self, minor: &Arc<Minor<K>>, input: &[u8]) -> Result<Reply, Errno> {
        if !input.is_empty() {
            return Err(sys::EINVAL);
        }
        let link = Self::attached(minor)?;
        // The stream stays open, so mc_tx users of rq may finish
        // delivering what they took before the detach.
        self.detach_minor(minor, &link);
        Ok(Reply::rval(0))
    }

    /// `TUN_IOC_SET_OWNER`, `_GROUP`, `_PERSIST`, `_CARRIER` on the link
    /// this stream is attached to (the table checked the caller may).
    pub(super) fn cmd_set(&self, cmd: i32, link: &Link<K>, input: &[u8]) -> Result<Reply, Errno> {
        let v = read_u32(input)?;
        match cmd {
            abi::TUN_IOC_SET_OWNER => link.set_owner(v),
            abi::TUN_IOC_SET_GROUP => link.set_group(v),
            _ if v > 1 => return Err(sys::EINVAL),
            abi::TUN_IOC_SET_PERSIST => link.set_persist(v == 1),
            _ => link.set_carrier(v == 1),
        }
        Ok(Reply::rval(0))
    }

    pub(super) fn cmd_queue_limits(&self, minor: &Minor<K>, input: &[u8]) -> Result<Reply, Errno> {
        let mut req: abi::TunIocQueueLimits = decode(input)?;
        reserved_zero(req._pad == 0)?;
        if req.max_packets > queue::LIMIT_MAX_PACKETS || req.max_bytes > queue::LIMIT_MAX_BYTES {
            return Err(sys::EINVAL);
        }
        let (mut packets, mut bytes) = minor.queue.limits();
        if req.max_packets != 0 {
            packets = req.max_packets;
        }
        if req.max_bytes != 0 {
            bytes = req.max_bytes;
        }
        minor.queue.set_limits(packets, bytes);
        req.max_packets = packets;
        req.max_bytes = bytes;
        Ok(Reply::with(&req))
    }

    /// `TUN_IOC_BATCH`: batched reads/writes on or off for this queue
    /// (`tuntap_abi::batch`).  Turning batched writes on raises the
    /// stream's maximum packet size so a batch arrives whole; turning them
    /// off puts the one-packet bound back.
    pub(super) fn cmd_batch(&self, minor: &Minor<K>, input: &[u8]) -> Result<Reply, Errno> {
        use abi::batch::{self, batch_flags};
        let mut req: batch::TunIocBatch = decode(input)?;
        abi::check_flags(req.flags, batch_flags::ALL).map_err(abi_errno)?;
        reserved_zero(req.refused == 0 && req.last_error == 0 && req.last_record == 0)?;
        Self::not_dlpi(minor)?;
        let read_max = match req.read_max {
            0 => batch::READ_MAX_DEFAULT,
            n if (batch::READ_MAX_MIN..=batch::READ_MAX_MAX).contains(&n) => n,
            _ => return Err(sys::EINVAL),
        };
        let (was, _) = minor.queue.batch();
        minor.queue.set_batch(req.flags, read_max);
        let writes = req.flags & batch_flags::WRITE != 0;
        if writes != (was & batch_flags::WRITE != 0) {
            let maxpsz = if writes { batch::WRITE_MAX } else { super::streams::ONE_PACKET_MAXPSZ };
            self.send_maxpsz(minor.queue.rq(), maxpsz);
        }
        let (refused, last_error, last_record) = minor.queue.refusals();
        req.read_max = read_max;
        req.refused = refused;
        req.last_error = last_error;
        req.last_record = last_record;
        Ok(Reply::with(&req))
    }

    /// `TUN_IOC_OFFLOAD`: the virtio-net header and the offloads this
    /// queue takes (`tuntap_abi::offload`); the link re-advertises.
    pub(super) fn cmd_offload(&self, minor: &Minor<K>, input: &[u8]) -> Result<Reply, Errno> {
        use abi::offload::{self, offload_flags};
        let mut req: offload::TunIocOffload = decode(input)?;
        abi::check_flags(req.flags, offload_flags::ALL).map_err(abi_errno)?;
        reserved_zero(req.link_hcksum == 0 && req.link_lso == 0 && req.refused == 0 && req._pad == 0)?;
        if !offload::flags_consistent(req.flags) {
            return Err(sys::EINVAL);
        }
        Self::not_dlpi(minor)?;
        minor.queue.set_offload(req.flags);
        if let Some(link) = minor.link() {
            link.refresh_offload();
            let (hck, lso4, lso6) = link.offload_capab();
            req.link_hcksum = u32::from(hck);
            req.link_lso = u32::from(lso4) | u32::from(lso6) << 1;
        }
        req.refused = minor.queue.bad_vnet_headers();
        Ok(Reply::with(&req))
    }
}
