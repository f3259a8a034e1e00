// SPDX-License-Identifier: MPL-2.0
//! The members of an SMF service instance, from `svcs -H -p FMRI`: the
//! instance line, then one indented line per process, `STIME PID CMD`.
//! The start-time column is formatted in the caller's locale and may
//! contain blanks or grow there, which would shift the pid to another
//! field; the command therefore always runs with `LC_ALL=C`.  Portable
//! (no illumos calls) so that the rule is tested everywhere.

use std::process::Command;

use crate::ids::Pid;

/// `svcs -H -p FMRI` in the C locale.
pub fn command(fmri: &str) -> Command {
    let mut cmd = Command::new("/usr/bin/svcs");
    cmd.env("LC_ALL", "C").args(["-H", "-p", fmri]);
    cmd
}

/// The pids of the process lines (indented, second field numeric).
pub fn member_pids(output: &str) -> Vec<Pid> {
    output
        .lines()
        .filter(|l| l.starts_with(char::is_whitespace))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_runs_in_the_c_locale() {
        let cmd = command("svc:/network/openvpn:office");
        let lc_all: Vec<_> = cmd.get_envs().filter(|(k, _)| *k == "LC_ALL").map(|(_, v)| v).collect();
        assert_eq!(lc_all, vec![Some(std::ffi::OsStr::new("C"))], "svcs -p must not be read in the user's locale");
        let args: Vec<_> = cmd.get_args().collect();
        assert_eq!(args, ["-H", "-p", "svc:/network/openvpn:office"]);
    }

    #[test]
    fn process_lines_give_their_pids() {
        let out = "online         10:12:01 svc:/network/openvpn:office\n\
                   \x20              10:12:01     4711 openvpn\n\
                   \x20              Nov_28       4712 sh\n";
        assert_eq!(member_pids(out), vec![4711, 4712]);
        assert!(member_pids("online 10:12:01 svc:/network/openvpn:office\n").is_empty());
    }
}
