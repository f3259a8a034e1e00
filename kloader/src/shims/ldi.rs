// SPDX-License-Identifier: MPL-2.0

//! The layered driver interface (illumos-gate `usr/src/uts/common/sys/
//! sunldi.h`, `usr/src/uts/common/os/driver_lyr.c`) the module uses to
//! open its old-API streams' lower dld streams (`tuntap-drv/src/dlpi/
//! relay.rs`), backed by the simulator's LDI (`tuntap-sim/src/ldi.rs`,
//! which checks the rules).
//!
//! Theory statement.  Handles pass through unchanged; an `ldi_ident_t`
//! is a token the module only hands back.  `ldi_ioctl` passes `cmd` and
//! `arg` to the simulator as they are (the module always sets
//! `FKIOCTL`: the argument is in kernel memory, which here is the
//! loader's).  `I_PUSH` of the relay module reaches drv/tun's own
//! `tunrly` streamtab (its `modlstrmod`) through the adapter, and the
//! `kcred` data symbol holds the simulator's kernel credential, so the
//! loaded object runs the whole relay (open, raw mode, push, start, bind,
//! traffic, close) against the simulator's rules.
//!
//! Locks: none.

use std::ffi::{c_char, c_int, c_void};
use std::ptr::NonNull;

use illumos_sys_hdrs::{EINVAL, FKIOCTL};
use tuntap_drv::ddi::{Kernel, LdiHandle};

use super::st;
use crate::kstack::host;

/// The token `ldi_ident_from_dip` hands out.
const IDENT: usize = 0x1d1;

pub fn table() -> Vec<(&'static str, usize)> {
    vec![f!(ldi_ident_from_dip), f!(ldi_ident_release), f!(ldi_open_by_name), f!(ldi_ioctl), f!(ldi_close)]
}

/// `int ldi_ident_from_dip(dev_info_t *, ldi_ident_t *)`.
unsafe extern "C" fn ldi_ident_from_dip(dip: *mut c_void, lip: *mut *mut c_void) -> c_int {
    if dip.is_null() || lip.is_null() {
        return EINVAL;
    }
    // SAFETY: the module's out-pointer.
    unsafe { *lip = IDENT as *mut c_void };
    0
}

/// `void ldi_ident_release(ldi_ident_t)`.
unsafe extern "C" fn ldi_ident_release(li: *mut c_void) {
    if li as usize != IDENT {
        host(|| st().error(format!("ldi_ident_release({li:p}): not an ident ldi_ident_from_dip made")));
    }
}

/// `int ldi_open_by_name(char *, int, cred_t *, ldi_handle_t *, ldi_ident_t)`.
unsafe extern "C" fn ldi_open_by_name(
    path: *mut c_char,
    _flag: c_int,
    _cr: *mut c_void,
    lhp: *mut *mut c_void,
    li: *mut c_void,
) -> c_int {
    host(|| {
        if path.is_null() || lhp.is_null() || li as usize != IDENT {
            st().error("ldi_open_by_name with a NULL path or out-pointer, or no ident".into());
            return EINVAL;
        }
        // SAFETY: a NUL-terminated path the module owns for the call.
        let p = unsafe { std::ffi::CStr::from_ptr(path) }.to_bytes().to_vec();
        match st().sim.ldi_open_by_name(&p) {
            Ok(h) => {
                // SAFETY: the module's out-pointer.
                unsafe { *lhp = h.0.as_ptr() };
                0
            }
            Err(e) => e,
        }
    })
}

/// `int ldi_ioctl(ldi_handle_t, int, intptr_t, int, cred_t *, int *)`.
unsafe extern "C" fn ldi_ioctl(lh: *mut c_void, cmd: c_int, arg: isize, mode: c_int, _cr: *mut c_void, rvalp: *mut c_int) -> c_int {
    host(|| {
        let Some(h) = NonNull::new(lh) else { return EINVAL };
        if mode & FKIOCTL == 0 {
            st().error("ldi_ioctl from the module without FKIOCTL (its arguments are in kernel memory)".into());
        }
        // SAFETY: the module passes the argument cmd expects.
        match unsafe { st().sim.ldi_ioctl(LdiHandle(h), cmd, arg) } {
            Ok(r) => {
                if !rvalp.is_null() {
                    // SAFETY: the module's out-pointer.
                    unsafe { *rvalp = r };
                }
                0
            }
            Err(e) => e,
        }
    })
}

/// `int ldi_close(ldi_handle_t, int, cred_t *)`.
unsafe extern "C" fn ldi_close(lh: *mut c_void, _flag: c_int, _cr: *mut c_void) -> c_int {
    host(|| match NonNull::new(lh) {
        Some(h) => {
            st().sim.ldi_close(LdiHandle(h));
            0
        }
        None => EINVAL,
    })
}
