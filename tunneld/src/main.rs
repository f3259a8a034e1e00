// SPDX-License-Identifier: MPL-2.0
//! The `tunneld` program: see README.md for usage and exit codes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tunneld::{Config, Daemon, Device, Error, ErrorKind};

const USAGE: &str = "\
usage: tunneld [run] --config FILE    run the tunnel in the foreground
       tunneld check --config FILE    check the configuration and TLS files
       tunneld status --config FILE   print the running tunnel's state and counters
       tunneld --help | --version

signals: SIGTERM/SIGINT stop cleanly (link detached); SIGUSR1 logs the counters.
logging: to stderr; TUNNELD_LOG=error|warn|info|debug (default info).";

struct StderrLogger {
    level: log::LevelFilter,
}

impl log::Log for StderrLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.level && m.target().starts_with("tunneld")
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let level = match r.level() {
                log::Level::Error => "error",
                log::Level::Warn => "warning",
                log::Level::Info => "info",
                log::Level::Debug | log::Level::Trace => "debug",
            };
            eprintln!("{} tunneld[{}]: {level}: {}", utc_now(), std::process::id(), r.args());
        }
    }
    fn flush(&self) {}
}

/// The current time as `YYYY-MM-DDThh:mm:ssZ`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

enum Command {
    Run,
    Check,
    Status,
}

fn parse_args(args: &[String]) -> Result<(Command, PathBuf), Error> {
    let usage = |why: String| Error::new(ErrorKind::Usage, format!("{why}\n{USAGE}"));
    let mut command = None;
    let mut config = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "run" | "check" | "status" if command.is_none() => {
                command = Some(match a.as_str() {
                    "run" => Command::Run,
                    "check" => Command::Check,
                    _ => Command::Status,
                })
            }
            "--config" | "-c" => {
                let v = it.next().ok_or_else(|| usage(format!("{a} needs a file name")))?;
                config = Some(PathBuf::from(v));
            }
            s if s.starts_with("--config=") => config = Some(PathBuf::from(&s["--config=".len()..])),
            other => return Err(usage(format!("unknown argument {other:?}"))),
        }
    }
    let config = config.ok_or_else(|| usage("--config FILE is required".into()))?;
    Ok((command.unwrap_or(Command::Run), config))
}

#[cfg(target_os = "linux")]
fn open_device(config: &Config) -> Result<Arc<dyn Device>, Error> {
    tunneld::device::linux::LinuxTun::open(&config.link, config.mode, config.mtu as usize)
        .map(|d| Arc::new(d) as Arc<dyn Device>)
        .map_err(|e| Error::new(ErrorKind::Device, format!("link {}: {e}", config.link)))
}

#[cfg(target_os = "illumos")]
fn open_device(config: &Config) -> Result<Arc<dyn Device>, Error> {
    tunneld::device::illumos::IllumosTun::attach(&config.link, config.mode)
        .map(|d| Arc::new(d) as Arc<dyn Device>)
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
    let signal_error = |e: std::io::Error| Error::new(ErrorKind::Internal, format!("cannot install signal handlers: {e}"));
    let mut term = signal(SignalKind::terminate()).map_err(signal_error)?;
    let mut int = signal(SignalKind::interrupt()).map_err(signal_error)?;
    let mut usr1 = signal(SignalKind::user_defined1()).map_err(signal_error)?;
    let counters = daemon.counters();
    let link = config.link.clone();
    tokio::spawn(async move {
        while usr1.recv().await.is_some() {
            let peer = counters.connected_peer().unwrap_or_else(|| "none".into());
            log::info!("link {link}: peer {peer}; {}", counters.summary());
        }
    });
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => log::info!("SIGTERM: shutting down"),
            _ = int.recv() => log::info!("SIGINT: shutting down"),
        }
    };
    daemon.run(device, shutdown).await
}

fn real_main(args: &[String]) -> Result<(), Error> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("tunneld {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    let (command, path) = parse_args(args)?;
    let config = Config::load(&path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start the runtime: {e}")))?;
    match command {
        Command::Check => {
            tunneld::tls::TlsSide::new(&config).map_err(|m| Error::new(ErrorKind::Tls, m))?;
            println!("{}: configuration and TLS files are usable (role {}, link {})", path.display(), config.role, config.link);
            Ok(())
        }
        Command::Status => {
            let socket = config.status_socket.clone().ok_or_else(|| {
                Error::new(ErrorKind::Config, format!("configuration {}: no [status] socket configured", path.display()))
            })?;
            let text = runtime.block_on(tunneld::query_status(&socket))?;
            print!("{text}");
            Ok(())
        }
        Command::Run => runtime.block_on(serve(config)),
    }
}

fn main() -> ExitCode {
    let level = match std::env::var("TUNNELD_LOG").as_deref() {
        Ok("error") => log::LevelFilter::Error,
        Ok("warn") => log::LevelFilter::Warn,
        Ok("debug") => log::LevelFilter::Debug,
        _ => log::LevelFilter::Info,
    };
    let _ = log::set_boxed_logger(Box::new(StderrLogger { level }));
    log::set_max_level(level);
    let args: Vec<String> = std::env::args().skip(1).collect();
    match real_main(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
