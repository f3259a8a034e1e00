#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
#
# Run every cargo-fuzz target in fuzz/ for a while.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); TARGETs default to all of them
# (`cargo fuzz list`: frame, ioctl_decode).  Findings land in
# fuzz/artifacts/<target>/, the growing corpus in fuzz/corpus/<target>/
# (both git-ignored); committed seeds are read from fuzz/seeds/<target>/.
#
# cargo fuzz needs a nightly compiler.  We use the same compiler as the
# kernel module, Debian's rustc (/usr/bin/rustc, /usr/bin/cargo), unlocked
# for nightly flags with RUSTC_BOOTSTRAP=1.  Debian's rustc ships no
# AddressSanitizer runtime, so the sanitizer is `none` unless the
# compiler has one; the targets are safe Rust and are built with debug
# assertions and overflow checks, so panics and overflows are still
# caught.  Override with FUZZ_CARGO, FUZZ_RUSTC, FUZZ_SANITIZER.
set -euo pipefail

secs=${1:-60}
shift || true
case $secs in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
fuzz_cargo=${FUZZ_CARGO:-/usr/bin/cargo}
fuzz_rustc=${FUZZ_RUSTC:-/usr/bin/rustc}
for tool in "$fuzz_cargo" "$fuzz_rustc"; do
    [ -x "$tool" ] || { echo "fuzz.sh: $tool not found (set FUZZ_CARGO/FUZZ_RUSTC)" >&2; exit 1; }
done

# cargo-fuzz itself builds with any stable cargo.
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    if command -v cargo >/dev/null 2>&1; then
        cargo install cargo-fuzz --locked
    else
        "$fuzz_cargo" install cargo-fuzz --locked
    fi
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

export RUSTC="$fuzz_rustc"
export RUSTC_BOOTSTRAP=1

if [ -z "${FUZZ_SANITIZER:-}" ]; then
    host=$("$fuzz_rustc" -vV | sed -n 's/^host: //p')
    sysroot=$("$fuzz_rustc" --print sysroot)
    if compgen -G "$sysroot/lib/rustlib/$host/lib/*asan*" >/dev/null; then
        FUZZ_SANITIZER=address
    else
        FUZZ_SANITIZER=none
    fi
fi

cd "$root/fuzz"
if [ $# -eq 0 ]; then
    mapfile -t targets < <("$fuzz_cargo" fuzz list)
else
    targets=("$@")
fi

echo "fuzz.sh: $("$fuzz_rustc" --version), sanitizer $FUZZ_SANITIZER, ${secs}s each: ${targets[*]}"
for target in "${targets[@]}"; do
    "$fuzz_cargo" fuzz build --sanitizer "$FUZZ_SANITIZER" "$target"
done

failed=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    corpora=("corpus/$target")
    [ -d "seeds/$target" ] && corpora+=("seeds/$target")
    echo "== $target"
    if ! "$fuzz_cargo" fuzz run --sanitizer "$FUZZ_SANITIZER" "$target" "${corpora[@]}" -- \
        -max_total_time="$secs" -max_len=4096 -print_final_stats=1; then
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz.sh: FAILED: ${failed[*]} (see fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz.sh: all targets ran ${secs}s without a finding"
