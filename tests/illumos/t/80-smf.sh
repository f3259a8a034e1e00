# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: SMF: import the manifests, svccfg add an openvpn instance, enable/refresh/restart/disable it; exactly one link while it runs and none after restart, kill -9 of the daemon, or disable; a missing configuration puts it in maintenance
#
# Proves the project's OpenVPN and tuntap services as shipped (smf/;
# their names are read from there) under the real restarter: the manifests import, the
# method's start/stop/refresh work with the real contract and privileges,
# and its stop-time `tunctl cleanup --for FMRI` leaves no link or IP
# interface behind however the daemon ended.  Files the package would
# deliver are copied from the repository when absent and removed after.

INSTANCE=tuntest80

state() {
	svcs -H -o state "$1" 2>/dev/null
}

daemon_pid() {
	cat "/var/run/openvpn/$INSTANCE.pid" 2>/dev/null
}

online_with_new_pid() {
	[ "$(state "$FMRI")" = online ] && [ -n "$(daemon_pid)" ] && [ "$(daemon_pid)" != "$1" ]
}

# one_link_and_address: exactly one new datalink, plumbed, and exactly
# one copy of the instance's address.
one_link_and_address() {
	LINKS=$(new_links "$BEFORE")
	[ "$(printf '%s\n' "$LINKS" | grep -c .)" -eq 1 ] &&
		ip_plumbed "$LINKS" && [ "$(addr_count "$LOCAL")" -eq 1 ]
}

nothing_left() {
	[ -z "$(new_links "$BEFORE")" ] && [ "$(addr_count "$LOCAL")" -eq 0 ]
}

report_state() {
	run svcs -xv "$FMRI"
	LOGFILE=$(svcs -L "$FMRI" 2>/dev/null)
	[ -n "$LOGFILE" ] && tail -n 20 "$LOGFILE" | sed 's/^/smf log: /'
}

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	[ -n "$OPENVPN" ] || skip "OpenVPN is not installed (set OPENVPN=/path/to/openvpn)"
	BEFORE=$T_WORK/links.before
	links_snapshot >"$BEFORE"
	LOCAL=$TUNTAP_TEST_NET.80.1

	# The services come from smf/ (their names may change): the one that
	# brings persistent links up, and the OpenVPN one.  Each must be the
	# project's: on OpenIndiana the distribution's network/openvpn has
	# the same name and would be driven instead (use_project_service
	# compares the method and manifest SMF has with smf/, or skips).
	link_tunctl_for_methods
	use_project_service boot
	TUNTAP_SVC=$SERVICE
	must svcadm enable -s "$TUNTAP_SVC:default"
	expect_eq "$(state "$TUNTAP_SVC:default")" online "state of $TUNTAP_SVC"
	use_project_service openvpn
	SVC=$SERVICE
	FMRI=$SVC:$INSTANCE

	mkdir -p /etc/openvpn
	add_openvpn_instance "$INSTANCE" "$LOCAL" "$TUNTAP_TEST_NET.80.2" $((TUNTAP_TEST_PORT_BASE + 80))

	run svcadm enable -s "$FMRI"
	[ "$(state "$FMRI")" = online ] || {
		report_state
		fail "$FMRI is $(state "$FMRI") after enable"
	}
	wait_until 30 "exactly one link and one $LOCAL while $FMRI runs" one_link_and_address
	PID1=$(daemon_pid)
	[ -n "$PID1" ] || fail "no pid in /var/run/openvpn/$INSTANCE.pid"

	must svcadm refresh "$FMRI"
	sleep 5
	expect_eq "$(state "$FMRI")" online "state after refresh"
	expect_eq "$(daemon_pid)" "$PID1" "daemon pid after refresh (SIGHUP, same process)"
	wait_until 30 "exactly one link after refresh" one_link_and_address

	must svcadm restart "$FMRI"
	wait_until 60 "$FMRI online with a new daemon after restart" online_with_new_pid "$PID1"
	wait_until 30 "exactly one link after restart (no stale one)" one_link_and_address
	PID2=$(daemon_pid)

	# A crash: SMF sees the contract empty, runs stop (cleanup --for
	# FMRI) and start again.
	must kill -KILL "$PID2"
	wait_until 90 "$FMRI restarted after kill -9" online_with_new_pid "$PID2"
	wait_until 30 "exactly one link after kill -9 and restart" one_link_and_address

	must svcadm disable -s "$FMRI"
	expect_eq "$(state "$FMRI")" disabled "state after disable"
	wait_until 30 "no link and no $LOCAL after disable" nothing_left

	# Bad input: an instance without a configuration file goes to
	# maintenance with a message that names the file.
	BAD=tuntest81
	on_exit "svcadm disable -s $SVC:$BAD >/dev/null 2>&1; svccfg -s $SVC delete $BAD"
	must svccfg -s "$SVC" add "$BAD"
	must svcadm refresh "$SVC:$BAD"
	must_fail svcadm enable -s "$SVC:$BAD"
	wait_until 30 "$SVC:$BAD in maintenance" test "$(state "$SVC:$BAD")" = maintenance
	BADLOG=$(svcs -L "$SVC:$BAD")
	expect_contains "$(cat "$BADLOG")" "/etc/openvpn/$BAD.conf does not exist" "the SMF log of $SVC:$BAD"
	nothing_left || fail "the failed instance left a link or address"
}
