// SPDX-License-Identifier: MPL-2.0
//! Units plumbed the way OpenVPN does it on illumos (`old_api_ip.rs`,
//! `old_api_rx_filter.rs`, and kloader's scenarios on the loaded
//! objects), and rate measurement for `maxbw` (issue 13 tests:
//! `old_api_mac.rs`, `traffic_maxbw.rs`).

use std::time::Instant;

use tuntap_abi as abi;
use tuntap_sim::SimStream;

use crate::dlpi::*;
use crate::*;

/// `maxbw=10M` (dladm's `M` is 10^6 bits/s).
pub const MAXBW: u64 = 10_000_000;
/// IP packet size of the bulk transfers.
pub const PKT: usize = 1400;
/// Packets per bulk transfer: below `MAC_SRS_HIWAT` (1000), so a
/// transmit burst is paced, not dropped; ~0.9 s at 10 Mbit/s.  (Receive
/// keeps far less: see `RX_OVERSEND`.)
pub const BULK: usize = 800;
pub const TOLERANCE: f64 = 0.15;

/// The streams of a unit plumbed the way OpenVPN does it on illumos
/// (`open_tun`, its illumos branch): the daemon's stream that made unit
/// `ppa`, IP's stream (`ip` pushed) and, for tap, ARP's.  The simulator
/// tests and the scenarios on the loaded objects (kloader, which has this
/// crate as a dev-dependency) replay the same steps, so they live here.
pub struct OpenVpnStreams {
    pub vpn: SimStream,
    pub ppa: u32,
    pub ip: SimStream,
    pub ill: IpIll,
    pub arp: Option<SimStream>,
}

/// OpenVPN's first ioctl on the daemon's stream: `TUNNEWPPA(-1)` makes
/// the lowest free unit; returns its PPA.
pub fn new_ppa(vpn: &SimStream) -> u32 {
    vpn.ioctl_istr(abi::TUNNEWPPA, &(-1i32).to_ne_bytes()).expect("TUNNEWPPA(-1)").rval as u32
}

/// `TUNNEWPPA` on the daemon's stream; `I_PUSH ip`, `IF_UNITSEL`
/// (`ip_dl_phys`: attach, bind), for tap the ARP stream, then up.
/// `open` opens `/dev/tap` when `tap`, else `/dev/tun`.
pub fn openvpn_streams(open: impl Fn() -> SimStream, tap: bool) -> OpenVpnStreams {
    let vpn = open();
    let ppa = new_ppa(&vpn);
    let ip = open();
    ip_push(&ip);
    let ill = ip_dl_phys(&ip, ppa, SAP_IPV4);
    let arp = tap.then(|| {
        let arp = open();
        arp_ll_up(&arp, ppa);
        arp
    });
    if let Err(why) = ip_up(&ip, &ill, SAP_IPV4, tap) {
        panic!("IP cannot bring unit {ppa} up: {why}");
    }
    OpenVpnStreams { vpn, ppa, ip, ill, arp }
}

impl OpenVpnStreams {
    /// `dev tun`: IP sends to its peer with the address `ill_dlur_gen`
    /// builds (the 2-byte SAP alone) and the daemon reads the bare
    /// packet; the daemon writes one and IP gets a `DL_UNITDATA_IND`
    /// with addresses in the format it was told.
    pub fn tun_exchange(&self) {
        let out = udp4([10, 8, 0, 1], [10, 8, 0, 2], 1194, 1194, b"to the peer");
        let dest = self.ill.unitdata_dest(&[0; 6], 0x0800);
        assert_eq!(dest.len(), 2);
        self.ip.putmsg_proto(&unitdata_req(&dest), &out).unwrap();
        assert_eq!(self.vpn.read_packet(Some(WAIT)).unwrap(), out);
        let back = udp4([10, 8, 0, 2], [10, 8, 0, 1], 1194, 1194, b"from the peer");
        self.vpn.write(&back).unwrap();
        let ind = read_unitdata(&self.ip);
        assert_eq!((ind.dst.len(), ind.src.len()), (self.ill.dlsap_len(), self.ill.dlsap_len()));
        assert_eq!(ind.dst, 0x0800u16.to_ne_bytes());
        assert!(!ind.group);
        assert_eq!(ind.data, back);
    }

    /// `dev tap` between the unit (MAC `own`) and `peer`: the peer asks
    /// who has our address and ARP hears it (broadcast, to its SAP), ARP
    /// answers through its stream and the daemon reads an ARP frame to the
    /// peer; IP unicast to us reaches IP; IP sends to the neighbour ARP
    /// resolved and the daemon reads a whole Ethernet frame.
    pub fn tap_exchange(&self, own: [u8; 6], peer: [u8; 6]) {
        let arp = self.arp.as_ref().expect("a tap unit's ARP stream");
        let who_has = arp_request(peer, [10, 1, 0, 9], [10, 1, 0, 1]);
        self.vpn.write(&who_has).unwrap();
        let ind = read_unitdata(arp);
        assert_eq!((ind.dst[..6].to_vec(), ind.src[..6].to_vec(), ind.group), (vec![0xff; 6], peer.to_vec(), true));
        assert_eq!(&ind.dst[6..], &0x0806u16.to_ne_bytes());
        assert_eq!(ind.data, who_has[14..]);
        let reply = vec![0u8; 28];
        arp.putmsg_proto(&unitdata_req(&self.ill.unitdata_dest(&peer, 0x0806)), &reply).unwrap();
        assert_eq!(self.vpn.read_packet(Some(WAIT)).unwrap(), ether(peer, own, 0x0806, &reply));
        let pkt = udp4([10, 1, 0, 9], [10, 1, 0, 1], 5, 6, b"unicast");
        self.vpn.write(&ether(own, peer, 0x0800, &pkt)).unwrap();
        let ind = read_unitdata(&self.ip);
        assert_eq!((ind.dst[..6].to_vec(), ind.data.clone(), ind.group), (own.to_vec(), pkt, false));
        let out = udp4([10, 1, 0, 1], [10, 1, 0, 9], 6, 5, b"eth");
        self.ip.putmsg_proto(&unitdata_req(&self.ill.unitdata_dest(&peer, 0x0800)), &out).unwrap();
        assert_eq!(self.vpn.read_packet(Some(WAIT)).unwrap(), ether(peer, own, 0x0800, &out));
    }

    /// Teardown as OpenVPN's `close_tun`: ARP's close waits for its
    /// unbind ack (`arp_modclose`); IP unbinds (`ill_dl_down`, it never
    /// detaches) and closes; then the daemon's stream.
    pub fn unplumb(self) {
        if let Some(arp) = self.arp {
            arp_ll_down(&arp);
            arp.close();
        }
        ip_down(&self.ip);
        self.ip.close();
        self.vpn.close();
    }
}

/// A unit plumbed the way OpenVPN does it on illumos, with its name and
/// link.
pub struct Plumbed {
    pub vpn: SimStream,
    pub ppa: u32,
    pub ip: SimStream,
    pub arp: Option<SimStream>,
    pub ill: IpIll,
    pub name: String,
    pub link: std::sync::Arc<tuntap_drv::link::Link<tuntap_sim::SimKernel>>,
}

/// [`openvpn_streams`] on the simulated host.
pub fn openvpn_plumb(rig: &Rig, tap: bool) -> Plumbed {
    let OpenVpnStreams { vpn, ppa, ip, ill, arp } =
        openvpn_streams(|| if tap { rig.open_tap(&rig.root) } else { rig.open_tun(&rig.root) }, tap);
    let name = format!("{}{ppa}", if tap { "tap" } else { "tun" });
    let link = rig.driver.links().into_iter().find(|l| l.name.as_str() == name).unwrap();
    Plumbed { vpn, ppa, ip, arp, ill, name, link }
}

impl Plumbed {
    pub fn peer(&self) -> [u8; 6] {
        [0x02, 0, 0, 0, 0, 9]
    }

    /// IP sends one packet (DL_UNITDATA_REQ to the peer).
    pub fn ip_send(&self, pkt: &[u8]) {
        let dest = self.ill.unitdata_dest(&self.peer(), 0x0800);
        self.ip.putmsg_proto(&unitdata_req(&dest), pkt).unwrap();
    }

    /// What the daemon reads for an IP packet `pkt` IP sent.
    pub fn as_read(&self, pkt: &[u8]) -> Vec<u8> {
        if self.arp.is_some() { ether(self.peer(), self.link.mac(), 0x0800, pkt) } else { pkt.to_vec() }
    }

    /// The daemon writes one IP packet toward IP.
    pub fn vpn_send(&self, pkt: &[u8]) {
        let w = if self.arp.is_some() { ether(self.link.mac(), self.peer(), 0x0800, pkt) } else { pkt.to_vec() };
        self.vpn.write(&w).unwrap();
    }

    /// Bytes of the Ethernet frame mac carries for an IP packet.
    pub fn frame_len(pkt: usize) -> usize {
        pkt + 14
    }

    pub fn unplumb(self) {
        let Plumbed { vpn, ppa, ip, arp, ill, .. } = self;
        OpenVpnStreams { vpn, ppa, ip, ill, arp }.unplumb();
    }
}

pub fn packet(i: usize, len: usize) -> Vec<u8> {
    let mut body = vec![(i % 251) as u8; len - 28];
    body[..8].copy_from_slice(&(i as u64).to_be_bytes());
    udp4([10, 8, 0, 1], [10, 8, 0, 2], 5001, 5001, &body)
}

/// Bits per second of a paced transfer: from `start` (just before the
/// first frame was sent, which leaves at once) to the last arrival; the
/// other n-1 frames are paced.  A late first arrival cannot shorten the
/// window, and a late last one only lengthens it by its own delay.
pub fn rate(start: Instant, last: Instant, frames: usize, frame_len: usize) -> f64 {
    ((frames - 1) * frame_len * 8) as f64 / (last - start).as_secs_f64()
}

/// How much faster than `MAXBW` a receive measurement sends: the
/// receive SRS then always has frames waiting (it holds
/// `tuntap_sim::rx_drop_threshold` bytes, 25,000 at 10M, and drops the
/// excess, as on illumos), so what reaches IP leaves at the limit even
/// when the sending thread wakes up late.
pub const RX_OVERSEND: f64 = 1.25;

/// Send `n` frames (`send(i)`) on a thread of their own at
/// `RX_OVERSEND` × `MAXBW`, catching up after late wake-ups, while
/// `recv` takes what arrives (`None` when nothing comes within its
/// timeout) and reports the index of the frame it got.  Frames arrive in
/// order, some missing (dropped by the SRS).  Returns how many arrived
/// and their rate from the first send to the last arrival.
pub fn oversent_rate(
    n: usize,
    frame_len: usize,
    send: impl Fn(usize) + Sync,
    mut recv: impl FnMut() -> Option<usize>,
) -> (u64, f64) {
    let gap = std::time::Duration::from_secs_f64(frame_len as f64 * 8.0 / (MAXBW as f64 * RX_OVERSEND));
    let start = Instant::now();
    let mut got = 0u64;
    let mut last = start;
    let mut prev: Option<usize> = None;
    std::thread::scope(|t| {
        t.spawn(|| {
            for i in 0..n {
                let due = start + gap * i as u32;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                send(i);
            }
        });
        while let Some(i) = recv() {
            assert!(prev.is_none_or(|p| i > p), "frame {i} after frame {prev:?}: out of order");
            prev = Some(i);
            got += 1;
            last = Instant::now();
        }
    });
    (got, rate(start, last, got as usize, frame_len))
}

/// Most frames of a burst sent in `took` that a receive SRS under
/// `MAXBW` can pass: what it holds (`rx_drop_threshold`) plus what left
/// at the rate meanwhile, plus the one that left at once.
pub fn rx_burst_bound(took: std::time::Duration, frame_len: usize) -> u64 {
    let held = tuntap_sim::rx_drop_threshold(MAXBW) / frame_len as u64;
    let left = (took.as_secs_f64() * MAXBW as f64 / 8.0 / frame_len as f64).ceil() as u64;
    held + left + 1
}

/// A burst of `n` frames toward IP under `MAXBW`, written as fast as
/// the writer can (`send(i)`): the receive SRS holds two ticks' worth of
/// bytes and drops the rest (mac_sched.c `mac_rx_srs_process`), and
/// nothing pushes back on the writer.  `recv` takes one arrival (`false`
/// when nothing comes within its timeout); `drops` reads the link's
/// shaped-drop counter.  Asserts that at most `rx_burst_bound` passed and
/// that every `unit` ("packet", "frame") of the burst was passed or
/// dropped and counted.
pub fn assert_rx_burst_dropped(
    unit: &str,
    n: usize,
    frame_len: usize,
    mut send: impl FnMut(usize),
    mut recv: impl FnMut() -> bool,
    drops: impl Fn() -> u64,
) {
    let dropped0 = drops();
    let t = Instant::now();
    for i in 0..n {
        send(i);
    }
    let took = t.elapsed();
    let mut passed = 0u64;
    while recv() {
        passed += 1;
    }
    assert!(
        passed <= rx_burst_bound(took, frame_len),
        "{passed} of a {n}-{unit} burst passed a 10M receive SRS in {took:?}: it holds only twice the bytes of a tick (mac_bw_drop_threshold)"
    );
    assert_eq!(drops() - dropped0, n as u64 - passed, "every {unit} of the burst is passed or dropped and counted");
}

pub fn assert_near(what: &str, got: f64) {
    let lo = MAXBW as f64 * (1.0 - TOLERANCE);
    let hi = MAXBW as f64 * (1.0 + TOLERANCE);
    eprintln!("{what}: {:.2} Mbit/s", got / 1e6);
    assert!(
        (lo..=hi).contains(&got),
        "{what}: {:.2} Mbit/s under maxbw=10M, outside ±15% (maxbw must pace the link's primary mac client)",
        got / 1e6
    );
}


/// The TCP port of the flow tests (iperf's default).
pub const FLOW_PORT: u16 = 5001;

/// An IPv4 TCP segment (20-byte header, no options) of `len` IP bytes to
/// `dport`; the payload carries `i`.
pub fn tcp_packet(i: usize, len: usize, dport: u16) -> Vec<u8> {
    let mut t = vec![0u8; len - 20];
    t[0..2].copy_from_slice(&40000u16.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[12] = 5 << 4; // data offset: 5 words
    t[13] = 0x18; // PSH, ACK
    t[20..28].copy_from_slice(&(i as u64).to_be_bytes());
    ipv4_packet([10, 8, 0, 1], [10, 8, 0, 2], 6, &t)
}
