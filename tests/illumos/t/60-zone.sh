# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: exclusive-IP zone: a link given to TUNTAP_TEST_ZONE (set-linkprop -t -p zone=) is plumbed there and answers ping through two tunneld daemons; isolation: the global zone cannot plumb it, the zone cannot see, open or change other links or create any
#
# Proves the zone support of a GLDv3 link with a real zone: dls moves the
# link into the zone, the zone's own IP stack plumbs it, and an echo
# request from the global zone goes out one tun link, through tunneld,
# into the zone's link and back: the full round trip test 50 cannot make
# within one IP stack.  TUNTAP_TEST_ZONE must name a running
# exclusive-IP zone; with TUNTAP_TEST_ZONE_REBOOT=yes the persistent
# zonecfg way is also tried (the zone is rebooted twice).

zone_state() {
	zoneadm -z "$ZONE" list -p 2>/dev/null | awk -F: '{ print $3 }'
}

zone_running() {
	[ "$(zone_state)" = running ]
}

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	ZONE=${TUNTAP_TEST_ZONE:-}
	[ -n "$ZONE" ] || skip "no test zone: set TUNTAP_TEST_ZONE to a running exclusive-IP zone"
	require_cmd zlogin zonecfg
	run zoneadm -z "$ZONE" list -p
	[ "$RC" -eq 0 ] || fail "TUNTAP_TEST_ZONE=$ZONE: no such zone ($ERR)"
	[ "$(printf '%s\n' "$OUT" | awk -F: '{ print $7 }')" = excl ] ||
		fail "zone $ZONE is not an exclusive-IP zone (zoneadm list -p: $OUT)"
	zone_running || fail "zone $ZONE is not running (state $(zone_state))"

	A=$(link_name 60)
	B=$(link_name 61)
	LOCAL=$TUNTAP_TEST_NET.60.1
	PEER=$TUNTAP_TEST_NET.60.2
	tunneld_tun_pair "$A" "$B" $((TUNTAP_TEST_PORT_BASE + 60))

	# Bad input first: the zone property is temporary-only, and only
	# running exclusive-IP zones are possible values.
	must_fail dladm set-linkprop -p zone="$ZONE" "$B"
	must_fail dladm set-linkprop -t -p zone=tuntest-no-such-zone "$B"

	on_exit "zlogin $ZONE ipadm delete-if $B >/dev/null 2>&1; dladm reset-linkprop -t -p zone $B"
	must dladm set-linkprop -t -p zone="$ZONE" "$B"
	expect_eq "$(linkprop "$B" zone value)" "$ZONE" "zone property of $B"
	must zlogin "$ZONE" dladm show-link -p -o link,class "$B"
	expect_eq "$OUT" "$B:misc" "the zone's view of $B"
	must zlogin "$ZONE" ipadm create-if -t "$B"
	must zlogin "$ZONE" ipadm create-addr -t -T static -a "$PEER/24" "$B/v4"

	on_exit "ipadm delete-if $A >/dev/null 2>&1"
	must ipadm create-if -t "$A"
	must ipadm create-addr -t -T static -a "$LOCAL/24" "$A/v4"

	RX_BEFORE=$(tunneld_counter "$TUNNELD_A_CONF" rx_packets)
	must with_timeout 30 ping -s -n "$PEER" 56 3
	expect_contains "$OUT" "3 packets received" "ping statistics"
	RX_AFTER=$(tunneld_counter "$TUNNELD_A_CONF" rx_packets)
	[ $((RX_AFTER - RX_BEFORE)) -ge 3 ] ||
		fail "the echo replies did not come back through tunneld ($((RX_AFTER - RX_BEFORE)) packets)"

	# A link a zone holds cannot be deleted under it.
	must_fail "$TUNCTL" delete -f "$B"
	link_exists "$B" || fail "$B vanished while assigned to $ZONE"

	# Isolation, global side: the zone's link cannot be plumbed from the
	# global zone (dls holds it for the zone).
	must_fail ipadm create-if -t "$B"
	must_fail ifconfig "$B" plumb
	ip_plumbed "$B" && fail "the global zone plumbed $B, which belongs to $ZONE"

	# Isolation, zone side: the zone sees only its own link, cannot open
	# or query the global zone's ($A), and cannot make links.
	must zlogin "$ZONE" dladm show-link -p -o link
	expect_line "$OUT" "$B" "the zone's links"
	expect_no_line "$OUT" "$A" "the zone's links"
	must_fail zlogin "$ZONE" dladm show-link "$A"
	must_fail zlogin "$ZONE" dladm show-linkprop -p mtu "$A"
	run with_timeout 20 zlogin "$ZONE" snoop -c 1 -d "$A"
	{ [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]; } || fail "snoop in $ZONE on the global zone's $A did not fail at once (status $RC)"
	must_fail zlogin "$ZONE" dladm set-linkprop -t -p mtu=1400 "$A"
	must dladm show-link -p -o mtu "$A"
	expect_eq "$OUT" 1500 "MTU of $A after the zone tried to change it"
	ZONE_TUNCTL=${TUNTAP_TEST_ZONE_TUNCTL:-$TUNCTL}
	if zlogin "$ZONE" test -x "$ZONE_TUNCTL" >/dev/null 2>&1; then
		C=$(link_name 63)
		# The zone has no /dev/tuntap and no sys_dl_config for it: any
		# refusal will do, as long as no link appears anywhere.
		must_fail zlogin "$ZONE" "$ZONE_TUNCTL" create -t -T tun "$C"
		must_fail zlogin "$ZONE" su nobody -c "$ZONE_TUNCTL create -t -T tun $C"
		link_absent "$C" || fail "a create in $ZONE made $C"
		zlogin "$ZONE" dladm show-link "$C" >/dev/null 2>&1 && fail "$ZONE sees a link $C it was refused"
		must_fail zlogin "$ZONE" "$ZONE_TUNCTL" delete "$B"
	else
		log "$ZONE_TUNCTL is not visible in $ZONE (set TUNTAP_TEST_ZONE_TUNCTL): the zone-side create/delete refusals are not run"
	fi

	must zlogin "$ZONE" ipadm delete-if "$B"
	must dladm reset-linkprop -t -p zone "$B"
	# Unset: empty in parsable output, not "--" (ofmt_print).
	expect_eq "$(linkprop "$B" zone value)" "" "zone property of $B after reset"

	if [ "${TUNTAP_TEST_ZONE_REBOOT:-no}" = yes ]; then
		C=$(link_name 62)
		link_absent "$C" || fail "link $C exists before the test"
		on_exit "remove_link $C"
		must "$TUNCTL" create -T tun "$C"
		on_exit "zonecfg -z $ZONE 'remove net physical=$C' >/dev/null 2>&1; zoneadm -z $ZONE reboot"
		must zonecfg -z "$ZONE" "add net; set physical=$C; end"
		must zoneadm -z "$ZONE" reboot
		wait_until 120 "zone $ZONE is running again" zone_running
		wait_until 60 "zone $ZONE sees $C" zlogin "$ZONE" dladm show-link "$C"
		must zonecfg -z "$ZONE" "remove net physical=$C"
		must zoneadm -z "$ZONE" reboot
		wait_until 120 "zone $ZONE is running again" zone_running
	else
		log "TUNTAP_TEST_ZONE_REBOOT is not yes: the zonecfg (reboot) part is not run"
	fi
}
