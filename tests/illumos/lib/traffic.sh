# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
#
# Offered load and measured rates (tests 40, 55, 74, 99).  The load is UDP from
# perl (in the base system of OpenIndiana and OmniOS); the rate is read
# from the kernel's own counters over a fixed window, so a bandwidth
# limit shows as the rate the link or flow let through.  Sourced by
# lib.sh; POSIX sh.

# Percent a measured limited rate may differ from its maxbw.  mac enforces
# maxbw per clock tick (a byte budget refilled every tick), so over
# seconds the rate should sit close to the limit; 25% leaves room for a
# busy VM and for the IP/UDP overhead the counters include.
TUNTAP_TEST_RATE_TOLERANCE=${TUNTAP_TEST_RATE_TOLERANCE:-25}
# Seconds over which a rate is measured.
TUNTAP_TEST_RATE_WINDOW=${TUNTAP_TEST_RATE_WINDOW:-8}

# start_udp_load DST PORT SIZE SECONDS: send SIZE-byte UDP datagrams to
# DST:PORT as fast as the stack takes them, for SECONDS, in the
# background (stopped when the test ends).  Sets LOAD_PID.  Send errors
# (ENOBUFS when mac holds packets back) are ignored: they are the point.
start_udp_load() {
	require_cmd perl
	perl -e '
		use IO::Socket::INET;
		my ($dst, $port, $size, $secs) = @ARGV;
		my $s = IO::Socket::INET->new(PeerAddr => $dst, PeerPort => $port,
		    Proto => "udp") or die "udp socket to $dst:$port: $!\n";
		my $data = "x" x $size;
		my $end = time + $secs;
		while (time < $end) { for (1 .. 64) { $s->send($data) } }
	' "$1" "$2" "$3" "$4" >"$T_WORK/load.$$.log" 2>&1 &
	LOAD_PID=$!
	on_exit "stop_process $LOAD_PID"
	sleep 1
	process_alive "$LOAD_PID" || fail "the UDP load to $1:$2 did not start: $(cat "$T_WORK/load.$$.log")"
}

# measure_rate KIND NAME: sets RATE to the bit rate of KIND (link: dladm
# show-link -s obytes; flow: flowstat obytes) NAME over
# TUNTAP_TEST_RATE_WINDOW seconds, in bits per second.  Runs in the test's
# shell (not in $(...)), so its failures end the test.
measure_rate() {
	case $1 in
	link) before=$(link_counter "$2" obytes) ;;
	flow) before=$(flow_counter "$2" obytes) ;;
	*) fail "measure_rate: unknown kind '$1'" ;;
	esac
	[ -n "$before" ] || fail "cannot read the obytes counter of $1 $2"
	sleep "$TUNTAP_TEST_RATE_WINDOW"
	case $1 in
	link) after=$(link_counter "$2" obytes) ;;
	flow) after=$(flow_counter "$2" obytes) ;;
	esac
	[ -n "$after" ] || fail "cannot read the obytes counter of $1 $2"
	RATE=$(rate_bps "$before" "$after" "$TUNTAP_TEST_RATE_WINDOW") ||
		fail "obytes of $1 $2 went from $before to $after: no rate"
	echo "$1 $2: obytes $before -> $after in ${TUNTAP_TEST_RATE_WINDOW}s: $(mbps "$RATE") Mbit/s"
}

# load_rate DST PORT KIND NAME: measure_rate KIND NAME while a UDP load
# of 1200-byte datagrams goes to DST:PORT for the window; sets RATE.
load_rate() {
	start_udp_load "$1" "$2" 1200 $((TUNTAP_TEST_RATE_WINDOW + 4))
	measure_rate "$3" "$4"
	stop_process "$LOAD_PID"
}

# expect_link_maxbw_paces WHAT LINK MAXBW DST PORT: with LINK's maxbw set
# to MAXBW, a UDP load to DST:PORT leaves LINK at MAXBW; reset-linkprop
# releases it again.  WHAT names the link in the messages.
expect_link_maxbw_paces() {
	on_exit "dladm reset-linkprop -t -p maxbw $2 >/dev/null 2>&1"
	must dladm set-linkprop -t -p maxbw="$3" "$2"
	load_rate "$4" "$5" link "$2"
	expect_rate_near "$1 with maxbw=$3" "$RATE" "$3"
	must dladm reset-linkprop -t -p maxbw "$2"
	load_rate "$4" "$5" link "$2"
	expect_rate_above "$1 after reset-linkprop maxbw" "$RATE" "$3"
}

# expect_rate_near WHAT RATE MAXBW: RATE (bit/s) is MAXBW (a dladm
# bandwidth such as 5M) within TUNTAP_TEST_RATE_TOLERANCE percent.
expect_rate_near() {
	limit=$(bw_to_bps "$3") || fail "bad bandwidth '$3'"
	if within_pct "$2" "$limit" "$TUNTAP_TEST_RATE_TOLERANCE"; then
		echo "ok: $1: $(mbps "$2") Mbit/s, within ${TUNTAP_TEST_RATE_TOLERANCE}% of maxbw $3"
	else
		fail "$1: $(mbps "$2") Mbit/s, not within ${TUNTAP_TEST_RATE_TOLERANCE}% of maxbw $3 ($(mbps "$limit") Mbit/s)"
	fi
}

# expect_rate_above WHAT RATE MAXBW: RATE is at least twice MAXBW (the
# limit is off, and the offered load is big enough that a limit would
# have shown).
expect_rate_above() {
	limit=$(bw_to_bps "$3") || fail "bad bandwidth '$3'"
	if at_least_times "$2" "$limit" 2; then
		echo "ok: $1: $(mbps "$2") Mbit/s, more than twice $3"
	else
		fail "$1: $(mbps "$2") Mbit/s without the limit; expected at least twice $3: either the limit stayed or the load is too small to prove it"
	fi
}
