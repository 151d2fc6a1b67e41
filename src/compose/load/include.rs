//! `include:`: each entry loaded as its own project, with its own env files, and merged
//! beneath the including file.

use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

use crate::compose::env::{ComposeEnv, parse_env_file};
use crate::compose::error::ComposeError;
use crate::compose::merge::{merge_override, strip_tags};
use crate::compose::origin::Route;
use crate::compose::path::absolute;

use super::discovery::include_error;
use super::loader::{FileData, Loader, Merged, Partial};
use super::scalar::string_list;

impl Loader<'_> {
    /// Loads every `include:` entry as its own project.
    pub(super) fn includes(
        &mut self,
        file: &FileData,
        env: &ComposeEnv,
    ) -> Result<Vec<Merged>, ComposeError> {
        let Some(list) = file.value.get("include") else {
            return Ok(Vec::new());
        };
        let Value::Sequence(entries) = list else {
            return Err(ComposeError::Spec {
                place: self.place(file, &Route::new(["include".into()])),
                message: "`include` must be a list".into(),
            });
        };
        let dir = file
            .source
            .path
            .parent()
            .unwrap_or(Path::new("/"))
            .to_path_buf();
        let mut out = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let route = Route::new(["include".into(), i.into()]);
            let (paths, project_dir, env_files) = match entry {
                Value::String(p) => (vec![p.clone()], None, Vec::new()),
                Value::Mapping(m) => {
                    let paths = match m.get("path") {
                        Some(Value::String(p)) => vec![p.clone()],
                        Some(v @ Value::Sequence(_)) => string_list(v),
                        _ => {
                            return Err(ComposeError::Spec {
                                place: self.place(file, &route),
                                message: "an `include` entry needs a `path`".into(),
                            });
                        }
                    };
                    let project_dir = m
                        .get("project_directory")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    let env_files = match m.get("env_file") {
                        Some(Value::String(p)) => vec![p.clone()],
                        Some(v) => string_list(v),
                        None => Vec::new(),
                    };
                    (paths, project_dir, env_files)
                }
                _ => {
                    return Err(ComposeError::Spec {
                        place: self.place(file, &route),
                        message: "an `include` entry must be a path or a mapping".into(),
                    });
                }
            };
            let paths: Vec<PathBuf> = paths.iter().map(|p| absolute(&dir, Path::new(p))).collect();
            for p in &paths {
                if !self.files.is_file(p) {
                    let place = self.place(file, &route);
                    return Err(include_error(self.files, place, p.clone()));
                }
            }
            let inc_dir = match project_dir {
                Some(d) => absolute(&dir, Path::new(&d)),
                None => paths[0].parent().unwrap_or(Path::new("/")).to_path_buf(),
            };
            let inc_env = self.include_env(&inc_dir, &dir, &env_files, env)?;
            out.push(self.load_files(&paths, &inc_dir, &inc_env)?);
        }
        Ok(out)
    }

    /// An included project's variables: the including project's, then its own env files.
    pub(super) fn include_env(
        &self,
        inc_dir: &Path,
        including_dir: &Path,
        env_files: &[String],
        env: &ComposeEnv,
    ) -> Result<ComposeEnv, ComposeError> {
        let paths: Vec<PathBuf> = if env_files.is_empty() {
            let p = inc_dir.join(".env");
            if self.files.is_file(&p) {
                vec![p]
            } else {
                Vec::new()
            }
        } else {
            env_files
                .iter()
                .map(|p| absolute(including_dir, Path::new(p)))
                .collect()
        };
        if paths.is_empty() {
            return Ok(env.clone());
        }
        let mut parsed = Vec::new();
        for path in paths {
            let text = self
                .files
                .read(&path)
                .map_err(|source| ComposeError::Read {
                    path: path.clone(),
                    source,
                })?;
            let lookup = |name: &str| env.get(name).map(|v| v.value.clone());
            parsed.push(parse_env_file(&path, &text, &lookup).map_err(ComposeError::EnvFile)?);
        }
        let mut layered = ComposeEnv::layered(self.process_env.to_vec(), &parsed);
        for (name, var) in env.iter() {
            if layered.get(name).is_none() {
                layered.insert(name.to_owned(), var.clone());
            }
        }
        Ok(layered)
    }
}

pub(super) fn merge_include(
    partial: &mut Partial,
    inc: Merged,
    including: &Path,
) -> Result<(), ComposeError> {
    let mut inc_value = inc.value;
    strip_tags(&mut inc_value);
    for (svc, mounts) in inc.mounts {
        if partial.mounts_by_service.contains_key(&svc) {
            return Err(ComposeError::IncludeConflict {
                service: svc,
                file: including.to_path_buf(),
            });
        }
        partial.mounts_by_service.insert(svc, (mounts, None));
    }
    for (svc, origin) in inc.service_origins {
        partial.service_origins.insert(svc, origin);
    }
    for (vol, origin) in inc.volume_origins {
        partial.volume_origins.entry(vol).or_insert(origin);
    }
    // included definitions come first; the including file's own keys win
    let own = std::mem::replace(&mut partial.value, Value::Null);
    let mut base = Mapping::new();
    for section in ["services", "volumes", "networks", "secrets", "configs"] {
        if let Some(v) = inc_value.get(section) {
            base.insert(Value::String(section.into()), v.clone());
        }
    }
    partial.value = merge_override(Value::Mapping(base), own, "");
    Ok(())
}
