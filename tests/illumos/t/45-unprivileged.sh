# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: unprivileged users: no create, delete or modify without sys_dl_config (tunctl exit 5); a link's owner and a member of its group attach (tunneld runs as them), anybody else is refused (tunneld exit 5)
#
# Proves the permission rules of tun(4D) with real credentials: the
# control node's operations need sys_dl_config, attaching needs the
# link's owner, its group, or the privilege (EPERM otherwise).  The
# users are the system's unprivileged accounts `nobody` and `noaccess`
# (uids 60001 and 60002, each with its own group, in every illumos
# /etc/passwd); the programs are copied where they can run them.

# as USER CMD...: run CMD as USER (su from root needs no password).
as() {
	who=$1
	shift
	# The words are quoted for su's shell.
	cmd=""
	for word in "$@"; do
		cmd="$cmd '$word'"
	done
	su "$who" -c "$cmd"
}

# tunneld_as USER LINK TAG: start tunneld as USER on LINK in the
# background; sets TPID.  Its files live in $PUB/TAG (owned by USER).
tunneld_as() {
	dir=$PUB/$3
	{ mkdir -p "$dir" && chown "$1" "$dir"; } || fail "cannot make $dir for $1"
	write_tunneld_config "$dir/tunneld.toml" server "$2" "$4" "$PUB/pki"
	chmod 0644 "$dir/tunneld.toml"
	su "$1" -c "'$PUB/tunneld' --config '$dir/tunneld.toml'" >"$dir/log" 2>&1 &
	TPID=$!
	on_exit "stop_process $TPID"
}

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	[ -n "$TUNNELD" ] || skip "tunneld not found (set TUNNELD=/path/to/tunneld)"
	require_cmd su openssl
	for who in nobody noaccess; do
		id "$who" >/dev/null 2>&1 || skip "no user $who on this host"
	done
	OWNED=$(link_name 45)
	GROUPED=$(link_name 46)
	NEW=$(link_name 47)
	# A directory the unprivileged users can read: copies of the
	# programs, the certificates (keys readable: test material only).
	PUB=/var/tmp/tuntap-unpriv.$$
	on_exit "rm -rf $PUB"
	must mkdir -m 0755 "$PUB"
	must cp "$TUNCTL" "$TUNNELD" "$PUB/"
	must chmod 0755 "$PUB/tunctl" "$PUB/tunneld"
	make_test_pki "$PUB/pki" >"$T_WORK/pki.log" 2>&1 || fail "openssl: $(cat "$T_WORK/pki.log")"
	must chmod -R a+rX "$PUB/pki"

	# Without the privilege: nothing on the control node.
	link_absent "$NEW" || fail "link $NEW exists before the test"
	on_exit "remove_link $NEW"
	expect_status 5 as nobody "$PUB/tunctl" create -t -T tun "$NEW"
	link_absent "$NEW" || fail "an unprivileged tunctl create made $NEW"

	make_link "$OWNED" tun --owner nobody
	make_link "$GROUPED" tun --group noaccess
	must "$TUNCTL" show -p -o owner "$OWNED"
	case $OUT in
	nobody | "$(awk -F: '$1 == "nobody" { print $3 }' /etc/passwd)") echo "ok: owner of $OWNED is $OUT" ;;
	*) fail "owner of $OWNED is '$OUT', expected nobody" ;;
	esac
	# Even the owner needs the privilege to delete or modify.
	expect_status 5 as nobody "$PUB/tunctl" delete "$OWNED"
	expect_status 5 as nobody "$PUB/tunctl" modify -t --mtu 1400 "$OWNED"
	expect_status 5 as noaccess "$PUB/tunctl" delete "$OWNED"
	link_exists "$OWNED" || fail "$OWNED was deleted without privilege"
	must dladm show-link -p -o mtu "$OWNED"
	expect_eq "$OUT" 1500 "MTU of $OWNED after the refused modify"

	# Attaching: the owner may, the group may, anybody else may not.
	PORT=$((TUNTAP_TEST_PORT_BASE + 145))
	tunneld_as nobody "$OWNED" owner "$PORT"
	wait_until 20 "tunneld as nobody attached to $OWNED (the link is up)" \
		test "$(dladm show-link -p -o state "$OWNED" 2>/dev/null)" = up
	must "$TUNCTL" show -p -o pids "$OWNED"
	expect_contains ",$OUT," ",$(pgrep -u nobody -f "$PUB/tunneld" | head -n 1)," "pids attached to $OWNED"

	tunneld_as noaccess "$GROUPED" group $((PORT + 1))
	wait_until 20 "tunneld as a member of $GROUPED's group attached" \
		test "$(dladm show-link -p -o state "$GROUPED" 2>/dev/null)" = up

	# Bad: noaccess on nobody's link, nobody on noaccess's group's link.
	write_tunneld_config "$PUB/deny1.toml" server "$OWNED" $((PORT + 2)) "$PUB/pki"
	write_tunneld_config "$PUB/deny2.toml" server "$GROUPED" $((PORT + 3)) "$PUB/pki"
	chmod 0644 "$PUB/deny1.toml" "$PUB/deny2.toml"
	chmod 1777 "$PUB"
	expect_status 5 with_timeout 20 su noaccess -c "'$PUB/tunneld' --config '$PUB/deny1.toml'"
	expect_status 5 with_timeout 20 su nobody -c "'$PUB/tunneld' --config '$PUB/deny2.toml'"
	return 0
}
