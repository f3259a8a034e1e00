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

/// The MAC address is not a link property on illumos: libdladm's
/// `prop_table` (usr/src/lib/libdladm/common/linkprop.c) has no MAC
/// address entry (only `secondary-macs`, for VNICs) and mac has no
/// `MAC_PROP_*` id for it.  A running link's primary address changes
/// through `mac_unicast_primary_set` (mac_client.c, "the only interface
/// that allow[s] the client to update the primary MAC address"; dld calls
/// it for `DL_SET_PHYS_ADDR_REQ`, i.e. `ifconfig vpn0 ether ...`), which
/// calls the driver's `mc_unicst`; the driver's own changes go to mac
/// with `mac_unicst_update` (mac_provider.c).  So the driver holds the
/// one running value and mac follows it both ways: whatever changed it,
/// `tunctl show` and mac agree.
#[test]
fn the_running_mac_address_lives_once_in_the_driver_and_mac_follows() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    let a: MacAddr = "2:8:20:0:0:a".parse().unwrap();
    adm.create(&CreateRequest { mac: Some(a), ..CreateRequest::new("vpn0", Mode::Tap) }).unwrap();
    assert_eq!(sys.host().mac_info("vpn0").unwrap().addr, a.0, "mac_register's m_src_addr");
    // `ifconfig vpn0 ether 2:8:20:0:0:b`: mac_unicast_primary_set -> mc_unicst.
    sys.host().set_unicast_addr("vpn0", [2, 8, 0x20, 0, 0, 0xb]).unwrap();
    let l = adm.show("vpn0").unwrap();
    assert_eq!(l.kernel.unwrap().mac.0, [2, 8, 0x20, 0, 0, 0xb], "tunctl show reads what mac was told");
    assert_eq!(l.config.unwrap().mac, Some(a), "a DLPI change is temporary, as on any link");
    // `tunctl modify --mac`: the driver tells mac (mac_unicst_update).
    let c: MacAddr = "2:8:20:0:0:c".parse().unwrap();
    adm.modify("vpn0", &ModifyRequest { mac: Some(c), ..Default::default() }).unwrap();
    assert_eq!(sys.host().mac_info("vpn0").unwrap().addr, c.0, "mac follows the driver");
    let l = adm.show("vpn0").unwrap();
    assert_eq!((l.kernel.unwrap().mac, l.config.unwrap().mac), (c, Some(c)));
    // There is no MAC address link property for dladm set-linkprop to set.
    let id = linkid(&adm, "vpn0");
    let refused = adm.platform().set_linkprop(id, "mac-address", "2:8:20:0:0:d", false);
    assert!(matches!(refused, Err(DlError::Other(ref m)) if m.contains("invalid link property")), "{refused:?}");
    assert_eq!(sys.host().mac_info("vpn0").unwrap().addr, c.0);
    sys.finish();
}

fn props(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

/// `create -p` takes any link property, as `dladm create-vnic -p` does:
/// set with `dladm_set_linkprop` once the link and its configuration
/// exist, persisted with the link, re-applied by `up` at boot.
#[test]
fn create_sets_any_link_property_persistently() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    let req = CreateRequest { link_props: props(&[("maxbw", "10M"), ("priority", "low")]), ..CreateRequest::new("vpn0", Mode::Tap) };
    adm.create(&req).unwrap();
    assert_eq!(sys.linkprop("vpn0", "maxbw").as_deref(), Some("10M"));
    assert_eq!(sys.linkprop("vpn0", "priority").as_deref(), Some("low"));
    sys.reboot();
    assert_eq!(adm.up(None).unwrap().failures(), 0);
    assert_eq!(sys.linkprop("vpn0", "maxbw").as_deref(), Some("10M"), "persisted with the link, back after a reboot");
    // A temporary link's properties are set, not persisted.
    let req = CreateRequest { persistent: false, link_props: props(&[("maxbw", "5M")]), ..CreateRequest::new("tmp0", Mode::Tun) };
    adm.create(&req).unwrap();
    assert_eq!(sys.linkprop("tmp0", "maxbw").as_deref(), Some("5M"));
    // modify -p sets them on a running link.
    adm.modify("vpn0", &ModifyRequest { link_props: props(&[("priority", "high")]), ..Default::default() }).unwrap();
    assert_eq!(sys.linkprop("vpn0", "priority").as_deref(), Some("high"));
    sys.finish();
}

/// A property libdladm refuses undoes the create: no kernel link, id or
/// configuration is left, and the message names the property.
#[test]
fn a_refused_link_property_undoes_the_create() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    for (list, words) in [
        (&[("maxbw", "10M"), ("speed", "10")][..], "speed=10: invalid link property 'speed'"),
        (&[("priority", "urgent")][..], "priority=urgent: invalid value 'urgent' for priority"),
    ] {
        let req = CreateRequest { mtu: Some(1400), link_props: props(list), ..CreateRequest::new("vpn0", Mode::Tap) };
        let e = adm.create(&req).unwrap_err();
        assert_eq!(e.status(), Status::Dladm);
        assert!(e.to_string().starts_with("link vpn0: dlmgmtd refused to set a link property: "), "{e}");
        assert!(e.to_string().ends_with(words), "{e}");
        assert!(sys.driver().links().is_empty(), "no kernel link");
        assert!(sys.host().dlmgmt_walk(0, illumos_sys_hdrs::DATALINK_CLASS_ALL).is_empty(), "no id, no configuration");
    }
    // A configured-only link has no running properties to set.
    adm.create(&CreateRequest::new("cfg0", Mode::Tun)).unwrap();
    adm.delete("cfg0", DeleteOptions { temporary: true, force: false }).unwrap();
    let e = adm.modify("cfg0", &ModifyRequest { link_props: props(&[("maxbw", "1M")]), ..Default::default() }).unwrap_err();
    assert_eq!(e.status(), Status::NotActive);
    sys.finish();
}
