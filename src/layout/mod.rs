//! The tier layout on disk: what tiers.yaml asks for (roots, layout directories, access
//! points), checked against what is there (`tiers validate`), and the changes that make it so
//! (`tiers init`, `tiers link`).
//!
//! Pure: observations in (filled by `tierfs`), verdicts and actions out.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::facts::PathFacts;
use crate::tiers::Tiers;

mod init;
mod link;
mod node_disks;
mod validate;

pub use init::{DirAction, MarkerAction, MarkerKind, init_plan, marker_plan};
pub use link::{LinkAction, link_plan};
pub use node_disks::{
    DiskLevel, NodeDisk, NodeDisks, Problem, Unreachable, exit_code as disks_exit_code, judge,
};
pub use validate::validate;

/// What is at a path, seen without following a final symlink (`lstat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Nothing.
    Missing,
    /// A directory.
    Dir(DirMeta),
    /// A symlink with its target text.
    Symlink {
        /// The target as written.
        target: PathBuf,
    },
    /// A file or anything else.
    Other,
    /// It could not be examined.
    Unreadable {
        /// The OS error.
        message: String,
    },
}

/// Owner, mode and content of a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirMeta {
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Permission bits (`0o7777` at most).
    pub mode: u32,
    /// Whether it has any entry (data that a chown or chmod would affect).
    pub holds_data: bool,
}

/// Which mount holds a path and with which options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountFacts {
    /// Where the filesystem is mounted.
    pub mount_point: PathBuf,
    /// Filesystem type (`ext4`, `tmpfs`).
    pub fs_type: String,
    /// Per-mount options (`rw`, `noatime`).
    pub options: Vec<String>,
}

/// What was observed about one tier root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootFacts {
    /// The tier name.
    pub tier: String,
    /// What is at the root.
    pub node: Node,
    /// Device id (`st_dev`) of the root, when it exists.
    pub device: Option<u64>,
    /// The mount holding the root, when known.
    pub mount: Option<MountFacts>,
    /// tiers.yaml says `mount: true` and the root is not a mount point (its disk is not there:
    /// the directory is on the system disk).
    pub unmounted: bool,
}

/// A directory `tiers init` creates and `tiers validate` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedDir {
    /// The tier.
    pub tier: String,
    /// The absolute path.
    pub path: PathBuf,
    /// Numeric owner, when declared.
    pub owner: Option<(u32, u32)>,
    /// Owner name as declared (`postgres`), when not numeric.
    pub owner_name: Option<String>,
    /// Permission bits, when declared.
    pub mode: Option<u32>,
    /// Whether it comes from `layout:` (checked by validate) or from placement (created only).
    pub declared: bool,
}

/// One symlink found under a tier root, with where it leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFacts {
    /// The tier whose root holds the symlink.
    pub tier: String,
    /// The symlink, resolved.
    pub facts: PathFacts,
}

/// How the bounded walk under a tier root went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkFacts {
    /// The tier.
    pub tier: String,
    /// Entries examined.
    pub entries: u64,
    /// Whether a limit stopped the walk early.
    pub truncated: bool,
    /// The symlinks found.
    pub links: Vec<LinkFacts>,
}

/// Everything `tiers validate` looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// One per tier, in file order.
    pub roots: Vec<RootFacts>,
    /// One per [`wanted_dirs`] entry, in order: the directory and its owner resolved by name.
    pub dirs: Vec<(WantedDir, Node)>,
    /// One per access point, in file order: what is at it, and it resolved.
    pub access_points: Vec<(Node, PathFacts)>,
    /// One per tier whose root exists.
    pub walks: Vec<WalkFacts>,
}

/// How bad a verdict is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Passed (shown with `-v`).
    Ok,
    /// Worth knowing; does not change the exit code.
    Note,
    /// Drift that `tiers init`/`tiers link` or a small change fixes: exit 1.
    Warning,
    /// The layout is broken: exit 2.
    Error,
}

impl Level {
    /// `ok`, `note`, `warning`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One check's result about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Check id (`root`, `shared-filesystem`, `layout-owner`, ...).
    pub check: &'static str,
    /// How bad.
    pub level: Level,
    /// The tier concerned, if one.
    pub tier: Option<String>,
    /// The path concerned.
    pub path: PathBuf,
    /// What was found.
    pub message: String,
    /// What to do; empty when nothing.
    pub hint: String,
}

/// Exit code for a list of verdicts: 0 clean or notes only, 1 warnings, 2 errors.
pub fn exit_code(verdicts: &[Verdict]) -> u8 {
    match verdicts.iter().map(|v| v.level).max() {
        Some(Level::Error) => 2,
        Some(Level::Warning) => 1,
        _ => 0,
    }
}

/// The directories `tiers init` creates: every `layout:` entry, then the fixed part of every
/// placement path (`databases` of `databases/{project}/{volume}`) that no entry names. A
/// built-in rule whose own tier the file lacks (`backups` without a `cold` tier, which falls
/// back to the first tier) creates nothing up front: the fast tier gets no `backups`.
pub fn wanted_dirs(tiers: &Tiers) -> Vec<WantedDir> {
    let mut out: Vec<WantedDir> = tiers
        .layout
        .iter()
        .filter_map(|entry| {
            Some(WantedDir {
                tier: entry.tier.clone(),
                path: tiers.tier_path(&entry.tier, &entry.sub)?,
                owner: entry.owner,
                owner_name: entry.owner_name.clone(),
                mode: entry.mode,
                declared: true,
            })
        })
        .collect();
    let mut seen: BTreeSet<PathBuf> = out.iter().map(|d| d.path.clone()).collect();
    for (index, rule) in tiers.placement.iter().enumerate() {
        let fallback = tiers.placement_is_default
            && crate::tiers::DEFAULT_RULES
                .get(index)
                .is_some_and(|row| row.tier != rule.tier);
        if fallback {
            continue;
        }
        let prefix = fixed_prefix(rule.path.as_str());
        if prefix.as_os_str().is_empty() {
            continue;
        }
        let Some(path) = tiers.tier_path(&rule.tier, &prefix) else {
            continue;
        };
        if seen.insert(path.clone()) {
            out.push(WantedDir {
                tier: rule.tier.clone(),
                path,
                owner: None,
                owner_name: None,
                mode: None,
                declared: false,
            });
        }
    }
    out
}

/// The leading components of a path template that hold no variable.
fn fixed_prefix(template: &str) -> PathBuf {
    template
        .split('/')
        .take_while(|part| !part.contains('{') && !part.is_empty())
        .collect()
}

#[cfg(test)]
mod tests;
