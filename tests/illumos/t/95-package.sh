# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
# describe: IPS: libdltun.so.1 defines dltun_open in LIBDLTUN_1.0 and dltun_get_counters in LIBDLTUN_1.1; pkgsend publish every manifest in manifests/ from out/proto into a scratch repository, which then lists every one of their packages; pkg install -n resolves all of them; a manifest naming a missing file is refused with an error naming that file
#
# Proves the manifests in manifests/ publish with the real pkg(5) tools
# (the Linux checker in xtask only compares them with the proto area).
# The package names are read from the manifests (lib/ips.sh), so every
# manifest is covered whatever it is called.  Needs an illumos-built
# proto area: `cargo xtask package` on illumos (Linux stand-ins, listed
# in out/proto.stand-ins, must not be published).

# shellcheck disable=SC2154 # OUT, ERR, RC come from lib.sh's run
t_main() {
	require_proto
	# libdltun.so.1's functions carry the versions of
	# libdltun/mapfile-vers: LIBDLTUN_1.0 and LIBDLTUN_1.1
	# (dltun_get_counters).  elfdump -v lists the version definitions;
	# pvs -dos prints one line a symbol, "FILE -<tab>VERSION: SYMBOL;"
	# (pvs.c gvers_syms, MSG_FMT_SYM_OFIL).
	LIB=$PROTO/usr/lib/amd64/libdltun.so.1
	run elfdump -v "$LIB"
	expect_contains "$OUT" "LIBDLTUN_1.0" "elfdump -v $LIB"
	expect_contains "$OUT" "LIBDLTUN_1.1" "elfdump -v $LIB"
	run pvs -dos "$LIB"
	for PAIR in LIBDLTUN_1.0:dltun_open LIBDLTUN_1.1:dltun_get_counters; do
		VER=${PAIR%%:*}
		SYM=${PAIR#*:}
		printf '%s\n' "$OUT" | awk -v v="$VER:" -v s="$SYM;" '$(NF - 1) == v && $NF == s { found = 1 } END { exit !found }' ||
			fail "pvs -dos $LIB does not put $SYM in $VER: $OUT"
		echo "ok: $LIB defines $SYM in $VER"
	done
	REPO=$T_WORK/repo
	publish_all "$REPO"
	PACKAGES=$(project_packages)
	expect_eq "$(printf '%s\n' "$PACKAGES" | grep -c .)" "$(project_manifests | grep -c .)" "packages named by the manifests"
	must pkgrepo -s "$REPO" list -H
	for PKG in $PACKAGES; do
		# pkgrepo list -H rows: PUBLISHER NAME O VERSION.
		printf '%s\n' "$OUT" | awk -v p="$PKG" '$2 == p { found = 1 } END { exit !found }' ||
			fail "pkgrepo list does not show $PKG: $OUT"
		echo "ok: $REPO holds $PKG"
	done

	# Every package resolves (dependencies on the distribution's
	# packages, e.g. OpenVPN, from the configured publishers).  Exit
	# status 4 means "nothing to do" (already installed).
	# shellcheck disable=SC2086 # one word per package
	run pkg install -n -g "$REPO" $PACKAGES
	[ "$RC" -eq 0 ] || [ "$RC" -eq 4 ] || fail "pkg install -n of $PACKAGES failed with status $RC: $ERR"

	# Bad input: a file the proto area does not have.  Refused, and the
	# error names the file (not some other failure).
	FIRST=$(project_manifests | sed -n 1p)
	{
		cat "$FIRST"
		echo "file path=usr/bin/tuntap-test-no-such-file group=bin mode=0555 owner=root"
	} >"$T_WORK/broken.p5m"
	must_fail pkgsend publish -s "$REPO" -d "$PROTO" "$T_WORK/broken.p5m"
	expect_contains "$OUT$ERR" "tuntap-test-no-such-file" "pkgsend's refusal"
	# Nothing of it was published: the repository still holds one
	# version of that package.
	must pkgrepo -s "$REPO" list -H "$(p5m_fmri <"$FIRST")"
	expect_eq "$(printf '%s\n' "$OUT" | grep -c .)" 1 "versions of $(p5m_fmri <"$FIRST") after the refused publish"
}
