// SPDX-License-Identifier: MPL-2.0
//! `tunneld check`: everything about a configuration that can be known
//! without the peer — the file, the key (readable, not passphrase
//! protected, not world-readable), our certificate (valid now and for
//! how long, key usage and extended key usage fit for our role, chains
//! to the CA as the peer will check it, not revoked by our own CRL), the
//! CA certificates, the peers.
//!
//! Fatal findings are errors (exit 4, like the daemon's start); the rest
//! are report lines, warnings prefixed `warning: `.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::{ServerName, UnixTime};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::config::{Config, Role};
use crate::tls::{TlsMaterial, provider};
use crate::{Error, ErrorKind};

/// Warn when our certificate expires within this long.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

fn tls_error(m: String) -> Error {
    Error::new(ErrorKind::Tls, m)
}

/// Check `config`'s files as of `now`; the report's lines.
pub fn check(config: &Config, now: SystemTime) -> Result<Vec<String>, Error> {
    let mut lines = Vec::new();
    // What the daemon's start does: files readable, key matches.
    crate::tls::TlsSide::new(config).map_err(tls_error)?;
    let material = TlsMaterial::load(config).map_err(tls_error)?;
    let now_secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;

    // The key file's mode: anyone who can read it can be us.
    if let Ok(meta) = std::fs::metadata(&config.key) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o004 != 0 {
            lines.push(format!(
                "warning: private key {} is world-readable (mode {mode:04o}): any local user can impersonate this end; chmod 600 it",
                config.key.display()
            ));
        }
    }

    let leaf_der = material.certs.first().ok_or_else(|| tls_error(format!("certificate {}: empty", config.cert.display())))?;
    let (_, leaf) = X509Certificate::from_der(leaf_der)
        .map_err(|e| tls_error(format!("certificate {}: not a readable X.509 certificate: {e}", config.cert.display())))?;
    let what = format!("certificate {}", config.cert.display());
    let (not_before, not_after) = (leaf.validity().not_before.timestamp(), leaf.validity().not_after.timestamp());
    if now_secs < not_before {
        return Err(tls_error(format!("{what} is not valid yet (from {})", leaf.validity().not_before)));
    }
    if now_secs > not_after {
        return Err(tls_error(format!("{what} expired on {}", leaf.validity().not_after)));
    }
    let left = Duration::from_secs((not_after - now_secs) as u64);
    let days = left.as_secs() / 86_400;
    if left < EXPIRY_WARNING {
        lines.push(format!("warning: {what} expires in {days} days ({})", leaf.validity().not_after));
    }
    if let Ok(Some(ku)) = leaf.key_usage()
        && !ku.value.digital_signature()
    {
        return Err(tls_error(format!("{what}: its key usage lacks digitalSignature, which TLS 1.3 needs")));
    }
    if let Ok(Some(eku)) = leaf.extended_key_usage() {
        let e = eku.value;
        let (ok, name) = match config.role {
            Role::Server => (e.any || e.server_auth, "serverAuth"),
            Role::Client => (e.any || e.client_auth, "clientAuth"),
        };
        if !ok {
            return Err(tls_error(format!("{what}: its extended key usage lacks {name}, which a {} needs", config.role)));
        }
    }

    // Chain to the CA (and our own CRL), as the peer will check it.
    let unix_now = UnixTime::since_unix_epoch(Duration::from_secs(now_secs.max(0) as u64));
    let intermediates = material.certs.get(1..).unwrap_or_default();
    match config.role {
        Role::Client => {
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(material.roots.clone(), provider())
                .with_crls(material.crls.clone())
                .only_check_end_entity_revocation()
                .build()
                .map_err(|e| tls_error(format!("CA {}: {e}", config.ca.display())))?;
            verifier
                .verify_client_cert(leaf_der, intermediates, unix_now)
                .map_err(|e| tls_error(format!("{what} does not pass the CA {} as a client: {e}", config.ca.display())))?;
        }
        Role::Server => {
            let name = san_names(&leaf).into_iter().next().ok_or_else(|| {
                tls_error(format!("{what} has no subjectAltName DNS name or IP address: no client can match its server_name"))
            })?;
            let server_name = ServerName::try_from(name.clone()).map_err(|e| tls_error(format!("{what}: name {name:?}: {e}")))?;
            let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(material.roots.clone(), provider())
                .with_crls(material.crls.clone())
                .only_check_end_entity_revocation()
                .build()
                .map_err(|e| tls_error(format!("CA {}: {e}", config.ca.display())))?;
            verifier
                .verify_server_cert(leaf_der, intermediates, &server_name, &[], unix_now)
                .map_err(|e| tls_error(format!("{what} does not pass the CA {} as server {name:?}: {e}", config.ca.display())))?;
        }
    }
    let subject = leaf.subject().to_string();
    lines.push(format!("{what}: {subject}, valid {days} more days, chains to {}", config.ca.display()));
    lines.push(format!("  its pin (for the peer's [[peer]] pin): {}", crate::identity::pin_of(&leaf)));
    if config.peers.is_empty() {
        lines.push("warning: no [[peer]] configured: any certificate signed by the CA is accepted as the peer".into());
    } else {
        let names: Vec<&str> = config.peers.iter().map(|p| p.name.as_str()).collect();
        lines.push(format!("peers: {}", names.join(", ")));
    }
    if let Some(crl) = &config.crl {
        lines.push(format!("CRL {}: {} list(s)", crl.display(), material.crls.len()));
    }
    Ok(lines)
}

fn san_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => out.push(d.to_string()),
                GeneralName::IPAddress(b) if b.len() == 4 => {
                    out.push(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string());
                }
                _ => {}
            }
        }
    }
    out
}
