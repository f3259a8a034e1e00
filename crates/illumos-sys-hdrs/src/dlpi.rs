// SPDX-License-Identifier: MPL-2.0

//! DLPI (Data Link Provider Interface, version 2) ABI facts from
//! illumos-gate `usr/src/uts/common/sys/dlpi.h`.
//!
//! Theory statement.  A DLPI primitive travels as an `M_PROTO` or
//! `M_PCPROTO` message whose data block starts with one of the
//! `dl_*_t` structures below; the first word is always `dl_primitive`,
//! and addresses follow the fixed part at `dl_*_offset` bytes from the
//! start of the block.  This module transcribes the primitive codes,
//! interface states, error codes and the fixed-part layouts a GLDv3-style
//! provider answers.  It has no behaviour, holds no locks and allocates
//! nothing; it is `no_std` like the rest of the crate.
//!
//! Invariants:
//! - Names, field names and field order follow dlpi.h verbatim (read at
//!   illumos-gate commit 023dbbef787161d4e2c784ff44b83b08a448485e).
//! - Every structure is `#[repr(C)]` and made only of 32-bit words (plus
//!   two 16-bit halves in `dl_bind_req_t`), so it has no padding and the
//!   same layout in the LP64 kernel and in 32-bit userland; sizes and
//!   offsets are pinned by `tests/dlpi_layout.rs`.
//! - Constants carry the C type of the field they are stored in:
//!   `t_uscalar_t` for everything that lands in a primitive, `c_int` for
//!   the ioctl command (`iocblk.ioc_cmd` is an `int`).
//! - Names already defined at the crate root (`t_uscalar_t`,
//!   `t_scalar_t`, `DL_ETHER`) are re-used, not redefined; they are
//!   re-exported here so `use illumos_sys_hdrs::dlpi::*` is enough for
//!   DLPI code.

use core::ffi::c_int;

pub use crate::{t_scalar_t, t_uscalar_t, DL_ETHER};

// ===== Sun additions: ioctls =====

/// `DLIOC` (dlpi.h: `('D' << 8)`): the group of the DLPI ioctls.
pub const DLIOC: c_int = (b'D' as c_int) << 8;
/// `DLIOCRAW` (dlpi.h: `(DLIOC|1)`, "M_DATA raw mode"): dld passes whole
/// frames both ways (dld_str.c `ioc_raw`, `dld_str_rx_raw`).
pub const DLIOCRAW: c_int = DLIOC | 1;
/// `DLIOCHDRINFO` (dlpi.h: `(DLIOC|10)`): the IP fast-path ioctl.
pub const DLIOCHDRINFO: c_int = DLIOC | 10;
/// `DL_IOC_HDR_INFO` (dlpi.h: `#define DL_IOC_HDR_INFO DLIOCHDRINFO`).
pub const DL_IOC_HDR_INFO: c_int = DLIOCHDRINFO;

// ===== DLPI revision =====

/// `DL_VERSION_2` (dlpi.h): "version of dlpi March 12, 1991".
pub const DL_VERSION_2: t_uscalar_t = 0x02;

// ===== Primitives (dl_primitive) =====

// Local management.
pub const DL_INFO_REQ: t_uscalar_t = 0x00;
pub const DL_INFO_ACK: t_uscalar_t = 0x03;
pub const DL_ATTACH_REQ: t_uscalar_t = 0x0b;
pub const DL_DETACH_REQ: t_uscalar_t = 0x0c;
pub const DL_BIND_REQ: t_uscalar_t = 0x01;
pub const DL_BIND_ACK: t_uscalar_t = 0x04;
pub const DL_UNBIND_REQ: t_uscalar_t = 0x02;
pub const DL_OK_ACK: t_uscalar_t = 0x06;
pub const DL_ERROR_ACK: t_uscalar_t = 0x05;
pub const DL_ENABMULTI_REQ: t_uscalar_t = 0x1d;
pub const DL_DISABMULTI_REQ: t_uscalar_t = 0x1e;
pub const DL_PROMISCON_REQ: t_uscalar_t = 0x1f;
pub const DL_PROMISCOFF_REQ: t_uscalar_t = 0x20;

// Solaris-specific local management.
pub const DL_NOTIFY_REQ: t_uscalar_t = 0x100;
pub const DL_CAPABILITY_REQ: t_uscalar_t = 0x110;

// Connectionless service.
pub const DL_UNITDATA_REQ: t_uscalar_t = 0x07;
pub const DL_UNITDATA_IND: t_uscalar_t = 0x08;
pub const DL_UDERROR_IND: t_uscalar_t = 0x09;

// Physical address.
pub const DL_PHYS_ADDR_REQ: t_uscalar_t = 0x31;
pub const DL_PHYS_ADDR_ACK: t_uscalar_t = 0x32;
pub const DL_SET_PHYS_ADDR_REQ: t_uscalar_t = 0x33;

// ===== Interface states (dl_current_state) =====

pub const DL_UNATTACHED: t_uscalar_t = 0x04;
pub const DL_ATTACH_PENDING: t_uscalar_t = 0x05;
pub const DL_DETACH_PENDING: t_uscalar_t = 0x06;
pub const DL_UNBOUND: t_uscalar_t = 0x00;
pub const DL_BIND_PENDING: t_uscalar_t = 0x01;
pub const DL_UNBIND_PENDING: t_uscalar_t = 0x02;
pub const DL_IDLE: t_uscalar_t = 0x03;

// ===== DL_ERROR_ACK error codes (dl_errno) =====

pub const DL_BADSAP: t_uscalar_t = 0x00;
pub const DL_BADADDR: t_uscalar_t = 0x01;
pub const DL_ACCESS: t_uscalar_t = 0x02;
pub const DL_OUTSTATE: t_uscalar_t = 0x03;
/// "UNIX system error occurred": the errno is in `dl_unix_errno`.
pub const DL_SYSERR: t_uscalar_t = 0x04;
pub const DL_BADDATA: t_uscalar_t = 0x06;
/// "Requested serv. not supplied by provider".
pub const DL_UNSUPPORTED: t_uscalar_t = 0x07;
pub const DL_BADPPA: t_uscalar_t = 0x08;
pub const DL_BADPRIM: t_uscalar_t = 0x09;
/// "Primitive is known but not supported".
pub const DL_NOTSUPPORTED: t_uscalar_t = 0x12;
/// "limit exceeded" (e.g. too many multicast groups on one stream).
pub const DL_TOOMANY: t_uscalar_t = 0x13;
/// "Promiscuous mode not enabled" (also: a multicast group not joined).
pub const DL_NOTENAB: t_uscalar_t = 0x14;

// ===== Service modes (dl_service_mode) =====

/// Connectionless data link service.  `dl_info_ack_t.dl_service_mode` is
/// a `t_uscalar_t` but `dl_bind_req_t.dl_service_mode` is a `uint16_t`;
/// convert with `as u16` there (the value fits).
pub const DL_CLDLS: t_uscalar_t = 0x02;

// ===== Provider styles (dl_provider_style) =====

/// The PPA is implied by the minor node opened.
pub const DL_STYLE1: t_uscalar_t = 0x0500;
/// The PPA must be named with `DL_ATTACH_REQ`.
pub const DL_STYLE2: t_uscalar_t = 0x0501;

// ===== Address types (dl_phys_addr_req_t.dl_addr_type) =====

pub const DL_FACT_PHYS_ADDR: t_uscalar_t = 0x01;
pub const DL_CURR_PHYS_ADDR: t_uscalar_t = 0x02;

// ===== Promiscuous levels (dl_promiscon_req_t.dl_level) =====

pub const DL_PROMISC_PHYS: t_uscalar_t = 0x01;
pub const DL_PROMISC_SAP: t_uscalar_t = 0x02;
pub const DL_PROMISC_MULTI: t_uscalar_t = 0x03;

// ===== QOS building block =====

/// `dl_priority_t` (dlpi.h, QOS section): a priority range, 0 highest,
/// 100 lowest.  Only here because `dl_unitdata_req_t` embeds it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_priority_t {
    pub dl_min: t_scalar_t,
    pub dl_max: t_scalar_t,
}

// ===== Local management primitives =====

/// `dl_info_req_t` (dlpi.h): `DL_INFO_REQ`, sent as `M_PCPROTO`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_info_req_t {
    pub dl_primitive: t_uscalar_t,
}

/// `dl_info_ack_t` (dlpi.h): `DL_INFO_ACK`, sent as `M_PCPROTO`.  The
/// DLSAP address and the broadcast address follow the fixed part at
/// `dl_addr_offset` / `dl_brdcst_addr_offset`.  Note that
/// `dl_sap_length` alone is signed: a negative length means the SAP
/// follows the physical address inside the DLSAP address.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_info_ack_t {
    pub dl_primitive: t_uscalar_t,
    pub dl_max_sdu: t_uscalar_t,
    pub dl_min_sdu: t_uscalar_t,
    pub dl_addr_length: t_uscalar_t,
    pub dl_mac_type: t_uscalar_t,
    pub dl_reserved: t_uscalar_t,
    pub dl_current_state: t_uscalar_t,
    pub dl_sap_length: t_scalar_t,
    pub dl_service_mode: t_uscalar_t,
    pub dl_qos_length: t_uscalar_t,
    pub dl_qos_offset: t_uscalar_t,
    pub dl_qos_range_length: t_uscalar_t,
    pub dl_qos_range_offset: t_uscalar_t,
    pub dl_provider_style: t_uscalar_t,
    pub dl_addr_offset: t_uscalar_t,
    pub dl_version: t_uscalar_t,
    pub dl_brdcst_addr_length: t_uscalar_t,
    pub dl_brdcst_addr_offset: t_uscalar_t,
    pub dl_growth: t_uscalar_t,
}

/// `dl_attach_req_t` (dlpi.h): `DL_ATTACH_REQ`, sent as `M_PROTO`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_attach_req_t {
    pub dl_primitive: t_uscalar_t,
    pub dl_ppa: t_uscalar_t,
}

/// `dl_detach_req_t` (dlpi.h): `DL_DETACH_REQ`, sent as `M_PROTO`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_detach_req_t {
    pub dl_primitive: t_uscalar_t,
}

/// `dl_bind_req_t` (dlpi.h): `DL_BIND_REQ`, sent as `M_PROTO`.  The one
/// primitive with 16-bit fields: `dl_service_mode` and `dl_conn_mgmt`
/// are `uint16_t` halves of one word.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_bind_req_t {
    pub dl_primitive: t_uscalar_t,
    pub dl_sap: t_uscalar_t,
    pub dl_max_conind: t_uscalar_t,
    pub dl_service_mode: u16,
    pub dl_conn_mgmt: u16,
    pub dl_xidtest_flg: t_uscalar_t,
}

/// `dl_bind_ack_t` (dlpi.h): `DL_BIND_ACK`, sent as `M_PCPROTO`; the
/// bound DLSAP address follows at `dl_addr_offset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_bind_ack_t {
    pub dl_primitive: t_uscalar_t,
    pub dl_sap: t_uscalar_t,
    pub dl_addr_length: t_uscalar_t,
    pub dl_addr_offset: t_uscalar_t,
    pub dl_max_conind: t_uscalar_t,
    pub dl_xidtest_flg: t_uscalar_t,
}

/// `dl_unbind_req_t` (dlpi.h): `DL_UNBIND_REQ`, sent as `M_PROTO`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_unbind_req_t {
    pub dl_primitive: t_uscalar_t,
}

/// `dl_ok_ack_t` (dlpi.h): `DL_OK_ACK`, sent as `M_PCPROTO`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_ok_ack_t {
    pub dl_primitive: t_uscalar_t,
    pub dl_correct_primitive: t_uscalar_t,
}

/// `dl_error_ack_t` (dlpi.h): `DL_ERROR_ACK`, sent as `M_PCPROTO`.
/// `dl_unix_errno` is meaningful only when `dl_errno` is `DL_SYSERR`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_error_ack_t {
    pub dl_primitive: t_uscalar_t,
    pub dl_error_primitive: t_uscalar_t,
    pub dl_errno: t_uscalar_t,
    pub dl_unix_errno: t_uscalar_t,
}

/// `dl_enabmulti_req_t` (dlpi.h): `DL_ENABMULTI_REQ`, sent as `M_PROTO`;
/// the multicast address follows at `dl_addr_offset`.  (`DL_DISABMULTI_REQ`
/// uses the identical `dl_disabmulti_req_t`.)
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_enabmulti_req_t {
    pub dl_primitive: t_uscalar_t,
    pub dl_addr_length: t_uscalar_t,
    pub dl_addr_offset: t_uscalar_t,
}

/// `dl_promiscon_req_t` (dlpi.h): `DL_PROMISCON_REQ`, sent as `M_PROTO`;
/// `dl_level` is one of `DL_PROMISC_PHYS`, `DL_PROMISC_SAP`,
/// `DL_PROMISC_MULTI`.  (`DL_PROMISCOFF_REQ` uses the identical
/// `dl_promiscoff_req_t`.)
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_promiscon_req_t {
    pub dl_primitive: t_uscalar_t,
    pub dl_level: t_uscalar_t,
}

// ===== Physical address primitives =====

/// `dl_phys_addr_req_t` (dlpi.h): `DL_PHYS_ADDR_REQ`, sent as `M_PROTO`;
/// `dl_addr_type` is `DL_FACT_PHYS_ADDR` or `DL_CURR_PHYS_ADDR`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_phys_addr_req_t {
    pub dl_primitive: t_uscalar_t,
    pub dl_addr_type: t_uscalar_t,
}

/// `dl_phys_addr_ack_t` (dlpi.h): `DL_PHYS_ADDR_ACK`, sent as
/// `M_PCPROTO`; the address follows at `dl_addr_offset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_phys_addr_ack_t {
    pub dl_primitive: t_uscalar_t,
    pub dl_addr_length: t_uscalar_t,
    pub dl_addr_offset: t_uscalar_t,
}

/// `dl_set_phys_addr_req_t` (dlpi.h): `DL_SET_PHYS_ADDR_REQ`, sent as
/// `M_PROTO`; the new address follows at `dl_addr_offset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_set_phys_addr_req_t {
    pub dl_primitive: t_uscalar_t,
    pub dl_addr_length: t_uscalar_t,
    pub dl_addr_offset: t_uscalar_t,
}

// ===== Connectionless service primitives =====

/// `dl_unitdata_req_t` (dlpi.h): `DL_UNITDATA_REQ`, an `M_PROTO` block
/// followed by the payload in `M_DATA` blocks; the destination DLSAP
/// address follows the fixed part at `dl_dest_addr_offset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_unitdata_req_t {
    pub dl_primitive: t_uscalar_t,
    pub dl_dest_addr_length: t_uscalar_t,
    pub dl_dest_addr_offset: t_uscalar_t,
    pub dl_priority: dl_priority_t,
}

/// `dl_unitdata_ind_t` (dlpi.h): `DL_UNITDATA_IND`, an `M_PROTO` block
/// followed by the payload; `dl_group_address` is non-zero for a
/// multicast or broadcast frame.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_unitdata_ind_t {
    pub dl_primitive: t_uscalar_t,
    pub dl_dest_addr_length: t_uscalar_t,
    pub dl_dest_addr_offset: t_uscalar_t,
    pub dl_src_addr_length: t_uscalar_t,
    pub dl_src_addr_offset: t_uscalar_t,
    pub dl_group_address: t_uscalar_t,
}

/// `dl_uderror_ind_t` (dlpi.h): `DL_UDERROR_IND`, an `M_PROTO` block
/// telling the user a `DL_UNITDATA_REQ` was refused; the destination
/// DLSAP address of the refused request follows at `dl_dest_addr_offset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dl_uderror_ind_t {
    pub dl_primitive: t_uscalar_t,
    pub dl_dest_addr_length: t_uscalar_t,
    pub dl_dest_addr_offset: t_uscalar_t,
    pub dl_unix_errno: t_uscalar_t,
    pub dl_errno: t_uscalar_t,
}
