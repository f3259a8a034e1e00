// SPDX-License-Identifier: MPL-2.0

//! The mac client interface (illumos-gate `usr/src/uts/common/sys/
//! mac_client.h`, and `mac_open_by_linkid` of `sys/mac.h`) the module
//! uses to make its old-API DLPI streams a client of their own link,
//! backed by the simulator's kernel clients (`tuntap-sim/src/mac/
//! kclient.rs`, which checks the rules).
//!
//! Theory statement.  Handles pass through unchanged.  `mac_rx_set`
//! registers a loader trampoline with the simulator: the module's
//! `mac_rx_t` and argument are boxed, and the trampoline runs the
//! module's function on the kernel stack under the name `mac_rx_t`, as
//! the mac callbacks are run.  The box lives until `mac_rx_clear` (after
//! which the simulator never calls the trampoline) or `mac_client_close`.
//!
//! Locks: `RX` only, never across a simulator call.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void};
use std::ptr::NonNull;
use std::sync::Mutex;

use illumos_sys_hdrs::{EINVAL, mblk_t};
use tuntap_drv::ddi::{Kernel, MacClientHandle, MacHandle, MacUnicastHandle};

use super::{lock, st};
use crate::kstack::{enter, host};

type ModuleRx = unsafe extern "C" fn(*mut c_void, *mut c_void, *mut mblk_t, c_int);

struct RxTramp {
    f: ModuleRx,
    arg: *mut c_void,
}

/// Registered trampolines by client handle (a `Box<RxTramp>` address).
static RX: Mutex<Option<HashMap<usize, usize>>> = Mutex::new(None);

pub fn table() -> Vec<(&'static str, usize)> {
    vec![
        f!(mac_open_by_linkid), f!(mac_close), f!(mac_client_open), f!(mac_client_close),
        f!(mac_unicast_add), f!(mac_unicast_remove), f!(mac_rx_set), f!(mac_rx_clear), f!(mac_tx),
    ]
}

fn client(mch: *mut c_void) -> Option<MacClientHandle> {
    let h = NonNull::new(mch).map(MacClientHandle);
    if h.is_none() {
        host(|| st().error("a mac client function was called with a NULL mac_client_handle_t".into()));
    }
    h
}

/// `int mac_open_by_linkid(datalink_id_t, mac_handle_t *)` (sys/mac.h).
unsafe extern "C" fn mac_open_by_linkid(linkid: u32, mhp: *mut *mut c_void) -> c_int {
    host(|| match st().sim.mac_open_by_linkid(linkid) {
        Ok(h) => {
            // SAFETY: the module's out-pointer.
            unsafe { *mhp = h.0.as_ptr() };
            0
        }
        Err(e) => e,
    })
}
/// `void mac_close(mac_handle_t)` (mac_client.h).
unsafe extern "C" fn mac_close(mh: *mut c_void) {
    host(|| match NonNull::new(mh) {
        Some(h) => st().sim.mac_close(MacHandle(h)),
        None => st().error("mac_close(NULL)".into()),
    })
}
/// `int mac_client_open(mac_handle_t, mac_client_handle_t *, char *,
/// uint16_t)` (mac_client.h).
unsafe extern "C" fn mac_client_open(mh: *mut c_void, mchp: *mut *mut c_void, name: *mut c_char, flags: u16) -> c_int {
    host(|| {
        let Some(h) = NonNull::new(mh) else { return EINVAL };
        let n = if name.is_null() {
            Vec::new()
        } else {
            // SAFETY: a NUL-terminated name the module owns for the call.
            unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes().to_vec()
        };
        match st().sim.mac_client_open(MacHandle(h), &n, flags) {
            Ok(c) => {
                // SAFETY: the module's out-pointer.
                unsafe { *mchp = c.0.as_ptr() };
                0
            }
            Err(e) => e,
        }
    })
}
/// `void mac_client_close(mac_client_handle_t, uint16_t)` (mac_client.h).
unsafe extern "C" fn mac_client_close(mch: *mut c_void, flags: u16) {
    host(|| {
        if let Some(c) = client(mch) {
            st().sim.mac_client_close(c, flags);
            free_tramp(mch);
        }
    })
}
/// `int mac_unicast_add(mac_client_handle_t, uint8_t *, uint16_t,
/// mac_unicast_handle_t *, uint16_t, mac_diag_t *)` (mac_client.h).  The
/// module registers only the primary address (addr NULL, vid 0).
unsafe extern "C" fn mac_unicast_add(
    mch: *mut c_void,
    addr: *mut u8,
    flags: u16,
    mahp: *mut *mut c_void,
    vid: u16,
    diag: *mut c_int,
) -> c_int {
    host(|| {
        let Some(c) = client(mch) else { return EINVAL };
        if !addr.is_null() || vid != 0 {
            st().error("mac_unicast_add with an explicit address or VLAN: only the primary is modelled".into());
            return EINVAL;
        }
        match st().sim.mac_unicast_add_primary(c, flags) {
            Ok(u) => {
                // SAFETY: the module's out-pointer.
                unsafe { *mahp = u.0.as_ptr() };
                0
            }
            Err((e, d)) => {
                if !diag.is_null() {
                    // SAFETY: the module's out-pointer.
                    unsafe { *diag = d };
                }
                e
            }
        }
    })
}
/// `int mac_unicast_remove(mac_client_handle_t, mac_unicast_handle_t)`.
unsafe extern "C" fn mac_unicast_remove(mch: *mut c_void, mah: *mut c_void) -> c_int {
    host(|| {
        let (Some(c), Some(u)) = (client(mch), NonNull::new(mah)) else { return EINVAL };
        st().sim.mac_unicast_remove(c, MacUnicastHandle(u)).err().unwrap_or(0)
    })
}

unsafe extern "C" fn rx_tramp(arg: *mut c_void, mrh: *mut c_void, chain: *mut mblk_t, lb: c_int) {
    // SAFETY: the box mac_rx_set registered, alive until mac_rx_clear.
    let t = unsafe { &*arg.cast_const().cast::<RxTramp>() };
    // SAFETY: the module's callback with its own argument and the chain.
    enter("mac_rx_t", || unsafe { (t.f)(t.arg, mrh, chain, lb) });
}

fn free_tramp(mch: *mut c_void) {
    let old = lock(&RX).get_or_insert_with(HashMap::new).remove(&(mch as usize));
    if let Some(p) = old {
        // SAFETY: made by Box::into_raw in mac_rx_set; the simulator no
        // longer calls it (mac_rx_clear or mac_client_close returned).
        drop(unsafe { Box::from_raw(p as *mut RxTramp) });
    }
}

/// `void mac_rx_set(mac_client_handle_t, mac_rx_t, void *)` (mac_client.h).
unsafe extern "C" fn mac_rx_set(mch: *mut c_void, f: Option<ModuleRx>, arg: *mut c_void) {
    host(|| {
        let (Some(c), Some(f)) = (client(mch), f) else { return };
        let t = Box::into_raw(Box::new(RxTramp { f, arg }));
        // SAFETY: t stays valid until mac_rx_clear / mac_client_close.
        unsafe { st().sim.mac_rx_set(c, rx_tramp, t.cast()) };
        let old = lock(&RX).get_or_insert_with(HashMap::new).insert(mch as usize, t as usize);
        if let Some(p) = old {
            // SAFETY: replaced: mac_rx_set quiesced the old callback.
            drop(unsafe { Box::from_raw(p as *mut RxTramp) });
        }
    })
}
/// `void mac_rx_clear(mac_client_handle_t)` (mac_client.h).
unsafe extern "C" fn mac_rx_clear(mch: *mut c_void) {
    host(|| {
        if let Some(c) = client(mch) {
            st().sim.mac_rx_clear(c);
            free_tramp(mch);
        }
    })
}
/// `mac_tx_cookie_t mac_tx(mac_client_handle_t, mblk_t *, uintptr_t,
/// uint16_t, mblk_t **)` (mac_client.h).
unsafe extern "C" fn mac_tx(mch: *mut c_void, mp: *mut mblk_t, _hint: usize, flag: u16, ret: *mut *mut mblk_t) -> usize {
    host(|| {
        let Some(c) = client(mch) else { return 0 };
        // SAFETY: the module hands its chain to mac.
        let rest = unsafe { st().sim.mac_tx(c, mp, flag) };
        if !ret.is_null() {
            // SAFETY: the module's out-pointer.
            unsafe { *ret = rest };
        }
        if rest.is_null() { 0 } else { rest as usize }
    })
}

