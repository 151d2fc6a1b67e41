//! `tiers link`: what happens to each access point.

use std::path::PathBuf;

use super::Node;
use crate::tiers::Tiers;

/// What `tiers link` does about one access point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkAction {
    /// Create the symlink (and missing parent directories).
    Create {
        /// The access point.
        path: PathBuf,
        /// The tier directory.
        target: PathBuf,
    },
    /// Replace what is there (a wrong symlink or an empty directory) with the symlink.
    Replace {
        /// The access point.
        path: PathBuf,
        /// The tier directory.
        target: PathBuf,
        /// What is replaced.
        old: String,
    },
    /// Already a single symlink to the tier directory.
    Keep {
        /// The access point.
        path: PathBuf,
        /// The tier directory.
        target: PathBuf,
    },
    /// Left alone.
    Refuse {
        /// The access point.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// `tiers link`: what to do about each access point, given what is at it and at its target
/// (`observed`, in file order: the access point's node and the target's node).
pub fn link_plan(tiers: &Tiers, observed: &[(Node, Node)]) -> Vec<LinkAction> {
    tiers
        .access_points
        .iter()
        .zip(observed)
        .map(|(point, (node, target_node))| {
            let path = point.path.clone();
            let Some(target) = tiers.tier_path(&point.tier, &point.sub) else {
                return LinkAction::Refuse {
                    path,
                    reason: format!("unknown tier {}", point.tier),
                };
            };
            if !matches!(target_node, Node::Dir(_)) {
                return LinkAction::Refuse {
                    path,
                    reason: format!(
                        "the target {} is not a directory; run `tierctl tiers init` first",
                        target.display()
                    ),
                };
            }
            match node {
                Node::Missing => LinkAction::Create { path, target },
                Node::Symlink { target: current } if *current == target => {
                    LinkAction::Keep { path, target }
                }
                Node::Symlink { target: current } => LinkAction::Replace {
                    path,
                    target,
                    old: format!("symlink to {}", current.display()),
                },
                Node::Dir(meta) if !meta.holds_data => LinkAction::Replace {
                    path,
                    target,
                    old: "empty directory".to_string(),
                },
                Node::Dir(_) => LinkAction::Refuse {
                    path,
                    reason: "it is a real directory holding data; move the data to the tier directory first".to_string(),
                },
                Node::Other => LinkAction::Refuse {
                    path,
                    reason: "a file is in the way".to_string(),
                },
                Node::Unreadable { message } => LinkAction::Refuse {
                    path,
                    reason: message.clone(),
                },
            }
        })
        .collect()
}
