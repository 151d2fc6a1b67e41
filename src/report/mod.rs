//! Renderers: the only code that produces what goes to stdout.

pub mod human;
pub mod json;
pub mod migrate;
pub mod mounts;
pub mod plan;
pub mod prometheus;
pub mod verify;
pub mod vm;

use std::path::{Path, PathBuf};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    Human,
    /// The versioned JSON contract.
    Json,
    /// Prometheus textfile format for node_exporter (`tiers status` and `verify`).
    Prometheus,
}

/// How to show file paths: relative to the working directory when inside it.
#[derive(Clone, Debug)]
pub struct PathStyle {
    /// The working directory.
    pub cwd: PathBuf,
}

impl PathStyle {
    /// `path` as shown to the user.
    pub fn show(&self, path: &Path) -> String {
        match path.strip_prefix(&self.cwd) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
            _ => path.display().to_string(),
        }
    }
}
