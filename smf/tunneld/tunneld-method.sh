#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
#
# SMF method for svc:/network/tunneld:NAME (installed as
# /lib/svc/method/tunneld).
#
#   tunneld start    check the configuration and TLS files with
#                    `tunneld check`, then exec the daemon in the
#                    foreground (the service's startd/duration is child;
#                    stop is :kill, i.e. SIGTERM, which tunneld handles
#                    by closing its session and detaching from the link)
#
# Properties (svcprop on the instance): config/config_file (default
# /etc/tunneld/NAME.toml), paths/tunneld (default /usr/lib/tunneld).
#
# tunneld's exit codes (see its README): 0 stopped, 1 internal error,
# 2 usage, 3 configuration, 4 TLS files, 5 link, 6 socket.
#
# Plain POSIX sh: on illumos /bin/sh is ksh93.  SMF_INCLUDE_SH only exists
# so the tests can source a stand-in for smf_include.sh on Linux; SMF starts
# methods with a clean environment, so in service it is always unset.

# shellcheck source=/dev/null
. "${SMF_INCLUDE_SH:-/lib/svc/share/smf_include.sh}"

method=${1:-}

fail() {
	# fail EXIT-CODE MESSAGE...: report on stderr (the SMF log) and exit.
	code=$1
	shift
	echo "tunneld method: $*" >&2
	exit "$code"
}

if [ -z "${SMF_FMRI:-}" ]; then
	fail "$SMF_EXIT_ERR_NOSMF" "SMF_FMRI is not set: run this method from SMF (svcadm enable network/tunneld:NAME)"
fi

instance=${SMF_FMRI##*:}
case $instance in
"" | *[!A-Za-z0-9_.-]* | .*)
	fail "$SMF_EXIT_ERR_CONFIG" "instance name '$instance' of $SMF_FMRI is not usable as a file name (letters, digits, '_', '.', '-'; no leading '.')"
	;;
esac

# property NAME DEFAULT: the instance's value of NAME, or DEFAULT when the
# property is absent or empty.
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

config_file=$(property config/config_file "/etc/tunneld/$instance.toml")
tunneld=$(property paths/tunneld /usr/lib/tunneld)

start() {
	if [ ! -f "$config_file" ]; then
		fail "$SMF_EXIT_ERR_CONFIG" "$SMF_FMRI: configuration file $config_file does not exist or is not a regular file (set config/config_file or create it)"
	fi
	if [ ! -x "$tunneld" ]; then
		fail "$SMF_EXIT_ERR_CONFIG" "$SMF_FMRI: tunneld program $tunneld is missing or not executable (set paths/tunneld)"
	fi
	"$tunneld" check --config "$config_file" >/dev/null
	status=$?
	case $status in
	0) ;;
	3 | 4)
		fail "$SMF_EXIT_ERR_CONFIG" "$SMF_FMRI: $config_file is not usable (tunneld check exit $status; the reason is logged above)"
		;;
	*)
		fail "$SMF_EXIT_ERR_FATAL" "$SMF_FMRI: tunneld check failed with exit $status"
		;;
	esac
	# Record this process for 'tunctl cleanup --for' (exec keeps its pid
	# and start time): after a crash this is what ties the links tunneld
	# made to this instance.  Only a warning when it fails.
	tunctl register --for "$SMF_FMRI" --pid "$$" ||
		echo "tunneld method: $SMF_FMRI: warning: 'tunctl register' failed; after a crash 'tunctl cleanup --for $SMF_FMRI' may miss this instance's links" >&2
	exec "$tunneld" run --config "$config_file"
}

case $method in
start) start ;;
*)
	fail "$SMF_EXIT_ERR_FATAL" "usage: $0 start (got '$method')"
	;;
esac
