# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
#
# Installing and checking the driver (tests 10, 90, 92).
# Sourced by lib.sh; POSIX sh.

# The /etc/devlink.tab lines that name /dev/tun, /dev/tap, /dev/tuntap
# (kernel/README.md); fields are separated by one tab.
DEVLINK_RULES="tun:tun tap:tap ctl:tuntap"

# devlink_line MINOR:NODE: the devlink.tab line for one minor node.
devlink_line() {
	printf 'type=ddi_pseudo;name=tun;minor=%s\t%s\n' "${1%%:*}" "${1#*:}"
}

# install_driver: copy the built modules (when built), add_drv the mac
# provider, then the STREAMS driver, add the devlink.tab rules, make the
# /dev links.  add_drv takes one -m with comma-separated entries (its
# getopt keeps only the last -m).
install_driver() {
	if modules_built; then
		must cp "$TUNTAP_KMOD_DIR/amd64/tuntap" "$TUNTAP_KMOD_DIR/amd64/tun" /kernel/drv/amd64/
		must cp "$TUNTAP_KMOD_DIR/tuntap.conf" "$TUNTAP_KMOD_DIR/tun.conf" /kernel/drv/
	elif [ ! -f /kernel/drv/amd64/tuntap ] || [ ! -f /kernel/drv/amd64/tun ]; then
		fail "no modules to install: $TUNTAP_KMOD_DIR has no build and /kernel/drv/amd64 has no tuntap and tun"
	fi
	must add_drv tuntap
	must add_drv -m 'tun 0666 root sys','tap 0666 root sys','ctl 0600 root sys' tun
	for rule in $DEVLINK_RULES; do
		line=$(devlink_line "$rule")
		grep -qxF "$line" /etc/devlink.tab || printf '%s\n' "$line" >>/etc/devlink.tab
	done
	must devfsadm -i tun
}

# node_mode PATH: the mode string of the device PATH resolves to.
node_mode() {
	# ls is the portable way to a mode string (illumos find has no -printf).
	# shellcheck disable=SC2012
	ls -lL "$1" 2>/dev/null | awk '{ print substr($1, 1, 10) }'
}

# check_installed: both drivers bound, their /dev links there with the
# documented modes, both modules loaded.
check_installed() {
	driver_installed || fail "tuntap and tun are not both in /etc/name_to_major"
	for rule in $DEVLINK_RULES; do
		line=$(devlink_line "$rule")
		grep -qxF "$line" /etc/devlink.tab || fail "/etc/devlink.tab lacks the rule '$line'"
	done
	expect_eq "$(node_mode /dev/tun)" crw-rw-rw- "mode of /dev/tun"
	expect_eq "$(node_mode /dev/tap)" crw-rw-rw- "mode of /dev/tap"
	expect_eq "$(node_mode /dev/tuntap)" crw------- "mode of /dev/tuntap"
	run ls -l /dev/tun /dev/tap /dev/tuntap
	expect_contains "$OUT" "pseudo/tun@0:tun" "the /dev/tun link"
	expect_contains "$OUT" "pseudo/tun@0:tap" "the /dev/tap link"
	expect_contains "$OUT" "pseudo/tun@0:ctl" "the /dev/tuntap link"
	# Opening the control node loads drv/tun, whose _depends_on loads
	# drv/tuntap first (the system may have unloaded idle modules).
	must "$TUNCTL" show
	[ -n "$(module_id tuntap)" ] || fail "modinfo does not list tuntap after tunctl opened /dev/tuntap"
	[ -n "$(module_id tun)" ] || fail "modinfo does not list tun after tunctl opened /dev/tuntap"
	modinfo | awk '$6 == "tuntap" || $6 == "tun"'
}
