//! VM share readers: which host paths a VM engine shares with its VM, where, writable or not.
//!
//! One module per engine. Every reader takes the files through [`ConfigFiles`], the environment
//! as an explicit [`EnvVars`] and the user's home directory, so tests run against temp dirs and
//! nothing here reads the process environment.

pub mod colima;
pub mod docker_desktop;
pub mod lima;
pub mod orbstack;
pub mod podman;
pub mod rancher;
pub mod synchronized;
#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod view;

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use crate::share::{Share, VmEngine, VmShares, share_for};
pub use crate::tool_config::{ConfigFiles, DiskConfig, EnvVars};

impl VmEngine {
    /// Read this engine's shares (`instance`: profile, instance or machine; each reader says
    /// what it does without one).
    pub fn read(self, host: HostConfig<'_>, instance: Option<&str>) -> Result<VmShares, VmError> {
        match self {
            VmEngine::Colima => colima::read(host, instance),
            VmEngine::Lima => lima::read(host, instance),
            VmEngine::DockerDesktop => docker_desktop::read(host, instance),
            VmEngine::RancherDesktop => rancher::read(host, instance),
            VmEngine::OrbStack => orbstack::read(host, instance),
            VmEngine::Podman => podman::read(host, instance),
        }
    }
}

/// What every reader reads from: the user's configuration files, environment and home
/// directory on the host (explicit inputs, so tests run on memory and temp dirs).
#[derive(Clone, Copy)]
pub struct HostConfig<'a> {
    /// The configuration files.
    pub files: &'a dyn ConfigFiles,
    /// The environment variables the engines' tools read.
    pub env: &'a EnvVars,
    /// The user's home directory.
    pub home: &'a Path,
}

impl<'a> HostConfig<'a> {
    /// The three inputs together.
    pub fn new(files: &'a dyn ConfigFiles, env: &'a EnvVars, home: &'a Path) -> Self {
        HostConfig { files, env, home }
    }
}

/// Why a VM's shares could not be read.
#[derive(Debug, Error)]
pub enum VmError {
    /// A file that must exist could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
        /// What to do about it.
        hint: String,
    },
    /// A file is not valid YAML or JSON, or has the wrong shape.
    #[error("`{}`{}: {message}", path.display(), at_line(*line))]
    Parse {
        /// The file.
        path: PathBuf,
        /// The 1-based line, when the parser knows it.
        line: Option<usize>,
        /// The parser's message.
        message: String,
        /// What to do about it.
        hint: String,
    },
    /// None of the places the engine keeps its configuration exist.
    #[error("no {engine} configuration found (looked in {})", list(searched))]
    NotFound {
        /// The engine.
        engine: VmEngine,
        /// The places looked in.
        searched: Vec<PathBuf>,
        /// What to do about it.
        hint: String,
    },
    /// A value in a file cannot be used.
    #[error("`{}`: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
        /// What to do about it.
        hint: String,
    },
}

impl VmError {
    /// What the user can do about it.
    pub fn hint(&self) -> &str {
        match self {
            VmError::Read { hint, .. }
            | VmError::Parse { hint, .. }
            | VmError::NotFound { hint, .. }
            | VmError::Invalid { hint, .. } => hint,
        }
    }

    /// A YAML error from `serde_norway`, with its line when known.
    pub(crate) fn yaml(path: &Path, err: &serde_norway::Error, hint: impl Into<String>) -> Self {
        VmError::Parse {
            path: path.to_owned(),
            line: err.location().map(|l| l.line()),
            message: err.to_string(),
            hint: hint.into(),
        }
    }

    /// A JSON error from `serde_json`, with its line.
    pub(crate) fn json(path: &Path, err: &serde_json::Error, hint: impl Into<String>) -> Self {
        VmError::Parse {
            path: path.to_owned(),
            line: Some(err.line()).filter(|l| *l > 0),
            message: err.to_string(),
            hint: hint.into(),
        }
    }
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(" line {l}")).unwrap_or_default()
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("`{}`", p.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Read a file that may be absent: `Ok(None)` when it does not exist.
pub(crate) fn read_optional(
    files: &dyn ConfigFiles,
    path: &Path,
    hint: &str,
) -> Result<Option<String>, VmError> {
    match files.read(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(VmError::Read {
            path: path.to_owned(),
            source,
            hint: hint.to_owned(),
        }),
    }
}

/// Expand a leading `~` (alone or followed by `/`) to `home`, as Lima and colima do.
pub fn expand_tilde(path: &str, home: &Path) -> PathBuf {
    if path == "~" {
        home.to_owned()
    } else if let Some(rest) = path.strip_prefix("~/") {
        home.join(rest)
    } else {
        PathBuf::from(path)
    }
}

#[cfg(test)]
pub(crate) mod testfiles {
    //! An in-memory [`ConfigFiles`] and the corpus location for reader tests.

    use super::ConfigFiles;
    use std::collections::BTreeMap;
    use std::io;
    use std::path::{Path, PathBuf};

    /// The home directory of the readers' tests.
    pub const HOME: &str = "/Users/alice";

    /// Files and directories held in memory.
    #[derive(Default)]
    pub struct MemFiles {
        files: BTreeMap<PathBuf, String>,
        answers: BTreeMap<(PathBuf, String), String>,
    }

    impl MemFiles {
        pub fn new() -> Self {
            Self::default()
        }

        pub fn file(mut self, path: impl AsRef<Path>, text: &str) -> Self {
            self.files.insert(path.as_ref().to_owned(), text.to_owned());
            self
        }

        /// What a local API on `socket` answers to `GET path`.
        pub fn answer(mut self, socket: impl AsRef<Path>, path: &str, text: &str) -> Self {
            self.answers.insert(
                (socket.as_ref().to_owned(), path.to_owned()),
                text.to_owned(),
            );
            self
        }

        /// A directory, recorded as a marker file inside it.
        pub fn dir(self, path: impl AsRef<Path>) -> Self {
            let marker = path.as_ref().join(".dir");
            self.file(marker, "")
        }
    }

    impl ConfigFiles for MemFiles {
        fn read(&self, path: &Path) -> io::Result<String> {
            self.files
                .get(path)
                .cloned()
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }

        fn dir_exists(&self, path: &Path) -> bool {
            self.files.keys().any(|p| p.starts_with(path) && p != path)
        }

        fn local_api(&self, socket: &Path, path: &str) -> io::Result<String> {
            self.answers
                .get(&(socket.to_owned(), path.to_owned()))
                .cloned()
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }
    }

    /// The engines corpus, or `None` (with a loud note) when it is not there.
    pub fn corpus_engines() -> Option<PathBuf> {
        let root = std::env::var_os("TIERCTL_CORPUS")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
        let dir = root.join("engines");
        if dir.is_dir() {
            Some(dir)
        } else {
            // straight to stderr: libtest captures `eprintln!` of a passing test
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {}: corpus not found at `{}` (set TIERCTL_CORPUS to the corpus root)",
                std::thread::current().name().unwrap_or("a test"),
                dir.display()
            );
            None
        }
    }

    /// A fixture under `fixtures/engines/`.
    pub fn fixture(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/engines")
            .join(rel)
    }

    /// Read a file the test depends on.
    pub fn text(path: &Path) -> String {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()))
    }
}
