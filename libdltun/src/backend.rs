// SPDX-License-Identifier: MPL-2.0
//! Which system a handle manages.
//!
//! * Feature `sim` (any OS): each handle is its own simulated host
//!   ([`libdladm_plugin::sim::SimSystem`]: the real driver logic on
//!   tuntap-sim with its dlmgmtd model), and the handle acts as an
//!   administrator (root in the global zone).  Links made through one
//!   handle are invisible to another; closing the handle deletes every
//!   link of its host and fails with `DLTUN_STATUS_INTERNAL` if the
//!   simulator saw the driver break a DDI rule.  One host per handle keeps
//!   tests that run in parallel threads of one process apart.
//! * illumos without `sim`: [`libdladm_plugin::illumos::Illumos`]
//!   (libdladm and the driver's control node).
//! * Anything else: no backend; `dltun_open` returns
//!   `DLTUN_STATUS_UNAVAIL`.  The entry points still compile, over a
//!   platform that cannot exist ([`Unavailable`]).

#[cfg(feature = "sim")]
mod imp {
    use libdladm_plugin::TunAdm;
    use libdladm_plugin::sim::{SimPlatform, SimSystem};

    pub type BackendPlatform = SimPlatform;

    /// What a handle holds besides its `TunAdm`.
    pub struct Extra {
        pub system: SimSystem,
    }

    pub fn open() -> Result<(TunAdm<BackendPlatform>, Extra), String> {
        let system = SimSystem::new();
        Ok((TunAdm::new(system.admin()), Extra { system }))
    }

    /// Delete what the host holds and report the driver's rule
    /// violations, if any (this may panic; the caller catches it).
    pub fn close(adm: TunAdm<BackendPlatform>, extra: Extra) {
        drop(adm);
        extra.system.finish();
    }
}

#[cfg(all(target_os = "illumos", not(feature = "sim")))]
mod imp {
    use libdladm_plugin::TunAdm;
    use libdladm_plugin::illumos::Illumos;

    pub type BackendPlatform = Illumos;

    pub struct Extra;

    pub fn open() -> Result<(TunAdm<BackendPlatform>, Extra), String> {
        Ok((TunAdm::new(Illumos::open()?), Extra))
    }

    pub fn close(adm: TunAdm<BackendPlatform>, _extra: Extra) {
        drop(adm);
    }
}

#[cfg(not(any(target_os = "illumos", feature = "sim")))]
mod imp {
    use libdladm_plugin::TunAdm;
    pub use libdladm_plugin::platform::Unavailable;

    pub type BackendPlatform = Unavailable;

    pub struct Extra;

    pub fn open() -> Result<(TunAdm<BackendPlatform>, Extra), String> {
        Err("libdltun was built without a backend: it manages links on illumos \
             (or on the simulator when built with the `sim` feature)"
            .into())
    }

    pub fn close(adm: TunAdm<BackendPlatform>, _extra: Extra) {
        match *adm.platform() {}
    }
}

pub use imp::*;
