//! `tierctl migrate --to-context B`: the steps of a cross-host migration, run by the journaled
//! loop ([`super::run::run_with`]) on engine A (the current endpoint, in the
//! [`MigrateContext`]) and engine B ([`OtherHost`]); its preflight and its rollback.
//!
//! Data path: a never-started helper on A mounts the source read-only; the engine's archive
//! stream of it is handed, chunk by chunk, to B's archive endpoint, which extracts it into a
//! never-started helper on B that binds the target in B's tier directory. Nothing is staged on
//! the host running tierctl. The delta of a local migration lists both trees in one helper,
//! which two engines cannot do: the pre-copy keeps the manifest of the copy on B, and the pass
//! while A is stopped sends only what A's stopped manifest says differs
//! ([`super::cross_delta`], [`super::cross_transfer`]). Verify: each engine's helper prints its tree's manifest (busybox `find`,
//! `stat`, `sha256sum`); only those texts cross, compared by [`manifest::compare`].

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::compose_cli::{self, ComposeCli};
use super::cross_plan::{self as xp, CrossHost};
use super::journal::{self, Detail, Journal, Record};
use super::outcome::Outcome;
use super::plan::{MigratePlan, MigrateStep};
use super::steps::{self, StepInput, StepResult};
use super::tree::manifest::{self, Manifest, Rules};
use super::{MigrateContext, MigrateError, state_of};
use super::{cross_delta, cross_transfer};
use crate::engine::{
    ArchiveWriter, Engine, EngineError, HelperOutput, HelperSpec, MountSource, Selector,
};
use crate::lock::ProjectLock;

/// An engine a migration can write archives into.
pub trait Destination: Engine + ArchiveWriter + Sync {}
impl<T: Engine + ArchiveWriter + Sync> Destination for T {}

/// Engine B, where the project goes.
pub struct OtherHost<'a> {
    /// The engine.
    pub engine: &'a dyn Destination,
    /// Its docker context (the compose CLI is pointed at it by `DOCKER_CONTEXT`).
    pub context: String,
}

pub(super) fn engine_error(e: EngineError) -> String {
    format!("{e}; hint: {}", e.hint())
}

fn cross(plan: &MigratePlan) -> Result<&CrossHost, String> {
    plan.to_context
        .as_deref()
        .ok_or_else(|| "the journal's plan is not a migration to another context".to_owned())
}

/// Run one step of a cross-host migration.
pub fn execute(
    b: &OtherHost<'_>,
    input: &StepInput<'_>,
    step: &MigrateStep,
    retried: bool,
) -> StepResult {
    match step {
        MigrateStep::Stop => {
            input.ctx.stopped_at.set(Some(Instant::now()));
            steps::stop(input)
        }
        MigrateStep::CreateDir(n) => create_dir(b, input, *n, retried),
        MigrateStep::PreCopy(n) => pre_copy(b, input, *n, retried),
        MigrateStep::Copy(n) => transfer(b, input, *n, retried).map(|l| (Detail::None, l)),
        MigrateStep::Delta(n) => {
            steps::refuse_killed(input)?;
            delta(b, input, *n)
        }
        MigrateStep::Verify(n) => verify(b, input, *n),
        MigrateStep::PreVerify(n) => Err(format!(
            "step pre-verify:{n}: a move to another context verifies both engines' manifests once the services are stopped; a running verify is not planned for it"
        )),
        MigrateStep::Rewrite => write_compose(input.plan),
        MigrateStep::Start => start(b, input),
        MigrateStep::VerifyMounts => verify_mounts(b, input),
        MigrateStep::RemoveSource(n) => Err(format!(
            "step remove-source:{n}: `--to-context` never removes the source on this engine during the move (`--prune-source` is not available for it yet)"
        )),
    }
}

fn run_on(engine: &dyn Engine, spec: &HelperSpec) -> Result<String, String> {
    engine.run_to_end(spec).map_err(engine_error)
}

/// B's tier root of copy `n`'s target, and the target below it.
pub(super) fn root_of(plan: &MigratePlan, n: usize) -> Result<(&Path, String), String> {
    let target = &plan.copies[n].job.target;
    let cross = cross(plan)?;
    xp::root_of(&cross.roots, target).ok_or_else(|| {
        format!(
            "`{}` lies in none of the tier roots of context `{}`",
            target.display(),
            cross.context
        )
    })
}

fn create_dir(b: &OtherHost<'_>, input: &StepInput<'_>, n: usize, retried: bool) -> StepResult {
    let (root, rel) = root_of(input.plan, n)?;
    let (image, journal) = (&input.ctx.image, input.journal);
    let room = run_on(
        b.engine,
        &xp::room_spec(root, std::slice::from_ref(&rel), image, journal),
    )?;
    let state = xp::parse_room(&room)
        .and_then(|r| r.targets.first().cloned())
        .ok_or_else(|| format!("unreadable room helper output `{}`", room.trim()))?;
    let target = &input.plan.copies[n].job.target;
    match state.as_str() {
        "missing" => {
            run_on(b.engine, &xp::mkdir_spec(root, &rel, image, journal))?;
            Ok((
                Detail::Created { made: None },
                format!("created on `{}`", b.context),
            ))
        }
        "empty" => Ok((Detail::Created { made: None }, "exists, empty".into())),
        _ if retried => Ok((
            Detail::Created { made: None },
            "holds this journal's partial copy (emptied before the copy)".into(),
        )),
        _ => Err(format!(
            "`{}` on context `{}` is not empty: tierctl copies only into a missing or empty tier directory",
            target.display(),
            b.context
        )),
    }
}

/// One full pass of copy `n` from A into B (the target emptied first when it may hold a
/// partial or older copy), then the root directory's attributes.
fn transfer(
    b: &OtherHost<'_>,
    input: &StepInput<'_>,
    n: usize,
    wipe: bool,
) -> Result<String, String> {
    let job = &input.plan.copies[n].job;
    let (image, journal) = (&input.ctx.image, input.journal);
    if wipe {
        run_on(
            b.engine,
            &super::copy::wipe_spec(&job.target, image, journal),
        )?;
    }
    let began = Instant::now();
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let read = xp::read_spec(&job.source, image, journal);
    let write = xp::write_spec(&job.target, image, journal);
    let bar = super::progress::bar(input.label.to_owned());
    let label = input.label;
    let copied = super::progress::ticking(
        std::time::Duration::from_millis(300),
        || {
            let mib = bytes.load(std::sync::atomic::Ordering::Relaxed) >> 20;
            bar.set_message(format!("{label} {mib} MiB streamed"));
        },
        || {
            input
                .ctx
                .engine
                .read_archives(&read, &[&format!("{}/.", xp::FROM)], &|_, tar| {
                    let mut counted = super::cross_transfer::Counted {
                        inner: tar,
                        count: &bytes,
                    };
                    b.engine
                        .write_archive(&write, xp::TO, &mut counted)
                        .map_err(|e| std::io::Error::other(e.to_string()))
                })
        },
    );
    bar.finish_and_clear();
    copied.map_err(engine_error)?;
    let stat = run_on(
        input.ctx.engine,
        &xp::root_stat_spec(&job.source, image, journal),
    )?;
    let root = xp::parse_root(&stat)
        .ok_or_else(|| format!("unreadable root attributes `{}`", stat.trim()))?;
    run_on(
        b.engine,
        &xp::root_fix_spec(&job.target, root, image, journal),
    )?;
    let secs = began.elapsed().as_secs_f64();
    let mib = bytes.load(std::sync::atomic::Ordering::Relaxed) as f64 / f64::from(1 << 20);
    Ok(format!(
        "{mib:.1} MiB of tar streamed to `{}` in {secs:.1} s",
        b.context
    ))
}

/// The full pass while the services run, then the manifest of the copy it left on B (computed
/// there, kept beside the journal): the delta compares it with the stopped source.
fn pre_copy(b: &OtherHost<'_>, input: &StepInput<'_>, n: usize, retried: bool) -> StepResult {
    let line = transfer(b, input, n, retried)?;
    let (image, journal) = (&input.ctx.image, input.journal);
    let target = MountSource::Bind(input.plan.copies[n].job.target.clone());
    let copy = helper_manifest(b.engine, &target, xp::TO, image, journal)?;
    let manifest = journal::keep_manifest(
        &journal::dir(&input.plan.project_dir),
        journal,
        &format!("precopy-{n}"),
        &copy,
    )
    .map_err(|e| e.to_string())?;
    let entries = copy.len();
    Ok((
        Detail::PreCopiedAcross { manifest, entries },
        format!(
            "{line}; manifest of the copy ({entries} entries) taken on `{}`",
            b.context
        ),
    ))
}

/// While the services are stopped: the manifest of A's source, compared with the pre-copy's
/// manifest of the copy on B; B removes what is gone, fixes owners/modes/mtimes in place and
/// extracts one tar of the rest ([`cross_transfer::send`]). A journal without the pre-copy's
/// manifest gets a second full pass.
fn delta(b: &OtherHost<'_>, input: &StepInput<'_>, n: usize) -> StepResult {
    let job = &input.plan.copies[n].job;
    let (image, journal) = (&input.ctx.image, input.journal);
    let Some(Detail::PreCopiedAcross { manifest, .. }) =
        input.state.done.get(&MigrateStep::PreCopy(n).id())
    else {
        let line = transfer(b, input, n, true)?;
        let detail = Detail::Delta {
            since: 0,
            copied: 0,
            removed: 0,
        };
        return Ok((
            detail,
            format!("second full pass (services stopped): {line}"),
        ));
    };
    let began = Instant::now();
    let pre = journal::load_manifest(&journal::dir(&input.plan.project_dir), manifest)
        .map_err(|e| e.to_string())?;
    let now = helper_manifest(input.ctx.engine, &job.source, xp::FROM, image, journal)?;
    let delta = cross_delta::plan(&pre, &now);
    for args in cross_delta::apply_args(&delta, &now, 64 * 1024) {
        run_on(b.engine, &xp::apply_spec(&job.target, args, image, journal))?;
    }
    let bytes = std::sync::atomic::AtomicU64::new(0);
    if !delta.send.is_empty() {
        let route = cross_transfer::Route {
            a: input.ctx.engine,
            b: b.engine,
            source: &job.source,
            target: &job.target,
            image,
            journal,
        };
        cross_transfer::send(&route, &delta, &now, &bytes)?;
    }
    let root = now
        .entries
        .get(".")
        .and_then(xp::root_attributes)
        .ok_or_else(|| "the stopped source's manifest has no root directory".to_owned())?;
    run_on(
        b.engine,
        &xp::root_fix_spec(&job.target, root, image, journal),
    )?;
    let data = delta.data().count();
    let (copied, removed) = (delta.send.len() as u64, delta.remove.len() as u64);
    let tar = bytes.into_inner();
    let fixed = delta.fix.len();
    input.ctx.stopped_sources.borrow_mut().insert(n, now);
    Ok((
        Detail::Delta {
            since: 0,
            copied,
            removed,
        },
        format!(
            "delta (services stopped): {copied} entries sent ({data} files with content, {tar} bytes of tar), {removed} removed, {fixed} fixed in place on `{}` in {:.1} s",
            b.context,
            began.elapsed().as_secs_f64()
        ),
    ))
}

/// The manifest of a tree, computed where it lives by a helper on its engine (only the text
/// crosses). The VM path's helper manifests (issue 13) may replace this once on main.
pub fn helper_manifest(
    engine: &dyn Engine,
    source: &MountSource,
    at: &str,
    image: &str,
    journal: &str,
) -> Result<Manifest, String> {
    let text = run_on(engine, &xp::manifest_spec(source, at, image, journal))?;
    xp::parse_manifest(&text, at).map_err(|e| format!("manifest of `{source:?}`: {e}"))
}

/// Both trees' manifests, each computed on its own engine, compared. The source's is the one
/// this run's delta took after the stop when there is one (the services are still down: it is
/// the stopped source), else read now, at the same time as the copy's.
fn verify(b: &OtherHost<'_>, input: &StepInput<'_>, n: usize) -> StepResult {
    let job = &input.plan.copies[n].job;
    let (image, journal) = (&input.ctx.image, input.journal);
    let target = MountSource::Bind(job.target.clone());
    let taken = input.ctx.stopped_sources.borrow_mut().remove(&n);
    let source_read = match taken {
        Some(_) => "the source's manifest from the delta (taken after the stop)",
        None => "sha256 on both engines",
    };
    // both engines hash at once, each its own tree
    let (a, copy) = std::thread::scope(|scope| {
        let copy = scope.spawn(|| helper_manifest(b.engine, &target, xp::TO, image, journal));
        let a = match taken {
            Some(a) => Ok(a),
            None => helper_manifest(input.ctx.engine, &job.source, xp::FROM, image, journal),
        };
        let copy = copy
            .join()
            .unwrap_or_else(|_| Err("the manifest thread panicked".into()));
        (a, copy)
    });
    let (a, copy) = (a?, copy?);
    let differences = manifest::compare(&a, &copy, Rules::default());
    if !differences.is_empty() {
        let shown: Vec<String> = differences.iter().take(20).map(|d| d.to_string()).collect();
        return Err(format!(
            "the copy on `{}` differs from the source in {} place(s): {}",
            b.context,
            differences.len(),
            shown.join("; ")
        ));
    }
    let kept = journal::keep_manifest(
        &journal::dir(&input.plan.project_dir),
        input.journal,
        &format!("verify-{n}"),
        &copy,
    )
    .map_err(|e| e.to_string())?;
    let (entries, bytes) = (a.len(), a.bytes());
    Ok((
        Detail::Verified {
            entries,
            bytes,
            manifest: Some(kept),
        },
        format!(
            "ok: {entries} entries, {bytes} bytes, the copy re-read on `{}`, {source_read}; only manifests crossed",
            b.context
        ),
    ))
}

/// Write the compose files for B (new files: refused when one with other text is there; the
/// originals are never touched).
fn write_compose(plan: &MigratePlan) -> StepResult {
    let mut lines = Vec::new();
    for change in &plan.files {
        let path = &change.path;
        match std::fs::read_to_string(path) {
            Ok(text) if text == change.new => {
                lines.push(format!("`{}` already written", path.display()));
                continue;
            }
            Ok(_) => {
                return Err(format!(
                    "`{}` exists with other text; move it away (the original compose files are untouched)",
                    path.display()
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
        }
        create_synced(path, &change.new)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        lines.push(format!("wrote `{}`", path.display()));
    }
    if lines.is_empty() {
        lines.push("nothing to write".into());
    }
    Ok((Detail::None, lines.join("; ")))
}

/// Create `path` (it must not exist) through a temporary file beside it, fsynced, linked in
/// without replacing anything, the directory fsynced.
fn create_synced(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tierctl-{}", std::process::id()));
    let mut file = crate::write::open_new(&temp)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        // a hard link fails when `path` appeared meanwhile: nothing is replaced
        .and_then(|()| std::fs::hard_link(&temp, path));
    let _ = std::fs::remove_file(&temp);
    written?;
    std::fs::File::open(dir)?.sync_all()
}

/// `up -d` of the services that ran on A, on engine B, with the compose file for B and the
/// compose family that created the project's containers on A.
fn compose_up(
    cli: Option<&ComposeCli>,
    a: &dyn Engine,
    b: &OtherHost<'_>,
    plan: &MigratePlan,
    services: &[String],
) -> Result<(), String> {
    let cross = cross(plan)?;
    let on_b = MigratePlan {
        compose_files: cross.files_for_b(),
        ..plan.clone()
    };
    let program =
        match cli {
            Some(cli) => cli.program(a, &plan.project)?,
            None => return Err(
                "no compose CLI found (`docker compose`, `docker-compose-v2` or `docker-compose`)"
                    .into(),
            ),
        };
    let args = compose_cli::up_command(&program, &on_b, services);
    let output = Command::new(&args[0])
        .args(&args[1..])
        .current_dir(&plan.project_dir)
        .env("DOCKER_CONTEXT", &b.context)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .output()
        .map_err(|err| format!("cannot run `{}`: {err}", args.join(" ")))?;
    if !output.status.success() {
        return Err(format!(
            "`DOCKER_CONTEXT={} {}` failed: {}",
            b.context,
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(())
}

fn start(b: &OtherHost<'_>, input: &StepInput<'_>) -> StepResult {
    let running = input.state.running_services();
    if running.is_empty() {
        return Ok((
            Detail::None,
            "skipped: no service was running on this engine".into(),
        ));
    }
    compose_up(
        input.ctx.compose.as_ref(),
        input.ctx.engine,
        b,
        input.plan,
        &running,
    )?;
    let down = steps::downtime_ms(input)
        .map(|ms| {
            input.ctx.downtime_ms.set(Some(ms));
            format!("; services were down {:.1} s", ms as f64 / 1000.0)
        })
        .unwrap_or_default();
    Ok((
        Detail::None,
        format!("started on `{}`: {}{down}", b.context, running.join(", ")),
    ))
}

fn verify_mounts(b: &OtherHost<'_>, input: &StepInput<'_>) -> StepResult {
    let plan = input.plan;
    let running = input.state.running_services();
    if running.is_empty() {
        return Ok((Detail::None, "skipped: no service was running".into()));
    }
    let containers = b
        .engine
        .list(&Selector::Project(plan.project.clone()))
        .map_err(engine_error)?;
    let mut checked = 0;
    for expected in plan.mounts.iter().filter(|m| running.contains(&m.service)) {
        checked += steps::inspected_binds(&containers, expected)?;
    }
    Ok((
        Detail::None,
        format!(
            "ok on `{}`: {checked} mount(s) bind their tier directories",
            b.context
        ),
    ))
}

/// Refuse before anything changes (every problem listed): A and B reachable, the compose CLI,
/// each source readable on A (measured), the helper image on both engines, B's tier roots
/// there with room for the sources plus margin, each target missing or empty, the project not
/// running on B, no compose file for B with other text.
pub fn preflight(
    ctx: &MigrateContext<'_>,
    b: &OtherHost<'_>,
    plan: &MigratePlan,
    _lock: &ProjectLock,
) -> Result<(), MigrateError> {
    let mut problems = Vec::new();
    if let Err(e) = ctx.engine.info() {
        return Err(super::preflight::refusal(vec![engine_error(e)]));
    }
    if let Err(e) = b.engine.info() {
        return Err(super::preflight::refusal(vec![engine_error(e)]));
    }
    if ctx.compose.is_none() {
        problems.push("no compose CLI found (`docker compose`, `docker-compose-v2` or `docker-compose`) to start the project on the other engine".into());
    }
    let cross = cross(plan).map_err(|m| super::preflight::refusal(vec![m]))?;
    match b.engine.list(&Selector::Project(plan.project.clone())) {
        Ok(found) if found.iter().any(|c| c.running) => problems.push(format!(
            "project `{}` already runs on context `{}`: stop it there first (`docker --context {} compose -p {} down`)",
            plan.project, b.context, b.context, plan.project
        )),
        Ok(_) => {}
        Err(e) => problems.push(engine_error(e)),
    }
    if let Some(change) = plan.files.first()
        && std::fs::read_to_string(&change.path).is_ok_and(|t| t != change.new)
    {
        problems.push(format!(
            "`{}` exists with other text: move it away first",
            change.path.display()
        ));
    }
    for image in &cross.images {
        let probe = HelperSpec::new("image-check", image, vec!["true".into()]);
        match b.engine.populate(&probe) {
            Ok(()) => {}
            Err(EngineError::ImageMissing { .. }) => problems.push(format!(
                "image `{image}` of the project is not on context `{}` (no registry is assumed: copy it with `docker save {image} | docker --context {} load`)",
                b.context, b.context
            )),
            Err(e) => problems.push(engine_error(e)),
        }
    }
    let sizes = measure_sources(ctx, plan, &mut problems);
    room_on(
        ctx,
        b.engine,
        &b.context,
        plan,
        &cross.roots,
        &sizes,
        &mut problems,
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(super::preflight::refusal(problems))
    }
}

/// Each source's size on A (0 for one that could not be measured: its problem is listed).
fn measure_sources(
    ctx: &MigrateContext<'_>,
    plan: &MigratePlan,
    problems: &mut Vec<String>,
) -> Vec<(u64, u64)> {
    plan.copies
        .iter()
        .map(|copy| {
            let spec = super::copy::measure_spec(&copy.job, &ctx.image, "preflight");
            match ctx
                .engine
                .run_to_end(&spec)
                .map(|t| super::copy::parse_size(&t))
            {
                Ok(Some(size)) => (size.bytes, size.entries),
                Ok(None) => {
                    problems.push(format!("source `{}`: unreadable size", copy.key));
                    (0, 0)
                }
                Err(e) => {
                    problems.push(format!(
                        "source `{}` on this engine: {}",
                        copy.key,
                        engine_error(e)
                    ));
                    (0, 0)
                }
            }
        })
        .collect()
}

/// Per tier root of the engine `engine` (context `context`: B of a move, or the engine's host
/// when it is another machine): it exists (a helper binds it), the helper image is there, the
/// targets below it are missing or empty, and it has room for its sources plus margin.
pub(super) fn room_on(
    ctx: &MigrateContext<'_>,
    engine: &dyn Engine,
    context: &str,
    plan: &MigratePlan,
    roots: &[PathBuf],
    sizes: &[(u64, u64)],
    problems: &mut Vec<String>,
) {
    let by_root = copies_by_root(context, plan, roots, problems);
    for (root, copies) in by_root {
        let rels: Vec<String> = copies
            .iter()
            .filter_map(|n| xp::root_of(roots, &plan.copies[*n].job.target).map(|(_, r)| r))
            .collect();
        let spec = xp::room_spec(&root, &rels, &ctx.image, "preflight");
        let room = match engine.run_helper(&spec) {
            Ok(HelperOutput::Ran(text)) => xp::parse_room(&text),
            Ok(HelperOutput::SourceMissing { .. }) => {
                problems.push(format!(
                    "tier directory `{}` does not exist on context `{context}`: create it there (`tierctl --context {context} tiers init`, or mkdir on that host)",
                    root.display()
                ));
                continue;
            }
            Err(EngineError::ImageMissing { image, .. }) => {
                problems.push(format!(
                    "helper image `{image}` is not on context `{context}` (no registry is needed: copy it with `docker save {image} | docker --context {context} load`)"
                ));
                return;
            }
            Err(e) => {
                problems.push(format!(
                    "tier directory `{}` on context `{context}`: {}",
                    root.display(),
                    engine_error(e)
                ));
                continue;
            }
        };
        let Some(room) = room else {
            problems.push(format!(
                "tier directory `{}` on context `{context}`: unreadable room helper output",
                root.display()
            ));
            continue;
        };
        check_room(context, plan, &root, &copies, &room, sizes, problems);
    }
}

/// The copies of `plan` by the tier root of `roots` their target lies in; a target in none of
/// them is a problem.
fn copies_by_root(
    context: &str,
    plan: &MigratePlan,
    roots: &[PathBuf],
    problems: &mut Vec<String>,
) -> std::collections::BTreeMap<PathBuf, Vec<usize>> {
    let mut by_root: std::collections::BTreeMap<PathBuf, Vec<usize>> = Default::default();
    for (n, copy) in plan.copies.iter().enumerate() {
        match xp::root_of(roots, &copy.job.target) {
            Some((root, _)) => by_root.entry(root.to_path_buf()).or_default().push(n),
            None => problems.push(format!(
                "`{}` lies in none of the tier roots of context `{context}`",
                copy.job.target.display()
            )),
        }
    }
    by_root
}

/// What the room helper found below one tier root of B: each target of `copies` must be
/// missing or empty, and the root must have room for their sources plus margin.
fn check_room(
    context: &str,
    plan: &MigratePlan,
    root: &Path,
    copies: &[usize],
    room: &xp::Room,
    sizes: &[(u64, u64)],
    problems: &mut Vec<String>,
) {
    for (n, state) in copies.iter().zip(&room.targets) {
        if state == "full" {
            problems.push(format!(
                "`{}` on context `{}` is not empty: tierctl copies only into a missing or empty tier directory",
                plan.copies[*n].job.target.display(),
                context
            ));
        }
    }
    let (bytes, entries) = copies
        .iter()
        .map(|n| sizes.get(*n).copied().unwrap_or_default())
        .fold((0, 0), |(b, e), (x, y)| (b + x, e + y));
    let needed = bytes + super::preflight::margin(bytes, entries);
    if room.available < needed {
        problems.push(format!(
            "tier directory `{}` on context `{}` has {} MiB free, the sources need {} MiB (with margin)",
            root.display(),
            context,
            room.available >> 20,
            needed >> 20
        ));
    }
}

/// `--rollback` of a cross-host migration: stop the project's containers on B; refuse (and
/// start them again) when a copy on B changed since it was verified, unless `--force` (the
/// services would go back to older data here); else start the services that ran before on A
/// again (A's data was only ever read) and remove the compose file for B when it still holds
/// the text tierctl wrote. The copies on B stay, unless `discard_copy`
/// ([`super::cross_discard`]: only verified copies nothing newer was written to); on a journal
/// already rolled back, only that is left to do.
pub fn rollback(
    ctx: &MigrateContext<'_>,
    b: &OtherHost<'_>,
    journal: &mut Journal,
    records: &[Record],
    discard_copy: bool,
) -> Result<Outcome, MigrateError> {
    let state = state_of(journal, records)?;
    if state.rolled_back {
        if !discard_copy {
            return Err(super::rollback::already_rolled_back(journal, &state));
        }
        let lines = super::cross_discard::discard(ctx, b, journal, &state)?;
        return Ok(outcome(ctx, journal, "discard-copy", lines));
    }
    let plan = state.plan.clone();
    let path = journal.path.clone();
    let blocked = |message: String| MigrateError::Blocked {
        message,
        hint: format!(
            "fix the cause and run `tierctl migrate --rollback` again (journal `{}`)",
            path.display()
        ),
    };
    refuse_after_prune(&plan, &state, &blocked)?;
    let mut lines = Vec::new();
    let stopped = stop_on(b, &plan).map_err(&blocked)?;
    lines.push(format!(
        "stopped on `{}`: {}",
        b.context,
        steps::list_or_none(&stopped)
    ));
    let changed = changed_on_b(ctx, b, &plan, &state, &journal.id).map_err(&blocked)?;
    if !changed.is_empty() && !ctx.force {
        return Err(restart_on_b(ctx, b, &plan, &stopped, &changed));
    }
    journal.append(&Record::RollbackBegun)?;
    let running = state.running_services();
    if running.is_empty() {
        lines.push("nothing to start on this engine: no service was running".into());
    } else {
        compose_cli::start(ctx.compose.as_ref(), ctx.engine, &plan, &running).map_err(&blocked)?;
        lines.push(format!("started on this engine: {}", running.join(", ")));
    }
    remove_file_for_b(&plan, &blocked, &mut lines)?;
    journal.append(&Record::RolledBack)?;
    if discard_copy {
        let removed = super::cross_discard::discard(ctx, b, journal, &state);
        // the rollback is done either way: say what it did before a refusal to remove a copy
        let removed = removed.inspect_err(|_| lines.iter().for_each(|l| ctx.say(l)))?;
        lines.extend(removed);
    } else {
        let targets: Vec<String> = plan
            .copies
            .iter()
            .map(|c| c.job.target.display().to_string())
            .collect();
        lines.push(format!(
            "the copies on `{}` stay: {}",
            b.context,
            targets.join(", ")
        ));
    }
    Ok(outcome(ctx, journal, "rollback", lines))
}

/// A rollback is refused once `--prune-source` removed a source on this engine.
fn refuse_after_prune(
    plan: &MigratePlan,
    state: &journal::JournalState,
    blocked: &dyn Fn(String) -> MigrateError,
) -> Result<(), MigrateError> {
    if let Some((_, copy)) = plan
        .copies
        .iter()
        .enumerate()
        .find(|(n, _)| state.done.contains_key(&MigrateStep::RemoveSource(*n).id()))
    {
        return Err(blocked(format!(
            "source `{}` was removed by `--prune-source`: the project cannot go back to this engine",
            copy.key
        )));
    }
    Ok(())
}

/// The copies on B `changed` since they were verified: start the `stopped` services on B again
/// and say why the rollback is refused.
fn restart_on_b(
    ctx: &MigrateContext<'_>,
    b: &OtherHost<'_>,
    plan: &MigratePlan,
    stopped: &[String],
    changed: &[String],
) -> MigrateError {
    let restarted = compose_up(ctx.compose.as_ref(), ctx.engine, b, plan, stopped);
    MigrateError::Blocked {
        message: format!(
            "the services wrote on `{}` since the copy was verified ({}); rolling back would return them to older data on this engine{}",
            b.context,
            changed.join("; "),
            match restarted {
                Ok(()) => format!("; started again on `{}`", b.context),
                Err(e) => format!("; starting them again on `{}` failed: {e}", b.context),
            }
        ),
        hint: "keep the project on the other engine, or copy its data back first; `tierctl migrate --rollback --force` goes back to this engine's older data (the other engine's copy stays)".into(),
    }
}

/// Remove the compose files written for B that still hold the text tierctl wrote.
fn remove_file_for_b(
    plan: &MigratePlan,
    blocked: &dyn Fn(String) -> MigrateError,
    lines: &mut Vec<String>,
) -> Result<(), MigrateError> {
    for change in &plan.files {
        if std::fs::read_to_string(&change.path).is_ok_and(|t| t == change.new) {
            std::fs::remove_file(&change.path)
                .map_err(|e| blocked(format!("cannot remove `{}`: {e}", change.path.display())))?;
            lines.push(format!(
                "removed `{}` (the original compose files were never changed)",
                change.path.display()
            ));
        }
    }
    Ok(())
}

/// Stop the project's running containers on B; their services.
fn stop_on(b: &OtherHost<'_>, plan: &MigratePlan) -> Result<Vec<String>, String> {
    let on_b = b
        .engine
        .list(&Selector::Project(plan.project.clone()))
        .map_err(engine_error)?;
    let running: Vec<_> = on_b.into_iter().filter(|c| c.running).collect();
    super::steps::stop_containers(b.engine, &running, plan).map_err(engine_error)
}

/// The copies on B that differ from their journaled (verified) manifest, each with its first
/// differences.
fn changed_on_b(
    ctx: &MigrateContext<'_>,
    b: &OtherHost<'_>,
    plan: &MigratePlan,
    state: &journal::JournalState,
    id: &str,
) -> Result<Vec<String>, String> {
    let dir = journal::dir(&plan.project_dir);
    let mut changed = Vec::new();
    for (n, copy) in plan.copies.iter().enumerate() {
        let Some(kept) = state.manifest_of(n) else {
            continue;
        };
        let verified = journal::load_manifest(&dir, kept).map_err(|e| e.to_string())?;
        let target = MountSource::Bind(copy.job.target.clone());
        let now = helper_manifest(b.engine, &target, xp::TO, &ctx.image, id)?;
        let differences = manifest::compare(&verified, &now, Rules::default());
        if !differences.is_empty() {
            let shown: Vec<String> = differences.iter().take(3).map(|d| d.to_string()).collect();
            changed.push(format!(
                "`{}`: {}",
                copy.job.target.display(),
                shown.join(", ")
            ));
        }
    }
    Ok(changed)
}

fn outcome(ctx: &MigrateContext<'_>, journal: &Journal, step: &str, lines: Vec<String>) -> Outcome {
    for line in &lines {
        ctx.say(line);
    }
    Outcome {
        journal: journal.path.clone(),
        steps: lines
            .into_iter()
            .map(|result| super::StepOutcome {
                step: step.into(),
                result,
            })
            .collect(),
        kept: Vec::new(),
        downtime_ms: ctx.downtime_ms.get(),
    }
}

/// `--prune-source` after a finished cross-host migration: remove each source volume on A
/// that no container on A uses (the project's stopped containers too: `compose down` first)
/// and whose data is still what was verified on B. Binds are never removed.
pub fn prune(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    records: &[Record],
) -> Result<Outcome, MigrateError> {
    let state = state_of(journal, records)?;
    let plan = state.plan.clone();
    let dir = journal::dir(&plan.project_dir);
    let blocked = |message: String| MigrateError::Blocked {
        message,
        hint:
            "nothing more was removed; fix the cause and run `tierctl migrate --prune-source` again"
                .into(),
    };
    let mut lines = Vec::new();
    for (n, copy) in plan.copies.iter().enumerate() {
        let MountSource::Volume(name) = &copy.job.source else {
            continue;
        };
        let step = MigrateStep::RemoveSource(n).id();
        if state.done.contains_key(&step) {
            continue;
        }
        let users = ctx
            .engine
            .list(&Selector::Volume(name.clone()))
            .map_err(|e| blocked(engine_error(e)))?;
        if !users.is_empty() {
            let names: Vec<String> = users.iter().map(|c| c.name.clone()).collect();
            return Err(blocked(format!(
                "volume `{name}` is still used by container(s) {} on this engine: remove them first (`docker compose -p {} down`, without `-v`)",
                names.join(", "),
                plan.project
            )));
        }
        let Some(kept) = state.manifest_of(n) else {
            return Err(blocked(format!(
                "copy {n} of `{name}` has no verified manifest in the journal"
            )));
        };
        let verified = journal::load_manifest(&dir, kept).map_err(|e| blocked(e.to_string()))?;
        let now = helper_manifest(
            ctx.engine,
            &copy.job.source,
            xp::FROM,
            &ctx.image,
            &journal.id,
        )
        .map_err(&blocked)?;
        let differences = manifest::compare(&verified, &now, Rules::default());
        if let Some(first) = differences.first() {
            return Err(blocked(format!(
                "volume `{name}` changed since its copy was verified ({first}, {} difference(s)): it is not removed",
                differences.len()
            )));
        }
        journal.append(&Record::Start { step: step.clone() })?;
        ctx.engine
            .remove_volume(name)
            .map_err(|e| blocked(engine_error(e)))?;
        journal.append(&Record::Done {
            step,
            detail: Detail::None,
        })?;
        lines.push(format!(
            "removed volume `{name}` (its verified copy is on the other engine)"
        ));
    }
    if lines.is_empty() {
        lines.push("no source volume left to remove".into());
    }
    Ok(outcome(ctx, journal, "prune-source", lines))
}
