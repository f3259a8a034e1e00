// SPDX-License-Identifier: MPL-2.0
//! Unit tests of the framing functions (property and edge cases).

extern crate std;
use super::*;
use super::resolver::*;
use super::flow::*;
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
