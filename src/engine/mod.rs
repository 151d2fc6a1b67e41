//! The Docker engine: endpoint resolution, the connection (bollard, behind the [`Engine`]
//! trait), and the bind probe with helper containers.
//!
//! bollard types and async code never leave this module: [`docker::DockerEngine`] owns a small
//! single-threaded runtime and every call blocks.

pub mod connect;
pub mod container;
pub mod docker;
pub mod endpoint;
pub mod observe;
pub mod probe;
pub mod transfer;

use std::path::{Path, PathBuf};

use thiserror::Error;

/// What `docker info` says about the engine, as far as tierctl needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineInfo {
    /// `Name`: the engine host's hostname (`colima`, `lima-rancher-desktop`, `docker-desktop`).
    pub name: String,
    /// `OperatingSystem` (`Debian GNU/Linux 12 (bookworm)`, `Docker Desktop`, `OrbStack`).
    pub operating_system: String,
    /// `OSType` (`linux`).
    pub os_type: String,
    /// `ServerVersion`.
    pub server_version: String,
    /// `KernelVersion`.
    pub kernel_version: String,
    /// The API version negotiated with the engine.
    pub api_version: String,
}

/// What one helper container printed, or why the engine would not start it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelperOutput {
    /// The helper ran; its stdout.
    Ran(String),
    /// The engine refused the bind: the source does not exist where the engine looks for it
    /// (nothing was created).
    SourceMissing {
        /// The engine's message.
        message: String,
    },
}

/// The Docker engine as tierctl needs it. Implemented by [`docker::DockerEngine`]; tests may
/// implement it with plain data.
pub trait Engine {
    /// `docker info`.
    fn info(&self) -> Result<EngineInfo, EngineError>;

    /// Run a short-lived helper container from `image` that binds `source` read-only at
    /// `target` (mount API: a missing source is refused, never created), with no network and
    /// no capability but `DAC_READ_SEARCH` (to look into directories of other owners), runs
    /// `command`, and is removed afterwards.
    fn run_helper(
        &self,
        image: &str,
        source: &Path,
        target: &str,
        command: &[String],
    ) -> Result<HelperOutput, EngineError>;
}

/// Why the engine could not be used.
#[derive(Debug, Error)]
pub enum EngineError {
    /// Nothing answers at the socket (dead daemon, stopped VM, missing socket file).
    #[error("cannot connect to the Docker engine of context `{context}` at `{host}`: {reason}")]
    Unreachable {
        /// The context name.
        context: String,
        /// The host URL.
        host: String,
        /// What the OS said.
        reason: String,
    },
    /// The socket exists but this user may not use it.
    #[error("permission denied on the Docker socket `{}` (context `{context}`)", socket.display())]
    PermissionDenied {
        /// The context name.
        context: String,
        /// The socket.
        socket: PathBuf,
    },
    /// A remote endpoint (ssh, tcp, TLS) could not be used: refused, timed out, an unknown
    /// host key, a wrong CA, ...
    #[error(
        "cannot connect to the Docker engine of context `{context}` at `{host}`: {problem}{detail}"
    )]
    Connect {
        /// The context name.
        context: String,
        /// The host URL.
        host: String,
        /// What went wrong.
        problem: connect::ConnectProblem,
        /// What ssh or the TLS library said (` (ssh: ...)`, `: ...`), or empty.
        detail: String,
    },
    /// The endpoint's scheme cannot be used (npipe, fd).
    #[error(
        "cannot connect to `{host}` (context `{context}`): {scheme} endpoints are not supported"
    )]
    Unsupported {
        /// The context name.
        context: String,
        /// The host URL.
        host: String,
        /// The scheme.
        scheme: String,
    },
    /// The helper image is not on the engine.
    #[error("helper image `{image}` not found on the Docker engine (context `{context}`)")]
    ImageMissing {
        /// The context name.
        context: String,
        /// The image.
        image: String,
    },
    /// The engine answered with an error.
    #[error("the Docker engine of context `{context}` refused `{action}`: {message}")]
    Api {
        /// The context name.
        context: String,
        /// What was asked.
        action: String,
        /// The engine's message.
        message: String,
    },
    /// The async runtime could not be started.
    #[error("cannot start the runtime for the Docker client: {0}")]
    Runtime(std::io::Error),
}

impl EngineError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            EngineError::Unreachable { context, .. } => format!(
                "start the engine (`colima start`, Docker Desktop, `sudo systemctl start docker`), or pick another with `--context`/`-H`/`DOCKER_HOST` (now: context `{context}`); `--offline` skips every engine call"
            ),
            EngineError::PermissionDenied { socket, .. } => format!(
                "add yourself to the socket's group (`sudo usermod -aG docker $USER`, then log in again) or check the mode of `{}`",
                socket.display()
            ),
            EngineError::Connect { host, problem, .. } => problem.hint(host),
            EngineError::Unsupported { .. } => {
                "npipe:// is for Windows and fd:// only for dockerd itself: use unix://, tcp:// (TLS) or ssh://".into()
            }
            EngineError::ImageMissing { image, .. } => format!(
                "pull it (`docker pull {image}`), or name a local image with a shell and busybox `stat` via `--helper-image` or TIERCTL_HELPER_IMAGE"
            ),
            EngineError::Api { .. } => "check the engine's log; `docker info` shows its state".into(),
            EngineError::Runtime(_) => "check the process limits (threads, file descriptors)".into(),
        }
    }
}
