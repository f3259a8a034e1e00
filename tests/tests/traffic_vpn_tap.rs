// SPDX-License-Identifier: MPL-2.0
//! Scenario 3 with `tunneld`: namespaces A and B behind tap links
//! `vpna0` and `vpnb0`, joined by two daemons over TLS on loopback.
//! Linux's ARP crosses the tunnel (tap links leave it to the far end),
//! ping works, a TCP transfer arrives intact, and 802.1Q-tagged frames
//! (sent from raw packet sockets: this kernel may lack 802.1Q) arrive at
//! full size; every frame is accounted for.  Needs root.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tunneld::{Counters, Mode};
use tuntap_tests::app::{AppCounts, LinkAccount, MacStats, eventually};
use tuntap_tests::tcp;
use tuntap_tests::vpn::{ADDR_B, VpnPair};
use tuntap_tests::*;

const SETTLE: Duration = Duration::from_secs(10);
const TCP_TIMEOUT: Duration = Duration::from_secs(30);

fn get(c: &AtomicU64) -> u64 {
    Counters::get(c)
}

fn app_counts(c: &Counters) -> AppCounts {
    AppCounts { read: get(&c.tx_packets) + get(&c.tx_dropped_no_peer), read_bytes: get(&c.tx_bytes), written: get(&c.rx_packets) }
}

#[test]
fn tap_vpn_carries_arp_ping_tcp_and_vlan_frames() {
    let rig = Rig::new();
    let p = VpnPair::new(&rig, Mode::Tap, 1500, "vtap").expect("namespaces A and B on tap links joined by two tunneld");

    p.a.ns.ping(ADDR_B, 3, None).expect("ping A -> B through the tap VPN");
    p.a.ns.ping(ADDR_B, 1, Some(1472)).expect("full-MTU ping");
    // A resolved B's address to B's own link MAC: the ARP request and
    // reply crossed the tunnel.
    let neigh = p.a.ns.ip(&["neigh", "show", ADDR_B]).unwrap();
    assert!(neigh.contains(&netns::format_mac(p.b.mac)), "A learned B's MAC over the tunnel: {neigh}");

    let t = tcp::transfer(&p.b.ns, ADDR_B, &p.a.ns, 16 << 20, TCP_TIMEOUT).expect("TCP A -> B");
    assert!(t.intact(), "the stream arrived intact: {t:?}");

    let tx = p.a.ns.packet_socket("vpna0").expect("packet socket in A");
    let rx = p.b.ns.packet_socket("vpnb0").expect("packet socket in B");
    for (i, len) in [64usize, 1000, 1518].into_iter().enumerate() {
        let f = vlan_frame(p.b.mac, p.a.mac, 100 + i as u16, i as u8, len);
        tx.send(&f).expect("send a tagged frame");
        expect_tagged(&rx, p.a.mac, &f, &format!("tagged frame of {len} bytes"));
    }

    p.a.ns.ip(&["link", "set", "dev", "vpna0", "down"]).unwrap();
    p.b.ns.ip(&["link", "set", "dev", "vpnb0", "down"]).unwrap();
    let (c, s) = (p.client.counters(), p.server.counters());
    let (acc_a, acc_b) = eventually(SETTLE, || {
        let acc_a = LinkAccount::check(&rig, &p.a, app_counts(c))?;
        let acc_b = LinkAccount::check(&rig, &p.b, app_counts(s))?;
        if get(&c.tx_packets) != get(&s.rx_packets) || get(&s.tx_packets) != get(&c.rx_packets) {
            return Err(format!("the tunnel lost frames: client {}\nserver {}", c.summary(), s.summary()));
        }
        Ok((acc_a, acc_b))
    })
    .unwrap_or_else(|e| panic!("counters do not add up: {e}"));
    for acc in [&acc_a, &acc_b] {
        let m = &acc.mac;
        assert_eq!((m.ierrors, m.oerrors, m.norcvbuf, m.unknowns), (0, 0, 0, 0), "no drop in the driver: {acc:#?}");
        assert_eq!(acc.resolver_replies, 0, "tap links leave ARP to the far end");
    }
    assert_eq!(get(&c.tx_dropped_no_peer) + get(&s.tx_dropped_no_peer), 0, "nothing read before the session was up");
    drop(p);
    rig.finish();
}

#[test]
fn a_tagged_frame_too_big_for_the_far_link_is_dropped_and_counted() {
    // Bad-input twin: A's tap link takes 9000 bytes, B's 1500.  A tagged
    // 9018-byte frame from A reaches B's daemon, which refuses it
    // (rx_oversize): B's namespace never sees it.  The largest frame B's
    // link carries (1518 bytes, tagged) still crosses after it.
    let rig = Rig::new();
    let p = VpnPair::with_mtus(&rig, Mode::Tap, 9000, 1500, "vtapmix").expect("tap VPN with MTUs 9000 and 1500");
    let tx = p.a.ns.packet_socket("vpna0").expect("packet socket in A");
    let rx = p.b.ns.packet_socket("vpnb0").expect("packet socket in B");
    let s = p.server.counters().clone();
    let rx_before = p.b.ns.link_stats("vpnb0").unwrap().rx_packets;
    tx.send(&vlan_frame(p.b.mac, p.a.mac, 7, 0xee, 9018)).expect("A's link carries 9018 bytes");
    eventually(SETTLE, || if get(&s.rx_oversize) == 1 { Ok(()) } else { Err(s.summary()) })
        .unwrap_or_else(|e| panic!("B's daemon must count the oversize frame: {e}"));
    let ok = vlan_frame(p.b.mac, p.a.mac, 7, 0x11, 1518);
    tx.send(&ok).expect("send the largest legal frame");
    expect_tagged(&rx, p.a.mac, &ok, "the 1518-byte tagged frame");
    assert_eq!(p.b.ns.link_stats("vpnb0").unwrap().rx_packets, rx_before + 1, "only the legal frame reached B");
    let m = MacStats::read(&rig, p.b.linkid).unwrap();
    assert_eq!(m.ierrors, 0, "the driver never saw the oversize frame: {m:?}");
    assert_eq!(get(&s.disconnects), 0, "an oversize frame does not end the session: {}", s.summary());
    drop(p);
    rig.finish();
}
