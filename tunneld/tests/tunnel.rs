// SPDX-License-Identifier: MPL-2.0
//! Two daemons over loopback TLS with in-process links: packets, wrong
//! certificates, an unreachable peer, garbage and oversize frames from
//! an authenticated peer, the status socket, setup errors.

mod common;

use std::sync::Arc;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tunneld::device::memory::MemoryDevice;
use tunneld::{Daemon, ErrorKind, Mode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_cross_both_ways_and_are_counted() {
    let pki = Pki::new();
    let (server, client) = pair(&pki, 1500).await;
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let mut bytes = 0u64;
    for seq in 0..200u32 {
        let len = 20 + (seq as usize * 37) % 1480;
        let p = ipv4(a, b, seq, len);
        bytes += p.len() as u64;
        client.port.to_daemon.send(p.clone()).unwrap();
        assert_eq!(recv(&server.port).await, p, "packet {seq} client -> server");
        let q = ipv4(b, a, seq, 1500 - len + 20);
        server.port.to_daemon.send(q.clone()).unwrap();
        assert_eq!(recv(&client.port).await, q, "packet {seq} server -> client");
    }
    assert_eq!(client.count(|c| &c.tx_packets), 200);
    assert_eq!(client.count(|c| &c.tx_bytes), bytes);
    assert!(wait_for(|| server.count(|c| &c.rx_packets) == 200).await);
    assert_eq!(server.count(|c| &c.rx_bytes), bytes);
    assert_eq!(server.count(|c| &c.tx_packets), 200);
    assert!(wait_for(|| client.count(|c| &c.rx_packets) == 200).await);
    for c in [&client, &server] {
        assert_eq!(c.count(|c| &c.rx_garbage) + c.count(|c| &c.rx_oversize) + c.count(|c| &c.rx_malformed), 0);
        assert_eq!(c.count(|c| &c.connects), 1);
    }
    // A clean stop on one side: the other sees a closed session and the
    // client goes back to connecting.
    server.stop().await.expect("server stops cleanly");
    assert!(wait_for(|| client.counters.connected_peer().is_none()).await);
    assert!(wait_for(|| client.count(|c| &c.connect_failures) >= 1).await);
    let last = client.counters.last_error().unwrap();
    assert!(last.contains("cannot connect") || last.contains("closed the connection"), "{last}");
    client.stop().await.expect("client stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_from_another_ca_is_refused_and_the_server_keeps_serving() {
    let pki = Pki::new();
    let server = Instance::start(&pki.server_toml("server", "srv0", "tun", 1500), "srv0", Mode::Tun, 1500).await;
    let rogue = Instance::start(&pki.client_toml("rogue-client", &server.port_string(), "cli0", "tun", 1500), "cli0", Mode::Tun, 1500).await;
    assert!(wait_for(|| server.count(|c| &c.connect_failures) >= 2).await);
    let why = server.counters.last_error().unwrap();
    assert!(why.contains("refused connection from 127.0.0.1:") && why.contains("TLS handshake failed"), "{why}");
    assert!(why.contains("certificate"), "{why}");
    // TLS 1.3: the client's side of the handshake is done before the
    // server judges its certificate; the server's alert then ends it.
    assert!(wait_for(|| rogue.counters.last_error().is_some()).await);
    let why = rogue.counters.last_error().unwrap();
    assert!(why.contains("received fatal alert: UnknownCA"), "{why}");
    assert_eq!(server.count(|c| &c.connects), 0);
    assert!(rogue.counters.connected_peer().is_none());
    rogue.stop().await.unwrap();

    let good = Instance::start(&pki.client_toml("client", &server.port_string(), "cli1", "tun", 1500), "cli1", Mode::Tun, 1500).await;
    assert!(wait_for(|| server.counters.connected_peer().is_some() && good.counters.connected_peer().is_some()).await);
    let p = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 1, 100);
    good.port.to_daemon.send(p.clone()).unwrap();
    assert_eq!(recv(&server.port).await, p);
    good.stop().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_from_another_ca_is_refused_by_the_client() {
    let pki = Pki::new();
    let server = Instance::start(&pki.server_toml("rogue-server", "srv0", "tun", 1500), "srv0", Mode::Tun, 1500).await;
    let client = Instance::start(&pki.client_toml("client", &server.port_string(), "cli0", "tun", 1500), "cli0", Mode::Tun, 1500).await;
    assert!(wait_for(|| client.count(|c| &c.connect_failures) >= 2).await);
    let why = client.counters.last_error().unwrap();
    assert!(why.contains(&format!("cannot connect to {}: TLS handshake", server.port_string())), "{why}");
    assert!(why.contains("invalid peer certificate"), "{why}");
    assert_eq!(client.count(|c| &c.connects), 0);
    client.stop().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_peer_is_retried_with_backoff_and_link_packets_are_counted_as_dropped() {
    let pki = Pki::new();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let client = Instance::start(&pki.client_toml("client", &free.to_string(), "cli0", "tun", 1500), "cli0", Mode::Tun, 1500).await;
    assert!(wait_for(|| client.count(|c| &c.connect_failures) >= 3).await);
    let why = client.counters.last_error().unwrap();
    assert!(why.starts_with(&format!("cannot connect to {free}: TCP connect")), "{why}");
    for seq in 0..5 {
        client.port.to_daemon.send(ipv4([10, 0, 0, 1], [10, 0, 0, 2], seq, 60)).unwrap();
    }
    assert!(wait_for(|| client.count(|c| &c.tx_dropped_no_peer) == 5).await);
    assert_eq!(client.count(|c| &c.tx_packets), 0);
    client.stop().await.expect("stops cleanly while connecting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_drops_the_connection_and_bad_frames_are_skipped() {
    let pki = Pki::new();
    let server = Instance::start(&pki.server_toml("server", "srv0", "tun", 1500), "srv0", Mode::Tun, 1500).await;

    let mut peer = raw_peer(&pki, &server).await;
    assert!(wait_for(|| server.counters.connected_peer().is_some()).await);
    peer.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    peer.flush().await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, peer.read(&mut buf)).await.expect("server drops us");
    assert!(matches!(n, Ok(0) | Err(_)), "connection closed, got {n:?}");
    assert_eq!(server.count(|c| &c.rx_garbage), 1);
    assert!(wait_for(|| server.counters.last_error().is_some()).await);
    let why = server.counters.last_error().unwrap();
    assert!(why.contains("peer sent garbage") && why.contains("unknown type 0x47"), "{why}");
    assert!(server.port.from_daemon.try_recv().is_err(), "nothing reached the link");

    // A frame longer than the link's MTU and a non-IP frame are skipped;
    // the connection stays and the next good packet goes through.
    let mut peer = raw_peer(&pki, &server).await;
    assert!(wait_for(|| server.count(|c| &c.connects) == 2).await);
    let mut wire = tunneld::frame::header(1600).to_vec();
    wire.extend_from_slice(&ipv4([10, 0, 0, 9], [10, 0, 0, 1], 1, 1600));
    wire.extend_from_slice(&tunneld::frame::header(64));
    wire.extend_from_slice(&[0x11; 64]);
    let good = ipv4([10, 0, 0, 9], [10, 0, 0, 1], 2, 200);
    wire.extend_from_slice(&tunneld::frame::header(good.len()));
    wire.extend_from_slice(&good);
    peer.write_all(&wire).await.unwrap();
    peer.flush().await.unwrap();
    assert_eq!(recv(&server.port).await, good);
    assert_eq!(server.count(|c| &c.rx_oversize), 1);
    assert_eq!(server.count(|c| &c.rx_malformed), 1);
    assert!(wait_for(|| server.count(|c| &c.rx_packets) == 1).await);
    // Still connected: a packet from the link reaches the raw peer.
    let back = ipv4([10, 0, 0, 1], [10, 0, 0, 9], 3, 120);
    server.port.to_daemon.send(back.clone()).unwrap();
    let mut got = vec![0u8; 4 + back.len()];
    tokio::time::timeout(WAIT, peer.read_exact(&mut got)).await.unwrap().unwrap();
    assert_eq!(&got[..4], &tunneld::frame::header(back.len()));
    assert_eq!(&got[4..], &back[..]);

    // A length no link can carry: dropped like garbage.
    peer.write_all(&[tunneld::frame::FRAME_PACKET, 0x7f, 0xff, 0xff]).await.unwrap();
    peer.flush().await.unwrap();
    assert!(wait_for(|| server.counters.last_error().is_some_and(|e| e.contains("longer than any link"))).await);
    assert_eq!(server.count(|c| &c.rx_garbage), 2);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_client_session_replaces_the_old_one() {
    let pki = Pki::new();
    let (server, client) = pair(&pki, 1500).await;
    let _second = raw_peer(&pki, &server).await;
    assert!(wait_for(|| server.count(|c| &c.connects) >= 2).await);
    // The replaced session ends in its own task, soon after.
    assert!(wait_for(|| server.counters.last_error().is_some_and(|e| e.contains("replaced by a new one"))).await);
    client.stop().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_socket_reports_and_is_removed_at_shutdown() {
    let pki = Pki::new();
    // In a directory that does not exist yet, as /var/run/tunneld after a
    // reboot: the daemon makes it.
    let socket = pki.path("run/tunneld/srv0.sock");
    let toml = format!("{}\n[status]\nsocket = {:?}\n", pki.server_toml("server", "srv0", "tun", 1500), socket);
    let server = Instance::start(&toml, "srv0", Mode::Tun, 1500).await;
    let client = Instance::start(&pki.client_toml("client", &server.port_string(), "cli0", "tun", 1500), "cli0", Mode::Tun, 1500).await;
    // Both ends up: a packet read while the client has no session is dropped.
    assert!(wait_for(|| server.counters.connected_peer().is_some() && client.counters.connected_peer().is_some()).await);
    let p = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 1, 300);
    client.port.to_daemon.send(p.clone()).unwrap();
    assert_eq!(recv(&server.port).await, p);
    let text = tunneld::query_status(&socket).await.unwrap();
    for line in ["link=srv0", "mode=tun", "role=server", "state=connected", "rx_packets=1", "rx_bytes=300", "connects=1"] {
        assert!(text.lines().any(|l| l == line), "{line:?} missing from:\n{text}");
    }
    assert!(text.contains("peer=server (127.0.0.1:") || text.contains("peer=client (127.0.0.1:"), "{text}");
    assert!(text.lines().any(|l| l == "transport=udp"), "{text}");

    // A second daemon on the same socket is refused (exit code 6).
    let err = Daemon::start(config(&toml)).await.err().expect("refused");
    assert_eq!((err.kind, err.exit_code()), (ErrorKind::Network, 6));
    assert!(err.message.contains("is in use"), "{}", err.message);

    client.stop().await.unwrap();
    server.stop().await.unwrap();
    assert!(!socket.exists(), "status socket removed");
    let err = tunneld::query_status(&socket).await.unwrap_err();
    assert!(err.message.contains("is it running?"), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_errors_carry_their_exit_codes() {
    let pki = Pki::new();
    let good = pki.server_toml("server", "srv0", "tun", 1500);
    let cases = [
        (good.replace("server.crt", "missing.crt"), "missing.crt"),
        (good.replace("server.key", "server.crt"), "private key"),
        (good.replace("ca.crt", "server.key"), "CA certificate"),
        (good.replace("server.key", "client.key"), "do not form a usable pair"),
    ];
    for (toml, words) in cases {
        let err = Daemon::start(config(&toml)).await.err().expect("refused");
        assert_eq!((err.kind, err.exit_code()), (ErrorKind::Tls, 4), "{}", err.message);
        assert!(err.message.contains(words), "{:?} lacks {words:?}", err.message);
    }
    std::fs::write(pki.path("empty.crt"), "").unwrap();
    let err = Daemon::start(config(&good.replace("ca.crt", "empty.crt"))).await.err().unwrap();
    assert!(err.message.contains("no PEM certificate"), "{}", err.message);

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = Daemon::start(config(&good.replace("127.0.0.1:0", &addr))).await.err().unwrap();
    assert_eq!((err.kind, err.exit_code()), (ErrorKind::Network, 6));
    assert!(err.message.contains(&format!("cannot listen on {addr}")), "{}", err.message);

    // The link is a tap link but the configuration says tun: exit 5, and
    // the link is closed anyway.
    let daemon = Daemon::start(config(&good)).await.unwrap();
    let (dev, _port) = MemoryDevice::new("srv0", Mode::Tap, 1500, 4);
    let dev = Arc::new(dev);
    let err = daemon.run(dev.clone(), std::future::pending()).await.unwrap_err();
    assert_eq!((err.kind, err.exit_code()), (ErrorKind::Device, 5));
    assert!(err.message.contains("link srv0 is a tap link but the configuration says mode = \"tun\""), "{}", err.message);
    assert!(dev.is_closed());
}
