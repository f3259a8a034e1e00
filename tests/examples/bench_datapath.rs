// SPDX-License-Identifier: MPL-2.0
//! Benchmark of the driver's data path on the simulated host:
//! write(2) -> `mac_rx` and `mc_tx` -> read(2), per packet, at 64, 1500
//! and 9000 bytes, tun and tap, with message blocks and heap allocations
//! counted per packet.
//!
//!     cargo run --release -p tuntap-tests --example bench_datapath [packets]
//!
//! Times include the simulator's own work (its stream head, mblk
//! registry and mac client), so they bound the driver's cost from above;
//! the block counts are exact.  Results go to BENCHMARKS.md.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tuntap_tests::datapath::DataPath;

/// Counts every heap allocation in the process.
struct Counting;
static HEAP_ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HEAP_ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HEAP_ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Row {
    mode: &'static str,
    direction: &'static str,
    size: usize,
    ns_per_packet: f64,
    mblks_per_packet: f64,
    heap_per_packet: f64,
}

fn measure(dp: &DataPath, n: u64, mut one: impl FnMut()) -> (f64, f64, f64) {
    for _ in 0..n.min(1000) {
        one(); // warm up
    }
    let blocks = dp.rig.host.blocks_allocated();
    let heap = HEAP_ALLOCS.load(Ordering::Relaxed);
    let t = Instant::now();
    for _ in 0..n {
        one();
    }
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    let blocks = (dp.rig.host.blocks_allocated() - blocks) as f64 / n as f64;
    let heap = (HEAP_ALLOCS.load(Ordering::Relaxed) - heap) as f64 / n as f64;
    (ns, blocks, heap)
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let mut rows = Vec::new();
    // The baseline: the simulator's own heap allocations for one round
    // trip (its mblk, the copy out to the "user"), measured with no
    // driver in the way is not possible; so we report totals.
    for (tap, mode) in [(false, "tun"), (true, "tap")] {
        for size in [64usize, 1500, 9000] {
            let mtu = if size > 1500 { 9000 } else { 1500 };
            let dp = DataPath::new(tap, mtu, false);
            let pkt = dp.app_packet(size);
            let rx = dp.rx_frame(&pkt);
            let frame = dp.stack_frame(&pkt);
            let (ns, mb, heap) = measure(&dp, n, || {
                let got = dp.write_to_mac_rx(&pkt);
                debug_assert_eq!(got, rx);
                std::hint::black_box(got);
            });
            rows.push(Row { mode, direction: "write -> mac_rx", size, ns_per_packet: ns, mblks_per_packet: mb, heap_per_packet: heap });
            let (ns, mb, heap) = measure(&dp, n, || {
                let got = dp.mc_tx_to_read(&frame);
                debug_assert_eq!(got, pkt);
                std::hint::black_box(got);
            });
            rows.push(Row { mode, direction: "mc_tx -> read", size, ns_per_packet: ns, mblks_per_packet: mb, heap_per_packet: heap });
            dp.finish();
        }
    }
    println!("{n} packets per row (release build, simulated host, one thread)\n");
    println!("| mode | path | bytes | ns/packet | packets/s | Gbit/s | mblks/packet | heap allocs/packet (sim incl.) |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let pps = 1e9 / r.ns_per_packet;
        let gbps = pps * r.size as f64 * 8.0 / 1e9;
        println!(
            "| {} | {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} |",
            r.mode, r.direction, r.size, r.ns_per_packet, pps, gbps, r.mblks_per_packet, r.heap_per_packet
        );
    }
}
