// SPDX-License-Identifier: MPL-2.0

//! What both of the project's modules need and would otherwise each
//! write: `cb_ops(9S)` entries for operations a STREAMS pseudo-driver
//! does not support, the `dev_ops(9S)` entries of a pseudo device with no
//! hardware, and [`KernelStatic`], the cell for the tables the kernel
//! writes in place.
//!
//! Theory statement.  C drivers put `nodev` (returns `ENXIO`) in these
//! slots; its K&R prototype fits any slot, which Rust's typed function
//! pointers cannot express, so each slot gets its own function here with
//! the slot's exact signature (usr/src/uts/common/sys/devops.h).  They
//! touch no argument and hold no state.

use core::cell::UnsafeCell;
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

// ----- dev_ops(9S) entries of a pseudo device -----

/// `devo_identify`: identify(9E) is obsolete; like `nulldev` it succeeds.
pub extern "C" fn identify(_dip: *mut dev_info_t) -> c_int {
    DDI_SUCCESS
}

/// `devo_probe`: a pseudo device has nothing to probe (probe(9E):
/// `DDI_PROBE_DONTCARE`).
pub extern "C" fn probe(_dip: *mut dev_info_t) -> c_int {
    DDI_PROBE_DONTCARE
}

/// `devo_reset`: there is no hardware to reset (`nodev`).
pub extern "C" fn reset(_dip: *mut dev_info_t, _cmd: ddi_reset_cmd_t) -> c_int {
    ENXIO
}

// ----- tables the kernel writes in place -----

/// A static whose address the kernel gets and may write through
/// (`mac_init_ops` sets `cb_str` and `devo_getinfo` in `dev_ops`;
/// `modlinkage`/`modldrv` hold raw pointers, which are not `Sync`).  Rust
/// code only ever takes the raw pointer with [`KernelStatic::get`]; it
/// never forms references into it.
#[repr(transparent)]
pub struct KernelStatic<T>(UnsafeCell<T>);

// SAFETY: Rust code never reads or writes the contents after
// initialisation, it only passes the address to the kernel, whose module
// framework serialises the writes (_init/_fini) against all use.
unsafe impl<T> Sync for KernelStatic<T> {}

impl<T> KernelStatic<T> {
    pub const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    pub const fn get(&self) -> *mut T {
        self.0.get()
    }
}
