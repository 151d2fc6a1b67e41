//! A copy now against the manifest its journal kept when it verified (pure): every path that
//! differs, with each field, and whether a content change is *silent* (size and mtime as kept:
//! nothing wrote it through the filesystem).

use std::collections::{BTreeMap, BTreeSet};

use crate::migrate::tree::manifest::{self, Difference, Kind, Manifest, Rules};
use crate::report::reports::{DifferenceKind, FieldChange, PathDifference};

/// Every path of `now` that differs from `kept`, in path order; the content of a file is
/// compared only when `read` holds its path (`None`: every file's content was read).
pub fn differences(
    kept: &Manifest,
    now: &Manifest,
    read: Option<&BTreeSet<String>>,
) -> Vec<PathDifference> {
    let unread = |m: &Manifest| {
        let mut m = m.clone();
        if let Some(read) = read {
            for (path, entry) in m.entries.iter_mut() {
                if entry.kind == Kind::File && !read.contains(path) {
                    entry.hash = None;
                }
            }
        }
        m
    };
    let mut by_path: BTreeMap<String, PathDifference> = BTreeMap::new();
    let mut add = |path: String, kind: DifferenceKind, field: Option<FieldChange>| {
        let row = by_path
            .entry(path.clone())
            .or_insert_with(|| PathDifference {
                path,
                kind,
                fields: Vec::new(),
                silent: false,
            });
        row.fields.extend(field);
    };
    for d in manifest::compare(&unread(kept), &unread(now), Rules::default()) {
        match d {
            Difference::Missing { path } => add(path, DifferenceKind::Missing, None),
            Difference::Extra { path } => add(path, DifferenceKind::Extra, None),
            Difference::Changed {
                path,
                field,
                source,
                copy,
            } => {
                let change = FieldChange {
                    field: field.to_owned(),
                    kept: source,
                    now: copy,
                };
                add(path, DifferenceKind::Changed, Some(change));
            }
        }
    }
    let mut rows: Vec<PathDifference> = by_path.into_values().collect();
    for row in &mut rows {
        let has = |name: &str| row.fields.iter().any(|f| f.field == name);
        row.silent = has("content") && !has("size") && !has("mtime") && !has("type");
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::tree::manifest::{Digest, Entry};

    fn file(hash: &str, size: u64, mtime: u64) -> Entry {
        Entry {
            kind: Kind::File,
            size,
            uid: 999,
            gid: 999,
            mode: 0o640,
            mtime: Some(mtime),
            mtime_nsec: None,
            link: None,
            device: None,
            hardlink_group: None,
            hash: Some(hash.into()),
            xattrs: None,
        }
    }

    fn tree(files: &[(&str, Entry)]) -> Manifest {
        let mut root = file("", 0, 1);
        root.kind = Kind::Dir;
        root.hash = None;
        let mut entries = BTreeMap::from([(".".to_owned(), root)]);
        for (path, entry) in files {
            entries.insert((*path).to_owned(), entry.clone());
        }
        Manifest {
            entries,
            digest: Digest::Blake3,
        }
    }

    #[test]
    fn every_path_that_differs_is_named_once_with_its_fields() {
        let kept = tree(&[
            ("rot", file("a", 10, 5)),
            ("written", file("b", 10, 5)),
            ("gone", file("c", 1, 5)),
            ("same", file("d", 1, 5)),
            ("chmod", file("e", 1, 5)),
        ]);
        let mut chmod = file("e", 1, 5);
        chmod.mode = 0o600;
        chmod.uid = 0;
        let now = tree(&[
            ("rot", file("A", 10, 5)),
            ("written", file("B", 12, 9)),
            ("same", file("d", 1, 5)),
            ("chmod", chmod),
            ("new", file("f", 1, 5)),
        ]);
        let rows = differences(&kept, &now, None);
        let shown: Vec<(&str, DifferenceKind, Vec<&str>, bool)> = rows
            .iter()
            .map(|r| {
                let fields = r.fields.iter().map(|f| f.field.as_str()).collect();
                (r.path.as_str(), r.kind, fields, r.silent)
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("chmod", DifferenceKind::Changed, vec!["uid", "mode"], false),
                ("gone", DifferenceKind::Missing, vec![], false),
                ("new", DifferenceKind::Extra, vec![], false),
                ("rot", DifferenceKind::Changed, vec!["content"], true),
                (
                    "written",
                    DifferenceKind::Changed,
                    vec!["size", "mtime", "content"],
                    false
                ),
            ]
        );
        assert_eq!(
            (
                rows[3].fields[0].kept.as_str(),
                rows[3].fields[0].now.as_str()
            ),
            ("a", "A")
        );
    }

    #[test]
    fn only_the_files_read_have_their_content_compared() {
        let kept = tree(&[("a", file("1", 1, 5)), ("b", file("2", 1, 5))]);
        let mut now = tree(&[("a", file("x", 1, 5)), ("b", file("y", 1, 5))]);
        // a file not read: the listing has no hash for it
        now.entries.get_mut("b").expect("b").hash = None;
        let read = BTreeSet::from(["a".to_owned()]);
        let rows = differences(&kept, &now, Some(&read));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].path, "a");
    }
}
