// SPDX-License-Identifier: MPL-2.0
//! The receive-filter primitives of an old-API DLPI stream:
//! `DL_ENABMULTI_REQ` / `DL_DISABMULTI_REQ` (join and leave a multicast
//! group) and `DL_PROMISCON_REQ` / `DL_PROMISCOFF_REQ` (dlpi(4P),
//! `usr/src/uts/common/sys/dlpi.h`).  The filter they change is in
//! `filter.rs`; the link consults it for every written frame.
//!
//! # Theory statement
//!
//! Each request gets exactly one reply, checked in this order: too short
//! for its primitive or for the address it names → `DL_BADPRIM`; stream
//! not attached → `DL_OUTSTATE`; (multicast on a tun stream, which has
//! no link addresses → `DL_NOTSUPPORTED`); an address that is not a
//! 6-byte multicast address → `DL_BADADDR`; a full group list →
//! `DL_TOOMANY`; leaving a group or level that is not on → `DL_NOTENAB`;
//! an unknown level → `DL_NOTSUPPORTED` (as dld's `proto_promiscon_req`
//! and the old driver's `tun_promiscon_req`).  Nothing here takes a link
//! lock or holds a lock while replying.

use illumos_sys_hdrs::dlpi::*;
use illumos_sys_hdrs::queue_t;

use super::filter::{GroupError, Promisc};
use super::prim::{Personality, error_ack, ok_ack, read_req};
use crate::ddi::Kernel;
use crate::driver::Driver;
use crate::frame::MacAddr;
use crate::minor::Minor;

impl<K: Kernel> Driver<K> {
    /// `DL_ENABMULTI_REQ` / `DL_DISABMULTI_REQ` (`dl_enabmulti_req_t`).
    pub(super) fn dl_multi(&self, wq: *mut queue_t, minor: &Minor<K>, prim: u32, req: &[u8]) {
        let k = self.kernel();
        let Some(hdr) = read_req::<dl_enabmulti_req_t>(req) else {
            return error_ack(k, wq, prim, DL_BADPRIM, 0);
        };
        if self.dlpi_link(minor).is_none() {
            return error_ack(k, wq, prim, DL_OUTSTATE, 0);
        }
        if Self::personality(minor) == Personality::Tun {
            return error_ack(k, wq, prim, DL_NOTSUPPORTED, 0);
        }
        let off = hdr.dl_addr_offset as usize;
        let len = hdr.dl_addr_length as usize;
        let Some(addr) = off.checked_add(len).and_then(|end| req.get(off..end)) else {
            return error_ack(k, wq, prim, DL_BADPRIM, 0);
        };
        let Ok(group) = MacAddr::try_from(addr) else {
            return error_ack(k, wq, prim, DL_BADADDR, 0);
        };
        let rx = minor.queue.dlpi_rx();
        let r = if prim == DL_ENABMULTI_REQ { rx.join(&group) } else { rx.leave(&group) };
        if r.is_ok()
            && let Some(relay) = self.dlpi_relay(minor)
        {
            // dls filters by the lower stream's groups (relay.rs step 2).
            relay.forward_filter(prim, Some(&group), 0);
        }
        match r {
            Ok(()) => ok_ack(k, wq, prim),
            Err(GroupError::NotMulticast) => error_ack(k, wq, prim, DL_BADADDR, 0),
            Err(GroupError::TooMany) => error_ack(k, wq, prim, DL_TOOMANY, 0),
            Err(GroupError::NotJoined) => error_ack(k, wq, prim, DL_NOTENAB, 0),
        }
    }

    /// `DL_PROMISCON_REQ` / `DL_PROMISCOFF_REQ` (`dl_promiscon_req_t`).
    pub(super) fn dl_promisc(&self, wq: *mut queue_t, minor: &Minor<K>, prim: u32, req: &[u8]) {
        let k = self.kernel();
        let Some(hdr) = read_req::<dl_promiscon_req_t>(req) else {
            return error_ack(k, wq, prim, DL_BADPRIM, 0);
        };
        if self.dlpi_link(minor).is_none() {
            return error_ack(k, wq, prim, DL_OUTSTATE, 0);
        }
        let Some(level) = Promisc::from_level(hdr.dl_level) else {
            return error_ack(k, wq, prim, DL_NOTSUPPORTED, 0);
        };
        let rx = minor.queue.dlpi_rx();
        let ok = if prim == DL_PROMISCON_REQ {
            rx.promisc_on(level);
            true
        } else {
            rx.promisc_off(level)
        };
        // dls filters by the lower stream's SAP and multicast levels
        // (relay.rs step 2); frames for other stations at DL_PROMISC_PHYS
        // come from the link's write path, as for a stream through mac.
        if ok
            && level != Promisc::Phys
            && let Some(relay) = self.dlpi_relay(minor)
        {
            relay.forward_filter(prim, None, hdr.dl_level);
        }
        if ok { ok_ack(k, wq, prim) } else { error_ack(k, wq, prim, DL_NOTENAB, 0) }
    }
}
