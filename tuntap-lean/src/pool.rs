// SPDX-License-Identifier: MPL-2.0
//! Pooled message blocks in the real `mblk_t`/`dblk_t` layouts.
//!
//! Each block is one allocation: an `mblk_t`, its `dblk_t`, a size class
//! and the data buffer, as illumos's `allocb` takes small blocks from
//! combined mblk/dblk/buffer kmem caches (`usr/src/uts/common/io/stream.c`,
//! `allocb`, `dblk_kmem_cache` per size).  Freed blocks go to a per-thread
//! cache; a thread with too many hands a batch to a global overflow list
//! and a thread with none takes a batch back, so a producer thread and a
//! consumer thread recycle through the overflow list a batch at a time.
//! No rule bookkeeping: this is for measuring the driver, not checking it
//! (the enforcing simulator, `tuntap-sim`, checks).

use std::alloc::{Layout, alloc, dealloc};
use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::Mutex;

use illumos_sys_hdrs::{M_DATA, dblk_t, mblk_t};

/// Data buffer sizes of the pooled classes.
const CLASSES: [usize; 4] = [256, 2048, 16 * 1024, 72 * 1024];
/// Marks a block too large for any class (freed to the system).
const UNPOOLED: usize = usize::MAX;
/// Per-thread cache bound per class, and the batch moved at a time.
const CACHE_MAX: usize = 2048;
const BATCH: usize = 512;

#[repr(C)]
struct Hdr {
    mb: mblk_t,
    db: dblk_t,
    class: usize,
    cap: usize,
}

const ALIGN: usize = 64;

fn layout(cap: usize) -> Option<Layout> {
    Layout::from_size_align(std::mem::size_of::<Hdr>().checked_add(cap)?, ALIGN).ok()
}

struct Cache {
    free: [Vec<*mut Hdr>; CLASSES.len()],
}

impl Drop for Cache {
    fn drop(&mut self) {
        // A thread ends: give its blocks to the overflow list.
        for (c, list) in self.free.iter_mut().enumerate() {
            if !list.is_empty() {
                if let Ok(mut g) = OVERFLOW.lock() {
                    if let Some(o) = g.get_mut(c) {
                        o.push(std::mem::take(list).into_iter().map(SendPtr).collect());
                    }
                }
            }
        }
    }
}

struct SendPtr(*mut Hdr);
// SAFETY: a free block belongs to nobody; the list hands it to one thread.
unsafe impl Send for SendPtr {}

static OVERFLOW: Mutex<[Vec<Vec<SendPtr>>; CLASSES.len()]> = Mutex::new([Vec::new(), Vec::new(), Vec::new(), Vec::new()]);

thread_local! {
    static CACHE: RefCell<Cache> = const { RefCell::new(Cache { free: [Vec::new(), Vec::new(), Vec::new(), Vec::new()] }) };
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
}

/// Blocks allocated by this thread so far (for blocks/packet).
pub fn blocks_allocated() -> u64 {
    ALLOCATED.with(Cell::get)
}

fn class_for(size: usize) -> Option<usize> {
    CLASSES.iter().position(|&c| c >= size)
}

fn fresh(class: usize, cap: usize) -> *mut Hdr {
    let Some(l) = layout(cap) else { return ptr::null_mut() };
    // SAFETY: non-zero size.
    let h = unsafe { alloc(l) }.cast::<Hdr>();
    if h.is_null() {
        return h;
    }
    // SAFETY: fresh allocation of at least size_of::<Hdr>(); all-zero is a
    // valid mblk_t/dblk_t (null pointers, zero integers).
    unsafe {
        ptr::write_bytes(h.cast::<u8>(), 0, std::mem::size_of::<Hdr>());
        (*h).class = class;
        (*h).cap = cap;
        let base = h.cast::<u8>().add(std::mem::size_of::<Hdr>());
        (*h).db.db_base = base;
        (*h).db.db_lim = base.add(cap);
        (*h).db.db_mblk = &raw mut (*h).mb;
        (*h).mb.b_datap = &raw mut (*h).db;
    }
    h
}

/// `allocb(size, BPRI_MED)`.
pub fn allocb(size: usize) -> *mut mblk_t {
    let h = match class_for(size) {
        Some(c) => {
            let cached = CACHE.with(|cache| {
                let mut cache = cache.borrow_mut();
                let list = cache.free.get_mut(c)?;
                if list.is_empty() {
                    if let Ok(mut g) = OVERFLOW.lock() {
                        if let Some(batch) = g.get_mut(c).and_then(Vec::pop) {
                            list.extend(batch.into_iter().map(|p| p.0));
                        }
                    }
                }
                list.pop()
            });
            match cached {
                Some(h) => h,
                None => fresh(c, CLASSES.get(c).copied().unwrap_or(0)),
            }
        }
        None => fresh(UNPOOLED, size),
    };
    if h.is_null() {
        return ptr::null_mut();
    }
    ALLOCATED.with(|n| n.set(n.get() + 1));
    // SAFETY: h is a block nobody else holds; reset it as allocb does.
    unsafe {
        let base = (*h).db.db_base;
        (*h).mb.b_next = ptr::null_mut();
        (*h).mb.b_prev = ptr::null_mut();
        (*h).mb.b_cont = ptr::null_mut();
        (*h).mb.b_rptr = base;
        (*h).mb.b_wptr = base;
        (*h).mb.b_band = 0;
        (*h).mb.b_flag = 0;
        (*h).db.db_ref = 1;
        (*h).db.db_type = M_DATA;
        (*h).db.db_flags = 0;
        (*h).db.db_struioun = std::mem::zeroed();
        (*h).db.db_cksumstart = 0;
        (*h).db.db_cksumend = 0;
        (*h).db.db_cksumstuff = 0;
        &raw mut (*h).mb
    }
}

/// Free one block (not its `b_cont`).
///
/// # Safety
/// `mp` came from [`allocb`] and is not used afterwards.
unsafe fn freeb(mp: *mut mblk_t) {
    let h = mp.cast::<Hdr>();
    // SAFETY: mb is the first field of Hdr (repr(C)), so mp is the Hdr.
    let (class, cap) = unsafe { ((*h).class, (*h).cap) };
    if class == UNPOOLED {
        if let Some(l) = layout(cap) {
            // SAFETY: allocated by fresh() with this layout.
            unsafe { dealloc(h.cast::<u8>(), l) };
        }
        return;
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let Some(list) = cache.free.get_mut(class) else { return };
        list.push(h);
        if list.len() > CACHE_MAX {
            let batch: Vec<SendPtr> = list.drain(list.len() - BATCH..).map(SendPtr).collect();
            if let Ok(mut g) = OVERFLOW.lock() {
                if let Some(o) = g.get_mut(class) {
                    o.push(batch);
                }
            }
        }
    });
}

/// `freemsg(9F)`.
///
/// # Safety
/// `mp` is null or a message of pooled blocks the caller owns.
pub unsafe fn freemsg(mut mp: *mut mblk_t) {
    while !mp.is_null() {
        // SAFETY: mp is a block of the caller's message.
        let next = unsafe { (*mp).b_cont };
        // SAFETY: as above; each block is freed once.
        unsafe { freeb(mp) };
        mp = next;
    }
}

/// Bytes in a message (`msgdsize`).
///
/// # Safety
/// `mp` is null or a valid message.
pub unsafe fn msgdsize(mut mp: *const mblk_t) -> usize {
    let mut n = 0usize;
    while !mp.is_null() {
        // SAFETY: a block of a valid message.
        unsafe {
            n += ((*mp).b_wptr as usize).saturating_sub((*mp).b_rptr as usize);
            mp = (*mp).b_cont;
        }
    }
    n
}

/// Copy a message's bytes into `out`; returns the bytes copied (at most
/// `out.len()`, the rest of the message is discarded as `RMSGD` does).
///
/// # Safety
/// `mp` is null or a valid message.
pub unsafe fn copy_out(mut mp: *const mblk_t, out: &mut [u8]) -> usize {
    let mut done = 0usize;
    while !mp.is_null() && done < out.len() {
        // SAFETY: a block of a valid message; the copy stays inside both.
        unsafe {
            let len = ((*mp).b_wptr as usize).saturating_sub((*mp).b_rptr as usize);
            let take = len.min(out.len() - done);
            ptr::copy_nonoverlapping((*mp).b_rptr, out.as_mut_ptr().add(done), take);
            done += take;
            mp = (*mp).b_cont;
        }
    }
    done
}

/// `msgpullup(mp, -1)`.
///
/// # Safety
/// `mp` is a valid message; it stays the caller's.
pub unsafe fn msgpullup(mp: *mut mblk_t) -> *mut mblk_t {
    // SAFETY: valid message.
    let len = unsafe { msgdsize(mp) };
    let new = allocb(len);
    if new.is_null() {
        return new;
    }
    // SAFETY: new holds at least len bytes; mp is valid.
    unsafe {
        let out = std::slice::from_raw_parts_mut((*new).b_wptr, len);
        let n = copy_out(mp, out);
        (*new).b_wptr = (*new).b_wptr.add(n);
        (*(*new).b_datap).db_type = (*(*mp).b_datap).db_type;
    }
    new
}

/// Free a `b_next` chain of messages.
///
/// # Safety
/// `mp` is null or an owned chain of pooled messages.
pub unsafe fn freemsg_chain(mut mp: *mut mblk_t) {
    while !mp.is_null() {
        // SAFETY: each message of the owned chain is freed once.
        unsafe {
            let next = (*mp).b_next;
            (*mp).b_next = ptr::null_mut();
            freemsg(mp);
            mp = next;
        }
    }
}

/// `mac_hcksum_get` as `usr/src/uts/common/io/mac/mac_provider.c` does it:
/// the dblk's `DB_CKSUMFLAGS` (`db_struioun.cksum.flags`), and for a
/// partial checksum the start/stuff/end offsets and `DB_CKSUM16`.
///
/// # Safety
/// `mp` is a valid message.
pub unsafe fn hcksum_get(mp: *const mblk_t) -> tuntap_drv::ddi::Hcksum {
    use illumos_sys_hdrs::{HCK_FULLCKSUM, HCK_FULLCKSUM_OK, HCK_IPV4_HDRCKSUM, HCK_PARTIALCKSUM};
    // SAFETY: a valid message's dblk; the cksum view of the union is
    // plain integers.
    unsafe {
        let db = &*(*mp).b_datap;
        let flags = u32::from(db.db_struioun.cksum.flags)
            & (HCK_IPV4_HDRCKSUM | HCK_PARTIALCKSUM | HCK_FULLCKSUM | HCK_FULLCKSUM_OK);
        let mut h = tuntap_drv::ddi::Hcksum { flags, ..Default::default() };
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

/// `mac_hcksum_set` (as above).
///
/// # Safety
/// `mp` is a valid message.
pub unsafe fn hcksum_set(mp: *mut mblk_t, h: tuntap_drv::ddi::Hcksum) {
    // SAFETY: a valid message's dblk.
    unsafe {
        let db = &mut *(*mp).b_datap;
        db.db_cksumstart = h.start as isize;
        db.db_cksumstuff = h.stuff as isize;
        db.db_cksumend = h.end as isize;
        db.db_struioun.cksum.flags = h.flags as u16;
        db.db_struioun.cksum.cksum_val.u16_ = h.value as u16;
    }
}

/// `mac_lso_get` (as above): `DB_LSOMSS` when `HW_LSO` is set.
///
/// # Safety
/// `mp` is a valid message.
pub unsafe fn lso_get(mp: *mut mblk_t) -> Option<u32> {
    // SAFETY: a valid message's dblk.
    unsafe {
        let db = &*(*mp).b_datap;
        (u32::from(db.db_struioun.cksum.flags) & illumos_sys_hdrs::HW_LSO != 0).then(|| u32::from(db.db_struioun.cksum.pad))
    }
}

/// Set what IP's LSO path leaves on a large segment: `HW_LSO` in
/// `DB_LSOFLAGS` and the MSS in `DB_LSOMSS` (`strsubr.h`).
///
/// # Safety
/// `mp` is a valid message the caller owns.
pub unsafe fn lso_set(mp: *mut mblk_t, mss: u16) {
    // SAFETY: a valid message's dblk.
    unsafe {
        let db = &mut *(*mp).b_datap;
        db.db_struioun.cksum.flags |= illumos_sys_hdrs::HW_LSO as u16;
        db.db_struioun.cksum.pad = mss;
    }
}
