//! [`Engine`] over bollard (its parts in `docker/`: containers, helpers, archive reads, and
//! `transport.rs`: unix sockets, tcp (plain or TLS) and ssh), API version negotiated (the
//! oldest engine tested speaks 1.41, so no request field newer than that is used).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{ListVolumesOptions, RemoveVolumeOptions};
use tokio::runtime::Runtime;

use self::transport::Link;
use super::connect::ConnectProblem;
use super::endpoint::{self, Endpoint, EndpointKind, EngineGuess};
use super::{Engine, EngineError, EngineInfo, Volumes};

mod archive;
mod container;
mod helper;
mod ssh;
mod transport;
mod upload;

/// Seconds a single API call may take (above any stop grace period used).
const TIMEOUT_SECS: u64 = 120;

/// Seconds connecting may take: the ssh login or TLS handshake and the first request.
pub const CONNECT_TIMEOUT_SECS: u64 = 20;

/// A connected Docker engine with its own single-threaded runtime.
pub struct DockerEngine {
    docker: Docker,
    runtime: Runtime,
    context: String,
    host: String,
    kind: EndpointKind,
    socket: Option<PathBuf>,
    /// The engine's host is another machine (`crate::host`): no path of it is read here.
    elsewhere: bool,
}

impl DockerEngine {
    /// Connect to the endpoint and negotiate the API version (one request: a dead socket, a
    /// refused port, an unknown ssh host key or a wrong CA fails here), within
    /// [`CONNECT_TIMEOUT_SECS`].
    pub fn connect(endpoint: &Endpoint) -> Result<Self, EngineError> {
        Self::connect_within(endpoint, Duration::from_secs(CONNECT_TIMEOUT_SECS))
    }

    /// [`DockerEngine::connect`] with another bound on the first request.
    pub fn connect_within(endpoint: &Endpoint, limit: Duration) -> Result<Self, EngineError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(EngineError::Runtime)?;
        let (docker, link) = runtime.block_on(async { transport::open(endpoint, limit) })?;
        let socket = match &link {
            Link::Unix(path) => Some(path.clone()),
            _ => None,
        };
        let mut engine = DockerEngine {
            docker,
            runtime,
            context: endpoint.context.clone(),
            host: endpoint.host.clone(),
            kind: endpoint.kind.clone(),
            socket,
            elsewhere: false,
        };
        let docker = engine.docker.clone();
        let first = engine
            .runtime
            .block_on(async { tokio::time::timeout(limit, docker.negotiate_version()).await });
        engine.docker = match first {
            Ok(Ok(negotiated)) => negotiated,
            Ok(Err(e)) => return Err(engine.connect_failure(endpoint, &link, &e, limit)),
            Err(_) => {
                let seconds = limit.as_secs().max(1);
                let problem = ConnectProblem::Timeout { seconds };
                return Err(transport::connect_error(endpoint, problem, String::new()));
            }
        };
        Ok(engine)
    }

    /// Why the first request failed: what ssh printed, the TLS verdict, else [`Self::classify`].
    fn connect_failure(
        &self,
        endpoint: &Endpoint,
        link: &Link,
        error: &BollardError,
        limit: Duration,
    ) -> EngineError {
        let stderr = match link {
            Link::Ssh(stderr) => {
                // ssh's stderr is complete once it exits, shortly after the failed request
                self.runtime.block_on(async {
                    for _ in 0..40 {
                        if !stderr.text().trim().is_empty() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                });
                stderr.text()
            }
            _ => String::new(),
        };
        match transport::explain(link, error, &stderr) {
            Some((ConnectProblem::Timeout { .. }, detail)) => {
                let seconds = limit.as_secs().max(1);
                transport::connect_error(endpoint, ConnectProblem::Timeout { seconds }, detail)
            }
            Some((problem, detail)) => transport::connect_error(endpoint, problem, detail),
            None => self.classify(error, "version"),
        }
    }

    /// The context this engine was reached through.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The endpoint as far as identifying the engine needs it (context name and socket).
    pub(super) fn endpoint(&self) -> Endpoint {
        Endpoint {
            host: self.host.clone(),
            context: self.context.clone(),
            source: super::endpoint::EndpointSource::Default,
            kind: self.kind.clone(),
            skip_tls_verify: false,
            meta_file: None,
            tls: None,
            remote_mark: None,
        }
    }

    pub(super) fn docker(&self) -> &Docker {
        &self.docker
    }

    pub(super) fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Turn a bollard error into ours, naming the context and socket.
    pub(super) fn classify(&self, error: &BollardError, action: &str) -> EngineError {
        if let BollardError::DockerResponseServerError {
            status_code,
            message,
        } = error
        {
            return EngineError::Api {
                context: self.context.clone(),
                action: action.to_owned(),
                message: format!("{message} (HTTP {status_code})"),
            };
        }
        match io_kind(error) {
            Some(io::ErrorKind::PermissionDenied) => EngineError::PermissionDenied {
                context: self.context.clone(),
                socket: self
                    .socket
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(&self.host)),
            },
            kind => EngineError::Unreachable {
                context: self.context.clone(),
                host: self.host.clone(),
                reason: unreachable_reason(kind, &chain(error), action),
            },
        }
    }
}

/// Why nothing answers, in words: what the OS said (`kind`) when it says it plainly, else the
/// error chain without the HTTP client's wording ("Error in the hyper legacy client").
fn unreachable_reason(kind: Option<io::ErrorKind>, chain: &str, action: &str) -> String {
    let stopped = format!("the engine stopped answering (at `{action}`)");
    match kind {
        Some(io::ErrorKind::ConnectionRefused) => {
            "connection refused (no engine listens there)".into()
        }
        Some(io::ErrorKind::NotFound) => format!("{stopped}: its socket file is gone"),
        Some(
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof,
        ) => format!("{stopped}: the connection was cut"),
        _ => {
            let plain = chain
                .split(": ")
                .filter(|part| {
                    !part.contains("hyper legacy client") && *part != "client error (Connect)"
                })
                .collect::<Vec<_>>()
                .join(": ");
            if plain.is_empty() { stopped } else { plain }
        }
    }
}

impl Engine for DockerEngine {
    fn info(&self) -> Result<EngineInfo, EngineError> {
        let info = self
            .runtime
            .block_on(self.docker.info())
            .map_err(|e| self.classify(&e, "info"))?;
        let version = self.docker.client_version();
        Ok(EngineInfo {
            name: info.name.unwrap_or_default(),
            operating_system: info.operating_system.unwrap_or_default(),
            os_type: info.os_type.unwrap_or_default(),
            server_version: info.server_version.unwrap_or_default(),
            kernel_version: info.kernel_version.unwrap_or_default(),
            api_version: format!("{}.{}", version.major_version, version.minor_version),
        })
    }
}

impl Volumes for DockerEngine {
    fn volume_exists(&self, name: &str) -> Result<bool, EngineError> {
        Ok(self.volume_mountpoint(name)?.is_some())
    }

    fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        self.runtime
            .block_on(
                self.docker
                    .remove_volume(name, Some(RemoveVolumeOptions { force: false })),
            )
            .map_err(|e| self.classify(&e, &format!("remove volume `{name}`")))
    }

    fn project_volumes(&self, project: &str) -> Result<Vec<(String, String)>, EngineError> {
        let label = format!("com.docker.compose.project={project}");
        let options = ListVolumesOptions {
            filters: Some(std::collections::HashMap::from([(
                "label".to_owned(),
                vec![label],
            )])),
        };
        let listed = self
            .runtime
            .block_on(self.docker.list_volumes(Some(options)))
            .map_err(|e| self.classify(&e, &format!("list the volumes of project `{project}`")))?;
        Ok(listed
            .volumes
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| {
                let key = v.labels.get("com.docker.compose.volume")?.clone();
                Some((v.name, key))
            })
            .collect())
    }
}

impl DockerEngine {
    /// A named volume's `Mountpoint` as the engine reports it (a path on the engine's own
    /// filesystem: on a VM engine, inside the VM); `None` when the volume does not exist.
    pub fn volume_mountpoint(&self, name: &str) -> Result<Option<PathBuf>, EngineError> {
        match self.runtime.block_on(self.docker.inspect_volume(name)) {
            Ok(volume) => Ok(Some(PathBuf::from(volume.mountpoint))),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(self.classify(&e, &format!("inspect volume `{name}`"))),
        }
    }

    /// This engine as one whose host is another machine when `elsewhere` (`crate::host`
    /// decided): then no host path of it is read on this machine ([`super::Helpers::host_path`] is
    /// `None`), whatever the endpoint looks like.
    pub fn on_another_machine(mut self, elsewhere: bool) -> Self {
        self.elsewhere = elsewhere;
        self
    }

    /// Whether the engine runs natively on this host (so it sees host paths as they are),
    /// identified as `tierctl vm` does: the endpoint, refined by `docker info`; never when its
    /// host is another machine ([`Self::on_another_machine`]).
    pub fn is_native(&self) -> Result<bool, EngineError> {
        if self.elsewhere {
            return Ok(false);
        }
        let info = self.info()?;
        let guess = endpoint::refine(
            endpoint::identify(&self.endpoint()),
            &info.operating_system,
            &info.name,
        );
        Ok(guess == EngineGuess::Native)
    }
}

/// The first I/O error kind in the error's source chain.
fn io_kind(error: &BollardError) -> Option<io::ErrorKind> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        current = e.source();
    }
    None
}

/// The error and its sources, joined (`a: b: c`).
pub(super) fn chain(error: &BollardError) -> String {
    let mut parts = vec![error.to_string()];
    let mut current = std::error::Error::source(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 26 row 18: the engine going away mid-run said "Error in the hyper legacy client:
    /// client error (Connect): No such file or directory (os error 2)".
    #[test]
    fn issue26_row18_an_engine_gone_mid_run_is_said_plainly() {
        let hyper = "Error in the hyper legacy client: client error (Connect): No such file or directory (os error 2)";
        let said = unreachable_reason(Some(io::ErrorKind::NotFound), hyper, "inspect container");
        assert_eq!(
            said,
            "the engine stopped answering (at `inspect container`): its socket file is gone"
        );
        let cut = unreachable_reason(Some(io::ErrorKind::ConnectionReset), hyper, "wait");
        assert!(cut.ends_with("the connection was cut"), "{cut}");
        let other = unreachable_reason(None, hyper, "wait");
        assert_eq!(other, "No such file or directory (os error 2)");
        assert!(!other.contains("hyper"));
    }
}
