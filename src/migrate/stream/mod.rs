//! The copies of `migrate --to-context B`: the data path between two engines. A
//! never-started helper on A mounts the source read-only; the engine's archive stream of it is
//! handed, chunk by chunk, to B's archive endpoint, which extracts it into a never-started
//! helper on B that binds the target in B's tier directory. Nothing is staged on the host
//! running tierctl. The delta of a copy on one engine lists both trees in one helper, which two
//! engines cannot do: the pre-copy keeps the manifest of the copy on B, and the pass while A is
//! stopped sends only what A's stopped manifest says differs ([`delta`], [`send`]). Verify:
//! each engine's helper prints its tree's manifest (busybox `find`, `stat`, `sha256sum`); only
//! those texts cross, compared by [`manifest::compare`].
//!
//! The step loop, the create step, the rewrite, the start and the mount check are the same as
//! for a copy on one engine ([`super::steps`]); only these four steps take this path, chosen by
//! [`super::steps::execute`] from [`MigrateContext::to`](super::MigrateContext::to).

#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod delta;
pub mod send;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::copy::CopyJob;
use super::cross_plan as xp;
use super::journal::{self, Detail};
use super::learned::{Learned, StepDone};
use super::plan::MigrateStep;
use super::site::OtherEngine;
use super::steps::{StepError, StepInput, StepResult, Stepped, counted};
use super::tree::manifest::{self, Manifest, Rules};
use crate::engine::{Engine, HelperSpec, MountSource};

fn run_on(engine: &dyn Engine, spec: &HelperSpec) -> Result<String, StepError> {
    engine.run_to_end(spec).map_err(StepError::hinted)
}

/// The copy step: one full pass (the target emptied first when `retried`).
pub fn copy(b: &OtherEngine<'_>, input: &StepInput<'_>, n: usize, retried: bool) -> StepResult {
    transfer(b, input, n, retried).map(|line| (Detail::None, line))
}

/// One full pass of copy `n` from A into B (the target emptied first when it may hold a
/// partial or older copy), then the root directory's attributes.
fn transfer(
    b: &OtherEngine<'_>,
    input: &StepInput<'_>,
    n: usize,
    wipe: bool,
) -> Result<String, StepError> {
    let job = &input.plan.copies[n].job;
    let (image, journal) = (&input.ctx.image, input.journal);
    if wipe {
        run_on(
            b.engine,
            &super::copy::wipe_spec(&job.target, image, journal),
        )?;
    }
    let began = Instant::now();
    let bytes = stream_tree(b, input, job)?;
    let stat = run_on(
        input.ctx.engine,
        &xp::root_stat_spec(&job.source, image, journal),
    )?;
    let root = xp::parse_root(&stat).ok_or_else(|| StepError::UnreadableRoot {
        printed: stat.clone(),
    })?;
    run_on(
        b.engine,
        &xp::root_fix_spec(&job.target, root, image, journal),
    )?;
    let secs = began.elapsed().as_secs_f64();
    let mib = bytes as f64 / f64::from(1 << 20);
    Ok(format!(
        "{mib:.1} MiB of tar streamed to `{}` in {secs:.1} s",
        b.context
    ))
}

/// The archive stream of `job`'s source on A handed to B's archive endpoint, extracted into
/// its target, with the MiB streamed on the progress bar; the bytes of tar streamed.
fn stream_tree(
    b: &OtherEngine<'_>,
    input: &StepInput<'_>,
    job: &CopyJob,
) -> Result<u64, StepError> {
    let (image, journal) = (&input.ctx.image, input.journal);
    let bytes = AtomicU64::new(0);
    let read = xp::read_spec(&job.source, image, journal);
    let write = xp::write_spec(&job.target, image, journal);
    let bar = super::progress::bar(input.label.to_owned());
    let label = input.label;
    let copied = super::progress::ticking(
        std::time::Duration::from_millis(300),
        || {
            let mib = bytes.load(Ordering::Relaxed) >> 20;
            bar.set_message(format!("{label} {mib} MiB streamed"));
        },
        || {
            input
                .ctx
                .engine
                .read_archives(&read, &[&format!("{}/.", xp::FROM)], &|_, tar| {
                    let mut counted = send::Counted {
                        inner: tar,
                        count: &bytes,
                    };
                    b.engine
                        .write_archive(&write, xp::TO, &mut counted)
                        .map_err(std::io::Error::other)
                })
        },
    );
    bar.finish_and_clear();
    copied.map_err(StepError::hinted)?;
    Ok(bytes.load(Ordering::Relaxed))
}

/// The full pass while the services run, then the manifest of the copy it left on B (computed
/// there, kept beside the journal): the delta compares it with the stopped source.
pub fn pre_copy(b: &OtherEngine<'_>, input: &StepInput<'_>, n: usize, retried: bool) -> StepResult {
    let line = transfer(b, input, n, retried)?;
    let (image, journal) = (&input.ctx.image, input.journal);
    let target = MountSource::Bind(input.plan.copies[n].job.target.clone());
    let copy = helper_manifest(b.engine, &target, xp::TO, image, journal)?;
    let manifest = journal::SideKind::PreCopy.of(n).keep_manifest(
        &journal::dir(&input.plan.project_dir),
        journal,
        &copy,
    )?;
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
/// extracts one tar of the rest ([`send::send`]). A journal without the pre-copy's
/// manifest gets a second full pass.
pub fn delta(b: &OtherEngine<'_>, input: &StepInput<'_>, n: usize) -> Stepped {
    super::steps::refuse_killed(input)?;
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
        return Ok(StepDone::new(
            detail,
            format!("second full pass (services stopped): {line}"),
        ));
    };
    let began = Instant::now();
    let pre = journal::load_manifest(&journal::dir(&input.plan.project_dir), manifest)?;
    let now = helper_manifest(input.ctx.engine, &job.source, xp::FROM, image, journal)?;
    let delta = delta::plan(&pre, &now);
    let tar = apply_delta(b, input, job, &delta, &now)?;
    let data = delta.data().count();
    let (copied, removed) = (delta.send.len() as u64, delta.remove.len() as u64);
    let fixed = delta.fix.len();
    let detail = Detail::Delta {
        since: 0,
        copied,
        removed,
    };
    let line = format!(
        "delta (services stopped): {copied} entries sent ({data} files with content, {tar} bytes of tar), {removed} removed, {fixed} fixed in place on `{}` in {:.1} s",
        b.context,
        began.elapsed().as_secs_f64()
    );
    Ok(StepDone::new(detail, line).learned(Learned {
        stopped_source: Some(now),
        ..Learned::default()
    }))
}

/// `delta` made on B: what is gone removed and attributes fixed in place, the rest sent as one
/// tar ([`send::send`]), then the root directory's attributes as in `now`, A's stopped
/// manifest; the bytes of tar sent.
fn apply_delta(
    b: &OtherEngine<'_>,
    input: &StepInput<'_>,
    job: &CopyJob,
    delta: &delta::CrossDelta,
    now: &Manifest,
) -> Result<u64, StepError> {
    let (image, journal) = (&input.ctx.image, input.journal);
    for args in delta::apply_args(delta, now, 64 * 1024) {
        run_on(b.engine, &xp::apply_spec(&job.target, args, image, journal))?;
    }
    let bytes = AtomicU64::new(0);
    if !delta.send.is_empty() {
        let route = send::Route {
            a: input.ctx.engine,
            b: b.engine,
            source: &job.source,
            target: &job.target,
            image,
            journal,
        };
        send::send(&route, delta, now, &bytes)?;
    }
    let root = now
        .entries
        .get(".")
        .and_then(xp::root_attributes)
        .ok_or(StepError::NoRoot)?;
    run_on(
        b.engine,
        &xp::root_fix_spec(&job.target, root, image, journal),
    )?;
    Ok(bytes.into_inner())
}

/// The manifest of a tree, computed where it lives by a helper on its engine (only the text
/// crosses). The VM path's helper manifests (issue 13) may replace this once on main.
pub fn helper_manifest(
    engine: &dyn Engine,
    source: &MountSource,
    at: &str,
    image: &str,
    journal: &str,
) -> Result<Manifest, StepError> {
    let text = run_on(engine, &xp::manifest_spec(source, at, image, journal))?;
    xp::parse_manifest(&text, at).map_err(|error| StepError::Manifest {
        tree: source.clone(),
        error,
    })
}

/// Both trees' manifests, each computed on its own engine, compared. The source's is the one
/// this run's delta took after the stop when there is one (the services are still down: it is
/// the stopped source), else read now, at the same time as the copy's.
pub fn verify(
    b: &OtherEngine<'_>,
    input: &StepInput<'_>,
    n: usize,
    learned: Learned,
) -> StepResult {
    let job = &input.plan.copies[n].job;
    let (image, journal) = (&input.ctx.image, input.journal);
    let target = MountSource::Bind(job.target.clone());
    let taken = learned.stopped_source;
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
        let copy = copy.join().unwrap_or(Err(StepError::ManifestThread));
        (a, copy)
    });
    let (a, copy) = (a?, copy?);
    // helpers on both engines: no extended attributes, symlinks with the extraction's time
    let differences = manifest::compare(&a, &copy, Rules::copy(false));
    if !differences.is_empty() {
        let (count, first) = counted(&differences);
        return Err(StepError::CopyDiffersOn {
            context: b.context.clone(),
            count,
            first,
        });
    }
    let kept = journal::SideKind::Verify.of(n).keep_manifest(
        &journal::dir(&input.plan.project_dir),
        input.journal,
        &copy,
    )?;
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
