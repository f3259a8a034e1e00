// SPDX-License-Identifier: MPL-2.0
//! Batched reads from the tuntap driver (`TUN_IOC_BATCH`,
//! [`tuntap_abi::batch`]): one read returns a run of framed records,
//! handed out one packet at a time so the daemon's reader takes the
//! whole run as one burst ([`super::Device::try_read_packet`]).
//!
//! The framing is the driver's (tun(4D), "Batched reads and writes"):
//! an 8-byte header, the packet, padding to 4 bytes.  A read the driver
//! framed wrongly is a driver bug: what cannot be parsed is dropped
//! whole (counted by the caller as a read error), never half used.

use tuntap_abi::batch;

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
}
