// SPDX-License-Identifier: MPL-2.0
//! Message blocks: real `mblk_t`/`dblk_t` with reference counts, a
//! quarantine for freed blocks, and leak accounting.
//!
//! Theory statement.  Every `mblk_t` the simulator hands out is the first
//! field of a `#[repr(C)]` [`SimMblk`] whose header carries a magic word
//! (live or freed) and a weak reference to its host; every `dblk_t` is the
//! first field of a [`SimDblk`] that owns the data buffer.  So
//! `freemsg(mp)` finds the owning host from the block itself.  `allocb`
//! sets `db_base`/`db_lim`, `db_ref = 1`, `db_type = M_DATA` and
//! `b_rptr = b_wptr = db_base` as the kernel does; `freeb` decrements
//! `db_ref` and frees the data block at zero.
//!
//! Freed blocks are poisoned (data bytes `0xdb`) and kept in a FIFO
//! quarantine of [`QUARANTINE`] entries before their memory is reused, so
//! a double free or a freed block handed over again is seen (magic word)
//! instead of corrupting another message.  Memory is returned only when
//! the host is dropped; blocks still live then are leaked on purpose (a
//! late `freemsg` on them must read valid memory).
//!
//! Messages crossing an interface (putnext, qreply, mac_rx, a returned tx
//! chain) are checked by `check_msg`: live blocks of this host, read
//! and write pointers inside `[db_base, db_lim]` with `b_rptr <= b_wptr`,
//! no `b_next`/`b_prev` on a single message, no loops.
//!
//! Locks: the host's `blocks` registry mutex, taken last.

use std::collections::{HashMap, VecDeque};
use std::panic::Location;
use std::ptr;
use std::sync::{Arc, Weak};

use illumos_sys_hdrs::{M_DATA, dblk_t, mblk_t};

use crate::host::{HostShared, ViolationKind, lock};

const MBLK_LIVE: u64 = 0x4d42_4c4b_4c49_5645;
const MBLK_FREED: u64 = 0x4d42_4c4b_4652_4545;
const DBLK_LIVE: u64 = 0x4442_4c4b_4c49_5645;
const DBLK_FREED: u64 = 0x4442_4c4b_4652_4545;

/// Freed blocks kept poisoned before their memory is reused.
pub const QUARANTINE: usize = 4096;
/// Longest `b_cont` or `b_next` chain the checks walk before calling it a
/// loop.
pub const MAX_CHAIN: usize = 1 << 16;

/// A message pointer that may travel between threads with its owner.
pub(crate) struct MsgPtrs(pub *mut mblk_t);
// SAFETY: messages move between threads with their ownership.
unsafe impl Send for MsgPtrs {}

/// An `mblk_t` with the simulator's header.
#[repr(C)]
pub struct SimMblk {
    pub mblk: mblk_t,
    magic: u64,
    host: Weak<HostShared>,
}

/// A `dblk_t` with its data buffer.
#[repr(C)]
pub struct SimDblk {
    pub dblk: dblk_t,
    magic: u64,
    buf: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct AllocInfo {
    pub size: usize,
    pub seq: u64,
}

/// The block registry of one host.
#[derive(Default)]
pub(crate) struct Registry {
    pub live: HashMap<usize, AllocInfo>,
    pub allocated: u64,
    quarantine_m: VecDeque<*mut SimMblk>,
    pool_m: Vec<*mut SimMblk>,
    quarantine_d: VecDeque<*mut SimDblk>,
    pool_d: Vec<*mut SimDblk>,
}

impl Drop for Registry {
    fn drop(&mut self) {
        for m in self.quarantine_m.drain(..).chain(self.pool_m.drain(..)) {
            // SAFETY: freed blocks are owned by the registry alone.
            drop(unsafe { Box::from_raw(m) });
        }
        for d in self.quarantine_d.drain(..).chain(self.pool_d.drain(..)) {
            // SAFETY: as above.
            drop(unsafe { Box::from_raw(d) });
        }
    }
}

fn zeroed_mblk() -> mblk_t {
    // SAFETY: mblk_t is raw pointers and integers; all-zero is valid.
    unsafe { std::mem::zeroed() }
}

fn zeroed_dblk() -> dblk_t {
    // SAFETY: dblk_t is raw pointers, integers, Option<fn> and unions of
    // integers; all-zero is valid (None for the function pointers).
    unsafe { std::mem::zeroed() }
}

/// `allocb(size, BPRI_MED)` on `host`.
pub(crate) fn allocb(host: &Arc<HostShared>, size: usize) -> *mut mblk_t {
    let mut reg = lock(&host.blocks);
    let d = reg.pool_d.pop().unwrap_or_else(|| {
        Box::into_raw(Box::new(SimDblk { dblk: zeroed_dblk(), magic: 0, buf: Vec::new() }))
    });
    let m = reg.pool_m.pop().unwrap_or_else(|| {
        Box::into_raw(Box::new(SimMblk { mblk: zeroed_mblk(), magic: 0, host: Weak::new() }))
    });
    // SAFETY: d and m are simulator-owned, not live, not shared.
    unsafe {
        (*d).buf.clear();
        (*d).buf.resize(size, 0xa5);
        let base = (*d).buf.as_mut_ptr();
        (*d).dblk = zeroed_dblk();
        (*d).dblk.db_base = base;
        (*d).dblk.db_lim = base.add(size);
        (*d).dblk.db_ref = 1;
        (*d).dblk.db_type = M_DATA;
        (*d).dblk.db_mblk = m.cast();
        (*d).magic = DBLK_LIVE;
        (*m).mblk = zeroed_mblk();
        (*m).mblk.b_rptr = base;
        (*m).mblk.b_wptr = base;
        (*m).mblk.b_datap = d.cast();
        (*m).magic = MBLK_LIVE;
        (*m).host = Arc::downgrade(host);
    }
    reg.allocated += 1;
    let seq = reg.allocated;
    reg.live.insert(m as usize, AllocInfo { size, seq });
    m.cast()
}

/// `dupb(mp)`: a new mblk sharing `mp`'s data block (`db_ref + 1`).
/// Null when `db_ref` is at its maximum.
pub(crate) fn dupb(host: &Arc<HostShared>, mp: *mut mblk_t) -> *mut mblk_t {
    // SAFETY: mp is a live block the caller holds.
    unsafe {
        let d = (*mp).b_datap;
        if u32::from((*d).db_ref) >= illumos_sys_hdrs::DBLK_REFMAX {
            return ptr::null_mut();
        }
        let mut reg = lock(&host.blocks);
        let m = reg.pool_m.pop().unwrap_or_else(|| {
            Box::into_raw(Box::new(SimMblk { mblk: zeroed_mblk(), magic: 0, host: Weak::new() }))
        });
        (*d).db_ref += 1;
        (*m).mblk = zeroed_mblk();
        (*m).mblk.b_rptr = (*mp).b_rptr;
        (*m).mblk.b_wptr = (*mp).b_wptr;
        (*m).mblk.b_datap = d;
        (*m).mblk.b_band = (*mp).b_band;
        (*m).mblk.b_flag = (*mp).b_flag;
        (*m).magic = MBLK_LIVE;
        (*m).host = Arc::downgrade(host);
        reg.allocated += 1;
        let seq = reg.allocated;
        reg.live.insert(m as usize, AllocInfo { size: 0, seq });
        m.cast()
    }
}

/// `dupmsg(mp)`: dup every block of the `b_cont` chain.
pub(crate) fn dupmsg(host: &Arc<HostShared>, mp: *mut mblk_t) -> *mut mblk_t {
    let mut head: *mut mblk_t = ptr::null_mut();
    let mut tail: *mut mblk_t = ptr::null_mut();
    let mut b = mp;
    while !b.is_null() {
        let n = dupb(host, b);
        if n.is_null() {
            free_here(head);
            return ptr::null_mut();
        }
        if tail.is_null() {
            head = n;
        } else {
            // SAFETY: tail is a block we just made.
            unsafe { (*tail).b_cont = n };
        }
        tail = n;
        // SAFETY: b is a block of the caller's live message.
        b = unsafe { (*b).b_cont };
    }
    head
}

/// Allocate a one-block message of type `ty` holding `data` after
/// `headroom` free bytes.
pub(crate) fn alloc_msg(host: &Arc<HostShared>, ty: u8, headroom: usize, data: &[u8]) -> *mut mblk_t {
    let mp = allocb(host, headroom + data.len());
    // SAFETY: fresh block of the asked size.
    unsafe {
        (*(*mp).b_datap).db_type = ty;
        (*mp).b_rptr = (*mp).b_rptr.add(headroom);
        ptr::copy_nonoverlapping(data.as_ptr(), (*mp).b_rptr, data.len());
        (*mp).b_wptr = (*mp).b_rptr.add(data.len());
    }
    mp
}

/// The data of one block, clamped to its data buffer (so a block with
/// bad pointers, already reported, is never read out of bounds).
///
/// # Safety
/// `b` is a live simulator block.
pub(crate) unsafe fn block_bytes<'a>(b: *const mblk_t) -> &'a [u8] {
    // SAFETY: the caller guarantees b is live; we read only inside
    // [db_base, db_lim).
    unsafe {
        let d = (*b).b_datap;
        let base = (*d).db_base as usize;
        let lim = (*d).db_lim as usize;
        let r = ((*b).b_rptr as usize).clamp(base, lim);
        let w = ((*b).b_wptr as usize).clamp(r, lim);
        if w == r {
            return &[];
        }
        std::slice::from_raw_parts(r as *const u8, w - r)
    }
}

/// All data bytes of a message (every block of the `b_cont` chain).
pub(crate) fn msg_bytes(mp: *const mblk_t) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = mp;
    let mut n = 0;
    while !b.is_null() && n < MAX_CHAIN {
        // SAFETY: the message was checked by the caller.
        unsafe {
            out.extend_from_slice(block_bytes(b));
            b = (*b).b_cont;
        }
        n += 1;
    }
    out
}

/// `msgdsize`-like: bytes in every block of the chain.
pub(crate) fn msg_len(mp: *const mblk_t) -> usize {
    let mut len = 0;
    let mut b = mp;
    let mut n = 0;
    while !b.is_null() && n < MAX_CHAIN {
        // SAFETY: as msg_bytes.
        unsafe {
            len += block_bytes(b).len();
            b = (*b).b_cont;
        }
        n += 1;
    }
    len
}

/// `DB_TYPE(mp)`.
pub(crate) fn db_type(mp: *const mblk_t) -> u8 {
    // SAFETY: the message was checked by the caller.
    unsafe { (*(*mp).b_datap).db_type }
}

/// `msgpullup(mp, -1)`.
pub(crate) fn msgpullup(host: &Arc<HostShared>, mp: *mut mblk_t) -> *mut mblk_t {
    if check_msg(host, mp, "msgpullup", true, Location::caller()).is_err() {
        return ptr::null_mut();
    }
    let data = msg_bytes(mp);
    alloc_msg(host, db_type(mp), 0, &data)
}

/// Free a message the simulator owns (no host lookup needed).
pub(crate) fn free_here(mp: *mut mblk_t) {
    if !mp.is_null() {
        // SAFETY: the simulator owns mp.
        unsafe { freemsg_any(mp, Location::caller()) }
    }
}

/// Header of a block, if it carries one of our magic words.
///
/// # Safety
/// `mp` points to memory at least as large as a [`SimMblk`] (any block
/// the simulator ever handed out, live or freed).
unsafe fn header(mp: *mut mblk_t) -> (u64, Option<Arc<HostShared>>) {
    let s = mp.cast::<SimMblk>();
    // SAFETY: per the contract; the host field is only read when the
    // magic word says the header is ours.
    unsafe {
        let magic = ptr::read_volatile(&raw const (*s).magic);
        if magic == MBLK_LIVE || magic == MBLK_FREED {
            (magic, (*s).host.upgrade())
        } else {
            (magic, None)
        }
    }
}

/// `freemsg`: free every block of the `b_cont` chain.  Finds the host from
/// the block header.
///
/// # Safety
/// `mp` was handed out by a simulator host.
pub(crate) unsafe fn freemsg_any(mp: *mut mblk_t, loc: &Location<'_>) {
    let mut b = mp;
    let mut n = 0;
    while !b.is_null() && n < MAX_CHAIN {
        // SAFETY: forwarded.
        b = match unsafe { freeb(b, loc) } {
            Some(next) => next,
            None => return,
        };
        n += 1;
    }
}

/// `freeb`: free one block; returns its `b_cont`, or None when the block
/// could not be freed (a violation was recorded).
///
/// # Safety
/// As [`freemsg_any`].
unsafe fn freeb(mp: *mut mblk_t, loc: &Location<'_>) -> Option<*mut mblk_t> {
    // SAFETY: per the contract.
    let (magic, host) = unsafe { header(mp) };
    let Some(host) = host else {
        if magic == MBLK_LIVE || magic == MBLK_FREED {
            // The host is gone: nothing to account any more.
            return None;
        }
        crate::host::record_in_context(
            ViolationKind::BadMessage,
            format!("freemsg of {mp:p}, which is not a simulator message block (at {loc})"),
        );
        return None;
    };
    if magic == MBLK_FREED {
        host.record_at(ViolationKind::DoubleFree, format!("freemsg of already freed block {mp:p}"), loc);
        return None;
    }
    let mut reg = lock(&host.blocks);
    if reg.live.remove(&(mp as usize)).is_none() {
        drop(reg);
        host.record_at(ViolationKind::DoubleFree, format!("freemsg of block {mp:p} not live on this host"), loc);
        return None;
    }
    let m = mp.cast::<SimMblk>();
    // SAFETY: m is live on this host and now ours to retire.
    unsafe {
        let next = (*m).mblk.b_cont;
        let d = (*m).mblk.b_datap.cast::<SimDblk>();
        (*m).magic = MBLK_FREED;
        reg.quarantine_m.push_back(m);
        if reg.quarantine_m.len() > QUARANTINE
            && let Some(old) = reg.quarantine_m.pop_front() {
                reg.pool_m.push(old);
            }
        if (*d).magic != DBLK_LIVE || (*d).dblk.db_ref == 0 {
            drop(reg);
            host.record_at(ViolationKind::DoubleFree, format!("block {mp:p} refers to a freed data block"), loc);
            return Some(next);
        }
        (*d).dblk.db_ref -= 1;
        if (*d).dblk.db_ref == 0 {
            (*d).magic = DBLK_FREED;
            (*d).buf.fill(0xdb);
            reg.quarantine_d.push_back(d);
            if reg.quarantine_d.len() > QUARANTINE
                && let Some(old) = reg.quarantine_d.pop_front() {
                    reg.pool_d.push(old);
                }
        }
        Some(next)
    }
}

/// Check a message handed to the simulator through `what`.  `single`:
/// it travels as one message (no `b_next`/`b_prev`).  `Err` when the
/// message is not usable at all (freed, foreign): the simulator must not
/// take ownership of it then.  Bad pointers are recorded but the message
/// stays usable (it is read clamped and freed normally).
pub(crate) fn check_msg(
    host: &Arc<HostShared>,
    mp: *mut mblk_t,
    what: &str,
    single: bool,
    loc: &Location<'_>,
) -> Result<(), ()> {
    if mp.is_null() {
        host.record_at(ViolationKind::BadMessage, format!("{what}: null message"), loc);
        return Err(());
    }
    let mut b = mp;
    let mut n = 0usize;
    while !b.is_null() {
        if n >= MAX_CHAIN {
            host.record_at(ViolationKind::BadMessage, format!("{what}: b_cont chain loops or is absurdly long"), loc);
            return Err(());
        }
        // SAFETY: b is a pointer the driver claims is a message block.
        let (magic, owner) = unsafe { header(b) };
        match magic {
            MBLK_LIVE => {}
            MBLK_FREED => {
                host.record_at(ViolationKind::UseAfterFree, format!("{what}: block {b:p} (#{n} of the message) was freed"), loc);
                return Err(());
            }
            _ => {
                host.record_at(ViolationKind::BadMessage, format!("{what}: {b:p} is not a message block"), loc);
                return Err(());
            }
        }
        if !owner.is_some_and(|o| Arc::ptr_eq(&o, host)) {
            host.record_at(ViolationKind::BadMessage, format!("{what}: block {b:p} belongs to another host"), loc);
            return Err(());
        }
        // SAFETY: b is a live block of this host.
        unsafe {
            let d = (*b).b_datap.cast::<SimDblk>();
            if d.is_null() || (*d).magic != DBLK_LIVE || (*d).dblk.db_ref == 0 {
                host.record_at(ViolationKind::UseAfterFree, format!("{what}: block {b:p} has a freed data block"), loc);
                return Err(());
            }
            let base = (*d).dblk.db_base as usize;
            let lim = (*d).dblk.db_lim as usize;
            let r = (*b).b_rptr as usize;
            let w = (*b).b_wptr as usize;
            if r < base || w > lim || r > w {
                host.record_at(
                    ViolationKind::BadPointers,
                    format!(
                        "{what}: block #{n} has b_rptr={:+} b_wptr={:+} relative to db_base, \
                         db_lim={:+} (need db_base <= b_rptr <= b_wptr <= db_lim)",
                        r as isize - base as isize,
                        w as isize - base as isize,
                        lim - base
                    ),
                    loc,
                );
            }
            if n == 0 && single && (!(*b).b_next.is_null() || !(*b).b_prev.is_null()) {
                host.record_at(
                    ViolationKind::BNextSet,
                    format!("{what}: b_next/b_prev set on a message passed as a single message"),
                    loc,
                );
            }
            if n > 0 && (!(*b).b_next.is_null()) {
                host.record_at(ViolationKind::BNextSet, format!("{what}: b_next set on continuation block #{n}"), loc);
            }
            b = (*b).b_cont;
        }
        n += 1;
    }
    Ok(())
}

/// A copy of the data buffers of every block of a message, to prove later
/// that nobody wrote into them while they were shared.
pub(crate) struct Snapshot(Vec<(*const SimDblk, Vec<u8>)>);

// SAFETY: the pointers are only compared and read while the snapshot's
// owner holds a reference (db_ref) on each data block.
unsafe impl Send for Snapshot {}

pub(crate) fn snapshot(mp: *const mblk_t) -> Snapshot {
    let mut v = Vec::new();
    let mut b = mp;
    while !b.is_null() && v.len() < MAX_CHAIN {
        // SAFETY: the caller holds a reference on every block.
        unsafe {
            let d = (*b).b_datap.cast::<SimDblk>().cast_const();
            v.push((d, (*d).buf.clone()));
            b = (*b).b_cont;
        }
    }
    Snapshot(v)
}

/// Which blocks of the snapshot changed (indices).
pub(crate) fn snapshot_changed(s: &Snapshot) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, (d, bytes)) in s.0.iter().enumerate() {
        // SAFETY: the snapshot owner still holds a reference on d.
        if unsafe { &(**d).buf } != bytes {
            out.push(i);
        }
    }
    out
}

/// Report blocks still live at the end of a test.
pub(crate) fn check_leaks(host: &Arc<HostShared>) {
    let live: Vec<(usize, AllocInfo)> = {
        let reg = lock(&host.blocks);
        let mut v: Vec<_> = reg.live.iter().map(|(a, i)| (*a, *i)).collect();
        v.sort_by_key(|(_, i)| i.seq);
        v
    };
    if live.is_empty() {
        return;
    }
    let mut msg = format!("{} message block(s) never freed:", live.len());
    for (addr, info) in live.iter().take(10) {
        let mp = *addr as *mut mblk_t;
        // SAFETY: live blocks are valid simulator memory.
        let (ty, len, head) = unsafe {
            let data = block_bytes(mp);
            ((*(*mp).b_datap).db_type, data.len(), data.iter().take(16).copied().collect::<Vec<u8>>())
        };
        msg.push_str(&format!(
            "\n    block {addr:#x}: alloc #{} size {} db_type {ty:#x} len {len} data {head:02x?}",
            info.seq, info.size
        ));
    }
    host.record(ViolationKind::Leak, msg);
}
