// SPDX-License-Identifier: MPL-2.0
//! Seconds against nanoseconds (issue 15): the driver stamps a link's
//! creation with `ddi_get_time()` (whole seconds; the simulator's kernel
//! clock is as coarse), `/proc` gives a process's `pr_start` in
//! nanoseconds.  A daemon that makes its link in the second it started
//! must still count as the link's creator.

use std::time::Duration;

use libdladm_plugin::sim::SimSystem;
use libdladm_plugin::*;
use tuntap_abi::attach_flags;

const OFFICE: &str = "svc:/network/openvpn:office";

fn fmri() -> Fmri {
    Fmri::parse(OFFICE).unwrap()
}

/// A daemon of OFFICE, started half a second into a second, that makes a
/// persistent link `tun5` in that same second and closes its queue.
fn daemon_with_a_link_made_at_start(sys: &SimSystem) -> i32 {
    sys.host().advance_clock(Duration::from_millis(500));
    let vpn = sys.spawn("openvpn", Some(OFFICE));
    sys.daemon_attach(vpn, "tun5", false, attach_flags::CREATE).unwrap();
    sys.daemon_set_persist(vpn, true).unwrap();
    sys.close_streams(vpn);
    vpn
}

#[test]
fn the_setup_really_puts_the_start_after_the_stamp() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    let vpn = daemon_with_a_link_made_at_start(&sys);
    let k = adm.show("tun5").unwrap().kernel.unwrap();
    let started = sys.processes().live(vpn).expect("alive").started_ns;
    assert!(started > k.created_ns, "pr_start {started} vs stamp {}: the clocks must differ in grain", k.created_ns);
    assert_eq!(started / 1_000_000_000, k.created_ns / 1_000_000_000, "same second");
    sys.finish();
}

#[test]
fn cleanup_keeps_the_link_of_a_live_creator_that_made_it_in_its_first_second() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    let vpn = daemon_with_a_link_made_at_start(&sys);
    let report = adm.cleanup(&CleanupOptions::default()).unwrap();
    assert!(report.actions.is_empty(), "the creator {vpn} runs; nothing is stale: {report:?}");
    assert!(adm.show("tun5").is_ok(), "the live daemon's link is still there");
    sys.finish();
}

#[test]
fn cleanup_for_the_service_finds_the_link_a_crashed_daemon_made_at_start() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    let vpn = daemon_with_a_link_made_at_start(&sys);
    adm.register_owner(&fmri(), vpn).unwrap();
    sys.crash(vpn);
    sys.host().advance_clock(Duration::from_secs(3));
    // A cleanup of another service first: the registry entry is still
    // needed (its link remains), so it must not be pruned.
    let other = Fmri::parse("svc:/network/openvpn:home").unwrap();
    adm.cleanup(&CleanupOptions { dry_run: false, target: Some(CleanupTarget::Service(other)) }).unwrap();
    let report = adm.cleanup(&CleanupOptions { dry_run: false, target: Some(CleanupTarget::Service(fmri())) }).unwrap();
    let names: Vec<&str> = report.actions.iter().map(|a| a.link.as_str()).collect();
    assert_eq!(names, vec!["tun5"], "{report:?}");
    assert!(adm.show("tun5").is_err());
    sys.finish();
}
