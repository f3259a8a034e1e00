// SPDX-License-Identifier: MPL-2.0
//! Two daemons joining two links of simulated illumos hosts, the
//! tuntap driver's own code underneath: packets from one host's IP reach
//! the other's, at MTU 1500 and 9000; shutdown detaches the queue and
//! leaves no leak; a link deleted under the daemon stops it (exit 5).
//! Batched writes carry many packets per system call and a batch the
//! driver refuses is counted; a TCP bulk transfer is byte-exact with
//! offload on at both ends, one end or neither; a multi-queue link is
//! read by one worker per queue, each used.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use illumos_sys_hdrs as sys;
use tokio::sync::oneshot;
use tuntap_abi::{self as abi, DatalinkId};
use tuntap_drv::Driver;
use tuntap_drv::ddi::node_minor;
use tuntap_sim::{DlFlags, SimHost, SimKernel};
use tunneld::device::Features;
use tunneld::device::gso::ones_sum;
use tunneld::device::sim::SimDevice;
use tunneld::{Counters, Daemon, Device, ErrorKind, Mode};
use tuntap_sim::{TxOffload, TxOpts};

const WAIT: Duration = Duration::from_secs(10);

struct Host {
    host: SimHost,
    driver: Arc<Driver<SimKernel>>,
    id: DatalinkId,
}

impl Host {
    /// A host with the driver and one tun link `name` of `mtu`.
    fn new(name: &str, mtu: u32) -> Host {
        let host = SimHost::new();
        let driver = Arc::new(Driver::new(host.kernel()));
        host.attach(driver.clone());
        let root = host.root_cred();
        let id = host.dlmgmt_create_id(&root, name, sys::DATALINK_CLASS_MISC, sys::DL_ETHER, DlFlags::ACTIVE).unwrap();
        let ctl = host.open(sys::MAC_PRIVATE_MINOR + node_minor::CTL, &root).unwrap();
        let mut req = abi::TunIocCreate::new(name, abi::create_flags::TUN, id).unwrap();
        req.mtu = mtu;
        ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&req)).expect("create link");
        Host { host, driver, id }
    }

    fn info(&self) -> abi::TunIocInfo {
        let ctl = self.host.open(sys::MAC_PRIVATE_MINOR + node_minor::CTL, &self.host.root_cred()).unwrap();
        let req = abi::TunIocInfo { version: abi::TUN_ABI_VERSION, linkid: self.id, ..Default::default() };
        abi::decode(&ctl.ioctl_istr(abi::TUN_IOC_INFO, abi::as_bytes(&req)).unwrap().data).unwrap()
    }

    fn delete(&self) {
        let ctl = self.host.open(sys::MAC_PRIVATE_MINOR + node_minor::CTL, &self.host.root_cred()).unwrap();
        let del = abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags: abi::delete_flags::FORCE, linkid: self.id, _pad: 0 };
        ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)).expect("delete link");
    }

    /// Delete the link and let the simulator check every rule and leak.
    fn finish(self) {
        self.delete();
        assert!(self.driver.links().is_empty());
        self.host.finish();
    }
}

struct Running {
    counters: Arc<Counters>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), tunneld::Error>>,
}

fn start(rt: &tokio::runtime::Runtime, toml: &str, device: Arc<dyn Device>) -> (Running, Option<std::net::SocketAddr>) {
    let daemon = rt.block_on(Daemon::start(config(toml))).unwrap();
    let addr = daemon.local_addr();
    let counters = daemon.counters();
    let (stop, rx) = oneshot::channel::<()>();
    let task = rt.spawn(daemon.run(device, async {
        let _ = rx.await;
    }));
    (Running { counters, stop, task }, addr)
}

fn stop(rt: &tokio::runtime::Runtime, r: Running) -> Result<(), tunneld::Error> {
    let _ = r.stop.send(());
    rt.block_on(async { tokio::time::timeout(WAIT, r.task).await.expect("stops in time").expect("task") })
}

fn ether(dst: [u8; 6], src: [u8; 6], payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn vpn_between_two_hosts(mtu: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let pki = Pki::new();
    let (a, b) = (Host::new("vpna0", mtu), Host::new("vpnb0", mtu));
    let dev_b = SimDevice::attach(&b.host, "vpnb0", Mode::Tun).unwrap();
    assert_eq!(tunneld::Device::mtu(&dev_b), mtu as usize, "the link's MTU comes from the driver");
    let (server, addr) = start(&rt, &pki.server_toml("server", "vpnb0", "tun", mtu), Arc::new(dev_b));
    let dev_a = Arc::new(SimDevice::attach(&a.host, "vpna0", Mode::Tun).unwrap());
    assert!(dev_a.batched(), "the driver has batched reads (TUN_IOC_BATCH): the daemon uses them");
    let (client, _) = start(&rt, &pki.client_toml("client", &addr.unwrap().to_string(), "vpna0", "tun", mtu), dev_a.clone());
    assert!(wait_until(WAIT, || client.counters.connected_peer().is_some() && server.counters.connected_peer().is_some()));
    assert_eq!(a.info().nqueues, 1);
    assert!(a.info().state_flags & abi::info_flags::LINK_UP != 0);

    let ip_a = a.host.mac_client_open("vpna0").unwrap();
    let ip_b = b.host.mac_client_open("vpnb0").unwrap();
    let peer_a = a.driver.link_by_id(a.id).unwrap().peer_mac;
    let peer_b = b.driver.link_by_id(b.id).unwrap().peer_mac;
    let (addr_a, addr_b) = ([10, 9, 0, 1], [10, 9, 0, 2]);
    let sizes = [20 + 4, 576, 1500, mtu as usize];
    for (seq, &len) in sizes.iter().enumerate() {
        let seq = seq as u32;
        let there = ipv4(addr_a, addr_b, seq, len);
        ip_a.tx(&[&ether(peer_a, ip_a.mac_addr(), &there)]);
        let got = ip_b.recv(WAIT).unwrap_or_else(|| panic!("{len}-byte packet A -> B"));
        assert_eq!(&got[14..], &there[..], "{len}-byte packet A -> B intact");
        let back = ipv4(addr_b, addr_a, seq, len);
        ip_b.tx(&[&ether(peer_b, ip_b.mac_addr(), &back)]);
        let got = ip_a.recv(WAIT).unwrap_or_else(|| panic!("{len}-byte packet B -> A"));
        assert_eq!(&got[14..], &back[..], "{len}-byte packet B -> A intact");
    }
    // A burst queued at once: batched reads hand it over as runs of
    // records; every packet arrives, intact and in order.
    const BURST: u32 = 48;
    let burst: Vec<Vec<u8>> = (0..BURST).map(|i| ether(peer_a, ip_a.mac_addr(), &ipv4(addr_a, addr_b, 100 + i, 200 + i as usize * 7))).collect();
    ip_a.tx(&burst.iter().map(Vec::as_slice).collect::<Vec<_>>());
    for (i, sent) in burst.iter().enumerate() {
        let got = ip_b.recv(WAIT).unwrap_or_else(|| panic!("burst packet {i} A -> B"));
        assert_eq!(&got[14..], &sent[14..], "burst packet {i} intact and in order");
    }
    assert!(dev_a.multi_packet_reads() > 0, "the burst came in reads of several packets");
    let n = sizes.len() as u64 + u64::from(BURST);
    assert_eq!(Counters::get(&client.counters.tx_packets), n);
    assert!(wait_until(WAIT, || Counters::get(&client.counters.rx_packets) == sizes.len() as u64));
    // The driver counted them too: opackets went to the daemon's queue,
    // ipackets came from it.
    let c = a.info().counters;
    assert_eq!((c.opackets, c.ipackets, c.ierrors), (n, sizes.len() as u64, 0));

    ip_a.close();
    ip_b.close();
    stop(&rt, client).expect("client stops cleanly");
    stop(&rt, server).expect("server stops cleanly");
    for h in [&a, &b] {
        let info = h.info();
        assert_eq!(info.nqueues, 0, "the daemon's queue is detached");
        assert_eq!(info.state_flags & abi::info_flags::LINK_UP, 0, "link down without its daemon");
    }
    a.finish();
    b.finish();
}

#[test]
fn vpn_between_two_simulated_hosts_at_mtu_1500() {
    vpn_between_two_hosts(1500);
}

#[test]
fn vpn_between_two_simulated_hosts_at_mtu_9000() {
    vpn_between_two_hosts(9000);
}

#[test]
fn a_link_deleted_under_the_daemon_stops_it_with_exit_code_5() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let pki = Pki::new();
    let a = Host::new("vpna0", 1500);
    let dev = SimDevice::attach(&a.host, "vpna0", Mode::Tun).unwrap();
    let (server, _) = start(&rt, &pki.server_toml("server", "vpna0", "tun", 1500), Arc::new(dev));
    a.delete();
    let err = rt
        .block_on(async { tokio::time::timeout(WAIT, server.task).await })
        .expect("the daemon notices")
        .unwrap()
        .unwrap_err();
    assert_eq!((err.kind, err.exit_code()), (ErrorKind::Device, 5));
    assert!(err.message.contains("link vpna0"), "{}", err.message);
    assert!(a.driver.links().is_empty());
    a.host.finish();
}

#[test]
fn attaching_to_a_missing_link_names_it() {
    let a = Host::new("vpna0", 1500);
    let err = SimDevice::attach(&a.host, "nosuch0", Mode::Tun).err().unwrap();
    assert!(err.starts_with("attach /dev/tun to link nosuch0: errno"), "{err}");
    let err = SimDevice::attach(&a.host, "vpna0", Mode::Tap).err().unwrap();
    assert!(err.starts_with("attach /dev/tap to link vpna0: errno"), "{err}");
    let err = SimDevice::attach(&a.host, "bad-name", Mode::Tun).err().unwrap();
    assert!(err.contains("\"bad-name\""), "{err}");
    a.finish();
}

/// Two hosts, a server daemon on B and a client daemon on A (queues as
/// given), connected; and each host's IP on its link.
struct Pair {
    rt: tokio::runtime::Runtime,
    a: Host,
    b: Host,
    client: Running,
    server: Running,
    ip_a: tuntap_sim::SimMacClient,
    ip_b: tuntap_sim::SimMacClient,
    /// The MAC address IP sends to on A.
    peer_a: [u8; 6],
}

impl Pair {
    fn new(dev_a: impl FnOnce(&SimHost) -> Arc<dyn Device>, dev_b: impl FnOnce(&SimHost) -> Arc<dyn Device>) -> Pair {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let pki = Pki::new();
        let (a, b) = (Host::new("vpna0", 1500), Host::new("vpnb0", 1500));
        let (server, addr) = start(&rt, &pki.server_toml("server", "vpnb0", "tun", 1500), dev_b(&b.host));
        let (client, _) = start(&rt, &pki.client_toml("client", &addr.unwrap().to_string(), "vpna0", "tun", 1500), dev_a(&a.host));
        assert!(wait_until(WAIT, || client.counters.connected_peer().is_some() && server.counters.connected_peer().is_some()));
        let ip_a = a.host.mac_client_open("vpna0").unwrap();
        let ip_b = b.host.mac_client_open("vpnb0").unwrap();
        let peer_a = a.driver.link_by_id(a.id).unwrap().peer_mac;
        Pair { rt, a, b, client, server, ip_a, ip_b, peer_a }
    }

    fn finish(self) {
        self.ip_a.close();
        self.ip_b.close();
        stop(&self.rt, self.client).expect("client stops cleanly");
        stop(&self.rt, self.server).expect("server stops cleanly");
        self.a.finish();
        self.b.finish();
    }
}

/// A queue of link `name` (one of several, `MULTI_QUEUE`).
fn sim_queue(host: &SimHost, name: &str, features: Features) -> Arc<SimDevice> {
    Arc::new(SimDevice::attach_features(host, name, Mode::Tun, abi::attach_flags::MULTI_QUEUE, features).unwrap())
}

#[test]
fn batched_writes_carry_many_packets_per_system_call() {
    let a = Host::new("vpna0", 1500);
    let ip = a.host.mac_client_open("vpna0").unwrap();
    let batched = sim_queue(&a.host, "vpna0", Features::default());
    assert!(batched.batched_writes(), "the driver has batched writes: on by default");
    let packets: Vec<Vec<u8>> = (0..100u32).map(|i| ipv4([10, 9, 0, 2], [10, 9, 0, 1], i, 40 + i as usize * 14)).collect();
    let before = batched.writes();
    let mut done = tunneld::device::Flushed::default();
    for p in &packets {
        done.merge(batched.queue_packet(p));
    }
    done.merge(batched.flush());
    assert_eq!((done.packets, done.lost), (100, 0));
    assert_eq!(batched.writes() - before, 1, "100 packets (~74 KB) in one write");
    for (i, p) in packets.iter().enumerate() {
        let got = ip.recv(WAIT).unwrap_or_else(|| panic!("packet {i}"));
        assert_eq!(&got[14..], &p[..], "packet {i} intact and in order");
    }
    // One packet per write without batching: the same 100 cost 100.
    let plain = sim_queue(&a.host, "vpna0", Features { batch_writes: false, offload: false });
    assert!(!plain.batched_writes());
    for p in &packets {
        plain.queue_packet(p);
    }
    plain.flush();
    assert_eq!(plain.writes(), 100);
    for i in 0..100 {
        ip.recv(WAIT).unwrap_or_else(|| panic!("plain packet {i}"));
    }
    // A packet longer than the queue takes is dropped alone and counted,
    // the batch around it goes.
    let mut done = batched.queue_packet(&packets[0]);
    done.merge(batched.queue_packet(&vec![0x45; 1501]));
    done.merge(batched.queue_packet(&packets[1]));
    done.merge(batched.flush());
    assert_eq!((done.packets, done.lost), (2, 1));
    assert!(format!("{}", done.error.unwrap()).contains("1501-byte packet"));
    assert_eq!(&ip.recv(WAIT).unwrap()[14..], &packets[0][..]);
    assert_eq!(&ip.recv(WAIT).unwrap()[14..], &packets[1][..]);
    // A batch the driver refuses (garbage framing, planted on the queue's
    // stream) is found and reported by a later flush.
    batched.stream().write(&[1, 2, 3]).unwrap();
    let mut refused = tunneld::device::Flushed::default();
    assert!(wait_until(WAIT, || {
        refused.merge(batched.flush());
        refused.refused_batches > 0
    }));
    assert_eq!(refused.refused_batches, 1);
    assert!(format!("{}", refused.error.unwrap()).contains("refused 1 batched writes (last: error 1 at record 0)"));
    assert_eq!(ip.rx_pending(), 0, "nothing of the refused write reached IP");
    drop((batched, plain));
    ip.close();
    a.finish();
}

#[test]
fn the_daemon_writes_bursts_in_batches_and_counts_a_refused_one() {
    let dev_a = std::cell::OnceCell::new();
    let p = Pair::new(
        |h| dev_a.get_or_init(|| sim_queue(h, "vpna0", Features::default())).clone(),
        |h| sim_queue(h, "vpnb0", Features::default()),
    );
    let dev_a = dev_a.into_inner().unwrap();
    let peer_b = p.b.driver.link_by_id(p.b.id).unwrap().peer_mac;
    let burst: Vec<Vec<u8>> = (0..64u32).map(|i| ether(peer_b, p.ip_b.mac_addr(), &ipv4([10, 9, 0, 2], [10, 9, 0, 1], i, 300))).collect();
    let writes = dev_a.writes();
    p.ip_b.tx(&burst.iter().map(Vec::as_slice).collect::<Vec<_>>());
    for (i, sent) in burst.iter().enumerate() {
        let got = p.ip_a.recv(WAIT).unwrap_or_else(|| panic!("burst packet {i} B -> A"));
        assert_eq!(&got[14..], &sent[14..], "burst packet {i} intact and in order");
    }
    let used = dev_a.writes() - writes;
    assert!(used < 64, "64 packets in {used} writes: the receiving daemon batched them");
    // A refused batch on the daemon's queue is counted (and logged).
    dev_a.stream().write(&[1, 2, 3]).unwrap();
    let mut seq = 1000;
    assert!(wait_until(WAIT, || {
        seq += 1;
        p.ip_b.tx(&[&ether(peer_b, p.ip_b.mac_addr(), &ipv4([10, 9, 0, 2], [10, 9, 0, 1], seq, 100))]);
        Counters::get(&p.client.counters.device_batches_refused) == 1
    }));
    drop(dev_a);
    p.finish();
}

/// An IPv4 TCP segment 10.9.0.1:4000 -> 10.9.0.2:5201 carrying
/// `payload` at sequence number `seq`; its checksum full, or the
/// pseudo-header sum IP leaves for offload.
fn tcp4(seq: u32, payload: &[u8], partial: bool) -> Vec<u8> {
    let tcp_len = 20 + payload.len();
    let mut p = ipv4([10, 9, 0, 1], [10, 9, 0, 2], 0, 20 + tcp_len);
    p[9] = 6;
    p[10..12].fill(0);
    let c = !ones_sum(&p[..20], 0);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    let t = &mut p[20..];
    t[0..4].copy_from_slice(&[0x0f, 0xa0, 0x14, 0x51]);
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].fill(0);
    t[12] = 0x50;
    t[13] = 0x18;
    t[20..].copy_from_slice(payload);
    let pseudo = u32::from(ones_sum(&[10, 9, 0, 1, 10, 9, 0, 2], 0)) + 6 + tcp_len as u32;
    let c = if partial { ones_sum(&[], pseudo) } else { !ones_sum(t, pseudo) };
    t[16..18].copy_from_slice(&c.to_be_bytes());
    p
}

fn tcp_checksum_ok(ip: &[u8]) -> bool {
    let pseudo = u32::from(ones_sum(&ip[12..20], 0)) + 6 + (ip.len() - 20) as u32;
    ones_sum(&ip[..20], 0) == 0xffff && ones_sum(&ip[20..], pseudo) == 0xffff
}

/// 1 MiB of TCP from A's IP to B's through the two daemons: with offload
/// on A's queue IP hands over 60 KB segments with partial checksums
/// (the link offers LSO exactly then), otherwise MTU-sized ones; B's IP
/// gets MTU-sized segments with right checksums and the bytes exact.
fn tcp_bulk(offload_a: bool, offload_b: bool) {
    tcp_bulk_writes(offload_a, offload_b, true)
}

/// As [`tcp_bulk`]; with `batch_writes` off: each packet its own write, which on an offloading
/// queue still carries the virtio-net header (tuntap-drv
/// `driver/streams.rs` `handle_data`: every write on a `vnet_hdr` queue).
fn tcp_bulk_writes(offload_a: bool, offload_b: bool, batch_writes: bool) {
    let features = |offload| Features { batch_writes, offload };
    let p = Pair::new(|h| sim_queue(h, "vpna0", features(offload_a)), |h| sim_queue(h, "vpnb0", features(offload_b)));
    let what = format!("offload A {offload_a}, B {offload_b}, batch_writes {batch_writes}");
    let lso = p.a.host.mac_info("vpna0").unwrap().lso.is_some();
    assert_eq!(lso, offload_a, "{what}: the link offers LSO exactly when the daemon's queue takes it");
    const TOTAL: usize = 1 << 20;
    const CHUNK: usize = 60_000;
    const MSS: usize = 1460;
    let data: Vec<u8> = (0..TOTAL).map(|i| ((i * 31) ^ (i >> 9)) as u8).collect();
    let mut got = vec![0u8; TOTAL];
    let (isn, mut received, mut segments) = (7_000u32, 0, 0);
    for (c, chunk) in data.chunks(CHUNK).enumerate() {
        let off = c * CHUNK;
        let frame = |seq: usize, bytes: &[u8], partial| ether(p.peer_a, p.ip_a.mac_addr(), &tcp4(isn + seq as u32, bytes, partial));
        if offload_a {
            let f = frame(off, chunk, true);
            let len = f.len() as u32 - 14;
            let o = TxOffload { partial: Some((20, 36, len)), lso_mss: Some(MSS as u16) };
            p.ip_a.tx_with(&[&f], TxOpts { offload: Some(o), ..TxOpts::default() });
        } else {
            let frames: Vec<Vec<u8>> = chunk.chunks(MSS).enumerate().map(|(i, b)| frame(off + i * MSS, b, false)).collect();
            p.ip_a.tx(&frames.iter().map(Vec::as_slice).collect::<Vec<_>>());
        }
        while received < off + chunk.len() {
            let f = p.ip_b.recv(WAIT).unwrap_or_else(|| panic!("{what}: stalled at byte {received}"));
            let ip = &f[14..];
            assert!(ip.len() <= 1500, "{what}: a {}-byte packet on a 1500-byte link", ip.len());
            assert!(tcp_checksum_ok(ip), "{what}: checksums of the segment at byte {received}");
            let at = u32::from_be_bytes(ip[24..28].try_into().unwrap()).wrapping_sub(isn) as usize;
            assert!(at + ip.len() - 40 <= TOTAL, "{what}: a segment's sequence number ({at}) outside the data sent");
            got[at..at + ip.len() - 40].copy_from_slice(&ip[40..]);
            received += ip.len() - 40;
            segments += 1;
        }
    }
    assert!(got == data, "{what}: every byte arrived exact");
    let want: usize = data.chunks(CHUNK).map(|c| c.len().div_ceil(MSS)).sum();
    assert_eq!(segments, want, "{what}: MSS-sized segments");
    for h in [&p.a, &p.b] {
        let c = h.info().counters;
        assert_eq!((c.ierrors, c.oerrors), (0, 0), "{what}: the driver counted no error");
    }
    for r in [&p.client, &p.server] {
        assert_eq!(Counters::get(&r.counters.device_write_errors) + Counters::get(&r.counters.device_read_errors), 0, "{what}");
    }
    p.finish();
}

#[test]
fn tcp_bulk_is_byte_exact_with_offload_at_both_ends() {
    tcp_bulk(true, true);
}

#[test]
fn tcp_bulk_is_byte_exact_with_offload_at_the_sending_end() {
    tcp_bulk(true, false);
}

#[test]
fn tcp_bulk_is_byte_exact_with_offload_at_the_receiving_end() {
    tcp_bulk(false, true);
}

#[test]
fn tcp_bulk_is_byte_exact_without_offload() {
    tcp_bulk(false, false);
}

#[test]
fn tcp_bulk_is_byte_exact_with_offload_and_one_write_per_packet() {
    tcp_bulk_writes(true, true, false);
}

#[test]
fn a_multi_queue_link_is_read_by_one_worker_per_queue() {
    let queues = std::cell::OnceCell::new();
    let p = Pair::new(
        |h| {
            let (all, each) = SimDevice::attach_queues(h, "vpna0", Mode::Tun, 4, Features::default()).unwrap();
            queues.set(each).ok();
            Arc::new(all)
        },
        |h| sim_queue(h, "vpnb0", Features::default()),
    );
    let queues = queues.into_inner().unwrap();
    assert_eq!(p.a.info().nqueues, 4);
    // 64 flows (source ports), 8 packets each: the driver spreads them.
    let mut sent = 0u64;
    for round in 0..8u32 {
        let frames: Vec<Vec<u8>> = (0..64u16)
            .map(|port| {
                let mut t = tcp4(round * 100, &[port as u8; 100], false);
                t[20..22].copy_from_slice(&(10_000 + port).to_be_bytes());
                let c = {
                    t[36..38].fill(0);
                    let pseudo = u32::from(ones_sum(&t[12..20], 0)) + 6 + 120;
                    !ones_sum(&t[20..], pseudo)
                };
                t[36..38].copy_from_slice(&c.to_be_bytes());
                ether(p.peer_a, p.ip_a.mac_addr(), &t)
            })
            .collect();
        p.ip_a.tx(&frames.iter().map(Vec::as_slice).collect::<Vec<_>>());
        sent += frames.len() as u64;
        for i in 0..frames.len() {
            let got = p.ip_b.recv(WAIT).unwrap_or_else(|| panic!("round {round} packet {i}"));
            assert!(tcp_checksum_ok(&got[14..]));
        }
    }
    assert_eq!(Counters::get(&p.client.counters.tx_packets), sent);
    for (i, q) in queues.iter().enumerate() {
        assert!(q.reads() > 0, "queue {i}'s worker read packets (reads per queue: {:?})", queues.iter().map(|q| q.reads()).collect::<Vec<_>>());
    }
    // Packets back to A go through one queue's writes.
    let peer_b = p.b.driver.link_by_id(p.b.id).unwrap().peer_mac;
    p.ip_b.tx(&[&ether(peer_b, p.ip_b.mac_addr(), &ipv4([10, 9, 0, 2], [10, 9, 0, 1], 1, 200))]);
    assert!(p.ip_a.recv(WAIT).is_some(), "B -> A over the multi-queue link");
    drop(queues);
    p.finish();
}
