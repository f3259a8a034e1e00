// SPDX-License-Identifier: MPL-2.0
//! The daemon: one link, one peer at a time, over TLS.
//!
//! # Theory statement
//!
//! **What it does.**  [`Daemon::start`] checks everything that can be
//! checked before serving (TLS material, the listening socket, the status
//! socket) so a bad setup fails at once with a clear error.
//! [`Daemon::run`] then moves packets between the link ([`DeviceIo`]) and
//! the current TLS session until `shutdown` resolves or the link fails.
//!
//! **Tasks.**  The run loop owns the device channels and runs one
//! session at a time.  A server also runs an accept task (each
//! handshake in its own task, with a timeout) that hands established
//! sessions over a one-slot channel; a newer session replaces the
//! current one, so a client that lost its connection silently can come
//! back at once.  A client connects itself, with exponential backoff
//! between failed attempts.  The status socket, when configured, is one
//! more task.
//!
//! **Flow.**  Link -> peer: the device reader thread fills a bounded
//! channel; the session drains it into a buffered TLS writer, flushing
//! when the channel runs empty.  Peer -> link: frames are decoded
//! ([`crate::frame`]) and sent on the bounded channel to the writer
//! thread; a full channel stops reading from TCP, which pushes back on
//! the peer.  While no session is up, packets from the link are
//! dropped and counted (`tx_dropped_no_peer`).
//!
//! **Invariants.**  Nothing the peer sends can panic the daemon: bad
//! framing drops the connection, bad frames are skipped, each with a
//! log line and a counter.  Shutdown sends TLS close_notify, closes the
//! device (detaching the link) and joins its threads before returning,
//! and removes the status socket.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsStream;

use crate::config::{Config, Endpoint};
use crate::counters::Counters;
use crate::device::{Device, DeviceIo, FromDevice};
use crate::frame::{self, Frame, StreamError};
use crate::tls::TlsSide;
use crate::{Error, ErrorKind};

/// Log at most this many bad frames per session (all are counted).
const BAD_FRAME_LOG_LIMIT: u32 = 5;
/// How long a TLS close_notify may take at shutdown.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Most packets written between two flushes.
const WRITE_BATCH: usize = 64;
const SOCKET_BUFFER: usize = 256 * 1024;

struct Conn {
    stream: TlsStream<TcpStream>,
    peer: String,
}

/// A configured daemon whose sockets are bound; see [`Daemon::run`].
pub struct Daemon {
    config: Config,
    tls: TlsSide,
    listener: Option<TcpListener>,
    status: Option<(UnixListener, PathBuf)>,
    counters: Arc<Counters>,
}

impl Daemon {
    /// Load the TLS material, bind the server's listening socket and the
    /// status socket.  Errors carry the exit code they map to.
    pub async fn start(config: Config) -> Result<Daemon, Error> {
        let tls = TlsSide::new(&config).map_err(|m| Error::new(ErrorKind::Tls, m))?;
        let listener = match &config.endpoint {
            Endpoint::Listen(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| Error::new(ErrorKind::Network, format!("cannot listen on {addr}: {e}")))?,
            ),
            Endpoint::Connect { .. } => None,
        };
        let status = match &config.status_socket {
            Some(path) => Some((bind_status_socket(path).await?, path.clone())),
            None => None,
        };
        Ok(Daemon { config, tls, listener, status, counters: Arc::new(Counters::default()) })
    }

    /// The address a server listens on (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
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
        let Daemon { config, tls, listener, status, counters } = self;
        let link = device.name().to_string();
        if device.mode() != config.mode {
            device.close();
            return Err(Error::new(
                ErrorKind::Device,
                format!("link {link} is a {} link but the configuration says mode = \"{}\"", device.mode(), config.mode),
            ));
        }
        if device.mtu() != config.mtu as usize {
            log::warn!(
                "link {link}: its MTU is {} but the configuration says {}; frames are checked against the link's",
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
        log::info!("link {link} ({}, mtu {}) attached; role {}", device.mode(), device.mtu(), config.role);

        let mut source = match (tls, listener) {
            (TlsSide::Server(acceptor), Some(listener)) => {
                let (tx, rx) = mpsc::channel(1);
                let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
                log::info!("listening on {addr}");
                let task = tokio::spawn(accept_loop(listener, acceptor, tx, counters.clone(), config.handshake_timeout));
                Source::Server { incoming: rx, task }
            }
            (TlsSide::Client { connector, server_name }, _) => {
                let address = match &config.endpoint {
                    Endpoint::Connect { address, .. } => address.clone(),
                    Endpoint::Listen(a) => a.to_string(),
                };
                Source::Client(Box::new(Connector { connector, server_name, address, delay: None, config: config.clone() }))
            }
            (TlsSide::Server(_), None) => {
                return Err(Error::new(ErrorKind::Internal, "server without a listening socket".into()));
            }
        };

        let outcome = run_loop(&mut io, &mut source, stop_rx, &counters, device.mode(), limit).await;

        if let Source::Server { task, .. } = &source {
            task.abort();
        }
        let device_name = link.clone();
        // Closing the device blocks (joins threads): off the runtime.
        let _ = tokio::task::spawn_blocking(move || io.stop()).await;
        if let Some((task, path)) = status_task {
            task.abort();
            let _ = std::fs::remove_file(&path);
        }
        counters.set_connected(None);
        log::info!("link {device_name} detached; counters: {}", counters.summary());
        outcome
    }
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

async fn wait_stop(stop: &mut watch::Receiver<bool>) {
    // An Err means the sender is gone, which only happens after it sent.
    let _ = stop.wait_for(|stopped| *stopped).await;
}

async fn run_loop(
    io: &mut DeviceIo,
    source: &mut Source,
    mut stop: watch::Receiver<bool>,
    counters: &Counters,
    mode: crate::device::Mode,
    limit: usize,
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
        log::info!("session with {peer} up");
        let started = Instant::now();
        let newer = match source {
            Source::Server { incoming, .. } => Some(incoming),
            Source::Client(_) => None,
        };
        let end = session(conn, &mut io.from_device, &io.to_device, newer, &mut stop, counters, mode, limit).await;
        counters.set_connected(None);
        counters.add(&counters.disconnects, 1);
        if let Source::Client(c) = source {
            c.session_ended(started.elapsed());
        }
        match end {
            End::Shutdown => {
                log::info!("session with {peer} closed for shutdown");
                return Ok(());
            }
            End::Replaced(newer) => {
                let why = format!("session with {peer} replaced by a new one from {}", newer.peer);
                log::info!("{why}");
                counters.set_last_error(why);
                next = Some(*newer);
            }
            End::DeviceFailed(e) => {
                log::error!("{e}; stopping");
                return Err(Error::new(ErrorKind::Device, e));
            }
            End::Peer(why) => {
                let why = format!("session with {peer} ended: {why}");
                log::warn!("{why}");
                counters.set_last_error(why);
            }
        }
    }
}

enum End {
    Shutdown,
    Replaced(Box<Conn>),
    DeviceFailed(String),
    Peer(String),
}

#[allow(clippy::too_many_arguments)]
async fn session(
    conn: Conn,
    from_device: &mut mpsc::Receiver<FromDevice>,
    to_device: &mpsc::Sender<Vec<u8>>,
    newer: Option<&mut mpsc::Receiver<Conn>>,
    stop: &mut watch::Receiver<bool>,
    counters: &Counters,
    mode: crate::device::Mode,
    limit: usize,
) -> End {
    let (rd, wr) = tokio::io::split(conn.stream);
    let mut rd = BufReader::with_capacity(SOCKET_BUFFER, rd);
    let mut wr = BufWriter::with_capacity(SOCKET_BUFFER, wr);
    let peer = conn.peer;

    let to_peer = async {
        loop {
            let mut sent = 0usize;
            let mut msg = from_device.recv().await;
            loop {
                match msg {
                    None => return End::DeviceFailed("the device reader stopped".into()),
                    Some(Err(e)) => return End::DeviceFailed(e),
                    Some(Ok(packet)) => {
                        let head = frame::header(packet.len());
                        if let Err(e) = async {
                            wr.write_all(&head).await?;
                            wr.write_all(&packet).await
                        }
                        .await
                        {
                            return End::Peer(format!("sending failed: {e}"));
                        }
                        counters.add(&counters.tx_packets, 1);
                        counters.add(&counters.tx_bytes, packet.len() as u64);
                    }
                }
                sent += 1;
                if sent >= WRITE_BATCH {
                    break;
                }
                match from_device.try_recv() {
                    Ok(m) => msg = Some(m),
                    Err(_) => break,
                }
            }
            if let Err(e) = wr.flush().await {
                return End::Peer(format!("sending failed: {e}"));
            }
        }
    };

    let from_peer = async {
        let mut bad_logged = 0u32;
        let mut note_bad = |what: String| {
            if bad_logged < BAD_FRAME_LOG_LIMIT {
                bad_logged += 1;
                let more = if bad_logged == BAD_FRAME_LOG_LIMIT { " (further bad frames are only counted)" } else { "" };
                log::warn!("peer {peer}: {what}; frame dropped{more}");
            }
        };
        loop {
            match frame::read_frame(&mut rd, mode, limit).await {
                Ok(Frame::Packet(p)) => {
                    if to_device.send(p).await.is_err() {
                        return End::DeviceFailed("the device writer stopped".into());
                    }
                }
                Ok(Frame::Oversize { len, limit }) => {
                    counters.add(&counters.rx_oversize, 1);
                    note_bad(format!("oversize frame of {len} bytes (this link takes at most {limit})"));
                }
                Ok(Frame::Malformed { len, why }) => {
                    counters.add(&counters.rx_malformed, 1);
                    note_bad(format!("malformed {len}-byte frame: {why}"));
                }
                Ok(Frame::End) => return End::Peer("the peer closed the connection".into()),
                Err(StreamError::Garbage(why)) => {
                    counters.add(&counters.rx_garbage, 1);
                    return End::Peer(format!("peer sent garbage ({why}); connection dropped"));
                }
                Err(StreamError::Io(e)) => return End::Peer(format!("connection lost: {e}")),
            }
        }
    };

    let replaced = async {
        match newer {
            Some(rx) => match rx.recv().await {
                Some(c) => c,
                None => std::future::pending().await,
            },
            None => std::future::pending().await,
        }
    };

    let end = tokio::select! {
        e = to_peer => e,
        e = from_peer => e,
        c = replaced => End::Replaced(Box::new(c)),
        _ = wait_stop(stop) => End::Shutdown,
    };
    if matches!(end, End::Shutdown | End::Replaced(_) | End::DeviceFailed(_)) {
        // close_notify, then FIN, so the peer sees a clean end.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            let _ = wr.flush().await;
            let _ = wr.shutdown().await;
        })
        .await;
    }
    end
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    sessions: mpsc::Sender<Conn>,
    counters: Arc<Counters>,
    handshake_timeout: Duration,
) {
    loop {
        let (tcp, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                log::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let sessions = sessions.clone();
        let counters = counters.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let conn = Conn { stream: TlsStream::Server(stream), peer: addr.to_string() };
                    let _ = sessions.send(conn).await;
                }
                Ok(Err(e)) => {
                    counters.add(&counters.connect_failures, 1);
                    let why = format!("refused connection from {addr}: TLS handshake failed: {e}");
                    log::warn!("{why}");
                    counters.set_last_error(why);
                }
                Err(_) => {
                    counters.add(&counters.connect_failures, 1);
                    let why = format!("refused connection from {addr}: no TLS handshake within {handshake_timeout:?}");
                    log::warn!("{why}");
                    counters.set_last_error(why);
                }
            }
        });
    }
}

struct Connector {
    connector: tokio_rustls::TlsConnector,
    server_name: rustls_pki_types::ServerName<'static>,
    address: String,
    /// Wait before the next attempt (None: connect at once).
    delay: Option<Duration>,
    config: Config,
}

impl Connector {
    async fn attempt(&self) -> Result<Conn, String> {
        let tcp = TcpStream::connect(&self.address).await.map_err(|e| format!("TCP connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| self.address.clone());
        let stream = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        Ok(Conn { stream: TlsStream::Client(stream), peer })
    }

    async fn connect(&mut self, counters: &Counters) -> Conn {
        loop {
            if let Some(d) = self.delay {
                tokio::time::sleep(d).await;
            }
            let timeout = self.config.handshake_timeout;
            let result = match tokio::time::timeout(timeout, self.attempt()).await {
                Ok(r) => r,
                Err(_) => Err(format!("no connection and TLS handshake within {timeout:?}")),
            };
            match result {
                Ok(conn) => return conn,
                Err(why) => {
                    counters.add(&counters.connect_failures, 1);
                    let next = match self.delay {
                        None => self.config.reconnect_min,
                        Some(d) => (d * 2).min(self.config.reconnect_max),
                    };
                    let line = format!("cannot connect to {}: {why}", self.address);
                    log::warn!("{line}; retrying in {:.1}s", next.as_secs_f64());
                    counters.set_last_error(line);
                    self.delay = Some(next);
                }
            }
        }
    }

    /// A session ended after `lasted`: a long one resets the backoff; a
    /// short one keeps it growing, so a peer that accepts and drops at
    /// once is not hammered.
    fn session_ended(&mut self, lasted: Duration) {
        self.delay = Some(match self.delay {
            Some(d) if lasted < self.config.reconnect_max => (d * 2).min(self.config.reconnect_max),
            _ => self.config.reconnect_min,
        });
    }
}

async fn bind_status_socket(path: &std::path::Path) -> Result<UnixListener, Error> {
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(Error::new(
                ErrorKind::Network,
                format!("status socket {} is in use: another tunneld serves this configuration", path.display()),
            ));
        }
        // A stale socket from a daemon that died: take it over.
        let _ = std::fs::remove_file(path);
    }
    // /var/run is emptied at boot: make the socket's directory (0755,
    // like other daemons' run directories) if it is not there.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o755).create(dir).map_err(|e| {
            Error::new(ErrorKind::Network, format!("cannot create the status socket's directory {}: {e}", dir.display()))
        })?;
    }
    UnixListener::bind(path)
        .map_err(|e| Error::new(ErrorKind::Network, format!("cannot bind status socket {}: {e}", path.display())))
}

async fn serve_status(listener: UnixListener, counters: Arc<Counters>, link: String, mode: String, role: String) {
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let text = counters.report(&link, &mode, &role);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), s.write_all(text.as_bytes())).await;
            let _ = s.shutdown().await;
        });
    }
}

/// Ask the daemon behind `socket` for its status text.
pub async fn query_status(socket: &std::path::Path) -> Result<String, Error> {
    use tokio::io::AsyncReadExt;
    let mut s = tokio::net::UnixStream::connect(socket).await.map_err(|e| {
        Error::new(ErrorKind::Network, format!("cannot reach tunneld at {}: {e} (is it running?)", socket.display()))
    })?;
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut text))
        .await
        .map_err(|_| Error::new(ErrorKind::Network, format!("tunneld at {} did not answer", socket.display())))?
        .map_err(|e| Error::new(ErrorKind::Network, format!("reading status from {}: {e}", socket.display())))?;
    Ok(text)
}
