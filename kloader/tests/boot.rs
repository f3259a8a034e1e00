// SPDX-License-Identifier: MPL-2.0

//! Load, _init, attach, detach, _fini of the built objects.

use kloader::{LoadedKernel, Paths};

#[test]
fn boot_and_unload() {
    let Some(paths) = Paths::built() else { return };
    let k = LoadedKernel::boot_built(&paths).unwrap_or_else(|e| panic!("{e}"));
    let nodes: Vec<(String, u32)> = k.minor_nodes().into_iter().map(|n| (n.name, n.minor)).collect();
    assert_eq!(nodes, vec![("ctl".into(), 0), ("tun".into(), 1), ("tap".into(), 2)]);
    eprintln!("stack: {:?}", kloader::kstack::deepest());
    k.finish();
}

#[test]
fn getinfo_and_info_through_the_loaded_dev_ops() {
    use illumos_sys_hdrs::{DDI_INFO_DEVT2DEVINFO, DDI_INFO_DEVT2INSTANCE};
    let Some(paths) = Paths::built() else { return };
    let k = LoadedKernel::boot_built(&paths).unwrap_or_else(|e| panic!("{e}"));
    let dev = (u64::from(kloader::TUN_MAJOR) << 32) | 1;
    // drv/tun answers with its own dip; drv/tuntap's getinfo is mac's.
    assert_eq!(k.getinfo("tun", DDI_INFO_DEVT2DEVINFO, dev as _), Ok(k.dip("tun").unwrap() as usize));
    assert_eq!(k.getinfo("tun", DDI_INFO_DEVT2INSTANCE, dev as _), Ok(0));
    assert_eq!(k.getinfo("tuntap", DDI_INFO_DEVT2DEVINFO, 1), Ok(k.dip("tuntap").unwrap() as usize));
    // mac_init_ops gave drv/tuntap dld's streamtab.
    let ops = k.dev_ops("tuntap").unwrap();
    // SAFETY: the loaded module's dev_ops and cb_ops.
    assert!(!unsafe { (*(*ops).devo_cb_ops).cb_str }.is_null(), "cb_str set by mac_init_ops");
    k.finish();
}
