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

use std::time::{Duration, Instant};

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::dlpi::*;
use tuntap_abi as abi;
use tuntap_sim::SimStream;
use tuntap_tests::dlpi::*;
use tuntap_tests::*;

/// `maxbw=10M` (dladm's `M` is 10^6 bits/s).
const MAXBW: u64 = 10_000_000;
/// IP packet size of the bulk transfers.
const PKT: usize = 1400;
/// Packets per bulk transfer: below `MAC_SRS_HIWAT` (1000), so a burst
/// is paced, not dropped; ~0.9 s at 10 Mbit/s.
const BULK: usize = 800;
const TOLERANCE: f64 = 0.15;

/// A unit plumbed the way OpenVPN does it on illumos.
struct Plumbed {
    vpn: SimStream,
    ip: SimStream,
    arp: Option<SimStream>,
    ill: IpIll,
    name: String,
    link: std::sync::Arc<tuntap_drv::link::Link<tuntap_sim::SimKernel>>,
}

/// `TUNNEWPPA` on the daemon's stream; `I_PUSH ip`, `IF_UNITSEL`
/// (`ip_dl_phys`: attach, bind), for tap the ARP stream, then up.
fn openvpn_plumb(rig: &Rig, tap: bool) -> Plumbed {
    let vpn = if tap { rig.open_tap(&rig.root) } else { rig.open_tun(&rig.root) };
    let ppa = vpn.ioctl_istr(abi::TUNNEWPPA, &(-1i32).to_ne_bytes()).unwrap().rval as u32;
    let ip = if tap { rig.open_tap(&rig.root) } else { rig.open_tun(&rig.root) };
    ip_push(&ip);
    let ill = ip_dl_phys(&ip, ppa, SAP_IPV4);
    let arp = tap.then(|| {
        let arp = rig.open_tap(&rig.root);
        arp_ll_up(&arp, ppa);
        arp
    });
    ip_up(&ip, &ill, SAP_IPV4, tap).unwrap();
    let name = format!("{}{ppa}", if tap { "tap" } else { "tun" });
    let link = rig.driver.links().into_iter().find(|l| l.name.as_str() == name).unwrap();
    Plumbed { vpn, ip, arp, ill, name, link }
}

impl Plumbed {
    fn peer(&self) -> [u8; 6] {
        [0x02, 0, 0, 0, 0, 9]
    }

    /// IP sends one packet (DL_UNITDATA_REQ to the peer).
    fn ip_send(&self, pkt: &[u8]) {
        let dest = self.ill.unitdata_dest(&self.peer(), 0x0800);
        self.ip.putmsg_proto(&unitdata_req(&dest), pkt).unwrap();
    }

    /// What the daemon reads for an IP packet `pkt` IP sent.
    fn as_read(&self, pkt: &[u8]) -> Vec<u8> {
        if self.arp.is_some() { ether(self.peer(), self.link.mac(), 0x0800, pkt) } else { pkt.to_vec() }
    }

    /// The daemon writes one IP packet toward IP.
    fn vpn_send(&self, pkt: &[u8]) {
        let w = if self.arp.is_some() { ether(self.link.mac(), self.peer(), 0x0800, pkt) } else { pkt.to_vec() };
        self.vpn.write(&w).unwrap();
    }

    /// Bytes of the Ethernet frame mac carries for an IP packet.
    fn frame_len(pkt: usize) -> usize {
        pkt + 14
    }

    fn unplumb(self) {
        ip_down(&self.ip);
        if let Some(arp) = &self.arp {
            arp_ll_down(arp);
            arp.close();
        }
        self.ip.close();
        self.vpn.close();
    }
}

fn packet(i: usize, len: usize) -> Vec<u8> {
    let mut body = vec![(i % 251) as u8; len - 28];
    body[..8].copy_from_slice(&(i as u64).to_be_bytes());
    udp4([10, 8, 0, 1], [10, 8, 0, 2], 5001, 5001, &body)
}

/// Bits per second from a transfer's first to last arrival.
fn rate(first: Instant, last: Instant, frames: usize, frame_len: usize) -> f64 {
    // The first frame leaves at once; the other n-1 are paced.
    ((frames - 1) * frame_len * 8) as f64 / (last - first).as_secs_f64()
}

fn assert_near(what: &str, got: f64) {
    let lo = MAXBW as f64 * (1.0 - TOLERANCE);
    let hi = MAXBW as f64 * (1.0 + TOLERANCE);
    assert!(
        (lo..=hi).contains(&got),
        "{what}: {:.2} Mbit/s under maxbw=10M, outside ±15% (maxbw must pace the link's primary mac client)",
        got / 1e6
    );
}

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
    for pkt in &pkts {
        p.ip_send(pkt);
    }
    let mut first = None;
    for (i, pkt) in pkts.iter().enumerate() {
        assert_eq!(p.vpn.read_packet(Some(WAIT)).unwrap(), p.as_read(pkt), "paced packet {i}");
        first.get_or_insert_with(Instant::now);
    }
    let tx_rate = rate(first.unwrap(), Instant::now(), BULK, Plumbed::frame_len(PKT));
    // daemon → IP.
    for pkt in &pkts {
        p.vpn_send(pkt);
    }
    let mut first = None;
    for (i, pkt) in pkts.iter().enumerate() {
        assert_eq!(read_unitdata(&p.ip).data, *pkt, "paced packet {i} toward IP");
        first.get_or_insert_with(Instant::now);
    }
    let rx_rate = rate(first.unwrap(), Instant::now(), BULK, Plumbed::frame_len(PKT));
    let c = &rig.host.kernel_clients(p.name.as_str()).unwrap()[0];
    assert_eq!((c.tx_dropped, c.rx_dropped), (0, 0), "a burst under the queue limit is paced, not dropped");
    assert_near(&format!("{} transmit (IP to the daemon)", p.name), tx_rate);
    assert_near(&format!("{} receive (daemon to IP)", p.name), rx_rate);
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
    l.ip.tx(&refs);
    let mut first = None;
    for f in &frames {
        assert_eq!(l.queue.read_packet(Some(WAIT)).unwrap(), read_form(f));
        first.get_or_insert_with(Instant::now);
    }
    let tx_rate = rate(first.unwrap(), Instant::now(), BULK, Plumbed::frame_len(PKT));
    let frames: Vec<Vec<u8>> = (0..BULK).map(|i| frame(i, PKT, false)).collect();
    for f in &frames {
        l.queue.write(&write_form(f)).unwrap();
    }
    let mut first = None;
    for f in &frames {
        let got = l.ip.recv(WAIT).expect("paced frame toward IP");
        assert_eq!(got[14..], f[14..]);
        first.get_or_insert_with(Instant::now);
    }
    let rx_rate = rate(first.unwrap(), Instant::now(), BULK, Plumbed::frame_len(PKT));
    assert_eq!(l.ip.shaped_drops(), 0);
    assert_near(&format!("{name} transmit"), tx_rate);
    assert_near(&format!("{name} receive"), rx_rate);
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
