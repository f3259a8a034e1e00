// SPDX-License-Identifier: MPL-2.0
//! The configuration file: what is accepted, and a twin for every way it
//! can be wrong, each refused with a message naming the key and reason.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tunneld::{Config, Endpoint, Mode, Role};

const CLIENT: &str = r#"
role = "client"
connect = "vpn.example.org:7443"
cert = "client.crt"
key = "/etc/tunneld/client.key"
ca = "ca.crt"

[link]
name = "vpn0"
mode = "tun"
"#;

const SERVER: &str = r#"
role = "server"
listen = "0.0.0.0:7443"
cert = "server.crt"
key = "server.key"
ca = "ca.crt"
handshake_timeout_ms = 2000
queue_packets = 64

[link]
name = "vpn1"
mode = "tap"
mtu = 9000

[status]
socket = "/var/run/tunneld/vpn1.sock"
"#;

#[test]
fn a_client_configuration_gets_defaults_and_relative_paths() {
    let c = Config::parse(CLIENT, "client.toml", Some(Path::new("/etc/tunneld"))).unwrap();
    assert_eq!(c.role, Role::Client);
    assert_eq!(
        c.endpoint,
        Endpoint::Connect { address: "vpn.example.org:7443".into(), server_name: "vpn.example.org".into() }
    );
    assert_eq!(c.cert, Path::new("/etc/tunneld/client.crt"));
    assert_eq!(c.key, Path::new("/etc/tunneld/client.key"));
    assert_eq!((c.link.as_str(), c.mode, c.mtu), ("vpn0", Mode::Tun, 1500));
    assert_eq!((c.reconnect_min, c.reconnect_max), (Duration::from_millis(500), Duration::from_secs(30)));
    assert_eq!(c.handshake_timeout, Duration::from_secs(10));
    assert_eq!(c.status_socket, None);
    assert_eq!(c.queue_packets, 512);
}

#[test]
fn a_server_configuration_reads_every_key() {
    let c = Config::parse(SERVER, "server.toml", None).unwrap();
    assert_eq!(c.role, Role::Server);
    assert_eq!(c.endpoint, Endpoint::Listen("0.0.0.0:7443".parse::<SocketAddr>().unwrap()));
    assert_eq!((c.link.as_str(), c.mode, c.mtu), ("vpn1", Mode::Tap, 9000));
    assert_eq!(c.handshake_timeout, Duration::from_secs(2));
    assert_eq!(c.queue_packets, 64);
    assert_eq!(c.status_socket.as_deref(), Some(Path::new("/var/run/tunneld/vpn1.sock")));
}

#[test]
fn client_server_name_and_ipv6_addresses() {
    let text = CLIENT.replace("vpn.example.org:7443", "[::1]:7443");
    let c = Config::parse(&text, "t", None).unwrap();
    assert!(matches!(c.endpoint, Endpoint::Connect { ref server_name, .. } if server_name == "::1"));
    let text = CLIENT.replace("connect =", "server_name = \"gw.example.org\"\nconnect =");
    let c = Config::parse(&text, "t", None).unwrap();
    assert!(matches!(c.endpoint, Endpoint::Connect { ref server_name, .. } if server_name == "gw.example.org"));
    let text = CLIENT.replace("[link]", "[reconnect]\nmin_ms = 100\nmax_ms = 100\n\n[link]");
    let c = Config::parse(&text, "t", None).unwrap();
    assert_eq!((c.reconnect_min, c.reconnect_max), (Duration::from_millis(100), Duration::from_millis(100)));
}

/// Each malformed twin of a good file, and words its error must contain.
fn refused(base: &str, from: &str, to: &str, words: &[&str]) {
    assert!(base.contains(from), "test bug: {from:?} not in the base file");
    let text = base.replacen(from, to, 1);
    let err = Config::parse(&text, "bad.toml", None).expect_err(&format!("accepted:\n{text}"));
    let message = err.to_string();
    assert!(message.starts_with("configuration bad.toml: "), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
    for w in words {
        assert!(message.contains(w), "{message:?} lacks {w:?}");
    }
}

#[test]
fn malformed_files_are_refused_with_the_reason() {
    refused(CLIENT, "role = \"client\"", "role = client", &["line 2"]);
    refused(CLIENT, "role = \"client\"", "rol = \"client\"", &["unknown field `rol`"]);
    refused(CLIENT, "role = \"client\"\n", "", &["missing field `role`"]);
    refused(CLIENT, "role = \"client\"", "role = \"peer\"", &["unknown variant `peer`", "client", "server"]);
    refused(CLIENT, "cert = \"client.crt\"\n", "", &["missing field `cert`"]);
    refused(CLIENT, "cert = \"client.crt\"", "cert = \"\"", &["`cert` is empty"]);
    refused(CLIENT, "cert = \"client.crt\"", "cert = 5", &["invalid type"]);
    refused(CLIENT, "[link]\nname = \"vpn0\"\nmode = \"tun\"\n", "", &["missing field `link`"]);
    refused(CLIENT, "mode = \"tun\"", "mode = \"tunnel\"", &["unknown variant `tunnel`", "tun", "tap"]);
    refused(CLIENT, "mode = \"tun\"\n", "", &["missing field `mode`"]);
    refused(CLIENT, "name = \"vpn0\"", "name = \"0vpn\"", &["\"0vpn\" is not a valid link name"]);
    refused(CLIENT, "name = \"vpn0\"", "name = \"vpn\"", &["not a valid link name"]);
    refused(CLIENT, "name = \"vpn0\"", "name = \"vpn-0\"", &["not a valid link name"]);
    refused(CLIENT, "mode = \"tun\"", "mode = \"tun\"\nmtu = 575", &["[link] mtu: invalid MTU 575: must be 576 to 65535"]);
    refused(CLIENT, "mode = \"tun\"", "mode = \"tun\"\nmtu = 65536", &["invalid MTU 65536"]);
    refused(CLIENT, "mode = \"tun\"", "mode = \"tun\"\nmtu = -1", &["mtu"]);
    refused(CLIENT, "mode = \"tun\"", "mode = \"tun\"\ncolour = 1", &["unknown field `colour`"]);
    refused(CLIENT, "connect = \"vpn.example.org:7443\"\n", "", &["role = \"client\" needs `connect`"]);
    refused(CLIENT, "vpn.example.org:7443", "vpn.example.org", &["is not host:port"]);
    refused(CLIENT, "vpn.example.org:7443", "vpn.example.org:http", &["is not host:port"]);
    refused(CLIENT, "vpn.example.org:7443", ":7443", &["is not host:port"]);
    refused(CLIENT, "connect =", "listen = \"0.0.0.0:1\"\nconnect =", &["`listen` is for role = \"server\""]);
    refused(CLIENT, "connect =", "server_name = \"bad name!\"\nconnect =", &["server_name \"bad name!\""]);
    refused(CLIENT, "[link]", "[reconnect]\nmin_ms = 0\n[link]", &["min_ms must be at least 1"]);
    refused(CLIENT, "[link]", "[reconnect]\nmin_ms = 5000\nmax_ms = 10\n[link]", &["min_ms = 5000 is larger than max_ms = 10"]);
    refused(CLIENT, "[link]", "[reconnect]\nmin_secs = 5\n[link]", &["unknown field `min_secs`"]);
    refused(CLIENT, "[link]", "handshake_timeout_ms = 0\n[link]", &["handshake_timeout_ms must be at least 1"]);
    refused(CLIENT, "[link]", "queue_packets = 0\n[link]", &["queue_packets = 0 is outside"]);
    refused(CLIENT, "[link]", "[status]\nsocket = \"\"\n[link]", &["[status] socket is empty"]);
    refused(CLIENT, "[link]", "transport = \"sctp\"\n[link]", &["unknown variant `sctp`", "udp", "tcp"]);
    refused(CLIENT, "[link]", "ciphers = []\n[link]", &["ciphers = [] names no cipher"]);
    refused(CLIENT, "[link]", "ciphers = [\"aes-128-cbc\"]\n[link]", &["unknown variant `aes-128-cbc`", "aes-256-gcm"]);
    refused(CLIENT, "[link]", "[liveness]\nkeepalive_ms = 0\n[link]", &["[liveness] keepalive_ms must be at least 1"]);
    refused(CLIENT, "[link]", "[liveness]\nkeepalive_ms = 1000\ndead_peer_ms = 1500\n[link]", &["dead_peer_ms = 1500 must be at least twice keepalive_ms = 1000"]);
    refused(CLIENT, "[link]", "[rekey]\nafter_packets = 0\n[link]", &["[rekey] after_packets = 0 is outside 1..=16777216"]);
    refused(CLIENT, "[link]", "[rekey]\nafter_packets = 16777217\n[link]", &["after_packets = 16777217"]);
    refused(CLIENT, "[link]", "[rekey]\nafter_ms = 0\n[link]", &["[rekey] after_ms = 0 is outside"]);

    refused(SERVER, "listen = \"0.0.0.0:7443\"\n", "", &["role = \"server\" needs `listen`"]);
    refused(SERVER, "0.0.0.0:7443", "localhost:7443", &["listen = \"localhost:7443\" is not an IP address and port"]);
    refused(SERVER, "0.0.0.0:7443", "0.0.0.0", &["is not an IP address and port"]);
    refused(SERVER, "listen =", "connect = \"a:1\"\nlisten =", &["`connect` is for role = \"client\""]);
    refused(SERVER, "listen =", "server_name = \"a\"\nlisten =", &["`server_name` is for role = \"client\""]);
    refused(SERVER, "[link]", "[reconnect]\nmin_ms = 1\n[link]", &["[reconnect] is for role = \"client\""]);
    refused(SERVER, "[status]", "[status]\nsock = \"x\"", &["unknown field `sock`"]);
    refused(SERVER, "[link]", "advertise_udp_port = 0\n[link]", &["advertise_udp_port = 0 names no port"]);
    refused(SERVER, "[link]", "advertise_udp_port = 70000\n[link]", &["advertise_udp_port"]);
    refused(CLIENT, "[link]", "advertise_udp_port = 7443\n[link]", &["`advertise_udp_port` is for role = \"server\""]);
    refused(SERVER, "[link]", "[[peer]]\nname = \"x\"\n[link]", &["[[peer]] \"x\" names no identity"]);
    refused(SERVER, "[link]", "[[peer]]\nname = \"x\"\npin = \"md5:00\"\n[link]", &["must start with \"sha256:\""]);
    refused(SERVER, "[link]", "[[peer]]\nname = \"x\"\ncn = \"a\"\n[[peer]]\nname = \"x\"\ncn = \"b\"\n[link]", &["name = \"x\" is given twice"]);
    refused(SERVER, "[link]", "crl = \"\"\n[link]", &["`crl` is empty"]);
    refused(CLIENT, "mode = \"tun\"", "mode = \"tun\"\naddress = \"10.0.0.1\"", &["[link] address: \"10.0.0.1\" is not ADDRESS/PREFIX-LENGTH"]);
    refused(CLIENT, "mode = \"tun\"", "mode = \"tun\"\nroutes = [\"10.1.0.0/16\"]", &["[link] routes need [link] address"]);
    refused(CLIENT, "mode = \"tun\"", "mode = \"tun\"\naddress = \"10.0.0.1/24\"\nroutes = [\"10.1.0.0/40\"]", &["[link] routes: \"10.1.0.0/40\": prefix length must be 0 to 32"]);
    refused(SERVER, "role", "this is not toml\nrole", &["line 2"]);
}

#[test]
fn an_unreadable_file_is_named() {
    let err = Config::load(Path::new("/nonexistent/tunneld/vpn0.toml")).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("/nonexistent/tunneld/vpn0.toml: cannot read"), "{message}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vpn0.toml");
    std::fs::write(&path, CLIENT).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.cert, dir.path().join("client.crt"));
    std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
    assert!(Config::load(&path).unwrap_err().to_string().contains("cannot read"));
}

#[test]
fn link_queues_offload_and_batched_writes() {
    let c = Config::parse(CLIENT, "client.toml", None).unwrap();
    assert_eq!(c.queues, 1);
    assert_eq!(c.link_features, tunneld::device::Features { batch_writes: true, offload: false });
    let text = CLIENT.replace("mode = \"tun\"", "mode = \"tun\"\nqueues = 4\noffload = true\nbatch_writes = false");
    let c = Config::parse(&text, "client.toml", None).unwrap();
    assert_eq!(c.queues, 4);
    assert_eq!(c.link_features, tunneld::device::Features { batch_writes: false, offload: true });
    for bad in ["0", "17"] {
        let err = Config::parse(&CLIENT.replace("mode = \"tun\"", &format!("mode = \"tun\"\nqueues = {bad}")), "c.toml", None).unwrap_err();
        assert!(err.to_string().contains(&format!("[link] queues = {bad} is outside 1..=16")), "{err}");
    }
}
