//! One pass over the files: each parsed and interpolated once, its services' mounts read,
//! and the files merged by compose's override rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_norway::{Mapping, Value};

use crate::compose::env::ComposeEnv;
use crate::compose::error::ComposeError;
use crate::compose::interpolate::interpolate;
use crate::compose::merge::{ComposeTag, compose_tag, merge_override, resolve_merge_keys};
use crate::compose::model::VolumeMount;
use crate::compose::mount;
use crate::compose::origin::{Origin, Place, Position, Route, RouteKey};
use crate::compose::source::SourceText;
use crate::compose::unset::UnsetVariables;

use super::include::merge_include;
use super::scalar::scalar_text;
use super::{Files, Trees};

/// What one file (or a merge of files) contributes.
#[derive(Default)]
pub(super) struct Partial {
    /// Interpolated, merge keys resolved, compose tags kept for the next merge.
    pub(super) value: Value,
    /// Service -> its mounts, with the compose tag on its `volumes:` key.
    pub(super) mounts_by_service: IndexMap<String, (Vec<VolumeMount>, Option<ComposeTag>)>,
    pub(super) service_origins: IndexMap<String, Origin>,
    pub(super) volume_origins: IndexMap<String, Origin>,
}

/// The merged result of a list of files.
pub(super) struct Merged {
    pub(super) value: Value,
    pub(super) mounts: IndexMap<String, Vec<VolumeMount>>,
    pub(super) service_origins: IndexMap<String, Origin>,
    pub(super) volume_origins: IndexMap<String, Origin>,
}

/// One parsed file.
pub(super) struct FileData {
    pub(super) source: SourceText,
    /// Each service's `volumes:` as written (merge keys resolved, not interpolated): the only
    /// part of the raw tree the mounts need, kept instead of a whole second tree (a 50 MB file's
    /// tree is ~90 MB).
    pub(super) raw_volumes: BTreeMap<String, Value>,
    pub(super) value: Value,
    /// Relative bind sources resolve against this directory.
    pub(super) base_dir: PathBuf,
}

impl FileData {
    /// Service `name`'s `volumes:` as written; null when it has none.
    pub(super) fn raw_volumes(&self, name: &str) -> &Value {
        static NONE: Value = Value::Null;
        self.raw_volumes.get(name).unwrap_or(&NONE)
    }
}

/// Each service's `volumes:` value of a raw tree, by service name.
pub(super) fn raw_volumes(raw: &Value) -> BTreeMap<String, Value> {
    let Value::Mapping(services) = &raw["services"] else {
        return BTreeMap::new();
    };
    services
        .iter()
        .filter_map(|(name, def)| {
            let volumes = def.get("volumes")?;
            Some((name.as_str()?.to_owned(), volumes.clone()))
        })
        .collect()
}

pub(super) struct Loader<'a> {
    pub(super) files: &'a dyn Files,
    pub(super) home: PathBuf,
    pub(super) process_env: &'a [(String, String)],
    pub(super) include_stack: Vec<PathBuf>,
    pub(super) loaded: Vec<PathBuf>,
    pub(super) trees: Trees,
    /// Variables blanked by interpolation because they are not set.
    pub(super) unset: UnsetVariables,
}

impl Loader<'_> {
    pub(super) fn load_files(
        &mut self,
        paths: &[PathBuf],
        base_dir: &Path,
        env: &ComposeEnv,
    ) -> Result<Merged, ComposeError> {
        let mut merged = Merged {
            value: Value::Mapping(Mapping::new()),
            mounts: IndexMap::new(),
            service_origins: IndexMap::new(),
            volume_origins: IndexMap::new(),
        };
        for path in paths {
            let partial = self.load_file(path, base_dir, env)?;
            merged.value = merge_override(merged.value, partial.value, "");
            for (svc, (mounts, tag)) in partial.mounts_by_service {
                let entry = merged.mounts.entry(svc).or_default();
                *entry = match tag {
                    Some(ComposeTag::Reset) => Vec::new(),
                    Some(ComposeTag::Override) => mounts,
                    None => mount::merge_by_target(std::mem::take(entry), mounts),
                };
            }
            for (svc, origin) in partial.service_origins {
                merged.service_origins.entry(svc).or_insert(origin);
            }
            for (vol, origin) in partial.volume_origins {
                merged.volume_origins.entry(vol).or_insert(origin);
            }
        }
        Ok(merged)
    }

    pub(super) fn parse(
        &mut self,
        path: &Path,
        base_dir: &Path,
        env: &ComposeEnv,
    ) -> Result<FileData, ComposeError> {
        let text = self
            .files
            .read_shared(path)
            .map_err(|source| ComposeError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        if !self.loaded.iter().any(|p| p == path) {
            self.loaded.push(path.to_path_buf());
        }
        let source = SourceText::new(path, text);
        let mut raw: Value = match serde_norway::from_str(&source.text) {
            Ok(Value::Null) => {
                return Err(ComposeError::Empty {
                    path: path.to_path_buf(),
                });
            }
            Ok(value) => value,
            Err(err) => {
                let position = err.location().map(|l| Position {
                    line: l.line(),
                    column: l.column(),
                });
                // a duplicate key: at the second occurrence, naming the first one's line
                let duplicate = crate::compose::duplicate::locate(&source.text, &err);
                return Err(ComposeError::Yaml {
                    place: Place {
                        file: path.to_path_buf(),
                        position: duplicate.as_ref().map(|d| d.second).or(position),
                    },
                    message: duplicate.map_or_else(|| yaml_message(&err), |d| d.message()),
                });
            }
        };
        self.trees
            .entry(path.to_path_buf())
            .or_insert_with(|| (raw.clone(), source.parsed_document().cloned()));
        if !raw.is_mapping() {
            return Err(ComposeError::Spec {
                place: Place::at(path, Position { line: 1, column: 1 }),
                message: "the top level of a compose file must be a mapping".into(),
            });
        }
        resolve_merge_keys(&mut raw).map_err(|e| ComposeError::Spec {
            place: Place::file(path),
            message: e.to_string(),
        })?;
        let raw_volumes = raw_volumes(&raw);
        let mut value = raw;
        interpolate_tree(&mut value, &Route::default(), &source, env, &mut self.unset)?;
        Ok(FileData {
            source,
            raw_volumes,
            value,
            base_dir: base_dir.to_path_buf(),
        })
    }

    pub(super) fn load_file(
        &mut self,
        path: &Path,
        base_dir: &Path,
        env: &ComposeEnv,
    ) -> Result<Partial, ComposeError> {
        if self.include_stack.iter().any(|p| p == path) {
            let mut chain = self.include_stack.clone();
            chain.push(path.to_path_buf());
            return Err(ComposeError::IncludeCycle { chain });
        }
        let mut file = self.parse(path, base_dir, env)?;
        self.include_stack.push(path.to_path_buf());
        let included = self.includes(&file, env);
        self.include_stack.pop();
        let included = included?;

        let mut partial = Partial::default();
        let names: Vec<String> = match &file.value["services"] {
            Value::Mapping(m) => m
                .keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                return Err(ComposeError::Spec {
                    place: self.place(&file, &Route::new(["services".into()])),
                    message: "`services` must be a mapping of service names".into(),
                });
            }
        };
        for name in &names {
            let mut chain = Vec::new();
            let (value, mounts) = self.service(&file, name, &mut chain, env)?;
            let tag = compose_tag(file.raw_volumes(name));
            set_service(&mut file.value, name, value);
            partial
                .mounts_by_service
                .insert(name.clone(), (mounts, tag));
            let route = Route::new(["services".into(), name.as_str().into()]);
            partial
                .service_origins
                .insert(name.clone(), key_origin(&file, &route));
        }
        if let Value::Mapping(m) = &file.value["volumes"] {
            for key in m.keys().filter_map(Value::as_str) {
                let route = Route::new(["volumes".into(), key.into()]);
                partial
                    .volume_origins
                    .insert(key.to_owned(), key_origin(&file, &route));
            }
        }
        if let Value::Mapping(m) = &mut file.value {
            m.remove("include");
        }
        partial.value = file.value;

        for inc in included {
            merge_include(&mut partial, inc, path)?;
        }
        Ok(partial)
    }

    pub(super) fn place(&self, file: &FileData, route: &Route) -> Place {
        place_of(&file.source, route)
    }
}

pub(super) fn place_of(source: &SourceText, route: &Route) -> Place {
    Place {
        file: source.path.clone(),
        position: source.locate(route).map(|l| l.position),
    }
}

pub(super) fn set_service(value: &mut Value, name: &str, def: Value) {
    if let Some(services) = value.get_mut("services").and_then(Value::as_mapping_mut) {
        services.insert(Value::String(name.to_owned()), def);
    }
}

pub(super) fn interpolate_tree(
    value: &mut Value,
    route: &Route,
    source: &SourceText,
    env: &ComposeEnv,
    unset: &mut UnsetVariables,
) -> Result<(), ComposeError> {
    match value {
        Value::String(s) if s.contains('$') => {
            let lookup = |name: &str| env.get(name).map(|v| v.value.clone());
            match interpolate(s, &lookup) {
                Ok(done) => {
                    unset.record(source, route, &done.variables);
                    *s = done.value;
                }
                Err(error) => {
                    return Err(ComposeError::Interpolation {
                        place: place_of(source, route),
                        route: route.clone(),
                        error: Box::new(error),
                    });
                }
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = match k {
                    Value::String(s) => RouteKey::Key(s.clone()),
                    other => RouteKey::Key(scalar_text(other)),
                };
                interpolate_tree(v, &route.with(key), source, env, unset)?;
            }
        }
        Value::Sequence(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                interpolate_tree(v, &route.with(i), source, env, unset)?;
            }
        }
        Value::Tagged(tagged) => {
            interpolate_tree(&mut tagged.value, route, source, env, unset)?;
        }
        _ => {}
    }
    Ok(())
}

/// Where a service or top-level volume is written. Its text is not kept: it is the whole body
/// (a 50 MB file's service bodies would be held a second time), and nothing edits it as text.
pub(super) fn key_origin(file: &FileData, route: &Route) -> Origin {
    Origin {
        text: String::new(),
        ..file.source.origin(route)
    }
}

pub(super) fn yaml_message(err: &serde_norway::Error) -> String {
    let text = err.to_string();
    // serde_norway appends " at line L column C"; the place already says it
    match text.find(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}
