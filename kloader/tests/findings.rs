// SPDX-License-Identifier: MPL-2.0

//! Findings the loaded objects show and the simulator-only tests cannot
//! (they never run tuntap-drv/src/illumos/).  Each is pinned here so that
//! fixing it makes this test fail: then delete the test and the
//! tolerance in tests/common/mod.rs.

use kloader::{ENTRY_LOCK_ACROSS_OPEN_PUTNEXT, LoadedKernel, Paths};
use tuntap_drv::ddi::node_minor;

#[test]
fn entry_lock_is_held_across_putnext_in_open() {
    let Some(paths) = Paths::built() else { return };
    let mut k = LoadedKernel::boot_built(&paths).unwrap_or_else(|e| panic!("{e}"));
    let s = k
        .host()
        .open(illumos_sys_hdrs::MAC_PRIVATE_MINOR + node_minor::TUN, &k.host().root_cred())
        .expect("open /dev/tun");
    drop(s);
    let hits = k.errors().iter().filter(|e| e.starts_with(ENTRY_LOCK_ACROSS_OPEN_PUTNEXT.loader_error)).count();
    assert_eq!(
        hits, 1,
        "tuntap_str_open no longer putnext()s under ENTRY_LOCK: the finding is fixed, remove \
         ENTRY_LOCK_ACROSS_OPEN_PUTNEXT and this test (errors: {:?})",
        k.errors()
    );
    k.tolerate(ENTRY_LOCK_ACROSS_OPEN_PUTNEXT);
    k.finish();
}

#[test]
fn after_a_reboot_dev_tun_fails_because_nothing_attaches_drv_tuntap() {
    use kloader::{BootOptions, Lifecycle, Objects};
    let Some(paths) = Paths::built() else { return };
    let opts = BootOptions { lifecycle: Lifecycle::Reboot, ..Default::default() };
    let k = LoadedKernel::boot(&paths, &Objects::read(&paths).unwrap(), opts).unwrap_or_else(|e| panic!("{e}"));
    assert!(k.dip("tun").is_none() && k.dip("tuntap").is_none(), "no ddi-forceattach: nothing attached at boot");
    let root = k.host().root_cred();
    let r = k.host().open(illumos_sys_hdrs::MAC_PRIVATE_MINOR + node_minor::TUN, &root);
    assert!(k.dip("tun").is_some(), "opening a drv/tun node attaches drv/tun");
    assert_eq!(
        r.err(),
        Some(illumos_sys_hdrs::ENXIO),
        "/dev/tun now opens after a reboot (tuntap.conf has ddi-forceattach=1, or drv/tun holds \
         drv/tuntap with ddi_hold_devi_by_instance): the finding is fixed, remove this test"
    );
    k.finish();
}
