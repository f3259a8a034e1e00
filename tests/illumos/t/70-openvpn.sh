# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: old API: two unmodified OpenVPN daemons (dev tun, static key, UDP on 127.0.0.1) plumb tunN links through /dev/tun, and packets cross both tunnels in both directions; a taken unit is refused
#
# Proves compatibility with the Solaris tun driver's API as OpenVPN uses
# it (TUNNEWPPA on /dev/tun, I_PUSH ip, IF_UNITSEL, I_PLINK under
# /dev/udp, ifconfig): the units become datalinks, IP is plumbed on them,
# and packets flow through getmsg/putmsg in both directions (OpenVPN's
# TUN/TAP counters, snoop).  As in test 50 both daemons share one IP
# stack, so each side's peer address is left unconfigured on the other
# side and echo requests are followed, not answered.

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	[ -n "$OPENVPN" ] || skip "OpenVPN is not installed (set OPENVPN=/path/to/openvpn)"
	BEFORE=$T_WORK/links.before
	links_snapshot >"$BEFORE"
	NET=$TUNTAP_TEST_NET
	PORT=$((TUNTAP_TEST_PORT_BASE + 70))
	openvpn_p2p_pair 70 71 "$PORT"

	start_openvpn_pair
	[ "$DEV_A" != "$DEV_B" ] || fail "both OpenVPN daemons got $DEV_A"

	for DEV in "$DEV_A" "$DEV_B"; do
		must dladm show-link -p -o link,class "$DEV"
		expect_eq "$OUT" "$DEV:misc" "the OpenVPN unit as a datalink"
		must "$TUNCTL" show -p -o origin,mode "$DEV"
		expect_eq "$OUT" "old-api:tun" "tunctl's view of $DEV"
		ip_plumbed "$DEV" || fail "OpenVPN's IP interface $DEV is not in ipadm show-if"
	done
	must "$TUNCTL" show -p -o pids "$DEV_A"
	expect_contains ",$OUT," ",$PID_A," "pids attached to $DEV_A"
	must ifconfig "$DEV_A"
	expect_contains "$OUT" "inet $NET.70.1 --> $NET.70.2" "ifconfig $DEV_A"
	# The tun personality (no broadcast address, SAP-only DLSAP) makes IP
	# run the interface point-to-point without ARP (ip_ll_subnet_defaults).
	expect_contains "$OUT" "POINTOPOINT" "ifconfig $DEV_A flags"
	expect_contains "$OUT" "NOARP" "ifconfig $DEV_A flags"

	# A taken unit is refused, as the old driver did (EEXIST).
	openvpn_p2p_config "$T_WORK/c.conf" "$NET.72.1" "$NET.72.2" $((PORT + 2)) $((PORT + 3)) "$OPENVPN_KEY" "$T_WORK/c.status"
	sed "s/^dev tun\$/dev $DEV_A/" "$T_WORK/c.conf" >"$T_WORK/c2.conf"
	run with_timeout 30 "$OPENVPN" --config "$T_WORK/c2.conf"
	if [ "$RC" -eq 0 ] || [ "$RC" -eq 124 ]; then
		fail "a second OpenVPN on $DEV_A did not stop with an error (status $RC)"
	fi
	expect_contains "$OUT$ERR" "exists" "OpenVPN's report for a taken unit"
	process_alive "$PID_A" || fail "the first OpenVPN died when a second one asked for $DEV_A"

	start_snoop "$DEV_B" "$T_WORK/b.cap" icmp
	SNOOP_B=$SNOOP_PID
	# Three echo requests of 84 bytes each.
	openvpn_carries_ping a b "$NET.70.2" "$DEV_A" "$DEV_B"
	stop_process "$SNOOP_B"
	CAP_B=$(snoop_text "$T_WORK/b.cap")
	printf '%s\n' "$CAP_B" | sed 's/^/snoop: /'
	expect_echo_request "$CAP_B" "$NET.70.1" "$NET.70.2" "snoop -d $DEV_B"

	# The other direction.
	openvpn_carries_ping b a "$NET.71.1" "$DEV_B" "$DEV_A"

	# SIGTERM: OpenVPN unplumbs and closes; nothing may stay.
	stop_process "$PID_A"
	stop_process "$PID_B"
	wait_until 15 "$DEV_A and $DEV_B are gone" test -z "$(new_links "$BEFORE")"
	ip_plumbed "$DEV_A" && fail "$DEV_A is still plumbed after OpenVPN exited"
	ip_plumbed "$DEV_B" && fail "$DEV_B is still plumbed after OpenVPN exited"
	return 0
}
