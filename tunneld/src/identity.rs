// SPDX-License-Identifier: MPL-2.0
//! Peer identity: which certificates, among those that chain to the CA,
//! are peers of this tunnel (`[[peer]]` in the configuration).
//!
//! A peer is named by any of: the certificate's subject common name
//! (`cn`), a DNS name among its subjectAltName entries (`dns`, RFC 5280
//! §4.2.1.6), or a pin of its public key (`pin = "sha256:<hex>"`, the
//! SHA-256 of the DER SubjectPublicKeyInfo, as RFC 7469 pins it).  Every
//! field given must match.  With no `[[peer]]` the CA alone decides (the
//! old behaviour; `tunneld check` warns).  The TLS verifier has already
//! checked the chain, validity and the CRL before this runs.

use rustls_pki_types::CertificateDer;

use crate::netconf::Cidr;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// One configured peer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSpec {
    /// How logs name this peer.
    pub name: String,
    pub cn: Option<String>,
    pub dns: Option<String>,
    pub pin: Option<String>,
    /// The peer's tunnel addresses (`["10.9.0.2/32"]`): a server sends a
    /// packet from the link to the peer whose prefix holds its
    /// destination (longest match), and takes from the peer only packets
    /// whose source is inside them.  Empty: the peer takes whatever no
    /// other peer's prefixes hold, and may send any source.
    #[serde(default)]
    pub addresses: Vec<String>,
}

impl PeerSpec {
    /// Check the spec itself (at configuration time).
    pub fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() || self.name.contains(char::is_control) {
            return Err(format!("[[peer]] name = {:?} must be non-empty printable text", self.name));
        }
        if self.cn.is_none() && self.dns.is_none() && self.pin.is_none() {
            return Err(format!("[[peer]] {:?} names no identity: give cn, dns or pin", self.name));
        }
        if let Some(pin) = &self.pin {
            parse_pin(pin).map_err(|e| format!("[[peer]] {:?}: {e}", self.name))?;
        }
        self.prefixes()?;
        Ok(())
    }

    /// `addresses`, parsed.
    pub fn prefixes(&self) -> Result<Vec<Cidr>, String> {
        self.addresses.iter().map(|a| Cidr::parse(a).map_err(|e| format!("[[peer]] {:?} addresses: {e}", self.name))).collect()
    }
}

/// `sha256:` and 64 hex digits -> the digest.
pub fn parse_pin(pin: &str) -> Result<[u8; 32], String> {
    let hex = pin.strip_prefix("sha256:").ok_or_else(|| format!("pin {pin:?} must start with \"sha256:\""))?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("pin {pin:?} must be \"sha256:\" and 64 hex digits"));
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or("00"), 16).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// The pin of a certificate (what `tunneld check` prints for a peer's
/// certificate, ready to paste).
pub fn pin_of(cert: &X509Certificate<'_>) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, cert.public_key().raw);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// What a certificate says about who it is.
pub struct Presented {
    pub cn: Option<String>,
    pub dns: Vec<String>,
    pub pin: [u8; 32],
}

impl Presented {
    pub fn of(der: &[u8]) -> Result<Presented, String> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("unreadable certificate: {e}"))?;
        let cn = cert.subject().iter_common_name().next().and_then(|a| a.as_str().ok()).map(str::to_string);
        let mut dns = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                if let GeneralName::DNSName(d) = name {
                    dns.push(d.to_string());
                }
            }
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, cert.public_key().raw);
        let mut pin = [0u8; 32];
        pin.copy_from_slice(digest.as_ref());
        Ok(Presented { cn, dns, pin })
    }

    fn describe(&self) -> String {
        let hex: String = self.pin.iter().map(|b| format!("{b:02x}")).collect();
        format!("CN={:?}, DNS={:?}, pin sha256:{hex}", self.cn.as_deref().unwrap_or(""), self.dns)
    }
}

/// A peer that passed [`Peers::identify`].
#[derive(Clone, Debug)]
pub struct Identity {
    /// How logs name it.
    pub name: String,
    /// Sessions with the same key replace each other.
    pub key: String,
    /// Its tunnel addresses (`[[peer]] addresses`).
    pub prefixes: Vec<Cidr>,
}

/// The configured peers of one tunnel.
#[derive(Debug, Default)]
pub struct Peers {
    specs: Vec<(PeerSpec, Option<[u8; 32]>)>,
}

impl Peers {
    pub fn new(specs: &[PeerSpec]) -> Peers {
        Peers { specs: specs.iter().map(|s| (s.clone(), s.pin.as_deref().and_then(|p| parse_pin(p).ok()))).collect() }
    }

    /// Who the peer presenting `chain` is (its name for logs), or why it
    /// is not one of ours.
    pub fn check(&self, chain: Option<&[CertificateDer<'_>]>) -> Result<String, String> {
        self.identify(chain).map(|who| who.name)
    }

    /// [`Peers::check`] with what routing needs: the configured peer's
    /// name (the session key: a newer session of the same peer replaces
    /// the older) and its tunnel addresses.  Without `[[peer]]` every
    /// certificate is the one peer (key ""), as before several peers.
    pub fn identify(&self, chain: Option<&[CertificateDer<'_>]>) -> Result<Identity, String> {
        let leaf = chain.and_then(|c| c.first()).ok_or("no certificate presented")?;
        let p = Presented::of(leaf)?;
        if self.specs.is_empty() {
            let name = p.cn.clone().or_else(|| p.dns.first().cloned()).unwrap_or_else(|| "peer".into());
            return Ok(Identity { name, key: String::new(), prefixes: Vec::new() });
        }
        for (spec, pin) in &self.specs {
            let cn_ok = spec.cn.as_ref().is_none_or(|cn| p.cn.as_ref() == Some(cn));
            let dns_ok = spec.dns.as_ref().is_none_or(|d| p.dns.iter().any(|x| x.eq_ignore_ascii_case(d)));
            let pin_ok = pin.is_none_or(|pin| pin == p.pin);
            if cn_ok && dns_ok && pin_ok {
                let prefixes = spec.prefixes().unwrap_or_default();
                return Ok(Identity { name: spec.name.clone(), key: spec.name.clone(), prefixes });
            }
        }
        Err(format!("certificate ({}) is signed by the CA but is not a configured [[peer]]", p.describe()))
    }
}
