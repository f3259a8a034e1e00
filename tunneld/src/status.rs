// SPDX-License-Identifier: MPL-2.0
//! The status socket: a Unix socket that answers each connection with
//! the tunnel's state and counters, and the client side of it.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;

use crate::counters::Counters;
use crate::{Error, ErrorKind};

pub(crate) async fn bind_status_socket(path: &std::path::Path) -> Result<UnixListener, Error> {
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(Error::new(
                ErrorKind::Network,
                format!("status socket {} is in use: another tunneld serves this configuration", path.display()),
            ));
        }
        // A stale socket from a daemon that died: take it over.
        let _ = std::fs::remove_file(path);
    }
    // /var/run is emptied at boot: make the socket's directory (0755,
    // like other daemons' run directories) if it is not there.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o755).create(dir).map_err(|e| {
            Error::new(ErrorKind::Network, format!("cannot create the status socket's directory {}: {e}", dir.display()))
        })?;
    }
    UnixListener::bind(path)
        .map_err(|e| Error::new(ErrorKind::Network, format!("cannot bind status socket {}: {e}", path.display())))
}

pub(crate) async fn serve_status(listener: UnixListener, counters: Arc<Counters>, link: String, mode: String, role: String) {
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let text = counters.json(&link, &mode, &role).to_string() + "\n";
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), s.write_all(text.as_bytes())).await;
            let _ = s.shutdown().await;
        });
    }
}

/// The daemon's status as `key=value` lines (what `tunneld status`
/// prints): the JSON from [`query_status_json`], flattened.
pub async fn query_status(socket: &std::path::Path) -> Result<String, Error> {
    let json = query_status_json(socket).await?;
    text_from_json(&json)
        .ok_or_else(|| Error::new(ErrorKind::Network, format!("tunneld at {} answered something that is not its status", socket.display())))
}

/// `key=value` lines from the status JSON: the state fields that are
/// set, then every counter, in the daemon's order.
pub fn text_from_json(json: &str) -> Option<String> {
    use std::fmt::Write as _;
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let o = v.as_object()?;
    let mut out = String::new();
    for key in ["link", "mode", "role", "state", "peer", "transport", "cipher", "last_error"] {
        match o.get(key) {
            Some(serde_json::Value::String(s)) => {
                let _ = writeln!(out, "{key}={}", s.replace('\n', " "));
            }
            Some(serde_json::Value::Null) | None => {}
            Some(other) => {
                let _ = writeln!(out, "{key}={other}");
            }
        }
    }
    for (name, value) in o.get("counters")?.as_object()? {
        let _ = writeln!(out, "{name}={value}");
    }
    Some(out)
}

/// Ask the daemon behind `socket` for its status (one JSON object).
pub async fn query_status_json(socket: &std::path::Path) -> Result<String, Error> {
    use tokio::io::AsyncReadExt;
    let mut s = tokio::net::UnixStream::connect(socket).await.map_err(|e| {
        Error::new(ErrorKind::Network, format!("cannot reach tunneld at {}: {e} (is it running?)", socket.display()))
    })?;
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut text))
        .await
        .map_err(|_| Error::new(ErrorKind::Network, format!("tunneld at {} did not answer", socket.display())))?
        .map_err(|e| Error::new(ErrorKind::Network, format!("reading status from {}: {e}", socket.display())))?;
    Ok(text)
}
