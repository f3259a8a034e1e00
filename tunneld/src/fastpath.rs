// SPDX-License-Identifier: MPL-2.0
//! The UDP data path off the async runtime: packets are sealed and sent
//! by the thread that read them from the link, and datagrams are
//! received (`recvmmsg`), opened and written to the link by a thread of
//! the session — no channel hop, no task wake-up per packet.
//!
//! [`TxPath`] lives in the session's route ([`crate::table::Route`]):
//! the device reader thread picks the route for each packet and seals
//! and sends it there.  Keepalives are sealed through the same path, so
//! one sealer numbers every datagram.  [`spawn_rx`] starts a receiving
//! thread for one socket; it finds each datagram's session by the index
//! in its header ([`Demux`]: a server's one socket serves every client),
//! and stops when its flag is set (it looks every [`POLL_MS`]) and
//! reports a link that went away through `done`.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::batch::RecvBatch;
use crate::counters::Counters;
use crate::data::{self, Opener, Reject, Sealer, TYPE_DATA, TYPE_KEEPALIVE};
use crate::device::{Device, DeviceError, Mode};
use crate::frame;
use crate::table::{Route, Table};

/// How often the receiving thread looks at its stop flag.
pub(crate) const POLL_MS: libc::c_int = 100;
/// Packets a server holds while it does not know the client's address
/// yet (the client's first datagram follows the hello at once).
pub(crate) const PENDING_MAX: usize = 256;
/// Log at most this many bad datagrams per session (all are counted).
const BAD_LOG_LIMIT: u32 = 5;

/// The sending side of a UDP session.
pub(crate) struct TxPath {
    pub sealer: Sealer,
    pub sock: Arc<UdpSocket>,
    /// A client's socket is connected; a server sends to `peer`.
    pub connected: bool,
    pub peer: Arc<Mutex<Option<SocketAddr>>>,
    pub counters: Arc<Counters>,
    /// Milliseconds after `base` of the last datagram sent.
    pub last_tx: Arc<AtomicU64>,
    pub base: Instant,
    pub label: String,
    pub out: Vec<u8>,
    /// Packets read before the client's address was known.
    pub pending: Vec<Vec<u8>>,
    /// Sealed datagrams of a burst.
    pub outs: Vec<Vec<u8>>,
    /// Send runs of equal-size datagrams with UDP GSO (Linux).
    pub gso: bool,
}

impl TxPath {
    /// Seal and send a packet (`TYPE_DATA`) or a keepalive; counted.
    pub fn send(&mut self, kind: u8, payload: &[u8]) {
        let c = &self.counters;
        let to = if self.connected { None } else { *self.peer.lock().unwrap_or_else(|e| e.into_inner()) };
        if !self.connected && to.is_none() {
            // The client's address is not known until its first datagram
            // arrives (it sends one at once): hold a few packets for it.
            if kind == TYPE_DATA {
                if self.pending.len() < PENDING_MAX {
                    self.pending.push(payload.to_vec());
                } else {
                    c.add(&c.tx_dropped_no_peer, 1);
                }
            }
            return;
        }
        if self.sealer.seal(kind, payload, &mut self.out) {
            c.add(&c.rekeys, 1);
            tracing::debug!("peer {}: sending under key epoch {}", self.label, self.sealer.epoch());
        }
        match send_blocking(self.sock.as_raw_fd(), &self.out, to) {
            Ok(()) => {
                self.last_tx.store(self.base.elapsed().as_millis() as u64, Ordering::Relaxed);
                if kind == TYPE_DATA {
                    c.add(&c.tx_packets, 1);
                    c.add(&c.tx_bytes, payload.len() as u64);
                } else {
                    c.add(&c.keepalives_sent, 1);
                }
            }
            Err(e) => {
                c.add(&c.send_errors, 1);
                tracing::debug!("peer {}: UDP send of {} bytes failed: {e}", self.label, self.out.len());
            }
        }
    }
}

impl TxPath {
    /// Seal and send a burst of packets read together: one `sendmmsg(2)`
    /// on Linux for all of them.
    pub fn send_burst<'p>(&mut self, packets: impl Iterator<Item = &'p [u8]>) {
        let c = self.counters.clone();
        let to = if self.connected { None } else { *self.peer.lock().unwrap_or_else(|e| e.into_inner()) };
        if !self.connected && to.is_none() {
            for p in packets {
                self.send(TYPE_DATA, p);
            }
            return;
        }
        let (mut n, mut bytes) = (0usize, 0u64);
        for p in packets {
            if self.outs.len() <= n {
                self.outs.push(Vec::with_capacity(p.len() + data::OVERHEAD));
            }
            let Some(out) = self.outs.get_mut(n) else { break };
            if self.sealer.seal(TYPE_DATA, p, out) {
                c.add(&c.rekeys, 1);
                tracing::debug!("peer {}: sending under key epoch {}", self.label, self.sealer.epoch());
            }
            n += 1;
            bytes += p.len() as u64;
        }
        let datagrams = self.outs.get(..n).unwrap_or_default();
        let (failed, segmented) = send_many(self.sock.as_raw_fd(), datagrams, to, self.gso);
        c.add(&c.tx_gso_datagrams, segmented as u64);
        if failed > 0 {
            c.add(&c.send_errors, failed as u64);
        }
        self.last_tx.store(self.base.elapsed().as_millis() as u64, Ordering::Relaxed);
        c.add(&c.tx_packets, (n - failed) as u64);
        c.add(&c.tx_bytes, bytes);
    }

    /// Send the packets held for a client whose address just became known.
    pub fn flush_pending(&mut self) {
        for p in std::mem::take(&mut self.pending) {
            self.send(TYPE_DATA, &p);
        }
    }
}

/// Send one datagram on a non-blocking socket, waiting in poll(2) while
/// it is full.
fn send_blocking(fd: RawFd, buf: &[u8], to: Option<SocketAddr>) -> io::Result<()> {
    let name = to.map(socket2::SockAddr::from);
    loop {
        let (ptr, len) = match &name {
            Some(a) => (a.as_ptr().cast::<libc::sockaddr>(), a.len()),
            None => (std::ptr::null(), 0),
        };
        // SAFETY: buf is valid for its length; ptr/len describe `name`
        // (or are null/0 on a connected socket), alive for the call.
        let r = unsafe { libc::sendto(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_DONTWAIT, ptr, len) };
        if r >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => {
                let mut pfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
                // SAFETY: one pollfd, valid for the call.
                unsafe { libc::poll(&mut pfd, 1, POLL_MS) };
            }
            _ => return Err(e),
        }
    }
}

/// Send `datagrams`, waiting in poll(2) while the socket is full: how
/// many the kernel refused, and how many went out in UDP GSO sends.
fn send_many(fd: RawFd, datagrams: &[Vec<u8>], to: Option<SocketAddr>, gso: bool) -> (usize, usize) {
    let (mut next, mut failed, mut segmented) = (0, 0, 0);
    while next < datagrams.len() {
        match crate::batch::send_fd(fd, datagrams.get(next..).unwrap_or_default(), to, gso) {
            Ok(sent) => {
                next += sent.datagrams.max(1);
                segmented += sent.segmented;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let mut pfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
                // SAFETY: one pollfd, valid for the call.
                unsafe { libc::poll(&mut pfd, 1, POLL_MS) };
            }
            Err(e) => {
                tracing::debug!("UDP send failed: {e}");
                next += 1;
                failed += 1;
            }
        }
    }
    (failed, segmented)
}

/// One session's receiving side, found by the session index that
/// datagrams to it carry.
pub(crate) struct RxSession {
    pub opener: Mutex<Opener>,
    /// Milliseconds after `base` when the peer was last heard from.
    pub last_heard: Arc<AtomicU64>,
    pub base: Instant,
    /// A server learns (and follows) the client's address here.
    pub peer: Arc<Mutex<Option<SocketAddr>>>,
    pub learn_peer: bool,
    /// The session's route: its sending path (to flush what it held
    /// once the address is known), addresses and key.
    pub route: Arc<Route>,
    pub label: String,
    /// Bad datagrams logged so far (all are counted).
    pub logged: AtomicU32,
}

/// The sessions one UDP socket serves, by session index: the server's
/// one data socket carries every client's datagrams.
#[derive(Default)]
pub(crate) struct Demux {
    sessions: RwLock<HashMap<u32, Arc<RxSession>>>,
}

impl Demux {
    /// Add a session under `index`; false if another holds it.
    pub fn insert(&self, index: u32, s: Arc<RxSession>) -> bool {
        let mut map = self.sessions.write().unwrap_or_else(|e| e.into_inner());
        if map.contains_key(&index) {
            return false;
        }
        map.insert(index, s);
        true
    }

    pub fn remove(&self, index: u32) {
        self.sessions.write().unwrap_or_else(|e| e.into_inner()).remove(&index);
    }

    fn get(&self, index: u32) -> Option<Arc<RxSession>> {
        self.sessions.read().unwrap_or_else(|e| e.into_inner()).get(&index).cloned()
    }
}

/// What the receiving thread needs.
pub(crate) struct RxPath {
    pub sock: Arc<UdpSocket>,
    pub demux: Arc<Demux>,
    pub table: Arc<Table>,
    pub device: Arc<dyn Device>,
    pub counters: Arc<Counters>,
    pub stop: Arc<AtomicBool>,
    pub mode: Mode,
    pub limit: usize,
}

/// Start the receiving thread; it sends on `done` why the link failed.
pub(crate) fn spawn_rx(rx: RxPath, done: tokio::sync::oneshot::Sender<String>) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(format!("tunneld-{}-udp", rx.device.name())).spawn(move || {
        if let Err(why) = rx_loop(rx) {
            let _ = done.send(why);
        }
    })
}

/// Log a bad datagram, at most [`BAD_LOG_LIMIT`] per session (or for
/// datagrams of no session).
fn note(logged: &AtomicU32, label: &str, what: &str) {
    let n = logged.fetch_add(1, Ordering::Relaxed) + 1;
    if n <= BAD_LOG_LIMIT {
        let more = if n == BAD_LOG_LIMIT { " (further ones are only counted)" } else { "" };
        tracing::warn!("{label}: {what}; dropped{more}");
    }
}

fn rx_loop(rx: RxPath) -> Result<(), String> {
    let fd = rx.sock.as_raw_fd();
    let mut batch = RecvBatch::new(frame::MAX_WIRE_PACKET + data::OVERHEAD);
    let stray_logged = AtomicU32::new(0);
    let written_logged = AtomicU32::new(0);
    let c = rx.counters.clone();
    while !rx.stop.load(Ordering::Relaxed) {
        let n = match batch.recv_fd(fd) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {
                let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
                // SAFETY: one pollfd, valid for the call.
                unsafe { libc::poll(&mut pfd, 1, POLL_MS) };
                continue;
            }
            Err(e) => {
                // A connected client socket reports ICMP errors (port
                // unreachable) here; the watchdog decides.
                tracing::debug!("link {}: UDP receive: {e}", rx.device.name());
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
        };
        for i in 0..n {
            let Some((buffer, from, seg)) = batch.get(i) else { continue };
            if buffer.len() > seg {
                c.add(&c.rx_gro_datagrams, buffer.len().div_ceil(seg) as u64);
            }
            for datagram in buffer.chunks_mut(seg) {
                let index = datagram.get(4..8).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(u32::from_be_bytes);
                let Some(s) = index.and_then(|i| rx.demux.get(i)) else {
                    c.add(&c.rx_bad_datagram, 1);
                    let from = from.map(|a| a.to_string()).unwrap_or_default();
                    note(&stray_logged, &format!("link {}", rx.device.name()), &format!("datagram of no session from {from}"));
                    continue;
                };
                if let Err(why) = receive(&rx, &s, datagram, from, &written_logged) {
                    return why;
                }
            }
        }
        if let Err(why) = account_writes(&rx, rx.device.flush(), &written_logged) {
            return why;
        }
    }
    Ok(())
}

/// Count packets written to (or lost on) the link; Err(result) when the
/// thread ends (Ok: the link was closed; Err: it went away).
fn account_writes(rx: &RxPath, done: crate::device::Flushed, logged: &AtomicU32) -> Result<(), Result<(), String>> {
    match done.account(&rx.counters, rx.device.name(), logged) {
        Ok(()) => Ok(()),
        Err(DeviceError::Gone(why)) => Err(Err(format!("link {}: {why}", rx.device.name()))),
        Err(_) => Err(Ok(())),
    }
}

/// Open one datagram of session `s` and put its packet on the link.
/// Err(result): the thread ends (Ok: the link was closed; Err: it went
/// away).
fn receive(rx: &RxPath, s: &RxSession, datagram: &mut [u8], from: Option<SocketAddr>, written_logged: &AtomicU32) -> Result<(), Result<(), String>> {
    let c = &rx.counters;
    let opened = s.opener.lock().unwrap_or_else(|e| e.into_inner()).open(datagram);
    let complaint = match opened {
        Ok(opened) => {
            s.last_heard.store(s.base.elapsed().as_millis() as u64, Ordering::Relaxed);
            if opened.rekeyed {
                c.add(&c.rekeys, 1);
                tracing::debug!("peer {}: receiving under a new key epoch", s.label);
            }
            if s.learn_peer && let Some(from) = from {
                let first = {
                    let mut known = s.peer.lock().unwrap_or_else(|e| e.into_inner());
                    let first = known.is_none();
                    if *known != Some(from) {
                        tracing::info!("peer {}: data channel from {from}", s.label);
                        *known = Some(from);
                    }
                    first
                };
                // Lock order: route's tx, then peer (TxPath::send); the
                // peer lock is released here.
                if first && let Some(tx) = s.route.tx.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                    tx.flush_pending();
                }
            }
            if opened.kind == TYPE_KEEPALIVE {
                c.add(&c.keepalives_received, 1);
                return Ok(());
            }
            let packet = datagram.get(opened.payload).unwrap_or_default();
            if packet.len() > rx.limit {
                c.add(&c.rx_oversize, 1);
                Some(format!("oversize packet of {} bytes (this link takes at most {})", packet.len(), rx.limit))
            } else if let Err(why) = frame::check_packet(rx.mode, packet) {
                c.add(&c.rx_malformed, 1);
                Some(format!("malformed {}-byte packet: {why}", packet.len()))
            } else if !rx.table.source_ok(&s.route, packet) {
                c.add(&c.rx_wrong_source, 1);
                Some(format!("packet from a source outside the peer's addresses ({} bytes)", packet.len()))
            } else {
                rx.table.learn(&s.route, packet);
                if !rx.table.relay(&s.route, packet, c) {
                    return Ok(());
                }
                // Written with the others of this receive (flushed by
                // rx_loop): one write for the lot where the link batches.
                account_writes(rx, rx.device.queue_packet(packet), written_logged)?;
                None
            }
        }
        Err(reject) => {
            let counter = match reject {
                Reject::Replayed(_) => &c.rx_replayed,
                Reject::Forged => &c.rx_forged,
                Reject::Malformed | Reject::OtherSession | Reject::UnknownEpoch => &c.rx_bad_datagram,
            };
            c.add(counter, 1);
            let from = from.map(|a| a.to_string()).unwrap_or_default();
            Some(format!("{reject} from {from}"))
        }
    };
    if let Some(what) = complaint {
        note(&s.logged, &format!("peer {}", s.label), &what);
    }
    Ok(())
}
