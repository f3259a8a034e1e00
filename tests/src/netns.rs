// SPDX-License-Identifier: MPL-2.0
//! Linux network namespaces and TAP devices for the traffic tests.
//!
//! The simulated illumos host has no IP stack of its own that could talk
//! to a real program, so a Linux network namespace plays "IP on top of
//! the datalink": its TAP device is bridged (see [`crate::bridge`]) to a
//! simulated mac client on a tun/tap link, and ordinary tools (`ping`,
//! `ip`) or sockets opened inside the namespace make real traffic.
//!
//! * [`Netns::new`] creates a uniquely named namespace (`ip netns add`)
//!   and deletes it on drop, also when a test fails.  Stale namespaces of
//!   test processes that died are swept on the way.
//! * [`Netns::tap`] creates a TAP device inside the namespace from a
//!   thread that joined it with `setns(2)`, so the TAP's file descriptor
//!   lives in this process and the device in the namespace.
//! * [`Netns::ip`], [`Netns::exec`] run `ip -n NS ...` and
//!   `ip netns exec NS ...`; [`Netns::enter`] / [`Netns::spawn`] run Rust
//!   code (sockets, sysctls) inside the namespace: a socket keeps the
//!   namespace it was created in, whichever thread uses it later.
//!
//! Everything needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN); without it the
//! constructors fail with an error that says so, never a silent skip.

use std::ffi::CString;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What went wrong while setting up or driving a namespace.
pub struct HarnessError(pub String);

impl fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

pub type Result<T> = std::result::Result<T, HarnessError>;

fn err(msg: impl Into<String>) -> HarnessError {
    HarnessError(msg.into())
}

/// Where `ip netns` keeps its namespaces.
const NETNS_DIR: &str = "/var/run/netns";
/// Prefix of every namespace this harness makes: `tt-<pid>-<n>-<label>`.
const NAME_PREFIX: &str = "tt-";

static NEXT_NS: AtomicU32 = AtomicU32::new(1);

/// The output of a command run by the harness.
#[derive(Clone, Debug)]
pub struct CmdOutput {
    /// The command line, for messages.
    pub command: String,
    /// Exit code; `None` when killed (by a signal or the harness timeout).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// `Ok(stdout)` on exit 0, else an error quoting the command, its exit
    /// status and its output.
    pub fn ok(self) -> Result<String> {
        if self.success() {
            Ok(self.stdout)
        } else {
            Err(err(format!(
                "`{}` failed ({}):\n--- stdout\n{}--- stderr\n{}",
                self.command,
                if self.timed_out {
                    "killed after the harness timeout".to_string()
                } else {
                    match self.code {
                        Some(c) => format!("exit {c}"),
                        None => "killed by a signal".into(),
                    }
                },
                self.stdout,
                self.stderr
            )))
        }
    }
}

/// Run `program args...`, killing it after `timeout`.
pub fn run_command(program: &str, args: &[&str], timeout: Duration) -> Result<CmdOutput> {
    let command = std::iter::once(program).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run `{command}`: {e} (is {program} installed and on PATH?)")))?;
    // Read both pipes on threads so a chatty child never blocks on a full
    // pipe while we wait for it.
    let mut out = child.stdout.take();
    let mut errp = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = out.as_mut() {
            let _ = io::Read::read_to_string(o, &mut s);
        }
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = errp.as_mut() {
            let _ = io::Read::read_to_string(e, &mut s);
        }
        s
    });
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(err(format!("waiting for `{command}`: {e}"))),
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    Ok(CmdOutput { command, code: status.and_then(|s| s.code()), stdout, stderr, timed_out })
}

/// Timeout for `ip` configuration commands.
const IP_TIMEOUT: Duration = Duration::from_secs(10);

/// A Linux network namespace, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Delete namespaces this harness left behind in processes that no
/// longer run (a test killed before its drop ran).
fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else { return };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(NAME_PREFIX) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !pid_alive(pid) {
            let _ = run_command("ip", &["netns", "del", &name], IP_TIMEOUT);
        }
    }
}

/// Join the network namespace `name` on the calling thread.
fn join_netns(name: &str) -> io::Result<()> {
    let f = File::open(format!("{NETNS_DIR}/{name}"))?;
    // SAFETY: setns with a valid namespace fd; it changes only the calling
    // thread's network namespace (CLONE_NEWNET is allowed per thread).
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Netns {
    /// Create a namespace named after `label` (letters, digits, `-`),
    /// unique to this process, with its loopback up.
    pub fn new(label: &str) -> Result<Netns> {
        if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(err(format!("namespace label {label:?}: use letters, digits and '-'")));
        }
        sweep_stale();
        let name = format!(
            "{NAME_PREFIX}{}-{}-{label}",
            std::process::id(),
            NEXT_NS.fetch_add(1, Ordering::Relaxed)
        );
        let out = run_command("ip", &["netns", "add", &name], IP_TIMEOUT)?;
        if !out.success() {
            // SAFETY: geteuid has no preconditions.
            let uid = unsafe { libc::geteuid() };
            return Err(err(format!(
                "cannot create network namespace {name}: {} (these tests need root and \
                 CAP_SYS_ADMIN; running as uid {uid})",
                out.stderr.trim()
            )));
        }
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NS args...`; an error quoting `ip`'s complaint on failure.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run_command("ip", &all, IP_TIMEOUT)?.ok()
    }

    /// `ip netns exec NS args...` with a timeout; the caller judges the
    /// outcome.
    pub fn exec(&self, args: &[&str], timeout: Duration) -> Result<CmdOutput> {
        let mut all = vec!["netns", "exec", self.name.as_str()];
        all.extend_from_slice(args);
        run_command("ip", &all, timeout)
    }

    /// Run `f` on a thread inside the namespace and return its result.
    /// Sockets created there stay in the namespace.
    pub fn enter<R: Send, F: FnOnce() -> R + Send>(&self, f: F) -> Result<R> {
        let name = self.name.clone();
        std::thread::scope(|s| {
            let h = s.spawn(move || -> Result<R> {
                join_netns(&name).map_err(|e| err(format!("setns into namespace {name}: {e}")))?;
                Ok(f())
            });
            h.join().map_err(|_| err(format!("a thread inside namespace {} panicked", self.name)))?
        })
    }

    /// Start a named thread inside the namespace running `f`.
    pub fn spawn<R: Send + 'static, F: FnOnce() -> R + Send + 'static>(
        &self,
        thread_name: &str,
        f: F,
    ) -> Result<JoinHandle<Result<R>>> {
        let name = self.name.clone();
        std::thread::Builder::new()
            .name(thread_name.to_string())
            .spawn(move || {
                join_netns(&name).map_err(|e| err(format!("setns into namespace {name}: {e}")))?;
                Ok(f())
            })
            .map_err(|e| err(format!("cannot start thread {thread_name}: {e}")))
    }

    /// Write a sysctl of this namespace (`net.ipv6.conf.all.forwarding`).
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let value = value.to_string();
        self.enter(move || std::fs::write(&path, value.as_bytes()))?
            .map_err(|e| err(format!("sysctl {key} in namespace {}: {e}", self.name)))
    }

    /// Create a TAP device `ifname` in this namespace with the link's MAC
    /// address and `mtu`, and bring it up.  No addresses are set.
    pub fn tap(&self, ifname: &str, mac: [u8; 6], mtu: u32) -> Result<TapDevice> {
        if ifname.is_empty() || ifname.len() >= IFNAMSIZ {
            return Err(err(format!("TAP name {ifname:?}: 1 to {} bytes", IFNAMSIZ - 1)));
        }
        let name = ifname.to_string();
        let fd = self
            .enter(move || open_tap(&name))?
            .map_err(|e| err(format!("cannot create TAP {ifname} in namespace {}: {e}", self.name)))?;
        let tap = TapDevice { fd, ifname: ifname.to_string(), netns: self.name.clone() };
        self.ip(&["link", "set", "dev", ifname, "address", &format_mac(mac), "mtu", &mtu.to_string()])?;
        self.ip(&["link", "set", "dev", ifname, "up"])?;
        Ok(tap)
    }

    /// Add an address (`10.9.0.1/24`, `fd00::1/64`) to `ifname`; IPv6
    /// addresses get `nodad` so they are usable at once.
    pub fn addr_add(&self, ifname: &str, cidr: &str) -> Result<()> {
        if cidr.contains(':') {
            self.ip(&["-6", "addr", "add", cidr, "dev", ifname, "nodad"]).map(|_| ())
        } else {
            self.ip(&["addr", "add", cidr, "dev", ifname]).map(|_| ())
        }
    }

    /// Create VLAN `id` on `parent`, named `name`, and bring it up.
    /// Fails on kernels built without 802.1Q (`CONFIG_VLAN_8021Q`); see
    /// [`Netns::packet_socket`] for tagged frames without it.
    pub fn vlan_add(&self, parent: &str, name: &str, id: u16) -> Result<()> {
        self.ip(&["link", "add", "link", parent, "name", name, "type", "vlan", "id", &id.to_string()])?;
        self.ip(&["link", "set", "dev", name, "up"]).map(|_| ())
    }

    /// A raw `AF_PACKET` socket on `ifname` in this namespace: sends
    /// whole Ethernet frames as given (802.1Q tags included) and receives
    /// every frame with the VLAN tag the kernel took off, if any.
    pub fn packet_socket(&self, ifname: &str) -> Result<PacketSocket> {
        let name = ifname.to_string();
        self.enter(move || PacketSocket::open(&name))?
            .map_err(|e| err(format!("packet socket on {ifname} in namespace {}: {e}", self.name)))
    }

    /// Keep IPv6 off `ifname` (no router solicitations or MLD reports
    /// that would add packets a counter test did not ask for).
    pub fn ipv6_off(&self, ifname: &str) -> Result<()> {
        self.sysctl(&format!("net.ipv6.conf.{ifname}.disable_ipv6"), "1")
    }

    /// The kernel's counters of `ifname` in this namespace.
    pub fn link_stats(&self, ifname: &str) -> Result<LinuxLinkStats> {
        // sysfs shows the namespace of whoever mounted it: `ip netns exec`
        // mounts the namespace's own.
        let dir = format!("/sys/class/net/{ifname}/statistics");
        let files = ["rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_dropped", "tx_dropped", "rx_errors", "tx_errors"];
        let paths: Vec<String> = files.iter().map(|f| format!("{dir}/{f}")).collect();
        let mut args = vec!["cat"];
        args.extend(paths.iter().map(String::as_str));
        let out = self.exec(&args, IP_TIMEOUT)?.ok()?;
        let v: Vec<u64> = out.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if v.len() != files.len() {
            return Err(err(format!("statistics of {ifname} in {}: unexpected output {out:?}", self.name)));
        }
        Ok(LinuxLinkStats {
            rx_packets: v[0],
            tx_packets: v[1],
            rx_bytes: v[2],
            tx_bytes: v[3],
            rx_dropped: v[4],
            tx_dropped: v[5],
            rx_errors: v[6],
            tx_errors: v[7],
        })
    }

    /// `ping` from this namespace: `count` echoes to `dest` (v4 or v6),
    /// each of `size` payload bytes (None: ping's default), with
    /// fragmentation forbidden, giving up after `count + 5` seconds.
    /// Returns ping's output when at least `count` replies came back and
    /// no request went unanswered.
    pub fn ping(&self, dest: &str, count: u32, size: Option<u32>) -> Result<PingReport> {
        self.ping_within(dest, count, size, count + 5)
    }

    /// [`Netns::ping`] with ping's own deadline (`-w`) in seconds: how long
    /// a ping that gets no reply takes to fail.
    pub fn ping_within(&self, dest: &str, count: u32, size: Option<u32>, deadline_s: u32) -> Result<PingReport> {
        let count_s = count.to_string();
        let size_s = size.map(|s| s.to_string());
        let deadline = deadline_s.to_string();
        let mut args = vec!["ping", "-n", "-c", &count_s, "-i", "0.2", "-w", &deadline, "-M", "do"];
        if dest.contains(':') {
            args.insert(1, "-6");
        }
        if let Some(s) = &size_s {
            args.extend_from_slice(&["-s", s]);
        }
        args.push(dest);
        let out = self.exec(&args, Duration::from_secs(u64::from(deadline_s) + 5))?;
        let text = format!("{}{}", out.stdout, out.stderr);
        // With a deadline ping keeps sending until `count` replies came
        // back (requests wait in the neighbour queue while resolution is
        // slow); success is every request answered, at least `count`.
        let tally = text.lines().find_map(|l| {
            let (sent, rest) = l.split_once(" packets transmitted, ")?;
            let received = rest.split_once(" received")?.0;
            Some((sent.trim().parse::<u32>().ok()?, received.trim().parse::<u32>().ok()?))
        });
        match tally {
            Some((sent, received)) if out.success() && received >= count && received == sent => {
                Ok(PingReport { sent, received, output: text })
            }
            _ => Err(err(format!("ping {dest} from namespace {} did not get {count} replies:\n{text}", self.name))),
        }
    }
}

/// What a successful [`Netns::ping`] saw.
#[derive(Clone, Debug)]
pub struct PingReport {
    /// Echo requests sent and replies received (equal on success).
    pub sent: u32,
    pub received: u32,
    pub output: String,
}

impl Drop for Netns {
    fn drop(&mut self) {
        let out = run_command("ip", &["netns", "del", &self.name], IP_TIMEOUT);
        match out {
            Ok(o) if o.success() => {}
            Ok(o) => eprintln!("warning: ip netns del {}: {}", self.name, o.stderr.trim()),
            Err(e) => eprintln!("warning: ip netns del {}: {e}", self.name),
        }
    }
}

/// Counters the Linux kernel keeps for a network device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinuxLinkStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

// ----- TAP devices (Linux <linux/if_tun.h>, <net/if.h>) -----

const IFNAMSIZ: usize = 16;
/// `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// `_IOW('T', 226, int)`.
const TUNSETCARRIER: libc::c_ulong = 0x4004_54e2;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;

/// `struct ifreq` with the flags member of its union.
#[repr(C)]
struct IfReqFlags {
    name: [u8; IFNAMSIZ],
    flags: libc::c_short,
    _rest: [u8; 22],
}

fn open_tap(ifname: &str) -> io::Result<OwnedFd> {
    let path = CString::new("/dev/net/tun").map_err(io::Error::other)?;
    // SAFETY: a NUL-terminated path; flags are plain integers.
    let raw = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut req = IfReqFlags { name: [0; IFNAMSIZ], flags: IFF_TAP | IFF_NO_PI, _rest: [0; 22] };
    req.name[..ifname.len()].copy_from_slice(ifname.as_bytes());
    // SAFETY: TUNSETIFF reads and writes a struct ifreq, which req is
    // (40 bytes, flags at offset 16).
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReqFlags) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// A Linux TAP device in a namespace; the device goes away with the fd.
#[derive(Debug)]
pub struct TapDevice {
    fd: OwnedFd,
    ifname: String,
    netns: String,
}

impl TapDevice {
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    pub fn netns(&self) -> &str {
        &self.netns
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Wait up to `timeout` for a frame the namespace's stack sent, and
    /// read it into `buf`.  `Ok(None)` on timeout.
    pub fn read_frame(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        if !self.wait_readable(timeout)? {
            return Ok(None);
        }
        self.try_read_frame(buf)
    }

    /// Read a frame if one is waiting (`Ok(None)` if not).
    pub fn try_read_frame(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: reading into a buffer we own of the given length.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(e) };
        }
        Ok(Some(n as usize))
    }

    /// Wait until a frame is waiting; false on timeout.
    pub fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(e) };
        }
        Ok(r > 0 && pfd.revents & libc::POLLIN != 0)
    }

    /// Hand one frame to the namespace's stack.
    pub fn write_frame(&self, frame: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: writing from a buffer we own of the given length.
            let n = unsafe { libc::write(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
            if n >= 0 {
                return if n as usize == frame.len() {
                    Ok(())
                } else {
                    Err(io::Error::other(format!("short write to TAP: {n} of {} bytes", frame.len())))
                };
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted && e.kind() != io::ErrorKind::WouldBlock {
                return Err(e);
            }
            std::thread::yield_now();
        }
    }

    /// Carrier on or off, as the namespace sees it (`TUNSETCARRIER`).
    pub fn set_carrier(&self, on: bool) -> io::Result<()> {
        let v: libc::c_int = i32::from(on);
        // SAFETY: TUNSETCARRIER reads an int.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), TUNSETCARRIER, &v as *const libc::c_int) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

// ----- raw packet sockets (Linux <linux/if_packet.h>) -----

const ETH_P_ALL: u16 = 0x0003;
const PACKET_AUXDATA: libc::c_int = 8;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;

/// `struct tpacket_auxdata`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct TpacketAuxdata {
    tp_status: u32,
    tp_len: u32,
    tp_snaplen: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_vlan_tci: u16,
    tp_vlan_tpid: u16,
}

/// A raw packet socket bound to one device (see [`Netns::packet_socket`]).
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

/// A frame a [`PacketSocket`] received.
#[derive(Clone, Debug)]
pub struct ReceivedFrame {
    /// The frame as the kernel holds it (a VLAN tag taken off on receive
    /// is not in here; see `vlan_tci`).
    pub bytes: Vec<u8>,
    /// The 802.1Q tag control information the kernel took off, if any.
    pub vlan_tci: Option<u16>,
}

impl PacketSocket {
    fn open(ifname: &str) -> io::Result<PacketSocket> {
        let cname = CString::new(ifname).map_err(io::Error::other)?;
        // SAFETY: a NUL-terminated name; resolved in this thread's namespace.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: plain socket(2) call.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, i32::from(ETH_P_ALL.to_be())) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain data; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: binding with a sockaddr_ll of the size given.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let on: libc::c_int = 1;
        // SAFETY: PACKET_AUXDATA takes an int.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_AUXDATA,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(PacketSocket { fd, ifindex: ifindex as i32 })
    }

    /// Send one whole Ethernet frame out of the device.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = self.ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(frame.get(..6).ok_or_else(|| io::Error::other("frame shorter than a MAC"))?);
        // SAFETY: sending from a buffer we own to a sockaddr_ll of the size given.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != frame.len() {
            return Err(io::Error::other(format!("short send: {n} of {} bytes", frame.len())));
        }
        Ok(())
    }

    /// The next frame received on the device, waiting up to `timeout`.
    pub fn recv(&self, timeout: Duration) -> io::Result<Option<ReceivedFrame>> {
        let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        if r == 0 {
            return Ok(None);
        }
        let mut buf = vec![0u8; 65_536];
        let mut cbuf = [0u64; 16];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: msghdr is plain data; all-zero is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf);
        // SAFETY: msg points at buffers we own for the call's duration.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(e) };
        }
        buf.truncate(n as usize);
        let mut vlan_tci = None;
        // SAFETY: walking the control messages the kernel wrote into cbuf,
        // with the libc macros that bound each step by msg_controllen.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == PACKET_AUXDATA {
                    let aux = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<TpacketAuxdata>());
                    if aux.tp_status & TP_STATUS_VLAN_VALID != 0 {
                        vlan_tci = Some(aux.tp_vlan_tci);
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        Ok(Some(ReceivedFrame { bytes: buf, vlan_tci }))
    }
}
