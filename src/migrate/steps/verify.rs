//! The verify steps on one engine: the running verify (both trees hashed while the services
//! run, what each side knows kept) and the verify while they are stopped (every entry; a file
//! known unchanged not read again; what this run's copy read right after copying reused).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::engine::{MountSource, Selector};
use crate::migrate::copy::{self, CopyJob};
use crate::migrate::delta;
use crate::migrate::journal::{self, Detail};
use crate::migrate::learned::{Learned, StepDone};
use crate::migrate::plan::MigrateStep;
use crate::migrate::progress;
use crate::migrate::tree;
use crate::migrate::tree::manifest::{self, Rules};

use super::catch_up::{apply, last_pass, list, source_job};
use super::*;

/// Both manifests of copy `n`'s job, reusing what `known` holds of each side (see
/// [`tree::read_known`]), with a progress bar; also what each side knows now (when `hand_on`
/// asks for it) and the content bytes read.
pub(super) fn manifests(
    input: &StepInput<'_>,
    job: &CopyJob,
    known: &[tree::Known; 2],
    hand_on: tree::HandOn,
) -> Result<(Vec<manifest::Manifest>, String, [tree::Known; 2], u64), StepError> {
    let hashed = AtomicU64::new(0);
    let spec = copy::verify_spec(job, &input.ctx.image, input.journal);
    // both trees hashed whole: a total for the bar where this host sees the copy
    let total =
        match input.ctx.site().elsewhere().is_none() && known.iter().all(|k| k.files.is_empty()) {
            true => 2 * progress::content_bytes(&job.target),
            false => 0,
        };
    let trees = progress::hashing(input.label, total, &hashed, || {
        tree::copy_manifests_known(input.ctx.engine, job, &spec, &hashed, known, hand_on)
    });
    let (trees, ways, knows) = trees?;
    let read = format!("source read {}, copy read {}", ways[0], ways[1]);
    Ok((trees, read, knows, hashed.load(Ordering::Relaxed)))
}

/// Both manifests of a copy as its copy helper read them right after the copy, a VM share's
/// content hashed on the host ([`tree::verify_after_copy`]), how each side was read, and the
/// content bytes read now; `None` when the host could not complete a side (read them again).
pub(super) fn after_copy_read(
    after: tree::AfterCopy,
    job: &CopyJob,
) -> Result<Option<(Vec<manifest::Manifest>, String, u64)>, StepError> {
    let sides = [job.source.clone(), MountSource::Bind(job.target.clone())];
    let hashed = AtomicU64::new(0);
    let read = tree::verify_after_copy(after.trees, &after.roots, &sides, &hashed)?;
    Ok(read.map(|(trees, ways)| {
        let read = format!("source read {}, copy read {}", ways[0], ways[1]);
        (trees, read, hashed.load(Ordering::Relaxed))
    }))
}

/// The rules a copy and its source compare by: extended attributes and symlink times too
/// when the copy ran on the host, which keeps them ([`crate::migrate::host_apply`]; the
/// pre-copy's helper copy is given them there by [`crate::migrate::host_apply::keep`]).
fn copy_rules(input: &StepInput<'_>, job: &CopyJob) -> Result<Rules, StepError> {
    Ok(Rules::copy(
        crate::migrate::tree::reach::host_copies(input.ctx.engine, job)?.is_some(),
    ))
}

/// Verify pre-copy `n` while the services run: hash both trees, count what differs (the source
/// is live: the delta copies it again), and keep what each side knows (files settled before the
/// read, with their stamps) for the verify while the services are stopped.
pub(super) fn pre_verify(input: &StepInput<'_>, n: usize) -> Stepped {
    let job = source_job(input, n);
    // the copy's last files were written just now: once their ctimes are older than the margin
    // the read knows them, and the verify while stopped need not read them again
    let margin = u64::try_from(tree::RACY_MARGIN_NS).unwrap_or(0);
    std::thread::sleep(Duration::from_nanos(margin) + Duration::from_millis(100));
    let none = [tree::Known::default(), tree::Known::default()];
    let (trees, read, knows, bytes) = manifests(input, &job, &none, tree::HandOn::Known)?;
    let differed = manifest::compare(&trees[0], &trees[1], copy_rules(input, &job)?).len();
    let dir = journal::dir(&input.plan.project_dir);
    let mut known = Vec::new();
    for (side, k) in [journal::SideKind::Source, journal::SideKind::Copy]
        .iter()
        .zip(&knows)
    {
        input.durable(Durable::SideFileWrite)?;
        known.push(side.of(n).keep_known(&dir, input.journal, k)?);
    }
    let entries = trees[0].len();
    let settled = [knows[0].files.len(), knows[1].files.len()];
    let detail = Detail::PreVerified {
        known,
        entries,
        differed,
    };
    let line = format!(
        "{entries} entries, {bytes} bytes hashed; {differed} difference(s) for the delta; files settled: {} of the source, {} of the copy; {read}",
        settled[0], settled[1]
    );
    Ok(StepDone::new(detail, line).learned(Learned {
        known: Some(knows),
        ..Learned::default()
    }))
}

/// What the running verify of copy `n` knew of each tree (or, with `--stop-first`, what the
/// copy knew of the source); nothing (hash all) when there was none or its side files are not
/// the journaled ones.
pub(super) fn known_of(
    input: &StepInput<'_>,
    n: usize,
    learned: Option<[tree::Known; 2]>,
) -> [tree::Known; 2] {
    // this run's own: the same as its side files, without reading them back
    if let Some(known) = learned {
        return known;
    }
    let done = &input.state.done;
    let known = match (
        done.get(&MigrateStep::PreVerify(n).id()),
        done.get(&MigrateStep::Copy(n).id()),
    ) {
        (Some(Detail::PreVerified { known, .. }), _) => known.clone(),
        (
            _,
            Some(Detail::Copied {
                known: Some(source),
                ..
            }),
        ) => vec![source.clone()],
        _ => return Default::default(),
    };
    let dir = journal::dir(&input.plan.project_dir);
    let load = |i: usize| {
        known
            .get(i)
            .and_then(|r| journal::load_known(&dir, r).ok())
            .unwrap_or_default()
    };
    [load(0), load(1)]
}

/// The trees verify step `n` compares, how they were read and the content bytes read now, with
/// what was known of them: what this run's copy helper read right after copying (a VM) when the
/// run was not resumed, else both trees read now ([`manifests`]), a file known unchanged not
/// read again (on the host: what the copy read back of the target, each file while its stamp is
/// the one it had once synced).
pub(super) type Verified = ([tree::Known; 2], (Vec<manifest::Manifest>, String, u64));

pub(super) fn verified_trees(
    input: &StepInput<'_>,
    n: usize,
    job: &CopyJob,
    retried: bool,
    learned: Learned,
) -> Result<Verified, StepError> {
    let after = match retried {
        true => None,
        false => learned.after_copy,
    };
    // read in the copy helper right after the copy, in this run, the services stopped
    if let Some(after) = after
        && let Some(read) = after_copy_read(after, job)?
    {
        return Ok((Default::default(), read));
    }
    let known = known_of(input, n, learned.known);
    // what this read knows is handed to no later read: not built
    let (trees, read, _, hashed) = manifests(input, job, &known, tree::HandOn::Nothing)?;
    Ok((known, (trees, read, hashed)))
}

/// Verify copy `n`: every entry of both trees (type, owner, mode, mtime, link, hardlink group,
/// content); a file whose stamp is unchanged since the running verify knew it is not read again
/// ([`tree::read_known`]). `retried` (a resumed run: the source may have changed under the
/// copy): copy again what changed since the last pass first.
pub(super) fn verify_copy(
    input: &StepInput<'_>,
    n: usize,
    retried: bool,
    learned: Learned,
) -> StepResult {
    let job = source_job(input, n);
    let again = if retried {
        let listed = list(input, &job)?;
        let pass = delta::plan(&listed, last_pass(input.state, n));
        apply(input, &job, &pass, &listed, true)?;
        format!(
            "; first copied again what changed: {} entries, {} removed",
            pass.copied, pass.removed
        )
    } else {
        String::new()
    };
    let (known, (trees, read, hashed)) = verified_trees(input, n, &job, retried, learned)?;
    let differences = manifest::compare(&trees[0], &trees[1], copy_rules(input, &job)?);
    if !differences.is_empty() {
        let (count, first) = counted(&differences);
        return Err(StepError::CopyDiffers {
            count,
            first,
            read,
            writers: writers(input, &job.source),
        });
    }
    let (entries, bytes) = (trees[0].len(), trees[0].bytes());
    // what the copy held when verified: a rollback and `--discard-copy` compare the tier with it
    input.durable(Durable::SideFileWrite)?;
    let manifest = journal::SideKind::Verify.of(n).keep_manifest(
        &journal::dir(&input.plan.project_dir),
        input.journal,
        &trees[1],
    )?;
    let since = match input.plan.pre_copy {
        true => "the running verify",
        false => "the copy read it",
    };
    let reused = if known.iter().any(|k| !k.files.is_empty()) {
        format!("; {hashed} bytes read now, the rest unchanged since {since}")
    } else {
        String::new()
    };
    Ok((
        Detail::Verified {
            entries,
            bytes,
            manifest: Some(manifest),
        },
        format!(
            "ok: {entries} entries, {bytes} bytes, {}{reused}; {read}{again}",
            trees[0].digest
        ),
    ))
}

/// Who may be writing the source while it is copied: the running containers that mount it
/// (a resume copies again what changed, but not while one of them keeps writing).
pub(super) fn writers(input: &StepInput<'_>, source: &MountSource) -> String {
    let MountSource::Volume(name) = source else {
        return "; a process on the host may be writing the source directory".into();
    };
    let running: Vec<String> = input
        .ctx
        .engine
        .list(&Selector::Volume(name.clone()))
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.running)
        .map(|c| format!("`{}`", c.name))
        .collect();
    if running.is_empty() {
        "; the source changed under the copy: a resume copies again what changed".into()
    } else {
        format!(
            "; the source changed under the copy: running container(s) {} mount volume `{name}` and may write it: stop them, then resume (it copies again what changed)",
            running.join(", ")
        )
    }
}
