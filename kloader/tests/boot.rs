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

/// A kernel function by name, as a module would reach it.
fn kfn(name: &str) -> usize {
    kloader::image::image().address(name).unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn interfaces_ahead_of_the_allowlist_behave() {
    use illumos_sys_hdrs::{DDI_FAILURE, DDI_SUCCESS, dev_info_t};
    let Some(paths) = Paths::built() else { return };
    let mut k = LoadedKernel::boot_built(&paths).unwrap_or_else(|e| panic!("{e}"));
    // SAFETY (all transmutes): each stub jumps to the implementation with
    // the illumos signature written next to it.
    let hold: unsafe extern "C" fn(u32, i32, i32) -> *mut dev_info_t = unsafe { std::mem::transmute(kfn("ddi_hold_devi_by_instance")) };
    let rele: unsafe extern "C" fn(*mut dev_info_t) = unsafe { std::mem::transmute(kfn("ddi_release_devi")) };
    let dip = unsafe { hold(kloader::TUN_MAJOR, 0, 0) };
    assert_eq!(dip, k.dip("tun").unwrap());
    assert!(unsafe { hold(kloader::TUN_MAJOR, 1, 0) }.is_null(), "no instance 1");
    assert_eq!(k.detach("tun"), DDI_FAILURE, "a held devinfo node is not detached");
    unsafe { rele(dip) };
    assert_eq!(k.detach("tun"), DDI_SUCCESS);
    let hrest: unsafe extern "C" fn(*mut libc::timespec) = unsafe { std::mem::transmute(kfn("gethrestime")) };
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { hrest(&mut ts) };
    assert!(ts.tv_sec > 1_600_000_000 && (0..1_000_000_000).contains(&ts.tv_nsec), "{}.{}", ts.tv_sec, ts.tv_nsec);
    // A crhold never released is a finding at unload.
    let crhold: unsafe extern "C" fn(*mut libc::c_void) = unsafe { std::mem::transmute(kfn("crhold")) };
    let cr = k.host().root_cred();
    unsafe { crhold(cr.as_cred().0.cast_mut().cast()) };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| k.finish()));
    let msg = r.expect_err("finish accepted a leaked crhold");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("1 crhold(s) never released"), "{msg}");
}

#[test]
fn reboot_lifecycle_attaches_on_open_and_on_hold() {
    use illumos_sys_hdrs::dev_info_t;
    use kloader::{BootOptions, Lifecycle, Objects};
    let Some(paths) = Paths::built() else { return };
    let opts = BootOptions { lifecycle: Lifecycle::Reboot, ..Default::default() };
    let k = LoadedKernel::boot(&paths, &Objects::read(&paths).unwrap(), opts).unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: the stubs jump to implementations with these signatures.
    let hold: unsafe extern "C" fn(u32, i32, i32) -> *mut dev_info_t = unsafe { std::mem::transmute(kfn("ddi_hold_devi_by_instance")) };
    let rele: unsafe extern "C" fn(*mut dev_info_t) = unsafe { std::mem::transmute(kfn("ddi_release_devi")) };
    // tun.conf does not force drv/tun to attach at boot.
    assert!(k.dip("tun").is_none());
    assert!(unsafe { hold(kloader::TUN_MAJOR, 0, 1) }.is_null(), "E_DDI_HOLD_DEVI_NOATTACH does not attach");
    assert!(k.dip("tun").is_none());
    let d = unsafe { hold(kloader::TUN_MAJOR, 0, 0) };
    assert_eq!(Some(d), k.dip("tun"), "the hold attached drv/tun");
    unsafe { rele(d) };
    k.finish();
}

#[test]
fn a_tolerated_finding_is_dropped_and_only_that_one() {
    let Some(paths) = Paths::built() else { return };
    let run = |tolerate: bool| {
        let mut k = LoadedKernel::boot_built(&paths).unwrap_or_else(|e| panic!("{e}"));
        // SAFETY: mutex_exit(kmutex_t *) on a lock word nobody entered:
        // the loader records the broken rule.
        let exit: unsafe extern "C" fn(*mut u64) = unsafe { std::mem::transmute(kfn("mutex_exit")) };
        let mut word = 0u64;
        unsafe { exit(&mut word) };
        if tolerate {
            k.tolerate(kloader::Tolerated { loader_error: "mutex_exit(", violation: None });
        }
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| k.finish())).is_ok()
    };
    assert!(!run(false), "the broken rule is a finding");
    assert!(run(true), "tolerated, it is dropped");
}
