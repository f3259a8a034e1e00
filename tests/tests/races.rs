// SPDX-License-Identifier: MPL-2.0
//! Races: a stream closed while a reader is blocked and the stack keeps
//! sending; a link deleted while packets flow both ways; detach (the
//! `_fini` path) refused while links or streams exist.  Each ends with
//! `finish()`, which fails on any DDI rule broken, message leaked or
//! mac registration left behind.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use illumos_sys_hdrs as sys;
use tuntap_abi::{self as abi, attach_flags, create_flags, mode};
use tuntap_tests::*;

#[test]
fn close_during_a_blocked_read_wakes_the_reader_and_stops_delivery() {
    for round in 0..20 {
        let rig = Rig::new();
        let LinkInUse { id, queue: q, ip: client, peer_mac, ip_mac, .. } = rig.link_in_use("vpn0", false);
        let frame = ether(peer_mac, ip_mac, 0x0800, &udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, b"x"));
        let sending = AtomicBool::new(true);
        let reads = AtomicU64::new(0);
        std::thread::scope(|s| {
            // A reader with no timeout: only data or the close wakes it.
            let reader = s.spawn(|| loop {
                match q.read_packet(None) {
                    Ok(_) => {
                        reads.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => return e,
                }
            });
            // The stack keeps transmitting across the close.
            s.spawn(|| {
                while sending.load(Ordering::SeqCst) {
                    client.tx(&[&frame]);
                    std::thread::yield_now();
                }
            });
            std::thread::sleep(Duration::from_millis(2 + round % 5));
            q.close();
            let err = reader.join().unwrap();
            assert_eq!(err, sys::EBADF, "the blocked reader returns, with the stream's end");
            sending.store(false, Ordering::SeqCst);
        });
        assert!(client.flush_tx(WAIT));
        // After the close nothing is delivered to the dead queue: what the
        // stack sends now is dropped for want of a queue, and counted.
        let before = rig.info(id).counters;
        client.tx(&[&frame, &frame]);
        assert!(client.flush_tx(WAIT));
        let after = rig.info(id).counters;
        assert_eq!(after.opackets, before.opackets, "nothing transmitted to a closed queue");
        assert_eq!(after.oerrors + after.noxmtbuf - before.oerrors - before.noxmtbuf, 2, "both drops counted");
        assert_eq!(rig.info(id).nqueues, 0);
        client.close();
        rig.finish();
    }
}

#[test]
fn delete_while_traffic_flows_is_clean_for_every_party() {
    for _round in 0..10 {
        let rig = Rig::new();
        let id = rig.create("vpn0", create_flags::TUN);
        let q1 = rig.attach("vpn0", mode::TUN | attach_flags::MULTI_QUEUE);
        let q2 = rig.attach("vpn0", mode::TUN | attach_flags::MULTI_QUEUE);
        let client = rig.host.mac_client_open("vpn0").unwrap();
        let link = rig.driver.link_by_id(id).unwrap();
        let ip_mac = client.mac_addr();
        let peer = link.peer_mac;
        drop(link);
        let ctl = rig.open_ctl(&rig.root);
        let force = abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags: abi::delete_flags::FORCE, linkid: id, _pad: 0 };
        let stack_sending = AtomicBool::new(true);
        let writes_ok = AtomicU64::new(0);
        std::thread::scope(|s| {
            let mut readers = Vec::new();
            let mut writers = Vec::new();
            for (n, q) in [&q1, &q2].into_iter().enumerate() {
                readers.push(s.spawn(move || loop {
                    if let Err(e) = q.read_packet(None) {
                        return e;
                    }
                }));
                let writes_ok = &writes_ok;
                writers.push(s.spawn(move || {
                    let pkt = udp4([10, 0, 0, 2], [10, 0, 0, 1], 7, 9 + n as u16, b"payload");
                    loop {
                        match q.write(&pkt) {
                            Ok(_) => writes_ok.fetch_add(1, Ordering::SeqCst),
                            Err(e) => return e,
                        };
                    }
                }));
            }
            s.spawn(|| {
                let mut sport = 0u16;
                while stack_sending.load(Ordering::SeqCst) {
                    sport = sport.wrapping_add(1);
                    let pkt = udp4([10, 0, 0, 1], [10, 0, 0, 2], sport, 53, b"q");
                    client.tx(&[&ether(peer, ip_mac, 0x0800, &pkt)]);
                    if sport % 64 == 0 {
                        let _ = client.recv(Duration::ZERO);
                    }
                }
            });
            // Traffic flows before the delete (bounded wait, not a fixed
            // sleep: under valgrind a thread may take long to start).
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while writes_ok.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            // IP is plumbed: even a forced delete is refused, mid-flow.
            assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&force)).err(), Some(sys::EBUSY));
            stack_sending.store(false, Ordering::SeqCst);
            // IP goes away while the processes keep writing; then delete.
            client.close();
            ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&force)).expect("forced delete once IP is gone");
            for r in readers {
                let e = r.join().unwrap();
                assert!(e == sys::ENXIO || e == sys::EIO || e == sys::EBADF, "reader ends with an error, got {e}");
            }
            for w in writers {
                let e = w.join().unwrap();
                assert!(e == sys::ENXIO || e == sys::EIO, "writer ends with an error, got {e}");
            }
        });
        assert!(writes_ok.load(Ordering::SeqCst) > 0, "traffic really flowed before the delete");
        assert!(rig.driver.links().is_empty());
        assert!(rig.host.dlmgmt_id2info(0, id).is_ok(), "the dlmgmtd id stays: userland gave it, userland frees it");
        drop((q1, q2, ctl));
        assert_eq!(rig.driver.can_detach(), Ok(()));
        rig.finish();
    }
}

#[test]
fn detach_is_refused_while_any_link_or_stream_exists() {
    let rig = Rig::new();
    assert_eq!(rig.driver.can_detach(), Ok(()), "a fresh driver may go");
    // A link with no stream open.
    let id = rig.create("vpn0", create_flags::TAP);
    assert_eq!(rig.driver.can_detach(), Err(sys::EBUSY));
    // A transient old-API unit.
    let old = rig.open_tun(&rig.root);
    assert_eq!(old.ioctl_istr(abi::TUNNEWPPA, &(-1i32).to_ne_bytes()).unwrap().rval, 0);
    let ctl = rig.open_ctl(&rig.root);
    let del = abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags: 0, linkid: id, _pad: 0 };
    ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)).unwrap();
    assert_eq!(rig.driver.can_detach(), Err(sys::EBUSY), "tun0 and two streams remain");
    old.close();
    assert!(rig.driver.links().is_empty());
    assert_eq!(rig.driver.can_detach(), Err(sys::EBUSY), "the control stream is open: a create could follow");
    // A refused detach leaves the driver working.
    let id2 = rig.link_id(&rig.root, "vpn1");
    let req = abi::TunIocCreate::new("vpn1", create_flags::TUN, id2).unwrap();
    ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&req)).unwrap();
    let del2 = abi::TunIocDelete { linkid: id2, ..del };
    ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del2)).unwrap();
    ctl.close();
    assert_eq!(rig.driver.can_detach(), Ok(()));
    rig.finish();
}

#[test]
fn creates_and_deletes_racing_on_one_name_leave_one_link_or_none() {
    let rig = Rig::new();
    let id = rig.link_id(&rig.root, "race0");
    let req = abi::TunIocCreate::new("race0", create_flags::TUN, id).unwrap();
    let del = abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags: 0, linkid: id, _pad: 0 };
    let created = AtomicU64::new(0);
    let deleted = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let ctl = rig.open_ctl(&rig.root);
                for _ in 0..100 {
                    match ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&req)) {
                        Ok(_) => {
                            created.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => assert!(e == sys::EEXIST || e == sys::EBUSY, "create: {e}"),
                    }
                    match ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)) {
                        Ok(_) => {
                            deleted.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => assert!(e == sys::ENOENT || e == sys::EBUSY, "delete: {e}"),
                    }
                }
            });
        }
    });
    let live = rig.driver.links().len() as u64;
    assert!(live <= 1);
    assert_eq!(created.load(Ordering::SeqCst), deleted.load(Ordering::SeqCst) + live, "every create matched by a delete or the survivor");
    assert!(created.load(Ordering::SeqCst) > 0);
    rig.finish();
}
