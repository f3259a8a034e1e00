#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# BENCHMARKS.md's TCP bulk rows in one run (issue 16): tunneld on the
# simulated driver (offload off/on x batch_writes off/on) beside Linux
# /dev/net/tun (with and without IFF_VNET_HDR; root, private namespaces);
# with VS_OPENVPN=1 first OpenVPN 2.6 against tunneld over Linux tun
# (vs_openvpn 5 4: 1 and 4 TCP streams, CPU per Gbit/s), so issue 17's
# rows come from the same invocation.
# Usage: [VS_OPENVPN=1] scripts/bench-tcp-bulk.sh [SIM_MB] [SIM_TIME_BOX_S] [LINUX_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
sim_mb=${1:-100} box=${2:-20} linux_mb=${3:-300}
cargo build --release -q -p tunneld --example bench -p tuntap-lean --example linux_tun
B=target/release/examples
date -u; uptime
if [ "${VS_OPENVPN:-0}" = 1 ]; then
	cargo build --release -q -p tunneld --bins --examples
	$B/vs_openvpn 5 4
fi
$B/bench simtcp "$sim_mb" "$box"
# 1 packet per size for the per-packet rows: only the TCP bulk rows matter here.
$B/linux_tun 1 "$linux_mb" | sed -n '/^TCP bulk/,$p'
uptime
