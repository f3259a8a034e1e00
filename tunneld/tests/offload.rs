// SPDX-License-Identifier: MPL-2.0
//! Offload through two daemons over Linux tun in two namespaces: a TCP
//! bulk transfer from A (client) to B (server) arrives byte-exact
//! whatever each end offloads.
//!
//! * UDP GSO and GRO on the data socket (`udp_offload`): on at both
//!   ends, or at one only (a peer without it interoperates: the wire
//!   carries the same datagrams).  The counters show the mode: datagrams
//!   sent in GSO sends at an offloading sender, datagrams received
//!   coalesced at an offloading receiver (over loopback the kernel hands
//!   a GSO send to a GRO socket whole), none where it is off.
//! * The tun's own offload (`IFF_VNET_HDR` with TSO and checksum
//!   offload, `tun_offload`): at both ends, the sender's only, the
//!   receiver's only.  The links' offload statistics show the mode: the
//!   sending tun hands over packets of up to 64 KB that the daemon cuts
//!   into segments; the receiving daemon writes merged segments for its
//!   kernel to cut; nothing of the kind where it is off; no packet is
//!   refused for its header.
#![cfg(target_os = "linux")]

mod common;

use std::sync::Arc;

use common::*;
use tunneld::Counters;
use tunneld::device::linux::{LinuxTun, OffloadStats};

/// What one end offloads.
#[derive(Clone, Copy)]
struct Ends {
    udp: bool,
    tun: bool,
}

/// The daemons' counters and links after 16 MB from A to B.
struct Transfer {
    cc: Arc<Counters>,
    sc: Arc<Counters>,
    dev_a: Arc<LinuxTun>,
    dev_b: Arc<LinuxTun>,
}

fn transfer(tag: &str, client: Ends, server: Ends) -> Transfer {
    const LEN: u64 = 16 << 20;
    const MTU: u32 = 1400;
    let rt = runtime();
    let pki = Pki::new();
    let (na, nb) = (Netns::new(&format!("{tag}a")), Netns::new(&format!("{tag}b")));
    let dev_a = tun_in(&na, "10.69.0.1/24", MTU, client.tun);
    let dev_b = tun_in(&nb, "10.69.0.2/24", MTU, server.tun);
    let offload = |toml: String, e: Ends| toml.replace("[link]", &format!("udp_offload = {}\n\n[link]", e.udp));
    let s = Running::start(&rt, &offload(pki.server_toml("server", "tnl0", "tun", MTU), server), dev_b.clone());
    let c = Running::start(&rt, &offload(pki.client_toml("client", &s.address(), "tnl0", "tun", MTU), client), dev_a.clone());
    let (sc, cc) = (s.counters.clone(), c.counters.clone());
    connected(&[&s, &c]);
    // A datagram that crosses a session's start (sent by one end before
    // the other has filed the session's index) is dropped and counted as
    // bad; what counts here is the transfer.
    let rejected = |c: &Counters| Counters::get(&c.rx_forged) + Counters::get(&c.rx_bad_datagram) + Counters::get(&c.rx_malformed);
    let before = (rejected(&cc), rejected(&sc));
    let (got, bad, took) = bulk(&na, &nb, "10.69.0.2:5073", LEN);
    println!(
        "udp offload client {} server {}, tun offload client {} server {}: {got} bytes in {took:?}; client tx_gso_datagrams {} of {}, server rx_gro_datagrams {} of {}; tun a {:?}, tun b {:?}",
        client.udp,
        server.udp,
        client.tun,
        server.tun,
        Counters::get(&cc.tx_gso_datagrams),
        Counters::get(&cc.tx_packets),
        Counters::get(&sc.rx_gro_datagrams),
        Counters::get(&sc.rx_packets),
        dev_a.offload_stats(),
        dev_b.offload_stats(),
    );
    assert_eq!((got, bad), (LEN, 0), "every byte arrived, intact");
    for (c, before) in [(&cc, before.0), (&sc, before.1)] {
        assert_eq!(rejected(c) - before, 0, "datagrams rejected during the transfer: {}", c.summary());
    }
    for dev in [&dev_a, &dev_b] {
        if let Some(st) = dev.offload_stats() {
            assert_eq!(OffloadStats::get(&st.refused), 0, "no header from the kernel was refused: {st:?}");
        }
    }
    c.stop(&rt);
    s.stop(&rt);
    Transfer { cc, sc, dev_a, dev_b }
}

const ON: Ends = Ends { udp: true, tun: false };
const OFF: Ends = Ends { udp: false, tun: false };
const TUN: Ends = Ends { udp: true, tun: true };

#[test]
fn gso_and_gro_at_both_ends_carry_a_bulk_transfer_intact() {
    let t = transfer("ofb", ON, ON);
    assert!(Counters::get(&t.cc.tx_gso_datagrams) > 0, "the sender used GSO: {}", t.cc.summary());
    assert!(Counters::get(&t.sc.rx_gro_datagrams) > 0, "the receiver got coalesced datagrams: {}", t.sc.summary());
}

#[test]
fn a_gso_sender_and_a_receiver_without_offload_interoperate() {
    let t = transfer("ofs", ON, OFF);
    assert!(Counters::get(&t.cc.tx_gso_datagrams) > 0, "the sender used GSO: {}", t.cc.summary());
    assert_eq!(Counters::get(&t.sc.rx_gro_datagrams), 0, "no GRO where it is off: {}", t.sc.summary());
}

#[test]
fn a_sender_without_offload_and_a_gro_receiver_interoperate() {
    let t = transfer("ofr", OFF, ON);
    assert_eq!(Counters::get(&t.cc.tx_gso_datagrams), 0, "no GSO where it is off: {}", t.cc.summary());
    assert!(Counters::get(&t.sc.rx_packets) > 0, "{}", t.sc.summary());
}

/// The sending tun handed over 64 KB packets, cut by the daemon.
fn cut_at_sender(t: &Transfer) {
    let st = t.dev_a.offload_stats().expect("the sender's tun offloads");
    let (reads, segments) = (OffloadStats::get(&st.gso_reads), OffloadStats::get(&st.gso_segments));
    assert!(reads > 0 && segments > 4 * reads, "the sender's kernel handed over segmentation-offload packets: {st:?}");
}

/// The receiving daemon merged segments into writes its kernel cut.
fn merged_at_receiver(t: &Transfer) {
    let st = t.dev_b.offload_stats().expect("the receiver's tun offloads");
    let (writes, segments) = (OffloadStats::get(&st.coalesced_writes), OffloadStats::get(&st.coalesced_segments));
    assert!(writes > 0 && segments > 2 * writes, "the receiver wrote merged segments: {st:?}");
}

#[test]
fn tun_offload_at_both_ends_carries_a_bulk_transfer_intact() {
    let t = transfer("otb", TUN, TUN);
    cut_at_sender(&t);
    merged_at_receiver(&t);
}

#[test]
fn tun_offload_at_the_sender_only() {
    let t = transfer("ots", TUN, ON);
    cut_at_sender(&t);
    assert!(t.dev_b.offload_stats().is_none() && t.dev_b.offload_flags() == 0);
}

#[test]
fn tun_offload_at_the_receiver_only() {
    let t = transfer("otr", ON, TUN);
    assert!(t.dev_a.offload_stats().is_none());
    merged_at_receiver(&t);
}

#[test]
fn tun_offload_asks_for_tso_and_checksum_offload_and_uso_where_the_kernel_has_it() {
    let ns = Netns::new("otf");
    let dev = tun_in(&ns, "10.69.1.1/24", 1500, true);
    let flags = dev.offload_flags();
    assert_eq!(flags & 0x07, 0x07, "TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6: 0x{flags:x}");
    let tap = LinuxTun::open_in_netns_with(&ns.path(), "tap0", tunneld::Mode::Tap, 1500, true).unwrap();
    assert!(!tap.offloading(), "tap links are opened without offload");
}
