//! The admin control socket, `<data_dir>/control.sock` (mode 0600): the CLI's way to change
//! device state while the server holds the database. redb lets one process open the file, so a
//! running server executes the CLI's command itself and sends back its output.
//!
//! Protocol: one connection per command. The client writes one line, a JSON array of the
//! command's arguments (`["device","wipe","dev1"]`); the server answers one line, a JSON object
//! `{"ok":true,"output":"..."}` or `{"ok":false,"error":"..."}`, and closes.

use serde::{Deserialize, Serialize};
use smol::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use smol::net::unix::{UnixListener, UnixStream};
use std::io::{self, BufRead, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Longest request line accepted.
const MAX_REQUEST: usize = 64 * 1024;
/// How long a CLI waits for the server to answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

#[derive(Serialize, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Runs one command: its output, or the error to show.
pub type Handler = dyn Fn(&[String]) -> Result<String, String> + Send + Sync;

/// Binds the socket, replacing a stale one a crashed server left (this process holds the
/// database, so no other server can be using it).
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Accepts commands until the process ends.
pub async fn serve(listener: UnixListener, handler: Arc<Handler>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let handler = handler.clone();
                smol::spawn(async move {
                    if let Err(e) = answer(stream, handler).await {
                        log::info!("control socket: {e}");
                    }
                })
                .detach();
            }
            Err(e) => {
                log::warn!("control socket accept: {e}");
                smol::Timer::after(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn answer(stream: UnixStream, handler: Arc<Handler>) -> io::Result<()> {
    let mut reader = BufReader::new(stream.clone().take(MAX_REQUEST as u64));
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let reply = match serde_json::from_str::<Vec<String>>(&line) {
        Ok(args) => {
            log::info!("control socket: easd {}", args.join(" "));
            match crate::work::unblock(move || handler(&args)).await {
                Ok(output) => Answer {
                    ok: true,
                    output: Some(output),
                    error: None,
                },
                Err(error) => Answer {
                    ok: false,
                    output: None,
                    error: Some(error),
                },
            }
        }
        Err(e) => Answer {
            ok: false,
            output: None,
            error: Some(format!("bad request: {e}")),
        },
    };
    let mut text = serde_json::to_string(&reply).map_err(io::Error::other)?;
    text.push('\n');
    let mut stream = stream;
    stream.write_all(text.as_bytes()).await?;
    stream.flush().await
}

/// Sends a command to a running server. `Ok(None)`: no server listens there.
pub fn request(path: &Path, args: &[String]) -> io::Result<Option<Result<String, String>>> {
    let mut stream = match std::os::unix::net::UnixStream::connect(path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    let mut line = serde_json::to_string(args).map_err(io::Error::other)?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut reply = String::new();
    io::BufReader::new(stream).read_line(&mut reply)?;
    let answer: Answer =
        serde_json::from_str(&reply).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(Some(if answer.ok {
        Ok(answer.output.unwrap_or_default())
    } else {
        Err(answer.error.unwrap_or_default())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_over_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(dir.path());
        assert!(request(&path, &["x".into()]).unwrap().is_none());
        std::fs::write(&path, b"stale").unwrap();
        let listener = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let handler: Arc<Handler> =
            Arc::new(|args: &[String]| match args.first().map(String::as_str) {
                Some("echo") => Ok(args[1..].join(" ")),
                _ => Err("unknown".into()),
            });
        let server = smol::spawn(serve(listener, handler));
        let p = path.clone();
        let out = smol::block_on(crate::work::unblock(move || {
            (
                request(&p, &["echo".into(), "a b".into(), "c".into()]).unwrap(),
                request(&p, &["nope".into()]).unwrap(),
            )
        }));
        assert_eq!(out.0, Some(Ok("a b c".into())));
        assert_eq!(out.1, Some(Err("unknown".into())));
        drop(server);
    }
}
