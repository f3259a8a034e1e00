// SPDX-License-Identifier: MPL-2.0
//! A link's packet path: what a process writes goes up through `mac_rx`
//! ([`Link::input`]); what the stack sends arrives in `mc_tx`
//! ([`Link::mc_tx`]) and goes to an attached queue.
//!
//! # Theory statement
//!
//! See the link's theory statement (`link/mod.rs`) for the path as a
//! whole.  This file never blocks and never allocates from the heap on
//! the transmit side: packets travel as `b_next` chains and queues, a
//! full queue hands the packet back to mac, and resolver replies (tun
//! links answer ARP and neighbour solicitations) are passed up from a
//! taskq, never from inside `mc_tx` (which runs on IP's transmit stack).
//! Locks: `Link::queues`/`plumbing` only to clone a snapshot; `replies`
//! only to move messages; none is held across a mac or STREAMS call.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ptr;

use illumos_sys_hdrs::mblk_t;

use super::offload::Meta;
use super::{Link, Mode};
use crate::ddi::{DropReason, Kernel, Probe};
use crate::dlpi::prim::{self as dlpi_prim, Personality};
use crate::frame::{self, AddrClass, MacAddr};
use crate::mblk::{MsgBlk, MsgChain, MsgQueue};
use crate::queue::{Enqueue, Queue};

impl<K: Kernel> Link<K> {
    // ----- the write side: a process sends a packet up the stack -----

    /// Validate one written packet and pass it up: to the old-API DLPI
    /// streams whose receive filter takes it, and to mac (`mac_rx`,
    /// framed as Ethernet) unless a DLPI stream is bound to its type.
    /// `packet_info`: the packet starts with a 4-byte `tun_pi` header;
    /// `vnet`: then a virtio-net header (`tuntap_abi::offload`).
    pub fn input(&self, msg: MsgBlk<K>, packet_info: bool, vnet: bool) -> Result<(), DropReason> {
        let r = if self.is_condemned() {
            drop(msg);
            Err(DropReason::Closing)
        } else {
            self.route_written(msg, packet_info, vnet)
        };
        if let Err(reason) = r {
            self.stats.dropped(reason);
            self.k.probe(Probe::Drop(self.linkid, reason));
        }
        r
    }

    fn route_written(&self, msg: MsgBlk<K>, packet_info: bool, vnet: bool) -> Result<(), DropReason> {
        match self.prepare_written(msg, packet_info, vnet)? {
            // Consumed by old-API IP.
            Prepared::Plumbed => Ok(()),
            Prepared::Segments(segs, class) => self.pass_up_chain(segs, class),
            Prepared::Mac(msg, class) => {
                let len = msg.len();
                // SAFETY: msg is an owned single message, handed over.
                match self.with_mac(|mh| unsafe { self.k.mac_rx(mh, msg.into_raw()) }) {
                    Some(()) => {
                        self.stats.received(len, class);
                        Ok(())
                    }
                    // Not handed over: the closure did not run, so msg was
                    // moved into it and dropped with it (freed).
                    None => Err(DropReason::Closing),
                }
            }
        }
    }

    /// Validate a written packet, pass it to the old-API DLPI streams it
    /// concerns, apply its virtio-net header, and frame it for mac.
    pub(super) fn prepare_written(&self, mut msg: MsgBlk<K>, packet_info: bool, vnet: bool) -> Result<Prepared<K>, DropReason> {
        if packet_info {
            if !msg.pullup(&self.k, 4) || !msg.trim_front(4) {
                return Err(DropReason::BadWrite);
            }
        }
        let hdr = if vnet { Some(self.take_vnet_header(&mut msg)?) } else { None };
        let gso = hdr.is_some_and(|h| h.gso_type != tuntap_abi::offload::VIRTIO_NET_HDR_GSO_NONE);
        // A large segment is checked against the largest IP packet; each
        // of its segments against the MTU (segment.rs).
        let w = self.check_written(&mut msg, gso.then_some(tuntap_abi::MTU_MAX))?;
        if w.plumbable && !gso {
            if let Some(up) = self.plumbing_for(w.sap, w.tap) {
                match self.pass_up(&up, msg) {
                    Some(back) => msg = back,
                    None => return Ok(Prepared::Plumbed),
                }
            }
        }
        let l2_out = match self.mode {
            Mode::Tun => {
                let eh = frame::ether_header(&self.mac(), &self.peer_mac, w.sap);
                if !msg.prepend(&self.k, &eh) {
                    return Err(DropReason::NoBuffer);
                }
                frame::ETHER_HDR_LEN
            }
            Mode::Tap => frame::parse_ether(msg.first_block()).map_or(0, |h| h.header_len),
        };
        let Some(hdr) = hdr else { return Ok(Prepared::Mac(msg, w.class)) };
        if gso {
            let segs = self.segment(&mut msg, &hdr, l2_out).map_err(|_| DropReason::BadOffload)?;
            return Ok(Prepared::Segments(segs, w.class));
        }
        let l2_in = if self.mode == Mode::Tun { 0 } else { l2_out };
        self.apply_written_vnet(&mut msg, &hdr, l2_in, l2_out).map_err(|_| DropReason::BadOffload)?;
        Ok(Prepared::Mac(msg, w.class))
    }

    /// Read and remove a written virtio-net header; refuse unknown flags
    /// and GSO without a checksum request (as Linux does).
    fn take_vnet_header(&self, msg: &mut MsgBlk<K>) -> Result<tuntap_abi::offload::VirtioNetHdr, DropReason> {
        use tuntap_abi::offload as off;
        let n = off::VNET_HDR_LEN;
        let Some(hdr) = msg.pullup(&self.k, n).then(|| msg.read_head::<off::VirtioNetHdr>()).flatten() else {
            return Err(DropReason::BadOffload);
        };
        if !msg.trim_front(n) {
            return Err(DropReason::BadOffload);
        }
        let known = off::VIRTIO_NET_HDR_F_NEEDS_CSUM | off::VIRTIO_NET_HDR_F_DATA_VALID;
        let gso = hdr.gso_type != off::VIRTIO_NET_HDR_GSO_NONE;
        if hdr.flags & !known != 0 || (gso && hdr.flags & off::VIRTIO_NET_HDR_F_NEEDS_CSUM == 0) {
            return Err(DropReason::BadOffload);
        }
        Ok(hdr)
    }

    /// Validate a written packet (its headers in front already off)
    /// against the MTU (`mtu`: another bound).
    fn check_written(&self, msg: &mut MsgBlk<K>, mtu: Option<u32>) -> Result<Written, DropReason> {
        let len = msg.len();
        let mtu = mtu.unwrap_or_else(|| self.mtu());
        match self.mode {
            Mode::Tun => {
                if !msg.pullup(&self.k, len.min(40)) {
                    return Err(if len < 40 { DropReason::BadWrite } else { DropReason::NoBuffer });
                }
                let sap = frame::check_tun_packet(msg.first_block(), len, mtu).map_err(write_error)?;
                Ok(Written { sap, tap: None, class: AddrClass::Unicast, plumbable: true })
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
                Ok(Written {
                    sap: h.ethertype,
                    tap: Some((h.dst, h.src)),
                    class: frame::classify(&h.dst),
                    // Old-API IP takes untagged frames only.
                    plumbable: h.header_len == frame::ETHER_HDR_LEN,
                })
            }
        }
    }

    /// Pass packets up in one `mac_rx` chain (no lock held).
    pub(super) fn pass_up_chain(&self, segs: MsgQueue<K>, class: AddrClass) -> Result<(), DropReason> {
        let (n, bytes) = (segs.len(), segs.bytes());
        if n == 0 {
            return Ok(());
        }
        let chain = segs.take_all_owned().into_raw();
        // SAFETY: an owned b_next chain, handed over; if the link is
        // going the closure does not run and the chain is freed below.
        match self.with_mac(|mh| unsafe { self.k.mac_rx(mh, chain) }) {
            Some(()) => {
                let mut classes = [0u32; 3];
                if let Some(c) = classes.get_mut(class as usize) {
                    *c = n as u32;
                }
                self.stats.received_many(n, bytes, classes);
                Ok(())
            }
            None => {
                // SAFETY: not handed over: still ours.
                drop(unsafe { MsgChain::<K>::from_raw(chain) });
                Err(DropReason::Closing)
            }
        }
    }

    /// The DLPI streams a written frame concerns: `None` when none is
    /// bound to its Ethertype `sap` and none would take it (then it is
    /// mac's alone).  `tap`: the frame's (destination, source) on a tap
    /// unit, `None` on a tun unit (no link addresses).
    fn plumbing_for(&self, sap: u16, tap: Option<(MacAddr, MacAddr)>) -> Option<Plumbed<K>> {
        // No old-API IP on the link: skip the list and its lock.
        if self.plumbed.load(core::sync::atomic::Ordering::Acquire) == 0 {
            return None;
        }
        let list = self.plumbing.lock().clone();
        if list.is_empty() {
            return None;
        }
        let up = Plumbed { list, sap, tap, own: self.mac(), claimed: false };
        let claimed = up.list.iter().any(|q| q.dlpi_rx().claims(sap));
        if !claimed && !up.list.iter().any(|q| up.wants(q)) {
            return None;
        }
        Some(Plumbed { claimed, ..up })
    }

    /// Send a written frame up, as `DL_UNITDATA_IND` without its link
    /// header, to every DLPI stream whose filter takes it (the old
    /// driver's fan-out, kaizawa/tuntap `tun.c` `tun_frame`, with a copy
    /// for each stream but the last).  A frame some stream is bound to is
    /// consumed (`None`), delivered or filtered out; otherwise the streams
    /// get copies and the frame comes back for mac.
    fn pass_up(&self, up: &Plumbed<K>, mut msg: MsgBlk<K>) -> Option<MsgBlk<K>> {
        let hdr = if up.tap.is_some() { frame::ETHER_HDR_LEN } else { 0 };
        let (who, dst, src) = match up.tap {
            Some((dst, src)) => (Personality::Tap, dst, src),
            None => (Personality::Tun, [0; frame::ETHER_ADDR_LEN], [0; frame::ETHER_ADDR_LEN]),
        };
        let class = if up.tap.is_some() { frame::classify(&dst) } else { AddrClass::Unicast };
        let (dsap, ssap) = (who.dlsap(&dst, up.sap), who.dlsap(&src, up.sap));
        let last = up.list.iter().rposition(|q| up.wants(q));
        let total = msg.len();
        let copies_needed = !up.claimed || last.is_some_and(|l| up.list.iter().take(l).any(|q| up.wants(q)));
        let can_copy = copies_needed && msg.pullup(&self.k, total);
        let mut delivered = false;
        let mut original = Some(msg);
        for (i, q) in up.list.iter().enumerate() {
            let Some(l) = last else { break };
            if i > l || (i < l && !up.wants(q)) {
                continue;
            }
            let payload = if i == l && up.claimed {
                original.take().and_then(|mut m| m.trim_front(hdr).then_some(m))
            } else if can_copy {
                original.as_ref().and_then(|m| m.first_block().get(hdr..)).and_then(|b| MsgBlk::alloc_with(&self.k, 0, b))
            } else {
                None
            };
            let Some(payload) = payload else {
                self.note_drop(DropReason::NoBuffer);
                continue;
            };
            match dlpi_prim::send_unitdata_ind(&self.k, q, payload, &dsap, &ssap, class != AddrClass::Unicast) {
                Ok(()) => delivered = true,
                Err(reason) => self.note_drop(reason),
            }
        }
        // Counted once; a frame that also goes on to mac is counted there.
        if delivered && up.claimed {
            self.stats.received(total - hdr, class);
        }
        if up.claimed { None } else { original }
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
        if let [only] = queues.as_slice() {
            if chain.has_several() {
                return self.mc_tx_one_queue(chain, only);
            }
        }
        while let Some(mut msg) = chain.next() {
            let meta = self.offload_meta(&msg);
            let Some(class) = self.frame_for_reader(&mut msg) else { continue };
            if let Offered::Full(msg, minor) = self.offer(&queues, msg, class, true, meta) {
                // Give back this packet as the stack sent it: only a
                // framing that can be undone was done so far.
                match self.unframe(msg, minor.vnet_hdr()) {
                    Some(msg) => chain.push_front(msg),
                    None => self.note_drop(DropReason::NoBuffer),
                }
                minor.note_blocked();
                drain_held(&queues);
                return chain.into_raw();
            }
        }
        drain_held(&queues);
        ptr::null_mut()
    }

    /// `mc_tx` with one queue attached: frame runs of unicast packets
    /// and hand each run to the queue at once (one backlog lock, one user
    /// count, one counter update per run); a multicast or broadcast
    /// packet goes on its own, so every counter stays exact.  What does
    /// not fit goes back to mac as the stack sent it.
    fn mc_tx_one_queue(&self, mut chain: MsgChain<K>, q: &Arc<Queue<K>>) -> *mut mblk_t {
        let mut run = MsgQueue::<K>::new();
        while let Some(mut msg) = chain.next() {
            let meta = self.offload_meta(&msg);
            let Some(class) = self.frame_for_reader(&mut msg) else { continue };
            if class == AddrClass::Unicast {
                if let Some(msg) = self.prepare_for(q, msg, meta) {
                    run.push_back(msg);
                }
                continue;
            }
            if let Some(rest) = self.deliver_run(&mut run, q) {
                return self.give_back(rest, Some(msg), chain, q);
            }
            if let Offered::Full(msg, _) = self.offer(core::slice::from_ref(q), msg, class, false, meta) {
                return self.give_back(MsgQueue::new(), Some(msg), chain, q);
            }
        }
        match self.deliver_run(&mut run, q) {
            Some(rest) => self.give_back(rest, None, chain, q),
            None => ptr::null_mut(),
        }
    }

    /// Deliver a run of unicast packets; `Some(rest)` when the queue did
    /// not take all of it.
    fn deliver_run(&self, run: &mut MsgQueue<K>, q: &Queue<K>) -> Option<MsgQueue<K>> {
        if run.is_empty() {
            return None;
        }
        if !q.enter() {
            for msg in run.take_all() {
                drop(msg);
                self.note_drop(DropReason::NoQueue);
            }
            return None;
        }
        let (n, bytes) = q.deliver_list(run);
        q.exit();
        self.stats.transmitted_many(n, bytes);
        if run.is_empty() { None } else { Some(core::mem::take(run)) }
    }

    /// The queue is full: return `rest`, then `msg`, then the unframed
    /// rest of the chain to mac, unframed, and ask the queue to wake mac.
    fn give_back(&self, rest: MsgQueue<K>, msg: Option<MsgBlk<K>>, chain: MsgChain<K>, q: &Queue<K>) -> *mut mblk_t {
        let mut back = MsgQueue::<K>::new();
        for m in rest.take_all_owned().chain(msg) {
            match self.unframe(m, q.vnet_hdr()) {
                Some(m) => back.push_back(m),
                None => self.note_drop(DropReason::NoBuffer),
            }
        }
        for m in chain {
            back.push_back(m);
        }
        q.note_blocked();
        back.take_all().into_raw()
    }

    /// Offer one packet, framed for the reader, to the queue its flow
    /// steers to.  A packet with no queue to take it is dropped and
    /// counted; a full queue hands it back with that queue.
    fn offer(&self, queues: &[Arc<Queue<K>>], msg: MsgBlk<K>, class: AddrClass, hold: bool, meta: Meta) -> Offered<K> {
        let Some(minor) = pick_queue(queues, self.mode, &msg) else {
            self.note_drop(DropReason::NoQueue);
            return Offered::Dropped;
        };
        if !minor.enter() {
            self.note_drop(DropReason::NoQueue);
            return Offered::Dropped;
        }
        let Some(msg) = self.prepare_for(minor, msg, meta) else {
            minor.exit();
            return Offered::Dropped;
        };
        let len = msg.len();
        let r = match minor.deliver(msg, hold) {
            Enqueue::Queued => {
                self.stats.transmitted(len, class);
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
        match self.offer(&self.queue_snapshot(), msg, class, false, Meta::default()) {
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
                    if let Some(n) = frame::resolver::answer_resolver(msg.first_block(), &self.peer_mac, &mut reply) {
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
    fn unframe(&self, mut msg: MsgBlk<K>, vnet: bool) -> Option<MsgBlk<K>> {
        if vnet {
            msg.unprepend(tuntap_abi::offload::VNET_HDR_LEN);
        }
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
            // The task owns a reference to the link: a taskq entry can run
            // long after the link was deleted (at the latest when
            // ddi_taskq_destroy runs what is queued: taskq_destroy ->
            // taskq_wait, usr/src/uts/common/os/taskq.c).
            let dispatched = match self.me.upgrade() {
                Some(me) => {
                    let arg = Arc::into_raw(me).cast_mut().cast::<core::ffi::c_void>();
                    // SAFETY: arg is a reference the task takes over.
                    let r = unsafe { self.k.defer(flush_replies_task::<K>, arg) };
                    if r.is_err() {
                        // SAFETY: not dispatched: take the reference back.
                        drop(unsafe { Arc::from_raw(arg.cast_const().cast::<Self>()) });
                    }
                    r.is_ok()
                }
                // The link is going away: nobody will pass replies up.
                None => false,
            };
            if !dispatched {
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
    Full(MsgBlk<K>, Arc<Queue<K>>),
}

/// What [`Link::prepare_written`] made of a written packet.
pub(super) enum Prepared<K: Kernel> {
    /// Old-API IP took it.
    Plumbed,
    /// An Ethernet frame for `mac_rx`.
    Mac(MsgBlk<K>, AddrClass),
    /// A large segment cut into these frames, for one `mac_rx` chain.
    Segments(MsgQueue<K>, AddrClass),
}

/// A validated written packet.
struct Written {
    /// Its Ethertype.
    sap: u16,
    /// (destination, source) of a tap frame; `None` for tun.
    tap: Option<(MacAddr, MacAddr)>,
    class: AddrClass,
    /// May go to old-API IP (tap: untagged).
    plumbable: bool,
}

/// A written frame and the DLPI streams it concerns (see
/// [`Link::plumbing_for`]).
struct Plumbed<K: Kernel> {
    list: Arc<Vec<Arc<Queue<K>>>>,
    sap: u16,
    /// (destination, source) of a tap frame; `None` for tun.
    tap: Option<(MacAddr, MacAddr)>,
    /// The unit's own address when the frame was written.
    own: MacAddr,
    /// Some stream is bound to `sap`: the frame is old-API IP's, not mac's.
    claimed: bool,
}

impl<K: Kernel> Plumbed<K> {
    /// Does stream `q`'s receive filter take this frame?
    fn wants(&self, q: &Queue<K>) -> bool {
        match &self.tap {
            Some((dst, src)) => q.dlpi_rx().wants_tap_frame(&self.own, dst, src, self.sap),
            None => q.dlpi_rx().wants_tun_packet(self.sap),
        }
    }
}

/// The taskq side of [`Link::queue_reply`].
///
/// # Safety
/// `arg` is an `Arc<Link<K>>` reference made by `Arc::into_raw`, which
/// this task takes over (and drops).
unsafe extern "C" fn flush_replies_task<K: Kernel>(arg: *mut core::ffi::c_void) {
    // SAFETY: queue_reply gave up this reference to the task.
    let link = unsafe { Arc::from_raw(arg.cast_const().cast::<Link<K>>()) };
    link.flush_replies();
}

fn write_error(e: frame::WriteError) -> DropReason {
    match e {
        frame::WriteError::TooLong { .. } => DropReason::TooLong,
        _ => DropReason::BadWrite,
    }
}

/// Drain the queues whose readers take batches: `mc_tx` held their
/// packets back so a whole chain goes up as batches.
fn drain_held<K: Kernel>(queues: &[Arc<Queue<K>>]) {
    for q in queues.iter().filter(|q| q.batch_reads()) {
        if q.enter() {
            q.drain();
            q.exit();
        }
    }
}

/// Pick the queue for a packet: the only one, or by flow hash.
fn pick_queue<'a, K: Kernel>(queues: &'a [Arc<Queue<K>>], mode: Mode, msg: &MsgBlk<K>) -> Option<&'a Arc<Queue<K>>> {
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
            let h = frame::flow::flow_hash(ethertype, ip) as usize;
            queues.get(h % n)
        }
    }
}

