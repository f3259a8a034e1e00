// SPDX-License-Identifier: MPL-2.0
//! A small model of IPS dependency resolution, for the tests only: it
//! decides whether `pkg install` of some packages into an image that holds
//! others can succeed, and what the image then holds.  It is **not**
//! `pkg`: there is no `pkg` on Linux, so the tests resolve our manifests
//! against stand-ins of the distributions' packages (their real names,
//! versions and paths) with the rules below, each as pkg(5)/pkg(1)
//! describe it (illumos/pkg5 man pages, "Dependency actions" and
//! "pkg install"):
//!
//! - `require`: the named package must be installed at the given version
//!   or newer; the solver installs the newest one it may.
//! - `optional`: if the named package is installed, it must be at the
//!   given version or newer (so an installed older one is updated).
//! - `exclude`: the named package, at the given version or newer, must not
//!   be installed.
//! - `require-any`: one of the named packages must be installed.
//! - `conditional`: the `fmri` is required when the `predicate` is
//!   installed.
//! - a dependency carrying `variant.opensolaris.zone=V` applies only in an
//!   image of that variant; a package whose `variant.opensolaris.zone`
//!   values omit the image's cannot be installed there.
//! - `pkg.renamed=true`: the package holds only dependencies on its
//!   successor (nothing else needed here: the require does the work).
//! - publishers are sticky (pkg(1) set-publisher): an installed package
//!   changes publisher only if the request names it as
//!   `pkg://PUBLISHER/NAME`.
//! - `pkg install --reject NAME` removes NAME and keeps it out.
//! - no two installed packages deliver the same file or link path, the
//!   same directory with other attributes, or the same `driver name=`.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::package::{Action, Manifest, fmri_package_name};

/// A release version (`1.3.3.1` of `1.3.3.1,5.11-0`): dot-separated
/// numbers, compared numerically.
pub type Version = Vec<u64>;

/// `1.3.3.1,5.11-0` -> `[1, 3, 3, 1]`.
pub fn parse_version(text: &str) -> Option<Version> {
    text.split([',', '-', ':']).next()?.split('.').map(|n| n.parse().ok()).collect()
}

/// `pkg://pub/name@ver`, `pkg:/name@ver` or `name@ver` -> (publisher,
/// name, version).
pub fn parse_fmri(fmri: &str) -> Option<(Option<String>, String, Option<Version>)> {
    let publisher = fmri.strip_prefix("pkg://").and_then(|r| r.split_once('/')).map(|(p, _)| p.to_string());
    let name = fmri_package_name(fmri)?;
    let version = match fmri.split_once('@') {
        Some((_, v)) => Some(parse_version(v)?),
        None => None,
    };
    Some((publisher, name, version))
}

/// A package of the catalog.
#[derive(Clone, Debug)]
pub struct Pkg {
    pub publisher: String,
    pub name: String,
    pub version: Version,
    pub zones: Vec<String>,
    pub deps: Vec<Action>,
    /// (path, what must match for a repeat: "" = never repeatable).
    pub paths: Vec<(String, String)>,
    pub drivers: Vec<String>,
}

impl Pkg {
    pub fn from_manifest(m: &Manifest) -> Result<Pkg, String> {
        let fmri = m.set_value("pkg.fmri").ok_or_else(|| format!("{}: no pkg.fmri", m.file.display()))?;
        let (publisher, name, version) = parse_fmri(fmri).ok_or_else(|| format!("{}: bad fmri {fmri}", m.file.display()))?;
        let zones = m
            .actions
            .iter()
            .find(|a| a.kind == "set" && a.attr("name") == Some("variant.opensolaris.zone"))
            .map(|a| a.attr_all("value").iter().map(|v| v.to_string()).collect())
            .unwrap_or_default();
        let mut paths = Vec::new();
        for a in &m.actions {
            if let Some(p) = a.attr("path") {
                match a.kind.as_str() {
                    "dir" => paths.push((
                        p.to_string(),
                        format!("{} {} {}", a.attr("mode").unwrap_or(""), a.attr("owner").unwrap_or(""), a.attr("group").unwrap_or("")),
                    )),
                    "file" | "link" | "hardlink" => paths.push((p.to_string(), String::new())),
                    _ => {}
                }
            }
        }
        Ok(Pkg {
            publisher: publisher.unwrap_or_default(),
            name,
            version: version.unwrap_or_default(),
            zones,
            deps: m.actions.iter().filter(|a| a.kind == "depend").cloned().collect(),
            paths,
            drivers: m.actions.iter().filter(|a| a.kind == "driver").filter_map(|a| a.attr("name")).map(str::to_string).collect(),
        })
    }

    pub fn fmri(&self) -> String {
        let v: Vec<String> = self.version.iter().map(u64::to_string).collect();
        format!("pkg://{}/{}@{}", self.publisher, self.name, v.join("."))
    }

    fn fits(&self, zone: &str) -> bool {
        self.zones.is_empty() || self.zones.iter().any(|z| z == zone)
    }
}

/// An image: its zone variant (`global` or `nonglobal`) and what it holds.
#[derive(Clone, Debug)]
pub struct Image {
    pub zone: String,
    pub installed: BTreeMap<String, Pkg>,
}

/// One `pkg install [--reject NAME]... FMRI...`.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub install: Vec<String>,
    pub reject: Vec<String>,
}

fn at_least(v: &Version, min: &Option<Version>) -> bool {
    min.as_ref().is_none_or(|m| v.cmp(m) != Ordering::Less)
}

/// Resolve `req` on `image` with `catalog`: the new image, or every
/// reason it cannot be done.
pub fn install(catalog: &[Pkg], image: &Image, req: &Request) -> Result<Image, Vec<String>> {
    let mut errors = Vec::new();
    let mut now = image.installed.clone();
    for r in &req.reject {
        now.remove(r);
    }
    // pick NAME (min version, explicit publisher, exact version): the
    // newest catalog entry allowed, honouring sticky publishers.
    let pick = |now: &BTreeMap<String, Pkg>, name: &str, min: &Option<Version>, publisher: Option<&str>, exact: bool| -> Result<Pkg, String> {
        if req.reject.iter().any(|r| r == name) {
            return Err(format!("{name} is needed but rejected (--reject {name})"));
        }
        let sticky = match publisher {
            Some(p) => Some(p.to_string()),
            None => now.get(name).map(|p| p.publisher.clone()),
        };
        let mut all: Vec<&Pkg> = catalog.iter().filter(|p| p.name == name && p.fits(&image.zone)).collect();
        if all.is_empty() {
            return Err(format!("no package {name} for a {} zone in the catalog", image.zone));
        }
        all.retain(|p| if exact { min.as_ref() == Some(&p.version) } else { at_least(&p.version, min) });
        let unpinned = all.clone();
        if let Some(s) = &sticky {
            all.retain(|p| &p.publisher == s);
        }
        all.sort_by(|a, b| a.version.cmp(&b.version));
        match all.last() {
            Some(p) => Ok((*p).clone()),
            None if !unpinned.is_empty() => Err(format!(
                "{name}: the version needed comes from {} but {name} is installed from the sticky publisher {}: name it as pkg://{}/{name}",
                unpinned[0].publisher,
                sticky.unwrap_or_default(),
                unpinned[0].publisher
            )),
            None => Err(format!("{name}: no version {}in the catalog", min.as_ref().map(|m| format!("{m:?} or newer ")).unwrap_or_default())),
        }
    };
    for fmri in &req.install {
        let Some((publisher, name, version)) = parse_fmri(fmri) else {
            errors.push(format!("bad FMRI {fmri}"));
            continue;
        };
        match pick(&now, &name, &version, publisher.as_deref(), version.is_some()) {
            Ok(p) => {
                now.insert(name, p);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Follow dependencies to a fixed point.
    for _round in 0..64 {
        let mut changes: Vec<Pkg> = Vec::new();
        for pkg in now.values() {
            for dep in &pkg.deps {
                if dep.attr("variant.opensolaris.zone").is_some_and(|z| z != image.zone) {
                    continue;
                }
                let targets: Vec<(String, Option<Version>)> =
                    dep.attr_all("fmri").iter().filter_map(|f| parse_fmri(f)).map(|(_, n, v)| (n, v)).collect();
                let have = |n: &str, v: &Option<Version>| now.get(n).is_some_and(|p| at_least(&p.version, v));
                let who = pkg.fmri();
                match dep.attr("type").unwrap_or("") {
                    "require" | "conditional" => {
                        if dep.attr("type") == Some("conditional") {
                            let pred = dep.attr("predicate").and_then(parse_fmri);
                            if !pred.is_some_and(|(_, n, v)| have(&n, &v)) {
                                continue;
                            }
                        }
                        for (n, v) in &targets {
                            if !have(n, v) {
                                match pick(&now, n, v, None, false) {
                                    Ok(p) => changes.push(p),
                                    Err(e) => errors.push(format!("{who} requires {n}: {e}")),
                                }
                            }
                        }
                    }
                    "optional" => {
                        for (n, v) in &targets {
                            if now.contains_key(n) && !have(n, v) {
                                match pick(&now, n, v, None, false) {
                                    Ok(p) => changes.push(p),
                                    Err(e) => errors.push(format!("{who} needs an installed {n} at {v:?} or newer: {e}")),
                                }
                            }
                        }
                    }
                    "exclude" => {
                        for (n, v) in &targets {
                            if have(n, v) {
                                errors.push(format!("{who} excludes {n}, which is installed"));
                            }
                        }
                    }
                    "require-any" => {
                        if !targets.iter().any(|(n, v)| have(n, v)) {
                            match targets.iter().find_map(|(n, v)| pick(&now, n, v, None, false).ok()) {
                                Some(p) => changes.push(p),
                                None => errors.push(format!("{who} requires one of {targets:?}; none can be installed")),
                            }
                        }
                    }
                    other => errors.push(format!("{who}: dependency type {other:?} is not modelled")),
                }
            }
        }
        if !errors.is_empty() {
            errors.sort();
            errors.dedup();
            return Err(errors);
        }
        if changes.is_empty() {
            return conflicts(&now).map(|()| Image { zone: image.zone.clone(), installed: now });
        }
        for p in changes {
            now.insert(p.name.clone(), p);
        }
    }
    Err(vec!["dependencies do not settle (a cycle of upgrades)".into()])
}

/// Paths and drivers two installed packages both deliver.
fn conflicts(now: &BTreeMap<String, Pkg>) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let mut paths: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    let mut drivers: BTreeMap<&str, &str> = BTreeMap::new();
    for p in now.values() {
        for (path, identity) in &p.paths {
            if let Some((other, other_id)) = paths.insert(path, (&p.name, identity))
                && (identity.is_empty() || identity != other_id)
                && other != p.name
            {
                errors.push(format!("{path} is delivered by both {other} and {}", p.name));
            }
        }
        for d in &p.drivers {
            if let Some(other) = drivers.insert(d, &p.name) {
                errors.push(format!("driver name={d} is delivered by both {other} and {}", p.name));
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}
