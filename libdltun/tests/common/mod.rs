// SPDX-License-Identifier: MPL-2.0
//! Helpers for calling the C entry points from Rust tests.

#![allow(dead_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr;

use dltun::abi::*;
use dltun::*;

/// An open handle, closed (and its host checked) on drop.
pub struct Handle(pub *mut dltun_handle_t);

impl Handle {
    pub fn open() -> Handle {
        let mut h = ptr::null_mut();
        // SAFETY: a valid out-pointer.
        let st = unsafe { dltun_open(&mut h) };
        assert_eq!(st, DLTUN_STATUS_OK);
        assert!(!h.is_null());
        Handle(h)
    }

    pub fn errmsg(&self) -> String {
        // SAFETY: an open handle; the result is a C string.
        unsafe { CStr::from_ptr(dltun_errmsg(self.0)) }.to_string_lossy().into_owned()
    }

    pub fn create(&self, attr: &Attr) -> (dltun_status_t, u32) {
        let mut id = 0;
        let raw = attr.raw();
        // SAFETY: an open handle, a valid attr whose strings live in `attr`.
        let st = unsafe { dltun_create(self.0, &raw, &mut id) };
        (st, id)
    }

    pub fn info_flags(&self, name: &str, flags: u32) -> Result<dltun_info_t, dltun_status_t> {
        let name = CString::new(name).unwrap();
        let mut info = dltun_info_t::default();
        // SAFETY: an open handle, a C string, a writable info.
        match unsafe { dltun_info(self.0, name.as_ptr(), flags, &mut info) } {
            DLTUN_STATUS_OK => Ok(info),
            st => Err(st),
        }
    }

    pub fn info(&self, name: &str) -> Result<dltun_info_t, dltun_status_t> {
        self.info_flags(name, 0)
    }

    pub fn delete(&self, name: &str, flags: u32) -> dltun_status_t {
        let name = CString::new(name).unwrap();
        // SAFETY: an open handle and a C string.
        unsafe { dltun_delete(self.0, name.as_ptr(), flags) }
    }

    pub fn modify(&self, name: &str, m: &Modify, flags: u32) -> dltun_status_t {
        let name = CString::new(name).unwrap();
        let raw = m.raw();
        // SAFETY: an open handle, a C string, a valid modify.
        unsafe { dltun_modify(self.0, name.as_ptr(), &raw, flags) }
    }

    /// Every link the walk reports, with `flags`.
    pub fn walk(&self, flags: u32) -> Result<Vec<dltun_info_t>, dltun_status_t> {
        let mut seen: Vec<dltun_info_t> = Vec::new();
        // SAFETY: an open handle; collect_cb gets `seen` as its arg.
        let st = unsafe { dltun_walk(self.0, flags, Some(collect_cb), &mut seen as *mut _ as *mut c_void) };
        if st == DLTUN_STATUS_OK { Ok(seen) } else { Err(st) }
    }

    pub fn names(&self) -> Vec<String> {
        self.walk(0).unwrap().iter().map(|i| i.name()).collect()
    }

    /// `dltun_up` for `name` (or all), with the per-link reports.
    pub fn up(&self, name: Option<&str>) -> (dltun_status_t, Vec<UpReport>) {
        let name = name.map(|n| CString::new(n).unwrap());
        let mut got: Vec<UpReport> = Vec::new();
        let p = name.as_ref().map_or(ptr::null(), |n| n.as_ptr());
        // SAFETY: an open handle; up_cb gets `got` as its arg.
        let st = unsafe { dltun_up(self.0, p, Some(up_cb), &mut got as *mut _ as *mut c_void) };
        (st, got)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle is open and not used again.
        let st = unsafe { dltun_close(self.0) };
        if !std::thread::panicking() {
            assert_eq!(st, DLTUN_STATUS_OK, "closing the handle found simulator rule violations");
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpReport {
    pub link: String,
    pub result: dltun_up_result_t,
    pub status: dltun_status_t,
    pub errmsg: String,
}

unsafe extern "C" fn up_cb(
    link: *const c_char,
    result: dltun_up_result_t,
    status: dltun_status_t,
    errmsg: *const c_char,
    arg: *mut c_void,
) {
    // SAFETY: arg is the Vec passed by Handle::up; the strings are C
    // strings valid during the call.
    unsafe {
        let got = &mut *(arg as *mut Vec<UpReport>);
        got.push(UpReport {
            link: CStr::from_ptr(link).to_string_lossy().into_owned(),
            result,
            status,
            errmsg: CStr::from_ptr(errmsg).to_string_lossy().into_owned(),
        });
    }
}

unsafe extern "C" fn collect_cb(info: *const dltun_info_t, arg: *mut c_void) -> c_int {
    // SAFETY: arg is the Vec passed by Handle::walk; info is valid during
    // the call.
    unsafe {
        (*(arg as *mut Vec<dltun_info_t>)).push(*info);
    }
    DLTUN_WALK_CONTINUE
}

/// A `dltun_attr_t` with owned strings.
#[derive(Clone, Debug)]
pub struct Attr {
    pub name: Option<Vec<u8>>,
    pub mode: u32,
    pub flags: u32,
    pub set: u32,
    pub mtu: u32,
    pub owner: u32,
    pub group: u32,
    pub mac: Option<CString>,
}

impl Attr {
    pub fn new(name: &str, mode: u32) -> Attr {
        Attr {
            name: Some(CString::new(name).unwrap().into_bytes_with_nul()),
            mode,
            flags: 0,
            set: 0,
            mtu: 0,
            owner: 0,
            group: 0,
            mac: None,
        }
    }
    pub fn tun(name: &str) -> Attr {
        Attr::new(name, DLTUN_MODE_TUN)
    }
    pub fn tap(name: &str) -> Attr {
        Attr::new(name, DLTUN_MODE_TAP)
    }
    pub fn temporary(mut self) -> Attr {
        self.flags |= DLTUN_OPT_TEMPORARY;
        self
    }
    pub fn mtu(mut self, mtu: u32) -> Attr {
        self.set |= DLTUN_ATTR_MTU;
        self.mtu = mtu;
        self
    }
    pub fn mac(mut self, mac: &str) -> Attr {
        self.set |= DLTUN_ATTR_MACADDR;
        self.mac = Some(CString::new(mac).unwrap());
        self
    }
    pub fn owner(mut self, uid: u32) -> Attr {
        self.set |= DLTUN_ATTR_OWNER;
        self.owner = uid;
        self
    }
    pub fn group(mut self, gid: u32) -> Attr {
        self.set |= DLTUN_ATTR_GROUP;
        self.group = gid;
        self
    }
    pub fn raw(&self) -> dltun_attr_t {
        dltun_attr_t {
            da_name: self.name.as_ref().map_or(ptr::null(), |n| n.as_ptr() as *const c_char),
            da_mode: self.mode,
            da_flags: self.flags,
            da_set: self.set,
            da_mtu: self.mtu,
            da_owner: self.owner,
            da_group: self.group,
            da_macaddr: self.mac.as_ref().map_or(ptr::null(), |m| m.as_ptr()),
        }
    }
}

/// A `dltun_modify_t` with an owned string.
#[derive(Clone, Debug, Default)]
pub struct Modify {
    pub set: u32,
    pub mtu: u32,
    pub owner: u32,
    pub group: u32,
    pub mac: Option<CString>,
}

impl Modify {
    pub fn mtu(mtu: u32) -> Modify {
        Modify { set: DLTUN_ATTR_MTU, mtu, ..Default::default() }
    }
    pub fn mac(mac: &str) -> Modify {
        Modify { set: DLTUN_ATTR_MACADDR, mac: Some(CString::new(mac).unwrap()), ..Default::default() }
    }
    pub fn owner(uid: u32) -> Modify {
        Modify { set: DLTUN_ATTR_OWNER, owner: uid, ..Default::default() }
    }
    pub fn group(gid: u32) -> Modify {
        Modify { set: DLTUN_ATTR_GROUP, group: gid, ..Default::default() }
    }
    pub fn raw(&self) -> dltun_modify_t {
        dltun_modify_t {
            dm_set: self.set,
            dm_mtu: self.mtu,
            dm_owner: self.owner,
            dm_group: self.group,
            dm_macaddr: self.mac.as_ref().map_or(ptr::null(), |m| m.as_ptr()),
        }
    }
}
