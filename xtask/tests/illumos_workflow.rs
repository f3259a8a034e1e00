// SPDX-License-Identifier: MPL-2.0
//! The hosted-VM CI job for the real-host suite,
//! `.github/workflows/illumos.yml`, cannot run here.  This checks what
//! can be checked: the file is valid YAML (python3's yaml module), it
//! boots an illumos VM (a vmactions OmniOS or OpenIndiana action), and
//! its steps run `tests/illumos/ci.sh` setup, build, run, a reboot and
//! resume, in that order, without a filter; `ci.sh` runs `run.sh -s`
//! (every test, a skip fails) and sets every variable without which a
//! test would skip.  Each rule is shown to bite on a broken copy.
//!
//! Needs python3 with yaml (`apt-get install python3-yaml`).

mod suite_common;

use std::fs;
use std::path::Path;
use std::process::Command;

use suite_common::{repo_root, suite_dir, text, Scratch};

/// Flattens a workflow with python3's yaml parser into lines this file
/// reads: `KEYS k1,k2`, `JOB id`, `STEP job n uses`, `RUN job n` followed
/// by `| line` for the step's `run` (and the action's `with.run`).
const FLATTEN: &str = r#"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
if not isinstance(doc, dict):
    sys.exit("not a mapping at the top")
# YAML 1.1 reads the key `on` as true.
print("KEYS " + ",".join("on" if k is True else str(k) for k in doc))
for job, body in (doc.get("jobs") or {}).items():
    print("JOB " + str(job))
    for n, step in enumerate(body.get("steps") or []):
        print("STEP %s %d %s" % (job, n, step.get("uses", "")))
        runs = [step.get("run") or ""]
        if isinstance(step.get("with"), dict):
            runs.append(step["with"].get("run") or "")
        print("RUN %s %d" % (job, n))
        for run in runs:
            for line in str(run).splitlines():
                print("| " + line)
"#;

fn flatten(workflow: &Path) -> Result<String, String> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(FLATTEN)
        .arg(workflow)
        .output()
        .map_err(|e| format!("cannot run python3 (apt-get install python3 python3-yaml): {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{} does not parse as YAML: {}", workflow.display(), text(&out)))
    }
}

/// The problems of a workflow (flattened), `ci.sh` and the suite's
/// README: empty when the job runs every test of the suite.
fn workflow_problems(flat: &str, ci: &str, readme: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let keys = flat.lines().find_map(|l| l.strip_prefix("KEYS ")).unwrap_or_default();
    for key in ["name", "on", "jobs"] {
        if !keys.split(',').any(|k| k == key) {
            problems.push(format!("the workflow has no top-level `{key}`"));
        }
    }
    // The job that boots an illumos VM, and its commands in order.
    let mut vm_job = None;
    for line in flat.lines() {
        if let Some(rest) = line.strip_prefix("STEP ") {
            let mut words = rest.splitn(3, ' ');
            let (job, _, uses) = (words.next(), words.next(), words.next().unwrap_or_default());
            if uses.starts_with("vmactions/omnios-vm@") || uses.starts_with("vmactions/openindiana-vm@") {
                vm_job = job.map(str::to_string);
            }
        }
    }
    let Some(vm_job) = vm_job else {
        problems.push("no step uses an illumos VM action (vmactions/omnios-vm or vmactions/openindiana-vm)".to_string());
        return problems;
    };
    let mut commands = Vec::new();
    let mut in_job = false;
    for line in flat.lines() {
        if let Some(rest) = line.strip_prefix("RUN ") {
            in_job = rest.split(' ').next() == Some(vm_job.as_str());
        } else if let Some(cmd) = line.strip_prefix("| ") {
            if in_job {
                commands.push(cmd.trim().to_string());
            }
        } else if line.starts_with("JOB ") {
            in_job = false;
        }
    }
    // Each phase, in order; the reboot as a command (run in the VM over
    // ssh, or directly), not a word in a message.
    let mut position = 0;
    for (what, matches) in [
        ("ci.sh setup", &(|c: &str| c.contains("ci.sh setup")) as &dyn Fn(&str) -> bool),
        ("ci.sh build", &|c: &str| c.contains("ci.sh build")),
        ("ci.sh run", &|c: &str| c.contains("ci.sh run")),
        ("a reboot of the VM", &|c: &str| {
            c.starts_with("reboot") || c.contains("init 6") || (c.starts_with("ssh ") && c.contains("reboot"))
        }),
        ("ci.sh resume", &|c: &str| c.contains("ci.sh resume")),
    ] {
        match commands[position..].iter().position(|c| matches(c)) {
            Some(i) => position += i + 1,
            None => problems.push(format!("job {vm_job} does not run {what} after the steps before it")),
        }
    }
    // No filter: `ci.sh run` / `resume` with nothing after them, and no
    // direct run.sh call with arguments that could select tests.
    for cmd in &commands {
        for verb in ["ci.sh run", "ci.sh resume"] {
            if let Some(i) = cmd.find(verb) {
                let rest = cmd[i + verb.len()..].trim_start_matches(['"', '\'']);
                let arg = rest.split_whitespace().next().unwrap_or_default().trim_end_matches(['"', '\'']);
                if !arg.is_empty() && !arg.starts_with("&&") && !arg.starts_with(';') && !arg.starts_with('|') {
                    problems.push(format!("`{cmd}` passes '{arg}' to {verb}: a filter would leave tests out"));
                }
            }
        }
        if cmd.contains("run.sh") {
            problems.push(format!("`{cmd}` calls run.sh directly: go through ci.sh, which runs every test with -s"));
        }
    }
    // ci.sh: run.sh in strict mode, no filter of its own.
    let suite_call = ci.lines().find(|l| l.contains("/run.sh\"") && !l.trim_start().starts_with('#'));
    match suite_call {
        None => problems.push("ci.sh never calls run.sh".to_string()),
        Some(call) => {
            if !call.split_whitespace().any(|w| w == "-s" || w == "--strict") {
                problems.push(format!("ci.sh calls run.sh without -s, so a skipped test would pass: {}", call.trim()));
            }
            let after: Vec<&str> =
                call.split("run.sh\"").nth(1).unwrap_or_default().split_whitespace().filter(|w| !w.starts_with('-')).collect();
            if after.iter().any(|w| *w != "\"$@\"") {
                problems.push(format!("ci.sh passes a filter to run.sh: {}", call.trim()));
            }
        }
    }
    if !ci.lines().any(|l| l.trim() == "run_suite --resume") {
        problems.push("ci.sh resume does not run `run_suite --resume`".to_string());
    }
    // Every variable whose absence makes a test skip (README: default
    // "unset" or `no`) and the programs are set by ci.sh.
    let mut needed = vec!["OPENVPN".to_string(), "TUNNELD".to_string(), "TUNCTL".to_string()];
    for row in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        if cells.len() > 3 && (cells[2].starts_with("unset") || cells[2] == "`no`") {
            needed.push(cells[1].trim_matches('`').to_string());
        }
    }
    for var in needed {
        if !ci.lines().any(|l| l.trim_start().starts_with(&format!("{var}="))) {
            problems.push(format!("ci.sh does not set {var}: the tests that need it would skip (and fail under -s)"));
        }
    }
    problems
}

fn real_inputs() -> (String, String, String) {
    let flat = flatten(&repo_root().join(".github/workflows/illumos.yml")).unwrap_or_else(|e| panic!("{e}"));
    let ci = fs::read_to_string(suite_dir().join("ci.sh")).expect("tests/illumos/ci.sh");
    let readme = fs::read_to_string(suite_dir().join("README.md")).expect("tests/illumos/README.md");
    (flat, ci, readme)
}

#[test]
fn the_illumos_workflow_parses_and_runs_every_test() {
    let (flat, ci, readme) = real_inputs();
    let problems = workflow_problems(&flat, &ci, &readme);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn each_workflow_rule_bites() {
    let (_, ci, readme) = real_inputs();
    let original = fs::read_to_string(repo_root().join(".github/workflows/illumos.yml")).expect("workflow");
    let scratch = Scratch::new("workflow");
    let check = |body: &str| -> Vec<String> {
        let file = scratch.write("illumos.yml", body);
        match flatten(&file) {
            Ok(flat) => workflow_problems(&flat, &ci, &readme),
            Err(e) => vec![e],
        }
    };
    let expect = |problems: Vec<String>, want: &str| {
        assert!(problems.iter().any(|p| p.contains(want)), "expected a problem containing '{want}', got {problems:?}");
    };

    expect(check("name: x\non: [push]\njobs:\n  a:\n\truns-on: x\n"), "does not parse as YAML");
    expect(check(&original.replace("vmactions/omnios-vm@v1", "actions/hello@v1")), "no step uses an illumos VM action");
    expect(check(&original.replace("sh tests/illumos/ci.sh resume", "true")), "does not run ci.sh resume");
    expect(check(&original.replace("ssh omnios \"reboot\"", "true")), "does not run a reboot of the VM");
    expect(check(&original.replace("tests/illumos/ci.sh run\"", "tests/illumos/ci.sh run 40-flowadm\"")), "passes '40-flowadm' to ci.sh run");
    expect(check(&original.replace("sh tests/illumos/ci.sh build", "sh tests/illumos/run.sh -k")), "calls run.sh directly");
    // Broken ci.sh: no strict mode, a filter, a variable not set.
    let flat = flatten(&repo_root().join(".github/workflows/illumos.yml")).expect("flatten");
    expect(workflow_problems(&flat, &ci.replace("run.sh\" -s -k", "run.sh\" -k"), &readme), "without -s");
    expect(workflow_problems(&flat, &ci.replace("run.sh\" -s -k -v \"$@\"", "run.sh\" -s -k 10-install"), &readme), "passes a filter");
    expect(
        workflow_problems(&flat, &ci.replace("\tTUNTAP_TEST_ZONE=$ZONE\n", "\n"), &readme),
        "ci.sh does not set TUNTAP_TEST_ZONE:",
    );
}
