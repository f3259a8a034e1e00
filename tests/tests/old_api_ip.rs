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
use tuntap_tests::dlpi::*;
use tuntap_tests::oldapi::{new_ppa, OpenVpnStreams};
use tuntap_tests::*;

/// OpenVPN's first stream: unit `tun<ppa>`.
fn new_unit(rig: &Rig) -> (SimStream, i32) {
    let s = rig.open_tun(&rig.root);
    let ppa = new_ppa(&s) as i32;
    (s, ppa)
}

fn plumb(rig: &Rig, ppa: u32, sap: u32) -> SimStream {
    let ip = rig.open_tun(&rig.root);
    expect_ok(&request(&ip, &words(&[DL_ATTACH_REQ, ppa])), DL_ATTACH_REQ);
    let ack = request(&ip, &words(&[DL_BIND_REQ, sap, 0, 0, 0]));
    assert_eq!((word(&ack, 0), word(&ack, 1)), (DL_BIND_ACK, sap));
    ip
}

/// A tap `DL_UNITDATA_REQ` to `dst` (8-byte DLSAP address: MAC, SAP).
fn tap_unitdata_req(dst: [u8; 6], sap: u16) -> Vec<u8> {
    let mut a = dst.to_vec();
    a.extend_from_slice(&sap.to_ne_bytes());
    unitdata_req(&a)
}

/// OpenVPN's `dev tun` on illumos, played as IP plays it: the daemon's
/// stream makes the unit (`TUNNEWPPA`); a second `/dev/tun` stream gets
/// `ip` pushed (`DL_INFO_REQ`), `IF_UNITSEL` (IP sends `SIOCSLIFNAME`
/// down, then `ill_dl_phys`), is linked and brought up — with no ARP
/// stream, as OpenVPN's tun path never plumbs one.  IP must come out
/// point-to-point without ARP, and packets must flow both ways with the
/// addresses IP really uses (a 2-byte SAP-only DLSAP).
#[test]
fn openvpn_tun_plumbing_as_ip_reacts_to_it() {
    let rig = Rig::new();
    let (vpn, ppa) = new_unit(&rig);
    let if_fd = rig.open_tun(&rig.root);
    // I_PUSH ip: a style-2 provider, no address before attach.
    let first = ip_push(&if_fd);
    assert_eq!((first.mac_type, first.state), (sys::DL_ETHER, DL_UNATTACHED));
    // IP tells the driver the interface's name: it must be refused, not ignored.
    assert_eq!(ip_ifname_notify(&if_fd, &format!("tun{ppa}"), ppa as u32).err(), Some(sys::EINVAL));
    let ill = ip_dl_phys(&if_fd, ppa as u32, SAP_IPV4);
    // ifconfig tunN 10.8.0.1 10.8.0.2 up, with no ARP stream.
    if let Err(why) = ip_up(&if_fd, &ill, SAP_IPV4, false) {
        panic!("IP cannot bring tun{ppa} up: {why}");
    }
    assert_eq!(
        (ill.resolver, ill.noarp, ill.pointopoint, ill.multicast),
        (false, true, true, true),
        "IP must run tun{ppa} point-to-point without ARP: {ill:?}"
    );
    let link = rig.driver.links().into_iter().find(|l| l.name.as_str() == format!("tun{ppa}")).unwrap();
    let info = InfoAck::parse(&request(&if_fd, &words(&[DL_INFO_REQ])));
    assert_eq!((info.max_sdu, info.state), (1500, DL_IDLE), "max SDU and state once up");
    assert_eq!(info.addr.as_deref(), Some(&0x0800u16.to_ne_bytes()[..]), "the DLSAP address is the SAP alone");
    // IP's fast path is refused, so it uses unit data.
    assert_eq!(if_fd.ioctl_istr(DL_IOC_HDR_INFO, &[0; 16]).err(), Some(sys::EINVAL));
    // IP sends to its peer with the address ill_dlur_gen builds: the
    // daemon reads the bare packet; the daemon writes: IP gets
    // DL_UNITDATA_IND, addresses in the format it was told.
    let unit = OpenVpnStreams { vpn, ppa: ppa as u32, ip: if_fd, ill, arp: None };
    unit.tun_exchange();
    // An IPv6 packet finds no stream bound to its type: it goes to mac
    // (nobody there), not to the IPv4 stream.
    let back = udp4([10, 8, 0, 2], [10, 8, 0, 1], 1194, 1194, b"from the peer");
    unit.vpn.write(&ipv6_packet(17, &[0; 8])).unwrap();
    unit.vpn.write(&back).unwrap();
    assert_eq!(read_unitdata(&unit.ip).data, back, "the IPv6 packet never reached the IPv4 stream");
    let info = rig.info(link.linkid);
    assert_eq!((info.counters.opackets, info.counters.ipackets), (1, 3));
    // ifconfig down, unplumb: unbind (IP never detaches), close.
    unit.unplumb();
    assert!(rig.driver.links().is_empty());
    rig.finish();
}

/// OpenVPN's `dev tap`: IP's stream plus the third, ARP stream on a fresh
/// `/dev/tap` (never `TUNNEWPPA`'d) attached by PPA and bound to 0x0806.
/// IP makes the interface an ARP one, comes up only with ARP linked,
/// joins all-hosts; an ARP request from the peer reaches ARP (not IP), the
/// reply goes out, IP unicast and the joined group reach IP; closing ARP
/// gets its unbind acknowledged.
#[test]
fn openvpn_tap_plumbing_with_its_arp_stream() {
    let rig = Rig::new();
    let vpn = rig.open_tap(&rig.root);
    let ppa = new_ppa(&vpn);
    let if_fd = rig.open_tap(&rig.root);
    ip_push(&if_fd);
    assert_eq!(ip_ifname_notify(&if_fd, &format!("tap{ppa}"), ppa).err(), Some(sys::EINVAL));
    let ill = ip_dl_phys(&if_fd, ppa, SAP_IPV4);
    assert_eq!((ill.resolver, ill.broadcast, ill.pointopoint, ill.phys_len), (true, true, false, 6), "{ill:?}");
    // Without ARP IP refuses to come up: the model's rule is live.
    assert!(ill.resolver_up(false).is_err());
    let arp_fd = rig.open_tap(&rig.root);
    assert_eq!(ip_ifname_notify(&arp_fd, &format!("tap{ppa}"), ppa).err(), Some(sys::EINVAL));
    arp_ll_up(&arp_fd, ppa);
    ip_up(&if_fd, &ill, SAP_IPV4, true).unwrap();
    let link = rig.driver.links()[0].clone();
    let own = link.mac();
    let peer = [0x02, 0, 0, 0, 0, 9];
    // The peer asks who has our address: ARP hears it, IP does not; ARP
    // answers through its stream; IP unicast to us reaches IP; IP sends
    // to the neighbour ARP resolved: a whole Ethernet frame.
    let unit = OpenVpnStreams { vpn, ppa, ip: if_fd, ill, arp: Some(arp_fd) };
    unit.tap_exchange(own, peer);
    // The all-hosts group IP joined reaches IP only.
    let mc = udp4([10, 1, 0, 9], [224, 0, 0, 1], 5, 6, b"all hosts");
    unit.vpn.write(&ether(ALL_HOSTS_MAC, peer, 0x0800, &mc)).unwrap();
    let ind = read_unitdata(&unit.ip);
    assert_eq!((ind.data, ind.group), (mc, true));
    // Teardown as OpenVPN's close_tun: ARP's close waits for its unbind ack.
    unit.unplumb();
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
    expect_error(&request(&ip, &words(&[DL_PHYS_ADDR_REQ])), DL_PHYS_ADDR_REQ, DL_BADPRIM);
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
    // Unit data (dld's proto_unitdata_req answers): a payload that is
    // not an IPv4 packet of the bound type, or none, is DL_UDERROR_IND
    // DL_BADDATA naming the destination; an address outside the request
    // or of another format (tun: the 2-byte SAP; tap: MAC and SAP) is
    // DL_BADADDR; a short request DL_BADPRIM; an unbound stream
    // DL_OUTSTATE.  Each refused datum is counted; none reaches the reader.
    expect_ok(&request(&ip, &words(&[DL_DETACH_REQ])), DL_DETACH_REQ);
    let ip = plumb(&rig, ppa as u32, 0x0800);
    let link = rig.driver.links().into_iter().find(|l| l.name.as_str() == format!("tun{ppa}")).unwrap();
    let before = rig.info(link.linkid).counters;
    let sap = 0x0800u16.to_ne_bytes();
    let good = udp4([1; 4], [2; 4], 1, 2, b"x");
    for bad in [ipv6_packet(17, &[0; 8]), vec![0x45, 0, 0], vec![]] {
        let ind = request_with_data(&ip, &unitdata_req(&sap), &bad);
        assert_eq!((word(&ind, 0), word(&ind, 4)), (DL_UDERROR_IND, DL_BADDATA), "payload {bad:?}");
        assert_eq!(field(&ind, 2, 1), Some(&sap[..]), "DL_UDERROR_IND names the destination");
    }
    expect_error(&request_with_data(&ip, &words(&[DL_UNITDATA_REQ, 2, 400, 0, 0]), &good), DL_UNITDATA_REQ, DL_BADADDR);
    expect_error(&request_with_data(&ip, &tap_unitdata_req(link.peer_mac, 0x0800), &good), DL_UNITDATA_REQ, DL_BADADDR);
    expect_error(&request_with_data(&ip, &words(&[DL_UNITDATA_REQ, 2]), &good), DL_UNITDATA_REQ, DL_BADPRIM);
    ip.putmsg_proto(&unitdata_req(&sap), &good).unwrap();
    assert_eq!(vpn.read_packet(Some(WAIT)).unwrap(), good, "only the good datum reached the reader");
    let after = rig.info(link.linkid).counters;
    assert_eq!(after.oerrors - before.oerrors, 5, "every refused unit datum counted");
    expect_ok(&request(&ip, &words(&[DL_UNBIND_REQ])), DL_UNBIND_REQ);
    expect_error(&request_with_data(&ip, &unitdata_req(&sap), &good), DL_UNITDATA_REQ, DL_OUTSTATE);
    // tap: a 2-byte (tun-format) destination is a bad address.
    let bind = request(&tap_ip, &words(&[DL_BIND_REQ, 0x0800, 0, 0, 0]));
    assert_eq!(word(&bind, 0), DL_BIND_ACK);
    expect_error(&request_with_data(&tap_ip, &unitdata_req(&sap), &good), DL_UNITDATA_REQ, DL_BADADDR);
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
    let ppa = new_ppa(&vpn);
    let ip = rig.open_tap(&rig.root);
    expect_ok(&request(&ip, &words(&[DL_ATTACH_REQ, ppa])), DL_ATTACH_REQ);
    let bind = request(&ip, &words(&[DL_BIND_REQ, 0x0800, 0, 0, 0]));
    assert_eq!(word(&bind, 0), DL_BIND_ACK);
    let link = rig.driver.links()[0].clone();
    // IP sends to a neighbour: the daemon reads a whole Ethernet frame.
    let peer = [0x02, 0, 0, 0, 0, 9];
    let pkt = udp4([10, 1, 0, 1], [10, 1, 0, 9], 5, 6, b"eth");
    ip.putmsg_proto(&tap_unitdata_req(peer, 0x0800), &pkt).unwrap();
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
