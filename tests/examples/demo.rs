// SPDX-License-Identifier: MPL-2.0
//! Demo: the tuntap driver on a simulated illumos host.
//!
//! Creates a tun link the way `dladm create-tun` will (a dlmgmtd link id,
//! then the control ioctl), attaches a VPN daemon's queue to it, lets the
//! host's IP resolve the peer (answered by the driver) and ping through
//! the link while the "daemon" answers, then shows the link and its
//! counters and deletes it.  The simulator checks every DDI rule as it
//! goes and fails on any leak.

use tuntap_abi::{self as abi, create_flags, mode};
use tuntap_tests::*;

fn icmp_echo(src: [u8; 4], dst: [u8; 4], kind: u8, seq: u16) -> Vec<u8> {
    let mut icmp = vec![kind, 0, 0, 0, 0x12, 0x34];
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(b"tuntap-demo-payload");
    let sum = checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    ipv4_packet(src, dst, 1, &icmp)
}

fn mac(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn main() {
    let rig = Rig::new();
    let id = rig.create("vpn0", create_flags::TUN);
    println!("created datalink vpn0 (link id {id}, class misc, media Ethernet, mode tun)");
    let daemon = rig.attach("vpn0", mode::TUN);
    println!("a VPN daemon (pid {}) attached a queue through /dev/tun", daemon.pid());

    let ip = rig.host.mac_client_open("vpn0").expect("IP on the link");
    let link = rig.driver.link_by_id(id).expect("link");
    let (local, remote) = ([10, 9, 0, 1], [10, 9, 0, 2]);

    ip.tx(&[&arp_request(ip.mac_addr(), local, remote)]);
    let reply = ip.recv(WAIT).expect("ARP reply");
    println!("IP: who-has 10.9.0.2? -> answered by the driver: {}", mac(reply[22..28].try_into().unwrap()));

    for seq in 1..=3u16 {
        let echo = icmp_echo(local, remote, 8, seq);
        ip.tx(&[&ether(link.peer_mac, ip.mac_addr(), 0x0800, &echo)]);
        let got = daemon.read_packet(Some(WAIT)).expect("daemon reads the echo request");
        assert_eq!(got, echo);
        daemon.write(&icmp_echo(remote, local, 0, seq)).expect("daemon answers");
        let back = ip.recv(WAIT).expect("echo reply reaches IP");
        println!("ping 10.9.0.2: icmp_seq={seq} {} bytes back through vpn0", back.len() - 14);
    }

    let info = rig.info(id);
    println!();
    println!("LINK     MODE  MTU   MAC                STATE  QUEUES  PIDS");
    println!(
        "vpn0     tun   {:<5} {}  {:<6} {:<7} {}",
        info.mtu,
        mac(info.mac),
        if info.state_flags & abi::info_flags::LINK_UP != 0 { "up" } else { "down" },
        info.nqueues,
        info.pids[0]
    );
    let c = info.counters;
    println!();
    println!("counters: ipackets={} rbytes={} opackets={} obytes={} ierrors={} noxmtbuf={} resolver_replies={}",
        c.ipackets, c.rbytes, c.opackets, c.obytes, c.ierrors, c.noxmtbuf, c.resolver_replies);
    ip.close();
    daemon.close();
    rig.finish();
    println!();
    println!("link deleted; the simulated host saw no DDI rule broken and no message leaked");
}
