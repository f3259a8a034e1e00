// SPDX-License-Identifier: MPL-2.0
//! Internet checksums (RFC 1071) for offload: finishing a partial
//! checksum whose field holds the pseudo-header sum, as illumos IP leaves
//! it (`ip_output_cksum_v4`, `usr/src/uts/common/inet/ip/ip_output.c`)
//! and Linux's `CHECKSUM_PARTIAL` does; and the header lengths the
//! virtio-net header reports.

/// The 1's complement sum of `bytes` as big-endian 16-bit words (odd
/// length: zero padded), plus `init`, folded to 16 bits (RFC 1071).
/// Adds 32-bit words into a 64-bit accumulator, which cannot overflow
/// for any packet, and folds once at the end.
pub fn ones_sum(bytes: &[u8], init: u32) -> u16 {
    let mut acc = u64::from(init);
    let mut words = bytes.chunks_exact(4);
    for w in words.by_ref() {
        if let Ok(a) = <[u8; 4]>::try_from(w) {
            acc = acc.wrapping_add(u64::from(u32::from_be_bytes(a)));
        }
    }
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    if let Some(t) = tail.get_mut(..rest.len()) {
        t.copy_from_slice(rest);
    }
    acc = acc.wrapping_add(u64::from(u32::from_be_bytes(tail)));
    while acc >> 16 != 0 {
        acc = (acc & 0xffff).wrapping_add(acc >> 16);
    }
    acc as u16
}

/// Finish the checksum of `packet[start..]` into the 16-bit field at
/// `stuff` (which holds the pseudo-header sum).  `false` if the offsets
/// do not fit the packet.
pub fn finish_checksum(packet: &mut [u8], start: usize, stuff: usize) -> bool {
    if start >= packet.len() || stuff < start || stuff.checked_add(2).is_none_or(|e| e > packet.len()) {
        return false;
    }
    let Some(region) = packet.get(start..) else { return false };
    let mut c = !ones_sum(region, 0);
    if c == 0 {
        c = 0xffff;
    }
    match packet.get_mut(stuff..stuff.saturating_add(2)) {
        Some(f) => {
            f.copy_from_slice(&c.to_be_bytes());
            true
        }
        None => false,
    }
}

/// Does `packet[start..]` (with its checksum field in place) sum to
/// all-ones, i.e. is its checksum right given the pseudo-header sum
/// `pseudo`?
pub fn checksum_ok(packet: &[u8], start: usize, pseudo: u16) -> bool {
    packet.get(start..).is_some_and(|r| ones_sum(r, u32::from(pseudo)) == 0xffff)
}

/// The IP header length of `ip` and whether it is IPv6 (no extension
/// headers: a large TCP segment from IP has none).
pub fn ip_header_len(ip: &[u8]) -> Option<(usize, bool)> {
    match ip.first()? >> 4 {
        4 => {
            let n = usize::from(ip.first()? & 0x0f) * 4;
            (n >= 20 && ip.len() >= n).then_some((n, false))
        }
        6 => (ip.len() >= 40).then_some((40, true)),
        _ => None,
    }
}

/// The TCP header length of `tcp` (its data offset).
pub fn tcp_header_len(tcp: &[u8]) -> Option<usize> {
    let n = usize::from(tcp.get(12)? >> 4) * 4;
    (n >= 20 && tcp.len() >= n).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finishing_a_partial_checksum_matches_a_full_one() {
        // A UDP datagram: pseudo-header sum in the field, then finished.
        let mut p = [0u8; 9];
        p[..8].copy_from_slice(&[0x30, 0x39, 0x00, 0x35, 0x00, 0x09, 0x00, 0x00]);
        p[8] = 0x61;
        let pseudo: u16 = 0x1234;
        p[6..8].copy_from_slice(&pseudo.to_be_bytes());
        assert!(finish_checksum(&mut p, 0, 6));
        // Summing with the pseudo-header sum removed from the field but
        // added back as `pseudo` gives all-ones.
        let field = u16::from_be_bytes([p[6], p[7]]);
        assert_ne!(field, pseudo);
        assert!(checksum_ok(&p, 0, pseudo));
        assert!(!checksum_ok(&p, 0, pseudo ^ 1));
        assert!(!finish_checksum(&mut p, 0, 8), "field past the end");
        assert!(!finish_checksum(&mut p, 9, 9), "start past the end");
    }

    #[test]
    fn header_lengths() {
        let mut v4 = [0u8; 40];
        v4[0] = 0x46;
        assert_eq!(ip_header_len(&v4), Some((24, false)));
        v4[0] = 0x44;
        assert_eq!(ip_header_len(&v4), None);
        let mut tcp = [0u8; 32];
        tcp[12] = 0x80;
        assert_eq!(tcp_header_len(&tcp), Some(32));
        tcp[12] = 0x40;
        assert_eq!(tcp_header_len(&tcp), None);
    }
}
