// SPDX-License-Identifier: MPL-2.0
//! Issue 13: `maxbw=10M` on a link paces IP's traffic through mac at
//! 10 Mbit/s ± 15% both ways (toward IP the receive SRS keeps two ticks'
//! bytes and drops the excess, as on illumos), for old-API units plumbed as OpenVPN does
//! and for IP plumbed on the datalink (new API + a mac client).  Wall-time
//! measurements over about one second per direction (the simulator's
//! soft ring set keeps a departure schedule, so a late wake-up does not
//! lower the long-run rate); a `traffic_` test, so the memory checker
//! (scripts/memcheck.sh), under which time is not real, skips it.

use std::time::{Duration, Instant};

use tuntap_tests::oldapi::*;
use tuntap_tests::*;

/// A bulk transfer each way under `maxbw=10M` runs at 10 Mbit/s ± 15%;
/// without it, the same transfer is far faster (the limit does the pacing).
fn old_api_maxbw(tap: bool) {
    let rig = Rig::new();
    let p = openvpn_plumb(&rig, tap);
    let pkts: Vec<Vec<u8>> = (0..BULK).map(|i| packet(i, PKT)).collect();
    // Unlimited first: the reference.
    let t0 = Instant::now();
    for pkt in &pkts {
        p.ip_send(pkt);
    }
    for pkt in &pkts {
        assert_eq!(p.vpn.read_packet(Some(WAIT)).unwrap(), p.as_read(pkt));
    }
    let free = t0.elapsed();
    rig.host.set_maxbw(p.name.as_str(), Some(MAXBW)).unwrap();
    // IP → daemon.
    let start = Instant::now();
    for pkt in &pkts {
        p.ip_send(pkt);
    }
    for (i, pkt) in pkts.iter().enumerate() {
        assert_eq!(p.vpn.read_packet(Some(WAIT)).unwrap(), p.as_read(pkt), "paced packet {i}");
    }
    let tx_rate = rate(start, Instant::now(), BULK, Plumbed::frame_len(PKT));
    // daemon → IP, sent faster than the limit: what reaches IP leaves at
    // the limit, the excess is dropped and counted.
    let (passed, rx_rate) = oversent_rate(
        BULK,
        Plumbed::frame_len(PKT),
        |i| p.vpn_send(&pkts[i]),
        || p.ip.getmsg(Some(Duration::from_millis(300))).ok().map(|m| index_of(&pkts, &m.data)),
    );
    let d = rig.host.dld_info(p.name.as_str()).unwrap();
    assert_eq!(d.tx_dropped, 0, "a transmit burst under the queue limit is paced, not dropped");
    assert_eq!(d.shaped_drops, BULK as u64 - passed, "every packet toward IP is passed or dropped and counted");
    assert_near(&format!("{} transmit (IP to the daemon)", p.name), tx_rate);
    assert_near(&format!("{} receive (daemon to IP)", p.name), rx_rate);
    // A burst toward IP: dropped beyond the receive SRS's threshold.
    assert_rx_burst_dropped(
        "packet",
        BULK,
        Plumbed::frame_len(PKT),
        |i| p.vpn_send(&pkts[i]),
        || p.ip.getmsg(Some(Duration::from_millis(300))).is_ok(),
        || rig.host.dld_info(p.name.as_str()).unwrap().shaped_drops,
    );
    assert!(free < Duration::from_millis(600), "unlimited transfer took {free:?}: the reference is not fast");
    rig.host.set_maxbw(p.name.as_str(), None).unwrap();
    p.unplumb();
    rig.finish();
}

#[test]
fn tun_old_api_maxbw_paces_both_directions() {
    old_api_maxbw(false);
}

#[test]
fn tap_old_api_maxbw_paces_both_directions() {
    old_api_maxbw(true);
}

/// Which of `sent` arrived: an IP packet (old API) or a frame whose
/// Ethernet header IP's client sees (new API: compared past it).
fn index_of(sent: &[Vec<u8>], got: &[u8]) -> usize {
    sent.iter()
        .position(|s| s.as_slice() == got || (s.len() > 14 && got.len() > 14 && s[14..] == got[14..]))
        .unwrap_or_else(|| panic!("a packet toward IP that was never sent ({} bytes)", got.len()))
}


// ----- the new API, to the same standard -----

/// A link plumbed through the datalink: a queue (the daemon) and a mac
/// client playing IP (dls's primary client).
fn new_api(tap: bool) {
    let rig = Rig::new();
    let name = if tap { "tap7" } else { "tun7" };
    let l = rig.link_in_use(name, tap);
    let snoop = rig.host.snoop(name).unwrap();
    let before = rig.info(l.id).counters;
    let frame = |i: usize, len: usize, out: bool| {
        let pkt = packet(i, len);
        if out { ether(l.peer_mac, l.ip_mac, 0x0800, &pkt) } else { ether(l.ip_mac, l.peer_mac, 0x0800, &pkt) }
    };
    let read_form = |f: &[u8]| if tap { f.to_vec() } else { f[14..].to_vec() };
    let write_form = |f: &[u8]| if tap { f.to_vec() } else { f[14..].to_vec() };
    let (n_out, n_in) = (20, 15);
    for i in 0..n_out {
        let f = frame(i, 200, true);
        l.ip.tx(&[&f]);
        assert_eq!(l.queue.read_packet(Some(WAIT)).unwrap(), read_form(&f));
    }
    for i in 0..n_in {
        let f = frame(100 + i, 300, false);
        l.queue.write(&write_form(&f)).unwrap();
        let got = l.ip.recv(WAIT).expect("IP receives");
        assert_eq!(got[14..], f[14..]);
    }
    let mut seen = (0, 0);
    while let Some((tx, _)) = snoop.recv(Duration::from_millis(200)) {
        if tx { seen.0 += 1 } else { seen.1 += 1 }
    }
    assert_eq!(seen, (n_out, n_in), "snoop -d {name}: (transmitted, received)");
    let after = rig.info(l.id).counters;
    assert_eq!((after.opackets - before.opackets, after.ipackets - before.ipackets), (n_out as u64, n_in as u64));
    snoop.close();
    // maxbw=10M paces IP on the datalink both ways.
    rig.host.set_maxbw(name, Some(MAXBW)).unwrap();
    let frames: Vec<Vec<u8>> = (0..BULK).map(|i| frame(i, PKT, true)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let start = Instant::now();
    l.ip.tx(&refs);
    for f in &frames {
        assert_eq!(l.queue.read_packet(Some(WAIT)).unwrap(), read_form(f));
    }
    let tx_rate = rate(start, Instant::now(), BULK, Plumbed::frame_len(PKT));
    let frames: Vec<Vec<u8>> = (0..BULK).map(|i| frame(i, PKT, false)).collect();
    let (passed, rx_rate) = oversent_rate(
        BULK,
        Plumbed::frame_len(PKT),
        |i| {
            l.queue.write(&write_form(&frames[i])).unwrap();
        },
        || l.ip.recv(Duration::from_millis(300)).map(|f| index_of(&frames, &f)),
    );
    assert_eq!(l.ip.shaped_drops(), BULK as u64 - passed, "every frame toward IP is passed or dropped and counted");
    assert_near(&format!("{name} transmit"), tx_rate);
    assert_near(&format!("{name} receive"), rx_rate);
    // A burst toward IP: dropped beyond the receive SRS's threshold.
    assert_rx_burst_dropped(
        "frame",
        BULK,
        Plumbed::frame_len(PKT),
        |i| {
            l.queue.write(&write_form(&frames[i])).unwrap();
        },
        || l.ip.recv(Duration::from_millis(300)).is_some(),
        || l.ip.shaped_drops(),
    );
    rig.host.set_maxbw(name, None).unwrap();
    drop(l);
    rig.finish();
}

#[test]
fn tun_new_api_same_standard() {
    new_api(false);
}

#[test]
fn tap_new_api_same_standard() {
    new_api(true);
}

// ----- link flows (flowadm): where illumos attaches them -----

/// Send `frames` through IP on the datalink and time their arrival at the
/// daemon; returns bits per second.
fn new_api_rate(l: &LinkInUse, tap: bool, pkts: &[Vec<u8>]) -> f64 {
    let frames: Vec<Vec<u8>> = pkts.iter().map(|p| ether(l.peer_mac, l.ip_mac, 0x0800, p)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let start = Instant::now();
    l.ip.tx(&refs);
    for f in &frames {
        let want = if tap { f.clone() } else { f[14..].to_vec() };
        assert_eq!(l.queue.read_packet(Some(WAIT)).unwrap(), want);
    }
    rate(start, Instant::now(), frames.len(), Plumbed::frame_len(PKT))
}

/// IP on the datalink: a flow on TCP port 5001 with maxbw=10M paces that
/// port only, and flowstat counts exactly its packets.
#[test]
fn new_api_flow_on_tcp_5001_limits_only_that_port() {
    let rig = Rig::new();
    let l = rig.link_in_use("tun8", false);
    let spec = tuntap_sim::FlowSpec { proto: 6, remote_port: FLOW_PORT, maxbw: Some(MAXBW) };
    rig.host.flow_add("tun8", "flow5001", spec.clone()).unwrap();
    assert!(rig.host.flow_add("tun8", "flow5001", spec).is_err(), "a flow name is unique on its link");
    let other: Vec<Vec<u8>> = (0..BULK).map(|i| tcp_packet(i, PKT, 5002)).collect();
    let t0 = Instant::now();
    new_api_rate(&l, false, &other);
    let free = t0.elapsed();
    assert_eq!(rig.host.flow_stats("tun8", "flow5001").unwrap(), (0, 0), "port 5002 is not the flow's");
    let flowed: Vec<Vec<u8>> = (0..BULK).map(|i| tcp_packet(i, PKT, FLOW_PORT)).collect();
    let r = new_api_rate(&l, false, &flowed);
    assert_near("tun8 flow on TCP port 5001", r);
    let (opkts, obytes) = rig.host.flow_stats("tun8", "flow5001").unwrap();
    assert_eq!((opkts, obytes), (BULK as u64, (BULK * Plumbed::frame_len(PKT)) as u64), "flowstat opkts/obytes");
    assert!(free < Duration::from_millis(600), "traffic outside the flow took {free:?}: it was limited");
    rig.host.flow_remove("tun8", "flow5001").unwrap();
    drop(l);
    rig.finish();
}

/// Send `pkts` from OpenVPN's IP (old API) and time their arrival at
/// the daemon; returns bits per second.
fn old_api_rate(p: &Plumbed, pkts: &[Vec<u8>]) -> f64 {
    let start = Instant::now();
    for pkt in pkts {
        p.ip_send(pkt);
    }
    for (i, pkt) in pkts.iter().enumerate() {
        assert_eq!(p.vpn.read_packet(Some(WAIT)).unwrap(), p.as_read(pkt), "packet {i}");
    }
    rate(start, Instant::now(), pkts.len(), Plumbed::frame_len(PKT))
}

/// Issue 13: a flow on an old-API unit's link governs OpenVPN's traffic.
/// `flowadm` attaches link flows to dls's client (`mac_link_flow_add`,
/// mac_flow.c); the old-API stream relays onto a dld stream of the link
/// (tuntap-drv/src/dlpi/relay.rs), so dls's client carries its traffic:
/// a flow on TCP port 5001 with `maxbw=10M` paces that port at 10 Mbit/s
/// ± 15% and `flowstat` counts exactly its packets, while port 5002 runs
/// unlimited.
fn old_api_flow(tap: bool) {
    let rig = Rig::new();
    let spec = tuntap_sim::FlowSpec { proto: 6, remote_port: FLOW_PORT, maxbw: Some(MAXBW) };
    let name = if tap { "tap0" } else { "tun0" };
    let p = openvpn_plumb(&rig, tap);
    assert_eq!(p.name.as_str(), name);
    rig.host.flow_add(p.name.as_str(), "flow5001", spec).unwrap();
    let other: Vec<Vec<u8>> = (0..BULK).map(|i| tcp_packet(i, PKT, 5002)).collect();
    let t0 = Instant::now();
    old_api_rate(&p, &other);
    let free = t0.elapsed();
    assert_eq!(rig.host.flow_stats(p.name.as_str(), "flow5001").unwrap(), (0, 0), "port 5002 is not the flow's");
    let flowed: Vec<Vec<u8>> = (0..BULK).map(|i| tcp_packet(i, PKT, FLOW_PORT)).collect();
    let r = old_api_rate(&p, &flowed);
    let (opkts, obytes) = rig.host.flow_stats(p.name.as_str(), "flow5001").unwrap();
    assert_eq!(
        (opkts, obytes),
        (BULK as u64, (BULK * Plumbed::frame_len(PKT)) as u64),
        "flowstat opkts/obytes of OpenVPN's traffic on the flow's port (the flow must govern old-API traffic)"
    );
    assert_near(&format!("{} old-API flow on TCP port 5001", p.name), r);
    assert!(free < Duration::from_millis(600), "old-API traffic outside the flow took {free:?}: it was limited");
    rig.host.flow_remove(p.name.as_str(), "flow5001").unwrap();
    p.unplumb();
    rig.finish();
}

#[test]
fn tun_old_api_flow_on_tcp_5001_limits_only_that_port() {
    old_api_flow(false);
}

#[test]
fn tap_old_api_flow_on_tcp_5001_limits_only_that_port() {
    old_api_flow(true);
}
