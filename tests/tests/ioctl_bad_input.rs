// SPDX-License-Identifier: MPL-2.0
//! Every ioctl's bad-input twins: short and oversize payloads, unknown
//! versions, flags and reserved bits, wrong node, missing privilege,
//! another zone's link, values out of range; each with its precise
//! errno, and each followed by proof that nothing changed (no link made
//! or lost, the good request still works).  Create, attach and delete
//! twins of names and modes are in `driver.rs`.

use illumos_sys_hdrs as sys;
use tuntap_abi::{self as abi, attach_flags, create_flags, mode, modify_what, Pod};
use tuntap_sim::{CredSpec, Privileges, SimStream};
use tuntap_tests::*;

/// The payload one byte short, one byte long and empty are all EINVAL.
fn refuses_wrong_sizes(s: &SimStream, cmd: i32, good: &[u8]) {
    assert_eq!(s.ioctl_istr(cmd, &good[..good.len() - 1]).err(), Some(sys::EINVAL), "cmd {cmd:#x} short");
    let mut long = good.to_vec();
    long.push(0);
    assert_eq!(s.ioctl_istr(cmd, &long).err(), Some(sys::EINVAL), "cmd {cmd:#x} oversize");
    assert_eq!(s.ioctl_istr(cmd, &[]).err(), Some(sys::EINVAL), "cmd {cmd:#x} empty");
}

/// Version 0 and a future version are ENOTSUP.
fn refuses_other_versions<T: Pod>(s: &SimStream, cmd: i32, good: &T) {
    for v in [0u32, abi::TUN_ABI_VERSION + 1] {
        let mut b = abi::as_bytes(good).to_vec();
        b[..4].copy_from_slice(&v.to_ne_bytes());
        assert_eq!(s.ioctl_istr(cmd, &b).err(), Some(sys::ENOTSUP), "cmd {cmd:#x} version {v}");
    }
}

fn zone_admin(rig: &Rig, name: &str) -> tuntap_sim::SimCred {
    let zone = rig.host.create_zone(name);
    rig.host.cred(CredSpec { uid: 0, gid: 0, groups: vec![], zone, privs: Privileges { dl_config: true, ..Default::default() } })
}

#[test]
fn delete_twins() {
    let rig = Rig::new();
    let id = rig.create("vpn0", create_flags::TUN);
    let ctl = rig.open_ctl(&rig.root);
    let good = abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags: 0, linkid: id, _pad: 0 };
    refuses_wrong_sizes(&ctl, abi::TUN_IOC_DELETE, abi::as_bytes(&good));
    refuses_other_versions(&ctl, abi::TUN_IOC_DELETE, &good);
    let cases = [
        (abi::TunIocDelete { flags: 0x8000_0000, ..good }, sys::EINVAL),
        (abi::TunIocDelete { _pad: 1, ..good }, sys::EINVAL),
        (abi::TunIocDelete { linkid: id + 1000, ..good }, sys::ENOENT),
    ];
    for (req, errno) in cases {
        assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&req)).err(), Some(errno), "{req:?}");
    }
    let user = rig.host.user_cred(1000, 1000, 0);
    assert_eq!(rig.open_ctl(&user).ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&good)).err(), Some(sys::EPERM));
    let other = zone_admin(&rig, "z1");
    assert_eq!(rig.open_ctl(&other).ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&good)).err(), Some(sys::ENOENT), "another zone's link does not exist for it");
    // On a queue node it is not a command at all.
    let q = rig.open_tun(&rig.root);
    assert_eq!(q.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&good)).err(), Some(sys::EINVAL));
    assert_eq!(rig.driver.links().len(), 1, "nothing was deleted by a bad request");
    ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&good)).unwrap();
    assert!(rig.driver.links().is_empty());
    q.close();
    rig.finish();
}

#[test]
fn info_twins() {
    let rig = Rig::new();
    let id = rig.create("vpn0", create_flags::TUN);
    let ctl = rig.open_ctl(&rig.root);
    let good = abi::TunIocInfo { version: abi::TUN_ABI_VERSION, linkid: id, ..Default::default() };
    refuses_wrong_sizes(&ctl, abi::TUN_IOC_INFO, abi::as_bytes(&good));
    refuses_other_versions(&ctl, abi::TUN_IOC_INFO, &good);
    let missing = abi::TunIocInfo { linkid: id + 1000, ..good };
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_INFO, abi::as_bytes(&missing)).err(), Some(sys::ENOENT));
    // "This queue's link" on a stream that has none.
    let own = abi::TunIocInfo { linkid: abi::DATALINK_INVALID_LINKID, ..good };
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_INFO, abi::as_bytes(&own)).err(), Some(sys::ENXIO));
    let other = zone_admin(&rig, "z1");
    assert_eq!(rig.open_ctl(&other).ioctl_istr(abi::TUN_IOC_INFO, abi::as_bytes(&good)).err(), Some(sys::ENOENT));
    // Reading is not a privileged act (dladm show-link is not either).
    let user = rig.host.user_cred(1000, 1000, 0);
    let r: abi::TunIocInfo = decode(&rig.open_ctl(&user).ioctl_istr(abi::TUN_IOC_INFO, abi::as_bytes(&good)).unwrap().data);
    assert_eq!((r.linkid, r.mtu), (id, 1500));
    // A queue asks about its own link.
    let q = rig.attach("vpn0", mode::TUN);
    let r: abi::TunIocInfo = decode(&q.ioctl_istr(abi::TUN_IOC_INFO, abi::as_bytes(&own)).unwrap().data);
    assert_eq!(r.linkid, id);
    q.close();
    rig.finish();
}

fn list_page(ctl: &SimStream, after: u32) -> abi::TunIocList {
    let mut req: abi::TunIocList = decode(&[0u8; std::mem::size_of::<abi::TunIocList>()]);
    req.version = abi::TUN_ABI_VERSION;
    req.after = after;
    decode(&ctl.ioctl_istr(abi::TUN_IOC_LIST, abi::as_bytes(&req)).unwrap().data)
}

#[test]
fn list_twins_and_paging() {
    let rig = Rig::new();
    let ctl = rig.open_ctl(&rig.root);
    let ids: Vec<_> = (0..70).map(|i| rig.create(&format!("vpn{i}"), create_flags::TUN)).collect();
    let good = abi::TunIocList { version: abi::TUN_ABI_VERSION, after: 0, count: 0, more: 0, linkids: [0; abi::LIST_PAGE] };
    refuses_wrong_sizes(&ctl, abi::TUN_IOC_LIST, abi::as_bytes(&good));
    refuses_other_versions(&ctl, abi::TUN_IOC_LIST, &good);
    let page = |after: u32| list_page(&ctl, after);
    let first = page(0);
    assert_eq!((first.count, first.more), (abi::LIST_PAGE as u32, 1));
    let second = page(first.linkids[abi::LIST_PAGE - 1]);
    assert_eq!((second.count, second.more), (6, 0));
    let mut all: Vec<_> = first.linkids.to_vec();
    all.extend_from_slice(&second.linkids[..6]);
    assert_eq!(all, ids, "every link once, in id order");
    // Past the end, and the largest id: an empty last page, not an error.
    let end = page(u32::MAX);
    assert_eq!((end.count, end.more), (0, 0));
    // Garbage in the output fields of the request is ignored and overwritten.
    let dirty = abi::TunIocList { count: 999, more: 7, linkids: [0xdead; abi::LIST_PAGE], ..good };
    let r: abi::TunIocList = decode(&ctl.ioctl_istr(abi::TUN_IOC_LIST, abi::as_bytes(&dirty)).unwrap().data);
    assert_eq!((r.count, r.linkids[0]), (abi::LIST_PAGE as u32, ids[0]));
    rig.finish();
}

#[test]
fn modify_twins() {
    let rig = Rig::new();
    let id = rig.create("vpn0", create_flags::TAP);
    let ctl = rig.open_ctl(&rig.root);
    let good = abi::TunIocModify {
        version: abi::TUN_ABI_VERSION,
        what: modify_what::MTU | modify_what::OWNER,
        linkid: id,
        mtu: 9000,
        owner: 1000,
        group: 0,
        persist: 0,
        carrier: 0,
        mac: [0; 6],
        _pad: [0; 2],
    };
    refuses_wrong_sizes(&ctl, abi::TUN_IOC_MODIFY, abi::as_bytes(&good));
    refuses_other_versions(&ctl, abi::TUN_IOC_MODIFY, &good);
    let cases = [
        (abi::TunIocModify { what: 0x4000_0000, ..good }, sys::EINVAL),
        (abi::TunIocModify { _pad: [0, 1], ..good }, sys::EINVAL),
        (abi::TunIocModify { mtu: 575, ..good }, sys::EINVAL),
        (abi::TunIocModify { mtu: 65_536, ..good }, sys::EINVAL),
        (abi::TunIocModify { what: modify_what::MAC, mac: [1, 2, 3, 4, 5, 6], ..good }, sys::EINVAL),
        (abi::TunIocModify { what: modify_what::MAC, mac: [0; 6], ..good }, sys::EINVAL),
        (abi::TunIocModify { what: modify_what::PERSIST, persist: 2, ..good }, sys::EINVAL),
        (abi::TunIocModify { what: modify_what::CARRIER, carrier: 7, ..good }, sys::EINVAL),
        (abi::TunIocModify { linkid: id + 1000, ..good }, sys::ENOENT),
    ];
    for (req, errno) in cases {
        assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_MODIFY, abi::as_bytes(&req)).err(), Some(errno), "{req:?}");
    }
    let user = rig.host.user_cred(1000, 1000, 0);
    assert_eq!(rig.open_ctl(&user).ioctl_istr(abi::TUN_IOC_MODIFY, abi::as_bytes(&good)).err(), Some(sys::EPERM));
    let other = zone_admin(&rig, "z1");
    assert_eq!(rig.open_ctl(&other).ioctl_istr(abi::TUN_IOC_MODIFY, abi::as_bytes(&good)).err(), Some(sys::ENOENT));
    let info = rig.info(id);
    assert_eq!((info.mtu, info.owner), (1500, abi::TUN_NO_ID), "no bad request changed anything");
    ctl.ioctl_istr(abi::TUN_IOC_MODIFY, abi::as_bytes(&good)).unwrap();
    let info = rig.info(id);
    assert_eq!((info.mtu, info.owner), (9000, 1000));
    let mac = [0x02, 0, 0, 0, 0, 0x42];
    ctl.ioctl_istr(abi::TUN_IOC_MODIFY, abi::as_bytes(&abi::TunIocModify { what: modify_what::MAC, mac, ..good })).unwrap();
    assert_eq!(rig.info(id).mac, mac);
    rig.finish();
}

#[test]
fn attach_and_detach_twins() {
    let rig = Rig::new();
    rig.create("vpn0", create_flags::TUN);
    let q = rig.open_tun(&rig.root);
    let good = abi::TunIocAttach::new("vpn0", mode::TUN).unwrap();
    refuses_wrong_sizes(&q, abi::TUN_IOC_ATTACH, abi::as_bytes(&good));
    refuses_other_versions(&q, abi::TUN_IOC_ATTACH, &good);
    let cases = [
        (abi::TunIocAttach { flags: 0x0100_0000, ..good }, sys::EINVAL),
        (abi::TunIocAttach { _pad: 3, ..good }, sys::EINVAL),
        (abi::TunIocAttach { flags: mode::TUN | mode::TAP, ..good }, sys::EINVAL),
        (abi::TunIocAttach { name: [0; 32], ..good }, sys::EINVAL),
        (abi::TunIocAttach { name: [b'x'; 32], ..good }, sys::EINVAL),
    ];
    for (req, errno) in cases {
        assert_eq!(q.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&req)).err(), Some(errno), "{req:?}");
    }
    // Another zone does not see the link, even with privilege.
    let other = zone_admin(&rig, "z1");
    let zq = rig.open_tun(&other);
    assert_eq!(zq.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&good)).err(), Some(sys::ENOENT));
    assert_eq!(rig.info(rig.driver.links()[0].linkid).nqueues, 0);
    q.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&good)).unwrap();
    // A second attach on the same queue.
    assert_eq!(q.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&good)).err(), Some(sys::EBUSY));
    // DETACH takes no argument.
    assert_eq!(q.ioctl_istr(abi::TUN_IOC_DETACH, &[0]).err(), Some(sys::EINVAL));
    assert_eq!(rig.info(rig.driver.links()[0].linkid).nqueues, 1, "still attached");
    q.ioctl_istr(abi::TUN_IOC_DETACH, &[]).unwrap();
    assert_eq!(q.ioctl_istr(abi::TUN_IOC_DETACH, &[]).err(), Some(sys::ENXIO));
    // Attach-with-create needs privilege.
    let user = rig.host.user_cred(1000, 1000, 0);
    let uq = rig.open_tun(&user);
    let create = abi::TunIocAttach::new("new0", attach_flags::CREATE).unwrap();
    assert_eq!(uq.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&create)).err(), Some(sys::EPERM));
    assert_eq!(rig.driver.links().len(), 1, "no link made");
    for s in [q, zq, uq] {
        s.close();
    }
    rig.finish();
}

#[test]
fn per_queue_setter_twins() {
    let rig = Rig::new();
    let id = rig.create("vpn0", create_flags::TUN);
    let unattached = rig.open_tun(&rig.root);
    let q = rig.attach("vpn0", mode::TUN | attach_flags::MULTI_QUEUE);
    let ctl = rig.open_ctl(&rig.root);
    for cmd in [abi::TUN_IOC_SET_OWNER, abi::TUN_IOC_SET_GROUP, abi::TUN_IOC_SET_PERSIST, abi::TUN_IOC_SET_CARRIER] {
        refuses_wrong_sizes(&q, cmd, &1u32.to_ne_bytes());
        assert_eq!(unattached.ioctl_istr(cmd, &1u32.to_ne_bytes()).err(), Some(sys::ENXIO), "cmd {cmd:#x} unattached");
        assert_eq!(ctl.ioctl_istr(cmd, &1u32.to_ne_bytes()).err(), Some(sys::EINVAL), "cmd {cmd:#x} on the control node");
    }
    for cmd in [abi::TUN_IOC_SET_PERSIST, abi::TUN_IOC_SET_CARRIER] {
        assert_eq!(q.ioctl_istr(cmd, &2u32.to_ne_bytes()).err(), Some(sys::EINVAL), "cmd {cmd:#x} is a boolean");
    }
    // A user who is neither owner nor privileged, on a queue attached by
    // root, may not change the link.
    q.ioctl_istr(abi::TUN_IOC_SET_OWNER, &2000u32.to_ne_bytes()).unwrap();
    let user = rig.host.user_cred(1000, 1000, 0);
    let uq = rig.open_tun(&user);
    let att = abi::TunIocAttach::new("vpn0", attach_flags::MULTI_QUEUE).unwrap();
    assert_eq!(uq.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&att)).err(), Some(sys::EPERM));
    let owner = rig.host.user_cred(2000, 2000, 0);
    let oq = rig.open_tun(&owner);
    oq.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&att)).unwrap();
    // The owner may hand the link on; then it may no longer take it back.
    oq.ioctl_istr(abi::TUN_IOC_SET_OWNER, &3000u32.to_ne_bytes()).unwrap();
    assert_eq!(oq.ioctl_istr(abi::TUN_IOC_SET_OWNER, &2000u32.to_ne_bytes()).err(), Some(sys::EPERM));
    assert_eq!(rig.info(id).owner, 3000);
    q.ioctl_istr(abi::TUN_IOC_SET_PERSIST, &1u32.to_ne_bytes()).unwrap();
    assert_ne!(rig.info(id).state_flags & abi::info_flags::PERSIST, 0);
    for s in [unattached, q, ctl, uq, oq] {
        s.close();
    }
    rig.finish();
}

#[test]
fn queue_limits_twins() {
    let rig = Rig::new();
    rig.create("vpn0", create_flags::TUN);
    let q = rig.attach("vpn0", mode::TUN);
    let good = abi::TunIocQueueLimits { version: abi::TUN_ABI_VERSION, max_packets: 10, max_bytes: 0, _pad: 0 };
    refuses_wrong_sizes(&q, abi::TUN_IOC_QUEUE_LIMITS, abi::as_bytes(&good));
    refuses_other_versions(&q, abi::TUN_IOC_QUEUE_LIMITS, &good);
    let cases = [
        abi::TunIocQueueLimits { max_packets: 65_537, ..good },
        abi::TunIocQueueLimits { max_bytes: 256 * 1024 * 1024 + 1, ..good },
        abi::TunIocQueueLimits { _pad: 1, ..good },
    ];
    for req in cases {
        assert_eq!(q.ioctl_istr(abi::TUN_IOC_QUEUE_LIMITS, abi::as_bytes(&req)).err(), Some(sys::EINVAL), "{req:?}");
    }
    let ctl = rig.open_ctl(&rig.root);
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_QUEUE_LIMITS, abi::as_bytes(&good)).err(), Some(sys::EINVAL), "not a queue");
    // 0 keeps a value; the reply carries what is in force.
    let query = abi::TunIocQueueLimits { max_packets: 0, ..good };
    let before: abi::TunIocQueueLimits = decode(&q.ioctl_istr(abi::TUN_IOC_QUEUE_LIMITS, abi::as_bytes(&query)).unwrap().data);
    assert_eq!((before.max_packets, before.max_bytes), (1024, 4 * 1024 * 1024), "defaults, unchanged by the refused requests");
    let set: abi::TunIocQueueLimits = decode(&q.ioctl_istr(abi::TUN_IOC_QUEUE_LIMITS, abi::as_bytes(&good)).unwrap().data);
    assert_eq!((set.max_packets, set.max_bytes), (10, 4 * 1024 * 1024));
    q.close();
    ctl.close();
    rig.finish();
}

#[test]
fn queue_limits_set_before_attach_survive_the_attach() {
    let rig = Rig::new();
    rig.create("vpn0", create_flags::TUN);
    let q = rig.open_tun(&rig.root);
    let small = abi::TunIocQueueLimits { version: abi::TUN_ABI_VERSION, max_packets: 7, max_bytes: 9000, _pad: 0 };
    q.ioctl_istr(abi::TUN_IOC_QUEUE_LIMITS, abi::as_bytes(&small)).expect("limits before attach");
    let att = abi::TunIocAttach::new("vpn0", mode::TUN).unwrap();
    q.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&att)).expect("attach");
    let query = abi::TunIocQueueLimits { max_packets: 0, max_bytes: 0, ..small };
    let now: abi::TunIocQueueLimits = decode(&q.ioctl_istr(abi::TUN_IOC_QUEUE_LIMITS, abi::as_bytes(&query)).unwrap().data);
    assert_eq!((now.max_packets, now.max_bytes), (7, 9000), "the attach kept the limits the reader asked for");
    q.close();
    rig.finish();
}

#[test]
fn old_api_twins() {
    let rig = Rig::new();
    let newppa = |s: &SimStream, arg: &[u8]| s.ioctl_istr(abi::TUNNEWPPA, arg).map(|r| r.rval);
    let s = rig.open_tun(&rig.root);
    // An int, exactly.
    assert_eq!(newppa(&s, &[0, 0, 0]), Err(sys::EINVAL));
    assert_eq!(newppa(&s, &[0; 5]), Err(sys::EINVAL));
    assert_eq!(newppa(&s, &[]), Err(sys::EINVAL));
    assert_eq!(s.ioctl_istr(abi::TUNSETPPA, &[0; 8]).err(), Some(sys::EINVAL));
    assert_eq!(s.ioctl_istr(abi::TUNSETPPA, &(-1i32).to_ne_bytes()).err(), Some(sys::EINVAL), "SETPPA needs a unit");
    assert_eq!(s.ioctl_istr(abi::TUNGETPPA, &[]).err(), Some(sys::ENODEV), "no unit yet");
    // Not on the control node; not without privilege.
    let ctl = rig.open_ctl(&rig.root);
    assert_eq!(newppa(&ctl, &(-1i32).to_ne_bytes()), Err(sys::EINVAL));
    let user = rig.host.user_cred(1000, 1000, 0);
    let us = rig.open_tun(&user);
    assert_eq!(newppa(&us, &(-1i32).to_ne_bytes()), Err(sys::EPERM));
    assert!(rig.driver.links().is_empty(), "no unit made by a refused request");
    assert_eq!(newppa(&s, &(-1i32).to_ne_bytes()), Ok(0));
    // A second unit on the same stream, and joining a unit as a stranger.
    assert_eq!(newppa(&s, &(-1i32).to_ne_bytes()), Err(sys::EBUSY));
    assert_eq!(us.ioctl_istr(abi::TUNSETPPA, &0i32.to_ne_bytes()).err(), Some(sys::EPERM));
    // Transparent: a value that is neither a unit nor a pointer.
    let t = rig.open_tun(&rig.root);
    assert_eq!(t.ioctl_transparent(abi::TUNNEWPPA, (-2isize) as usize).err(), Some(sys::EFAULT));
    assert_eq!(t.ioctl_transparent(abi::TUNSETPPA, 0x7000_0000).err(), Some(sys::EFAULT), "unmapped pointer");
    assert_eq!(rig.driver.links().len(), 1);
    for x in [s, ctl, us, t] {
        x.close();
    }
    assert!(rig.driver.links().is_empty(), "the old-API unit went with its stream");
    rig.finish();
}

#[test]
fn create_checks_the_link_id_with_dlmgmtd_and_reserved_bits() {
    let rig = Rig::new();
    let ctl = rig.open_ctl(&rig.root);
    let id = rig.link_id(&rig.root, "vpn0");
    let good = abi::TunIocCreate::new("vpn0", create_flags::TUN, id).unwrap();
    refuses_other_versions(&ctl, abi::TUN_IOC_CREATE, &good);
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&abi::TunIocCreate { _pad: [9, 0], ..good })).err(), Some(sys::EINVAL));
    // Another zone's admin may not take a link id of the global zone: it
    // is the id the global zone has for that name (dls_mgmt_get_linkid
    // from the driver's taskq answers for the global zone).
    let other = zone_admin(&rig, "z1");
    assert_eq!(rig.open_ctl(&other).ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&good)).err(), Some(sys::EINVAL));
    // The id must be the one dlmgmtd gave this very name...
    let id1 = rig.link_id(&rig.root, "vpn1");
    let swapped = abi::TunIocCreate::new("vpn0", create_flags::TUN, id1).unwrap();
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&swapped)).err(), Some(sys::EINVAL));
    // ...for a MISC/Ether link, not a link of another class.
    let vnic = rig.host.dlmgmt_create_id(&rig.root, "vnic0", sys::DATALINK_CLASS_VNIC, sys::DL_ETHER, tuntap_sim::DlFlags::ACTIVE).unwrap();
    let wrong_class = abi::TunIocCreate::new("vnic0", create_flags::TUN, vnic).unwrap();
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&wrong_class)).err(), Some(sys::EINVAL));
    // A name dlmgmtd never gave that id.
    let unknown = abi::TunIocCreate::new("ghost0", create_flags::TUN, id).unwrap();
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&unknown)).err(), Some(sys::EINVAL));
    // An id dlmgmtd never handed out.
    let nowhere = abi::TunIocCreate::new("vpn0", create_flags::TUN, id + 1000).unwrap();
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&nowhere)).err(), Some(sys::ENOENT));
    assert!(rig.driver.links().is_empty(), "no refused request made a link");
    ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&good)).unwrap();
    assert_eq!(rig.driver.links().len(), 1);
    rig.finish();
}
