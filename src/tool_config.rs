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

#[cfg(test)]
mod local_api_tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixListener;

    /// A one-shot server on `socket` that answers `answer` and hands back the request line.
    fn serve(socket: &Path, answer: &'static str) -> std::thread::JoinHandle<String> {
        let listener = UnixListener::bind(socket).expect("bind");
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream);
            let mut request = String::new();
            reader.read_line(&mut request).expect("request line");
            let mut line = String::new();
            while reader.read_line(&mut line).expect("header") > 2 {
                line.clear();
            }
            reader
                .get_mut()
                .write_all(answer.as_bytes())
                .expect("answer");
            request
        })
    }

    #[test]
    fn issue22_a_get_on_a_local_api_socket_reads_the_body_of_a_200_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("api.sock");
        let server = serve(
            &socket,
            "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[{\"alpha\":{\"path\":\"/x\"}}]",
        );
        let body = DiskConfig
            .local_api(&socket, "/mutagen/file-shares")
            .expect("answered");
        assert_eq!(body, "[{\"alpha\":{\"path\":\"/x\"}}]");
        assert_eq!(
            server.join().expect("server"),
            "GET /mutagen/file-shares HTTP/1.0\r\n"
        );
        std::fs::remove_file(&socket).expect("remove socket");
        let server = serve(&socket, "HTTP/1.0 404 Not Found\r\n\r\nno");
        let err = DiskConfig
            .local_api(&socket, "/mutagen/file-shares")
            .expect_err("404");
        assert!(err.to_string().contains("404 Not Found"), "{err}");
        server.join().expect("server");
        let missing = DiskConfig
            .local_api(&dir.path().join("none.sock"), "/x")
            .expect_err("no socket");
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }
}
