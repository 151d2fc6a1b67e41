//! The bollard client for each endpoint kind: unix socket, plain tcp, tcp with TLS (`https://`,
//! `DOCKER_TLS_VERIFY`, a context's TLS material) and ssh; and what a failed first request means.

use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;

use super::ssh::{self, SshStderr};
use super::{TIMEOUT_SECS, chain};
use crate::engine::EngineError;
use crate::engine::connect::{self, ConnectProblem};
use crate::engine::endpoint::{Endpoint, EndpointKind, SshDestination, Tls};

/// How the client reaches the engine, as far as explaining failures needs it.
pub(crate) enum Link {
    /// A unix socket.
    Unix(PathBuf),
    /// Plain http over tcp.
    Http,
    /// https with the endpoint's TLS material.
    Tls,
    /// ssh processes; what the last one printed.
    Ssh(SshStderr),
}

/// A client for the endpoint; nothing is sent yet. Must run inside the client's runtime.
pub(crate) fn open(endpoint: &Endpoint, limit: Duration) -> Result<(Docker, Link), EngineError> {
    let failed = |problem: ConnectProblem, detail: String| connect_error(endpoint, problem, detail);
    let unreachable = |e: BollardError| EngineError::Unreachable {
        context: endpoint.context.clone(),
        host: endpoint.host.clone(),
        reason: chain(&e),
    };
    let version = bollard::API_DEFAULT_VERSION;
    match &endpoint.kind {
        EndpointKind::Unix(path) => {
            if !path.exists() {
                return Err(EngineError::Unreachable {
                    context: endpoint.context.clone(),
                    host: endpoint.host.clone(),
                    reason: "the socket file does not exist".into(),
                });
            }
            let docker = Docker::connect_with_unix(&path.to_string_lossy(), TIMEOUT_SECS, version)
                .map_err(unreachable)?;
            Ok((docker, Link::Unix(path.clone())))
        }
        EndpointKind::Tcp { address, .. } => match &endpoint.tls {
            None => {
                let url = format!("http://{address}");
                let docker =
                    Docker::connect_with_http(&url, TIMEOUT_SECS, version).map_err(unreachable)?;
                Ok((docker, Link::Http))
            }
            Some(tls) => {
                let (ca, cert, key) = tls_files(tls).map_err(|p| failed(p, String::new()))?;
                let url = format!("https://{address}");
                let docker =
                    Docker::connect_with_ssl(&url, &key, &cert, &ca, TIMEOUT_SECS, version)
                        .map_err(|e| failed(ConnectProblem::Tls, format!(": {}", chain(&e))))?;
                Ok((docker, Link::Tls))
            }
        },
        EndpointKind::Ssh(rest) => {
            let destination = SshDestination::parse(rest)
                .map_err(|reason| failed(ConnectProblem::BadSshUrl, format!(": {reason}")))?;
            let (docker, stderr) =
                ssh::connect(destination, limit.as_secs().max(1), TIMEOUT_SECS, version)
                    .map_err(unreachable)?;
            Ok((docker, Link::Ssh(stderr)))
        }
        EndpointKind::Npipe(_) => Err(unsupported(endpoint, "npipe")),
        EndpointKind::Fd(_) => Err(unsupported(endpoint, "fd")),
    }
}

/// `ca.pem`, `cert.pem`, `key.pem`: all three are needed (bollard's TLS client always presents a
/// client certificate, and verifies the server).
fn tls_files(tls: &Tls) -> Result<(PathBuf, PathBuf, PathBuf), ConnectProblem> {
    if !tls.verify {
        return Err(ConnectProblem::TlsWithoutVerify);
    }
    match (&tls.ca, &tls.cert, &tls.key) {
        (Some(ca), Some(cert), Some(key)) => Ok((ca.clone(), cert.clone(), key.clone())),
        (ca, cert, key) => Err(ConnectProblem::TlsMaterialMissing {
            dir: tls.dir.clone(),
            missing: [("ca.pem", ca), ("cert.pem", cert), ("key.pem", key)]
                .into_iter()
                .filter(|(_, path)| path.is_none())
                .map(|(name, _)| name)
                .collect(),
        }),
    }
}

/// What a failed first request over `link` means, when the link itself explains it (ssh's
/// stderr, the TLS handshake, a refused tcp port); `None` for the general classification.
pub(crate) fn explain(
    link: &Link,
    error: &BollardError,
    ssh_stderr: &str,
) -> Option<(ConnectProblem, String)> {
    let text = chain(error);
    match link {
        Link::Ssh(_) if !ssh_stderr.trim().is_empty() => Some((
            connect::from_ssh_stderr(ssh_stderr),
            format!(" (ssh: {})", connect::last_line(ssh_stderr)),
        )),
        Link::Ssh(_) => Some((ConnectProblem::Ssh, format!(": {text}"))),
        Link::Tls => match connect::from_tls_error(&text) {
            Some(problem) => Some((problem, format!(": {}", connect::tls_words(&text)))),
            None if refused(&text) => Some((ConnectProblem::Refused, String::new())),
            None => None,
        },
        Link::Http if refused(&text) => Some((ConnectProblem::Refused, String::new())),
        Link::Http if text.contains("HTTP request to an HTTPS server") => {
            Some((ConnectProblem::TlsExpected, String::new()))
        }
        Link::Http | Link::Unix(_) => None,
    }
}

fn refused(text: &str) -> bool {
    text.contains("Connection refused") || text.contains("connection refused")
}

/// The error for a remote endpoint that could not be used.
pub(crate) fn connect_error(
    endpoint: &Endpoint,
    problem: ConnectProblem,
    detail: String,
) -> EngineError {
    EngineError::Connect {
        context: endpoint.context.clone(),
        host: endpoint.host.clone(),
        problem,
        detail,
    }
}

fn unsupported(endpoint: &Endpoint, scheme: &str) -> EngineError {
    EngineError::Unsupported {
        context: endpoint.context.clone(),
        host: endpoint.host.clone(),
        scheme: scheme.into(),
    }
}
