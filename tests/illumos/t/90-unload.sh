# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: drv/tuntap refuses to unload (EBUSY) while a link exists and unloads once it is deleted; rem_drv tun, then tuntap, succeed cleanly; the driver is installed again afterwards
#
# Proves detach and _fini refuse while state exists and succeed once it
# is gone.  The refusal is shown with modunload, which reports the errno:
# rem_drv on a busy driver only warns "Cannot unload module ... Will be
# unloaded upon reboot", exits 0 and unbinds the driver anyway
# (usr/src/cmd/modload/rem_drv.c), which would leave the host
# half-removed.  rem_drv runs once nothing holds the driver, and must
# then not need that warning.

wait_unloaded() {
	[ -z "$(module_id "$1")" ]
}

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	L=$(link_name 90)
	# Whatever happens, leave the driver installed for the next run.
	on_exit "driver_installed || install_driver"

	make_link "$L" tun
	TUNTAP_ID=$(module_id tuntap)
	TUN_ID=$(module_id tun)
	[ -n "$TUNTAP_ID" ] || fail "tuntap is not loaded although $L exists"

	# drv/tun holds nothing while no stream is open.
	if [ -n "$TUN_ID" ]; then
		must modunload -i "$TUN_ID"
		wait_unloaded tun || fail "modinfo still lists tun after modunload"
	fi
	expect_status 16 modunload -i "$TUNTAP_ID"
	expect_contains "$ERR" "Device busy" "modunload's complaint"
	[ "$(module_id tuntap)" = "$TUNTAP_ID" ] || fail "tuntap changed id or went away although it refused to unload"
	must "$TUNCTL" show -p -o link "$L"
	expect_eq "$OUT" "$L" "the link after the refused unload"

	must "$TUNCTL" delete "$L"
	# tunctl opened /dev/tuntap, which loaded drv/tun again.
	TUN_ID=$(module_id tun)
	[ -n "$TUN_ID" ] && must modunload -i "$TUN_ID"
	must modunload -i "$TUNTAP_ID"
	wait_unloaded tuntap || fail "modinfo still lists tuntap after a successful modunload"

	# Remove in the documented order: the STREAMS driver first.
	must rem_drv tun
	expect_lacks "$ERR$OUT" "Cannot unload" "rem_drv tun's output"
	must rem_drv tuntap
	expect_lacks "$ERR$OUT" "Cannot unload" "rem_drv tuntap's output"
	grep -q '^tun[[:space:]]' /etc/name_to_major && fail "tun is still in /etc/name_to_major"
	grep -q '^tuntap[[:space:]]' /etc/name_to_major && fail "tuntap is still in /etc/name_to_major"
	must_fail "$TUNCTL" show

	install_driver
	check_installed
}
