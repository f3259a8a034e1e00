// SPDX-License-Identifier: MPL-2.0
//! `tunctl`: administer tun/tap datalinks from scripts and on systems
//! without the patched `dladm`.  All logic is here; `main` only connects
//! to the system and calls [`run`], so tests drive exactly what users run.
//!
//! Theory statement.  [`run`] parses the arguments (the old `tunctl`
//! options first, see [`legacy`]), connects to the system only when a
//! verb needs it, calls [`libdladm_plugin::TunAdm`], writes results to
//! `out` and messages to `err`, and returns the exit code
//! ([`exit`]).  Nothing here panics on bad input: clap reports usage
//! errors, the library reports everything else by link and reason.

use std::io::Write;

use clap::Parser;
use libdladm_plugin::{
    CleanupOptions, CleanupStep, CleanupTarget, CreateRequest, DeleteOptions, Error, ModifyRequest, OwnerError,
    Platform, Status, TunAdm, TunLink, UpOutcome,
};

pub mod altroot;
mod cli;
pub mod ids;
pub mod legacy;
mod output;

/// Exit codes (also listed in `tunctl --help` and the README).
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// The system refused or failed (driver, dlmgmtd, IP).
    pub const FAILED: i32 = 1;
    /// Usage error or invalid input (name, MTU, MAC, mode, owner, FMRI,
    /// pid).
    pub const USAGE: i32 = 2;
    /// No such link, or not a tun/tap link; for `register`, no such
    /// process.
    pub const NOT_FOUND: i32 = 3;
    /// The link already exists.
    pub const EXISTS: i32 = 4;
    /// Not allowed: no privilege, another zone's link, persistence in a
    /// non-global zone.
    pub const DENIED: i32 = 5;
    /// The link is busy (queues attached, IP plumbed).
    pub const BUSY: i32 = 6;
    /// `up` or `cleanup` failed for some links (others may have worked).
    pub const PARTIAL: i32 = 7;
}

/// The exit code for a library error.
pub fn exit_code(e: &Error) -> i32 {
    match e.status() {
        Status::Ok => exit::OK,
        Status::BadName | Status::InvalidMtu | Status::InvalidMac | Status::MacOnTun => exit::USAGE,
        Status::NotFound | Status::NotTunTap | Status::NotActive => exit::NOT_FOUND,
        Status::Exists => exit::EXISTS,
        Status::Permission | Status::OtherZone | Status::TemporaryOnly => exit::DENIED,
        Status::Busy => exit::BUSY,
        _ => exit::FAILED,
    }
}

use cli::*;

/// The exit code for an owner-registry error.
pub fn owner_exit_code(e: &OwnerError) -> i32 {
    match e {
        OwnerError::BadFmri { .. } | OwnerError::BadPid { .. } => exit::USAGE,
        OwnerError::NoSuchProcess { .. } => exit::NOT_FOUND,
        OwnerError::Store { .. } => exit::FAILED,
    }
}

fn warn(err: &mut dyn Write, warnings: &[String]) {
    for w in warnings {
        let _ = writeln!(err, "tunctl: warning: {w}");
    }
}

/// Resolve a user (`db` ends in "passwd") or a group given as a name or
/// a number, through the name service ([`ids`]).
pub fn resolve_id(text: &str, db: &str) -> Result<u32, String> {
    if db.ends_with("group") { ids::group_id(text) } else { ids::user_id(text) }
}

/// Run tunctl with `args` (without the program name).  `connect` opens
/// the system when a verb needs it.  Returns the exit code.
pub fn run<P: Platform>(
    args: &[String],
    connect: impl FnOnce() -> Result<P, String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    if let Some(parsed) = legacy::parse(args) {
        return match parsed {
            Ok(cmd) => match connect() {
                Ok(p) => legacy::execute(&TunAdm::new(p), &cmd, out, err),
                Err(msg) => fail(err, &msg, exit::FAILED),
            },
            Err(msg) => fail(err, &format!("{msg}\n{}", legacy::USAGE), exit::USAGE),
        };
    }
    let argv = std::iter::once("tunctl".to_string()).chain(args.iter().cloned());
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { exit::OK };
            let text = e.render().to_string();
            // One error style: usage errors start "tunctl: " like the rest.
            let text = match text.strip_prefix("error: ") {
                Some(rest) if e.use_stderr() => format!("tunctl: {rest}"),
                _ => text,
            };
            let _ = if e.use_stderr() { err.write_all(text.as_bytes()) } else { out.write_all(text.as_bytes()) };
            return code;
        }
    };
    if let Verb::Show(ShowArgs { output: Some(fields), .. }) = &cli.verb
        && let Err(msg) = output::parse_fields(fields)
    {
        return fail(err, &msg, exit::USAGE);
    }
    if let Verb::Show(ShowArgs { parsable: true, output: None, stats: false, .. }) = &cli.verb {
        return fail(err, "show: -p (--parsable) needs -o field,... or -s", exit::USAGE);
    }
    if let Some(d) = altroot::deferral(&cli.verb) {
        // -R root: checked, then left to that root's boot; this system is
        // not touched (dladm's altroot_cmd).
        return match d.command {
            Err(m) => fail(err, &m, exit::USAGE),
            Ok(command) => match altroot::defer(&d.root, &command) {
                Ok(_) => exit::OK,
                Err(m) => fail(err, &m, exit::FAILED),
            },
        };
    }
    let platform = match connect() {
        Ok(p) => p,
        Err(msg) => return fail(err, &msg, exit::FAILED),
    };
    let adm = TunAdm::new(platform);
    match execute(&adm, cli.verb, out, err) {
        Ok(code) => code,
        Err(e) => fail(err, &e.to_string(), exit_code(&e)),
    }
}

fn plural_y(n: usize) -> &'static str {
    if n == 1 { "y" } else { "ies" }
}

fn fail(err: &mut dyn Write, msg: &str, code: i32) -> i32 {
    let _ = writeln!(err, "tunctl: {msg}");
    code
}

/// An owner/group argument, resolved, or a usage error.
enum IdArg {
    Id(u32),
    Bad(String),
}

fn id_arg(text: &str, db: &str) -> IdArg {
    match resolve_id(text, db) {
        Ok(n) => IdArg::Id(n),
        Err(m) => IdArg::Bad(m),
    }
}

fn execute<P: Platform>(adm: &TunAdm<P>, verb: Verb, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, Error> {
    match verb {
        Verb::Create(a) => {
            let CreateValues { mtu, mac, owner: owner_text, group: group_text, link_props } = match create_values(&a) {
                Ok(m) => m,
                Err(m) => return Ok(fail(err, &format!("link {}: {m}", a.name), exit::USAGE)),
            };
            let owner = match owner_text.as_deref().map(|o| id_arg(o, "/etc/passwd")) {
                Some(IdArg::Bad(m)) => return Ok(fail(err, &format!("link {}: {m}", a.name), exit::USAGE)),
                Some(IdArg::Id(n)) => Some(n),
                None => None,
            };
            let group = match group_text.as_deref().map(|g| id_arg(g, "/etc/group")) {
                Some(IdArg::Bad(m)) => return Ok(fail(err, &format!("link {}: {m}", a.name), exit::USAGE)),
                Some(IdArg::Id(n)) => Some(n),
                None => None,
            };
            let link = adm.create(&CreateRequest {
                name: a.name,
                mode: a.mode,
                persistent: !a.temporary,
                mtu,
                mac,
                owner,
                group,
                link_props,
            })?;
            let _ = writeln!(
                out,
                "created {} link {} (link id {}, {})",
                link.mode,
                link.name,
                link.linkid,
                if link.persistent { "persistent" } else { "temporary" }
            );
            Ok(exit::OK)
        }
        Verb::Delete(a) => {
            adm.delete(&a.name, DeleteOptions { temporary: a.temporary, force: a.force })?;
            let what = if a.temporary { " (configuration kept)" } else { "" };
            let _ = writeln!(out, "deleted link {}{what}", a.name);
            Ok(exit::OK)
        }
        Verb::Show(a) => {
            let mut links: Vec<TunLink> = match &a.name {
                Some(n) => vec![adm.show(n)?],
                None => adm.list()?,
            };
            if a.persistent {
                // Only what is configured, as configured.
                links.retain(|l| l.config.is_some());
                for l in &mut links {
                    l.kernel = None;
                }
                if let (Some(n), true) = (&a.name, links.is_empty()) {
                    return Ok(fail(err, &format!("link {n}: temporary: it has no persistent configuration"), exit::NOT_FOUND));
                }
            }
            if a.stats {
                let mut since = std::collections::BTreeMap::new();
                for round in 1.. {
                    let _ = out.write_all(output::stats(&links, &since, a.parsable).as_bytes());
                    let (Some(seconds), false) = (a.interval, a.count.is_some_and(|c| round >= c)) else { break };
                    since = links.iter().filter_map(|l| Some((l.name.clone(), l.kernel.as_ref()?.counters))).collect();
                    std::thread::sleep(std::time::Duration::from_secs(u64::from(seconds)));
                    links = match &a.name {
                        Some(n) => vec![adm.show(n)?],
                        None => adm.list()?,
                    };
                }
            } else if a.json {
                let _ = writeln!(out, "{}", output::json(&links));
            } else {
                let fields = match &a.output {
                    Some(f) => output::parse_fields(f).unwrap_or_default(),
                    None if a.persistent => output::PERSISTENT_FIELDS.to_vec(),
                    None => output::DEFAULT_FIELDS.to_vec(),
                };
                let text = if a.parsable { output::parsable(&links, &fields) } else { output::table(&links, &fields) };
                let _ = out.write_all(text.as_bytes());
            }
            Ok(exit::OK)
        }
        Verb::Modify(a) => {
            let ModifyValues { mtu, mac, owner: owner_text, group: group_text, link_props } = match modify_values(&a) {
                Ok(m) => m,
                Err(m) => return Ok(fail(err, &format!("link {}: {m}", a.name), exit::USAGE)),
            };
            let owner = match owner_text.map(|o| o.map(|o| id_arg(&o, "/etc/passwd"))) {
                Some(Some(IdArg::Bad(m))) => return Ok(fail(err, &format!("link {}: {m}", a.name), exit::USAGE)),
                Some(Some(IdArg::Id(n))) => Some(Some(n)),
                Some(None) => Some(None),
                None => None,
            };
            let group = match group_text.map(|g| g.map(|g| id_arg(&g, "/etc/group"))) {
                Some(Some(IdArg::Bad(m))) => return Ok(fail(err, &format!("link {}: {m}", a.name), exit::USAGE)),
                Some(Some(IdArg::Id(n))) => Some(Some(n)),
                Some(None) => Some(None),
                None => None,
            };
            let req = ModifyRequest { mtu, mac, owner, group, link_props, temporary: a.temporary };
            adm.modify(&a.name, &req)?;
            let _ = writeln!(out, "modified link {}", a.name);
            Ok(exit::OK)
        }
        Verb::Up(a) => {
            let report = adm.up(a.name.as_deref())?;
            if report.entries.is_empty() {
                let _ = writeln!(out, "no configured tun/tap links");
            }
            for e in &report.entries {
                match &e.outcome {
                    UpOutcome::Created => {
                        let _ = writeln!(out, "{}: created", e.name);
                    }
                    UpOutcome::AlreadyUp => {
                        let _ = writeln!(out, "{}: already up", e.name);
                    }
                    UpOutcome::Failed(error) => {
                        let _ = writeln!(err, "tunctl: {error}");
                    }
                }
            }
            Ok(if report.failures() > 0 { exit::PARTIAL } else { exit::OK })
        }
        Verb::Bridge(BridgeVerb::Add { link, bridge }) => {
            adm.bridge_add(&link, &bridge)?;
            let _ = writeln!(out, "link {link} is on bridge {bridge}");
            Ok(exit::OK)
        }
        Verb::Bridge(BridgeVerb::Remove { link }) => {
            match adm.bridge_remove(&link)? {
                Some(bridge) => {
                    let _ = writeln!(out, "link {link} left bridge {bridge}");
                }
                None => {
                    let _ = writeln!(out, "link {link} is on no bridge");
                }
            }
            Ok(exit::OK)
        }
        Verb::Bridge(BridgeVerb::Show { link }) => {
            let _ = writeln!(out, "{}", adm.bridge_of(&link)?.as_deref().unwrap_or("none"));
            Ok(exit::OK)
        }
        Verb::Register(a) => match adm.register_owner(&a.fmri, a.pid) {
            Ok(r) => {
                warn(err, &r.warnings);
                let what = if r.already { "is already registered" } else { "registered" };
                let _ = writeln!(
                    out,
                    "pid {} ({}, started at {} ns) {what} for {}",
                    r.entry.pid, r.process_name, r.entry.started_ns, r.fmri
                );
                if r.pruned > 0 {
                    let _ = writeln!(out, "dropped {} entr{} of processes that are gone", r.pruned, plural_y(r.pruned));
                }
                Ok(exit::OK)
            }
            Err(e) => Ok(fail(err, &format!("cannot register for {}: {e}", a.fmri), owner_exit_code(&e))),
        },
        Verb::Unregister(a) => match adm.unregister_owner(&a.fmri, a.pid) {
            Ok(n) => {
                let whose = a.pid.map(|p| format!(" of pid {p}")).unwrap_or_default();
                let _ = writeln!(out, "removed {n} entr{}{whose} from the registry of {}", plural_y(n), a.fmri);
                Ok(exit::OK)
            }
            Err(e) => Ok(fail(err, &format!("cannot unregister for {}: {e}", a.fmri), owner_exit_code(&e))),
        },
        Verb::Cleanup(a) => {
            let scope = match &a.target {
                Some(CleanupTarget::Service(f)) => format!(" of {f}"),
                Some(CleanupTarget::Pid(p)) => format!(" of pid {p}"),
                None => String::new(),
            };
            let report = adm.cleanup(&CleanupOptions { dry_run: a.dry_run, target: a.target })?;
            warn(err, &report.warnings);
            for action in &report.actions {
                let ip: Vec<&str> = action
                    .steps
                    .iter()
                    .filter_map(|s| match s {
                        CleanupStep::UnplumbIp(i) => Some(i.as_str()),
                        CleanupStep::DeleteLink => None,
                    })
                    .collect();
                match &action.result {
                    None => {
                        let plan = if ip.is_empty() {
                            "would delete it".to_string()
                        } else {
                            format!("would unplumb IP interface {} and delete it", ip.join(", "))
                        };
                        let _ = writeln!(out, "{}: stale ({}); {plan}", action.link, action.reason);
                    }
                    Some(Ok(())) => {
                        let done = if ip.is_empty() {
                            "deleted".to_string()
                        } else {
                            format!("unplumbed IP interface {}, deleted", ip.join(", "))
                        };
                        let _ = writeln!(out, "{}: stale ({}); {done}", action.link, action.reason);
                    }
                    Some(Err(e)) => {
                        let _ = writeln!(err, "tunctl: {e}");
                    }
                }
            }
            for kept in &report.kept {
                let _ = writeln!(out, "{}: kept ({})", kept.link, kept.reason);
            }
            if report.actions.is_empty() {
                let _ = writeln!(out, "no stale links{scope}: nothing to clean");
            }
            if report.pruned > 0 {
                let n = report.pruned;
                let _ = writeln!(out, "owner registry: dropped {n} entr{} of processes that are gone", plural_y(n));
            }
            Ok(if report.failures() > 0 { exit::PARTIAL } else { exit::OK })
        }
    }
}
