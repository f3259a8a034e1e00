// SPDX-License-Identifier: MPL-2.0
//! The hello exchange that follows the TLS handshake (PROTOCOL.md,
//! "Hello"): the client proposes a transport and its ciphers, the
//! server chooses; each side names its session index; both then draw
//! the data-channel seeds from the TLS exporter.
//!
//! ```text
//! client hello: version(1) = 1 | transport(1) | index(4) | n(1) | cipher id(1) x n
//! server hello: version(1) = 1 | transport(1) | index(4) | cipher id(1) | udp port(2)
//! ```
//!
//! Transport 1 is UDP, 2 is TCP (packets stay in the TLS stream).  A
//! server that cannot or will not use UDP answers 2; a client that asked
//! for TCP always gets TCP.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::data::Cipher;
use crate::data::keys::{EXPORTER_LABEL, EXPORTER_LEN, SECRET_LEN, exporter_context};
use crate::device::Mode;
use crate::frame::{self, FRAME_HELLO, Frame};

/// The protocol version this implementation speaks.
pub const VERSION: u8 = 1;

/// Where tunnel packets travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Sealed UDP datagrams ([`crate::data`]).
    Udp,
    /// Frames inside the TLS stream (for networks that block UDP).
    Tcp,
}

impl Transport {
    fn id(self) -> u8 {
        match self {
            Transport::Udp => 1,
            Transport::Tcp => 2,
        }
    }
    fn from_id(id: u8) -> Option<Transport> {
        match id {
            1 => Some(Transport::Udp),
            2 => Some(Transport::Tcp),
            _ => None,
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHello {
    pub transport: Transport,
    pub index: u32,
    pub ciphers: Vec<Cipher>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    pub transport: Transport,
    pub index: u32,
    pub cipher: Cipher,
    pub udp_port: u16,
}

impl ClientHello {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![VERSION, self.transport.id()];
        b.extend_from_slice(&self.index.to_be_bytes());
        b.push(self.ciphers.len() as u8);
        b.extend(self.ciphers.iter().map(|c| c.id()));
        b
    }

    /// Unknown cipher ids are skipped (a newer client may offer more).
    pub fn decode(b: &[u8]) -> Result<ClientHello, String> {
        let (head, rest) = b.split_at_checked(7).ok_or_else(|| format!("client hello of {} bytes is too short", b.len()))?;
        check_version(head[0])?;
        let transport = Transport::from_id(head[1]).ok_or_else(|| format!("client hello: unknown transport {}", head[1]))?;
        let index = u32::from_be_bytes([head[2], head[3], head[4], head[5]]);
        let n = usize::from(head[6]);
        if rest.len() != n {
            return Err(format!("client hello: {n} ciphers announced, {} bytes follow", rest.len()));
        }
        let ciphers = rest.iter().filter_map(|&id| Cipher::from_id(id)).collect();
        Ok(ClientHello { transport, index, ciphers })
    }
}

impl ServerHello {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![VERSION, self.transport.id()];
        b.extend_from_slice(&self.index.to_be_bytes());
        b.push(self.cipher.id());
        b.extend_from_slice(&self.udp_port.to_be_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Result<ServerHello, String> {
        let &[version, transport, i0, i1, i2, i3, cipher, p0, p1] = b else {
            return Err(format!("server hello of {} bytes (expected 9)", b.len()));
        };
        check_version(version)?;
        Ok(ServerHello {
            transport: Transport::from_id(transport).ok_or_else(|| format!("server hello: unknown transport {transport}"))?,
            index: u32::from_be_bytes([i0, i1, i2, i3]),
            cipher: Cipher::from_id(cipher).ok_or_else(|| format!("server hello: unknown cipher {cipher}"))?,
            udp_port: u16::from_be_bytes([p0, p1]),
        })
    }
}

fn check_version(v: u8) -> Result<(), String> {
    if v == VERSION { Ok(()) } else { Err(format!("peer speaks protocol version {v}, this tunneld speaks {VERSION}")) }
}

/// The outcome of the hello exchange.
pub struct Negotiated {
    pub transport: Transport,
    pub cipher: Cipher,
    /// Our session index (datagrams to us carry it).
    pub index: u32,
    /// The peer's session index.
    pub peer_index: u32,
    /// The server's UDP port (client side; 0 for TCP).
    pub udp_port: u16,
    /// Seed of the chain we seal with, and of the one we open with.
    pub tx_seed: [u8; SECRET_LEN],
    pub rx_seed: [u8; SECRET_LEN],
}

/// A fresh random session index.
pub fn new_index() -> u32 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    // SystemRandom fails only without an OS random source; an index is
    // not a secret, so the clock is a usable fallback.
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        b = (t.subsec_nanos() ^ std::process::id()).to_be_bytes();
    }
    u32::from_be_bytes(b)
}

/// Split the exporter's output: client-to-server seed, server-to-client seed.
fn seeds(out: &[u8; EXPORTER_LEN]) -> ([u8; SECRET_LEN], [u8; SECRET_LEN]) {
    let mut a = [0u8; SECRET_LEN];
    let mut b = [0u8; SECRET_LEN];
    a.copy_from_slice(&out[..SECRET_LEN]);
    b.copy_from_slice(&out[SECRET_LEN..]);
    (a, b)
}

async fn read_hello<S: AsyncRead + Unpin>(stream: &mut S, timeout: Duration) -> Result<Vec<u8>, String> {
    let frame = tokio::time::timeout(timeout, frame::read_frame(stream, Mode::Tun, 0))
        .await
        .map_err(|_| format!("no hello within {timeout:?}"))?
        .map_err(|e| format!("reading the hello: {e}"))?;
    match frame {
        Frame::Control { kind: FRAME_HELLO, body } => Ok(body),
        Frame::End => Err("the peer closed the connection before its hello".into()),
        _ => Err("the peer sent something other than a hello first".into()),
    }
}

/// What both ends agreed on; [`Agreed::keys`] then draws the seeds.
pub struct Agreed {
    pub transport: Transport,
    pub cipher: Cipher,
    pub client_index: u32,
    pub server_index: u32,
    pub udp_port: u16,
    is_client: bool,
}

impl Agreed {
    /// Draw the seeds from `export` (the TLS exporter, [`exporter`]).
    pub fn keys(self, export: impl FnOnce(&mut [u8; EXPORTER_LEN], &[u8]) -> Result<(), String>) -> Result<Negotiated, String> {
        let mut out = [0u8; EXPORTER_LEN];
        export(&mut out, &exporter_context(self.client_index, self.server_index, self.cipher))?;
        let (c2s, s2c) = seeds(&out);
        let (index, peer_index, tx_seed, rx_seed) = if self.is_client {
            (self.client_index, self.server_index, c2s, s2c)
        } else {
            (self.server_index, self.client_index, s2c, c2s)
        };
        Ok(Negotiated { transport: self.transport, cipher: self.cipher, index, peer_index, udp_port: self.udp_port, tx_seed, rx_seed })
    }
}

/// Client side: send our hello, read the server's.
pub async fn client<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    transport: Transport,
    ciphers: &[Cipher],
    timeout: Duration,
) -> Result<Agreed, String> {
    let index = new_index();
    let hello = ClientHello { transport, index, ciphers: ciphers.to_vec() };
    stream.write_all(&frame::control(FRAME_HELLO, &hello.encode())).await.map_err(|e| format!("sending the hello: {e}"))?;
    stream.flush().await.map_err(|e| format!("sending the hello: {e}"))?;
    let reply = ServerHello::decode(&read_hello(stream, timeout).await?)?;
    if !ciphers.contains(&reply.cipher) {
        return Err(format!("server chose cipher {} which this end did not offer", reply.cipher));
    }
    if transport == Transport::Tcp && reply.transport != Transport::Tcp {
        return Err("server chose UDP although this end asked for TCP".into());
    }
    Ok(Agreed {
        transport: reply.transport,
        cipher: reply.cipher,
        client_index: index,
        server_index: reply.index,
        udp_port: reply.udp_port,
        is_client: true,
    })
}

/// Server side: read the client's hello, choose, answer.  `udp_port`
/// is None when this server offers no UDP.
pub async fn server<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    udp_port: Option<u16>,
    ciphers: &[Cipher],
    timeout: Duration,
) -> Result<Agreed, String> {
    let hello = ClientHello::decode(&read_hello(stream, timeout).await?)?;
    let cipher = hello
        .ciphers
        .iter()
        .copied()
        .find(|c| ciphers.contains(c))
        .ok_or_else(|| format!("no common cipher (client offers {:?}, this server allows {ciphers:?})", hello.ciphers))?;
    let (transport, port) = match (hello.transport, udp_port) {
        (Transport::Udp, Some(p)) => (Transport::Udp, p),
        _ => (Transport::Tcp, 0),
    };
    let index = new_index();
    let reply = ServerHello { transport, index, cipher, udp_port: port };
    stream.write_all(&frame::control(FRAME_HELLO, &reply.encode())).await.map_err(|e| format!("sending the hello: {e}"))?;
    stream.flush().await.map_err(|e| format!("sending the hello: {e}"))?;
    Ok(Agreed { transport, cipher, client_index: hello.index, server_index: index, udp_port: port, is_client: false })
}

/// The exporter of a rustls connection, as [`client`]/[`server`] take it.
pub fn exporter<D>(conn: &rustls::ConnectionCommon<D>, out: &mut [u8; EXPORTER_LEN], context: &[u8]) -> Result<(), String> {
    conn.export_keying_material(&mut out[..], EXPORTER_LABEL, Some(context))
        .map(|_| ())
        .map_err(|e| format!("TLS exporter: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hellos_round_trip_and_reject_bad_input() {
        let c = ClientHello { transport: Transport::Udp, index: 0xdead_beef, ciphers: vec![Cipher::ChaCha20Poly1305, Cipher::Aes256Gcm] };
        assert_eq!(ClientHello::decode(&c.encode()).unwrap(), c);
        let s = ServerHello { transport: Transport::Tcp, index: 7, cipher: Cipher::Aes256Gcm, udp_port: 0 };
        assert_eq!(ServerHello::decode(&s.encode()).unwrap(), s);
        let mut v2 = c.encode();
        v2[0] = 2;
        assert!(ClientHello::decode(&v2).unwrap_err().contains("version 2"));
        let mut short = c.encode();
        short.pop();
        assert!(ClientHello::decode(&short).unwrap_err().contains("2 ciphers announced, 1 bytes follow"));
        assert!(ServerHello::decode(&[1, 1, 0, 0, 0, 0, 9, 0, 1]).unwrap_err().contains("unknown cipher 9"));
        assert!(ServerHello::decode(&[1]).is_err());
    }

    #[tokio::test]
    async fn both_sides_agree_on_the_choice_and_mirror_the_seeds() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        // Stand-in exporter: the same bytes on both ends for one context.
        let export = |out: &mut [u8; EXPORTER_LEN], ctx: &[u8]| {
            for (i, o) in out.iter_mut().enumerate() {
                *o = (i as u8).wrapping_mul(31) ^ ctx.iter().fold(0, |x, y| x ^ y);
            }
            Ok(())
        };
        let t = Duration::from_secs(5);
        let (c, s) = tokio::join!(
            client(&mut a, Transport::Udp, &[Cipher::ChaCha20Poly1305, Cipher::Aes256Gcm], t),
            server(&mut b, Some(4242), &[Cipher::Aes256Gcm], t)
        );
        let (c, s) = (c.unwrap().keys(export).unwrap(), s.unwrap().keys(export).unwrap());
        assert_eq!((c.transport, c.cipher, c.udp_port), (Transport::Udp, Cipher::Aes256Gcm, 4242));
        assert_eq!((c.index, c.peer_index), (s.peer_index, s.index));
        assert_eq!((c.tx_seed, c.rx_seed), (s.rx_seed, s.tx_seed));
        assert_ne!(c.tx_seed, c.rx_seed);
        // A server without UDP answers TCP; no common cipher is refused.
        let (mut a, mut b) = tokio::io::duplex(1024);
        let (c, s) = tokio::join!(
            client(&mut a, Transport::Udp, &[Cipher::Aes256Gcm], t),
            server(&mut b, None, &[Cipher::Aes256Gcm], t)
        );
        assert_eq!((c.unwrap().transport, s.unwrap().transport), (Transport::Tcp, Transport::Tcp));
        let (mut a, mut b) = tokio::io::duplex(1024);
        let (_c, s) = tokio::join!(
            client(&mut a, Transport::Udp, &[Cipher::ChaCha20Poly1305], Duration::from_millis(300)),
            server(&mut b, Some(1), &[Cipher::Aes256Gcm], t)
        );
        assert!(s.err().unwrap().contains("no common cipher"));
    }
}
