//! [`Helpers`] over bollard: every helper is created from [`helper::create_body`], run to its end
//! (or never started, for archive reads and seeding) and removed.

use std::path::{Path, PathBuf};

use bollard::errors::Error as BollardError;
use bollard::query_parameters::{
    CreateContainerOptions, LogsOptions, RemoveContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;

use super::DockerEngine;
use crate::engine::helper::{self, HelperSpec, MountSource};
use crate::engine::{ArchiveReader, EngineError, HelperOutput, Helpers};

/// Why a helper was not created: the engine's error, or a bind source it does not have.
enum NotCreated {
    SourceMissing(String),
    Failed(EngineError),
}

impl DockerEngine {
    /// Create the hardened helper (not started); `memory_backed`: see [`helper::create_body`].
    async fn create_helper(
        &self,
        spec: &HelperSpec,
        memory_backed: u64,
    ) -> Result<String, NotCreated> {
        let options = CreateContainerOptions {
            name: Some(helper::helper_name(&spec.purpose)),
            ..Default::default()
        };
        let body = helper::create_body(spec, memory_backed);
        match self.docker().create_container(Some(options), body).await {
            Ok(created) => Ok(created.id),
            Err(BollardError::DockerResponseServerError {
                status_code: 404,
                message,
            }) if message.contains("image") => Err(NotCreated::Failed(EngineError::ImageMissing {
                context: self.context().to_owned(),
                image: spec.image.clone(),
            })),
            Err(BollardError::DockerResponseServerError {
                status_code: 400,
                message,
            }) if message.contains("does not exist") => Err(NotCreated::SourceMissing(message)),
            Err(e) => Err(NotCreated::Failed(
                self.classify(&e, &format!("create {} helper", spec.purpose)),
            )),
        }
    }

    /// Create a helper that is never started (archive reads, seeding): a missing source is an
    /// error here.
    pub(super) async fn create_unstarted(&self, spec: &HelperSpec) -> Result<String, EngineError> {
        // never started: the engine writes what is put into its mounts, not the helper
        match self.create_helper(spec, 0).await {
            Ok(id) => Ok(id),
            Err(NotCreated::Failed(e)) => Err(e),
            Err(NotCreated::SourceMissing(message)) => Err(EngineError::Api {
                context: self.context().to_owned(),
                action: format!("create {} helper", spec.purpose),
                message,
            }),
        }
    }

    pub(super) async fn force_remove(&self, id: &str) -> Result<(), EngineError> {
        self.docker()
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| self.classify(&e, "remove container"))
    }

    async fn run_helper_async(
        &self,
        spec: &HelperSpec,
        memory_backed: u64,
    ) -> Result<HelperOutput, EngineError> {
        let id = match self.create_helper(spec, memory_backed).await {
            Ok(id) => id,
            Err(NotCreated::SourceMissing(message)) => {
                return Ok(HelperOutput::SourceMissing { message });
            }
            Err(NotCreated::Failed(e)) => return Err(e),
        };
        let result = self.run_created(&id, spec, memory_backed).await;
        let removed = self.force_remove(&id).await;
        let output = result?;
        removed?;
        Ok(output)
    }

    /// Start a created helper, wait for its end, and read its output.
    async fn run_created(
        &self,
        id: &str,
        spec: &HelperSpec,
        memory_backed: u64,
    ) -> Result<HelperOutput, EngineError> {
        match self.docker().start_container(id, None).await {
            Ok(()) => {}
            Err(BollardError::DockerResponseServerError { message, .. })
                if message.contains("no such file or directory") && message.contains("mount") =>
            {
                return Ok(HelperOutput::SourceMissing { message });
            }
            Err(e) => return Err(self.classify(&e, "start helper container")),
        }
        let failed = self.wait_for_end(id).await?;
        let (stdout, stderr) = self.logs(id).await?;
        if failed.is_some() && self.oom_killed(id).await {
            return Err(EngineError::OutOfMemory {
                context: self.context().to_owned(),
                purpose: spec.purpose.clone(),
                limit_mib: helper::memory_limit(memory_backed) / (1024 * 1024),
            });
        }
        match failed {
            Some(reason) => Err(EngineError::Api {
                context: self.context().to_owned(),
                action: "run helper container".into(),
                message: format!("{reason}{}", with(stderr.trim())),
            }),
            None => Ok(HelperOutput::Ran(stdout)),
        }
    }

    /// Whether the engine says the stopped container was killed by its memory cgroup (a failed
    /// inspect: not known, so not said).
    async fn oom_killed(&self, id: &str) -> bool {
        self.docker()
            .inspect_container(id, None)
            .await
            .ok()
            .and_then(|inspected| inspected.state)
            .and_then(|state| state.oom_killed)
            .unwrap_or(false)
    }

    /// The bytes of the memory-backed filesystems (`tmpfs`) among `spec`'s writable bind mounts,
    /// when this host's paths are the engine's (a native engine); else 0. What the helper
    /// writes there is charged to its memory cgroup ([`helper::memory_limit`]).
    fn memory_backed(&self, spec: &HelperSpec) -> u64 {
        let bytes = spec
            .mounts
            .iter()
            .filter(|m| !m.read_only)
            .filter_map(|m| match &m.source {
                MountSource::Bind(path) => crate::fsx::memory_backed_size(path),
                MountSource::Volume(_) => None,
            })
            .fold(0u64, u64::saturating_add);
        if bytes > 0 && self.is_native().unwrap_or(false) {
            bytes
        } else {
            0
        }
    }

    /// Wait until the container stops; why it failed, when it did.
    async fn wait_for_end(&self, id: &str) -> Result<Option<String>, EngineError> {
        let mut wait = self.docker().wait_container(
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
                Err(e) => return Err(self.classify(&e, "wait for helper container")),
            }
        }
        Ok(failed)
    }

    /// A stopped container's stdout and stderr.
    async fn logs(&self, id: &str) -> Result<(String, String), EngineError> {
        let mut logs = self.docker().logs(
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
            match chunk.map_err(|e| self.classify(&e, "read helper output"))? {
                bollard::container::LogOutput::StdErr { message } => {
                    stderr.push_str(&String::from_utf8_lossy(&message));
                }
                other => stdout.push_str(&String::from_utf8_lossy(&other.into_bytes())),
            }
        }
        Ok((stdout, stderr))
    }
}

impl Helpers for DockerEngine {
    fn run_helper(&self, spec: &HelperSpec) -> Result<HelperOutput, EngineError> {
        let memory_backed = self.memory_backed(spec);
        self.runtime()
            .block_on(self.run_helper_async(spec, memory_backed))
    }

    fn read_archives(
        &self,
        spec: &HelperSpec,
        paths: &[&str],
        read: ArchiveReader<'_>,
    ) -> Result<(), EngineError> {
        let id = self.runtime().block_on(self.create_unstarted(spec))?;
        // not started: the archive endpoint reads a stopped container's mounts
        let result = self.stream_archives(&id, paths, read);
        let removed = self.runtime().block_on(self.force_remove(&id));
        result?;
        removed
    }

    fn populate(&self, spec: &HelperSpec) -> Result<(), EngineError> {
        self.runtime().block_on(async {
            let id = self.create_unstarted(spec).await?;
            self.force_remove(&id).await
        })
    }

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
}

/// Whether the host can list `path` (a directory it may read).
fn listable(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) && std::fs::read_dir(path).is_ok()
}

fn with(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}
