//! `docker compose` on the fake engine, through the seam the migrate run starts services by
//! ([`ComposeRunner`], given to `ComposeCli::with_runner`): `up -d SERVICE...` re-reads the
//! project with tierctl's loader and (re)creates each service's container from the files as
//! they are now, as compose does when a container's configuration changed (a rewritten bind);
//! an unchanged stopped container is started again. `DOCKER_CONTEXT=B` (a move to another engine
//! starts the project there) runs it on the engine added for B ([`FakeCompose::add_context`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tierctl::compose::load::{LoadOptions, load};
use tierctl::compose::volume_syntax::MountType;
use tierctl::engine::container::labels;
use tierctl::engine::{Containers, MountSource, Selector};
use tierctl::migrate::ComposeCli;
use tierctl::migrate::compose_cli::{ComposeRunner, Ran};
use tierctl::probe::DiskFiles;

use super::engine::{COMPOSE_VERSION, FakeEngine};

/// The compose CLI of the fake engine.
pub struct FakeCompose {
    engine: Arc<FakeEngine>,
    /// Other engines by docker context: `up` with `DOCKER_CONTEXT=B` runs on B's.
    contexts: std::sync::Mutex<BTreeMap<String, Arc<FakeEngine>>>,
    /// The next `up` fails (the CLI exits 1).
    pub fail_next_up: AtomicBool,
}

impl std::fmt::Debug for FakeCompose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeCompose")
    }
}

impl FakeCompose {
    /// The compose CLI of `engine`.
    pub fn new(engine: Arc<FakeEngine>) -> Arc<FakeCompose> {
        Arc::new(FakeCompose {
            engine,
            contexts: std::sync::Mutex::new(BTreeMap::new()),
            fail_next_up: AtomicBool::new(false),
        })
    }

    /// `docker compose` as the migrate run finds it (the fake answers `version --short`).
    pub fn cli(self: &Arc<Self>) -> ComposeCli {
        let runner: Arc<dyn ComposeRunner> = self.clone();
        ComposeCli::with_runner(
            vec![vec!["docker".into(), "compose".into()]],
            vec![("DOCKER_HOST".into(), "unix:///fake.sock".into())],
            runner,
        )
        .expect("the fake compose answers its version")
    }

    /// `DOCKER_CONTEXT=context` names `engine` from now on.
    pub fn add_context(&self, context: &str, engine: Arc<FakeEngine>) {
        self.contexts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(context.to_owned(), engine);
    }

    /// `docker compose -p PROJECT -f FILE... up -d SERVICE...` (no service: all) in `dir`.
    pub fn up(
        &self,
        project: &str,
        files: &[PathBuf],
        dir: &Path,
        services: &[String],
    ) -> Result<(), String> {
        self.up_on(&self.engine, project, files, dir, services)
    }

    /// [`FakeCompose::up`] on `engine`.
    fn up_on(
        &self,
        engine: &FakeEngine,
        project: &str,
        files: &[PathBuf],
        dir: &Path,
        services: &[String],
    ) -> Result<(), String> {
        let options = LoadOptions {
            files: files.to_vec(),
            project_name: Some(project.to_owned()),
            working_dir: dir.to_path_buf(),
            ..LoadOptions::default()
        };
        let loaded = load(&options, &DiskFiles).map_err(|e| e.to_string())?;
        let existing = engine
            .list(&Selector::Project(project.to_owned()))
            .map_err(|e| e.to_string())?;
        for service in loaded.enabled_services() {
            if !services.is_empty() && !services.contains(&service.name) {
                continue;
            }
            let mut mounts = Vec::new();
            for m in &service.mounts {
                let source = match (&m.kind, &m.host_path, &m.source) {
                    (MountType::Bind, Some(path), _) => MountSource::Bind(path.clone()),
                    (MountType::Volume, _, Some(_)) => {
                        let top = loaded
                            .volume_for(m)
                            .ok_or("a volume without a top-level entry")?;
                        let name = top.effective_name(project);
                        if !engine.volume_dir(&name).exists() {
                            engine.create_volume(&name, Some((project, &top.key)));
                        }
                        MountSource::Volume(name)
                    }
                    _ => continue,
                };
                mounts.push((source, m.target.clone(), !m.read_only));
            }
            let old = existing
                .iter()
                .find(|c| c.service.as_deref() == Some(service.name.as_str()));
            let same = old.and_then(|c| {
                let record = engine.containers().into_iter().find(|r| r.id == c.id)?;
                (record.mounts == mounts).then_some(record)
            });
            match (old, same) {
                (_, Some(record)) => {
                    if !record.running {
                        engine.start(&record.id);
                    }
                }
                (old, None) => {
                    if let Some(old) = old {
                        engine.remove(&old.id).map_err(|e| e.to_string())?;
                    }
                    let labels = BTreeMap::from([
                        (labels::PROJECT.to_owned(), project.to_owned()),
                        (labels::SERVICE.to_owned(), service.name.clone()),
                        (labels::NUMBER.to_owned(), "1".to_owned()),
                        (labels::ONEOFF.to_owned(), "False".to_owned()),
                        (labels::VERSION.to_owned(), COMPOSE_VERSION.to_owned()),
                    ]);
                    let image = service.image.clone().unwrap_or_default();
                    let name = format!("{project}-{}-1", service.name);
                    engine.run_container(&name, &image, labels, mounts);
                }
            }
        }
        Ok(())
    }
}

impl ComposeRunner for FakeCompose {
    fn version(&self, _program: &[String]) -> Option<String> {
        Some(format!("{COMPOSE_VERSION}\n"))
    }

    fn run(&self, args: &[String], dir: &Path, env: &[(String, String)]) -> std::io::Result<Ran> {
        let context = env
            .iter()
            .find(|(k, _)| k == "DOCKER_CONTEXT")
            .map(|(_, v)| v.clone());
        let engine = match &context {
            None => self.engine.clone(),
            Some(c) => match self
                .contexts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(c)
            {
                Some(engine) => engine.clone(),
                None => {
                    return Ok(Ran {
                        success: false,
                        stderr: format!("fake compose: context \"{c}\" does not exist"),
                    });
                }
            },
        };
        let (mut project, mut files, mut services) = (String::new(), Vec::new(), Vec::new());
        let mut words = args.iter().skip_while(|w| *w != "-p" && *w != "-f");
        let mut up = false;
        while let Some(word) = words.next() {
            match word.as_str() {
                "-p" => project = words.next().cloned().unwrap_or_default(),
                "-f" => files.push(PathBuf::from(words.next().cloned().unwrap_or_default())),
                "up" => up = true,
                "-d" => {}
                service if up => services.push(service.to_owned()),
                other => {
                    return Ok(Ran {
                        success: false,
                        stderr: format!("fake compose: unknown argument `{other}`"),
                    });
                }
            }
        }
        if self.fail_next_up.swap(false, Ordering::Relaxed) {
            return Ok(Ran {
                success: false,
                stderr: "fake compose: up failed (test fault)".into(),
            });
        }
        let result = match up {
            true => self.up_on(&engine, &project, &files, dir, &services),
            false => Err("fake compose: only `up -d` is known".into()),
        };
        Ok(match result {
            Ok(()) => Ran {
                success: true,
                stderr: String::new(),
            },
            Err(stderr) => Ran {
                success: false,
                stderr,
            },
        })
    }
}
