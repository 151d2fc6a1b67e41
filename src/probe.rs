//! The only code that looks at the world for the pure core: it reads files and fills `Facts`.

use std::io;
use std::path::{Path, PathBuf};

use crate::compose::load::Files;
use crate::facts::Facts;

/// Files read from the real disk.
pub struct DiskFiles;

impl Files for DiskFiles {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }
}

/// Facts about the given host paths (symlink chains, real paths, existence).
pub fn paths(paths: Vec<PathBuf>) -> Facts {
    crate::fsx::probe_paths(paths)
}
