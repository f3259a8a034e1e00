// SPDX-License-Identifier: MPL-2.0
//! Linux's `struct virtio_net_hdr` on a tun opened with `IFF_VNET_HDR`:
//! parsing what the kernel hands over, cutting its TCP/UDP segmentation
//! offload packets into wire-size packets, and coalescing received TCP
//! segments into one packet the kernel segments again.
//!
//! # Theory statement
//! With `IFF_VNET_HDR` every read and write on the tun carries a 10-byte
//! header first (include/uapi/linux/virtio_net.h: flags, gso_type,
//! hdr_len, gso_size, csum_start, csum_offset; little-endian on the
//! little-endian hosts tunneld runs on, `tun_is_little_endian` in
//! drivers/net/tun.c).  After `TUNSETOFFLOAD` with `TUN_F_CSUM` and
//! `TUN_F_TSO4/6` (`TUN_F_USO4/6`), the kernel's stack hands the tun
//! packets whose transport checksum is only the pseudo-header sum
//! (`VIRTIO_NET_HDR_F_NEEDS_CSUM`: "complete the checksum from
//! csum_start, store it at csum_start + csum_offset") and TCP (UDP)
//! packets of up to 64 KB to be cut at `gso_size` payload bytes
//! (`virtio_net_hdr_from_skb`, include/linux/virtio_net.h).
//!
//! Reading: [`plan`] checks a header against the packet behind it and
//! refuses (the reader counts and drops) anything it cannot carry out
//! exactly: unknown flags or GSO types, checksum positions outside the
//! packet, GSO without a checksum request, a GSO type that does not
//! match the IP header, IPv4 fragments or options where the transport
//! header must follow, IPv6 extension headers, lengths that disagree.
//! `hdr_len` is not trusted (tun sets it to the linear part's length,
//! `tun_put_user`); the headers are measured from the packet.  A packet
//! to cut yields [`Segments`], each a complete packet with its own IP
//! length, IPv4 identification (+1 per segment) and header checksum, TCP
//! sequence number (FIN and PSH only on the last segment, CWR only on
//! the first: `tcp_gso_segment`, net/ipv4/tcp_offload.c) or UDP length,
//! and a full transport checksum, so the data channel and the peer see
//! ordinary packets: the wire format does not change and a peer without
//! offload interoperates.
//!
//! Writing: [`Coalescer`] merges consecutive TCP segments of one flow
//! (same addresses, ports, IP header fields, TCP options, ACK and
//! window; each sequence number continuing the previous; flags ACK,
//! the last one possibly ACK|PSH; each payload the first one's size,
//! the last one possibly shorter) into one packet of at most 65535
//! bytes, written with `VIRTIO_NET_HDR_GSO_TCPV4/6` and a partial
//! checksum (the pseudo-header sum, `NEEDS_CSUM` at the TCP checksum):
//! what `virtio_net_hdr_to_skb` turns into one GSO skb, which the
//! receiving stack takes whole and a forwarding one cuts at `gso_size`
//! again.  The merged segments' own TCP checksums are not checked: each
//! came in a datagram the data channel's AEAD authenticated, and the
//! sender computed them.  Everything else is written as it came, with an
//! empty header.

pub use tuntap_abi::offload::{
    VIRTIO_NET_HDR_F_DATA_VALID as F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM as F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN as GSO_ECN,
    VIRTIO_NET_HDR_GSO_NONE as GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4 as GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6 as GSO_TCPV6,
    VIRTIO_NET_HDR_GSO_UDP as GSO_UDP, VNET_HDR_LEN as HDR_LEN, VirtioNetHdr as VnetHdr,
};
/// `VIRTIO_NET_HDR_GSO_UDP_L4` (include/uapi/linux/virtio_net.h): UDP
/// segmentation offload, Linux's tun only (`TUN_F_USO4/6`).
pub const GSO_UDP_L4: u8 = 5;

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
/// TCP flags.
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
const CWR: u8 = 0x80;
/// The largest packet a merge produces (IPv4's total length field).
pub const MAX_COALESCED: usize = 65_535;

/// The header at the start of `bytes` (None: shorter than one).
pub fn parse_header(bytes: &[u8]) -> Option<VnetHdr> {
    let b: &[u8; HDR_LEN] = bytes.get(..HDR_LEN)?.try_into().ok()?;
    let le = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    Some(VnetHdr::new(b[0], b[1], le(2), le(4), le(6), le(8)))
}

/// The bytes of header `h`.
pub fn header_bytes(h: &VnetHdr) -> [u8; HDR_LEN] {
    let mut b = [0u8; HDR_LEN];
    b[0] = h.flags;
    b[1] = h.gso_type;
    for (i, v) in [(2, h.hdr_len()), (4, h.gso_size()), (6, h.csum_start()), (8, h.csum_offset())] {
        b[i..i + 2].copy_from_slice(&v.to_le_bytes());
    }
    b
}

/// Why a header from the kernel was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Fewer bytes than a header.
    Short,
    UnknownFlags(u8),
    UnknownGsoType(u8),
    /// csum_start/csum_offset point outside the packet.
    ChecksumOutside,
    /// Segmentation without `NEEDS_CSUM`, a zero `gso_size`, or a
    /// checksum position other than the transport header's.
    GsoInconsistent,
    /// The IP header is not what the GSO type needs (version, protocol,
    /// options, fragment, extension headers) or is cut short.
    IpHeader,
    /// The IP length field disagrees with the bytes read.
    Length,
    /// The transport header is cut short or there is no payload.
    Transport,
}

/// What to do with a packet read from the tun.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Carry it as it is, after completing the checksum at (start, offset).
    Whole { checksum: Option<(usize, usize)> },
    /// Cut it into segments.
    Cut(Gso),
}

/// A packet to cut, measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gso {
    pub v6: bool,
    pub udp: bool,
    pub ip_len: usize,
    pub l4_len: usize,
    pub size: usize,
}

impl Gso {
    fn headers(&self) -> usize {
        self.ip_len + self.l4_len
    }
}

fn be16(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(p.get(at..at + 2)?.try_into().ok()?))
}

fn be32(p: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?))
}

fn put16(p: &mut [u8], at: usize, v: u16) {
    if let Some(d) = p.get_mut(at..at + 2) {
        d.copy_from_slice(&v.to_be_bytes());
    }
}

/// Measure the IP header of a packet whose transport header must follow
/// it directly: (is IPv6, header length, protocol); the IP length field
/// must match `p.len()`.
fn ip_header(p: &[u8]) -> Result<(bool, usize, u8), Refused> {
    match p.first().map(|b| b >> 4) {
        Some(4) => {
            let ihl = usize::from(p.first().copied().unwrap_or(0) & 0x0f) * 4;
            if ihl != 20 || p.len() < ihl {
                return Err(Refused::IpHeader);
            }
            let frag = be16(p, 6).ok_or(Refused::IpHeader)?;
            if frag & 0x3fff != 0 {
                return Err(Refused::IpHeader);
            }
            if usize::from(be16(p, 2).ok_or(Refused::IpHeader)?) != p.len() {
                return Err(Refused::Length);
            }
            Ok((false, ihl, p.get(9).copied().unwrap_or(0)))
        }
        Some(6) => {
            if p.len() < 40 {
                return Err(Refused::IpHeader);
            }
            if usize::from(be16(p, 4).ok_or(Refused::IpHeader)?) + 40 != p.len() {
                return Err(Refused::Length);
            }
            Ok((true, 40, p.get(6).copied().unwrap_or(0)))
        }
        _ => Err(Refused::IpHeader),
    }
}

/// Check header `h` against the packet `p` behind it and say how to
/// carry it.
pub fn plan(h: &VnetHdr, p: &[u8]) -> Result<Plan, Refused> {
    if h.flags & !(F_NEEDS_CSUM | F_DATA_VALID) != 0 {
        return Err(Refused::UnknownFlags(h.flags));
    }
    let ecn = h.gso_type & GSO_ECN != 0;
    let kind = h.gso_type & !GSO_ECN;
    let needs = h.flags & F_NEEDS_CSUM != 0;
    let (start, offset) = (usize::from(h.csum_start()), usize::from(h.csum_offset()));
    if needs && start + offset + 2 > p.len() {
        return Err(Refused::ChecksumOutside);
    }
    let (udp, v6) = match (kind, ecn) {
        (GSO_NONE, false) => return Ok(Plan::Whole { checksum: needs.then_some((start, offset)) }),
        (GSO_TCPV4, _) => (false, Some(false)),
        (GSO_TCPV6, _) => (false, Some(true)),
        (GSO_UDP_L4, false) => (true, None),
        _ => return Err(Refused::UnknownGsoType(h.gso_type)),
    };
    if !needs || h.gso_size() == 0 {
        return Err(Refused::GsoInconsistent);
    }
    let (is_v6, ip_len, proto) = ip_header(p)?;
    if v6.is_some_and(|v6| v6 != is_v6) || proto != if udp { PROTO_UDP } else { PROTO_TCP } {
        return Err(Refused::IpHeader);
    }
    if start != ip_len || offset != if udp { 6 } else { 16 } {
        return Err(Refused::GsoInconsistent);
    }
    let l4_len = if udp {
        8
    } else {
        usize::from(p.get(ip_len + 12).copied().unwrap_or(0) >> 4) * 4
    };
    if l4_len < 8 || ip_len + l4_len >= p.len() {
        return Err(Refused::Transport);
    }
    if udp && usize::from(be16(p, ip_len + 4).unwrap_or(0)) != p.len() - ip_len {
        return Err(Refused::Length);
    }
    Ok(Plan::Cut(Gso { v6: is_v6, udp, ip_len, l4_len, size: usize::from(h.gso_size()) }))
}

/// The one's-complement sum of `data` as 16-bit big-endian words, added
/// to `initial`, not folded.
pub fn sum(data: &[u8], initial: u64) -> u64 {
    let mut acc = initial;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut pairs = rest.chunks_exact(2);
    for w in &mut pairs {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let Some(&b) = pairs.remainder().first() {
        acc += u64::from(b) << 8;
    }
    acc
}

/// Fold a sum to 16 bits (not complemented).
pub fn fold(mut s: u64) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The pseudo-header sum of an IP packet `p` (header `ip_len` bytes)
/// for a transport segment of `l4` bytes.
fn pseudo(p: &[u8], v6: bool, proto: u8, l4: usize) -> u64 {
    let addrs = if v6 { p.get(8..40) } else { p.get(12..20) };
    sum(addrs.unwrap_or_default(), u64::from(proto) + l4 as u64)
}

/// Complete a checksum the kernel left partial: the sum from `start`
/// (the field holds the pseudo-header sum), stored at `start + offset`.
pub fn complete_checksum(p: &mut [u8], start: usize, offset: usize) {
    let s = !fold(sum(p.get(start..).unwrap_or_default(), 0));
    put16(p, start + offset, if s == 0 { 0xffff } else { s });
}

/// Iterate the segments of packet `p` cut as `g` says.
pub struct Segments {
    g: Gso,
    /// Payload offset of the next segment.
    next: usize,
    index: u16,
}

impl Segments {
    pub fn new(g: Gso) -> Segments {
        Segments { g, next: 0, index: 0 }
    }

    /// Write the next segment of `p` into `out`: its length (None: no
    /// more, or `out` is too small for one).
    pub fn next(&mut self, p: &[u8], out: &mut [u8]) -> Option<usize> {
        let g = self.g;
        let head = g.headers();
        let payload = p.get(head..)?;
        let chunk = payload.get(self.next..)?;
        if chunk.is_empty() {
            return None;
        }
        let chunk = chunk.get(..g.size.min(chunk.len()))?;
        let last = self.next + chunk.len() == payload.len();
        let total = head + chunk.len();
        let o = out.get_mut(..total)?;
        o.get_mut(..head)?.copy_from_slice(p.get(..head)?);
        o.get_mut(head..)?.copy_from_slice(chunk);
        if g.v6 {
            put16(o, 4, (total - 40) as u16);
        } else {
            put16(o, 2, total as u16);
            put16(o, 4, be16(p, 4)?.wrapping_add(self.index));
            put16(o, 10, 0);
            put16(o, 10, !fold(sum(o.get(..g.ip_len)?, 0)));
        }
        let l4 = g.ip_len;
        let proto = if g.udp {
            put16(o, l4 + 4, (total - l4) as u16);
            PROTO_UDP
        } else {
            let seq = be32(p, l4 + 4)?.wrapping_add(self.next as u32);
            o.get_mut(l4 + 4..l4 + 8)?.copy_from_slice(&seq.to_be_bytes());
            let flags = o.get_mut(l4 + 13)?;
            if !last {
                *flags &= !(FIN | PSH);
            }
            if self.index > 0 {
                *flags &= !CWR;
            }
            PROTO_TCP
        };
        let at = l4 + if g.udp { 6 } else { 16 };
        put16(o, at, 0);
        let s = !fold(sum(o.get(l4..)?, pseudo(o, g.v6, proto, total - l4)));
        put16(o, at, if s == 0 && g.udp { 0xffff } else { s });
        self.next += chunk.len();
        self.index = self.index.wrapping_add(1);
        Some(total)
    }
}

/// TCP segments being merged for one write (see the theory statement).
pub struct Coalescer {
    buf: Vec<u8>,
    len: usize,
    /// Segments merged into `buf` (0: empty).
    segments: usize,
    v6: bool,
    ip_len: usize,
    tcp_len: usize,
    /// The first segment's payload size: every merged one but the last
    /// has it.
    size: usize,
    next_seq: u32,
    /// No more may join (PSH seen, a short segment, or full).
    closed: bool,
}

impl Default for Coalescer {
    fn default() -> Self {
        Coalescer { buf: vec![0u8; MAX_COALESCED], len: 0, segments: 0, v6: false, ip_len: 0, tcp_len: 0, size: 0, next_seq: 0, closed: false }
    }
}

/// A TCP data segment that may be merged: (is IPv6, IP header length,
/// TCP header length, payload length, flags).
fn tcp_segment(p: &[u8]) -> Option<(bool, usize, usize, usize, u8)> {
    let (v6, ip_len, proto) = ip_header(p).ok()?;
    if proto != PROTO_TCP {
        return None;
    }
    let tcp_len = usize::from(p.get(ip_len + 12)? >> 4) * 4;
    let flags = *p.get(ip_len + 13)?;
    if tcp_len < 20 || ip_len + tcp_len >= p.len() || (flags != ACK && flags != ACK | PSH) {
        return None;
    }
    Some((v6, ip_len, tcp_len, p.len() - ip_len - tcp_len, flags))
}

impl Coalescer {
    /// Segments held.
    pub fn held(&self) -> usize {
        self.segments
    }

    /// True when nothing more may join what is held.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Merge `p` into what is held, or start with it if nothing is:
    /// false if it cannot (then write what is held, and `p` itself or
    /// offer it again).
    pub fn offer(&mut self, p: &[u8]) -> bool {
        let Some((v6, ip_len, tcp_len, payload, flags)) = tcp_segment(p) else { return false };
        let Some(seq) = be32(p, ip_len + 4) else { return false };
        if self.segments == 0 {
            let Some(d) = self.buf.get_mut(..p.len()) else { return false };
            d.copy_from_slice(p);
            (self.len, self.segments, self.v6, self.ip_len, self.tcp_len, self.size) = (p.len(), 1, v6, ip_len, tcp_len, payload);
            self.next_seq = seq.wrapping_add(payload as u32);
            self.closed = flags & PSH != 0;
            return true;
        }
        let head = ip_len + tcp_len;
        let held = self.buf.get(..head).unwrap_or_default();
        let same = |r: std::ops::Range<usize>| held.get(r.clone()).is_some_and(|h| Some(h) == p.get(r));
        let ip_same = if v6 { same(0..4) && same(6..40) } else { same(0..2) && same(6..10) && same(12..20) };
        let tcp = ip_len;
        if self.closed
            || v6 != self.v6
            || ip_len != self.ip_len
            || tcp_len != self.tcp_len
            || !ip_same
            || !same(tcp..tcp + 4)
            || !same(tcp + 8..tcp + 12)
            || !same(tcp + 14..tcp + 16)
            || !same(tcp + 20..head)
            || seq != self.next_seq
            || payload > self.size
            || self.len + payload > MAX_COALESCED
        {
            return false;
        }
        let (Some(d), Some(s)) = (self.buf.get_mut(self.len..self.len + payload), p.get(head..)) else { return false };
        d.copy_from_slice(s);
        self.len += payload;
        self.segments += 1;
        self.next_seq = seq.wrapping_add(payload as u32);
        if flags & PSH != 0 {
            if let Some(f) = self.buf.get_mut(tcp + 13) {
                *f |= PSH;
            }
        }
        self.closed = flags & PSH != 0 || payload < self.size || self.len + self.size > MAX_COALESCED;
        true
    }

    /// Take what is held: the header to write it with and the packet.
    /// One segment goes out as it came (empty header); several as one
    /// packet for the kernel to segment.
    pub fn take(&mut self) -> Option<(VnetHdr, &[u8])> {
        let n = std::mem::take(&mut self.segments);
        self.closed = false;
        if n == 0 {
            return None;
        }
        let len = self.len;
        let p = self.buf.get_mut(..len)?;
        if n == 1 {
            return Some((VnetHdr::default(), p));
        }
        let (v6, ip_len) = (self.v6, self.ip_len);
        if v6 {
            put16(p, 4, (len - 40) as u16);
        } else {
            put16(p, 2, len as u16);
            put16(p, 10, 0);
            put16(p, 10, !fold(sum(p.get(..ip_len)?, 0)));
        }
        put16(p, ip_len + 16, fold(pseudo(p, v6, PROTO_TCP, len - ip_len)));
        let h = VnetHdr::new(
            F_NEEDS_CSUM,
            if v6 { GSO_TCPV6 } else { GSO_TCPV4 },
            (ip_len + self.tcp_len) as u16,
            self.size as u16,
            ip_len as u16,
            16,
        );
        Some((h, p))
    }
}

#[cfg(test)]
#[path = "vnet_tests.rs"]
mod tests;
