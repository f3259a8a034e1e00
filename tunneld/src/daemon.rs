// SPDX-License-Identifier: MPL-2.0
//! The daemon: one link, one peer at a time.
//!
//! # Theory statement
//!
//! **What it does.**  [`Daemon::start`] checks everything that can be
//! checked before serving (TLS material, the listening and data
//! sockets, the status socket) so a bad setup fails at once with a
//! clear error.  [`Daemon::run`] then moves packets between the link
//! ([`DeviceIo`]) and the current session ([`crate::session`]) until
//! `shutdown` resolves or the link fails.
//!
//! **Tasks.**  The run loop owns the device channels and runs one
//! session at a time.  A server also runs an accept task
//! ([`crate::connect`]: TLS handshake, peer identity, hello, each
//! connection in its own task under the handshake timeout) that hands
//! established sessions over a one-slot channel; a newer session
//! replaces the current one, so a client that lost its connection
//! silently can come back at once.  A client connects itself, with
//! exponential backoff between failed attempts and after dead
//! sessions.  The status socket, when configured, is one more task.
//!
//! **Carrier.**  The link's carrier is up while a session is up and
//! down otherwise ([`Device::set_carrier`]), so routing on the host
//! sees a dead peer.
//!
//! **Invariants.**  Nothing the peer sends can panic the daemon: bad
//! input is dropped and counted (and logged, rate-limited); bad framing
//! on the control channel drops the connection.  Shutdown sends TLS
//! close_notify, closes the device (detaching the link) and joins its
//! threads before returning, and removes the status socket.

use std::future::Future;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, watch};

use crate::config::{Config, Endpoint};
use crate::connect::{Accept, Connector, accept_loop, size_buffers};
use crate::counters::Counters;
use crate::device::{Device, DeviceIo};
use crate::hello::Transport;
use crate::identity::Peers;
use crate::session::{self, Conn, End, Link, wait_stop};
use crate::status::{bind_status_socket, serve_status};
use crate::tls::TlsSide;
use crate::{Error, ErrorKind};

/// A configured daemon whose sockets are bound; see [`Daemon::run`].
pub struct Daemon {
    config: Config,
    tls: TlsSide,
    listener: Option<TcpListener>,
    udp: Option<Arc<UdpSocket>>,
    status: Option<(UnixListener, PathBuf)>,
    counters: Arc<Counters>,
}

impl Daemon {
    /// Load the TLS material, bind the server's listening and data
    /// sockets and the status socket.  Errors carry their exit code.
    pub async fn start(config: Config) -> Result<Daemon, Error> {
        let tls = TlsSide::new(&config).map_err(|m| Error::new(ErrorKind::Tls, m))?;
        let (listener, udp) = match &config.endpoint {
            Endpoint::Listen(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|e| Error::new(ErrorKind::Network, format!("cannot listen on {addr}: {e}")))?;
                let udp = match config.transport {
                    Transport::Udp => Some(Arc::new(bind_data_socket(&listener, *addr).await?)),
                    Transport::Tcp => None,
                };
                (Some(listener), udp)
            }
            Endpoint::Connect { .. } => (None, None),
        };
        let status = match &config.status_socket {
            Some(path) => Some((bind_status_socket(path).await?, path.clone())),
            None => None,
        };
        Ok(Daemon { config, tls, listener, udp, status, counters: Arc::new(Counters::default()) })
    }

    /// The address a server listens on (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The server's UDP data address.
    pub fn data_addr(&self) -> Option<SocketAddr> {
        self.udp.as_ref().and_then(|u| u.local_addr().ok())
    }

    /// The tunnel's counters, live.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Move packets between `device` and the peer until `shutdown`
    /// resolves (Ok) or the link fails (Err, [`ErrorKind::Device`]).
    /// The device is closed before this returns, whatever the outcome.
    pub async fn run(self, device: Arc<dyn Device>, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
        let Daemon { config, tls, listener, udp, status, counters } = self;
        let link = device.name().to_string();
        if device.mode() != config.mode {
            device.close();
            return Err(Error::new(
                ErrorKind::Device,
                format!("link {link} is a {} link but the configuration says mode = \"{}\"", device.mode(), config.mode),
            ));
        }
        if device.mtu() != config.mtu as usize {
            tracing::warn!(
                "link {link}: its MTU is {} but the configuration says {}; packets are checked against the link's",
                device.mtu(),
                config.mtu
            );
        }
        let limit = device.mode().max_packet(device.mtu());

        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });

        let status_task = status.map(|(listener, path)| {
            let counters = counters.clone();
            let (link, mode, role) = (link.clone(), config.mode.to_string(), config.role.to_string());
            (tokio::spawn(serve_status(listener, counters, link, mode, role)), path)
        });

        let mut io = DeviceIo::start(device.clone(), config.queue_packets, counters.clone())
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start the device threads: {e}")))?;
        device.set_carrier(false);
        tracing::info!("link {link} ({}, mtu {}) attached; role {}", device.mode(), device.mtu(), config.role);
        if config.peers.is_empty() {
            tracing::warn!("no [[peer]] configured: any certificate signed by the CA is accepted as the peer");
        }
        let peers = Arc::new(Peers::new(&config.peers));

        let mut source = match (tls, listener) {
            (TlsSide::Server(acceptor), Some(listener)) => {
                let (tx, rx) = mpsc::channel(1);
                let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
                let udp_port = udp.as_ref().and_then(|u| u.local_addr().ok()).map(|a| config.advertise_udp_port.unwrap_or(a.port()));
                match udp_port {
                    Some(p) => tracing::info!("listening on {addr} (TCP, control) and UDP port {p} (data)"),
                    None => tracing::info!("listening on {addr} (TCP: control and data)"),
                }
                let accept = Accept {
                    listener,
                    acceptor,
                    sessions: tx,
                    counters: counters.clone(),
                    config: config.clone(),
                    peers: peers.clone(),
                    udp_port,
                };
                Source::Server { incoming: rx, task: tokio::spawn(accept_loop(accept)) }
            }
            (TlsSide::Client { connector, server_name }, _) => {
                let address = match &config.endpoint {
                    Endpoint::Connect { address, .. } => address.clone(),
                    Endpoint::Listen(a) => a.to_string(),
                };
                Source::Client(Box::new(Connector { connector, server_name, address, delay: None, config: config.clone(), peers }))
            }
            (TlsSide::Server(_), None) => {
                return Err(Error::new(ErrorKind::Internal, "server without a listening socket".into()));
            }
        };

        let outcome = run_loop(&mut io, &mut source, stop_rx, &counters, &config, &device, limit, udp.as_ref()).await;

        if let Source::Server { task, .. } = &source {
            task.abort();
        }
        device.set_carrier(false);
        let device_name = link.clone();
        // Closing the device blocks (joins threads): off the runtime.
        let _ = tokio::task::spawn_blocking(move || io.stop()).await;
        if let Some((task, path)) = status_task {
            task.abort();
            let _ = std::fs::remove_file(&path);
        }
        counters.set_connected(None);
        tracing::info!("link {device_name} detached; counters: {}", counters.summary());
        outcome
    }
}

/// The server's UDP data socket: the listening address and, when free,
/// the same port number as TCP (an operator opens one port for both).
async fn bind_data_socket(listener: &TcpListener, configured: SocketAddr) -> Result<UdpSocket, Error> {
    let tcp = listener.local_addr().map_err(|e| Error::new(ErrorKind::Network, format!("listening socket: {e}")))?;
    let sock = match UdpSocket::bind(tcp) {
        Ok(s) => s,
        // Port 0 asked for any port: TCP's number may be taken for UDP.
        Err(_) if configured.port() == 0 => UdpSocket::bind(configured)
            .map_err(|e| Error::new(ErrorKind::Network, format!("cannot bind UDP {configured}: {e}")))?,
        Err(e) => return Err(Error::new(ErrorKind::Network, format!("cannot bind UDP {tcp}: {e}"))),
    };
    size_buffers(&sock);
    Ok(sock)
}

/// Load config, start, and run: the whole daemon in one call.
pub async fn run(config: Config, device: Arc<dyn Device>, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
    Daemon::start(config).await?.run(device, shutdown).await
}

enum Source {
    Server { incoming: mpsc::Receiver<Conn>, task: tokio::task::JoinHandle<()> },
    Client(Box<Connector>),
}

impl Source {
    async fn next(&mut self, counters: &Counters) -> Conn {
        match self {
            Source::Server { incoming, .. } => match incoming.recv().await {
                Some(c) => c,
                None => std::future::pending().await,
            },
            Source::Client(c) => c.connect(counters).await,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_loop(
    io: &mut DeviceIo,
    source: &mut Source,
    mut stop: watch::Receiver<bool>,
    counters: &Arc<Counters>,
    config: &Config,
    device: &Arc<dyn Device>,
    limit: usize,
    server_udp: Option<&Arc<UdpSocket>>,
) -> Result<(), Error> {
    let mut next: Option<Conn> = None;
    loop {
        let conn = match next.take() {
            Some(c) => c,
            None => {
                let connecting = source.next(counters);
                tokio::pin!(connecting);
                loop {
                    tokio::select! {
                        _ = wait_stop(&mut stop) => return Ok(()),
                        c = &mut connecting => break c,
                        msg = io.from_device.recv() => match msg {
                            Some(Ok(_)) => counters.add(&counters.tx_dropped_no_peer, 1),
                            Some(Err(e)) => return Err(Error::new(ErrorKind::Device, e)),
                            None => return Err(Error::new(ErrorKind::Device, "the device reader stopped".into())),
                        },
                    }
                }
            }
        };
        let peer = conn.peer.clone();
        counters.add(&counters.connects, 1);
        counters.set_connected(Some(peer.clone()));
        counters.set_session(conn.negotiated.transport.to_string(), conn.negotiated.cipher.to_string());
        tracing::info!("peer {peer}: session up ({}, {})", conn.negotiated.transport, conn.negotiated.cipher);
        device.set_carrier(true);
        let started = Instant::now();
        let newer = match source {
            Source::Server { incoming, .. } => Some(incoming),
            Source::Client(_) => None,
        };
        let link = Link {
            from_device: &mut io.from_device,
            to_device: &io.to_device,
            counters,
            mode: device.mode(),
            limit,
            keepalive: config.keepalive,
            dead_peer: config.dead_peer,
            rekey: config.rekey,
            server_udp,
            fast_tx: &io.fast_tx,
            device,
            shared: counters,
        };
        let end = session::run(conn, link, newer, &mut stop).await;
        counters.set_connected(None);
        counters.add(&counters.disconnects, 1);
        if !matches!(end, End::Replaced(_)) {
            device.set_carrier(false);
        }
        if let Source::Client(c) = source {
            c.session_ended(started.elapsed());
        }
        match end {
            End::Shutdown => {
                tracing::info!("peer {peer}: session closed for shutdown");
                return Ok(());
            }
            End::Replaced(newer) => {
                let why = format!("peer {peer}: session replaced by a new one from {}", newer.peer);
                tracing::info!("{why}");
                counters.set_last_error(why);
                next = Some(*newer);
            }
            End::DeviceFailed(e) => {
                tracing::error!("{e}; stopping");
                return Err(Error::new(ErrorKind::Device, e));
            }
            End::Peer(why) => {
                let why = format!("peer {peer}: session ended: {why}");
                tracing::warn!("{why}");
                counters.set_last_error(why);
            }
        }
    }
}
