// SPDX-License-Identifier: MPL-2.0
//! Checksum and segmentation offload (`TUN_IOC_OFFLOAD`,
//! `tuntap_abi::offload`) in the enforcing simulator: the link offers
//! `MAC_CAPAB_HCKSUM`/`MAC_CAPAB_LSO` only while every attached reader
//! takes them and goes back to none when such a reader leaves; IP's
//! partial checksums and large segments reach the reader as-is behind a
//! virtio-net header (every metadata combination, tun and tap, IPv4 and
//! IPv6); a written header's checksum request is done and its "valid"
//! vouched for, and every header that does not describe its packet is
//! refused and counted with nothing delivered.

use illumos_sys_hdrs as sys;
use tuntap_abi::offload::{self as off, TunIocOffload, VirtioNetHdr, offload_flags};
use tuntap_abi::{self as abi, attach_flags, create_flags, mode};
use tuntap_sim::{SimMacClient, SimStream, TxOffload, TxOpts};
use tuntap_tests::{Rig, WAIT, decode, ether};

fn set_offload(q: &SimStream, flags: u32) -> Result<TunIocOffload, i32> {
    let req = TunIocOffload { version: abi::TUN_ABI_VERSION, flags, ..Default::default() };
    q.ioctl_istr(abi::TUN_IOC_OFFLOAD, abi::as_bytes(&req)).map(|r| decode(&r.data))
}

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

fn sum(b: &[u8]) -> u32 {
    b.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum()
}

/// A TCP segment in IPv4 or IPv6 with `payload` bytes, its checksum field
/// holding the pseudo-header sum (as IP leaves it for partial offload).
fn tcp(v6: bool, payload: usize) -> Vec<u8> {
    let seg_len = 20 + payload;
    let mut tcp = vec![0u8; seg_len];
    tcp[0..2].copy_from_slice(&4000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&5201u16.to_be_bytes());
    tcp[12] = 0x50;
    tcp[13] = 0x18;
    for (i, b) in tcp[20..].iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    let (mut ip, pseudo) = if v6 {
        let mut ip = vec![0u8; 40];
        ip[0] = 0x60;
        ip[4..6].copy_from_slice(&(seg_len as u16).to_be_bytes());
        ip[6] = 6;
        ip[7] = 64;
        ip[23] = 1;
        ip[39] = 2;
        let p = sum(&ip[8..40]) + 6 + seg_len as u32;
        (ip, p)
    } else {
        let total = 20 + seg_len;
        let mut ip = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        let c = !fold(sum(&ip));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let p = sum(&ip[12..20]) + 6 + seg_len as u32;
        (ip, p)
    };
    tcp[16..18].copy_from_slice(&fold(pseudo).to_be_bytes());
    ip.extend_from_slice(&tcp);
    ip
}

/// Is the TCP checksum of `ip` (an IP packet) right?
fn tcp_checksum_ok(ip: &[u8]) -> bool {
    let v6 = ip[0] >> 4 == 6;
    let (l3, pseudo) = if v6 {
        (40, sum(&ip[8..40]) + 6 + (ip.len() - 40) as u32)
    } else {
        (20, sum(&ip[12..20]) + 6 + (ip.len() - 20) as u32)
    };
    fold(pseudo + sum(&ip[l3..])) == 0xffff
}

struct Link {
    rig: Rig,
    client: SimMacClient,
    peer: [u8; 6],
    tap: bool,
}

fn link(tap: bool) -> Link {
    let rig = Rig::new();
    let id = rig.create("vpn0", if tap { create_flags::TAP } else { create_flags::TUN });
    let client = rig.host.mac_client_open("vpn0").expect("client");
    let peer = rig.driver.link_by_id(id).expect("link").peer_mac;
    Link { rig, client, peer, tap }
}

impl Link {
    fn attach(&self, extra: u32) -> SimStream {
        self.rig.attach("vpn0", (if self.tap { mode::TAP } else { mode::TUN }) | extra)
    }
    fn capab(&self) -> (Option<u32>, Option<(u32, u32)>, u64) {
        let i = self.rig.host.mac_info("vpn0").expect("mac");
        (i.hcksum, i.lso, i.capab_updates)
    }
    /// The frame IP sends for `ip`, and what a reader sees of it.
    fn frames(&self, ip: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let et = if ip[0] >> 4 == 6 { 0x86dd } else { 0x0800 };
        let f = ether(self.peer, self.client.mac_addr(), et, ip);
        let seen = if self.tap { f.clone() } else { ip.to_vec() };
        (f, seen)
    }
    fn finish(self) {
        self.client.close();
        self.rig.finish();
    }
}

#[test]
fn the_link_offers_offload_only_while_every_reader_takes_it() {
    let l = link(false);
    let q1 = l.attach(attach_flags::MULTI_QUEUE);
    assert_eq!(l.capab().0, None, "no offload without an opted-in reader");
    let updates = l.capab().2;
    let st = set_offload(&q1, offload_flags::ALL).expect("offload on");
    assert_eq!((st.link_hcksum, st.link_lso), (1, 3));
    let (hck, lso, n) = l.capab();
    assert_eq!(hck, Some(sys::HCKSUM_INET_PARTIAL));
    assert_eq!(lso.map(|(f, _)| f), Some(sys::LSO_TX_BASIC_TCP_IPV4 | sys::LSO_TX_BASIC_TCP_IPV6));
    assert!(n > updates, "mac was told (mac_capab_update)");
    // A second reader without offload: the link offers none.
    let q2 = l.attach(attach_flags::MULTI_QUEUE);
    assert_eq!((l.capab().0, l.capab().1), (None, None), "a plain reader attached");
    q2.close();
    assert_eq!(l.capab().0, Some(sys::HCKSUM_INET_PARTIAL), "back when it left");
    // Checksums only: no LSO.
    set_offload(&q1, offload_flags::VNET_HDR | offload_flags::CSUM).expect("csum only");
    assert_eq!((l.capab().0.is_some(), l.capab().1), (true, None));
    // The opted-in reader detaches: back to no offload.
    q1.close();
    assert_eq!((l.capab().0, l.capab().1), (None, None), "reader gone, offload gone");
    l.finish();
}

#[test]
fn bad_offload_requests_are_refused() {
    let l = link(false);
    let q = l.attach(0);
    for (flags, what) in [
        (offload_flags::CSUM, "CSUM without the header"),
        (offload_flags::VNET_HDR | offload_flags::TSO4, "TSO without CSUM"),
        (0x100, "unknown bit"),
    ] {
        assert_eq!(set_offload(&q, flags).err(), Some(sys::EINVAL), "{what}");
    }
    let mut req = TunIocOffload { version: abi::TUN_ABI_VERSION, flags: 1, refused: 3, ..Default::default() };
    assert_eq!(q.ioctl_istr(abi::TUN_IOC_OFFLOAD, abi::as_bytes(&req)).err(), Some(sys::EINVAL), "out field set");
    req.refused = 0;
    let ctl = l.rig.open_ctl(&l.rig.root);
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_OFFLOAD, abi::as_bytes(&req)).err(), Some(sys::EINVAL), "control node");
    ctl.close();
    assert_eq!(l.capab().0, None);
    q.close();
    l.finish();
}

fn hdr_of(b: &[u8]) -> VirtioNetHdr {
    decode(&b[..off::VNET_HDR_LEN])
}

#[test]
fn ip_offload_metadata_reaches_the_reader_as_is() {
    for tap in [false, true] {
        let l = link(tap);
        let q = l.attach(0);
        set_offload(&q, offload_flags::ALL).expect("on");
        let l2 = if tap { 14u16 } else { 0 };
        for v6 in [false, true] {
            let l3 = if v6 { 40u16 } else { 20 };
            // (partial, lso mss, payload)
            for (partial, mss, payload) in [(false, None, 100), (true, None, 100), (true, Some(1448u16), 20_000)] {
                let ip = tcp(v6, payload);
                let (f, seen) = l.frames(&ip);
                let o = TxOffload {
                    partial: partial.then_some((u32::from(l3), u32::from(l3) + 16, ip.len() as u32)),
                    lso_mss: mss,
                };
                l.client.tx_with(&[&f], TxOpts { headroom: 32, split: None, offload: Some(o) });
                let got = q.read_packet(Some(WAIT)).expect("read");
                let h = hdr_of(&got);
                let what = format!("tap={tap} v6={v6} partial={partial} mss={mss:?}");
                assert_eq!(&got[off::VNET_HDR_LEN..], &seen[..], "{what}: packet as IP left it");
                let want = match (partial, mss) {
                    (false, _) => VirtioNetHdr::default(),
                    (true, None) => VirtioNetHdr::new(off::VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, l2 + l3, 16),
                    (true, Some(m)) => VirtioNetHdr::new(
                        off::VIRTIO_NET_HDR_F_NEEDS_CSUM,
                        if v6 { off::VIRTIO_NET_HDR_GSO_TCPV6 } else { off::VIRTIO_NET_HDR_GSO_TCPV4 },
                        l2 + l3 + 20,
                        m,
                        l2 + l3,
                        16,
                    ),
                };
                assert_eq!(h, want, "{what}");
                // The reader can finish the checksum from the header.
                if partial {
                    let mut p = seen.clone();
                    assert!(tuntap_drv::frame::finish_checksum(&mut p, usize::from(l2 + l3), usize::from(l2 + l3 + 16)));
                    assert!(tcp_checksum_ok(&p[usize::from(l2)..]), "{what}: checksum finished from the header is right");
                }
            }
        }
        q.close();
        l.finish();
    }
}

#[test]
fn written_headers_are_applied_or_refused_and_counted() {
    let l = link(false);
    let q = l.attach(0);
    set_offload(&q, offload_flags::ALL).expect("on");
    let ip = tcp(false, 100);
    let with = |h: VirtioNetHdr, p: &[u8]| [abi::as_bytes(&h), p].concat();
    let vouched = sys::HCK_FULLCKSUM_OK | sys::HCK_IPV4_HDRCKSUM_OK;
    l.rig.host.take_rx_hcksum("vpn0").expect("mac");
    // Every flag combination with every GSO type.
    let mut refused = 0;
    for flags in 0..=7u8 {
        for gso in [0u8, 1, 3, 4, 0x81, 5] {
            let h = VirtioNetHdr::new(flags, gso, 40, 1448, 20, 16);
            q.write(&with(h, &ip)).expect("write");
            // A TCP/IPv4 large segment (plain or ECN) with its checksum
            // requested is cut (here: into one segment); any other GSO
            // type, or GSO without NEEDS_CSUM, is refused.
            let gso_ok = gso == 0 || ((gso == 1 || gso == 0x81) && flags & 1 != 0);
            let ok = flags & !3 == 0 && gso_ok;
            let what = format!("flags={flags:#x} gso={gso:#x}");
            if !ok {
                refused += 1;
                assert_eq!(l.client.rx_pending(), 0, "{what}: refused, nothing delivered");
                continue;
            }
            let f = l.client.recv(WAIT).expect("delivered");
            let got_ip = &f[14..];
            let hck = l.rig.host.take_rx_hcksum("vpn0").expect("mac");
            if flags & off::VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 {
                assert!(tcp_checksum_ok(got_ip), "{what}: the driver finished the checksum");
            } else {
                assert_eq!(got_ip, &ip[..], "{what}: untouched");
            }
            let want = if flags == 0 && gso == 0 { 0 } else { vouched };
            assert_eq!(hck, vec![want], "{what}: vouched checksums marked verified");
        }
    }
    // Offsets and lengths that do not describe the packet.
    for (h, what) in [
        (VirtioNetHdr::new(1, 0, 0, 0, ip.len() as u16, 0), "csum_start past the end"),
        (VirtioNetHdr::new(1, 0, 0, 0, 20, (ip.len() - 21) as u16), "csum field past the end"),
        (VirtioNetHdr::new(1, 0, 0, 0, 0xfff0, 16), "csum_start far away"),
    ] {
        q.write(&with(h, &ip)).expect("write");
        assert_eq!(l.client.rx_pending(), 0, "{what}: nothing delivered");
        refused += 1;
    }
    q.write(&[1, 0, 0, 0, 0]).expect("short write");
    refused += 1;
    assert_eq!(l.client.rx_pending(), 0, "a header cut short delivers nothing");
    let st = set_offload(&q, offload_flags::ALL).expect("state");
    assert_eq!(st.refused, refused, "each refused header counted on the queue");
    q.close();
    l.finish();
}

#[test]
fn a_written_large_segment_is_cut_into_mtu_sized_packets() {
    for v6 in [false, true] {
        let l = link(false);
        let q = l.attach(0);
        set_offload(&q, offload_flags::ALL).expect("on");
        let payload = 20_000;
        let ip = tcp(v6, payload);
        let l3 = if v6 { 40 } else { 20 };
        let gso = if v6 { off::VIRTIO_NET_HDR_GSO_TCPV6 } else { off::VIRTIO_NET_HDR_GSO_TCPV4 };
        let mut ip_fin = ip.clone();
        ip_fin[l3 + 13] |= 0x01; // FIN: only the last segment keeps it
        let mss = 1500 - l3 - 20;
        let h = VirtioNetHdr::new(off::VIRTIO_NET_HDR_F_NEEDS_CSUM, gso, (l3 + 20) as u16, mss as u16, l3 as u16, 16);
        q.write(&[abi::as_bytes(&h), &ip_fin[..]].concat()).expect("write");
        let n = payload.div_ceil(mss);
        let st = set_offload(&q, offload_flags::ALL).expect("state");
        assert_eq!(st.refused, 0, "v6={v6}: the large segment was taken ({:?})", t_info(&l));
        let mut data = Vec::new();
        for i in 0..n {
            let f = l.client.recv(WAIT).unwrap_or_else(|| panic!("segment {i} of {n}"));
            let seg = &f[14..];
            assert!(seg.len() <= 1500, "segment {i} within the MTU");
            assert!(tcp_checksum_ok(seg), "v6={v6} segment {i}: whole TCP checksum");
            if !v6 {
                assert_eq!(usize::from(u16::from_be_bytes([seg[2], seg[3]])), seg.len(), "IPv4 total length");
                let hs: u32 = seg[..20].chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
                assert_eq!(fold(hs), 0xffff, "IPv4 header checksum");
            } else {
                assert_eq!(usize::from(u16::from_be_bytes([seg[4], seg[5]])), seg.len() - 40, "IPv6 payload length");
            }
            let seq = u32::from_be_bytes(seg[l3 + 4..l3 + 8].try_into().unwrap());
            assert_eq!(seq as usize, i * mss, "sequence number of segment {i}");
            assert_eq!(seg[l3 + 13] & 0x01 != 0, i + 1 == n, "FIN only on the last segment");
            assert_eq!(seg[l3 + 13] & 0x08 != 0, i + 1 == n, "PSH only on the last segment");
            data.extend_from_slice(&seg[l3 + 20..]);
        }
        assert_eq!(&data[..], &ip[l3 + 20..], "the payload, whole and in order");
        assert_eq!(l.client.rx_pending(), 0);
        // Segments that would not fit the MTU, a GSO type for the other IP
        // version, a UDP GSO: refused, nothing delivered.
        for (h, what) in [
            (VirtioNetHdr::new(1, gso, 0, mss as u16 + 1, l3 as u16, 16), "MSS over the MTU"),
            (VirtioNetHdr::new(1, gso, 0, 0, l3 as u16, 16), "MSS of 0"),
            (VirtioNetHdr::new(1, if v6 { 1 } else { 4 }, 0, 1448, l3 as u16, 16), "GSO type of the other IP version"),
            (VirtioNetHdr::new(1, off::VIRTIO_NET_HDR_GSO_UDP, 0, 1448, l3 as u16, 16), "UDP GSO"),
            (VirtioNetHdr::new(0, gso, 0, 1448, 0, 0), "GSO without NEEDS_CSUM"),
        ] {
            let before = set_offload(&q, offload_flags::ALL).expect("state").refused;
            q.write(&[abi::as_bytes(&h), &ip[..]].concat()).expect("write");
            assert_eq!(l.client.rx_pending(), 0, "{what}: nothing delivered");
            assert_eq!(set_offload(&q, offload_flags::ALL).expect("state").refused, before + 1, "{what}: counted");
        }
        q.close();
        l.finish();
    }
}

fn t_info(l: &Link) -> abi::TunCounters {
    l.rig.info(l.rig.driver.links()[0].linkid).counters
}

#[test]
fn packets_in_flight_when_offload_goes_away_are_finished_or_dropped_and_counted() {
    let l = link(false);
    let q = l.attach(0);
    set_offload(&q, offload_flags::ALL).expect("on");
    let lim = abi::TunIocQueueLimits { version: abi::TUN_ABI_VERSION, max_packets: 2, max_bytes: 0, _pad: 0 };
    q.ioctl_istr(abi::TUN_IOC_QUEUE_LIMITS, abi::as_bytes(&lim)).expect("small backlog");
    let big = tcp(false, 60_000);
    let small = tcp(false, 100);
    let (fb, _) = l.frames(&big);
    let (fs, _) = l.frames(&small);
    let lso = TxOffload { partial: Some((20, 36, big.len() as u32)), lso_mss: Some(1460) };
    let partial = TxOffload { partial: Some((20, 36, small.len() as u32)), lso_mss: None };
    // Enough large segments to fill the stream head and the backlog: the
    // rest, and the small packets behind them, wait in mac with their
    // offload metadata.
    let mut n_big = 0u64;
    while l.client.tx_backlog() == 0 {
        assert!(n_big < 200, "the queue never filled");
        l.client.tx_with(&[&fb[..]], TxOpts { headroom: 32, split: None, offload: Some(lso) });
        n_big += 1;
    }
    l.client.tx_with(&vec![&fs[..]; 5], TxOpts { headroom: 32, split: None, offload: Some(partial) });
    assert!(l.client.tx_backlog() >= 6, "frames wait for mac_tx_update");
    let before = t_info(&l);
    set_offload(&q, 0).expect("off");
    assert_eq!((l.capab().0, l.capab().1), (None, None), "no reader takes offload: none offered");
    let mut got = Vec::new();
    while let Ok(p) = q.read_packet(Some(std::time::Duration::from_millis(300))) {
        got.push(p);
    }
    assert_eq!(l.client.tx_backlog(), 0, "mac sent everything it held");
    let with_hdr_big = got.iter().filter(|p| p.len() == big.len() + off::VNET_HDR_LEN).count();
    let plain_small: Vec<_> = got.iter().filter(|p| p.len() == small.len()).collect();
    assert!(!got.iter().any(|p| p.len() == big.len()), "a large segment never reaches a reader without the header");
    assert_eq!(plain_small.len(), 5, "the small packets came after offload went off: plain");
    for p in &plain_small {
        assert!(tcp_checksum_ok(p), "their partial checksums were finished in software");
    }
    let dropped = t_info(&l).norcvbuf - before.norcvbuf;
    assert!(dropped >= 1, "at least one held large segment was dropped (read with header: {with_hdr_big}, counters {:?})", t_info(&l));
    assert_eq!(with_hdr_big as u64 + dropped, n_big, "every large segment read once (with its header) or dropped and counted");
    q.close();
    l.finish();
}

/// A mac from before TCPv6 LSO allocates an 8-byte `mac_capab_lso_t`
/// (`illumos_sys_hdrs::mac_capab_lso_v6_t`): the link offers LSO for
/// IPv4 only, never sets `LSO_TX_BASIC_TCP_IPV6` and writes nothing past
/// the structure (the simulator's guard word; `Rig::finish` fails on the
/// violation).
#[test]
fn on_a_mac_without_tcpv6_lso_only_ipv4_lso_is_offered() {
    let l = link(false);
    l.rig.host.set_mac_lso_ipv6(false);
    let q = l.attach(0);
    let st = set_offload(&q, offload_flags::ALL).expect("on");
    assert_eq!((st.link_hcksum, st.link_lso), (1, 1), "checksums and TCP/IPv4 LSO, not IPv6");
    let (hck, lso, _) = l.capab();
    assert_eq!(hck, Some(sys::HCKSUM_INET_PARTIAL));
    assert_eq!(lso.map(|(f, _)| f), Some(sys::LSO_TX_BASIC_TCP_IPV4));
    // A reader taking TSO6 only: no LSO at all on this mac.
    let st = set_offload(&q, offload_flags::VNET_HDR | offload_flags::CSUM | offload_flags::TSO6).expect("tso6");
    assert_eq!((st.link_hcksum, st.link_lso), (1, 0));
    assert_eq!((l.capab().0.is_some(), l.capab().1), (true, None));
    assert!(l.rig.host.violations().is_empty(), "{:#?}", l.rig.host.violations());
    q.close();
    l.finish();
}

/// Mixed readers: a queue with batching and the virtio-net header next to
/// a plain queue.  The link offers no offload while the plain one is
/// attached; each reader gets packets in its own format (records of
/// header + packet, bare packets), every packet once; a batched write of
/// records with headers finishes a checksum, drops a bad header alone
/// (counted as an offload refusal, not a framing one) and cuts a large
/// segment; offload comes when the plain reader leaves and goes with the
/// last opted-in one.
#[test]
fn a_batching_offload_reader_and_a_plain_reader_share_a_link() {
    use std::time::Duration;
    use tuntap_abi::batch::{self, TunIocBatch, batch_flags};
    let l = link(false);
    let qa = l.attach(attach_flags::MULTI_QUEUE);
    let qb = l.attach(attach_flags::MULTI_QUEUE);
    set_offload(&qa, offload_flags::ALL).expect("offload on qa");
    let batch_state = || {
        let req = TunIocBatch { version: abi::TUN_ABI_VERSION, flags: batch_flags::ALL, ..Default::default() };
        decode::<TunIocBatch>(&qa.ioctl_istr(abi::TUN_IOC_BATCH, abi::as_bytes(&req)).expect("batch on qa").data)
    };
    batch_state();
    assert_eq!((l.capab().0, l.capab().1), (None, None), "a plain reader shares the link: no offload offered");
    // 64 TCP flows from IP (no offload metadata: none is offered).
    let pkts: Vec<Vec<u8>> = (0..64u16)
        .map(|i| {
            let mut p = tcp(false, 40 + usize::from(i));
            p[20..22].copy_from_slice(&(6000 + i).to_be_bytes());
            p
        })
        .collect();
    let frames: Vec<Vec<u8>> = pkts.iter().map(|p| l.frames(p).0).collect();
    let c0 = t_info(&l);
    l.client.tx(&frames.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let mut got = Vec::new();
    let mut buf = vec![0u8; batch::READ_MAX_DEFAULT as usize];
    while let Ok(n) = qa.read(&mut buf, Some(Duration::from_millis(200))) {
        assert_eq!(batch::check_records(&buf[..n], batch::RECORD_MAX_LEN), Ok(batch::records(&buf[..n]).count()));
        for (o, len) in batch::records(&buf[..n]) {
            let rec = &buf[o..o + len];
            assert_eq!(hdr_of(rec), VirtioNetHdr::default(), "a plain packet's header says nothing");
            got.push(rec[off::VNET_HDR_LEN..].to_vec());
        }
    }
    let from_a = got.len();
    while let Ok(p) = qb.read_packet(Some(Duration::from_millis(200))) {
        got.push(p);
    }
    assert!(from_a > 0 && from_a < 64, "flows spread over both queues ({from_a} of 64 on the offload reader)");
    got.sort();
    let mut want = pkts.clone();
    want.sort();
    assert_eq!(got, want, "every packet once, whole, on one queue or the other");
    let c1 = t_info(&l);
    assert_eq!(c1.opackets - c0.opackets, 64, "each packet counted once, batched or not");
    // Bytes as handed to each reader: the IP packet, and the header on
    // the offload queue.
    let bytes = pkts.iter().map(Vec::len).sum::<usize>() + from_a * off::VNET_HDR_LEN;
    assert_eq!(c1.obytes - c0.obytes, bytes as u64);

    // A batched write of records with headers.
    let small = tcp(false, 100);
    let big = tcp(false, 3000);
    let rec = |h: VirtioNetHdr, p: &[u8]| [abi::as_bytes(&h), p].concat();
    let records = [
        rec(VirtioNetHdr::new(off::VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 20, 16), &small),
        rec(VirtioNetHdr::new(0x40, 0, 0, 0, 0, 0), &small),
        rec(VirtioNetHdr::new(off::VIRTIO_NET_HDR_F_NEEDS_CSUM, off::VIRTIO_NET_HDR_GSO_TCPV4, 40, 1460, 20, 16), &big),
    ];
    let mut w = vec![0u8; records.iter().map(|r| r.len() + 12).sum()];
    let mut at = 0;
    for r in &records {
        at = batch::put_record(&mut w, at, r).expect("room");
    }
    w.truncate(at);
    let refused_before = set_offload(&qa, offload_flags::ALL).expect("state").refused;
    assert_eq!(qa.write(&w), Ok(w.len()));
    let first = l.client.recv(WAIT).expect("the checksummed packet");
    assert!(tcp_checksum_ok(&first[14..]), "checksum finished");
    let mut payload = Vec::new();
    for i in 0..3 {
        let seg = l.client.recv(WAIT).unwrap_or_else(|| panic!("segment {i}"));
        assert!(seg.len() - 14 <= 1500 && tcp_checksum_ok(&seg[14..]), "segment {i}");
        payload.extend_from_slice(&seg[14 + 40..]);
    }
    assert_eq!(&payload[..], &big[40..], "the large segment's payload, whole and in order");
    assert_eq!(l.client.rx_pending(), 0, "the bad header's packet was dropped");
    assert_eq!(set_offload(&qa, offload_flags::ALL).expect("state").refused, refused_before + 1, "counted as a bad header");
    assert_eq!(batch_state().refused, 0, "not a framing fault");
    let c2 = t_info(&l);
    assert_eq!(c2.ipackets - c1.ipackets, 4, "the packet and the three segments, each counted");
    assert_eq!(c2.ierrors - c1.ierrors, 1, "the bad header, counted once");

    qb.close();
    assert_eq!(l.capab().0, Some(sys::HCKSUM_INET_PARTIAL), "the plain reader left: offload offered");
    qa.close();
    assert_eq!((l.capab().0, l.capab().1), (None, None), "the opted-in reader left: none");
    l.finish();
}
