// SPDX-License-Identifier: MPL-2.0
//! The types and constants of `include/libdltun.h`, in Rust.  Names are
//! the C names, verbatim: this is the FFI layer.  The tests compare every
//! value, size and offset here with what a C compiler makes of the header.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};

use libdladm_plugin::Status;

/// `dltun_status_t` (a C enum: an `int`).
pub type dltun_status_t = c_int;

const fn lib(s: Status) -> dltun_status_t {
    s as u32 as dltun_status_t
}

pub const DLTUN_STATUS_OK: dltun_status_t = lib(Status::Ok);
pub const DLTUN_STATUS_BADNAME: dltun_status_t = lib(Status::BadName);
pub const DLTUN_STATUS_EXISTS: dltun_status_t = lib(Status::Exists);
pub const DLTUN_STATUS_NOTFOUND: dltun_status_t = lib(Status::NotFound);
pub const DLTUN_STATUS_NOTTUNTAP: dltun_status_t = lib(Status::NotTunTap);
pub const DLTUN_STATUS_BADMTU: dltun_status_t = lib(Status::InvalidMtu);
pub const DLTUN_STATUS_BADMAC: dltun_status_t = lib(Status::InvalidMac);
pub const DLTUN_STATUS_MACONTUN: dltun_status_t = lib(Status::MacOnTun);
pub const DLTUN_STATUS_DENIED: dltun_status_t = lib(Status::Permission);
pub const DLTUN_STATUS_OTHERZONE: dltun_status_t = lib(Status::OtherZone);
pub const DLTUN_STATUS_TEMPONLY: dltun_status_t = lib(Status::TemporaryOnly);
pub const DLTUN_STATUS_BUSY: dltun_status_t = lib(Status::Busy);
pub const DLTUN_STATUS_NOTACTIVE: dltun_status_t = lib(Status::NotActive);
pub const DLTUN_STATUS_KERNEL: dltun_status_t = lib(Status::Kernel);
pub const DLTUN_STATUS_DLADM: dltun_status_t = lib(Status::Dladm);
pub const DLTUN_STATUS_IP: dltun_status_t = lib(Status::Ip);
/// A null pointer, an unknown flag or mode, or an unreadable string.
pub const DLTUN_STATUS_BADARG: dltun_status_t = 100;
/// A panic inside the library, caught at the boundary.
pub const DLTUN_STATUS_INTERNAL: dltun_status_t = 101;
/// The driver or dlmgmtd cannot be reached (or no backend is built in).
pub const DLTUN_STATUS_UNAVAIL: dltun_status_t = lib(Status::Unavailable);

/// Every status of the C interface with its C name, in code order.
pub const STATUS_NAMES: [(dltun_status_t, &str); 19] = [
    (DLTUN_STATUS_OK, "DLTUN_STATUS_OK"),
    (DLTUN_STATUS_BADNAME, "DLTUN_STATUS_BADNAME"),
    (DLTUN_STATUS_EXISTS, "DLTUN_STATUS_EXISTS"),
    (DLTUN_STATUS_NOTFOUND, "DLTUN_STATUS_NOTFOUND"),
    (DLTUN_STATUS_NOTTUNTAP, "DLTUN_STATUS_NOTTUNTAP"),
    (DLTUN_STATUS_BADMTU, "DLTUN_STATUS_BADMTU"),
    (DLTUN_STATUS_BADMAC, "DLTUN_STATUS_BADMAC"),
    (DLTUN_STATUS_MACONTUN, "DLTUN_STATUS_MACONTUN"),
    (DLTUN_STATUS_DENIED, "DLTUN_STATUS_DENIED"),
    (DLTUN_STATUS_OTHERZONE, "DLTUN_STATUS_OTHERZONE"),
    (DLTUN_STATUS_TEMPONLY, "DLTUN_STATUS_TEMPONLY"),
    (DLTUN_STATUS_BUSY, "DLTUN_STATUS_BUSY"),
    (DLTUN_STATUS_NOTACTIVE, "DLTUN_STATUS_NOTACTIVE"),
    (DLTUN_STATUS_KERNEL, "DLTUN_STATUS_KERNEL"),
    (DLTUN_STATUS_DLADM, "DLTUN_STATUS_DLADM"),
    (DLTUN_STATUS_IP, "DLTUN_STATUS_IP"),
    (DLTUN_STATUS_BADARG, "DLTUN_STATUS_BADARG"),
    (DLTUN_STATUS_INTERNAL, "DLTUN_STATUS_INTERNAL"),
    (DLTUN_STATUS_UNAVAIL, "DLTUN_STATUS_UNAVAIL"),
];

/// `MAXLINKNAMELEN`.
pub const DLTUN_NAMELEN: usize = 32;
/// `ZONENAME_MAX`.
pub const DLTUN_ZONENAMELEN: usize = 64;
pub const DLTUN_MACSTRLEN: usize = 18;
pub const DLTUN_MAXPIDS: usize = 8;
pub const DLTUN_NOID: u32 = u32::MAX;

pub const DLTUN_MODE_TUN: u32 = 1;
pub const DLTUN_MODE_TAP: u32 = 2;

pub const DLTUN_OPT_TEMPORARY: u32 = 0x01;
pub const DLTUN_OPT_FORCE: u32 = 0x02;
pub const DLTUN_OPT_PERSIST: u32 = 0x04;

pub const DLTUN_ATTR_MTU: u32 = 0x01;
pub const DLTUN_ATTR_MACADDR: u32 = 0x02;
pub const DLTUN_ATTR_OWNER: u32 = 0x04;
pub const DLTUN_ATTR_GROUP: u32 = 0x08;
pub const DLTUN_ATTR_ALL: u32 = DLTUN_ATTR_MTU | DLTUN_ATTR_MACADDR | DLTUN_ATTR_OWNER | DLTUN_ATTR_GROUP;

pub const DLTUN_STATE_DOWN: u32 = 1;
pub const DLTUN_STATE_UP: u32 = 2;
pub const DLTUN_STATE_CONFIGURED: u32 = 3;

pub const DLTUN_INFO_ACTIVE: u32 = 0x01;
pub const DLTUN_INFO_PERSISTENT: u32 = 0x02;
pub const DLTUN_INFO_CARRIER: u32 = 0x04;
pub const DLTUN_INFO_EXCLUSIVE: u32 = 0x08;
pub const DLTUN_INFO_KEEP: u32 = 0x10;

pub const DLTUN_ORIGIN_NONE: u32 = 0;
pub const DLTUN_ORIGIN_ADMIN: u32 = 1;
pub const DLTUN_ORIGIN_OLDAPI: u32 = 2;
pub const DLTUN_ORIGIN_ATTACH: u32 = 3;

pub const DLTUN_WALK_CONTINUE: c_int = 0;
pub const DLTUN_WALK_TERMINATE: c_int = 1;

/// `dltun_up_result_t` (a C enum).
pub type dltun_up_result_t = c_int;
pub const DLTUN_UP_CREATED: dltun_up_result_t = 1;
pub const DLTUN_UP_ALREADY: dltun_up_result_t = 2;
pub const DLTUN_UP_FAILED: dltun_up_result_t = 3;

/// `dltun_attr_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dltun_attr_t {
    pub da_name: *const c_char,
    pub da_mode: u32,
    pub da_flags: u32,
    pub da_set: u32,
    pub da_mtu: u32,
    pub da_owner: u32,
    pub da_group: u32,
    pub da_macaddr: *const c_char,
}

/// `dltun_modify_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dltun_modify_t {
    pub dm_set: u32,
    pub dm_mtu: u32,
    pub dm_owner: u32,
    pub dm_group: u32,
    pub dm_macaddr: *const c_char,
}

/// `dltun_counters_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dltun_counters_t {
    pub dc_ipackets: u64,
    pub dc_rbytes: u64,
    pub dc_opackets: u64,
    pub dc_obytes: u64,
    pub dc_ierrors: u64,
    pub dc_oerrors: u64,
    pub dc_norcvbuf: u64,
    pub dc_noxmtbuf: u64,
}

/// `dltun_counter_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dltun_counter_t {
    pub dn_name: *const c_char,
    pub dn_value: u64,
}

/// `dltun_info_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dltun_info_t {
    pub di_name: [c_char; DLTUN_NAMELEN],
    pub di_linkid: u32,
    pub di_mode: u32,
    pub di_state: u32,
    pub di_flags: u32,
    pub di_origin: u32,
    pub di_mtu: u32,
    pub di_owner: u32,
    pub di_group: u32,
    pub di_zoneid: i32,
    pub di_zonename: [c_char; DLTUN_ZONENAMELEN],
    pub di_mac: [u8; 6],
    pub di_macaddr: [c_char; DLTUN_MACSTRLEN],
    pub di_nqueues: u32,
    pub di_npids: u32,
    pub di_pids: [i32; DLTUN_MAXPIDS],
    pub di_creator_pid: i32,
    pub di_created_ns: u64,
    pub di_counters: dltun_counters_t,
}

impl Default for dltun_info_t {
    fn default() -> Self {
        dltun_info_t {
            di_name: [0; DLTUN_NAMELEN],
            di_linkid: 0,
            di_mode: 0,
            di_state: 0,
            di_flags: 0,
            di_origin: DLTUN_ORIGIN_NONE,
            di_mtu: 0,
            di_owner: DLTUN_NOID,
            di_group: DLTUN_NOID,
            di_zoneid: 0,
            di_zonename: [0; DLTUN_ZONENAMELEN],
            di_mac: [0; 6],
            di_macaddr: [0; DLTUN_MACSTRLEN],
            di_nqueues: 0,
            di_npids: 0,
            di_pids: [0; DLTUN_MAXPIDS],
            di_creator_pid: 0,
            di_created_ns: 0,
            di_counters: dltun_counters_t::default(),
        }
    }
}

impl dltun_info_t {
    /// `di_name` as a string (for Rust callers and tests).
    pub fn name(&self) -> String {
        c_field(&self.di_name)
    }

    /// `di_zonename` as a string.
    pub fn zone_name(&self) -> String {
        c_field(&self.di_zonename)
    }

    /// `di_macaddr` as a string.
    pub fn mac_text(&self) -> String {
        c_field(&self.di_macaddr)
    }
}

fn c_field(field: &[c_char]) -> String {
    let bytes: Vec<u8> = field.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `dltun_walk_cb_t *` (nullable).
pub type dltun_walk_cb_t = Option<unsafe extern "C" fn(info: *const dltun_info_t, arg: *mut c_void) -> c_int>;

/// `dltun_up_cb_t *` (nullable).
pub type dltun_up_cb_t = Option<
    unsafe extern "C" fn(
        link: *const c_char,
        result: dltun_up_result_t,
        status: dltun_status_t,
        errmsg: *const c_char,
        arg: *mut c_void,
    ),
>;
