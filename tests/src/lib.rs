// SPDX-License-Identifier: MPL-2.0
//! Test rig: the tuntap driver attached to a simulated illumos host, with
//! the steps userland takes (dlmgmtd id, control ioctl, attach) as
//! helpers.

use std::sync::Arc;
use std::time::Duration;

use illumos_sys_hdrs as sys;
use tuntap_abi::{self as abi, DatalinkId, Pod};
use tuntap_drv::ddi::node_minor;
use tuntap_drv::Driver;
use tuntap_sim::{DlFlags, SimCred, SimHost, SimKernel, SimStream};

pub use tuntap_sim;

pub mod datapath;
pub mod dlpi;
pub mod oldapi;

pub const WAIT: Duration = Duration::from_secs(5);

pub struct Rig {
    pub host: SimHost,
    pub driver: Arc<Driver<SimKernel>>,
    pub root: SimCred,
}

impl Default for Rig {
    fn default() -> Self {
        Self::new()
    }
}

impl Rig {
    /// A host for one test, with the test time limit
    /// ([`tuntap_sim::TEST_TIME_LIMIT`]): a hung driver ends the test
    /// process with the rules broken so far instead of hanging the suite.
    pub fn new() -> Self {
        let rig = Self::without_time_limit();
        rig.host.set_time_limit(tuntap_sim::TEST_TIME_LIMIT);
        rig
    }

    /// A host with no time limit (benchmarks and demos that run long).
    pub fn without_time_limit() -> Self {
        let host = SimHost::new();
        let driver = Arc::new(Driver::new(host.kernel()));
        host.attach(driver.clone());
        let root = host.root_cred();
        Rig { host, driver, root }
    }

    pub fn node(&self, node: u32) -> u32 {
        sys::MAC_PRIVATE_MINOR + node
    }

    pub fn open_ctl(&self, cred: &SimCred) -> SimStream {
        self.host.open(self.node(node_minor::CTL), cred).expect("open control node")
    }

    pub fn open_tun(&self, cred: &SimCred) -> SimStream {
        self.host.open(self.node(node_minor::TUN), cred).expect("open /dev/tun")
    }

    pub fn open_tap(&self, cred: &SimCred) -> SimStream {
        self.host.open(self.node(node_minor::TAP), cred).expect("open /dev/tap")
    }

    /// What libdladm does: a MISC/Ether link id from dlmgmtd.
    pub fn link_id(&self, cred: &SimCred, name: &str) -> DatalinkId {
        self.host
            .dlmgmt_create_id(cred, name, sys::DATALINK_CLASS_MISC, sys::DL_ETHER, DlFlags::ACTIVE)
            .expect("dlmgmtd link id")
    }

    /// Create a link through the control node; returns its id.
    pub fn create(&self, name: &str, flags: u32) -> DatalinkId {
        let id = self.link_id(&self.root, name);
        let ctl = self.open_ctl(&self.root);
        let req = abi::TunIocCreate::new(name, flags, id).expect("name");
        ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&req)).expect("create");
        id
    }

    /// Attach a fresh queue of the right node to `name`.
    pub fn attach(&self, name: &str, flags: u32) -> SimStream {
        let s = if flags & abi::mode::TAP != 0 { self.open_tap(&self.root) } else { self.open_tun(&self.root) };
        let req = abi::TunIocAttach::new(name, flags).expect("name");
        s.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&req)).expect("attach");
        s
    }

    /// Delete every link left (as an administrator would before unloading
    /// the driver), check the driver may detach, then let the host check
    /// every rule and leak.
    pub fn finish(self) {
        let ctl = self.open_ctl(&self.root);
        for link in self.driver.links() {
            let del = abi::TunIocDelete {
                version: abi::TUN_ABI_VERSION,
                flags: abi::delete_flags::FORCE,
                linkid: link.linkid,
                _pad: 0,
            };
            ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)).expect("delete at teardown");
        }
        ctl.close();
        assert!(self.driver.links().is_empty());
        self.host.finish();
    }

    /// A tun or tap link `name` with one queue attached and IP (a mac
    /// client) on top: the setup most packet-path tests start from.
    pub fn link_in_use(&self, name: &str, tap: bool) -> LinkInUse {
        let id = self.create(name, if tap { abi::create_flags::TAP } else { abi::create_flags::TUN });
        let queue = self.attach(name, if tap { abi::mode::TAP } else { abi::mode::TUN });
        let ip = self.host.mac_client_open(name).expect("mac client on the link");
        let link = self.driver.link_by_id(id).expect("the link just created");
        LinkInUse { id, ip_mac: ip.mac_addr(), peer_mac: link.peer_mac, queue, ip, link }
    }

    pub fn info(&self, id: DatalinkId) -> abi::TunIocInfo {
        let ctl = self.open_ctl(&self.root);
        let req = abi::TunIocInfo { version: abi::TUN_ABI_VERSION, linkid: id, ..Default::default() };
        let r = ctl.ioctl_istr(abi::TUN_IOC_INFO, abi::as_bytes(&req)).expect("info");
        decode(&r.data)
    }
}

/// What [`Rig::link_in_use`] sets up.
pub struct LinkInUse {
    pub id: DatalinkId,
    /// The attached queue (the VPN daemon's fd).
    pub queue: SimStream,
    /// IP on the link.
    pub ip: tuntap_sim::SimMacClient,
    pub link: Arc<tuntap_drv::link::Link<SimKernel>>,
    /// IP's unicast address and the tun peer's address.
    pub ip_mac: [u8; 6],
    pub peer_mac: [u8; 6],
}

pub fn decode<T: Pod>(bytes: &[u8]) -> T {
    abi::decode::<T>(bytes).expect("reply of the right size")
}

// ----- packets -----

pub fn ipv4_packet(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0, 0, 64, proto, 0, 0];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let sum = checksum(&p);
    p[10] = (sum >> 8) as u8;
    p[11] = sum as u8;
    p.extend_from_slice(payload);
    p
}

pub fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    ipv4_packet(src, dst, 17, &u)
}

pub fn ipv6_packet(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next, 64]);
    p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    p.extend_from_slice(payload);
    p
}

pub fn ether(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An 802.1Q frame of `len` bytes (VLAN `vid`, ethertype 0x88b5, local
/// experimental, inside), filled with `mark`.
pub fn vlan_frame(dst: [u8; 6], src: [u8; 6], vid: u16, mark: u8, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&0x8100u16.to_be_bytes());
    f.extend_from_slice(&vid.to_be_bytes());
    f.extend_from_slice(&0x88b5u16.to_be_bytes());
    f.resize(len, mark);
    f
}

/// Wait for the tagged frame `sent` (a [`vlan_frame`]) from `src` on
/// `rx`, skipping other traffic (ours comes from `src` with 0x88b5
/// inside when the tag was taken off, or 0x8100 with the tag inline);
/// check it arrived whole (the kernel may report the tag aside).
pub fn expect_tagged(rx: &netns::PacketSocket, src: [u8; 6], sent: &[u8], what: &str) {
    let got = loop {
        let f = rx.recv(WAIT).expect("receive").unwrap_or_else(|| panic!("{what} never arrived"));
        let ethertype = f.bytes.get(12..14).map(|t| u16::from_be_bytes([t[0], t[1]]));
        if f.bytes.get(6..12) == Some(&src[..]) && matches!(ethertype, Some(0x88b5 | 0x8100)) {
            break f;
        }
    };
    match got.vlan_tci {
        Some(tci) => {
            assert_eq!(tci & 0x0fff, u16::from_be_bytes([sent[14], sent[15]]) & 0x0fff, "{what}: VLAN id kept");
            let mut untagged = sent[..12].to_vec();
            untagged.extend_from_slice(&sent[16..]);
            assert_eq!(got.bytes, untagged, "{what} intact");
        }
        None => assert_eq!(got.bytes, sent, "{what} intact, tag inline"),
    }
}

pub fn arp_request(sha: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
    a.extend_from_slice(&sha);
    a.extend_from_slice(&spa);
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&tpa);
    ether([0xff; 6], sha, 0x0806, &a)
}

pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in bytes.chunks(2) {
        let w = if c.len() == 2 { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], 0]) };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub mod app;
pub mod bridge;
pub mod netns;
pub mod tcp;
pub mod vpn;
