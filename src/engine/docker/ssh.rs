//! `ssh://` endpoints the way the docker CLI reaches them: the system `ssh` client runs
//! `docker system dial-stdio` on the remote host and HTTP goes over its stdin/stdout, so
//! `~/.ssh/config`, the agent and known_hosts apply exactly as for `docker -H ssh://...`.
//!
//! Not bollard's `ssh` feature: its connector (openssh 0.11) passes
//! `StrictHostKeyChecking=accept-new` (an unknown host key is trusted and written to
//! known_hosts), keeps a control master with `ControlPersist=yes`, and sets no connect timeout.
//! Here ssh runs with `BatchMode=yes` (no prompt can hang a run) and `ConnectTimeout`, and what
//! it printed on stderr is kept to explain a failure.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bollard::{BollardRequest, ClientVersion, Docker};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::engine::endpoint::SshDestination;

/// What ssh printed on stderr for the last connection that printed anything.
#[derive(Clone, Default)]
pub(crate) struct SshStderr(Arc<Mutex<String>>);

impl SshStderr {
    /// The text, once ssh has exited (empty while it runs or when it printed nothing).
    pub(crate) fn text(&self) -> String {
        self.0.lock().map(|t| t.clone()).unwrap_or_default()
    }

    fn set(&self, text: String) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = text;
        }
    }
}

/// Opens one `ssh ... docker system dial-stdio` per connection the HTTP client asks for.
#[derive(Clone)]
struct SshConnector {
    destination: SshDestination,
    connect_timeout_secs: u64,
    stderr: SshStderr,
}

impl SshConnector {
    fn spawn(&self) -> io::Result<SshStream> {
        let mut child = Command::new("ssh")
            .args(["-o", "BatchMode=yes"])
            .arg("-o")
            .arg(format!("ConnectTimeout={}", self.connect_timeout_secs))
            .arg("-T")
            .args(self.destination.ssh_args())
            .args(["docker", "system", "dial-stdio"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run `ssh`: {e}")))?;
        let missing = || io::Error::other("ssh's pipes were not set up");
        let stdin = child.stdin.take().ok_or_else(missing)?;
        let stdout = child.stdout.take().ok_or_else(missing)?;
        if let Some(mut err) = child.stderr.take() {
            let slot = self.stderr.clone();
            tokio::spawn(async move {
                let mut text = String::new();
                // read until ssh exits; a read error only shortens the message
                let _ = err.read_to_string(&mut text).await;
                if !text.trim().is_empty() {
                    slot.set(text);
                }
            });
        }
        Ok(SshStream {
            _child: child,
            stdin: TokioIo::new(stdin),
            stdout: TokioIo::new(stdout),
        })
    }
}

impl tower_service::Service<hyper::Uri> for SshConnector {
    type Response = SshStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<SshStream>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let connector = self.clone();
        Box::pin(async move { connector.spawn() })
    }
}

/// One ssh process: HTTP is written to its stdin and read from its stdout.
struct SshStream {
    _child: Child,
    stdin: TokioIo<ChildStdin>,
    stdout: TokioIo<ChildStdout>,
}

impl Connection for SshStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for SshStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdout).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for SshStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stdin).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_shutdown(cx)
    }
}

/// A bollard client whose connections are ssh processes to `destination`. Must be called
/// inside the runtime that will drive it.
pub(crate) fn connect(
    destination: SshDestination,
    connect_timeout_secs: u64,
    request_timeout_secs: u64,
    version: &ClientVersion,
) -> Result<(Docker, SshStderr), bollard::errors::Error> {
    let stderr = SshStderr::default();
    let connector = SshConnector {
        destination,
        connect_timeout_secs,
        stderr: stderr.clone(),
    };
    let client = Arc::new(Client::builder(TokioExecutor::new()).build(connector));
    let docker = Docker::connect_with_custom_transport(
        move |request: BollardRequest| {
            let client = Arc::clone(&client);
            async move {
                client
                    .request(request)
                    .await
                    .map_err(bollard::errors::Error::from)
            }
        },
        // the authority is not used to connect: every connection is the ssh process
        Some("ssh://docker"),
        request_timeout_secs,
        version,
    )?;
    Ok((docker, stderr))
}
