// SPDX-License-Identifier: MPL-2.0
//! Old-API units of a non-global zone: made in that zone, in dls and in
//! dlmgmtd, and gone when their stream closes.
//!
//! The driver makes a unit's link id on its control taskq, whose door
//! upcalls dlmgmtd files in the global zone (`i_dls_mgmt_upcall` uses the
//! calling thread's `zone_kcred()`, usr/src/uts/common/io/dls/dls_mgmt.c),
//! then moves it with `dls_devnet_setzid`.  dlmgmtd moves links between
//! zones only for the global zone (`dlmgmt_setzoneid` answers EACCES), so
//! the teardown at close, which starts on the closing process's thread in
//! the zone, must run on the taskq too.

use illumos_sys_hdrs as sys;
use tuntap_abi::{self as abi};
use tuntap_sim::{CredSpec, Privileges};
use tuntap_tests::Rig;

#[test]
fn a_zones_old_api_unit_belongs_to_it_and_goes_with_its_stream() {
    let rig = Rig::new();
    let zone = rig.host.create_zone("z1");
    let zroot = rig.host.cred(CredSpec { uid: 0, gid: 0, groups: vec![], zone, privs: Privileges { dl_config: true, ..Default::default() } });
    let s = rig.open_tun(&zroot);
    let unit = s.ioctl_istr(abi::TUNNEWPPA, &(-1i32).to_ne_bytes()).expect("TUNNEWPPA in a zone").rval;
    let link = rig.driver.links().pop().expect("the unit");
    let id = link.linkid;
    assert_eq!(link.zone, zone, "the driver files the unit in the caller's zone");
    drop(link);
    assert_eq!(rig.host.dlmgmt_id2info(zone, id).map(|i| i.zone), Ok(zone), "dlmgmtd files it in the zone too");
    assert_eq!(rig.host.dlmgmt_id2info(zone, id).map(|i| i.name), Ok(format!("tun{unit}")));
    // dls binds it in the zone too: a mac client opens there, not in
    // another zone.
    let name = format!("tun{unit}");
    let other = rig.host.create_zone("z2");
    assert!(rig.host.mac_client_open_in(name.as_str(), other).is_err(), "another zone cannot open the unit");
    rig.host.mac_client_open_in(name.as_str(), zone).expect("the zone opens its unit").close();
    s.close();
    assert!(rig.driver.links().is_empty(), "the unit went with its stream");
    assert!(
        rig.host.dlmgmt_id2info(sys::GLOBAL_ZONEID, id).is_err(),
        "the unit's link id went back to dlmgmtd"
    );
    rig.finish();
}
