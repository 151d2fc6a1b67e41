//! Helper containers as `migrate` needs them: helper containers with several mounts and a chosen set of
//! capabilities, archive streams read into manifests, project containers stopped by compose
//! labels, volumes inspected and removed.
//!
//! [`ContainerSpec`] is plain data (built by the pure `copy` module); [`Containers`] is the
//! effect, implemented for [`DockerEngine`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptions, DownloadFromContainerOptions, ListContainersOptions,
    RemoveContainerOptions, RemoveVolumeOptions, StopContainerOptions,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::EngineError;
use super::docker::{DockerEngine, HELPER_LABEL};
use super::endpoint::{self, EngineGuess};
use crate::manifest::{self, Manifest};

/// The compose label naming a container's project.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";
/// The compose label naming a container's service.
pub const SERVICE_LABEL: &str = "com.docker.compose.service";
/// The label naming the migration journal a helper container belongs to.
pub const JOURNAL_LABEL: &str = "io.tierctl.journal";

/// What a helper container mounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "name", rename_all = "kebab-case")]
pub enum MountSource {
    /// A named volume (it must exist: mounting a missing name would create it).
    Volume(String),
    /// A host directory (the engine refuses a missing one).
    Bind(PathBuf),
}

/// One mount of a helper container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountSpec {
    /// What is mounted.
    pub source: MountSource,
    /// Where, in the container.
    pub target: String,
    /// Read-only.
    pub read_only: bool,
}

/// A helper container: always no network, every capability dropped but `cap_add`,
/// `no-new-privileges`, a read-only root filesystem, removed afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerSpec {
    /// The image.
    pub image: String,
    /// The command (the image's entrypoint is cleared).
    pub command: Vec<String>,
    /// The mounts.
    pub mounts: Vec<MountSpec>,
    /// Capabilities added back after dropping all.
    pub cap_add: Vec<String>,
    /// The helper's purpose (`copy`, `verify`, `wipe`), as the value of the helper label.
    pub purpose: String,
    /// The journal the helper belongs to, as a label (so a resumed run finds leftovers).
    pub journal: Option<String>,
}

/// A container of a compose project, or one that mounts a volume.
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
}

/// The engine calls `migrate` makes.
pub trait Containers {
    /// Whether a named volume exists (inspected; never created).
    fn volume_exists(&self, name: &str) -> Result<bool, EngineError>;
    /// Remove a named volume.
    fn remove_volume(&self, name: &str) -> Result<(), EngineError>;
    /// Run a helper container to its end; its stdout, or an error with its exit code and stderr.
    fn run(&self, spec: &ContainerSpec) -> Result<String, EngineError>;
    /// Create a helper container (never started) and read a manifest of each of `paths` inside
    /// it from the engine's archive stream, all at once; `hashed` grows by content bytes read.
    fn manifests(
        &self,
        spec: &ContainerSpec,
        paths: &[&str],
        hashed: &AtomicU64,
    ) -> Result<Vec<Manifest>, EngineError>;
    /// Where the host itself reads `source` as the engine sees it, when it can: on a native
    /// engine, a bind source or a volume's mountpoint that exists and can be listed on the host.
    /// `None`: read it through the engine's archive stream (a VM engine, a remote one, or a
    /// mountpoint the host cannot read). The default never reads on the host.
    fn host_path(&self, source: &MountSource) -> Result<Option<PathBuf>, EngineError> {
        let _ = source;
        Ok(None)
    }
    /// Create a container from `spec` and remove it without starting it: the engine fills an
    /// empty named volume from the image's content at its mount path when it creates one.
    fn populate(&self, spec: &ContainerSpec) -> Result<(), EngineError>;
    /// Containers, running or not.
    fn list(&self, selector: &Selector) -> Result<Vec<ContainerState>, EngineError>;
    /// Stop a container, giving it `grace_secs` before it is killed.
    fn stop(&self, id: &str, grace_secs: u32) -> Result<(), EngineError>;
    /// Remove a container, running or not.
    fn remove(&self, id: &str) -> Result<(), EngineError>;
}

fn body(spec: &ContainerSpec) -> ContainerCreateBody {
    let mut labels = HashMap::from([(HELPER_LABEL.to_owned(), spec.purpose.clone())]);
    if let Some(journal) = &spec.journal {
        labels.insert(JOURNAL_LABEL.to_owned(), journal.clone());
    }
    let mounts = spec
        .mounts
        .iter()
        .map(|m| {
            let (typ, source) = match &m.source {
                MountSource::Volume(name) => (MountType::VOLUME, name.clone()),
                MountSource::Bind(path) => (MountType::BIND, path.to_string_lossy().into_owned()),
            };
            Mount {
                target: Some(m.target.clone()),
                source: Some(source),
                typ: Some(typ),
                read_only: Some(m.read_only),
                ..Default::default()
            }
        })
        .collect();
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: Some(spec.command.clone()),
        entrypoint: Some(Vec::new()),
        user: Some("0:0".into()),
        network_disabled: Some(true),
        labels: Some(labels),
        host_config: Some(HostConfig {
            mounts: Some(mounts),
            network_mode: Some("none".into()),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(spec.cap_add.clone()),
            security_opt: Some(vec!["no-new-privileges".into()]),
            readonly_rootfs: Some(true),
            privileged: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl DockerEngine {
    async fn create(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        let options = CreateContainerOptions {
            name: Some(super::docker::helper_name(&spec.purpose)),
            ..Default::default()
        };
        match self
            .docker()
            .create_container(Some(options), body(spec))
            .await
        {
            Ok(created) => Ok(created.id),
            Err(BollardError::DockerResponseServerError {
                status_code: 404,
                message,
            }) if message.contains("image") => Err(EngineError::ImageMissing {
                context: self.context().to_owned(),
                image: spec.image.clone(),
            }),
            Err(e) => Err(self.classify(&e, &format!("create {} helper", spec.purpose))),
        }
    }

    async fn force_remove(&self, id: &str) -> Result<(), EngineError> {
        self.docker()
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| self.classify(&e, "remove helper container"))
    }

    fn archive_manifests(
        &self,
        id: &str,
        paths: &[&str],
        hashed: &AtomicU64,
    ) -> Result<Vec<Manifest>, EngineError> {
        std::thread::scope(|scope| {
            let mut senders = Vec::new();
            let mut readers = Vec::new();
            for path in paths {
                let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(64);
                senders.push((path, tx));
                readers.push(scope.spawn(move || {
                    manifest::from_tar(
                        ChannelReader {
                            rx,
                            buf: bytes::Bytes::new(),
                        },
                        hashed,
                    )
                }));
            }
            let streams = senders.into_iter().map(|(path, tx)| async move {
                let mut stream = self.docker().download_from_container(
                    id,
                    Some(DownloadFromContainerOptions {
                        path: (*path).to_owned(),
                    }),
                );
                while let Some(chunk) = stream.next().await {
                    let chunk =
                        chunk.map_err(|e| self.classify(&e, &format!("archive `{path}`")))?;
                    if tx.send(chunk).await.is_err() {
                        // the reader stopped early; its error is reported below
                        break;
                    }
                }
                Ok::<(), EngineError>(())
            });
            let streamed = self
                .runtime()
                .block_on(futures_util::future::join_all(streams));
            let mut out = Vec::new();
            for (index, reader) in readers.into_iter().enumerate() {
                let read = reader.join().map_err(|_| EngineError::Api {
                    context: self.context().to_owned(),
                    action: format!("read archive `{}`", paths[index]),
                    message: "the manifest reader panicked".into(),
                })?;
                if let Some(Err(e)) = streamed.get(index) {
                    return Err(clone_error(e));
                }
                out.push(read.map_err(|e| EngineError::Api {
                    context: self.context().to_owned(),
                    action: format!("read archive `{}`", paths[index]),
                    message: e.to_string(),
                })?);
            }
            Ok(out)
        })
    }
}

/// `EngineError` is not `Clone`; rebuild the one variant a stream yields.
fn clone_error(error: &EngineError) -> EngineError {
    match error {
        EngineError::Api {
            context,
            action,
            message,
        } => EngineError::Api {
            context: context.clone(),
            action: action.clone(),
            message: message.clone(),
        },
        other => EngineError::Api {
            context: String::new(),
            action: "archive".into(),
            message: other.to_string(),
        },
    }
}

/// A blocking reader over chunks sent from the runtime.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    buf: bytes::Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.buf = chunk,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

impl DockerEngine {
    /// A named volume's `Mountpoint` as the engine reports it (a path on the engine's own
    /// filesystem: on a VM engine, inside the VM); `None` when the volume does not exist.
    pub fn volume_mountpoint(&self, name: &str) -> Result<Option<PathBuf>, EngineError> {
        match self.runtime().block_on(self.docker().inspect_volume(name)) {
            Ok(volume) => Ok(Some(PathBuf::from(volume.mountpoint))),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(self.classify(&e, &format!("inspect volume `{name}`"))),
        }
    }

    /// Whether the engine runs natively on this host (so it sees host paths as they are),
    /// identified as `tierctl vm` does: the endpoint, refined by `docker info`.
    pub fn is_native(&self) -> Result<bool, EngineError> {
        let info = super::Engine::info(self)?;
        let guess = endpoint::refine(
            endpoint::identify(&self.endpoint()),
            &info.operating_system,
            &info.name,
        );
        Ok(guess == EngineGuess::Native)
    }
}

/// Whether the host can list `path` (a directory it may read).
fn listable(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) && std::fs::read_dir(path).is_ok()
}

impl Containers for DockerEngine {
    fn host_path(&self, source: &MountSource) -> Result<Option<PathBuf>, EngineError> {
        if !self.is_native()? {
            return Ok(None);
        }
        let path = match source {
            MountSource::Bind(path) => Some(path.clone()),
            MountSource::Volume(name) => self.volume_mountpoint(name)?,
        };
        Ok(path.filter(|p| listable(p)))
    }

    fn volume_exists(&self, name: &str) -> Result<bool, EngineError> {
        match self.runtime().block_on(self.docker().inspect_volume(name)) {
            Ok(_) => Ok(true),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(self.classify(&e, &format!("inspect volume `{name}`"))),
        }
    }

    fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        self.runtime()
            .block_on(
                self.docker()
                    .remove_volume(name, Some(RemoveVolumeOptions { force: false })),
            )
            .map_err(|e| self.classify(&e, &format!("remove volume `{name}`")))
    }

    fn run(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        self.runtime().block_on(async {
            let id = self.create(spec).await?;
            let result = self.run_created(&id).await;
            let removed = self.force_remove(&id).await;
            let output = match result? {
                super::HelperOutput::Ran(stdout) => stdout,
                super::HelperOutput::SourceMissing { message } => {
                    return Err(EngineError::Api {
                        context: self.context().to_owned(),
                        action: format!("start {} helper", spec.purpose),
                        message,
                    });
                }
            };
            removed?;
            Ok(output)
        })
    }

    fn manifests(
        &self,
        spec: &ContainerSpec,
        paths: &[&str],
        hashed: &AtomicU64,
    ) -> Result<Vec<Manifest>, EngineError> {
        let id = self.runtime().block_on(self.create(spec))?;
        // not started: the archive endpoint reads a stopped container's mounts
        let result = self.archive_manifests(&id, paths, hashed);
        let removed = self.runtime().block_on(self.force_remove(&id));
        let out = result?;
        removed?;
        Ok(out)
    }

    fn populate(&self, spec: &ContainerSpec) -> Result<(), EngineError> {
        self.runtime().block_on(async {
            let id = self.create(spec).await?;
            self.force_remove(&id).await
        })
    }

    fn list(&self, selector: &Selector) -> Result<Vec<ContainerState>, EngineError> {
        let filter = match selector {
            Selector::Project(name) => ("label", format!("{PROJECT_LABEL}={name}")),
            Selector::Volume(name) => ("volume", name.clone()),
            Selector::Journal(id) => ("label", format!("{JOURNAL_LABEL}={id}")),
        };
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(filter.0.to_owned(), vec![filter.1])])),
            ..Default::default()
        };
        let found = self
            .runtime()
            .block_on(self.docker().list_containers(Some(options)))
            .map_err(|e| self.classify(&e, "list containers"))?;
        Ok(found
            .into_iter()
            .map(|c| {
                let labels = c.labels.unwrap_or_default();
                ContainerState {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .unwrap_or_default()
                        .first()
                        .map(|n| n.trim_start_matches('/').to_owned())
                        .unwrap_or_default(),
                    project: labels.get(PROJECT_LABEL).cloned(),
                    service: labels.get(SERVICE_LABEL).cloned(),
                    compose_version: labels.get(crate::compose_cli::VERSION_LABEL).cloned(),
                    running: matches!(
                        c.state,
                        Some(bollard::models::ContainerSummaryStateEnum::RUNNING)
                            | Some(bollard::models::ContainerSummaryStateEnum::RESTARTING)
                    ),
                    mounts: c
                        .mounts
                        .unwrap_or_default()
                        .into_iter()
                        .map(|m| {
                            let source = match m.name {
                                Some(name) if !name.is_empty() => name,
                                _ => m.source.unwrap_or_default(),
                            };
                            (source, m.destination.unwrap_or_default())
                        })
                        .collect(),
                }
            })
            .collect())
    }

    fn stop(&self, id: &str, grace_secs: u32) -> Result<(), EngineError> {
        let options = StopContainerOptions {
            t: Some(i32::try_from(grace_secs).unwrap_or(i32::MAX)),
            ..Default::default()
        };
        // the engine answers only after the grace period: the client must wait longer
        let client_timeout = self
            .docker()
            .timeout()
            .max(std::time::Duration::from_secs(u64::from(grace_secs) + 30));
        let docker = self.docker().clone().with_timeout(client_timeout);
        match self
            .runtime()
            .block_on(docker.stop_container(id, Some(options)))
        {
            Ok(()) => Ok(()),
            // already stopped
            Err(BollardError::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(self.classify(&e, &format!("stop container `{id}`"))),
        }
    }

    fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.runtime().block_on(self.force_remove(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_has_no_network_no_privileges_and_only_the_named_capabilities() {
        let spec = ContainerSpec {
            image: "busybox".into(),
            command: vec!["true".into()],
            mounts: vec![
                MountSpec {
                    source: MountSource::Volume("app_db".into()),
                    target: "/from".into(),
                    read_only: true,
                },
                MountSpec {
                    source: MountSource::Bind("/tiers/fast/db".into()),
                    target: "/to".into(),
                    read_only: false,
                },
            ],
            cap_add: vec!["CHOWN".into()],
            purpose: "copy".into(),
            journal: Some("j1".into()),
        };
        let body = body(&spec);
        let host = body.host_config.expect("host config is always set");
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(host.cap_add, Some(vec!["CHOWN".to_owned()]));
        assert_eq!(host.privileged, Some(false));
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges".to_owned()])
        );
        let mounts = host.mounts.expect("mounts are always set");
        assert_eq!(mounts[0].typ, Some(MountType::VOLUME));
        assert_eq!(mounts[0].read_only, Some(true));
        assert_eq!(mounts[1].source.as_deref(), Some("/tiers/fast/db"));
        let labels = body.labels.expect("labels are always set");
        assert_eq!(labels[JOURNAL_LABEL], "j1");
        assert_eq!(labels[HELPER_LABEL], "copy");
    }
}
