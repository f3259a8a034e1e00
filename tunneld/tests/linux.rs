// SPDX-License-Identifier: MPL-2.0
//! Linux's /dev/net/tun backend: two daemons whose links live in two
//! network namespaces (the test creates them; it needs root and fails
//! with a clear message otherwise), joined over loopback TLS; ping
//! across works at MTU 1500 and 9000, and stopping removes the links.
//! Also the `tunneld` program itself: signals, status, exit codes.
#![cfg(target_os = "linux")]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use tunneld::device::linux::LinuxTun;
use tunneld::Mode;

const WAIT: Duration = Duration::from_secs(10);

fn ping_across(mtu: u32) {
    let rt = runtime();
    let pki = Pki::new();
    let (na, nb) = (Netns::new(&format!("a{mtu}")), Netns::new(&format!("b{mtu}")));
    let s = Running::start(&rt, &pki.server_toml("server", "tnl0", "tun", mtu), tun_in(&nb, "10.66.0.2/24", mtu, false));
    let c = Running::start(&rt, &pki.client_toml("client", &s.address(), "tnl0", "tun", mtu), tun_in(&na, "10.66.0.1/24", mtu, false));
    let (sc, cc) = (s.counters.clone(), c.counters.clone());
    connected(&[&s, &c]);

    let size = (mtu - 28).to_string();
    let out = na.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "3", "-M", "do", "-s", &size, "10.66.0.2"]);
    assert!(out.status.success(), "ping a -> b at {size} bytes: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let out = nb.exec(&["ping", "-c", "2", "-i", "0.2", "-W", "3", "10.66.0.1"]);
    assert!(out.status.success(), "ping b -> a: {}", String::from_utf8_lossy(&out.stdout));
    assert!(tunneld::Counters::get(&cc.tx_packets) >= 3);
    assert!(tunneld::Counters::get(&sc.rx_packets) >= 3);

    c.stop(&rt);
    s.stop(&rt);
    // The kernel removes a tun when its last file reference goes, which
    // a busy machine may finish a moment after the daemon's close.
    assert!(wait_until(WAIT, || !na.has_link("tnl0") && !nb.has_link("tnl0")), "the tun interfaces are gone");
}

#[test]
fn ping_across_two_namespaces_at_mtu_1500() {
    ping_across(1500);
}

#[test]
fn ping_across_two_namespaces_at_mtu_9000() {
    ping_across(9000);
}

#[test]
fn bad_linux_interface_names_are_refused() {
    let err = LinuxTun::open("averyveryverylongname0", Mode::Tun, 1500).err().unwrap();
    assert!(err.to_string().contains("is not a Linux interface name"), "{err}");
    let err = LinuxTun::open_in_netns(Path::new("/nonexistent/ns"), "tnl0", Mode::Tun, 1500).err().unwrap();
    assert!(err.to_string().contains("network namespace /nonexistent/ns"), "{err}");
}

// ----- the program -----

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tunneld")
}

fn run_bin(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn the_program_exits_with_the_documented_codes() {
    let pki = Pki::new();
    let (code, _, err) = run_bin(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--config FILE is required"), "{err}");
    let (code, _, err) = run_bin(&["--config", "x", "frobnicate"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("frobnicate"), "{err}");
    let (code, out, _) = run_bin(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("tunneld status [--json] --config FILE") && out.contains("Exit codes"), "{out}");

    let (code, _, err) = run_bin(&["check", "--config", "/nonexistent/vpn0.toml"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("ERROR") && err.contains("configuration /nonexistent/vpn0.toml: cannot read"), "{err}");

    let bad = pki.path("bad.toml");
    std::fs::write(&bad, pki.server_toml("server", "tnl0", "tun", 1500).replace("mtu = 1500", "mtu = 10")).unwrap();
    let (code, _, err) = run_bin(&["check", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("[link] mtu: invalid MTU 10: must be 576 to 65535"), "{err}");

    std::fs::write(&bad, pki.server_toml("server", "tnl0", "tun", 1500).replace("server.crt", "gone.crt")).unwrap();
    let (code, _, err) = run_bin(&["check", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("gone.crt"), "{err}");

    let good = pki.path("good.toml");
    std::fs::write(&good, pki.server_toml("server", "tnl0", "tun", 1500)).unwrap();
    let (code, out, err) = run_bin(&["check", "--config", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("configuration and TLS files are usable"), "{out}");
    let (code, _, err) = run_bin(&["status", "--config", good.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no [status] socket configured"), "{err}");

    let sock = pki.path("none.sock");
    std::fs::write(&good, format!("{}\n[status]\nsocket = {sock:?}\n", pki.server_toml("server", "tnl0", "tun", 1500))).unwrap();
    let (code, _, err) = run_bin(&["status", "--config", good.to_str().unwrap()]);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("cannot reach tunneld at"), "{err}");

    // A link name Linux cannot have: exit 5, and the status socket bound
    // before it is removed again.
    std::fs::write(&bad, format!("{}\n[status]\nsocket = {sock:?}\n", pki.server_toml("server", "a1234567890123456", "tun", 1500))).unwrap();
    let (code, _, err) = run_bin(&["run", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("link a1234567890123456: \"a1234567890123456\" is not a Linux interface name"), "{err}");
    assert!(!sock.exists());
}

#[test]
fn the_program_serves_reports_and_stops_cleanly_on_sigterm() {
    let pki = Pki::new();
    let ns = Netns::new("prog");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (ssock, csock) = (pki.path("s.sock"), pki.path("c.sock"));
    let server_toml = pki.path("server.toml");
    std::fs::write(
        &server_toml,
        format!(
            "{}address = \"10.66.9.1/24\"\nroutes = [\"10.66.99.0/24\"]\n\n[status]\nsocket = {ssock:?}\n",
            pki.server_toml("server", "tnls0", "tun", 1500).replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
        ),
    )
    .unwrap();
    let client_toml = pki.path("client.toml");
    std::fs::write(&client_toml, format!("{}\n[status]\nsocket = {csock:?}\n", pki.client_toml("client", &format!("127.0.0.1:{port}"), "tnlc0", "tun", 1500))).unwrap();

    let spawn = |cfg: &Path| {
        Command::new("ip")
            .args(["netns", "exec", &ns.0, bin(), "--config", cfg.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let server = spawn(&server_toml);
    assert!(wait_until(WAIT, || ssock.exists()), "server status socket appears");
    let client = spawn(&client_toml);
    let status = |cfg: &Path| run_bin(&["status", "--config", cfg.to_str().unwrap()]);
    assert!(wait_until(WAIT, || status(&client_toml).1.contains("state=connected")), "client connects: {:?}", status(&client_toml));
    let (code, text, _) = status(&server_toml);
    assert_eq!(code, 0);
    for line in ["link=tnls0", "role=server", "state=connected", "connects=1"] {
        assert!(text.lines().any(|l| l == line), "{line} missing from:\n{text}");
    }
    assert!(ns.has_link("tnls0") && ns.has_link("tnlc0"));
    // [link] address and routes were applied with ip(8).
    let show = |args: &[&str]| String::from_utf8_lossy(&ns.exec(&[&["ip"], args].concat()).stdout).to_string();
    let addrs = show(&["addr", "show", "dev", "tnls0"]);
    assert!(addrs.contains("inet 10.66.9.1/24") && addrs.contains("UP"), "{addrs}");
    let routes = show(&["route", "show", "dev", "tnls0"]);
    assert!(routes.contains("10.66.99.0/24"), "{routes}");

    // SIGUSR1 logs the counters; SIGTERM stops with 0 and removes the
    // link and the status socket.
    let signal = |pid: u32, sig: libc::c_int| {
        // SAFETY: plain kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, sig) }, 0);
    };
    signal(server.id(), libc::SIGUSR1);
    std::thread::sleep(Duration::from_millis(200));
    for (child, is_server) in [(client, false), (server, true)] {
        signal(child.id(), libc::SIGTERM);
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(err.contains("SIGTERM: shutting down") && err.contains("detached; counters: tx_packets="), "{err}");
        if is_server {
            assert!(err.contains("link tnls0: peer client (127.0.0.1:") && err.contains("connects=1"), "SIGUSR1 line: {err}");
        }
    }
    assert!(!ssock.exists() && !csock.exists(), "status sockets removed");
    assert!(!ns.has_link("tnls0") && !ns.has_link("tnlc0"), "links removed");
}
