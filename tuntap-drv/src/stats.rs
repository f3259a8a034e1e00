// SPDX-License-Identifier: MPL-2.0
//! Per-link counters for `mc_getstat` and the INFO ioctl.
//!
//! Theory statement.  Counters are relaxed atomics: the data path bumps
//! them without a lock, so they never serialise it, and readers see each
//! counter exactly (no torn values) though not a snapshot of all at once.
//! From mac's point of view "receive" (ipackets, rbytes) is what the
//! driver hands to `mac_rx` (packets applications write) and "transmit"
//! (opackets, obytes) is what `mc_tx` delivered to a queue.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use illumos_sys_hdrs as sys;
use tuntap_abi::{Counter, TunCounters};

use crate::ddi::{DropReason, Errno};
use crate::frame::AddrClass;

/// One relaxed atomic per [`Counter`], indexed by it.
pub struct LinkStats {
    counts: [AtomicU64; Counter::COUNT],
}

impl Default for LinkStats {
    fn default() -> Self {
        Self { counts: core::array::from_fn(|_| AtomicU64::new(0)) }
    }
}

/// Link speed reported as `MAC_STAT_IFSPEED` (bits/s): a software link
/// has none; 10 Gb/s keeps tools that divide by it sane.
pub const IFSPEED: u64 = 10_000_000_000;

impl LinkStats {
    fn add(&self, c: Counter, n: u64) {
        if let Some(a) = self.counts.get(c as usize) {
            a.fetch_add(n, Relaxed);
        }
    }

    fn value(&self, c: Counter) -> u64 {
        self.counts.get(c as usize).map_or(0, |a| a.load(Relaxed))
    }

    /// A packet from the stack reached a queue.
    pub fn transmitted(&self, bytes: usize, class: AddrClass) {
        self.add(Counter::Opackets, 1);
        self.add(Counter::Obytes, bytes as u64);
        match class {
            AddrClass::Multicast => self.add(Counter::Multixmt, 1),
            AddrClass::Broadcast => self.add(Counter::Brdcstxmt, 1),
            AddrClass::Unicast => {}
        }
    }

    /// `n` unicast packets of `bytes` in all reached a queue.
    pub fn transmitted_many(&self, n: usize, bytes: usize) {
        if n > 0 {
            self.add(Counter::Opackets, n as u64);
            self.add(Counter::Obytes, bytes as u64);
        }
    }

    /// A packet written by an application was passed up.
    pub fn received(&self, bytes: usize, class: AddrClass) {
        self.add(Counter::Ipackets, 1);
        self.add(Counter::Rbytes, bytes as u64);
        match class {
            AddrClass::Multicast => self.add(Counter::Multircv, 1),
            AddrClass::Broadcast => self.add(Counter::Brdcstrcv, 1),
            AddrClass::Unicast => {}
        }
    }

    /// `n` packets of `bytes` in all were passed up in one chain;
    /// `classes` counts them by [`AddrClass`] (unicast, multicast,
    /// broadcast).
    pub fn received_many(&self, n: usize, bytes: usize, classes: [u32; 3]) {
        let [_, multi, broad] = classes;
        self.add(Counter::Ipackets, n as u64);
        self.add(Counter::Rbytes, bytes as u64);
        if multi > 0 {
            self.add(Counter::Multircv, u64::from(multi));
        }
        if broad > 0 {
            self.add(Counter::Brdcstrcv, u64::from(broad));
        }
    }

    pub fn resolver_reply(&self) {
        self.add(Counter::ResolverReplies, 1);
    }

    /// Count a drop in the counter its reason belongs to.
    pub fn dropped(&self, reason: DropReason) {
        let c = match reason {
            DropReason::BadWrite | DropReason::TooLong | DropReason::BadOffload => Counter::Ierrors,
            DropReason::NoBuffer => Counter::Norcvbuf,
            DropReason::NoQueue => Counter::Noxmtbuf,
            DropReason::NotIp => Counter::Unknowns,
            DropReason::Closing => Counter::Oerrors,
        };
        self.add(c, 1);
    }

    /// A packet from the stack dropped because the reader's queue was
    /// full (the old-API DLPI path, which has no flow control).
    pub fn tx_no_buffer(&self) {
        self.add(Counter::Noxmtbuf, 1);
    }

    /// A packet from the stack that could not be delivered to a reader
    /// (queue gone, allocation failure on the way up).
    pub fn tx_dropped(&self) {
        self.add(Counter::Oerrors, 1);
    }

    /// `mc_getstat`: the value of a `MAC_STAT_*` / `ETHER_STAT_*` statistic.
    pub fn get(&self, stat: u32) -> Result<u64, Errno> {
        let v = |c: Counter| Ok(self.value(c));
        match stat {
            sys::MAC_STAT_IFSPEED => Ok(IFSPEED),
            sys::MAC_STAT_MULTIRCV => v(Counter::Multircv),
            sys::MAC_STAT_BRDCSTRCV => v(Counter::Brdcstrcv),
            sys::MAC_STAT_MULTIXMT => v(Counter::Multixmt),
            sys::MAC_STAT_BRDCSTXMT => v(Counter::Brdcstxmt),
            sys::MAC_STAT_NORCVBUF => v(Counter::Norcvbuf),
            sys::MAC_STAT_IERRORS => v(Counter::Ierrors),
            sys::MAC_STAT_UNKNOWNS => v(Counter::Unknowns),
            sys::MAC_STAT_NOXMTBUF => v(Counter::Noxmtbuf),
            sys::MAC_STAT_OERRORS => v(Counter::Oerrors),
            sys::MAC_STAT_COLLISIONS => Ok(0),
            sys::MAC_STAT_RBYTES => v(Counter::Rbytes),
            sys::MAC_STAT_IPACKETS => v(Counter::Ipackets),
            sys::MAC_STAT_OBYTES => v(Counter::Obytes),
            sys::MAC_STAT_OPACKETS => v(Counter::Opackets),
            sys::ETHER_STAT_LINK_DUPLEX => Ok(u64::from(sys::LINK_DUPLEX_FULL as u32)),
            _ => Err(sys::ENOTSUP),
        }
    }

    /// The counters as the INFO ioctl reports them.
    pub fn snapshot(&self) -> TunCounters {
        TunCounters::from_fn(|c| self.value(c))
    }
}
