# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: reboot persistence: a persistent tun link with MTU 9000, maxbw and a persistent IP address comes back after a reboot, up before IP's persistent configuration (the address is ok), through the project's boot service; the suite resumes after the reboot
#
# Proves the boot path no Linux test can: dlmgmtd keeps the persistent
# link and its properties, the project's boot service (smf/, the one
# that runs `tunctl up`) re-creates it at boot, and its SMF ordering
# (a dependent of network/physical) puts it before IP's persistent
# configuration, so the address on it comes up.  Phase 1 sets everything
# up persistently and asks for a reboot (run.sh exits 100); `run.sh
# --resume` runs phase 2, which checks and removes it all.
#
# Checks: `dladm show-link -P`/`-p -o mtu`, `dladm show-linkprop -c -o
# value -p maxbw` (dladm.c), `ipadm show-addr -p -o state ADDROBJ` ("ok":
# usr/src/cmd/cmd-inet/usr.sbin/ipadm/ipadm.c, show-addr fields), `svcs
# -H -o fmri -d FMRI` (the dependencies of FMRI: svcs.c).

MAXBW=7M

phase1() {
	link_absent "$P" || fail "link $P exists before the test"
	# Should phase 1 fail, undo what it did now.
	on_exit_unless_reboot run_undo
	link_tunctl_for_methods
	use_project_service boot
	must svcadm enable -s "$SERVICE:default"
	state_put service "$SERVICE"
	undo "$TUNCTL delete $P >/dev/null 2>&1"
	must "$TUNCTL" create -T tun --mtu 9000 "$P"
	on_exit_unless_reboot "remove_link $P"
	must dladm set-linkprop -p maxbw="$MAXBW" "$P"
	undo "ipadm delete-if $P >/dev/null 2>&1"
	must ipadm create-ip "$P"
	must ipadm create-addr -T static -a "$ADDR/24" "$P/v4"
	must dladm show-link -P -p -o link "$P"
	expect_eq "$OUT" "$P" "the persistent configuration of $P"
	request_reboot "persistent link $P (mtu 9000, maxbw $MAXBW, $ADDR/24) must come back"
}

phase2() {
	on_exit run_undo
	expect_rebooted
	SERVICE=$(state_get service)
	must svcs -H -o state "$SERVICE:default"
	expect_eq "$OUT" online "state of $SERVICE after the reboot"
	must svcs -H -o fmri -d svc:/network/physical:default
	expect_line "$OUT" "$SERVICE:default" "the dependencies of network/physical"
	must dladm show-link -p -o link,class,mtu "$P"
	expect_eq "$OUT" "$P:misc:9000" "$P after the reboot"
	expect_eq "$(linkprop "$P" maxbw value | tr -d ' ')" "${MAXBW%M}" "maxbw (Mbps) of $P after the reboot"
	must ipadm show-addr -p -o state "$P/v4"
	expect_eq "$OUT" ok "state of $P/v4 after the reboot (IP configured it on the re-created link)"
	[ "$(addr_count "$ADDR")" -eq 1 ] || fail "$ADDR is not configured once after the reboot"
	must ipadm delete-if "$P"
	must "$TUNCTL" delete "$P"
	must_fail dladm show-link -P "$P"
}

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	require_cmd kstat
	P=$(link_name 85)
	ADDR=$TUNTAP_TEST_NET.85.1
	# What phase 1 installs must survive the reboot: its removal is kept
	# for phase 2 (undo, run_undo).
	# shellcheck disable=SC2034 # read by lib/smf.sh's undo
	SMF_KEEP=yes
	if resuming; then
		phase2
	else
		phase1
	fi
}
