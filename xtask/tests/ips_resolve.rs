// SPDX-License-Identifier: MPL-2.0
//! Installability beside the distributions' packages (issue 15), proved
//! with the IPS resolution model of `xtask::ips` (a model of pkg(5)'s
//! rules, not `pkg` itself) over our manifests and stand-ins of
//! OpenIndiana's and OmniOS's tun/tap and OpenVPN packages
//! (xtask/tests/ips-stand-ins: real names, versions, paths).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use xtask::ips::{self, Image, Pkg, Request};
use xtask::package::{Manifest, PROJECT_PACKAGES, load_manifests};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).expect("repository")
}

fn pkgs(dir: &Path) -> Vec<Pkg> {
    load_manifests(dir).expect("load manifests").iter().map(|m| Pkg::from_manifest(m).expect("package")).collect()
}

fn ours() -> Vec<Pkg> {
    pkgs(&repo().join("manifests"))
}

fn stand_ins() -> Vec<Pkg> {
    pkgs(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ips-stand-ins"))
}

fn catalog() -> Vec<Pkg> {
    ours().into_iter().chain(stand_ins()).collect()
}

/// An image holding these stand-in packages (by name).
fn image(zone: &str, names: &[&str]) -> Image {
    let all = stand_ins();
    let installed: BTreeMap<String, Pkg> = names
        .iter()
        .map(|n| {
            let p = all.iter().find(|p| p.name == *n).unwrap_or_else(|| panic!("no stand-in {n}"));
            (p.name.clone(), p.clone())
        })
        .collect();
    Image { zone: zone.into(), installed }
}

fn req(install: &[&str], reject: &[&str]) -> Request {
    Request { install: install.iter().map(|s| s.to_string()).collect(), reject: reject.iter().map(|s| s.to_string()).collect() }
}

const OI_LEGACY: &[&str] = &["driver/network/tun", "driver/network/tap", "driver/network/header-tun", "network/openvpn", "network/openvpn/easy-rsa"];

fn oi_to_ours() -> Request {
    let mut install: Vec<&str> = PROJECT_PACKAGES.to_vec();
    install.extend(["pkg://tuntap/driver/network/tun", "pkg://tuntap/driver/network/tap", "pkg://tuntap/driver/network/header-tun"]);
    req(&install, &[])
}

fn publisher_of(img: &Image, name: &str) -> String {
    img.installed.get(name).map(|p| p.fmri()).unwrap_or_else(|| "(not installed)".into())
}

#[test]
fn openindiana_with_the_legacy_driver_and_openvpn_moves_to_ours_and_back() {
    let start = image("global", OI_LEGACY);
    let moved = ips::install(&catalog(), &start, &oi_to_ours()).unwrap_or_else(|e| panic!("move to ours:\n{}", e.join("\n")));
    for name in PROJECT_PACKAGES {
        assert!(moved.installed.contains_key(*name), "{name} is installed");
    }
    // The legacy names now hold the renamed stubs; OpenVPN stays.
    for name in ["driver/network/tun", "driver/network/tap", "driver/network/header-tun"] {
        assert_eq!(publisher_of(&moved, name), format!("pkg://tuntap/{name}@1.3.3.1"));
    }
    assert_eq!(publisher_of(&moved, "network/openvpn"), "pkg://openindiana.org/network/openvpn@2.6.12");
    assert!(
        !moved.installed.values().flat_map(|p| &p.paths).any(|(p, _)| p.starts_with("usr/kernel/drv/")),
        "no legacy module is left"
    );

    // And back: the distribution's packages by publisher and version, ours rejected.
    let back = ips::install(
        &catalog(),
        &moved,
        &req(
            &[
                "pkg://openindiana.org/driver/network/tun@1.3.3",
                "pkg://openindiana.org/driver/network/tap@1.3.3",
                "pkg://openindiana.org/driver/network/header-tun@1.3.3",
            ],
            PROJECT_PACKAGES,
        ),
    )
    .unwrap_or_else(|e| panic!("move back:\n{}", e.join("\n")));
    let mut names: Vec<&str> = back.installed.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut want = OI_LEGACY.to_vec();
    want.sort_unstable();
    assert_eq!(names, want, "exactly the distribution's packages again");
    assert_eq!(publisher_of(&back, "driver/network/tun"), "pkg://openindiana.org/driver/network/tun@1.3.3");
}

#[test]
fn moving_back_without_removing_ours_is_refused_with_the_reason() {
    let moved = ips::install(&catalog(), &image("global", OI_LEGACY), &oi_to_ours()).expect("move");
    let e = ips::install(&catalog(), &moved, &req(&["pkg://openindiana.org/driver/network/tun@1.3.3"], &[])).unwrap_err();
    assert!(e.iter().any(|m| m.contains("driver/network/dltun") && m.contains("driver/network/tun")), "{e:?}");
}

#[test]
fn the_legacy_names_must_be_named_with_our_publisher_because_publishers_are_sticky() {
    let e = ips::install(&catalog(), &image("global", OI_LEGACY), &req(&["driver/network/dltun"], &[])).unwrap_err();
    assert!(e.iter().any(|m| m.contains("sticky") && m.contains("pkg://tuntap/driver/network/tun")), "{e:?}");
}

#[test]
fn omnios_with_driver_tuntap_and_ooce_openvpn_moves_to_ours_and_back() {
    let legacy = ["driver/tuntap", "ooce/network/openvpn"];
    let mut install: Vec<&str> = PROJECT_PACKAGES.to_vec();
    install.push("pkg://tuntap/driver/tuntap");
    let moved = ips::install(&catalog(), &image("global", &legacy), &req(&install, &[]))
        .unwrap_or_else(|e| panic!("move to ours:\n{}", e.join("\n")));
    assert_eq!(publisher_of(&moved, "driver/tuntap"), "pkg://tuntap/driver/tuntap@1.3.3.1");
    assert_eq!(publisher_of(&moved, "ooce/network/openvpn"), "pkg://extra.omnios/ooce/network/openvpn@2.7.5");
    let back = ips::install(&catalog(), &moved, &req(&["pkg://omnios/driver/tuntap@1.3.3"], PROJECT_PACKAGES))
        .unwrap_or_else(|e| panic!("move back:\n{}", e.join("\n")));
    let names: Vec<&str> = back.installed.keys().map(String::as_str).collect();
    assert_eq!(names, vec!["driver/tuntap", "ooce/network/openvpn"]);
}

#[test]
fn our_openvpn_service_installs_beside_either_distributions_openvpn() {
    // Nothing of network/openvpn/tuntap-service collides with OI's or
    // OmniOS's OpenVPN (paths, service manifest, RBAC files).
    let oi = ips::install(&catalog(), &image("global", OI_LEGACY), &oi_to_ours()).expect("OI");
    assert!(oi.installed.contains_key("network/openvpn/tuntap-service"));
    let e = ips::install(&catalog(), &image("global", &[]), &req(&["network/openvpn/tuntap-service", "pkg://tuntap/driver/network/tun"], &[]));
    // On an image without any OpenVPN, require-any pulls one in.
    let img = e.unwrap_or_else(|e| panic!("{e:?}"));
    assert!(img.installed.contains_key("network/openvpn") || img.installed.contains_key("ooce/network/openvpn"));
}

#[test]
fn userland_installs_in_a_non_global_zone_without_the_driver() {
    let img = ips::install(
        &catalog(),
        &image("nonglobal", &[]),
        &req(&["network/tunctl", "system/library/libdltun", "network/tunneld"], &[]),
    )
    .unwrap_or_else(|e| panic!("non-global zone:\n{}", e.join("\n")));
    assert!(!img.installed.contains_key("driver/network/dltun"), "the driver stays in the global zone");
    assert!(img.installed.contains_key("network/tunctl"));
    // In the global zone the same request brings the driver.
    let img = ips::install(&catalog(), &image("global", &[]), &req(&["network/tunctl"], &[])).expect("global zone");
    assert!(img.installed.contains_key("driver/network/dltun"));
}

/// Our manifests with `edit` applied to one of them.
fn catalog_with(file: &str, edit: impl Fn(&str) -> String) -> Vec<Pkg> {
    let path = repo().join("manifests").join(file);
    let text = edit(&std::fs::read_to_string(&path).expect("read manifest"));
    let changed = Pkg::from_manifest(&Manifest::parse(&path, &text).expect("parse")).expect("package");
    catalog().into_iter().map(|p| if p.name == changed.name { changed.clone() } else { p }).collect()
}

#[test]
fn the_model_catches_the_old_mistakes() {
    // A driver dependency without the zone condition: tunctl no longer
    // installs in a non-global zone.
    let cat = catalog_with("network-tunctl.p5m", |t| t.replace(" \\\n    variant.opensolaris.zone=global", ""));
    let e = ips::install(&cat, &image("nonglobal", &[]), &req(&["network/tunctl"], &[])).unwrap_err();
    assert!(e.iter().any(|m| m.contains("driver/network/dltun") && m.contains("nonglobal")), "{e:?}");
    // Without the optional dependencies the legacy driver stays: two
    // packages then deliver `driver name=tun`.
    let cat = catalog_with("driver-network-dltun.p5m", |t| t.lines().filter(|l| !l.contains("type=optional")).collect::<Vec<_>>().join("\n"));
    let e = ips::install(&cat, &image("global", OI_LEGACY), &req(&["driver/network/dltun"], &[])).unwrap_err();
    assert!(e.iter().any(|m| m.contains("driver name=tun")), "{e:?}");
    // The old OpenVPN service package delivered OI's manifest path.
    let cat = catalog_with("network-openvpn-tuntap.p5m", |t| {
        t.replace("lib/svc/manifest/network/tuntap-openvpn.xml", "lib/svc/manifest/network/openvpn.xml")
    });
    let e = ips::install(&cat, &image("global", OI_LEGACY), &oi_to_ours()).unwrap_err();
    assert!(e.iter().any(|m| m.contains("lib/svc/manifest/network/openvpn.xml is delivered by both")), "{e:?}");
}
