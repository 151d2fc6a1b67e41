//! The copy steps on one engine: the first full copy (measured, seeded from the image when the
//! volume is empty, on the host or by a helper), and the pre-copy with its catch-up passes while
//! the services run.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::engine::{HelperSpec, MountSource, MountSpec};
use crate::migrate::copy::{self, CopyJob, SourceSize};
use crate::migrate::delta;
use crate::migrate::host_apply;
use crate::migrate::host_measure;
use crate::migrate::journal::{self, Detail};
use crate::migrate::learned::{Learned, StepDone};
use crate::migrate::plan::Seed;
use crate::migrate::progress::{self, ticking};
use crate::migrate::tier_dirs;
use crate::migrate::tree;
use crate::migrate::tree::helper;
use crate::migrate::tree::manifest::{self};
use crate::migrate::tree::reach;

use super::catch_up::{apply, host_copy_roots, list};
use super::stop::now_ms;
use super::*;

/// The size of `job`'s source: on the host when tierctl may copy there and the host sees the
/// source as the engine does ([`host_measure::size`]), else by the measure helper.
pub(super) fn measure(input: &StepInput<'_>, job: &CopyJob) -> Result<SourceSize, StepError> {
    if reach::host_may_write()
        && let Some(source) = reach::host_reads(input.ctx.engine, &job.source)?
    {
        return host_measure::size(&source).map_err(|error| StepError::Measure {
            path: source.clone(),
            error,
        });
    }
    let spec = copy::measure_spec(job, &input.ctx.image, input.journal);
    Ok(copy::parse_size(&run_helper(input, &spec)?).unwrap_or_default())
}

/// What a first copy made: the source it read (the seed volume when the volume was empty),
/// its size, the seed volume, the helper's clock when it began, and what was known of the
/// source (a copy while the services are stopped hashes the source on the host meanwhile).
pub(super) struct Filled {
    job: CopyJob,
    size: SourceSize,
    seeded: Option<String>,
    began: i64,
    known: Option<tree::Known>,
    /// What the copy on the host read back of the target from the disk as it copied (each
    /// file's hash with its stamp once synced).
    copy_known: Option<tree::Known>,
    /// Both trees as the copy helper read them right after its copy.
    after: Option<tree::AfterCopy>,
    /// What the copy on the host shared with the source instead of writing it (reflinks).
    shared: host_apply::Shared,
}

/// Copy volume `n` into its target (emptied first when the step is `retried`: a killed or
/// failed run may have left a partial copy); `running`: the services run, so entries may change
/// or vanish under the copy. A first run copies into what `create` passed empty, without
/// looking again (on another machine that look is a helper run); something written there
/// since is not wiped: the verify names it.
pub(super) fn fill(
    input: &StepInput<'_>,
    n: usize,
    running: bool,
    retried: bool,
) -> Result<Filled, StepError> {
    let (ctx, journal) = (input.ctx, input.journal);
    let copy = &input.plan.copies[n];
    let mut job = copy.job.clone();
    let mut seeded = None;
    if retried {
        // not empty here means this journal's own partial copy: `create` passed it empty
        let site = ctx.site();
        let facts = tier_dirs::facts_of(&site, &job.target)?;
        if facts.exists && !facts.empty {
            tier_dirs::wipe(&site, &job.target, journal)?;
        }
    }
    if !running && let Some(filled) = measured_copy(input, n, &job)? {
        return Ok(filled);
    }
    let mut size = measure(input, &job)?;
    // an empty volume gets what a fresh one would have: the image's content
    if let (Some(seed), true) = (&copy.seed, size.entries <= 1) {
        let volume = seed_volume(journal, n);
        input.durable(Durable::VolumeCreate)?;
        ctx.engine.populate(&seed_spec(seed, &volume, journal))?;
        job.source = MountSource::Volume(volume.clone());
        size = measure(input, &job)?;
        seeded = Some(volume);
    }
    let (spec, roots) = copy_helper(input, &job, running, size.devices)?;
    let (output, known, copy_known, shared) =
        copy_with_progress(input, &job, &spec, size.bytes, running)?;
    let (printed, after) = match roots {
        Some(roots) => after_copy(&output, roots).map(|(p, a)| (p, Some(a)))?,
        None => (output.as_str(), None),
    };
    let errors = copy::pre_copy_errors(printed);
    if running && !errors.is_empty() {
        return Err(StepError::PreCopy {
            errors: errors.into_iter().map(str::to_owned).collect(),
        });
    }
    let began = copy::parse_clock(printed).unwrap_or(0);
    Ok(Filled {
        job,
        size,
        seeded,
        began,
        known,
        copy_known,
        after,
        shared,
    })
}

/// What a copy printed (its clock first), what was known of the source, what a copy on the
/// host read back of the target, and what that copy shared with the source (reflinks).
pub(super) type Copied = (
    String,
    Option<tree::Known>,
    Option<tree::Known>,
    host_apply::Shared,
);

/// Run the copy of `job` (by the helper `spec`, or on the host when the services are stopped
/// and the host sees both trees: files in parallel) with a progress bar of `bytes`; while the
/// services are stopped, hash the source on the host meanwhile (one read of the source from
/// disk), so the verify reads only what changed since.
pub(super) fn copy_with_progress(
    input: &StepInput<'_>,
    job: &CopyJob,
    spec: &HelperSpec,
    bytes: u64,
    running: bool,
) -> Result<Copied, StepError> {
    let bar = progress::bytes_bar(input.label.to_owned(), bytes);
    let here = input.ctx.elsewhere.is_none();
    let on_host = match running {
        true => None,
        false => host_copy_roots(input, job)?,
    };
    // the source as the copy on the host reads it, else as the engine names it
    let source = match (running, &on_host) {
        (true, _) => None,
        (false, Some((from, _))) => Some(from.clone()),
        (false, None) => reach::host_reads(input.ctx.engine, &job.source)
            .ok()
            .flatten(),
    };
    if on_host.is_some() {
        input.durable(Durable::HostCopy)?;
    }
    let (result, known) = std::thread::scope(|scope| {
        let hashing = source.as_ref().map(|path| {
            scope.spawn(move || {
                let none = tree::Known::default();
                tree::read_known(path, manifest::Digest::Blake3, &AtomicU64::new(0), &none)
            })
        });
        let result = ticking(
            Duration::from_millis(500),
            || bar.set_position(copied_bytes(here, &job.target)),
            || match &on_host {
                // each file is read back from the disk by the worker that copied it while
                // the others go on copying (synced, its pages dropped): the verify takes those
                // hashes for the files whose stamps are unchanged, and reads the rest
                Some((from, to)) => host_apply::copy_all_read_back(from, to)
                    .map(|(read, shared)| (format!("{}\n", now_ms() / 1000), Some(read), shared))
                    .map_err(StepError::HostCopy),
                None => {
                    run_helper(input, spec).map(|out| (out, None, host_apply::Shared::default()))
                }
            },
        );
        let known = hashing
            .and_then(|h| h.join().ok())
            .and_then(Result::ok)
            .map(|(_, known)| known);
        (result, known)
    });
    bar.finish_and_clear();
    let (output, copy_known, shared) = result?;
    Ok((output, known, copy_known, shared))
}

/// Bytes in `target` so far, for a copy's progress bar; 0 unless `here`: a target on another
/// machine (the engine's host, [`MigrateContext::elsewhere`]) is never read here.
pub(super) fn copied_bytes(here: bool, target: &Path) -> u64 {
    if here {
        progress::tree_bytes(target)
    } else {
        0
    }
}

/// On a VM (the host reads neither tree, see [`copy_helper`]) with the services stopped: one
/// helper container measures the source, copies it and reads both trees
/// ([`copy::measured_copy_spec`] in [`helper::after_copy`]); `None` when that does not
/// apply, or when the measure says the copy must wait (device files, or an empty volume the
/// image seeds): nothing was copied, the usual measure and copy follow.
pub(super) fn measured_copy(
    input: &StepInput<'_>,
    n: usize,
    job: &CopyJob,
) -> Result<Option<Filled>, StepError> {
    let sides = [job.source.clone(), MountSource::Bind(job.target.clone())];
    let Some(roots) = tree::after_copy_roots(input.ctx.engine, &sides)? else {
        return Ok(None);
    };
    let seed = input.plan.copies[n].seed.is_some();
    let copy = copy::measured_copy_spec(job, &input.ctx.image, input.journal, seed);
    let spec = helper::after_copy(&copy, &roots);
    let (label, target) = (input.label, &job.target);
    let here = input.ctx.elsewhere.is_none();
    let bar = progress::bar(label.to_owned());
    let output = ticking(
        Duration::from_millis(500),
        || bar.set_message(format!("{label} {} bytes", copied_bytes(here, target))),
        || run_helper(input, &spec),
    );
    bar.finish_and_clear();
    let output = output?;
    let (printed, _) = helper::split_after_copy(&output).ok_or(StepError::AfterCopyMissing)?;
    let (size, began) =
        copy::parse_measured(printed).ok_or_else(|| StepError::UnreadableMeasure {
            printed: printed.to_owned(),
        })?;
    let Some(began) = began else {
        return Ok(None);
    };
    let (_, after) = after_copy(&output, roots)?;
    Ok(Some(Filled {
        job: job.clone(),
        size,
        seeded: None,
        began,
        known: None,
        copy_known: None,
        after: Some(after),
        shared: host_apply::Shared::default(),
    }))
}

/// The helper that copies, and whether it also reads both trees right after its copy: when the
/// services are stopped and the host reads neither tree (a VM), it hashes both in the same
/// container, for the verify ([`tree::after_copy_roots`]).
pub(super) fn copy_helper(
    input: &StepInput<'_>,
    job: &CopyJob,
    running: bool,
    devices: bool,
) -> Result<(HelperSpec, Option<tree::AfterCopyRoots>), StepError> {
    let (image, journal) = (&input.ctx.image, input.journal);
    if running {
        return Ok((copy::pre_copy_spec(job, image, journal, devices), None));
    }
    let spec = copy::copy_spec(job, image, journal, devices);
    let sides = [job.source.clone(), MountSource::Bind(job.target.clone())];
    match tree::after_copy_roots(input.ctx.engine, &sides)? {
        Some(roots) => Ok((helper::after_copy(&spec, &roots), Some(roots))),
        None => Ok((spec, None)),
    }
}

/// The copy's own output, and what its helper read of both trees after the copy (for this
/// run's verify).
pub(super) fn after_copy(
    output: &str,
    roots: tree::AfterCopyRoots,
) -> Result<(&str, tree::AfterCopy), StepError> {
    let (printed, listing) = helper::split_after_copy(output).ok_or(StepError::AfterCopyMissing)?;
    let trees = tree::after_copy_manifests(listing, &roots, &AtomicU64::new(0))?;
    Ok((printed, tree::AfterCopy { trees, roots }))
}

pub(super) fn copied_line(filled: &Filled) -> String {
    let from_image = if filled.seeded.is_some() {
        " (the volume was empty: seeded from the image)"
    } else {
        ""
    };
    // the measure's size is what the copy takes on disk (`SourceSize::bytes`: blocks, a sparse
    // file written dense), not the files' lengths the bar counts
    let shared = match filled.shared {
        host_apply::Shared { files: 0, .. } => String::new(),
        host_apply::Shared { files, bytes } => {
            format!("; {files} files ({bytes} bytes) share their extents with the source (reflink)")
        }
    };
    format!(
        "{} bytes to write, {} entries{from_image}{shared}",
        filled.size.bytes, filled.size.entries
    )
}

pub(super) fn copy_data(input: &StepInput<'_>, n: usize, retried: bool) -> Stepped {
    refuse_killed(input)?;
    let mut filled = fill(input, n, false, retried)?;
    let mut learned = Learned {
        after_copy: filled.after.take(),
        ..Learned::default()
    };
    // what the copy read back of the target stands for this run's verify only: a resumed run
    // reads the copy again
    let copy_known = filled.copy_known.take();
    let known = match filled.known.take() {
        Some(k) => {
            input.durable(Durable::SideFileWrite)?;
            let kept = journal::SideKind::CopySource.of(n).keep_known(
                &journal::dir(&input.plan.project_dir),
                input.journal,
                &k,
            )?;
            learned.known = Some([k, copy_known.unwrap_or_default()]);
            Some(kept)
        }
        None => {
            learned.known = copy_known.map(|c| [tree::Known::default(), c]);
            None
        }
    };
    let detail = Detail::Copied {
        seeded: filled.seeded.clone(),
        known,
    };
    Ok(StepDone::new(detail, copied_line(&filled)).learned(learned))
}

/// The pre-copy while the services run: a first copy, then catch-up passes while what changed
/// meanwhile is more than [`delta::REPEAT_PER_MILLE`] of the data, so the stop stays short;
/// where the host may copy, it then gives the helper's copy what only the host keeps
/// (extended attributes, symlink times, holes: [`host_apply::keep`]), and what changes after
/// that (its ctime moves) the delta copies again on the host.
pub(super) fn pre_copy(input: &StepInput<'_>, n: usize, retried: bool) -> StepResult {
    let filled = fill(input, n, true, retried)?;
    let mut since = filled.began;
    let mut passes = 1;
    let mut caught_up = 0;
    while passes <= delta::MAX_PASSES {
        let listed = list(input, &filled.job)?;
        let pass = delta::plan(&listed, since);
        if !delta::worth_another_pass(&pass, filled.size.bytes) {
            break;
        }
        apply(input, &filled.job, &pass, &listed, false)?;
        caught_up += pass.copied;
        since = listed.began;
        passes += 1;
    }
    if let Some((source, target)) = host_copy_roots(input, &filled.job)? {
        input.durable(Durable::HostCopy)?;
        host_apply::keep(&source, &target).map_err(StepError::HostCopy)?;
    }
    let line = match passes {
        1 => copied_line(&filled),
        _ => format!(
            "{}; {} pass(es) more caught up {caught_up} changed entries",
            copied_line(&filled),
            passes - 1
        ),
    };
    let detail = Detail::PreCopied {
        since,
        passes,
        seeded: filled.seeded,
    };
    Ok((detail, line))
}

/// The temporary volume the engine fills from the image for copy `n`.
pub(super) fn seed_volume(journal: &str, n: usize) -> String {
    format!("tierctl-seed-{journal}-{n}")
}

/// A container of the service's image (never started) with the temporary volume at the mount
/// path: creating it fills the volume.
pub(super) fn seed_spec(seed: &Seed, volume: &str, journal: &str) -> HelperSpec {
    HelperSpec {
        mounts: vec![MountSpec {
            source: MountSource::Volume(volume.to_owned()),
            target: seed.path.clone(),
            read_only: false,
        }],
        journal: Some(journal.to_owned()),
        ..HelperSpec::new("seed", &seed.image, vec!["true".into()])
    }
}
