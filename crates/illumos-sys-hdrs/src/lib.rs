// SPDX-License-Identifier: MPL-2.0

//! Raw illumos kernel ABI: `#[repr(C)]` types and constants.
//!
//! Theory statement.  This crate is the lowest layer of the driver: a
//! hand-written transcription of the parts of the illumos-gate kernel
//! headers the tun/tap driver touches, for the amd64 (LP64) kernel only.
//! Nothing here has behaviour; it holds no locks and allocates nothing.
//!
//! Invariants:
//! - Every struct is `#[repr(C)]`, names and field order follow the
//!   header verbatim, and its size and field offsets are pinned by
//!   `tests/layout.rs` with numbers derived by hand from the header cited
//!   in the struct's doc comment.
//! - Every constant group sits under a banner naming its header.
//! - Types that are always compiled here are usable from userland and
//!   host builds (the simulator builds real `mblk_t`s); the functions
//!   only the kernel provides live in [`kernel`], behind the `kernel`
//!   feature, so host binaries never reference kernel symbols.
//! - Values that could not be confirmed against illumos-gate carry an
//!   `UNVERIFIED:` comment with the reason.

#![no_std]
#![allow(non_camel_case_types)]
#![allow(non_upper_case_globals)]
// C macro names (`_IOW`, `MBLKL`) are kept verbatim.
#![allow(non_snake_case)]
#![allow(clippy::upper_case_acronyms)]

use core::ffi::{c_char, c_int, c_long, c_short, c_uint, c_ulong, c_void};
use core::marker::{PhantomData, PhantomPinned};

pub mod dlpi;
#[cfg(feature = "kernel")]
pub mod kernel;
#[cfg(feature = "kernel")]
pub mod nodev;

// ===== usr/src/uts/common/sys/types.h =====
// Scalar typedefs (LP64 branch of each `#if defined(_LP64)`).

pub type uchar_t = u8;
pub type ushort_t = u16;
pub type uint_t = c_uint;
pub type ulong_t = c_ulong;
pub type size_t = usize;
pub type ssize_t = isize;
pub type intptr_t = isize;
pub type uintptr_t = usize;
pub type caddr_t = *mut c_char;
pub type daddr_t = c_long;
pub type off_t = c_long;
pub type offset_t = i64;
pub type longlong_t = i64;
pub type u_longlong_t = u64;
pub type hrtime_t = longlong_t;
/// `time_t` (sys/types.h): `long` in the LP64 kernel.
pub type time_t = c_long;
/// `long` in sys/types.h (`typedef long clock_t` via sys/types.h).
pub type clock_t = c_long;
pub type id_t = c_int;
pub type zoneid_t = id_t;
pub type pid_t = c_int;
pub type pri_t = c_short;
pub type major_t = uint_t;
/// `DDI_MAJOR_T_NONE` (sys/sunddi.h): `(major_t)-1`, no such driver.
pub const DDI_MAJOR_T_NONE: major_t = major_t::MAX;
pub type minor_t = uint_t;
pub type dev_t = ulong_t;
pub type uid_t = c_uint;
pub type gid_t = uid_t;
pub type mode_t = uint_t;
pub type datalink_id_t = u32;
pub type t_uscalar_t = u32;
pub type t_scalar_t = i32;
/// `lloff_t` is a union of `offset_t _f` and a pair of `int32_t`; on
/// little-endian LP64 it is eight bytes aligned to eight and the kernel
/// reads it through `_f`, so it is carried as an `offset_t`.
pub type lloff_t = offset_t;

/// `boolean_t` is a C enum, i.e. an `int`.
pub type boolean_t = c_int;
pub const B_FALSE: boolean_t = 0;
pub const B_TRUE: boolean_t = 1;

// ===== Opaque kernel types =====
//
// Zero-sized `#[repr(C)]` types stand for structs the driver only ever
// handles by pointer.  The marker makes them `!Send`, `!Sync` and
// `!Unpin`, so safe code cannot pretend to own or move one.

macro_rules! opaque_types {
    ($($(#[$m:meta])* $name:ident;)*) => {$(
        $(#[$m])*
        #[repr(C)]
        pub struct $name {
            _data: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )*};
}

opaque_types! {
    /// `struct dev_info` (sys/dditypes.h: `typedef struct __dev_info *dev_info_t`
    /// is the opaque DDI view).
    dev_info;
    /// `struct cred` (sys/cred.h).
    cred;
    /// `struct __mac_handle` (sys/mac.h).
    mac_handle;
    /// `struct __mac_resource_handle` (sys/mac.h).
    mac_resource_handle;
    /// `struct __mac_ring_handle` (sys/mac.h).
    mac_ring_handle;
    /// `struct __mac_prop_info_handle` (sys/mac_provider.h).
    mac_prop_info_handle;
    /// `struct buf` (sys/buf.h).
    buf;
    /// `struct aio_req` (sys/aio_req.h).
    aio_req;
    /// `struct as` (vm/as.h); `as` is a Rust keyword.
    as_;
    /// `struct devmap_cookie` behind `devmap_cookie_t` (sys/ddidevmap.h).
    devmap_cookie;
    /// `struct bus_ops` (sys/devops.h); leaf drivers set it to NULL.
    bus_ops;
    /// `struct modinfo` (sys/modctl.h), only passed through by `_info`.
    modinfo;
    /// `struct qband` (sys/stream.h).
    qband;
    /// `struct stdata` (sys/strsubr.h).
    stdata;
    /// `struct syncq` (sys/strsubr.h).
    syncq;
    /// `struct fmodsw_impl` (sys/strsubr.h).
    fmodsw_impl;
    /// `struct module_stat` (sys/strstat.h).
    module_stat;
    /// `struct struiod` (sys/stream.h, kernel-only layout).
    struiod;
    /// `struct infod` (sys/stream.h, kernel-only layout).
    infod;
    /// `struct fthdr` (sys/strft.h).
    fthdr;
    /// `struct polldat` (sys/poll_impl.h).
    polldat;
    /// `vmem_t`, which `id_space_t` is a typedef of (sys/id_space.h).
    id_space;
    /// `struct ddi_taskq` behind `ddi_taskq_t` (sys/sunddi.h: "Opaque task
    /// queue handle").
    ddi_taskq;
}

/// `typedef struct __dev_info *dev_info_t` in C is used as `dev_info_t *`;
/// here `dev_info_t` is the pointee so `*mut dev_info_t` reads the same.
pub type dev_info_t = dev_info;
pub type cred_t = cred;
pub type id_space_t = id_space;
/// `typedef struct ddi_taskq ddi_taskq_t` (sys/sunddi.h).
pub type ddi_taskq_t = ddi_taskq;

/// `TASKQ_DEFAULTPRI` (sys/sunddi.h): "use default system priority" for
/// `ddi_taskq_create`.
pub const TASKQ_DEFAULTPRI: pri_t = -1;
/// `typedef struct __mac_handle *mac_handle_t` (sys/mac.h).
pub type mac_handle_t = *mut mac_handle;
/// `typedef struct __mac_resource_handle *mac_resource_handle_t`.
pub type mac_resource_handle_t = *mut mac_resource_handle;
/// `typedef struct __mac_ring_handle *mac_ring_handle_t`.
pub type mac_ring_handle_t = *mut mac_ring_handle;
/// `typedef struct __mac_prop_info_handle *mac_prop_info_handle_t`.
pub type mac_prop_info_handle_t = *mut mac_prop_info_handle;
pub type devmap_cookie_t = *mut devmap_cookie;
/// `ddi_prop_op_t` is a C enum (sys/ddipropdefs.h).
pub type ddi_prop_op_t = c_int;

// ===== usr/src/uts/common/sys/mutex.h, rwlock.h, condvar.h =====

/// `kmutex_t`: `void *_opaque[1]` under `_LP64` (sys/mutex.h).
#[repr(C)]
pub struct kmutex_t {
    pub _opaque: [*mut c_void; 1],
}

/// `krwlock_t`: `void *_opaque[1]` (sys/rwlock.h).
#[repr(C)]
pub struct krwlock_t {
    pub _opaque: [*mut c_void; 1],
}

/// `kcondvar_t`: `ushort_t _opaque` (sys/condvar.h).
#[repr(C)]
pub struct kcondvar_t {
    pub _opaque: ushort_t,
}

/// `kmutex_type_t` (sys/mutex.h).
pub type kmutex_type_t = c_int;
pub const MUTEX_ADAPTIVE: kmutex_type_t = 0;
pub const MUTEX_SPIN: kmutex_type_t = 1;
pub const MUTEX_DRIVER: kmutex_type_t = 4;
pub const MUTEX_DEFAULT: kmutex_type_t = 6;

/// `krw_type_t` (sys/rwlock.h).
pub type krw_type_t = c_int;
pub const RW_DRIVER: krw_type_t = 2;
pub const RW_DEFAULT: krw_type_t = 4;
/// `krw_t` (sys/rwlock.h).
pub type krw_t = c_int;
pub const RW_WRITER: krw_t = 0;
pub const RW_READER: krw_t = 1;

/// `kcv_type_t` (sys/condvar.h).
pub type kcv_type_t = c_int;
pub const CV_DEFAULT: kcv_type_t = 0;
pub const CV_DRIVER: kcv_type_t = 1;
/// `time_res_t` (sys/condvar.h, `_KERNEL`): how accurately a relative
/// timeout of `cv_reltimedwait` must expire; an enum, `int`-sized.
pub type time_res_t = c_int;
/// `TR_CLOCK_TICK`: the fifth value of `time_res_t` (after `TR_NANOSEC`,
/// `TR_MICROSEC`, `TR_MILLISEC`, `TR_SEC`).
pub const TR_CLOCK_TICK: time_res_t = 4;

// ===== usr/src/uts/common/sys/poll.h =====

/// `pollhead_t` (sys/poll.h, `_KERNEL || _KMEMUSER`).  Drivers embed it
/// in their soft state, so it is sized: a list pointer and two pads that
/// exist "for DDI compliance".
#[repr(C)]
pub struct pollhead {
    pub ph_list: *mut polldat,
    pub ph_pad1: *mut c_void,
    pub ph_pad2: c_short,
}
pub type pollhead_t = pollhead;

pub const POLLIN: c_short = 0x0001;
pub const POLLPRI: c_short = 0x0002;
pub const POLLOUT: c_short = 0x0004;
pub const POLLRDNORM: c_short = 0x0040;
pub const POLLWRNORM: c_short = POLLOUT;
pub const POLLRDBAND: c_short = 0x0080;
pub const POLLWRBAND: c_short = 0x0100;
pub const POLLNORM: c_short = POLLRDNORM;
pub const POLLERR: c_short = 0x0008;
pub const POLLHUP: c_short = 0x0010;
pub const POLLNVAL: c_short = 0x0020;
pub const POLLRDHUP: c_short = 0x4000;
pub const POLLET: c_short = 0x2000;

// ===== usr/src/uts/common/sys/stream.h =====

/// `struct queue` / `queue_t` (sys/stream.h), the whole structure: only
/// the queue(9S) fields are public DDI, but put and service routines read
/// `q_ptr`, `q_next`, `q_hiwat` and friends directly, so the layout must
/// be exact up to the last field.
#[repr(C)]
pub struct queue_t {
    pub q_qinfo: *mut qinit,
    pub q_first: *mut mblk_t,
    pub q_last: *mut mblk_t,
    pub q_next: *mut queue_t,
    pub q_link: *mut queue_t,
    pub q_ptr: *mut c_void,
    pub q_count: size_t,
    pub q_flag: uint_t,
    pub q_minpsz: ssize_t,
    pub q_maxpsz: ssize_t,
    pub q_hiwat: size_t,
    pub q_lowat: size_t,
    pub q_bandp: *mut qband,
    pub q_lock: kmutex_t,
    pub q_stream: *mut stdata,
    pub q_syncq: *mut syncq,
    pub q_nband: uchar_t,
    pub q_wait: kcondvar_t,
    pub q_nfsrv: *mut queue_t,
    pub q_draining: ushort_t,
    pub q_struiot: c_short,
    pub q_qtstamp: clock_t,
    pub q_mblkcnt: size_t,
    pub q_syncqmsgs: uint_t,
    pub q_rwcnt: size_t,
    pub q_spri: pri_t,
    pub q_sqhead: *mut mblk_t,
    pub q_sqtail: *mut mblk_t,
    pub q_sqnext: *mut queue_t,
    pub q_sqprev: *mut queue_t,
    pub q_sqflags: uint_t,
    pub q_sqtstamp: clock_t,
    pub q_fp: *mut fmodsw_impl,
}
pub type queue = queue_t;

// q_flag values
pub const QENAB: uint_t = 0x0000_0001;
pub const QWANTR: uint_t = 0x0000_0002;
pub const QWANTW: uint_t = 0x0000_0004;
pub const QFULL: uint_t = 0x0000_0008;
pub const QREADR: uint_t = 0x0000_0010;
pub const QUSE: uint_t = 0x0000_0020;
pub const QNOENB: uint_t = 0x0000_0040;
pub const QBACK: uint_t = 0x0000_0100;
pub const QEND: uint_t = 0x0004_0000;
pub const QISDRV: uint_t = 0x0020_0000;

/// `struct module_info` (sys/stream.h).
#[repr(C)]
pub struct module_info {
    pub mi_idnum: ushort_t,
    pub mi_idname: *mut c_char,
    pub mi_minpsz: ssize_t,
    pub mi_maxpsz: ssize_t,
    pub mi_hiwat: size_t,
    pub mi_lowat: size_t,
}

pub type qi_putp_t = Option<unsafe extern "C" fn(*mut queue_t, *mut mblk_t) -> c_int>;
pub type qi_srvp_t = Option<unsafe extern "C" fn(*mut queue_t) -> c_int>;
pub type qi_qopen_t =
    Option<unsafe extern "C" fn(*mut queue_t, *mut dev_t, c_int, c_int, *mut cred_t) -> c_int>;
pub type qi_qclose_t = Option<unsafe extern "C" fn(*mut queue_t, c_int, *mut cred_t) -> c_int>;
pub type qi_qadmin_t = Option<unsafe extern "C" fn() -> c_int>;
pub type qi_rwp_t = Option<unsafe extern "C" fn(*mut queue_t, *mut struiod) -> c_int>;
pub type qi_infop_t = Option<unsafe extern "C" fn(*mut queue_t, *mut infod) -> c_int>;

/// `struct qinit` (sys/stream.h).
#[repr(C)]
pub struct qinit {
    pub qi_putp: qi_putp_t,
    pub qi_srvp: qi_srvp_t,
    pub qi_qopen: qi_qopen_t,
    pub qi_qclose: qi_qclose_t,
    pub qi_qadmin: qi_qadmin_t,
    pub qi_minfo: *mut module_info,
    pub qi_mstat: *mut module_stat,
    pub qi_rwp: qi_rwp_t,
    pub qi_infop: qi_infop_t,
    pub qi_struiot: c_int,
}

pub const STRUIOT_NONE: c_int = -1;
pub const STRUIOT_DONTCARE: c_int = 0;
pub const STRUIOT_STANDARD: c_int = 1;

/// `struct streamtab` (sys/stream.h).
#[repr(C)]
pub struct streamtab {
    pub st_rdinit: *mut qinit,
    pub st_wrinit: *mut qinit,
    pub st_muxrinit: *mut qinit,
    pub st_muxwinit: *mut qinit,
}

/// `frtn_t` / `struct free_rtn` (sys/stream.h).  C declares
/// `void (*free_func)()`; esballoc(9F) calls it with `free_arg`.
#[repr(C)]
pub struct frtn_t {
    pub free_func: Option<unsafe extern "C" fn(caddr_t)>,
    pub free_arg: caddr_t,
}

/// `cksum_val` inside `db_struioun.cksum` (sys/stream.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub union dblk_cksum_val {
    pub u32_: u32,
    pub u16_: u16,
}

/// `db_struioun.cksum` (sys/stream.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct dblk_cksum {
    pub cksum_val: dblk_cksum_val,
    pub flags: u16,
    pub pad: u16,
}

/// `db_struioun` (sys/stream.h); the `double` member only forces
/// eight-byte alignment and is never read.
#[repr(C)]
#[derive(Clone, Copy)]
pub union dblk_struioun {
    pub enforce_alignment: u64,
    pub data: [u8; 8],
    pub cksum: dblk_cksum,
}

/// `dblk_t` / `struct datab` (sys/stream.h), full layout.  Only
/// `db_base`, `db_lim`, `db_ref` and `db_type` are public DDI.
#[repr(C)]
pub struct dblk_t {
    pub db_frtnp: *mut frtn_t,
    pub db_base: *mut u8,
    pub db_lim: *mut u8,
    pub db_ref: u8,
    pub db_type: u8,
    pub db_flags: u8,
    pub db_struioflag: u8,
    pub db_cpid: pid_t,
    pub db_cache: *mut c_void,
    pub db_mblk: *mut mblk_t,
    pub db_free: Option<unsafe extern "C" fn(*mut mblk_t, *mut dblk_t)>,
    pub db_lastfree: Option<unsafe extern "C" fn(*mut mblk_t, *mut dblk_t)>,
    pub db_cksumstart: intptr_t,
    pub db_cksumend: intptr_t,
    pub db_cksumstuff: intptr_t,
    pub db_struioun: dblk_struioun,
    pub db_fthdr: *mut fthdr,
    pub db_credp: *mut cred_t,
}
pub type datab = dblk_t;

/// `mblk_t` / `struct msgb` (sys/stream.h).
#[repr(C)]
pub struct mblk_t {
    pub b_next: *mut mblk_t,
    pub b_prev: *mut mblk_t,
    pub b_cont: *mut mblk_t,
    pub b_rptr: *mut u8,
    pub b_wptr: *mut u8,
    pub b_datap: *mut dblk_t,
    pub b_band: u8,
    pub b_tag: u8,
    pub b_flag: u16,
    pub b_queue: *mut queue_t,
}
pub type msgb = mblk_t;

pub const DBLK_REFMAX: u32 = 255;

// Message types (db_type).
pub const M_DATA: u8 = 0x00;
pub const M_PROTO: u8 = 0x01;
pub const M_MULTIDATA: u8 = 0x02;
pub const M_BREAK: u8 = 0x08;
pub const M_PASSFP: u8 = 0x09;
pub const M_EVENT: u8 = 0x0a;
pub const M_SIG: u8 = 0x0b;
pub const M_DELAY: u8 = 0x0c;
pub const M_CTL: u8 = 0x0d;
pub const M_IOCTL: u8 = 0x0e;
pub const M_SETOPTS: u8 = 0x10;
pub const M_RSE: u8 = 0x11;
pub const M_IOCACK: u8 = 0x81;
pub const M_IOCNAK: u8 = 0x82;
pub const M_PCPROTO: u8 = 0x83;
pub const M_PCSIG: u8 = 0x84;
pub const M_READ: u8 = 0x85;
pub const M_FLUSH: u8 = 0x86;
pub const M_STOP: u8 = 0x87;
pub const M_START: u8 = 0x88;
pub const M_HANGUP: u8 = 0x89;
pub const M_ERROR: u8 = 0x8a;
pub const M_COPYIN: u8 = 0x8b;
pub const M_COPYOUT: u8 = 0x8c;
pub const M_IOCDATA: u8 = 0x8d;
pub const M_PCRSE: u8 = 0x8e;
pub const M_STOPI: u8 = 0x8f;
pub const M_STARTI: u8 = 0x90;
pub const M_PCEVENT: u8 = 0x91;
pub const M_UNHANGUP: u8 = 0x92;
pub const M_CMD: u8 = 0x93;

// Queue classes.
pub const QNORM: u8 = 0x00;
pub const QPCTL: u8 = 0x80;

/// `struct iocblk`, `_LP64` layout (sys/stream.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct iocblk {
    pub ioc_cmd: c_int,
    pub ioc_cr: *mut cred_t,
    pub ioc_id: uint_t,
    pub ioc_flag: uint_t,
    pub ioc_count: size_t,
    pub ioc_rval: c_int,
    pub ioc_error: c_int,
}

/// `struct copyreq`, `_LP64` layout (sys/stream.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct copyreq {
    pub cq_cmd: c_int,
    pub cq_cr: *mut cred_t,
    pub cq_id: uint_t,
    pub cq_flag: uint_t,
    pub cq_private: *mut mblk_t,
    pub cq_addr: caddr_t,
    pub cq_size: size_t,
}

/// `struct copyresp`, `_LP64` layout (sys/stream.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct copyresp {
    pub cp_cmd: c_int,
    pub cp_cr: *mut cred_t,
    pub cp_id: uint_t,
    pub cp_flag: uint_t,
    pub cp_private: *mut mblk_t,
    pub cp_rval: caddr_t,
}

/// `struct stroptions`, the M_SETOPTS payload (sys/stream.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct stroptions {
    pub so_flags: uint_t,
    pub so_readopt: c_short,
    pub so_wroff: ushort_t,
    pub so_minpsz: ssize_t,
    pub so_maxpsz: ssize_t,
    pub so_hiwat: size_t,
    pub so_lowat: size_t,
    pub so_band: u8,
    pub so_erropt: ushort_t,
    pub so_maxblk: ssize_t,
    pub so_copyopt: ushort_t,
    pub so_tail: ushort_t,
}

// stroptions.so_flags
pub const SO_ALL: uint_t = 0x003f;
pub const SO_READOPT: uint_t = 0x0001;
pub const SO_WROFF: uint_t = 0x0002;
pub const SO_MINPSZ: uint_t = 0x0004;
pub const SO_MAXPSZ: uint_t = 0x0008;
pub const SO_HIWAT: uint_t = 0x0010;
pub const SO_LOWAT: uint_t = 0x0020;
pub const SO_MREADON: uint_t = 0x0040;
pub const SO_MREADOFF: uint_t = 0x0080;
pub const SO_NDELON: uint_t = 0x0100;
pub const SO_NDELOFF: uint_t = 0x0200;
pub const SO_ISTTY: uint_t = 0x0400;
pub const SO_ISNTTY: uint_t = 0x0800;
pub const SO_TOSTOP: uint_t = 0x1000;
pub const SO_TONSTOP: uint_t = 0x2000;
pub const SO_BAND: uint_t = 0x4000;
pub const SO_DELIM: uint_t = 0x8000;
pub const SO_NODELIM: uint_t = 0x01_0000;
pub const SO_STRHOLD: uint_t = 0x02_0000;
pub const SO_ERROPT: uint_t = 0x04_0000;
pub const SO_COPYOPT: uint_t = 0x08_0000;
pub const SO_MAXBLK: uint_t = 0x10_0000;
pub const SO_TAIL: uint_t = 0x20_0000;

// Open flags, allocation priorities, misc.
pub const MODOPEN: c_int = 0x1;
pub const CLONEOPEN: c_int = 0x2;
pub const OPENFAIL: c_int = -1;
pub const BPRI_LO: uint_t = 1;
pub const BPRI_MED: uint_t = 2;
pub const BPRI_HI: uint_t = 3;
pub const INFPSZ: ssize_t = -1;
pub const FLUSHALL: c_int = 1;
pub const FLUSHDATA: c_int = 0;
/// `(unsigned int)(-1)`: ioc_count of a transparent ioctl.
pub const TRANSPARENT: uint_t = uint_t::MAX;
pub const STRHIGH: size_t = 5120;
pub const STRLOW: size_t = 1024;
/// Second byte of a two-byte M_ERROR meaning "no error on this side".
pub const NOERROR: u8 = 0xff;

// ===== usr/src/uts/common/sys/strsun.h =====

/// `MBLKL(mp)`: bytes between `b_rptr` and `b_wptr` (sys/strsun.h).
///
/// # Safety
/// `mp` must point to a valid `mblk_t` whose `b_rptr <= b_wptr` lie in
/// the same data block.
#[inline]
pub unsafe fn MBLKL(mp: *const mblk_t) -> usize {
    // SAFETY: the caller guarantees `mp` is valid and both pointers lie
    // in one data block with b_rptr <= b_wptr.
    unsafe { ((*mp).b_wptr as usize).wrapping_sub((*mp).b_rptr as usize) }
}

// ===== usr/src/uts/common/sys/stropts.h =====

pub const FLUSHR: u8 = 0x01;
pub const FLUSHW: u8 = 0x02;
pub const FLUSHRW: u8 = 0x03;
pub const FLUSHBAND: u8 = 0x04;

// Read options (I_SRDOPT / so_readopt).
pub const RNORM: c_int = 0x000;
pub const RMSGD: c_int = 0x001;
pub const RMSGN: c_int = 0x002;
pub const RMODEMASK: c_int = 0x003;
pub const RPROTDAT: c_int = 0x004;
pub const RPROTDIS: c_int = 0x008;
pub const RPROTNORM: c_int = 0x010;
pub const RPROTMASK: c_int = 0x01c;
pub const RFLUSHMASK: c_int = 0x020;
pub const RFLUSHPCPROT: c_int = 0x020;

// Error options.
pub const RERRNORM: c_int = 0x001;
pub const RERRNONPERSIST: c_int = 0x002;
pub const WERRNORM: c_int = 0x004;
pub const WERRNONPERSIST: c_int = 0x008;

// Write options.
pub const SNDZERO: c_int = 0x001;
pub const SNDPIPE: c_int = 0x002;

/// `STR`: the group of the stream head ioctls, `('S'<<8)`.
pub const STR: c_int = (b'S' as c_int) << 8;
pub const I_NREAD: c_int = STR | 0o1;
pub const I_PUSH: c_int = STR | 0o2;
pub const I_POP: c_int = STR | 0o3;
pub const I_LOOK: c_int = STR | 0o4;
pub const I_FLUSH: c_int = STR | 0o5;
pub const I_SRDOPT: c_int = STR | 0o6;
pub const I_GRDOPT: c_int = STR | 0o7;
pub const I_STR: c_int = STR | 0o10;
pub const I_SETSIG: c_int = STR | 0o11;
pub const I_GETSIG: c_int = STR | 0o12;
pub const I_FIND: c_int = STR | 0o13;
pub const I_LINK: c_int = STR | 0o14;
pub const I_UNLINK: c_int = STR | 0o15;
pub const I_PEEK: c_int = STR | 0o17;
pub const I_FDINSERT: c_int = STR | 0o20;
pub const I_SENDFD: c_int = STR | 0o21;
/// Kernel value of I_RECVFD (`_KERNEL` branch).
pub const I_RECVFD: c_int = STR | 0o22;
pub const I_SWROPT: c_int = STR | 0o23;
pub const I_GWROPT: c_int = STR | 0o24;
pub const I_LIST: c_int = STR | 0o25;
pub const I_PLINK: c_int = STR | 0o26;
pub const I_PUNLINK: c_int = STR | 0o27;
pub const I_FLUSHBAND: c_int = STR | 0o34;
pub const I_CKBAND: c_int = STR | 0o35;
pub const I_GETBAND: c_int = STR | 0o36;
pub const I_ATMARK: c_int = STR | 0o37;
pub const I_SETCLTIME: c_int = STR | 0o40;
pub const I_GETCLTIME: c_int = STR | 0o41;
pub const I_CANPUT: c_int = STR | 0o42;
pub const I_SERROPT: c_int = STR | 0o43;
pub const I_GERROPT: c_int = STR | 0o44;
pub const I_ESETSIG: c_int = STR | 0o45;
pub const I_EGETSIG: c_int = STR | 0o46;

/// `struct strioctl`, the I_STR argument (sys/stropts.h).
#[repr(C)]
pub struct strioctl {
    pub ic_cmd: c_int,
    pub ic_timout: c_int,
    pub ic_len: c_int,
    pub ic_dp: *mut c_char,
}

/// `INFTIM`: infinite ic_timout.
pub const INFTIM: c_int = -1;

/// The ioctl numbering used by many STREAMS drivers: a group letter in
/// bits 16..24 and a command number below it, `((group << 16) | n)`.
pub const fn streams_ioctl(group: u8, n: u16) -> c_int {
    ((group as c_int) << 16) | (n as c_int)
}

// ===== usr/src/uts/common/sys/ioccom.h =====

pub const IOCPARM_MASK: u32 = 0xff;
pub const IOC_VOID: u32 = 0x2000_0000;
pub const IOC_OUT: u32 = 0x4000_0000;
pub const IOC_IN: u32 = 0x8000_0000;
pub const IOC_INOUT: u32 = IOC_IN | IOC_OUT;

/// `_IO(x, y)`.
pub const fn _IO(x: u8, y: u8) -> c_int {
    (IOC_VOID | ((x as u32) << 8) | y as u32) as c_int
}

/// `_IOR(x, y, t)` with `size = sizeof (t)`; sizes are masked to eight
/// bits exactly as the C macro does.
pub const fn _IOR(x: u8, y: u8, size: usize) -> c_int {
    (IOC_OUT | (((size as u32) & IOCPARM_MASK) << 16) | ((x as u32) << 8) | y as u32) as c_int
}

/// `_IOW(x, y, t)` with `size = sizeof (t)`.
pub const fn _IOW(x: u8, y: u8, size: usize) -> c_int {
    (IOC_IN | (((size as u32) & IOCPARM_MASK) << 16) | ((x as u32) << 8) | y as u32) as c_int
}

/// `_IOWR(x, y, t)` with `size = sizeof (t)`.
pub const fn _IOWR(x: u8, y: u8, size: usize) -> c_int {
    (IOC_INOUT | (((size as u32) & IOCPARM_MASK) << 16) | ((x as u32) << 8) | y as u32) as c_int
}

// ===== usr/src/uts/common/sys/uio.h =====

/// `iovec_t`, non-XPG4.2 LP64 layout (sys/uio.h).
#[repr(C)]
pub struct iovec {
    pub iov_base: caddr_t,
    pub iov_len: size_t,
}
pub type iovec_t = iovec;

/// `uio_seg_t` (sys/uio.h).
pub type uio_seg_t = c_int;
pub const UIO_USERSPACE: uio_seg_t = 0;
pub const UIO_SYSSPACE: uio_seg_t = 1;
pub const UIO_USERISPACE: uio_seg_t = 2;

/// `enum uio_rw` (sys/uio.h).
pub type uio_rw_t = c_int;
pub const UIO_READ: uio_rw_t = 0;
pub const UIO_WRITE: uio_rw_t = 1;

/// `uio_t` (sys/uio.h).
#[repr(C)]
pub struct uio {
    pub uio_iov: *mut iovec_t,
    pub uio_iovcnt: c_int,
    pub _uio_offset: lloff_t,
    pub uio_segflg: uio_seg_t,
    pub uio_fmode: u16,
    pub uio_extflg: u16,
    pub _uio_limit: lloff_t,
    pub uio_resid: ssize_t,
}
pub type uio_t = uio;

// ===== usr/src/uts/common/sys/kstat.h =====

pub const KSTAT_STRLEN: usize = 31;

/// `value.str` of a named kstat (sys/kstat.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct kstat_named_str {
    pub addr: kstat_named_str_addr,
    pub len: u32,
}

/// `value.str.addr` (sys/kstat.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub union kstat_named_str_addr {
    pub ptr: *mut c_char,
    pub __pad: [c_char; 8],
}

/// The `value` union of `kstat_named_t` (sys/kstat.h).  The obsolete
/// `float`/`double` members only share storage and are left out; the
/// union is still 16 bytes aligned to eight.
#[repr(C)]
#[derive(Clone, Copy)]
pub union kstat_named_value {
    pub c: [c_char; 16],
    pub i32: i32,
    pub ui32: u32,
    pub str: kstat_named_str,
    pub i64: i64,
    pub ui64: u64,
    pub l: c_long,
    pub ul: c_ulong,
    pub ll: longlong_t,
    pub ull: u_longlong_t,
}

/// `kstat_named_t` (sys/kstat.h).
#[repr(C)]
pub struct kstat_named_t {
    pub name: [c_char; KSTAT_STRLEN],
    pub data_type: uchar_t,
    pub value: kstat_named_value,
}

pub const KSTAT_DATA_CHAR: uchar_t = 0;
pub const KSTAT_DATA_INT32: uchar_t = 1;
pub const KSTAT_DATA_UINT32: uchar_t = 2;
pub const KSTAT_DATA_INT64: uchar_t = 3;
pub const KSTAT_DATA_UINT64: uchar_t = 4;
/// Kernel-only LP64 value (`_KERNEL` branch).
pub const KSTAT_DATA_LONG: uchar_t = 7;
/// Kernel-only LP64 value (`_KERNEL` branch).
pub const KSTAT_DATA_ULONG: uchar_t = 8;
pub const KSTAT_DATA_STRING: uchar_t = 9;

// ===== usr/src/uts/common/sys/devops.h =====

pub const DEVO_REV: c_int = 4;
pub const CB_REV: c_int = 1;

/// `ddi_info_cmd_t`.
pub type ddi_info_cmd_t = c_int;
pub const DDI_INFO_DEVT2DEVINFO: ddi_info_cmd_t = 0;
pub const DDI_INFO_DEVT2INSTANCE: ddi_info_cmd_t = 1;

/// `ddi_attach_cmd_t`.
pub type ddi_attach_cmd_t = c_int;
pub const DDI_ATTACH: ddi_attach_cmd_t = 0;
pub const DDI_RESUME: ddi_attach_cmd_t = 1;
pub const DDI_PM_RESUME: ddi_attach_cmd_t = 2;

/// `ddi_detach_cmd_t`.
pub type ddi_detach_cmd_t = c_int;
pub const DDI_DETACH: ddi_detach_cmd_t = 0;
pub const DDI_SUSPEND: ddi_detach_cmd_t = 1;
pub const DDI_PM_SUSPEND: ddi_detach_cmd_t = 2;
pub const DDI_HOTPLUG_DETACH: ddi_detach_cmd_t = 3;

/// `ddi_reset_cmd_t`.
pub type ddi_reset_cmd_t = c_int;
pub const DDI_RESET_FORCE: ddi_reset_cmd_t = 0;

pub const DDI_PROBE_DONTCARE: c_int = 0;
pub const DDI_PROBE_PARTIAL: c_int = 1;
pub const DDI_PROBE_SUCCESS: c_int = 2;

/// `struct cb_ops` (sys/devops.h).
#[repr(C)]
pub struct cb_ops {
    pub cb_open: Option<unsafe extern "C" fn(*mut dev_t, c_int, c_int, *mut cred_t) -> c_int>,
    pub cb_close: Option<unsafe extern "C" fn(dev_t, c_int, c_int, *mut cred_t) -> c_int>,
    pub cb_strategy: Option<unsafe extern "C" fn(*mut buf) -> c_int>,
    pub cb_print: Option<unsafe extern "C" fn(dev_t, *mut c_char) -> c_int>,
    pub cb_dump: Option<unsafe extern "C" fn(dev_t, caddr_t, daddr_t, c_int) -> c_int>,
    pub cb_read: Option<unsafe extern "C" fn(dev_t, *mut uio, *mut cred_t) -> c_int>,
    pub cb_write: Option<unsafe extern "C" fn(dev_t, *mut uio, *mut cred_t) -> c_int>,
    pub cb_ioctl: Option<
        unsafe extern "C" fn(dev_t, c_int, intptr_t, c_int, *mut cred_t, *mut c_int) -> c_int,
    >,
    pub cb_devmap: Option<
        unsafe extern "C" fn(
            dev_t,
            devmap_cookie_t,
            offset_t,
            size_t,
            *mut size_t,
            uint_t,
        ) -> c_int,
    >,
    pub cb_mmap: Option<unsafe extern "C" fn(dev_t, off_t, c_int) -> c_int>,
    pub cb_segmap: Option<
        unsafe extern "C" fn(
            dev_t,
            off_t,
            *mut as_,
            *mut caddr_t,
            off_t,
            c_uint,
            c_uint,
            c_uint,
            *mut cred_t,
        ) -> c_int,
    >,
    pub cb_chpoll: Option<
        unsafe extern "C" fn(dev_t, c_short, c_int, *mut c_short, *mut *mut pollhead) -> c_int,
    >,
    pub cb_prop_op: Option<
        unsafe extern "C" fn(
            dev_t,
            *mut dev_info_t,
            ddi_prop_op_t,
            c_int,
            *mut c_char,
            caddr_t,
            *mut c_int,
        ) -> c_int,
    >,
    pub cb_str: *mut streamtab,
    pub cb_flag: c_int,
    pub cb_rev: c_int,
    pub cb_aread: Option<unsafe extern "C" fn(dev_t, *mut aio_req, *mut cred_t) -> c_int>,
    pub cb_awrite: Option<unsafe extern "C" fn(dev_t, *mut aio_req, *mut cred_t) -> c_int>,
}

/// `struct dev_ops` (sys/devops.h).
#[repr(C)]
pub struct dev_ops {
    pub devo_rev: c_int,
    pub devo_refcnt: c_int,
    pub devo_getinfo: Option<
        unsafe extern "C" fn(
            *mut dev_info_t,
            ddi_info_cmd_t,
            *mut c_void,
            *mut *mut c_void,
        ) -> c_int,
    >,
    pub devo_identify: Option<unsafe extern "C" fn(*mut dev_info_t) -> c_int>,
    pub devo_probe: Option<unsafe extern "C" fn(*mut dev_info_t) -> c_int>,
    pub devo_attach: Option<unsafe extern "C" fn(*mut dev_info_t, ddi_attach_cmd_t) -> c_int>,
    pub devo_detach: Option<unsafe extern "C" fn(*mut dev_info_t, ddi_detach_cmd_t) -> c_int>,
    pub devo_reset: Option<unsafe extern "C" fn(*mut dev_info_t, ddi_reset_cmd_t) -> c_int>,
    pub devo_cb_ops: *mut cb_ops,
    pub devo_bus_ops: *mut bus_ops,
    pub devo_power: Option<unsafe extern "C" fn(*mut dev_info_t, c_int, c_int) -> c_int>,
    pub devo_quiesce: Option<unsafe extern "C" fn(*mut dev_info_t) -> c_int>,
}

// ===== usr/src/uts/common/sys/modctl.h =====

pub const MODREV_1: c_int = 1;

/// `struct mod_ops` (sys/modctl.h): three K&R function pointers the
/// module framework calls; drivers only take the address of
/// `mod_driverops`, so the fields are kept opaque but sized.
#[repr(C)]
pub struct mod_ops {
    pub _opaque: [*mut c_void; 3],
}

/// `struct modldrv` (sys/modctl.h).
#[repr(C)]
pub struct modldrv {
    pub drv_modops: *mut mod_ops,
    pub drv_linkinfo: *const c_char,
    pub drv_dev_ops: *mut dev_ops,
}


/// `struct fmodsw` / `fmodsw_t` (sys/conf.h): a STREAMS module's switch
/// entry: its name, its `streamtab` and its `D_*` flags.
#[repr(C)]
pub struct fmodsw {
    pub f_name: [c_char; FMNAMESZ + 1],
    pub f_str: *mut streamtab,
    pub f_flag: c_int,
}

/// `struct modlstrmod` (sys/modctl.h): the linkage of a STREAMS module,
/// with `strmod_modops = &mod_strmodops`.
#[repr(C)]
pub struct modlstrmod {
    pub strmod_modops: *mut mod_ops,
    pub strmod_linkinfo: *const c_char,
    pub strmod_fmodsw: *mut fmodsw,
}

/// `struct modlinkage`, `_LP64` layout with seven linkage slots
/// (sys/modctl.h).  The list is NULL-terminated.
#[repr(C)]
pub struct modlinkage {
    pub ml_rev: c_int,
    pub ml_linkage: [*mut c_void; 7],
}

// ===== usr/src/uts/common/sys/sunddi.h =====

pub const DDI_SUCCESS: c_int = 0;
pub const DDI_FAILURE: c_int = -1;
pub const DDI_NOT_WELL_FORMED: c_int = -2;
pub const DDI_EAGAIN: c_int = -3;
pub const DDI_EINVAL: c_int = -4;
pub const DDI_ENOTSUP: c_int = -5;
pub const DDI_EPENDING: c_int = -6;
pub const DDI_EALREADY: c_int = -7;
pub const DDI_SLEEP: c_int = 0;
pub const DDI_NOSLEEP: c_int = 1;
/// `ddi_create_minor_node` flag: the node is a clone device.
pub const CLONE_DEV: c_int = 1;
/// `ddi_create_minor_node` flag: policy-based permissions only.
pub const PRIVONLY_DEV: c_int = 0x10;
/// Node type of general pseudo devices.
pub const DDI_PSEUDO: &core::ffi::CStr = c"ddi_pseudo";
pub const DDI_NT_NET: &core::ffi::CStr = c"ddi_network";
pub const DEVI_PSEUDO_NEXNAME: &core::ffi::CStr = c"pseudo";

// ===== usr/src/uts/common/sys/conf.h =====

pub const D_NEW: c_int = 0x00;
pub const D_MTSAFE: c_int = 0x0020;
pub const D_MP: c_int = D_MTSAFE;
pub const D_MTOCEXCL: c_int = 0x0800;
pub const D_MTPUTSHARED: c_int = 0x1000;
pub const D_MTPERQ: c_int = 0x2000;
pub const D_MTQPAIR: c_int = 0x4000;
pub const D_MTPERMOD: c_int = 0x6000;
pub const D_MTOUTPERIM: c_int = 0x8000;
pub const D_64BIT: c_int = 0x200;
pub const D_SYNCSTR: c_int = 0x400;
pub const D_DEVMAP: c_int = 0x100;
pub const D_HOTPLUG: c_int = 0x4;
pub const D_U64BIT: c_int = 0x40000;
pub const D_OPEN_RETURNS_EINTR: c_int = 0x100000;
pub const FMNAMESZ: usize = 8;

// ===== usr/src/uts/common/sys/cmn_err.h =====

pub const CE_CONT: c_int = 0;
pub const CE_NOTE: c_int = 1;
pub const CE_WARN: c_int = 2;
pub const CE_PANIC: c_int = 3;
pub const CE_IGNORE: c_int = 4;

// ===== usr/src/uts/common/sys/kmem.h =====

pub const KM_SLEEP: c_int = 0x0000;
pub const KM_NOSLEEP: c_int = 0x0001;
pub const KM_PANIC: c_int = 0x0002;
pub const KM_PUSHPAGE: c_int = 0x0004;
pub const KM_NORMALPRI: c_int = 0x0008;

// ===== usr/src/uts/common/sys/file.h =====

pub const FREAD: c_int = 0x01;
pub const FWRITE: c_int = 0x02;
pub const FNDELAY: c_int = 0x04;
pub const FAPPEND: c_int = 0x08;
pub const FSYNC: c_int = 0x10;
pub const FNONBLOCK: c_int = 0x80;
pub const FCREAT: c_int = 0x0100;
pub const FTRUNC: c_int = 0x0200;
pub const FEXCL: c_int = 0x0400;
pub const FNOCTTY: c_int = 0x0800;
/// ioctl mode flag: the argument is a kernel address (`_KERNEL`).
pub const FKIOCTL: c_int = 0x8000_0000_u32 as c_int;
/// open flag: layered (in-kernel) open (`_KERNEL`).
pub const FKLYR: c_int = 0x4000_0000;

// ===== usr/src/uts/common/sys/stat.h =====

// UNVERIFIED: the illumos-gate copy of sys/stat.h was not opened; 0x2000
// is the value every SVR4-derived stat.h in the index carries.
pub const S_IFCHR: c_int = 0x2000;

// ===== usr/src/uts/common/sys/param.h, sys/mkdev.h =====

/// Largest minor of the 32-bit device number (18 bits).
pub const MAXMIN32: minor_t = 0x3ffff;
pub const MAXLINKNAMELEN: usize = 32;

// ===== usr/src/uts/common/sys/zone.h =====

pub const GLOBAL_ZONEID: zoneid_t = 0;
pub const ALL_ZONES: zoneid_t = -1;

// ===== usr/src/uts/common/sys/errno.h =====

pub const EPERM: c_int = 1;
pub const ENOENT: c_int = 2;
pub const ESRCH: c_int = 3;
pub const EINTR: c_int = 4;
pub const EIO: c_int = 5;
pub const ENXIO: c_int = 6;
pub const E2BIG: c_int = 7;
pub const EBADF: c_int = 9;
pub const EAGAIN: c_int = 11;
pub const ENOMEM: c_int = 12;
pub const EACCES: c_int = 13;
pub const EFAULT: c_int = 14;
pub const EBUSY: c_int = 16;
pub const EEXIST: c_int = 17;
pub const ENODEV: c_int = 19;
pub const EINVAL: c_int = 22;
pub const ENFILE: c_int = 23;
pub const EMFILE: c_int = 24;
pub const ENOTTY: c_int = 25;
pub const ENOSPC: c_int = 28;
pub const EPIPE: c_int = 32;
pub const ERANGE: c_int = 34;
pub const ECANCELED: c_int = 47;
pub const ENOTSUP: c_int = 48;
pub const ENOSTR: c_int = 60;
pub const ENODATA: c_int = 61;
pub const ETIME: c_int = 62;
pub const ENOSR: c_int = 63;
pub const ENOLINK: c_int = 67;
pub const EPROTO: c_int = 71;
pub const EBADMSG: c_int = 77;
pub const ENAMETOOLONG: c_int = 78;
pub const EOVERFLOW: c_int = 79;
pub const ENOSYS: c_int = 89;
pub const EMSGSIZE: c_int = 97;
pub const EOPNOTSUPP: c_int = 122;
pub const EADDRINUSE: c_int = 125;
pub const EADDRNOTAVAIL: c_int = 126;
pub const ENETDOWN: c_int = 127;
pub const ENOBUFS: c_int = 132;
pub const ETIMEDOUT: c_int = 145;
pub const EHOSTUNREACH: c_int = 148;
pub const EWOULDBLOCK: c_int = EAGAIN;
pub const EALREADY: c_int = 149;
pub const EINPROGRESS: c_int = 150;

// ===== usr/src/uts/common/sys/mac.h =====

pub const DATALINK_INVALID_LINKID: datalink_id_t = 0;
pub const DATALINK_ALL_LINKID: datalink_id_t = 0;
pub const DATALINK_MAX_LINKID: datalink_id_t = 0xffff_ffff;
pub const MAXMACADDRLEN: usize = 20;
pub const MAXLINKPROPNAME: usize = 256;

/// `link_state_t`.
pub type link_state_t = c_int;
pub const LINK_STATE_UNKNOWN: link_state_t = -1;
pub const LINK_STATE_DOWN: link_state_t = 0;
pub const LINK_STATE_UP: link_state_t = 1;

/// `link_duplex_t`.
pub type link_duplex_t = c_int;
pub const LINK_DUPLEX_UNKNOWN: link_duplex_t = 0;
pub const LINK_DUPLEX_HALF: link_duplex_t = 1;
pub const LINK_DUPLEX_FULL: link_duplex_t = 2;

/// `link_flowctrl_t`.
pub type link_flowctrl_t = c_int;
pub const LINK_FLOWCTRL_NONE: link_flowctrl_t = 0;
pub const LINK_FLOWCTRL_RX: link_flowctrl_t = 1;
pub const LINK_FLOWCTRL_TX: link_flowctrl_t = 2;
pub const LINK_FLOWCTRL_BI: link_flowctrl_t = 3;

/// `mac_prop_id_t`: a C enum counted from `MAC_PROP_DUPLEX = 1`; newer
/// gates only append after `MAC_PROP_VN_PROMISC_FILTERED`, so these
/// values are stable.
pub type mac_prop_id_t = c_int;
pub const MAC_PROP_DUPLEX: mac_prop_id_t = 1;
pub const MAC_PROP_SPEED: mac_prop_id_t = 2;
pub const MAC_PROP_STATUS: mac_prop_id_t = 3;
pub const MAC_PROP_AUTONEG: mac_prop_id_t = 4;
pub const MAC_PROP_EN_AUTONEG: mac_prop_id_t = 5;
pub const MAC_PROP_MTU: mac_prop_id_t = 6;
pub const MAC_PROP_ZONE: mac_prop_id_t = 7;
pub const MAC_PROP_AUTOPUSH: mac_prop_id_t = 8;
pub const MAC_PROP_FLOWCTRL: mac_prop_id_t = 9;
pub const MAC_PROP_IPTUN_HOPLIMIT: mac_prop_id_t = 24;
pub const MAC_PROP_IPTUN_ENCAPLIMIT: mac_prop_id_t = 25;
pub const MAC_PROP_TAGMODE: mac_prop_id_t = 48;
pub const MAC_PROP_PVID: mac_prop_id_t = 51;
pub const MAC_PROP_LLIMIT: mac_prop_id_t = 52;
pub const MAC_PROP_LDECAY: mac_prop_id_t = 53;
pub const MAC_PROP_RESOURCE: mac_prop_id_t = 54;
pub const MAC_PROP_RESOURCE_EFF: mac_prop_id_t = 55;
pub const MAC_PROP_IB_LINKMODE: mac_prop_id_t = 62;
pub const MAC_PROP_VN_PROMISC_FILTERED: mac_prop_id_t = 63;
pub const MAC_PROP_SECONDARY_ADDRS: mac_prop_id_t = 64;
pub const MAC_PROP_PRIVATE: mac_prop_id_t = -1;

pub const MAC_PROP_PERM_READ: u8 = 0x0001;
pub const MAC_PROP_PERM_WRITE: u8 = 0x0010;
pub const MAC_PROP_PERM_RW: u8 = MAC_PROP_PERM_READ | MAC_PROP_PERM_WRITE;

pub const MAC_STAT_MIN: uint_t = 1000;
pub const MACTYPE_STAT_MIN: uint_t = 2000;

// enum mac_driver_stat, counted from MAC_STAT_MIN ("do not reorder").
pub const MAC_STAT_IFSPEED: uint_t = MAC_STAT_MIN;
pub const MAC_STAT_MULTIRCV: uint_t = MAC_STAT_MIN + 1;
pub const MAC_STAT_BRDCSTRCV: uint_t = MAC_STAT_MIN + 2;
pub const MAC_STAT_MULTIXMT: uint_t = MAC_STAT_MIN + 3;
pub const MAC_STAT_BRDCSTXMT: uint_t = MAC_STAT_MIN + 4;
pub const MAC_STAT_NORCVBUF: uint_t = MAC_STAT_MIN + 5;
pub const MAC_STAT_IERRORS: uint_t = MAC_STAT_MIN + 6;
pub const MAC_STAT_UNKNOWNS: uint_t = MAC_STAT_MIN + 7;
pub const MAC_STAT_NOXMTBUF: uint_t = MAC_STAT_MIN + 8;
pub const MAC_STAT_OERRORS: uint_t = MAC_STAT_MIN + 9;
pub const MAC_STAT_COLLISIONS: uint_t = MAC_STAT_MIN + 10;
pub const MAC_STAT_RBYTES: uint_t = MAC_STAT_MIN + 11;
pub const MAC_STAT_IPACKETS: uint_t = MAC_STAT_MIN + 12;
pub const MAC_STAT_OBYTES: uint_t = MAC_STAT_MIN + 13;
pub const MAC_STAT_OPACKETS: uint_t = MAC_STAT_MIN + 14;
pub const MAC_STAT_UNDERFLOWS: uint_t = MAC_STAT_MIN + 15;
pub const MAC_STAT_OVERFLOWS: uint_t = MAC_STAT_MIN + 16;

// enum mac_mod_stat (maintained by mac itself, from 0).
pub const MAC_STAT_LINK_STATE: uint_t = 0;
pub const MAC_STAT_LINK_UP: uint_t = 1;
pub const MAC_STAT_PROMISC: uint_t = 2;
pub const MAC_STAT_LOWLINK_STATE: uint_t = 3;
pub const MAC_STAT_HDROPS: uint_t = 4;

// ===== usr/src/uts/common/sys/mac_ether.h =====

pub const MAC_PLUGIN_IDENT_ETHER: &core::ffi::CStr = c"mac_ether";

// enum ether_stat, counted from MACTYPE_STAT_MIN ("do not reorder").
pub const ETHER_STAT_ALIGN_ERRORS: uint_t = MACTYPE_STAT_MIN;
pub const ETHER_STAT_FCS_ERRORS: uint_t = MACTYPE_STAT_MIN + 1;
pub const ETHER_STAT_FIRST_COLLISIONS: uint_t = MACTYPE_STAT_MIN + 2;
pub const ETHER_STAT_MULTI_COLLISIONS: uint_t = MACTYPE_STAT_MIN + 3;
pub const ETHER_STAT_SQE_ERRORS: uint_t = MACTYPE_STAT_MIN + 4;
pub const ETHER_STAT_DEFER_XMTS: uint_t = MACTYPE_STAT_MIN + 5;
pub const ETHER_STAT_TX_LATE_COLLISIONS: uint_t = MACTYPE_STAT_MIN + 6;
pub const ETHER_STAT_EX_COLLISIONS: uint_t = MACTYPE_STAT_MIN + 7;
pub const ETHER_STAT_MACXMT_ERRORS: uint_t = MACTYPE_STAT_MIN + 8;
pub const ETHER_STAT_CARRIER_ERRORS: uint_t = MACTYPE_STAT_MIN + 9;
pub const ETHER_STAT_TOOLONG_ERRORS: uint_t = MACTYPE_STAT_MIN + 10;
pub const ETHER_STAT_MACRCV_ERRORS: uint_t = MACTYPE_STAT_MIN + 11;
pub const ETHER_STAT_XCVR_ADDR: uint_t = MACTYPE_STAT_MIN + 12;
pub const ETHER_STAT_XCVR_ID: uint_t = MACTYPE_STAT_MIN + 13;
pub const ETHER_STAT_XCVR_INUSE: uint_t = MACTYPE_STAT_MIN + 14;
pub const ETHER_STAT_LINK_ASMPAUSE: uint_t = MACTYPE_STAT_MIN + 42;
pub const ETHER_STAT_LINK_PAUSE: uint_t = MACTYPE_STAT_MIN + 43;
pub const ETHER_STAT_LINK_AUTONEG: uint_t = MACTYPE_STAT_MIN + 44;
pub const ETHER_STAT_LINK_DUPLEX: uint_t = MACTYPE_STAT_MIN + 45;
pub const ETHER_STAT_TOOSHORT_ERRORS: uint_t = MACTYPE_STAT_MIN + 46;
pub const ETHER_STAT_JABBER_ERRORS: uint_t = MACTYPE_STAT_MIN + 50;

// ===== usr/src/uts/common/sys/mac_provider.h =====

pub const MAC_VERSION_V1: uint_t = 0x1;
pub const MAC_VERSION: uint_t = MAC_VERSION_V1;

// ----- mac client interface (usr/src/uts/common/sys/mac_client.h) -----
// The unicast and mac_tx flag values are the same in the 2009 Crossbow
// copy (illumos-gate 0a0e9771) and the current gate (883e7314); the
// mac_client_open flags changed between them, so the driver passes 0.

/// `typedef struct __mac_client_handle *mac_client_handle_t`.
pub type mac_client_handle_t = *mut c_void;
/// `typedef struct __mac_unicast_handle *mac_unicast_handle_t`.
pub type mac_unicast_handle_t = *mut c_void;
/// `typedef uintptr_t mac_tx_cookie_t`.
pub type mac_tx_cookie_t = usize;
/// `mac_diag_t` is a C enum.
pub type mac_diag_t = c_int;
/// `mac_rx_t` (sys/mac.h).
pub type mac_rx_t = Option<unsafe extern "C" fn(*mut c_void, mac_resource_handle_t, *mut mblk_t, boolean_t)>;
/// `MAC_UNICAST_PRIMARY`: the client's address is the mac's primary.
pub const MAC_UNICAST_PRIMARY: u16 = 0x0002;
/// `MAC_UNICAST_TAG_DISABLE`: no VLAN tag insertion.
pub const MAC_UNICAST_TAG_DISABLE: u16 = 0x0010;
/// `MAC_UNICAST_DISABLE_TX_VID_CHECK`.
pub const MAC_UNICAST_DISABLE_TX_VID_CHECK: u16 = 0x0040;
/// `MAC_DIAG_MACADDR_INUSE` (second value after `MAC_DIAG_NONE` 0,
/// `MAC_DIAG_MACADDR_NIC` 1).
pub const MAC_DIAG_MACADDR_INUSE: c_int = 2;
/// `MAC_DROP_ON_NO_DESC`: mac_tx frees what it cannot send.
pub const MAC_DROP_ON_NO_DESC: u16 = 0x01;

/// `mac_capab_t`.
pub type mac_capab_t = c_uint;
pub const MAC_CAPAB_HCKSUM: mac_capab_t = 0x0000_0001;
pub const MAC_CAPAB_LSO: mac_capab_t = 0x0000_0008;
pub const MAC_CAPAB_RINGS: mac_capab_t = 0x0000_0010;
pub const MAC_CAPAB_NO_NATIVEVLAN: mac_capab_t = 0x0008_0000;
pub const MAC_CAPAB_NO_ZCOPY: mac_capab_t = 0x0010_0000;

// ===== usr/src/uts/common/sys/mac_provider.h: MAC_CAPAB_LSO =====
//
// The structure grew: illumos-gate before illumos 12466 (62366fbb,
// April 2020; the stored gate copy 033f9794 is of 2017) declares only
// `lso_flags` and `lso_basic_tcp_ipv4` (8 bytes) and the flag
// `LSO_TX_BASIC_TCP_IPV4`; 12466 added `LSO_TX_BASIC_TCP_IPV6` and
// `lso_basic_tcp_ipv6` after them (12 bytes).  The caller owns the
// structure, sized by the gate *it* was built from, on its stack
// (`dld_capab_lso` and `proto_capability_advertise` in
// usr/src/uts/common/io/dld/dld_proto.c: `mac_capab_lso_t mac_lso;`), so
// a driver may write the IPv6 member only when the running mac has it.

pub const LSO_TX_BASIC_TCP_IPV4: t_uscalar_t = 0x01;
/// Only in gates with TCPv6 LSO (see above).
pub const LSO_TX_BASIC_TCP_IPV6: t_uscalar_t = 0x02;

/// `lso_basic_tcp_ipv4_t` (sys/mac_provider.h).
#[repr(C)]
pub struct lso_basic_tcp_ipv4_t {
    pub lso_max: t_uscalar_t,
}

/// `lso_basic_tcp_ipv6_t` (sys/mac_provider.h of gates with TCPv6 LSO).
#[repr(C)]
pub struct lso_basic_tcp_ipv6_t {
    pub lso_max: t_uscalar_t,
}

/// `mac_capab_lso_t` as every release has it: the part a driver may
/// always write (sys/mac_provider.h before TCPv6 LSO; 8 bytes).
#[repr(C)]
pub struct mac_capab_lso_t {
    pub lso_flags: t_uscalar_t,
    pub lso_basic_tcp_ipv4: lso_basic_tcp_ipv4_t,
}

/// `mac_capab_lso_t` of gates with TCPv6 LSO (12 bytes): write through
/// it only when the running mac allocates this size.
#[repr(C)]
pub struct mac_capab_lso_v6_t {
    pub lso_flags: t_uscalar_t,
    pub lso_basic_tcp_ipv4: lso_basic_tcp_ipv4_t,
    pub lso_basic_tcp_ipv6: lso_basic_tcp_ipv6_t,
}

// ===== usr/src/uts/common/sys/pattr.h: hcksum_flags (DB_CKSUMFLAGS) =====
/// On transmit: compute the IPv4 header checksum.  On receive: it was
/// verified (`HCK_IPV4_HDRCKSUM_OK`, same bit).
pub const HCK_IPV4_HDRCKSUM: u32 = 0x0001;
pub const HCK_IPV4_HDRCKSUM_OK: u32 = 0x0001;
/// On transmit: finish a partial 1's complement checksum from the start
/// and stuff offsets.
pub const HCK_PARTIALCKSUM: u32 = 0x0002;
pub const HCK_FULLCKSUM: u32 = 0x0004;
/// On receive: the full L4 checksum was verified.
pub const HCK_FULLCKSUM_OK: u32 = 0x0008;
/// On transmit: the packet is a large segment to be cut (`DB_LSOMSS`).
pub const HW_LSO: u32 = 0x0010;

// ===== usr/src/uts/common/sys/dlpi.h: MAC_CAPAB_HCKSUM flags =====
pub const HCKSUM_INET_PARTIAL: u32 = 0x02;

pub type mac_getstat_t = Option<unsafe extern "C" fn(*mut c_void, uint_t, *mut u64) -> c_int>;
pub type mac_start_t = Option<unsafe extern "C" fn(*mut c_void) -> c_int>;
pub type mac_stop_t = Option<unsafe extern "C" fn(*mut c_void)>;
pub type mac_setpromisc_t = Option<unsafe extern "C" fn(*mut c_void, boolean_t) -> c_int>;
pub type mac_multicst_t = Option<unsafe extern "C" fn(*mut c_void, boolean_t, *const u8) -> c_int>;
pub type mac_unicst_t = Option<unsafe extern "C" fn(*mut c_void, *const u8) -> c_int>;
pub type mac_ioctl_t = Option<unsafe extern "C" fn(*mut c_void, *mut queue_t, *mut mblk_t)>;
pub type mac_tx_t = Option<unsafe extern "C" fn(*mut c_void, *mut mblk_t) -> *mut mblk_t>;
pub type mac_getcapab_t =
    Option<unsafe extern "C" fn(*mut c_void, mac_capab_t, *mut c_void) -> boolean_t>;
pub type mac_open_t = Option<unsafe extern "C" fn(*mut c_void) -> c_int>;
pub type mac_close_t = Option<unsafe extern "C" fn(*mut c_void)>;
pub type mac_set_prop_t = Option<
    unsafe extern "C" fn(*mut c_void, *const c_char, mac_prop_id_t, uint_t, *const c_void) -> c_int,
>;
pub type mac_get_prop_t = Option<
    unsafe extern "C" fn(*mut c_void, *const c_char, mac_prop_id_t, uint_t, *mut c_void) -> c_int,
>;
pub type mac_prop_info_t =
    Option<unsafe extern "C" fn(*mut c_void, *const c_char, mac_prop_id_t, mac_prop_info_handle_t)>;

/// `mac_callbacks_t` (sys/mac_provider.h).
#[repr(C)]
pub struct mac_callbacks_t {
    pub mc_callbacks: uint_t,
    pub mc_getstat: mac_getstat_t,
    pub mc_start: mac_start_t,
    pub mc_stop: mac_stop_t,
    pub mc_setpromisc: mac_setpromisc_t,
    pub mc_multicst: mac_multicst_t,
    pub mc_unicst: mac_unicst_t,
    pub mc_tx: mac_tx_t,
    pub mc_reserved: *mut c_void,
    pub mc_ioctl: mac_ioctl_t,
    pub mc_getcapab: mac_getcapab_t,
    pub mc_open: mac_open_t,
    pub mc_close: mac_close_t,
    pub mc_setprop: mac_set_prop_t,
    pub mc_getprop: mac_get_prop_t,
    pub mc_propinfo: mac_prop_info_t,
}

pub const MC_RESERVED: uint_t = 0x0001;
pub const MC_IOCTL: uint_t = 0x0002;
pub const MC_GETCAPAB: uint_t = 0x0004;
pub const MC_OPEN: uint_t = 0x0008;
pub const MC_CLOSE: uint_t = 0x0010;
pub const MC_SETPROP: uint_t = 0x0020;
pub const MC_GETPROP: uint_t = 0x0040;
pub const MC_PROPINFO: uint_t = 0x0080;
pub const MC_PROPERTIES: uint_t = MC_SETPROP | MC_GETPROP | MC_PROPINFO;

pub const MAC_VIRT_NONE: u32 = 0x0;
pub const MAC_VIRT_LEVEL1: u32 = 0x1;
pub const MAC_VIRT_HIO: u32 = 0x2;

/// `mac_register_t` (sys/mac_provider.h).  Allocated by `mac_alloc()`,
/// never by the driver: the framework may size it larger.
#[repr(C)]
pub struct mac_register_t {
    pub m_version: uint_t,
    pub m_type_ident: *const c_char,
    pub m_driver: *mut c_void,
    pub m_dip: *mut dev_info_t,
    pub m_instance: uint_t,
    pub m_src_addr: *mut u8,
    pub m_dst_addr: *mut u8,
    pub m_callbacks: *mut mac_callbacks_t,
    pub m_min_sdu: uint_t,
    pub m_max_sdu: uint_t,
    pub m_pdata: *mut c_void,
    pub m_pdata_size: size_t,
    pub m_priv_props: *mut *mut c_char,
    pub m_margin: u32,
    pub m_v12n: u32,
    pub m_multicast_sdu: uint_t,
}

// ===== usr/src/uts/common/sys/mac_impl.h =====

/// First minor a mac provider may use privately: `(MAXMIN32 + 1) / 2`.
/// Drivers must ask `mac_private_minor()`; this is for host tests.
#[allow(clippy::manual_div_ceil)] // spelled as in the header
pub const MAC_PRIVATE_MINOR: minor_t = (MAXMIN32 + 1) / 2;
pub const MAC_MAX_MINOR: minor_t = 1000;

// ===== usr/src/uts/common/sys/dls_mgmt.h =====

/// `datalink_class_t`.
pub type datalink_class_t = c_int;
pub const DATALINK_CLASS_PHYS: datalink_class_t = 0x01;
pub const DATALINK_CLASS_VLAN: datalink_class_t = 0x02;
pub const DATALINK_CLASS_AGGR: datalink_class_t = 0x04;
pub const DATALINK_CLASS_VNIC: datalink_class_t = 0x08;
pub const DATALINK_CLASS_ETHERSTUB: datalink_class_t = 0x10;
pub const DATALINK_CLASS_SIMNET: datalink_class_t = 0x20;
pub const DATALINK_CLASS_BRIDGE: datalink_class_t = 0x40;
pub const DATALINK_CLASS_IPTUN: datalink_class_t = 0x80;
pub const DATALINK_CLASS_PART: datalink_class_t = 0x100;
pub const DATALINK_CLASS_OVERLAY: datalink_class_t = 0x200;
pub const DATALINK_CLASS_MISC: datalink_class_t = 0x400;
pub const DATALINK_CLASS_ALL: datalink_class_t = DATALINK_CLASS_PHYS
    | DATALINK_CLASS_VLAN
    | DATALINK_CLASS_AGGR
    | DATALINK_CLASS_VNIC
    | DATALINK_CLASS_ETHERSTUB
    | DATALINK_CLASS_SIMNET
    | DATALINK_CLASS_BRIDGE
    | DATALINK_CLASS_IPTUN
    | DATALINK_CLASS_PART
    | DATALINK_CLASS_OVERLAY
    | DATALINK_CLASS_MISC;
pub type datalink_media_t = u64;
pub const DATALINK_ANY_MEDIATYPE: datalink_media_t = 1 << 32;

// ===== usr/src/uts/common/sys/dlpi.h =====

pub const DL_ETHER: u32 = 0x4;

// ===== usr/src/uts/common/sys/ethernet.h =====

// UNVERIFIED: the gate's sys/ethernet.h was not opened; ETHERADDRL and
// the IEEE-assigned EtherType numbers are identical in every copy found.
pub const ETHERADDRL: usize = 6;
pub const ETHERTYPE_IP: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

// ===== usr/src/uts/common/sys/vlan.h =====

pub const VLAN_TAGSZ: usize = 4;
pub const VLAN_TPID: u16 = 0x8100;
