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

use clap::{Args, Parser, Subcommand};
use libdladm_plugin::owners::validate_pid;
use libdladm_plugin::{
    CleanupOptions, CleanupStep, CleanupTarget, CreateRequest, DeleteOptions, Error, Fmri, MacAddr, Mode,
    ModifyRequest, OwnerError, Pid, Platform, Status, TunAdm, TunLink, UpOutcome,
};

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

const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  the system refused or failed (driver, dlmgmtd, IP)
  2  usage error or invalid input (name, MTU, MAC address, mode, owner,
     FMRI, pid)
  3  no such link, or not a tun/tap link (register: no such process)
  4  the link already exists
  5  not allowed (no sys_dl_config privilege, another zone's link,
     persistence in a non-global zone)
  6  the link is busy (queues attached, IP plumbed)
  7  up or cleanup failed for some links

Old tunctl options still work: tunctl [-b] [-n|-p] [-u owner] [-g group]
[-t name] [-f clone-dev], and tunctl -d name.

Owners and groups are names (through the name service) or numbers.";

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

#[derive(Parser, Debug)]
#[command(
    name = "tunctl",
    version,
    about = "Administer illumos tun/tap datalinks",
    after_help = EXIT_CODES,
    after_long_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// Create a tun or tap link (persistent unless --temporary).
    #[command(after_help = "Example:\n  tunctl create -T tap --mtu 9000 --owner openvpn vpn0")]
    Create(CreateArgs),
    /// Delete a link and its persistent configuration.
    #[command(after_help = "Example:\n  tunctl delete vpn0")]
    Delete(DeleteArgs),
    /// Show links: dlmgmtd's view joined with the driver's.
    #[command(
        after_help = "Examples:\n  tunctl show\n  tunctl show -p -o link,state,pids vpn0\n  tunctl show -s vpn0\n  tunctl show --json"
    )]
    Show(ShowArgs),
    /// Change a link's MTU, MAC address, owner or group.
    #[command(after_help = "Example:\n  tunctl modify --mtu 1400 vpn0")]
    Modify(ModifyArgs),
    /// Bring up configured links (at boot); running links are left alone.
    #[command(after_help = "Example:\n  tunctl up          # every configured link\n  tunctl up vpn0")]
    Up(UpArgs),
    /// Remove links left by crashed daemons (never a link in use).
    #[command(after_help = "Examples:\n  tunctl cleanup --dry-run\n  tunctl cleanup --for svc:/network/tuntap/openvpn:office\n  tunctl cleanup --for 4711")]
    Cleanup(CleanupArgs),
    /// Record that a daemon runs under an SMF service, so that
    /// `cleanup --for FMRI` finds its links even after it crashed.
    #[command(
        long_about = "Record that a daemon runs under an SMF service instance.\n\n\
The pid and the process's start time go to the owner registry\n\
(/etc/svc/volatile/tuntap/owners, emptied at boot).  A service's start\n\
method runs this right after starting its daemon: process contracts vanish\n\
with their processes, so after a crash the registry is what lets\n\
'tunctl cleanup --for FMRI' find the links the daemon left.  The start time\n\
makes sure a reused pid never matches.  Entries of processes that are gone\n\
and left no link behind are pruned.",
        after_help = "Example:\n  tunctl register --for \"$SMF_FMRI\" --pid \"$(cat /var/run/openvpn/office.pid)\"\n  tunctl register --for svc:/network/tuntap/openvpn:office --pid 4711"
    )]
    Register(RegisterArgs),
    /// Forget a registered daemon (every one of the service without --pid).
    #[command(after_help = "Examples:\n  tunctl unregister --for svc:/network/tuntap/openvpn:office --pid 4711\n  tunctl unregister --for svc:/network/tuntap/openvpn:office")]
    Unregister(UnregisterArgs),
}

/// The `--mtu` help, from the ABI's bounds (one home for them).
fn mtu_help() -> String {
    use libdladm_plugin::{MTU_DEFAULT, MTU_MAX, MTU_MIN};
    format!("MTU ({MTU_MIN} to {MTU_MAX}; default {MTU_DEFAULT})")
}

fn parse_mtu(s: &str) -> Result<u32, String> {
    s.parse::<u32>().map_err(|_| format!("'{s}' is not a number"))
}

fn parse_mac(s: &str) -> Result<MacAddr, String> {
    s.parse::<MacAddr>().map_err(|why| format!("'{s}': {why}"))
}

#[derive(Args, Debug)]
struct CreateArgs {
    /// Link mode: tun (IP packets) or tap (Ethernet frames).
    #[arg(short = 'T', long = "type", value_name = "tun|tap", default_value = "tap")]
    mode: Mode,
    /// Do not keep the link across reboots.
    #[arg(short = 't', long)]
    temporary: bool,
    #[arg(long, value_parser = parse_mtu, help = mtu_help())]
    mtu: Option<u32>,
    /// MAC address (tap only), e.g. 2:8:20:1:2:3.
    #[arg(long, value_parser = parse_mac)]
    mac: Option<MacAddr>,
    /// User (name or uid) allowed to attach without privilege.
    #[arg(long)]
    owner: Option<String>,
    /// Group (name or gid) whose members may attach without privilege.
    #[arg(long)]
    group: Option<String>,
    /// Properties as dladm create-tun takes them: mtu, mac-address, owner,
    /// group (repeatable).
    #[arg(short = 'p', long = "prop", value_name = "prop=value,...")]
    props: Vec<String>,
    /// Link name: letters, digits, '_' or '.', ending in a digit.
    name: String,
}

#[derive(Args, Debug)]
struct DeleteArgs {
    /// Delete only the running link; keep the configuration.
    #[arg(short = 't', long)]
    temporary: bool,
    /// Detach attached daemons (they get an error) instead of refusing.
    #[arg(short, long)]
    force: bool,
    name: String,
}

#[derive(Args, Debug)]
struct ShowArgs {
    /// Parsable output: fields separated by ':' (needs -o, or -s).
    /// `--parseable` is accepted too, as dladm accepts both spellings.
    #[arg(short = 'p', long, alias = "parseable")]
    parsable: bool,
    /// Statistics: every counter of each running link (as
    /// `dladm show-link -s`).
    #[arg(short = 's', long = "statistics", conflicts_with_all = ["output", "json"])]
    stats: bool,
    /// With -s: report again every INTERVAL seconds, the counts since
    /// the last report (as `dladm show-link -s -i`), until interrupted.
    #[arg(short = 'i', long, value_name = "seconds", requires = "stats", value_parser = clap::value_parser!(u32).range(1..))]
    interval: Option<u32>,
    /// With -i: stop after this many reports.
    #[arg(long, value_name = "n", requires = "interval", value_parser = clap::value_parser!(u32).range(1..))]
    count: Option<u32>,
    /// The persistent configuration (what `up` makes at boot) instead of
    /// the running links, as `dladm show-link -P`.
    #[arg(short = 'P', long = "persistent", conflicts_with = "stats")]
    persistent: bool,
    /// Fields to show, comma separated (see below), or "all".
    #[arg(short = 'o', long = "output", value_name = "field,...")]
    output: Option<String>,
    /// JSON output (every field and the counters).
    #[arg(long, conflicts_with_all = ["parsable", "output"])]
    json: bool,
    /// Only this link.
    name: Option<String>,
}

#[derive(Args, Debug)]
struct ModifyArgs {
    #[arg(long, value_parser = parse_mtu)]
    mtu: Option<u32>,
    #[arg(long, value_parser = parse_mac)]
    mac: Option<MacAddr>,
    /// New owner (name or uid).
    #[arg(long, conflicts_with = "no_owner")]
    owner: Option<String>,
    /// Remove the owner.
    #[arg(long)]
    no_owner: bool,
    /// New group (name or gid).
    #[arg(long, conflicts_with = "no_group")]
    group: Option<String>,
    /// Remove the group.
    #[arg(long)]
    no_group: bool,
    /// Change only the running link, not the configuration.
    #[arg(short = 't', long)]
    temporary: bool,
    /// Properties as dladm modify-tun takes them; owner= and group= (no
    /// value) remove the owner or group (repeatable).
    #[arg(short = 'p', long = "prop", value_name = "prop=value,...")]
    props: Vec<String>,
    name: String,
}

/// A value given both as an option and as a `-p` property is an error.
fn one_of<T>(option: Option<T>, prop: Option<T>, name: &str) -> Result<Option<T>, String> {
    match (option, prop) {
        (Some(_), Some(_)) => Err(format!("property '{name}' is given twice")),
        (o, p) => Ok(o.or(p)),
    }
}

#[derive(Args, Debug)]
struct UpArgs {
    /// Only this link.
    name: Option<String>,
}

#[derive(Args, Debug)]
struct CleanupArgs {
    /// Print the plan; change nothing.
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Only what this daemon left: an SMF FMRI or a pid.
    #[arg(long = "for", value_name = "FMRI|PID", value_parser = |s: &str| s.parse::<CleanupTarget>())]
    target: Option<CleanupTarget>,
}

fn parse_fmri(s: &str) -> Result<Fmri, String> {
    Fmri::parse(s).map_err(|e| e.to_string())
}

fn parse_pid(s: &str) -> Result<Pid, String> {
    let n = s.parse::<i64>().map_err(|_| OwnerError::BadPid { text: s.to_string() }.to_string())?;
    validate_pid(n).map_err(|e| e.to_string())
}

#[derive(Args, Debug)]
struct RegisterArgs {
    /// The SMF service instance, e.g. svc:/network/tuntap/openvpn:office.
    #[arg(long = "for", value_name = "FMRI", value_parser = parse_fmri)]
    fmri: Fmri,
    /// The daemon's pid (a live process).
    #[arg(long, value_name = "PID", value_parser = parse_pid)]
    pid: Pid,
}

#[derive(Args, Debug)]
struct UnregisterArgs {
    /// The SMF service instance.
    #[arg(long = "for", value_name = "FMRI", value_parser = parse_fmri)]
    fmri: Fmri,
    /// Only this pid's entries (default: every entry of the service).
    #[arg(long, value_name = "PID", value_parser = parse_pid)]
    pid: Option<Pid>,
}

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
            let merged = libdladm_plugin::props::parse_props(&a.props, false).and_then(|p| {
                Ok((
                    one_of(a.mtu, p.mtu, "mtu")?,
                    one_of(a.mac, p.mac, "mac-address")?,
                    one_of(a.owner.clone(), p.owner.flatten(), "owner")?,
                    one_of(a.group.clone(), p.group.flatten(), "group")?,
                ))
            });
            let (mtu, mac, owner_text, group_text) = match merged {
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
            // --owner X / --no-owner and -p owner=X / owner= say the same.
            let owner_opt = a.owner.clone().map(Some).or(a.no_owner.then_some(None));
            let group_opt = a.group.clone().map(Some).or(a.no_group.then_some(None));
            let merged = libdladm_plugin::props::parse_props(&a.props, true).and_then(|p| {
                Ok((
                    one_of(a.mtu, p.mtu, "mtu")?,
                    one_of(a.mac, p.mac, "mac-address")?,
                    one_of(owner_opt, p.owner, "owner")?,
                    one_of(group_opt, p.group, "group")?,
                ))
            });
            let (mtu, mac, owner_text, group_text) = match merged {
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
            let req = ModifyRequest { mtu, mac, owner, group, temporary: a.temporary };
            if req == (ModifyRequest { temporary: a.temporary, ..Default::default() }) {
                return Ok(fail(
                    err,
                    &format!("link {}: nothing to change (give --mtu, --mac, --owner, --group or -p)", a.name),
                    exit::USAGE,
                ));
            }
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
