//! A bind source as a host path: `~` expanded, made absolute, lexically normalised.

use std::path::{Component, Path, PathBuf};

use super::short::is_windows_path;

/// Expand a leading `~` or `~/` to `home`; `None` for anything else
/// (including `~user`, which compose does not expand).
pub fn expand_home(source: &str, home: &Path) -> Option<PathBuf> {
    if source == "~" {
        return Some(home.to_path_buf());
    }
    source
        .strip_prefix("~/")
        .map(|rest| home.join(rest.trim_start_matches('/')))
}

/// Turn a bind source into an absolute path without touching the filesystem.
///
/// `~` and `~/x` expand to `home`; a relative source is joined onto
/// `project_dir`; `.` and `..` are then removed lexically (`..` stops at the
/// root). Windows paths are returned as written.
pub fn resolve_against(source: &str, project_dir: &Path, home: &Path) -> PathBuf {
    if is_windows_path(source) {
        return PathBuf::from(source);
    }
    let joined = match expand_home(source, home) {
        Some(expanded) => expanded,
        None => project_dir.join(source),
    };
    normalize_lexically(&joined)
}

/// Remove `.` and resolve `..` against the preceding component, lexically.
fn normalize_lexically(path: &Path) -> PathBuf {
    let mut parts: Vec<Component<'_>> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => parts.push(component),
            },
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}
