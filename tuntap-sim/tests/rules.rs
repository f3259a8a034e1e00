// SPDX-License-Identifier: MPL-2.0
//! The simulator's later rules: lock order, I_FLUSH's round trip,
//! kernel-made dlmgmtd ids, injection points, and how a failing or hung
//! test shows the rules it broke.

mod common;

use std::ffi::c_void;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use illumos_sys_hdrs::*;
use tuntap_abi::LinkName;
use tuntap_drv::ddi::{Kernel, RawMutex};
use tuntap_sim::sync::SimMutex;
use tuntap_sim::{Fault, SimHost, ViolationKind};

/// How long a deferred task may take to run: a bound for a broken
/// driver, generous because valgrind on a loaded machine is slow.
const SETTLE: Duration = Duration::from_secs(30);

// ----- lock order -----

/// Locks for the tasks below: taken in the order the task's name says.
struct Locks([SimMutex; 3]);

fn take(l: &Locks, order: &[usize]) {
    for &i in order {
        l.0[i].enter();
    }
    for &i in order.iter().rev() {
        l.0[i].exit();
    }
}

unsafe extern "C" fn take_01(arg: *mut c_void) {
    take(unsafe { &*(arg as *const Locks) }, &[0, 1]);
}
unsafe extern "C" fn take_12(arg: *mut c_void) {
    take(unsafe { &*(arg as *const Locks) }, &[1, 2]);
}
unsafe extern "C" fn take_20(arg: *mut c_void) {
    take(unsafe { &*(arg as *const Locks) }, &[2, 0]);
}
unsafe extern "C" fn take_10(arg: *mut c_void) {
    take(unsafe { &*(arg as *const Locks) }, &[1, 0]);
}

/// Run `task` as driver code (a taskq entry) and wait for it.
fn run(host: &SimHost, task: unsafe extern "C" fn(*mut c_void), locks: &Locks) {
    unsafe { host.kernel().defer(task, locks as *const Locks as *mut c_void) }.unwrap();
    assert!(host.settle(SETTLE));
}

#[test]
fn same_order_twice_is_fine() {
    let host = new_host();
    let locks = Locks([SimMutex::new(), SimMutex::new(), SimMutex::new()]);
    run(&host, take_01, &locks);
    run(&host, take_01, &locks);
    run(&host, take_12, &locks);
    assert!(host.violations().is_empty(), "{:?}", host.violations());
    host.finish();
}

#[test]
fn inverted_order_is_a_violation_naming_the_rule() {
    let host = new_host();
    let locks = Locks([SimMutex::new(), SimMutex::new(), SimMutex::new()]);
    run(&host, take_01, &locks);
    run(&host, take_10, &locks);
    let v = host.expect_violation(ViolationKind::LockOrder);
    assert_eq!(v.len(), 1, "reported once: {v:?}");
    assert!(v[0].message.contains("lock order inversion"), "{}", v[0].message);
    assert!(v[0].message.contains("tuntap-drv/src/lib.rs"), "points at the documented order");
    // Reported once per pair, not at every repetition.
    run(&host, take_10, &locks);
    assert!(host.violations().is_empty(), "{:?}", host.violations());
    host.finish();
}

#[test]
fn an_inversion_through_a_third_lock_is_found() {
    let host = new_host();
    let locks = Locks([SimMutex::new(), SimMutex::new(), SimMutex::new()]);
    run(&host, take_01, &locks);
    run(&host, take_12, &locks);
    // 0 -> 1 -> 2 is established; 2 then 0 closes the cycle.
    run(&host, take_20, &locks);
    host.expect_violation(ViolationKind::LockOrder);
    host.finish();
}

#[test]
fn a_dropped_mutex_is_forgotten() {
    let host = new_host();
    let locks = Locks([SimMutex::new(), SimMutex::new(), SimMutex::new()]);
    run(&host, take_01, &locks);
    drop(locks);
    // New mutexes (perhaps at the same addresses) start with no order.
    let locks = Locks([SimMutex::new(), SimMutex::new(), SimMutex::new()]);
    run(&host, take_10, &locks);
    assert!(host.violations().is_empty(), "{:?}", host.violations());
    host.finish();
}

// ----- I_FLUSH -----

fn flow_controlled(host: &SimHost, d: &Loop) -> tuntap_sim::SimStream {
    d.set_opts((SO_HIWAT | SO_LOWAT, 10, 5, 0, 0, 0, 0));
    let s = host.open(5, &host.root_cred()).unwrap();
    s.write(b"0123456789ab").unwrap();
    assert_eq!(s.queued_bytes(), 12);
    s
}

#[test]
fn i_flush_empties_the_head_only_when_the_driver_turns_flushr_around() {
    let host = new_host();
    let d = Loop::new(host.kernel());
    host.attach(d.clone());
    let s = flow_controlled(&host, &d);
    d.bugs.no_flush_turnaround.store(true, Ordering::SeqCst);
    s.flush(FLUSHR).unwrap();
    assert_eq!(s.queued_bytes(), 12, "the stream head does not flush itself");
    d.bugs.no_flush_turnaround.store(false, Ordering::SeqCst);
    s.flush(FLUSHR).unwrap();
    assert_eq!(s.queued_bytes(), 0, "the driver's FLUSHR came back up and emptied the head");
    let mut buf = [0u8; 4];
    assert_eq!(s.try_read(&mut buf), Err(EAGAIN));
    // strioctl's checks.
    assert_eq!(s.flush(0x10), Err(EINVAL));
    host.finish();
}

#[test]
fn i_flush_dummy_ioctl_must_be_naked() {
    let host = new_host();
    let d = Loop::new(host.kernel());
    host.attach(d.clone());
    let s = host.open(5, &host.root_cred()).unwrap();
    d.bugs.ack_unknown_ioctl.store(true, Ordering::SeqCst);
    s.flush(FLUSHRW).unwrap();
    let v = host.expect_violation(ViolationKind::FlushProtocol);
    assert!(v[0].message.contains("ic_cmd = -1"), "{}", v[0].message);
    host.finish();
}

#[test]
fn i_flush_after_hangup_is_enxio() {
    let host = new_host();
    let d = Loop::new(host.kernel());
    host.attach(d.clone());
    let s = host.open(5, &host.root_cred()).unwrap();
    s.ioctl_istr(IOC_HANGUP, b"").unwrap();
    assert_eq!(s.flush(FLUSHR), Err(ENXIO));
    host.finish();
}

// ----- kernel-made dlmgmtd ids -----

#[test]
fn a_kernel_made_link_id_not_given_back_is_a_leak() {
    let host = new_host();
    let k = host.kernel();
    let name = LinkName::new("tun7").unwrap();
    let id = k.dls_mgmt_create(&name).unwrap();
    let v = host.finish_report();
    let leak: Vec<_> = v.iter().filter(|v| v.kind == ViolationKind::Leak).collect();
    assert_eq!(leak.len(), 1, "{v:?}");
    assert!(leak[0].message.contains("dls_mgmt_create"), "{}", leak[0].message);
    assert!(leak[0].message.contains(&format!("{id} `tun7`")), "{}", leak[0].message);
}

#[test]
fn a_kernel_made_link_id_given_back_is_fine() {
    let host = new_host();
    let k = host.kernel();
    let id = k.dls_mgmt_create(&LinkName::new("tun7").unwrap()).unwrap();
    k.dls_mgmt_destroy(id).unwrap();
    host.finish();
}

#[test]
fn injected_failures_fire_once_each_with_the_services_errno() {
    let host = new_host();
    let k = host.kernel();
    let name = LinkName::new("tun7").unwrap();
    host.inject(Fault::DlsMgmtCreate, 1);
    assert_eq!(host.injections_left(Fault::DlsMgmtCreate), 1);
    assert_eq!(k.dls_mgmt_create(&name), Err(EBADF));
    assert_eq!(host.injections_left(Fault::DlsMgmtCreate), 0);
    let id = k.dls_mgmt_create(&name).unwrap();
    let m = FakeMac::new(host.kernel());
    let mh = m.register(&FULL_CB.0, |_| {}).unwrap();
    host.inject(Fault::DlsDevnetCreate, 1);
    assert_eq!(k.dls_devnet_create(mh, id, 0), Err(EBADF));
    k.dls_devnet_create(mh, id, 0).unwrap();
    host.inject(Fault::Allocb, 1);
    assert!(k.allocb(10).is_null());
    assert_eq!(host.injections_left(Fault::Allocb), 0);
    k.dls_devnet_destroy(mh).unwrap();
    k.mac_disable(mh).unwrap();
    k.mac_unregister(mh).unwrap();
    k.dls_mgmt_destroy(id).unwrap();
    host.finish();
}

// ----- failing and hung tests show their violations -----

/// Set in the child process these tests start.
const CHILD: &str = "TUNTAP_SIM_RULES_CHILD";

/// A child test: records a violation, then panics or hangs as the
/// parent asks.  A no-op in a normal run.
#[test]
fn child_breaks_a_rule_then_fails() {
    let Ok(how) = std::env::var(CHILD) else { return };
    let host = new_host();
    let d = Loop::new(host.kernel());
    host.attach(d.clone());
    let s = host.open(5, &host.root_cred()).unwrap();
    d.bugs.double_reply.store(true, Ordering::SeqCst);
    let _ = s.ioctl_istr(IOC_ECHO, b"x");
    // The short limit starts once the rule is broken, so a slow machine
    // cannot end the test before it has anything to show.
    host.set_time_limit(Duration::from_secs(1));
    if how == "panic" {
        panic!("an assertion of the test failed");
    }
    // Hang well past the time limit.
    let mut buf = [0u8; 4];
    let _ = s.read(&mut buf, Some(Duration::from_secs(60)));
}

fn run_child(how: &str) -> (Option<i32>, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_breaks_a_rule_then_fails", "--nocapture", "--test-threads=1"])
        .env(CHILD, how)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_failing_test_prints_the_rules_it_broke() {
    let (code, err) = run_child("panic");
    assert_eq!(code, Some(101), "the test failed: {err}");
    assert!(err.contains("an assertion of the test failed"), "{err}");
    assert!(err.contains("IoctlDoubleReply"), "the violation is shown next to the failure: {err}");
}

#[test]
fn a_hung_test_is_ended_by_its_time_limit_with_its_violations() {
    let (code, err) = run_child("hang");
    assert_eq!(code, Some(tuntap_sim::watchdog::TIME_LIMIT_EXIT), "{err}");
    assert!(err.contains("exceeded its time limit of 1s"), "{err}");
    assert!(err.contains("child_breaks_a_rule_then_fails"), "names the test: {err}");
    assert!(err.contains("IoctlDoubleReply"), "{err}");
}
