//! The engine gone (issue 21 item 6): [`Outage`] puts itself between the run and the fake
//! engine; once the engine is gone every call fails as a dead daemon's socket does, until it
//! is [`back`](Outage::back). It can go away while a helper runs ([`Outage::die_during`]): the
//! helper's work lands (a copy half or wholly written), its result never comes back.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tierctl::engine::container::{ContainerInfo, ContainerState, ExecOutput, Selector};
use tierctl::engine::{
    ArchiveReader, Containers, Engine, EngineError, EngineInfo, HelperOutput, HelperSpec, Helpers,
    MountSource, Volumes,
};

use super::engine::FakeEngine;

/// The fake engine behind a connection that can drop (see the module's text).
pub struct Outage {
    inner: Arc<FakeEngine>,
    gone: AtomicBool,
    /// The purpose of the helper during which the engine goes away.
    during: Mutex<Option<String>>,
}

impl Outage {
    /// `inner`, answering.
    pub fn new(inner: Arc<FakeEngine>) -> Outage {
        Outage {
            inner,
            gone: AtomicBool::new(false),
            during: Mutex::new(None),
        }
    }

    /// The engine goes away while the next helper of `purpose` (`copy`, `delta`) runs.
    pub fn die_during(&self, purpose: &str) {
        *self.during.lock().unwrap_or_else(|e| e.into_inner()) = Some(purpose.to_owned());
    }

    /// Whether the engine is gone.
    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }

    /// The engine answers again (restarted; its volumes and containers as they were).
    pub fn back(&self) {
        self.gone.store(false, Ordering::SeqCst);
    }

    fn up(&self) -> Result<(), EngineError> {
        match self.is_gone() {
            true => Err(EngineError::Unreachable {
                context: "fake".into(),
                host: "unix:///fake/docker.sock".into(),
                reason: "connection refused (the fake engine is gone)".into(),
            }),
            false => Ok(()),
        }
    }
}

impl Engine for Outage {
    fn info(&self) -> Result<EngineInfo, EngineError> {
        self.up()?;
        self.inner.info()
    }
}

impl Helpers for Outage {
    fn run_helper(&self, spec: &HelperSpec) -> Result<HelperOutput, EngineError> {
        self.up()?;
        let dies = {
            let mut during = self.during.lock().unwrap_or_else(|e| e.into_inner());
            let dies = during.as_deref() == Some(spec.purpose.as_str());
            if dies {
                *during = None;
            }
            dies
        };
        let ran = self.inner.run_helper(spec);
        if dies {
            self.gone.store(true, Ordering::SeqCst);
            return self.up().map(|()| HelperOutput::Ran(String::new()));
        }
        ran
    }

    fn read_archives(
        &self,
        spec: &HelperSpec,
        paths: &[&str],
        read: ArchiveReader<'_>,
    ) -> Result<(), EngineError> {
        self.up()?;
        self.inner.read_archives(spec, paths, read)
    }

    fn populate(&self, spec: &HelperSpec) -> Result<(), EngineError> {
        self.up()?;
        self.inner.populate(spec)
    }

    fn host_path(&self, source: &MountSource) -> Result<Option<PathBuf>, EngineError> {
        self.up()?;
        self.inner.host_path(source)
    }
}

impl Containers for Outage {
    fn list(&self, selector: &Selector) -> Result<Vec<ContainerState>, EngineError> {
        self.up()?;
        self.inner.list(selector)
    }

    fn running_with_labels(&self, labels: &[(&str, &str)]) -> Result<Vec<String>, EngineError> {
        self.up()?;
        self.inner.running_with_labels(labels)
    }

    fn inspect(&self, container: &str) -> Result<Option<ContainerInfo>, EngineError> {
        self.up()?;
        self.inner.inspect(container)
    }

    fn exec(&self, container: &str, command: &[String]) -> Result<ExecOutput, EngineError> {
        self.up()?;
        self.inner.exec(container, command)
    }

    fn stop(&self, containers: &[(&str, u32)]) -> Result<(), EngineError> {
        self.up()?;
        self.inner.stop(containers)
    }

    fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.up()?;
        self.inner.remove(id)
    }
}

impl Volumes for Outage {
    fn volume_exists(&self, name: &str) -> Result<bool, EngineError> {
        self.up()?;
        self.inner.volume_exists(name)
    }

    fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        self.up()?;
        self.inner.remove_volume(name)
    }

    fn project_volumes(&self, project: &str) -> Result<Vec<(String, String)>, EngineError> {
        self.up()?;
        self.inner.project_volumes(project)
    }
}
