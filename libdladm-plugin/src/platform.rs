// SPDX-License-Identifier: MPL-2.0
//! The system a [`crate::TunAdm`] manages, as a trait: dlmgmtd, the
//! driver's control node, processes, SMF services and IP interfaces.
//!
//! Two implementations exist: [`crate::illumos::Illumos`] (libdladm,
//! `/dev/tuntap`, `/proc`, `svcs`, `ipadm`; illumos only) and
//! [`crate::sim::SimPlatform`] (the simulated host with the real driver
//! logic; feature `sim`).  Every method is a thin call into the system:
//! the management logic (validation, ordering, rollback, cleanup policy)
//! lives in [`crate::TunAdm`] and is the same on both.

use std::fmt;
use std::sync::Arc;

pub use crate::ids::{DatalinkId, GLOBAL_ZONEID, Pid, ZoneId};
// The registry's interface only: which store (a directory, memory) is the
// backend's choice, so this trait names none of them.
use crate::owners::OwnerStore;

/// An errno value, numbered as on illumos (the simulator uses illumos
/// numbers too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    pub const EPERM: Errno = Errno(1);
    pub const ENOENT: Errno = Errno(2);
    pub const ENXIO: Errno = Errno(6);
    pub const ENOMEM: Errno = Errno(12);
    pub const EACCES: Errno = Errno(13);
    pub const EBUSY: Errno = Errno(16);
    pub const EEXIST: Errno = Errno(17);
    pub const ENODEV: Errno = Errno(19);
    pub const EINVAL: Errno = Errno(22);
    pub const ENOSPC: Errno = Errno(28);
    pub const ENOTSUP: Errno = Errno(48);

    /// The symbolic name, when known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Errno::EPERM => "EPERM",
            Errno::ENOENT => "ENOENT",
            Errno::ENXIO => "ENXIO",
            Errno::ENOMEM => "ENOMEM",
            Errno::EACCES => "EACCES",
            Errno::EBUSY => "EBUSY",
            Errno::EEXIST => "EEXIST",
            Errno::ENODEV => "ENODEV",
            Errno::EINVAL => "EINVAL",
            Errno::ENOSPC => "ENOSPC",
            Errno::ENOTSUP => "ENOTSUP",
            _ => return None,
        })
    }

    fn description(self) -> &'static str {
        match self {
            Errno::EPERM => "not privileged",
            Errno::ENOENT => "no such link",
            Errno::ENXIO => "no such device",
            Errno::ENOMEM => "out of memory",
            Errno::EACCES => "permission denied",
            Errno::EBUSY => "busy",
            Errno::EEXIST => "already exists",
            Errno::ENODEV => "no such device",
            Errno::EINVAL => "invalid argument",
            Errno::ENOSPC => "no space left",
            Errno::ENOTSUP => "not supported (driver and tool versions differ?)",
            _ => "error",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.description()),
            None => write!(f, "errno {}", self.0),
        }
    }
}

/// dlmgmtd's answer when it refuses (`dladm_status_t` counterparts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DlError {
    /// `DLADM_STATUS_EXIST`.
    Exists,
    /// `DLADM_STATUS_NOTFOUND`.
    NotFound,
    /// `DLADM_STATUS_DENIED`.
    Denied,
    /// `DLADM_STATUS_TEMPONLY`.
    TempOnly,
    /// `DLADM_STATUS_BADARG`.
    BadArg,
    /// `DLADM_STATUS_LINKBUSY` (the kernel still holds the link).
    Busy,
    /// dlmgmtd cannot be reached.  libdladm opens its door lazily and
    /// maps the open's `ENOENT` to `DLADM_STATUS_NOTFOUND`
    /// (`dladm_door_fd`, `dladm_errno2status` in libdladm.c), so a backend
    /// turns "not found" into this when the door is absent
    /// ([`not_found_or_unavailable`]).
    Unavailable,
    /// Anything else, with libdladm's own message.
    Other(String),
}

impl fmt::Display for DlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DlError::Exists => write!(f, "object already exists"),
            DlError::NotFound => write!(f, "object not found"),
            DlError::Denied => write!(f, "permission denied"),
            DlError::TempOnly => write!(f, "change cannot be persistent"),
            DlError::BadArg => write!(f, "invalid argument"),
            DlError::Busy => write!(f, "link busy"),
            DlError::Unavailable => write!(f, "dlmgmtd is not running"),
            DlError::Other(msg) => write!(f, "{msg}"),
        }
    }
}

/// Does control-node command `cmd` change anything?  Only those are sent
/// on a read-write open; `TUN_IOC_INFO` and `TUN_IOC_LIST` go on a
/// read-only one, so `show` works for users who may not write the node
/// (the driver checks `sys_dl_config` per command, not per open).
pub fn control_needs_write(cmd: i32) -> bool {
    !matches!(cmd, tuntap_abi::TUN_IOC_INFO | tuntap_abi::TUN_IOC_LIST)
}

/// dlmgmtd's door (`DLMGMT_DOOR`, illumos usr/src/uts/common/sys/dls_mgmt.h).
pub const DLMGMT_DOOR: &str = "/etc/svc/volatile/dladm/dlmgmt_door";

/// What a libdladm "not found" means: [`DlError::NotFound`] while the
/// door `door` exists, [`DlError::Unavailable`] when it does not (dlmgmtd
/// is not running, and the "not found" was the door's).
pub fn not_found_or_unavailable(door: &std::path::Path) -> DlError {
    if door.exists() { DlError::NotFound } else { DlError::Unavailable }
}

/// Flags of a dlmgmtd link entry (`DLMGMT_ACTIVE`, `DLMGMT_PERSIST`,
/// `DLMGMT_TRANSIENT`); also the `flags` of create/destroy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DlFlags {
    pub active: bool,
    pub persistent: bool,
    pub transient: bool,
}

/// One dlmgmtd entry, as `dladm_datalink_id2info` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DlEntry {
    pub linkid: DatalinkId,
    pub name: String,
    /// `datalink_class_t` bits (`DATALINK_CLASS_*`).
    pub class: u32,
    /// DLPI media type (`DL_ETHER` = 4).
    pub media: u32,
    pub flags: DlFlags,
}

/// `DATALINK_CLASS_MISC`: the class of every tun/tap link.
pub const DATALINK_CLASS_MISC: u32 = 0x400;
/// `DATALINK_CLASS_ALL`.
pub const DATALINK_CLASS_ALL: u32 = 0x7ff;
/// `DATALINK_CLASS_VNIC`.
pub const DATALINK_CLASS_VNIC: u32 = 0x08;
/// `DL_ETHER`.
pub const DL_ETHER: u32 = 0x4;

/// dladm's name of a class (`dladm_class2str`).
pub fn class_name(class: u32) -> &'static str {
    match class {
        0x01 => "phys",
        0x02 => "vlan",
        0x04 => "aggr",
        0x08 => "vnic",
        0x10 => "etherstub",
        0x20 => "simnet",
        0x40 => "bridge",
        0x80 => "iptun",
        0x100 => "part",
        0x200 => "overlay",
        0x400 => "misc",
        _ => "unknown",
    }
}

/// A live process, as `/proc/<pid>/psinfo` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: Pid,
    /// Executable name (`pr_fname`).
    pub name: String,
    /// Start time, nanoseconds since the epoch (`pr_start`).
    pub started_ns: u64,
}

/// What the management logic needs from the system.  Methods act with
/// the caller's credentials and zone; dlmgmtd and the driver do the
/// privilege and zone checks.
pub trait Platform {
    /// The caller's zone.
    fn zone(&self) -> ZoneId;
    /// A zone's name (`getzonenamebyid`), `None` if it does not exist.
    fn zone_name(&self, zone: ZoneId) -> Option<String>;

    // ----- dlmgmtd (libdladm) -----

    /// `dladm_create_datalink_id(name, DATALINK_CLASS_MISC, DL_ETHER,
    /// flags)`.
    fn dl_create_id(&self, name: &str, flags: DlFlags) -> Result<DatalinkId, DlError>;
    /// `dladm_destroy_datalink_id(linkid, flags)`.
    fn dl_destroy_id(&self, linkid: DatalinkId, flags: DlFlags) -> Result<(), DlError>;
    /// `dladm_up_datalink_id`: make a persistent id active (boot).
    fn dl_up_id(&self, linkid: DatalinkId) -> Result<(), DlError>;
    /// `dladm_name2info`.
    fn dl_name2info(&self, name: &str) -> Result<DlEntry, DlError>;
    /// `dladm_datalink_id2info`.
    fn dl_id2info(&self, linkid: DatalinkId) -> Result<DlEntry, DlError>;
    /// `dladm_walk_datalink_id` over the classes in `class_mask`, every
    /// flag (active and persistent).
    fn dl_walk(&self, class_mask: u32) -> Result<Vec<DlEntry>, DlError>;

    // ----- persistent configuration (libdladm, our own fields) -----

    /// New persistent configuration for a persistent id
    /// (`dladm_create_conf`, `dladm_set_conf_field` for each field as a
    /// string, `dladm_write_conf`).
    fn conf_create(&self, linkid: DatalinkId, name: &str, fields: &[(&str, String)]) -> Result<(), DlError>;
    /// Change fields of an existing configuration (`dladm_open_conf`,
    /// set / unset (`None`) fields, `dladm_write_conf`).
    fn conf_update(&self, linkid: DatalinkId, fields: &[(&str, Option<String>)]) -> Result<(), DlError>;
    /// One field (`dladm_getsnap_conf` + `dladm_get_conf_field`);
    /// `Ok(None)` when the link has no such field.
    fn conf_get(&self, linkid: DatalinkId, key: &str) -> Result<Option<String>, DlError>;
    /// `dladm_remove_conf`.
    fn conf_remove(&self, linkid: DatalinkId) -> Result<(), DlError>;

    // ----- link properties (libdladm linkprop) -----

    /// `dladm_set_linkprop(linkid, name, [value], 1, flags)` with
    /// `DLADM_OPT_ACTIVE`, plus `DLADM_OPT_PERSIST` unless `temporary`
    /// (libdladm then stores the value as the configuration field
    /// `name`, where `dladm set-linkprop` keeps it too).
    fn set_linkprop(&self, linkid: DatalinkId, name: &str, value: &str, temporary: bool) -> Result<(), DlError>;
    /// `dladm_init_linkprop(linkid, B_FALSE)`: apply every persistent link
    /// property (`mtu`, `maxbw`, `priority`, ...) to the running link.
    fn init_linkprop(&self, linkid: DatalinkId) -> Result<(), DlError>;

    // ----- bridges and VNICs over our links (libdlbridge, libdlvnic) -----

    /// `dladm_bridge_setlink(linkid, bridge)`: store the link's `FBRIDGE`
    /// field (`""` removes it) and refresh that bridge's daemon.
    fn bridge_setlink(&self, linkid: DatalinkId, bridge: &str) -> Result<(), DlError>;
    /// `dladm_bridge_getlink`: the link's bridge, `None` when it has none.
    fn bridge_getlink(&self, linkid: DatalinkId) -> Result<Option<String>, DlError>;
    /// `dladm_bridge_refresh(linkid)`: tell the link's bridge (if any) to
    /// look at its ports again, so one that just became active is added.
    fn bridge_refresh(&self, linkid: DatalinkId) -> Result<(), DlError>;
    /// The link a persistent VNIC is configured over (its `FLINKOVER`
    /// field, `"linkover"`, written by `dladm_vnic_persist_conf` in
    /// libdlvnic.c); `None` when it has none.
    fn vnic_lower(&self, vnic: DatalinkId) -> Result<Option<DatalinkId>, DlError>;
    /// `dladm_vnic_up(vnic, 0)`: re-create one persistent VNIC.
    fn vnic_up(&self, vnic: DatalinkId) -> Result<(), DlError>;

    // ----- the driver -----

    /// One `I_STR` ioctl on the control node: `cmd` with `input`; the
    /// reply bytes (as many as the driver returned).
    fn control_ioctl(&self, cmd: i32, input: &[u8]) -> Result<Vec<u8>, Errno>;

    // ----- processes and services -----

    /// The live process with this pid, if any.
    fn process(&self, pid: Pid) -> Option<ProcessInfo>;
    /// Live pids of the processes of an SMF service instance (the
    /// members of its process contracts, as `svcs -p` lists them).
    fn service_pids(&self, fmri: &str) -> Result<Vec<Pid>, String>;

    // ----- the owner registry -----

    /// Where the owner registry lives ([`crate::owners`]): illumos uses
    /// the directory `owners::OWNER_DIR` (tmpfs), the simulator keeps it
    /// in memory; tests may use any directory
    /// ([`crate::TunAdm::with_owner_store`]).
    fn owner_store(&self) -> Arc<dyn OwnerStore>;

    // ----- IP -----

    /// IP interfaces plumbed on the link (illumos names the interface
    /// after the link).
    fn ip_interfaces(&self, link: &str) -> Result<Vec<String>, String>;
    /// Unplumb an IP interface (`ipadm delete-ip`).
    fn ip_unplumb(&self, ifname: &str) -> Result<(), String>;
}

/// A platform that cannot exist: for builds with no system to manage
/// (not illumos, no simulator), so tools still parse arguments and print
/// help and usage errors.  Every method is unreachable by construction.
pub enum Unavailable {}

impl Platform for Unavailable {
    fn zone(&self) -> ZoneId {
        match *self {}
    }
    fn zone_name(&self, _: ZoneId) -> Option<String> {
        match *self {}
    }
    fn dl_create_id(&self, _: &str, _: DlFlags) -> Result<DatalinkId, DlError> {
        match *self {}
    }
    fn dl_destroy_id(&self, _: DatalinkId, _: DlFlags) -> Result<(), DlError> {
        match *self {}
    }
    fn dl_up_id(&self, _: DatalinkId) -> Result<(), DlError> {
        match *self {}
    }
    fn dl_name2info(&self, _: &str) -> Result<DlEntry, DlError> {
        match *self {}
    }
    fn dl_id2info(&self, _: DatalinkId) -> Result<DlEntry, DlError> {
        match *self {}
    }
    fn dl_walk(&self, _: u32) -> Result<Vec<DlEntry>, DlError> {
        match *self {}
    }
    fn conf_create(&self, _: DatalinkId, _: &str, _: &[(&str, String)]) -> Result<(), DlError> {
        match *self {}
    }
    fn conf_update(&self, _: DatalinkId, _: &[(&str, Option<String>)]) -> Result<(), DlError> {
        match *self {}
    }
    fn conf_get(&self, _: DatalinkId, _: &str) -> Result<Option<String>, DlError> {
        match *self {}
    }
    fn conf_remove(&self, _: DatalinkId) -> Result<(), DlError> {
        match *self {}
    }
    fn set_linkprop(&self, _: DatalinkId, _: &str, _: &str, _: bool) -> Result<(), DlError> {
        match *self {}
    }
    fn init_linkprop(&self, _: DatalinkId) -> Result<(), DlError> {
        match *self {}
    }
    fn bridge_setlink(&self, _: DatalinkId, _: &str) -> Result<(), DlError> {
        match *self {}
    }
    fn bridge_getlink(&self, _: DatalinkId) -> Result<Option<String>, DlError> {
        match *self {}
    }
    fn bridge_refresh(&self, _: DatalinkId) -> Result<(), DlError> {
        match *self {}
    }
    fn vnic_lower(&self, _: DatalinkId) -> Result<Option<DatalinkId>, DlError> {
        match *self {}
    }
    fn vnic_up(&self, _: DatalinkId) -> Result<(), DlError> {
        match *self {}
    }
    fn control_ioctl(&self, _: i32, _: &[u8]) -> Result<Vec<u8>, Errno> {
        match *self {}
    }
    fn process(&self, _: Pid) -> Option<ProcessInfo> {
        match *self {}
    }
    fn service_pids(&self, _: &str) -> Result<Vec<Pid>, String> {
        match *self {}
    }
    fn owner_store(&self) -> Arc<dyn OwnerStore> {
        match *self {}
    }
    fn ip_interfaces(&self, _: &str) -> Result<Vec<String>, String> {
        match *self {}
    }
    fn ip_unplumb(&self, _: &str) -> Result<(), String> {
        match *self {}
    }
}
