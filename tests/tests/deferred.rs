// SPDX-License-Identifier: MPL-2.0
//! Deferred work that outlives its object.
//!
//! A taskq entry can run long after it was dispatched: after the
//! dispatching call returned, after the object it names was deleted, and
//! at the latest when `ddi_taskq_destroy` runs what is still queued
//! (`taskq_destroy` -> `taskq_wait` in usr/src/uts/common/os/taskq.c).
//! The simulator holds work dispatched from the data path until the
//! test settles (tuntap-sim `SimKernel::defer`), so a task that does
//! not own a reference to its link runs on freed memory here; the test
//! command runs these tests under valgrind's memcheck, which fails on
//! that read.

use illumos_sys_hdrs as sys;
use tuntap_abi::{self as abi, create_flags, mode};
use tuntap_tests::{Rig, arp_request};

/// Resolver replies queued by `mc_tx` for the taskq, then the link is
/// deleted before the taskq runs: the task must still be safe.
#[test]
fn a_resolver_reply_task_outlives_its_deleted_link() {
    let rig = Rig::new();
    let id = rig.create("vpn0", create_flags::TUN);
    let q = rig.attach("vpn0", mode::TUN);
    let client = rig.host.mac_client_open("vpn0").unwrap();
    let ours = client.mac_addr();
    for i in 0..4u8 {
        client.tx(&[&arp_request(ours, [10, 9, 0, 1], [10, 9, 0, 2 + i])]);
    }
    // Nobody waits for the replies: their task stays queued.
    client.close();
    q.close();
    let ctl = rig.open_ctl(&rig.root);
    let del = abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags: abi::delete_flags::FORCE, linkid: id, _pad: 0 };
    ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)).expect("delete");
    ctl.close();
    assert!(rig.driver.link_by_id(id).is_none());
    // Now the taskq gets to the replies' task.
    rig.host.run_deferred();
    assert_eq!(rig.host.take_violations().len(), 0);
    let _ = sys::EINVAL;
    rig.finish();
}
