//! The merged model against the compose specification, and what compose itself would refuse,
//! each placed in the last file that writes it.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_norway::Value;

use crate::compose::error::ComposeError;
use crate::compose::model::Service;
use crate::compose::origin::{Place, Route};
use crate::compose::path::absolute;
use crate::compose::refusal::{self, Refusal};
use crate::compose::source::SourceText;
use crate::compose::spec;

use super::Files;

/// Checks the merged model against the compose specification, naming the first place (in the
/// last file that writes it) that breaks it.
pub(super) fn validate_spec(
    value: &Value,
    files: &[PathBuf],
    reader: &dyn Files,
) -> Result<(), ComposeError> {
    let Some(violation) = spec::check(value) else {
        return Ok(());
    };
    Err(ComposeError::Spec {
        place: place_in(files, reader, &violation.route, violation.at_key),
        message: violation.message,
    })
}

/// The place of `route` (its key when `at_key`) in the last of `files` that writes it.
pub(super) fn place_in(
    files: &[PathBuf],
    reader: &dyn Files,
    route: &Route,
    at_key: bool,
) -> Place {
    files
        .iter()
        .rev()
        .find_map(|f| {
            let text = reader.read(f).ok()?;
            let source = SourceText::new(f, text);
            let position = if at_key {
                source.locate_key(route)?
            } else {
                source.locate(route)?.position
            };
            Some(Place::at(f, position))
        })
        .unwrap_or_else(|| Place::file(files.first().cloned().unwrap_or_default()))
}

/// Why compose will refuse the project ([`refusal::find`]), each placed. A relative env file
/// counts as there when it is there against the project directory, the directory of the file
/// that defines its service, or that of any compose file loaded (an included or extended
/// file's own directory): a false "compose will refuse" is worse than a missed one.
pub(super) fn refusals(
    value: &Value,
    services: &IndexMap<String, Service>,
    project_dir: &Path,
    files: &[PathBuf],
    reader: &dyn Files,
) -> Vec<Refusal> {
    let enabled = |s: &str| services.get(s).is_none_or(|s| s.enabled);
    let exists = |service: &str, path: &str| {
        if path.starts_with('~') {
            return true; // the home directory: not checked
        }
        let own_dir = services
            .get(service)
            .and_then(|s| s.origin.file.parent().map(Path::to_path_buf));
        let loaded_dirs = files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf));
        std::iter::once(project_dir.to_path_buf())
            .chain(own_dir)
            .chain(loaded_dirs)
            .any(|dir| reader.is_file(&absolute(&dir, Path::new(path))))
    };
    refusal::find(value, &enabled, &exists)
        .into_iter()
        .map(|found| Refusal {
            place: place_in(files, reader, &found.route, found.at_key),
            problem: found.problem,
        })
        .collect()
}
