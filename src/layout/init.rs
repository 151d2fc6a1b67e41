//! `tiers init`: what happens to each tier root's marker and each wanted directory.

use std::path::PathBuf;

use super::{Node, RootFacts, WantedDir};

/// What `tiers init` does about one tier root's identity marker (`.tierctl-tier`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerAction {
    /// The tier.
    pub tier: String,
    /// Its root.
    pub root: PathBuf,
    /// What happens to the marker.
    pub kind: MarkerKind,
}

/// What happens to one tier root's marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerKind {
    /// None is there: write one.
    Write,
    /// One is there already: keep it.
    Keep,
    /// None is written: the root is missing or is not what tiers.yaml says (a `mount: true`
    /// root that is not a mount point would mark the system disk).
    HeldBack {
        /// Why, and what to do.
        reason: String,
    },
}

impl MarkerAction {
    /// Whether the marker was (or would be) left unwritten.
    pub fn held_back(&self) -> bool {
        matches!(self.kind, MarkerKind::HeldBack { .. })
    }
}

/// `tiers init`'s marker decision for one tier, from what is at its root. `will_exist`: the
/// root is not there yet but the directory actions create it (a dry run).
pub fn marker_plan(
    tier: &crate::tiers::Tier,
    seen: &crate::facts::TierPresence,
    will_exist: bool,
) -> MarkerAction {
    use crate::facts::Marker;
    let held_back = |reason: String| MarkerKind::HeldBack { reason };
    let kind = if tier.mount && seen.mount_point != Some(true) {
        held_back(format!(
            "the root is not a mount point (tiers.yaml says `mount: true`): {}",
            crate::audit::absence_hint(tier)
        ))
    } else if !seen.root_is_dir && !will_exist {
        held_back("the root is not a directory".into())
    } else {
        match &seen.marker {
            Marker::Present { .. } => MarkerKind::Keep,
            Marker::Missing => MarkerKind::Write,
            Marker::Unreadable { message } => held_back(format!(
                "a marker file is there but cannot be used ({message}): move it away, then run `tierctl tiers init` again"
            )),
        }
    };
    MarkerAction {
        tier: tier.name.clone(),
        root: tier.root.clone(),
        kind,
    }
}

/// What `tiers init` does about one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirAction {
    /// Create it (and missing parents), then set owner and mode when declared.
    Create {
        /// The directory.
        path: PathBuf,
        /// Owner to set.
        owner: Option<(u32, u32)>,
        /// Mode to set.
        mode: Option<u32>,
    },
    /// It exists; set owner and/or mode.
    Fix {
        /// The directory.
        path: PathBuf,
        /// `(from, to)` owner, when it changes.
        owner: Option<((u32, u32), (u32, u32))>,
        /// `(from, to)` mode, when it changes.
        mode: Option<(u32, u32)>,
    },
    /// It exists as declared.
    Keep {
        /// The directory.
        path: PathBuf,
    },
    /// It exists with another owner or mode and holds data: left alone.
    Leave {
        /// The directory.
        path: PathBuf,
        /// What differs.
        differs: String,
    },
    /// It cannot be made: the tier root is missing, or a file or symlink is in the way.
    Blocked {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl DirAction {
    /// Whether the action changes the disk.
    pub fn changes(&self) -> bool {
        matches!(self, DirAction::Create { .. } | DirAction::Fix { .. })
    }
}

/// `tiers init`: what to do about each wanted directory, given what is at it (`dirs`, in
/// [`wanted_dirs`] order, with owners resolved) and whether each root exists. Never touches a
/// directory holding data unless `fix_permissions`.
pub fn init_plan(
    dirs: &[(WantedDir, Node)],
    roots: &[RootFacts],
    fix_permissions: bool,
) -> Vec<DirAction> {
    dirs.iter()
        .map(|(dir, node)| {
            let root_ok = roots
                .iter()
                .find(|r| r.tier == dir.tier)
                .is_some_and(|r| matches!(r.node, Node::Dir(_)));
            if !root_ok {
                return DirAction::Blocked {
                    path: dir.path.clone(),
                    reason: format!(
                        "the root of tier {} is missing; mount it first (a directory made now would be on the wrong disk)",
                        dir.tier
                    ),
                };
            }
            let unmounted = roots.iter().any(|r| r.tier == dir.tier && r.unmounted);
            if unmounted && matches!(node, Node::Missing) {
                return DirAction::Blocked {
                    path: dir.path.clone(),
                    reason: format!(
                        "the root of tier {} is not a mount point (tiers.yaml says `mount: true`); mount its disk first (a directory made now would be on the system disk)",
                        dir.tier
                    ),
                };
            }
            init_dir(dir, node, fix_permissions)
        })
        .collect()
}

fn init_dir(dir: &WantedDir, node: &Node, fix_permissions: bool) -> DirAction {
    let path = dir.path.clone();
    match node {
        Node::Missing => DirAction::Create {
            path,
            owner: dir.owner,
            mode: dir.mode,
        },
        Node::Symlink { target } => DirAction::Blocked {
            path,
            reason: format!("it is a symlink to {}", target.display()),
        },
        Node::Other => DirAction::Blocked {
            path,
            reason: "a file is in the way".to_string(),
        },
        Node::Unreadable { message } => DirAction::Blocked {
            path,
            reason: message.clone(),
        },
        Node::Dir(meta) => {
            let owner = dir
                .owner
                .filter(|&o| o != (meta.uid, meta.gid))
                .map(|to| ((meta.uid, meta.gid), to));
            let mode = dir
                .mode
                .filter(|&m| m != meta.mode)
                .map(|to| (meta.mode, to));
            if owner.is_none() && mode.is_none() {
                return DirAction::Keep { path };
            }
            if meta.holds_data && !fix_permissions {
                let mut differs = Vec::new();
                if let Some(((fu, fg), (tu, tg))) = owner {
                    differs.push(format!("owner {fu}:{fg}, declared {tu}:{tg}"));
                }
                if let Some((from, to)) = mode {
                    differs.push(format!("mode {from:04o}, declared {to:04o}"));
                }
                return DirAction::Leave {
                    path,
                    differs: differs.join("; "),
                };
            }
            DirAction::Fix { path, owner, mode }
        }
    }
}
