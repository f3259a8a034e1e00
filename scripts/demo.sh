#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The main job, shown on this machine (as root): build the illumos kernel
# modules and their gate report, then a VPN through the driver: two Linux
# network namespaces, each behind a tun link of the driver on the
# simulated illumos host, joined by two tunneld daemons (TLS 1.3 control,
# AEAD-sealed UDP data).
# It prints the links as `tunctl show` lists them, a ping across the VPN,
# the throughput of a short transfer and the counters, and cleans up.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ] || need+=(rustc-web cargo-web rust-web-src)
command -v ld >/dev/null || need+=(binutils)
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "==> building the illumos kernel modules (Debian rustc-web, -Zbuild-std)"
cargo xtask kmod
echo
echo "==> gates on the modules"
cargo xtask kmod-check
echo
echo "==> a VPN through the driver (simulated illumos host, Linux namespaces, tunneld)"
cargo run --release --quiet -p tuntap-tests --example demo
