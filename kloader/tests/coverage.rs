// SPDX-License-Identifier: MPL-2.0

//! The loader's kernel covers the allowlists: every symbol in
//! kernel/allowlist.txt has a C-ABI implementation or a stated reason in
//! image::NOT_IMPLEMENTED, and nothing is implemented that the gate
//! forbids.  A symbol the lead adds to the allowlist fails here by name.

use std::collections::BTreeSet;

use kloader::image::{UNLISTED, Allowlist, NOT_IMPLEMENTED, image};
use kloader::{LoadedKernel, Paths};

#[test]
fn allowlist_and_implementations_agree() {
    let p = Paths::repo();
    let allow = Allowlist::read(&p.allowlist).unwrap();
    let listed: BTreeSet<&str> = allow.0.keys().map(String::as_str).collect();
    let implemented: BTreeSet<&str> = image().names().into_iter().collect();
    let excused: BTreeSet<&str> = NOT_IMPLEMENTED.iter().map(|n| n.0).collect();
    let missing: Vec<&&str> = listed.iter().filter(|s| !implemented.contains(**s) && !excused.contains(**s)).collect();
    assert!(missing.is_empty(), "kernel/allowlist.txt lists {missing:?}, which kloader neither implements nor explains in image::NOT_IMPLEMENTED");
    let stray: Vec<&&str> =
        implemented.iter().filter(|s| !listed.contains(**s) && !UNLISTED.iter().any(|u| u.0 == **s)).collect();
    assert!(stray.is_empty(), "kloader implements {stray:?}, which kernel/allowlist.txt does not list (no module may import them)");
    let stale: Vec<&&str> = excused.iter().filter(|s| implemented.contains(**s) || !listed.contains(**s)).collect();
    assert!(stale.is_empty(), "image::NOT_IMPLEMENTED entries {stale:?} are implemented or no longer allowlisted");
}

#[test]
fn tuntap_exports_every_symbol_of_allowlist_tun() {
    let Some(p) = Paths::built() else { return };
    let tun_list = Allowlist::read(&p.allowlist_tun).unwrap();
    let k = LoadedKernel::link(&p, &kloader::Objects::read(&p).unwrap(), Default::default()).unwrap();
    let tuntap = k.module("tuntap").unwrap();
    for sym in tun_list.0.keys() {
        assert!(tuntap.symbol(sym).is_some(), "drv/tuntap does not export {sym} (kernel/allowlist-tun.txt)");
    }
    assert_eq!(k.module("tun").unwrap().depends_on, vec!["drv/tuntap".to_owned()]);
    drop(k);
}
