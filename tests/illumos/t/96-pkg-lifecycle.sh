# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: IPS for real: pkg install of every package from a scratch repository (the driver actions add both drivers), pkg update to a newer version, pkg uninstall removes the files and both drivers; the test's own driver installation is restored
#
# Proves what test 95 only resolves: the packages install on a live
# system (driver actions run add_drv with the manifests' perms and
# devlinks, the services import), update in place, and uninstall
# cleanly.  Package names come from manifests/*.p5m.  The driver this
# suite installed by hand (test 10) is removed first, since pkg refuses
# to deliver a driver that is already bound, and put back afterwards.

installed_version() {
	pkg list -H -v "$1" 2>/dev/null | sed -n 's/.*@\([^,]*\),.*/\1/p' | sed -n 1p
}

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	require_proto
	PACKAGES=$(project_packages)
	for PKG in $PACKAGES; do
		pkg list "$PKG" >/dev/null 2>&1 && skip "$PKG is already installed with pkg; this test installs and removes the packages itself"
	done
	REPO=/var/tmp/tuntap-pkg-repo.$$
	on_exit "rm -rf $REPO"
	publish_all "$REPO" 0.1.0
	on_exit "pkg unset-publisher tuntap >/dev/null 2>&1"
	must pkg set-publisher -p "$REPO"

	# Make room for the package's driver actions.
	on_exit "driver_installed || install_driver"
	if driver_installed; then
		must rem_drv tun
		must rem_drv tuntap
	fi

	# shellcheck disable=SC2086 # one word per package
	on_exit "pkg uninstall $PACKAGES >/dev/null 2>&1"
	# shellcheck disable=SC2086
	must pkg install $PACKAGES
	for PKG in $PACKAGES; do
		expect_eq "$(installed_version "$PKG")" 0.1.0 "installed version of $PKG"
	done
	driver_installed || fail "pkg install did not bind tuntap and tun (driver actions)"
	project_manifests | while IFS= read -r m; do
		p5m_paths file <"$m" | while IFS= read -r path; do
			[ -e "/$path" ] || { echo "missing /$path"; exit 1; }
		done || exit 1
	done || fail "a file a manifest delivers is not installed"
	check_installed

	publish_all "$REPO" 0.1.1
	must pkg refresh tuntap
	# shellcheck disable=SC2086
	must pkg update $PACKAGES
	for PKG in $PACKAGES; do
		expect_eq "$(installed_version "$PKG")" 0.1.1 "version of $PKG after pkg update"
	done
	check_installed

	# shellcheck disable=SC2086
	must pkg uninstall $PACKAGES
	for PKG in $PACKAGES; do
		pkg list "$PKG" >/dev/null 2>&1 && fail "$PKG is still installed after pkg uninstall"
	done
	grep -q '^tuntap[[:space:]]' /etc/name_to_major && fail "tuntap is still bound after pkg uninstall"
	grep -q '^tun[[:space:]]' /etc/name_to_major && fail "tun is still bound after pkg uninstall"
	project_manifests | while IFS= read -r m; do
		p5m_paths file <"$m" | while IFS= read -r path; do
			case $path in
			etc/*) ;; # editable files may be preserved
			*)
				if [ -e "/$path" ]; then
					echo "left /$path"
					exit 1
				fi
				;;
			esac
		done || exit 1
	done || fail "pkg uninstall left a delivered file"
	return 0
}
