// SPDX-License-Identifier: MPL-2.0
//! The data channel: tunnel packets in UDP datagrams sealed with an
//! AEAD (PROTOCOL.md, "Data datagrams").
//!
//! ```text
//!  0      1      2      3      4             8             12                     20
//! +------+------+------+------+-------------+-------------+----------------------+------------+-----+
//! | type |   0  |   0  |   0  | receiver    | key epoch   | counter              | ciphertext | tag |
//! +------+------+------+------+-------------+-------------+----------------------+------------+-----+
//! ```
//!
//! All integers big endian.  `type` is [`TYPE_DATA`] (a tunnel packet)
//! or [`TYPE_KEEPALIVE`] (empty plaintext); `receiver` is the session
//! index the receiving end chose; the 20-byte header is the AEAD's
//! associated data; the nonce is the epoch's IV XOR the counter
//! ([`keys::EpochKey::nonce`]); the tag is 16 bytes.
//!
//! [`Sealer`] is one direction's sending side (counter, rekey when the
//! epoch reaches its packet or time limit), [`Opener`] the receiving
//! side (header checks, replay window, decryption, following the
//! sender's epochs).

pub mod keys;
pub mod replay;

use std::fmt;
use std::time::{Duration, Instant};

use ring::aead::{Aad, Tag};

use keys::{Chain, EpochKey, SECRET_LEN};
use replay::{Replay, ReplayWindow};

/// A tunnel packet follows.
pub const TYPE_DATA: u8 = 0x01;
/// Nothing follows: "I am alive" (sent when idle, answered by nothing).
pub const TYPE_KEEPALIVE: u8 = 0x02;
/// Bytes of header in front of the ciphertext.
pub const HEADER_LEN: usize = 20;
/// Bytes of AEAD tag after the ciphertext (both ciphers).
pub const TAG_LEN: usize = 16;
/// What a datagram adds to the packet it carries.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// How many epochs ahead of the current one a datagram may be (the
/// sender rekeyed while every datagram of the epochs between was lost).
pub const MAX_EPOCHS_AHEAD: u32 = 4;
/// How long the previous epoch's key still opens late datagrams after
/// the sender moved on.
pub const PREVIOUS_EPOCH_GRACE: Duration = Duration::from_secs(10);

/// The data channel's AEAD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub enum Cipher {
    /// AES-256-GCM (NIST SP 800-38D).
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
    /// ChaCha20-Poly1305 (RFC 8439).
    #[serde(rename = "chacha20-poly1305")]
    ChaCha20Poly1305,
}

impl Cipher {
    /// The cipher's number on the wire (PROTOCOL.md, "Hello").
    pub fn id(self) -> u8 {
        match self {
            Cipher::Aes256Gcm => 1,
            Cipher::ChaCha20Poly1305 => 2,
        }
    }

    pub fn from_id(id: u8) -> Option<Cipher> {
        match id {
            1 => Some(Cipher::Aes256Gcm),
            2 => Some(Cipher::ChaCha20Poly1305),
            _ => None,
        }
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cipher::Aes256Gcm => "aes-256-gcm",
            Cipher::ChaCha20Poly1305 => "chacha20-poly1305",
        })
    }
}

/// When the sender moves to the next epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RekeyPolicy {
    /// Datagrams sealed under one key.
    pub packets: u64,
    /// Age of a key.
    pub time: Duration,
}

impl RekeyPolicy {
    /// 2^24 datagrams: under RFC 8446 §5.5's limit for AES-GCM
    /// (2^24.5 full-size records per key); two minutes.
    pub const DEFAULT: RekeyPolicy = RekeyPolicy { packets: 1 << 24, time: Duration::from_secs(120) };
}

fn header(kind: u8, receiver: u32, epoch: u32, counter: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = kind;
    h[4..8].copy_from_slice(&receiver.to_be_bytes());
    h[8..12].copy_from_slice(&epoch.to_be_bytes());
    h[12..20].copy_from_slice(&counter.to_be_bytes());
    h
}

/// The sending side of one direction.
pub struct Sealer {
    chain: Chain,
    current: EpochKey,
    counter: u64,
    since: Instant,
    receiver: u32,
    policy: RekeyPolicy,
}

impl Sealer {
    /// `seed`: this direction's half of the exporter output; `receiver`:
    /// the peer's session index.
    pub fn new(cipher: Cipher, seed: [u8; SECRET_LEN], receiver: u32, policy: RekeyPolicy) -> Sealer {
        let mut chain = Chain::new(cipher, seed);
        let current = chain.advance();
        Sealer { chain, current, counter: 0, since: Instant::now(), receiver, policy }
    }

    /// Seal `payload` as a datagram of `kind` into `out` (cleared
    /// first).  True when this datagram is the first of a new epoch.
    pub fn seal(&mut self, kind: u8, payload: &[u8], out: &mut Vec<u8>) -> bool {
        let rekeyed = self.counter >= self.policy.packets || self.since.elapsed() >= self.policy.time;
        if rekeyed {
            self.current = self.chain.advance();
            self.counter = 0;
            self.since = Instant::now();
        }
        let head = header(kind, self.receiver, self.current.epoch, self.counter);
        out.clear();
        out.reserve(HEADER_LEN + payload.len() + TAG_LEN);
        out.extend_from_slice(&head);
        out.extend_from_slice(payload);
        let nonce = self.current.nonce(self.counter);
        self.counter += 1;
        let body = out.get_mut(HEADER_LEN..).unwrap_or_default();
        // Sealing fails only for plaintexts beyond the cipher's limit
        // (~2^36 bytes), far above any datagram.
        let tag = self
            .current
            .key()
            .seal_in_place_separate_tag(nonce, Aad::from(head), body)
            .unwrap_or_else(|_| Tag::from([0u8; TAG_LEN]));
        out.extend_from_slice(tag.as_ref());
        rekeyed
    }

    /// The epoch in use.
    pub fn epoch(&self) -> u32 {
        self.current.epoch
    }
}

/// Why a datagram was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// Shorter than a header and a tag, an unknown type, or nonzero
    /// reserved bytes: not a datagram of ours.
    Malformed,
    /// Addressed to another session index (an old session, or not ours).
    OtherSession,
    /// A key epoch this end has no key for (long gone, or too far ahead).
    UnknownEpoch,
    /// A counter already accepted, or too old to tell.
    Replayed(Replay),
    /// Did not authenticate: forged, corrupted, or under another key.
    Forged,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reject::Malformed => "malformed datagram",
            Reject::OtherSession => "datagram for another session",
            Reject::UnknownEpoch => "datagram under an unknown key epoch",
            Reject::Replayed(Replay::Duplicate) => "replayed datagram",
            Reject::Replayed(Replay::TooOld) => "datagram older than the replay window",
            Reject::Forged => "datagram failed authentication",
        })
    }
}

/// An authenticated datagram.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    pub kind: u8,
    /// Where the plaintext lies in the buffer given to [`Opener::open`].
    pub payload: std::ops::Range<usize>,
    /// This datagram moved the receiver to a newer epoch.
    pub rekeyed: bool,
}

struct RxEpoch {
    key: EpochKey,
    window: ReplayWindow,
}

/// The receiving side of one direction.
pub struct Opener {
    /// Ratchet positioned at the epoch after `current`.
    chain: Chain,
    current: RxEpoch,
    /// The epoch before `current` and when it was replaced.
    previous: Option<(RxEpoch, Instant)>,
    index: u32,
}

impl Opener {
    /// `seed`: the peer's sending half of the exporter output; `index`:
    /// our session index (datagrams must carry it).
    pub fn new(cipher: Cipher, seed: [u8; SECRET_LEN], index: u32) -> Opener {
        let mut chain = Chain::new(cipher, seed);
        let key = chain.advance();
        Opener { chain, current: RxEpoch { key, window: ReplayWindow::default() }, previous: None, index }
    }

    /// Check and decrypt `datagram` in place.
    pub fn open(&mut self, datagram: &mut [u8]) -> Result<Opened, Reject> {
        if datagram.len() < HEADER_LEN + TAG_LEN {
            return Err(Reject::Malformed);
        }
        let (head, body) = datagram.split_at_mut(HEADER_LEN);
        let field = |r: std::ops::Range<usize>| head.get(r).unwrap_or_default();
        let kind = head.first().copied().unwrap_or(0);
        if !(kind == TYPE_DATA || kind == TYPE_KEEPALIVE) || field(1..4) != [0, 0, 0] {
            return Err(Reject::Malformed);
        }
        let be32 = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap_or([0; 4]));
        if be32(field(4..8)) != self.index {
            return Err(Reject::OtherSession);
        }
        let epoch = be32(field(8..12));
        let counter = u64::from_be_bytes(field(12..20).try_into().unwrap_or([0; 8]));
        let aad: [u8; HEADER_LEN] = head.try_into().unwrap_or([0; HEADER_LEN]);
        let current = self.current.key.epoch;

        let previous_live = self
            .previous
            .as_ref()
            .is_some_and(|(p, since)| p.key.epoch == epoch && since.elapsed() < PREVIOUS_EPOCH_GRACE);
        let (len, rekeyed) = if epoch == current || previous_live {
            let rx = if epoch == current {
                &mut self.current
            } else {
                match self.previous.as_mut() {
                    Some((p, _)) => p,
                    None => return Err(Reject::UnknownEpoch),
                }
            };
            rx.window.check(counter).map_err(Reject::Replayed)?;
            let plain = rx.key.key().open_in_place(rx.key.nonce(counter), Aad::from(aad), body).map_err(|_| Reject::Forged)?;
            let len = plain.len();
            rx.window.accept(counter);
            (len, false)
        } else if epoch > current && epoch - current <= MAX_EPOCHS_AHEAD {
            // The sender moved on: try the key of that epoch without
            // committing to it until the datagram authenticates.
            let mut trial = self.chain.clone();
            let mut key = trial.advance();
            while key.epoch < epoch {
                key = trial.advance();
            }
            let plain = key.key().open_in_place(key.nonce(counter), Aad::from(aad), body).map_err(|_| Reject::Forged)?;
            let len = plain.len();
            let mut window = ReplayWindow::default();
            window.accept(counter);
            let old = std::mem::replace(&mut self.current, RxEpoch { key, window });
            self.previous = Some((old, Instant::now()));
            self.chain = trial;
            (len, true)
        } else {
            return Err(Reject::UnknownEpoch);
        };
        Ok(Opened { kind, payload: HEADER_LEN..HEADER_LEN + len, rekeyed })
    }

    /// The newest epoch the peer has used.
    pub fn epoch(&self) -> u32 {
        self.current.key.epoch
    }
}

#[cfg(test)]
mod tests;
