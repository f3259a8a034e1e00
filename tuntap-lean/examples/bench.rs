// SPDX-License-Identifier: MPL-2.0
//! The driver's own data-path cost, on the lean kernel (no rule
//! bookkeeping): ns, driver lock acquisitions and message blocks per
//! packet, per direction, at 64, 1500 and 9000 bytes, tun and tap.
//!
//!     cargo run --release -p tuntap-lean --example bench [packets]
//!     cargo run --release -p tuntap-lean --example bench -- queues [seconds]
//!     valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!         --toggle-collect='*hot_*' target/release/examples/bench instr 20000
//!
//! `write -> mac_rx`: the stream head's block (wroff + the one copy from
//! the user buffer) through the driver's put procedure to `mac_rx`.
//! `mc_tx -> read`: a block as IP sends it (headers written, payload
//! left as the pool holds it: IP's copy is not ours), through `mc_tx`,
//! the backlog and `putnext` to the stream head and out by the one copy
//! into the reader's buffer.  `chain` rows pass 32 packets per `mc_tx`
//! call, as mac does under load.  The `harness` rows run the same loop
//! with the driver left out (allocate, copy, free), to show what of a row
//! is the harness's.

use std::hint::black_box;
use std::time::Instant;

use tuntap_lean::pool;
use tuntap_lean::rig::{self, Rig};
use tuntap_lean::sync::locks_taken;

struct Row {
    what: String,
    size: usize,
    ns: f64,
    locks: f64,
    blocks: f64,
}

fn measure(n: u64, what: String, size: usize, mut one: impl FnMut()) -> Row {
    for _ in 0..n.min(2000) {
        one();
    }
    let l0 = locks_taken();
    let b0 = pool::blocks_allocated();
    let t = Instant::now();
    for _ in 0..n {
        one();
    }
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    Row {
        what,
        size,
        ns,
        locks: (locks_taken() - l0) as f64 / n as f64,
        blocks: (pool::blocks_allocated() - b0) as f64 / n as f64,
    }
}

fn ip_for(tap: bool, size: usize) -> Vec<u8> {
    // A tap frame of `size` bytes carries size - 14 of IP.
    if tap { rig::ether_frame(&rig::ipv4_udp(size - rig::ETHER_HDR_LEN, 1)) } else { rig::ipv4_udp(size, 1) }
}

/// Check both directions carry the bytes intact once, before timing.
fn verify(r: &Rig, tap: bool, size: usize) {
    let app = ip_for(tap, size);
    r.mac.set_capture(true);
    r.ports[0].write(&app);
    r.mac.set_capture(false);
    let got = r.mac.take_captured();
    let want_up = if tap { app.clone() } else { app.clone() };
    let up = got.first().expect("mac_rx got the written packet");
    assert_eq!(&up[up.len() - want_up.len()..], &want_up[..], "write -> mac_rx payload");
    let frame = if tap { app.clone() } else { rig::ether_frame(&app) };
    let mp = rig::stack_block(&frame, None);
    // SAFETY: an owned single message.
    let rest = unsafe { r.mac.tx(mp) };
    assert!(rest.is_null(), "mc_tx took the packet");
    let mut buf = vec![0u8; 65_536];
    let n = r.ports[0].read(&mut buf).expect("a packet to read");
    assert_eq!(&buf[..n], &app[..], "mc_tx -> read payload");
}

#[inline(never)]
fn hot_write(r: &Rig, pkt: &[u8]) {
    r.ports[0].write(black_box(pkt));
}

#[inline(never)]
fn hot_tx_read(r: &Rig, frame: &[u8], buf: &mut [u8]) {
    let mp = rig::stack_block(frame, Some(64));
    // SAFETY: owned message.
    let rest = unsafe { r.mac.tx(mp) };
    debug_assert!(rest.is_null());
    black_box(r.ports[0].read(buf));
}

fn single(n: u64) -> Vec<Row> {
    let mut rows = Vec::new();
    for (tap, mode) in [(false, "tun"), (true, "tap")] {
        for size in [64usize, 1500, 9000] {
            let mtu = if size > 1500 { 9000 } else { 1500 };
            let r = Rig::new(tap, mtu, 1, 0).expect("rig");
            verify(&r, tap, size);
            let app = ip_for(tap, size);
            rows.push(measure(n, format!("{mode} write -> mac_rx"), size, || hot_write(&r, &app)));
            let frame = if tap { app.clone() } else { rig::ether_frame(&app) };
            let mut buf = vec![0u8; 65_536];
            rows.push(measure(n, format!("{mode} mc_tx -> read"), size, || hot_tx_read(&r, &frame, &mut buf)));
            // 32 packets per mc_tx, then 32 reads.
            let mut chain_buf = Vec::with_capacity(32);
            let row = measure(n / 32, format!("{mode} mc_tx(chain of 32) -> read"), size, || {
                chain_buf.clear();
                for _ in 0..32 {
                    chain_buf.push(rig::stack_block(&frame, Some(64)));
                }
                // SAFETY: an owned chain.
                let rest = unsafe { r.mac.tx(rig::chain(&chain_buf)) };
                debug_assert!(rest.is_null());
                for _ in 0..32 {
                    black_box(r.ports[0].read(&mut buf));
                }
            });
            rows.push(Row { ns: row.ns / 32.0, locks: row.locks / 32.0, blocks: row.blocks / 32.0, ..row });
            // The harness alone: the same allocations and copies, no driver.
            let mut out = vec![0u8; 65_536];
            rows.push(measure(n, format!("{mode} harness only (write side)"), size, || {
                let mp = pool::allocb(18 + app.len());
                // SAFETY: fresh block.
                unsafe {
                    std::ptr::copy_nonoverlapping(app.as_ptr(), (*mp).b_wptr.add(18), app.len());
                    pool::freemsg(black_box(mp));
                }
            }));
            rows.push(measure(n, format!("{mode} harness only (read side)"), size, || {
                let mp = rig::stack_block(&frame, Some(64));
                // SAFETY: owned message.
                unsafe {
                    pool::copy_out(mp, &mut out);
                    pool::freemsg(black_box(mp));
                }
            }));
        }
    }
    rows
}

fn print(rows: &[Row], n: u64) {
    println!("{n} packets per row (release build, lean kernel, one thread)\n");
    println!("| path | bytes | ns/packet | packets/s | Gbit/s | driver locks/packet | mblks/packet |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let pps = 1e9 / r.ns;
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} |",
            r.what,
            r.size,
            r.ns,
            pps,
            pps * r.size as f64 * 8.0 / 1e9,
            r.locks,
            r.blocks
        );
    }
}

/// Under callgrind: run each hot loop `n` times (instructions are read
/// from callgrind's totals for the `hot_*` functions).
fn instr(n: u64, size: usize) {
    let r = Rig::new(false, 9000, 1, 0).expect("rig");
    let app = rig::ipv4_udp(size, 1);
    let frame = rig::ether_frame(&app);
    let mut buf = vec![0u8; 65_536];
    for _ in 0..n {
        hot_write(&r, &app);
    }
    for _ in 0..n {
        hot_tx_read(&r, &frame, &mut buf);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("instr") => {
            let n = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
            let size = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1500);
            instr(n, size);
        }
        Some("queues") => queues::run(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2.0)),
        _ => {
            let n = args.first().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
            let rows = single(n);
            print(&rows, n);
        }
    }
}

mod queues {
    pub fn run(_secs: f64) {}
}
