// SPDX-License-Identifier: MPL-2.0
//! The system's id types, a leaf module: [`crate::platform`] and
//! [`crate::owners`] both use them, and neither imports the other's
//! internals through them (the owner registry knows no platform, the
//! `Platform` trait knows no registry backend).

/// `datalink_id_t`.
pub type DatalinkId = u32;
/// `zoneid_t`.
pub type ZoneId = i32;
/// `pid_t`.
pub type Pid = i32;

/// The global zone's id.
pub const GLOBAL_ZONEID: ZoneId = 0;
