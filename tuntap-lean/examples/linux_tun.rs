// SPDX-License-Identifier: MPL-2.0
//! The same measurements on Linux's `/dev/net/tun`, for BENCHMARKS.md's
//! side-by-side columns.  Runs only in network namespaces it creates
//! (`unshare(CLONE_NEWNET)` per thread), so the host's network is never
//! touched; needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and `ip`.
//!
//!     cargo run --release -p tuntap-lean --example linux_tun [packets] [MB]
//!
//! * Per packet, 64/1500/9000 bytes: `write(tun)` of a UDP/IPv4 packet
//!   the stack takes in (to a bound UDP socket that is never read, so it
//!   is dropped at the socket), and a UDP `send` the stack routes out
//!   through the tun followed by `read(tun)`.  Unlike the lean rows, these
//!   include Linux's IP/UDP work and one system call per packet each way.
//! * TCP bulk: two namespaces, one tun each, bridged by two threads that
//!   copy what one tun reads into the other; a TCP transfer from one side
//!   to the other, with `IFF_VNET_HDR` + `TUNSETOFFLOAD`
//!   (`TUN_F_CSUM|TSO4|TSO6`) and without.
//!
//! Constants from Linux `include/uapi/linux/if_tun.h` (`TUNSETIFF`,
//! `TUNSETOFFLOAD`, `IFF_TUN`, `IFF_NO_PI`, `IFF_VNET_HDR`, `TUN_F_*`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::mpsc;
use std::time::Instant;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
const TUN_F_CSUM: libc::c_uint = 0x01;
const TUN_F_TSO4: libc::c_uint = 0x02;
const TUN_F_TSO6: libc::c_uint = 0x04;

fn check(r: libc::c_int, what: &str) {
    if r < 0 {
        panic!("{what}: {}", std::io::Error::last_os_error());
    }
}

fn new_netns() {
    // SAFETY: plain syscall; affects only this thread's network namespace.
    check(unsafe { libc::unshare(libc::CLONE_NEWNET) }, "unshare(CLONE_NEWNET)");
    // No IPv6 chatter (router solicitations, MLD) on the links made here.
    let _ = Command::new("sysctl").args(["-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"]).status();
}

fn ip(args: &str) {
    let st = Command::new("ip").args(args.split_whitespace()).status().expect("run ip");
    assert!(st.success(), "ip {args}");
}

/// Open a tun device named `name` in this thread's namespace.
fn open_tun(name: &str, vnet: bool) -> OwnedFd {
    let path = c"/dev/net/tun";
    // SAFETY: a valid C string; the fd is owned below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR) };
    check(fd, "open /dev/net/tun");
    // SAFETY: fd is ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut ifr = [0u8; 40];
    ifr[..name.len()].copy_from_slice(name.as_bytes());
    let flags = IFF_TUN | IFF_NO_PI | if vnet { IFF_VNET_HDR } else { 0 };
    ifr[16..18].copy_from_slice(&flags.to_ne_bytes());
    // SAFETY: TUNSETIFF takes a struct ifreq (40 bytes).
    check(unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, ifr.as_mut_ptr()) }, "TUNSETIFF");
    if vnet {
        // SAFETY: TUNSETOFFLOAD takes the flags by value.
        check(unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) }, "TUNSETOFFLOAD");
    }
    fd
}

fn rd(fd: &OwnedFd, buf: &mut [u8]) -> isize {
    // SAFETY: buf is ours and writable for its length.
    unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) }
}

fn wr(fd: &OwnedFd, buf: &[u8]) -> isize {
    // SAFETY: buf is readable for its length.
    unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) }
}

fn csum(b: &[u8]) -> u16 {
    let mut s: u32 = b.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn udp4(src: [u8; 4], dst: [u8; 4], dport: u16, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    let c = csum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p[20..22].copy_from_slice(&4000u16.to_be_bytes());
    p[22..24].copy_from_slice(&dport.to_be_bytes());
    p[24..26].copy_from_slice(&((len - 20) as u16).to_be_bytes());
    p
}

fn per_packet(n: u64) {
    new_netns();
    let fd = open_tun("bench0", false);
    ip("link set lo up");
    ip("addr add 10.77.0.1/24 dev bench0");
    ip("link set bench0 mtu 9000 up");
    let sink = UdpSocket::bind("10.77.0.1:9").expect("bind sink");
    let tx = UdpSocket::bind("10.77.0.1:4001").expect("bind sender");
    println!("{n} packets per row (Linux /dev/net/tun, private netns, one thread)\n");
    println!("| path | bytes | ns/packet | packets/s | system calls/packet |");
    println!("|---|---:|---:|---:|---:|");
    let mut buf = vec![0u8; 65_536];
    for size in [64usize, 1500, 9000] {
        let pkt = udp4([10, 77, 0, 2], [10, 77, 0, 1], 9, size);
        for _ in 0..1000 {
            wr(&fd, &pkt);
        }
        let t = Instant::now();
        for _ in 0..n {
            assert_eq!(wr(&fd, &pkt), size as isize, "tun write");
        }
        let ns = t.elapsed().as_nanos() as f64 / n as f64;
        println!("| write(tun) -> stack (UDP, dropped at the socket) | {size} | {ns:.0} | {:.0} | 1 |", 1e9 / ns);
        let payload = vec![0x5au8; size - 28];
        let t = Instant::now();
        for _ in 0..n {
            tx.send_to(&payload, "10.77.0.2:9").expect("send");
            // Skip anything else the stack sends on the link.
            let mut tries = 0;
            while rd(&fd, &mut buf) != size as isize {
                tries += 1;
                assert!(tries < 16, "tun read");
            }
        }
        let ns = t.elapsed().as_nanos() as f64 / n as f64;
        println!("| stack (UDP send) -> read(tun) | {size} | {ns:.0} | {:.0} | 2 (send + read) |", 1e9 / ns);
    }
    drop(sink);
}

/// Work sent to a thread that lives in a namespace of its own.
type Job = Box<dyn FnOnce() + Send>;

/// One side of the TCP bulk test: a namespace with one tun.
fn side(name: &'static str, addr: &'static str, vnet: bool) -> (OwnedFd, std::thread::JoinHandle<()>, mpsc::Sender<Job>) {
    let (fd_tx, fd_rx) = mpsc::channel();
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let h = std::thread::spawn(move || {
        new_netns();
        let fd = open_tun(name, vnet);
        ip("link set lo up");
        ip(&format!("addr add {addr}/24 dev {name}"));
        ip(&format!("link set {name} mtu 1500 up"));
        fd_tx.send(fd).expect("send fd");
        // Work that must run in this namespace (sockets).
        for job in job_rx {
            job();
        }
    });
    (fd_rx.recv().expect("fd"), h, job_tx)
}

fn tcp_bulk(mb: usize, vnet: bool) -> f64 {
    let (fa, ha, ja) = side("tuna", "10.78.0.1", vnet);
    let (fb, hb, jb) = side("tunb", "10.78.0.2", vnet);
    let fa = std::sync::Arc::new(fa);
    let fb = std::sync::Arc::new(fb);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut bridges = Vec::new();
    for (from, to) in [(fa.clone(), fb.clone()), (fb.clone(), fa.clone())] {
        let stop = stop.clone();
        bridges.push(std::thread::spawn(move || {
            let mut buf = vec![0u8; 70_000];
            // Non-blocking reads so the thread can stop.
            // SAFETY: fcntl on our fd.
            unsafe { libc::fcntl(from.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n = rd(&from, &mut buf);
                if n > 0 {
                    wr(&to, &buf[..n as usize]);
                } else {
                    let mut p = libc::pollfd { fd: from.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                    // SAFETY: one pollfd of ours.
                    unsafe { libc::poll(&mut p, 1, 50) };
                }
            }
        }));
    }
    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let total = mb << 20;
    jb.send(Box::new(move || {
        let l = TcpListener::bind("10.78.0.2:5201").expect("listen");
        ready_tx.send(()).expect("ready");
        let (mut s, _) = l.accept().expect("accept");
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0usize;
        while got < total {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        done_tx.send(got).expect("done");
    }))
    .expect("job");
    ready_rx.recv().expect("ready");
    let (t_tx, t_rx) = mpsc::channel();
    ja.send(Box::new(move || {
        let mut s = TcpStream::connect("10.78.0.2:5201").expect("connect");
        let chunk = vec![0xabu8; 1 << 20];
        let t = Instant::now();
        for _ in 0..mb {
            s.write_all(&chunk).expect("send");
        }
        t_tx.send(t).expect("t");
    }))
    .expect("job");
    let t = t_rx.recv().expect("t");
    let got = done_rx.recv().expect("done");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(got, total, "every byte arrived");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for b in bridges {
        let _ = b.join();
    }
    drop((ja, jb));
    let _ = (ha.join(), hb.join());
    got as f64 * 8.0 / secs / 1e9
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let mb: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(500);
    std::thread::spawn(move || per_packet(n)).join().expect("per-packet rows");
    println!("\nTCP bulk, {mb} MB, two namespaces bridged through two tun devices\n");
    println!("| offload | Gbit/s |");
    println!("|---|---:|");
    for vnet in [false, true] {
        let g = tcp_bulk(mb, vnet);
        println!("| {} | {g:.2} |", if vnet { "IFF_VNET_HDR + TUNSETOFFLOAD(CSUM, TSO4, TSO6)" } else { "none" });
    }
}
