// SPDX-License-Identifier: MPL-2.0

//! `cargo xtask package`: assemble the proto area (the install tree, laid
//! out as on an illumos host) under `out/proto` from the build, and check
//! the IPS manifests in `manifests/` against it.
//!
//! The checks are the ones a broken manifest would otherwise only show on
//! an illumos host at `pkgsend`/`pkglint`/`pkg install` time:
//!
//! - every manifest sets `pkg.fmri`, `pkg.summary` and `variant.arch` and
//!   carries a `license` action;
//! - every `file`/`dir` action has `path`, `mode` (octal), `owner`,
//!   `group`; every `link` has `path` and a `target` some manifest
//!   delivers;
//! - every `file` and `license` source exists in the proto area, and every
//!   file in the proto area is delivered by some manifest;
//! - no path is delivered twice (directories may repeat with identical
//!   attributes, as IPS allows);
//! - every `driver` action names a module the same package delivers under
//!   `kernel/drv/amd64/` with its `.conf`, its `perms` are
//!   `minor mode owner group`, and each `devlink` is a devlink.tab line
//!   for one of its own minor nodes;
//! - every `depend` has a known `type`, and names one of our packages or
//!   one in [`EXTERNAL_PACKAGES`].
//!
//! Userland binaries: when no illumos build exists
//! (`target/x86_64-unknown-illumos/release/`), the host build stands in
//! for `usr/sbin/tunctl`, `usr/lib/tunneld` and `usr/lib/amd64/libdltun.so.1` so the layout
//! and manifests can be checked here; the command says so and writes the
//! list to `out/proto.stand-ins`.  Such a proto area is for checking, not
//! for publishing.  On an illumos host build natively first, then publish
//! with `pkgsend` (see manifests/README.md).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::paths;

/// Packages from the distribution that ours may depend on.
/// OpenIndiana's OpenVPN is `network/openvpn` (oi-userland
/// components/network/openvpn/Makefile, COMPONENT_FMRI), OmniOS's is
/// `ooce/network/openvpn` (omnios-extra build/openvpn/build.sh, PKG).
pub const EXTERNAL_PACKAGES: &[&str] = &["network/openvpn", "ooce/network/openvpn", "system/kernel", "SUNWcs"];

/// The package that holds the kernel modules: global zone only, so every
/// dependency on it is conditional on `variant.opensolaris.zone=global`.
pub const DRIVER_PACKAGE: &str = "driver/network/dltun";

/// The project's packages (issue 15), each with its manifest in
/// `manifests/`.
pub const PROJECT_PACKAGES: &[&str] = &[
    DRIVER_PACKAGE,
    "system/header/header-dltun",
    "system/library/libdltun",
    "network/tunctl",
    "network/openvpn/tuntap-service",
    "network/tunneld",
];

const DEPEND_TYPES: &[&str] = &[
    "require",
    "optional",
    "exclude",
    "incorporate",
    "group",
    "conditional",
    "require-any",
    "origin",
    "parent",
];

/// One action of a `.p5m` manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub kind: String,
    /// The first token without `=` after the action name (the source of
    /// `file` and `license` actions).
    pub payload: Option<String>,
    pub attrs: Vec<(String, String)>,
    /// 1-based line where the action starts.
    pub line: usize,
}

impl Action {
    /// The first value of attribute `key`.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of attribute `key`.
    pub fn attr_all(&self, key: &str) -> Vec<&str> {
        self.attrs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }
}

/// A parsed manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub file: PathBuf,
    pub actions: Vec<Action>,
}

impl Manifest {
    pub fn load(file: &Path) -> Result<Manifest, String> {
        let text = fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        Manifest::parse(file, &text)
    }

    /// Parses manifest text: `#` comments, a trailing `\` continues a
    /// line, values may be double- or single-quoted.
    pub fn parse(file: &Path, text: &str) -> Result<Manifest, String> {
        let mut actions = Vec::new();
        let mut pending = String::new();
        let mut start_line = 0;
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            if pending.is_empty() {
                let trimmed = raw.trim_start();
                if trimmed.is_empty() || trimmed.starts_with('#') {
                    continue;
                }
                start_line = line_no;
            }
            if let Some(body) = raw.strip_suffix('\\') {
                pending.push_str(body);
                pending.push(' ');
                continue;
            }
            pending.push_str(raw);
            let action = parse_action(&pending, start_line)
                .map_err(|e| format!("{}:{start_line}: {e}", file.display()))?;
            actions.push(action);
            pending.clear();
        }
        if !pending.is_empty() {
            return Err(format!("{}:{start_line}: the file ends inside a continued line", file.display()));
        }
        Ok(Manifest { file: file.to_path_buf(), actions })
    }

    /// The value of `set name=KEY value=...`.
    pub fn set_value(&self, key: &str) -> Option<&str> {
        self.actions
            .iter()
            .find(|a| a.kind == "set" && a.attr("name") == Some(key))
            .and_then(|a| a.attr("value"))
    }

    /// The package name from `pkg.fmri` (`driver/network/dltun`).
    pub fn package_name(&self) -> Option<String> {
        self.set_value("pkg.fmri").and_then(fmri_package_name)
    }

    fn location(&self, action: &Action) -> String {
        format!("{}:{}", self.file.display(), action.line)
    }
}

/// `pkg://publisher/a/b@1.0,5.11-0`, `pkg:/a/b@1.0` or `a/b` -> `a/b`.
pub fn fmri_package_name(fmri: &str) -> Option<String> {
    let rest = if let Some(rest) = fmri.strip_prefix("pkg://") {
        rest.split_once('/')?.1
    } else if let Some(rest) = fmri.strip_prefix("pkg:/") {
        rest
    } else {
        fmri
    };
    let name = rest.split('@').next()?;
    if name.is_empty() || name.starts_with('/') || name.contains(char::is_whitespace) {
        return None;
    }
    Some(name.to_owned())
}

fn parse_action(text: &str, line: usize) -> Result<Action, String> {
    let tokens = tokenize(text)?;
    let mut tokens = tokens.into_iter();
    let kind = tokens.next().ok_or("empty action")?;
    if kind.contains('=') {
        return Err(format!("action name expected, found attribute {kind:?}"));
    }
    let mut payload = None;
    let mut attrs = Vec::new();
    for (position, token) in tokens.enumerate() {
        match token.split_once('=') {
            Some((key, value)) if !key.is_empty() => attrs.push((key.to_owned(), value.to_owned())),
            Some(_) => return Err(format!("attribute without a name: {token:?}")),
            None if position == 0 => payload = Some(token),
            None => return Err(format!("{kind}: stray token {token:?} (expected key=value)")),
        }
    }
    Ok(Action { kind, payload, attrs, line })
}

/// Splits on whitespace outside quotes; quotes are removed, `\"` inside
/// double quotes is a quote.  Other backslash sequences (`\t` in devlink)
/// stay as written, as pkg keeps them.
fn tokenize(text: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut in_token = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                in_token = true;
                let quote = c;
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated {quote} quote")),
                        Some('\\') if quote == '"' && chars.peek() == Some(&'"') => {
                            chars.next();
                            current.push('"');
                        }
                        Some(q) if q == quote => break,
                        Some(other) => current.push(other),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_token {
                    tokens.push(std::mem::take(&mut current));
                    in_token = false;
                }
            }
            other => {
                in_token = true;
                current.push(other);
            }
        }
    }
    if in_token {
        tokens.push(current);
    }
    Ok(tokens)
}

/// Loads every `*.p5m` in `dir`, sorted by name.
pub fn load_manifests(dir: &Path) -> Result<Vec<Manifest>, String> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "p5m"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no .p5m manifests in {}", dir.display()));
    }
    files.iter().map(|f| Manifest::load(f)).collect()
}

fn is_octal_mode(mode: &str) -> bool {
    (3..=4).contains(&mode.len()) && mode.chars().all(|c| ('0'..='7').contains(&c))
}

/// Every regular file and symlink under `root`, as `/`-separated paths
/// relative to it.
fn proto_files(root: &Path) -> Result<BTreeSet<String>, String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| format!("{}: {e}", path.display()))?;
            if kind.is_dir() {
                stack.push(path);
            } else if let Ok(relative) = path.strip_prefix(root) {
                found.insert(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    Ok(found)
}

/// Checks `manifests` against the proto area `proto`.  Returns every
/// problem found, each naming the manifest and line.
pub fn check(manifests: &[Manifest], proto: &Path) -> Result<Vec<String>, String> {
    let mut findings = Vec::new();
    let on_disk = proto_files(proto)?;
    let mut sources_used = BTreeSet::new();
    // path -> (where, kind, attributes that must match for a repeat)
    let mut delivered: BTreeMap<String, (String, String, String)> = BTreeMap::new();
    let mut links = Vec::new();
    let mut package_names = BTreeMap::new();

    for manifest in manifests {
        match manifest.package_name() {
            Some(name) => {
                if let Some(other) = package_names.insert(name.clone(), manifest.file.clone()) {
                    findings.push(format!(
                        "{}: package {name} is also defined by {}",
                        manifest.file.display(),
                        other.display()
                    ));
                }
            }
            None => findings.push(format!(
                "{}: no valid `set name=pkg.fmri value=pkg://PUBLISHER/NAME@VERSION`",
                manifest.file.display()
            )),
        }
    }

    for manifest in manifests {
        let file = manifest.file.display();
        for key in ["pkg.summary", "variant.arch"] {
            if manifest.set_value(key).is_none_or(str::is_empty) {
                findings.push(format!("{file}: missing `set name={key} value=...`"));
            }
        }
        // A renamed package (pkg(5), pkg.renamed) carries only set and
        // depend actions: it points at its successor and delivers nothing.
        let renamed = manifest.set_value("pkg.renamed") == Some("true");
        if renamed {
            for a in manifest.actions.iter().filter(|a| a.kind != "set" && a.kind != "depend") {
                findings.push(format!("{}: a renamed package may hold only set and depend actions", manifest.location(a)));
            }
            if !manifest.actions.iter().any(|a| a.kind == "depend" && a.attr("type") == Some("require")) {
                findings.push(format!("{file}: a renamed package must require its successor"));
            }
        } else if !manifest.actions.iter().any(|a| a.kind == "license") {
            findings.push(format!("{file}: no license action"));
        }
        let own_files: BTreeSet<&str> = manifest
            .actions
            .iter()
            .filter(|a| a.kind == "file")
            .filter_map(|a| a.attr("path"))
            .collect();

        for action in &manifest.actions {
            let at = manifest.location(action);
            match action.kind.as_str() {
                "set" => {
                    if action.attr("name").is_none() || action.attr("value").is_none() {
                        findings.push(format!("{at}: set needs name= and value="));
                    }
                }
                "file" | "dir" => {
                    let Some(path) = action.attr("path") else {
                        findings.push(format!("{at}: {} action without path=", action.kind));
                        continue;
                    };
                    if path.starts_with('/') || path.split('/').any(|c| c == ".." || c.is_empty()) {
                        findings.push(format!("{at}: path={path} must be relative, without '..' or '//'"));
                    }
                    for key in ["mode", "owner", "group"] {
                        match action.attr(key) {
                            None => findings.push(format!("{at}: {path}: missing {key}=")),
                            Some(mode) if key == "mode" && !is_octal_mode(mode) => {
                                findings.push(format!("{at}: {path}: mode={mode} is not an octal mode"))
                            }
                            Some(_) => {}
                        }
                    }
                    if action.kind == "file"
                        && path.starts_with("kernel/")
                        && !path.ends_with(".conf")
                        && action.attr("reboot-needed") != Some("true")
                    {
                        findings.push(format!("{at}: {path}: a kernel module needs reboot-needed=true"));
                    }
                    if action.kind == "file" {
                        let source = action.payload.as_deref().unwrap_or(path);
                        sources_used.insert(source.to_owned());
                        if !proto.join(source).is_file() {
                            findings.push(format!(
                                "{at}: {path}: source {source} is not in the proto area {}",
                                proto.display()
                            ));
                        }
                    }
                    let identity = if action.kind == "dir" {
                        format!(
                            "{} {} {}",
                            action.attr("mode").unwrap_or(""),
                            action.attr("owner").unwrap_or(""),
                            action.attr("group").unwrap_or("")
                        )
                    } else {
                        at.clone()
                    };
                    record_delivery(&mut delivered, &mut findings, path, &at, &action.kind, &identity);
                }
                "link" | "hardlink" => {
                    let (Some(path), Some(target)) = (action.attr("path"), action.attr("target")) else {
                        findings.push(format!("{at}: {} needs path= and target=", action.kind));
                        continue;
                    };
                    record_delivery(&mut delivered, &mut findings, path, &at, &action.kind, &at);
                    links.push((at.clone(), path.to_owned(), target.to_owned()));
                }
                "license" => {
                    let Some(source) = action.payload.as_deref() else {
                        findings.push(format!("{at}: license action without a source file"));
                        continue;
                    };
                    if action.attr("license").is_none() {
                        findings.push(format!("{at}: license action without license="));
                    }
                    sources_used.insert(source.to_owned());
                    if !proto.join(source).is_file() {
                        findings.push(format!("{at}: licence source {source} is not in the proto area"));
                    }
                }
                "driver" => check_driver(action, &at, &own_files, &mut findings),
                "depend" => {
                    let kind = action.attr("type");
                    if !kind.is_some_and(|k| DEPEND_TYPES.contains(&k)) {
                        findings.push(format!("{at}: depend type={} is not one of {DEPEND_TYPES:?}", kind.unwrap_or("(none)")));
                    }
                    let fmris = action.attr_all("fmri");
                    if fmris.is_empty() {
                        findings.push(format!("{at}: depend without a valid fmri="));
                    }
                    for fmri in fmris {
                        match fmri_package_name(fmri) {
                            None => findings.push(format!("{at}: depend with an invalid fmri={fmri}")),
                            Some(name) => {
                                if !package_names.contains_key(&name) && !EXTERNAL_PACKAGES.contains(&name.as_str()) {
                                    findings.push(format!(
                                        "{at}: depends on {name}, which no manifest here defines and which is not a known distribution package"
                                    ));
                                }
                                let global_only = manifest
                                    .actions
                                    .iter()
                                    .find(|a| a.kind == "set" && a.attr("name") == Some("variant.opensolaris.zone"))
                                    .is_some_and(|a| a.attr_all("value") == ["global"]);
                                if name == DRIVER_PACKAGE
                                    && kind == Some("require")
                                    && !global_only
                                    && action.attr("variant.opensolaris.zone") != Some("global")
                                {
                                    findings.push(format!(
                                        "{at}: requires {name} (global zone only) without variant.opensolaris.zone=global: the package would not install in a non-global zone"
                                    ));
                                }
                            }
                        }
                    }
                }
                other => findings.push(format!("{at}: unknown action {other:?}")),
            }
        }
    }

    for (at, path, target) in links {
        let parent = Path::new(&path).parent().unwrap_or(Path::new(""));
        let resolved = normalize(&parent.join(&target));
        match resolved {
            Some(resolved) if delivered.contains_key(&resolved) => {}
            _ => findings.push(format!("{at}: link {path} -> {target}: the target is not delivered by any manifest")),
        }
    }

    for stray in on_disk.difference(&sources_used) {
        findings.push(format!(
            "{}: {stray} is in the proto area but no manifest delivers it",
            proto.display()
        ));
    }
    Ok(findings)
}

fn record_delivery(
    delivered: &mut BTreeMap<String, (String, String, String)>,
    findings: &mut Vec<String>,
    path: &str,
    at: &str,
    kind: &str,
    identity: &str,
) {
    match delivered.get(path) {
        None => {
            delivered.insert(path.to_owned(), (at.to_owned(), kind.to_owned(), identity.to_owned()));
        }
        Some((_, first_kind, first_identity)) if kind == "dir" && first_kind == "dir" && first_identity == identity => {}
        Some((first_at, first_kind, _)) => findings.push(format!(
            "{at}: {path} is delivered twice (also as {first_kind} at {first_at})"
        )),
    }
}

/// Resolves `.` and `..` in a relative path; `None` if it climbs out.
fn normalize(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            std::path::Component::Normal(c) => parts.push(c.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

fn check_driver(action: &Action, at: &str, own_files: &BTreeSet<&str>, findings: &mut Vec<String>) {
    let Some(name) = action.attr("name") else {
        findings.push(format!("{at}: driver action without name="));
        return;
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        findings.push(format!("{at}: driver name={name:?} is not a module name"));
        return;
    }
    let module = format!("kernel/drv/amd64/{name}");
    if !own_files.contains(module.as_str()) {
        findings.push(format!("{at}: driver {name}: the package does not deliver its module {module}"));
    }
    let conf = format!("kernel/drv/{name}.conf");
    if !own_files.contains(conf.as_str()) {
        findings.push(format!("{at}: driver {name}: the package does not deliver {conf} (a pseudo driver needs one)"));
    }
    let mut minors = BTreeSet::new();
    for perm in action.attr_all("perms") {
        let fields: Vec<&str> = perm.split_whitespace().collect();
        match fields.as_slice() {
            [minor, mode, _owner, _group] if is_octal_mode(mode) => {
                if !minors.insert(minor.to_string()) {
                    findings.push(format!("{at}: driver {name}: perms for minor {minor} given twice"));
                }
            }
            _ => findings.push(format!(
                "{at}: driver {name}: perms={perm:?} is not \"MINOR MODE OWNER GROUP\" with an octal mode"
            )),
        }
    }
    for devlink in action.attr_all("devlink") {
        let Some((spec, link)) = devlink.split_once("\\t") else {
            findings.push(format!("{at}: driver {name}: devlink={devlink:?} has no \\t between the device spec and the /dev name"));
            continue;
        };
        if link.is_empty() || link.contains(char::is_whitespace) {
            findings.push(format!("{at}: driver {name}: devlink={devlink:?} has no /dev name after \\t"));
        }
        let fields: BTreeMap<&str, &str> = spec.split(';').filter_map(|f| f.split_once('=')).collect();
        if fields.get("type") != Some(&"ddi_pseudo") {
            findings.push(format!("{at}: driver {name}: devlink={devlink:?} lacks type=ddi_pseudo"));
        }
        if fields.get("name") != Some(&name) {
            findings.push(format!("{at}: driver {name}: devlink={devlink:?} names another driver"));
        }
        match fields.get("minor") {
            Some(minor) if minors.contains(*minor) => {}
            Some(minor) => findings.push(format!(
                "{at}: driver {name}: devlink for minor {minor} has no perms= entry (the node would get the default mode)"
            )),
            None => findings.push(format!("{at}: driver {name}: devlink={devlink:?} lacks minor=")),
        }
    }
}

/// Where the pieces of the proto area come from.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// The repository (for man/, smf/, include/, LICENSE).
    pub repo: PathBuf,
    /// `out/kernel`: amd64/{tuntap,tun} and {tuntap,tun}.conf.
    pub kernel: PathBuf,
    pub tunctl: PathBuf,
    /// The tunneld daemon (`usr/lib/tunneld`).
    pub tunneld: PathBuf,
    pub libdltun: PathBuf,
    pub libdltun_header: PathBuf,
}

/// (source, proto path) for everything the manifests deliver.
pub fn layout(inputs: &Inputs) -> Result<Vec<(PathBuf, String)>, String> {
    let repo = &inputs.repo;
    let mut items = vec![
        (inputs.kernel.join("amd64/tuntap"), "kernel/drv/amd64/tuntap".to_owned()),
        (inputs.kernel.join("amd64/tun"), "kernel/drv/amd64/tun".to_owned()),
        (inputs.kernel.join("tuntap.conf"), "kernel/drv/tuntap.conf".to_owned()),
        (inputs.kernel.join("tun.conf"), "kernel/drv/tun.conf".to_owned()),
        (repo.join("include/net/if_tun.h"), "usr/include/net/if_tun.h".to_owned()),
        (inputs.libdltun_header.clone(), "usr/include/libdltun.h".to_owned()),
        (inputs.libdltun.clone(), "usr/lib/amd64/libdltun.so.1".to_owned()),
        (inputs.tunctl.clone(), "usr/sbin/tunctl".to_owned()),
        (inputs.tunneld.clone(), "usr/lib/tunneld".to_owned()),
        (repo.join("smf/openvpn/openvpn.xml"), "lib/svc/manifest/network/tuntap-openvpn.xml".to_owned()),
        (repo.join("smf/openvpn/tuntap-openvpn-method.sh"), "lib/svc/method/tuntap-openvpn".to_owned()),
        (repo.join("smf/share/tuntap_include.sh"), "lib/svc/share/tuntap_include.sh".to_owned()),
        (repo.join("smf/tuntap/tuntap.xml"), "lib/svc/manifest/network/tuntap.xml".to_owned()),
        (repo.join("smf/tuntap/tuntap-method.sh"), "lib/svc/method/tuntap".to_owned()),
        (repo.join("smf/openvpn/rbac/auth_attr"), "etc/security/auth_attr.d/network-tuntap-openvpn".to_owned()),
        (repo.join("smf/openvpn/rbac/prof_attr"), "etc/security/prof_attr.d/network-tuntap-openvpn".to_owned()),
        (repo.join("smf/tunneld/tunneld.xml"), "lib/svc/manifest/network/tunneld.xml".to_owned()),
        (repo.join("smf/tunneld/tunneld-method.sh"), "lib/svc/method/tunneld".to_owned()),
        (repo.join("smf/tunneld/rbac/auth_attr"), "etc/security/auth_attr.d/network-tunneld".to_owned()),
        (repo.join("smf/tunneld/rbac/prof_attr"), "etc/security/prof_attr.d/network-tunneld".to_owned()),
        (repo.join("LICENSE"), "LICENSE".to_owned()),
    ];
    // Man pages go to man<section>/ by their extension (tun.4d -> man4d).
    let man_dir = repo.join("man");
    let mut pages: Vec<PathBuf> = fs::read_dir(&man_dir)
        .map_err(|e| format!("cannot read {}: {e}", man_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    pages.sort();
    for page in pages {
        let (Some(name), Some(section)) = (page.file_name(), page.extension()) else {
            continue;
        };
        let section = section.to_string_lossy();
        items.push((
            page.clone(),
            format!("usr/share/man/man{section}/{}", name.to_string_lossy()),
        ));
    }
    Ok(items)
}

/// Copies everything into a fresh `proto` (removing an old one).  Each
/// missing input is reported with what produces it.
pub fn assemble(inputs: &Inputs, proto: &Path) -> Result<(), String> {
    let items = layout(inputs)?;
    let missing: Vec<String> = items
        .iter()
        .filter(|(source, _)| !source.is_file())
        .map(|(source, target)| format!("  {} (for {target}){}", source.display(), producer_hint(target)))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing inputs for the proto area:\n{}", missing.join("\n")));
    }
    if proto.exists() {
        fs::remove_dir_all(proto).map_err(|e| format!("cannot remove {}: {e}", proto.display()))?;
    }
    for (source, target) in &items {
        let destination = proto.join(target);
        if let Some(parent) = destination.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        fs::copy(source, &destination)
            .map_err(|e| format!("cannot copy {} to {}: {e}", source.display(), destination.display()))?;
    }
    Ok(())
}

fn producer_hint(target: &str) -> &'static str {
    if target.starts_with("kernel/") {
        ": run `cargo xtask kmod` first"
    } else if target.contains("libdltun") || target.ends_with("tunctl") || target.ends_with("tunneld") {
        ": build the userland (`cargo build --release -p tunctl -p libdltun -p tunneld`, or for illumos on an illumos host)"
    } else {
        ""
    }
}

/// The illumos build of a userland artifact if there is one, else the host
/// build (a stand-in), else `None`.
fn find_artifact(candidates_illumos: &[PathBuf], candidates_host: &[PathBuf]) -> Option<(PathBuf, bool)> {
    if let Some(found) = candidates_illumos.iter().find(|p| p.is_file()) {
        return Some((found.clone(), false));
    }
    candidates_host.iter().find(|p| p.is_file()).map(|p| (p.clone(), true))
}

const LIBDLTUN_NAMES: &[&str] = &["libdltun.so.1", "libdltun.so"];

/// Builds the host userland into `target_dir` (used when there is no
/// illumos build) so the proto area can be checked here.
fn build_host_userland(target_dir: &Path) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    println!("package: no illumos userland build; building the host one as a stand-in");
    let status = Command::new(cargo)
        .current_dir(paths::repo_root())
        .args(["build", "--release", "-p", "tunctl", "-p", "libdltun", "--target-dir"])
        .arg(target_dir)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building tunctl and libdltun for the host failed ({status})"));
    }
    // tunneld without its default `sim` feature: the daemon as shipped,
    // with no simulator inside (a separate build, so tunctl and libdltun
    // keep their default features).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .current_dir(paths::repo_root())
        .args(["build", "--release", "-p", "tunneld", "--bin", "tunneld", "--no-default-features", "--target-dir"])
        .arg(target_dir)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("building tunneld for the host failed ({status})"))
    }
}

/// `cargo xtask package [--check-only] [--proto DIR]`.
pub fn run(args: &[String]) -> Result<(), String> {
    let repo = paths::repo_root();
    let mut proto = repo.join("out/proto");
    let mut check_only = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check-only" => check_only = true,
            "--proto" => {
                proto = PathBuf::from(args.next().ok_or("--proto needs a directory")?);
            }
            other => return Err(format!("package: unknown argument {other:?} (use --check-only, --proto DIR)")),
        }
    }
    let manifests = load_manifests(&repo.join("manifests"))?;

    if !check_only {
        let illumos_release = repo.join("target/x86_64-unknown-illumos/release");
        let host_release = repo.join("target/package-host/release");
        let illumos_lib: Vec<PathBuf> = LIBDLTUN_NAMES.iter().map(|n| illumos_release.join(n)).collect();
        let host_lib: Vec<PathBuf> = LIBDLTUN_NAMES.iter().map(|n| host_release.join(n)).collect();
        let illumos_tunctl = vec![illumos_release.join("tunctl")];
        let host_tunctl = vec![host_release.join("tunctl")];
        let illumos_tunneld = vec![illumos_release.join("tunneld")];
        let host_tunneld = vec![host_release.join("tunneld")];
        if find_artifact(&illumos_tunctl, &[]).is_none()
            || find_artifact(&illumos_lib, &[]).is_none()
            || find_artifact(&illumos_tunneld, &[]).is_none()
        {
            build_host_userland(&repo.join("target/package-host"))?;
        }
        let (tunctl, tunctl_stand_in) = find_artifact(&illumos_tunctl, &host_tunctl)
            .ok_or_else(|| format!("no tunctl binary in {} or {}", illumos_release.display(), host_release.display()))?;
        let (tunneld, tunneld_stand_in) = find_artifact(&illumos_tunneld, &host_tunneld)
            .ok_or_else(|| format!("no tunneld binary in {} or {}", illumos_release.display(), host_release.display()))?;
        let (libdltun, lib_stand_in) = find_artifact(&illumos_lib, &host_lib).ok_or_else(|| {
            format!(
                "no libdltun shared object ({}) in {} or {}: the libdltun crate builds it",
                LIBDLTUN_NAMES.join(", "),
                illumos_release.display(),
                host_release.display()
            )
        })?;
        let header = ["libdltun/include/libdltun.h"]
            .iter()
            .map(|p| repo.join(p))
            .find(|p| p.is_file())
            .unwrap_or_else(|| repo.join("libdltun/include/libdltun.h"));
        let inputs = Inputs {
            repo: repo.clone(),
            kernel: repo.join("out/kernel"),
            tunctl: tunctl.clone(),
            tunneld: tunneld.clone(),
            libdltun: libdltun.clone(),
            libdltun_header: header,
        };
        assemble(&inputs, &proto)?;
        let mut stand_ins = Vec::new();
        if tunctl_stand_in {
            stand_ins.push(format!("usr/sbin/tunctl <- {} (host build, not illumos)", tunctl.display()));
        }
        if tunneld_stand_in {
            stand_ins.push(format!("usr/lib/tunneld <- {} (host build, not illumos)", tunneld.display()));
        }
        if lib_stand_in {
            stand_ins.push(format!("usr/lib/amd64/libdltun.so.1 <- {} (host build, not illumos)", libdltun.display()));
        }
        let note = proto.with_extension("stand-ins");
        if stand_ins.is_empty() {
            let _ = fs::remove_file(&note);
        } else {
            for line in &stand_ins {
                println!("package: STAND-IN {line}");
            }
            fs::write(&note, stand_ins.join("\n") + "\n")
                .map_err(|e| format!("cannot write {}: {e}", note.display()))?;
            println!(
                "package: this proto area is for checking the layout only; publish from an illumos build (manifests/README.md)"
            );
        }
        println!("package: proto area {}", proto.display());
    }

    let findings = check(&manifests, &proto)?;
    if findings.is_empty() {
        println!(
            "package: {} manifests checked against {}: sources present, no path delivered twice, attributes, drivers and dependencies well formed",
            manifests.len(),
            proto.display()
        );
        Ok(())
    } else {
        for finding in &findings {
            eprintln!("FAIL {finding}");
        }
        Err(format!("{} problem(s) in the IPS manifests", findings.len()))
    }
}
