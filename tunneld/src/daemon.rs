// SPDX-License-Identifier: MPL-2.0
//! The daemon: one link, its peers' sessions at once.
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
//! **Tasks.**  A server runs an accept task ([`crate::connect`]: TLS
//! handshake, peer identity, hello, each connection in its own task
//! under the handshake timeout) that hands established sessions over a
//! channel; [`serve`] runs each as its own task, all at the same time,
//! each with its route in the [`Table`] (its `[[peer]] addresses`), and
//! one thread receives every client's datagrams on the data socket
//! ([`Demux`], by session index).  A newer session of the same
//! configured peer replaces its older one, so a client that lost its
//! connection silently can come back at once; other peers' sessions are
//! not touched.  A client ([`dial`]) connects itself, with exponential
//! backoff between failed attempts and after dead sessions.  The status
//! socket, when configured, is one more task.
//!
//! **Carrier.**  The link's carrier is up while at least one session is
//! up and down otherwise ([`Device::set_carrier`]), so routing on the
//! host sees a dead peer.
//!
//! **Invariants.**  Nothing the peer sends can panic the daemon: bad
//! input is dropped and counted (and logged, rate-limited); bad framing
//! on the control channel drops the connection.  Shutdown sends TLS
//! close_notify, closes the device (detaching the link) and joins its
//! threads before returning, and removes the status socket.

use std::collections::HashMap;
use std::future::Future;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::config::{Config, Endpoint};
use crate::connect::{Accept, Connector, accept_loop, size_buffers};
use crate::counters::Counters;
use crate::device::{Device, DeviceIo};
use crate::fastpath::{self, Demux, RxPath};
use crate::hello::Transport;
use crate::identity::Peers;
use crate::session::{self, Conn, End, Env, wait_stop};
use crate::table::Table;
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
                    Transport::Udp => Some(Arc::new(bind_data_socket(&listener, *addr, config.udp_offload).await?)),
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

        let table = Arc::new(Table::new(device.mode()));
        let io = DeviceIo::start(device.clone(), config.queue_packets, counters.clone(), table.clone())
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start the device threads: {e}")))?;
        device.set_carrier(false);
        tracing::info!("link {link} ({}, mtu {}) attached; role {}", device.mode(), device.mtu(), config.role);
        if config.peers.is_empty() {
            tracing::warn!("no [[peer]] configured: any certificate signed by the CA is accepted as the peer");
        }
        let peers = Arc::new(Peers::new(&config.peers));
        let env = Env {
            table,
            demux: None,
            to_device: io.to_device.clone(),
            failed: io.failed.clone(),
            counters: counters.clone(),
            device: device.clone(),
            mode: device.mode(),
            limit,
            keepalive: config.keepalive,
            dead_peer: config.dead_peer,
            rekey: config.rekey,
            server_udp: udp.clone(),
            queue: config.queue_packets,
            udp_offload: config.udp_offload,
        };

        let outcome = match (tls, listener) {
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
                let task = tokio::spawn(accept_loop(accept));
                let outcome = serve(env, rx, stop_rx).await;
                task.abort();
                outcome
            }
            (TlsSide::Client { connector, server_name }, _) => {
                let address = match &config.endpoint {
                    Endpoint::Connect { address, .. } => address.clone(),
                    Endpoint::Listen(a) => a.to_string(),
                };
                let connector = Connector { connector, server_name, address, delay: None, config: config.clone(), peers };
                dial(env, connector, stop_rx).await
            }
            (TlsSide::Server(_), None) => Err(Error::new(ErrorKind::Internal, "server without a listening socket".into())),
        };

        device.set_carrier(false);
        let device_name = link.clone();
        // Closing the device blocks (joins threads): off the runtime.
        let _ = tokio::task::spawn_blocking(move || io.stop()).await;
        if let Some((task, path)) = status_task {
            task.abort();
            let _ = std::fs::remove_file(&path);
        }
        counters.clear_sessions();
        tracing::info!("link {device_name} detached; counters: {}", counters.summary());
        outcome
    }
}

/// The server's UDP data socket: the listening address and, when free,
/// the same port number as TCP (an operator opens one port for both).
async fn bind_data_socket(listener: &TcpListener, configured: SocketAddr, offload: bool) -> Result<UdpSocket, Error> {
    let tcp = listener.local_addr().map_err(|e| Error::new(ErrorKind::Network, format!("listening socket: {e}")))?;
    let sock = match UdpSocket::bind(tcp) {
        Ok(s) => s,
        // Port 0 asked for any port: TCP's number may be taken for UDP.
        Err(_) if configured.port() == 0 => UdpSocket::bind(configured)
            .map_err(|e| Error::new(ErrorKind::Network, format!("cannot bind UDP {configured}: {e}")))?,
        Err(e) => return Err(Error::new(ErrorKind::Network, format!("cannot bind UDP {tcp}: {e}"))),
    };
    size_buffers(&sock, offload);
    Ok(sock)
}

/// Load config, start, and run: the whole daemon in one call.
pub async fn run(config: Config, device: Arc<dyn Device>, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
    Daemon::start(config).await?.run(device, shutdown).await
}

/// Log a session that ended and count it; Err when the link failed.
fn session_down(counters: &Counters, peer: &str, id: u64, end: End) -> Result<(), Error> {
    counters.session_down(id);
    counters.add(&counters.disconnects, 1);
    match end {
        End::Shutdown => tracing::info!("peer {peer}: session closed for shutdown"),
        End::Replaced(by) => {
            let why = format!("peer {peer}: session replaced by a new one from {by}");
            tracing::info!("{why}");
            counters.set_last_error(why);
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
    Ok(())
}

/// Wait for the link to fail: why.
async fn link_failed(failed: &mut watch::Receiver<Option<String>>) -> String {
    let why = failed.wait_for(|f| f.is_some()).await.map(|w| w.clone().unwrap_or_default());
    match why {
        Ok(why) => why,
        Err(_) => std::future::pending().await,
    }
}

/// The server: every accepted session runs as its own task, all at once
/// (one per configured peer: a newer session of a peer replaces its
/// older one); the data socket has one receiving thread for all of them.
async fn serve(mut env: Env, mut incoming: mpsc::Receiver<Conn>, mut stop: watch::Receiver<bool>) -> Result<(), Error> {
    let counters = env.counters.clone();
    let mut failed = env.failed.clone();
    // The data socket's receiving thread.
    let mut receiver = None;
    let mut udp_done = None;
    if let Some(sock) = &env.server_udp {
        let demux = Arc::new(Demux::default());
        let flag = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = oneshot::channel();
        let rx = RxPath {
            sock: sock.clone(),
            demux: demux.clone(),
            table: env.table.clone(),
            device: env.device.clone(),
            counters: counters.clone(),
            stop: flag.clone(),
            mode: env.mode,
            limit: env.limit,
        };
        let thread = fastpath::spawn_rx(rx, done_tx)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start the UDP receiving thread: {e}")))?;
        env.demux = Some(demux);
        receiver = Some((thread, flag));
        udp_done = Some(done_rx);
    }
    let udp_failed = async move {
        match udp_done {
            Some(d) => match d.await {
                Ok(why) => why,
                Err(_) => std::future::pending().await,
            },
            None => std::future::pending().await,
        }
    };
    tokio::pin!(udp_failed);

    // Sessions up: key -> (id, how to tell it a newer one took over).
    let mut current: HashMap<String, (u64, oneshot::Sender<String>)> = HashMap::new();
    let mut tasks: JoinSet<(String, u64, String, End)> = JoinSet::new();
    let mut next_id = 0u64;
    let mut outcome = Ok(());
    loop {
        tokio::select! {
            _ = wait_stop(&mut stop) => break,
            why = link_failed(&mut failed) => {
                tracing::error!("{why}; stopping");
                outcome = Err(Error::new(ErrorKind::Device, why));
                break;
            }
            why = &mut udp_failed => {
                tracing::error!("{why}; stopping");
                outcome = Err(Error::new(ErrorKind::Device, why));
                break;
            }
            conn = incoming.recv() => {
                let Some(conn) = conn else { continue };
                next_id += 1;
                let id = next_id;
                let (replace_tx, replace_rx) = oneshot::channel();
                if let Some((_, older)) = current.insert(conn.identity.key.clone(), (id, replace_tx)) {
                    let _ = older.send(conn.peer.clone());
                }
                let (key, peer) = (conn.identity.key.clone(), conn.peer.clone());
                let (env, stop) = (env.clone(), stop.clone());
                tasks.spawn(async move {
                    let end = session::run(conn, env, id, replace_rx, stop).await;
                    (key, id, peer, end)
                });
            }
            Some(done) = tasks.join_next() => {
                let Ok((key, id, peer, end)) = done else { continue };
                if current.get(&key).is_some_and(|(i, _)| *i == id) {
                    current.remove(&key);
                }
                if let Err(e) = session_down(&counters, &peer, id, end) {
                    outcome = Err(e);
                    break;
                }
            }
        }
    }
    // Every session sees the stop (or the failed link) and ends.
    drop(current);
    if outcome.is_err() {
        tasks.abort_all();
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok((_, id, peer, end)) = done {
            let _ = session_down(&counters, &peer, id, end);
        }
    }
    if let Some((thread, flag)) = receiver {
        flag.store(true, Ordering::Relaxed);
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    outcome
}

/// The client: one session at a time with the server, reconnecting with
/// backoff.
async fn dial(env: Env, mut connector: Connector, mut stop: watch::Receiver<bool>) -> Result<(), Error> {
    let counters = env.counters.clone();
    let mut failed = env.failed.clone();
    let mut id = 0u64;
    loop {
        let conn = tokio::select! {
            _ = wait_stop(&mut stop) => return Ok(()),
            why = link_failed(&mut failed) => {
                tracing::error!("{why}; stopping");
                return Err(Error::new(ErrorKind::Device, why));
            }
            c = connector.connect(&counters) => c,
        };
        id += 1;
        let peer = conn.peer.clone();
        let started = Instant::now();
        let (_keep, never) = oneshot::channel();
        let end = session::run(conn, env.clone(), id, never, stop.clone()).await;
        connector.session_ended(started.elapsed());
        let shutdown = matches!(end, End::Shutdown);
        session_down(&counters, &peer, id, end)?;
        if shutdown {
            return Ok(());
        }
    }
}
