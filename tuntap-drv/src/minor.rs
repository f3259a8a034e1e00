// SPDX-License-Identifier: MPL-2.0
//! One open stream of `/dev/tun`, `/dev/tap` or the control node.
//!
//! # Theory statement
//!
//! A `Minor` is created by open and lives in `q_ptr` of its queue pair
//! (as a boxed `Arc`).  It owns the stream's [`Queue`] (the read side the
//! data path uses, which an attached link holds too) and the stream's
//! control state: which link it is attached to, a transparent ioctl in
//! its copyin/copyout exchange, and, for an old-API IP stream, its DLPI
//! state.
//!
//! **Control work.**  A put procedure must not block (put(9E)), yet
//! ioctls and DLPI requests create and destroy links, which blocks
//! (dlmgmtd door upcalls, the mac perimeter).  So, as dld does
//! (`dld_wput_nondata` and `dld_wput_nondata_task` in
//! `usr/src/uts/common/io/dld/dld_str.c`), the put procedure appends
//! every control message to `control.pending` (a `b_next` list: queueing
//! never allocates) and, if no task is running for this stream,
//! dispatches one on the driver's taskq; the task handles the messages
//! in order and replies with `qreply`.  Close marks `control.closing`
//! (later control messages are refused at once) and waits on
//! `control_idle` until the task has finished, before `qprocsoff`: no
//! reply ever follows it.  `M_FLUSH` with `FLUSHW` discards the DLPI
//! requests still queued (write-side data to flushq(9F)), never an ioctl
//! (driver/streams.rs, `flush_queued_requests`).
//!
//! **Locks.**  `state` is taken after any link lock and before the
//! queue's `backlog`; it is never held across `putnext`, `qreply` or a
//! mac upcall.  `control` is a leaf.

use alloc::sync::Arc;

use crate::ddi::{Kernel, ZoneId};
use crate::link::Link;
use crate::queue::Queue;
use crate::mblk::MsgQueue;
use crate::sync::{KCondvar, KMutex};

/// Which node a stream was opened on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    Control,
    Tun,
    Tap,
}

/// Where a transparent ioctl is in its copyin/copyout exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for the M_IOCDATA answering our M_COPYIN.
    CopyIn,
    /// Waiting for the M_IOCDATA answering our M_COPYOUT; then ack `rval`.
    CopyOut { rval: i32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    pub cmd: i32,
    pub id: u32,
    pub addr: usize,
    pub stage: Stage,
}

pub struct MinorState<K: Kernel> {
    pub link: Option<Arc<Link<K>>>,
    pub pending: Option<Pending>,
    /// Set once the stream speaks DLPI (old-API IP plumbing): from then
    /// on it is never a packet queue.
    pub dlpi: Option<DlpiState<K>>,
}

/// A DLPI stream's state (`dl_current_state`) and attachment.
pub struct DlpiState<K: Kernel> {
    /// `DL_UNATTACHED`, `DL_UNBOUND` or `DL_IDLE`.
    pub state: u32,
    /// The link attached by `DL_ATTACH_REQ`.
    pub link: Option<Arc<Link<K>>>,
    /// The lower dld stream its traffic goes through (dlpi/relay.rs).
    pub relay: Option<Arc<crate::dlpi::relay::Relay<K>>>,
}

/// Control messages waiting for this stream's control task.
pub struct Control<K: Kernel> {
    /// Linked through `b_next`, in arrival order.
    pub pending: MsgQueue<K>,
    /// A control task is dispatched or running for this stream.
    pub running: bool,
    /// Close has begun: control messages are refused at once.
    pub closing: bool,
}

pub struct Minor<K: Kernel> {
    pub minor: u32,
    pub node: Node,
    /// The zone of the opener's credential.
    pub zone: ZoneId,
    /// The read side: what an attached link delivers to.
    pub queue: Arc<Queue<K>>,
    pub state: KMutex<K, MinorState<K>>,
    pub control: KMutex<K, Control<K>>,
    /// Broadcast when the control task finishes.
    pub control_idle: KCondvar<K>,
    /// The driver instance that opened the stream (a `*const Driver<K>`),
    /// valid while the stream is open: detach is refused while any is.
    driver: *const core::ffi::c_void,
}

// SAFETY: `driver` points at the driver instance, which is Sync and
// outlives every open stream; everything else is Send + Sync by itself.
unsafe impl<K: Kernel> Send for Minor<K> {}
// SAFETY: as above.
unsafe impl<K: Kernel> Sync for Minor<K> {}

impl<K: Kernel> Minor<K> {
    pub fn new(queue: Arc<Queue<K>>, node: Node, zone: ZoneId, driver: *const core::ffi::c_void) -> Self {
        Self {
            minor: queue.minor,
            node,
            zone,
            queue,
            state: KMutex::new(MinorState { link: None, pending: None, dlpi: None }),
            control: KMutex::new(Control { pending: MsgQueue::new(), running: false, closing: false }),
            control_idle: KCondvar::new(),
            driver,
        }
    }

    /// The driver instance that opened this stream.
    pub fn driver(&self) -> *const core::ffi::c_void {
        self.driver
    }

    /// The link this stream is attached to.
    pub fn link(&self) -> Option<Arc<Link<K>>> {
        let mut st = self.state.lock();
        self.settle(&mut st);
        st.link.clone()
    }

    /// Forget a link that deleted itself out from under this stream (it
    /// evicted the queue; see `Driver::evict_queue`).  Call with `state`
    /// held.
    pub fn settle(&self, st: &mut MinorState<K>) {
        if self.queue.take_evicted() {
            st.link = None;
        }
    }
}
