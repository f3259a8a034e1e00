// SPDX-License-Identifier: MPL-2.0
//! A bridge between a Linux TAP device and a simulated mac client.
//!
//! The mac client ([`SimMacClient`]) is what illumos IP is to a datalink;
//! the Linux stack in a network namespace plays that role here.  Frames
//! the namespace sends on its TAP go into the driver through `mc_tx`;
//! what the driver passes to `mac_rx` comes out of the TAP into the
//! namespace.
//!
//! Two threads: `tap->mac` reads the TAP and sends what it read as one
//! `b_next` chain; `mac->tap` takes frames from the client and writes
//! them to the TAP.  Flow control is honoured as IP honours it: when
//! `mc_tx` handed a chain back, the client holds it until the driver
//! calls `mac_tx_update`, and the bridge reads nothing more from the TAP
//! until that backlog is gone, so the pressure reaches the Linux device,
//! whose own queue then fills (and counts its drops in `tx_dropped`).
//!
//! With [`BridgeOptions::mirror_link_state`] the TAP's carrier follows
//! the link state mac reports, so the namespace sees the link go down
//! when its last queue detaches.
//!
//! Dropping the bridge stops both threads (within ~50 ms) and then drops
//! the client (closing it) and the TAP.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tuntap_drv::ddi::LinkState;
use tuntap_sim::SimMacClient;

use crate::netns::TapDevice;

/// How long a bridge thread sleeps at most before it looks at its stop flag.
const POLL: Duration = Duration::from_millis(50);

/// Most frames sent through `mc_tx` in one chain.
const MAX_CHAIN: usize = 64;

/// Largest frame read from the TAP (MTU 65535 + Ethernet + VLAN).
const MAX_FRAME: usize = 65_535 + 18;

#[derive(Clone, Copy, Debug)]
pub struct BridgeOptions {
    /// Make the TAP's carrier follow the link state mac reports.
    pub mirror_link_state: bool,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        BridgeOptions { mirror_link_state: true }
    }
}

/// What crossed the bridge so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BridgeStats {
    /// Frames read from the TAP and given to the mac client.
    pub to_mac_frames: u64,
    pub to_mac_bytes: u64,
    /// Frames the mac client received (`mac_rx`) and written to the TAP.
    pub to_tap_frames: u64,
    pub to_tap_bytes: u64,
    /// Writes the TAP refused (the frame is lost; reported here).
    pub tap_write_errors: u64,
    /// Times the bridge stopped reading the TAP because the driver had
    /// pushed back (`mc_tx` returned a chain).
    pub paused: u64,
}

#[derive(Default)]
struct Counters {
    to_mac_frames: AtomicU64,
    to_mac_bytes: AtomicU64,
    to_tap_frames: AtomicU64,
    to_tap_bytes: AtomicU64,
    tap_write_errors: AtomicU64,
    paused: AtomicU64,
}

/// A running bridge.  See the module documentation.
pub struct Bridge {
    client: Arc<SimMacClient>,
    tap: Arc<TapDevice>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    threads: Vec<JoinHandle<()>>,
}

impl Bridge {
    /// Start bridging `tap` and `client` with the default options.
    pub fn new(client: SimMacClient, tap: TapDevice) -> Bridge {
        Self::with_options(client, tap, BridgeOptions::default())
    }

    pub fn with_options(client: SimMacClient, tap: TapDevice, opts: BridgeOptions) -> Bridge {
        let client = Arc::new(client);
        let tap = Arc::new(tap);
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let name = tap.ifname().to_string();
        let mut threads = Vec::new();
        {
            let (client, tap, stop, counters) = (client.clone(), tap.clone(), stop.clone(), counters.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("bridge-{name}-tx"))
                    .spawn(move || tap_to_mac(&client, &tap, &stop, &counters))
                    .expect("start a bridge thread"),
            );
        }
        {
            let (client, tap, stop, counters) = (client.clone(), tap.clone(), stop.clone(), counters.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("bridge-{name}-rx"))
                    .spawn(move || mac_to_tap(&client, &tap, &stop, &counters, opts))
                    .expect("start a bridge thread"),
            );
        }
        Bridge { client, tap, stop, counters, threads }
    }

    /// The mac client (for `tx_accepted`, `tx_pushbacks`, `link_state`, ...).
    pub fn client(&self) -> &SimMacClient {
        &self.client
    }

    /// The TAP device.
    pub fn tap(&self) -> &TapDevice {
        &self.tap
    }

    pub fn stats(&self) -> BridgeStats {
        let c = &self.counters;
        let l = |a: &AtomicU64| a.load(Ordering::SeqCst);
        BridgeStats {
            to_mac_frames: l(&c.to_mac_frames),
            to_mac_bytes: l(&c.to_mac_bytes),
            to_tap_frames: l(&c.to_tap_frames),
            to_tap_bytes: l(&c.to_tap_bytes),
            tap_write_errors: l(&c.tap_write_errors),
            paused: l(&c.paused),
        }
    }

    /// Wait until nothing is in flight inside the bridge: the client's
    /// transmit backlog is empty and every received frame was written.
    /// False on timeout.
    pub fn settle(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.client.tx_backlog() == 0 && self.client.rx_pending() == 0 {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Stop both threads now (also done by drop).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.stop();
    }
}

fn tap_to_mac(client: &SimMacClient, tap: &TapDevice, stop: &AtomicBool, c: &Counters) {
    let mut frames: Vec<Vec<u8>> = Vec::with_capacity(MAX_CHAIN);
    let mut buf = vec![0u8; MAX_FRAME];
    while !stop.load(Ordering::SeqCst) {
        // Flow control: while mc_tx's pushback is outstanding, leave the
        // frames in the TAP's queue.
        if client.tx_backlog() > 0 {
            c.paused.fetch_add(1, Ordering::Relaxed);
            while !stop.load(Ordering::SeqCst) && !client.flush_tx(POLL) {}
            continue;
        }
        match tap.read_frame(&mut buf, POLL) {
            Ok(Some(n)) => frames.push(buf[..n].to_vec()),
            Ok(None) => continue,
            Err(e) => {
                eprintln!("bridge {}: reading the TAP failed: {e}; stopping", tap.ifname());
                return;
            }
        }
        while frames.len() < MAX_CHAIN {
            match tap.try_read_frame(&mut buf) {
                Ok(Some(n)) => frames.push(buf[..n].to_vec()),
                _ => break,
            }
        }
        let bytes: usize = frames.iter().map(Vec::len).sum();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        client.tx(&refs);
        c.to_mac_frames.fetch_add(frames.len() as u64, Ordering::SeqCst);
        c.to_mac_bytes.fetch_add(bytes as u64, Ordering::SeqCst);
        frames.clear();
    }
}

fn mac_to_tap(client: &SimMacClient, tap: &TapDevice, stop: &AtomicBool, c: &Counters, opts: BridgeOptions) {
    let mut carrier: Option<bool> = None;
    while !stop.load(Ordering::SeqCst) {
        if opts.mirror_link_state {
            let up = client.link_state() == LinkState::Up;
            if carrier != Some(up) {
                if let Err(e) = tap.set_carrier(up) {
                    eprintln!("bridge {}: cannot set the TAP's carrier: {e}", tap.ifname());
                }
                carrier = Some(up);
            }
        }
        // A short wait keeps the carrier mirror responsive.
        let Some(frame) = client.recv(Duration::from_millis(10)) else { continue };
        match tap.write_frame(&frame) {
            Ok(()) => {
                c.to_tap_frames.fetch_add(1, Ordering::SeqCst);
                c.to_tap_bytes.fetch_add(frame.len() as u64, Ordering::SeqCst);
            }
            Err(e) => {
                c.tap_write_errors.fetch_add(1, Ordering::SeqCst);
                eprintln!("bridge {}: writing a {}-byte frame to the TAP failed: {e}", tap.ifname(), frame.len());
            }
        }
    }
}
