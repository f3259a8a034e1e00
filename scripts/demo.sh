#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The main job, shown on this machine: build the illumos kernel module and
# its gate report, then run the driver on the simulated illumos host.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! [ -x /usr/bin/rustc ] || ! [ -d /usr/lib/rustlib/src/rust/library ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rustc-web cargo-web rust-web-src binutils >/dev/null
fi

echo "==> building the illumos kernel module (Debian rustc-web, -Zbuild-std)"
cargo xtask kmod
echo
echo "==> gates on the module"
cargo xtask kmod-check
echo
echo "==> the driver on the simulated illumos host"
cargo run --quiet -p tuntap-tests --example demo
