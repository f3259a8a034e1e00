// SPDX-License-Identifier: MPL-2.0
//! cleanup on the simulated host: what crashed daemons leave behind is
//! removed, what is in use or configured is not, a dry run changes
//! nothing, and --for limits it to one daemon.

use std::time::Duration;

use libdladm_plugin::sim::SimSystem;
use libdladm_plugin::*;
use tuntap_abi::attach_flags;

const OFFICE: &str = "svc:/network/openvpn:office";
const HOME: &str = "svc:/network/openvpn:home";

fn fmri(text: &str) -> Fmri {
    Fmri::parse(text).unwrap()
}

fn names(r: &CleanupReport) -> Vec<&str> {
    r.actions.iter().map(|a| a.link.as_str()).collect()
}

#[test]
fn a_crashed_daemons_persistent_link_with_ip_is_unplumbed_and_removed() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    let vpn = sys.spawn("openvpn", Some(OFFICE));
    sys.daemon_attach(vpn, "tun7", false, attach_flags::CREATE).unwrap();
    sys.daemon_set_persist(vpn, true).unwrap();
    sys.plumb_ip("tun7").unwrap();
    sys.crash(vpn);
    // It stays: persistent, and IP holds it.
    let l = adm.show("tun7").unwrap();
    let k = l.kernel.as_ref().unwrap();
    assert_eq!((k.origin, k.queues, k.creator_pid, k.kernel_persist), (Origin::Attach, 0, vpn, true));

    let report = adm.cleanup(&CleanupOptions::default()).unwrap();
    assert_eq!(names(&report), vec!["tun7"]);
    let a = &report.actions[0];
    assert_eq!(a.steps, vec![CleanupStep::UnplumbIp("tun7".into()), CleanupStep::DeleteLink]);
    assert_eq!(a.result, Some(Ok(())));
    assert_eq!(
        a.reason,
        format!("persistent link of pid {vpn}, which is gone; no queue attached; IP still plumbed (tun7)")
    );
    assert!(!sys.ip_plumbed("tun7"));
    assert!(sys.driver().links().is_empty());
    assert!(sys.host().dlmgmt_name2info(0, "tun7").is_err(), "the kernel gave the id back");
    // Nothing left to do.
    assert!(adm.cleanup(&CleanupOptions::default()).unwrap().actions.is_empty());
    sys.finish();
}

#[test]
fn an_old_api_leftover_held_by_ip_is_removed() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    let vpn = sys.spawn("openvpn", None);
    assert_eq!(sys.daemon_old_api(vpn, false, -1).unwrap(), 0);
    sys.plumb_ip("tun0").unwrap();
    sys.crash(vpn);
    assert_eq!(adm.show("tun0").unwrap().kernel.unwrap().origin, Origin::OldApi);
    let report = adm.cleanup(&CleanupOptions::default()).unwrap();
    assert_eq!(names(&report), vec!["tun0"]);
    assert!(report.actions[0].reason.starts_with("old-API link of pid"), "{:?}", report.actions[0]);
    assert!(sys.driver().links().is_empty());
    // The old API can make tun0 again: the unit is free.
    let again = sys.spawn("openvpn", None);
    assert_eq!(sys.daemon_old_api(again, false, 0).unwrap(), 0);
    sys.finish();
}

#[test]
fn links_in_use_or_configured_or_with_a_live_creator_are_kept() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    // Configured by an administrator, nobody attached.
    adm.create(&CreateRequest::new("vpn0", Mode::Tun)).unwrap();
    // Made by a daemon that crashed, but another daemon now serves it.
    let dead = sys.spawn("openvpn", None);
    sys.daemon_attach(dead, "tun1", false, attach_flags::CREATE | attach_flags::MULTI_QUEUE).unwrap();
    sys.daemon_set_persist(dead, true).unwrap();
    let other = sys.spawn("openvpn", None);
    sys.daemon_attach(other, "tun1", false, attach_flags::MULTI_QUEUE).unwrap();
    sys.crash(dead);
    // Made persistent by a daemon still running, which closed its queue.
    let alive = sys.spawn("wireguard-go", None);
    sys.daemon_attach(alive, "tun2", false, attach_flags::CREATE).unwrap();
    sys.daemon_set_persist(alive, true).unwrap();
    sys.close_streams(alive);

    let report = adm.cleanup(&CleanupOptions::default()).unwrap();
    assert!(report.actions.is_empty(), "{report:?}");
    let kept: Vec<(&str, &str)> = report.kept.iter().map(|k| (k.link.as_str(), k.reason.as_str())).collect();
    let tun1 = format!("in use: 1 queue(s) attached (pid {other})");
    let tun2 = format!("its creator, pid {alive} (wireguard-go), is still running");
    assert_eq!(
        kept,
        vec![
            ("tun1", tun1.as_str()),
            ("tun2", tun2.as_str()),
            ("vpn0", "configured by an administrator; remove it with 'delete'"),
        ]
    );
    assert_eq!(sys.driver().links().len(), 3);
    sys.finish();
}

#[test]
fn a_reused_pid_does_not_keep_a_stale_link_alive() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    let vpn = sys.spawn("openvpn", None);
    sys.daemon_attach(vpn, "tun3", false, attach_flags::CREATE).unwrap();
    sys.daemon_set_persist(vpn, true).unwrap();
    sys.crash(vpn);
    sys.host().advance_clock(Duration::from_secs(60));
    sys.processes().spawn_with_pid(vpn, "cron", None).unwrap();
    let report = adm.cleanup(&CleanupOptions::default()).unwrap();
    assert_eq!(names(&report), vec!["tun3"], "the process now at pid {vpn} started after the link");
    sys.finish();
}

#[test]
fn a_dry_run_prints_the_plan_and_changes_nothing() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    let vpn = sys.spawn("openvpn", None);
    sys.daemon_attach(vpn, "tun7", false, attach_flags::CREATE).unwrap();
    sys.daemon_set_persist(vpn, true).unwrap();
    sys.plumb_ip("tun7").unwrap();
    sys.crash(vpn);
    let report = adm.cleanup(&CleanupOptions { dry_run: true, target: None }).unwrap();
    assert!(report.dry_run);
    assert_eq!(names(&report), vec!["tun7"]);
    assert_eq!(report.actions[0].steps, vec![CleanupStep::UnplumbIp("tun7".into()), CleanupStep::DeleteLink]);
    assert_eq!(report.actions[0].result, None);
    assert!(sys.ip_plumbed("tun7"), "IP untouched");
    assert_eq!(sys.driver().links().len(), 1, "link untouched");
    assert!(sys.host().dlmgmt_name2info(0, "tun7").is_ok());
    sys.finish();
}

#[test]
fn for_a_pid_or_a_service_removes_only_what_that_daemon_left() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    let office = sys.spawn("openvpn", Some(OFFICE));
    let home = sys.spawn("openvpn", Some(HOME));
    let stray = sys.spawn("openconnect", None);
    // The office method registered its daemon; home's did not.
    adm.register_owner(&fmri(OFFICE), office).unwrap();
    for (pid, link) in [(office, "tun1"), (home, "tun2"), (stray, "tun3")] {
        sys.daemon_attach(pid, link, false, attach_flags::CREATE).unwrap();
        sys.daemon_set_persist(pid, true).unwrap();
        sys.crash(pid);
    }
    // A pid that made nothing: nothing matches.
    let report = adm.cleanup(&CleanupOptions { dry_run: false, target: Some(CleanupTarget::Pid(99_999)) }).unwrap();
    assert!(report.actions.is_empty() && report.kept.is_empty());
    // Home's daemon crashed unregistered: nothing ties tun2 to home any
    // more (contracts die with their processes), so --for home leaves it.
    let report = adm.cleanup(&CleanupOptions { dry_run: false, target: Some(CleanupTarget::Service(fmri(HOME))) }).unwrap();
    assert!(report.actions.is_empty(), "{report:?}");
    // The office service, by FMRI, after its daemon crashed: registered.
    let report = adm.cleanup(&CleanupOptions { dry_run: false, target: Some(CleanupTarget::Service(fmri(OFFICE))) }).unwrap();
    assert_eq!(names(&report), vec!["tun1"]);
    assert_eq!(report.pruned, 1, "the crashed daemon's entry goes with its link");
    assert!(adm.owners(&fmri(OFFICE)).unwrap().entries.is_empty());
    // The stray daemon by pid.
    let report = adm.cleanup(&CleanupOptions { dry_run: false, target: Some(CleanupTarget::Pid(stray)) }).unwrap();
    assert_eq!(names(&report), vec!["tun3"]);
    let left: Vec<String> = adm.list().unwrap().into_iter().map(|l| l.name).collect();
    assert_eq!(left, vec!["tun2"]);
    // A restarted service's new process serves its own link: kept.
    let home2 = sys.spawn("openvpn", Some(HOME));
    sys.daemon_attach(home2, "tun2", false, 0).unwrap();
    let report = adm.cleanup(&CleanupOptions { dry_run: false, target: Some(CleanupTarget::Service(fmri(HOME))) }).unwrap();
    assert!(report.actions.is_empty());
    let kept = format!("in use: 1 queue(s) attached (pid {home2})");
    assert_eq!(report.kept, vec![CleanupKept { link: "tun2".into(), reason: kept }]);
    sys.finish();
}

#[test]
fn cleanup_targets_parse_and_refuse_nonsense() {
    assert_eq!("4711".parse::<CleanupTarget>(), Ok(CleanupTarget::Pid(4711)));
    assert_eq!(OFFICE.parse::<CleanupTarget>(), Ok(CleanupTarget::Service(fmri(OFFICE))));
    let cases = [
        ("0", "'0' is not a valid pid"),
        ("-3", "'-3' is not a valid pid"),
        ("99999999999", "'99999999999' is not a valid pid"),
        ("openvpn", "'openvpn' is neither a pid nor an SMF FMRI"),
        ("", "'' is neither a pid nor an SMF FMRI"),
        ("svc:/", "'svc:/' is not an SMF instance FMRI: it names no instance"),
        ("svc:/network/openvpn", "it names no instance"),
        ("svc:network/openvpn:office", "it does not start with svc:/"),
    ];
    for (bad, why) in cases {
        let e = bad.parse::<CleanupTarget>().unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
}
