//! `pools:` in tiers.yaml (issue 25): mergerfs pools over tier directories and their move rules.
//!
//! ```yaml
//! pools:
//!   media:
//!     mount: /mnt/pools/media
//!     branches: [fast:media, cold:media]   # hottest first
//!     create: epff                         # mergerfs category.create (default epff)
//!     options: [moveonenospc=true]
//!     move:
//!       - { name: old-originals, path: "library/**", older_than: 90d, to: cold }
//!       - { name: fast-full, above: 80%, until: 70%, from: fast, to: cold }
//! ```

use std::path::Path;

use serde::Deserialize;
use yamlpath::Component;

use super::error::{TiersError, TiersErrorKind};
use super::raw::OneOrMany;
use super::source::{Source, key, route};
use super::tier_dir::validate_tier_dir;
use crate::tiers::pool::{
    Branch, Clock, CreatePolicy, MoveRule, PolicySyntaxError, Pool, Watermark, parse_duration,
    parse_percent, parse_size,
};
use crate::tiers::{Globs, Tier};
use indexmap::IndexMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool {
    mount: String,
    branches: Vec<String>,
    #[serde(default)]
    create: Option<String>,
    #[serde(default)]
    options: Vec<String>,
    #[serde(default, rename = "move")]
    rules: Vec<RawMoveRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMoveRule {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    path: OneOrMany,
    #[serde(default)]
    older_than: Option<String>,
    #[serde(default)]
    age: Option<String>,
    #[serde(default)]
    larger_than: Option<String>,
    #[serde(default)]
    smaller_than: Option<String>,
    #[serde(default)]
    above: Option<String>,
    #[serde(default)]
    until: Option<String>,
}

/// What is wrong with a pool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolProblem {
    /// Fewer than two branches.
    #[error("has fewer than two branches")]
    TooFewBranches,
    /// Two branches on one tier.
    #[error("has two branches on tier `{0}`")]
    TierTwice(String),
    /// The mount point is relative.
    #[error("mount `{0}` is not an absolute path")]
    RelativeMount(String),
    /// The mount point lies inside a branch (or a branch inside it).
    #[error("mount `{0}` overlaps its branch `{1}`")]
    MountOverlapsBranch(String, String),
    /// An unknown create policy.
    #[error("`{0}` is no mergerfs create policy")]
    UnknownPolicy(String),
    /// A reserved option (tierctl sets it).
    #[error("option `{0}` is set by tierctl")]
    ReservedOption(String),
    /// A rule names a tier that is not a branch of the pool.
    #[error("move rule `{rule}` names tier `{tier}`, which is no branch of the pool")]
    NotABranch {
        /// The rule.
        rule: String,
        /// The tier.
        tier: String,
    },
    /// A rule that moves a branch onto itself, or to a hotter one.
    #[error("move rule `{0}` must move to a colder branch (listed after `from`)")]
    NotColder(String),
    /// `age:` other than `mtime`/`atime`.
    #[error("move rule `{0}`: `age` is `mtime` or `atime`")]
    BadClock(String),
    /// `above` without `until` or the reverse, or `until` >= `above`.
    #[error("move rule `{0}`: `above` and `until` go together, `until` below `above`")]
    BadWatermark(String),
    /// A duration, size or percentage that does not parse.
    #[error("move rule `{0}`: {1}")]
    Syntax(String, PolicySyntaxError),
}

impl PoolProblem {
    /// What to do.
    pub fn hint(&self) -> String {
        match self {
            PoolProblem::TooFewBranches | PoolProblem::TierTwice(_) => {
                "list one directory per tier, hottest first, e.g. `branches: [fast:media, cold:media]`".into()
            }
            PoolProblem::RelativeMount(_) | PoolProblem::MountOverlapsBranch(..) => {
                "mount the pool at its own absolute path outside every tier root, e.g. `/mnt/pools/media`".into()
            }
            PoolProblem::UnknownPolicy(_) => format!(
                "use one of {}",
                CreatePolicy::ALL.map(|p| p.name()).join(", ")
            ),
            PoolProblem::ReservedOption(_) => {
                "remove it: tierctl sets `fsname`, `category.create` (write `create:`), `cache.files`, `allow_other` and `dropcacheonclose` itself".into()
            }
            PoolProblem::NotABranch { .. } | PoolProblem::NotColder(_) => {
                "name two branch tiers of the pool, `from` hotter (listed earlier) than `to`; `from` defaults to the first branch, `to` to the last".into()
            }
            PoolProblem::BadClock(_) => "write `age: mtime` (default) or `age: atime`".into(),
            PoolProblem::BadWatermark(_) => {
                "write both, e.g. `above: 80%` and `until: 70%`".into()
            }
            PoolProblem::Syntax(..) => {
                "durations like `90d` (s, m, h, d, w, y), sizes like `512M` (K, M, G, T), percentages like `80%`".into()
            }
        }
    }
}

const RESERVED: [&str; 5] = [
    "fsname",
    "category.create",
    "cache.files",
    "allow_other",
    "dropcacheonclose",
];

pub(super) fn validate_pools(
    source: &Source,
    tiers: &IndexMap<String, Tier>,
    raw: IndexMap<String, RawPool>,
) -> Result<Vec<Pool>, TiersError> {
    let known: Vec<String> = tiers.keys().cloned().collect();
    raw.into_iter()
        .map(|(name, pool)| validate_pool(source, (tiers, &known), name, pool))
        .collect()
}

fn validate_pool(
    source: &Source,
    (tiers, known): (&IndexMap<String, Tier>, &[String]),
    name: String,
    raw: RawPool,
) -> Result<Pool, TiersError> {
    let at = |field: &'static str| route([key("pools"), key(&name), key(field)]);
    let fail = |route: Vec<Component>, problem: PoolProblem| {
        source.error_at_value(
            &route,
            TiersErrorKind::Pool {
                pool: name.clone(),
                problem,
            },
        )
    };
    let mut branches: Vec<Branch> = Vec::new();
    for (index, value) in raw.branches.iter().enumerate() {
        let here = route([
            key("pools"),
            key(&name),
            key("branches"),
            Component::from(index),
        ]);
        let (tier, sub) = validate_tier_dir(source, known, value, &here)?;
        if branches.iter().any(|b| b.tier == tier) {
            return Err(fail(here, PoolProblem::TierTwice(tier)));
        }
        let path = tiers
            .get(&tier)
            .map(|t| t.root.join(&sub))
            .unwrap_or_default();
        branches.push(Branch { tier, sub, path });
    }
    if branches.len() < 2 {
        return Err(fail(at("branches"), PoolProblem::TooFewBranches));
    }
    let mount = source.beside(&raw.mount);
    if !Path::new(&raw.mount).is_absolute() {
        return Err(fail(at("mount"), PoolProblem::RelativeMount(raw.mount)));
    }
    if let Some(branch) = branches
        .iter()
        .find(|b| mount.starts_with(&b.path) || b.path.starts_with(&mount))
    {
        return Err(fail(
            at("mount"),
            PoolProblem::MountOverlapsBranch(raw.mount, branch.path.display().to_string()),
        ));
    }
    let create = match &raw.create {
        None => CreatePolicy::Epff,
        Some(text) => text
            .parse()
            .map_err(|()| fail(at("create"), PoolProblem::UnknownPolicy(text.clone())))?,
    };
    if let Some(option) = raw.options.iter().find(|o| {
        let key = o.split_once('=').map_or(o.as_str(), |(k, _)| k);
        RESERVED.contains(&key) || key.starts_with("category.create")
    }) {
        return Err(fail(
            at("options"),
            PoolProblem::ReservedOption(option.clone()),
        ));
    }
    let mut pool = Pool {
        name: name.clone(),
        mount,
        branches,
        create,
        options: raw.options,
        rules: Vec::new(),
    };
    for (index, rule) in raw.rules.iter().enumerate() {
        let here = route([
            key("pools"),
            key(&name),
            key("move"),
            Component::from(index),
        ]);
        let rule = validate_rule(&pool, index, rule)
            .map_err(|problem| fail(here.clone(), problem))?
            .map_err(|error| source.error_at_value(&here, error.into()))?;
        pool.rules.push(rule);
    }
    Ok(pool)
}

type RuleResult = Result<Result<MoveRule, crate::tiers::GlobError>, PoolProblem>;

fn validate_rule(pool: &Pool, index: usize, raw: &RawMoveRule) -> RuleResult {
    let name = raw
        .name
        .clone()
        .unwrap_or_else(|| format!("rule-{}", index + 1));
    let first = &pool.branches[0].tier;
    let last = &pool.branches[pool.branches.len() - 1].tier;
    let from = raw.from.clone().unwrap_or_else(|| first.clone());
    let to = raw.to.clone().unwrap_or_else(|| last.clone());
    let position = |tier: &str| {
        pool.branches
            .iter()
            .position(|b| b.tier == tier)
            .ok_or_else(|| PoolProblem::NotABranch {
                rule: name.clone(),
                tier: tier.to_owned(),
            })
    };
    if position(&from)? >= position(&to)? {
        return Err(PoolProblem::NotColder(name));
    }
    let syntax = |e| PoolProblem::Syntax(name.clone(), e);
    let clock = match raw.age.as_deref() {
        None | Some("mtime") => Clock::Mtime,
        Some("atime") => Clock::Atime,
        Some(_) => return Err(PoolProblem::BadClock(name)),
    };
    let watermark = match (&raw.above, &raw.until) {
        (None, None) => None,
        (Some(above), Some(until)) => {
            let above = parse_percent(above).map_err(syntax)?;
            let until = parse_percent(until).map_err(syntax)?;
            if until >= above {
                return Err(PoolProblem::BadWatermark(name));
            }
            Some(Watermark { above, until })
        }
        _ => return Err(PoolProblem::BadWatermark(name)),
    };
    let size = |text: &Option<String>| text.as_deref().map(parse_size).transpose();
    let rule = MoveRule {
        older_than: raw
            .older_than
            .as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(syntax)?,
        larger_than: size(&raw.larger_than).map_err(syntax)?,
        smaller_than: size(&raw.smaller_than).map_err(syntax)?,
        name,
        from,
        to,
        paths: match Globs::new(&raw.path.globs) {
            Ok(globs) => globs,
            Err(error) => return Ok(Err(error)),
        },
        clock,
        watermark,
    };
    Ok(Ok(rule))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::tiers::pool::{Clock, CreatePolicy, Watermark};
    use crate::tiers::{TiersErrorKind, load};

    const TIERS: &str =
        "tiers:\n  fast: { root: /f }\n  warm: { root: /w }\n  cold: { root: /c }\n";

    fn with_pools(pools: &str) -> Result<crate::tiers::Tiers, crate::tiers::TiersError> {
        load(
            Path::new("/t/tiers.yaml"),
            &format!("{TIERS}pools:\n{pools}"),
        )
    }

    #[test]
    fn issue25_a_pool_has_branches_hottest_first_a_policy_and_rules() {
        let tiers = with_pools(
            r#"
  media:
    mount: /mnt/pools/media
    branches: [fast:media, cold:media]
    create: mfs
    options: [moveonenospc=true]
    move:
      - { name: old, path: "library/**", older_than: 90d, age: atime }
      - { above: 80%, until: 70%, from: fast, to: cold, larger_than: 1M }
"#,
        )
        .unwrap();
        let pool = tiers.pool("media").unwrap();
        assert_eq!(pool.mount, PathBuf::from("/mnt/pools/media"));
        let dirs: Vec<_> = pool.branches.iter().map(|b| b.path.clone()).collect();
        assert_eq!(dirs, [PathBuf::from("/f/media"), PathBuf::from("/c/media")]);
        assert_eq!(pool.create, CreatePolicy::Mfs);
        assert_eq!(pool.rules.len(), 2);
        let (old, full) = (&pool.rules[0], &pool.rules[1]);
        assert_eq!((old.from.as_str(), old.to.as_str()), ("fast", "cold"));
        assert_eq!(old.older_than, Some(90 * 86_400));
        assert_eq!(old.clock, Clock::Atime);
        assert!(old.paths.is_match("library/2020/a.jpg"));
        assert_eq!(full.name, "rule-2");
        assert_eq!(
            full.watermark,
            Some(Watermark {
                above: 80,
                until: 70
            })
        );
        assert_eq!(full.larger_than, Some(1 << 20));
    }

    fn problem(pools: &str) -> String {
        let error = with_pools(pools).expect_err("refused");
        match &error.kind {
            TiersErrorKind::Pool { .. } | TiersErrorKind::UnknownTier { .. } => {}
            other => panic!("not a pool error: {other:?}"),
        }
        format!("{error} / {}", error.hint())
    }

    #[test]
    fn issue25_a_bad_pool_is_refused_at_its_node_with_a_hint() {
        let cases = [
            (
                "  p: { mount: /m, branches: [fast:x] }\n",
                "fewer than two branches",
            ),
            (
                "  p: { mount: /m, branches: [fast:x, fast:y] }\n",
                "two branches on tier `fast`",
            ),
            (
                "  p: { mount: m, branches: [fast:x, cold:x] }\n",
                "is not an absolute path",
            ),
            (
                "  p: { mount: /f/x/y, branches: [fast:x, cold:x] }\n",
                "overlaps its branch",
            ),
            (
                "  p: { mount: /m, branches: [fast:x, cold:x], create: fastest }\n",
                "no mergerfs create policy",
            ),
            (
                "  p: { mount: /m, branches: [fast:x, cold:x], options: [fsname=x] }\n",
                "is set by tierctl",
            ),
            (
                "  p: { mount: /m, branches: [fast:x, cold:x], move: [{ from: cold, to: fast }] }\n",
                "colder branch",
            ),
            (
                "  p: { mount: /m, branches: [fast:x, cold:x], move: [{ to: warm }] }\n",
                "no branch of the pool",
            ),
            (
                "  p: { mount: /m, branches: [fast:x, cold:x], move: [{ older_than: 90 }] }\n",
                "is no duration",
            ),
            (
                "  p: { mount: /m, branches: [fast:x, cold:x], move: [{ above: 70%, until: 80% }] }\n",
                "`until` below `above`",
            ),
            (
                "  p: { mount: /m, branches: [fast:x, cold:x], move: [{ age: ctime }] }\n",
                "`age` is `mtime` or `atime`",
            ),
            (
                "  p: { mount: /m, branches: [fast:x, nowhere:x] }\n",
                "unknown tier `nowhere`",
            ),
        ];
        for (pools, expected) in cases {
            let text = problem(pools);
            assert!(text.contains(expected), "{pools}: {text}");
            assert!(text.starts_with("/t/tiers.yaml:"), "{text}");
        }
    }
}
