#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
#
# Stand-in for illumos' /lib/svc/share/smf_include.sh, for running SMF
# method scripts on Linux in the tests (xtask/tests/smf_methods.rs).  It
# provides what our methods use, with illumos' exit codes and calling
# conventions; only contracts are modelled differently:
#
# A process contract is modelled as "every process whose environment has
# SMF_STANDIN_CONTRACT=ID".  The test harness sets that variable when it
# runs a start method, so the daemon and everything it forks inherit it,
# just as they would inherit the instance's contract on illumos.

# Sourced by the methods, which use these.
# shellcheck disable=SC2034
{
	SMF_EXIT_OK=0
	SMF_EXIT_ERR_FATAL=95
	SMF_EXIT_ERR_CONFIG=96
	SMF_EXIT_MON_DEGRADE=97
	SMF_EXIT_MON_OFFLINE=98
	SMF_EXIT_ERR_NOSMF=99
	SMF_EXIT_ERR_PERM=100
}

smf_present() {
	return 1
}

smf_clear_env() {
	unset SMF_FMRI SMF_METHOD SMF_RESTARTER SMF_ZONENAME
}

smf_zonename() {
	echo "${SMF_ZONENAME:=global}"
}

smf_is_globalzone() {
	[ "${SMF_ZONENAME:=global}" = global ]
}

smf_is_nonglobalzone() {
	[ "${SMF_ZONENAME:=global}" != global ]
}

# The live (non-zombie) members of contract $1, one pid a line.
smf_standin_members() {
	for environ in /proc/[0-9]*/environ; do
		member_dir=${environ%/environ}
		member=${member_dir#/proc/}
		[ "$member" = "$$" ] && continue
		tr '\0' '\n' <"$environ" 2>/dev/null |
			grep -qx "SMF_STANDIN_CONTRACT=$1" || continue
		state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "$member_dir/status" 2>/dev/null)
		[ -n "$state" ] && [ "$state" != Z ] && echo "$member"
	done
}

# smf_kill_contract CONTRACT SIGNAL WAIT TIMEOUT, as on illumos: returns 1
# for an invalid contract, 2 when WAIT is 1 and TIMEOUT (seconds) expires
# with members left, 0 otherwise.
smf_kill_contract() {
	case $1 in
	"" | *[!0-9]*)
		echo "Error, invalid contract \"$1\"" >&2
		return 1
		;;
	esac
	tenths_left=$((${4:-0} * 10))
	members=$(smf_standin_members "$1")
	[ -z "$members" ] && return 0
	# shellcheck disable=SC2086 # one pid a word
	kill -s "$2" $members 2>/dev/null
	[ "${3:-0}" -eq 0 ] && return 0
	while [ -n "$(smf_standin_members "$1")" ]; do
		if [ "${4:-0}" -gt 0 ] && [ "$tenths_left" -le 0 ]; then
			return 2
		fi
		sleep 0.2
		tenths_left=$((tenths_left - 2))
	done
	return 0
}
