// SPDX-License-Identifier: MPL-2.0
//! One tun or tap datalink: its mac registration, properties, counters,
//! attached queues and lifecycle.  Its packet path is in `datapath.rs`,
//! its mac callbacks and link properties in `callbacks.rs`.
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
//! taken before `queues` and `plumbing` (the copy-on-write lists of
//! attached queues and DLPI streams) and before any `Minor` lock.
//! `quiesce` and `replies` are leaves.  The data path takes `queues` only long enough
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
use core::ffi::{c_char, c_void};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, Ordering};

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::{mac_callbacks_t, uint_t};
use tuntap_abi::{DatalinkId, LinkName, TUN_NO_ID, info_flags};

use crate::ddi::{Errno, Kernel, LinkState, MacHandle, Probe, ZoneId};
use crate::frame::{self, MacAddr};
use crate::mblk::MsgQueue;
use crate::queue::Queue;
use crate::stats::LinkStats;
use crate::sync::{KCondvar, KMutex};

mod batch;
pub mod callbacks;
mod datapath;
mod offload;
mod segment;

/// Why a batched write was refused whole (`batch.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// A framing fault in the record with this index.
    Framing(tuntap_abi::batch::BatchError, u32),
    /// No memory to look at the write.
    NoBuffer,
    /// The link is going away.
    Closing,
}

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
    /// The pid that opened the stream asking for the link (`ddi_get_pid`
    /// at open: the ioctl itself runs where there is no process).
    pub creator_pid: i32,
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
    /// This link, for work that must own a reference to it (the
    /// resolver-reply task).
    me: alloc::sync::Weak<Self>,
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
    /// dls binds the link to its id (`dls_devnet_create` succeeded and
    /// no `dls_devnet_destroy` since).
    devnet: AtomicBool,
    mtu: AtomicU32,
    /// Lock-free copies for the data path: `Props::mac` (written under
    /// `state`) and the length of `plumbing` (written under it).
    mac_bits: AtomicU64,
    plumbed: AtomicU32,
    /// What the link advertises to mac (`offload.rs`).
    offload: offload::OffloadState<K>,
    pub stats: LinkStats,
    state: KMutex<K, Props>,
    queues: KMutex<K, Arc<Vec<Arc<Queue<K>>>>>,
    /// Old-API IP plumbing: `/dev/tun` streams with `ip` pushed that
    /// attached to this link over DLPI (copy-on-write, like `queues`).
    plumbing: KMutex<K, Arc<Vec<Arc<Queue<K>>>>>,
    /// Which path the old-API streams of this link take ([`RelayPath`]):
    /// decided by the first that attaches, back to `Unknown` when the
    /// last plumbed stream leaves (cleared under `plumbing`).
    relay_path: AtomicU8,
    /// What the old-API DLPI layer keeps per link (its fallback mac
    /// client, `dlpi/mac_client.rs` `MacPath::of`), opaque here: the link
    /// sits below that layer and does not name its types.  A leaf lock.
    pub dlpi_ext: KMutex<K, Option<Arc<dyn core::any::Any + Send + Sync>>>,
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
    /// A new link, not yet registered with mac.
    pub fn new(k: &K, spec: &LinkSpec) -> Arc<Self> {
        Arc::new_cyclic(|me| Self::build(k, spec, me.clone()))
    }

    fn build(k: &K, spec: &LinkSpec, me: alloc::sync::Weak<Self>) -> Self {
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
            me,
            linkid: spec.linkid,
            name: spec.name,
            mode: spec.mode,
            zone: spec.zone,
            origin: spec.origin,
            created_ns: k.wall_clock_ns(),
            creator_pid: spec.creator_pid,
            peer_mac: peer,
            mh: AtomicPtr::new(ptr::null_mut()),
            devnet: AtomicBool::new(false),
            mtu: AtomicU32::new(spec.mtu),
            mac_bits: AtomicU64::new(frame::mac_to_bits(&own)),
            plumbed: AtomicU32::new(0),
            offload: offload::OffloadState::new(),
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
            }),
            queues: KMutex::new(Arc::new(Vec::new())),
            mac_users: AtomicU32::new(0),
            dlpi_ext: KMutex::new(None),
            plumbing: KMutex::new(Arc::new(Vec::new())),
            relay_path: AtomicU8::new(RelayPath::Unknown as u8),
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

    pub fn devnet_bound(&self) -> bool {
        self.devnet.load(Ordering::Acquire)
    }

    pub fn set_devnet_bound(&self, bound: bool) {
        self.devnet.store(bound, Ordering::Release);
    }

    pub fn mtu(&self) -> u32 {
        self.mtu.load(Ordering::Relaxed)
    }

    pub fn mac(&self) -> MacAddr {
        frame::mac_from_bits(self.mac_bits.load(Ordering::Acquire))
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
    pub fn attach(&self, minor: &Arc<Queue<K>>, exclusive: bool, multi: bool) -> Result<(), AttachError> {
        {
            let mut p = self.state.lock();
            if p.lifecycle != Lifecycle::Active {
                return Err(AttachError::Gone);
            }
            if p.nqueues > 0 && (p.exclusive || exclusive || !multi) {
                return Err(AttachError::Busy);
            }
            let mut q = self.queues.lock();
            let mut next: Vec<Arc<Queue<K>>> = Vec::with_capacity(q.len() + 1);
            next.extend(q.iter().cloned());
            next.push(minor.clone());
            *q = Arc::new(next);
            p.nqueues += 1;
            p.exclusive = exclusive;
        }
        self.k.probe(Probe::QueueAttach(self.linkid, minor.minor));
        self.sync_link_state();
        self.refresh_offload();
        Ok(())
    }

    /// Remove `minor` from the queues; returns whether it was attached.
    /// The caller waits for the minor's in-flight users afterwards.
    pub fn detach(&self, minor: &Queue<K>) -> bool {
        let found = {
            let mut p = self.state.lock();
            let mut q = self.queues.lock();
            let before = q.len();
            let next: Vec<Arc<Queue<K>>> =
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
            self.refresh_offload();
            // A blocked sender may have been waiting on this queue.
            self.with_mac(|mh| self.k.mac_tx_update(mh));
        }
        found
    }

    pub fn queue_snapshot(&self) -> Arc<Vec<Arc<Queue<K>>>> {
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
    pub fn attach_plumbing(&self, minor: &Arc<Queue<K>>) -> Result<(), AttachError> {
        let p = self.state.lock();
        if p.lifecycle != Lifecycle::Active {
            return Err(AttachError::Gone);
        }
        let mut list = self.plumbing.lock();
        let mut next: Vec<Arc<Queue<K>>> = Vec::with_capacity(list.len() + 1);
        next.extend(list.iter().cloned());
        next.push(minor.clone());
        self.plumbed.store(next.len() as u32, Ordering::Release);
        *list = Arc::new(next);
        Ok(())
    }

    /// A DLPI stream detaches (`DL_DETACH_REQ` or close).
    pub fn detach_plumbing(&self, minor: &Queue<K>) -> bool {
        let mut list = self.plumbing.lock();
        let before = list.len();
        let next: Vec<Arc<Queue<K>>> =
            list.iter().filter(|m| !ptr::eq(Arc::as_ptr(m), minor)).cloned().collect();
        let found = next.len() != before;
        self.plumbed.store(next.len() as u32, Ordering::Release);
        if next.is_empty() {
            self.relay_path.store(RelayPath::Unknown as u8, Ordering::Release);
        }
        *list = Arc::new(next);
        found
    }

    /// The path this link's old-API streams take, as decided so far.
    pub fn relay_path(&self) -> RelayPath {
        match self.relay_path.load(Ordering::Acquire) {
            1 => RelayPath::Relayed,
            2 => RelayPath::Private,
            _ => RelayPath::Unknown,
        }
    }

    /// Decide the path if nobody has yet (a stream attached now, so the
    /// decision lasts until the last one leaves); the path in force.
    pub fn settle_relay_path(&self, path: RelayPath) -> RelayPath {
        let _ = self.relay_path.compare_exchange(RelayPath::Unknown as u8, path as u8, Ordering::AcqRel, Ordering::Acquire);
        self.relay_path()
    }

    /// The DLPI streams attached now (a copy-on-write snapshot).
    pub fn plumbing_snapshot(&self) -> Arc<Vec<Arc<Queue<K>>>> {
        self.plumbing.lock().clone()
    }

    /// Is IP plumbed on this link through the old API?
    pub fn has_plumbing(&self) -> bool {
        !self.plumbing.lock().is_empty()
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

    /// Check and apply a new MTU and tell mac (no lock held for that).
    pub fn set_mtu(&self, mtu: u32) -> Result<(), Errno> {
        tuntap_abi::check_mtu(mtu).map_err(|_| sys::EINVAL)?;
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
        let mut p = self.state.lock();
        p.mac = mac;
        self.mac_bits.store(frame::mac_to_bits(&mac), Ordering::Release);
        drop(p);
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
}


/// How a link's old-API DLPI streams reach dls (`dlpi/relay`): all of
/// them the same way, so that two never fight over the primary address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RelayPath {
    /// No stream attached yet.
    Unknown = 0,
    /// Through a lower dld stream each (`Relay`).
    Relayed = 1,
    /// Through the link's own mac client (`dlpi/mac_client.rs`).
    Private = 2,
}
