//! A tree's manifest computed where the tree lives: a helper container (built by the one
//! hardened builder: the trees read-only, no network, only `DAC_READ_SEARCH`) walks each tree
//! with busybox `find`, `stat`, `readlink` and `sha256sum`, and only that listing crosses to
//! tierctl, never the content. [`spec`] is the helper, [`parse`] reads its output into the same
//! [`Manifest`] the comparison uses (content as SHA-256: [`Digest::Sha256`]).
//!
//! Names, symlink targets and `sha256sum`'s lines cross as hex (`od -tx1`) of their bytes, names
//! NUL-separated before that (a name never holds NUL), so spaces, newlines and bytes that are not
//! UTF-8 survive the engine's log stream, which is text. The `stat` fields of a batch come one
//! line per name in the order of the names. Names become strings as every reader makes them
//! ([`name::encode`]: lossless, UTF-8 as it is), so the helper's and the host's manifest of one
//! tree have the same keys.

use std::collections::BTreeMap;

use thiserror::Error;

use super::manifest::{self, ContentHash, Difference, Digest, Entry, Kind, Manifest, Rules};
use super::name;
use super::stat::{self, Stat};
use crate::engine::{Capability, HelperSpec};

/// Why a helper's listing could not be read (what it printed does not add up).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ListingError {
    /// A line other than the one expected (`found`: the line in backticks, or "the end").
    #[error("expected `{expected}`, found {found}")]
    Expected {
        /// The line wanted.
        expected: String,
        /// What came.
        found: String,
    },
    /// The helper stopped before its last line.
    #[error("the helper did not finish: expected `@done`, found {found}")]
    Unfinished {
        /// What came instead.
        found: String,
    },
    /// A batch without its size line.
    #[error("a batch without its size")]
    BatchSize,
    /// A batch with another number of names than it said.
    #[error("a batch of {count} names holds {held}")]
    BatchCount {
        /// The size it said.
        count: usize,
        /// The names it held.
        held: usize,
    },
    /// Fewer `stat` lines than names.
    #[error("fewer `stat` lines than names")]
    FewerStats,
    /// A `stat` line not in [`stat::FORMAT`].
    #[error("cannot read `stat` line `{line}`")]
    StatLine {
        /// The line.
        line: String,
    },
    /// A line of `od` output that is not hex.
    #[error("cannot read hex line `{line}`")]
    HexLine {
        /// The line.
        line: String,
    },
    /// A symlink without its target.
    #[error("no target for symlink `{name}`")]
    NoLinkTarget {
        /// The symlink (shown).
        name: String,
    },
    /// A file without its `sha256sum` line.
    #[error("no `sha256sum` line for `{name}`")]
    NoSum {
        /// The file (shown).
        name: String,
    },
    /// `sha256sum` lines left over.
    #[error("more `sha256sum` lines than files")]
    ExtraSums,
    /// A name outside the root it was listed under.
    #[error("`{name}` is not under `{root}`")]
    NotUnder {
        /// The name (shown).
        name: String,
        /// The root.
        root: String,
    },
    /// The list helper's clock line is missing.
    #[error("the list helper printed no clock")]
    NoClock,
    /// Fewer trees than asked for.
    #[error("fewer trees than asked for")]
    FewerTrees,
}

/// How much of a tree the helper reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// Every entry's metadata and every file's content (`sha256sum`).
    Hashed,
    /// As [`Depth::Hashed`], each file's content read from the disk, not the page cache (a
    /// copy): busybox `dd iflag=direct` (`O_DIRECT`, which writes the file's dirty pages out and
    /// reads past the cache; no capability needed) into `sha256sum`; a filesystem that refuses
    /// `O_DIRECT` (tried on a batch's first file) is read through the cache.
    Medium,
    /// Metadata only (no content is read): to compare with what the host sees of the tree.
    Listed,
}

impl Depth {
    /// Its word in the helper's arguments (`hash`, `medium`, `list`).
    pub fn word(self) -> &'static str {
        match self {
            Depth::Hashed => "hash",
            Depth::Medium => "medium",
            Depth::Listed => "list",
        }
    }

    /// Whether the content is read (and hashed).
    pub fn hashes(self) -> bool {
        matches!(self, Depth::Hashed | Depth::Medium)
    }

    /// [`Depth::Medium`] for a tree a copy wrote (`written`), else [`Depth::Hashed`].
    pub fn hashed(written: bool) -> Depth {
        match written {
            true => Depth::Medium,
            false => Depth::Hashed,
        }
    }
}

/// The helper's script: `$1` is [`BATCH`], then `ROOT DEPTH` pairs. Each root: a `@root` line,
/// then `find -print0 | xargs -0` hands the entries to [`BATCH`] in batches; `@done` at the end
/// says the helper got through every root.
pub const SCRIPT: &str = "set -o pipefail
batch=$1; shift
while [ $# -gt 1 ]; do
  echo \"@root $2 $1\"
  find \"$1\" -print0 | xargs -0 sh -c \"$batch\" tierctl-batch \"$2\" || exit 1
  shift 2
done
echo @done";

/// One batch of entries (`$1`: the depth, then the paths): their names (hex of NUL-terminated
/// bytes), one `stat` line each (the one format, [`stat::FORMAT`]), each symlink's target (hex,
/// NUL-terminated), and for `hash`, `sha256sum`'s lines for the regular files (hex); for
/// `medium` the same lines, each file read by `dd iflag=direct` ([`Depth::Medium`]).
pub const BATCH: &str = concat!(
    "set -o pipefail
depth=$1; shift
echo \"@batch $#\"
printf '%s\\0' \"$@\" | od -An -v -tx1
echo @stat
stat -c '",
    stat_format!(),
    "' -- \"$@\" || exit 1
echo @links
for f; do if [ -h \"$f\" ]; then readlink -n -- \"$f\" && printf '\\0' || exit 1; fi; done | od -An -v -tx1 || exit 1
echo @sums
if [ \"$depth\" = hash ]; then
  n=$#
  for f; do if [ -f \"$f\" ] && [ ! -h \"$f\" ]; then set -- \"$@\" \"$f\"; fi; done
  shift $n
  if [ $# -gt 0 ]; then sha256sum -- \"$@\" | od -An -v -tx1 || exit 1; fi
fi
if [ \"$depth\" = medium ]; then
  from=
  for f; do if [ -f \"$f\" ] && [ ! -h \"$f\" ]; then
    if [ -z \"$from\" ]; then from=disk; dd if=\"$f\" iflag=direct count=0 2>/dev/null || from=cache; fi
    if [ \"$from\" = disk ]; then sum=$(dd if=\"$f\" iflag=direct bs=1M 2>/dev/null | sha256sum) || exit 1
    else sum=$(sha256sum < \"$f\") || exit 1; fi
    printf '%s  %s\\n' \"${sum%% *}\" \"$f\"
  fi; done | od -An -v -tx1 || exit 1
fi
echo @end"
);

/// The manifest helper for `roots` (paths inside the container, each with how much to read):
/// the mounts of `verify` (the never-started verify helper: the source at `/from`, the target at
/// `/to`, both read-only), a command that prints the listing, and `DAC_READ_SEARCH` to read
/// every file whatever its owner and mode.
pub fn spec(verify: &HelperSpec, roots: &[(&str, Depth)]) -> HelperSpec {
    HelperSpec {
        command: command_reading(SCRIPT.into(), "tierctl-manifest", roots),
        capabilities: vec![Capability::DacReadSearch],
        purpose: "manifest".into(),
        ..verify.clone()
    }
}

/// The line a copy helper made by [`after_copy`] prints between its copy's own output and the
/// listing of the trees.
pub const AFTER_COPY: &str = "@manifests";

/// `copy` (a copy helper) that, once its command succeeded, reads `roots` in the same container
/// as [`spec`]'s helper would: one container start instead of two (seconds each in a VM under
/// emulation), and the trees are read by the same VM kernel a separate helper would use. The
/// copy's command runs first, quoted, in a shell of its own; a failure of it is the helper's exit
/// code; then [`AFTER_COPY`], then the listing ([`parse`] reads it, [`split_after_copy`]
/// separates it). The copy's mounts and capabilities stay as they are (a copy may read every
/// file: `DAC_OVERRIDE`).
pub fn after_copy(copy: &HelperSpec, roots: &[(&str, Depth)]) -> HelperSpec {
    let quoted: Vec<String> = copy.command.iter().map(|a| quote(a)).collect();
    let script = format!(
        "{} || exit $?\necho {AFTER_COPY}\nscript=$1; shift\nexec sh -c \"$script\" tierctl-manifest \"$@\"",
        quoted.join(" ")
    );
    let mut command = command_reading(script, "tierctl-copy", roots);
    // the copy's shell hands the listing script on to the shell it execs
    command.insert(4, SCRIPT.into());
    HelperSpec {
        command,
        ..copy.clone()
    }
}

/// The listing of `roots` after the shell commands `before` (a failure of them ends the
/// helper), in one `sh -c` command named `name`: [`parse`] and [`parse_listing`] read what
/// follows `before`'s own output.
pub fn command(before: &str, name: &str, roots: &[(&str, Depth)]) -> Vec<String> {
    command_reading(format!("{before}\n{SCRIPT}"), name, roots)
}

/// `sh -c SCRIPT NAME BATCH ROOT DEPTH ...`: the arguments the listing script reads.
fn command_reading(script: String, name: &str, roots: &[(&str, Depth)]) -> Vec<String> {
    let mut command: Vec<String> =
        vec!["sh".into(), "-c".into(), script, name.into(), BATCH.into()];
    for (root, depth) in roots {
        command.push((*root).to_owned());
        command.push(depth.word().to_owned());
    }
    command
}

/// `text` as one word for `sh`: single-quoted, a `'` in it closed, escaped and reopened.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The output of an [`after_copy`] helper: the copy's own output and the listing; `None` when
/// the helper did not get to the listing.
pub fn split_after_copy(text: &str) -> Option<(&str, &str)> {
    let marker = format!("{AFTER_COPY}\n");
    if let Some(listing) = text.strip_prefix(&marker) {
        return Some(("", listing));
    }
    let at = text.find(&format!("\n{marker}"))?;
    Some((&text[..=at], &text[at + 1 + marker.len()..]))
}

/// Read the helper's output: one manifest per root of `roots`, in that order, content hashed
/// with SHA-256 where the root was [`Depth::Hashed`] or [`Depth::Medium`] (none where [`Depth::Listed`]). `Err` says
/// what could not be read.
pub fn parse(text: &str, roots: &[(&str, Depth)]) -> Result<Vec<Manifest>, ListingError> {
    Ok(read_roots(text, roots)?.into_iter().map(manifest).collect())
}

/// Read the helper's output as each root's `stat` records by path (sockets included: a copy
/// takes them along), for the delta ([`crate::migrate::delta`]).
pub fn parse_listing(
    text: &str,
    roots: &[(&str, Depth)],
) -> Result<Vec<BTreeMap<String, Stat>>, ListingError> {
    Ok(read_roots(text, roots)?
        .into_iter()
        .map(|items| items.into_iter().map(|i| (i.path, i.stat)).collect())
        .collect())
}

/// Every root's listed paths, in the order of `roots`.
fn read_roots(text: &str, roots: &[(&str, Depth)]) -> Result<Vec<Vec<Item>>, ListingError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty()).peekable();
    let mut out = Vec::new();
    for (root, depth) in roots {
        let header = format!("@root {} {root}", depth.word());
        match lines.next() {
            Some(line) if line == header => {}
            other => {
                return Err(ListingError::Expected {
                    expected: header,
                    found: shown(other),
                });
            }
        }
        let mut found = Vec::new();
        while lines.peek().is_some_and(|l| l.starts_with("@batch ")) {
            batch(&mut lines, root, *depth, &mut found)?;
        }
        out.push(found);
    }
    match lines.next() {
        Some("@done") => Ok(out),
        other => Err(ListingError::Unfinished {
            found: shown(other),
        }),
    }
}

fn shown(line: Option<&str>) -> String {
    line.map_or_else(|| "the end".to_owned(), |l| format!("`{l}`"))
}

/// One path of a batch: its bytes and its `stat` line read.
struct Listed {
    bytes: Vec<u8>,
    stat: Stat,
}

/// One listed path of a root: relative to it ([`name::encode`]d), what `stat` said, a symlink's
/// target and a file's SHA-256 (when hashed).
struct Item {
    path: String,
    stat: Stat,
    link: Option<String>,
    hash: Option<ContentHash>,
}

fn batch<'a>(
    lines: &mut impl Iterator<Item = &'a str>,
    root: &str,
    depth: Depth,
    found: &mut Vec<Item>,
) -> Result<(), ListingError> {
    let listed = names_and_stats(lines)?;
    match lines.next() {
        Some("@links") => {}
        other => {
            return Err(ListingError::Expected {
                expected: "@links".into(),
                found: shown(other),
            });
        }
    }
    let links = hex_until(lines, "@sums")?;
    let mut links = links.split(|b| *b == 0).map(<[u8]>::to_vec);
    let sums = hex_until(lines, "@end")?;
    let mut sums = sums.as_slice();
    for item in listed {
        let kind = item.stat.kind();
        let link = match kind {
            Some(Kind::Symlink) => Some(name::encode(&links.next().ok_or_else(|| {
                ListingError::NoLinkTarget {
                    name: lossy(&item.bytes),
                }
            })?)),
            _ => None,
        };
        let hash = match (kind, depth) {
            (Some(Kind::File), depth) if depth.hashes() => {
                Some(take_sum(&mut sums, &item.bytes)?.into())
            }
            _ => None,
        };
        found.push(Item {
            path: relative(root, &item.bytes)?,
            stat: item.stat,
            link,
            hash,
        });
    }
    if !sums.is_empty() {
        return Err(ListingError::ExtraSums);
    }
    Ok(())
}

/// A batch's size line, its names and one `stat` line per name.
fn names_and_stats<'a>(
    lines: &mut impl Iterator<Item = &'a str>,
) -> Result<Vec<Listed>, ListingError> {
    let count: usize = lines
        .next()
        .and_then(|l| l.strip_prefix("@batch "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or(ListingError::BatchSize)?;
    let names = hex_until(lines, "@stat")?;
    let names: Vec<&[u8]> = names
        .strip_suffix(&[0])
        .unwrap_or(&names)
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .collect();
    if names.len() != count {
        return Err(ListingError::BatchCount {
            count,
            held: names.len(),
        });
    }
    let mut listed = Vec::with_capacity(count);
    for name in names {
        let line = lines.next().ok_or(ListingError::FewerStats)?;
        let stat = Stat::parse(line).ok_or_else(|| ListingError::StatLine { line: line.into() })?;
        listed.push(Listed {
            bytes: name.to_vec(),
            stat,
        });
    }
    Ok(listed)
}

/// Hex bytes (`od -An -tx1` lines) up to the line `marker`.
fn hex_until<'a>(
    lines: &mut impl Iterator<Item = &'a str>,
    marker: &str,
) -> Result<Vec<u8>, ListingError> {
    let mut bytes = Vec::new();
    for line in lines.by_ref() {
        if line == marker {
            return Ok(bytes);
        }
        for word in line.split_whitespace() {
            let byte = u8::from_str_radix(word, 16)
                .map_err(|_| ListingError::HexLine { line: line.into() })?;
            bytes.push(byte);
        }
    }
    Err(ListingError::Expected {
        expected: marker.into(),
        found: shown(None),
    })
}

/// One `sha256sum` line, `HEX  NAME\n`, whose name must be `name`; its digest.
fn take_sum(sums: &mut &[u8], name: &[u8]) -> Result<String, ListingError> {
    let wanted = 64 + 2 + name.len() + 1;
    let ok = sums.len() >= wanted
        && sums[..64].iter().all(u8::is_ascii_hexdigit)
        && &sums[64..66] == b"  "
        && &sums[66..66 + name.len()] == name
        && sums[wanted - 1] == b'\n';
    if !ok {
        return Err(ListingError::NoSum { name: lossy(name) });
    }
    let hex = String::from_utf8_lossy(&sums[..64]).to_ascii_lowercase();
    *sums = &sums[wanted..];
    Ok(hex)
}

/// A name for messages.
fn lossy(bytes: &[u8]) -> String {
    name::shown(&name::encode(bytes)).into_owned()
}

/// A listed name relative to `root` (`.` is the root), [`name::encode`]d.
fn relative(root: &str, bytes: &[u8]) -> Result<String, ListingError> {
    match bytes.strip_prefix(root.as_bytes()) {
        Some([]) => Ok(".".to_owned()),
        Some([b'/', rest @ ..]) => Ok(name::encode(rest)),
        _ => Err(ListingError::NotUnder {
            name: lossy(bytes),
            root: root.into(),
        }),
    }
}

/// What the host sees differently from the engine in one tree: `engine` is the helper's listing
/// of it ([`Depth::Listed`]), `host` the host's manifest, whose content is not compared. Empty
/// when the host sees every entry's type, size, owner, mode, mtime, symlink target and hardlink
/// group as the engine does.
pub fn host_view(engine: &Manifest, host: &Manifest) -> Vec<String> {
    let bare = |m: &Manifest| Manifest {
        entries: m
            .entries
            .iter()
            .map(|(path, e)| {
                let entry = Entry {
                    hash: None,
                    ..e.clone()
                };
                (path.clone(), entry)
            })
            .collect(),
        digest: Digest::Sha256,
    };
    // extended attributes and symlink times are the copy's business, not the view's
    manifest::compare(&bare(engine), &bare(host), Rules::copy(false))
        .into_iter()
        .map(|d| match d {
            Difference::Missing { path } => {
                format!("`{}` not seen on the host", name::shown(&path))
            }
            Difference::Extra { path } => format!("`{}` only on the host", name::shown(&path)),
            Difference::Changed {
                path,
                field,
                source,
                copy,
            } => format!(
                "`{}` {field}: engine {}, host {}",
                name::shown(&path),
                name::shown(&source),
                name::shown(&copy)
            ),
        })
        .collect()
}

/// The manifest of one tree's listed paths: hardlink groups as the host reader forms them;
/// sockets left out (archives and the host reader leave them out).
fn manifest(items: Vec<Item>) -> Manifest {
    let found: Vec<stat::Found> = items
        .into_iter()
        .filter_map(|i| {
            let mut entry = i.stat.entry(i.link)?;
            entry.hash = i.hash;
            Some(stat::Found {
                path: i.path,
                entry,
                inode: i.stat.linked_inode(),
                stamp: None,
            })
        })
        .collect();
    let groups = stat::group(&found);
    let entries: BTreeMap<String, Entry> = found
        .into_iter()
        .map(|f| {
            let mut entry = f.entry;
            entry.hardlink_group = f
                .inode
                .and_then(|key| groups.get(&key))
                .map(|g| g.as_str().into());
            (f.path, entry)
        })
        .collect();
    Manifest {
        entries,
        digest: Digest::Sha256,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `od -An -v -tx1` of `bytes`.
    fn od(bytes: &[u8]) -> String {
        bytes
            .chunks(16)
            .map(|c| c.iter().map(|b| format!(" {b:02x}")).collect::<String>() + "\n")
            .collect()
    }

    const HELLO: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    /// One batch as the helper prints it: `(name, stat line)`, the symlink targets, the
    /// `sha256sum` output.
    fn batch_text(entries: &[(&[u8], &str)], links: &[&[u8]], sums: &[u8]) -> String {
        let mut names = Vec::new();
        for (name, _) in entries {
            names.extend_from_slice(name);
            names.push(0);
        }
        let mut targets = Vec::new();
        for t in links {
            targets.extend_from_slice(t);
            targets.push(0);
        }
        let stats: String = entries.iter().map(|(_, s)| format!("{s}\n")).collect();
        format!(
            "@batch {}\n{}@stat\n{stats}@links\n{}@sums\n{}@end\n",
            entries.len(),
            od(&names),
            od(&targets),
            od(sums)
        )
    }

    fn sum_line(hex: &str, name: &[u8]) -> Vec<u8> {
        let mut line = format!("{hex}  ").into_bytes();
        line.extend_from_slice(name);
        line.push(b'\n');
        line
    }

    /// A tree with a space, a newline and a byte that is not UTF-8 in names, a symlink whose
    /// target holds a newline, a hardlink, a FIFO, a socket and a device, in two batches.
    fn tricky() -> String {
        let (spaced, newline, latin1): (&[u8], &[u8], &[u8]) =
            (b"/from/a b", b"/from/a\nb", b"/from/n\xffm");
        let mut sums = sum_line(HELLO, spaced);
        sums.extend(sum_line(HELLO, newline));
        let first = batch_text(
            &[
                (
                    b"/from",
                    "41ed 4096 999 999 1600000000 1600000000 48 2 3 0 0",
                ),
                (spaced, "81a4 5 999 999 1600000001 1600000001 48 3 2 0 0"),
                (newline, "81a4 5 999 999 1600000001 1600000001 48 3 2 0 0"),
                (b"/from/l", "a1ff 8 0 0 1600000002 1600000002 48 4 1 0 0"),
            ],
            &[b"tar\nget"],
            &sums,
        );
        let second = batch_text(
            &[
                (latin1, "11b0 0 70 70 1600000003 1600000003 48 5 1 0 0"),
                (b"/from/sock", "c1ed 0 0 0 1600000004 1600000004 48 6 1 0 0"),
                (b"/from/null", "21b6 0 0 0 1600000005 1600000005 48 7 1 1 3"),
            ],
            &[],
            &[],
        );
        format!("@root hash /from\n{first}{second}@done\n")
    }

    #[test]
    fn reads_names_with_spaces_newlines_and_non_utf8_bytes_links_and_hardlinks() {
        let trees = parse(&tricky(), &[("/from", Depth::Hashed)]).expect("readable");
        let [m] = trees.as_slice() else {
            panic!("one manifest: {trees:?}")
        };
        assert_eq!(m.digest, Digest::Sha256);
        assert_eq!(
            m.entries.keys().collect::<Vec<_>>(),
            [".", "a\nb", "a b", "l", "n\0ffm", "null"]
        );
        let root = &m.entries["."];
        assert_eq!(
            (root.kind, root.uid, root.mode, root.size, root.mtime),
            (Kind::Dir, 999, 0o755, 0, Some(1_600_000_000))
        );
        let spaced = &m.entries["a b"];
        assert_eq!(
            (
                spaced.kind,
                spaced.size,
                spaced.mode,
                spaced.hash.as_ref().map(ToString::to_string).as_deref()
            ),
            (Kind::File, 5, 0o644, Some(HELLO))
        );
        // a hardlink group is named by its smallest path, as on the host
        assert_eq!(spaced.hardlink_group.as_deref(), Some("a\nb"));
        assert_eq!(m.entries["a\nb"].hardlink_group.as_deref(), Some("a\nb"));
        let link = &m.entries["l"];
        assert_eq!(
            (link.kind, link.link.as_deref(), link.mtime, link.size),
            (Kind::Symlink, Some("tar\nget"), Some(1_600_000_002), 0)
        );
        let fifo = &m.entries["n\0ffm"];
        assert_eq!(
            (
                fifo.kind,
                fifo.uid,
                fifo.mode,
                fifo.hash.as_ref().map(ToString::to_string).as_deref()
            ),
            (Kind::Fifo, 70, 0o660, None)
        );
        assert_eq!(m.entries["null"].device, Some((1, 3)));
        assert_eq!(m.entries["null"].kind, Kind::CharDevice);
        assert_eq!(m.bytes(), 5);
    }

    #[test]
    fn two_roots_and_a_listed_one_without_content() {
        let from = batch_text(
            &[
                (b"/from", "41ed 0 0 0 1 1 1 1 2 0 0"),
                (b"/from/f", "81a4 5 0 0 1 1 1 2 1 0 0"),
            ],
            &[],
            &sum_line(HELLO, b"/from/f"),
        );
        let to = batch_text(
            &[
                (b"/to", "41ed 0 0 0 1 1 1 1 2 0 0"),
                (b"/to/f", "81a4 5 0 0 1 1 1 2 1 0 0"),
            ],
            &[],
            &[],
        );
        let text = format!("@root hash /from\n{from}@root list /to\n{to}@done\n");
        let roots = [("/from", Depth::Hashed), ("/to", Depth::Listed)];
        let trees = parse(&text, &roots).expect("readable");
        assert_eq!(
            trees[0].entries["f"]
                .hash
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some(HELLO)
        );
        assert_eq!(trees[1].entries["f"].hash, None);
        assert_eq!(trees[1].entries["f"].size, 5);
        // `/tox` is not under `/to`
        let wrong = text.replace(&od(b"/to/f\0"), &od(b"/tox/f\0"));
        assert_eq!(
            parse(&wrong, &roots).expect_err("outside").to_string(),
            "`/tox/f` is not under `/to`"
        );
    }

    #[test]
    fn an_empty_tree_still_has_its_root_and_an_unfinished_listing_is_refused() {
        let text = format!(
            "@root hash /to\n{}@done\n",
            batch_text(&[(b"/to", "41ed 0 0 0 1 1 1 1 2 0 0")], &[], &[])
        );
        let trees = parse(&text, &[("/to", Depth::Hashed)]).expect("readable");
        assert_eq!(trees[0].entries.keys().collect::<Vec<_>>(), ["."]);
        let cut = text.replace("@done\n", "");
        assert_eq!(
            parse(&cut, &[("/to", Depth::Hashed)])
                .expect_err("unfinished")
                .to_string(),
            "the helper did not finish: expected `@done`, found the end"
        );
    }

    #[test]
    fn output_that_does_not_add_up_is_refused() {
        let good = tricky();
        let roots = [("/from", Depth::Hashed)];
        // a `stat` line lost (an entry vanished under the helper)
        let lost = good.replacen("81a4 5 999 999 1600000001 1600000001 48 3 2 0 0\n", "", 1);
        assert!(parse(&lost, &roots).is_err());
        // a `sha256sum` line for another name, or a short one
        let line = sum_line(HELLO, b"/from/a c");
        assert_eq!(
            take_sum(&mut line.as_slice(), b"/from/a b")
                .expect_err("another name")
                .to_string(),
            "no `sha256sum` line for `/from/a b`"
        );
        let mut rest = &line[..40];
        assert!(take_sum(&mut rest, b"/from/a c").is_err());
        let mut whole = line.as_slice();
        assert_eq!(take_sum(&mut whole, b"/from/a c").as_deref(), Ok(HELLO));
        assert!(whole.is_empty());
        // the wrong root
        assert_eq!(
            parse(&good, &[("/to", Depth::Hashed)])
                .expect_err("root")
                .to_string(),
            "expected `@root hash /to`, found `@root hash /from`"
        );
        // more names than the batch says
        let more = good.replacen("@batch 4", "@batch 5", 1);
        assert_eq!(
            parse(&more, &roots).expect_err("count").to_string(),
            "a batch of 5 names holds 4"
        );
    }

    #[test]
    fn a_copy_helper_lists_the_trees_after_its_copy_in_the_same_container() {
        let copy = HelperSpec {
            capabilities: vec![Capability::Chown, Capability::DacOverride],
            ..HelperSpec::new(
                "copy",
                "img",
                vec!["sh".into(), "-c".into(), "cp -a 'x' y".into()],
            )
        };
        let helper = after_copy(&copy, &[("/from", Depth::Hashed), ("/to", Depth::Hashed)]);
        // the copy's own helper: its purpose, mounts and capabilities
        assert_eq!(helper.purpose, "copy");
        assert_eq!(helper.capabilities, copy.capabilities);
        assert_eq!(
            helper.command[2],
            "'sh' '-c' 'cp -a '\\''x'\\'' y' || exit $?\necho @manifests\nscript=$1; shift\nexec sh -c \"$script\" tierctl-manifest \"$@\""
        );
        assert_eq!(
            helper.command[3..],
            [
                "tierctl-copy",
                SCRIPT,
                BATCH,
                "/from",
                "hash",
                "/to",
                "hash"
            ]
        );
        assert_eq!(
            split_after_copy("1700000000\n@manifests\n@root hash /from\n"),
            Some(("1700000000\n", "@root hash /from\n"))
        );
        assert_eq!(
            split_after_copy("@manifests\n@done\n"),
            Some(("", "@done\n"))
        );
        assert_eq!(split_after_copy("1700000000\n"), None);
    }

    #[test]
    fn the_helper_reads_only_and_lists_each_root_with_its_depth() {
        let verify = HelperSpec::new("verify", "img", vec!["true".into()]);
        let helper = spec(&verify, &[("/from", Depth::Hashed), ("/to", Depth::Listed)]);
        assert_eq!(helper.purpose, "manifest");
        assert_eq!(helper.capabilities, [Capability::DacReadSearch]);
        assert_eq!(helper.image, "img");
        assert_eq!(
            helper.command[3..],
            ["tierctl-manifest", BATCH, "/from", "hash", "/to", "list"]
        );
    }
}
