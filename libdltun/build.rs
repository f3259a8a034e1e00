// SPDX-License-Identifier: MPL-2.0
//! Give the shared object its soname, `libdltun.so.1`, so programs linked
//! with `-ldltun` record the versioned name, and on illumos its symbol
//! versions from `mapfile-vers` (a version-2 mapfile, `-M`).  The flags
//! differ by linker driver: illumos ld takes `-h`, GNU ld `-soname` (both
//! through the C compiler as `-Wl,...`).  Elsewhere the mapfile is not
//! applied: rustc hands the linker its own anonymous version script for a
//! cdylib, which an extra named one cannot override (lld keeps the
//! symbols unversioned, GNU ld refuses the mix).

fn main() {
    const SONAME: &str = "libdltun.so.1";
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match target_os.as_str() {
        "illumos" | "solaris" => {
            let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
            println!("cargo:rustc-cdylib-link-arg=-Wl,-h,{SONAME}");
            println!("cargo:rustc-cdylib-link-arg=-Wl,-M,{dir}/mapfile-vers");
        }
        "linux" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{SONAME}")
        }
        _ => {}
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=mapfile-vers");
}
