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
fn connect() -> Result<libdladm_plugin::platform::Unavailable, String> {
    Err("this system has no tuntap driver: tunctl manages illumos datalinks".into())
}
