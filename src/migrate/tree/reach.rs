//! "Can the host reach this tree, or must a helper?", answered here and nowhere else. The
//! engine says where the host sees a tree as the engine does ([`Helpers::host_path`]: a native
//! engine's volume or bind, never a VM's disk nor another machine's path); tierctl writes there
//! itself only as root (it must set any owner). Every reader, copy, measure and apply of
//! `migrate` asks these three functions; none asks the engine or the euid itself.

use std::path::PathBuf;

use crate::engine::{EngineError, Helpers, MountSource};
use crate::migrate::copy::CopyJob;

/// Where the host reads `tree` as the engine sees it; `None`: only a helper on the engine
/// does.
pub fn host_reads(
    engine: &dyn Helpers,
    tree: &MountSource,
) -> Result<Option<PathBuf>, EngineError> {
    engine.host_path(tree)
}

/// Where the host reads both trees of `job` (source, target); `None` when a helper must read
/// one of them.
pub fn host_reads_both(
    engine: &dyn Helpers,
    job: &CopyJob,
) -> Result<Option<(PathBuf, PathBuf)>, EngineError> {
    let target = MountSource::Bind(job.target.clone());
    Ok(
        match (
            host_reads(engine, &job.source)?,
            host_reads(engine, &target)?,
        ) {
            (Some(source), Some(target)) => Some((source, target)),
            _ => None,
        },
    )
}

/// Whether this process may write trees on the host itself: it must set any owner (root).
pub fn host_may_write() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Where the host copies between `job`'s trees itself (source, target): it reads both and may
/// write; `None`: a helper copies.
pub fn host_copies(
    engine: &dyn Helpers,
    job: &CopyJob,
) -> Result<Option<(PathBuf, PathBuf)>, EngineError> {
    if !host_may_write() {
        return Ok(None);
    }
    host_reads_both(engine, job)
}

/// Where the host reads the source of a copy it runs into `dir` (the target's nearest existing
/// directory): it may write and reads both; `None`: a helper measures and copies.
pub fn host_copies_into(
    engine: &dyn Helpers,
    source: &MountSource,
    dir: PathBuf,
) -> Result<Option<PathBuf>, EngineError> {
    if !host_may_write() {
        return Ok(None);
    }
    let Some(source) = host_reads(engine, source)? else {
        return Ok(None);
    };
    Ok(host_reads(engine, &MountSource::Bind(dir))?.map(|_| source))
}
