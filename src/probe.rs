//! The only code that looks at the world for the pure core: it reads files and fills `Facts`.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::compose::load::Files;
use crate::facts::{DatabaseSign, Facts};

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

/// Those of `dirs` that are directories holding at least one entry (tierctl's own marker files
/// aside); unreadable ones are left out.
pub fn holding(dirs: &[PathBuf]) -> std::collections::BTreeSet<PathBuf> {
    dirs.iter()
        .filter(|dir| {
            std::fs::read_dir(dir).is_ok_and(|mut entries| {
                entries.any(|e| {
                    e.is_ok_and(|e| !e.file_name().to_string_lossy().starts_with(".tierctl-"))
                })
            })
        })
        .cloned()
        .collect()
}

/// How deep under a bind source the database files are looked for (Plex keeps its own five
/// directories down; the image route finds it anyway).
const DATABASE_DEPTH: usize = 6;

/// How many entries of one bind source are looked at, at most: a media library is not read
/// through.
const DATABASE_ENTRIES: usize = 20_000;

/// How many database files are enough to say so.
const DATABASE_SIGNS: usize = 8;

/// The database files each existing directory among `paths` holds (`database::sign`: by name,
/// and by the first 16 bytes of each regular file), keyed by the path as given; directories
/// holding none are left out. Symlinks are not followed; unreadable entries are skipped.
pub fn databases(paths: &[PathBuf]) -> BTreeMap<PathBuf, Vec<DatabaseSign>> {
    paths
        .iter()
        .filter(|p| p.is_dir())
        .filter_map(|p| {
            let signs = database_signs(p);
            (!signs.is_empty()).then(|| (p.clone(), signs))
        })
        .collect()
}

/// The database files under one directory, breadth first, within the bounds above.
fn database_signs(root: &Path) -> Vec<DatabaseSign> {
    let mut signs = Vec::new();
    let mut queue: VecDeque<(PathBuf, usize)> = VecDeque::from([(PathBuf::new(), 0)]);
    let mut seen = 0usize;
    'walk: while let Some((relative, depth)) = queue.pop_front() {
        let Ok(entries) = std::fs::read_dir(root.join(&relative)) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > DATABASE_ENTRIES || signs.len() >= DATABASE_SIGNS {
                break 'walk;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = relative.join(entry.file_name());
            let head = if kind.is_file() {
                head(&entry.path())
            } else {
                Vec::new()
            };
            if kind.is_dir() || kind.is_file() {
                signs.extend(crate::database::sign(&path, kind.is_dir(), &head));
            }
            if kind.is_dir() && depth + 1 < DATABASE_DEPTH {
                queue.push_back((path, depth + 1));
            }
        }
    }
    signs.sort();
    signs
}

/// The first 16 bytes of a file (fewer when it is shorter; none when it cannot be read).
fn head(path: &Path) -> Vec<u8> {
    let mut buf = [0u8; 16];
    let Ok(mut file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    buf[..filled].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databases_found_by_content_under_a_bind_source() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path();
        let state = root.join("state");
        std::fs::create_dir_all(state.join("db")).expect("mkdir");
        let mut sqlite = crate::database::SQLITE_HEADER.to_vec();
        sqlite.extend([0u8; 84]);
        std::fs::write(state.join("db/app.db"), &sqlite).expect("write");
        std::fs::write(state.join("db/app.db-wal"), b"").expect("write");
        std::fs::write(state.join("notes.txt"), b"SQLite format 2 is not 3").expect("write");
        let pg = root.join("pg");
        std::fs::create_dir_all(&pg).expect("mkdir");
        std::fs::write(pg.join("PG_VERSION"), b"16\n").expect("write");
        let media = root.join("media");
        std::fs::create_dir_all(&media).expect("mkdir");
        std::fs::write(media.join("a.jpg"), b"\xff\xd8\xff\xe0").expect("write");
        let missing = root.join("missing");
        let found = databases(&[state.clone(), pg.clone(), media, missing]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            found[&state],
            vec![
                DatabaseSign::Sqlite {
                    file: "db/app.db".into()
                },
                DatabaseSign::SqliteJournal {
                    file: "db/app.db-wal".into()
                },
            ]
        );
        assert_eq!(
            found[&pg],
            vec![DatabaseSign::Postgres {
                file: "PG_VERSION".into()
            }]
        );
    }
}
