# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: old API through mac (issue 13): an unmodified OpenVPN dev tun tunnel's IP traffic is held to the link's maxbw (measured), seen both ways by snoop -d tunN and counted by the link; a flowadm flow on the load's port counts it and paces it at its own maxbw
#
# Proves that the DLPI stream OpenVPN plumbs IP on relays onto a dld
# stream of the unit's link (tuntap-drv/src/dlpi/relay.rs), so dls's
# client of the link carries OpenVPN's traffic as it carries IP plumbed
# with ipadm: `dladm set-linkprop -p maxbw` made by an administrator paces
# it, snoop's passive promiscuous stream on /dev/net/tunN sees IP's
# packets out and the daemon's in, the link's obytes move with the load,
# and a flowadm flow on the link (mac_flow.c mac_link_flow_add attaches it
# to dls's client) counts the load on its port in flowstat and paces it at
# the flow's own maxbw.  The relay module tunrly is linked in drv/tun's
# modlinkage; a kernel that falls back to the stream's own mac client
# (mac_client.rs) fails the flow checks, naming the relay.
#
# Known loss, not pacing (review M3): the relay has no flow control
# toward IP.  Once maxbw (the link's or a flow's) backlogs dls's client,
# mac_tx returns a cookie and dld marks its write queue full
# (DLD_SETQFULL, dld_str.c str_mdata_raw_put); until MAC_NOTE_TX
# re-enables it the relay drops IP's packets and counts them (oerrors,
# sdt tuntap-drop NoBuffer) instead of holding IP back.  The rates below
# are what gets through under a UDP load, which is paced to maxbw either
# way; a TCP flow over such a tunnel sees bursts of loss, not
# back-pressure.

MAXBW=5M

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	[ -n "$OPENVPN" ] || skip "OpenVPN is not installed (set OPENVPN=/path/to/openvpn)"
	require_cmd flowstat perl
	BEFORE=$T_WORK/links.before
	links_snapshot >"$BEFORE"
	NET=$TUNTAP_TEST_NET
	PORT=$((TUNTAP_TEST_PORT_BASE + 74))
	LOAD_PORT=$((TUNTAP_TEST_PORT_BASE + 174))
	FLOW=tuntestflow74
	openvpn_p2p_pair 74 75 "$PORT"
	start_openvpn_pair

	# snoop -d sees IP's packets out of the unit and the daemon's in.
	start_snoop "$DEV_A" "$T_WORK/a.cap" icmp
	SNOOP_A=$SNOOP_PID
	run with_timeout 20 ping -s -n "$NET.74.2" 56 3
	sleep 2
	stop_process "$SNOOP_A"
	CAP_A=$(snoop_text "$T_WORK/a.cap")
	printf '%s\n' "$CAP_A" | sed 's/^/snoop: /'
	expect_echo_request "$CAP_A" "$NET.74.1" "$NET.74.2" "snoop -d $DEV_A (IP's packets, transmitted)"

	# The link's maxbw paces OpenVPN's IP traffic.
	expect_link_maxbw_paces "OpenVPN's $DEV_A" "$DEV_A" "$MAXBW" "$NET.74.2" "$LOAD_PORT"

	# A flow on the load's port: attached to dls's client of the link,
	# which carries OpenVPN's traffic through the relay, so flowstat counts
	# the load and the flow's maxbw paces it.
	on_exit "flowadm remove-flow -t $FLOW >/dev/null 2>&1"
	must flowadm add-flow -t -l "$DEV_A" -a transport=udp,remote_port="$LOAD_PORT" -p maxbw="$MAXBW" "$FLOW"
	FLOW_BEFORE=$(flow_counter "$FLOW" opkts) || fail "flowstat has no opkts for $FLOW"
	LINK_BEFORE=$(link_counter "$DEV_A" opackets)
	load_rate "$NET.74.2" "$LOAD_PORT" link "$DEV_A"
	FLOW_AFTER=$(flow_counter "$FLOW" opkts)
	LINK_AFTER=$(link_counter "$DEV_A" opackets)
	[ $((LINK_AFTER - LINK_BEFORE)) -gt 100 ] || fail "the load did not cross $DEV_A ($LINK_BEFORE -> $LINK_AFTER packets)"
	[ $((FLOW_AFTER - FLOW_BEFORE)) -ge $(((LINK_AFTER - LINK_BEFORE) * 9 / 10)) ] ||
		fail "flowstat counted $((FLOW_AFTER - FLOW_BEFORE)) of OpenVPN's $((LINK_AFTER - LINK_BEFORE)) packets in $FLOW: the old-API stream is not relayed through dls's client (tuntap-drv/src/dlpi/relay.rs; is the tunrly module registered?)"
	expect_rate_near "OpenVPN's load on $FLOW with the flow's maxbw=$MAXBW" "$RATE" "$MAXBW"
	echo "ok: $FLOW on $DEV_A counted $((FLOW_AFTER - FLOW_BEFORE)) of OpenVPN's $((LINK_AFTER - LINK_BEFORE)) packets and paced them"
	must flowadm remove-flow -t "$FLOW"

	stop_process "$PID_A"
	stop_process "$PID_B"
	wait_until 15 "OpenVPN's units are gone" test -z "$(new_links "$BEFORE")"
	return 0
}
