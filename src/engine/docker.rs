//! [`Engine`] over bollard: unix sockets, tcp (plain or TLS) and ssh (`docker/transport.rs`),
//! API version negotiated (the oldest engine tested speaks 1.41, so no request field newer than
//! that is used).

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptions, LogsOptions, RemoveContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;
use tokio::runtime::Runtime;

use self::transport::Link;
use super::connect::ConnectProblem;
use super::endpoint::{Endpoint, EndpointKind};
use super::{Engine, EngineError, EngineInfo, HelperOutput};

mod container;
mod ssh;
mod transport;

/// Seconds a single API call may take (above any stop grace period used).
const TIMEOUT_SECS: u64 = 120;

/// Seconds connecting may take: the ssh login or TLS handshake and the first request.
pub const CONNECT_TIMEOUT_SECS: u64 = 20;

/// The label every helper container carries, so leftovers can be found.
pub const HELPER_LABEL: &str = "io.tierctl.helper";

/// A connected Docker engine with its own single-threaded runtime.
pub struct DockerEngine {
    docker: Docker,
    runtime: Runtime,
    context: String,
    host: String,
    kind: EndpointKind,
    socket: Option<PathBuf>,
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
            Some(io::ErrorKind::ConnectionRefused) => EngineError::Unreachable {
                context: self.context.clone(),
                host: self.host.clone(),
                reason: "connection refused (no engine listens there)".into(),
            },
            _ => EngineError::Unreachable {
                context: self.context.clone(),
                host: self.host.clone(),
                reason: chain(error),
            },
        }
    }

    async fn helper(
        &self,
        image: &str,
        source: &Path,
        target: &str,
        command: &[String],
    ) -> Result<HelperOutput, EngineError> {
        let api = |e: &BollardError, action: &str| self.classify(e, action);
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            cmd: Some(command.to_vec()),
            entrypoint: Some(Vec::new()),
            network_disabled: Some(true),
            labels: Some([(HELPER_LABEL.to_owned(), "probe".to_owned())].into()),
            host_config: Some(HostConfig {
                mounts: Some(vec![Mount {
                    target: Some(target.to_owned()),
                    source: Some(source.to_string_lossy().into_owned()),
                    typ: Some(MountType::BIND),
                    read_only: Some(true),
                    ..Default::default()
                }]),
                network_mode: Some("none".into()),
                cap_drop: Some(vec!["ALL".into()]),
                // the one capability a read-only look needs: search and read directories of
                // other owners (a Postgres data dir is 0700 uid 999); the bind is read-only
                cap_add: Some(vec!["DAC_READ_SEARCH".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                readonly_rootfs: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(helper_name("probe")),
            ..Default::default()
        };
        let created = match self.docker.create_container(Some(options), body).await {
            Ok(created) => created,
            Err(BollardError::DockerResponseServerError {
                status_code: 404,
                message,
            }) if message.contains("image") => {
                return Err(EngineError::ImageMissing {
                    context: self.context.clone(),
                    image: image.to_owned(),
                });
            }
            Err(BollardError::DockerResponseServerError {
                status_code: 400,
                message,
            }) if message.contains("does not exist") => {
                return Ok(HelperOutput::SourceMissing { message });
            }
            Err(e) => return Err(api(&e, "create helper container")),
        };
        let id = created.id;
        let result = self.run_created(&id).await;
        let removed = self
            .docker
            .remove_container(
                &id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await;
        let output = result?;
        removed.map_err(|e| api(&e, "remove helper container"))?;
        Ok(output)
    }

    pub(super) async fn run_created(&self, id: &str) -> Result<HelperOutput, EngineError> {
        let api = |e: &BollardError, action: &str| self.classify(e, action);
        match self.docker.start_container(id, None).await {
            Ok(()) => {}
            Err(BollardError::DockerResponseServerError { message, .. })
                if message.contains("no such file or directory") && message.contains("mount") =>
            {
                return Ok(HelperOutput::SourceMissing { message });
            }
            Err(e) => return Err(api(&e, "start helper container")),
        }
        let mut wait = self.docker.wait_container(
            id,
            Some(WaitContainerOptions {
                condition: "not-running".into(),
            }),
        );
        let mut failed: Option<String> = None;
        while let Some(step) = wait.next().await {
            match step {
                Ok(_) => {}
                Err(BollardError::DockerContainerWaitError { error, code }) => {
                    failed = Some(format!("exit code {code}{}", with(&error)));
                }
                Err(e) => return Err(api(&e, "wait for helper container")),
            }
        }
        let mut logs = self.docker.logs(
            id,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        );
        let mut stdout = String::new();
        let mut stderr = String::new();
        while let Some(chunk) = logs.next().await {
            match chunk.map_err(|e| api(&e, "read helper output"))? {
                bollard::container::LogOutput::StdErr { message } => {
                    stderr.push_str(&String::from_utf8_lossy(&message));
                }
                other => stdout.push_str(&String::from_utf8_lossy(&other.into_bytes())),
            }
        }
        match failed {
            Some(reason) => Err(EngineError::Api {
                context: self.context.clone(),
                action: "run helper container".into(),
                message: format!("{reason}{}", with(stderr.trim())),
            }),
            None => Ok(HelperOutput::Ran(stdout)),
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

    fn run_helper(
        &self,
        image: &str,
        source: &Path,
        target: &str,
        command: &[String],
    ) -> Result<HelperOutput, EngineError> {
        self.runtime
            .block_on(self.helper(image, source, target, command))
    }
}

/// A unique, recognisable helper container name.
pub(super) fn helper_name(purpose: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("tierctl-{purpose}-{}-{nanos:09}", std::process::id())
}

fn with(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
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
