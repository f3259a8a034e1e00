// SPDX-License-Identifier: MPL-2.0
//! The tuntap driver on the simulated illumos host: links as datalinks,
//! the packet path both ways, the ioctls with their bad-input twins, the
//! old API, flow control and deletion.  Every test ends with
//! `host.finish()`, which fails on any DDI rule broken or message leaked.

use std::time::Duration;

use illumos_sys_hdrs as sys;
use tuntap_abi::{self as abi, attach_flags, create_flags, mode};
use tuntap_drv::ddi::LinkState;
use tuntap_sim::{CredSpec, Privileges};
use tuntap_tests::*;

#[test]
fn created_link_is_a_datalink_that_goes_up_when_a_queue_attaches() {
    let rig = Rig::new();
    let id = rig.create("vpn0", create_flags::TUN);
    let client = rig.host.mac_client_open("vpn0").expect("mac client on the link");
    assert_eq!(client.link_state(), LinkState::Down, "no queue attached yet");
    let q = rig.attach("vpn0", mode::TUN);
    assert!(client.wait_link_state(LinkState::Up, WAIT));
    let info = rig.info(id);
    assert_eq!(info.mode, mode::TUN);
    assert_eq!(info.mtu, 1500);
    assert_eq!(info.nqueues, 1);
    assert_eq!(info.pids[0], q.pid());
    assert_eq!(&info.name[..5], b"vpn0\0");
    q.close();
    assert!(client.wait_link_state(LinkState::Down, WAIT));
    client.close();
    assert_eq!(rig.driver.can_detach(), Err(sys::EBUSY), "detach refused while a link exists");
    rig.finish();
}

#[test]
fn tun_moves_ip_packets_both_ways_and_counts_them() {
    let rig = Rig::new();
    let LinkInUse { id, queue: q, ip: client, link, ip_mac: ours, .. } = rig.link_in_use("vpn0", false);
    // IP sends to the peer: the reader gets the bare IP packet.
    let pkt = udp4([10, 9, 0, 1], [10, 9, 0, 2], 1000, 53, b"hello");
    client.tx(&[&ether(link.peer_mac, ours, 0x0800, &pkt)]);
    assert_eq!(q.read_packet(Some(WAIT)).unwrap(), pkt);
    // The process writes a reply: IP gets it framed from the peer.
    let reply = udp4([10, 9, 0, 2], [10, 9, 0, 1], 53, 1000, b"world");
    q.write(&reply).unwrap();
    let frame = client.recv(WAIT).expect("frame passed to mac_rx");
    assert_eq!(frame, ether(ours, link.peer_mac, 0x0800, &reply));
    // IPv6 too, typed by its version nibble.
    let v6 = ipv6_packet(17, &[0, 1, 0, 2, 0, 8, 0, 0]);
    q.write(&v6).unwrap();
    assert_eq!(client.recv(WAIT).unwrap(), ether(ours, link.peer_mac, 0x86dd, &v6));
    let info = rig.info(id);
    assert_eq!(info.counters.opackets, 1);
    assert_eq!(info.counters.ipackets, 2);
    assert_eq!(rig.host.get_stat("vpn0", sys::MAC_STAT_IPACKETS), Ok(2));
    assert_eq!(rig.host.get_stat("vpn0", sys::MAC_STAT_OBYTES), Ok(pkt.len() as u64));
    client.close();
    q.close();
    rig.finish();
}

#[test]
fn tun_answers_arp_for_its_peer_and_drops_other_non_ip() {
    let rig = Rig::new();
    let LinkInUse { id, queue: q, ip: client, link, ip_mac: ours, .. } = rig.link_in_use("vpn0", false);
    client.tx(&[&arp_request(ours, [10, 9, 0, 1], [10, 9, 0, 2])]);
    let reply = client.recv(WAIT).expect("ARP reply from the driver");
    assert_eq!(&reply[0..6], &ours);
    assert_eq!(&reply[6..12], &link.peer_mac);
    assert_eq!(&reply[12..14], &[0x08, 0x06]);
    assert_eq!(&reply[20..22], &[0, 2], "ARP reply opcode");
    assert_eq!(&reply[22..28], &link.peer_mac, "sender hardware address is the peer");
    assert_eq!(&reply[28..32], &[10, 9, 0, 2]);
    // A frame of another Ethertype is dropped and counted.
    client.tx(&[&ether(link.peer_mac, ours, 0x88cc, &[0u8; 46])]);
    assert!(rig.host.settle(WAIT));
    assert_eq!(q.try_read(&mut [0u8; 100]), Err(sys::EAGAIN), "nothing reaches the reader");
    assert_eq!(rig.info(id).counters.unknowns, 1);
    client.close();
    q.close();
    rig.finish();
}

#[test]
fn tap_moves_ethernet_frames_unchanged() {
    let rig = Rig::new();
    rig.create("tap7", create_flags::TAP);
    let q = rig.attach("tap7", mode::TAP);
    let client = rig.host.mac_client_open("tap7").unwrap();
    let ours = client.mac_addr();
    assert_eq!(ours[0] & 0x03, 0x02, "locally administered unicast MAC");
    let out = ether([0x02, 1, 2, 3, 4, 5], ours, 0x0800, &udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"x"));
    client.tx(&[&out]);
    assert_eq!(q.read_packet(Some(WAIT)).unwrap(), out);
    let inbound = ether(ours, [0x02, 1, 2, 3, 4, 5], 0x0806, &[0u8; 28]);
    q.write(&inbound).unwrap();
    assert_eq!(client.recv(WAIT).unwrap(), inbound);
    client.close();
    q.close();
    rig.finish();
}

#[test]
fn each_tap_link_gets_its_own_mac() {
    let rig = Rig::new();
    let a = rig.create("tap0", create_flags::TAP);
    let b = rig.create("tap1", create_flags::TAP);
    assert_ne!(rig.info(a).mac, rig.info(b).mac);
    rig.finish();
}

#[test]
fn bad_writes_are_dropped_counted_and_never_reach_ip() {
    let rig = Rig::new();
    let LinkInUse { id, queue: q, ip: client, .. } = rig.link_in_use("vpn0", false);
    let good = udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, b"ok");
    let mut wrong_version = good.clone();
    wrong_version[0] = 0x55;
    let mut short_ihl = good.clone();
    short_ihl[0] = 0x44;
    let truncated = good[..12].to_vec();
    let oversize = udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, &vec![0u8; 1600]);
    for bad in [&wrong_version, &short_ihl, &truncated, &oversize, &vec![0xffu8; 64]] {
        q.write(bad).unwrap();
    }
    assert!(rig.host.settle(WAIT));
    assert_eq!(client.recv(Duration::from_millis(50)), None);
    let c = rig.info(id).counters;
    assert_eq!(c.ierrors, 5);
    assert_eq!(c.ipackets, 0);
    q.write(&good).unwrap();
    assert!(client.recv(WAIT).is_some(), "the link still works after bad input");
    client.close();
    q.close();
    rig.finish();
}

#[test]
fn create_refuses_bad_input_and_leaves_nothing_behind() {
    let rig = Rig::new();
    let ctl = rig.open_ctl(&rig.root);
    let id = rig.link_id(&rig.root, "vpn0");
    let good = abi::TunIocCreate::new("vpn0", create_flags::TUN, id).unwrap();
    let bytes = abi::as_bytes(&good).to_vec();
    // Short and oversize payloads.
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_CREATE, &bytes[..bytes.len() - 1]).err(), Some(sys::EINVAL));
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_CREATE, &long).err(), Some(sys::EINVAL));
    // Unknown version, unknown flags, both or no modes, bad name, bad MTU, bad MAC.
    let cases: Vec<(abi::TunIocCreate, i32)> = vec![
        (abi::TunIocCreate { version: 99, ..good }, sys::ENOTSUP),
        (abi::TunIocCreate { flags: create_flags::TUN | 0x8000_0000, ..good }, sys::EINVAL),
        (abi::TunIocCreate { flags: create_flags::TUN | create_flags::TAP, ..good }, sys::EINVAL),
        (abi::TunIocCreate { flags: 0, ..good }, sys::EINVAL),
        (abi::TunIocCreate { name: *b"0bad\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", ..good }, sys::EINVAL),
        (abi::TunIocCreate { name: [b'a'; 32], ..good }, sys::EINVAL),
        (abi::TunIocCreate { mtu: 100, ..good }, sys::EINVAL),
        (abi::TunIocCreate { mtu: 70_000, ..good }, sys::EINVAL),
        (abi::TunIocCreate { flags: create_flags::TAP | create_flags::MAC_GIVEN, mac: [1, 0, 0, 0, 0, 1], ..good }, sys::EINVAL),
        (abi::TunIocCreate { linkid: 0, ..good }, sys::EINVAL),
    ];
    for (req, errno) in cases {
        assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&req)).err(), Some(errno), "{req:?}");
    }
    // No privilege.
    let user = rig.host.user_cred(1000, 1000, 0);
    let uctl = rig.open_ctl(&user);
    assert_eq!(uctl.ioctl_istr(abi::TUN_IOC_CREATE, &bytes).err(), Some(sys::EPERM));
    assert!(rig.driver.links().is_empty(), "no half-made link");
    // The good request still works, once; a second is EEXIST.
    ctl.ioctl_istr(abi::TUN_IOC_CREATE, &bytes).unwrap();
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_CREATE, &bytes).err(), Some(sys::EEXIST));
    assert_eq!(rig.driver.links().len(), 1);
    rig.finish();
}

#[test]
fn ioctls_on_the_wrong_node_or_unknown_are_einval() {
    let rig = Rig::new();
    let ctl = rig.open_ctl(&rig.root);
    let tun = rig.open_tun(&rig.root);
    let attach = abi::TunIocAttach::new("vpn0", 0).unwrap();
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&attach)).err(), Some(sys::EINVAL));
    assert_eq!(tun.ioctl_istr(abi::TUN_IOC_DELETE, &[0u8; 16]).err(), Some(sys::EINVAL));
    assert_eq!(tun.ioctl_istr(0x7475_00ff, &[]).err(), Some(sys::EINVAL));
    assert_eq!(tun.ioctl_istr(abi::TUN_IOC_DETACH, &[]).err(), Some(sys::ENXIO), "not attached");
    rig.finish();
}

#[test]
fn attach_checks_mode_ownership_and_exclusivity() {
    let rig = Rig::new();
    rig.create("vpn0", create_flags::TUN);
    let tap = rig.open_tap(&rig.root);
    let req = abi::TunIocAttach::new("vpn0", 0).unwrap();
    assert_eq!(tap.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&req)).err(), Some(sys::EINVAL), "tap queue on a tun link");
    let user = rig.host.user_cred(1000, 1000, 0);
    let uq = rig.open_tun(&user);
    assert_eq!(uq.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&req)).err(), Some(sys::EPERM));
    let missing = abi::TunIocAttach::new("nope0", 0).unwrap();
    assert_eq!(uq.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&missing)).err(), Some(sys::ENOENT));
    let first = rig.attach("vpn0", mode::TUN | attach_flags::EXCLUSIVE);
    let second = rig.open_tun(&rig.root);
    let multi = abi::TunIocAttach::new("vpn0", attach_flags::MULTI_QUEUE).unwrap();
    assert_eq!(second.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&multi)).err(), Some(sys::EBUSY));
    // Ownership given to uid 1000 lets that user attach.
    first.ioctl_istr(abi::TUN_IOC_SET_OWNER, &1000u32.to_ne_bytes()).unwrap();
    first.close();
    uq.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&req)).unwrap();
    uq.close();
    second.close();
    tap.close();
    rig.finish();
}

#[test]
fn delete_is_refused_while_in_use_and_force_gives_readers_a_clean_error() {
    let rig = Rig::new();
    let id = rig.create("vpn0", create_flags::TUN);
    let q = rig.attach("vpn0", mode::TUN);
    let ctl = rig.open_ctl(&rig.root);
    let del = abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags: 0, linkid: id, _pad: 0 };
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)).err(), Some(sys::EBUSY));
    // IP plumbed (a mac client open) cannot be forced.
    let client = rig.host.mac_client_open("vpn0").unwrap();
    let force = abi::TunIocDelete { flags: abi::delete_flags::FORCE, ..del };
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&force)).err(), Some(sys::EBUSY));
    client.close();
    let bad = abi::TunIocDelete { flags: 0x10, ..del };
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&bad)).err(), Some(sys::EINVAL));
    ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&force)).unwrap();
    assert!(rig.driver.links().is_empty());
    // M_ERROR(ENXIO) from the deletion: a timeout (ETIME) is no answer.
    assert_eq!(q.read_packet(Some(WAIT)), Err(sys::ENXIO), "the reader gets a clean error, not a hang");
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)).err(), Some(sys::ENOENT));
    q.close();
    assert_eq!(rig.driver.can_detach(), Err(sys::EBUSY), "a stream is still open");
    ctl.close();
    assert_eq!(rig.driver.can_detach(), Ok(()));
    rig.finish();
}

#[test]
fn links_are_visible_only_in_their_zone() {
    let rig = Rig::new();
    let zone = rig.host.create_zone("z1");
    let zroot = rig.host.cred(CredSpec { uid: 0, gid: 0, groups: vec![], zone, privs: Privileges { dl_config: true, ..Default::default() } });
    let id = rig.link_id(&zroot, "zvpn0");
    let zctl = rig.open_ctl(&zroot);
    let req = abi::TunIocCreate::new("zvpn0", create_flags::TUN, id).unwrap();
    zctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&req)).unwrap();
    let other = rig.host.create_zone("z2");
    let z2root = rig.host.cred(CredSpec { uid: 0, gid: 0, groups: vec![], zone: other, privs: Privileges { dl_config: true, ..Default::default() } });
    let z2ctl = rig.open_ctl(&z2root);
    let info = abi::TunIocInfo { version: abi::TUN_ABI_VERSION, linkid: id, ..Default::default() };
    assert_eq!(z2ctl.ioctl_istr(abi::TUN_IOC_INFO, abi::as_bytes(&info)).err(), Some(sys::ENOENT));
    let list = abi::TunIocList { version: abi::TUN_ABI_VERSION, after: 0, count: 0, more: 0, linkids: [0; abi::LIST_PAGE] };
    let r: abi::TunIocList = decode(&z2ctl.ioctl_istr(abi::TUN_IOC_LIST, abi::as_bytes(&list)).unwrap().data);
    assert_eq!(r.count, 0);
    // The global zone sees it, with its zone.
    assert_eq!(rig.info(id).zoneid, zone);
    rig.finish();
}

#[test]
fn old_api_numbers_units_per_zone_past_twenty_with_exact_boundaries() {
    let rig = Rig::new();
    let mut held = Vec::new();
    let newppa = |s: &tuntap_sim::SimStream, p: i32| s.ioctl_istr(abi::TUNNEWPPA, &p.to_ne_bytes()).map(|r| r.rval);
    for want in 0..25 {
        let s = rig.open_tun(&rig.root);
        assert_eq!(newppa(&s, -1), Ok(want));
        held.push(s);
    }
    // The legacy driver wrote out of bounds at PPA 20; here it is a unit.
    let s = rig.open_tun(&rig.root);
    assert_eq!(newppa(&s, 20), Err(sys::EEXIST));
    assert_eq!(newppa(&s, -2), Err(sys::EINVAL));
    assert_eq!(newppa(&s, abi::OLD_API_MAX_PPA + 1), Err(sys::EINVAL));
    assert_eq!(newppa(&s, abi::OLD_API_MAX_PPA), Ok(abi::OLD_API_MAX_PPA));
    assert_eq!(s.ioctl_istr(abi::TUNGETPPA, &[]).unwrap().rval, abi::OLD_API_MAX_PPA);
    assert_eq!(s.ioctl_istr(abi::TUNNEWPPA, &[1, 2]).err(), Some(sys::EINVAL), "short int");
    // Transparent, value passed directly (openconnect style).
    let t = rig.open_tap(&rig.root);
    assert_eq!(t.ioctl_transparent(abi::TUNNEWPPA, usize::MAX).unwrap().rval, 0, "-1 as intptr_t");
    assert_eq!(t.ioctl_transparent(abi::TUNGETPPA, 0).unwrap().rval, 0);
    assert!(rig.driver.links().iter().any(|l| l.name.as_str() == "tap0"));
    // TUNSETPPA to a unit that does not exist.
    let u = rig.open_tun(&rig.root);
    assert_eq!(u.ioctl_istr(abi::TUNSETPPA, &5000i32.to_ne_bytes()).err(), Some(sys::ENODEV));
    assert_eq!(u.ioctl_istr(abi::TUNSETPPA, &3i32.to_ne_bytes()).unwrap().rval, 3);
    // Closing the control stream of a transient link removes it.
    let before = rig.driver.links().len();
    s.close();
    assert_eq!(rig.driver.links().len(), before - 1);
    drop(held);
    drop(t);
    drop(u);
    assert!(rig.driver.links().is_empty(), "every old-API link went with its streams");
    rig.finish();
}

#[test]
fn transparent_ioctls_copy_in_and_out_and_refuse_bad_addresses() {
    let rig = Rig::new();
    let id = rig.create("vpn0", create_flags::TUN);
    let ctl = rig.open_ctl(&rig.root);
    let mem = rig.host.user_memory();
    let req = abi::TunIocInfo { version: abi::TUN_ABI_VERSION, linkid: id, ..Default::default() };
    mem.map(0x10_0000, abi::as_bytes(&req));
    ctl.ioctl_transparent(abi::TUN_IOC_INFO, 0x10_0000).unwrap();
    let back: abi::TunIocInfo = decode(&mem.read(0x10_0000, std::mem::size_of::<abi::TunIocInfo>()).unwrap());
    assert_eq!(back.linkid, id);
    assert_eq!(back.mtu, 1500);
    assert_eq!(ctl.ioctl_transparent(abi::TUN_IOC_INFO, 0x20_0000).err(), Some(sys::EFAULT));
    rig.finish();
}

#[test]
fn mtu_is_a_link_property_with_range_and_bounds_writes() {
    let rig = Rig::new();
    let id = rig.create("vpn0", create_flags::TUN);
    let info = rig.host.prop_info("vpn0", sys::MAC_PROP_MTU, "mtu").unwrap();
    assert_eq!(info.default_u32, Some(1500));
    assert_eq!(info.ranges_u32, vec![(576, 65535)]);
    assert_eq!(rig.host.set_prop_mtu("vpn0", 100), Err(sys::EINVAL));
    rig.host.set_prop_mtu("vpn0", 9000).unwrap();
    assert_eq!(rig.info(id).mtu, 9000);
    let q = rig.attach("vpn0", mode::TUN);
    let client = rig.host.mac_client_open("vpn0").unwrap();
    let jumbo = udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, &vec![7u8; 8000]);
    q.write(&jumbo).unwrap();
    assert_eq!(client.recv(WAIT).map(|f| f.len()), Some(14 + jumbo.len()));
    client.close();
    q.close();
    rig.finish();
}

#[test]
fn a_slow_reader_flow_controls_mac_and_loses_nothing() {
    let rig = Rig::new();
    rig.create("vpn0", create_flags::TUN);
    let q = rig.attach("vpn0", mode::TUN);
    let limits = abi::TunIocQueueLimits { version: abi::TUN_ABI_VERSION, max_packets: 4, max_bytes: 0, _pad: 0 };
    q.ioctl_istr(abi::TUN_IOC_QUEUE_LIMITS, abi::as_bytes(&limits)).unwrap();
    let client = rig.host.mac_client_open("vpn0").unwrap();
    let link = rig.driver.links()[0].clone();
    // 2000 x ~1 KB is twice the stream head's high-water mark (1 MiB).
    let packets: Vec<Vec<u8>> = (0..2000u16)
        .map(|i| udp4([10, 0, 0, 1], [10, 0, 0, 2], i, 9, &[i as u8; 1000]))
        .collect();
    let frames: Vec<Vec<u8>> = packets.iter().map(|p| ether(link.peer_mac, client.mac_addr(), 0x0800, p)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    client.tx(&refs);
    assert!(client.tx_blocked() || rig.info(link.linkid).counters.opackets < 2000, "the reader's bound held mac back");
    for want in &packets {
        assert_eq!(&q.read_packet(Some(WAIT)).expect("every packet arrives"), want, "in order");
    }
    assert!(client.flush_tx(WAIT));
    assert_eq!(rig.info(link.linkid).counters.opackets, 2000);
    assert_eq!(rig.info(link.linkid).counters.noxmtbuf, 0, "nothing dropped");
    client.close();
    q.close();
    rig.finish();
}

#[test]
fn packet_info_header_is_added_and_stripped() {
    let rig = Rig::new();
    rig.create("vpn0", create_flags::TUN);
    let q = rig.attach("vpn0", mode::TUN | attach_flags::PACKET_INFO);
    let client = rig.host.mac_client_open("vpn0").unwrap();
    let link = rig.driver.links()[0].clone();
    let pkt = udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, b"pi");
    client.tx(&[&ether(link.peer_mac, client.mac_addr(), 0x0800, &pkt)]);
    let got = q.read_packet(Some(WAIT)).unwrap();
    assert_eq!(&got[..4], &[0, 0, 0x08, 0x00]);
    assert_eq!(&got[4..], &pkt[..]);
    let mut out = vec![0, 0, 0x08, 0x00];
    out.extend_from_slice(&pkt);
    q.write(&out).unwrap();
    assert_eq!(&client.recv(WAIT).unwrap()[14..], &pkt[..]);
    client.close();
    q.close();
    rig.finish();
}

#[test]
fn attach_with_create_makes_a_transient_link_that_goes_with_its_queue() {
    let rig = Rig::new();
    let q = rig.attach("wg0", mode::TUN | attach_flags::CREATE);
    let links = rig.driver.links();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].name.as_str(), "wg0");
    let info = rig.info(links[0].linkid);
    assert_ne!(info.state_flags & abi::info_flags::TRANSIENT, 0);
    drop(links);
    q.close();
    assert!(rig.driver.links().is_empty());
    // Unprivileged callers cannot create.
    let user = rig.host.user_cred(1000, 1000, 0);
    let uq = rig.open_tun(&user);
    let req = abi::TunIocAttach::new("wg1", attach_flags::CREATE).unwrap();
    assert_eq!(uq.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&req)).err(), Some(sys::EPERM));
    uq.close();
    rig.finish();
}

#[test]
fn carrier_off_takes_the_link_down_and_on_brings_it_back() {
    let rig = Rig::new();
    rig.create("vpn0", create_flags::TUN);
    let q = rig.attach("vpn0", mode::TUN);
    let client = rig.host.mac_client_open("vpn0").unwrap();
    assert!(client.wait_link_state(LinkState::Up, WAIT));
    q.ioctl_istr(abi::TUN_IOC_SET_CARRIER, &0u32.to_ne_bytes()).unwrap();
    assert!(client.wait_link_state(LinkState::Down, WAIT));
    assert_eq!(q.ioctl_istr(abi::TUN_IOC_SET_CARRIER, &2u32.to_ne_bytes()).err(), Some(sys::EINVAL));
    assert_eq!(q.ioctl_istr(abi::TUN_IOC_SET_CARRIER, &[1u8]).err(), Some(sys::EINVAL), "short value");
    q.ioctl_istr(abi::TUN_IOC_SET_CARRIER, &1u32.to_ne_bytes()).unwrap();
    assert!(client.wait_link_state(LinkState::Up, WAIT));
    client.close();
    q.close();
    rig.finish();
}

#[test]
fn several_queues_share_a_link_and_each_flow_sticks_to_one_queue() {
    let rig = Rig::new();
    let id = rig.create("vpn0", create_flags::TUN);
    let flags = mode::TUN | attach_flags::MULTI_QUEUE;
    let queues = [rig.attach("vpn0", flags), rig.attach("vpn0", flags)];
    assert_eq!(rig.info(id).nqueues, 2);
    let client = rig.host.mac_client_open("vpn0").unwrap();
    let link = rig.driver.link_by_id(id).unwrap();
    // 16 flows, each sent twice.
    let mut sent = Vec::new();
    for round in 0..2 {
        for port in 0..16u16 {
            let p = udp4([10, 0, 0, 1], [10, 0, 0, 2], 4000 + port, 53, &[round as u8]);
            client.tx(&[&ether(link.peer_mac, client.mac_addr(), 0x0800, &p)]);
            sent.push(p);
        }
    }
    assert!(rig.host.settle(WAIT));
    let mut got: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    for (i, q) in queues.iter().enumerate() {
        let mut buf = vec![0u8; 2048];
        while let Ok(n) = q.try_read(&mut buf) {
            got[i].push(buf[..n].to_vec());
        }
    }
    assert_eq!(got[0].len() + got[1].len(), sent.len(), "every packet reached exactly one queue");
    assert!(!got[0].is_empty() && !got[1].is_empty(), "16 flows spread over both queues");
    let port_of = |p: &Vec<u8>| u16::from_be_bytes([p[20], p[21]]);
    for port in 4000..4016u16 {
        let on: Vec<usize> = (0..2).filter(|i| got[*i].iter().any(|p| port_of(p) == port)).collect();
        assert_eq!(on.len(), 1, "flow {port} stayed on one queue");
    }
    client.close();
    for q in queues {
        q.close();
    }
    rig.finish();
}
