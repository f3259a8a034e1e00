// SPDX-License-Identifier: MPL-2.0
//! LDI opens of `/dev/net/<link>` and the dld streams behind them
//! (tuntap-sim/src/ldi.rs and mac/dld.rs): lookup, ioctls, module push
//! refused for unknown modules, the devnet held while open, handles used
//! after close and left open at the end.

mod common;

use common::*;
use illumos_sys_hdrs::dlpi::DLIOCRAW;
use illumos_sys_hdrs::*;
use tuntap_drv::ddi::Kernel;
use tuntap_sim::ViolationKind;

/// Rules 1-4 of ldi.rs and rule 1 of dld.rs.
#[test]
fn dev_net_opens_raw_ioctls_and_close() {
    let host = new_host();
    let m = link(&host, "ld0");
    let k = host.kernel();
    assert_eq!(k.ldi_open_by_name(b"/dev/net/nosuch").err(), Some(ENOENT), "no such link");
    assert_eq!(k.ldi_open_by_name(b"/dev/tun").err(), Some(ENOENT), "only /dev/net is modelled");
    let lh = k.ldi_open_by_name(b"/dev/net/ld0").unwrap();
    let info = host.dld_info("ld0").unwrap();
    assert_eq!((info.streams, info.bound, info.dls_client), (1, 0, false), "attached, unbound: {info:?}");
    assert_eq!(k.dls_devnet_destroy(m.mh()).err(), Some(EBUSY), "an open dld stream holds the devnet");
    // SAFETY: DLIOCRAW takes no argument; I_PUSH a NUL-terminated name.
    unsafe {
        assert_eq!(k.ldi_ioctl(lh, DLIOCRAW, 0), Ok(0), "dld acks DLIOCRAW (ioc_raw)");
        assert_eq!(k.ldi_ioctl(lh, I_PUSH, c"nosuch".as_ptr() as isize), Err(EINVAL), "findmod fails");
        // The relay module of a driver that is not attached: not found.
        assert_eq!(k.ldi_ioctl(lh, I_PUSH, c"tunrly".as_ptr() as isize), Err(EINVAL));
    }
    let mut buf = [0u8; 8];
    assert_eq!(k.ldi_ioctl_istr(lh, 0x1234, &mut buf), Err(EINVAL), "an ioctl dld does not know is NAKed");
    k.ldi_close(lh);
    assert_eq!(host.dld_info("ld0").unwrap().streams, 0);
    k.ldi_close(lh);
    host.expect_violation(ViolationKind::LdiProtocol);
    teardown(&host, &m);
    host.finish();
}

/// An LDI open left at the end of the test is a leak.
#[test]
fn an_ldi_stream_left_open_is_a_leak() {
    let host = new_host();
    let _m = link(&host, "ld1");
    let _lh = host.kernel().ldi_open_by_name(b"/dev/net/ld1").unwrap();
    let v = host.finish_report();
    assert!(
        v.iter().any(|v| v.kind == ViolationKind::Leak && v.message.contains("LDI stream")),
        "the open /dev/net/ld1 is reported: {v:?}"
    );
}
