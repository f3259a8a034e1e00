// SPDX-License-Identifier: MPL-2.0
//! Batched reads and writes on the tuntap driver (`TUN_IOC_BATCH`,
//! [`tuntap_abi::batch`]): one read returns a run of framed records,
//! handed out one packet at a time so the daemon's reader takes the
//! whole run as one burst ([`super::Device::try_read_packet`]); a
//! [`WriteBatch`] gathers packets into one write
//! ([`super::Device::queue_packet`], [`super::Device::flush`]).
//!
//! The framing is the driver's (tun(4D), "Batched reads and writes"):
//! an 8-byte header, the packet, padding to 4 bytes.  A read the driver
//! framed wrongly is a driver bug: what cannot be parsed is dropped
//! whole (counted by the caller as a read error), never half used.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tuntap_abi::batch::{self, TunIocBatch, TunRecord};

use super::{DeviceError, Flushed};

/// The records of the last batched read not yet handed out.
#[derive(Default)]
pub struct Records {
    buf: Vec<u8>,
    /// (offset, length) of each record still to hand out, in order.
    spans: Vec<(usize, usize)>,
    next: usize,
}

impl Records {
    /// Take a batched read; Err if its framing is broken (nothing kept).
    pub fn fill(&mut self, read: Vec<u8>) -> Result<(), String> {
        self.spans.clear();
        self.next = 0;
        batch::check_records(&read, batch::RECORD_MAX_LEN).map_err(|(e, i)| format!("badly framed batched read ({e:?} at record {i})"))?;
        self.spans.extend(batch::records(&read));
        self.buf = read;
        Ok(())
    }

    /// Take a batched read from a queue with the virtio-net header on:
    /// each record is turned into the packets it stands for
    /// ([`super::gso::expand`]: checksums finished, large segments cut;
    /// `l2` bytes of link header).  Err if the framing is broken (nothing
    /// kept); Ok(records whose header did not describe their packet,
    /// dropped).
    pub fn fill_offload(&mut self, read: Vec<u8>, tap: bool) -> Result<u64, String> {
        self.fill(read)?;
        let spans = std::mem::take(&mut self.spans);
        let mut out = Vec::with_capacity(self.buf.len() + self.buf.len() / 8);
        let mut dropped = 0;
        for (at, len) in spans {
            let Some((hdr, packet)) = self.buf.get(at..at + len).and_then(super::gso::header) else {
                dropped += 1;
                continue;
            };
            let spans = &mut self.spans;
            let emit = &mut |p: &[u8]| {
                spans.push((out.len(), p.len()));
                out.extend_from_slice(p);
            };
            // A tap frame's Ethernet header, with one 802.1Q tag or none.
            let l2 = match (tap, packet.get(12..14)) {
                (false, _) => 0,
                (true, Some([0x81, 0x00])) => 18,
                (true, _) => 14,
            };
            if super::gso::expand(&hdr, packet, l2, emit).is_err() {
                dropped += 1;
            }
        }
        self.buf = out;
        Ok(dropped)
    }

    /// Records not handed out yet.
    pub fn remaining(&self) -> usize {
        self.spans.len().saturating_sub(self.next)
    }

    /// Copy the next packet into `out`: its length (cut to `out`), or None
    /// when every record was handed out.
    pub fn next(&mut self, out: &mut [u8]) -> Option<usize> {
        let &(at, len) = self.spans.get(self.next)?;
        self.next += 1;
        let packet = self.buf.get(at..at + len)?;
        let n = len.min(out.len());
        out.get_mut(..n)?.copy_from_slice(packet.get(..n)?);
        Some(n)
    }
}

/// Packets gathered for one batched write: records of at most
/// [`batch::WRITE_MAX`] bytes in all.
pub struct WriteBatch {
    buf: Vec<u8>,
    /// Bytes of `buf` in use.
    used: usize,
    packets: u64,
    bytes: u64,
    /// The largest record the queue takes (its largest packet plus the
    /// headers this queue puts in front).
    record_max: usize,
}

impl WriteBatch {
    /// An empty batch for a queue whose records carry at most
    /// `record_max` bytes.
    pub fn new(record_max: usize) -> WriteBatch {
        WriteBatch { buf: vec![0u8; batch::WRITE_MAX], used: 0, packets: 0, bytes: 0, record_max }
    }

    /// Would a record of `len` bytes ever fit (the driver refuses a whole
    /// batch with an oversize record, so such a packet is dropped alone)?
    pub fn takes(&self, len: usize) -> bool {
        len > 0 && len <= self.record_max
    }

    /// Append a record of `prefix` then `packet`; false if the batch has
    /// no room left for it (write it first).
    pub fn push(&mut self, prefix: &[u8], packet: &[u8]) -> bool {
        let len = prefix.len() + packet.len();
        let start = self.used + batch::RECORD_HDR_LEN;
        let end = start + len;
        let next = end + batch::record_pad(len);
        let Ok(len32) = u32::try_from(len) else { return false };
        if next.min(self.buf.len()) < end || end > self.buf.len() {
            return false;
        }
        let header = TunRecord { len: len32, flags: 0, _pad: 0 };
        let parts: [(usize, &[u8]); 3] = [(self.used, tuntap_abi::as_bytes(&header)), (start, prefix), (start + prefix.len(), packet)];
        for (at, part) in parts {
            if let Some(dst) = self.buf.get_mut(at..at + part.len()) {
                dst.copy_from_slice(part);
            }
        }
        let next = next.min(self.buf.len());
        if let Some(pad) = self.buf.get_mut(end..next) {
            pad.fill(0);
        }
        self.used = next;
        self.packets += 1;
        self.bytes += packet.len() as u64;
        true
    }

    /// Packets in the batch.
    pub fn len(&self) -> u64 {
        self.packets
    }

    /// Nothing gathered.
    pub fn is_empty(&self) -> bool {
        self.packets == 0
    }

    /// The bytes to write (the last record's padding left off).
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.used).unwrap_or_default()
    }

    /// Empty the batch after a write: what it carried (`ok`) or lost.
    pub fn take(&mut self, ok: bool) -> Flushed {
        let (packets, bytes) = (self.packets, self.bytes);
        self.used = 0;
        self.packets = 0;
        self.bytes = 0;
        if ok { Flushed { packets, bytes, ..Flushed::default() } } else { Flushed { lost: packets, ..Flushed::default() } }
    }
}

/// How often a batching queue asks the driver whether it refused
/// batched writes (`TUN_IOC_BATCH` again: its `refused` count); between
/// asks a write costs one system call.
pub const REFUSAL_CHECK: Duration = Duration::from_millis(100);

/// The write side of a batching queue: packets gathered in a
/// [`WriteBatch`], written when it is full or flushed, and the driver's
/// count of refused batches followed.  A backend passes its `write` (one
/// system call) and `status` (`TUN_IOC_BATCH` with the flags in force).
pub struct BatchWriter {
    state: Mutex<WriterState>,
    /// Put in front of every packet (the virtio-net header, when on).
    prefix: &'static [u8],
}

struct WriterState {
    batch: WriteBatch,
    /// The driver's `refused` when last asked, and when that was.
    refused: u32,
    checked: Instant,
    /// Batched writes done (system calls), for tests and benchmarks.
    writes: u64,
}

impl BatchWriter {
    /// For a queue whose packets are at most `packet_max` bytes, each
    /// written behind `prefix`.
    pub fn new(packet_max: usize, prefix: &'static [u8]) -> BatchWriter {
        let batch = WriteBatch::new(packet_max + prefix.len());
        BatchWriter { state: Mutex::new(WriterState { batch, refused: 0, checked: Instant::now(), writes: 0 }), prefix }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, WriterState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Batched writes done so far.
    pub fn writes(&self) -> u64 {
        self.state().writes
    }

    /// Add `packet`; a full batch is written first.
    pub fn queue(&self, packet: &[u8], write: impl Fn(&[u8]) -> Result<(), DeviceError>) -> Flushed {
        let mut st = self.state();
        if !st.batch.takes(packet.len() + self.prefix.len()) {
            let e = std::io::Error::other(format!("a {}-byte packet is longer than the queue takes", packet.len()));
            return Flushed { lost: 1, error: Some(DeviceError::Io(e)), ..Flushed::default() };
        }
        let mut done = Flushed::default();
        if !st.batch.push(self.prefix, packet) {
            done = Self::write(&mut st, &write);
            st.batch.push(self.prefix, packet);
        }
        done
    }

    /// Write what is gathered; every [`REFUSAL_CHECK`], ask the driver
    /// whether it refused batches since.
    pub fn flush(&self, write: impl Fn(&[u8]) -> Result<(), DeviceError>, status: impl Fn() -> Option<TunIocBatch>) -> Flushed {
        let mut st = self.state();
        let mut done = if st.batch.is_empty() { Flushed::default() } else { Self::write(&mut st, &write) };
        if st.checked.elapsed() >= REFUSAL_CHECK {
            st.checked = Instant::now();
            if let Some(s) = status() {
                let new = s.refused.wrapping_sub(st.refused);
                st.refused = s.refused;
                if new > 0 {
                    done.refused_batches += u64::from(new);
                    let why = format!("the driver refused {new} batched writes (last: error {} at record {})", s.last_error, s.last_record);
                    done.error = Some(DeviceError::Io(std::io::Error::other(why)));
                }
            }
        }
        done
    }

    /// Write `packet` now, with whatever was gathered before it (a
    /// backend's one-packet `write_packet`).
    pub fn write_now(&self, packet: &[u8], write: impl Fn(&[u8]) -> Result<(), DeviceError>, status: impl Fn() -> Option<TunIocBatch>) -> Result<(), DeviceError> {
        let mut done = self.queue(packet, &write);
        done.merge(self.flush(&write, status));
        match done.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn write(st: &mut WriterState, write: &impl Fn(&[u8]) -> Result<(), DeviceError>) -> Flushed {
        st.writes += 1;
        let result = write(st.batch.bytes());
        let mut done = st.batch.take(result.is_ok());
        done.error = result.err();
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_out_in_order_and_bad_framing_keeps_nothing() {
        let packets: [&[u8]; 3] = [&[0x45; 21], &[0x60; 40], &[0x45; 1]];
        let mut buf = vec![0u8; 200];
        let mut at = 0;
        for p in packets {
            at = batch::put_record(&mut buf, at, p).unwrap();
        }
        buf.truncate(at);
        let mut r = Records::default();
        r.fill(buf.clone()).unwrap();
        let mut out = [0u8; 64];
        for p in packets {
            let n = r.next(&mut out).unwrap();
            assert_eq!(&out[..n], p);
        }
        assert_eq!(r.next(&mut out), None);
        // Cut in the middle of the last record: refused whole.
        assert!(r.fill(buf[..buf.len() - 4].to_vec()).is_err());
        assert_eq!(r.next(&mut out), None);
        let mut broken = buf.clone();
        broken[4] = 1; // reserved flags
        assert!(r.fill(broken).is_err());
        assert_eq!(r.next(&mut out), None, "nothing of a broken read is handed out");
    }

    #[test]
    fn a_write_batch_is_what_the_driver_checks_and_stops_at_its_bound() {
        let mut w = WriteBatch::new(1600);
        assert!(w.push(&[9; 10], &[0x45; 21]) && w.push(&[], &[0x60; 40]));
        assert_eq!(batch::check_records(w.bytes(), 1600), Ok(2));
        let got: Vec<&[u8]> = batch::records(w.bytes()).map(|(o, l)| &w.bytes()[o..o + l]).collect();
        assert_eq!(got[0], [&[9u8; 10][..], &[0x45; 21][..]].concat().as_slice());
        assert_eq!(got[1], &[0x60; 40][..]);
        assert!(w.takes(1600) && !w.takes(1601) && !w.takes(0));
        let f = w.take(true);
        assert_eq!((f.packets, f.bytes, f.lost), (2, 61, 0));
        let mut n = 0;
        while w.push(&[], &[0x45; 1500]) {
            n += 1;
        }
        assert_eq!(n, batch::WRITE_MAX / 1508, "full at WRITE_MAX");
        assert_eq!(w.take(false).lost, n as u64);
        assert!(w.is_empty());
    }
}
