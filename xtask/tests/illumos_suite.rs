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

mod suite_common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use suite_common::{have, require, shells, stdout, suite_dir, suite_scripts, text, Scratch};

/// Every regular file in `dir`, sorted (a misnamed test file included).
fn test_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<std::path::PathBuf> = fs::read_dir(dir)
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
    assert!(scripts.len() >= 20, "expected run.sh, ci.sh, lib.sh, lib/ and the tests: {scripts:?}");
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
    for area in [
        "install",
        "links",
        "linkprop",
        "flowadm",
        "unprivileged",
        "ip-traffic",
        "stats-jumbo",
        "zone",
        "openvpn",
        "openvpn-zone",
        "stale-cleanup",
        "smf",
        "smf-instances",
        "reboot",
        "unload",
        "unload-busy",
        "package",
        "pkg-lifecycle",
        "kmem-leaks",
    ] {
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
    self_test_in(shell, dir, args, &dir.join("state"))
}

/// The harness on stand-in tests in `dir`, with its reboot markers in
/// `state`.
fn self_test_in(shell: &str, dir: &Path, args: &[&str], state: &Path) -> Output {
    let mut cmd = Command::new(shell);
    cmd.arg(suite_dir().join("run.sh"))
        .args(args)
        .env("TUNTAP_SUITE_SELFTEST", "1")
        .env("TUNTAP_TEST_T_DIR", dir)
        .env("TUNTAP_TEST_STATE_DIR", state)
        .env("TMPDIR", dir);
    cmd.output().expect("run run.sh")
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
    let mut bodies = Vec::new();
    for script in suite_scripts() {
        if !script.starts_with(suite_dir().join("t")) {
            bodies.push(fs::read_to_string(&script).expect("suite script"));
        }
    }
    let mut variables = BTreeSet::new();
    for body in &bodies {
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

// ===== strict mode and the reboot phases =====

#[test]
fn strict_mode_fails_a_skipped_test() {
    require("dash", "dash");
    let tests = stand_in_tests();
    let out = self_test("dash", &tests.0, &["-s", "skip", "last"]);
    let tap = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{tap}");
    assert!(tap.contains("not ok 1 - 03-skip: skips (skipped, and -s allows no skip: no zone here)"), "{tap}");
    assert!(tap.contains("#   SKIP: no zone here"), "the skipped test's log is shown:\n{tap}");
    assert!(tap.contains("Bail out! stopped after the first failure"), "{tap}");
    // Without -s the same skip passes: the difference is the flag.
    let out = self_test("dash", &tests.0, &["skip", "last"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A stand-in test with two phases: phase 1 records a value and asks for
/// a reboot; phase 2 checks it.  Its cleanup proves it keeps what must
/// survive the reboot.
fn reboot_tests() -> Scratch {
    let scratch = Scratch::new("reboot");
    scratch.write(
        "10-reboot.sh",
        "# describe: spans a reboot\nt_main() {\n\tif resuming; then\n\t\texpect_rebooted\n\t\texpect_eq \"$(state_get value)\" kept \"the value from phase 1\"\n\t\techo phase2 >>\"$SUITE_WORK/../phases\"\n\t\treturn 0\n\tfi\n\ton_exit_unless_reboot \"echo undone >>$SUITE_WORK/../phases\"\n\tstate_put value kept\n\techo phase1 >>\"$SUITE_WORK/../phases\"\n\trequest_reboot \"the stand-in needs it\"\n}\n",
    );
    scratch.write("20-plain.sh", "# describe: no reboot\nt_main() {\n\tmust true\n}\n");
    scratch
}

#[test]
fn a_test_can_ask_for_a_reboot_and_resume_after_it() {
    require("dash", "dash");
    for shell in shells() {
        let tests = reboot_tests();
        let state = tests.0.join("state");
        // boot_time reads kstat, which Linux lacks: a stand-in prints a
        // boot time that changes between the two runs, as a reboot would.
        let bin = tests.0.join("bin");
        fs::create_dir_all(&bin).expect("bin");
        let kstat = bin.join("kstat");
        fs::write(&kstat, format!("#!/bin/sh\nprintf 'unix:0:system_misc:boot_time\\t%s\\n' \"$(cat '{}/boot')\"\n", tests.0.display())).expect("kstat");
        Command::new("chmod").arg("+x").arg(&kstat).status().expect("chmod");
        fs::write(tests.0.join("boot"), "1000\n").expect("boot");
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let run = |args: &[&str]| {
            Command::new(shell)
                .arg(suite_dir().join("run.sh"))
                .args(args)
                .env("TUNTAP_SUITE_SELFTEST", "1")
                .env("TUNTAP_TEST_T_DIR", &tests.0)
                .env("TUNTAP_TEST_STATE_DIR", &state)
                .env("TMPDIR", &tests.0)
                .env("PATH", &path)
                .output()
                .expect("run run.sh")
        };
        let out = run(&["-s"]);
        let tap = stdout(&out);
        assert_eq!(out.status.code(), Some(100), "{shell}: a pending reboot exits 100:\n{}", text(&out));
        assert!(tap.contains("ok 1 - 10-reboot: spans a reboot # reboot pending: the stand-in needs it\n"), "{shell}:\n{tap}");
        assert!(tap.contains("ok 2 - 20-plain: no reboot\n"), "{shell}: the other tests still run:\n{tap}");
        assert!(tap.contains("--resume"), "{shell}: says how to go on:\n{tap}");
        assert_eq!(fs::read_to_string(tests.0.join("phases")).expect("phases"), "phase1\n", "{shell}: phase 1 kept its setup");

        // A new run before the reboot is refused: the marker waits.
        let out = run(&[]);
        assert_eq!(out.status.code(), Some(125), "{shell}: {}", text(&out));
        assert!(stdout(&out).contains("Bail out! 10-reboot waits for a reboot"), "{shell}: {}", text(&out));

        // Resumed without a reboot: phase 2 must refuse.
        let out = run(&["--resume"]);
        assert_eq!(out.status.code(), Some(1), "{shell}: no reboot happened:\n{}", text(&out));
        assert!(stdout(&out).contains("the host was not rebooted since phase 1"), "{shell}:\n{}", text(&out));

        // Again from the start, this time with a reboot in between.
        let out = run(&[]);
        assert_eq!(out.status.code(), Some(100), "{shell}: {}", text(&out));
        fs::write(tests.0.join("boot"), "2000\n").expect("boot");
        let out = run(&["--resume"]);
        let tap = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{shell}:\n{}", text(&out));
        assert!(tap.starts_with("1..1\n"), "{shell}: only the test that asked runs again:\n{tap}");
        assert!(tap.contains("ok 1 - 10-reboot: spans a reboot\n"), "{shell}:\n{tap}");
        assert_eq!(
            fs::read_to_string(tests.0.join("phases")).expect("phases"),
            "phase1\nphase1\nphase2\n",
            "{shell}: phase 1 twice (the second after the refused resume), then phase 2; its setup was never undone"
        );

        // Nothing waits any more.
        let out = run(&["--resume"]);
        assert_eq!(out.status.code(), Some(125), "{shell}: {}", text(&out));
        assert!(stdout(&out).contains("--resume: no test waits for a reboot"), "{shell}: {}", text(&out));
        let out = run(&["--resume", "10-reboot"]);
        assert_eq!(out.status.code(), Some(125), "{shell}: {}", text(&out));
        assert!(stdout(&out).contains("--resume takes no filter"), "{shell}: {}", text(&out));
    }
}
