// SPDX-License-Identifier: MPL-2.0

//! `cb_ops(9S)` entries for operations a STREAMS pseudo-driver does not
//! support, shared by the project's modules.
//!
//! Theory statement.  C drivers put `nodev` (returns `ENXIO`) in these
//! slots; its K&R prototype fits any slot, which Rust's typed function
//! pointers cannot express, so each slot gets its own function here with
//! the slot's exact signature (usr/src/uts/common/sys/devops.h).  They
//! touch no argument and hold no state.

use core::ffi::{c_char, c_int};

use crate::*;

/// `cb_strategy`.
pub extern "C" fn strategy(_bp: *mut buf) -> c_int {
    ENXIO
}

/// `cb_print`.
pub extern "C" fn print(_dev: dev_t, _str: *mut c_char) -> c_int {
    ENXIO
}

/// `cb_dump`.
pub extern "C" fn dump(_dev: dev_t, _addr: caddr_t, _blkno: daddr_t, _nblk: c_int) -> c_int {
    ENXIO
}

/// `cb_read` and `cb_write`.
pub extern "C" fn rw(_dev: dev_t, _uiop: *mut uio, _cr: *mut cred_t) -> c_int {
    ENXIO
}

/// `cb_ioctl` (a STREAMS driver gets ioctls as `M_IOCTL`, never here).
pub extern "C" fn ioctl(
    _dev: dev_t,
    _cmd: c_int,
    _arg: intptr_t,
    _mode: c_int,
    _cr: *mut cred_t,
    _rvalp: *mut c_int,
) -> c_int {
    ENXIO
}

/// `cb_devmap`.
pub extern "C" fn devmap(
    _dev: dev_t,
    _dhp: devmap_cookie_t,
    _off: offset_t,
    _len: size_t,
    _maplen: *mut size_t,
    _model: uint_t,
) -> c_int {
    ENXIO
}

/// `cb_mmap`.
pub extern "C" fn mmap(_dev: dev_t, _off: off_t, _prot: c_int) -> c_int {
    ENXIO
}

/// `cb_segmap`.
#[allow(clippy::too_many_arguments)] // fixed by cb_ops
pub extern "C" fn segmap(
    _dev: dev_t,
    _off: off_t,
    _asp: *mut as_,
    _addrp: *mut caddr_t,
    _len: off_t,
    _prot: uint_t,
    _maxprot: uint_t,
    _flags: uint_t,
    _cr: *mut cred_t,
) -> c_int {
    ENXIO
}

/// `cb_aread` and `cb_awrite`.
pub extern "C" fn aio(_dev: dev_t, _aio: *mut aio_req, _cr: *mut cred_t) -> c_int {
    ENXIO
}
