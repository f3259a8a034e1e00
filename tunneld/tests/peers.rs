// SPDX-License-Identifier: MPL-2.0
//! Several peers served by one daemon at the same time: each client has
//! its own tunnel addresses (`[[peer]] addresses`); the server sends
//! each packet from its link to the client whose addresses hold the
//! destination, takes from a client only its own sources, and one
//! client's coming, going or failing leaves the others' sessions alone.
//! A certificate that chains to the CA but is not a configured peer is
//! refused while the peers keep working.  In process (memory links) and
//! over Linux tun in network namespaces (ping); over Linux tap, the
//! server switches frames between its clients by learned MAC addresses.

mod common;

use std::time::Duration;

use common::*;
use tunneld::Mode;

/// The server with two peers: site-a (certificate `client`, 10.9.0.2)
/// and site-b (`client2`, 10.9.0.3).
fn server_with_peers(pki: &Pki, link: &str) -> String {
    format!(
        "{}\n[[peer]]\nname = \"site-a\"\ncn = \"client\"\naddresses = [\"10.9.0.2/32\"]\n\n[[peer]]\nname = \"site-b\"\ncn = \"client2\"\naddresses = [\"10.9.0.3/32\", \"10.30.0.0/16\"]\n",
        pki.server_toml("server", link, "tun", 1500)
    )
}

/// Nothing arrives on `port` within a short while.
async fn quiet(port: &tunneld::device::memory::MemoryPort) -> bool {
    tokio::time::sleep(Duration::from_millis(300)).await;
    port.from_daemon.try_recv().is_err()
}

async fn client(pki: &Pki, who: &str, server: &Instance, link: &str) -> Instance {
    Instance::start(&pki.client_toml(who, &server.port_string(), link, "tun", 1500), link, Mode::Tun, 1500).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_server_carries_several_clients_at_once_each_to_its_addresses() {
    let pki = Pki::new();
    let server = Instance::start(&server_with_peers(&pki, "srv0"), "srv0", Mode::Tun, 1500).await;
    let a = client(&pki, "client", &server, "cla0").await;
    let b = client(&pki, "client2", &server, "clb0").await;
    assert!(
        wait_for(|| server.counters.connected_peers().len() == 2
            && a.counters.connected_peer().is_some()
            && b.counters.connected_peer().is_some())
        .await,
        "both clients are up at once: {:?}",
        server.counters.connected_peers()
    );
    let peers = server.counters.connected_peers();
    assert!(peers.iter().any(|p| p.starts_with("site-a (")) && peers.iter().any(|p| p.starts_with("site-b (")), "{peers:?}");

    // Each client's packets reach the server's link.
    let from_a = ipv4([10, 9, 0, 2], [10, 9, 0, 1], 1, 300);
    let from_b = ipv4([10, 9, 0, 3], [10, 9, 0, 1], 2, 400);
    a.port.to_daemon.send(from_a.clone()).unwrap();
    assert_eq!(recv(&server.port).await, from_a);
    b.port.to_daemon.send(from_b.clone()).unwrap();
    assert_eq!(recv(&server.port).await, from_b);

    // The server's packets go to the client whose addresses hold the
    // destination, and only there (longest prefix: 10.30/16 is site-b's).
    for round in 0..3u32 {
        let to_a = ipv4([10, 9, 0, 1], [10, 9, 0, 2], 10 + round, 500);
        let to_b = ipv4([10, 9, 0, 1], [10, 30, 7, 7], 20 + round, 600);
        server.port.to_daemon.send(to_a.clone()).unwrap();
        server.port.to_daemon.send(to_b.clone()).unwrap();
        assert_eq!(recv(&a.port).await, to_a, "site-a gets its packet");
        assert_eq!(recv(&b.port).await, to_b, "site-b gets its packet");
    }
    assert!(quiet(&a.port).await && quiet(&b.port).await, "no packet went to the other client");
    // No client's addresses: dropped and counted.
    let nowhere = server.count(|c| &c.tx_dropped_no_peer);
    server.port.to_daemon.send(ipv4([10, 9, 0, 1], [192, 168, 1, 1], 30, 100)).unwrap();
    assert!(wait_for(|| server.count(|c| &c.tx_dropped_no_peer) == nowhere + 1).await);

    // site-a posing as site-b: dropped, counted, not on the link.
    a.port.to_daemon.send(ipv4([10, 9, 0, 3], [10, 9, 0, 1], 40, 200)).unwrap();
    assert!(wait_for(|| server.count(|c| &c.rx_wrong_source) == 1).await);
    assert!(quiet(&server.port).await, "a spoofed source never reaches the link");

    // A certificate of our CA that is no configured peer: refused, and
    // the two sessions go on.
    let failures = server.count(|c| &c.connect_failures);
    let rogue = client(&pki, "client3", &server, "clc0").await;
    assert!(wait_for(|| server.count(|c| &c.connect_failures) > failures).await);
    assert!(
        server.counters.last_error().is_some_and(|e| e.contains("is not a configured [[peer]]")),
        "{:?}",
        server.counters.last_error()
    );
    assert!(rogue.counters.connected_peer().is_none());
    assert_eq!(server.counters.connected_peers().len(), 2);
    let to_b = ipv4([10, 9, 0, 1], [10, 9, 0, 3], 50, 700);
    server.port.to_daemon.send(to_b.clone()).unwrap();
    assert_eq!(recv(&b.port).await, to_b);
    rogue.stop().await.unwrap();

    // site-a goes away: site-b's session is not touched and still carries
    // both ways; packets for site-a are dropped and counted.
    let b_connects = b.count(|c| &c.connects);
    a.stop().await.unwrap();
    assert!(wait_for(|| server.counters.connected_peers().len() == 1).await);
    assert!(server.counters.connected_peers()[0].starts_with("site-b ("));
    let dropped = server.count(|c| &c.tx_dropped_no_peer);
    server.port.to_daemon.send(ipv4([10, 9, 0, 1], [10, 9, 0, 2], 60, 300)).unwrap();
    assert!(wait_for(|| server.count(|c| &c.tx_dropped_no_peer) == dropped + 1).await);
    let to_b = ipv4([10, 9, 0, 1], [10, 9, 0, 3], 61, 300);
    server.port.to_daemon.send(to_b.clone()).unwrap();
    assert_eq!(recv(&b.port).await, to_b);
    let from_b = ipv4([10, 9, 0, 3], [10, 9, 0, 1], 62, 300);
    b.port.to_daemon.send(from_b.clone()).unwrap();
    assert_eq!(recv(&server.port).await, from_b);
    assert!(server.device.carrier(), "the link's carrier stays up while a peer is");

    // site-a comes back: both carry again; site-b never reconnected.
    let a = client(&pki, "client", &server, "cla1").await;
    assert!(wait_for(|| server.counters.connected_peers().len() == 2 && a.counters.connected_peer().is_some()).await);
    let to_a = ipv4([10, 9, 0, 1], [10, 9, 0, 2], 70, 300);
    server.port.to_daemon.send(to_a.clone()).unwrap();
    assert_eq!(recv(&a.port).await, to_a);
    assert_eq!(b.count(|c| &c.connects), b_connects, "site-b's session survived site-a's going and coming");
    assert_eq!(b.count(|c| &c.disconnects), 0);

    a.stop().await.unwrap();
    b.stop().await.unwrap();
    assert!(wait_for(|| server.counters.connected_peers().is_empty()).await);
    assert!(!server.device.carrier(), "no peer left: carrier down");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_peers_new_session_replaces_only_its_own() {
    let pki = Pki::new();
    let server = Instance::start(&server_with_peers(&pki, "srv0"), "srv0", Mode::Tun, 1500).await;
    let a = client(&pki, "client", &server, "cla0").await;
    let b = client(&pki, "client2", &server, "clb0").await;
    assert!(wait_for(|| server.counters.connected_peers().len() == 2 && b.counters.connected_peer().is_some()).await);
    // A second daemon with site-a's certificate: it replaces site-a's
    // session (a client that came back), not site-b's.
    let a2 = client(&pki, "client", &server, "cla1").await;
    assert!(wait_for(|| server.counters.last_error().is_some_and(|e| e.contains("site-a") && e.contains("replaced"))).await);
    assert_eq!(server.counters.connected_peers().len(), 2, "{:?}", server.counters.connected_peers());
    assert_eq!(b.count(|c| &c.disconnects), 0, "site-b untouched");
    let to_b = ipv4([10, 9, 0, 1], [10, 9, 0, 3], 1, 300);
    server.port.to_daemon.send(to_b.clone()).unwrap();
    assert_eq!(recv(&b.port).await, to_b);
    // The two site-a daemons now take turns replacing each other; stop one.
    a.stop().await.unwrap();
    a2.stop().await.unwrap();
    b.stop().await.unwrap();
    server.stop().await.unwrap();
}

/// Over Linux tun: a server and three clients in four namespaces (two
/// configured peers and a stranger with a certificate of the same CA).
#[cfg(target_os = "linux")]
#[test]
fn three_namespaces_ping_through_one_server_and_one_client_leaving_does_not_disturb_the_other() {
    let rt = runtime();
    let pki = Pki::new();
    let (ns_s, ns_a, ns_b, ns_c) = (Netns::new("mps"), Netns::new("mpa"), Netns::new("mpb"), Netns::new("mpc"));
    let s = Running::start(&rt, &server_with_peers(&pki, "tnl0"), tun_in(&ns_s, "10.9.0.1/24", 1500, false));
    let sc = s.counters.clone();
    let addr = s.address();
    let client = |who: &str, ns: &Netns, cidr: &str| Running::start(&rt, &pki.client_toml(who, &addr, "tnl0", "tun", 1500), tun_in(ns, cidr, 1500, false));
    let a = client("client", &ns_a, "10.9.0.2/24");
    let b = client("client2", &ns_b, "10.9.0.3/24");
    connected(&[&a, &b]);
    assert!(wait_until(WAIT, || sc.connected_peers().len() == 2));

    for (ns, to, what) in [(&ns_a, "10.9.0.1", "a -> server"), (&ns_b, "10.9.0.1", "b -> server"), (&ns_s, "10.9.0.2", "server -> a"), (&ns_s, "10.9.0.3", "server -> b")] {
        let (ok, out) = ping(ns, to);
        assert!(ok, "ping {what}: {out}");
    }

    // A stranger (certificate of the CA, not a peer) keeps trying; the
    // two peers keep pinging.
    let failures = tunneld::Counters::get(&sc.connect_failures);
    let c = client("client3", &ns_c, "10.9.0.4/24");
    assert!(wait_until(WAIT, || tunneld::Counters::get(&sc.connect_failures) > failures));
    assert!(c.counters.connected_peer().is_none());
    let (ok, out) = ping(&ns_s, "10.9.0.4");
    assert!(!ok, "the stranger is unreachable: {out}");
    let (ok, out) = ping(&ns_a, "10.9.0.1");
    assert!(ok, "a still pings while the stranger is refused: {out}");

    // Client a stops: b's session stays and b pings on.
    a.stop(&rt);
    assert!(wait_until(WAIT, || sc.connected_peers().len() == 1));
    let (ok, out) = ping(&ns_b, "10.9.0.1");
    assert!(ok, "b pings after a left: {out}");
    let (ok, out) = ping(&ns_s, "10.9.0.3");
    assert!(ok, "server reaches b after a left: {out}");
    let (ok, _) = ping(&ns_s, "10.9.0.2");
    assert!(!ok, "a is gone");
    assert_eq!(tunneld::Counters::get(&b.counters.disconnects), 0, "b's session was never interrupted");

    for d in [c, b, s] {
        d.stop(&rt);
    }
}

/// Three pings from `ns` to `to`: (all answered, ping's output).
#[cfg(target_os = "linux")]
fn ping(ns: &Netns, to: &str) -> (bool, String) {
    let out = ns.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "3", to]);
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string())
}

/// Over Linux tap: a server and two clients in namespaces, one Ethernet
/// segment.  The clients reach each other through the server, which
/// switches between its peers by the MAC addresses it learned (a frame
/// for a peer goes to that peer only); a broadcast from one client
/// reaches the server's link and the other client; a stranger (a
/// certificate of the CA that is not a configured peer) is refused and
/// reaches no one.
#[cfg(target_os = "linux")]
#[test]
fn over_linux_tap_two_clients_reach_each_other_through_the_server_and_a_stranger_does_not() {
    let rt = runtime();
    let pki = Pki::new();
    let (ns_s, ns_a, ns_b, ns_c) = (Netns::new("tps"), Netns::new("tpa"), Netns::new("tpb"), Netns::new("tpc"));
    let toml = format!(
        "{}\n[[peer]]\nname = \"site-a\"\ncn = \"client\"\n\n[[peer]]\nname = \"site-b\"\ncn = \"client2\"\n",
        pki.server_toml("server", "tnl0", "tap", 1500)
    );
    let s = Running::start(&rt, &toml, tap_in(&ns_s, "10.71.0.1/24"));
    let sc = s.counters.clone();
    let addr = s.address();
    let client = |who: &str, ns: &Netns, cidr: &str| Running::start(&rt, &pki.client_toml(who, &addr, "tnl0", "tap", 1500), tap_in(ns, cidr));
    let a = client("client", &ns_a, "10.71.0.2/24");
    let b = client("client2", &ns_b, "10.71.0.3/24");
    connected(&[&a, &b]);
    assert!(wait_until(WAIT, || sc.connected_peers().len() == 2));
    for ns in [&ns_s, &ns_a, &ns_b] {
        let out = ns.exec(&["sysctl", "-w", "net.ipv4.icmp_echo_ignore_broadcasts=0"]);
        assert!(out.status.success(), "answer broadcast pings in {}: {}", ns.0, String::from_utf8_lossy(&out.stderr));
    }

    for (ns, to, what) in [(&ns_a, "10.71.0.3", "a -> b"), (&ns_b, "10.71.0.2", "b -> a"), (&ns_a, "10.71.0.1", "a -> server"), (&ns_s, "10.71.0.3", "server -> b")] {
        let (ok, out) = ping(ns, to);
        assert!(ok, "ping {what} over the tap segment: {out}\nserver {}", sc.summary());
    }
    assert!(tunneld::Counters::get(&sc.rx_relayed) >= 6, "the server passed frames between its clients: {}", sc.summary());

    // A broadcast from a reaches both the server and b.
    let out = ns_a.exec(&["ping", "-b", "-c", "3", "-i", "0.3", "-W", "3", "10.71.0.255"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("from 10.71.0.1:") && text.contains("from 10.71.0.3:"), "both answered a's broadcast: {text}");

    // The stranger is refused and reaches no one.
    let failures = tunneld::Counters::get(&sc.connect_failures);
    let c = client("client3", &ns_c, "10.71.0.4/24");
    assert!(wait_until(WAIT, || tunneld::Counters::get(&sc.connect_failures) > failures));
    assert!(c.counters.connected_peer().is_none());
    let (ok, out) = ping(&ns_c, "10.71.0.2");
    assert!(!ok, "the stranger reaches no one: {out}");
    let (ok, out) = ping(&ns_a, "10.71.0.3");
    assert!(ok, "a still reaches b: {out}");

    for d in [c, b, a, s] {
        d.stop(&rt);
    }
}
