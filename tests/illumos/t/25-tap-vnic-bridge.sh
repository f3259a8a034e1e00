# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: a tap link carries a VNIC (dladm create-vnic -t -l tapN); tunctl bridge add puts a persistent tap link on a bridge and frames written into it cross to the bridge's other port (snoop); dladm add-bridge -l takes the tap only where patches/illumos-gate/0002 is installed (stock dladm refuses it by class); tunctl refuses tun and temporary links
#
# VNICs: dladm_vnic_create (libdlvnic.c) refuses only VNIC/VLAN lower
# links and a persistent VNIC over a temporary link; the kernel
# (vnic_dev.c vnic_dev_create) wants a non-VNIC lower mac of media
# DL_ETHER, and mac_add_macaddr (mac.c) puts a provider without RX
# groups into promiscuous mode for the VNIC's address, which our
# mc_setpromisc accepts.
#
# Bridges: create_modify_add_bridge (dladm.c) accepts only PHYS, AGGR,
# ETHERSTUB and SIMNET links, so stock dladm refuses a class-misc tap
# with "cannot be bridged" before any kernel check; with our
# illumos-gate patch 0002 installed it accepts it.  Nothing below the
# command checks the class (bridge.c bridge_add_link wants media
# DL_ETHER), so `tunctl bridge add` makes dladm's own library call,
# dladm_bridge_setlink, on a persistent tap link.  The frames: IP on a
# second tap link sends an ARP request; tunneld carries it to the bridged
# tap link (which keeps that link up: a port whose link is down does not
# forward); the bridge forwards it out of its other port, an etherstub,
# where snoop sees it.  The bridge's timers are the shortest dladm
# accepts (forward delay 4 s), so the port forwards within seconds.

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	TAP=$(link_name 25)
	PORT=$(link_name 26)
	FEED=$(link_name 27)
	TUN=$(link_name 28)
	VNIC=tuntestvnic25
	STUB=tuntestst25
	BRIDGE=tuntestbr25
	LOCAL=$TUNTAP_TEST_NET.25.1
	PEER=$TUNTAP_TEST_NET.25.2

	# ---- a VNIC over a tap link ----
	make_link "$TAP" tap
	on_exit "dladm delete-vnic -t $VNIC >/dev/null 2>&1"
	must dladm create-vnic -t -l "$TAP" "$VNIC"
	must dladm show-vnic -p -o link,over "$VNIC"
	expect_eq "$OUT" "$VNIC:$TAP" "dladm show-vnic of a VNIC over a tap link"
	must dladm show-link -p -o class,over "$VNIC"
	expect_eq "$OUT" "vnic:$TAP" "dladm show-link of the VNIC"
	must dladm delete-vnic -t "$VNIC"
	must dladm show-link -p -o link
	expect_no_line "$OUT" "$VNIC" "links after delete-vnic"

	# ---- bridges ----
	[ -x /usr/lib/bridged ] || skip "bridging is not installed (/usr/lib/bridged, package system/network/bridging): the VNIC part passed"
	on_exit "dladm delete-bridge $BRIDGE >/dev/null 2>&1"
	must dladm create-bridge -d 4 -m 6 -h 1 "$BRIDGE"
	# Bridge membership is persistent configuration: the port link is
	# persistent (tunctl create without -t).
	link_absent "$PORT" || fail "link $PORT exists before the test: a previous run left it (remove it with '$TUNCTL delete -f $PORT')"
	on_exit "remove_link $PORT"
	must "$TUNCTL" create -T tap "$PORT"

	# dladm itself: stock refuses the class, the patched one accepts.
	run dladm add-bridge -l "$PORT" "$BRIDGE"
	if [ "$RC" -eq 0 ]; then
		echo "ok: this dladm carries patches/illumos-gate/0002: add-bridge took tap link $PORT"
		must dladm remove-bridge -l "$PORT" "$BRIDGE"
	else
		expect_contains "$ERR" "cannot be bridged" "stock dladm add-bridge -l $PORT (class check of create_modify_add_bridge; tunctl bridge add is the way)"
	fi

	# tunctl's refusals: a temporary tap (exit 3), a tun link (exit 2).
	expect_status 3 "$TUNCTL" bridge add "$TAP" "$BRIDGE"
	expect_contains "$ERR" "temporary link" "tunctl bridge add of a temporary link"
	make_link "$TUN" tun
	expect_status 2 "$TUNCTL" bridge add "$TUN" "$BRIDGE"
	expect_contains "$ERR" "use a tap link" "tunctl bridge add of a tun link"

	on_exit "$TUNCTL bridge remove $PORT >/dev/null 2>&1"
	must "$TUNCTL" bridge add "$PORT" "$BRIDGE"
	must "$TUNCTL" bridge show "$PORT"
	expect_eq "$OUT" "$BRIDGE" "tunctl bridge show $PORT"

	# The other port: an etherstub (a class dladm bridges anyway).
	on_exit "dladm delete-etherstub -t $STUB >/dev/null 2>&1"
	must dladm create-etherstub -t "$STUB"
	must dladm add-bridge -l "$STUB" "$BRIDGE"

	# Keep the bridged tap up and feed it: tunneld joins it to a second tap
	# link that IP sends from.
	make_link "$FEED" tap
	start_tunneld_pair "$PORT" "$FEED" $((TUNTAP_TEST_PORT_BASE + 25)) 1500 tap
	wait_until 30 "bridge $BRIDGE lists port $PORT" bridge_lists_port "$BRIDGE" "$PORT"
	on_exit "ipadm delete-if $FEED >/dev/null 2>&1"
	must ipadm create-if -t "$FEED"
	must ipadm create-addr -t -T static -a "$LOCAL/24" "$FEED/v4"

	# The port passes the bridge's listening and learning states.
	wait_until 60 "port $PORT of $BRIDGE forwards" bridge_port_state "$BRIDGE" "$PORT" forwarding
	start_snoop "$STUB" "$T_WORK/stub.cap" arp
	SNOOP_STUB=$SNOOP_PID
	# Nobody has PEER: each ping sends a broadcast ARP request, which
	# crosses $FEED -> tunneld -> $PORT -> bridge -> $STUB.
	run with_timeout 20 ping -s -n "$PEER" 56 3
	stop_process "$SNOOP_STUB"
	CAP=$(snoop_text "$T_WORK/stub.cap")
	printf '%s\n' "$CAP" | sed 's/^/snoop stub: /'
	expect_contains "$CAP" "$PEER" "ARP requests seen on $STUB, the bridge's other port"

	# Off the bridge again; delete-bridge then succeeds.
	must "$TUNCTL" bridge remove "$PORT"
	expect_contains "$OUT" "left bridge $BRIDGE" "tunctl bridge remove"
	must dladm remove-bridge -l "$STUB" "$BRIDGE"
	must dladm delete-bridge "$BRIDGE"
	return 0
}

# bridge_lists_port BRIDGE LINK: dladm show-bridge -l lists LINK.
bridge_lists_port() {
	dladm show-bridge -l -p -o link "$1" 2>/dev/null | grep -qx "$2"
}

# bridge_port_state BRIDGE LINK STATE: LINK's STP state on BRIDGE is
# STATE (dladm show-bridge -l: forwarding, learning, discarding, ...).
bridge_port_state() {
	dladm show-bridge -l -p -o link,state "$1" 2>/dev/null | grep -qx "$2:$3"
}
