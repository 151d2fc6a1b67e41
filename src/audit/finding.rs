//! A finding: one storage problem, its place and what to do.

use std::fmt;

use serde::Serialize;

use super::fix::Fix;
use crate::compose::model::MountId;
use crate::compose::origin::Place;

/// The stable check ids (used in output, JSON and docs/checks.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// A bind source reached through a symlink.
    SymlinkedBind,
    /// A bind source whose symlinks loop.
    CircularSymlink,
    /// A symlink on one tier pointing into another.
    CrossTierSymlink,
    /// Data in an engine-managed named volume.
    NamedVolume,
    /// A bind directory on no tier.
    BindOutsideTiers,
    /// Data on a different tier than placement says.
    WrongTier,
    /// A bind source that does not exist.
    MissingBindSource,
    /// A bind source written relative to the project directory.
    RelativeBind,
    /// A bind source the engine's VM does not share (at the same path).
    VmShareMissing,
    /// A bind source the engine's VM shares read-only.
    VmShareReadonly,
    /// A database's data on a VM share (any type: virtiofs corrupts SQLite, sshfs and 9p
    /// cannot `chown`).
    DbOnVmShare,
    /// A library a service watches for changes on a VM share that carries no host file event.
    WatchedLibraryOnVmShare,
    /// A bind source on a tier whose disk is not there (root not its mount, marker missing).
    TierNotMounted,
    /// A bind directory on a tier that is empty or missing while the project's named volume
    /// that placement puts there still holds the data (`rewrite` without `migrate`).
    StrandedData,
    /// A bind source inside a mergerfs pool: on several tiers (an error for a database).
    BindInPool,
    /// A service Swarm may schedule on a node where its bind's tier path does not exist (or is
    /// another tier), or whose named volume may be created afresh on another node.
    SwarmUnpinned,
    /// A local bind or volume several tasks of one service write (`replicas > 1`,
    /// `mode: global`): each node gets its own copy, tasks on one node share it.
    SwarmSharedBind,
    /// A nested bind mount on the same tier as its parent: it needs no bind of its own.
    NestedBind,
    /// Placement puts a subtree of a mount on another tier, and no nested bind serves it yet.
    SubtreeNotSplit,
    /// The parent's directory holds data where a nested bind (of another directory) is mounted:
    /// the container does not see it.
    DataUnderNestedBind,
}

impl Check {
    /// Every check, in documentation order.
    pub const ALL: [Check; 20] = [
        Check::SymlinkedBind,
        Check::CircularSymlink,
        Check::CrossTierSymlink,
        Check::NamedVolume,
        Check::BindOutsideTiers,
        Check::WrongTier,
        Check::MissingBindSource,
        Check::RelativeBind,
        Check::VmShareMissing,
        Check::VmShareReadonly,
        Check::DbOnVmShare,
        Check::WatchedLibraryOnVmShare,
        Check::TierNotMounted,
        Check::StrandedData,
        Check::BindInPool,
        Check::SwarmUnpinned,
        Check::SwarmSharedBind,
        Check::NestedBind,
        Check::SubtreeNotSplit,
        Check::DataUnderNestedBind,
    ];

    /// Whether the check is about where data lives, so its finding carries the mount's [`Fix`].
    pub fn carries_fix(self) -> bool {
        matches!(
            self,
            Check::SymlinkedBind
                | Check::CircularSymlink
                | Check::CrossTierSymlink
                | Check::NamedVolume
                | Check::BindOutsideTiers
                | Check::WrongTier
        )
    }

    /// The stable id.
    pub fn id(self) -> &'static str {
        match self {
            Check::SymlinkedBind => "symlinked-bind",
            Check::CircularSymlink => "circular-symlink",
            Check::CrossTierSymlink => "cross-tier-symlink",
            Check::NamedVolume => "named-volume",
            Check::BindOutsideTiers => "bind-outside-tiers",
            Check::WrongTier => "wrong-tier",
            Check::MissingBindSource => "missing-bind-source",
            Check::RelativeBind => "relative-bind",
            Check::VmShareMissing => "vm-share-missing",
            Check::VmShareReadonly => "vm-share-readonly",
            Check::DbOnVmShare => "db-on-vm-share",
            Check::WatchedLibraryOnVmShare => "watched-library-on-vm-share",
            Check::TierNotMounted => "tier-not-mounted",
            Check::StrandedData => "stranded-data",
            Check::BindInPool => "bind-in-pool",
            Check::SwarmUnpinned => "swarm-unpinned",
            Check::SwarmSharedBind => "swarm-shared-bind",
            Check::NestedBind => "nested-bind",
            Check::SubtreeNotSplit => "subtree-not-split",
            Check::DataUnderNestedBind => "data-under-nested-bind",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// How much a finding matters. Warnings and errors make `audit` exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing to fix.
    Info,
    /// Data is not where it should be.
    Warning,
    /// The service will not see its data, or will fail.
    Error,
}

impl Severity {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One storage problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which check.
    pub check: Check,
    /// How much it matters.
    pub severity: Severity,
    /// The service.
    pub service: String,
    /// The mount.
    pub mount: MountId,
    /// What `rewrite` does about it (or why it does not), for checks about where data lives.
    pub fix: Option<Fix>,
    /// Where the mount is written.
    pub place: Place,
    /// The mount source (after interpolation).
    pub source: Option<String>,
    /// The mount target.
    pub target: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: String,
}
