// SPDX-License-Identifier: MPL-2.0
//! A link's mac callbacks (`mac_callbacks_t`, `mac_register(9F)`) and its
//! link properties: thin `extern "C"` trampolines into [`Link`].
//!
//! # Theory statement
//!
//! mac calls these with `m_driver` as the first argument: a pointer to
//! the `Link<K>` that registered, alive until `mac_unregister` has
//! returned.  Properties: `mtu` (`MAC_PROP_MTU`, bounds from
//! `tuntap_abi::limits`) and the read-only private properties in
//! [`PRIV_PROPS`].  Callbacks take only `Link::state` (briefly) and never
//! call back into mac.

use core::ffi::{CStr, c_char, c_int, c_void};
use core::ptr;
use core::sync::atomic::Ordering;

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::{mac_callbacks_t, mac_prop_id_t, mac_prop_info_handle_t, mblk_t, uint_t};
use tuntap_abi::{MTU_DEFAULT, MTU_MAX, MTU_MIN, TUN_NO_ID};

use super::Link;
use crate::ddi::{Kernel, PropInfoHandle, PropPerm};

/// Private link property: `tun` or `tap` (read-only).
pub const PROP_MODE: &CStr = c"_tun_mode";
/// Private link property: the owner uid, or `-` (read-only).
pub const PROP_OWNER: &CStr = c"_tun_owner";

/// The private property names handed to mac (`m_priv_props`): a
/// NULL-terminated array of C strings, built once per driver.
pub struct PrivProps([*mut c_char; 3]);
// SAFETY: the array points at static C strings and is never written.
unsafe impl Send for PrivProps {}
// SAFETY: as above.
unsafe impl Sync for PrivProps {}

impl PrivProps {
    pub fn new() -> Self {
        Self([PROP_MODE.as_ptr().cast_mut(), PROP_OWNER.as_ptr().cast_mut(), ptr::null_mut()])
    }
    /// The array as `mac_register_t::m_priv_props` takes it.
    pub fn as_ptr(&self) -> *mut *mut c_char {
        self.0.as_ptr().cast_mut()
    }
}

impl Default for PrivProps {
    fn default() -> Self {
        Self::new()
    }
}

/// The mac callback table for links of a driver on kernel `K`.
pub fn mac_callbacks<K: Kernel>() -> mac_callbacks_t {
    mac_callbacks_t {
        mc_callbacks: sys::MC_SETPROP | sys::MC_GETPROP | sys::MC_PROPINFO | sys::MC_GETCAPAB,
        mc_getstat: Some(m_getstat::<K>),
        mc_start: Some(m_start),
        mc_stop: Some(m_stop),
        mc_setpromisc: Some(m_setpromisc),
        mc_multicst: Some(m_multicst),
        mc_unicst: Some(m_unicst::<K>),
        mc_tx: Some(m_tx::<K>),
        mc_reserved: ptr::null_mut(),
        mc_ioctl: None,
        mc_getcapab: Some(m_getcapab::<K>),
        mc_open: None,
        mc_close: None,
        mc_setprop: Some(m_setprop::<K>),
        mc_getprop: Some(m_getprop::<K>),
        mc_propinfo: Some(m_propinfo::<K>),
    }
}

/// # Safety
/// `arg` is the `m_driver` of a registered link.
unsafe fn link_of<'a, K: Kernel>(arg: *mut c_void) -> &'a Link<K> {
    // SAFETY: the caller's contract: arg came from fill_registration and
    // the link stays alive until mac_unregister returns.
    unsafe { &*(arg as *const Link<K>) }
}

unsafe extern "C" fn m_getstat<K: Kernel>(arg: *mut c_void, stat: uint_t, val: *mut u64) -> c_int {
    // SAFETY: mac passes our m_driver.
    let link = unsafe { link_of::<K>(arg) };
    match link.stats.get(stat) {
        Ok(v) if !val.is_null() => {
            // SAFETY: mac passes a valid out pointer.
            unsafe { *val = v };
            0
        }
        Ok(_) => sys::EINVAL,
        Err(e) => e,
    }
}

unsafe extern "C" fn m_start(_arg: *mut c_void) -> c_int {
    0
}

unsafe extern "C" fn m_stop(_arg: *mut c_void) {}

unsafe extern "C" fn m_setpromisc(_arg: *mut c_void, _on: sys::boolean_t) -> c_int {
    // Every frame already reaches the reader; nothing to filter.
    0
}

unsafe extern "C" fn m_multicst(_arg: *mut c_void, _add: sys::boolean_t, _addr: *const u8) -> c_int {
    // No hardware filter: multicast frames are all passed.
    0
}

unsafe extern "C" fn m_unicst<K: Kernel>(arg: *mut c_void, addr: *const u8) -> c_int {
    // SAFETY: mac passes our m_driver.
    let link = unsafe { link_of::<K>(arg) };
    if addr.is_null() {
        return sys::EINVAL;
    }
    let mut mac = [0u8; 6];
    // SAFETY: mac passes an address of the plugin's length (6).
    unsafe { ptr::copy_nonoverlapping(addr, mac.as_mut_ptr(), 6) };
    match link.set_mac(mac, false) {
        Ok(()) => 0,
        Err(e) => e,
    }
}

unsafe extern "C" fn m_tx<K: Kernel>(arg: *mut c_void, mp: *mut mblk_t) -> *mut mblk_t {
    // SAFETY: mac passes our m_driver.
    let link = unsafe { link_of::<K>(arg) };
    // SAFETY: mac hands us ownership of the chain.
    unsafe { link.mc_tx(mp) }
}

/// Offload capabilities: only while every attached queue takes them
/// (`offload.rs`).
unsafe extern "C" fn m_getcapab<K: Kernel>(arg: *mut c_void, cap: sys::mac_capab_t, data: *mut c_void) -> sys::boolean_t {
    // SAFETY: mac passes our m_driver.
    let link = unsafe { link_of::<K>(arg) };
    // SAFETY: mac passes the structure `cap` names.
    if unsafe { link.getcapab(cap, data) } { sys::B_TRUE } else { sys::B_FALSE }
}

unsafe extern "C" fn m_setprop<K: Kernel>(
    arg: *mut c_void,
    _name: *const c_char,
    id: mac_prop_id_t,
    size: uint_t,
    val: *const c_void,
) -> c_int {
    // SAFETY: mac passes our m_driver.
    let link = unsafe { link_of::<K>(arg) };
    match id {
        sys::MAC_PROP_MTU => {
            if val.is_null() || (size as usize) < core::mem::size_of::<u32>() {
                return sys::EINVAL;
            }
            // SAFETY: mac passes `size` readable bytes (checked >= 4).
            let mtu = unsafe { ptr::read_unaligned(val.cast::<u32>()) };
            if tuntap_abi::check_mtu(mtu).is_err() {
                return sys::EINVAL;
            }
            // mac updates its own SDU after we accept (mac_set_mtu).
            link.mtu.store(mtu, Ordering::Relaxed);
            0
        }
        sys::MAC_PROP_PRIVATE => sys::EACCES,
        _ => sys::ENOTSUP,
    }
}

/// Write `text` and a NUL into the caller's buffer.
fn put_str(val: *mut c_void, size: uint_t, text: &[u8]) -> c_int {
    if val.is_null() || text.len() >= size as usize {
        return sys::ENOBUFS;
    }
    // SAFETY: val has `size` writable bytes, and text.len() + 1 <= size.
    unsafe {
        ptr::copy_nonoverlapping(text.as_ptr(), val.cast::<u8>(), text.len());
        *val.cast::<u8>().add(text.len()) = 0;
    }
    0
}

unsafe extern "C" fn m_getprop<K: Kernel>(
    arg: *mut c_void,
    name: *const c_char,
    id: mac_prop_id_t,
    size: uint_t,
    val: *mut c_void,
) -> c_int {
    // SAFETY: mac passes our m_driver.
    let link = unsafe { link_of::<K>(arg) };
    match id {
        sys::MAC_PROP_MTU => {
            if val.is_null() || (size as usize) < 4 {
                return sys::EINVAL;
            }
            // SAFETY: at least 4 writable bytes (checked).
            unsafe { ptr::write_unaligned(val.cast::<u32>(), link.mtu()) };
            0
        }
        sys::MAC_PROP_PRIVATE if !name.is_null() => {
            // SAFETY: mac passes a NUL-terminated property name.
            let name = unsafe { CStr::from_ptr(name) };
            if name == PROP_MODE {
                put_str(val, size, link.mode.as_str().as_bytes())
            } else if name == PROP_OWNER {
                let owner = link.state.lock().owner;
                let mut buf = [0u8; 12];
                put_str(val, size, format_uid(owner, &mut buf))
            } else {
                sys::ENOTSUP
            }
        }
        _ => sys::ENOTSUP,
    }
}

fn format_uid(uid: u32, buf: &mut [u8; 12]) -> &[u8] {
    if uid == TUN_NO_ID {
        return b"-";
    }
    let mut n = uid;
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(b) = buf.get_mut(i) {
            *b = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or(b"-")
}

unsafe extern "C" fn m_propinfo<K: Kernel>(
    arg: *mut c_void,
    name: *const c_char,
    id: mac_prop_id_t,
    ph: mac_prop_info_handle_t,
) {
    // SAFETY: mac passes our m_driver.
    let link = unsafe { link_of::<K>(arg) };
    let ph = PropInfoHandle(ph.cast());
    match id {
        sys::MAC_PROP_MTU => {
            link.k.mac_prop_info_set_default_uint32(ph, MTU_DEFAULT);
            link.k.mac_prop_info_set_range_uint32(ph, MTU_MIN, MTU_MAX);
        }
        sys::MAC_PROP_PRIVATE if !name.is_null() => link.k.mac_prop_info_set_perm(ph, PropPerm::Read),
        _ => {}
    }
}
