//! Before anything changes: the source volumes exist and are not used outside the plan, every
//! target may receive its copy; and what the host shows at a target.

use std::path::{Path, PathBuf};

use super::copy::{self, TargetFacts};
use super::plan::MigratePlan;
use super::{MigrateContext, MigrateError};
use crate::engine::{MountSource, Selector};

/// Check, before anything changes, that the plan can run: every source volume exists (and is
/// not created by looking), no running container outside the plan mounts one, every target may
/// receive its copy.
pub fn preflight(ctx: &MigrateContext<'_>, plan: &MigratePlan) -> Result<(), MigrateError> {
    let engine_err = |e: crate::engine::EngineError| MigrateError::Refused(e.to_string());
    for copy in &plan.copies {
        if let MountSource::Volume(name) = &copy.job.source {
            if !ctx.engine.volume_exists(name).map_err(engine_err)? {
                return Err(MigrateError::Refused(format!(
                    "volume `{name}` does not exist on the engine: nothing to copy (start the project once, or check the project name)"
                )));
            }
            for c in ctx
                .engine
                .list(&Selector::Volume(name.clone()))
                .map_err(engine_err)?
            {
                let ours = c.project.as_deref() == Some(plan.project.as_str())
                    && c.service
                        .as_ref()
                        .is_some_and(|s| plan.services.contains(s));
                if c.running && !ours {
                    return Err(MigrateError::Refused(format!(
                        "volume `{name}` is in use by container `{}` outside the plan: stop it first",
                        c.name
                    )));
                }
            }
        }
        copy::check_target(
            &copy.job.target,
            &ctx.roots,
            &target_facts(&copy.job.target),
            false,
        )
        .map_err(|e| MigrateError::Refused(e.to_string()))?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_facts_see_a_symlink_on_the_way_to_a_missing_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let real = dir.path().join("real");
        std::fs::create_dir(&real).expect("dir");
        std::os::unix::fs::symlink(&real, dir.path().join("link")).expect("symlink");
        let canonical = std::fs::canonicalize(dir.path()).expect("canonical");
        let facts = target_facts(&canonical.join("link/db"));
        assert!(!facts.exists);
        assert_eq!(facts.real, Some(canonical.join("real/db")));
        let facts = target_facts(&canonical.join("real"));
        assert!(facts.exists && facts.is_dir && facts.empty);
    }
}
