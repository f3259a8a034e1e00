// SPDX-License-Identifier: MPL-2.0
//! What the host-side checks of `tests/illumos` share: where the suite
//! is, scratch directories, running its shell code, and the list of its
//! scripts.  Each test file uses only part of it.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).expect("xtask lives in the repository")
}

pub fn suite_dir() -> PathBuf {
    repo_root().join("tests/illumos")
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(what: &str) -> Scratch {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tuntap-illumos-suite-{what}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch directory");
        Scratch(dir)
    }

    pub fn write(&self, name: &str, body: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create scratch subdirectory");
        }
        fs::write(&path, body).expect("write scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

pub fn require(tool: &str, package: &str) {
    assert!(have(tool), "{tool} is not installed: apt-get install {package}");
}

/// The POSIX shells at hand: dash always, ksh93 (illumos' /bin/sh) when
/// installed.
pub fn shells() -> Vec<&'static str> {
    let mut shells = vec!["dash"];
    if have("ksh") {
        shells.push("ksh");
    }
    shells
}

/// Every regular file in `dir` with a name ending in `.sh`, sorted.
pub fn sh_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "sh"))
        .collect();
    files.sort();
    files
}

/// The suite's scripts: run.sh, ci.sh, lib.sh, lib/*.sh and t/*.sh.
pub fn suite_scripts() -> Vec<PathBuf> {
    let dir = suite_dir();
    let mut scripts = vec![dir.join("run.sh"), dir.join("ci.sh"), dir.join("lib.sh")];
    scripts.extend(sh_files(&dir.join("lib")));
    scripts.extend(sh_files(&dir.join("t")));
    scripts
}

/// Runs `code` in `shell` after sourcing lib/parse.sh (the suite's pure
/// parsers), with `input` on stdin and TUNTAP_ROOT set to `root`.
pub fn parse_sh(shell: &str, code: &str, input: &str, root: &Path) -> Output {
    use std::io::Write;
    let script = format!(". '{}/lib/parse.sh'\n{code}\n", suite_dir().display());
    let mut child = Command::new(shell)
        .arg("-c")
        .arg(script)
        .env("TUNTAP_ROOT", root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the shell");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("wait for the shell")
}

/// A sample output under tests/illumos/samples, without its leading
/// `# ` lines (the SPDX line and what the sample is).
pub fn sample(name: &str) -> String {
    let path = suite_dir().join("samples").join(name);
    let body = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = body.split_inclusive('\n').peekable();
    while lines.peek().is_some_and(|l| l.starts_with("# ")) {
        lines.next();
    }
    lines.collect()
}
