# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: IPS: pkgsend publish every manifest from out/proto into a scratch repository, which then lists the five packages; pkg install -n resolves them; a manifest naming a missing file is refused
#
# Proves the manifests in manifests/ publish with the real pkg(5) tools
# (the Linux checker in xtask only compares them with the proto area).
# Needs an illumos-built proto area: `cargo xtask package` on illumos
# (Linux stand-ins, listed in out/proto.stand-ins, must not be published).

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	require_cmd pkgsend pkgrepo pkg
	PROTO=$TUNTAP_ROOT/out/proto
	[ -d "$PROTO" ] || skip "no proto area at $PROTO (run cargo xtask package on illumos)"
	[ -e "$TUNTAP_ROOT/out/proto.stand-ins" ] && skip "$PROTO holds Linux stand-ins (out/proto.stand-ins); build the userland on illumos first"
	REPO=$T_WORK/repo
	must pkgrepo create "$REPO"
	must pkgrepo -s "$REPO" set publisher/prefix=tuntap
	for MANIFEST in "$TUNTAP_ROOT"/manifests/*.p5m; do
		must pkgsend publish -s "$REPO" -d "$PROTO" "$MANIFEST"
	done
	must pkgrepo -s "$REPO" list
	for PKG in driver/network/tuntap system/header/header-tun system/library/libdltun \
		network/tunctl network/openvpn/tuntap-service; do
		expect_contains "$OUT" "$PKG" "pkgrepo list"
	done

	# Exit status 4 means "nothing to do" (already installed).
	run pkg install -n -g "$REPO" driver/network/tuntap system/header/header-tun \
		system/library/libdltun network/tunctl
	[ "$RC" -eq 0 ] || [ "$RC" -eq 4 ] || fail "pkg install -n failed with status $RC: $ERR"

	# Bad input: a file the proto area does not have.
	{
		cat "$TUNTAP_ROOT/manifests/header-tun.p5m"
		echo "file path=usr/bin/tuntap-test-no-such-file group=bin mode=0555 owner=root"
	} >"$T_WORK/broken.p5m"
	grep -q tuntap-test-no-such-file "$T_WORK/broken.p5m" || fail "could not make the broken manifest"
	must_fail pkgsend publish -s "$REPO" -d "$PROTO" "$T_WORK/broken.p5m"
}
