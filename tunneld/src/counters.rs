// SPDX-License-Identifier: MPL-2.0
//! Per-tunnel counters and state, shared by the daemon's tasks and read
//! by the status socket, SIGUSR1 and tests.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one tunnel.  "tx" is link -> peer, "rx" is peer -> link.
#[derive(Debug, Default)]
pub struct Counters {
    /// Packets read from the link and sent to the peer.
    pub tx_packets: AtomicU64,
    pub tx_bytes: AtomicU64,
    /// Packets read from the link while no peer was connected (dropped).
    pub tx_dropped_no_peer: AtomicU64,
    /// Packets received from the peer and written to the link.
    pub rx_packets: AtomicU64,
    pub rx_bytes: AtomicU64,
    /// Frames from the peer longer than this link's MTU allows (dropped).
    pub rx_oversize: AtomicU64,
    /// Frames from the peer that are not a packet of this link's mode
    /// (empty, not IPv4/IPv6 on tun, shorter than an Ethernet header on
    /// tap): dropped.
    pub rx_malformed: AtomicU64,
    /// Connections dropped because the peer sent bytes that are not our
    /// framing at all.
    pub rx_garbage: AtomicU64,
    pub device_read_errors: AtomicU64,
    pub device_write_errors: AtomicU64,
    /// Batched writes the driver refused whole (`TUN_IOC_BATCH`'s
    /// `refused`); their packets are lost.
    pub device_batches_refused: AtomicU64,
    /// TLS sessions established.
    pub connects: AtomicU64,
    /// TLS sessions that ended.
    pub disconnects: AtomicU64,
    /// Connection attempts (client) or accepted connections (server)
    /// that failed before a session was up: TCP, TLS handshake,
    /// certificate.
    pub connect_failures: AtomicU64,
    /// Datagrams refused because their counter was already accepted or
    /// is older than the replay window.
    pub rx_replayed: AtomicU64,
    /// Datagrams that failed authentication (forged or corrupted).
    pub rx_forged: AtomicU64,
    /// Datagrams that are not ours: too short, unknown type, another
    /// session's index, a key epoch we have no key for.
    pub rx_bad_datagram: AtomicU64,
    /// Data keys replaced (either direction).
    pub rekeys: AtomicU64,
    pub keepalives_sent: AtomicU64,
    pub keepalives_received: AtomicU64,
    /// Sessions ended because nothing came from the peer for the
    /// dead-peer timeout.
    pub dead_peer_timeouts: AtomicU64,
    /// Datagrams the socket refused to send.
    pub send_errors: AtomicU64,
    /// Packets for a TCP-transport peer whose queue was full while other
    /// peers were up (dropped rather than stalling them).
    pub tx_dropped_queue_full: AtomicU64,
    /// Packets from a peer whose source address is not among its
    /// `[[peer]] addresses` (dropped).
    pub rx_wrong_source: AtomicU64,
    /// Datagrams sent in UDP GSO sends (several cut from one message).
    pub tx_gso_datagrams: AtomicU64,
    /// Datagrams received coalesced by UDP GRO (several in one buffer).
    pub rx_gro_datagrams: AtomicU64,
    /// tap: frames from one peer passed on to others (a server's clients
    /// reaching each other through it; [`crate::table`]).
    pub rx_relayed: AtomicU64,
    state: Mutex<State>,
}

/// One session that is up.
#[derive(Debug, Clone)]
struct SessionInfo {
    id: u64,
    peer: String,
    transport: String,
    cipher: String,
}

#[derive(Debug, Default, Clone)]
struct State {
    /// Sessions up, oldest first.
    sessions: Vec<SessionInfo>,
    last_error: Option<String>,
}

impl Counters {
    pub fn add(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Read one counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Session `id` with `peer` is up.
    pub(crate) fn session_up(&self, id: u64, peer: String, transport: String, cipher: String) {
        self.state().sessions.push(SessionInfo { id, peer, transport, cipher });
    }

    /// Session `id` ended.
    pub(crate) fn session_down(&self, id: u64) {
        self.state().sessions.retain(|s| s.id != id);
    }

    /// Forget every session (the daemon stopped).
    pub(crate) fn clear_sessions(&self) {
        self.state().sessions.clear();
    }

    /// Transport and cipher of the oldest session up, if one is.
    pub fn session(&self) -> Option<(String, String)> {
        self.state().sessions.first().map(|s| (s.transport.clone(), s.cipher.clone()))
    }

    /// The peers of the sessions up, oldest first.
    pub fn connected_peers(&self) -> Vec<String> {
        self.state().sessions.iter().map(|s| s.peer.clone()).collect()
    }

    pub(crate) fn set_last_error(&self, error: String) {
        self.state().last_error = Some(error);
    }

    /// The peers of the sessions up ("a, b"), if one is up.
    pub fn connected_peer(&self) -> Option<String> {
        let peers = self.connected_peers();
        if peers.is_empty() { None } else { Some(peers.join(", ")) }
    }

    /// Why the last session ended or the last attempt failed.
    pub fn last_error(&self) -> Option<String> {
        self.state().last_error.clone()
    }

    /// Every counter as (name, value), in a fixed order.
    pub fn values(&self) -> Vec<(&'static str, u64)> {
        [
            ("tx_packets", &self.tx_packets),
            ("tx_bytes", &self.tx_bytes),
            ("tx_dropped_no_peer", &self.tx_dropped_no_peer),
            ("rx_packets", &self.rx_packets),
            ("rx_bytes", &self.rx_bytes),
            ("rx_oversize", &self.rx_oversize),
            ("rx_malformed", &self.rx_malformed),
            ("rx_garbage", &self.rx_garbage),
            ("device_read_errors", &self.device_read_errors),
            ("device_write_errors", &self.device_write_errors),
            ("device_batches_refused", &self.device_batches_refused),
            ("connects", &self.connects),
            ("disconnects", &self.disconnects),
            ("connect_failures", &self.connect_failures),
            ("rx_replayed", &self.rx_replayed),
            ("rx_forged", &self.rx_forged),
            ("rx_bad_datagram", &self.rx_bad_datagram),
            ("rekeys", &self.rekeys),
            ("keepalives_sent", &self.keepalives_sent),
            ("keepalives_received", &self.keepalives_received),
            ("dead_peer_timeouts", &self.dead_peer_timeouts),
            ("send_errors", &self.send_errors),
            ("tx_dropped_queue_full", &self.tx_dropped_queue_full),
            ("rx_wrong_source", &self.rx_wrong_source),
            ("tx_gso_datagrams", &self.tx_gso_datagrams),
            ("rx_gro_datagrams", &self.rx_gro_datagrams),
            ("rx_relayed", &self.rx_relayed),
        ]
        .into_iter()
        .map(|(name, c)| (name, Self::get(c)))
        .collect()
    }

    /// The status as JSON: what the status socket serves.
    pub fn json(&self, link: &str, mode: &str, role: &str) -> serde_json::Value {
        let state = self.state().clone();
        let mut counters = serde_json::Map::new();
        for (name, value) in self.values() {
            counters.insert(name.to_string(), value.into());
        }
        let first = state.sessions.first();
        let peer = (!state.sessions.is_empty())
            .then(|| state.sessions.iter().map(|s| s.peer.as_str()).collect::<Vec<_>>().join(", "));
        let sessions: Vec<serde_json::Value> = state
            .sessions
            .iter()
            .map(|s| serde_json::json!({"peer": s.peer, "transport": s.transport, "cipher": s.cipher}))
            .collect();
        serde_json::json!({
            "link": link,
            "mode": mode,
            "role": role,
            "state": if state.sessions.is_empty() { "waiting" } else { "connected" },
            "peer": peer,
            "transport": first.map(|s| s.transport.clone()),
            "cipher": first.map(|s| s.cipher.clone()),
            "sessions": sessions,
            "last_error": state.last_error,
            "counters": counters,
        })
    }

    /// One log line with every counter.
    pub fn summary(&self) -> String {
        self.values().iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(" ")
    }
}
