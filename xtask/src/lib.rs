// SPDX-License-Identifier: MPL-2.0

//! Build helper for the tuntap driver: builds the illumos kernel module,
//! runs the gates on it, type-checks the userland for illumos, and
//! assembles and checks the IPS packages.  The
//! gates are library code so that `cargo test -p xtask` can run them on
//! small crafted objects (xtask/tests/gates.rs).

pub mod allowlist;
pub mod disasm;
pub mod findings;
pub mod gates;
pub mod illumos_check;
pub mod kmod;
pub mod ips;
pub mod package;
pub mod paths;
pub mod probes;
pub mod relocs;
pub mod softfloat;
pub mod toolchain;
