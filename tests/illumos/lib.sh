# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
#
# Helpers for the illumos acceptance suite, sourced by run.sh (for the
# prerequisite check) and by every test process (run.sh --run-one).
# POSIX sh.  Facts about illumos commands are cited in README.md.
#
# A test fails at its first failed check: `fail` exits the test process,
# whose EXIT trap then runs the cleanups registered with `on_exit`, newest
# first.
#
# POSIX sh has no local variables: helpers here use lower-case names, so
# tests keep their own state in UPPER-CASE names.

PATH=/usr/sbin:/usr/bin:/sbin:$PATH
export PATH

SUITE_DIR=${SUITE_DIR:-$(cd "$(dirname "$0")" && pwd)}
TUNTAP_ROOT=${TUNTAP_ROOT:-$(cd "$SUITE_DIR/../.." && pwd)}
TUNTAP_KMOD_DIR=${TUNTAP_KMOD_DIR:-$TUNTAP_ROOT/out/kernel}
# 10.X.*.*: the test networks.  Each test uses its own third octet.
TUNTAP_TEST_NET=${TUNTAP_TEST_NET:-10.231}
TUNTAP_TEST_PORT_BASE=${TUNTAP_TEST_PORT_BASE:-47310}
# Links the suite creates are named PREFIX<n>, so leftovers are easy to
# recognise (and tunctl cleanup never has to guess).
TUNTAP_TEST_LINK_PREFIX=${TUNTAP_TEST_LINK_PREFIX:-tuntest}

# first_executable CANDIDATE...: the first that is an executable file
# (a bare name is looked up in PATH).
first_executable() {
	for candidate in "$@"; do
		[ -n "$candidate" ] || continue
		case $candidate in
		*/*) [ -x "$candidate" ] && [ -f "$candidate" ] && {
			printf '%s\n' "$candidate"
			return 0
		} ;;
		*) command -v "$candidate" 2>/dev/null && return 0 ;;
		esac
	done
	return 1
}

TUNCTL=${TUNCTL:-$(first_executable tunctl \
	"$TUNTAP_ROOT/target/x86_64-unknown-illumos/release/tunctl" \
	"$TUNTAP_ROOT/target/release/tunctl")}
TUNNELD=${TUNNELD:-$(first_executable tunneld \
	"$TUNTAP_ROOT/target/x86_64-unknown-illumos/release/tunneld" \
	"$TUNTAP_ROOT/target/release/tunneld")}
# Where the distributions put OpenVPN: OpenIndiana's network/openvpn
# /usr/sbin (oi-userland components/network/openvpn/openvpn.p5m), OmniOS'
# ooce/network/openvpn under its own prefix /opt/ooce/openvpn
# (omnios-extra build/openvpn/build.sh: PREFIX+="/$PROG"), pkgsrc
# /opt/local/sbin, and /usr/local/sbin for a build from source
# (README.md: OpenVPN without the old driver).
OPENVPN=${OPENVPN:-$(first_executable openvpn /usr/sbin/openvpn \
	/opt/ooce/openvpn/sbin/openvpn /opt/ooce/sbin/openvpn \
	/opt/local/sbin/openvpn /usr/local/sbin/openvpn)}
export TUNCTL TUNNELD OPENVPN

# Where a test that asks for a reboot keeps what it must find afterwards
# (it has to survive the reboot: not /tmp, which is swap-backed).
TUNTAP_TEST_STATE_DIR=${TUNTAP_TEST_STATE_DIR:-/var/tmp/tuntap-suite-state}
export TUNTAP_TEST_STATE_DIR

# The pure parsers first: the other helpers use them.
# shellcheck source=lib/parse.sh
. "$SUITE_DIR/lib/parse.sh"

# ---- facts about the host -----------------------------------------------

driver_installed() {
	grep -q '^tuntap[[:space:]]' /etc/name_to_major 2>/dev/null &&
		grep -q '^tun[[:space:]]' /etc/name_to_major 2>/dev/null
}

modules_built() {
	[ -f "$TUNTAP_KMOD_DIR/amd64/tuntap" ] && [ -f "$TUNTAP_KMOD_DIR/amd64/tun" ] &&
		[ -f "$TUNTAP_KMOD_DIR/tuntap.conf" ] && [ -f "$TUNTAP_KMOD_DIR/tun.conf" ]
}

# module_id NAME: the modinfo id of loaded module NAME (empty when not
# loaded).  modinfo's columns: Id Loadaddr Size Info Rev Module-Name.
module_id() {
	modinfo | awk -v m="$1" '$6 == m { print $1; exit }'
}

# prerequisite_problems: one line per missing prerequisite (none: ready).
prerequisite_problems() {
	os=$(uname -s 2>/dev/null)
	if [ "$os" != SunOS ]; then
		echo "not illumos: uname -s says '$os'; this suite drives a real illumos kernel (OpenIndiana, OmniOS), in a disposable VM"
	fi
	uid=$(id -u 2>/dev/null)
	[ "$uid" = 0 ] || echo "not root (uid '$uid'): run it as root, e.g. sudo or pfexec tests/illumos/run.sh"
	if [ "$os" = SunOS ]; then
		zone=$(zonename 2>/dev/null)
		[ "$zone" = global ] || echo "not the global zone (zonename says '$zone'): drivers are added and links made from the global zone"
	fi
	missing=""
	for tool in dladm ipadm flowadm snoop modinfo modunload add_drv rem_drv devfsadm ping arp ifconfig svcadm svccfg svcs zoneadm mktemp awk sed sort comm; do
		command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
	done
	[ -z "$missing" ] || echo "commands not found in PATH ($PATH):$missing"
	if ! driver_installed && ! modules_built; then
		echo "the driver is neither installed (no tuntap and tun in /etc/name_to_major) nor built: $TUNTAP_KMOD_DIR needs amd64/tuntap, amd64/tun, tuntap.conf and tun.conf (cargo xtask kmod, then copy out/kernel here, or set TUNTAP_KMOD_DIR)"
	fi
	if [ -r /etc/name_to_major ]; then
		foreign=$(foreign_tuntap_drivers </etc/name_to_major)
		if [ -n "$foreign" ]; then
			printf '%s\n' "$foreign" | while IFS= read -r reason; do
				echo "a foreign tun/tap driver is installed: $reason.  Remove it first (pkg uninstall driver/network/tun driver/network/tap on OpenIndiana, pkg uninstall driver/tuntap on OmniOS, or rem_drv tap; rem_drv tun).  The distributions' OpenVPN packages require those packages: install OpenVPN without them as tests/illumos/README.md describes"
			done
		fi
	fi
	if [ -z "$TUNCTL" ]; then
		echo "tunctl not found: install network/tunctl, put tunctl in PATH, or set TUNCTL=/path/to/tunctl (cargo build --release -p tunctl on illumos)"
	elif [ ! -x "$TUNCTL" ]; then
		echo "TUNCTL=$TUNCTL is not an executable file"
	fi
	return 0
}

# ---- test plumbing ------------------------------------------------------

CLEANUP_COUNT=0

# on_exit COMMAND: run COMMAND (a shell string) when the test ends, in any
# way; the newest registration runs first.
on_exit() {
	CLEANUP_COUNT=$((CLEANUP_COUNT + 1))
	eval "CLEANUP_$CLEANUP_COUNT=\$1"
}

run_cleanups() {
	status=$?
	trap - EXIT
	while [ "$CLEANUP_COUNT" -gt 0 ]; do
		cleanup_command=""
		eval "cleanup_command=\$CLEANUP_$CLEANUP_COUNT"
		CLEANUP_COUNT=$((CLEANUP_COUNT - 1))
		echo "cleanup: $cleanup_command"
		(eval "$cleanup_command") || echo "cleanup failed (ignored): $cleanup_command"
	done
	exit "$status"
}

trap run_cleanups EXIT
trap 'exit 130' INT TERM HUP

log() {
	echo "# $*"
}

fail() {
	echo "FAIL: $*"
	exit 1
}

skip() {
	[ -n "${T_SKIP_FILE:-}" ] && printf '%s\n' "$*" >"$T_SKIP_FILE"
	echo "SKIP: $*"
	exit 77
}

# require_cmd NAME...: skip the test unless every NAME is in PATH.
require_cmd() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || skip "command '$tool' is not installed"
	done
}

# run CMD ARGS...: run it, keep stdout in $OUT, stderr in $ERR and the
# exit status in $RC; log all of it.  Never fails by itself.
run() {
	echo "\$ $*"
	OUT_FILE=$T_WORK/out.$$
	ERR_FILE=$T_WORK/err.$$
	"$@" >"$OUT_FILE" 2>"$ERR_FILE"
	RC=$?
	OUT=$(cat "$OUT_FILE")
	ERR=$(cat "$ERR_FILE")
	[ -n "$OUT" ] && printf '%s\n' "$OUT" | sed 's/^/  | /'
	[ -n "$ERR" ] && printf '%s\n' "$ERR" | sed 's/^/  ! /'
	[ "$RC" -ne 0 ] && echo "  (exit status $RC)"
	return 0
}

# must CMD...: run it and fail the test unless it succeeds.
must() {
	run "$@"
	[ "$RC" -eq 0 ] || fail "'$*' failed with exit status $RC: $ERR"
}

# must_fail CMD...: run it and fail the test if it succeeds.
must_fail() {
	run "$@"
	[ "$RC" -ne 0 ] || fail "'$*' succeeded but must be refused"
}

# expect_status N CMD...: run it and fail unless its exit status is N.
expect_status() {
	want=$1
	shift
	run "$@"
	[ "$RC" -eq "$want" ] || fail "'$*' exited $RC, expected $want: $ERR"
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
	echo "ok: $3 = '$2'"
}

# expect_contains TEXT NEEDLE WHAT
expect_contains() {
	case $1 in
	*"$2"*) echo "ok: $3 contains '$2'" ;;
	*) fail "$3 does not contain '$2'; it is: $1" ;;
	esac
}

# expect_lacks TEXT NEEDLE WHAT
expect_lacks() {
	case $1 in
	*"$2"*) fail "$3 contains '$2' but must not; it is: $1" ;;
	*) echo "ok: $3 lacks '$2'" ;;
	esac
}

# expect_line TEXT LINE WHAT: TEXT has LINE as a whole line.
expect_line() {
	if printf '%s\n' "$1" | grep -qx -- "$2"; then
		echo "ok: $3 has the line '$2'"
	else
		fail "$3 has no line '$2'; it is: $1"
	fi
}

expect_no_line() {
	if printf '%s\n' "$1" | grep -qx -- "$2"; then
		fail "$3 has the line '$2' but must not"
	else
		echo "ok: $3 has no line '$2'"
	fi
}

# wait_until SECONDS WHAT CMD...: poll CMD once a second until it succeeds.
wait_until() {
	limit=$1
	what=$2
	shift 2
	waited=0
	until "$@" >/dev/null 2>&1; do
		[ "$waited" -ge "$limit" ] && fail "$what: not true after $limit seconds ($*)"
		sleep 1
		waited=$((waited + 1))
	done
	echo "ok: $what (after ${waited}s)"
}

# with_timeout SECONDS CMD...: run CMD, killing it after SECONDS; returns
# CMD's status, or 124 when it had to be killed.
with_timeout() {
	limit=$1
	shift
	marker=$T_WORK/timeout.$$
	rm -f "$marker"
	"$@" &
	child=$!
	(
		sleep "$limit"
		if kill -TERM "$child" 2>/dev/null; then
			: >"$marker"
			echo "timeout: killed '$*' after ${limit}s"
		fi
	) &
	watchdog=$!
	wait "$child"
	status=$?
	kill -TERM "$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null
	if [ -e "$marker" ]; then
		rm -f "$marker"
		return 124
	fi
	return "$status"
}

# ---- links --------------------------------------------------------------

# link_name N: the test link name N (e.g. tuntest3).
link_name() {
	printf '%s%s\n' "$TUNTAP_TEST_LINK_PREFIX" "$1"
}

link_exists() {
	dladm show-link "$1" >/dev/null 2>&1
}

link_absent() {
	! link_exists "$1"
}

ip_plumbed() {
	ipadm show-if -p -o ifname 2>/dev/null | grep -qx "$1"
}

# remove_link NAME: unplumb IP and delete NAME, whatever state it is in
# (a cleanup step: never fails).
remove_link() {
	if ip_plumbed "$1"; then
		ipadm delete-if "$1" >/dev/null 2>&1 || ifconfig "$1" unplumb >/dev/null 2>&1
	fi
	if link_exists "$1"; then
		"$TUNCTL" delete -f "$1" >/dev/null 2>&1
	fi
	link_absent "$1" || echo "warning: link $1 is still there after cleanup"
}

# make_link NAME MODE [TUNCTL-OPTIONS...]: a temporary link, removed when
# the test ends.
make_link() {
	name=$1
	mode=$2
	shift 2
	link_absent "$name" || fail "link $name exists before the test: a previous run left it (remove it with '$TUNCTL delete -f $name')"
	on_exit "remove_link $name"
	must "$TUNCTL" create -t -T "$mode" "$@" "$name"
}

# linkprop LINK PROP FIELD: one field (value, default, possible, perm) of
# dladm show-linkprop in parsable form (-c, print_linkprop in
# usr/src/cmd/dladm/dladm.c through ofmt): an unset value is an empty
# string here, not the "--" of the human form (see parsable_value).
linkprop() {
	dladm show-linkprop -c -o "$3" -p "$2" "$1" | parsable_value
}

# link_counter LINK STAT: one statistic of `dladm show-link -s -p -o STAT
# LINK` (fields link, ipackets, rbytes, ierrors, opackets, obytes,
# oerrors: link_s_fields and print_link_stats_cb in dladm.c).
link_counter() {
	dladm show-link -s -p -o "$2" "$1" | counter_value
}

# dlstat_counter LINK STAT: one statistic of `dlstat -p -o STAT LINK`
# (fields link, ipkts, rbytes, opkts, obytes: total_s_fields in
# usr/src/cmd/dlstat/dlstat.c; raw numbers in parsable mode,
# map_to_units).
dlstat_counter() {
	dlstat -p -o "$2" "$1" | counter_value
}

# flow_counter FLOW STAT: one statistic of `flowstat -p -o STAT FLOW`
# (fields flow, ipkts, rbytes, ierrs, opkts, obytes, oerrs: flow_s_fields
# in usr/src/cmd/flowstat/flowstat.c).
flow_counter() {
	flowstat -p -o "$2" "$1" | counter_value
}

# links_snapshot: every datalink name, sorted, one per line.
links_snapshot() {
	dladm show-link -p -o link | sort
}

# new_links BEFORE-FILE: the datalinks that were not in BEFORE-FILE.
new_links() {
	links_snapshot | comm -13 "$1" -
}

# addr_count IP: how many configured IP addresses equal IP (count_addr;
# `ipadm show-addr -p -o addr`, one field: printed raw).
addr_count() {
	ipadm show-addr -p -o addr 2>/dev/null | count_addr "$1"
}

# ---- processes ----------------------------------------------------------

process_alive() {
	kill -0 "$1" 2>/dev/null
}

# stop_process PID: SIGTERM, SIGKILL after 10 s; reaps the process when
# it is a child of this shell (a zombie still answers kill -0).  A
# cleanup step: never fails.
stop_process() {
	process_alive "$1" || return 0
	kill -TERM "$1" 2>/dev/null
	(
		sleep 10
		kill -KILL "$1" 2>/dev/null
	) &
	killer=$!
	# Returns when our child exits; at once for anyone else's process.
	wait "$1" 2>/dev/null
	waited=0
	while process_alive "$1" && [ "$waited" -lt 12 ]; do
		sleep 1
		waited=$((waited + 1))
	done
	kill -TERM "$killer" 2>/dev/null
	wait "$killer" 2>/dev/null
	return 0
}

# kill_hard PID: SIGKILL, as a crash would, and reap it if it is ours.
kill_hard() {
	kill -KILL "$1" || return 1
	wait "$1" 2>/dev/null
	return 0
}

# ---- TLS material and tunneld -----------------------------------------

# ---- the concerns in lib/ --------------------------------------------------

# shellcheck source=lib/tunneld.sh
. "$SUITE_DIR/lib/tunneld.sh"
# shellcheck source=lib/openvpn.sh
. "$SUITE_DIR/lib/openvpn.sh"
# shellcheck source=lib/driver.sh
. "$SUITE_DIR/lib/driver.sh"
# shellcheck source=lib/traffic.sh
. "$SUITE_DIR/lib/traffic.sh"
# shellcheck source=lib/smf.sh
. "$SUITE_DIR/lib/smf.sh"
# shellcheck source=lib/reboot.sh
. "$SUITE_DIR/lib/reboot.sh"
# shellcheck source=lib/ips.sh
. "$SUITE_DIR/lib/ips.sh"
