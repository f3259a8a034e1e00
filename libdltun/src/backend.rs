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
    use libdladm_plugin::platform::{DlEntry, DlFlags, ProcessInfo};
    use libdladm_plugin::{DatalinkId, DlError, Errno, Pid, Platform, TunAdm, ZoneId};

    /// A platform that cannot be constructed: without illumos or the
    /// simulator there is nothing to manage.
    pub enum Unavailable {}

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
        fn control_ioctl(&self, _: i32, _: &[u8]) -> Result<Vec<u8>, Errno> {
            match *self {}
        }
        fn process(&self, _: Pid) -> Option<ProcessInfo> {
            match *self {}
        }
        fn service_pids(&self, _: &str) -> Result<Vec<Pid>, String> {
            match *self {}
        }
        fn ip_interfaces(&self, _: &str) -> Result<Vec<String>, String> {
            match *self {}
        }
        fn ip_unplumb(&self, _: &str) -> Result<(), String> {
            match *self {}
        }
    }
}

pub use imp::*;
