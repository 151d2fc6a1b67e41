//! Containers as data: compose labels, what inspect and list say, what an exec printed, and the
//! long-running container the tests create. The effects are [`super::Containers`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Compose's label keys (the same for compose v1 and v2).
pub mod labels {
    /// The project name.
    pub const PROJECT: &str = "com.docker.compose.project";
    /// The service name.
    pub const SERVICE: &str = "com.docker.compose.service";
    /// The replica number.
    pub const NUMBER: &str = "com.docker.compose.container-number";
    /// `True` for `docker compose run` containers.
    pub const ONEOFF: &str = "com.docker.compose.oneoff";
    /// The version of the compose CLI that created the container (`1.29.2`, `2.40.3`).
    pub const VERSION: &str = "com.docker.compose.version";
}

/// What a mount is, as container inspect says (`Type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountType {
    /// A host path.
    Bind,
    /// A named or anonymous volume.
    Volume,
    /// A tmpfs.
    Tmpfs,
    /// Anything else (`npipe`, `cluster`, `image`).
    Other(String),
}

/// One mount of a container (container inspect `Mounts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerMount {
    /// Bind, volume, tmpfs.
    pub kind: MountType,
    /// The volume name (volumes only).
    pub name: Option<String>,
    /// The host path (binds) or the volume's directory on the engine's host.
    pub source: String,
    /// The path inside the container.
    pub target: String,
    /// Whether the mount is writable.
    pub read_write: bool,
}

/// A container as inspect describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The full id.
    pub id: String,
    /// The name, without the leading `/`.
    pub name: String,
    /// The image as the container was created from it.
    pub image: String,
    /// Whether it runs.
    pub running: bool,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its mounts, in inspect order.
    pub mounts: Vec<ContainerMount>,
    /// Its last exit code (`None` while it runs or when it never ran).
    pub exit_code: Option<i64>,
    /// The kernel killed it for memory.
    pub oom_killed: bool,
    /// Its main process's pid on the engine's host (`State.Pid`; `None` when it does not run).
    pub pid: Option<u32>,
    /// The signal `docker stop` sends it (`Config.StopSignal`: `SIGINT`, `3`; `None`: SIGTERM).
    pub stop_signal: Option<String>,
    /// Whether docker-init runs as its PID 1 (`HostConfig.Init`, compose `init: true`).
    pub init: bool,
}

impl ContainerInfo {
    /// The compose service label, when it has one.
    pub fn service(&self) -> Option<&str> {
        self.labels.get(labels::SERVICE).map(String::as_str)
    }

    /// Whether it is a `docker compose run` container.
    pub fn is_oneoff(&self) -> bool {
        self.labels
            .get(labels::ONEOFF)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// What a command run in a container printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit code (`None` when the engine did not say).
    pub exit_code: Option<i64>,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// A long-running container to create (tests and examples: a compose-labelled `sleep`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// The container name.
    pub name: String,
    /// The image.
    pub image: String,
    /// The command (replaces the image's entrypoint and command).
    pub command: Vec<String>,
    /// Labels (e.g. the compose labels).
    pub labels: BTreeMap<String, String>,
    /// Bind mounts: host path -> target (the host path must exist).
    pub binds: Vec<(String, String)>,
    /// Volume mounts: volume name -> target (created when missing).
    pub volumes: Vec<(String, String)>,
}

/// A container as a list shows it: of a compose project, one that mounts a volume, or a helper
/// of a journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    /// The id.
    pub id: String,
    /// The name, without the leading `/`.
    pub name: String,
    /// `com.docker.compose.project`.
    pub project: Option<String>,
    /// `com.docker.compose.service`.
    pub service: Option<String>,
    /// Whether it runs.
    pub running: bool,
    /// Its mounts: (source: volume name or host path, destination).
    pub mounts: Vec<(String, String)>,
    /// `com.docker.compose.version`: the compose CLI that created it.
    #[serde(default)]
    pub compose_version: Option<String>,
    /// `com.docker.compose.oneoff` is `True`: made by `docker compose run`, which `compose up`
    /// never starts again.
    #[serde(default)]
    pub oneoff: bool,
}

/// Which containers to list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// Every container of a compose project.
    Project(String),
    /// Every container that mounts a volume.
    Volume(String),
    /// Every helper container of a journal.
    Journal(String),
    /// Every helper container, of any run (the helper label).
    Helpers,
    /// Every container of a Swarm service (its tasks' containers on this node).
    SwarmService(String),
}

/// The label Swarm puts on a task's container: its service's name.
pub const SWARM_SERVICE_LABEL: &str = "com.docker.swarm.service.name";
