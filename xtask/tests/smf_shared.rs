// SPDX-License-Identifier: MPL-2.0
//! The SMF methods share their common shell through one sourced helper
//! (smf/share/tuntap_include.sh, delivered by network/tunctl as
//! /lib/svc/share/tuntap_include.sh) instead of copies (issue 10).

use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).expect("repository")
}

/// The code lines of a script (no comments, no blank lines, trimmed).
fn code(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect()
}

/// Runs of at least `min` consecutive code lines that both scripts hold.
fn shared_runs(a: &[String], b: &[String], min: usize) -> Vec<String> {
    let mut found = Vec::new();
    for i in 0..a.len() {
        for j in 0..b.len() {
            let n = a[i..].iter().zip(&b[j..]).take_while(|(x, y)| x == y).count();
            let starts_run = i == 0 || j == 0 || a[i - 1] != b[j - 1];
            if n >= min && starts_run {
                found.push(a[i..i + n].join("\n"));
            }
        }
    }
    found
}

fn method(name: &str) -> Vec<String> {
    code(&fs::read_to_string(repo().join(name)).unwrap_or_else(|e| panic!("read {name}: {e}")))
}

#[test]
fn methods_share_code_through_the_helper_not_copies() {
    let openvpn = method("smf/openvpn/tuntap-openvpn-method.sh");
    let tunneld = method("smf/tunneld/tunneld-method.sh");
    let copies = shared_runs(&openvpn, &tunneld, 4);
    assert!(copies.is_empty(), "lines copied between the methods instead of living in smf/share/tuntap_include.sh:\n{}", copies.join("\n---\n"));
    for (name, body) in [("openvpn", &openvpn), ("tunneld", &tunneld)] {
        assert!(
            body.iter().any(|l| l.contains("/lib/svc/share/tuntap_include.sh")),
            "the {name} method does not source the shared helper"
        );
    }
    let manifest = fs::read_to_string(repo().join("manifests/network-tunctl.p5m")).expect("read manifest");
    assert!(manifest.contains("file path=lib/svc/share/tuntap_include.sh"), "network/tunctl delivers the helper");
}

#[test]
fn the_copy_check_bites() {
    let helper = method("smf/share/tuntap_include.sh");
    let mut copied = method("smf/tunneld/tunneld-method.sh");
    copied.extend(helper.iter().take(8).cloned());
    assert!(!shared_runs(&helper, &copied, 4).is_empty(), "a pasted copy of the helper must be found");
}
