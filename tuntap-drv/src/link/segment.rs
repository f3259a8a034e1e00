// SPDX-License-Identifier: MPL-2.0
//! Cutting a written large TCP segment (virtio-net `GSO_TCPV4`/`TCPV6`)
//! into packets of at most `gso_size` payload bytes, in software, as
//! illumos mac's own emulation does for providers without LSO
//! (`mac_hw_emul` with `MAC_LSO_EMUL`, `usr/src/uts/common/io/mac/
//! mac_util.c`, `mac_sw_lso`): every segment gets a copy of the headers
//! with the IPv4 total length, identification and header checksum (or
//! the IPv6 payload length) and the TCP sequence number fixed, FIN and
//! PSH only on the last segment and CWR only on the first, and a full
//! TCP checksum, which the driver then vouches for
//! (`HCK_FULLCKSUM_OK`).
//!
//! The frame given is the one `mac_rx` would get (link header first).
//! Refused (nothing delivered): a GSO type that does not match the IP
//! version, a packet that is not TCP, a `gso_size` of 0 or one that
//! would make a segment longer than the MTU, headers that do not parse.

use illumos_sys_hdrs as sys;
use tuntap_abi::offload::{self as off, VirtioNetHdr};

use super::offload::BadHeader;
use super::Link;
use crate::ddi::{Hcksum, Kernel};
use crate::frame;
use crate::mblk::{MsgBlk, MsgQueue};

/// TCP flag bits (RFC 9293).
const TH_FIN: u8 = 0x01;
const TH_PSH: u8 = 0x08;
const TH_CWR: u8 = 0x80;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    if let Some(f) = b.get_mut(at..at + 2) {
        f.copy_from_slice(&v.to_be_bytes());
    }
}

impl<K: Kernel> Link<K> {
    /// Cut `msg` (a frame for mac with `l2` bytes of link header) as
    /// `hdr` asks; the segments, in order.
    pub(super) fn segment(&self, msg: &mut MsgBlk<K>, hdr: &VirtioNetHdr, l2: usize) -> Result<MsgQueue<K>, BadHeader> {
        let len = msg.len();
        if !msg.pullup(&self.k, len) {
            return Err(BadHeader::Short);
        }
        let frame_bytes = msg.first_block();
        let ip = frame_bytes.get(l2..).ok_or(BadHeader::Offsets)?;
        let (l3, v6) = frame::ip_header_len(ip).ok_or(BadHeader::Offsets)?;
        let want_v6 = match hdr.gso_type & !off::VIRTIO_NET_HDR_GSO_ECN {
            off::VIRTIO_NET_HDR_GSO_TCPV4 => false,
            off::VIRTIO_NET_HDR_GSO_TCPV6 => true,
            _ => return Err(BadHeader::GsoType),
        };
        let proto = if v6 { ip.get(6) } else { ip.get(9) };
        if want_v6 != v6 || proto != Some(&6) {
            return Err(BadHeader::GsoType);
        }
        let l4 = frame::tcp_header_len(ip.get(l3..).ok_or(BadHeader::Offsets)?).ok_or(BadHeader::Offsets)?;
        let hlen = l2 + l3 + l4;
        let mss = usize::from(hdr.gso_size());
        let payload = len.checked_sub(hlen).filter(|&p| p > 0).ok_or(BadHeader::Offsets)?;
        let mtu = usize::try_from(self.mtu()).unwrap_or(usize::MAX);
        if mss == 0 || l3 + l4 + mss > mtu {
            return Err(BadHeader::Offsets);
        }
        let headers = frame_bytes.get(..hlen).ok_or(BadHeader::Offsets)?;
        let body = frame_bytes.get(hlen..).ok_or(BadHeader::Offsets)?;
        let seq0 = u32::from_be_bytes(headers.get(l2 + l3 + 4..l2 + l3 + 8).and_then(|s| s.try_into().ok()).ok_or(BadHeader::Offsets)?);
        let id0 = if v6 { 0 } else { be16(headers, l2 + 4).unwrap_or(0) };
        let flags0 = headers.get(l2 + l3 + 13).copied().unwrap_or(0);
        let n = payload.div_ceil(mss);
        let mut out = MsgQueue::<K>::new();
        for (i, chunk) in body.chunks(mss).enumerate() {
            let Some(mut seg) = MsgBlk::alloc_parts(&self.k, &[headers, chunk]) else {
                return Err(BadHeader::Short);
            };
            let seg_l4_len = l4 + chunk.len();
            let ok = seg.with_bytes_mut(|b| {
                if v6 {
                    put16(b, l2 + 4, seg_l4_len as u16);
                } else {
                    put16(b, l2 + 2, (l3 + seg_l4_len) as u16);
                    put16(b, l2 + 4, id0.wrapping_add(i as u16));
                    put16(b, l2 + 10, 0);
                    let c = !frame::ones_sum(b.get(l2..l2 + l3).unwrap_or(&[]), 0);
                    put16(b, l2 + 10, c);
                }
                let t = l2 + l3;
                let seq = seq0.wrapping_add((i * mss) as u32);
                if let Some(f) = b.get_mut(t + 4..t + 8) {
                    f.copy_from_slice(&seq.to_be_bytes());
                }
                let mut fl = flags0;
                if i + 1 < n {
                    fl &= !(TH_FIN | TH_PSH);
                }
                if i > 0 {
                    fl &= !TH_CWR;
                }
                if let Some(f) = b.get_mut(t + 13) {
                    *f = fl;
                }
                // Full TCP checksum over the pseudo-header and segment.
                put16(b, t + 16, 0);
                let addrs = if v6 { b.get(l2 + 8..l2 + 40) } else { b.get(l2 + 12..l2 + 20) };
                let pseudo = u32::from(frame::ones_sum(addrs.unwrap_or(&[]), 6 + seg_l4_len as u32));
                let c = !frame::ones_sum(b.get(t..).unwrap_or(&[]), pseudo);
                put16(b, t + 16, if c == 0 { 0xffff } else { c });
            });
            if ok.is_none() {
                return Err(BadHeader::Short);
            }
            let flags = sys::HCK_FULLCKSUM_OK | if v6 { 0 } else { sys::HCK_IPV4_HDRCKSUM_OK };
            // SAFETY: seg is an owned M_DATA message.
            unsafe { self.k.hcksum_set(seg.as_ptr(), Hcksum { flags, ..Hcksum::default() }) };
            out.push_back(seg);
        }
        Ok(out)
    }
}
