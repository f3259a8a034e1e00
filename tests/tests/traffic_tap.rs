// SPDX-License-Identifier: MPL-2.0
//! Scenario 3, local part: two namespaces joined through two tap links.
//!
//! Namespace A sits on tap link `tap0`, namespace B on `tap1`; on the
//! application side an in-process forwarder (standing in for a VPN
//! daemon pair) moves every frame between the two links' queues.  Linux's
//! ARP crosses the links (tap links do not answer it), ping works, a TCP
//! transfer arrives intact, 802.1Q-tagged frames of a VLAN on top of the
//! TAPs pass at full size (the link's 4-byte margin), and the driver's,
//! the bridges' and Linux's counters add up.  Needs root.

use std::time::Duration;

use tuntap_abi::{create_flags, mode};
use tuntap_tests::app::{AppCounts, Forwarder, LinkAccount, MacStats, NsLink, Pace, Queue, eventually};
use tuntap_tests::tcp;
use tuntap_tests::*;

const SETTLE: Duration = Duration::from_secs(5);
const TCP_TIMEOUT: Duration = Duration::from_secs(20);

/// Two namespaces on two tap links, forwarded at full speed.
struct TapPair {
    fwd: Forwarder,
    a: NsLink,
    b: NsLink,
}

fn tap_pair(rig: &Rig, mtu: u32) -> TapPair {
    let a = NsLink::new(rig, "tap0", create_flags::TAP, mtu, "tap-a").expect("namespace A behind tap0");
    let b = NsLink::new(rig, "tap1", create_flags::TAP, mtu, "tap-b").expect("namespace B behind tap1");
    let qa = Queue::attach(rig, "tap0", mode::TAP).expect("queue on tap0");
    let qb = Queue::attach(rig, "tap1", mode::TAP).expect("queue on tap1");
    let fwd = Forwarder::start(qa, qb, Pace::FULL_SPEED, Pace::FULL_SPEED);
    a.addr_add("10.20.0.1/24").unwrap();
    b.addr_add("10.20.0.2/24").unwrap();
    TapPair { fwd, a, b }
}

#[test]
fn tap_links_carry_arp_ping_tcp_and_vlans() {
    let rig = Rig::new();
    let p = tap_pair(&rig, 0);
    let (a, b) = (&p.a, &p.b);

    p.a.ns.ping("10.20.0.2", 3, None).expect("ping A -> B across two tap links");
    let (ab, ba) = (p.fwd.a_to_b(), p.fwd.b_to_a());
    assert!(ab.arp >= 1 && ba.arp >= 1, "ARP request and reply crossed the links: {ab:?} {ba:?}");
    let neigh = a.ns.ip(&["neigh", "show", "10.20.0.2"]).unwrap();
    assert!(neigh.contains(&netns::format_mac(b.mac)), "A resolved B's link MAC: {neigh}");

    let t = tcp::transfer(&b.ns, "10.20.0.2", &a.ns, 4 << 20, TCP_TIMEOUT).expect("TCP A -> B");
    assert!(t.intact(), "the stream arrived intact: {t:?}");
    eprintln!("tap TCP: {} bytes in {:?} ({:.0} Mbit/s)", t.received_bytes, t.elapsed, t.mbit_per_s());

    // 802.1Q-tagged frames, up to the largest (1518 bytes: the link's
    // 4-byte margin), sent by A's kernel and received by B's.  (A raw
    // packet socket rather than a VLAN device: not every kernel has
    // 802.1Q built in.)
    let tx = a.ns.packet_socket("tap0").expect("packet socket in A");
    let rx = b.ns.packet_socket("tap1").expect("packet socket in B");
    let tagged_before = p.fwd.a_to_b().vlan_tagged;
    let sizes = [64usize, 1000, 1518];
    for (i, &len) in sizes.iter().enumerate() {
        tx.send(&vlan_frame(b.mac, a.mac, 100, i as u8, len)).expect("send a tagged frame");
    }
    for (i, &len) in sizes.iter().enumerate() {
        // Skip B's own traffic and A's IPv6 chatter; the kernel may take
        // the tag off on receive (reported aside).
        let sent = vlan_frame(b.mac, a.mac, 100, i as u8, len);
        expect_tagged(&rx, a.mac, &sent, &format!("tagged frame {i} ({len} bytes) to B"));
    }
    assert_eq!(p.fwd.a_to_b().vlan_tagged - tagged_before, 3, "the frames crossed the links tagged");

    // Freeze both sides and account for every frame.
    a.ns.ip(&["link", "set", "dev", "tap0", "down"]).unwrap();
    b.ns.ip(&["link", "set", "dev", "tap1", "down"]).unwrap();
    let (acc_a, acc_b) = eventually(SETTLE, || {
        let (ab, ba) = (p.fwd.a_to_b(), p.fwd.b_to_a());
        let acc_a = LinkAccount::check(&rig, a, AppCounts { read: ab.read, read_bytes: ab.read_bytes, written: ba.written })?;
        let acc_b = LinkAccount::check(&rig, b, AppCounts { read: ba.read, read_bytes: ba.read_bytes, written: ab.written })?;
        Ok((acc_a, acc_b))
    })
    .unwrap_or_else(|e| panic!("counters do not add up: {e}"));
    for acc in [&acc_a, &acc_b] {
        let m = &acc.mac;
        // noxmtbuf may count what Linux sent before the queues attached.
        assert_eq!((m.ierrors, m.oerrors, m.norcvbuf, m.unknowns), (0, 0, 0, 0), "no drop in the driver: {acc:#?}");
        assert_eq!(acc.resolver_replies, 0, "tap links leave ARP to the far end");
    }
    drop(p);
    rig.finish();
}

#[test]
fn oversize_frames_are_refused_and_counted_on_a_tap_link() {
    // Bad-input twin: a frame bigger than MTU + Ethernet + VLAN margin,
    // written by the application, is refused (ierrors) and never reaches
    // the namespace; the largest legal tagged frame does.
    let rig = Rig::new();
    let a = NsLink::new(&rig, "tap2", create_flags::TAP, 0, "tap-big").expect("namespace behind tap2");
    a.ns.ipv6_off("tap2").unwrap();
    let q = Queue::attach(&rig, "tap2", mode::TAP).expect("queue on tap2");
    let frame = |len: usize| {
        let mut f = vec![0u8; len];
        f[..6].copy_from_slice(&a.mac);
        f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x99]);
        f[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
        f[14..16].copy_from_slice(&7u16.to_be_bytes());
        f[16..18].copy_from_slice(&0x88b5u16.to_be_bytes()); // local experimental
        f
    };
    let before = MacStats::read(&rig, a.linkid).unwrap();
    let rx_before = a.ns.link_stats("tap2").unwrap().rx_packets;
    q.stream.write(&frame(1500 + 18)).expect("the largest tagged frame");
    let _ = q.stream.write(&frame(1500 + 18 + 1));
    let m = eventually(SETTLE, || {
        let m = MacStats::read(&rig, a.linkid).map_err(|e| e.0)?;
        let rx = a.ns.link_stats("tap2").map_err(|e| e.0)?.rx_packets;
        if m.ierrors == before.ierrors + 1 && m.ipackets == before.ipackets + 1 && rx == rx_before + 1 {
            Ok(m)
        } else {
            Err(format!("{m:?}, Linux rx {rx} (was {rx_before})"))
        }
    })
    .unwrap_or_else(|e| panic!("one frame passed, one refused: {e}"));
    assert_eq!(m.rbytes - before.rbytes, 1518);
    assert_eq!(a.bridge.stats().to_tap_bytes, 1518, "only the legal frame reached the TAP");
    q.stream.close();
    drop(a);
    rig.finish();
}
