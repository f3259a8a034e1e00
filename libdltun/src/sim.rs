// SPDX-License-Identifier: MPL-2.0
//! Test hooks of the simulator backend (feature `sim` only; never in a
//! production library).  C tests declare the exported ones themselves
//! (`tests/c/dltun_sim.h`); Rust tests use the functions here directly.

use std::ffi::c_char;

use libdladm_plugin::TunAdm;
use libdladm_plugin::sim::{SimPlatform, SimSystem};
use tuntap_abi::attach_flags;

use crate::abi::*;
use crate::{Fail, backend, convert, dltun_handle, guard, with_handle};

/// The simulated host behind a handle.
///
/// # Safety
/// `handle` is null or an open handle.
pub unsafe fn system(handle: *const dltun_handle) -> Option<SimSystem> {
    // SAFETY: the caller's contract.
    unsafe { handle.as_ref() }.map(|h| h.extra.system.clone())
}

/// A handle on the same host as `handle` acting as another caller (for
/// privilege and zone tests).  Close it with `dltun_close` before the
/// first handle: closing a handle ends its host.
pub fn open_as(platform: SimPlatform) -> *mut dltun_handle {
    let system = platform.system().clone();
    let h = dltun_handle {
        adm: TunAdm::new(platform),
        extra: backend::Extra { system },
        last_error: Default::default(),
    };
    Box::into_raw(Box::new(h))
}

/// Close a handle made by [`open_as`] without ending its host.
///
/// # Safety
/// `handle` came from [`open_as`] and is not used afterwards.
pub unsafe fn close_caller(handle: *mut dltun_handle) {
    if !handle.is_null() {
        // SAFETY: from Box::into_raw in open_as (the contract).
        drop(unsafe { Box::from_raw(handle) });
    }
}

/// Simulate a reboot of the handle's host: kernel links go, persistent
/// configuration stays.
///
/// # Safety
/// `handle` is null or an open handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dltun_sim_reboot(handle: *mut dltun_handle) -> dltun_status_t {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(handle, |h| {
            h.extra.system.reboot();
            Ok(())
        })
    }
}

/// Start a daemon process on the handle's host that attaches one queue to
/// `link` (tun or tap as the link is) and keeps it open; its pid goes to
/// `*pidp`.
///
/// # Safety
/// `handle` null or open; `link` null or a C string; `pidp` null or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dltun_sim_attach(handle: *mut dltun_handle, link: *const c_char, pidp: *mut i32) -> dltun_status_t {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(handle, |h| {
            let name = convert::link_name(link)?;
            let shown = h.adm.show(name)?;
            let tap = shown.mode == libdladm_plugin::Mode::Tap;
            let sys = &h.extra.system;
            let pid = sys.spawn("vpnd", None);
            let mode = if tap { attach_flags::TAP } else { attach_flags::TUN };
            sys.daemon_attach(pid, name, tap, mode).map_err(|errno| Fail {
                status: DLTUN_STATUS_KERNEL,
                message: format!("link {name}: the simulated daemon could not attach (errno {errno})"),
            })?;
            if !pidp.is_null() {
                *pidp = pid;
            }
            Ok(())
        })
    }
}

/// Make the next driver create on the handle's host fail (mac_register
/// refuses), to test that a failed create leaves nothing behind.
///
/// # Safety
/// `handle` is null or an open handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dltun_sim_fail_next_create(handle: *mut dltun_handle) -> dltun_status_t {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(handle, |h| {
            h.extra.system.host().fail_next_mac_register(1);
            Ok(())
        })
    }
}

/// Run a panicking body through the same guard every entry point uses,
/// recording on `handle` (for the test that nothing unwinds into C).
///
/// # Safety
/// `handle` is null or an open handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dltun_sim_panic(handle: *mut dltun_handle) -> dltun_status_t {
    // SAFETY: the caller's contract.
    let h = unsafe { handle.as_ref() };
    guard(h, || panic!("deliberate panic from dltun_sim_panic"))
}
