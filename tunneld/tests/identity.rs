// SPDX-License-Identifier: MPL-2.0
//! Peer identity: certificates signed by the CA that are not configured
//! peers are refused, several peers share one server, pins and CRLs.

mod common;

use common::*;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tunneld::Mode;

fn pin(pki: &Pki, who: &str) -> String {
    let der = CertificateDer::from_pem_file(pki.path(&format!("{who}.crt"))).unwrap();
    let p = tunneld::identity::Presented::of(&der).unwrap();
    let hex: String = p.pin.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn with(toml: String, extra: &str) -> String {
    toml.replace("[link]", &format!("{extra}\n[link]"))
}

async fn client(pki: &Pki, who: &str, server: &Instance, extra: &str) -> Instance {
    let toml = with(pki.client_toml(who, &server.port_string(), "cli0", "tun", 1500), extra);
    Instance::start(&toml, "cli0", Mode::Tun, 1500).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_configured_peers_get_in_and_several_may() {
    let pki = Pki::new();
    let peers = format!("[[peer]]\nname = \"site-a\"\ncn = \"client\"\n\n[[peer]]\nname = \"site-b\"\npin = \"{}\"\n", pin(&pki, "client2"));
    let server = Instance::start(&with(pki.server_toml("server", "srv0", "tun", 1500), &peers), "srv0", Mode::Tun, 1500).await;

    // Signed by the CA, but not a configured peer: refused, and it does
    // not take over anything.
    let stranger = client(&pki, "revoked", &server, "").await;
    assert!(wait_for(|| server.count(|c| &c.connect_failures) >= 1).await);
    let why = server.counters.last_error().unwrap();
    assert!(why.contains("is signed by the CA but is not a configured [[peer]]") && why.contains("CN=\"revoked\""), "{why}");
    assert_eq!(server.count(|c| &c.connects), 0);
    stranger.stop().await.unwrap();

    // Peer a by its common name, then peer b by its key pin.
    let a = client(&pki, "client", &server, "").await;
    assert!(wait_for(|| server.counters.connected_peer().is_some_and(|p| p.starts_with("site-a (127.0.0.1:")) && a.counters.connected_peer().is_some()).await);
    let p = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 1, 100);
    a.port.to_daemon.send(p.clone()).unwrap();
    assert_eq!(recv(&server.port).await, p);
    a.stop().await.unwrap();
    let b = client(&pki, "client2", &server, "").await;
    assert!(wait_for(|| server.counters.connected_peer().is_some_and(|p| p.starts_with("site-b (127.0.0.1:"))).await);
    b.stop().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_refuses_a_server_that_is_not_its_peer() {
    let pki = Pki::new();
    let server = Instance::start(&pki.server_toml("server", "srv0", "tun", 1500), "srv0", Mode::Tun, 1500).await;
    let c = client(&pki, "client", &server, "[[peer]]\nname = \"hub\"\ncn = \"the real hub\"\n").await;
    assert!(wait_for(|| c.count(|c| &c.connect_failures) >= 2).await);
    let why = c.counters.last_error().unwrap();
    assert!(why.contains("server refused") && why.contains("not a configured [[peer]]"), "{why}");
    assert_eq!(c.count(|c| &c.connects), 0);
    c.stop().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_certificate_is_refused_in_the_handshake() {
    let pki = Pki::new();
    let crl = format!("crl = {:?}\n", pki.path("ca.crl"));
    let server = Instance::start(&with(pki.server_toml("server", "srv0", "tun", 1500), &crl), "srv0", Mode::Tun, 1500).await;
    let revoked = client(&pki, "revoked", &server, "").await;
    assert!(wait_for(|| server.count(|c| &c.connect_failures) >= 1).await);
    let why = server.counters.last_error().unwrap();
    assert!(why.contains("TLS handshake failed") && why.contains("Revoked"), "{why}");
    assert_eq!(server.count(|c| &c.connects), 0);
    revoked.stop().await.unwrap();
    // A certificate the CRL does not list still gets in.
    let good = client(&pki, "client", &server, "").await;
    assert!(wait_for(|| server.count(|c| &c.connects) == 1).await);
    good.stop().await.unwrap();
    server.stop().await.unwrap();
}
