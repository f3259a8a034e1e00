// SPDX-License-Identifier: MPL-2.0
//! Read-only commands go on a read-only open of the control node, so
//! `show` works for users who may not write it (issue 15).

use libdladm_plugin::platform::control_needs_write;
use libdladm_plugin::sim::SimSystem;
use libdladm_plugin::*;

#[test]
fn only_info_and_list_go_on_a_read_only_open() {
    assert!(!control_needs_write(tuntap_abi::TUN_IOC_INFO));
    assert!(!control_needs_write(tuntap_abi::TUN_IOC_LIST));
    for cmd in [tuntap_abi::TUN_IOC_CREATE, tuntap_abi::TUN_IOC_DELETE, tuntap_abi::TUN_IOC_MODIFY] {
        assert!(control_needs_write(cmd), "{cmd:#x}");
    }
}

#[test]
fn an_unprivileged_user_lists_and_shows_links() {
    let sys = SimSystem::new();
    TunAdm::new(sys.admin()).create(&CreateRequest::new("vpn0", Mode::Tun)).unwrap();
    let user = TunAdm::new(sys.platform_as(sys.host().user_cred(1001, 10, 0)));
    assert_eq!(user.list().unwrap().len(), 1);
    assert_eq!(user.show("vpn0").unwrap().kernel.unwrap().mtu, MTU_DEFAULT);
    assert_eq!(user.create(&CreateRequest::new("vpn1", Mode::Tun)).unwrap_err().status(), Status::Permission);
    sys.finish();
}
