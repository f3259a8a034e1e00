// SPDX-License-Identifier: MPL-2.0
//! Sealing and opening datagrams: round trips, replays, forgeries,
//! rekeying, sessions and epochs.

use super::*;

const SEED: [u8; 32] = [0x5a; 32];

fn pair(cipher: Cipher, policy: RekeyPolicy) -> (Sealer, Opener) {
    (Sealer::new(cipher, SEED, 77, policy), Opener::new(cipher, SEED, 77))
}

fn seal(s: &mut Sealer, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    s.seal(TYPE_DATA, payload, &mut out);
    out
}

fn open(o: &mut Opener, d: &[u8]) -> Result<Vec<u8>, Reject> {
    let mut buf = d.to_vec();
    let opened = o.open(&mut buf)?;
    Ok(buf[opened.payload].to_vec())
}

#[test]
fn round_trip_with_both_ciphers() {
    for cipher in [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305] {
        let (mut s, mut o) = pair(cipher, RekeyPolicy::DEFAULT);
        for len in [0usize, 1, 20, 1400, 9000] {
            let p: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let d = seal(&mut s, &p);
            assert_eq!(d.len(), p.len() + OVERHEAD);
            if len > 0 {
                assert_ne!(&d[HEADER_LEN..HEADER_LEN + len.min(16)], &p[..len.min(16)], "{cipher}: plaintext visible");
            }
            assert_eq!(open(&mut o, &d).unwrap(), p, "{cipher} len {len}");
        }
        let mut k = Vec::new();
        s.seal(TYPE_KEEPALIVE, &[], &mut k);
        let mut kb = k.clone();
        let opened = o.open(&mut kb).unwrap();
        assert_eq!((opened.kind, opened.payload.len()), (TYPE_KEEPALIVE, 0));
    }
}

#[test]
fn replayed_datagrams_are_refused_and_reordered_ones_accepted() {
    let (mut s, mut o) = pair(Cipher::Aes256Gcm, RekeyPolicy::DEFAULT);
    let ds: Vec<Vec<u8>> = (0..10u8).map(|i| seal(&mut s, &[i; 40])).collect();
    // Deliver in a shuffled order: all accepted once.
    for i in [3usize, 0, 9, 1, 2, 8, 4, 7, 5, 6] {
        assert_eq!(open(&mut o, &ds[i]).unwrap(), vec![i as u8; 40]);
    }
    for d in &ds {
        assert_eq!(open(&mut o, d), Err(Reject::Replayed(Replay::Duplicate)));
    }
}

#[test]
fn any_flipped_bit_is_a_forgery_and_does_not_burn_the_counter() {
    let (mut s, mut o) = pair(Cipher::ChaCha20Poly1305, RekeyPolicy::DEFAULT);
    let d = seal(&mut s, b"\x45 a real packet of some length");
    // Header fields other than the ones checked before decryption
    // (type, reserved, receiver, epoch) are covered by the AAD: the
    // counter; then the ciphertext and the tag.
    for byte in (12..d.len()).step_by(3) {
        let mut f = d.clone();
        f[byte] ^= 0x20;
        assert_eq!(open(&mut o, &f), Err(Reject::Forged), "flipped byte {byte}");
    }
    // A datagram made under another key.
    let mut other = Sealer::new(Cipher::ChaCha20Poly1305, [1; 32], 77, RekeyPolicy::DEFAULT);
    assert_eq!(open(&mut o, &seal(&mut other, b"hello")), Err(Reject::Forged));
    // The genuine datagram still gets in: forgeries never touch the window.
    assert!(open(&mut o, &d).is_ok());
}

#[test]
fn malformed_and_foreign_datagrams() {
    let (mut s, mut o) = pair(Cipher::Aes256Gcm, RekeyPolicy::DEFAULT);
    let d = seal(&mut s, b"payload");
    assert_eq!(open(&mut o, &d[..HEADER_LEN + TAG_LEN - 1]), Err(Reject::Malformed));
    for (byte, value) in [(0usize, 0x03u8), (0, 0), (1, 1), (3, 0x80)] {
        let mut f = d.clone();
        f[byte] = value;
        assert_eq!(open(&mut o, &f), Err(Reject::Malformed), "byte {byte} = {value}");
    }
    let mut f = d.clone();
    f[7] ^= 1;
    assert_eq!(open(&mut o, &f), Err(Reject::OtherSession));
    let mut f = d.clone();
    f[8] = 0x7f;
    assert_eq!(open(&mut o, &f), Err(Reject::UnknownEpoch));
}

#[test]
fn rekey_by_packet_count_is_followed_and_late_packets_of_the_old_epoch_still_open() {
    let policy = RekeyPolicy { packets: 100, time: Duration::from_secs(3600) };
    let (mut s, mut o) = pair(Cipher::Aes256Gcm, policy);
    let mut held = Vec::new();
    let mut rekeys = 0;
    for i in 0..1000u32 {
        let mut d = Vec::new();
        if s.seal(TYPE_DATA, &i.to_be_bytes(), &mut d) {
            rekeys += 1;
        }
        if i % 100 == 99 {
            held.push(d); // the last of each epoch arrives late
            continue;
        }
        let mut b = d.clone();
        let opened = o.open(&mut b).unwrap_or_else(|e| panic!("datagram {i}: {e}"));
        assert_eq!(&b[opened.payload], &i.to_be_bytes());
        assert_eq!(opened.rekeyed, i > 0 && i % 100 == 0, "datagram {i}");
    }
    assert_eq!(rekeys, 9);
    assert_eq!((s.epoch(), o.epoch()), (9, 9));
    // Only the previous epoch's key is kept.
    let last = held.pop().unwrap();
    assert_eq!(open(&mut o, &last).unwrap(), 999u32.to_be_bytes());
    let before = held.pop().unwrap();
    assert_eq!(open(&mut o, &before).unwrap(), 899u32.to_be_bytes());
    assert_eq!(open(&mut o, &held[0]), Err(Reject::UnknownEpoch));
}

#[test]
fn rekey_by_time_and_lost_epochs_are_skipped() {
    let policy = RekeyPolicy { packets: 3, time: Duration::from_millis(30) };
    let (mut s, mut o) = pair(Cipher::ChaCha20Poly1305, policy);
    assert!(open(&mut o, &seal(&mut s, b"a")).is_ok());
    std::thread::sleep(Duration::from_millis(40));
    let mut d = Vec::new();
    assert!(s.seal(TYPE_DATA, b"b", &mut d), "the key aged out");
    assert!(open(&mut o, &d).is_ok());
    assert_eq!(o.epoch(), 1);
    // Lose every datagram of epochs 2 and 3 (3 each): epoch 4 still opens.
    for _ in 0..2 + 3 + 3 {
        seal(&mut s, b"lost");
    }
    assert_eq!(s.epoch(), 3, "the next datagram starts epoch 4");
    assert_eq!(open(&mut o, &seal(&mut s, b"c")).unwrap(), b"c");
    assert_eq!(o.epoch(), 4);
    // Beyond MAX_EPOCHS_AHEAD the receiver cannot follow.
    for _ in 0..3 * (MAX_EPOCHS_AHEAD as usize + 1) {
        seal(&mut s, b"lost");
    }
    assert_eq!(open(&mut o, &seal(&mut s, b"d")), Err(Reject::UnknownEpoch));
}
