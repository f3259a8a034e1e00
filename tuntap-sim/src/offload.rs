// SPDX-License-Identifier: MPL-2.0
//! The mblk offload metadata, modelled on illumos-gate.
//!
//! `mac_hcksum_get`, `mac_hcksum_set` and `mac_lso_get`
//! (`usr/src/uts/common/io/mac/mac_provider.c`) keep a packet's
//! checksum-offload state in its data block: the `HCK_*` flags
//! (`usr/src/uts/common/sys/pattr.h`) and `HW_LSO` in `DB_CKSUMFLAGS`
//! (`db_struioun.cksum.flags`), the offsets in `DB_CKSUMSTART`/`STUFF`/
//! `END`, the 16-bit value in `DB_CKSUM16`, and the LSO MSS in
//! `DB_LSOMSS` (`db_struioun.cksum.pad`), all in
//! `usr/src/uts/common/sys/strsubr.h`.  The simulator's blocks have the
//! real `dblk_t` layout, so these read and write the same fields, and
//! enforce what those functions `ASSERT`: the block is `M_DATA`.
//! `get` masks the flags to `HCK_FLAGS` and reports the offsets only
//! for a partial checksum, as `mac_hcksum_get` does.

use std::panic::Location;
use std::sync::Arc;

use illumos_sys_hdrs::{
    HCK_FULLCKSUM, HCK_FULLCKSUM_OK, HCK_IPV4_HDRCKSUM, HCK_PARTIALCKSUM, HW_LSO, M_DATA, mblk_t,
};
use tuntap_drv::ddi::Hcksum;

use crate::host::{HostShared, ViolationKind};
use crate::mblk;

const HCK_FLAGS: u32 = HCK_IPV4_HDRCKSUM | HCK_PARTIALCKSUM | HCK_FULLCKSUM | HCK_FULLCKSUM_OK;

fn check(host: &Arc<HostShared>, mp: *const mblk_t, what: &str, loc: &Location<'_>) -> bool {
    if mblk::check_msg(host, mp.cast_mut(), what, false, loc).is_err() {
        return false;
    }
    if mblk::db_type(mp) != M_DATA {
        host.record_at(ViolationKind::BadMessage, format!("{what} on a message of type {:#x}, not M_DATA", mblk::db_type(mp)), loc);
        return false;
    }
    true
}

pub(crate) fn hcksum_get(host: &Arc<HostShared>, mp: *const mblk_t, loc: &Location<'_>) -> Hcksum {
    if !check(host, mp, "mac_hcksum_get", loc) {
        return Hcksum::default();
    }
    // SAFETY: a live M_DATA block (checked); the cksum view is integers.
    unsafe {
        let db = &*(*mp).b_datap;
        let flags = u32::from(db.db_struioun.cksum.flags) & HCK_FLAGS;
        let mut h = Hcksum { flags, ..Default::default() };
        if flags & (HCK_PARTIALCKSUM | HCK_FULLCKSUM) != 0 {
            h.value = u32::from(db.db_struioun.cksum.cksum_val.u16_);
        }
        if flags & HCK_PARTIALCKSUM != 0 {
            h.start = db.db_cksumstart as u32;
            h.stuff = db.db_cksumstuff as u32;
            h.end = db.db_cksumend as u32;
        }
        h
    }
}

pub(crate) fn hcksum_set(host: &Arc<HostShared>, mp: *mut mblk_t, h: Hcksum, loc: &Location<'_>) {
    if !check(host, mp, "mac_hcksum_set", loc) {
        return;
    }
    // SAFETY: a live M_DATA block (checked).
    unsafe {
        let db = &mut *(*mp).b_datap;
        db.db_cksumstart = h.start as isize;
        db.db_cksumstuff = h.stuff as isize;
        db.db_cksumend = h.end as isize;
        db.db_struioun.cksum.flags = h.flags as u16;
        db.db_struioun.cksum.cksum_val.u16_ = h.value as u16;
    }
}

pub(crate) fn lso_get(host: &Arc<HostShared>, mp: *mut mblk_t, loc: &Location<'_>) -> Option<u32> {
    if !check(host, mp, "mac_lso_get", loc) {
        return None;
    }
    // SAFETY: a live M_DATA block (checked).
    unsafe {
        let db = &*(*mp).b_datap;
        (u32::from(db.db_struioun.cksum.flags) & HW_LSO != 0).then(|| u32::from(db.db_struioun.cksum.pad))
    }
}

/// What IP leaves on a packet it sends with offload (`ip_output_cksum_v4`
/// and `ip_output_cksum_v6`, `usr/src/uts/common/inet/ip/ip_output.c` and
/// `ip6_output.c`; `tcp_send` sets `HW_LSO` and the MSS through
/// `lso_info_set`, `usr/src/uts/common/inet/tcp/tcp_output.c`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxOffload {
    /// Partial checksum: offsets from the IP header.
    pub partial: Option<(u32, u32, u32)>,
    /// Large segment: the MSS.
    pub lso_mss: Option<u16>,
}

/// Put `o` on the first block of a frame the simulated IP sends.
pub(crate) fn apply(mp: *mut mblk_t, o: TxOffload) {
    // SAFETY: the caller's fresh M_DATA block.
    unsafe {
        let db = &mut *(*mp).b_datap;
        let mut flags = 0u16;
        if let Some((start, stuff, end)) = o.partial {
            db.db_cksumstart = start as isize;
            db.db_cksumstuff = stuff as isize;
            db.db_cksumend = end as isize;
            flags |= HCK_PARTIALCKSUM as u16;
        }
        if let Some(mss) = o.lso_mss {
            flags |= HW_LSO as u16;
            db.db_struioun.cksum.pad = mss;
        }
        db.db_struioun.cksum.flags = flags;
    }
}
