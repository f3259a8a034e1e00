// SPDX-License-Identifier: MPL-2.0
//! create / show / list / modify / delete / up on the simulated host,
//! with every bad input and the rollback of a failed create.

use libdladm_plugin::sim::{SimPlatform, SimSystem};
use libdladm_plugin::*;
use tuntap_sim::{CredSpec, Privileges};

fn adm(sys: &SimSystem) -> TunAdm<SimPlatform> {
    TunAdm::new(sys.admin())
}

fn tap(name: &str) -> CreateRequest {
    CreateRequest::new(name, Mode::Tap)
}

#[test]
fn create_show_delete_a_persistent_tap() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    let mac: MacAddr = "2:8:20:1:2:3".parse().unwrap();
    let req = CreateRequest { mtu: Some(9000), mac: Some(mac), owner: Some(1001), group: Some(50), ..tap("vpn0") };
    let link = adm.create(&req).unwrap();
    assert_eq!(link.name, "vpn0");
    assert_eq!(link.mode, Mode::Tap);
    assert!(link.persistent && link.active);
    let k = link.kernel.as_ref().unwrap();
    assert_eq!((k.mtu, k.mac, k.owner, k.group), (9000, mac, Some(1001), Some(50)));
    assert_eq!(k.origin, Origin::Admin);
    assert_eq!(k.queues, 0);
    assert!(!k.link_up, "no queue attached yet");
    let c = link.config.as_ref().unwrap();
    assert_eq!((c.mode, c.mtu, c.mac, c.owner, c.group), (Mode::Tap, Some(9000), Some(mac), Some(1001), Some(50)));
    // dlmgmtd has it as a persistent misc/Ether link (dladm show-link -P).
    let e = sys.host().dlmgmt_name2info(0, "vpn0").unwrap();
    assert_eq!(e.class, illumos_sys_hdrs::DATALINK_CLASS_MISC);
    assert!(e.flags.persistent && e.flags.active);
    // The driver has it with that id.
    assert!(sys.driver().link_by_id(link.linkid).is_some());
    assert_eq!(adm.show("vpn0").unwrap(), link);
    assert_eq!(adm.list().unwrap(), vec![link.clone()]);

    adm.delete("vpn0", DeleteOptions::default()).unwrap();
    assert!(sys.driver().links().is_empty());
    assert!(sys.host().dlmgmt_name2info(0, "vpn0").is_err(), "id and configuration are gone");
    assert_eq!(adm.show("vpn0").unwrap_err().kind, ErrorKind::NotFound);
    assert!(adm.list().unwrap().is_empty());
    sys.finish();
}

#[test]
fn a_temporary_tun_has_no_configuration() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    let link = adm.create(&CreateRequest { persistent: false, ..CreateRequest::new("tun5", Mode::Tun) }).unwrap();
    assert!(!link.persistent && link.active && link.config.is_none());
    assert_eq!(link.kernel.as_ref().unwrap().mtu, MTU_DEFAULT);
    let e = sys.host().dlmgmt_name2info(0, "tun5").unwrap();
    assert!(!e.flags.persistent);
    adm.delete("tun5", DeleteOptions::default()).unwrap();
    assert!(sys.host().dlmgmt_name2info(0, "tun5").is_err());
    sys.finish();
}

#[test]
fn bad_names_are_refused_before_anything_is_made() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    for (name, why) in [
        ("", "empty"),
        ("vpn", "must end with a digit"),
        ("0vpn", "must not start with a digit"),
        ("vpn-0", "may hold only"),
        ("averyveryveryveryverylonglinkname0", "longer than 31"),
    ] {
        let e = adm.create(&tap(name)).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::BadName(_)), "{name}: {e}");
        assert_eq!(e.status(), Status::BadName);
        let text = e.to_string();
        assert!(text.contains(why), "{name}: {text}");
        assert!(text.starts_with(&format!("link {name}: invalid link name")), "{text}");
        assert!(matches!(adm.show(name).unwrap_err().kind, ErrorKind::BadName(_)));
        assert!(matches!(adm.delete(name, DeleteOptions::default()).unwrap_err().kind, ErrorKind::BadName(_)));
    }
    assert!(sys.host().dlmgmt_walk(0, illumos_sys_hdrs::DATALINK_CLASS_ALL).is_empty());
    sys.finish();
}

#[test]
fn a_duplicate_is_refused_naming_what_exists() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    adm.create(&tap("vpn0")).unwrap();
    let e = adm.create(&CreateRequest::new("vpn0", Mode::Tun)).unwrap_err();
    assert_eq!(e.to_string(), "link vpn0: already exists (a tap link)");
    assert_eq!(e.status(), Status::Exists);
    // A vnic of that name: the error says so.
    let root = sys.root_cred();
    sys.host().dlmgmt_create_id(&root, "net0", 0x08, 4, tuntap_sim::DlFlags::ACTIVE_PERSIST).unwrap();
    let e = adm.create(&tap("net0")).unwrap_err();
    assert_eq!(e.to_string(), "link net0: already exists (a vnic link)");
    assert_eq!(sys.driver().links().len(), 1);
    sys.finish();
}

#[test]
fn links_of_another_class_are_not_ours() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    let root = sys.root_cred();
    let id = sys.host().dlmgmt_create_id(&root, "net0", 0x08, 4, tuntap_sim::DlFlags::ACTIVE).unwrap();
    // And a misc link of another driver (OPTE's xde is class misc too).
    sys.host().dlmgmt_create_id(&root, "xde0", 0x400, 4, tuntap_sim::DlFlags::ACTIVE).unwrap();
    for verb in ["show", "delete", "modify"] {
        let e = match verb {
            "show" => adm.show("net0").unwrap_err(),
            "delete" => adm.delete("net0", DeleteOptions::default()).unwrap_err(),
            _ => adm.modify("net0", &ModifyRequest { mtu: Some(1400), ..Default::default() }).unwrap_err(),
        };
        assert_eq!(e.to_string(), "link net0: not a tun/tap link (it is a vnic link)", "{verb}");
        assert_eq!(e.status(), Status::NotTunTap);
    }
    let e = adm.delete("xde0", DeleteOptions::default()).unwrap_err();
    assert_eq!(e.to_string(), "link xde0: not a tun/tap link (it is a misc link)");
    assert!(sys.host().dlmgmt_id2info(0, id).is_ok(), "the vnic is untouched");
    assert!(adm.list().unwrap().is_empty(), "neither is listed");
    sys.finish();
}

#[test]
fn invalid_mtu_and_mac_are_refused_with_the_value() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    for mtu in [0, 575, 65_536] {
        let e = adm.create(&CreateRequest { mtu: Some(mtu), ..tap("vpn0") }).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidMtu(libdladm_plugin::BadMtu(mtu)));
        assert_eq!(e.to_string(), format!("link vpn0: invalid MTU {mtu}: must be 576 to 65535"));
    }
    let multicast: MacAddr = "1:0:5e:0:0:1".parse().unwrap();
    let e = adm.create(&CreateRequest { mac: Some(multicast), ..tap("vpn0") }).unwrap_err();
    assert_eq!(e.status(), Status::InvalidMac);
    assert!(e.to_string().contains("multicast"), "{e}");
    let e = adm.create(&CreateRequest { mac: Some(MacAddr([0; 6])), ..tap("vpn0") }).unwrap_err();
    assert!(e.to_string().contains("all-zero"), "{e}");
    let e = adm
        .create(&CreateRequest { mac: Some("2:0:0:0:0:1".parse().unwrap()), ..CreateRequest::new("tun0", Mode::Tun) })
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::MacOnTun);
    for bad in ["2:0:0:0:0", "2:0:0:0:0:1:7", "2:0:0:0:0:zz", "2:0:0:0:0:123", ""] {
        assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
    }
    assert!(sys.driver().links().is_empty());
    assert!(sys.host().dlmgmt_walk(0, illumos_sys_hdrs::DATALINK_CLASS_ALL).is_empty());
    sys.finish();
}

#[test]
fn an_unprivileged_caller_is_refused_and_nothing_is_made() {
    let sys = SimSystem::new();
    adm(&sys).create(&tap("vpn0")).unwrap();
    let user = sys.host().user_cred(1001, 10, 0);
    let adm_user = TunAdm::new(sys.platform_as(user));
    let e = adm_user.create(&tap("vpn1")).unwrap_err();
    assert_eq!(e.to_string(), "link vpn1: permission denied: needs the sys_dl_config privilege");
    assert_eq!(e.status(), Status::Permission);
    assert_eq!(adm_user.delete("vpn0", DeleteOptions::default()).unwrap_err().status(), Status::Permission);
    let e = adm_user.modify("vpn0", &ModifyRequest { mtu: Some(1400), ..Default::default() }).unwrap_err();
    assert_eq!(e.status(), Status::Permission);
    // Reading is allowed.
    assert_eq!(adm_user.show("vpn0").unwrap().name, "vpn0");
    assert_eq!(adm(&sys).show("vpn0").unwrap().kernel.unwrap().mtu, 1500, "modify changed nothing");
    // dl_config in dlmgmtd but not... : a cred with the privilege works.
    let cfg = sys.host().cred(CredSpec {
        uid: 1001,
        gid: 10,
        groups: vec![],
        zone: 0,
        privs: Privileges { dl_config: true, net_rawaccess: false },
    });
    TunAdm::new(sys.platform_as(cfg)).create(&tap("vpn1")).unwrap();
    sys.finish();
}

#[test]
fn zones_see_and_change_only_their_own_links() {
    let sys = SimSystem::new();
    let zone = sys.host().create_zone("web");
    let zroot = sys.host().cred(CredSpec { uid: 0, gid: 0, groups: vec![], zone, privs: Privileges::all() });
    let zadm = TunAdm::new(sys.platform_as(zroot));
    // A non-global zone may not keep configuration.
    let e = zadm.create(&tap("vpn0")).unwrap_err();
    assert_eq!(e.status(), Status::TemporaryOnly);
    assert!(e.to_string().contains("--temporary"), "{e}");
    let zl = zadm.create(&CreateRequest { persistent: false, ..tap("vpn0") }).unwrap();
    assert_eq!(zl.zone_name, "web");
    // The global zone sees it, names the zone, and will not change it.
    let gadm = adm(&sys);
    assert_eq!(gadm.show("vpn0").unwrap().zone_name, "web");
    let e = gadm.delete("vpn0", DeleteOptions::default()).unwrap_err();
    assert_eq!(e.to_string(), "link vpn0: belongs to zone 'web'; administer it from there");
    assert_eq!(e.status(), Status::OtherZone);
    // The zone does not see the global zone's links.
    gadm.create(&tap("gz0")).unwrap();
    assert_eq!(zadm.show("gz0").unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(zadm.list().unwrap().iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), vec!["vpn0"]);
    zadm.delete("vpn0", DeleteOptions::default()).unwrap();
    sys.finish();
}

#[test]
fn a_failed_kernel_create_leaves_no_id_configuration_or_link() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    sys.host().fail_next_mac_register(1);
    let e = adm.create(&CreateRequest { mtu: Some(1400), ..tap("vpn0") }).unwrap_err();
    assert_eq!(e.status(), Status::Kernel);
    assert_eq!(e.to_string(), "link vpn0: the tuntap driver refused to create the link: out of memory (ENOMEM)");
    assert!(sys.driver().links().is_empty(), "no kernel link");
    assert!(sys.host().dlmgmt_walk(0, illumos_sys_hdrs::DATALINK_CLASS_ALL).is_empty(), "no id, no configuration");
    // And the name is free again.
    adm.create(&tap("vpn0")).unwrap();
    sys.finish();
}

#[test]
fn modify_changes_the_link_and_its_configuration() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    adm.create(&CreateRequest { owner: Some(5), ..tap("vpn0") }).unwrap();
    let mac: MacAddr = "2:aa:bb:cc:dd:ee".parse().unwrap();
    let l = adm
        .modify("vpn0", &ModifyRequest { mtu: Some(1400), mac: Some(mac), owner: Some(None), group: Some(Some(7)), temporary: false, ..Default::default() })
        .unwrap();
    let k = l.kernel.unwrap();
    assert_eq!((k.mtu, k.mac, k.owner, k.group), (1400, mac, None, Some(7)));
    let c = l.config.unwrap();
    assert_eq!((c.mtu, c.mac, c.owner, c.group), (Some(1400), Some(mac), None, Some(7)));
    // Temporary: the running link only.
    let l = adm.modify("vpn0", &ModifyRequest { mtu: Some(9000), temporary: true, ..Default::default() }).unwrap();
    assert_eq!(l.kernel.unwrap().mtu, 9000);
    assert_eq!(l.config.unwrap().mtu, Some(1400));
    // Bad input changes nothing.
    let e = adm.modify("vpn0", &ModifyRequest { mtu: Some(100), ..Default::default() }).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidMtu(libdladm_plugin::BadMtu(100)));
    let e = adm.modify("vpn9", &ModifyRequest { mtu: Some(1400), ..Default::default() }).unwrap_err();
    assert_eq!(e.to_string(), "link vpn9: no such link");
    adm.create(&CreateRequest::new("tun0", Mode::Tun)).unwrap();
    let e = adm.modify("tun0", &ModifyRequest { mac: Some(mac), ..Default::default() }).unwrap_err();
    assert_eq!(e.kind, ErrorKind::MacOnTun);
    assert_eq!(adm.show("vpn0").unwrap().kernel.unwrap().mtu, 9000);
    sys.finish();
}

#[test]
fn delete_refuses_a_link_in_use_unless_forced() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    adm.create(&tap("vpn0")).unwrap();
    let daemon = sys.spawn("openvpn", None);
    sys.daemon_attach(daemon, "vpn0", true, 0).unwrap();
    let e = adm.delete("vpn0", DeleteOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("link vpn0: busy: 1 queue(s) attached (pid {daemon}); stop the daemon or use --force")
    );
    assert_eq!(adm.show("vpn0").unwrap().kernel.unwrap().pids, vec![daemon]);
    sys.close_streams(daemon);
    sys.plumb_ip("vpn0").unwrap();
    let e = adm.delete("vpn0", DeleteOptions { force: true, ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("ipadm delete-ip vpn0"), "{e}");
    assert!(adm.show("vpn0").is_ok(), "still there");
    sys.finish();
}

#[test]
fn up_recreates_configured_links_after_a_reboot_and_is_idempotent() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    let mac: MacAddr = "2:1:2:3:4:5".parse().unwrap();
    adm.create(&CreateRequest { mtu: Some(1400), mac: Some(mac), owner: Some(1001), ..tap("vpn0") }).unwrap();
    adm.create(&CreateRequest::new("tun1", Mode::Tun)).unwrap();
    adm.create(&CreateRequest { persistent: false, ..tap("tmp0") }).unwrap();
    sys.reboot();
    assert!(sys.driver().links().is_empty());
    // Configured but not active: listed as such; the temporary one is gone.
    let listed = adm.list().unwrap();
    assert_eq!(listed.iter().map(|l| (l.name.as_str(), l.active)).collect::<Vec<_>>(), vec![("tun1", false), ("vpn0", false)]);
    let report = adm.up(None).unwrap();
    let mut got: Vec<_> = report.entries.iter().map(|e| (e.name.clone(), e.outcome.clone())).collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, vec![("tun1".into(), UpOutcome::Created), ("vpn0".into(), UpOutcome::Created)]);
    let k = adm.show("vpn0").unwrap().kernel.unwrap();
    assert_eq!((k.mtu, k.mac, k.owner, k.mode), (1400, mac, Some(1001), Mode::Tap));
    assert_eq!(sys.driver().links().len(), 2);
    // Again: nothing to do.
    let again = adm.up(None).unwrap();
    assert!(again.entries.iter().all(|e| e.outcome == UpOutcome::AlreadyUp), "{again:?}");
    assert_eq!(sys.driver().links().len(), 2);
    // A temporary delete keeps the configuration; up brings it back.
    adm.delete("vpn0", DeleteOptions { temporary: true, ..Default::default() }).unwrap();
    assert!(!adm.show("vpn0").unwrap().active);
    assert_eq!(adm.up(Some("vpn0")).unwrap().entries[0].outcome, UpOutcome::Created);
    sys.finish();
}

#[test]
fn a_failed_up_reports_the_link_and_keeps_its_configuration() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    adm.create(&tap("vpn0")).unwrap();
    sys.reboot();
    sys.host().fail_next_mac_register(1);
    let report = adm.up(None).unwrap();
    assert_eq!(report.failures(), 1);
    let UpOutcome::Failed(e) = &report.entries[0].outcome else { panic!("{report:?}") };
    assert_eq!(e.link.as_deref(), Some("vpn0"));
    let l = adm.show("vpn0").unwrap();
    assert!(!l.active && l.persistent && l.config.is_some());
    assert_eq!(adm.up(None).unwrap().entries[0].outcome, UpOutcome::Created);
    sys.finish();
}

#[test]
fn statuses_are_stable_and_described() {
    for (i, s) in Status::ALL.iter().enumerate() {
        assert_eq!(*s as u32, i as u32);
        assert_eq!(Status::from_code(i as u32), Some(*s));
        assert!(!s.description().is_empty());
    }
    assert_eq!(Status::from_code(Status::ALL.len() as u32), None);
}
