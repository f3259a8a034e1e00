// SPDX-License-Identifier: MPL-2.0
//! `tunctl`: see the library (`tunctl::run`) for everything it does.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = tunctl::run(&args, connect, &mut std::io::stdout(), &mut std::io::stderr());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

#[cfg(target_os = "illumos")]
fn connect() -> Result<libdladm_plugin::illumos::Illumos, String> {
    libdladm_plugin::illumos::Illumos::open()
}

/// Elsewhere there is no tuntap driver to manage (the simulator is for
/// tests); `--help` and usage errors still work.
#[cfg(not(target_os = "illumos"))]
fn connect() -> Result<Unsupported, String> {
    Err("this system has no tuntap driver: tunctl manages illumos datalinks".into())
}

#[cfg(not(target_os = "illumos"))]
enum Unsupported {}

#[cfg(not(target_os = "illumos"))]
mod unsupported {
    use libdladm_plugin::platform::*;

    use super::Unsupported;

    impl Platform for Unsupported {
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
