//! The steps after the copies: the compose files written, the services started (on this engine
//! or B), their mounts checked, and a verified source removed.

use std::path::PathBuf;

use crate::engine::{MountSource, Selector};
use crate::migrate::compose_cli;
use crate::migrate::journal::Detail;
use crate::migrate::late_writes;
use crate::migrate::learned::StepDone;
use crate::migrate::mounts::{inspected_binds, mount_problems, started_before_disk};
use crate::migrate::plan::{MigratePlan, MigrateStep};
use crate::migrate::swarm_service;
use crate::write::{self, FileWrite};

use super::stop::now_ms;
use super::*;

/// Write the plan's compose files: each rewritten in place (compare-and-swap against the text
/// the plan was made from, backed up: [`write::write_all`]); for a move to another engine each
/// file for B created beside its original, which stays untouched ([`write::create_new`]).
pub(super) fn rewrite(input: &StepInput<'_>) -> StepResult {
    if input
        .plan
        .to_context
        .as_deref()
        .is_some_and(|c| c.swarm.is_none())
    {
        input.durable(Durable::ComposeCreate)?;
        return create_files(input.plan);
    }
    let mut files = Vec::new();
    for change in &input.plan.files {
        let current =
            std::fs::read_to_string(&change.path).map_err(|error| StepError::ReadFile {
                path: change.path.clone(),
                error,
            })?;
        if current == change.new {
            continue;
        }
        if current != change.old {
            return Err(StepError::ChangedSincePlan {
                path: change.path.clone(),
            });
        }
        files.push(FileWrite {
            path: change.path.clone(),
            read_hash: write::hash(&change.old),
            text: change.new.clone(),
        });
    }
    // the failpoint in front of each file's write (`write::OpenTemp` is `'static`: owned copies)
    let (failpoints, step) = (input.ctx.failpoints.clone(), input.step.clone());
    let open_temp = move |path: &std::path::Path| {
        failpoints.at(crate::migrate::durable::Point::new(
            Durable::ComposeRewrite,
            Some(&step),
        ))?;
        write::open_new(path)
    };
    let backups = write::write_all_with(&files, input.journal, &open_temp)?;
    let pairs: Vec<(PathBuf, PathBuf)> =
        files.iter().map(|f| f.path.clone()).zip(backups).collect();
    let result = format!("{} file(s) written", pairs.len());
    Ok((Detail::Rewritten { backups: pairs }, result))
}

/// The new files of the plan (refused when one with other text is there).
pub(super) fn create_files(plan: &MigratePlan) -> StepResult {
    let mut lines = Vec::new();
    for change in &plan.files {
        let path = &change.path;
        match std::fs::read_to_string(path) {
            Ok(text) if text == change.new => {
                lines.push(format!("`{}` already written", path.display()));
                continue;
            }
            Ok(_) => return Err(StepError::OtherText { path: path.clone() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(StepError::ReadFile {
                    path: path.clone(),
                    error,
                });
            }
        }
        write::create_new(path, &change.new).map_err(|error| StepError::CreateFile {
            path: path.clone(),
            error,
        })?;
        lines.push(format!("wrote `{}`", path.display()));
    }
    if lines.is_empty() {
        lines.push("nothing to write".into());
    }
    Ok((Detail::None, lines.join("; ")))
}

pub(super) fn start(input: &StepInput<'_>) -> Stepped {
    if let Some(swarm) = swarm_service::of(input.ctx, input.plan) {
        return start_swarm(input, &swarm);
    }
    let running = input.state.running_services();
    let on = match &input.ctx.to {
        Some(b) => format!(" on `{}`", b.context),
        None => String::new(),
    };
    if running.is_empty() {
        return Ok(StepDone::new(
            Detail::None,
            "skipped: no service was running".into(),
        ));
    }
    let context = input.ctx.to.as_ref().map(|b| b.context.as_str());
    input.durable(Durable::ComposeUp)?;
    compose_cli::start(
        input.ctx.compose.as_ref(),
        input.ctx.engine,
        input.plan,
        &running,
        context,
    )?;
    let downtime_ms = downtime_ms(input);
    let down = match downtime_ms {
        Some(ms) => format!("; services were down {:.1} s", ms as f64 / 1000.0),
        None => String::new(),
    };
    let line = format!("started{on}: {}{down}", running.join(", "));
    Ok(StepDone {
        downtime_ms,
        ..StepDone::new(Detail::None, line)
    })
}

/// A Swarm service placed on its new node (its constraints, its binds' new host paths, the
/// replicas it had) and, when it has tasks, running there.
fn start_swarm(input: &StepInput<'_>, swarm: &swarm_service::Swarm<'_>) -> Stepped {
    let service = swarm.service;
    input.durable(Durable::ServiceUpdate)?;
    swarm.place(&service.after, &service.to_node)?;
    let on = input
        .ctx
        .to
        .as_ref()
        .map(|b| format!(" on `{}`", b.context))
        .unwrap_or_default();
    if service.after.replicas == 0 {
        return Ok(StepDone::new(
            Detail::None,
            format!(
                "placed{on}: `{}` pinned to its new node with 0 replicas, as it was",
                service.name
            ),
        ));
    }
    let downtime_ms = downtime_ms(input);
    let down = match downtime_ms {
        Some(ms) => format!("; services were down {:.1} s", ms as f64 / 1000.0),
        None => String::new(),
    };
    let line = format!("started{on}: {}{down}", service.service);
    Ok(StepDone {
        downtime_ms,
        ..StepDone::new(Detail::None, line)
    })
}

/// Milliseconds from the stop to now: by this run's clock when it stopped the services, else by
/// the stop's journaled wall-clock time (a resumed run).
pub fn downtime_ms(input: &StepInput<'_>) -> Option<u64> {
    if let Some(at) = input.stopped_at {
        return Some(u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX));
    }
    match input.state.done.get(&MigrateStep::Stop.id()) {
        Some(Detail::Stopped {
            at_ms: Some(at), ..
        }) => Some(now_ms().saturating_sub(*at)),
        _ => None,
    }
}

/// The started containers bind their tier directories (inspect, on the engine that runs them
/// now), and, when the views can look (not on engine B), see them as the host does.
pub(super) fn verify_mounts(input: &StepInput<'_>) -> StepResult {
    let (ctx, plan) = (input.ctx, input.plan);
    let site = ctx.site();
    let running = input.state.running_services();
    if running.is_empty() {
        // nothing was started, so no container shows its mounts; `tierctl verify` checks them
        // once the services run
        return Ok((
            Detail::None,
            "skipped: no service was running (run `tierctl verify` after starting them)".into(),
        ));
    }
    let swarm = swarm_service::of(ctx, plan);
    let containers = match &swarm {
        Some(swarm) => swarm.containers(site.engine)?,
        None => site.engine.list(&Selector::Project(plan.project.clone()))?,
    };
    let mut checked = 0;
    for expected in plan.mounts.iter().filter(|m| running.contains(&m.service)) {
        checked += inspected_binds(&containers, expected)?;
    }
    if let Some(b) = &ctx.to {
        return Ok((
            Detail::None,
            format!(
                "ok on `{}`: {checked} mount(s) bind their tier directories",
                b.context
            ),
        ));
    }
    let Some(views) = ctx.views else {
        return Ok((Detail::None, format!("ok: {checked} mount(s)")));
    };
    let seen = views.view(&plan.project)?;
    let problems = mount_problems(plan, &running, &seen);
    if started_before_disk(plan, &running, &seen) {
        return Err(StepError::StartedBeforeDisk { problems });
    }
    if !problems.is_empty() {
        return Err(StepError::NotSeen { problems });
    }
    Ok((
        Detail::None,
        format!("ok: {checked} mount(s), tierctl verify ok"),
    ))
}

pub(super) fn remove_source(input: &StepInput<'_>, n: usize) -> StepResult {
    if !matches!(
        input.state.done.get(&MigrateStep::Verify(n).id()),
        Some(Detail::Verified { .. })
    ) {
        return Err(StepError::NotVerified { copy: n });
    }
    match &input.plan.copies[n].job.source {
        // a run killed after the removal, before its end was journaled, removed it already
        MountSource::Volume(name) if !input.ctx.engine.volume_exists(name)? => {
            Ok((Detail::None, format!("volume `{name}` was already removed")))
        }
        MountSource::Volume(name) => {
            if !input.state.finished {
                // `--remove-source` in the run (a prune, on a finished journal, checked first)
                refuse_late_writes(input, n, name)?;
            }
            input.durable(Durable::VolumeRemove)?;
            input.ctx.engine.remove_volume(name)?;
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

/// Refused when volume `name` of copy `n` changed since its copy verified: those writes are
/// not in the tier directory (issue 26 row 1).
pub(super) fn refuse_late_writes(
    input: &StepInput<'_>,
    n: usize,
    name: &str,
) -> Result<(), StepError> {
    let writes =
        late_writes::since_verify(input.ctx, input.journal, input.state, n).map_err(|error| {
            StepError::LateWritesUnread {
                volume: name.to_owned(),
                error: Box::new(error),
            }
        })?;
    if writes.is_empty() {
        return Ok(());
    }
    Err(StepError::LateWrites {
        volume: name.to_owned(),
        count: writes.len(),
        shown: late_writes::shown(&writes),
        target: input.plan.copies[n].job.target.clone(),
    })
}
