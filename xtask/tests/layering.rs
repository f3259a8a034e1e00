// SPDX-License-Identifier: MPL-2.0
//! No import circle between the files of the driver crate or of xtask
//! (issue 10, docs/CONVENTIONS.md "Layers").  Read from the sources: a
//! file names another through `crate::...`, through `super::...` (its
//! parent, or a sibling), or through `use child::...` (a module of its
//! own); a circle among those names fails here with the path around it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `a/b/mod.rs` and `a/b.rs` are module `a::b`; `lib.rs`/`main.rs` the root "".
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts.join("::")
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() { b.to_string() } else { format!("{a}::{b}") }
}

fn parent(m: &str) -> String {
    m.rsplit_once("::").map_or(String::new(), |(p, _)| p.to_string())
}

/// The longest known module that `path` (`a::b::Item`) starts with.
fn resolve(modules: &BTreeSet<String>, path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len()).rev().map(|k| parts[..k].join("::")).find(|m| modules.contains(m))
}

fn path_after(text: &str, at: usize) -> String {
    text[at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect()
}

/// Module -> the modules of the same crate its code names.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rs_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(src, f)).collect();
    let mut g = BTreeMap::new();
    for file in &files {
        let me = module_of(src, file);
        let text = std::fs::read_to_string(file).expect("read source");
        let mut deps = BTreeSet::new();
        // An inline `mod tests` sits below its file: its `super::` is the
        // file itself, not the file's parent.
        let body = text.split("\nmod tests {").next().unwrap_or(&text);
        for line in body.lines() {
            let code = line.split("//").next().unwrap_or("");
            for (at, _) in code.match_indices("crate::") {
                if let Some(m) = resolve(&modules, &path_after(code, at + "crate::".len())) {
                    deps.insert(m);
                }
            }
            for (at, _) in code.match_indices("super::") {
                let base = parent(&me);
                let rest = path_after(code, at + "super::".len());
                let target = resolve(&modules, &join(&base, &rest)).unwrap_or(base);
                deps.insert(target);
            }
            let t = code.trim_start();
            let t = t.strip_prefix("pub ").unwrap_or(t);
            if let Some(rest) = t.strip_prefix("use ") {
                let first = rest.split("::").next().unwrap_or("");
                let child = join(&me, first);
                if modules.contains(&child) {
                    deps.insert(child);
                }
            }
        }
        deps.remove(&me);
        // The crate root only declares modules and re-exports the
        // crate's public face; it is nobody's dependency.
        deps.remove("");
        if !me.is_empty() {
            g.insert(me, deps);
        }
    }
    g
}

fn find_circle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn walk(
        g: &BTreeMap<String, BTreeSet<String>>,
        at: &str,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|m| m == at) {
            let mut c = stack[i..].to_vec();
            c.push(at.to_string());
            return Some(c);
        }
        if !done.insert(at.to_string()) {
            return None;
        }
        stack.push(at.to_string());
        for next in g.get(at).into_iter().flatten() {
            if let Some(c) = walk(g, next, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for m in g.keys() {
        if let Some(c) = walk(g, m, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

fn assert_layered(crate_src: &str) {
    let g = graph(&repo().join(crate_src));
    assert!(g.len() > 3, "{crate_src}: too few modules found: {:?}", g.keys());
    if let Some(c) = find_circle(&g) {
        panic!("import circle in {crate_src} (docs/CONVENTIONS.md: imports only point down): {}", c.join(" -> "));
    }
}

#[test]
fn the_driver_crate_has_no_import_circle() {
    assert_layered("tuntap-drv/src");
}

#[test]
fn xtask_has_no_import_circle() {
    assert_layered("xtask/src");
}

#[test]
fn a_planted_circle_is_found() {
    let mut g = BTreeMap::new();
    g.insert("link".to_string(), BTreeSet::from(["dlpi::prim".to_string()]));
    g.insert("dlpi::prim".to_string(), BTreeSet::from(["queue".to_string()]));
    g.insert("queue".to_string(), BTreeSet::new());
    assert_eq!(find_circle(&g), None);
    g.insert("queue".to_string(), BTreeSet::from(["link".to_string()]));
    let c = find_circle(&g).expect("the circle");
    assert_eq!(c.first(), c.last());
    assert_eq!(c.len(), 4, "{c:?}");
}
