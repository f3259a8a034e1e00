// SPDX-License-Identifier: MPL-2.0
//! The control node is open to every user (`perms="ctl 0666 root sys"`,
//! so `tunctl show` and `dladm show-tun` work without privilege) only
//! because the driver checks `sys_dl_config` per command: every
//! control-node command of its ioctl table but INFO and LIST needs it.

use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).expect("repository")
}

/// Problems with a driver ioctl table (the text of its `Row { ... }`
/// lines) for a world-openable control node.
fn table_problems(table: &str) -> Vec<String> {
    let rows: Vec<&str> = table.lines().map(str::trim).filter(|l| l.starts_with("Row { cmd: abi::")).collect();
    let mut problems = Vec::new();
    if rows.is_empty() {
        problems.push("no `Row { cmd: abi::... }` lines: the driver's ioctl table moved; point this test at it".into());
    }
    for row in rows {
        let cmd = row.trim_start_matches("Row { cmd: abi::").split(',').next().unwrap_or("");
        let on_control = row.contains("on: Control") || row.contains("on: Any");
        let read_only = cmd == "TUN_IOC_INFO" || cmd == "TUN_IOC_LIST";
        if on_control && !read_only && !row.contains("need: DlConfig") {
            problems.push(format!("{cmd} runs on the control node without `need: DlConfig`"));
        }
    }
    problems
}

fn driver_table() -> String {
    let path = repo().join("tuntap-drv/src/driver/ioctls.rs");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn a_world_openable_control_node_needs_per_command_privilege_checks() {
    let manifest = fs::read_to_string(repo().join("manifests/driver-network-dltun.p5m")).expect("read manifest");
    assert!(manifest.contains("perms=\"ctl 0666 root sys\""), "the control node's mode");
    let problems = table_problems(&driver_table());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_bites_on_a_table_without_the_privilege() {
    let broken = driver_table().replacen("on: Control, need: DlConfig", "on: Control, need: Nothing", 1);
    let problems = table_problems(&broken);
    assert!(problems.iter().any(|p| p.contains("TUN_IOC_CREATE")), "{problems:?}");
}
