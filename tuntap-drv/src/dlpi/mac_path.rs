// SPDX-License-Identifier: MPL-2.0
//! The state of a link's mac client for its old-API DLPI streams: the
//! handles, the shares streams hold, and the phases that serialise
//! opening and closing.  What opens the client and what its receive
//! callback does are in `mac_client.rs` (which knows the link); this file
//! knows no link, so the link can own a `MacPath` without an import
//! circle (docs/CONVENTIONS.md).
//!
//! Locks: `slot` is a leaf, never held across a mac call; `cv` waits for
//! the phase to settle and for transmits in flight (`tx_busy`) to end.
//! Invariants: `h` is `Some` exactly in `Open` and while a `Closing`
//! waits for `tx_busy`; the rx argument is freed only after
//! `mac_rx_clear` has returned.

use core::ffi::c_void;

use illumos_sys_hdrs as sys;

use crate::ddi::{Errno, Kernel, MacClientHandle, MacHandle, MacUnicastHandle};
use crate::mblk::{MsgBlk, MsgChain};
use crate::queue::Queue;
use crate::sync::{KCondvar, KMutex};

/// What an open client holds: mac's handles and the rx callback's
/// argument with the function that frees it (after `mac_rx_clear`).
pub struct Handles {
    pub mh: MacHandle,
    pub mch: MacClientHandle,
    pub muh: MacUnicastHandle,
    pub rx: *mut c_void,
    pub free_rx: unsafe fn(*mut c_void),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Opening,
    Open,
    Closing,
}

struct Slot {
    phase: Phase,
    h: Option<Handles>,
    /// Streams holding a share.
    users: u32,
    /// Transmits between reading `h` and returning from `mac_tx`.
    tx_busy: u32,
}

/// A link's mac client for its old-API DLPI streams.
pub struct MacPath<K: Kernel> {
    slot: KMutex<K, Slot>,
    cv: KCondvar<K>,
}

// SAFETY: the raw rx argument is owned by the slot and only freed by
// the last close, after mac_rx_clear; everything else is Send + Sync.
unsafe impl<K: Kernel> Send for MacPath<K> {}
// SAFETY: as above.
unsafe impl<K: Kernel> Sync for MacPath<K> {}

impl<K: Kernel> MacPath<K> {
    pub fn new() -> Self {
        Self { slot: KMutex::new(Slot { phase: Phase::Closed, h: None, users: 0, tx_busy: 0 }), cv: KCondvar::new() }
    }

    /// Is the client open (some stream holds a share)?
    pub fn is_open(&self) -> bool {
        self.slot.lock().phase == Phase::Open
    }

    /// Take a share for the stream of `queue` (see the theory statement).
    /// Blocks: control task only.
    pub fn open(&self, queue: &Queue<K>, open_client: impl FnOnce() -> Result<Handles, Errno>) -> Result<(), Errno> {
        if queue.dlpi_rx().via_mac() {
            return Ok(());
        }
        {
            let s = self.slot.lock();
            let mut s = self.slot.wait_until(s, &self.cv, |s| matches!(s.phase, Phase::Closed | Phase::Open));
            if s.phase == Phase::Open {
                s.users += 1;
                queue.dlpi_rx().set_via_mac(true);
                return Ok(());
            }
            s.phase = Phase::Opening;
        }
        let r = open_client();
        let mut s = self.slot.lock();
        let out = match r {
            Ok(h) => {
                s.h = Some(h);
                s.phase = Phase::Open;
                s.users = 1;
                queue.dlpi_rx().set_via_mac(true);
                Ok(())
            }
            Err(e) => {
                s.phase = Phase::Closed;
                Err(e)
            }
        };
        drop(s);
        self.cv.broadcast();
        out
    }

    /// Give back the share of the stream of `queue` (unbind, close); the
    /// last one tears the client down.  Blocks: control task or close.
    pub fn close(&self, k: &K, queue: &Queue<K>) {
        if !queue.dlpi_rx().take_via_mac() {
            return;
        }
        let h = {
            let s = self.slot.lock();
            let mut s = self.slot.wait_until(s, &self.cv, |s| matches!(s.phase, Phase::Closed | Phase::Open));
            if s.phase != Phase::Open {
                return;
            }
            s.users = s.users.saturating_sub(1);
            if s.users > 0 {
                return;
            }
            s.phase = Phase::Closing;
            let h = s.h.take();
            drop(self.slot.wait_until(s, &self.cv, |s| s.tx_busy == 0));
            h
        };
        if let Some(h) = h {
            k.mac_rx_clear(h.mch);
            // The handle is the one mac gave this client: removal cannot
            // fail for a reason we could act on (mac_client.c).
            let _ = k.mac_unicast_remove(h.mch, h.muh);
            k.mac_client_close(h.mch, 0);
            k.mac_close(h.mh);
            // SAFETY: made by the opener with its matching free;
            // mac_rx_clear has returned, so the callback no longer uses it.
            unsafe { (h.free_rx)(h.rx) };
        }
        self.slot.lock().phase = Phase::Closed;
        self.cv.broadcast();
    }

    /// Send one Ethernet frame from IP through mac.  `Err(msg)` when the
    /// client is not open.  Never blocks (put procedure).
    pub fn tx(&self, k: &K, msg: MsgBlk<K>) -> Result<(), MsgBlk<K>> {
        let mch = {
            let mut s = self.slot.lock();
            let Some(h) = s.h.as_ref() else { return Err(msg) };
            let mch = h.mch;
            s.tx_busy += 1;
            mch
        };
        // SAFETY: the client stays open while tx_busy > 0 (close waits);
        // the message is handed over.
        let rest = unsafe { k.mac_tx(mch, msg.into_raw(), sys::MAC_DROP_ON_NO_DESC) };
        // With MAC_DROP_ON_NO_DESC nothing comes back; free it if it does.
        // SAFETY: an owned chain mac handed back.
        drop(unsafe { MsgChain::<K>::from_raw(rest) });
        let mut s = self.slot.lock();
        s.tx_busy -= 1;
        let idle = s.tx_busy == 0;
        drop(s);
        if idle {
            self.cv.broadcast();
        }
        Ok(())
    }
}

impl<K: Kernel> Default for MacPath<K> {
    fn default() -> Self {
        Self::new()
    }
}

