// SPDX-License-Identifier: MPL-2.0
//! Daemons on Linux tun links in network namespaces: the setup the
//! Linux tests share (a tun in a namespace, addressed and up; a daemon
//! running on it on a test's runtime; stopping it in bounded time).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tunneld::device::linux::LinuxTun;
use tunneld::{Counters, Daemon, Device, Mode};

use super::{Netns, config, wait_until};

const WAIT: Duration = Duration::from_secs(10);

/// The runtime the Linux tests run their daemons on.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// A tun (`tnl0`) in `ns` with address `cidr`, up; with `IFF_VNET_HDR`
/// offload if `offload`.
pub fn tun_in(ns: &Netns, cidr: &str, mtu: u32, offload: bool) -> Arc<LinuxTun> {
    link_in(ns, Mode::Tun, cidr, mtu, offload)
}

/// A tap (`tnl0`) in `ns` with address `cidr`, up.
pub fn tap_in(ns: &Netns, cidr: &str) -> Arc<LinuxTun> {
    link_in(ns, Mode::Tap, cidr, 1500, false)
}

fn link_in(ns: &Netns, mode: Mode, cidr: &str, mtu: u32, offload: bool) -> Arc<LinuxTun> {
    let dev = LinuxTun::open_in_netns_with(&ns.path(), "tnl0", mode, mtu as usize, offload)
        .unwrap_or_else(|e| panic!("{mode} in namespace {}: {e}", ns.0));
    assert_eq!(dev.offloading(), offload, "the kernel takes IFF_VNET_HDR and TUNSETOFFLOAD");
    ns.ip(&["addr", "add", cidr, "dev", "tnl0"]);
    ns.ip(&["link", "set", "tnl0", "up"]);
    Arc::new(dev)
}

/// A daemon running on a link.
pub struct Running {
    pub counters: Arc<Counters>,
    /// Its TLS (control) address, for a server.
    pub addr: Option<SocketAddr>,
    /// Its UDP data address, for a server.
    pub data: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), tunneld::Error>>>,
}

impl Running {
    /// Start the daemon `toml` describes on `device`.
    pub fn start(rt: &Runtime, toml: &str, device: Arc<dyn Device>) -> Running {
        let daemon = rt.block_on(Daemon::start(config(toml))).expect("daemon starts");
        let (counters, addr, data) = (daemon.counters(), daemon.local_addr(), daemon.data_addr());
        let (stop, rx) = oneshot::channel::<()>();
        let task = rt.spawn(daemon.run(device, async {
            let _ = rx.await;
        }));
        Running { counters, addr, data, stop: Some(stop), task: Some(task) }
    }

    /// The server's address for a client's `connect`.
    pub fn address(&self) -> String {
        self.addr.expect("a server").to_string()
    }

    /// Stop it; it must end cleanly within the wait.
    pub fn stop(mut self, rt: &Runtime) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            rt.block_on(async { tokio::time::timeout(WAIT, t).await.expect("the daemon stops in time").unwrap().unwrap() });
        }
    }
}

/// Wait until every one of `daemons` has a session.
pub fn connected(daemons: &[&Running]) {
    assert!(
        wait_until(WAIT, || daemons.iter().all(|d| d.counters.connected_peer().is_some())),
        "sessions up: {:?}",
        daemons.iter().map(|d| d.counters.summary()).collect::<Vec<_>>()
    );
}
