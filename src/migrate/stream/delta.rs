//! Pure: the delta of a move to another engine. Two engines cannot list both trees in one
//! helper (the local [`crate::migrate::delta`] does), so the delta compares manifests: the manifest of
//! the copy on B taken right after the pre-copy (what B holds) with the manifest of A's source
//! taken once A is stopped (what B must hold). What differs becomes three lists: paths B
//! removes, entries A sends in one tar (only regular files carry data; directories, symlinks,
//! FIFOs, devices and hardlinks are headers made from the manifest) and files whose owner,
//! mode or mtime alone changed, fixed in place on B.

use std::collections::{BTreeMap, BTreeSet};

use crate::migrate::tree::manifest::{Entry, Kind, Manifest};

/// What B does to turn its pre-copied tree into A's stopped one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrossDelta {
    /// Paths B removes before the tar is extracted: gone from A, or of another kind there
    /// (outermost only: a removed directory takes its entries with it).
    pub remove: Vec<String>,
    /// Entries of A's tree written into the tar, in path order (a directory before what is in
    /// it, a hardlink group's first path before its other paths).
    pub send: Vec<Sent>,
    /// Files whose content is unchanged but whose owner, mode or mtime changed.
    pub fix: Vec<String>,
}

/// One entry of the delta's tar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// A regular file: its content is read from A.
    Data(String),
    /// A hardlink to the first path of its group (written before it, or unchanged on B).
    Link {
        /// The entry's path.
        path: String,
        /// The group's first path.
        to: String,
    },
    /// A directory, symlink, FIFO or device: a header made from A's manifest entry.
    Header(String),
}

impl Sent {
    /// The entry's path.
    pub fn path(&self) -> &str {
        match self {
            Sent::Data(p) | Sent::Header(p) | Sent::Link { path: p, .. } => p,
        }
    }
}

impl CrossDelta {
    /// Regular files whose content is sent.
    pub fn data(&self) -> impl Iterator<Item = &str> {
        self.send.iter().filter_map(|s| match s {
            Sent::Data(p) => Some(p.as_str()),
            _ => None,
        })
    }

    /// Whether B already holds A's tree.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.send.is_empty() && self.fix.is_empty()
    }
}

/// The delta from `pre` (the copy on B after the pre-copy) to `now` (A's stopped source). The
/// root (`.`) is left out: its attributes are set after every pass.
pub fn plan(pre: &Manifest, now: &Manifest) -> CrossDelta {
    let remove = removed(pre, now);
    let groups = changed_groups(pre, now);
    let mut sent: BTreeMap<&str, Sent> = BTreeMap::new();
    let mut fix = Vec::new();
    for (path, entry) in now.entries.iter().filter(|(p, _)| p.as_str() != ".") {
        let old = pre.entries.get(path);
        let grouped = entry
            .hardlink_group
            .as_deref()
            .filter(|g| groups.contains(*g));
        if let Some(to) = grouped {
            sent.insert(path, member(path, to));
        } else if old == Some(entry) {
            continue;
        } else if entry.kind != Kind::File {
            sent.insert(path, Sent::Header(path.clone()));
        } else if old.is_some_and(|o| same_content(o, entry)) {
            fix.push(path.clone());
        } else {
            sent.insert(path, Sent::Data(path.clone()));
        }
    }
    // every directory above something that changes on B gets its attributes (its mtime moves
    // when an entry is created or removed in it)
    let touched: Vec<String> = sent
        .keys()
        .map(|p| (*p).to_owned())
        .chain(remove.iter().cloned())
        .collect();
    for path in &touched {
        for dir in ancestors(path) {
            if now.entries.get(dir).is_some_and(|e| e.kind == Kind::Dir) {
                sent.entry(dir)
                    .or_insert_with(|| Sent::Header(dir.to_owned()));
            }
        }
    }
    CrossDelta {
        remove,
        send: sent.into_values().collect(),
        fix,
    }
}

/// A member of a changed hardlink group: the group's first path carries the data.
fn member(path: &str, first: &str) -> Sent {
    if path == first {
        Sent::Data(path.to_owned())
    } else {
        Sent::Link {
            path: path.to_owned(),
            to: first.to_owned(),
        }
    }
}

/// Paths in `pre` that are gone from `now` or changed kind, outermost first.
fn removed(pre: &Manifest, now: &Manifest) -> Vec<String> {
    let mut remove: BTreeSet<&str> = BTreeSet::new();
    for (path, entry) in &pre.entries {
        if path == "." || ancestors(path).any(|a| remove.contains(a)) {
            continue;
        }
        if now.entries.get(path).is_none_or(|e| e.kind != entry.kind) {
            remove.insert(path);
        }
    }
    remove.into_iter().map(str::to_owned).collect()
}

/// Hardlink groups of `now` in which any member differs from `pre`: all their members are
/// sent, so they are one inode on B again.
fn changed_groups(pre: &Manifest, now: &Manifest) -> BTreeSet<String> {
    now.entries
        .iter()
        .filter_map(|(path, entry)| {
            let group = entry.hardlink_group.as_deref()?;
            let same = pre.entries.get(path).is_some_and(|old| old == entry);
            (!same).then(|| group.to_owned())
        })
        .collect()
}

/// Same file content and links: only owner, mode or mtime can differ.
fn same_content(old: &Entry, new: &Entry) -> bool {
    old.kind == Kind::File
        && old.size == new.size
        && old.hash == new.hash
        && old.hardlink_group == new.hardlink_group
}

/// `a/b/c` -> `a/b`, `a`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = path;
    std::iter::from_fn(move || {
        let (parent, _) = rest.rsplit_once('/')?;
        rest = parent;
        Some(parent)
    })
}

/// The arguments of the helper that applies `delta`'s removals and fixes on B (read by
/// [`APPLY`]): `r PATH` removes, `m PATH UID:GID MODE MTIME` fixes; cut into runs of at most
/// `limit` bytes of arguments each, so no helper's command line is too long.
pub fn apply_args(delta: &CrossDelta, now: &Manifest, limit: usize) -> Vec<Vec<String>> {
    let mut ops: Vec<Vec<String>> = delta
        .remove
        .iter()
        .map(|p| vec!["r".to_owned(), p.clone()])
        .collect();
    for path in &delta.fix {
        if let Some(e) = now.entries.get(path) {
            ops.push(vec![
                "m".into(),
                path.clone(),
                format!("{}:{}", e.uid, e.gid),
                format!("{:o}", e.mode),
                e.mtime.unwrap_or_default().to_string(),
            ]);
        }
    }
    let mut runs: Vec<Vec<String>> = Vec::new();
    let mut size = 0;
    for op in ops {
        let bytes: usize = op.iter().map(|a| a.len() + 1).sum();
        if runs.is_empty() || size + bytes > limit {
            runs.push(Vec::new());
            size = 0;
        }
        size += bytes;
        if let Some(run) = runs.last_mut() {
            run.extend(op);
        }
    }
    runs
}

/// The script of the helper on B that applies one run of [`apply_args`] below `/to`.
pub const APPLY: &str = "cd /to || exit 1
while [ $# -gt 0 ]; do
  case \"$1\" in
  r) rm -rf -- \"./$2\" || exit 1; shift 2 ;;
  m) chown -h \"$3\" \"./$2\" && chmod \"$4\" \"./$2\" && touch -c -d \"@$5\" \"./$2\" || exit 1; shift 5 ;;
  *) echo \"unknown operation $1\" >&2; exit 2 ;;
  esac
done";

#[cfg(test)]
mod tests {
    use super::*;

    fn file(hash: &str, mtime: u64) -> Entry {
        Entry {
            kind: Kind::File,
            size: 3,
            uid: 999,
            gid: 999,
            mode: 0o600,
            mtime: Some(mtime),
            mtime_nsec: None,
            link: None,
            device: None,
            hardlink_group: None,
            hash: Some(hash.into()),
            xattrs: None,
        }
    }

    fn dir(mtime: u64) -> Entry {
        Entry {
            kind: Kind::Dir,
            size: 0,
            mode: 0o700,
            hash: None,
            ..file("", mtime)
        }
    }

    fn tree(entries: &[(&str, Entry)]) -> Manifest {
        Manifest {
            entries: entries
                .iter()
                .map(|(p, e)| ((*p).to_owned(), e.clone()))
                .collect(),
            ..Manifest::default()
        }
    }

    #[test]
    fn an_unchanged_tree_has_no_delta() {
        let t = tree(&[(".", dir(1)), ("a", file("x", 1))]);
        assert!(plan(&t, &t).is_empty());
    }

    #[test]
    fn new_rewritten_removed_and_renamed_entries_are_sorted_into_the_three_lists() {
        let pre = tree(&[
            (".", dir(1)),
            ("d", dir(1)),
            ("d/same", file("s", 1)),
            ("d/rewritten", file("old", 1)),
            ("d/gone", dir(1)),
            ("d/gone/inner", file("g", 1)),
            ("old-name", file("r", 1)),
            ("chmodded", file("c", 1)),
        ]);
        let mut chmodded = file("c", 1);
        chmodded.mode = 0o644;
        let now = tree(&[
            (".", dir(2)),
            ("d", dir(2)),
            ("d/same", file("s", 1)),
            // same size, same mtime, other bytes: only the hash tells
            ("d/rewritten", file("new", 1)),
            ("new-name", file("r", 1)),
            ("chmodded", chmodded),
        ]);
        let delta = plan(&pre, &now);
        assert_eq!(delta.remove, ["d/gone", "old-name"]);
        assert_eq!(
            delta.send,
            [
                Sent::Header("d".into()),
                Sent::Data("d/rewritten".into()),
                Sent::Data("new-name".into()),
            ]
        );
        assert_eq!(delta.fix, ["chmodded"]);
        assert_eq!(
            delta.data().collect::<Vec<_>>(),
            ["d/rewritten", "new-name"]
        );
    }

    #[test]
    fn a_changed_hardlink_group_is_sent_whole_its_first_path_with_the_data() {
        let mut a = file("x", 1);
        a.hardlink_group = Some("a".into());
        let pre = tree(&[(".", dir(1)), ("a", file("x", 1)), ("b", file("y", 1))]);
        // `b` became a second link of `a`
        let now = tree(&[(".", dir(1)), ("a", a.clone()), ("b", a)]);
        let delta = plan(&pre, &now);
        assert_eq!(
            delta.send,
            [
                Sent::Data("a".into()),
                Sent::Link {
                    path: "b".into(),
                    to: "a".into()
                }
            ]
        );
        assert!(delta.remove.is_empty() && delta.fix.is_empty());
    }

    #[test]
    fn a_path_that_changed_kind_is_removed_then_sent() {
        let pre = tree(&[(".", dir(1)), ("p", dir(1)), ("p/x", file("x", 1))]);
        let now = tree(&[(".", dir(1)), ("p", file("p", 1))]);
        let delta = plan(&pre, &now);
        assert_eq!(delta.remove, ["p"]);
        assert_eq!(delta.send, [Sent::Data("p".into())]);
    }

    #[test]
    fn removals_and_fixes_are_cut_into_runs_of_bounded_arguments() {
        let now = tree(&[("f", file("x", 7))]);
        let delta = CrossDelta {
            remove: vec!["aaaa".into(), "bbbb".into()],
            send: Vec::new(),
            fix: vec!["f".into()],
        };
        let runs = apply_args(&delta, &now, 10);
        assert_eq!(
            runs,
            [
                vec!["r", "aaaa"],
                vec!["r", "bbbb"],
                vec!["m", "f", "999:999", "600", "7"],
            ]
        );
        assert_eq!(apply_args(&delta, &now, 1000).len(), 1);
    }
}
