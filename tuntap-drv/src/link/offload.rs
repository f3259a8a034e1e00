// SPDX-License-Identifier: MPL-2.0
//! Checksum and segmentation offload (`tuntap_abi::offload`): what the
//! link advertises to mac, the virtio-net header a reader gets, and what
//! a writer's header asks for.
//!
//! # Theory statement
//!
//! **Advertising.**  The link offers `MAC_CAPAB_HCKSUM` (partial
//! checksums, `HCKSUM_INET_PARTIAL`) while every attached queue (at least
//! one) takes the virtio-net header with `CSUM`, and `MAC_CAPAB_LSO` (TCP
//! over IPv4 / IPv6) while every attached queue also takes `TSO4` /
//! `TSO6`: a packet steered to any queue can then go as IP left it.
//! Attaching, detaching or changing a queue's offload recomputes the set
//! and, when it changed, tells mac (`mac_capab_update`, which makes mac
//! ask `mc_getcapab` again); so a link with no offloading reader is
//! exactly as it was without this feature.
//!
//! **Packets in flight** when the set shrinks may still carry offload
//! metadata (`mac_capab_update` in `mac_provider.c` warns that on-the-fly
//! changes can cost packets).  A queue without the header finishes a
//! partial checksum in software; a large segment it cannot take is
//! dropped and counted.
//!
//! **The LSO structure grew** (`illumos_sys_hdrs::mac_capab_lso_v6_t`):
//! TCP/IPv6 is offered, and `lso_basic_tcp_ipv6` written, only where
//! [`Kernel::mac_lso_ipv6`] says the running mac has it; elsewhere a
//! queue's `TSO6` is accepted but the link offers LSO for IPv4 only.
//! The change was illumos 12466 "Enable IPv6 TSO Support for vioif"
//! (illumos-gate 62366fbb, committed 2020-04-08; read in the stored
//! mtelka/illumos-gate history): `mac_capab_lso_t` went from 8 to 12
//! bytes, `dld_capab_lso` (usr/src/uts/common/io/dld/dld_proto.c) keeps
//! it on its stack, and `MAC_VERSION` stayed `MAC_VERSION_V1`.  It added
//! no function or variable, so nothing of its own tells a module which
//! structure the running mac passes.  The witness is a later symbol:
//! `mac_getinfo` (illumos 15342, committed 2023-02-03, after 12466 in
//! the same history), which a kernel can only export if it was built
//! from a gate that has the 12-byte structure; the releases that predate
//! 12466 (OmniOS r151030/r151032) had reached end of life before 15342
//! existed, so no release has it backported without 12466.  The module
//! references it weakly (illumos/kernel.rs): krtld loads the module
//! without it and the word reads 0 (kobj.c `do_symbols`,
//! kobj_reloc.c `do_relocate`), and kmod-check fails a strong reference
//! (allowlist key `weak`).  Where it is absent (possibly OmniOS r151046,
//! certainly anything older than 2023) the link stays at IPv4 LSO: the
//! answer errs only towards writing less.  Not used as witnesses:
//! `mac_hcksum_clone` (illumos 12672, committed after 12466 in May 2020)
//! belongs to the "LSO and loopback MAC enhancements" OmniOS backported
//! to r151030 and backed out again (omniosorg/illumos-omnios pull 437), so
//! a pre-12466 kernel may carry it; and no symbol the module already
//! needs is younger than 2018.
//!
//! **Locks.**  `OffloadState::sync` (a leaf) orders recomputations; it
//! is dropped before `mac_capab_update`.

use core::sync::atomic::{AtomicU32, Ordering};

use illumos_sys_hdrs as sys;
use tuntap_abi::offload::{self as off, VirtioNetHdr, offload_flags};

use super::{Link, Mode};
use crate::ddi::{Hcksum, Kernel};
use crate::frame;
use crate::mblk::MsgBlk;
use crate::sync::KMutex;

/// What the link advertises (bits of `OffloadState::bits`).
pub(super) const CAP_HCKSUM: u32 = 0x1;
pub(super) const CAP_LSO4: u32 = 0x2;
pub(super) const CAP_LSO6: u32 = 0x4;

/// The largest TCP payload of one large segment we take (`lso_max`).
pub(super) const LSO_MAX: u32 = 65_535 - 40 - 60;

pub(super) struct OffloadState<K: Kernel> {
    bits: AtomicU32,
    sync: KMutex<K, ()>,
}

impl<K: Kernel> OffloadState<K> {
    pub(super) fn new() -> Self {
        Self { bits: AtomicU32::new(0), sync: KMutex::new(()) }
    }
    pub(super) fn bits(&self) -> u32 {
        self.bits.load(Ordering::Acquire)
    }
}

/// A packet's offload metadata as IP left it: checksum, LSO MSS.
pub(crate) type Meta = (Hcksum, Option<u32>);

/// Why a writer's virtio-net header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadHeader {
    Short,
    Flags,
    GsoType,
    Offsets,
}

impl<K: Kernel> Link<K> {
    /// Recompute what the link advertises from its queues; tell mac when
    /// it changed.  Call with no link lock held.
    pub fn refresh_offload(&self) {
        loop {
            let changed = {
                let _g = self.offload.sync.lock();
                let queues = self.queue_snapshot();
                let mut bits = if queues.is_empty() { 0 } else { CAP_HCKSUM | CAP_LSO4 | CAP_LSO6 };
                for q in queues.iter() {
                    let f = q.offload();
                    if f & offload_flags::CSUM == 0 {
                        bits &= !CAP_HCKSUM;
                    }
                    if f & offload_flags::TSO4 == 0 {
                        bits &= !CAP_LSO4;
                    }
                    if f & offload_flags::TSO6 == 0 {
                        bits &= !CAP_LSO6;
                    }
                }
                if bits & CAP_HCKSUM == 0 {
                    bits = 0;
                }
                if !self.k.mac_lso_ipv6() {
                    // This mac's mac_capab_lso_t has no IPv6 member.
                    bits &= !CAP_LSO6;
                }
                self.offload.bits.swap(bits, Ordering::AcqRel) != bits
            };
            if !changed {
                return;
            }
            self.with_mac(|mh| self.k.mac_capab_update(mh));
        }
    }

    /// What the link advertises now: (hcksum, lso4, lso6).
    pub fn offload_capab(&self) -> (bool, bool, bool) {
        let b = self.offload.bits();
        (b & CAP_HCKSUM != 0, b & CAP_LSO4 != 0, b & CAP_LSO6 != 0)
    }

    /// `mc_getcapab` for `MAC_CAPAB_HCKSUM` and `MAC_CAPAB_LSO`.
    ///
    /// # Safety
    /// `data` points to what `cap` asks for (`mac(9E)`: a `uint32_t` of
    /// `HCKSUM_*` flags, a `mac_capab_lso_t` of the running mac's size).
    pub unsafe fn getcapab(&self, cap: sys::mac_capab_t, data: *mut core::ffi::c_void) -> bool {
        let b = self.offload.bits();
        match cap {
            sys::MAC_CAPAB_HCKSUM if b & CAP_HCKSUM != 0 => {
                if let Some(p) = unsafe { data.cast::<u32>().as_mut() } {
                    *p = sys::HCKSUM_INET_PARTIAL;
                }
                true
            }
            sys::MAC_CAPAB_LSO if b & (CAP_LSO4 | CAP_LSO6) != 0 => {
                // The part every mac allocates (8 bytes); the IPv6 member
                // only where the running mac has it (refresh_offload never
                // sets CAP_LSO6 otherwise), see Kernel::mac_lso_ipv6.
                // SAFETY: mac passes at least a pre-TCPv6 mac_capab_lso_t.
                if let Some(lso) = unsafe { data.cast::<sys::mac_capab_lso_t>().as_mut() } {
                    lso.lso_flags = 0;
                    lso.lso_basic_tcp_ipv4.lso_max = 0;
                    if b & CAP_LSO4 != 0 {
                        lso.lso_flags |= sys::LSO_TX_BASIC_TCP_IPV4;
                        lso.lso_basic_tcp_ipv4.lso_max = LSO_MAX;
                    }
                }
                if b & CAP_LSO6 != 0 && self.k.mac_lso_ipv6() {
                    // SAFETY: this mac's structure has the IPv6 member
                    // (Kernel::mac_lso_ipv6).
                    if let Some(lso) = unsafe { data.cast::<sys::mac_capab_lso_v6_t>().as_mut() } {
                        lso.lso_flags |= sys::LSO_TX_BASIC_TCP_IPV6;
                        lso.lso_basic_tcp_ipv6.lso_max = LSO_MAX;
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// The offload metadata of a packet from the stack, read before any
    /// framing can replace its first block.
    pub(super) fn offload_meta(&self, msg: &MsgBlk<K>) -> Meta {
        // SAFETY: an owned M_DATA message from mc_tx.
        unsafe { (self.k.hcksum_get(msg.as_ptr()), self.k.lso_get(msg.as_ptr())) }
    }

    /// Make a packet framed for the reader what queue `q` takes: with a
    /// virtio-net header in front, or (a queue without one) with any
    /// partial checksum finished.  `None`: dropped and counted.
    pub(super) fn prepare_for(&self, q: &super::Queue<K>, mut msg: MsgBlk<K>, meta: Meta) -> Option<MsgBlk<K>> {
        let (h, mss) = meta;
        if q.vnet_hdr() {
            let Some(hdr) = self.vnet_header_for(&mut msg, h, mss) else {
                self.note_offload_drop(crate::ddi::DropReason::NotIp);
                return None;
            };
            if !msg.prepend(&self.k, tuntap_abi::as_bytes(&hdr)) {
                self.note_offload_drop(crate::ddi::DropReason::NoBuffer);
                return None;
            }
            return Some(msg);
        }
        if mss.is_some() {
            // A large segment sent while the link still offered LSO,
            // steered to a queue that cannot take it.
            self.note_offload_drop(crate::ddi::DropReason::NoBuffer);
            return None;
        }
        if h.flags & sys::HCK_PARTIALCKSUM != 0 {
            if !self.finish_partial(&mut msg, h) {
                self.note_offload_drop(crate::ddi::DropReason::NoBuffer);
                return None;
            }
            // SAFETY: an owned M_DATA message: the checksum is whole now.
            unsafe { self.k.hcksum_set(msg.as_ptr(), Hcksum::default()) };
        }
        Some(msg)
    }

    fn note_offload_drop(&self, reason: crate::ddi::DropReason) {
        self.stats.dropped(reason);
        self.k.probe(crate::ddi::Probe::Drop(self.linkid, reason));
    }

    /// Link-header length in front of the IP header of a packet as the
    /// reader/writer sees it.
    fn l2_len(&self, bytes: &[u8]) -> Option<usize> {
        match self.mode {
            Mode::Tun => Some(0),
            Mode::Tap => frame::parse_ether(bytes).map(|h| h.header_len),
        }
    }

    /// The virtio-net header describing `msg` (framed for the reader) from
    /// its offload metadata, or `None` when the packet cannot be described
    /// (a large segment whose headers do not parse).
    pub(crate) fn vnet_header_for(&self, msg: &mut MsgBlk<K>, h: Hcksum, mss: Option<u32>) -> Option<VirtioNetHdr> {
        if h.flags & sys::HCK_PARTIALCKSUM == 0 && mss.is_none() {
            let flags = if h.flags & sys::HCK_FULLCKSUM_OK != 0 { off::VIRTIO_NET_HDR_F_DATA_VALID } else { 0 };
            return Some(VirtioNetHdr::new(flags, off::VIRTIO_NET_HDR_GSO_NONE, 0, 0, 0, 0));
        }
        let want = msg.len().min(frame::ETHER_HDR_LEN + frame::VLAN_TAG_LEN + 60 + 60);
        if !msg.pullup(&self.k, want) {
            return None;
        }
        let bytes = msg.first_block();
        let l2 = self.l2_len(bytes)?;
        let (l3, v6) = frame::ip_header_len(bytes.get(l2..)?)?;
        let (start, offset) = if h.flags & sys::HCK_PARTIALCKSUM != 0 {
            (l2 + h.start as usize, h.stuff.checked_sub(h.start)? as usize)
        } else {
            (l2 + l3, 16) // TCP's checksum field
        };
        let Some(mss) = mss else {
            return Some(VirtioNetHdr::new(off::VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, start as u16, offset as u16));
        };
        let l4 = frame::tcp_header_len(bytes.get(l2 + l3..)?)?;
        let gso = if v6 { off::VIRTIO_NET_HDR_GSO_TCPV6 } else { off::VIRTIO_NET_HDR_GSO_TCPV4 };
        Some(VirtioNetHdr::new(
            off::VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso,
            (l2 + l3 + l4) as u16,
            u16::try_from(mss).ok()?,
            start as u16,
            offset as u16,
        ))
    }

    /// Finish a partial checksum in software (a reader without the
    /// header got a packet sent while the link still offered offload).
    pub(crate) fn finish_partial(&self, msg: &mut MsgBlk<K>, h: Hcksum) -> bool {
        let len = msg.len();
        if !msg.pullup(&self.k, len) {
            return false;
        }
        let Some(l2) = self.l2_len(msg.first_block()) else { return false };
        msg.with_bytes_mut(|b| frame::finish_checksum(b, l2 + h.start as usize, l2 + h.stuff as usize))
            .unwrap_or(false)
    }

    /// Apply a writer's virtio-net header to `msg` (the header already
    /// removed; `msg` framed for mac, its IP header after `l2` bytes):
    /// finish a checksum it asks for, vouch for one it says is valid.
    pub(crate) fn apply_written_vnet(&self, msg: &mut MsgBlk<K>, hdr: &VirtioNetHdr, l2_in: usize, l2_out: usize) -> Result<(), BadHeader> {
        let flags_ok = off::VIRTIO_NET_HDR_F_NEEDS_CSUM | off::VIRTIO_NET_HDR_F_DATA_VALID;
        if hdr.flags & !flags_ok != 0 {
            return Err(BadHeader::Flags);
        }
        if hdr.gso_type != off::VIRTIO_NET_HDR_GSO_NONE {
            // Segments get whole checksums of their own (segment.rs).
            return Err(BadHeader::GsoType);
        }
        let len = msg.len();
        if hdr.flags & off::VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 {
            // Offsets count from the packet as written; the stack's frame
            // has l2_out bytes of link header where the writer had l2_in.
            let start = (hdr.csum_start() as usize).checked_sub(l2_in).ok_or(BadHeader::Offsets)? + l2_out;
            let stuff = start + hdr.csum_offset() as usize;
            if start >= len || stuff + 2 > len || start < l2_out {
                return Err(BadHeader::Offsets);
            }
            if !msg.pullup(&self.k, len) {
                return Err(BadHeader::Short);
            }
            let done = msg.with_bytes_mut(|b| frame::finish_checksum(b, start, stuff)).unwrap_or(false);
            if !done {
                return Err(BadHeader::Offsets);
            }
        }
        if hdr.flags & (off::VIRTIO_NET_HDR_F_NEEDS_CSUM | off::VIRTIO_NET_HDR_F_DATA_VALID) != 0 {
            let v4 = msg.first_block().get(l2_out).is_some_and(|b| b >> 4 == 4);
            let flags = sys::HCK_FULLCKSUM_OK | if v4 { sys::HCK_IPV4_HDRCKSUM_OK } else { 0 };
            // SAFETY: msg is an owned M_DATA message.
            unsafe { self.k.hcksum_set(msg.as_ptr(), Hcksum { flags, ..Hcksum::default() }) };
        }
        Ok(())
    }
}
