// SPDX-License-Identifier: MPL-2.0

//! `cargo xtask check-illumos`: type-check the userland crates for
//! x86_64-unknown-illumos.
//!
//! There is no prebuilt std for illumos on this machine, so std itself is
//! built from rust-web-src with `-Zbuild-std` (its dependencies come from
//! crates.io).  This catches `#[cfg(target_os = "illumos")]` code, FFI
//! declarations (dladm-sys) and illumos-only ioctl plumbing that the Linux
//! build never compiles.  Nothing is linked: there is no illumos libc or
//! libdladm here.

use crate::paths;
use crate::toolchain;

pub const ILLUMOS_TARGET: &str = "x86_64-unknown-illumos";

/// Workspace members that are not checked: the build helper itself, and
/// the Linux-side test harness (network namespaces, Linux TAP devices;
/// the acceptance suite for illumos hosts lives in tests/illumos).
pub const EXCLUDED: &[&str] = &["xtask", "tuntap-tests"];

/// Runs the check over every workspace member but [`EXCLUDED`].
pub fn check(extra_args: &[String]) -> Result<(), String> {
    toolchain::require_debian_toolchain()?;
    let root = paths::repo_root();
    let mut cmd = toolchain::debian_cargo(&root);
    cmd.args(["check", "--workspace"]);
    for excluded in EXCLUDED {
        cmd.args(["--exclude", excluded]);
    }
    cmd.args([
        "--target",
        ILLUMOS_TARGET,
        "-Zbuild-std=std,panic_abort",
        "--target-dir",
    ])
    .arg(paths::illumos_check_target_dir())
    .args(extra_args);
    // Build scripts of C-backed dependencies (ring, under rustls) compile
    // their C and assembly for the target even for `cargo check`.  The
    // host gcc produces x86-64 ELF objects, which is all a type-check
    // needs: nothing is linked, and no illumos header is included.
    let target_env = ILLUMOS_TARGET.replace('-', "_");
    cmd.env(format!("CC_{target_env}"), "gcc").env(format!("AR_{target_env}"), "ar");
    toolchain::run(
        &mut cmd,
        &format!("type-checking the workspace for {ILLUMOS_TARGET}"),
    )
}
