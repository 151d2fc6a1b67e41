//! The configuration of the user's tools (the docker CLI, the VM engines) as explicit inputs:
//! files through [`ConfigFiles`] (the disk in production, maps or temp dirs in tests) and the
//! environment as [`EnvVars`]. Both `engine::endpoint` and `vm/` read through them, so neither
//! depends on the other for it.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// Read access to configuration files; the disk in production, temp dirs or maps in tests.
pub trait ConfigFiles {
    /// The whole file as UTF-8 text.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Whether a directory exists at `path` (some tools choose their home by existence).
    fn dir_exists(&self, path: &Path) -> bool;
}

/// [`ConfigFiles`] backed by the real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskConfig;

impl ConfigFiles for DiskConfig {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn dir_exists(&self, path: &Path) -> bool {
        path.is_dir()
    }
}

/// An explicit environment: variable name to value. Empty values count as unset, as in the
/// docker CLI and colima (`os.Getenv(..) != ""`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvVars(BTreeMap<String, String>);

impl EnvVars {
    /// An empty environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder: set `key` to `value`.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.0.insert(key.to_owned(), value.to_owned());
        self
    }

    /// The value of `key`, `None` when unset or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EnvVars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}
