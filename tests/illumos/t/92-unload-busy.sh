# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: modunload of drv/tuntap and drv/tun is refused (EBUSY, exit 16) under each load: IP plumbed on a link, a daemon attached, snoop open on the link, a /dev/tun stream open, an OpenVPN old-API unit; both unload once the load is gone
#
# Proves detach/_fini hold under real users of the driver, one at a time,
# not only with an idle link (test 90): a refused unload must leave the
# load working, and each refusal must end once its load does.  modunload
# exits with the errno of the failed modctl(MODUNLOAD): 16 is EBUSY
# (usr/src/cmd/modload/modunload.c and modsubr.c's error()).

# try_unload MODULE: modunload MODULE by id; sets RC (0 when it was not
# loaded at all).
try_unload() {
	id=$(module_id "$1")
	if [ -z "$id" ]; then
		RC=0
		echo "$1 is not loaded"
		return 0
	fi
	run modunload -i "$id"
}

# expect_busy MODULE WHAT: unloading MODULE is refused with EBUSY.
expect_busy() {
	[ -n "$(module_id "$1")" ] || fail "$1 is not loaded although $2"
	try_unload "$1"
	expect_eq "$RC" 16 "modunload $1 while $2 (EBUSY)"
	[ -n "$(module_id "$1")" ] || fail "$1 went away although modunload refused"
}

# expect_unloads: with no load left, both modules unload (tun first, as
# it depends on tuntap) and come back on demand.
expect_unloads() {
	try_unload tun
	expect_eq "$RC" 0 "modunload tun with no load ($1)"
	try_unload tuntap
	expect_eq "$RC" 0 "modunload tuntap with no load ($1)"
	must "$TUNCTL" show
}

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	L=$(link_name 92)
	M=$(link_name 93)
	on_exit "driver_installed || install_driver"

	# IP plumbed on a link (no daemon attached).
	make_link "$L" tun
	must ipadm create-ip -t "$L"
	expect_busy tuntap "IP is plumbed on $L"
	expect_status 6 "$TUNCTL" delete "$L"
	must ipadm delete-if "$L"
	must "$TUNCTL" delete "$L"
	expect_unloads "after IP was unplumbed"

	# A daemon attached to a link.
	tunneld_tun_pair "$L" "$M" $((TUNTAP_TEST_PORT_BASE + 92))
	expect_busy tuntap "tunneld is attached to $L"
	expect_busy tun "tunneld holds a stream of drv/tun"
	tunneld_connected "$TUNNELD_B_CONF" || fail "the tunnel broke when the unload was refused"
	# The daemons stop with the test's cleanups; stop them now.
	pids=$(pgrep -f "$TUNNELD_A_CONF"; pgrep -f "$TUNNELD_B_CONF")
	for pid in $pids; do
		stop_process "$pid"
	done
	must "$TUNCTL" delete "$L"
	must "$TUNCTL" delete "$M"
	expect_unloads "after the daemons stopped"

	# snoop has the link open (a DLPI consumer of the mac client).
	make_link "$L" tun
	start_snoop "$L" "$T_WORK/l.cap"
	expect_busy tuntap "snoop has $L open"
	stop_process "$SNOOP_PID"
	must "$TUNCTL" delete "$L"
	expect_unloads "after snoop exited"

	# An old-API stream: a process holds /dev/tun open.
	# sleep never reads it: it only keeps the stream open.
	# shellcheck disable=SC2217
	sleep 600 </dev/tun &
	HOLDER=$!
	on_exit "stop_process $HOLDER"
	sleep 1
	process_alive "$HOLDER" || fail "cannot hold /dev/tun open"
	expect_busy tun "a process holds /dev/tun open"
	stop_process "$HOLDER"
	expect_unloads "after /dev/tun was closed"

	# An old-API unit: OpenVPN's tunN (TUNNEWPPA, IP plumbed over it).
	if [ -n "$OPENVPN" ]; then
		KEY=$T_WORK/static.key
		openvpn_static_key "$KEY" || fail "$OPENVPN could not generate a static key"
		PORT=$((TUNTAP_TEST_PORT_BASE + 192))
		openvpn_p2p_config "$T_WORK/u.conf" "$TUNTAP_TEST_NET.92.1" "$TUNTAP_TEST_NET.92.2" "$PORT" $((PORT + 1)) "$KEY" "$T_WORK/u.status"
		start_openvpn unit "$T_WORK/u.conf"
		on_exit "remove_link $OPENVPN_DEV"
		expect_busy tuntap "OpenVPN holds the old-API unit $OPENVPN_DEV"
		expect_busy tun "OpenVPN holds a /dev/tun stream"
		stop_process "$OPENVPN_PID"
		wait_until 15 "$OPENVPN_DEV is gone after OpenVPN exited" link_absent "$OPENVPN_DEV"
		expect_unloads "after OpenVPN exited"
	else
		log "OpenVPN is not installed: the old-API unit case is not run"
	fi
	return 0
}
