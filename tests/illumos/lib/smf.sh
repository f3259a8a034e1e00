# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
#
# The project's SMF services, found in smf/ at run time (their names may
# change), and the check that a service on the host is the project's and
# not a distribution's of the same name (OpenIndiana's network/openvpn
# delivers its own svc:/network/openvpn).  Sourced by lib.sh; POSIX sh.

# has_role XML ROLE: the service XML defines plays ROLE.  Roles, not
# names, because other work renames the services:
#   boot     re-creates the persistent links at boot: a dependent of
#            svc:/network/physical (before IP's persistent configuration)
#   openvpn  runs OpenVPN: its method script speaks of openvpn
has_role() {
	case $2 in
	boot)
		tr '\n' ' ' <"$1" | grep -q '<dependent[^>]*>[[:space:]]*<service_fmri value=.svc:/network/physical'
		;;
	openvpn)
		grep -qi openvpn "$(method_source "$1")" 2>/dev/null
		;;
	*) return 1 ;;
	esac
}

# project_manifest ROLE: the one smf/*/*.xml whose service plays ROLE
# (fails unless exactly one does).
project_manifest() {
	found=""
	for xml in "$TUNTAP_ROOT"/smf/*/*.xml; do
		[ -f "$xml" ] || continue
		has_role "$xml" "$1" && found="$found$xml "
	done
	# The paths have no blanks (smf/NAME/NAME.xml): split on them.
	# shellcheck disable=SC2086
	set -- $found
	[ $# -eq 1 ] || return 1
	printf '%s\n' "$1"
}

# manifest_service XML: the service FMRI it defines (svc:/NAME).
manifest_service() {
	printf 'svc:/%s\n' "$(smf_service_name <"$1")"
}

# manifest_method XML: the path of its start method (the first word of
# the start exec, e.g. /lib/svc/method/tuntap-openvpn).
manifest_method() {
	smf_exec start <"$1" | awk '{ print $1 }'
}

# method_source XML: the repository script installed as the method: the
# method's base name + "-method.sh" next to the manifest.
method_source() {
	printf '%s/%s-method.sh\n' "$(dirname "$1")" "$(basename "$(manifest_method "$1")")"
}

# service_not_ours XML: prints why the service XML defines, as it is on
# this host, is not the project's (nothing when it is): the start method
# SMF runs must be the manifest's, the file there must be the
# repository's method, and the manifest SMF recorded for it
# (manifestfiles, `svcprop -p manifestfiles`: "pg/prop TYPE VALUE"
# lines, display_prop in svcprop.c) must be the repository's manifest.
service_not_ours() {
	svc=$(manifest_service "$1")
	method=$(manifest_method "$1")
	source=$(method_source "$1")
	exec=$(svcprop -p start/exec "$svc" 2>/dev/null | svcprop_unescape | awk '{ print $1 }')
	if [ "$exec" != "$method" ]; then
		echo "$svc starts '$exec', the project's manifest $1 starts '$method'"
		return 0
	fi
	if ! cmp -s "$method" "$source"; then
		echo "$method is not the project's method $source"
		return 0
	fi
	recorded=$(svcprop -p manifestfiles "$svc" 2>/dev/null | awk '{ print $3 }' | svcprop_unescape)
	[ -z "$recorded" ] && return 0
	for file in $recorded; do
		cmp -s "$file" "$1" && return 0
	done
	echo "$svc was imported from $(printf '%s' "$recorded" | tr '\n' ' '), none of which is the project's manifest $1"
}

# undo CMD: run CMD when the test ends, or, with SMF_KEEP=yes (a test
# whose setup must survive a reboot), keep it in the test's undo file
# under TUNTAP_TEST_STATE_DIR for its second phase (run_undo).
undo() {
	if [ "${SMF_KEEP:-no}" = yes ]; then
		{ mkdir -p "$TUNTAP_TEST_STATE_DIR" && printf '%s\n' "$1" >>"$TUNTAP_TEST_STATE_DIR/$T_NAME.undo"; } ||
			fail "cannot record '$1' in $TUNTAP_TEST_STATE_DIR"
	else
		on_exit "$1"
	fi
}

# run_undo: run the commands undo kept (newest first) and forget them.
run_undo() {
	file=$TUNTAP_TEST_STATE_DIR/$T_NAME.undo
	[ -f "$file" ] || return 0
	awk '{ line[NR] = $0 } END { for (i = NR; i > 0; i--) print line[i] }' "$file" |
		while IFS= read -r cmd; do
			echo "undo: $cmd"
			(eval "$cmd") || echo "undo failed (ignored): $cmd"
		done
	rm -f "$file"
}

# install_file SOURCE TARGET MODE: copy SOURCE to TARGET unless TARGET
# exists; remove it when the test ends if this test put it there.
install_file() {
	[ -e "$2" ] && return 0
	must cp "$1" "$2"
	must chmod "$3" "$2"
	undo "rm -f '$2'"
}

# import_service XML: import the manifest unless its service exists;
# delete the service when the test ends if this test imported it.
import_service() {
	svc=$(manifest_service "$1")
	svccfg -s "$svc" listpg >/dev/null 2>&1 && return 0
	must svccfg import "$1"
	undo "svcadm disable -s $svc >/dev/null 2>&1; svccfg delete $svc"
}

# use_project_service ROLE: install and import the project's service
# that plays ROLE (has_role) (method from smf/, tunctl for the methods'
# PATH), and skip the test when a service of that name on this host is
# not the project's.  Sets SERVICE_XML and SERVICE (svc:/...).
use_project_service() {
	SERVICE_XML=$(project_manifest "$1") || skip "smf/ under $TUNTAP_ROOT has no single service with the role '$1'"
	SERVICE=$(manifest_service "$SERVICE_XML")
	if svccfg -s "$SERVICE" listpg >/dev/null 2>&1; then
		why=$(service_not_ours "$SERVICE_XML")
		[ -z "$why" ] || skip "$SERVICE on this host is not the project's service ($why); uninstall the distribution's service or use a host without it"
	fi
	method=$(manifest_method "$SERVICE_XML")
	if [ -e "$method" ] && ! cmp -s "$method" "$(method_source "$SERVICE_XML")"; then
		skip "$method on this host is not the project's method $(method_source "$SERVICE_XML") (a distribution's service of the same name?)"
	fi
	# The methods source the shell they share, which network/tunctl
	# delivers (smf/share/tuntap_include.sh).
	if grep -q /lib/svc/share/tuntap_include.sh "$(method_source "$SERVICE_XML")"; then
		install_file "$TUNTAP_ROOT/smf/share/tuntap_include.sh" /lib/svc/share/tuntap_include.sh 0444
	fi
	install_file "$(method_source "$SERVICE_XML")" "$method" 0555
	import_service "$SERVICE_XML"
	why=$(service_not_ours "$SERVICE_XML")
	[ -z "$why" ] || fail "after importing $SERVICE_XML, $SERVICE is still not the project's: $why"
	echo "ok: $SERVICE is the project's ($SERVICE_XML)"
}

# add_openvpn_instance NAME LOCAL REMOTE PORT: instance NAME of the
# OpenVPN service $SVC with its static key and configuration in
# /etc/openvpn (openvpn_p2p_config: LOCAL REMOTE, UDP ports PORT and
# PORT+1; status in /var/run/openvpn), run by the OpenVPN under test.
# All of it goes when the test ends.
add_openvpn_instance() {
	conf=/etc/openvpn/$1.conf
	[ -e "$conf" ] && fail "$conf exists before the test"
	on_exit "rm -f $conf /etc/openvpn/$1.key"
	openvpn_static_key "/etc/openvpn/$1.key" || fail "cannot generate a static key"
	openvpn_p2p_config "$conf" "$2" "$3" "$4" $(($4 + 1)) "/etc/openvpn/$1.key" "/var/run/openvpn/$1.status"
	on_exit "svcadm disable -s $SVC:$1 >/dev/null 2>&1; svccfg -s $SVC delete $1"
	must svccfg -s "$SVC" add "$1"
	if [ "$OPENVPN" != /usr/sbin/openvpn ]; then
		# The group is the service's; give the instance its own.
		run svccfg -s "$SVC:$1" addpg paths application
		must svccfg -s "$SVC:$1" setprop paths/openvpn = astring: "$OPENVPN"
	fi
	must svcadm refresh "$SVC:$1"
}

# link_tunctl_for_methods: the methods run tunctl from /usr/sbin (their
# PATH); link the one under test there when none is installed.
link_tunctl_for_methods() {
	if [ ! -e /usr/sbin/tunctl ]; then
		must ln -s "$TUNCTL" /usr/sbin/tunctl
		undo "rm -f /usr/sbin/tunctl"
	fi
}
