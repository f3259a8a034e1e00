// SPDX-License-Identifier: MPL-2.0
//! Errors: every failure names the link it is about and the reason, and
//! maps to a stable [`Status`] code (the C ABI and exit codes use it).

use std::fmt;

use tuntap_abi::NameError;

use crate::platform::{DlError, Errno};

/// A failed operation on a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The link the operation was about (`None` for whole-system ones).
    pub link: Option<String>,
    pub kind: ErrorKind,
}

/// Why an operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The name breaks the datalink-name rules.
    BadName(NameError),
    /// A link of that name exists already; `what` says which kind
    /// (`"tun link"`, `"vnic link"`).
    Exists { what: String },
    /// No link of that name is visible in the caller's zone.
    NotFound,
    /// The link exists but is not a tun/tap link (`class`: dladm's name
    /// of its class, e.g. `vnic`, or `misc` for another driver's link).
    NotTunTap { class: String },
    /// The MTU is outside [`crate::MTU_MIN`]..=[`crate::MTU_MAX`]
    /// (`tuntap_abi::check_mtu`; its Display is the message).
    InvalidMtu(tuntap_abi::BadMtu),
    /// The MAC address text is malformed or not a unicast address.
    InvalidMac { text: String, reason: &'static str },
    /// A MAC address was given for a tun (layer 3) link.
    MacOnTun,
    /// The caller lacks `PRIV_SYS_DL_CONFIG`.
    Permission,
    /// The link belongs to another zone.
    OtherZone { zone: String },
    /// Persistent configuration was asked for in a non-global zone.
    TemporaryOnly,
    /// The link is in use (queues attached, IP plumbed).
    Busy { reason: String },
    /// The operation needs the link to be active (exist in the kernel).
    NotActive,
    /// The driver refused (`op`: what was being done).
    Kernel { op: &'static str, errno: Errno },
    /// dlmgmtd / libdladm refused.
    Dladm { op: &'static str, error: DlError },
    /// IP interface handling failed.
    Ip { message: String },
    /// dlmgmtd is not running (its door is missing).
    Unavailable,
    /// A layer-2 operation (`op`, e.g. "join a bridge") on a tun link.
    TunLink { op: &'static str },
    /// `op` needs a persistent link (dlmgmtd keeps bridge membership in
    /// the link's persistent configuration).
    NotPersistent { op: &'static str },
    /// The link is on another bridge already (`dladm_bridge_setlink`
    /// refuses a move; remove it first).
    OnOtherBridge { bridge: String },
}

/// Stable status codes: the values never change meaning (the C ABI
/// `libdltun` returns them as `dltun_status_t`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Ok = 0,
    BadName = 1,
    Exists = 2,
    NotFound = 3,
    NotTunTap = 4,
    InvalidMtu = 5,
    InvalidMac = 6,
    MacOnTun = 7,
    Permission = 8,
    OtherZone = 9,
    TemporaryOnly = 10,
    Busy = 11,
    NotActive = 12,
    Kernel = 13,
    Dladm = 14,
    Ip = 15,
    /// The driver or dlmgmtd cannot be reached: the C ABI's
    /// `DLTUN_STATUS_UNAVAIL`, outside the 0..=15 run of [`Status::ALL`].
    Unavailable = 102,
}

impl Status {
    /// Every status, in code order.
    pub const ALL: [Status; 16] = [
        Status::Ok,
        Status::BadName,
        Status::Exists,
        Status::NotFound,
        Status::NotTunTap,
        Status::InvalidMtu,
        Status::InvalidMac,
        Status::MacOnTun,
        Status::Permission,
        Status::OtherZone,
        Status::TemporaryOnly,
        Status::Busy,
        Status::NotActive,
        Status::Kernel,
        Status::Dladm,
        Status::Ip,
    ];

    /// A short description (what `dltun_status2str` returns).
    pub fn description(self) -> &'static str {
        match self {
            Status::Ok => "success",
            Status::BadName => "invalid link name",
            Status::Exists => "link already exists",
            Status::NotFound => "no such link",
            Status::NotTunTap => "not a tun/tap link",
            Status::InvalidMtu => "invalid MTU",
            Status::InvalidMac => "invalid MAC address",
            Status::MacOnTun => "a MAC address applies to tap links only",
            Status::Permission => "permission denied (needs PRIV_SYS_DL_CONFIG)",
            Status::OtherZone => "link belongs to another zone",
            Status::TemporaryOnly => "only temporary links may be created in a non-global zone",
            Status::Busy => "link is busy",
            Status::NotActive => "link is not active",
            Status::Kernel => "the tuntap driver refused the request",
            Status::Dladm => "dlmgmtd refused the request",
            Status::Ip => "IP interface operation failed",
            Status::Unavailable => "the tuntap driver or dlmgmtd is not available",
        }
    }

    /// The status with this code, if any.
    pub fn from_code(code: u32) -> Option<Status> {
        if code == Status::Unavailable as u32 {
            return Some(Status::Unavailable);
        }
        Status::ALL.get(code as usize).copied()
    }
}

impl Error {
    pub fn new(link: impl Into<String>, kind: ErrorKind) -> Self {
        Error { link: Some(link.into()), kind }
    }

    pub fn status(&self) -> Status {
        match &self.kind {
            ErrorKind::BadName(_) => Status::BadName,
            ErrorKind::Exists { .. } => Status::Exists,
            ErrorKind::NotFound => Status::NotFound,
            ErrorKind::NotTunTap { .. } => Status::NotTunTap,
            ErrorKind::InvalidMtu(_) => Status::InvalidMtu,
            ErrorKind::InvalidMac { .. } => Status::InvalidMac,
            ErrorKind::MacOnTun => Status::MacOnTun,
            ErrorKind::Permission => Status::Permission,
            ErrorKind::OtherZone { .. } => Status::OtherZone,
            ErrorKind::TemporaryOnly => Status::TemporaryOnly,
            ErrorKind::Busy { .. } => Status::Busy,
            ErrorKind::NotActive => Status::NotActive,
            ErrorKind::Kernel { .. } => Status::Kernel,
            ErrorKind::Dladm { .. } => Status::Dladm,
            ErrorKind::Ip { .. } => Status::Ip,
            ErrorKind::Unavailable => Status::Unavailable,
            // A layer-2 request on a layer-3 link, like a MAC on a tun.
            ErrorKind::TunLink { .. } => Status::MacOnTun,
            ErrorKind::NotPersistent { .. } => Status::NotActive,
            ErrorKind::OnOtherBridge { .. } => Status::Busy,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::BadName(e) => write!(f, "invalid link name: {e}"),
            ErrorKind::Exists { what } => write!(f, "already exists (a {what})"),
            ErrorKind::NotFound => write!(f, "no such link"),
            ErrorKind::NotTunTap { class } => write!(f, "not a tun/tap link (it is a {class} link)"),
            ErrorKind::InvalidMtu(bad) => write!(f, "{bad}"),
            ErrorKind::InvalidMac { text, reason } => write!(f, "invalid MAC address '{text}': {reason}"),
            ErrorKind::MacOnTun => write!(f, "a MAC address applies to tap links only (this is a tun link)"),
            ErrorKind::Permission => write!(f, "permission denied: needs the sys_dl_config privilege"),
            ErrorKind::OtherZone { zone } => write!(f, "belongs to zone '{zone}'; administer it from there"),
            ErrorKind::TemporaryOnly => {
                write!(f, "only temporary links can be made in a non-global zone (use --temporary)")
            }
            ErrorKind::Busy { reason } => write!(f, "busy: {reason}"),
            ErrorKind::NotActive => write!(f, "not active (configured only; run 'up' first)"),
            ErrorKind::Kernel { op, errno } => write!(f, "the tuntap driver refused to {op}: {errno}"),
            ErrorKind::Dladm { op, error } => write!(f, "dlmgmtd refused to {op}: {error}"),
            ErrorKind::Ip { message } => write!(f, "{message}"),
            ErrorKind::Unavailable => write!(
                f,
                "dlmgmtd is not running ({} is missing): svcadm enable svc:/network/datalink-management:default",
                crate::platform::DLMGMT_DOOR
            ),
            ErrorKind::TunLink { op } => {
                write!(f, "a tun link cannot {op}: it carries IP packets, not Ethernet frames (use a tap link)")
            }
            ErrorKind::NotPersistent { op } => write!(
                f,
                "cannot {op}: it is a temporary link, and dlmgmtd keeps this in a link's persistent configuration (create it without --temporary)"
            ),
            ErrorKind::OnOtherBridge { bridge } => {
                write!(f, "is on bridge {bridge} already; remove it first (tunctl bridge remove)")
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.link {
            Some(link) => write!(f, "link {link}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for Error {}
