// SPDX-License-Identifier: MPL-2.0
//! UDP GSO and GRO on the data socket (Linux, `udp_offload`): a TCP bulk
//! transfer through two daemons over Linux tun in two namespaces arrives
//! byte-exact with offload on at both ends, and with it on at only one
//! (a peer without offload interoperates: the wire carries the same
//! datagrams).  The counters show the mode was really used: datagrams
//! sent in GSO sends at an offloading sender, datagrams received
//! coalesced at an offloading receiver (over loopback the kernel hands a
//! GSO send to a GRO socket whole), none where it is off.
#![cfg(target_os = "linux")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::sync::oneshot;
use tunneld::device::linux::LinuxTun;
use tunneld::{Counters, Daemon, Mode};

const WAIT: Duration = Duration::from_secs(10);

/// Client (A, sender) and server (B, receiver) with offload as given:
/// (client counters, server counters) after 16 MB from A to B.
fn transfer(tag: &str, client_offload: bool, server_offload: bool) -> (Arc<Counters>, Arc<Counters>) {
    const LEN: u64 = 16 << 20;
    const MTU: u32 = 1400;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let pki = Pki::new();
    let (na, nb) = (Netns::new(&format!("{tag}a")), Netns::new(&format!("{tag}b")));
    let dev_a = LinuxTun::open_in_netns(&na.path(), "tnl0", Mode::Tun, MTU as usize).expect("tun in namespace a");
    let dev_b = LinuxTun::open_in_netns(&nb.path(), "tnl0", Mode::Tun, MTU as usize).expect("tun in namespace b");
    for (ns, addr) in [(&na, "10.69.0.1/24"), (&nb, "10.69.0.2/24")] {
        ns.ip(&["addr", "add", addr, "dev", "tnl0"]);
        ns.ip(&["link", "set", "tnl0", "up"]);
    }
    let offload = |toml: String, on: bool| toml.replace("[link]", &format!("udp_offload = {on}\n\n[link]"));
    let server = rt.block_on(Daemon::start(config(&offload(pki.server_toml("server", "tnl0", "tun", MTU), server_offload)))).unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let client = rt.block_on(Daemon::start(config(&offload(pki.client_toml("client", &addr, "tnl0", "tun", MTU), client_offload)))).unwrap();
    let (sc, cc) = (server.counters(), client.counters());
    let (stop_s, rx_s) = oneshot::channel::<()>();
    let (stop_c, rx_c) = oneshot::channel::<()>();
    let ts = rt.spawn(server.run(Arc::new(dev_b), async {
        let _ = rx_s.await;
    }));
    let tc = rt.spawn(client.run(Arc::new(dev_a), async {
        let _ = rx_c.await;
    }));
    assert!(wait_until(WAIT, || sc.connected_peer().is_some() && cc.connected_peer().is_some()));
    // A datagram that crosses a session's start (sent by one end before
    // the other has filed the session's index) is dropped and counted as
    // bad; what counts here is the transfer.
    let rejected = |c: &Counters| Counters::get(&c.rx_forged) + Counters::get(&c.rx_bad_datagram) + Counters::get(&c.rx_malformed);
    let before = (rejected(&cc), rejected(&sc));
    let (got, bad, took) = bulk(&na, &nb, "10.69.0.2:5073", LEN);
    println!(
        "offload client {client_offload} server {server_offload}: {got} bytes in {took:?}; client tx_gso_datagrams {} of {}, server rx_gro_datagrams {} of {}",
        Counters::get(&cc.tx_gso_datagrams),
        Counters::get(&cc.tx_packets),
        Counters::get(&sc.rx_gro_datagrams),
        Counters::get(&sc.rx_packets)
    );
    assert_eq!((got, bad), (LEN, 0), "every byte arrived, intact");
    for (c, before) in [(&cc, before.0), (&sc, before.1)] {
        assert_eq!(rejected(c) - before, 0, "datagrams rejected during the transfer: {}", c.summary());
    }
    let _ = stop_c.send(());
    let _ = stop_s.send(());
    rt.block_on(async {
        tokio::time::timeout(WAIT, tc).await.unwrap().unwrap().unwrap();
        tokio::time::timeout(WAIT, ts).await.unwrap().unwrap().unwrap();
    });
    (cc, sc)
}

#[test]
fn gso_and_gro_at_both_ends_carry_a_bulk_transfer_intact() {
    let (cc, sc) = transfer("ofb", true, true);
    assert!(Counters::get(&cc.tx_gso_datagrams) > 0, "the sender used GSO: {}", cc.summary());
    assert!(Counters::get(&sc.rx_gro_datagrams) > 0, "the receiver got coalesced datagrams: {}", sc.summary());
}

#[test]
fn a_gso_sender_and_a_receiver_without_offload_interoperate() {
    let (cc, sc) = transfer("ofs", true, false);
    assert!(Counters::get(&cc.tx_gso_datagrams) > 0, "the sender used GSO: {}", cc.summary());
    assert_eq!(Counters::get(&sc.rx_gro_datagrams), 0, "no GRO where it is off: {}", sc.summary());
}

#[test]
fn a_sender_without_offload_and_a_gro_receiver_interoperate() {
    let (cc, sc) = transfer("ofr", false, true);
    assert_eq!(Counters::get(&cc.tx_gso_datagrams), 0, "no GSO where it is off: {}", cc.summary());
    assert!(Counters::get(&sc.rx_packets) > 0, "{}", sc.summary());
}
