//! The user's storage map, `tiers.yaml`: tier roots, placement rules with
//! path templates, access points and the directory layout.
//!
//! Pure: [`load`] takes the file's path (for messages) and its text.

mod config;
mod placement;
mod template;

use std::path::{Component, Path, PathBuf};

use indexmap::IndexMap;

pub use config::{TiersError, TiersErrorKind, load};
pub use placement::{
    DEFAULT_RULES, DefaultRule, GlobError, Globs, Match, Placement, PlacementRule, Subject,
    default_rules,
};
pub use template::{Template, TemplateError, Values, Var, safe_component};

/// A validated `tiers.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tiers {
    /// The file it was loaded from (for messages).
    pub file: PathBuf,
    /// The tiers by name, in file order. Roots are absolute and do not overlap.
    pub tiers: IndexMap<String, Tier>,
    /// Placement rules, first match wins: the file's, or the built-in defaults.
    pub placement: Vec<PlacementRule>,
    /// Whether `placement` holds the built-in defaults (the file has no rules).
    pub placement_is_default: bool,
    /// Logical paths that stand for tier directories (`/Volumes/Photos: fast:photos`).
    pub access_points: Vec<AccessPoint>,
    /// Directories `tiers init` creates, with owner and mode.
    pub layout: Vec<LayoutEntry>,
}

/// One storage tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// The tier name (`fast`).
    pub name: String,
    /// The absolute root directory (`/Volumes/faststore`).
    pub root: PathBuf,
    /// Free-form kind (`nvme`, `ssd`, `hdd`), if given.
    pub kind: Option<String>,
}

/// A logical path that stands for a directory on a tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPoint {
    /// The absolute logical path (`/Volumes/Photos`).
    pub path: PathBuf,
    /// The tier name (`fast`).
    pub tier: String,
    /// The directory below the tier root (`photos`); empty for the root itself.
    pub sub: PathBuf,
}

/// A directory on a tier that `tiers init` creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutEntry {
    /// The tier name.
    pub tier: String,
    /// The directory below the tier root; empty for the root itself.
    pub sub: PathBuf,
    /// Numeric `(uid, gid)`, from `"uid:gid"`.
    pub owner: Option<(u32, u32)>,
    /// Permission bits, from an octal string such as `"0755"`.
    pub mode: Option<u32>,
}

impl Tiers {
    /// Where `subject` belongs: the first rule that matches it, or `None`
    /// when no rule does (possible only with the file's own rules).
    pub fn place(&self, subject: &Subject) -> Option<Placement> {
        self.placement
            .iter()
            .enumerate()
            .find(|(_, rule)| rule.matcher.matches(subject))
            .and_then(|(rule_index, rule)| {
                let tier = self.tiers.get(&rule.tier)?;
                Some(Placement {
                    rule_index,
                    tier: tier.name.clone(),
                    path: tier.root.join(rule.path.render(&subject.values())),
                    rule_is_default: self.placement_is_default,
                })
            })
    }

    /// The tier whose root holds `real_path` (equal to it or an ancestor of
    /// it, compared component by component: `/Volumes/fast` does not hold
    /// `/Volumes/faststore`). `real_path` should already be free of symlinks.
    pub fn tier_of(&self, real_path: &Path) -> Option<&Tier> {
        self.tiers
            .values()
            .find(|tier| real_path.starts_with(&tier.root))
    }

    /// The directory `sub` on tier `tier`; `None` when the tier is unknown or
    /// `sub` is absolute or has a `..` component.
    pub fn tier_path(&self, tier: &str, sub: &Path) -> Option<PathBuf> {
        let tier = self.tiers.get(tier)?;
        is_plain_relative(sub).then(|| tier.root.join(sub))
    }

    /// The access point that holds `path` (equal to it or an ancestor of it,
    /// component-wise); the longest one when several do.
    pub fn access_point_for(&self, path: &Path) -> Option<&AccessPoint> {
        self.access_points
            .iter()
            .filter(|point| path.starts_with(&point.path))
            .max_by_key(|point| point.path.components().count())
    }

    /// The tier path `path` stands for when it lies under an access point:
    /// `/Volumes/Photos/2024` -> `/Volumes/faststore/photos/2024`.
    pub fn resolve_access_point(&self, path: &Path) -> Option<PathBuf> {
        let point = self.access_point_for(path)?;
        let rest = path.strip_prefix(&point.path).ok()?;
        let base = self.tier_path(&point.tier, &point.sub)?;
        Some(if rest.as_os_str().is_empty() {
            base
        } else {
            base.join(rest)
        })
    }
}

/// Whether `path` is relative and has no `..` component (it may be empty).
fn is_plain_relative(path: &Path) -> bool {
    path.components()
        .all(|component| matches!(component, Component::Normal(_) | Component::CurDir))
}
