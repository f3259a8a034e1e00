# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: a tap link carries a VNIC (dladm create-vnic -t -l tapN; traffic through it reaches the tap reader) and dladm's bridge commands refuse it by class, as documented (issue 13)
#
# VNICs: dladm_vnic_create (libdlvnic.c) refuses only VNIC/VLAN lower
# links and a persistent VNIC over a temporary link; the kernel
# (vnic_dev.c vnic_dev_create) wants a non-VNIC lower mac of media
# DL_ETHER, and mac_add_macaddr (mac.c) puts a provider without RX
# groups into promiscuous mode for the VNIC's address, which our
# mc_setpromisc accepts.  Bridges: create_modify_add_bridge (dladm.c)
# accepts only PHYS, AGGR, ETHERSTUB and SIMNET links, so a class-MISC
# tap is refused with "cannot be bridged" before any kernel check
# (docs/research/full-datalinks.md section 3.2 gives the workaround).

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	TAP=$(link_name 25)
	VNIC=tuntestvnic25
	BRIDGE=tuntestbr25
	make_link "$TAP" tap
	on_exit "dladm delete-vnic -t $VNIC >/dev/null 2>&1"
	must dladm create-vnic -t -l "$TAP" "$VNIC"
	must dladm show-vnic -p -o link,over "$VNIC"
	expect_eq "$OUT" "$VNIC:$TAP" "dladm show-vnic of a VNIC over a tap link"
	must dladm show-link -p -o class,over "$VNIC"
	expect_eq "$OUT" "vnic:$TAP" "dladm show-link of the VNIC"
	must dladm delete-vnic -t "$VNIC"
	must dladm show-link -p -o link
	expect_no_line "$OUT" "$VNIC" "links after delete-vnic"

	# Bridges: refused by dladm's class check, and nothing is left.
	on_exit "dladm delete-bridge $BRIDGE >/dev/null 2>&1"
	must_fail dladm create-bridge -l "$TAP" "$BRIDGE"
	expect_contains "$ERR" "cannot be bridged" "dladm create-bridge -l $TAP"
	must dladm create-bridge "$BRIDGE"
	must_fail dladm add-bridge -l "$TAP" "$BRIDGE"
	expect_contains "$ERR" "cannot be bridged" "dladm add-bridge -l $TAP"
	must dladm delete-bridge "$BRIDGE"
	return 0
}
