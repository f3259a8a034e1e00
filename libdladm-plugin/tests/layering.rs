// SPDX-License-Identifier: MPL-2.0
//! The crate's modules import each other without circles (issue 10): the
//! owner registry knows no platform, and the `Platform` trait knows no
//! registry backend (`DirStore`, `MemStore`, `OWNER_DIR`).  Read from the
//! sources, so a new `use crate::...` that closes a circle fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name -> the crate modules its code (not its comments) names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("read src/") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let module = path.file_stem().and_then(|s| s.to_str()).expect("utf-8 name").to_string();
        let text = std::fs::read_to_string(&path).expect("read module");
        let mut names = BTreeSet::new();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && name != module {
                    names.insert(name);
                }
            }
        }
        graph.insert(module, names);
    }
    graph
}

/// A circle through `start`, if any (depth-first search over modules).
fn circle(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        g: &BTreeMap<String, BTreeSet<String>>,
        at: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in g.get(at).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if g.contains_key(next) && seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(g, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(graph, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn owners_and_platform_import_no_circle() {
    let g = imports();
    assert!(g.contains_key("owners") && g.contains_key("platform"), "modules moved: {:?}", g.keys());
    for m in ["owners", "platform", "ids", "types", "error", "manager", "linkprop", "props", "svcs"] {
        if let Some(c) = circle(&g, m) {
            panic!("import circle (issue 10: modules must layer): {}", c.join(" -> "));
        }
    }
}

#[test]
fn platform_trait_names_no_registry_backend() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/platform.rs")).unwrap();
    for backend in ["DirStore", "MemStore", "OWNER_DIR"] {
        let in_code = text.lines().any(|l| l.split("//").next().unwrap_or("").contains(backend));
        assert!(!in_code, "platform.rs names the registry backend {backend}: the Platform trait must know no backend");
    }
}
