// SPDX-License-Identifier: MPL-2.0
//! Every entry point of the C interface, called as C calls it (raw
//! pointers, flags, callbacks), on the simulated host: the happy paths,
//! and each bad input with its status and message.

mod common;

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;

use common::*;
use dltun::abi::*;
use dltun::*;
use libdladm_plugin::{MTU_DEFAULT, Status};

fn strerror(st: dltun_status_t) -> String {
    // SAFETY: dltun_strerror returns a static C string.
    unsafe { CStr::from_ptr(dltun_strerror(st)) }.to_string_lossy().into_owned()
}

fn open_errmsg() -> String {
    // SAFETY: null is allowed; the result is a C string.
    unsafe { CStr::from_ptr(dltun_errmsg(ptr::null())) }.to_string_lossy().into_owned()
}

#[test]
fn open_and_close() {
    let h = Handle::open();
    assert_eq!(open_errmsg(), "", "no open failed on this thread");
    assert_eq!(h.errmsg(), "");
    assert!(h.names().is_empty());
    // Bad input: no out-pointer; closing NULL is a no-op.
    // SAFETY: the calls are made with null arguments on purpose.
    unsafe {
        assert_eq!(dltun_open(ptr::null_mut()), DLTUN_STATUS_BADARG);
        assert_eq!(dltun_close(ptr::null_mut()), DLTUN_STATUS_OK);
    }
}

#[test]
fn create_a_persistent_tap_with_every_attribute_then_delete_it() {
    let h = Handle::open();
    let attr = Attr::tap("vpn0").mtu(9000).mac("2:8:20:a:b:c").owner(1001).group(50);
    let (st, linkid) = h.create(&attr);
    assert_eq!(st, DLTUN_STATUS_OK, "{}", h.errmsg());
    assert_ne!(linkid, 0);
    assert_eq!(h.errmsg(), "");

    let i = h.info("vpn0").unwrap();
    assert_eq!(i.name(), "vpn0");
    assert_eq!(i.di_linkid, linkid);
    assert_eq!(i.di_mode, DLTUN_MODE_TAP);
    assert_eq!(i.di_state, DLTUN_STATE_DOWN, "no queue attached yet");
    assert_eq!(i.di_flags & (DLTUN_INFO_ACTIVE | DLTUN_INFO_PERSISTENT), DLTUN_INFO_ACTIVE | DLTUN_INFO_PERSISTENT);
    assert_eq!(i.di_origin, DLTUN_ORIGIN_ADMIN);
    assert_eq!((i.di_mtu, i.di_owner, i.di_group), (9000, 1001, 50));
    assert_eq!(i.di_mac, [2, 8, 0x20, 0xa, 0xb, 0xc]);
    assert_eq!(i.mac_text(), "2:8:20:a:b:c");
    assert_eq!((i.di_zoneid, i.zone_name()), (0, "global".to_string()));
    assert_eq!((i.di_nqueues, i.di_npids), (0, 0));
    assert!(i.di_creator_pid > 0);
    assert!(i.di_created_ns > 0);
    assert_eq!(i.di_counters, dltun_counters_t::default());

    // The persistent view shows what was configured.
    let p = h.info_flags("vpn0", DLTUN_OPT_PERSIST).unwrap();
    assert_eq!((p.di_mode, p.di_mtu, p.di_owner, p.di_group), (DLTUN_MODE_TAP, 9000, 1001, 50));
    assert_eq!(p.mac_text(), "2:8:20:a:b:c");
    assert_eq!(p.di_nqueues, 0);

    // And the link is what dlmgmtd and the driver have.
    // SAFETY: an open handle.
    let sys = unsafe { dltun::sim::system(h.0) }.unwrap();
    assert!(sys.driver().link_by_id(linkid).is_some());
    assert!(sys.host().dlmgmt_name2info(0, "vpn0").unwrap().flags.persistent);

    assert_eq!(h.delete("vpn0", 0), DLTUN_STATUS_OK);
    assert_eq!(h.info("vpn0").unwrap_err(), DLTUN_STATUS_NOTFOUND);
    assert!(h.errmsg().contains("vpn0") && h.errmsg().contains("no such link"), "{}", h.errmsg());
    assert!(sys.driver().links().is_empty());
    assert!(sys.host().dlmgmt_name2info(0, "vpn0").is_err());
}

#[test]
fn a_temporary_tun_gets_defaults_and_has_no_persistent_view() {
    let h = Handle::open();
    let (st, _) = h.create(&Attr::tun("tun3").temporary());
    assert_eq!(st, DLTUN_STATUS_OK, "{}", h.errmsg());
    let i = h.info("tun3").unwrap();
    assert_eq!(i.di_mode, DLTUN_MODE_TUN);
    assert_eq!(i.di_flags & DLTUN_INFO_PERSISTENT, 0);
    assert_ne!(i.di_flags & DLTUN_INFO_ACTIVE, 0);
    assert_eq!(i.di_mtu, MTU_DEFAULT);
    assert_eq!((i.di_owner, i.di_group), (DLTUN_NOID, DLTUN_NOID));
    assert_eq!(h.info_flags("tun3", DLTUN_OPT_PERSIST).unwrap_err(), DLTUN_STATUS_NOTFOUND);
    assert!(h.errmsg().contains("tun3") && h.errmsg().contains("no persistent configuration"), "{}", h.errmsg());
    assert!(h.walk(DLTUN_OPT_PERSIST).unwrap().is_empty());
    // Owner/group DLTUN_NOID with their bits set mean "none".
    let (st, _) = h.create(&Attr::tun("tun4").owner(DLTUN_NOID).group(DLTUN_NOID));
    assert_eq!(st, DLTUN_STATUS_OK);
    assert_eq!((h.info("tun4").unwrap().di_owner, h.info("tun4").unwrap().di_group), (DLTUN_NOID, DLTUN_NOID));
}

/// Create `attr`; expect `want`, a message naming `link` and containing
/// `words`, and nothing left behind.
#[track_caller]
fn refused(h: &Handle, attr: &Attr, want: dltun_status_t, words: &str) {
    let before = h.names();
    let (st, id) = h.create(attr);
    assert_eq!(st, want, "{attr:?}: {}", h.errmsg());
    assert_eq!(id, 0, "no link id is reported for a failed create");
    let msg = h.errmsg();
    assert!(msg.contains(words), "{attr:?}: message '{msg}' lacks '{words}'");
    assert_eq!(h.names(), before, "a failed create left something");
}

#[test]
fn create_refuses_bad_input_and_leaves_nothing() {
    let h = Handle::open();
    // Names: unreadable -> BADARG; readable but against the rules -> BADNAME.
    refused(&h, &Attr { name: None, ..Attr::tun("x0") }, DLTUN_STATUS_BADARG, "null pointer");
    refused(&h, &Attr { name: Some(vec![b'a'; 40]), ..Attr::tun("x0") }, DLTUN_STATUS_BADARG, "too long");
    refused(&h, &Attr { name: Some(b"vpn\xff0\0".to_vec()), ..Attr::tun("x0") }, DLTUN_STATUS_BADARG, "UTF-8");
    refused(&h, &Attr::tun("0vpn"), DLTUN_STATUS_BADNAME, "0vpn");
    refused(&h, &Attr::tun("vpn"), DLTUN_STATUS_BADNAME, "digit");
    refused(&h, &Attr::tun(""), DLTUN_STATUS_BADNAME, "invalid link name");
    refused(&h, &Attr::tun("vpn-0"), DLTUN_STATUS_BADNAME, "vpn-0");
    // Mode, flags, attribute bits.
    refused(&h, &Attr::new("vpn0", 0), DLTUN_STATUS_BADARG, "unknown mode 0");
    refused(&h, &Attr::new("vpn0", 7), DLTUN_STATUS_BADARG, "unknown mode 7");
    refused(&h, &Attr { flags: 0x80, ..Attr::tun("vpn0") }, DLTUN_STATUS_BADARG, "0x80");
    refused(&h, &Attr { flags: DLTUN_OPT_FORCE, ..Attr::tun("vpn0") }, DLTUN_STATUS_BADARG, "da_flags");
    refused(&h, &Attr { set: 0x100, ..Attr::tun("vpn0") }, DLTUN_STATUS_BADARG, "da_set");
    // MTU.
    refused(&h, &Attr::tun("vpn0").mtu(100), DLTUN_STATUS_BADMTU, "invalid MTU 100");
    refused(&h, &Attr::tun("vpn0").mtu(0), DLTUN_STATUS_BADMTU, "invalid MTU 0");
    refused(&h, &Attr::tun("vpn0").mtu(70_000), DLTUN_STATUS_BADMTU, "576 to 65535");
    // MAC.
    refused(&h, &Attr::tap("vpn0").mac("zz:1:2:3:4:5"), DLTUN_STATUS_BADMAC, "zz:1:2:3:4:5");
    refused(&h, &Attr::tap("vpn0").mac("2:8:20:1:2"), DLTUN_STATUS_BADMAC, "6 octets");
    refused(&h, &Attr::tap("vpn0").mac("1:2:3:4:5:6"), DLTUN_STATUS_BADMAC, "multicast");
    refused(&h, &Attr::tap("vpn0").mac("0:0:0:0:0:0"), DLTUN_STATUS_BADMAC, "all-zero");
    refused(&h, &Attr { mac: None, ..Attr::tap("vpn0").mac("2:0:0:0:0:1") }, DLTUN_STATUS_BADARG, "MAC address (null");
    refused(&h, &Attr::tun("vpn0").mac("2:8:20:a:b:c"), DLTUN_STATUS_MACONTUN, "tap links only");
    // A duplicate.
    assert_eq!(h.create(&Attr::tun("vpn0")).0, DLTUN_STATUS_OK);
    refused(&h, &Attr::tap("vpn0"), DLTUN_STATUS_EXISTS, "vpn0");
    // Null handle and null attributes.
    let vpn1 = Attr::tun("vpn1");
    let raw = vpn1.raw();
    // SAFETY: null arguments on purpose.
    unsafe {
        assert_eq!(dltun_create(ptr::null_mut(), &raw, ptr::null_mut()), DLTUN_STATUS_BADARG);
        assert_eq!(dltun_create(h.0, ptr::null(), ptr::null_mut()), DLTUN_STATUS_BADARG);
    }
    assert!(h.errmsg().contains("dltun_attr_t"), "{}", h.errmsg());
    // The link id pointer is optional.
    // SAFETY: an open handle and a valid attr.
    assert_eq!(unsafe { dltun_create(h.0, &raw, ptr::null_mut()) }, DLTUN_STATUS_OK);
    assert_eq!(h.names(), vec!["vpn0", "vpn1"]);
}

#[test]
fn a_failed_driver_create_rolls_back() {
    let h = Handle::open();
    // SAFETY: an open handle.
    assert_eq!(unsafe { dltun::sim::dltun_sim_fail_next_create(h.0) }, DLTUN_STATUS_OK);
    let (st, _) = h.create(&Attr::tap("vpn0"));
    assert_eq!(st, DLTUN_STATUS_KERNEL, "{}", h.errmsg());
    assert!(h.errmsg().contains("vpn0"), "{}", h.errmsg());
    // SAFETY: an open handle.
    let sys = unsafe { dltun::sim::system(h.0) }.unwrap();
    assert!(sys.host().dlmgmt_name2info(0, "vpn0").is_err(), "the link id was released");
    assert!(sys.driver().links().is_empty());
    assert_eq!(h.create(&Attr::tap("vpn0")).0, DLTUN_STATUS_OK, "the name is free again");
}

#[test]
fn calls_on_an_unknown_link_say_not_found() {
    let h = Handle::open();
    assert_eq!(h.delete("nope0", 0), DLTUN_STATUS_NOTFOUND);
    assert!(h.errmsg().contains("nope0"), "{}", h.errmsg());
    assert_eq!(h.info("nope0").unwrap_err(), DLTUN_STATUS_NOTFOUND);
    assert_eq!(h.modify("nope0", &Modify::mtu(1400), 0), DLTUN_STATUS_NOTFOUND);
    assert_eq!(h.up(Some("nope0")).0, DLTUN_STATUS_NOTFOUND);
    assert!(h.errmsg().contains("nope0"), "{}", h.errmsg());
}

#[test]
fn delete_refuses_bad_input() {
    let h = Handle::open();
    assert_eq!(h.create(&Attr::tun("vpn0")).0, DLTUN_STATUS_OK);
    assert_eq!(h.delete("vpn0", 0x40), DLTUN_STATUS_BADARG);
    assert!(h.errmsg().contains("0x40"), "{}", h.errmsg());
    assert_eq!(h.delete("vpn0", DLTUN_OPT_PERSIST), DLTUN_STATUS_BADARG);
    assert_eq!(h.delete("0bad", 0), DLTUN_STATUS_BADNAME);
    let long = [b'a'; 32];
    // SAFETY: null arguments and an unterminated 32-byte name on purpose:
    // the library reads at most 32 bytes.
    unsafe {
        assert_eq!(dltun_delete(h.0, ptr::null(), 0), DLTUN_STATUS_BADARG);
        assert_eq!(dltun_delete(h.0, long.as_ptr() as *const c_char, 0), DLTUN_STATUS_BADARG);
        assert_eq!(dltun_delete(ptr::null_mut(), c"vpn0".as_ptr(), 0), DLTUN_STATUS_BADARG);
    }
    assert_eq!(h.names(), vec!["vpn0"], "nothing was deleted");
}

#[test]
fn delete_of_a_busy_link_needs_force() {
    let h = Handle::open();
    assert_eq!(h.create(&Attr::tap("tap0")).0, DLTUN_STATUS_OK);
    let mut pid = 0;
    // SAFETY: an open handle and a writable pid.
    assert_eq!(unsafe { dltun::sim::dltun_sim_attach(h.0, c"tap0".as_ptr(), &mut pid) }, DLTUN_STATUS_OK);
    let i = h.info("tap0").unwrap();
    assert_eq!((i.di_nqueues, i.di_npids), (1, 1));
    assert_eq!(i.di_pids[0], pid);
    assert_eq!(i.di_state, DLTUN_STATE_UP);
    assert_eq!(h.delete("tap0", 0), DLTUN_STATUS_BUSY);
    assert!(h.errmsg().contains(&pid.to_string()), "the message names the pid: {}", h.errmsg());
    assert_eq!(h.names(), vec!["tap0"]);
    assert_eq!(h.delete("tap0", DLTUN_OPT_FORCE), DLTUN_STATUS_OK);
    assert!(h.names().is_empty());
}

#[test]
fn delete_temporary_keeps_the_configuration_for_up() {
    let h = Handle::open();
    assert_eq!(h.create(&Attr::tun("tun0").mtu(1400)).0, DLTUN_STATUS_OK);
    assert_eq!(h.delete("tun0", DLTUN_OPT_TEMPORARY), DLTUN_STATUS_OK);
    let i = h.info("tun0").unwrap();
    assert_eq!(i.di_state, DLTUN_STATE_CONFIGURED);
    assert_eq!(i.di_flags & DLTUN_INFO_ACTIVE, 0);
    assert_eq!(i.di_mtu, 1400, "values come from the configuration");
    // Deleting the running link again: it is not running.
    assert_eq!(h.delete("tun0", DLTUN_OPT_TEMPORARY), DLTUN_STATUS_NOTACTIVE);
    let (st, got) = h.up(Some("tun0"));
    assert_eq!(st, DLTUN_STATUS_OK, "{}", h.errmsg());
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].link.as_str(), got[0].result), ("tun0", DLTUN_UP_CREATED));
    assert_eq!(h.info("tun0").unwrap().di_mtu, 1400);
}

#[test]
fn walk_reports_every_link_in_name_order_and_can_stop() {
    let h = Handle::open();
    for attr in [Attr::tun("vpn2"), Attr::tap("tap1").temporary(), Attr::tun("vpn1")] {
        assert_eq!(h.create(&attr).0, DLTUN_STATUS_OK);
    }
    assert_eq!(h.names(), vec!["tap1", "vpn1", "vpn2"]);
    let persistent: Vec<String> = h.walk(DLTUN_OPT_PERSIST).unwrap().iter().map(|i| i.name()).collect();
    assert_eq!(persistent, vec!["vpn1", "vpn2"], "the temporary link has no configuration");

    // A callback that stops after `limit` links.
    struct Stop {
        limit: usize,
        seen: Vec<String>,
    }
    unsafe extern "C" fn stop_cb(info: *const dltun_info_t, arg: *mut c_void) -> c_int {
        // SAFETY: arg is the Stop below; info is valid during the call.
        let (stop, info) = unsafe { (&mut *(arg as *mut Stop), &*info) };
        stop.seen.push(info.name());
        if stop.seen.len() >= stop.limit { DLTUN_WALK_TERMINATE } else { DLTUN_WALK_CONTINUE }
    }
    for limit in [1, 2] {
        let mut stop = Stop { limit, seen: Vec::new() };
        // SAFETY: an open handle; stop_cb gets `stop`.
        let st = unsafe { dltun_walk(h.0, 0, Some(stop_cb), &mut stop as *mut Stop as *mut c_void) };
        assert_eq!(st, DLTUN_STATUS_OK, "stopping early is not an error");
        assert_eq!(stop.seen, ["tap1", "vpn1", "vpn2"][..limit].to_vec());
    }

    // Bad input.
    // SAFETY: null arguments on purpose.
    unsafe {
        assert_eq!(dltun_walk(h.0, 0, None, ptr::null_mut()), DLTUN_STATUS_BADARG);
        assert_eq!(dltun_walk(ptr::null_mut(), 0, Some(stop_cb), ptr::null_mut()), DLTUN_STATUS_BADARG);
    }
    assert!(h.errmsg().contains("callback"), "{}", h.errmsg());
    assert_eq!(h.walk(DLTUN_OPT_TEMPORARY).unwrap_err(), DLTUN_STATUS_BADARG);
    assert_eq!(h.walk(0x100).unwrap_err(), DLTUN_STATUS_BADARG);
}

#[test]
fn a_walk_callback_may_call_back_into_the_library() {
    let h = Handle::open();
    assert_eq!(h.create(&Attr::tun("vpn0")).0, DLTUN_STATUS_OK);
    assert_eq!(h.create(&Attr::tun("vpn1")).0, DLTUN_STATUS_OK);
    unsafe extern "C" fn delete_cb(info: *const dltun_info_t, arg: *mut c_void) -> c_int {
        // SAFETY: arg is the open handle; info is valid during the call.
        unsafe { dltun_delete(arg as *mut dltun_handle_t, (*info).di_name.as_ptr(), 0) };
        DLTUN_WALK_CONTINUE
    }
    // SAFETY: an open handle, passed to the callback as its arg.
    let st = unsafe { dltun_walk(h.0, 0, Some(delete_cb), h.0 as *mut c_void) };
    assert_eq!(st, DLTUN_STATUS_OK);
    assert!(h.names().is_empty(), "the callback deleted every link");
}

#[test]
fn info_refuses_bad_input() {
    let h = Handle::open();
    assert_eq!(h.create(&Attr::tun("vpn0")).0, DLTUN_STATUS_OK);
    let mut info = dltun_info_t::default();
    // SAFETY: null arguments on purpose.
    unsafe {
        assert_eq!(dltun_info(h.0, c"vpn0".as_ptr(), 0, ptr::null_mut()), DLTUN_STATUS_BADARG);
        assert!(h.errmsg().contains("dltun_info_t"), "{}", h.errmsg());
        assert_eq!(dltun_info(h.0, ptr::null(), 0, &mut info), DLTUN_STATUS_BADARG);
        assert_eq!(dltun_info(ptr::null_mut(), c"vpn0".as_ptr(), 0, &mut info), DLTUN_STATUS_BADARG);
    }
    assert_eq!(h.info_flags("vpn0", DLTUN_OPT_FORCE).unwrap_err(), DLTUN_STATUS_BADARG);
    assert_eq!(h.info("vpn-0").unwrap_err(), DLTUN_STATUS_BADNAME);
    assert!(h.errmsg().contains("vpn-0"), "{}", h.errmsg());
}

#[test]
fn modify_changes_the_running_link_and_the_configuration() {
    let h = Handle::open();
    assert_eq!(h.create(&Attr::tap("tap0").owner(1001).group(50)).0, DLTUN_STATUS_OK);
    assert_eq!(h.modify("tap0", &Modify::mtu(1400), 0), DLTUN_STATUS_OK, "{}", h.errmsg());
    assert_eq!(h.modify("tap0", &Modify::mac("2:0:0:0:0:9"), 0), DLTUN_STATUS_OK, "{}", h.errmsg());
    assert_eq!(h.modify("tap0", &Modify::owner(DLTUN_NOID), 0), DLTUN_STATUS_OK, "{}", h.errmsg());
    assert_eq!(h.modify("tap0", &Modify::group(60), 0), DLTUN_STATUS_OK, "{}", h.errmsg());
    for flags in [0, DLTUN_OPT_PERSIST] {
        let i = h.info_flags("tap0", flags).unwrap();
        assert_eq!((i.di_mtu, i.mac_text(), i.di_owner, i.di_group), (1400, "2:0:0:0:0:9".into(), DLTUN_NOID, 60));
    }
    // Temporary: the running link only.
    assert_eq!(h.modify("tap0", &Modify::mtu(1280), DLTUN_OPT_TEMPORARY), DLTUN_STATUS_OK);
    assert_eq!(h.info("tap0").unwrap().di_mtu, 1280);
    assert_eq!(h.info_flags("tap0", DLTUN_OPT_PERSIST).unwrap().di_mtu, 1400);
    // Several at once.
    let both = Modify { set: DLTUN_ATTR_MTU | DLTUN_ATTR_OWNER, mtu: 9000, owner: 7, ..Default::default() };
    assert_eq!(h.modify("tap0", &both, 0), DLTUN_STATUS_OK);
    let i = h.info("tap0").unwrap();
    assert_eq!((i.di_mtu, i.di_owner), (9000, 7));
}

#[test]
fn modify_refuses_bad_input_and_changes_nothing() {
    let h = Handle::open();
    assert_eq!(h.create(&Attr::tun("tun0").mtu(1400)).0, DLTUN_STATUS_OK);
    let cases: Vec<(Modify, u32, dltun_status_t, &str)> = vec![
        (Modify::default(), 0, DLTUN_STATUS_BADARG, "nothing to change"),
        (Modify { set: 0x20, ..Default::default() }, 0, DLTUN_STATUS_BADARG, "dm_set"),
        (Modify::mtu(1400), DLTUN_OPT_FORCE, DLTUN_STATUS_BADARG, "flag"),
        (Modify::mtu(100), 0, DLTUN_STATUS_BADMTU, "invalid MTU 100"),
        (Modify::mac("2:0:0:0:0:9"), 0, DLTUN_STATUS_MACONTUN, "tun0"),
        (Modify::mac("nonsense"), 0, DLTUN_STATUS_BADMAC, "nonsense"),
        (Modify { set: DLTUN_ATTR_MACADDR, ..Default::default() }, 0, DLTUN_STATUS_BADARG, "MAC address (null"),
    ];
    for (m, flags, want, words) in cases {
        assert_eq!(h.modify("tun0", &m, flags), want, "{m:?}: {}", h.errmsg());
        assert!(h.errmsg().contains(words), "{m:?}: '{}' lacks '{words}'", h.errmsg());
        assert_eq!(h.info("tun0").unwrap().di_mtu, 1400);
    }
    // SAFETY: null arguments on purpose.
    unsafe {
        assert_eq!(dltun_modify(h.0, c"tun0".as_ptr(), ptr::null(), 0), DLTUN_STATUS_BADARG);
        assert_eq!(dltun_modify(h.0, ptr::null(), &Modify::mtu(1500).raw(), 0), DLTUN_STATUS_BADARG);
        assert_eq!(dltun_modify(ptr::null_mut(), c"tun0".as_ptr(), &Modify::mtu(1500).raw(), 0), DLTUN_STATUS_BADARG);
    }
    // A temporary change needs a running link.
    assert_eq!(h.delete("tun0", DLTUN_OPT_TEMPORARY), DLTUN_STATUS_OK);
    assert_eq!(h.modify("tun0", &Modify::mtu(1500), DLTUN_OPT_TEMPORARY), DLTUN_STATUS_NOTACTIVE);
}

#[test]
fn up_recreates_configured_links_after_a_reboot_and_is_idempotent() {
    let h = Handle::open();
    assert_eq!(h.create(&Attr::tap("vpn0").mtu(1400).mac("2:1:2:3:4:5").owner(1001)).0, DLTUN_STATUS_OK);
    assert_eq!(h.create(&Attr::tun("tun1")).0, DLTUN_STATUS_OK);
    assert_eq!(h.create(&Attr::tap("tmp0").temporary()).0, DLTUN_STATUS_OK);
    // SAFETY: an open handle.
    assert_eq!(unsafe { dltun::sim::dltun_sim_reboot(h.0) }, DLTUN_STATUS_OK);
    let after: Vec<(String, u32)> = h.walk(0).unwrap().iter().map(|i| (i.name(), i.di_state)).collect();
    assert_eq!(after, vec![("tun1".into(), DLTUN_STATE_CONFIGURED), ("vpn0".into(), DLTUN_STATE_CONFIGURED)]);

    let (st, got) = h.up(None);
    assert_eq!(st, DLTUN_STATUS_OK, "{}", h.errmsg());
    let mut got: Vec<(String, dltun_up_result_t)> = got.into_iter().map(|r| (r.link, r.result)).collect();
    got.sort();
    assert_eq!(got, vec![("tun1".into(), DLTUN_UP_CREATED), ("vpn0".into(), DLTUN_UP_CREATED)]);
    let i = h.info("vpn0").unwrap();
    assert_eq!((i.di_mtu, i.mac_text(), i.di_owner), (1400, "2:1:2:3:4:5".into(), 1001));
    assert_ne!(i.di_flags & DLTUN_INFO_ACTIVE, 0);

    let (st, again) = h.up(None);
    assert_eq!(st, DLTUN_STATUS_OK);
    assert!(again.iter().all(|r| r.result == DLTUN_UP_ALREADY && r.status == DLTUN_STATUS_OK), "{again:?}");
    assert_eq!(again.len(), 2);
    // Without a callback.
    // SAFETY: an open handle; no callback.
    assert_eq!(unsafe { dltun_up(h.0, ptr::null(), None, ptr::null_mut()) }, DLTUN_STATUS_OK);
}

#[test]
fn up_reports_a_failing_link_and_its_status() {
    let h = Handle::open();
    assert_eq!(h.create(&Attr::tap("vpn0")).0, DLTUN_STATUS_OK);
    // SAFETY: an open handle.
    unsafe {
        assert_eq!(dltun::sim::dltun_sim_reboot(h.0), DLTUN_STATUS_OK);
        assert_eq!(dltun::sim::dltun_sim_fail_next_create(h.0), DLTUN_STATUS_OK);
    }
    let (st, got) = h.up(None);
    assert_eq!(st, DLTUN_STATUS_KERNEL, "{}", h.errmsg());
    assert!(h.errmsg().starts_with("1 of 1 link(s) did not come up; first: link vpn0:"), "{}", h.errmsg());
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].result, got[0].status), (DLTUN_UP_FAILED, DLTUN_STATUS_KERNEL));
    assert!(got[0].errmsg.contains("vpn0"), "{:?}", got[0]);
    // A temporary link has nothing to bring up; a bad name is refused.
    assert_eq!(h.create(&Attr::tun("tmp0").temporary()).0, DLTUN_STATUS_OK);
    assert_eq!(h.up(Some("tmp0")).0, DLTUN_STATUS_BUSY);
    assert_eq!(h.up(Some("9x")).0, DLTUN_STATUS_BADNAME);
    // SAFETY: a null handle on purpose.
    assert_eq!(unsafe { dltun_up(ptr::null_mut(), ptr::null(), None, ptr::null_mut()) }, DLTUN_STATUS_BADARG);
    // And it comes up once the driver cooperates.
    assert_eq!(h.up(Some("vpn0")).1[0].result, DLTUN_UP_CREATED);
}

#[test]
fn a_caller_without_privilege_is_denied() {
    let h = Handle::open();
    // SAFETY: an open handle.
    let sys = unsafe { dltun::sim::system(h.0) }.unwrap();
    let user = dltun::sim::open_as(sys.platform_as(sys.host().user_cred(1001, 10, 0)));
    let (st, _) = {
        let attr = Attr::tun("vpn0");
        let raw = attr.raw();
        // SAFETY: the user handle is open; attr is valid.
        (unsafe { dltun_create(user, &raw, ptr::null_mut()) }, ())
    };
    assert_eq!(st, DLTUN_STATUS_DENIED);
    // SAFETY: the user handle is open; its message is a C string.
    let msg = unsafe { CStr::from_ptr(dltun_errmsg(user)) }.to_string_lossy().into_owned();
    assert!(msg.contains("vpn0") && msg.contains("sys_dl_config"), "{msg}");
    assert!(h.names().is_empty());
    // SAFETY: made by open_as, not used again.
    unsafe { dltun::sim::close_caller(user) };
}

#[test]
fn a_panic_inside_the_library_becomes_internal() {
    let h = Handle::open();
    // SAFETY: an open handle.
    assert_eq!(unsafe { dltun::sim::dltun_sim_panic(h.0) }, DLTUN_STATUS_INTERNAL);
    assert!(h.errmsg().contains("deliberate panic"), "{}", h.errmsg());
    // The handle still works.
    assert_eq!(h.create(&Attr::tun("vpn0")).0, DLTUN_STATUS_OK);
    assert_eq!(h.errmsg(), "");
}

#[test]
fn strerror_describes_every_status_and_matches_the_library() {
    let mut seen = std::collections::BTreeSet::new();
    for (code, name) in STATUS_NAMES {
        let text = strerror(code);
        assert!(!text.is_empty() && text != "unknown libdltun status", "{name}");
        assert!(seen.insert(text.clone()), "{name}: '{text}' is not distinct");
    }
    for s in Status::ALL {
        assert_eq!(strerror(s as u32 as dltun_status_t), s.description(), "{s:?}");
    }
    assert_eq!(strerror(DLTUN_STATUS_BADARG), strerror(100));
    for unknown in [16, 99, 103, -1, i32::MIN, i32::MAX] {
        assert_eq!(strerror(unknown), "unknown libdltun status", "{unknown}");
    }
}

#[test]
fn c_status_codes_are_the_library_codes() {
    // Every library status has a C name with the same number, and the C
    // names are distinct.
    for s in Status::ALL {
        let code = s as u32 as dltun_status_t;
        assert!(STATUS_NAMES.iter().any(|(c, _)| *c == code), "{s:?} ({code}) has no DLTUN_STATUS_ name");
    }
    let codes: std::collections::BTreeSet<_> = STATUS_NAMES.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes.len(), STATUS_NAMES.len());
    assert_eq!(Status::ALL.len() + 3, STATUS_NAMES.len(), "the C-only codes are BADARG, INTERNAL, UNAVAIL");
}

/// `dltun_get_counters` on `link` with room for `room` entries: the
/// status, the count it reports, and the entries it filled.
fn get_counters(h: &Handle, link: &str, room: u32) -> (dltun_status_t, u32, Vec<(String, u64)>) {
    let name = std::ffi::CString::new(link).unwrap();
    let mut buf = vec![dltun_counter_t { dn_name: ptr::null(), dn_value: 0 }; room as usize];
    let mut count = room;
    // SAFETY: an open handle, a C string, room for `count` entries.
    let st = unsafe { dltun_get_counters(h.0, name.as_ptr(), buf.as_mut_ptr(), &mut count) };
    let filled = buf
        .iter()
        .take_while(|c| !c.dn_name.is_null())
        // SAFETY: the library's names are static C strings.
        .map(|c| (unsafe { CStr::from_ptr(c.dn_name) }.to_string_lossy().into_owned(), c.dn_value))
        .collect();
    (st, count, filled)
}

#[test]
fn get_counters_gives_every_driver_counter_by_name() {
    let h = Handle::open();
    assert_eq!(h.create(&Attr::tun("vpn0")).0, DLTUN_STATUS_OK);
    // SAFETY: an open handle.
    let sys = unsafe { dltun::sim::system(h.0) }.unwrap();
    let d = sys.spawn("openvpn", None);
    sys.daemon_attach(d, "vpn0", false, 0).unwrap();
    let _ = sys.daemon_write(d, &[0x45]); // too short for IP: an input error
    let table = tuntap_abi::TunCounters::default().named();
    // Asking how many: every counter of the driver's table.
    let (st, count, filled) = get_counters(&h, "vpn0", 0);
    assert_eq!((st, count as usize, filled.len()), (DLTUN_STATUS_OK, table.len(), 0), "{}", h.errmsg());
    // All of them, by name, in the table's order, with the driver's values.
    let (st, count, all) = get_counters(&h, "vpn0", count + 3);
    assert_eq!((st, count as usize), (DLTUN_STATUS_OK, table.len()));
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, table.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    let value = |n: &str| all.iter().find(|(name, _)| name == n).map(|(_, v)| *v).unwrap();
    assert_eq!(value("ierrors"), 1);
    assert!(names.contains(&"resolver_replies"), "counters beyond dltun_counters_t are there");
    // The fixed subset in dltun_info_t agrees.
    let c = h.info("vpn0").unwrap().di_counters;
    assert_eq!(
        [c.dc_ipackets, c.dc_rbytes, c.dc_opackets, c.dc_obytes, c.dc_ierrors, c.dc_oerrors, c.dc_norcvbuf, c.dc_noxmtbuf],
        ["ipackets", "rbytes", "opackets", "obytes", "ierrors", "oerrors", "norcvbuf", "noxmtbuf"].map(value)
    );
    // Too little room: the first ones, and the full count.
    let (st, count, some) = get_counters(&h, "vpn0", 2);
    assert_eq!((st, count as usize, some.as_slice()), (DLTUN_STATUS_OK, table.len(), &all[..2]));
    assert_eq!(h.delete("vpn0", DLTUN_OPT_FORCE), DLTUN_STATUS_OK);
}

#[test]
fn get_counters_refuses_bad_input() {
    let h = Handle::open();
    assert_eq!(h.create(&Attr::tap("cfg0")).0, DLTUN_STATUS_OK);
    assert_eq!(h.delete("cfg0", DLTUN_OPT_TEMPORARY), DLTUN_STATUS_OK);
    let (st, _, _) = get_counters(&h, "cfg0", 4);
    assert_eq!(st, DLTUN_STATUS_NOTACTIVE, "a configured link has no counters");
    assert!(h.errmsg().contains("cfg0"), "{}", h.errmsg());
    assert_eq!(get_counters(&h, "nope0", 4).0, DLTUN_STATUS_NOTFOUND);
    assert_eq!(get_counters(&h, "0bad", 4).0, DLTUN_STATUS_BADNAME);
    let name = c"cfg0";
    let mut count = 4u32;
    // SAFETY: null pointers on purpose; the library checks them.
    unsafe {
        assert_eq!(dltun_get_counters(h.0, name.as_ptr(), ptr::null_mut(), ptr::null_mut()), DLTUN_STATUS_BADARG);
        assert_eq!(dltun_get_counters(h.0, name.as_ptr(), ptr::null_mut(), &mut count), DLTUN_STATUS_BADARG);
        assert!(h.errmsg().contains("counter array"), "{}", h.errmsg());
        assert_eq!(dltun_get_counters(h.0, ptr::null(), ptr::null_mut(), &mut count), DLTUN_STATUS_BADARG);
        assert_eq!(dltun_get_counters(ptr::null_mut(), name.as_ptr(), ptr::null_mut(), &mut count), DLTUN_STATUS_BADARG);
    }
    assert_eq!(count, 4, "a refused call leaves the count alone");
    assert_eq!(h.delete("cfg0", 0), DLTUN_STATUS_OK);
}
