// SPDX-License-Identifier: MPL-2.0
//! The UDP data channel end to end, with in-process links: a raw peer
//! that speaks the protocol from PROTOCOL.md (handshake, hello, keys
//! from the TLS exporter) feeds the daemon replayed, forged and foreign
//! datagrams; rekeying under load; keepalives, dead peers and
//! reconnection; the TCP fallback.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::net::UdpSocket;
use tunneld::data::{Cipher, Opener, RekeyPolicy, Sealer, TYPE_DATA, TYPE_KEEPALIVE};
use tunneld::hello::{self, Negotiated, Transport};
use tunneld::{Counters, Mode};

/// A client that speaks the protocol by hand.
struct RawUdpPeer {
    _tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    udp: UdpSocket,
    keys: Negotiated,
    sealer: Sealer,
}

impl RawUdpPeer {
    async fn connect(pki: &Pki, server: &Instance, who: &str) -> RawUdpPeer {
        let cfg = config(&pki.client_toml(who, &server.port_string(), "raw0", "tun", 1500));
        let material = tunneld::tls::TlsMaterial::load(&cfg).unwrap();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(material.client_config().unwrap()));
        let tcp = tokio::net::TcpStream::connect(server.addr.unwrap()).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.expect("handshake");
        let agreed = hello::client(&mut tls, Transport::Udp, &[Cipher::ChaCha20Poly1305], WAIT).await.expect("hello");
        assert_eq!((agreed.transport, agreed.cipher), (Transport::Udp, Cipher::ChaCha20Poly1305));
        let keys = agreed.keys(|out, ctx| hello::exporter(tls.get_ref().1, out, ctx)).unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        udp.connect(("127.0.0.1", keys.udp_port)).await.unwrap();
        let sealer = Sealer::new(keys.cipher, keys.tx_seed, keys.peer_index, RekeyPolicy::DEFAULT);
        RawUdpPeer { _tls: tls, udp, keys, sealer }
    }

    fn seal(&mut self, kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut d = Vec::new();
        self.sealer.seal(kind, payload, &mut d);
        d
    }

    async fn send(&self, datagram: &[u8]) {
        self.udp.send(datagram).await.unwrap();
    }
}

fn total(c: &Counters) -> (u64, u64, u64) {
    (Counters::get(&c.rx_replayed), Counters::get(&c.rx_forged), Counters::get(&c.rx_bad_datagram))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_forged_and_foreign_datagrams_are_dropped_and_counted() {
    let pki = Pki::new();
    let server = Instance::start(&pki.server_toml("server", "srv0", "tun", 1500), "srv0", Mode::Tun, 1500).await;
    let mut peer = RawUdpPeer::connect(&pki, &server, "client").await;
    let (a, b) = ([10, 0, 0, 2], [10, 0, 0, 1]);

    let p = ipv4(a, b, 1, 300);
    let good = peer.seal(TYPE_DATA, &p);
    peer.send(&good).await;
    assert_eq!(recv(&server.port).await, p, "a sealed packet reaches the link");

    // The same datagram again: a replay.
    peer.send(&good).await;
    assert!(wait_for(|| total(&server.counters) == (1, 0, 0)).await, "replayed, forged, bad datagrams: {:?}", total(&server.counters));
    // One flipped ciphertext bit, one flipped tag bit: forgeries.
    let mut forged = peer.seal(TYPE_DATA, &ipv4(a, b, 2, 300));
    forged[40] ^= 1;
    peer.send(&forged).await;
    let last = forged.len() - 1;
    forged[40] ^= 1;
    forged[last] ^= 0x80;
    peer.send(&forged).await;
    assert!(wait_for(|| total(&server.counters) == (1, 2, 0)).await, "replayed, forged, bad datagrams: {:?}", total(&server.counters));
    // Another session's index, and bytes that are no datagram at all.
    let mut foreign = peer.seal(TYPE_DATA, &ipv4(a, b, 3, 300));
    foreign[4] ^= 0xff;
    peer.send(&foreign).await;
    peer.send(b"GET / HTTP/1.1\r\n\r\n").await;
    assert!(wait_for(|| total(&server.counters) == (1, 2, 2)).await, "replayed, forged, bad datagrams: {:?}", total(&server.counters));
    // The forged datagram's counter was not burnt: after all that, its
    // genuine twin (sealed second, counter 1) is accepted, and so is
    // the next.
    forged[last] ^= 0x80;
    peer.send(&forged).await;
    assert_eq!(recv(&server.port).await, ipv4(a, b, 2, 300));
    let q = ipv4(a, b, 4, 90);
    let next = peer.seal(TYPE_DATA, &q);
    peer.send(&next).await;
    assert_eq!(recv(&server.port).await, q);
    assert!(server.port.from_daemon.try_recv().is_err(), "nothing else reached the link");
    assert!(wait_for(|| server.count(|c| &c.rx_packets) == 3).await, "exactly the genuine packets: #1, #2, #4");

    // And back: the server seals to our address, learnt from our datagrams.
    let back = ipv4(b, a, 5, 700);
    server.port.to_daemon.send(back.clone()).unwrap();
    let mut opener = Opener::new(peer.keys.cipher, peer.keys.rx_seed, peer.keys.index);
    let mut buf = vec![0u8; 2048];
    let got = loop {
        let n = tokio::time::timeout(WAIT, peer.udp.recv(&mut buf)).await.expect("a datagram from the server").unwrap();
        let opened = opener.open(&mut buf[..n]).expect("the server's datagram opens");
        if opened.kind == TYPE_DATA {
            break buf[opened.payload].to_vec();
        }
    };
    assert_eq!(got, back);
    assert!(server.counters.connected_peer().unwrap().starts_with("client (127.0.0.1:"));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekeying_under_load_loses_nothing() {
    let pki = Pki::new();
    let rekey = "\n[rekey]\nafter_packets = 64\n";
    let server_toml = pki.server_toml("server", "srv0", "tun", 1500) + rekey;
    let server = Instance::start(&server_toml, "srv0", Mode::Tun, 1500).await;
    let client_toml = pki.client_toml("client", &server.port_string(), "cli0", "tun", 1500) + rekey;
    let client = Instance::start(&client_toml, "cli0", Mode::Tun, 1500).await;
    assert!(wait_for(|| server.counters.connected_peer().is_some() && client.counters.connected_peer().is_some()).await);
    const N: u32 = 1500;
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    // Windows of 32 packets in flight each way (the memory link's queues
    // hold 1024), so the load is real but nothing overflows.
    for start in (0..N).step_by(32) {
        for seq in start..start + 32 {
            client.port.to_daemon.send(ipv4(a, b, seq, 200 + seq as usize % 1200)).unwrap();
            server.port.to_daemon.send(ipv4(b, a, seq, 1300 - seq as usize % 1200)).unwrap();
        }
        for seq in start..start + 32 {
            assert_eq!(recv(&server.port).await, ipv4(a, b, seq, 200 + seq as usize % 1200), "client -> server #{seq}");
            assert_eq!(recv(&client.port).await, ipv4(b, a, seq, 1300 - seq as usize % 1200), "server -> client #{seq}");
        }
    }
    // Each side replaced its sending key N/64 times and followed the
    // peer's as often (keepalives add at most a few).
    for (who, c) in [("client", &client), ("server", &server)] {
        let rekeys = c.count(|c| &c.rekeys);
        assert!(rekeys >= 2 * (u64::from(N) / 64), "{who}: {rekeys} rekeys");
        assert_eq!(total(&c.counters), (0, 0, 0), "{who}: nothing refused");
        assert_eq!(c.count(|c| &c.connects), 1, "{who}: one session throughout");
    }
    client.stop().await.unwrap();
    server.stop().await.unwrap();
}

const FAST_LIVENESS: &str = "\n[liveness]\nkeepalive_ms = 100\ndead_peer_ms = 400\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_live_on_keepalives() {
    let pki = Pki::new();
    let server = Instance::start(&(pki.server_toml("server", "srv0", "tun", 1500) + FAST_LIVENESS), "srv0", Mode::Tun, 1500).await;
    let client_toml = pki.client_toml("client", &server.port_string(), "cli0", "tun", 1500) + FAST_LIVENESS;
    let client = Instance::start(&client_toml, "cli0", Mode::Tun, 1500).await;
    assert!(wait_for(|| server.device.carrier() && client.device.carrier()).await, "carrier up with the session");
    // Ten dead-peer timeouts' worth of silence on the links.
    tokio::time::sleep(Duration::from_millis(4000)).await;
    for (who, c) in [("client", &client), ("server", &server)] {
        assert_eq!(c.count(|c| &c.connects), 1, "{who}: still the first session");
        assert_eq!(c.count(|c| &c.dead_peer_timeouts), 0, "{who}");
        assert!(c.count(|c| &c.keepalives_received) >= 10, "{who}: {} keepalives", c.count(|c| &c.keepalives_received));
        assert!(c.device.carrier(), "{who}: carrier still up");
    }
    client.stop().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_declared_dead_and_the_carrier_drops() {
    let pki = Pki::new();
    let server = Instance::start(&(pki.server_toml("server", "srv0", "tun", 1500) + FAST_LIVENESS), "srv0", Mode::Tun, 1500).await;
    let mut peer = RawUdpPeer::connect(&pki, &server, "client").await;
    let hi = peer.seal(TYPE_KEEPALIVE, &[]);
    peer.send(&hi).await;
    assert!(wait_for(|| server.count(|c| &c.keepalives_received) == 1).await);
    assert!(server.device.carrier(), "carrier up while the session is");
    // The raw peer says nothing more but keeps its TCP connection: only
    // the watchdog can notice (a dead NAT mapping looks like this).
    assert!(wait_for(|| server.count(|c| &c.dead_peer_timeouts) == 1).await);
    assert!(wait_for(|| !server.device.carrier()).await, "carrier down once the peer is dead");
    // The session's end is recorded just after the carrier drops.
    assert!(wait_for(|| server.counters.last_error().is_some()).await, "the dead session is recorded");
    let why = server.counters.last_error().unwrap();
    assert!(why.contains("client (127.0.0.1:") && why.contains("presumed dead"), "{why}");
    assert_eq!(server.counters.connected_peer(), None);
    server.stop().await.unwrap();
}

/// A server that completes the handshake and the hello, then never
/// answers on UDP: from the client, a path that died.
async fn silent_server(pki: &Pki) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicU64>) {
    let cfg = config(&pki.server_toml("server", "srv9", "tun", 1500));
    let material = tunneld::tls::TlsMaterial::load(&cfg).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(material.server_config().unwrap()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let black_hole = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = black_hole.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let _keep = black_hole;
        let mut held = Vec::new();
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let Ok(mut tls) = acceptor.accept(tcp).await else { continue };
            if hello::server(&mut tls, Some(port), &[Cipher::Aes256Gcm], WAIT).await.is_ok() {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(tls);
            }
        }
    });
    (addr, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_path_dies_reconnects_with_backoff() {
    let pki = Pki::new();
    let (addr, accepted) = silent_server(&pki).await;
    let client_toml = pki.client_toml("client", &addr.to_string(), "cli0", "tun", 1500) + FAST_LIVENESS;
    let client = Instance::start(&client_toml, "cli0", Mode::Tun, 1500).await;
    assert!(wait_for(|| accepted.load(std::sync::atomic::Ordering::SeqCst) >= 3).await, "the client came back twice");
    assert!(client.count(|c| &c.dead_peer_timeouts) >= 2);
    let why = client.counters.last_error().unwrap();
    assert!(why.contains("server (127.0.0.1:") && why.contains("presumed dead"), "{why}");
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tcp_fallback_carries_packets_inside_tls() {
    let pki = Pki::new();
    let server = Instance::start(&pki.server_toml("server", "srv0", "tun", 1500), "srv0", Mode::Tun, 1500).await;
    let client_toml = pki.client_toml("client", &server.port_string(), "cli0", "tun", 1500).replace("[link]", "transport = \"tcp\"\n\n[link]");
    let client = Instance::start(&client_toml, "cli0", Mode::Tun, 1500).await;
    assert!(wait_for(|| server.counters.session().is_some() && client.counters.session().is_some()).await);
    assert_eq!(server.counters.session().unwrap().0, "tcp");
    for seq in 0..50 {
        let p = ipv4([10, 0, 0, 1], [10, 0, 0, 2], seq, 1400);
        client.port.to_daemon.send(p.clone()).unwrap();
        assert_eq!(recv(&server.port).await, p);
    }
    client.stop().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_hello_is_refused_with_the_reason_and_the_server_keeps_serving() {
    use tokio::io::AsyncWriteExt;
    let pki = Pki::new();
    let server = Instance::start(&pki.server_toml("server", "srv0", "tun", 1500), "srv0", Mode::Tun, 1500).await;
    let cfg = config(&pki.client_toml("client", &server.port_string(), "raw0", "tun", 1500));
    let material = tunneld::tls::TlsMaterial::load(&cfg).unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(material.client_config().unwrap()));
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    for (body, reason) in [
        (vec![2u8, 1, 0, 0, 0, 1, 1, 1], "peer speaks protocol version 2, this tunneld speaks 1"),
        (vec![1u8, 1, 0, 0, 0, 1, 1, 9], "no common cipher"),
        (vec![1u8, 7, 0, 0, 0, 1, 1, 1], "unknown transport 7"),
        (vec![1u8], "client hello of 1 bytes is too short"),
    ] {
        let before = server.count(|c| &c.connect_failures);
        let tcp = tokio::net::TcpStream::connect(server.addr.unwrap()).await.unwrap();
        let mut tls = connector.connect(name.clone(), tcp).await.expect("handshake");
        tls.write_all(&tunneld::frame::control(tunneld::frame::FRAME_HELLO, &body)).await.unwrap();
        tls.flush().await.unwrap();
        assert!(wait_for(|| server.count(|c| &c.connect_failures) == before + 1).await, "{reason}");
        let why = server.counters.last_error().unwrap();
        assert!(why.contains("refused connection from 127.0.0.1:") && why.contains(reason), "{why}");
    }
    assert_eq!(server.count(|c| &c.connects), 0);
    // A well-behaved client still gets in.
    let client = Instance::start(&pki.client_toml("client", &server.port_string(), "cli0", "tun", 1500), "cli0", Mode::Tun, 1500).await;
    assert!(wait_for(|| server.count(|c| &c.connects) == 1).await);
    client.stop().await.unwrap();
    server.stop().await.unwrap();
}
