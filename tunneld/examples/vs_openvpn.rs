// SPDX-License-Identifier: MPL-2.0
//! OpenVPN 2.6 against tunneld in one run, on the same box and path:
//! namespaces A and B joined by a veth pair (MTU 1500), one daemon in
//! each (tun link MTU 1400), TCP from A to B through the tunnel, one
//! stream and then several at once.  Root; needs Debian's `openvpn`.
//!
//! ```sh
//! cargo build --release -p tunneld --bins --examples
//! target/release/examples/vs_openvpn [SECONDS] [STREAMS]
//! ```
//!
//! OpenVPN: UDP, TLS mode with AES-256-GCM data channel, DCO off (not in
//! this kernel), `--fast-io`, 4 MB socket buffers.  tunneld: UDP,
//! AES-256-GCM.  Both daemons' CPU time (user + system, from
//! /proc/PID/stat) over the transfer gives CPU seconds per Gbit.
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const TUN_MTU: u32 = 1400;

struct Netns(String);

impl Netns {
    fn new(name: &str) -> Netns {
        let _ = Command::new("ip").args(["netns", "del", name]).stderr(Stdio::null()).status();
        run("ip", &["netns", "add", name]);
        let ns = Netns(name.to_string());
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }
    fn ip(&self, args: &[&str]) {
        let mut full = vec!["-n", self.0.as_str()];
        full.extend_from_slice(args);
        run("ip", &full);
    }
    fn spawn<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> std::thread::JoinHandle<R> {
        let file =
            std::fs::File::open(Path::new("/var/run/netns").join(&self.0)).expect("namespace file");
        std::thread::spawn(move || {
            // SAFETY: setns on a namespace fd we hold, for this thread only.
            assert_eq!(
                unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
                0,
                "setns"
            );
            f()
        })
    }
    fn command(&self, program: &Path, args: &[String]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.0])
            .arg(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces joined by veth: A 10.98.0.1, B 10.98.0.2.
fn path() -> (Netns, Netns) {
    let (a, b) = (Netns::new("vsovpn-a"), Netns::new("vsovpn-b"));
    run(
        "ip",
        &[
            "link", "add", "vsa", "netns", &a.0, "type", "veth", "peer", "name", "vsb", "netns",
            &b.0,
        ],
    );
    for (ns, dev, addr) in [(&a, "vsa", "10.98.0.1/24"), (&b, "vsb", "10.98.0.2/24")] {
        ns.ip(&["addr", "add", addr, "dev", dev]);
        ns.ip(&["link", "set", dev, "up"]);
    }
    (a, b)
}

/// CPU seconds (user + system) a process used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the command: state is 0, utime 11, stime 12.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i)?.parse::<f64>().ok())
        .sum();
    // SAFETY: sysconf with a constant name.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz
}

/// The PIDs of the daemons `ip netns exec` started (it execs, so the
/// child's pid is the daemon's).
struct Daemons(Vec<Child>);

impl Daemons {
    fn cpu(&self) -> f64 {
        self.0.iter().map(|c| cpu_seconds(c.id())).sum()
    }
}

impl Drop for Daemons {
    fn drop(&mut self) {
        for c in &mut self.0 {
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
        }
        for c in &mut self.0 {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `streams` TCP connections from A to B's 10.99.0.2 for `secs`;
/// Gbit/s of payload received.
fn tcp(a: &Netns, b: &Netns, streams: usize, secs: f64) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let rx = {
        let received = received.clone();
        b.spawn(move || {
            let l = std::net::TcpListener::bind("10.99.0.2:5201").expect("listen");
            ready_tx.send(()).unwrap();
            let mut handles = Vec::new();
            for _ in 0..streams {
                let (mut s, _) = l.accept().expect("accept");
                let received = received.clone();
                handles.push(std::thread::spawn(move || {
                    let mut buf = vec![0u8; 1 << 17];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        received.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }));
            }
            for h in handles {
                let _ = h.join();
            }
        })
    };
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("receiver ready");
    let mut senders = Vec::new();
    for _ in 0..streams {
        let stop = stop.clone();
        senders.push(a.spawn(move || {
            let mut s = std::net::TcpStream::connect_timeout(
                &"10.99.0.2:5201".parse().unwrap(),
                Duration::from_secs(10),
            )
            .expect("connect");
            let buf = vec![0x5au8; 1 << 17];
            while !stop.load(Ordering::Relaxed) {
                if s.write_all(&buf).is_err() {
                    break;
                }
            }
        }));
    }
    // Skip the first half second (slow start), then measure.
    std::thread::sleep(Duration::from_millis(500));
    let (t0, b0) = (Instant::now(), received.load(Ordering::Relaxed));
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (t1, b1) = (Instant::now(), received.load(Ordering::Relaxed));
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        let _ = s.join();
    }
    let _ = rx.join();
    (b1 - b0) as f64 * 8.0 / (t1 - t0).as_secs_f64() / 1e9
}

/// Certificates for both daemons (rcgen), in `dir`.
fn pki(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "bench CA");
    std::fs::write(dir.join("ca.crt"), ca.self_signed(&ca_key).unwrap().pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    for who in ["server", "client"] {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["bench-server".to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, who);
        std::fs::write(
            dir.join(format!("{who}.crt")),
            p.signed_by(&key, &issuer).unwrap().pem(),
        )
        .unwrap();
        std::fs::write(dir.join(format!("{who}.key")), key.serialize_pem()).unwrap();
    }
}

fn wait_tunnel(a: &Netns) -> bool {
    for _ in 0..100 {
        let ok = Command::new("ip")
            .args([
                "netns",
                "exec",
                &a.0,
                "ping",
                "-c",
                "1",
                "-W",
                "1",
                "10.99.0.2",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn openvpn(a: &Netns, b: &Netns, dir: &Path) -> Daemons {
    let common = |role: &str, local: &str, peer: &str| -> Vec<String> {
        let f = |n: &str| dir.join(n).display().to_string();
        let mut v: Vec<String> = [
            "--dev",
            "tnl0",
            "--dev-type",
            "tun",
            "--proto",
            "udp",
            "--port",
            "1194",
            "--ifconfig",
            local,
            peer,
            "--tun-mtu",
            &TUN_MTU.to_string(),
            "--cipher",
            "AES-256-GCM",
            "--data-ciphers",
            "AES-256-GCM",
            "--disable-dco",
            "--fast-io",
            "--sndbuf",
            "4194304",
            "--rcvbuf",
            "4194304",
            "--txqueuelen",
            "1000",
            "--ca",
            &f("ca.crt"),
            "--cert",
            &f(&format!("{role}.crt")),
            "--key",
            &f(&format!("{role}.key")),
            "--verb",
            "1",
            "--ping",
            "10",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if role == "server" {
            v.extend(["--tls-server", "--dh", "none"].map(String::from));
        } else {
            v.extend(["--tls-client", "--remote", "10.98.0.2"].map(String::from));
        }
        v
    };
    let bin = Path::new("/usr/sbin/openvpn");
    let server = b.command(bin, &common("server", "10.99.0.2", "10.99.0.1"));
    let client = a.command(bin, &common("client", "10.99.0.1", "10.99.0.2"));
    Daemons(vec![server, client])
}

fn tunneld(a: &Netns, b: &Netns, dir: &Path, bin: &Path, offload: bool, tun_offload: bool) -> Daemons {
    let write = |role: &str, head: &str| -> PathBuf {
        let p = dir.join(format!("{role}.toml"));
        std::fs::write(
            &p,
            format!(
                "role = \"{role}\"\n{head}\ncert = \"{role}.crt\"\nkey = \"{role}.key\"\nca = \"ca.crt\"\nciphers = [\"aes-256-gcm\"]\nudp_offload = {offload}\ntun_offload = {tun_offload}\n\n[link]\nname = \"tnl0\"\nmode = \"tun\"\nmtu = {TUN_MTU}\n"
            ),
        )
        .unwrap();
        p
    };
    let s = write("server", "listen = \"10.98.0.2:7443\"");
    let c = write(
        "client",
        "connect = \"10.98.0.2:7443\"\nserver_name = \"bench-server\"",
    );
    let arg = |p: &Path| vec!["--config".to_string(), p.display().to_string()];
    let server = b.command(bin, &arg(&s));
    let client = a.command(bin, &arg(&c));
    std::thread::sleep(Duration::from_millis(300));
    for (ns, local) in [(a, "10.99.0.1/24"), (b, "10.99.0.2/24")] {
        ns.ip(&["addr", "add", local, "dev", "tnl0"]);
        ns.ip(&["link", "set", "tnl0", "up"]);
    }
    Daemons(vec![server, client])
}

fn measure(name: &str, a: &Netns, b: &Netns, daemons: &Daemons, streams: usize, secs: f64) {
    let c0 = daemons.cpu();
    let g1 = tcp(a, b, 1, secs);
    let c1 = daemons.cpu();
    let gn = tcp(a, b, streams, secs);
    let c2 = daemons.cpu();
    let per = |cpu: f64, gbit: f64| cpu / (gbit * (secs + 0.5));
    println!(
        "{name:<28} 1 stream: {g1:6.3} Gbit/s, {:5.2} CPU-s/Gbit | {streams} streams: {gn:6.3} Gbit/s, {:5.2} CPU-s/Gbit",
        per(c1 - c0, g1),
        per(c2 - c1, gn)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let streams: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4);
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let tunneld_bin = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("tunneld");
    assert!(
        tunneld_bin.exists(),
        "{} missing: cargo build --release -p tunneld --bins --examples",
        tunneld_bin.display()
    );
    println!(
        "TCP A -> B through the tunnel, veth path, tun MTU {TUN_MTU}, {secs} s per run, AES-256-GCM"
    );
    {
        let (a, b) = path();
        let d = openvpn(&a, &b, dir.path());
        assert!(wait_tunnel(&a), "OpenVPN tunnel did not come up");
        measure("openvpn", &a, &b, &d, streams, secs);
        drop(d);
    }
    // tunneld with tun and UDP offload (the default), then without the
    // tun's, then without either.
    for (name, offload, tun_offload) in [("tunneld", true, true), ("tunneld, tun_offload = false", true, false), ("tunneld, no offload", false, false)] {
        let (a, b) = path();
        let d = tunneld(&a, &b, dir.path(), &tunneld_bin, offload, tun_offload);
        assert!(wait_tunnel(&a), "tunneld tunnel did not come up");
        measure(name, &a, &b, &d, streams, secs);
        drop(d);
    }
}
