// SPDX-License-Identifier: MPL-2.0
//! Link properties: the MTU is the standard `mtu` link property, not a
//! field of ours, so `dladm set-linkprop -p mtu=` and `tunctl modify
//! --mtu` read and write one value and cannot disagree.  A running
//! link's MTU changes through `dladm_set_linkprop` (mac hands it to the
//! driver's `mc_setprop`); libdladm persists a property as the
//! configuration field named after it (`mtu`), which is
//! [`crate::CONF_MTU`].  `up` re-applies every persistent property
//! (`dladm_init_linkprop`: `mtu`, and `maxbw`, `priority` and the like an
//! administrator set with `dladm set-linkprop`) to each link it creates.

use crate::error::Error;
use crate::manager::{TunAdm, dl_kind};
use crate::platform::{DatalinkId, Platform};

/// The link property that holds the MTU (the configuration field
/// [`crate::CONF_MTU`] is this property).
pub const PROP_MTU: &str = crate::manager::CONF_MTU;

impl<P: Platform> TunAdm<P> {
    /// Set the running link's MTU as `dladm set-linkprop -p mtu=` does,
    /// persistently unless `temporary`.
    pub(crate) fn set_mtu_property(&self, name: &str, linkid: DatalinkId, mtu: u32, temporary: bool) -> Result<(), Error> {
        self.platform()
            .set_linkprop(linkid, PROP_MTU, &mtu.to_string(), temporary)
            .map_err(|e| Error::new(name, dl_kind("set the mtu link property", e)))
    }

    /// Apply the persistent link properties to a link `up` just made.
    pub(crate) fn reapply_properties(&self, name: &str, linkid: DatalinkId) -> Result<(), Error> {
        self.platform()
            .init_linkprop(linkid)
            .map_err(|e| Error::new(name, dl_kind("re-apply its persistent link properties", e)))
    }
}
