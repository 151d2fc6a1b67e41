//! Resolving a path symlink by symlink as the kernel does, over a [`Lookup`]: this machine's
//! [`Disk`], or another machine's answers (`engine::host_fs`).

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::facts::{Facts, Hop, PathFacts, PathProblem};

/// How many symlinks one resolution follows at most, as the kernel (`ELOOP`).
pub const MAX_HOPS: usize = 40;

/// Resolves every path, keyed by the path as asked.
pub fn probe_paths(paths: impl IntoIterator<Item = PathBuf>) -> Facts {
    let paths = paths
        .into_iter()
        .map(|path| {
            let facts = resolve(&path);
            (path, facts)
        })
        .collect();
    Facts {
        paths,
        ..Facts::default()
    }
}

/// Resolves `path` component by component as the kernel does, recording
/// every symlink followed.
///
/// A relative `path` is taken from the current directory. `..` after a
/// symlink applies to the directory the link resolved to, not lexically.
/// A missing component is not a problem: `exists` is false and `real` is
/// where the path would be created. Never panics; a trailing `/` or `/.` on
/// a non-directory is not reported (the components are what count).
pub fn resolve(path: &Path) -> PathFacts {
    resolve_with(path, &Disk)
}

/// What one component of a path is, for a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A symlink (its target comes from [`Lookup::read_link`]).
    Symlink,
    /// Anything else (a file, a FIFO, a device).
    Other,
}

/// Where a walk looks up components: this machine's disk ([`Disk`]), or the engine's host as a
/// helper container saw it (`engine::host_fs`).
pub trait Lookup {
    /// `lstat` of `path` (absolute, physical up to its last component); `rest` is what the walk
    /// still has to resolve after it (a remote lookup asks for those too, ahead of time).
    fn kind(&self, path: &Path, rest: &[OsString]) -> io::Result<Kind>;
    /// `readlink` of the symlink `path`.
    fn read_link(&self, path: &Path) -> io::Result<PathBuf>;
}

/// This machine's disk.
pub struct Disk;

impl Lookup for Disk {
    fn kind(&self, path: &Path, _rest: &[OsString]) -> io::Result<Kind> {
        let metadata = fs::symlink_metadata(path)?;
        Ok(if metadata.file_type().is_symlink() {
            Kind::Symlink
        } else if metadata.is_dir() {
            Kind::Dir
        } else {
            Kind::Other
        })
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        fs::read_link(path)
    }
}

/// [`resolve`] through `lookup`. A relative `path` is taken from this process's current
/// directory only with [`Disk`]; callers of other lookups pass absolute paths.
pub fn resolve_with(path: &Path, lookup: &dyn Lookup) -> PathFacts {
    let mut hops = Vec::new();
    let outcome = match std::path::absolute(path) {
        Ok(absolute) => walk(&absolute, lookup, &mut hops),
        Err(error) => Outcome::Stopped(PathProblem::Io {
            at: path.to_path_buf(),
            message: error.to_string(),
        }),
    };
    let (real, exists, is_dir, problem) = match outcome {
        Outcome::Found { real, is_dir } => (Some(real), true, is_dir, None),
        Outcome::Missing { real } => (Some(real), false, false, None),
        Outcome::Stopped(problem) => (None, false, false, Some(problem)),
    };
    PathFacts {
        path: path.to_path_buf(),
        hops,
        real,
        exists,
        is_dir,
        problem,
    }
}

/// How a walk over the components ended.
enum Outcome {
    Found { real: PathBuf, is_dir: bool },
    Missing { real: PathBuf },
    Stopped(PathProblem),
}

/// Walks the components of an absolute path, following symlinks into `hops`.
fn walk(absolute: &Path, lookup: &dyn Lookup, hops: &mut Vec<Hop>) -> Outcome {
    // `current` is always physical: no symlink, `.` or `..` in it.
    let mut current = PathBuf::from("/");
    let mut current_is_dir = true;
    let mut pending: VecDeque<OsString> = steps(absolute).collect();
    let mut seen: HashSet<(PathBuf, Vec<OsString>)> = HashSet::new();
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            current.pop();
            current_is_dir = true;
            continue;
        }
        let candidate = current.join(&name);
        let rest: Vec<OsString> = pending.iter().cloned().collect();
        let kind = match lookup.kind(&candidate, &rest) {
            Ok(kind) => kind,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let mut real = candidate;
                real.extend(pending);
                return Outcome::Missing {
                    real: normalize(&real),
                };
            }
            Err(error) => return Outcome::Stopped(problem(&candidate, &error)),
        };
        if kind == Kind::Symlink {
            if !seen.insert((candidate.clone(), rest)) {
                return Outcome::Stopped(PathProblem::Loop { at: candidate });
            }
            if hops.len() >= MAX_HOPS {
                return Outcome::Stopped(PathProblem::TooManyLinks);
            }
            let target = match lookup.read_link(&candidate) {
                Ok(target) => target,
                Err(error) => return Outcome::Stopped(problem(&candidate, &error)),
            };
            // `current` is the link's directory: a relative target starts there.
            let resolved = normalize(&current.join(&target));
            if target.has_root() {
                current = PathBuf::from("/");
            }
            for step in steps(&target).collect::<Vec<_>>().into_iter().rev() {
                pending.push_front(step);
            }
            hops.push(Hop {
                link: candidate,
                target,
                resolved,
            });
        } else if kind != Kind::Dir && !pending.is_empty() {
            return Outcome::Stopped(PathProblem::NotADirectory { at: candidate });
        } else {
            current = candidate;
            current_is_dir = kind == Kind::Dir;
        }
    }
    Outcome::Found {
        real: current,
        is_dir: current_is_dir,
    }
}

/// The names and `..` steps of a path; the root and `.` add no step.
fn steps(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|component| match component {
        Component::Normal(name) => Some(name.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

/// Removes `.` and `..` from an absolute path without touching the
/// filesystem (`..` at the root stays at the root).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The problem an I/O error on `at` stands for.
fn problem(at: &Path, error: &io::Error) -> PathProblem {
    match error.kind() {
        io::ErrorKind::PermissionDenied => PathProblem::PermissionDenied {
            at: at.to_path_buf(),
        },
        io::ErrorKind::NotADirectory => PathProblem::NotADirectory {
            at: at.to_path_buf(),
        },
        _ => PathProblem::Io {
            at: at.to_path_buf(),
            message: error.to_string(),
        },
    }
}
