// SPDX-License-Identifier: MPL-2.0

//! Simulator scenarios run on the loaded `tuntap` and `tun` objects: the
//! STREAMS head calls drv/tun's streamtab, which calls drv/tuntap across
//! modules; mac calls the registered mac_callbacks_t; every kernel call
//! the objects make lands in the simulator with its rules and leak checks.

mod common;

use common::*;
use illumos_sys_hdrs as sys;
use tuntap_abi::{self as abi, create_flags, delete_flags, mode};
use kloader::LoadedKernel;
use tuntap_drv::ddi::LinkState;

#[test]
fn link_create_delete_and_fini_refused_while_a_link_exists() {
    let Some(mut rig) = Rig::boot() else { return };
    let id = rig.create("vpn0", create_flags::TUN).expect("create");
    let info = rig.info(id);
    assert_eq!((info.mode, info.mtu, &info.name[..5]), (mode::TUN, 1500, &b"vpn0\0"[..]));
    assert!(rig.k.host().mac_info("vpn0").is_ok(), "the link is a datalink");
    // modunload of drv/tun (no stream open) releases its hold on
    // drv/tuntap; drv/tuntap's own detach(9E) then refuses while the link
    // exists, so its _fini is never reached and the module stays.
    assert_eq!(rig.k.unload("tun"), 0, "drv/tun unloads when no stream is open");
    assert_eq!(rig.k.unload("tuntap"), sys::EBUSY, "unload refused while a link exists");
    assert!(rig.k.dip("tuntap").is_some(), "still attached");
    // modload drv/tun again; its control node deletes the link.
    assert_eq!(rig.k.init("tun"), 0);
    rig.delete(id, 0).expect("delete");
    assert!(rig.k.host().mac_info("vpn0").is_err(), "the datalink went with it");
    // Now both unload, and a fresh _init/attach works on the same mapping.
    assert_eq!(rig.k.unload("tun"), 0);
    assert_eq!(rig.k.unload("tuntap"), 0);
    assert_eq!(rig.k.init("tuntap"), 0);
    assert_eq!(rig.k.attach("tuntap"), sys::DDI_SUCCESS);
    assert_eq!(rig.k.init("tun"), 0);
    assert_eq!(rig.k.attach("tun"), sys::DDI_SUCCESS);
    rig.finish();
}

#[test]
fn tun_moves_ip_packets_both_ways() {
    let Some(rig) = Rig::boot() else { return };
    let id = rig.create("vpn0", create_flags::TUN).expect("create");
    let ip = rig.k.host().mac_client_open("vpn0").expect("IP on the link");
    assert_eq!(ip.link_state(), LinkState::Down, "no queue yet");
    let q = rig.attach("vpn0", mode::TUN);
    assert!(ip.wait_link_state(LinkState::Up, WAIT), "link up once a queue attaches");
    let ours = ip.mac_addr();
    // IP resolves the peer: the driver answers ARP (mc_tx, then mac_rx).
    ip.tx(&[&arp_request(ours, [10, 9, 0, 1], [10, 9, 0, 2])]);
    let reply = ip.recv(WAIT).expect("ARP reply from the loaded driver");
    let peer: [u8; 6] = reply[6..12].try_into().unwrap();
    // IP -> reader: the bare packet.
    let pkt = udp4([10, 9, 0, 1], [10, 9, 0, 2], 1000, 53, b"hello");
    ip.tx(&[&ether(peer, ours, 0x0800, &pkt)]);
    assert_eq!(q.read_packet(Some(WAIT)).unwrap(), pkt);
    // writer -> IP: framed from the peer; IPv6 typed by its version.
    let back = udp4([10, 9, 0, 2], [10, 9, 0, 1], 53, 1000, b"world");
    q.write(&back).unwrap();
    assert_eq!(ip.recv(WAIT).expect("frame through mac_rx"), ether(ours, peer, 0x0800, &back));
    let v6 = ipv6_packet(17, &[0, 1, 0, 2, 0, 8, 0, 0]);
    q.write(&v6).unwrap();
    assert_eq!(ip.recv(WAIT).unwrap(), ether(ours, peer, 0x86dd, &v6));
    let info = rig.info(id);
    assert_eq!((info.counters.opackets, info.counters.ipackets), (1, 2));
    assert_eq!(rig.k.host().get_stat("vpn0", sys::MAC_STAT_IPACKETS), Ok(2), "mc_getstat");
    ip.close();
    q.close();
    rig.finish();
}

#[test]
fn tap_moves_ethernet_frames_unchanged() {
    let Some(rig) = Rig::boot() else { return };
    rig.create("tap0", create_flags::TAP).expect("create");
    let ip = rig.k.host().mac_client_open("tap0").expect("IP on the link");
    let q = rig.attach("tap0", mode::TAP);
    let ours = ip.mac_addr();
    let out = ether([0x02, 1, 2, 3, 4, 5], ours, 0x0800, &udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, b"out"));
    ip.tx(&[&out]);
    assert_eq!(q.read_packet(Some(WAIT)).unwrap(), out);
    let inbound = ether(ours, [0x02, 1, 2, 3, 4, 5], 0x0800, &udp4([10, 0, 0, 2], [10, 0, 0, 1], 2, 1, b"in"));
    q.write(&inbound).unwrap();
    assert_eq!(ip.recv(WAIT).unwrap(), inbound);
    ip.close();
    q.close();
    rig.finish();
}

#[test]
fn delete_in_use_is_refused_and_force_gives_the_reader_an_error() {
    let Some(rig) = Rig::boot() else { return };
    let id = rig.create("vpn1", create_flags::TUN).expect("create");
    let q = rig.attach("vpn1", mode::TUN);
    assert_eq!(rig.delete(id, 0), Err(sys::EBUSY), "in use");
    rig.delete(id, delete_flags::FORCE).expect("forced delete");
    assert!(q.read_packet(Some(WAIT)).is_err(), "the reader gets an error, not a hang");
    q.close();
    rig.finish();
}

/// OpenVPN's `dev tun` on illumos, played as IP plays it (the
/// simulator test `openvpn_tun_plumbing_as_ip_reacts_to_it`, on the
/// loaded objects): the daemon's stream makes the unit (`TUNNEWPPA`); a
/// second `/dev/tun` stream gets `ip` pushed, `DL_ATTACH`/`DL_BIND`, comes
/// up point-to-point without ARP, and unit data flows both ways.
#[test]
fn old_api_openvpn_sequence() {
    use tuntap_tests::dlpi::*;
    use tuntap_tests::oldapi::{new_ppa, OpenVpnStreams};
    let Some(rig) = Rig::boot() else { return };
    let vpn = rig.open_tun();
    let ppa = new_ppa(&vpn);
    assert_eq!(vpn.ioctl_istr(abi::TUNGETPPA, &[]).unwrap().rval, ppa as i32);
    let if_fd = rig.open_tun();
    let first = ip_push(&if_fd);
    assert_eq!((first.mac_type, first.state), (sys::DL_ETHER, illumos_sys_hdrs::dlpi::DL_UNATTACHED));
    let ill = ip_dl_phys(&if_fd, ppa, SAP_IPV4);
    if let Err(why) = ip_up(&if_fd, &ill, SAP_IPV4, false) {
        panic!("IP cannot bring tun{ppa} up on the loaded driver: {why}");
    }
    assert_eq!((ill.resolver, ill.noarp, ill.pointopoint), (false, true, true), "{ill:?}");
    // The loaded module relays IP's stream onto a dld stream of the link
    // (dlpi/relay.rs): /dev/net/tunN opened through the loader's LDI shims,
    // drv/tun's own STREAMS module tunrly (its modlstrmod) pushed and
    // started with the kernel's credential; dls's client is the link's
    // primary client and the driver opens none of its own.
    let name = format!("tun{ppa}");
    let dld = rig.k.host().dld_info(name.as_str()).expect("the unit's mac");
    assert_eq!((dld.streams, dld.bound, dld.dls_client), (1, 1, true), "{dld:?}");
    assert!(rig.k.host().kernel_clients(name.as_str()).unwrap().is_empty(), "no private mac client");
    let snoop = rig.k.host().snoop(name.as_str()).expect("snoop -d");
    // IP -> the daemon: the bare packet; the daemon -> IP:
    // DL_UNITDATA_IND with the packet.
    let unit = OpenVpnStreams { vpn, ppa, ip: if_fd, ill, arp: None };
    unit.tun_exchange();
    let link = rig.k.host().dlmgmt_name2info(0, &format!("tun{ppa}")).expect("the unit is a datalink");
    let c = rig.info(link.linkid).counters;
    assert_eq!((c.opackets, c.ipackets), (1, 1));
    let dirs: Vec<bool> = std::iter::from_fn(|| snoop.recv(std::time::Duration::from_millis(200)).map(|(tx, _)| tx)).collect();
    assert_eq!(dirs, [true, false], "snoop sees IP's packet out and the daemon's in");
    snoop.close();
    unit.unplumb();
    assert!(rig.k.host().dlmgmt_name2info(0, &format!("tun{ppa}")).is_err(), "the unit went with its streams");
    rig.finish();
}

#[test]
fn concurrent_opens_writes_and_closes() {
    let Some(rig) = Rig::boot() else { return };
    rig.create("race0", create_flags::TUN).expect("create");
    let ip = rig.k.host().mac_client_open("race0").expect("IP");
    let q = rig.attach("race0", mode::TUN);
    let pkt = udp4([10, 1, 0, 2], [10, 1, 0, 1], 7, 7, b"x");
    std::thread::scope(|s| {
        // Writers on the attached queue while other threads open and
        // close control and tun streams (driver entry lock vs. data path).
        s.spawn(|| {
            for _ in 0..200 {
                q.write(&pkt).unwrap();
            }
        });
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..50 {
                    let c = rig.open_ctl();
                    let t = rig.open_tun();
                    drop(t);
                    drop(c);
                }
            });
        }
    });
    let mut got = 0;
    while ip.recv(std::time::Duration::from_millis(200)).is_some() {
        got += 1;
    }
    assert_eq!(got, 200, "every write reached IP");
    ip.close();
    q.close();
    rig.finish();
}

#[test]
fn unicast_address_set_through_mac_reaches_the_driver() {
    let Some(rig) = Rig::boot() else { return };
    unicast_scenario(&rig).unwrap();
    rig.finish();
}

#[test]
fn every_entry_point_ran_on_the_kernel_stack_within_defaultstksz() {
    let Some(rig) = Rig::boot() else { return };
    rig.create("st0", create_flags::TUN).expect("create");
    let ip = rig.k.host().mac_client_open("st0").expect("IP");
    let q = rig.attach("st0", mode::TUN);
    ip.tx(&[&arp_request(ip.mac_addr(), [10, 3, 0, 1], [10, 3, 0, 2])]);
    assert!(ip.recv(WAIT).is_some());
    assert!(rig.k.host().get_stat("st0", sys::MAC_STAT_OPACKETS).is_ok());
    ip.close();
    q.close();
    rig.finish();
    let d = kloader::kstack::deepest();
    for e in ["_init", "devo_attach", "tun qi_qopen", "tun qi_putp (write)", "tun qi_qclose", "mc_tx", "mc_getstat", "mc_start", "devo_detach", "_fini"] {
        let used = d.get(e).copied().unwrap_or(0);
        assert!(used > 0, "entry point {e} never ran on a kernel stack ({d:?})");
        // The module's own frames; the illumos routines it calls (putnext,
        // mac_rx, ... and what they call) need the rest of the stack.
        assert!(used <= kloader::kstack::DEFAULTSTKSZ / 2, "{e} used {used} of {} bytes: less than half left for the kernel's frames", kloader::kstack::DEFAULTSTKSZ);
    }
    eprintln!("deepest kernel stack use (bytes): {d:?}");
}

/// The peer address of a tun link, as IP learns it (ARP to the driver).
fn resolve_peer(ip: &tuntap_sim::SimMacClient) -> [u8; 6] {
    ip.tx(&[&arp_request(ip.mac_addr(), [10, 0, 0, 1], [10, 0, 0, 2])]);
    let reply = ip.recv(WAIT).expect("ARP reply");
    reply[6..12].try_into().unwrap()
}

#[test]
fn a_slow_reader_flow_controls_mac_and_loses_nothing() {
    let Some(rig) = Rig::boot() else { return };
    let id = rig.create("vpn0", create_flags::TUN).expect("create");
    let q = rig.attach("vpn0", mode::TUN);
    let limits = abi::TunIocQueueLimits { version: abi::TUN_ABI_VERSION, max_packets: 4, max_bytes: 0, _pad: 0 };
    q.ioctl_istr(abi::TUN_IOC_QUEUE_LIMITS, abi::as_bytes(&limits)).unwrap();
    let ip = rig.k.host().mac_client_open("vpn0").unwrap();
    let peer = resolve_peer(&ip);
    let packets: Vec<Vec<u8>> = (0..2000u16).map(|i| udp4([10, 0, 0, 1], [10, 0, 0, 2], i, 9, &[i as u8; 1000])).collect();
    let frames: Vec<Vec<u8>> = packets.iter().map(|p| ether(peer, ip.mac_addr(), 0x0800, p)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    ip.tx(&refs);
    assert!(ip.tx_blocked() || rig.info(id).counters.opackets < 2000, "the reader's bound held mac back");
    for want in &packets {
        assert_eq!(&q.read_packet(Some(WAIT)).expect("every packet arrives"), want, "in order");
    }
    assert!(ip.flush_tx(WAIT));
    let c = rig.info(id).counters;
    assert_eq!((c.opackets, c.noxmtbuf), (2000, 0), "all delivered, nothing dropped");
    ip.close();
    q.close();
    rig.finish();
}

#[test]
fn forced_delete_races_traffic_in_both_directions() {
    let Some(rig) = Rig::boot() else { return };
    for round in 0..5 {
        let name = format!("rc{round}");
        let id = rig.create(&name, create_flags::TUN).expect("create");
        let q = rig.attach(&name, mode::TUN);
        let ip = rig.k.host().mac_client_open(name.as_str()).unwrap();
        let peer = resolve_peer(&ip);
        let pkt = udp4([10, 0, 0, 2], [10, 0, 0, 1], 1, 1, b"race");
        let frame = ether(peer, ip.mac_addr(), 0x0800, &udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 1, b"race"));
        // IP sends and goes away (dls refuses to destroy a link with a
        // client); the writer keeps writing while the link is deleted.
        let (ip_gone, wait_ip) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..300 {
                    if q.write(&pkt).is_err() {
                        break; // the link went away under us: an error, never a hang
                    }
                }
            });
            s.spawn(move || {
                for _ in 0..100 {
                    ip.tx(&[&frame]);
                }
                ip.close();
                ip_gone.send(()).unwrap();
            });
            let rig = &rig;
            s.spawn(move || {
                wait_ip.recv().unwrap();
                rig.delete(id, delete_flags::FORCE).expect("forced delete");
            });
        });
        q.close();
    }
    rig.finish();
}

#[test]
fn mtu_property_through_propinfo_setprop_getprop() {
    use tuntap_abi::limits::{MTU_DEFAULT, MTU_MAX, MTU_MIN};
    let Some(rig) = Rig::boot() else { return };
    let id = rig.create("mtu0", create_flags::TUN).expect("create");
    let info = rig.k.host().prop_info("mtu0", sys::MAC_PROP_MTU, "mtu").unwrap();
    assert_eq!(info.default_u32, Some(MTU_DEFAULT), "mc_propinfo default");
    assert_eq!(info.ranges_u32, vec![(MTU_MIN, MTU_MAX)], "mc_propinfo range");
    assert!(rig.k.host().set_prop_mtu("mtu0", MTU_MIN - 1).is_err(), "mc_setprop bounds");
    rig.k.host().set_prop_mtu("mtu0", 9000).unwrap();
    assert_eq!(rig.info(id).mtu, 9000);
    let got = rig.k.host().get_prop("mtu0", sys::MAC_PROP_MTU, "mtu", 4).unwrap();
    assert_eq!(u32::from_ne_bytes(got[..4].try_into().unwrap()), 9000, "mc_getprop");
    let q = rig.attach("mtu0", mode::TUN);
    let ip = rig.k.host().mac_client_open("mtu0").unwrap();
    let jumbo = udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, &[7u8; 8000]);
    q.write(&jumbo).unwrap();
    assert_eq!(ip.recv(WAIT).map(|f| f.len()), Some(14 + jumbo.len()));
    ip.close();
    q.close();
    rig.finish();
}

#[test]
fn old_api_unit_made_in_a_zone_belongs_to_that_zone() {
    use tuntap_sim::{CredSpec, Privileges};
    let Some(rig) = Rig::boot() else { return };
    let host = rig.k.host();
    let zone = host.create_zone("z1");
    let zroot = host.cred(CredSpec { uid: 0, gid: 0, groups: vec![], zone, privs: Privileges { dl_config: true, ..Default::default() } });
    // OpenVPN in zone z1: TUNNEWPPA makes tun0 (dlmgmtd on a taskq files
    // it in the global zone; the driver moves it with dls_devnet_setzid).
    let vpn = host.open(rig.node(tuntap_drv::ddi::node_minor::TUN), &zroot).expect("open /dev/tun in z1");
    assert_eq!(vpn.ioctl_istr(abi::TUNNEWPPA, &(-1i32).to_ne_bytes()).unwrap().rval, 0);
    let link = host.dlmgmt_name2info(zone, "tun0").expect("tun0 is visible in z1");
    assert_eq!(link.zone, zone);
    assert_eq!(rig.info(link.linkid).zoneid, zone, "the driver records the zone too");
    drop(vpn);
    assert!(host.dlmgmt_name2info(zone, "tun0").is_err(), "the unit went with its stream");
    rig.finish();
}

#[test]
fn creates_and_deletes_racing_on_one_name_leave_one_link_or_none() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let Some(rig) = Rig::boot() else { return };
    let host = rig.k.host();
    let id = host
        .dlmgmt_create_id(&rig.root, "race1", sys::DATALINK_CLASS_MISC, sys::DL_ETHER, tuntap_sim::DlFlags::ACTIVE)
        .unwrap();
    let req = abi::TunIocCreate::new("race1", create_flags::TUN, id).unwrap();
    let del = abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags: 0, linkid: id, _pad: 0 };
    let (created, deleted) = (AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let ctl = rig.open_ctl();
                for _ in 0..50 {
                    match ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&req)) {
                        Ok(_) => drop(created.fetch_add(1, Ordering::SeqCst)),
                        Err(e) => assert!(e == sys::EEXIST || e == sys::EBUSY, "create: {e}"),
                    }
                    match ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)) {
                        Ok(_) => drop(deleted.fetch_add(1, Ordering::SeqCst)),
                        Err(e) => assert!(e == sys::ENOENT || e == sys::EBUSY, "delete: {e}"),
                    }
                }
            });
        }
    });
    let live = u64::from(host.mac_info("race1").is_ok());
    let (c, d) = (created.load(Ordering::SeqCst), deleted.load(Ordering::SeqCst));
    assert!(c > 0);
    assert_eq!(c, d + live, "every create matched by a delete or the survivor");
    if live == 1 {
        rig.links.lock().unwrap().push(id);
    }
    rig.finish();
}

#[test]
fn after_a_reboot_dev_tun_works_and_holds_drv_tuntap() {
    use kloader::{BootOptions, Lifecycle, Objects, Paths};
    let Some(paths) = Paths::built() else { return };
    let opts = BootOptions { lifecycle: Lifecycle::Reboot, ..Default::default() };
    let mut k = LoadedKernel::boot(&paths, &Objects::read(&paths).unwrap(), opts).unwrap_or_else(|e| panic!("{e}"));
    // tuntap.conf forces drv/tuntap to attach at boot; drv/tun waits for an open.
    assert!(k.dip("tuntap").is_some(), "ddi-forceattach=1 attached drv/tuntap at boot");
    assert!(k.dip("tun").is_none());
    let root = k.host().root_cred();
    let s = k.host().open(sys::MAC_PRIVATE_MINOR + tuntap_drv::ddi::node_minor::TUN, &root).expect("/dev/tun after a reboot");
    assert!(k.dip("tun").is_some(), "the open attached drv/tun");
    drop(s);
    // drv/tun holds drv/tuntap (ddi_hold_devi_by_instance): tuntap cannot
    // detach before tun does.
    assert_ne!(k.detach("tuntap"), sys::DDI_SUCCESS, "drv/tuntap is held by drv/tun");
    assert_eq!(k.unload("tun"), 0);
    assert_eq!(k.detach("tuntap"), sys::DDI_SUCCESS, "released by drv/tun's detach");
    k.finish();
}

/// OpenVPN's `dev tap`: IP's stream plus the ARP stream, as the simulator
/// test `openvpn_tap_plumbing_with_its_arp_stream` plays it, on the
/// loaded objects.
#[test]
fn old_api_openvpn_tap_sequence_with_its_arp_stream() {
    let Some(rig) = Rig::boot() else { return };
    let unit = tuntap_tests::oldapi::openvpn_streams(|| rig.open_tap(), true);
    let ill = &unit.ill;
    assert_eq!((ill.resolver, ill.broadcast, ill.pointopoint, ill.phys_len), (true, true, false, 6), "{ill:?}");
    let link = rig.k.host().dlmgmt_name2info(0, &format!("tap{}", unit.ppa)).expect("the unit is a datalink");
    let own = rig.info(link.linkid).mac;
    // The peer's ARP request reaches the ARP stream; ARP's reply goes
    // out; unicast to us reaches IP; IP's unit data goes out as a whole
    // frame.
    unit.tap_exchange(own, [0x02, 0, 0, 0, 0, 9]);
    unit.unplumb();
    rig.finish();
}

/// The built module tells the two mac generations apart at run time
/// (tuntap-drv/src/link/offload.rs, "The LSO structure grew"): on a
/// kernel exporting `mac_getinfo` (illumos 15342, after 12466 grew
/// `mac_capab_lso_t`) a reader taking TSO4 and TSO6 gets TCP LSO over
/// IPv4 and IPv6; on one without it the weak reference reads 0, krtld
/// still loads the module, and the link offers IPv4 LSO only, writing
/// nothing past the 8-byte structure (the simulator's guard word; finish
/// fails on a write to it).
#[test]
fn tcpv6_lso_is_offered_only_on_a_kernel_that_has_the_witness() {
    use tuntap_abi::offload::{TunIocOffload, offload_flags};
    for has in [true, false] {
        let Some(rig) = Rig::boot_with(kloader::BootOptions { mac_lso_ipv6: has, ..Default::default() }) else { return };
        let imported = rig.k.module("tuntap").expect("tuntap").imports.iter().any(|s| s == kloader::MAC_LSO_IPV6_WITNESS);
        assert_eq!(imported, has, "the weak witness resolves exactly where the kernel exports it");
        rig.create("vpn0", create_flags::TUN).expect("create");
        let q = rig.attach("vpn0", mode::TUN);
        let req = TunIocOffload { version: abi::TUN_ABI_VERSION, flags: offload_flags::ALL, ..Default::default() };
        let st: TunIocOffload = tuntap_tests::decode(&q.ioctl_istr(abi::TUN_IOC_OFFLOAD, abi::as_bytes(&req)).expect("offload").data);
        let want = if has { sys::LSO_TX_BASIC_TCP_IPV4 | sys::LSO_TX_BASIC_TCP_IPV6 } else { sys::LSO_TX_BASIC_TCP_IPV4 };
        let lso = rig.k.host().mac_info("vpn0").expect("mac").lso.map(|(f, _)| f);
        assert_eq!(
            (st.link_lso, lso),
            (if has { 3 } else { 1 }, Some(want)),
            "mac with TCPv6 LSO and mac_getinfo: {has}; the module must offer TCPv6 LSO exactly where the witness \
             resolved (a 12-byte mac_capab_lso_t, illumos 12466)"
        );
        q.close();
        rig.finish();
    }
}
