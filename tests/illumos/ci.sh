#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# shellcheck source-path=SCRIPTDIR
#
# The whole acceptance run on a disposable illumos VM (OmniOS or
# OpenIndiana, global zone, root), the same steps the hosted CI job
# (.github/workflows/illumos.yml) runs:
#
#   sudo tests/illumos/ci.sh all      # setup, build, install, run; reboots
#                                     # itself when a test asks and resumes
#                                     # after the boot (log in
#                                     # /var/tmp/tuntap-suite-resume.log)
#   sudo tests/illumos/ci.sh setup    # tools, OpenVPN, test zone
#   sudo tests/illumos/ci.sh build    # both modules (illumos ld), userland,
#                                     # proto area
#   sudo tests/illumos/ci.sh run      # run.sh -s -k: every test, no skip;
#                                     # exit 100: reboot, then `resume`
#   sudo tests/illumos/ci.sh resume   # after the reboot: run.sh -s --resume
#
# POSIX sh.  Needs network access for packages, rustup and the OpenVPN
# source.  See tests/illumos/README.md.

SUITE_DIR=$(cd "$(dirname "$0")" && pwd) || exit 2
ROOT=$(cd "$SUITE_DIR/../.." && pwd) || exit 2
PATH=/usr/sbin:/usr/bin:/sbin:/usr/gnu/bin:$HOME/.cargo/bin:$PATH
export PATH

# The test zone: exclusive-IP, with /dev/tun and /dev/tap for the
# OpenVPN peer (72-openvpn-zone), and the checkout and /usr/local
# (OpenVPN, tunctl) lofs-mounted read-only.
ZONE=${TUNTAP_TEST_ZONE:-tuntestz}
ZONEPATH=/zones/$ZONE
# OpenVPN from source: the distributions' packages require the old
# tun/tap driver packages, whose driver name tun clashes with ours.
OPENVPN_VERSION=${OPENVPN_VERSION:-2.6.14}
RESUME_LOG=/var/tmp/tuntap-suite-resume.log
RESUME_HOOK=/etc/rc3.d/S99tuntap-suite-resume

die() {
	echo "ci.sh: $*" >&2
	exit 2
}

step() {
	echo "==> $*"
}

is_omnios() {
	grep -qi omnios /etc/release 2>/dev/null
}

# ---- setup --------------------------------------------------------------

install_packages() {
	step "build tools"
	if is_omnios; then
		set -- developer/build/gnu-make developer/gcc14 developer/build/autoconf \
			developer/build/automake developer/build/libtool developer/pkg-config \
			system/header library/security/openssl-3 developer/linker
	else
		set -- developer/build/gnu-make developer/gcc-14 developer/build/autoconf \
			developer/build/automake developer/build/libtool developer/build/pkg-config \
			system/header library/security/openssl-3 developer/linker
	fi
	pkg install "$@"
	# 4: nothing to do.
	case $? in 0 | 4) ;; *) die "pkg install $* failed" ;; esac
	if ! command -v cargo >/dev/null 2>&1; then
		step "rustup (stable, with rust-src for the kernel's -Zbuild-std)"
		curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal || die "rustup failed"
	fi
	rustup component add rust-src || die "rustup component add rust-src failed"
}

# OpenVPN built from its release source into /usr/local, without the
# compression libraries and PAM plugin the VM lacks (configure options
# from OpenVPN's configure.ac: --disable-lzo, --disable-lz4,
# --disable-plugin-auth-pam).
install_openvpn() {
	[ -x /usr/local/sbin/openvpn ] && return 0
	step "OpenVPN $OPENVPN_VERSION from source"
	work=/var/tmp/openvpn-build
	{ rm -rf "$work" && mkdir -p "$work"; } || die "cannot create $work"
	(
		cd "$work" || exit 1
		curl -sSfL -o openvpn.tar.gz \
			"https://swupdate.openvpn.org/community/releases/openvpn-$OPENVPN_VERSION.tar.gz" || exit 1
		gzip -dc openvpn.tar.gz | tar xf - || exit 1
		cd "openvpn-$OPENVPN_VERSION" || exit 1
		./configure --prefix=/usr/local --disable-lzo --disable-lz4 \
			--disable-plugin-auth-pam >configure.log 2>&1 || { tail -n 30 configure.log; exit 1; }
		gmake -j2 >build.log 2>&1 || { tail -n 30 build.log; exit 1; }
		gmake install >install.log 2>&1 || exit 1
	) || die "building OpenVPN failed"
}

create_zone() {
	zoneadm -z "$ZONE" list >/dev/null 2>&1 && return 0
	step "test zone $ZONE"
	brand=ipkg
	is_omnios && brand=lipkg
	zonecfg -z "$ZONE" "create -b; set brand=$brand; set zonepath=$ZONEPATH; set ip-type=exclusive; set autoboot=false;
add device; set match=/dev/tun; end; add device; set match=/dev/tap; end;
add fs; set dir=/usr/local; set special=/usr/local; set type=lofs; add options ro; end;
add fs; set dir=$ROOT; set special=$ROOT; set type=lofs; add options ro; end" ||
		die "zonecfg $ZONE failed"
	zoneadm -z "$ZONE" install || die "zoneadm install $ZONE failed"
	zoneadm -z "$ZONE" boot || die "zoneadm boot $ZONE failed"
}

# ---- build ----------------------------------------------------------------

# build_module CRATE-DIR NAME LD-ARGS...: the staticlib for the kernel
# target (kernel/README.md, step 1), linked by the illumos link-editor as
# a kernel module (kernel/README.md, "The illumos-host equivalent").
build_module() {
	dir=$1
	name=$2
	shift 2
	RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Cforce-unwind-tables=no cargo build --release \
		-Zbuild-std=core,alloc -Zjson-target-spec --target "$ROOT/kernel/x86_64-illumos-kernel.json" \
		--target-dir "$ROOT/target/kmod" --manifest-path "$ROOT/$dir/Cargo.toml" ||
		die "building $name.a failed"
	mkdir -p "$ROOT/out/kernel/amd64" || die "cannot create out/kernel"
	/usr/bin/ld -ztype=kmod "$@" -u _init -u _info -u _fini \
		-o "$ROOT/out/kernel/amd64/$name" "$ROOT/target/kmod/x86_64-illumos-kernel/release/$name.a" ||
		die "ld -ztype=kmod $name failed"
	cp "$ROOT/$dir/$name.conf" "$ROOT/out/kernel/$name.conf" || die "no $dir/$name.conf"
}

build_all() {
	step "kernel modules (illumos ld -ztype=kmod)"
	build_module tuntap-drv/kmod tuntap -Nmisc/mac -Nmisc/dls -Ndrv/dld -Ndrv/random
	build_module tuntap-drv/kmod-tun tun -Ndrv/tuntap
	step "userland"
	(cd "$ROOT" && cargo build --release -p tunctl -p libdltun &&
		cargo build --release -p tunneld --no-default-features) || die "userland build failed"
	# Where cargo xtask package looks for an illumos build (no stand-ins).
	native=$ROOT/target/x86_64-unknown-illumos/release
	mkdir -p "$native" || die "cannot create $native"
	for f in "$ROOT"/target/release/tunctl "$ROOT"/target/release/tunneld "$ROOT"/target/release/lib*dltun*.so; do
		[ -f "$f" ] && { cp "$f" "$native/" || die "cannot copy $f"; }
	done
	step "proto area (cargo xtask package)"
	(cd "$ROOT" && cargo xtask package) || die "cargo xtask package failed"
	# The zone runs tunctl from /usr/local (lofs), as OpenVPN.
	{ mkdir -p /usr/local/sbin && cp "$ROOT/target/release/tunctl" /usr/local/sbin/tunctl; } ||
		die "cannot install tunctl in /usr/local/sbin"
}

# ---- run ------------------------------------------------------------------

suite_env() {
	TUNTAP_TEST_ZONE_REBOOT=yes
	TUNTAP_TEST_ZONE=$ZONE
	TUNTAP_TEST_ZONE_OPENVPN=/usr/local/sbin/openvpn
	TUNTAP_TEST_ZONE_TUNCTL=/usr/local/sbin/tunctl
	OPENVPN=/usr/local/sbin/openvpn
	TUNCTL=$ROOT/target/release/tunctl
	TUNNELD=$ROOT/target/release/tunneld
	export TUNTAP_TEST_ZONE_REBOOT TUNTAP_TEST_ZONE TUNTAP_TEST_ZONE_OPENVPN TUNTAP_TEST_ZONE_TUNCTL OPENVPN TUNCTL TUNNELD
}

run_suite() {
	suite_env
	"$SUITE_DIR/run.sh" -s -k -v "$@"
}

resume_hook() {
	cat >"$RESUME_HOOK" <<HOOK || die "cannot write $RESUME_HOOK"
#!/bin/sh
# One-shot: resume the tuntap acceptance suite after its reboot.
rm -f "$RESUME_HOOK"
"$SUITE_DIR/ci.sh" resume >"$RESUME_LOG" 2>&1 &
HOOK
	chmod 0744 "$RESUME_HOOK"
}

[ "$(uname -s)" = SunOS ] || die "not illumos: run this on the VM (tests/illumos/README.md)"
[ "$(id -u 2>/dev/null || echo 0)" = 0 ] || die "run it as root"

case ${1:-} in
setup)
	install_packages
	install_openvpn
	create_zone
	;;
build) build_all ;;
run)
	run_suite
	exit $?
	;;
resume)
	zoneadm -z "$ZONE" boot >/dev/null 2>&1
	run_suite --resume
	exit $?
	;;
all)
	"$0" setup || exit $?
	"$0" build || exit $?
	"$0" run
	status=$?
	if [ "$status" -eq 100 ]; then
		resume_hook
		echo "ci.sh: rebooting; the suite resumes after the boot, see $RESUME_LOG"
		reboot
	fi
	exit "$status"
	;;
*) die "usage: ci.sh setup|build|run|resume|all" ;;
esac
