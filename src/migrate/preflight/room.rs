//! Preflight's room and access checks on this machine: each target writable, keeping its
//! source's owners, and its filesystem with room for the measured sources plus [`margin`]; and
//! what the host shows at a target.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{margin, refusal, refused};
use crate::migrate::copy::{self, CopyJob, TargetFacts};
use crate::migrate::late_writes::show;
use crate::migrate::plan::MigratePlan;
use crate::migrate::tree::reach;
use crate::migrate::{MigrateContext, MigrateError, host_measure, owners};
use crate::vm::view::Coverage;

/// Each target writable (a probe file created and removed where its directory will be made),
/// keeping the source's owners there (the measure helper chowns a probe file: `db-on-vm-share`),
/// and its filesystem with room for the measured sources (the measure helper, which also proves
/// the helper image is on the engine) plus [`margin`].
pub(super) fn room_and_access(
    ctx: &MigrateContext<'_>,
    plan: &MigratePlan,
    probe: bool,
) -> Result<Vec<String>, MigrateError> {
    let mut problems = Vec::new();
    // filesystem (device) -> (where, bytes, entries)
    let mut need: BTreeMap<u64, (PathBuf, u64, u64)> = BTreeMap::new();
    let label = format!("preflight-{}", std::process::id());
    for copy in &plan.copies {
        let Some(existing) = nearest_existing(&copy.job.target) else {
            problems.push(format!(
                "`{}`: no existing directory above it",
                copy.job.target.display()
            ));
            continue;
        };
        if probe && let Err(why) = writable(&existing) {
            problems.push(why);
            continue;
        }
        let (size, owners) = match probe {
            true => measure(ctx, &copy.job, &existing, &label)?,
            false => (size(ctx, &copy.job, &existing, &label)?, Vec::new()),
        };
        let share = ctx
            .vm
            .as_ref()
            .and_then(|vm| match vm.view.coverage(&copy.job.target) {
                Coverage::Shared { share, .. } => Some(share.host),
                _ => None,
            });
        if let Some(problem) = owners::problem(
            &copy.job.target,
            &show(&copy.job.source),
            &owners,
            share.as_deref(),
        ) {
            problems.push(problem);
        }
        let dev = std::fs::metadata(&existing).map(|m| m.dev()).unwrap_or(0);
        let entry = need.entry(dev).or_insert((existing, 0, 0));
        entry.1 += size.bytes;
        entry.2 += size.entries;
    }
    for (path, bytes, entries) in need.values() {
        let wanted = bytes + margin(*bytes, *entries);
        match available(path) {
            Ok(free) if free < wanted => problems.push(format!(
                "the filesystem of `{}` has {free} bytes free, the copies need {bytes} bytes ({entries} entries) plus a margin: {wanted} bytes; free space or choose a bigger tier",
                path.display()
            )),
            Ok(_) => {}
            Err(why) => problems.push(why),
        }
    }
    Ok(problems)
}

/// The source's size, and whether `dir` (the target's nearest existing directory) keeps the
/// source's owners: one measure helper ([`owners::extend`]).
pub fn measure(
    ctx: &MigrateContext<'_>,
    job: &CopyJob,
    dir: &Path,
    label: &str,
) -> Result<(copy::SourceSize, Vec<owners::OwnerCheck>), MigrateError> {
    let probe = format!(".tierctl-owners-{}", std::process::id());
    if let Some(source) = on_host(ctx, job, dir)? {
        return host_measure::measure(&source, dir, &probe).map_err(|e| {
            MigrateError::Refused(format!("measuring `{}` on the host: {e}", source.display()))
        });
    }
    let spec = owners::extend(&copy::measure_spec(job, &ctx.image, label), dir, &probe);
    let out = ctx.engine.run_to_end(&spec).map_err(|e| refused(&e))?;
    Ok((
        copy::parse_size(&out).unwrap_or_default(),
        owners::parse(&out),
    ))
}

/// The source's size alone, read-only (no owner probe): the measure helper's `du`, or the same
/// walk on the host when the copy will run there.
fn size(
    ctx: &MigrateContext<'_>,
    job: &CopyJob,
    dir: &Path,
    label: &str,
) -> Result<copy::SourceSize, MigrateError> {
    if let Some(source) = on_host(ctx, job, dir)? {
        return host_measure::size(&source).map_err(|e| {
            MigrateError::Refused(format!("measuring `{}` on the host: {e}", source.display()))
        });
    }
    let out = ctx
        .engine
        .run_to_end(&copy::measure_spec(job, &ctx.image, label))
        .map_err(|e| refused(&e))?;
    Ok(copy::parse_size(&out).unwrap_or_default())
}

/// The room check of [`preflight`] without its probe files (`--dry-run`): each target's
/// filesystem has room for the measured sources plus [`margin`]; on another machine not made.
pub fn room(ctx: &MigrateContext<'_>, plan: &MigratePlan) -> Result<(), MigrateError> {
    if ctx.elsewhere.is_some() {
        return Ok(());
    }
    let problems = room_and_access(ctx, plan, false)?;
    match problems.is_empty() {
        true => Ok(()),
        false => Err(refusal(problems)),
    }
}

/// The source's host path when the copy will run on the host ([`host_apply`]): tierctl is
/// root and the host sees the source and `dir` as the engine does (then the measure runs there
/// too, [`host_measure`]).
fn on_host(
    ctx: &MigrateContext<'_>,
    job: &CopyJob,
    dir: &Path,
) -> Result<Option<PathBuf>, MigrateError> {
    reach::host_copies_into(ctx.engine, &job.source, dir.to_path_buf()).map_err(|e| refused(&e))
}

/// `f_frsize * f_bavail` of the filesystem holding `path`.
// the fields are u64 on Linux, narrower on macOS
#[allow(clippy::useless_conversion)]
fn available(path: &Path) -> Result<u64, String> {
    let stats = nix::sys::statvfs::statvfs(path)
        .map_err(|e| format!("cannot read the free space of `{}`: {e}", path.display()))?;
    Ok(u64::from(stats.fragment_size()).saturating_mul(u64::from(stats.blocks_available())))
}

/// Create and remove a probe file in `dir`.
fn writable(dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!(".tierctl-preflight-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| format!("`{}` is not writable: {e}", dir.display()))?;
    std::fs::remove_file(&probe)
        .map_err(|e| format!("cannot remove the probe file `{}`: {e}", probe.display()))
}

/// The nearest directory at or above `path` that exists.
fn nearest_existing(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_dir()))
        .map(Path::to_path_buf)
}

/// What the host shows at `path`.
pub fn target_facts(path: &Path) -> TargetFacts {
    let meta = std::fs::symlink_metadata(path).ok();
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while std::fs::symlink_metadata(&existing).is_err() {
        match (
            existing.file_name().map(ToOwned::to_owned),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let real = std::fs::canonicalize(&existing).ok().map(|mut real| {
        for name in rest.iter().rev() {
            real.push(name);
        }
        real
    });
    TargetFacts {
        exists: meta.is_some(),
        is_dir: meta.as_ref().is_some_and(|m| m.is_dir()),
        empty: std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none()),
        real,
    }
}

/// The topmost directory `create_dir_all(path)` would make.
pub fn topmost_missing(path: &Path) -> Option<PathBuf> {
    let mut top = None;
    let mut current = Some(path);
    while let Some(p) = current {
        if p.exists() {
            break;
        }
        top = Some(p.to_path_buf());
        current = p.parent();
    }
    top
}
