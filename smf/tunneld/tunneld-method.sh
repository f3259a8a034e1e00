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
# The shared part (smf_include.sh, fail, the SMF_FMRI and instance checks,
# property, register_pid) is /lib/svc/share/tuntap_include.sh;
# TUNTAP_INCLUDE_SH only exists so the tests can use the repository's copy.
METHOD_NAME=tunneld
SERVICE_HINT=network/tunneld
# shellcheck source-path=SCRIPTDIR source=../share/tuntap_include.sh
. "${TUNTAP_INCLUDE_SH:-/lib/svc/share/tuntap_include.sh}"

method=${1:-}

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
	register_pid "$$"
	exec "$tunneld" run --config "$config_file"
}

case $method in
start) start ;;
*)
	fail "$SMF_EXIT_ERR_FATAL" "usage: $0 start (got '$method')"
	;;
esac
