// SPDX-License-Identifier: MPL-2.0
//! [`SimKernel`]'s implementation of the driver's [`Kernel`] trait: each
//! service checks the rules that apply where it is called and dispatches
//! to the module that models it (`mblk`, `streams`, `mac`, `dls`, ...).

use std::ffi::c_void;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use illumos_sys_hdrs::{ENOMEM, MAC_PRIVATE_MINOR, mac_register_t, mblk_t, queue_t};
use tuntap_abi::{DatalinkId, LinkName};
use tuntap_drv::ddi::{LdiHandle, 
    Cred, DeferredTask, DlmgmtLink, Errno, Kernel, LinkState, MacClientHandle, MacHandle, MacRxFn, MacUnicastHandle,
    Probe, PropInfoHandle, PropPerm, ZoneId,
};

use crate::sync::{SimCondvar, SimMutex};
use crate::context::{self, Ctx};
use crate::{dls, mac, mblk, streams};

use crate::host::{SimKernel, lock};
use crate::worker::Job;

impl Kernel for SimKernel {
    type Mutex = SimMutex;
    type Condvar = SimCondvar;

    fn allocb(&self, size: usize) -> *mut mblk_t {
        if self.0.take_allocb_failure() {
            return std::ptr::null_mut();
        }
        mblk::allocb(&self.0, size)
    }

    #[track_caller]
    unsafe fn freemsg(mp: *mut mblk_t) {
        // SAFETY: forwarded contract; the block header identifies the host.
        unsafe { mblk::freemsg_any(mp, Location::caller()) }
    }

    unsafe fn msgpullup(&self, mp: *mut mblk_t) -> *mut mblk_t {
        if self.0.take_allocb_failure() {
            return std::ptr::null_mut();
        }
        mblk::msgpullup(&self.0, mp)
    }

    #[track_caller]
    unsafe fn hcksum_get(&self, mp: *const mblk_t) -> tuntap_drv::ddi::Hcksum {
        crate::offload::hcksum_get(&self.0, mp, Location::caller())
    }

    #[track_caller]
    unsafe fn hcksum_set(&self, mp: *mut mblk_t, h: tuntap_drv::ddi::Hcksum) {
        crate::offload::hcksum_set(&self.0, mp, h, Location::caller())
    }

    #[track_caller]
    unsafe fn lso_get(&self, mp: *mut mblk_t) -> Option<u32> {
        crate::offload::lso_get(&self.0, mp, Location::caller())
    }

    #[track_caller]
    unsafe fn putnext(&self, q: *mut queue_t, mp: *mut mblk_t) {
        streams::putnext(&self.0, q, mp, "putnext");
    }

    #[track_caller]
    unsafe fn canputnext(&self, q: *mut queue_t) -> bool {
        streams::canputnext(&self.0, q)
    }

    #[track_caller]
    unsafe fn qreply(&self, q: *mut queue_t, mp: *mut mblk_t) {
        streams::qreply(&self.0, q, mp);
    }

    #[track_caller]
    unsafe fn qenable(&self, q: *mut queue_t) {
        streams::qenable(&self.0, q);
    }

    #[track_caller]
    unsafe fn qprocson(&self, q: *mut queue_t) {
        streams::qprocson(&self.0, q);
    }

    #[track_caller]
    unsafe fn qprocsoff(&self, q: *mut queue_t) {
        streams::qprocsoff(&self.0, q);
    }

    #[track_caller]
    fn mac_register(&self, fill: &mut dyn FnMut(&mut mac_register_t)) -> Result<MacHandle, Errno> {
        self.0.check_no_driver_locks("mac_register");
        mac::mac_register(&self.0, fill)
    }

    #[track_caller]
    fn mac_disable(&self, mh: MacHandle) -> Result<(), Errno> {
        self.0.check_no_driver_locks("mac_disable");
        mac::mac_disable(&self.0, mh)
    }

    #[track_caller]
    fn mac_unregister(&self, mh: MacHandle) -> Result<(), Errno> {
        self.0.check_no_driver_locks("mac_unregister");
        mac::mac_unregister(&self.0, mh)
    }

    #[track_caller]
    unsafe fn mac_rx(&self, mh: MacHandle, chain: *mut mblk_t) {
        self.0.check_no_driver_locks("mac_rx");
        mac::mac_rx(&self.0, mh, chain);
    }

    #[track_caller]
    fn mac_tx_update(&self, mh: MacHandle) {
        self.0.check_no_driver_locks("mac_tx_update");
        mac::mac_tx_update(&self.0, mh);
    }

    #[track_caller]
    fn mac_capab_update(&self, mh: MacHandle) {
        self.0.check_no_driver_locks("mac_capab_update");
        mac::mac_capab_update(&self.0, mh);
    }

    fn mac_lso_ipv6(&self) -> bool {
        self.0.mac_lso_ipv6.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[track_caller]
    fn mac_link_update(&self, mh: MacHandle, state: LinkState) {
        self.0.check_no_driver_locks("mac_link_update");
        mac::mac_link_update(&self.0, mh, state);
    }

    #[track_caller]
    fn mac_maxsdu_update(&self, mh: MacHandle, sdu: u32) -> Result<(), Errno> {
        self.0.check_no_driver_locks("mac_maxsdu_update");
        mac::mac_maxsdu_update(&self.0, mh, sdu)
    }

    #[track_caller]
    fn mac_unicst_update(&self, mh: MacHandle, addr: &[u8; 6]) {
        self.0.check_no_driver_locks("mac_unicst_update");
        mac::mac_unicst_update(&self.0, mh, addr);
    }

    fn mac_open_by_linkid(&self, linkid: DatalinkId) -> Result<MacHandle, Errno> {
        self.0.check_no_driver_locks("mac_open_by_linkid");
        mac::mac_open_by_linkid(&self.0, linkid)
    }

    fn mac_close(&self, mh: MacHandle) {
        self.0.check_no_driver_locks("mac_close");
        mac::mac_close(&self.0, mh);
    }

    fn mac_client_open(&self, mh: MacHandle, name: &[u8], _flags: u16) -> Result<MacClientHandle, Errno> {
        self.0.check_no_driver_locks("mac_client_open");
        mac::mac_client_open(&self.0, mh, name)
    }

    fn mac_client_close(&self, mch: MacClientHandle, _flags: u16) {
        self.0.check_no_driver_locks("mac_client_close");
        mac::mac_client_close(&self.0, mch);
    }

    fn mac_unicast_add_primary(&self, mch: MacClientHandle, flags: u16) -> Result<MacUnicastHandle, (Errno, i32)> {
        self.0.check_no_driver_locks("mac_unicast_add");
        mac::mac_unicast_add_primary(&self.0, mch, flags)
    }

    fn mac_unicast_remove(&self, mch: MacClientHandle, muh: MacUnicastHandle) -> Result<(), Errno> {
        self.0.check_no_driver_locks("mac_unicast_remove");
        mac::mac_unicast_remove(&self.0, mch, muh)
    }

    unsafe fn mac_rx_set(&self, mch: MacClientHandle, rx: MacRxFn, arg: *mut c_void) {
        self.0.check_no_driver_locks("mac_rx_set");
        mac::mac_rx_set(&self.0, mch, rx, arg);
    }

    fn mac_rx_clear(&self, mch: MacClientHandle) {
        self.0.check_no_driver_locks("mac_rx_clear");
        mac::mac_rx_clear(&self.0, mch);
    }

    fn ldi_open_by_name(&self, path: &[u8]) -> Result<LdiHandle, Errno> {
        self.0.check_no_driver_locks("ldi_open_by_name");
        crate::ldi::ldi_open_by_name(&self.0, path)
    }

    unsafe fn ldi_ioctl(&self, lh: LdiHandle, cmd: i32, arg: isize) -> Result<i32, Errno> {
        self.0.check_no_driver_locks("ldi_ioctl");
        // SAFETY: the caller's contract is ldi_ioctl's.
        unsafe { crate::ldi::ldi_ioctl(&self.0, lh, cmd, arg) }
    }

    fn ldi_ioctl_istr(&self, lh: LdiHandle, cmd: i32, data: &mut [u8], timeout_secs: i32) -> Result<i32, Errno> {
        self.0.check_no_driver_locks("ldi_ioctl");
        crate::ldi::ldi_ioctl_istr(&self.0, lh, cmd, data, timeout_secs)
    }

    fn ldi_close(&self, lh: LdiHandle) {
        self.0.check_no_driver_locks("ldi_close");
        crate::ldi::ldi_close(&self.0, lh);
    }

    fn is_kcred(&self, cr: Cred) -> bool {
        crate::ldi::is_kcred(&self.0, cr)
    }

    #[track_caller]
    unsafe fn mac_tx(&self, mch: MacClientHandle, chain: *mut mblk_t, flag: u16) -> *mut mblk_t {
        // mac_tx is called with no driver lock held (mac.c R14, as mac_rx).
        self.0.check_no_driver_locks("mac_tx");
        mac::mac_tx(&self.0, mch, chain, flag)
    }

    #[track_caller]
    fn mac_prop_info_set_default_uint32(&self, ph: PropInfoHandle, value: u32) {
        mac::prop_info_set(&self.0, ph, |p| p.default_u32 = Some(value));
    }

    #[track_caller]
    fn mac_prop_info_set_range_uint32(&self, ph: PropInfoHandle, min: u32, max: u32) {
        mac::prop_info_set(&self.0, ph, |p| p.ranges_u32.push((min, max)));
    }

    #[track_caller]
    fn mac_prop_info_set_perm(&self, ph: PropInfoHandle, perm: PropPerm) {
        mac::prop_info_set(&self.0, ph, |p| p.perm = Some(perm));
    }

    #[track_caller]
    fn dls_devnet_create(&self, mh: MacHandle, linkid: DatalinkId, zone: ZoneId) -> Result<(), Errno> {
        self.0.check_no_driver_locks("dls_devnet_create");
        dls::dls_devnet_create(&self.0, mh, linkid, zone)
    }

    #[track_caller]
    fn dls_devnet_destroy(&self, mh: MacHandle) -> Result<DatalinkId, Errno> {
        self.0.check_no_driver_locks("dls_devnet_destroy");
        dls::dls_devnet_destroy(&self.0, mh)
    }

    #[track_caller]
    fn dls_mgmt_create(&self, name: &LinkName) -> Result<DatalinkId, Errno> {
        self.0.check_no_driver_locks("dls_mgmt_create");
        dls::dls_mgmt_create(&self.0, name)
    }

    #[track_caller]
    fn dls_mgmt_linkinfo(&self, linkid: DatalinkId) -> Result<DlmgmtLink, Errno> {
        self.0.check_no_driver_locks("dls_mgmt_get_linkinfo");
        dls::dls_mgmt_linkinfo(&self.0, linkid)
    }

    #[track_caller]
    fn dls_mgmt_linkid(&self, name: &LinkName) -> Result<DatalinkId, Errno> {
        self.0.check_no_driver_locks("dls_mgmt_get_linkid");
        dls::dls_mgmt_linkid(&self.0, name)
    }

    #[track_caller]
    fn dls_devnet_setzid(&self, linkid: DatalinkId, zone: ZoneId) -> Result<(), Errno> {
        self.0.check_no_driver_locks("dls_devnet_setzid");
        dls::dls_devnet_setzid(&self.0, linkid, zone)
    }

    #[track_caller]
    fn dls_mgmt_destroy(&self, linkid: DatalinkId) -> Result<(), Errno> {
        dls::dls_mgmt_destroy(&self.0, linkid)
    }

    #[track_caller]
    fn cred_hold(&self, cr: Cred) {
        dls::cred_hold(&self.0, cr);
    }

    #[track_caller]
    fn cred_release(&self, cr: Cred) {
        dls::cred_release(&self.0, cr);
    }

    fn cred_zone(&self, cr: Cred) -> ZoneId {
        dls::cred_read(&self.0, cr).map(|c| c.zone).unwrap_or(-1)
    }

    #[track_caller]
    fn cred_uid(&self, cr: Cred) -> u32 {
        dls::cred_read(&self.0, cr).map(|c| c.uid).unwrap_or(u32::MAX)
    }

    #[track_caller]
    fn cred_gid(&self, cr: Cred) -> u32 {
        dls::cred_read(&self.0, cr).map(|c| c.gid).unwrap_or(u32::MAX)
    }

    #[track_caller]
    fn cred_in_group(&self, cr: Cred, gid: u32) -> bool {
        dls::cred_read(&self.0, cr).map(|c| c.gid == gid || c.groups.contains(&gid)).unwrap_or(false)
    }

    #[track_caller]
    fn secpolicy_dl_config(&self, cr: Cred) -> Result<(), Errno> {
        match dls::cred_read(&self.0, cr) {
            Some(c) if c.privs.dl_config => Ok(()),
            _ => Err(illumos_sys_hdrs::EPERM),
        }
    }

    #[track_caller]
    fn current_pid(&self) -> i32 {
        context::caller_pid(&self.0, "ddi_get_pid")
    }

    /// As coarse as the illumos implementation (`tuntap-drv`
    /// src/illumos/kernel.rs): `ddi_get_time(9F)` counts whole seconds,
    /// so the driver sees wall-clock time truncated to the second.  A
    /// finer clock here hid that (issue 15).
    fn wall_clock_ns(&self) -> u64 {
        let ns = self.hrestime_ns();
        ns - ns % 1_000_000_000
    }

    fn random_bytes(&self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let r = self.0.next_random().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }

    fn probe(&self, probe: Probe<'_>) {
        lock(&self.0.probes).push(probe.into());
    }

    /// `cmn_err(CE_WARN)`: recorded as the console would show it.
    fn warn(&self, args: std::fmt::Arguments<'_>) {
        lock(&self.0.console).push(format!("WARNING: tuntap: {args}"));
    }

    unsafe fn defer(&self, task: DeferredTask, arg: *mut c_void) -> Result<(), Errno> {
        if self
            .0
            .defer_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(ENOMEM);
        }
        let host = Arc::downgrade(&self.0);
        let arg = arg as usize;
        // Deferred work runs late: work dispatched from the data path
        // (mc_tx, a service procedure, a mac callback) is held until
        // someone waits for its effect (a mac client or observer
        // receiving), the test settles, or the taskq is destroyed —
        // never within the dispatching call, and as late as a loaded
        // kernel could run it, so work that outlives its object shows.
        // Control work dispatched from a put procedure runs as soon as
        // the worker is free: its caller waits for the reply.
        let late = matches!(context::current(), Ctx::MacTx | Ctx::MacCallback | Ctx::Service);
        let job: Job = Box::new(move || {
            if let Some(h) = host.upgrade() {
                let _g = context::enter(&h, Ctx::Taskq);
                // SAFETY: the driver keeps arg valid until the task ran.
                unsafe { task(arg as *mut c_void) };
            }
        });
        if late {
            self.0.taskq.push_late(job);
        } else {
            self.0.taskq.push(job);
        }
        Ok(())
    }

    /// Control work runs on a worker of its own, as on the kernel's
    /// multi-threaded control taskq: never behind the resolver replies
    /// that [`Kernel::defer`] holds back, and never within the put
    /// procedure that dispatched it.
    unsafe fn dispatch_control(&self, task: DeferredTask, arg: *mut c_void) -> Result<(), Errno> {
        if self
            .0
            .defer_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(ENOMEM);
        }
        let host = Arc::downgrade(&self.0);
        let arg = arg as usize;
        self.0.control.push(Box::new(move || {
            if let Some(h) = host.upgrade() {
                let _g = context::enter(&h, Ctx::Taskq);
                // SAFETY: the driver keeps arg valid until the task ran.
                unsafe { task(arg as *mut c_void) };
            }
        }));
        Ok(())
    }

    fn private_minor_base(&self) -> u32 {
        MAC_PRIVATE_MINOR
    }
}
