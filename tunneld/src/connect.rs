// SPDX-License-Identifier: MPL-2.0
//! Getting a session: the server's accept loop and the client's
//! connector (with exponential backoff), each running the TLS handshake,
//! the peer-identity check and the hello exchange ([`crate::hello`])
//! under one timeout.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsStream;

use crate::config::Config;
use crate::counters::Counters;
use crate::hello::{self, Transport};
use crate::identity::Peers;
use crate::session::Conn;

/// Socket buffers of the data socket: room for bursts at line rate.
pub(crate) const UDP_BUFFER: libc::c_int = 4 << 20;

/// Ask for larger socket buffers (the kernel may cap them) and, with
/// `offload`, for UDP GRO (Linux).
pub(crate) fn size_buffers(sock: &UdpSocket, offload: bool) {
    use std::os::fd::AsRawFd;
    if offload {
        crate::batch::enable_gro(sock.as_raw_fd());
    }
    for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        let v: libc::c_int = UDP_BUFFER;
        // SAFETY: setsockopt reads one c_int from &v for the call.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

pub(crate) struct Accept {
    pub listener: TcpListener,
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub sessions: mpsc::Sender<Conn>,
    pub counters: Arc<Counters>,
    pub config: Config,
    pub peers: Arc<Peers>,
    /// The data socket's port, when the server offers UDP.
    pub udp_port: Option<u16>,
}

pub(crate) async fn accept_loop(a: Accept) {
    loop {
        let (tcp, addr) = match a.listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = a.acceptor.clone();
        let sessions = a.sessions.clone();
        let counters = a.counters.clone();
        let peers = a.peers.clone();
        let (timeout, ciphers, udp_port) = (a.config.handshake_timeout, a.config.ciphers.clone(), a.udp_port);
        tokio::spawn(async move {
            let attempt = async {
                let mut stream = acceptor.accept(tcp).await.map_err(|e| format!("TLS handshake failed: {e}"))?;
                let who = peers.identify(stream.get_ref().1.peer_certificates()).map_err(|e| format!("peer refused: {e}"))?;
                let agreed = hello::server(&mut stream, udp_port, &ciphers, timeout).await?;
                let negotiated = agreed.keys(|out, ctx| hello::exporter(stream.get_ref().1, out, ctx))?;
                Ok::<_, String>((TlsStream::Server(stream), who, negotiated))
            };
            match tokio::time::timeout(timeout, attempt).await {
                Ok(Ok((stream, who, negotiated))) => {
                    let conn = Conn { stream, peer: format!("{} ({addr})", who.name), identity: who, negotiated, udp: None };
                    let _ = sessions.send(conn).await;
                }
                Ok(Err(e)) => refused(&counters, format!("refused connection from {addr}: {e}")),
                Err(_) => refused(&counters, format!("refused connection from {addr}: no handshake within {timeout:?}")),
            }
        });
    }
}

fn refused(counters: &Counters, why: String) {
    counters.add(&counters.connect_failures, 1);
    tracing::warn!("{why}");
    counters.set_last_error(why);
}

/// The client's way to a session: connect, handshake, check, hello,
/// open the data socket; back off between failures.
pub(crate) struct Connector {
    pub connector: tokio_rustls::TlsConnector,
    pub server_name: rustls_pki_types::ServerName<'static>,
    pub address: String,
    /// Wait before the next attempt (None: connect at once).
    pub delay: Option<Duration>,
    pub config: Config,
    pub peers: Arc<Peers>,
}

impl Connector {
    async fn attempt(&self) -> Result<Conn, String> {
        let tcp = TcpStream::connect(&self.address).await.map_err(|e| format!("TCP connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let server: SocketAddr = tcp.peer_addr().map_err(|e| format!("TCP connect: {e}"))?;
        let mut stream =
            self.connector.connect(self.server_name.clone(), tcp).await.map_err(|e| format!("TLS handshake: {e}"))?;
        let who = self.peers.identify(stream.get_ref().1.peer_certificates()).map_err(|e| format!("server refused: {e}"))?;
        let agreed = hello::client(&mut stream, self.config.transport, &self.config.ciphers, self.config.handshake_timeout).await?;
        let negotiated = agreed.keys(|out, ctx| hello::exporter(stream.get_ref().1, out, ctx))?;
        let udp = match negotiated.transport {
            Transport::Udp => {
                let local: SocketAddr = if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().map_err(|e| format!("{e}"))?;
                let sock = UdpSocket::bind(local).map_err(|e| format!("UDP socket: {e}"))?;
                size_buffers(&sock, self.config.udp_offload);
                let data = SocketAddr::new(server.ip(), negotiated.udp_port);
                sock.connect(data).map_err(|e| format!("UDP connect to {data}: {e}"))?;
                Some(Arc::new(sock))
            }
            Transport::Tcp => None,
        };
        // A client's one route is the server: it takes every packet.
        let identity = crate::identity::Identity { prefixes: Vec::new(), ..who };
        Ok(Conn { stream: TlsStream::Client(stream), peer: format!("{} ({server})", identity.name), identity, negotiated, udp })
    }

    pub async fn connect(&mut self, counters: &Counters) -> Conn {
        loop {
            if let Some(d) = self.delay {
                tokio::time::sleep(d).await;
            }
            let timeout = self.config.handshake_timeout;
            let result = match tokio::time::timeout(timeout, self.attempt()).await {
                Ok(r) => r,
                Err(_) => Err(format!("no connection and handshake within {timeout:?}")),
            };
            match result {
                Ok(conn) => return conn,
                Err(why) => {
                    counters.add(&counters.connect_failures, 1);
                    let next = match self.delay {
                        None => self.config.reconnect_min,
                        Some(d) => (d * 2).min(self.config.reconnect_max),
                    };
                    let line = format!("cannot connect to {}: {why}", self.address);
                    tracing::warn!("{line}; retrying in {:.1}s", next.as_secs_f64());
                    counters.set_last_error(line);
                    self.delay = Some(next);
                }
            }
        }
    }

    /// A session ended after `lasted`: a long one resets the backoff; a
    /// short one keeps it growing, so a peer that accepts and drops at
    /// once is not hammered.
    pub fn session_ended(&mut self, lasted: Duration) {
        self.delay = Some(match self.delay {
            Some(d) if lasted < self.config.reconnect_max => (d * 2).min(self.config.reconnect_max),
            _ => self.config.reconnect_min,
        });
    }
}
