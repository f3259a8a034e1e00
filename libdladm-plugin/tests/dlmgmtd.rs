// SPDX-License-Identifier: MPL-2.0
//! A missing dlmgmtd is "unavailable", not "no such link" (issue 15):
//! libdladm opens dlmgmtd's door lazily and reports the open's ENOENT as
//! not-found, so the backend checks the door.

use libdladm_plugin::platform::{DLMGMT_DOOR, not_found_or_unavailable};
use libdladm_plugin::sim::SimSystem;
use libdladm_plugin::*;

#[test]
fn not_found_is_unavailable_exactly_when_the_door_is_missing() {
    let dir = std::env::temp_dir().join(format!("tuntap-door-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let door = dir.join("dlmgmt_door");
    assert_eq!(not_found_or_unavailable(&door), DlError::Unavailable);
    std::fs::write(&door, b"").unwrap();
    assert_eq!(not_found_or_unavailable(&door), DlError::NotFound);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(DLMGMT_DOOR, "/etc/svc/volatile/dladm/dlmgmt_door");
}

#[test]
fn every_operation_reports_a_stopped_dlmgmtd_as_unavailable() {
    let sys = SimSystem::new();
    let adm = TunAdm::new(sys.admin());
    adm.create(&CreateRequest::new("vpn0", Mode::Tun)).unwrap();
    sys.stop_dlmgmtd();
    let errors = [
        adm.show("vpn0").unwrap_err(),
        adm.list().unwrap_err(),
        adm.create(&CreateRequest::new("vpn1", Mode::Tap)).unwrap_err(),
        adm.delete("vpn0", DeleteOptions::default()).unwrap_err(),
        adm.up(None).unwrap_err(),
    ];
    for e in &errors {
        assert_eq!(e.status(), Status::Unavailable, "{e}");
        assert!(e.to_string().contains("dlmgmtd is not running"), "{e}");
        assert!(!e.to_string().contains("no such link"), "{e}");
    }
    assert_eq!(Status::from_code(102), Some(Status::Unavailable));
    sys.start_dlmgmtd();
    assert_eq!(adm.show("vpn0").unwrap().name, "vpn0", "nothing was lost");
    sys.finish();
}
