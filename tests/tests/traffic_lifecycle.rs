// SPDX-License-Identifier: MPL-2.0
//! Scenario 5: lifecycle under load.
//!
//! * A link deleted while packets flow through its daemon: the delete is
//!   refused while IP (the namespace) is on the link; once IP is gone the
//!   forced delete goes through, the daemon's reader gets a clean "link
//!   gone" and the daemon ends with the device error (exit code 5);
//!   nothing leaks (`rig.finish()` runs the simulator's leak checks).
//! * A daemon killed: its queue closes with the process, the link goes
//!   down (the namespace's TAP loses carrier), the other daemon's link
//!   stays up; `tunctl cleanup` (tunctl's own code on the simulated
//!   illumos host) then removes only what the dead daemon left.
//!
//! The killed daemon runs on a `SimSystem` (libdladm-plugin's simulated
//! illumos system, which `tunctl` runs on): its device is
//! `SimDevice::attach_with(sys.host(), .., CREATE)`, so the daemon makes
//! its own link as the process the simulator opens streams as (pid
//! 1000), and that pid is entered in the system's process table as
//! `tunneld`.  Its peer runs on a second host (a plain rig): two
//! machines, as a VPN is.  Needs root.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use illumos_sys_hdrs as sys;
use libdladm_plugin::sim::SimSystem;
use tunneld::device::sim::SimDevice;
use tunneld::{Counters, ErrorKind, Mode};
use tuntap_abi::{self as abi, attach_flags, create_flags};
use tuntap_drv::ddi::LinkState;
use tuntap_tests::app::{MacStats, NsLink, create_link, eventually};
use tuntap_tests::vpn::{ADDR_A, ADDR_B, Pki, Tunneld, VpnPair, ns_link_on};
use tuntap_tests::*;

const SETTLE: Duration = Duration::from_secs(10);
/// The pid `SimHost::open` (and so `SimDevice`) opens streams as.
const DAEMON_PID: i32 = 1000;

fn get(c: &AtomicU64) -> u64 {
    Counters::get(c)
}

fn delete(rig: &Rig, id: abi::DatalinkId) -> Result<(), i32> {
    let ctl = rig.open_ctl(&rig.root);
    let del = abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags: abi::delete_flags::FORCE, linkid: id, _pad: 0 };
    let r = ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)).map(|_| ());
    ctl.close();
    r
}

fn carrier_off(l: &NsLink) -> bool {
    l.ns.ip(&["link", "show", "dev", l.ifname()]).expect("ip link show").contains("NO-CARRIER")
}

#[test]
fn deleting_a_link_under_load_stops_its_daemon_cleanly_and_leaks_nothing() {
    let rig = Rig::new();
    let mut p = VpnPair::new(&rig, Mode::Tun, 1500, "life").expect("VPN");
    p.a.ns.ping(ADDR_B, 1, None).expect("ping A -> B before the load");

    // Load: B pings A every 5 ms for 4 s; each request goes through both
    // daemons and is written to A's link.
    let b_ns_name = p.b.ns.name().to_string();
    let flood = std::thread::spawn(move || {
        tuntap_tests::netns::run_command(
            "ip",
            &["netns", "exec", &b_ns_name, "ping", "-q", "-i", "0.005", "-w", "4", ADDR_A],
            Duration::from_secs(15),
        )
    });
    let c = p.client.counters().clone();
    let rx0 = get(&c.rx_packets);
    eventually(SETTLE, || if get(&c.rx_packets) > rx0 + 20 { Ok(()) } else { Err(c.summary()) })
        .unwrap_or_else(|e| panic!("the load reaches A's daemon: {e}"));

    // IP (the namespace's bridge) holds the link: even a forced delete
    // is refused, and the tunnel keeps working.
    assert_eq!(delete(&rig, p.a.linkid), Err(sys::EBUSY), "a link with IP on it cannot be deleted");
    let rx1 = get(&c.rx_packets);
    eventually(SETTLE, || if get(&c.rx_packets) > rx1 + 20 { Ok(()) } else { Err(c.summary()) })
        .unwrap_or_else(|e| panic!("the refused delete did not disturb the load: {e}"));
    assert!(!p.client.has_ended(), "A's daemon still runs");

    // Unplumb IP (stop the bridge, close its mac client); the load keeps
    // arriving through the tunnel and A's daemon keeps writing it.
    p.a.bridge.stop();
    p.a.bridge.client().close();
    let rx2 = get(&c.rx_packets) + get(&c.device_write_errors);
    eventually(SETTLE, || {
        if get(&c.rx_packets) + get(&c.device_write_errors) > rx2 + 20 { Ok(()) } else { Err(c.summary()) }
    })
    .unwrap_or_else(|e| panic!("the load still flows into A's link: {e}"));

    // Now the forced delete goes through under load.
    assert_eq!(delete(&rig, p.a.linkid), Ok(()), "forced delete of vpna0 while packets are written to it");
    let outcome = p.client.wait_end(SETTLE).expect("A's daemon ends on its own");
    let e = outcome.expect_err("a deleted link is a device error");
    assert_eq!((e.kind, e.exit_code()), (ErrorKind::Device, 5), "{e}");
    assert!(e.message.contains("vpna0") && e.message.contains("gone"), "the error names the link and the reason: {e}");
    assert!(rig.driver.link_by_id(p.a.linkid).is_none(), "vpna0 is gone");

    // The far side: its session ended, so its carrier went off (the
    // carrier follows the peer's liveness, issue 17); the daemon keeps
    // serving for the next client.
    let s = p.server.counters().clone();
    eventually(SETTLE, || if s.connected_peer().is_none() { Ok(()) } else { Err(s.summary()) })
        .unwrap_or_else(|e| panic!("B's daemon notices the session ended: {e}"));
    assert!(p.b.bridge.client().wait_link_state(LinkState::Down, SETTLE), "B's link goes down with its session (no carrier without a live peer)");
    assert!(!p.server.has_ended(), "B's daemon keeps serving");
    let _ = flood.join().expect("the ping thread");
    drop(p);
    // Every message block, stream and mac client is accounted for.
    rig.finish();
}

/// Output of one tunctl run on `sys`.
fn tunctl(sys: &SimSystem, args: &str) -> (i32, String, String) {
    let args: Vec<String> = args.split_whitespace().map(str::to_string).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let platform = sys.admin();
    let code = tunctl::run(&args, || Ok(platform), &mut out, &mut err);
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

#[test]
fn killing_a_daemon_takes_its_link_down_and_cleanup_removes_only_what_it_left() {
    // Host 1 (what tunctl manages): A's daemon, which makes its own link,
    // plus an administrator's link nobody serves and a live daemon's link.
    let host1 = SimSystem::new();
    host1
        .processes()
        .spawn_with_pid(DAEMON_PID, "tunneld", Some("svc:/network/tunneld:vpna"))
        .expect("tunneld's pid is free");
    assert_eq!(tunctl(&host1, "create -T tun vpn9").0, tunctl::exit::OK);
    let other = host1.spawn("openvpn", Some("svc:/network/openvpn:office"));
    host1.daemon_attach(other, "tun5", false, attach_flags::CREATE).expect("a live daemon's link");
    let dev_a = Arc::new(
        SimDevice::attach_with(host1.host(), "vpna0", Mode::Tun, attach_flags::CREATE).expect("tunneld A makes vpna0"),
    );
    let a = ns_link_on(host1.host(), &host1.driver(), "vpna0", "kill-a", false).expect("namespace A on vpna0");

    // Host 2: B's link and daemon.
    let rig = Rig::new();
    create_link(&rig, "vpnb0", create_flags::TUN, 1500).expect("vpnb0");
    let b = ns_link_on(&rig.host, &rig.driver, "vpnb0", "kill-b", false).expect("namespace B on vpnb0");
    let pki = Pki::new().expect("certificates");
    let dev_b = SimDevice::attach(&rig.host, "vpnb0", Mode::Tun).expect("tunneld B attaches");
    let server = Tunneld::start("B", pki.server_config("vpnb0", Mode::Tun, 1500).unwrap(), Arc::new(dev_b)).expect("B");
    let config_a = pki.client_config(server.local_addr().unwrap(), "vpna0", Mode::Tun, 1500).unwrap();
    let client = Tunneld::start("A", config_a, dev_a.clone()).expect("A");
    client.wait_connected(SETTLE).expect("A connects");
    a.addr_add(&format!("{ADDR_A}/24")).unwrap();
    b.addr_add(&format!("{ADDR_B}/24")).unwrap();
    a.ns.ping(ADDR_B, 2, None).expect("ping A -> B");

    let (code, shown, _) = tunctl(&host1, "show -p -o link,state,queues");
    assert_eq!(code, tunctl::exit::OK);
    assert_eq!(shown, "tun5:up:1\nvpn9:down:0\nvpna0:up:1\n", "tunctl show before the kill");

    // Kill A: its tasks stop where they stand, the kernel closes its
    // files, the process is gone.
    client.kill();
    dev_a.stream().close();
    assert!(host1.processes().exit(DAEMON_PID));
    assert!(a.bridge.client().wait_link_state(LinkState::Down, SETTLE), "vpna0 goes down with its daemon");
    eventually(SETTLE, || if carrier_off(&a) { Ok(()) } else { Err("carrier still on".into()) })
        .unwrap_or_else(|e| panic!("namespace A sees NO-CARRIER: {e}"));
    a.ns.ping_within(ADDR_B, 1, None, 1).expect_err("no way out of A any more");
    let s = server.counters().clone();
    eventually(SETTLE, || if s.connected_peer().is_none() { Ok(()) } else { Err(s.summary()) })
        .unwrap_or_else(|e| panic!("B's daemon notices its peer died: {e}"));
    assert!(b.bridge.client().wait_link_state(LinkState::Down, SETTLE), "B's link goes down with its session (no carrier without a live peer)");
    // IP (the namespace) still holds vpna0, so the driver kept it when
    // its last queue closed: a stale link of a dead process.
    let (_, shown, _) = tunctl(&host1, "show -p -o link,state,queues");
    assert_eq!(shown, "tun5:up:1\nvpn9:down:0\nvpna0:down:0\n", "tunctl show after the kill");

    let (code, plan, err) = tunctl(&host1, "cleanup --dry-run");
    assert_eq!((code, err.as_str()), (tunctl::exit::OK, ""), "{plan}");
    let mut lines = plan.lines();
    let first = lines.next().unwrap_or_default();
    assert!(
        first.starts_with("vpna0: stale (") && first.contains(&format!("pid {DAEMON_PID}, which is gone")),
        "the plan names the dead daemon's link: {plan}"
    );
    assert_eq!(
        lines.collect::<Vec<_>>(),
        vec![
            format!("tun5: kept (in use: 1 queue(s) attached (pid {other}))").as_str(),
            "vpn9: kept (configured by an administrator; remove it with 'delete')",
        ],
        "{plan}"
    );
    // IP the platform does not know about (the namespace's bridge) makes
    // the removal fail busy: reported, the link left in place.
    let (code, _, err) = tunctl(&host1, &format!("cleanup --for {DAEMON_PID}"));
    assert_eq!(code, tunctl::exit::PARTIAL, "{err}");
    assert!(err.contains("vpna0") && err.contains("busy"), "the failure names the link and the reason: {err}");
    assert_eq!(host1.driver().links().len(), 3, "nothing removed");

    // Namespace A goes (IP unplumbed); cleanup removes vpna0 and only it.
    let linkid_a = a.linkid;
    drop(a);
    let (code, out, err) = tunctl(&host1, &format!("cleanup --for {DAEMON_PID}"));
    assert_eq!((code, err.as_str()), (tunctl::exit::OK, ""), "{out}");
    assert!(out.starts_with("vpna0: stale (") && out.trim_end().ends_with("deleted"), "{out}");
    assert_eq!(out.lines().count(), 1, "--for {DAEMON_PID} touches only its links: {out}");
    let mut left: Vec<String> = host1.driver().links().iter().map(|l| l.name.as_str().to_string()).collect();
    left.sort();
    assert_eq!(left, ["tun5", "vpn9"], "only the dead daemon's link went");
    assert_eq!(
        host1.host().dlmgmt_id2info(0, linkid_a).err(),
        Some(tuntap_sim::DlError::NotFound),
        "its link id went back to dlmgmtd"
    );
    let (_, out, _) = tunctl(&host1, "cleanup");
    assert_eq!(
        out,
        format!(
            "tun5: kept (in use: 1 queue(s) attached (pid {other}))\n\
             vpn9: kept (configured by an administrator; remove it with 'delete')\n\
             no stale links: nothing to clean\n"
        ),
        "a second cleanup finds nothing"
    );

    let b_stats = MacStats::read(&rig, b.linkid).unwrap();
    assert_eq!((b_stats.ierrors, b_stats.norcvbuf), (0, 0), "{b_stats:?}");
    drop(server);
    drop(b);
    rig.finish();
    host1.finish();
}
