// SPDX-License-Identifier: MPL-2.0
//! Batched writes: one message carrying several framed packets
//! (`tuntap_abi::batch`) becomes one `b_next` chain to `mac_rx`.
//!
//! # Theory statement
//!
//! The whole write is checked against the record framing first
//! ([`tuntap_abi::batch::check_records`]); a framing fault refuses all of
//! it, so nothing of a bad write reaches the stack.  Each well-framed
//! packet is then copied out of the write into a block of its own with
//! room for the link header (the write's block is one buffer for many
//! packets, and each packet travels up alone), framed exactly as a
//! one-packet write ([`Link::prepare_written`]) and, when bound for mac,
//! linked into one chain that goes up in a single `mac_rx` with no lock
//! held, in the order of the records (a large segment's pieces take its
//! place in the chain).  A packet that is not valid for the link is dropped and counted
//! on its own, as a one-packet write would be.

use tuntap_abi::batch;

use super::datapath::Prepared;
use super::{Link, Mode, Refused};
use crate::ddi::{DropReason, Kernel, Probe};
use crate::frame;
use crate::mblk::{MsgBlk, MsgQueue};

/// Headroom left in front of each packet for the link header a tun
/// write gets (Ethernet, with room for a VLAN tag).
const HEADROOM: usize = frame::ETHER_HDR_LEN + frame::VLAN_TAG_LEN;

impl<K: Kernel> Link<K> {
    /// Deliver a batched write.  `Ok(n)`: `n` packets went on (others,
    /// if any, were dropped and counted one by one).
    /// `vnet`: each packet starts with a virtio-net header; `Ok` also
    /// counts the packets dropped for a bad one.
    pub fn input_batch(&self, mut msg: MsgBlk<K>, packet_info: bool, vnet: bool) -> Result<(usize, u32), Refused> {
        if self.is_condemned() {
            self.note_batch_drop(DropReason::Closing);
            return Err(Refused::Closing);
        }
        let total = msg.len();
        if !msg.pullup(&self.k, total) {
            self.note_batch_drop(DropReason::NoBuffer);
            return Err(Refused::NoBuffer);
        }
        // With the virtio-net header a record may carry a large segment
        // (GSO), bounded like a one-packet write by the largest IP packet;
        // a plain packet over the MTU is then dropped alone.
        let largest_ip = if vnet { tuntap_abi::MTU_MAX } else { self.mtu() };
        let mut max_len = usize::try_from(largest_ip).unwrap_or(usize::MAX);
        if self.mode == Mode::Tap {
            max_len = max_len.saturating_add(HEADROOM);
        }
        if packet_info {
            max_len = max_len.saturating_add(core::mem::size_of::<tuntap_abi::PacketInfo>());
        }
        if vnet {
            max_len = max_len.saturating_add(tuntap_abi::offload::VNET_HDR_LEN);
        }
        let mut bad_vnet = 0u32;
        let buf = msg.first_block();
        if let Err((e, at)) = batch::check_records(buf, max_len) {
            self.note_batch_drop(DropReason::BadWrite);
            return Err(Refused::Framing(e, at));
        }
        let mut up = MsgQueue::<K>::new();
        let mut classes = [0u32; 3];
        let mut sent = 0usize;
        for (off, len) in batch::records(buf) {
            let Some(bytes) = buf.get(off..off + len) else { break };
            let Some(one) = MsgBlk::alloc_with(&self.k, HEADROOM, bytes) else {
                self.note_batch_drop(DropReason::NoBuffer);
                continue;
            };
            match self.prepare_written(one, packet_info, vnet) {
                Ok(Prepared::Mac(one, class)) => {
                    if let Some(c) = classes.get_mut(class as usize) {
                        *c += 1;
                    }
                    up.push_back(one);
                }
                Ok(Prepared::Segments(mut segs, class)) => {
                    // In the one chain, in the writer's order.
                    while let Some(seg) = segs.pop_front() {
                        if let Some(c) = classes.get_mut(class as usize) {
                            *c += 1;
                        }
                        up.push_back(seg);
                    }
                }
                // Old-API IP took it.
                Ok(Prepared::Plumbed) => sent += 1,
                Err(reason) => {
                    bad_vnet += u32::from(reason == DropReason::BadOffload);
                    self.note_batch_drop(reason)
                }
            }
        }
        drop(msg);
        let (n, bytes) = (up.len(), up.bytes());
        if n == 0 {
            return Ok((sent, bad_vnet));
        }
        let chain = up.take_all().into_raw();
        // SAFETY: an owned b_next chain, handed over.  If the link is
        // going the closure does not run; it holds only the raw pointer,
        // so the chain is freed below.
        match self.with_mac(|mh| unsafe { self.k.mac_rx(mh, chain) }) {
            Some(()) => {
                self.stats.received_many(n, bytes, classes);
                Ok((sent + n, bad_vnet))
            }
            None => {
                // SAFETY: the chain was not handed over; it is still ours.
                drop(unsafe { crate::mblk::MsgChain::<K>::from_raw(chain) });
                for _ in 0..n {
                    self.note_batch_drop(DropReason::Closing);
                }
                Ok((sent, bad_vnet))
            }
        }
    }

    fn note_batch_drop(&self, reason: DropReason) {
        self.stats.dropped(reason);
        self.k.probe(Probe::Drop(self.linkid, reason));
    }
}
