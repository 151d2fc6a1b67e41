//! Tier names and `tier:sub` directories in placement rules, access points and layout entries.

use std::path::PathBuf;

use yamlpath::Component;

use super::error::{TiersError, TiersErrorKind};
use super::source::{Source, key, route};
use crate::tiers::{AccessPoint, is_plain_relative};

pub(super) fn check_tier(
    source: &Source,
    known: &[String],
    tier: &str,
    at: &[Component],
) -> Result<(), TiersError> {
    if known.iter().any(|k| k == tier) {
        Ok(())
    } else {
        Err(source.error_at_value(
            at,
            TiersErrorKind::UnknownTier {
                tier: tier.to_string(),
                known: known.to_vec(),
            },
        ))
    }
}

/// `fast:photos` -> (`fast`, `photos`); `fast` and `fast:` -> (`fast`, ``).
pub(super) fn split_tier_dir(value: &str) -> (&str, &str) {
    value.split_once(':').unwrap_or((value, ""))
}

pub(super) fn validate_tier_dir(
    source: &Source,
    known: &[String],
    value: &str,
    at: &[Component],
) -> Result<(String, PathBuf), TiersError> {
    let (tier, sub) = split_tier_dir(value);
    check_tier(source, known, tier, at)?;
    let sub = PathBuf::from(sub);
    if !is_plain_relative(&sub) {
        return Err(source.error_at_value(
            at,
            TiersErrorKind::BadTierDir {
                value: value.to_string(),
            },
        ));
    }
    Ok((tier.to_string(), sub))
}

pub(super) fn validate_access_point(
    source: &Source,
    known: &[String],
    point: &str,
    value: &str,
) -> Result<AccessPoint, TiersError> {
    let at = route([key("access_points"), key(point)]);
    let path = source.beside(point);
    if !path.is_absolute() {
        return Err(source.error_at(
            &at,
            TiersErrorKind::RelativeAccessPoint {
                path: point.to_string(),
            },
        ));
    }
    let (tier, sub) = validate_tier_dir(source, known, value, &at)?;
    Ok(AccessPoint { path, tier, sub })
}
