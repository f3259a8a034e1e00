# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: tunctl create/show/modify/delete (new and old command line), persistent links and tunctl up, and dladm create-tun/show-tun/delete-tun when dladm is patched
#
# Proves link management end to end on dlmgmtd and the driver: every
# created link is a datalink dladm lists (class misc, which dladm prints
# as "unknown": dladm_class2str in libdladm.c has no case for it), tunctl's view
# agrees with dladm's, persistence lives in dlmgmtd's configuration, and
# each verb refuses bad input with its documented exit status.

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	TUN=$(link_name 20)
	TAP=$(link_name 21)
	PERSIST=$(link_name 22)

	make_link "$TUN" tun
	expect_contains "$OUT" "created tun link $TUN" "tunctl create's report"
	must dladm show-link -p -o link,class "$TUN"
	# DATALINK_CLASS_MISC: dladm_class2str (libdladm.c) prints "unknown".
	expect_eq "$OUT" "$TUN:unknown" "dladm show-link of a tun link"
	# The no-argument walk (DATALINK_CLASS_ALL) lists it too: a release
	# older than the MISC class would not.
	must dladm show-link -p -o link
	expect_contains "$OUT" "$TUN" "dladm show-link (every link) lists the tun link"
	must "$TUNCTL" show -p -o link,mode,state,mtu,persist "$TUN"
	# No queue attached: the link is down.
	expect_eq "$OUT" "$TUN:tun:down:1500:no" "tunctl show of a new tun link"

	make_link "$TAP" tap --mac 2:8:20:aa:bb:cc --mtu 9000
	must "$TUNCTL" show -p -o macaddress "$TAP"
	expect_eq "$OUT" "2:8:20:aa:bb:cc" "MAC address of the tap link"
	must dladm show-link -p -o class,mtu "$TAP"
	expect_eq "$OUT" "unknown:9000" "dladm's class and MTU of the tap link"

	must "$TUNCTL" modify -t --mtu 1400 "$TAP"
	must dladm show-link -p -o mtu "$TAP"
	expect_eq "$OUT" 1400 "MTU after tunctl modify"

	# Bad input, each with its documented exit status.
	expect_status 4 "$TUNCTL" create -t -T tun "$TUN"
	expect_status 2 "$TUNCTL" create -t -T tun bad-name0
	expect_status 2 "$TUNCTL" create -t -T tun --mtu 575 "$(link_name 23)"
	expect_status 2 "$TUNCTL" create -t -T tun --mac 2:8:20:1:2:3 "$(link_name 23)"
	expect_status 2 "$TUNCTL" create -t -T bogus "$(link_name 23)"
	link_absent "$(link_name 23)" || fail "a refused create left link $(link_name 23) behind"
	expect_status 3 "$TUNCTL" delete "$(link_name 29)"
	expect_status 3 "$TUNCTL" show "$(link_name 29)"
	expect_status 2 "$TUNCTL" modify -t "$TAP"
	expect_status 3 "$TUNCTL" delete e1000g999

	must "$TUNCTL" delete "$TUN"
	link_absent "$TUN" || fail "dladm still lists $TUN after tunctl delete"

	# Persistent: the configuration outlives the running link.
	link_absent "$PERSIST" || fail "link $PERSIST exists before the test"
	on_exit "remove_link $PERSIST"
	must "$TUNCTL" create -T tun "$PERSIST"
	must dladm show-link -P -p -o link "$PERSIST"
	expect_eq "$OUT" "$PERSIST" "dladm's persistent configuration"
	must "$TUNCTL" delete -t "$PERSIST"
	link_absent "$PERSIST" || fail "$PERSIST still runs after delete -t"
	must "$TUNCTL" show -p -o state,persist "$PERSIST"
	expect_eq "$OUT" "configured:yes" "state of a configured, stopped link"
	must "$TUNCTL" up "$PERSIST"
	expect_contains "$OUT" "$PERSIST: created" "tunctl up's report"
	must "$TUNCTL" up "$PERSIST"
	expect_contains "$OUT" "$PERSIST: already up" "a second tunctl up"
	link_exists "$PERSIST" || fail "tunctl up did not bring $PERSIST back"
	must "$TUNCTL" delete "$PERSIST"
	must_fail dladm show-link -P "$PERSIST"

	# The old tunctl command line.
	OLD=tun4001
	link_absent "$OLD" || fail "link $OLD exists before the test"
	on_exit "remove_link $OLD"
	must "$TUNCTL" -t "$OLD"
	expect_contains "$OUT" "Set '$OLD'" "the old tool's message"
	must dladm show-link -p -o class "$OLD"
	expect_eq "$OUT" misc "class of an old-CLI link"
	must "$TUNCTL" -d "$OLD"
	link_absent "$OLD" || fail "tunctl -d $OLD left the link"
	expect_status 2 "$TUNCTL" -t
	expect_status 2 "$TUNCTL" -x tun4002

	# dladm's tun subcommands exist only where dladm is patched.
	if dladm help 2>&1 | grep -q create-tun; then
		DL=$(link_name 24)
		link_absent "$DL" || fail "link $DL exists before the test"
		on_exit "remove_link $DL"
		must dladm create-tun -t -T tap -p mtu=2000 "$DL"
		must dladm show-tun -p -o link,mode,mtu "$DL"
		expect_eq "$OUT" "$DL:tap:2000" "dladm show-tun"
		must "$TUNCTL" show -p -o mode "$DL"
		expect_eq "$OUT" tap "tunctl's view of a dladm-made link"
		must_fail dladm create-tun -t -T bogus "$(link_name 25)"
		must_fail dladm create-tun -t -T tun "$DL"
		must dladm delete-tun -t "$DL"
		link_absent "$DL" || fail "dladm delete-tun left $DL"
	else
		log "dladm has no create-tun (not patched): its part is not run"
	fi
}
