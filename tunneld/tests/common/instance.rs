// SPDX-License-Identifier: MPL-2.0
//! A daemon on an in-process link ([`Instance`]), pairs of them, and a
//! raw authenticated peer for feeding bad input.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::sync::oneshot;
use tunneld::device::memory::{MemoryDevice, MemoryPort};
use tunneld::{Counters, Daemon, Mode};

use super::*;

pub const WAIT: Duration = Duration::from_secs(10);

pub struct Instance {
    pub counters: Arc<Counters>,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<Result<(), tunneld::Error>>,
    pub port: MemoryPort,
    pub device: Arc<MemoryDevice>,
    pub addr: Option<std::net::SocketAddr>,
}

impl Instance {
    pub async fn start(toml: &str, link: &str, mode: Mode, mtu: usize) -> Instance {
        let daemon = Daemon::start(config(toml)).await.expect("daemon starts");
        let (dev, port) = MemoryDevice::new(link, mode, mtu, 1024);
        let device = Arc::new(dev);
        let (tx, rx) = oneshot::channel::<()>();
        let counters = daemon.counters();
        let addr = daemon.local_addr();
        let task = tokio::spawn(daemon.run(device.clone(), async {
            let _ = rx.await;
        }));
        Instance { counters, stop: Some(tx), task, port, device, addr }
    }

    pub fn port_string(&self) -> String {
        self.addr.expect("a server").to_string()
    }

    pub fn count(&self, f: impl Fn(&Counters) -> &AtomicU64) -> u64 {
        Counters::get(f(&self.counters))
    }

    pub async fn stop(mut self) -> Result<(), tunneld::Error> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let r = tokio::time::timeout(WAIT, self.task).await.expect("daemon stops in time").expect("task");
        assert!(self.device.is_closed(), "the daemon closed its link");
        r
    }
}

pub async fn wait_for(cond: impl Fn() -> bool) -> bool {
    let end = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

pub async fn recv(port: &MemoryPort) -> Vec<u8> {
    // The port's receiver is blocking: poll it.
    let end = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(p) = port.from_daemon.try_recv() {
            return p;
        }
        assert!(tokio::time::Instant::now() < end, "no packet arrived");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub async fn pair(pki: &Pki, mtu: u32) -> (Instance, Instance) {
    let server = Instance::start(&pki.server_toml("server", "srv0", "tun", mtu), "srv0", Mode::Tun, mtu as usize).await;
    let client = Instance::start(
        &pki.client_toml("client", &server.port_string(), "cli0", "tun", mtu),
        "cli0",
        Mode::Tun,
        mtu as usize,
    )
    .await;
    assert!(wait_for(|| client.counters.connected_peer().is_some() && server.counters.connected_peer().is_some()).await);
    (server, client)
}

/// An authenticated peer speaking raw bytes over TLS.
pub async fn raw_peer(pki: &Pki, server: &Instance) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let cfg = config(&pki.client_toml("client", &server.port_string(), "raw0", "tun", 1500));
    let material = tunneld::tls::TlsMaterial::load(&cfg).unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(material.client_config().unwrap()));
    let tcp = tokio::net::TcpStream::connect(server.addr.unwrap()).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name, tcp).await.expect("handshake");
    // The hello (PROTOCOL.md): ask for TCP, so packets travel as frames.
    let agreed = tunneld::hello::client(&mut stream, tunneld::hello::Transport::Tcp, &[tunneld::data::Cipher::Aes256Gcm], WAIT)
        .await
        .expect("hello");
    assert_eq!(agreed.transport, tunneld::hello::Transport::Tcp);
    stream
}

