//! "Rewrite alone never strands data": before `rewrite --write` re-points a mount, the data
//! behind it must already be at the new path. A named volume that holds data while its new tier
//! directory is missing or empty would leave the service on an empty directory and the data in
//! the volume, with nothing saying so: refused ("its data must move first: run
//! `tierctl migrate`") unless `--force`. A bind re-pointed to a directory that is not the same
//! real directory is checked the same way on the host.
//!
//! [`repointed`] is pure; [`volume_holds_data`] is the one engine call.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::compose::model::{ComposeProject, MountId};
use crate::engine::docker::DockerEngine;
use crate::engine::{Capability, HelperSpec, Helpers, MountSource, MountSpec, Volumes};
use crate::plan::{Action, Plan};

/// A mount the plan points at a new host directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repointed {
    /// The mount.
    pub mount: MountId,
    /// The service.
    pub service: String,
    /// The container path.
    pub target: String,
    /// Where its data is now.
    pub from: From,
    /// The new host directory.
    pub to: PathBuf,
}

/// Where a re-pointed mount's data is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum From {
    /// A named volume (the engine's name).
    Volume(String),
    /// A host directory.
    Bind(PathBuf),
}

impl std::fmt::Display for From {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            From::Volume(name) => write!(f, "named volume `{name}`"),
            From::Bind(path) => write!(f, "bind mount `{}`", path.display()),
        }
    }
}

/// Pure: the mounts the plan re-points, with where their data is now: each step's mount found
/// by its [`MountId`].
pub fn repointed(project: &ComposeProject, plan: &Plan) -> Vec<Repointed> {
    plan.steps
        .iter()
        .filter_map(|step| {
            let (service, mount) = project.mount(step.mount?)?;
            let from = match step.action {
                Action::VolumeToBind => {
                    From::Volume(project.volume_for(mount)?.effective_name(&project.name))
                }
                Action::BindRealPath | Action::MoveBind => From::Bind(mount.host_path.clone()?),
                Action::RemoveVolumeEntry | Action::AddNestedBind => return None,
            };
            Some(Repointed {
                mount: mount.id,
                service: service.name.clone(),
                target: mount.target.clone(),
                from,
                to: project.dir.join(&step.new),
            })
        })
        .collect()
}

/// Why `rewrite --write` refused.
#[derive(Debug, Error)]
pub enum StrandedError {
    /// The data would stay behind.
    #[error("{from} of service `{service}` (at `{target}`) holds data that is not at `{}`: its data must move first: run `tierctl migrate`", to.display())]
    Stranded {
        /// The service.
        service: String,
        /// The container path.
        target: String,
        /// Where the data is.
        from: From,
        /// The new directory.
        to: PathBuf,
    },
    /// Whether the data would stay behind could not be checked.
    #[error("cannot check whether {from} of service `{service}` holds data: {reason}")]
    Unchecked {
        /// The service.
        service: String,
        /// Where the data may be.
        from: From,
        /// Why not (the engine's error, or `--offline`).
        reason: String,
    },
}

impl StrandedError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            StrandedError::Stranded { .. } => "`tierctl migrate` stops the service, copies and verifies the data, then rewrites; `rewrite --write --force` re-points it anyway and leaves the data behind".into(),
            StrandedError::Unchecked { .. } => "start the Docker engine and run the command again; `--force` rewrites without the check (the data may stay behind)".into(),
        }
    }
}

/// Why there is no engine to ask whether a re-pointed named volume holds data.
#[derive(Debug, Error)]
pub enum NoEngine {
    /// `--offline` was given.
    #[error("`--offline` makes no call to the Docker engine")]
    Offline,
    /// The Docker endpoint could not be resolved.
    #[error(transparent)]
    Endpoint(#[from] crate::engine::endpoint::EndpointError),
    /// The Docker engine could not be reached.
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
}

/// Refuses (unless `force`) when a mount the plan re-points holds data that is not at its new
/// directory. `engine` is `Err(why)` when there is none (`--offline`, unreachable); it is
/// used only when a named volume is re-pointed. Returns notes for what `force` let through.
pub fn check(
    project: &ComposeProject,
    plan: &Plan,
    engine: &dyn Fn() -> Result<DockerEngine, NoEngine>,
    helper_image: &str,
    force: bool,
) -> Result<Vec<String>, StrandedError> {
    let mut notes = Vec::new();
    let mut connected: Option<Result<DockerEngine, NoEngine>> = None;
    for r in repointed(project, plan) {
        if holds_data(&r.to) {
            continue;
        }
        let holds = match &r.from {
            From::Bind(path) => Ok(!same_dir(path, &r.to) && holds_data(path)),
            From::Volume(name) => match connected.get_or_insert_with(engine) {
                Ok(engine) => volume_holds_data(engine, name, helper_image)
                    .map(|h| h == Some(true))
                    .map_err(|e| e.to_string()),
                Err(reason) => Err(reason.to_string()),
            },
        };
        let error = match holds {
            Ok(false) => continue,
            Ok(true) => StrandedError::Stranded {
                service: r.service,
                target: r.target,
                from: r.from,
                to: r.to,
            },
            Err(reason) => StrandedError::Unchecked {
                service: r.service,
                from: r.from,
                reason,
            },
        };
        if !force {
            return Err(error);
        }
        notes.push(format!("--force: {error}"));
    }
    Ok(notes)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Whether a host directory exists and has an entry.
fn holds_data(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}

/// Whether named volume `name` holds data (`None`: it does not exist): on the host when the
/// engine is native and its mountpoint is readable, else through a helper container that lists
/// it read-only. The only engine call of this module.
pub fn volume_holds_data(
    engine: &DockerEngine,
    name: &str,
    helper_image: &str,
) -> Result<Option<bool>, crate::engine::EngineError> {
    if !engine.volume_exists(name)? {
        return Ok(None);
    }
    if let Some(dir) = engine.host_path(&MountSource::Volume(name.to_owned()))? {
        return Ok(Some(holds_data(&dir)));
    }
    let listing = engine.run_to_end(&look_spec(name, helper_image))?;
    Ok(Some(!listing.trim().is_empty()))
}

/// The helper container that prints the first entry of volume `name` (nothing when empty),
/// mounted read-only.
pub fn look_spec(name: &str, helper_image: &str) -> HelperSpec {
    let command = ["sh", "-c", "ls -A /from | head -n 1"].map(String::from);
    HelperSpec {
        mounts: vec![MountSpec {
            source: MountSource::Volume(name.to_owned()),
            target: "/from".into(),
            read_only: true,
        }],
        capabilities: vec![Capability::DacReadSearch],
        ..HelperSpec::new("look", helper_image, command.to_vec())
    }
}

/// The project's named volumes (by compose's labels) that no compose mount uses any more and
/// that still hold data.
pub fn left_volumes(
    project: &ComposeProject,
    engine: &DockerEngine,
    helper_image: &str,
) -> Result<Vec<crate::facts::LeftVolume>, crate::engine::EngineError> {
    let used: std::collections::BTreeSet<&str> = project
        .mounts()
        .filter(|(_, m)| m.kind == crate::compose::model::MountType::Volume)
        .filter_map(|(_, m)| m.source.as_deref())
        .collect();
    let mut left = Vec::new();
    for (name, key) in engine.project_volumes(&project.name)? {
        if used.contains(key.as_str()) {
            continue;
        }
        if volume_holds_data(engine, &name, helper_image)? == Some(true) {
            left.push(crate::facts::LeftVolume { name, key });
        }
    }
    Ok(left)
}

/// What `audit`'s `stranded-data` check needs, observed through the engine: the project's
/// named volumes (by compose's labels) that no compose mount uses any more and that still hold
/// data, and which bind directories exist empty (on this machine; a remote engine's come from
/// `engine::host_fs::facts`). Nothing is observed when no volume is left.
pub fn observe(
    project: &ComposeProject,
    facts: &mut crate::facts::Facts,
    engine: &DockerEngine,
    helper_image: &str,
) -> Result<(), crate::engine::EngineError> {
    facts.left_volumes = left_volumes(project, engine, helper_image)?;
    if facts.left_volumes.is_empty() {
        return Ok(());
    }
    let empty: Vec<std::path::PathBuf> = facts
        .paths
        .values()
        .filter(|f| f.exists && f.is_dir)
        .filter_map(|f| f.real.clone())
        .filter(|real| !holds_data(real))
        .collect();
    facts.empty_dirs.extend(empty);
    Ok(())
}
