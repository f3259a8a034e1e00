# shellcheck shell=sh
# SPDX-License-Identifier: MPL-2.0
#
# TLS material and tunneld, the daemon the traffic tests use to carry
# packets between two links.  Sourced by lib.sh; POSIX sh.

# make_test_pki DIR: a CA, a server and a client certificate (P-256) for
# tunneld in DIR: ca.crt, server.crt/key (DNS name server.tuntap-test,
# serverAuth), client.crt/key (clientAuth).
make_test_pki() {
	dir=$1
	mkdir -p "$dir" || return 1
	(
		cd "$dir" || exit 1
		printf '%s\n' 'basicConstraints=critical,CA:TRUE' 'keyUsage=critical,keyCertSign,cRLSign' >ca.ext
		printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
			'extendedKeyUsage=serverAuth' 'subjectAltName=DNS:server.tuntap-test' >server.ext
		printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
			'extendedKeyUsage=clientAuth' 'subjectAltName=DNS:client.tuntap-test' >client.ext
		for who in ca server client; do
			openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$who.key" || exit 1
		done
		openssl req -new -key ca.key -subj /CN=tuntap-test-ca -out ca.csr &&
			openssl x509 -req -in ca.csr -signkey ca.key -days 2 -extfile ca.ext -out ca.crt || exit 1
		for who in server client; do
			openssl req -new -key "$who.key" -subj "/CN=$who.tuntap-test" -out "$who.csr" &&
				openssl x509 -req -in "$who.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
					-days 2 -extfile "$who.ext" -out "$who.crt" || exit 1
		done
	)
}

# write_tunneld_config FILE ROLE LINK PORT PKI-DIR [MTU] [MODE]: a tunneld
# configuration on 127.0.0.1:PORT with a status socket next to FILE; the
# link's MTU is MTU (default 1500), its mode MODE (tun or tap, default tun).
write_tunneld_config() {
	file=$1
	role=$2
	link=$3
	port=$4
	pki=$5
	mtu=${6:-1500}
	link_mode=${7:-tun}
	{
		echo "# SPDX-License-Identifier: MPL-2.0"
		echo "role = \"$role\""
		if [ "$role" = server ]; then
			echo "listen = \"127.0.0.1:$port\""
			echo "cert = \"$pki/server.crt\""
			echo "key = \"$pki/server.key\""
		else
			echo "connect = \"127.0.0.1:$port\""
			echo "server_name = \"server.tuntap-test\""
			echo "cert = \"$pki/client.crt\""
			echo "key = \"$pki/client.key\""
		fi
		echo "ca = \"$pki/ca.crt\""
		echo ""
		echo "[link]"
		echo "name = \"$link\""
		echo "mode = \"$link_mode\""
		echo "mtu = $mtu"
		if [ "$role" = client ]; then
			echo ""
			echo "[reconnect]"
			echo "min_ms = 200"
			echo "max_ms = 1000"
		fi
		echo ""
		echo "[status]"
		echo "socket = \"$file.sock\""
	} >"$file"
}

# tunneld_counter CONFIG KEY: one key=value of `tunneld status`.
tunneld_counter() {
	"$TUNNELD" status --config "$1" | sed -n "s/^$2=//p"
}

tunneld_connected() {
	[ "$(tunneld_counter "$1" state)" = connected ]
}

# tunneld_tun_pair LINK-A LINK-B PORT [MTU]: two temporary tun links
# (make_link; with MTU when given) joined by start_tunneld_pair.
tunneld_tun_pair() {
	if [ -n "${4:-}" ]; then
		make_link "$1" tun --mtu "$4"
		make_link "$2" tun --mtu "$4"
	else
		make_link "$1" tun
		make_link "$2" tun
	fi
	start_tunneld_pair "$@"
}

# start_tunneld_pair LINK-A LINK-B PORT [MTU] [MODE]: tunneld server on
# LINK-A and client on LINK-B joined over TLS on 127.0.0.1:PORT; both links
# must exist (with MTU, default 1500; of MODE, tun or tap, default tun).  Sets TUNNELD_A_CONF, TUNNELD_B_CONF.  Stopped when the test ends.
start_tunneld_pair() {
	[ -n "$TUNNELD" ] || skip "tunneld not found (set TUNNELD=/path/to/tunneld)"
	require_cmd openssl
	pki=$T_WORK/pki
	make_test_pki "$pki" >"$T_WORK/pki.log" 2>&1 || fail "openssl could not make the test certificates: $(cat "$T_WORK/pki.log")"
	TUNNELD_A_CONF=$T_WORK/tunneld-a.toml
	TUNNELD_B_CONF=$T_WORK/tunneld-b.toml
	write_tunneld_config "$TUNNELD_A_CONF" server "$1" "$3" "$pki" "${4:-1500}" "${5:-tun}"
	write_tunneld_config "$TUNNELD_B_CONF" client "$2" "$3" "$pki" "${4:-1500}" "${5:-tun}"
	must "$TUNNELD" check --config "$TUNNELD_A_CONF"
	must "$TUNNELD" check --config "$TUNNELD_B_CONF"
	"$TUNNELD" --config "$TUNNELD_A_CONF" >"$T_WORK/tunneld-a.log" 2>&1 &
	pid_a=$!
	on_exit "stop_process $pid_a; sed 's/^/tunneld A: /' '$T_WORK/tunneld-a.log'"
	"$TUNNELD" --config "$TUNNELD_B_CONF" >"$T_WORK/tunneld-b.log" 2>&1 &
	pid_b=$!
	on_exit "stop_process $pid_b; sed 's/^/tunneld B: /' '$T_WORK/tunneld-b.log'"
	wait_until 20 "tunneld client on $2 connected to the server on $1" tunneld_connected "$TUNNELD_B_CONF"
	wait_until 10 "tunneld server on $1 has its session" tunneld_connected "$TUNNELD_A_CONF"
}

