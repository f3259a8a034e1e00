// SPDX-License-Identifier: MPL-2.0
//! The old `tunctl` command line, so existing scripts keep working:
//!
//! ```text
//! tunctl [-b] [-n|-p] [-u owner] [-g group] [-t name] [-f clone-dev]
//! tunctl -d name [-f clone-dev]
//! ```
//!
//! `-t` creates a temporary link that stays until deleted (what the old
//! tool's "persistent" meant: it did not survive a reboot either); with
//! no `-t`, the lowest free `tapN` (or `tunN` when the clone device is
//! `/dev/tun`) is made.  The mode is `-n` (tun) or `-p` (tap), as the
//! Linux tool has them, else the name's prefix (`tun` or `tap`), else the
//! clone device, else tap (the old default).
//! `-f` is accepted for compatibility: links are made through the
//! control node whatever device it names.  `-b` prints only the name.
//! The messages are the old tool's: `Set 'tap0' persistent and owned by
//! uid 1000`, `Set 'tap0' nonpersistent`.

use std::io::Write;

use libdladm_plugin::{CreateRequest, DeleteOptions, ErrorKind, Mode, Platform, TunAdm};

use crate::{exit, exit_code, resolve_id};

pub const USAGE: &str = "usage: tunctl [-b] [-n|-p] [-u owner] [-g group] [-t name] [-f clone-dev]\n       tunctl -d name [-f clone-dev]\n       tunctl --help  (the new verbs: create, delete, show, modify, up, cleanup)";

/// A parsed old-style command.
#[derive(Debug, PartialEq, Eq)]
pub struct Legacy {
    pub brief: bool,
    pub delete: Option<String>,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub clone_dev: Option<String>,
    /// `-n` (tun) or `-p` (tap).
    pub mode: Option<Mode>,
}

/// `None` when `args` are not old-style (they start with a verb or a
/// long option); otherwise the parsed command or why it is wrong.
pub fn parse(args: &[String]) -> Option<Result<Legacy, String>> {
    let first = args.first()?;
    let is_old = first.starts_with('-')
        && !first.starts_with("--")
        && first.len() > 1
        && first[1..].chars().all(|c| "bdtufgnp".contains(c));
    if !is_old {
        return None;
    }
    let mut l = Legacy { brief: false, delete: None, name: None, owner: None, group: None, clone_dev: None, mode: None };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty() && !f.starts_with('-')) else {
            return Some(Err(format!("unexpected argument '{arg}'")));
        };
        let mut chars = flags.chars();
        while let Some(c) = chars.next() {
            if c == 'b' {
                l.brief = true;
                continue;
            }
            if c == 'n' || c == 'p' {
                let mode = if c == 'n' { Mode::Tun } else { Mode::Tap };
                if l.mode.is_some_and(|m| m != mode) {
                    return Some(Err("-n (tun) and -p (tap) exclude each other".into()));
                }
                l.mode = Some(mode);
                continue;
            }
            if !"dtugf".contains(c) {
                return Some(Err(format!("unknown option -{c}")));
            }
            // An option with a value: the rest of this word, or the next.
            let rest: String = chars.by_ref().collect();
            let value = if rest.is_empty() { it.next().cloned() } else { Some(rest) };
            let Some(value) = value else {
                return Some(Err(format!("option -{c} needs a value")));
            };
            let slot = match c {
                'd' => &mut l.delete,
                't' => &mut l.name,
                'u' => &mut l.owner,
                'g' => &mut l.group,
                'f' => &mut l.clone_dev,
                _ => return Some(Err(format!("unknown option -{c}"))),
            };
            *slot = Some(value);
        }
    }
    if l.delete.is_some() && (l.name.is_some() || l.owner.is_some() || l.group.is_some()) {
        return Some(Err("-d cannot be combined with -t, -u or -g".into()));
    }
    Some(Ok(l))
}

fn mode_for(given: Option<Mode>, name: Option<&str>, clone_dev: Option<&str>) -> Mode {
    if let Some(m) = given {
        return m;
    }
    match name {
        Some(n) if n.starts_with("tun") => Mode::Tun,
        Some(n) if n.starts_with("tap") => Mode::Tap,
        _ if clone_dev.is_some_and(|d| d.ends_with("tun")) => Mode::Tun,
        _ => Mode::Tap,
    }
}

/// Run an old-style command; returns the exit code.
pub fn execute<P: Platform>(adm: &TunAdm<P>, cmd: &Legacy, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let fail = |err: &mut dyn Write, msg: String, code: i32| {
        let _ = writeln!(err, "tunctl: {msg}");
        code
    };
    if let Some(name) = &cmd.delete {
        return match adm.delete(name, DeleteOptions::default()) {
            Ok(()) => {
                if !cmd.brief {
                    let _ = writeln!(out, "Set '{name}' nonpersistent");
                }
                exit::OK
            }
            Err(e) => fail(err, e.to_string(), exit_code(&e)),
        };
    }
    let owner = match cmd.owner.as_deref().map(|o| resolve_id(o, "/etc/passwd")).transpose() {
        Ok(o) => o,
        Err(m) => return fail(err, m, exit::USAGE),
    };
    let group = match cmd.group.as_deref().map(|g| resolve_id(g, "/etc/group")).transpose() {
        Ok(g) => g,
        Err(m) => return fail(err, m, exit::USAGE),
    };
    let mode = mode_for(cmd.mode, cmd.name.as_deref(), cmd.clone_dev.as_deref());
    let request = |name: String| CreateRequest { persistent: false, owner, group, ..CreateRequest::new(&name, mode) };
    let created = match &cmd.name {
        Some(name) => adm.create(&request(name.clone())),
        None => {
            // The lowest free unit, as the old clone device handed out.
            let mut result = None;
            for unit in 0..=tuntap_abi_max_unit() {
                match adm.create(&request(format!("{mode}{unit}"))) {
                    Err(e) if matches!(e.kind, ErrorKind::Exists { .. }) => continue,
                    r => {
                        result = Some(r);
                        break;
                    }
                }
            }
            match result {
                Some(r) => r,
                None => return fail(err, format!("no free {mode} unit left"), exit::FAILED),
            }
        }
    };
    match created {
        Ok(link) => {
            if cmd.brief {
                let _ = writeln!(out, "{}", link.name);
            } else {
                match owner {
                    Some(uid) => {
                        let _ = writeln!(out, "Set '{}' persistent and owned by uid {uid}", link.name);
                    }
                    None => {
                        let _ = writeln!(out, "Set '{}' persistent", link.name);
                    }
                }
            }
            exit::OK
        }
        Err(e) => fail(err, e.to_string(), exit_code(&e)),
    }
}

/// The old API's highest unit (`OLD_API_MAX_PPA`).
fn tuntap_abi_max_unit() -> u32 {
    65_535
}
