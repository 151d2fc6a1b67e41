//! Executes a [`MigratePlan`] step by step, recording each step in the [`Journal`], and undoes
//! one (`rollback`). It decides nothing: the plan says what, the journal says what is done.
//!
//! Progress goes to stderr through `indicatif` (hidden when stderr is not a terminal).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use thiserror::Error;

use crate::copy::{self, TargetFacts, TargetState};
use crate::engine::transfer::{Containers, MountSource, Selector};
use crate::journal::{Detail, Journal, JournalError, Progress, Record};
use crate::manifest::{self, Rules};
use crate::plan::migrate::{MigratePlan, MigrateStep};
use crate::write::{self, FileWrite};

/// The compose CLI found on this machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ComposeCli {
    /// The program and its leading arguments (`docker compose` or `docker-compose`).
    pub program: Vec<String>,
    /// `DOCKER_HOST` for it (the endpoint tierctl used).
    pub docker_host: Option<String>,
}

impl ComposeCli {
    /// `docker compose` (v2) when it answers, else `docker-compose` (v1), found on `PATH`.
    pub fn find(docker_host: Option<String>) -> Option<ComposeCli> {
        if let Ok(docker) = which::which("docker") {
            let v2 = Command::new(&docker)
                .args(["compose", "version"])
                .output()
                .is_ok_and(|o| o.status.success());
            if v2 {
                return Some(ComposeCli {
                    program: vec![docker.to_string_lossy().into_owned(), "compose".into()],
                    docker_host,
                });
            }
        }
        which::which("docker-compose").ok().map(|p| ComposeCli {
            program: vec![p.to_string_lossy().into_owned()],
            docker_host,
        })
    }
}

/// The command line that starts `services` of the plan's project.
pub fn up_command(program: &[String], plan: &MigratePlan, services: &[String]) -> Vec<String> {
    let mut args: Vec<String> = program.to_vec();
    args.extend(["-p".into(), plan.project.clone()]);
    for file in &plan.compose_files {
        args.extend(["-f".into(), file.display().to_string()]);
    }
    args.extend(["up".into(), "-d".into()]);
    args.extend(services.iter().cloned());
    args
}

/// What `apply` works with.
pub struct Context<'a> {
    /// The engine.
    pub engine: &'a dyn Containers,
    /// The helper image.
    pub image: String,
    /// The compose CLI (`None`: none installed).
    pub compose: Option<ComposeCli>,
    /// The tier roots (a target must lie inside one).
    pub roots: Vec<PathBuf>,
    /// No `[n/N] step` lines on stderr.
    pub quiet: bool,
    /// What the running services see at their mounts (`tierctl verify`'s machinery); `None`:
    /// only the engine's inspect is checked.
    pub views: Option<&'a dyn MountViews>,
    /// Test hook: sleep at a point of the run, so a test can kill tierctl there.
    pub pause: Option<Pause>,
}

/// A test hook's pause (`TIERCTL_TEST_MIGRATE_PAUSE=STEP[:after]`,
/// `TIERCTL_TEST_MIGRATE_PAUSE_MS`): at `STEP` once its start is journaled, or with `:after`
/// once it ran and before its end is journaled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pause {
    /// The step id (`rewrite`, `copy:0`, ...).
    pub step: String,
    /// After the step ran instead of before.
    pub after: bool,
    /// How long.
    pub duration: Duration,
}

impl Pause {
    /// Parse the hook's two values; `None` unless both are usable.
    pub fn parse(at: Option<&str>, millis: Option<&str>) -> Option<Pause> {
        let at = at?;
        let duration = Duration::from_millis(millis.unwrap_or("60000").parse().ok()?);
        let (step, after) = match at.strip_suffix(":after") {
            Some(step) => (step, true),
            None => (at, false),
        };
        Some(Pause {
            step: step.to_owned(),
            after,
            duration,
        })
    }
}

impl Context<'_> {
    fn pause_at(&self, step: &str, after: bool) {
        if let Some(p) = self
            .pause
            .as_ref()
            .filter(|p| p.step == step && p.after == after)
        {
            self.say(&format!(
                "(test hook: paused at `{step}`{})",
                if after { " after it ran" } else { "" }
            ));
            std::thread::sleep(p.duration);
        }
    }
}

/// One mount as `tierctl verify` judged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewedMount {
    /// The container.
    pub container: String,
    /// Its compose service.
    pub service: String,
    /// The path inside the container.
    pub target: String,
    /// The verdict id (`ok`, `df-mismatch`, `marker-missing`, ...).
    pub verdict: String,
    /// Why, when not `ok`.
    pub reasons: Vec<String>,
}

/// The effect behind "verify mounts": observe what the project's running containers see at
/// their mounts and judge each one, as `tierctl verify` does.
pub trait MountViews {
    /// Every bind and volume mount of the project's running containers.
    fn view(&self, project: &str) -> Result<Vec<ViewedMount>, String>;
}

/// Pure: the problems among `seen` for the mounts the plan expects of the `running` services.
pub fn mount_problems(plan: &MigratePlan, running: &[String], seen: &[ViewedMount]) -> Vec<String> {
    let mut problems = Vec::new();
    for expected in plan.mounts.iter().filter(|m| running.contains(&m.service)) {
        let views: Vec<&ViewedMount> = seen
            .iter()
            .filter(|v| {
                v.service == expected.service
                    && crate::compose::target::same(&v.target, &expected.target)
            })
            .collect();
        if views.is_empty() {
            problems.push(format!(
                "service `{}`: `tierctl verify` saw no mount at `{}`",
                expected.service, expected.target
            ));
        }
        for v in views.into_iter().filter(|v| v.verdict != "ok") {
            problems.push(format!(
                "container `{}` at `{}`: {} ({})",
                v.container,
                v.target,
                v.verdict,
                v.reasons.join("; ")
            ));
        }
    }
    problems
}

impl Context<'_> {
    /// One line of progress on stderr (progress is not output: stdout holds the report).
    fn say(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }
}

/// Why a migration stopped.
#[derive(Debug, Error)]
pub enum ApplyError {
    /// A step failed; what was done before it stays done.
    #[error("step `{step}` failed: {message}")]
    Step {
        /// The step.
        step: String,
        /// Why.
        message: String,
        /// The journal (to resume or roll back).
        journal: PathBuf,
        /// Steps done before.
        done: Vec<String>,
    },
    /// Refused before anything changed.
    #[error("{0}")]
    Refused(String),
    /// The journal could not be used.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl ApplyError {
    /// What the user can do.
    pub fn hint(&self) -> String {
        match self {
            ApplyError::Step { journal, done, .. } => format!(
                "done before the failure: {}; fix the cause and run `tierctl migrate --resume`, or undo with `tierctl migrate --rollback` (journal `{}`); the source data was not touched",
                if done.is_empty() {
                    "nothing".to_owned()
                } else {
                    done.join(", ")
                },
                journal.display()
            ),
            ApplyError::Refused(_) => "nothing was changed".into(),
            ApplyError::Journal(_) => {
                "check the `.tierctl` directory beside the compose file".into()
            }
        }
    }
}

/// One step's result, for the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    /// The step id.
    pub step: String,
    /// What happened (`done`, `already done`, `skipped: ...`).
    pub result: String,
}

/// A finished run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The journal.
    pub journal: PathBuf,
    /// Every step.
    pub steps: Vec<StepOutcome>,
    /// Source volumes left in place (removed later with `--prune-source`).
    pub kept: Vec<String>,
}

/// The closing line of a finished migration: which source volumes stay and how to remove them.
pub fn kept_line(kept: &[String]) -> String {
    match kept {
        [] => "done.".into(),
        [one] => format!(
            "done. Source volume {one} kept; remove it with `tierctl migrate --prune-source` after you are happy."
        ),
        many => format!(
            "done. Source volumes {} kept; remove them with `tierctl migrate --prune-source` after you are happy.",
            many.join(", ")
        ),
    }
}

/// The source volumes of `plan` whose removal is not journaled as done.
fn kept_volumes(plan: &MigratePlan, progress: &Progress) -> Vec<String> {
    plan.copies
        .iter()
        .enumerate()
        .filter(|(n, _)| {
            !progress
                .done
                .contains_key(&MigrateStep::RemoveSource(*n).id())
        })
        .filter_map(|(_, c)| match &c.job.source {
            MountSource::Volume(name) => Some(name.clone()),
            MountSource::Bind(_) => None,
        })
        .collect()
}

/// Check, before anything changes, that the plan can run: every source volume exists (and is
/// not created by looking), no running container outside the plan mounts one, every target may
/// receive its copy.
pub fn preflight(ctx: &Context<'_>, plan: &MigratePlan) -> Result<(), ApplyError> {
    let engine_err = |e: crate::engine::EngineError| ApplyError::Refused(e.to_string());
    for copy in &plan.copies {
        if let MountSource::Volume(name) = &copy.job.source {
            if !ctx.engine.volume_exists(name).map_err(engine_err)? {
                return Err(ApplyError::Refused(format!(
                    "volume `{name}` does not exist on the engine: nothing to copy (start the project once, or check the project name)"
                )));
            }
            for c in ctx
                .engine
                .list(&Selector::Volume(name.clone()))
                .map_err(engine_err)?
            {
                let ours = c.project.as_deref() == Some(plan.project.as_str())
                    && c.service
                        .as_ref()
                        .is_some_and(|s| plan.services.contains(s));
                if c.running && !ours {
                    return Err(ApplyError::Refused(format!(
                        "volume `{name}` is in use by container `{}` outside the plan: stop it first",
                        c.name
                    )));
                }
            }
        }
        copy::check_target(
            &copy.job.target,
            &ctx.roots,
            &target_facts(&copy.job.target),
            false,
        )
        .map_err(|e| ApplyError::Refused(e.to_string()))?;
    }
    Ok(())
}

/// What the host shows at `path`.
pub fn target_facts(path: &Path) -> TargetFacts {
    let meta = std::fs::symlink_metadata(path).ok();
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while std::fs::symlink_metadata(&existing).is_err() {
        match (
            existing.file_name().map(ToOwned::to_owned),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let real = std::fs::canonicalize(&existing).ok().map(|mut real| {
        for name in rest.iter().rev() {
            real.push(name);
        }
        real
    });
    TargetFacts {
        exists: meta.is_some(),
        is_dir: meta.as_ref().is_some_and(|m| m.is_dir()),
        empty: std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none()),
        real,
    }
}

fn bar(message: String) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} {spinner} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn bytes_bar(message: String, total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} {bytes}/{total_bytes} [{wide_bar}] {bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(message);
    bar
}

/// Run (or continue) the journal's migration.
pub fn run(
    ctx: &Context<'_>,
    journal: &mut Journal,
    records: &[Record],
) -> Result<Outcome, ApplyError> {
    let mut progress = Progress::of(records).ok_or_else(|| JournalError::NoPlan {
        path: journal.path.clone(),
    })?;
    let plan = progress.plan.clone();
    let total = plan.steps.len();
    let mut outcome = Outcome {
        journal: journal.path.clone(),
        steps: Vec::new(),
        kept: Vec::new(),
    };
    // a killed run may have left a helper behind (a copy still writing)
    remove_helpers(ctx, &journal.id);
    for (index, step) in plan.steps.iter().enumerate() {
        let id = step.id();
        let label = format!("[{}/{total}] {}", index + 1, describe(&plan, step));
        if progress.done.contains_key(&id) {
            ctx.say(&format!("{label}  already done"));
            outcome.steps.push(StepOutcome {
                step: id,
                result: "already done".into(),
            });
            continue;
        }
        let retried = progress.begun.contains(&id);
        journal.append(&Record::Start { step: id.clone() })?;
        ctx.pause_at(&id, false);
        let executed = execute(ctx, &plan, &progress, step, retried, &journal.id, &label);
        ctx.pause_at(&id, true);
        match executed {
            Ok((detail, result)) => {
                ctx.say(&format!("{label}  {result}"));
                journal.append(&Record::Done {
                    step: id.clone(),
                    detail: detail.clone(),
                })?;
                progress.done.insert(id.clone(), detail);
                outcome.steps.push(StepOutcome { step: id, result });
            }
            Err(message) => {
                ctx.say(&format!("{label}  failed"));
                journal.append(&Record::Failed {
                    step: id.clone(),
                    error: message.clone(),
                })?;
                let done = plan
                    .steps
                    .iter()
                    .map(MigrateStep::id)
                    .filter(|s| progress.done.contains_key(s))
                    .collect();
                return Err(ApplyError::Step {
                    step: id,
                    message,
                    journal: journal.path.clone(),
                    done,
                });
            }
        }
    }
    journal.append(&Record::Finished)?;
    remove_seed_volumes(ctx, &progress);
    outcome.kept = kept_volumes(&plan, &progress);
    ctx.say(&kept_line(&outcome.kept));
    Ok(outcome)
}

/// After a finished migration: remove each source volume whose copy verified and whose services
/// started on it (`tierctl migrate --prune-source`), journaled like a step.
pub fn prune_sources(
    ctx: &Context<'_>,
    journal: &mut Journal,
    records: &[Record],
) -> Result<Outcome, ApplyError> {
    let mut progress = Progress::of(records).ok_or_else(|| JournalError::NoPlan {
        path: journal.path.clone(),
    })?;
    if !progress.finished || progress.rolled_back {
        return Err(ApplyError::Refused(format!(
            "the migration of journal `{}` is not finished (or was rolled back): the source volumes stay",
            journal.path.display()
        )));
    }
    let plan = progress.plan.clone();
    let mut steps = Vec::new();
    for n in 0..plan.copies.len() {
        let step = MigrateStep::RemoveSource(n);
        let id = step.id();
        if progress.done.contains_key(&id) {
            continue;
        }
        let path = journal.path.clone();
        let fail = |message: String| ApplyError::Step {
            step: id.clone(),
            message,
            journal: path.clone(),
            done: Vec::new(),
        };
        if !progress.done.contains_key(&MigrateStep::VerifyMounts.id()) {
            return Err(fail(
                "the services' mounts were not verified: the source stays".into(),
            ));
        }
        journal.append(&Record::Start { step: id.clone() })?;
        let label = describe(&plan, &step);
        let (detail, result) =
            execute(ctx, &plan, &progress, &step, false, &journal.id, &label).map_err(fail)?;
        ctx.say(&format!("{label}  {result}"));
        journal.append(&Record::Done {
            step: id.clone(),
            detail: detail.clone(),
        })?;
        progress.done.insert(id.clone(), detail);
        steps.push(StepOutcome { step: id, result });
    }
    Ok(Outcome {
        journal: journal.path.clone(),
        steps,
        kept: kept_volumes(&plan, &progress),
    })
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
    match step {
        MigrateStep::Stop => format!("stop {}", plan.services.join(", ")),
        MigrateStep::CreateDir(n) => format!("create {}", target(n)),
        MigrateStep::Copy(n) => format!("copy {} -> {}", source(n), target(n)),
        MigrateStep::Verify(n) => format!("verify copy of {} (blake3)", source(n)),
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

/// The temporary volume the engine fills from the image for copy `n`.
fn seed_volume(journal: &str, n: usize) -> String {
    format!("tierctl-seed-{journal}-{n}")
}

/// A container of the service's image (never started) with the temporary volume at the mount
/// path: creating it fills the volume.
fn seed_spec(
    seed: &crate::plan::migrate::Seed,
    volume: &str,
    journal: &str,
) -> crate::engine::transfer::ContainerSpec {
    crate::engine::transfer::ContainerSpec {
        image: seed.image.clone(),
        command: vec!["true".into()],
        mounts: vec![crate::engine::transfer::MountSpec {
            source: MountSource::Volume(volume.to_owned()),
            target: seed.path.clone(),
            read_only: false,
        }],
        cap_add: Vec::new(),
        purpose: "seed".into(),
        journal: Some(journal.to_owned()),
    }
}

/// Remove the temporary seed volumes (best effort: they hold a copy of image content only).
fn remove_seed_volumes(ctx: &Context<'_>, progress: &Progress) {
    for detail in progress.done.values() {
        if let Detail::Seeded { volume } = detail {
            let _ = ctx.engine.remove_volume(volume);
        }
    }
}

fn remove_helpers(ctx: &Context<'_>, journal: &str) {
    if let Ok(left) = ctx.engine.list(&Selector::Journal(journal.to_owned())) {
        for c in left {
            let _ = ctx.engine.remove(&c.id);
        }
    }
}

fn running_services(progress: &Progress) -> Vec<String> {
    match progress.done.get("stop") {
        Some(Detail::Stopped { running }) => running.clone(),
        _ => Vec::new(),
    }
}

fn execute(
    ctx: &Context<'_>,
    plan: &MigratePlan,
    progress: &Progress,
    step: &MigrateStep,
    retried: bool,
    journal: &str,
    label: &str,
) -> Result<(Detail, String), String> {
    let e = |e: crate::engine::EngineError| e.to_string();
    match step {
        MigrateStep::Stop => {
            let bar = bar(label.to_owned());
            let containers = ctx
                .engine
                .list(&Selector::Project(plan.project.clone()))
                .map_err(e)?;
            let mut running = Vec::new();
            for c in containers {
                let Some(service) = c.service.clone() else {
                    continue;
                };
                if c.running && plan.services.contains(&service) {
                    ctx.engine.stop(&c.id, plan.grace_of(&service)).map_err(e)?;
                    if !running.contains(&service) {
                        running.push(service);
                    }
                }
            }
            bar.finish_and_clear();
            let result = format!("stopped: {}", list_or_none(&running));
            Ok((Detail::Stopped { running }, result))
        }
        MigrateStep::CreateDir(n) => {
            let target = &plan.copies[*n].job.target;
            let facts = target_facts(target);
            let state = copy::check_target(target, &ctx.roots, &facts, retried)
                .map_err(|e| e.to_string())?;
            match state {
                TargetState::Missing => {
                    let made = topmost_missing(target);
                    std::fs::create_dir_all(target)
                        .map_err(|err| format!("cannot create `{}`: {err}", target.display()))?;
                    Ok((Detail::Created { made }, "created".into()))
                }
                TargetState::Empty => Ok((Detail::Created { made: None }, "exists, empty".into())),
                TargetState::JournaledCopy => {
                    ctx.engine
                        .run(&copy::wipe_spec(target, &ctx.image, journal))
                        .map_err(e)?;
                    Ok((
                        Detail::Created { made: None },
                        "partial copy removed".into(),
                    ))
                }
            }
        }
        MigrateStep::Copy(n) => {
            let copy = &plan.copies[*n];
            let mut job = copy.job.clone();
            let mut detail = Detail::None;
            let facts = target_facts(&job.target);
            // not empty here means this journal's own partial copy: `create` passed it empty
            if facts.exists && !facts.empty {
                ctx.engine
                    .run(&copy::wipe_spec(&job.target, &ctx.image, journal))
                    .map_err(e)?;
            }
            let mut size = copy::parse_size(
                &ctx.engine
                    .run(&copy::measure_spec(&job, &ctx.image, journal))
                    .map_err(e)?,
            )
            .unwrap_or_default();
            // an empty volume gets what a fresh one would have: the image's content
            if let (Some(seed), true) = (&copy.seed, size.entries <= 1) {
                let volume = seed_volume(journal, *n);
                ctx.engine
                    .populate(&seed_spec(seed, &volume, journal))
                    .map_err(e)?;
                job.source = MountSource::Volume(volume.clone());
                size = copy::parse_size(
                    &ctx.engine
                        .run(&copy::measure_spec(&job, &ctx.image, journal))
                        .map_err(e)?,
                )
                .unwrap_or_default();
                detail = Detail::Seeded { volume };
            }
            let job = &job;
            let bar = bytes_bar(label.to_owned(), size.bytes);
            let stop = AtomicBool::new(false);
            let result = std::thread::scope(|scope| {
                scope.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        bar.set_position(tree_bytes(&job.target));
                        std::thread::sleep(Duration::from_millis(500));
                    }
                });
                let r = ctx
                    .engine
                    .run(&copy::copy_spec(job, &ctx.image, journal, size.devices));
                stop.store(true, Ordering::Relaxed);
                r
            });
            bar.finish_and_clear();
            result.map_err(e)?;
            let from_image = if matches!(detail, Detail::Seeded { .. }) {
                " (the volume was empty: seeded from the image)"
            } else {
                ""
            };
            Ok((
                detail,
                format!("{} bytes, {} entries{from_image}", size.bytes, size.entries),
            ))
        }
        MigrateStep::Verify(n) => {
            let mut job = plan.copies[*n].job.clone();
            if let Some(Detail::Seeded { volume }) = progress.done.get(&MigrateStep::Copy(*n).id())
            {
                job.source = MountSource::Volume(volume.clone());
            }
            let job = &job;
            let hashed = AtomicU64::new(0);
            let bar = bar(label.to_owned());
            let done = AtomicBool::new(false);
            let trees = std::thread::scope(|scope| {
                scope.spawn(|| {
                    while !done.load(Ordering::Relaxed) {
                        bar.set_message(format!(
                            "{label} {} MiB hashed",
                            hashed.load(Ordering::Relaxed) >> 20
                        ));
                        std::thread::sleep(Duration::from_millis(300));
                    }
                });
                let r = crate::tree::copy_manifests(
                    ctx.engine,
                    job,
                    &copy::verify_spec(job, &ctx.image, journal),
                    &hashed,
                );
                done.store(true, Ordering::Relaxed);
                r
            });
            bar.finish_and_clear();
            let (trees, ways) = trees.map_err(|e| e.to_string())?;
            let read = format!("source read {}, copy read {}", ways[0], ways[1]);
            let differences = manifest::compare(&trees[0], &trees[1], Rules::default());
            if !differences.is_empty() {
                let shown: Vec<String> =
                    differences.iter().take(20).map(|d| d.to_string()).collect();
                return Err(format!(
                    "the copy differs from the source in {} place(s) ({read}): {}",
                    differences.len(),
                    shown.join("; ")
                ));
            }
            Ok((
                Detail::Verified {
                    entries: trees[0].len(),
                    bytes: trees[0].bytes(),
                },
                format!(
                    "ok: {} entries, {} bytes, blake3; {read}",
                    trees[0].len(),
                    trees[0].bytes()
                ),
            ))
        }
        MigrateStep::Rewrite => {
            let mut files = Vec::new();
            for change in &plan.files {
                let current = std::fs::read_to_string(&change.path)
                    .map_err(|err| format!("cannot read `{}`: {err}", change.path.display()))?;
                if current == change.new {
                    continue;
                }
                if current != change.old {
                    return Err(format!(
                        "`{}` changed since the migration was planned",
                        change.path.display()
                    ));
                }
                files.push(FileWrite {
                    path: change.path.clone(),
                    read_hash: write::hash(&change.old),
                    text: change.new.clone(),
                });
            }
            let backups = write::write_all(&files, journal).map_err(|e| e.to_string())?;
            let pairs: Vec<(PathBuf, PathBuf)> =
                files.iter().map(|f| f.path.clone()).zip(backups).collect();
            let result = format!("{} file(s) written", pairs.len());
            Ok((Detail::Rewritten { backups: pairs }, result))
        }
        MigrateStep::Start => {
            let running = running_services(progress);
            if running.is_empty() {
                return Ok((Detail::None, "skipped: no service was running".into()));
            }
            start(ctx, plan, &running)?;
            Ok((Detail::None, format!("started: {}", running.join(", "))))
        }
        MigrateStep::VerifyMounts => {
            let running = running_services(progress);
            if running.is_empty() {
                // nothing was started, so no container shows its mounts; `tierctl verify`
                // checks them once the services run
                return Ok((
                    Detail::None,
                    "skipped: no service was running (run `tierctl verify` after starting them)"
                        .into(),
                ));
            }
            let containers = ctx
                .engine
                .list(&Selector::Project(plan.project.clone()))
                .map_err(e)?;
            let mut checked = 0;
            for expected in plan.mounts.iter().filter(|m| running.contains(&m.service)) {
                let seen = containers.iter().filter(|c| {
                    c.running && c.service.as_deref() == Some(expected.service.as_str())
                });
                let mut any = false;
                for c in seen {
                    any = true;
                    let ok = c.mounts.iter().any(|(source, dest)| {
                        crate::compose::target::same(dest, &expected.target)
                            && Path::new(source) == expected.source
                    });
                    if !ok {
                        return Err(format!(
                            "container `{}` does not bind `{}` at `{}`",
                            c.name,
                            expected.source.display(),
                            expected.target
                        ));
                    }
                    checked += 1;
                }
                if !any {
                    return Err(format!(
                        "service `{}` is not running after the start",
                        expected.service
                    ));
                }
            }
            let Some(views) = ctx.views else {
                return Ok((Detail::None, format!("ok: {checked} mount(s)")));
            };
            let seen = views.view(&plan.project)?;
            let problems = mount_problems(plan, &running, &seen);
            if !problems.is_empty() {
                return Err(format!(
                    "the services do not see their tier directories: {}",
                    problems.join("; ")
                ));
            }
            Ok((
                Detail::None,
                format!("ok: {checked} mount(s), tierctl verify ok"),
            ))
        }
        MigrateStep::RemoveSource(n) => {
            if !matches!(
                progress.done.get(&MigrateStep::Verify(*n).id()),
                Some(Detail::Verified { .. })
            ) {
                return Err("the copy was not verified: the source stays".into());
            }
            match &plan.copies[*n].job.source {
                MountSource::Volume(name) => {
                    ctx.engine.remove_volume(name).map_err(e)?;
                    Ok((Detail::None, format!("volume `{name}` removed")))
                }
                MountSource::Bind(path) => Ok((
                    Detail::None,
                    format!(
                        "kept `{}`: tierctl never removes a host directory",
                        path.display()
                    ),
                )),
            }
        }
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none was running".into()
    } else {
        items.join(", ")
    }
}

fn start(ctx: &Context<'_>, plan: &MigratePlan, services: &[String]) -> Result<(), String> {
    let Some(cli) = &ctx.compose else {
        return Err(format!(
            "no compose CLI found (`docker compose` or `docker-compose`): start the services yourself with `{}`",
            up_command(&["docker".into(), "compose".into()], plan, services).join(" ")
        ));
    };
    let args = up_command(&cli.program, plan, services);
    let mut command = Command::new(&args[0]);
    command.args(&args[1..]).current_dir(&plan.project_dir);
    if let Some(host) = &cli.docker_host {
        command.env("DOCKER_HOST", host);
    }
    let output = command
        .output()
        .map_err(|err| format!("cannot run `{}`: {err}", args.join(" ")))?;
    if !output.status.success() {
        return Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(())
}

/// The topmost directory `create_dir_all(path)` would make.
fn topmost_missing(path: &Path) -> Option<PathBuf> {
    let mut top = None;
    let mut current = Some(path);
    while let Some(p) = current {
        if p.exists() {
            break;
        }
        top = Some(p.to_path_buf());
        current = p.parent();
    }
    top
}

/// Bytes of regular files under `dir` (progress only; errors count as 0).
fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// Undo the journal's migration: stop the services, write the files back as they were, start
/// the services that were running on their old volumes. The copies stay (the user may still
/// want them) unless `discard_copy`: then only the copies this journal made are removed.
/// Refused once a source volume was removed. On a journal already rolled back, only
/// `discard_copy` has something left to do.
pub fn rollback(
    ctx: &Context<'_>,
    journal: &mut Journal,
    records: &[Record],
    discard_copy: bool,
) -> Result<Outcome, ApplyError> {
    let progress = Progress::of(records).ok_or_else(|| JournalError::NoPlan {
        path: journal.path.clone(),
    })?;
    if progress.rolled_back {
        if !discard_copy {
            return Err(ApplyError::Refused(format!(
                "the migration of journal `{}` was already rolled back (add `--discard-copy` to remove the copies it kept)",
                journal.path.display()
            )));
        }
        let steps = discard_copies(ctx, journal, &progress)?;
        return Ok(Outcome {
            journal: journal.path.clone(),
            steps,
            kept: Vec::new(),
        });
    }
    let plan = &progress.plan;
    if progress
        .done
        .keys()
        .any(|k| k.starts_with("remove-source:"))
    {
        return Err(ApplyError::Refused(
            "a source volume was already removed: the copy is the only data left, so it is not rolled back".into(),
        ));
    }
    let fail = |step: &str, message: String| ApplyError::Step {
        step: step.to_owned(),
        message,
        journal: journal.path.clone(),
        done: Vec::new(),
    };
    let mut steps = Vec::new();
    remove_helpers(ctx, &journal.id);
    // 1. the services run on the copies: stop them
    let e = |e: crate::engine::EngineError| e.to_string();
    let containers = ctx
        .engine
        .list(&Selector::Project(plan.project.clone()))
        .map_err(|err| fail("stop", e(err)))?;
    for c in containers.iter().filter(|c| {
        c.running
            && c.service
                .as_ref()
                .is_some_and(|s| plan.services.contains(s))
    }) {
        let grace = plan.grace_of(c.service.as_deref().unwrap_or_default());
        ctx.engine
            .stop(&c.id, grace)
            .map_err(|err| fail("stop", e(err)))?;
    }
    steps.push(StepOutcome {
        step: "stop".into(),
        result: "done".into(),
    });
    // 2. the files, byte for byte
    let mut files = Vec::new();
    for change in &plan.files {
        let current = std::fs::read_to_string(&change.path).map_err(|err| {
            fail(
                "restore",
                format!("cannot read `{}`: {err}", change.path.display()),
            )
        })?;
        if current != change.old {
            files.push(FileWrite {
                path: change.path.clone(),
                read_hash: write::hash(&current),
                text: change.old.clone(),
            });
        }
    }
    let stamp = format!("{}-rollback", journal.id);
    write::write_all(&files, &stamp).map_err(|err| fail("restore", err.to_string()))?;
    steps.push(StepOutcome {
        step: "restore".into(),
        result: format!("{} file(s) restored", files.len()),
    });
    // 3. the copies stay unless asked: only the ones this journal made go
    if discard_copy {
        steps.extend(discard_copies(ctx, journal, &progress)?);
    } else {
        for copy in progress
            .plan
            .copies
            .iter()
            .filter(|c| c.job.target.is_dir())
        {
            steps.push(StepOutcome {
                step: "keep-copy".into(),
                result: format!(
                    "kept the copy in `{}` (remove it with `tierctl migrate --rollback --discard-copy`)",
                    copy.job.target.display()
                ),
            });
        }
    }
    // 4. the services that ran, on their old volumes
    let running = running_services(&progress);
    if !running.is_empty() {
        start(ctx, plan, &running).map_err(|m| fail("start", m))?;
    }
    steps.push(StepOutcome {
        step: "start".into(),
        result: format!("started: {}", list_or_none(&running)),
    });
    remove_seed_volumes(ctx, &progress);
    journal.append(&Record::RolledBack)?;
    Ok(Outcome {
        journal: journal.path.clone(),
        steps,
        kept: Vec::new(),
    })
}

/// Remove the copies this journal made (wiped by a helper, then the directories it created).
fn discard_copies(
    ctx: &Context<'_>,
    journal: &Journal,
    progress: &Progress,
) -> Result<Vec<StepOutcome>, ApplyError> {
    let fail = |message: String| ApplyError::Step {
        step: "remove-copy".into(),
        message,
        journal: journal.path.clone(),
        done: Vec::new(),
    };
    let mut steps = Vec::new();
    for (n, copy) in progress.plan.copies.iter().enumerate() {
        let create = MigrateStep::CreateDir(n).id();
        let made = match progress.done.get(&create) {
            Some(Detail::Created { made }) => made.clone(),
            _ if progress.begun.contains(&create) => topmost_missing(&copy.job.target),
            _ => continue,
        };
        let target = &copy.job.target;
        if target.is_dir() {
            ctx.engine
                .run(&copy::wipe_spec(target, &ctx.image, &journal.id))
                .map_err(|err| fail(err.to_string()))?;
        }
        if let Some(top) = made {
            let mut dir = Some(target.as_path());
            while let Some(d) = dir {
                let _ = std::fs::remove_dir(d);
                if d == top {
                    break;
                }
                dir = d.parent();
            }
        }
        steps.push(StepOutcome {
            step: format!("remove-copy:{n}"),
            result: format!("removed the copy in `{}`", target.display()),
        });
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewed(service: &str, target: &str, verdict: &str) -> ViewedMount {
        ViewedMount {
            container: format!("app-{service}-1"),
            service: service.into(),
            target: target.into(),
            verdict: verdict.into(),
            reasons: vec!["the marker file is not visible".into()],
        }
    }

    #[test]
    fn verify_mounts_accepts_ok_views_and_reports_a_mismatch_or_a_missing_mount() {
        let plan = MigratePlan {
            mounts: vec![
                crate::plan::migrate::ExpectedMount {
                    service: "db".into(),
                    target: "/data".into(),
                    source: "/tiers/fast/app/db".into(),
                },
                crate::plan::migrate::ExpectedMount {
                    service: "cache".into(),
                    target: "/cache".into(),
                    source: "/tiers/fast/app/cache".into(),
                },
            ],
            ..MigratePlan::default()
        };
        let running = vec!["db".to_owned()];
        // `cache` was not running: not expected; other mounts are not judged
        let seen = vec![
            viewed("db", "/data", "ok"),
            viewed("db", "/tmp", "named-volume"),
        ];
        assert!(mount_problems(&plan, &running, &seen).is_empty());
        let seen = vec![viewed("db", "/data", "marker-missing")];
        assert_eq!(
            mount_problems(&plan, &running, &seen),
            ["container `app-db-1` at `/data`: marker-missing (the marker file is not visible)"]
        );
        assert_eq!(
            mount_problems(&plan, &running, &[]),
            ["service `db`: `tierctl verify` saw no mount at `/data`"]
        );
    }

    #[test]
    fn the_pause_hook_names_a_step_and_optionally_after() {
        assert_eq!(
            Pause::parse(Some("rewrite:after"), Some("1500")),
            Some(Pause {
                step: "rewrite".into(),
                after: true,
                duration: Duration::from_millis(1500)
            })
        );
        assert_eq!(
            Pause::parse(Some("copy:0"), None).map(|p| (p.step, p.after)),
            Some(("copy:0".to_owned(), false))
        );
        assert_eq!(Pause::parse(None, Some("5")), None);
        assert_eq!(Pause::parse(Some("rewrite"), Some("soon")), None);
    }

    #[test]
    fn the_up_command_names_the_project_files_and_services() {
        let plan = MigratePlan {
            project: "immich".into(),
            compose_files: vec!["/srv/a.yml".into(), "/srv/b.yml".into()],
            ..MigratePlan::default()
        };
        assert_eq!(
            up_command(&["docker-compose".into()], &plan, &["db".into()]).join(" "),
            "docker-compose -p immich -f /srv/a.yml -f /srv/b.yml up -d db"
        );
    }

    #[test]
    fn target_facts_see_a_symlink_on_the_way_to_a_missing_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let real = dir.path().join("real");
        std::fs::create_dir(&real).expect("dir");
        std::os::unix::fs::symlink(&real, dir.path().join("link")).expect("symlink");
        let canonical = std::fs::canonicalize(dir.path()).expect("canonical");
        let facts = target_facts(&canonical.join("link/db"));
        assert!(!facts.exists);
        assert_eq!(facts.real, Some(canonical.join("real/db")));
        let facts = target_facts(&canonical.join("real"));
        assert!(facts.exists && facts.is_dir && facts.empty);
    }
}
