//! Pure: the delta of a copy. A helper lists the source and the target (busybox `find` +
//! `stat`: path, type, size, mtime, ctime, inode, links, owner, mode); [`plan`] decides from the
//! two listings and the time the last pass began which entries to copy again, which to remove
//! and which directories get their owner, mode and mtime back; [`ops_args`] turns that into the
//! argument lists of the delta helper (busybox `cp -a` of exactly those paths, `ln` for
//! hardlinks, `rm -rf` for removed ones). No rsync is needed, so it works with any busybox.
//!
//! An entry is copied again when its type, size, mtime, owner or mode differ from the target's,
//! or when its ctime is not older than the start of the last pass: any write, truncate, rename,
//! link, chmod or chown since then moved its ctime, so a same-size same-second rewrite is caught
//! without comparing content (copying it is no dearer than hashing both sides).

use std::collections::{BTreeMap, BTreeSet};

pub use crate::migrate::tree::listing::{Listed, Listing};
use crate::migrate::tree::manifest::Kind;
use crate::migrate::tree::name;
use crate::migrate::tree::stat::Stat;

/// Seconds taken off the start of a pass: file times come from the kernel's coarse clock, which
/// may lag `date` by a tick.
pub const CLOCK_MARGIN_SECS: i64 = 1;

/// A pass's delta larger than this share of the data (per thousand) is applied while the
/// services still run, and the source listed again, before they stop.
pub const REPEAT_PER_MILLE: u64 = 50;

/// Catch-up passes at most before the services stop anyway.
pub const MAX_PASSES: u32 = 3;

fn is_dir(s: &Stat) -> bool {
    s.kind() == Some(Kind::Dir)
}

/// One thing the delta helper does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `rm -rf` the target's path.
    Remove(String),
    /// Make the directory (replacing what else is there).
    Mkdir(String),
    /// `cp -a` the entry (replacing what is there).
    Copy(String),
    /// Hardlink the path to an earlier copied member of its group.
    Link {
        /// The path.
        path: String,
        /// The member copied first.
        to: String,
    },
    /// Give the target directory the source's owner, mode and mtime.
    Attributes(String),
}

/// What a pass does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    /// In order: removals, then directories and copies parents first, then attributes deepest
    /// first.
    pub ops: Vec<Op>,
    /// Entries copied or linked.
    pub copied: u64,
    /// Entries removed.
    pub removed: u64,
    /// Bytes copied.
    pub bytes: u64,
}

impl Delta {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Whether the source entry may differ from the copy: not there, another type, other
/// metadata, or touched since `since`.
fn differs(source: &Stat, target: Option<&Stat>, since: i64) -> bool {
    let Some(t) = target else { return true };
    if source.file_type() != t.file_type() || source.ctime >= since {
        return true;
    }
    let attributes =
        source.uid != t.uid || source.gid != t.gid || source.permissions() != t.permissions();
    match source.kind() {
        Some(Kind::Dir) => attributes || source.mtime != t.mtime,
        Some(Kind::File) => attributes || source.size != t.size || source.mtime != t.mtime,
        // a symlink's own mtime and mode are not kept by every copy: compare owners only
        _ => source.uid != t.uid || source.gid != t.gid || source.size != t.size,
    }
}

/// The delta from `listed` for a pass whose previous pass began at `since` (seconds, as the
/// helper's clock said; [`CLOCK_MARGIN_SECS`] is taken off here).
pub fn plan(listed: &Listed, since: i64) -> Delta {
    let since = since - CLOCK_MARGIN_SECS;
    let (source, target) = (&listed.source, &listed.target);
    let mut delta = Delta::default();
    let mut touched: BTreeSet<String> = BTreeSet::new();
    let mut removed: BTreeSet<&str> = BTreeSet::new();
    for path in target.keys().filter(|p| !source.contains_key(*p)) {
        // a parent removed already takes its children along
        if !ancestors(path).any(|a| removed.contains(a)) {
            delta.ops.push(Op::Remove(path.clone()));
            delta.removed += 1;
            removed.insert(path);
        }
        touched.insert(path.clone());
    }
    let mut first_of_inode: BTreeMap<u64, String> = BTreeMap::new();
    let changed_inodes: BTreeSet<u64> = source
        .iter()
        .filter(|(p, s)| s.links > 1 && !is_dir(s) && differs(s, target.get(*p), since))
        .map(|(_, s)| s.ino)
        .collect();
    for (path, s) in source {
        let t = target.get(path);
        if is_dir(s) {
            if t.is_none_or(|t| !is_dir(t)) {
                delta.ops.push(Op::Mkdir(path.clone()));
                touched.insert(path.clone());
            }
            if differs(s, t, since) {
                touched.insert(path.clone());
            }
            continue;
        }
        let grouped = s.links > 1 && changed_inodes.contains(&s.ino);
        if !grouped && !differs(s, t, since) {
            continue;
        }
        touched.insert(path.clone());
        delta.copied += 1;
        match first_of_inode.get(&s.ino).filter(|_| s.links > 1) {
            Some(to) => delta.ops.push(Op::Link {
                path: path.clone(),
                to: to.clone(),
            }),
            None => {
                delta.bytes += s.size;
                delta.ops.push(Op::Copy(path.clone()));
                first_of_inode.insert(s.ino, path.clone());
            }
        }
    }
    attributes(&mut delta, source, &touched);
    delta
}

/// Every source directory that changed or holds a changed path gets its attributes back,
/// deepest first (copying into a directory moves its mtime).
fn attributes(delta: &mut Delta, source: &Listing, touched: &BTreeSet<String>) {
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for path in touched {
        let mut at = path.as_str();
        loop {
            if source.get(at).is_some_and(is_dir) {
                dirs.insert(at.to_owned());
            }
            if at == "." {
                break;
            }
            at = at.rsplit_once('/').map_or(".", |(parent, _)| parent);
        }
    }
    delta.ops.extend(dirs.into_iter().rev().map(Op::Attributes));
}

/// The proper ancestors of a relative path, nearest first (`.` excluded).
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(path.rsplit_once('/').map(|(p, _)| p), |p| {
        p.rsplit_once('/').map(|(parent, _)| parent)
    })
}

/// The delta helper's script: `"$@"` is a list of `OP PATH` pairs (`ln` takes a third word,
/// the path linked to). An op ending in `%` has its paths as `printf` escapes of their bytes
/// ([`escaped`]: a name that is not UTF-8 cannot be an argument as it is). `STRICT=1` fails on
/// the first error; otherwise (a pass while the services run) only an entry that vanished from
/// the source meanwhile is skipped.
pub const APPLY: &str = r#"set -u
fail() {
  if [ "$STRICT" = 1 ] || [ -e "/from/$2" ] || [ -L "/from/$2" ]; then
    echo "tierctl-delta: $1: $2" >&2; exit 1
  fi
}
while [ $# -gt 0 ]; do
  op=$1; p=$2; shift 2; e=
  case $op in *%) e=1; op=${op%?}; p=$(printf "${p}x"); p=${p%x} ;; esac
  case $op in
    rm) rm -rf "/to/$p" || { echo "tierctl-delta: rm: $p" >&2; exit 1; } ;;
    mkdir) if [ ! -d "/to/$p" ] || [ -L "/to/$p" ]; then rm -rf "/to/$p"; mkdir "/to/$p" || fail mkdir "$p"; fi ;;
    cp) rm -rf "/to/$p"; cp -a "/from/$p" "/to/$p" || fail cp "$p" ;;
    ln) to=$1; shift; if [ -n "$e" ]; then to=$(printf "${to}x"); to=${to%x}; fi
        rm -rf "/to/$p"; ln "/to/$to" "/to/$p" || fail ln "$p" ;;
    attr) if [ -d "/from/$p" ]; then
            chown "$(stat -c %u:%g "/from/$p")" "/to/$p" && chmod "$(stat -c %a "/from/$p")" "/to/$p" && touch -r "/from/$p" "/to/$p" || fail attr "$p"
          fi ;;
  esac
done
sync"#;

/// Argument bytes per helper run (Linux allows 2 MiB of arguments and environment).
pub const ARGS_PER_RUN: usize = 512 * 1024;

/// An [`name::encode`]d path as a `printf` format that prints its bytes: letters, digits and
/// `/._-` as they are, every other byte as a three-digit octal escape (`\377`).
pub fn escaped(path: &str) -> String {
    let mut out = String::new();
    for byte in name::decode(path) {
        if byte.is_ascii_alphanumeric() || b"/._-".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("\\{byte:03o}"));
        }
    }
    out
}

/// One op as [`APPLY`]'s words.
fn words(op: &Op) -> Vec<String> {
    let (word, paths): (&str, Vec<&str>) = match op {
        Op::Remove(p) => ("rm", vec![p]),
        Op::Mkdir(p) => ("mkdir", vec![p]),
        Op::Copy(p) => ("cp", vec![p]),
        Op::Link { path, to } => ("ln", vec![path, to]),
        Op::Attributes(p) => ("attr", vec![p]),
    };
    if paths.iter().any(|p| name::has_encoded(p)) {
        let mut out = vec![format!("{word}%")];
        out.extend(paths.into_iter().map(escaped));
        out
    } else {
        let mut out = vec![word.to_owned()];
        out.extend(paths.into_iter().map(str::to_owned));
        out
    }
}

/// The delta's ops as argument lists for [`APPLY`], split so that none exceeds
/// [`ARGS_PER_RUN`] bytes.
pub fn ops_args(delta: &Delta) -> Vec<Vec<String>> {
    let mut runs: Vec<Vec<String>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut bytes = 0;
    for op in &delta.ops {
        let words = words(op);
        let size: usize = words.iter().map(|w| w.len() + 1).sum();
        if bytes + size > ARGS_PER_RUN && !current.is_empty() {
            runs.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.extend(words);
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// Whether a tree holds device files (copying them needs `MKNOD`).
pub fn has_devices(listing: &Listing) -> bool {
    listing
        .values()
        .any(|s| matches!(s.kind(), Some(Kind::CharDevice | Kind::BlockDevice)))
}

/// Whether a delta is large enough to be applied while the services run and listed again
/// before they stop: more than [`REPEAT_PER_MILLE`] of `total` bytes.
pub fn worth_another_pass(delta: &Delta, total: u64) -> bool {
    delta.bytes.saturating_mul(1000) > total.saturating_mul(REPEAT_PER_MILLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listed entry: `Other` kinds are symlinks.
    fn stat(inode: u64, kind: Kind, size: u64, mtime: i64, ctime: i64) -> Stat {
        let kind_bits = match kind {
            Kind::File => 0o100_000,
            Kind::Dir => 0o040_000,
            _ => 0o120_000,
        };
        Stat {
            ino: inode,
            links: 1,
            mode: kind_bits | 0o644,
            size,
            uid: 999,
            gid: 999,
            mtime,
            ctime,
            ..Stat::default()
        }
    }

    #[test]
    fn i26_row5_names_that_are_not_utf8_are_applied_as_printf_escapes_of_their_bytes() {
        let latin1 = name::encode(b"caf\xe9");
        let newline = "a\nb".to_owned();
        let d = Delta {
            ops: vec![
                Op::Copy(latin1.clone()),
                Op::Copy(newline.clone()),
                Op::Link {
                    path: name::encode(b"l\xff"),
                    to: "plain".into(),
                },
                Op::Remove("plain dir".into()),
            ],
            ..Delta::default()
        };
        let runs = ops_args(&d);
        assert_eq!(
            runs,
            [vec![
                "cp%",
                "caf\\351",
                // a newline is UTF-8: an argument as it is
                "cp",
                "a\nb",
                "ln%",
                "l\\377",
                "plain",
                "rm",
                "plain dir",
            ]]
        );
        assert_eq!(escaped("100% a\\"), "100\\045\\040a\\134");
    }

    fn listed(source: &[(&str, Stat)], target: &[(&str, Stat)]) -> Listed {
        Listed {
            began: 0,
            source: source.iter().map(|(p, s)| ((*p).to_owned(), *s)).collect(),
            target: target.iter().map(|(p, s)| ((*p).to_owned(), *s)).collect(),
        }
    }

    #[test]
    fn an_untouched_tree_has_no_delta() {
        let dir = stat(1, Kind::Dir, 4096, 100, 100);
        let file = stat(2, Kind::File, 5, 100, 100);
        let l = listed(
            &[(".", dir), ("a", file)],
            &[
                (".", stat(7, Kind::Dir, 4096, 100, 500)),
                ("a", stat(8, Kind::File, 5, 100, 500)),
            ],
        );
        assert!(plan(&l, 200).is_empty());
    }

    #[test]
    fn a_same_size_same_second_rewrite_is_copied_by_its_ctime() {
        let dir = stat(1, Kind::Dir, 4096, 100, 100);
        // same size and mtime as the copy, but touched after the pass began
        let l = listed(
            &[(".", dir), ("a", stat(2, Kind::File, 5, 200, 200))],
            &[(".", dir), ("a", stat(8, Kind::File, 5, 200, 190))],
        );
        let d = plan(&l, 200);
        assert_eq!(d.ops, [Op::Copy("a".into()), Op::Attributes(".".into())]);
        assert_eq!((d.copied, d.bytes), (1, 5));
    }

    #[test]
    fn removed_renamed_and_retyped_entries() {
        let dir = stat(1, Kind::Dir, 4096, 100, 100);
        let l = listed(
            &[
                (".", dir),
                ("new", stat(3, Kind::File, 1, 300, 300)),
                ("x", stat(4, Kind::Dir, 4096, 300, 300)),
            ],
            &[
                (".", dir),
                ("old", stat(9, Kind::Dir, 4096, 100, 100)),
                ("old/f", stat(10, Kind::File, 1, 100, 100)),
                ("x", stat(11, Kind::File, 3, 100, 100)),
            ],
        );
        let d = plan(&l, 200);
        assert_eq!(
            d.ops,
            [
                Op::Remove("old".into()),
                Op::Copy("new".into()),
                Op::Mkdir("x".into()),
                Op::Attributes("x".into()),
                Op::Attributes(".".into()),
            ]
        );
        assert_eq!((d.copied, d.removed), (1, 1));
    }

    #[test]
    fn a_changed_hardlink_group_is_copied_once_and_linked() {
        let dir = stat(1, Kind::Dir, 4096, 100, 100);
        let mut a = stat(5, Kind::File, 9, 300, 300);
        a.links = 2;
        let l = listed(&[(".", dir), ("a", a), ("b", a)], &[(".", dir)]);
        let d = plan(&l, 200);
        assert_eq!(
            d.ops,
            [
                Op::Copy("a".into()),
                Op::Link {
                    path: "b".into(),
                    to: "a".into()
                },
                Op::Attributes(".".into()),
            ]
        );
        assert_eq!(d.bytes, 9);
    }

    #[test]
    fn ops_split_into_runs_and_big_deltas_repeat() {
        let d = Delta {
            ops: (0..40_000)
                .map(|i| Op::Copy(format!("dir/file-{i:08}")))
                .collect(),
            copied: 40_000,
            removed: 0,
            bytes: 60,
        };
        let runs = ops_args(&d);
        assert!(runs.len() > 1);
        assert_eq!(runs.iter().map(Vec::len).sum::<usize>(), 80_000);
        assert!(runs.iter().all(|r| r.len() % 2 == 0));
        assert!(worth_another_pass(&d, 1000));
        assert!(!worth_another_pass(&d, 10_000));
    }
}
