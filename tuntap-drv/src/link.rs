// SPDX-License-Identifier: MPL-2.0
//! One tun or tap datalink: its mac registration, properties, counters,
//! attached queues, and the two halves of its packet path.
//!
//! # Theory statement
//!
//! **Packet path.**  `mc_tx` (IP sending on the link) takes a `b_next`
//! chain, frames each packet for the reader (tun: resolver requests are
//! answered, IP packets lose their Ethernet header, anything else is
//! dropped and counted), steers it to one attached queue (by flow hash
//! when there are several) and hands it to that queue's backlog.  It never
//! blocks: when the chosen queue's backlog is full it returns the unsent
//! rest of the chain and marks the link blocked; the queue's service
//! procedure calls `mac_tx_update` once it has drained below its low-water
//! mark.  [`Link::input`] (a process writing) validates and frames one
//! packet and calls `mac_rx` with no lock held.
//!
//! **Locks.**  `state` (properties, lifecycle, link-state reporting) is
//! taken before `queues` (the copy-on-write list of attached queues) and
//! before any `Minor` lock.  The data path takes `queues` only long enough
//! to clone an `Arc` and touches no other link lock; it uses atomics for
//! the MTU, the in-flight mac user count and the counters.
//!
//! **Lifecycle.**  A link is `Active` until deletion *condemns* it:
//! from then on writers, attaches and every other upcall to mac on this
//! link are refused, the ones in flight are waited for, and the mac/dls
//! teardown runs with no lock held.  Every use of the mac handle outside
//! create and destroy goes through [`Link::with_mac`], which counts
//! itself in `mac_users`; so no upcall can reach a handle that destroy
//! has unregistered.  If a
//! teardown step fails the link is restored to `Active` as it was.
//!
//! **Link state** is up while at least one queue is attached, carrier is
//! on and the link is not condemned.  Changes are reported to mac by one
//! thread at a time ([`Link::sync_link_state`]) so reports never reorder.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ffi::{CStr, c_char, c_int, c_void};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::{mac_callbacks_t, mac_prop_id_t, mac_prop_info_handle_t, mblk_t, uint_t};
use tuntap_abi::{DatalinkId, LinkName, TUN_NO_ID, info_flags};

use crate::ddi::{
    DropReason, Errno, Kernel, LinkState, MacHandle, Probe, PropInfoHandle, PropPerm, ZoneId,
};
use crate::dlpi;
use crate::frame::{self, AddrClass, MacAddr};
use crate::mblk::{MsgBlk, MsgChain, MsgQueue};
use crate::minor::{Enqueue, Minor};
use crate::stats::LinkStats;
use crate::sync::{KCondvar, KMutex};

/// Default MTU of a new link.
pub const MTU_DEFAULT: u32 = 1500;
/// Smallest settable MTU (the IPv4 minimum datagram every host accepts).
pub const MTU_MIN: u32 = 576;
/// Largest settable MTU.
pub const MTU_MAX: u32 = 65_535;

/// Private link property: `tun` or `tap` (read-only).
pub const PROP_MODE: &CStr = c"_tun_mode";
/// Private link property: the owner uid, or `-` (read-only).
pub const PROP_OWNER: &CStr = c"_tun_owner";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Tun,
    Tap,
}

impl Mode {
    pub fn abi_bits(self) -> u32 {
        match self {
            Mode::Tun => tuntap_abi::mode::TUN,
            Mode::Tap => tuntap_abi::mode::TAP,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Tun => "tun",
            Mode::Tap => "tap",
        }
    }
}

/// Who made the link, which decides its lifetime and who owns its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Made through the control node with an id from userland (dladm /
    /// tunctl); removed only by an explicit delete.
    Control,
    /// Made by the old API (`TUNNEWPPA`) with unit `u32`; transient.
    OldApi(u32),
    /// Made by an attach with the CREATE flag; transient.
    Attach,
}

impl Origin {
    /// The kernel asked dlmgmtd for this link's id, so the kernel gives
    /// it back when the link goes.
    pub fn kernel_owns_id(self) -> bool {
        !matches!(self, Origin::Control)
    }
}

/// Everything needed to create a link.
#[derive(Clone, Copy, Debug)]
pub struct LinkSpec {
    pub linkid: DatalinkId,
    pub name: LinkName,
    pub mode: Mode,
    pub zone: ZoneId,
    pub origin: Origin,
    pub mtu: u32,
    pub mac: Option<MacAddr>,
    pub owner: u32,
    pub group: u32,
    pub persist: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lifecycle {
    Active,
    Condemned,
}

/// Properties and lifecycle, under `Link::state`.
struct Props {
    mac: MacAddr,
    owner: u32,
    group: u32,
    persist: bool,
    carrier: bool,
    exclusive: bool,
    nqueues: usize,
    lifecycle: Lifecycle,
    /// The state last reported to mac, and whether a thread is reporting.
    reported: LinkState,
    reporting: bool,
    /// The backlog bound every queue attached later gets.
    queue_limits: (u32, u32),
}

impl Props {
    fn wanted_state(&self) -> LinkState {
        if self.nqueues > 0 && self.carrier && self.lifecycle == Lifecycle::Active {
            LinkState::Up
        } else {
            LinkState::Down
        }
    }
}

pub struct Link<K: Kernel> {
    k: K,
    pub linkid: DatalinkId,
    pub name: LinkName,
    pub mode: Mode,
    pub zone: ZoneId,
    pub origin: Origin,
    pub created_ns: u64,
    pub creator_pid: i32,
    /// The MAC of the point-to-point peer a tun link pretends to reach.
    pub peer_mac: MacAddr,
    mh: AtomicPtr<c_void>,
    mtu: AtomicU32,
    pub stats: LinkStats,
    state: KMutex<K, Props>,
    queues: KMutex<K, Arc<Vec<Arc<Minor<K>>>>>,
    /// Old-API IP plumbing: `/dev/tun` streams with `ip` pushed that
    /// attached to this link over DLPI (copy-on-write, like `queues`).
    plumbing: KMutex<K, Arc<Vec<Arc<Minor<K>>>>>,
    /// Threads between [`Link::with_mac`]'s check and its upcall's return.
    mac_users: AtomicU32,
    condemned: AtomicBool,
    quiesce: KMutex<K, ()>,
    quiesce_cv: KCondvar<K>,
    /// Resolver replies waiting to be passed up from a taskq.
    /// A `b_next` queue, so queueing a reply from `mc_tx` never allocates.
    replies: KMutex<K, (MsgQueue<K>, bool)>,
}

/// Why an attach was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachError {
    ModeMismatch,
    Busy,
    Gone,
}

impl AttachError {
    pub fn errno(self) -> Errno {
        match self {
            AttachError::ModeMismatch => sys::EINVAL,
            AttachError::Busy => sys::EBUSY,
            AttachError::Gone => sys::ENXIO,
        }
    }
}

/// What a deletion found about the link's users.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CondemnError {
    AlreadyGoing,
    HasQueues,
    /// IP is plumbed over DLPI (old API): only unplumbing frees the link.
    IpPlumbed,
}

impl<K: Kernel> Link<K> {
    pub fn new(k: &K, spec: &LinkSpec, creator_pid: i32) -> Self {
        let mut random = [0u8; 12];
        k.random_bytes(&mut random);
        let [a, b, c, d, e, f, g, h, i, j, l, m] = random;
        let own = spec.mac.unwrap_or_else(|| frame::local_unicast_mac([a, b, c, d, e, f]));
        let mut peer = frame::local_unicast_mac([g, h, i, j, l, m]);
        if peer == own {
            peer[5] ^= 1;
        }
        Self {
            k: k.clone(),
            linkid: spec.linkid,
            name: spec.name,
            mode: spec.mode,
            zone: spec.zone,
            origin: spec.origin,
            created_ns: k.wall_clock_ns(),
            creator_pid,
            peer_mac: peer,
            mh: AtomicPtr::new(ptr::null_mut()),
            mtu: AtomicU32::new(spec.mtu),
            stats: LinkStats::default(),
            state: KMutex::new(Props {
                mac: own,
                owner: spec.owner,
                group: spec.group,
                persist: spec.persist,
                carrier: true,
                exclusive: false,
                nqueues: 0,
                lifecycle: Lifecycle::Active,
                reported: LinkState::Unknown,
                reporting: false,
                queue_limits: (crate::minor::DEFAULT_MAX_PACKETS, crate::minor::DEFAULT_MAX_BYTES),
            }),
            queues: KMutex::new(Arc::new(Vec::new())),
            mac_users: AtomicU32::new(0),
            plumbing: KMutex::new(Arc::new(Vec::new())),
            condemned: AtomicBool::new(false),
            quiesce: KMutex::new(()),
            quiesce_cv: KCondvar::new(),
            replies: KMutex::new((MsgQueue::new(), false)),
        }
    }

    pub fn mac_handle(&self) -> Option<MacHandle> {
        ptr::NonNull::new(self.mh.load(Ordering::Acquire)).map(MacHandle)
    }

    pub fn set_mac_handle(&self, mh: Option<MacHandle>) {
        self.mh.store(mh.map_or(ptr::null_mut(), |m| m.0.as_ptr()), Ordering::Release);
    }

    pub fn mtu(&self) -> u32 {
        self.mtu.load(Ordering::Relaxed)
    }

    pub fn mac(&self) -> MacAddr {
        self.state.lock().mac
    }

    pub fn is_transient(&self) -> bool {
        !matches!(self.origin, Origin::Control)
    }

    pub fn is_condemned(&self) -> bool {
        self.condemned.load(Ordering::SeqCst)
    }

    /// Run `upcall` with the mac handle, unless the link is condemned or
    /// unregistered (`None` then).  Destroy waits for every such call in
    /// flight before it tears mac down.  Call with no link lock held.
    pub fn with_mac<R>(&self, upcall: impl FnOnce(MacHandle) -> R) -> Option<R> {
        self.mac_users.fetch_add(1, Ordering::SeqCst);
        let r = match (self.condemned.load(Ordering::SeqCst), self.mac_handle()) {
            (false, Some(mh)) => Some(upcall(mh)),
            _ => None,
        };
        if self.mac_users.fetch_sub(1, Ordering::SeqCst) == 1 && self.condemned.load(Ordering::SeqCst) {
            let _g = self.quiesce.lock();
            self.quiesce_cv.broadcast();
        }
        r
    }

    /// Fill a `mac_register_t` for this link (every field but m_version
    /// and m_dip, which the kernel layer sets).
    pub fn fill_registration(
        &self,
        reg: &mut sys::mac_register_t,
        callbacks: *const mac_callbacks_t,
        mac: &mut MacAddr,
        priv_props: *mut *mut c_char,
    ) {
        *mac = self.state.lock().mac;
        reg.m_type_ident = sys::MAC_PLUGIN_IDENT_ETHER.as_ptr();
        reg.m_driver = (self as *const Self).cast_mut().cast();
        reg.m_instance = uint_t::MAX;
        reg.m_src_addr = mac.as_mut_ptr();
        reg.m_dst_addr = ptr::null_mut();
        reg.m_callbacks = callbacks.cast_mut();
        reg.m_min_sdu = 0;
        reg.m_max_sdu = self.mtu();
        reg.m_pdata = ptr::null_mut();
        reg.m_pdata_size = 0;
        reg.m_priv_props = priv_props;
        reg.m_margin = sys::VLAN_TAGSZ as u32;
        reg.m_v12n = 0;
        reg.m_multicast_sdu = 0;
    }

    // ----- users: queues, ownership -----

    /// May the holder of these ids use this link?
    pub fn may_attach(&self, uid: u32, in_group: impl Fn(u32) -> bool, privileged: bool) -> bool {
        if privileged {
            return true;
        }
        let p = self.state.lock();
        (p.owner != TUN_NO_ID && p.owner == uid) || (p.group != TUN_NO_ID && in_group(p.group))
    }

    /// Attach `minor` as a queue.  `multi`: the caller accepts sharing.
    pub fn attach(&self, minor: &Arc<Minor<K>>, exclusive: bool, multi: bool) -> Result<(), AttachError> {
        {
            let mut p = self.state.lock();
            if p.lifecycle != Lifecycle::Active {
                return Err(AttachError::Gone);
            }
            if p.nqueues > 0 && (p.exclusive || exclusive || !multi) {
                return Err(AttachError::Busy);
            }
            let (max_packets, max_bytes) = p.queue_limits;
            minor.set_limits(max_packets, max_bytes);
            let mut q = self.queues.lock();
            let mut next: Vec<Arc<Minor<K>>> = Vec::with_capacity(q.len() + 1);
            next.extend(q.iter().cloned());
            next.push(minor.clone());
            *q = Arc::new(next);
            p.nqueues += 1;
            p.exclusive = exclusive;
        }
        self.k.probe(Probe::QueueAttach(self.linkid, minor.minor));
        self.sync_link_state();
        Ok(())
    }

    /// Remove `minor` from the queues; returns whether it was attached.
    /// The caller waits for the minor's in-flight users afterwards.
    pub fn detach(&self, minor: &Minor<K>) -> bool {
        let found = {
            let mut p = self.state.lock();
            let mut q = self.queues.lock();
            let before = q.len();
            let next: Vec<Arc<Minor<K>>> =
                q.iter().filter(|m| !ptr::eq(Arc::as_ptr(m), minor)).cloned().collect();
            let found = next.len() != before;
            if found {
                *q = Arc::new(next);
                p.nqueues = p.nqueues.saturating_sub(1);
                if p.nqueues == 0 {
                    p.exclusive = false;
                }
            }
            found
        };
        if found {
            self.k.probe(Probe::QueueDetach(self.linkid, minor.minor));
            self.sync_link_state();
            // A blocked sender may have been waiting on this queue.
            self.with_mac(|mh| self.k.mac_tx_update(mh));
        }
        found
    }

    pub fn queue_snapshot(&self) -> Arc<Vec<Arc<Minor<K>>>> {
        self.queues.lock().clone()
    }

    /// The transient link has lost its last queue and nobody asked to
    /// keep it.
    pub fn should_vanish(&self) -> bool {
        let p = self.state.lock();
        self.is_transient()
            && !p.persist
            && p.nqueues == 0
            && p.lifecycle == Lifecycle::Active
            && self.plumbing.lock().is_empty()
    }

    // ----- old-API IP plumbing (DLPI streams; see dlpi.rs) -----

    /// A DLPI stream attaches (`DL_ATTACH_REQ`).
    pub fn attach_plumbing(&self, minor: &Arc<Minor<K>>) -> Result<(), AttachError> {
        let p = self.state.lock();
        if p.lifecycle != Lifecycle::Active {
            return Err(AttachError::Gone);
        }
        let mut list = self.plumbing.lock();
        let mut next: Vec<Arc<Minor<K>>> = Vec::with_capacity(list.len() + 1);
        next.extend(list.iter().cloned());
        next.push(minor.clone());
        *list = Arc::new(next);
        Ok(())
    }

    /// A DLPI stream detaches (`DL_DETACH_REQ` or close).
    pub fn detach_plumbing(&self, minor: &Minor<K>) -> bool {
        let mut list = self.plumbing.lock();
        let before = list.len();
        let next: Vec<Arc<Minor<K>>> =
            list.iter().filter(|m| !ptr::eq(Arc::as_ptr(m), minor)).cloned().collect();
        let found = next.len() != before;
        *list = Arc::new(next);
        found
    }

    /// Is IP plumbed on this link through the old API?
    pub fn has_plumbing(&self) -> bool {
        !self.plumbing.lock().is_empty()
    }

    /// The DLPI stream bound to `sap` (an Ethertype), if any.
    fn plumbing_for(&self, sap: u16) -> Option<Arc<Minor<K>>> {
        let list = self.plumbing.lock().clone();
        if list.is_empty() {
            return None;
        }
        list.iter().find(|m| m.dlpi_bound_sap() == Some(sap)).cloned()
    }

    // ----- properties -----

    pub fn set_owner(&self, uid: u32) {
        self.state.lock().owner = uid;
    }
    pub fn set_group(&self, gid: u32) {
        self.state.lock().group = gid;
    }
    pub fn set_persist(&self, persist: bool) {
        self.state.lock().persist = persist;
    }
    pub fn set_carrier(&self, on: bool) {
        self.state.lock().carrier = on;
        self.sync_link_state();
    }
    pub fn set_queue_limits(&self, max_packets: u32, max_bytes: u32) {
        self.state.lock().queue_limits = (max_packets, max_bytes);
    }

    /// Check and apply a new MTU and tell mac (no lock held for that).
    pub fn set_mtu(&self, mtu: u32) -> Result<(), Errno> {
        if !(MTU_MIN..=MTU_MAX).contains(&mtu) {
            return Err(sys::EINVAL);
        }
        let old = self.mtu.swap(mtu, Ordering::Relaxed);
        match self.with_mac(|mh| self.k.mac_maxsdu_update(mh, mtu)) {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => {
                self.mtu.store(old, Ordering::Relaxed);
                Err(e)
            }
            None => {
                self.mtu.store(old, Ordering::Relaxed);
                Err(sys::ENOENT)
            }
        }
    }

    /// Set the unicast address (from `mc_unicst`, where mac already knows,
    /// or from MODIFY, where mac is told).
    pub fn set_mac(&self, mac: MacAddr, tell_mac: bool) -> Result<(), Errno> {
        if !frame::is_valid_unicast(&mac) {
            return Err(sys::EINVAL);
        }
        self.state.lock().mac = mac;
        if tell_mac {
            self.with_mac(|mh| self.k.mac_unicst_update(mh, &mac));
        }
        Ok(())
    }

    /// The link's description for the INFO ioctl.
    pub fn info(&self) -> tuntap_abi::TunIocInfo {
        let queues = self.queue_snapshot();
        let p = self.state.lock();
        let mut flags = 0;
        if p.persist {
            flags |= info_flags::PERSIST;
        }
        if p.carrier {
            flags |= info_flags::CARRIER;
        }
        if p.reported == LinkState::Up {
            flags |= info_flags::LINK_UP;
        }
        if matches!(self.origin, Origin::OldApi(_)) {
            flags |= info_flags::OLD_API;
        }
        if self.is_transient() {
            flags |= info_flags::TRANSIENT;
        }
        if p.exclusive {
            flags |= info_flags::EXCLUSIVE;
        }
        let mut pids = [0i32; tuntap_abi::INFO_MAX_PIDS];
        for (slot, m) in pids.iter_mut().zip(queues.iter()) {
            *slot = m.pid;
        }
        tuntap_abi::TunIocInfo {
            version: tuntap_abi::TUN_ABI_VERSION,
            linkid: self.linkid,
            mode: self.mode.abi_bits(),
            state_flags: flags,
            mtu: self.mtu(),
            owner: p.owner,
            group: p.group,
            zoneid: self.zone,
            nqueues: u32::try_from(p.nqueues).unwrap_or(u32::MAX),
            creator_pid: self.creator_pid,
            pids,
            created_ns: self.created_ns,
            mac: p.mac,
            _pad: [0; 2],
            name: self.name.to_bytes(),
            counters: self.stats.snapshot(),
        }
    }

    // ----- link state -----

    /// Report the wanted link state to mac if it changed.  Call with no
    /// lock held.  One thread reports at a time; others leave their
    /// change for it to pick up.
    pub fn sync_link_state(&self) {
        loop {
            let want = {
                let mut p = self.state.lock();
                if p.reporting {
                    return;
                }
                let want = p.wanted_state();
                if want == p.reported {
                    return;
                }
                p.reporting = true;
                p.reported = want;
                want
            };
            let told = self.with_mac(|mh| self.k.mac_link_update(mh, want));
            let mut p = self.state.lock();
            p.reporting = false;
            if told.is_none() {
                // Going away (or not registered yet): report nothing, and
                // let a later sync (restore) tell mac the truth.
                p.reported = LinkState::Unknown;
                return;
            }
            drop(p);
            self.k.probe(Probe::LinkState(self.linkid, want));
        }
    }

    // ----- lifecycle -----

    /// Start deleting: refuse new writers and attaches.  `force` allows
    /// attached queues (the caller detaches them).
    pub fn condemn(&self, force: bool) -> Result<(), CondemnError> {
        {
            let mut p = self.state.lock();
            if p.lifecycle != Lifecycle::Active {
                return Err(CondemnError::AlreadyGoing);
            }
            if p.nqueues > 0 && !force {
                return Err(CondemnError::HasQueues);
            }
            if !self.plumbing.lock().is_empty() {
                return Err(CondemnError::IpPlumbed);
            }
            p.lifecycle = Lifecycle::Condemned;
        }
        self.condemned.store(true, Ordering::SeqCst);
        // Wait for mac users that passed the check before we set the flag.
        let g = self.quiesce.lock();
        drop(self.quiesce.wait_until(g, &self.quiesce_cv, |_| self.mac_users.load(Ordering::SeqCst) == 0));
        Ok(())
    }

    /// Undo [`Link::condemn`] after a failed teardown step.
    pub fn restore(&self) {
        self.condemned.store(false, Ordering::SeqCst);
        self.state.lock().lifecycle = Lifecycle::Active;
        self.sync_link_state();
    }

    // ----- the write side: a process sends a packet up the stack -----

    /// Validate and frame one written packet and pass it to mac.
    /// `packet_info`: the packet starts with a 4-byte `tun_pi` header.
    pub fn input(&self, mut msg: MsgBlk<K>, packet_info: bool) -> Result<(), DropReason> {
        let r = if self.is_condemned() {
            drop(msg);
            Err(DropReason::Closing)
        } else {
            match self.frame_written(&mut msg, packet_info) {
                Ok(Written::Plumbing { ip, sap, dst, src }) => {
                    let len = msg.len();
                    match dlpi::send_unitdata_ind(&self.k, &ip, msg, sap, &dst, &src) {
                        Ok(()) => {
                            self.stats.received(len, AddrClass::Unicast);
                            Ok(())
                        }
                        Err(reason) => Err(reason),
                    }
                }
                Ok(Written::Mac(class)) => {
                    let len = msg.len();
                    // SAFETY: msg is an owned single message, handed over.
                    match self.with_mac(|mh| unsafe { self.k.mac_rx(mh, msg.into_raw()) }) {
                        Some(()) => {
                            self.stats.received(len, class);
                            Ok(())
                        }
                        // Not handed over: the closure did not run, so msg
                        // was moved into it and dropped with it (freed).
                        None => Err(DropReason::Closing),
                    }
                }
                Err(reason) => Err(reason),
            }
        };
        if let Err(reason) = r {
            self.stats.dropped(reason);
            self.k.probe(Probe::Drop(self.linkid, reason));
        }
        r
    }

    fn frame_written(&self, msg: &mut MsgBlk<K>, packet_info: bool) -> Result<Written<K>, DropReason> {
        if packet_info {
            if !msg.pullup(&self.k, 4) || !msg.trim_front(4) {
                return Err(DropReason::BadWrite);
            }
        }
        let len = msg.len();
        let mtu = self.mtu();
        match self.mode {
            Mode::Tun => {
                if !msg.pullup(&self.k, len.min(40)) {
                    return Err(if len < 40 { DropReason::BadWrite } else { DropReason::NoBuffer });
                }
                let ethertype = frame::check_tun_packet(msg.first_block(), len, mtu).map_err(write_error)?;
                if let Some(ip) = self.plumbing_for(ethertype) {
                    // Old-API IP takes the bare packet with DLPI addresses.
                    return Ok(Written::Plumbing { ip, sap: ethertype, dst: self.mac(), src: self.peer_mac });
                }
                let hdr = frame::ether_header(&self.mac(), &self.peer_mac, ethertype);
                if !msg.prepend(&self.k, &hdr) {
                    return Err(DropReason::NoBuffer);
                }
                Ok(Written::Mac(AddrClass::Unicast))
            }
            Mode::Tap => {
                let want = len.min(frame::ETHER_HDR_LEN + frame::VLAN_TAG_LEN);
                if !msg.pullup(&self.k, want) {
                    return Err(if len < want { DropReason::BadWrite } else { DropReason::NoBuffer });
                }
                frame::check_tap_frame(msg.first_block(), len, mtu).map_err(write_error)?;
                let Some(h) = frame::parse_ether(msg.first_block()) else {
                    return Err(DropReason::BadWrite);
                };
                if h.header_len == frame::ETHER_HDR_LEN {
                    if let Some(ip) = self.plumbing_for(h.ethertype) {
                        if !msg.trim_front(frame::ETHER_HDR_LEN) {
                            return Err(DropReason::BadWrite);
                        }
                        return Ok(Written::Plumbing { ip, sap: h.ethertype, dst: h.dst, src: h.src });
                    }
                }
                Ok(Written::Mac(frame::classify(&h.dst)))
            }
        }
    }

    // ----- the read side: the stack sends, a process reads -----

    /// `mc_tx`: deliver a chain to the attached queues.  Returns the
    /// unsent rest (null when all was consumed or dropped).
    ///
    /// # Safety
    /// `chain` is null or an owned `b_next` chain of valid messages.
    pub unsafe fn mc_tx(&self, chain: *mut mblk_t) -> *mut mblk_t {
        // SAFETY: mac hands us ownership of the chain.
        let mut chain = unsafe { MsgChain::<K>::from_raw(chain) };
        let queues = self.queue_snapshot();
        while let Some(mut msg) = chain.next() {
            let Some(class) = self.frame_for_reader(&mut msg) else { continue };
            if let Offered::Full(msg, minor) = self.offer(&queues, msg, class) {
                // Give back this packet as the stack sent it: only a
                // framing that can be undone was done so far.
                match self.unframe(msg) {
                    Some(msg) => chain.push_front(msg),
                    None => self.note_drop(DropReason::NoBuffer),
                }
                minor.note_blocked();
                return chain.into_raw();
            }
        }
        ptr::null_mut()
    }

    /// Offer one packet, framed for the reader, to the queue its flow
    /// steers to.  A packet with no queue to take it is dropped and
    /// counted; a full queue hands it back with that queue.
    fn offer(&self, queues: &[Arc<Minor<K>>], msg: MsgBlk<K>, class: AddrClass) -> Offered<K> {
        let Some(minor) = pick_queue(queues, self.mode, &msg) else {
            self.note_drop(DropReason::NoQueue);
            return Offered::Dropped;
        };
        if !minor.enter() {
            self.note_drop(DropReason::NoQueue);
            return Offered::Dropped;
        }
        let len = msg.len();
        let r = match minor.enqueue(msg) {
            Enqueue::Queued => {
                self.stats.transmitted(len, class);
                minor.drain();
                Offered::Queued
            }
            Enqueue::Full(msg) => Offered::Full(msg, minor.clone()),
            Enqueue::Gone(msg) => {
                drop(msg);
                self.note_drop(DropReason::NoQueue);
                Offered::Dropped
            }
        };
        minor.exit();
        r
    }

    /// A packet from old-API IP (`DL_UNITDATA_REQ`), already in the form
    /// a reader gets, goes to one attached queue.  No flow control on
    /// this legacy path: a full queue drops (and counts) the packet.
    pub fn deliver_from_plumbing(&self, msg: MsgBlk<K>) -> Result<(), DropReason> {
        let class = match self.mode {
            Mode::Tap => frame::parse_ether(msg.first_block()).map_or(AddrClass::Unicast, |h| frame::classify(&h.dst)),
            Mode::Tun => AddrClass::Unicast,
        };
        match self.offer(&self.queue_snapshot(), msg, class) {
            Offered::Queued => Ok(()),
            Offered::Dropped => Err(DropReason::NoQueue),
            Offered::Full(msg, _) => {
                drop(msg);
                // A transmit-side loss: no room toward the reader.
                self.stats.tx_no_buffer();
                self.k.probe(Probe::Drop(self.linkid, DropReason::NoBuffer));
                Err(DropReason::NoBuffer)
            }
        }
    }

    fn note_drop(&self, reason: DropReason) {
        self.stats.dropped(reason);
        self.k.probe(Probe::Drop(self.linkid, reason));
    }

    /// Turn a frame from the stack into what the reader gets.  `None` when
    /// the frame was consumed (answered or dropped).
    fn frame_for_reader(&self, msg: &mut MsgBlk<K>) -> Option<AddrClass> {
        let want = msg.len().min(frame::ETHER_HDR_LEN + frame::VLAN_TAG_LEN);
        if !msg.pullup(&self.k, want) {
            self.note_drop(DropReason::NoBuffer);
            return None;
        }
        let Some(hdr) = frame::parse_ether(msg.first_block()) else {
            self.note_drop(DropReason::BadWrite);
            return None;
        };
        let class = frame::classify(&hdr.dst);
        if self.mode == Mode::Tap {
            return Some(class);
        }
        // tun: answer resolution, pass IP, drop the rest.
        if hdr.ethertype == frame::ETHERTYPE_ARP || hdr.ethertype == frame::ETHERTYPE_IPV6 {
            let whole = msg.len();
            if hdr.ethertype == frame::ETHERTYPE_ARP || whole <= frame::RESOLVER_REPLY_MAX + 64 {
                if msg.pullup(&self.k, whole) {
                    let mut reply = [0u8; frame::RESOLVER_REPLY_MAX];
                    if let Some(n) = frame::answer_resolver(msg.first_block(), &self.peer_mac, &mut reply) {
                        self.queue_reply(reply.get(..n).unwrap_or(&[]));
                        return None;
                    }
                }
            }
        }
        match frame::tun_payload_offset(msg.first_block()) {
            Some(off) if msg.trim_front(off) => Some(class),
            _ => {
                self.note_drop(DropReason::NotIp);
                None
            }
        }
    }

    /// Undo [`Link::frame_for_reader`] and any packet-info header for a
    /// packet that could not be queued, so mac can send it again.
    fn unframe(&self, mut msg: MsgBlk<K>) -> Option<MsgBlk<K>> {
        // Minor::enqueue adds the packet-info header only once queued, so
        // only the Ethernet header of a tun packet needs restoring.
        if self.mode == Mode::Tap {
            return Some(msg);
        }
        let first = *msg.first_block().first()?;
        let ethertype = frame::ethertype_for_ip(first)?;
        let hdr = frame::ether_header(&self.peer_mac, &self.mac(), ethertype);
        msg.prepend(&self.k, &hdr).then_some(msg)
    }

    /// Queue a resolver reply and make sure a taskq passes it up: mac_rx
    /// from inside mc_tx would recurse into IP on IP's own transmit stack.
    fn queue_reply(&self, bytes: &[u8]) {
        let Some(msg) = MsgBlk::alloc_with(&self.k, 0, bytes) else {
            self.note_drop(DropReason::NoBuffer);
            return;
        };
        self.stats.resolver_reply();
        let schedule = {
            let mut r = self.replies.lock();
            r.0.push_back(msg);
            !core::mem::replace(&mut r.1, true)
        };
        if schedule {
            // SAFETY: the link outlives the task: destroy waits for the
            // replies to drain (replies_pending/flush_replies) before the
            // link is freed.
            let res = unsafe {
                self.k.defer(flush_replies_task::<K>, self as *const Self as *mut core::ffi::c_void)
            };
            if res.is_err() {
                let dropped = {
                    let mut r = self.replies.lock();
                    r.1 = false;
                    r.0.take_all()
                };
                for msg in dropped {
                    drop(msg);
                    self.note_drop(DropReason::NoBuffer);
                }
            }
        }
    }

    /// Pass queued resolver replies up (taskq context, no lock held).
    pub fn flush_replies(&self) {
        loop {
            let batch = {
                let mut r = self.replies.lock();
                if r.0.is_empty() {
                    r.1 = false;
                    return;
                }
                r.0.take_all()
            };
            for msg in batch {
                // SAFETY: msg is an owned single message, handed over; if
                // the link is going the closure is dropped and frees it.
                self.with_mac(|mh| unsafe { self.k.mac_rx(mh, msg.into_raw()) });
            }
        }
    }

    /// Are resolver replies still waiting for their taskq?
    pub fn replies_pending(&self) -> bool {
        self.replies.lock().1
    }
}

/// What [`Link::offer`] did with a packet.
enum Offered<K: Kernel> {
    Queued,
    /// No queue could take it: dropped and counted.
    Dropped,
    /// The queue's backlog is full: the packet, and that queue.
    Full(MsgBlk<K>, Arc<Minor<K>>),
}

/// Where a written packet goes once validated and framed.
enum Written<K: Kernel> {
    /// To mac (`mac_rx`), framed as Ethernet.
    Mac(AddrClass),
    /// To an old-API IP stream bound to its type, as `DL_UNITDATA_IND`.
    Plumbing { ip: Arc<Minor<K>>, sap: u16, dst: MacAddr, src: MacAddr },
}

/// The taskq side of [`Link::queue_reply`].
///
/// # Safety
/// `arg` is a `*const Link<K>` that stays live until this has run.
unsafe extern "C" fn flush_replies_task<K: Kernel>(arg: *mut core::ffi::c_void) {
    // SAFETY: queue_reply passed a live link (see its SAFETY note).
    if let Some(link) = unsafe { arg.cast::<Link<K>>().as_ref() } {
        link.flush_replies();
    }
}

fn write_error(e: frame::WriteError) -> DropReason {
    match e {
        frame::WriteError::TooLong { .. } => DropReason::TooLong,
        _ => DropReason::BadWrite,
    }
}

/// Pick the queue for a packet: the only one, or by flow hash.
fn pick_queue<'a, K: Kernel>(queues: &'a [Arc<Minor<K>>], mode: Mode, msg: &MsgBlk<K>) -> Option<&'a Arc<Minor<K>>> {
    match queues.len() {
        0 => None,
        1 => queues.first(),
        n => {
            let bytes = msg.first_block();
            let (ethertype, ip) = match mode {
                Mode::Tun => (bytes.first().and_then(|b| frame::ethertype_for_ip(*b)).unwrap_or(0), bytes),
                Mode::Tap => match frame::parse_ether(bytes) {
                    Some(h) => (h.ethertype, bytes.get(h.header_len..).unwrap_or(&[])),
                    None => (0, bytes),
                },
            };
            let h = frame::flow_hash(ethertype, ip) as usize;
            queues.get(h % n)
        }
    }
}

// ----- the mac callbacks: thin trampolines into Link -----
//
// mac calls these with `m_driver` as the first argument: a pointer to the
// `Link<K>` that registered, alive until mac_unregister has returned.

/// The mac callback table for links of a driver on kernel `K`.
pub fn mac_callbacks<K: Kernel>() -> mac_callbacks_t {
    mac_callbacks_t {
        mc_callbacks: sys::MC_SETPROP | sys::MC_GETPROP | sys::MC_PROPINFO | sys::MC_GETCAPAB,
        mc_getstat: Some(m_getstat::<K>),
        mc_start: Some(m_start),
        mc_stop: Some(m_stop),
        mc_setpromisc: Some(m_setpromisc),
        mc_multicst: Some(m_multicst),
        mc_unicst: Some(m_unicst::<K>),
        mc_tx: Some(m_tx::<K>),
        mc_reserved: ptr::null_mut(),
        mc_ioctl: None,
        mc_getcapab: Some(m_getcapab),
        mc_open: None,
        mc_close: None,
        mc_setprop: Some(m_setprop::<K>),
        mc_getprop: Some(m_getprop::<K>),
        mc_propinfo: Some(m_propinfo::<K>),
    }
}

/// # Safety
/// `arg` is the `m_driver` of a registered link.
unsafe fn link_of<'a, K: Kernel>(arg: *mut c_void) -> &'a Link<K> {
    // SAFETY: the caller's contract: arg came from fill_registration and
    // the link stays alive until mac_unregister returns.
    unsafe { &*(arg as *const Link<K>) }
}

unsafe extern "C" fn m_getstat<K: Kernel>(arg: *mut c_void, stat: uint_t, val: *mut u64) -> c_int {
    // SAFETY: mac passes our m_driver.
    let link = unsafe { link_of::<K>(arg) };
    match link.stats.get(stat) {
        Ok(v) if !val.is_null() => {
            // SAFETY: mac passes a valid out pointer.
            unsafe { *val = v };
            0
        }
        Ok(_) => sys::EINVAL,
        Err(e) => e,
    }
}

unsafe extern "C" fn m_start(_arg: *mut c_void) -> c_int {
    0
}

unsafe extern "C" fn m_stop(_arg: *mut c_void) {}

unsafe extern "C" fn m_setpromisc(_arg: *mut c_void, _on: sys::boolean_t) -> c_int {
    // Every frame already reaches the reader; nothing to filter.
    0
}

unsafe extern "C" fn m_multicst(_arg: *mut c_void, _add: sys::boolean_t, _addr: *const u8) -> c_int {
    // No hardware filter: multicast frames are all passed.
    0
}

unsafe extern "C" fn m_unicst<K: Kernel>(arg: *mut c_void, addr: *const u8) -> c_int {
    // SAFETY: mac passes our m_driver.
    let link = unsafe { link_of::<K>(arg) };
    if addr.is_null() {
        return sys::EINVAL;
    }
    let mut mac = [0u8; 6];
    // SAFETY: mac passes an address of the plugin's length (6).
    unsafe { ptr::copy_nonoverlapping(addr, mac.as_mut_ptr(), 6) };
    match link.set_mac(mac, false) {
        Ok(()) => 0,
        Err(e) => e,
    }
}

unsafe extern "C" fn m_tx<K: Kernel>(arg: *mut c_void, mp: *mut mblk_t) -> *mut mblk_t {
    // SAFETY: mac passes our m_driver.
    let link = unsafe { link_of::<K>(arg) };
    // SAFETY: mac hands us ownership of the chain.
    unsafe { link.mc_tx(mp) }
}

unsafe extern "C" fn m_getcapab(_arg: *mut c_void, _cap: sys::mac_capab_t, _data: *mut c_void) -> sys::boolean_t {
    sys::B_FALSE
}

unsafe extern "C" fn m_setprop<K: Kernel>(
    arg: *mut c_void,
    _name: *const c_char,
    id: mac_prop_id_t,
    size: uint_t,
    val: *const c_void,
) -> c_int {
    // SAFETY: mac passes our m_driver.
    let link = unsafe { link_of::<K>(arg) };
    match id {
        sys::MAC_PROP_MTU => {
            if val.is_null() || (size as usize) < core::mem::size_of::<u32>() {
                return sys::EINVAL;
            }
            // SAFETY: mac passes `size` readable bytes (checked >= 4).
            let mtu = unsafe { ptr::read_unaligned(val.cast::<u32>()) };
            if !(MTU_MIN..=MTU_MAX).contains(&mtu) {
                return sys::EINVAL;
            }
            // mac updates its own SDU after we accept (mac_set_mtu).
            link.mtu.store(mtu, Ordering::Relaxed);
            0
        }
        sys::MAC_PROP_PRIVATE => sys::EACCES,
        _ => sys::ENOTSUP,
    }
}

/// Write `text` and a NUL into the caller's buffer.
fn put_str(val: *mut c_void, size: uint_t, text: &[u8]) -> c_int {
    if val.is_null() || text.len() >= size as usize {
        return sys::ENOBUFS;
    }
    // SAFETY: val has `size` writable bytes, and text.len() + 1 <= size.
    unsafe {
        ptr::copy_nonoverlapping(text.as_ptr(), val.cast::<u8>(), text.len());
        *val.cast::<u8>().add(text.len()) = 0;
    }
    0
}

unsafe extern "C" fn m_getprop<K: Kernel>(
    arg: *mut c_void,
    name: *const c_char,
    id: mac_prop_id_t,
    size: uint_t,
    val: *mut c_void,
) -> c_int {
    // SAFETY: mac passes our m_driver.
    let link = unsafe { link_of::<K>(arg) };
    match id {
        sys::MAC_PROP_MTU => {
            if val.is_null() || (size as usize) < 4 {
                return sys::EINVAL;
            }
            // SAFETY: at least 4 writable bytes (checked).
            unsafe { ptr::write_unaligned(val.cast::<u32>(), link.mtu()) };
            0
        }
        sys::MAC_PROP_PRIVATE if !name.is_null() => {
            // SAFETY: mac passes a NUL-terminated property name.
            let name = unsafe { CStr::from_ptr(name) };
            if name == PROP_MODE {
                put_str(val, size, link.mode.as_str().as_bytes())
            } else if name == PROP_OWNER {
                let owner = link.state.lock().owner;
                let mut buf = [0u8; 12];
                put_str(val, size, format_uid(owner, &mut buf))
            } else {
                sys::ENOTSUP
            }
        }
        _ => sys::ENOTSUP,
    }
}

fn format_uid(uid: u32, buf: &mut [u8; 12]) -> &[u8] {
    if uid == TUN_NO_ID {
        return b"-";
    }
    let mut n = uid;
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(b) = buf.get_mut(i) {
            *b = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or(b"-")
}

unsafe extern "C" fn m_propinfo<K: Kernel>(
    arg: *mut c_void,
    name: *const c_char,
    id: mac_prop_id_t,
    ph: mac_prop_info_handle_t,
) {
    // SAFETY: mac passes our m_driver.
    let link = unsafe { link_of::<K>(arg) };
    let ph = PropInfoHandle(ph.cast());
    match id {
        sys::MAC_PROP_MTU => {
            link.k.mac_prop_info_set_default_uint32(ph, MTU_DEFAULT);
            link.k.mac_prop_info_set_range_uint32(ph, MTU_MIN, MTU_MAX);
        }
        sys::MAC_PROP_PRIVATE if !name.is_null() => link.k.mac_prop_info_set_perm(ph, PropPerm::Read),
        _ => {}
    }
}
