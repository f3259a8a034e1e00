# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
#
# Pure parsers and arithmetic for the suite: each reads the output of an
# illumos command on stdin (or takes numbers as arguments) and runs no
# illumos command itself, so `cargo test -p xtask --test illumos_suite`
# runs every one of them on this host against the sample outputs in
# ../samples (written from the format strings of the cited sources) and
# against a twin that must be refused.  Sourced by lib.sh; POSIX sh.
#
# Only POSIX tools and options that illumos' own have: grep
# -c/-q/-x/-E/-F/-v (usr/src/cmd/grep/grep.c, getopt
# "vwchHilnrbse:f:qxEFIRA:B:C:"), sed -n with basic regular expressions
# (regcomp without REG_EXTENDED: no \| \+ \?), awk without gawk
# extensions.  xtask's static check rejects the GNU-only spellings.

# is_count TEXT: TEXT is a non-negative decimal integer.
is_count() {
	case $1 in
	"" | *[!0-9]*) return 1 ;;
	*) return 0 ;;
	esac
}

# count_addr IP: stdin is `ipadm show-addr -p -o addr`; prints how many
# lines hold exactly IP (with any /prefixlen).  One field in parsable
# mode is printed raw, without ':' escapes (ofmt_print_field in
# usr/src/lib/libofmt/common/ofmt.c), so IPv6 addresses arrive intact.
count_addr() {
	awk -v ip="$1" '
		BEGIN { n = 0 }
		{ a = $0; sub(/\/.*/, "", a); if (a == ip) n++ }
		END { print n }'
}

# ping_counts: stdin is the output of `ping -s HOST SIZE COUNT`; prints
# "TRANSMITTED RECEIVED" from its statistics line, "N packets
# transmitted, M packets received, L% packet loss" (finish() in
# usr/src/cmd/cmd-inet/usr.sbin/ping/ping.c).  Prints nothing when the
# line is missing (ping killed early).
ping_counts() {
	sed -n 's/^\([0-9][0-9]*\) packets transmitted, \([0-9][0-9]*\) packets received.*/\1 \2/p' | tail -n 1
}

# ping_received: the M of ping_counts (empty when missing).
ping_received() {
	ping_counts | awk '{ print $2 }'
}

# parsable_value: stdin is one line of an ofmt parsable listing with ONE
# field (`dladm show-linkprop -c -o value ...`, `dladm show-link -s -p -o
# obytes LINK`, `dlstat -p -o obytes LINK`, `flowstat -p -o obytes
# FLOW`); prints it unchanged.  ofmt prints an empty value as an empty
# string in parsable mode and as "--" only in the human form
# (ofmt_print: `*value == '\0' && !parsable`), so an unset property is
# "" here, never "--".  Fails on more than one line.
parsable_value() {
	awk 'NR > 1 { exit 1 } { v = $0 } END { if (NR > 1) exit 1; print v }'
}

# counter_value: parsable_value that must be a count (dladm's
# print_link_stats_cb prints "%llu"; dlstat's and flowstat's
# map_to_units print "%.0lf" in parsable mode: both plain integers).
counter_value() {
	counter_text=$(parsable_value) || return 1
	is_count "$counter_text" || return 1
	printf '%s\n' "$counter_text"
}

# rate_bps BYTES-BEFORE BYTES-AFTER SECONDS: the bit rate between two
# byte counters, as an integer (bits per second).
rate_bps() {
	is_count "$1" && is_count "$2" && is_count "$3" && [ "$3" -gt 0 ] || return 1
	awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { if (b < a) exit 1; printf "%d\n", (b - a) * 8 / s }'
}

# mbps BITS-PER-SECOND: the rate in Mbit/s with one decimal (for logs).
mbps() {
	awk -v r="$1" 'BEGIN { printf "%.1f\n", r / 1000000 }'
}

# within_pct MEASURED TARGET PCT: |MEASURED - TARGET| <= TARGET * PCT / 100.
within_pct() {
	is_count "$1" && is_count "$2" && is_count "$3" || return 1
	awk -v m="$1" -v t="$2" -v p="$3" 'BEGIN { d = m - t; if (d < 0) d = -d; exit !(d <= t * p / 100) }'
}

# at_least_times MEASURED TARGET FACTOR: MEASURED >= TARGET * FACTOR.
at_least_times() {
	is_count "$1" && is_count "$2" || return 1
	awk -v m="$1" -v t="$2" -v f="$3" 'BEGIN { exit !(m >= t * f) }'
}

# bw_to_bps VALUE: a maxbw value as dladm/flowadm take it ("5M", "500K",
# "1G"; a bare number is Mbps: dladm_str2bw in
# usr/src/lib/libdladm/common/libdladm.c) in bits per second.
bw_to_bps() {
	case $1 in
	*[Kk]) n=${1%?} m=1000 ;;
	*[Mm]) n=${1%?} m=1000000 ;;
	*[Gg]) n=${1%?} m=1000000000 ;;
	*) n=$1 m=1000000 ;;
	esac
	is_count "$n" || return 1
	awk -v n="$n" -v m="$m" 'BEGIN { printf "%d\n", n * m }'
}

# ---- repository facts, read at run time --------------------------------
#
# Other work renames packages and services: the tests read the names from
# manifests/*.p5m and smf/*/*.xml instead of keeping their own lists.

# p5m_fmri: stdin is an IPS manifest; prints its package name without
# publisher and version ("set name=pkg.fmri value=pkg://tuntap/network/
# tunctl@0.1.0,5.11-0" -> network/tunctl).
p5m_fmri() {
	sed -n 's/^set name=pkg\.fmri value=//p' | sed -n 1p |
		sed -e 's/^pkg:\/\/[^/]*\///' -e 's/^pkg:\///' -e 's/@.*//'
}

# p5m_paths ACTION: stdin is an IPS manifest; prints the path= of every
# ACTION (file, dir, link) action, continuation lines joined.
p5m_paths() {
	awk -v want="$1" '
		{ line = line $0 }
		/\\$/ { sub(/\\$/, "", line); next }
		{
			n = split(line, w, /[ \t]+/)
			if (w[1] == want)
				for (i = 2; i <= n; i++)
					if (substr(w[i], 1, 5) == "path=") print substr(w[i], 6)
			line = ""
		}'
}

# p5m_driver_names: stdin is an IPS manifest; prints the name= of every
# driver action.
p5m_driver_names() {
	awk '$1 == "driver" { for (i = 2; i <= NF; i++) if (substr($i, 1, 5) == "name=") print substr($i, 6) }'
}

# smf_service_name: stdin is an SMF manifest; prints the first
# <service name="..."> (both quote styles).
smf_service_name() {
	# One line (attributes may wrap), ended by a newline.
	{
		tr '\n' ' '
		echo
	} | sed -n 's/.*<service[[:space:]][^>]*name=["'"'"']\([^"'"'"']*\)["'"'"'].*/\1/p' |
		sed -n 1p
}

# smf_exec METHOD: stdin is an SMF manifest; prints the exec= of the
# exec_method named METHOD (start, stop, refresh).
smf_exec() {
	{
		tr '\n' ' '
		echo
	} | sed 's/<exec_method/\
<exec_method/g' |
		sed -n "/^<exec_method[^>]*name=[\"']$1[\"']/s/.*exec=[\"']\\([^\"']*\\)[\"'].*/\\1/p" | sed -n 1p
}

# svcprop_unescape: stdin is one value printed by `svcprop -p PG/PROP`,
# which puts a backslash before blanks and the shell's metacharacters and
# prints an empty string as "" (quote_for_shell, called by print_value, in
# usr/src/cmd/svc/svcprop/svcprop.c); prints it plain.
svcprop_unescape() {
	sed -e 's/^""$//' -e 's/\\\(.\)/\1/g'
}

# foreign_tuntap_drivers: stdin is /etc/name_to_major; prints each reason
# the binding cannot be ours.  Ours binds exactly `tuntap` (the mac
# provider) and `tun` (the STREAMS driver, whose minors are tun, tap and
# ctl); the old drivers bind `tun` and `tap` (OpenIndiana
# driver/network/tun and driver/network/tap, OmniOS driver/tuntap), so a
# `tap` driver, or `tun` without `tuntap`, is foreign.
foreign_tuntap_drivers() {
	awk '
		$1 == "tap" { tap = 1 }
		$1 == "tun" { tun = 1 }
		$1 == "tuntap" { ours = 1 }
		END {
			if (tap) print "a driver named tap is bound (the old tap driver; ours has no tap driver)"
			if (tun && !ours) print "a driver named tun is bound without tuntap (the old tun driver)"
		}'
}

# leaks_in_modules MODULE...: stdin is the output of mdb's ::findleaks,
# rows "CACHE LEAKED BUFCTL CALLER" with CALLER as module`function+offset
# (the kernel leaky module: usr/src/cmd/mdb/common/modules/genunix/
# leaky_subr.c, leaky_subr_dump; oversized leaks have rows "BYTES LEAKED
# VMEM_SEG CALLER" with BYTES possibly a range); prints the rows whose
# caller is in one of the MODULEs.
leaks_in_modules() {
	awk -v mods="$*" '
		BEGIN { n = split(mods, m, " "); for (i = 1; i <= n; i++) want[m[i]] = 1 }
		NF >= 4 && $2 ~ /^[0-9]+$/ {
			caller = $4
			k = index(caller, "`")
			if (k > 1 && (substr(caller, 1, k - 1) in want)) print
		}'
}

# kmem_flags_value: stdin is mdb's answer to "kmem_flags/X"
# ("kmem_flags:\n kmem_flags: f"); prints the hexadecimal value.
kmem_flags_value() {
	awk '$1 == "kmem_flags:" && NF >= 2 { v = $2 } END { if (v == "") exit 1; print v }'
}
