// SPDX-License-Identifier: MPL-2.0
//! Message block discipline: leaks, double frees, credentials, misc.

mod common;

use common::*;
use illumos_sys_hdrs::*;
use tuntap_drv::ddi::{Cred, Kernel};
use tuntap_drv::mblk::MsgBlk;
use tuntap_sim::{SimHost, SimKernel, ViolationKind};

#[test]
fn allocb_sets_up_blocks_as_the_kernel_does() {
    let host = new_host();
    let k = host.kernel();
    let mp = k.allocb(100);
    unsafe {
        let d = (*mp).b_datap;
        assert_eq!((*d).db_ref, 1);
        assert_eq!((*d).db_type, M_DATA);
        assert_eq!((*d).db_lim as usize - (*d).db_base as usize, 100);
        assert_eq!((*mp).b_rptr, (*d).db_base);
        assert_eq!((*mp).b_wptr, (*d).db_base);
        assert!((*mp).b_next.is_null() && (*mp).b_cont.is_null());
        SimKernel::freemsg(mp);
    }
    let m = MsgBlk::<SimKernel>::alloc_with(&k, 16, b"payload").unwrap();
    let mut m2 = MsgBlk::<SimKernel>::alloc_with(&k, 0, b"xy").unwrap();
    assert!(m2.prepend(&k, b"hdr"));
    assert!(m2.pullup(&k, 5));
    assert_eq!(m2.first_block(), b"hdrxy");
    drop((m, m2));
    assert_eq!(host.blocks_live(), 0);
    host.finish();
}

#[test]
fn leak_is_reported() {
    let host = new_host();
    let _ = host.kernel().allocb(10);
    let v = host.finish_report();
    assert!(v.iter().any(|v| v.kind == ViolationKind::Leak), "{v:?}");
}

#[test]
fn double_free_is_reported() {
    let host = new_host();
    let mp = alloc_data(&host.kernel(), M_DATA, b"abc");
    unsafe {
        SimKernel::freemsg(mp);
        SimKernel::freemsg(mp);
    }
    host.expect_violation(ViolationKind::DoubleFree);
    host.finish();
}

#[test]
fn mac_rx_of_a_freed_message() {
    let host = new_host();
    let k = host.kernel();
    let m = FakeMac::new(k.clone());
    let mh = m.register(&FULL_CB.0, |_| {}).unwrap();
    let mp = alloc_data(&k, M_DATA, b"abc");
    unsafe { SimKernel::freemsg(mp) };
    unsafe { k.mac_rx(mh, mp) };
    host.expect_violation(ViolationKind::UseAfterFree);
    k.mac_unregister(mh).unwrap();
    host.finish();
}

#[test]
fn unregistered_mac_is_a_leak() {
    let host = new_host();
    let m = FakeMac::new(host.kernel());
    m.register(&FULL_CB.0, |_| {}).unwrap();
    let v = host.finish_report();
    assert!(v.iter().any(|v| v.kind == ViolationKind::Leak), "{v:?}");
}

#[test]
fn credentials_and_misc_services() {
    let host = SimHost::with_seed(7);
    let k = host.kernel();
    let z = host.create_zone("web");
    let c = host.cred(tuntap_sim::CredSpec {
        uid: 101,
        gid: 20,
        groups: vec![30, 40],
        zone: z,
        privs: Default::default(),
    });
    let cr = c.as_cred();
    assert_eq!((k.cred_uid(cr), k.cred_gid(cr), k.cred_zone(cr)), (101, 20, z));
    assert!(k.cred_in_group(cr, 40) && !k.cred_in_group(cr, 50));
    assert_eq!(k.secpolicy_dl_config(cr), Err(EPERM));
    assert_eq!(k.secpolicy_dl_config(host.root_cred().as_cred()), Ok(()));
    let _ = k.cred_uid(Cred(std::ptr::null()));
    host.expect_violation(ViolationKind::BadCred);
    // Deterministic randomness per seed.
    let (mut a, mut b) = ([0u8; 12], [0u8; 12]);
    k.random_bytes(&mut a);
    SimHost::with_seed(7).kernel().random_bytes(&mut b);
    assert_eq!(a, b);
    assert_eq!(k.private_minor_base(), MAC_PRIVATE_MINOR);
    assert_eq!(k.current_pid(), 0);
    let t0 = k.wall_clock_ns();
    host.advance_clock(std::time::Duration::from_secs(60));
    assert!(k.wall_clock_ns() >= t0 + 60_000_000_000);
    host.fail_next_allocb(1);
    assert!(k.allocb(1).is_null());
    host.fail_next_defer(1);
    unsafe extern "C" fn never_runs(_: *mut std::ffi::c_void) {}
    // SAFETY: the task ignores its argument.
    assert_eq!(unsafe { k.defer(never_runs, std::ptr::null_mut()) }, Err(ENOMEM));
    k.probe(tuntap_drv::ddi::Probe::LinkDestroy(3));
    assert_eq!(host.probes(), vec![tuntap_sim::ProbeRecord::LinkDestroy(3)]);
    host.finish();
}

#[test]
fn msg_queue_is_a_fifo_that_counts_and_frees() {
    use tuntap_drv::mblk::MsgQueue;
    let host = new_host();
    let k = host.kernel();
    let msg = |s: &[u8]| MsgBlk::<SimKernel>::alloc_with(&k, 0, s).unwrap();
    let mut q = MsgQueue::<SimKernel>::new();
    assert!(q.is_empty() && q.pop_front().is_none());
    q.push_back(msg(b"one"));
    q.push_back(msg(b"two!"));
    q.push_front(msg(b"zero0"));
    assert_eq!((q.len(), q.bytes()), (3, 12));
    let allocated = host.blocks_allocated();
    assert_eq!(q.pop_front().unwrap().first_block(), b"zero0");
    assert_eq!((q.len(), q.bytes()), (2, 7));
    // Popping until empty, then pushing again, keeps the tail right.
    assert_eq!(q.pop_front().unwrap().first_block(), b"one");
    assert_eq!(q.pop_front().unwrap().first_block(), b"two!");
    assert!(q.pop_front().is_none() && q.is_empty() && q.bytes() == 0);
    q.push_back(msg(b"a"));
    q.push_back(msg(b"b"));
    let got: Vec<Vec<u8>> = q.take_all().map(|m| m.first_block().to_vec()).collect();
    assert_eq!(got, [b"a".to_vec(), b"b".to_vec()]);
    assert!(q.is_empty());
    // Queueing itself made no message blocks.
    assert_eq!(host.blocks_allocated(), allocated + 2);
    // A queue dropped with messages in it frees them.
    q.push_back(msg(b"left"));
    drop(q);
    assert_eq!(host.blocks_live(), 0);
    host.finish();
}
