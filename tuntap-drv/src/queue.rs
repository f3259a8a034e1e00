// SPDX-License-Identifier: MPL-2.0
//! The read side of one open stream: the packets waiting for its reader.
//!
//! # Theory statement
//!
//! A `Queue` is the part of a stream the data path touches: a link holds
//! the `Queue`s attached to it (and the DLPI streams of old-API IP
//! plumbing), and knows nothing else of the stream.  Its **backlog** holds
//! packets `mc_tx` steered here, waiting for room at the stream head.
//! The backlog is bounded in packets and bytes; when it is full `mc_tx`
//! gets the packet back and returns it to mac.
//!
//! **Draining.**  Exactly one thread at a time moves packets from the
//! backlog to the stream head (`draining`); [`Queue::deliver`] queues a
//! packet and claims the drain under one lock, and a packet that finds
//! the backlog empty goes straight to the stream head (two backlog locks
//! per packet in all).  Others that add packets or
//! run the service procedure while it drains set `again`, and the drainer
//! looks once more before it stops, so no wake-up is lost.  When
//! `canputnext` refuses, STREAMS marks the stream head to back-enable our
//! read queue (`canputnext(9F)`, `usr/src/uts/common/os/putnext.c`); the
//! service procedure then drains and, once the backlog is under its
//! low-water mark, says so, and the driver tells mac to resume
//! (`mac_tx_update(9F)`).
//!
//! **Closing.**  `users` counts threads inside `mc_tx` delivery that may
//! touch `rq`.  Close sets `closing`, leaves the link (so no new user can
//! find the queue), waits for `users` to reach zero, and only then calls
//! `qprocsoff`: after close returns, nothing touches `rq`.
//!
//! **Locks.**  `backlog` is a leaf: nothing else is taken under it, and
//! it is never held across `putnext`, `qreply` or any mac upcall.
//! `quiesce` is a leaf too, held only around its condition variable.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use illumos_sys_hdrs::queue_t;
use tuntap_abi::PacketInfo;
use tuntap_abi::batch::{self, BatchError, TunRecord, batch_flags};

use crate::ddi::{Errno, Kernel};
use crate::dlpi::filter::RxFilter;
use crate::frame;
use crate::ddi::{DropReason, Probe};
use crate::mblk::{MsgBlk, MsgBuilder, MsgQueue};
use crate::sync::{KCondvar, KMutex};

/// Default backlog bound, in packets.
pub const DEFAULT_MAX_PACKETS: u32 = 1024;
/// Default backlog bound, in bytes.
pub const DEFAULT_MAX_BYTES: u32 = 4 * 1024 * 1024;
/// Upper limits a caller may set.
pub const LIMIT_MAX_PACKETS: u32 = 65_536;
pub const LIMIT_MAX_BYTES: u32 = 256 * 1024 * 1024;

struct Backlog<K: Kernel> {
    /// Linked through `b_next`: queueing never allocates (mc_tx must
    /// not sleep).
    packets: MsgQueue<K>,
    max_packets: usize,
    max_bytes: usize,
    /// Batched reads: the most bytes one message to the reader holds.
    read_max: usize,
    draining: bool,
    again: bool,
}

/// What happened to a packet offered to a queue.
pub enum Enqueue<K: Kernel> {
    Queued,
    /// The backlog is full: the packet, unchanged.
    Full(MsgBlk<K>),
    /// The stream is closing or the packet-info header could not be
    /// added: the packet.
    Gone(MsgBlk<K>),
}

pub struct Queue<K: Kernel> {
    k: K,
    /// The stream's minor number (for probes and INFO).
    pub minor: u32,
    /// The opener's process id.
    pub pid: i32,
    /// A `/dev/tap` stream (its packet-info header names the Ethertype
    /// of an Ethernet frame rather than an IP version).
    tap: bool,
    rq: *mut queue_t,
    backlog: KMutex<K, Backlog<K>>,
    /// The reader asked for a 4-byte packet-info header on each packet.
    packet_info: AtomicBool,
    /// For an old-API DLPI stream: its bound SAP, promiscuous levels
    /// and multicast groups (what the link may pass up to it).
    dlpi_rx: RxFilter<K>,
    /// `batch_flags` in force (batched reads and writes).
    batch: AtomicU32,
    /// `offload_flags` in force, and virtio-net headers refused.
    offload: AtomicU32,
    offload_refused: AtomicU32,
    /// Batched writes refused whole, and the last one's fault and record.
    refused: AtomicU32,
    last_refusal: AtomicU64,
    tx_blocked: AtomicBool,
    /// The link this queue was attached to was deleted (see `Minor::settle`).
    evicted: AtomicBool,
    users: AtomicU32,
    closing: AtomicBool,
    quiesce: KMutex<K, ()>,
    quiesce_cv: KCondvar<K>,
}

// SAFETY: `rq` is a STREAMS queue, usable from any thread while the stream
// is open; close waits for every user (see the theory statement) before
// the queue goes away.  Everything else is Send + Sync by itself.
unsafe impl<K: Kernel> Send for Queue<K> {}
// SAFETY: as above.
unsafe impl<K: Kernel> Sync for Queue<K> {}

impl<K: Kernel> Queue<K> {
    pub fn new(k: &K, minor: u32, tap: bool, pid: i32, rq: *mut queue_t) -> Self {
        Self {
            k: k.clone(),
            minor,
            pid,
            tap,
            rq,
            backlog: KMutex::new(Backlog {
                packets: MsgQueue::new(),
                max_packets: DEFAULT_MAX_PACKETS as usize,
                max_bytes: DEFAULT_MAX_BYTES as usize,
                read_max: batch::READ_MAX_DEFAULT as usize,
                draining: false,
                again: false,
            }),
            packet_info: AtomicBool::new(false),
            dlpi_rx: RxFilter::new(),
            batch: AtomicU32::new(0),
            offload: AtomicU32::new(0),
            offload_refused: AtomicU32::new(0),
            refused: AtomicU32::new(0),
            last_refusal: AtomicU64::new(0),
            tx_blocked: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            users: AtomicU32::new(0),
            closing: AtomicBool::new(false),
            quiesce: KMutex::new(()),
            quiesce_cv: KCondvar::new(),
        }
    }

    pub fn rq(&self) -> *mut queue_t {
        self.rq
    }

    pub fn packet_info(&self) -> bool {
        self.packet_info.load(Ordering::Relaxed)
    }

    /// The link deleted itself with this queue attached.
    pub fn mark_evicted(&self) {
        self.evicted.store(true, Ordering::SeqCst);
    }

    /// Was the queue evicted since the last look?  Clears the mark.
    pub fn take_evicted(&self) -> bool {
        self.evicted.swap(false, Ordering::SeqCst)
    }

    pub fn set_packet_info(&self, on: bool) {
        self.packet_info.store(on, Ordering::Relaxed);
    }

    /// What this stream, if it speaks DLPI, receives (bound SAP,
    /// promiscuous levels, multicast groups).
    pub fn dlpi_rx(&self) -> &RxFilter<K> {
        &self.dlpi_rx
    }

    /// The Ethertype this DLPI stream is bound to, if it is one in
    /// `DL_IDLE`.
    pub fn dlpi_bound_sap(&self) -> Option<u16> {
        self.dlpi_rx.bound_sap()
    }

    pub fn set_limits(&self, max_packets: u32, max_bytes: u32) {
        let mut b = self.backlog.lock();
        b.max_packets = max_packets as usize;
        b.max_bytes = max_bytes as usize;
    }

    pub fn limits(&self) -> (u32, u32) {
        let b = self.backlog.lock();
        (b.max_packets as u32, b.max_bytes as u32)
    }

    /// Set batching (`batch_flags`) and the batched-read size.
    pub fn set_batch(&self, flags: u32, read_max: u32) {
        self.backlog.lock().read_max = read_max as usize;
        self.batch.store(flags, Ordering::Release);
    }

    /// The `batch_flags` in force and the batched-read size.
    pub fn batch(&self) -> (u32, u32) {
        let read_max = self.backlog.lock().read_max as u32;
        (self.batch.load(Ordering::Acquire), read_max)
    }

    /// `offload_flags` in force.
    pub fn offload(&self) -> u32 {
        self.offload.load(Ordering::Acquire)
    }

    pub fn set_offload(&self, flags: u32) {
        self.offload.store(flags, Ordering::Release);
    }

    pub fn vnet_hdr(&self) -> bool {
        self.offload.load(Ordering::Relaxed) & tuntap_abi::offload::offload_flags::VNET_HDR != 0
    }

    /// A writer's virtio-net header was refused.
    pub fn note_bad_vnet(&self) {
        self.offload_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn bad_vnet_headers(&self) -> u32 {
        self.offload_refused.load(Ordering::Relaxed)
    }

    pub fn batch_reads(&self) -> bool {
        self.batch.load(Ordering::Relaxed) & batch_flags::READ != 0
    }

    pub fn batch_writes(&self) -> bool {
        self.batch.load(Ordering::Relaxed) & batch_flags::WRITE != 0
    }

    /// A batched write was refused whole: count it and remember why.
    pub fn note_refused(&self, e: BatchError, record: u32) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        self.last_refusal.store(u64::from(e.code()) << 32 | u64::from(record), Ordering::Relaxed);
    }

    /// Batched writes refused, the last one's fault code and record.
    pub fn refusals(&self) -> (u32, u32, u32) {
        let last = self.last_refusal.load(Ordering::Relaxed);
        (self.refused.load(Ordering::Relaxed), (last >> 32) as u32, last as u32)
    }

    /// Backlog length in packets and bytes.
    pub fn backlog_len(&self) -> (usize, usize) {
        let b = self.backlog.lock();
        (b.packets.len(), b.packets.bytes())
    }

    // ----- users of rq (mc_tx, deletion) -----

    /// Become a user of `rq`; `false` if the stream is closing.
    pub fn enter(&self) -> bool {
        self.users.fetch_add(1, Ordering::SeqCst);
        if self.closing.load(Ordering::SeqCst) {
            self.exit();
            return false;
        }
        true
    }

    pub fn exit(&self) {
        if self.users.fetch_sub(1, Ordering::SeqCst) == 1 && self.closing.load(Ordering::SeqCst) {
            let _g = self.quiesce.lock();
            self.quiesce_cv.broadcast();
        }
    }

    /// Tell the stream above that it is unusable: `M_ERROR` with `errno`
    /// for reads and writes, unless the stream is closing.  The stream
    /// head fails its reader and writer with it (`strrput`,
    /// usr/src/uts/common/os/strsubr.c); IP pushed there takes the
    /// interface down (`ip_rput` -> `ip_rput_other`, inet/ip/ip.c).
    /// Never blocks: any context.
    pub fn send_error(&self, k: &K, errno: Errno) {
        if self.enter() {
            if let Some(mut msg) = MsgBlk::<K>::alloc_with(k, 0, &[errno as u8, errno as u8]) {
                msg.set_db_type(illumos_sys_hdrs::M_ERROR);
                // SAFETY: we are a user of rq, so the stream is open.
                unsafe { k.putnext(self.rq(), msg.into_raw()) };
            }
            self.exit();
        }
    }

    /// Refuse new users and wait for the current ones.
    pub fn quiesce(&self) {
        self.closing.store(true, Ordering::SeqCst);
        let g = self.quiesce.lock();
        drop(self.quiesce.wait_until(g, &self.quiesce_cv, |_| self.users.load(Ordering::SeqCst) == 0));
    }

    // ----- the backlog -----

    /// Offer a packet (already framed for the reader, without packet
    /// info) to the backlog and, unless another thread is draining it,
    /// drain it to the stream head.  The caller is a user of `rq`.
    ///
    /// One backlog lock finds room, queues the packet and claims the
    /// drain; when the backlog was empty the packet skips it and goes
    /// straight to `putnext`; one more lock sees the backlog empty and
    /// ends the drain.  So a packet costs two backlog locks.
    /// With `hold`, a queue whose reader takes batches only queues the
    /// packet: the caller (`mc_tx`, with a whole chain to deliver) calls
    /// [`Queue::drain`] once at the end, so the chain goes up as batches.
    pub fn deliver(&self, mut msg: MsgBlk<K>, hold: bool) -> Enqueue<K> {
        let info = self.packet_info.load(Ordering::Relaxed);
        if info {
            msg = match self.with_info(msg) {
                Ok(m) => m,
                Err(m) => return Enqueue::Gone(m),
            };
        }
        let len = msg.len();
        let direct = {
            let mut b = self.backlog.lock();
            if b.packets.len() >= b.max_packets || b.packets.bytes().saturating_add(len) > b.max_bytes {
                drop(b);
                if info {
                    // Hand it back as it came: without the header.
                    msg.unprepend(core::mem::size_of::<PacketInfo>());
                }
                return Enqueue::Full(msg);
            }
            if b.draining || (hold && self.batch_reads()) {
                // The drainer pops until the backlog is empty: it will
                // take this one too (or the holder drains later).
                b.packets.push_back(msg);
                return Enqueue::Queued;
            }
            b.draining = true;
            b.again = false;
            if b.packets.is_empty() {
                Some(msg)
            } else {
                b.packets.push_back(msg);
                None
            }
        };
        self.drain_claimed(direct);
        Enqueue::Queued
    }

    /// [`Queue::deliver`] for many packets at once (a chain from `mc_tx`
    /// bound for this one queue): one backlog lock takes as many as fit,
    /// in order, and claims the drain.  What did not fit stays in
    /// `list`, as it came.  Returns the packets and bytes taken.
    pub fn deliver_list(&self, list: &mut MsgQueue<K>) -> (usize, usize) {
        let info = self.packet_info.load(Ordering::Relaxed);
        let mut pending = list.take_all();
        let mut framed = MsgQueue::<K>::new();
        if info {
            for m in pending.by_ref() {
                match self.with_info(m) {
                    Ok(m) => framed.push_back(m),
                    // No memory for the header: it stays for mac to retry.
                    Err(m) => {
                        list.push_back(m);
                        break;
                    }
                }
            }
        } else {
            for m in pending.by_ref() {
                framed.push_back(m);
            }
        }
        let (mut n, mut bytes) = (0usize, 0usize);
        let mut direct = None;
        let claimed = {
            let mut b = self.backlog.lock();
            if framed.len() == 1 && b.packets.is_empty() && !b.draining && !self.batch_reads() {
                // One packet and nothing waiting: straight to the stream
                // head, as `deliver` does.
                if let Some(len) = framed.front_len().filter(|&l| l <= b.max_bytes) {
                    direct = framed.pop_front();
                    n = 1;
                    bytes = len;
                }
            }
            while let Some(len) = framed.front_len() {
                if b.packets.len() >= b.max_packets || b.packets.bytes().saturating_add(len) > b.max_bytes {
                    break;
                }
                if let Some(m) = framed.pop_front() {
                    b.packets.push_back(m);
                    n += 1;
                    bytes += len;
                }
            }
            let claim = n > 0 && !b.draining;
            if claim {
                b.draining = true;
                b.again = false;
            }
            claim
        };
        // Hand back what did not fit, in order, without packet info.
        let mut back = MsgQueue::<K>::new();
        for mut m in framed.take_all() {
            if info {
                m.unprepend(core::mem::size_of::<PacketInfo>());
            }
            back.push_back(m);
        }
        for m in list.take_all() {
            back.push_back(m);
        }
        for m in pending {
            back.push_back(m);
        }
        *list = back;
        if claimed {
            self.drain_claimed(direct);
        }
        (n, bytes)
    }

    /// `msg` with its packet-info header in front, or `msg` back if there
    /// was no memory for it.
    fn with_info(&self, mut msg: MsgBlk<K>) -> Result<MsgBlk<K>, MsgBlk<K>> {
        // Look past a virtio-net header, which may sit in a block of its own.
        let skip = if self.vnet_hdr() { tuntap_abi::offload::VNET_HDR_LEN } else { 0 };
        let mut head = [0u8; tuntap_abi::offload::VNET_HDR_LEN + frame::ETHER_HDR_LEN + frame::VLAN_TAG_LEN];
        let n = msg.copy_prefix(&mut head);
        let bytes = head.get(skip..n).unwrap_or(&[]);
        let proto = match self.tap {
            true => frame::parse_ether(bytes).map_or(0, |h| h.ethertype),
            false => bytes.first().and_then(|b| frame::ethertype_for_ip(*b)).unwrap_or(0),
        };
        let pi = PacketInfo { flags: 0, proto: proto.to_be_bytes() };
        if msg.prepend(&self.k, tuntap_abi::as_bytes(&pi)) { Ok(msg) } else { Err(msg) }
    }

    /// `mc_tx` found the backlog full: remember to wake mac, and make
    /// sure the service procedure runs even if the reader already caught
    /// up (otherwise nobody would call mac_tx_update).
    pub fn note_blocked(&self) {
        self.tx_blocked.store(true, Ordering::SeqCst);
        if self.enter() {
            // SAFETY: we are a user of rq, so the stream is open.
            unsafe { self.k.qenable(self.rq) };
            self.exit();
        }
    }

    /// Move packets from the backlog to the stream head while it takes
    /// them.  The caller is a user of `rq` (or its service procedure).
    pub fn drain(&self) {
        {
            let mut b = self.backlog.lock();
            if b.draining {
                b.again = true;
                return;
            }
            b.draining = true;
            b.again = false;
        }
        self.drain_claimed(None);
    }

    /// Drain as the one drainer (`draining` is ours): `first`, if given,
    /// goes before anything in the backlog (the backlog was empty when it
    /// was claimed).  Ends with `draining` cleared.
    fn drain_claimed(&self, first: Option<MsgBlk<K>>) {
        if self.batch.load(Ordering::Acquire) & batch_flags::READ != 0 {
            return self.drain_batches(first);
        }
        self.drain_single(first)
    }

    fn drain_single(&self, mut first: Option<MsgBlk<K>>) {
        loop {
            let next = match first.take() {
                Some(m) => m,
                None => {
                    let mut b = self.backlog.lock();
                    match b.packets.pop_front() {
                        Some(m) => m,
                        None => {
                            b.draining = false;
                            return;
                        }
                    }
                }
            };
            // SAFETY: the caller keeps rq open (user or service procedure).
            if unsafe { self.k.canputnext(self.rq) } {
                // SAFETY: as above; the message is owned and passed on.
                unsafe { self.k.putnext(self.rq, next.into_raw()) };
                continue;
            }
            let mut b = self.backlog.lock();
            b.packets.push_front(next);
            if b.again {
                // The service procedure ran while we drained: the stream
                // head may have room again; look once more.
                b.again = false;
                continue;
            }
            b.draining = false;
            return;
        }
    }

    /// [`Queue::drain_claimed`] for a reader of batches: each message to
    /// the stream head links as many backlog packets as fit in
    /// `read_max` bytes, each behind a [`TunRecord`] put in its headroom
    /// (see `tuntap_abi::batch`).  Packets are linked, never copied.
    fn drain_batches(&self, mut first: Option<MsgBlk<K>>) {
        const HDR: usize = batch::RECORD_HDR_LEN;
        loop {
            // SAFETY: the caller keeps rq open (user or service procedure).
            if !unsafe { self.k.canputnext(self.rq) } {
                let mut b = self.backlog.lock();
                if let Some(m) = first.take() {
                    b.packets.push_front(m);
                }
                if b.again {
                    b.again = false;
                    continue;
                }
                b.draining = false;
                return;
            }
            let mut taken = MsgQueue::<K>::new();
            {
                let mut b = self.backlog.lock();
                let mut room = b.read_max;
                if let Some(m) = first.take() {
                    room = room.saturating_sub(HDR + m.len() + batch::RECORD_ALIGN);
                    taken.push_back(m);
                }
                while let Some(len) = b.packets.front_len() {
                    let need = HDR + len + batch::RECORD_ALIGN;
                    if need > room && !taken.is_empty() {
                        break;
                    }
                    room = room.saturating_sub(need);
                    if let Some(m) = b.packets.pop_front() {
                        taken.push_back(m);
                    }
                }
                if taken.is_empty() {
                    b.draining = false;
                    return;
                }
            }
            let mut out = MsgBuilder::<K>::new();
            let mut pad = 0usize;
            for mut m in taken.take_all() {
                let len = m.len();
                let rec = TunRecord { len: len as u32, flags: 0, _pad: 0 };
                let mut prefix = [0u8; HDR + batch::RECORD_ALIGN];
                let hdr_at = pad;
                if let Some(h) = prefix.get_mut(hdr_at..hdr_at + HDR) {
                    h.copy_from_slice(tuntap_abi::as_bytes(&rec));
                }
                if !m.prepend(&self.k, prefix.get(..hdr_at + HDR).unwrap_or(&[])) {
                    // No memory for a header block: this packet is lost.
                    drop(m);
                    self.k.probe(Probe::Drop(0, DropReason::NoBuffer));
                    continue;
                }
                out.push(m);
                pad = batch::record_pad(len);
            }
            if let Some(msg) = out.finish() {
                // SAFETY: as above; the message is owned and passed on.
                unsafe { self.k.putnext(self.rq, msg.into_raw()) };
            }
        }
    }

    /// The read-side service procedure: drain, then say whether mac was
    /// held back and may resume (the backlog is below half its bounds);
    /// the caller then calls `mac_tx_update` on the link.
    #[must_use]
    pub fn service(&self) -> bool {
        self.drain();
        let below_low_water = {
            let b = self.backlog.lock();
            b.packets.len() <= b.max_packets / 2 && b.packets.bytes() <= b.max_bytes / 2
        };
        below_low_water && self.tx_blocked.swap(false, Ordering::SeqCst)
    }

    /// Free everything still in the backlog (close).
    pub fn flush(&self) {
        let packets = self.backlog.lock().packets.take_all();
        drop(packets);
    }
}
