# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
#
# The project's IPS packages, read from manifests/*.p5m at run time
# (other work renames them), and a scratch repository to publish them
# into (tests 95, 96).  Sourced by lib.sh; POSIX sh.

# project_manifests: every manifests/*.p5m, one per line.
project_manifests() {
	for m in "$TUNTAP_ROOT"/manifests/*.p5m; do
		[ -f "$m" ] && printf '%s\n' "$m"
	done
}

# project_packages: the package name of every manifest, one per line.
project_packages() {
	project_manifests | while IFS= read -r m; do
		p5m_fmri <"$m"
	done
}

# require_proto: skip unless an illumos-built proto area is there; sets
# PROTO.
require_proto() {
	require_cmd pkgsend pkgrepo pkg
	PROTO=$TUNTAP_ROOT/out/proto
	[ -d "$PROTO" ] || skip "no proto area at $PROTO (run cargo xtask package on illumos)"
	[ -e "$TUNTAP_ROOT/out/proto.stand-ins" ] && skip "$PROTO holds Linux stand-ins (out/proto.stand-ins); build the userland on illumos first"
	[ "$(project_manifests | grep -c .)" -gt 0 ] || fail "no manifests under $TUNTAP_ROOT/manifests"
}

# publish_all REPO [VERSION]: create REPO (publisher prefix tuntap) and
# publish every manifest into it, with its version replaced by VERSION
# when given.
publish_all() {
	[ -d "$1" ] || {
		must pkgrepo create "$1"
		must pkgrepo -s "$1" set publisher/prefix=tuntap
	}
	project_manifests | while IFS= read -r m; do
		if [ -n "${2:-}" ]; then
			sed "s/^\\(set name=pkg\\.fmri value=[^@]*@\\)[^,]*/\\1$2/" "$m" >"$T_WORK/$(basename "$m")"
			m=$T_WORK/$(basename "$m")
		fi
		pkgsend publish -s "$1" -d "$PROTO" "$m" >>"$T_WORK/publish.log" 2>&1 ||
			{ echo "pkgsend publish $m failed"; exit 1; }
	done || fail "publishing into $1: $(cat "$T_WORK/publish.log")"
}
