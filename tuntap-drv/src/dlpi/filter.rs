// SPDX-License-Identifier: MPL-2.0
//! What one old-API DLPI stream receives: its bound SAP, its
//! promiscuous levels and the multicast groups it joined.  Below the
//! link (whose write path asks [`RxFilter::wants_tap_frame`] /
//! [`RxFilter::wants_tun_packet`] for every attached DLPI stream) and the
//! DLPI state machine (which changes it); it knows neither.
//!
//! # Theory statement
//!
//! A DLPI provider passes up to a stream only what the stream asked for
//! (dlpi(4P); `usr/src/uts/common/sys/dlpi.h`): frames of its bound SAP
//! addressed to the unit, to the broadcast address or to a multicast
//! group the stream enabled with `DL_ENABMULTI_REQ`.  `DL_PROMISCON_REQ`
//! widens that per level: `DL_PROMISC_PHYS` takes every destination,
//! `DL_PROMISC_SAP` every SAP, `DL_PROMISC_MULTI` every multicast group.
//! A frame whose source is the unit's own address is a reflection of
//! something the unit sent and is never passed up.  This is the old
//! driver's receive rule (kaizawa/tuntap `tun.c`, `tun_frame_is_eligible`:
//! SAP, own source, own destination, broadcast, group bit) made exact:
//! that driver passed every multicast frame whatever the stream joined,
//! which is what IP's `DL_ENABMULTI_REQ` exists to avoid.
//!
//! A tun unit has no link addresses: a packet goes to the streams bound
//! to its SAP (0x0800 or 0x86dd) and to the `DL_PROMISC_SAP` streams.
//!
//! **Locks.**  The SAP and the levels are atomics; the group list is a
//! leaf mutex held only to copy or search a fixed array (the data path
//! never allocates here, and no other lock is taken under it).

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::ddi::Kernel;
use crate::frame::{self, AddrClass, MacAddr};
use crate::sync::KMutex;

/// Multicast groups one stream may join (`DL_TOOMANY` beyond).  IP joins
/// a handful per interface (all-hosts, solicited-node, all-routers).
pub const MAX_GROUPS: usize = 32;

/// No SAP bound.
const NO_SAP: u32 = u32::MAX;

/// A promiscuous level of `DL_PROMISCON_REQ` / `DL_PROMISCOFF_REQ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Promisc {
    /// `DL_PROMISC_PHYS`: every destination address.
    Phys,
    /// `DL_PROMISC_SAP`: every SAP.
    Sap,
    /// `DL_PROMISC_MULTI`: every multicast group.
    Multi,
}

impl Promisc {
    /// The level named by `dl_level` (dlpi.h `DL_PROMISC_*`), if known.
    pub fn from_level(level: u32) -> Option<Self> {
        use illumos_sys_hdrs::dlpi::{DL_PROMISC_MULTI, DL_PROMISC_PHYS, DL_PROMISC_SAP};
        match level {
            DL_PROMISC_PHYS => Some(Self::Phys),
            DL_PROMISC_SAP => Some(Self::Sap),
            DL_PROMISC_MULTI => Some(Self::Multi),
            _ => None,
        }
    }

    fn bit(self) -> u32 {
        match self {
            Self::Phys => 1,
            Self::Sap => 2,
            Self::Multi => 4,
        }
    }
}

/// Why a group could not be joined or left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupError {
    /// Not a multicast address (`DL_BADADDR`).
    NotMulticast,
    /// The list is full (`DL_TOOMANY`).
    TooMany,
    /// Leaving a group never joined (`DL_NOTENAB`).
    NotJoined,
}

struct Groups {
    addrs: [MacAddr; MAX_GROUPS],
    len: usize,
}

impl Groups {
    fn joined(&self) -> &[MacAddr] {
        self.addrs.get(..self.len).unwrap_or(&[])
    }
}

pub struct RxFilter<K: Kernel> {
    bound_sap: AtomicU32,
    promisc: AtomicU32,
    groups: KMutex<K, Groups>,
    /// The stream receives through its own mac client (`mac_client.rs`):
    /// the link's write path leaves its frames to mac, and only the
    /// client's rx callback consults this filter.
    via_mac: AtomicBool,
}

impl<K: Kernel> RxFilter<K> {
    pub fn new() -> Self {
        Self {
            bound_sap: AtomicU32::new(NO_SAP),
            promisc: AtomicU32::new(0),
            groups: KMutex::new(Groups { addrs: [[0; frame::ETHER_ADDR_LEN]; MAX_GROUPS], len: 0 }),
            via_mac: AtomicBool::new(false),
        }
    }

    /// The Ethertype bound with `DL_BIND_REQ`, while in `DL_IDLE`.
    pub fn bound_sap(&self) -> Option<u16> {
        u16::try_from(self.bound_sap.load(Ordering::Acquire)).ok()
    }

    pub fn set_bound_sap(&self, sap: Option<u16>) {
        self.bound_sap.store(sap.map_or(NO_SAP, u32::from), Ordering::Release);
    }

    /// Turn a level on; `false` if it already was.
    pub fn promisc_on(&self, level: Promisc) -> bool {
        self.promisc.fetch_or(level.bit(), Ordering::AcqRel) & level.bit() == 0
    }

    /// Turn a level off; `false` if it was not on (`DL_NOTENAB`).
    pub fn promisc_off(&self, level: Promisc) -> bool {
        self.promisc.fetch_and(!level.bit(), Ordering::AcqRel) & level.bit() != 0
    }

    fn promisc(&self, level: Promisc) -> bool {
        self.promisc.load(Ordering::Acquire) & level.bit() != 0
    }

    /// `DL_ENABMULTI_REQ`.  Joining a group twice is not an error (the
    /// group stays once).
    pub fn join(&self, group: &MacAddr) -> Result<(), GroupError> {
        if frame::classify(group) != AddrClass::Multicast {
            return Err(GroupError::NotMulticast);
        }
        let mut g = self.groups.lock();
        if g.joined().contains(group) {
            return Ok(());
        }
        let at = g.len;
        match g.addrs.get_mut(at) {
            Some(slot) => {
                *slot = *group;
                g.len = at + 1;
                Ok(())
            }
            None => Err(GroupError::TooMany),
        }
    }

    /// `DL_DISABMULTI_REQ`.
    pub fn leave(&self, group: &MacAddr) -> Result<(), GroupError> {
        let mut g = self.groups.lock();
        let Some(i) = g.joined().iter().position(|a| a == group) else {
            return Err(GroupError::NotJoined);
        };
        let last = g.len - 1;
        g.addrs.swap(i, last);
        g.len = last;
        Ok(())
    }

    /// Forget everything (`DL_DETACH_REQ`, close): a stream attached
    /// again starts with no groups, no levels and no SAP.
    pub fn reset(&self) {
        self.set_bound_sap(None);
        self.promisc.store(0, Ordering::Release);
        self.groups.lock().len = 0;
    }

    /// Is this stream bound to `sap`?  A frame of a SAP some DLPI stream
    /// is bound to belongs to old-API IP, not to mac.
    /// A stream that receives through mac claims nothing here.
    pub fn claims(&self, sap: u16) -> bool {
        !self.via_mac() && self.bound_sap() == Some(sap)
    }

    /// Mark the stream as receiving through its own mac client (bind)
    /// or not (unbind, or no client could be opened).
    pub fn set_via_mac(&self, on: bool) {
        self.via_mac.store(on, Ordering::Release);
    }

    /// Clear the mark; was it set?
    pub fn take_via_mac(&self) -> bool {
        self.via_mac.swap(false, Ordering::AcqRel)
    }

    pub fn via_mac(&self) -> bool {
        self.via_mac.load(Ordering::Acquire)
    }

    fn wants_sap(&self, sap: u16) -> bool {
        self.bound_sap() == Some(sap) || self.promisc(Promisc::Sap)
    }

    /// A tun unit's packet of type `sap` (it has no link addresses),
    /// offered by the link's write path (never for a stream that
    /// receives through mac).
    pub fn wants_tun_packet(&self, sap: u16) -> bool {
        !self.via_mac() && self.wants_sap(sap)
    }

    /// A frame written on a tap unit whose address is `own`, offered by
    /// the link's write path.  A stream that receives through mac gets
    /// from here only what mac's classification never gives its client:
    /// unicast for other stations, at `DL_PROMISC_PHYS` (dld would add a
    /// `mac_promisc_add` callback for that level; our client has none).
    pub fn wants_tap_frame(&self, own: &MacAddr, dst: &MacAddr, src: &MacAddr, sap: u16) -> bool {
        if self.via_mac() {
            return self.promisc(Promisc::Phys)
                && dst != own
                && frame::classify(dst) == AddrClass::Unicast
                && self.takes_tap_frame(own, dst, src, sap);
        }
        self.takes_tap_frame(own, dst, src, sap)
    }

    /// What mac's rx callback asks for a tun packet (`mac_client.rs`).
    pub fn takes_tun_packet(&self, sap: u16) -> bool {
        self.wants_sap(sap)
    }

    /// What mac's rx callback asks for a tap frame: the dlpi(4P) rule.
    pub fn takes_tap_frame(&self, own: &MacAddr, dst: &MacAddr, src: &MacAddr, sap: u16) -> bool {
        if !self.wants_sap(sap) || src == own {
            return false;
        }
        if dst == own || self.promisc(Promisc::Phys) {
            return true;
        }
        match frame::classify(dst) {
            AddrClass::Broadcast => true,
            AddrClass::Multicast => self.promisc(Promisc::Multi) || self.groups.lock().joined().contains(dst),
            AddrClass::Unicast => false,
        }
    }
}

impl<K: Kernel> Default for RxFilter<K> {
    fn default() -> Self {
        Self::new()
    }
}
