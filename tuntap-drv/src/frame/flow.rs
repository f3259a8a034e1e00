// SPDX-License-Identifier: MPL-2.0
//! Flow hashing: which queue of a multi-queue link a packet goes to.
//! Pure functions; see `frame/mod.rs`.

use super::*;

// ===== flow hashing =====

/// What identifies a flow.  All-zero when the packet is too short or not
/// IP, so such packets all hash alike.
#[derive(Default)]
pub(super) struct FlowKey {
    src: [u8; 16],
    dst: [u8; 16],
    protocol: u8,
    ports: Option<[u8; 4]>,
}

/// Does this protocol put 16-bit source and destination ports first?
pub(super) fn has_ports(protocol: u8) -> bool {
    matches!(protocol, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP)
}

pub(super) fn ipv4_flow_key(ip: &[u8]) -> Option<FlowKey> {
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

pub(super) fn ipv6_flow_key(ip: &[u8]) -> Option<FlowKey> {
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
pub(super) fn fnv1a(mut hash: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        hash = (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193);
    }
    hash
}

/// MurmurHash3's finaliser: spreads every input bit over the result, so
/// that `hash % queues` is balanced.
pub(super) fn avalanche(mut h: u32) -> u32 {
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

