//! `tierctl migrate --prune-source`: after a finished migration (on this engine, or to engine
//! B), remove each source volume whose copy verified and whose services started on it,
//! journaled like a step — and only when no compose file of the project (re-loaded now) and no
//! container (running or stopped) on this engine uses it, and it is still what its copy
//! verified. After a move to B the original compose files still name the volumes (they were
//! never changed, for a rollback): there only the containers count. [`users`] is the check,
//! shared with `--discard-copy`.

use std::path::Path;

use super::journal::{self, Detail, Journal, JournalState, Record};
use super::late_writes::{self, LateWriteError};
use super::outcome::{Outcome, StepOutcome, kept_volumes};
use super::plan::{MigrateStep, describe};
use super::steps::{self, StepInput};
use super::{MigrateContext, MigrateError, state_of};
use crate::compose::error::ComposeError;
use crate::compose::model::{ComposeProject, MountType};
use crate::engine::{MountSource, Selector};

/// Loads the compose project again, as it is on disk now.
pub type Reload<'a> = &'a dyn Fn() -> Result<ComposeProject, ComposeError>;

/// Remove the source volumes a finished migration kept.
pub fn prune_sources(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    records: &[Record],
    reload: Reload<'_>,
) -> Result<Outcome, MigrateError> {
    let mut state = state_of(journal, records)?;
    journal.fail_with(ctx.failpoints.clone());
    if !state.finished || state.rolled_back || state.rolling_back {
        return Err(MigrateError::Blocked {
            message: format!(
                "the migration of journal `{}` is not finished (or was rolled back): the source volumes stay",
                journal.path.display()
            ),
            hint: journal::next_commands(state.phase()),
        });
    }
    let plan = state.plan.clone();
    ctx.remove_helpers(&journal.id);
    let mut steps = Vec::new();
    for n in 0..plan.copies.len() {
        let id = MigrateStep::RemoveSource(n).id();
        if state.done.contains_key(&id) {
            continue;
        }
        if !state.done.contains_key(&MigrateStep::VerifyMounts.id()) {
            return Err(MigrateError::Blocked {
                message: format!(
                    "step `{id}`: the services' mounts were not verified: the source stays"
                ),
                hint: journal::next_commands(state.phase()),
            });
        }
        refuse_if_used(ctx, &plan.copies[n].job.source, reload)?;
        refuse_if_written(ctx, journal, &state, n)?;
        ctx.pause_at(&id, false);
        journal.append(&Record::Start { step: id.clone() })?;
        let (detail, result) = remove(ctx, journal, &state, n)?;
        ctx.pause_at(&id, true);
        journal.record_done(&mut state, &id, detail)?;
        steps.push(StepOutcome {
            step: id.into(),
            result,
        });
    }
    Ok(Outcome {
        journal: journal.path.clone(),
        steps,
        kept: kept_volumes(&plan, &state),
        downtime_ms: None,
    })
}

fn blocked(message: String, hint: String) -> MigrateError {
    MigrateError::Blocked { message, hint }
}

/// Refused when a compose file of the project (loaded again now) or any container uses the
/// source volume.
fn refuse_if_used(
    ctx: &MigrateContext<'_>,
    source: &MountSource,
    reload: Reload<'_>,
) -> Result<(), MigrateError> {
    let MountSource::Volume(name) = source else {
        return Ok(());
    };
    let project = reload().map_err(|e| {
        blocked(
            format!("volume `{name}` stays: the compose project cannot be loaded to check who uses it: {e}"),
            "fix the compose files, then run `tierctl migrate --prune-source --yes` again".into(),
        )
    })?;
    let using = users(ctx, &project, source)?;
    if using.is_empty() {
        return Ok(());
    }
    Err(blocked(
        format!(
            "volume `{name}` stays: it is in use by {}",
            using.join(", ")
        ),
        in_use_hint(&using),
    ))
}

/// Refused when copy `n`'s source volume is not what its copy verified: what was written into
/// it since is not in the tier directory (issue 26 row 1). Binds are never removed: not read.
fn refuse_if_written(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
    n: usize,
) -> Result<(), MigrateError> {
    let job = &state.plan.copies[n].job;
    let MountSource::Volume(name) = &job.source else {
        return Ok(());
    };
    if !ctx
        .engine
        .volume_exists(name)
        .map_err(|e| blocked(format!("cannot look up volume `{name}`: {e}"), "check that the Docker engine answers (`docker volume ls`), then run the same command again; nothing was removed".into()))?
    {
        // an interrupted prune removed it before journaling that: [`remove`] records it
        return Ok(());
    }
    let target = job.target.display();
    let writes = late_writes::since_verify(ctx, &journal.id, state, n).map_err(|e| {
        let hint = match e {
            LateWriteError::Read { .. } => "check that the Docker engine answers, then run the same command again; nothing was removed".to_owned(),
            LateWriteError::NoManifest { .. } | LateWriteError::Manifest { .. } => format!(
                "nothing was removed; compare volume `{name}` with `{target}` yourself and remove it by hand (`docker volume rm {name}`) if nothing in it is needed"
            ),
        };
        blocked(format!("volume `{name}` stays: {e}"), hint)
    })?;
    if writes.is_empty() {
        return Ok(());
    }
    Err(blocked(
        format!(
            "volume `{name}` stays: it changed since its copy verified, in {} path(s): {}; those writes are not in the tier directory `{target}`",
            writes.len(),
            late_writes::shown(&writes)
        ),
        format!(
            "nothing was removed; copy what you need of it into `{target}` (e.g. `docker run --rm -v {name}:/from:ro -v {target}:/to {} cp -a /from/PATH /to/PATH`), then remove the volume by hand (`docker volume rm {name}`); `--prune-source` removes only a volume equal to its verified copy",
            ctx.image
        ),
    ))
}

/// The removal step of copy `n`'s source; a volume already gone (an interrupted prune removed
/// it before journaling that) is recorded as removed.
fn remove(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
    n: usize,
) -> Result<(Detail, String), MigrateError> {
    let plan = &state.plan;
    let step = MigrateStep::RemoveSource(n);
    let again = |what: String| {
        blocked(
            what,
            format!(
                "fix the cause, then run `tierctl migrate --prune-source --yes` again; {}",
                journal::next_commands(state.phase())
            ),
        )
    };
    if let MountSource::Volume(name) = &plan.copies[n].job.source {
        let exists = ctx
            .engine
            .volume_exists(name)
            .map_err(|e| again(format!("cannot look up volume `{name}`: {e}")))?;
        if !exists {
            return Ok((Detail::None, format!("volume `{name}` was already removed")));
        }
    }
    let label = describe(plan, &step);
    let input = StepInput {
        ctx,
        plan,
        step: &step.id(),
        state,
        journal: &journal.id,
        label: &label,
        stopped_at: None,
    };
    let done = steps::execute(&input, &step, false, Default::default())
        .map_err(|message| again(format!("step `{}` failed: {message}", step.id())))?;
    let (detail, result) = (done.detail, done.line);
    ctx.say_step(&format!("{label}  {result}"));
    Ok((detail, result))
}

/// The hint for a source or copy still in use: a compose file names it (the migration was
/// reverted by hand: record that with a rollback), or only containers do (remove them first).
fn in_use_hint(using: &[String]) -> String {
    if using.iter().any(|u| u.starts_with("service")) {
        "a compose file uses it again (was the migration reverted by hand?): nothing was removed; `tierctl migrate --rollback --yes` records the migration as undone (the copy stays until `--discard-copy`), or point the compose file at the tier directory again".into()
    } else {
        "nothing was removed; remove those containers (`docker rm NAME`) if they no longer need it, then run the same command again".into()
    }
}

/// Who uses `source` now: every service of `project` (enabled or not) whose mount names it, as
/// `service `S` (FILE:LINE)`, and every container that mounts it, running or stopped, as
/// `container `C` (running|stopped)`.
pub fn users(
    ctx: &MigrateContext<'_>,
    project: &ComposeProject,
    source: &MountSource,
) -> Result<Vec<String>, MigrateError> {
    // after a move to B the project's own files are the untouched originals
    let files = match ctx.to {
        Some(_) => None,
        None => Some(project),
    };
    let mut found: Vec<String> = files
        .into_iter()
        .flat_map(|project| project.mounts())
        .filter(|(_, m)| mount_uses(project, m, source))
        .map(|(s, m)| {
            let line = m
                .origin
                .position
                .map(|p| format!(":{}", p.line))
                .unwrap_or_default();
            format!("service `{}` ({}{line})", s.name, m.origin.file.display())
        })
        .collect();
    let engine_err = |e: crate::engine::EngineError| {
        MigrateError::Blocked {
        message: format!("cannot list the containers that use `{}`: {e}", show(source)),
        hint: "check that the Docker engine answers (`docker ps -a`), then run the same command again; nothing was removed".into(),
    }
    };
    let mut containers = ctx
        .engine
        .list(&Selector::Volume(show(source)))
        .map_err(engine_err)?;
    if let MountSource::Bind(path) = source {
        // a container of the project binding a directory inside the copy uses it too
        let all = ctx
            .engine
            .list(&Selector::Project(project.name.clone()))
            .map_err(engine_err)?;
        containers.extend(
            all.into_iter()
                .filter(|c| c.mounts.iter().any(|(s, _)| Path::new(s).starts_with(path))),
        );
    }
    containers.sort_by(|a, b| a.id.cmp(&b.id));
    containers.dedup_by(|a, b| a.id == b.id);
    found.extend(containers.iter().map(|c| {
        format!(
            "container `{}` ({})",
            c.name,
            if c.running { "running" } else { "stopped" }
        )
    }));
    Ok(found)
}

/// Whether mount `m` of `project` names `source`.
fn mount_uses(
    project: &ComposeProject,
    m: &crate::compose::model::VolumeMount,
    source: &MountSource,
) -> bool {
    match (source, &m.kind) {
        (MountSource::Volume(name), MountType::Volume) => project
            .volume_for(m)
            .is_some_and(|v| v.effective_name(&project.name) == *name),
        (MountSource::Bind(path), MountType::Bind) => {
            m.host_path.as_ref().is_some_and(|h| h.starts_with(path))
        }
        (MountSource::Bind(path), MountType::Volume) => project
            .volume_for(m)
            .and_then(|v| v.bind_device())
            .is_some_and(|d| d.starts_with(path)),
        _ => false,
    }
}

/// A source as the engine's `volume` filter takes it.
fn show(source: &MountSource) -> String {
    match source {
        MountSource::Volume(name) => name.clone(),
        MountSource::Bind(path) => path.display().to_string(),
    }
}
