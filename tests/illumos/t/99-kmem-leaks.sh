# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: long run with kmem auditing: kmem_flags set for the boot (a reboot the suite resumes after), TUNTAP_TEST_LONG_SECONDS of link churn and traffic, then mdb ::findleaks reports no leak whose caller is in tuntap or tun
#
# Proves the driver frees what it allocates over many cycles on a real
# kernel allocator: with kmem_flags auditing (0xf: audit, deadbeef,
# redzone, contents), ::findleaks lists every unreferenced buffer with the
# function that allocated it, so a leak in drv/tuntap or drv/tun names
# itself.  kmem_flags only takes effect at boot: phase 1 sets it in
# /etc/system and asks for a reboot; phase 2 checks it, churns, looks for
# leaks and removes the setting.  A DEBUG kernel adds the kernel's
# ASSERTs; the test logs whether it runs on one.

KMEM_LINE="set kmem_flags=0xf"

# churn_once N: create links, carry traffic, plumb, delete.
churn_once() {
	a=$(link_name 97)
	b=$(link_name 98)
	"$TUNCTL" create -t -T tun "$a" >/dev/null || fail "churn $1: create $a"
	"$TUNCTL" create -t -T tap "$b" >/dev/null || fail "churn $1: create $b"
	ipadm create-ip -t "$a" >/dev/null 2>&1 || fail "churn $1: plumb $a"
	dladm set-linkprop -t -p mtu=9000 "$b" >/dev/null || fail "churn $1: mtu on $b"
	ipadm delete-if "$a" >/dev/null 2>&1 || fail "churn $1: unplumb $a"
	"$TUNCTL" delete "$a" >/dev/null || fail "churn $1: delete $a"
	"$TUNCTL" delete "$b" >/dev/null || fail "churn $1: delete $b"
}

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	require_cmd mdb kstat
	if ! resuming; then
		grep -qxF "$KMEM_LINE" /etc/system || {
			printf '%s\n' "$KMEM_LINE" >>/etc/system || fail "cannot write /etc/system"
			state_put added yes
		}
		request_reboot "kmem_flags=0xf must be set at boot for ::findleaks"
	fi
	expect_rebooted
	# Whatever happens now, the next boot is without auditing.
	on_exit "[ \"\$(state_get added)\" = yes ] && { grep -vxF '$KMEM_LINE' /etc/system >/etc/system.tuntest && cat /etc/system.tuntest >/etc/system; rm -f /etc/system.tuntest; }"
	FLAGS=$(echo 'kmem_flags/X' | mdb -k 2>&1 | kmem_flags_value) || fail "cannot read kmem_flags with mdb -k"
	expect_eq "$FLAGS" f "kmem_flags of this boot"
	if echo '::status' | mdb -k 2>/dev/null | grep -qi debug; then
		log "DEBUG kernel"
	else
		log "not a DEBUG kernel: the run has kmem auditing, not the kernel's ASSERTs"
	fi

	SECONDS_LEFT=${TUNTAP_TEST_LONG_SECONDS:-600}
	A=$(link_name 95)
	B=$(link_name 96)
	tunneld_tun_pair "$A" "$B" $((TUNTAP_TEST_PORT_BASE + 99))
	on_exit "ipadm delete-if $A >/dev/null 2>&1"
	must ipadm create-if -t "$A"
	must ipadm create-addr -t -T static -a "$TUNTAP_TEST_NET.99.1/24" "$A/v4"
	start_udp_load "$TUNTAP_TEST_NET.99.2" $((TUNTAP_TEST_PORT_BASE + 199)) 1200 "$SECONDS_LEFT"
	n=0
	start=$(kstat -p unix:0:system_misc:clk_intr | awk '{ print $2 }')
	hz=$(kstat -p unix:0:system_misc:hz 2>/dev/null | awk '{ print $2 }')
	[ -n "$hz" ] || hz=100
	while :; do
		now=$(kstat -p unix:0:system_misc:clk_intr | awk '{ print $2 }')
		[ $(((now - start) / hz)) -ge "$SECONDS_LEFT" ] && break
		n=$((n + 1))
		churn_once "$n"
	done
	echo "ok: $n churn cycles with traffic in ${SECONDS_LEFT}s"
	TX=$(tunneld_counter "$TUNNELD_A_CONF" tx_packets)
	{ is_count "$TX" && [ "$TX" -gt 1000 ]; } || fail "tunneld carried only '$TX' packets during the run"
	stop_process "$LOAD_PID"

	run sh -c "echo ::findleaks | mdb -k"
	[ "$RC" -eq 0 ] || fail "mdb -k ::findleaks failed: $ERR"
	OURS=$(printf '%s\n' "$OUT" | leaks_in_modules tuntap tun)
	[ -z "$OURS" ] || fail "::findleaks reports leaks allocated by tuntap or tun:
$OURS"
	echo "ok: ::findleaks reports no leak from tuntap or tun"
}
