// SPDX-License-Identifier: MPL-2.0
//! The configuration file: a small TOML document, checked whole before
//! the daemon touches anything.
//!
//! ```toml
//! role = "client"                  # or "server"
//! connect = "vpn.example.org:7443" # client: the server (host:port)
//! # listen = "0.0.0.0:7443"        # server: where to accept
//! # server_name = "vpn.example.org"  # client: name the server's certificate
//! #                                # must carry (default: connect's host)
//! cert = "/etc/tunneld/vpn0.crt"   # our certificate chain (PEM)
//! key = "/etc/tunneld/vpn0.key"    # its private key (PEM)
//! ca = "/etc/tunneld/ca.crt"       # CA(s) the peer's certificate must chain to
//!
//! [link]
//! name = "vpn0"                    # the tun/tap link
//! mode = "tun"                     # "tun" or "tap"
//! mtu = 1500
//!
//! [reconnect]                      # client only
//! min_ms = 500
//! max_ms = 30000
//!
//! [status]
//! socket = "/var/run/tunneld/vpn0.sock"
//! ```
//!
//! Relative paths are taken relative to the configuration file's
//! directory.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::device::Mode;

/// Smallest MTU accepted (IPv4's minimum).
pub const MIN_MTU: u32 = 68;
/// Largest MTU accepted.
pub const MAX_MTU: u32 = 65_535;

/// Client or server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Client,
    Server,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Client => "client",
            Role::Server => "server",
        })
    }
}

/// Where the TLS session comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// Server: accept on this address.
    Listen(SocketAddr),
    /// Client: connect to `host:port`, verifying `server_name`.
    Connect { address: String, server_name: String },
}

/// A checked configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub role: Role,
    pub endpoint: Endpoint,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    pub link: String,
    pub mode: Mode,
    pub mtu: u32,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// Longest a TCP connect plus TLS handshake may take.
    pub handshake_timeout: Duration,
    pub status_socket: Option<PathBuf>,
    /// Depth of each bounded packet queue (link -> peer, peer -> link).
    pub queue_packets: usize,
}

/// A configuration that could not be used: the file and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub source: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration {}: {}", self.source, self.reason)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    role: Role,
    listen: Option<String>,
    connect: Option<String>,
    server_name: Option<String>,
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
    handshake_timeout_ms: Option<u64>,
    queue_packets: Option<usize>,
    link: RawLink,
    reconnect: Option<RawReconnect>,
    status: Option<RawStatus>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    name: String,
    mode: Mode,
    mtu: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReconnect {
    min_ms: Option<u64>,
    max_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatus {
    socket: Option<PathBuf>,
}

impl Config {
    /// Read and check the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source: path.display().to_string(),
            reason: format!("cannot read: {e}"),
        })?;
        Config::parse(&text, &path.display().to_string(), path.parent())
    }

    /// Check `text`; `source` names it in errors; relative paths are
    /// joined to `base` when given.
    pub fn parse(text: &str, source: &str, base: Option<&Path>) -> Result<Config, ConfigError> {
        let fail = |reason: String| ConfigError { source: source.to_string(), reason };
        let raw: RawConfig = toml::from_str(text).map_err(|e| fail(flatten(&e.to_string())))?;

        let endpoint = match raw.role {
            Role::Server => {
                if raw.connect.is_some() {
                    return Err(fail("`connect` is for role = \"client\"; a server uses `listen`".into()));
                }
                if raw.server_name.is_some() {
                    return Err(fail("`server_name` is for role = \"client\"".into()));
                }
                if raw.reconnect.is_some() {
                    return Err(fail("[reconnect] is for role = \"client\"".into()));
                }
                let listen = raw.listen.ok_or_else(|| fail("role = \"server\" needs `listen` (address:port)".into()))?;
                let addr: SocketAddr = listen
                    .parse()
                    .map_err(|_| fail(format!("listen = {listen:?} is not an IP address and port (e.g. \"0.0.0.0:7443\")")))?;
                Endpoint::Listen(addr)
            }
            Role::Client => {
                if raw.listen.is_some() {
                    return Err(fail("`listen` is for role = \"server\"; a client uses `connect`".into()));
                }
                let address = raw.connect.ok_or_else(|| fail("role = \"client\" needs `connect` (host:port)".into()))?;
                let host = split_host_port(&address)
                    .ok_or_else(|| fail(format!("connect = {address:?} is not host:port (e.g. \"vpn.example.org:7443\")")))?;
                let server_name = raw.server_name.unwrap_or_else(|| host.to_string());
                if rustls_pki_types::ServerName::try_from(server_name.as_str()).is_err() {
                    return Err(fail(format!("server_name {server_name:?} is not a DNS name or IP address")));
                }
                Endpoint::Connect { address, server_name }
            }
        };

        tuntap_abi::validate_link_name(raw.link.name.as_bytes())
            .map_err(|e| fail(format!("[link] name = {:?} is not a valid link name: {e}", raw.link.name)))?;
        let mtu = raw.link.mtu.unwrap_or(1500);
        if !(MIN_MTU..=MAX_MTU).contains(&mtu) {
            return Err(fail(format!("[link] mtu = {mtu} is outside {MIN_MTU}..={MAX_MTU}")));
        }

        let (min_ms, max_ms) = match &raw.reconnect {
            Some(r) => (r.min_ms.unwrap_or(500), r.max_ms.unwrap_or(30_000)),
            None => (500, 30_000),
        };
        if min_ms == 0 {
            return Err(fail("[reconnect] min_ms must be at least 1".into()));
        }
        if min_ms > max_ms {
            return Err(fail(format!("[reconnect] min_ms = {min_ms} is larger than max_ms = {max_ms}")));
        }
        let handshake_ms = raw.handshake_timeout_ms.unwrap_or(10_000);
        if handshake_ms == 0 {
            return Err(fail("handshake_timeout_ms must be at least 1".into()));
        }
        let queue_packets = raw.queue_packets.unwrap_or(512);
        if !(1..=1_000_000).contains(&queue_packets) {
            return Err(fail(format!("queue_packets = {queue_packets} is outside 1..=1000000")));
        }
        for (key, path) in [("cert", &raw.cert), ("key", &raw.key), ("ca", &raw.ca)] {
            if path.as_os_str().is_empty() {
                return Err(fail(format!("`{key}` is empty: it must name a PEM file")));
            }
        }
        let resolve = |p: PathBuf| match base {
            Some(b) if p.is_relative() => b.join(p),
            _ => p,
        };
        let status_socket = raw.status.and_then(|s| s.socket).map(resolve);
        if status_socket.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(fail("[status] socket is empty".into()));
        }

        Ok(Config {
            role: raw.role,
            endpoint,
            cert: resolve(raw.cert),
            key: resolve(raw.key),
            ca: resolve(raw.ca),
            link: raw.link.name,
            mode: raw.link.mode,
            mtu,
            reconnect_min: Duration::from_millis(min_ms),
            reconnect_max: Duration::from_millis(max_ms),
            handshake_timeout: Duration::from_millis(handshake_ms),
            status_socket,
            queue_packets,
        })
    }
}

/// `host:port` or `[v6]:port` -> the host, if the port is a number.
fn split_host_port(address: &str) -> Option<&str> {
    let (host, port) = address.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    Some(host)
}

/// toml's messages span several lines (a source excerpt under the
/// position); keep one line: position, the offending line, the reason.
fn flatten(message: &str) -> String {
    let mut parts = Vec::new();
    let mut excerpt = None;
    for line in message.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('|') {
            Some((gutter, text)) if gutter.trim().chars().all(|c| c.is_ascii_digit()) => {
                if !gutter.trim().is_empty() && excerpt.is_none() {
                    excerpt = Some(text.trim().to_string());
                }
            }
            _ => parts.push(line.strip_prefix("TOML parse error at ").unwrap_or(line).to_string()),
        }
    }
    if let (Some(first), Some(text)) = (parts.first_mut(), excerpt) {
        first.push_str(&format!(" (`{text}`)"));
    }
    parts.join(": ")
}
