//! The control protocol carried over a character device: inside a guest, `vrouter ctl relay`
//! reads requests from the `vrouter.ctl` virtio-serial port (whose host end is a Unix socket
//! beside the guest's QEMU), passes each to the router's control socket and writes the answer
//! back. The host's `vrouter ctl --socket <that socket>` then reaches the guest's router as if
//! it ran on the host. One request line, one answer line, as on the socket itself
//! ([`super::proto`]); file paths in requests (`routes load`) are the guest's.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use super::control::MAX_REQUEST;
use super::proto::Envelope;

/// How long the relay waits for the router's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Relays requests from `device` to the router at `socket`, forever (until the device goes
/// away).
pub fn relay(device: &Path, socket: &Path) -> Result<()> {
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(device)
        .with_context(|| format!("opening {}", device.display()))?;
    let mut reader = BufReader::new(dev.try_clone()?);
    let mut out = dev;
    loop {
        let mut line = Vec::new();
        let n = (&mut reader)
            .take(MAX_REQUEST as u64 + 1)
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {}", device.display()))?;
        if n == 0 {
            // Nobody on the host end: virtio-serial reads end-of-file until someone connects.
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        if line.len() > MAX_REQUEST {
            // Skip the rest of the oversized line, answer once.
            let mut rest = Vec::new();
            let _ = reader.read_until(b'\n', &mut rest);
            write_line(
                &mut out,
                &error(&format!("request longer than {MAX_REQUEST} bytes")),
            )?;
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let answer = forward(socket, &line).unwrap_or_else(|e| error(&format!("relay: {e:#}")));
        write_line(&mut out, &answer)?;
    }
}

/// One request to the router's socket; its answer line (without the newline).
fn forward(socket: &Path, request: &[u8]) -> Result<String> {
    let s = UnixStream::connect(socket)
        .with_context(|| format!("the router's socket {}", socket.display()))?;
    s.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    s.set_write_timeout(Some(ANSWER_TIMEOUT))?;
    let mut w = &s;
    w.write_all(request)?;
    if !request.ends_with(b"\n") {
        w.write_all(b"\n")?;
    }
    let mut answer = String::new();
    BufReader::new((&s).take(16 << 20)).read_line(&mut answer)?;
    let answer = answer.trim_end().to_string();
    if answer.is_empty() {
        anyhow::bail!("the router closed the connection without answering");
    }
    Ok(answer)
}

fn error(why: &str) -> String {
    serde_json::to_string(&Envelope::of(Err(why.to_string())))
        .unwrap_or_else(|_| r#"{"ok":false,"error":"relay"}"#.into())
}

fn write_line(out: &mut impl Write, line: &str) -> Result<()> {
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_answer_is_an_envelope_the_client_reads() {
        let e: Envelope = serde_json::from_str(&error("relay: no router")).unwrap();
        assert!(!e.ok);
        assert_eq!(e.error.as_deref(), Some("relay: no router"));
    }

    #[test]
    fn a_request_reaches_the_router_and_its_answer_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("r.sock");
        let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut line = String::new();
            BufReader::new(&s).read_line(&mut line).unwrap();
            assert_eq!(line, "{\"cmd\":\"stats\"}\n");
            (&s).write_all(b"{\"ok\":true,\"routers\":[]}\n").unwrap();
        });
        let a = forward(&sock, b"{\"cmd\":\"stats\"}").unwrap();
        assert_eq!(a, "{\"ok\":true,\"routers\":[]}");
        server.join().unwrap();
        let gone = forward(&dir.path().join("none.sock"), b"{}").unwrap_err();
        assert!(format!("{gone:#}").contains("none.sock"), "{gone:#}");
    }
}
