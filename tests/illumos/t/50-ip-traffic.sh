# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: ipadm create-if/create-addr on a tun link; ping leaves through it (driver-answered ARP), crosses two tunneld daemons over TLS to a second link; snoop -d sees the packets on both links
#
# Proves the data path between IP, mac, the driver and a userland daemon
# on a real kernel: IP resolves the peer through the ARP reply the tun
# link makes itself, transmitted packets reach the daemon attached to the
# link (tunneld's tx counter), packets the other daemon writes come up a
# second link (rx counter, snoop), and snoop sees both directions through
# mac's promiscuous path.  Both links are in the global zone's one IP
# stack, so the peer address is deliberately not configured on the second
# link (it would be delivered locally, never touching a link); the
# round trip with an echo reply is test 60-zone, where the peer is in a
# zone with its own stack.

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	A=$(link_name 50)
	B=$(link_name 51)
	LOCAL=$TUNTAP_TEST_NET.50.1
	PEER=$TUNTAP_TEST_NET.50.2
	tunneld_tun_pair "$A" "$B" $((TUNTAP_TEST_PORT_BASE + 50))

	# A queue is attached: both links are up.
	must dladm show-link -p -o state "$A"
	expect_eq "$OUT" up "state of $A with tunneld attached"
	must "$TUNCTL" show -p -o state,queues "$B"
	expect_eq "$OUT" "up:1" "tunctl's state of $B"
	# A link with a daemon attached cannot be deleted without -f.
	expect_status 6 "$TUNCTL" delete "$B"

	on_exit "ipadm delete-if $A >/dev/null 2>&1"
	must ipadm create-if -t "$A"
	must ipadm create-addr -t -T static -a "$LOCAL/24" "$A/v4"
	must ipadm show-if -p -o ifname,state "$A"
	expect_eq "$OUT" "$A:ok" "ipadm show-if"
	must ipadm show-addr -p -o addr "$A/v4"
	expect_eq "$OUT" "$LOCAL/24" "ipadm show-addr"

	start_snoop "$A" "$T_WORK/a.cap" icmp
	SNOOP_A=$SNOOP_PID
	start_snoop "$B" "$T_WORK/b.cap" icmp
	SNOOP_B=$SNOOP_PID

	TX_BEFORE=$(tunneld_counter "$TUNNELD_A_CONF" tx_packets)
	RX_BEFORE=$(tunneld_counter "$TUNNELD_B_CONF" rx_packets)
	# Nobody answers (see above): ping's status is not the point.
	run with_timeout 20 ping -s -n "$PEER" 56 3

	run arp -an
	printf '%s\n' "$OUT" | grep "$PEER" | grep -q '[0-9a-f][0-9a-f]*:[0-9a-f][0-9a-f]*:' ||
		fail "no resolved ARP entry for $PEER on $A: the tun link did not answer ARP"

	TX_AFTER=$(tunneld_counter "$TUNNELD_A_CONF" tx_packets)
	RX_AFTER=$(tunneld_counter "$TUNNELD_B_CONF" rx_packets)
	[ $((TX_AFTER - TX_BEFORE)) -ge 3 ] ||
		fail "tunneld on $A read $((TX_AFTER - TX_BEFORE)) packets from the link, expected at least 3 echo requests"
	[ $((RX_AFTER - RX_BEFORE)) -ge 3 ] ||
		fail "tunneld on $B wrote $((RX_AFTER - RX_BEFORE)) packets to the link, expected at least 3"
	echo "ok: tunneld carried $((TX_AFTER - TX_BEFORE)) packets from $A and wrote $((RX_AFTER - RX_BEFORE)) to $B"

	stop_process "$SNOOP_A"
	stop_process "$SNOOP_B"
	CAP_A=$(snoop_text "$T_WORK/a.cap")
	CAP_B=$(snoop_text "$T_WORK/b.cap")
	printf '%s\n' "$CAP_A" | sed 's/^/snoop A: /'
	printf '%s\n' "$CAP_B" | sed 's/^/snoop B: /'
	expect_echo_request "$CAP_A" "$LOCAL" "$PEER" "snoop -d $A"
	expect_echo_request "$CAP_B" "$LOCAL" "$PEER" "snoop -d $B"

	# Bad input: tunneld on a link that does not exist stops with its
	# "link could not be attached" status, 5.
	GONE=$(link_name 59)
	write_tunneld_config "$T_WORK/gone.toml" server "$GONE" $((TUNTAP_TEST_PORT_BASE + 59)) "$T_WORK/pki"
	expect_status 5 with_timeout 20 "$TUNNELD" --config "$T_WORK/gone.toml"

	must ipadm delete-if "$A"
	ip_plumbed "$A" && fail "ipadm still lists $A after delete-if"
	return 0
}
