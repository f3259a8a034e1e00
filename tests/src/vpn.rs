// SPDX-License-Identifier: MPL-2.0
//! Two `tunneld` daemons joining two simulated links: the building
//! blocks of scenarios 2, 3 and 5 and of the demo.
//!
//! * [`Pki`]: a CA, a server and a client certificate made at test time
//!   (rcgen) in a temporary directory, and daemon configurations using
//!   them.
//! * [`Tunneld`]: one daemon (`tunneld::Daemon`) on a runtime of its
//!   own, so it can be stopped cleanly (what SIGTERM does) or killed
//!   (its tasks dropped where they stand, as SIGKILL would; the caller
//!   then closes its streams as the kernel closes a dead process's
//!   files).
//! * [`ns_link_on`]: join an existing link of any simulated host (one
//!   made by `tunctl`, or by a daemon's attach) to a new namespace.
//! * [`VpnPair`]: scenario 2/3 on a [`Rig`]: links `vpna0`/`vpnb0` (tun
//!   or tap), namespaces A and B behind them, a server daemon on B's
//!   link and a client on A's, connected over TLS on loopback.
//!
//! Drop order of a [`VpnPair`]: the daemons stop (detaching their
//! queues), then the namespaces go; the caller then calls
//! `rig.finish()`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tuntap_abi::{self as abi, DatalinkId};
use tuntap_drv::Driver;
use tuntap_sim::{SimHost, SimKernel};
use tunneld::device::sim::SimDevice;
use tunneld::{Config, Counters, Daemon, Device, Mode};

use crate::Rig;
use crate::app::{NsLink, create_link};
use crate::bridge::{Bridge, BridgeOptions};
use crate::netns::{HarnessError, Netns, Result};

fn err(msg: impl Into<String>) -> HarnessError {
    HarnessError(msg.into())
}

// ----- certificates -----

/// `ca.crt`, `server.{crt,key}` and `client.{crt,key}` (both signed by
/// the CA, named `localhost`) in a directory removed on drop.
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Result<Pki> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let fail = |what: &str, e: &dyn std::fmt::Display| err(format!("test PKI: {what}: {e}"));
        let dir = tempfile::Builder::new().prefix("tuntap-vpn-pki-").tempdir().map_err(|e| fail("temporary directory", &e))?;
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).map_err(|e| fail(name, &e));
        let ca_key = KeyPair::generate().map_err(|e| fail("CA key", &e))?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| fail("CA", &e))?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "tuntap test VPN CA");
        write("ca.crt", &ca.self_signed(&ca_key).map_err(|e| fail("CA certificate", &e))?.pem())?;
        let issuer = Issuer::new(ca, ca_key);
        for who in ["server", "client"] {
            let key = KeyPair::generate().map_err(|e| fail("key", &e))?;
            let mut params = CertificateParams::new(vec!["localhost".to_string()]).map_err(|e| fail(who, &e))?;
            params.distinguished_name.push(DnType::CommonName, format!("tunneld {who}"));
            let cert = params.signed_by(&key, &issuer).map_err(|e| fail(who, &e))?;
            write(&format!("{who}.crt"), &cert.pem())?;
            write(&format!("{who}.key"), &key.serialize_pem())?;
        }
        Ok(Pki { dir })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A server configuration listening on 127.0.0.1 (any port) for
    /// `link`.
    pub fn server_config(&self, link: &str, mode: Mode, mtu: u32) -> Result<Config> {
        self.config(&format!("role = \"server\"\nlisten = \"127.0.0.1:0\"\n{}", Self::files("server")), link, mode, mtu)
    }

    /// A client configuration connecting to `server` (fast reconnects).
    pub fn client_config(&self, server: SocketAddr, link: &str, mode: Mode, mtu: u32) -> Result<Config> {
        let head = format!(
            "role = \"client\"\nconnect = \"{server}\"\nserver_name = \"localhost\"\n{}handshake_timeout_ms = 5000\n",
            Self::files("client")
        );
        self.config(&head, link, mode, mtu)
    }

    fn files(who: &str) -> String {
        format!("cert = \"{who}.crt\"\nkey = \"{who}.key\"\nca = \"ca.crt\"\n")
    }

    fn config(&self, head: &str, link: &str, mode: Mode, mtu: u32) -> Result<Config> {
        let mut text = format!("{head}\n[link]\nname = \"{link}\"\nmode = \"{mode}\"\nmtu = {mtu}\n");
        if head.contains("role = \"client\"") {
            text.push_str("\n[reconnect]\nmin_ms = 50\nmax_ms = 500\n");
        }
        Config::parse(&text, &format!("test configuration for {link}"), Some(self.dir.path()))
            .map_err(|e| err(format!("tunneld configuration for {link}: {e}")))
    }
}

// ----- one daemon -----

/// What ended a daemon, once it ended.
pub type Outcome = std::result::Result<(), tunneld::Error>;

/// One `tunneld` on a runtime of its own.  Dropping it stops it cleanly.
pub struct Tunneld {
    label: String,
    counters: Arc<Counters>,
    local_addr: Option<SocketAddr>,
    rt: Option<tokio::runtime::Runtime>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Outcome>>,
}

impl Tunneld {
    /// Bind the daemon's sockets and start it on `device`.  `label`
    /// names it in messages.
    pub fn start(label: &str, config: Config, device: Arc<dyn Device>) -> Result<Tunneld> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("tunneld-{label}"))
            .enable_all()
            .build()
            .map_err(|e| err(format!("tunneld {label}: cannot start a runtime: {e}")))?;
        let daemon = rt.block_on(Daemon::start(config)).map_err(|e| err(format!("tunneld {label}: {e}")))?;
        let (counters, local_addr) = (daemon.counters(), daemon.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = rt.spawn(daemon.run(device, async move {
            let _ = stopped.await;
        }));
        Ok(Tunneld { label: label.to_string(), counters, local_addr, rt: Some(rt), stop: Some(stop), task: Some(task) })
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// A server's listening address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.local_addr.ok_or_else(|| err(format!("tunneld {}: not a server (no listening address)", self.label)))
    }

    /// Wait until a TLS session is up.
    pub fn wait_connected(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while self.counters.connected_peer().is_none() {
            if self.has_ended() {
                return Err(err(format!("tunneld {} ended before connecting", self.label)));
            }
            if Instant::now() >= deadline {
                return Err(err(format!(
                    "tunneld {}: no session after {timeout:?} (last error: {})",
                    self.label,
                    self.counters.last_error().unwrap_or_else(|| "none".into())
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Has the daemon's task returned (on its own: link gone)?
    pub fn has_ended(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Wait for the daemon to end on its own; its outcome, or an error
    /// after `timeout`.
    pub fn wait_end(&mut self, timeout: Duration) -> Result<Outcome> {
        let deadline = Instant::now() + timeout;
        while !self.has_ended() {
            if Instant::now() >= deadline {
                return Err(err(format!("tunneld {} still running after {timeout:?}", self.label)));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.join()
    }

    fn join(&mut self) -> Result<Outcome> {
        let (rt, task) = (self.rt.as_ref(), self.task.take());
        match (rt, task) {
            (Some(rt), Some(task)) => {
                rt.block_on(task).map_err(|e| err(format!("tunneld {}: the daemon task failed: {e}", self.label)))
            }
            _ => Err(err(format!("tunneld {} was already stopped", self.label))),
        }
    }

    /// Stop the daemon cleanly (SIGTERM): close_notify to the peer, link
    /// detached.  Its outcome.
    pub fn stop(mut self) -> Result<Outcome> {
        self.stop_now()
    }

    /// As [`Tunneld::stop`], keeping the (stopped) handle in place.
    pub fn stop_now(&mut self) -> Result<Outcome> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let outcome = self.join();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
        outcome
    }

    /// Kill the daemon (SIGKILL): its tasks are dropped where they
    /// stand, nothing is sent to the peer and nothing is detached.  The
    /// caller closes its streams afterwards, as the kernel closes a dead
    /// process's files.
    pub fn kill(mut self) {
        self.stop.take();
        self.task.take();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Tunneld {
    fn drop(&mut self) {
        if self.rt.is_some() {
            let _ = self.stop_now();
        }
    }
}

// ----- namespaces on existing links -----

/// Join the existing link `link_name` of `host` (any simulated host: a
/// [`Rig`]'s, or a `SimSystem`'s) to a new namespace `ns_label`, as
/// [`NsLink::new`] does for a link it creates.  With `ipv6` false the
/// namespace has IPv6 off before its TAP exists, so it sends nothing the
/// test did not ask for (no MLD reports or router solicitations racing
/// the link coming up) and every packet can be accounted for.
pub fn ns_link_on(host: &SimHost, driver: &Driver<SimKernel>, link_name: &str, ns_label: &str, ipv6: bool) -> Result<NsLink> {
    let link = driver.links().into_iter().find(|l| l.name.as_str() == link_name);
    let Some(link) = link else { return Err(err(format!("no link {link_name} on the simulated host"))) };
    let (linkid, mac, peer_mac, mtu) = (link.linkid, link.mac(), link.peer_mac, link.mtu());
    drop(link);
    let ns = Netns::new(ns_label)?;
    if !ipv6 {
        ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1")?;
        ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1")?;
    }
    let tap = ns.tap(link_name, mac, mtu)?;
    let client = host.mac_client_open(link_name).map_err(|e| err(format!("mac client on {link_name}: errno {e}")))?;
    let bridge = Bridge::with_options(client, tap, BridgeOptions::default());
    Ok(NsLink { bridge, ns, link_name: link_name.to_string(), linkid, mac, peer_mac, mtu })
}

// ----- scenario 2/3: two namespaces, two links, two daemons -----

/// Addresses of the two namespaces (one /24).
pub const ADDR_A: &str = "10.77.0.1";
pub const ADDR_B: &str = "10.77.0.2";

/// Namespaces A and B behind links `vpna0` and `vpnb0` of one rig,
/// joined by a client daemon (A) and a server daemon (B).
pub struct VpnPair {
    /// Declared first: stop before the links' namespaces go.
    pub client: Tunneld,
    pub server: Tunneld,
    pub a: NsLink,
    pub b: NsLink,
    pub mode: Mode,
    pub pki: Pki,
}

impl VpnPair {
    /// Create both links (`mode`, `mtu`), the namespaces (labels
    /// `<label>-a`, `<label>-b`) with [`ADDR_A`]/[`ADDR_B`], and both
    /// daemons; wait until their session is up.
    pub fn new(rig: &Rig, mode: Mode, mtu: u32, label: &str) -> Result<VpnPair> {
        Self::with_mtus(rig, mode, mtu, mtu, label)
    }

    /// As [`VpnPair::new`] with a different MTU on each side (each
    /// daemon is configured with its own link's).  IPv6 is off on both
    /// TAPs, so the only traffic is what the test makes and every packet
    /// can be accounted for.
    pub fn with_mtus(rig: &Rig, mode: Mode, mtu_a: u32, mtu_b: u32, label: &str) -> Result<VpnPair> {
        let flags = match mode {
            Mode::Tun => abi::create_flags::TUN,
            Mode::Tap => abi::create_flags::TAP,
        };
        create_link(rig, "vpna0", flags, mtu_a)?;
        create_link(rig, "vpnb0", flags, mtu_b)?;
        let a = ns_link_on(&rig.host, &rig.driver, "vpna0", &format!("{label}-a"), false)?;
        let b = ns_link_on(&rig.host, &rig.driver, "vpnb0", &format!("{label}-b"), false)?;
        let pki = Pki::new()?;
        let dev_b = SimDevice::attach(&rig.host, "vpnb0", mode).map_err(|e| err(format!("tunneld B: {e}")))?;
        let server = Tunneld::start("B", pki.server_config("vpnb0", mode, b.mtu)?, Arc::new(dev_b))?;
        let dev_a = SimDevice::attach(&rig.host, "vpna0", mode).map_err(|e| err(format!("tunneld A: {e}")))?;
        let client = Tunneld::start("A", pki.client_config(server.local_addr()?, "vpna0", mode, a.mtu)?, Arc::new(dev_a))?;
        client.wait_connected(Duration::from_secs(10))?;
        server.wait_connected(Duration::from_secs(10))?;
        a.addr_add(&format!("{ADDR_A}/24"))?;
        b.addr_add(&format!("{ADDR_B}/24"))?;
        Ok(VpnPair { client, server, a, b, mode, pki })
    }

    /// The id of link A or B.
    pub fn linkids(&self) -> (DatalinkId, DatalinkId) {
        (self.a.linkid, self.b.linkid)
    }
}
