#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# shellcheck source-path=SCRIPTDIR
#
# Acceptance suite for a real illumos host (OpenIndiana, OmniOS): global
# zone, root, a disposable machine.  See tests/illumos/README.md.
#
#   sudo tests/illumos/run.sh [-k] [-v] [-s] [FILTER...]
#   sudo tests/illumos/run.sh --resume     # after the reboot a test asked for
#   tests/illumos/run.sh --list
#
# Written for POSIX sh (illumos' /bin/sh is ksh93; dash and bash --posix
# run it too).  Every test is a file t/NN-name.sh with a "# describe:"
# line and a function t_main; each runs in a fresh shell process that
# sources lib.sh and the file, so a test's `exit`, traps and variables
# cannot leak into the next one, and its cleanup trap always runs.
#
# Output is TAP: "1..N", then "ok N - name: description",
# "not ok N - ...", or "ok N - ... # SKIP reason".  Exit status: the number
# of failed tests, at most 125; 125 also when the suite could not run at
# all (usage error, missing prerequisites), with a "Bail out!" line that
# says why; 100 when nothing failed but a test asked for a reboot (then
# reboot and run `run.sh --resume`).

SUITE_DIR=$(cd "$(dirname "$0")" && pwd) || exit 125
SUITE_SCRIPT=$SUITE_DIR/run.sh
# Lists (files, filters) are newline-separated, so they may hold blanks.
newline='
'

usage() {
	cat <<EOF
usage: run.sh [-k|--keep-going] [-v|--verbose] [-s|--strict] [FILTER...]
       run.sh [-k] [-v] [-s] --resume
       run.sh -l|--list
       run.sh -h|--help

Runs the tests in $SUITE_DIR/t whose name (e.g. 30-linkprop) contains
one of the FILTERs (all tests without a filter).  Stops after the first
failure unless -k is given.  -v prints every test's log, not only the
logs of failed and skipped tests.  -s counts a skipped test as failed
(a CI run that must run everything).  A test that needs a reboot ends
its first phase with "# reboot pending"; the run then exits 100, and
after the reboot --resume runs only those tests' second phase.  --list
prints the tests and what each proves, and needs no prerequisites.

Environment: see tests/illumos/README.md (TUNTAP_ROOT, TUNTAP_KMOD_DIR,
TUNCTL, TUNNELD, OPENVPN, TUNTAP_TEST_ZONE, TUNTAP_TEST_NET,
TUNTAP_TEST_STATE_DIR, ...).
EOF
}

bail() {
	# bail MESSAGE: the suite cannot run at all.
	echo "Bail out! $*"
	exit 125
}

# description FILE: the text after "# describe:" in FILE.
description() {
	sed -n 's/^# describe:[[:space:]]*//p' "$1" | sed -n 1p
}

# test_name FILE: t/30-linkprop.sh -> 30-linkprop
test_name() {
	name=${1##*/}
	printf '%s\n' "${name%.sh}"
}

test_dir() {
	printf '%s\n' "${TUNTAP_TEST_T_DIR:-$SUITE_DIR/t}"
}

# all_tests: every t/NN-*.sh, in order, one per line.
all_tests() {
	for file in "$(test_dir)"/[0-9][0-9]-*.sh; do
		[ -f "$file" ] && printf '%s\n' "$file"
	done
}

# ---- one test, in its own process -------------------------------------

if [ "${1:-}" = "--run-one" ]; then
	# run.sh --run-one FILE WORKDIR: what the runner starts per test.
	T_FILE=$2
	T_WORK=$3
	T_NAME=$(test_name "$T_FILE")
	T_SKIP_FILE=$T_WORK/skip-reason
	export T_FILE T_WORK T_NAME T_SKIP_FILE
	# shellcheck source=lib.sh
	. "$SUITE_DIR/lib.sh"
	# shellcheck source=/dev/null
	. "$T_FILE"
	if ! command -v t_main >/dev/null 2>&1; then
		echo "FAIL: $T_FILE defines no t_main function" >&2
		exit 1
	fi
	t_main
	exit $?
fi

# ---- the runner -------------------------------------------------------

keep_going=no
verbose=no
strict=no
resume=no
list=no
filters=""
for arg in "$@"; do
	case $arg in
	-k | --keep-going) keep_going=yes ;;
	-v | --verbose) verbose=yes ;;
	-l | --list) list=yes ;;
	-s | --strict) strict=yes ;;
	--resume) resume=yes ;;
	-h | --help)
		usage
		exit 0
		;;
	-kv | -vk)
		keep_going=yes
		verbose=yes
		;;
	-*)
		usage >&2
		bail "unknown option '$arg'"
		;;
	*) filters="$filters$arg$newline" ;;
	esac
done

# selected FILE: 0 when FILE's name matches a filter (or there is none).
selected() {
	[ -z "$filters" ] && return 0
	name=$(test_name "$1")
	for f in $filters; do
		[ -n "$f" ] || continue
		case $name in
		*"$f"*) return 0 ;;
		esac
	done
	return 1
}

state_dir=${TUNTAP_TEST_STATE_DIR:-/var/tmp/tuntap-suite-state}

# pending FILE: 0 when FILE's test asked for a reboot and waits for
# --resume.
pending() {
	[ -f "$state_dir/$(test_name "$1").reboot" ]
}

if [ "$resume" = yes ] && [ -n "$filters" ]; then
	usage >&2
	bail "--resume takes no filter: it runs the tests that asked for the reboot"
fi

tests=""
count=0
saved_ifs=$IFS
IFS=$newline
for file in $(all_tests); do
	if [ "$resume" = yes ]; then
		pending "$file" || continue
	elif pending "$file"; then
		IFS=$saved_ifs
		bail "$(test_name "$file") waits for a reboot (marker in $state_dir): reboot, then run.sh --resume; or remove the marker to start over"
	fi
	if selected "$file"; then
		tests="$tests$file$newline"
		count=$((count + 1))
	fi
done
IFS=$saved_ifs

if [ "$list" = yes ]; then
	IFS=$newline
	for file in $tests; do
		printf '%s: %s\n' "$(test_name "$file")" "$(description "$file")"
	done
	exit 0
fi

[ "$count" -gt 0 ] || [ "$resume" = no ] || bail "--resume: no test waits for a reboot (no marker in $state_dir)"
[ "$count" -gt 0 ] || bail "no test matches the filter(s) $(printf '%s' "$filters" | tr '\n' ' ')(see run.sh --list)"

# ---- prerequisites ----------------------------------------------------

# Real runs need an illumos global zone, root and the built or installed
# driver.  TUNTAP_SUITE_SELFTEST=1 skips this check: it exists only so
# the harness itself can be tested on a build host with stand-in tests
# (xtask/tests/illumos_suite.rs); the real tests fail without illumos.
if [ "${TUNTAP_SUITE_SELFTEST:-0}" != 1 ]; then
	# shellcheck source=lib.sh
	. "$SUITE_DIR/lib.sh"
	problems=$(prerequisite_problems)
	if [ -n "$problems" ]; then
		echo "# The suite cannot run on this host:"
		printf '%s\n' "$problems" | sed 's/^/#   - /'
		echo "# See tests/illumos/README.md (it needs a disposable illumos VM)."
		bail "prerequisites missing"
	fi
fi

SUITE_WORK=$(mktemp -d "${TMPDIR:-/tmp}/tuntap-accept.XXXXXX") ||
	bail "cannot create a work directory under ${TMPDIR:-/tmp}"
export SUITE_WORK
if [ "${TUNTAP_TEST_KEEP_TMP:-0}" = 1 ]; then
	echo "# work directory (kept): $SUITE_WORK"
else
	trap 'rm -rf "$SUITE_WORK"' EXIT
fi
trap 'echo "Bail out! interrupted"; exit 125' INT TERM HUP

echo "1..$count"
n=0
failures=0
reboots=
IFS=$newline
for file in $tests; do
	IFS=$saved_ifs
	n=$((n + 1))
	name=$(test_name "$file")
	what=$(description "$file")
	work=$SUITE_WORK/$name
	mkdir -p "$work"
	log=$work/log
	sh "$SUITE_SCRIPT" --run-one "$file" "$work" >"$log" 2>&1 </dev/null
	status=$?
	failed=no
	case $status in
	0)
		echo "ok $n - $name: $what"
		[ "$verbose" = yes ] && sed 's/^/#   /' "$log"
		;;
	75)
		reason=$(cat "$state_dir/$name.reboot" 2>/dev/null)
		if [ "$resume" = yes ] || [ -z "$reason" ]; then
			failed=yes
			echo "not ok $n - $name: $what (asked for a reboot $([ "$resume" = yes ] && echo again || echo without writing its marker))"
		else
			echo "ok $n - $name: $what # reboot pending: $reason"
			[ "$verbose" = yes ] && sed 's/^/#   /' "$log"
			reboots="$reboots $name"
		fi
		;;
	77)
		reason=$(cat "$work/skip-reason" 2>/dev/null)
		if [ "$strict" = yes ]; then
			failed=yes
			echo "not ok $n - $name: $what (skipped, and -s allows no skip: ${reason:-no reason given})"
		else
			echo "ok $n - $name: $what # SKIP ${reason:-no reason given}"
			[ "$verbose" = yes ] && sed 's/^/#   /' "$log"
		fi
		;;
	*)
		failed=yes
		echo "not ok $n - $name: $what (exit status $status)"
		;;
	esac
	# A resumed test's second phase ran, whatever its result: it no
	# longer waits for a reboot.
	[ "$resume" = yes ] && rm -f "$state_dir/$name.reboot"
	if [ "$failed" = yes ]; then
		failures=$((failures + 1))
		sed 's/^/#   /' "$log"
		if [ "$keep_going" = no ] && [ "$n" -lt "$count" ]; then
			echo "Bail out! stopped after the first failure; $((count - n)) test(s) not run (use -k to keep going)"
			break
		fi
	fi
done

echo "# $n of $count test(s) run, $failures failed"
[ "$failures" -gt 125 ] && failures=125
if [ -n "$reboots" ] && [ "$failures" -eq 0 ]; then
	echo "# reboot pending for:$reboots; reboot the host, then run: $SUITE_SCRIPT --resume"
	exit 100
fi
[ -n "$reboots" ] && echo "# reboot pending for:$reboots (after the failures are fixed: reboot, then $SUITE_SCRIPT --resume)"
exit "$failures"
