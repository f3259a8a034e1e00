// SPDX-License-Identifier: MPL-2.0
//! The values the library takes and returns: modes, MAC addresses,
//! requests, the joined view of a link, and the reports of `up` and
//! `cleanup`.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::owners::Fmri;
use crate::platform::{DatalinkId, Pid, ZoneId};

// The MTU bounds, the default and the one check live in the ABI crate
// (`tuntap_abi::limits`), shared with the driver; re-exported for callers.
pub use tuntap_abi::limits::{BadMtu, MTU_DEFAULT, MTU_MAX, MTU_MIN};
// The counter set and its names: one table (`TunCounters::named`).
pub use tuntap_abi::TunCounters;

/// Layer 3 (tun: IP packets) or layer 2 (tap: Ethernet frames).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    Tun,
    Tap,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Tun => "tun",
            Mode::Tap => "tap",
        }
    }

    pub(crate) fn abi_bits(self) -> u32 {
        match self {
            Mode::Tun => tuntap_abi::mode::TUN,
            Mode::Tap => tuntap_abi::mode::TAP,
        }
    }

    pub(crate) fn from_abi(bits: u32) -> Option<Mode> {
        match bits & tuntap_abi::mode::MASK {
            tuntap_abi::mode::TUN => Some(Mode::Tun),
            tuntap_abi::mode::TAP => Some(Mode::Tap),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tun" => Ok(Mode::Tun),
            "tap" => Ok(Mode::Tap),
            _ => Err(format!("unknown mode '{s}': use tun or tap")),
        }
    }
}

/// An Ethernet address.  Parsed from `2:8:20:a:b:c` (illumos style) or
/// `02:08:20:0a:0b:0c`; shown illumos style, as `dladm` shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// Parse and require a unicast, non-zero address.
    pub fn parse_unicast(text: &str) -> Result<MacAddr, &'static str> {
        let mac: MacAddr = text.parse()?;
        if mac.0[0] & 1 != 0 {
            return Err("it is a multicast/broadcast address (first octet is odd)");
        }
        if mac.0 == [0; 6] {
            return Err("the all-zero address is not usable");
        }
        Ok(mac)
    }
}

impl FromStr for MacAddr {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut n = 0;
        for part in s.split(':') {
            let slot = out.get_mut(n).ok_or("expected 6 octets separated by ':'")?;
            if part.is_empty() || part.len() > 2 {
                return Err("each octet is 1 or 2 hex digits");
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| "octets are hexadecimal")?;
            n += 1;
        }
        if n != 6 {
            return Err("expected 6 octets separated by ':'");
        }
        Ok(MacAddr(out))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:x}:{b:x}:{c:x}:{d:x}:{e:x}:{g:x}")
    }
}

/// What to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRequest {
    pub name: String,
    pub mode: Mode,
    /// Keep it across reboots (dlmgmtd persistent configuration).
    pub persistent: bool,
    /// `None`: [`MTU_DEFAULT`].
    pub mtu: Option<u32>,
    /// tap only; `None`: the driver picks a random local address.
    pub mac: Option<MacAddr>,
    /// uid allowed to attach without privilege.
    pub owner: Option<u32>,
    /// gid whose members may attach without privilege.
    pub group: Option<u32>,
    /// Other link properties (`maxbw`, `priority`, ...), `name=value`, set
    /// with `dladm_set_linkprop` once the link exists, as `dladm
    /// create-vnic -p` sets them ([`crate::linkprop`]); one refused undoes
    /// the create.
    pub link_props: Vec<(String, String)>,
}

impl CreateRequest {
    /// A persistent link with every default.
    pub fn new(name: &str, mode: Mode) -> Self {
        CreateRequest {
            name: name.to_string(),
            mode,
            persistent: true,
            mtu: None,
            mac: None,
            owner: None,
            group: None,
            link_props: Vec::new(),
        }
    }
}

/// What to change.  `None` leaves a field alone; for owner and group,
/// `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModifyRequest {
    pub mtu: Option<u32>,
    pub mac: Option<MacAddr>,
    pub owner: Option<Option<u32>>,
    pub group: Option<Option<u32>>,
    /// Other link properties to set (`dladm_set_linkprop`), as `dladm
    /// set-linkprop -p` sets them; the link must be running.
    pub link_props: Vec<(String, String)>,
    /// Change only the running link, not the persistent configuration.
    pub temporary: bool,
}

/// How to delete.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Remove only the running link; keep the persistent configuration
    /// (the link comes back with `up`).
    pub temporary: bool,
    /// Detach attached queues (their readers get `ENXIO`) instead of
    /// failing with "busy".
    pub force: bool,
}

/// Who made a running link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// An administrator (`tunctl create`, `dladm create-tun`, `up`).
    Admin,
    /// The old API (`TUNNEWPPA` on `/dev/tun` or `/dev/tap`).
    OldApi,
    /// A daemon's attach-with-create on the new API.
    Attach,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Admin => "admin",
            Origin::OldApi => "old-api",
            Origin::Attach => "attach",
        }
    }
}

/// What the driver knows about a running link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelLink {
    pub mode: Mode,
    pub mtu: u32,
    pub mac: MacAddr,
    pub owner: Option<u32>,
    pub group: Option<u32>,
    pub zone: ZoneId,
    /// Link state reported to mac: a queue is attached and carrier is on.
    pub link_up: bool,
    pub carrier: bool,
    pub origin: Origin,
    /// The driver keeps it after its last queue closes.
    pub kernel_persist: bool,
    pub exclusive: bool,
    /// Attached queues and (up to 8 of) their opening pids.
    pub queues: u32,
    pub pids: Vec<Pid>,
    /// The process that created the link (for admin links, the tool).
    pub creator_pid: Pid,
    /// Creation time, nanoseconds since the epoch.
    pub created_ns: u64,
    /// Every counter the driver keeps ([`TunCounters::named`] lists them).
    pub counters: TunCounters,
}

/// The persistent configuration of a link (our fields in dlmgmtd).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    pub mode: Mode,
    pub mtu: Option<u32>,
    pub mac: Option<MacAddr>,
    pub owner: Option<u32>,
    pub group: Option<u32>,
}

/// One tun/tap link: dlmgmtd's view joined with the driver's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunLink {
    pub name: String,
    pub linkid: DatalinkId,
    pub mode: Mode,
    /// The zone the link belongs to (for a link that is only configured,
    /// the caller's zone).
    pub zone: ZoneId,
    pub zone_name: String,
    /// dlmgmtd has it in the persistent configuration.
    pub persistent: bool,
    /// It exists in the running system.
    pub active: bool,
    /// The driver's state; `None` while only configured.
    pub kernel: Option<KernelLink>,
    /// The persistent configuration; `None` for temporary links.
    pub config: Option<LinkConfig>,
}

/// What `up` did with one configured link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpOutcome {
    Created,
    AlreadyUp,
    Failed(Error),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpEntry {
    pub name: String,
    pub outcome: UpOutcome,
}

/// Result of [`crate::TunAdm::up`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpReport {
    pub entries: Vec<UpEntry>,
}

impl UpReport {
    pub fn failures(&self) -> usize {
        self.entries.iter().filter(|e| matches!(e.outcome, UpOutcome::Failed(_))).count()
    }
}

/// Which links `cleanup` may consider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CleanupTarget {
    /// Links made by this process.
    Pid(Pid),
    /// Links made by a process of this SMF service instance: a live
    /// member of it, or one registered for it ([`crate::owners`]).
    Service(Fmri),
}

impl FromStr for CleanupTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("svc:") {
            return Fmri::parse(s).map(CleanupTarget::Service).map_err(|e| e.to_string());
        }
        if let Ok(pid) = s.parse::<i64>() {
            return crate::owners::validate_pid(pid).map(CleanupTarget::Pid).map_err(|e| e.to_string());
        }
        Err(format!("'{s}' is neither a pid nor an SMF FMRI (svc:/SERVICE:INSTANCE)"))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanupOptions {
    /// Plan only: change nothing.
    pub dry_run: bool,
    /// Only what this process or service left; `None`: every stale link.
    pub target: Option<CleanupTarget>,
}

/// One step of removing a stale link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CleanupStep {
    /// Unplumb this IP interface.
    UnplumbIp(String),
    /// Delete the link.
    DeleteLink,
}

/// A stale link and what was (or, in a dry run, would be) done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CleanupAction {
    pub link: String,
    pub linkid: DatalinkId,
    /// Why it is stale, in words.
    pub reason: String,
    pub steps: Vec<CleanupStep>,
    /// `None` in a dry run; otherwise whether the steps succeeded.
    pub result: Option<Result<(), Error>>,
}

/// A link cleanup looked at and left alone, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CleanupKept {
    pub link: String,
    pub reason: String,
}

/// Result of [`crate::TunAdm::cleanup`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanupReport {
    pub dry_run: bool,
    pub actions: Vec<CleanupAction>,
    pub kept: Vec<CleanupKept>,
    /// Problems with the owner registry that did not stop the cleanup
    /// (damaged lines skipped, a file that could not be read or pruned).
    pub warnings: Vec<String>,
    /// Registry entries dropped because their process is gone and no
    /// link is left to trace to them (0 in a dry run).
    pub pruned: usize,
}

impl CleanupReport {
    pub fn failures(&self) -> usize {
        self.actions.iter().filter(|a| matches!(a.result, Some(Err(_)))).count()
    }
}

/// Result of [`crate::TunAdm::register_owner`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub fmri: Fmri,
    pub entry: crate::owners::OwnerEntry,
    /// The process's name (`pr_fname`).
    pub process_name: String,
    /// The process was registered for the service already.
    pub already: bool,
    /// Dead entries dropped on the way.
    pub pruned: usize,
    /// Damaged lines skipped (and dropped by the rewrite), and the like.
    pub warnings: Vec<String>,
}

/// Result of [`crate::TunAdm::prune_owners`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub pruned: usize,
    pub warnings: Vec<String>,
}
