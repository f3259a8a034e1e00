// SPDX-License-Identifier: MPL-2.0
//! libdltun.so.1's symbols are versioned (issue 15) by `mapfile-vers`, a
//! version-2 mapfile as illumos libraries have: it must list exactly the
//! functions libdltun.h declares and the library defines for C
//! (`extern "C"`, outside the simulator's test hooks), and keep
//! everything else local.  On Linux build.rs turns it into GNU ld's
//! version script; the shared object cargo built for these tests is
//! checked: every public function `@@LIBDLTUN_1.0`, the simulator's hooks
//! `@@LIBDLTUN_SIM`, nothing else exported.

use std::collections::BTreeSet;
use std::path::Path;

fn read(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// (version, global symbols, has `local: *`) of each SYMBOL_VERSION block.
fn blocks(mapfile: &str) -> Result<Vec<(String, BTreeSet<String>, bool)>, String> {
    if !mapfile.lines().any(|l| l.trim() == "$mapfile_version 2") {
        return Err("no `$mapfile_version 2` line".into());
    }
    let mut out: Vec<(String, BTreeSet<String>, bool)> = Vec::new();
    let mut section = "";
    for line in mapfile.lines().map(str::trim).filter(|l| !l.starts_with('#') && !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("SYMBOL_VERSION ") {
            out.push((rest.trim_end_matches('{').trim().to_string(), BTreeSet::new(), false));
            section = "";
        } else if line == "global:" || line == "local:" {
            section = line;
        } else if line.starts_with('}') {
            // `};`, or `} PARENT;` for a version that inherits one.
            section = "";
        } else if let Some(sym) = line.strip_suffix(';') {
            let block = out.last_mut().ok_or(format!("`{line}` outside a SYMBOL_VERSION block"))?;
            match section {
                "global:" => {
                    block.1.insert(sym.to_string());
                }
                "local:" if sym == "*" => block.2 = true,
                _ => return Err(format!("`{line}` in no global:/local: section")),
            }
        }
    }
    Ok(out)
}

fn header_functions(header: &str) -> BTreeSet<String> {
    // Every identifier directly before a '(' that names a dltun_ function
    // (not a dltun_*_t callback type).
    header
        .split('(')
        .filter_map(|before| {
            let ident: String =
                before.chars().rev().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<Vec<_>>().into_iter().rev().collect();
            (ident.starts_with("dltun_") && !ident.ends_with("_t")).then_some(ident)
        })
        .collect()
}

fn library_functions() -> BTreeSet<String> {
    let src = read("src/lib.rs");
    src.lines()
        .filter(|l| l.contains("extern \"C\" fn dltun_"))
        .filter_map(|l| l.split("fn ").nth(1)?.split('(').next().map(str::to_string))
        .collect()
}

fn problems(mapfile: &str) -> Vec<String> {
    let header = header_functions(&read("include/libdltun.h"));
    let library = library_functions();
    let mut out = Vec::new();
    let blocks = match blocks(mapfile) {
        Ok(b) => b,
        Err(e) => return vec![e],
    };
    let Some((first, _, local_rest)) = blocks.first() else {
        return vec!["no SYMBOL_VERSION block".into()];
    };
    if !first.starts_with("LIBDLTUN_") || !local_rest {
        out.push(format!("the first version {first} must be LIBDLTUN_* and end with `local: *;`"));
    }
    let listed: BTreeSet<String> = blocks.iter().flat_map(|b| b.1.iter().cloned()).collect();
    if listed != header {
        out.push(format!("mapfile-vers lists {listed:?}; libdltun.h declares {header:?}"));
    }
    if listed != library {
        out.push(format!("mapfile-vers lists {listed:?}; src/lib.rs defines {library:?}"));
    }
    out
}

#[test]
fn the_mapfile_versions_exactly_the_public_functions() {
    let p = problems(&read("mapfile-vers"));
    assert!(p.is_empty(), "{}", p.join("\n"));
    let build = read("build.rs");
    assert!(build.contains("-Wl,-M,") && build.contains("mapfile-vers"), "build.rs hands the mapfile to illumos ld");
}

/// What is wrong with the versions of the defined dynamic symbols in
/// `dynsym` (`readelf --dyn-syms -W` of the shared object), against the
/// mapfile's first version and the simulator's hooks.
fn versioning_problems(dynsym: &str, mapfile: &str) -> Vec<String> {
    let Ok(blocks) = blocks(mapfile) else { return vec!["the mapfile does not parse".into()] };
    // Each public function's version: the block that lists it.
    let version_of = |sym: &str| blocks.iter().find(|b| b.1.contains(sym)).map(|b| b.0.as_str());
    let public: BTreeSet<String> = blocks.iter().flat_map(|b| b.1.iter().cloned()).collect();
    let sim: BTreeSet<String> = read("src/sim.rs")
        .lines()
        .filter(|l| l.contains("extern \"C\" fn dltun_sim_"))
        .filter_map(|l| l.split("fn ").nth(1)?.split('(').next().map(str::to_string))
        .collect();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for line in dynsym.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // Num: Value Size Type Bind Vis Ndx Name; defined globals only.
        let [_, _, _, kind, bind, _, ndx, name] = cols[..] else { continue };
        if ndx == "UND" || ndx == "Ndx" || bind == "LOCAL" {
            continue;
        }
        if kind == "OBJECT" && ndx == "ABS" {
            continue; // the version definitions themselves
        }
        let (sym, ver) = name.split_once("@@").unwrap_or((name, ""));
        seen.insert(sym.to_string());
        let want = if let Some(v) = version_of(sym) {
            v
        } else if sim.contains(sym) {
            "LIBDLTUN_SIM"
        } else {
            out.push(format!("{name} is exported but mapfile-vers does not list it (everything else is local)"));
            continue;
        };
        if ver != want {
            out.push(format!("{sym} carries version '{ver}', mapfile-vers gives it {want}"));
        }
    }
    for missing in public.difference(&seen) {
        out.push(format!("{missing} is in mapfile-vers but not exported"));
    }
    out
}

fn built_library() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().join("libdltun.so")
}

fn dynsym(lib: &Path) -> String {
    let out = std::process::Command::new("readelf").args(["--dyn-syms", "-W"]).arg(lib).output().expect("run readelf");
    assert!(out.status.success(), "readelf failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(target_os = "linux")]
#[test]
fn the_built_library_carries_the_mapfile_versions() {
    let lib = built_library();
    assert!(lib.exists(), "{} is missing: cargo builds it with the tests", lib.display());
    let p = versioning_problems(&dynsym(&lib), &read("mapfile-vers"));
    assert!(p.is_empty(), "libdltun.so is not versioned by mapfile-vers (build.rs's version script):\n{}", p.join("\n"));
}

#[test]
fn the_version_check_bites() {
    let mapfile = read("mapfile-vers");
    let unversioned = "    62: 000000000002aaa0   953 FUNC    GLOBAL DEFAULT   16 dltun_open\n";
    assert!(
        versioning_problems(unversioned, &mapfile).iter().any(|p| p.contains("dltun_open carries version ''")),
        "an unversioned function is caught"
    );
    let leak = "    63: 000000000002aaa0   9 FUNC    GLOBAL DEFAULT   16 rust_eh_personality\n";
    assert!(
        versioning_problems(leak, &mapfile).iter().any(|p| p.contains("rust_eh_personality is exported")),
        "a symbol outside the mapfile is caught"
    );
    assert!(
        versioning_problems("", &mapfile).iter().any(|p| p.contains("dltun_walk is in mapfile-vers but not exported")),
        "a missing function is caught"
    );
}

#[test]
fn the_mapfile_check_bites() {
    let missing = read("mapfile-vers").replace("\tdltun_walk;\n", "");
    assert!(problems(&missing).iter().any(|p| p.contains("libdltun.h declares")), "a missing function is caught");
    let open = read("mapfile-vers").replace("\t*;\n", "");
    assert!(problems(&open).iter().any(|p| p.contains("local: *")), "a missing `local: *` is caught");
}
