//! A migration's target directories, where they are. On this machine (or a VM of it, through
//! its shares) tierctl looks at them and creates them itself. When the engine's host is another
//! machine (`crate::host`, [`MigrateContext::elsewhere`]) the plan's paths are that machine's
//! paths: only helper containers on that engine look at them (the facts by `engine::host_fs`)
//! and create, measure or remove them (the tier-root helpers of [`super::cross_plan`]); no path
//! of this machine stands in for one of that machine.

use std::path::{Path, PathBuf};

use super::copy::{self, TargetFacts, TargetState};
use super::cross_plan as xp;
use super::journal::Detail;
use super::steps::StepResult;
use super::{MigrateContext, MigrateError, owners, preflight};
use crate::engine::{EngineError, host_fs};

fn engine_error(e: EngineError) -> String {
    format!("{e}; hint: {}", e.hint())
}

/// What is at each of `targets` now, in order: on this machine, or read on the engine's host
/// (one resolution for all of them).
pub fn facts(ctx: &MigrateContext<'_>, targets: &[PathBuf]) -> Result<Vec<TargetFacts>, String> {
    if ctx.elsewhere.is_none() {
        return Ok(targets.iter().map(|t| preflight::target_facts(t)).collect());
    }
    let seen = host_fs::facts(ctx.engine, &ctx.image, targets, &[]).map_err(engine_error)?;
    Ok(targets
        .iter()
        .map(|target| {
            let path = seen.paths.get(target);
            let real = path.and_then(|f| f.real.clone());
            TargetFacts {
                exists: path.is_some_and(|f| f.exists),
                is_dir: path.is_some_and(|f| f.exists && f.is_dir),
                empty: real.as_ref().is_some_and(|r| seen.empty_dirs.contains(r)),
                real,
            }
        })
        .collect())
}

/// What is at `target` now ([`facts`]).
pub fn facts_of(ctx: &MigrateContext<'_>, target: &Path) -> Result<TargetFacts, String> {
    let mut all = facts(ctx, &[target.to_path_buf()])?;
    all.pop()
        .ok_or_else(|| format!("no facts of `{}` came back", target.display()))
}

/// Whether `target` is a directory now.
pub fn is_dir(ctx: &MigrateContext<'_>, target: &Path) -> Result<bool, String> {
    if ctx.elsewhere.is_none() {
        return Ok(target.is_dir());
    }
    Ok(facts_of(ctx, target)?.is_dir)
}

/// The create step of `target`: created when missing (the topmost directory made is
/// journaled, for a rollback to remove), taken when empty, wiped when it holds this journal's
/// partial copy (`retried`); refused when it may not receive the copy ([`copy::check_target`]).
pub fn create(ctx: &MigrateContext<'_>, target: &Path, journal: &str, retried: bool) -> StepResult {
    let facts = facts_of(ctx, target)?;
    let state =
        copy::check_target(target, &ctx.roots, &facts, retried).map_err(|e| e.to_string())?;
    let on = match &ctx.elsewhere {
        Some(context) => format!(" on the engine's host (context `{context}`)"),
        None => String::new(),
    };
    match state {
        TargetState::Missing => {
            let made = make(ctx, target, journal)?;
            Ok((Detail::Created { made }, format!("created{on}")))
        }
        TargetState::Empty => Ok((Detail::Created { made: None }, "exists, empty".into())),
        TargetState::JournaledCopy => {
            wipe(ctx, target, journal)?;
            Ok((
                Detail::Created { made: None },
                "partial copy removed".into(),
            ))
        }
    }
}

/// Empty `target` (this journal's own partial copy) with a helper.
pub fn wipe(ctx: &MigrateContext<'_>, target: &Path, journal: &str) -> Result<(), String> {
    ctx.engine
        .run_to_end(&copy::wipe_spec(target, &ctx.image, journal))
        .map(drop)
        .map_err(engine_error)
}

/// Create `target` and the directories above it that are missing; the topmost one made.
fn make(ctx: &MigrateContext<'_>, target: &Path, journal: &str) -> Result<Option<PathBuf>, String> {
    if ctx.elsewhere.is_none() {
        let made = preflight::topmost_missing(target);
        std::fs::create_dir_all(target)
            .map_err(|err| format!("cannot create `{}`: {err}", target.display()))?;
        return Ok(made);
    }
    let (root, rel) = root_of(ctx, target)?;
    let printed = ctx
        .engine
        .run_to_end(&xp::mkdir_spec(root, &rel, &ctx.image, journal))
        .map_err(engine_error)?;
    Ok(xp::parse_made(&printed).map(|top| root.join(top)))
}

/// The tier root `target` lies in and the path below it.
fn root_of<'c>(ctx: &'c MigrateContext<'_>, target: &Path) -> Result<(&'c Path, String), String> {
    xp::root_of(&ctx.roots, target)
        .ok_or_else(|| format!("target `{}` is not inside a tier root", target.display()))
}

/// Remove copy `target` (its entries by a helper, then the directories the create step made,
/// from `target` up to `made`, each only while empty).
pub fn remove(
    ctx: &MigrateContext<'_>,
    target: &Path,
    made: Option<&Path>,
    journal: &str,
) -> Result<(), String> {
    if is_dir(ctx, target)? {
        wipe(ctx, target, journal)?;
    }
    let Some(top) = made else {
        return Ok(());
    };
    if ctx.elsewhere.is_none() {
        let mut dir = Some(target);
        while let Some(d) = dir {
            let _ = std::fs::remove_dir(d);
            if d == top {
                break;
            }
            dir = d.parent();
        }
        return Ok(());
    }
    let (root, rel) = root_of(ctx, target)?;
    let top = top.strip_prefix(root).map_err(|_| {
        format!(
            "`{}` is not below the tier root `{}`",
            top.display(),
            root.display()
        )
    })?;
    let spec = xp::rmdir_spec(root, &rel, &top.to_string_lossy(), &ctx.image, journal)
        .ok_or_else(|| format!("`{rel}` is not below the tier root `{}`", root.display()))?;
    ctx.engine.run_to_end(&spec).map(drop).map_err(engine_error)
}

/// Preflight's room and access checks on the engine's host (another machine): for each copy,
/// the source measured and the owners of its files chowned onto a probe file in the target's
/// tier root (a helper, [`owners::extend`]); per tier root, that it exists there, the targets
/// below it are missing or empty, and it has room for their sources plus margin (the room
/// helper, as for a move to another engine).
pub fn room_and_access_elsewhere(
    ctx: &MigrateContext<'_>,
    context: &str,
    plan: &super::plan::MigratePlan,
) -> Result<Vec<String>, MigrateError> {
    let mut problems = Vec::new();
    let mut sizes = Vec::new();
    let label = format!("preflight-{}", std::process::id());
    for copy in &plan.copies {
        let Ok((root, _)) = root_of(ctx, &copy.job.target) else {
            sizes.push((0, 0));
            continue;
        };
        let (size, owners) = preflight::measure(ctx, &copy.job, root, &label)?;
        if let Some(problem) = owners::problem(
            &copy.job.target,
            &preflight::show(&copy.job.source),
            &owners,
            None,
        ) {
            problems.push(problem);
        }
        sizes.push((size.bytes, size.entries));
    }
    super::cross_host::room_on(
        ctx,
        ctx.engine,
        context,
        plan,
        &ctx.roots,
        &sizes,
        &mut problems,
    );
    Ok(problems)
}
