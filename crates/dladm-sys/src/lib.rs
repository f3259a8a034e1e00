// SPDX-License-Identifier: MPL-2.0

//! Raw FFI declarations for the parts of illumos `libdladm` that datalink
//! management uses: handles, link-id allocation in `dlmgmtd`, name/id lookup,
//! walking, persistent configuration, and link properties.
//!
//! Theory:
//! - `libdladm` is a `SUNWprivate` library: its ABI may change between
//!   illumos releases.  Every function declared here is listed in the global
//!   section of `usr/src/lib/libdladm/common/mapfile-vers` (illumos-gate), so
//!   it can be linked; functions that only exist in headers (for example
//!   `dladm_getnext_conf_linkprop`, `dladm_zname2info`) are deliberately
//!   absent.  `dladm_read_conf` was replaced by `dladm_open_conf` (writable
//!   copy held by dlmgmtd) and `dladm_getsnap_conf` (read-only local nvlist
//!   snapshot); `dladm_getnext_conf_linkid` never existed in illumos-gate.
//! - Only declarations live here: no `unsafe` code runs in this crate.  The
//!   library is linked only when building for illumos
//!   (`cfg_attr(target_os = "illumos", link(name = "dladm"))`), so the crate
//!   also builds on the Linux host used for the simulator and CI.
//! - C enums are modelled as `#[repr(transparent)]` newtypes over `c_int`
//!   with associated constants, never as Rust enums: a value the library
//!   returns that this crate does not know about (a newer release) must not
//!   be undefined behaviour.
//! - Each item cites the header it comes from, grouped under banner comments.
//!   Values that were derived (enum positions counted by hand) are checked by
//!   the tests in `tests/`.
//!
//! Divergence to keep in mind: illumos-joyent (SmartOS) has a different tail
//! of `dladm_status_t` (`DLADM_STATUS_BAD_ENCAP` right after
//! `DLADM_STATUS_INVALID_MTU`, no `DLADM_STATUS_PERSIST_ON_TEMP`).  Values up
//! to and including `DLADM_STATUS_INVALID_MTU` (84) are identical everywhere;
//! use `dladm_status2str` for anything shown to people.

#![no_std]
#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_int, c_uint, c_void};
use core::marker::{PhantomData, PhantomPinned};

// ===== usr/src/uts/common/sys/types.h =====

/// `typedef uint32_t datalink_id_t;`
pub type datalink_id_t = u32;

/// `typedef id_t zoneid_t;` (`id_t` is `int`).
pub type zoneid_t = c_int;

/// `typedef enum { B_FALSE = 0, B_TRUE = 1 } boolean_t;` -- an `int`-sized C
/// enum.  Modelled as a newtype so that any value the C side produces is
/// valid; C treats every non-zero value as true.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct boolean_t(pub c_int);

impl boolean_t {
    pub const B_FALSE: Self = Self(0);
    pub const B_TRUE: Self = Self(1);

    /// C truthiness: any non-zero value is true.
    pub const fn is_true(self) -> bool {
        self.0 != 0
    }
}

impl From<bool> for boolean_t {
    fn from(value: bool) -> Self {
        if value { Self::B_TRUE } else { Self::B_FALSE }
    }
}

// ===== usr/src/uts/common/sys/param.h =====

/// Maximum datalink name length including the terminating NUL.
pub const MAXLINKNAMELEN: usize = 32;

// ===== usr/src/uts/common/sys/mac.h =====

pub const DATALINK_INVALID_LINKID: datalink_id_t = 0;
pub const DATALINK_ALL_LINKID: datalink_id_t = 0;
pub const DATALINK_MAX_LINKID: datalink_id_t = 0xffff_ffff;

// ===== usr/src/uts/common/sys/dlpi.h =====
// DLPI media types, passed as the `media` argument of link creation.

pub const DL_ETHER: u32 = 0x4;
pub const DL_IPV4: u32 = 0x8000_0001;
pub const DL_IPV6: u32 = 0x8000_0002;

// ===== usr/src/uts/common/sys/dls_mgmt.h =====

/// `datalink_class_t`: a C enum of single-bit class values.  Walk functions
/// take an OR of classes as a filter (dlmgmtd matches `class & filter`).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct datalink_class_t(pub c_int);

impl datalink_class_t {
    pub const DATALINK_CLASS_PHYS: Self = Self(0x01);
    pub const DATALINK_CLASS_VLAN: Self = Self(0x02);
    pub const DATALINK_CLASS_AGGR: Self = Self(0x04);
    pub const DATALINK_CLASS_VNIC: Self = Self(0x08);
    pub const DATALINK_CLASS_ETHERSTUB: Self = Self(0x10);
    pub const DATALINK_CLASS_SIMNET: Self = Self(0x20);
    pub const DATALINK_CLASS_BRIDGE: Self = Self(0x40);
    pub const DATALINK_CLASS_IPTUN: Self = Self(0x80);
    pub const DATALINK_CLASS_PART: Self = Self(0x100);
    pub const DATALINK_CLASS_OVERLAY: Self = Self(0x200);
    /// Class for links of providers that have no class of their own
    /// (current illumos-gate; used by OPTE's xde).
    pub const DATALINK_CLASS_MISC: Self = Self(0x400);
    /// `#define DATALINK_CLASS_ALL`: the OR of every class above.  Rejected
    /// by `dladm_create_datalink_id`; used as a walk filter.
    pub const DATALINK_CLASS_ALL: Self = Self(
        Self::DATALINK_CLASS_PHYS.0
            | Self::DATALINK_CLASS_VLAN.0
            | Self::DATALINK_CLASS_AGGR.0
            | Self::DATALINK_CLASS_VNIC.0
            | Self::DATALINK_CLASS_ETHERSTUB.0
            | Self::DATALINK_CLASS_SIMNET.0
            | Self::DATALINK_CLASS_BRIDGE.0
            | Self::DATALINK_CLASS_IPTUN.0
            | Self::DATALINK_CLASS_PART.0
            | Self::DATALINK_CLASS_OVERLAY.0
            | Self::DATALINK_CLASS_MISC.0,
    );
}

/// `typedef uint64_t datalink_media_t;` -- high 32 bits are flags (0x1 =
/// accept any media), low 32 bits a DLPI media type.
pub type datalink_media_t = u64;

/// `DATALINK_ANY_MEDIATYPE`: `(datalink_media_t)0x01 << 32`.
pub const DATALINK_ANY_MEDIATYPE: datalink_media_t = 1 << 32;

/// Maximum length of a persistent-configuration attribute name.
pub const MAXLINKATTRLEN: usize = 32;
/// Maximum size of a persistent-configuration attribute value.
pub const MAXLINKATTRVALLEN: usize = 1024;

/// Attributes the kernel itself keeps for physical links.
pub const FPHYMAJ: &core::ffi::CStr = c"phymaj";
pub const FPHYINST: &core::ffi::CStr = c"phyinst";
pub const FDEVNAME: &core::ffi::CStr = c"devname";

// ===== usr/src/lib/libdladm/common/libdladm_impl.h =====

/// Common persistent attribute: MAC address as a string.
pub const FMACADDR: &core::ffi::CStr = c"macaddr";

// ===== usr/src/lib/libdladm/common/libdladm.h =====

/// Size of the caller-supplied buffer for the `*2str` functions.
pub const DLADM_STRSIZE: usize = 256;

/// Option flags taken by libdladm functions (`uint32_t flags`).
pub const DLADM_OPT_ACTIVE: u32 = 0x0000_0001;
pub const DLADM_OPT_PERSIST: u32 = 0x0000_0002;
pub const DLADM_OPT_CREATE: u32 = 0x0000_0004;
pub const DLADM_OPT_FORCE: u32 = 0x0000_0008;
pub const DLADM_OPT_PREFIX: u32 = 0x0000_0010;
pub const DLADM_OPT_ANCHOR: u32 = 0x0000_0020;
pub const DLADM_OPT_VLAN: u32 = 0x0000_0040;
pub const DLADM_OPT_NOREFRESH: u32 = 0x0000_0080;
pub const DLADM_OPT_BOOT: u32 = 0x0000_0100;
/// Link created inside a non-global zone: removed when the zone halts.
/// `dladm_create_datalink_id` adds it itself when not in the global zone.
pub const DLADM_OPT_TRANSIENT: u32 = 0x0000_0200;

/// Return values of `dladm_walk_datalink_id` callbacks.
pub const DLADM_WALK_TERMINATE: c_int = 0;
pub const DLADM_WALK_CONTINUE: c_int = -1;

/// `ds_confid` value of a `dladm_conf_t` that holds nothing.
pub const DLADM_INVALID_CONF: c_int = 0;

/// `dladm_status_t`: a C enum starting at `DLADM_STATUS_OK = 0` whose other
/// members are numbered by position.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct dladm_status_t(pub c_int);

/// Declares the `dladm_status_t` constants (values written out, counted
/// from the header) and `dladm_status_t::ALL`, the same list with names.
macro_rules! dladm_status_values {
    ($($name:ident = $value:literal,)*) => {
        impl dladm_status_t {
            $(pub const $name: Self = Self($value);)*

            /// Every status in header order with its C name; position `i`
            /// holds value `i` (checked by tests/constants.rs).
            pub const ALL: &'static [(Self, &'static str)] =
                &[$((Self::$name, stringify!($name)),)*];
        }
    };
}

dladm_status_values! {
    DLADM_STATUS_OK = 0,
    DLADM_STATUS_BADARG = 1,
    DLADM_STATUS_FAILED = 2,
    DLADM_STATUS_TOOSMALL = 3,
    DLADM_STATUS_NOTSUP = 4,
    DLADM_STATUS_NOTFOUND = 5,
    DLADM_STATUS_BADVAL = 6,
    DLADM_STATUS_NOMEM = 7,
    DLADM_STATUS_EXIST = 8,
    DLADM_STATUS_LINKINVAL = 9,
    DLADM_STATUS_PROPRDONLY = 10,
    DLADM_STATUS_BADVALCNT = 11,
    DLADM_STATUS_DBNOTFOUND = 12,
    DLADM_STATUS_DENIED = 13,
    DLADM_STATUS_IOERR = 14,
    DLADM_STATUS_TEMPONLY = 15,
    DLADM_STATUS_TIMEDOUT = 16,
    DLADM_STATUS_ISCONN = 17,
    DLADM_STATUS_NOTCONN = 18,
    DLADM_STATUS_REPOSITORYINVAL = 19,
    DLADM_STATUS_MACADDRINVAL = 20,
    DLADM_STATUS_KEYINVAL = 21,
    DLADM_STATUS_INVALIDMACADDRLEN = 22,
    DLADM_STATUS_INVALIDMACADDRTYPE = 23,
    DLADM_STATUS_LINKBUSY = 24,
    DLADM_STATUS_VIDINVAL = 25,
    DLADM_STATUS_NONOTIF = 26,
    DLADM_STATUS_TRYAGAIN = 27,
    DLADM_STATUS_IPTUNTYPE = 28,
    DLADM_STATUS_IPTUNTYPEREQD = 29,
    DLADM_STATUS_BADIPTUNLADDR = 30,
    DLADM_STATUS_BADIPTUNRADDR = 31,
    DLADM_STATUS_ADDRINUSE = 32,
    DLADM_STATUS_BADTIMEVAL = 33,
    DLADM_STATUS_INVALIDMACADDR = 34,
    DLADM_STATUS_INVALIDMACADDRNIC = 35,
    DLADM_STATUS_INVALIDMACADDRINUSE = 36,
    DLADM_STATUS_MACFACTORYSLOTINVALID = 37,
    DLADM_STATUS_MACFACTORYSLOTUSED = 38,
    DLADM_STATUS_MACFACTORYSLOTALLUSED = 39,
    DLADM_STATUS_MACFACTORYNOTSUP = 40,
    DLADM_STATUS_INVALIDMACPREFIX = 41,
    DLADM_STATUS_INVALIDMACPREFIXLEN = 42,
    DLADM_STATUS_BADCPUID = 43,
    DLADM_STATUS_CPUERR = 44,
    DLADM_STATUS_CPUNOTONLINE = 45,
    DLADM_STATUS_BADRANGE = 46,
    DLADM_STATUS_TOOMANYELEMENTS = 47,
    DLADM_STATUS_DB_NOTFOUND = 48,
    DLADM_STATUS_DB_PARSE_ERR = 49,
    DLADM_STATUS_PROP_PARSE_ERR = 50,
    DLADM_STATUS_ATTR_PARSE_ERR = 51,
    DLADM_STATUS_FLOW_DB_ERR = 52,
    DLADM_STATUS_FLOW_DB_OPEN_ERR = 53,
    DLADM_STATUS_FLOW_DB_PARSE_ERR = 54,
    DLADM_STATUS_FLOWPROP_DB_PARSE_ERR = 55,
    DLADM_STATUS_FLOW_ADD_ERR = 56,
    DLADM_STATUS_FLOW_WALK_ERR = 57,
    DLADM_STATUS_FLOW_IDENTICAL = 58,
    DLADM_STATUS_FLOW_INCOMPATIBLE = 59,
    DLADM_STATUS_FLOW_EXISTS = 60,
    DLADM_STATUS_PERSIST_FLOW_EXISTS = 61,
    DLADM_STATUS_INVALID_IP = 62,
    DLADM_STATUS_INVALID_PREFIXLEN = 63,
    DLADM_STATUS_INVALID_PROTOCOL = 64,
    DLADM_STATUS_INVALID_PORT = 65,
    DLADM_STATUS_INVALID_DSF = 66,
    DLADM_STATUS_INVALID_DSFMASK = 67,
    DLADM_STATUS_INVALID_MACMARGIN = 68,
    DLADM_STATUS_NOTDEFINED = 69,
    DLADM_STATUS_BADPROP = 70,
    DLADM_STATUS_MINMAXBW = 71,
    DLADM_STATUS_NO_HWRINGS = 72,
    DLADM_STATUS_PERMONLY = 73,
    DLADM_STATUS_OPTMISSING = 74,
    DLADM_STATUS_POOLCPU = 75,
    DLADM_STATUS_INVALID_PORT_INSTANCE = 76,
    DLADM_STATUS_PORT_IS_DOWN = 77,
    DLADM_STATUS_PKEY_NOT_PRESENT = 78,
    DLADM_STATUS_PARTITION_EXISTS = 79,
    DLADM_STATUS_INVALID_PKEY = 80,
    DLADM_STATUS_NO_IB_HW_RESOURCE = 81,
    DLADM_STATUS_INVALID_PKEY_TBL_SIZE = 82,
    DLADM_STATUS_PORT_NOPROTO = 83,
    DLADM_STATUS_INVALID_MTU = 84,
    DLADM_STATUS_PERSIST_ON_TEMP = 85,
    DLADM_STATUS_BAD_ENCAP = 86,
    DLADM_STATUS_ADDRNOTAVAIL = 87,
}

impl dladm_status_t {
    pub const fn is_ok(self) -> bool {
        self.0 == Self::DLADM_STATUS_OK.0
    }

    /// The C enumerator name, when the value is one this crate knows.  For
    /// messages meant for people prefer `dladm_status2str`.
    pub fn c_name(self) -> Option<&'static str> {
        let index = usize::try_from(self.0).ok()?;
        Self::ALL.get(index).map(|(_, name)| *name)
    }
}

/// `dladm_datatype_t`: type of a persistent-configuration attribute value
/// given to `dladm_set_conf_field`.  Sizes stored by libdladm: STR =
/// `strlen + 1`, BOOLEAN = `sizeof (boolean_t)` (4), UINT64 = 8.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct dladm_datatype_t(pub c_int);

impl dladm_datatype_t {
    pub const DLADM_TYPE_STR: Self = Self(0);
    pub const DLADM_TYPE_BOOLEAN: Self = Self(1);
    pub const DLADM_TYPE_UINT64: Self = Self(2);
}

/// Opaque `nvlist_t` (libnvpair).
#[repr(C)]
pub struct nvlist_t {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// Body of `dladm_conf_t`: `union { int dsu_confid; nvlist_t *dsu_nvl; }`.
/// `dsu_confid` is valid when `ds_readonly` is false (a configuration
/// handle held by dlmgmtd), `dsu_nvl` when it is true (a local snapshot).
#[repr(C)]
#[derive(Clone, Copy)]
pub union dladm_conf_u {
    pub dsu_confid: c_int,
    pub dsu_nvl: *mut nvlist_t,
}

/// `dladm_conf_t`: `struct { boolean_t ds_readonly; union ds_u; }`, passed
/// by value to several functions.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct dladm_conf_t {
    pub ds_readonly: boolean_t,
    pub ds_u: dladm_conf_u,
}

impl dladm_conf_t {
    /// A conf holding nothing (`ds_readonly = B_FALSE`,
    /// `ds_confid = DLADM_INVALID_CONF`); `dladm_destroy_conf` ignores it.
    pub const INVALID: Self = Self {
        ds_readonly: boolean_t::B_FALSE,
        ds_u: dladm_conf_u {
            dsu_confid: DLADM_INVALID_CONF,
        },
    };
}

/// Opaque `struct dladm_handle` (holds the /dev/dld and dlmgmtd door fds).
#[repr(C)]
pub struct dladm_handle {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `typedef struct dladm_handle *dladm_handle_t;`
pub type dladm_handle_t = *mut dladm_handle;

// ===== usr/src/lib/libdladm/common/libdllink.h =====

/// `dladm_prop_type_t`: which value of a link property to read.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct dladm_prop_type_t(pub c_int);

impl dladm_prop_type_t {
    pub const DLADM_PROP_VAL_CURRENT: Self = Self(1);
    pub const DLADM_PROP_VAL_DEFAULT: Self = Self(2);
    pub const DLADM_PROP_VAL_PERM: Self = Self(3);
    pub const DLADM_PROP_VAL_MODIFIABLE: Self = Self(4);
    pub const DLADM_PROP_VAL_PERSISTENT: Self = Self(5);
}

/// Maximum number of values of one link property.
pub const DLADM_MAX_PROP_VALCNT: usize = 32;
/// Minimum size of each value buffer given to `dladm_get_linkprop`.
pub const DLADM_PROP_VAL_MAX: usize = 128;

/// Callback of `dladm_walk_datalink_id`; returns `DLADM_WALK_CONTINUE` or
/// `DLADM_WALK_TERMINATE`.
pub type dladm_walk_datalink_id_cb_t =
    unsafe extern "C" fn(handle: dladm_handle_t, linkid: datalink_id_t, arg: *mut c_void) -> c_int;

#[cfg_attr(target_os = "illumos", link(name = "dladm"))]
unsafe extern "C" {
    // ----- libdladm.h -----

    /// Opens /dev/dld (`DLD_CONTROL_DEV`); the dlmgmtd door is opened lazily.
    pub fn dladm_open(handle: *mut dladm_handle_t) -> dladm_status_t;
    pub fn dladm_close(handle: dladm_handle_t);
    /// The /dev/dld descriptor held by the handle.
    pub fn dladm_dld_fd(handle: dladm_handle_t) -> c_int;
    /// Writes a message into `buf` (at least `DLADM_STRSIZE` bytes) and
    /// returns `buf`.
    pub fn dladm_status2str(status: dladm_status_t, buf: *mut c_char) -> *const c_char;
    /// Writes the class name into `buf` (`DLADM_STRSIZE`) and returns `buf`.
    pub fn dladm_class2str(class: datalink_class_t, buf: *mut c_char) -> *const c_char;
    /// Writes the media name into `buf` (`DLADM_STRSIZE`) and returns `buf`.
    pub fn dladm_media2str(media: u32, buf: *mut c_char) -> *const c_char;
    pub fn dladm_valid_linkname(link: *const c_char) -> boolean_t;

    // ----- libdllink.h: link ids (door calls to dlmgmtd) -----

    /// Needs `DLADM_OPT_ACTIVE` and/or `DLADM_OPT_PERSIST`; rejects
    /// `DATALINK_CLASS_ALL`.  In a non-global zone PERSIST gives
    /// `DLADM_STATUS_TEMPONLY` and TRANSIENT is added.
    pub fn dladm_create_datalink_id(
        handle: dladm_handle_t,
        link: *const c_char,
        class: datalink_class_t,
        media: c_uint,
        flags: u32,
        linkidp: *mut datalink_id_t,
    ) -> dladm_status_t;
    pub fn dladm_destroy_datalink_id(
        handle: dladm_handle_t,
        linkid: datalink_id_t,
        flags: u32,
    ) -> dladm_status_t;
    pub fn dladm_remap_datalink_id(
        handle: dladm_handle_t,
        linkid: datalink_id_t,
        link: *const c_char,
    ) -> dladm_status_t;
    pub fn dladm_up_datalink_id(handle: dladm_handle_t, linkid: datalink_id_t) -> dladm_status_t;
    /// Any out-pointer may be null.  `flagp` receives `DLADM_OPT_*` bits.
    pub fn dladm_name2info(
        handle: dladm_handle_t,
        link: *const c_char,
        linkidp: *mut datalink_id_t,
        flagp: *mut u32,
        classp: *mut datalink_class_t,
        mediap: *mut u32,
    ) -> dladm_status_t;
    /// `link`/`len` must be both null/0 or both set (`len` >=
    /// `MAXLINKNAMELEN` is always enough).
    pub fn dladm_datalink_id2info(
        handle: dladm_handle_t,
        linkid: datalink_id_t,
        flagp: *mut u32,
        classp: *mut datalink_class_t,
        mediap: *mut u32,
        link: *mut c_char,
        len: usize,
    ) -> dladm_status_t;
    /// Calls `func` for each link matching `class` (an OR of classes),
    /// `dmedia` and `flags` (`DLADM_OPT_ACTIVE`/`PERSIST`/`TRANSIENT`).
    pub fn dladm_walk_datalink_id(
        func: Option<dladm_walk_datalink_id_cb_t>,
        handle: dladm_handle_t,
        arg: *mut c_void,
        class: datalink_class_t,
        dmedia: datalink_media_t,
        flags: u32,
    ) -> dladm_status_t;

    // ----- libdllink.h: persistent configuration -----

    /// New writable configuration for `linkid`, held by dlmgmtd until
    /// `dladm_write_conf`/`dladm_destroy_conf`.
    pub fn dladm_create_conf(
        handle: dladm_handle_t,
        link: *const c_char,
        linkid: datalink_id_t,
        class: datalink_class_t,
        media: u32,
        confp: *mut dladm_conf_t,
    ) -> dladm_status_t;
    /// Writable copy of the stored configuration of `linkid`.
    pub fn dladm_open_conf(
        handle: dladm_handle_t,
        linkid: datalink_id_t,
        confp: *mut dladm_conf_t,
    ) -> dladm_status_t;
    /// Read-only local snapshot (nvlist) of the stored configuration.
    pub fn dladm_getsnap_conf(
        handle: dladm_handle_t,
        linkid: datalink_id_t,
        confp: *mut dladm_conf_t,
    ) -> dladm_status_t;
    /// `DLADM_STATUS_DENIED` for a read-only snapshot.
    pub fn dladm_write_conf(handle: dladm_handle_t, conf: dladm_conf_t) -> dladm_status_t;
    pub fn dladm_remove_conf(handle: dladm_handle_t, linkid: datalink_id_t) -> dladm_status_t;
    /// Frees a snapshot or releases a dlmgmtd-held configuration.
    pub fn dladm_destroy_conf(handle: dladm_handle_t, conf: dladm_conf_t);
    /// `DLADM_STATUS_TOOSMALL` if the stored value exceeds `attrsz`.
    pub fn dladm_get_conf_field(
        handle: dladm_handle_t,
        conf: dladm_conf_t,
        attr: *const c_char,
        attrval: *mut c_void,
        attrsz: usize,
    ) -> dladm_status_t;
    /// Values larger than `MAXLINKATTRVALLEN` give `DLADM_STATUS_TOOSMALL`.
    pub fn dladm_set_conf_field(
        handle: dladm_handle_t,
        conf: dladm_conf_t,
        attr: *const c_char,
        r#type: dladm_datatype_t,
        attrval: *const c_void,
    ) -> dladm_status_t;
    pub fn dladm_unset_conf_field(
        handle: dladm_handle_t,
        conf: dladm_conf_t,
        attr: *const c_char,
    ) -> dladm_status_t;

    // ----- libdllink.h: link properties -----

    /// `prop_name` null with `val_cnt` 0 resets all properties (as
    /// `dladm_simnet_delete` does with `DLADM_OPT_ACTIVE`).
    pub fn dladm_set_linkprop(
        handle: dladm_handle_t,
        linkid: datalink_id_t,
        prop_name: *const c_char,
        prop_val: *mut *mut c_char,
        val_cnt: c_uint,
        flags: c_uint,
    ) -> dladm_status_t;
    /// `prop_val` is an array of `*val_cntp` buffers of `DLADM_PROP_VAL_MAX`
    /// bytes each; on return `*val_cntp` holds the number filled.
    pub fn dladm_get_linkprop(
        handle: dladm_handle_t,
        linkid: datalink_id_t,
        prop_type: dladm_prop_type_t,
        prop_name: *const c_char,
        prop_val: *mut *mut c_char,
        val_cntp: *mut c_uint,
    ) -> dladm_status_t;
    /// Applies the persistent link properties of `linkid` (boot-time "up").
    pub fn dladm_init_linkprop(
        handle: dladm_handle_t,
        linkid: datalink_id_t,
        any_media: boolean_t,
    ) -> dladm_status_t;

    // ----- libdlbridge.h (definitions in libdlbridge.c) -----

    /// Store `bridge` as the link's `FBRIDGE` field (`""` removes it) and
    /// refresh the bridge daemon; `dladm_open_conf` first, so a link with
    /// no persistent configuration gives `DLADM_STATUS_NOTFOUND`, and a
    /// link already on another bridge `DLADM_STATUS_EXIST`.
    pub fn dladm_bridge_setlink(
        handle: dladm_handle_t,
        linkid: datalink_id_t,
        bridge: *const c_char,
    ) -> dladm_status_t;
    /// The link's bridge; `DLADM_STATUS_NOTFOUND` when it has none.
    pub fn dladm_bridge_getlink(
        handle: dladm_handle_t,
        linkid: datalink_id_t,
        bridge: *mut c_char,
        bridgelen: usize,
    ) -> dladm_status_t;
    /// Refresh the bridge the link belongs to (nothing if none), so its
    /// daemon adds a port that has become active.
    pub fn dladm_bridge_refresh(handle: dladm_handle_t, linkid: datalink_id_t) -> dladm_status_t;

    // ----- libdlvnic.h (definition in libdlvnic.c) -----

    /// Re-create the persistent VNIC `linkid` (`DATALINK_ALL_LINKID`:
    /// every one) from its configuration, as `dladm up-vnic` does.
    pub fn dladm_vnic_up(handle: dladm_handle_t, linkid: datalink_id_t, flags: u32) -> dladm_status_t;
}
