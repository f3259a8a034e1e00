// SPDX-License-Identifier: MPL-2.0
//! Packet framing for tun and tap links: Ethernet headers, write
//! validation, the tun link's built-in address resolver, and flow hashing.
//!
//! Theory statement.  Every function here is a pure function of its
//! arguments: no locks, no global state, no allocation, no kernel services,
//! and no dependency on any other driver module, so the same code runs in
//! the kernel, the simulator and the fuzzers.  All input is hostile (it
//! comes from applications writing to `/dev/tun`/`/dev/tap` and from the
//! network through IP), so:
//!
//! * every read is a bounds-checked `get` through [`field`]/[`byte`]/
//!   [`be16`]; a read past the end yields `None`, and the function answers
//!   "not valid" / "not for us", never panics;
//! * every offset computation is `checked_*` (or wrapping where the
//!   arithmetic is modular by design: checksums, hashes);
//! * every write goes through [`Writer`], which refuses to write past the
//!   end of its buffer;
//! * work is bounded by the input length (option and extension-header
//!   walks consume at least 8 bytes per step or have a fixed step limit).
//!
//! Conventions:
//!
//! * A tun write is one IP packet with no link header; a tap write is one
//!   Ethernet frame.  [`check_tun_packet`] and [`check_tap_frame`] decide
//!   whether a write is acceptable; each [`WriteError`] maps to one counter.
//!   Bytes after the end of the IP datagram (its total/payload length) are
//!   allowed on tun writes: they are link padding, and IP trims them.
//! * A tun link is an Ethernet link to mac (mac classifies IP flows only on
//!   links whose SAP is an Ethertype), but there is no Ethernet behind it:
//!   the driver itself plays the point-to-point peer, answering ARP
//!   requests and IPv6 Neighbour Solicitations with a fixed per-link peer
//!   MAC ([`answer_resolver`]), and strips the Ethernet header from IP
//!   frames going to a tun reader ([`tun_payload_offset`]).
//! * The resolver answers only untagged frames: IP does not VLAN-tag on a
//!   tun link, and a tagged Neighbour Advertisement would not fit in
//!   [`RESOLVER_REPLY_MAX`].
//! * [`flow_hash`] is a deterministic, unkeyed hash used only to steer
//!   packets of one flow to one queue; it is not a security boundary.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

// ===== constants =====

/// Length of an Ethernet address.
pub const ETHER_ADDR_LEN: usize = 6;
/// Length of an untagged Ethernet header: dst, src, Ethertype.
pub const ETHER_HDR_LEN: usize = 14;
/// Length of an IEEE 802.1Q tag: TPID 0x8100 and the TCI.
pub const VLAN_TAG_LEN: usize = 4;
/// Length of a VLAN-tagged Ethernet header.
pub const ETHER_VLAN_HDR_LEN: usize = ETHER_HDR_LEN + VLAN_TAG_LEN;

/// Ethertype of IPv4.
pub const ETHERTYPE_IP: u16 = 0x0800;
/// Ethertype of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// Ethertype of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Tag protocol identifier of an IEEE 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;

/// Room for the largest frame [`answer_resolver`] builds: an ARP reply is
/// 14 + 28 = 42 bytes; a Neighbour Advertisement with a Target Link-Layer
/// Address option is 14 + 40 + 32 = 86 bytes.
pub const RESOLVER_REPLY_MAX: usize = 86;

/// Length of an ARP reply frame for Ethernet/IPv4 (no padding: mac pads
/// short frames on real wires, and this one never leaves the host).
pub const ARP_REPLY_LEN: usize = ETHER_HDR_LEN + ARP_LEN;
/// Length of the Neighbour Advertisement frame [`answer_resolver`] builds.
pub const NA_REPLY_LEN: usize = ETHER_HDR_LEN + IPV6_HDR_LEN + NA_LEN;

/// Minimum IPv4 header.
pub const IPV4_MIN_HDR_LEN: usize = 20;
/// Fixed IPv6 header.
pub const IPV6_HDR_LEN: usize = 40;

/// An Ethernet (MAC-48) address.
pub type MacAddr = [u8; ETHER_ADDR_LEN];

/// The broadcast address.
pub const BROADCAST: MacAddr = [0xff; ETHER_ADDR_LEN];

// ARP for Ethernet/IPv4 (RFC 826).
const ARP_LEN: usize = 28;
const ARP_HTYPE_ETHER: u16 = 1;
const ARP_OP_REQUEST: u16 = 1;
const ARP_OP_REPLY: u16 = 2;
const ARP_OFF_HTYPE: usize = 0;
const ARP_OFF_PTYPE: usize = 2;
const ARP_OFF_HLEN: usize = 4;
const ARP_OFF_PLEN: usize = 5;
const ARP_OFF_OP: usize = 6;
const ARP_OFF_SHA: usize = 8;
const ARP_OFF_SPA: usize = 14;
const ARP_OFF_TPA: usize = 24;

// IPv4 (RFC 791).
const IPV4_OFF_TOTAL_LEN: usize = 2;
const IPV4_OFF_FRAG: usize = 6;
const IPV4_OFF_PROTO: usize = 9;
const IPV4_OFF_SRC: usize = 12;
const IPV4_OFF_DST: usize = 16;
/// More-fragments flag and fragment offset: non-zero in every fragment.
const IPV4_FRAG_MASK: u16 = 0x3fff;

// IPv6 (RFC 8200).
const IPV6_OFF_PLEN: usize = 4;
const IPV6_OFF_NEXT: usize = 6;
const IPV6_OFF_HOPS: usize = 7;
const IPV6_OFF_SRC: usize = 8;
const IPV6_OFF_DST: usize = 24;
const IPV6_UNSPECIFIED: [u8; 16] = [0; 16];

// IP protocol numbers.
const IPPROTO_HOPOPTS: u8 = 0;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ROUTING: u8 = 43;
const IPPROTO_FRAGMENT: u8 = 44;
const IPPROTO_AH: u8 = 51;
const IPPROTO_ICMPV6: u8 = 58;
const IPPROTO_DSTOPTS: u8 = 60;
const IPPROTO_SCTP: u8 = 132;

/// Most IPv6 extension headers [`flow_hash`] walks before giving up on
/// finding ports.
const IPV6_MAX_EXT_HEADERS: usize = 8;

// Neighbour Discovery (RFC 4861).
const ND_HOP_LIMIT: u8 = 255;
const ICMPV6_NS: u8 = 135;
const ICMPV6_NA: u8 = 136;
/// type, code, checksum, reserved, target.
const NS_MIN_LEN: usize = 24;
const ND_OFF_TARGET: usize = 8;
const ND_OFF_OPTIONS: usize = 24;
const ND_OPT_SOURCE_LLA: u8 = 1;
const ND_OPT_TARGET_LLA: u8 = 2;
/// Solicited | Override.
const NA_FLAGS: u32 = 0x6000_0000;
/// NA header (24) and one Target Link-Layer Address option (8).
const NA_LEN: usize = 32;
/// Offset of the ICMPv6 checksum within the ICMPv6 message.
const ICMP_OFF_CKSUM: usize = 2;

// ===== bounds-checked reading and writing =====

/// `N` bytes of `buf` at `off`, or `None` if they are not all there.
fn field<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    buf.get(off..end)?.try_into().ok()
}

/// The byte at `off`.
fn byte(buf: &[u8], off: usize) -> Option<u8> {
    buf.get(off).copied()
}

/// The big-endian `u16` at `off`.
fn be16(buf: &[u8], off: usize) -> Option<u16> {
    field::<2>(buf, off).map(u16::from_be_bytes)
}

/// A cursor that appends to a buffer and refuses to run past its end.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn put(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(bytes.len())?;
        self.buf.get_mut(self.pos..end)?.copy_from_slice(bytes);
        self.pos = end;
        Some(())
    }
}

/// `mtu` as a `usize`, saturating on (hypothetical) 16-bit targets.
fn mtu_len(mtu: u32) -> usize {
    usize::try_from(mtu).unwrap_or(usize::MAX)
}

/// The leading bytes the caller pulled up, never more than the packet.
fn clamp(first: &[u8], len: usize) -> &[u8] {
    first.get(..len).unwrap_or(first)
}

// ===== Ethernet =====

/// A parsed Ethernet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EtherHeader {
    pub dst: MacAddr,
    pub src: MacAddr,
    /// The Ethertype of the payload: the inner one if VLAN-tagged.
    pub ethertype: u16,
    /// The 802.1Q tag control information, if tagged.
    pub vlan: Option<u16>,
    /// Bytes before the payload: [`ETHER_HDR_LEN`] or
    /// [`ETHER_VLAN_HDR_LEN`].
    pub header_len: usize,
}

/// Parse the Ethernet header at the front of `frame`; `None` if `frame` is
/// shorter than the header it announces (14 bytes, 18 if tagged).  One
/// 802.1Q tag is understood; a second tag shows as Ethertype 0x8100.
pub fn parse_ether(frame: &[u8]) -> Option<EtherHeader> {
    let dst = field::<ETHER_ADDR_LEN>(frame, 0)?;
    let src = field::<ETHER_ADDR_LEN>(frame, ETHER_ADDR_LEN)?;
    let outer = be16(frame, 12)?;
    if outer == ETHERTYPE_VLAN {
        let tci = be16(frame, ETHER_HDR_LEN)?;
        let inner = be16(frame, ETHER_HDR_LEN.checked_add(2)?)?;
        Some(EtherHeader { dst, src, ethertype: inner, vlan: Some(tci), header_len: ETHER_VLAN_HDR_LEN })
    } else {
        Some(EtherHeader { dst, src, ethertype: outer, vlan: None, header_len: ETHER_HDR_LEN })
    }
}

/// An untagged Ethernet header.
pub fn ether_header(dst: &MacAddr, src: &MacAddr, ethertype: u16) -> [u8; ETHER_HDR_LEN] {
    let [d0, d1, d2, d3, d4, d5] = *dst;
    let [s0, s1, s2, s3, s4, s5] = *src;
    let [t0, t1] = ethertype.to_be_bytes();
    [d0, d1, d2, d3, d4, d5, s0, s1, s2, s3, s4, s5, t0, t1]
}

/// What kind of destination an Ethernet address is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrClass {
    Unicast,
    Multicast,
    Broadcast,
}

/// Classify a destination address (broadcast is also a group address; it
/// is reported as `Broadcast`, not `Multicast`, as mac's counters want).
pub fn classify(dst: &MacAddr) -> AddrClass {
    let [first, ..] = *dst;
    if *dst == BROADCAST {
        AddrClass::Broadcast
    } else if first & 0x01 != 0 {
        AddrClass::Multicast
    } else {
        AddrClass::Unicast
    }
}

/// A random locally administered unicast address: the I/G bit (bit 0 of
/// byte 0) cleared, the U/L bit (bit 1) set.  Never all-zero, because the
/// U/L bit is set.
pub fn local_unicast_mac(random: [u8; 6]) -> MacAddr {
    let [b0, b1, b2, b3, b4, b5] = random;
    [(b0 | 0x02) & !0x01, b1, b2, b3, b4, b5]
}

/// Usable as a station address: not a group address, not all-zero.
pub fn is_valid_unicast(mac: &MacAddr) -> bool {
    let [first, ..] = *mac;
    first & 0x01 == 0 && *mac != [0; ETHER_ADDR_LEN]
}

// ===== write validation =====

/// Errors for packets an application writes.  Each maps to one counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// A zero-length write.
    Empty,
    /// Shorter than the header it needs or announces (an IP header, its
    /// IHL, its total/payload length; an Ethernet header).
    TooShort,
    /// Longer than the link allows.
    TooLong { len: usize, max: usize },
    /// tun: the version nibble is neither 4 nor 6.
    BadVersion(u8),
    /// Header fields contradict each other (IPv4 IHL < 5, total length
    /// shorter than the header).
    BadHeader,
}

/// The Ethertype for an IP packet, by its version nibble.
pub fn ethertype_for_ip(first_byte: u8) -> Option<u16> {
    match first_byte >> 4 {
        4 => Some(ETHERTYPE_IP),
        6 => Some(ETHERTYPE_IPV6),
        _ => None,
    }
}

/// Validate a tun write: one IP packet of `len` bytes whose first bytes
/// (at least `min(len, 40)` of them, pulled up by the caller) are `first`.
/// On success, the Ethertype to frame it with.
///
/// Accepted: IPv4 with version 4, IHL >= 5, IHL*4 <= len and
/// IHL*4 <= total length <= len; IPv6 with version 6, len >= 40 and
/// 40 + payload length <= len; and len <= `mtu`.  Bytes after the end of
/// the datagram are allowed (link padding; IP trims them).  IPv4 header
/// checksums and options are left to IP, which checks them anyway.
pub fn check_tun_packet(first: &[u8], len: usize, mtu: u32) -> Result<u16, WriteError> {
    if len == 0 {
        return Err(WriteError::Empty);
    }
    let max = mtu_len(mtu);
    if len > max {
        return Err(WriteError::TooLong { len, max });
    }
    let first = clamp(first, len);
    let vhl = byte(first, 0).ok_or(WriteError::TooShort)?;
    match ethertype_for_ip(vhl) {
        Some(ETHERTYPE_IP) => {
            if len < IPV4_MIN_HDR_LEN {
                return Err(WriteError::TooShort);
            }
            let ihl = usize::from(vhl & 0x0f);
            if ihl < 5 {
                return Err(WriteError::BadHeader);
            }
            let header_len = ihl.checked_mul(4).ok_or(WriteError::BadHeader)?;
            if header_len > len {
                return Err(WriteError::TooShort);
            }
            let total = usize::from(be16(first, IPV4_OFF_TOTAL_LEN).ok_or(WriteError::TooShort)?);
            if total < header_len {
                return Err(WriteError::BadHeader);
            }
            if total > len {
                return Err(WriteError::TooShort);
            }
            Ok(ETHERTYPE_IP)
        }
        Some(ETHERTYPE_IPV6) => {
            if len < IPV6_HDR_LEN {
                return Err(WriteError::TooShort);
            }
            let payload = usize::from(be16(first, IPV6_OFF_PLEN).ok_or(WriteError::TooShort)?);
            let total = IPV6_HDR_LEN.checked_add(payload).ok_or(WriteError::TooShort)?;
            if total > len {
                return Err(WriteError::TooShort);
            }
            Ok(ETHERTYPE_IPV6)
        }
        _ => Err(WriteError::BadVersion(vhl >> 4)),
    }
}

/// Validate a tap write: one Ethernet frame of `len` bytes whose first
/// bytes (at least `min(len, 18)` of them) are `first`.  It must hold a
/// whole Ethernet header (14 bytes; 18 if VLAN-tagged) and carry at most
/// `mtu` bytes of payload (so at most `mtu` + 14, or + 18 if tagged).
pub fn check_tap_frame(first: &[u8], len: usize, mtu: u32) -> Result<(), WriteError> {
    if len == 0 {
        return Err(WriteError::Empty);
    }
    let header = parse_ether(clamp(first, len)).ok_or(WriteError::TooShort)?;
    let max = mtu_len(mtu).saturating_add(header.header_len);
    if len > max {
        return Err(WriteError::TooLong { len, max });
    }
    Ok(())
}

// ===== the tun link's point-to-point peer =====

/// If `frame` is an IP frame as IP sends it on a tun link (IPv4 or IPv6
/// Ethertype, optionally VLAN-tagged, non-empty payload), the number of
/// link-header bytes to strip before handing it to a tun reader.  ARP and
/// every other Ethertype give `None` (the caller answers or drops them).
pub fn tun_payload_offset(frame: &[u8]) -> Option<usize> {
    let header = parse_ether(frame)?;
    match header.ethertype {
        ETHERTYPE_IP | ETHERTYPE_IPV6 if frame.len() > header.header_len => Some(header.header_len),
        _ => None,
    }
}

/// Answer address resolution for a tun link's point-to-point peer.
///
/// `frame` is a whole frame IP sent on the tun link (pulled up).  If it is
/// an ARP request or an IPv6 Neighbour Solicitation that the peer must
/// answer, the reply (an ARP reply, or a Neighbour Advertisement with a
/// Target Link-Layer Address option) is written to the front of `out`, with
/// `peer_mac` as the answering address, and its length returned.  `None`
/// for anything else, including gratuitous ARP, DAD probes, malformed or
/// truncated requests, bad ICMPv6 checksums, VLAN-tagged frames, and
/// requests whose reply would go to a group or all-zero address.
pub fn answer_resolver(
    frame: &[u8],
    peer_mac: &MacAddr,
    out: &mut [u8; RESOLVER_REPLY_MAX],
) -> Option<usize> {
    let header = parse_ether(frame)?;
    if header.vlan.is_some() {
        return None;
    }
    let payload = frame.get(header.header_len..)?;
    match header.ethertype {
        ETHERTYPE_ARP => answer_arp(payload, peer_mac, out),
        ETHERTYPE_IPV6 => answer_neighbour_solicitation(&header, payload, peer_mac, out),
        _ => None,
    }
}

/// ARP (RFC 826): answer a request for any address with the peer's MAC,
/// except gratuitous ARP (sender address == target address) and DAD probes
/// (RFC 5227: sender address 0.0.0.0), which ask nobody.
fn answer_arp(arp: &[u8], peer_mac: &MacAddr, out: &mut [u8]) -> Option<usize> {
    if be16(arp, ARP_OFF_HTYPE)? != ARP_HTYPE_ETHER
        || be16(arp, ARP_OFF_PTYPE)? != ETHERTYPE_IP
        || usize::from(byte(arp, ARP_OFF_HLEN)?) != ETHER_ADDR_LEN
        || byte(arp, ARP_OFF_PLEN)? != 4
        || be16(arp, ARP_OFF_OP)? != ARP_OP_REQUEST
    {
        return None;
    }
    let sha = field::<ETHER_ADDR_LEN>(arp, ARP_OFF_SHA)?;
    let spa = field::<4>(arp, ARP_OFF_SPA)?;
    let tpa = field::<4>(arp, ARP_OFF_TPA)?;
    if spa == [0; 4] || spa == tpa || !is_valid_unicast(&sha) {
        return None;
    }
    let mut w = Writer::new(out);
    w.put(&ether_header(&sha, peer_mac, ETHERTYPE_ARP))?;
    w.put(&ARP_HTYPE_ETHER.to_be_bytes())?;
    w.put(&ETHERTYPE_IP.to_be_bytes())?;
    w.put(&[6, 4])?;
    w.put(&ARP_OP_REPLY.to_be_bytes())?;
    w.put(peer_mac)?;
    w.put(&tpa)?;
    w.put(&sha)?;
    w.put(&spa)?;
    Some(w.pos)
}

/// Neighbour Discovery (RFC 4861 §7.1.1, §7.2.4): validate a Neighbour
/// Solicitation and answer it with a solicited Neighbour Advertisement for
/// its target, from the peer.
fn answer_neighbour_solicitation(
    ether: &EtherHeader,
    ip: &[u8],
    peer_mac: &MacAddr,
    out: &mut [u8],
) -> Option<usize> {
    let version = byte(ip, 0)? >> 4;
    let next_header = byte(ip, IPV6_OFF_NEXT)?;
    let hop_limit = byte(ip, IPV6_OFF_HOPS)?;
    // RFC 4861 §7.1.1: ND from off-link (hop limit < 255) is forged.
    if version != 6 || next_header != IPPROTO_ICMPV6 || hop_limit != ND_HOP_LIMIT {
        return None;
    }
    let payload_len = usize::from(be16(ip, IPV6_OFF_PLEN)?);
    let src = field::<16>(ip, IPV6_OFF_SRC)?;
    let dst = field::<16>(ip, IPV6_OFF_DST)?;
    let icmp_end = IPV6_HDR_LEN.checked_add(payload_len)?;
    let icmp = ip.get(IPV6_HDR_LEN..icmp_end)?;
    if icmp.len() < NS_MIN_LEN || byte(icmp, 0)? != ICMPV6_NS || byte(icmp, 1)? != 0 {
        return None;
    }
    if icmpv6_checksum(&src, &dst, icmp)? != 0xffff {
        return None;
    }
    let target = field::<16>(icmp, ND_OFF_TARGET)?;
    let [target_first, ..] = target;
    // DAD (source ::) asks whether anyone has the address: nobody must
    // answer, or the address is refused.  A multicast target is invalid;
    // a node asking for its own address is not asking the peer.
    if src == IPV6_UNSPECIFIED || target_first == 0xff || target == src {
        return None;
    }
    let source_lla = ns_source_lla(icmp.get(ND_OFF_OPTIONS..)?)?;
    let reply_to = source_lla.unwrap_or(ether.src);
    if !is_valid_unicast(&reply_to) {
        return None;
    }

    let mut w = Writer::new(out);
    w.put(&ether_header(&reply_to, peer_mac, ETHERTYPE_IPV6))?;
    w.put(&[0x60, 0, 0, 0])?;
    w.put(&u16::try_from(NA_LEN).ok()?.to_be_bytes())?;
    w.put(&[IPPROTO_ICMPV6, ND_HOP_LIMIT])?;
    w.put(&target)?;
    w.put(&src)?;
    let icmp_start = w.pos;
    w.put(&[ICMPV6_NA, 0, 0, 0])?;
    w.put(&NA_FLAGS.to_be_bytes())?;
    w.put(&target)?;
    w.put(&[ND_OPT_TARGET_LLA, 1])?;
    w.put(peer_mac)?;
    let end = w.pos;

    let sum = icmpv6_checksum(&target, &src, out.get(icmp_start..end)?)?;
    let cksum_at = icmp_start.checked_add(ICMP_OFF_CKSUM)?;
    let cksum_end = cksum_at.checked_add(2)?;
    out.get_mut(cksum_at..cksum_end)?.copy_from_slice(&(!sum).to_be_bytes());
    Some(end)
}

/// Walk Neighbour Discovery options.  `None` if they are malformed (an
/// option of length 0 or running past the message: RFC 4861 says discard
/// the packet); otherwise the Source Link-Layer Address, if one is given
/// with the Ethernet length (1 unit of 8 bytes).
fn ns_source_lla(mut options: &[u8]) -> Option<Option<MacAddr>> {
    let mut found = None;
    // Each step consumes at least 8 bytes, so this ends.
    while !options.is_empty() {
        let kind = byte(options, 0)?;
        let units = byte(options, 1)?;
        if units == 0 {
            return None;
        }
        let len = usize::from(units).checked_mul(8)?;
        let option = options.get(..len)?;
        if kind == ND_OPT_SOURCE_LLA && units == 1 && found.is_none() {
            found = Some(field::<ETHER_ADDR_LEN>(option, 2)?);
        }
        options = options.get(len..)?;
    }
    Some(found)
}

/// Add `data` as big-endian 16-bit words (odd tail padded with zero) to a
/// one's-complement accumulator.
fn ones_complement_add(mut acc: u64, data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(2);
    for word in &mut words {
        if let [hi, lo] = *word {
            acc = acc.wrapping_add(u64::from(u16::from_be_bytes([hi, lo])));
        }
    }
    if let [hi] = *words.remainder() {
        acc = acc.wrapping_add(u64::from(u16::from_be_bytes([hi, 0])));
    }
    acc
}

/// Fold a one's-complement accumulator to 16 bits.
fn ones_complement_fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff).wrapping_add(acc >> 16);
    }
    u16::try_from(acc).unwrap_or(0xffff)
}

/// The folded one's-complement sum of the IPv6 pseudo-header (RFC 8200
/// §8.1) and the ICMPv6 message `icmp`.  A received message is intact when
/// this is 0xffff; a sender stores its complement (computed with the
/// checksum field zero).
fn icmpv6_checksum(src: &[u8; 16], dst: &[u8; 16], icmp: &[u8]) -> Option<u16> {
    let upper_len = u32::try_from(icmp.len()).ok()?;
    let mut acc = ones_complement_add(0, src);
    acc = ones_complement_add(acc, dst);
    acc = ones_complement_add(acc, &upper_len.to_be_bytes());
    acc = ones_complement_add(acc, &[0, 0, 0, IPPROTO_ICMPV6]);
    acc = ones_complement_add(acc, icmp);
    Some(ones_complement_fold(acc))
}

// ===== flow hashing =====

/// What identifies a flow.  All-zero when the packet is too short or not
/// IP, so such packets all hash alike.
#[derive(Default)]
struct FlowKey {
    src: [u8; 16],
    dst: [u8; 16],
    protocol: u8,
    ports: Option<[u8; 4]>,
}

/// Does this protocol put 16-bit source and destination ports first?
fn has_ports(protocol: u8) -> bool {
    matches!(protocol, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP)
}

fn ipv4_flow_key(ip: &[u8]) -> Option<FlowKey> {
    let vhl = byte(ip, 0)?;
    if vhl >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(vhl & 0x0f).checked_mul(4)?;
    if header_len < IPV4_MIN_HDR_LEN {
        return None;
    }
    let mut key = FlowKey { protocol: byte(ip, IPV4_OFF_PROTO)?, ..FlowKey::default() };
    key.src.get_mut(..4)?.copy_from_slice(&field::<4>(ip, IPV4_OFF_SRC)?);
    key.dst.get_mut(..4)?.copy_from_slice(&field::<4>(ip, IPV4_OFF_DST)?);
    let fragment = be16(ip, IPV4_OFF_FRAG)? & IPV4_FRAG_MASK != 0;
    if has_ports(key.protocol) && !fragment {
        key.ports = field::<4>(ip, header_len);
    }
    Some(key)
}

fn ipv6_flow_key(ip: &[u8]) -> Option<FlowKey> {
    if byte(ip, 0)? >> 4 != 6 {
        return None;
    }
    let mut key = FlowKey {
        src: field::<16>(ip, IPV6_OFF_SRC)?,
        dst: field::<16>(ip, IPV6_OFF_DST)?,
        protocol: byte(ip, IPV6_OFF_NEXT)?,
        ports: None,
    };
    // Walk extension headers to the upper-layer header.  If the chain is
    // truncated, too long or fragmented, the flow is the addresses and the
    // last protocol seen.
    let mut offset = IPV6_HDR_LEN;
    for _ in 0..IPV6_MAX_EXT_HEADERS {
        let header_len = match key.protocol {
            IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS => {
                let units = usize::from(byte(ip, offset.checked_add(1)?)?);
                units.checked_add(1)?.checked_mul(8)?
            }
            IPPROTO_AH => {
                let units = usize::from(byte(ip, offset.checked_add(1)?)?);
                units.checked_add(2)?.checked_mul(4)?
            }
            IPPROTO_FRAGMENT => {
                let Some(next) = byte(ip, offset) else { return Some(key) };
                key.protocol = next;
                // Every fragment, first or not, goes without ports, so
                // all fragments of one datagram hash alike.
                return Some(key);
            }
            protocol => {
                if has_ports(protocol) {
                    key.ports = field::<4>(ip, offset);
                }
                return Some(key);
            }
        };
        let Some(next) = byte(ip, offset) else { return Some(key) };
        key.protocol = next;
        offset = offset.checked_add(header_len)?;
    }
    Some(key)
}

/// FNV-1a over `bytes`, continuing from `hash`.
fn fnv1a(mut hash: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        hash = (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193);
    }
    hash
}

/// MurmurHash3's finaliser: spreads every input bit over the result, so
/// that `hash % queues` is balanced.
fn avalanche(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// The flow hash of an IP packet with no link header, `ethertype` telling
/// IPv4 from IPv6: its addresses and protocol, and its TCP/UDP/SCTP ports
/// when they are present.  Ports are left out of every fragment (first or
/// not) so that all fragments of a datagram steer to the same queue.
/// Packets too short to carry addresses, and non-IP packets, all get one
/// fixed value.  Deterministic and unkeyed.
pub fn flow_hash(ethertype: u16, ip: &[u8]) -> u32 {
    let key = match ethertype {
        ETHERTYPE_IP => ipv4_flow_key(ip),
        ETHERTYPE_IPV6 => ipv6_flow_key(ip),
        _ => None,
    }
    .unwrap_or_default();
    let mut hash = 0x811c_9dc5;
    hash = fnv1a(hash, &key.src);
    hash = fnv1a(hash, &key.dst);
    hash = fnv1a(hash, &[key.protocol]);
    if let Some(ports) = key.ports {
        hash = fnv1a(hash, &ports);
    }
    avalanche(hash)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const PEER: MacAddr = [0x02, 0x70, 0x65, 0x65, 0x72, 0x01];
    const HOST: MacAddr = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
    const OTHER: MacAddr = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];

    // ----- independent helpers -----

    /// RFC 1071 checksum, written differently from the driver's: 32-bit
    /// accumulator folded after every addition.
    fn rfc1071(chunks: &[&[u8]]) -> u16 {
        let mut all = Vec::new();
        for c in chunks {
            all.extend_from_slice(c);
        }
        if all.len() % 2 == 1 {
            all.push(0);
        }
        let mut sum: u32 = 0;
        let mut i = 0;
        while i < all.len() {
            sum += (u32::from(all[i]) << 8) | u32::from(all[i + 1]);
            sum = (sum & 0xffff) + (sum >> 16);
            i += 2;
        }
        !(sum as u16)
    }

    /// Is the ICMPv6 checksum of this IPv6 packet (no link header) right?
    fn icmpv6_ok(ip: &[u8]) -> bool {
        let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
        let icmp = &ip[40..40 + plen];
        let pseudo_len = (plen as u32).to_be_bytes();
        rfc1071(&[&ip[8..24], &ip[24..40], &pseudo_len, &[0, 0, 0, 58], icmp]) == 0
    }

    /// Set the ICMPv6 checksum of an IPv6 packet in an Ethernet frame.
    fn fix_icmpv6(frame: &mut [u8]) {
        let ip = &mut frame[14..];
        let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
        if ip.len() < 40 + plen || plen < 4 {
            return;
        }
        ip[42] = 0;
        ip[43] = 0;
        let pseudo_len = (plen as u32).to_be_bytes();
        let c = rfc1071(&[&ip[8..24], &ip[24..40], &pseudo_len, &[0, 0, 0, 58], &ip[40..40 + plen]]);
        ip[42..44].copy_from_slice(&c.to_be_bytes());
    }

    fn arp_request(sha: MacAddr, spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&BROADCAST);
        f.extend_from_slice(&sha);
        f.extend_from_slice(&[0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
        f.extend_from_slice(&sha);
        f.extend_from_slice(&spa);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&tpa);
        f
    }

    const SRC6: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const TGT6: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    /// Solicited-node multicast address of TGT6: ff02::1:ff00:2.
    const SNM6: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2];

    fn ns_frame(
        eth_src: MacAddr,
        src: [u8; 16],
        dst: [u8; 16],
        target: [u8; 16],
        slla: Option<MacAddr>,
    ) -> Vec<u8> {
        let mut icmp = vec![135, 0, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&target);
        if let Some(m) = slla {
            icmp.extend_from_slice(&[1, 1]);
            icmp.extend_from_slice(&m);
        }
        let mut f = Vec::new();
        f.extend_from_slice(&[0x33, 0x33, 0xff, 0, 0, 2]);
        f.extend_from_slice(&eth_src);
        f.extend_from_slice(&[0x86, 0xdd]);
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
        f.extend_from_slice(&[58, 255]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&icmp);
        fix_icmpv6(&mut f);
        f
    }

    fn ipv4_packet(proto: u8, frag: u16, ports: [u8; 4], payload: usize) -> Vec<u8> {
        let total = 20 + 4 + payload;
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&(total as u16).to_be_bytes());
        p.extend_from_slice(&[0, 1]);
        p.extend_from_slice(&frag.to_be_bytes());
        p.extend_from_slice(&[64, proto, 0, 0]);
        p.extend_from_slice(&[10, 0, 0, 1]);
        p.extend_from_slice(&[10, 0, 0, 2]);
        p.extend_from_slice(&ports);
        p.resize(total, 0xab);
        p
    }

    fn ipv6_packet(next: u8, ext: &[u8], ports: [u8; 4], payload: usize) -> Vec<u8> {
        let plen = ext.len() + 4 + payload;
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(plen as u16).to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&SRC6);
        p.extend_from_slice(&TGT6);
        p.extend_from_slice(ext);
        p.extend_from_slice(&ports);
        p.resize(40 + plen, 0xcd);
        p
    }

    // ----- Ethernet -----

    #[test]
    fn parse_ether_untagged_and_tagged() {
        let mut f = ether_header(&OTHER, &HOST, ETHERTYPE_IP).to_vec();
        f.extend_from_slice(&[0x45; 20]);
        let h = parse_ether(&f).unwrap();
        assert_eq!(
            h,
            EtherHeader { dst: OTHER, src: HOST, ethertype: ETHERTYPE_IP, vlan: None, header_len: 14 }
        );

        let mut t = ether_header(&OTHER, &HOST, ETHERTYPE_VLAN).to_vec();
        t.extend_from_slice(&[0x20, 0x07, 0x86, 0xdd]);
        let h = parse_ether(&t).unwrap();
        assert_eq!(h.ethertype, ETHERTYPE_IPV6);
        assert_eq!(h.vlan, Some(0x2007));
        assert_eq!(h.header_len, 18);
        for n in 0..t.len() {
            if n < 14 {
                assert_eq!(parse_ether(&t[..n]), None, "len {n}");
            } else if n < 18 {
                assert_eq!(parse_ether(&t[..n]), None, "tagged len {n}");
                assert_eq!(parse_ether(&f[..n]).unwrap().header_len, 14);
            }
        }
    }

    #[test]
    fn ether_header_layout() {
        let h = ether_header(&[1, 2, 3, 4, 5, 6], &[7, 8, 9, 10, 11, 12], 0x86dd);
        assert_eq!(h, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x86, 0xdd]);
    }

    #[test]
    fn classify_addresses() {
        assert_eq!(classify(&BROADCAST), AddrClass::Broadcast);
        assert_eq!(classify(&[0x01, 0x00, 0x5e, 0, 0, 1]), AddrClass::Multicast);
        assert_eq!(classify(&[0x33, 0x33, 0, 0, 0, 1]), AddrClass::Multicast);
        assert_eq!(classify(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]), AddrClass::Multicast);
        assert_eq!(classify(&HOST), AddrClass::Unicast);
        assert_eq!(classify(&[0; 6]), AddrClass::Unicast);
        assert_eq!(classify(&[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]), AddrClass::Unicast);
    }

    #[test]
    fn local_unicast_mac_bits() {
        for r in [[0u8; 6], [0xff; 6], [0x01, 0, 0, 0, 0, 0], [0xaa, 1, 2, 3, 4, 5], [0x55, 9, 8, 7, 6, 5]] {
            let m = local_unicast_mac(r);
            assert_eq!(m[0] & 0x01, 0, "{r:?}: unicast");
            assert_eq!(m[0] & 0x02, 0x02, "{r:?}: locally administered");
            assert_eq!(m[0] & 0xfc, r[0] & 0xfc, "{r:?}: other bits kept");
            assert_eq!(m[1..], r[1..]);
            assert!(is_valid_unicast(&m));
        }
    }

    #[test]
    fn valid_unicast() {
        assert!(is_valid_unicast(&HOST));
        assert!(is_valid_unicast(&[0, 0, 0, 0, 0, 1]));
        assert!(!is_valid_unicast(&[0; 6]));
        assert!(!is_valid_unicast(&BROADCAST));
        assert!(!is_valid_unicast(&[0x01, 0, 0x5e, 0, 0, 1]));
    }

    // ----- ARP -----

    #[test]
    fn arp_request_gets_exact_reply() {
        let req = arp_request(HOST, [10, 0, 0, 1], [10, 0, 0, 2]);
        assert_eq!(req.len(), 42);
        let mut out = [0u8; RESOLVER_REPLY_MAX];
        let n = answer_resolver(&req, &PEER, &mut out).unwrap();
        assert_eq!(n, 42);
        assert_eq!(n, ARP_REPLY_LEN);
        #[rustfmt::skip]
        let expected: [u8; 42] = [
            // Ethernet: to the requester, from the peer, ARP
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
            0x02, 0x70, 0x65, 0x65, 0x72, 0x01,
            0x08, 0x06,
            // htype 1, ptype IPv4, hlen 6, plen 4, op reply
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
            // sha = peer, spa = the asked-for address
            0x02, 0x70, 0x65, 0x65, 0x72, 0x01, 10, 0, 0, 2,
            // tha = requester, tpa = requester's address
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10, 0, 0, 1,
        ];
        assert_eq!(out[..n], expected);
    }

    #[test]
    fn arp_padded_request_answered() {
        let mut req = arp_request(HOST, [192, 168, 7, 9], [192, 168, 7, 1]);
        req.resize(60, 0);
        let mut out = [0u8; RESOLVER_REPLY_MAX];
        assert_eq!(answer_resolver(&req, &PEER, &mut out), Some(42));
        assert_eq!(out[28..32], [192, 168, 7, 1]);
        assert_eq!(out[38..42], [192, 168, 7, 9]);
    }

    #[test]
    fn gratuitous_arp_and_dad_probe_ignored() {
        let mut out = [0u8; RESOLVER_REPLY_MAX];
        let gratuitous = arp_request(HOST, [10, 0, 0, 1], [10, 0, 0, 1]);
        assert_eq!(answer_resolver(&gratuitous, &PEER, &mut out), None);
        let probe = arp_request(HOST, [0, 0, 0, 0], [10, 0, 0, 1]);
        assert_eq!(answer_resolver(&probe, &PEER, &mut out), None);
        assert_eq!(out, [0u8; RESOLVER_REPLY_MAX], "nothing written");
    }

    #[test]
    fn arp_non_requests_ignored() {
        let mut out = [0u8; RESOLVER_REPLY_MAX];
        let good = arp_request(HOST, [10, 0, 0, 1], [10, 0, 0, 2]);
        // (offset, value): htype, ptype, hlen, plen, op
        for (off, val) in [(15, 6u8), (16, 0x86), (18, 8), (19, 16), (21, 2), (21, 3), (20, 1)] {
            let mut f = good.clone();
            f[off] = val;
            assert_eq!(answer_resolver(&f, &PEER, &mut out), None, "byte {off} = {val}");
        }
        // A multicast or zero sender hardware address gets no reply.
        for sha in [[0u8; 6], BROADCAST, [0x01, 0, 0x5e, 0, 0, 1]] {
            let f = arp_request(sha, [10, 0, 0, 1], [10, 0, 0, 2]);
            assert_eq!(answer_resolver(&f, &PEER, &mut out), None);
        }
        // VLAN-tagged requests are not answered.
        let mut tagged = good[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        tagged.extend_from_slice(&good[12..]);
        assert_eq!(answer_resolver(&tagged, &PEER, &mut out), None);
    }

    #[test]
    fn truncated_arp_never_answered() {
        let req = arp_request(HOST, [10, 0, 0, 1], [10, 0, 0, 2]);
        let mut out = [0u8; RESOLVER_REPLY_MAX];
        for n in 0..req.len() {
            assert_eq!(answer_resolver(&req[..n], &PEER, &mut out), None, "len {n}");
        }
        assert!(answer_resolver(&req, &PEER, &mut out).is_some());
    }

    // ----- Neighbour Discovery -----

    #[test]
    fn ns_gets_exact_na() {
        let ns = ns_frame(HOST, SRC6, SNM6, TGT6, Some(OTHER));
        assert!(icmpv6_ok(&ns[14..]), "test NS is well formed");
        let mut out = [0u8; RESOLVER_REPLY_MAX];
        let n = answer_resolver(&ns, &PEER, &mut out).unwrap();
        assert_eq!(n, 86);
        assert_eq!(n, NA_REPLY_LEN);
        // Checksum computed independently (Python, RFC 1071 over the
        // pseudo-header and the message below with the field zero).
        #[rustfmt::skip]
        let expected: [u8; 86] = [
            // Ethernet: to the NS's source link-layer address, from the peer
            0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
            0x02, 0x70, 0x65, 0x65, 0x72, 0x01,
            0x86, 0xdd,
            // IPv6: version 6, payload 32, ICMPv6, hop limit 255
            0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 58, 255,
            // src = the target
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
            // dst = the solicitor
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            // NA, code 0, checksum, flags S|O
            136, 0, NA_CKSUM[0], NA_CKSUM[1], 0x60, 0x00, 0x00, 0x00,
            // target
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
            // Target Link-Layer Address option: the peer
            2, 1, 0x02, 0x70, 0x65, 0x65, 0x72, 0x01,
        ];
        assert_eq!(out[..n], expected);
        assert!(icmpv6_ok(&out[14..n]), "NA checksum verifies");
    }
    const NA_CKSUM: [u8; 2] = [0x40, 0x45];

    #[test]
    fn ns_without_slla_replies_to_ethernet_source() {
        let unicast_ns = ns_frame(HOST, SRC6, TGT6, TGT6, None);
        let mut out = [0u8; RESOLVER_REPLY_MAX];
        let n = answer_resolver(&unicast_ns, &PEER, &mut out).unwrap();
        assert_eq!(out[..6], HOST);
        assert_eq!(out[6..12], PEER);
        assert!(icmpv6_ok(&out[14..n]));
    }

    #[test]
    fn ns_with_extra_options_and_padding() {
        // A nonce option (type 14, 1 unit) before the SLLA, and Ethernet
        // padding after the datagram.
        let mut icmp = vec![135, 0, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&TGT6);
        icmp.extend_from_slice(&[14, 1, 1, 2, 3, 4, 5, 6]);
        icmp.extend_from_slice(&[1, 1]);
        icmp.extend_from_slice(&OTHER);
        let mut f = ns_frame(HOST, SRC6, SNM6, TGT6, None);
        f.truncate(54);
        f[18..20].copy_from_slice(&(icmp.len() as u16).to_be_bytes());
        f.extend_from_slice(&icmp);
        fix_icmpv6(&mut f);
        f.extend_from_slice(&[0xee; 10]);
        let mut out = [0u8; RESOLVER_REPLY_MAX];
        let n = answer_resolver(&f, &PEER, &mut out).unwrap();
        assert_eq!(out[..6], OTHER);
        assert!(icmpv6_ok(&out[14..n]));

        // A zero-length option makes the packet invalid.
        let mut bad = f.clone();
        bad[54 + 24 + 1] = 0;
        bad.truncate(54 + icmp.len());
        fix_icmpv6(&mut bad);
        assert_eq!(answer_resolver(&bad, &PEER, &mut out), None);
        // An option running past the message too.
        let mut over = f.clone();
        over[54 + 24 + 1] = 4;
        over.truncate(54 + icmp.len());
        fix_icmpv6(&mut over);
        assert_eq!(answer_resolver(&over, &PEER, &mut out), None);
    }

    #[test]
    fn dad_and_self_ns_ignored() {
        let mut out = [0u8; RESOLVER_REPLY_MAX];
        let dad = ns_frame(HOST, [0; 16], SNM6, TGT6, None);
        assert!(icmpv6_ok(&dad[14..]));
        assert_eq!(answer_resolver(&dad, &PEER, &mut out), None);
        let own = ns_frame(HOST, TGT6, SNM6, TGT6, Some(HOST));
        assert_eq!(answer_resolver(&own, &PEER, &mut out), None);
        let multicast_target = ns_frame(HOST, SRC6, SNM6, SNM6, None);
        assert_eq!(answer_resolver(&multicast_target, &PEER, &mut out), None);
        assert_eq!(out, [0u8; RESOLVER_REPLY_MAX], "nothing written");
    }

    #[test]
    fn bad_ns_ignored() {
        let mut out = [0u8; RESOLVER_REPLY_MAX];
        let good = ns_frame(HOST, SRC6, SNM6, TGT6, Some(OTHER));
        assert!(answer_resolver(&good, &PEER, &mut out).is_some());

        let mut bad_sum = good.clone();
        bad_sum[57] ^= 0x01;
        assert_eq!(answer_resolver(&bad_sum, &PEER, &mut out), None, "checksum");

        let mut corrupt = good.clone();
        corrupt[70] ^= 0x80; // inside the target, checksum not fixed
        assert_eq!(answer_resolver(&corrupt, &PEER, &mut out), None, "corrupt body");

        // Each with the checksum recomputed, so only the field is wrong.
        let cases: [(usize, u8, &str); 6] = [
            (21, 64, "hop limit"),
            (20, 17, "next header"),
            (54, 136, "type"),
            (55, 1, "code"),
            (14, 0x40, "version"),
            (12, 0x08, "ethertype"),
        ];
        for (off, val, what) in cases {
            let mut f = good.clone();
            f[off] = val;
            if f[12] == 0x86 {
                fix_icmpv6(&mut f);
            }
            assert_eq!(answer_resolver(&f, &PEER, &mut out), None, "{what}");
        }

        // Payload length too short for an NS, or longer than the frame.
        for plen in [0u16, 8, 23, 33, 200] {
            let mut f = good.clone();
            f[18..20].copy_from_slice(&plen.to_be_bytes());
            fix_icmpv6(&mut f);
            assert_eq!(answer_resolver(&f, &PEER, &mut out), None, "plen {plen}");
        }

        // Reply would go to a group address.
        let to_group = ns_frame(HOST, SRC6, SNM6, TGT6, Some([0x33, 0x33, 0, 0, 0, 1]));
        assert_eq!(answer_resolver(&to_group, &PEER, &mut out), None);
        let from_group = ns_frame([0x01, 0, 0, 0, 0, 0], SRC6, SNM6, TGT6, None);
        assert_eq!(answer_resolver(&from_group, &PEER, &mut out), None);
    }

    #[test]
    fn truncated_ns_never_answered() {
        let ns = ns_frame(HOST, SRC6, SNM6, TGT6, Some(OTHER));
        let mut out = [0u8; RESOLVER_REPLY_MAX];
        for n in 0..ns.len() {
            assert_eq!(answer_resolver(&ns[..n], &PEER, &mut out), None, "len {n}");
        }
        assert!(answer_resolver(&ns, &PEER, &mut out).is_some());
    }

    #[test]
    fn other_frames_not_resolver_requests() {
        let mut out = [0u8; RESOLVER_REPLY_MAX];
        let mut f = ether_header(&PEER, &HOST, ETHERTYPE_IP).to_vec();
        f.extend_from_slice(&ipv4_packet(IPPROTO_UDP, 0, [0, 53, 0, 53], 8));
        assert_eq!(answer_resolver(&f, &PEER, &mut out), None);
        let mut g = ether_header(&PEER, &HOST, ETHERTYPE_IPV6).to_vec();
        g.extend_from_slice(&ipv6_packet(IPPROTO_TCP, &[], [0, 80, 4, 0], 8));
        assert_eq!(answer_resolver(&g, &PEER, &mut out), None);
    }

    // ----- tun framing -----

    #[test]
    fn tun_payload_offsets() {
        let mut v4 = ether_header(&PEER, &HOST, ETHERTYPE_IP).to_vec();
        v4.extend_from_slice(&ipv4_packet(IPPROTO_UDP, 0, [0; 4], 0));
        assert_eq!(tun_payload_offset(&v4), Some(14));
        let mut v6 = ether_header(&PEER, &HOST, ETHERTYPE_IPV6).to_vec();
        v6.extend_from_slice(&ipv6_packet(IPPROTO_UDP, &[], [0; 4], 0));
        assert_eq!(tun_payload_offset(&v6), Some(14));
        let mut tagged = ether_header(&PEER, &HOST, ETHERTYPE_VLAN).to_vec();
        tagged.extend_from_slice(&[0, 3, 0x08, 0x00, 0x45]);
        assert_eq!(tun_payload_offset(&tagged), Some(18));
        let arp = arp_request(HOST, [10, 0, 0, 1], [10, 0, 0, 2]);
        assert_eq!(tun_payload_offset(&arp), None);
        assert_eq!(tun_payload_offset(&ether_header(&PEER, &HOST, ETHERTYPE_IP)), None, "empty payload");
        assert_eq!(tun_payload_offset(&ether_header(&PEER, &HOST, 0x88cc)), None);
        for n in 0..14 {
            assert_eq!(tun_payload_offset(&v4[..n]), None);
        }
    }

    #[test]
    fn ethertype_by_version() {
        assert_eq!(ethertype_for_ip(0x45), Some(ETHERTYPE_IP));
        assert_eq!(ethertype_for_ip(0x4f), Some(ETHERTYPE_IP));
        assert_eq!(ethertype_for_ip(0x60), Some(ETHERTYPE_IPV6));
        for v in [0u8, 1, 2, 3, 5, 7, 8, 15] {
            assert_eq!(ethertype_for_ip(v << 4), None);
        }
    }

    #[test]
    fn tun_valid_packets() {
        let v4 = ipv4_packet(IPPROTO_TCP, 0, [0; 4], 100);
        assert_eq!(check_tun_packet(&v4, v4.len(), 1500), Ok(ETHERTYPE_IP));
        let v6 = ipv6_packet(IPPROTO_UDP, &[], [0; 4], 100);
        assert_eq!(check_tun_packet(&v6, v6.len(), 1500), Ok(ETHERTYPE_IPV6));
        // Only the first 40 bytes pulled up.
        assert_eq!(check_tun_packet(&v4[..40], v4.len(), 1500), Ok(ETHERTYPE_IP));
        assert_eq!(check_tun_packet(&v6[..40], v6.len(), 1500), Ok(ETHERTYPE_IPV6));
        // A bare 20-byte IPv4 header and a bare 40-byte IPv6 header.
        let mut h4 = v4[..20].to_vec();
        h4[2..4].copy_from_slice(&20u16.to_be_bytes());
        assert_eq!(check_tun_packet(&h4, 20, 1500), Ok(ETHERTYPE_IP));
        let mut h6 = v6[..40].to_vec();
        h6[4..6].copy_from_slice(&0u16.to_be_bytes());
        assert_eq!(check_tun_packet(&h6, 40, 1500), Ok(ETHERTYPE_IPV6));
        // IPv4 options: IHL 15 (60 bytes).
        let mut opt = vec![0x4f, 0];
        opt.extend_from_slice(&60u16.to_be_bytes());
        opt.resize(60, 1);
        assert_eq!(check_tun_packet(&opt, 60, 1500), Ok(ETHERTYPE_IP));
        // Trailing padding beyond the datagram is allowed.
        let mut padded = v4.clone();
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(check_tun_packet(&padded, padded.len(), 1500), Ok(ETHERTYPE_IP));
        let mut padded6 = v6.clone();
        padded6.extend_from_slice(&[0; 6]);
        assert_eq!(check_tun_packet(&padded6, padded6.len(), 1500), Ok(ETHERTYPE_IPV6));
        // Exactly MTU.
        let big = ipv4_packet(IPPROTO_UDP, 0, [0; 4], 1500 - 24);
        assert_eq!(check_tun_packet(&big, 1500, 1500), Ok(ETHERTYPE_IP));
    }

    #[test]
    fn tun_bad_packets() {
        assert_eq!(check_tun_packet(&[], 0, 1500), Err(WriteError::Empty));
        let v4 = ipv4_packet(IPPROTO_TCP, 0, [0; 4], 100);
        let v6 = ipv6_packet(IPPROTO_UDP, &[], [0; 4], 100);
        for v in [0u8, 1, 5, 7, 15] {
            let mut p = v4.clone();
            p[0] = (v << 4) | 5;
            assert_eq!(check_tun_packet(&p, p.len(), 1500), Err(WriteError::BadVersion(v)));
        }
        for ihl in 0..5u8 {
            let mut p = v4.clone();
            p[0] = 0x40 | ihl;
            assert_eq!(check_tun_packet(&p, p.len(), 1500), Err(WriteError::BadHeader), "ihl {ihl}");
        }
        // IHL beyond the packet.
        let mut p = v4[..24].to_vec();
        p[0] = 0x47;
        p[2..4].copy_from_slice(&24u16.to_be_bytes());
        assert_eq!(check_tun_packet(&p, 24, 1500), Err(WriteError::TooShort));
        // Total length beyond the packet; total length below the header.
        let mut p = v4.clone();
        p[2..4].copy_from_slice(&((v4.len() + 1) as u16).to_be_bytes());
        assert_eq!(check_tun_packet(&p, p.len(), 1500), Err(WriteError::TooShort));
        p[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(check_tun_packet(&p, p.len(), 1500), Err(WriteError::BadHeader));
        // IPv6 payload length beyond the packet.
        let mut q = v6.clone();
        q[4..6].copy_from_slice(&((v6.len() - 40 + 1) as u16).to_be_bytes());
        assert_eq!(check_tun_packet(&q, q.len(), 1500), Err(WriteError::TooShort));
        q[4..6].copy_from_slice(&0xffffu16.to_be_bytes());
        assert_eq!(check_tun_packet(&q, q.len(), 1500), Err(WriteError::TooShort));
        // Oversize.
        assert_eq!(
            check_tun_packet(&v4, v4.len(), 100),
            Err(WriteError::TooLong { len: v4.len(), max: 100 })
        );
        assert_eq!(check_tun_packet(&v6, v6.len(), 0), Err(WriteError::TooLong { len: v6.len(), max: 0 }));
        let big = ipv6_packet(IPPROTO_UDP, &[], [0; 4], 1500 - 44 + 1);
        assert_eq!(check_tun_packet(&big, 1501, 1500), Err(WriteError::TooLong { len: 1501, max: 1500 }));
        // A caller passing fewer leading bytes than promised is refused,
        // never read past.
        assert_eq!(check_tun_packet(&[], 40, 1500), Err(WriteError::TooShort));
        assert_eq!(check_tun_packet(&v4[..2], 40, 1500), Err(WriteError::TooShort));
        assert_eq!(check_tun_packet(&v6[..5], 140, 1500), Err(WriteError::TooShort));
    }

    #[test]
    fn tun_truncated_at_every_length() {
        let v4 = ipv4_packet(IPPROTO_TCP, 0, [0; 4], 20);
        let v6 = ipv6_packet(IPPROTO_UDP, &[], [0; 4], 20);
        for p in [&v4, &v6] {
            for n in 1..p.len() {
                let r = check_tun_packet(&p[..n], n, 1500);
                assert_eq!(r, Err(WriteError::TooShort), "len {n} of {}", p.len());
            }
            assert!(check_tun_packet(p, p.len(), 1500).is_ok());
        }
    }

    // ----- tap framing -----

    #[test]
    fn tap_bounds() {
        let mut f = ether_header(&OTHER, &HOST, ETHERTYPE_IP).to_vec();
        assert_eq!(check_tap_frame(&f, 14, 1500), Ok(()), "a bare header is a frame");
        f.resize(14 + 1500, 0);
        assert_eq!(check_tap_frame(&f, f.len(), 1500), Ok(()));
        f.push(0);
        assert_eq!(check_tap_frame(&f, f.len(), 1500), Err(WriteError::TooLong { len: 1515, max: 1514 }));
        assert_eq!(check_tap_frame(&f[..40], 9000 + 14, 9000), Ok(()));
        assert_eq!(
            check_tap_frame(&f[..40], 9000 + 15, 9000),
            Err(WriteError::TooLong { len: 9015, max: 9014 })
        );

        let mut t = ether_header(&OTHER, &HOST, ETHERTYPE_VLAN).to_vec();
        t.extend_from_slice(&[0, 7, 0x08, 0x00]);
        t.resize(18 + 1500, 0);
        assert_eq!(check_tap_frame(&t, t.len(), 1500), Ok(()), "tagged: +4");
        t.push(0);
        assert_eq!(check_tap_frame(&t, t.len(), 1500), Err(WriteError::TooLong { len: 1519, max: 1518 }));
        for n in 14..18 {
            assert_eq!(check_tap_frame(&t[..n], n, 1500), Err(WriteError::TooShort), "tagged len {n}");
        }
        assert_eq!(check_tap_frame(&t[..18], 18, 1500), Ok(()));

        assert_eq!(check_tap_frame(&[], 0, 1500), Err(WriteError::Empty));
        for n in 1..14 {
            assert_eq!(check_tap_frame(&f[..n], n, 1500), Err(WriteError::TooShort), "len {n}");
        }
        // Fewer leading bytes than the header: refused, not read past.
        assert_eq!(check_tap_frame(&f[..10], 100, 1500), Err(WriteError::TooShort));
        assert_eq!(check_tap_frame(&f, 20, u32::MAX), Ok(()));
    }

    // ----- flow hash -----

    #[test]
    fn flow_hash_same_flow_same_hash() {
        let a = ipv4_packet(IPPROTO_TCP, 0, [0x30, 0x39, 0, 80], 10);
        let mut b = ipv4_packet(IPPROTO_TCP, 0, [0x30, 0x39, 0, 80], 500);
        b[8] = 3; // TTL
        b[1] = 0x10; // TOS
        assert_eq!(flow_hash(ETHERTYPE_IP, &a), flow_hash(ETHERTYPE_IP, &b));
        assert_eq!(flow_hash(ETHERTYPE_IP, &a), flow_hash(ETHERTYPE_IP, &a[..24]));
        let c = ipv6_packet(IPPROTO_UDP, &[], [0x30, 0x39, 0, 53], 10);
        let d = ipv6_packet(IPPROTO_UDP, &[], [0x30, 0x39, 0, 53], 900);
        assert_eq!(flow_hash(ETHERTYPE_IPV6, &c), flow_hash(ETHERTYPE_IPV6, &d));
    }

    #[test]
    fn flow_hash_ports_matter() {
        let mut seen = Vec::new();
        for port in 0..64u16 {
            let mut ports = [0x30, 0x39, 0, 0];
            ports[2..4].copy_from_slice(&port.to_be_bytes());
            seen.push(flow_hash(ETHERTYPE_IP, &ipv4_packet(IPPROTO_TCP, 0, ports, 0)));
            seen.push(flow_hash(ETHERTYPE_IPV6, &ipv6_packet(IPPROTO_SCTP, &[], ports, 0)));
        }
        let mut dedup = seen.clone();
        dedup.sort_unstable();
        dedup.dedup();
        assert_eq!(dedup.len(), seen.len(), "128 flows, 128 hashes");
        // Protocol without ports: ports bytes ignored.
        let x = ipv4_packet(1, 0, [8, 0, 1, 2], 0);
        let y = ipv4_packet(1, 0, [0, 0, 3, 4], 0);
        assert_eq!(flow_hash(ETHERTYPE_IP, &x), flow_hash(ETHERTYPE_IP, &y));
        // The balance over 4 queues is not degenerate.
        let mut buckets = [0u32; 4];
        for h in &seen {
            buckets[(h % 4) as usize] += 1;
        }
        assert!(buckets.iter().all(|b| *b > 10), "{buckets:?}");
    }

    #[test]
    fn flow_hash_fragments_ignore_ports() {
        let whole = flow_hash(ETHERTYPE_IP, &ipv4_packet(IPPROTO_UDP, 0, [1, 2, 3, 4], 0));
        let first = flow_hash(ETHERTYPE_IP, &ipv4_packet(IPPROTO_UDP, 0x2000, [1, 2, 3, 4], 0));
        let later = flow_hash(ETHERTYPE_IP, &ipv4_packet(IPPROTO_UDP, 0x00b9, [9, 9, 9, 9], 0));
        let last = flow_hash(ETHERTYPE_IP, &ipv4_packet(IPPROTO_UDP, 0x2171, [7, 7, 7, 7], 0));
        assert_eq!(first, later);
        assert_eq!(first, last);
        assert_ne!(whole, first);
        // DF alone is not a fragment.
        let df = flow_hash(ETHERTYPE_IP, &ipv4_packet(IPPROTO_UDP, 0x4000, [1, 2, 3, 4], 0));
        assert_eq!(whole, df);

        // IPv6 fragment header: next UDP, offset 0 M=1, then offset 185.
        let frag0 = [IPPROTO_UDP, 0, 0x00, 0x01, 0, 0, 0, 7];
        let frag1 = [IPPROTO_UDP, 0, 0x05, 0xc8, 0, 0, 0, 7];
        let a = flow_hash(ETHERTYPE_IPV6, &ipv6_packet(IPPROTO_FRAGMENT, &frag0, [1, 2, 3, 4], 0));
        let b = flow_hash(ETHERTYPE_IPV6, &ipv6_packet(IPPROTO_FRAGMENT, &frag1, [5, 6, 7, 8], 0));
        assert_eq!(a, b);
        let c = flow_hash(ETHERTYPE_IPV6, &ipv6_packet(IPPROTO_UDP, &[], [1, 2, 3, 4], 0));
        assert_ne!(a, c);
    }

    #[test]
    fn flow_hash_walks_ipv6_extension_headers() {
        // Hop-by-hop (8 bytes) then destination options (16 bytes) then TCP.
        let mut ext = vec![IPPROTO_DSTOPTS, 0, 1, 4, 0, 0, 0, 0];
        ext.extend_from_slice(&[IPPROTO_TCP, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let p1 = ipv6_packet(IPPROTO_HOPOPTS, &ext, [0, 22, 0x80, 0], 0);
        let p2 = ipv6_packet(IPPROTO_HOPOPTS, &ext, [0, 22, 0x80, 1], 0);
        assert_ne!(flow_hash(ETHERTYPE_IPV6, &p1), flow_hash(ETHERTYPE_IPV6, &p2));
        // Truncating inside the ports: stable hash without ports.
        let cut = &p1[..40 + ext.len() + 2];
        let cut2 = &p2[..40 + ext.len() + 3];
        assert_eq!(flow_hash(ETHERTYPE_IPV6, cut), flow_hash(ETHERTYPE_IPV6, cut2));
        // A chain longer than the walk limit: no ports, no panic.
        let mut long = Vec::new();
        for _ in 0..20 {
            long.extend_from_slice(&[IPPROTO_DSTOPTS, 0, 1, 4, 0, 0, 0, 0]);
        }
        let q = ipv6_packet(IPPROTO_DSTOPTS, &long, [1, 1, 1, 1], 0);
        let r = ipv6_packet(IPPROTO_DSTOPTS, &long, [2, 2, 2, 2], 0);
        assert_eq!(flow_hash(ETHERTYPE_IPV6, &q), flow_hash(ETHERTYPE_IPV6, &r));
    }

    #[test]
    fn flow_hash_truncated_and_garbage() {
        let v4 = ipv4_packet(IPPROTO_TCP, 0, [1, 2, 3, 4], 0);
        let v6 = ipv6_packet(IPPROTO_TCP, &[], [1, 2, 3, 4], 0);
        let empty = flow_hash(ETHERTYPE_IP, &[]);
        for n in 0..v4.len() {
            let _ = flow_hash(ETHERTYPE_IP, &v4[..n]);
            let _ = flow_hash(ETHERTYPE_IPV6, &v4[..n]);
        }
        for n in 0..v6.len() {
            let _ = flow_hash(ETHERTYPE_IPV6, &v6[..n]);
            let _ = flow_hash(ETHERTYPE_IP, &v6[..n]);
        }
        // Too short for addresses: the one fixed value.
        assert_eq!(flow_hash(ETHERTYPE_IP, &v4[..19]), empty);
        assert_eq!(flow_hash(ETHERTYPE_IPV6, &v6[..39]), empty);
        assert_eq!(flow_hash(ETHERTYPE_ARP, &v4), empty);
        assert_eq!(flow_hash(ETHERTYPE_IPV6, &v4), empty, "version mismatch");
        // Deterministic.
        assert_eq!(flow_hash(ETHERTYPE_IP, &v4), flow_hash(ETHERTYPE_IP, &v4.clone()));
    }

    // ----- checksum helpers -----

    #[test]
    fn checksum_matches_rfc1071_reference() {
        let mut rng = XorShift(0x1234_5678_9abc_def0);
        for len in 0..300 {
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let src: [u8; 16] = core::array::from_fn(|_| rng.next() as u8);
            let dst: [u8; 16] = core::array::from_fn(|_| rng.next() as u8);
            let ours = !icmpv6_checksum(&src, &dst, &data).unwrap();
            let pseudo_len = (len as u32).to_be_bytes();
            let reference = rfc1071(&[&src, &dst, &pseudo_len, &[0, 0, 0, 58], &data]);
            // 0x0000 and 0xffff are the same one's-complement number.
            let norm = |x: u16| if x == 0xffff { 0 } else { x };
            assert_eq!(norm(ours), norm(reference), "len {len}");
        }
    }

    // ----- property: nothing panics on random input -----

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
    }

    fn exercise_everything(data: &[u8], seed: u64) {
        let mut out = [0u8; RESOLVER_REPLY_MAX];
        let _ = parse_ether(data);
        let _ = tun_payload_offset(data);
        if let Some(n) = answer_resolver(data, &PEER, &mut out) {
            assert!(n <= RESOLVER_REPLY_MAX);
            assert!(n == ARP_REPLY_LEN || n == NA_REPLY_LEN);
            if n == NA_REPLY_LEN {
                assert!(icmpv6_ok(&out[14..n]), "every NA we build verifies");
            }
            assert!(is_valid_unicast(&out[..6].try_into().unwrap()));
        }
        let mtu = (seed % 2000) as u32;
        let len_choices = [data.len(), data.len().saturating_add(seed as usize % 64), usize::MAX, 0];
        for len in len_choices {
            let _ = check_tun_packet(data, len, mtu);
            let _ = check_tap_frame(data, len, mtu);
            let _ = check_tun_packet(data, len, u32::MAX);
            let _ = check_tap_frame(data, len, u32::MAX);
        }
        for et in [ETHERTYPE_IP, ETHERTYPE_IPV6, ETHERTYPE_ARP, seed as u16] {
            let _ = flow_hash(et, data);
        }
        if let Some(&b) = data.first() {
            let _ = ethertype_for_ip(b);
        }
        if let Some(mac) = data.get(..6) {
            let mac: MacAddr = mac.try_into().unwrap();
            let _ = classify(&mac);
            let _ = is_valid_unicast(&mac);
            assert!(is_valid_unicast(&local_unicast_mac(mac)));
            let _ = ether_header(&mac, &PEER, seed as u16);
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for round in 0..6000 {
            let len = (rng.next() % 200) as usize;
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            exercise_everything(&data, round);
        }
    }

    #[test]
    fn mutated_valid_packets_never_panic() {
        let mut arp = arp_request(HOST, [10, 0, 0, 1], [10, 0, 0, 2]);
        arp.resize(60, 0);
        let seeds: Vec<Vec<u8>> = vec![
            arp,
            ns_frame(HOST, SRC6, SNM6, TGT6, Some(OTHER)),
            ns_frame(HOST, SRC6, SNM6, TGT6, None),
            ipv4_packet(IPPROTO_TCP, 0, [1, 2, 3, 4], 30),
            ipv6_packet(IPPROTO_HOPOPTS, &[IPPROTO_UDP, 0, 1, 4, 0, 0, 0, 0], [1, 2, 3, 4], 30),
        ];
        let mut rng = XorShift(0xdead_beef_cafe_f00d);
        let mut answered = 0;
        for round in 0..20000u64 {
            let mut p = seeds[(round % seeds.len() as u64) as usize].clone();
            let flips = 1 + rng.next() % 4;
            for _ in 0..flips {
                let at = (rng.next() as usize) % p.len();
                p[at] = rng.next() as u8;
            }
            if rng.next() & 3 == 0 {
                let cut = (rng.next() as usize) % (p.len() + 1);
                p.truncate(cut);
            }
            if p.len() >= 54 && p[12] == 0x86 && p[13] == 0xdd {
                fix_icmpv6(&mut p); // reach the option walk past the checksum
            }
            let mut out = [0u8; RESOLVER_REPLY_MAX];
            if answer_resolver(&p, &PEER, &mut out).is_some() {
                answered += 1;
            }
            exercise_everything(&p, round);
            exercise_everything(p.get(14..).unwrap_or(&[]), round);
        }
        assert!(answered > 100, "mutations still reach the reply paths ({answered})");
    }
}
