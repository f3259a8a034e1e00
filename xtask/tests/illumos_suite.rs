// SPDX-License-Identifier: MPL-2.0
//! Host-side checks of `tests/illumos`, the acceptance suite that only a
//! real illumos host can run: every script passes shellcheck for the
//! shell it declares and parses in the shells at hand (dash, bash in POSIX
//! mode, ksh93 when installed: illumos' /bin/sh), the runner picks up
//! every `t/NN-name.sh` and each has one description line and a `t_main`,
//! and the harness itself (TAP lines, `-k`, filters, skips, cleanup order,
//! exit status, the prerequisite report) behaves as documented, driven
//! with stand-in tests through `TUNTAP_SUITE_SELFTEST=1`.  Each check also
//! runs on a broken input to show it bites.
//!
//! Needs shellcheck (`apt-get install shellcheck`) and dash; ksh is used
//! when installed (`apt-get install ksh`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|repo| repo.join("tests/illumos"))
        .expect("xtask lives in the repository")
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tuntap-illumos-suite-{what}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch directory");
        Scratch(dir)
    }

    fn write(&self, name: &str, body: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, body).expect("write scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

fn require(tool: &str, package: &str) {
    assert!(have(tool), "{tool} is not installed: apt-get install {package}");
}

/// The suite's scripts: run.sh, lib.sh and every file under t/.
fn suite_scripts() -> Vec<PathBuf> {
    let dir = suite_dir();
    let mut scripts = vec![dir.join("run.sh"), dir.join("lib.sh")];
    scripts.extend(test_files(&dir.join("t")));
    scripts
}

/// Every regular file in `dir`, sorted.
fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// The shell a script declares: its `#!` line, or for a sourced file a
/// `# shellcheck shell=NAME` directive in its first lines.
fn declared_shell(script: &Path) -> Result<&'static str, String> {
    let body = fs::read_to_string(script).map_err(|e| format!("{}: {e}", script.display()))?;
    let first = body.lines().next().unwrap_or_default();
    let name = if let Some(interp) = first.strip_prefix("#!") {
        interp.split_whitespace().next().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_string()
    } else if let Some(line) = body.lines().take(5).find_map(|l| l.strip_prefix("# shellcheck shell=")) {
        line.trim().to_string()
    } else {
        return Err(format!("{} declares no shell (no #! line, no '# shellcheck shell=' directive)", script.display()));
    };
    match name.as_str() {
        "sh" => Ok("sh"),
        "ksh" | "ksh93" => Ok("ksh"),
        "bash" => Ok("bash"),
        other => Err(format!("{}: unknown shell '{other}'", script.display())),
    }
}

fn shellcheck(script: &Path) -> Output {
    let dialect = declared_shell(script).unwrap_or_else(|e| panic!("{e}"));
    Command::new("shellcheck")
        .args(["-s", dialect, "-S", "style", "-x"])
        .arg(script)
        .current_dir(suite_dir())
        .output()
        .expect("run shellcheck")
}

#[test]
fn every_suite_script_passes_shellcheck_for_its_declared_shell() {
    require("shellcheck", "shellcheck");
    let scripts = suite_scripts();
    assert!(scripts.len() >= 10, "expected run.sh, lib.sh and the tests: {scripts:?}");
    let mut problems = Vec::new();
    for script in &scripts {
        let out = shellcheck(script);
        if !out.status.success() {
            problems.push(format!("shellcheck {}:\n{}", script.display(), text(&out)));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn shellcheck_rejects_a_broken_test_file() {
    require("shellcheck", "shellcheck");
    let scratch = Scratch::new("shellcheck");
    let bad = scratch.write(
        "99-bad.sh",
        "# shellcheck shell=sh\n# SPDX-License-Identifier: MPL-2.0\n# describe: bad\nt_main() {\n\trm -rf $WORK/*\n\t[[ -n $x ]] && echo ok\n}\n",
    );
    let out = shellcheck(&bad);
    assert!(!out.status.success(), "shellcheck accepted a broken file:\n{}", text(&out));
    let report = text(&out);
    assert!(report.contains("SC2086") || report.contains("SC3010"), "{report}");
}

#[test]
fn a_script_without_a_declared_shell_is_reported() {
    let scratch = Scratch::new("noshell");
    let file = scratch.write("01-x.sh", "# describe: x\nt_main() { :; }\n");
    let err = declared_shell(&file).expect_err("no shell declared");
    assert!(err.contains("declares no shell"), "{err}");
    let file = scratch.write("02-x.sh", "#!/usr/bin/fish\n");
    assert!(declared_shell(&file).expect_err("fish").contains("unknown shell 'fish'"));
}

/// `SHELL -n FILE` for every suite script whose declared shell is POSIX sh
/// or ksh; returns the failures.
fn syntax_failures(shell: &str, args: &[&str]) -> Vec<String> {
    let mut failures = Vec::new();
    for script in suite_scripts() {
        let declared = declared_shell(&script).unwrap_or_else(|e| panic!("{e}"));
        if declared == "bash" || (declared == "ksh" && shell != "ksh") {
            continue;
        }
        let out = Command::new(shell).args(args).arg("-n").arg(&script).output().expect("run shell");
        if !out.status.success() {
            failures.push(format!("{shell} -n {}: {}", script.display(), text(&out)));
        }
    }
    failures
}

#[test]
fn every_suite_script_parses_in_dash_posix_bash_and_ksh93() {
    require("dash", "dash");
    let mut failures = syntax_failures("dash", &[]);
    failures.extend(syntax_failures("bash", &["--posix"]));
    if have("ksh") {
        failures.extend(syntax_failures("ksh", &[]));
    } else {
        eprintln!("note: ksh is not installed (apt-get install ksh): the ksh93 syntax check did not run");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_syntax_error_is_caught_by_sh_n() {
    require("dash", "dash");
    let scratch = Scratch::new("syntax");
    let bad = scratch.write("01-bad.sh", "# shellcheck shell=sh\nt_main() {\n\tif true; then\n\t\t:\n}\n");
    let out = Command::new("dash").arg("-n").arg(&bad).output().expect("run dash");
    assert!(!out.status.success(), "dash -n accepted an unterminated if");
}

// ===== the runner sees every test =====

/// Problems with the test files in `dir`: names outside `NN-name.sh`
/// (the runner would ignore them), a missing or repeated description, no
/// `t_main`, no SPDX line.
fn test_dir_problems(dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for file in test_files(dir) {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let bytes = name.as_bytes();
        let well_named = name.ends_with(".sh")
            && bytes.len() > 6
            && bytes[0].is_ascii_digit()
            && bytes[1].is_ascii_digit()
            && bytes[2] == b'-';
        if !well_named {
            problems.push(format!("{name}: not named NN-name.sh, so run.sh would never run it"));
            continue;
        }
        let body = fs::read_to_string(&file).expect("read test file");
        let descriptions: Vec<&str> =
            body.lines().filter_map(|l| l.strip_prefix("# describe:")).map(str::trim).collect();
        match descriptions.as_slice() {
            [one] if !one.is_empty() => {}
            [] => problems.push(format!("{name}: no '# describe:' line")),
            [_] => problems.push(format!("{name}: empty '# describe:' line")),
            _ => problems.push(format!("{name}: {} '# describe:' lines", descriptions.len())),
        }
        if !body.lines().any(|l| l.starts_with("t_main() {")) {
            problems.push(format!("{name}: defines no t_main function"));
        }
        if !body.lines().take(5).any(|l| l.contains("SPDX-License-Identifier: MPL-2.0")) {
            problems.push(format!("{name}: no SPDX line in its first 5 lines"));
        }
    }
    problems
}

fn run_suite(shell: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(shell);
    cmd.arg(suite_dir().join("run.sh")).args(args).env_remove("TUNTAP_SUITE_SELFTEST");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run run.sh")
}

#[test]
fn every_test_file_is_well_formed_and_listed_by_the_runner() {
    let t_dir = suite_dir().join("t");
    let problems = test_dir_problems(&t_dir);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let out = run_suite("sh", &["--list"], &[]);
    assert!(out.status.success(), "run.sh --list failed:\n{}", text(&out));
    let listed: BTreeSet<String> = stdout(&out)
        .lines()
        .map(|l| {
            let (name, what) = l.split_once(": ").unwrap_or_else(|| panic!("list line without description: {l}"));
            assert!(!what.trim().is_empty(), "{name} is listed without a description");
            name.to_string()
        })
        .collect();
    let files: BTreeSet<String> = test_files(&t_dir)
        .iter()
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect();
    assert_eq!(listed, files, "run.sh --list and the files in {} differ", t_dir.display());
    // The areas the suite must cover.
    for area in ["install", "links", "linkprop", "flowadm", "ip-traffic", "zone", "openvpn", "stale-cleanup", "smf", "unload", "package"] {
        assert!(files.iter().any(|f| f.ends_with(area)), "no test for {area}: {files:?}");
    }
}

#[test]
fn malformed_test_files_are_reported() {
    let scratch = Scratch::new("malformed");
    scratch.write("01-ok.sh", "# shellcheck shell=sh\n# SPDX-License-Identifier: MPL-2.0\n# describe: fine\nt_main() {\n\t:\n}\n");
    scratch.write("02-nodesc.sh", "# SPDX-License-Identifier: MPL-2.0\nt_main() {\n\t:\n}\n");
    scratch.write("03-twice.sh", "# SPDX-License-Identifier: MPL-2.0\n# describe: a\n# describe: b\nt_main() {\n\t:\n}\n");
    scratch.write("04-nomain.sh", "# SPDX-License-Identifier: MPL-2.0\n# describe: x\n");
    scratch.write("misnamed.sh", "# describe: x\n");
    scratch.write("05-nospdx.sh", "# describe: x\nt_main() {\n\t:\n}\n");
    let problems = test_dir_problems(&scratch.0).join("\n");
    for expected in [
        "02-nodesc.sh: no '# describe:' line",
        "03-twice.sh: 2 '# describe:' lines",
        "04-nomain.sh: defines no t_main",
        "misnamed.sh: not named NN-name.sh",
        "05-nospdx.sh: no SPDX line",
    ] {
        assert!(problems.contains(expected), "missing '{expected}' in:\n{problems}");
    }
    assert!(!problems.contains("01-ok.sh"), "{problems}");
}

// ===== the harness, with stand-in tests =====

/// A directory of stand-in tests: 01 passes (two cleanups), 02 fails (a
/// cleanup that must still run), 03 skips, 04 passes.
fn stand_in_tests() -> Scratch {
    let scratch = Scratch::new("standin");
    scratch.write(
        "01-pass.sh",
        "# describe: passes\nt_main() {\n\ton_exit \"echo first >>$SUITE_WORK/../order\"\n\ton_exit \"echo second >>$SUITE_WORK/../order\"\n\tmust true\n}\n",
    );
    scratch.write(
        "02-fail.sh",
        "# describe: fails\nt_main() {\n\ton_exit \"echo cleaned >>$SUITE_WORK/../failed-cleanup\"\n\texpect_eq apples pears \"fruit\"\n\techo not reached >>\"$SUITE_WORK/../after-fail\"\n}\n",
    );
    scratch.write("03-skip.sh", "# describe: skips\nt_main() {\n\tskip \"no zone here\"\n}\n");
    scratch.write("04-last.sh", "# describe: runs last\nt_main() {\n\tmust_fail false\n}\n");
    scratch
}

fn self_test(shell: &str, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(shell);
    cmd.arg(suite_dir().join("run.sh"))
        .args(args)
        .env("TUNTAP_SUITE_SELFTEST", "1")
        .env("TUNTAP_TEST_T_DIR", dir)
        .env("TMPDIR", dir);
    cmd.output().expect("run run.sh")
}

fn shells() -> Vec<&'static str> {
    let mut shells = vec!["dash"];
    if have("ksh") {
        shells.push("ksh");
    }
    shells
}

#[test]
fn the_harness_stops_at_the_first_failure_and_still_cleans_up() {
    require("dash", "dash");
    for shell in shells() {
        let tests = stand_in_tests();
        let out = self_test(shell, &tests.0, &[]);
        let tap = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{shell}: exit status is the failure count:\n{tap}");
        assert!(tap.starts_with("1..4\n"), "{shell}: plan line:\n{tap}");
        assert!(tap.contains("ok 1 - 01-pass: passes\n"), "{shell}:\n{tap}");
        assert!(tap.contains("not ok 2 - 02-fail: fails (exit status 1)\n"), "{shell}:\n{tap}");
        assert!(tap.contains("#   FAIL: fruit: got 'apples', expected 'pears'"), "{shell}: the failure's log:\n{tap}");
        assert!(tap.contains("Bail out! stopped after the first failure; 2 test(s) not run"), "{shell}:\n{tap}");
        assert!(!tap.contains("03-skip"), "{shell}: ran past the failure:\n{tap}");
        let order = fs::read_to_string(tests.0.join("order")).expect("01's cleanups ran");
        assert_eq!(order, "second\nfirst\n", "{shell}: cleanups run newest first");
        let cleaned = fs::read_to_string(tests.0.join("failed-cleanup")).expect("02's cleanup ran");
        assert_eq!(cleaned, "cleaned\n", "{shell}");
        assert!(!tests.0.join("after-fail").exists(), "{shell}: a failed check did not stop the test");
    }
}

#[test]
fn keep_going_runs_everything_and_reports_skips() {
    require("dash", "dash");
    for shell in shells() {
        let tests = stand_in_tests();
        let out = self_test(shell, &tests.0, &["-k"]);
        let tap = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{shell}:\n{tap}");
        assert!(tap.contains("ok 3 - 03-skip: skips # SKIP no zone here\n"), "{shell}:\n{tap}");
        assert!(tap.contains("ok 4 - 04-last: runs last\n"), "{shell}:\n{tap}");
        assert!(tap.contains("# 4 of 4 test(s) run, 1 failed"), "{shell}:\n{tap}");
        assert!(!tap.contains("Bail out!"), "{shell}:\n{tap}");
    }
}

#[test]
fn filters_select_tests_by_name() {
    require("dash", "dash");
    let tests = stand_in_tests();
    let out = self_test("dash", &tests.0, &["skip", "last"]);
    let tap = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{tap}");
    assert!(tap.starts_with("1..2\n"), "{tap}");
    assert!(tap.contains("ok 1 - 03-skip") && tap.contains("ok 2 - 04-last"), "{tap}");

    let out = self_test("dash", &tests.0, &["--list", "pass"]);
    assert_eq!(stdout(&out), "01-pass: passes\n");

    // Bad input: a filter that matches nothing, an unknown option.
    let out = self_test("dash", &tests.0, &["nothing-matches"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(stdout(&out).contains("Bail out! no test matches the filter(s) nothing-matches"), "{}", text(&out));
    let out = self_test("dash", &tests.0, &["--frobnicate"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(stdout(&out).contains("Bail out! unknown option '--frobnicate'"), "{}", text(&out));
}

#[test]
fn the_exit_status_counts_failures_up_to_125() {
    require("dash", "dash");
    let scratch = Scratch::new("many");
    for n in 0..3 {
        scratch.write(&format!("{n:02}-fail.sh"), "# describe: fails\nt_main() {\n\tfail nope\n}\n");
    }
    let out = self_test("dash", &scratch.0, &["-k"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    let scratch = Scratch::new("toomany");
    for n in 0..127 {
        // Names need two leading digits: 00..99, then a0..
        let name = if n < 100 { format!("{n:02}-fail.sh") } else { format!("{:02}-fail{n}.sh", n - 100) };
        scratch.write(&name, "# describe: fails\nt_main() {\n\texit 1\n}\n");
    }
    let out = self_test("dash", &scratch.0, &["-k"]);
    assert!(stdout(&out).contains("127 of 127 test(s) run, 127 failed"), "{}", text(&out));
    assert_eq!(out.status.code(), Some(125), "capped at 125");
}

#[test]
fn a_test_without_t_main_fails() {
    require("dash", "dash");
    let scratch = Scratch::new("nomain");
    scratch.write("01-nomain.sh", "# describe: forgot t_main\n");
    let out = self_test("dash", &scratch.0, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stdout(&out).contains("defines no t_main function"), "{}", text(&out));
}

#[test]
fn without_illumos_the_suite_explains_what_is_missing() {
    // This host is not illumos: the real run must refuse, list the
    // reasons, and run no test.
    let out = run_suite("sh", &[], &[("TUNCTL", "/nonexistent/tunctl"), ("TUNTAP_KMOD_DIR", "/nonexistent/kernel")]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(report.contains("Bail out! prerequisites missing"), "{report}");
    assert!(report.contains("not illumos: uname -s says"), "{report}");
    assert!(report.contains("commands not found in PATH"), "{report}");
    assert!(report.contains("dladm"), "{report}");
    assert!(report.contains("/nonexistent/kernel needs amd64/tuntap"), "{report}");
    assert!(report.contains("TUNCTL=/nonexistent/tunctl is not an executable file"), "{report}");
    assert!(!report.contains("1.."), "a test plan was printed although nothing can run:\n{report}");
}

#[test]
fn the_readme_documents_every_test_and_variable() {
    let readme = fs::read_to_string(suite_dir().join("README.md")).expect("tests/illumos/README.md");
    for file in test_files(&suite_dir().join("t")) {
        let stem = file.file_stem().and_then(|s| s.to_str()).expect("file name").to_string();
        assert!(readme.contains(&stem), "README.md does not describe {stem}");
    }
    let lib = fs::read_to_string(suite_dir().join("lib.sh")).expect("lib.sh");
    let run = fs::read_to_string(suite_dir().join("run.sh")).expect("run.sh");
    let mut variables = BTreeSet::new();
    for body in [lib.as_str(), run.as_str()] {
        for word in body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if (word.starts_with("TUNTAP_") || ["TUNCTL", "TUNNELD", "OPENVPN"].contains(&word)) && word.len() > 6 {
                variables.insert(word.to_string());
            }
        }
    }
    for t in test_files(&suite_dir().join("t")) {
        let body = fs::read_to_string(&t).expect("test file");
        for word in body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("TUNTAP_TEST_") {
                variables.insert(word.to_string());
            }
        }
    }
    let undocumented: Vec<&String> = variables.iter().filter(|v| !readme.contains(v.as_str())).collect();
    assert!(undocumented.is_empty(), "README.md does not document {undocumented:?}");
}
