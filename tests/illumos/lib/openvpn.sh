# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
#
# OpenVPN and snoop helpers (tests 70, 72, 74, 75, 80, 82, 92).
# Sourced by lib.sh; POSIX sh.

# openvpn_static_key FILE: a static key (OpenVPN 2.5+ syntax, then the
# older one).
openvpn_static_key() {
	"$OPENVPN" --genkey secret "$1" >/dev/null 2>&1 ||
		"$OPENVPN" --genkey --secret "$1" >/dev/null 2>&1
}

# openvpn_p2p_config FILE LOCAL REMOTE LPORT RPORT KEY STATUS-FILE: a
# static-key point-to-point configuration using the old API (/dev/tun,
# TUNNEWPPA, IP plumbed over it).  LOCAL REMOTE are the `ifconfig`
# arguments (for dev tap: LOCAL NETMASK).  Optional, from the
# environment: OVPN_DEV (tun, default, or tap), OVPN_TRANSPORT_LOCAL and
# OVPN_TRANSPORT_REMOTE (the UDP addresses, default 127.0.0.1), OVPN_EXTRA
# (more configuration lines, e.g. ifconfig-ipv6).
openvpn_p2p_config() {
	{
		echo "# SPDX-License-Identifier: MPL-2.0"
		echo "dev ${OVPN_DEV:-tun}"
		echo "proto udp"
		echo "local ${OVPN_TRANSPORT_LOCAL:-127.0.0.1}"
		echo "remote ${OVPN_TRANSPORT_REMOTE:-127.0.0.1}"
		echo "lport $4"
		echo "rport $5"
		echo "ifconfig $2 $3"
		echo "secret $6"
		echo "cipher AES-256-CBC"
		echo "auth SHA256"
		echo "status $7 1"
		[ -n "${OVPN_EXTRA:-}" ] && printf '%s\n' "$OVPN_EXTRA"
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

# openvpn_p2p_pair A B PORT: a static key (OPENVPN_KEY, in $T_WORK) and
# the configurations of two daemons that talk to each other on UDP ports
# PORT and PORT+1: $T_WORK/a.conf (ifconfig $TUNTAP_TEST_NET.A.1, peer
# .A.2; status $T_WORK/a.status) and $T_WORK/b.conf ($TUNTAP_TEST_NET.B.2,
# peer .B.1; status $T_WORK/b.status).
openvpn_p2p_pair() {
	OPENVPN_KEY=$T_WORK/static.key
	openvpn_static_key "$OPENVPN_KEY" || fail "$OPENVPN could not generate a static key"
	openvpn_p2p_config "$T_WORK/a.conf" "$TUNTAP_TEST_NET.$1.1" "$TUNTAP_TEST_NET.$1.2" "$3" $(($3 + 1)) "$OPENVPN_KEY" "$T_WORK/a.status"
	openvpn_p2p_config "$T_WORK/b.conf" "$TUNTAP_TEST_NET.$2.2" "$TUNTAP_TEST_NET.$2.1" $(($3 + 1)) "$3" "$OPENVPN_KEY" "$T_WORK/b.status"
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

# start_openvpn_pair: start_openvpn a and b with openvpn_p2p_pair's
# configurations and wait until each has heard from the other.  Sets
# PID_A, DEV_A, PID_B and DEV_B.
# shellcheck disable=SC2034 # the tests read them
start_openvpn_pair() {
	start_openvpn a "$T_WORK/a.conf"
	PID_A=$OPENVPN_PID
	DEV_A=$OPENVPN_DEV
	start_openvpn b "$T_WORK/b.conf"
	PID_B=$OPENVPN_PID
	DEV_B=$OPENVPN_DEV
	openvpn_ready a
	openvpn_ready b
}

# openvpn_ready TAG: wait until OpenVPN TAG has heard from its peer (a
# static-key tunnel completes its initialisation on the first packet).
openvpn_ready() {
	wait_until 30 "OpenVPN $1 finished its initialisation" grep -q 'Initialization Sequence Completed' "$T_WORK/$1.log"
}

# openvpn_carries_ping FROM TO ADDR FROM-DEV TO-DEV: three echo requests
# of 84 bytes each to ADDR; OpenVPN FROM reads them from FROM-DEV and
# OpenVPN TO writes them into TO-DEV (their counters in
# $T_WORK/FROM.status and TO.status, which OpenVPN writes every second).
openvpn_carries_ping() {
	sleep 2
	read_before=$(openvpn_stat "$T_WORK/$1.status" "TUN/TAP read bytes")
	written_before=$(openvpn_stat "$T_WORK/$2.status" "TUN/TAP write bytes")
	run with_timeout 20 ping -s -n "$3" 56 3
	wait_until 15 "OpenVPN $1 read the echo requests from $4" \
		counter_at_least "$T_WORK/$1.status" "TUN/TAP read bytes" $((${read_before:-0} + 252))
	wait_until 15 "OpenVPN $2 wrote them into $5" \
		counter_at_least "$T_WORK/$2.status" "TUN/TAP write bytes" $((${written_before:-0} + 252))
}

# counter_at_least STATUS-FILE NAME MIN: OpenVPN's counter NAME >= MIN.
counter_at_least() {
	value=$(openvpn_stat "$1" "$2")
	[ -n "$value" ] && [ "$value" -ge "$3" ]
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
