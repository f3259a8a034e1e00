// SPDX-License-Identifier: MPL-2.0
//! Scenario 4: flow control under real TCP.
//!
//! Two namespaces on two tap links, forwarded in-process, but the reader
//! of A's queue is deliberately slow and its backlog bounded to a few
//! packets (`TUN_IOC_QUEUE_LIMITS`).  The stream head fills, the backlog
//! fills (a paced UDP burst larger than both makes sure of it, whatever
//! the machine's load), `mc_tx` hands chains back, the bridge (as IP would) stops
//! taking frames from Linux until `mac_tx_update`, and Linux's TAP queue
//! overflows.  TCP still delivers the stream intact, and every frame is
//! accounted for: none is lost inside the driver, and the only drops are
//! the ones Linux counts on its own device.  Needs root.

use std::time::Duration;

use tuntap_abi::{create_flags, mode};
use tuntap_tests::app::{AppCounts, Forwarder, LinkAccount, NsLink, Pace, Queue, eventually};
use tuntap_tests::tcp;
use tuntap_tests::*;

const SETTLE: Duration = Duration::from_secs(5);

#[test]
fn slow_reader_pushes_back_and_tcp_recovers_with_every_drop_counted() {
    let rig = Rig::new();
    let a = NsLink::new(&rig, "slow0", create_flags::TAP, 0, "flow-a").expect("namespace A behind slow0");
    let b = NsLink::new(&rig, "fast0", create_flags::TAP, 0, "flow-b").expect("namespace B behind fast0");
    // A short device queue in A, so holding frames back overflows it soon.
    a.ns.ip(&["link", "set", "dev", "slow0", "txqueuelen", "32"]).unwrap();
    // Reno keeps slow start going until a loss (CUBIC's HyStart would
    // leave it as soon as the queueing delay grows), so the sender soon
    // has more in flight than the stream head and the backlog hold.
    a.ns.sysctl("net.ipv4.tcp_congestion_control", "reno").unwrap();
    let qa = Queue::attach(&rig, "slow0", mode::TAP).expect("queue on slow0");
    let qb = Queue::attach(&rig, "fast0", mode::TAP).expect("queue on fast0");
    assert_eq!(qa.set_limits(4, 16 * 1024).unwrap(), (4, 16 * 1024), "a backlog of 4 packets / 16 KiB");
    // Bad-input twin: limits beyond the driver's maximum are refused and
    // leave the queue as it was.
    assert!(qa.set_limits(u32::MAX, 0).is_err(), "an absurd packet limit is refused");
    assert_eq!(qa.set_limits(0, 0).unwrap(), (4, 16 * 1024), "0 keeps the limits in force");
    // The slow reader: 2 ms of sleep after every 4 packets read.
    let slow = Pace { pause: Duration::from_millis(2), every: 4 };
    let fwd = Forwarder::start(qa, qb, slow, Pace::FULL_SPEED);
    a.addr_add("10.30.0.1/24").unwrap();
    b.addr_add("10.30.0.2/24").unwrap();
    let linux_start = a.ns.link_stats("slow0").unwrap();

    // First a burst far faster than the reader and larger than the stream
    // head (1 MiB) plus the backlog can hold: whatever the machine's load,
    // the queue fills and mc_tx must hand chains back.  (TCP alone pushes
    // back only if its window outgrows the stream head, which depends on
    // timing.)  Warm ARP up first so the burst is not stuck behind it.
    a.ns.ping("10.30.0.2", 1, None).expect("A reaches B");
    // A deep device queue for the burst, so Linux holds it rather than
    // dropping it while the bridge catches up.
    a.ns.ip(&["link", "set", "dev", "slow0", "txqueuelen", "4000"]).unwrap();
    let burst = a
        .ns
        .enter(|| -> std::io::Result<usize> {
            let sock = std::net::UdpSocket::bind("10.30.0.1:0")?;
            let payload = [0x5au8; 1400];
            let mut sent = 0;
            for i in 0..2_000 {
                // ENOBUFS when Linux's own queue is full: those are
                // Linux's drops, counted on its device.
                if sock.send_to(&payload, "10.30.0.2:9").is_ok() {
                    sent += 1;
                }
                if i % 64 == 63 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            Ok(sent)
        })
        .expect("enter namespace A")
        .expect("UDP burst");
    assert!(burst > 0, "the burst left A");
    assert!(
        eventually(SETTLE, || if a.bridge.client().tx_pushbacks() > 0 { Ok(()) } else { Err("no pushback yet".to_string()) }).is_ok(),
        "a burst bigger than the stream head and backlog makes mc_tx hand chains back"
    );
    a.ns.ip(&["link", "set", "dev", "slow0", "txqueuelen", "32"]).unwrap();

    let t = tcp::transfer(&b.ns, "10.30.0.2", &a.ns, 4 << 20, Duration::from_secs(30)).expect("TCP A -> B through a slow reader");
    assert!(t.intact(), "TCP delivered the stream intact despite the pushback: {t:?}");
    eprintln!("slow-reader TCP: {} bytes in {:?} ({:.0} Mbit/s)", t.received_bytes, t.elapsed, t.mbit_per_s());

    a.ns.ip(&["link", "set", "dev", "slow0", "down"]).unwrap();
    b.ns.ip(&["link", "set", "dev", "fast0", "down"]).unwrap();
    let (acc_a, acc_b) = eventually(SETTLE, || {
        let (ab, ba) = (fwd.a_to_b(), fwd.b_to_a());
        let acc_a = LinkAccount::check(&rig, &a, AppCounts { read: ab.read, read_bytes: ab.read_bytes, written: ba.written })?;
        let acc_b = LinkAccount::check(&rig, &b, AppCounts { read: ba.read, read_bytes: ba.read_bytes, written: ab.written })?;
        Ok((acc_a, acc_b))
    })
    .unwrap_or_else(|e| panic!("counters do not add up: {e}"));
    eprintln!("slow link: {acc_a:#?}");

    // The pushback happened, and was honoured.
    assert!(acc_a.pushbacks > 0, "mc_tx handed chains back on the slow link: {acc_a:?}");
    assert!(acc_a.returned >= acc_a.pushbacks, "each pushback returns at least one frame");
    assert!(acc_a.bridge.paused > 0, "the bridge stopped taking frames from Linux while pushed back");
    assert_eq!(acc_b.pushbacks, 0, "the fast reader never pushed back");
    // Nothing was lost inside the driver: the only driver drops are
    // frames Linux sent before a queue was attached (noxmtbuf).
    for acc in [&acc_a, &acc_b] {
        let m = &acc.mac;
        assert_eq!((m.ierrors, m.oerrors, m.norcvbuf, m.unknowns), (0, 0, 0, 0), "no drop in the driver: {m:?}");
    }
    // Where frames were dropped, Linux counted them on the device; all
    // else was read by the bridge.
    let dropped = acc_a.linux.tx_dropped - linux_start.tx_dropped;
    eprintln!("Linux dropped {dropped} frames on slow0 while the driver pushed back");
    assert_eq!(acc_a.linux.tx_errors, 0);

    drop(fwd);
    drop((a, b));
    rig.finish();
}

#[test]
fn a_resolver_reply_lost_to_allocation_failure_is_counted_and_arp_recovers() {
    use tuntap_tests::app::Responder;
    let rig = Rig::new();
    let a = NsLink::new(&rig, "tun9", create_flags::TUN, 0, "flow-arp").expect("namespace behind tun9");
    // IPv4 only: the ARP reply is the only allocation the driver makes.
    a.ns.ipv6_off("tun9").unwrap();
    let responder = Responder::start(Queue::attach(&rig, "tun9", mode::TUN).expect("queue on tun9"));
    assert!(a.bridge.client().wait_link_state(tuntap_drv::ddi::LinkState::Up, WAIT));
    a.addr_add("10.31.0.1/24").unwrap();
    rig.host.fail_next_allocb(1);
    // Linux asks again after its retransmit time (1 s) and gets an
    // answer; the echo requests wait behind resolution in Linux's
    // neighbour queue (which may drop some of them if resolution is slow
    // on a loaded machine), so only "a reply came" is asserted here.
    let first = a
        .ns
        .exec(&["ping", "-n", "-c", "1", "-w", "15", "10.31.0.2"], std::time::Duration::from_secs(20))
        .expect("ping runs");
    assert!(first.success(), "an echo is answered once ARP is retried: {}{}", first.stdout, first.stderr);
    // Resolved now: every request is answered.
    let ping = a.ns.ping("10.31.0.2", 2, None).expect("ping works once ARP is resolved");

    a.ns.ip(&["link", "set", "dev", "tun9", "down"]).unwrap();
    let acc = eventually(SETTLE, || {
        let r = responder.stats();
        LinkAccount::check(&rig, &a, AppCounts { read: r.read, read_bytes: r.read_bytes, written: r.replied_v4 + r.replied_v6 })
    })
    .unwrap_or_else(|e| panic!("counters do not add up: {e}"));
    assert_eq!(acc.mac.norcvbuf, 1, "the lost ARP reply is counted as norcvbuf: {acc:#?}");
    assert!(acc.resolver_replies >= 1, "a later ARP request was answered: {acc:#?}");
    assert!(responder.stats().replied_v4 >= 1 + u64::from(ping.sent), "the echoes after resolution were all answered");
    drop(responder);
    drop(a);
    rig.finish();
}
