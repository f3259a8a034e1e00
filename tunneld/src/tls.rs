// SPDX-License-Identifier: MPL-2.0
//! TLS 1.3 with mutual certificate authentication (rustls, ring).
//!
//! Both ends present a certificate chain and verify the peer's against
//! the configured CA: the server requires a client certificate, the
//! client checks the server's name.  Only TLS 1.3 is offered.  With
//! `crl` configured, a peer whose certificate a CRL of its issuer lists
//! is refused in the handshake (rustls `with_crls`, end-entity depth;
//! a certificate whose issuer has no CRL in the file is refused too, as
//! its status is unknown).  Which CA-signed certificates are *peers* is
//! [`crate::identity`]'s question, asked after the handshake.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use crate::config::{Config, Endpoint};

/// Our certificate chain, our key and the CAs we trust, loaded.
pub struct TlsMaterial {
    pub certs: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub roots: Arc<RootCertStore>,
    pub crls: Vec<CertificateRevocationListDer<'static>>,
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(what: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{what} {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what} {}: not PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{what} {}: no PEM certificate in the file", path.display()));
    }
    Ok(certs)
}

impl TlsMaterial {
    /// Load `cert`, `key` and `ca` from the configuration; the error
    /// names the file and what is wrong with it.
    pub fn load(config: &Config) -> Result<TlsMaterial, String> {
        let certs = read_certs("certificate", &config.cert)?;
        // A passphrase-protected key (PKCS#8 "ENCRYPTED PRIVATE KEY" or
        // the legacy "Proc-Type: 4,ENCRYPTED" header): say so rather
        // than "no key found".
        if let Ok(text) = std::fs::read(&config.key) {
            let text = String::from_utf8_lossy(&text);
            if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || text.contains("Proc-Type: 4,ENCRYPTED") {
                return Err(format!(
                    "private key {} is passphrase-protected; tunneld runs unattended and cannot ask for it: store it decrypted, mode 0600 (e.g. openssl pkey -in KEY -out PLAIN)",
                    config.key.display()
                ));
            }
        }
        let key = PrivateKeyDer::from_pem_file(&config.key)
            .map_err(|e| format!("private key {}: {e}", config.key.display()))?;
        let mut roots = RootCertStore::empty();
        for ca in read_certs("CA certificate", &config.ca)? {
            roots.add(ca).map_err(|e| format!("CA certificate {}: {e}", config.ca.display()))?;
        }
        let crls = match &config.crl {
            None => Vec::new(),
            Some(path) => {
                let crls = CertificateRevocationListDer::pem_file_iter(path)
                    .map_err(|e| format!("CRL {}: {e}", path.display()))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("CRL {}: not PEM CRLs: {e}", path.display()))?;
                if crls.is_empty() {
                    return Err(format!("CRL {}: no PEM X509 CRL in the file", path.display()));
                }
                crls
            }
        };
        Ok(TlsMaterial { certs, key, roots: Arc::new(roots), crls })
    }

    /// The server side: TLS 1.3, client certificate required.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, String> {
        let provider = provider();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(self.roots.clone(), provider.clone())
            .with_crls(self.crls.clone())
            .only_check_end_entity_revocation()
            .build()
            .map_err(|e| format!("client certificate verifier: {e}"))?;
        rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| format!("TLS 1.3: {e}"))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.certs.clone(), self.key.clone_key())
            .map_err(|e| format!("certificate and key do not form a usable pair: {e}"))
    }

    /// The client side: TLS 1.3, our certificate offered.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, String> {
        let provider = provider();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(self.roots.clone(), provider.clone())
            .with_crls(self.crls.clone())
            .only_check_end_entity_revocation()
            .build()
            .map_err(|e| format!("server certificate verifier: {e}"))?;
        rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| format!("TLS 1.3: {e}"))?
            .with_webpki_verifier(verifier)
            .with_client_auth_cert(self.certs.clone(), self.key.clone_key())
            .map_err(|e| format!("certificate and key do not form a usable pair: {e}"))
    }
}

/// The acceptor or connector a configuration needs, checked up front so
/// that bad TLS material stops the daemon before it serves.
pub enum TlsSide {
    Server(tokio_rustls::TlsAcceptor),
    Client { connector: tokio_rustls::TlsConnector, server_name: rustls_pki_types::ServerName<'static> },
}

impl TlsSide {
    pub fn new(config: &Config) -> Result<TlsSide, String> {
        let material = TlsMaterial::load(config)?;
        match &config.endpoint {
            Endpoint::Listen(_) => {
                Ok(TlsSide::Server(tokio_rustls::TlsAcceptor::from(Arc::new(material.server_config()?))))
            }
            Endpoint::Connect { server_name, .. } => {
                let name = rustls_pki_types::ServerName::try_from(server_name.clone())
                    .map_err(|e| format!("server_name {server_name:?}: {e}"))?;
                Ok(TlsSide::Client {
                    connector: tokio_rustls::TlsConnector::from(Arc::new(material.client_config()?)),
                    server_name: name,
                })
            }
        }
    }
}
