// SPDX-License-Identifier: MPL-2.0
//! One session with the peer: packets both ways over the negotiated
//! transport, keepalives, and the dead-peer watchdog.
//!
//! **UDP** (the default): link -> peer packets are sealed
//! ([`crate::data::Sealer`]) and sent as datagrams; datagrams are opened
//! ([`crate::data::Opener`]: header, replay window, authentication),
//! checked against the link (size, mode) and written to it.  The TLS
//! stream stays open as the control channel: its end ends the session.
//! A server learns the client's UDP address from the first datagram
//! that authenticates (and follows it when it changes: NAT rebinding).
//!
//! **TCP**: packets are frames inside the TLS stream ([`crate::frame`]).
//!
//! **Liveness**, both transports: after `keepalive` without sending, a
//! keepalive goes out; anything authentic from the peer (packet or
//! keepalive) resets the watchdog; after `dead_peer` of silence the
//! session ends as dead (the client then reconnects with backoff).

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_rustls::TlsStream;

use crate::counters::Counters;
use crate::data::{self, Opener, Sealer, TYPE_KEEPALIVE};
use crate::device::{Device, Mode};
use crate::fastpath::{self, Demux, RxPath, RxSession, TxPath};
use crate::identity::Identity;
use crate::table::{Route, Table};
use crate::frame::{self, FRAME_ALIVE, Frame, StreamError};
use crate::hello::{Negotiated, Transport};

/// Log at most this many bad frames or datagrams per session (all are counted).
const BAD_LOG_LIMIT: u32 = 5;
/// How long a TLS close_notify may take at shutdown.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Most packets written between two flushes of the TLS stream.
const WRITE_BATCH: usize = 64;
const SOCKET_BUFFER: usize = 256 * 1024;
/// Receive buffer for one datagram: the largest packet plus overhead.
const DATAGRAM_BUFFER: usize = frame::MAX_WIRE_PACKET + data::OVERHEAD;

/// An authenticated, negotiated connection to the peer.
pub(crate) struct Conn {
    pub stream: TlsStream<TcpStream>,
    /// How logs name the peer: its identity and address.
    pub peer: String,
    /// Who it is: key and tunnel addresses ([`crate::identity::Identity`]).
    pub identity: Identity,
    pub negotiated: Negotiated,
    /// Client: its own UDP socket, connected to the server's data port.
    pub udp: Option<Arc<UdpSocket>>,
}

/// How a session ended.
pub(crate) enum End {
    Shutdown,
    /// A newer session of the same peer took over (its label).
    Replaced(String),
    DeviceFailed(String),
    Peer(String),
}

/// What every session of the daemon shares.
#[derive(Clone)]
pub(crate) struct Env {
    pub table: Arc<Table>,
    /// Server: the data socket's receiving thread's sessions.
    pub demux: Option<Arc<Demux>>,
    /// Packets for the link from the TCP transport.
    pub to_device: mpsc::Sender<Vec<u8>>,
    pub failed: watch::Receiver<Option<String>>,
    pub counters: Arc<Counters>,
    pub device: Arc<dyn Device>,
    pub mode: Mode,
    /// The longest packet the link takes.
    pub limit: usize,
    pub keepalive: Duration,
    pub dead_peer: Duration,
    pub rekey: data::RekeyPolicy,
    /// Server: the shared data socket.
    pub server_udp: Option<Arc<UdpSocket>>,
    /// Depth of a TCP session's packet queue.
    pub queue: usize,
    /// UDP GSO when sending (Linux).
    pub udp_offload: bool,
}

/// The link's side of packets from the peer.
struct Sink<'a> {
    to_device: &'a mpsc::Sender<Vec<u8>>,
    counters: &'a Counters,
    mode: Mode,
    limit: usize,
    table: &'a Table,
    route: &'a Route,
}

/// Rate-limited logging of bad input from the peer.
struct BadInput<'a> {
    peer: &'a str,
    logged: u32,
}

impl BadInput<'_> {
    fn note(&mut self, what: &str) {
        if self.logged < BAD_LOG_LIMIT {
            self.logged += 1;
            let more = if self.logged == BAD_LOG_LIMIT { " (further ones are only counted)" } else { "" };
            tracing::warn!("peer {}: {what}; dropped{more}", self.peer);
        }
    }
}

/// Milliseconds since `base`, for the last-heard clock.
fn since(base: Instant) -> u64 {
    base.elapsed().as_millis() as u64
}

/// Check a packet from the peer and hand it to the link.  Err: the
/// link's writer is gone.
async fn deliver(link: &Sink<'_>, bad: &Mutex<BadInput<'_>>, packet: &[u8]) -> Result<(), End> {
    let counters = link.counters;
    let complaint = if packet.len() > link.limit {
        counters.add(&counters.rx_oversize, 1);
        Some(format!("oversize packet of {} bytes (this link takes at most {})", packet.len(), link.limit))
    } else if let Err(why) = frame::check_packet(link.mode, packet) {
        counters.add(&counters.rx_malformed, 1);
        Some(format!("malformed {}-byte packet: {why}", packet.len()))
    } else if !link.table.source_ok(link.route, packet) {
        counters.add(&counters.rx_wrong_source, 1);
        Some(format!("packet from a source outside the peer's addresses ({} bytes)", packet.len()))
    } else {
        link.table.learn(link.route, packet);
        if !link.table.relay(link.route, packet, counters) {
            return Ok(());
        }
        None
    };
    match complaint {
        Some(c) => {
            bad.lock().unwrap_or_else(|e| e.into_inner()).note(&c);
            Ok(())
        }
        None => link.to_device.send(packet.to_vec()).await.map_err(|_| End::DeviceFailed("the device writer stopped".into())),
    }
}

/// Run one session until it ends: register its route (and, on UDP, its
/// receiving side), carry packets, keep it alive, and take it all down.
/// `id` is unique per session; `replaced` fires when a newer session of
/// the same peer took over.
pub(crate) async fn run(
    conn: Conn,
    env: Env,
    id: u64,
    replaced: oneshot::Receiver<String>,
    mut stop: watch::Receiver<bool>,
) -> End {
    let Conn { stream, peer, identity, negotiated, udp } = conn;
    let Env { table, demux, to_device, mut failed, counters, device, mode, limit, keepalive, dead_peer, rekey, server_udp, queue, udp_offload } =
        env;
    let (rd, wr) = tokio::io::split(stream);
    let mut rd = BufReader::with_capacity(SOCKET_BUFFER, rd);
    let mut wr = BufWriter::with_capacity(SOCKET_BUFFER, wr);
    let base_std = std::time::Instant::now();
    let base = Instant::from_std(base_std);
    // Milliseconds after `base` when the peer was last heard from, and
    // when we last sent a datagram.
    let last_heard = Arc::new(AtomicU64::new(0));
    let last_tx = Arc::new(AtomicU64::new(0));
    let bad = Mutex::new(BadInput { peer: &peer, logged: 0 });

    // UDP: the data path runs on threads (crate::fastpath): the link's
    // reader seals and sends through this session's route; a receiving
    // thread (the client's own, or the server's shared one) opens.
    let is_client = udp.is_some();
    let data_socket = match (negotiated.transport, &udp, &server_udp) {
        (Transport::Udp, Some(s), _) => Some(s.clone()),
        (Transport::Udp, None, Some(s)) => Some(s.clone()),
        _ => None,
    };
    let udp_peer = Arc::new(Mutex::new(None));
    let (tx_path, mut from_device) = match &data_socket {
        Some(sock) => (
            Some(TxPath {
                sealer: Sealer::new(negotiated.cipher, negotiated.tx_seed, negotiated.peer_index, rekey),
                sock: sock.clone(),
                connected: is_client,
                peer: udp_peer.clone(),
                counters: counters.clone(),
                last_tx: last_tx.clone(),
                base: base_std,
                label: peer.clone(),
                out: Vec::with_capacity(DATAGRAM_BUFFER),
                pending: Vec::new(),
                outs: Vec::new(),
                gso: udp_offload,
            }),
            None,
        ),
        None => {
            let (tx, rx) = mpsc::channel(queue);
            (None, Some((tx, rx)))
        }
    };
    let route = Arc::new(Route {
        key: identity.key.clone(),
        id,
        prefixes: identity.prefixes.clone(),
        tx: Mutex::new(tx_path),
        chan: from_device.as_ref().map(|(tx, _)| tx.clone()),
    });
    let mut from_device = from_device.take().map(|(_, rx)| rx);
    let sink = Sink { to_device: &to_device, counters: &counters, mode, limit, table: &table, route: &route };

    // The receiving side: a server's shared thread learns this session's
    // index; a client starts a thread on its own socket.
    let mut receiver = None;
    let mut registered = None;
    if let Some(sock) = &data_socket {
        let rx_session = Arc::new(RxSession {
            opener: Mutex::new(Opener::new(negotiated.cipher, negotiated.rx_seed, negotiated.index)),
            last_heard: last_heard.clone(),
            base: base_std,
            peer: udp_peer,
            learn_peer: !is_client,
            route: route.clone(),
            label: peer.clone(),
            logged: AtomicU32::new(0),
        });
        let demux = match (&demux, is_client) {
            (Some(d), false) => d.clone(),
            _ => Arc::new(Demux::default()),
        };
        if !demux.insert(negotiated.index, rx_session) {
            return End::Peer(format!("session index {:08x} is in use by another session; dropped", negotiated.index));
        }
        registered = Some(demux.clone());
        if is_client {
            let rx_stop = Arc::new(AtomicBool::new(false));
            let (done_tx, done_rx) = oneshot::channel();
            let rx = RxPath {
                sock: sock.clone(),
                demux,
                table: table.clone(),
                device: device.clone(),
                counters: counters.clone(),
                stop: rx_stop.clone(),
                mode,
                limit,
            };
            match fastpath::spawn_rx(rx, done_tx) {
                Ok(thread) => receiver = Some((thread, done_rx, rx_stop)),
                Err(e) => {
                    if let Some(d) = &registered {
                        d.remove(negotiated.index);
                    }
                    return End::DeviceFailed(format!("cannot start the UDP receiving thread: {e}"));
                }
            }
        }
    }
    table.insert(route.clone());
    device.set_carrier(true);
    // Up (and counted) once packets from the link can reach the peer.
    counters.add(&counters.connects, 1);
    counters.session_up(id, peer.clone(), negotiated.transport.to_string(), negotiated.cipher.to_string());
    tracing::info!("peer {peer}: session up ({}, {})", negotiated.transport, negotiated.cipher);
    let udp_mode = data_socket.is_some();
    let via_route = |kind: u8, payload: &[u8]| {
        if let Some(tx) = route.tx.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            tx.send(kind, payload);
        }
    };

    let to_peer = async {
        // A UDP client's first keepalive goes out at once: it tells the
        // server our UDP address.
        let mut next_keepalive = if is_client && udp_mode { Instant::now() } else { Instant::now() + keepalive };
        loop {
            let msg = tokio::select! {
                m = async {
                    match from_device.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => Some(m),
                _ = tokio::time::sleep_until(next_keepalive) => None,
            };
            let mut msg = match msg {
                Some(m) => m,
                None if udp_mode => {
                    // Only after keepalive of silence: the reader thread
                    // sends packets without passing by here.
                    let idle = since(base).saturating_sub(last_tx.load(Ordering::Relaxed));
                    if idle >= keepalive.as_millis() as u64 || next_keepalive <= base + keepalive {
                        via_route(TYPE_KEEPALIVE, &[]);
                    }
                    next_keepalive = base + Duration::from_millis(last_tx.load(Ordering::Relaxed)) + keepalive;
                    if next_keepalive <= Instant::now() {
                        next_keepalive = Instant::now() + keepalive;
                    }
                    continue;
                }
                None => {
                    counters.add(&counters.keepalives_sent, 1);
                    if let Err(e) = async {
                        wr.write_all(&frame::control(FRAME_ALIVE, &[])).await?;
                        wr.flush().await
                    }
                    .await
                    {
                        return End::Peer(format!("sending failed: {e}"));
                    }
                    next_keepalive = Instant::now() + keepalive;
                    continue;
                }
            };
            let mut burst = 0usize;
            while let Some(packet) = msg.take() {
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
                burst += 1;
                if burst < WRITE_BATCH {
                    msg = from_device.as_mut().and_then(|rx| rx.try_recv().ok());
                }
            }
            if let Err(e) = wr.flush().await {
                return End::Peer(format!("sending failed: {e}"));
            }
            next_keepalive = Instant::now() + keepalive;
        }
    };

    let from_tls = async {
        loop {
            match frame::read_frame(&mut rd, mode, limit).await {
                Ok(Frame::Packet(p)) => {
                    last_heard.store(since(base), Ordering::Relaxed);
                    if let Err(end) = deliver(&sink, &bad, &p).await {
                        return end;
                    }
                }
                Ok(Frame::Control { kind: FRAME_ALIVE, .. }) => {
                    last_heard.store(since(base), Ordering::Relaxed);
                    counters.add(&counters.keepalives_received, 1);
                }
                Ok(Frame::Control { kind, .. }) => {
                    counters.add(&counters.rx_garbage, 1);
                    return End::Peer(format!("peer sent an unexpected control frame 0x{kind:02x}; connection dropped"));
                }
                Ok(Frame::Oversize { len, limit }) => {
                    counters.add(&counters.rx_oversize, 1);
                    bad.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .note(&format!("oversize frame of {len} bytes (this link takes at most {limit})"));
                }
                Ok(Frame::Malformed { len, why }) => {
                    counters.add(&counters.rx_malformed, 1);
                    bad.lock().unwrap_or_else(|e| e.into_inner()).note(&format!("malformed {len}-byte frame: {why}"));
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

    // The client's UDP receiving thread only reports a link that went away.
    let (thread, done, rx_stop) = match receiver {
        Some((t, d, s)) => (Some(t), Some(d), Some(s)),
        None => (None, None, None),
    };
    let from_udp = async {
        match done {
            Some(d) => match d.await {
                Ok(why) => End::DeviceFailed(why),
                Err(_) => std::future::pending().await,
            },
            None => std::future::pending().await,
        }
    };

    let watchdog = async {
        loop {
            let heard = Duration::from_millis(last_heard.load(Ordering::Relaxed));
            let deadline = base + heard + dead_peer;
            if Instant::now() >= deadline {
                counters.add(&counters.dead_peer_timeouts, 1);
                return End::Peer(format!(
                    "nothing heard from the peer for {:.1}s: presumed dead",
                    dead_peer.as_secs_f64()
                ));
            }
            tokio::time::sleep_until(deadline).await;
        }
    };

    let replaced = async {
        match replaced.await {
            Ok(by) => by,
            Err(_) => std::future::pending().await,
        }
    };
    let link_failed = async {
        let why = failed.wait_for(|f| f.is_some()).await.map(|w| w.clone().unwrap_or_default());
        match why {
            Ok(why) => why,
            Err(_) => std::future::pending().await,
        }
    };

    let end = tokio::select! {
        e = to_peer => e,
        e = from_tls => e,
        e = from_udp => e,
        e = watchdog => e,
        by = replaced => End::Replaced(by),
        why = link_failed => End::DeviceFailed(why),
        _ = wait_stop(&mut stop) => End::Shutdown,
    };
    // Take the route and the UDP path down before anything else uses the
    // socket; the carrier follows the last session.
    if let Some(d) = &registered {
        d.remove(negotiated.index);
    }
    let none_left = table.remove(id);
    *route.tx.lock().unwrap_or_else(|e| e.into_inner()) = None;
    if none_left && !matches!(end, End::Replaced(_)) {
        device.set_carrier(false);
    }
    if let (Some(thread), Some(flag)) = (thread, rx_stop) {
        flag.store(true, Ordering::Relaxed);
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    // close_notify, then FIN, so the peer sees a clean end (a dead
    // peer's socket just times out).
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
    })
    .await;
    end
}

pub(crate) async fn wait_stop(stop: &mut watch::Receiver<bool>) {
    // An Err means the sender is gone, which only happens after it sent.
    let _ = stop.wait_for(|stopped| *stopped).await;
}
