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
OPENVPN=${OPENVPN:-$(first_executable openvpn /usr/sbin/openvpn \
	/opt/ooce/sbin/openvpn /opt/local/sbin/openvpn)}
export TUNCTL TUNNELD OPENVPN

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
# dladm show-linkprop in parsable form.
linkprop() {
	dladm show-linkprop -c -o "$3" -p "$2" "$1"
}

# links_snapshot: every datalink name, sorted, one per line.
links_snapshot() {
	dladm show-link -p -o link | sort
}

# new_links BEFORE-FILE: the datalinks that were not in BEFORE-FILE.
new_links() {
	links_snapshot | comm -13 "$1" -
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

# make_test_pki DIR: a CA, a server and a client certificate (P-256) for
# tunneld in DIR: ca.crt, server.crt/key (DNS name server.tuntap-test,
# serverAuth), client.crt/key (clientAuth).
make_test_pki() {
	dir=$1
	mkdir -p "$dir" || return 1
	(
		cd "$dir" || exit 1
		printf '%s\n' 'basicConstraints=critical,CA:TRUE' 'keyUsage=critical,keyCertSign,cRLSign' >ca.ext
		printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
			'extendedKeyUsage=serverAuth' 'subjectAltName=DNS:server.tuntap-test' >server.ext
		printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
			'extendedKeyUsage=clientAuth' 'subjectAltName=DNS:client.tuntap-test' >client.ext
		for who in ca server client; do
			openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$who.key" || exit 1
		done
		openssl req -new -key ca.key -subj /CN=tuntap-test-ca -out ca.csr &&
			openssl x509 -req -in ca.csr -signkey ca.key -days 2 -extfile ca.ext -out ca.crt || exit 1
		for who in server client; do
			openssl req -new -key "$who.key" -subj "/CN=$who.tuntap-test" -out "$who.csr" &&
				openssl x509 -req -in "$who.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
					-days 2 -extfile "$who.ext" -out "$who.crt" || exit 1
		done
	)
}

# write_tunneld_config FILE ROLE LINK PORT PKI-DIR: a tunneld
# configuration on 127.0.0.1:PORT with a status socket next to FILE.
write_tunneld_config() {
	file=$1
	role=$2
	link=$3
	port=$4
	pki=$5
	{
		echo "# SPDX-License-Identifier: MPL-2.0"
		echo "role = \"$role\""
		if [ "$role" = server ]; then
			echo "listen = \"127.0.0.1:$port\""
			echo "cert = \"$pki/server.crt\""
			echo "key = \"$pki/server.key\""
		else
			echo "connect = \"127.0.0.1:$port\""
			echo "server_name = \"server.tuntap-test\""
			echo "cert = \"$pki/client.crt\""
			echo "key = \"$pki/client.key\""
		fi
		echo "ca = \"$pki/ca.crt\""
		echo ""
		echo "[link]"
		echo "name = \"$link\""
		echo "mode = \"tun\""
		echo "mtu = 1500"
		if [ "$role" = client ]; then
			echo ""
			echo "[reconnect]"
			echo "min_ms = 200"
			echo "max_ms = 1000"
		fi
		echo ""
		echo "[status]"
		echo "socket = \"$file.sock\""
	} >"$file"
}

# tunneld_counter CONFIG KEY: one key=value of `tunneld status`.
tunneld_counter() {
	"$TUNNELD" status --config "$1" | sed -n "s/^$2=//p"
}

tunneld_connected() {
	[ "$(tunneld_counter "$1" state)" = connected ]
}

# start_tunneld_pair LINK-A LINK-B PORT: tunneld server on LINK-A and
# client on LINK-B joined over TLS on 127.0.0.1:PORT; both links must
# exist.  Sets TUNNELD_A_CONF, TUNNELD_B_CONF.  Stopped when the test ends.
start_tunneld_pair() {
	[ -n "$TUNNELD" ] || skip "tunneld not found (set TUNNELD=/path/to/tunneld)"
	require_cmd openssl
	pki=$T_WORK/pki
	make_test_pki "$pki" >"$T_WORK/pki.log" 2>&1 || fail "openssl could not make the test certificates: $(cat "$T_WORK/pki.log")"
	TUNNELD_A_CONF=$T_WORK/tunneld-a.toml
	TUNNELD_B_CONF=$T_WORK/tunneld-b.toml
	write_tunneld_config "$TUNNELD_A_CONF" server "$1" "$3" "$pki"
	write_tunneld_config "$TUNNELD_B_CONF" client "$2" "$3" "$pki"
	must "$TUNNELD" check --config "$TUNNELD_A_CONF"
	must "$TUNNELD" check --config "$TUNNELD_B_CONF"
	"$TUNNELD" --config "$TUNNELD_A_CONF" >"$T_WORK/tunneld-a.log" 2>&1 &
	pid_a=$!
	on_exit "stop_process $pid_a; sed 's/^/tunneld A: /' '$T_WORK/tunneld-a.log'"
	"$TUNNELD" --config "$TUNNELD_B_CONF" >"$T_WORK/tunneld-b.log" 2>&1 &
	pid_b=$!
	on_exit "stop_process $pid_b; sed 's/^/tunneld B: /' '$T_WORK/tunneld-b.log'"
	wait_until 20 "tunneld client on $2 connected to the server on $1" tunneld_connected "$TUNNELD_B_CONF"
	wait_until 10 "tunneld server on $1 has its session" tunneld_connected "$TUNNELD_A_CONF"
}

# ---- OpenVPN ------------------------------------------------------------

# openvpn_static_key FILE: a static key (OpenVPN 2.5+ syntax, then the
# older one).
openvpn_static_key() {
	"$OPENVPN" --genkey secret "$1" >/dev/null 2>&1 ||
		"$OPENVPN" --genkey --secret "$1" >/dev/null 2>&1
}

# openvpn_p2p_config FILE LOCAL REMOTE LPORT RPORT KEY STATUS-FILE: a
# static-key point-to-point configuration on 127.0.0.1 using `dev tun`
# (the old API: /dev/tun, TUNNEWPPA, IP plumbed over it).
openvpn_p2p_config() {
	{
		echo "# SPDX-License-Identifier: MPL-2.0"
		echo "dev tun"
		echo "proto udp"
		echo "local 127.0.0.1"
		echo "remote 127.0.0.1"
		echo "lport $4"
		echo "rport $5"
		echo "ifconfig $2 $3"
		echo "secret $6"
		echo "cipher AES-256-CBC"
		echo "auth SHA256"
		echo "status $7 1"
		# Keepalives every second, so each side hears from its peer
		# soon after both run.
		echo "ping 1"
		echo "verb 4"
		# 2.6 warns about static keys; newer releases want this to
		# accept them at all.
		if "$OPENVPN" --help 2>&1 | grep -q allow-deprecated-insecure-static-crypto; then
			echo "allow-deprecated-insecure-static-crypto"
		fi
	} >"$1"
}

# openvpn_device LOG: the device name OpenVPN opened ("TUN/TAP device
# tun3 opened").
openvpn_device() {
	sed -n 's/.*TUN\/TAP device \([a-z]*[0-9][0-9]*\) opened.*/\1/p' "$1" | tail -n 1
}

# openvpn_stat STATUS-FILE NAME: a counter of OpenVPN's version 1 status
# file ("TUN/TAP read bytes,1234").
openvpn_stat() {
	sed -n "s|^$2,||p" "$1" | tail -n 1
}

# ---- snoop ----------------------------------------------------------------

# start_snoop LINK FILE [FILTER...]: capture on LINK into FILE in the
# background (stopped when the test ends); sets SNOOP_PID.
start_snoop() {
	link=$1
	file=$2
	shift 2
	snoop -r -d "$link" -o "$file" "$@" >"$file.log" 2>&1 &
	SNOOP_PID=$!
	on_exit "stop_process $SNOOP_PID"
	# snoop opens the link before it prints its banner.
	sleep 2
	process_alive "$SNOOP_PID" || fail "snoop -d $link did not start: $(cat "$file.log")"
}

# snoop_text FILE: the capture as text (no name lookups).
snoop_text() {
	snoop -r -i "$1" 2>/dev/null
}

# start_openvpn TAG CONFIG: run OpenVPN in the background (stopped when
# the test ends) and wait until it has opened its tun device.  Sets
# OPENVPN_PID and OPENVPN_DEV (tunN); the log is $T_WORK/TAG.log.
start_openvpn() {
	log_file=$T_WORK/$1.log
	"$OPENVPN" --config "$2" >"$log_file" 2>&1 &
	OPENVPN_PID=$!
	on_exit "stop_process $OPENVPN_PID; sed 's/^/openvpn $1: /' '$log_file'"
	wait_until 30 "OpenVPN $1 opened its tun device" grep -q 'TUN/TAP device .* opened' "$log_file"
	OPENVPN_DEV=$(openvpn_device "$log_file")
	[ -n "$OPENVPN_DEV" ] || fail "OpenVPN $1 did not say which tun device it opened: $(cat "$log_file")"
	echo "OpenVPN $1 (pid $OPENVPN_PID) uses $OPENVPN_DEV"
}

# openvpn_ready TAG: wait until OpenVPN TAG has heard from its peer (a
# static-key tunnel completes its initialisation on the first packet).
openvpn_ready() {
	wait_until 30 "OpenVPN $1 finished its initialisation" grep -q 'Initialization Sequence Completed' "$T_WORK/$1.log"
}

# counter_at_least STATUS-FILE NAME MIN: OpenVPN's counter NAME >= MIN.
counter_at_least() {
	value=$(openvpn_stat "$1" "$2")
	[ -n "$value" ] && [ "$value" -ge "$3" ]
}

# addr_count IP: how many IP addresses equal to IP are configured.
addr_count() {
	pattern=$(printf '%s\n' "$1" | sed 's/\./\\./g')
	ipadm show-addr -p -o addr 2>/dev/null | grep -c "^$pattern\([^0-9]\|\$\)"
}

# ---- the driver ---------------------------------------------------------

# The /etc/devlink.tab lines that name /dev/tun, /dev/tap, /dev/tuntap
# (kernel/README.md); fields are separated by one tab.
DEVLINK_RULES="tun:tun tap:tap ctl:tuntap"

# devlink_line MINOR:NODE: the devlink.tab line for one minor node.
devlink_line() {
	printf 'type=ddi_pseudo;name=tun;minor=%s\t%s\n' "${1%%:*}" "${1#*:}"
}

# install_driver: copy the built modules (when built), add_drv the mac
# provider, then the STREAMS driver, add the devlink.tab rules, make the
# /dev links.  add_drv takes one -m with comma-separated entries (its
# getopt keeps only the last -m).
install_driver() {
	if modules_built; then
		must cp "$TUNTAP_KMOD_DIR/amd64/tuntap" "$TUNTAP_KMOD_DIR/amd64/tun" /kernel/drv/amd64/
		must cp "$TUNTAP_KMOD_DIR/tuntap.conf" "$TUNTAP_KMOD_DIR/tun.conf" /kernel/drv/
	elif [ ! -f /kernel/drv/amd64/tuntap ] || [ ! -f /kernel/drv/amd64/tun ]; then
		fail "no modules to install: $TUNTAP_KMOD_DIR has no build and /kernel/drv/amd64 has no tuntap and tun"
	fi
	must add_drv tuntap
	must add_drv -m 'tun 0666 root sys','tap 0666 root sys','ctl 0600 root sys' tun
	for rule in $DEVLINK_RULES; do
		line=$(devlink_line "$rule")
		grep -qxF "$line" /etc/devlink.tab || printf '%s\n' "$line" >>/etc/devlink.tab
	done
	must devfsadm -i tun
}

# node_mode PATH: the mode string of the device PATH resolves to.
node_mode() {
	# ls is the portable way to a mode string (illumos find has no -printf).
	# shellcheck disable=SC2012
	ls -lL "$1" 2>/dev/null | awk '{ print substr($1, 1, 10) }'
}

# check_installed: both drivers bound, their /dev links there with the
# documented modes, both modules loaded.
check_installed() {
	driver_installed || fail "tuntap and tun are not both in /etc/name_to_major"
	for rule in $DEVLINK_RULES; do
		line=$(devlink_line "$rule")
		grep -qxF "$line" /etc/devlink.tab || fail "/etc/devlink.tab lacks the rule '$line'"
	done
	expect_eq "$(node_mode /dev/tun)" crw-rw-rw- "mode of /dev/tun"
	expect_eq "$(node_mode /dev/tap)" crw-rw-rw- "mode of /dev/tap"
	expect_eq "$(node_mode /dev/tuntap)" crw------- "mode of /dev/tuntap"
	run ls -l /dev/tun /dev/tap /dev/tuntap
	expect_contains "$OUT" "pseudo/tun@0:tun" "the /dev/tun link"
	expect_contains "$OUT" "pseudo/tun@0:tap" "the /dev/tap link"
	expect_contains "$OUT" "pseudo/tun@0:ctl" "the /dev/tuntap link"
	# Opening the control node loads drv/tun, whose _depends_on loads
	# drv/tuntap first (the system may have unloaded idle modules).
	must "$TUNCTL" show
	[ -n "$(module_id tuntap)" ] || fail "modinfo does not list tuntap after tunctl opened /dev/tuntap"
	[ -n "$(module_id tun)" ] || fail "modinfo does not list tun after tunctl opened /dev/tuntap"
	modinfo | awk '$6 == "tuntap" || $6 == "tun"'
}

# expect_echo_request CAPTURE-TEXT SRC DST WHAT: a summary line of snoop
# shows an ICMP echo request from SRC to DST ("SRC -> DST ICMP Echo
# request (ID: ...)", snoop_icmp.c; the addresses may be padded).
expect_echo_request() {
	src=$(printf '%s\n' "$2" | sed 's/\./\\./g')
	dst=$(printf '%s\n' "$3" | sed 's/\./\\./g')
	if printf '%s\n' "$1" | grep -q "${src}[[:space:]]*->[[:space:]]*${dst}[[:space:]].*ICMP Echo request"; then
		echo "ok: $4 shows an echo request $2 -> $3"
	else
		fail "$4 shows no echo request $2 -> $3; it holds: $1"
	fi
}
