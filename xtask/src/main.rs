// SPDX-License-Identifier: MPL-2.0

//! `cargo xtask <command>`: see `cargo xtask help`.

use std::path::PathBuf;
use std::process::ExitCode;

use xtask::allowlist::Allowlist;
use xtask::gates;
use xtask::illumos_check;
use xtask::kmod;
use xtask::paths;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  kmod [--debug] [--manifest-path PATH] [--out PATH]
        Build the kernel module (tuntap-drv/kmod) with Debian's rustc-web and
        -Zbuild-std=core,alloc, then link it with `ld -r` into
        out/kernel/amd64/tuntap (tuntap.conf goes to out/kernel/).
  kmod-check [PATH] [--allowlist PATH]
        Run the gates on a linked module (default out/kernel/amd64/tuntap):
        ELF64 x86-64 ET_REL with _init/_info/_fini; every undefined symbol
        in kernel/allowlist.txt; no x87/MMX/SSE/AVX instruction; only
        relocations krtld applies (no GOT/TLS); no unwinding, no Rust std.
        Prints text/rodata/data/bss sizes.
  kmod-all [--debug]
        kmod, then kmod-check on its output.
  check-illumos [CARGO ARGS...]
        Type-check every userland workspace crate for x86_64-unknown-illumos
        with -Zbuild-std (target dir target/illumos-check).
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

fn run_check(module: &std::path::Path, allowlist_path: &std::path::Path) -> Result<(), String> {
    let allowlist = Allowlist::load(allowlist_path)?;
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
    if report.passed() {
        println!("  gates: format, entry, undefined, fpu, soft-float, relocations, unwinding, std: all passed");
        Ok(())
    } else {
        for finding in &report.findings {
            eprintln!("FAIL {finding}");
        }
        Err(format!(
            "{} gate finding(s) in {}",
            report.findings.len(),
            module.display()
        ))
    }
}

fn parse_check(args: Vec<String>) -> Result<(PathBuf, PathBuf), String> {
    let mut module = paths::module_output();
    let mut allowlist = paths::allowlist();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--allowlist" => allowlist = PathBuf::from(take_value(&mut args, &arg)?),
            other if other.starts_with('-') => {
                return Err(format!("kmod-check: unknown option {other:?}\n\n{USAGE}"));
            }
            other => module = PathBuf::from(other),
        }
    }
    if !module.exists() {
        return Err(format!(
            "{} does not exist; build it first with `cargo xtask kmod`",
            module.display()
        ));
    }
    Ok((module, allowlist))
}

fn dispatch(mut args: Vec<String>) -> Result<(), String> {
    if args.is_empty() {
        return Err(USAGE.to_owned());
    }
    let command = args.remove(0);
    match command.as_str() {
        "kmod" => kmod::build(&parse_kmod(args)?),
        "kmod-check" => {
            let (module, allowlist) = parse_check(args)?;
            run_check(&module, &allowlist)
        }
        "kmod-all" => {
            let options = parse_kmod(args)?;
            kmod::build(&options)?;
            run_check(&options.output, &paths::allowlist())
        }
        "check-illumos" => illumos_check::check(&args),
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
