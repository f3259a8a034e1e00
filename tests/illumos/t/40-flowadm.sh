# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: flowadm add-flow/show-flow/show-flowprop/remove-flow on a tun link, with a maxbw flow property; bad attributes and links refused
#
# Proves a tun link is a full mac client target: mac's flow classifier
# accepts flows on it (the driver registers an Ethernet-plugin link whose
# SAP is an Ethertype, which flows need).

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	TUN=$(link_name 40)
	FLOW=tuntestflow40
	make_link "$TUN" tun

	on_exit "flowadm remove-flow -t $FLOW >/dev/null 2>&1"
	must flowadm add-flow -t -l "$TUN" -a transport=icmp -p maxbw=2M "$FLOW"
	must flowadm show-flow -p -o flow,link "$FLOW"
	expect_eq "$OUT" "$FLOW:$TUN" "flowadm show-flow"
	must flowadm show-flow -p -o flow -l "$TUN"
	expect_line "$OUT" "$FLOW" "flows on $TUN"
	must flowadm show-flowprop -c -o value -p maxbw "$FLOW"
	# Whole Mbps, printed "%5u" (dladm_bw2str).
	expect_eq "$(printf '%s' "$OUT" | tr -d ' ')" 2 "the flow's maxbw (Mbps)"

	# Bad input.
	must_fail flowadm add-flow -t -l "$TUN" -a transport=icmp "$FLOW"
	must_fail flowadm add-flow -t -l "$(link_name 49)" -a transport=tcp tuntestflow41
	must_fail flowadm add-flow -t -l "$TUN" -a transport=icmp,local_port=80 tuntestflow42
	must_fail flowadm show-flow tuntestflow42

	must flowadm remove-flow -t "$FLOW"
	must flowadm show-flow -p -o flow -l "$TUN"
	expect_no_line "$OUT" "$FLOW" "flows on $TUN after remove-flow"
}
