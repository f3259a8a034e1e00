// SPDX-License-Identifier: MPL-2.0
//! The tuntap driver's ioctl ABI, defined once for the kernel and userland.
//!
//! Two APIs live here:
//!
//! * The **old API** of the legacy Solaris/illumos tun driver
//!   (`net/if_tun.h`): `TUNNEWPPA`, `TUNSETPPA`, `TUNGETPPA`, each taking an
//!   `int`.  Unmodified OpenVPN, openconnect and WireGuard-go use these.
//! * The **new API**: versioned `#[repr(C)]` request structures of fixed
//!   size with no embedded pointers, so that the same bytes travel as an
//!   `I_STR` payload or through a transparent ioctl's `M_COPYIN`.
//!
//! Every structure starts with `version` ([`TUN_ABI_VERSION`]).  The kernel
//! rejects a size it does not expect with `EINVAL` and a version it does not
//! speak with `ENOTSUP`; unknown flag bits are `EINVAL`.  Decoding is done
//! by [`decode`], which never panics on any input.
//!
//! Names are link names as illumos datalinks define them
//! ([`validate_link_name`]), NUL-terminated inside a `[u8; LINK_NAME_LEN]`.

#![no_std]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub mod batch;
pub mod limits;
pub mod offload;
pub mod name;
pub mod wire;

pub use limits::{BadMtu, MTU_DEFAULT, MTU_MAX, MTU_MIN, check_mtu, mtu_or_default};
pub use name::{LinkName, NameError, validate_link_name};
pub use wire::{AbiError, Pod, as_bytes, check_flags, decode, decode_versioned, encode_into};

/// `MAXLINKNAMELEN` from `usr/src/uts/common/sys/param.h`: 32 bytes
/// including the terminating NUL.
pub const LINK_NAME_LEN: usize = 32;

/// `MAXMACADDRLEN` from `usr/src/uts/common/sys/mac.h`.
pub const MAX_MAC_ADDR_LEN: usize = 20;

/// Length of an Ethernet address (`ETHERADDRL`).
pub const ETHER_ADDR_LEN: usize = 6;

/// The version of the new API that this crate describes.
pub const TUN_ABI_VERSION: u32 = 1;

/// `datalink_id_t` (`usr/src/uts/common/sys/dls_mgmt.h`), a `uint32_t`.
pub type DatalinkId = u32;

/// `DATALINK_INVALID_LINKID` (`usr/src/uts/common/sys/dls_mgmt.h`).
pub const DATALINK_INVALID_LINKID: DatalinkId = 0;

// ===== the old API: net/if_tun.h of the legacy driver =====

/// `TUNNEWPPA = ('T' << 16) | 1`: allocate a unit (`-1`: the lowest free).
pub const TUNNEWPPA: i32 = (b'T' as i32) << 16 | 1;
/// `TUNSETPPA = ('T' << 16) | 2`: attach this stream to an existing unit.
pub const TUNSETPPA: i32 = (b'T' as i32) << 16 | 2;
/// `TUNGETPPA = ('T' << 16) | 3`: which unit is this stream on.
pub const TUNGETPPA: i32 = (b'T' as i32) << 16 | 3;

/// Highest PPA (unit number) the old API hands out.  The legacy driver
/// stopped at 20; datalink names allow far more.  A PPA is a non-negative
/// `int`, and `tun` + the decimal PPA must still be a valid link name.
pub const OLD_API_MAX_PPA: i32 = 65_535;

// ===== the new API =====

/// Base of the new API's ioctl numbers: `('t' << 24) | ('u' << 16)`.  It
/// collides with no STREAMS (`'S' << 8`) or old tun (`'T' << 16`) command.
pub const TUN_IOC_BASE: i32 = ((b't' as i32) << 24) | ((b'u' as i32) << 16);

const fn tun_ioc(n: i32) -> i32 {
    TUN_IOC_BASE | n
}

/// Control node: create a link with a datalink id from dlmgmtd.
/// Payload [`TunIocCreate`] in/out.  Needs `PRIV_SYS_DL_CONFIG`.
pub const TUN_IOC_CREATE: i32 = tun_ioc(1);
/// Control node: delete a link.  Payload [`TunIocDelete`].
pub const TUN_IOC_DELETE: i32 = tun_ioc(2);
/// Control node or a queue: describe a link.  Payload [`TunIocInfo`] in/out.
pub const TUN_IOC_INFO: i32 = tun_ioc(3);
/// Control node: list link ids, in pages.  Payload [`TunIocList`] in/out.
pub const TUN_IOC_LIST: i32 = tun_ioc(4);
/// Control node: change MTU, MAC, owner, group, persistence, carrier.
/// Payload [`TunIocModify`].
pub const TUN_IOC_MODIFY: i32 = tun_ioc(5);
/// `/dev/tun` or `/dev/tap` queue: attach to a link by name.
/// Payload [`TunIocAttach`] in/out.
pub const TUN_IOC_ATTACH: i32 = tun_ioc(6);
/// Queue: detach from its link.  No payload.
pub const TUN_IOC_DETACH: i32 = tun_ioc(7);
/// Queue: set the owner uid of the attached link (`u32`, `u32::MAX` = none).
pub const TUN_IOC_SET_OWNER: i32 = tun_ioc(8);
/// Queue: set the owner gid of the attached link (`u32`, `u32::MAX` = none).
pub const TUN_IOC_SET_GROUP: i32 = tun_ioc(9);
/// Queue: make the attached link persistent (`u32` 1) or transient (0).
pub const TUN_IOC_SET_PERSIST: i32 = tun_ioc(10);
/// Queue: set the carrier of the attached link (`u32` 1 on, 0 off).
pub const TUN_IOC_SET_CARRIER: i32 = tun_ioc(11);
/// Queue: bound the queue's backlog.  Payload [`TunIocQueueLimits`] in/out.
pub const TUN_IOC_QUEUE_LIMITS: i32 = tun_ioc(12);
/// Queue: batched reads and writes on or off.  Payload
/// [`batch::TunIocBatch`] in/out.
pub const TUN_IOC_BATCH: i32 = tun_ioc(13);
/// Queue: checksum/segmentation offload and the virtio-net header on or
/// off.  Payload [`offload::TunIocOffload`] in/out.
pub const TUN_IOC_OFFLOAD: i32 = tun_ioc(14);

/// "No owner" / "no group".
pub const TUN_NO_ID: u32 = u32::MAX;

/// Link mode flags, used by create, attach and info.
pub mod mode {
    /// L3: IP packets.
    pub const TUN: u32 = 0x0001;
    /// L2: Ethernet frames.
    pub const TAP: u32 = 0x0002;
    /// Both mode bits.
    pub const MASK: u32 = TUN | TAP;
}

/// [`TunIocCreate::flags`].
pub mod create_flags {
    pub use super::mode::{TAP, TUN};
    /// The link survives the last close (it is removed by delete only).
    pub const PERSIST: u32 = 0x0100;
    /// `mac` holds the address to use (tap only).
    pub const MAC_GIVEN: u32 = 0x0200;
    /// Every bit the kernel understands.
    pub const ALL: u32 = TUN | TAP | PERSIST | MAC_GIVEN;
}

/// [`TunIocDelete::flags`].
pub mod delete_flags {
    /// Detach attached queues (they get `ENXIO`) instead of `EBUSY`.
    pub const FORCE: u32 = 0x0001;
    /// Every bit the kernel understands.
    pub const ALL: u32 = FORCE;
}

/// [`TunIocAttach::flags`].
pub mod attach_flags {
    pub use super::mode::{TAP, TUN};
    /// Refuse if another queue is attached, and refuse later attaches.
    pub const EXCLUSIVE: u32 = 0x0100;
    /// Allow several queues on the link (packets are steered by flow).
    pub const MULTI_QUEUE: u32 = 0x0200;
    /// Prefix each packet with a 4-byte [`super::PacketInfo`] header.
    pub const PACKET_INFO: u32 = 0x0400;
    /// Create a transient link if the name does not exist.
    pub const CREATE: u32 = 0x0800;
    /// Every bit the kernel understands.
    pub const ALL: u32 = TUN | TAP | EXCLUSIVE | MULTI_QUEUE | PACKET_INFO | CREATE;
}

/// [`TunIocModify::what`]: which fields to apply.
pub mod modify_what {
    pub const MTU: u32 = 0x0001;
    pub const MAC: u32 = 0x0002;
    pub const OWNER: u32 = 0x0004;
    pub const GROUP: u32 = 0x0008;
    pub const PERSIST: u32 = 0x0010;
    pub const CARRIER: u32 = 0x0020;
    pub const ALL: u32 = MTU | MAC | OWNER | GROUP | PERSIST | CARRIER;
}

/// [`TunIocInfo::state_flags`].
pub mod info_flags {
    pub const PERSIST: u32 = 0x0001;
    pub const CARRIER: u32 = 0x0002;
    /// Link state is up (a queue is attached and carrier is on).
    pub const LINK_UP: u32 = 0x0004;
    /// Created through the old API (`tunN`/`tapN`).
    pub const OLD_API: u32 = 0x0008;
    /// An exclusive queue holds the link.
    pub const EXCLUSIVE: u32 = 0x0010;
    /// Created by attach-with-create; goes away with its last queue.
    pub const TRANSIENT: u32 = 0x0020;
}

/// Linux-style packet information header (`struct tun_pi`): 4 bytes in
/// front of each packet on a queue attached with
/// [`attach_flags::PACKET_INFO`].  `proto` is an Ethertype in network
/// byte order; `flags` is reserved (0).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketInfo {
    pub flags: u16,
    pub proto: [u8; 2],
}

/// Create a link.  In: every field but `mac` when not `MAC_GIVEN`.
/// Out: `mac` holds the address the link got.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunIocCreate {
    pub version: u32,
    pub flags: u32,
    pub linkid: DatalinkId,
    /// 0 = the default (1500).
    pub mtu: u32,
    pub owner: u32,
    pub group: u32,
    pub mac: [u8; ETHER_ADDR_LEN],
    pub _pad: [u8; 2],
    pub name: [u8; LINK_NAME_LEN],
}

/// Delete a link.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunIocDelete {
    pub version: u32,
    pub flags: u32,
    pub linkid: DatalinkId,
    pub _pad: u32,
}

/// Attach a queue to a link by name.  Out: `linkid`, and `flags` gains
/// the mode bit of the link.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunIocAttach {
    pub version: u32,
    pub flags: u32,
    pub linkid: DatalinkId,
    pub _pad: u32,
    pub name: [u8; LINK_NAME_LEN],
}

/// Change a link.  Fields not named in `what` are ignored.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunIocModify {
    pub version: u32,
    pub what: u32,
    pub linkid: DatalinkId,
    pub mtu: u32,
    pub owner: u32,
    pub group: u32,
    pub persist: u32,
    pub carrier: u32,
    pub mac: [u8; ETHER_ADDR_LEN],
    pub _pad: [u8; 2],
}

/// How many attaching pids [`TunIocInfo`] reports.
pub const INFO_MAX_PIDS: usize = 8;

/// Declares the counter set once: the `#[repr(C)]` [`TunCounters`] the
/// INFO ioctl carries, the [`Counter`] names the driver increments by, and
/// the table [`TunCounters::named`] that `tunctl`, `libdltun` and the
/// man-page check walk.  Adding a counter is one line here, its increment
/// in the driver (`tuntap-drv/src/stats.rs`) and its line in `tun(4D)`.
macro_rules! counters {
    ($( $(#[$doc:meta])* $field:ident => $variant:ident, )*) => {
        /// Per-link counters, as `mc_getstat` reports them.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct TunCounters {
            $( $(#[$doc])* pub $field: u64, )*
        }

        /// One counter of [`TunCounters`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub enum Counter {
            $( $(#[$doc])* $variant, )*
        }

        impl Counter {
            /// Every counter, in declaration order.
            pub const ALL: &[Counter] = &[$( Counter::$variant, )*];
            /// How many counters there are.
            pub const COUNT: usize = Self::ALL.len();

            /// The counter's name (the [`TunCounters`] field).
            pub const fn name(self) -> &'static str {
                match self {
                    $( Counter::$variant => stringify!($field), )*
                }
            }
        }

        impl TunCounters {
            /// Every counter with its name, in declaration order.
            pub const fn named(&self) -> [(&'static str, u64); Counter::COUNT] {
                [$( (stringify!($field), self.$field), )*]
            }

            /// Counters whose values `value` gives.
            pub fn from_fn(mut value: impl FnMut(Counter) -> u64) -> Self {
                Self { $( $field: value(Counter::$variant), )* }
            }
        }
    };
}

counters! {
    /// Packets from the stack delivered to a queue (`mc_tx` side).
    opackets => Opackets,
    /// Their bytes.
    obytes => Obytes,
    /// Packets written by applications and passed up (`mac_rx` side).
    ipackets => Ipackets,
    /// Their bytes.
    rbytes => Rbytes,
    /// Multicast packets passed up.
    multircv => Multircv,
    /// Broadcast packets passed up.
    brdcstrcv => Brdcstrcv,
    /// Multicast packets delivered to a queue.
    multixmt => Multixmt,
    /// Broadcast packets delivered to a queue.
    brdcstxmt => Brdcstxmt,
    /// Bad writes (wrong framing, too long, too short).
    ierrors => Ierrors,
    /// Packets the stack sent that could not be delivered.
    oerrors => Oerrors,
    /// Dropped for lack of a buffer on the receive (write) side.
    norcvbuf => Norcvbuf,
    /// Dropped because no queue could take them.
    noxmtbuf => Noxmtbuf,
    /// Non-IP frames dropped on a tun link.
    unknowns => Unknowns,
    /// ARP replies / neighbour advertisements the driver answered.
    resolver_replies => ResolverReplies,
}

/// Describe a link.  In: `version`, `linkid` (on a queue,
/// `DATALINK_INVALID_LINKID` means "the link this queue is attached to").
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunIocInfo {
    pub version: u32,
    pub linkid: DatalinkId,
    pub mode: u32,
    pub state_flags: u32,
    pub mtu: u32,
    pub owner: u32,
    pub group: u32,
    pub zoneid: i32,
    pub nqueues: u32,
    pub creator_pid: i32,
    pub pids: [i32; INFO_MAX_PIDS],
    /// Creation time, nanoseconds since the epoch.
    pub created_ns: u64,
    pub mac: [u8; ETHER_ADDR_LEN],
    pub _pad: [u8; 2],
    pub name: [u8; LINK_NAME_LEN],
    pub counters: TunCounters,
}

/// How many link ids one [`TunIocList`] page holds.
pub const LIST_PAGE: usize = 64;

/// List the link ids visible to the caller's zone, in increasing order.
/// In: `after` (0 to start).  Out: `count` ids in `linkids`, `more` = 1 if
/// another page follows (call again with `after` = the last id).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunIocList {
    pub version: u32,
    pub after: DatalinkId,
    pub count: u32,
    pub more: u32,
    pub linkids: [DatalinkId; LIST_PAGE],
}

/// Bound a queue's backlog (packets from the stack waiting to be read).
/// In: 0 keeps the current value.  Out: the values in force.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunIocQueueLimits {
    pub version: u32,
    pub max_packets: u32,
    pub max_bytes: u32,
    pub _pad: u32,
}

macro_rules! zeroed_default {
    ($($t:ty),*) => {$(
        impl Default for $t {
            fn default() -> Self {
                // SAFETY: the type is plain old data (see `Pod`): all-zero
                // bytes are a valid value.
                unsafe { core::mem::zeroed() }
            }
        }
        // SAFETY: #[repr(C)], only integer and byte-array fields, padding
        // made explicit, so every bit pattern is valid and none is
        // uninitialised.
        unsafe impl Pod for $t {}
    )*};
}
zeroed_default!(TunIocCreate, TunIocAttach, TunIocModify, TunIocInfo, TunIocList);

// SAFETY: as above: #[repr(C)] with only integer fields and no implicit
// padding.
unsafe impl Pod for TunIocDelete {}
// SAFETY: as above.
unsafe impl Pod for TunIocQueueLimits {}
// SAFETY: as above.
unsafe impl Pod for TunCounters {}
// SAFETY: as above.
unsafe impl Pod for PacketInfo {}

impl TunIocCreate {
    /// A request with `version` set and the given name.
    pub fn new(name: &str, flags: u32, linkid: DatalinkId) -> Result<Self, NameError> {
        Ok(Self {
            version: TUN_ABI_VERSION,
            flags,
            linkid,
            owner: TUN_NO_ID,
            group: TUN_NO_ID,
            name: LinkName::new(name)?.to_bytes(),
            ..Self::default()
        })
    }
}

impl TunIocAttach {
    /// A request with `version` set and the given name.
    pub fn new(name: &str, flags: u32) -> Result<Self, NameError> {
        Ok(Self {
            version: TUN_ABI_VERSION,
            flags,
            name: LinkName::new(name)?.to_bytes(),
            ..Self::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn named_counters_cover_every_field() {
        // A field added to TunCounters without a row in named() fails here.
        let c = TunCounters::default();
        assert_eq!(c.named().len() * size_of::<u64>(), size_of::<TunCounters>());
        let mut seen = [0u64; Counter::COUNT];
        // Give each field a distinct value through the byte view, then see
        // every value come back once.
        let mut raw = [0u8; size_of::<TunCounters>()];
        for (i, chunk) in raw.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&(i as u64 + 1).to_ne_bytes());
        }
        let c: TunCounters = decode(&raw).unwrap();
        for (i, (_, v)) in c.named().iter().enumerate() {
            seen[i] = *v;
        }
        seen.sort_unstable();
        assert_eq!(seen, core::array::from_fn(|i| i as u64 + 1));
    }

    #[test]
    fn old_api_numbers_match_if_tun_h() {
        assert_eq!(TUNNEWPPA, 0x0054_0001);
        assert_eq!(TUNSETPPA, 0x0054_0002);
        assert_eq!(TUNGETPPA, 0x0054_0003);
    }

    #[test]
    fn new_api_numbers_are_distinct_and_clear_of_streams() {
        let all = [
            TUN_IOC_CREATE, TUN_IOC_DELETE, TUN_IOC_INFO, TUN_IOC_LIST, TUN_IOC_MODIFY,
            TUN_IOC_ATTACH, TUN_IOC_DETACH, TUN_IOC_SET_OWNER, TUN_IOC_SET_GROUP,
            TUN_IOC_SET_PERSIST, TUN_IOC_SET_CARRIER, TUN_IOC_QUEUE_LIMITS, TUN_IOC_BATCH, TUN_IOC_OFFLOAD,
        ];
        for (i, a) in all.iter().enumerate() {
            // STREAMS ioctls are ('S' << 8) | n; old tun ones ('T' << 16) | n.
            assert_ne!(a >> 8, b'S' as i32);
            assert_ne!(a >> 16, b'T' as i32);
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(TUN_IOC_CREATE as u32, 0x7475_0001);
    }

    #[test]
    fn layouts_are_fixed() {
        // These sizes are the ABI: changing one needs a new version.
        assert_eq!(size_of::<TunIocCreate>(), 64);
        assert_eq!(offset_of!(TunIocCreate, mac), 24);
        assert_eq!(offset_of!(TunIocCreate, name), 32);
        assert_eq!(size_of::<TunIocDelete>(), 16);
        assert_eq!(size_of::<TunIocAttach>(), 48);
        assert_eq!(size_of::<TunIocModify>(), 40);
        assert_eq!(size_of::<TunCounters>(), 14 * 8);
        assert_eq!(offset_of!(TunIocInfo, pids), 40);
        assert_eq!(offset_of!(TunIocInfo, created_ns), 72);
        assert_eq!(offset_of!(TunIocInfo, name), 88);
        assert_eq!(offset_of!(TunIocInfo, counters), 120);
        assert_eq!(size_of::<TunIocInfo>(), 120 + 112);
        assert_eq!(size_of::<TunIocList>(), 16 + 4 * LIST_PAGE);
        assert_eq!(size_of::<TunIocQueueLimits>(), 16);
        assert_eq!(size_of::<PacketInfo>(), 4);
    }

    #[test]
    fn constructors_set_version_and_name() {
        let c = TunIocCreate::new("vpn0", create_flags::TUN, 7).unwrap();
        assert_eq!(c.version, TUN_ABI_VERSION);
        assert_eq!(&c.name[..5], b"vpn0\0");
        assert_eq!(c.owner, TUN_NO_ID);
        assert!(TunIocAttach::new("0bad", mode::TAP).is_err());
    }
}
