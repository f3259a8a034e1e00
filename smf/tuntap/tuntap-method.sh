#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
#
# SMF method for svc:/network/tuntap:default (installed as
# /lib/svc/method/tuntap).
#
#   tuntap start   re-create the persistent tun/tap links (`tunctl up`);
#                  links already up are left as they are, so running it
#                  again changes nothing
#   tuntap stop    nothing: persistent links outlive the service, as
#                  dladm's persistent links do; `tunctl delete` removes one
#
# SMF_INCLUDE_SH only exists so the tests can source a stand-in for
# smf_include.sh on Linux; SMF never sets it.

# shellcheck source=/dev/null
. "${SMF_INCLUDE_SH:-/lib/svc/share/smf_include.sh}"

case ${1:-} in
start)
	if ! tunctl up; then
		echo "tuntap method: 'tunctl up' failed: some persistent tun/tap links were not re-created (see above, and tunctl show)" >&2
		exit "$SMF_EXIT_ERR_FATAL"
	fi
	exit "$SMF_EXIT_OK"
	;;
stop)
	exit "$SMF_EXIT_OK"
	;;
*)
	echo "tuntap method: usage: $0 start | stop (got '${1:-}')" >&2
	exit "$SMF_EXIT_ERR_FATAL"
	;;
esac
