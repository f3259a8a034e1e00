// SPDX-License-Identifier: MPL-2.0
//! Scenario 1: real traffic through a tun link.
//!
//! A Linux network namespace with 10.9.0.1/24 and fd00:9::1/64 on its TAP
//! plays illumos IP on a simulated tun link; an application-side
//! responder attached through `/dev/tun` answers echo requests.  Linux's
//! ARP and neighbour solicitations are answered by the driver; `ping`
//! works for IPv4 and IPv6; every frame is accounted for in the driver's
//! counters, the bridge's and Linux's.  Needs root (network namespaces).

use std::time::Duration;

use tuntap_abi::{create_flags, mode};
use tuntap_tests::app::{MacStats, NsLink, Queue, Responder, eventually};
use tuntap_tests::*;

const SETTLE: Duration = Duration::from_secs(5);

#[test]
fn tun_link_answers_resolution_and_carries_ping_both_families() {
    let rig = Rig::new();
    let a = NsLink::new(&rig, "tun0", create_flags::TUN, 0, "tun-a").expect("namespace behind tun0");
    assert!(
        !a.bridge.client().wait_link_state(tuntap_drv::ddi::LinkState::Up, Duration::from_millis(100)),
        "no queue attached yet: the link must not be up"
    );
    // With no queue the link is down and the bridge keeps the TAP's
    // carrier off: what Linux tries to send meanwhile it drops itself.
    assert!(carrier_off(&a), "Linux sees no carrier while the link is down");
    let q = Queue::attach(&rig, "tun0", mode::TUN).expect("attach the responder's queue");
    assert!(a.bridge.client().wait_link_state(tuntap_drv::ddi::LinkState::Up, WAIT), "a queue brings the link up");
    // Linux turns the carrier on at once but swaps its no-op qdisc (which
    // counts every frame as tx_dropped) for the real one only when its
    // linkwatch work runs (net/core/link_watch.c linkwatch_do_dev: the
    // operational state first, then dev_activate). So the baseline is
    // taken once the operational state is UP, not at the carrier flag.
    eventually(SETTLE, || if oper_up(&a) { Ok(()) } else { Err("operational state not UP".to_string()) })
        .expect("the TAP's carrier and operational state follow the link up");
    let linux_at_up = a.ns.link_stats("tun0").unwrap();
    let responder = Responder::start(q);
    a.addr_add("10.9.0.1/24").unwrap();
    a.addr_add("fd00:9::1/64").unwrap();

    let v4 = a.ns.ping("10.9.0.2", 3, None).expect("IPv4 ping through the tun link");
    // A full-size packet (1500-byte IP datagram, DF set) fits the link.
    let v4_big = a.ns.ping("10.9.0.2", 1, Some(1472)).expect("full-MTU IPv4 ping");
    let v6 = a.ns.ping("fd00:9::2", 3, None).expect("IPv6 ping after neighbour discovery");

    // The peer's MAC in Linux's neighbour table is the one the driver
    // answered with.
    let neigh = a.ns.ip(&["neigh", "show", "dev", "tun0"]).unwrap();
    let peer = tuntap_tests::netns::format_mac(a.peer_mac);
    for ip in ["10.9.0.2", "fd00:9::2"] {
        let line = neigh.lines().find(|l| l.starts_with(&format!("{ip} "))).unwrap_or_else(|| {
            panic!("no neighbour entry for {ip}:\n{neigh}")
        });
        assert!(line.contains(&peer), "{ip} resolved to the driver's peer MAC {peer}: {line}");
    }
    // The driver did not answer Linux's duplicate address detection of
    // its link-local address (that would mark it dadfailed).
    let addrs = a.ns.ip(&["-6", "addr", "show", "dev", "tun0"]).unwrap();
    assert!(!addrs.contains("dadfailed"), "DAD probes must not be answered:\n{addrs}");

    // Freeze the Linux side, then every frame must be accounted for.
    a.ns.ip(&["link", "set", "dev", "tun0", "down"]).unwrap();
    let checked = eventually(SETTLE, || {
        let r = responder.stats();
        let b = a.bridge.stats();
        let client = a.bridge.client();
        let m = MacStats::read(&rig, a.linkid).map_err(|e| e.to_string())?;
        let info = rig.info(a.linkid).counters;
        let linux = a.ns.link_stats("tun0").map_err(|e| e.to_string())?;
        let all = format!("responder {r:?}\nbridge {b:?}\nmac {m:?}\ninfo {info:?}\nlinux {linux:?}");
        let checks = [
            (linux.tx_packets == b.to_mac_frames, "every frame Linux sent was bridged"),
            (client.tx_accepted() == b.to_mac_frames && client.tx_backlog() == 0, "mc_tx took every frame"),
            (
                b.to_mac_frames == m.opackets + info.resolver_replies + m.drops(),
                "each frame is delivered, answered by the resolver, or counted as a drop",
            ),
            (r.read == m.opackets, "the queue got exactly the packets counted as opackets"),
            (r.read_bytes == m.obytes, "and their bytes"),
            (m.ipackets == r.replied_v4 + r.replied_v6, "every reply passed up"),
            (m.rbytes == r.written_bytes + 14 * m.ipackets, "rbytes counts the framed replies"),
            (b.to_tap_frames == m.ipackets + info.resolver_replies, "everything passed up reached Linux"),
            (linux.rx_packets == b.to_tap_frames, "and Linux received it"),
            (info.opackets == m.opackets && info.ipackets == m.ipackets, "INFO agrees with mc_getstat"),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, what)) => Err(format!("{what}:\n{all}")),
            None => Ok((r, m, info, linux)),
        }
    });
    let (r, m, info, linux) = checked.unwrap_or_else(|e| panic!("counters do not add up: {e}"));
    assert_eq!(u64::from(v4.sent + v4_big.sent), r.replied_v4, "each IPv4 echo answered once");
    assert_eq!(u64::from(v6.sent), r.replied_v6, "each IPv6 echo answered once");
    assert_eq!(r.write_errors, 0);
    assert!(info.resolver_replies >= 2, "at least one ARP reply and one neighbour advertisement: {info:?}");
    assert_eq!((m.ierrors, m.norcvbuf, m.unknowns), (0, 0, 0), "no drop in the driver: {m:?}");
    assert_eq!(linux.tx_dropped, linux_at_up.tx_dropped, "Linux dropped nothing once the link was up");

    // Bad input from the application: a write that is not an IP packet is
    // refused, counted, and never reaches Linux.
    let q = responder.stop();
    let to_tap = a.bridge.stats().to_tap_frames;
    let before = MacStats::read(&rig, a.linkid).unwrap();
    let _ = q.write(&[0x55; 60]);
    let after = eventually(SETTLE, || {
        let m = MacStats::read(&rig, a.linkid).map_err(|e| e.to_string())?;
        if m.ierrors == before.ierrors + 1 { Ok(m) } else { Err(format!("{m:?}")) }
    })
    .unwrap_or_else(|e| panic!("a garbage write must count one ierror: {e}"));
    assert_eq!(after.ipackets, before.ipackets, "nothing passed up");
    rig.host.settle(WAIT);
    assert_eq!(a.bridge.stats().to_tap_frames, to_tap, "nothing reached Linux");

    // The application leaves: the link goes down, and so does the
    // carrier Linux sees.
    q.close();
    assert!(a.bridge.client().wait_link_state(tuntap_drv::ddi::LinkState::Down, WAIT), "the last queue took the link down");
    a.ns.ip(&["link", "set", "dev", "tun0", "up"]).unwrap();
    eventually(SETTLE, || if carrier_off(&a) { Ok(()) } else { Err("carrier still on".to_string()) })
        .expect("the TAP's carrier follows the link down");
    drop(a);
    rig.finish();
}

/// Does Linux report NO-CARRIER on the namespace's TAP?
fn carrier_off(l: &NsLink) -> bool {
    l.ns.ip(&["link", "show", "dev", l.ifname()]).expect("ip link show").contains("NO-CARRIER")
}

/// Carrier on and the operational state UP: Linux's linkwatch has run
/// (`ip link show` prints `state UP` from the device's operstate).
fn oper_up(l: &NsLink) -> bool {
    let show = l.ns.ip(&["link", "show", "dev", l.ifname()]).expect("ip link show");
    !show.contains("NO-CARRIER") && show.contains(" state UP ")
}

#[test]
fn ping_without_an_application_queue_fails_and_counts_noxmtbuf() {
    // Bad-input twin: with no queue attached there is nobody to read, so
    // IP packets are dropped (counted), and ping gets no reply.
    let rig = Rig::new();
    let a = NsLink::new(&rig, "tun1", create_flags::TUN, 0, "tun-noq").expect("namespace behind tun1");
    a.addr_add("10.9.1.1/24").unwrap();
    // Carrier follows the link state: force it on so Linux transmits.
    a.bridge.tap().set_carrier(true).unwrap();
    let err = a.ns.ping_within("10.9.1.2", 2, None, 2).expect_err("nobody answers");
    assert!(err.to_string().contains("did not get 2 replies"), "{err}");
    let m = eventually(SETTLE, || {
        let m = MacStats::read(&rig, a.linkid).map_err(|e| e.to_string())?;
        if m.noxmtbuf >= 2 { Ok(m) } else { Err(format!("{m:?}")) }
    })
    .unwrap_or_else(|e| panic!("the echo requests must be counted as noxmtbuf drops: {e}"));
    assert_eq!(m.opackets, 0, "nothing delivered: {m:?}");
    drop(a);
    rig.finish();
}
