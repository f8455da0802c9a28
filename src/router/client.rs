//! The client side of the control protocol ([`super::proto`]): one request, one answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;

use super::proto::{Envelope, Request, Stats};

/// Where `run` and `ctl` meet by default.
pub fn default_socket() -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join("vrouter.sock")
}

/// How long a client waits for an answer unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest answer read (a stats answer of 64 routers is well under it).
const MAX_ANSWER: u64 = 16 << 20;

/// Sends `req` to the router at `socket`; returns the answer's fields (without `ok`), or its
/// error. Gives up after [`DEFAULT_TIMEOUT`].
pub fn call_raw(
    socket: &Path,
    req: &Request,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    call_raw_within(socket, req, DEFAULT_TIMEOUT)
}

/// [`call_raw`], giving up after `timeout` (sending, or waiting for the answer).
pub fn call_raw_within(
    socket: &Path,
    req: &Request,
    timeout: Duration,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let s = UnixStream::connect(socket).with_context(|| {
        format!(
            "cannot reach a running vrouter at {} (start `vrouter run`, or give --socket)",
            socket.display()
        )
    })?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut w = &s;
    writeln!(w, "{}", serde_json::to_string(req)?)?;
    let mut line = String::new();
    BufReader::new((&s).take(MAX_ANSWER))
        .read_line(&mut line)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => anyhow::anyhow!(
                "{}: no answer within {:.1} s (is the router stuck? --timeout waits longer)",
                socket.display(),
                timeout.as_secs_f64()
            ),
            _ => anyhow::anyhow!("{}: {e}", socket.display()),
        })?;
    if line.is_empty() {
        bail!(
            "{}: the router closed the connection without answering",
            socket.display()
        );
    }
    let v: Envelope = serde_json::from_str(&line).context("bad answer from vrouter")?;
    if !v.ok {
        bail!("{}", v.error.as_deref().unwrap_or("request failed"));
    }
    Ok(v.body)
}

/// Sends `req` and reads the answer as `T` (the response type the request names).
pub fn call<T: DeserializeOwned>(socket: &Path, req: &Request) -> Result<T> {
    call_within(socket, req, DEFAULT_TIMEOUT)
}

/// [`call`], giving up after `timeout`.
pub fn call_within<T: DeserializeOwned>(
    socket: &Path,
    req: &Request,
    timeout: Duration,
) -> Result<T> {
    let body = call_raw_within(socket, req, timeout)?;
    serde_json::from_value(serde_json::Value::Object(body))
        .context("unexpected answer from vrouter")
}

/// The counters of the router at `socket`.
pub fn stats(socket: &Path) -> Result<Stats> {
    call(socket, &Request::Stats)
}

/// The counters of the router at `socket`, waiting at most `timeout`.
pub fn stats_within(socket: &Path, timeout: Duration) -> Result<Stats> {
    call_within(socket, &Request::Stats, timeout)
}
