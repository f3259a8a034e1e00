// SPDX-License-Identifier: MPL-2.0
//! The virtio_net_hdr parser, the segmenter and the coalescer against
//! packets built here: every flag and GSO type combination, wrong
//! offsets and lengths (refused, never a panic), segments that are
//! valid packets carrying the original bytes, and coalescing that
//! round-trips through the segmenter.

use super::*;

/// An IPv4 or IPv6 packet with a TCP (or UDP) header and `payload`, the
/// transport checksum holding the pseudo-header sum as the kernel
/// leaves it for `NEEDS_CSUM`.
fn packet(v6: bool, udp: bool, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let ip_len = if v6 { 40 } else { 20 };
    let l4_len = if udp { 8 } else { 32 };
    let total = ip_len + l4_len + payload.len();
    let mut p = vec![0u8; total];
    let proto = if udp { PROTO_UDP } else { PROTO_TCP };
    if v6 {
        p[0] = 0x60;
        p[4..6].copy_from_slice(&((total - 40) as u16).to_be_bytes());
        p[6] = proto;
        p[7] = 64;
        p[8..24].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p[24..40].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    } else {
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
        p[6] = 0x40;
        p[8] = 64;
        p[9] = proto;
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let c = !fold(sum(&p[..20], 0));
        p[10..12].copy_from_slice(&c.to_be_bytes());
    }
    let l4 = ip_len;
    p[l4..l4 + 4].copy_from_slice(&[0x9c, 0x40, 0x13, 0xc1]);
    if udp {
        p[l4 + 4..l4 + 6].copy_from_slice(&((total - l4) as u16).to_be_bytes());
    } else {
        p[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
        p[l4 + 8..l4 + 12].copy_from_slice(&7u32.to_be_bytes());
        p[l4 + 12] = 8 << 4;
        p[l4 + 13] = flags;
        p[l4 + 14..l4 + 16].copy_from_slice(&502u16.to_be_bytes());
        // Options: NOP NOP timestamp.
        p[l4 + 20..l4 + 32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 8]);
    }
    p[ip_len + l4_len..].copy_from_slice(payload);
    let at = l4 + if udp { 6 } else { 16 };
    let partial = fold(pseudo(&p, v6, proto, total - l4));
    p[at..at + 2].copy_from_slice(&partial.to_be_bytes());
    p
}

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// The GSO header the kernel would put on `packet(v6, udp, ..)`.
fn gso_hdr(v6: bool, udp: bool, size: u16) -> VnetHdr {
    VnetHdr::new(
        F_NEEDS_CSUM,
        if udp { GSO_UDP_L4 } else if v6 { GSO_TCPV6 } else { GSO_TCPV4 },
        0,
        size,
        if v6 { 40 } else { 20 },
        if udp { 6 } else { 16 },
    )
}

/// The packet's IP header checksum (IPv4) and transport checksum verify.
fn checksums_verify(p: &[u8]) -> bool {
    let (v6, ip_len, proto) = ip_header(p).expect("an IP packet");
    let ip_ok = v6 || fold(sum(&p[..ip_len], 0)) == 0xffff;
    ip_ok && fold(sum(&p[ip_len..], pseudo(p, v6, proto, p.len() - ip_len))) == 0xffff
}

fn cut(h: &VnetHdr, p: &[u8]) -> Vec<Vec<u8>> {
    let Ok(Plan::Cut(g)) = plan(h, p) else { panic!("{h:?} is a packet to cut") };
    let mut s = Segments::new(g);
    let mut out = vec![0u8; 65_536];
    let mut segs = Vec::new();
    while let Some(n) = s.next(p, &mut out) {
        segs.push(out[..n].to_vec());
    }
    segs
}

#[test]
fn the_header_round_trips() {
    let h = VnetHdr::new(1, 4, 86, 1348, 40, 16);
    assert_eq!(parse_header(&header_bytes(&h)), Some(h));
    assert_eq!(parse_header(&header_bytes(&h)[..9]), None, "a short header is no header");
    assert_eq!(header_bytes(&h)[4..6], 1348u16.to_le_bytes(), "little-endian, as tun_is_little_endian says on these hosts");
}

#[test]
fn every_flag_and_gso_type_combination_is_decided_and_only_known_ones_pass() {
    for v6 in [false, true] {
        let p = packet(v6, false, 1000, ACK | PSH, &bytes(4000));
        for flags in 0..=255u8 {
            for gso_type in 0..=255u8 {
                let h = VnetHdr { flags, gso_type, ..gso_hdr(v6, false, 1400) };
                let r = plan(&h, &p);
                let known_flags = flags & !(F_NEEDS_CSUM | F_DATA_VALID) == 0;
                let tcp = if v6 { GSO_TCPV6 } else { GSO_TCPV4 };
                let expect_ok = known_flags
                    && (gso_type == GSO_NONE || (flags & F_NEEDS_CSUM != 0 && (gso_type == tcp || gso_type == tcp | GSO_ECN)));
                assert_eq!(r.is_ok(), expect_ok, "flags 0x{flags:02x} gso_type 0x{gso_type:02x} v6 {v6}: {r:?}");
                if !known_flags {
                    assert_eq!(r, Err(Refused::UnknownFlags(flags)));
                }
            }
        }
    }
}

#[test]
fn wrong_offsets_and_lengths_are_refused() {
    let p = packet(false, false, 1, ACK, &bytes(3000));
    let good = gso_hdr(false, false, 1400);
    assert!(matches!(plan(&good, &p), Ok(Plan::Cut(_))));
    let refused = |h: VnetHdr, p: &[u8]| plan(&h, p).expect_err(&format!("{h:?} on {} bytes", p.len()));
    assert_eq!(refused(VnetHdr { csum_start: (p.len() as u16).to_le(), ..good }, &p), Refused::ChecksumOutside);
    assert_eq!(refused(VnetHdr { csum_offset: (u16::MAX).to_le(), ..good }, &p), Refused::ChecksumOutside);
    assert_eq!(refused(VnetHdr { flags: 0, csum_start: (u16::MAX).to_le(), csum_offset: (u16::MAX).to_le(), ..good }, &p), Refused::GsoInconsistent);
    assert_eq!(refused(VnetHdr { csum_start: 24u16.to_le(), ..good }, &p), Refused::GsoInconsistent);
    assert_eq!(refused(VnetHdr { csum_offset: 6u16.to_le(), ..good }, &p), Refused::GsoInconsistent);
    assert_eq!(refused(VnetHdr { gso_size: 0u16.to_le(), ..good }, &p), Refused::GsoInconsistent);
    assert_eq!(refused(VnetHdr { gso_type: GSO_TCPV6, ..good }, &p), Refused::IpHeader, "a TCPv6 type on IPv4");
    assert_eq!(refused(VnetHdr { gso_type: GSO_UDP_L4, csum_offset: 6u16.to_le(), ..good }, &p), Refused::IpHeader, "USO on TCP");
    assert_eq!(refused(VnetHdr { gso_type: GSO_UDP, ..good }, &p), Refused::UnknownGsoType(GSO_UDP), "UFO is not offered");
    assert_eq!(refused(VnetHdr { gso_type: GSO_NONE | GSO_ECN, ..good }, &p), Refused::UnknownGsoType(GSO_ECN));
    // The IP length field disagrees with what was read.
    let mut long = p.clone();
    long.extend_from_slice(&[0; 10]);
    assert_eq!(refused(good, &long), Refused::Length);
    // A fragment, IPv4 options, a TCP header running past the end.
    let mut frag = p.clone();
    frag[6] = 0x20;
    assert_eq!(refused(good, &frag), Refused::IpHeader);
    let mut opts = p.clone();
    opts[0] = 0x46;
    assert_eq!(refused(good, &opts), Refused::IpHeader);
    let mut doff = p.clone();
    doff[20 + 12] = 0x10;
    assert_eq!(refused(good, &doff), Refused::Transport, "a TCP header of 4 bytes");
    let headers_only = packet(false, false, 1, ACK, &[]);
    assert_eq!(refused(good, &headers_only), Refused::Transport, "nothing to cut");
    // IPv6 with an extension header before TCP.
    let mut ext = packet(true, false, 1, ACK, &bytes(3000));
    ext[6] = 0;
    assert_eq!(refused(gso_hdr(true, false, 1400), &ext), Refused::IpHeader);
    // Every truncation of a good packet, and of a plain one asking for a
    // checksum: refused or carried whole, never out of bounds.
    for n in 0..p.len() {
        let r = plan(&good, &p[..n]);
        assert!(r.is_err(), "{n} bytes of a {}-byte packet: {r:?}", p.len());
        let plain = VnetHdr { gso_type: GSO_NONE, gso_size: 0u16.to_le(), ..good };
        if let Ok(Plan::Whole { checksum: Some((start, offset)) }) = plan(&plain, &p[..n]) {
            assert!(start + offset + 2 <= n);
            complete_checksum(&mut p[..n].to_vec(), start, offset);
        }
    }
}

#[test]
fn garbage_never_panics() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let base = packet(false, false, 5, ACK, &bytes(2000));
    let mut out = vec![0u8; 70_000];
    for _ in 0..20_000 {
        let mut p = base.clone();
        for _ in 0..(next() % 4) {
            let i = (next() as usize) % p.len();
            p[i] = next() as u8;
        }
        p.truncate((next() as usize) % (p.len() + 1));
        let h = parse_header(&next().to_le_bytes().iter().chain(&next().to_le_bytes()).copied().collect::<Vec<u8>>()).unwrap();
        let h = if next() % 2 == 0 { VnetHdr { gso_type: h.gso_type & 0x85, flags: h.flags & 3, ..gso_hdr(false, false, h.gso_size()) } } else { h };
        match plan(&h, &p) {
            Ok(Plan::Cut(g)) => {
                let mut s = Segments::new(g);
                let mut n = 0;
                while s.next(&p, &mut out).is_some() {
                    n += 1;
                    assert!(n <= 70_000, "segmentation ends");
                }
            }
            Ok(Plan::Whole { checksum: Some((start, offset)) }) => complete_checksum(&mut p, start, offset),
            _ => {}
        }
        let mut c = Coalescer::default();
        c.offer(&base);
        c.offer(&p);
        c.take();
    }
}

#[test]
fn a_partial_checksum_is_completed() {
    for (v6, udp) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut p = packet(v6, udp, 9, ACK, &bytes(999));
        assert!(!checksums_verify(&p), "the pseudo-header sum alone does not verify");
        let h = VnetHdr { gso_type: GSO_NONE, gso_size: 0u16.to_le(), ..gso_hdr(v6, udp, 0) };
        let Ok(Plan::Whole { checksum: Some((start, offset)) }) = plan(&h, &p) else { panic!("a whole packet") };
        complete_checksum(&mut p, start, offset);
        assert!(checksums_verify(&p), "v6 {v6} udp {udp}");
    }
}

#[test]
fn segments_are_valid_packets_carrying_the_original_bytes() {
    for (v6, udp) in [(false, false), (true, false), (false, true), (true, true)] {
        let data = bytes(5000);
        let p = packet(v6, udp, 0xffff_f000, ACK | PSH | FIN | CWR, &data);
        let segs = cut(&gso_hdr(v6, udp, 1400), &p);
        assert_eq!(segs.len(), 4, "5000 bytes at 1400: 3 full and a short one");
        let head = if v6 { 40 } else { 20 } + if udp { 8 } else { 32 };
        let mut joined = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            assert!(checksums_verify(s), "segment {i} (v6 {v6} udp {udp}) has valid checksums");
            assert_eq!(ip_header(s).map(|(_, l, _)| l).ok(), Some(if v6 { 40 } else { 20 }), "its IP length field is right");
            joined.extend_from_slice(&s[head..]);
            let l4 = if v6 { 40 } else { 20 };
            if !udp {
                let seq = u32::from_be_bytes(s[l4 + 4..l4 + 8].try_into().unwrap());
                assert_eq!(seq, 0xffff_f000u32.wrapping_add(1400 * i as u32), "sequence numbers continue");
                let flags = s[l4 + 13];
                assert_eq!(flags & (PSH | FIN) != 0, i == 3, "PSH and FIN only on the last");
                assert_eq!(flags & CWR != 0, i == 0, "CWR only on the first");
            } else {
                assert_eq!(usize::from(be16(s, l4 + 4).unwrap()), s.len() - l4, "the UDP length");
            }
            if !v6 {
                assert_eq!(be16(s, 4), Some(0x1234 + i as u16), "IPv4 identification counts up");
            }
        }
        assert_eq!(joined, data);
    }
}

#[test]
fn coalesced_segments_round_trip_through_the_segmenter() {
    for v6 in [false, true] {
        let data = bytes(20_000);
        let big = packet(v6, false, 77, ACK | PSH, &data);
        let segs = cut(&gso_hdr(v6, false, 1348), &big);
        let mut c = Coalescer::default();
        for s in &segs {
            assert!(!c.closed());
            assert!(c.offer(s), "consecutive segments of one flow merge");
        }
        assert!(c.closed(), "a PSH (and a short segment) ends the merge");
        assert!(!c.offer(&segs[0]), "nothing joins a closed merge");
        let (h, merged) = c.take().unwrap();
        assert_eq!((h.gso_size(), h.flags, h.csum_start()), (1348, F_NEEDS_CSUM, if v6 { 40 } else { 20 }));
        assert_eq!(merged.len(), big.len());
        let merged = merged.to_vec();
        assert_eq!(cut(&h, &merged), segs, "the kernel's cut of the merged packet gives the same segments");
        assert_eq!(c.held(), 0);
    }
}

#[test]
fn only_the_next_segment_of_the_same_flow_merges() {
    let data = bytes(8000);
    let segs = cut(&gso_hdr(false, false, 1000), &packet(false, false, 1, ACK, &data));
    let fresh = || {
        let mut c = Coalescer::default();
        assert!(c.offer(&segs[0]));
        c
    };
    let mut c = fresh();
    assert!(!c.offer(&segs[2]), "a gap");
    assert!(!c.offer(&segs[0]), "a repeat");
    let mut other = segs[1].clone();
    other[23] ^= 1;
    assert!(!c.offer(&other), "another port");
    let mut syn = segs[1].clone();
    syn[33] |= 0x02;
    assert!(!c.offer(&syn), "SYN");
    let mut ack = segs[1].clone();
    ack[28 + 3] ^= 1;
    assert!(!c.offer(&ack), "another ACK number");
    let mut ttl = segs[1].clone();
    ttl[8] = 1;
    assert!(!c.offer(&ttl), "another TTL");
    assert!(c.offer(&segs[1]));
    let one = packet(false, false, 1, ACK, &bytes(10));
    let mut c = Coalescer::default();
    assert!(c.offer(&one));
    assert_eq!(c.take().map(|(h, p)| (h, p.to_vec())), Some((VnetHdr::default(), one)), "one segment goes out as it came");
    assert!(!fresh().offer(&packet(false, true, 0, 0, &bytes(1000))), "UDP does not merge");
}
