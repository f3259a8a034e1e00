// SPDX-License-Identifier: MPL-2.0
//! The MTU is the `mtu` link property (issue 15): `dladm set-linkprop -p
//! mtu=` and `tunctl modify --mtu` change one value, mac's and the
//! configuration's, and `up` re-applies every persistent property
//! (`maxbw`, `priority`) to the links it makes at boot.

use libdladm_plugin::sim::SimSystem;
use libdladm_plugin::*;

fn linkid(adm: &TunAdm<libdladm_plugin::sim::SimPlatform>, name: &str) -> DatalinkId {
    adm.show(name).unwrap().linkid
}

#[test]
fn dladm_set_linkprop_and_modify_agree_on_the_mtu() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    adm.create(&CreateRequest::new("vpn0", Mode::Tun)).unwrap();
    let id = linkid(&adm, "vpn0");
    // `dladm set-linkprop -p mtu=1400 vpn0`
    adm.platform().set_linkprop(id, "mtu", "1400", false).unwrap();
    let l = adm.show("vpn0").unwrap();
    assert_eq!((l.kernel.unwrap().mtu, l.config.unwrap().mtu), (1400, Some(1400)), "tunctl sees dladm's value");
    // `tunctl modify --mtu 9000 vpn0`: mac (what dladm show-linkprop reads) agrees.
    adm.modify("vpn0", &ModifyRequest { mtu: Some(9000), ..Default::default() }).unwrap();
    assert_eq!(sys.host().mac_info("vpn0").unwrap().sdu_max, 9000, "mac's SDU is the property's value");
    assert_eq!(adm.show("vpn0").unwrap().config.unwrap().mtu, Some(9000), "persisted as the mtu property");
    // -t: only the running value.
    adm.modify("vpn0", &ModifyRequest { mtu: Some(1280), temporary: true, ..Default::default() }).unwrap();
    let l = adm.show("vpn0").unwrap();
    assert_eq!((l.kernel.unwrap().mtu, l.config.unwrap().mtu), (1280, Some(9000)));
    sys.finish();
}

#[test]
fn up_reapplies_persistent_link_properties() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    adm.create(&CreateRequest { mtu: Some(1400), ..CreateRequest::new("vpn0", Mode::Tap) }).unwrap();
    let id = linkid(&adm, "vpn0");
    adm.platform().set_linkprop(id, "maxbw", "10M", false).unwrap();
    adm.platform().set_linkprop(id, "priority", "low", false).unwrap();
    adm.platform().set_linkprop(id, "mtu", "9000", false).unwrap();
    sys.reboot();
    assert_eq!(sys.linkprop("vpn0", "maxbw"), None, "a reboot clears the running values");
    let report = adm.up(None).unwrap();
    assert_eq!(report.failures(), 0, "{report:?}");
    assert_eq!(sys.linkprop("vpn0", "maxbw").as_deref(), Some("10M"));
    assert_eq!(sys.linkprop("vpn0", "priority").as_deref(), Some("low"));
    assert_eq!(adm.show("vpn0").unwrap().kernel.unwrap().mtu, 9000, "dladm's persisted mtu");
    sys.finish();
}

#[test]
fn a_property_that_cannot_be_reapplied_is_reported_and_the_link_stays() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    adm.create(&CreateRequest::new("vpn0", Mode::Tun)).unwrap();
    let id = linkid(&adm, "vpn0");
    // A value an older libdladm accepted; this one refuses it.
    sys.host().dlmgmt_set_conf(&sys.root_cred(), id, "priority", b"urgent").unwrap();
    sys.reboot();
    let report = adm.up(None).unwrap();
    assert_eq!(report.failures(), 1);
    let UpOutcome::Failed(e) = &report.entries[0].outcome else { panic!("{report:?}") };
    assert!(e.to_string().contains("re-apply its persistent link properties"), "{e}");
    assert!(adm.show("vpn0").unwrap().kernel.is_some(), "the link itself is up");
    sys.finish();
}
