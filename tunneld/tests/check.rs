// SPDX-License-Identifier: MPL-2.0
//! `tunneld check`: a good configuration's report, and each way the
//! certificate or key can be unusable, named as such.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use common::*;
use rustls_pki_types::pem::PemObject;
use x509_parser::prelude::FromDer;
use tunneld::ErrorKind;

fn check(toml: &str) -> Result<Vec<String>, tunneld::Error> {
    tunneld::check::check(&config(toml), SystemTime::now())
}

fn refused(toml: &str, words: &[&str]) {
    let e = check(toml).expect_err("refused");
    assert_eq!((e.kind, e.exit_code()), (ErrorKind::Tls, 4), "{}", e.message);
    for w in words {
        assert!(e.message.contains(w), "{:?} lacks {w:?}", e.message);
    }
}

#[test]
fn a_good_configuration_is_reported_with_its_pin_and_peers() {
    let pki = Pki::new();
    for who in ["server", "client"] {
        std::fs::set_permissions(pki.path(&format!("{who}.key")), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let lines = check(&pki.server_toml("server", "tnl0", "tun", 1500)).unwrap();
    let text = lines.join("\n");
    assert!(text.contains("CN=server, valid") && text.contains("chains to"), "{text}");
    assert!(text.contains("its pin (for the peer's [[peer]] pin): sha256:"), "{text}");
    assert!(text.contains("warning: no [[peer]] configured"), "{text}");
    assert!(!text.contains("world-readable"), "{text}");
    let with_peer = pki.client_toml("client", "127.0.0.1:1", "tnl0", "tun", 1500).replace("[link]", "[[peer]]\nname = \"hub\"\ncn = \"server\"\n\n[link]");
    let text = check(&with_peer).unwrap().join("\n");
    assert!(text.contains("peers: hub") && !text.contains("warning"), "{text}");
}

#[test]
fn a_world_readable_key_is_named() {
    let pki = Pki::new();
    std::fs::set_permissions(pki.path("server.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let text = check(&pki.server_toml("server", "tnl0", "tun", 1500)).unwrap().join("\n");
    assert!(text.contains("warning: private key") && text.contains("server.key is world-readable (mode 0644)"), "{text}");
}

#[test]
fn unusable_certificates_and_keys_are_refused_with_the_reason() {
    let pki = Pki::new();
    let server = pki.server_toml("server", "tnl0", "tun", 1500);
    // Expired.
    refused(&server.replace("server.crt", "expired.crt").replace("server.key", "expired.key"), &["expired.crt", "expired on"]);
    // Signed by another CA: does not chain.
    refused(&server.replace("server.crt", "rogue-server.crt").replace("server.key", "rogue-server.key"), &["rogue-server.crt does not pass the CA"]);
    // Revoked by the configured CRL.
    let revoked = pki.client_toml("revoked", "127.0.0.1:1", "tnl0", "tun", 1500).replace("[link]", &format!("crl = {:?}\n[link]", pki.path("ca.crl")));
    refused(&revoked, &["revoked.crt does not pass the CA", "Revoked"]);
    // A passphrase-protected key.
    std::fs::write(pki.path("locked.key"), "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n").unwrap();
    refused(&server.replace("server.key", "locked.key"), &["locked.key is passphrase-protected"]);
    // The key of another certificate.
    refused(&server.replace("server.key", "client.key"), &["do not form a usable pair"]);
    // A CRL file that holds no CRL.
    refused(&server.replace("[link]", &format!("crl = {:?}\n[link]", pki.path("ca.crt"))), &["no PEM X509 CRL"]);
}

#[test]
fn a_certificate_about_to_expire_is_warned_about() {
    let pki = Pki::new();
    // Look at the certificate from 20 days before its end.
    let cfg = config(&pki.server_toml("server", "tnl0", "tun", 1500));
    let der = rustls_pki_types::CertificateDer::from_pem_file(pki.path("server.crt")).unwrap();
    let (_, cert) = x509_parser::prelude::X509Certificate::from_der(&der).unwrap();
    let not_after = cert.validity().not_after.timestamp() as u64;
    let soon = SystemTime::UNIX_EPOCH + Duration::from_secs(not_after - 20 * 86_400);
    let text = tunneld::check::check(&cfg, soon).unwrap().join("\n");
    assert!(text.contains("warning: certificate") && text.contains("expires in 20 days"), "{text}");
}
