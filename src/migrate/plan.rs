//! Pure: the rewrite plan and its patched texts -> a [`MigratePlan`]: which services stop, which
//! volumes are copied where, which files change, which mounts the services must show afterwards,
//! and the ordered steps `apply` executes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::compose::model::{ComposeProject, MountId};
use crate::engine::MountSource;
use crate::migrate::copy::CopyJob;
use crate::migrate::stop_order;
use crate::plan::{Action, Plan};
use crate::rewrite::Patched;

mod step_id;

pub use step_id::{CopyStep, OnceStep, StepId, StepIdError};

/// Seconds a service gets to stop when the compose file does not say (compose's default).
pub const DEFAULT_GRACE_SECS: u32 = 10;

/// One volume copied into its tier directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeCopy {
    /// The volume's key under top-level `volumes:`.
    pub key: String,
    /// The mounts it serves (each an [`ExpectedMount`] of the plan): several services, or
    /// several targets, can mount one volume or one bind directory. Empty only in a journal
    /// written before copies named their mounts ([`MigratePlan`]'s loading fills it).
    #[serde(default)]
    pub mounts: Vec<MountId>,
    /// What is copied where.
    pub job: CopyJob,
    /// The tier.
    pub tier: Option<String>,
    /// What a fresh named volume would have got from the image: used when the volume is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<Seed>,
}

/// An image's content at a path (what a fresh named volume mounted there is filled with).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seed {
    /// The service's image.
    pub image: String,
    /// The mount's container path.
    pub path: String,
}

/// One file's text before and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// The file.
    pub path: PathBuf,
    /// Its text before (a rollback writes it back byte for byte).
    pub old: String,
    /// Its text after.
    pub new: String,
}

/// A mount a service must show after the migration. Named by its [`MountId`] from here on;
/// its service and target are what a running container's mounts are matched with where they
/// come back from the engine ([`crate::verify::identify`]), and what messages show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedMount {
    /// The mount (the loader's id; in a journal written before plans named mounts, its
    /// position in the plan: see [`MigratePlan`]'s loading).
    #[serde(default)]
    pub mount: MountId,
    /// The service.
    pub service: String,
    /// The container path.
    pub target: String,
    /// The host path bound there.
    pub source: PathBuf,
}

/// One step of a migration, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", content = "copy", rename_all = "kebab-case")]
pub enum MigrateStep {
    /// Stop the services (through the engine, by compose labels).
    Stop,
    /// Create the tier directory of copy `n` (or accept it empty).
    CreateDir(usize),
    /// Copy volume `n`.
    Copy(usize),
    /// Verify copy `n`.
    Verify(usize),
    /// Copy volume `n` while the services run (then catch up while the delta is large).
    PreCopy(usize),
    /// Copy again what changed in volume `n` since its pre-copy (the services are stopped).
    Delta(usize),
    /// Verify pre-copy `n` while the services run: both trees hashed, what is settled known, so
    /// the verify while they are stopped reads only what changed since.
    PreVerify(usize),
    /// Write the compose and env files.
    Rewrite,
    /// Start the services that were running (compose CLI).
    Start,
    /// Check the running services' mounts.
    VerifyMounts,
    /// Remove source volume `n` (only with `--remove-source`).
    RemoveSource(usize),
}

impl MigrateStep {
    /// The copy the step works on (`None`: a step of the whole project).
    pub fn copy(&self) -> Option<usize> {
        match self {
            MigrateStep::CreateDir(n)
            | MigrateStep::Copy(n)
            | MigrateStep::Verify(n)
            | MigrateStep::PreCopy(n)
            | MigrateStep::Delta(n)
            | MigrateStep::PreVerify(n)
            | MigrateStep::RemoveSource(n) => Some(*n),
            MigrateStep::Stop
            | MigrateStep::Rewrite
            | MigrateStep::Start
            | MigrateStep::VerifyMounts => None,
        }
    }

    /// The step's id in the journal.
    pub fn id(&self) -> StepId {
        match *self {
            MigrateStep::Stop => StepId::Once(OnceStep::Stop),
            MigrateStep::CreateDir(n) => CopyStep::CreateDir.of(n),
            MigrateStep::Copy(n) => CopyStep::Copy.of(n),
            MigrateStep::Verify(n) => CopyStep::Verify.of(n),
            MigrateStep::PreCopy(n) => CopyStep::PreCopy.of(n),
            MigrateStep::Delta(n) => CopyStep::Delta.of(n),
            MigrateStep::PreVerify(n) => CopyStep::PreVerify.of(n),
            MigrateStep::Rewrite => StepId::Once(OnceStep::Rewrite),
            MigrateStep::Start => StepId::Once(OnceStep::Start),
            MigrateStep::VerifyMounts => StepId::Once(OnceStep::VerifyMounts),
            MigrateStep::RemoveSource(n) => CopyStep::RemoveSource.of(n),
        }
    }
}

impl fmt::Display for MigrateStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.id().fmt(f)
    }
}

/// A whole migration, as data. Deserialised through [`MigratePlan::named_mounts`], so a plan
/// journaled before mounts had ids in it comes back with them (`remote = "Self"` makes the
/// derived serialisers inherent functions; the trait impls below call them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct MigratePlan {
    /// The compose project name.
    pub project: String,
    /// The project directory.
    pub project_dir: PathBuf,
    /// The compose files (`-f`), for the compose CLI.
    pub compose_files: Vec<PathBuf>,
    /// The services whose mounts change: stopped, and started again when they ran.
    pub services: Vec<String>,
    /// Stop grace period of a service whose compose entry has none.
    pub grace_secs: u32,
    /// Each service's `stop_grace_period`, in whole seconds (rounded up).
    #[serde(default)]
    pub grace: BTreeMap<String, u32>,
    /// For each of `services`, the others of them it needs ([`stop_order::needs_among`]): it
    /// stops before them ([`stop_order::layers`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub needs: BTreeMap<String, Vec<String>>,
    /// The copies.
    pub copies: Vec<VolumeCopy>,
    /// The file changes.
    pub files: Vec<FileChange>,
    /// The mounts the services show afterwards.
    pub mounts: Vec<ExpectedMount>,
    /// The steps, in order.
    pub steps: Vec<MigrateStep>,
    /// Copy while the services run, stop them only for the delta and the verify (`false`:
    /// `--stop-first`, and every journal written before there was a choice).
    #[serde(default)]
    pub pre_copy: bool,
    /// The default (a pre-copy) was asked for, but none of `services` ran when the plan was
    /// made: one pass with them stopped instead (issue 23 item 4: there is no downtime to
    /// save, and the pre-copy reads both trees more than once). `pre_copy` is then `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub single_pass: bool,
    /// `migrate --to-context B`: the copies go to engine B and a compose file for B is written
    /// ([`crate::migrate::cross_plan`]); `None`: a migration on one engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_context: Option<Box<crate::migrate::cross_plan::CrossHost>>,
}

/// What the user chose for a migration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Remove each source volume after the services started (`--remove-source`).
    pub remove_source: bool,
    /// Copy while the services run (the default; `--stop-first` turns it off).
    pub pre_copy: bool,
}

impl MigratePlan {
    /// This plan with a single pass instead of its pre-copy when none of its services is in
    /// `running` (the plan's services that run now): the stop-first steps, marked
    /// [`MigratePlan::single_pass`]. A plan without a pre-copy, or a move to another engine,
    /// is returned as it is.
    pub fn single_pass_unless_running(mut self, running: &[String]) -> MigratePlan {
        let idle = !self.services.iter().any(|s| running.contains(s));
        if self.pre_copy && idle && self.to_context.is_none() {
            let options = Options {
                remove_source: self
                    .steps
                    .iter()
                    .any(|s| matches!(s, MigrateStep::RemoveSource(_))),
                pre_copy: false,
            };
            self.steps = steps_of(self.copies.len(), options);
            self.pre_copy = false;
            self.single_pass = true;
        }
        self
    }

    /// Seconds `service` gets to stop before it is killed.
    pub fn grace_of(&self, service: &str) -> u32 {
        self.grace.get(service).copied().unwrap_or(self.grace_secs)
    }

    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.copies.is_empty()
    }

    /// The plan's expected mount `id`.
    pub fn expected(&self, id: MountId) -> Option<&ExpectedMount> {
        self.mounts.iter().find(|m| m.mount == id)
    }

    /// The plan with every mount named, as read from a journal. A journal written before plans
    /// named mounts has no ids (each read as the default, so two or more mounts share one):
    /// they are numbered in plan order, unique within the plan, which is all the run compares
    /// them in (nothing looks a journaled id up in a project loaded again). Its copies name no
    /// mounts: each serves the expected mounts bound at its tier directory (their source is
    /// the copy's target: both are the rewrite step's new path). A plan written since has
    /// distinct ids and copies that name their mounts, and is returned as it is.
    pub fn named_mounts(mut self) -> MigratePlan {
        let ids: BTreeSet<MountId> = self.mounts.iter().map(|m| m.mount).collect();
        if ids.len() < self.mounts.len() {
            for (n, m) in self.mounts.iter_mut().enumerate() {
                m.mount = MountId(u32::try_from(n).unwrap_or(u32::MAX));
            }
        }
        for copy in self.copies.iter_mut().filter(|c| c.mounts.is_empty()) {
            copy.mounts = self
                .mounts
                .iter()
                .filter(|m| m.source == copy.job.target)
                .map(|m| m.mount)
                .collect();
        }
        self
    }
}

impl Serialize for MigratePlan {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        MigratePlan::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for MigratePlan {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        MigratePlan::deserialize(deserializer).map(MigratePlan::named_mounts)
    }
}

/// Why a mount cannot be migrated automatically (it is still rewritten by `tierctl rewrite`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// The service.
    pub service: String,
    /// The container path.
    pub target: String,
    /// Why.
    pub reason: String,
}

/// Build the migration from the rewrite plan and its patched files.
pub fn build(
    project: &ComposeProject,
    plan: &Plan,
    patched: &[Patched],
    options: Options,
) -> Result<MigratePlan, Unsupported> {
    let Moves {
        services: moved,
        mounts,
        copies,
    } = moves(project, plan)?;
    let files = file_changes(patched);
    let steps = if files.is_empty() && copies.is_empty() {
        Vec::new()
    } else {
        steps_of(copies.len(), options)
    };
    let shares: BTreeMap<String, Vec<String>> = project
        .services
        .iter()
        .map(|(name, s)| (name.clone(), s.volumes_from.clone()))
        .collect();
    let services: Vec<String> = with_volumes_from(moved, &shares).into_iter().collect();
    let graph: BTreeMap<String, Vec<String>> = project
        .services
        .iter()
        .map(|(name, s)| (name.clone(), s.needs.clone()))
        .collect();
    Ok(MigratePlan {
        project: project.name.clone(),
        project_dir: project.dir.clone(),
        compose_files: project.files.clone(),
        grace: graces(project, &services)?,
        needs: stop_order::needs_among(&services, &graph),
        services,
        grace_secs: DEFAULT_GRACE_SECS,
        copies,
        files,
        mounts,
        steps,
        pre_copy: options.pre_copy,
        single_pass: false,
        to_context: None,
    })
}

/// What the rewrite plan's steps that move a mount move ([`moves`]).
struct Moves {
    /// The services whose mounts move.
    services: BTreeSet<String>,
    /// Each moved mount as it is expected after the move.
    mounts: Vec<ExpectedMount>,
    /// One per bind directory's target or per volume, serving each of its mounts.
    copies: Vec<VolumeCopy>,
}

/// The services, mounts and copies of the rewrite plan's steps that move a mount.
fn moves(project: &ComposeProject, plan: &Plan) -> Result<Moves, Unsupported> {
    let mut services: BTreeSet<String> = BTreeSet::new();
    let mut copies: Vec<VolumeCopy> = Vec::new();
    let mut mounts = Vec::new();
    for step in &plan.steps {
        let (Some(id), Some(service), Some(target)) = (step.mount, &step.service, &step.target)
        else {
            continue;
        };
        services.insert(service.clone());
        mounts.push(ExpectedMount {
            mount: id,
            service: service.clone(),
            target: target.clone(),
            source: PathBuf::from(&step.new),
        });
        if let Some(copy) = copy_of(project, step, id, (service, target))? {
            // a bind directory is copied once per target, a volume once per volume: the one
            // copy serves each mount
            let known = copies.iter_mut().find(|c| match copy.job.source {
                MountSource::Bind(_) => c.job.target == copy.job.target,
                MountSource::Volume(_) => c.key == copy.key,
            });
            match known {
                Some(known) => known.mounts.push(id),
                None => copies.push(copy),
            }
        }
    }
    Ok(Moves {
        services,
        mounts,
        copies,
    })
}

/// The compose files the rewrite changed, with their text before and after.
fn file_changes(patched: &[Patched]) -> Vec<FileChange> {
    patched
        .iter()
        .filter(|p| p.old != p.new)
        .map(|p| FileChange {
            path: p.file.clone(),
            old: p.old.clone(),
            new: p.new.clone(),
        })
        .collect()
}

/// `services` and every service that mounts their volumes through `volumes_from` (`service`,
/// `service:ro`; not `container:...`), also through another such service: they use the moved
/// data too, so they stop, in the stop order, and start with them (issue 26 row 8). `shares`:
/// each service's `volumes_from` as written (pure).
fn with_volumes_from(
    mut services: BTreeSet<String>,
    shares: &BTreeMap<String, Vec<String>>,
) -> BTreeSet<String> {
    loop {
        let more: Vec<String> = shares
            .iter()
            .filter(|(name, _)| !services.contains(*name))
            .filter(|(_, from)| {
                from.iter()
                    .filter(|e| !e.starts_with("container:"))
                    .any(|e| services.contains(e.split(':').next().unwrap_or_default()))
            })
            .map(|(name, _)| name.clone())
            .collect();
        if more.is_empty() {
            return services;
        }
        services.extend(more);
    }
}

/// The copy a rewrite step needs: a moved bind's directory, or a named volume's data; `None`
/// for a step that moves no data.
fn copy_of(
    project: &ComposeProject,
    step: &crate::plan::Step,
    id: MountId,
    (service, target): (&str, &str),
) -> Result<Option<VolumeCopy>, Unsupported> {
    let unsupported = |reason: &str| Unsupported {
        service: service.to_owned(),
        target: target.to_owned(),
        reason: reason.to_owned(),
    };
    match step.action {
        Action::MoveBind => {
            let from = step
                .from
                .clone()
                .ok_or_else(|| unsupported("the bind's real directory is not known"))?;
            Ok(Some(VolumeCopy {
                key: from.display().to_string(),
                mounts: vec![id],
                job: CopyJob {
                    source: MountSource::Bind(from),
                    target: PathBuf::from(&step.new),
                },
                tier: step.tier.clone(),
                seed: None,
            }))
        }
        Action::VolumeToBind => {
            let (found, mount) = project
                .mount(id)
                .ok_or_else(|| unsupported("the mount is not in the project"))?;
            if mount.subpath.is_some() {
                return Err(unsupported("`volume.subpath` mounts are not migrated yet"));
            }
            let volume = project
                .volume_for(mount)
                .ok_or_else(|| unsupported("the volume is not declared"))?;
            Ok(Some(VolumeCopy {
                key: volume.key.clone(),
                mounts: vec![id],
                job: CopyJob {
                    source: MountSource::Volume(volume.effective_name(&project.name)),
                    target: PathBuf::from(&step.new),
                },
                tier: step.tier.clone(),
                seed: found
                    .image
                    .clone()
                    .filter(|_| !mount.nocopy)
                    .map(|image| Seed {
                        image,
                        path: target.to_owned(),
                    }),
            }))
        }
        _ => Ok(None),
    }
}

/// The steps of a migration with `copies` copies: with a pre-copy, every copy is made and
/// verified while the services run; only the delta and the verify of what changed since (and
/// the metadata of every entry) happen while they are stopped.
pub fn steps_of(copies: usize, options: Options) -> Vec<MigrateStep> {
    let mut steps = Vec::new();
    if options.pre_copy {
        for n in 0..copies {
            steps.extend([
                MigrateStep::CreateDir(n),
                MigrateStep::PreCopy(n),
                MigrateStep::PreVerify(n),
            ]);
        }
        steps.push(MigrateStep::Stop);
        for n in 0..copies {
            steps.extend([MigrateStep::Delta(n), MigrateStep::Verify(n)]);
        }
    } else {
        steps.push(MigrateStep::Stop);
        for n in 0..copies {
            steps.extend([
                MigrateStep::CreateDir(n),
                MigrateStep::Copy(n),
                MigrateStep::Verify(n),
            ]);
        }
    }
    steps.extend([
        MigrateStep::Rewrite,
        MigrateStep::Start,
        MigrateStep::VerifyMounts,
    ]);
    if options.remove_source {
        steps.extend((0..copies).map(MigrateStep::RemoveSource));
    }
    steps
}

/// Each service's `stop_grace_period` as written, in whole seconds.
fn graces(
    project: &ComposeProject,
    services: &[String],
) -> Result<BTreeMap<String, u32>, Unsupported> {
    let mut grace = BTreeMap::new();
    for service in services {
        let written = project
            .services
            .get(service)
            .and_then(|s| s.stop_grace_period.as_deref());
        if let Some(text) = written {
            let secs = grace_secs(text).ok_or_else(|| Unsupported {
                service: service.clone(),
                target: String::new(),
                reason: format!("`stop_grace_period: {text}` is not a compose duration"),
            })?;
            grace.insert(service.clone(), secs);
        }
    }
    Ok(grace)
}

/// A compose duration (`10s`, `1m30s`, `1.5s`, `500ms`, `2h`; a bare number is seconds) in whole
/// seconds, rounded up; `None` when it is not one.
pub fn grace_secs(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(secs) = text.parse::<f64>() {
        return whole_secs(secs);
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    whole_secs(total)
}

fn whole_secs(secs: f64) -> Option<u32> {
    (secs.is_finite() && secs >= 0.0 && secs <= f64::from(u32::MAX)).then(|| secs.ceil() as u32)
}

/// A human description of a step.
pub fn describe(plan: &MigratePlan, step: &MigrateStep) -> String {
    let copy = |n: &usize| plan.copies.get(*n);
    let source = |n: &usize| {
        copy(n)
            .map(|c| match &c.job.source {
                MountSource::Volume(v) => v.clone(),
                MountSource::Bind(p) => p.display().to_string(),
            })
            .unwrap_or_default()
    };
    let target = |n: &usize| {
        copy(n)
            .map(|c| c.job.target.display().to_string())
            .unwrap_or_default()
    };
    if let Some(cross) = &plan.to_context
        && let Some(text) = crate::migrate::cross_plan::describe(cross, step, &source, &target)
    {
        return text;
    }
    match step {
        MigrateStep::Stop if plan.pre_copy => format!(
            "stop {} (pre-copy mode: only the delta is copied while they are down)",
            plan.services.join(", ")
        ),
        MigrateStep::Stop if plan.single_pass => format!(
            "stop {} (single pass: none of them runs, so there is no downtime to save; copied and verified once, no pre-copy)",
            plan.services.join(", ")
        ),
        MigrateStep::Stop => format!(
            "stop {} (stop-first mode: copied and verified while they are down)",
            plan.services.join(", ")
        ),
        MigrateStep::PreCopy(n) => format!(
            "pre-copy {} -> {} while the services run",
            source(n),
            target(n)
        ),
        MigrateStep::Delta(n) => format!("delta of {} since the pre-copy", source(n)),
        MigrateStep::CreateDir(n) => format!("create {}", target(n)),
        MigrateStep::Copy(n) => format!("copy {} -> {}", source(n), target(n)),
        MigrateStep::PreVerify(n) => format!("verify copy of {} while the services run", source(n)),
        MigrateStep::Verify(n) if plan.pre_copy => format!(
            "verify copy of {} (every entry; content changed since the running verify)",
            source(n)
        ),
        MigrateStep::Verify(n) => format!("verify copy of {}", source(n)),
        MigrateStep::Rewrite => format!(
            "rewrite {}",
            plan.files
                .iter()
                .map(|f| f.path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        MigrateStep::Start => "start services".into(),
        MigrateStep::VerifyMounts => "verify mounts".into(),
        MigrateStep::RemoveSource(n) => format!("remove source volume {}", source(n)),
    }
}

#[cfg(test)]
mod tests;
