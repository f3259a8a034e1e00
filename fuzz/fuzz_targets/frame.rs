// SPDX-License-Identifier: MPL-2.0
//! Fuzz every function of tuntap-drv/src/frame/.  The module is pure
//! (core only), so it is compiled in directly rather than through the
//! driver crate.  Besides "never panics", it checks the invariants the
//! driver relies on.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../tuntap-drv/src/frame/mod.rs"]
mod frame;

use frame::*;
use frame::flow::flow_hash;
use frame::resolver::answer_resolver;

fn mac_at(data: &[u8], off: usize) -> MacAddr {
    let mut m = [0u8; ETHER_ADDR_LEN];
    for (i, b) in m.iter_mut().enumerate() {
        *b = data.get(off + i).copied().unwrap_or(0);
    }
    m
}

fuzz_target!(|input: &[u8]| {
    // The first 8 bytes choose parameters; the rest is the packet.
    let (params, data) = input.split_at(input.len().min(8));
    let mut p = [0u8; 8];
    p[..params.len()].copy_from_slice(params);
    let mtu = u32::from(u16::from_le_bytes([p[0], p[1]]));
    let extra = usize::from(p[2]);
    let peer = local_unicast_mac([p[3], p[4], p[5], p[6], p[7], p[2]]);
    assert!(is_valid_unicast(&peer));

    // Ethernet.
    if let Some(h) = parse_ether(data) {
        assert!(h.header_len == ETHER_HDR_LEN || h.header_len == ETHER_HDR_LEN + VLAN_TAG_LEN);
        assert!(h.header_len <= data.len());
        assert_eq!(h.vlan.is_some(), h.header_len != ETHER_HDR_LEN);
        let _ = classify(&h.dst);
        let rebuilt = ether_header(&h.dst, &h.src, h.ethertype);
        if h.vlan.is_none() {
            assert_eq!(&rebuilt[..], &data[..ETHER_HDR_LEN]);
        }
    } else {
        assert!(data.len() < ETHER_HDR_LEN + VLAN_TAG_LEN);
    }
    if let Some(off) = tun_payload_offset(data) {
        assert!(off < data.len());
    }

    // Resolver: the reply is one of two fixed sizes, from the peer, to a
    // unicast station.
    let mut out = [0u8; RESOLVER_REPLY_MAX];
    if let Some(n) = answer_resolver(data, &peer, &mut out) {
        assert!(n == ARP_REPLY_LEN || n == NA_REPLY_LEN, "reply length {n}");
        let reply = parse_ether(&out[..n]).expect("reply has a header");
        assert_eq!(reply.src, peer);
        assert!(is_valid_unicast(&reply.dst));
        assert!(reply.vlan.is_none());
        // A reply is never itself a request we would answer.
        let mut again = [0u8; RESOLVER_REPLY_MAX];
        assert_eq!(answer_resolver(&out[..n], &peer, &mut again), None);
    }

    // Write validation, with the packet's own length, a longer claimed
    // length (caller pulled up only a prefix) and extremes.
    for len in [data.len(), data.len().saturating_add(extra), 0, usize::MAX] {
        match check_tun_packet(data, len, mtu) {
            Ok(et) => {
                assert!(len > 0 && len <= mtu as usize);
                assert_eq!(Some(et), data.first().and_then(|b| ethertype_for_ip(*b)));
            }
            Err(WriteError::TooLong { len: l, max }) => assert!(l == len && l > max),
            Err(_) => {}
        }
        match check_tap_frame(data, len, mtu) {
            Ok(()) => {
                let h = parse_ether(data).expect("accepted frame has a header");
                assert!(len >= h.header_len && len <= mtu as usize + h.header_len);
            }
            Err(WriteError::TooLong { len: l, max }) => assert!(l == len && l > max),
            Err(_) => {}
        }
    }

    // Flow hash: deterministic, and the same for every ethertype guess.
    for et in [ETHERTYPE_IP, ETHERTYPE_IPV6, ETHERTYPE_ARP, u16::from_le_bytes([p[2], p[3]])] {
        assert_eq!(flow_hash(et, data), flow_hash(et, data));
    }
    if let Some(b) = data.first() {
        let _ = ethertype_for_ip(*b);
    }
    let m = mac_at(data, 0);
    let _ = classify(&m);
    let _ = is_valid_unicast(&m);
    let lm = local_unicast_mac(m);
    assert!(is_valid_unicast(&lm));
    assert_eq!(classify(&lm), AddrClass::Unicast);
});
