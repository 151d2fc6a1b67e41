//! A migration's target directories, at their [`Site`]. On this machine (or a VM of it, through
//! its shares) tierctl looks at them and creates them itself. When they are another machine's
//! (the engine's host, `crate::host`, or engine B of `--to-context`) the plan's paths are that
//! machine's paths: only helper containers on that engine look at them (the facts by
//! `engine::host_fs`) and create, measure or remove them (the tier-root helpers of
//! [`super::cross_plan`]); no path of this machine stands in for one of that machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::copy::{self, TargetError, TargetFacts, TargetState};
use super::cross_plan as xp;
use super::journal::Detail;
use super::plan::{MigratePlan, VolumeCopy};
use super::site::Site;
use super::{MigrateContext, MigrateError, owners, preflight};
use crate::engine::{EngineError, HelperOutput, host_fs};

/// The tiers `plan`'s copies go to are there (issue 21 item 6: a disk unmounted mid-move or
/// before a rollback): each one's marker, and a `mount: true` root still a mount point, by
/// [`MigrateContext::tiers`], looked at on this machine (`Ok` when that is `None`, or the
/// copies go to engine B). A tier whose disk went away would get a copy on the system disk
/// below its mount point, services started on the empty directory there, or a rollback that
/// finds no copy and leaves what the services wrote on the disk behind.
///
/// Only the copies' tiers are read while each has its marker: another tier's disk that hangs
/// (a network share gone away) does not stall a move that does not touch it. A copy's tier
/// without its marker makes it read the others: a marker on any of them says the tiers were
/// initialised, so the missing one is a disk away, not a tier never marked.
pub fn present(
    ctx: &MigrateContext<'_>,
    plan: &MigratePlan,
) -> Result<(), Box<crate::tierfs::AbsentTier>> {
    let (Some(tiers), None) = (ctx.tiers, &ctx.to) else {
        return Ok(());
    };
    let targets: Vec<&Path> = plan.copies.iter().map(|c| c.job.target.as_path()).collect();
    present_at(tiers, &targets, &crate::tierfs::presence).map_err(Box::new)
}

/// [`present`] with `look` reading one tier root: the targets' tiers first, the others only
/// when none of those has its marker.
fn present_at(
    tiers: &crate::tiers::Tiers,
    targets: &[&Path],
    look: &dyn Fn(&Path) -> crate::facts::TierPresence,
) -> Result<(), crate::tierfs::AbsentTier> {
    let mut seen: BTreeMap<String, _> = targets
        .iter()
        .filter_map(|t| tiers.tier_of(t))
        .map(|tier| (tier.name.clone(), look(&tier.root)))
        .collect();
    if !crate::audit::initialised(seen.values()) {
        for tier in tiers.tiers.values() {
            seen.entry(tier.name.clone())
                .or_insert_with(|| look(&tier.root));
        }
    }
    crate::tierfs::refuse_absent_tiers(tiers, &seen, targets)
}

/// Why a target directory could not be looked at, created, emptied or removed.
#[derive(Debug, Error)]
pub enum TierDirError {
    /// The engine (its helpers look at the directories of another machine) failed.
    #[error("{error}; hint: {}", error.hint())]
    Engine {
        /// What the engine said.
        error: EngineError,
    },
    /// The helper answered nothing for a target.
    #[error("no facts of `{}` came back", target.display())]
    NoFacts {
        /// The target.
        target: PathBuf,
    },
    /// The target may not receive the copy.
    #[error(transparent)]
    Refused(#[from] TargetError),
    /// The target could not be created on this machine.
    #[error("cannot create `{}`: {error}", target.display())]
    Create {
        /// The target.
        target: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The target lies in none of the site's tier roots.
    #[error("target `{}` is not inside a tier root{on}", target.display())]
    OutsideRoots {
        /// The target.
        target: PathBuf,
        /// Where (` on `B``, or nothing on this machine).
        on: String,
    },
    /// A directory to remove is not below its tier root.
    #[error("`{}` is not below the tier root `{}`", path.display(), root.display())]
    NotBelowRoot {
        /// The directory.
        path: PathBuf,
        /// The tier root.
        root: PathBuf,
    },
}

impl From<EngineError> for TierDirError {
    fn from(error: EngineError) -> Self {
        TierDirError::Engine { error }
    }
}

/// What is at each of `targets` now, in order: on this machine, or read on the engine's host
/// (one resolution for all of them).
pub fn facts(site: &Site<'_>, targets: &[PathBuf]) -> Result<Vec<TargetFacts>, TierDirError> {
    if site.elsewhere().is_none() {
        return Ok(targets.iter().map(|t| preflight::target_facts(t)).collect());
    }
    let seen = host_fs::facts(site.engine, site.image, targets, &[])?;
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
pub fn facts_of(site: &Site<'_>, target: &Path) -> Result<TargetFacts, TierDirError> {
    let mut all = facts(site, &[target.to_path_buf()])?;
    all.pop().ok_or_else(|| TierDirError::NoFacts {
        target: target.to_path_buf(),
    })
}

/// Whether `target` is a directory now.
pub fn is_dir(site: &Site<'_>, target: &Path) -> Result<bool, TierDirError> {
    if site.elsewhere().is_none() {
        return Ok(target.is_dir());
    }
    Ok(facts_of(site, target)?.is_dir)
}

/// The create step of `target`: created when missing (the topmost directory made is
/// journaled, for a rollback to remove), taken when empty, wiped when it holds this journal's
/// partial copy (`retried`); refused when it may not receive the copy ([`copy::check_target`]).
pub fn create(
    site: &Site<'_>,
    target: &Path,
    journal: &str,
    retried: bool,
) -> Result<(Detail, String), TierDirError> {
    let facts = facts_of(site, target)?;
    let state = copy::check_target(target, site.roots, &facts, retried)?;
    let on = site.on();
    match state {
        TargetState::Missing => {
            let made = make(site, target, journal)?;
            Ok((Detail::Created { made }, format!("created{on}")))
        }
        TargetState::Empty => Ok((Detail::Created { made: None }, "exists, empty".into())),
        TargetState::JournaledCopy => {
            wipe(site, target, journal)?;
            Ok((
                Detail::Created { made: None },
                "partial copy removed".into(),
            ))
        }
    }
}

/// Empty `target` (this journal's own partial copy) with a helper.
pub fn wipe(site: &Site<'_>, target: &Path, journal: &str) -> Result<(), TierDirError> {
    site.engine
        .run_to_end(&copy::wipe_spec(target, site.image, journal))?;
    Ok(())
}

/// Create `target` and the directories above it that are missing; the topmost one made.
fn make(site: &Site<'_>, target: &Path, journal: &str) -> Result<Option<PathBuf>, TierDirError> {
    if site.elsewhere().is_none() {
        let made = preflight::topmost_missing(target);
        std::fs::create_dir_all(target).map_err(|error| TierDirError::Create {
            target: target.to_path_buf(),
            error,
        })?;
        return Ok(made);
    }
    let (root, rel) = root_of(site, target)?;
    let printed = site
        .engine
        .run_to_end(&xp::mkdir_spec(root, &rel, site.image, journal))?;
    Ok(xp::parse_made(&printed).map(|top| root.join(top)))
}

/// The tier root `target` lies in and the path below it.
fn root_of<'s>(site: &'s Site<'_>, target: &Path) -> Result<(&'s Path, String), TierDirError> {
    site.root_of(target)
        .ok_or_else(|| TierDirError::OutsideRoots {
            target: target.to_path_buf(),
            on: site.on(),
        })
}

/// Remove copy `target` (its entries by a helper, then the directories the create step made,
/// from `target` up to `made`, each only while empty).
pub fn remove(
    site: &Site<'_>,
    target: &Path,
    made: Option<&Path>,
    journal: &str,
) -> Result<(), TierDirError> {
    if is_dir(site, target)? {
        wipe(site, target, journal)?;
    }
    let Some(top) = made else {
        return Ok(());
    };
    if site.elsewhere().is_none() {
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
    let (root, rel) = root_of(site, target)?;
    let top = top
        .strip_prefix(root)
        .map_err(|_| TierDirError::NotBelowRoot {
            path: top.to_path_buf(),
            root: root.to_path_buf(),
        })?;
    let spec = xp::rmdir_spec(root, &rel, &top.to_string_lossy(), site.image, journal).ok_or_else(
        || TierDirError::NotBelowRoot {
            path: PathBuf::from(&rel),
            root: root.to_path_buf(),
        },
    )?;
    site.engine.run_to_end(&spec)?;
    Ok(())
}

/// Preflight's room and access checks where tierctl sees the tier directories only through
/// helpers (another machine: the engine's host, or B): for each copy, the source measured (on
/// the engine's host also the owners of its files chowned onto a probe file in the target's
/// tier root, by the same helper: [`owners::extend`]); per tier root, that it exists there, the
/// targets below it are missing or empty, and it has room for their sources plus margin
/// ([`room`]).
pub fn room_and_access_elsewhere(
    ctx: &MigrateContext<'_>,
    plan: &MigratePlan,
) -> Result<Vec<String>, MigrateError> {
    let mut problems = Vec::new();
    let mut sizes = Vec::new();
    let label = format!("preflight-{}", std::process::id());
    let site = ctx.site();
    for copy in &plan.copies {
        if ctx.to.is_some() {
            // the source is on this engine, the target on B: no helper sees both
            sizes.push(source_size(ctx, copy, &label, &mut problems));
            continue;
        }
        let Ok((root, _)) = root_of(&site, &copy.job.target) else {
            sizes.push((0, 0));
            continue;
        };
        let (size, owners) = preflight::measure(ctx, &copy.job, root, &label)?;
        if let Some(problem) = owners::problem(
            &copy.job.target,
            &super::late_writes::show(&copy.job.source),
            &owners,
            None,
        ) {
            problems.push(problem);
        }
        sizes.push((size.bytes, size.entries));
    }
    room(&site, plan, &sizes, &mut problems);
    Ok(problems)
}

/// Copy `copy`'s source size on this engine, bytes and entries (0 for one that could not be
/// measured: its problem is listed).
fn source_size(
    ctx: &MigrateContext<'_>,
    copy: &VolumeCopy,
    label: &str,
    problems: &mut Vec<String>,
) -> (u64, u64) {
    let spec = copy::measure_spec(&copy.job, &ctx.image, label);
    match ctx.engine.run_to_end(&spec).map(|t| copy::parse_size(&t)) {
        Ok(Some(size)) => (size.bytes, size.entries),
        Ok(None) => {
            problems.push(format!("source `{}`: unreadable size", copy.key));
            (0, 0)
        }
        Err(e) => {
            problems.push(format!(
                "source `{}` on this engine: {}",
                copy.key,
                TierDirError::from(e)
            ));
            (0, 0)
        }
    }
}

/// Per tier root of the site: it exists (a helper binds it), the helper image is there, the
/// targets below it are missing or empty, and it has room for its sources (`sizes`, by copy)
/// plus margin.
pub fn room(site: &Site<'_>, plan: &MigratePlan, sizes: &[(u64, u64)], problems: &mut Vec<String>) {
    let context = site.elsewhere().unwrap_or("this machine");
    let by_root = copies_by_root(site, plan, problems);
    for (root, copies) in by_root {
        let rels: Vec<String> = copies
            .iter()
            .filter_map(|n| site.root_of(&plan.copies[*n].job.target).map(|(_, r)| r))
            .collect();
        let spec = xp::room_spec(&root, &rels, site.image, "preflight");
        let room = match site.engine.run_helper(&spec) {
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
                    TierDirError::from(e)
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

/// The copies of `plan` by the site's tier root their target lies in; a target in none of
/// them is a problem.
fn copies_by_root(
    site: &Site<'_>,
    plan: &MigratePlan,
    problems: &mut Vec<String>,
) -> BTreeMap<PathBuf, Vec<usize>> {
    let mut by_root: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for (n, copy) in plan.copies.iter().enumerate() {
        match site.root_of(&copy.job.target) {
            Some((root, _)) => by_root.entry(root.to_path_buf()).or_default().push(n),
            None => problems.push(format!(
                "`{}` lies in none of the tier roots{}",
                copy.job.target.display(),
                site.on()
            )),
        }
    }
    by_root
}

/// What the room helper found below one tier root: each target of `copies` must be missing or
/// empty, and the root must have room for their sources plus margin.
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
                "`{}` on context `{context}` is not empty: tierctl copies only into a missing or empty tier directory",
                plan.copies[*n].job.target.display(),
            ));
        }
    }
    let (bytes, entries) = copies
        .iter()
        .map(|n| sizes.get(*n).copied().unwrap_or_default())
        .fold((0, 0), |(b, e), (x, y)| (b + x, e + y));
    let needed = bytes + preflight::margin(bytes, entries);
    if room.available < needed {
        problems.push(format!(
            "tier directory `{}` on context `{context}` has {} MiB free, the sources need {} MiB (with margin)",
            root.display(),
            room.available >> 20,
            needed >> 20
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::facts::{Marker, TierPresence};

    fn at(root: &Path, marked: bool) -> TierPresence {
        let marker = match marked {
            true => Marker::Present {
                tier: root
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into(),
                id: "0123".into(),
            },
            false => Marker::Missing,
        };
        TierPresence {
            root_is_dir: true,
            root_empty: !marked,
            marker,
            mount_point: Some(true),
        }
    }

    #[test]
    fn review_a_step_reads_only_its_copies_tiers_while_their_markers_are_there() {
        let tiers = crate::tiers::load(
            Path::new("tiers.yaml"),
            "tiers:\n  fast: { root: /t/fast }\n  cold: { root: /t/cold }\n",
        )
        .expect("tiers");
        let target = Path::new("/t/fast/db");
        let read = RefCell::new(Vec::new());
        let read = &read;
        let look = |marked: &'static [&str]| {
            move |root: &Path| {
                read.borrow_mut().push(root.to_path_buf());
                at(root, marked.iter().any(|m| root.ends_with(m)))
            }
        };
        // marked: the cold tier (a network share that may hang) is never read
        present_at(&tiers, &[target], &look(&["fast", "cold"])).expect("present");
        assert_eq!(*read.borrow(), [PathBuf::from("/t/fast")]);
        // its marker gone while the cold tier has one: its disk is away
        read.borrow_mut().clear();
        let absent = present_at(&tiers, &[target], &look(&["cold"])).expect_err("absent");
        assert_eq!(absent.tier, "fast");
        assert_eq!(
            read.borrow().len(),
            2,
            "the others tell a disk away from no markers"
        );
        // no tier was ever marked: nothing to tell, not refused
        present_at(&tiers, &[target], &look(&[])).expect("never initialised");
    }
}
