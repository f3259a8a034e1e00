// SPDX-License-Identifier: MPL-2.0
//! Lists of messages: a `b_next` chain taken apart one at a time
//! ([`MsgChain`]), a `b_next` FIFO ([`MsgQueue`]) and a builder that
//! links messages end to end through `b_cont` ([`MsgBuilder`]).  None of
//! them allocates, so all may be used where sleeping is not allowed.

use core::marker::PhantomData;
use core::ptr;

use illumos_sys_hdrs::mblk_t;

use super::block::MsgBlk;
use crate::ddi::Kernel;

/// An owned `b_next` chain of messages, taken apart one at a time.
pub struct MsgChain<K: Kernel> {
    head: *mut mblk_t,
    _k: PhantomData<K>,
}

// SAFETY: as MsgBlk: single owner.
unsafe impl<K: Kernel> Send for MsgChain<K> {}

impl<K: Kernel> MsgChain<K> {
    /// # Safety
    /// `head` is null or a valid `b_next` chain the caller gives up.
    pub unsafe fn from_raw(head: *mut mblk_t) -> Self {
        Self { head, _k: PhantomData }
    }

    /// Give the rest of the chain back to C (e.g. as mc_tx's unsent part).
    pub fn into_raw(self) -> *mut mblk_t {
        let h = self.head;
        core::mem::forget(self);
        h
    }

    pub fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Does the chain hold more than one message?
    pub fn has_several(&self) -> bool {
        // SAFETY: head is null or the first message of our chain.
        !self.head.is_null() && unsafe { !(*self.head).b_next.is_null() }
    }

    /// Put `msg` back at the front of the chain.
    pub fn push_front(&mut self, msg: MsgBlk<K>) {
        let m = msg.into_raw();
        // SAFETY: m is a message we own with b_next null.
        unsafe { (*m).b_next = self.head };
        self.head = m;
    }
}

impl<K: Kernel> Iterator for MsgChain<K> {
    type Item = MsgBlk<K>;
    fn next(&mut self) -> Option<MsgBlk<K>> {
        let m = self.head;
        if m.is_null() {
            return None;
        }
        // SAFETY: m is the head of the chain we own; unlinking it makes it
        // a standalone message we own.
        unsafe {
            self.head = (*m).b_next;
            (*m).b_next = ptr::null_mut();
            (*m).b_prev = ptr::null_mut();
            MsgBlk::from_raw(m)
        }
    }
}

impl<K: Kernel> Drop for MsgChain<K> {
    fn drop(&mut self) {
        for msg in self.by_ref() {
            drop(msg);
        }
    }
}

/// Build a `b_next` chain from messages, in order.
pub fn chain_from<K: Kernel>(msgs: impl DoubleEndedIterator<Item = MsgBlk<K>>) -> MsgChain<K> {
    // SAFETY: an empty chain.
    let mut chain = unsafe { MsgChain::from_raw(ptr::null_mut()) };
    for m in msgs.rev() {
        chain.push_front(m);
    }
    chain
}

/// An owned FIFO of messages linked through `b_next`, as STREAMS queues
/// keep them: adding and removing never allocates, so it may be used on
/// paths that must not sleep (`mc_tx`).  It tracks its length in messages
/// and bytes.
pub struct MsgQueue<K: Kernel> {
    head: *mut mblk_t,
    tail: *mut mblk_t,
    count: usize,
    bytes: usize,
    _k: PhantomData<K>,
}

// SAFETY: as MsgBlk: single owner of every message in it.
unsafe impl<K: Kernel> Send for MsgQueue<K> {}

impl<K: Kernel> Default for MsgQueue<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Kernel> MsgQueue<K> {
    pub const fn new() -> Self {
        Self { head: ptr::null_mut(), tail: ptr::null_mut(), count: 0, bytes: 0, _k: PhantomData }
    }

    /// Messages queued.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Bytes queued (sum of each message's length when it was added).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn push_back(&mut self, msg: MsgBlk<K>) {
        self.bytes = self.bytes.saturating_add(msg.len());
        let m = msg.into_raw();
        // SAFETY: m is a message we now own with b_next null; tail, when
        // non-null, is the last message of our queue.
        unsafe {
            (*m).b_next = ptr::null_mut();
            if self.tail.is_null() {
                self.head = m;
            } else {
                (*self.tail).b_next = m;
            }
        }
        self.tail = m;
        self.count += 1;
    }

    pub fn push_front(&mut self, msg: MsgBlk<K>) {
        self.bytes = self.bytes.saturating_add(msg.len());
        let m = msg.into_raw();
        // SAFETY: m is a message we now own; linking it before head keeps
        // the chain well formed.
        unsafe { (*m).b_next = self.head };
        if self.tail.is_null() {
            self.tail = m;
        }
        self.head = m;
        self.count += 1;
    }

    /// Length of the first message, if any.
    pub fn front_len(&self) -> Option<usize> {
        // SAFETY: head is null or the first message we own; borrowing it as
        // a MsgBlk that is forgotten, not dropped, leaves ownership here.
        let m = core::mem::ManuallyDrop::new(unsafe { MsgBlk::<K>::from_raw(self.head) }?);
        Some(m.len())
    }

    pub fn pop_front(&mut self) -> Option<MsgBlk<K>> {
        let m = self.head;
        if m.is_null() {
            return None;
        }
        // SAFETY: m is the head message we own; unlinking it makes it a
        // standalone message.
        let msg = unsafe {
            self.head = (*m).b_next;
            (*m).b_next = ptr::null_mut();
            MsgBlk::<K>::from_raw(m)
        };
        if self.head.is_null() {
            self.tail = ptr::null_mut();
        }
        self.count = self.count.saturating_sub(1);
        if let Some(msg) = &msg {
            self.bytes = self.bytes.saturating_sub(msg.len());
        }
        msg
    }

    /// Take every message out, in order (consuming the queue).
    pub fn take_all_owned(mut self) -> MsgChain<K> {
        self.take_all()
    }

    /// Take every message out, in order, as a `b_next` chain; the queue
    /// is left empty.
    pub fn take_all(&mut self) -> MsgChain<K> {
        let head = core::mem::replace(&mut self.head, ptr::null_mut());
        self.tail = ptr::null_mut();
        self.count = 0;
        self.bytes = 0;
        // SAFETY: head is null or our well-formed chain, handed over whole.
        unsafe { MsgChain::from_raw(head) }
    }
}

impl<K: Kernel> Drop for MsgQueue<K> {
    fn drop(&mut self) {
        drop(self.take_all());
    }
}

/// Builds one message from several by linking each behind the last
/// block of the one before (`b_cont`), remembering the last block so each
/// link costs only the blocks of the message added.
pub struct MsgBuilder<K: Kernel> {
    head: Option<MsgBlk<K>>,
    tail: *mut mblk_t,
    bytes: usize,
}

impl<K: Kernel> Default for MsgBuilder<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Kernel> MsgBuilder<K> {
    pub const fn new() -> Self {
        Self { head: None, tail: ptr::null_mut(), bytes: 0 }
    }

    /// Bytes linked so far.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Link `msg` at the end.
    pub fn push(&mut self, msg: MsgBlk<K>) {
        self.bytes = self.bytes.saturating_add(msg.len());
        let m = msg.into_raw();
        let mut last = m;
        // SAFETY: m is a message we own; walk to its last block.
        unsafe {
            while !(*last).b_cont.is_null() {
                last = (*last).b_cont;
            }
        }
        match &self.head {
            None => {
                // SAFETY: m is non-null (it came from a MsgBlk) and ours.
                self.head = unsafe { MsgBlk::from_raw(m) };
            }
            Some(_) => {
                // SAFETY: tail is the last block of the message we own;
                // linking m behind it makes m part of that message.
                unsafe { (*self.tail).b_cont = m };
            }
        }
        self.tail = last;
    }

    /// The message built, if anything was pushed.
    pub fn finish(self) -> Option<MsgBlk<K>> {
        self.head
    }
}
