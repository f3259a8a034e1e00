// SPDX-License-Identifier: MPL-2.0

//! Tests of the kmod-check gates (soft-float included) on small crafted
//! objects.
//!
//! Each object is compiled from xtask/testdata with the system `cc` at
//! test time, shaped like a kernel module with one deliberate defect; the
//! test checks that the right gate fails and that its message names the
//! offending symbol, instruction or relocation.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;

use xtask::allowlist::Allowlist;
use xtask::gates;
use xtask::gates::Gate;
use xtask::gates::Report;

/// Flags that make `cc` produce what a kernel module needs: no PIC (so no
/// GOT), kernel code model, no red zone, no SSE, no unwind tables.
const KERNEL_CFLAGS: &[&str] = &[
    "-O2",
    "-ffreestanding",
    "-fno-pic",
    "-fno-stack-protector",
    "-mcmodel=kernel",
    "-mno-red-zone",
    "-mno-sse",
    "-mno-mmx",
    "-fno-asynchronous-unwind-tables",
    "-fno-unwind-tables",
];

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// Compiles `source` with `flags` into a fresh object; returns its path.
fn compile(source: &str, flags: &[&str], tag: &str) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gate-objects");
    std::fs::create_dir_all(&out_dir).expect("create object dir");
    let object = out_dir.join(format!("{tag}.o"));
    let output = Command::new("cc")
        .args(flags)
        .arg("-c")
        .arg(testdata(source))
        .arg("-o")
        .arg(&object)
        .output()
        .expect("run cc (install build-essential)");
    assert!(
        output.status.success(),
        "cc failed on {source}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    object
}

fn repo_allowlist() -> Allowlist {
    Allowlist::load(&xtask::paths::allowlist()).expect("kernel/allowlist.txt parses")
}

fn check(object: &Path) -> Report {
    gates::check_module(object, &repo_allowlist()).expect("object readable")
}

fn messages(report: &Report, gate: Gate) -> Vec<String> {
    report.from_gate(gate).map(|f| f.message.clone()).collect()
}

/// Asserts that only `gate` failed and one of its messages contains
/// `needle`.
fn assert_fails_only(report: &Report, gate: Gate, needle: &str) {
    let other: Vec<_> = report.findings.iter().filter(|f| f.gate != gate).collect();
    assert!(
        other.is_empty(),
        "unexpected findings from other gates: {other:#?}"
    );
    let found = messages(report, gate);
    assert!(
        found.iter().any(|m| m.contains(needle)),
        "no {gate} finding mentions {needle:?}; findings: {found:#?}"
    );
}

#[test]
fn clean_object_passes_every_gate() {
    let object = compile("clean.c", KERNEL_CFLAGS, "clean");
    let report = check(&object);
    assert!(
        report.passed(),
        "clean object failed: {:#?}",
        report.findings
    );
    assert!(report.sizes.text > 0, "{:?}", report.sizes);
    assert_eq!(
        report.depends_on.as_deref(),
        Some("misc/mac misc/dls drv/dld drv/random")
    );
    assert_eq!(
        report.undefined,
        vec!["cmn_err", "mod_info", "mod_install", "mod_remove"]
    );
}

#[test]
fn unknown_kernel_function_is_named() {
    let object = compile("unknown_call.c", KERNEL_CFLAGS, "unknown_call");
    let report = check(&object);
    assert_fails_only(&report, Gate::Undefined, "tuntap_no_such_kernel_fn");
    assert_eq!(
        messages(&report, Gate::Undefined).len(),
        1,
        "mod_install is allowlisted"
    );
}

/// A symbol a supported release lacks (allowlist key `weak`) passes when
/// referenced weakly and is named when referenced strongly: krtld fails
/// the load on a missing non-weak symbol (kobj.c `do_symbols`).
#[test]
fn a_weak_only_symbol_must_be_referenced_weakly() {
    let weak = check(&compile("weak_witness.c", KERNEL_CFLAGS, "weak_witness"));
    assert!(weak.passed(), "weak reference refused: {:#?}", weak.findings);
    assert!(weak.undefined.iter().any(|s| s == "mac_getinfo"), "{:?}", weak.undefined);
    let mut flags = KERNEL_CFLAGS.to_vec();
    flags.push("-DSTRONG_WITNESS");
    let strong = check(&compile("weak_witness.c", &flags, "strong_witness"));
    assert_fails_only(&strong, Gate::Undefined, "mac_getinfo is referenced strongly");
    // Called (a PC-relative reference): where the symbol is missing krtld
    // skips the relocation and the rel32 stays 0 (kobj_reloc.c
    // do_relocate), so the call would land on the next instruction.
    let mut flags = KERNEL_CFLAGS.to_vec();
    flags.push("-DCALL_WITNESS");
    let called = check(&compile("weak_witness.c", &flags, "called_witness"));
    assert_fails_only(&called, Gate::Relocations, "against the weak symbol mac_getinfo");
}

#[test]
fn sse_floating_point_is_named() {
    let mut flags: Vec<&str> = KERNEL_CFLAGS
        .iter()
        .copied()
        .filter(|f| !f.starts_with("-mno-") && *f != "-O2")
        .collect();
    flags.extend(["-O0", "-msse2"]);
    let object = compile("float.c", &flags, "float");
    let report = check(&object);
    assert_fails_only(&report, Gate::Fpu, "%xmm");
    assert!(
        messages(&report, Gate::Fpu)
            .iter()
            .any(|m| m.contains("in _init")),
        "the function is named: {:#?}",
        report.findings
    );
}

#[test]
fn x87_instruction_is_named() {
    let object = compile("x87.s", &[], "x87");
    let report = check(&object);
    assert_fails_only(&report, Gate::Fpu, "`fld`");
    assert!(
        messages(&report, Gate::Fpu)
            .iter()
            .any(|m| m.contains("fstpl"))
    );
}

#[test]
fn got_relocation_is_named() {
    let object = compile("gotpcrel.s", &[], "gotpcrel");
    let report = check(&object);
    // GNU as may relax it to R_X86_64_REX_GOTPCRELX; either names the GOT.
    // The assembler also references _GLOBAL_OFFSET_TABLE_, which the
    // undefined-symbol gate explains.
    let found = messages(&report, Gate::Relocations);
    assert!(
        found.iter().any(|m| m.contains("GOTPCREL")),
        "{:#?}",
        report.findings
    );
    for finding in &report.findings {
        assert!(
            finding.gate == Gate::Relocations
                || (finding.gate == Gate::Undefined
                    && finding.message.contains("_GLOBAL_OFFSET_TABLE_")),
            "unexpected finding {finding}"
        );
    }
    assert!(
        messages(&report, Gate::Relocations)
            .iter()
            .any(|m| m.contains("mod_driverops")),
        "the symbol is named: {:#?}",
        report.findings
    );
}

#[test]
fn missing_init_is_named() {
    let object = compile("no_init.c", KERNEL_CFLAGS, "no_init");
    let report = check(&object);
    assert_fails_only(&report, Gate::EntryPoints, "_init is missing");
}

#[test]
fn eh_frame_is_rejected_and_stripped_by_the_link_step() {
    let mut flags: Vec<&str> = KERNEL_CFLAGS
        .iter()
        .copied()
        .filter(|f| !f.contains("unwind-tables"))
        .collect();
    flags.push("-fasynchronous-unwind-tables");
    let object = compile("clean.c", &flags, "eh_frame");
    let report = check(&object);
    assert_fails_only(&report, Gate::Unwinding, ".eh_frame");

    // The kmod link step removes it.
    xtask::kmod::strip_unwind_sections(&object).expect("objcopy");
    let report = check(&object);
    assert!(report.passed(), "after stripping: {:#?}", report.findings);
}

#[test]
fn non_elf_and_shared_objects_fail_the_format_gate() {
    let report = check(&testdata("clean.c"));
    assert_fails_only(&report, Gate::Format, "not an ELF file");

    let relocatable = compile("clean.c", &["-O2", "-fPIC"], "for_shared");
    let shared = relocatable.with_file_name("clean.so");
    let status = Command::new("cc")
        .args(["-shared", "-nostdlib", "-o"])
        .arg(&shared)
        .arg(&relocatable)
        .status()
        .expect("run cc -shared");
    assert!(status.success());
    let report = check(&shared);
    assert!(
        messages(&report, Gate::Format)
            .iter()
            .any(|m| m.contains("ET_DYN")),
        "{:#?}",
        report.findings
    );
}

#[test]
fn sdt_probe_calls_need_no_allowlist_entry() {
    let undefined = vec!["__dtrace_probe_tuntap__tx".to_owned(), "mystery".to_owned()];
    let found = gates::check_undefined(&undefined, &repo_allowlist());
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("mystery"));
}

/// The allowlist file itself: every entry has a symbol and an illumos-gate
/// header path under usr/src/, and the interfaces the driver is known to
/// need are present.
#[test]
fn allowlist_file_is_well_formed() {
    let path = xtask::paths::allowlist();
    let text = std::fs::read_to_string(&path).expect("read kernel/allowlist.txt");
    let list = match Allowlist::parse(&text) {
        Ok(list) => list,
        Err(errors) => panic!("malformed allowlist: {errors:#?}"),
    };
    for entry in list.entries() {
        assert!(entry.header.starts_with("usr/src/uts/"), "{entry:?}");
        assert!(entry.header.ends_with(".h"), "{entry:?}");
    }
    for needed in [
        "memcpy",
        "memset",
        "memmove",
        "memcmp",
        "bcmp",
        "strlen",
        "kmem_alloc",
        "kmem_free",
        "cmn_err",
        "panic",
        "mod_install",
        "mod_remove",
        "mod_info",
        "mod_driverops",
        "mac_register",
        "mac_unregister",
        "mac_init_ops",
        "mac_fini_ops",
        "mac_rx",
    ] {
        assert!(list.contains(needed), "{needed} missing from the allowlist");
    }
    // Every non-comment line is an entry (nothing silently skipped).
    let lines = text
        .lines()
        .filter(|l| !l.split('#').next().unwrap_or("").trim().is_empty())
        .count();
    assert_eq!(lines, list.len());
}

// ----- the soft-float gate -----

/// [`KERNEL_CFLAGS`] followed by `extra`.
fn kernel_flags<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    KERNEL_CFLAGS.iter().copied().chain(extra.iter().copied()).collect()
}

#[test]
fn linked_soft_float_call_is_named_with_its_caller() {
    let report = check(&compile("softfloat.c", &kernel_flags(&[]), "softfloat"));
    let found = messages(&report, Gate::SoftFloat);
    assert_eq!(
        found.len(),
        1,
        "only _init's call counts: __muldf3 is called only by __adddf3 and \
         __gtdf2 by nobody; {:#?}",
        report.findings
    );
    assert!(
        found[0].contains("floating point: `__adddf3` called from `_init`"),
        "{found:#?}"
    );
    let other: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.gate != Gate::SoftFloat)
        .collect();
    assert!(other.is_empty(), "the routines are defined: {other:#?}");
}

#[test]
fn undefined_soft_float_call_is_named() {
    let report = check(&compile(
        "softfloat.c",
        &kernel_flags(&["-DSOFTFLOAT_EXTERN"]),
        "softfloat_extern",
    ));
    assert!(
        messages(&report, Gate::SoftFloat)
            .iter()
            .any(|m| m.contains("`__adddf3` called from `_init`")),
        "{:#?}",
        report.findings
    );
    assert!(
        messages(&report, Gate::Undefined)
            .iter()
            .any(|m| m.contains("__adddf3")),
        "{:#?}",
        report.findings
    );
}

#[test]
fn clean_object_has_no_soft_float() {
    let report = check(&compile("clean.c", &kernel_flags(&[]), "clean_softfloat"));
    assert!(report.passed(), "{:#?}", report.findings);
}

#[test]
fn probe_sites_must_be_calls() {
    // Plants the bug the gate guards against: probes reached by a tail
    // jump and a conditional jump, beside a correct call.
    let object = compile("probe_sites.s", &[], "probe_sites");
    let report = check(&object);
    let found = messages(&report, Gate::ProbeSites);
    assert_eq!(found.len(), 2, "exactly the two jumps: {found:#?}");
    assert!(
        found.iter().any(|m| m.contains("__dtrace_probe_tuntap__link__destroy") && m.contains("tail jump")),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|m| m.contains("__dtrace_probe_tuntap__link__state") && m.contains("conditional jump")),
        "{found:#?}"
    );
    assert!(
        !found.iter().any(|m| m.contains("__dtrace_probe_tuntap__drop")),
        "the call site is fine: {found:#?}"
    );
}
