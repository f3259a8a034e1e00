// SPDX-License-Identifier: MPL-2.0
//! A Linux network namespace for the tests (`ip netns`), removed on drop.
//! Creating one needs root; a test without it fails with a clear message.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Netns(pub String);

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = format!("tunneld-{tag}-{}", std::process::id());
        let out = Command::new("ip").args(["netns", "add", &name]).output().expect("run ip(8) (iproute2)");
        assert!(
            out.status.success(),
            "cannot create network namespace {name} (these tests need root and iproute2): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ns = Netns(name);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }
    pub fn path(&self) -> PathBuf {
        Path::new("/var/run/netns").join(&self.0)
    }
    pub fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").arg("-n").arg(&self.0).args(args).output().unwrap();
        assert!(out.status.success(), "ip -n {} {args:?}: {}", self.0, String::from_utf8_lossy(&out.stderr));
    }
    pub fn has_link(&self, link: &str) -> bool {
        Command::new("ip").args(["-n", &self.0, "link", "show", link]).stderr(Stdio::null()).stdout(Stdio::null()).status().unwrap().success()
    }
    pub fn exec(&self, cmd: &[&str]) -> std::process::Output {
        Command::new("ip").args(["netns", "exec", &self.0]).args(cmd).output().unwrap()
    }
    /// Run `f` on a thread inside this namespace.
    pub fn spawn<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> std::thread::JoinHandle<R> {
        let file = std::fs::File::open(self.path()).unwrap();
        std::thread::spawn(move || {
            // SAFETY: setns on a namespace fd we hold, for this thread only.
            assert_eq!(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns");
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}
