// SPDX-License-Identifier: MPL-2.0
//! tunctl's command line: the verbs and their options (clap), the help
//! texts, and the values each verb was given with its options and `-p`
//! properties merged (one rule for running a command and for leaving it
//! to an alternate root's boot, [`crate::altroot`]).

use clap::{Args, Parser, Subcommand};
use libdladm_plugin::owners::validate_pid;
use libdladm_plugin::{CleanupTarget, Fmri, MacAddr, Mode, OwnerError, Pid};

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
  6  the link is busy (queues attached, IP plumbed, on another bridge)
  7  up or cleanup failed for some links

Old tunctl options still work: tunctl [-b] [-n|-p] [-u owner] [-g group]
[-t name] [-f clone-dev], and tunctl -d name.

Owners and groups are names (through the name service) or numbers.";

#[derive(Parser, Debug)]
#[command(
    name = "tunctl",
    version,
    about = "Administer illumos tun/tap datalinks",
    after_help = EXIT_CODES,
    after_long_help = EXIT_CODES
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) verb: Verb,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Verb {
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
    /// Put a tap link on a bridge or take it off (dladm add-bridge and
    /// remove-bridge refuse tap links on unpatched systems).
    #[command(
        subcommand,
        long_about = "Put a tap link on a bridge or take it off.\n\n\
Stock dladm add-bridge refuses links of class misc, which tap links are;\n\
nothing below it does.  These verbs make the libdladm call dladm makes\n\
(dladm_bridge_setlink): the membership is the link's persistent\n\
configuration, so the link must be persistent, and a tun link is refused.\n\
Create the bridge first: dladm create-bridge br0.",
        after_help = "Examples:\n  dladm create-bridge br0\n  tunctl bridge add tap0 br0\n  tunctl bridge show tap0\n  tunctl bridge remove tap0"
    )]
    Bridge(BridgeVerb),
    /// Forget a registered daemon (every one of the service without --pid).
    #[command(after_help = "Examples:\n  tunctl unregister --for svc:/network/tuntap/openvpn:office --pid 4711\n  tunctl unregister --for svc:/network/tuntap/openvpn:office")]
    Unregister(UnregisterArgs),
}

/// The `--mtu` help, from the ABI's bounds (one home for them).
pub(crate) fn mtu_help() -> String {
    use libdladm_plugin::{MTU_DEFAULT, MTU_MAX, MTU_MIN};
    format!("MTU ({MTU_MIN} to {MTU_MAX}; default {MTU_DEFAULT})")
}

pub(crate) fn parse_mtu(s: &str) -> Result<u32, String> {
    s.parse::<u32>().map_err(|_| format!("'{s}' is not a number"))
}

pub(crate) fn parse_mac(s: &str) -> Result<MacAddr, String> {
    s.parse::<MacAddr>().map_err(|why| format!("'{s}': {why}"))
}

#[derive(Args, Debug)]
pub(crate) struct CreateArgs {
    /// Link mode: tun (IP packets) or tap (Ethernet frames).
    #[arg(short = 'T', long = "type", value_name = "tun|tap", default_value = "tap")]
    pub(crate) mode: Mode,
    /// Do not keep the link across reboots.
    #[arg(short = 't', long)]
    pub(crate) temporary: bool,
    #[arg(long, value_parser = parse_mtu, help = mtu_help())]
    pub(crate) mtu: Option<u32>,
    /// MAC address (tap only), e.g. 2:8:20:1:2:3.
    #[arg(long, value_parser = parse_mac)]
    pub(crate) mac: Option<MacAddr>,
    /// User (name or uid) allowed to attach without privilege.
    #[arg(long)]
    pub(crate) owner: Option<String>,
    /// Group (name or gid) whose members may attach without privilege.
    #[arg(long)]
    pub(crate) group: Option<String>,
    /// Properties as dladm create-tun takes them: mtu, mac-address, owner,
    /// group, or any other link property (maxbw, priority, ...), which is
    /// set with dladm_set_linkprop as dladm create-vnic -p does
    /// (repeatable).
    #[arg(short = 'p', long = "prop", value_name = "prop=value,...")]
    pub(crate) props: Vec<String>,
    #[command(flatten)]
    pub(crate) root: RootArg,
    /// Link name: letters, digits, '_' or '.', ending in a digit.
    pub(crate) name: String,
}

/// `-R root`, as dladm's create/delete/modify subcommands take it.
#[derive(Args, Debug)]
pub(crate) struct RootArg {
    /// Change the boot environment mounted at ROOT, not this system: the
    /// command is checked, then added to the script ROOT runs when it
    /// boots (var/svc/profile/upgrade_datalink, as dladm -R does).
    #[arg(short = 'R', long = "root-dir", value_name = "root")]
    pub(crate) root: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct DeleteArgs {
    /// Delete only the running link; keep the configuration.
    #[arg(short = 't', long)]
    pub(crate) temporary: bool,
    /// Detach attached daemons (they get an error) instead of refusing.
    #[arg(short, long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) root: RootArg,
    pub(crate) name: String,
}

#[derive(Args, Debug)]
pub(crate) struct ShowArgs {
    /// Parsable output: fields separated by ':' (needs -o, or -s).
    /// `--parseable` is accepted too, as dladm accepts both spellings.
    #[arg(short = 'p', long, alias = "parseable")]
    pub(crate) parsable: bool,
    /// Statistics: every counter of each running link (as
    /// `dladm show-link -s`).
    #[arg(short = 's', long = "statistics", conflicts_with_all = ["output", "json"])]
    pub(crate) stats: bool,
    /// With -s: report again every INTERVAL seconds, the counts since
    /// the last report (as `dladm show-link -s -i`), until interrupted.
    #[arg(short = 'i', long, value_name = "seconds", requires = "stats", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) interval: Option<u32>,
    /// With -i: stop after this many reports.
    #[arg(long, value_name = "n", requires = "interval", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) count: Option<u32>,
    /// The persistent configuration (what `up` makes at boot) instead of
    /// the running links, as `dladm show-link -P`.
    #[arg(short = 'P', long = "persistent", conflicts_with = "stats")]
    pub(crate) persistent: bool,
    /// Fields to show, comma separated (see below), or "all".
    #[arg(short = 'o', long = "output", value_name = "field,...")]
    pub(crate) output: Option<String>,
    /// JSON output (every field and the counters).
    #[arg(long, conflicts_with_all = ["parsable", "output"])]
    pub(crate) json: bool,
    /// Only this link.
    pub(crate) name: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct ModifyArgs {
    #[arg(long, value_parser = parse_mtu)]
    pub(crate) mtu: Option<u32>,
    #[arg(long, value_parser = parse_mac)]
    pub(crate) mac: Option<MacAddr>,
    /// New owner (name or uid).
    #[arg(long, conflicts_with = "no_owner")]
    pub(crate) owner: Option<String>,
    /// Remove the owner.
    #[arg(long)]
    pub(crate) no_owner: bool,
    /// New group (name or gid).
    #[arg(long, conflicts_with = "no_group")]
    pub(crate) group: Option<String>,
    /// Remove the group.
    #[arg(long)]
    pub(crate) no_group: bool,
    /// Change only the running link, not the configuration.
    #[arg(short = 't', long)]
    pub(crate) temporary: bool,
    /// Properties as dladm modify-tun takes them, or any other link
    /// property; owner= and group= (no value) remove the owner or group
    /// (repeatable).
    #[arg(short = 'p', long = "prop", value_name = "prop=value,...")]
    pub(crate) props: Vec<String>,
    #[command(flatten)]
    pub(crate) root: RootArg,
    pub(crate) name: String,
}

/// A value given both as an option and as a `-p` property is an error.
pub(crate) fn one_of<T>(option: Option<T>, prop: Option<T>, name: &str) -> Result<Option<T>, String> {
    match (option, prop) {
        (Some(_), Some(_)) => Err(format!("property '{name}' is given twice")),
        (o, p) => Ok(o.or(p)),
    }
}

/// What `create` was given, options and `-p` merged; owner and group
/// still text.
pub(crate) struct CreateValues {
    pub(crate) mtu: Option<u32>,
    pub(crate) mac: Option<MacAddr>,
    pub(crate) owner: Option<String>,
    pub(crate) group: Option<String>,
    /// Any other link property (`maxbw=10M`), as dladm create-vnic -p.
    pub(crate) link_props: Vec<(String, String)>,
}

pub(crate) fn create_values(a: &CreateArgs) -> Result<CreateValues, String> {
    let p = libdladm_plugin::props::parse_props(&a.props, false)?;
    Ok(CreateValues {
        mtu: one_of(a.mtu, p.mtu, "mtu")?,
        mac: one_of(a.mac, p.mac, "mac-address")?,
        owner: one_of(a.owner.clone(), p.owner.flatten(), "owner")?,
        group: one_of(a.group.clone(), p.group.flatten(), "group")?,
        link_props: p.link_props,
    })
}

/// What `modify` was given, options and `-p` merged; for owner and group
/// `Some(None)` is a reset.
pub(crate) struct ModifyValues {
    pub(crate) mtu: Option<u32>,
    pub(crate) mac: Option<MacAddr>,
    pub(crate) owner: Option<Option<String>>,
    pub(crate) group: Option<Option<String>>,
    pub(crate) link_props: Vec<(String, String)>,
}

pub(crate) fn modify_values(a: &ModifyArgs) -> Result<ModifyValues, String> {
    // --owner X / --no-owner and -p owner=X / owner= say the same.
    let owner_opt = a.owner.clone().map(Some).or(a.no_owner.then_some(None));
    let group_opt = a.group.clone().map(Some).or(a.no_group.then_some(None));
    let p = libdladm_plugin::props::parse_props(&a.props, true)?;
    let v = ModifyValues {
        mtu: one_of(a.mtu, p.mtu, "mtu")?,
        mac: one_of(a.mac, p.mac, "mac-address")?,
        owner: one_of(owner_opt, p.owner, "owner")?,
        group: one_of(group_opt, p.group, "group")?,
        link_props: p.link_props,
    };
    if v.mtu.is_none() && v.mac.is_none() && v.owner.is_none() && v.group.is_none() && v.link_props.is_empty() {
        return Err("nothing to change (give --mtu, --mac, --owner, --group or -p)".into());
    }
    Ok(v)
}

#[derive(Args, Debug)]
pub(crate) struct UpArgs {
    /// Only this link.
    pub(crate) name: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct CleanupArgs {
    /// Print the plan; change nothing.
    #[arg(short = 'n', long)]
    pub(crate) dry_run: bool,
    /// Only what this daemon left: an SMF FMRI or a pid.
    #[arg(long = "for", value_name = "FMRI|PID", value_parser = |s: &str| s.parse::<CleanupTarget>())]
    pub(crate) target: Option<CleanupTarget>,
}

pub(crate) fn parse_fmri(s: &str) -> Result<Fmri, String> {
    Fmri::parse(s).map_err(|e| e.to_string())
}

pub(crate) fn parse_pid(s: &str) -> Result<Pid, String> {
    let n = s.parse::<i64>().map_err(|_| OwnerError::BadPid { text: s.to_string() }.to_string())?;
    validate_pid(n).map_err(|e| e.to_string())
}

#[derive(Args, Debug)]
pub(crate) struct RegisterArgs {
    /// The SMF service instance, e.g. svc:/network/tuntap/openvpn:office.
    #[arg(long = "for", value_name = "FMRI", value_parser = parse_fmri)]
    pub(crate) fmri: Fmri,
    /// The daemon's pid (a live process).
    #[arg(long, value_name = "PID", value_parser = parse_pid)]
    pub(crate) pid: Pid,
}

#[derive(Args, Debug)]
pub(crate) struct UnregisterArgs {
    /// The SMF service instance.
    #[arg(long = "for", value_name = "FMRI", value_parser = parse_fmri)]
    pub(crate) fmri: Fmri,
    /// Only this pid's entries (default: every entry of the service).
    #[arg(long, value_name = "PID", value_parser = parse_pid)]
    pub(crate) pid: Option<Pid>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum BridgeVerb {
    /// The tap link joins the bridge (as dladm add-bridge -l LINK BRIDGE).
    Add {
        /// A persistent tap link.
        link: String,
        /// The bridge's name (dladm create-bridge made it).
        bridge: String,
    },
    /// The tap link leaves its bridge (as dladm remove-bridge -l).
    Remove {
        link: String,
    },
    /// The bridge the link is on, or "none".
    Show {
        link: String,
    },
}
