// SPDX-License-Identifier: MPL-2.0
//! The driver's own data-path cost, on the lean kernel (no rule
//! bookkeeping): ns, driver lock acquisitions and message blocks per
//! packet, per direction, at 64, 1500 and 9000 bytes, tun and tap.
//!
//!     cargo run --release -p tuntap-lean --example lean_bench [packets]
//!     cargo run --release -p tuntap-lean --example lean_bench -- queues [seconds]
//!     valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!         --toggle-collect='*hot_*' target/release/examples/lean_bench instr 20000
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
    let want_up = app.clone();
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
        Some("offload") => {
            let mb: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
            println!("| direction | payload Gbit/s | ns per 1448-byte segment |");
            println!("|---|---:|---:|");
            for (what, gbps, ns) in offload_bulk(mb << 20) {
                println!("| {what} | {gbps:.2} | {ns:.0} |");
            }
        }
        _ => {
            let n = args.first().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
            let rows = single(n);
            print(&rows, n);
            println!("\nBatched (tun; one system call carries many packets)\n");
            println!("| path | bytes | ns/packet | packets/s | Gbit/s | driver locks/packet | mblks/packet | system calls/packet |");
            println!("|---|---:|---:|---:|---:|---:|---:|---:|");
            for (r, sc) in batched(n) {
                let pps = 1e9 / r.ns;
                println!(
                    "| {} | {} | {:.1} | {:.0} | {:.2} | {:.3} | {:.2} | {:.4} |",
                    r.what, r.size, r.ns, pps, pps * r.size as f64 * 8.0 / 1e9, r.locks, r.blocks, sc
                );
            }
        }
    }
}

/// Set batching on a port.
fn set_batch(r: &Rig, port: usize, flags: u32) {
    use tuntap_abi::{self as abi, batch::TunIocBatch};
    let req = TunIocBatch { version: abi::TUN_ABI_VERSION, flags, read_max: abi::batch::READ_MAX_MAX, ..Default::default() };
    r.ports[port].ioctl(abi::TUN_IOC_BATCH, abi::as_bytes(&req)).expect("TUN_IOC_BATCH");
}

/// Batched rows: `per_call` packets per write(2) / per mc_tx chain.
fn batched(n: u64) -> Vec<(Row, f64)> {
    use tuntap_abi::batch::{self, batch_flags};
    let mut rows = Vec::new();
    for size in [64usize, 1500, 9000] {
        let mtu = if size > 1500 { 9000 } else { 1500 };
        let r = Rig::new(false, mtu, 1, 0).expect("rig");
        set_batch(&r, 0, batch_flags::READ | batch_flags::WRITE);
        let app = rig::ipv4_udp(size, 1);
        // Writes: as many records as fit in one batched write.
        let per_write = (batch::WRITE_MAX / (size + batch::RECORD_HDR_LEN + 3)).min(4096);
        let mut w = vec![0u8; batch::WRITE_MAX];
        let mut at = 0;
        for _ in 0..per_write {
            at = batch::put_record(&mut w, at, &app).expect("room");
        }
        let w = &w[..at];
        let before = r.mac.rx_packets.load(std::sync::atomic::Ordering::Relaxed);
        r.ports[0].write(w);
        let got = r.mac.rx_packets.load(std::sync::atomic::Ordering::Relaxed) - before;
        assert_eq!(got, per_write as u64, "every record of a batched write reached mac_rx");
        let calls = (n / per_write as u64).max(1);
        let row = measure(calls, format!("tun batched write ({per_write}/write) -> mac_rx"), size, || hot_write_batch(&r, w));
        let k = per_write as f64;
        rows.push((Row { ns: row.ns / k, locks: row.locks / k, blocks: row.blocks / k, ..row }, 1.0 / k));
        // Reads: chains of 256 from mc_tx, read in batches.
        let frame = rig::ether_frame(&app);
        let mut buf = vec![0u8; batch::READ_MAX_MAX as usize];
        let mut chain_buf = Vec::with_capacity(256);
        let mut reads = 0u64;
        let calls = (n / 256).max(1);
        let row = measure(calls, "tun mc_tx(chain of 256) -> batched read".to_string(), size, || {
            reads += hot_tx_read_batch(&r, &frame, &mut chain_buf, &mut buf);
        });
        let warm = calls.min(2000);
        let per_read = (256 * (calls + warm)) as f64 / reads as f64;
        rows.push((Row { ns: row.ns / 256.0, locks: row.locks / 256.0, blocks: row.blocks / 256.0, ..row }, 1.0 / per_read));
    }
    rows
}

#[inline(never)]
fn hot_write_batch(r: &Rig, w: &[u8]) {
    r.ports[0].write(black_box(w));
}

/// One chain of 256 through mc_tx, then batched reads until empty;
/// returns the reads made.
#[inline(never)]
fn hot_tx_read_batch(r: &Rig, frame: &[u8], chain_buf: &mut Vec<*mut illumos_sys_hdrs::mblk_t>, buf: &mut [u8]) -> u64 {
    chain_buf.clear();
    for _ in 0..256 {
        chain_buf.push(rig::stack_block(frame, Some(64)));
    }
    // SAFETY: an owned chain.
    let rest = unsafe { r.mac.tx(rig::chain(chain_buf)) };
    assert!(rest.is_null());
    let mut reads = 0;
    while let Some(n) = r.ports[0].read(buf) {
        black_box(n);
        reads += 1;
    }
    reads
}

/// A TCP/IPv4 segment of `payload` bytes, checksum field holding the
/// pseudo-header sum (as IP leaves it for partial checksum offload).
fn tcp4(payload: usize) -> Vec<u8> {
    let total = 40 + payload;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&[10, 0, 0, 2]);
    p[32] = 0x50;
    p[33] = 0x10;
    p
}

/// Offload on/off for a TCP-like bulk transfer (payload Gbit/s): the
/// stack's 64 KiB large segments (one per 45 packets) read with a
/// virtio-net header, against 45 MSS-sized packets read one by one; and
/// a daemon's 64 KiB GSO writes, cut by the driver, against 45 writes.
fn offload_bulk(n_bytes: usize) -> Vec<(String, f64, f64)> {
    use tuntap_abi::offload::{self as off, TunIocOffload, VirtioNetHdr, offload_flags};
    let mss = 1448usize;
    let big = 44 * mss; // 63 712 bytes of payload
    let mut rows = Vec::new();
    for on in [false, true] {
        let r = Rig::new(false, 1500, 1, 0).expect("rig");
        if on {
            let req = TunIocOffload { version: tuntap_abi::TUN_ABI_VERSION, flags: offload_flags::ALL, ..Default::default() };
            r.ports[0].ioctl(tuntap_abi::TUN_IOC_OFFLOAD, tuntap_abi::as_bytes(&req)).expect("offload");
        }
        let mut buf = vec![0u8; 70_000];
        let rounds = (n_bytes / big).max(1);
        // The stack sends, the reader reads.
        let seg = tcp4(big);
        let small = tcp4(mss);
        let f_big = rig::ether_frame(&seg);
        let f_small = rig::ether_frame(&small);
        let t = Instant::now();
        for _ in 0..rounds {
            if on {
                let mp = rig::stack_block(&f_big, Some(64));
                // SAFETY: a fresh block; IP's partial checksum and LSO marks.
                unsafe {
                    pool::hcksum_set(mp, tuntap_drv::ddi::Hcksum { flags: illumos_sys_hdrs::HCK_PARTIALCKSUM, start: 20, stuff: 36, end: seg.len() as u32, value: 0 });
                    pool::lso_set(mp, mss as u16);
                    assert!(r.mac.tx(mp).is_null());
                }
                black_box(r.ports[0].read(&mut buf));
            } else {
                let blocks: Vec<_> = (0..44).map(|_| rig::stack_block(&f_small, Some(64))).collect();
                // SAFETY: an owned chain.
                unsafe { assert!(r.mac.tx(rig::chain(&blocks)).is_null()) };
                for _ in 0..44 {
                    black_box(r.ports[0].read(&mut buf));
                }
            }
        }
        let s = t.elapsed().as_secs_f64();
        rows.push((format!("stack -> reader, offload {}", if on { "on (64 KiB LSO segments)" } else { "off (1448-byte segments)" }), (rounds * big) as f64 * 8.0 / s / 1e9, s * 1e9 / (rounds * big / mss) as f64));
        // The daemon writes, the stack gets MSS-sized packets.
        let hdr = VirtioNetHdr::new(off::VIRTIO_NET_HDR_F_NEEDS_CSUM, off::VIRTIO_NET_HDR_GSO_TCPV4, 40, mss as u16, 20, 16);
        let w_big = [tuntap_abi::as_bytes(&hdr), &seg[..]].concat();
        let before = r.mac.rx_packets.load(std::sync::atomic::Ordering::Relaxed);
        let t = Instant::now();
        for _ in 0..rounds {
            if on {
                r.ports[0].write(&w_big);
            } else {
                for _ in 0..44 {
                    r.ports[0].write(&small);
                }
            }
        }
        let s = t.elapsed().as_secs_f64();
        let got = r.mac.rx_packets.load(std::sync::atomic::Ordering::Relaxed) - before;
        assert_eq!(got as usize, rounds * 44, "every segment reached mac_rx");
        rows.push((format!("writer -> stack, offload {}", if on { "on (64 KiB GSO writes, cut by the driver)" } else { "off (1448-byte writes)" }), (rounds * big) as f64 * 8.0 / s / 1e9, s * 1e9 / (rounds * 44) as f64));
    }
    rows
}

mod queues {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use tuntap_abi::batch::batch_flags;
    use tuntap_lean::rig::{self, Rig};

    /// Packets/s through one tun link with `n` queues, one reader thread
    /// each, and one thread playing IP (mc_tx chains of 64, flows spread
    /// by UDP source port).  `batch`: readers take batched reads.
    pub fn measure(n: usize, batch: bool, secs: f64) -> (f64, f64) {
        let r = Arc::new(Rig::new(false, 1500, n, 0).expect("rig"));
        if batch {
            for i in 0..n {
                super::set_batch(&r, i, batch_flags::READ);
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let read = Arc::new(AtomicU64::new(0));
        let reads = Arc::new(AtomicU64::new(0));
        let mut readers = Vec::new();
        for i in 0..n {
            let (r, stop, read, reads) = (r.clone(), stop.clone(), read.clone(), reads.clone());
            readers.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 20];
                let (mut got, mut calls) = (0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    match r.ports[i].read(&mut buf) {
                        Some(len) => {
                            calls += 1;
                            got += if batch { tuntap_abi::batch::records(&buf[..len]).count() as u64 } else { 1 };
                        }
                        None => std::thread::yield_now(),
                    }
                }
                read.fetch_add(got, Ordering::Relaxed);
                reads.fetch_add(calls, Ordering::Relaxed);
            }));
        }
        let frames: Vec<Vec<u8>> = (0..64u16).map(|f| rig::ether_frame(&rig::ipv4_udp(64, 1000 + f * 7))).collect();
        let t = Instant::now();
        let mut pending: *mut illumos_sys_hdrs::mblk_t = std::ptr::null_mut();
        while t.elapsed() < Duration::from_secs_f64(secs) {
            if pending.is_null() {
                let blocks: Vec<_> = frames.iter().map(|f| rig::stack_block(f, Some(64))).collect();
                pending = rig::chain(&blocks);
            }
            let updates = r.mac.tx_updates.load(Ordering::Acquire);
            // SAFETY: an owned chain; what comes back is ours again.
            pending = unsafe { r.mac.tx(pending) };
            // As mac does: after a refusal, wait for mac_tx_update.
            while !pending.is_null()
                && r.mac.tx_updates.load(Ordering::Acquire) == updates
                && t.elapsed() < Duration::from_secs_f64(secs)
            {
                std::thread::yield_now();
            }
        }
        stop.store(true, Ordering::Relaxed);
        for h in readers {
            let _ = h.join();
        }
        let el = t.elapsed().as_secs_f64();
        // SAFETY: the unsent rest is ours.
        unsafe { tuntap_lean::pool::freemsg_chain(pending) };
        let got = read.load(Ordering::Relaxed) as f64;
        (got / el, got / reads.load(Ordering::Relaxed).max(1) as f64)
    }

    pub fn run(secs: f64) {
        println!("| queues | reader threads | reads | packets/s (64 B) | packets per read(2) |");
        println!("|---:|---:|---|---:|---:|");
        for batch in [false, true] {
            for n in [1usize, 2, 4] {
                let (pps, per) = measure(n, batch, secs);
                println!("| {n} | {n} | {} | {pps:.0} | {per:.1} |", if batch { "batched" } else { "one packet" });
            }
        }
    }
}
