#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
#
# SMF method for svc:/network/tuntap/openvpn:NAME (installed as
# /lib/svc/method/tuntap-openvpn).  The service runs the distribution's
# OpenVPN: OpenIndiana's network/openvpn (/usr/sbin/openvpn, configurations
# in /etc/openvpn) or OmniOS's ooce/network/openvpn
# (/opt/ooce/openvpn/sbin/openvpn, configurations in /etc/opt/ooce/openvpn).
#
#   openvpn start          check the configuration, start OpenVPN as a
#                          daemon tagged openvpn-NAME with its own pid and
#                          log file, and register its pid for this FMRI
#                          (`tunctl register`) so cleanup finds its links
#                          even after a crash
#   openvpn stop [CTID]    end the daemon and the contract CTID, then
#                          `tunctl cleanup --for FMRI`: no link or IP
#                          plumbing of this instance is left behind
#   openvpn refresh        SIGHUP: OpenVPN re-reads its configuration
#
# Properties (svcprop on the instance): config/config_file (default
# /etc/openvpn/NAME.conf, or /etc/opt/ooce/openvpn/NAME.conf when only that
# exists), paths/openvpn (default: the first of /usr/sbin/openvpn and
# /opt/ooce/openvpn/sbin/openvpn that exists), paths/pid_dir (default
# /var/run/openvpn), paths/log_dir (default empty: OpenVPN logs to the
# instance's SMF log, `svcs -L FMRI`, which logadm's smf_logs entry
# rotates with copy-and-truncate).
#
# The shared part (smf_include.sh, fail, the SMF_FMRI and instance checks,
# property, register_pid) is /lib/svc/share/tuntap_include.sh;
# TUNTAP_INCLUDE_SH only exists so the tests can use the repository's copy.
METHOD_NAME=openvpn
SERVICE_HINT=network/tuntap/openvpn
# shellcheck source-path=SCRIPTDIR source=../share/tuntap_include.sh
. "${TUNTAP_INCLUDE_SH:-/lib/svc/share/tuntap_include.sh}"

method=${1:-}
contract=${2:-}

# first_existing DEFAULT PATH...: the first PATH that exists, else DEFAULT.
first_existing() {
	choice=$1
	shift
	for candidate in "$@"; do
		if [ -e "$candidate" ]; then
			choice=$candidate
			break
		fi
	done
	printf '%s\n' "$choice"
}

# OpenIndiana's layout first, then OmniOS's (omnios-extra build/openvpn:
# PREFIX /opt/ooce/openvpn, configurations in /etc/opt/ooce/openvpn).
config_file=$(property config/config_file "$(first_existing "/etc/openvpn/$instance.conf" \
	"/etc/openvpn/$instance.conf" "/etc/opt/ooce/openvpn/$instance.conf")")
openvpn=$(property paths/openvpn "$(first_existing /usr/sbin/openvpn \
	/usr/sbin/openvpn /opt/ooce/openvpn/sbin/openvpn)")
pid_dir=$(property paths/pid_dir /var/run/openvpn)
log_dir=$(property paths/log_dir "")
pid_file=$pid_dir/$instance.pid
if [ -n "$log_dir" ]; then
	log_file=$log_dir/$instance.log
else
	# The SMF log of this instance; rotated by logadm's smf_logs entry
	# (illumos usr/src/cmd/logadm/logadm.conf: -c, copy and truncate, so
	# OpenVPN's open file stays valid).
	log_file=$(svcs -L "$SMF_FMRI" 2>/dev/null) || log_file=""
	[ -n "$log_file" ] || fail "$SMF_EXIT_ERR_FATAL" "$SMF_FMRI: 'svcs -L' names no log file (set paths/log_dir)"
	log_dir=$(dirname "$log_file")
fi

# The daemon's pid when the pid file names a live OpenVPN process; empty
# otherwise (no file, a dead or zombie process, or a reused pid).
running_pid() {
	[ -r "$pid_file" ] || return 0
	pid=""
	read -r pid <"$pid_file"
	case $pid in
	"" | *[!0-9]*) return 0 ;;
	esac
	# ps prints the state and the command: "S /usr/sbin/openvpn".
	process=$(ps -o s= -o comm= -p "$pid" 2>/dev/null) || return 0
	read -r state command_name <<-EOF
	$process
	EOF
	[ "$state" = Z ] && return 0
	case $command_name in
	*openvpn) printf '%s\n' "$pid" ;;
	esac
}

check_config() {
	if [ ! -e "$config_file" ]; then
		fail "$SMF_EXIT_ERR_CONFIG" "$SMF_FMRI: configuration file $config_file does not exist (set config/config_file or create it)"
	fi
	if [ ! -f "$config_file" ]; then
		fail "$SMF_EXIT_ERR_CONFIG" "$SMF_FMRI: configuration file $config_file is not a regular file"
	fi
	# Open it as OpenVPN will, with the method's privileges (no
	# file_dac_read: a file root may not read stays unreadable).
	if ! (: <"$config_file") 2>/dev/null; then
		fail "$SMF_EXIT_ERR_CONFIG" "$SMF_FMRI: configuration file $config_file is not readable"
	fi
}

# wait_for_exit TENTHS: 0 when the daemon is gone within TENTHS tenths of
# a second.
wait_for_exit() {
	waited=0
	while [ -n "$(running_pid)" ]; do
		[ "$waited" -ge "$1" ] && return 1
		sleep 0.1
		waited=$((waited + 1))
	done
	return 0
}

cleanup_links() {
	if ! tunctl cleanup --for "$SMF_FMRI"; then
		fail "$SMF_EXIT_ERR_FATAL" "$SMF_FMRI: 'tunctl cleanup --for $SMF_FMRI' failed; links or IP interfaces of this instance may remain (see tunctl show)"
	fi
}

start() {
	check_config
	if [ ! -x "$openvpn" ]; then
		fail "$SMF_EXIT_ERR_CONFIG" "$SMF_FMRI: OpenVPN program $openvpn is missing or not executable (set paths/openvpn)"
	fi
	pid=$(running_pid)
	if [ -n "$pid" ]; then
		fail "$SMF_EXIT_ERR_FATAL" "$SMF_FMRI: OpenVPN is already running as pid $pid ($pid_file)"
	fi
	mkdir -p "$pid_dir" "$log_dir" ||
		fail "$SMF_EXIT_ERR_FATAL" "$SMF_FMRI: cannot create $pid_dir or $log_dir"
	rm -f "$pid_file"
	# A crash may have left this instance's link or IP interface behind.
	cleanup_links

	# --cd first so relative paths in the configuration (keys,
	# certificates, scripts) resolve against its directory.
	config_dir=$(dirname "$config_file")
	if ! "$openvpn" --cd "$config_dir" --config "$config_file" \
		--daemon "openvpn-$instance" --writepid "$pid_file" \
		--log-append "$log_file"; then
		fail "$SMF_EXIT_ERR_CONFIG" "$SMF_FMRI: OpenVPN refused $config_file; see $log_file"
	fi

	# The daemon writes its pid once it has detached.
	waited=0
	daemon_pid=$(running_pid)
	while [ -z "$daemon_pid" ]; do
		if [ "$waited" -ge 100 ]; then
			fail "$SMF_EXIT_ERR_FATAL" "$SMF_FMRI: OpenVPN did not come up within 10 seconds; last lines of $log_file: $(tail -n 5 "$log_file" 2>/dev/null)"
		fi
		sleep 0.1
		waited=$((waited + 1))
		daemon_pid=$(running_pid)
	done

	# Record the daemon (pid and start time) for 'tunctl cleanup --for':
	# its process contract vanishes with it, so after a crash this record
	# is what ties the links it made to this instance.  The VPN is up
	# either way, so a failure is only a warning.
	register_pid "$daemon_pid"
	exit "$SMF_EXIT_OK"
}

stop() {
	pid=$(running_pid)
	if [ -n "$pid" ]; then
		# SIGTERM lets OpenVPN unplumb its interface and run its down
		# script.
		kill -TERM "$pid" 2>/dev/null
		wait_for_exit 200 || kill -KILL "$pid" 2>/dev/null
	fi
	if [ -n "$contract" ]; then
		# Anything else of this instance (helpers, scripts) ends too.
		smf_kill_contract "$contract" TERM 1 10
		[ $? -eq 2 ] && smf_kill_contract "$contract" KILL 1 10
	fi
	rm -f "$pid_file"
	cleanup_links
	exit "$SMF_EXIT_OK"
}

refresh() {
	# Check first: OpenVPN exits if SIGHUP finds no configuration.
	check_config
	pid=$(running_pid)
	if [ -z "$pid" ]; then
		fail "$SMF_EXIT_ERR_FATAL" "$SMF_FMRI: no running OpenVPN in $pid_file to refresh"
	fi
	kill -HUP "$pid" ||
		fail "$SMF_EXIT_ERR_FATAL" "$SMF_FMRI: cannot signal OpenVPN pid $pid"
	exit "$SMF_EXIT_OK"
}

case $method in
start) start ;;
stop) stop ;;
refresh) refresh ;;
*)
	fail "$SMF_EXIT_ERR_FATAL" "usage: $0 start | stop [CONTRACT] | refresh (got '$method')"
	;;
esac
