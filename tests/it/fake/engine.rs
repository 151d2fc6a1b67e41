//! [`FakeEngine`]: the [`Engine`] over a temp directory. Named volumes are directories under
//! `volumes/` that [`Helpers::host_path`] exposes, as a native engine's mountpoints are: the
//! migrate run measures, copies, lists and hashes them with its host code. Containers are
//! records (state, labels, mounts, exit code); stopping one is a state change. Helpers run in
//! the [`Sandbox`]. The archive endpoint reads and writes host directories as dockerd's tar
//! streams ([`super::archive`]): reads where the host cannot see a tree (an engine
//! [`FakeEngine::like_a_vm`]) and `--to-context`'s streams into engine B ([`ArchiveWriter`]).
//! Every call that changes something is logged ([`FakeEngine::calls`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tierctl::engine::container::{ContainerMount, MountType, labels};
use tierctl::engine::helper::{HELPER_LABEL, JOURNAL_LABEL};
use tierctl::engine::{
    ArchiveReader, ArchiveWriter, ContainerInfo, ContainerState, Containers, Engine, EngineError,
    EngineInfo, ExecOutput, HelperOutput, HelperSpec, Helpers, MountSource, Selector, Volumes,
};

use super::sandbox::{Bound, Sandbox};

/// The context name the fake's errors carry.
pub const CONTEXT: &str = "fake";

/// The compose version the fake's containers are labelled with (a v2 CLI created them).
pub const COMPOSE_VERSION: &str = "2.40.3";

/// One container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// Its id (`fake-N`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its image.
    pub image: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its mounts: what, where, writable.
    pub mounts: Vec<(MountSource, String, bool)>,
    /// Running.
    pub running: bool,
    /// Its last exit code.
    pub exit_code: Option<i64>,
    /// A stop kills it instead (exit 137: it ignores SIGTERM past its grace period).
    pub ignores_stop: bool,
}

/// One named volume: its compose labels (project, key) when compose made it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Volume {
    compose: Option<(String, String)>,
}

#[derive(Default)]
struct State {
    containers: Vec<Container>,
    volumes: BTreeMap<String, Volume>,
    next_id: u64,
    calls: Vec<String>,
    /// Faults to inject: the next call whose log line starts with one fails (once).
    faults: Vec<String>,
    /// Image content a `populate` copies into an empty volume: (image, path) -> directory.
    images: BTreeMap<(String, String), PathBuf>,
}

/// The engine over a temp directory (see the module's text).
pub struct FakeEngine {
    dir: tempfile::TempDir,
    sandbox: Sandbox,
    /// The images helpers may name (others: `ImageMissing`, as the engine says).
    known_images: BTreeSet<String>,
    state: Mutex<State>,
    /// `host_path` answers nothing, as on a VM engine: every tree is read by helpers.
    vm_like: std::sync::atomic::AtomicBool,
}

fn api(action: &str, message: impl Into<String>) -> EngineError {
    EngineError::Api {
        context: CONTEXT.into(),
        action: action.into(),
        message: message.into(),
    }
}

impl FakeEngine {
    /// A fake engine that knows the helper image `image`.
    pub fn new(image: &str) -> FakeEngine {
        let dir = tempfile::Builder::new()
            .prefix("tierctl-fake-engine-")
            .tempdir()
            .expect("temp dir");
        fs_mkdir(&dir.path().join("volumes"));
        let sandbox = Sandbox::new(&dir.path().join("sandbox")).expect("helper sandbox");
        FakeEngine {
            dir,
            sandbox,
            known_images: BTreeSet::from([image.to_owned()]),
            state: Mutex::new(State::default()),
            vm_like: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Log `call`; an error when a fault was asked for it ([`FakeEngine::fail_next`]).
    fn act(&self, call: String) -> Result<(), EngineError> {
        record(&mut self.state(), call)
    }

    /// The next engine call whose log line starts with `prefix` (`helper copy`, `stop`,
    /// `remove volume`) fails with an API error, once.
    pub fn fail_next(&self, prefix: &str) {
        self.state().faults.push(prefix.to_owned());
    }

    /// What was asked of the engine that changes something, in order (`stop db`, `helper copy`,
    /// `remove volume app_db`, ...).
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// From now on `host_path` answers nothing, as a VM engine's does (the host does not see
    /// the engine's volumes, nor binds as the engine does): every tree is read, listed and
    /// copied by helper containers.
    pub fn like_a_vm(&self) {
        self.vm_like
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Forget the calls logged so far.
    pub fn clear_calls(&self) {
        self.state().calls.clear();
    }

    /// The directory of volume `name` (whether or not it exists).
    pub fn volume_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join("volumes").join(name)
    }

    /// Create volume `name` (compose's labels when `compose` names the project and key).
    pub fn create_volume(&self, name: &str, compose: Option<(&str, &str)>) {
        fs_mkdir(&self.volume_dir(name));
        let compose = compose.map(|(p, k)| (p.to_owned(), k.to_owned()));
        self.state()
            .volumes
            .insert(name.to_owned(), Volume { compose });
    }

    /// Image content: a `populate` of an empty volume mounted at `path` copies `content` in.
    pub fn image_content(&self, image: &str, path: &str, content: &Path) {
        self.state()
            .images
            .insert((image.to_owned(), path.to_owned()), content.to_path_buf());
    }

    /// Create a running container; its id.
    pub fn run_container(
        &self,
        name: &str,
        image: &str,
        labels: BTreeMap<String, String>,
        mounts: Vec<(MountSource, String, bool)>,
    ) -> String {
        for (source, _, _) in &mounts {
            // the engine creates a volume a container names
            if let MountSource::Volume(v) = source {
                let known = self.state().volumes.contains_key(v);
                if !known {
                    self.create_volume(v, None);
                }
            }
        }
        let mut state = self.state();
        state.next_id += 1;
        let id = format!("fake-{}", state.next_id);
        state.calls.push(format!("create {name}"));
        state.containers.push(Container {
            id: id.clone(),
            name: name.to_owned(),
            image: image.to_owned(),
            labels,
            mounts,
            running: true,
            exit_code: None,
            ignores_stop: false,
        });
        id
    }

    /// Start the stopped container `id` again.
    pub fn start(&self, id: &str) {
        let mut state = self.state();
        state.calls.push(format!("start {id}"));
        if let Some(c) = state.containers.iter_mut().find(|c| c.id == id) {
            c.running = true;
            c.exit_code = None;
        }
    }

    /// Every container, as records.
    pub fn containers(&self) -> Vec<Container> {
        self.state().containers.clone()
    }

    /// Set label `key` to `value` on the containers of `service`.
    pub fn label(&self, service: &str, key: &str, value: &str) {
        for c in self.state().containers.iter_mut() {
            if c.labels.get(labels::SERVICE).map(String::as_str) == Some(service) {
                c.labels.insert(key.to_owned(), value.to_owned());
            }
        }
    }

    /// Make the container of `service` ignore a stop (killed: exit 137).
    pub fn ignore_stop(&self, service: &str) {
        for c in self.state().containers.iter_mut() {
            if c.labels.get(labels::SERVICE).map(String::as_str) == Some(service) {
                c.ignores_stop = true;
            }
        }
    }

    /// The host path a helper's mount source is at; `None` when the engine has no such source.
    fn source_path(&self, source: &MountSource) -> Option<PathBuf> {
        match source {
            MountSource::Volume(name) => {
                let known = self.state().volumes.contains_key(name);
                if !known {
                    // mounting a volume name that does not exist creates it, as dockerd does
                    self.create_volume(name, None);
                }
                Some(self.volume_dir(name))
            }
            MountSource::Bind(path) => path.exists().then(|| path.clone()),
        }
    }

    fn bound(&self, spec: &HelperSpec) -> Result<Result<Vec<Bound>, String>, EngineError> {
        let mut bound = Vec::new();
        for m in &spec.mounts {
            let Some(host) = self.source_path(&m.source) else {
                return Ok(Err(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    show(&m.source)
                )));
            };
            bound.push(Bound {
                host,
                target: m.target.clone(),
                read_only: m.read_only,
            });
        }
        if let Some(shared) = &spec.shares {
            let c = self.find(shared).ok_or_else(|| {
                api(
                    "run helper container",
                    format!("no such container: {shared}"),
                )
            })?;
            for (source, target, _) in &c.mounts {
                let host = self.source_path(source).unwrap_or_default();
                bound.push(Bound {
                    host,
                    target: target.clone(),
                    read_only: true,
                });
            }
        }
        Ok(Ok(bound))
    }

    /// The host path (and whether its mount is read-only) of each of `paths` inside the helper
    /// `spec`; an error, as the engine's, when one is in none of its mounts or not there.
    fn archive_paths(
        &self,
        spec: &HelperSpec,
        paths: &[&str],
        action: &str,
    ) -> Result<Vec<(PathBuf, bool)>, EngineError> {
        let bound = self.bound(spec)?.map_err(|message| api(action, message))?;
        paths
            .iter()
            .map(|path| {
                in_mounts(&bound, path)
                    .filter(|(host, _)| std::fs::symlink_metadata(host).is_ok())
                    .ok_or_else(|| {
                        api(
                            action,
                            format!(
                                "Could not find the file {path} in container {}",
                                spec.purpose
                            ),
                        )
                    })
            })
            .collect()
    }

    fn find(&self, id_or_name: &str) -> Option<Container> {
        self.state()
            .containers
            .iter()
            .find(|c| c.id == id_or_name || c.name == id_or_name)
            .cloned()
    }
}

/// Log `call` in `state`; an error when a fault matches it (the fault is used up).
fn record(state: &mut State, call: String) -> Result<(), EngineError> {
    let fault = state
        .faults
        .iter()
        .position(|f| call.starts_with(f.as_str()));
    state.calls.push(call.clone());
    match fault {
        Some(i) => {
            state.faults.remove(i);
            Err(api("fault", format!("injected fault at `{call}`")))
        }
        None => Ok(()),
    }
}

/// The host path of `path` inside a helper with mounts `bound` (the deepest mount holding it),
/// and whether that mount is read-only.
fn in_mounts(bound: &[Bound], path: &str) -> Option<(PathBuf, bool)> {
    let clean = path.trim_end_matches("/.").trim_end_matches('/');
    bound
        .iter()
        .filter_map(|m| {
            let target = m.target.trim_end_matches('/');
            let rest = match clean.strip_prefix(target)? {
                "" => "",
                rest => rest.strip_prefix('/')?,
            };
            Some((target.len(), m, rest))
        })
        .max_by_key(|(depth, _, _)| *depth)
        .map(|(_, m, rest)| match rest {
            "" => (m.host.clone(), m.read_only),
            rest => (m.host.join(rest), m.read_only),
        })
}

fn fs_mkdir(path: &Path) {
    std::fs::create_dir_all(path).expect("mkdir");
}

fn show(source: &MountSource) -> String {
    match source {
        MountSource::Volume(v) => v.clone(),
        MountSource::Bind(p) => p.display().to_string(),
    }
}

impl Engine for FakeEngine {
    fn info(&self) -> Result<EngineInfo, EngineError> {
        Ok(EngineInfo {
            name: "fake".into(),
            operating_system: "tierctl fake engine".into(),
            os_type: "linux".into(),
            server_version: "0.0.0-fake".into(),
            kernel_version: String::new(),
            api_version: "1.41".into(),
        })
    }
}

impl Helpers for FakeEngine {
    fn run_helper(&self, spec: &HelperSpec) -> Result<HelperOutput, EngineError> {
        if !self.known_images.contains(&spec.image) {
            return Err(EngineError::ImageMissing {
                context: CONTEXT.into(),
                image: spec.image.clone(),
            });
        }
        self.act(format!("helper {}", spec.purpose))?;
        let bound = match self.bound(spec)? {
            Ok(bound) => bound,
            Err(message) => return Ok(HelperOutput::SourceMissing { message }),
        };
        let ran = self
            .sandbox
            .run(&bound, &spec.command)
            .map_err(|e| api("run helper container", e.to_string()))?;
        match ran.code {
            Some(0) => Ok(HelperOutput::Ran(ran.stdout)),
            code => Err(api(
                "run helper container",
                format!(
                    "exit code {}: {}",
                    code.map_or("(signal)".into(), |c| c.to_string()),
                    ran.stderr.trim()
                ),
            )),
        }
    }

    fn read_archives(
        &self,
        spec: &HelperSpec,
        paths: &[&str],
        read: ArchiveReader<'_>,
    ) -> Result<(), EngineError> {
        self.act(format!("archive {}", spec.purpose))?;
        let hosts = self.archive_paths(spec, paths, "read archive")?;
        // each path's stream on its own thread, all at once, as the engine serves them
        let read_one = |index: usize, host: &Path, path: &str| -> Result<(), EngineError> {
            let mut tar = Vec::new();
            super::archive::write(host, path, &mut tar)
                .and_then(|()| read(index, &mut tar.as_slice()))
                .map_err(|e| api("read archive", format!("`{path}`: {e}")))
        };
        std::thread::scope(|scope| {
            let streams: Vec<_> = hosts
                .iter()
                .zip(paths)
                .enumerate()
                .map(|(index, ((host, _), path))| scope.spawn(move || read_one(index, host, path)))
                .collect();
            streams.into_iter().try_for_each(|s| {
                s.join()
                    .unwrap_or_else(|_| Err(api("read archive", "a stream's thread panicked")))
            })
        })
    }

    fn populate(&self, spec: &HelperSpec) -> Result<(), EngineError> {
        self.act(format!("populate {}", spec.purpose))?;
        for m in &spec.mounts {
            let MountSource::Volume(name) = &m.source else {
                continue;
            };
            let dir = self.source_path(&m.source).unwrap_or_default();
            let empty = std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_none());
            let content = self
                .state()
                .images
                .get(&(spec.image.clone(), m.target.clone()))
                .cloned();
            if let (true, Some(content)) = (empty, content) {
                let ok = std::process::Command::new("cp")
                    .arg("-a")
                    .arg(content.join("."))
                    .arg(&dir)
                    .status()
                    .is_ok_and(|s| s.success());
                if !ok {
                    return Err(api(
                        "create container",
                        format!("cannot fill volume {name}"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn host_path(&self, source: &MountSource) -> Result<Option<PathBuf>, EngineError> {
        if self.vm_like.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(None);
        }
        let path = match source {
            MountSource::Volume(name) => self
                .state()
                .volumes
                .contains_key(name)
                .then(|| self.volume_dir(name)),
            MountSource::Bind(path) => Some(path.clone()),
        };
        Ok(path.filter(|p| p.is_dir() && std::fs::read_dir(p).is_ok()))
    }
}

/// The other half of the archive endpoint: `migrate --to-context` writes A's streams into B.
impl ArchiveWriter for FakeEngine {
    fn write_archive(
        &self,
        spec: &HelperSpec,
        path: &str,
        tar: &mut dyn Read,
    ) -> Result<(), EngineError> {
        let action = format!("write archive into `{path}`");
        self.act(format!("extract {}", spec.purpose))?;
        let mut hosts = self.archive_paths(spec, &[path], &action)?;
        let (host, read_only) = hosts.pop().ok_or_else(|| api(&action, "no path"))?;
        if read_only {
            return Err(api(&action, "container rootfs is marked read-only"));
        }
        super::archive::extract(tar, &host).map_err(|e| api(&action, e.to_string()))
    }
}

impl Containers for FakeEngine {
    fn list(&self, selector: &Selector) -> Result<Vec<ContainerState>, EngineError> {
        let state = self.state();
        let picked = state.containers.iter().filter(|c| match selector {
            Selector::Project(p) => c.labels.get(labels::PROJECT) == Some(p),
            Selector::Volume(v) => c
                .mounts
                .iter()
                .any(|(s, _, _)| *s == MountSource::Volume(v.clone())),
            Selector::Journal(j) => c.labels.get(JOURNAL_LABEL) == Some(j),
            Selector::Helpers => c.labels.contains_key(HELPER_LABEL),
            Selector::SwarmService(s) => {
                c.labels.get(tierctl::engine::SWARM_SERVICE_LABEL) == Some(s)
            }
        });
        Ok(picked
            .map(|c| ContainerState {
                id: c.id.clone(),
                name: c.name.clone(),
                project: c.labels.get(labels::PROJECT).cloned(),
                service: c.labels.get(labels::SERVICE).cloned(),
                running: c.running,
                mounts: c
                    .mounts
                    .iter()
                    .map(|(s, t, _)| (show(s), t.clone()))
                    .collect(),
                compose_version: c.labels.get(labels::VERSION).cloned(),
                oneoff: c.labels.get(labels::ONEOFF).is_some_and(|v| v == "True"),
            })
            .collect())
    }

    fn running_with_labels(&self, wanted: &[(&str, &str)]) -> Result<Vec<String>, EngineError> {
        Ok(self
            .state()
            .containers
            .iter()
            .filter(|c| {
                c.running
                    && wanted
                        .iter()
                        .all(|(k, v)| c.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|c| c.id.clone())
            .collect())
    }

    fn inspect(&self, container: &str) -> Result<Option<ContainerInfo>, EngineError> {
        let Some(c) = self.find(container) else {
            return Ok(None);
        };
        let mounts = c
            .mounts
            .iter()
            .map(|(source, target, rw)| ContainerMount {
                kind: match source {
                    MountSource::Volume(_) => MountType::Volume,
                    MountSource::Bind(_) => MountType::Bind,
                },
                name: match source {
                    MountSource::Volume(v) => Some(v.clone()),
                    MountSource::Bind(_) => None,
                },
                source: match source {
                    MountSource::Volume(v) => self.volume_dir(v).display().to_string(),
                    MountSource::Bind(p) => p.display().to_string(),
                },
                target: target.clone(),
                read_write: *rw,
            })
            .collect();
        Ok(Some(ContainerInfo {
            id: c.id,
            name: c.name,
            image: c.image,
            running: c.running,
            labels: c.labels,
            mounts,
            exit_code: c.exit_code,
            oom_killed: false,
            // the fake's containers run no process to ask
            pid: None,
            stop_signal: None,
            init: false,
        }))
    }

    fn exec(&self, container: &str, _command: &[String]) -> Result<ExecOutput, EngineError> {
        Err(api(
            &format!("exec in container `{container}`"),
            "the fake engine runs no processes in its containers",
        ))
    }

    fn stop(&self, containers: &[(&str, u32)]) -> Result<(), EngineError> {
        let mut state = self.state();
        for (id, grace) in containers {
            record(&mut state, format!("stop {id} ({grace} s)"))?;
            let Some(c) = state.containers.iter_mut().find(|c| c.id == *id) else {
                return Err(api("stop container", format!("no such container: {id}")));
            };
            if c.running {
                c.running = false;
                c.exit_code = Some(if c.ignores_stop { 137 } else { 0 });
            }
        }
        Ok(())
    }

    fn remove(&self, id: &str) -> Result<(), EngineError> {
        let mut state = self.state();
        record(&mut state, format!("remove {id}"))?;
        state.containers.retain(|c| c.id != id);
        Ok(())
    }
}

impl Volumes for FakeEngine {
    fn volume_exists(&self, name: &str) -> Result<bool, EngineError> {
        Ok(self.state().volumes.contains_key(name))
    }

    fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        let mut state = self.state();
        record(&mut state, format!("remove volume {name}"))?;
        if let Some(c) = state.containers.iter().find(|c| {
            c.mounts
                .iter()
                .any(|(s, _, _)| *s == MountSource::Volume(name.into()))
        }) {
            return Err(api(
                &format!("remove volume `{name}`"),
                format!("volume is in use - [{}]", c.id),
            ));
        }
        if state.volumes.remove(name).is_none() {
            return Err(api(
                &format!("remove volume `{name}`"),
                format!("get {name}: no such volume"),
            ));
        }
        drop(state);
        // the engine's own directory of a volume no container uses: the fake's to delete
        std::fs::remove_dir_all(self.volume_dir(name))
            .map_err(|e| api(&format!("remove volume `{name}`"), e.to_string()))
    }

    fn project_volumes(&self, project: &str) -> Result<Vec<(String, String)>, EngineError> {
        Ok(self
            .state()
            .volumes
            .iter()
            .filter_map(|(name, v)| match &v.compose {
                Some((p, key)) if p == project => Some((name.clone(), key.clone())),
                _ => None,
            })
            .collect())
    }
}
