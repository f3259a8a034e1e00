// SPDX-License-Identifier: MPL-2.0
//! The mac stub: what a provider registered, a sink for `mac_rx`, and a
//! way for a benchmark to call the link's `mc_tx` as mac's transmit path
//! would (`mac_tx` -> `mc_tx` with a `b_next` chain).

use std::ffi::c_void;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use illumos_sys_hdrs::{mac_callbacks_t, mac_capab_t, mac_register_t, mblk_t};

use crate::pool;

pub struct LeanMac {
    callbacks: *const mac_callbacks_t,
    driver: *mut c_void,
    pub rx_packets: AtomicU64,
    pub rx_bytes: AtomicU64,
    pub tx_updates: AtomicU64,
    /// Keep copies of what `mac_rx` passed up (for a benchmark to check
    /// its packets arrived intact), instead of freeing them unseen.
    capture: AtomicBool,
    captured: Mutex<Vec<Vec<u8>>>,
}

// SAFETY: the callback table and driver pointer are the provider's, valid
// from mac_register until mac_unregister, and usable from any thread.
unsafe impl Send for LeanMac {}
// SAFETY: as above.
unsafe impl Sync for LeanMac {}

impl LeanMac {
    pub(crate) fn new(reg: &mac_register_t) -> Self {
        Self {
            callbacks: reg.m_callbacks,
            driver: reg.m_driver,
            rx_packets: AtomicU64::new(0),
            rx_bytes: AtomicU64::new(0),
            tx_updates: AtomicU64::new(0),
            capture: AtomicBool::new(false),
            captured: Mutex::new(Vec::new()),
        }
    }

    /// # Safety
    /// `chain` is an owned `b_next` chain.
    pub(crate) unsafe fn rx(&self, mut chain: *mut mblk_t) {
        let capture = self.capture.load(Ordering::Relaxed);
        let (mut n, mut bytes) = (0u64, 0u64);
        while !chain.is_null() {
            // SAFETY: each message of the owned chain is freed once.
            unsafe {
                let next = (*chain).b_next;
                (*chain).b_next = std::ptr::null_mut();
                let len = pool::msgdsize(chain);
                if capture {
                    let mut v = vec![0u8; len];
                    pool::copy_out(chain, &mut v);
                    if let Ok(mut c) = self.captured.lock() {
                        c.push(v);
                    }
                }
                pool::freemsg(chain);
                n += 1;
                bytes += len as u64;
                chain = next;
            }
        }
        self.rx_packets.fetch_add(n, Ordering::Relaxed);
        self.rx_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn tx_update(&self) {
        self.tx_updates.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_capture(&self, on: bool) {
        self.capture.store(on, Ordering::Relaxed);
    }

    pub fn take_captured(&self) -> Vec<Vec<u8>> {
        self.captured.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default()
    }

    /// Call the provider's `mc_tx` with an owned `b_next` chain; returns
    /// what it did not take (mac would retry it after `mac_tx_update`).
    ///
    /// # Safety
    /// `chain` is null or an owned chain of pooled messages.
    pub unsafe fn tx(&self, chain: *mut mblk_t) -> *mut mblk_t {
        // SAFETY: the provider registered this table and argument.
        unsafe {
            match (*self.callbacks).mc_tx {
                Some(f) => f(self.driver, chain),
                None => chain,
            }
        }
    }

    /// Call the provider's `mc_getcapab`.
    ///
    /// # Safety
    /// `data` points to the structure `cap` asks for.
    pub unsafe fn getcapab(&self, cap: mac_capab_t, data: *mut c_void) -> bool {
        // SAFETY: as in tx.
        unsafe {
            match (*self.callbacks).mc_getcapab {
                Some(f) => f(self.driver, cap, data) != 0,
                None => false,
            }
        }
    }
}
