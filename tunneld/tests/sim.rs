// SPDX-License-Identifier: MPL-2.0
//! Two daemons joining two links of simulated illumos hosts, the
//! tuntap driver's own code underneath: packets from one host's IP reach
//! the other's, at MTU 1500 and 9000; shutdown detaches the queue and
//! leaves no leak; a link deleted under the daemon stops it (exit 5).

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
use tunneld::device::sim::SimDevice;
use tunneld::{Counters, Daemon, ErrorKind, Mode};

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

fn start(rt: &tokio::runtime::Runtime, toml: &str, device: impl Into<Arc<SimDevice>>) -> (Running, Option<std::net::SocketAddr>) {
    let device: Arc<SimDevice> = device.into();
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
    let (server, addr) = start(&rt, &pki.server_toml("server", "vpnb0", "tun", mtu), dev_b);
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
    let (server, _) = start(&rt, &pki.server_toml("server", "vpna0", "tun", 1500), dev);
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
