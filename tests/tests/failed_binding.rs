// SPDX-License-Identifier: MPL-2.0
//! A link whose dls binding failed, and whose mac could not be
//! unregistered at that moment, stays published (mac still uses it) and
//! must still be deletable: the delete undoes only what exists, and
//! never calls `dls_devnet_destroy` on a mac with no binding
//! (`dls_devnet_destroy`/`dls_devnet_unset` in
//! usr/src/uts/common/io/dls/dls_mgmt.c).

use illumos_sys_hdrs as sys;
use tuntap_abi::{self as abi, create_flags};
use tuntap_sim::faults::Fault;
use tuntap_tests::Rig;

#[test]
fn a_link_whose_binding_failed_can_still_be_deleted() {
    let rig = Rig::new();
    let id = rig.link_id(&rig.root, "vpn0");
    let ctl = rig.open_ctl(&rig.root);
    rig.host.inject(Fault::DlsDevnetCreate, 1);
    rig.host.inject(Fault::MacUnregister, 1);
    let req = abi::TunIocCreate::new("vpn0", create_flags::TUN, id).unwrap();
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&req)).err(), Some(Fault::DlsDevnetCreate.errno()));
    assert_eq!(rig.host.injections_left(Fault::MacUnregister), 0, "the driver tried to unregister");
    assert_eq!(rig.driver.links().len(), 1, "kept published: mac could not let it go");
    let del = abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags: abi::delete_flags::FORCE, linkid: id, _pad: 0 };
    ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)).expect("the half-made link can be deleted");
    assert!(rig.driver.links().is_empty());
    assert_eq!(ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)).err(), Some(sys::ENOENT));
    ctl.close();
    rig.finish();
}
