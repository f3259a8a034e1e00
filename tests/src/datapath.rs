// SPDX-License-Identifier: MPL-2.0
//! A one-link fixture for the data path, shared by the data-path tests
//! (`tests/tests/datapath.rs`) and the benchmark
//! (`examples/bench_datapath.rs`): a link of a chosen mode and MTU, one
//! attached queue (optionally with the packet-info header), and a mac
//! client playing IP on top of it.

use tuntap_abi::{self as abi, attach_flags, create_flags, mode};
use tuntap_sim::{SimMacClient, SimStream, TxOpts};

use crate::{Rig, WAIT, ether, ipv4_packet};

pub struct DataPath {
    pub rig: Rig,
    pub queue: SimStream,
    pub client: SimMacClient,
    pub tap: bool,
    /// The link's peer MAC (tun) as IP addresses frames to it.
    pub peer_mac: [u8; 6],
    /// The mac client's (IP's) unicast address.
    pub ip_mac: [u8; 6],
}

impl DataPath {
    pub fn new(tap: bool, mtu: u32, packet_info: bool) -> DataPath {
        let rig = Rig::without_time_limit();
        let id = rig.create("bench0", if tap { create_flags::TAP } else { create_flags::TUN });
        if mtu != 1500 {
            rig.host.set_prop_mtu("bench0", mtu).expect("MTU within the link's range");
        }
        let flags = (if tap { mode::TAP } else { mode::TUN }) | if packet_info { attach_flags::PACKET_INFO } else { 0 };
        let queue = rig.attach("bench0", flags);
        let client = rig.host.mac_client_open("bench0").expect("mac client on the link");
        let link = rig.driver.link_by_id(id).expect("the link just created");
        let peer_mac = link.peer_mac;
        let ip_mac = client.mac_addr();
        DataPath { rig, queue, client, tap, peer_mac, ip_mac }
    }

    /// What the process writes for a packet of `size` bytes on the wire
    /// (IP packet for tun, Ethernet frame for tap), without packet info.
    pub fn app_packet(&self, size: usize) -> Vec<u8> {
        if self.tap {
            ether(self.peer_mac, self.ip_mac, 0x88b5, &vec![0xa5; size.saturating_sub(14)])
        } else {
            ipv4_packet([10, 9, 0, 2], [10, 9, 0, 1], 253, &vec![0x5a; size.saturating_sub(20)])
        }
    }

    /// The frame IP hands to `mc_tx` that a reader sees as `app_packet`.
    pub fn stack_frame(&self, app_packet: &[u8]) -> Vec<u8> {
        if self.tap { app_packet.to_vec() } else { ether(self.peer_mac, self.ip_mac, 0x0800, app_packet) }
    }

    /// The frame `mac_rx` gets for `app_packet` written by the process.
    pub fn rx_frame(&self, app_packet: &[u8]) -> Vec<u8> {
        if self.tap { app_packet.to_vec() } else { ether(self.ip_mac, self.peer_mac, 0x0800, app_packet) }
    }

    /// write(2) on the queue, then take what the driver passed to
    /// `mac_rx`.
    pub fn write_to_mac_rx(&self, written: &[u8]) -> Vec<u8> {
        self.queue.write(written).expect("write accepted");
        self.client.recv(WAIT).expect("frame passed to mac_rx")
    }

    /// `mc_tx` of one frame, then read(2) it from the queue.  The frame
    /// has free room in front, as IP's messages do (IP allocates with a
    /// write offset beyond the link header).
    pub fn mc_tx_to_read(&self, frame: &[u8]) -> Vec<u8> {
        self.client.tx_with(&[frame], TxOpts { headroom: 32, split: None, offload: None });
        self.queue.read_packet(Some(WAIT)).expect("packet read")
    }

    /// A 4-byte packet-info header for `proto`.
    pub fn packet_info(proto: u16) -> [u8; 4] {
        let pi = abi::PacketInfo { flags: 0, proto: proto.to_be_bytes() };
        let mut out = [0u8; 4];
        out.copy_from_slice(abi::as_bytes(&pi));
        out
    }

    pub fn finish(self) {
        self.client.close();
        self.queue.close();
        self.rig.finish();
    }
}
