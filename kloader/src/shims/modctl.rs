// SPDX-License-Identifier: MPL-2.0

//! Module linkage: `sys/modctl.h` (illumos-gate
//! `usr/src/uts/common/sys/modctl.h`).
//!
//! Theory statement.  `mod_install` checks what the kernel relies on
//! when it walks a linkage (modctl.c `mod_install` follows `ml_linkage`
//! through each `modl*` structure's ops): `ml_rev == MODREV_1`, a
//! `modldrv` whose `drv_modops` is `&mod_driverops`, a `dev_ops` with
//! `DEVO_REV` and a `cb_ops` with `CB_REV`.  A wrong field offset in one
//! of those `repr(C)` structures shows up as one of these values in the
//! wrong place, and the message says so.  `mod_remove` is refused with
//! EBUSY while the driver has an attached instance (the framework detaches
//! first).  Locks: the `State` tables only.

use std::ffi::c_int;

use illumos_sys_hdrs::{CB_REV, DEVO_REV, EBUSY, EINVAL, MODREV_1, dev_ops, modinfo, modldrv, modlinkage};

use super::{Installed, State, lock, st};
use crate::kstack::host;

pub fn table() -> Vec<(&'static str, usize)> {
    vec![
        f!(mod_install),
        f!(mod_remove),
        f!(mod_info),
    ]
}

// ----- module linkage (sys/modctl.h) -----

thread_local! {
    /// The module whose _init/_fini runs on this thread.
    pub(crate) static LOADING: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Checks a MODREV_1 linkage with one modldrv; returns its dev_ops.
fn check_linkage(s: &State, ml: *mut modlinkage) -> Result<usize, String> {
    if ml.is_null() {
        return Err("NULL modlinkage".into());
    }
    // SAFETY: the module passes its static modlinkage.
    let ml = unsafe { &*ml };
    if ml.ml_rev != MODREV_1 {
        return Err(format!("ml_rev is {}, not MODREV_1", ml.ml_rev));
    }
    let drv = ml.ml_linkage[0].cast::<modldrv>();
    if drv.is_null() {
        return Err("ml_linkage[0] is NULL".into());
    }
    // SAFETY: a modldrv by the check on drv_modops below.
    let drv = unsafe { &*drv };
    let ops = crate::image::data_address("mod_driverops");
    if drv.drv_modops as usize != ops {
        return Err(format!(
            "ml_linkage[0]->drv_modops is {:p}, not &mod_driverops ({ops:#x}): a wrong field offset in modldrv/modlinkage?",
            drv.drv_modops
        ));
    }
    let dops = drv.drv_dev_ops;
    if dops.is_null() {
        return Err("drv_dev_ops is NULL".into());
    }
    // SAFETY: a dev_ops structure of the module.
    let d: &dev_ops = unsafe { &*dops };
    if d.devo_rev != DEVO_REV {
        return Err(format!("devo_rev is {}, not DEVO_REV ({DEVO_REV}): a wrong field offset in dev_ops?", d.devo_rev));
    }
    if !d.devo_cb_ops.is_null() {
        // SAFETY: the module's cb_ops.
        let cb = unsafe { &*d.devo_cb_ops };
        if cb.cb_rev != CB_REV {
            return Err(format!("cb_rev is {}, not CB_REV ({CB_REV}): a wrong field offset in cb_ops?", cb.cb_rev));
        }
    }
    let _ = s;
    Ok(dops as usize)
}

/// `int mod_install(struct modlinkage *)` (sys/modctl.h).
unsafe extern "C" fn mod_install(ml: *mut modlinkage) -> c_int {
    host(|| {
        let s = st();
        let name = LOADING.with(|l| l.borrow().clone());
        match check_linkage(&s, ml) {
            Ok(dev_ops) => {
                lock(&s.installed).push(Installed { name, modlinkage: ml as usize, dev_ops });
                0
            }
            Err(e) => {
                let m = LOADING.with(|l| l.borrow().clone());
                s.error(format!("mod_install from {m}: {e}"));
                EINVAL
            }
        }
    })
}
/// `int mod_remove(struct modlinkage *)` (sys/modctl.h): EBUSY while the
/// driver has an attached instance (the framework detaches first).
unsafe extern "C" fn mod_remove(ml: *mut modlinkage) -> c_int {
    host(|| {
        let s = st();
        let m = LOADING.with(|l| l.borrow().clone());
        if lock(&s.dips).contains_key(&m) {
            return EBUSY;
        }
        let mut inst = lock(&s.installed);
        match inst.iter().position(|i| i.modlinkage == ml as usize) {
            Some(p) => {
                inst.remove(p);
                0
            }
            None => {
                drop(inst);
                s.error(format!("mod_remove from {m} of a linkage never installed"));
                EINVAL
            }
        }
    })
}
/// `int mod_info(struct modlinkage *, struct modinfo *)` (sys/modctl.h):
/// validates the linkage; the modinfo contents (krtld-private) are not
/// filled.  Non-zero on success, as _info(9E) passes it on.
unsafe extern "C" fn mod_info(ml: *mut modlinkage, _mi: *mut modinfo) -> c_int {
    host(|| c_int::from(check_linkage(&st(), ml).is_ok()))
}

