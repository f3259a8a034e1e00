# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: dladm show-link class misc; mtu 576..65535 via set-linkprop/show-linkprop (575 and 65536 refused); read-only _tun_mode and _tun_owner; maxbw set and reset
#
# Proves the mac callbacks behind link properties on a real mac layer:
# mc_propinfo's range and default reach dladm, mc_setprop accepts and
# refuses MTUs as documented, the private properties are visible and
# read-only, and mac's own maxbw property works on a tun link.

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	TUN=$(link_name 30)
	TAP=$(link_name 31)
	make_link "$TUN" tun
	make_link "$TAP" tap --owner 65432

	must dladm show-link -p -o class "$TUN"
	expect_eq "$OUT" misc "class of $TUN"

	expect_eq "$(linkprop "$TUN" mtu possible)" 576-65535 "possible MTUs"
	expect_eq "$(linkprop "$TUN" mtu default)" 1500 "default MTU"
	expect_eq "$(linkprop "$TUN" mtu value)" 1500 "MTU of a new link"

	must dladm set-linkprop -t -p mtu=9000 "$TUN"
	expect_eq "$(linkprop "$TUN" mtu value)" 9000 "MTU after set-linkprop"
	must dladm show-link -p -o mtu "$TUN"
	expect_eq "$OUT" 9000 "dladm show-link's MTU"
	must "$TUNCTL" show -p -o mtu "$TUN"
	expect_eq "$OUT" 9000 "tunctl's MTU (the driver's view)"

	must_fail dladm set-linkprop -t -p mtu=575 "$TUN"
	must_fail dladm set-linkprop -t -p mtu=65536 "$TUN"
	must_fail dladm set-linkprop -t -p mtu=abc "$TUN"
	expect_eq "$(linkprop "$TUN" mtu value)" 9000 "MTU after refused changes"
	must dladm set-linkprop -t -p mtu=576 "$TUN"
	expect_eq "$(linkprop "$TUN" mtu value)" 576 "smallest MTU"
	must dladm set-linkprop -t -p mtu=65535 "$TUN"
	expect_eq "$(linkprop "$TUN" mtu value)" 65535 "largest MTU"
	must dladm reset-linkprop -t -p mtu "$TUN"
	expect_eq "$(linkprop "$TUN" mtu value)" 1500 "MTU after reset-linkprop"

	# The driver's private properties.
	expect_eq "$(linkprop "$TUN" _tun_mode value)" tun "_tun_mode of $TUN"
	expect_eq "$(linkprop "$TAP" _tun_mode value)" tap "_tun_mode of $TAP"
	# libdladm prints permissions as r-/rw (dladm_perm2str).
	expect_eq "$(linkprop "$TUN" _tun_mode perm)" r- "permission of _tun_mode"
	expect_eq "$(linkprop "$TUN" mtu perm)" rw "permission of mtu"
	expect_eq "$(linkprop "$TAP" _tun_owner value)" 65432 "_tun_owner of $TAP"
	expect_eq "$(linkprop "$TUN" _tun_owner value)" - "_tun_owner of a link without owner"
	must_fail dladm set-linkprop -t -p _tun_mode=tap "$TUN"
	must_fail dladm set-linkprop -t -p _tun_owner=0 "$TAP"
	expect_eq "$(linkprop "$TUN" _tun_mode value)" tun "_tun_mode after a refused change"

	# maxbw is mac's, not the driver's: it must simply work.  Unset, it
	# is empty in parsable output ("--" only in the human form:
	# ofmt_print in usr/src/lib/libofmt/common/ofmt.c).
	expect_eq "$(linkprop "$TUN" maxbw value)" "" "maxbw of a new link"
	must dladm set-linkprop -t -p maxbw=10M "$TUN"
	# dladm_bw2str prints whole Mbps as "%5u": strip the padding.
	expect_eq "$(linkprop "$TUN" maxbw value | tr -d ' ')" 10 "maxbw (Mbps) after maxbw=10M"
	must_fail dladm set-linkprop -t -p maxbw=lots "$TUN"
	must dladm reset-linkprop -t -p maxbw "$TUN"
	expect_eq "$(linkprop "$TUN" maxbw value)" "" "maxbw after reset"

	must_fail dladm set-linkprop -t -p mtu=9000 "$(link_name 39)"
}
