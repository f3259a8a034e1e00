// SPDX-License-Identifier: MPL-2.0
//! tunneld: a small VPN daemon that moves the packets of one tun or tap
//! link to a peer over TLS 1.3 with mutual certificate authentication.
//!
//! Use it as a program (`tunneld --config FILE`, see README.md) or as a
//! library, which is how the tests run two instances in one process on
//! simulated links:
//!
//! ```ignore
//! let config = tunneld::Config::load(path)?;
//! let daemon = tunneld::Daemon::start(config).await?;   // TLS + sockets
//! let counters = daemon.counters();                       // live counters
//! let device = Arc::new(SimDevice::attach(&host, "vpn0", Mode::Tun)?);
//! daemon.run(device, async { shutdown_rx.await.ok(); }).await?;
//! ```
//!
//! Modules: [`config`] (the TOML file), [`device`] (the link backends
//! behind one trait), [`frame`] (packets inside the TLS stream), [`tls`]
//! (rustls setup), [`counters`], and the daemon itself ([`Daemon`]).

use std::fmt;

pub mod batch;
pub mod check;
pub mod config;
pub mod counters;
pub mod data;
mod daemon;
pub mod device;
mod fastpath;
pub mod frame;
pub mod hello;
pub mod identity;
pub mod netconf;
mod connect;
mod session;
pub mod status;
pub mod tls;
mod table;

pub use config::{Config, ConfigError, Endpoint, Role};
pub use counters::Counters;
pub use daemon::{Daemon, run};
pub use status::{query_status, query_status_json, text_from_json};
pub use device::{Device, DeviceError, Mode};

/// What kind of failure stopped the daemon; each is one exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad command line (exit 2).
    Usage,
    /// The configuration file is unreadable or invalid (exit 3).
    Config,
    /// Certificate, key or CA unusable (exit 4).
    Tls,
    /// The link could not be opened or attached, or went away (exit 5).
    Device,
    /// A socket could not be bound (listen address, status socket), or
    /// the status socket could not be reached (exit 6).
    Network,
    /// Anything else (exit 1).
    Internal,
}

/// A fatal error: its kind (and so the exit code) and a message naming
/// the object and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: String) -> Error {
        Error { kind, message }
    }

    /// The process exit code for this error (README.md lists them).
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Internal => 1,
            ErrorKind::Usage => 2,
            ErrorKind::Config => 3,
            ErrorKind::Tls => 4,
            ErrorKind::Device => 5,
            ErrorKind::Network => 6,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::new(ErrorKind::Config, e.to_string())
    }
}
