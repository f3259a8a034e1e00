// SPDX-License-Identifier: MPL-2.0
//! The data path's cost, as behaviour: every packet, either way, at 64,
//! 1500 and 9000 bytes, in tun and tap mode, with and without the
//! packet-info header, costs exactly one message block (the one that
//! carries it: made by the stream head on write, by IP on transmit) and
//! no pull-up; and the bytes arrive unchanged.  Speed is in
//! BENCHMARKS.md, never here.

use tuntap_tests::datapath::DataPath;

const SIZES: [usize; 3] = [64, 1500, 9000];

fn check_one_block_per_packet(tap: bool, packet_info: bool) {
    for size in SIZES {
        let mtu = if size > 1500 { 9000 } else { 1500 };
        let dp = DataPath::new(tap, mtu, packet_info);
        dp.rig.host.set_time_limit(tuntap_sim::TEST_TIME_LIMIT);
        let pkt = dp.app_packet(size);
        assert_eq!(pkt.len(), size);
        let proto: u16 = if tap { 0x88b5 } else { 0x0800 };
        let written = if packet_info { [&DataPath::packet_info(proto)[..], &pkt].concat() } else { pkt.clone() };
        let frame = dp.stack_frame(&pkt);
        let rx = dp.rx_frame(&pkt);
        // Warm up once each way (first-use allocations are not per packet).
        assert_eq!(dp.write_to_mac_rx(&written), rx);
        assert_eq!(dp.mc_tx_to_read(&frame), written);
        const N: u64 = 50;
        let before = dp.rig.host.blocks_allocated();
        for _ in 0..N {
            assert_eq!(dp.write_to_mac_rx(&written), rx, "write -> mac_rx at {size} bytes");
        }
        let write_blocks = dp.rig.host.blocks_allocated() - before;
        let before = dp.rig.host.blocks_allocated();
        for _ in 0..N {
            assert_eq!(dp.mc_tx_to_read(&frame), written, "mc_tx -> read at {size} bytes");
        }
        let read_blocks = dp.rig.host.blocks_allocated() - before;
        assert_eq!(write_blocks, N, "write path: one mblk per packet (tap={tap}, pi={packet_info}, {size} B)");
        assert_eq!(read_blocks, N, "transmit path: one mblk per packet (tap={tap}, pi={packet_info}, {size} B)");
        dp.finish();
    }
}

#[test]
fn tun_costs_one_block_per_packet_each_way() {
    check_one_block_per_packet(false, false);
}

#[test]
fn tap_costs_one_block_per_packet_each_way() {
    check_one_block_per_packet(true, false);
}

#[test]
fn packet_info_fits_in_headroom_without_another_block() {
    check_one_block_per_packet(false, true);
    check_one_block_per_packet(true, true);
}

#[test]
fn packet_info_without_headroom_chains_one_header_block_and_copies_nothing() {
    // A tap frame from the stack with no room in front: the 4-byte header
    // becomes a block of its own, chained in front; the frame is not copied.
    let dp = DataPath::new(true, 1500, true);
    dp.rig.host.set_time_limit(tuntap_sim::TEST_TIME_LIMIT);
    let pkt = dp.app_packet(1500);
    let before = dp.rig.host.blocks_allocated();
    dp.client.tx_with(&[&pkt], tuntap_sim::TxOpts { headroom: 0, split: None, offload: None });
    let got = dp.queue.read_packet(Some(tuntap_tests::WAIT)).unwrap();
    assert_eq!(got, [&DataPath::packet_info(0x88b5)[..], &pkt].concat());
    assert_eq!(dp.rig.host.blocks_allocated() - before, 2, "the frame's block and one header block");
    dp.finish();
}

#[test]
fn a_frame_in_several_blocks_is_read_whole_without_a_pullup() {
    // IP may hand mc_tx a b_cont chain; as long as the Ethernet header is
    // in the first block the driver neither pulls up nor copies.
    let dp = DataPath::new(false, 1500, false);
    dp.rig.host.set_time_limit(tuntap_sim::TEST_TIME_LIMIT);
    let pkt = dp.app_packet(1500);
    let frame = dp.stack_frame(&pkt);
    let before = dp.rig.host.blocks_allocated();
    dp.client.tx_with(&[&frame], tuntap_sim::TxOpts { headroom: 0, split: Some(512), offload: None });
    assert_eq!(dp.queue.read_packet(Some(tuntap_tests::WAIT)).unwrap(), pkt);
    assert_eq!(dp.rig.host.blocks_allocated() - before, frame.len().div_ceil(512) as u64, "only the frame's own blocks");
    dp.finish();
}
