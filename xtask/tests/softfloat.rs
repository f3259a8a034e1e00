// SPDX-License-Identifier: MPL-2.0

//! Tests of the soft-float gate on crafted objects (xtask/testdata/softfloat.c
//! and clean.c), compiled with the system `cc` at test time.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;

use xtask::allowlist::Allowlist;
use xtask::gates;
use xtask::gates::Gate;
use xtask::gates::Report;

/// The same kernel-module flags as tests/gates.rs.
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

fn compile(source: &str, extra: &[&str], tag: &str) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("softfloat-objects");
    std::fs::create_dir_all(&out_dir).expect("create object dir");
    let object = out_dir.join(format!("{tag}.o"));
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(source);
    let output = Command::new("cc")
        .args(KERNEL_CFLAGS)
        .args(extra)
        .arg("-c")
        .arg(&source)
        .arg("-o")
        .arg(&object)
        .output()
        .expect("run cc (install build-essential)");
    assert!(
        output.status.success(),
        "cc failed on {}: {}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    object
}

fn check(object: &Path) -> Report {
    let allowlist =
        Allowlist::load(&xtask::paths::allowlist()).expect("kernel/allowlist.txt parses");
    gates::check_module(object, &allowlist).expect("object readable")
}

fn messages(report: &Report, gate: Gate) -> Vec<String> {
    report.from_gate(gate).map(|f| f.message.clone()).collect()
}

#[test]
fn linked_soft_float_call_is_named_with_its_caller() {
    let report = check(&compile("softfloat.c", &[], "softfloat"));
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
        &["-DSOFTFLOAT_EXTERN"],
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
    let report = check(&compile("clean.c", &[], "clean_softfloat"));
    assert!(report.passed(), "{:#?}", report.findings);
}
