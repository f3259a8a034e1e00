# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: dladm show-link -s and dlstat count real traffic on both links of a tunneld pair, in agreement with tunneld's counters; with MTU 9000 on both links, 8000-byte pings cross unfragmented
#
# Proves the driver's statistics (mc_getstat behind the link kstats) are
# the traffic that really crossed: echo requests leave link A (opackets,
# obytes), tunneld reads them (tx_packets, tx_bytes), the other tunneld
# writes them into link B (ipackets, rbytes), and dlstat agrees with
# dladm.  With MTU 9000 each 8000-byte echo request is one packet on each
# link, never fragments: a driver that clamped the MTU or cut packets
# would show several packets per ping, or fewer bytes.
#
# Fields: `dladm show-link -s -p -o FIELD` (link_s_fields,
# print_link_stats_cb: usr/src/cmd/dladm/dladm.c) and `dlstat -p -o
# FIELD` (total_s_fields, map_to_units: usr/src/cmd/dlstat/dlstat.c).

# snapshot TAG: every counter this test compares, into TAG_* variables.
snapshot() {
	for pair in "A_OPK:link_counter $A opackets" "A_OBY:link_counter $A obytes" \
		"B_IPK:link_counter $B ipackets" "B_RBY:link_counter $B rbytes" \
		"A_DLOPK:dlstat_counter $A opkts" "A_DLOBY:dlstat_counter $A obytes" \
		"B_DLIPK:dlstat_counter $B ipkts" "B_DLRBY:dlstat_counter $B rbytes"; do
		var=${pair%%:*}
		# shellcheck disable=SC2086 # the command and its words
		value=$(${pair#*:}) || fail "cannot read ${pair#*:}"
		eval "${1}_$var=$value"
	done
	eval "${1}_TXB=\$(tunneld_counter \"\$TUNNELD_A_CONF\" tx_bytes)"
	eval "${1}_RXB=\$(tunneld_counter \"\$TUNNELD_B_CONF\" rx_bytes)"
}

# delta NAME: AFTER_NAME - BEFORE_NAME
delta() {
	eval "echo \$((AFTER_$1 - BEFORE_$1))"
}

# expect_between WHAT VALUE LOW HIGH
expect_between() {
	if ! is_count "$2" || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
		fail "$1 is $2, expected $3..$4"
	fi
	echo "ok: $1 = $2 (expected $3..$4)"
}

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	require_cmd dlstat
	A=$(link_name 55)
	B=$(link_name 56)
	LOCAL=$TUNTAP_TEST_NET.55.1
	PEER=$TUNTAP_TEST_NET.55.2
	COUNT=5
	SIZE=8000
	# An IPv4 echo request of SIZE data bytes: 20 (IP) + 8 (ICMP) + SIZE.
	PACKET=$((SIZE + 28))
	tunneld_tun_pair "$A" "$B" $((TUNTAP_TEST_PORT_BASE + 55)) 9000
	on_exit "ipadm delete-if $A >/dev/null 2>&1"
	must ipadm create-if -t "$A"
	must ipadm create-addr -t -T static -a "$LOCAL/24" "$A/v4"
	must dladm show-link -p -o mtu "$A"
	expect_eq "$OUT" 9000 "MTU of $A"
	# Resolve the peer first, so ARP is not in the counted window.
	run with_timeout 10 ping -s -n "$PEER" 56 1
	sleep 1

	snapshot BEFORE
	# Nobody answers (see test 50): the requests are what is counted.
	run with_timeout 30 ping -s -n "$PEER" "$SIZE" "$COUNT"
	sleep 2
	snapshot AFTER

	# Some slack for a stray packet (IPv6 neighbour discovery, a late ARP).
	expect_between "opackets of $A" "$(delta A_OPK)" "$COUNT" $((COUNT + 3))
	expect_between "obytes of $A" "$(delta A_OBY)" $((COUNT * PACKET)) $((COUNT * PACKET + 600))
	expect_between "ipackets of $B" "$(delta B_IPK)" "$COUNT" $((COUNT + 3))
	expect_between "rbytes of $B" "$(delta B_RBY)" $((COUNT * PACKET)) $((COUNT * PACKET + 600))
	# dlstat reads the same kstats through libdladm's stat collection.
	expect_between "dlstat opkts of $A" "$(delta A_DLOPK)" "$COUNT" $((COUNT + 3))
	expect_between "dlstat obytes of $A" "$(delta A_DLOBY)" $((COUNT * PACKET)) $((COUNT * PACKET + 600))
	expect_between "dlstat ipkts of $B" "$(delta B_DLIPK)" "$COUNT" $((COUNT + 3))
	expect_between "dlstat rbytes of $B" "$(delta B_DLRBY)" $((COUNT * PACKET)) $((COUNT * PACKET + 600))
	# The daemons saw the same bytes (tunneld counts the packets it read
	# from and wrote to the link).
	expect_between "tunneld tx_bytes on $A" "$(delta TXB)" $((COUNT * PACKET)) $((COUNT * PACKET + 600))
	expect_between "tunneld rx_bytes on $B" "$(delta RXB)" $((COUNT * PACKET)) $((COUNT * PACKET + 600))

	# Above the MTU: IP fragments the request into two packets, each
	# within 9000 bytes; the link carries both, nothing more.
	snapshot BEFORE
	run with_timeout 10 ping -s -n "$PEER" 9100 1
	sleep 2
	snapshot AFTER
	expect_between "ipackets of $B for one 9100-byte ping" "$(delta B_IPK)" 2 4
	expect_between "rbytes of $B for one 9100-byte ping" "$(delta B_RBY)" $((9100 + 28 + 20)) $((9100 + 28 + 20 + 600))
	return 0
}
