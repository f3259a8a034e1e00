// SPDX-License-Identifier: MPL-2.0
//! Scenario 2: a VPN through the driver.  Namespaces A and B sit behind
//! tun links `vpna0` and `vpnb0` of the simulated host; two `tunneld`
//! daemons (client on A's link, server on B's) join the links over TLS
//! 1.3 on loopback, with certificates made at test time.  `ping` A -> B
//! works and a 100 MB TCP transfer arrives with the digest it was sent
//! with, at MTU 1500 and 9000; every packet is accounted for in Linux's,
//! the bridges', the driver's and the daemons' counters.  Needs root.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tunneld::{Counters, Mode};
use tuntap_tests::app::{AppCounts, LinkAccount, MacStats, eventually};
use tuntap_tests::tcp;
use tuntap_tests::vpn::{ADDR_B, VpnPair};
use tuntap_tests::*;

const SETTLE: Duration = Duration::from_secs(10);
const TCP_TIMEOUT: Duration = Duration::from_secs(60);
const TRANSFER: u64 = 100 << 20;

fn get(c: &AtomicU64) -> u64 {
    Counters::get(c)
}

/// What a daemon did with its link, as the harness's [`AppCounts`].
fn app_counts(c: &Counters) -> AppCounts {
    AppCounts { read: get(&c.tx_packets) + get(&c.tx_dropped_no_peer), read_bytes: get(&c.tx_bytes), written: get(&c.rx_packets) }
}

/// Freeze both namespaces and check every counter on both paths: Linux,
/// bridge, driver, daemon; and that the tunnel lost nothing between the
/// daemons.
fn account(rig: &Rig, p: &VpnPair) -> (LinkAccount, LinkAccount) {
    p.a.ns.ip(&["link", "set", "dev", "vpna0", "down"]).unwrap();
    p.b.ns.ip(&["link", "set", "dev", "vpnb0", "down"]).unwrap();
    let (c, s) = (p.client.counters(), p.server.counters());
    eventually(SETTLE, || {
        let acc_a = LinkAccount::check(rig, &p.a, app_counts(c))?;
        let acc_b = LinkAccount::check(rig, &p.b, app_counts(s))?;
        let tunnel = [
            (get(&c.tx_packets) == get(&s.rx_packets) + get(&s.rx_oversize) + get(&s.rx_malformed), "A -> B: every packet arrived"),
            (get(&s.tx_packets) == get(&c.rx_packets) + get(&c.rx_oversize) + get(&c.rx_malformed), "B -> A: every packet arrived"),
        ];
        match tunnel.iter().find(|(ok, _)| !ok) {
            Some((_, what)) => Err(format!("{what}: client {}\nserver {}", c.summary(), s.summary())),
            None => Ok((acc_a, acc_b)),
        }
    })
    .unwrap_or_else(|e| panic!("counters do not add up: {e}"))
}

fn ping_and_transfer(mtu: u32) {
    let rig = Rig::new();
    let label = format!("vpn{mtu}");
    let p = VpnPair::new(&rig, Mode::Tun, mtu, &label).expect("namespaces A and B joined by two tunneld");

    let ping = p.a.ns.ping(ADDR_B, 3, None).expect("ping A -> B through the VPN");
    assert_eq!(ping.sent, 3);
    // The largest datagram the links carry, with DF set, crosses whole.
    let full = p.a.ns.ping(ADDR_B, 2, Some(mtu - 28)).expect("full-MTU ping A -> B");
    assert_eq!(full.sent, 2);
    let neigh = p.a.ns.ip(&["neigh", "show", ADDR_B]).unwrap();
    assert!(neigh.contains(&netns::format_mac(p.a.peer_mac)), "A resolved B's address to the driver's peer MAC: {neigh}");

    let t = tcp::transfer(&p.b.ns, ADDR_B, &p.a.ns, TRANSFER, TCP_TIMEOUT).expect("100 MB TCP A -> B");
    assert!(t.intact(), "the 100 MB stream arrived intact: {t:?}");
    eprintln!("VPN mtu {mtu}: {} bytes in {:?} ({:.0} Mbit/s)", t.received_bytes, t.elapsed, t.mbit_per_s());

    let (acc_a, acc_b) = account(&rig, &p);
    let (c, s) = (p.client.counters(), p.server.counters());
    assert_eq!(get(&c.tx_dropped_no_peer), 0, "nothing reached A's daemon before its session was up");
    assert!(get(&c.tx_bytes) > TRANSFER, "the stream went through A's daemon: {}", c.summary());
    for (who, k) in [("client", c), ("server", s)] {
        let errors = [&k.rx_oversize, &k.rx_malformed, &k.rx_garbage, &k.device_read_errors, &k.device_write_errors];
        assert!(errors.iter().all(|e| get(e) == 0), "{who}: no error: {}", k.summary());
        assert_eq!((get(&k.connects), get(&k.disconnects)), (1, 0), "{who}: one session: {}", k.summary());
    }
    for acc in [&acc_a, &acc_b] {
        let m = &acc.mac;
        assert_eq!((m.ierrors, m.oerrors, m.norcvbuf, m.unknowns), (0, 0, 0, 0), "no drop in the driver: {acc:#?}");
        assert!(acc.resolver_replies >= 1, "the driver answered the namespace's ARP: {acc:#?}");
    }
    drop(p);
    rig.finish();
}

#[test]
fn vpn_ping_and_100_mb_tcp_at_mtu_1500() {
    ping_and_transfer(1500);
}

#[test]
fn vpn_ping_and_100_mb_tcp_at_mtu_9000() {
    ping_and_transfer(9000);
}

#[test]
fn a_packet_too_big_for_the_far_link_is_dropped_and_counted() {
    // Bad-input twin: A's link takes 9000 bytes, B's only 1500.  Small
    // pings cross; a 9000-byte packet reaches B's daemon, which refuses
    // it (rx_oversize) instead of writing it to a link that cannot carry
    // it, and the ping gets no reply.
    let rig = Rig::new();
    let p = VpnPair::with_mtus(&rig, Mode::Tun, 9000, 1500, "vpnmix").expect("VPN with MTUs 9000 and 1500");
    p.a.ns.ping(ADDR_B, 2, None).expect("small pings cross");
    let s = p.server.counters().clone();
    let err = p.a.ns.ping_within(ADDR_B, 1, Some(9000 - 28), 2).expect_err("B's link cannot carry 9000 bytes");
    assert!(err.to_string().contains("did not get 1 replies") || err.to_string().contains("did not get 1 reply"), "{err}");
    eventually(SETTLE, || if get(&s.rx_oversize) >= 1 { Ok(()) } else { Err(s.summary()) })
        .unwrap_or_else(|e| panic!("the oversize packet must be counted at B: {e}"));
    let m = MacStats::read(&rig, p.b.linkid).unwrap();
    assert_eq!(m.ierrors, 0, "B's daemon refused it before the driver saw it: {m:?}");
    // A ping that fits still works: the session survived.
    p.a.ns.ping(ADDR_B, 1, Some(1500 - 28)).expect("a 1500-byte ping still crosses");
    assert_eq!(tunneld::Counters::get(&s.disconnects), 0, "{}", s.summary());
    drop(p);
    rig.finish();
}

#[test]
fn with_the_server_stopped_the_carrier_goes_off_and_ping_fails() {
    // Bad-input twin: the far daemon goes away cleanly.  A's daemon
    // keeps its link attached but turns the carrier off while no
    // session is up (the carrier follows the peer's liveness, issue
    // 17), so A's stack sees NO-CARRIER instead of a black hole.
    let rig = Rig::new();
    let mut p = VpnPair::new(&rig, Mode::Tun, 1500, "vpnstop").expect("VPN");
    p.a.ns.ping(ADDR_B, 1, None).expect("ping before the server stops");
    assert!(p.a.bridge.client().wait_link_state(tuntap_drv::ddi::LinkState::Up, SETTLE), "A's link is up with its session");
    p.server.stop_now().expect("stop B's daemon").expect("B's daemon stops cleanly");
    let c = p.client.counters().clone();
    eventually(SETTLE, || if c.connected_peer().is_none() { Ok(()) } else { Err(c.summary()) })
        .unwrap_or_else(|e| panic!("A's daemon notices the session ended: {e}"));
    assert!(
        p.a.bridge.client().wait_link_state(tuntap_drv::ddi::LinkState::Down, SETTLE),
        "A's link goes down while its daemon has no live peer"
    );
    p.a.ns.ping_within(ADDR_B, 2, None, 2).expect_err("nobody on the other side");
    assert!(!p.client.has_ended(), "A's daemon keeps trying: {}", c.summary());
    assert_eq!(get(&c.disconnects), 1, "{}", c.summary());
    drop(p);
    rig.finish();
}
