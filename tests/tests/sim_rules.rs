// SPDX-License-Identifier: MPL-2.0
//! The driver under the simulator's rules that close its gaps: lock
//! order, `I_FLUSH`'s round trip through the driver, kernel-made link ids
//! given back on every failed creation, zones on the DLPI path, a sender
//! pushed back by a queue that goes away, and the back-enable window.
//! Every test ends with `finish`, which fails on any rule broken.

use std::time::Duration;

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::dlpi::*;
use tuntap_abi::{self as abi, attach_flags, mode};
use tuntap_sim::{CredSpec, DlError, Fault, Hook, Privileges, SimCred, SimStream};
use tuntap_tests::dlpi::*;
use tuntap_tests::*;
use tuntap_tests::app::eventually;

/// Packets of ~1 KB tagged with their index in the first payload bytes.
fn tagged(l: &LinkInUse, n: u16) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut data = vec![0u8; 1000];
            data[..2].copy_from_slice(&i.to_be_bytes());
            ether(l.peer_mac, l.ip_mac, 0x0800, &udp4([10, 0, 0, 1], [10, 0, 0, 2], 7, 9, &data))
        })
        .collect()
}

/// The index of a tagged packet as the tun reader gets it (IPv4 20 +
/// UDP 8 bytes before the payload).
fn index_of(packet: &[u8]) -> u16 {
    u16::from_be_bytes([packet[28], packet[29]])
}

/// IP sends `n` tagged packets to a reader that does not read, whose
/// queue holds at most 64: the stream head fills (1 MiB), then the
/// driver's backlog, then mac is pushed back.  Returns how many the
/// mac client still holds.
fn fill_until_pushed_back(rig: &Rig, l: &LinkInUse, n: u16) -> usize {
    let limits = abi::TunIocQueueLimits { version: abi::TUN_ABI_VERSION, max_packets: 64, max_bytes: 0, _pad: 0 };
    l.queue.ioctl_istr(abi::TUN_IOC_QUEUE_LIMITS, abi::as_bytes(&limits)).expect("queue limits");
    let frames = tagged(l, n);
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    l.ip.tx(&refs);
    assert!(rig.host.settle(WAIT));
    assert!(l.ip.tx_blocked(), "the full queue pushed mac back");
    let held = l.ip.tx_backlog();
    assert!(held > 0 && held < usize::from(n), "mac holds some packets back: {held}");
    held
}

// ----- lock order -----

#[test]
fn every_path_keeps_the_documented_lock_order() {
    let rig = Rig::new();
    let l = rig.link_in_use("vpn0", false);
    // Packets both ways, properties, info.
    l.ip.tx(&[&ether(l.peer_mac, l.ip_mac, 0x0800, &udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, b"out"))]);
    l.queue.read_packet(Some(WAIT)).expect("the packet IP sent");
    l.queue.write(&udp4([10, 0, 0, 2], [10, 0, 0, 1], 2, 1, b"in")).expect("write");
    l.ip.recv(WAIT).expect("the packet the process wrote");
    rig.host.set_prop_mtu("vpn0", 1400).expect("mtu");
    rig.info(l.id);
    // A second queue comes and goes; the first is detached by ioctl.
    let q2 = rig.attach("vpn0", mode::TUN | attach_flags::MULTI_QUEUE);
    q2.close();
    l.queue.ioctl_istr(abi::TUN_IOC_DETACH, &[]).ok();
    // Old API: a unit, IP plumbed on it through DLPI, unplumbed.
    let vpn = rig.open_tun(&rig.root);
    let ppa = vpn.ioctl_istr(abi::TUNNEWPPA, &(-1i32).to_ne_bytes()).expect("TUNNEWPPA").rval as u32;
    let ip = rig.open_tun(&rig.root);
    expect_ok(&request(&ip, &words(&[DL_ATTACH_REQ, ppa])), DL_ATTACH_REQ);
    request(&ip, &words(&[DL_BIND_REQ, 0x800, 0, 0, 0]));
    expect_ok(&request(&ip, &words(&[DL_UNBIND_REQ])), DL_UNBIND_REQ);
    expect_ok(&request(&ip, &words(&[DL_DETACH_REQ])), DL_DETACH_REQ);
    for s in [ip, vpn] {
        s.close();
    }
    l.ip.close();
    l.queue.close();
    let order: Vec<_> =
        rig.host.violations().into_iter().filter(|v| v.kind == tuntap_sim::ViolationKind::LockOrder).collect();
    assert!(order.is_empty(), "the driver inverted its documented lock order:\n{order:#?}");
    rig.finish();
}

// ----- I_FLUSH -----

#[test]
fn i_flush_flushr_empties_the_head_and_the_drivers_backlog() {
    let rig = Rig::new();
    let l = rig.link_in_use("vpn0", false);
    let n = 1200;
    let held = fill_until_pushed_back(&rig, &l, n);
    // strioctl: M_FLUSH down, then the dummy ioctl (NAKed, or finish
    // fails); the head empties only because the driver turns FLUSHR up.
    l.queue.flush(sys::FLUSHR).expect("I_FLUSH");
    // What was in the head and in the driver's backlog is gone; mac,
    // woken, sends what it held back, and only that arrives.
    assert!(l.ip.flush_tx(WAIT), "mac was woken after the flush");
    assert!(rig.host.settle(WAIT));
    let mut got = Vec::new();
    while let Ok(p) = l.queue.getmsg(Some(Duration::from_millis(200))).map(|m| m.data) {
        got.push(index_of(&p));
    }
    let want: Vec<u16> = (n - held as u16..n).collect();
    assert_eq!(
        got, want,
        "after I_FLUSH(FLUSHR) the reader must get only what mac sent after it: packets from before \
         it were left in the stream head (FLUSHR not turned around) or in the driver's backlog (not flushed)"
    );
    l.ip.close();
    l.queue.close();
    rig.finish();
}

/// Every DLPI reply waiting in the head, by primitive, in order.
fn dlpi_replies(s: &SimStream) -> Vec<u32> {
    let mut got = Vec::new();
    while let Ok(m) = s.getmsg(Some(Duration::from_millis(300))) {
        got.push(m.ctl.as_deref().map_or(0, |c| word(c, 0)));
    }
    got
}

/// `M_FLUSH(FLUSHW)` discards the DLPI requests still queued for the
/// stream's control task, and only those: flushq(9F) `FLUSHDATA` counts
/// `M_PROTO`/`M_PCPROTO` as data, an ioctl is not, and its caller sleeps
/// in `strdoioctl` until its one reply.  The control taskq is held busy so
/// the requests are queued, unhandled, when the flush arrives.
#[test]
fn flushw_discards_queued_dlpi_requests_and_answers_queued_ioctls_once() {
    let rig = Rig::new();
    let ip = rig.open_tun(&rig.root);
    let hold = rig.host.hold_control_taskq();
    ip.putmsg_proto(&words(&[DL_INFO_REQ]), &[]).unwrap();
    ip.putmsg_proto(&words(&[DL_ATTACH_REQ, 7]), &[]).unwrap();
    let before = ip.messages_put();
    let ioctl = std::thread::scope(|sc| {
        let ioctl = sc.spawn(|| ip.ioctl_istr(abi::TUNGETPPA, &[]));
        eventually(WAIT, || if ip.messages_put() > before { Ok(()) } else { Err("the ioctl never reached wput".into()) })
            .unwrap();
        ip.send_flush(sys::FLUSHW);
        // Sent after the flush: answered as usual.
        ip.putmsg_proto(&words(&[DL_INFO_REQ]), &[]).unwrap();
        hold.open();
        ioctl.join().expect("ioctl thread")
    });
    assert_eq!(
        ioctl.map(|r| r.rval),
        Err(sys::ENODEV),
        "an ioctl queued when M_FLUSH(FLUSHW) came must still get its one reply (TUNGETPPA on an \
         unattached stream: ENODEV): flushq(9F) FLUSHDATA keeps M_IOCTL and strdoioctl waits for its reply"
    );
    assert!(rig.host.settle(WAIT));
    assert_eq!(
        dlpi_replies(&ip),
        vec![DL_INFO_ACK],
        "only the DL_INFO_REQ sent after M_FLUSH(FLUSHW) may be answered: the DL_INFO_REQ and DL_ATTACH_REQ \
         still queued for the control task are write-side data that FLUSHW discards (flushq(9F) FLUSHDATA: \
         M_PROTO/M_PCPROTO; dld_wput's M_FLUSH)"
    );
    // A full I_FLUSH with nothing queued still completes (its dummy ioctl is NAKed).
    ip.flush(sys::FLUSHRW).expect("I_FLUSH");
    ip.close();
    rig.finish();
}

/// `M_FLUSH` of band 1 (`FLUSHBAND`): the DLPI requests queued for the
/// control task are band 0, so they stay and are answered
/// (`flushband(q, 1, FLUSHDATA)` frees only band-1 data, stream.c).
#[test]
fn a_flush_of_another_band_keeps_queued_dlpi_requests() {
    let rig = Rig::new();
    let ip = rig.open_tun(&rig.root);
    let hold = rig.host.hold_control_taskq();
    ip.putmsg_proto(&words(&[DL_INFO_REQ]), &[]).unwrap();
    ip.putmsg_proto(&words(&[DL_INFO_REQ]), &[]).unwrap();
    ip.send_flush_band(sys::FLUSHW, 1);
    hold.open();
    assert!(rig.host.settle(WAIT));
    assert_eq!(
        dlpi_replies(&ip),
        vec![DL_INFO_ACK, DL_INFO_ACK],
        "a flush of band 1 must leave band-0 DLPI requests queued (flushband(9F): only messages of that band; \
         stream.c flushband)"
    );
    ip.close();
    rig.finish();
}

// ----- kernel-made link ids -----

#[derive(Clone, Copy, Debug)]
enum KernelMade {
    /// `TUNNEWPPA` on `/dev/tun`: unit `tun0`.
    NewPpa,
    /// `TUN_IOC_ATTACH` with `CREATE` of a link that does not exist.
    AttachCreate,
}

fn make(rig: &Rig, cred: &SimCred, how: KernelMade) -> (SimStream, Result<(), i32>) {
    let s = rig.open_tun(cred);
    let r = match how {
        KernelMade::NewPpa => s.ioctl_istr(abi::TUNNEWPPA, &0i32.to_ne_bytes()).map(|_| ()),
        KernelMade::AttachCreate => {
            let req = abi::TunIocAttach::new("tun0", mode::TUN | attach_flags::CREATE).expect("name");
            s.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&req)).map(|_| ())
        }
    };
    (s, r)
}

#[test]
fn a_failed_kernel_made_creation_gives_its_link_id_back_at_every_step() {
    const STEPS: [Fault; 3] = [Fault::DlsMgmtCreate, Fault::MacRegister, Fault::DlsDevnetCreate];
    for how in [KernelMade::NewPpa, KernelMade::AttachCreate] {
        // In a non-global zone the new link is also moved into the zone.
        for in_zone in [false, true] {
            let steps: Vec<Fault> = if in_zone {
                STEPS.iter().copied().chain([Fault::DlsDevnetSetzid]).collect()
            } else {
                STEPS.to_vec()
            };
            for step in steps {
                let rig = Rig::new();
                let cred = if in_zone { zone_root(&rig, "z1") } else { rig.root.clone() };
                rig.host.inject(step, 1);
                let (s, r) = make(&rig, &cred, how);
                let what = format!("{how:?} (zone {}) failing at {step:?}", cred.zone());
                assert_eq!(rig.host.injections_left(step), 0, "{what}: the step was reached");
                assert_eq!(r, Err(step.errno()), "{what}: the step's errno");
                assert!(rig.driver.links().is_empty(), "{what}: no link left");
                for zone in [0, cred.zone()] {
                    assert_eq!(
                        rig.host.dlmgmt_name2info(zone, "tun0"),
                        Err(DlError::NotFound),
                        "{what}: a kernel-made link id must go back to dlmgmtd (dls_mgmt_destroy)"
                    );
                }
                s.close();
                // The name is free again: the same creation now works.
                let (s, r) = make(&rig, &cred, how);
                assert_eq!(r, Ok(()), "{what}, then again");
                s.close();
                rig.finish();
            }
        }
    }
}

// ----- zones on the DLPI path -----

fn zone_root(rig: &Rig, name: &str) -> SimCred {
    let zone = rig.host.create_zone(name);
    rig.host.cred(CredSpec { uid: 0, gid: 0, groups: vec![], zone, privs: Privileges::all() })
}

#[test]
fn dl_attach_finds_only_units_of_the_callers_zone() {
    let rig = Rig::new();
    let z1 = zone_root(&rig, "z1");
    let z2 = zone_root(&rig, "z2");
    let vpn = rig.open_tun(&z1);
    let ppa = vpn.ioctl_istr(abi::TUNNEWPPA, &(-1i32).to_ne_bytes()).expect("TUNNEWPPA in z1").rval as u32;
    // z2 has no unit of that number: the unit of z1 is not its business.
    let ip2 = rig.open_tun(&z2);
    expect_error(&request(&ip2, &words(&[DL_ATTACH_REQ, ppa])), DL_ATTACH_REQ, DL_BADPPA);
    // z1's own IP finds it.
    let ip1 = rig.open_tun(&z1);
    expect_ok(&request(&ip1, &words(&[DL_ATTACH_REQ, ppa])), DL_ATTACH_REQ);
    expect_ok(&request(&ip1, &words(&[DL_DETACH_REQ])), DL_DETACH_REQ);
    for s in [ip1, ip2, vpn] {
        s.close();
    }
    rig.finish();
}

// ----- pushed back by a queue that goes away -----

#[test]
fn a_sender_pushed_back_by_a_queue_that_detaches_is_woken() {
    let rig = Rig::new();
    let l = rig.link_in_use("vpn0", false);
    fill_until_pushed_back(&rig, &l, 1200);
    l.queue.close();
    assert!(
        l.ip.flush_tx(WAIT) && !l.ip.tx_blocked(),
        "mac stayed pushed back after the queue that held it back detached: the driver must call \
         mac_tx_update (mac_tx_update(9F)) when a queue leaves"
    );
    l.ip.close();
    rig.finish();
}

// ----- the back-enable window -----

#[test]
fn a_back_enable_during_a_drain_is_not_lost() {
    let rig = Rig::new();
    let l = rig.link_in_use("vpn0", false);
    let pkt = udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, b"through the window");
    // mc_tx's drain finds the head "full"; the reader empties it at once
    // and the back-enabled service procedure runs inside the drain.
    rig.host.hook(Hook::CanputnextFullThenBackenable);
    l.ip.tx(&[&ether(l.peer_mac, l.ip_mac, 0x0800, &pkt)]);
    assert!(!rig.host.hook_armed(Hook::CanputnextFullThenBackenable), "the drain reached canputnext");
    assert_eq!(
        l.queue.read_packet(Some(WAIT)),
        Ok(pkt),
        "a back-enable that came while mc_tx was draining was lost: the packet stayed in the driver's \
         backlog with the stream head empty (canputnext(9F): the drainer must look again)"
    );
    l.ip.close();
    l.queue.close();
    rig.finish();
}
