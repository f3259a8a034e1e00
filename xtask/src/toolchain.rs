// SPDX-License-Identifier: MPL-2.0

//! The Debian Rust toolchain (rustc-web, cargo-web, rust-web-src) that
//! builds the kernel module and the illumos type-check with -Zbuild-std,
//! and the environment it runs in.
//!
//! `cargo xtask` runs under the machine's stable cargo, which exports
//! variables (RUSTC, CARGO, CARGO_TARGET_DIR, RUSTFLAGS, CARGO_PKG_*, ...)
//! that would make the inner /usr/bin/cargo use the wrong compiler, the
//! wrong target directory or the wrong flags.  [`debian_cargo`] builds a
//! `Command` with those removed.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;

pub const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
pub const DEBIAN_CARGO: &str = "/usr/bin/cargo";
/// Where rust-web-src puts the standard library sources.
pub const RUST_SRC_LIBRARY: &str = "/usr/lib/rustlib/src/rust/library";

const INSTALL_HINT: &str = "install Debian's Rust toolchain with:\n    \
     apt-get update && apt-get install -y rustc-web cargo-web rust-web-src binutils";

/// Variables removed before running the Debian cargo.
const STRIPPED_VARS: &[&str] = &[
    "RUSTUP_TOOLCHAIN",
    "RUSTC",
    "RUSTDOC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_BOOTSTRAP",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO",
    "CARGO_MAKEFLAGS",
];

/// `CARGO_*` variables that describe the user's setup rather than the
/// outer build, and so are kept (registry cache, proxies, terminal).
const KEPT_CARGO_PREFIXES: &[&str] = &[
    "CARGO_HOME",
    "CARGO_NET_",
    "CARGO_HTTP_",
    "CARGO_REGISTRIES_",
    "CARGO_TERM_",
];

/// Whether the outer environment variable `name` must not reach the
/// Debian cargo.
pub fn is_stripped(name: &str) -> bool {
    if STRIPPED_VARS.contains(&name) || name.starts_with("__CARGO") {
        return true;
    }
    name.starts_with("CARGO_") && !KEPT_CARGO_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Checks that the Debian toolchain and library sources are installed.
pub fn require_debian_toolchain() -> Result<(), String> {
    for (path, package) in [
        (DEBIAN_RUSTC, "rustc-web"),
        (DEBIAN_CARGO, "cargo-web"),
        (RUST_SRC_LIBRARY, "rust-web-src"),
    ] {
        if !Path::new(path).exists() {
            return Err(format!(
                "{path} is missing (Debian package {package}); {INSTALL_HINT}"
            ));
        }
    }
    let core = Path::new(RUST_SRC_LIBRARY).join("core/Cargo.toml");
    if !core.exists() {
        return Err(format!(
            "{} is missing: -Zbuild-std needs the library sources; {INSTALL_HINT}",
            core.display()
        ));
    }
    Ok(())
}

/// A `Command` for /usr/bin/cargo with the outer cargo's environment
/// removed, RUSTC pointing at the Debian rustc and nightly features
/// unlocked with RUSTC_BOOTSTRAP=1.
pub fn debian_cargo(workdir: &Path) -> Command {
    let mut cmd = Command::new(DEBIAN_CARGO);
    cmd.current_dir(workdir);
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str()
            && is_stripped(name)
        {
            cmd.env_remove(name);
        }
    }
    // cargo run adds the stable toolchain's library directories here.
    if let Some(paths) = std::env::var_os("LD_LIBRARY_PATH") {
        let kept: Vec<PathBuf> = std::env::split_paths(&paths)
            .filter(|p| !p.to_string_lossy().contains("/.rustup/") && !p.ends_with("deps"))
            .collect();
        match std::env::join_paths(kept) {
            Ok(joined) if !joined.is_empty() => {
                cmd.env("LD_LIBRARY_PATH", joined);
            }
            _ => {
                cmd.env_remove("LD_LIBRARY_PATH");
            }
        }
    }
    cmd.env("RUSTC", DEBIAN_RUSTC);
    cmd.env("RUSTC_BOOTSTRAP", "1");
    cmd
}

/// Runs `cmd`, failing with its description when it does not succeed.
pub fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    eprintln!("xtask: {what}");
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_outer_build_variables_and_keeps_user_setup() {
        for name in [
            "RUSTC",
            "RUSTC_WRAPPER",
            "RUSTUP_TOOLCHAIN",
            "RUSTFLAGS",
            "CARGO",
            "CARGO_TARGET_DIR",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_PKG_NAME",
            "CARGO_MANIFEST_DIR",
            "CARGO_BUILD_TARGET",
            "__CARGO_FIX_PLZ",
        ] {
            assert!(is_stripped(name), "{name} should be stripped");
        }
        for name in [
            "CARGO_HOME",
            "CARGO_NET_OFFLINE",
            "CARGO_HTTP_PROXY",
            "PATH",
            "HOME",
        ] {
            assert!(!is_stripped(name), "{name} should be kept");
        }
    }
}
