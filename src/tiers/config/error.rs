//! What is wrong with a `tiers.yaml`: the error, located at its node, and its hint.

use std::path::PathBuf;

use super::raw::TOP_LEVEL_KEYS;
use crate::tiers::{GlobError, PathTemplateError, SubtreeError};

/// Two tier roots that overlap by their real paths (see [`TiersErrorKind::RealRootOverlap`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealOverlap {
    /// The later tier.
    pub tier: String,
    /// Its root as written.
    pub root: String,
    /// Its real path.
    pub real: String,
    /// The earlier tier.
    pub other: String,
    /// That tier's real root.
    pub other_real: String,
}

/// Two tier roots that overlap because two real paths are one directory (see
/// [`TiersErrorKind::SameDirectoryOverlap`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirOverlap {
    /// The later tier.
    pub tier: String,
    /// Its root as written.
    pub root: String,
    /// The earlier tier.
    pub other: String,
    /// Its root as written.
    pub other_root: String,
    /// The directory on the way to one root...
    pub alias: String,
    /// ...that is the other root (same device and inode).
    pub same_as: String,
}

/// A `tiers.yaml` that could not be loaded, with the position of the node at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {kind}", file.display())]
pub struct TiersError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub kind: TiersErrorKind,
}

impl TiersError {
    /// What the user should do about this error.
    pub fn hint(&self) -> String {
        self.kind.hint()
    }
}

/// What is wrong with a `tiers.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TiersErrorKind {
    /// The text is not YAML, or does not have the expected shape.
    #[error("invalid yaml: {message}")]
    Yaml {
        /// The parser's message, without its position.
        message: String,
    },
    /// A top-level key other than `tiers`, `placement`, `access_points`, `layout`.
    #[error("unknown top-level key `{key}`")]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// `tiers:` is missing or empty.
    #[error("no tiers defined")]
    NoTiers,
    /// A tier name that is empty or holds `:`, `/` or whitespace.
    #[error("invalid tier name `{tier}`")]
    BadTierName {
        /// The name.
        tier: String,
    },
    /// A tier root that is not an absolute path.
    #[error("root `{root}` of tier `{tier}` is not an absolute path")]
    RelativeRoot {
        /// The tier.
        tier: String,
        /// The root as written.
        root: String,
    },
    /// A tier root with a `..` component.
    #[error("root `{root}` of tier `{tier}` contains `..`")]
    RootHasParent {
        /// The tier.
        tier: String,
        /// The root as written.
        root: String,
    },
    /// Two tiers with the same root.
    #[error("tiers `{tier}` and `{other}` have the same root `{root}`")]
    SameRoot {
        /// The later tier.
        tier: String,
        /// The earlier tier.
        other: String,
        /// The shared root.
        root: String,
    },
    /// One tier root inside another.
    #[error("root `{inner_root}` of tier `{inner}` lies inside the root of tier `{outer}`")]
    NestedRoot {
        /// The tier whose root lies inside the other's.
        inner: String,
        /// That tier's root.
        inner_root: String,
        /// The tier whose root holds the other's.
        outer: String,
    },
    /// Two tier roots that overlap once symlinks are followed.
    #[error(
        "root `{}` of tier `{}` is `{}` by its real path, which overlaps the root of tier `{}` (`{}`)",
        .0.root, .0.tier, .0.real, .0.other, .0.other_real
    )]
    RealRootOverlap(Box<RealOverlap>),
    /// Two tier roots that overlap because two real paths are the same directory (a bind mount).
    #[error(
        "roots of tier `{}` (`{}`) and tier `{}` (`{}`) overlap: `{}` is the same directory as `{}` (device and inode), a bind mount",
        .0.tier, .0.root, .0.other, .0.other_root, .0.alias, .0.same_as
    )]
    SameDirectoryOverlap(Box<DirOverlap>),
    /// A rule, access point or layout entry names a tier that is not defined.
    #[error("unknown tier `{tier}` (known tiers: {})", backticked(known))]
    UnknownTier {
        /// The name used.
        tier: String,
        /// The tiers the file defines.
        known: Vec<String>,
    },
    /// A context's tier map does not name the same tiers as the main `tiers:` map (placement,
    /// access points and layout refer to tiers by name).
    #[error(
        "the tiers of context `{context}` differ from `tiers:`: missing {}, extra {}",
        names_or_none(missing),
        names_or_none(extra)
    )]
    ContextTiersDiffer {
        /// The docker context.
        context: String,
        /// Tiers of the main map the context lacks.
        missing: Vec<String>,
        /// Tiers the context has that the main map lacks.
        extra: Vec<String>,
    },
    /// A context entry without a `tiers:` map.
    #[error("context `{context}` has no `tiers:` map")]
    ContextWithoutTiers {
        /// The docker context.
        context: String,
    },
    /// A bad path template in a placement rule.
    #[error(transparent)]
    Template(#[from] PathTemplateError),
    /// A bad `subtrees:` entry of a placement rule.
    #[error(transparent)]
    Subtree(#[from] SubtreeError),
    /// A glob in a `match:` that does not compile.
    #[error(transparent)]
    Glob(#[from] GlobError),
    /// An access point that is not an absolute path.
    #[error("access point `{path}` is not an absolute path")]
    RelativeAccessPoint {
        /// The path as written.
        path: String,
    },
    /// A `tier:sub` value whose sub-path is absolute or has `..`.
    #[error("tier directory `{value}` must be `tier:relative/path` without `..`")]
    BadTierDir {
        /// The value as written.
        value: String,
    },
    /// An owner that is not `uid:gid`.
    #[error("invalid owner `{owner}`")]
    BadOwner {
        /// The owner as written.
        owner: String,
    },
    /// A pool (`pools:`) that cannot be mounted or moved by as written.
    #[error("pool `{pool}` {problem}")]
    Pool {
        /// The pool.
        pool: String,
        /// What is wrong.
        problem: super::pools::PoolProblem,
    },
    /// A mode that is not an octal number up to `7777`.
    #[error("invalid mode `{mode}`")]
    BadMode {
        /// The mode as written.
        mode: String,
    },
}

impl TiersErrorKind {
    /// What the user should do about this error.
    pub fn hint(&self) -> String {
        match self {
            Self::Yaml { .. } => "fix the YAML at this position; see the `tiers.yaml` example in the documentation".to_string(),
            Self::UnknownKey { .. } => format!(
                "remove the key or rename it; allowed top-level keys are {}",
                backticked(&TOP_LEVEL_KEYS)
            ),
            Self::NoTiers => {
                "define at least one tier, e.g. `tiers: { fast: { root: /Volumes/faststore } }`".to_string()
            }
            Self::BadTierName { .. } => {
                "use a short name without `:`, `/` or spaces, e.g. `fast`".to_string()
            }
            Self::RelativeRoot { .. } | Self::RootHasParent { .. } => {
                "write the root as an absolute path without `..`, e.g. `/Volumes/faststore`".to_string()
            }
            Self::SameRoot { .. } | Self::NestedRoot { .. } => {
                "give each tier its own directory; no root may lie inside another".to_string()
            }
            Self::SameDirectoryOverlap(_) => {
                "give each tier its own directory, on its own filesystem or outside the other's bind mounts; no root may lie inside another".to_string()
            }
            Self::RealRootOverlap(_) => {
                "give each tier its own directory, written as its real path (no symlink in it); no root may lie inside another".to_string()
            }
            Self::UnknownTier { tier, known } => format!(
                "use one of {} or define `{tier}` under `tiers:`",
                backticked(known)
            ),
            Self::ContextTiersDiffer { context, .. } => format!(
                "give context `{context}` a root for every tier of `tiers:` and no other tier, e.g. `contexts: {{ {context}: {{ tiers: {{ fast: {{ root: /mnt/fast }} }} }} }}`"
            ),
            Self::ContextWithoutTiers { context } => format!(
                "add the tier roots on that host, e.g. `contexts: {{ {context}: {{ tiers: {{ fast: {{ root: /mnt/fast }} }} }} }}`, or remove the entry"
            ),
            Self::Template(error) => error.hint(),
            Self::Subtree(error) => error.hint(),
            Self::Glob(_) => {
                "fix the pattern: `*` matches any text (including `/`), `?` one character, `[abc]` a set".to_string()
            }
            Self::RelativeAccessPoint { .. } => {
                "write the access point as an absolute path, e.g. `/Volumes/Photos`".to_string()
            }
            Self::BadTierDir { .. } => {
                "write a tier name, a colon and a path below its root, e.g. `fast:photos`".to_string()
            }
            Self::BadOwner { .. } => {
                "write the owner as numeric `uid:gid` in quotes (`\"999:999\"`) or as names (`postgres`, `immich:media`)".to_string()
            }
            Self::Pool { problem, .. } => problem.hint(),
            Self::BadMode { .. } => {
                "write the mode as an octal string in quotes, e.g. `\"0755\"`".to_string()
            }
        }
    }
}

/// `a`, `b` -> "`a`, `b`"; none -> "none".
fn names_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        backticked(names)
    }
}

/// `a`, `b` -> "`a`, `b`".
fn backticked<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|name| format!("`{}`", name.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}
