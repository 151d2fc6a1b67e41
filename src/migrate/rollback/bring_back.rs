//! What the services wrote on the copies since the migration, brought back before the files go
//! back: on this engine each changed tier directory is copied back into its source and verified
//! ([`bring_back`]); between engines there is no copy back, so a changed copy on B refuses the
//! rollback unless `--force` ([`refuse_newer_on_b`]).

use std::sync::atomic::AtomicU64;

use super::failed;
use crate::engine::{HelperSpec, MountSource};
use crate::migrate::copy::{self, CopyJob};
use crate::migrate::durable::Durable;
use crate::migrate::host_apply;
use crate::migrate::journal::{self, Detail, Journal, JournalState, Record, reverse_step};
use crate::migrate::late_writes::{self, LateWriteError, show};
use crate::migrate::outcome::StepOutcome;
use crate::migrate::plan::StepId;
use crate::migrate::steps::{StepError, counted, list_or_none};
use crate::migrate::tree::ReadTrees;
use crate::migrate::tree::helper::{self, Depth};
use crate::migrate::tree::manifest::{self, Digest, Manifest, Rules};
use crate::migrate::{MigrateContext, MigrateError, compose_cli, tier_dirs, tree};

/// Copy `n`'s tier directory, if the services may have written to it and it differs from the
/// journaled manifest (or none was kept), copied back into its source and verified.
pub(super) fn bring_back(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    state: &mut JournalState,
    n: usize,
) -> Result<Option<StepOutcome>, MigrateError> {
    let forward = state.plan.copies[n].job.clone();
    let id = reverse_step(n);
    if !state.rewrite_began()
        || !tier_dirs::is_dir(&ctx.site(), &forward.target).map_err(|m| failed(state, &id, m))?
    {
        return Ok(None);
    }
    let Some(differences) = tier_changes(ctx, journal, state, n)? else {
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
    journaled_copy_back(ctx, journal, state, n).map(Some)
}

/// Whether copy `n`'s tier directory must be copied back: `None` when it equals the journaled
/// manifest, else how many differences it has; `Some(0)` when no manifest is usable (a journal
/// from before they were kept, or a side file edited or lost): the tier may hold newer data,
/// so it is copied back.
fn tier_changes(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
    n: usize,
) -> Result<Option<usize>, MigrateError> {
    let dir = journal::dir(&state.plan.project_dir);
    let kept = state
        .manifest_of(n)
        .and_then(|kept| journal::load_manifest(&dir, kept).ok());
    let Some(kept) = kept else {
        return Ok(Some(0));
    };
    let forward = &state.plan.copies[n].job;
    let now = tier_manifest(ctx, &journal.id, forward, kept.digest)
        .map_err(|m| failed(state, &reverse_step(n), m))?;
    let differences = manifest::compare(&kept, &now, Rules::default());
    Ok((!differences.is_empty()).then_some(differences.len()))
}

/// Copy `n`'s copy back as a journaled step: started, run ([`copy_back`]), done with its
/// verified detail. A failure leaves the services stopped on the tier directory.
fn journaled_copy_back(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    state: &mut JournalState,
    n: usize,
) -> Result<StepOutcome, MigrateError> {
    let forward = &state.plan.copies[n].job;
    let id = reverse_step(n);
    journal.append(&Record::Start { step: id.clone() })?;
    ctx.pause_at(&id, false);
    let (detail, read) = copy_back(ctx, journal, state, forward, n).map_err(|m| {
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
    journal.record_done(state, &id, detail)?;
    Ok(StepOutcome {
        step: id.into(),
        result,
    })
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
        Err(e @ LateWriteError::Read { .. }) => return Err(failed(state, &id, e)),
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
/// copy's helpers (sides swapped), both trees read where they live ([`copy_and_read`]) and
/// compared; the manifest kept. The detail, and how the trees were read.
fn copy_back(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
    forward: &CopyJob,
    n: usize,
) -> Result<(Detail, String), StepError> {
    let step = reverse_step(n);
    let ((trees, ways), kept) = copy_and_read(ctx, (&journal.id, &step), forward)?;
    let read = format!("tier directory read {}, source read {}", ways[0], ways[1]);
    let [tier, source] = trees.as_slice() else {
        return Err(StepError::FewerManifests);
    };
    // the copy back is a helper's busybox `cp -a`: no extended attributes, no symlink times, whole
    // seconds, unless the host gave it those after (`kept`): then they are compared too
    let differences = manifest::compare(tier, source, Rules::copy(kept));
    if !differences.is_empty() {
        let (count, first) = counted(&differences);
        return Err(StepError::CopyBackDiffers { count, first, read });
    }
    ctx.durable(Durable::SideFileWrite, Some(&step))?;
    let kept = journal::SideKind::CopyBack.of(n).keep_manifest(
        &journal::dir(&state.plan.project_dir),
        &journal.id,
        tier,
    )?;
    let detail = Detail::Verified {
        entries: tier.len(),
        bytes: tier.bytes(),
        manifest: Some(kept),
    };
    Ok((detail, read))
}

/// The source emptied and the tier directory copied into it, then both trees' manifests (tier
/// directory first) and how each was read, and whether the host gave the copy what only it
/// keeps ([`keep_on_host`]). In a VM (the host reads neither tree as the engine does) the copy
/// helper reads both right after its copy, in the same container ([`helper::after_copy`]):
/// only the manifests cross; else each is read as the verify reads a copy
/// ([`tree::pair_manifests`]: on the host where it can).
fn copy_and_read(
    ctx: &MigrateContext<'_>,
    (id, step): (&str, &StepId),
    forward: &CopyJob,
) -> Result<(ReadTrees, bool), StepError> {
    let image = ctx.image.as_str();
    let run = |spec: HelperSpec| -> Result<String, StepError> {
        ctx.durable(Durable::HelperRun, Some(step))?;
        Ok(ctx.engine.run_to_end(&reversed(spec, forward))?)
    };
    let measured = run(copy::measure_spec(forward, image, id))?;
    let size = copy::parse_size(&measured).unwrap_or_default();
    run(copy::wipe_spec(&forward.target, image, id))?;
    // as mounted in the reversed helpers: the tier directory at `/from`, the source at `/to`
    let sides = [
        MountSource::Bind(forward.target.clone()),
        forward.source.clone(),
    ];
    let copy_spec = copy::copy_spec(forward, image, id, size.devices);
    let hashed = AtomicU64::new(0);
    let read_by_copy = match tree::after_copy_roots(ctx.engine, &sides)? {
        Some(roots) => {
            let output = run(helper::after_copy(&copy_spec, &roots))?;
            let (_, listing) =
                helper::split_after_copy(&output).ok_or(StepError::AfterCopyMissing)?;
            let trees = tree::after_copy_manifests(listing, &roots, &hashed)?;
            tree::verify_after_copy(trees, &roots, &sides, &hashed)?
        }
        None => {
            run(copy_spec)?;
            None
        }
    };
    match read_by_copy {
        Some(read) => Ok((read, false)),
        None => {
            let kept = keep_on_host(ctx, step, forward)?;
            let spec = reversed(copy::verify_spec(forward, image, id), forward);
            let read = tree::pair_manifests(ctx.engine, &sides, &spec, &hashed)?;
            Ok((read, kept))
        }
    }
}

/// What the helper's busybox `cp -a` dropped from the copy back, given back by the host where it
/// reaches both trees and may write (a native engine, tierctl as root), as after the forward
/// pre-copy ([`host_apply::keep`]): file and directory times to the nanosecond, extended
/// attributes, symlink times, holes; then the source's filesystem synced. Whether it did.
fn keep_on_host(
    ctx: &MigrateContext<'_>,
    step: &StepId,
    forward: &CopyJob,
) -> Result<bool, StepError> {
    let Some((source, tier)) = tree::reach::host_copies(ctx.engine, forward)? else {
        return Ok(false);
    };
    ctx.durable(Durable::HostCopy, Some(step))?;
    host_apply::keep(&tier, &source).map_err(StepError::HostCopy)?;
    host_apply::sync(&source).map_err(StepError::HostCopy)?;
    Ok(true)
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
pub(super) fn tier_manifest(
    ctx: &MigrateContext<'_>,
    journal: &str,
    forward: &CopyJob,
    digest: Digest,
) -> Result<Manifest, StepError> {
    let hashed = AtomicU64::new(0);
    let tier = MountSource::Bind(forward.target.clone());
    let engine = ctx.site().engine;
    if let Some(path) = tree::reach::host_reads(engine, &tier)? {
        match tree::read(&path, digest, &hashed) {
            Ok(m) => return Ok(m),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
            Err(error) => return Err(StepError::ReadTree { path, error }),
        }
    }
    let mut spec = copy::verify_spec(forward, &ctx.image, journal);
    spec.mounts.retain(|m| m.target == copy::TO);
    let read = match digest {
        Digest::Sha256 => {
            tree::helper_manifests(engine, &spec, &[(copy::TO, Depth::Hashed)], &hashed)?
        }
        Digest::Blake3 => tree::archive_manifests(engine, &spec, &[copy::TO], digest, &hashed)?,
    };
    read.into_iter().next().ok_or(StepError::NoManifest)
}

/// A move to B: refused, unless `--force`, when a copy on B differs from its verified manifest
/// (the services wrote there since; going back would return them to older data here, and
/// nothing is copied back between engines): the services stopped on B start there again.
pub(super) fn refuse_newer_on_b(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
) -> Result<(), MigrateError> {
    let blocked = |error: StepError| MigrateError::Blocked {
        message: error.to_string(),
        hint: format!(
            "fix the cause and run `tierctl migrate --rollback` again (journal `{}`)",
            journal.path.display()
        ),
    };
    let changed = changed_copies(ctx, journal, state).map_err(blocked)?;
    if changed.is_empty() || ctx.force {
        return Ok(());
    }
    let site = ctx.site();
    let context = site.elsewhere().unwrap_or_default();
    let running = state.services_to_start();
    let restarted = match crate::migrate::swarm_service::of(ctx, &state.plan) {
        // placed on its new node again, as the move left it
        Some(swarm) => swarm
            .place(&swarm.service.after, &swarm.service.to_node)
            .map(|()| running)
            .map_err(|e| e.to_string()),
        None => compose_cli::start(
            ctx.compose.as_ref(),
            ctx.engine,
            &state.plan,
            &running,
            Some(context),
        )
        .map(|()| running)
        .map_err(|e| e.to_string()),
    };
    Err(MigrateError::Blocked {
        message: format!(
            "the services wrote on `{context}` since the copy was verified ({}); rolling back would return them to older data on this engine{}",
            changed.join("; "),
            match restarted {
                Ok(running) => format!("; started again on `{context}`: {}", list_or_none(&running)),
                Err(e) => format!("; starting them again on `{context}` failed: {e}"),
            }
        ),
        hint: "keep the project on the other engine, or copy its data back first; `tierctl migrate --rollback --force` goes back to this engine's older data (the other engine's copy stays)".into(),
    })
}

/// The copies that differ from their journaled (verified) manifest, each with its first
/// differences, read where they are.
fn changed_copies(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
) -> Result<Vec<String>, StepError> {
    let dir = journal::dir(&state.plan.project_dir);
    let mut changed = Vec::new();
    for (n, copy) in state.plan.copies.iter().enumerate() {
        let Some(kept) = state.manifest_of(n) else {
            continue;
        };
        let verified = journal::load_manifest(&dir, kept)?;
        let now = tier_manifest(ctx, &journal.id, &copy.job, verified.digest)?;
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
