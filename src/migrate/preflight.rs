//! Before anything changes: everything a migration needs is checked, and a failure changes
//! nothing (no journal, no stop, no directory): the project lock is held, no unfinished journal,
//! the engine answers, the compose CLI that starts the services again exists, the source volumes
//! exist and no container outside the plan uses one, the engine sees every bind source and every
//! target's tier root as the host does (the bind probe: marker file and filesystem; on a VM, the
//! missing share is named), the helper image is on the engine (the bind probe runs it),
//! every target may receive its copy, is writable, keeps the owners of its source's files (a
//! chown that fails or does not stick there refuses: `db-on-vm-share`), and its filesystem has
//! room for the measured sources plus a margin (measured by a helper, or on the host when the
//! copy runs there: [`host_measure`]), and no running service the plan stops would be killed
//! by its stop instead of ending ([`stop_signal`]: refused unless `--force`). And what the host
//! shows at a target.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::copy::{self, CopyJob, TargetFacts};
use super::journal::{self, JournalState};
use super::late_writes::{self, LateWriteError};
use super::owners;
use super::plan::{MigratePlan, MigrateStep};
use super::stop_signal;
use super::{MigrateContext, MigrateError, VmFix, steps, tier_dirs};
use super::{host_apply, host_measure};
use crate::engine::probe::{self as bind_probe, Verdict};
use crate::engine::{ContainerState, EngineError, MountSource, Selector};
use crate::lock::ProjectLock;
use crate::vm::view::Coverage;

/// Room kept free on a target's filesystem beyond the measured sources: a twentieth of their
/// size, a block per entry (directories, small files) and 8 MiB.
pub fn margin(bytes: u64, entries: u64) -> u64 {
    bytes / 20 + entries * 4096 + (8 << 20)
}

/// Check, before anything changes, that the plan can run (see the module's text). `_lock`:
/// the project lock, held by the caller for the whole run.
pub fn preflight(
    ctx: &MigrateContext<'_>,
    plan: &MigratePlan,
    _lock: &ProjectLock,
) -> Result<(), MigrateError> {
    read_only(ctx, plan)?;
    probes(ctx, plan)
}

/// The checks of [`preflight`] that change nothing anywhere, which `--dry-run` runs too (issue
/// 26 row 11): no unfinished journal, the engine answers, the compose CLI, every source volume
/// and its outside users, every target. The bind probe (a marker file), the writable probe and
/// the measure helper's chown probe write, and run only before a real run ([`probes`]).
pub fn read_only(ctx: &MigrateContext<'_>, plan: &MigratePlan) -> Result<(), MigrateError> {
    unfinished_journal(plan)?;
    ctx.engine.info().map_err(|e| refused(&e))?;
    let mut problems = Vec::new();
    let running = steps::running_services(ctx, plan).map_err(MigrateError::Refused)?;
    if ctx.compose.is_none() && !running.is_empty() {
        problems.push(format!(
            "no compose CLI found (`docker compose` or `docker-compose`) to start {} again after the copy: install one first",
            running.join(", ")
        ));
    }
    if let Some(cli) = &ctx.compose
        && let Err(why) = cli.program(ctx.engine, &plan.project)
    {
        problems.push(why);
    }
    let targets: Vec<PathBuf> = plan.copies.iter().map(|c| c.job.target.clone()).collect();
    let facts = tier_dirs::facts(ctx, &targets).map_err(MigrateError::Refused)?;
    let mut stopped = Vec::new();
    for (copy, facts) in plan.copies.iter().zip(&facts) {
        if let MountSource::Volume(name) = &copy.job.source {
            stopped.extend(volume_problems(ctx, plan, name, &mut problems)?);
        }
        if let Err(e) = copy::check_target(&copy.job.target, &ctx.roots, facts, false) {
            problems.push(e.to_string());
        }
    }
    let killed = killed_services(ctx, plan, &mut problems)?;
    if !stopped.is_empty() {
        return Err(MigrateError::Blocked {
            message: refusal_text(&problems),
            hint: stopped_users_hint(&stopped, "the same command with `--force`"),
        });
    }
    if !killed.is_empty() {
        return Err(MigrateError::Blocked {
            message: refusal_text(&problems),
            hint: killed_hint(&killed),
        });
    }
    if !problems.is_empty() {
        return Err(refusal(problems));
    }
    Ok(())
}

/// The running services the plan stops whose main process would be killed by the stop (issue
/// 26 row 10: [`stop_signal`]), each a problem; with `--force` a warning. Returns the services
/// refused.
fn killed_services(
    ctx: &MigrateContext<'_>,
    plan: &MigratePlan,
    problems: &mut Vec<String>,
) -> Result<Vec<String>, MigrateError> {
    let mut refused_services = Vec::new();
    for killed in stop_signal::problems(ctx, plan).map_err(|e| refused(&e))? {
        match ctx.force {
            true => eprintln!("warning: {} (going on: --force)", killed.problem),
            false => {
                problems.push(killed.problem);
                if !refused_services.contains(&killed.service) {
                    refused_services.push(killed.service);
                }
            }
        }
    }
    Ok(refused_services)
}

/// The hint of a refusal that names services their stop would kill (pure).
pub fn killed_hint(services: &[String]) -> String {
    format!(
        "nothing was changed; give {} `init: true` in the compose file, or a command that handles its stop signal (or a `stop_signal` it handles), and `docker compose up -d` it; `--force` stops it anyway, and what it had not written is lost",
        services
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The checks of [`preflight`] that write a probe file: the engine sees the bind sources and
/// tier roots as the host does, each target is writable, keeps its source's owners and has
/// room.
fn probes(ctx: &MigrateContext<'_>, plan: &MigratePlan) -> Result<(), MigrateError> {
    let mut problems = Vec::new();
    if let Some(context) = &ctx.elsewhere {
        // another machine: its paths are seen by its engine only, there is no host view to
        // compare with (the bind probe's marker file would be written here)
        problems.extend(tier_dirs::room_and_access_elsewhere(ctx, context, plan)?);
        return match problems.is_empty() {
            true => Ok(()),
            false => Err(refusal(problems)),
        };
    }
    problems.extend(seen_as_on_host(ctx, plan)?);
    if !problems.is_empty() {
        return Err(refusal(problems));
    }
    problems.extend(room_and_access(ctx, plan, true)?);
    if !problems.is_empty() {
        return Err(refusal(problems));
    }
    Ok(())
}

/// Preflight's "no container outside the plan uses a source volume", again before a resumed
/// run goes on: a container started since the first run's preflight could keep writing into a
/// volume the copy reads, and what it writes would stay behind. Past the rewrite (issue 26 row
/// 3) the same, and every source is compared with the manifest its copy verified: what was
/// written into it since (by a container that is gone by now, too) is not in the tier
/// directory, and the run does not finish over it. `journal` labels the helper that reads a
/// source.
pub fn outside_users(
    ctx: &MigrateContext<'_>,
    state: &JournalState,
    journal: &str,
) -> Result<(), MigrateError> {
    let plan = &state.plan;
    let mut problems = Vec::new();
    let mut stopped = Vec::new();
    for (n, copy) in plan.copies.iter().enumerate() {
        if removal_began(state, n) {
            continue;
        }
        if let MountSource::Volume(name) = &copy.job.source {
            stopped.extend(volume_problems(ctx, plan, name, &mut problems)?);
        }
    }
    let late = match state.rewrite_began() {
        true => late_problems(ctx, state, journal, &mut problems)?,
        false => false,
    };
    if problems.is_empty() {
        return Ok(());
    }
    let message = format!(
        "the resume was refused before anything changed:\n  - {}",
        problems.join("\n  - ")
    );
    let hint = match (late, stopped.is_empty()) {
        (true, _) => late_hint(state),
        (false, false) => stopped_users_hint(&stopped, "`tierctl migrate --resume --force`"),
        (false, true) => "stop that container (what it wrote would stay behind in the volume), then run `tierctl migrate --resume` again; or undo with `tierctl migrate --rollback`".into(),
    };
    Err(MigrateError::Blocked { message, hint })
}

/// A problem for each source that is not what its copy verified (past the rewrite: the copies
/// are the data now); whether there was one.
fn late_problems(
    ctx: &MigrateContext<'_>,
    state: &JournalState,
    journal: &str,
    problems: &mut Vec<String>,
) -> Result<bool, MigrateError> {
    let mut late = false;
    for (n, copy) in state.plan.copies.iter().enumerate() {
        if removal_began(state, n) {
            continue;
        }
        let writes = match late_writes::since_verify(ctx, journal, state, n) {
            Ok(writes) => writes,
            Err(e @ LateWriteError::NoManifest { .. }) => {
                // a journal written before manifests were kept: nothing to compare with
                eprintln!("warning: {e}: not compared");
                continue;
            }
            Err(e) => {
                let hint = match e {
                    LateWriteError::Read { .. } => {
                        "check that the Docker engine answers, then run `tierctl migrate --resume` again"
                    }
                    _ => {
                        "tierctl cannot tell whether the source was written since its copy verified: compare it with its tier directory yourself"
                    }
                };
                return Err(MigrateError::Blocked {
                    message: format!("the resume was refused before anything changed: {e}"),
                    hint: format!(
                        "{hint}; `tierctl migrate --rollback --yes` undoes the migration"
                    ),
                });
            }
        };
        if writes.is_empty() {
            continue;
        }
        late = true;
        problems.push(format!(
            "{} changed since its copy verified, in {} path(s): {}; those writes are not in the tier directory `{}`",
            late_writes::show(&copy.job.source),
            writes.len(),
            late_writes::shown(&writes),
            copy.job.target.display()
        ));
    }
    Ok(late)
}

/// Whether the removal of copy `n`'s source began (the volume may be gone: the move had
/// finished before it).
fn removal_began(state: &JournalState, n: usize) -> bool {
    let id = MigrateStep::RemoveSource(n).id();
    state.done.contains_key(&id) || state.begun.contains(&id)
}

/// What to do when a source was written after its copy verified: the migration cannot finish
/// over it. Before the services started on the tier directories a rollback keeps those writes
/// (it copies back only a tier directory that changed); after, the tier directory holds writes
/// too, and the rollback would copy it back over the source.
fn late_hint(state: &JournalState) -> String {
    let back = |force: &str| {
        format!(
            "`tierctl migrate --rollback --discard-copy{force} --yes` puts the services back on their sources and removes the copies, and `tierctl migrate` then moves them again with those writes"
        )
    };
    match state.done.contains_key(&MigrateStep::Start.id()) {
        false => format!(
            "nothing was started on the tier directories yet: {}",
            back("")
        ),
        true => format!(
            "the services ran on the tier directories since, so both sides may hold writes: copy what you need of the paths above from the source into its tier directory first; then {} (a changed tier directory is copied back over the source)",
            back(" --force")
        ),
    }
}

fn refused(e: &EngineError) -> MigrateError {
    MigrateError::Refused(format!("{e} (hint: {})", e.hint()))
}

/// The problems as one refusal.
pub fn refusal(problems: Vec<String>) -> MigrateError {
    MigrateError::Refused(refusal_text(&problems))
}

fn refusal_text(problems: &[String]) -> String {
    format!(
        "preflight refused the migration before anything was stopped:\n  - {}",
        problems.join("\n  - ")
    )
}

fn unfinished_journal(plan: &MigratePlan) -> Result<(), MigrateError> {
    let Some(path) = journal::latest(&journal::dir(&plan.project_dir)) else {
        return Ok(());
    };
    let open = journal::read(&path)
        .ok()
        .and_then(|records| JournalState::of(&records))
        .is_some_and(|state| state.is_open());
    if open {
        return Err(MigrateError::Refused(format!(
            "an unfinished migration is journaled in `{}`: run `tierctl migrate --resume` or `--rollback` first",
            path.display()
        )));
    }
    Ok(())
}

/// A source volume must exist (inspected, never created) and no container outside the plan may
/// mount it, running or stopped (a stopped one only with `--force`: issue 26 row 2). Returns the
/// stopped containers refused (`--force` would let them be).
fn volume_problems(
    ctx: &MigrateContext<'_>,
    plan: &MigratePlan,
    name: &str,
    problems: &mut Vec<String>,
) -> Result<Vec<String>, MigrateError> {
    if !ctx.engine.volume_exists(name).map_err(|e| refused(&e))? {
        problems.push(format!(
            "volume `{name}` does not exist on the engine: nothing to copy (start the project once, or check the project name)"
        ));
        return Ok(Vec::new());
    }
    let containers = ctx
        .engine
        .list(&Selector::Volume(name.to_owned()))
        .map_err(|e| refused(&e))?;
    let mut stopped = Vec::new();
    for user in outside(plan, &containers) {
        let problem = user.problem(name);
        match (user.running, ctx.force) {
            (false, true) => eprintln!("warning: {problem} (going on: --force)"),
            (false, false) => {
                stopped.push(user.name);
                problems.push(problem);
            }
            (true, _) => problems.push(problem),
        }
    }
    Ok(stopped)
}

/// The hint of a refusal that names stopped containers outside the plan; `forced`: the command
/// that goes on anyway.
pub fn stopped_users_hint(stopped: &[String], forced: &str) -> String {
    format!(
        "nothing was changed; remove {} (`docker rm NAME`) if it no longer needs the volume, or move its project too; {forced} moves the volume anyway, and that container keeps the old one",
        stopped
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A container that mounts a source volume and that the migration does not stop and start
/// again: another project's, a one-off `docker run`'s, or one of this project's services the
/// plan does not move (a stopped profile service).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutsideUser {
    /// The container's name.
    pub name: String,
    /// Its compose project and service, when compose made it.
    pub compose: Option<(String, String)>,
    /// Whether it runs.
    pub running: bool,
    /// Made by `docker compose run`.
    pub oneoff: bool,
}

impl OutsideUser {
    /// The preflight problem naming it, and what to do (pure).
    pub fn problem(&self, volume: &str) -> String {
        let run = if self.oneoff {
            "`docker compose run` of "
        } else {
            ""
        };
        let of = match &self.compose {
            Some((project, service)) => {
                format!(" ({run}service `{service}` of project `{project}`)")
            }
            None => String::new(),
        };
        match self.running {
            true => format!(
                "volume `{volume}` is in use by container `{}`{of} outside the plan (running): stop it first",
                self.name
            ),
            false => format!(
                "volume `{volume}` is used by container `{}`{of} outside the plan (stopped): started again it would write into the old volume, which a later `--prune-source` removes; remove it (`docker rm {}`) or point it at the tier directory, or pass `--force` to move the volume anyway",
                self.name, self.name
            ),
        }
    }
}

/// The containers among `containers` (all that mount a source volume, running or stopped) that
/// are outside the plan: every one but the containers of the plan's own services; a `docker
/// compose run` container of one of them is outside too (the start never starts it again, so
/// it keeps the old volume) (pure).
pub fn outside(plan: &MigratePlan, containers: &[ContainerState]) -> Vec<OutsideUser> {
    containers
        .iter()
        .filter(|c| {
            let ours = c.project.as_deref() == Some(plan.project.as_str())
                && !c.oneoff
                && c.service
                    .as_ref()
                    .is_some_and(|s| plan.services.contains(s));
            !ours
        })
        .map(|c| OutsideUser {
            name: c.name.clone(),
            compose: c.project.clone().zip(c.service.clone()),
            running: c.running,
            oneoff: c.oneoff,
        })
        .collect()
}

/// The host paths the engine must see as the host does: every bind source being moved and the
/// tier root of every target (or its nearest existing directory).
pub fn probed_paths(plan: &MigratePlan, roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for copy in &plan.copies {
        if let MountSource::Bind(source) = &copy.job.source {
            paths.push(source.clone());
        }
        let root = roots
            .iter()
            .find(|root| copy.job.target.starts_with(root))
            .cloned()
            .unwrap_or_else(|| copy.job.target.clone());
        paths.push(root);
    }
    let mut unique = Vec::new();
    for p in paths {
        if !unique.contains(&p) {
            unique.push(p);
        }
    }
    unique
}

/// The bind probe on every path of [`probed_paths`]: a problem for each the engine does not
/// see as the host does.
fn seen_as_on_host(
    ctx: &MigrateContext<'_>,
    plan: &MigratePlan,
) -> Result<Vec<String>, MigrateError> {
    let paths = probed_paths(plan, &ctx.roots);
    let probes =
        bind_probe::probe_sources(ctx.engine, &ctx.image, &paths).map_err(|e| refused(&e))?;
    let verdicts: Vec<(PathBuf, Verdict)> = paths
        .into_iter()
        .zip(probes.into_iter().map(|p| p.verdict))
        .collect();
    Ok(probe_problems(&verdicts, ctx.vm.as_ref()))
}

/// The problems the probe verdicts show, naming the VM share that is missing and its fix (pure).
pub fn probe_problems(verdicts: &[(PathBuf, Verdict)], vm: Option<&VmFix>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut unshared = Vec::new();
    for (path, verdict) in verdicts {
        let why = match verdict {
            Verdict::Same => continue,
            Verdict::Different { reasons } => {
                format!(
                    "the engine sees another directory there ({})",
                    reasons.join(", ")
                )
            }
            Verdict::MissingInEngine { message } => {
                format!("the engine has no such path ({message})")
            }
            Verdict::MissingOnHost => "it does not exist on the host".to_owned(),
            Verdict::Failed { message } => format!("the probe failed: {message}"),
        };
        let share = match vm.map(|vm| vm.view.coverage(path)) {
            Some(crate::vm::view::Coverage::NotShared) => {
                unshared.push(path.clone());
                "; the VM does not share it".to_owned()
            }
            Some(crate::vm::view::Coverage::Shared { share, .. }) => format!(
                "; the VM shares it through `{}`, but the engine does not see the host's files",
                share.host.display()
            ),
            _ => String::new(),
        };
        problems.push(format!(
            "`{}`: {why}{share}: copying would read or write the engine's own directory, not the host's",
            path.display()
        ));
    }
    if let Some(fix) = vm.and_then(|vm| crate::vm::view::fix(&vm.view, &unshared, &vm.home)) {
        problems.push(format!("share the missing directories with the VM: {fix}"));
    }
    problems
}

/// Each target writable (a probe file created and removed where its directory will be made),
/// keeping the source's owners there (the measure helper chowns a probe file: `db-on-vm-share`),
/// and its filesystem with room for the measured sources (the measure helper, which also proves
/// the helper image is on the engine) plus [`margin`].
fn room_and_access(
    ctx: &MigrateContext<'_>,
    plan: &MigratePlan,
    probe: bool,
) -> Result<Vec<String>, MigrateError> {
    let mut problems = Vec::new();
    // filesystem (device) -> (where, bytes, entries)
    let mut need: BTreeMap<u64, (PathBuf, u64, u64)> = BTreeMap::new();
    let label = format!("preflight-{}", std::process::id());
    for copy in &plan.copies {
        let Some(existing) = nearest_existing(&copy.job.target) else {
            problems.push(format!(
                "`{}`: no existing directory above it",
                copy.job.target.display()
            ));
            continue;
        };
        if probe && let Err(why) = writable(&existing) {
            problems.push(why);
            continue;
        }
        let (size, owners) = match probe {
            true => measure(ctx, &copy.job, &existing, &label)?,
            false => (size(ctx, &copy.job, &existing, &label)?, Vec::new()),
        };
        let share = ctx
            .vm
            .as_ref()
            .and_then(|vm| match vm.view.coverage(&copy.job.target) {
                Coverage::Shared { share, .. } => Some(share.host),
                _ => None,
            });
        if let Some(problem) = owners::problem(
            &copy.job.target,
            &show(&copy.job.source),
            &owners,
            share.as_deref(),
        ) {
            problems.push(problem);
        }
        let dev = std::fs::metadata(&existing).map(|m| m.dev()).unwrap_or(0);
        let entry = need.entry(dev).or_insert((existing, 0, 0));
        entry.1 += size.bytes;
        entry.2 += size.entries;
    }
    for (path, bytes, entries) in need.values() {
        let wanted = bytes + margin(*bytes, *entries);
        match available(path) {
            Ok(free) if free < wanted => problems.push(format!(
                "the filesystem of `{}` has {free} bytes free, the copies need {bytes} bytes ({entries} entries) plus a margin: {wanted} bytes; free space or choose a bigger tier",
                path.display()
            )),
            Ok(_) => {}
            Err(why) => problems.push(why),
        }
    }
    Ok(problems)
}

/// The source's size, and whether `dir` (the target's nearest existing directory) keeps the
/// source's owners: one measure helper ([`owners::extend`]).
pub(super) fn measure(
    ctx: &MigrateContext<'_>,
    job: &CopyJob,
    dir: &Path,
    label: &str,
) -> Result<(copy::SourceSize, Vec<owners::OwnerCheck>), MigrateError> {
    let probe = format!(".tierctl-owners-{}", std::process::id());
    if let Some(source) = on_host(ctx, job, dir)? {
        return host_measure::measure(&source, dir, &probe).map_err(|e| {
            MigrateError::Refused(format!("measuring `{}` on the host: {e}", source.display()))
        });
    }
    let spec = owners::extend(&copy::measure_spec(job, &ctx.image, label), dir, &probe);
    let out = ctx.engine.run_to_end(&spec).map_err(|e| refused(&e))?;
    Ok((
        copy::parse_size(&out).unwrap_or_default(),
        owners::parse(&out),
    ))
}

/// The source's size alone, read-only (no owner probe): the measure helper's `du`, or the same
/// walk on the host when the copy will run there.
fn size(
    ctx: &MigrateContext<'_>,
    job: &CopyJob,
    dir: &Path,
    label: &str,
) -> Result<copy::SourceSize, MigrateError> {
    if let Some(source) = on_host(ctx, job, dir)? {
        return host_measure::size(&source).map_err(|e| {
            MigrateError::Refused(format!("measuring `{}` on the host: {e}", source.display()))
        });
    }
    let out = ctx
        .engine
        .run_to_end(&copy::measure_spec(job, &ctx.image, label))
        .map_err(|e| refused(&e))?;
    Ok(copy::parse_size(&out).unwrap_or_default())
}

/// The room check of [`preflight`] without its probe files (`--dry-run`): each target's
/// filesystem has room for the measured sources plus [`margin`]; on another machine not made.
pub fn room(ctx: &MigrateContext<'_>, plan: &MigratePlan) -> Result<(), MigrateError> {
    if ctx.elsewhere.is_some() {
        return Ok(());
    }
    let problems = room_and_access(ctx, plan, false)?;
    match problems.is_empty() {
        true => Ok(()),
        false => Err(refusal(problems)),
    }
}

/// The source's host path when the copy will run on the host ([`host_apply`]): tierctl is
/// root and the host sees the source and `dir` as the engine does (then the measure runs there
/// too, [`host_measure`]).
fn on_host(
    ctx: &MigrateContext<'_>,
    job: &CopyJob,
    dir: &Path,
) -> Result<Option<PathBuf>, MigrateError> {
    if !host_apply::may_apply() {
        return Ok(None);
    }
    let engine = |e: EngineError| refused(&e);
    let Some(source) = ctx.engine.host_path(&job.source).map_err(engine)? else {
        return Ok(None);
    };
    let dir = ctx
        .engine
        .host_path(&MountSource::Bind(dir.to_path_buf()))
        .map_err(engine)?;
    Ok(dir.map(|_| source))
}

/// A copy's source in messages.
pub(super) fn show(source: &MountSource) -> String {
    match source {
        MountSource::Volume(name) => format!("volume `{name}`"),
        MountSource::Bind(path) => format!("`{}`", path.display()),
    }
}

/// `f_frsize * f_bavail` of the filesystem holding `path`.
// the fields are u64 on Linux, narrower on macOS
#[allow(clippy::useless_conversion)]
fn available(path: &Path) -> Result<u64, String> {
    let stats = nix::sys::statvfs::statvfs(path)
        .map_err(|e| format!("cannot read the free space of `{}`: {e}", path.display()))?;
    Ok(u64::from(stats.fragment_size()).saturating_mul(u64::from(stats.blocks_available())))
}

/// Create and remove a probe file in `dir`.
fn writable(dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!(".tierctl-preflight-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| format!("`{}` is not writable: {e}", dir.display()))?;
    std::fs::remove_file(&probe)
        .map_err(|e| format!("cannot remove the probe file `{}`: {e}", probe.display()))
}

/// The nearest directory at or above `path` that exists.
fn nearest_existing(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_dir()))
        .map(Path::to_path_buf)
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

/// The topmost directory `create_dir_all(path)` would make.
pub fn topmost_missing(path: &Path) -> Option<PathBuf> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::endpoint::EngineGuess;
    use crate::migrate::plan::VolumeCopy;
    use crate::vm::view::VmView;
    use crate::vm::{Share, VmEngine, VmShares};

    fn copy(source: MountSource, target: &str) -> VolumeCopy {
        VolumeCopy {
            key: "k".into(),
            job: CopyJob {
                source,
                target: target.into(),
            },
            tier: None,
            seed: None,
        }
    }

    #[test]
    fn the_probe_covers_each_bind_source_and_each_targets_tier_root_once() {
        let plan = MigratePlan {
            copies: vec![
                copy(
                    MountSource::Bind("/home/u/media".into()),
                    "/tiers/bulk/app/media",
                ),
                copy(MountSource::Volume("app_db".into()), "/tiers/fast/app/db"),
                copy(
                    MountSource::Volume("app_cache".into()),
                    "/tiers/fast/app/cache",
                ),
            ],
            ..MigratePlan::default()
        };
        let roots = vec![PathBuf::from("/tiers/fast"), PathBuf::from("/tiers/bulk")];
        assert_eq!(
            probed_paths(&plan, &roots),
            vec![
                PathBuf::from("/home/u/media"),
                PathBuf::from("/tiers/bulk"),
                PathBuf::from("/tiers/fast")
            ]
        );
    }

    #[test]
    fn an_unshared_source_on_a_colima_vm_is_refused_naming_the_share_and_the_fix() {
        let vm = VmFix {
            view: VmView {
                engine: EngineGuess::Colima {
                    profile: "default".into(),
                },
                shares: Some(VmShares {
                    engine: VmEngine::Colima,
                    instance: Some("default".into()),
                    shares: vec![Share::same_path("/tiers", true, Some("virtiofs"))],
                    source_files: Vec::new(),
                    notes: Vec::new(),
                }),
            },
            home: "/home/u".into(),
        };
        let verdicts = vec![
            (PathBuf::from("/tiers/fast"), Verdict::Same),
            (
                PathBuf::from("/home/u/media"),
                Verdict::Different {
                    reasons: vec!["marker file not visible".into()],
                },
            ),
        ];
        let problems = probe_problems(&verdicts, Some(&vm));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(
            problems[0],
            "`/home/u/media`: the engine sees another directory there (marker file not visible); the VM does not share it: copying would read or write the engine's own directory, not the host's"
        );
        assert!(
            problems[1].starts_with(
                "share the missing directories with the VM: colima stop && colima start --mount"
            ) && problems[1].contains("- location: /home/u/media\n"),
            "{}",
            problems[1]
        );
        // a native engine: no share to name, the verdict alone refuses
        let problems = probe_problems(&verdicts[1..], None);
        assert_eq!(problems.len(), 1);
        assert!(probe_problems(&verdicts[..1], None).is_empty());
    }

    fn container(name: &str, compose: Option<(&str, &str)>, running: bool) -> ContainerState {
        ContainerState {
            id: name.into(),
            name: name.into(),
            project: compose.map(|(p, _)| p.into()),
            service: compose.map(|(_, s)| s.into()),
            running,
            mounts: Vec::new(),
            compose_version: None,
            oneoff: false,
        }
    }

    #[test]
    fn issue26_row2_every_container_on_the_volume_but_the_plans_services_is_outside() {
        let plan = MigratePlan {
            project: "app".into(),
            services: vec!["db".into()],
            ..MigratePlan::default()
        };
        let users = outside(
            &plan,
            &[
                container("app-db-1", Some(("app", "db")), false),
                // this project's stopped profile service, which the plan does not move
                container("app-side-1", Some(("app", "side")), false),
                // another project's stopped container on the same volume (`external: true`)
                container("b-web-1", Some(("b", "web")), false),
                container("b-db-1", Some(("b", "db")), true),
                container("loose", None, false),
                // `docker compose run db`, stopped: never started again by the migration
                ContainerState {
                    oneoff: true,
                    ..container("app-db-run-1", Some(("app", "db")), false)
                },
            ],
        );
        let names: Vec<(&str, bool)> = users.iter().map(|u| (u.name.as_str(), u.running)).collect();
        assert_eq!(
            names,
            vec![
                ("app-side-1", false),
                ("b-web-1", false),
                ("b-db-1", true),
                ("loose", false),
                ("app-db-run-1", false)
            ]
        );
        let stopped = users[1].problem("app_pgdata");
        assert!(
            stopped.starts_with("volume `app_pgdata` is used by container `b-web-1` (service `web` of project `b`) outside the plan (stopped)"),
            "{stopped}"
        );
        assert!(
            stopped.contains("`docker rm b-web-1`") && stopped.contains("`--force`"),
            "{stopped}"
        );
        assert_eq!(
            users[2].problem("app_pgdata"),
            "volume `app_pgdata` is in use by container `b-db-1` (service `db` of project `b`) outside the plan (running): stop it first"
        );
        assert!(
            users[4]
                .problem("app_pgdata")
                .contains("container `app-db-run-1` (`docker compose run` of service `db` of project `app`) outside the plan (stopped)"),
            "{:?}",
            users[4]
        );
        let hint = stopped_users_hint(&["b-web-1".into()], "the same command with `--force`");
        assert!(
            hint.starts_with("nothing was changed; remove `b-web-1`"),
            "{hint}"
        );
    }

    #[test]
    fn issue26_row3_the_hint_after_late_writes_says_how_to_keep_them() {
        use crate::migrate::journal::{Detail, Record};
        let mut state = JournalState::of(&[Record::Begin {
            version: crate::migrate::journal::FORMAT,
            plan: MigratePlan::default(),
        }])
        .expect("a plan");
        let before_start = late_hint(&state);
        assert!(
            before_start.starts_with("nothing was started on the tier directories yet")
                && before_start.contains("`tierctl migrate --rollback --discard-copy --yes`")
                && before_start.contains("`tierctl migrate` then moves them again"),
            "{before_start}"
        );
        state.done.insert(MigrateStep::Start.id(), Detail::None);
        let after_start = late_hint(&state);
        assert!(
            after_start.contains("copy what you need")
                && after_start
                    .contains("`tierctl migrate --rollback --discard-copy --force --yes`"),
            "{after_start}"
        );
    }

    #[test]
    fn the_margin_grows_with_size_and_entries() {
        assert_eq!(margin(0, 0), 8 << 20);
        assert_eq!(margin(2_000_000, 10), 100_000 + 40_960 + (8 << 20));
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
