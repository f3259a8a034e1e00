// SPDX-License-Identifier: MPL-2.0
//! Old-API IP plumbing, as OpenVPN does it on illumos: a control stream
//! makes unit N with `TUNNEWPPA`, a second `/dev/tun` stream (with `ip`
//! pushed; here the test plays IP) speaks DLPI to it: info, attach to
//! PPA N, bind the IPv4 type, then unit data both ways.  Plus every
//! out-of-state and malformed request, and the unit's lifetime while IP
//! holds it.

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::dlpi::*;
use tuntap_abi as abi;
use tuntap_sim::SimStream;
use tuntap_tests::*;

fn words(ws: &[u32]) -> Vec<u8> {
    ws.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

fn word(b: &[u8], i: usize) -> u32 {
    u32::from_ne_bytes(b[i * 4..i * 4 + 4].try_into().unwrap())
}

/// Send a DLPI request (control part only) and return the control part
/// of the reply.
fn request(ip: &SimStream, ctl: &[u8]) -> Vec<u8> {
    ip.putmsg_proto(ctl, &[]).unwrap();
    ip.getmsg(Some(WAIT)).unwrap().ctl.expect("a DLPI reply")
}

fn expect_error(reply: &[u8], prim: u32, dl_errno: u32) {
    assert_eq!(word(reply, 0), DL_ERROR_ACK, "reply to {prim:#x}");
    assert_eq!((word(reply, 1), word(reply, 2)), (prim, dl_errno), "error for {prim:#x}");
}

fn expect_ok(reply: &[u8], prim: u32) {
    assert_eq!((word(reply, 0), word(reply, 1)), (DL_OK_ACK, prim), "reply to {prim:#x}: {reply:?}");
}

/// OpenVPN's first stream: unit `tun<ppa>`.
fn new_unit(rig: &Rig) -> (SimStream, i32) {
    let s = rig.open_tun(&rig.root);
    let ppa = s.ioctl_istr(abi::TUNNEWPPA, &(-1i32).to_ne_bytes()).unwrap().rval;
    (s, ppa)
}

fn plumb(rig: &Rig, ppa: u32, sap: u32) -> SimStream {
    let ip = rig.open_tun(&rig.root);
    expect_ok(&request(&ip, &words(&[DL_ATTACH_REQ, ppa])), DL_ATTACH_REQ);
    let ack = request(&ip, &words(&[DL_BIND_REQ, sap, 0, 0, 0]));
    assert_eq!((word(&ack, 0), word(&ack, 1)), (DL_BIND_ACK, sap));
    ip
}

fn unitdata_req(dst: [u8; 6], sap: u16) -> Vec<u8> {
    let mut req = words(&[DL_UNITDATA_REQ, 8, 20, 0, 0]);
    req.extend_from_slice(&dst);
    req.extend_from_slice(&sap.to_ne_bytes());
    req
}

#[test]
fn openvpn_style_plumbing_carries_packets_both_ways() {
    let rig = Rig::new();
    let (vpn, ppa) = new_unit(&rig);
    let ip = rig.open_tun(&rig.root);
    // DL_INFO_REQ before attaching: a style-2 Ethernet provider.
    let info = request(&ip, &words(&[DL_INFO_REQ]));
    assert_eq!(word(&info, 0), DL_INFO_ACK);
    assert_eq!(word(&info, 4), sys::DL_ETHER, "dl_mac_type");
    assert_eq!(word(&info, 6), DL_UNATTACHED, "dl_current_state");
    assert_eq!(word(&info, 7) as i32, -2, "dl_sap_length: SAP after the MAC");
    assert_eq!(word(&info, 13), DL_STYLE2, "dl_provider_style");
    assert_eq!(word(&info, 15), DL_VERSION_2);
    let (bl, bo) = (word(&info, 16) as usize, word(&info, 17) as usize);
    assert_eq!(&info[bo..bo + bl], &[0xff; 6], "broadcast address");
    // Attach to the unit, bind IPv4.
    expect_ok(&request(&ip, &words(&[DL_ATTACH_REQ, ppa as u32])), DL_ATTACH_REQ);
    let link = rig.driver.links().into_iter().find(|l| l.name.as_str() == format!("tun{ppa}")).unwrap();
    let phys = request(&ip, &words(&[DL_PHYS_ADDR_REQ, DL_CURR_PHYS_ADDR]));
    assert_eq!(word(&phys, 0), DL_PHYS_ADDR_ACK);
    let (al, ao) = (word(&phys, 1) as usize, word(&phys, 2) as usize);
    assert_eq!(&phys[ao..ao + al], &link.mac());
    let bind = request(&ip, &words(&[DL_BIND_REQ, 0x0800, 0, 0, 0]));
    assert_eq!((word(&bind, 0), word(&bind, 1), word(&bind, 2)), (DL_BIND_ACK, 0x0800, 8));
    let bo = word(&bind, 3) as usize;
    assert_eq!(&bind[bo..bo + 6], &link.mac());
    assert_eq!(&bind[bo + 6..bo + 8], &0x0800u16.to_ne_bytes());
    let info = request(&ip, &words(&[DL_INFO_REQ]));
    assert_eq!((word(&info, 1), word(&info, 6)), (1500, DL_IDLE), "max SDU and state once bound");
    // IP's fast path is refused, so it uses unit data.
    assert_eq!(ip.ioctl_istr(DL_IOC_HDR_INFO, &[0; 16]).err(), Some(sys::EINVAL));
    // IP sends: the VPN daemon reads the bare packet.
    let out = udp4([10, 8, 0, 1], [10, 8, 0, 2], 1194, 1194, b"to the peer");
    ip.putmsg_proto(&unitdata_req(link.peer_mac, 0x0800), &out).unwrap();
    assert_eq!(vpn.read_packet(Some(WAIT)).unwrap(), out);
    // The daemon writes: IP gets DL_UNITDATA_IND with the bare packet.
    let back = udp4([10, 8, 0, 2], [10, 8, 0, 1], 1194, 1194, b"from the peer");
    vpn.write(&back).unwrap();
    let m = ip.getmsg(Some(WAIT)).unwrap();
    let ctl = m.ctl.expect("DL_UNITDATA_IND");
    assert_eq!(word(&ctl, 0), DL_UNITDATA_IND);
    let (dl, doff, sl, soff) = (word(&ctl, 1) as usize, word(&ctl, 2) as usize, word(&ctl, 3) as usize, word(&ctl, 4) as usize);
    assert_eq!(&ctl[doff..doff + 6], &link.mac());
    assert_eq!(&ctl[soff..soff + 6], &link.peer_mac);
    assert_eq!((dl, sl), (8, 8));
    assert_eq!(m.data, back);
    // An IPv6 packet finds no stream bound to its type: it goes to mac
    // (nobody there), not to the IPv4 stream.
    vpn.write(&ipv6_packet(17, &[0; 8])).unwrap();
    assert!(ip.getmsg(Some(std::time::Duration::from_millis(50))).is_err());
    let info = rig.info(link.linkid);
    assert_eq!((info.counters.opackets, info.counters.ipackets), (1, 2));
    // Unplumb: unbind, detach; the stream then closes.
    expect_ok(&request(&ip, &words(&[DL_UNBIND_REQ])), DL_UNBIND_REQ);
    expect_ok(&request(&ip, &words(&[DL_DETACH_REQ])), DL_DETACH_REQ);
    ip.close();
    vpn.close();
    assert!(rig.driver.links().is_empty());
    rig.finish();
}

#[test]
fn requests_out_of_state_or_malformed_get_precise_errors() {
    let rig = Rig::new();
    let (vpn, ppa) = new_unit(&rig);
    let ip = rig.open_tun(&rig.root);
    // Before attach.
    expect_error(&request(&ip, &words(&[DL_BIND_REQ, 0x800, 0, 0, 0])), DL_BIND_REQ, DL_OUTSTATE);
    expect_error(&request(&ip, &words(&[DL_PHYS_ADDR_REQ, DL_CURR_PHYS_ADDR])), DL_PHYS_ADDR_REQ, DL_OUTSTATE);
    expect_error(&request(&ip, &words(&[DL_DETACH_REQ])), DL_DETACH_REQ, DL_OUTSTATE);
    expect_error(&request(&ip, &words(&[DL_ENABMULTI_REQ, 6, 12])), DL_ENABMULTI_REQ, DL_OUTSTATE);
    // Short requests and unknown primitives.
    expect_error(&request(&ip, &words(&[DL_ATTACH_REQ])), DL_ATTACH_REQ, DL_BADPRIM);
    expect_error(&request(&ip, &words(&[DL_BIND_REQ, 0x800])), DL_BIND_REQ, DL_BADPRIM);
    expect_error(&request(&ip, &words(&[0xdead])), 0xdead, DL_BADPRIM);
    expect_error(&request(&ip, &words(&[DL_NOTIFY_REQ, 0, 0])), DL_NOTIFY_REQ, DL_NOTSUPPORTED);
    expect_error(&request(&ip, &words(&[DL_CAPABILITY_REQ, 0, 0])), DL_CAPABILITY_REQ, DL_NOTSUPPORTED);
    // No such unit; a tap unit from a tun stream; PPA 20 (the legacy driver's OOB).
    expect_error(&request(&ip, &words(&[DL_ATTACH_REQ, 20])), DL_ATTACH_REQ, DL_BADPPA);
    expect_error(&request(&ip, &words(&[DL_ATTACH_REQ, u32::MAX])), DL_ATTACH_REQ, DL_BADPPA);
    let tap = rig.open_tap(&rig.root);
    assert_eq!(tap.ioctl_istr(abi::TUNNEWPPA, &(-1i32).to_ne_bytes()).unwrap().rval, 0);
    let tap_ip = rig.open_tap(&rig.root);
    expect_ok(&request(&tap_ip, &words(&[DL_ATTACH_REQ, 0])), DL_ATTACH_REQ);
    // Attached: a second attach, a bad SAP.
    expect_ok(&request(&ip, &words(&[DL_ATTACH_REQ, ppa as u32])), DL_ATTACH_REQ);
    expect_error(&request(&ip, &words(&[DL_ATTACH_REQ, ppa as u32])), DL_ATTACH_REQ, DL_OUTSTATE);
    expect_error(&request(&ip, &words(&[DL_BIND_REQ, 0x05ff, 0, 0, 0])), DL_BIND_REQ, DL_BADSAP);
    expect_error(&request(&ip, &words(&[DL_BIND_REQ, 0x1_0800, 0, 0, 0])), DL_BIND_REQ, DL_BADSAP);
    expect_error(&request(&ip, &words(&[DL_UNBIND_REQ])), DL_UNBIND_REQ, DL_OUTSTATE);
    // A DLPI stream is not a packet queue, and a packet queue does not speak DLPI.
    assert_eq!(ip.ioctl_istr(abi::TUNNEWPPA, &(-1i32).to_ne_bytes()).err(), Some(sys::EINVAL));
    expect_error(&request(&vpn, &words(&[DL_INFO_REQ])), DL_INFO_REQ, DL_OUTSTATE);
    // Unit data that is not an IPv4 packet of the bound type, or has no
    // address, or no data, is dropped and counted; nothing reaches the reader.
    expect_ok(&request(&ip, &words(&[DL_DETACH_REQ])), DL_DETACH_REQ);
    let ip = plumb(&rig, ppa as u32, 0x0800);
    let link = rig.driver.links().into_iter().find(|l| l.name.as_str() == format!("tun{ppa}")).unwrap();
    let before = rig.info(link.linkid).counters;
    ip.putmsg_proto(&unitdata_req(link.peer_mac, 0x0800), &ipv6_packet(17, &[0; 8])).unwrap();
    ip.putmsg_proto(&unitdata_req(link.peer_mac, 0x0800), &[0x45, 0, 0]).unwrap();
    ip.putmsg_proto(&words(&[DL_UNITDATA_REQ, 8, 400, 0, 0]), &udp4([1; 4], [2; 4], 1, 2, b"x")).unwrap();
    ip.putmsg_proto(&unitdata_req(link.peer_mac, 0x0800), &[]).unwrap();
    assert!(vpn.read_packet(Some(std::time::Duration::from_millis(50))).is_err());
    let after = rig.info(link.linkid).counters;
    assert_eq!(after.oerrors - before.oerrors, 4, "every bad unit datum counted");
    for s in [vpn, ip, tap, tap_ip] {
        s.close();
    }
    rig.finish();
}

#[test]
fn ip_keeps_the_unit_after_its_daemon_dies_until_unplumbed() {
    let rig = Rig::new();
    let (vpn, ppa) = new_unit(&rig);
    let ip = plumb(&rig, ppa as u32, 0x0800);
    let id = rig.driver.links()[0].linkid;
    // The daemon crashes: its stream closes, IP still holds the unit.
    vpn.close();
    assert_eq!(rig.driver.links().len(), 1, "IP still plumbed: the unit stays, as a datalink would");
    assert_eq!(rig.info(id).nqueues, 0);
    // It cannot be deleted while plumbed, even by force.
    let ctl = rig.open_ctl(&rig.root);
    let del = abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags: abi::delete_flags::FORCE, linkid: id, _pad: 0 };
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)).err(), Some(sys::EBUSY));
    // A new daemon asking for the same unit is told it exists.
    let again = rig.open_tun(&rig.root);
    assert_eq!(again.ioctl_istr(abi::TUNNEWPPA, &ppa.to_ne_bytes()).err(), Some(sys::EEXIST));
    // Unplumbing (closing IP's stream) takes the unit away.
    ip.close();
    assert!(rig.driver.links().is_empty());
    assert_eq!(again.ioctl_istr(abi::TUNNEWPPA, &ppa.to_ne_bytes()).unwrap().rval, ppa);
    again.close();
    ctl.close();
    rig.finish();
}

#[test]
fn tap_units_plumb_with_ethernet_addresses() {
    let rig = Rig::new();
    let vpn = rig.open_tap(&rig.root);
    let ppa = vpn.ioctl_istr(abi::TUNNEWPPA, &(-1i32).to_ne_bytes()).unwrap().rval;
    let ip = rig.open_tap(&rig.root);
    expect_ok(&request(&ip, &words(&[DL_ATTACH_REQ, ppa as u32])), DL_ATTACH_REQ);
    let bind = request(&ip, &words(&[DL_BIND_REQ, 0x0800, 0, 0, 0]));
    assert_eq!(word(&bind, 0), DL_BIND_ACK);
    let link = rig.driver.links()[0].clone();
    // IP sends to a neighbour: the daemon reads a whole Ethernet frame.
    let peer = [0x02, 0, 0, 0, 0, 9];
    let pkt = udp4([10, 1, 0, 1], [10, 1, 0, 9], 5, 6, b"eth");
    ip.putmsg_proto(&unitdata_req(peer, 0x0800), &pkt).unwrap();
    assert_eq!(vpn.read_packet(Some(WAIT)).unwrap(), ether(peer, link.mac(), 0x0800, &pkt));
    // A frame the daemon writes loses its header on the way to IP.
    vpn.write(&ether(link.mac(), peer, 0x0800, &pkt)).unwrap();
    let m = ip.getmsg(Some(WAIT)).unwrap();
    let ctl = m.ctl.unwrap();
    assert_eq!(word(&ctl, 0), DL_UNITDATA_IND);
    let soff = word(&ctl, 4) as usize;
    assert_eq!(&ctl[soff..soff + 6], &peer);
    assert_eq!(m.data, pkt);
    ip.close();
    vpn.close();
    rig.finish();
}
