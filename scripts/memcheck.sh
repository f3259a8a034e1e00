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

command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }

# Every test binary of tuntap-sim (unit tests and tests/) and of
# tuntap-tests except the traffic_* ones (name<TAB>path).
json=$(cargo test -p tuntap-sim -p tuntap-tests --no-run --message-format=json)
all=$(printf '%s\n' "$json" |
    sed -n 's/.*"target":{[^}]*"name":"\([^"]*\)".*"executable":"\([^"]*\/deps\/[^"]*\)".*/\1\t\2/p' |
    grep -v '^traffic_' | sort -u)
if [ $# -gt 0 ]; then
    wanted=$(printf '%s\n' "$@")
    all=$(printf '%s\n' "$all" | awk -F '\t' 'NR == FNR { w[$1] = 1; next } w[$1]' <(printf '%s\n' "$wanted") -)
fi
[ -n "$all" ] || { echo "memcheck: no test binary selected" >&2; exit 1; }
while IFS=$'\t' read -r name exe; do
    echo "memcheck: $name"
    valgrind --quiet --error-exitcode=99 --leak-check=no "$exe" --test-threads=2 -q
done <<<"$all"
echo "memcheck: no memory errors"
