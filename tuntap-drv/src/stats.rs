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
use tuntap_abi::TunCounters;

use crate::ddi::{DropReason, Errno};
use crate::frame::AddrClass;

#[derive(Default)]
pub struct LinkStats {
    opackets: AtomicU64,
    obytes: AtomicU64,
    ipackets: AtomicU64,
    rbytes: AtomicU64,
    multircv: AtomicU64,
    brdcstrcv: AtomicU64,
    multixmt: AtomicU64,
    brdcstxmt: AtomicU64,
    ierrors: AtomicU64,
    oerrors: AtomicU64,
    norcvbuf: AtomicU64,
    noxmtbuf: AtomicU64,
    unknowns: AtomicU64,
    resolver_replies: AtomicU64,
}

/// Link speed reported as `MAC_STAT_IFSPEED` (bits/s): a software link
/// has none; 10 Gb/s keeps tools that divide by it sane.
pub const IFSPEED: u64 = 10_000_000_000;

impl LinkStats {
    /// A packet from the stack reached a queue.
    pub fn transmitted(&self, bytes: usize, class: AddrClass) {
        self.opackets.fetch_add(1, Relaxed);
        self.obytes.fetch_add(bytes as u64, Relaxed);
        match class {
            AddrClass::Multicast => self.multixmt.fetch_add(1, Relaxed),
            AddrClass::Broadcast => self.brdcstxmt.fetch_add(1, Relaxed),
            AddrClass::Unicast => 0,
        };
    }

    /// A packet written by an application was passed up.
    pub fn received(&self, bytes: usize, class: AddrClass) {
        self.ipackets.fetch_add(1, Relaxed);
        self.rbytes.fetch_add(bytes as u64, Relaxed);
        match class {
            AddrClass::Multicast => self.multircv.fetch_add(1, Relaxed),
            AddrClass::Broadcast => self.brdcstrcv.fetch_add(1, Relaxed),
            AddrClass::Unicast => 0,
        };
    }

    pub fn resolver_reply(&self) {
        self.resolver_replies.fetch_add(1, Relaxed);
    }

    /// Count a drop in the counter its reason belongs to.
    pub fn dropped(&self, reason: DropReason) {
        let c = match reason {
            DropReason::BadWrite | DropReason::TooLong => &self.ierrors,
            DropReason::NoBuffer => &self.norcvbuf,
            DropReason::NoQueue => &self.noxmtbuf,
            DropReason::NotIp => &self.unknowns,
            DropReason::Closing => &self.oerrors,
        };
        c.fetch_add(1, Relaxed);
    }

    /// A packet from the stack dropped because the reader's queue was
    /// full (the old-API DLPI path, which has no flow control).
    pub fn tx_no_buffer(&self) {
        self.noxmtbuf.fetch_add(1, Relaxed);
    }

    /// A packet from the stack that could not be delivered to a reader
    /// (queue gone, allocation failure on the way up).
    pub fn tx_dropped(&self) {
        self.oerrors.fetch_add(1, Relaxed);
    }

    /// `mc_getstat`: the value of a `MAC_STAT_*` / `ETHER_STAT_*` statistic.
    pub fn get(&self, stat: u32) -> Result<u64, Errno> {
        let v = |c: &AtomicU64| Ok(c.load(Relaxed));
        match stat {
            sys::MAC_STAT_IFSPEED => Ok(IFSPEED),
            sys::MAC_STAT_MULTIRCV => v(&self.multircv),
            sys::MAC_STAT_BRDCSTRCV => v(&self.brdcstrcv),
            sys::MAC_STAT_MULTIXMT => v(&self.multixmt),
            sys::MAC_STAT_BRDCSTXMT => v(&self.brdcstxmt),
            sys::MAC_STAT_NORCVBUF => v(&self.norcvbuf),
            sys::MAC_STAT_IERRORS => v(&self.ierrors),
            sys::MAC_STAT_UNKNOWNS => v(&self.unknowns),
            sys::MAC_STAT_NOXMTBUF => v(&self.noxmtbuf),
            sys::MAC_STAT_OERRORS => v(&self.oerrors),
            sys::MAC_STAT_COLLISIONS => Ok(0),
            sys::MAC_STAT_RBYTES => v(&self.rbytes),
            sys::MAC_STAT_IPACKETS => v(&self.ipackets),
            sys::MAC_STAT_OBYTES => v(&self.obytes),
            sys::MAC_STAT_OPACKETS => v(&self.opackets),
            sys::ETHER_STAT_LINK_DUPLEX => Ok(u64::from(sys::LINK_DUPLEX_FULL as u32)),
            _ => Err(sys::ENOTSUP),
        }
    }

    /// The counters as the INFO ioctl reports them.
    pub fn snapshot(&self) -> TunCounters {
        let l = |c: &AtomicU64| c.load(Relaxed);
        TunCounters {
            opackets: l(&self.opackets),
            obytes: l(&self.obytes),
            ipackets: l(&self.ipackets),
            rbytes: l(&self.rbytes),
            multircv: l(&self.multircv),
            brdcstrcv: l(&self.brdcstrcv),
            multixmt: l(&self.multixmt),
            brdcstxmt: l(&self.brdcstxmt),
            ierrors: l(&self.ierrors),
            oerrors: l(&self.oerrors),
            norcvbuf: l(&self.norcvbuf),
            noxmtbuf: l(&self.noxmtbuf),
            unknowns: l(&self.unknowns),
            resolver_replies: l(&self.resolver_replies),
        }
    }
}
