// SPDX-License-Identifier: MPL-2.0
//! `MsgBlk`: an owned STREAMS message (a `b_cont` chain of `mblk_t`).
//!
//! Theory statement.  A `MsgBlk<K>` owns exactly one message and frees it
//! with `freemsg` when dropped; [`MsgBlk::into_raw`] hands ownership back
//! to C (putnext, mac_rx, a returned tx chain).  Reading and trimming
//! move `b_rptr`/`b_wptr` only inside `[db_base, db_lim)`.  Writing into a
//! data block's headroom is done only when this message is its sole
//! reference (`db_ref == 1`); otherwise a new block is chained in front.
//! Nothing here panics: every length is checked.

use core::marker::PhantomData;
use core::ptr::{self, NonNull};

use illumos_sys_hdrs::{dblk_t, mblk_t};

use crate::ddi::Kernel;

pub struct MsgBlk<K: Kernel> {
    mp: NonNull<mblk_t>,
    _k: PhantomData<K>,
}

// SAFETY: a message has one owner; STREAMS moves messages between threads.
unsafe impl<K: Kernel> Send for MsgBlk<K> {}

/// Bytes in one block (`MBLKL`).
///
/// # Safety
/// `mp` points to a valid mblk_t.
unsafe fn block_len(mp: *const mblk_t) -> usize {
    // SAFETY: the caller guarantees mp is valid; rptr <= wptr is an mblk
    // invariant, and a violation gives 0 rather than a huge length.
    unsafe { ((*mp).b_wptr as usize).saturating_sub((*mp).b_rptr as usize) }
}

impl<K: Kernel> MsgBlk<K> {
    /// Take ownership of a message from C.
    ///
    /// # Safety
    /// `mp` is a valid message (`b_next` null) that nobody else owns.
    pub unsafe fn from_raw(mp: *mut mblk_t) -> Option<Self> {
        NonNull::new(mp).map(|mp| Self { mp, _k: PhantomData })
    }

    /// Give ownership back to C.
    pub fn into_raw(self) -> *mut mblk_t {
        let mp = self.mp.as_ptr();
        core::mem::forget(self);
        mp
    }

    pub fn as_ptr(&self) -> *mut mblk_t {
        self.mp.as_ptr()
    }

    /// Allocate a message with `headroom` free bytes in front and `data`
    /// copied in.
    pub fn alloc_with(k: &K, headroom: usize, data: &[u8]) -> Option<Self> {
        let mp = NonNull::new(k.allocb(headroom.checked_add(data.len())?))?;
        // SAFETY: allocb returned a fresh block of at least the asked size,
        // with b_rptr == b_wptr == db_base.
        unsafe {
            let m = mp.as_ptr();
            (*m).b_rptr = (*m).b_rptr.add(headroom);
            ptr::copy_nonoverlapping(data.as_ptr(), (*m).b_rptr, data.len());
            (*m).b_wptr = (*m).b_rptr.add(data.len());
        }
        Some(Self { mp, _k: PhantomData })
    }

    /// Allocate one block holding `parts` back to back.
    pub fn alloc_parts(k: &K, parts: &[&[u8]]) -> Option<Self> {
        let total = parts.iter().try_fold(0usize, |n, p| n.checked_add(p.len()))?;
        let mp = NonNull::new(k.allocb(total))?;
        // SAFETY: allocb returned a fresh block of at least `total` bytes
        // with b_wptr at its start; each copy stays within it.
        unsafe {
            let m = mp.as_ptr();
            for p in parts {
                ptr::copy_nonoverlapping(p.as_ptr(), (*m).b_wptr, p.len());
                (*m).b_wptr = (*m).b_wptr.add(p.len());
            }
        }
        Some(Self { mp, _k: PhantomData })
    }

    /// Set the message type of the first block.
    pub fn set_db_type(&mut self, db_type: u8) {
        // SAFETY: we own the message; db_type is a plain dblk field.
        unsafe { (*(*self.mp.as_ptr()).b_datap).db_type = db_type };
    }

    /// Read a `T` from the front of the first block (`None` if the block
    /// holds fewer than `size_of::<T>()` bytes).
    ///
    /// `T` must be a plain C structure valid for any bit pattern (an
    /// `iocblk`, `copyresp`, DLPI request...).
    pub fn read_head<T: Copy>(&self) -> Option<T> {
        let b = self.first_block();
        if b.len() < core::mem::size_of::<T>() {
            return None;
        }
        // SAFETY: the block holds at least size_of::<T>() initialised
        // bytes; read_unaligned copes with any alignment; T is plain data
        // (the caller's contract above).
        Some(unsafe { ptr::read_unaligned(b.as_ptr().cast::<T>()) })
    }

    /// Read a `T` from the front of the first block's data buffer, which
    /// may extend past `b_wptr`: an ioctl message's first block is a
    /// `union ioctypes` (`iocblk`, `copyreq`, `copyresp`) that the stream
    /// head allocates whole and each side rewrites in place, as
    /// `miocack(9F)`/`mcopyin(9F)` do.  `None` if the buffer is too small.
    pub fn read_union<T: Copy>(&self) -> Option<T> {
        if self.room() < core::mem::size_of::<T>() {
            return None;
        }
        let m = self.mp.as_ptr();
        // SAFETY: [b_rptr, b_rptr + size_of::<T>()) lies inside the data
        // buffer (room); the stream head wrote the whole union; T is
        // plain data read unaligned.
        Some(unsafe { ptr::read_unaligned((*m).b_rptr.cast::<T>()) })
    }

    /// Bytes from the first block's read pointer to the end of its data
    /// buffer (`db_lim - b_rptr`): what it can hold if rewritten in place.
    pub fn room(&self) -> usize {
        let m = self.mp.as_ptr();
        // SAFETY: reading the dblk bounds of a message we own.
        unsafe { ((*(*m).b_datap).db_lim as usize).saturating_sub((*m).b_rptr as usize) }
    }

    /// Rewrite the first block in place as `v` followed by zeroes up to
    /// `len` bytes (`len >= size_of::<T>()`): `b_wptr = b_rptr + len`.
    /// `false` (nothing written) if the block cannot hold `len` bytes or
    /// its data is shared (`db_ref > 1`).
    pub fn write_head<T: Copy>(&mut self, v: &T, len: usize) -> bool {
        let size = core::mem::size_of::<T>();
        if len < size || self.room() < len {
            return false;
        }
        let m = self.mp.as_ptr();
        // SAFETY: we own the message, its data is not shared (checked),
        // and [b_rptr, b_rptr + len) lies inside the data buffer (room).
        unsafe {
            if (*(*m).b_datap).db_ref > 1 {
                return false;
            }
            let at = (*m).b_rptr;
            ptr::write_bytes(at, 0, len);
            ptr::write_unaligned(at.cast::<T>(), *v);
            (*m).b_wptr = at.add(len);
        }
        true
    }

    /// Change the first byte of the first block (an `M_FLUSH` flag byte).
    /// `false` if the block is empty.
    pub fn set_first_byte(&mut self, f: impl FnOnce(u8) -> u8) -> bool {
        let m = self.mp.as_ptr();
        // SAFETY: we own the message; the byte at b_rptr is data when the
        // block is not empty (checked).
        unsafe {
            if block_len(m) == 0 {
                return false;
            }
            *(*m).b_rptr = f(*(*m).b_rptr);
        }
        true
    }

    /// The bytes after the first block (`b_cont` onward), at most `limit`;
    /// `None` if there are more.
    pub fn continuation_bytes(&self, limit: usize) -> Option<alloc::vec::Vec<u8>> {
        let mut out = alloc::vec::Vec::new();
        // SAFETY: b_cont of a message we own is null or a valid chain.
        let mut b: *const mblk_t = unsafe { (*self.mp.as_ptr()).b_cont };
        while !b.is_null() {
            // SAFETY: b is a block of the chain we own; [b_rptr, b_wptr)
            // is initialised data.
            unsafe {
                let len = block_len(b);
                if out.len().saturating_add(len) > limit {
                    return None;
                }
                if len > 0 {
                    out.extend_from_slice(core::slice::from_raw_parts((*b).b_rptr, len));
                }
                b = (*b).b_cont;
            }
        }
        Some(out)
    }

    /// Replace everything after the first block with `tail` (freeing
    /// what was there).
    pub fn replace_continuation(&mut self, tail: Option<MsgBlk<K>>) {
        let m = self.mp.as_ptr();
        let new = tail.map_or(ptr::null_mut(), MsgBlk::into_raw);
        // SAFETY: we own the message: its old b_cont is freed exactly once
        // and replaced by the new chain we own.
        unsafe {
            let old = (*m).b_cont;
            (*m).b_cont = new;
            if !old.is_null() {
                K::freemsg(old);
            }
        }
    }

    /// Split off everything after the first block (`b_cont`): the first
    /// block alone, and the rest as a message of its own, if any.
    pub fn split_first(self) -> (MsgBlk<K>, Option<MsgBlk<K>>) {
        let m = self.mp.as_ptr();
        // SAFETY: we own the whole chain; unlinking b_cont makes the rest
        // a message we own separately.
        let rest = unsafe {
            let rest = (*m).b_cont;
            (*m).b_cont = ptr::null_mut();
            MsgBlk::from_raw(rest)
        };
        (self, rest)
    }

    /// Chain `tail` behind the last block of this message.
    pub fn append(&mut self, tail: MsgBlk<K>) {
        let mut b = self.mp.as_ptr();
        // SAFETY: walking our own chain to its last block and linking a
        // message we own behind it.
        unsafe {
            while !(*b).b_cont.is_null() {
                b = (*b).b_cont;
            }
            (*b).b_cont = tail.into_raw();
        }
    }

    /// The message type of the first block (`DB_TYPE`).
    pub fn db_type(&self) -> u8 {
        // SAFETY: we own a valid message; b_datap is always set.
        unsafe { (*(*self.mp.as_ptr()).b_datap).db_type }
    }

    /// Total bytes in the chain (`msgdsize` over every block).
    pub fn len(&self) -> usize {
        let mut n = 0usize;
        let mut b: *const mblk_t = self.mp.as_ptr();
        while !b.is_null() {
            // SAFETY: b is a block of the chain we own.
            unsafe {
                n = n.saturating_add(block_len(b));
                b = (*b).b_cont;
            }
        }
        n
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the first block.
    pub fn first_block(&self) -> &[u8] {
        let m = self.mp.as_ptr();
        // SAFETY: [b_rptr, b_wptr) of a block we own is initialised data.
        unsafe {
            let len = block_len(m);
            if len == 0 {
                return &[];
            }
            core::slice::from_raw_parts((*m).b_rptr, len)
        }
    }

    /// Run `f` on the first block's bytes, writable; `None` when the
    /// block's data is shared (`db_ref > 1`) and must not be written.
    pub fn with_bytes_mut<R>(&mut self, f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
        let m = self.mp.as_ptr();
        // SAFETY: we own the message; its data is ours alone when db_ref
        // is 1 (checked), and [b_rptr, b_wptr) is initialised data.
        unsafe {
            if (*(*m).b_datap).db_ref > 1 {
                return None;
            }
            let len = block_len(m);
            if len == 0 {
                return Some(f(&mut []));
            }
            Some(f(core::slice::from_raw_parts_mut((*m).b_rptr, len)))
        }
    }

    /// Copy up to `out.len()` bytes from the front of the chain into `out`;
    /// returns how many were copied.
    pub fn copy_prefix(&self, out: &mut [u8]) -> usize {
        let mut done = 0usize;
        let mut b: *const mblk_t = self.mp.as_ptr();
        while !b.is_null() && done < out.len() {
            // SAFETY: b is a block of our chain; the copy stays inside both
            // the block's data and `out` (lengths checked).
            unsafe {
                let take = block_len(b).min(out.len() - done);
                if let Some(dst) = out.get_mut(done..done + take) {
                    ptr::copy_nonoverlapping((*b).b_rptr, dst.as_mut_ptr(), take);
                }
                done += take;
                b = (*b).b_cont;
            }
        }
        done
    }

    /// Make sure the first `n` bytes are in the first block (pulling the
    /// message up into one block if needed).  `false` if the message is
    /// shorter than `n` or no memory; the message is unchanged then.
    pub fn pullup(&mut self, k: &K, n: usize) -> bool {
        if self.first_block().len() >= n {
            return true;
        }
        if self.len() < n {
            return false;
        }
        // SAFETY: we own a valid message; msgpullup leaves it untouched and
        // returns a new one (or null).
        let new = unsafe { k.msgpullup(self.mp.as_ptr()) };
        match NonNull::new(new) {
            Some(new) => {
                // SAFETY: we own the old message and no longer need it.
                unsafe { K::freemsg(self.mp.as_ptr()) };
                self.mp = new;
                true
            }
            None => false,
        }
    }

    /// Drop `n` bytes from the front of the first block.
    pub fn trim_front(&mut self, n: usize) -> bool {
        let m = self.mp.as_ptr();
        // SAFETY: the new b_rptr stays within the block's data (checked).
        unsafe {
            if block_len(m) < n {
                return false;
            }
            (*m).b_rptr = (*m).b_rptr.add(n);
        }
        true
    }

    /// Undo a [`MsgBlk::prepend`] of `n` bytes: drop the block it added
    /// in front, or move the read pointer back over the bytes it wrote
    /// into the headroom.
    pub fn unprepend(&mut self, n: usize) {
        let m = self.mp.as_ptr();
        // SAFETY: we own the message; b_cont is null or our chain.
        let own_block = unsafe { block_len(m) == n && !(*m).b_cont.is_null() };
        if own_block {
            // SAFETY: unlinking the front block leaves the rest ours; the
            // front block alone is freed.
            unsafe {
                let rest = (*m).b_cont;
                (*m).b_cont = ptr::null_mut();
                K::freemsg(m);
                self.mp = NonNull::new_unchecked(rest);
            }
        } else {
            let _ = self.trim_front(n);
        }
    }

    /// Put `hdr` in front of the message: in place when the first block
    /// has the headroom and is not shared, else in a new block.
    pub fn prepend(&mut self, k: &K, hdr: &[u8]) -> bool {
        let m = self.mp.as_ptr();
        // SAFETY: b_datap is valid; we check headroom against db_base and
        // that our message is the only reference before writing.
        unsafe {
            let db: *mut dblk_t = (*m).b_datap;
            let headroom = ((*m).b_rptr as usize).saturating_sub((*db).db_base as usize);
            if (*db).db_ref == 1 && headroom >= hdr.len() {
                let at = (*m).b_rptr.sub(hdr.len());
                ptr::copy_nonoverlapping(hdr.as_ptr(), at, hdr.len());
                (*m).b_rptr = at;
                return true;
            }
        }
        let Some(front) = Self::alloc_with(k, 0, hdr) else {
            return false;
        };
        let front = front.into_raw();
        // SAFETY: front is a fresh single block we own; chaining our message
        // behind it transfers ownership of both to the new head.
        unsafe { (*front).b_cont = self.mp.as_ptr() };
        // SAFETY: front is non-null (alloc_with succeeded).
        self.mp = unsafe { NonNull::new_unchecked(front) };
        true
    }
}

impl<K: Kernel> Drop for MsgBlk<K> {
    fn drop(&mut self) {
        // SAFETY: we own the message and never use it again.
        unsafe { K::freemsg(self.mp.as_ptr()) }
    }
}
