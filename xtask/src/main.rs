// SPDX-License-Identifier: MPL-2.0

//! `cargo xtask <command>`: see `cargo xtask help`.

use std::path::PathBuf;
use std::process::ExitCode;

use xtask::allowlist::Allowlist;
use xtask::gates;
use xtask::illumos_check;
use xtask::kmod;
use xtask::package;
use xtask::paths;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  kmod [--debug] [--manifest-path PATH --out PATH]
        Build both kernel modules with Debian's rustc-web and
        -Zbuild-std=core,alloc and link each with `ld -r`:
        tuntap-drv/kmod -> out/kernel/amd64/tuntap (the mac provider) and
        tuntap-drv/kmod-tun -> out/kernel/amd64/tun (the STREAMS devices);
        tuntap.conf and tun.conf go to out/kernel/.  With --manifest-path,
        build just that crate (to --out).
  kmod-check [PATH] [--allowlist PATH] [--exports PATH]
        Run the gates on both linked modules (or on PATH): ELF64 x86-64
        ET_REL with _init/_info/_fini; every undefined symbol in
        kernel/allowlist.txt (tun also: kernel/allowlist-tun.txt, each of
        which out/kernel/amd64/tuntap must define); no x87/MMX/SSE/AVX
        instruction; only relocations krtld applies (no GOT/TLS); no
        unwinding, no Rust std.  Prints text/rodata/data/bss sizes.
  kmod-all [--debug]
        kmod, then kmod-check on its output.
  check-illumos [CARGO ARGS...]
        Type-check every userland workspace crate for x86_64-unknown-illumos
        with -Zbuild-std (target dir target/illumos-check).
  package [--check-only] [--proto DIR]
        Assemble the proto area out/proto (the install tree as on an
        illumos host: kernel modules from `kmod`, tunctl, libdltun, the
        header, SMF manifests and methods, man pages, licence) and check
        the IPS manifests in manifests/ against it.  Without an illumos
        userland build, host builds stand in (listed in out/proto.stand-ins).
  help  This text.
";

fn take_value(args: &mut std::vec::IntoIter<String>, flag: &str) -> Result<String, String> {
    args.next()
        .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))
}

fn parse_kmod(args: Vec<String>) -> Result<kmod::KmodOptions, String> {
    let mut options = kmod::KmodOptions::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--debug" => options.debug = true,
            "--release" => options.debug = false,
            "--manifest-path" => options.manifest = PathBuf::from(take_value(&mut args, &arg)?),
            "--out" => options.output = PathBuf::from(take_value(&mut args, &arg)?),
            "--target-dir" => options.target_dir = PathBuf::from(take_value(&mut args, &arg)?),
            other => return Err(format!("kmod: unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    // The inner cargo runs in the crate's directory: make paths absolute.
    for path in [
        &mut options.manifest,
        &mut options.output,
        &mut options.target_dir,
    ] {
        *path = std::path::absolute(&*path)
            .map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
    }
    Ok(options)
}

/// Gates on one module.  `exports` lists symbols another module of ours
/// defines (kernel/allowlist-tun.txt), with the object that must define
/// them.
fn run_check(
    module: &std::path::Path,
    allowlist_path: &std::path::Path,
    exports: Option<(&std::path::Path, &std::path::Path)>,
) -> Result<(), String> {
    let mut allowlist = Allowlist::load(allowlist_path)?;
    let mut export_findings = Vec::new();
    if let Some((exports_path, exporter)) = exports {
        let exported = Allowlist::load_project_exports(exports_path)?;
        let undefined = kmod::undefined_names(module)?;
        let wanted = exported
            .entries()
            .map(|e| e.symbol.as_str())
            .filter(|s| undefined.iter().any(|u| u == s));
        let defined = kmod::defined_globals(exporter)?;
        for name in kmod::missing_exports(wanted, &defined) {
            export_findings.push(format!(
                "[undefined] {name} is allowed by {} but {} does not define it",
                exports_path.display(),
                exporter.display()
            ));
        }
        allowlist.merge(exported)?;
    }
    let report = gates::check_module(module, &allowlist)?;
    println!("kmod-check: {}", module.display());
    let sizes = report.sizes;
    println!(
        "  sizes: text {} B, rodata {} B, data {} B, bss {} B",
        sizes.text, sizes.rodata, sizes.data, sizes.bss
    );
    println!(
        "  undefined symbols: {} (all must be in {})",
        report.undefined.len(),
        allowlist_path.display()
    );
    match &report.depends_on {
        Some(deps) => println!("  _depends_on: {deps:?}"),
        None => println!(
            "  _depends_on: none (link with `ld -ztype=kmod -N...` on illumos, \
             or define it; see kernel/README.md)"
        ),
    }
    if report.passed() && export_findings.is_empty() {
        println!("  gates: format, entry, undefined, fpu, soft-float, relocations, probe-sites, unwinding, std: all passed");
        Ok(())
    } else {
        for finding in &report.findings {
            eprintln!("FAIL {finding}");
        }
        for finding in &export_findings {
            eprintln!("FAIL {finding}");
        }
        Err(format!(
            "{} gate finding(s) in {}",
            report.findings.len() + export_findings.len(),
            module.display()
        ))
    }
}

/// Gates on every module `kmod` builds.
fn check_all() -> Result<(), String> {
    let mut failed = Vec::new();
    let provider = paths::module_output();
    for module in kmod::modules() {
        if !module.output.exists() {
            return Err(format!(
                "{} does not exist; build it first with `cargo xtask kmod`",
                module.output.display()
            ));
        }
        let exports = module.extra_allowlists.first().map(|p| (p.as_path(), provider.as_path()));
        if let Err(e) = run_check(&module.output, &paths::allowlist(), exports) {
            eprintln!("xtask: {e}");
            failed.push(module.name);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("gates failed for: {}", failed.join(", ")))
    }
}

/// A `kmod-check` of one explicit module.
struct CheckOne {
    module: PathBuf,
    allowlist: PathBuf,
    exports: Option<PathBuf>,
}

/// `None`: no PATH given, check every module.
fn parse_check(args: Vec<String>) -> Result<Option<CheckOne>, String> {
    let mut module = None;
    let mut allowlist = paths::allowlist();
    let mut exports = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--allowlist" => allowlist = PathBuf::from(take_value(&mut args, &arg)?),
            "--exports" => exports = Some(PathBuf::from(take_value(&mut args, &arg)?)),
            other if other.starts_with('-') => {
                return Err(format!("kmod-check: unknown option {other:?}\n\n{USAGE}"));
            }
            other => module = Some(PathBuf::from(other)),
        }
    }
    let Some(module) = module else {
        return Ok(None);
    };
    if !module.exists() {
        return Err(format!(
            "{} does not exist; build it first with `cargo xtask kmod`",
            module.display()
        ));
    }
    Ok(Some(CheckOne { module, allowlist, exports }))
}

fn dispatch(mut args: Vec<String>) -> Result<(), String> {
    if args.is_empty() {
        return Err(USAGE.to_owned());
    }
    let command = args.remove(0);
    match command.as_str() {
        "kmod" => {
            let explicit = args.iter().any(|a| a == "--manifest-path" || a == "--out");
            let options = parse_kmod(args)?;
            if explicit {
                kmod::build(&options)
            } else {
                kmod::build_all(options.debug, &options.target_dir)
            }
        }
        "kmod-check" => match parse_check(args)? {
            None => check_all(),
            Some(one) => {
                let provider = paths::module_output();
                let exports = one.exports.as_deref().map(|e| (e, provider.as_path()));
                run_check(&one.module, &one.allowlist, exports)
            }
        },
        "kmod-all" => {
            let options = parse_kmod(args)?;
            kmod::build_all(options.debug, &options.target_dir)?;
            check_all()
        }
        "check-illumos" => illumos_check::check(&args),
        "package" => package::run(&args),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    }
}

fn main() -> ExitCode {
    match dispatch(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}
