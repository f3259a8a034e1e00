// SPDX-License-Identifier: MPL-2.0
//! Test helpers: certificates made at test time (rcgen), configuration
//! files, packets.
#![allow(dead_code)]

mod instance;
#[allow(unused_imports)]
pub use instance::*;
#[cfg(target_os = "linux")]
mod daemons;
#[cfg(target_os = "linux")]
#[allow(unused_imports)]
pub use daemons::{Running, connected, runtime, tap_in, tun_in};
#[cfg(target_os = "linux")]
mod netns;
#[cfg(target_os = "linux")]
#[allow(unused_imports)]
pub use netns::{Netns, bulk, pattern};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// A directory with two CAs and certificates signed by each:
/// `ca.crt`, `server.{crt,key}`, `client.{crt,key}`, `client2.{crt,key}`,
/// `client3.{crt,key}`,
/// `revoked.{crt,key}` (signed by `ca`; `ca.crl` revokes `revoked`),
/// `other-ca.crt`, `rogue-server.{crt,key}`, `rogue-client.{crt,key}`
/// (signed by `other-ca`).
pub struct Pki {
    pub dir: tempfile::TempDir,
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn make_ca(dir: &Path, file: &str, cn: &str) -> Issuer<'static, KeyPair> {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params.self_signed(&key).unwrap();
    write(dir, file, &cert.pem());
    Issuer::new(params, key)
}

fn make_leaf(dir: &Path, base: &str, cn: &str, issuer: &Issuer<'_, KeyPair>) {
    make_leaf_serial(dir, base, cn, issuer, 100);
}

fn make_leaf_serial(dir: &Path, base: &str, cn: &str, issuer: &Issuer<'_, KeyPair>, serial: u64) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.serial_number = Some(rcgen::SerialNumber::from(serial));
    let cert = params.signed_by(&key, issuer).unwrap();
    write(dir, &format!("{base}.crt"), &cert.pem());
    write(dir, &format!("{base}.key"), &key.serialize_pem());
}

fn make_expired(dir: &Path, issuer: &Issuer<'_, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "expired");
    params.not_before = rcgen::date_time_ymd(2019, 1, 1);
    params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    let cert = params.signed_by(&key, issuer).unwrap();
    write(dir, "expired.crt", &cert.pem());
    write(dir, "expired.key", &key.serialize_pem());
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = make_ca(dir.path(), "ca.crt", "tunneld test CA");
        make_leaf_serial(dir.path(), "server", "server", &ca, 1);
        make_leaf_serial(dir.path(), "client", "client", &ca, 2);
        make_leaf_serial(dir.path(), "client2", "client2", &ca, 3);
        make_leaf_serial(dir.path(), "client3", "client3", &ca, 5);
        make_leaf_serial(dir.path(), "revoked", "revoked", &ca, 4);
        make_expired(dir.path(), &ca);
        let crl = rcgen::CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2020, 1, 1),
            next_update: rcgen::date_time_ymd(2099, 1, 1),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: vec![rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from(4u64),
                revocation_time: rcgen::date_time_ymd(2021, 1, 1),
                reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        write(dir.path(), "ca.crl", &crl.signed_by(&ca).unwrap().pem().unwrap());
        let other = make_ca(dir.path(), "other-ca.crt", "some other CA");
        make_leaf(dir.path(), "rogue-server", "rogue server", &other);
        make_leaf(dir.path(), "rogue-client", "rogue client", &other);
        Pki { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A server configuration on 127.0.0.1:0 with identity `who`
    /// ("server" or "rogue-server").
    pub fn server_toml(&self, who: &str, link: &str, mode: &str, mtu: u32) -> String {
        format!(
            "role = \"server\"\nlisten = \"127.0.0.1:0\"\ncert = {:?}\nkey = {:?}\nca = {:?}\n\n[link]\nname = \"{link}\"\nmode = \"{mode}\"\nmtu = {mtu}\n",
            self.path(&format!("{who}.crt")),
            self.path(&format!("{who}.key")),
            self.path("ca.crt"),
        )
    }

    /// A client configuration for `address` with identity `who`, fast
    /// reconnects.
    pub fn client_toml(&self, who: &str, address: &str, link: &str, mode: &str, mtu: u32) -> String {
        format!(
            "role = \"client\"\nconnect = \"{address}\"\nserver_name = \"localhost\"\ncert = {:?}\nkey = {:?}\nca = {:?}\nhandshake_timeout_ms = 3000\n\n[link]\nname = \"{link}\"\nmode = \"{mode}\"\nmtu = {mtu}\n\n[reconnect]\nmin_ms = 50\nmax_ms = 200\n",
            self.path(&format!("{who}.crt")),
            self.path(&format!("{who}.key")),
            self.path("ca.crt"),
        )
    }
}

pub fn config(text: &str) -> tunneld::Config {
    tunneld::Config::parse(text, "test", None).unwrap()
}

/// Poll `cond` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// A minimal IPv4 packet with a valid header checksum, `len` bytes,
/// carrying `seq` in its payload.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], seq: u32, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len.max(24)];
    p[0] = 0x45;
    let total = p.len() as u16;
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p[8] = 64;
    p[9] = 253; // experimental protocol number
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    p[20..24].copy_from_slice(&seq.to_be_bytes());
    let mut sum = 0u32;
    for pair in p[..20].chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    p[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    p
}
