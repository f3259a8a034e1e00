// SPDX-License-Identifier: MPL-2.0

//! The SMF method scripts (smf/openvpn/tuntap-openvpn-method.sh,
//! smf/tuntap/tuntap-method.sh) run under a stand-in for the SMF method
//! environment (xtask/tests/smf-env: smf_include.sh with illumos' exit codes
//! and smf_kill_contract, a `svcprop` that reads properties from a file the
//! test writes, a `tunctl` that records its arguments), against Debian's
//! real OpenVPN in a network namespace each test makes.
//!
//! These tests need root (network namespaces, /dev/net/tun) and the
//! `openvpn`, `ip` and `setpriv` programs; without them they fail with a
//! message saying what is missing.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

const SMF_EXIT_OK: i32 = 0;
const SMF_EXIT_ERR_FATAL: i32 = 95;
const SMF_EXIT_ERR_CONFIG: i32 = 96;
const SMF_EXIT_ERR_NOSMF: i32 = 99;

const SERVICE: &str = "svc:/network/tuntap/openvpn";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn standin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smf-env")
}

fn openvpn_method() -> PathBuf {
    repo_root().join("smf/openvpn/tuntap-openvpn-method.sh")
}

fn tuntap_method() -> PathBuf {
    repo_root().join("smf/tuntap/tuntap-method.sh")
}

/// The interpreter a script's `#!` line declares.
fn declared_shell(script: &Path) -> String {
    let text = fs::read_to_string(script)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", script.display()));
    let first = text.lines().next().unwrap_or_default();
    let interpreter = first
        .strip_prefix("#!")
        .unwrap_or_else(|| panic!("{} has no #! line", script.display()));
    interpreter.split_whitespace().next().unwrap_or_default().to_owned()
}

fn require_root_and_tools() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { geteuid() };
    assert_eq!(
        euid, 0,
        "the SMF method tests need root (network namespaces, /dev/net/tun); run `cargo test -p xtask` as root"
    );
    for tool in ["openvpn", "ip", "setpriv"] {
        let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .any(|dir| Path::new(dir).join(tool).exists());
        assert!(
            found,
            "the SMF method tests need `{tool}` (apt-get install openvpn iproute2 util-linux)"
        );
    }
}

unsafe extern "C" {
    fn geteuid() -> u32;
}

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// One test's world: a scratch directory, a network namespace, the
/// property file `svcprop` reads and the log `tunctl` writes.
struct Sandbox {
    dir: PathBuf,
    netns: String,
    contracts: Vec<u32>,
}

impl Sandbox {
    fn new() -> Sandbox {
        require_root_and_tools();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}-{id}", std::process::id());
        let dir = std::env::temp_dir().join(format!("tuntap-smf-{tag}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the test directory");
        let netns = format!("tuntap-smf-{tag}");
        let out = Command::new("ip")
            .args(["netns", "add", &netns])
            .output()
            .expect("run ip netns add");
        assert!(
            out.status.success(),
            "cannot create network namespace {netns} (needs root and CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sandbox = Sandbox { dir, netns, contracts: Vec::new() };
        fs::write(sandbox.svcprop_db(), "").expect("write the property file");
        sandbox
    }

    fn svcprop_db(&self) -> PathBuf {
        self.dir.join("svcprop.db")
    }

    fn tunctl_log(&self) -> PathBuf {
        self.dir.join("tunctl.log")
    }

    /// Sets (or replaces) one property of `fmri` in the file `svcprop`
    /// reads.
    fn set_property(&self, fmri: &str, property: &str, value: &str) {
        let db = fs::read_to_string(self.svcprop_db()).unwrap_or_default();
        let prefix = format!("{fmri}\t{property}\t");
        let mut lines: Vec<String> = db
            .lines()
            .filter(|line| !line.starts_with(&prefix))
            .map(str::to_owned)
            .collect();
        lines.push(format!("{prefix}{value}"));
        fs::write(self.svcprop_db(), lines.join("\n") + "\n").expect("write the property file");
    }

    /// The calls the `tunctl` stand-in saw, one per line.
    fn tunctl_calls(&self) -> Vec<String> {
        fs::read_to_string(self.tunctl_log())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// An instance with its own configuration, pid and log directories
    /// under the sandbox.  `port` keeps instances in one namespace apart.
    fn instance(&self, name: &str, port: u16) -> Instance {
        let fmri = format!("{SERVICE}:{name}");
        let config = self.dir.join(format!("{name}.conf"));
        // A point-to-point tunnel without TLS: enough for OpenVPN to open
        // a tun device, configure it and wait for a peer.  Test-only.
        fs::write(
            &config,
            format!(
                "dev tun\nifconfig 10.201.{port_octet}.1 10.201.{port_octet}.2\n\
                 proto udp\nlport {port}\ndisable-dco\nverb 3\n",
                port_octet = port % 250
            ),
        )
        .expect("write the OpenVPN configuration");
        self.set_property(&fmri, "config/config_file", &config.display().to_string());
        let pid_dir = self.dir.join("run");
        let log_dir = self.dir.join("log");
        self.set_property(&fmri, "paths/pid_dir", &pid_dir.display().to_string());
        self.set_property(&fmri, "paths/log_dir", &log_dir.display().to_string());
        Instance {
            fmri,
            config,
            pid_file: pid_dir.join(format!("{name}.pid")),
            log_file: log_dir.join(format!("{name}.log")),
        }
    }

    /// Runs `script verb [extra]` with the shell it declares, inside the
    /// namespace, in the stand-in SMF environment for `fmri`.
    fn run(&mut self, script: &Path, fmri: Option<&str>, verb: &str, extra: &[&str]) -> Output {
        self.run_with(script, fmri, verb, extra, &[], &[])
    }

    fn run_with(
        &mut self,
        script: &Path,
        fmri: Option<&str>,
        verb: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        wrapper: &[&str],
    ) -> Output {
        let contract = NEXT_ID.fetch_add(1, Ordering::Relaxed) + 100_000 * (std::process::id() % 20_000);
        self.contracts.push(contract);
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.netns]);
        command.args(wrapper);
        command.arg(declared_shell(script)).arg(script).arg(verb).args(extra);
        command
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", standin_dir().join("bin").display()),
            )
            .env("SMF_INCLUDE_SH", standin_dir().join("smf_include.sh"))
            .env("TUNTAP_INCLUDE_SH", repo_root().join("smf/share/tuntap_include.sh"))
            .env("SVCS_LOG_DIR", self.dir.join("svc-log"))
            .env("SVCPROP_DB", self.svcprop_db())
            .env("TUNCTL_LOG", self.tunctl_log())
            .env("SMF_STANDIN_CONTRACT", contract.to_string())
            .env("SMF_METHOD", verb);
        if let Some(fmri) = fmri {
            command.env("SMF_FMRI", fmri);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().expect("run the method script")
    }

    /// The OpenVPN method's `start` of `inst`, which must exit 0 (`what`
    /// names it); returns the contract it gave its processes.
    fn start_openvpn(&mut self, inst: &Instance, what: &str) -> String {
        let out = self.run(&openvpn_method(), Some(&inst.fmri), "start", &[]);
        assert_status(&out, SMF_EXIT_OK, what);
        self.last_contract()
    }

    /// The OpenVPN method's `stop` of `inst` with its start's
    /// `contract`, which must exit 0 (`what` names it).
    fn stop_openvpn(&mut self, inst: &Instance, contract: &str, what: &str) {
        let out = self.run(&openvpn_method(), Some(&inst.fmri), "stop", &[contract]);
        assert_status(&out, SMF_EXIT_OK, what);
    }

    /// The contract id the last `run` gave its processes.
    fn last_contract(&self) -> String {
        self.contracts.last().map(u32::to_string).unwrap_or_default()
    }

    /// Links in the namespace (`ip -o link` names).
    fn links(&self) -> Vec<String> {
        let out = Command::new("ip")
            .args(["-n", &self.netns, "-o", "link", "show"])
            .output()
            .expect("run ip link");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| line.split(':').nth(1).map(|s| s.trim().to_owned()))
            .collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Whatever a failed test left running, in any of its contracts.
        for contract in &self.contracts {
            for pid in contract_members(*contract) {
                // SAFETY: kill has no memory effects; pid is a process of
                // this test's own contract.
                unsafe { kill(pid, 9) };
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.netns]).output();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

unsafe extern "C" {
    fn kill(pid: i32, signal: i32) -> i32;
}

/// Live processes whose environment carries `SMF_STANDIN_CONTRACT=id`.
fn contract_members(id: u32) -> Vec<i32> {
    let wanted = format!("SMF_STANDIN_CONTRACT={id}");
    let mut members = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return members;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(environ) = fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|var| var == wanted.as_bytes()) && process_alive(pid) {
            members.push(pid);
        }
    }
    members
}

/// Alive and not a zombie.
fn process_alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("State:"))
                .is_some_and(|state| !state.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

struct Instance {
    fmri: String,
    config: PathBuf,
    pid_file: PathBuf,
    log_file: PathBuf,
}

impl Instance {
    fn pid(&self) -> i32 {
        let text = fs::read_to_string(&self.pid_file)
            .unwrap_or_else(|e| panic!("{}: no pid file {}: {e}", self.fmri, self.pid_file.display()));
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{}: pid file holds {text:?}: {e}", self.fmri))
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// The tun device OpenVPN says it opened.
    fn device(&self) -> String {
        let log = self.log();
        let line = log
            .lines()
            .rev()
            .find(|l| l.contains("TUN/TAP device") && l.contains("opened"))
            .unwrap_or_else(|| panic!("{}: no 'TUN/TAP device ... opened' in its log:\n{log}", self.fmri));
        line.split_whitespace()
            .skip_while(|w| *w != "device")
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    }
}

/// Polls `condition` until it holds or `what` times out (robustness only:
/// no test depends on how fast anything is).
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(50));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_status(out: &Output, expected: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(expected),
        "{what}: exit status\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn two_instances_run_side_by_side_and_stop_ends_only_its_own() {
    let mut sandbox = Sandbox::new();
    let office = sandbox.instance("office", 41194);
    let lab = sandbox.instance("lab", 41195);

    let office_contract = sandbox.start_openvpn(&office, "start office");
    let lab_contract = sandbox.start_openvpn(&lab, "start lab");

    let (office_pid, lab_pid) = (office.pid(), lab.pid());
    assert_ne!(office_pid, lab_pid, "each instance has its own daemon");
    assert!(process_alive(office_pid) && process_alive(lab_pid));
    assert_ne!(office.log_file, lab.log_file);
    wait_until("both tunnels to open", || {
        office.log().contains("opened") && lab.log().contains("opened")
    });
    let (office_dev, lab_dev) = (office.device(), lab.device());
    assert_ne!(office_dev, lab_dev, "each instance has its own link");
    let links = sandbox.links();
    assert!(links.contains(&office_dev) && links.contains(&lab_dev), "links: {links:?}");
    // Start cleaned up after a possible earlier crash, then registered
    // its own daemon's pid for its own FMRI, for each instance.
    assert_eq!(
        sandbox.tunctl_calls(),
        vec![
            format!("cleanup --for {}", office.fmri),
            format!("register --for {} --pid {office_pid}", office.fmri),
            format!("cleanup --for {}", lab.fmri),
            format!("register --for {} --pid {lab_pid}", lab.fmri),
        ]
    );

    sandbox.stop_openvpn(&office, &office_contract, "stop office");
    wait_until("office's daemon to go", || !process_alive(office_pid));
    assert!(process_alive(lab_pid), "stopping office must not touch lab");
    assert!(!office.pid_file.exists(), "stop removes the pid file");
    assert!(lab.pid_file.exists());
    let links = sandbox.links();
    assert!(!links.contains(&office_dev), "office's tunnel is gone: {links:?}");
    assert!(links.contains(&lab_dev), "lab's tunnel stays: {links:?}");
    assert_eq!(
        sandbox.tunctl_calls().last().map(String::as_str),
        Some(format!("cleanup --for {}", office.fmri).as_str()),
        "stop cleans up for its own FMRI"
    );
    assert_eq!(sandbox.tunctl_calls().len(), 5);

    sandbox.stop_openvpn(&lab, &lab_contract, "stop lab");
    wait_until("lab's daemon to go", || !process_alive(lab_pid));
    assert_eq!(
        sandbox.tunctl_calls().last().map(String::as_str),
        Some(format!("cleanup --for {}", lab.fmri).as_str())
    );
}

#[test]
fn stop_ends_every_process_of_the_contract_even_without_a_pid_file() {
    let mut sandbox = Sandbox::new();
    let office = sandbox.instance("office", 41194);
    let contract = sandbox.start_openvpn(&office, "start");
    let daemon = office.pid();
    // A helper the daemon might have forked (an up script, say), in the
    // same contract; and a lost pid file, as after a crash mid-start.
    let helper = Command::new("sleep")
        .arg("300")
        .env("SMF_STANDIN_CONTRACT", &contract)
        .spawn()
        .expect("spawn a helper");
    fs::remove_file(&office.pid_file).expect("remove the pid file");

    sandbox.stop_openvpn(&office, &contract, "stop");
    let mut helper = helper;
    let status = helper.wait().expect("reap the helper");
    assert!(!status.success(), "the helper was signalled: {status:?}");
    wait_until("the daemon to go", || !process_alive(daemon));
    assert_eq!(sandbox.tunctl_calls().last().cloned(), Some(format!("cleanup --for {}", office.fmri)));
}

#[test]
fn refresh_makes_openvpn_reread_its_configuration_without_a_restart() {
    let mut sandbox = Sandbox::new();
    let office = sandbox.instance("office", 41194);
    let method = openvpn_method();
    let contract = sandbox.start_openvpn(&office, "start");
    let pid = office.pid();
    wait_until("the tunnel to open", || office.log().contains("opened"));

    // A directive only the re-read configuration has.
    let status_file = sandbox.dir.join("office.status");
    let mut config = fs::OpenOptions::new().append(true).open(&office.config).expect("open config");
    writeln!(config, "status {} 1", status_file.display()).expect("extend config");
    drop(config);

    let out = sandbox.run(&method, Some(&office.fmri), "refresh", &[]);
    assert_status(&out, SMF_EXIT_OK, "refresh");
    wait_until("OpenVPN to log the SIGHUP", || office.log().contains("SIGHUP"));
    wait_until("the re-read configuration's status file", || status_file.exists());
    assert_eq!(office.pid(), pid, "refresh keeps the same daemon");
    assert!(process_alive(pid));
    wait_until("the tunnel to reopen", || {
        office.log().matches("TUN/TAP device").count() >= 2
    });

    sandbox.stop_openvpn(&office, &contract, "stop");
}

#[test]
fn refresh_with_a_vanished_configuration_is_a_config_error_and_keeps_the_daemon() {
    let mut sandbox = Sandbox::new();
    let office = sandbox.instance("office", 41194);
    let method = openvpn_method();
    let contract = sandbox.start_openvpn(&office, "start");
    let pid = office.pid();
    fs::remove_file(&office.config).expect("remove config");

    let out = sandbox.run(&method, Some(&office.fmri), "refresh", &[]);
    assert_status(&out, SMF_EXIT_ERR_CONFIG, "refresh without config");
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&office.config.display().to_string()), "names the file: {stderr}");
    sleep(Duration::from_millis(300));
    assert!(process_alive(pid), "no SIGHUP was sent");
    assert!(!office.log().contains("SIGHUP"));

    sandbox.stop_openvpn(&office, &contract, "stop");
}

#[test]
fn refresh_of_an_instance_that_is_not_running_fails() {
    let mut sandbox = Sandbox::new();
    let office = sandbox.instance("office", 41194);
    let out = sandbox.run(&openvpn_method(), Some(&office.fmri), "refresh", &[]);
    assert_status(&out, SMF_EXIT_ERR_FATAL, "refresh while stopped");
    assert!(text(&out.stderr).contains("no running OpenVPN"), "{}", text(&out.stderr));
}

#[test]
fn missing_configuration_is_a_config_error_naming_the_file() {
    let mut sandbox = Sandbox::new();
    let office = sandbox.instance("office", 41194);
    fs::remove_file(&office.config).expect("remove config");
    let out = sandbox.run(&openvpn_method(), Some(&office.fmri), "start", &[]);
    assert_status(&out, SMF_EXIT_ERR_CONFIG, "start without config");
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&office.config.display().to_string()), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(!office.pid_file.exists());
    assert!(sandbox.tunctl_calls().is_empty(), "nothing else ran");
}

#[test]
fn default_configuration_path_is_etc_openvpn_instance_conf() {
    let mut sandbox = Sandbox::new();
    // No config/config_file property: the method looks for
    // /etc/openvpn/NAME.conf (a name no host has).
    let fmri = format!("{SERVICE}:tuntap-test-absent-{}", std::process::id());
    let out = sandbox.run(&openvpn_method(), Some(&fmri), "start", &[]);
    assert_status(&out, SMF_EXIT_ERR_CONFIG, "start with the default path");
    let expected = format!("/etc/openvpn/tuntap-test-absent-{}.conf", std::process::id());
    assert!(text(&out.stderr).contains(&expected), "{}", text(&out.stderr));
}

#[test]
fn unreadable_configuration_is_a_config_error_naming_the_file() {
    let mut sandbox = Sandbox::new();
    let office = sandbox.instance("office", 41194);
    fs::set_permissions(&office.config, fs::Permissions::from_mode(0o000)).expect("chmod 000");
    // The method runs without file_dac_read on illumos; here: without
    // CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH.
    let out = sandbox.run_with(
        &openvpn_method(),
        Some(&office.fmri),
        "start",
        &[],
        &[],
        &["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps", "-dac_override,-dac_read_search", "--"],
    );
    assert_status(&out, SMF_EXIT_ERR_CONFIG, "start with an unreadable config");
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&office.config.display().to_string()), "{stderr}");
    assert!(stderr.contains("not readable"), "{stderr}");
    assert!(!office.pid_file.exists());
}

#[test]
fn configuration_that_is_a_directory_is_a_config_error() {
    let mut sandbox = Sandbox::new();
    let office = sandbox.instance("office", 41194);
    fs::remove_file(&office.config).expect("remove config");
    fs::create_dir(&office.config).expect("mkdir in its place");
    let out = sandbox.run(&openvpn_method(), Some(&office.fmri), "start", &[]);
    assert_status(&out, SMF_EXIT_ERR_CONFIG, "start with a directory as config");
    assert!(text(&out.stderr).contains("not a regular file"), "{}", text(&out.stderr));
}

#[test]
fn configuration_openvpn_rejects_is_a_config_error() {
    let mut sandbox = Sandbox::new();
    let office = sandbox.instance("office", 41194);
    fs::write(&office.config, "dev tun\nno-such-openvpn-option 1\n").expect("write config");
    let out = sandbox.run(&openvpn_method(), Some(&office.fmri), "start", &[]);
    assert_status(&out, SMF_EXIT_ERR_CONFIG, "start with a bad option");
    assert!(text(&out.stderr).contains("OpenVPN refused"), "{}", text(&out.stderr));
    assert!(!office.pid_file.exists());
}

#[test]
fn missing_openvpn_program_is_a_config_error() {
    let mut sandbox = Sandbox::new();
    let office = sandbox.instance("office", 41194);
    sandbox.set_property(&office.fmri, "paths/openvpn", "/nonexistent/openvpn");
    let out = sandbox.run(&openvpn_method(), Some(&office.fmri), "start", &[]);
    assert_status(&out, SMF_EXIT_ERR_CONFIG, "start with a missing program");
    assert!(text(&out.stderr).contains("/nonexistent/openvpn"), "{}", text(&out.stderr));
}

#[test]
fn start_registers_the_daemon_after_its_pid_file_appears_and_survives_a_failed_register() {
    let mut sandbox = Sandbox::new();
    let office = sandbox.instance("office", 41194);
    let method = openvpn_method();
    let out = sandbox.run_with(&method, Some(&office.fmri), "start", &[], &[("TUNCTL_FAIL_VERB", "register")], &[]);
    assert_status(&out, SMF_EXIT_OK, "start with a failing register");
    let contract = sandbox.last_contract();
    let pid = office.pid();
    assert!(process_alive(pid), "the VPN runs although registering failed");
    assert_eq!(
        sandbox.tunctl_calls(),
        vec![format!("cleanup --for {}", office.fmri), format!("register --for {} --pid {pid}", office.fmri)],
        "the pid registered is the one in the pid file"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}: warning: 'tunctl register --for {} --pid {pid}' failed", office.fmri, office.fmri)),
        "{stderr}"
    );
    sandbox.stop_openvpn(&office, &contract, "stop");
    wait_until("the daemon to go", || !process_alive(pid));
}

#[test]
fn a_start_that_fails_registers_nothing() {
    let mut sandbox = Sandbox::new();
    let office = sandbox.instance("office", 41194);
    fs::write(&office.config, "dev tun\nno-such-openvpn-option 1\n").expect("write config");
    let out = sandbox.run(&openvpn_method(), Some(&office.fmri), "start", &[]);
    assert_status(&out, SMF_EXIT_ERR_CONFIG, "start with a bad option");
    assert_eq!(sandbox.tunctl_calls(), vec![format!("cleanup --for {}", office.fmri)]);
}

#[test]
fn stop_fails_when_cleanup_fails() {
    let mut sandbox = Sandbox::new();
    let office = sandbox.instance("office", 41194);
    let out = sandbox.run_with(&openvpn_method(), Some(&office.fmri), "stop", &[], &[("TUNCTL_EXIT", "1")], &[]);
    assert_status(&out, SMF_EXIT_ERR_FATAL, "stop with failing cleanup");
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("tunctl cleanup --for {}", office.fmri)), "{stderr}");
}

#[test]
fn bad_instance_name_missing_fmri_and_unknown_verb_are_refused() {
    let mut sandbox = Sandbox::new();
    let method = openvpn_method();
    let out = sandbox.run(&method, Some("svc:/network/tuntap/openvpn:..hidden"), "start", &[]);
    assert_status(&out, SMF_EXIT_ERR_CONFIG, "instance name with a leading dot");
    assert!(text(&out.stderr).contains("not usable as a file name"), "{}", text(&out.stderr));
    let out = sandbox.run(&method, Some("svc:/network/tuntap/openvpn:a b"), "start", &[]);
    assert_status(&out, SMF_EXIT_ERR_CONFIG, "instance name with a space");

    let out = sandbox.run(&method, None, "start", &[]);
    assert_status(&out, SMF_EXIT_ERR_NOSMF, "no SMF_FMRI");
    assert!(text(&out.stderr).contains("SMF_FMRI"), "{}", text(&out.stderr));

    let office = sandbox.instance("office", 41194);
    let out = sandbox.run(&method, Some(&office.fmri), "restart", &[]);
    assert_status(&out, SMF_EXIT_ERR_FATAL, "unknown verb");
    assert!(text(&out.stderr).contains("usage"), "{}", text(&out.stderr));
}

#[test]
fn tuntap_boot_service_runs_tunctl_up_idempotently_and_stop_leaves_links() {
    let mut sandbox = Sandbox::new();
    let method = tuntap_method();
    let fmri = Some("svc:/network/tuntap:default");
    let out = sandbox.run(&method, fmri, "start", &[]);
    assert_status(&out, SMF_EXIT_OK, "first start");
    let out = sandbox.run(&method, fmri, "start", &[]);
    assert_status(&out, SMF_EXIT_OK, "second start");
    assert_eq!(sandbox.tunctl_calls(), vec!["up", "up"]);
    let out = sandbox.run(&method, fmri, "stop", &[]);
    assert_status(&out, SMF_EXIT_OK, "stop");
    assert_eq!(sandbox.tunctl_calls(), vec!["up", "up"], "stop does not touch the links");
}

#[test]
fn tuntap_boot_service_fails_when_tunctl_up_fails_and_rejects_unknown_verbs() {
    let mut sandbox = Sandbox::new();
    let method = tuntap_method();
    let fmri = Some("svc:/network/tuntap:default");
    let out = sandbox.run_with(&method, fmri, "start", &[], &[("TUNCTL_EXIT", "3")], &[]);
    assert_status(&out, SMF_EXIT_ERR_FATAL, "start with failing tunctl");
    assert!(text(&out.stderr).contains("'tunctl up' failed"), "{}", text(&out.stderr));
    let out = sandbox.run(&method, fmri, "refresh", &[]);
    assert_status(&out, SMF_EXIT_ERR_FATAL, "unknown verb");
    assert!(text(&out.stderr).contains("usage"), "{}", text(&out.stderr));
}

/// The effective uid and gid of a live process (`/proc/PID/status`).
fn process_ids(pid: i32) -> (u32, u32) {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> u32 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("pid {pid}: no {name} in /proc/{pid}/status:\n{status}"))
    };
    (field("Uid:"), field("Gid:"))
}

/// The uid and gid of a user and group from /etc/passwd and /etc/group.
fn id_of(db: &str, name: &str) -> u32 {
    fs::read_to_string(db)
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&name)).then(|| f.get(2).and_then(|v| v.parse().ok())).flatten()
        })
        .unwrap_or_else(|| panic!("no {name} in {db}"))
}

#[test]
fn openvpn_drops_to_user_nobody_and_logs_to_the_smf_log_by_default() {
    // Issue 15: OpenVPN's `user`/`group` options work under the method
    // (the manifest grants proc_setid; packaging.rs checks that), and with
    // no paths/log_dir its log is the instance's SMF log (svcs -L), which
    // logadm's smf_logs entry rotates.
    let mut sandbox = Sandbox::new();
    let office = sandbox.instance("office", 41196);
    let group = if id_of_opt("/etc/group", "nogroup").is_some() { "nogroup" } else { "nobody" };
    let mut config = fs::read_to_string(&office.config).expect("read config");
    config.push_str(&format!("user nobody\ngroup {group}\npersist-tun\n"));
    fs::write(&office.config, config).expect("write config");
    sandbox.set_property(&office.fmri, "paths/log_dir", "");
    let contract = sandbox.start_openvpn(&office, "start of a `user nobody` instance");
    let pid = office.pid();
    let smf_log = sandbox.dir.join("svc-log").join("network-tuntap-openvpn:office.log");
    wait_until("OpenVPN to drop its privileges", || {
        fs::read_to_string(&smf_log).unwrap_or_default().contains("nobody")
            && process_ids(pid) == (id_of("/etc/passwd", "nobody"), id_of("/etc/group", group))
    });
    assert!(!office.log_file.exists(), "no log of its own when paths/log_dir is empty");
    sandbox.stop_openvpn(&office, &contract, "stop of a daemon that runs as nobody");
    wait_until("the daemon to go", || !process_alive(pid));
}

fn id_of_opt(db: &str, name: &str) -> Option<u32> {
    fs::read_to_string(db).ok()?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name)).then(|| f.get(2).and_then(|v| v.parse().ok())).flatten()
    })
}
