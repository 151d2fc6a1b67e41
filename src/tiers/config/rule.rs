//! A placement rule: its `match:` globs, tier and path template.

use yamlpath::Component;

use super::error::TiersError;
use super::raw::{OneOrMany, RawRule};
use super::source::{Source, key, route};
use super::subtree::validate_subtrees;
use super::tier_dir::check_tier;
use crate::tiers::{Globs, Match, PlacementRule, Template};

pub(super) fn validate_rule(
    source: &Source,
    known: &[String],
    index: usize,
    raw: &RawRule,
) -> Result<PlacementRule, TiersError> {
    let at = |field: &'static str| route([key("placement"), Component::from(index), key(field)]);
    let matcher = match &raw.matcher {
        None => Match::everything(),
        Some(raw_match) => Match {
            image: globs(source, index, "image", &raw_match.image)?,
            service: globs(source, index, "service", &raw_match.service)?,
            target: globs(source, index, "target", &raw_match.target)?,
            volume: globs(source, index, "volume", &raw_match.volume)?,
        },
    };
    check_tier(source, known, &raw.tier, &at("tier"))?;
    let path = Template::parse(&raw.path)
        .map_err(|error| source.error_at_value(&at("path"), error.into()))?;
    let subtrees = match &raw.subtrees {
        None => Vec::new(),
        Some(raw_subtrees) => validate_subtrees(source, known, index, &raw.tier, raw_subtrees)?,
    };
    Ok(PlacementRule {
        matcher,
        tier: raw.tier.clone(),
        path,
        subtrees,
    })
}

/// Compiles one match field, locating a bad glob at its own list item.
pub(super) fn globs(
    source: &Source,
    index: usize,
    field: &'static str,
    raw: &OneOrMany,
) -> Result<Globs, TiersError> {
    Globs::new(&raw.globs).map_err(|error| {
        let mut at = route([
            key("placement"),
            Component::from(index),
            key("match"),
            key(field),
        ]);
        let position = raw.globs.iter().position(|glob| *glob == error.glob);
        if let (false, Some(position)) = (raw.single, position) {
            at.push(Component::from(position));
        }
        source.error_at_value(&at, error.into())
    })
}
