// SPDX-License-Identifier: MPL-2.0
//! mac provider rules, clients, snoop, props, stats, dls and dlmgmtd.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use illumos_sys_hdrs::*;
use tuntap_abi::LinkName;
use tuntap_drv::ddi::{Kernel, LinkState, PropPerm};
use tuntap_drv::sync::KMutex;
use tuntap_sim::{DlError, DlFlags, ViolationKind};

const SEC: Duration = Duration::from_secs(5);

#[test]
fn register_rules() {
    let host = new_host();
    let m = FakeMac::new(host.kernel());
    assert_eq!(m.register(&NO_GETSTAT_CB.0, |_| {}), Err(EINVAL));
    host.expect_violation(ViolationKind::MacRegister);
    assert_eq!(m.register(&FULL_CB.0, |r| r.m_max_sdu = 0), Err(EINVAL));
    host.expect_violation(ViolationKind::MacRegister);
    assert_eq!(m.register(&FULL_CB.0, |r| { r.m_min_sdu = 1500; r.m_max_sdu = 1500 }), Err(EINVAL));
    host.expect_violation(ViolationKind::MacRegister);
    assert_eq!(m.register(&FULL_CB.0, |r| r.m_src_addr = std::ptr::null_mut()), Err(EINVAL));
    host.expect_violation(ViolationKind::MacRegister);
    assert_eq!(m.register(&FULL_CB.0, |r| r.m_type_ident = c"mac_wifi".as_ptr()), Err(EINVAL));
    host.expect_violation(ViolationKind::MacRegister);
    assert_eq!(m.register(&FULL_CB.0, |r| r.m_instance = MAC_MAX_MINOR), Err(EINVAL));
    host.expect_violation(ViolationKind::MacRegister);
    assert_eq!(m.register(&FULL_CB.0, |r| r.m_version = 2), Err(EINVAL));
    host.expect_violation(ViolationKind::MacRegister);
    let mh = m.register(&FULL_CB.0, |_| {}).unwrap();
    let info = host.mac_info(mh).unwrap();
    assert_eq!((info.sdu_min, info.sdu_max, info.margin), (0, 1500, 4));
    assert_eq!(info.addr, m.addr);
    assert_eq!(info.multicast_sdu, 1500);
    host.kernel().mac_unregister(mh).unwrap();
    // The handle is dead now.
    host.kernel().mac_link_update(mh, LinkState::Up);
    host.expect_violation(ViolationKind::BadHandle);
    host.finish();
}

#[test]
fn unregister_refused_while_in_use() {
    let host = new_host();
    let k = host.kernel();
    let m = link(&host, "tap0");
    let mh = m.mh();
    // The devnet holds the mac.
    assert_eq!(k.mac_disable(mh), Err(EBUSY));
    assert_eq!(k.mac_unregister(mh), Err(EBUSY));
    let c = host.mac_client_open("tap0").unwrap();
    assert_eq!(m.started.load(Ordering::SeqCst), 1);
    assert_eq!(k.dls_devnet_destroy(mh), Err(EBUSY));
    drop(c);
    assert_eq!(m.stopped.load(Ordering::SeqCst), 1);
    let id = k.dls_devnet_destroy(mh).unwrap();
    // A client can still hold the mac by handle.
    let c = host.mac_client_open(mh).unwrap();
    assert_eq!(k.mac_unregister(mh), Err(EBUSY));
    drop(c);
    k.mac_disable(mh).unwrap();
    k.mac_unregister(mh).unwrap();
    host.dlmgmt_destroy_id(&host.root_cred(), id, DlFlags::ACTIVE).unwrap();
    host.finish();
}

#[test]
fn rx_to_clients_and_snoop() {
    let host = new_host();
    let k = host.kernel();
    let m = link(&host, "tap0");
    let c = host.mac_client_open("tap0").unwrap();
    let sn = host.snoop("tap0").unwrap();
    assert!(m.promisc.load(Ordering::SeqCst));
    let a = alloc_data(&k, M_DATA, b"frame-a");
    let b = alloc_data(&k, M_DATA, b"frame-b");
    unsafe { (*a).b_next = b };
    unsafe { k.mac_rx(m.mh(), a) };
    assert_eq!(c.recv(SEC).unwrap(), b"frame-a");
    assert_eq!(c.recv(SEC).unwrap(), b"frame-b");
    assert_eq!(sn.recv(SEC).unwrap(), (false, b"frame-a".to_vec()));
    assert_eq!(sn.recv(SEC).unwrap(), (false, b"frame-b".to_vec()));
    k.mac_link_update(m.mh(), LinkState::Up);
    assert_eq!(c.link_state(), LinkState::Up);
    drop(sn);
    assert!(!m.promisc.load(Ordering::SeqCst));
    drop(c);
    teardown(&host, &m);
    host.finish();
}

#[test]
fn tx_chain_flow_control_and_tx_update() {
    let host = new_host();
    let k = host.kernel();
    let m = link(&host, "tap0");
    let c = host.mac_client_open("tap0").unwrap();
    m.tx_room.store(3, Ordering::SeqCst);
    let frames: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 60]).collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    c.tx_with(&refs[..6], tuntap_sim::mac::TxOpts { headroom: 0, split: Some(16), offload: None });
    assert!(c.tx_blocked());
    assert_eq!(c.tx_backlog(), 3);
    c.tx(&refs[6..]);
    assert_eq!(c.tx_backlog(), 7);
    m.tx_room.store(usize::MAX, Ordering::SeqCst);
    k.mac_tx_update(m.mh());
    assert!(c.flush_tx(SEC));
    assert_eq!(*m.txd.lock().unwrap(), frames, "every frame, in order, reassembled from b_cont");
    assert_eq!(host.get_stat("tap0", MAC_STAT_OPACKETS), Ok(10));
    assert_eq!(host.get_stat("tap0", MAC_STAT_COLLISIONS), Err(ENOTSUP));
    drop(c);
    teardown(&host, &m);
    host.finish();
}

#[test]
fn writing_into_a_shared_block_is_caught() {
    let host = new_host();
    let m = link(&host, "tap0");
    let c = host.mac_client_open("tap0").unwrap();
    let sn = host.snoop("tap0").unwrap();
    m.scribble.store(true, Ordering::SeqCst);
    c.tx(&[b"abcdef"]);
    let (tx, _) = sn.recv(SEC).unwrap();
    assert!(tx);
    host.expect_violation(ViolationKind::SharedBlockWritten);
    drop((c, sn));
    teardown(&host, &m);
    host.finish();
}

#[test]
fn props_and_sdu() {
    let host = new_host();
    let k = host.kernel();
    let m = link(&host, "tap0");
    let c = host.mac_client_open("tap0").unwrap();
    host.set_prop_mtu("tap0", 9000).unwrap();
    assert_eq!(c.sdu(), (0, 9000));
    assert_eq!(host.set_prop_mtu("tap0", 100), Err(EINVAL));
    assert_eq!(host.get_prop("tap0", MAC_PROP_MTU, "mtu", 4).unwrap(), 9000u32.to_ne_bytes());
    let pi = host.prop_info("tap0", MAC_PROP_MTU, "mtu").unwrap();
    assert_eq!((pi.default_u32, pi.ranges_u32.clone()), (Some(1500), vec![(576, 9000)]));
    assert_eq!(pi.perm, None::<PropPerm>);
    assert_eq!(k.mac_maxsdu_update(m.mh(), 0), Err(EINVAL));
    k.mac_maxsdu_update(m.mh(), 1400).unwrap();
    assert_eq!(c.sdu(), (0, 1400));
    // A prop info handle used outside mc_propinfo.
    k.mac_prop_info_set_perm(tuntap_drv::ddi::PropInfoHandle(std::ptr::null_mut()), PropPerm::Read);
    host.expect_violation(ViolationKind::MacProtocol);
    drop(c);
    teardown(&host, &m);
    host.finish();
}

#[test]
fn upcall_with_a_driver_lock_held() {
    let host = new_host();
    let k = host.kernel();
    let m = link(&host, "tap0");
    let lock: KMutex<tuntap_sim::SimKernel, u32> = KMutex::new(0);
    {
        let _g = lock.lock();
        k.mac_link_update(m.mh(), LinkState::Up);
    }
    host.expect_violation(ViolationKind::LockHeldInUpcall);
    {
        let _g = lock.lock();
        k.mac_tx_update(m.mh());
    }
    host.expect_violation(ViolationKind::LockHeldInUpcall);
    k.mac_link_update(m.mh(), LinkState::Down);
    assert!(host.violations().is_empty());
    teardown(&host, &m);
    host.finish();
}

#[test]
fn recursive_mutex_enter_is_reported_not_deadlocked() {
    let host = new_host();
    let k = host.kernel();
    let lock = std::sync::Arc::new(KMutex::<tuntap_sim::SimKernel, u32>::new(0));
    unsafe extern "C" fn enter_twice(arg: *mut std::ffi::c_void) {
        // SAFETY: the test keeps the lock alive until the task ran.
        let lock = unsafe { &*arg.cast::<KMutex<tuntap_sim::SimKernel, u32>>() };
        let _a = lock.lock();
        let _b = lock.lock();
    }
    // SAFETY: `lock` lives until settle() has run the task.
    unsafe { k.defer(enter_twice, std::sync::Arc::as_ptr(&lock).cast_mut().cast()) }.unwrap();
    assert!(host.settle(SEC));
    host.expect_violation(ViolationKind::RecursiveEnter);
    host.finish();
}

#[test]
fn dls_devnet_rules() {
    let host = new_host();
    let k = host.kernel();
    let m = FakeMac::new(k.clone());
    let mh = m.register(&FULL_CB.0, |_| {}).unwrap();
    assert_eq!(k.dls_devnet_create(mh, 77, 0), Err(ENOENT));
    let id = host.dlmgmt_create_id(&host.root_cred(), "tap0", DATALINK_CLASS_MISC, DL_ETHER, DlFlags::ACTIVE).unwrap();
    k.dls_devnet_create(mh, id, 0).unwrap();
    assert_eq!(k.dls_devnet_create(mh, id, 0), Err(EEXIST));
    assert_eq!(host.devnet_linkid(mh), Some(id));
    assert_eq!(host.dlmgmt_destroy_id(&host.root_cred(), id, DlFlags::ACTIVE), Err(DlError::Busy));
    teardown(&host, &m);
    assert_eq!(k.dls_devnet_destroy(mh), Err(EINVAL));
    host.expect_violation(ViolationKind::BadHandle);
    host.finish();
}

#[test]
fn zones_see_their_own_links() {
    let host = new_host();
    let k = host.kernel();
    let z = host.create_zone("z1");
    let m = FakeMac::new(k.clone());
    let mh = m.register(&FULL_CB.0, |_| {}).unwrap();
    let zroot = host.cred(tuntap_sim::CredSpec {
        uid: 0,
        gid: 0,
        groups: vec![],
        zone: z,
        privs: tuntap_sim::Privileges::all(),
    });
    assert_eq!(
        host.dlmgmt_create_id(&zroot, "tap0", DATALINK_CLASS_MISC, DL_ETHER, DlFlags::ACTIVE_PERSIST),
        Err(DlError::TempOnly)
    );
    let id = host.dlmgmt_create_id(&zroot, "tap0", DATALINK_CLASS_MISC, DL_ETHER, DlFlags::ACTIVE).unwrap();
    assert!(host.dlmgmt_id2info(z, id).unwrap().flags.transient);
    k.dls_devnet_create(mh, id, z).unwrap();
    let other = host.create_zone("z2");
    assert_eq!(host.mac_client_open_in("tap0", other).err(), Some(ENOENT), "not visible from z2");
    assert_eq!(host.dlmgmt_id2info(other, id), Err(DlError::NotFound));
    let c = host.mac_client_open_in("tap0", z).unwrap();
    drop(c);
    // The same name may exist in another zone.
    let id2 = host.dlmgmt_create_id(&host.root_cred(), "tap0", DATALINK_CLASS_MISC, DL_ETHER, DlFlags::ACTIVE).unwrap();
    assert_ne!(id, id2);
    // A kernel-made id is filed in the zone of the calling thread
    // (i_dls_mgmt_upcall's zone_kcred()): here, with no process, the
    // global zone, where the zone cannot see it.
    let id3 = k.dls_mgmt_create(&LinkName::new("tun0").unwrap()).unwrap();
    let info = host.dlmgmt_id2info(tuntap_drv::ddi::GLOBAL_ZONEID, id3).unwrap();
    assert_eq!((info.class, info.media, info.flags.transient), (DATALINK_CLASS_MISC, DL_ETHER, true));
    assert_eq!(host.dlmgmt_id2info(z, id3), Err(DlError::NotFound));
    assert_eq!(k.dls_mgmt_create(&LinkName::new("tun0").unwrap()), Err(EEXIST));
    k.dls_mgmt_destroy(id3).unwrap();
    // Deleting without dls_devnet_destroy first.
    assert_eq!(k.dls_mgmt_destroy(id), Err(EBUSY));
    host.expect_violation(ViolationKind::DlsProtocol);
    k.dls_devnet_destroy(mh).unwrap();
    k.mac_unregister(mh).unwrap();
    host.finish();
}

#[test]
fn dlmgmtd_ids_privileges_and_persistence() {
    let host = new_host();
    let root = host.root_cred();
    let user = host.user_cred(100, 10, 0);
    assert_eq!(host.dlmgmt_create_id(&user, "tap0", DATALINK_CLASS_MISC, DL_ETHER, DlFlags::ACTIVE), Err(DlError::Permission));
    assert_eq!(host.dlmgmt_create_id(&root, "0bad", DATALINK_CLASS_MISC, DL_ETHER, DlFlags::ACTIVE), Err(DlError::BadArg));
    let a = host.dlmgmt_create_id(&root, "tap0", DATALINK_CLASS_MISC, DL_ETHER, DlFlags::ACTIVE).unwrap();
    let b = host.dlmgmt_create_id(&root, "tap1", DATALINK_CLASS_MISC, DL_ETHER, DlFlags::ACTIVE_PERSIST).unwrap();
    assert_eq!((a, b), (1, 2));
    assert_eq!(host.dlmgmt_create_id(&root, "tap0", DATALINK_CLASS_MISC, DL_ETHER, DlFlags::ACTIVE), Err(DlError::Exists));
    host.dlmgmt_set_conf(&root, b, "mode", b"tap").unwrap();
    assert_eq!(host.dlmgmt_set_conf(&root, a, "mode", b"tap"), Err(DlError::BadArg));
    assert_eq!(host.dlmgmt_walk(0, DATALINK_CLASS_ALL).len(), 2);
    host.reboot();
    assert_eq!(host.dlmgmt_name2info(0, "tap0"), Err(DlError::NotFound));
    let info = host.dlmgmt_name2info(0, "tap1").unwrap();
    assert!(!info.flags.active && info.flags.persistent);
    assert_eq!(host.dlmgmt_get_conf(0, b, "mode").unwrap(), b"tap");
    // Ids are not reused at once.
    let c = host.dlmgmt_create_id(&root, "tap0", DATALINK_CLASS_MISC, DL_ETHER, DlFlags::ACTIVE).unwrap();
    assert_eq!(c, 3);
    host.dlmgmt_remove_conf(&root, b).unwrap();
    assert_eq!(host.dlmgmt_id2info(0, b), Err(DlError::NotFound));
    host.finish();
}

/// A provider that answers `MAC_CAPAB_LSO` as a driver built against
/// current illumos-gate would: flags and both limits, 12 bytes.
unsafe extern "C" fn lso_v6_getcapab(_p: *mut std::ffi::c_void, cap: mac_capab_t, data: *mut std::ffi::c_void) -> boolean_t {
    if cap != MAC_CAPAB_LSO {
        return B_FALSE;
    }
    // SAFETY: what this provider assumes (the bug under test when the
    // mac is older): a whole mac_capab_lso_v6_t.
    let lso = unsafe { &mut *data.cast::<mac_capab_lso_v6_t>() };
    lso.lso_flags = LSO_TX_BASIC_TCP_IPV4 | LSO_TX_BASIC_TCP_IPV6;
    lso.lso_basic_tcp_ipv4.lso_max = 65_000;
    lso.lso_basic_tcp_ipv6.lso_max = 65_000;
    B_TRUE
}

static LSO_V6_CB: CbTable = CbTable(mac_callbacks_t {
    mc_callbacks: MC_GETCAPAB | MC_SETPROP | MC_GETPROP | MC_PROPINFO,
    mc_getcapab: Some(lso_v6_getcapab),
    ..FULL_CB.0
});

#[test]
fn getcapab_must_not_write_past_the_macs_lso_structure() {
    // Current gate: the 12-byte structure is there; nothing to report.
    let host = new_host();
    let m = FakeMac::new(host.kernel());
    m.register(&LSO_V6_CB.0, |_| {}).unwrap();
    assert!(host.violations().is_empty(), "{:#?}", host.violations());
    host.kernel().mac_unregister(m.mh()).unwrap();
    host.finish();
    // A gate before TCPv6 LSO: the same answer writes past its 8 bytes.
    let host = new_host();
    host.set_mac_lso_ipv6(false);
    let m = FakeMac::new(host.kernel());
    m.register(&LSO_V6_CB.0, |_| {}).unwrap();
    let v = host.expect_violation(ViolationKind::MacProtocol);
    assert!(v.iter().any(|v| v.message.contains("wrote past the 8-byte mac_capab_lso_t")), "{v:#?}");
    assert!(v.iter().any(|v| v.message.contains("LSO_TX_BASIC_TCP_IPV6, unknown to this mac")), "{v:#?}");
    host.kernel().mac_unregister(m.mh()).unwrap();
    host.finish();
}

/// The driver as a client of its own link (kclient.rs rules 1-3): held
/// by `mac_open_by_linkid` (mac_disable EBUSY), one primary per mac
/// (EEXIST, MAC_DIAG_MACADDR_INUSE), close with a unicast address left is
/// a violation, `mac_close` without a hold is one.
#[test]
fn driver_clients_primary_holds_and_teardown_rules() {
    let host = new_host();
    let m = link(&host, "kc0");
    let k = host.kernel();
    let id = host.mac_info("kc0").unwrap().devnet.unwrap().0;
    let mh = k.mac_open_by_linkid(id).unwrap();
    assert_eq!(k.mac_open_by_linkid(id + 1000).err(), Some(ENOENT), "no such link");
    let flags = MAC_UNICAST_PRIMARY | MAC_UNICAST_TAG_DISABLE | MAC_UNICAST_DISABLE_TX_VID_CHECK;
    let a = k.mac_client_open(mh, b"kc0", 0).unwrap();
    let b = k.mac_client_open(mh, b"kc0-b", 0).unwrap();
    let ua = k.mac_unicast_add_primary(a, flags).unwrap();
    assert_eq!(k.mac_unicast_add_primary(b, flags).err(), Some((EEXIST, MAC_DIAG_MACADDR_INUSE)), "one primary per mac");
    assert_eq!(k.mac_disable(m.mh()).err(), Some(EBUSY), "held by mac_open and clients");
    let infos = host.kernel_clients("kc0").unwrap();
    assert_eq!(infos.iter().filter(|c| c.primary).count(), 1, "{infos:?}");
    // b closes clean; a closes with its address still registered.
    k.mac_client_close(b, 0);
    k.mac_client_close(a, 0);
    host.expect_violation(ViolationKind::MacProtocol);
    let _ = ua;
    k.mac_close(mh);
    k.mac_close(mh);
    host.expect_violation(ViolationKind::MacProtocol);
    assert_eq!(host.mac_opens("kc0").unwrap(), 0);
    teardown(&host, &m);
    host.finish();
}

/// `cv_reltimedwait` (the driver's `KMutex::wait_until_for`): runs out
/// after its time with the condition still false, and a broadcast with
/// the condition true ends it at once.
#[test]
fn timed_condition_wait_runs_out_or_wakes() {
    use tuntap_drv::sync::KCondvar;
    let host = new_host();
    let state = std::sync::Arc::new((KMutex::<tuntap_sim::SimKernel, bool>::new(false), KCondvar::new()));
    let (lock, cv) = (&state.0, &state.1);
    let t0 = std::time::Instant::now();
    let (g, done) = lock.wait_until_for(lock.lock(), cv, 100_000, |ready| *ready);
    drop(g);
    assert!(!done, "nobody set the condition");
    assert!(t0.elapsed() >= Duration::from_millis(100), "the wait lasted its time");
    let s2 = state.clone();
    let waker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        *s2.0.lock() = true;
        s2.1.broadcast();
    });
    let t0 = std::time::Instant::now();
    let (g, done) = lock.wait_until_for(lock.lock(), cv, 20_000_000, |ready| *ready);
    drop(g);
    assert!(done && t0.elapsed() < SEC, "woken by the broadcast, long before its 20 s");
    waker.join().unwrap();
    host.finish();
}
