// SPDX-License-Identifier: MPL-2.0
//! Framing inside the TLS stream (the control channel, and the data
//! channel when `transport = "tcp"`; PROTOCOL.md, "Control frames").
//!
//! Each frame is a 4-byte header and its body:
//!
//! ```text
//!  0        1        2        3
//! +--------+--------+--------+--------+---------------...
//! | type   |   length (24 bits, big endian) | body
//! +--------+--------+--------+--------+---------------...
//! ```
//!
//! Types: `0x50` ("P") a tunnel packet, `0x48` ("H") a hello
//! ([`crate::hello`]), `0x41` ("A") a keepalive (empty body).  Control
//! bodies are at most [`MAX_CONTROL_BODY`] bytes.  A header with another type, or
//! a length no link could carry ([`MAX_WIRE_PACKET`]), means the stream
//! is not ours or lost sync: the connection is dropped.  A well-formed
//! frame longer than this link allows (MTU + link header) is skipped and
//! counted; so is one whose bytes are not a packet of the link's mode.

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::device::Mode;

/// The frame type of a packet.
pub const FRAME_PACKET: u8 = 0x50;
/// The frame type of a hello.
pub const FRAME_HELLO: u8 = 0x48;
/// The frame type of a keepalive.
pub const FRAME_ALIVE: u8 = 0x41;
/// The longest body of a control frame (hello, keepalive).
pub const MAX_CONTROL_BODY: usize = 256;
/// Bytes of header in front of each packet.
pub const HEADER_LEN: usize = 4;
/// The longest packet any configuration carries: MTU 65535 plus an
/// Ethernet header with a VLAN tag.
pub const MAX_WIRE_PACKET: usize = 65_535 + 18;

/// The header for a packet of `len` bytes (`len <= MAX_WIRE_PACKET`).
pub fn header(len: usize) -> [u8; HEADER_LEN] {
    typed_header(FRAME_PACKET, len)
}

/// The header of a frame of `kind` with a body of `len` bytes.
pub fn typed_header(kind: u8, len: usize) -> [u8; HEADER_LEN] {
    let len = len.min(MAX_WIRE_PACKET) as u32;
    [kind, (len >> 16) as u8, (len >> 8) as u8, len as u8]
}

/// A whole control frame: header and body.
pub fn control(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut f = typed_header(kind, body.len()).to_vec();
    f.extend_from_slice(body);
    f
}

/// What one read from the peer produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A packet for the link.
    Packet(Vec<u8>),
    /// A frame longer than the link allows; its bytes were skipped.
    Oversize { len: usize, limit: usize },
    /// A frame that is not a packet of the link's mode; skipped.
    Malformed { len: usize, why: &'static str },
    /// A control frame: its type and body.
    Control { kind: u8, body: Vec<u8> },
    /// The peer closed the connection between two frames.
    End,
}

/// Why the connection must be dropped.
#[derive(Debug)]
pub enum StreamError {
    /// Not our framing.
    Garbage(String),
    /// The connection failed (or closed in the middle of a frame).
    Io(std::io::Error),
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Garbage(why) => write!(f, "peer sent garbage: {why}"),
            StreamError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Is `packet` something a link of `mode` carries?
pub fn check_packet(mode: Mode, packet: &[u8]) -> Result<(), &'static str> {
    match mode {
        Mode::Tun => match packet.first().map(|b| b >> 4) {
            None => Err("empty frame"),
            Some(4) if packet.len() >= 20 => Ok(()),
            Some(6) if packet.len() >= 40 => Ok(()),
            Some(4 | 6) => Err("IP packet shorter than its header"),
            Some(_) => Err("not an IPv4 or IPv6 packet"),
        },
        Mode::Tap if packet.len() >= 14 => Ok(()),
        Mode::Tap => Err("shorter than an Ethernet header"),
    }
}

/// Read the next frame.  `limit` is the longest packet the link takes.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R, mode: Mode, limit: usize) -> Result<Frame, StreamError> {
    let mut head = [0u8; HEADER_LEN];
    // The first byte decides between a clean end and a torn frame.
    match reader.read(&mut head[..1]).await {
        Ok(0) => return Ok(Frame::End),
        Ok(_) => {}
        Err(e) => return Err(StreamError::Io(e)),
    }
    reader.read_exact(&mut head[1..]).await.map_err(StreamError::Io)?;
    let len = (usize::from(head[1]) << 16) | (usize::from(head[2]) << 8) | usize::from(head[3]);
    if head[0] == FRAME_HELLO || head[0] == FRAME_ALIVE {
        if len > MAX_CONTROL_BODY {
            return Err(StreamError::Garbage(format!(
                "control frame 0x{:02x} of {len} bytes (at most {MAX_CONTROL_BODY})",
                head[0]
            )));
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).await.map_err(StreamError::Io)?;
        return Ok(Frame::Control { kind: head[0], body });
    }
    if head[0] != FRAME_PACKET {
        return Err(StreamError::Garbage(format!(
            "frame header {:02x} {:02x} {:02x} {:02x} has unknown type 0x{:02x}",
            head[0], head[1], head[2], head[3], head[0]
        )));
    }
    if len > MAX_WIRE_PACKET {
        return Err(StreamError::Garbage(format!("frame length {len} is longer than any link's packets ({MAX_WIRE_PACKET})")));
    }
    if len > limit {
        let mut rest = len;
        let mut sink = [0u8; 4096];
        while rest > 0 {
            let take = rest.min(sink.len());
            reader.read_exact(&mut sink[..take]).await.map_err(StreamError::Io)?;
            rest -= take;
        }
        return Ok(Frame::Oversize { len, limit });
    }
    let mut packet = vec![0u8; len];
    reader.read_exact(&mut packet).await.map_err(StreamError::Io)?;
    match check_packet(mode, &packet) {
        Ok(()) => Ok(Frame::Packet(packet)),
        Err(why) => Ok(Frame::Malformed { len, why }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn one(bytes: &[u8], mode: Mode, limit: usize) -> Result<Frame, StreamError> {
        let mut r = bytes;
        read_frame(&mut r, mode, limit).await
    }

    fn ipv4(len: usize) -> Vec<u8> {
        let mut p = vec![0u8; len];
        p[0] = 0x45;
        p
    }

    #[tokio::test]
    async fn round_trip_and_limits() {
        let p = ipv4(1500);
        let mut wire = header(p.len()).to_vec();
        wire.extend_from_slice(&p);
        assert_eq!(one(&wire, Mode::Tun, 1500).await.unwrap(), Frame::Packet(p.clone()));
        assert_eq!(one(&wire, Mode::Tun, 1400).await.unwrap(), Frame::Oversize { len: 1500, limit: 1400 });
        assert_eq!(one(&[], Mode::Tun, 1500).await.unwrap(), Frame::End);
    }

    #[tokio::test]
    async fn oversize_frame_is_skipped_and_the_next_one_read() {
        let mut wire = header(2000).to_vec();
        wire.extend_from_slice(&ipv4(2000));
        let good = ipv4(100);
        wire.extend_from_slice(&header(100));
        wire.extend_from_slice(&good);
        let mut r = &wire[..];
        assert!(matches!(read_frame(&mut r, Mode::Tun, 1500).await.unwrap(), Frame::Oversize { len: 2000, .. }));
        assert_eq!(read_frame(&mut r, Mode::Tun, 1500).await.unwrap(), Frame::Packet(good));
    }

    #[tokio::test]
    async fn garbage_and_torn_frames_drop_the_connection() {
        let e = one(b"GET / HTTP/1.1\r\n", Mode::Tun, 1500).await.unwrap_err();
        assert!(e.to_string().contains("unknown type 0x47"), "{e}");
        let e = one(&[FRAME_PACKET, 0xff, 0xff, 0xff], Mode::Tun, 1500).await.unwrap_err();
        assert!(e.to_string().contains("longer than any link"), "{e}");
        let mut torn = header(100).to_vec();
        torn.extend_from_slice(&ipv4(50));
        assert!(matches!(one(&torn, Mode::Tun, 1500).await, Err(StreamError::Io(_))));
        assert!(matches!(one(&[FRAME_PACKET, 0], Mode::Tun, 1500).await, Err(StreamError::Io(_))));
    }

    #[tokio::test]
    async fn control_frames_are_read_and_bounded() {
        let mut wire = control(FRAME_ALIVE, &[]);
        wire.extend_from_slice(&control(FRAME_HELLO, &[1, 2, 3]));
        let mut r = &wire[..];
        assert_eq!(read_frame(&mut r, Mode::Tun, 1500).await.unwrap(), Frame::Control { kind: FRAME_ALIVE, body: vec![] });
        assert_eq!(read_frame(&mut r, Mode::Tun, 1500).await.unwrap(), Frame::Control { kind: FRAME_HELLO, body: vec![1, 2, 3] });
        let e = one(&control(FRAME_HELLO, &[0; MAX_CONTROL_BODY + 1]), Mode::Tun, 1500).await.unwrap_err();
        assert!(e.to_string().contains("control frame 0x48 of 257 bytes"), "{e}");
    }

    #[tokio::test]
    async fn packets_of_the_wrong_mode_are_malformed() {
        for (bytes, mode, why) in [
            (vec![], Mode::Tun, "empty frame"),
            (vec![0x45; 10], Mode::Tun, "IP packet shorter than its header"),
            (vec![0x60; 39], Mode::Tun, "IP packet shorter than its header"),
            (vec![0x11; 64], Mode::Tun, "not an IPv4 or IPv6 packet"),
            (vec![0xff; 13], Mode::Tap, "shorter than an Ethernet header"),
        ] {
            let mut wire = header(bytes.len()).to_vec();
            wire.extend_from_slice(&bytes);
            assert_eq!(one(&wire, mode, 1500).await.unwrap(), Frame::Malformed { len: bytes.len(), why });
        }
        let mut wire = header(14).to_vec();
        wire.extend_from_slice(&[0xff; 14]);
        assert!(matches!(one(&wire, Mode::Tap, 1518).await.unwrap(), Frame::Packet(_)));
    }
}
