//! The delta's listing ([`delta::Listed`]) read on the host, when the host sees both trees of a
//! copy as the engine does: the same fields the list helper's busybox `find`/`stat` prints, from
//! `lstat` (the one [`Stat`] record; names [`name::encode`]d), without starting a container (one container less while the services are stopped).

use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::engine::{EngineError, Helpers, MountSource};
use crate::migrate::copy::CopyJob;
use crate::migrate::delta::{Listed, Listing};
use crate::migrate::tree::name;
use crate::migrate::tree::stat::Stat;

/// Both trees of `job` listed on the host; `Ok(None)` when the host does not see one of them as
/// the engine does, or may not read it (the list helper is used then).
pub fn on_host(engine: &dyn Helpers, job: &CopyJob) -> Result<Option<Listed>, EngineError> {
    let Some((source, target)) = host_roots(engine, job)? else {
        return Ok(None);
    };
    // the clock before the listing, as the helper's `date +%s`
    let began = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    // both at once: the services are down while this runs
    let (source, target) = std::thread::scope(|scope| {
        let target = scope.spawn(|| list(&target));
        let source = list(&source);
        let target = target
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the listing thread panicked")));
        (source, target)
    });
    match (source, target) {
        (Ok(source), Ok(target)) => Ok(Some(Listed {
            began,
            source,
            target,
        })),
        _ => Ok(None),
    }
}

/// Where the host sees both trees of `job` as the engine does (source, target); `None` when it
/// does not see one of them so, or may not list it.
pub fn host_roots(
    engine: &dyn Helpers,
    job: &CopyJob,
) -> Result<Option<(PathBuf, PathBuf)>, EngineError> {
    Ok(
        match (
            engine.host_path(&job.source)?,
            engine.host_path(&MountSource::Bind(job.target.clone()))?,
        ) {
            (Some(source), Some(target)) => Some((source, target)),
            _ => None,
        },
    )
}

/// Every entry of the tree at `root` (`.` is the root), as [`on_host`] lists each side.
pub fn list(root: &Path) -> io::Result<Listing> {
    let mut out = Listing::new();
    walk(root, ".", &fs::symlink_metadata(root)?, &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, rel: &str, meta: &Metadata, out: &mut Listing) -> io::Result<()> {
    out.insert(rel.to_owned(), Stat::of(meta));
    for item in fs::read_dir(dir)? {
        let item = item?;
        let name = name::encode_os(&item.file_name());
        let path = if rel == "." {
            name
        } else {
            format!("{rel}/{name}")
        };
        // lstat relative to the open directory (no path lookup from the root)
        let meta = item.metadata()?;
        if meta.is_dir() {
            walk(&item.path(), &path, &meta, out)?;
        } else {
            out.insert(path, Stat::of(&meta));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::tree::manifest::Kind;

    #[test]
    fn lists_what_the_list_helper_prints() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        fs::create_dir(root.join("d")).expect("dir");
        fs::write(root.join("d/f"), "12345").expect("file");
        fs::hard_link(root.join("d/f"), root.join("h")).expect("hardlink");
        std::os::unix::fs::symlink("d/f", root.join("l")).expect("symlink");
        let mut out = Listing::new();
        walk(
            root,
            ".",
            &fs::symlink_metadata(root).expect("root"),
            &mut out,
        )
        .expect("walk");
        assert_eq!(out.keys().collect::<Vec<_>>(), [".", "d", "d/f", "h", "l"]);
        let f = &out["d/f"];
        assert_eq!((f.kind(), f.size, f.links), (Some(Kind::File), 5, 2));
        assert_eq!(out["h"].ino, f.ino);
        assert_eq!(out["l"].kind(), Some(Kind::Symlink));
        assert_eq!(out["l"].size, 3);
        assert_eq!(out["d"].kind(), Some(Kind::Dir));
    }
}
