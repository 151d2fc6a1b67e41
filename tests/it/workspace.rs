//! A temp-dir builder for test projects: files, directories and real symlinks.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A temporary directory that tests fill with a compose project and tiers.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::Builder::new()
                .prefix("tierctl-test-")
                .tempdir()
                .expect("temp dir"),
        }
    }

    /// The workspace root (canonical, so it compares with resolved paths).
    pub fn root(&self) -> PathBuf {
        self.dir.path().canonicalize().expect("canonical temp dir")
    }

    /// A path inside the workspace.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Writes a file; `{root}` in the text becomes the workspace root.
    pub fn file(self, rel: &str, text: &str) -> Self {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("file has a parent")).expect("mkdir");
        let text = text.replace("{root}", &self.root().display().to_string());
        std::fs::write(&path, text).expect("write file");
        self
    }

    /// Creates a directory (and its parents).
    pub fn dir(self, rel: &str) -> Self {
        std::fs::create_dir_all(self.path(rel)).expect("mkdir");
        self
    }

    /// Creates a symlink at `rel` whose text is `target` (`{root}` expanded).
    pub fn symlink(self, rel: &str, target: &str) -> Self {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("link has a parent")).expect("mkdir");
        let target = target.replace("{root}", &self.root().display().to_string());
        std::os::unix::fs::symlink(target, &path).expect("symlink");
        self
    }

    /// `tierctl` run in `rel` (a directory of the workspace).
    pub fn tierctl(&self, rel: &str) -> Command {
        let mut cmd = Command::cargo_bin("tierctl").expect("binary built");
        cmd.current_dir(self.path(rel))
            .env_remove("COMPOSE_FILE")
            .env_remove("COMPOSE_PROJECT_NAME")
            .env_remove("COMPOSE_PROFILES")
            .env_remove("TIERCTL_TIERS")
            .env("NO_COLOR", "1")
            .env("HOME", self.path("home"));
        cmd
    }

    /// Replaces the workspace root in output with `[ROOT]` for snapshots.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.root().display().to_string(), "[ROOT]")
    }
}

/// `path` relative to `base`, for messages.
#[allow(dead_code)]
pub fn rel(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}
