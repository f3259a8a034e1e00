#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
#
# The shell the tun/tap SMF methods share (svc:/network/tuntap/openvpn,
# svc:/network/tunneld), installed as /lib/svc/share/tuntap_include.sh by
# network/tunctl, which both service packages require.  A method sets
# METHOD_NAME (the word its messages start with) and SERVICE_HINT (the
# service to name when it runs outside SMF), then sources this file.
#
# It sources smf_include.sh (the SMF_EXIT_* codes, smf_kill_contract),
# refuses to run without SMF_FMRI, checks the instance name, and defines
#   fail CODE MESSAGE...   report on stderr (the SMF log) and exit CODE
#   property NAME DEFAULT  the instance's value of NAME, or DEFAULT
#   register_pid PID       'tunctl register' PID for this instance (a
#                          warning, not a failure, when that fails)
# and the variable `instance`.
#
# Plain POSIX sh: on illumos /bin/sh is ksh93.  SMF_INCLUDE_SH only exists
# so the tests can source a stand-in for smf_include.sh on Linux; SMF starts
# methods with a clean environment, so in service it is always unset.

# (No shell of its own: methods source it; the #! line tells shellcheck the dialect.)
# shellcheck source=/dev/null
. "${SMF_INCLUDE_SH:-/lib/svc/share/smf_include.sh}"

fail() {
	code=$1
	shift
	echo "${METHOD_NAME:-tuntap} method: $*" >&2
	exit "$code"
}

if [ -z "${SMF_FMRI:-}" ]; then
	fail "$SMF_EXIT_ERR_NOSMF" "SMF_FMRI is not set: run this method from SMF (svcadm enable ${SERVICE_HINT:-SERVICE}:NAME)"
fi

instance=${SMF_FMRI##*:}
case $instance in
"" | *[!A-Za-z0-9_.-]* | .*)
	fail "$SMF_EXIT_ERR_CONFIG" "instance name '$instance' of $SMF_FMRI is not usable as a file name (letters, digits, '_', '.', '-'; no leading '.')"
	;;
esac

property() {
	value=$(svcprop -p "$1" "$SMF_FMRI" 2>/dev/null) || value=""
	# svcprop prints an empty astring as "".
	[ "$value" = '""' ] && value=""
	if [ -n "$value" ]; then
		printf '%s\n' "$value"
	else
		printf '%s\n' "$2"
	fi
}

# Record the daemon (pid and start time) for 'tunctl cleanup --for': its
# process contract vanishes with it, so after a crash this record is what
# ties the links it made to this instance.
register_pid() {
	tunctl register --for "$SMF_FMRI" --pid "$1" ||
		echo "${METHOD_NAME:-tuntap} method: $SMF_FMRI: warning: 'tunctl register --for $SMF_FMRI --pid $1' failed; after a crash 'tunctl cleanup --for $SMF_FMRI' may miss this instance's links" >&2
}
