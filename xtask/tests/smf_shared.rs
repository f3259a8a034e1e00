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

/// The `<dependency>` element of `xml` on `fmri`, as one line.
fn dependency_on(xml: &str, fmri: &str) -> Option<String> {
    let flat = xml.replace('\n', " ");
    flat.split("<dependency").skip(1).map(|d| d.split("</dependency>").next().unwrap_or("").to_string()).find(|d| d.contains(fmri))
}

fn service_problems(name: &str, xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    match dependency_on(xml, "svc:/network/tuntap:default") {
        None => out.push(format!("{name}: no dependency on svc:/network/tuntap:default")),
        Some(d) if !d.contains("restart_on=\"none\"") => {
            out.push(format!("{name}: restarting network/tuntap must not bounce the instances (restart_on=\"none\"): {d}"))
        }
        Some(_) => {}
    }
    let child = xml.contains("name=\"duration\" type=\"astring\" value=\"child\"");
    if child && xml.contains("name=\"ignore_error\"") {
        out.push(format!("{name}: ignore_error has no effect on a child (wait-model) service"));
    }
    if xml.contains("create-tun") {
        out.push(format!("{name}: tunctl has no create-tun (tunctl create -T tun)"));
    }
    out
}

#[test]
fn vpn_services_survive_a_tuntap_restart_and_carry_no_dead_settings() {
    let mut problems = Vec::new();
    for (name, path) in [("openvpn", "smf/openvpn/openvpn.xml"), ("tunneld", "smf/tunneld/tunneld.xml")] {
        let xml = fs::read_to_string(repo().join(path)).expect("read manifest");
        problems.extend(service_problems(name, &xml));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let openvpn = fs::read_to_string(repo().join("smf/openvpn/openvpn.xml")).unwrap();
    assert!(openvpn.contains("/opt/ooce/openvpn/sbin/openvpn"), "the OmniOS path of OpenVPN");
    assert!(!openvpn.contains("/opt/ooce/sbin/openvpn"), "the old, wrong OmniOS path");
}

#[test]
fn the_service_checks_bite() {
    let xml = fs::read_to_string(repo().join("smf/tunneld/tunneld.xml")).unwrap();
    let restarting = xml.replacen("restart_on=\"none\" type=\"service\">\n      <service_fmri value=\"svc:/network/tuntap:default\"", "restart_on=\"restart\" type=\"service\">\n      <service_fmri value=\"svc:/network/tuntap:default\"", 1);
    assert_ne!(restarting, xml, "the twin changed the dependency");
    assert!(service_problems("tunneld", &restarting).iter().any(|p| p.contains("restart_on")));
    let ignoring = xml.replace("<propval name=\"duration\" type=\"astring\" value=\"child\"/>", "<propval name=\"duration\" type=\"astring\" value=\"child\"/><propval name=\"ignore_error\" type=\"astring\" value=\"core,signal\"/>");
    assert!(service_problems("tunneld", &ignoring).iter().any(|p| p.contains("ignore_error")));
}
