# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
#
# Tests that span a reboot (85-reboot).  Phase 1 records what it expects
# under TUNTAP_TEST_STATE_DIR and calls request_reboot, which ends the
# test with status 75; run.sh reports it, finishes the other tests and
# exits 100.  After the reboot `run.sh --resume` runs only those tests
# again, and `resuming` is true in them.  Sourced by lib.sh; POSIX sh.

# reboot_marker: this test's marker file.
reboot_marker() {
	printf '%s/%s.reboot\n' "$TUNTAP_TEST_STATE_DIR" "$T_NAME"
}

# resuming: true in the run after the reboot this test asked for.
resuming() {
	[ -f "$(reboot_marker)" ]
}

# boot_time: seconds since the epoch at which this boot started
# (`kstat -p unix:0:system_misc:boot_time` prints "NAME<TAB>VALUE").
boot_time() {
	kstat -p unix:0:system_misc:boot_time 2>/dev/null | awk '{ print $2 }'
}

# state_put KEY VALUE / state_get KEY: values kept across the reboot.
state_put() {
	mkdir -p "$TUNTAP_TEST_STATE_DIR" || fail "cannot create $TUNTAP_TEST_STATE_DIR"
	printf '%s\n' "$2" >"$TUNTAP_TEST_STATE_DIR/$T_NAME.$1" || fail "cannot write $TUNTAP_TEST_STATE_DIR/$T_NAME.$1"
}

state_get() {
	cat "$TUNTAP_TEST_STATE_DIR/$T_NAME.$1" 2>/dev/null
}

# request_reboot REASON: end phase 1; the host must be rebooted and the
# suite resumed (`run.sh --resume`).
request_reboot() {
	state_put boot_time "$(boot_time)"
	printf '%s\n' "$*" >"$(reboot_marker)" || fail "cannot write $(reboot_marker)"
	echo "REBOOT: $*"
	exit 75
}

# expect_rebooted: the host booted since phase 1 recorded its boot time.
expect_rebooted() {
	before=$(state_get boot_time)
	now=$(boot_time)
	[ -n "$before" ] || fail "phase 1 left no boot time under $TUNTAP_TEST_STATE_DIR"
	[ "$now" != "$before" ] ||
		fail "the host was not rebooted since phase 1 (boot time $now); reboot it, then run run.sh --resume"
	echo "ok: rebooted (boot time $before -> $now)"
}

# on_exit_unless_reboot COMMAND: a phase-1 cleanup that is skipped when
# the test asked for a reboot (what it set up must survive the reboot).
on_exit_unless_reboot() {
	on_exit "[ -f '$(reboot_marker)' ] || { $1; }"
}
