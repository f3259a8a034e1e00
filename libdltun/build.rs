// SPDX-License-Identifier: MPL-2.0
//! Give the shared object its soname, `libdltun.so.1`, so programs linked
//! with `-ldltun` record the versioned name.  The flag differs by linker
//! driver: illumos ld takes `-h`, GNU ld `-soname` (both through the C
//! compiler as `-Wl,...`).

fn main() {
    const SONAME: &str = "libdltun.so.1";
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match target_os.as_str() {
        "illumos" | "solaris" => println!("cargo:rustc-cdylib-link-arg=-Wl,-h,{SONAME}"),
        "linux" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{SONAME}")
        }
        _ => {}
    }
    println!("cargo:rerun-if-changed=build.rs");
}
