// SPDX-License-Identifier: MPL-2.0
//! A Linux network namespace for the tests (`ip netns`), removed on drop.
//! Creating one needs root; a test without it fails with a clear message.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
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

/// Byte `i` of the test stream.
pub fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

/// B listens on `to`, A sends `len` bytes of a known pattern through the
/// tunnel: (bytes received, bytes wrong, time taken).  A stall of 30 s
/// fails the test.
pub fn bulk(na: &Netns, nb: &Netns, to: &'static str, len: u64) -> (u64, u64, Duration) {
    let wait = Duration::from_secs(10);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let receiver = nb.spawn(move || {
        let l = std::net::TcpListener::bind(to).expect("listen in b");
        ready_tx.send(()).unwrap();
        let (mut s, _) = l.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let (mut got, mut bad, mut buf) = (0u64, 0u64, vec![0u8; 65_536]);
        let start = Instant::now();
        loop {
            let n = s.read(&mut buf).expect("read (30 s without data means the tunnel stalled)");
            if n == 0 {
                break;
            }
            bad += buf[..n].iter().enumerate().filter(|&(i, &b)| b != pattern(got + i as u64)).count() as u64;
            got += n as u64;
        }
        (got, bad, start.elapsed())
    });
    ready_rx.recv_timeout(wait).expect("b listens");
    let sender = na.spawn(move || {
        let mut s = std::net::TcpStream::connect_timeout(&to.parse().unwrap(), wait).expect("connect a -> b");
        s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut sent = 0u64;
        let mut buf = vec![0u8; 65_536];
        while sent < len {
            let n = (len - sent).min(buf.len() as u64) as usize;
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = pattern(sent + i as u64);
            }
            s.write_all(&buf[..n]).expect("write");
            sent += n as u64;
        }
    });
    sender.join().expect("sender");
    receiver.join().expect("receiver")
}
