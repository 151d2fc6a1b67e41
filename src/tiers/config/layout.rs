//! A `layout:` entry: the directory `tiers init` creates, with its owner and mode.

use yamlpath::Component;

use super::error::{TiersError, TiersErrorKind};
use super::raw::RawLayout;
use super::source::{Source, key, route};
use super::tier_dir::validate_tier_dir;
use crate::tiers::LayoutEntry;

pub(super) fn validate_layout(
    source: &Source,
    known: &[String],
    index: usize,
    raw: &RawLayout,
) -> Result<LayoutEntry, TiersError> {
    let at = |field: &'static str| route([key("layout"), Component::from(index), key(field)]);
    let (tier, sub) = validate_tier_dir(source, known, &raw.path, &at("path"))?;
    let owner_name = raw
        .owner
        .as_deref()
        .filter(|owner| parse_owner(owner).is_none() && is_owner_name(owner))
        .map(str::to_string);
    let owner = raw
        .owner
        .as_deref()
        .filter(|_| owner_name.is_none())
        .map(|owner| {
            parse_owner(owner).ok_or_else(|| {
                source.error_at_value(
                    &at("owner"),
                    TiersErrorKind::BadOwner {
                        owner: owner.to_string(),
                    },
                )
            })
        })
        .transpose()?;
    let mode = raw
        .mode
        .as_deref()
        .map(|mode| {
            parse_mode(mode).ok_or_else(|| {
                source.error_at_value(
                    &at("mode"),
                    TiersErrorKind::BadMode {
                        mode: mode.to_string(),
                    },
                )
            })
        })
        .transpose()?;
    Ok(LayoutEntry {
        tier,
        sub,
        owner,
        owner_name,
        mode,
    })
}

/// `"999:999"` -> `(999, 999)`.
pub(super) fn parse_owner(owner: &str) -> Option<(u32, u32)> {
    let (uid, gid) = owner.split_once(':')?;
    let number = |text: &str| {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<u32>().ok())
            .flatten()
    };
    Some((number(uid)?, number(gid)?))
}

/// `"postgres"` or `"immich:media"`: a user name, optionally with a group name.
pub(super) fn is_owner_name(owner: &str) -> bool {
    let name = |text: &str| {
        text.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && text.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.')
            })
    };
    match owner.split_once(':') {
        Some((user, group)) => name(user) && name(group),
        None => name(owner),
    }
}

/// `"0755"`, `"755"` or `"0o755"` -> `0o755`; at most `0o7777`.
pub(super) fn parse_mode(mode: &str) -> Option<u32> {
    let digits = mode.strip_prefix("0o").unwrap_or(mode);
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
}
