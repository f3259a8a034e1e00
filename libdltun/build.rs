// SPDX-License-Identifier: MPL-2.0
//! Give the shared object its soname, `libdltun.so.1`, and its symbol
//! versions from `mapfile-vers`, the one home of libdltun's interface.
//!
//! * **illumos**: the mapfile (version 2) goes to ld(1) as it is (`-M`),
//!   as every illumos library's `common/mapfile-vers` does; the soname
//!   with `-h`.
//! * **Linux** (the tests and the simulator): GNU ld's equivalent is a
//!   version script.  It is made from the mapfile here
//!   ([`gnu_version_script`]: the same `SYMBOL_VERSION` blocks in GNU
//!   syntax), so nothing is listed twice; a `sim` build adds the
//!   simulator's test hooks (`dltun_sim_*` in `src/sim.rs`) in a private
//!   version `LIBDLTUN_SIM`.  rustc hands the linker an anonymous version
//!   script of its own for every cdylib, and neither GNU ld ("anonymous
//!   version tag cannot be combined with other version tags") nor lld
//!   (it drops the named one) accept a named one beside it.  So the link
//!   goes through GNU ld (`-fuse-ld=bfd`) found first as a small wrapper
//!   (`-B`), which drops every version script but ours and runs the real
//!   `ld.bfd`.  Ours makes everything but the listed functions local, as
//!   rustc's did.  `tests/mapfile.rs` checks the built object: each
//!   public function carries its block's version, nothing else is
//!   exported.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const SONAME: &str = "libdltun.so.1";
/// The private version of the simulator's test hooks (sim builds only).
const SIM_VERSION: &str = "LIBDLTUN_SIM";

/// The GNU ld version script for the version-2 mapfile `mapfile`: its
/// `SYMBOL_VERSION name { ... } [parent];` blocks become `name { ... }
/// [parent];`; comments and `$mapfile_version 2` go.  Anything else a
/// mapfile may hold (`$if`, `SYMBOL_SCOPE`, symbol attributes) has no
/// place in libdltun's and is refused, so the two linkers never see
/// different interfaces.
fn gnu_version_script(mapfile: &str) -> Result<String, String> {
    let mut out = String::from("/* Made by libdltun/build.rs from mapfile-vers; do not edit. */\n");
    let mut saw_version = false;
    for (n, raw) in mapfile.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line == "$mapfile_version 2" {
            saw_version = true;
            continue;
        }
        let line = match line.strip_prefix("SYMBOL_VERSION ") {
            Some(rest) => rest.trim_start(),
            None => line,
        };
        if line.starts_with('$') || line.contains("SYMBOL_SCOPE") || line.contains('=') {
            return Err(format!("mapfile-vers line {}: `{}` has no GNU ld equivalent here", n + 1, raw.trim()));
        }
        let _ = writeln!(out, "{line}");
    }
    if !saw_version {
        return Err("mapfile-vers has no `$mapfile_version 2` line".into());
    }
    Ok(out)
}

/// The `dltun_sim_*` functions `src/sim.rs` exports.
fn sim_hooks(sim_rs: &str) -> Vec<String> {
    sim_rs
        .lines()
        .filter(|l| l.contains("extern \"C\" fn dltun_sim_"))
        .filter_map(|l| l.split("fn ").nth(1)?.split('(').next().map(str::to_string))
        .collect()
}

/// `ld.bfd` for gcc to find first (`-B dir`): drops every
/// `--version-script` but `ours` (rustc's anonymous one) and runs the real
/// GNU ld from `PATH`.
fn write_ld_wrapper(dir: &Path, ours: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    let path = dir.join("ld.bfd");
    let script = format!(
        "#!/bin/sh\n\
         # Made by libdltun/build.rs: link libdltun with its own version script\n\
         # (from mapfile-vers) instead of rustc's anonymous one.\n\
         ours='--version-script={ours}'\n\
         for arg do\n\
         \tshift\n\
         \tcase $arg in\n\
         \t--version-script=*) [ \"$arg\" = \"$ours\" ] || continue ;;\n\
         \tesac\n\
         \tset -- \"$@\" \"$arg\"\n\
         done\n\
         exec ld.bfd \"$@\"\n",
        ours = ours.display()
    );
    std::fs::write(&path, script)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mapfile = dir.join("mapfile-vers");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=mapfile-vers");
    println!("cargo:rerun-if-changed=src/sim.rs");
    match target_os.as_str() {
        "illumos" | "solaris" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-h,{SONAME}");
            println!("cargo:rustc-cdylib-link-arg=-Wl,-M,{}", mapfile.display());
        }
        "linux" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{SONAME}");
            let text = std::fs::read_to_string(&mapfile).unwrap_or_default();
            let mut script = match gnu_version_script(&text) {
                Ok(s) => s,
                Err(e) => {
                    println!("cargo:warning={e}");
                    std::process::exit(1);
                }
            };
            if std::env::var_os("CARGO_FEATURE_SIM").is_some() {
                let hooks = sim_hooks(&std::fs::read_to_string(dir.join("src/sim.rs")).unwrap_or_default());
                let _ = writeln!(script, "/* The simulator's test hooks (feature sim), not libdltun.h's. */");
                let _ = writeln!(script, "{SIM_VERSION} {{\n    global:");
                for h in hooks {
                    let _ = writeln!(script, "\t{h};");
                }
                let _ = writeln!(script, "}} LIBDLTUN_1.0;");
            }
            let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
            let version_script = out.join("libdltun.version");
            let wrapper_dir = out.join("ld");
            let written = std::fs::write(&version_script, script)
                .and_then(|()| write_ld_wrapper(&wrapper_dir, &version_script));
            if let Err(e) = written {
                println!("cargo:warning=cannot write the libdltun version script or linker wrapper: {e}");
                std::process::exit(1);
            }
            println!("cargo:rustc-cdylib-link-arg=-B{}", wrapper_dir.display());
            println!("cargo:rustc-cdylib-link-arg=-fuse-ld=bfd");
            println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={}", version_script.display());
        }
        "freebsd" | "netbsd" | "openbsd" | "dragonfly" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{SONAME}")
        }
        _ => {}
    }
}
