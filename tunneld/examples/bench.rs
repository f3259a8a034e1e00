// SPDX-License-Identifier: MPL-2.0
//! Throughput of two tunneld instances joined over loopback TLS.
//!
//! ```sh
//! cargo run --release -p tunneld --example bench            # everything
//! cargo run --release -p tunneld --example bench -- sim 1500 3
//! cargo run --release -p tunneld --example bench -- linux 9000 3   # root
//! cargo run --release -p tunneld --example bench -- simtcp 100 20   # TCP bulk, offload/batching on/off, at most 20 s a row
//! ```
//!
//! Arguments: backend (`sim`, `linux` or `all`), MTU (or `all` for 1500
//! and 9000), seconds per run.  Packets of the full MTU go from one
//! link's IP side to the other's, at most `WINDOW` in flight; the rate
//! is what arrives.  `sim`: two simulated illumos hosts, the tuntap
//! driver on each (IP is the simulator's mac client).  `linux`: two
//! /dev/net/tun interfaces in two network namespaces, UDP between them.
//! Certificates are made on the fly (rcgen).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tunneld::{Config, Daemon, Device, Mode};

const WINDOW: u64 = 256;

/// A running daemon: its stop signal and its task.
type Running = (oneshot::Sender<()>, tokio::task::JoinHandle<Result<(), tunneld::Error>>);

struct Pki {
    dir: std::path::PathBuf,
}

impl Pki {
    fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let dir = std::env::temp_dir().join(format!("tunneld-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "bench CA");
        std::fs::write(dir.join("ca.crt"), params.self_signed(&key).expect("CA").pem()).expect("write");
        let issuer = Issuer::new(params, key);
        for who in ["server", "client"] {
            let key = KeyPair::generate().expect("key");
            let cert = CertificateParams::new(vec!["localhost".to_string()]).expect("params").signed_by(&key, &issuer).expect("sign");
            std::fs::write(dir.join(format!("{who}.crt")), cert.pem()).expect("write");
            std::fs::write(dir.join(format!("{who}.key")), key.serialize_pem()).expect("write");
        }
        Pki { dir }
    }

    fn config(&self, role: &str, endpoint: &str, link: &str, mtu: usize) -> Config {
        let ep = if role == "server" { format!("listen = \"{endpoint}\"") } else { format!("connect = \"{endpoint}\"\nserver_name = \"localhost\"") };
        let text = format!(
            "role = \"{role}\"\n{ep}\ncert = \"{role}.crt\"\nkey = \"{role}.key\"\nca = \"ca.crt\"\n[link]\nname = \"{link}\"\nmode = \"tun\"\nmtu = {mtu}\n"
        );
        Config::parse(&text, "bench", Some(&self.dir)).expect("config")
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Two daemons joined over loopback; returns their stop handles.
fn start_pair(rt: &tokio::runtime::Runtime, pki: &Pki, a: Arc<dyn Device>, b: Arc<dyn Device>, mtu: usize) -> Vec<Running> {
    let server = rt.block_on(Daemon::start(pki.config("server", "127.0.0.1:0", b.name(), mtu))).expect("server");
    let addr = server.local_addr().expect("addr").to_string();
    let client = rt.block_on(Daemon::start(pki.config("client", &addr, a.name(), mtu))).expect("client");
    let (sc, cc) = (server.counters(), client.counters());
    let mut out = Vec::new();
    for (d, dev) in [(server, b), (client, a)] {
        let (tx, rx) = oneshot::channel::<()>();
        out.push((tx, rt.spawn(d.run(dev, async {
            let _ = rx.await;
        }))));
    }
    let end = Instant::now() + Duration::from_secs(10);
    while (sc.connected_peer().is_none() || cc.connected_peer().is_none()) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    out
}

fn stop_pair(rt: &tokio::runtime::Runtime, pair: Vec<Running>) {
    for (tx, task) in pair {
        let _ = tx.send(());
        let _ = rt.block_on(task);
    }
}

fn ipv4(len: usize, seq: u64, src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 253;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    let mut sum = 0u32;
    for pair in p[..20].chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    p[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    p[20..28].copy_from_slice(&seq.to_be_bytes());
    p
}

struct Result_ {
    packets: u64,
    bytes: u64,
    elapsed: Duration,
}

fn report(backend: &str, mtu: usize, r: &Result_) {
    let secs = r.elapsed.as_secs_f64();
    println!(
        "{backend:<6} mtu {mtu:>5}: {:>8.3} Gbit/s  {:>9.0} packets/s  ({} packets of {} bytes in {:.2} s)",
        r.bytes as f64 * 8.0 / secs / 1e9,
        r.packets as f64 / secs,
        r.packets,
        mtu,
        secs
    );
}

/// A simulated illumos host with the driver and one tun link `name`:
/// the host, the link's id and the MAC address IP sends to.
fn sim_link(name: &str, mtu: usize) -> (tuntap_sim::SimHost, tuntap_abi::DatalinkId, [u8; 6]) {
    use illumos_sys_hdrs as sys;
    use tuntap_abi as abi;
    use tuntap_drv::ddi::node_minor;
    use tuntap_sim::{DlFlags, SimHost};
    let host = SimHost::new();
    let driver = Arc::new(tuntap_drv::Driver::new(host.kernel()));
    host.attach(driver.clone());
    let root = host.root_cred();
    let id = host.dlmgmt_create_id(&root, name, sys::DATALINK_CLASS_MISC, sys::DL_ETHER, DlFlags::ACTIVE).expect("link id");
    let ctl = host.open(sys::MAC_PRIVATE_MINOR + node_minor::CTL, &root).expect("ctl");
    let mut req = abi::TunIocCreate::new(name, abi::create_flags::TUN, id).expect("name");
    req.mtu = mtu as u32;
    ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&req)).expect("create");
    let peer = driver.link_by_id(id).expect("link").peer_mac;
    (host, id, peer)
}

/// Delete the link (as an administrator would) so the host ends clean.
fn sim_delete(host: &tuntap_sim::SimHost, id: tuntap_abi::DatalinkId) {
    use illumos_sys_hdrs as sys;
    use tuntap_abi as abi;
    use tuntap_drv::ddi::node_minor;
    let ctl = host.open(sys::MAC_PRIVATE_MINOR + node_minor::CTL, &host.root_cred()).expect("ctl");
    let del = abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags: abi::delete_flags::FORCE, linkid: id, _pad: 0 };
    ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del)).expect("delete");
}

fn bench_sim(mtu: usize, seconds: u64) -> Result_ {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let pki = Pki::new();
    let make = |name: &str| sim_link(name, mtu);
    let delete = sim_delete;
    let (host_a, id_a, peer_a) = make("vpna0");
    let (host_b, id_b, _) = make("vpnb0");
    let dev_a = Arc::new(tunneld::device::sim::SimDevice::attach(&host_a, "vpna0", Mode::Tun).expect("attach a"));
    let dev_b = Arc::new(tunneld::device::sim::SimDevice::attach(&host_b, "vpnb0", Mode::Tun).expect("attach b"));
    let pair = start_pair(&rt, &pki, dev_a, dev_b, mtu);
    let ip_a = host_a.mac_client_open("vpna0").expect("ip a");
    let ip_b = Arc::new(host_b.mac_client_open("vpnb0").expect("ip b"));

    let received = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let rx = {
        let (ip_b, received, done) = (ip_b.clone(), received.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if ip_b.recv(Duration::from_millis(100)).is_some() {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let mut frame = Vec::with_capacity(14 + mtu);
    frame.extend_from_slice(&peer_a);
    frame.extend_from_slice(&ip_a.mac_addr());
    frame.extend_from_slice(&0x0800u16.to_be_bytes());
    frame.extend_from_slice(&ipv4(mtu, 0, [10, 9, 0, 1], [10, 9, 0, 2]));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut sent = 0u64;
    while Instant::now() < deadline {
        if sent - received.load(Ordering::Relaxed) >= WINDOW {
            std::thread::yield_now();
            continue;
        }
        ip_a.tx(&[&frame]);
        sent += 1;
    }
    let packets = received.load(Ordering::Relaxed);
    let elapsed = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = rx.join();
    ip_a.close();
    ip_b.close();
    stop_pair(&rt, pair);
    delete(&host_a, id_a);
    delete(&host_b, id_b);
    host_a.finish();
    host_b.finish();
    Result_ { packets, bytes: packets * mtu as u64, elapsed }
}

#[cfg(target_os = "linux")]
fn bench_linux(mtu: usize, seconds: u64) -> Result<Result_, String> {
    use std::os::fd::AsRawFd;
    use std::process::Command;
    use tunneld::device::linux::LinuxTun;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let pki = Pki::new();
    let names = [format!("tdbench-a-{}", std::process::id()), format!("tdbench-b-{}", std::process::id())];
    let ip = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("ip").args(args).output().map_err(|e| format!("ip: {e}"))?;
        if out.status.success() { Ok(()) } else { Err(format!("ip {args:?}: {}", String::from_utf8_lossy(&out.stderr))) }
    };
    struct Cleanup(Vec<String>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for n in &self.0 {
                let _ = std::process::Command::new("ip").args(["netns", "del", n]).status();
            }
        }
    }
    let _cleanup = Cleanup(names.to_vec());
    let mut devs: Vec<Arc<dyn Device>> = Vec::new();
    for (n, addr) in names.iter().zip(["10.66.0.1/24", "10.66.0.2/24"]) {
        ip(&["netns", "add", n]).map_err(|e| format!("{e} (needs root)"))?;
        let dev = LinuxTun::open_in_netns(&std::path::Path::new("/var/run/netns").join(n), "tnl0", Mode::Tun, mtu).map_err(|e| e.to_string())?;
        ip(&["-n", n, "addr", "add", addr, "dev", "tnl0"])?;
        ip(&["-n", n, "link", "set", "tnl0", "up"])?;
        devs.push(Arc::new(dev));
    }
    let dev_b = devs.pop().ok_or("device b")?;
    let dev_a = devs.pop().ok_or("device a")?;
    let pair = start_pair(&rt, &pki, dev_a, dev_b, mtu);

    // A UDP socket in each namespace: made by a thread that entered it.
    let socket_in = |ns: &str, bind: &str| -> std::io::Result<std::net::UdpSocket> {
        let path = std::path::Path::new("/var/run/netns").join(ns);
        let bind = bind.to_string();
        std::thread::spawn(move || {
            let f = std::fs::File::open(path)?;
            // SAFETY: setns on a namespace fd we hold, for this thread only.
            if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
            std::net::UdpSocket::bind(bind)
        })
        .join()
        .map_err(|_| std::io::Error::other("thread"))?
    };
    let tx = socket_in(&names[0], "10.66.0.1:0").map_err(|e| e.to_string())?;
    let rx_sock = socket_in(&names[1], "10.66.0.2:9000").map_err(|e| e.to_string())?;
    rx_sock.set_read_timeout(Some(Duration::from_millis(100))).map_err(|e| e.to_string())?;
    let received = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let rx = {
        let (received, done) = (received.clone(), done.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !done.load(Ordering::Relaxed) {
                if rx_sock.recv(&mut buf).is_ok() {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let payload = vec![0x5au8; mtu - 28];
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut sent = 0u64;
    while Instant::now() < deadline {
        if sent.saturating_sub(received.load(Ordering::Relaxed)) >= WINDOW {
            std::thread::yield_now();
            // A lost datagram would stall the window: let it go after a while.
            if sent - received.load(Ordering::Relaxed) >= WINDOW {
                std::thread::sleep(Duration::from_micros(50));
                sent = sent.min(received.load(Ordering::Relaxed) + WINDOW - 1);
            }
            continue;
        }
        if tx.send_to(&payload, "10.66.0.2:9000").is_ok() {
            sent += 1;
        }
    }
    let packets = received.load(Ordering::Relaxed);
    let elapsed = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = rx.join();
    stop_pair(&rt, pair);
    Ok(Result_ { packets, bytes: packets * mtu as u64, elapsed })
}

/// An IPv4 TCP segment 10.9.0.1:4000 -> 10.9.0.2:5201 of `payload`
/// bytes at `seq`, in an Ethernet frame to `dst`; its checksum full, or
/// the pseudo-header sum IP leaves for offload.
fn tcp_frame(dst: [u8; 6], src: [u8; 6], seq: u32, payload: usize, partial: bool) -> Vec<u8> {
    use tunneld::device::gso::ones_sum;
    let tcp_len = 20 + payload;
    let mut f = Vec::with_capacity(14 + 20 + tcp_len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = ipv4(20 + tcp_len, 0, [10, 9, 0, 1], [10, 9, 0, 2]);
    ip[9] = 6;
    ip[10..12].fill(0);
    let c = !ones_sum(&ip[..20], 0);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let t = &mut ip[20..];
    t[..28].fill(0);
    t[0..4].copy_from_slice(&[0x0f, 0xa0, 0x14, 0x51]);
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[12] = 0x50;
    t[13] = 0x10;
    let pseudo = u32::from(ones_sum(&[10, 9, 0, 1, 10, 9, 0, 2], 0)) + 6 + tcp_len as u32;
    let c = if partial { ones_sum(&[], pseudo) } else { !ones_sum(t, pseudo) };
    t[16..18].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f
}

/// A TCP-like bulk transfer of up to `megabytes` through two daemons on
/// the simulated driver (MTU 1500): with `offload`, the sending host's IP
/// hands the link 64 KiB LSO segments (the link offers LSO while the
/// daemon's queue takes the virtio-net header) which the daemon cuts;
/// without, 1460-byte segments.  At most 2 large segments' worth in
/// flight.  Bounded: it stops once everything arrived, the receiver has
/// been idle for `IDLE` (something was lost: nothing retransmits), or
/// `time_box` passes.  Prints payload Gbit/s over the active time (first
/// send to last arrival), the segments lost and the daemons' system
/// calls per packet on the driver.
fn bench_sim_tcp(megabytes: usize, time_box: Duration, offload: bool, batch_writes: bool) {
    use tunneld::device::Features;
    use tunneld::device::sim::SimDevice;
    use tuntap_sim::{TxOffload, TxOpts};
    const MSS: usize = 1460;
    const CHUNK: usize = 44 * MSS;
    const IDLE: Duration = Duration::from_secs(2);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let pki = Pki::new();
    let (host_a, id_a, peer_a) = sim_link("vpna0", 1500);
    let (host_b, id_b, _) = sim_link("vpnb0", 1500);
    let features = Features { batch_writes, offload };
    let dev_a = Arc::new(SimDevice::attach_features(&host_a, "vpna0", Mode::Tun, 0, features).expect("attach a"));
    let dev_b = Arc::new(SimDevice::attach_features(&host_b, "vpnb0", Mode::Tun, 0, features).expect("attach b"));
    let pair = start_pair(&rt, &pki, dev_a.clone(), dev_b.clone(), 1500);
    let ip_a = host_a.mac_client_open("vpna0").expect("ip a");
    let ip_b = Arc::new(host_b.mac_client_open("vpnb0").expect("ip b"));
    let total = megabytes * 1_000_000 / CHUNK * CHUNK;
    let received = Arc::new(AtomicU64::new(0));
    // Nanoseconds from `start` to the last arrival; the receiver's end.
    let last = Arc::new(AtomicU64::new(0));
    let rx_done = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let deadline = start + time_box;
    let rx = {
        let (ip_b, received, last, rx_done) = (ip_b.clone(), received.clone(), last.clone(), rx_done.clone());
        std::thread::spawn(move || {
            let mut idle_since = Instant::now();
            while received.load(Ordering::Relaxed) < total as u64 && idle_since.elapsed() < IDLE && Instant::now() < deadline {
                if let Some(f) = ip_b.recv(Duration::from_millis(100)) {
                    received.fetch_add(f.len() as u64 - 54, Ordering::Relaxed);
                    last.store(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    idle_since = Instant::now();
                }
            }
            rx_done.store(true, Ordering::Relaxed);
        })
    };
    let (reads0, writes0) = (dev_a.reads(), dev_b.writes());
    let mut sent = 0usize;
    while sent < total && !rx_done.load(Ordering::Relaxed) {
        if sent as u64 - received.load(Ordering::Relaxed) >= 2 * CHUNK as u64 {
            std::thread::yield_now();
            continue;
        }
        if offload {
            let f = tcp_frame(peer_a, ip_a.mac_addr(), sent as u32, CHUNK, true);
            let o = TxOffload { partial: Some((20, 36, f.len() as u32 - 14)), lso_mss: Some(MSS as u16) };
            ip_a.tx_with(&[&f], TxOpts { offload: Some(o), ..TxOpts::default() });
        } else {
            let frames: Vec<Vec<u8>> = (0..CHUNK / MSS).map(|i| tcp_frame(peer_a, ip_a.mac_addr(), (sent + i * MSS) as u32, MSS, false)).collect();
            ip_a.tx(&frames.iter().map(Vec::as_slice).collect::<Vec<_>>());
        }
        sent += CHUNK;
    }
    let _ = rx.join();
    let elapsed = Duration::from_nanos(last.load(Ordering::Relaxed)).max(Duration::from_micros(1));
    let got = received.load(Ordering::Relaxed);
    let lost = (sent as u64).saturating_sub(got) / MSS as u64;
    let segments = (got as usize / MSS).max(1) as f64;
    println!(
        "sim tcp offload {:<3} batch_writes {:<3}: {:>7.3} Gbit/s payload  ({} MB in {:.2} s active, {} of {} segments lost; sender reads/segment {:.3}, receiver writes/segment {:.3})",
        if offload { "on" } else { "off" },
        if batch_writes { "on" } else { "off" },
        got as f64 * 8.0 / elapsed.as_secs_f64() / 1e9,
        got / 1_000_000,
        elapsed.as_secs_f64(),
        lost,
        sent / MSS,
        (dev_a.reads() - reads0) as f64 / segments,
        (dev_b.writes() - writes0) as f64 / segments,
    );
    ip_a.close();
    ip_b.close();
    stop_pair(&rt, pair);
    sim_delete(&host_a, id_a);
    sim_delete(&host_b, id_b);
    host_a.finish();
    host_b.finish();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("simtcp") {
        let mb = args.get(1).map(|s| s.parse().unwrap_or_else(|_| panic!("megabytes {s:?} is not a number"))).unwrap_or(100);
        let secs = args.get(2).map(|s| s.parse().unwrap_or_else(|_| panic!("seconds {s:?} is not a number"))).unwrap_or(20);
        for (offload, batch_writes) in [(false, false), (false, true), (true, false), (true, true)] {
            bench_sim_tcp(mb, Duration::from_secs(secs), offload, batch_writes);
        }
        return;
    }
    let backend = args.first().map(String::as_str).unwrap_or("all").to_string();
    let mtus: Vec<usize> = match args.get(1).map(String::as_str) {
        None | Some("all") => vec![1500, 9000],
        Some(m) => vec![m.parse().unwrap_or_else(|_| panic!("MTU {m:?} is not a number"))],
    };
    let seconds: u64 = args.get(2).map(|s| s.parse().unwrap_or_else(|_| panic!("seconds {s:?} is not a number"))).unwrap_or(3);
    if !matches!(backend.as_str(), "sim" | "linux" | "all") {
        eprintln!("usage: bench [sim|linux|all] [MTU|all] [SECONDS] | bench simtcp [MEGABYTES] [TIME_BOX_SECONDS]");
        std::process::exit(2);
    }
    for &mtu in &mtus {
        let sim = (backend == "sim" || backend == "all").then(|| bench_sim(mtu, seconds));
        if let Some(r) = &sim {
            report("sim", mtu, r);
        }
        #[cfg(target_os = "linux")]
        if backend == "linux" || backend == "all" {
            match bench_linux(mtu, seconds) {
                Ok(r) => {
                    report("linux", mtu, &r);
                    if let Some(s) = &sim {
                        let ratio = (s.bytes as f64 / s.elapsed.as_secs_f64()) / (r.bytes as f64 / r.elapsed.as_secs_f64());
                        println!("{:<6} mtu {mtu:>5}: sim / linux = {ratio:.2}", "ratio");
                    }
                }
                Err(e) => eprintln!("linux mtu {mtu}: skipped: {e}"),
            }
        }
    }
}
