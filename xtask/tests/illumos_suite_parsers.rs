// SPDX-License-Identifier: MPL-2.0
//! The parsers and arithmetic of `tests/illumos/lib/parse.sh`, which the
//! real-host suite uses to read illumos commands' output and to judge
//! measured rates, run here on sample outputs (`tests/illumos/samples`,
//! written from the cited format strings) in dash and ksh93, each with a
//! twin input that must be refused or read differently.  Also the
//! repository lookups the suite does at run time (package names from
//! `manifests/*.p5m`, services and methods from `smf/`), compared with
//! this file's own reading of the same files.

mod suite_common;

use std::fs;
use std::path::Path;

use suite_common::{parse_sh, repo_root, require, sample, shells, stdout, text, Scratch};

/// Runs `code` with `input` in every shell; returns (status, stdout) and
/// checks the shells agree.
fn run(code: &str, input: &str) -> (Option<i32>, String) {
    require("dash", "dash");
    let mut first: Option<(Option<i32>, String)> = None;
    for shell in shells() {
        let out = parse_sh(shell, code, input, &repo_root());
        let got = (out.status.code(), stdout(&out));
        match &first {
            None => first = Some(got),
            Some(f) => assert_eq!(f, &got, "dash and {shell} disagree on `{code}`: {}", text(&out)),
        }
    }
    first.expect("at least dash ran")
}

fn ok(code: &str, input: &str) -> String {
    let (status, out) = run(code, input);
    assert_eq!(status, Some(0), "`{code}` failed on:\n{input}");
    out
}

fn refused(code: &str, input: &str) {
    let (status, out) = run(code, input);
    assert_ne!(status, Some(0), "`{code}` accepted what it must refuse (printed '{out}') on:\n{input}");
}

#[test]
fn count_addr_counts_exact_addresses_only() {
    let addrs = sample("ipadm-show-addr.txt");
    // 10.231.80.1 twice (with and without a prefix), never 10.231.80.10.
    assert_eq!(ok("count_addr 10.231.80.1", &addrs), "2\n");
    assert_eq!(ok("count_addr 10.231.80.10", &addrs), "1\n");
    assert_eq!(ok("count_addr fd00:231:72::1", &addrs), "1\n");
    // Twin: an address that is only a prefix of configured ones.
    assert_eq!(ok("count_addr 10.231.80", &addrs), "0\n");
    assert_eq!(ok("count_addr 10.231.80.1", ""), "0\n");
}

#[test]
fn ping_counts_reads_the_statistics_line() {
    assert_eq!(ok("ping_counts", &sample("ping-answered.txt")), "3 3\n");
    assert_eq!(ok("ping_received", &sample("ping-answered.txt")), "3\n");
    assert_eq!(ok("ping_received", &sample("ping-unanswered.txt")), "0\n");
    // Twin: killed before its statistics: nothing, not a made-up count
    // (the caller's expect_eq against 3 then fails).
    assert_eq!(ok("ping_received", &sample("ping-killed.txt")), "");
    assert_eq!(ok("ping_counts", &sample("ping-killed.txt")), "");
}

#[test]
fn parsable_values_are_raw_and_the_human_form_is_refused() {
    // An unset property is empty in parsable mode, never "--".
    assert_eq!(ok("parsable_value", &sample("linkprop-unset.txt")), "\n");
    refused("parsable_value", &sample("linkprop-human.txt"));
    assert_eq!(ok("counter_value", &sample("show-link-s-obytes.txt")), "10054212\n");
    assert_eq!(ok("counter_value", &sample("dlstat-rbytes.txt")), "40140\n");
    assert_eq!(ok("counter_value", &sample("flowstat-obytes.txt")), "6250000\n");
    // Twins: the human forms (header, units) are not counters.
    refused("counter_value", &sample("show-link-s-human.txt"));
    refused("counter_value", &sample("dlstat-human.txt"));
    refused("counter_value", "40.14K\n");
    refused("counter_value", "--\n");
}

#[test]
fn rates_and_tolerances() {
    // 10 Mbit in 8 s.
    assert_eq!(ok("rate_bps 1000000 11000000 8", ""), "10000000\n");
    refused("rate_bps 11000000 1000000 8", "");
    refused("rate_bps 1 2 0", "");
    refused("rate_bps abc 2 8", "");
    assert_eq!(ok("bw_to_bps 5M", ""), "5000000\n");
    assert_eq!(ok("bw_to_bps 500K", ""), "500000\n");
    assert_eq!(ok("bw_to_bps 2", ""), "2000000\n");
    refused("bw_to_bps lots", "");
    // 5.9 Mbit/s is within 25% of 5M; its twin 6.4 is not, nor is 3.7.
    ok("within_pct 5900000 5000000 25", "");
    ok("within_pct 3800000 5000000 25", "");
    refused("within_pct 6400000 5000000 25", "");
    refused("within_pct 3700000 5000000 25", "");
    refused("within_pct '' 5000000 25", "");
    ok("at_least_times 10000001 5000000 2", "");
    refused("at_least_times 9999999 5000000 2", "");
}

#[test]
fn svcprop_values_are_unescaped() {
    assert_eq!(ok("svcprop_unescape", &sample("svcprop-exec.txt")), "/lib/svc/method/openvpn start\n");
    assert_eq!(ok("svcprop_unescape", &sample("svcprop-empty.txt")), "\n");
    assert_eq!(
        ok("awk '{ print $3 }' | svcprop_unescape", &sample("svcprop-manifestfiles.txt")),
        "/lib/svc/manifest/network/openvpn.xml\n"
    );
}

#[test]
fn a_foreign_tun_or_tap_driver_is_recognised() {
    assert_eq!(ok("foreign_tuntap_drivers", &sample("name_to_major-ours.txt")), "");
    let old = ok("foreign_tuntap_drivers", &sample("name_to_major-old.txt"));
    assert!(old.contains("a driver named tap is bound"), "{old}");
    assert!(old.contains("a driver named tun is bound without tuntap"), "{old}");
}

#[test]
fn leaks_are_attributed_to_modules() {
    assert_eq!(ok("leaks_in_modules tuntap tun", &sample("findleaks-clean.txt")), "");
    let ours = ok("leaks_in_modules tuntap tun", &sample("findleaks-ours.txt"));
    assert!(ours.contains("tuntap`_RNvNtCs1link6create+0x5c"), "{ours}");
    // Oversized (vmem) leaks print BYTES as a range: still attributed.
    assert!(ours.contains("tun`_RNvCs1tun4open+0x40"), "{ours}");
    assert_eq!(ours.lines().count(), 2, "{ours}");
    assert!(!ours.contains("ip`"), "{ours}");
    assert_eq!(ok("kmem_flags_value", &sample("mdb-kmem-flags.txt")), "f\n");
    refused("kmem_flags_value", "mdb: failed to dereference symbol: unknown symbol name\n");
    // A module whose name only starts like ours is not ours.
    assert_eq!(ok("leaks_in_modules tuntap tun", "ffff 1 ffff tunnel`alloc+0x1\n"), "");
}

// ===== repository lookups =====

/// This file's own reading of a manifest's package name.
fn fmri_of(p5m: &str) -> Option<String> {
    let value = p5m.lines().find_map(|l| l.strip_prefix("set name=pkg.fmri value="))?;
    let value = value.split_whitespace().next()?;
    let value = value.strip_prefix("pkg://").and_then(|v| v.split_once('/').map(|(_, rest)| rest)).unwrap_or(value);
    let value = value.strip_prefix("pkg:/").unwrap_or(value);
    Some(value.split('@').next()?.to_string())
}

fn manifests() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(repo_root().join("manifests"))
        .expect("manifests/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "p5m"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_manifest_yields_its_package_name() {
    let files = manifests();
    assert!(files.len() >= 6, "expected the six manifests: {files:?}");
    let mut expected = String::new();
    for file in &files {
        let body = fs::read_to_string(file).expect("manifest");
        let want = fmri_of(&body).unwrap_or_else(|| panic!("{} has no pkg.fmri", file.display()));
        assert_eq!(ok("p5m_fmri", &body), format!("{want}\n"), "{}", file.display());
        expected.push_str(&want);
        expected.push('\n');
    }
    // What tests 95 and 96 iterate over: every manifest, in order.
    let code = format!(". '{}/lib/ips.sh'; project_packages", suite_common::suite_dir().display());
    assert_eq!(ok(&code, ""), expected);
    // Twin: a manifest without pkg.fmri yields nothing (test 95 then
    // fails its count of packages against manifests).
    assert_eq!(ok("p5m_fmri", "set name=pkg.summary value=x\n"), "");
}

#[test]
fn p5m_paths_and_drivers() {
    let driver = fs::read_to_string(repo_root().join("manifests/driver-network-dltun.p5m")).expect("driver manifest");
    let files = ok("p5m_paths file", &driver);
    assert!(files.lines().any(|l| l == "kernel/drv/amd64/tuntap"), "{files}");
    let drivers = ok("p5m_driver_names", &driver);
    assert_eq!(drivers, "tuntap\ntun\n");
    // A continued action line is one action.
    assert_eq!(ok("p5m_paths file", "file path=a/b \\\n    group=bin mode=0444\ndir path=c\n"), "a/b\n");
}

/// This file's own reading of a manifest: (service name, start exec).
fn service_of(xml: &str) -> (String, String) {
    let after = xml.split("<service ").nth(1).expect("a <service> element");
    let name = after.split("name=\"").nth(1).and_then(|s| s.split('"').next()).expect("service name");
    let start = xml
        .split("<exec_method")
        .skip(1)
        .find(|m| m.contains("name=\"start\""))
        .and_then(|m| m.split("exec=\"").nth(1))
        .and_then(|s| s.split('"').next())
        .expect("a start method");
    (name.to_string(), start.to_string())
}

#[test]
fn every_smf_manifest_yields_its_service_and_method() {
    let smf = repo_root().join("smf");
    let mut seen = 0;
    for dir in fs::read_dir(&smf).expect("smf/") {
        let dir = dir.expect("entry").path();
        if !dir.is_dir() {
            continue;
        }
        for file in fs::read_dir(&dir).expect("service dir") {
            let file = file.expect("entry").path();
            if file.extension().is_none_or(|x| x != "xml") {
                continue;
            }
            let body = fs::read_to_string(&file).expect("manifest");
            let (name, start) = service_of(&body);
            assert_eq!(ok("smf_service_name", &body), format!("{name}\n"), "{}", file.display());
            assert_eq!(ok("smf_exec start", &body), format!("{start}\n"), "{}", file.display());
            // The method the suite installs exists in the repository.
            let code = format!(
                ". '{}/lib/smf.sh'; method_source '{}'",
                suite_common::suite_dir().display(),
                file.display()
            );
            let source = ok(&code, "");
            assert!(Path::new(source.trim()).is_file(), "{}: the method source {source} does not exist", file.display());
            seen += 1;
        }
    }
    assert!(seen >= 3, "expected the tuntap, openvpn and tunneld services");
    // The two services the SMF tests look up by role are found, once
    // each: the boot service is tuntap.xml (a dependent of
    // network/physical), the OpenVPN one openvpn.xml.
    for (role, file) in [("boot", "smf/tuntap/tuntap.xml"), ("openvpn", "smf/openvpn/openvpn.xml")] {
        let code = format!(". '{}/lib/smf.sh'; project_manifest {role}", suite_common::suite_dir().display());
        let found = ok(&code, "");
        assert_eq!(found.trim(), repo_root().join(file).display().to_string(), "role {role}");
    }
    // Twin: a role no service plays is an error, not a guess.
    let code = format!(". '{}/lib/smf.sh'; project_manifest no-such-role", suite_common::suite_dir().display());
    refused(&code, "");
}

#[test]
fn project_lookups_follow_a_renamed_package() {
    // Another root whose manifests use other names: the lookups read
    // them, they do not remember the old ones.
    let scratch = Scratch::new("renamed");
    scratch.write("manifests/a.p5m", "set name=pkg.fmri value=pkg://tuntap/network/vpn/tuntap-openvpn@0.2.0,5.11-0\n");
    scratch.write("manifests/b.p5m", "set name=pkg.fmri value=pkg:/driver/network/tuntap2@1.0\n");
    let code = format!(". '{}/lib/ips.sh'; project_packages", suite_common::suite_dir().display());
    let out = parse_sh("dash", &code, "", &scratch.0);
    assert_eq!(stdout(&out), "network/vpn/tuntap-openvpn\ndriver/network/tuntap2\n", "{}", text(&out));
}
