//! Compose `.env` files and the variable environment they build, with the
//! origin of every value.
//!
//! The parser follows compose-go's `dotenv` package: blank lines and `#`
//! comment lines are skipped; `export ` may prefix a statement; `KEY=VALUE`
//! and the YAML-like `KEY: VALUE` both assign; a bare `KEY` line inherits the
//! value from the lookup (and is dropped when the lookup has none); unquoted
//! values end at the line end or at ` #`, and are trimmed; single-quoted values
//! are literal; double-quoted values may span lines and expand escapes
//! (`\n`, `\t`, `\"`, `\\`, `\$`, ...). Unquoted and double-quoted values are
//! interpolated, resolving a name first through the lookup and then through
//! the keys defined earlier in the same file, as compose-go does.

use std::path::PathBuf;

use indexmap::IndexMap;

use super::interpolate::{Interpolated, InterpolationError, interpolate};

mod dotenv;

pub use dotenv::parse_env_file;

/// Where a variable's value came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum VarSource {
    /// A line of an env file (`.env` or `--env-file`).
    EnvFile {
        /// The env file, as the caller named it.
        path: PathBuf,
        /// 1-based line where the statement starts.
        line: usize,
    },
    /// The process environment.
    Environment,
}

/// A variable's value and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvVar {
    /// The value, fully interpolated.
    pub value: String,
    /// Its origin.
    pub source: VarSource,
}

/// The variables compose interpolates with (env files under the process environment), in
/// first-definition order. Not to be confused with `settings::Environment`, the process
/// environment tierctl itself was started with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComposeEnv {
    vars: IndexMap<String, EnvVar>,
}

impl ComposeEnv {
    /// An environment with no variables.
    pub fn new() -> ComposeEnv {
        ComposeEnv::default()
    }

    /// The variable `name`, if set.
    pub fn get(&self, name: &str) -> Option<&EnvVar> {
        self.vars.get(name)
    }

    /// Sets `name`, replacing any earlier value.
    pub fn insert(&mut self, name: String, var: EnvVar) {
        self.vars.insert(name, var);
    }

    /// Interpolates `text` against these variables.
    pub fn interpolate(&self, text: &str) -> Result<Interpolated, InterpolationError> {
        interpolate(text, &|name| self.get(name).map(|var| var.value.clone()))
    }

    /// Every variable, in first-definition order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &EnvVar)> {
        self.vars.iter().map(|(name, var)| (name.as_str(), var))
    }

    /// Builds the environment from parsed env files with compose's precedence:
    /// later files override earlier ones, and the process environment overrides
    /// every file.
    pub fn layered(
        process: impl IntoIterator<Item = (String, String)>,
        files: &[EnvFile],
    ) -> ComposeEnv {
        let mut env = ComposeEnv::new();
        for file in files {
            for entry in &file.entries {
                env.insert(
                    entry.key.clone(),
                    EnvVar {
                        value: entry.value.clone(),
                        source: VarSource::EnvFile {
                            path: file.path.clone(),
                            line: entry.line,
                        },
                    },
                );
            }
        }
        for (name, value) in process {
            env.insert(
                name,
                EnvVar {
                    value,
                    source: VarSource::Environment,
                },
            );
        }
        env
    }

    /// Parses env files given as `(path, text)` in order and layers them as
    /// [`ComposeEnv::layered`] does. Each file is interpolated the way
    /// compose-go's `GetEnvFromFile` does it: a name resolves through the
    /// process environment, then the files before it, then the keys defined
    /// earlier in the same file.
    pub fn load(
        process: impl IntoIterator<Item = (String, String)>,
        files: &[(PathBuf, String)],
    ) -> Result<ComposeEnv, EnvFileError> {
        let process: IndexMap<String, String> = process.into_iter().collect();
        let mut earlier: IndexMap<String, String> = IndexMap::new();
        let mut parsed = Vec::with_capacity(files.len());
        for (path, text) in files {
            let lookup = |name: &str| process.get(name).or_else(|| earlier.get(name)).cloned();
            let file = parse_env_file(path, text, &lookup)?;
            for entry in &file.entries {
                earlier.insert(entry.key.clone(), entry.value.clone());
            }
            parsed.push(file);
        }
        Ok(ComposeEnv::layered(process, &parsed))
    }
}

/// One parsed env file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvFile {
    /// The file, as the caller named it.
    pub path: PathBuf,
    /// Its assignments in file order; a key may repeat (the last one wins).
    pub entries: Vec<EnvEntry>,
}

impl EnvFile {
    /// The entry that sets `key` last, if any.
    pub fn get(&self, key: &str) -> Option<&EnvEntry> {
        self.entries.iter().rev().find(|entry| entry.key == key)
    }
}

/// One assignment in an env file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvEntry {
    /// The variable name.
    pub key: String,
    /// The value after unquoting, escapes and interpolation.
    pub value: String,
    /// 1-based line where the statement starts.
    pub line: usize,
    /// The full source line(s) the statement occupies, without the final line
    /// break; several lines for a multi-line quoted value.
    pub raw_line: String,
}

/// Why an env file could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvFileError {
    /// A key holds a character outside `[A-Za-z0-9_.\-\[\]]` (letters and
    /// digits may be any Unicode ones), e.g. a line such as `lol$wut`.
    #[error("invalid env file `{path}` line {line}: unexpected character `{character}` in variable name `{text}`", path = .path.display())]
    InvalidKey {
        /// The env file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The offending character.
        character: char,
        /// The statement's text up to the end of its line.
        text: String,
    },
    /// A key with a space inside, e.g. `MY KEY=1`.
    #[error("invalid env file `{path}` line {line}: variable name `{key}` contains a space", path = .path.display())]
    KeyWithSpace {
        /// The env file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The key as written.
        key: String,
    },
    /// A quoted value without its closing quote.
    #[error("invalid env file `{path}` line {line}: unterminated quoted value for `{key}`", path = .path.display())]
    UnterminatedQuote {
        /// The env file.
        path: PathBuf,
        /// 1-based line where the value starts.
        line: usize,
        /// The key being assigned.
        key: String,
    },
    /// A value whose interpolation failed.
    #[error("invalid env file `{path}` line {line}: value of `{key}`: {source}", path = .path.display())]
    Interpolation {
        /// The env file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The key being assigned.
        key: String,
        /// The interpolation failure.
        source: InterpolationError,
    },
}

#[cfg(test)]
mod tests;
