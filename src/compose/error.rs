//! Errors of loading a compose project. Each names its file and, where known, line and column.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::compose::env::EnvFileError;
use crate::compose::interpolate::InterpolationError;
use crate::compose::origin::{Place, Route};
use crate::compose::volume_syntax::VolumeSyntaxError;

/// Why a compose project could not be loaded.
#[derive(Debug, Error)]
pub enum ComposeError {
    /// A file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// No compose file in the directory or its parents.
    #[error("no compose file found in `{}` or its parents", dir.display())]
    NotFound {
        /// Where the search started.
        dir: PathBuf,
    },
    /// A compose file with nothing in it (or only comments), which compose refuses too.
    #[error("`{}`: empty compose file", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Reading a compose file from standard input.
    #[error("`-f -` (standard input) is not supported")]
    Stdin,
    /// The YAML itself is broken.
    #[error("{place}: invalid YAML: {message}")]
    Yaml {
        /// Where.
        place: Place,
        /// What the parser said.
        message: String,
    },
    /// A value breaks the compose specification.
    #[error("{place}: {message}")]
    Spec {
        /// Where.
        place: Place,
        /// What is wrong.
        message: String,
    },
    /// Interpolation failed (an unset required variable, bad `${` syntax).
    #[error("{place}: in `{route}`: {error}")]
    Interpolation {
        /// Where.
        place: Place,
        /// The YAML route of the value.
        route: Route,
        /// What failed.
        error: Box<InterpolationError>,
    },
    /// A volume entry cannot be read.
    #[error("{place}: {error}")]
    Volume {
        /// Where.
        place: Place,
        /// What is wrong with it.
        error: Box<VolumeSyntaxError>,
    },
    /// A volume source made of variables that are unset or empty.
    #[error("{place}: volume `{spec}` has an empty source: {} not set", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))]
    UnsetSourceVariable {
        /// Where.
        place: Place,
        /// The entry as written.
        spec: String,
        /// The unset variables.
        names: Vec<String>,
    },
    /// An env file is broken.
    #[error(transparent)]
    EnvFile(EnvFileError),
    /// `include` of a file that does not exist.
    #[error("{place}: included or extended file `{}` does not exist", path.display())]
    IncludeMissing {
        /// Where the include is written.
        place: Place,
        /// The missing file.
        path: PathBuf,
    },
    /// `include` or `extends: file:` of a file that exists but cannot be read (permission
    /// denied on it or a directory above it, a directory).
    #[error("{place}: included or extended file `{}` cannot be read: {source}", path.display())]
    IncludeUnreadable {
        /// Where the include is written.
        place: Place,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Files include each other.
    #[error("include cycle: {}", chain.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(" -> "))]
    IncludeCycle {
        /// The files, the first repeated at the end.
        chain: Vec<PathBuf>,
    },
    /// An included file defines a service the project already has.
    #[error("service `{service}` is defined both in `{}` and in a file it includes", file.display())]
    IncludeConflict {
        /// The service.
        service: String,
        /// The including file.
        file: PathBuf,
    },
    /// Services extend each other in a loop.
    #[error("`extends` loop: {}", chain.join(" -> "))]
    ExtendsLoop {
        /// The services, the first repeated at the end.
        chain: Vec<String>,
    },
    /// `extends` names a service that does not exist.
    #[error("{place}: service `{service}` extends `{base}`, which `{}` does not define", file.display())]
    ExtendsMissing {
        /// Where the `extends` is written.
        place: Place,
        /// The extending service.
        service: String,
        /// The missing base service.
        base: String,
        /// The file searched.
        file: PathBuf,
    },
    /// The project name is empty after normalisation.
    #[error("project name `{raw}` has no letters or digits")]
    ProjectName {
        /// The name as given.
        raw: String,
    },
}

impl ComposeError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ComposeError::Read { .. } => {
                "check the path given with -f, COMPOSE_FILE or --env-file".into()
            }
            ComposeError::NotFound { .. } => {
                "run in the project directory, or name the files with -f or COMPOSE_FILE".into()
            }
            ComposeError::Empty { .. } => {
                "write the project in it (at least `services:`), or leave it out of -f and COMPOSE_FILE".into()
            }
            ComposeError::IncludeUnreadable { .. } => {
                "give the user running tierctl read access to the file and search (x) access to its directories".into()
            }
            ComposeError::Stdin => "save the compose file and pass its path with -f".into(),
            ComposeError::Yaml { message, .. } if message.contains("duplicate key") => {
                "a key is written once per mapping: merge the two entries into one, or remove one"
                    .into()
            }
            ComposeError::Yaml { .. } => "fix the YAML syntax at that line".into(),
            ComposeError::Spec { .. } => {
                "fix the value so it matches the compose specification (https://compose-spec.io)"
                    .into()
            }
            ComposeError::Interpolation { error, .. } => match &**error {
                InterpolationError::Required { name, .. } => {
                    format!("set `{name}` in the environment or in the project's .env file")
                }
                _ => "write `$$` for a literal `$`, and close every `${`".into(),
            },
            ComposeError::Volume { error, .. } => error
                .hint()
                .unwrap_or("write volumes as SOURCE:TARGET[:MODE] or use the long syntax")
                .into(),
            ComposeError::UnsetSourceVariable { names, .. } => format!(
                "set {} in the project's .env file or the environment (or pass --env-file)",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ComposeError::EnvFile(_) => "fix the line in the env file: KEY=VALUE".into(),
            ComposeError::IncludeMissing { .. } => {
                "fix the path; relative paths resolve against the including file's directory".into()
            }
            ComposeError::IncludeCycle { .. } => "remove one of the includes".into(),
            ComposeError::IncludeConflict { .. } => {
                "rename one of the services, or extend instead of include".into()
            }
            ComposeError::ExtendsLoop { .. } => "break the chain of `extends`".into(),
            ComposeError::ExtendsMissing { .. } => {
                "fix the service name in `extends`, or add `file:`".into()
            }
            ComposeError::ProjectName { .. } => "name the project with -p".into(),
        })
    }
}
