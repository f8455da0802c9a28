//! The client side of the control protocol ([`super::proto`]): one request, one answer.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

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

/// Sends `req` to the router at `socket`; returns the answer's fields (without `ok`), or its
/// error.
pub fn call_raw(
    socket: &Path,
    req: &Request,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let s = UnixStream::connect(socket).with_context(|| {
        format!(
            "cannot reach a running vrouter at {} (start `vrouter run`, or give --socket)",
            socket.display()
        )
    })?;
    let mut w = &s;
    writeln!(w, "{}", serde_json::to_string(req)?)?;
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line)?;
    let v: Envelope = serde_json::from_str(&line).context("bad answer from vrouter")?;
    if !v.ok {
        bail!("{}", v.error.as_deref().unwrap_or("request failed"));
    }
    Ok(v.body)
}

/// Sends `req` and reads the answer as `T` (the response type the request names).
pub fn call<T: DeserializeOwned>(socket: &Path, req: &Request) -> Result<T> {
    let body = call_raw(socket, req)?;
    serde_json::from_value(serde_json::Value::Object(body))
        .context("unexpected answer from vrouter")
}

/// The counters of the router at `socket`.
pub fn stats(socket: &Path) -> Result<Stats> {
    call(socket, &Request::Stats)
}
