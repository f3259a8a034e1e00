// SPDX-License-Identifier: MPL-2.0
//! `-R root` (`--root-dir`): change a boot environment that is not
//! running, as `dladm -R` does.
//!
//! Theory statement.  A link cannot be made in a root that is not
//! running (dlmgmtd and the driver serve the running system only), so,
//! like `altroot_cmd` in illumos-gate `usr/src/cmd/dladm/dladm.c`, the
//! command is appended to a script that the alternate root runs when it
//! boots, and this system is not touched:
//!
//! * `ROOT/var/svc/profile/upgrade_datalink` when
//!   `ROOT/etc/dladm/datalink.conf` exists (network/physical runs it,
//!   before interfaces are plumbed), else `ROOT/var/svc/profile/upgrade`
//!   (manifest-import runs it) -- dladm's choice, for the same reason;
//! * one line per command: `/usr/sbin/tunctl` and the command, then
//!   `# added by tunctl(8)`, as dladm marks its lines `# added by
//!   dladm(1M)`;
//! * the file is opened for appending (created if missing; its
//!   directory is not), and a root where that fails gets dladm's
//!   message, "operation not supported on ROOT".
//!
//! dladm checks its arguments before it defers, and so does tunctl: the
//! name, MTU, MAC address and property list are checked here; owners and
//! groups stay as given (names are looked up by the alternate root's
//! name service when the line runs).  Unlike dladm, which copies its
//! argument vector, the line is rebuilt from the parsed command in one
//! canonical form (`-p` with the property names of
//! `libdladm_plugin::props`) with every word shell-quoted, so an option
//! spelled differently or a value with spaces cannot change its meaning.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use libdladm_plugin::{CreateRequest, ModifyRequest};

use crate::cli::{Verb, create_values, modify_values};

/// Where tunctl is installed (`manifests/network-tunctl.p5m`).
pub const TUNCTL: &str = "/usr/sbin/tunctl";
/// dladm's `SMF_UPGRADEDATALINK_FILE`, below the root.
pub const UPGRADE_DATALINK: &str = "var/svc/profile/upgrade_datalink";
/// dladm's `SMF_UPGRADE_FILE`, below the root.
pub const UPGRADE: &str = "var/svc/profile/upgrade";
/// The persistent datalink configuration, below the root.
pub const DATALINK_CONF: &str = "etc/dladm/datalink.conf";
/// The end of every line tunctl adds.
pub const MARK: &str = "# added by tunctl(8)";

/// The script the alternate root `root` runs at boot (see the module
/// documentation).
pub fn script_for(root: &Path) -> PathBuf {
    if root.join(DATALINK_CONF).exists() { root.join(UPGRADE_DATALINK) } else { root.join(UPGRADE) }
}

/// `word` for sh(1): as it is when it holds only characters the shell
/// leaves alone, else in single quotes (a `'` inside as `'\''`).
pub fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-.,:=/@+%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The line for the command `words` (verb first).
pub fn line(words: &[String]) -> String {
    let mut line = String::from(TUNCTL);
    for w in words {
        line.push(' ');
        line.push_str(&shell_quote(w));
    }
    line.push(' ');
    line.push_str(MARK);
    line
}

/// Append the command `words` to the boot script of `root`; the script's
/// path on success, dladm's message on failure.
pub fn defer(root: &Path, words: &[String]) -> Result<PathBuf, String> {
    let script = script_for(root);
    let appended = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&script)
        .and_then(|mut f| writeln!(f, "{}", line(words)));
    match appended {
        Ok(()) => Ok(script),
        Err(e) => Err(format!("operation not supported on {}: cannot append to {}: {e}", root.display(), script.display())),
    }
}

/// `-p` items `name=value` (in the order of `libdladm_plugin::props`'s
/// table) for the values given; `Some(None)` is a reset, `name=`.
/// Other link properties follow, in the order given.
pub fn prop_list(items: &[(&str, Option<Option<String>>)], others: &[(String, String)]) -> Option<String> {
    let given: Vec<String> = items
        .iter()
        .filter_map(|(name, v)| v.as_ref().map(|v| format!("{name}={}", v.as_deref().unwrap_or(""))))
        .chain(others.iter().map(|(n, v)| format!("{n}={v}")))
        .collect();
    (!given.is_empty()).then(|| given.join(","))
}

/// A command with `-R`: the root, and the command line to leave to its
/// boot, or why the command is wrong (a usage error, as without `-R`).
pub(crate) struct Deferral {
    pub(crate) root: PathBuf,
    pub(crate) command: Result<Vec<String>, String>,
}

fn words(v: &[&str]) -> Vec<String> {
    v.iter().map(|w| w.to_string()).collect()
}

fn with_props(mut words: Vec<String>, props: Option<String>) -> Vec<String> {
    if let Some(p) = props {
        words.push("-p".into());
        words.push(p);
    }
    words
}

/// The deferral of `verb`, when it has `-R`: the command checked as this
/// system would check it (no system needed), rebuilt in canonical form.
pub(crate) fn deferral(verb: &Verb) -> Option<Deferral> {
    let (root, name, command) = match verb {
        Verb::Create(a) => {
            let root = a.root.root.clone()?;
            let command = create_values(a).and_then(|v| {
                let req = CreateRequest { mtu: v.mtu, mac: v.mac, persistent: !a.temporary, ..CreateRequest::new(&a.name, a.mode) };
                libdladm_plugin::check_create_request(&req).map_err(|e| e.to_string())?;
                let mode = a.mode.to_string();
                let mut c = words(&["create", "-T", &mode]);
                if a.temporary {
                    c.push("-t".into());
                }
                Ok(with_props(
                    c,
                    prop_list(&[
                        ("mtu", v.mtu.map(|m| Some(m.to_string()))),
                        ("mac-address", v.mac.map(|m| Some(m.to_string()))),
                        ("owner", v.owner.map(Some)),
                        ("group", v.group.map(Some)),
                    ], &v.link_props),
                ))
            });
            (root, &a.name, command)
        }
        Verb::Modify(a) => {
            let root = a.root.root.clone()?;
            let command = modify_values(a).and_then(|v| {
                let req = ModifyRequest { mtu: v.mtu, mac: v.mac, temporary: a.temporary, ..Default::default() };
                libdladm_plugin::check_modify_request(&a.name, &req).map_err(|e| e.to_string())?;
                let mut c = words(&["modify"]);
                if a.temporary {
                    c.push("-t".into());
                }
                Ok(with_props(
                    c,
                    prop_list(&[
                        ("mtu", v.mtu.map(|m| Some(m.to_string()))),
                        ("mac-address", v.mac.map(|m| Some(m.to_string()))),
                        ("owner", v.owner),
                        ("group", v.group),
                    ], &v.link_props),
                ))
            });
            (root, &a.name, command)
        }
        Verb::Delete(a) => {
            let root = a.root.root.clone()?;
            let command = libdladm_plugin::check_link_name(&a.name).map_err(|e| e.to_string()).map(|()| {
                let mut c = words(&["delete"]);
                if a.temporary {
                    c.push("-t".into());
                }
                if a.force {
                    c.push("-f".into());
                }
                c
            });
            (root, &a.name, command)
        }
        _ => return None,
    };
    let command = match command {
        Ok(mut c) => {
            c.push(name.clone());
            Ok(c)
        }
        // Library errors name the link already; argument errors do not.
        Err(m) if m.starts_with("link ") => Err(m),
        Err(m) => Err(format!("link {name}: {m}")),
    };
    Some(Deferral { root, command })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_words_whole() {
        assert_eq!(shell_quote("mtu=1400,owner=openvpn"), "mtu=1400,owner=openvpn");
        assert_eq!(shell_quote("owner=Ann Lee"), "'owner=Ann Lee'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(reboot)"), "'$(reboot)'");
        let words = ["create".to_string(), "-p".to_string(), "owner=a b".to_string(), "vpn0".to_string()];
        assert_eq!(line(&words), "/usr/sbin/tunctl create -p 'owner=a b' vpn0 # added by tunctl(8)");
    }

    #[test]
    fn props_in_table_order_with_resets() {
        let l = prop_list(&[("mtu", Some(Some("1400".into()))), ("mac-address", None), ("owner", Some(None))], &[]);
        assert_eq!(l.as_deref(), Some("mtu=1400,owner="));
        assert_eq!(prop_list(&[("mtu", None)], &[]), None);
        let l = prop_list(&[("mtu", Some(Some("1400".into())))], &[("maxbw".into(), "10M".into())]);
        assert_eq!(l.as_deref(), Some("mtu=1400,maxbw=10M"));
    }
}
