// SPDX-License-Identifier: MPL-2.0
//! Key schedule of the data channel (PROTOCOL.md, "Keys").
//!
//! Both ends draw 64 bytes from the TLS 1.3 exporter (RFC 8446 §7.5,
//! rustls `export_keying_material`) with [`EXPORTER_LABEL`] and a
//! context binding both session indices and the cipher; the first half
//! seeds the client-to-server chain, the second the server-to-client
//! chain.  Each chain is a ratchet: from secret `S_e` of epoch `e`,
//! HKDF-Expand-SHA256 (RFC 5869) gives the AEAD key, the nonce base and
//! `S_{e+1}`; `S_e` is then dropped, so a key that leaks later does not
//! open the traffic of earlier epochs.

use ring::aead::{self, LessSafeKey, UnboundKey};
use ring::hkdf;

use super::Cipher;

/// TLS exporter label (RFC 8446 §7.5: an application-chosen label).
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-tunneld-data-v1";
/// Bytes drawn from the exporter: two 32-byte chain seeds.
pub const EXPORTER_LEN: usize = 64;
/// HKDF info strings of the ratchet.
pub const INFO_KEY: &[u8] = b"tunneld v1 key";
pub const INFO_IV: &[u8] = b"tunneld v1 iv";
pub const INFO_NEXT: &[u8] = b"tunneld v1 next";
/// Length of every chain secret and AEAD key (both ciphers use 256 bits).
pub const SECRET_LEN: usize = 32;
/// Length of the nonce (both ciphers: 96 bits).
pub const NONCE_LEN: usize = aead::NONCE_LEN;

/// The exporter context: client index, server index (big endian), cipher id.
pub fn exporter_context(client_index: u32, server_index: u32, cipher: Cipher) -> [u8; 9] {
    let mut c = [0u8; 9];
    c[..4].copy_from_slice(&client_index.to_be_bytes());
    c[4..8].copy_from_slice(&server_index.to_be_bytes());
    c[8] = cipher.id();
    c
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn expand<const N: usize>(secret: &[u8; SECRET_LEN], info: &[u8]) -> [u8; N] {
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, secret);
    let mut out = [0u8; N];
    // HKDF-Expand fails only for outputs longer than 255 hash lengths;
    // N is 12 or 32.
    if let Ok(okm) = prk.expand(&[info], Len(N)) {
        let _ = okm.fill(&mut out);
    }
    out
}

/// The keys of one epoch of one direction.
pub struct EpochKey {
    pub epoch: u32,
    key: LessSafeKey,
    iv: [u8; NONCE_LEN],
}

impl EpochKey {
    /// The nonce of `counter`: the epoch's IV XOR the counter, right-aligned.
    pub fn nonce(&self, counter: u64) -> aead::Nonce {
        let mut n = self.iv;
        for (b, c) in n[NONCE_LEN - 8..].iter_mut().zip(counter.to_be_bytes()) {
            *b ^= c;
        }
        aead::Nonce::assume_unique_for_key(n)
    }

    pub fn key(&self) -> &LessSafeKey {
        &self.key
    }
}

/// One direction's ratchet: the secret of the next epoch not yet used.
#[derive(Clone)]
pub struct Chain {
    cipher: Cipher,
    next_epoch: u32,
    next_secret: [u8; SECRET_LEN],
}

impl Chain {
    pub fn new(cipher: Cipher, seed: [u8; SECRET_LEN]) -> Chain {
        Chain { cipher, next_epoch: 0, next_secret: seed }
    }

    /// The keys of the next epoch; the chain moves past it.
    pub fn advance(&mut self) -> EpochKey {
        let s = self.next_secret;
        let key_bytes: [u8; SECRET_LEN] = expand(&s, INFO_KEY);
        let iv: [u8; NONCE_LEN] = expand(&s, INFO_IV);
        self.next_secret = expand(&s, INFO_NEXT);
        let epoch = self.next_epoch;
        self.next_epoch = self.next_epoch.wrapping_add(1);
        let alg = match self.cipher {
            Cipher::Aes256Gcm => &aead::AES_256_GCM,
            Cipher::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
        };
        // Both algorithms take exactly SECRET_LEN-byte keys.
        let unbound = UnboundKey::new(alg, &key_bytes).unwrap_or_else(|_| unreachable_key());
        EpochKey { epoch, key: LessSafeKey::new(unbound), iv }
    }
}

#[cold]
fn unreachable_key() -> UnboundKey {
    // ring refuses a key only for a wrong length, and both ciphers take
    // 32 bytes; keep a defined value rather than panicking.
    UnboundKey::new(&aead::CHACHA20_POLY1305, &[0u8; SECRET_LEN]).unwrap_or_else(|_| unreachable_key())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_differ_and_both_ends_agree() {
        let mut a = Chain::new(Cipher::Aes256Gcm, [7; 32]);
        let mut b = Chain::new(Cipher::Aes256Gcm, [7; 32]);
        let (a0, a1) = (a.advance(), a.advance());
        let (b0, b1) = (b.advance(), b.advance());
        assert_eq!((a0.epoch, a1.epoch), (0, 1));
        assert_eq!(a0.iv, b0.iv);
        assert_eq!(a1.iv, b1.iv);
        assert_ne!(a0.iv, a1.iv, "each epoch has its own nonce base");
        let mut other = Chain::new(Cipher::Aes256Gcm, [8; 32]);
        assert_ne!(other.advance().iv, a0.iv, "another seed, other keys");
    }

    #[test]
    fn nonce_is_iv_xor_counter() {
        let mut c = Chain::new(Cipher::ChaCha20Poly1305, [1; 32]);
        let k = c.advance();
        let n0 = *k.nonce(0).as_ref();
        assert_eq!(n0, k.iv);
        let n = *k.nonce(0x0102).as_ref();
        assert_eq!(n[..10], k.iv[..10]);
        assert_eq!(n[10], k.iv[10] ^ 1);
        assert_eq!(n[11], k.iv[11] ^ 2);
    }
}
