// SPDX-License-Identifier: MPL-2.0

//! The device tree: instance 0 of each driver, attached and detached
//! through the module's `dev_ops`, from the loader or from the kernel
//! functions that attach on demand.
//!
//! Theory statement.  A driver's one instance (its `.conf` declares
//! `instance=0` under `pseudo`) gets a `dev_info_t` (zeroed storage the
//! module only passes back) when it is attached.  Attach happens the ways
//! illumos does it (docs/research/kernel-contexts.md, item 1, citing
//! devcfg.c, spec_vnops.c): at boot only with `ddi-forceattach=1` in the
//! `.conf` ([`crate::Lifecycle::Reboot`]; [`crate::Lifecycle::Installed`]
//! models `add_drv`, which attaches both), when a minor node of the driver
//! is opened (spec_open holds the devinfo node by dev_t, which attaches
//! it), and from `ddi_hold_devi_by_instance` unless
//! `E_DDI_HOLD_DEVI_NOATTACH`.  Detach is refused while the node is held.
//!
//! Locks: the `State` tables; never held across module code.

use std::ffi::c_int;

use illumos_sys_hdrs::{DDI_ATTACH, DDI_DETACH, DDI_FAILURE, DDI_SUCCESS, dev_info_t, dev_ops};

use crate::kstack;
use crate::shims::{State, lock};

/// The dev_ops `mod_install` recorded for `module`.
pub(crate) fn dev_ops(s: &State, module: &str) -> Option<*mut dev_ops> {
    lock(&s.installed).iter().find(|i| i.name == module).map(|i| i.dev_ops as *mut dev_ops)
}

/// The dip of an attached instance of `module`.
pub(crate) fn dip(s: &State, module: &str) -> Option<*mut dev_info_t> {
    lock(&s.dips).get(module).map(|d| *d as *mut dev_info_t)
}

/// attach(9E) of instance 0 through `devo_attach` (DDI_SUCCESS if it is
/// attached already).
pub(crate) fn attach(s: &State, module: &str) -> c_int {
    if dip(s, module).is_some() {
        return DDI_SUCCESS;
    }
    let Some(ops) = dev_ops(s, module) else { return DDI_FAILURE };
    // SAFETY: the installed module's dev_ops.
    let Some(f) = (unsafe { (*ops).devo_attach }) else { return DDI_FAILURE };
    let storage = Box::new([0u64; 8]);
    let d = Box::into_raw(storage) as usize;
    lock(&s.dips).insert(module.to_owned(), d);
    // SAFETY: the module's attach(9E) with a fresh node and DDI_ATTACH.
    let rc = kstack::enter("devo_attach", || unsafe { f(d as *mut dev_info_t, DDI_ATTACH) });
    if rc != DDI_SUCCESS {
        lock(&s.dips).remove(module);
        // SAFETY: made above, no longer known to anyone.
        drop(unsafe { Box::from_raw(d as *mut [u64; 8]) });
    }
    rc
}

/// detach(9E) of instance 0 through `devo_detach`; refused (DDI_FAILURE)
/// while the node is held.
pub(crate) fn detach(s: &State, module: &str) -> c_int {
    let (Some(ops), Some(d)) = (dev_ops(s, module), dip(s, module)) else { return DDI_FAILURE };
    if lock(&s.devi_holds).contains_key(&(d as usize)) {
        return DDI_FAILURE;
    }
    // SAFETY: the installed module's dev_ops.
    let Some(f) = (unsafe { (*ops).devo_detach }) else { return DDI_FAILURE };
    // SAFETY: the module's detach(9E) with its attached node.
    let rc = kstack::enter("devo_detach", || unsafe { f(d, DDI_DETACH) });
    if rc == DDI_SUCCESS {
        lock(&s.dips).remove(module);
        // The framework removes minor nodes a driver left behind.
        lock(&s.minor_nodes).retain(|n| n.dip != d as usize);
        // SAFETY: the storage attach() made; the driver let go of it.
        drop(unsafe { Box::from_raw(d.cast::<[u64; 8]>()) });
    }
    rc
}

/// Does `conf` (a driver.conf) set `ddi-forceattach=1`?  (The
/// simulator's driver.conf reader decides.)
pub fn forceattach(conf: &str) -> bool {
    tuntap_sim::boot::DriverConf::parse(conf).force_attach
}
