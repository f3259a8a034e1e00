// SPDX-License-Identifier: MPL-2.0

//! `cargo xtask kmod`: build the kernel module crate for the illumos
//! kernel target and link it into one relocatable object.
//!
//! 1. /usr/bin/cargo (Debian's rustc-web) builds the staticlib with
//!    `-Zbuild-std=core,alloc` for kernel/x86_64-illumos-kernel.json, with
//!    `-Cforce-unwind-tables=no` so that no `.eh_frame` is emitted.
//! 2. GNU `ld -r -u _init -u _info -u _fini` pulls out of the archive only
//!    the members those entry points need (the crate's object and whichever
//!    compiler_builtins members it calls), not the whole archive.
//! 3. Unwind sections, should a toolchain change bring them back, are
//!    removed with objcopy; the `unwinding` gate would reject them anyway.
//!
//! Two modules are built this way (see [`modules`]): `tuntap`, the mac
//! provider (tuntap-drv/kmod), and `tun`, the STREAMS driver behind
//! /dev/tun, /dev/tap and /dev/tuntap (tuntap-drv/kmod-tun).  The results
//! are `out/kernel/amd64/{tuntap,tun}` and `out/kernel/{tuntap,tun}.conf`,
//! laid out as /kernel/drv on an illumos host.
//!
//! On an illumos host the link step would instead be
//!
//! ```text
//! ld -ztype=kmod -Nmisc/mac -Nmisc/dls -Ndrv/dld -Ndrv/random \
//!    -o tuntap tuntap.a      # plus -u _init -u _info -u _fini
//! ```
//!
//! where each `-N` records a DT_NEEDED dependency that krtld loads first
//! (the same set simnet, a pseudo GLDv3 driver, declares).  GNU ld cannot
//! write those into a relocatable object, so a module linked here can only
//! declare its dependencies through krtld's fallback: a global
//! NUL-terminated `char _depends_on[]` such as
//! `"misc/mac misc/dls drv/dld drv/random"`.  kernel/README.md has more.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;

use crate::paths;
use crate::toolchain;

/// Options for one build.
#[derive(Debug, Clone)]
pub struct KmodOptions {
    /// Build the dev profile instead of release.
    pub debug: bool,
    /// The staticlib crate to build (default: tuntap-drv/kmod).
    pub manifest: PathBuf,
    /// Target directory for the inner cargo.
    pub target_dir: PathBuf,
    /// Where to write the linked module.
    pub output: PathBuf,
}

impl Default for KmodOptions {
    fn default() -> Self {
        KmodOptions {
            debug: false,
            manifest: paths::kmod_manifest(),
            target_dir: paths::kmod_target_dir(),
            output: paths::module_output(),
        }
    }
}

/// Sections that only serve unwinding.
pub const UNWIND_SECTIONS: &[&str] = &[
    ".eh_frame",
    ".rela.eh_frame",
    ".eh_frame_hdr",
    ".gcc_except_table",
];

/// The library name cargo gives the staticlib: `[lib] name`, or the
/// package name with `-` turned into `_`.
pub fn staticlib_name(manifest_text: &str) -> Option<String> {
    let mut section = "";
    let mut package_name = None;
    let mut lib_name = None;
    for line in manifest_text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "name" {
            continue;
        }
        let value = value.trim().trim_matches('"').to_owned();
        match section {
            "[package]" => package_name = Some(value),
            "[lib]" => lib_name = Some(value),
            _ => {}
        }
    }
    lib_name.or_else(|| package_name.map(|n| n.replace('-', "_")))
}

/// Builds the staticlib; returns the path of the archive.
pub fn build_staticlib(options: &KmodOptions) -> Result<PathBuf, String> {
    toolchain::require_debian_toolchain()?;
    let manifest = &options.manifest;
    let manifest_text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let lib = staticlib_name(&manifest_text)
        .ok_or_else(|| format!("{}: no package or lib name", manifest.display()))?;
    let crate_dir = manifest.parent().unwrap_or(Path::new("."));
    let spec = paths::kernel_target_spec();

    let mut cmd = toolchain::debian_cargo(crate_dir);
    cmd.arg("build");
    if !options.debug {
        cmd.arg("--release");
    }
    cmd.args(["-Zbuild-std=core,alloc", "-Zjson-target-spec", "--target"])
        .arg(&spec)
        .arg("--target-dir")
        .arg(&options.target_dir)
        .arg("--manifest-path")
        .arg(manifest)
        // No unwind tables: panic=abort needs none and krtld ignores them.
        .env("RUSTFLAGS", "-Cforce-unwind-tables=no");
    let profile = if options.debug { "debug" } else { "release" };
    toolchain::run(
        &mut cmd,
        &format!(
            "building {} ({profile}) for {}",
            manifest.display(),
            paths::KERNEL_TARGET_NAME
        ),
    )?;
    let archive = options
        .target_dir
        .join(paths::KERNEL_TARGET_NAME)
        .join(profile)
        .join(format!("{lib}.a"));
    if !archive.exists() {
        return Err(format!(
            "the build succeeded but {} is missing (is the crate a staticlib?)",
            archive.display()
        ));
    }
    Ok(archive)
}

/// Links `archive` into the relocatable module at `output`.
pub fn link_module(archive: &Path, output: &Path) -> Result<(), String> {
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut ld = Command::new("ld");
    ld.arg("-r")
        .args(["-u", "_init", "-u", "_info", "-u", "_fini"])
        .arg("-o")
        .arg(output)
        .arg(archive);
    toolchain::run(
        &mut ld,
        &format!("linking {} -> {}", archive.display(), output.display()),
    )
    .map_err(|e| format!("{e}; GNU ld comes with binutils (apt-get install binutils)"))?;
    strip_unwind_sections(output)
}

/// Removes unwind-only sections if the object has any.
pub fn strip_unwind_sections(object: &Path) -> Result<(), String> {
    use object::Object;
    use object::ObjectSection;
    let present: Vec<String> = with_object(object, |file| {
        file.sections()
            .filter_map(|s| s.name().ok().map(str::to_owned))
            .filter(|n| {
                UNWIND_SECTIONS
                    .iter()
                    .any(|u| n == u || n.starts_with(".gcc_except_table"))
            })
            .collect()
    })?;
    if present.is_empty() {
        return Ok(());
    }
    let mut objcopy = Command::new("objcopy");
    for name in &present {
        objcopy.arg(format!("--remove-section={name}"));
    }
    objcopy.arg(object);
    toolchain::run(
        &mut objcopy,
        &format!("removing {} from {}", present.join(" "), object.display()),
    )
}

/// One loadable module the project ships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSpec {
    /// The driver name (`add_drv` name, file name under amd64/).
    pub name: &'static str,
    /// Its staticlib crate.
    pub manifest: PathBuf,
    /// The linked object.
    pub output: PathBuf,
    /// Where its driver.conf is copied.
    pub conf_output: PathBuf,
    /// Allowlist files of undefined symbols beyond kernel/allowlist.txt.
    pub extra_allowlists: Vec<PathBuf>,
}

/// The modules `cargo xtask kmod` builds, in install order: `tuntap`
/// (the mac provider) before `tun` (which depends on it).
pub fn modules() -> Vec<ModuleSpec> {
    vec![
        ModuleSpec {
            name: "tuntap",
            manifest: paths::kmod_manifest(),
            output: paths::module_output(),
            conf_output: paths::conf_output(),
            extra_allowlists: Vec::new(),
        },
        ModuleSpec {
            name: "tun",
            manifest: paths::kmod_tun_manifest(),
            output: paths::tun_module_output(),
            conf_output: paths::tun_conf_output(),
            extra_allowlists: vec![paths::tun_allowlist()],
        },
    ]
}

/// Copies `<name>.conf` from the module's crate next to the module.
pub fn copy_conf_for(module: &ModuleSpec) -> Result<Option<PathBuf>, String> {
    let crate_dir = module.manifest.parent().unwrap_or(Path::new("."));
    let conf = crate_dir.join(format!("{}.conf", module.name));
    if !conf.exists() {
        return Ok(None);
    }
    copy_file(&conf, &module.conf_output).map(Some)
}

/// Copies tuntap.conf next to the module, if the driver ships one.
pub fn copy_conf() -> Result<Option<PathBuf>, String> {
    let root = paths::repo_root();
    let candidates = [
        root.join("tuntap-drv/tuntap.conf"),
        root.join("tuntap-drv/kmod/tuntap.conf"),
        root.join("kernel/tuntap.conf"),
    ];
    let Some(conf) = candidates.iter().find(|p| p.exists()) else {
        return Ok(None);
    };
    copy_file(conf, &paths::conf_output()).map(Some)
}

fn copy_file(conf: &Path, dest: &Path) -> Result<PathBuf, String> {
    let dest = dest.to_path_buf();
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::copy(conf, &dest)
        .map_err(|e| format!("cannot copy {} to {}: {e}", conf.display(), dest.display()))?;
    Ok(dest)
}

/// The whole `kmod` command without `--manifest-path`: every module of
/// [`modules`], each linked to its output, with its .conf.
pub fn build_all(debug: bool, target_dir: &Path) -> Result<(), String> {
    for module in modules() {
        let options = KmodOptions {
            debug,
            manifest: module.manifest.clone(),
            target_dir: target_dir.to_path_buf(),
            output: module.output.clone(),
        };
        let archive = build_staticlib(&options)?;
        link_module(&archive, &module.output)?;
        eprintln!("xtask: module {} written to {}", module.name, module.output.display());
        if let Some(conf) = copy_conf_for(&module)? {
            eprintln!("xtask: driver configuration copied to {}", conf.display());
        }
    }
    Ok(())
}

/// Names of the global symbols `object` defines (for checking that the
/// symbols one module imports from another are really exported by it).
pub fn defined_globals(object: &Path) -> Result<std::collections::BTreeSet<String>, String> {
    use object::Object;
    use object::ObjectSymbol;
    with_object(object, |file| {
        file.symbols()
            .filter(|s| s.is_global() && !s.is_undefined())
            .filter_map(|s| s.name().ok().map(str::to_owned))
            .collect()
    })
}

/// Names of the undefined symbols of `object`.
pub fn undefined_names(object: &Path) -> Result<Vec<String>, String> {
    use object::Object;
    use object::ObjectSymbol;
    with_object(object, |file| {
        file.symbols()
            .filter(|s| s.is_undefined())
            .filter_map(|s| s.name().ok().map(str::to_owned))
            .filter(|n| !n.is_empty())
            .collect()
    })
}

/// Reads and parses the object file `object` and hands it to `f`.
fn with_object<T>(object: &Path, f: impl FnOnce(&object::File<'_>) -> T) -> Result<T, String> {
    let data =
        std::fs::read(object).map_err(|e| format!("cannot read {}: {e}", object.display()))?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("cannot parse {}: {e}", object.display()))?;
    Ok(f(&file))
}

/// The symbols of `wanted` that `exporter` does not define globally.
pub fn missing_exports<'a>(
    wanted: impl IntoIterator<Item = &'a str>,
    exporter: &std::collections::BTreeSet<String>,
) -> Vec<String> {
    wanted
        .into_iter()
        .filter(|name| !exporter.contains(*name))
        .map(str::to_owned)
        .collect()
}

/// One module from an explicit crate (`kmod --manifest-path`).
pub fn build(options: &KmodOptions) -> Result<(), String> {
    let archive = build_staticlib(options)?;
    link_module(&archive, &options.output)?;
    eprintln!("xtask: module written to {}", options.output.display());
    if options.output == paths::module_output()
        && let Some(conf) = copy_conf()?
    {
        eprintln!("xtask: driver configuration copied to {}", conf.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staticlib_name_prefers_lib_section() {
        let manifest = "[package]\nname = \"tuntap\"\n[lib]\ncrate-type = [\"staticlib\"]\n";
        assert_eq!(staticlib_name(manifest).as_deref(), Some("tuntap"));
        let renamed = "[package]\nname = \"my-mod\"\n[lib]\nname = \"other\"\n";
        assert_eq!(staticlib_name(renamed).as_deref(), Some("other"));
        let dashed = "[package]\nname = \"my-mod\" # comment\n[dependencies]\nname = \"x\"\n";
        assert_eq!(staticlib_name(dashed).as_deref(), Some("my_mod"));
    }

    #[test]
    fn missing_exports_names_what_the_exporter_lacks() {
        let exporter: std::collections::BTreeSet<String> =
            ["tuntap_str_open".to_owned(), "_init".to_owned()].into();
        let missing = missing_exports(["tuntap_str_open", "tuntap_str_wput"], &exporter);
        assert_eq!(missing, ["tuntap_str_wput"]);
        assert!(missing_exports(["tuntap_str_open"], &exporter).is_empty());
    }

    #[test]
    fn both_modules_are_built_provider_first() {
        let names: Vec<&str> = modules().iter().map(|m| m.name).collect();
        assert_eq!(names, ["tuntap", "tun"]);
        for module in modules() {
            let text = std::fs::read_to_string(&module.manifest).expect("module crate exists");
            assert_eq!(staticlib_name(&text).as_deref(), Some(module.name));
            assert!(module.output.ends_with(format!("out/kernel/amd64/{}", module.name)));
            let conf = module.manifest.parent().expect("crate dir").join(format!("{}.conf", module.name));
            assert!(conf.exists(), "{} is missing", conf.display());
        }
        // Only tun may reference symbols that tuntap defines.
        assert!(modules()[0].extra_allowlists.is_empty());
        assert_eq!(modules()[1].extra_allowlists, [paths::tun_allowlist()]);
    }
}
