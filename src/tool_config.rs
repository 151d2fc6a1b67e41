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
    /// The body of a `GET path` answered `200` by a local API on the Unix socket `socket` (Docker
    /// Desktop keeps its synchronized file shares there, not in a file); `NotFound` when no such
    /// socket exists.
    fn local_api(&self, socket: &Path, path: &str) -> io::Result<String> {
        let _ = (socket, path);
        Err(io::Error::from(io::ErrorKind::NotFound))
    }
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

    /// HTTP/1.0 (the server closes the stream after its answer, unchunked), 3 s at most.
    fn local_api(&self, socket: &Path, path: &str) -> io::Result<String> {
        use std::io::{Read, Write};
        let limit = Some(std::time::Duration::from_secs(3));
        let mut stream = std::os::unix::net::UnixStream::connect(socket)?;
        stream.set_read_timeout(limit)?;
        stream.set_write_timeout(limit)?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut answer = String::new();
        stream.take(16 << 20).read_to_string(&mut answer)?;
        let (head, body) = answer
            .split_once("\r\n\r\n")
            .ok_or_else(|| io::Error::other(format!("no HTTP answer to GET {path}")))?;
        let status = head.lines().next().unwrap_or_default();
        if status.split_whitespace().nth(1) != Some("200") {
            return Err(io::Error::other(format!("GET {path}: `{status}`")));
        }
        Ok(body.to_owned())
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
