// SPDX-License-Identifier: MPL-2.0
//! The owner registry on the simulated host: a crashed daemon's links are
//! found by its service's FMRI even after its pid was reused, a reused
//! pid never claims another's link, damaged registry files are read
//! around, and bad FMRIs and pids are refused by name.  The simulator
//! offers only what illumos does (live service members, the registry),
//! so these pass or fail as they would there.

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use libdladm_plugin::owners::{DirStore, MAX_ENTRIES, OwnerStore};
use libdladm_plugin::sim::SimSystem;
use libdladm_plugin::*;
use tuntap_abi::attach_flags;

const A: &str = "svc:/network/openvpn:office";
const B: &str = "svc:/network/openvpn:home";

fn fmri(text: &str) -> Fmri {
    Fmri::parse(text).unwrap()
}

fn for_service(text: &str, dry_run: bool) -> CleanupOptions {
    CleanupOptions { dry_run, target: Some(CleanupTarget::Service(fmri(text))) }
}

fn names(r: &CleanupReport) -> Vec<&str> {
    r.actions.iter().map(|a| a.link.as_str()).collect()
}

fn links(adm: &TunAdm<libdladm_plugin::sim::SimPlatform>) -> Vec<String> {
    adm.list().unwrap().into_iter().map(|l| l.name).collect()
}

#[test]
fn a_crashed_daemons_old_api_unit_is_found_by_its_service_after_its_pid_was_reused() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    // Service A's daemon: registered by the method, makes tun0 the old
    // way and plumbs IP on it, as OpenVPN does on illumos.
    let a = sys.spawn("openvpn", Some(A));
    let reg = adm.register_owner(&fmri(A), a).unwrap();
    assert_eq!((reg.entry.pid, reg.process_name.as_str(), reg.already), (a, "openvpn", false));
    sys.host().advance_clock(Duration::from_secs(1));
    assert_eq!(sys.daemon_old_api(a, false, -1).unwrap(), 0);
    sys.plumb_ip("tun0").unwrap();
    // Service B's daemon, registered too, leaves a persistent link.
    let b = sys.spawn("openvpn", Some(B));
    adm.register_owner(&fmri(B), b).unwrap();
    sys.host().advance_clock(Duration::from_secs(1));
    sys.daemon_attach(b, "tun1", false, attach_flags::CREATE).unwrap();
    sys.daemon_set_persist(b, true).unwrap();
    sys.crash(b);
    // A second daemon of A, registered, serves tun2: in use.
    let a2 = sys.spawn("openvpn", Some(A));
    adm.register_owner(&fmri(A), a2).unwrap();
    sys.host().advance_clock(Duration::from_secs(1));
    sys.daemon_attach(a2, "tun2", false, attach_flags::CREATE).unwrap();

    // A's first daemon crashes; an unrelated process gets its pid.
    sys.crash(a);
    sys.host().advance_clock(Duration::from_secs(60));
    sys.processes().spawn_with_pid(a, "cron", None).unwrap();
    assert!(sys.processes().service_pids(A) == vec![a2], "only a2 is a member of A now");

    let plan = adm.cleanup(&for_service(A, true)).unwrap();
    assert_eq!(names(&plan), vec!["tun0"]);
    assert_eq!(plan.actions[0].steps, vec![CleanupStep::UnplumbIp("tun0".into()), CleanupStep::DeleteLink]);
    assert_eq!(plan.actions[0].result, None);
    assert_eq!(plan.pruned, 0);
    let in_use = CleanupKept { link: "tun2".into(), reason: format!("in use: 1 queue(s) attached (pid {a2})") };
    assert_eq!(plan.kept, vec![in_use.clone()]);
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    // The dry run changed nothing: links, IP, registry.
    assert_eq!(links(&adm), vec!["tun0", "tun1", "tun2"]);
    assert!(sys.ip_plumbed("tun0"));
    assert_eq!(adm.owners(&fmri(A)).unwrap().entries.len(), 2);

    let done = adm.cleanup(&for_service(A, false)).unwrap();
    assert_eq!(names(&done), vec!["tun0"]);
    assert_eq!(done.actions[0].result, Some(Ok(())));
    assert_eq!(done.kept, vec![in_use]);
    assert!(!sys.ip_plumbed("tun0"));
    assert_eq!(links(&adm), vec!["tun1", "tun2"], "B's leftover and A's link in use stay");
    // The crashed daemon's entry is pruned; the live one stays.
    assert_eq!(done.pruned, 1);
    let left: Vec<Pid> = adm.owners(&fmri(A)).unwrap().entries.iter().map(|e| e.pid).collect();
    assert_eq!(left, vec![a2]);

    // B's own cleanup takes B's leftover.
    let done = adm.cleanup(&for_service(B, false)).unwrap();
    assert_eq!(names(&done), vec!["tun1"]);
    assert_eq!(links(&adm), vec!["tun2"]);
    assert!(adm.owners(&fmri(B)).unwrap().entries.is_empty());
    sys.finish();
}

#[test]
fn a_pid_registered_after_the_link_was_made_never_claims_it() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    // An unregistered daemon makes tun3 and crashes.
    let stray = sys.spawn("openconnect", None);
    sys.daemon_attach(stray, "tun3", false, attach_flags::CREATE).unwrap();
    sys.daemon_set_persist(stray, true).unwrap();
    sys.crash(stray);
    // Its pid goes to A's next daemon, which is registered.
    sys.host().advance_clock(Duration::from_secs(5));
    sys.processes().spawn_with_pid(stray, "openvpn", Some(A)).unwrap();
    adm.register_owner(&fmri(A), stray).unwrap();
    let report = adm.cleanup(&for_service(A, false)).unwrap();
    assert!(report.actions.is_empty() && report.kept.is_empty(), "{report:?}");
    assert_eq!(links(&adm), vec!["tun3"]);
    // Plain cleanup still knows tun3 is stale.
    assert_eq!(names(&adm.cleanup(&CleanupOptions::default()).unwrap()), vec!["tun3"]);
    sys.finish();
}

#[test]
fn of_two_registrations_of_one_pid_the_newest_before_the_link_made_it() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    // A's daemon registers and dies before making anything.
    let p = sys.spawn("openvpn", Some(A));
    adm.register_owner(&fmri(A), p).unwrap();
    sys.crash(p);
    // B's daemon gets the same pid, registers, makes tun4, crashes.
    sys.host().advance_clock(Duration::from_secs(5));
    sys.processes().spawn_with_pid(p, "openvpn", Some(B)).unwrap();
    adm.register_owner(&fmri(B), p).unwrap();
    sys.host().advance_clock(Duration::from_secs(1));
    sys.daemon_attach(p, "tun4", false, attach_flags::CREATE).unwrap();
    sys.daemon_set_persist(p, true).unwrap();
    sys.crash(p);
    assert!(adm.cleanup(&for_service(A, false)).unwrap().actions.is_empty(), "not A's");
    assert_eq!(names(&adm.cleanup(&for_service(B, false)).unwrap()), vec!["tun4"]);
    // With the link gone both entries are useless and are pruned.
    assert_eq!(adm.prune_owners(None).unwrap().pruned, 1, "B's went with B's cleanup; A's now");
    assert!(adm.owners(&fmri(A)).unwrap().entries.is_empty());
    sys.finish();
}

#[test]
fn an_fmri_nobody_registered_has_nothing_to_clean() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    let d = sys.spawn("openvpn", None);
    sys.daemon_attach(d, "tun5", false, attach_flags::CREATE).unwrap();
    sys.daemon_set_persist(d, true).unwrap();
    sys.crash(d);
    let report = adm.cleanup(&for_service("svc:/network/openvpn:nobody", false)).unwrap();
    assert_eq!(report, CleanupReport::default());
    assert_eq!(links(&adm), vec!["tun5"]);
    sys.finish();
}

#[test]
fn damaged_registry_lines_are_skipped_with_a_warning_and_dropped_on_rewrite() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    let a = sys.spawn("openvpn", Some(A));
    let started = sys.processes().live(a).unwrap().started_ns;
    sys.host().advance_clock(Duration::from_secs(1));
    sys.daemon_attach(a, "tun6", false, attach_flags::CREATE).unwrap();
    sys.daemon_set_persist(a, true).unwrap();
    sys.crash(a);
    let file = fmri(A).file_name();
    assert_eq!(file, "network@openvpn+office");
    let store = sys.owner_store();
    store.put_raw(&file, &format!("# comment\n\nrubbish\n{a} {started}\n12 x\n0 5\n1 2 3\n\u{fffd}\u{fffd}\n"));
    let report = adm.cleanup(&for_service(A, false)).unwrap();
    assert_eq!(names(&report), vec!["tun6"], "the good line still counts");
    let lines: Vec<&str> = report.warnings.iter().map(|w| w.split(": ").next().unwrap()).collect();
    assert_eq!(
        lines,
        vec![
            "memory/network@openvpn+office line 3",
            "memory/network@openvpn+office line 5",
            "memory/network@openvpn+office line 6",
            "memory/network@openvpn+office line 7",
            "memory/network@openvpn+office line 8",
        ]
    );
    assert!(report.warnings[0].ends_with("'rubbish' is not 'pid start_time_ns'; skipped"), "{:?}", report.warnings);
    // The pruning rewrite kept no entry (its link is gone): file removed.
    assert_eq!(store.raw(&file), None);

    // register rewrites a damaged file with only the good entries.
    let b = sys.spawn("openvpn", Some(A));
    store.put_raw(&file, "garbage here\n");
    let reg = adm.register_owner(&fmri(A), b).unwrap();
    assert_eq!(reg.warnings.len(), 1, "{:?}", reg.warnings);
    let started_b = sys.processes().live(b).unwrap().started_ns;
    let text = store.raw(&file).unwrap();
    assert_eq!(text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>(), vec![format!("{b} {started_b}")]);
    assert!(text.starts_with("# tuntap owner registry of svc:/network/openvpn:office\n"), "{text}");
    // Registering the same process again changes nothing.
    assert!(adm.register_owner(&fmri(A), b).unwrap().already);
    assert_eq!(store.raw(&file).unwrap(), text);
    sys.finish();
}

#[test]
fn bad_fmris_and_pids_are_refused_by_name() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    let long = format!("svc:/network/{}:x", "a".repeat(300));
    let cases: Vec<(&str, String)> = vec![
        ("", "'' is not an SMF instance FMRI: it is empty".into()),
        (&long, format!("'{long}' is not an SMF instance FMRI: it is 315 bytes long; at most 255 are allowed")),
        ("network/openvpn:office", "'network/openvpn:office' is not an SMF instance FMRI: it does not start with svc:/ (e.g. svc:/network/openvpn:office)".into()),
        ("svc:/network/openvpn", "'svc:/network/openvpn' is not an SMF instance FMRI: it names no instance (svc:/SERVICE:INSTANCE, e.g. svc:/network/openvpn:office)".into()),
        ("svc:/network//openvpn:x", "service name 'network//openvpn' is not valid".into()),
        ("svc:/net work:x", "service name 'net work' is not valid".into()),
        ("svc:/network/openvpn:../x", "instance name '../x' is not valid".into()),
        ("svc:/network/openvpn:", "instance name '' is not valid".into()),
        ("svc:/network/openvpn:a:b", "instance name 'a:b' is not valid".into()),
    ];
    for (text, why) in &cases {
        let e = Fmri::parse(text).unwrap_err();
        assert!(matches!(e, OwnerError::BadFmri { .. }), "{text}");
        assert!(e.to_string().contains(why.as_str()), "{text}: {e}");
    }
    let a = fmri(A);
    for pid in [0, -1, i32::MIN] {
        let e = adm.register_owner(&a, pid).unwrap_err();
        assert_eq!(e.to_string(), format!("'{pid}' is not a valid pid (a number from 1 to 2147483647)"));
    }
    let gone = sys.spawn("openvpn", Some(A));
    sys.crash(gone);
    assert_eq!(adm.register_owner(&a, gone), Err(OwnerError::NoSuchProcess { pid: gone }));
    assert_eq!(adm.register_owner(&a, gone).unwrap_err().to_string(), format!("no process has pid {gone}"));
    assert_eq!(adm.unregister_owner(&a, Some(0)).unwrap_err(), OwnerError::BadPid { text: "0".into() });
    assert!(sys.owner_store().names().unwrap().is_empty(), "nothing was written");
    sys.finish();
}

#[test]
fn unregister_and_reboot_forget_entries() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    let (p, q) = (sys.spawn("openvpn", Some(A)), sys.spawn("openvpn", Some(A)));
    adm.register_owner(&fmri(A), p).unwrap();
    adm.register_owner(&fmri(A), q).unwrap();
    assert_eq!(adm.unregister_owner(&fmri(A), Some(p)).unwrap(), 1);
    assert_eq!(adm.unregister_owner(&fmri(A), Some(p)).unwrap(), 0);
    let left: Vec<Pid> = adm.owners(&fmri(A)).unwrap().entries.iter().map(|e| e.pid).collect();
    assert_eq!(left, vec![q]);
    assert_eq!(adm.unregister_owner(&fmri(A), None).unwrap(), 1);
    assert!(sys.owner_store().names().unwrap().is_empty(), "an empty registry is removed");
    adm.register_owner(&fmri(B), q).unwrap();
    sys.reboot();
    assert!(sys.owner_store().names().unwrap().is_empty(), "tmpfs does not survive a reboot");
    sys.finish();
}

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

fn temp_dir() -> PathBuf {
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("tuntap-owners-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_directory_registry_is_private_atomic_bounded_and_read_around_damage() {
    let sys = SimSystem::new();
    let dir = temp_dir().join("owners");
    let adm = TunAdm::with_owner_store(sys.admin(), Arc::new(DirStore::new(&dir)));
    let a = sys.spawn("openvpn", Some(A));
    adm.register_owner(&fmri(A), a).unwrap();
    let file = dir.join("network@openvpn+office");
    let mode = |p: &PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&file), 0o600);
    let started = sys.processes().live(a).unwrap().started_ns;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.ends_with(&format!("\n{a} {started}\n")), "{text}");
    // Only the registry file: the temporary one was renamed over it.
    let entries: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(entries, vec!["network@openvpn+office"]);

    // Damage: a stray file, garbage lines.  The crashed daemon's link
    // is still found.
    sys.host().advance_clock(Duration::from_secs(1));
    sys.daemon_old_api(a, true, -1).unwrap();
    sys.plumb_ip("tap0").unwrap();
    sys.crash(a);
    std::fs::write(dir.join("not-an-fmri"), "1 2\n").unwrap();
    std::fs::write(&file, format!("{text}\u{0}\u{1}binary\nmore rubbish here\n")).unwrap();
    let report = adm.cleanup(&for_service(A, true)).unwrap();
    assert_eq!(names(&report), vec!["tap0"]);
    let shown = dir.display();
    assert_eq!(report.warnings.len(), 3, "{:?}", report.warnings);
    assert!(report.warnings[0].starts_with(&format!("{shown}/network@openvpn+office line 4: ")), "{:?}", report.warnings);
    assert!(report.warnings[1].starts_with(&format!("{shown}/network@openvpn+office line 5: 'more rubbish here'")));
    assert_eq!(report.warnings[2], format!("owner registry {shown}/not-an-fmri: not named after an FMRI; ignored"));
    assert_eq!(names(&adm.cleanup(&for_service(A, false)).unwrap()), vec!["tap0"]);
    assert!(!file.exists(), "pruned to nothing: removed");

    // Bounded: the newest MAX_ENTRIES entries are kept.
    let pids: Vec<Pid> = (0..MAX_ENTRIES + 6).map(|_| sys.spawn("openvpn", Some(B))).collect();
    for p in &pids {
        adm.register_owner(&fmri(B), *p).unwrap();
    }
    let kept: Vec<Pid> = adm.owners(&fmri(B)).unwrap().entries.iter().map(|e| e.pid).collect();
    assert_eq!(kept, pids[6..].to_vec());

    // An unreadable registry is an error of register, naming the file.
    let b_file = dir.join("network@openvpn+home");
    std::fs::remove_file(&b_file).unwrap();
    std::fs::create_dir(&b_file).unwrap();
    let e = adm.register_owner(&fmri(B), pids[0]).unwrap_err();
    assert!(e.to_string().starts_with(&format!("owner registry {}: cannot read it", b_file.display())), "{e}");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    sys.finish();
}
