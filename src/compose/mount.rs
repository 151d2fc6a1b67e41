//! Service volume entries turned into [`VolumeMount`]s with their origins.

use std::path::Path;

use serde_norway::Value;

use crate::compose::env::ComposeEnv;
use crate::compose::error::ComposeError;
use crate::compose::interpolate::interpolate;
use crate::compose::model::{MountId, MountType, Syntax, VolumeMount};
use crate::compose::origin::{Origin, Place, Route, SourceVariable};
use crate::compose::source::SourceText;
use crate::compose::volume_syntax::{
    VolumeSyntaxError, classify_short, parse_long, read_only, resolve_against, short_propagation,
    short_selinux, split_short_lenient,
};

/// What building a service's mounts needs to know about the file it is written in.
pub struct MountContext<'a> {
    /// The file.
    pub source: &'a SourceText,
    /// `services.<name>` in that file.
    pub service_route: &'a Route,
    /// Relative bind sources resolve against this directory.
    pub base_dir: &'a Path,
    /// `~` expands to this.
    pub home: &'a Path,
    /// Variables for interpolation.
    pub env: &'a ComposeEnv,
}

/// The mounts of one service: `raw` is its `volumes:` as written, `value` the same after
/// interpolation.
pub fn service_mounts(
    ctx: &MountContext<'_>,
    raw: &Value,
    value: &Value,
) -> Result<Vec<VolumeMount>, ComposeError> {
    let raw = untag(raw);
    let items = match untag(value) {
        Value::Null => return Ok(Vec::new()),
        Value::Sequence(items) => items,
        _ => {
            return Err(ComposeError::Spec {
                place: place(ctx, &ctx.service_route.with("volumes")),
                message: "`volumes` of a service must be a list".into(),
            });
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let route = ctx.service_route.with("volumes").with(i);
            let raw_item = raw.get(i).unwrap_or(item);
            mount(ctx, &route, raw_item, item)
        })
        .collect()
}

fn mount(
    ctx: &MountContext<'_>,
    route: &Route,
    raw: &Value,
    item: &Value,
) -> Result<VolumeMount, ComposeError> {
    match item {
        Value::String(spec) => short_mount(ctx, route, raw.as_str().unwrap_or(spec), spec),
        Value::Mapping(_) => long_mount(ctx, route, raw, item),
        _ => Err(ComposeError::Spec {
            place: place(ctx, route),
            message: "a volume entry must be a string or a mapping".into(),
        }),
    }
}

/// A short-syntax entry (`SRC:DST:MODE`); `raw_text` is the entry as written, before
/// interpolation.
fn short_mount(
    ctx: &MountContext<'_>,
    route: &Route,
    raw_text: &str,
    spec: &str,
) -> Result<VolumeMount, ComposeError> {
    let source_end = short_source_end(raw_text);
    let short = split_short_lenient(spec).map_err(|error| {
        match (&error, unset_variables(ctx, &raw_text[..source_end])) {
            (VolumeSyntaxError::EmptySource { .. }, names) if !names.is_empty() => {
                ComposeError::UnsetSourceVariable {
                    place: place(ctx, route),
                    spec: raw_text.to_owned(),
                    names,
                }
            }
            _ => volume_error(ctx, route, error),
        }
    })?;
    let kind = classify_short(&short);
    let host_path = bind_path(ctx, kind, short.source.as_deref());
    Ok(VolumeMount {
        id: MountId::default(),
        kind,
        syntax: Syntax::Short,
        read_only: read_only(&short.modes),
        nocopy: short.modes.iter().any(|m| m == "nocopy"),
        create_host_path: true,
        subpath: None,
        propagation: short_propagation(&short.modes),
        selinux: short_selinux(&short.modes),
        origin: origin(ctx, route, &raw_text[..source_end]),
        source: short.source,
        host_path,
        target: crate::compose::target::clean(&short.target),
        modes: short.modes,
    })
}

/// A long-syntax entry (a mapping).
fn long_mount(
    ctx: &MountContext<'_>,
    route: &Route,
    raw: &Value,
    item: &Value,
) -> Result<VolumeMount, ComposeError> {
    let long = parse_long(item).map_err(|error| volume_error(ctx, route, error))?;
    let source_route = route.with("source");
    let (origin_route, raw_source) = match raw.get("source").and_then(Value::as_str) {
        Some(text) => (source_route, text.to_owned()),
        None => (route.clone(), String::new()),
    };
    let volume = long.volume.clone().unwrap_or_default();
    Ok(VolumeMount {
        id: MountId::default(),
        kind: long.mount_type,
        syntax: Syntax::Long,
        host_path: bind_path(ctx, long.mount_type, long.source.as_deref()),
        read_only: long.read_only,
        modes: Vec::new(),
        create_host_path: long
            .bind
            .as_ref()
            .and_then(|b| b.create_host_path)
            .unwrap_or(true),
        nocopy: volume.nocopy,
        subpath: volume.subpath,
        propagation: long.bind.as_ref().and_then(|b| b.propagation),
        selinux: long.bind.as_ref().and_then(|b| b.selinux),
        origin: origin(ctx, &origin_route, &raw_source),
        source: long.source,
        target: crate::compose::target::clean(&long.target),
    })
}

/// A volume entry the syntax parser refused, at its place.
fn volume_error(ctx: &MountContext<'_>, route: &Route, error: VolumeSyntaxError) -> ComposeError {
    ComposeError::Volume {
        place: place(ctx, route),
        error: Box::new(error),
    }
}

fn bind_path(
    ctx: &MountContext<'_>,
    kind: MountType,
    source: Option<&str>,
) -> Option<std::path::PathBuf> {
    match (kind, source) {
        (MountType::Bind, Some(s)) => Some(resolve_against(s, ctx.base_dir, ctx.home)),
        _ => None,
    }
}

/// The origin of a source whose uninterpolated text is `raw_source`.
fn origin(ctx: &MountContext<'_>, route: &Route, raw_source: &str) -> Origin {
    let lookup = |name: &str| ctx.env.get(name).map(|v| v.value.clone());
    let variables = match interpolate(raw_source, &lookup) {
        Ok(done) => done
            .variables
            .into_iter()
            .map(|used| SourceVariable {
                set_by: ctx.env.get(&used.name).map(|v| v.source.clone()),
                whole: used.span == (0, raw_source.len()),
                used_default: used.used_default,
                name: used.name,
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    Origin {
        variables,
        ..ctx.source.origin(route)
    }
}

/// Variables in `raw` that are unset or empty.
fn unset_variables(ctx: &MountContext<'_>, raw: &str) -> Vec<String> {
    let lookup = |name: &str| ctx.env.get(name).map(|v| v.value.clone());
    interpolate(raw, &lookup)
        .map(|done| {
            done.variables
                .into_iter()
                .filter(|v| ctx.env.get(&v.name).is_none_or(|e| e.value.is_empty()))
                .map(|v| v.name)
                .collect()
        })
        .unwrap_or_default()
}

/// Byte length of the source part of an uninterpolated short spec: up to the first `:` outside
/// `${...}` that is not a Windows drive letter's colon; 0 when the entry has no source.
pub fn short_source_end(raw: &str) -> usize {
    let bytes = raw.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 => {
                let drive = i == 1
                    && bytes[0].is_ascii_alphabetic()
                    && matches!(bytes.get(2), Some(b'\\' | b'/'));
                if !drive {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    0
}

/// `over` merged onto `base` by container path: an entry of `over` replaces the entry of
/// `base` with the same target, others are appended (compose's override rule).
pub fn merge_by_target(base: Vec<VolumeMount>, over: Vec<VolumeMount>) -> Vec<VolumeMount> {
    let mut out = base;
    for mount in over {
        match out
            .iter()
            .position(|m| crate::compose::target::same(&m.target, &mount.target))
        {
            Some(i) => out[i] = mount,
            None => out.push(mount),
        }
    }
    out
}

fn untag(value: &Value) -> &Value {
    match value {
        Value::Tagged(t) => &t.value,
        other => other,
    }
}

fn place(ctx: &MountContext<'_>, route: &Route) -> Place {
    Place {
        file: ctx.source.path.clone(),
        position: ctx.source.locate(route).map(|l| l.position),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_end_skips_variable_defaults_and_drive_letters() {
        assert_eq!(short_source_end("${UPLOAD_LOCATION}:/data"), 18);
        assert_eq!(short_source_end("${A:-/a:b}:/x:ro"), 10);
        assert_eq!(short_source_end("C:\\data:/data"), 7);
        assert_eq!(short_source_end("/data"), 0);
        assert_eq!(short_source_end("$$HOME/x:/y"), 8);
        assert_eq!(short_source_end("model-cache:/cache"), 11);
    }
}
