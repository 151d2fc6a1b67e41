//! Subtree placement: parts of one mount on other tiers (issue 25 item 1).
//!
//! A placement rule may name directories below the mount it places, each with its own tier
//! (`subtrees: { thumbs: fast, encoded-video: { tier: fast, path: ... } }`). Such a subtree is
//! served by a nested bind mount: the parent's target joined with the subtree's path
//! (`/data/thumbs`), whose source is on the subtree's tier. A mount whose target is a rule's
//! target joined with one of its subtrees is placed by that subtree.

use std::path::{Component, Path, PathBuf};

use super::Tiers;
use super::placement::{Placement, Subject};
use super::template::Template;

/// One `subtrees:` entry of a placement rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Subtree {
    /// The directory below the mount's target, relative, without `.` or `..` (`thumbs`,
    /// `library/admin`).
    pub sub: PathBuf,
    /// The tier it goes on (another tier than its rule's).
    pub tier: String,
    /// Its directory below the tier root; `None`: the rule's path joined with `sub`.
    pub path: Option<Template>,
}

/// Why a `subtrees:` key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubtreeError {
    /// Not a plain relative path (empty, absolute, `.` or `..`).
    #[error(
        "subtree `{sub}` is not a relative path below the mount (no `/` first, no `.` or `..`)"
    )]
    NotRelative {
        /// The key as written.
        sub: String,
    },
    /// One subtree inside another of the same rule.
    #[error("subtree `{inner}` lies inside subtree `{outer}` of the same rule")]
    Nested {
        /// The deeper one.
        inner: String,
        /// The one that holds it.
        outer: String,
    },
    /// A subtree on the rule's own tier needs no bind of its own.
    #[error("subtree `{sub}` is on its rule's own tier `{tier}`")]
    SameTier {
        /// The key as written.
        sub: String,
        /// The tier.
        tier: String,
    },
}

impl SubtreeError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            Self::NotRelative { .. } => {
                "write the directory below the mount's target, e.g. `thumbs` or `library/admin`"
                    .to_owned()
            }
            Self::Nested { .. } => {
                "give each subtree its own directory; remove the inner one".to_owned()
            }
            Self::SameTier { .. } => {
                "remove the entry (the parent's bind already holds it there), or name another tier"
                    .to_owned()
            }
        }
    }
}

/// `sub` as a clean relative path, or `None` when it is empty, absolute or has `.`/`..`.
pub fn clean_sub(sub: &str) -> Option<PathBuf> {
    let path = Path::new(sub.trim_end_matches('/'));
    let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && path.components().next().is_some()).then(|| path.to_path_buf())
}

/// When `target` is `parent/sub` for one of `subtrees`: the parent target and that subtree.
pub fn split<'s>(target: &str, subtrees: &'s [Subtree]) -> Option<(String, &'s Subtree)> {
    let target = crate::compose::target::clean(target);
    subtrees.iter().find_map(|subtree| {
        let tail = format!("/{}", subtree.sub.display());
        let parent = target.strip_suffix(&tail)?;
        let parent = if parent.is_empty() { "/" } else { parent };
        Some((parent.to_owned(), subtree))
    })
}

/// The target of a subtree's nested bind: the parent's target joined with `sub`.
pub fn child_target(parent_target: &str, sub: &Path) -> String {
    let parent = crate::compose::target::clean(parent_target);
    format!("{}/{}", parent.trim_end_matches('/'), sub.display())
}

/// The directory of `subtree` below its tier root: its own template rendered for the parent
/// mount, or the rule's path for the parent joined with `sub`.
pub fn rendered(subtree: &Subtree, rule_path: &Template, parent: &Subject) -> PathBuf {
    match &subtree.path {
        Some(path) => path.render(parent),
        None => rule_path.render(parent).join(&subtree.sub),
    }
}

/// A subtree's placement, for the mount it lies below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtreePlacement {
    /// The directory below the mount (`thumbs`).
    pub sub: PathBuf,
    /// The nested bind's target (`/data/thumbs`).
    pub target: String,
    /// Where it belongs.
    pub placement: Placement,
}

impl Tiers {
    /// The placement of `subject` as subtree of rule `rule_index`: when its target is
    /// `parent/sub` for a `subtrees:` entry of that rule and the rule matches the parent mount.
    pub fn place_subtree(&self, rule_index: usize, subject: &Subject) -> Option<Placement> {
        let rule = self.placement.get(rule_index)?;
        let (parent_target, subtree) = split(subject.target, &rule.subtrees)?;
        let parent = Subject {
            target: &parent_target,
            volume: None,
            ..*subject
        };
        if !rule.matcher.matches(&parent) {
            return None;
        }
        self.subtree_placement(rule_index, subtree, &parent)
    }

    /// The subtrees placement puts below `subject` on other tiers: those of the rule that
    /// places it (directly, not as a subtree itself), in the rule's order.
    pub fn subtrees_of(&self, subject: &Subject) -> Vec<SubtreePlacement> {
        let Some(placement) = self.place(subject).filter(|p| p.subtree.is_none()) else {
            return Vec::new();
        };
        let rule = &self.placement[placement.rule_index];
        rule.subtrees
            .iter()
            .filter_map(|subtree| {
                Some(SubtreePlacement {
                    sub: subtree.sub.clone(),
                    target: child_target(subject.target, &subtree.sub),
                    placement: self.subtree_placement(placement.rule_index, subtree, subject)?,
                })
            })
            .collect()
    }

    fn subtree_placement(
        &self,
        rule_index: usize,
        subtree: &Subtree,
        parent: &Subject,
    ) -> Option<Placement> {
        let rule = self.placement.get(rule_index)?;
        let tier = self.tiers.get(&subtree.tier)?;
        Some(Placement {
            rule_index,
            tier: tier.name.clone(),
            path: tier.root.join(rendered(subtree, &rule.path, parent)),
            rule_is_default: self.placement_is_default,
            subtree: Some(subtree.sub.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subtree(sub: &str, tier: &str) -> Subtree {
        Subtree {
            sub: PathBuf::from(sub),
            tier: tier.to_owned(),
            path: None,
        }
    }

    #[test]
    fn subs_are_plain_relative_paths() {
        assert_eq!(clean_sub("thumbs"), Some(PathBuf::from("thumbs")));
        assert_eq!(
            clean_sub("library/admin/"),
            Some(PathBuf::from("library/admin"))
        );
        for bad in ["", "/thumbs", "../x", "a/../b", "./a", "."] {
            assert_eq!(clean_sub(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_target_splits_into_its_parent_and_subtree() {
        let subtrees = [subtree("thumbs", "fast"), subtree("encoded-video", "fast")];
        let (parent, found) = split("/data/encoded-video/", &subtrees).unwrap();
        assert_eq!(parent, "/data");
        assert_eq!(found.sub, Path::new("encoded-video"));
        assert_eq!(split("/data/thumbsX", &subtrees), None);
        assert_eq!(split("/data", &subtrees), None);
        assert_eq!(split("/thumbs", &subtrees).unwrap().0, "/");
        assert_eq!(child_target("/data/", Path::new("thumbs")), "/data/thumbs");
        assert_eq!(child_target("/", Path::new("thumbs")), "/thumbs");
    }
}
