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
//! # transport = "udp"             # data channel: "udp" (default) or "tcp"
//! # ciphers = ["aes-256-gcm", "chacha20-poly1305"]  # in order of preference
//!
//! # crl = "/etc/tunneld/ca.crl"  # revoked certificates (PEM CRLs)
//! # udp_offload = true           # Linux: UDP GSO/GRO on the data socket
//! # tun_offload = true           # Linux tun: IFF_VNET_HDR, TSO and checksum offload
//! # advertise_udp_port = 7443     # server behind a port forward: the
//! #                                # UDP port clients must send to
//!
//! [[peer]]                         # who may be the peer (any of cn, dns,
//! name = "site-b"                  # pin; all given must match); without
//! cn = "site-b.example.org"        # [[peer]], any certificate of the CA
//! # dns = "site-b.example.org"
//! # pin = "sha256:<64 hex digits>" # SHA-256 of the SubjectPublicKeyInfo
//! # addresses = ["10.9.0.2/32"]   # server: the peer's tunnel addresses
//!
//! [link]
//! name = "vpn0"                    # the tun/tap link
//! mode = "tun"                     # "tun" or "tap"
//! mtu = 1500
//! # address = "10.9.0.2/24"      # applied at start (ip / ipadm)
//! # routes = ["10.10.0.0/16"]     # through the link (need address)
//! # queues = 1                    # illumos: queues on the link, a reader
//! #                                # thread each (1 to 16)
//! # offload = false               # illumos: checksum/segmentation offload
//! # batch_writes = true           # illumos: several packets per write
//!
//! [liveness]                       # optional
//! keepalive_ms = 10000             # send a keepalive after this much silence
//! dead_peer_ms = 40000             # nothing heard this long: the peer is dead
//!
//! [rekey]                          # optional: when a data key is replaced
//! after_packets = 16777216
//! after_ms = 120000
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

use crate::data::{Cipher, RekeyPolicy};
use crate::device::Mode;
use crate::hello::Transport;
use crate::identity::PeerSpec;
use crate::netconf::Cidr;

/// Default keepalive interval and dead-peer timeout (milliseconds).
pub const KEEPALIVE_MS: u64 = 10_000;
pub const DEAD_PEER_MS: u64 = 40_000;

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
    /// Where packets travel: sealed UDP datagrams, or the TLS stream.
    pub transport: Transport,
    /// Data-channel ciphers, preferred first.
    pub ciphers: Vec<Cipher>,
    /// Silence after which we send a keepalive.
    pub keepalive: Duration,
    /// Silence from the peer after which the session is dead.
    pub dead_peer: Duration,
    /// When a data key is replaced.
    pub rekey: RekeyPolicy,
    /// Who may be the peer (empty: any certificate of the CA).
    pub peers: Vec<PeerSpec>,
    /// Certificate revocation lists (PEM), checked during the handshake.
    pub crl: Option<PathBuf>,
    /// Server: the UDP port clients are told to send to, when a NAT or
    /// port forward maps it to ours (default: our data socket's port).
    pub advertise_udp_port: Option<u16>,
    /// Linux: UDP GSO on sending and GRO on receiving (default true).
    pub udp_offload: bool,
    /// Queues the daemon opens on the link (illumos driver), one reader
    /// thread each.
    pub queues: usize,
    /// Batched writes and offload on the driver's queues.
    pub link_features: crate::device::Features,
    /// Linux tun: open it with `IFF_VNET_HDR` and `TUNSETOFFLOAD`
    /// (default true; a kernel without them gets a plain tun).
    pub tun_offload: bool,
    /// The link's address, applied by the program at start.
    pub address: Option<Cidr>,
    /// Routes through the link (they need `address`).
    pub routes: Vec<Cidr>,
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
    transport: Option<Transport>,
    ciphers: Option<Vec<Cipher>>,
    link: RawLink,
    reconnect: Option<RawReconnect>,
    status: Option<RawStatus>,
    liveness: Option<RawLiveness>,
    rekey: Option<RawRekey>,
    peer: Option<Vec<PeerSpec>>,
    crl: Option<PathBuf>,
    advertise_udp_port: Option<u16>,
    udp_offload: Option<bool>,
    tun_offload: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLiveness {
    keepalive_ms: Option<u64>,
    dead_peer_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRekey {
    after_packets: Option<u64>,
    after_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    name: String,
    mode: Mode,
    mtu: Option<u32>,
    address: Option<String>,
    routes: Option<Vec<String>>,
    queues: Option<usize>,
    offload: Option<bool>,
    batch_writes: Option<bool>,
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
                if raw.advertise_udp_port == Some(0) {
                    return Err(fail("advertise_udp_port = 0 names no port".into()));
                }
                let listen = raw.listen.ok_or_else(|| fail("role = \"server\" needs `listen` (address:port)".into()))?;
                let addr: SocketAddr = listen
                    .parse()
                    .map_err(|_| fail(format!("listen = {listen:?} is not an IP address and port (e.g. \"0.0.0.0:7443\")")))?;
                Endpoint::Listen(addr)
            }
            Role::Client => {
                if raw.advertise_udp_port.is_some() {
                    return Err(fail("`advertise_udp_port` is for role = \"server\"".into()));
                }
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
        // The driver's bounds (tuntap_abi::limits), not a copy.
        let mtu = tuntap_abi::check_mtu(raw.link.mtu.unwrap_or(tuntap_abi::MTU_DEFAULT))
            .map_err(|e| fail(format!("[link] mtu: {e}")))?;
        let queues = raw.link.queues.unwrap_or(1);
        if !(1..=16).contains(&queues) {
            return Err(fail(format!("[link] queues = {queues} is outside 1..=16")));
        }
        let link_features = crate::device::Features {
            batch_writes: raw.link.batch_writes.unwrap_or(true),
            offload: raw.link.offload.unwrap_or(false),
        };
        let address = match &raw.link.address {
            Some(a) => Some(Cidr::parse(a).map_err(|e| fail(format!("[link] address: {e}")))?),
            None => None,
        };
        let mut routes = Vec::new();
        for r in raw.link.routes.iter().flatten() {
            routes.push(Cidr::parse(r).map_err(|e| fail(format!("[link] routes: {e}")))?);
        }
        if !routes.is_empty() && address.is_none() {
            return Err(fail("[link] routes need [link] address (the routes point at it)".into()));
        }
        let ciphers = raw.ciphers.unwrap_or_else(|| vec![Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305]);
        if ciphers.is_empty() {
            return Err(fail("ciphers = [] names no cipher (use \"aes-256-gcm\" and/or \"chacha20-poly1305\")".into()));
        }
        let (keepalive_ms, dead_ms) = match &raw.liveness {
            Some(l) => (l.keepalive_ms.unwrap_or(KEEPALIVE_MS), l.dead_peer_ms.unwrap_or(DEAD_PEER_MS)),
            None => (KEEPALIVE_MS, DEAD_PEER_MS),
        };
        if keepalive_ms == 0 {
            return Err(fail("[liveness] keepalive_ms must be at least 1".into()));
        }
        if dead_ms < 2 * keepalive_ms {
            return Err(fail(format!(
                "[liveness] dead_peer_ms = {dead_ms} must be at least twice keepalive_ms = {keepalive_ms} (one lost keepalive is not a dead peer)"
            )));
        }
        let rekey = RekeyPolicy {
            packets: raw.rekey.as_ref().and_then(|r| r.after_packets).unwrap_or(RekeyPolicy::DEFAULT.packets),
            time: raw.rekey.as_ref().and_then(|r| r.after_ms).map(Duration::from_millis).unwrap_or(RekeyPolicy::DEFAULT.time),
        };
        if !(1..=RekeyPolicy::DEFAULT.packets).contains(&rekey.packets) {
            return Err(fail(format!(
                "[rekey] after_packets = {} is outside 1..={} (RFC 8446 §5.5 bounds the packets per AES-GCM key)",
                rekey.packets,
                RekeyPolicy::DEFAULT.packets
            )));
        }
        if rekey.time.is_zero() || rekey.time > Duration::from_secs(24 * 3600) {
            return Err(fail(format!("[rekey] after_ms = {} is outside 1..=86400000", rekey.time.as_millis())));
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
        let peers = raw.peer.unwrap_or_default();
        for p in &peers {
            p.validate().map_err(&fail)?;
        }
        for (i, p) in peers.iter().enumerate() {
            if peers.iter().skip(i + 1).any(|q| q.name == p.name) {
                return Err(fail(format!("[[peer]] name = {:?} is given twice", p.name)));
            }
        }
        if raw.crl.as_ref().is_some_and(|c| c.as_os_str().is_empty()) {
            return Err(fail("`crl` is empty: it must name a PEM file of CRLs".into()));
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
            transport: raw.transport.unwrap_or(Transport::Udp),
            ciphers,
            keepalive: Duration::from_millis(keepalive_ms),
            dead_peer: Duration::from_millis(dead_ms),
            rekey,
            peers,
            crl: raw.crl.map(resolve),
            advertise_udp_port: raw.advertise_udp_port,
            udp_offload: raw.udp_offload.unwrap_or(true),
            queues,
            link_features,
            tun_offload: raw.tun_offload.unwrap_or(true),
            address,
            routes,
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
