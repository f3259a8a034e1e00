// SPDX-License-Identifier: MPL-2.0
//! A lean implementation of the driver's [`Kernel`] trait, for
//! benchmarks only.
//!
//! # Theory statement
//!
//! The enforcing simulator (`tuntap-sim`) checks every DDI rule the
//! driver must keep, and its bookkeeping (an mblk registry, lock-owner
//! tracking, a stream head with user buffers, a mac client) costs far
//! more than the driver itself.  This crate gives the same driver code
//! the cheapest kernel that still behaves like illumos where the data
//! path can tell: message blocks in the real `mblk_t`/`dblk_t` layouts
//! from a per-thread pool ([`pool`]), plain spin-then-yield mutexes that
//! count their acquisitions ([`sync`]), a trivial stream head with flow
//! control ([`stream`]) and a mac stub that takes what `mac_rx` passes
//! up and lets a benchmark call the link's `mc_tx` ([`mac`]).  It checks
//! nothing: tests belong on the simulator; numbers from here measure the
//! driver's own cost.
//!
//! Everything a benchmark needs is in [`stream::Port`] (a `/dev/tun` or
//! `/dev/tap` stream opened on a [`Driver`]) and [`mac::LeanMac`].

// Nested `if let` reads better than let-chains here (as in tuntap-drv).
#![allow(clippy::collapsible_if)]

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use illumos_sys_hdrs::{mac_register_t, mblk_t, queue_t};
use tuntap_abi::{DatalinkId, LinkName};
use tuntap_drv::ddi::{LdiHandle, 
    Cred, DeferredTask, DlmgmtLink, Errno, Hcksum, Kernel, LinkState, MacClientHandle, MacHandle, MacRxFn,
    MacUnicastHandle, Probe, PropInfoHandle, PropPerm, ZoneId,
};

pub mod mac;
pub mod pool;
pub mod rig;
pub mod stream;
pub mod sync;

pub use tuntap_drv::Driver;

/// The lean kernel.  Clones share one state.
#[derive(Clone, Default)]
pub struct Lean(Arc<Inner>);

#[derive(Default)]
struct Inner {
    macs: Mutex<Vec<Arc<mac::LeanMac>>>,
    next_linkid: AtomicU32,
}

/// `EINVAL` (`usr/src/uts/common/sys/errno.h`).
const EINVAL: Errno = 22;
const ENOMEM: Errno = 12;

impl Lean {
    pub fn new() -> Self {
        Self::default()
    }

    /// The most recently registered mac (the link a benchmark created).
    pub fn last_mac(&self) -> Option<Arc<mac::LeanMac>> {
        self.0.macs.lock().ok()?.last().cloned()
    }
}

struct DeferArg(DeferredTask, usize);

impl Kernel for Lean {
    type Mutex = sync::LeanMutex;
    type Condvar = sync::LeanCondvar;

    fn allocb(&self, size: usize) -> *mut mblk_t {
        pool::allocb(size)
    }
    unsafe fn freemsg(mp: *mut mblk_t) {
        // SAFETY: the caller owns mp, a message of pooled blocks.
        unsafe { pool::freemsg(mp) }
    }
    unsafe fn msgpullup(&self, mp: *mut mblk_t) -> *mut mblk_t {
        // SAFETY: the caller's valid message.
        unsafe { pool::msgpullup(mp) }
    }

    unsafe fn hcksum_get(&self, mp: *const mblk_t) -> Hcksum {
        // SAFETY: the caller's valid message.
        unsafe { pool::hcksum_get(mp) }
    }
    unsafe fn hcksum_set(&self, mp: *mut mblk_t, h: Hcksum) {
        // SAFETY: the caller's valid message.
        unsafe { pool::hcksum_set(mp, h) }
    }
    unsafe fn lso_get(&self, mp: *mut mblk_t) -> Option<u32> {
        // SAFETY: the caller's valid message.
        unsafe { pool::lso_get(mp) }
    }

    unsafe fn putnext(&self, q: *mut queue_t, mp: *mut mblk_t) {
        // SAFETY: q is the read queue of a Port's stream.
        unsafe { stream::putnext(q, mp) }
    }
    unsafe fn canputnext(&self, q: *mut queue_t) -> bool {
        // SAFETY: as above.
        unsafe { stream::canputnext(q) }
    }
    unsafe fn qreply(&self, q: *mut queue_t, mp: *mut mblk_t) {
        // SAFETY: q is the write queue of a Port's stream.
        unsafe { stream::qreply(q, mp) }
    }
    unsafe fn qenable(&self, q: *mut queue_t) {
        // SAFETY: q is a queue of a Port's stream.
        unsafe { stream::qenable(q) }
    }
    unsafe fn qprocson(&self, _q: *mut queue_t) {}
    unsafe fn qprocsoff(&self, _q: *mut queue_t) {}

    fn mac_register(&self, fill: &mut dyn FnMut(&mut mac_register_t)) -> Result<MacHandle, Errno> {
        // SAFETY: mac_register_t is plain C data; all-zero is valid.
        let mut reg: mac_register_t = unsafe { std::mem::zeroed() };
        reg.m_version = illumos_sys_hdrs::MAC_VERSION;
        fill(&mut reg);
        let m = Arc::new(mac::LeanMac::new(&reg));
        let mh = MacHandle(NonNull::from(&*m).cast::<c_void>());
        self.0.macs.lock().map_err(|_| EINVAL)?.push(m);
        Ok(mh)
    }
    fn mac_disable(&self, _mh: MacHandle) -> Result<(), Errno> {
        Ok(())
    }
    fn mac_unregister(&self, mh: MacHandle) -> Result<(), Errno> {
        let mut macs = self.0.macs.lock().map_err(|_| EINVAL)?;
        macs.retain(|m| !std::ptr::eq(&**m, mh.0.as_ptr().cast::<mac::LeanMac>()));
        Ok(())
    }
    unsafe fn mac_rx(&self, mh: MacHandle, chain: *mut mblk_t) {
        // SAFETY: mh was made by mac_register from a LeanMac that lives
        // until mac_unregister, which the driver calls only after its
        // last upcall (Link::with_mac).
        let m = unsafe { &*mh.0.as_ptr().cast::<mac::LeanMac>() };
        // SAFETY: an owned b_next chain.
        unsafe { m.rx(chain) }
    }
    fn mac_tx_update(&self, mh: MacHandle) {
        // SAFETY: as in mac_rx.
        let m = unsafe { &*mh.0.as_ptr().cast::<mac::LeanMac>() };
        m.tx_update();
    }
    fn mac_capab_update(&self, _mh: MacHandle) {}
    // The old API's mac client (DLPI streams over a link) is not part of
    // the benchmarks: the lean kernel has none to open.
    fn mac_open_by_linkid(&self, _linkid: DatalinkId) -> Result<MacHandle, Errno> {
        Err(illumos_sys_hdrs::ENOTSUP)
    }
    fn mac_close(&self, _mh: MacHandle) {}
    fn mac_client_open(&self, _mh: MacHandle, _name: &[u8], _flags: u16) -> Result<MacClientHandle, Errno> {
        Err(illumos_sys_hdrs::ENOTSUP)
    }
    fn mac_client_close(&self, _mch: MacClientHandle, _flags: u16) {}
    fn mac_unicast_add_primary(&self, _mch: MacClientHandle, _flags: u16) -> Result<MacUnicastHandle, (Errno, i32)> {
        Err((illumos_sys_hdrs::ENOTSUP, 0))
    }
    fn mac_unicast_remove(&self, _mch: MacClientHandle, _muh: MacUnicastHandle) -> Result<(), Errno> {
        Err(illumos_sys_hdrs::ENOTSUP)
    }
    unsafe fn mac_rx_set(&self, _mch: MacClientHandle, _rx: MacRxFn, _arg: *mut c_void) {}
    fn mac_rx_clear(&self, _mch: MacClientHandle) {}
    unsafe fn mac_tx(&self, _mch: MacClientHandle, chain: *mut mblk_t, _flag: u16) -> *mut mblk_t {
        // Never reached (no client opens); hand the chain back unsent.
        chain
    }
    fn mac_lso_ipv6(&self) -> bool {
        true
    }
    // Nor is the old API's relay onto a dld stream (LDI).
    fn ldi_open_by_name(&self, _path: &[u8]) -> Result<LdiHandle, Errno> {
        Err(illumos_sys_hdrs::ENOTSUP)
    }
    unsafe fn ldi_ioctl(&self, _lh: LdiHandle, _cmd: i32, _arg: isize) -> Result<i32, Errno> {
        Err(illumos_sys_hdrs::ENOTSUP)
    }
    fn ldi_ioctl_istr(&self, _lh: LdiHandle, _cmd: i32, _data: &mut [u8], _timeout_secs: i32) -> Result<i32, Errno> {
        Err(illumos_sys_hdrs::ENOTSUP)
    }
    fn ldi_close(&self, _lh: LdiHandle) {}
    fn is_kcred(&self, _cr: Cred) -> bool {
        false
    }
    fn mac_link_update(&self, _mh: MacHandle, _state: LinkState) {}
    fn mac_maxsdu_update(&self, _mh: MacHandle, _sdu: u32) -> Result<(), Errno> {
        Ok(())
    }
    fn mac_unicst_update(&self, _mh: MacHandle, _addr: &[u8; 6]) {}
    fn mac_prop_info_set_default_uint32(&self, _ph: PropInfoHandle, _value: u32) {}
    fn mac_prop_info_set_range_uint32(&self, _ph: PropInfoHandle, _min: u32, _max: u32) {}
    fn mac_prop_info_set_perm(&self, _ph: PropInfoHandle, _perm: PropPerm) {}

    fn dls_devnet_create(&self, _mh: MacHandle, _linkid: DatalinkId, _zone: ZoneId) -> Result<(), Errno> {
        Ok(())
    }
    fn dls_devnet_destroy(&self, _mh: MacHandle) -> Result<DatalinkId, Errno> {
        Ok(0)
    }
    fn dls_devnet_setzid(&self, _linkid: DatalinkId, _zone: ZoneId) -> Result<(), Errno> {
        Ok(())
    }
    fn dls_mgmt_create(&self, _name: &LinkName) -> Result<DatalinkId, Errno> {
        Ok(self.0.next_linkid.fetch_add(1, Ordering::Relaxed) + 100)
    }
    fn dls_mgmt_linkinfo(&self, _linkid: DatalinkId) -> Result<DlmgmtLink, Errno> {
        Err(2) // ENOENT: the lean kernel makes links by attach-with-create only
    }
    fn dls_mgmt_linkid(&self, _name: &LinkName) -> Result<DatalinkId, Errno> {
        Err(2)
    }
    fn dls_mgmt_destroy(&self, _linkid: DatalinkId) -> Result<(), Errno> {
        Ok(())
    }

    fn cred_zone(&self, _cr: Cred) -> ZoneId {
        0
    }
    fn cred_uid(&self, _cr: Cred) -> u32 {
        0
    }
    fn cred_gid(&self, _cr: Cred) -> u32 {
        0
    }
    fn cred_in_group(&self, _cr: Cred, _gid: u32) -> bool {
        false
    }
    fn cred_hold(&self, _cr: Cred) {}
    fn cred_release(&self, _cr: Cred) {}
    fn secpolicy_dl_config(&self, _cr: Cred) -> Result<(), Errno> {
        Ok(())
    }
    fn current_pid(&self) -> i32 {
        std::process::id() as i32
    }

    fn wall_clock_ns(&self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
    }
    fn random_bytes(&self, out: &mut [u8]) {
        // Not secret: link MACs for benchmarks.
        for (i, b) in out.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
    }
    fn probe(&self, _probe: Probe<'_>) {}

    fn warn(&self, _args: core::fmt::Arguments<'_>) {}

    unsafe fn defer(&self, task: DeferredTask, arg: *mut c_void) -> Result<(), Errno> {
        let a = DeferArg(task, arg as usize);
        std::thread::Builder::new()
            .spawn(move || {
                let a = a;
                // SAFETY: the caller keeps arg valid until the task ran.
                unsafe { (a.0)(a.1 as *mut c_void) }
            })
            .map(|_| ())
            .map_err(|_| ENOMEM)
    }

    fn private_minor_base(&self) -> u32 {
        illumos_sys_hdrs::MAC_PRIVATE_MINOR
    }
}
