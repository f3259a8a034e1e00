// SPDX-License-Identifier: MPL-2.0
//! The provider is attached after a cold boot and stays attached: the
//! boot model of the simulator (tuntap-sim/src/boot.rs) with the
//! `tuntap.conf` this project ships.
//!
//! Nothing attaches a `.conf` pseudo node by itself after boot, and an
//! open of `/dev/tun` attaches only `drv/tun`; so without
//! `ddi-forceattach=1` the boot service's `tunctl up` finds no provider
//! (ENXIO), and without `ddi-no-autodetach=1` the moduninstall daemon
//! detaches an idle provider (`predetach_node` in
//! usr/src/uts/common/os/devcfg.c).

use std::sync::Arc;

use illumos_sys_hdrs as sys;
use tuntap_abi::{self as abi, create_flags, limits::node};
use tuntap_drv::Driver;
use tuntap_sim::boot::DriverConf;
use tuntap_sim::{DlFlags, SimHost};

fn shipped_conf() -> DriverConf {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tuntap-drv/kmod/tuntap.conf");
    DriverConf::parse(&std::fs::read_to_string(path).expect("read tuntap.conf"))
}

fn installed(conf: DriverConf) -> SimHost {
    let host = SimHost::new();
    host.set_time_limit(tuntap_sim::TEST_TIME_LIMIT);
    let k = host.kernel();
    host.install_driver(conf, move || Arc::new(Driver::new(k.clone())));
    host
}

#[test]
fn a_cold_boot_attaches_the_provider_and_idle_time_keeps_it() {
    let host = installed(shipped_conf());
    host.boot();
    let root = host.root_cred();
    // The boot service's `tunctl up`: open the control node, bring a
    // persistent link up, and leave.
    let ctl = host.open(sys::MAC_PRIVATE_MINOR + node::CTL, &root).unwrap_or_else(|e| {
        panic!(
            "after a cold boot /dev/tuntap fails with errno {e}: drv/tuntap is not attached \
             (tuntap.conf must set ddi-forceattach=1; nothing else attaches a pseudo node at boot)"
        )
    });
    let id = host
        .dlmgmt_create_id(&root, "vpn0", sys::DATALINK_CLASS_MISC, sys::DL_ETHER, DlFlags::ACTIVE)
        .expect("dlmgmtd id");
    let req = abi::TunIocCreate::new("vpn0", create_flags::TUN | create_flags::PERSIST, id).unwrap();
    ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&req)).expect("create after boot");
    let del = abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags: 0, linkid: id, _pad: 0 };
    ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)).expect("delete");
    ctl.close();
    // Idle: the moduninstall daemon comes by.
    assert!(
        !host.autodetach_idle(),
        "an idle drv/tuntap was auto-detached: tuntap.conf must set ddi-no-autodetach=1, or \
         /dev/tun and the boot service fail until something attaches it again"
    );
    assert!(host.is_attached());
    let again = host.open(sys::MAC_PRIVATE_MINOR + node::TUN, &root).expect("/dev/tun after idle time");
    again.close();
    host.finish();
}

#[test]
fn without_the_properties_the_model_refuses_as_illumos_would() {
    // The twin: the same steps with a bare .conf fail where a real host
    // would, so the test above is not passing by accident.
    let host = installed(DriverConf::default());
    host.boot();
    assert!(!host.is_attached(), "a pseudo node is not attached at boot unless forced");
    assert_eq!(host.open(sys::MAC_PRIVATE_MINOR + node::CTL, &host.root_cred()).err(), Some(sys::ENXIO));
    let host = installed(DriverConf { force_attach: false, no_autodetach: false });
    host.attach(Arc::new(Driver::new(host.kernel())));
    assert!(host.autodetach_idle(), "an idle driver without the properties is detached");
    assert!(!host.is_attached());
    host.finish();
}
