// SPDX-License-Identifier: MPL-2.0
//! Many packets per system call (`TUN_IOC_BATCH`, `tuntap_abi::batch`)
//! in the enforcing simulator: batched reads link queued packets into
//! one read of framed records, never over `read_max` and never splitting
//! a record; batched writes deliver every record as its own packet in one
//! `mac_rx` chain; a truncated, oversize or garbage write delivers
//! nothing and is counted with its fault; bad requests are refused; a
//! batch reader and a one-packet reader share a link.

use std::time::Duration;

use tuntap_abi::batch::{self, BatchError, TunIocBatch, batch_flags};
use tuntap_abi::{self as abi, attach_flags, create_flags, mode};
use illumos_sys_hdrs as sys;
use tuntap_sim::SimStream;
use tuntap_tests::{Rig, WAIT, decode, ether, udp4};

fn set_batch(q: &SimStream, flags: u32, read_max: u32) -> Result<TunIocBatch, i32> {
    let req = TunIocBatch { version: abi::TUN_ABI_VERSION, flags, read_max, ..Default::default() };
    q.ioctl_istr(abi::TUN_IOC_BATCH, abi::as_bytes(&req)).map(|r| decode(&r.data))
}

/// Split a batched read into its packets, checking the framing rules.
fn split(buf: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(batch::check_records(buf, batch::RECORD_MAX_LEN).map_err(|e| format!("{e:?}")), Ok(batch::records(buf).count()));
    batch::records(buf).map(|(o, l)| buf[o..o + l].to_vec()).collect()
}

fn batch_of(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut buf = vec![0u8; packets.iter().map(|p| p.len() + 12).sum()];
    let mut at = 0;
    for p in packets {
        at = batch::put_record(&mut buf, at, p).expect("room");
    }
    buf.truncate(at);
    buf
}

struct Tun {
    rig: Rig,
    q: SimStream,
    client: tuntap_sim::SimMacClient,
    peer: [u8; 6],
    ip_mac: [u8; 6],
}

fn tun(extra: u32) -> Tun {
    let rig = Rig::new();
    let id = rig.create("vpn0", create_flags::TUN);
    let q = rig.attach("vpn0", mode::TUN | extra);
    let client = rig.host.mac_client_open("vpn0").expect("client");
    let peer = rig.driver.link_by_id(id).expect("link").peer_mac;
    let ip_mac = client.mac_addr();
    Tun { rig, q, client, peer, ip_mac }
}

impl Tun {
    fn pkt(&self, n: u16, size: usize) -> Vec<u8> {
        udp4([10, 0, 0, 1], [10, 0, 0, 2], 1000 + n, 53, &vec![n as u8; size.saturating_sub(28)])
    }
    fn frame(&self, p: &[u8]) -> Vec<u8> {
        ether(self.peer, self.ip_mac, 0x0800, p)
    }
    fn finish(self) {
        self.client.close();
        self.q.close();
        self.rig.finish();
    }
}

#[test]
fn a_batched_read_returns_a_whole_chain_as_records() {
    let t = tun(0);
    set_batch(&t.q, batch_flags::READ, 0).expect("batch on");
    let pkts: Vec<Vec<u8>> = (0..5).map(|n| t.pkt(n, 61 + n as usize)).collect();
    let frames: Vec<Vec<u8>> = pkts.iter().map(|p| t.frame(p)).collect();
    t.client.tx(&frames.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let mut buf = vec![0u8; batch::READ_MAX_DEFAULT as usize];
    let n = t.q.read(&mut buf, Some(WAIT)).expect("one read");
    assert_eq!(split(&buf[..n]), pkts, "five packets, in order, in one read");
    // Odd lengths: records after the first start 4-aligned, padding zero.
    assert_eq!(t.q.try_read(&mut buf).err(), Some(sys::EAGAIN), "nothing else waiting");
    t.finish();
}

#[test]
fn a_batched_read_never_passes_read_max_nor_splits_a_record() {
    let t = tun(0);
    let read_max = batch::READ_MAX_MIN;
    set_batch(&t.q, batch_flags::READ, read_max).expect("batch on");
    // 200 packets of 1400 bytes: ~280 KB, so at least four reads.
    let pkts: Vec<Vec<u8>> = (0..200).map(|n| t.pkt(n, 1400)).collect();
    let frames: Vec<Vec<u8>> = pkts.iter().map(|p| t.frame(p)).collect();
    t.client.tx(&frames.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let mut got = Vec::new();
    let mut reads = 0;
    let mut buf = vec![0u8; read_max as usize * 2];
    while got.len() < pkts.len() {
        let n = t.q.read(&mut buf, Some(WAIT)).expect("a read");
        assert!(n <= read_max as usize, "a batch of {n} bytes exceeds read_max {read_max}");
        got.extend(split(&buf[..n]));
        reads += 1;
    }
    assert_eq!(got, pkts);
    assert!((4..=8).contains(&reads), "{reads} reads for 200 packets of 1400 bytes in {read_max}-byte batches");
    t.finish();
}

#[test]
fn a_batched_write_delivers_every_record_in_one_chain() {
    let t = tun(0);
    set_batch(&t.q, batch_flags::WRITE, 0).expect("batch on");
    // 60 packets of 1500 bytes: a 90 KB write, more than one packet's
    // SO_MAXPSZ, arrives whole because batched writes raised it.
    let pkts: Vec<Vec<u8>> = (0..60).map(|n| t.pkt(n, 1500 - n as usize)).collect();
    let w = batch_of(&pkts);
    assert!(w.len() > 65_557);
    assert_eq!(t.q.write(&w), Ok(w.len()));
    for p in &pkts {
        let f = t.client.recv(WAIT).expect("frame passed up");
        assert_eq!(f, ether(t.ip_mac, t.peer, 0x0800, p));
    }
    let st = set_batch(&t.q, batch_flags::WRITE, 0).expect("state");
    assert_eq!((st.refused, st.last_error), (0, 0));
    t.finish();
}

#[test]
fn a_bad_batched_write_delivers_nothing_and_says_why() {
    let t = tun(0);
    set_batch(&t.q, batch_flags::WRITE, 0).expect("batch on");
    let pkts: Vec<Vec<u8>> = (0..3).map(|n| t.pkt(n, 100)).collect();
    let good = batch_of(&pkts);
    let rec2 = 2 * (batch::RECORD_HDR_LEN + 100);
    let mut cases: Vec<(&str, Vec<u8>, BatchError, u32)> = vec![
        ("cut inside the last record", good[..good.len() - 1].to_vec(), BatchError::TruncatedRecord, 2),
        ("cut inside the last header", good[..rec2 + 3].to_vec(), BatchError::TruncatedHeader, 2),
    ];
    let mut oversize = good.clone();
    oversize[rec2..rec2 + 4].copy_from_slice(&1501u32.to_ne_bytes());
    oversize.extend(vec![0u8; 1501 - 100]);
    cases.push(("a record over the MTU", oversize, BatchError::Oversize, 2));
    let mut garbage = good.clone();
    garbage[batch::RECORD_HDR_LEN + 100 + 4] = 0xff; // flags of record 1
    cases.push(("reserved flags set", garbage, BatchError::Reserved, 1));
    let mut empty = good.clone();
    empty[..4].fill(0);
    cases.push(("an empty record", empty, BatchError::Empty, 0));
    cases.push(("random bytes", (0..300u32).map(|i| (i * 7919 % 251) as u8).collect(), BatchError::Reserved, 0));
    for (i, (what, w, fault, at)) in cases.into_iter().enumerate() {
        assert_eq!(t.q.write(&w), Ok(w.len()), "{what}: the stream head takes it");
        assert_eq!(t.client.rx_pending(), 0, "{what}: nothing of a refused batch reaches the stack");
        let st = set_batch(&t.q, batch_flags::WRITE, 0).expect("state");
        assert_eq!((st.refused, st.last_error, st.last_record), (i as u32 + 1, fault.code(), at), "{what}");
    }
    let info = t.rig.info(t.rig.driver.links()[0].linkid);
    assert_eq!(info.counters.ierrors, 6, "each refused batch counts as an input error");
    // A good batch still goes through afterwards.
    t.q.write(&good).expect("write");
    for p in &pkts {
        assert_eq!(t.client.recv(WAIT).expect("frame"), ether(t.ip_mac, t.peer, 0x0800, p));
    }
    t.finish();
}

#[test]
fn an_invalid_packet_in_a_good_batch_is_dropped_alone() {
    let t = tun(0);
    set_batch(&t.q, batch_flags::WRITE, 0).expect("batch on");
    let a = t.pkt(1, 80);
    let mut bad = t.pkt(2, 80);
    bad[0] = 0x75; // neither IPv4 nor IPv6
    let c = t.pkt(3, 80);
    t.q.write(&batch_of(&[a.clone(), bad, c.clone()])).expect("write");
    assert_eq!(t.client.recv(WAIT).expect("first"), ether(t.ip_mac, t.peer, 0x0800, &a));
    assert_eq!(t.client.recv(WAIT).expect("third"), ether(t.ip_mac, t.peer, 0x0800, &c));
    assert_eq!(t.client.rx_pending(), 0);
    assert_eq!(set_batch(&t.q, batch_flags::WRITE, 0).expect("state").refused, 0, "not a framing fault");
    t.finish();
}

#[test]
fn bad_batch_requests_are_refused() {
    let t = tun(0);
    let bad = |flags, read_max| set_batch(&t.q, flags, read_max).err();
    assert_eq!(bad(0x80, 0), Some(sys::EINVAL), "unknown flag");
    assert_eq!(bad(batch_flags::READ, batch::READ_MAX_MIN - 1), Some(sys::EINVAL), "read_max too small");
    assert_eq!(bad(batch_flags::READ, batch::READ_MAX_MAX + 1), Some(sys::EINVAL), "read_max too large");
    let mut req = TunIocBatch { version: abi::TUN_ABI_VERSION, flags: batch_flags::READ, refused: 1, ..Default::default() };
    assert_eq!(t.q.ioctl_istr(abi::TUN_IOC_BATCH, abi::as_bytes(&req)).err(), Some(sys::EINVAL), "out fields set");
    req.refused = 0;
    req.version = 99;
    assert_eq!(t.q.ioctl_istr(abi::TUN_IOC_BATCH, abi::as_bytes(&req)).err(), Some(sys::ENOTSUP));
    let ctl = t.rig.open_ctl(&t.rig.root);
    req.version = abi::TUN_ABI_VERSION;
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_BATCH, abi::as_bytes(&req)).err(), Some(sys::EINVAL), "not on the control node");
    ctl.close();
    // Off again: one packet per read.
    set_batch(&t.q, batch_flags::READ, 0).expect("on");
    set_batch(&t.q, 0, 0).expect("off");
    let p = t.pkt(7, 90);
    t.client.tx(&[&t.frame(&p)]);
    assert_eq!(t.q.read_packet(Some(WAIT)).expect("read"), p);
    t.finish();
}

#[test]
fn a_batch_reader_and_a_packet_reader_share_a_link() {
    let rig = Rig::new();
    let id = rig.create("vpn0", create_flags::TUN);
    let qa = rig.attach("vpn0", mode::TUN | attach_flags::MULTI_QUEUE);
    let qb = rig.attach("vpn0", mode::TUN | attach_flags::MULTI_QUEUE | attach_flags::PACKET_INFO);
    set_batch(&qa, batch_flags::READ, 0).expect("batch on qa");
    let client = rig.host.mac_client_open("vpn0").expect("client");
    let peer = rig.driver.link_by_id(id).expect("link").peer_mac;
    let pkts: Vec<Vec<u8>> = (0..64).map(|n| udp4([10, 0, 0, 1], [10, 0, 0, 2], 2000 + n, 53, &[n as u8; 40])).collect();
    let frames: Vec<Vec<u8>> = pkts.iter().map(|p| ether(peer, client.mac_addr(), 0x0800, p)).collect();
    client.tx(&frames.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let mut got = Vec::new();
    let mut buf = vec![0u8; batch::READ_MAX_DEFAULT as usize];
    while let Ok(n) = qa.read(&mut buf, Some(Duration::from_millis(200))) {
        got.extend(split(&buf[..n]));
    }
    let from_a = got.len();
    while let Ok(m) = qb.read_packet(Some(Duration::from_millis(200))) {
        assert_eq!(&m[..4], &[0, 0, 0x08, 0x00], "the other queue keeps its packet-info header");
        got.push(m[4..].to_vec());
    }
    assert!(from_a > 0 && from_a < 64, "flows spread over both queues ({from_a} of 64 on the batch reader)");
    got.sort();
    let mut want = pkts.clone();
    want.sort();
    assert_eq!(got, want, "every packet once, whole, on one queue or the other");
    client.close();
    qa.close();
    qb.close();
    rig.finish();
}

/// Counters stay exact on batched paths: a batched write on a tap link
/// of a unicast, a broadcast and a multicast frame counts three packets,
/// their bytes, one broadcast and one multicast received; a batched read
/// of packets from the stack counts each transmitted once.
#[test]
fn batched_paths_count_every_packet_exactly() {
    let rig = Rig::new();
    let id = rig.create("tap0", create_flags::TAP);
    let q = rig.attach("tap0", mode::TAP);
    set_batch(&q, batch_flags::ALL, 0).expect("batch on");
    let client = rig.host.mac_client_open("tap0").expect("client");
    let link_mac = rig.driver.link_by_id(id).expect("link").mac();
    let src = [0x02, 0, 0, 0, 0, 9];
    let ip = udp4([10, 0, 0, 9], [10, 0, 0, 1], 1000, 53, &[7u8; 100]);
    let frames = vec![
        ether(client.mac_addr(), src, 0x0800, &ip),
        ether([0xff; 6], src, 0x0800, &ip),
        ether([0x01, 0x00, 0x5e, 0, 0, 1], src, 0x0800, &ip),
    ];
    let before = rig.info(id).counters;
    q.write(&batch_of(&frames)).expect("write");
    for _ in 0..3 {
        client.recv(WAIT).expect("frame passed up");
    }
    let after = rig.info(id).counters;
    let bytes: usize = frames.iter().map(Vec::len).sum();
    assert_eq!(after.ipackets - before.ipackets, 3, "{after:?}");
    assert_eq!(after.rbytes - before.rbytes, bytes as u64);
    assert_eq!(after.brdcstrcv - before.brdcstrcv, 1, "one broadcast");
    assert_eq!(after.multircv - before.multircv, 1, "one multicast");
    // And the other way: 40 frames from the stack, read in batches.
    let out: Vec<Vec<u8>> = (0..40u16).map(|i| ether(link_mac, client.mac_addr(), 0x0800, &udp4([10, 0, 0, 1], [10, 0, 0, 9], 2000 + i, 53, &[i as u8; 60]))).collect();
    client.tx(&out.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let mut n = 0;
    let mut buf = vec![0u8; batch::READ_MAX_DEFAULT as usize];
    while n < out.len() {
        let got = q.read(&mut buf, Some(WAIT)).expect("a batch");
        n += split(&buf[..got]).len();
    }
    let end = rig.info(id).counters;
    assert_eq!(end.opackets - after.opackets, 40);
    assert_eq!(end.obytes - after.obytes, out.iter().map(Vec::len).sum::<usize>() as u64);
    client.close();
    q.close();
    rig.finish();
}
