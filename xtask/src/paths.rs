// SPDX-License-Identifier: MPL-2.0

//! Fixed locations in the repository.

use std::path::PathBuf;

/// The repository root (xtask lives one level below it).
pub fn repo_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// The kernel target spec.
pub fn kernel_target_spec() -> PathBuf {
    repo_root().join("kernel/x86_64-illumos-kernel.json")
}

/// The target name cargo derives from the spec's file name.
pub const KERNEL_TARGET_NAME: &str = "x86_64-illumos-kernel";

/// The undefined-symbol allowlist.
pub fn allowlist() -> PathBuf {
    repo_root().join("kernel/allowlist.txt")
}

/// The kernel module crate.
pub fn kmod_manifest() -> PathBuf {
    repo_root().join("tuntap-drv/kmod/Cargo.toml")
}

/// Target directory for the kernel module build (kept apart from the
/// host build's so the two cargos never share locks or fingerprints).
pub fn kmod_target_dir() -> PathBuf {
    repo_root().join("target/kmod")
}

/// Target directory for `check-illumos`.
pub fn illumos_check_target_dir() -> PathBuf {
    repo_root().join("target/illumos-check")
}

/// Where the linked module is written: the layout of /kernel/drv on an
/// illumos host, under out/.
pub fn module_output() -> PathBuf {
    repo_root().join("out/kernel/amd64/tuntap")
}

/// Where tuntap.conf is copied.
pub fn conf_output() -> PathBuf {
    repo_root().join("out/kernel/tuntap.conf")
}

/// The STREAMS module crate (`drv/tun`).
pub fn kmod_tun_manifest() -> PathBuf {
    repo_root().join("tuntap-drv/kmod-tun/Cargo.toml")
}

/// Where the linked `tun` module is written.
pub fn tun_module_output() -> PathBuf {
    repo_root().join("out/kernel/amd64/tun")
}

/// Where tun.conf is copied.
pub fn tun_conf_output() -> PathBuf {
    repo_root().join("out/kernel/tun.conf")
}

/// Extra undefined symbols the `tun` module may have: the `tuntap_str_*`
/// functions `drv/tuntap` defines.
pub fn tun_allowlist() -> PathBuf {
    repo_root().join("kernel/allowlist-tun.txt")
}
