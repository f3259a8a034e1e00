#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The driver and simulator tests under valgrind's memcheck (Debian
# package `valgrind`): an invalid read or write, a use after free or a bad
# free anywhere in driver or simulator code fails the run
# (--error-exitcode), even when the test itself would have passed.
# Only the simulator-based test binaries: the network-namespace traffic
# tests exercise Linux, not the driver's memory discipline.
#
#   scripts/memcheck.sh            # all of them (about a minute here)
#   scripts/memcheck.sh driver     # some of them, by test target name
set -euo pipefail
cd "$(dirname "$0")/.."

# Test targets of tuntap-sim (its unit tests and tests/) and the
# simulator tests of tuntap-tests.
targets=(tuntap_sim mac mblk streams rules driver ioctl_bad_input old_api_ip races datapath sim_rules)
[ $# -gt 0 ] && targets=("$@")

command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }

json=$(cargo test -p tuntap-sim -p tuntap-tests --no-run --message-format=json)
for name in "${targets[@]}"; do
    exe=$(printf '%s\n' "$json" |
        sed -n "s/.*\"target\":{[^}]*\"name\":\"$name\".*\"executable\":\"\([^\"]*\)\".*/\1/p" | head -n 1)
    if [ -z "$exe" ]; then
        echo "memcheck: no test binary for target '$name'" >&2
        exit 1
    fi
    echo "memcheck: $name"
    valgrind --quiet --error-exitcode=99 --leak-check=no "$exe" --test-threads=2 -q
done
echo "memcheck: no memory errors"
