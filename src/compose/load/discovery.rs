//! Where the project is: the compose files (`-f`, `COMPOSE_FILE`, discovery with the override
//! file), the project directory, its environment (env files over the process environment)
//! and the project name.

use std::io;
use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::compose::env::ComposeEnv;
use crate::compose::error::ComposeError;
use crate::compose::origin::Place;
use crate::compose::path::absolute;

use super::scalar::split_list;
use super::{DEFAULT_FILES, Files, LoadOptions};

/// The compose files, the project directory and the project's environment (read first from
/// the `--project-directory` or working directory, again from the project directory when the
/// files put it elsewhere).
pub(super) fn locate(
    options: &LoadOptions,
    files: &dyn Files,
) -> Result<(Vec<PathBuf>, PathBuf, ComposeEnv), ComposeError> {
    let wd = &options.working_dir;
    let bootstrap_dir = options
        .project_directory
        .as_ref()
        .map(|d| absolute(wd, d))
        .unwrap_or_else(|| wd.clone());
    let bootstrap = environment(options, files, &bootstrap_dir)?;
    let compose_files = compose_files(options, &bootstrap, files)?;
    let project_dir = match &options.project_directory {
        Some(dir) => absolute(wd, dir),
        None => compose_files[0]
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| wd.clone()),
    };
    let env = if project_dir == bootstrap_dir {
        bootstrap
    } else {
        environment(options, files, &project_dir)?
    };
    Ok((compose_files, project_dir, env))
}

/// The process environment layered over the env files (`--env-file` or `<dir>/.env`).
pub(super) fn environment(
    options: &LoadOptions,
    files: &dyn Files,
    dir: &Path,
) -> Result<ComposeEnv, ComposeError> {
    let paths: Vec<PathBuf> = if options.env_files.is_empty() {
        let dot_env = dir.join(".env");
        if files.is_file(&dot_env) {
            vec![dot_env]
        } else {
            Vec::new()
        }
    } else {
        options
            .env_files
            .iter()
            .map(|p| absolute(&options.working_dir, p))
            .collect()
    };
    let mut texts = Vec::with_capacity(paths.len());
    for path in paths {
        let text = files.read(&path).map_err(|source| ComposeError::Read {
            path: path.clone(),
            source,
        })?;
        texts.push((path, text));
    }
    ComposeEnv::load(options.process_env.clone(), &texts).map_err(ComposeError::EnvFile)
}

/// `-f` files, else `COMPOSE_FILE`, else the first default file found in the working directory
/// or one of its parents, with its override file.
pub(super) fn compose_files(
    options: &LoadOptions,
    env: &ComposeEnv,
    files: &dyn Files,
) -> Result<Vec<PathBuf>, ComposeError> {
    let wd = &options.working_dir;
    let chosen: Vec<PathBuf> = if !options.files.is_empty() {
        options.files.iter().map(|f| absolute(wd, f)).collect()
    } else if let Some(var) = env.get("COMPOSE_FILE").filter(|v| !v.value.is_empty()) {
        let separator = env
            .get("COMPOSE_PATH_SEPARATOR")
            .and_then(|v| v.value.chars().next())
            .unwrap_or(':');
        split_list(&var.value, separator)
            .into_iter()
            .map(|f| absolute(wd, Path::new(&f)))
            .collect()
    } else {
        discover(wd, files)?
    };
    for file in &chosen {
        if file.as_os_str() == "-" || file.ends_with("-") {
            return Err(ComposeError::Stdin);
        }
        if !files.is_file(file) {
            return Err(ComposeError::Read {
                path: file.clone(),
                source: not_a_file(files, file),
            });
        }
    }
    Ok(chosen)
}

/// Why `path` is not a regular file: the error reading it gives (a directory, permission
/// denied), else "no such file".
pub(super) fn not_a_file(files: &dyn Files, path: &Path) -> io::Error {
    match files.read(path) {
        Err(error) => error,
        Ok(_) => io::Error::new(io::ErrorKind::NotFound, "no such file"),
    }
}

/// The error for an `include` or `extends: file:` that is not a regular file.
pub(super) fn include_error(files: &dyn Files, place: Place, path: PathBuf) -> ComposeError {
    match not_a_file(files, &path) {
        error if error.kind() == io::ErrorKind::NotFound => {
            ComposeError::IncludeMissing { place, path }
        }
        source => ComposeError::IncludeUnreadable {
            place,
            path,
            source,
        },
    }
}

pub(super) fn discover(wd: &Path, files: &dyn Files) -> Result<Vec<PathBuf>, ComposeError> {
    for dir in wd.ancestors() {
        for name in DEFAULT_FILES {
            let candidate = dir.join(name);
            if files.is_file(&candidate) {
                let (stem, ext) = name.rsplit_once('.').unwrap_or((name, "yaml"));
                let mut found = vec![candidate];
                for over_ext in [ext, if ext == "yml" { "yaml" } else { "yml" }] {
                    let over = dir.join(format!("{stem}.override.{over_ext}"));
                    if files.is_file(&over) {
                        found.push(over);
                        break;
                    }
                }
                return Ok(found);
            }
        }
    }
    Err(ComposeError::NotFound {
        dir: wd.to_path_buf(),
    })
}

/// `-p`, `COMPOSE_PROJECT_NAME`, top-level `name:`, else the project directory's name; all
/// normalised as compose does.
pub(super) fn project_name(
    options: &LoadOptions,
    env: &ComposeEnv,
    value: &Value,
    project_dir: &Path,
) -> Result<String, ComposeError> {
    let raw = options
        .project_name
        .clone()
        .or_else(|| {
            env.get("COMPOSE_PROJECT_NAME")
                .map(|v| v.value.clone())
                .filter(|v| !v.is_empty())
        })
        .or_else(|| value["name"].as_str().map(str::to_owned))
        .or_else(|| {
            project_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let name = normalize_project_name(&raw);
    if name.is_empty() {
        return Err(ComposeError::ProjectName { raw });
    }
    Ok(name)
}

/// Compose's normalisation: lowercase, keep `a-z0-9_-`, no leading `_` or `-`.
pub fn normalize_project_name(raw: &str) -> String {
    let kept: String = raw
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_owned()
}
