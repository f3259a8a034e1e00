// SPDX-License-Identifier: MPL-2.0
//! The `tunneld` program: see README.md for usage and exit codes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tunneld::{Config, Daemon, Device, Error, ErrorKind};

const USAGE: &str = "\
tunneld [run] --config FILE       run the tunnel in the foreground
       tunneld check --config FILE       check the configuration, certificates and key
       tunneld status [--json] --config FILE   print the running tunnel's state and counters
       tunneld --help | --version";

const AFTER_HELP: &str = "\
Signals: SIGTERM/SIGINT stop cleanly (link detached); SIGUSR1 logs the counters.
Logging: to stderr; TUNNELD_LOG=error|warn|info|debug (default info).
Exit codes: 0 done, 1 internal, 2 command line, 3 configuration, 4 certificates/key,
5 link, 6 sockets or status unreachable.";

#[derive(Parser)]
#[command(name = "tunneld", version, about = "VPN daemon: one tun/tap link to a peer over UDP, keyed by mutual TLS 1.3")]
#[command(override_usage = USAGE, after_help = AFTER_HELP)]
struct Cli {
    /// The configuration file (TOML).
    #[arg(short = 'c', long = "config", value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Run the tunnel in the foreground (the default).
    Run,
    /// Check the configuration, certificates and key; print a report.
    Check,
    /// Print the running daemon's state and counters.
    Status {
        /// The status socket's JSON as it is.
        #[arg(long)]
        json: bool,
    },
}

#[cfg(target_os = "linux")]
fn open_device(config: &Config) -> Result<Arc<dyn Device>, Error> {
    tunneld::device::linux::LinuxTun::open_with(&config.link, config.mode, config.mtu as usize, config.tun_offload)
        .map(|d| Arc::new(d) as Arc<dyn Device>)
        .map_err(|e| Error::new(ErrorKind::Device, format!("link {}: {e}", config.link)))
}

#[cfg(target_os = "illumos")]
fn open_device(config: &Config) -> Result<Arc<dyn Device>, Error> {
    tunneld::device::illumos::IllumosTun::attach_queues(&config.link, config.mode, config.queues, config.link_features)
        .map_err(|e| Error::new(ErrorKind::Device, format!("link {}: {e}", config.link)))
}

#[cfg(not(any(target_os = "linux", target_os = "illumos")))]
fn open_device(config: &Config) -> Result<Arc<dyn Device>, Error> {
    Err(Error::new(ErrorKind::Device, format!("link {}: no tun/tap backend on this system", config.link)))
}

async fn serve(config: Config) -> Result<(), Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let status_socket = config.status_socket.clone();
    let daemon = Daemon::start(config.clone()).await?;
    let device = match open_device(&config) {
        Ok(d) => d,
        Err(e) => {
            if let Some(p) = status_socket {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
    };
    // The link's address and routes, if configured: on failure the
    // device is closed (on Linux the interface goes) and we exit 5.
    let undo = match configure_link(&config) {
        Ok(undo) => undo,
        Err(e) => {
            device.close();
            if let Some(p) = &config.status_socket {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
    };
    let signal_error = |e: std::io::Error| Error::new(ErrorKind::Internal, format!("cannot install signal handlers: {e}"));
    let mut term = signal(SignalKind::terminate()).map_err(signal_error)?;
    let mut int = signal(SignalKind::interrupt()).map_err(signal_error)?;
    let mut usr1 = signal(SignalKind::user_defined1()).map_err(signal_error)?;
    let counters = daemon.counters();
    let link = config.link.clone();
    tokio::spawn(async move {
        while usr1.recv().await.is_some() {
            let peer = counters.connected_peer().unwrap_or_else(|| "none".into());
            tracing::info!("link {link}: peer {peer}; {}", counters.summary());
        }
    });
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        }
    };
    let outcome = daemon.run(device, shutdown).await;
    if let Err(e) = tunneld::netconf::run(&undo) {
        tracing::warn!("link {}: removing its address and routes: {e}", config.link);
    }
    outcome
}

/// Apply `[link] address` and `routes`; the commands that undo them.
fn configure_link(config: &Config) -> Result<Vec<Vec<String>>, Error> {
    use tunneld::netconf::{System, plan, run};
    let Some(address) = config.address else { return Ok(Vec::new()) };
    let system = if cfg!(target_os = "illumos") { System::Illumos } else { System::Linux };
    let (up, down) = plan(system, &config.link, address, &config.routes);
    run(&up).map_err(|e| Error::new(ErrorKind::Device, format!("link {}: cannot configure its address or routes: {e}", config.link)))?;
    tracing::info!("link {}: address {address}{}", config.link, if config.routes.is_empty() { String::new() } else { format!(", routes {}", config.routes.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" ")) });
    Ok(down)
}

fn real_main(cli: Cli) -> Result<(), Error> {
    let path = cli.config.ok_or_else(|| Error::new(ErrorKind::Usage, format!("--config FILE is required\nusage: {USAGE}")))?;
    let config = Config::load(&path)?;
    match cli.command.unwrap_or(Command::Run) {
        Command::Check => {
            let lines = tunneld::check::check(&config, std::time::SystemTime::now())?;
            println!("{}: configuration and TLS files are usable (role {}, link {})", path.display(), config.role, config.link);
            for line in lines {
                println!("{line}");
            }
            Ok(())
        }
        Command::Status { json } => {
            let socket = config.status_socket.clone().ok_or_else(|| {
                Error::new(ErrorKind::Config, format!("configuration {}: no [status] socket configured", path.display()))
            })?;
            let runtime = runtime(1)?;
            let text = if json {
                runtime.block_on(tunneld::query_status_json(&socket))?
            } else {
                runtime.block_on(tunneld::query_status(&socket))?
            };
            print!("{text}");
            Ok(())
        }
        Command::Run => runtime(2)?.block_on(serve(config)),
    }
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start the runtime: {e}")))
}

fn main() -> ExitCode {
    let level = match std::env::var("TUNNELD_LOG").as_deref() {
        Ok("error") => tracing::Level::ERROR,
        Ok("warn") => tracing::Level::WARN,
        Ok("debug") => tracing::Level::DEBUG,
        _ => tracing::Level::INFO,
    };
    // Logs go to stderr, which SMF captures in the instance's log.
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(false).with_max_level(level).with_target(false).init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind as K;
            let code = match e.kind() {
                K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => 2,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
