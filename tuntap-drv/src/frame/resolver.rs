// SPDX-License-Identifier: MPL-2.0
//! The tun link's built-in address resolver: ARP replies and IPv6
//! Neighbour Advertisements for the point-to-point peer, with the
//! checksum arithmetic they need.  Pure functions; see `frame/mod.rs`.

use super::*;

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
pub(super) fn answer_arp(arp: &[u8], peer_mac: &MacAddr, out: &mut [u8]) -> Option<usize> {
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
pub(super) fn answer_neighbour_solicitation(
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
pub(super) fn ns_source_lla(mut options: &[u8]) -> Option<Option<MacAddr>> {
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
pub(super) fn ones_complement_add(mut acc: u64, data: &[u8]) -> u64 {
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
pub(super) fn ones_complement_fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff).wrapping_add(acc >> 16);
    }
    u16::try_from(acc).unwrap_or(0xffff)
}

/// The folded one's-complement sum of the IPv6 pseudo-header (RFC 8200
/// §8.1) and the ICMPv6 message `icmp`.  A received message is intact when
/// this is 0xffff; a sender stores its complement (computed with the
/// checksum field zero).
pub(super) fn icmpv6_checksum(src: &[u8; 16], dst: &[u8; 16], icmp: &[u8]) -> Option<u16> {
    let upper_len = u32::try_from(icmp.len()).ok()?;
    let mut acc = ones_complement_add(0, src);
    acc = ones_complement_add(acc, dst);
    acc = ones_complement_add(acc, &upper_len.to_be_bytes());
    acc = ones_complement_add(acc, &[0, 0, 0, IPPROTO_ICMPV6]);
    acc = ones_complement_add(acc, icmp);
    Some(ones_complement_fold(acc))
}

