# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: two instances of the project's OpenVPN service at once: each has exactly its own link and address; kill -9 of one daemon and disable of one leave the other instance's link, address and daemon untouched
#
# Proves the per-instance bookkeeping of the OpenVPN service (smf/; the
# name is read from there): each instance's stop-time `tunctl cleanup
# --for FMRI` removes only that instance's link, however its daemon
# ended, while the other instance keeps running.  State from `svcs -H -o
# state FMRI` (no header, one column: usr/src/cmd/svcs/svcs.c).

state() {
	svcs -H -o state "$1" 2>/dev/null
}

pid_of() {
	cat "/var/run/openvpn/$1.pid" 2>/dev/null
}

online_with_new_pid() {
	[ "$(state "$SVC:$1")" = online ] && [ -n "$(pid_of "$1")" ] && [ "$(pid_of "$1")" != "$2" ]
}

# two_links_two_addresses: two new links, and each address once.
two_links_two_addresses() {
	[ "$(new_links "$BEFORE" | grep -c .)" -eq 2 ] &&
		[ "$(addr_count "$ADDR1")" -eq 1 ] && [ "$(addr_count "$ADDR2")" -eq 1 ]
}

only_second_left() {
	[ "$(new_links "$BEFORE" | grep -c .)" -eq 1 ] &&
		[ "$(addr_count "$ADDR1")" -eq 0 ] && [ "$(addr_count "$ADDR2")" -eq 1 ]
}

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	[ -n "$OPENVPN" ] || skip "OpenVPN is not installed (set OPENVPN=/path/to/openvpn)"
	BEFORE=$T_WORK/links.before
	links_snapshot >"$BEFORE"
	link_tunctl_for_methods
	use_project_service boot
	must svcadm enable -s "$SERVICE:default"
	use_project_service openvpn
	SVC=$SERVICE
	mkdir -p /etc/openvpn
	ADDR1=$TUNTAP_TEST_NET.82.1
	ADDR2=$TUNTAP_TEST_NET.83.1
	PORT=$((TUNTAP_TEST_PORT_BASE + 82))
	add_openvpn_instance tuntest82 "$ADDR1" "$TUNTAP_TEST_NET.82.2" "$PORT"
	add_openvpn_instance tuntest83 "$ADDR2" "$TUNTAP_TEST_NET.83.2" $((PORT + 2))

	must svcadm enable -s "$SVC:tuntest82"
	must svcadm enable -s "$SVC:tuntest83"
	expect_eq "$(state "$SVC:tuntest82")" online "state of tuntest82"
	expect_eq "$(state "$SVC:tuntest83")" online "state of tuntest83"
	wait_until 30 "two links, each address once" two_links_two_addresses
	P1=$(pid_of tuntest82)
	P2=$(pid_of tuntest83)
	{ [ -n "$P1" ] && [ -n "$P2" ] && [ "$P1" != "$P2" ]; } || fail "the instances' pids are '$P1' and '$P2'"

	# A crash of one: SMF restarts it; the other is untouched.
	must kill -KILL "$P1"
	wait_until 90 "tuntest82 restarted after kill -9" online_with_new_pid tuntest82 "$P1"
	wait_until 30 "still two links, each address once" two_links_two_addresses
	expect_eq "$(pid_of tuntest83)" "$P2" "tuntest83's daemon after tuntest82 crashed"
	process_alive "$P2" || fail "tuntest83's daemon died with tuntest82's"

	# Disabling one removes only its link.
	must svcadm disable -s "$SVC:tuntest82"
	wait_until 30 "only tuntest83's link and address left" only_second_left
	expect_eq "$(state "$SVC:tuntest83")" online "state of tuntest83 after tuntest82 was disabled"
	expect_eq "$(pid_of tuntest83)" "$P2" "tuntest83's daemon"
	must svcadm disable -s "$SVC:tuntest83"
	wait_until 30 "no link left" test -z "$(new_links "$BEFORE")"
}
