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
//!   MAC ([`resolver::answer_resolver`]), and strips the Ethernet header from IP
//!   frames going to a tun reader ([`tun_payload_offset`]).
//! * The resolver answers only untagged frames: IP does not VLAN-tag on a
//!   tun link, and a tagged Neighbour Advertisement would not fit in
//!   [`RESOLVER_REPLY_MAX`].
//! * [`flow::flow_hash`] is a deterministic, unkeyed hash used only to steer
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

/// Room for the largest frame [`resolver::answer_resolver`] builds: an ARP reply is
/// 14 + 28 = 42 bytes; a Neighbour Advertisement with a Target Link-Layer
/// Address option is 14 + 40 + 32 = 86 bytes.
pub const RESOLVER_REPLY_MAX: usize = 86;

/// Length of an ARP reply frame for Ethernet/IPv4 (no padding: mac pads
/// short frames on real wires, and this one never leaves the host).
pub const ARP_REPLY_LEN: usize = ETHER_HDR_LEN + ARP_LEN;
/// Length of the Neighbour Advertisement frame [`resolver::answer_resolver`] builds.
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

/// Most IPv6 extension headers [`flow::flow_hash`] walks before giving up on
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

/// A MAC address in the low 48 bits of a `u64` (so it fits an atomic).
pub fn mac_to_bits(mac: &MacAddr) -> u64 {
    let [a, b, c, d, e, f] = *mac;
    u64::from_be_bytes([0, 0, a, b, c, d, e, f])
}

/// The inverse of [`mac_to_bits`].
pub fn mac_from_bits(bits: u64) -> MacAddr {
    let [_, _, a, b, c, d, e, f] = bits.to_be_bytes();
    [a, b, c, d, e, f]
}

mod cksum;
pub mod flow;
pub mod resolver;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests;

pub use cksum::{checksum_ok, finish_checksum, ip_header_len, ones_sum, tcp_header_len};
