//! The delta's listing of both trees of a copy ([`Listed`]: every entry's one [`Stat`] record,
//! names [`name::encode`]d): the list helper's command and the parse of its output, and the
//! same read on the host with `lstat` ([`list`]), without starting a container (one container
//! less while the services are stopped). [`super::reader`] chooses which.

use std::collections::BTreeMap;
use std::fs::{self, Metadata};
use std::io;
use std::path::Path;

use super::helper::{self, Depth, ListingError};
use super::name;
use super::stat::Stat;
use crate::migrate::copy;

/// A tree's entries by path relative to its root (`.` is the root; names
/// [`name::encode`]d), each with what `stat` said of it (the one record, [`Stat`]).
pub type Listing = BTreeMap<String, Stat>;

/// What the list helper printed: its clock when it began, and both trees.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listed {
    /// `date +%s` before the listing.
    pub began: i64,
    /// The source (`/from`).
    pub source: Listing,
    /// The target (`/to`).
    pub target: Listing,
}

/// The list helper's roots: both trees, metadata only.
pub const LIST_ROOTS: [(&str, Depth); 2] = [(copy::FROM, Depth::Listed), (copy::TO, Depth::Listed)];

/// The list helper's command: the clock, then the manifest helper's listing of both trees (the
/// one `stat` format; names as hex of their bytes, so a newline or a byte that is not UTF-8 in
/// a name lists like any other).
pub fn list_command() -> Vec<String> {
    helper::command("date +%s || exit 1", "tierctl-list", &LIST_ROOTS)
}

/// Read the list helper's output; `Err` says what could not be read.
pub fn parse_listed(text: &str) -> Result<Listed, ListingError> {
    let (clock, rest) = text.split_once('\n').unwrap_or((text, ""));
    let began = clock.trim().parse().map_err(|_| ListingError::NoClock)?;
    let [source, target]: [Listing; 2] = helper::parse_listing(rest, &LIST_ROOTS)?
        .try_into()
        .map_err(|_| ListingError::FewerTrees)?;
    Ok(Listed {
        began,
        source,
        target,
    })
}

/// Every entry of the tree at `root` (`.` is the root), as [`super::reader::HostReader`] lists each side.
pub fn list(root: &Path) -> io::Result<Listing> {
    let mut out = Vec::new();
    walk(root, ".", &fs::symlink_metadata(root)?, &mut out)?;
    // collected at once: full nodes (inserted in order, a B-tree's leaves stay half empty)
    Ok(out.into_iter().collect())
}

fn walk(dir: &Path, rel: &str, meta: &Metadata, out: &mut Vec<(String, Stat)>) -> io::Result<()> {
    out.push((rel.to_owned(), Stat::of(meta)));
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
            out.push((path, Stat::of(&meta)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::tree::manifest::Kind;

    /// One root as the manifest helper lists it: `(name bytes, stat line)`, one batch.
    fn root_text(root: &str, entries: &[(&[u8], &str)]) -> String {
        let mut names = Vec::new();
        for (name, _) in entries {
            names.extend_from_slice(name);
            names.push(0);
        }
        let hex: String = names.iter().map(|b| format!(" {b:02x}")).collect();
        let stats: String = entries.iter().map(|(_, l)| format!("{l}\n")).collect();
        format!(
            "@root list {root}\n@batch {}\n{hex}\n@stat\n{stats}@links\n@sums\n@end\n",
            entries.len()
        )
    }

    #[test]
    fn parses_both_trees_and_the_clock() {
        let from = root_text(
            "/from",
            &[
                (b"/from", "41ed 4096 0 0 1700000000 1700000000 48 10 3 0 0"),
                (
                    b"/from/a b",
                    "81a4 5 999 999 1700000001 1700000002 48 11 1 0 0",
                ),
                (
                    b"/from/x\n\xff",
                    "81a4 1 0 0 1700000001 1700000002 48 12 1 0 0",
                ),
            ],
        );
        let to = root_text(
            "/to",
            &[(b"/to", "41ed 4096 0 0 1700000000 1700000050 49 20 2 0 0")],
        );
        let text = format!("1700000100\n{from}{to}@done\n");
        let listed = parse_listed(&text).expect("readable");
        assert_eq!(listed.began, 1_700_000_100);
        assert_eq!(listed.source.len(), 3);
        let file = &listed.source["a b"];
        assert_eq!(
            (file.kind(), file.permissions(), file.size, file.ctime),
            (Some(Kind::File), 0o644, 5, 1_700_000_002)
        );
        // a newline and a byte that is not UTF-8: the name as bytes
        assert!(listed.source.contains_key(&name::encode(b"x\n\xff")));
        assert_eq!(listed.target["."].kind(), Some(Kind::Dir));
        assert!(parse_listed("1\nnot a line\n").is_err());
        assert!(parse_listed("").is_err());
        assert!(parse_listed(&format!("1700000100\n{from}@done\n")).is_err());
    }

    #[test]
    fn lists_what_the_list_helper_prints() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        fs::create_dir(root.join("d")).expect("dir");
        fs::write(root.join("d/f"), "12345").expect("file");
        fs::hard_link(root.join("d/f"), root.join("h")).expect("hardlink");
        std::os::unix::fs::symlink("d/f", root.join("l")).expect("symlink");
        let out = list(root).expect("walk");
        assert_eq!(out.keys().collect::<Vec<_>>(), [".", "d", "d/f", "h", "l"]);
        let f = &out["d/f"];
        assert_eq!((f.kind(), f.size, f.links), (Some(Kind::File), 5, 2));
        assert_eq!(out["h"].ino, f.ino);
        assert_eq!(out["l"].kind(), Some(Kind::Symlink));
        assert_eq!(out["l"].size, 3);
        assert_eq!(out["d"].kind(), Some(Kind::Dir));
    }
}
