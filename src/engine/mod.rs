//! The Docker engine: endpoint resolution, the connection (bollard, behind the [`Engine`]
//! trait and its parts), the one hardened helper-container builder ([`helper`]), the bind probe
//! and what `verify` observes.
//!
//! bollard types and async code never leave this module: [`docker::DockerEngine`] owns a small
//! single-threaded runtime and every call blocks.

// pure: ssh and TLS texts in, a verdict out
#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod connect;
pub mod container;
pub mod docker;
pub mod endpoint;
pub mod helper;
pub mod host_fs;
#[cfg(test)]
pub mod no_helpers;
pub mod observe;
pub mod probe;
pub mod share_probe;
pub mod swarm;

use std::io::{self, Read};
use std::path::PathBuf;

pub use crate::facts::EngineInfo;
pub use container::{
    ContainerInfo, ContainerSpec, ContainerState, ExecOutput, SWARM_SERVICE_LABEL, Selector,
};
pub use helper::{Capability, HelperSpec, MountSource, MountSpec};

/// What reads one archive stream of [`Helpers::read_archives`]: the path's index and the tar.
pub type ArchiveReader<'a> = &'a (dyn Fn(usize, &mut dyn Read) -> io::Result<()> + Sync);

use thiserror::Error;

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

/// The Docker engine as tierctl needs it: one surface in three parts ([`Helpers`],
/// [`Containers`], [`Volumes`]) plus `docker info`. Implemented once, by
/// [`docker::DockerEngine`]; a function takes the narrowest part it needs, so tests may
/// implement a part with plain data.
pub trait Engine: Helpers + Containers + Volumes + Sync {
    /// `docker info`.
    fn info(&self) -> Result<EngineInfo, EngineError>;
}

/// Helper containers, all built by [`helper::HelperSpec`] (the hardening is fixed there).
pub trait Helpers {
    /// Run a helper container to its end and remove it: its stdout, or
    /// [`HelperOutput::SourceMissing`] when the engine refused a bind source it does not have
    /// (the mount API never creates one); a non-zero exit is an error with its stderr.
    fn run_helper(&self, spec: &HelperSpec) -> Result<HelperOutput, EngineError>;

    /// [`Helpers::run_helper`] for a helper whose mounts must be there (migrate's): its stdout,
    /// and a refused source is an error.
    fn run_to_end(&self, spec: &HelperSpec) -> Result<String, EngineError> {
        match self.run_helper(spec)? {
            HelperOutput::Ran(stdout) => Ok(stdout),
            HelperOutput::SourceMissing { message } => Err(EngineError::MountMissing {
                purpose: spec.purpose.clone(),
                message,
            }),
        }
    }

    /// Create a helper container (never started) and hand the engine's archive stream (tar) of
    /// each of `paths` inside it to `read` (with the path's index), all at once, each on its
    /// own thread; a reader's error names its path.
    fn read_archives(
        &self,
        spec: &HelperSpec,
        paths: &[&str],
        read: ArchiveReader<'_>,
    ) -> Result<(), EngineError>;

    /// Create a helper container and remove it without starting it: the engine fills an empty
    /// named volume from the image's content at its mount path when it creates one.
    fn populate(&self, spec: &HelperSpec) -> Result<(), EngineError>;

    /// Where the host itself reads `source` as the engine sees it, when it can: on a native
    /// engine, a bind source or a volume's mountpoint that exists and can be listed on the host.
    /// `None`: read it through the engine's archive stream (a VM engine, a remote one, or a
    /// mountpoint the host cannot read).
    fn host_path(&self, source: &MountSource) -> Result<Option<PathBuf>, EngineError>;
}

/// Writing a tar stream into a helper container's mount (the other half of
/// [`Helpers::read_archives`]: `migrate --to-context` streams one engine's archive into the
/// other's).
pub trait ArchiveWriter {
    /// Create a helper container (never started), have the engine extract `tar` at `path`
    /// inside it (a read-write mount of `spec`), and remove it. Owners are kept as numbers.
    fn write_archive(
        &self,
        spec: &HelperSpec,
        path: &str,
        tar: &mut dyn Read,
    ) -> Result<(), EngineError>;
}

/// The engine's containers: find, inspect, exec, stop, remove.
pub trait Containers {
    /// Containers, running or not, of a project, mounting a volume, or of a journal.
    fn list(&self, selector: &Selector) -> Result<Vec<ContainerState>, EngineError>;

    /// Ids of the running containers whose labels include every `key=value` given.
    fn running_with_labels(&self, labels: &[(&str, &str)]) -> Result<Vec<String>, EngineError>;

    /// Inspect a container by id or name; `None` when there is no such container.
    fn inspect(&self, container: &str) -> Result<Option<ContainerInfo>, EngineError>;

    /// Run `command` in the running container as root (no tty) and collect its output.
    fn exec(&self, container: &str, command: &[String]) -> Result<ExecOutput, EngineError>;

    /// Stop containers `(id, grace_secs)` all at once, each given its grace period before it is
    /// killed; the first error when one could not be stopped (the others are still stopped).
    fn stop(&self, containers: &[(&str, u32)]) -> Result<(), EngineError>;

    /// Remove a container (forced: a running one is killed).
    fn remove(&self, id: &str) -> Result<(), EngineError>;
}

/// The engine's named volumes.
pub trait Volumes {
    /// Whether a named volume exists (inspected; never created).
    fn volume_exists(&self, name: &str) -> Result<bool, EngineError>;

    /// Remove a named volume (refused while a container uses it).
    fn remove_volume(&self, name: &str) -> Result<(), EngineError>;

    /// The named volumes compose made for `project` (label `com.docker.compose.project`):
    /// each volume's engine name and its key in the compose file (`com.docker.compose.volume`).
    fn project_volumes(&self, project: &str) -> Result<Vec<(String, String)>, EngineError>;
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
    /// A helper's mount source is not on the engine (a removed volume, a missing directory).
    #[error("the {purpose} helper container could not mount its source: {message}")]
    MountMissing {
        /// The helper's purpose.
        purpose: String,
        /// The engine's message.
        message: String,
    },
    /// A helper was killed by its memory cgroup (issue 26 row 7: the engine said only
    /// "exit code 137").
    #[error(
        "the {purpose} helper container ran out of memory: the Docker engine of context `{context}` killed it at its {limit_mib} MiB limit"
    )]
    OutOfMemory {
        /// The context name.
        context: String,
        /// The helper's purpose.
        purpose: String,
        /// Its memory limit, in MiB.
        limit_mib: i64,
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
                "start the engine (`colima start`, Docker Desktop, `sudo systemctl start docker`) and run the command again (an interrupted `tierctl migrate` goes on with `--resume`), or pick another with `--context`/`-H`/`DOCKER_HOST` (now: context `{context}`); `--offline` skips every engine call"
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
            EngineError::MountMissing { .. } => {
                "check that the volume or directory still exists (`docker volume ls`); nothing was created".into()
            }
            EngineError::OutOfMemory { .. } => {
                "what a helper writes into a memory-backed filesystem (tmpfs) counts against its memory limit; on a native engine tierctl adds a tmpfs tier's size to it, on a VM or another machine's engine it cannot see the filesystem: put the tier on a disk-backed filesystem, or make room in the engine's memory, then run the command again (`tierctl migrate --resume` goes on where it stopped)".into()
            }
            EngineError::Runtime(_) => "check the process limits (threads, file descriptors)".into(),
        }
    }
}
