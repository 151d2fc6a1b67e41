//! [`Containers`] over bollard: list, inspect, exec, stop, remove, and the long-running
//! container the tests create.

use std::collections::HashMap;

use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType as BollardMountType};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, StopContainerOptions,
};
use futures_util::StreamExt;

use super::DockerEngine;
use crate::engine::container::{
    ContainerInfo, ContainerMount, ContainerSpec, ContainerState, ExecOutput, MountType, Selector,
    labels,
};
use crate::engine::helper::{HELPER_LABEL, JOURNAL_LABEL};
use crate::engine::{Containers, EngineError};

impl DockerEngine {
    async fn exec_async(
        &self,
        container: &str,
        command: &[String],
    ) -> Result<ExecOutput, EngineError> {
        let api = |e: &BollardError, action: &str| self.classify(e, action);
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(command.to_vec()),
                    user: Some("0".to_owned()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| api(&e, "exec"))?;
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let StartExecResults::Attached { mut output, .. } = self
            .docker
            .start_exec(&created.id, None)
            .await
            .map_err(|e| api(&e, "exec"))?
        {
            while let Some(chunk) = output.next().await {
                match chunk.map_err(|e| api(&e, "read exec output"))? {
                    bollard::container::LogOutput::StdErr { message } => {
                        stderr.push_str(&String::from_utf8_lossy(&message));
                    }
                    other => stdout.push_str(&String::from_utf8_lossy(&other.into_bytes())),
                }
            }
        }
        let inspected = self
            .docker
            .inspect_exec(&created.id)
            .await
            .map_err(|e| api(&e, "inspect exec"))?;
        Ok(ExecOutput {
            exit_code: inspected.exit_code,
            stdout,
            stderr,
        })
    }

    async fn create_named(
        &self,
        body: ContainerCreateBody,
        name: String,
        image: &str,
    ) -> Result<String, EngineError> {
        let options = CreateContainerOptions {
            name: Some(name),
            ..Default::default()
        };
        match self.docker.create_container(Some(options), body).await {
            Ok(created) => Ok(created.id),
            Err(BollardError::DockerResponseServerError {
                status_code: 404,
                message,
            }) if message.contains("image") => Err(EngineError::ImageMissing {
                context: self.context.clone(),
                image: image.to_owned(),
            }),
            Err(e) => Err(self.classify(&e, "create container")),
        }
    }

    async fn inspect_async(&self, container: &str) -> Result<Option<ContainerInfo>, EngineError> {
        let inspected = match self.docker.inspect_container(container, None).await {
            Ok(inspected) => inspected,
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(None),
            Err(e) => return Err(self.classify(&e, "inspect container")),
        };
        let config = inspected.config.unwrap_or_default();
        let state = inspected.state.unwrap_or_default();
        let running = state.running.unwrap_or(false);
        let mounts = inspected
            .mounts
            .unwrap_or_default()
            .into_iter()
            .map(|m| ContainerMount {
                kind: match m.typ.as_deref() {
                    Some("bind") => MountType::Bind,
                    Some("volume") => MountType::Volume,
                    Some("tmpfs") => MountType::Tmpfs,
                    other => MountType::Other(other.unwrap_or_default().to_owned()),
                },
                name: m.name.filter(|n| !n.is_empty()),
                source: m.source.unwrap_or_default(),
                target: m.destination.unwrap_or_default(),
                read_write: m.rw.unwrap_or(true),
            })
            .collect();
        Ok(Some(ContainerInfo {
            id: inspected.id.unwrap_or_default(),
            name: inspected
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            image: config.image.unwrap_or_default(),
            running,
            labels: config.labels.unwrap_or_default().into_iter().collect(),
            mounts,
            exit_code: state.exit_code.filter(|_| !running),
            oom_killed: state.oom_killed.unwrap_or(false),
            pid: state
                .pid
                .filter(|_| running)
                .and_then(|p| u32::try_from(p).ok())
                .filter(|p| *p > 0),
            stop_signal: config.stop_signal.filter(|s| !s.is_empty()),
            init: inspected
                .host_config
                .as_ref()
                .and_then(|h| h.init)
                .unwrap_or(false),
        }))
    }
}

impl Containers for DockerEngine {
    fn list(&self, selector: &Selector) -> Result<Vec<ContainerState>, EngineError> {
        let filter = match selector {
            Selector::Project(name) => ("label", format!("{}={name}", labels::PROJECT)),
            Selector::Volume(name) => ("volume", name.clone()),
            Selector::Journal(id) => ("label", format!("{JOURNAL_LABEL}={id}")),
            Selector::Helpers => ("label", HELPER_LABEL.to_owned()),
            Selector::SwarmService(name) => (
                "label",
                format!("{}={name}", crate::engine::SWARM_SERVICE_LABEL),
            ),
        };
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(filter.0.to_owned(), vec![filter.1])])),
            ..Default::default()
        };
        let found = self
            .runtime
            .block_on(self.docker.list_containers(Some(options)))
            .map_err(|e| self.classify(&e, "list containers"))?;
        Ok(found
            .into_iter()
            .map(|c| {
                let tags = c.labels.unwrap_or_default();
                ContainerState {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .unwrap_or_default()
                        .first()
                        .map(|n| n.trim_start_matches('/').to_owned())
                        .unwrap_or_default(),
                    project: tags.get(labels::PROJECT).cloned(),
                    service: tags.get(labels::SERVICE).cloned(),
                    compose_version: tags.get(labels::VERSION).cloned(),
                    oneoff: tags.get(labels::ONEOFF).is_some_and(|v| v == "True"),
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

    fn running_with_labels(&self, wanted: &[(&str, &str)]) -> Result<Vec<String>, EngineError> {
        let filters: HashMap<String, Vec<String>> = if wanted.is_empty() {
            HashMap::new()
        } else {
            [(
                "label".to_owned(),
                wanted.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            )]
            .into()
        };
        let options = ListContainersOptions {
            all: false,
            filters: Some(filters),
            ..Default::default()
        };
        let listed = self
            .runtime
            .block_on(self.docker.list_containers(Some(options)))
            .map_err(|e| self.classify(&e, "list containers"))?;
        Ok(listed.into_iter().filter_map(|c| c.id).collect())
    }

    fn inspect(&self, container: &str) -> Result<Option<ContainerInfo>, EngineError> {
        self.runtime.block_on(self.inspect_async(container))
    }

    fn exec(&self, container: &str, command: &[String]) -> Result<ExecOutput, EngineError> {
        self.runtime.block_on(self.exec_async(container, command))
    }

    fn stop(&self, containers: &[(&str, u32)]) -> Result<(), EngineError> {
        let stops = containers.iter().map(|&(id, grace_secs)| async move {
            let options = StopContainerOptions {
                t: Some(i32::try_from(grace_secs).unwrap_or(i32::MAX)),
                ..Default::default()
            };
            // the engine answers only after the grace period: the client must wait longer
            let client_timeout = self
                .docker()
                .timeout()
                .max(std::time::Duration::from_secs(u64::from(grace_secs) + 30));
            let docker = self.docker.clone().with_timeout(client_timeout);
            match docker.stop_container(id, Some(options)).await {
                Ok(()) => Ok(()),
                // already stopped
                Err(BollardError::DockerResponseServerError {
                    status_code: 304, ..
                }) => Ok(()),
                Err(e) => Err(self.classify(&e, &format!("stop container `{id}`"))),
            }
        });
        // all at once: each waits out its own grace period, not the sum of them
        let results = self
            .runtime()
            .block_on(futures_util::future::join_all(stops));
        results.into_iter().collect()
    }

    fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.runtime.block_on(self.force_remove(id))
    }
}

impl DockerEngine {
    /// Create and start a long-running container (the tests' compose-labelled `sleep`): not
    /// part of the [`Containers`] trait, which holds only what tierctl itself asks of an
    /// engine; its id.
    pub fn create_running(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        let mount = |typ: BollardMountType, source: &str, target: &str| Mount {
            target: Some(target.to_owned()),
            source: Some(source.to_owned()),
            typ: Some(typ),
            ..Default::default()
        };
        let mounts = spec
            .binds
            .iter()
            .map(|(s, t)| mount(BollardMountType::BIND, s, t))
            .chain(
                spec.volumes
                    .iter()
                    .map(|(s, t)| mount(BollardMountType::VOLUME, s, t)),
            )
            .collect();
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: Some(spec.command.clone()),
            entrypoint: Some(Vec::new()),
            labels: Some(spec.labels.clone().into_iter().collect()),
            host_config: Some(HostConfig {
                mounts: Some(mounts),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.runtime.block_on(async {
            let id = self
                .create_named(body, spec.name.clone(), &spec.image)
                .await?;
            if let Err(e) = self.docker.start_container(&id, None).await {
                let _ = self.force_remove(&id).await;
                return Err(self.classify(&e, "start container"));
            }
            Ok(id)
        })
    }
}
