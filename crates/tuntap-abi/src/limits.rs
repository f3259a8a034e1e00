// SPDX-License-Identifier: MPL-2.0
//! Limits and node numbers shared by the driver and every userland tool.
//!
//! One home for each: the driver validates with [`check_mtu`], and so do
//! `libdladm-plugin`, `libdltun`, `tunctl` and `tunneld`; the man-page
//! checks read the same constants.

/// The smallest MTU a link accepts: IPv4's minimum reassembly size
/// (RFC 791), below which IP on illumos refuses the interface.
pub const MTU_MIN: u32 = 576;
/// The largest MTU a link accepts: an IP packet's total-length field.
pub const MTU_MAX: u32 = 65_535;
/// The MTU of a new link when none is given.
pub const MTU_DEFAULT: u32 = 1500;

/// An MTU outside [`MTU_MIN`]..=[`MTU_MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadMtu(pub u32);

impl core::fmt::Display for BadMtu {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid MTU {}: must be {MTU_MIN} to {MTU_MAX}", self.0)
    }
}

/// The one MTU check: `mtu` if it is within bounds.
pub const fn check_mtu(mtu: u32) -> Result<u32, BadMtu> {
    if mtu >= MTU_MIN && mtu <= MTU_MAX { Ok(mtu) } else { Err(BadMtu(mtu)) }
}

/// `0` in a request means "the default MTU"; anything else is checked.
pub const fn mtu_or_default(mtu: u32) -> Result<u32, BadMtu> {
    if mtu == 0 { Ok(MTU_DEFAULT) } else { check_mtu(mtu) }
}

/// The minor nodes of `drv/tun` (offsets from `mac_private_minor()` in
/// the driver): `/dev/tuntap` (control), `/dev/tun`,
/// `/dev/tap`.  Clone opens get minors above these.
pub mod node {
    /// `/dev/tuntap`: the control node (new API management ioctls).
    pub const CTL: u32 = 0;
    /// `/dev/tun`: L3 queues and old-API tun units.
    pub const TUN: u32 = 1;
    /// `/dev/tap`: L2 queues and old-API tap units.
    pub const TAP: u32 = 2;
    /// Name (as `ddi_create_minor_node` takes it) and minor of each node.
    pub const ALL: [(&core::ffi::CStr, u32); 3] = [(c"ctl", CTL), (c"tun", TUN), (c"tap", TAP)];
    /// The first minor number handed to a clone open.
    pub const FIRST_CLONE: u32 = 16;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtu_bounds_are_inclusive() {
        assert_eq!(check_mtu(MTU_MIN), Ok(MTU_MIN));
        assert_eq!(check_mtu(MTU_MAX), Ok(MTU_MAX));
        assert_eq!(check_mtu(MTU_MIN - 1), Err(BadMtu(MTU_MIN - 1)));
        assert_eq!(check_mtu(MTU_MAX + 1), Err(BadMtu(MTU_MAX + 1)));
        assert_eq!(mtu_or_default(0), Ok(MTU_DEFAULT));
    }
}
