// SPDX-License-Identifier: MPL-2.0
//! Tap links as bridge ports and VNIC lower links, against the
//! simulator's model of the kernel checks (tuntap-sim/src/mac/bridge.rs:
//! `bridge_add_link` in bridge.c, `vnic_dev_create` in vnic_dev.c,
//! `mac_add_macaddr` in mac.c).  A tap link is bridged with another
//! Ethernet link and frames cross both ways; a VNIC over a tap carries
//! traffic both ways; what the kernel refuses is refused with its errno;
//! the driver's promiscuous mode follows the bridge port and the VNIC's
//! second address.

use std::time::Duration;

use tuntap_abi::{create_flags, mode};
use tuntap_tests::app::create_link;
use tuntap_tests::*;

const QUIET: Duration = Duration::from_millis(200);

/// A frame from `src` to `dst`, ethertype 0x88b5, `len` bytes of `mark`.
fn frame(dst: [u8; 6], src: [u8; 6], mark: u8, len: usize) -> Vec<u8> {
    let mut f = ether(dst, src, 0x88b5, &[]);
    f.resize(len, mark);
    f
}

const STATION_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xa];
const STATION_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xb];

fn promisc(rig: &Rig, link: &str) -> bool {
    rig.host.mac_info(link).expect("mac_info").promisc
}

#[test]
fn a_tap_link_bridged_with_another_ethernet_link_carries_frames_both_ways() {
    let rig = Rig::new();
    rig.create("tap0", create_flags::TAP);
    rig.create("tap1", create_flags::TAP);
    let q0 = rig.attach("tap0", mode::TAP);
    let q1 = rig.attach("tap1", mode::TAP);
    assert!(!promisc(&rig, "tap0"));
    let br = rig.host.bridge_create("br0");
    br.add_link("tap0").expect("bridge_add_link takes a class-MISC link of media DL_ETHER");
    br.add_link("tap1").expect("a second Ethernet port");
    assert_eq!(br.ports(), vec![("tap0".to_string(), true), ("tap1".to_string(), true)]);
    // mac_promisc_add(MAC_CLIENT_PROMISC_ALL): the driver was told.
    assert!(promisc(&rig, "tap0") && promisc(&rig, "tap1"), "mc_setpromisc(B_TRUE) on both ports");
    assert_eq!(br.port_margin("tap0"), Some(illumos_sys_hdrs::VLAN_TAGSZ as u32), "mac_margin_add sees the VLAN margin");

    // Station A behind tap0 (its reader writes) to station B behind tap1.
    let ab = frame(STATION_B, STATION_A, 1, 200);
    q0.write(&ab).expect("write a frame into tap0");
    assert_eq!(br.forward(WAIT), 1, "one frame out of one other port");
    assert_eq!(q1.read_packet(Some(WAIT)).expect("the frame crossed to tap1's reader"), ab);
    let ba = frame(STATION_A, STATION_B, 2, 1514);
    q1.write(&ba).expect("write a frame into tap1");
    assert_eq!(br.forward(WAIT), 1);
    assert_eq!(q0.read_packet(Some(WAIT)).expect("and back to tap0's reader"), ba);
    // Nothing loops back (MAC_PROMISC_FLAGS_NO_TX_LOOP): the bridge's own
    // transmissions are not received again.
    assert_eq!(br.forward(QUIET), 0);
    let mut buf = [0u8; 2048];
    assert!(q0.try_read(&mut buf).is_err() && q1.try_read(&mut buf).is_err(), "no extra copies");

    // Removing a port ends its promiscuity.
    br.remove_link("tap1").unwrap();
    assert!(!promisc(&rig, "tap1") && promisc(&rig, "tap0"));
    assert_eq!(br.remove_link("tap1"), Err(illumos_sys_hdrs::ENOENT), "BRIOC_REMLINK of a non-port");
    drop(br);
    assert!(!promisc(&rig, "tap0"));
    drop((q0, q1));
    rig.finish();
}

#[test]
fn the_kernel_refuses_a_bridged_link_an_unknown_link_and_keeps_an_sdu_mismatch_idle() {
    let rig = Rig::new();
    rig.create("tap0", create_flags::TAP);
    create_link(&rig, "tap9", create_flags::TAP, 9000).unwrap();
    rig.create("tun0", create_flags::TUN);
    let br = rig.host.bridge_create("br0");
    let other = rig.host.bridge_create("br1");
    br.add_link("tap0").unwrap();
    // bridge_add_link: another bridge has the link -> EBUSY; the same
    // bridge again -> EBUSY (mac_bridge_set).
    assert_eq!(other.add_link("tap0"), Err(illumos_sys_hdrs::EBUSY));
    assert_eq!(br.add_link("tap0"), Err(illumos_sys_hdrs::EBUSY));
    // mac_open_by_linkid of a link that does not exist.
    assert_eq!(br.add_link("nosuch0"), Err(illumos_sys_hdrs::ENOENT));
    // A port whose max SDU differs from the bridge's is added, marked
    // SDU-failed, and forwards nothing (link_sdu_fail).
    assert_eq!(br.max_sdu(), Some(1500));
    br.add_link("tap9").expect("added, but SDU-failed");
    assert_eq!(br.ports(), vec![("tap0".to_string(), true), ("tap9".to_string(), false)]);
    let q0 = rig.attach("tap0", mode::TAP);
    let q9 = rig.attach("tap9", mode::TAP);
    q0.write(&frame(STATION_B, STATION_A, 3, 100)).unwrap();
    assert_eq!(br.forward(QUIET), 0, "nothing goes out of an SDU-failed port");
    let mut buf = [0u8; 2048];
    assert!(q9.try_read(&mut buf).is_err());
    // The kernel checks media, not class or mode: a tun unit's mac is an
    // Ether-plugin link, so bridge_add_link takes it (tunctl bridge add
    // refuses it by mode; see libdladm-plugin/src/bridge.rs).
    other.add_link("tun0").expect("mi_media == DL_ETHER for a tun link too");
    drop((br, other, q0, q9));
    rig.finish();
}

#[test]
fn a_vnic_over_a_tap_link_carries_traffic_and_turns_promiscuity_on_and_off() {
    let rig = Rig::new();
    rig.create("tap0", create_flags::TAP);
    let q = rig.attach("tap0", mode::TAP);
    let vnic_addr = [0x02, 0x08, 0x20, 0x11, 0x22, 0x33];
    assert!(!promisc(&rig, "tap0"));
    let vnic = rig.host.vnic_create("tap0", vnic_addr).expect("vnic_dev_create over a tap link");
    // mac_add_macaddr without RX groups: a second address makes the
    // device promiscuous (i_mac_promisc_set -> mc_setpromisc(B_TRUE)).
    assert!(promisc(&rig, "tap0"), "the driver was told to go promiscuous for the VNIC's address");

    // The VNIC transmits: the frame reaches the tap's reader unchanged.
    let out = frame(STATION_A, vnic_addr, 4, 300);
    vnic.tx(&[&out]);
    assert_eq!(q.read_packet(Some(WAIT)).expect("the VNIC's frame at the tap reader"), out);
    // The tap's peer answers the VNIC's address: classified to the VNIC.
    let back = frame(vnic_addr, STATION_A, 5, 300);
    q.write(&back).unwrap();
    assert_eq!(vnic.recv(WAIT).expect("a frame for the VNIC's address"), back);
    // A frame for another station is not the VNIC's; a broadcast is.
    q.write(&frame(STATION_B, STATION_A, 6, 80)).unwrap();
    let bcast = frame([0xff; 6], STATION_A, 7, 80);
    q.write(&bcast).unwrap();
    assert_eq!(vnic.recv(WAIT).expect("the broadcast"), bcast);

    drop(vnic);
    assert!(!promisc(&rig, "tap0"), "mac_unicast_remove of the last secondary address ends promiscuity");
    // A VNIC with the link's own (primary) address needs no promiscuity.
    let primary = rig.host.mac_info("tap0").unwrap().addr;
    let same = rig.host.vnic_create("tap0", primary).unwrap();
    assert!(!promisc(&rig, "tap0"));
    drop(same);
    // Bad input: a multicast address, a link that does not exist.
    assert_eq!(rig.host.vnic_create("tap0", [0x01, 0, 0x5e, 0, 0, 1]).err(), Some(illumos_sys_hdrs::EINVAL));
    assert_eq!(rig.host.vnic_create("nosuch0", vnic_addr).err(), Some(illumos_sys_hdrs::ENOENT));
    drop(q);
    rig.finish();
}
