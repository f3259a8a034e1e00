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
