// SPDX-License-Identifier: MPL-2.0
//! Issue 13: OpenVPN's old-API IP traffic goes through mac, held to the
//! same standard as IP plumbed on the datalink (new API + a mac client):
//! `maxbw` paces it both ways, a promiscuous observer (snoop) sees every
//! packet in both directions, the link's counters move by exactly the
//! packets sent, deletion is refused while IP holds the unit, and
//! unplumbing leaves no mac client, `mac_open` hold, message or link.
//!
//! Rates are measured in wall time over about one second per direction
//! (the simulator's soft ring set keeps a departure schedule, so a late
//! wake-up does not lower the long-run rate); every test is bounded by
//! the rig's time limit.

use std::time::Duration;

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::dlpi::*;
use tuntap_abi as abi;
use tuntap_tests::dlpi::*;
use tuntap_tests::oldapi::*;
use tuntap_tests::*;

// ----- the old API -----

/// Everything but the rate: mac client, snoop both ways, counters,
/// delete refused, nothing left after unplumb.
fn old_api_goes_through_mac(tap: bool) {
    let rig = Rig::new();
    let p = openvpn_plumb(&rig, tap);
    // IP's stream (and ARP's) share one primary client named after the link.
    let clients = rig.host.kernel_clients(p.name.as_str()).unwrap();
    assert_eq!(clients.len(), 1, "one mac client for the unit's DLPI streams: {clients:?}");
    assert!(clients[0].primary && clients[0].rx_set, "{clients:?}");
    assert_eq!(clients[0].name, p.name);
    assert_eq!(rig.host.mac_opens(p.name.as_str()).unwrap(), 1);
    let snoop = rig.host.snoop(p.name.as_str()).unwrap();
    let before = rig.info(p.link.linkid).counters;
    let (n_out, n_in) = (20, 15);
    for i in 0..n_out {
        let pkt = packet(i, 200);
        p.ip_send(&pkt);
        assert_eq!(p.vpn.read_packet(Some(WAIT)).unwrap(), p.as_read(&pkt), "packet {i} IP sent");
    }
    for i in 0..n_in {
        let pkt = packet(100 + i, 300);
        p.vpn_send(&pkt);
        let ind = read_unitdata(&p.ip);
        assert_eq!(ind.data, pkt, "packet {i} the daemon wrote reaches IP as DL_UNITDATA_IND");
        // tun keeps its DLPI personality: 2-byte SAP-only addresses.
        assert_eq!(ind.dst.len(), if tap { 8 } else { 2 });
    }
    // The observer saw each packet once, in its direction.
    let mut seen = (0, 0);
    while let Some((tx, bytes)) = snoop.recv(Duration::from_millis(200)) {
        assert_eq!(bytes.len(), 14 + if tx { 200 } else { 300 }, "snoop sees whole Ethernet frames");
        if tx { seen.0 += 1 } else { seen.1 += 1 }
    }
    assert_eq!(seen, (n_out, n_in), "snoop -d {}: (transmitted, received) frames", p.name);
    let after = rig.info(p.link.linkid).counters;
    assert_eq!(
        (after.opackets - before.opackets, after.ipackets - before.ipackets),
        (n_out as u64, n_in as u64),
        "the link's counters move by exactly the packets sent"
    );
    let stat = |s| rig.host.get_stat(p.name.as_str(), s).unwrap();
    assert_eq!((stat(sys::MAC_STAT_OPACKETS), stat(sys::MAC_STAT_IPACKETS)), (after.opackets, after.ipackets));
    snoop.close();
    // Delete refused while IP holds the unit, and mac too keeps it.
    let ctl = rig.open_ctl(&rig.root);
    let del =
        abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags: abi::delete_flags::FORCE, linkid: p.link.linkid, _pad: 0 };
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)).err(), Some(sys::EBUSY));
    ctl.close();
    // Unplumb: no client, no hold, no link (rig.finish checks messages).
    let name = p.name.clone();
    let id = p.link.linkid;
    let link = p.link.clone();
    p.unplumb();
    assert!(!link.dlpi_mac.is_open(), "the link's DLPI client is closed after unplumb");
    drop(link);
    assert!(rig.driver.links().is_empty(), "{name} (id {id}) went away with its last user");
    assert!(rig.host.kernel_clients(name.as_str()).is_err(), "no mac left for {name}");
    rig.finish();
}

#[test]
fn tun_old_api_traffic_goes_through_mac() {
    old_api_goes_through_mac(false);
}

#[test]
fn tap_old_api_traffic_goes_through_mac() {
    old_api_goes_through_mac(true);
}

/// A second unit's IP cannot take a link someone else holds as primary:
/// two streams on one unit share the client; the client goes only with
/// the last of them (ARP unbinding first leaves IP's traffic flowing).
#[test]
fn tap_streams_share_one_client_until_the_last_unbinds() {
    let rig = Rig::new();
    let p = openvpn_plumb(&rig, true);
    let arp = p.arp.as_ref().unwrap();
    arp_ll_down(arp);
    let clients = rig.host.kernel_clients(p.name.as_str()).unwrap();
    assert_eq!(clients.len(), 1, "IP still holds the client: {clients:?}");
    let pkt = packet(1, 100);
    p.vpn_send(&pkt);
    assert_eq!(read_unitdata(&p.ip).data, pkt);
    expect_ok(&request(&p.ip, &words(&[DL_UNBIND_REQ])), DL_UNBIND_REQ);
    assert!(rig.host.kernel_clients(p.name.as_str()).unwrap().is_empty(), "the last unbind closes the client");
    assert_eq!(rig.host.mac_opens(p.name.as_str()).unwrap(), 0, "and releases mac_open");
    for s in [p.arp.as_ref().unwrap(), &p.ip, &p.vpn] {
        s.close();
    }
    rig.finish();
}

