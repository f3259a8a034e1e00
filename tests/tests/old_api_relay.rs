// SPDX-License-Identifier: MPL-2.0
//! Issue 13, the old-API relay hardened (review of the relay, items H2,
//! M1, M4): a lower dld stream that stops answering, answers the wrong
//! request or hangs up must fail IP's request cleanly, never pin a
//! control thread or a closing process, and leave nothing behind
//! (tuntap-drv/src/dlpi/relay.rs).  Every wait is bounded: DLPI replies
//! by [`WAIT`], the test by the rig's time limit.

use std::time::{Duration, Instant};

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::dlpi::*;
use tuntap_abi as abi;
use tuntap_drv::ddi::RelayEvent;
use tuntap_sim::{Fault, Hook, ProbeRecord, SimStream};
use tuntap_tests::dlpi::*;
use tuntap_tests::oldapi::*;
use tuntap_tests::*;

const SAP_IPV6: u32 = 0x86dd;

/// How long the driver's timed waits last here (its 10 s
/// `ACK_WAIT_USEC`, with time passing faster: `set_timed_wait_cap`).
const CAP: Duration = Duration::from_millis(300);

fn relay_events(rig: &Rig, ev: RelayEvent) -> usize {
    rig.host.probes().iter().filter(|p| matches!(p, ProbeRecord::Relay(_, e, _) if *e == ev)).count()
}

/// A fresh unit made the way OpenVPN makes it: (daemon's stream, ppa).
fn new_unit(rig: &Rig, tap: bool) -> (SimStream, u32) {
    let vpn = if tap { rig.open_tap(&rig.root) } else { rig.open_tun(&rig.root) };
    let ppa = vpn.ioctl_istr(abi::TUNNEWPPA, &(-1i32).to_ne_bytes()).unwrap().rval as u32;
    (vpn, ppa)
}

/// Both old-API streams of link `name` are bound through dld, none on a
/// private mac client (`why`: the rule a mix breaks).
fn both_relay(rig: &Rig, name: &str, why: &str) {
    let dld = rig.host.dld_info(name).unwrap();
    let private = rig.host.kernel_clients(name).unwrap().len();
    assert_eq!((dld.streams, dld.bound, private), (2, 2, 0), "both streams relay, none on a private client: {why}");
}

/// Review s4 M-2: a relay that broke (`errno`: why) tells IP, once,
/// with `M_ERROR` up its stream (IP's `ip_rput` then takes the interface
/// down: inet/ip/ip.c `ip_rput_other`), and says so on the console
/// (`cmn_err(CE_WARN)`).  The sim's head plays IP: its reads fail with
/// the errno from then on (`strrput`, os/strsubr.c).
fn ip_told(rig: &Rig, ip: &SimStream, errno: i32) {
    let silent = "a broken relay must tell IP with M_ERROR up its stream, as a deleted link's readers are told \
                  (relay broke(), Driver::evict_queue; ip.c ip_rput M_ERROR -> ip_rput_other takes the ill down; \
                  review s4 M-2)";
    let mut buf = [0u8; 64];
    tuntap_tests::app::eventually(WAIT, || match ip.try_read(&mut buf) {
        Err(e) if e == errno => Ok(()),
        r => Err(format!("IP's stream reads {r:?}, not errno {errno}: {silent}")),
    })
    .unwrap();
    let warned: Vec<String> = rig.host.console().into_iter().filter(|l| l.contains("lower dld stream lost")).collect();
    assert_eq!(warned.len(), 1, "logged once (cmn_err CE_WARN): {warned:?}");
}

/// IP got the answer to the request that was in flight when the relay
/// broke, and only then the `M_ERROR` (relay.rs `RelaySt::ip_owed`): a
/// driver's answers and errors reach IP in the order one queue sends them.
fn answered_then_told(ip: &SimStream) {
    let seen = ip.control_arrivals();
    assert!(
        seen.ends_with(&[sys::M_PCPROTO, sys::M_ERROR]),
        "IP must get its request's answer (M_PCPROTO) before the M_ERROR of the break that cut it short \
         (relay.rs RelaySt::ip_owed): arrivals {seen:x?}"
    );
}

/// An old-API tun stream attached to a fresh unit: (daemon, IP, ppa).
fn attached(rig: &Rig) -> (SimStream, SimStream, u32) {
    let (vpn, ppa) = new_unit(rig, false);
    let ip = rig.open_tun(&rig.root);
    ip_push(&ip);
    expect_ok(&ip_request(&ip, &words(&[DL_ATTACH_REQ, ppa])).expect("DL_ATTACH_REQ"), DL_ATTACH_REQ);
    (vpn, ip, ppa)
}

/// H2: dld never answers IP's bind.  Within the bound the relay breaks
/// and IP is told (`M_ERROR`/`ETIME`, review s4 M-2), another unit
/// plumbs and carries traffic, close completes, and no dld stream or
/// message is left.
#[test]
fn a_lost_bind_ack_fails_the_bind_and_frees_the_control_thread() {
    let rig = Rig::new();
    rig.host.set_timed_wait_cap(CAP);
    let (vpn, ip, ppa) = attached(&rig);
    let name = format!("tun{ppa}");
    rig.host.hook(Hook::DldLosesNextAnswer);
    let t0 = Instant::now();
    ip.putmsg_proto(&words(&[DL_BIND_REQ, SAP_IPV4, 0, DL_CLDLS, 0]), &[]).unwrap();
    ip_told(&rig, &ip, sys::ETIME);
    answered_then_told(&ip);
    assert!(!rig.host.hook_armed(Hook::DldLosesNextAnswer), "the bind reached dld");
    assert!(t0.elapsed() < WAIT);
    assert_eq!(relay_events(&rig, RelayEvent::AckTimeout), 1, "the timeout is reported (sdt tuntap-relay)");
    // A second unit plumbs and carries traffic.
    let p = openvpn_plumb(&rig, false);
    let pkt = packet(1, 100);
    p.ip_send(&pkt);
    assert_eq!(p.vpn.read_packet(Some(WAIT)).unwrap(), p.as_read(&pkt));
    p.unplumb();
    ip.close();
    assert_eq!(rig.host.dld_info(name.as_str()).map(|d| d.streams).unwrap_or(0), 0, "no dld stream left");
    vpn.close();
    rig.finish();
}

/// H2: dld never answers the unbind at unplumb: the relay breaks, IP is
/// told (`M_ERROR`/`ETIME`, review s4 M-2), and closing the streams
/// completes with dls's client and the dld stream gone.
#[test]
fn a_lost_unbind_ack_still_lets_unplumb_and_close_complete() {
    let rig = Rig::new();
    rig.host.set_timed_wait_cap(CAP);
    let p = openvpn_plumb(&rig, false);
    let name = p.name.clone();
    rig.host.hook(Hook::DldLosesNextAnswer);
    p.ip.putmsg_proto(&words(&[DL_UNBIND_REQ]), &[]).unwrap();
    ip_told(&rig, &p.ip, sys::ETIME);
    answered_then_told(&p.ip);
    assert!(!rig.host.hook_armed(Hook::DldLosesNextAnswer), "the unbind reached dld");
    assert_eq!(relay_events(&rig, RelayEvent::AckTimeout), 1);
    p.vpn.close();
    p.ip.close();
    assert!(rig.host.dld_info(name.as_str()).is_err(), "{name} and its dld stream went away with the close");
    rig.finish();
}

/// M1: a stray `DL_ERROR_ACK` (for `DL_UNBIND_REQ`) arrives from dld
/// while the relay waits for its bind's ack.  It is freed and counted,
/// not taken as the answer: IP's bind succeeds and traffic flows.
#[test]
fn a_stray_ack_during_a_wait_is_counted_not_taken_as_the_answer() {
    let rig = Rig::new();
    let p = openvpn_plumb(&rig, false);
    ip_down(&p.ip);
    rig.host.hook(Hook::DldStrayBeforeNextAnswer);
    let bind = ip_request(&p.ip, &words(&[DL_BIND_REQ, SAP_IPV4, 0, DL_CLDLS, 0])).unwrap_or_else(|e| {
        panic!(
            "IP's bind failed with dl_errno {e:#x}, the stray DL_ERROR_ACK's (it names DL_UNBIND_REQ): an ack must \
             answer the request it is matched to (dl_error_primitive / dl_correct_primitive, dlpi(4P); review M1)"
        )
    });
    assert_eq!(word(&bind, 0), DL_BIND_ACK);
    assert!(!rig.host.hook_armed(Hook::DldStrayBeforeNextAnswer), "the stray was sent");
    assert_eq!(relay_events(&rig, RelayEvent::Stray), 1, "the stray ack is counted (sdt tuntap-relay)");
    let pkt = packet(2, 120);
    p.ip_send(&pkt);
    assert_eq!(p.vpn.read_packet(Some(WAIT)).unwrap(), p.as_read(&pkt));
    p.vpn_send(&pkt);
    assert_eq!(read_unitdata(&p.ip).data, pkt);
    p.unplumb();
    rig.finish();
}

/// M4: dld hangs up the lower stream.  The relay is broken: IP's next
/// DLPI request through it fails with `DL_SYSERR`/`ENXIO`, IP's packets
/// drop, IP is told (`M_ERROR`/`ENXIO`, review s4 M-2) and close
/// completes.
#[test]
fn a_hangup_from_dld_breaks_the_relay_and_fails_ips_next_request() {
    let rig = Rig::new();
    let p = openvpn_plumb(&rig, false);
    let before = rig.info(p.link.linkid).counters;
    rig.host.dld_send_up(&p.name, sys::M_HANGUP, &[]);
    ip_told(&rig, &p.ip, sys::ENXIO);
    p.vpn_send(&packet(3, 100));
    let after = rig.info(p.link.linkid).counters;
    assert_eq!(after.opackets, before.opackets, "nothing sent up through a hung-up relay");
    assert_eq!(relay_events(&rig, RelayEvent::Hangup), 1, "the hang-up is reported (sdt tuntap-relay)");
    assert_eq!(rig.host.lower_head(&p.name).0, 0, "the module took the hang-up");
    let name = p.name.clone();
    p.vpn.close();
    p.ip.close();
    assert!(rig.host.dld_info(name.as_str()).is_err(), "{name} went away with its last user");
    rig.finish();
}

/// M4: a hang-up while the relay waits for an ack wakes it with the
/// error at once (long before the ack bound).
#[test]
fn a_hangup_during_a_wait_wakes_the_waiter_with_an_error() {
    let rig = Rig::new();
    let p = openvpn_plumb(&rig, false);
    ip_down(&p.ip);
    rig.host.hook(Hook::DldLosesNextAnswer);
    let t0 = Instant::now();
    p.ip.putmsg_proto(&words(&[DL_BIND_REQ, SAP_IPV4, 0, DL_CLDLS, 0]), &[]).unwrap();
    tuntap_tests::app::eventually(WAIT, || if rig.host.hook_armed(Hook::DldLosesNextAnswer) { Err("the bind has not reached dld".into()) } else { Ok(()) })
        .unwrap();
    rig.host.dld_send_up(&p.name, sys::M_HANGUP, &[]);
    ip_told(&rig, &p.ip, sys::ENXIO);
    answered_then_told(&p.ip);
    // The close waits for the control task: done long before the ack
    // bound only if the hang-up woke the waiter.
    p.vpn.close();
    p.ip.close();
    assert!(
        t0.elapsed() < Duration::from_micros(tuntap_drv::dlpi::relay::ACK_WAIT_USEC),
        "the hang-up must wake the relay's waiter with an error, not leave it to the timeout (relay.rs hang_up; \
         review M4)"
    );
    rig.finish();
}

/// M4: dld sends up what the relay has no use for (here `M_CTL`s, more
/// than the lower stream head's `STRHIGH`).  The module frees and counts
/// them: passed on to the head nobody reads, they would fill it, and
/// dld's raw receive (`dld_str_rx_raw`: `canputnext` or free) would drop
/// every frame from then on.
#[test]
fn messages_from_dld_nobody_takes_never_fill_the_lower_head() {
    let rig = Rig::new();
    let p = openvpn_plumb(&rig, false);
    for _ in 0..8 {
        rig.host.dld_send_up(&p.name, sys::M_CTL, &[0u8; 1000]);
    }
    for i in 0..5 {
        let pkt = packet(10 + i, 300);
        p.vpn_send(&pkt);
        match p.ip.getmsg(Some(WAIT)) {
            Ok(m) => assert_eq!(m.data, pkt),
            Err(e) => panic!(
                "packet {i} never reached IP (errno {e}); lower head (bytes queued, frames dld dropped) = {:?}: \
                 the lower stream head is a sink nobody reads, so the relay module must free what it does not \
                 take (review M4; STRHIGH, dld_str_rx_raw)",
                rig.host.lower_head(&p.name)
            ),
        }
    }
    assert_eq!(rig.host.lower_head(&p.name), (0, 0));
    assert_eq!(relay_events(&rig, RelayEvent::Stray), 8, "each is counted (sdt tuntap-relay)");
    p.unplumb();
    rig.finish();
}

/// M2, review s4 M-1: a transient failure to open the lower stream is
/// retried after a pause; twice in a row it fails IP's `DL_ATTACH_REQ`
/// with `DL_SYSERR` and the errno, and is reported.  The fault is what a
/// dlmgmtd restart looks like, `ENOENT` (`dls_devnet_hold_by_name` turns
/// the upcall's `EBADF` into it, dls_mgmt.c), so it must not be taken
/// for "this link is not relayed": that would put one stream of a unit
/// on the private-client path while its siblings relay (dls's client and
/// a private one both want the primary address: the second bind would
/// fail `EBUSY`).
#[test]
fn a_transient_relay_open_failure_is_retried_then_fails_the_attach() {
    let rig = Rig::new();
    rig.host.inject(Fault::LdiOpen, 1);
    // openvpn_plumb's steps, so that a failure names the rule.
    let (vpn, ppa) = new_unit(&rig, true);
    let ip = rig.open_tap(&rig.root);
    ip_push(&ip);
    let ill = ip_dl_phys(&ip, ppa, SAP_IPV4);
    assert_eq!(rig.host.injections_left(Fault::LdiOpen), 0, "the failure was hit");
    let arp = rig.open_tap(&rig.root);
    arp_ll_up(&arp, ppa);
    let mixed = "an ENOENT from the lower stream's open (a dlmgmtd restart: dls_mgmt.c dls_devnet_hold_by_name) must \
                 be retried, not taken as 'not relayed': one stream of a link on the private-client path while its \
                 siblings relay makes the second to bind get EBUSY (relay open_for, Link::relay_path; review M2, s4 M-1)";
    ip_up(&ip, &ill, SAP_IPV4, true).unwrap_or_else(|e| panic!("{e}: {mixed}"));
    both_relay(&rig, &format!("tap{ppa}"), mixed);
    ip_down(&ip);
    arp_ll_down(&arp);
    for s in [arp, ip, vpn] {
        s.close();
    }
    // Two failures in a row: the attach fails, cleanly, and can be retried.
    let (vpn, ppa) = new_unit(&rig, true);
    let ip = rig.open_tap(&rig.root);
    ip_push(&ip);
    rig.host.inject(Fault::LdiOpen, 2);
    let r = request(&ip, &words(&[DL_ATTACH_REQ, ppa]));
    expect_error(&r, DL_ATTACH_REQ, DL_SYSERR);
    assert_eq!(word(&r, 3), sys::ENOENT as u32, "dl_unix_errno: why the lower stream could not be opened");
    assert_eq!(relay_events(&rig, RelayEvent::OpenFailed), 1, "reported (sdt tuntap-relay)");
    let info = InfoAck::parse(&ip_request(&ip, &words(&[DL_INFO_REQ])).unwrap());
    assert_eq!(info.state, DL_UNATTACHED);
    ip_dl_phys(&ip, ppa, SAP_IPV4);
    assert_eq!(rig.host.dld_info(format!("tap{ppa}").as_str()).unwrap().streams, 1, "the retried attach relays");
    ip.close();
    vpn.close();
    rig.finish();
}

/// Review s4 M-1, the other order: tun's IPv4 stream relays and is up,
/// then dlmgmtd restarts as the IPv6 stream attaches (`ENOENT` from the
/// open).  The link is relayed (`Link::relay_path`), so the v6 stream
/// retries after the pause and relays too: both bound through dld, none
/// on a private client.
#[test]
fn a_dlmgmtd_restart_under_the_second_sibling_keeps_it_on_the_relay() {
    let rig = Rig::new();
    rig.host.set_timed_wait_cap(CAP);
    let (vpn, ppa) = new_unit(&rig, false);
    let v4 = rig.open_tun(&rig.root);
    ip_push(&v4);
    let ill4 = ip_dl_phys(&v4, ppa, SAP_IPV4);
    ip_up(&v4, &ill4, SAP_IPV4, false).unwrap();
    let v6 = rig.open_tun(&rig.root);
    ip_push(&v6);
    rig.host.inject(Fault::LdiOpen, 1);
    let mixed = "on a relayed link an ENOENT from the lower stream's open (a dlmgmtd restart: dls_mgmt.c \
                 dls_devnet_hold_by_name) must be retried: falling back to a private client while the sibling \
                 relays makes this bind fail EBUSY (relay open_for, Link::relay_path; review s4 M-1)";
    expect_ok(&request(&v6, &words(&[DL_ATTACH_REQ, ppa])), DL_ATTACH_REQ);
    assert_eq!(rig.host.injections_left(Fault::LdiOpen), 0, "the failure was hit");
    let bind = request(&v6, &words(&[DL_BIND_REQ, SAP_IPV6, 0, DL_CLDLS, 0]));
    assert_eq!(word(&bind, 0), DL_BIND_ACK, "the IPv6 bind: {mixed}");
    both_relay(&rig, &format!("tun{ppa}"), mixed);
    ip_down(&v6);
    ip_down(&v4);
    for s in [v6, v4, vpn] {
        s.close();
    }
    rig.finish();
}

/// L1: a VLAN-tagged frame from dld (a priority-tagged one, VID 0, is
/// what dls hands an untagged stream) is dropped, since old-API IP takes
/// untagged frames only, and counted as a frame of a protocol nobody here
/// takes (`unknowns`, `MAC_STAT_UNKNOWNS`).
#[test]
fn a_tagged_frame_from_dld_is_dropped_and_counted() {
    let rig = Rig::new();
    let p = openvpn_plumb(&rig, false);
    let pkt = packet(4, 100);
    let mut tagged = Vec::new();
    tagged.extend_from_slice(&p.link.mac());
    tagged.extend_from_slice(&p.peer());
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x00, 0x08, 0x00]);
    tagged.extend_from_slice(&pkt);
    let before = rig.info(p.link.linkid).counters.unknowns;
    rig.host.dld_send_up(&p.name, sys::M_DATA, &tagged);
    assert!(p.ip.getmsg(Some(Duration::from_millis(200))).is_err(), "old-API IP gets no tagged frame");
    assert_eq!(
        rig.info(p.link.linkid).counters.unknowns,
        before + 1,
        "a tagged frame the relay drops is counted (review L1)"
    );
    p.unplumb();
    rig.finish();
}

/// M5: the relay module is inert unless the kernel starts it.  A user
/// who pushes `tunrly` on a `/dev/net` stream of their own and sends the
/// start ioctl gets `EPERM` (only `ioc_cr == kcred` starts it, as dld's
/// `ioc_fast` checks `DLIOCHDRINFO`), and what they send and receive
/// passes through the module unchanged.
#[test]
fn a_user_pushed_relay_module_refuses_to_start_and_passes_everything_through() {
    let rig = Rig::new();
    let (vpn, ppa) = new_unit(&rig, false);
    let name = format!("tun{ppa}");
    let u = rig.host.user_open_dev_net(&name, &rig.root).expect("open /dev/net/tunN");
    u.push(tuntap_drv::dlpi::relay::MODULE_NAME).expect("I_PUSH tunrly");
    let mut out = [0u8; 8];
    assert_eq!(
        u.ioctl_istr(tuntap_drv::dlpi::relay::TUNRLY_IOC_START, &mut out),
        Err(sys::EPERM),
        "a user's start ioctl must be refused: only the kernel's credential starts the relay module (relay.rs \
         mod_wput; review M5)"
    );
    assert_eq!(out, [0; 8], "no kernel address handed to a user");
    // Down and back up through the inert module: dld answers a
    // DL_INFO_REQ it does not take with a 16-byte DL_ERROR_ACK.
    u.putmsg(sys::M_PROTO, &words(&[DL_INFO_REQ]));
    tuntap_tests::app::eventually(WAIT, || match u.queued() {
        16 => Ok(()),
        n => Err(format!("{n} bytes at the head: dld's answer must pass up through a module nobody started")),
    })
    .unwrap();
    assert!(rig.host.probes().iter().all(|p| !matches!(p, ProbeRecord::Relay(..))), "nothing counted as a relay's");
    u.close();
    vpn.close();
    rig.finish();
}
