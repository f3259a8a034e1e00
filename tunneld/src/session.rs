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

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_rustls::TlsStream;

use crate::batch;
use crate::counters::Counters;
use crate::data::{self, Opener, Reject, Sealer, TYPE_DATA, TYPE_KEEPALIVE};
use crate::device::{FromDevice, Mode};
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
    pub negotiated: Negotiated,
    /// Client: its own UDP socket, connected to the server's data port.
    pub udp: Option<Arc<UdpSocket>>,
}

/// How a session ended.
pub(crate) enum End {
    Shutdown,
    Replaced(Box<Conn>),
    DeviceFailed(String),
    Peer(String),
}

/// What a session needs besides the connection.
pub(crate) struct Link<'a> {
    pub from_device: &'a mut mpsc::Receiver<FromDevice>,
    pub to_device: &'a mpsc::Sender<Vec<u8>>,
    pub counters: &'a Counters,
    pub mode: Mode,
    /// The longest packet the link takes.
    pub limit: usize,
    pub keepalive: Duration,
    pub dead_peer: Duration,
    pub rekey: data::RekeyPolicy,
    /// Server: the shared data socket.
    pub server_udp: Option<&'a Arc<UdpSocket>>,
}

/// The link's side of packets from the peer.
struct Sink<'a> {
    to_device: &'a mpsc::Sender<Vec<u8>>,
    counters: &'a Counters,
    mode: Mode,
    limit: usize,
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
    } else {
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

pub(crate) async fn run(
    conn: Conn,
    link: Link<'_>,
    newer: Option<&mut mpsc::Receiver<Conn>>,
    stop: &mut watch::Receiver<bool>,
) -> End {
    let Conn { stream, peer, negotiated, udp } = conn;
    let Link { from_device, to_device, counters, mode, limit, keepalive, dead_peer, rekey, server_udp } = link;
    let sink = Sink { to_device, counters, mode, limit };
    let (rd, wr) = tokio::io::split(stream);
    let mut rd = BufReader::with_capacity(SOCKET_BUFFER, rd);
    let mut wr = BufWriter::with_capacity(SOCKET_BUFFER, wr);
    let base = Instant::now();
    // Milliseconds after `base` when the peer was last heard from.
    let last_heard = AtomicU64::new(0);
    let bad = Mutex::new(BadInput { peer: &peer, logged: 0 });
    let transport = negotiated.transport;

    // The data socket and, on a server, the client's address as learned.
    let data_socket = match (transport, &udp, server_udp) {
        (Transport::Udp, Some(s), _) => Some(s.clone()),
        (Transport::Udp, None, Some(s)) => Some(s.clone()),
        _ => None,
    };
    let is_client = udp.is_some();
    let udp_peer: Mutex<Option<SocketAddr>> = Mutex::new(None);

    let to_peer = async {
        let mut sealer = Sealer::new(negotiated.cipher, negotiated.tx_seed, negotiated.peer_index, rekey);
        let mut out = Vec::with_capacity(DATAGRAM_BUFFER);
        let mut batch: Vec<Vec<u8>> = Vec::with_capacity(batch::BATCH);
        // A UDP client's first keepalive goes out at once: it tells the
        // server our UDP address.
        let mut next_keepalive = if is_client && data_socket.is_some() { Instant::now() } else { Instant::now() + keepalive };
        loop {
            let msg = tokio::select! {
                m = from_device.recv() => Some(m),
                _ = tokio::time::sleep_until(next_keepalive) => None,
            };
            let mut burst = 0usize;
            let mut msg = match msg {
                Some(m) => Some(m),
                None => {
                    counters.add(&counters.keepalives_sent, 1);
                    let sent = match &data_socket {
                        Some(sock) => {
                            if sealer.seal(TYPE_KEEPALIVE, &[], &mut out) {
                                counters.add(&counters.rekeys, 1);
                            }
                            send_datagram(sock, is_client, &udp_peer, &out, counters, false).await;
                            Ok(())
                        }
                        None => async {
                            wr.write_all(&frame::control(FRAME_ALIVE, &[])).await?;
                            wr.flush().await
                        }
                        .await,
                    };
                    if let Err(e) = sent {
                        return End::Peer(format!("sending failed: {e}"));
                    }
                    next_keepalive = Instant::now() + keepalive;
                    continue;
                }
            };
            let mut sealed = 0usize;
            while let Some(m) = msg.take() {
                let packet = match m {
                    None => return End::DeviceFailed("the device reader stopped".into()),
                    Some(Err(e)) => return End::DeviceFailed(e),
                    Some(Ok(p)) => p,
                };
                match &data_socket {
                    Some(_) => {
                        if batch.len() <= sealed {
                            batch.push(Vec::with_capacity(DATAGRAM_BUFFER));
                        }
                        let Some(out) = batch.get_mut(sealed) else { continue };
                        if sealer.seal(TYPE_DATA, &packet, out) {
                            counters.add(&counters.rekeys, 1);
                            tracing::debug!("peer {peer}: sending under key epoch {}", sealer.epoch());
                        }
                        sealed += 1;
                    }
                    None => {
                        let head = frame::header(packet.len());
                        if let Err(e) = async {
                            wr.write_all(&head).await?;
                            wr.write_all(&packet).await
                        }
                        .await
                        {
                            return End::Peer(format!("sending failed: {e}"));
                        }
                    }
                }
                counters.add(&counters.tx_packets, 1);
                counters.add(&counters.tx_bytes, packet.len() as u64);
                burst += 1;
                if burst < WRITE_BATCH && sealed < batch::BATCH {
                    msg = from_device.try_recv().ok().map(Some);
                }
            }
            if let (Some(sock), true) = (&data_socket, sealed > 0) {
                let datagrams = batch.get(..sealed).unwrap_or_default();
                let to = if is_client { None } else { *udp_peer.lock().unwrap_or_else(|e| e.into_inner()) };
                if !is_client && to.is_none() {
                    // The client's address is not known until its first
                    // datagram arrives (it sends one at once).
                    counters.add(&counters.tx_dropped_no_peer, sealed as u64);
                } else {
                    let (failed, error) = batch::send_all(sock, datagrams, to).await;
                    if let Some(e) = error {
                        counters.add(&counters.send_errors, failed as u64);
                        tracing::debug!("peer {peer}: {failed} datagrams not sent: {e}");
                    }
                }
            }
            if data_socket.is_none()
                && let Err(e) = wr.flush().await
            {
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

    let from_udp = async {
        let Some(sock) = &data_socket else { return std::future::pending::<End>().await };
        let mut opener = Opener::new(negotiated.cipher, negotiated.rx_seed, negotiated.index);
        let mut datagrams = batch::RecvBatch::new(DATAGRAM_BUFFER);
        loop {
            let n = match datagrams.recv(sock).await {
                Ok(n) => n,
                Err(e) => {
                    // A connected client socket reports ICMP errors
                    // (port unreachable) here; the watchdog decides.
                    tracing::debug!("peer {peer}: UDP receive: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            for i in 0..n {
                let Some((datagram, from)) = datagrams.get(i) else { continue };
                let from = from.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
                match opener.open(datagram) {
                    Ok(opened) => {
                        last_heard.store(since(base), Ordering::Relaxed);
                        if opened.rekeyed {
                            counters.add(&counters.rekeys, 1);
                            tracing::debug!("peer {peer}: receiving under key epoch {}", opener.epoch());
                        }
                        if !is_client {
                            let mut known = udp_peer.lock().unwrap_or_else(|e| e.into_inner());
                            if *known != Some(from) {
                                tracing::info!("peer {peer}: data channel from {from}");
                                *known = Some(from);
                            }
                        }
                        if opened.kind == TYPE_KEEPALIVE {
                            counters.add(&counters.keepalives_received, 1);
                            continue;
                        }
                        let packet = datagram.get(opened.payload).unwrap_or_default();
                        if let Err(end) = deliver(&sink, &bad, packet).await {
                            return end;
                        }
                    }
                    Err(reject) => {
                        let counter = match reject {
                            Reject::Replayed(_) => &counters.rx_replayed,
                            Reject::Forged => &counters.rx_forged,
                            Reject::Malformed | Reject::OtherSession | Reject::UnknownEpoch => &counters.rx_bad_datagram,
                        };
                        counters.add(counter, 1);
                        bad.lock().unwrap_or_else(|e| e.into_inner()).note(&format!("{reject} from {from}"));
                    }
                }
            }
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
        e = from_tls => e,
        e = from_udp => e,
        e = watchdog => e,
        c = replaced => End::Replaced(Box::new(c)),
        _ = wait_stop(stop) => End::Shutdown,
    };
    if matches!(end, End::Shutdown | End::Replaced(_) | End::DeviceFailed(_) | End::Peer(_)) {
        // close_notify, then FIN, so the peer sees a clean end (a dead
        // peer's socket just times out).
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            let _ = wr.flush().await;
            let _ = wr.shutdown().await;
        })
        .await;
    }
    end
}

/// Send one sealed datagram; false when it could not be sent (counted).
async fn send_datagram(
    sock: &UdpSocket,
    connected: bool,
    udp_peer: &Mutex<Option<SocketAddr>>,
    datagram: &[u8],
    counters: &Counters,
    is_packet: bool,
) -> bool {
    let result = if connected {
        sock.send(datagram).await
    } else {
        let to = *udp_peer.lock().unwrap_or_else(|e| e.into_inner());
        match to {
            Some(addr) => sock.send_to(datagram, addr).await,
            None => {
                // The client's address is not known until its first
                // datagram arrives (it sends one at once).
                if is_packet {
                    counters.add(&counters.tx_dropped_no_peer, 1);
                }
                return false;
            }
        }
    };
    match result {
        Ok(_) => true,
        Err(e) => {
            counters.add(&counters.send_errors, 1);
            tracing::debug!("UDP send of {} bytes failed: {e}", datagram.len());
            false
        }
    }
}

pub(crate) async fn wait_stop(stop: &mut watch::Receiver<bool>) {
    // An Err means the sender is gone, which only happens after it sent.
    let _ = stop.wait_for(|stopped| *stopped).await;
}
