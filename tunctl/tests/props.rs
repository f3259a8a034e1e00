// SPDX-License-Identifier: MPL-2.0
//! `-p prop=value,...` in tunctl and in the dladm patch come from one
//! table (`libdladm_plugin::props::TUN_PROPS`): tunctl takes them as
//! dladm create-tun/modify-tun do, and the patch's C parser names exactly
//! the table's properties, with resets for the same ones; both hand every
//! other name to `dladm_set_linkprop`, as `dladm create-vnic -p` does.

use libdladm_plugin::props::TUN_PROPS;
use libdladm_plugin::sim::{SimPlatform, SimSystem};
use tunctl::exit;

fn run(p: &SimPlatform, args: &str) -> (i32, String, String) {
    let args: Vec<String> = args.split_whitespace().map(str::to_string).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = tunctl::run(&args, || Ok(p.clone()), &mut out, &mut err);
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

#[test]
fn create_and_modify_take_dladm_style_properties() {
    let sys = SimSystem::new();
    let a = sys.admin();
    let (code, _, e) = run(&a, "create -T tap -p mtu=1400,mac-address=2:8:20:aa:bb:cc -p owner=root,group=0 tap7");
    assert_eq!((code, e.as_str()), (exit::OK, ""));
    assert_eq!(run(&a, "show -p -o mtu,macaddress,owner,group tap7").1, "1400:2\\:8\\:20\\:aa\\:bb\\:cc:root:root\n");
    let (code, _, e) = run(&a, "modify -p owner=,mtu=9000 -p group= tap7");
    assert_eq!((code, e.as_str()), (exit::OK, ""));
    assert_eq!(run(&a, "show -p -o mtu,owner,group tap7").1, "9000:--:--\n");
    // Any other link property, as dladm create-vnic -p; libdladm judges it.
    let (code, _, e) = run(&a, "create -T tun -p maxbw=10M,mtu=1400 -p priority=low tun8");
    assert_eq!((code, e.as_str()), (exit::OK, ""));
    assert_eq!((sys.linkprop("tun8", "maxbw").as_deref(), sys.linkprop("tun8", "priority").as_deref()), (Some("10M"), Some("low")));
    let (code, _, e) = run(&a, "modify -p priority=high tun8");
    assert_eq!((code, e.as_str(), sys.linkprop("tun8", "priority").as_deref()), (exit::OK, "", Some("high")));
    let (code, out, e) = run(&a, "create -T tap -p speed=10 tap8");
    assert_eq!(
        (code, out.as_str(), e.as_str()),
        (exit::FAILED, "", "tunctl: link tap8: dlmgmtd refused to set a link property: speed=10: invalid link property 'speed'\n")
    );
    assert_eq!(run(&a, "show tap8").0, exit::NOT_FOUND, "a refused property undoes the create");
    for (args, msg) in [
        ("create -T tap -p maxbw= tap8", "tunctl: link tap8: property 'maxbw' needs a value\n"),
        ("modify -p maxbw= tap7", "tunctl: link tap7: property 'maxbw' needs a value (dladm reset-linkprop resets a link property)\n"),
        ("create -T tap -p owner= tap8", "tunctl: link tap8: property 'owner' needs a value\n"),
        ("create -T tap --mtu 1400 -p mtu=1500 tap8", "tunctl: link tap8: property 'mtu' is given twice\n"),
        ("modify --no-owner -p owner=root tap7", "tunctl: link tap7: property 'owner' is given twice\n"),
    ] {
        let (code, out, e) = run(&a, args);
        assert_eq!((code, out.as_str(), e.as_str()), (exit::USAGE, "", msg), "{args}");
    }
    sys.finish();
}

/// The property names the patch's tun_parse_props compares with, and
/// those its reset rule refuses a reset for.
fn patch_props() -> (Vec<String>, String) {
    let patch = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../patches/illumos-gate/0001-dladm-tun-subcommands.patch")).unwrap();
    let names = patch
        .split("strcmp(ai->ai_name, \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_string))
        .collect();
    (names, patch)
}

#[test]
fn the_patch_parses_exactly_the_table() {
    let (names, patch) = patch_props();
    let table: Vec<String> = TUN_PROPS.iter().map(|p| p.name.to_string()).collect();
    assert_eq!(names, table, "dladm patch tun_parse_props vs TUN_PROPS");
    // Resets: the patch takes "owner=" and "group=" out before parsing
    // (tun_take_resets); nothing else may be reset.
    for p in TUN_PROPS {
        let taken = patch.contains(&format!("strncmp(in, \"{}=\", len)", p.name));
        assert_eq!(taken, p.resettable, "reset of {} in the patch", p.name);
    }
    // Every other name is a link property for dladm_set_linkprop, in the
    // patch as in tunctl (libdladm_plugin::props): set once the link
    // exists, the link undone if one is refused.
    assert!(patch.contains("tp->tp_linkprop[i] = B_TRUE;"), "the patch keeps other properties as link properties");
    assert!(patch.contains("status = dladm_set_linkprop(handle, linkid, ai->ai_name,"), "and sets them with dladm_set_linkprop");
    assert!(patch.contains("(void) dltun_delete(th, link, DLTUN_OPT_FORCE);"), "a refused one undoes the create");
}
