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
//! **Locks.**  `state` is taken after any link lock and before the
//! queue's `backlog`; it is never held across `putnext`, `qreply` or a
//! mac upcall.

use alloc::sync::Arc;

use crate::ddi::{Kernel, ZoneId};
use crate::link::Link;
use crate::queue::Queue;
use crate::sync::KMutex;

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
}

pub struct Minor<K: Kernel> {
    pub minor: u32,
    pub node: Node,
    /// The zone of the opener's credential.
    pub zone: ZoneId,
    /// The read side: what an attached link delivers to.
    pub queue: Arc<Queue<K>>,
    pub state: KMutex<K, MinorState<K>>,
}

impl<K: Kernel> Minor<K> {
    pub fn new(queue: Arc<Queue<K>>, node: Node, zone: ZoneId) -> Self {
        Self {
            minor: queue.minor,
            node,
            zone,
            queue,
            state: KMutex::new(MinorState { link: None, pending: None, dlpi: None }),
        }
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
