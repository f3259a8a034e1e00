# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: OpenVPN with its peer in TUNTAP_TEST_ZONE: dev tun with IPv4 and IPv6 and dev tap with ARP; echo replies come back through both daemons, so both directions of both units are proven
#
# Test 70 can only follow echo requests (one IP stack).  Here the peer
# OpenVPN runs in an exclusive-IP zone with its own stack, joined to the
# global zone by an etherstub and two VNICs, so every ping gets its
# reply back through the tunnel: request out of the global zone's unit,
# through both daemons into the zone's unit, and the reply the same way
# back.  The zone needs /dev/tun and /dev/tap (zonecfg: add device; set
# match=/dev/tun; end, and the same for /dev/tap) and an OpenVPN it can
# run (TUNTAP_TEST_ZONE_OPENVPN, default the same path as OPENVPN, e.g.
# lofs-mounted).
#
# ping: `ping -s [-A inet6] -n HOST SIZE COUNT` and its statistics line
# (ping.c finish(), read by ping_counts); arp -an rows "DEVICE IP MASK
# FLAGS PHYS-ADDR" (usr/src/cmd/cmd-inet/usr.sbin/arp.c).

zone_root() {
	zoneadm -z "$ZONE" list -p | awk -F: '{ print $4 "/root" }'
}

# zone_openvpn TAG CONFIG-IN-ZONE: start OpenVPN in the zone as a daemon;
# stopped when the test ends.
zone_openvpn() {
	must zlogin "$ZONE" "$ZONE_OPENVPN" --config "$2" --daemon "tuntest-$1" \
		--log "$ZDIR/$1.log" --writepid "$ZDIR/$1.pid"
	on_exit "zlogin $ZONE 'kill \$(cat $ZDIR/$1.pid)' >/dev/null 2>&1; sed 's/^/zone openvpn $1: /' '$ZROOT$ZDIR/$1.log'"
	wait_until 30 "OpenVPN $1 in $ZONE opened its device" grep -q 'TUN/TAP device .* opened' "$ZROOT$ZDIR/$1.log"
	ZDEV=$(openvpn_device "$ZROOT$ZDIR/$1.log")
	wait_until 30 "OpenVPN $1 in $ZONE finished its initialisation" grep -q 'Initialization Sequence Completed' "$ZROOT$ZDIR/$1.log"
}

# expect_replies WHAT PING-ARGS...: all COUNT requests answered.
expect_replies() {
	what=$1
	shift
	run with_timeout 30 ping -s -n "$@"
	received=$(printf '%s\n' "$OUT" | ping_received)
	expect_eq "$received" 3 "$what: echo replies received of 3"
}

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	[ -n "$OPENVPN" ] || skip "OpenVPN is not installed (set OPENVPN=/path/to/openvpn)"
	ZONE=${TUNTAP_TEST_ZONE:-}
	[ -n "$ZONE" ] || skip "no test zone: set TUNTAP_TEST_ZONE to a running exclusive-IP zone with /dev/tun and /dev/tap"
	require_cmd zlogin
	[ "$(zoneadm -z "$ZONE" list -p 2>/dev/null | awk -F: '{ print $3 }')" = running ] || fail "zone $ZONE is not running"
	ZONE_OPENVPN=${TUNTAP_TEST_ZONE_OPENVPN:-$OPENVPN}
	zlogin "$ZONE" test -c /dev/tun -a -c /dev/tap ||
		skip "zone $ZONE has no /dev/tun and /dev/tap (zonecfg -z $ZONE: add device; set match=/dev/tun; end; the same for /dev/tap; then reboot it)"
	zlogin "$ZONE" test -x "$ZONE_OPENVPN" ||
		skip "zone $ZONE cannot run $ZONE_OPENVPN (set TUNTAP_TEST_ZONE_OPENVPN)"
	ZROOT=$(zone_root)
	ZDIR=/var/tmp/tuntest72
	mkdir -p "$ZROOT$ZDIR" || fail "cannot create $ZROOT$ZDIR"
	on_exit "rm -rf '$ZROOT$ZDIR'"
	NET=$TUNTAP_TEST_NET
	PORT=$((TUNTAP_TEST_PORT_BASE + 72))

	# The transport: an etherstub and a VNIC on each side.
	STUB=$(link_name 72)
	GV=$(link_name 73)
	ZV=$(link_name 74)
	for l in "$STUB" "$GV" "$ZV"; do
		link_absent "$l" || fail "link $l exists before the test"
	done
	on_exit "dladm delete-etherstub -t $STUB >/dev/null 2>&1"
	must dladm create-etherstub -t "$STUB"
	on_exit "dladm delete-vnic -t $GV >/dev/null 2>&1"
	must dladm create-vnic -t -l "$STUB" "$GV"
	on_exit "dladm delete-vnic -t $ZV >/dev/null 2>&1"
	must dladm create-vnic -t -l "$STUB" "$ZV"
	on_exit "zlogin $ZONE ipadm delete-if $ZV >/dev/null 2>&1; dladm reset-linkprop -t -p zone $ZV"
	must dladm set-linkprop -t -p zone="$ZONE" "$ZV"
	on_exit "ipadm delete-if $GV >/dev/null 2>&1"
	must ipadm create-if -t "$GV"
	must ipadm create-addr -t -T static -a "$NET.172.1/24" "$GV/v4"
	must zlogin "$ZONE" ipadm create-if -t "$ZV"
	must zlogin "$ZONE" ipadm create-addr -t -T static -a "$NET.172.2/24" "$ZV/v4"
	expect_replies "the transport ($GV to $ZV)" "$NET.172.2" 56 3

	KEY=$T_WORK/static.key
	openvpn_static_key "$KEY" || fail "$OPENVPN could not generate a static key"
	must cp "$KEY" "$ZROOT$ZDIR/static.key"

	# dev tun, IPv4 and IPv6.
	OVPN_DEV=tun OVPN_TRANSPORT_LOCAL=$NET.172.1 OVPN_TRANSPORT_REMOTE=$NET.172.2 \
		OVPN_EXTRA="ifconfig-ipv6 fd00:231:72::1/64 fd00:231:72::2" \
		openvpn_p2p_config "$T_WORK/tun-a.conf" "$NET.72.1" "$NET.72.2" "$PORT" $((PORT + 1)) "$KEY" "$T_WORK/tun-a.status"
	OVPN_DEV=tun OVPN_TRANSPORT_LOCAL=$NET.172.2 OVPN_TRANSPORT_REMOTE=$NET.172.1 \
		OVPN_EXTRA="ifconfig-ipv6 fd00:231:72::2/64 fd00:231:72::1" \
		openvpn_p2p_config "$ZROOT$ZDIR/tun-b.conf" "$NET.72.2" "$NET.72.1" $((PORT + 1)) "$PORT" "$ZDIR/static.key" "$ZDIR/tun-b.status"
	start_openvpn tun-a "$T_WORK/tun-a.conf"
	DEV_A=$OPENVPN_DEV
	zone_openvpn tun-b "$ZDIR/tun-b.conf"
	openvpn_ready tun-a
	must zlogin "$ZONE" dladm show-link -p -o link,class "$ZDEV"
	expect_eq "$OUT" "$ZDEV:misc" "the zone's OpenVPN unit, a datalink in the zone"
	link_exists "$ZDEV" && [ "$ZDEV" != "$DEV_A" ] && fail "the zone's unit $ZDEV is visible in the global zone"
	expect_replies "dev tun IPv4 ($DEV_A to the zone's $ZDEV)" "$NET.72.2" 56 3
	expect_replies "dev tun IPv6" -A inet6 fd00:231:72::2 56 3
	run with_timeout 30 zlogin "$ZONE" ping -s -n "$NET.72.1" 56 3
	expect_eq "$(printf '%s\n' "$OUT" | ping_received)" 3 "echo replies to the zone's own pings"

	# dev tap: Ethernet frames, the peer resolved by ARP.
	OVPN_DEV=tap OVPN_TRANSPORT_LOCAL=$NET.172.1 OVPN_TRANSPORT_REMOTE=$NET.172.2 \
		openvpn_p2p_config "$T_WORK/tap-a.conf" "$NET.74.1" 255.255.255.0 $((PORT + 2)) $((PORT + 3)) "$KEY" "$T_WORK/tap-a.status"
	OVPN_DEV=tap OVPN_TRANSPORT_LOCAL=$NET.172.2 OVPN_TRANSPORT_REMOTE=$NET.172.1 \
		openvpn_p2p_config "$ZROOT$ZDIR/tap-b.conf" "$NET.74.2" 255.255.255.0 $((PORT + 3)) $((PORT + 2)) "$ZDIR/static.key" "$ZDIR/tap-b.status"
	start_openvpn tap-a "$T_WORK/tap-a.conf"
	TAP_A=$OPENVPN_DEV
	zone_openvpn tap-b "$ZDIR/tap-b.conf"
	openvpn_ready tap-a
	expect_replies "dev tap ($TAP_A to the zone's $ZDEV)" "$NET.74.2" 56 3
	run arp -an
	ARP_MAC=$(printf '%s\n' "$OUT" | awk -v ip="$NET.74.2" '$2 == ip { print $NF }')
	run zlogin "$ZONE" ifconfig "$ZDEV"
	ZONE_MAC=$(printf '%s\n' "$OUT" | awk '$1 == "ether" { print $2 }')
	[ -n "$ARP_MAC" ] || fail "no ARP entry for $NET.74.2 on $TAP_A"
	expect_eq "$ARP_MAC" "$ZONE_MAC" "the MAC ARP resolved for $NET.74.2 (the zone's $ZDEV)"
	return 0
}
