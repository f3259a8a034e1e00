// SPDX-License-Identifier: MPL-2.0
//! Benchmark of the old-API (OpenVPN) IP path on the simulated host:
//! packets per second from IP's DLPI stream (`DL_UNITDATA_REQ`) to the
//! daemon's read, and from the daemon's write to IP (`DL_UNITDATA_IND`),
//! for a tun and a tap unit plumbed as OpenVPN does.  Issue 13 moved this
//! path through mac (the stream's own mac client); running this example
//! on the commit before and after gives the cost of that.
//!
//!     cargo run --release -p tuntap-tests --example bench_old_api [packets]
//!
//! Self-contained (only `Rig` and `tuntap_tests::dlpi`), so it builds on
//! either side of the change.  One thread sends and then reads each
//! packet in turn; times include the simulator's stream head and mblk
//! bookkeeping.  Results go to BENCHMARKS.md.

use std::time::Instant;

use tuntap_abi as abi;
use tuntap_tests::dlpi::*;
use tuntap_tests::*;

fn run(tap: bool, n: usize, size: usize) {
    let rig = Rig::without_time_limit();
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
    let own = rig.driver.links()[0].mac();
    let peer = [0x02, 0, 0, 0, 0, 9];
    let pkt = udp4([10, 8, 0, 1], [10, 8, 0, 2], 5001, 5001, &vec![7u8; size - 28]);
    let ctl = unitdata_req(&ill.unitdata_dest(&peer, 0x0800));
    let written = if tap { ether(own, peer, 0x0800, &pkt) } else { pkt.clone() };
    let out = |k: usize| {
        for _ in 0..k {
            ip.putmsg_proto(&ctl, &pkt).unwrap();
            vpn.read_packet(Some(WAIT)).unwrap();
        }
    };
    out(n / 10);
    let t = Instant::now();
    out(n);
    let tx = n as f64 / t.elapsed().as_secs_f64();
    let inb = |k: usize| {
        for _ in 0..k {
            vpn.write(&written).unwrap();
            read_unitdata(&ip);
        }
    };
    inb(n / 10);
    let t = Instant::now();
    inb(n);
    let rx = n as f64 / t.elapsed().as_secs_f64();
    let mode = if tap { "tap" } else { "tun" };
    println!("| {mode} | {size} | IP -> daemon | {tx:.0} |");
    println!("| {mode} | {size} | daemon -> IP | {rx:.0} |");
    ip_down(&ip);
    if let Some(arp) = arp {
        arp_ll_down(&arp);
        arp.close();
    }
    ip.close();
    vpn.close();
    rig.finish();
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    println!("{n} packets per row (release build, simulated host, one thread)\n");
    println!("| mode | IP bytes | direction | packets/s |");
    println!("|---|---:|---|---:|");
    for tap in [false, true] {
        for size in [64, 1400] {
            run(tap, n, size);
        }
    }
}
