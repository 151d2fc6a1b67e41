//! Parsing and validation of `tiers.yaml`.
//!
//! The text is parsed twice: serde_norway turns it into raw structs (and
//! reports syntax and shape errors with its own location), and yamlpath finds
//! the line and column of any node a validation error is about.

mod error;
mod layout;
mod pools;
mod raw;
mod roots;
mod rule;
mod source;
mod subtree;
mod tier_dir;

#[cfg(test)]
mod tests;

use std::path::{Component as PathComponent, Path};

use indexmap::IndexMap;
use serde::de::IgnoredAny;
use yamlpath::{Component, Document};

pub use error::{TiersError, TiersErrorKind};
use layout::validate_layout;
pub use pools::PoolProblem;
use raw::{RawContext, RawFile, RawTier, TOP_LEVEL_KEYS};
pub use roots::{DirIdentity, RootOnDisk};
use roots::{overlap, real_overlap, same_directory_overlap};
use rule::validate_rule;
use source::{Source, key, route};
use tier_dir::validate_access_point;

use super::placement::default_rules;
use super::{Tier, Tiers};

/// Loads and validates `tiers.yaml`: `path` is used in messages only, `text`
/// is the file's content. Returns the first error found, located at the
/// offending node.
pub fn load(path: &Path, text: &str) -> Result<Tiers, TiersError> {
    load_resolved(path, text, &RootOnDisk::as_written)
}

/// [`load`], with `real` giving each tier root as this machine has it (the caller's effect) so
/// that roots overlapping through a symlink or a bind mount are refused too.
pub fn load_resolved(
    path: &Path,
    text: &str,
    real: &dyn Fn(&Path) -> RootOnDisk,
) -> Result<Tiers, TiersError> {
    let yaml_error = |error: serde_norway::Error| yaml_error(path, error);
    let top: Option<IndexMap<String, IgnoredAny>> =
        serde_norway::from_str(text).map_err(yaml_error)?;
    let source = Source {
        file: path,
        text,
        doc: Document::new(text).ok(),
    };
    let top = top.unwrap_or_default();
    if let Some(unknown) = top.keys().find(|k| !TOP_LEVEL_KEYS.contains(&k.as_str())) {
        return Err(source.error_at(
            &route([key(unknown)]),
            TiersErrorKind::UnknownKey {
                key: unknown.clone(),
            },
        ));
    }
    let raw: Option<RawFile> = serde_norway::from_str(text).map_err(yaml_error)?;
    let raw = raw.unwrap_or(RawFile {
        tiers: None,
        placement: None,
        access_points: None,
        layout: None,
        contexts: None,
        pools: None,
    });

    let tiers = validate_tiers(&source, &[], raw.tiers.unwrap_or_default().0, real)?;
    let contexts = validate_contexts(&source, &tiers, raw.contexts.unwrap_or_default().0)?;
    let known: Vec<String> = tiers.keys().cloned().collect();
    let raw_rules = raw.placement.unwrap_or_default();
    let placement_is_default = raw_rules.is_empty();
    let placement = if placement_is_default {
        let names: Vec<&str> = known.iter().map(String::as_str).collect();
        default_rules(&names)
    } else {
        raw_rules
            .iter()
            .enumerate()
            .map(|(index, rule)| validate_rule(&source, &known, index, rule))
            .collect::<Result<_, _>>()?
    };
    let access_points = raw
        .access_points
        .unwrap_or_default()
        .0
        .iter()
        .map(|(point, value)| validate_access_point(&source, &known, point, value))
        .collect::<Result<_, _>>()?;
    let layout = raw
        .layout
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(index, entry)| validate_layout(&source, &known, index, entry))
        .collect::<Result<_, _>>()?;

    let pools = pools::validate_pools(&source, &tiers, raw.pools.unwrap_or_default().0)?;
    Ok(Tiers {
        file: path.to_path_buf(),
        tiers,
        placement,
        placement_is_default,
        access_points,
        layout,
        contexts,
        pools,
    })
}

/// Each context's tier map, validated like `tiers:` (its roots are the other host's paths, so
/// they are compared as written, never resolved here), naming the same tiers.
fn validate_contexts(
    source: &Source,
    main: &IndexMap<String, Tier>,
    raw: IndexMap<String, RawContext>,
) -> Result<IndexMap<String, IndexMap<String, Tier>>, TiersError> {
    let as_written = RootOnDisk::as_written;
    let mut contexts = IndexMap::new();
    for (name, context) in raw {
        let base = [key("contexts"), key(&name)];
        let Some(raw_tiers) = context.tiers else {
            return Err(source.error_at(
                &base,
                TiersErrorKind::ContextWithoutTiers {
                    context: name.clone(),
                },
            ));
        };
        let tiers = validate_tiers(source, &base, raw_tiers.0, &as_written)?;
        let missing: Vec<String> = main
            .keys()
            .filter(|k| !tiers.contains_key(*k))
            .cloned()
            .collect();
        let extra: Vec<String> = tiers
            .keys()
            .filter(|k| !main.contains_key(*k))
            .cloned()
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            let at = route(base.iter().cloned().chain([key("tiers")]));
            return Err(source.error_at(
                &at,
                TiersErrorKind::ContextTiersDiffer {
                    context: name.clone(),
                    missing,
                    extra,
                },
            ));
        }
        contexts.insert(name, tiers);
    }
    Ok(contexts)
}

/// A serde_norway error at its own position; the message drops that position
/// (it is shown in front) but keeps any other ("while parsing ... at line 2").
fn yaml_error(file: &Path, error: serde_norway::Error) -> TiersError {
    let (line, column) = error
        .location()
        .map_or((1, 1), |location| (location.line(), location.column()));
    let own_position = format!(" at line {line} column {column}");
    let message = error.to_string().replacen(&own_position, "", 1);
    TiersError {
        file: file.to_path_buf(),
        line,
        column,
        kind: TiersErrorKind::Yaml { message },
    }
}

fn validate_tiers(
    source: &Source,
    base: &[Component],
    raw: IndexMap<String, RawTier>,
    real: &dyn Fn(&Path) -> RootOnDisk,
) -> Result<IndexMap<String, Tier>, TiersError> {
    if raw.is_empty() {
        let at = route(base.iter().cloned().chain([key("tiers")]));
        return Err(source.error_at(&at, TiersErrorKind::NoTiers));
    }
    let mut tiers: IndexMap<String, Tier> = IndexMap::new();
    let mut real_roots: IndexMap<String, RootOnDisk> = IndexMap::new();
    for (name, tier) in raw {
        let here = route(base.iter().cloned().chain([key("tiers"), key(&name)]));
        if name.is_empty() || name.contains([':', '/']) || name.contains(char::is_whitespace) {
            return Err(source.error_at(&here, TiersErrorKind::BadTierName { tier: name.clone() }));
        }
        let root_route = route(
            base.iter()
                .cloned()
                .chain([key("tiers"), key(&name), key("root")]),
        );
        let root = source.beside(&tier.root);
        if !root.is_absolute() {
            return Err(source.error_at_value(
                &root_route,
                TiersErrorKind::RelativeRoot {
                    tier: name.clone(),
                    root: tier.root.clone(),
                },
            ));
        }
        if Path::new(&tier.root)
            .components()
            .any(|c| c == PathComponent::ParentDir)
        {
            return Err(source.error_at_value(
                &root_route,
                TiersErrorKind::RootHasParent {
                    tier: name.clone(),
                    root: tier.root.clone(),
                },
            ));
        }
        if let Some(kind) = overlap(&tiers, &name, &root) {
            return Err(source.error_at_value(&root_route, kind));
        }
        let real_root = real(&root);
        if let Some(kind) = real_overlap(&real_roots, &name, &root, &real_root.real) {
            return Err(source.error_at_value(&root_route, kind));
        }
        if let Some(kind) = same_directory_overlap(&tiers, &real_roots, &name, &root, &real_root) {
            return Err(source.error_at_value(&root_route, kind));
        }
        real_roots.insert(name.clone(), real_root);
        tiers.insert(
            name.clone(),
            Tier {
                name,
                root,
                kind: tier.kind,
                mount: tier.mount,
            },
        );
    }
    Ok(tiers)
}
