// SPDX-License-Identifier: MPL-2.0
//! The checks of a request that need no system: the link name, the MTU,
//! the MAC address and MAC-on-tun.  [`crate::TunAdm`] makes them first;
//! `tunctl -R` makes them before it leaves a command to an alternate
//! root's boot.

use tuntap_abi::LinkName;

use crate::error::{Error, ErrorKind};
use crate::types::{CreateRequest, MacAddr, Mode, ModifyRequest};

/// The checks of a create request that need no system, in the order
/// [`crate::TunAdm::create`] makes them: the name, the MTU, no MAC address on a
/// tun link, the MAC address.  Also what `tunctl -R` checks before it
/// leaves the command to an alternate root's boot (the owner and group
/// are resolved there).
pub fn check_create_request(req: &CreateRequest) -> Result<(), Error> {
    let name = req.name.as_str();
    validate_name(name)?;
    validate_mtu(name, req.mtu)?;
    if req.mac.is_some() && req.mode == Mode::Tun {
        return Err(Error::new(name, ErrorKind::MacOnTun));
    }
    validate_mac(name, req.mac)
}

/// The checks of a modify request that need no system (the name, the
/// MTU, the MAC address), as [`crate::TunAdm::modify`] makes them first.
pub fn check_modify_request(name: &str, req: &ModifyRequest) -> Result<(), Error> {
    validate_name(name)?;
    validate_mtu(name, req.mtu)?;
    validate_mac(name, req.mac)
}

/// The link-name check every verb makes first.
pub fn check_link_name(name: &str) -> Result<(), Error> {
    validate_name(name)
}

pub(crate) fn validate_name(name: &str) -> Result<(), Error> {
    LinkName::new(name).map(|_| ()).map_err(|e| Error::new(name, ErrorKind::BadName(e)))
}

fn validate_mtu(name: &str, mtu: Option<u32>) -> Result<(), Error> {
    match mtu {
        Some(m) => tuntap_abi::check_mtu(m).map(|_| ()).map_err(|e| Error::new(name, ErrorKind::InvalidMtu(e))),
        None => Ok(()),
    }
}

fn validate_mac(name: &str, mac: Option<MacAddr>) -> Result<(), Error> {
    match mac {
        Some(m) => MacAddr::parse_unicast(&m.to_string())
            .map(|_| ())
            .map_err(|reason| Error::new(name, ErrorKind::InvalidMac { text: m.to_string(), reason })),
        None => Ok(()),
    }
}
