//! `tierctl migrate --rollback`: stop the services, bring back into each source what the
//! services wrote on the tier since the migration, write the files back as they were, start the
//! services that were running on their old volumes. It never restarts a service on data older
//! than what it last wrote: each tier directory is compared with the manifest the journal kept
//! when its copy verified, and one that changed is copied back into its source (a migration in
//! reverse: the same helpers with the two sides swapped, verified the same way) before the files
//! go back. The copies stay unless `discard_copy`: then only the copies this journal made are
//! removed, and only when each still equals its journaled manifest and no compose file or
//! container uses it.

use std::path::Path;
use std::sync::atomic::AtomicU64;

use super::compose_cli;
use super::copy::{self, CopyJob};
use super::journal::{self, Detail, Journal, JournalState, Record, discard_step, reverse_step};
use super::late_writes::{self, LateWriteError};
use super::outcome::{Outcome, StepOutcome};
use super::plan::{MigratePlan, MigrateStep, OnceStep, StepId};
use super::preflight::topmost_missing;
use super::prune::{Reload, users};
use super::steps::list_or_none;
use super::tree::helper::{self, Depth};
use super::tree::manifest::{self, Digest, Manifest, Rules};
use super::{MigrateContext, MigrateError, state_of};
use super::{tier_dirs, tree};
use crate::engine::{HelperSpec, MountSource};
use crate::write::{self, FileWrite};

/// Undo the journal's migration. Refused once a source volume was removed. On a journal
/// already rolled back, only `discard_copy` has something left to do.
pub fn rollback(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    records: &[Record],
    discard_copy: bool,
    reload: Reload<'_>,
) -> Result<Outcome, MigrateError> {
    let mut state = state_of(journal, records)?;
    if state.rolled_back {
        if !discard_copy {
            return Err(already_rolled_back(journal, &state));
        }
        let steps = discard_copies(ctx, journal, &mut state, reload)?;
        return Ok(outcome(journal, steps));
    }
    if state.source_removed() {
        return Err(MigrateError::Blocked {
            message: "a source volume was already removed: the copy is the only data left, so the migration is not rolled back".into(),
            hint: "nothing was changed; the services keep running on the tier directories".into(),
        });
    }
    if !state.rolling_back {
        journal.append(&Record::RollbackBegun)?;
        state.rolling_back = true;
    }
    ctx.remove_helpers(&journal.id);
    let mut steps = Vec::new();
    // 1. the services run on the copies: stop them (a run that failed in its pre-copy never
    // stopped them: they still run on their volumes)
    ctx.pause_at(&StepId::Once(OnceStep::RollbackStop), false);
    let stop = MigrateStep::Stop.id();
    if state.begun.contains(&stop) || state.done.contains_key(&stop) {
        steps.push(stop_services(ctx, journal, &mut state)?);
    }
    // 2. what they wrote on the tier goes back into the source, verified
    for n in 0..state.plan.copies.len() {
        steps.extend(bring_back(ctx, journal, &mut state, n)?);
    }
    // 3. the files, byte for byte
    ctx.pause_at(&StepId::Once(OnceStep::RollbackRestore), false);
    steps.push(restore_files(journal, &state)?);
    // 4. the services that ran, on their old volumes
    ctx.pause_at(&StepId::Once(OnceStep::RollbackStart), false);
    steps.push(start_again(ctx, journal, &state)?);
    ctx.remove_seed_volumes(&state);
    journal.append(&Record::RolledBack)?;
    state.rolled_back = true;
    // 5. the copies stay unless asked: only the ones this journal made go, once nothing uses them
    if discard_copy {
        steps.extend(discard_copies(ctx, journal, &mut state, reload)?);
    } else {
        steps.extend(kept_copies(&state.plan));
    }
    Ok(outcome(journal, steps))
}

fn outcome(journal: &Journal, steps: Vec<StepOutcome>) -> Outcome {
    Outcome {
        journal: journal.path.clone(),
        steps,
        kept: Vec::new(),
        downtime_ms: None,
    }
}

/// A rollback step failed: the commands that work now come from the journal's phase.
fn failed(
    state: &JournalState,
    step: &(impl std::fmt::Display + ?Sized),
    message: String,
) -> MigrateError {
    MigrateError::Blocked {
        message: format!("rollback step `{step}` failed: {message}"),
        hint: format!("fix the cause; {}", journal::next_commands(state.phase())),
    }
}

/// Stop the plan's running services; those running are journaled first ([`Record::Running`]),
/// so they are started again even when the migration's stop step never journaled them (a run
/// killed during its stop) or this rollback is killed before it starts them.
fn stop_services(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    state: &mut JournalState,
) -> Result<StepOutcome, MigrateError> {
    let path = journal.path.display().to_string();
    let fail = |e: String| MigrateError::Blocked {
        message: format!("rollback step `stop` failed: {e}"),
        hint: format!(
            "check that the Docker engine answers, then run `tierctl migrate --rollback --yes` again (journal `{path}`)"
        ),
    };
    let running = super::steps::running_services(ctx, &state.plan).map_err(fail)?;
    if !running.is_empty() {
        journal.append(&Record::Running {
            services: running.clone(),
        })?;
        for service in running {
            if !state.running_before.contains(&service) {
                state.running_before.push(service);
            }
        }
    }
    super::steps::stop_plan_services(ctx.engine, &state.plan).map_err(|e| fail(e.to_string()))?;
    Ok(StepOutcome {
        step: "stop".into(),
        result: "done".into(),
    })
}

/// Copy `n`'s tier directory, if the services may have written to it and it differs from the
/// journaled manifest (or none was kept), copied back into its source and verified.
fn bring_back(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    state: &mut JournalState,
    n: usize,
) -> Result<Option<StepOutcome>, MigrateError> {
    let forward = state.plan.copies[n].job.clone();
    let id = reverse_step(n);
    if !state.rewrite_began()
        || !tier_dirs::is_dir(ctx, &forward.target).map_err(|m| failed(state, &id, m))?
    {
        return Ok(None);
    }
    let dir = journal::dir(&state.plan.project_dir);
    // no usable manifest (a journal from before they were kept, or a side file edited or
    // lost): the tier may hold newer data, so it is copied back
    let kept = state
        .manifest_of(n)
        .and_then(|kept| journal::load_manifest(&dir, kept).ok());
    let changed = match kept {
        Some(kept) => {
            let now = tier_manifest(ctx, &journal.id, &forward, kept.digest)
                .map_err(|m| failed(state, &id, m))?;
            let differences = manifest::compare(&kept, &now, Rules::default());
            (!differences.is_empty()).then_some(differences.len())
        }
        None => Some(0),
    };
    let Some(differences) = changed else {
        return Ok(Some(StepOutcome {
            step: id.into(),
            result: format!(
                "`{}` unchanged since the copy verified: nothing to bring back",
                forward.target.display()
            ),
        }));
    };
    if !state.begun.contains(&id) && !ctx.force {
        refuse_over_late_writes(ctx, journal, state, n)?;
    }
    ctx.say(&format!(
        "copy back {n}: `{}` {}; copying it into {}",
        forward.target.display(),
        if differences == 0 {
            "has no usable verified manifest".to_owned()
        } else {
            format!("changed since the migration ({differences} difference(s))")
        },
        show(&forward.source)
    ));
    journal.append(&Record::Start { step: id.clone() })?;
    ctx.pause_at(&id, false);
    let (detail, read) = copy_back(ctx, journal, state, &forward, n).map_err(|m| {
        MigrateError::Blocked {
            message: format!("rollback step `{id}` failed: {m}"),
            hint: format!(
                "the services are stopped and the compose files still use `{}`, which holds the newest data (`docker compose up -d` runs them on it meanwhile); fix the cause, then run `tierctl migrate --rollback --yes` again",
                forward.target.display()
            ),
        }
    })?;
    ctx.pause_at(&id, true);
    let result = match &detail {
        Detail::Verified { entries, bytes, .. } => format!(
            "copied `{}` back into {}: verified, {entries} entries, {bytes} bytes; {read}",
            forward.target.display(),
            show(&forward.source)
        ),
        _ => String::new(),
    };
    journal.append(&Record::Done {
        step: id.clone(),
        detail: detail.clone(),
    })?;
    state.done.insert(id.clone(), detail);
    Ok(Some(StepOutcome {
        step: id.into(),
        result,
    }))
}

/// Refused when copy `n`'s source was written since its copy verified: the copy back empties
/// the source before it copies the changed tier directory into it, so those writes would be
/// lost (issue 26 rows 1 and 3: the writes of a container outside the plan). `--force` goes on
/// once they are in the tier directory. Without a usable verified manifest it goes on as before.
fn refuse_over_late_writes(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
    n: usize,
) -> Result<(), MigrateError> {
    let id = reverse_step(n);
    let writes = match late_writes::since_verify(ctx, &journal.id, state, n) {
        Ok(writes) => writes,
        // nothing to compare with: the tier directory is copied back as before
        Err(LateWriteError::NoManifest { .. } | LateWriteError::Manifest { .. }) => return Ok(()),
        Err(e @ LateWriteError::Read { .. }) => return Err(failed(state, &id, e.to_string())),
    };
    if writes.is_empty() {
        return Ok(());
    }
    let forward = &state.plan.copies[n].job;
    let tier = forward.target.display();
    Err(MigrateError::Blocked {
        message: format!(
            "rollback step `{id}` refused: {} changed since its copy verified, in {} path(s): {}; `{tier}` changed too, and copying it back would overwrite those writes",
            show(&forward.source),
            writes.len(),
            late_writes::shown(&writes)
        ),
        hint: format!(
            "nothing was copied back; the services are stopped and the compose files still use `{tier}` (`docker compose up -d` runs them on it meanwhile); copy what you need of those paths from {} into `{tier}`, then run `tierctl migrate --rollback --force --yes`, which copies `{tier}` back over it",
            show(&forward.source)
        ),
    })
}

/// The reverse copy: the source emptied, the tier directory copied into it with the forward
/// copy's helpers (sides swapped), both trees read where they live and compared; the manifest
/// kept. In a VM (the host reads neither tree as the engine does) the copy helper reads both
/// right after its copy, in the same container ([`helper::after_copy`]): only the
/// manifests cross; else each is read as the verify reads a copy ([`tree::pair_manifests`]: on
/// the host where it can). The detail, and how the trees were read.
fn copy_back(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
    forward: &CopyJob,
    n: usize,
) -> Result<(Detail, String), String> {
    let (image, id) = (ctx.image.as_str(), journal.id.as_str());
    let run = |spec: HelperSpec| ctx.engine.run_to_end(&reversed(spec, forward));
    let measured = run(copy::measure_spec(forward, image, id)).map_err(|e| e.to_string())?;
    let size = copy::parse_size(&measured).unwrap_or_default();
    run(copy::wipe_spec(&forward.target, image, id)).map_err(|e| e.to_string())?;
    // as mounted in the reversed helpers: the tier directory at `/from`, the source at `/to`
    let sides = [
        MountSource::Bind(forward.target.clone()),
        forward.source.clone(),
    ];
    let copy_spec = copy::copy_spec(forward, image, id, size.devices);
    let hashed = AtomicU64::new(0);
    let after = tree::after_copy_roots(ctx.engine, &sides).map_err(|e| e.to_string())?;
    let read_by_copy = match after {
        Some(roots) => {
            let output = run(helper::after_copy(&copy_spec, &roots)).map_err(|e| e.to_string())?;
            let (_, listing) = helper::split_after_copy(&output)
                .ok_or("the copy helper did not get to reading the trees after its copy")?;
            let trees =
                tree::after_copy_manifests(listing, &roots, &hashed).map_err(|e| e.to_string())?;
            tree::verify_after_copy(trees, &roots, &sides, &hashed).map_err(|e| e.to_string())?
        }
        None => {
            run(copy_spec).map_err(|e| e.to_string())?;
            None
        }
    };
    let (trees, ways) = match read_by_copy {
        Some(read) => read,
        None => {
            let spec = reversed(copy::verify_spec(forward, image, id), forward);
            tree::pair_manifests(ctx.engine, &sides, &spec, &hashed).map_err(|e| e.to_string())?
        }
    };
    let read = format!("tier directory read {}, source read {}", ways[0], ways[1]);
    let [tier, source] = trees.as_slice() else {
        return Err("the engine returned fewer manifests than asked for".into());
    };
    let differences = manifest::compare(tier, source, Rules::default());
    if !differences.is_empty() {
        let shown: Vec<String> = differences.iter().take(20).map(|d| d.to_string()).collect();
        return Err(format!(
            "the copy back differs from the tier directory in {} place(s) ({read}): {}",
            differences.len(),
            shown.join("; ")
        ));
    }
    let kept = journal::keep_manifest(
        &journal::dir(&state.plan.project_dir),
        id,
        &format!("copy-back-{n}"),
        tier,
    )
    .map_err(|e| e.to_string())?;
    let detail = Detail::Verified {
        entries: tier.len(),
        bytes: tier.bytes(),
        manifest: Some(kept),
    };
    Ok((detail, read))
}

/// A forward copy helper turned around: the tier directory read-only at [`copy::FROM`], the
/// source at [`copy::TO`].
fn reversed(mut spec: HelperSpec, forward: &CopyJob) -> HelperSpec {
    for mount in &mut spec.mounts {
        if mount.target == copy::FROM {
            mount.source = MountSource::Bind(forward.target.clone());
        } else if mount.target == copy::TO {
            mount.source = forward.source.clone();
        }
    }
    spec.purpose = format!("{}-back", spec.purpose);
    spec
}

/// The tier directory's manifest now, content hashed with `digest` (the journaled manifest's):
/// on the host when the engine says the host sees it; else as the engine sees it, by a helper
/// that mounts only it (never the source: mounting a removed volume would create it empty):
/// the manifest helper where the tree lives (a VM share, whose journaled manifest is the
/// engine's view, SHA-256), the archive stream for a BLAKE3 manifest (the host could not read
/// the tree).
fn tier_manifest(
    ctx: &MigrateContext<'_>,
    journal: &str,
    forward: &CopyJob,
    digest: Digest,
) -> Result<Manifest, String> {
    let hashed = AtomicU64::new(0);
    let tier = MountSource::Bind(forward.target.clone());
    if let Some(path) = ctx.engine.host_path(&tier).map_err(|e| e.to_string())? {
        match tree::read(&path, digest, &hashed) {
            Ok(m) => return Ok(m),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
            Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
        }
    }
    let mut spec = copy::verify_spec(forward, &ctx.image, journal);
    spec.mounts.retain(|m| m.target == copy::TO);
    let read = match digest {
        Digest::Sha256 => {
            tree::helper_manifests(ctx.engine, &spec, &[(copy::TO, Depth::Hashed)], &hashed)
                .map_err(|e| e.to_string())?
        }
        Digest::Blake3 => tree::archive_manifests(ctx.engine, &spec, &[copy::TO], digest, &hashed)
            .map_err(|e| e.to_string())?,
    };
    read.into_iter()
        .next()
        .ok_or_else(|| "the engine returned no manifest".into())
}

fn show(source: &MountSource) -> String {
    match source {
        MountSource::Volume(name) => format!("volume `{name}`"),
        MountSource::Bind(path) => format!("`{}`", path.display()),
    }
}

fn restore_files(journal: &Journal, state: &JournalState) -> Result<StepOutcome, MigrateError> {
    let mut files = Vec::new();
    for change in &state.plan.files {
        let current = std::fs::read_to_string(&change.path).map_err(|err| {
            failed(
                state,
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
    write::write_all(&files, &stamp).map_err(|err| failed(state, "restore", err.to_string()))?;
    Ok(StepOutcome {
        step: "restore".into(),
        result: format!("{} file(s) restored", files.len()),
    })
}

fn kept_copies(plan: &MigratePlan) -> Vec<StepOutcome> {
    plan.copies
        .iter()
        .filter(|c| c.job.target.is_dir())
        .map(|copy| StepOutcome {
            step: "keep-copy".into(),
            result: format!(
                "kept the copy in `{}` (remove it with `tierctl migrate --rollback --discard-copy --yes`)",
                copy.job.target.display()
            ),
        })
        .collect()
}

fn start_again(
    ctx: &MigrateContext<'_>,
    _journal: &Journal,
    state: &JournalState,
) -> Result<StepOutcome, MigrateError> {
    // those the stop journaled, and those journaled running before a stop that did not finish
    let mut running = state.running_services();
    for service in &state.running_before {
        if !running.contains(service) {
            running.push(service.clone());
        }
    }
    if !running.is_empty() {
        compose_cli::start(ctx.compose.as_ref(), ctx.engine, &state.plan, &running)
            .map_err(|m| failed(state, "start", m))?;
    }
    Ok(StepOutcome {
        step: "start".into(),
        result: format!("started: {}", list_or_none(&running)),
    })
}

/// Remove the copies this journal made (wiped by a helper, then the directories it created),
/// each only when it still equals its journaled manifest and nothing uses it.
fn discard_copies(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    state: &mut JournalState,
    reload: Reload<'_>,
) -> Result<Vec<StepOutcome>, MigrateError> {
    let project = reload().map_err(|e| MigrateError::Blocked {
        message: format!("the copies stay: the compose project cannot be loaded to check who uses them: {e}"),
        hint: "fix the compose files, then run `tierctl migrate --rollback --discard-copy --yes` again".into(),
    })?;
    let mut steps = Vec::new();
    for (n, copy) in state.plan.copies.clone().iter().enumerate() {
        if !state.copy_kept(n) {
            continue;
        }
        let target = &copy.job.target;
        let is_dir =
            tier_dirs::is_dir(ctx, target).map_err(|m| failed(state, &discard_step(n), m))?;
        if is_dir {
            unchanged(ctx, journal, state, &copy.job, n)?;
            let using = users(ctx, &project, &MountSource::Bind(target.clone()))?;
            if !using.is_empty() {
                return Err(MigrateError::Blocked {
                    message: format!(
                        "the copy in `{}` stays: it is in use by {}",
                        target.display(),
                        using.join(", ")
                    ),
                    hint: "nothing was removed; it is live data now: keep it, or stop and remove what uses it and run `tierctl migrate --rollback --discard-copy --yes` again".into(),
                });
            }
        }
        let id = discard_step(n);
        ctx.pause_at(&id, false);
        journal.append(&Record::Start { step: id.clone() })?;
        remove_copy(ctx, journal, state, target, n)?;
        ctx.pause_at(&id, true);
        journal.append(&Record::Done {
            step: id.clone(),
            detail: Detail::None,
        })?;
        state.done.insert(id.clone(), Detail::None);
        steps.push(StepOutcome {
            step: id.into(),
            result: format!("removed the copy in `{}`", target.display()),
        });
    }
    Ok(steps)
}

/// Refuse to discard copy `n` when it is not what its journaled manifest says (something wrote
/// to it), or when it may have been used and no manifest was kept.
fn unchanged(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
    job: &CopyJob,
    n: usize,
) -> Result<(), MigrateError> {
    let target = job.target.display();
    let Some(kept) = state.manifest_of(n) else {
        if state.rewrite_began() {
            return Err(MigrateError::Blocked {
                message: format!(
                    "the copy in `{target}` stays: the journal kept no verified manifest of it, so tierctl cannot tell whether a service wrote to it"
                ),
                hint: format!(
                    "nothing was removed; check what it holds and remove it by hand (`rm -rf {target}`) if nothing there is needed"
                ),
            });
        }
        // a partial copy of a migration that never pointed a service at it
        return Ok(());
    };
    let kept = journal::load_manifest(&journal::dir(&state.plan.project_dir), kept)?;
    let now = tier_manifest(ctx, &journal.id, job, kept.digest)
        .map_err(|m| failed(state, &discard_step(n), m))?;
    let differences = manifest::compare(&kept, &now, Rules::default());
    if differences.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = differences.iter().take(5).map(|d| d.to_string()).collect();
    Err(MigrateError::Blocked {
        message: format!(
            "the copy in `{target}` stays: it changed since its copy verified, in {} place(s) ({}): something wrote to it after the migration",
            differences.len(),
            shown.join("; ")
        ),
        hint: format!(
            "nothing was removed; copy what you need from it into the volume, then remove it by hand (`rm -rf {target}`)"
        ),
    })
}

/// Wipe copy `n`'s directory with a helper, then remove the directories this journal created.
fn remove_copy(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
    target: &Path,
    n: usize,
) -> Result<(), MigrateError> {
    let create = super::plan::MigrateStep::CreateDir(n).id();
    let made = match state.done.get(&create) {
        Some(Detail::Created { made }) => made.clone(),
        // never journaled as created: only what this machine shows lies above it
        _ if ctx.elsewhere.is_none() => topmost_missing(target),
        _ => None,
    };
    tier_dirs::remove(ctx, target, made.as_deref(), &journal.id)
        .map_err(|m| failed(state, &discard_step(n), m))
}

/// The refusal of a second rollback of a journal that was rolled back already (without
/// `--discard-copy`, which only removes the copies), with the commands its phase allows.
pub(super) fn already_rolled_back(journal: &Journal, state: &JournalState) -> MigrateError {
    MigrateError::Blocked {
        message: format!(
            "the migration of journal `{}` was already rolled back",
            journal.path.display()
        ),
        hint: journal::next_commands(state.phase()),
    }
}
