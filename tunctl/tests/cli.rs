// SPDX-License-Identifier: MPL-2.0
//! tunctl as a user runs it, on the simulated host: arguments in, text
//! and exit code out.

use libdladm_plugin::owners::OwnerStore as _;
use libdladm_plugin::sim::{SimPlatform, SimSystem};
use tuntap_abi::attach_flags;
use tunctl::exit;

struct Run {
    code: i32,
    out: String,
    err: String,
}

fn tunctl_as(platform: &SimPlatform, args: &str) -> Run {
    let args: Vec<String> = args.split_whitespace().map(str::to_string).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = tunctl::run(&args, || Ok(platform.clone()), &mut out, &mut err);
    Run { code, out: String::from_utf8(out).unwrap(), err: String::from_utf8(err).unwrap() }
}

fn tunctl(sys: &SimSystem, args: &str) -> Run {
    tunctl_as(&sys.admin(), args)
}

#[test]
fn create_show_modify_delete() {
    let sys = SimSystem::new();
    let r = tunctl(&sys, "create -T tap --mtu 9000 --mac 2:8:20:1:2:3 --owner 1001 vpn0");
    assert_eq!((r.code, r.err.as_str()), (exit::OK, ""));
    assert_eq!(r.out, "created tap link vpn0 (link id 1, persistent)\n");
    let r = tunctl(&sys, "create -T tun --temporary tun0");
    assert_eq!(r.out, "created tun link tun0 (link id 2, temporary)\n");
    let r = tunctl(&sys, "show");
    assert_eq!(r.code, exit::OK);
    let tun0_mac = mac_of(&sys, "tun0");
    let rows: Vec<Vec<&str>> = r.out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows,
        vec![
            vec!["LINK", "MODE", "STATE", "MTU", "MACADDRESS", "OWNER", "QUEUES", "PERSIST", "ZONE"],
            vec!["tun0", "tun", "down", "1500", tun0_mac.as_str(), "--", "0", "no", "global"],
            vec!["vpn0", "tap", "down", "9000", "2:8:20:1:2:3", "1001", "0", "yes", "global"],
        ]
    );
    // Columns line up under their headers.
    let lines: Vec<&str> = r.out.lines().collect();
    for header in ["MODE", "MTU", "MACADDRESS", "OWNER", "ZONE"] {
        let at = lines[0].find(header).unwrap();
        for row in &lines[1..] {
            assert_ne!(row.as_bytes()[at], b' ', "{header} column of {row:?}");
            assert_eq!(row.as_bytes()[at - 1], b' ', "{header} column of {row:?}");
        }
    }
    let r = tunctl(&sys, "show -p -o link,macaddress,persist vpn0");
    assert_eq!(r.out, "vpn0:2\\:8\\:20\\:1\\:2\\:3:yes\n");
    let r = tunctl(&sys, "show -p -o mtu vpn0");
    assert_eq!(r.out, "9000\n");
    let r = tunctl(&sys, "modify --mtu 1400 --no-owner vpn0");
    assert_eq!((r.code, r.out.as_str()), (exit::OK, "modified link vpn0\n"));
    assert_eq!(tunctl(&sys, "show -p -o mtu,owner vpn0").out, "1400:--\n");
    let r = tunctl(&sys, "delete vpn0");
    assert_eq!((r.code, r.out.as_str()), (exit::OK, "deleted link vpn0\n"));
    let r = tunctl(&sys, "show vpn0");
    assert_eq!((r.code, r.err.as_str()), (exit::NOT_FOUND, "tunctl: link vpn0: no such link\n"));
    sys.finish();
}

fn mac_of(sys: &SimSystem, link: &str) -> String {
    let r = tunctl(sys, &format!("show -p -o macaddress {link}"));
    r.out.trim().to_string()
}

#[test]
fn show_json_has_every_field() {
    let sys = SimSystem::new();
    tunctl(&sys, "create -T tun --mtu 1400 vpn0");
    let d = sys.spawn("openvpn", None);
    sys.daemon_attach(d, "vpn0", false, 0).unwrap();
    let r = tunctl(&sys, "show --json");
    assert_eq!(r.code, exit::OK);
    let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    let l = &v[0];
    assert_eq!(l["link"], "vpn0");
    assert_eq!(l["mode"], "tun");
    assert_eq!(l["state"], "up");
    assert_eq!(l["persistent"], true);
    assert_eq!(l["kernel"]["mtu"], 1400);
    assert_eq!(l["kernel"]["queues"], 1);
    assert_eq!(l["kernel"]["pids"][0], d);
    assert_eq!(l["kernel"]["origin"], "admin");
    assert_eq!(l["config"]["mtu"], 1400);
    assert!(l["kernel"]["counters"]["ipackets"].is_u64());
    sys.finish();
}

#[test]
fn bad_input_names_the_link_and_the_reason() {
    let sys = SimSystem::new();
    tunctl(&sys, "create vpn0");
    let cases: &[(&str, i32, &str)] = &[
        ("create vpn", exit::USAGE, "tunctl: link vpn: invalid link name: link name must end with a digit\n"),
        ("create vpn0", exit::EXISTS, "tunctl: link vpn0: already exists (a tap link)\n"),
        ("create --mtu 100 vpn1", exit::USAGE, "tunctl: link vpn1: invalid MTU 100: must be 576 to 65535\n"),
        ("create -T tun --mac 2:0:0:0:0:1 vpn1", exit::USAGE, "tunctl: link vpn1: a MAC address applies to tap links only (this is a tun link)\n"),
        ("create --mac 1:0:0:0:0:1 vpn1", exit::USAGE, "tunctl: link vpn1: invalid MAC address '1:0:0:0:0:1': it is a multicast/broadcast address (first octet is odd)\n"),
        ("create --owner nosuchuser_x vpn1", exit::USAGE, "tunctl: link vpn1: no such user 'nosuchuser_x'\n"),
        ("delete vpn9", exit::NOT_FOUND, "tunctl: link vpn9: no such link\n"),
        ("modify vpn0", exit::USAGE, "tunctl: link vpn0: nothing to change (give --mtu, --mac, --owner, --group or -p)\n"),
        ("modify --mtu 70000 vpn0", exit::USAGE, "tunctl: link vpn0: invalid MTU 70000: must be 576 to 65535\n"),
        ("show -p -o link,speed", exit::USAGE, "tunctl: unknown field 'speed' (fields: link,linkid,mode,zone,state,mtu,macaddress,owner,group,queues,pids,persist,origin)\n"),
        ("cleanup --for openvpn", exit::USAGE, ""),
    ];
    for (args, code, err) in cases {
        let r = tunctl(&sys, args);
        assert_eq!(r.code, *code, "{args}: {}", r.err);
        if !err.is_empty() {
            assert_eq!(r.err, *err, "{args}");
        }
        assert_eq!(r.out, "", "{args}");
    }
    let r = tunctl(&sys, "create -T ip vpn1");
    assert_eq!(r.code, exit::USAGE);
    assert!(r.err.contains("unknown mode 'ip': use tun or tap"), "{}", r.err);
    let r = tunctl(&sys, "cleanup --for openvpn");
    assert!(r.err.contains("'openvpn' is neither a pid nor an SMF FMRI"), "{}", r.err);
    assert_eq!(sys.driver().links().len(), 1, "nothing was made");
    sys.finish();
}

#[test]
fn other_class_privilege_zone_and_busy_are_told_apart() {
    let sys = SimSystem::new();
    tunctl(&sys, "create vpn0");
    let root = sys.root_cred();
    sys.host().dlmgmt_create_id(&root, "net0", 0x08, 4, tuntap_sim::DlFlags::ACTIVE).unwrap();
    let r = tunctl(&sys, "delete net0");
    assert_eq!((r.code, r.err.as_str()), (exit::NOT_FOUND, "tunctl: link net0: not a tun/tap link (it is a vnic link)\n"));
    let user = sys.platform_as(sys.host().user_cred(1001, 10, 0));
    let r = tunctl_as(&user, "delete vpn0");
    assert_eq!(r.code, exit::DENIED);
    assert_eq!(r.err, "tunctl: link vpn0: permission denied: needs the sys_dl_config privilege\n");
    let zone = sys.host().create_zone("web");
    let zroot = sys.platform_as(sys.host().cred(tuntap_sim::CredSpec {
        uid: 0,
        gid: 0,
        groups: vec![],
        zone,
        privs: tuntap_sim::Privileges::all(),
    }));
    let r = tunctl_as(&zroot, "create zvpn0");
    assert_eq!(r.code, exit::DENIED);
    assert!(r.err.contains("use --temporary"), "{}", r.err);
    assert_eq!(tunctl_as(&zroot, "create --temporary zvpn0").code, exit::OK);
    let r = tunctl(&sys, "modify --mtu 1400 zvpn0");
    assert_eq!((r.code, r.err.as_str()), (exit::DENIED, "tunctl: link zvpn0: belongs to zone 'web'; administer it from there\n"));
    assert_eq!(tunctl_as(&zroot, "show vpn0").code, exit::NOT_FOUND, "the zone does not see the global zone's link");
    let d = sys.spawn("openvpn", None);
    sys.daemon_attach(d, "vpn0", true, 0).unwrap();
    let r = tunctl(&sys, "delete vpn0");
    assert_eq!(r.code, exit::BUSY);
    assert_eq!(r.err, format!("tunctl: link vpn0: busy: 1 queue(s) attached (pid {d}); stop the daemon or use --force\n"));
    assert_eq!(tunctl(&sys, "delete --force vpn0").code, exit::OK);
    sys.finish();
}

#[test]
fn up_after_reboot_then_again() {
    let sys = SimSystem::new();
    tunctl(&sys, "create -T tun vpn0");
    tunctl(&sys, "create -T tap --mtu 9000 vpn1");
    tunctl(&sys, "create --temporary tmp0");
    sys.reboot();
    assert_eq!(tunctl(&sys, "show -p -o link,state").out, "vpn0:configured\nvpn1:configured\n");
    let r = tunctl(&sys, "up");
    assert_eq!((r.code, r.out.as_str()), (exit::OK, "vpn0: created\nvpn1: created\n"));
    assert_eq!(tunctl(&sys, "show -p -o link,state,mtu").out, "vpn0:down:1500\nvpn1:down:9000\n");
    let r = tunctl(&sys, "up");
    assert_eq!(r.out, "vpn0: already up\nvpn1: already up\n");
    sys.reboot();
    sys.host().fail_next_mac_register(1);
    let r = tunctl(&sys, "up");
    assert_eq!(r.code, exit::PARTIAL);
    assert_eq!(r.out, "vpn1: created\n");
    assert_eq!(r.err, "tunctl: link vpn0: the tuntap driver refused to create the link: out of memory (ENOMEM)\n");
    sys.finish();
}

#[test]
fn cleanup_dry_run_then_for_real() {
    let sys = SimSystem::new();
    tunctl(&sys, "create vpn0");
    let vpn = sys.spawn("openvpn", Some("svc:/network/openvpn:office"));
    sys.daemon_attach(vpn, "tun7", false, attach_flags::CREATE).unwrap();
    sys.daemon_set_persist(vpn, true).unwrap();
    sys.plumb_ip("tun7").unwrap();
    sys.crash(vpn);
    let served = sys.spawn("openconnect", None);
    sys.daemon_attach(served, "tun8", false, attach_flags::CREATE).unwrap();
    let plan = format!("persistent link of pid {vpn}, which is gone; no queue attached; IP still plumbed (tun7)");
    let kept = format!("tun8: kept (in use: 1 queue(s) attached (pid {served}))\nvpn0: kept (configured by an administrator; remove it with 'delete')\n");
    let r = tunctl(&sys, "cleanup --dry-run");
    assert_eq!(r.code, exit::OK);
    assert_eq!(r.out, format!("tun7: stale ({plan}); would unplumb IP interface tun7 and delete it\n{kept}"));
    assert_eq!(sys.driver().links().len(), 3, "dry run changed nothing");
    assert!(sys.ip_plumbed("tun7"));
    let r = tunctl(&sys, "cleanup --for 1");
    assert_eq!(r.out, "no stale links of pid 1: nothing to clean\n");
    // The office daemon was never registered: after its crash nothing
    // ties tun7 to the service.
    let r = tunctl(&sys, "cleanup --for svc:/network/openvpn:office");
    assert_eq!((r.code, r.out.as_str(), r.err.as_str()), (exit::OK, "no stale links of svc:/network/openvpn:office: nothing to clean\n", ""));
    let r = tunctl(&sys, &format!("cleanup --for {vpn}"));
    assert_eq!(r.out, format!("tun7: stale ({plan}); unplumbed IP interface tun7, deleted\n"));
    assert_eq!(sys.driver().links().len(), 2);
    sys.finish();
}

#[test]
fn old_tunctl_options_keep_working() {
    let sys = SimSystem::new();
    let r = tunctl(&sys, "-t tap3 -u root");
    assert_eq!((r.code, r.out.as_str()), (exit::OK, "Set 'tap3' persistent and owned by uid 0\n"));
    // Owners show as names, through the name service.
    assert_eq!(tunctl(&sys, "show -p -o mode,owner,persist tap3").out, "tap:root:no\n");
    // -n and -p, the Linux tool's tun and tap options.
    assert_eq!(tunctl(&sys, "-b -n -t vpn7").out, "vpn7\n");
    assert_eq!(tunctl(&sys, "show -p -o mode vpn7").out, "tun\n");
    assert_eq!(tunctl(&sys, "-b -p -t vpn8").out, "vpn8\n");
    assert_eq!(tunctl(&sys, "show -p -o mode vpn8").out, "tap\n");
    let r = tunctl(&sys, "-n -p -t vpn9");
    assert_eq!((r.code, r.err.lines().next()), (exit::USAGE, Some("tunctl: -n (tun) and -p (tap) exclude each other")));
    assert_eq!(tunctl(&sys, "-b -n").out, "tun0\n", "the lowest free unit of the mode");
    assert_eq!(tunctl(&sys, "-d tun0").code, exit::OK);
    let r = tunctl(&sys, "-b -t tun2 -f /dev/tun");
    assert_eq!(r.out, "tun2\n");
    assert_eq!(tunctl(&sys, "show -p -o mode tun2").out, "tun\n");
    // No name: the lowest free unit, mode from the clone device.
    assert_eq!(tunctl(&sys, "-b").out, "tap0\n");
    assert_eq!(tunctl(&sys, "-b -f /dev/tun").out, "tun0\n");
    assert_eq!(tunctl(&sys, "-bf /dev/tun").out, "tun1\n");
    let r = tunctl(&sys, "-d tap3");
    assert_eq!((r.code, r.out.as_str()), (exit::OK, "Set 'tap3' nonpersistent\n"));
    let r = tunctl(&sys, "-d tap3");
    assert_eq!((r.code, r.err.as_str()), (exit::NOT_FOUND, "tunctl: link tap3: no such link\n"));
    let r = tunctl(&sys, "-t tap-3");
    assert_eq!(r.code, exit::USAGE);
    assert!(r.err.starts_with("tunctl: link tap-3: invalid link name"), "{}", r.err);
    let r = tunctl(&sys, "-t");
    assert_eq!(r.code, exit::USAGE);
    assert!(r.err.starts_with("tunctl: option -t needs a value\nusage: tunctl [-b]"), "{}", r.err);
    let r = tunctl(&sys, "-d tap0 -t tap1");
    assert_eq!(r.code, exit::USAGE);
    assert!(r.err.contains("-d cannot be combined"), "{}", r.err);
    sys.finish();
}

#[test]
fn every_verb_has_help_with_an_example_and_help_needs_no_system() {
    for verb in ["create", "delete", "show", "modify", "up", "cleanup", "register", "unregister"] {
        let args = vec![verb.to_string(), "--help".to_string()];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = tunctl::run::<SimPlatform>(&args, || Err("no system".into()), &mut out, &mut err);
        let out = String::from_utf8(out).unwrap();
        assert_eq!(code, exit::OK, "{verb}");
        assert!(out.contains("Example"), "{verb}: {out}");
        assert!(out.contains(&format!("tunctl {verb}")), "{verb}: {out}");
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = tunctl::run::<SimPlatform>(&["--help".to_string()], || Err("no system".into()), &mut out, &mut err);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, exit::OK);
    assert!(out.contains("Exit status:") && out.contains("6  the link is busy"), "{out}");
    // A verb that needs the system says why it cannot run.
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = tunctl::run::<SimPlatform>(&["show".to_string()], || Err("cannot open /dev/tuntap".into()), &mut out, &mut err);
    assert_eq!((code, String::from_utf8(err).unwrap()), (exit::FAILED, "tunctl: cannot open /dev/tuntap\n".to_string()));
}

const OFFICE: &str = "svc:/network/openvpn:office";
const HOME: &str = "svc:/network/openvpn:home";

#[test]
fn register_then_cleanup_for_the_service_after_a_crash_and_pid_reuse() {
    let sys = SimSystem::new();
    // Office's method starts OpenVPN and registers it.
    let vpn = sys.spawn("openvpn", Some(OFFICE));
    let started = sys.processes().live(vpn).unwrap().started_ns;
    let r = tunctl(&sys, &format!("register --for {OFFICE} --pid {vpn}"));
    assert_eq!((r.code, r.err.as_str()), (exit::OK, ""));
    assert_eq!(r.out, format!("pid {vpn} (openvpn, started at {started} ns) registered for {OFFICE}\n"));
    let r = tunctl(&sys, &format!("register --for {OFFICE} --pid {vpn}"));
    assert_eq!(r.out, format!("pid {vpn} (openvpn, started at {started} ns) is already registered for {OFFICE}\n"));
    // OpenVPN makes tun0 through the old API and plumbs IP on it.
    sys.host().advance_clock(std::time::Duration::from_secs(1));
    assert_eq!(sys.daemon_old_api(vpn, false, -1).unwrap(), 0);
    sys.plumb_ip("tun0").unwrap();
    // Home's daemon, registered, leaves tun1; another link is in use.
    let home = sys.spawn("openvpn", Some(HOME));
    assert_eq!(tunctl(&sys, &format!("register --for {HOME} --pid {home}")).code, exit::OK);
    sys.daemon_attach(home, "tun1", false, attach_flags::CREATE).unwrap();
    sys.daemon_set_persist(home, true).unwrap();
    sys.crash(home);
    let user = sys.spawn("openconnect", None);
    sys.daemon_attach(user, "tun2", false, attach_flags::CREATE).unwrap();
    // Office's OpenVPN crashes; cron gets its pid.
    sys.crash(vpn);
    sys.host().advance_clock(std::time::Duration::from_secs(30));
    sys.processes().spawn_with_pid(vpn, "cron", None).unwrap();

    let plan = format!("old-API link of pid {vpn}, which is gone; no queue attached; IP still plumbed (tun0)");
    let r = tunctl(&sys, &format!("cleanup --dry-run --for {OFFICE}"));
    assert_eq!((r.code, r.err.as_str()), (exit::OK, ""));
    assert_eq!(r.out, format!("tun0: stale ({plan}); would unplumb IP interface tun0 and delete it\n"));
    assert_eq!(sys.driver().links().len(), 3, "dry run changed nothing");
    assert!(sys.ip_plumbed("tun0"));
    let r = tunctl(&sys, &format!("cleanup --for {OFFICE}"));
    assert_eq!((r.code, r.err.as_str()), (exit::OK, ""));
    assert_eq!(
        r.out,
        format!("tun0: stale ({plan}); unplumbed IP interface tun0, deleted\nowner registry: dropped 1 entry of processes that are gone\n")
    );
    let r = tunctl(&sys, "show -p -o link");
    assert_eq!(r.out, "tun1\ntun2\n", "home's leftover and the link in use stay");
    let r = tunctl(&sys, &format!("cleanup --for {OFFICE}"));
    assert_eq!(r.out, format!("no stale links of {OFFICE}: nothing to clean\n"));
    // Home's own stop cleans up its link.
    let r = tunctl(&sys, &format!("cleanup --for {HOME}"));
    assert!(r.out.starts_with("tun1: stale (persistent link of pid"), "{}", r.out);
    sys.finish();
}

#[test]
fn register_and_unregister_refuse_bad_input_by_name() {
    let sys = SimSystem::new();
    let gone = sys.spawn("openvpn", Some(OFFICE));
    sys.crash(gone);
    let live = sys.spawn("openvpn", Some(OFFICE));
    let long = format!("svc:/network/{}:x", "a".repeat(300));
    let cases: Vec<(String, i32, String)> = vec![
        (format!("register --for {OFFICE} --pid {gone}"), exit::NOT_FOUND, format!("tunctl: cannot register for {OFFICE}: no process has pid {gone}\n")),
        (format!("register --for {OFFICE} --pid 0"), exit::USAGE, "'0' is not a valid pid (a number from 1 to 2147483647)".into()),
        (format!("register --for {OFFICE} --pid -5"), exit::USAGE, "--pid".into()),
        (format!("register --for {OFFICE} --pid 4294967296"), exit::USAGE, "'4294967296' is not a valid pid".into()),
        (format!("register --for {OFFICE} --pid openvpn"), exit::USAGE, "'openvpn' is not a valid pid".into()),
        (format!("register --for {OFFICE}"), exit::USAGE, "--pid <PID>".into()),
        (format!("register --pid {live}"), exit::USAGE, "--for <FMRI>".into()),
        (format!("register --for network/openvpn:office --pid {live}"), exit::USAGE, "it does not start with svc:/".into()),
        (format!("register --for svc:/network/openvpn --pid {live}"), exit::USAGE, "it names no instance".into()),
        (format!("register --for {long} --pid {live}"), exit::USAGE, "it is 315 bytes long; at most 255 are allowed".into()),
        (format!("register --for svc:/network/openvpn:a/b --pid {live}"), exit::USAGE, "instance name 'a/b' is not valid".into()),
        ("unregister --for svc:/x".into(), exit::USAGE, "it names no instance".into()),
        (format!("unregister --for {OFFICE} --pid 0"), exit::USAGE, "'0' is not a valid pid".into()),
        ("cleanup --for svc:/network/openvpn".into(), exit::USAGE, "it names no instance".into()),
    ];
    for (args, code, why) in &cases {
        let r = tunctl(&sys, args);
        assert_eq!(r.code, *code, "{args}: {}", r.err);
        assert!(r.err.contains(why.as_str()), "{args}: {}", r.err);
        assert_eq!(r.out, "", "{args}");
    }
    // An empty FMRI (a method run without SMF_FMRI) is refused too.
    let args: Vec<String> = ["register", "--for", "", "--pid", &live.to_string()].map(String::from).to_vec();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = tunctl::run(&args, || Ok(sys.admin()), &mut out, &mut err);
    assert_eq!(code, exit::USAGE);
    assert!(String::from_utf8(err).unwrap().contains("'' is not an SMF instance FMRI: it is empty"));
    assert!(sys.owner_store().names().unwrap().is_empty(), "nothing was registered");

    // Unregister what is there, and what is not.
    assert_eq!(tunctl(&sys, &format!("register --for {OFFICE} --pid {live}")).code, exit::OK);
    let r = tunctl(&sys, &format!("unregister --for {OFFICE} --pid {live}"));
    assert_eq!((r.code, r.out), (exit::OK, format!("removed 1 entry of pid {live} from the registry of {OFFICE}\n")));
    let r = tunctl(&sys, &format!("unregister --for {HOME}"));
    assert_eq!((r.code, r.out), (exit::OK, format!("removed 0 entries from the registry of {HOME}\n")));
    sys.finish();
}

#[test]
fn a_damaged_registry_is_read_around_with_a_warning() {
    let sys = SimSystem::new();
    let vpn = sys.spawn("openvpn", Some(OFFICE));
    tunctl(&sys, &format!("register --for {OFFICE} --pid {vpn}"));
    sys.host().advance_clock(std::time::Duration::from_secs(1));
    sys.daemon_attach(vpn, "tun4", false, attach_flags::CREATE).unwrap();
    sys.daemon_set_persist(vpn, true).unwrap();
    sys.crash(vpn);
    let store = sys.owner_store();
    let text = store.raw("network@openvpn+office").unwrap();
    store.put_raw("network@openvpn+office", &format!("{text}this is not a pid\n"));
    let r = tunctl(&sys, &format!("cleanup --for {OFFICE}"));
    assert_eq!(r.code, exit::OK);
    assert!(r.out.starts_with("tun4: stale ("), "{}", r.out);
    assert_eq!(
        r.err,
        "tunctl: warning: memory/network@openvpn+office line 4: 'this is not a pid' is not 'pid start_time_ns'; skipped\n"
    );
    sys.finish();
}

#[test]
fn every_abi_counter_reaches_show_s_and_json() {
    // The counter set is the ABI's table (TunCounters::named): tunctl
    // prints exactly what it lists, resolver_replies included.
    let names: Vec<&str> = tuntap_abi::TunCounters::default().named().iter().map(|(n, _)| *n).collect();
    assert!(names.contains(&"resolver_replies"));
    let sys = SimSystem::new();
    tunctl(&sys, "create -T tun vpn0");
    tunctl(&sys, "create -T tap vpn1");
    let d = sys.spawn("openvpn", None);
    sys.daemon_attach(d, "vpn0", false, 0).unwrap();
    let r = tunctl(&sys, "show -s");
    assert_eq!((r.code, r.err.as_str()), (exit::OK, ""));
    let rows: Vec<Vec<&str>> = r.out.lines().map(|l| l.split_whitespace().collect()).collect();
    let header: Vec<String> = std::iter::once("LINK").chain(names.iter().copied()).map(str::to_ascii_uppercase).collect();
    assert_eq!(rows[0], header, "show -s columns are the link and every named counter");
    assert_eq!(rows.len(), 3, "{}", r.out);
    assert_eq!(rows[1][0], "vpn0");
    assert!(rows[1][1..].iter().all(|v| v.parse::<u64>().is_ok()), "{:?}", rows[1]);
    let r = tunctl(&sys, "show --parseable -s vpn0");
    assert_eq!(r.code, exit::OK, "{}", r.err);
    assert_eq!(r.out.trim_end().split(':').count(), names.len() + 1, "{}", r.out);
    assert!(r.out.starts_with("vpn0:"), "{}", r.out);
    let v: serde_json::Value = serde_json::from_str(&tunctl(&sys, "show --json vpn0").out).unwrap();
    let counters = v[0]["kernel"]["counters"].as_object().expect("counters object");
    let mut shown: Vec<&str> = counters.keys().map(String::as_str).collect();
    let mut want = names.clone();
    shown.sort_unstable();
    want.sort_unstable();
    assert_eq!(shown, want, "JSON counters are exactly TunCounters::named()");
    let r = tunctl(&sys, "show -p vpn0");
    assert_eq!((r.code, r.err.as_str()), (exit::USAGE, "tunctl: show: -p (--parsable) needs -o field,... or -s\n"));
    sys.finish();
}

#[test]
fn a_stopped_dlmgmtd_is_reported_as_such_not_as_a_missing_link() {
    let sys = SimSystem::new();
    tunctl(&sys, "create -T tun vpn0");
    sys.stop_dlmgmtd();
    let r = tunctl(&sys, "show vpn0");
    assert_eq!(r.code, exit::FAILED, "{}", r.err);
    assert!(r.err.starts_with("tunctl: link vpn0: dlmgmtd is not running"), "{}", r.err);
    sys.start_dlmgmtd();
    sys.finish();
}

#[test]
fn usage_errors_have_the_same_style_as_every_other_error() {
    let sys = SimSystem::new();
    for args in ["create", "frobnicate", "show --bogus", "create --mtu abc vpn0", "modify --owner x --no-owner vpn0"] {
        let r = tunctl(&sys, args);
        assert_eq!(r.code, exit::USAGE, "{args}: {}", r.err);
        assert!(r.err.starts_with("tunctl: "), "{args}: {:?}", r.err);
        assert!(!r.err.contains("error: "), "{args}: {:?}", r.err);
    }
    let r = tunctl(&sys, "--help");
    assert_eq!((r.code, r.err.as_str()), (exit::OK, ""));
    assert!(r.out.contains("Exit status:"), "{}", r.out);
    sys.finish();
}

#[test]
fn show_p_upper_shows_the_persistent_configuration() {
    let sys = SimSystem::new();
    tunctl(&sys, "create -T tun --mtu 1400 vpn0");
    tunctl(&sys, "create -T tun --temporary tun0");
    assert_eq!(tunctl(&sys, "modify -t --mtu 1280 vpn0").code, exit::OK);
    assert_eq!(tunctl(&sys, "show -p -o link,mtu vpn0").out, "vpn0:1280\n", "running");
    assert_eq!(tunctl(&sys, "show -P -p -o link,mtu").out, "vpn0:1400\n", "configured; the temporary tun0 is not");
    let r = tunctl(&sys, "show -P");
    let header: Vec<&str> = r.out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["LINK", "MODE", "MTU", "MACADDRESS", "OWNER", "GROUP"]);
    let r = tunctl(&sys, "show -P tun0");
    assert_eq!((r.code, r.err.as_str()), (exit::NOT_FOUND, "tunctl: link tun0: temporary: it has no persistent configuration\n"));
    sys.finish();
}

/// The numbers `.It N` under EXIT STATUS in tunctl(8).
fn page_exit_codes(page: &str) -> Vec<i32> {
    page.lines()
        .skip_while(|l| *l != ".Sh EXIT STATUS")
        .skip(1)
        .take_while(|l| !l.starts_with(".Sh "))
        .filter_map(|l| l.strip_prefix(".It ")?.trim().parse().ok())
        .collect()
}

#[test]
fn exit_codes_are_the_documented_ones() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../man/tunctl.8")).unwrap();
    let code = [exit::OK, exit::FAILED, exit::USAGE, exit::NOT_FOUND, exit::EXISTS, exit::DENIED, exit::BUSY, exit::PARTIAL];
    assert_eq!(page_exit_codes(&page), code.to_vec(), "tunctl(8) EXIT STATUS vs tunctl::exit");
    let sys = SimSystem::new();
    let help = tunctl(&sys, "--help").out;
    for c in code {
        assert!(help.lines().any(|l| l.trim_start().starts_with(&format!("{c}  "))), "--help lists exit status {c}");
    }
    let stale = page.replace(".It 7\n", ".It 8\n");
    assert_ne!(page_exit_codes(&stale), code.to_vec(), "the check bites");
    sys.finish();
}

#[test]
fn show_s_i_reports_the_counts_since_the_last_report() {
    let sys = SimSystem::new();
    tunctl(&sys, "create -T tun vpn0");
    let d = sys.spawn("openvpn", None);
    sys.daemon_attach(d, "vpn0", false, 0).unwrap();
    // One bad write (too short for IP) before the first report.
    let _ = sys.daemon_write(d, &[0x45]);
    let ierrors = tuntap_abi::TunCounters::default().named().iter().position(|(n, _)| *n == "ierrors").unwrap() + 1;
    let r = tunctl(&sys, "show -s -p -i 1 --count 2 vpn0");
    assert_eq!(r.code, exit::OK, "{}", r.err);
    let lines: Vec<Vec<&str>> = r.out.lines().map(|l| l.split(':').collect()).collect();
    assert_eq!(lines.len(), 2, "two reports: {}", r.out);
    assert_eq!(lines[0][ierrors], "1", "the first report is the totals: {}", r.out);
    assert!(lines[1][1..].iter().all(|v| *v == "0"), "nothing happened in the interval: {}", r.out);
    let r = tunctl(&sys, "show -i 1 vpn0");
    assert_eq!(r.code, exit::USAGE, "-i needs -s");
    let r = tunctl(&sys, "show -s -i 0 vpn0");
    assert_eq!(r.code, exit::USAGE, "an interval is at least a second");
    sys.finish();
}

#[test]
fn bridge_add_show_remove_and_every_refusal() {
    let sys = SimSystem::new();
    tunctl(&sys, "create -T tap tap0");
    tunctl(&sys, "create -T tun tun0");
    tunctl(&sys, "create -T tap --temporary tmp0");
    let r = tunctl(&sys, "bridge add tap0 br0");
    assert_eq!((r.code, r.out.as_str(), r.err.as_str()), (exit::OK, "link tap0 is on bridge br0\n", ""));
    assert_eq!(tunctl(&sys, "bridge show tap0").out, "br0\n");
    assert_eq!(sys.take_dladm_events(), vec!["refresh br0"]);
    // Bad input twins: a tun link, a temporary link, no such link, another
    // bridge, missing arguments.
    let r = tunctl(&sys, "bridge add tun0 br0");
    assert_eq!(r.code, exit::USAGE);
    assert_eq!(r.err, "tunctl: link tun0: a tun link cannot join a bridge: it carries IP packets, not Ethernet frames (use a tap link)\n");
    let r = tunctl(&sys, "bridge add tmp0 br0");
    assert_eq!(r.code, exit::NOT_FOUND);
    assert!(r.err.starts_with("tunctl: link tmp0: cannot join a bridge: it is a temporary link"), "{}", r.err);
    let r = tunctl(&sys, "bridge add nosuch0 br0");
    assert_eq!((r.code, r.err.as_str()), (exit::NOT_FOUND, "tunctl: link nosuch0: no such link\n"));
    let r = tunctl(&sys, "bridge add tap0 br1");
    assert_eq!(r.code, exit::BUSY);
    assert!(r.err.contains("is on bridge br0 already"), "{}", r.err);
    assert_eq!(tunctl(&sys, "bridge add tap0").code, exit::USAGE);
    assert_eq!(tunctl(&sys, "bridge frob tap0").code, exit::USAGE);
    assert!(sys.take_dladm_events().is_empty(), "no refusal reached libdladm");
    let r = tunctl(&sys, "bridge remove tap0");
    assert_eq!((r.code, r.out.as_str()), (exit::OK, "link tap0 left bridge br0\n"));
    assert_eq!(tunctl(&sys, "bridge show tap0").out, "none\n");
    assert_eq!(tunctl(&sys, "bridge remove tap0").out, "link tap0 is on no bridge\n");
    assert!(tunctl(&sys, "bridge --help").out.contains("dladm create-bridge br0"));
    sys.finish();
}
