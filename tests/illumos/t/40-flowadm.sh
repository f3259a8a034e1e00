# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: flowadm add-flow/show-flow/show-flowprop/remove-flow on a tun link; traffic through the flow counted by flowstat; measured rates with and without the flow's maxbw and the link's maxbw, within TUNTAP_TEST_RATE_TOLERANCE
#
# Proves a tun link is a full mac client target: mac's flow classifier
# accepts flows on it, classifies the link's real traffic into them
# (flowstat counts the flow's packets and not the others), and mac's
# bandwidth control holds a flow and the whole link to their maxbw.  The
# load is UDP to a peer behind the link (test 50's setup: two links
# joined by tunneld, the peer address left unconfigured); the rate is the
# kernel's obytes over TUNTAP_TEST_RATE_WINDOW seconds (lib/traffic.sh).
#
# flowadm: `add-flow [-t] -l link -a attr=value[,...] [-p prop=value]
# flow`, `show-flow -p -o flow,link`, `show-flowprop -c -o value -p maxbw
# flow`, `reset-flowprop -t -p maxbw flow`, `remove-flow -t flow`
# (usr/src/cmd/flowadm/flowadm.c: do_add_flow, do_show_flow,
# do_show_flowprop, do_reset_flowprop, do_remove_flow); flowstat's
# parsable fields (usr/src/cmd/flowstat/flowstat.c, flow_s_fields).

MAXBW=5M

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	require_cmd flowstat perl
	A=$(link_name 40)
	B=$(link_name 41)
	FLOW=tuntestflow40
	LOCAL=$TUNTAP_TEST_NET.40.1
	PEER=$TUNTAP_TEST_NET.40.2
	FLOW_PORT=$((TUNTAP_TEST_PORT_BASE + 140))
	OTHER_PORT=$((TUNTAP_TEST_PORT_BASE + 141))
	make_link "$A" tun
	make_link "$B" tun

	on_exit "flowadm remove-flow -t $FLOW >/dev/null 2>&1"
	must flowadm add-flow -t -l "$A" -a transport=udp,remote_port="$FLOW_PORT" -p maxbw="$MAXBW" "$FLOW"
	must flowadm show-flow -p -o flow,link "$FLOW"
	expect_eq "$OUT" "$FLOW:$A" "flowadm show-flow"
	must flowadm show-flow -p -o flow -l "$A"
	expect_line "$OUT" "$FLOW" "flows on $A"
	must flowadm show-flowprop -c -o value -p maxbw "$FLOW"
	# Whole Mbps, printed "%5u" (dladm_bw2str in libdladm.c).
	expect_eq "$(printf '%s' "$OUT" | tr -d ' ')" "${MAXBW%M}" "the flow's maxbw (Mbps)"

	# Bad input.
	must_fail flowadm add-flow -t -l "$A" -a transport=udp "$FLOW"
	must_fail flowadm add-flow -t -l "$(link_name 49)" -a transport=tcp tuntestflow41
	must_fail flowadm add-flow -t -l "$A" -a transport=icmp,local_port=80 tuntestflow42
	must_fail flowadm show-flow tuntestflow42

	# Traffic: A plumbed, its packets carried by tunneld to B.
	start_tunneld_pair "$A" "$B" $((TUNTAP_TEST_PORT_BASE + 40))
	on_exit "ipadm delete-if $A >/dev/null 2>&1"
	must ipadm create-if -t "$A"
	must ipadm create-addr -t -T static -a "$LOCAL/24" "$A/v4"

	# The flow's own traffic, limited by its maxbw, and counted by
	# flowstat.
	FLOW_BEFORE=$(flow_counter "$FLOW" opkts) || fail "flowstat has no opkts for $FLOW"
	start_udp_load "$PEER" "$FLOW_PORT" 1200 $((2 * TUNTAP_TEST_RATE_WINDOW + 4))
	LOAD=$LOAD_PID
	measure_rate flow "$FLOW"
	FLOW_RATE=$RATE
	measure_rate link "$A"
	LINK_RATE=$RATE
	stop_process "$LOAD"
	expect_rate_near "flow $FLOW with maxbw=$MAXBW" "$FLOW_RATE" "$MAXBW"
	expect_rate_near "link $A carrying only the limited flow" "$LINK_RATE" "$MAXBW"
	FLOW_AFTER=$(flow_counter "$FLOW" opkts)
	[ "$FLOW_AFTER" -gt "$FLOW_BEFORE" ] || fail "flowstat counted no packets of $FLOW ($FLOW_BEFORE -> $FLOW_AFTER)"

	# Traffic outside the flow: not limited, not counted in the flow.
	FLOW_BEFORE=$(flow_counter "$FLOW" obytes)
	load_rate "$PEER" "$OTHER_PORT" link "$A"
	expect_rate_above "link $A with traffic outside the flow" "$RATE" "$MAXBW"
	FLOW_AFTER=$(flow_counter "$FLOW" obytes)
	[ $((FLOW_AFTER - FLOW_BEFORE)) -lt 100000 ] ||
		fail "flowstat counted $((FLOW_AFTER - FLOW_BEFORE)) bytes of traffic to port $OTHER_PORT in $FLOW, which matches only port $FLOW_PORT"

	# The flow without its maxbw: its traffic is no longer limited.
	must flowadm reset-flowprop -t -p maxbw "$FLOW"
	load_rate "$PEER" "$FLOW_PORT" flow "$FLOW"
	expect_rate_above "flow $FLOW after reset-flowprop maxbw" "$RATE" "$MAXBW"

	must flowadm remove-flow -t "$FLOW"
	must flowadm show-flow -p -o flow -l "$A"
	expect_no_line "$OUT" "$FLOW" "flows on $A after remove-flow"

	# The link's own maxbw: all its traffic is held to it, and released
	# again by reset-linkprop.
	expect_link_maxbw_paces "link $A" "$A" "$MAXBW" "$PEER" "$OTHER_PORT"

	# tunneld read what the link let through: the driver delivered it.
	TX=$(tunneld_counter "$TUNNELD_A_CONF" tx_bytes)
	{ is_count "$TX" && [ "$TX" -gt 0 ]; } || fail "tunneld on $A read no bytes from the link (tx_bytes '$TX')"
	return 0
}
