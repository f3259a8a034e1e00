// SPDX-License-Identifier: MPL-2.0

//! Size, alignment, field-offset and value checks for `illumos_sys_hdrs::dlpi`.
//!
//! Every expected number was worked out by hand from illumos-gate
//! `usr/src/uts/common/sys/dlpi.h` (commit 023dbbef787161d4e2c784ff44b83b08a448485e):
//! `t_uscalar_t` / `t_scalar_t` are 32-bit, `uint16_t` is 16-bit, natural
//! alignment.  Each check quotes the definition it comes from.  DLPI
//! structures hold only 32- and 16-bit fields, so these numbers are the
//! same on every target; the tests are not gated on pointer width.

use core::mem::{align_of, offset_of, size_of, size_of_val};

use illumos_sys_hdrs::dlpi::*;

// ---------------------------------------------------------------------
// Layouts
// ---------------------------------------------------------------------

// typedef struct { t_scalar_t dl_min; t_scalar_t dl_max; } dl_priority_t;
#[test]
fn dl_priority_layout() {
    assert_eq!(offset_of!(dl_priority_t, dl_min), 0);
    assert_eq!(offset_of!(dl_priority_t, dl_max), 4);
    assert_eq!(size_of::<dl_priority_t>(), 8);
    assert_eq!(align_of::<dl_priority_t>(), 4);
}

// DL_INFO_REQ, M_PCPROTO type: typedef struct { t_uscalar_t dl_primitive; } dl_info_req_t;
#[test]
fn dl_info_req_layout() {
    assert_eq!(offset_of!(dl_info_req_t, dl_primitive), 0);
    assert_eq!(size_of::<dl_info_req_t>(), 4);
    assert_eq!(align_of::<dl_info_req_t>(), 4);
}

// DL_INFO_ACK, M_PCPROTO type: nineteen 32-bit fields, dl_primitive
// through dl_growth, of which only dl_sap_length is a t_scalar_t.
#[test]
fn dl_info_ack_layout() {
    assert_eq!(offset_of!(dl_info_ack_t, dl_primitive), 0);
    assert_eq!(offset_of!(dl_info_ack_t, dl_max_sdu), 4);
    assert_eq!(offset_of!(dl_info_ack_t, dl_min_sdu), 8);
    assert_eq!(offset_of!(dl_info_ack_t, dl_addr_length), 12);
    assert_eq!(offset_of!(dl_info_ack_t, dl_mac_type), 16);
    assert_eq!(offset_of!(dl_info_ack_t, dl_reserved), 20);
    assert_eq!(offset_of!(dl_info_ack_t, dl_current_state), 24);
    assert_eq!(offset_of!(dl_info_ack_t, dl_sap_length), 28);
    assert_eq!(offset_of!(dl_info_ack_t, dl_service_mode), 32);
    assert_eq!(offset_of!(dl_info_ack_t, dl_qos_length), 36);
    assert_eq!(offset_of!(dl_info_ack_t, dl_qos_offset), 40);
    assert_eq!(offset_of!(dl_info_ack_t, dl_qos_range_length), 44);
    assert_eq!(offset_of!(dl_info_ack_t, dl_qos_range_offset), 48);
    assert_eq!(offset_of!(dl_info_ack_t, dl_provider_style), 52);
    assert_eq!(offset_of!(dl_info_ack_t, dl_addr_offset), 56);
    assert_eq!(offset_of!(dl_info_ack_t, dl_version), 60);
    assert_eq!(offset_of!(dl_info_ack_t, dl_brdcst_addr_length), 64);
    assert_eq!(offset_of!(dl_info_ack_t, dl_brdcst_addr_offset), 68);
    assert_eq!(offset_of!(dl_info_ack_t, dl_growth), 72);
    assert_eq!(size_of::<dl_info_ack_t>(), 76);
    assert_eq!(align_of::<dl_info_ack_t>(), 4);
    // The one signed field stays signed: a negative SAP length is how a
    // provider says the SAP follows the physical address.
    let ack = dl_info_ack_t {
        dl_sap_length: -2,
        ..Default::default()
    };
    assert!(ack.dl_sap_length < 0);
}

// DL_ATTACH_REQ, M_PROTO type: { t_uscalar_t dl_primitive; t_uscalar_t dl_ppa; }
#[test]
fn dl_attach_req_layout() {
    assert_eq!(offset_of!(dl_attach_req_t, dl_primitive), 0);
    assert_eq!(offset_of!(dl_attach_req_t, dl_ppa), 4);
    assert_eq!(size_of::<dl_attach_req_t>(), 8);
    assert_eq!(align_of::<dl_attach_req_t>(), 4);
}

// DL_DETACH_REQ, M_PROTO type: { t_uscalar_t dl_primitive; }
#[test]
fn dl_detach_req_layout() {
    assert_eq!(offset_of!(dl_detach_req_t, dl_primitive), 0);
    assert_eq!(size_of::<dl_detach_req_t>(), 4);
    assert_eq!(align_of::<dl_detach_req_t>(), 4);
}

// DL_BIND_REQ, M_PROTO type: { t_uscalar_t dl_primitive; t_uscalar_t dl_sap;
// t_uscalar_t dl_max_conind; uint16_t dl_service_mode; uint16_t dl_conn_mgmt;
// t_uscalar_t dl_xidtest_flg; }
#[test]
fn dl_bind_req_layout() {
    assert_eq!(offset_of!(dl_bind_req_t, dl_primitive), 0);
    assert_eq!(offset_of!(dl_bind_req_t, dl_sap), 4);
    assert_eq!(offset_of!(dl_bind_req_t, dl_max_conind), 8);
    assert_eq!(offset_of!(dl_bind_req_t, dl_service_mode), 12);
    assert_eq!(offset_of!(dl_bind_req_t, dl_conn_mgmt), 14);
    assert_eq!(offset_of!(dl_bind_req_t, dl_xidtest_flg), 16);
    assert_eq!(size_of::<dl_bind_req_t>(), 20);
    assert_eq!(align_of::<dl_bind_req_t>(), 4);
    // The two halves really are 16-bit (a 32-bit dl_service_mode would
    // shift dl_xidtest_flg and break every DL_BIND_REQ parse).
    let req = dl_bind_req_t::default();
    assert_eq!(size_of_val(&req.dl_service_mode), 2);
    assert_eq!(size_of_val(&req.dl_conn_mgmt), 2);
}

// DL_BIND_ACK, M_PCPROTO type: { dl_primitive; dl_sap; dl_addr_length;
// dl_addr_offset; dl_max_conind; dl_xidtest_flg; } all t_uscalar_t.
#[test]
fn dl_bind_ack_layout() {
    assert_eq!(offset_of!(dl_bind_ack_t, dl_primitive), 0);
    assert_eq!(offset_of!(dl_bind_ack_t, dl_sap), 4);
    assert_eq!(offset_of!(dl_bind_ack_t, dl_addr_length), 8);
    assert_eq!(offset_of!(dl_bind_ack_t, dl_addr_offset), 12);
    assert_eq!(offset_of!(dl_bind_ack_t, dl_max_conind), 16);
    assert_eq!(offset_of!(dl_bind_ack_t, dl_xidtest_flg), 20);
    assert_eq!(size_of::<dl_bind_ack_t>(), 24);
    assert_eq!(align_of::<dl_bind_ack_t>(), 4);
}

// DL_UNBIND_REQ, M_PROTO type: { t_uscalar_t dl_primitive; }
#[test]
fn dl_unbind_req_layout() {
    assert_eq!(offset_of!(dl_unbind_req_t, dl_primitive), 0);
    assert_eq!(size_of::<dl_unbind_req_t>(), 4);
    assert_eq!(align_of::<dl_unbind_req_t>(), 4);
}

// DL_OK_ACK, M_PCPROTO type: { dl_primitive; dl_correct_primitive; }
#[test]
fn dl_ok_ack_layout() {
    assert_eq!(offset_of!(dl_ok_ack_t, dl_primitive), 0);
    assert_eq!(offset_of!(dl_ok_ack_t, dl_correct_primitive), 4);
    assert_eq!(size_of::<dl_ok_ack_t>(), 8);
    assert_eq!(align_of::<dl_ok_ack_t>(), 4);
}

// DL_ERROR_ACK, M_PCPROTO type: { dl_primitive; dl_error_primitive;
// dl_errno; dl_unix_errno; }
#[test]
fn dl_error_ack_layout() {
    assert_eq!(offset_of!(dl_error_ack_t, dl_primitive), 0);
    assert_eq!(offset_of!(dl_error_ack_t, dl_error_primitive), 4);
    assert_eq!(offset_of!(dl_error_ack_t, dl_errno), 8);
    assert_eq!(offset_of!(dl_error_ack_t, dl_unix_errno), 12);
    assert_eq!(size_of::<dl_error_ack_t>(), 16);
    assert_eq!(align_of::<dl_error_ack_t>(), 4);
}

// DL_ENABMULTI_REQ, M_PROTO type: { dl_primitive; dl_addr_length; dl_addr_offset; }
#[test]
fn dl_enabmulti_req_layout() {
    assert_eq!(offset_of!(dl_enabmulti_req_t, dl_primitive), 0);
    assert_eq!(offset_of!(dl_enabmulti_req_t, dl_addr_length), 4);
    assert_eq!(offset_of!(dl_enabmulti_req_t, dl_addr_offset), 8);
    assert_eq!(size_of::<dl_enabmulti_req_t>(), 12);
    assert_eq!(align_of::<dl_enabmulti_req_t>(), 4);
}

// DL_PROMISCON_REQ, M_PROTO type: { dl_primitive; dl_level; }
#[test]
fn dl_promiscon_req_layout() {
    assert_eq!(offset_of!(dl_promiscon_req_t, dl_primitive), 0);
    assert_eq!(offset_of!(dl_promiscon_req_t, dl_level), 4);
    assert_eq!(size_of::<dl_promiscon_req_t>(), 8);
    assert_eq!(align_of::<dl_promiscon_req_t>(), 4);
}

// DL_PHYS_ADDR_REQ, M_PROTO type: { dl_primitive; dl_addr_type; }
#[test]
fn dl_phys_addr_req_layout() {
    assert_eq!(offset_of!(dl_phys_addr_req_t, dl_primitive), 0);
    assert_eq!(offset_of!(dl_phys_addr_req_t, dl_addr_type), 4);
    assert_eq!(size_of::<dl_phys_addr_req_t>(), 8);
    assert_eq!(align_of::<dl_phys_addr_req_t>(), 4);
}

// DL_PHYS_ADDR_ACK, M_PCPROTO type: { dl_primitive; dl_addr_length; dl_addr_offset; }
#[test]
fn dl_phys_addr_ack_layout() {
    assert_eq!(offset_of!(dl_phys_addr_ack_t, dl_primitive), 0);
    assert_eq!(offset_of!(dl_phys_addr_ack_t, dl_addr_length), 4);
    assert_eq!(offset_of!(dl_phys_addr_ack_t, dl_addr_offset), 8);
    assert_eq!(size_of::<dl_phys_addr_ack_t>(), 12);
    assert_eq!(align_of::<dl_phys_addr_ack_t>(), 4);
}

// DL_SET_PHYS_ADDR_REQ, M_PROTO type: { dl_primitive; dl_addr_length; dl_addr_offset; }
#[test]
fn dl_set_phys_addr_req_layout() {
    assert_eq!(offset_of!(dl_set_phys_addr_req_t, dl_primitive), 0);
    assert_eq!(offset_of!(dl_set_phys_addr_req_t, dl_addr_length), 4);
    assert_eq!(offset_of!(dl_set_phys_addr_req_t, dl_addr_offset), 8);
    assert_eq!(size_of::<dl_set_phys_addr_req_t>(), 12);
    assert_eq!(align_of::<dl_set_phys_addr_req_t>(), 4);
}

// DL_UNITDATA_REQ, M_PROTO type, with M_DATA block(s): { dl_primitive;
// dl_dest_addr_length; dl_dest_addr_offset; dl_priority_t dl_priority; }
#[test]
fn dl_unitdata_req_layout() {
    assert_eq!(offset_of!(dl_unitdata_req_t, dl_primitive), 0);
    assert_eq!(offset_of!(dl_unitdata_req_t, dl_dest_addr_length), 4);
    assert_eq!(offset_of!(dl_unitdata_req_t, dl_dest_addr_offset), 8);
    assert_eq!(offset_of!(dl_unitdata_req_t, dl_priority), 12);
    assert_eq!(
        offset_of!(dl_unitdata_req_t, dl_priority) + offset_of!(dl_priority_t, dl_min),
        12
    );
    assert_eq!(
        offset_of!(dl_unitdata_req_t, dl_priority) + offset_of!(dl_priority_t, dl_max),
        16
    );
    assert_eq!(size_of::<dl_unitdata_req_t>(), 20);
    assert_eq!(align_of::<dl_unitdata_req_t>(), 4);
}

// DL_UNITDATA_IND, M_PROTO type, with M_DATA block(s): { dl_primitive;
// dl_dest_addr_length; dl_dest_addr_offset; dl_src_addr_length;
// dl_src_addr_offset; dl_group_address; }
#[test]
fn dl_unitdata_ind_layout() {
    assert_eq!(offset_of!(dl_unitdata_ind_t, dl_primitive), 0);
    assert_eq!(offset_of!(dl_unitdata_ind_t, dl_dest_addr_length), 4);
    assert_eq!(offset_of!(dl_unitdata_ind_t, dl_dest_addr_offset), 8);
    assert_eq!(offset_of!(dl_unitdata_ind_t, dl_src_addr_length), 12);
    assert_eq!(offset_of!(dl_unitdata_ind_t, dl_src_addr_offset), 16);
    assert_eq!(offset_of!(dl_unitdata_ind_t, dl_group_address), 20);
    assert_eq!(size_of::<dl_unitdata_ind_t>(), 24);
    assert_eq!(align_of::<dl_unitdata_ind_t>(), 4);
}

// dl_uderror_ind_t: primitive, dest length, dest offset, unix errno,
// DLPI errno (dlpi.h).
#[test]
fn uderror_ind_layout() {
    assert_eq!(offset_of!(dl_uderror_ind_t, dl_primitive), 0);
    assert_eq!(offset_of!(dl_uderror_ind_t, dl_dest_addr_length), 4);
    assert_eq!(offset_of!(dl_uderror_ind_t, dl_dest_addr_offset), 8);
    assert_eq!(offset_of!(dl_uderror_ind_t, dl_unix_errno), 12);
    assert_eq!(offset_of!(dl_uderror_ind_t, dl_errno), 16);
    assert_eq!(size_of::<dl_uderror_ind_t>(), 20);
    assert_eq!((DL_TOOMANY, DL_NOTENAB), (0x13, 0x14));
}

// The shared typedefs come from the crate root (sys/types.h via
// sys/dlpi.h): `typedef uint32_t t_uscalar_t; typedef int32_t t_scalar_t;`
#[test]
fn scalar_typedefs() {
    assert_eq!(size_of::<t_uscalar_t>(), 4);
    assert_eq!(size_of::<t_scalar_t>(), 4);
    // Unsigned and signed respectively: the same bits read back apart.
    assert_eq!(t_uscalar_t::MAX as t_scalar_t, -1);
    assert_eq!(-1 as t_scalar_t as t_uscalar_t, 0xffff_ffff);
}

// ---------------------------------------------------------------------
// Constant values
// ---------------------------------------------------------------------

// Sun additions: #define DLIOC ('D' << 8); #define DLIOCHDRINFO (DLIOC|10);
// #define DL_IOC_HDR_INFO DLIOCHDRINFO.  'D' is 0x44, so 0x4400 | 10 = 0x440a.
#[test]
fn ioctl_values() {
    assert_eq!(DLIOC, 0x4400);
    assert_eq!(DLIOCHDRINFO, 0x440a);
    assert_eq!(DL_IOC_HDR_INFO, 0x440a);
}

// DLPI revision definition history: #define DL_VERSION_2 0x02
#[test]
fn version_value() {
    assert_eq!(DL_VERSION_2, 0x02);
}

// Primitives for Local Management Services, Solaris specific local
// management, Connectionless Service, and physical address primitives.
#[test]
fn primitive_values() {
    assert_eq!(DL_INFO_REQ, 0x00); // #define DL_INFO_REQ 0x00
    assert_eq!(DL_INFO_ACK, 0x03); // #define DL_INFO_ACK 0x03
    assert_eq!(DL_ATTACH_REQ, 0x0b); // #define DL_ATTACH_REQ 0x0b
    assert_eq!(DL_DETACH_REQ, 0x0c); // #define DL_DETACH_REQ 0x0c
    assert_eq!(DL_BIND_REQ, 0x01); // #define DL_BIND_REQ 0x01
    assert_eq!(DL_BIND_ACK, 0x04); // #define DL_BIND_ACK 0x04
    assert_eq!(DL_UNBIND_REQ, 0x02); // #define DL_UNBIND_REQ 0x02
    assert_eq!(DL_OK_ACK, 0x06); // #define DL_OK_ACK 0x06
    assert_eq!(DL_ERROR_ACK, 0x05); // #define DL_ERROR_ACK 0x05
    assert_eq!(DL_ENABMULTI_REQ, 0x1d); // #define DL_ENABMULTI_REQ 0x1d
    assert_eq!(DL_DISABMULTI_REQ, 0x1e); // #define DL_DISABMULTI_REQ 0x1e
    assert_eq!(DL_PROMISCON_REQ, 0x1f); // #define DL_PROMISCON_REQ 0x1f
    assert_eq!(DL_PROMISCOFF_REQ, 0x20); // #define DL_PROMISCOFF_REQ 0x20
    assert_eq!(DL_NOTIFY_REQ, 0x100); // #define DL_NOTIFY_REQ 0x100
    assert_eq!(DL_CAPABILITY_REQ, 0x110); // #define DL_CAPABILITY_REQ 0x110
    assert_eq!(DL_UNITDATA_REQ, 0x07); // #define DL_UNITDATA_REQ 0x07
    assert_eq!(DL_UNITDATA_IND, 0x08); // #define DL_UNITDATA_IND 0x08
    assert_eq!(DL_UDERROR_IND, 0x09); // #define DL_UDERROR_IND 0x09
    assert_eq!(DL_PHYS_ADDR_REQ, 0x31); // #define DL_PHYS_ADDR_REQ 0x31
    assert_eq!(DL_PHYS_ADDR_ACK, 0x32); // #define DL_PHYS_ADDR_ACK 0x32
    assert_eq!(DL_SET_PHYS_ADDR_REQ, 0x33); // #define DL_SET_PHYS_ADDR_REQ 0x33
}

/// A provider dispatches on `dl_primitive`, so two primitives sharing a
/// code would route one of them to the wrong handler.
#[test]
fn primitive_values_are_distinct() {
    let primitives = [
        DL_INFO_REQ,
        DL_INFO_ACK,
        DL_ATTACH_REQ,
        DL_DETACH_REQ,
        DL_BIND_REQ,
        DL_BIND_ACK,
        DL_UNBIND_REQ,
        DL_OK_ACK,
        DL_ERROR_ACK,
        DL_ENABMULTI_REQ,
        DL_DISABMULTI_REQ,
        DL_PROMISCON_REQ,
        DL_PROMISCOFF_REQ,
        DL_NOTIFY_REQ,
        DL_CAPABILITY_REQ,
        DL_UNITDATA_REQ,
        DL_UNITDATA_IND,
        DL_UDERROR_IND,
        DL_PHYS_ADDR_REQ,
        DL_PHYS_ADDR_ACK,
        DL_SET_PHYS_ADDR_REQ,
    ];
    assert_all_distinct("primitive", &primitives);
}

// DLPI interface states.
#[test]
fn state_values() {
    assert_eq!(DL_UNATTACHED, 0x04); // #define DL_UNATTACHED 0x04
    assert_eq!(DL_ATTACH_PENDING, 0x05); // #define DL_ATTACH_PENDING 0x05
    assert_eq!(DL_DETACH_PENDING, 0x06); // #define DL_DETACH_PENDING 0x06
    assert_eq!(DL_UNBOUND, 0x00); // #define DL_UNBOUND 0x00
    assert_eq!(DL_BIND_PENDING, 0x01); // #define DL_BIND_PENDING 0x01
    assert_eq!(DL_UNBIND_PENDING, 0x02); // #define DL_UNBIND_PENDING 0x02
    assert_eq!(DL_IDLE, 0x03); // #define DL_IDLE 0x03
    assert_all_distinct(
        "state",
        &[
            DL_UNATTACHED,
            DL_ATTACH_PENDING,
            DL_DETACH_PENDING,
            DL_UNBOUND,
            DL_BIND_PENDING,
            DL_UNBIND_PENDING,
            DL_IDLE,
        ],
    );
}

// DL_ERROR_ACK error return values.
#[test]
fn error_values() {
    assert_eq!(DL_ACCESS, 0x02); // #define DL_ACCESS 0x02
    assert_eq!(DL_BADADDR, 0x01); // #define DL_BADADDR 0x01
    assert_eq!(DL_BADDATA, 0x06); // #define DL_BADDATA 0x06
    assert_eq!(DL_BADPPA, 0x08); // #define DL_BADPPA 0x08
    assert_eq!(DL_BADPRIM, 0x09); // #define DL_BADPRIM 0x09
    assert_eq!(DL_BADSAP, 0x00); // #define DL_BADSAP 0x00
    assert_eq!(DL_OUTSTATE, 0x03); // #define DL_OUTSTATE 0x03
    assert_eq!(DL_SYSERR, 0x04); // #define DL_SYSERR 0x04
    assert_eq!(DL_UNSUPPORTED, 0x07); // #define DL_UNSUPPORTED 0x07
    assert_eq!(DL_NOTSUPPORTED, 0x12); // #define DL_NOTSUPPORTED 0x12
    assert_all_distinct(
        "error",
        &[
            DL_ACCESS,
            DL_BADADDR,
            DL_BADDATA,
            DL_BADPPA,
            DL_BADPRIM,
            DL_BADSAP,
            DL_OUTSTATE,
            DL_SYSERR,
            DL_UNSUPPORTED,
            DL_NOTSUPPORTED,
        ],
    );
}

// DLPI provider service supported: #define DL_CLDLS 0x02.
// DLPI provider style: #define DL_STYLE1 0x0500; #define DL_STYLE2 0x0501.
#[test]
fn service_and_style_values() {
    assert_eq!(DL_CLDLS, 0x02);
    assert_eq!(DL_STYLE1, 0x0500);
    assert_eq!(DL_STYLE2, 0x0501);
    // dl_bind_req_t.dl_service_mode is a uint16_t: DL_CLDLS must fit.
    assert_eq!(u16::try_from(DL_CLDLS), Ok(2));
}

// DLPI address type definition: #define DL_FACT_PHYS_ADDR 0x01;
// #define DL_CURR_PHYS_ADDR 0x02.
#[test]
fn address_type_values() {
    assert_eq!(DL_FACT_PHYS_ADDR, 0x01);
    assert_eq!(DL_CURR_PHYS_ADDR, 0x02);
}

// DLPI promiscuous mode definitions: #define DL_PROMISC_PHYS 0x01;
// #define DL_PROMISC_SAP 0x02; #define DL_PROMISC_MULTI 0x03.
#[test]
fn promiscuous_level_values() {
    assert_eq!(DL_PROMISC_PHYS, 0x01);
    assert_eq!(DL_PROMISC_SAP, 0x02);
    assert_eq!(DL_PROMISC_MULTI, 0x03);
}

// DLPI media types supported: #define DL_ETHER 0x4.  Defined once at the
// crate root and re-exported by the dlpi module: both paths name it.
#[test]
fn media_type_reused_from_crate_root() {
    assert_eq!(DL_ETHER, 0x4);
    assert_eq!(illumos_sys_hdrs::dlpi::DL_ETHER, illumos_sys_hdrs::DL_ETHER);
}

fn assert_all_distinct(what: &str, values: &[t_uscalar_t]) {
    for (i, a) in values.iter().enumerate() {
        for b in values.iter().skip(i + 1) {
            assert_ne!(a, b, "two DLPI {what} codes share the value {a:#x}");
        }
    }
}

/// Driver code globs both the crate root and the dlpi module; the names
/// the module re-exports (`DL_ETHER`, `t_uscalar_t`, `t_scalar_t`) are
/// the same items, so the two globs must not make them ambiguous.
mod root_and_dlpi_globs_together {
    use illumos_sys_hdrs::dlpi::*;
    use illumos_sys_hdrs::*;

    #[test]
    fn reexports_do_not_clash() {
        let media: t_uscalar_t = DL_ETHER;
        let sap_length: t_scalar_t = -2;
        assert_eq!(media, 0x4);
        assert_eq!(sap_length, -2);
        assert_eq!(DL_INFO_ACK, 0x03);
        // A root-only name (sys/stream.h), which DL_INFO_ACK travels in.
        assert_eq!(M_PCPROTO, 0x83);
    }
}
