// SPDX-License-Identifier: MPL-2.0
//! What a tap unit passes up to its old-API DLPI streams (dlpi(4P),
//! `usr/src/uts/common/sys/dlpi.h`): frames of a stream's bound SAP to
//! the unit's own address, to broadcast, and to multicast groups that
//! stream joined with `DL_ENABMULTI_REQ`; everything its promiscuous
//! levels (`DL_PROMISCON_REQ`) add; never a frame carrying the unit's own
//! source address.  Each rule: a frame that must be dropped and one that
//! must pass, with several DLPI streams on one unit, checked per stream.
//!
//! "Dropped" is proven without timing: after the frames under test, a
//! broadcast marker of each stream's SAP is written, and everything a
//! stream read before its marker is exactly what it was passed.

use std::sync::atomic::{AtomicU32, Ordering};

use illumos_sys_hdrs::dlpi::*;
use tuntap_sim::SimStream;
use tuntap_tests::dlpi::*;
use tuntap_tests::oldapi::new_ppa;
use tuntap_tests::*;

const PEER: [u8; 6] = [0x02, 0, 0, 0, 0, 9];
const OTHER: [u8; 6] = [0x02, 0, 0, 0, 0, 7];
const GROUP: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb];
const GROUP2: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfc];
const MARK: &[u8] = b"MARKER";

/// A tap unit made by the daemon's stream, with DLPI streams on it.
struct Unit {
    rig: Rig,
    vpn: SimStream,
    ppa: u32,
    own: [u8; 6],
    round: AtomicU32,
}

/// One DLPI stream and the SAP it is bound to.
struct Ip {
    s: SimStream,
    sap: u16,
}

impl Unit {
    fn new() -> Unit {
        let rig = Rig::new();
        let vpn = rig.open_tap(&rig.root);
        let ppa = new_ppa(&vpn);
        let own = rig.driver.links()[0].mac();
        Unit { rig, vpn, ppa, own, round: AtomicU32::new(0) }
    }

    fn stream(&self, sap: u16) -> Ip {
        let s = self.rig.open_tap(&self.rig.root);
        expect_ok(&request(&s, &words(&[DL_ATTACH_REQ, self.ppa])), DL_ATTACH_REQ);
        let bind = request(&s, &words(&[DL_BIND_REQ, u32::from(sap), 0, DL_CLDLS, 0]));
        assert_eq!(word(&bind, 0), DL_BIND_ACK);
        Ip { s, sap }
    }

    fn send(&self, dst: [u8; 6], src: [u8; 6], sap: u16, payload: &[u8]) {
        self.vpn.write(&ether(dst, src, sap, payload)).unwrap();
    }

    /// Everything each stream was passed since the last look (payloads,
    /// checked to be well-formed DL_UNITDATA_IND of the frame's
    /// addresses), up to this round's marker of its SAP.
    fn passed(&self, streams: &[&Ip]) -> Vec<Vec<Vec<u8>>> {
        let round = self.round.fetch_add(1, Ordering::Relaxed);
        let mut saps: Vec<u16> = streams.iter().map(|i| i.sap).collect();
        saps.sort();
        saps.dedup();
        let marker = |sap: u16| [MARK, &round.to_ne_bytes()[..], &sap.to_ne_bytes()[..]].concat();
        for &sap in &saps {
            self.send([0xff; 6], PEER, sap, &marker(sap));
        }
        streams
            .iter()
            .map(|ip| {
                let mut got = Vec::new();
                loop {
                    let ind = read_unitdata(&ip.s);
                    assert_eq!((ind.dst.len(), ind.src.len()), (8, 8), "tap DLSAP addresses");
                    assert_ne!(ind.src[..6], self.own, "a frame with the unit's own source went up");
                    if ind.data == marker(ip.sap) {
                        break;
                    }
                    if !ind.data.starts_with(MARK) {
                        got.push(ind.data);
                    }
                }
                got
            })
            .collect()
    }

    fn req(&self, ip: &Ip, ctl: &[u8]) -> Vec<u8> {
        request(&ip.s, ctl)
    }

    fn finish(self, streams: Vec<Ip>) {
        for ip in streams {
            ip.s.close();
        }
        self.vpn.close();
        self.rig.finish();
    }
}

fn multi_req(prim: u32, addr: &[u8]) -> Vec<u8> {
    let mut r = words(&[prim, addr.len() as u32, 12]);
    r.extend_from_slice(addr);
    r
}

fn none() -> Vec<Vec<u8>> {
    Vec::new()
}

fn one(p: &[u8]) -> Vec<Vec<u8>> {
    vec![p.to_vec()]
}

#[test]
fn unicast_for_another_station_is_dropped_and_to_the_unit_passes() {
    let u = Unit::new();
    let (a, b, c) = (u.stream(0x0800), u.stream(0x0800), u.stream(0x0806));
    u.send(OTHER, PEER, 0x0800, b"for another station");
    assert_eq!(u.passed(&[&a, &b, &c]), [none(), none(), none()], "unicast to another station reached IP");
    u.send(u.own, PEER, 0x0800, b"for us");
    assert_eq!(u.passed(&[&a, &b, &c]), [one(b"for us"), one(b"for us"), none()]);
    // The indication names the frame's addresses and the SAP.
    u.send(u.own, PEER, 0x0806, b"arp for us");
    u.send(u.own, PEER, 0x0806, MARK);
    let ind = read_unitdata(&c.s);
    let sap = 0x0806u16.to_ne_bytes();
    assert_eq!((ind.dst, ind.src, ind.group), ([&u.own[..], &sap].concat(), [&PEER[..], &sap].concat(), false));
    let _ = read_unitdata(&c.s);
    u.finish(vec![a, b, c]);
}

#[test]
fn broadcast_passes_to_every_stream_of_its_sap_only() {
    let u = Unit::new();
    let (a, b, c) = (u.stream(0x0800), u.stream(0x0800), u.stream(0x0806));
    u.send([0xff; 6], PEER, 0x0800, b"ip broadcast");
    u.send([0xff; 6], PEER, 0x0806, b"arp broadcast");
    // A type nobody is bound to goes to mac, not to any DLPI stream.
    u.send([0xff; 6], PEER, 0x86dd, b"v6 broadcast");
    assert_eq!(u.passed(&[&a, &b, &c]), [one(b"ip broadcast"), one(b"ip broadcast"), one(b"arp broadcast")]);
    u.finish(vec![a, b, c]);
}

#[test]
fn multicast_reaches_only_streams_that_joined_the_group() {
    let u = Unit::new();
    let (a, b) = (u.stream(0x0800), u.stream(0x0800));
    u.send(GROUP, PEER, 0x0800, b"not joined");
    assert_eq!(u.passed(&[&a, &b]), [none(), none()], "a multicast group nobody joined reached IP");
    expect_ok(&u.req(&a, &multi_req(DL_ENABMULTI_REQ, &GROUP)), DL_ENABMULTI_REQ);
    expect_ok(&u.req(&b, &multi_req(DL_ENABMULTI_REQ, &GROUP2)), DL_ENABMULTI_REQ);
    u.send(GROUP, PEER, 0x0800, b"group one");
    u.send(GROUP2, PEER, 0x0800, b"group two");
    assert_eq!(u.passed(&[&a, &b]), [one(b"group one"), one(b"group two")]);
    expect_ok(&u.req(&a, &multi_req(DL_DISABMULTI_REQ, &GROUP)), DL_DISABMULTI_REQ);
    u.send(GROUP, PEER, 0x0800, b"left");
    assert_eq!(u.passed(&[&a, &b]), [none(), none()], "a group left with DL_DISABMULTI_REQ still reached IP");
    // Detach and attach again: the stream starts with no groups.
    expect_ok(&u.req(&b, &words(&[DL_UNBIND_REQ])), DL_UNBIND_REQ);
    expect_ok(&u.req(&b, &words(&[DL_DETACH_REQ])), DL_DETACH_REQ);
    expect_ok(&u.req(&b, &words(&[DL_ATTACH_REQ, u.ppa])), DL_ATTACH_REQ);
    expect_error(&u.req(&b, &multi_req(DL_DISABMULTI_REQ, &GROUP2)), DL_DISABMULTI_REQ, DL_NOTENAB);
    u.finish(vec![a, b]);
}

#[test]
fn frames_with_the_units_own_source_are_not_looped_back() {
    let u = Unit::new();
    let (a, b) = (u.stream(0x0800), u.stream(0x0800));
    expect_ok(&u.req(&b, &words(&[DL_PROMISCON_REQ, DL_PROMISC_PHYS])), DL_PROMISCON_REQ);
    u.send(u.own, u.own, 0x0800, b"to us from us");
    u.send([0xff; 6], u.own, 0x0800, b"broadcast from us");
    assert_eq!(u.passed(&[&a, &b]), [none(), none()], "a frame with the unit's own source address went up");
    u.send([0xff; 6], PEER, 0x0800, b"broadcast from the peer");
    assert_eq!(u.passed(&[&a, &b]), [one(b"broadcast from the peer"), one(b"broadcast from the peer")]);
    u.finish(vec![a, b]);
}

#[test]
fn promiscuous_levels_widen_one_stream_only_until_turned_off() {
    let u = Unit::new();
    let (a, b, c) = (u.stream(0x0800), u.stream(0x0800), u.stream(0x0806));
    // DL_PROMISC_PHYS: every destination, for b only.
    expect_ok(&u.req(&b, &words(&[DL_PROMISCON_REQ, DL_PROMISC_PHYS])), DL_PROMISCON_REQ);
    u.send(OTHER, PEER, 0x0800, b"phys");
    assert_eq!(u.passed(&[&a, &b, &c]), [none(), one(b"phys"), none()]);
    expect_ok(&u.req(&b, &words(&[DL_PROMISCOFF_REQ, DL_PROMISC_PHYS])), DL_PROMISCOFF_REQ);
    u.send(OTHER, PEER, 0x0800, b"phys off");
    assert_eq!(u.passed(&[&a, &b, &c]), [none(), none(), none()], "DL_PROMISCOFF_REQ left the stream promiscuous");
    // DL_PROMISC_SAP: every SAP, for c (bound to ARP) only.  A type no
    // stream is bound to still goes on to mac as well.
    expect_ok(&u.req(&c, &words(&[DL_PROMISCON_REQ, DL_PROMISC_SAP])), DL_PROMISCON_REQ);
    let before = u.rig.info(u.rig.driver.links()[0].linkid).counters.ipackets;
    u.send(u.own, PEER, 0x0800, b"ip for us");
    u.send(u.own, PEER, 0x86dd, b"v6 for us");
    assert_eq!(u.passed(&[&a, &b, &c]), [one(b"ip for us"), one(b"ip for us"), vec![b"ip for us".to_vec(), b"v6 for us".to_vec()]]);
    let after = u.rig.info(u.rig.driver.links()[0].linkid).counters.ipackets;
    // ip for us, v6 (to the stream and to mac), the markers of 0x0800 and 0x0806.
    assert_eq!(after - before, 2 + 2, "each frame counted once");
    expect_ok(&u.req(&c, &words(&[DL_PROMISCOFF_REQ, DL_PROMISC_SAP])), DL_PROMISCOFF_REQ);
    u.send(u.own, PEER, 0x0800, b"sap off");
    assert_eq!(u.passed(&[&a, &b, &c]), [one(b"sap off"), one(b"sap off"), none()]);
    // DL_PROMISC_MULTI: every group, for a only.
    expect_ok(&u.req(&a, &words(&[DL_PROMISCON_REQ, DL_PROMISC_MULTI])), DL_PROMISCON_REQ);
    u.send(GROUP, PEER, 0x0800, b"any group");
    assert_eq!(u.passed(&[&a, &b, &c]), [one(b"any group"), none(), none()]);
    expect_ok(&u.req(&a, &words(&[DL_PROMISCOFF_REQ, DL_PROMISC_MULTI])), DL_PROMISCOFF_REQ);
    u.send(GROUP, PEER, 0x0800, b"multi off");
    assert_eq!(u.passed(&[&a, &b, &c]), [none(), none(), none()]);
    u.finish(vec![a, b, c]);
}

/// The bad-input twin of every receive-filter primitive: the exact error,
/// and (at `finish`) nothing leaked.
#[test]
fn receive_filter_requests_with_bad_input_get_precise_errors() {
    let u = Unit::new();
    let unattached = Ip { s: u.rig.open_tap(&u.rig.root), sap: 0 };
    let a = u.stream(0x0800);
    for prim in [DL_ENABMULTI_REQ, DL_DISABMULTI_REQ] {
        expect_error(&u.req(&a, &words(&[prim, 6])), prim, DL_BADPRIM);
        expect_error(&u.req(&a, &words(&[prim, 6, 400])), prim, DL_BADPRIM);
        expect_error(&u.req(&unattached, &multi_req(prim, &GROUP)), prim, DL_OUTSTATE);
        expect_error(&u.req(&a, &multi_req(prim, &GROUP[..4])), prim, DL_BADADDR);
    }
    expect_error(&u.req(&a, &multi_req(DL_ENABMULTI_REQ, &OTHER)), DL_ENABMULTI_REQ, DL_BADADDR);
    expect_error(&u.req(&a, &multi_req(DL_DISABMULTI_REQ, &GROUP)), DL_DISABMULTI_REQ, DL_NOTENAB);
    for i in 0..32u8 {
        expect_ok(&u.req(&a, &multi_req(DL_ENABMULTI_REQ, &[0x01, 0, 0x5e, 0, 1, i])), DL_ENABMULTI_REQ);
    }
    expect_ok(&u.req(&a, &multi_req(DL_ENABMULTI_REQ, &[0x01, 0, 0x5e, 0, 1, 0])), DL_ENABMULTI_REQ);
    expect_error(&u.req(&a, &multi_req(DL_ENABMULTI_REQ, &GROUP)), DL_ENABMULTI_REQ, DL_TOOMANY);
    for prim in [DL_PROMISCON_REQ, DL_PROMISCOFF_REQ] {
        expect_error(&u.req(&a, &words(&[prim])), prim, DL_BADPRIM);
        expect_error(&u.req(&unattached, &words(&[prim, DL_PROMISC_PHYS])), prim, DL_OUTSTATE);
        expect_error(&u.req(&a, &words(&[prim, 9])), prim, DL_NOTSUPPORTED);
    }
    expect_error(&u.req(&a, &words(&[DL_PROMISCOFF_REQ, DL_PROMISC_SAP])), DL_PROMISCOFF_REQ, DL_NOTENAB);
    // A tun stream has no link addresses: no multicast list.
    let tun_vpn = u.rig.open_tun(&u.rig.root);
    let tun_ppa = new_ppa(&tun_vpn);
    let tun_ip = u.rig.open_tun(&u.rig.root);
    expect_ok(&request(&tun_ip, &words(&[DL_ATTACH_REQ, tun_ppa])), DL_ATTACH_REQ);
    expect_error(&request(&tun_ip, &multi_req(DL_ENABMULTI_REQ, &GROUP)), DL_ENABMULTI_REQ, DL_NOTSUPPORTED);
    tun_ip.close();
    tun_vpn.close();
    unattached.s.close();
    u.finish(vec![a]);
}
