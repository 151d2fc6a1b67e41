//! A placement rule's `subtrees:`: each key a directory below the mount, each value a tier
//! (`thumbs: fast`) or a tier and path (`thumbs: { tier: fast, path: "thumbs/{project}" }`).

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use yamlpath::Component;

use super::error::TiersError;
use super::raw::UniqueMap;
use super::source::{Source, key, route};
use super::tier_dir::check_tier;
use crate::tiers::subtree::clean_sub;
use crate::tiers::{Subtree, SubtreeError, Template};

/// One `subtrees:` value as written.
#[derive(Debug)]
pub(super) struct RawSubtree {
    tier: String,
    path: Option<String>,
    /// Written as the tier name alone (changes the node's route).
    short: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LongSubtree {
    tier: String,
    #[serde(default)]
    path: Option<String>,
}

impl<'de> Deserialize<'de> for RawSubtree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SubtreeVisitor;

        impl<'de> Visitor<'de> for SubtreeVisitor {
            type Value = RawSubtree;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tier name or `{ tier: ..., path: ... }`")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<RawSubtree, E> {
                Ok(RawSubtree {
                    tier: value.to_owned(),
                    path: None,
                    short: true,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawSubtree, A::Error> {
                let long = LongSubtree::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawSubtree {
                    tier: long.tier,
                    path: long.path,
                    short: false,
                })
            }
        }

        deserializer.deserialize_any(SubtreeVisitor)
    }
}

/// Validates the `subtrees:` of rule `index` (whose tier is `rule_tier`), each error at its node.
pub(super) fn validate_subtrees(
    source: &Source,
    known: &[String],
    index: usize,
    rule_tier: &str,
    raw: &UniqueMap<RawSubtree>,
) -> Result<Vec<Subtree>, TiersError> {
    let mut subtrees: Vec<Subtree> = Vec::new();
    for (written, entry) in &raw.0 {
        let at = route([
            key("placement"),
            Component::from(index),
            key("subtrees"),
            key(written),
        ]);
        let error = |kind: SubtreeError| source.error_at(&at, kind.into());
        let sub = clean_sub(written).ok_or_else(|| {
            error(SubtreeError::NotRelative {
                sub: written.clone(),
            })
        })?;
        let tier_at = if entry.short {
            at.clone()
        } else {
            let mut tier_at = at.clone();
            tier_at.push(key("tier"));
            tier_at
        };
        check_tier(source, known, &entry.tier, &tier_at)?;
        if entry.tier == rule_tier {
            return Err(error(SubtreeError::SameTier {
                sub: written.clone(),
                tier: entry.tier.clone(),
            }));
        }
        if let Some(other) = subtrees
            .iter()
            .find(|o| sub.starts_with(&o.sub) || o.sub.starts_with(&sub))
        {
            let (inner, outer) = if sub.starts_with(&other.sub) {
                (written.clone(), other.sub.display().to_string())
            } else {
                (other.sub.display().to_string(), written.clone())
            };
            return Err(error(SubtreeError::Nested { inner, outer }));
        }
        let path = match &entry.path {
            None => None,
            Some(path) => {
                let mut path_at = at.clone();
                path_at.push(key("path"));
                Some(Template::parse(path).map_err(|e| source.error_at_value(&path_at, e.into()))?)
            }
        };
        subtrees.push(Subtree {
            sub,
            tier: entry.tier.clone(),
            path,
        });
    }
    Ok(subtrees)
}
