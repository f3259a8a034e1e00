// SPDX-License-Identifier: MPL-2.0
//! Management of illumos tun/tap datalinks: create, delete, show, modify,
//! up (boot-time re-creation) and cleanup of stale links, on libdladm /
//! dlmgmtd and the tuntap driver's control node.
//!
//! The entry point is [`TunAdm`], generic over a [`Platform`] (the system
//! it manages).  On illumos use [`illumos::Illumos`]; in tests, with the
//! `sim` feature, [`sim::SimSystem`] runs the real driver logic on the
//! simulated host.
//!
//! ```ignore
//! use libdladm_plugin::{CreateRequest, Mode, TunAdm};
//! let adm = TunAdm::new(libdladm_plugin::illumos::Illumos::open()?);
//! let link = adm.create(&CreateRequest { mtu: Some(1400), ..CreateRequest::new("vpn0", Mode::Tun) })?;
//! println!("{} is link id {}", link.name, link.linkid);
//! ```
//!
//! Every error names the link and the reason ([`Error`]) and maps to a
//! stable [`Status`] code.  See `README.md` for where the configuration
//! lives and how stale links are recognised.

mod bridge;
mod checks;
mod cleanup;
mod error;
mod ids;
pub mod linkprop;
mod manager;
pub mod owners;
pub mod platform;
pub mod props;
mod types;

#[cfg(target_os = "illumos")]
pub mod illumos;
#[cfg(feature = "sim")]
pub mod sim;
pub mod svcs;

pub use error::{Error, ErrorKind, Status};
pub use checks::{check_create_request, check_link_name, check_modify_request};
pub use manager::{CONF_GROUP, CONF_MAC, CONF_MODE, CONF_MTU, CONF_OWNER, TunAdm};
pub use owners::{Fmri, OwnerEntry, OwnerError};
pub use platform::{DatalinkId, DlError, Errno, Pid, Platform, ZoneId};
pub use tuntap_abi::NameError;
pub use types::*;
