// SPDX-License-Identifier: MPL-2.0

//! The GLDv3 provider interface (illumos-gate
//! `usr/src/uts/common/sys/mac_provider.h`) and datalink naming
//! (`usr/src/uts/common/sys/dls.h`), backed by the simulator's mac and
//! dls.
//!
//! Theory statement.  `mac_register` hands the simulator a copy of the
//! module's `mac_register_t` whose `m_callbacks` points at a table of
//! trampolines with the same C signatures: each looks up the module's own
//! callback (by `m_driver`, the first argument of every callback) and
//! runs it on the kernel stack under its name (`mc_tx`, `mc_getstat`,
//! ...), so the simulator's mac drives the module's real callbacks and
//! their stack use is measured.  `mac_init_ops` does what dld's
//! `dld_init_ops` (usr/src/uts/common/io/dld/dld_drv.c) does: it points
//! `cb_ops->cb_str` at dld's streamtab (here a loader-owned one without
//! procedures: dld itself is not modelled, so a DLPI open of a link minor
//! through the provider's major is outside this loader) and fills
//! `devo_getinfo` with dld's getinfo if the driver left it NULL.
//! `dls_mgmt_create` files the link in the zone of the calling thread,
//! as dlmgmtd does with the upcall's credential (the simulator decides it
//! from the context it recorded: open/close, put, taskq, ...).  The
//! temporary devnet holds of `dls_devnet_hold_tmp` are counted; one left
//! at unload is a finding.
//!
//! Locks: the `State` tables only.

use std::ffi::{c_char, c_int, c_void};
use std::ptr::{self, NonNull};

use illumos_sys_hdrs::{
    DDI_FAILURE, DDI_INFO_DEVT2DEVINFO, DDI_INFO_DEVT2INSTANCE, DDI_SUCCESS, EINVAL, ENOENT,
    MAC_VERSION, boolean_t, dev_info_t, dev_ops, dev_t, mac_callbacks_t, mac_register_t, mblk_t,
    module_info, qinit, queue_t, streamtab,
};
use tuntap_abi::{LINK_NAME_LEN, LinkName};
use tuntap_drv::ddi::{Kernel, LinkState, MacHandle, PropInfoHandle, PropPerm};

use super::{cstr, lock, st};
use crate::kstack::{enter, host};

pub fn table() -> Vec<(&'static str, usize)> {
    vec![
        f!(mac_alloc), f!(mac_free), f!(mac_register), f!(mac_unregister), f!(mac_disable),
        f!(mac_rx), f!(mac_tx_update), f!(mac_link_update), f!(mac_maxsdu_update),
        f!(mac_unicst_update), f!(mac_init_ops), f!(mac_fini_ops), f!(mac_private_minor),
        f!(mac_getinfo), f!(mac_prop_info_set_default_uint32), f!(mac_prop_info_set_range_uint32),
        f!(mac_prop_info_set_perm), f!(mac_capab_update), f!(mac_hcksum_get), f!(mac_hcksum_set),
        f!(mac_lso_get),
        f!(dls_devnet_create), f!(dls_devnet_destroy), f!(dls_mgmt_create), f!(dls_mgmt_destroy),
        f!(dls_mgmt_get_linkid), f!(dls_mgmt_get_linkinfo), f!(dls_devnet_hold_tmp),
        f!(dls_devnet_setzid), f!(dls_devnet_rele_tmp),
    ]
}

fn handle(mh: *mut c_void) -> Option<MacHandle> {
    let h = NonNull::new(mh).map(MacHandle);
    if h.is_none() {
        host(|| st().error("a mac function was called with a NULL mac_handle_t".into()));
    }
    h
}

/// `mac_register_t *mac_alloc(uint_t mac_version)` (mac_provider.h):
/// NULL for a version this mac does not know.
unsafe extern "C" fn mac_alloc(version: u32) -> *mut mac_register_t {
    if version != MAC_VERSION {
        return ptr::null_mut();
    }
    host(|| {
        let r = super::kmem::kmem_raw(std::mem::size_of::<mac_register_t>(), true).cast::<mac_register_t>();
        // SAFETY: a fresh zeroed buffer of the right size.
        unsafe { (*r).m_version = version };
        r
    })
}
/// `void mac_free(mac_register_t *)` (mac_provider.h).
unsafe extern "C" fn mac_free(r: *mut mac_register_t) {
    host(|| super::kmem::kmem_free_raw(r.cast(), std::mem::size_of::<mac_register_t>()))
}

/// The module's callbacks registered with driver argument `arg`.
fn cb(arg: *mut c_void) -> mac_callbacks_t {
    host(|| {
        let s = st();
        let t = lock(&s.callbacks);
        match t.get(&(arg as usize)) {
            // SAFETY: a bitwise copy of plain function pointers.
            Some(c) => unsafe { ptr::read(c) },
            None => {
                eprintln!("kloader: mac callback for unknown driver argument {arg:p}");
                std::process::abort()
            }
        }
    })
}

macro_rules! tramp {
    ($name:ident, $field:ident, ($($a:ident : $t:ty),*) -> $r:ty, $none:expr) => {
        unsafe extern "C" fn $name(arg: *mut c_void $(, $a: $t)*) -> $r {
            match cb(arg).$field {
                // SAFETY: the module's own callback with the arguments mac gave.
                Some(f) => enter(stringify!($field), || unsafe { f(arg $(, $a)*) }),
                None => $none,
            }
        }
    };
}

tramp!(t_getstat, mc_getstat, (stat: u32, val: *mut u64) -> c_int, illumos_sys_hdrs::ENOTSUP);
tramp!(t_start, mc_start, () -> c_int, 0);
tramp!(t_stop, mc_stop, () -> (), ());
tramp!(t_setpromisc, mc_setpromisc, (on: boolean_t) -> c_int, 0);
tramp!(t_multicst, mc_multicst, (add: boolean_t, addr: *const u8) -> c_int, 0);
tramp!(t_unicst, mc_unicst, (addr: *const u8) -> c_int, 0);
tramp!(t_tx, mc_tx, (mp: *mut mblk_t) -> *mut mblk_t, mp);
tramp!(t_ioctl, mc_ioctl, (q: *mut queue_t, mp: *mut mblk_t) -> (), ());
tramp!(t_getcapab, mc_getcapab, (cap: u32, data: *mut c_void) -> boolean_t, 0);
tramp!(t_open, mc_open, () -> c_int, 0);
tramp!(t_close, mc_close, () -> (), ());
tramp!(t_setprop, mc_setprop, (name: *const c_char, id: c_int, size: u32, val: *const c_void) -> c_int, illumos_sys_hdrs::ENOTSUP);
tramp!(t_getprop, mc_getprop, (name: *const c_char, id: c_int, size: u32, val: *mut c_void) -> c_int, illumos_sys_hdrs::ENOTSUP);
tramp!(t_propinfo, mc_propinfo, (name: *const c_char, id: c_int, ph: illumos_sys_hdrs::mac_prop_info_handle_t) -> (), ());

/// The trampoline table for the module's table `c` (same fields present).
fn wrapped(c: &mac_callbacks_t) -> mac_callbacks_t {
    mac_callbacks_t {
        mc_callbacks: c.mc_callbacks,
        mc_getstat: c.mc_getstat.map(|_| t_getstat as _),
        mc_start: c.mc_start.map(|_| t_start as _),
        mc_stop: c.mc_stop.map(|_| t_stop as _),
        mc_setpromisc: c.mc_setpromisc.map(|_| t_setpromisc as _),
        mc_multicst: c.mc_multicst.map(|_| t_multicst as _),
        mc_unicst: c.mc_unicst.map(|_| t_unicst as _),
        mc_tx: c.mc_tx.map(|_| t_tx as _),
        mc_reserved: c.mc_reserved,
        mc_ioctl: c.mc_ioctl.map(|_| t_ioctl as _),
        mc_getcapab: c.mc_getcapab.map(|_| t_getcapab as _),
        mc_open: c.mc_open.map(|_| t_open as _),
        mc_close: c.mc_close.map(|_| t_close as _),
        mc_setprop: c.mc_setprop.map(|_| t_setprop as _),
        mc_getprop: c.mc_getprop.map(|_| t_getprop as _),
        mc_propinfo: c.mc_propinfo.map(|_| t_propinfo as _),
    }
}

/// `int mac_register(mac_register_t *, mac_handle_t *)` (mac_provider.h).
unsafe extern "C" fn mac_register(reg: *mut mac_register_t, mhp: *mut *mut c_void) -> c_int {
    host(|| {
        let s = st();
        if reg.is_null() || mhp.is_null() {
            s.error("mac_register with a NULL argument".into());
            return EINVAL;
        }
        // SAFETY: the module's register structure from mac_alloc.
        let r = unsafe { &*reg };
        if r.m_callbacks.is_null() {
            s.error("mac_register: m_callbacks is NULL".into());
            return EINVAL;
        }
        // SAFETY: the module's static callback table.
        let own = unsafe { ptr::read(r.m_callbacks) };
        let table = Box::into_raw(Box::new(wrapped(&own)));
        lock(&s.callbacks).insert(r.m_driver as usize, own);
        lock(&s.wrapped_tables).push(table as usize);
        let res = s.sim.mac_register(&mut |dst: &mut mac_register_t| {
            // SAFETY: both are mac_register_t; dst is the simulator's copy.
            unsafe { ptr::copy_nonoverlapping(reg, dst, 1) };
            dst.m_callbacks = table;
        });
        match res {
            Ok(mh) => {
                // SAFETY: mhp checked non-NULL.
                unsafe { *mhp = mh.0.as_ptr() };
                0
            }
            Err(e) => e,
        }
    })
}
/// `int mac_unregister(mac_handle_t)` (mac_provider.h).
unsafe extern "C" fn mac_unregister(mh: *mut c_void) -> c_int {
    host(|| handle(mh).map_or(EINVAL, |h| st().sim.mac_unregister(h).err().unwrap_or(0)))
}
/// `int mac_disable(mac_handle_t)` (mac_provider.h).
unsafe extern "C" fn mac_disable(mh: *mut c_void) -> c_int {
    host(|| handle(mh).map_or(EINVAL, |h| st().sim.mac_disable(h).err().unwrap_or(0)))
}
/// `void mac_rx(mac_handle_t, mac_resource_handle_t, mblk_t *)` (mac_provider.h).
unsafe extern "C" fn mac_rx(mh: *mut c_void, _mrh: *mut c_void, chain: *mut mblk_t) {
    // SAFETY: the module hands its chain to mac.
    host(|| {
        if let Some(h) = handle(mh) {
            unsafe { st().sim.mac_rx(h, chain) }
        }
    })
}
/// `void mac_tx_update(mac_handle_t)` (mac_provider.h).
unsafe extern "C" fn mac_tx_update(mh: *mut c_void) {
    host(|| {
        if let Some(h) = handle(mh) {
            st().sim.mac_tx_update(h)
        }
    })
}
/// `void mac_capab_update(mac_handle_t)` (mac_provider.h).
unsafe extern "C" fn mac_capab_update(mh: *mut c_void) {
    host(|| {
        if let Some(h) = handle(mh) {
            st().sim.mac_capab_update(h)
        }
    })
}
/// `void mac_hcksum_get(const mblk_t *, uint32_t *start, uint32_t *stuff,
/// uint32_t *end, uint32_t *value, uint32_t *flags)` (mac_provider.h);
/// each out pointer may be NULL.
unsafe extern "C" fn mac_hcksum_get(
    mp: *const mblk_t,
    start: *mut u32,
    stuff: *mut u32,
    end: *mut u32,
    value: *mut u32,
    flags: *mut u32,
) {
    host(|| {
        // SAFETY: the module passes one of its messages.
        let h = unsafe { st().sim.hcksum_get(mp) };
        for (p, v) in [(start, h.start), (stuff, h.stuff), (end, h.end), (value, h.value), (flags, h.flags)] {
            // SAFETY: a NULL or valid uint32_t out pointer (mac(9F) contract).
            if let Some(p) = unsafe { p.as_mut() } {
                *p = v;
            }
        }
    })
}
/// `void mac_hcksum_set(mblk_t *, uint32_t, uint32_t, uint32_t, uint32_t,
/// uint32_t)` (mac_provider.h).
unsafe extern "C" fn mac_hcksum_set(mp: *mut mblk_t, start: u32, stuff: u32, end: u32, value: u32, flags: u32) {
    let h = tuntap_drv::ddi::Hcksum { flags, start, stuff, end, value };
    // SAFETY: the module passes one of its messages.
    host(|| unsafe { st().sim.hcksum_set(mp, h) })
}
/// `void mac_lso_get(mblk_t *, uint32_t *mss, uint32_t *flags)` (mac_provider.h).
unsafe extern "C" fn mac_lso_get(mp: *mut mblk_t, mss: *mut u32, flags: *mut u32) {
    host(|| {
        // SAFETY: the module passes one of its messages.
        let got = unsafe { st().sim.lso_get(mp) };
        // SAFETY: NULL or valid uint32_t out pointers (mac(9F) contract).
        unsafe {
            if let Some(f) = flags.as_mut() {
                *f = if got.is_some() { illumos_sys_hdrs::HW_LSO } else { 0 };
            }
            if let (Some(m), Some(v)) = (mss.as_mut(), got) {
                *m = v;
            }
        }
    })
}
/// `void mac_link_update(mac_handle_t, link_state_t)` (mac_provider.h).
unsafe extern "C" fn mac_link_update(mh: *mut c_void, state: c_int) {
    host(|| {
        let s = st();
        let ls = match state {
            -1 => LinkState::Unknown,
            0 => LinkState::Down,
            1 => LinkState::Up,
            other => {
                s.error(format!("mac_link_update with link_state_t {other}"));
                return;
            }
        };
        if let Some(h) = handle(mh) {
            s.sim.mac_link_update(h, ls)
        }
    })
}
/// `int mac_maxsdu_update(mac_handle_t, uint_t)` (mac_provider.h).
unsafe extern "C" fn mac_maxsdu_update(mh: *mut c_void, sdu: u32) -> c_int {
    host(|| handle(mh).map_or(EINVAL, |h| st().sim.mac_maxsdu_update(h, sdu).err().unwrap_or(0)))
}
/// `void mac_unicst_update(mac_handle_t, const uint8_t *)` (mac_provider.h).
unsafe extern "C" fn mac_unicst_update(mh: *mut c_void, addr: *const u8) {
    host(|| {
        // SAFETY: an ETHERADDRL-byte address (mac_ether's length).
        let a = unsafe { ptr::read(addr.cast::<[u8; 6]>()) };
        if let Some(h) = handle(mh) {
            st().sim.mac_unicst_update(h, &a)
        }
    })
}
/// `void mac_prop_info_set_default_uint32(mac_prop_info_handle_t, uint32_t)`.
unsafe extern "C" fn mac_prop_info_set_default_uint32(ph: *mut c_void, v: u32) {
    host(|| st().sim.mac_prop_info_set_default_uint32(PropInfoHandle(ph), v))
}
/// `void mac_prop_info_set_range_uint32(mac_prop_info_handle_t, uint32_t, uint32_t)`.
unsafe extern "C" fn mac_prop_info_set_range_uint32(ph: *mut c_void, lo: u32, hi: u32) {
    host(|| st().sim.mac_prop_info_set_range_uint32(PropInfoHandle(ph), lo, hi))
}
/// `void mac_prop_info_set_perm(mac_prop_info_handle_t, uint8_t)`.
unsafe extern "C" fn mac_prop_info_set_perm(ph: *mut c_void, perm: u8) {
    host(|| {
        let s = st();
        let p = match perm {
            illumos_sys_hdrs::MAC_PROP_PERM_READ => PropPerm::Read,
            illumos_sys_hdrs::MAC_PROP_PERM_WRITE => PropPerm::Write,
            illumos_sys_hdrs::MAC_PROP_PERM_RW => PropPerm::ReadWrite,
            other => {
                s.error(format!("mac_prop_info_set_perm with mac_prop_perm_t {other}"));
                return;
            }
        };
        s.sim.mac_prop_info_set_perm(PropInfoHandle(ph), p)
    })
}
/// `minor_t mac_private_minor(void)` (mac_provider.h).
unsafe extern "C" fn mac_private_minor() -> u32 {
    host(|| st().sim.private_minor_base())
}

/// The streamtab mac_init_ops installs (dld's, without procedures).
struct DldTab {
    _info: module_info,
    rinit: qinit,
    winit: qinit,
    tab: streamtab,
}

/// `void mac_init_ops(struct dev_ops *, const char *)` (mac_provider.h).
unsafe extern "C" fn mac_init_ops(ops: *mut dev_ops, _name: *const c_char) {
    host(|| {
        let s = st();
        if ops.is_null() {
            s.error("mac_init_ops(NULL)".into());
            return;
        }
        // SAFETY: zeroed qinit/module_info/streamtab are valid (no procedures).
        let tab: &'static mut DldTab = Box::leak(Box::new(unsafe { std::mem::zeroed::<DldTab>() }));
        tab.rinit.qi_minfo = &raw mut tab._info;
        tab.winit.qi_minfo = &raw mut tab._info;
        tab.tab.st_rdinit = &raw mut tab.rinit;
        tab.tab.st_wrinit = &raw mut tab.winit;
        // SAFETY: the module's dev_ops, which mac_init_ops may write.
        unsafe {
            let cb = (*ops).devo_cb_ops;
            if cb.is_null() {
                s.error("mac_init_ops: devo_cb_ops is NULL".into());
                return;
            }
            (*cb).cb_str = &raw mut tab.tab;
            if (*ops).devo_getinfo.is_none() {
                (*ops).devo_getinfo = Some(mac_getinfo);
            }
        }
        lock(&s.mac_ops).push(ops as usize);
    })
}
/// `void mac_fini_ops(struct dev_ops *)` (mac_provider.h).
unsafe extern "C" fn mac_fini_ops(ops: *mut dev_ops) {
    host(|| {
        let s = st();
        let mut m = lock(&s.mac_ops);
        match m.iter().position(|o| *o == ops as usize) {
            Some(p) => {
                m.remove(p);
                // SAFETY: checked in mac_init_ops.
                unsafe { (*(*ops).devo_cb_ops).cb_str = ptr::null_mut() };
            }
            None => {
                drop(m);
                s.error("mac_fini_ops on dev_ops mac_init_ops never saw".into());
            }
        }
    })
}
/// `int mac_getinfo(dev_info_t *, ddi_info_cmd_t, void *, void **)`
/// (mac_provider.h): every minor of a mac provider belongs to instance 0
/// of the driver here (dld_getinfo maps minors to instances).
unsafe extern "C" fn mac_getinfo(_dip: *mut dev_info_t, cmd: c_int, _arg: *mut c_void, res: *mut *mut c_void) -> c_int {
    host(|| {
        let s = st();
        if res.is_null() {
            return DDI_FAILURE;
        }
        let dip = lock(&s.dips).get("tuntap").copied();
        let v = match (cmd, dip) {
            (DDI_INFO_DEVT2DEVINFO, Some(d)) => d as *mut c_void,
            (DDI_INFO_DEVT2INSTANCE, _) => ptr::null_mut(),
            _ => return DDI_FAILURE,
        };
        // SAFETY: res checked non-NULL.
        unsafe { *res = v };
        DDI_SUCCESS
    })
}

/// `int dls_devnet_create(mac_handle_t, datalink_id_t, zoneid_t)` (dls.h).
unsafe extern "C" fn dls_devnet_create(mh: *mut c_void, linkid: u32, zone: c_int) -> c_int {
    host(|| handle(mh).map_or(EINVAL, |h| st().sim.dls_devnet_create(h, linkid, zone).err().unwrap_or(0)))
}
/// `int dls_devnet_destroy(mac_handle_t, datalink_id_t *, boolean_t)` (dls.h).
unsafe extern "C" fn dls_devnet_destroy(mh: *mut c_void, idp: *mut u32, _wait: boolean_t) -> c_int {
    host(|| match handle(mh).map(|h| st().sim.dls_devnet_destroy(h)) {
        Some(Ok(id)) => {
            if !idp.is_null() {
                // SAFETY: the module's out-pointer.
                unsafe { *idp = id };
            }
            0
        }
        Some(Err(e)) => e,
        None => EINVAL,
    })
}
/// `int dls_mgmt_create(const char *, dev_t, datalink_class_t, uint32_t
/// media, boolean_t persist, datalink_id_t *)` (dls.h).  dlmgmtd files
/// the link in the zone of the calling thread (the simulator's context
/// rule: the process's zone in open/close, the global zone elsewhere).
unsafe extern "C" fn dls_mgmt_create(name: *const c_char, _dev: dev_t, class: c_int, media: u32, _persist: boolean_t, idp: *mut u32) -> c_int {
    host(|| {
        let s = st();
        if class != illumos_sys_hdrs::DATALINK_CLASS_MISC || media != illumos_sys_hdrs::DL_ETHER {
            s.error(format!("dls_mgmt_create(class {class}, media {media}): the simulated dlmgmtd makes MISC/Ether links only"));
            return EINVAL;
        }
        // SAFETY: NUL-terminated name.
        let n = unsafe { cstr(name) };
        let Ok(ln) = LinkName::new(&n) else { return EINVAL };
        match s.sim.dls_mgmt_create(&ln) {
            Ok(id) => {
                // SAFETY: the module's out-pointer.
                unsafe { *idp = id };
                0
            }
            Err(e) => e,
        }
    })
}
/// `int dls_mgmt_destroy(datalink_id_t, boolean_t)` (dls.h).
unsafe extern "C" fn dls_mgmt_destroy(linkid: u32, _persist: boolean_t) -> c_int {
    host(|| st().sim.dls_mgmt_destroy(linkid).err().unwrap_or(0))
}
/// `int dls_mgmt_get_linkid(const char *, datalink_id_t *)` (dls.h): the
/// id in the calling thread's zone.
unsafe extern "C" fn dls_mgmt_get_linkid(name: *const c_char, idp: *mut u32) -> c_int {
    host(|| {
        // SAFETY: NUL-terminated name.
        let n = unsafe { cstr(name) };
        let Ok(ln) = LinkName::new(&n) else { return ENOENT };
        match st().sim.dls_mgmt_linkid(&ln) {
            Ok(id) => {
                // SAFETY: the module's out-pointer.
                unsafe { *idp = id };
                0
            }
            Err(e) => e,
        }
    })
}
/// `int dls_mgmt_get_linkinfo(datalink_id_t, char *link, datalink_class_t
/// *, uint32_t *media, uint32_t *flags)` (dls.h): `link` has
/// MAXLINKNAMELEN bytes; flags report DLMGMT_ACTIVE (0x1, dls_mgmt.h).
unsafe extern "C" fn dls_mgmt_get_linkinfo(linkid: u32, link: *mut c_char, class: *mut c_int, media: *mut u32, flags: *mut u32) -> c_int {
    host(|| match st().sim.dls_mgmt_linkinfo(linkid) {
        Ok(l) => {
            // SAFETY: the module's out-pointers, each NULL or valid; link
            // has MAXLINKNAMELEN (LINK_NAME_LEN) bytes.
            unsafe {
                if !link.is_null() {
                    let b = l.name.to_bytes();
                    ptr::copy_nonoverlapping(b.as_ptr(), link.cast::<u8>(), LINK_NAME_LEN);
                }
                if !class.is_null() {
                    *class = l.class;
                }
                if !media.is_null() {
                    *media = l.media;
                }
                if !flags.is_null() {
                    *flags = 0x1;
                }
            }
            0
        }
        Err(e) => e,
    })
}

/// A `dls_dl_handle_t` from dls_devnet_hold_tmp: the held link id.
struct DevnetHold {
    linkid: u32,
}

/// `int dls_devnet_hold_tmp(datalink_id_t, dls_dl_handle_t *)` (dls.h):
/// a temporary hold of an existing link; ENOENT if dlmgmtd has none.
unsafe extern "C" fn dls_devnet_hold_tmp(linkid: u32, ddhp: *mut *mut c_void) -> c_int {
    host(|| {
        let s = st();
        if let Err(e) = s.sim.dls_mgmt_linkinfo(linkid) {
            return e;
        }
        let h = Box::into_raw(Box::new(DevnetHold { linkid }));
        lock(&s.devnet_holds).push(h as usize);
        // SAFETY: the module's out-pointer.
        unsafe { *ddhp = h.cast() };
        0
    })
}
/// `int dls_devnet_setzid(dls_dl_handle_t, zoneid_t)` (dls.h).
unsafe extern "C" fn dls_devnet_setzid(ddh: *mut c_void, zone: c_int) -> c_int {
    host(|| {
        let s = st();
        if !lock(&s.devnet_holds).contains(&(ddh as usize)) {
            s.error(format!("dls_devnet_setzid on {ddh:p}, not a held dls_dl_handle_t"));
            return EINVAL;
        }
        // SAFETY: a live hold made by dls_devnet_hold_tmp.
        let linkid = unsafe { (*ddh.cast::<DevnetHold>()).linkid };
        s.sim.dls_devnet_setzid(linkid, zone).err().unwrap_or(0)
    })
}
/// `void dls_devnet_rele_tmp(dls_dl_handle_t)` (dls.h).
unsafe extern "C" fn dls_devnet_rele_tmp(ddh: *mut c_void) {
    host(|| {
        let s = st();
        let mut holds = lock(&s.devnet_holds);
        match holds.iter().position(|h| *h == ddh as usize) {
            Some(i) => {
                holds.remove(i);
                // SAFETY: made by dls_devnet_hold_tmp, released once.
                drop(unsafe { Box::from_raw(ddh.cast::<DevnetHold>()) });
            }
            None => {
                drop(holds);
                s.error(format!("dls_devnet_rele_tmp of {ddh:p}, not a held dls_dl_handle_t"));
            }
        }
    })
}
