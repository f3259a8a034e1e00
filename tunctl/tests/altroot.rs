// SPDX-License-Identifier: MPL-2.0
//! `-R root`, as `dladm -R` (illumos-gate `usr/src/cmd/dladm/dladm.c`,
//! `altroot_cmd`): the command is checked, then appended to the alternate
//! root's boot script (`var/svc/profile/upgrade_datalink` when the root
//! has `etc/dladm/datalink.conf`, else `var/svc/profile/upgrade`) and the
//! running system is not touched.  The line written runs as written:
//! split by sh(1) and given to tunctl on a simulated host, it makes the
//! link it describes.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;

use libdladm_plugin::sim::SimSystem;
use tunctl::altroot::{DATALINK_CONF, MARK, TUNCTL, UPGRADE, UPGRADE_DATALINK};
use tunctl::exit;

struct Run {
    code: i32,
    out: String,
    err: String,
    connected: bool,
}

/// tunctl with `args`, recording whether it connected to the system.
fn tunctl(sys: &SimSystem, args: &[&str]) -> Run {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let connected = Cell::new(false);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = tunctl::run(
        &args,
        || {
            connected.set(true);
            Ok(sys.admin())
        },
        &mut out,
        &mut err,
    );
    Run { code, out: String::from_utf8(out).unwrap(), err: String::from_utf8(err).unwrap(), connected: connected.get() }
}

/// An alternate root with `var/svc/profile`, and `etc/dladm/datalink.conf`
/// when `datalink_conf`.
fn alt_root(name: &str, datalink_conf: bool) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("altroot-{name}"));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("var/svc/profile")).unwrap();
    if datalink_conf {
        std::fs::create_dir_all(root.join("etc/dladm")).unwrap();
        std::fs::write(root.join(DATALINK_CONF), "").unwrap();
    }
    root
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// The words sh(1) makes of a line's command (without the program and
/// the trailing comment).
fn sh_words(line: &str) -> Vec<String> {
    let command = line.strip_prefix(TUNCTL).unwrap().strip_suffix(MARK).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("set -- {command}; for w do printf '%s\\0' \"$w\"; done"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().split_terminator('\0').map(str::to_string).collect()
}

#[test]
fn create_modify_delete_are_left_to_the_roots_boot() {
    let sys = SimSystem::new();
    let root = alt_root("boot", true);
    let r = root.to_str().unwrap();
    let runs = [
        tunctl(&sys, &["create", "-R", r, "-T", "tap", "-p", "maxbw=10M", "--mtu", "1400", "-p", "owner=openvpn,group=Ann Lee", "vpn0"]),
        tunctl(&sys, &["modify", &format!("--root-dir={r}"), "-p", "owner=", "--mtu", "9000", "vpn0"]),
        tunctl(&sys, &["delete", "-tR", r, "-f", "tun3"]),
    ];
    for run in &runs {
        assert_eq!((run.code, run.out.as_str(), run.err.as_str()), (exit::OK, "", ""));
        assert!(!run.connected, "-R must not touch the running system");
    }
    let written = lines(&root.join(UPGRADE_DATALINK));
    assert_eq!(
        written,
        [
            "/usr/sbin/tunctl create -T tap -p 'mtu=1400,owner=openvpn,group=Ann Lee,maxbw=10M' vpn0 # added by tunctl(8)",
            "/usr/sbin/tunctl modify -p mtu=9000,owner= vpn0 # added by tunctl(8)",
            "/usr/sbin/tunctl delete -t -f tun3 # added by tunctl(8)",
        ]
    );
    assert!(!root.join(UPGRADE).exists(), "a root with datalink.conf uses upgrade_datalink");
    assert_eq!(sh_words(&written[0]), ["create", "-T", "tap", "-p", "mtu=1400,owner=openvpn,group=Ann Lee,maxbw=10M", "vpn0"]);
    assert_eq!(tunctl(&sys, &["show", "-P"]).out.lines().count(), 1, "nothing was configured here (a header only)");
    sys.finish();
}

#[test]
fn a_root_without_datalink_conf_gets_the_upgrade_script() {
    let sys = SimSystem::new();
    let root = alt_root("upgrade", false);
    let run = tunctl(&sys, &["create", "-R", root.to_str().unwrap(), "-T", "tun", "-t", "tun0"]);
    assert_eq!((run.code, run.err.as_str()), (exit::OK, ""));
    assert_eq!(lines(&root.join(UPGRADE)), ["/usr/sbin/tunctl create -T tun -t tun0 # added by tunctl(8)"]);
    assert!(!root.join(UPGRADE_DATALINK).exists());
    sys.finish();
}

#[test]
fn the_line_runs_as_written_at_boot() {
    let root = alt_root("runs", true);
    let r = root.to_str().unwrap();
    let sys = SimSystem::new();
    assert_eq!(tunctl(&sys, &["create", "-R", r, "--mac", "2:8:20:a:b:c", "-p", "mtu=1400,owner=1001,priority=low", "vpn0"]).code, exit::OK);
    assert_eq!(tunctl(&sys, &["modify", "-R", r, "--no-owner", "--group", "1002", "vpn0"]).code, exit::OK);
    // The alternate root boots: its script's lines run in order.
    let booted = SimSystem::new();
    for line in lines(&root.join(UPGRADE_DATALINK)) {
        let words = sh_words(&line);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let run = tunctl(&booted, &words);
        assert_eq!((run.code, run.err.as_str()), (exit::OK, ""), "{line}");
    }
    let shown = tunctl(&booted, &["show", "-p", "-o", "link,mode,mtu,macaddress,owner,group,persist", "vpn0"]);
    assert_eq!(shown.out, "vpn0:tap:1400:2\\:8\\:20\\:a\\:b\\:c:--:1002:yes\n");
    assert_eq!(booted.linkprop("vpn0", "priority").as_deref(), Some("low"), "any link property goes through -R too");
    booted.finish();
    sys.finish();
}

#[test]
fn bad_input_is_refused_before_anything_is_written() {
    let sys = SimSystem::new();
    let root = alt_root("bad", true);
    let r = root.to_str().unwrap();
    let cases: [(&[&str], i32, &str); 7] = [
        (&["create", "-R", r, "vpn"], exit::USAGE, "tunctl: link vpn: "),
        (&["create", "-R", r, "--mtu", "70000", "vpn0"], exit::USAGE, "tunctl: link vpn0: "),
        (&["create", "-R", r, "-T", "tun", "--mac", "2:8:20:1:2:3", "tun0"], exit::USAGE, "tunctl: link tun0: "),
        (&["create", "-R", r, "-p", "maxbw=", "vpn0"], exit::USAGE, "tunctl: link vpn0: property 'maxbw' needs a value"),
        (&["modify", "-R", r, "vpn0"], exit::USAGE, "tunctl: link vpn0: nothing to change"),
        (&["delete", "-R", r, "0vpn"], exit::USAGE, "tunctl: link 0vpn: "),
        (&["show", "-R", r], exit::USAGE, "tunctl: unexpected argument '-R'"),
    ];
    for (args, code, message) in cases {
        let run = tunctl(&sys, args);
        assert_eq!(run.code, code, "{args:?}: {}", run.err);
        assert!(run.err.starts_with(message), "{args:?}: {}", run.err);
        assert!(!run.connected, "{args:?} connected");
    }
    assert!(!root.join(UPGRADE_DATALINK).exists() && !root.join(UPGRADE).exists(), "nothing was written");
    sys.finish();
}

#[test]
fn a_root_that_cannot_take_the_script_is_not_supported() {
    let sys = SimSystem::new();
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("altroot-missing");
    let _ = std::fs::remove_dir_all(&root);
    let run = tunctl(&sys, &["create", "-R", root.to_str().unwrap(), "vpn0"]);
    assert_eq!(run.code, exit::FAILED);
    let expected = format!("tunctl: operation not supported on {}: cannot append to ", root.display());
    assert!(run.err.starts_with(&expected), "{}", run.err);
    assert!(!run.connected && !root.exists());
    sys.finish();
}
