// SPDX-License-Identifier: MPL-2.0

//! Checks of values that were derived rather than copied: enum positions
//! counted by hand, OR-ed masks, and `#[repr(C)]` layouts.

use core::mem::{align_of, offset_of, size_of};
use dladm_sys::*;

// ===== usr/src/lib/libdladm/common/libdladm.h =====

#[test]
fn status_table_is_in_header_order_and_contiguous() {
    // DLADM_STATUS_OK .. DLADM_STATUS_ADDRNOTAVAIL in illumos-gate.
    assert_eq!(dladm_status_t::ALL.len(), 88);
    for (index, (status, _)) in dladm_status_t::ALL.iter().enumerate() {
        assert_eq!(status.0 as usize, index, "{status:?} is out of place");
    }
}

#[test]
fn status_names_match_their_constants() {
    // Spot-check the hand-written name table against the constants, at the
    // start, around the values libdladm link management returns most, and
    // at the tail where illumos distributions diverge.
    let expect = [
        (dladm_status_t::DLADM_STATUS_OK, "DLADM_STATUS_OK", 0),
        (
            dladm_status_t::DLADM_STATUS_BADARG,
            "DLADM_STATUS_BADARG",
            1,
        ),
        (
            dladm_status_t::DLADM_STATUS_NOTFOUND,
            "DLADM_STATUS_NOTFOUND",
            5,
        ),
        (dladm_status_t::DLADM_STATUS_EXIST, "DLADM_STATUS_EXIST", 8),
        (
            dladm_status_t::DLADM_STATUS_DENIED,
            "DLADM_STATUS_DENIED",
            13,
        ),
        (
            dladm_status_t::DLADM_STATUS_TEMPONLY,
            "DLADM_STATUS_TEMPONLY",
            15,
        ),
        (
            dladm_status_t::DLADM_STATUS_LINKBUSY,
            "DLADM_STATUS_LINKBUSY",
            24,
        ),
        (
            dladm_status_t::DLADM_STATUS_INVALID_MTU,
            "DLADM_STATUS_INVALID_MTU",
            84,
        ),
        (
            dladm_status_t::DLADM_STATUS_PERSIST_ON_TEMP,
            "DLADM_STATUS_PERSIST_ON_TEMP",
            85,
        ),
        (
            dladm_status_t::DLADM_STATUS_BAD_ENCAP,
            "DLADM_STATUS_BAD_ENCAP",
            86,
        ),
        (
            dladm_status_t::DLADM_STATUS_ADDRNOTAVAIL,
            "DLADM_STATUS_ADDRNOTAVAIL",
            87,
        ),
    ];
    for (status, name, value) in expect {
        assert_eq!(status.0, value, "{name}");
        assert_eq!(status.c_name(), Some(name));
    }
}

#[test]
fn status_names_are_unique() {
    let names: Vec<&str> = dladm_status_t::ALL.iter().map(|(_, n)| *n).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len());
    assert!(names.iter().all(|n| n.starts_with("DLADM_STATUS_")));
}

#[test]
fn unknown_status_has_no_name() {
    assert_eq!(dladm_status_t(-1).c_name(), None);
    assert_eq!(dladm_status_t(88).c_name(), None);
    assert_eq!(dladm_status_t(c_int_max()).c_name(), None);
    assert!(dladm_status_t::DLADM_STATUS_OK.is_ok());
    assert!(!dladm_status_t::DLADM_STATUS_FAILED.is_ok());
}

fn c_int_max() -> core::ffi::c_int {
    core::ffi::c_int::MAX
}

#[test]
fn option_flags_are_distinct_single_bits() {
    let flags = [
        DLADM_OPT_ACTIVE,
        DLADM_OPT_PERSIST,
        DLADM_OPT_CREATE,
        DLADM_OPT_FORCE,
        DLADM_OPT_PREFIX,
        DLADM_OPT_ANCHOR,
        DLADM_OPT_VLAN,
        DLADM_OPT_NOREFRESH,
        DLADM_OPT_BOOT,
        DLADM_OPT_TRANSIENT,
    ];
    let mut seen = 0u32;
    for (bit, flag) in flags.iter().enumerate() {
        assert_eq!(*flag, 1 << bit, "flag {bit}");
        assert_eq!(seen & flag, 0);
        seen |= flag;
    }
}

#[test]
fn walk_return_values() {
    assert_eq!(DLADM_WALK_CONTINUE, -1);
    assert_eq!(DLADM_WALK_TERMINATE, 0);
}

#[test]
fn datatype_values_are_positions() {
    assert_eq!(dladm_datatype_t::DLADM_TYPE_STR.0, 0);
    assert_eq!(dladm_datatype_t::DLADM_TYPE_BOOLEAN.0, 1);
    assert_eq!(dladm_datatype_t::DLADM_TYPE_UINT64.0, 2);
}

#[cfg(target_pointer_width = "64")]
#[test]
fn conf_layout_lp64() {
    // boolean_t (4) + 4 bytes padding + union { int; pointer } (8).
    assert_eq!(size_of::<dladm_conf_t>(), 16);
    assert_eq!(align_of::<dladm_conf_t>(), 8);
    assert_eq!(offset_of!(dladm_conf_t, ds_readonly), 0);
    assert_eq!(offset_of!(dladm_conf_t, ds_u), 8);
    assert_eq!(size_of::<dladm_conf_u>(), 8);
}

#[test]
fn conf_invalid_is_not_readonly_and_has_invalid_id() {
    let conf = dladm_conf_t::INVALID;
    assert!(!conf.ds_readonly.is_true());
    // SAFETY: INVALID is built through the dsu_confid member.
    let id = unsafe { conf.ds_u.dsu_confid };
    assert_eq!(id, DLADM_INVALID_CONF);
}

#[test]
fn c_enum_newtypes_are_int_sized() {
    assert_eq!(size_of::<dladm_status_t>(), 4);
    assert_eq!(size_of::<dladm_datatype_t>(), 4);
    assert_eq!(size_of::<dladm_prop_type_t>(), 4);
    assert_eq!(size_of::<datalink_class_t>(), 4);
    assert_eq!(size_of::<boolean_t>(), 4);
}

#[test]
fn boolean_conversion() {
    assert_eq!(boolean_t::from(true), boolean_t::B_TRUE);
    assert_eq!(boolean_t::from(false), boolean_t::B_FALSE);
    assert!(boolean_t(7).is_true());
    assert!(!boolean_t::B_FALSE.is_true());
}

// ===== usr/src/lib/libdladm/common/libdllink.h =====

#[test]
fn prop_type_values_are_positions_from_one() {
    assert_eq!(dladm_prop_type_t::DLADM_PROP_VAL_CURRENT.0, 1);
    assert_eq!(dladm_prop_type_t::DLADM_PROP_VAL_DEFAULT.0, 2);
    assert_eq!(dladm_prop_type_t::DLADM_PROP_VAL_PERM.0, 3);
    assert_eq!(dladm_prop_type_t::DLADM_PROP_VAL_MODIFIABLE.0, 4);
    assert_eq!(dladm_prop_type_t::DLADM_PROP_VAL_PERSISTENT.0, 5);
}

// ===== usr/src/uts/common/sys/dls_mgmt.h =====

#[test]
fn class_all_is_the_or_of_every_class() {
    let classes = [
        datalink_class_t::DATALINK_CLASS_PHYS,
        datalink_class_t::DATALINK_CLASS_VLAN,
        datalink_class_t::DATALINK_CLASS_AGGR,
        datalink_class_t::DATALINK_CLASS_VNIC,
        datalink_class_t::DATALINK_CLASS_ETHERSTUB,
        datalink_class_t::DATALINK_CLASS_SIMNET,
        datalink_class_t::DATALINK_CLASS_BRIDGE,
        datalink_class_t::DATALINK_CLASS_IPTUN,
        datalink_class_t::DATALINK_CLASS_PART,
        datalink_class_t::DATALINK_CLASS_OVERLAY,
        datalink_class_t::DATALINK_CLASS_MISC,
    ];
    let mut all = 0;
    for (bit, class) in classes.iter().enumerate() {
        assert_eq!(class.0, 1 << bit, "class bit {bit}");
        all |= class.0;
    }
    assert_eq!(datalink_class_t::DATALINK_CLASS_ALL.0, all);
    assert_eq!(all, 0x7ff);
}

#[test]
fn any_mediatype_is_flag_in_high_word() {
    assert_eq!(DATALINK_ANY_MEDIATYPE, 0x1_0000_0000);
    assert_eq!(DATALINK_ANY_MEDIATYPE as u32, 0, "low word holds no media");
}

#[test]
fn attribute_names_are_short_enough() {
    for name in [FPHYMAJ, FPHYINST, FDEVNAME, FMACADDR] {
        assert!(name.to_bytes_with_nul().len() <= MAXLINKATTRLEN);
    }
}

// ===== usr/src/uts/common/sys/mac.h / sys/param.h =====

#[test]
fn link_id_and_name_limits() {
    assert_eq!(DATALINK_INVALID_LINKID, 0);
    assert_eq!(DATALINK_ALL_LINKID, DATALINK_INVALID_LINKID);
    assert_eq!(DATALINK_MAX_LINKID, u32::MAX);
    assert_eq!(MAXLINKNAMELEN, 32);
    const { assert!(DLADM_STRSIZE >= MAXLINKNAMELEN) };
}
