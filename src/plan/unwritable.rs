//! Why the text cannot take a fix's edit: the edit is left to the user as a `ManualEdit`.

use std::path::PathBuf;

use thiserror::Error;

use crate::compose::origin::Route;

/// Why the text cannot take a fix's edit: the edit is left to the user ([`super::ManualEdit`]).
#[derive(Debug, Error)]
pub enum Unwritable {
    /// The new path is not UTF-8, so no YAML text can hold it.
    #[error("the new path is not UTF-8")]
    NotUtf8 {
        /// The new path.
        path: PathBuf,
    },
    /// A short-syntax entry that is not a single-line string.
    #[error("the entry is not a single-line string")]
    EntryNotOneLine {
        /// The entry's route.
        route: Route,
    },
    /// A short-syntax entry without a source.
    #[error("the entry has no source")]
    NoSource {
        /// The entry's route.
        route: Route,
    },
    /// A long-syntax `source:` that is not a single-line string.
    #[error("the source is not a single-line string")]
    SourceNotOneLine {
        /// The source's route.
        route: Route,
    },
    /// A flow-style long entry with a `volume:` block, which the bind cannot replace in place.
    #[error("a flow-style long entry with a `volume:` block")]
    FlowVolumeBlock {
        /// The entry's route.
        route: Route,
    },
    /// `--strict-binds` where the entry already has a `bind:` block.
    #[error("`--strict-binds` with an existing `bind:` block")]
    BindBlock {
        /// The entry's route.
        route: Route,
    },
    /// The env file holding the variable was not read by the loader.
    #[error("env file `{}` was not read", file.display())]
    EnvFileNotRead {
        /// The env file.
        file: PathBuf,
    },
    /// The env file has no such line.
    #[error("`{}` has no line {line}", file.display())]
    NoEnvLine {
        /// The env file.
        file: PathBuf,
        /// The 1-based line.
        line: usize,
    },
    /// The env line holds no single-line value.
    #[error("`{}` line {line} holds no single-line value", file.display())]
    EnvValueNotOneLine {
        /// The env file.
        file: PathBuf,
        /// The 1-based line.
        line: usize,
    },
    /// The new value cannot be quoted for the env line.
    #[error("the new value cannot be written on `{}` line {line}", file.display())]
    EnvValueUnwritable {
        /// The env file.
        file: PathBuf,
        /// The 1-based line.
        line: usize,
    },
}
