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

mod keeps;
mod other_engine;
mod room;

use std::path::PathBuf;

pub use keeps::{Copier, Holds, Sample, lost, not_checked, refused_text, scan};
pub use room::{measure, room, target_facts, topmost_missing};

use super::copy;
use super::journal::{self, JournalState};
use super::late_writes::{self, LateWriteError};
use super::plan::{MigratePlan, MigrateStep};
use super::stop_signal;
use super::{MigrateContext, MigrateError, VmFix, steps, tier_dirs};
use crate::engine::probe::{self as bind_probe, Verdict};
use crate::engine::{ContainerState, EngineError, MountSource, Selector};
use crate::lock::ProjectLock;

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

/// Why a preflight check could not be run (an engine that does not answer): a refusal.
fn refused_by(e: EngineError) -> MigrateError {
    refusal(vec![format!("{e}; hint: {}", e.hint())])
}

/// The checks of [`preflight`] that change nothing anywhere, which `--dry-run` runs too (issue
/// 26 row 11): no unfinished journal, the engine answers, the compose CLI, every source volume
/// and its outside users, every target. The bind probe (a marker file), the writable probe and
/// the measure helper's chown probe write, and run only before a real run ([`probes`]).
pub fn read_only(ctx: &MigrateContext<'_>, plan: &MigratePlan) -> Result<(), MigrateError> {
    unfinished_journal(plan)?;
    ctx.engine.info().map_err(refused_by)?;
    let mut problems = Vec::new();
    if let Some(b) = &ctx.to {
        b.engine.info().map_err(refused_by)?;
        problems.extend(other_engine::problems(ctx, b, plan));
    }
    let running =
        steps::running_now(ctx, plan).map_err(|e| MigrateError::Refused(e.to_string()))?;
    if ctx.compose.is_none() && ctx.to.is_none() && !running.is_empty() {
        problems.push(format!(
            "no compose CLI found (`docker compose` or `docker-compose`) to start {} again after the copy: install one first",
            running.join(", ")
        ));
    }
    if let Some(cli) = &ctx.compose
        && let Err(why) = cli.program(ctx.engine, &plan.project)
    {
        problems.push(why.to_string());
    }
    let targets: Vec<PathBuf> = plan.copies.iter().map(|c| c.job.target.clone()).collect();
    let facts = tier_dirs::facts(&ctx.site(), &targets)
        .map_err(|e| MigrateError::Refused(e.to_string()))?;
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
    if ctx.site().elsewhere().is_some() {
        // another machine (the engine's host, or B): its paths are seen by its engine only,
        // there is no host view to compare with (the bind probe's marker file would be written
        // here)
        problems.extend(tier_dirs::room_and_access_elsewhere(ctx, plan)?);
        return with_losses(ctx, plan, problems);
    }
    problems.extend(seen_as_on_host(ctx, plan)?);
    if !problems.is_empty() {
        return Err(refusal(problems));
    }
    problems.extend(room::room_and_access(ctx, plan, true)?);
    with_losses(ctx, plan, problems)
}

/// `problems`, and what each copy would not keep of its source (extended attributes, POSIX
/// ACLs, holes: [`keeps`]), listed together; a note each for what was not checked.
fn with_losses(
    ctx: &MigrateContext<'_>,
    plan: &MigratePlan,
    mut problems: Vec<String>,
) -> Result<(), MigrateError> {
    let (lost, notes) = keeps::losses(ctx, plan)?;
    for note in notes {
        eprintln!("note: {note}");
    }
    let (lost, warnings) = losses_verdict(lost, ctx.force);
    for warning in warnings {
        eprintln!("{warning}");
    }
    let keeps = !lost.is_empty();
    problems.extend(lost);
    match (problems.is_empty(), keeps) {
        (true, _) => Ok(()),
        (false, false) => Err(refusal(problems)),
        (false, true) => Err(MigrateError::Blocked {
            message: refusal_text(&problems),
            hint: KEEPS_HINT.to_owned(),
        }),
    }
}

/// What a copy would not keep: refused (the problems) unless `force`, then a warning each
/// (pure).
pub fn losses_verdict(lost: Vec<String>, force: bool) -> (Vec<String>, Vec<String>) {
    match force {
        false => (lost, Vec::new()),
        true => (
            Vec::new(),
            lost.into_iter()
                .map(|l| format!("warning: {l} (going on: --force)"))
                .collect(),
        ),
    }
}

/// The hint of a refusal that names what a copy would not keep.
pub const KEEPS_HINT: &str = "nothing was changed; tierctl keeps extended attributes, POSIX ACLs and holes when it copies on the host: run it as root on a native engine, with the target on a filesystem that holds those attributes (ext4, XFS, Btrfs, ZFS; not ramfs, vfat or exFAT); or pass `--force` to copy without them";

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

#[cfg(test)]
mod tests;
