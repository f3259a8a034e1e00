// SPDX-License-Identifier: MPL-2.0

//! Load, _init, attach, detach, _fini of the built objects.

use kloader::{LoadedKernel, Paths};

#[test]
fn boot_and_unload() {
    let Some(paths) = Paths::built() else { return };
    let k = LoadedKernel::boot_built(&paths).unwrap_or_else(|e| panic!("{e}"));
    let nodes: Vec<(String, u32)> = k.minor_nodes().into_iter().map(|n| (n.name, n.minor)).collect();
    assert_eq!(nodes, vec![("ctl".into(), 0), ("tun".into(), 1), ("tap".into(), 2)]);
    eprintln!("stack: {:?}", kloader::kstack::deepest());
    k.finish();
}
