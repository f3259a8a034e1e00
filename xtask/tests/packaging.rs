// SPDX-License-Identifier: MPL-2.0

//! Packaging gates: the IPS manifests against an assembled proto area,
//! every SMF manifest against the service_bundle DTD (xmllint), every
//! method script with shellcheck for the shell it declares, every man page
//! with `mandoc -T lint`, net/if_tun.h's constants against tuntap-abi
//! (compiled with gcc), and an SPDX line in every source file.  Each gate
//! also runs on a broken input to show it bites.
//!
//! Needs xmllint (libxml2-utils), shellcheck, mandoc, gcc and git; a
//! missing tool fails the test with the package to install.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use xtask::package::{self, Inputs, Manifest};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .expect("xtask lives in the repository")
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tuntap-pkg-{what}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn run_tool(program: &str, package: &str, args: &[&str], path: &Path) -> Output {
    Command::new(program)
        .args(args)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}); install it: apt-get install {package}"))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Files under `dir` (recursively) accepted by `keep`, sorted.
fn files_under(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if keep(&path) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

// ===== IPS manifests and the proto area =====

/// Inputs with small stand-in files for the build products, so the check
/// runs without a kernel or userland build.
fn fake_inputs(scratch: &Path) -> Inputs {
    let build = scratch.join("build");
    for file in ["kernel/amd64/tuntap", "kernel/amd64/tun", "kernel/tuntap.conf", "kernel/tun.conf", "tunctl", "tunneld", "libdltun.so", "libdltun.h"] {
        let path = build.join(file);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, format!("stand-in for {file}\n")).expect("write stand-in");
    }
    Inputs {
        repo: repo(),
        kernel: build.join("kernel"),
        tunctl: build.join("tunctl"),
        tunneld: build.join("tunneld"),
        libdltun: build.join("libdltun.so"),
        libdltun_header: build.join("libdltun.h"),
    }
}

fn real_manifests() -> Vec<Manifest> {
    package::load_manifests(&repo().join("manifests")).expect("load manifests")
}

fn assembled() -> (Scratch, PathBuf) {
    let scratch = Scratch::new("proto");
    let inputs = fake_inputs(&scratch.0);
    let proto = scratch.0.join("proto");
    package::assemble(&inputs, &proto).expect("assemble the proto area");
    (scratch, proto)
}

fn check_with(extra_manifest: Option<&str>, proto: &Path) -> Vec<String> {
    let mut manifests = real_manifests();
    if let Some(text) = extra_manifest {
        manifests.push(Manifest::parse(Path::new("extra.p5m"), text).expect("parse extra manifest"));
    }
    package::check(&manifests, proto).expect("check")
}

#[test]
fn manifests_match_the_assembled_proto_area() {
    let (_scratch, proto) = assembled();
    let findings = check_with(None, &proto);
    assert!(findings.is_empty(), "findings:\n{}", findings.join("\n"));
    // The packages the issue asks for, and what they carry.
    let manifests = real_manifests();
    let names: Vec<String> = manifests.iter().filter_map(Manifest::package_name).collect();
    for expected in xtask::package::PROJECT_PACKAGES {
        assert!(names.iter().any(|n| n == expected), "no package {expected} in {names:?}");
    }
    let driver = manifests
        .iter()
        .find(|m| m.package_name().as_deref() == Some("driver/network/dltun"))
        .expect("driver package");
    assert_eq!(driver.set_value("variant.opensolaris.zone"), Some("global"));
    let drivers: Vec<&str> = driver.actions.iter().filter(|a| a.kind == "driver").filter_map(|a| a.attr("name")).collect();
    assert_eq!(drivers, vec!["tuntap", "tun"]);
    let tun = driver.actions.iter().find(|a| a.attr("name") == Some("tun")).expect("tun driver");
    let links: Vec<&str> = tun.attr_all("devlink").iter().map(|d| d.rsplit("\\t").next().unwrap_or("")).collect();
    assert_eq!(links, vec!["tuntap", "tap", "tun"], "the /dev links");
    assert!(tun.attr_all("perms").contains(&"ctl 0666 root sys"), "control node open to readers; the driver checks privileges per command");
}

#[test]
fn tunneld_package_delivers_the_daemon_its_service_and_rbac() {
    let manifests = real_manifests();
    let tunneld = manifests
        .iter()
        .find(|m| m.package_name().as_deref() == Some("network/tunneld"))
        .expect("a network/tunneld package");
    let delivered: Vec<(&str, &str)> = tunneld
        .actions
        .iter()
        .filter(|a| a.kind == "file")
        .filter_map(|a| Some((a.attr("path")?, a.attr("mode")?)))
        .collect();
    for (path, mode) in [
        ("usr/lib/tunneld", "0555"),
        ("lib/svc/manifest/network/tunneld.xml", "0444"),
        ("lib/svc/method/tunneld", "0555"),
        ("etc/security/auth_attr.d/network-tunneld", "0444"),
        ("etc/security/prof_attr.d/network-tunneld", "0444"),
        ("usr/share/man/man8/tunneld.8", "0444"),
    ] {
        assert!(delivered.contains(&(path, mode)), "network/tunneld does not deliver {path} mode {mode}: {delivered:?}");
    }
    // The manifest is re-imported and the RBAC databases rebuilt on install.
    for action in tunneld.actions.iter().filter(|a| a.kind == "file") {
        let path = action.attr("path").unwrap_or_default();
        let restart = action.attr("restart_fmri");
        if path.starts_with("lib/svc/manifest/") {
            assert_eq!(restart, Some("svc:/system/manifest-import:default"), "{path}");
        }
        if path.starts_with("etc/security/") {
            assert_eq!(restart, Some("svc:/system/rbac:default"), "{path}");
        }
    }
    let depends: Vec<String> = tunneld
        .actions
        .iter()
        .filter(|a| a.kind == "depend")
        .filter_map(|a| a.attr("fmri").and_then(package::fmri_package_name))
        .collect();
    // The method runs `tunctl register`; the service depends on
    // svc:/network/tuntap:default, which network/tunctl delivers.
    assert!(depends.iter().any(|d| d == "network/tunctl"), "{depends:?}");
    assert!(depends.iter().any(|d| d == "driver/network/dltun"), "{depends:?}");
    let method = fs::read_to_string(repo().join("smf/tunneld/tunneld-method.sh")).expect("read method");
    let shared = fs::read_to_string(repo().join("smf/share/tuntap_include.sh")).expect("read helper");
    assert!(method.contains("register_pid") && shared.contains("tunctl register"), "the method registers through the shared helper");
    assert!(method.contains("/usr/lib/tunneld"), "the method runs /usr/lib/tunneld");
}

#[test]
fn a_missing_tunneld_is_reported() {
    let (_scratch, proto) = assembled();
    fs::remove_file(proto.join("usr/lib/tunneld")).expect("remove");
    let findings = check_with(None, &proto);
    assert!(
        findings.iter().any(|f| f.contains("network-tunneld.p5m") && f.contains("usr/lib/tunneld") && f.contains("not in the proto area")),
        "{findings:?}"
    );
    let scratch = Scratch::new("no-tunneld");
    let mut inputs = fake_inputs(&scratch.0);
    inputs.tunneld = scratch.0.join("no-such-tunneld");
    let err = package::assemble(&inputs, &scratch.0.join("proto")).expect_err("no tunneld binary");
    assert!(err.contains("usr/lib/tunneld") && err.contains("-p tunneld"), "{err}");
}

#[test]
fn a_missing_source_is_reported() {
    let (_scratch, proto) = assembled();
    fs::remove_file(proto.join("usr/sbin/tunctl")).expect("remove");
    let findings = check_with(None, &proto);
    assert!(
        findings.iter().any(|f| f.contains("network-tunctl.p5m") && f.contains("usr/sbin/tunctl") && f.contains("not in the proto area")),
        "{findings:?}"
    );
}

#[test]
fn an_unpackaged_file_in_the_proto_area_is_reported() {
    let (_scratch, proto) = assembled();
    fs::write(proto.join("usr/sbin/stray"), "x").expect("write");
    let findings = check_with(None, &proto);
    assert!(findings.iter().any(|f| f.contains("usr/sbin/stray") && f.contains("no manifest delivers it")), "{findings:?}");
}

const EXTRA_HEADER: &str = "set name=pkg.fmri value=pkg://tuntap/test/extra@1.0\n\
                            set name=pkg.summary value=extra\n\
                            set name=variant.arch value=i386\n\
                            license LICENSE license=MPL-2.0\n";

#[test]
fn a_path_delivered_twice_is_reported() {
    let (_scratch, proto) = assembled();
    let extra = format!("{EXTRA_HEADER}file path=usr/sbin/tunctl owner=root group=bin mode=0555\n");
    let findings = check_with(Some(&extra), &proto);
    assert!(findings.iter().any(|f| f.contains("usr/sbin/tunctl is delivered twice")), "{findings:?}");
    // Directories may repeat when identical, not when they differ.
    let same_dir = format!("{EXTRA_HEADER}dir path=usr/sbin group=bin mode=0755 owner=root\n");
    assert!(check_with(Some(&same_dir), &proto).is_empty());
    let other_dir = format!("{EXTRA_HEADER}dir path=usr/sbin group=bin mode=0700 owner=root\n");
    assert!(check_with(Some(&other_dir), &proto).iter().any(|f| f.contains("usr/sbin is delivered twice")));
}

#[test]
fn missing_package_attributes_are_reported() {
    let (_scratch, proto) = assembled();
    let extra = "set name=pkg.fmri value=pkg://tuntap/test/bare@1.0\nfile path=usr/sbin/tunctl2 owner=root\n";
    let findings = check_with(Some(extra), &proto);
    for expected in ["missing `set name=pkg.summary", "missing `set name=variant.arch", "no license action", "usr/sbin/tunctl2: missing mode=", "usr/sbin/tunctl2: missing group="] {
        assert!(findings.iter().any(|f| f.contains(expected)), "{expected} not in {findings:?}");
    }
    let no_fmri = "set name=pkg.summary value=x\nset name=variant.arch value=i386\nlicense LICENSE license=MPL-2.0\n";
    assert!(check_with(Some(no_fmri), &proto).iter().any(|f| f.contains("no valid `set name=pkg.fmri")));
    let bad_mode = format!("{EXTRA_HEADER}dir path=opt/x owner=root group=bin mode=rwxr-xr-x\n");
    assert!(check_with(Some(&bad_mode), &proto).iter().any(|f| f.contains("is not an octal mode")));
}

#[test]
fn malformed_driver_actions_are_reported() {
    let (_scratch, proto) = assembled();
    let cases = [
        ("driver name=ghost", "does not deliver its module kernel/drv/amd64/ghost"),
        ("driver name=ghost", "does not deliver kernel/drv/ghost.conf"),
        ("driver name=x perms=\"tun 0666 root\"", "is not \"MINOR MODE OWNER GROUP\""),
        ("driver name=x perms=\"tun 666x root sys\"", "is not \"MINOR MODE OWNER GROUP\""),
        ("driver name=x perms=\"tun 0666 root sys\" devlink=\"type=ddi_pseudo;name=x;minor=tap\\ttap\"", "devlink for minor tap has no perms= entry"),
        ("driver name=x perms=\"tun 0666 root sys\" devlink=\"type=ddi_pseudo;name=x;minor=tun tun\"", "has no \\t"),
        ("driver name=x perms=\"tun 0666 root sys\" devlink=\"type=ddi_pseudo;name=y;minor=tun\\ttun\"", "names another driver"),
        ("driver perms=\"tun 0666 root sys\"", "driver action without name="),
    ];
    for (action, expected) in cases {
        let extra = format!("{EXTRA_HEADER}{action}\n");
        let findings = check_with(Some(&extra), &proto);
        assert!(findings.iter().any(|f| f.contains(expected)), "{action}: {expected:?} not in {findings:?}");
    }
}

#[test]
fn dependencies_and_links_must_resolve() {
    let (_scratch, proto) = assembled();
    let dangling = format!("{EXTRA_HEADER}depend fmri=pkg:/network/no-such-package type=require\n");
    assert!(check_with(Some(&dangling), &proto).iter().any(|f| f.contains("depends on network/no-such-package")));
    let bad_type = format!("{EXTRA_HEADER}depend fmri=pkg:/network/tunctl type=needs\n");
    assert!(check_with(Some(&bad_type), &proto).iter().any(|f| f.contains("depend type=needs")));
    let bad_link = format!("{EXTRA_HEADER}link path=usr/lib/amd64/libnothing.so target=libnothing.so.1\n");
    assert!(check_with(Some(&bad_link), &proto).iter().any(|f| f.contains("libnothing.so -> libnothing.so.1")));
}

#[test]
fn manifest_syntax_errors_name_the_line() {
    let err = Manifest::parse(Path::new("x.p5m"), "set name=a value=\"unterminated\n").expect_err("bad quote");
    assert!(err.contains("x.p5m:1") && err.contains("unterminated"), "{err}");
    let err = Manifest::parse(Path::new("x.p5m"), "# c\nfile path=a \\\n").expect_err("dangling continuation");
    assert!(err.contains("x.p5m:2") && err.contains("continued line"), "{err}");
    let err = Manifest::parse(Path::new("x.p5m"), "file a b path=c\n").expect_err("stray token");
    assert!(err.contains("stray token"), "{err}");
    // Continuations and quotes parse.
    let m = Manifest::parse(Path::new("x.p5m"), "driver name=t \\\n    perms=\"a 0600 root sys\" \\\n    perms='b 0666 root sys'\n").expect("parse");
    assert_eq!(m.actions[0].attr_all("perms"), vec!["a 0600 root sys", "b 0666 root sys"]);
    assert_eq!(m.actions[0].line, 1);
}

#[test]
fn assemble_names_missing_build_products() {
    let scratch = Scratch::new("missing");
    let mut inputs = fake_inputs(&scratch.0);
    inputs.kernel = scratch.0.join("no-kernel");
    let err = package::assemble(&inputs, &scratch.0.join("proto")).expect_err("no kernel modules");
    assert!(err.contains("kernel/drv/amd64/tuntap") && err.contains("cargo xtask kmod"), "{err}");
}

// ===== SMF manifests, method scripts =====

fn smf_dir() -> PathBuf {
    repo().join("smf")
}

fn xmllint_valid(manifest: &Path) -> Output {
    let dtd = smf_dir().join("service_bundle.dtd.1");
    Command::new("xmllint")
        .args(["--noout", "--nonet", "--dtdvalid"])
        .arg(&dtd)
        .arg(manifest)
        .output()
        .unwrap_or_else(|e| panic!("cannot run xmllint ({e}); install it: apt-get install libxml2-utils"))
}

#[test]
fn every_smf_manifest_validates_against_the_dtd() {
    let manifests = files_under(&smf_dir(), &|p| p.extension().is_some_and(|e| e == "xml"));
    assert!(manifests.len() >= 2, "expected the openvpn and tuntap manifests, found {manifests:?}");
    for manifest in &manifests {
        let out = xmllint_valid(manifest);
        assert!(out.status.success(), "{} does not validate:\n{}", manifest.display(), text(&out));
        let body = fs::read_to_string(manifest).expect("read");
        assert!(body.contains("<!DOCTYPE service_bundle SYSTEM \"/usr/share/lib/xml/dtd/service_bundle.dtd.1\">"), "{}: DOCTYPE", manifest.display());
    }
}

#[test]
fn an_invalid_smf_manifest_is_rejected() {
    let scratch = Scratch::new("xml");
    let good = fs::read_to_string(smf_dir().join("tuntap/tuntap.xml")).expect("read");
    // exec_method without its required timeout_seconds.
    let bad = good.replacen(" timeout_seconds=\"120\"", "", 1);
    assert_ne!(good, bad);
    let path = scratch.0.join("bad.xml");
    fs::write(&path, bad).expect("write");
    let out = xmllint_valid(&path);
    assert!(!out.status.success(), "xmllint accepted a manifest without timeout_seconds");
    assert!(text(&out).contains("timeout_seconds"), "{}", text(&out));
}

#[test]
fn openvpn_manifest_has_least_privilege_rbac_and_template() {
    let body = fs::read_to_string(smf_dir().join("openvpn/openvpn.xml")).expect("read");
    for needle in [
        // proc_setid: OpenVPN's own `user`/`group` options (issue 15).
        "privileges=\"basic,!file_link_any,net_privaddr,net_rawaccess,sys_ip_config,sys_dl_config,proc_setid\"",
        "privileges=\"basic,!file_link_any,net_privaddr,net_rawaccess,sys_ip_config,sys_dl_config,proc_setid,proc_owner\"",
        "value=\"solaris.smf.manage.tuntap.openvpn\"",
        "value=\"solaris.smf.value.tuntap.openvpn\"",
        "<service name=\"network/tuntap/openvpn\"",
        "<service_fmri value=\"svc:/network/tuntap:default\"/>",
        "<service_fmri value=\"svc:/milestone/network\"/>",
        "<service_fmri value=\"svc:/system/filesystem/local\"/>",
        "exec=\"/lib/svc/method/tuntap-openvpn stop %{restarter/contract}\"",
        "name=\"refresh\"",
        "<pg_pattern name=\"config\"",
        "<manpage title=\"openvpn\" section=\"8\"",
    ] {
        assert!(body.contains(needle), "openvpn.xml lacks {needle}");
    }
    assert!(!body.contains("privileges=\"all\""), "no full root privileges");
    let auths = fs::read_to_string(smf_dir().join("openvpn/rbac/auth_attr")).expect("read");
    let profile = fs::read_to_string(smf_dir().join("openvpn/rbac/prof_attr")).expect("read");
    for auth in ["solaris.smf.manage.tuntap.openvpn", "solaris.smf.value.tuntap.openvpn"] {
        assert!(auths.lines().any(|l| l.starts_with(&format!("{auth}:"))), "auth_attr defines {auth}");
        assert!(profile.contains(auth), "the profile grants {auth}");
    }
    for line in auths.lines().chain(profile.lines()).filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let fields = line.split(':').count();
        assert!(fields == 6 || fields == 5, "{line:?}: auth_attr has 6 fields, prof_attr 5");
    }
}

/// Scripts: `*.sh` under smf/ and the SMF stand-ins of the tests.
fn shell_scripts() -> Vec<PathBuf> {
    let mut scripts = files_under(&smf_dir(), &|p| p.extension().is_some_and(|e| e == "sh"));
    scripts.extend(files_under(&repo().join("xtask/tests/smf-env"), &|_| true));
    scripts
}

fn shellcheck(script: &Path) -> Output {
    let body = fs::read_to_string(script).expect("read script");
    let interpreter = body
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("#!"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{} declares no shell (#! line)", script.display()));
    let dialect = match interpreter.rsplit('/').next().unwrap_or_default() {
        "sh" => "sh",
        "bash" => "bash",
        "ksh" | "ksh93" => "ksh",
        other => panic!("{}: shellcheck has no dialect for {other}", script.display()),
    };
    // -x: follow the shared method helper the scripts source.
    run_tool("shellcheck", "shellcheck", &["-x", "-s", dialect, "-S", "style"], script)
}

#[test]
fn method_scripts_pass_shellcheck_for_their_shell() {
    let scripts = shell_scripts();
    assert!(scripts.len() >= 5, "{scripts:?}");
    for script in scripts {
        let out = shellcheck(&script);
        assert!(out.status.success(), "shellcheck {}:\n{}", script.display(), text(&out));
    }
}

#[test]
fn shellcheck_rejects_a_broken_method() {
    let scratch = Scratch::new("sh");
    let path = scratch.0.join("bad.sh");
    fs::write(&path, "#!/bin/sh\n# SPDX-License-Identifier: MPL-2.0\nrm -rf $1/*\n[[ -n $x ]] && echo ok\n").expect("write");
    let out = shellcheck(&path);
    assert!(!out.status.success());
    assert!(text(&out).contains("SC2086") || text(&out).contains("SC3010"), "{}", text(&out));
}

// ===== man pages =====

/// Lints `page` with Debian's mandoc.  illumos section names (4D, 3LIB)
/// are not in Debian's mandoc's section table, so the `.Dt` line of a copy
/// is mapped to the section's number first; all else is linted as
/// written.  "referenced manual not found" is dropped: it reports pages
/// missing from this host's man database (dladm(8) is not on Debian).
fn mandoc_lint(page: &Path) -> (bool, String) {
    let body = fs::read_to_string(page).expect("read page");
    let scratch = Scratch::new("man");
    let mut mapped = String::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix(".Dt ") {
            let mut words: Vec<String> = rest.split_whitespace().map(str::to_owned).collect();
            if let Some(section) = words.get_mut(1) {
                *section = section.chars().take_while(char::is_ascii_digit).collect();
            }
            mapped.push_str(&format!(".Dt {}\n", words.join(" ")));
        } else {
            mapped.push_str(line);
            mapped.push('\n');
        }
    }
    let copy = scratch.0.join(page.file_name().expect("name"));
    fs::write(&copy, mapped).expect("write copy");
    let out = Command::new("mandoc")
        .args(["-T", "lint", "-W", "style"])
        .arg(&copy)
        .env("MANPATH", scratch.0.join("no-man-db"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run mandoc ({e}); install it: apt-get install mandoc"));
    let messages: Vec<String> = text(&out)
        .lines()
        .filter(|l| !l.contains("referenced manual not found") && !l.contains("mandoc.db"))
        .map(str::to_owned)
        .collect();
    (messages.is_empty(), messages.join("\n"))
}

fn man_pages() -> Vec<PathBuf> {
    files_under(&repo().join("man"), &|_| true)
}

#[test]
fn man_pages_pass_mandoc_lint() {
    let pages = man_pages();
    let names: Vec<String> = pages.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect();
    for expected in ["tun.4d", "tunctl.8", "dladm-tun.8", "libdltun.3lib", "tunneld.8"] {
        assert!(names.iter().any(|n| n == expected), "no man/{expected}");
    }
    for page in &pages {
        let (clean, messages) = mandoc_lint(page);
        assert!(clean, "mandoc -T lint {}:\n{messages}", page.display());
        let body = fs::read_to_string(page).expect("read");
        assert!(body.contains(".Sh EXAMPLES"), "{} has no EXAMPLES section", page.display());
        // The .Dt section matches the file name (tun.4d -> 4D).
        let extension = page.extension().map(|e| e.to_string_lossy().to_uppercase()).unwrap_or_default();
        assert!(
            body.lines().any(|l| l.starts_with(".Dt ") && l.split_whitespace().nth(2) == Some(extension.as_str())),
            "{}: .Dt section is not {extension}",
            page.display()
        );
    }
}

/// Pages this repository ships (`man/NAME.SECTION`).
const OUR_PAGES: &[&str] = &["tun", "tunctl", "dladm-tun", "libdltun", "tunneld"];

#[test]
fn smf_manpage_references_resolve() {
    let pages = man_pages();
    for manifest in files_under(&smf_dir(), &|p| p.extension().is_some_and(|e| e == "xml")) {
        let body = fs::read_to_string(&manifest).expect("read");
        for reference in body.split("<manpage ").skip(1) {
            let attr = |key: &str| reference.split(&format!("{key}=\"")).nth(1).and_then(|v| v.split('"').next()).unwrap_or("");
            let (title, section) = (attr("title"), attr("section"));
            if OUR_PAGES.contains(&title) {
                let file = format!("{title}.{}", section.to_lowercase());
                assert!(
                    pages.iter().any(|p| p.file_name().is_some_and(|n| n.to_string_lossy() == file)),
                    "{}: <manpage title=\"{title}\" section=\"{section}\"> has no man/{file}",
                    manifest.display()
                );
            }
        }
    }
    let tunneld = fs::read_to_string(smf_dir().join("tunneld/tunneld.xml")).expect("read");
    assert!(tunneld.contains("<manpage title=\"tunneld\" section=\"8\""), "tunneld.xml links its own page");
}

#[test]
fn cross_references_between_our_pages_resolve() {
    let pages = man_pages();
    let ours: Vec<(String, String)> = pages
        .iter()
        .filter_map(|p| Some((p.file_stem()?.to_string_lossy().into_owned(), p.extension()?.to_string_lossy().to_uppercase())))
        .collect();
    for page in &pages {
        for line in fs::read_to_string(page).expect("read").lines() {
            let Some(rest) = line.strip_prefix(".Xr ") else { continue };
            let words: Vec<&str> = rest.split_whitespace().collect();
            let [name, section, ..] = words.as_slice() else { continue };
            let is_ours = OUR_PAGES.contains(name);
            if is_ours {
                assert!(
                    ours.iter().any(|(n, s)| n == name && s == &section.to_uppercase()),
                    "{}: .Xr {name} {section} has no page man/{name}.{}",
                    page.display(),
                    section.to_lowercase()
                );
            }
        }
    }
}

#[test]
fn mandoc_lint_rejects_a_broken_page() {
    let scratch = Scratch::new("badman");
    let path = scratch.0.join("bad.8");
    fs::write(&path, ".\\\" SPDX-License-Identifier: MPL-2.0\n.Dd November 21, 2026\n.Dt BAD 8\n.Os\n.Sh NAME\n.Nm bad\n.Sh DESCRIPTION\n.Bl -tag\n.It x\ny\n").expect("write");
    let (clean, messages) = mandoc_lint(&path);
    assert!(!clean, "mandoc accepted a page without .Nd and with an unclosed list");
    assert!(messages.contains("Nd") || messages.contains("Bl"), "{messages}");
}

// ===== libdltun(3LIB) against libdltun.h =====

fn libdltun_page() -> String {
    fs::read_to_string(repo().join("man/libdltun.3lib")).expect("read man/libdltun.3lib")
}

fn libdltun_header() -> String {
    fs::read_to_string(repo().join("libdltun/include/libdltun.h")).expect("read libdltun/include/libdltun.h")
}

/// Undoes the roff escapes a literal display may use (`\e`, `\&`, `\-`,
/// `\(aq`, `\(dq`); any other escape is an error naming the line.
fn roff_literal_text(line: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('e') => out.push('\\'),
            Some('&') => {}
            Some('-') => out.push('-'),
            Some('(') => {
                let name: String = chars.by_ref().take(2).collect();
                match name.as_str() {
                    "aq" => out.push('\''),
                    "dq" => out.push('"'),
                    other => return Err(format!("unknown roff escape \\({other} in {line:?}")),
                }
            }
            other => return Err(format!("unknown roff escape \\{} in {line:?}", other.map(String::from).unwrap_or_default())),
        }
    }
    Ok(out)
}

/// The C programs of a page's EXAMPLES section: each `.Bd -literal`
/// display there that includes `<libdltun.h>`, as plain C.
fn c_examples(page: &str) -> Result<Vec<String>, String> {
    let mut in_examples = false;
    let mut display: Option<String> = None;
    let mut programs = Vec::new();
    for (index, line) in page.lines().enumerate() {
        if let Some(code) = display.as_mut() {
            if line.starts_with(".Ed") {
                let code = display.take().unwrap_or_default();
                if in_examples && code.contains("#include <libdltun.h>") {
                    programs.push(code);
                }
            } else if line.starts_with('.') {
                return Err(format!("line {}: a request inside a literal display: {line:?}", index + 1));
            } else {
                code.push_str(&roff_literal_text(line).map_err(|e| format!("line {}: {e}", index + 1))?);
                code.push('\n');
            }
        } else if line.starts_with(".Sh ") {
            in_examples = line.trim_end() == ".Sh EXAMPLES";
        } else if line.starts_with(".Bd -literal") {
            display = Some(String::new());
        }
    }
    if display.is_some() {
        return Err("a literal display is not closed with .Ed".into());
    }
    Ok(programs)
}

/// Compiles `program` against libdltun.h as strict C99; the output on
/// failure.
fn compile_against_libdltun_h(program: &str, scratch: &Path, name: &str) -> Result<(), String> {
    let source = scratch.join(format!("{name}.c"));
    fs::write(&source, program).expect("write example");
    let out = Command::new("gcc")
        .args(["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-c", "-I"])
        .arg(repo().join("libdltun/include"))
        .arg(&source)
        .arg("-o")
        .arg(scratch.join(format!("{name}.o")))
        .output()
        .unwrap_or_else(|e| panic!("cannot run gcc ({e}); install it: apt-get install gcc"));
    if out.status.success() { Ok(()) } else { Err(text(&out)) }
}

/// Identifiers starting with `dltun_` or `DLTUN_` (a trailing `_`, as in
/// `DLTUN_ATTR_*`, marks a prefix).
fn dltun_names(body: &str) -> std::collections::BTreeSet<String> {
    body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("dltun_") || w.starts_with("DLTUN_"))
        .map(str::to_owned)
        .collect()
}

/// What the page gets wrong about the header: names it uses that the
/// header lacks, names of the header it never mentions (struct tags
/// excepted: `struct dltun_attr` is documented as `dltun_attr_t`), and
/// status codes whose value differs.
fn libdltun_page_problems(page: &str, header: &str) -> Vec<String> {
    let in_header = dltun_names(header);
    let in_page = dltun_names(page);
    let mut problems = Vec::new();
    for name in &in_page {
        let known = if name.ends_with('_') {
            in_header.iter().any(|h| h.starts_with(name.as_str()) && h.len() > name.len())
        } else {
            in_header.contains(name)
        };
        if !known {
            problems.push(format!("the page names {name}, which libdltun.h does not define"));
        }
    }
    for name in &in_header {
        let is_tag = in_header.contains(&format!("{name}_t"));
        if !is_tag && !in_page.contains(name) {
            problems.push(format!("libdltun.h defines {name}, which the page does not describe"));
        }
    }
    // `DLTUN_STATUS_X = N` in the header, `.It Dv DLTUN_STATUS_X Pq N` on the page.
    for line in header.lines() {
        let Some((name, value)) = line.trim().split_once(" = ") else { continue };
        if !name.starts_with("DLTUN_STATUS_") {
            continue;
        }
        let value: String = value.chars().take_while(char::is_ascii_digit).collect();
        let documented = format!(".It Dv {name} Pq {value}");
        if !page.lines().any(|l| l.trim_end() == documented) {
            problems.push(format!("the page's RETURN VALUES lack `{documented}`"));
        }
    }
    problems
}

#[test]
fn libdltun_page_describes_exactly_the_header() {
    let problems = libdltun_page_problems(&libdltun_page(), &libdltun_header());
    assert!(problems.is_empty(), "man/libdltun.3lib vs libdltun/include/libdltun.h:\n{}", problems.join("\n"));
    // The functions are documented with their prototypes.
    let page = libdltun_page();
    for function in ["dltun_open", "dltun_close", "dltun_create", "dltun_delete", "dltun_info", "dltun_walk", "dltun_modify", "dltun_up", "dltun_strerror", "dltun_errmsg"] {
        assert!(page.lines().any(|l| l.starts_with(&format!(".Fn {function} \""))), "no .Fn prototype for {function}");
        assert!(page.contains(&format!(".It Sy {function} ")) || page.contains(&format!("Ta Sy {function}\n")), "{function} not in INTERFACES");
    }
}

#[test]
fn libdltun_page_examples_compile_against_the_header() {
    let programs = c_examples(&libdltun_page()).expect("extract the examples");
    assert!(programs.len() >= 2, "expected at least two C examples in man/libdltun.3lib, found {}", programs.len());
    let scratch = Scratch::new("libdltun-examples");
    for (index, program) in programs.iter().enumerate() {
        assert!(program.contains("int\nmain(void)"), "example {} is not a whole program:\n{program}", index + 1);
        if let Err(messages) = compile_against_libdltun_h(program, &scratch.0, &format!("example{}", index + 1)) {
            panic!("example {} of man/libdltun.3lib does not compile:\n{messages}\n--- program ---\n{program}", index + 1);
        }
    }
}

#[test]
fn libdltun_page_checks_catch_a_stale_page() {
    let header = libdltun_header();
    // A renamed function, a removed status code, a changed status value.
    let stale = libdltun_page()
        .replace("dltun_walk(handle", "dltun_walk_all(handle")
        .replace(".It Dv DLTUN_STATUS_UNAVAIL Pq 102", ".It Dv DLTUN_STATUS_UNAVAIL Pq 99")
        .replace("DLTUN_ORIGIN_ATTACH", "DLTUN_ORIGIN_DAEMON");
    let problems = libdltun_page_problems(&stale, &header);
    for expected in [
        "names dltun_walk_all, which libdltun.h does not define",
        "names DLTUN_ORIGIN_DAEMON",
        "defines DLTUN_ORIGIN_ATTACH, which the page does not describe",
        "lack `.It Dv DLTUN_STATUS_UNAVAIL Pq 102`",
    ] {
        assert!(problems.iter().any(|p| p.contains(expected)), "{expected:?} not in {problems:?}");
    }
    // The example calling the renamed function no longer compiles.
    let programs = c_examples(&stale).expect("extract");
    let scratch = Scratch::new("libdltun-stale");
    let broken = programs.iter().find(|p| p.contains("dltun_walk_all")).expect("the renamed call is in an example");
    let messages = compile_against_libdltun_h(broken, &scratch.0, "stale").expect_err("gcc accepted an undeclared function");
    assert!(messages.contains("dltun_walk_all"), "{messages}");
    // Extraction refuses what it cannot turn into C.
    assert!(c_examples(".Sh EXAMPLES\n.Bd -literal\n#include <libdltun.h>\n").is_err(), "unclosed display");
    assert!(c_examples(".Sh EXAMPLES\n.Bd -literal\n#include <libdltun.h>\nx = \\(zz;\n.Ed\n").is_err(), "unknown escape");
    assert_eq!(roff_literal_text("printf(\"%s\\en\", \\(aqa\\(aq);").expect("escapes"), "printf(\"%s\\n\", 'a');");
}

// ===== tun(4D) against tuntap-abi and the driver =====

fn tun_page() -> String {
    fs::read_to_string(repo().join("man/tun.4d")).expect("read man/tun.4d")
}

/// The errno names (`EXXX`) a page's ERRORS section lists.
fn listed_errnos(page: &str) -> std::collections::BTreeSet<String> {
    let section = page.split(".Sh ERRORS").nth(1).unwrap_or("");
    let section = section.split("\n.Sh ").next().unwrap_or("");
    section
        .lines()
        .filter_map(|l| l.strip_prefix(".It Bq Er "))
        .map(|e| e.trim().to_owned())
        .collect()
}

/// The errno names a Rust source returns as `sys::EXXX`.
fn errnos_in(source: &str) -> std::collections::BTreeSet<String> {
    source
        .split("sys::")
        .skip(1)
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>())
        .filter(|name| name.len() > 2 && name.starts_with('E') && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
        .filter(|name| name != "ETHER")
        .collect()
}

/// What tun(4D) gets wrong about the ABI and the driver.
fn tun_page_problems(page: &str, driver_sources: &[String], all_driver_sources: &[String]) -> Vec<String> {
    use tuntap_abi::batch::batch_flags;
    use tuntap_abi::offload::offload_flags;
    use tuntap_abi::{attach_flags, create_flags, delete_flags, modify_what};
    let mut problems = Vec::new();
    // Every command, with its number.
    let commands: &[(&str, i32)] = &[
        ("TUN_IOC_CREATE", tuntap_abi::TUN_IOC_CREATE),
        ("TUN_IOC_DELETE", tuntap_abi::TUN_IOC_DELETE),
        ("TUN_IOC_INFO", tuntap_abi::TUN_IOC_INFO),
        ("TUN_IOC_LIST", tuntap_abi::TUN_IOC_LIST),
        ("TUN_IOC_MODIFY", tuntap_abi::TUN_IOC_MODIFY),
        ("TUN_IOC_ATTACH", tuntap_abi::TUN_IOC_ATTACH),
        ("TUN_IOC_DETACH", tuntap_abi::TUN_IOC_DETACH),
        ("TUN_IOC_SET_OWNER", tuntap_abi::TUN_IOC_SET_OWNER),
        ("TUN_IOC_SET_GROUP", tuntap_abi::TUN_IOC_SET_GROUP),
        ("TUN_IOC_SET_PERSIST", tuntap_abi::TUN_IOC_SET_PERSIST),
        ("TUN_IOC_SET_CARRIER", tuntap_abi::TUN_IOC_SET_CARRIER),
        ("TUN_IOC_QUEUE_LIMITS", tuntap_abi::TUN_IOC_QUEUE_LIMITS),
        ("TUN_IOC_BATCH", tuntap_abi::TUN_IOC_BATCH),
        ("TUN_IOC_OFFLOAD", tuntap_abi::TUN_IOC_OFFLOAD),
    ];
    for (name, value) in commands {
        let line = format!(".It Dv {name} Pq {}", value & 0xffff);
        if !page.lines().any(|l| l.trim_end() == line) {
            problems.push(format!("no `{line}` for {name} = {value:#x}"));
        }
    }
    for word in page.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        let known = commands.iter().any(|(n, _)| *n == word) || ["TUNNEWPPA", "TUNSETPPA", "TUNGETPPA"].contains(&word);
        if (word.starts_with("TUN_IOC_") || (word.starts_with("TUN") && word.ends_with("PPA"))) && !known {
            problems.push(format!("the page names {word}, which tuntap-abi does not define"));
        }
    }
    for old in ["TUNNEWPPA", "TUNSETPPA", "TUNGETPPA"] {
        if !page.contains(&format!(".It Dv {old}\n")) {
            problems.push(format!("the old API's {old} is not described"));
        }
    }
    // Flags, with their values, as `Dv NAME Pq 0xNNNN`.
    let flags: &[(&str, &str, u32)] = &[
        ("create", "TUN", create_flags::TUN),
        ("create", "TAP", create_flags::TAP),
        ("create", "PERSIST", create_flags::PERSIST),
        ("create", "MAC_GIVEN", create_flags::MAC_GIVEN),
        ("delete", "FORCE", delete_flags::FORCE),
        ("attach", "EXCLUSIVE", attach_flags::EXCLUSIVE),
        ("attach", "MULTI_QUEUE", attach_flags::MULTI_QUEUE),
        ("attach", "PACKET_INFO", attach_flags::PACKET_INFO),
        ("attach", "CREATE", attach_flags::CREATE),
        ("modify", "MTU", modify_what::MTU),
        ("modify", "MAC", modify_what::MAC),
        ("modify", "OWNER", modify_what::OWNER),
        ("modify", "GROUP", modify_what::GROUP),
        ("modify", "PERSIST", modify_what::PERSIST),
        ("modify", "CARRIER", modify_what::CARRIER),
        ("batch", "READ", batch_flags::READ),
        ("batch", "WRITE", batch_flags::WRITE),
        ("offload", "VNET_HDR", offload_flags::VNET_HDR),
        ("offload", "CSUM", offload_flags::CSUM),
        ("offload", "TSO4", offload_flags::TSO4),
        ("offload", "TSO6", offload_flags::TSO6),
    ];
    let all_bits = [
        ("create", create_flags::ALL),
        ("delete", delete_flags::ALL),
        ("attach", attach_flags::ALL),
        ("modify", modify_what::ALL),
        ("batch", batch_flags::ALL),
        ("offload", offload_flags::ALL),
    ];
    for (command, all) in all_bits {
        let listed = flags.iter().filter(|(c, _, _)| *c == command).fold(0, |acc, (_, _, v)| acc | v);
        let attach_modes = if command == "attach" { attach_flags::TUN | attach_flags::TAP } else { 0 };
        if listed | attach_modes != all {
            problems.push(format!("{command}: the flags the test knows ({listed:#x}) are not all the driver's ({all:#x})"));
        }
    }
    for (command, name, value) in flags {
        let text = format!("Dv {name} Pq {value:#06x}");
        if !page.contains(&text) {
            problems.push(format!("{command} flag {name}: no `{text}`"));
        }
    }
    // Errors: every errno the ioctl, open and DLPI paths return is listed,
    // and every listed one is returned somewhere in the driver.
    let listed = listed_errnos(page);
    let returned: std::collections::BTreeSet<String> = driver_sources.iter().flat_map(|s| errnos_in(s)).collect();
    let anywhere: std::collections::BTreeSet<String> = all_driver_sources.iter().flat_map(|s| errnos_in(s)).collect();
    for errno in returned.difference(&listed) {
        problems.push(format!("the driver returns {errno}, which ERRORS does not list"));
    }
    for errno in listed.difference(&anywhere) {
        problems.push(format!("ERRORS lists {errno}, which the driver never returns"));
    }
    problems
}

/// The driver's sources under `tuntap-drv/src` named by `names`: a file,
/// or a directory (every `.rs` file below it).
fn driver_sources(names: &[&str]) -> Vec<String> {
    let root = repo().join("tuntap-drv/src");
    let mut files = Vec::new();
    for n in names {
        let path = root.join(n);
        if path.is_dir() {
            rs_files_below(&path, &mut files);
        } else {
            files.push(path);
        }
    }
    files
        .iter()
        .map(|p| fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())))
        .collect()
}

fn rs_files_below(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files_below(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The device path: open, the ioctl table and its commands
/// (driver/), ioctl replies (ioctl.rs), old-API IP (dlpi/).
const DEVICE_PATH_SOURCES: &[&str] = &["driver", "ioctl.rs", "dlpi"];

/// Every driver source but the kernel layer (`illumos/`), which only
/// translates, relative to `tuntap-drv/src`.
fn all_driver_source_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(repo().join("tuntap-drv/src"))
        .expect("read tuntap-drv/src")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "illumos")
        .collect();
    names.sort();
    names
}

#[test]
fn tun_page_matches_the_abi_and_the_driver() {
    let all_names = all_driver_source_names();
    let all: Vec<&str> = all_names.iter().map(String::as_str).collect();
    let problems = tun_page_problems(&tun_page(), &driver_sources(DEVICE_PATH_SOURCES), &driver_sources(&all));
    assert!(problems.is_empty(), "man/tun.4d:\n{}", problems.join("\n"));
    let page = tun_page();
    // The old-API IP plumbing and the rules that landed with it.
    for needle in ["I_PUSH", "IF_UNITSEL", "SIOCSLIFNAME", "I_PLINK", "DL_STYLE2", "DL_ETHER", "DL_UNITDATA_REQ", "DL_IOC_HDR_INFO", "no fast path", "reserved fields", "It takes no argument"] {
        assert!(page.contains(needle), "man/tun.4d does not mention {needle}");
    }
}

#[test]
fn tun_page_checks_catch_a_stale_page() {
    let all_names = all_driver_source_names();
    let all: Vec<&str> = all_names.iter().map(String::as_str).collect();
    let stale = tun_page()
        .replace(".It Dv TUN_IOC_QUEUE_LIMITS Pq 12", ".It Dv TUN_IOC_QUEUE_LIMIT Pq 12")
        .replace("Dv PACKET_INFO Pq 0x0400", "Dv PACKET_INFO Pq 0x0800")
        .replace(".It Bq Er ENOTSUP\n", ".It Bq Er EOPNOTSUPP\n");
    let problems = tun_page_problems(&stale, &driver_sources(DEVICE_PATH_SOURCES), &driver_sources(&all));
    for expected in [
        "no `.It Dv TUN_IOC_QUEUE_LIMITS Pq 12`",
        "names TUN_IOC_QUEUE_LIMIT,",
        "attach flag PACKET_INFO: no `Dv PACKET_INFO Pq 0x0400`",
        "returns ENOTSUP, which ERRORS does not list",
        "ERRORS lists EOPNOTSUPP, which the driver never returns",
    ] {
        assert!(problems.iter().any(|p| p.contains(expected)), "{expected:?} not in {problems:?}");
    }
    assert_eq!(errnos_in("Err(sys::EINVAL) sys::DL_ETHER sys::ETHER sys::E2BIG").into_iter().collect::<Vec<_>>(), vec!["E2BIG", "EINVAL"]);
}

// ===== net/if_tun.h =====

#[test]
fn if_tun_h_constants_match_tuntap_abi() {
    let scratch = Scratch::new("iftun");
    let source = scratch.0.join("print.c");
    fs::write(
        &source,
        "#include <stdio.h>\n#include <net/if_tun.h>\n\
         int main(void) { printf(\"%d %d %d %d\\n\", TUNNEWPPA, TUNSETPPA, TUNGETPPA, TUN_OLD_API_MAX_PPA); return 0; }\n",
    )
    .expect("write");
    let binary = scratch.0.join("print");
    let out = Command::new("gcc")
        .args(["-std=c99", "-Wall", "-Werror", "-pedantic", "-I"])
        .arg(repo().join("include"))
        .arg(&source)
        .arg("-o")
        .arg(&binary)
        .output()
        .unwrap_or_else(|e| panic!("cannot run gcc ({e}); install it: apt-get install gcc"));
    assert!(out.status.success(), "gcc:\n{}", text(&out));
    // Also valid C++ (the extern "C" guard).
    let out = Command::new("gcc")
        .args(["-x", "c++", "-fsyntax-only", "-Wall", "-Werror", "-I"])
        .arg(repo().join("include"))
        .arg(&source)
        .output()
        .expect("run gcc -x c++");
    assert!(out.status.success() || text(&out).contains("g++") || text(&out).contains("cc1plus"), "g++:\n{}", text(&out));
    let out = Command::new(&binary).output().expect("run the program");
    let values: Vec<i64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|v| v.parse().expect("number"))
        .collect();
    assert_eq!(
        values,
        vec![
            i64::from(tuntap_abi::TUNNEWPPA),
            i64::from(tuntap_abi::TUNSETPPA),
            i64::from(tuntap_abi::TUNGETPPA),
            i64::from(tuntap_abi::OLD_API_MAX_PPA)
        ]
    );
    assert_eq!(values[0], 0x54_0001, "TUNNEWPPA as OpenVPN knows it");
}

// ===== licence =====

/// Source kinds that must carry an SPDX line, by extension or name.
fn needs_spdx(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let extension = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    matches!(extension, "rs" | "sh" | "xml" | "p5m" | "h" | "c")
        && !name.eq_ignore_ascii_case("Cargo.lock")
        || ["4d", "8", "3lib", "1", "5", "7"].contains(&extension) && path.starts_with("man/")
        || path.starts_with("smf/") && (name == "auth_attr" || name == "prof_attr")
        || path.starts_with("xtask/tests/smf-env/bin/")
}

/// Third-party files that keep their own licence notice.
const FOREIGN: &[&str] = &["smf/service_bundle.dtd.1"];

fn spdx_problem(path: &Path) -> Option<String> {
    let body = fs::read(path).ok()?;
    let head = String::from_utf8_lossy(&body[..body.len().min(600)]).into_owned();
    let found = head.lines().take(5).any(|l| l.contains("SPDX-License-Identifier: MPL-2.0"));
    (!found).then(|| format!("{}: no `SPDX-License-Identifier: MPL-2.0` in its first 5 lines", path.display()))
}

#[test]
fn every_source_file_carries_an_spdx_line() {
    let root = repo();
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run git ls-files ({e}); the SPDX gate needs git"));
    assert!(out.status.success(), "git ls-files: {}", text(&out));
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let files: Vec<&str> = listed
        .split('\0')
        .filter(|f| !f.is_empty() && needs_spdx(f) && !FOREIGN.contains(f))
        .filter(|f| !f.starts_with("xtask/testdata/") || f.ends_with(".c") || f.ends_with(".rs"))
        .collect();
    assert!(files.len() > 50, "expected the whole source tree, got {} files", files.len());
    let problems: Vec<String> = files.iter().filter_map(|f| spdx_problem(&root.join(f))).collect();
    assert!(problems.is_empty(), "files without an SPDX line:\n{}", problems.join("\n"));
}

#[test]
fn spdx_gate_flags_a_file_without_the_line() {
    let scratch = Scratch::new("spdx");
    let bare = scratch.0.join("bare.rs");
    fs::write(&bare, "fn main() {}\n").expect("write");
    assert!(spdx_problem(&bare).is_some_and(|p| p.contains("bare.rs")));
    let late = scratch.0.join("late.sh");
    fs::write(&late, "#!/bin/sh\n\n\n\n\n\n# SPDX-License-Identifier: MPL-2.0\n").expect("write");
    assert!(spdx_problem(&late).is_some(), "the line must be near the top");
    let good = scratch.0.join("good.p5m");
    fs::write(&good, "# SPDX-License-Identifier: MPL-2.0\nset name=a value=b\n").expect("write");
    assert!(spdx_problem(&good).is_none());
    assert!(needs_spdx("manifests/x.p5m") && needs_spdx("include/net/if_tun.h") && needs_spdx("smf/a/b.xml"));
    assert!(needs_spdx("man/tun.4d") && !needs_spdx("README.md"));
}
