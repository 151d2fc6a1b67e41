//! What is on a pool's branches: every regular file below each branch directory (not following
//! symlinks; a temporary copy of a killed move passed over) and each branch's filesystem numbers.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::move_plan::{BranchSpace, Candidate};
use crate::tiers::pool::Pool;

use super::transfer::TEMP_PREFIX;

/// Every regular file on every branch of `pool`.
pub fn files(pool: &Pool) -> Result<Vec<Candidate>, (PathBuf, io::Error)> {
    let mut out = Vec::new();
    for branch in &pool.branches {
        let mut stack = vec![branch.path.clone()];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound && dir == branch.path => continue,
                Err(e) => return Err((dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| (dir.clone(), e))?;
                let Ok(meta) = entry.metadata() else { continue };
                let path = entry.path();
                if meta.is_dir() {
                    stack.push(path);
                } else if meta.is_file()
                    && !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
                {
                    out.push(Candidate {
                        rel: relative(&branch.path, &path),
                        tier: branch.tier.clone(),
                        size: meta.size(),
                        mtime: meta.mtime(),
                        atime: meta.atime(),
                    });
                }
            }
        }
    }
    Ok(out)
}

fn relative(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// Each branch's filesystem numbers, by tier (`f_frsize` blocks).
pub fn space(pool: &Pool) -> Result<BTreeMap<String, BranchSpace>, (PathBuf, io::Error)> {
    let mut out = BTreeMap::new();
    for branch in &pool.branches {
        let stat = nix::sys::statvfs::statvfs(&branch.path)
            .map_err(|e| (branch.path.clone(), io::Error::from(e)))?;
        let unit = stat.fragment_size();
        let total = stat.blocks() * unit;
        let free = stat.blocks_free() * unit;
        out.insert(
            branch.tier.clone(),
            BranchSpace {
                total,
                used: total.saturating_sub(free),
                available: stat.blocks_available() * unit,
            },
        );
    }
    Ok(out)
}
