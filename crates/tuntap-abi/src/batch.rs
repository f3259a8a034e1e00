// SPDX-License-Identifier: MPL-2.0
//! Many packets per system call: the record framing of batched reads and
//! writes on a queue, and [`TunIocBatch`], which turns them on.
//!
//! # Format
//!
//! A batched read returns, and a batched write carries, a sequence of
//! *records*.  Each record is a [`TunRecord`] header (8 bytes, native
//! byte order) followed by `len` bytes of packet, exactly what a
//! one-packet read or write on the same queue would carry (with its
//! packet-information or virtio-net header, when those are on).  The next
//! record starts at the next multiple of [`RECORD_ALIGN`] (4) bytes from
//! the start of the buffer; the bytes skipped are zero on reads and must
//! be zero on writes.  The last record need not be followed by padding.
//!
//! A batched read returns as many whole records as fit in
//! [`TunIocBatch::read_max`] bytes (the reader must read with a buffer at
//! least that large) and never splits a record.  A batched write is
//! checked whole before any of it is used: a header cut short, a record
//! running past the end of the write, an empty or oversize record,
//! non-zero reserved bits or padding refuse the **whole** write (nothing
//! is delivered; the queue counts it, see [`TunIocBatch::refused`]).  A
//! well-framed record whose packet is not valid for the link is dropped
//! and counted on its own, like a bad one-packet write; the others go on.

use crate::limits::MTU_MAX;
use crate::wire::Pod;

/// Queue: turn batched reads/writes on or off.  Payload [`TunIocBatch`]
/// in/out.  (Numbered with the other new-API commands in lib.rs.)
pub use crate::TUN_IOC_BATCH;

/// The header in front of each record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunRecord {
    /// Bytes of packet after this header (not counting padding).
    pub len: u32,
    /// Reserved: 0.
    pub flags: u16,
    /// Reserved: 0.
    pub _pad: u16,
}

// SAFETY: #[repr(C)], integer fields only, no implicit padding.
unsafe impl Pod for TunRecord {}

/// Size of [`TunRecord`].
pub const RECORD_HDR_LEN: usize = 8;
/// Records start at multiples of this many bytes.
pub const RECORD_ALIGN: usize = 4;

/// The largest packet a record may carry: an IP packet of [`MTU_MAX`]
/// bytes with the largest link header (Ethernet + VLAN tag), packet
/// information and virtio-net header in front.
pub const RECORD_MAX_LEN: usize = MTU_MAX as usize + 18 + 4 + 12;

/// Bounds and default of [`TunIocBatch::read_max`]: a batch always has
/// room for one largest record.
pub const READ_MAX_MIN: u32 = 72 * 1024;
pub const READ_MAX_MAX: u32 = 1024 * 1024;
pub const READ_MAX_DEFAULT: u32 = 128 * 1024;
/// The largest batched write: the driver raises the stream's maximum
/// packet size (`SO_MAXPSZ`) to this when batched writes go on, so a
/// write up to this size reaches it as one message.  A longer write is
/// cut by the stream head and its parts are refused.
pub const WRITE_MAX: usize = 256 * 1024;

/// [`TunIocBatch::flags`].
pub mod batch_flags {
    /// Reads return batches of records.
    pub const READ: u32 = 0x1;
    /// Writes carry batches of records.
    pub const WRITE: u32 = 0x2;
    pub const ALL: u32 = READ | WRITE;
}

/// Turn batching on or off for the queue (in: `version`, `flags`,
/// `read_max`, 0 = the default; the rest 0).  Out: the settings in force
/// and the refused-write counters.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunIocBatch {
    pub version: u32,
    pub flags: u32,
    pub read_max: u32,
    /// Out: batched writes refused whole since the queue was opened.
    pub refused: u32,
    /// Out: why the last one was refused ([`BatchError::code`]), 0 if none.
    pub last_error: u32,
    /// Out: the index of the record at fault in it.
    pub last_record: u32,
}

// SAFETY: #[repr(C)], integer fields only, no implicit padding.
unsafe impl Pod for TunIocBatch {}

/// Why a batched write was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// Fewer than [`RECORD_HDR_LEN`] bytes left for a header.
    TruncatedHeader,
    /// The record runs past the end of the write.
    TruncatedRecord,
    /// A record of length 0.
    Empty,
    /// A record longer than the queue's largest packet (the MTU plus the
    /// queue's headers; with the virtio-net header on, the largest IP
    /// packet, since a record may carry a large segment).
    Oversize,
    /// Reserved header bits or padding bytes not zero.
    Reserved,
    /// A write with no record at all.
    NoRecords,
}

impl BatchError {
    /// The value reported in [`TunIocBatch::last_error`].
    pub const fn code(self) -> u32 {
        match self {
            BatchError::TruncatedHeader => 1,
            BatchError::TruncatedRecord => 2,
            BatchError::Empty => 3,
            BatchError::Oversize => 4,
            BatchError::Reserved => 5,
            BatchError::NoRecords => 6,
        }
    }
}

/// Padding after a record of `len` bytes.
pub const fn record_pad(len: usize) -> usize {
    (RECORD_ALIGN - len % RECORD_ALIGN) % RECORD_ALIGN
}

fn read_header(buf: &[u8], at: usize) -> Option<TunRecord> {
    let b = buf.get(at..at.checked_add(RECORD_HDR_LEN)?)?;
    let len = u32::from_ne_bytes([*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)?]);
    let flags = u16::from_ne_bytes([*b.get(4)?, *b.get(5)?]);
    let pad = u16::from_ne_bytes([*b.get(6)?, *b.get(7)?]);
    Some(TunRecord { len, flags, _pad: pad })
}

/// Check a whole batched write: `Ok(records)`, or the first fault and the
/// index of its record.  `max_len` bounds each record's packet.
pub fn check_records(buf: &[u8], max_len: usize) -> Result<usize, (BatchError, u32)> {
    let mut at = 0usize;
    let mut n = 0u32;
    while at < buf.len() {
        let Some(h) = read_header(buf, at) else { return Err((BatchError::TruncatedHeader, n)) };
        if h.flags != 0 || h._pad != 0 {
            return Err((BatchError::Reserved, n));
        }
        let len = h.len as usize;
        if len == 0 {
            return Err((BatchError::Empty, n));
        }
        if len > max_len {
            return Err((BatchError::Oversize, n));
        }
        let start = at + RECORD_HDR_LEN;
        let Some(end) = start.checked_add(len).filter(|&e| e <= buf.len()) else {
            return Err((BatchError::TruncatedRecord, n));
        };
        let next = end.saturating_add(record_pad(len)).min(buf.len());
        if buf.get(end..next).is_some_and(|p| p.iter().any(|&b| b != 0)) {
            return Err((BatchError::Reserved, n));
        }
        at = next;
        n = n.saturating_add(1);
    }
    if n == 0 { Err((BatchError::NoRecords, 0)) } else { Ok(n as usize) }
}

/// The packets of a batch [`check_records`] accepted, in order: each
/// item is the (offset, length) of one packet in `buf`.
pub fn records(buf: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut at = 0usize;
    core::iter::from_fn(move || {
        let h = read_header(buf, at)?;
        let start = at.checked_add(RECORD_HDR_LEN)?;
        let len = h.len as usize;
        if len == 0 || start.checked_add(len)? > buf.len() {
            return None;
        }
        at = start + len + record_pad(len);
        Some((start, len))
    })
}

/// Append one record holding `packet` at `at` in `buf` (userland's side
/// of a batched write); returns where the next record starts, or `None`
/// if it does not fit or `packet` is empty.
pub fn put_record(buf: &mut [u8], at: usize, packet: &[u8]) -> Option<usize> {
    if packet.is_empty() {
        return None;
    }
    let start = at.checked_add(RECORD_HDR_LEN)?;
    let end = start.checked_add(packet.len())?;
    let next = end.checked_add(record_pad(packet.len()))?;
    let len = u32::try_from(packet.len()).ok()?;
    let hdr = buf.get_mut(at..start)?;
    hdr.copy_from_slice(crate::as_bytes(&TunRecord { len, flags: 0, _pad: 0 }));
    buf.get_mut(start..end)?.copy_from_slice(packet);
    if let Some(p) = buf.get_mut(end..next.min(buf.len())) {
        p.fill(0);
    }
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        assert_eq!(core::mem::size_of::<TunRecord>(), RECORD_HDR_LEN);
        assert_eq!(core::mem::size_of::<TunIocBatch>(), 24);
        assert!(RECORD_MAX_LEN + RECORD_HDR_LEN <= READ_MAX_MIN as usize);
    }

    #[test]
    fn round_trip_and_faults() {
        let mut buf = [0u8; 256];
        let mut at = 0;
        for p in [&[1u8, 2, 3][..], &[4u8; 8][..], &[5u8][..]] {
            at = put_record(&mut buf, at, p).unwrap();
        }
        let w = &buf[..at - record_pad(1)];
        assert_eq!(check_records(w, 100), Ok(3));
        let mut got = records(w).map(|(o, l)| &w[o..o + l]);
        assert_eq!(got.next(), Some(&[1u8, 2, 3][..]));
        assert_eq!(got.next(), Some(&[4u8; 8][..]));
        assert_eq!(got.next(), Some(&[5u8][..]));
        assert_eq!(got.next(), None);
        assert_eq!(check_records(&w[..w.len() - 1], 100), Err((BatchError::TruncatedRecord, 2)));
        assert_eq!(check_records(&w[..12 + 4], 100), Err((BatchError::TruncatedHeader, 1)));
        assert_eq!(check_records(w, 7), Err((BatchError::Oversize, 1)));
        assert_eq!(check_records(&[], 7), Err((BatchError::NoRecords, 0)));
        let mut bad = [0u8; 256];
        let bad = &mut bad[..w.len()];
        bad.copy_from_slice(w);
        bad[11] = 9; // padding after the first record
        assert_eq!(check_records(bad, 100), Err((BatchError::Reserved, 0)));
        bad.copy_from_slice(w);
        bad[4] = 1; // flags
        assert_eq!(check_records(bad, 100), Err((BatchError::Reserved, 0)));
        bad.copy_from_slice(w);
        bad[..4].fill(0);
        assert_eq!(check_records(bad, 100), Err((BatchError::Empty, 0)));
    }
}
