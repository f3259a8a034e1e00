// SPDX-License-Identifier: MPL-2.0
//! TCP transfers between two network namespaces, with an end-to-end
//! checksum.
//!
//! [`transfer`] listens in one namespace, connects from the other, sends
//! `len` bytes of a deterministic pseudo-random stream and has both ends
//! compute a 64-bit FNV-1a digest of what they sent and received; the
//! caller compares them (and the byte counts).  The sockets are created
//! on threads inside the namespaces (see [`crate::netns::Netns::spawn`]);
//! every blocking call has a timeout so a broken path fails the test
//! instead of hanging it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::netns::{HarnessError, Netns, Result};

/// 64-bit FNV-1a, fed in pieces.
#[derive(Clone, Copy, Debug)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn value(&self) -> u64 {
        self.0
    }
}

/// A deterministic byte stream (xorshift64*), so a corrupted, lost or
/// reordered segment changes the digest.
pub struct PatternStream(u64);

impl PatternStream {
    pub fn new(seed: u64) -> Self {
        PatternStream(seed | 1)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            let v = x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// What a transfer did.
#[derive(Clone, Copy, Debug)]
pub struct TransferReport {
    pub sent_bytes: u64,
    pub received_bytes: u64,
    pub sent_digest: u64,
    pub received_digest: u64,
    /// From connect to the receiver seeing end of stream.
    pub elapsed: Duration,
}

impl TransferReport {
    /// Everything arrived intact.
    pub fn intact(&self) -> bool {
        self.sent_bytes == self.received_bytes && self.sent_digest == self.received_digest
    }

    /// Throughput in Mbit/s (payload only).
    pub fn mbit_per_s(&self) -> f64 {
        self.received_bytes as f64 * 8.0 / self.elapsed.as_secs_f64().max(1e-9) / 1e6
    }
}

const IO_CHUNK: usize = 64 * 1024;

/// Send `len` bytes from namespace `client` to a listener on `server_ip`
/// (an address of `server`'s) and report both digests.  Each socket call
/// gives up after `timeout`.
pub fn transfer(server: &Netns, server_ip: &str, client: &Netns, len: u64, timeout: Duration) -> Result<TransferReport> {
    let ip: std::net::IpAddr =
        server_ip.parse().map_err(|e| HarnessError(format!("server address {server_ip:?}: {e}")))?;
    let listener = server
        .enter(move || TcpListener::bind(SocketAddr::new(ip, 0)))?
        .map_err(|e| HarnessError(format!("listen on {server_ip} in {}: {e}", server.name())))?;
    let addr = listener.local_addr().map_err(|e| HarnessError(format!("listener address: {e}")))?;
    listener.set_nonblocking(true).map_err(|e| HarnessError(format!("listener: {e}")))?;

    let receiver = std::thread::Builder::new()
        .name("tcp-receiver".into())
        .spawn(move || -> Result<(u64, u64, Instant)> {
            let deadline = Instant::now() + timeout;
            let (mut s, _) = loop {
                match listener.accept() {
                    Ok(c) => break c,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(e) => return Err(HarnessError(format!("accept on {addr}: {e}"))),
                }
            };
            s.set_nonblocking(false).map_err(|e| HarnessError(format!("receiver socket: {e}")))?;
            s.set_read_timeout(Some(timeout)).map_err(|e| HarnessError(format!("receiver socket: {e}")))?;
            let mut digest = Fnv64::default();
            let mut total = 0u64;
            let mut buf = vec![0u8; IO_CHUNK];
            loop {
                let n = s.read(&mut buf).map_err(|e| {
                    HarnessError(format!("receiving on {addr} after {total} bytes: {e}"))
                })?;
                if n == 0 {
                    break;
                }
                digest.update(&buf[..n]);
                total += n as u64;
            }
            Ok((total, digest.value(), Instant::now()))
        })
        .map_err(|e| HarnessError(format!("cannot start the receiver thread: {e}")))?;

    let sender = client.spawn("tcp-sender", move || -> Result<(u64, u64, Instant)> {
        let start = Instant::now();
        let mut s = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| HarnessError(format!("connect to {addr}: {e}")))?;
        s.set_write_timeout(Some(timeout)).map_err(|e| HarnessError(format!("sender socket: {e}")))?;
        let mut pattern = PatternStream::new(len ^ 0x5eed);
        let mut digest = Fnv64::default();
        let mut buf = vec![0u8; IO_CHUNK];
        let mut sent = 0u64;
        while sent < len {
            let n = (len - sent).min(IO_CHUNK as u64) as usize;
            pattern.fill(&mut buf[..n]);
            s.write_all(&buf[..n]).map_err(|e| HarnessError(format!("sending to {addr} after {sent} bytes: {e}")))?;
            digest.update(&buf[..n]);
            sent += n as u64;
        }
        s.shutdown(std::net::Shutdown::Write).map_err(|e| HarnessError(format!("shutdown: {e}")))?;
        Ok((sent, digest.value(), start))
    })?;

    let sent = sender.join().map_err(|_| HarnessError("the TCP sender thread panicked".into()))??;
    let received = receiver.join().map_err(|_| HarnessError("the TCP receiver thread panicked".into()))??;
    let (sent_bytes, sent_digest, start) = sent?;
    let (received_bytes, received_digest, end) = received;
    Ok(TransferReport { sent_bytes, received_bytes, sent_digest, received_digest, elapsed: end.duration_since(start) })
}
