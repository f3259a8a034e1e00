# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: kill -9 of an OpenVPN leaves its plumbed tunN; tunctl cleanup --dry-run lists it and changes nothing, tunctl cleanup unplumbs and deletes it, a live OpenVPN's link is kept
#
# Proves the remedy for the old driver's best-known complaint (stale
# tunN after a crash, "Can't set PPA: File exists"): IP's persistent link
# keeps the unit after the daemon is killed, and tunctl cleanup finds it
# by its dead owner, removes the IP interface and the link, and never
# touches a link whose daemon lives.

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	[ -n "$OPENVPN" ] || skip "OpenVPN is not installed (set OPENVPN=/path/to/openvpn)"
	NET=$TUNTAP_TEST_NET
	PORT=$((TUNTAP_TEST_PORT_BASE + 75))
	openvpn_p2p_pair 75 76 "$PORT"
	start_openvpn_pair
	on_exit "remove_link $DEV_A"

	kill_hard "$PID_A" || fail "cannot kill OpenVPN a (pid $PID_A)"
	process_alive "$PID_A" && fail "OpenVPN a (pid $PID_A) survived SIGKILL"
	link_exists "$DEV_A" || fail "$DEV_A vanished with its daemon; IP's I_PLINK should have kept it (nothing to clean up)"
	ip_plumbed "$DEV_A" || fail "$DEV_A is no longer plumbed after kill -9"

	# Bad input first.
	expect_status 2 "$TUNCTL" cleanup --for not-a-pid-or-fmri
	expect_status 2 "$TUNCTL" cleanup --bogus

	must "$TUNCTL" cleanup --dry-run
	expect_contains "$OUT" "$DEV_A: stale (" "the dry run's plan"
	expect_contains "$OUT" "would unplumb IP interface $DEV_A and delete it" "the dry run's plan"
	expect_lacks "$OUT" "$DEV_B: stale" "the dry run's plan"
	link_exists "$DEV_A" || fail "the dry run deleted $DEV_A"
	ip_plumbed "$DEV_A" || fail "the dry run unplumbed $DEV_A"

	must "$TUNCTL" cleanup
	expect_contains "$OUT" "$DEV_A: stale (" "cleanup's report"
	expect_contains "$OUT" "unplumbed IP interface $DEV_A, deleted" "cleanup's report"
	link_absent "$DEV_A" || fail "dladm show-link still lists $DEV_A after cleanup"
	ip_plumbed "$DEV_A" && fail "ipadm show-if still lists $DEV_A after cleanup"
	[ "$(addr_count "$NET.75.1")" -eq 0 ] || fail "address $NET.75.1 is still configured after cleanup"

	# The live daemon's link is untouched and still works.
	process_alive "$PID_B" || fail "cleanup killed the live OpenVPN b"
	link_exists "$DEV_B" || fail "cleanup deleted $DEV_B, whose daemon is alive"
	ip_plumbed "$DEV_B" || fail "cleanup unplumbed $DEV_B, whose daemon is alive"

	must "$TUNCTL" cleanup
	expect_contains "$OUT" "no stale links" "a second cleanup"

	# The unit is free again: OpenVPN can have it back.
	sed "s/^dev tun\$/dev $DEV_A/" "$T_WORK/a.conf" >"$T_WORK/a2.conf"
	start_openvpn a2 "$T_WORK/a2.conf"
	openvpn_ready a2
	expect_eq "$OPENVPN_DEV" "$DEV_A" "the unit OpenVPN got after cleanup"
}
