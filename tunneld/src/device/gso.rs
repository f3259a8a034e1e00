// SPDX-License-Identifier: MPL-2.0
//! What a packet read behind a virtio-net header (`TUN_IOC_OFFLOAD` on
//! illumos, `IFF_VNET_HDR` on Linux: the same `struct virtio_net_hdr`,
//! [`tuntap_abi::offload`]) stands for, as packets the data channel
//! carries: a partial checksum (`NEEDS_CSUM`) is finished, a large TCP
//! segment (`GSO_TCPV4`/`GSO_TCPV6`, ECN bit or not) is cut into
//! `gso_size`-byte segments, each with its own headers and full
//! checksums, as a NIC (or illumos mac's emulation, `mac_sw_lso` in
//! `usr/src/uts/common/io/mac/mac_util.c`, or Linux's `tcp_gso_segment`)
//! would: IPv4 total length, identification (+1 per segment) and header
//! checksum, IPv6 payload length, TCP sequence number; CWR only on the
//! first segment, FIN and PSH only on the last.  `DATA_VALID` and no
//! flags leave the packet as it is.
//!
//! A header that does not describe its packet (offsets outside it, a GSO
//! type that is not TCP of the packet's IP version, `gso_size` 0) is an
//! error: the packet is dropped whole by the caller, never half sent.
//!
//! Writes to an offloading queue carry a header of zeros
//! ([`WRITE_HDR`]): the packet is complete, the stack checks it.

use tuntap_abi::offload::{
    self as off, VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN, VNET_HDR_LEN, VirtioNetHdr,
};

/// The header in front of each packet written to an offloading queue:
/// no checksum to finish, no segmentation, nothing vouched for.
pub const WRITE_HDR: [u8; VNET_HDR_LEN] = [0; VNET_HDR_LEN];

/// `packet` behind [`WRITE_HDR`], for a write of one packet on an
/// offloading queue: the driver reads a virtio-net header in front of
/// every write on such a queue, batched or not (tuntap-drv
/// `driver/streams.rs` `handle_data`), so a bare packet would lose its
/// first bytes to the header and be refused.
pub fn with_write_hdr(packet: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(VNET_HDR_LEN + packet.len());
    b.extend_from_slice(&WRITE_HDR);
    b.extend_from_slice(packet);
    b
}

const TH_FIN: u8 = 0x01;
const TH_PSH: u8 = 0x08;
const TH_CWR: u8 = 0x80;

/// The RFC 1071 sum of `b` (big-endian 16-bit words, odd length zero
/// padded) added to `init`, folded to 16 bits.
pub fn ones_sum(b: &[u8], init: u32) -> u16 {
    let mut acc = u64::from(init);
    let mut words = b.chunks_exact(2);
    for w in words.by_ref() {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    if let Some(f) = b.get_mut(at..at + 2) {
        f.copy_from_slice(&v.to_be_bytes());
    }
}

/// The header from the first [`VNET_HDR_LEN`] bytes of a read.
pub fn header(read: &[u8]) -> Option<(VirtioNetHdr, &[u8])> {
    let (h, packet) = (read.get(..VNET_HDR_LEN)?, read.get(VNET_HDR_LEN..)?);
    tuntap_abi::decode::<VirtioNetHdr>(h).ok().map(|h| (h, packet))
}

/// Hand `emit` the packets `packet` (read behind `hdr`, with `l2` bytes of
/// link header in front of its IP header) stands for; how many, or why
/// the header does not describe the packet (nothing was emitted).
pub fn expand(hdr: &VirtioNetHdr, packet: &[u8], l2: usize, emit: &mut dyn FnMut(&[u8])) -> Result<usize, &'static str> {
    if hdr.flags & !(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID) != 0 {
        return Err("unknown virtio-net header flags");
    }
    match hdr.gso_type & !VIRTIO_NET_HDR_GSO_ECN {
        off::VIRTIO_NET_HDR_GSO_NONE if hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 => {
            let mut p = packet.to_vec();
            let (start, stuff) = (usize::from(hdr.csum_start()), usize::from(hdr.csum_start()) + usize::from(hdr.csum_offset()));
            if start >= p.len() || stuff + 2 > p.len() {
                return Err("checksum offsets outside the packet");
            }
            // A UDP checksum of 0 means none: its 1's complement twin.
            let c = match !ones_sum(&p[start..], 0) {
                0 => 0xffff,
                c => c,
            };
            put16(&mut p, stuff, c);
            emit(&p);
            Ok(1)
        }
        off::VIRTIO_NET_HDR_GSO_NONE => {
            emit(packet);
            Ok(1)
        }
        t @ (off::VIRTIO_NET_HDR_GSO_TCPV4 | off::VIRTIO_NET_HDR_GSO_TCPV6) => segment(packet, l2, t == off::VIRTIO_NET_HDR_GSO_TCPV6, hdr.gso_size(), emit),
        _ => Err("a GSO type other than TCP"),
    }
}

/// Cut a large TCP segment into segments of at most `mss` payload bytes.
fn segment(packet: &[u8], l2: usize, v6: bool, mss: u16, emit: &mut dyn FnMut(&[u8])) -> Result<usize, &'static str> {
    let ip = packet.get(l2..).ok_or("shorter than its link header")?;
    let l3 = match (ip.first().map(|b| b >> 4), v6) {
        (Some(4), false) => usize::from(ip[0] & 0x0f) * 4,
        (Some(6), true) => 40,
        _ => return Err("the GSO type does not match the IP version"),
    };
    let proto = if v6 { ip.get(6) } else { ip.get(9) };
    if l3 < 20 || proto != Some(&6) {
        return Err("a large segment that is not TCP");
    }
    let l4 = ip.get(l3 + 12).map(|b| usize::from(b >> 4) * 4).filter(|&n| n >= 20).ok_or("TCP header cut short")?;
    let headers = l2 + l3 + l4;
    let payload = packet.get(headers..).ok_or("TCP header cut short")?;
    if mss == 0 {
        return Err("gso_size 0");
    }
    let seq = u32::from_be_bytes(ip.get(l3 + 4..l3 + 8).and_then(|b| b.try_into().ok()).ok_or("TCP header cut short")?);
    let flags = ip[l3 + 13];
    let id = u16::from_be_bytes([ip[4], ip[5]]);
    let chunks: Vec<&[u8]> = if payload.is_empty() { vec![payload] } else { payload.chunks(usize::from(mss)).collect() };
    let last = chunks.len() - 1;
    let mut seg = Vec::with_capacity(headers + usize::from(mss));
    for (i, chunk) in chunks.iter().enumerate() {
        seg.clear();
        seg.extend_from_slice(&packet[..headers]);
        seg.extend_from_slice(chunk);
        let (ip, tcp_len) = (&mut seg[l2..], l4 + chunk.len());
        let pseudo = if v6 {
            put16(ip, 4, tcp_len as u16);
            u32::from(ones_sum(&ip[8..40], 0)) + 6 + tcp_len as u32
        } else {
            put16(ip, 2, (l3 + tcp_len) as u16);
            put16(ip, 4, id.wrapping_add(i as u16));
            put16(ip, 10, 0);
            let c = !ones_sum(&ip[..l3], 0);
            put16(ip, 10, c);
            u32::from(ones_sum(&ip[12..20], 0)) + 6 + tcp_len as u32
        };
        let tcp = &mut ip[l3..];
        tcp[4..8].copy_from_slice(&seq.wrapping_add((i * usize::from(mss)) as u32).to_be_bytes());
        let mut f = flags;
        if i != 0 {
            f &= !TH_CWR;
        }
        if i != last {
            f &= !(TH_FIN | TH_PSH);
        }
        tcp[13] = f;
        put16(tcp, 16, 0);
        let c = !ones_sum(tcp, pseudo);
        put16(tcp, 16, c);
        emit(&seg);
    }
    Ok(chunks.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tuntap_abi::offload::{VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP};

    /// A TCP segment of `payload` bytes (pattern from `seq`), checksum
    /// either full or the pseudo-header sum (partial).
    fn tcp(v6: bool, seq: u32, payload: usize, flags: u8, partial: bool) -> Vec<u8> {
        let seg_len = 20 + payload;
        let mut t = vec![0u8; seg_len];
        t[0..4].copy_from_slice(&[0x0f, 0xa0, 0x14, 0x51]);
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[12] = 0x50;
        t[13] = flags;
        for (i, b) in t[20..].iter_mut().enumerate() {
            *b = (seq as usize + i) as u8;
        }
        let (mut ip, pseudo) = if v6 {
            let mut ip = vec![0u8; 40];
            ip[0] = 0x60;
            put16(&mut ip, 4, seg_len as u16);
            ip[6] = 6;
            ip[7] = 64;
            ip[23] = 1;
            ip[39] = 2;
            let p = u32::from(ones_sum(&ip[8..40], 0)) + 6 + seg_len as u32;
            (ip, p)
        } else {
            let mut ip = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
            put16(&mut ip, 2, (20 + seg_len) as u16);
            let c = !ones_sum(&ip, 0);
            put16(&mut ip, 10, c);
            let p = u32::from(ones_sum(&ip[12..20], 0)) + 6 + seg_len as u32;
            (ip, p)
        };
        let c = if partial { ones_sum(&[], pseudo) } else { !ones_sum(&t, pseudo) };
        put16(&mut t, 16, c);
        ip.extend_from_slice(&t);
        ip
    }

    fn checksums_ok(ip: &[u8]) -> bool {
        let v6 = ip[0] >> 4 == 6;
        let l3 = if v6 { 40 } else { 20 };
        let pseudo = if v6 { u32::from(ones_sum(&ip[8..40], 0)) } else { u32::from(ones_sum(&ip[12..20], 0)) } + 6 + (ip.len() - l3) as u32;
        (v6 || ones_sum(&ip[..20], 0) == 0xffff) && ones_sum(&ip[l3..], pseudo) == 0xffff
    }

    fn run(h: VirtioNetHdr, p: &[u8], l2: usize) -> Result<Vec<Vec<u8>>, &'static str> {
        let mut out = Vec::new();
        let n = expand(&h, p, l2, &mut |s| out.push(s.to_vec()))?;
        assert_eq!(n, out.len());
        Ok(out)
    }

    #[test]
    fn every_header_the_driver_writes_is_turned_into_whole_packets() {
        for v6 in [false, true] {
            let l3 = if v6 { 40u16 } else { 20 };
            let gso = if v6 { VIRTIO_NET_HDR_GSO_TCPV6 } else { VIRTIO_NET_HDR_GSO_TCPV4 };
            // No flags, DATA_VALID: as is.
            let full = tcp(v6, 7, 100, 0x18, false);
            for flags in [0, VIRTIO_NET_HDR_F_DATA_VALID] {
                assert_eq!(run(VirtioNetHdr::new(flags, VIRTIO_NET_HDR_GSO_NONE, 0, 0, 0, 0), &full, 0).unwrap(), vec![full.clone()]);
            }
            // NEEDS_CSUM: finished.
            let partial = tcp(v6, 7, 101, 0x18, true);
            let got = run(VirtioNetHdr::new(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, 0, 0, l3, 16), &partial, 0).unwrap();
            assert_eq!(got, vec![tcp(v6, 7, 101, 0x18, false)], "v6 {v6}: partial checksum finished");
            // GSO (with and without ECN), on tun and behind a 14-byte
            // Ethernet header (tap): segments of gso_size, the flags and
            // sequence numbers of a real sender, payload joined back exact.
            for (ecn, l2) in [(0, 0usize), (VIRTIO_NET_HDR_GSO_ECN, 0), (0, 14)] {
                let big = tcp(v6, 1000, 5000, 0x80 | 0x18 | 0x01, true);
                let mut framed = vec![0xee; l2];
                framed.extend_from_slice(&big);
                let h = VirtioNetHdr::new(VIRTIO_NET_HDR_F_NEEDS_CSUM, gso | ecn, l2 as u16 + l3 + 20, 1448, l2 as u16 + l3, 16);
                let segs = run(h, &framed, l2).unwrap();
                assert_eq!(segs.len(), 4, "5000 bytes in 1448-byte segments");
                let mut joined = Vec::new();
                for (i, s) in segs.iter().enumerate() {
                    assert_eq!(&s[..l2], &framed[..l2]);
                    let ip = &s[l2..];
                    assert!(checksums_ok(ip), "v6 {v6} segment {i}: checksums");
                    let tcp = &ip[l3 as usize..];
                    assert_eq!(u32::from_be_bytes(tcp[4..8].try_into().unwrap()), 1000 + 1448 * i as u32);
                    let want = match i {
                        0 => 0x90,
                        3 => 0x19,
                        _ => 0x10,
                    };
                    assert_eq!(tcp[13], want, "segment {i}: CWR first, PSH/FIN last");
                    assert!(ip.len() <= l3 as usize + 20 + 1448);
                    if !v6 {
                        assert_eq!(u16::from_be_bytes([ip[4], ip[5]]), 0x1234 + i as u16);
                    }
                    joined.extend_from_slice(&tcp[20..]);
                }
                assert_eq!(joined, big[l3 as usize + 20..], "payload byte-exact");
            }
        }
    }

    #[test]
    fn a_header_that_does_not_describe_its_packet_emits_nothing() {
        let v4 = tcp(false, 1, 3000, 0x10, true);
        let bad = [
            VirtioNetHdr::new(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 40, 1448, 20, 16),
            VirtioNetHdr::new(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP, 40, 1448, 20, 16),
            VirtioNetHdr::new(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 40, 0, 20, 16),
            VirtioNetHdr::new(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, 0, 0, 4000, 16),
            VirtioNetHdr::new(0x40, VIRTIO_NET_HDR_GSO_NONE, 0, 0, 0, 0),
        ];
        for h in bad {
            let mut n = 0;
            assert!(expand(&h, &v4, 0, &mut |_| n += 1).is_err(), "{h:?}");
            assert_eq!(n, 0);
        }
        let h = VirtioNetHdr::new(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 40, 1448, 20, 16);
        assert!(expand(&h, &v4[..30], 0, &mut |_| ()).is_err(), "TCP header cut short");
    }
}
