# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: add_drv tuntap, then tun (the documented order); /dev/tun, /dev/tap, /dev/tuntap exist with modes 0666/0666/0600; modinfo lists both modules
#
# Proves the modules built on Linux load into a real illumos kernel:
# krtld accepts their relocations and symbols, drv/tun's _depends_on
# pulls in drv/tuntap, attach creates the minor nodes, and devfsadm makes
# the /dev links from the devlink.tab rules.  On a host where the package
# (or an earlier run) installed the driver, it checks that installation.

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	if driver_installed; then
		log "the driver is already installed; checking that installation"
	else
		install_driver
	fi
	check_installed

	# Bad input: adding a driver twice is refused and changes nothing.
	must_fail add_drv tuntap
	expect_contains "$ERR$OUT" "tuntap" "add_drv's complaint"
	check_installed
}
