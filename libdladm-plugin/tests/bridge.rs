// SPDX-License-Identifier: MPL-2.0
//! Tap links on bridges and under VNICs (src/bridge.rs): `bridge_add`
//! and `bridge_remove` through `dladm_bridge_setlink`, the refusals (tun
//! link, temporary link, another bridge), delete taking the link off its
//! bridge, and `up` refreshing the bridge and re-creating the persistent
//! VNICs over the link after a reboot.

use libdladm_plugin::sim::{SimPlatform, SimSystem};
use libdladm_plugin::*;
use tuntap_sim::DlFlags;

fn adm(sys: &SimSystem) -> TunAdm<SimPlatform> {
    TunAdm::new(sys.admin())
}

#[test]
fn a_persistent_tap_joins_and_leaves_a_bridge() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    let link = adm.create(&CreateRequest::new("tap0", Mode::Tap)).unwrap();
    adm.bridge_add("tap0", "br0").unwrap();
    // dladm's own field: `dladm show-bridge -l` and bridged read FBRIDGE.
    assert_eq!(sys.host().dlmgmt_get_conf(0, link.linkid, "bridge").unwrap(), b"br0");
    assert_eq!(adm.bridge_of("tap0").unwrap().as_deref(), Some("br0"));
    assert_eq!(sys.take_dladm_events(), vec!["refresh br0"], "dladm_bridge_setlink refreshes the bridge");
    // Again on the same bridge: nothing to do.
    adm.bridge_add("tap0", "br0").unwrap();
    assert!(sys.take_dladm_events().is_empty());
    // Another bridge: dladm_bridge_setlink refuses a move.
    let e = adm.bridge_add("tap0", "br1").unwrap_err();
    assert_eq!(e.kind, ErrorKind::OnOtherBridge { bridge: "br0".into() });
    assert!(e.to_string().contains("tunctl bridge remove"), "{e}");
    assert_eq!(adm.bridge_remove("tap0").unwrap().as_deref(), Some("br0"));
    assert_eq!(adm.bridge_of("tap0").unwrap(), None);
    assert_eq!(sys.take_dladm_events(), vec!["refresh br0"], "the bridge it left drops the port");
    assert_eq!(adm.bridge_remove("tap0").unwrap(), None, "removing twice is harmless");
    sys.finish();
}

#[test]
fn a_tun_link_a_temporary_link_and_an_unknown_link_cannot_be_bridged() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    adm.create(&CreateRequest::new("tun0", Mode::Tun)).unwrap();
    adm.create(&CreateRequest { persistent: false, ..CreateRequest::new("tmp0", Mode::Tap) }).unwrap();
    let e = adm.bridge_add("tun0", "br0").unwrap_err();
    assert_eq!(e.kind, ErrorKind::TunLink { op: "join a bridge" });
    assert_eq!(e.status(), Status::MacOnTun);
    assert!(e.to_string().contains("use a tap link"), "{e}");
    let e = adm.bridge_add("tmp0", "br0").unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotPersistent { op: "join a bridge" });
    assert!(e.to_string().contains("without --temporary"), "{e}");
    assert_eq!(adm.bridge_add("nosuch0", "br0").unwrap_err().kind, ErrorKind::NotFound);
    assert!(sys.take_dladm_events().is_empty(), "nothing reached libdladm");
    // The backend refuses a temporary link by itself too, as dlmgmtd's
    // dlmgmt_openconf does (ENOENT): the check above is not the only guard.
    let id = adm.show("tmp0").unwrap().linkid;
    assert_eq!(sys.admin().bridge_setlink(id, "br0"), Err(DlError::NotFound));
    sys.finish();
}

#[test]
fn delete_takes_the_link_off_its_bridge() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    adm.create(&CreateRequest::new("tap0", Mode::Tap)).unwrap();
    adm.bridge_add("tap0", "br0").unwrap();
    sys.take_dladm_events();
    adm.delete("tap0", DeleteOptions::default()).unwrap();
    // Stock dladm_bridge_delete never walks class MISC for members, so
    // only we clear it; the refresh lets the daemon drop the port.
    assert_eq!(sys.take_dladm_events(), vec!["refresh br0"]);
    // A new link of the same name starts off any bridge.
    adm.create(&CreateRequest::new("tap0", Mode::Tap)).unwrap();
    assert_eq!(adm.bridge_of("tap0").unwrap(), None);
    sys.finish();
}

#[test]
fn up_refreshes_the_bridge_and_brings_up_the_persistent_vnics_over_the_tap() {
    let sys = SimSystem::new();
    let adm = adm(&sys);
    let tap = adm.create(&CreateRequest::new("tap0", Mode::Tap)).unwrap();
    let other = adm.create(&CreateRequest::new("tap1", Mode::Tap)).unwrap();
    adm.bridge_add("tap0", "br0").unwrap();
    // `dladm create-vnic -l tap0 vnic0` (persistent): a VNIC id whose
    // FLINKOVER names tap0, and one over tap1.
    let root = sys.root_cred();
    let class = illumos_sys_hdrs::DATALINK_CLASS_VNIC;
    let vnic0 = sys.host().dlmgmt_create_id(&root, "vnic0", class, illumos_sys_hdrs::DL_ETHER, DlFlags::ACTIVE_PERSIST).unwrap();
    sys.host().dlmgmt_set_conf(&root, vnic0, "linkover", &u64::from(tap.linkid).to_ne_bytes()).unwrap();
    let vnic1 = sys.host().dlmgmt_create_id(&root, "vnic1", class, illumos_sys_hdrs::DL_ETHER, DlFlags::ACTIVE_PERSIST).unwrap();
    sys.host().dlmgmt_set_conf(&root, vnic1, "linkover", &u64::from(other.linkid).to_ne_bytes()).unwrap();
    sys.reboot();
    sys.take_dladm_events();
    // Boot: net-physical's `dladm up-vnic` ran before our links existed.
    assert!(!sys.host().dlmgmt_id2info(0, vnic0).unwrap().flags.active);
    adm.up(Some("tap0")).unwrap();
    assert_eq!(sys.take_dladm_events(), vec!["refresh br0".to_string(), format!("vnic-up {vnic0}")]);
    assert!(sys.host().dlmgmt_id2info(0, vnic0).unwrap().flags.active, "the VNIC over tap0 is back");
    assert!(!sys.host().dlmgmt_id2info(0, vnic1).unwrap().flags.active, "tap1 is not up: its VNIC waits");
    adm.up(None).unwrap();
    assert_eq!(sys.take_dladm_events(), vec![format!("vnic-up {vnic1}")], "tap1 has no bridge; vnic0 is active already");
    // Idempotent: nothing created, nothing refreshed.
    adm.up(None).unwrap();
    assert!(sys.take_dladm_events().is_empty());
    sys.finish();
}
