//! Facts about host paths on the engine's host, read by a helper container on that engine: what
//! `audit`, `mounts` and `tiers status` need when the engine is remote (`crate::host`), so that
//! no local path stands in for a path of another machine.
//!
//! The helper (built by `engine/helper.rs`, like every helper) binds the engine host's `/`
//! read-only at [`ROOT`] and answers queries about physical paths: `lstat` and `readlink` of
//! each component the walk of `fsx::resolve_with` asks for (symlinks are followed here, by the
//! same walk as on this machine, never inside the container, where an absolute link target
//! would point into the container's own root), whether a directory is empty, and what is at a
//! tier root (directory, marker file, device of it and of its parent, the mount table). A walk
//! that reaches a component nobody asked about yet stops; the missing answers (with the rest of
//! the path, ahead of time) are asked in the next helper run: one run per level of symlinks.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use super::helper::{Capability, HelperSpec, MountSource, MountSpec};
use super::{EngineError, Helpers};
use crate::facts::{Facts, Marker, PathFacts, TierPresence};
use crate::fsx::{self, Kind, Lookup};
use crate::usage::{FsNumbers, FsNumbersError};
use crate::verify::{FsView, HostSource};

/// Where the helper sees the engine host's `/`.
pub const ROOT: &str = "/tierctl-host";

/// The most helper runs one resolution takes (each follows one more level of symlinks).
const MAX_ROUNDS: usize = 10;

/// The most queries one helper run gets (its command line).
const QUERIES_PER_RUN: usize = 1000;

/// The marker file at a tier root (`tierfs::MARKER_FILE`).
const MARKER_FILE: &str = ".tierctl-tier";

/// The helper's script: one output line per query, then the mount table.
const SCRIPT: &str = r#"r=/tierctl-host
hex() { od -An -tx1 | tr -d ' \n'; }
why() { stat -c %F "$1" 2>&1 >/dev/null | sed 's/.*: //'; }
empty() { if ls -A "$1" 2>/dev/null | grep -q .; then echo full; elif ls -A "$1" >/dev/null 2>&1; then echo empty; else echo unknown; fi; }
for q in "$@"; do
  k=${q%%/*}; f="$r/${q#*/}"
  case $k in
  l)
    if [ -L "$f" ]; then printf 'L\t%s\n' "$(printf %s "$(readlink "$f")" | hex)"
    elif [ -d "$f" ]; then printf 'D\n'
    elif [ -e "$f" ]; then printf 'F\n'
    else printf 'E\t%s\n' "$(why "$f")"; fi ;;
  e) printf 'E\t%s\n' "$(empty "$f")" ;;
  s) if n=$(stat -f -c '%b %f %a %S' "$f" 2>&1); then printf 'S\t%s\n' "$n"; else printf 'S\t!%s\n' "$(echo "$n" | sed 's/.*: //')"; fi ;;
  t)
    if [ ! -d "$f" ]; then printf 'T\tnodir\n'; continue; fi
    m=-; if [ -e "$f/.tierctl-tier" ]; then m=$(head -c 4096 "$f/.tierctl-tier" 2>/dev/null | hex); [ -n "$m" ] || m=?; fi
    printf 'T\t%s\t%s\t%s\t%s\n' "$(empty "$f")" "$m" "$(stat -c %d "$f" 2>/dev/null)" "$(stat -c %d "$f/.." 2>/dev/null)" ;;
  esac
done
echo '#mountinfo'
cat /proc/self/mountinfo"#;

/// One question to the helper about a physical path of the engine's host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Query {
    /// `lstat` (and `readlink` of a symlink).
    Kind(PathBuf),
    /// Whether the directory has no entry.
    Empty(PathBuf),
    /// What is at a tier root.
    TierRoot(PathBuf),
    /// `statvfs` of the filesystem holding the path.
    FsNumbers(PathBuf),
}

impl Query {
    fn argument(&self) -> String {
        let (k, path) = match self {
            Query::Kind(p) => ("l", p),
            Query::Empty(p) => ("e", p),
            Query::TierRoot(p) => ("t", p),
            Query::FsNumbers(p) => ("s", p),
        };
        let text = path.display().to_string();
        format!("{k}/{}", text.trim_start_matches('/'))
    }
}

/// One answer of the helper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A component: its kind, and a symlink's target.
    Kind(Kind, Option<PathBuf>),
    /// `lstat` failed: `No such file or directory`, `Permission denied`, ...
    Failed(String),
    /// A directory's emptiness: `Some(true)` empty, `None` unreadable.
    Empty(Option<bool>),
    /// A tier root: `None` when it is not a directory.
    TierRoot(Option<RootSeen>),
    /// `f_blocks`, `f_bfree`, `f_bavail`, `f_frsize`, or why there are none.
    FsNumbers(Result<[u64; 4], NumbersUnread>),
}

/// Why a helper's answer for a tier root's filesystem holds no numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumbersUnread {
    /// `statvfs` failed in the helper: the system's message.
    #[error("{0}")]
    Statvfs(String),
    /// The answer is not four numbers.
    #[error("unexpected `{0}`")]
    Unexpected(String),
}

/// What the helper saw at a tier root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootSeen {
    /// Emptiness (`None`: unreadable).
    pub empty: Option<bool>,
    /// The marker file's bytes: `None` absent, `Some(None)` unreadable.
    pub marker: Option<Option<Vec<u8>>>,
    /// `st_dev` of the root and of its parent.
    pub devices: (Option<u64>, Option<u64>),
}

/// The helper for `queries`: the engine host's `/` read-only at [`ROOT`], `DAC_READ_SEARCH`
/// (the probe's one capability: search directories of other owners, read nothing else).
pub fn helper_spec(image: &str, queries: &[Query]) -> HelperSpec {
    let mut command = vec![
        "sh".into(),
        "-c".into(),
        SCRIPT.into(),
        "tierctl-host-fs".into(),
    ];
    command.extend(queries.iter().map(Query::argument));
    HelperSpec {
        mounts: vec![MountSpec {
            source: MountSource::Bind(PathBuf::from("/")),
            target: ROOT.into(),
            read_only: true,
        }],
        capabilities: vec![Capability::DacReadSearch],
        ..HelperSpec::new("host-fs", image, command)
    }
}

/// The helper's output: one answer per query (in order), and the mounts of the engine's host
/// by mount point (as the host names it, [`ROOT`] taken off; the last, top one of a point).
pub fn parse_output(queries: &[Query], text: &str) -> Answers {
    let (answers, table) = text.split_once("#mountinfo\n").unwrap_or((text, ""));
    let answers = queries
        .iter()
        .zip(answers.lines())
        .map(|(query, line)| (query.clone(), parse_answer(line)))
        .collect();
    let mounts = table.lines().filter_map(host_mount).collect();
    (answers, mounts)
}

/// One mount of the engine's host, from a line of the helper's mount table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMount {
    /// `major:minor`, as mountinfo writes it.
    pub device: String,
    /// The filesystem type.
    pub fs_type: String,
}

/// The mount point (without [`ROOT`]) and the mount of a mountinfo line under [`ROOT`].
fn host_mount(line: &str) -> Option<(PathBuf, HostMount)> {
    let (mount, fs) = line.split_once(" - ")?;
    let fields: Vec<&str> = mount.split_whitespace().collect();
    let point = unescape(fields.get(4)?);
    let inner = point.strip_prefix(ROOT)?;
    let point = PathBuf::from(if inner.is_empty() { "/" } else { inner });
    let mount = HostMount {
        device: (*fields.get(2)?).to_owned(),
        fs_type: fs.split_whitespace().next()?.to_owned(),
    };
    Some((point, mount))
}

fn parse_answer(line: &str) -> Answer {
    let fields: Vec<&str> = line.split('\t').collect();
    let empty = |f: Option<&&str>| match f.copied() {
        Some("empty") => Some(true),
        Some("full") => Some(false),
        _ => None,
    };
    match fields.as_slice() {
        ["D"] => Answer::Kind(Kind::Dir, None),
        ["F"] => Answer::Kind(Kind::Other, None),
        ["L", hex] => Answer::Kind(
            Kind::Symlink,
            Some(PathBuf::from(OsString::from_vec(unhex(hex)))),
        ),
        ["E", "empty" | "full" | "unknown"] => Answer::Empty(empty(fields.get(1))),
        ["E", why] => Answer::Failed((*why).to_owned()),
        ["S", numbers] => Answer::FsNumbers(match numbers.strip_prefix('!') {
            Some(why) => Err(NumbersUnread::Statvfs(why.to_owned())),
            None => {
                let parsed: Vec<u64> = numbers
                    .split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect();
                <[u64; 4]>::try_from(parsed)
                    .map_err(|_| NumbersUnread::Unexpected((*numbers).to_owned()))
            }
        }),
        ["T", "nodir"] => Answer::TierRoot(None),
        ["T", _, marker, device, parent] => Answer::TierRoot(Some(RootSeen {
            empty: empty(fields.get(1)),
            marker: match *marker {
                "-" => None,
                "?" => Some(None),
                hex => Some(Some(unhex(hex))),
            },
            devices: (device.parse().ok(), parent.parse().ok()),
        })),
        _ => Answer::Failed(format!("unexpected helper output `{line}`")),
    }
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|_| bytes[i] == b'\\')
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match octal {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What is known of the engine's host so far, as a [`Lookup`] for the walk: a component not
/// asked about yet is recorded in `wanted` (with the rest of the path ahead of it).
struct Known<'a> {
    answers: &'a HashMap<PathBuf, Answer>,
    wanted: RefCell<BTreeSet<PathBuf>>,
}

impl Lookup for Known<'_> {
    fn kind(&self, path: &Path, rest: &[OsString]) -> io::Result<Kind> {
        match self.answers.get(path) {
            Some(Answer::Kind(kind, _)) => Ok(*kind),
            Some(Answer::Failed(why)) => Err(failure(why)),
            Some(_) | None => {
                let mut wanted = self.wanted.borrow_mut();
                wanted.insert(path.to_path_buf());
                let mut ahead = path.to_path_buf();
                for name in rest.iter().take_while(|n| *n != "..") {
                    ahead.push(name);
                    wanted.insert(ahead.clone());
                }
                Err(io::Error::other(NOT_ASKED))
            }
        }
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        match self.answers.get(path) {
            Some(Answer::Kind(Kind::Symlink, Some(target))) => Ok(target.clone()),
            _ => Err(io::Error::other(format!(
                "no link target for `{}`",
                path.display()
            ))),
        }
    }
}

const NOT_ASKED: &str = "not asked yet";

fn failure(why: &str) -> io::Error {
    let kind = if why.contains("No such file") {
        io::ErrorKind::NotFound
    } else if why.contains("Permission denied") {
        io::ErrorKind::PermissionDenied
    } else if why.contains("Not a directory") {
        io::ErrorKind::NotADirectory
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(kind, why.to_owned())
}

/// Each query with its answer, and the mount points of the engine's host.
type Answers = (Vec<(Query, Answer)>, BTreeMap<PathBuf, HostMount>);

/// Runs the queries, [`QUERIES_PER_RUN`] per helper.
fn ask(engine: &dyn Helpers, image: &str, queries: &[Query]) -> Result<Answers, EngineError> {
    let mut answers = Vec::new();
    let mut mounts = BTreeMap::new();
    for chunk in queries.chunks(QUERIES_PER_RUN) {
        let text = engine.run_to_end(&helper_spec(image, chunk))?;
        let (more, table) = parse_output(chunk, &text);
        answers.extend(more);
        mounts.extend(table);
    }
    Ok((answers, mounts))
}

/// Resolves every path on the engine's host, symlink by symlink, keyed by the path as asked.
pub fn resolve_paths(
    engine: &dyn Helpers,
    image: &str,
    paths: &[PathBuf],
) -> Result<BTreeMap<PathBuf, PathFacts>, EngineError> {
    let mut answers: HashMap<PathBuf, Answer> = HashMap::new();
    for _ in 0..MAX_ROUNDS {
        let known = Known {
            answers: &answers,
            wanted: RefCell::default(),
        };
        let resolved: BTreeMap<PathBuf, PathFacts> = paths
            .iter()
            .map(|p| (p.clone(), fsx::resolve_with(p, &known)))
            .collect();
        let wanted = known.wanted.into_inner();
        if wanted.is_empty() {
            return Ok(resolved);
        }
        let queries: Vec<Query> = wanted.into_iter().map(Query::Kind).collect();
        for (query, answer) in ask(engine, image, &queries)?.0 {
            if let Query::Kind(path) = query {
                answers.insert(path, answer);
            }
        }
    }
    // What is still unknown after MAX_ROUNDS helper runs stays an I/O problem of that path.
    let known = Known {
        answers: &answers,
        wanted: RefCell::default(),
    };
    Ok(paths
        .iter()
        .map(|p| (p.clone(), fsx::resolve_with(p, &known)))
        .collect())
}

/// Whether the engine's host is this machine, by rule 3 of `crate::host`: a marker file with a
/// random name and content, written in a fresh directory of this machine's temp dir, read back
/// by a helper container bound to that directory (read-only). `false` when the engine refuses
/// the bind (no such directory there), reads other content, or cannot run the helper.
pub fn sees_marker(engine: &dyn Helpers, image: &str) -> bool {
    use std::hash::{BuildHasher, Hasher};
    let id = {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        format!("{:016x}", hasher.finish())
    };
    let dir = std::env::temp_dir().join(format!("tierctl-host-{id}"));
    if std::fs::create_dir(&dir).is_err() {
        return false;
    }
    let seen = std::fs::write(dir.join("marker"), &id).is_ok() && reads(engine, image, &dir, &id);
    let _ = std::fs::remove_dir_all(&dir);
    seen
}

/// Whether a helper bound to `dir` reads `id` in its `marker` file.
fn reads(engine: &dyn Helpers, image: &str, dir: &Path, id: &str) -> bool {
    let spec = HelperSpec {
        mounts: vec![MountSpec {
            source: MountSource::Bind(dir.to_path_buf()),
            target: "/tierctl-marker".into(),
            read_only: true,
        }],
        ..HelperSpec::new(
            "host-marker",
            image,
            vec!["cat".into(), "/tierctl-marker/marker".into()],
        )
    };
    matches!(engine.run_helper(&spec), Ok(super::HelperOutput::Ran(text)) if text.trim() == id)
}

/// Facts about `paths` and the tier roots `roots` (by tier name) on the engine's host, as
/// `probe::paths` and `tierfs::presences` give them on this machine; `empty_dirs` holds the
/// real paths of existing directories among `paths` that have no entry.
pub fn facts(
    engine: &dyn Helpers,
    image: &str,
    paths: &[PathBuf],
    roots: &[(String, PathBuf)],
) -> Result<Facts, EngineError> {
    let mut asked: Vec<PathBuf> = paths.to_vec();
    asked.extend(roots.iter().map(|(_, root)| root.clone()));
    let resolved = resolve_paths(engine, image, &asked)?;
    let dirs: BTreeSet<PathBuf> = paths
        .iter()
        .filter_map(|p| resolved.get(p))
        .filter(|f| f.exists && f.is_dir)
        .filter_map(|f| f.real.clone())
        .collect();
    let real_roots: Vec<(String, Option<PathBuf>)> = roots
        .iter()
        .map(|(name, root)| {
            let real = resolved
                .get(root)
                .filter(|f| f.exists)
                .and_then(|f| f.real.clone());
            (name.clone(), real)
        })
        .collect();
    let mut queries: Vec<Query> = dirs.iter().cloned().map(Query::Empty).collect();
    queries.extend(
        real_roots
            .iter()
            .filter_map(|(_, r)| r.clone().map(Query::TierRoot)),
    );
    let (answers, mount_points) = if queries.is_empty() {
        (Vec::new(), BTreeMap::new())
    } else {
        ask(engine, image, &queries)?
    };
    let answers: BTreeMap<Query, Answer> = answers.into_iter().collect();
    let empty_dirs = dirs
        .into_iter()
        .filter(|d| answers.get(&Query::Empty(d.clone())) == Some(&Answer::Empty(Some(true))))
        .collect();
    let tiers = real_roots
        .into_iter()
        .map(|(name, real)| {
            let seen = real.and_then(|r| {
                let answer = answers.get(&Query::TierRoot(r.clone()))?;
                Some((r, answer.clone()))
            });
            (name, presence(seen, &mount_points))
        })
        .collect();
    Ok(Facts {
        paths: paths
            .iter()
            .filter_map(|p| Some((p.clone(), resolved.get(p)?.clone())))
            .collect(),
        tiers,
        left_volumes: Vec::new(),
        empty_dirs,
        under_nested: Default::default(),
        databases: BTreeMap::new(),
        shares: Vec::new(),
    })
}

/// The filesystem numbers of each tier root on the engine's host (`tierfs::fs_numbers` on this
/// machine), in order: `statvfs` in a helper of the root's real path.
pub fn fs_numbers(
    engine: &dyn Helpers,
    image: &str,
    roots: &[PathBuf],
) -> Result<Vec<Result<FsNumbers, FsNumbersError>>, EngineError> {
    let resolved = resolve_paths(engine, image, roots)?;
    let real: Vec<Result<PathBuf, FsNumbersError>> = roots
        .iter()
        .map(|root| match resolved.get(root) {
            Some(f) if f.exists && f.is_dir => f
                .real
                .clone()
                .ok_or_else(|| FsNumbersError::Unresolved { root: root.clone() }),
            _ => Err(FsNumbersError::NotADirectory { root: root.clone() }),
        })
        .collect();
    let queries: Vec<Query> = real
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned().map(Query::FsNumbers))
        .collect();
    let answers: BTreeMap<Query, Answer> = ask(engine, image, &queries)?.0.into_iter().collect();
    Ok(roots
        .iter()
        .zip(real)
        .map(|(root, r)| {
            let real = r?;
            match answers.get(&Query::FsNumbers(real)) {
                Some(Answer::FsNumbers(Ok(numbers))) => Ok(usage_numbers(*numbers)),
                Some(Answer::FsNumbers(Err(why))) => Err(FsNumbersError::Statvfs {
                    root: root.clone(),
                    reason: why.to_string(),
                }),
                _ => Err(FsNumbersError::NoAnswer { root: root.clone() }),
            }
        })
        .collect())
}

/// What is at each tier root `roots` (by tier name) on the engine's host and its filesystem
/// numbers: [`facts`]' presences and [`fs_numbers`] in one resolution and one query run.
pub fn tier_roots(
    engine: &dyn Helpers,
    image: &str,
    roots: &[(String, PathBuf)],
) -> Result<BTreeMap<String, TierRootSeen>, EngineError> {
    let asked: Vec<PathBuf> = roots.iter().map(|(_, r)| r.clone()).collect();
    let resolved = resolve_paths(engine, image, &asked)?;
    let real = |root: &PathBuf| {
        resolved
            .get(root)
            .filter(|f| f.exists && f.is_dir)
            .and_then(|f| f.real.clone())
    };
    let queries: Vec<Query> = roots
        .iter()
        .filter_map(|(_, root)| real(root))
        .flat_map(|r| [Query::TierRoot(r.clone()), Query::FsNumbers(r)])
        .collect();
    let (answers, mount_points) = if queries.is_empty() {
        (Vec::new(), BTreeMap::new())
    } else {
        ask(engine, image, &queries)?
    };
    let answers: BTreeMap<Query, Answer> = answers.into_iter().collect();
    Ok(roots
        .iter()
        .map(|(name, root)| {
            let real = real(root);
            let seen = real.clone().and_then(|r| {
                let answer = answers.get(&Query::TierRoot(r.clone()))?;
                Some((r, answer.clone()))
            });
            let fs = match real {
                None => Err(FsNumbersError::NotADirectory { root: root.clone() }),
                Some(r) => match answers.get(&Query::FsNumbers(r)) {
                    Some(Answer::FsNumbers(Ok(numbers))) => Ok(usage_numbers(*numbers)),
                    Some(Answer::FsNumbers(Err(why))) => Err(FsNumbersError::Statvfs {
                        root: root.clone(),
                        reason: why.to_string(),
                    }),
                    _ => Err(FsNumbersError::NoAnswer { root: root.clone() }),
                },
            };
            let presence = presence(seen, &mount_points);
            (name.clone(), TierRootSeen { presence, fs })
        })
        .collect())
}

/// One tier root as [`tier_roots`] saw it.
#[derive(Debug, Clone)]
pub struct TierRootSeen {
    /// Directory, marker, mount point.
    pub presence: TierPresence,
    /// Its filesystem numbers.
    pub fs: Result<FsNumbers, FsNumbersError>,
}

/// The host's view of bind sources on the engine's host (`observe::host_source` on this
/// machine), keyed by the source as given: existence and the real path by the same walk; the
/// filesystem holding the real path: type and `major:minor` of the nearest mount point above
/// it in that host's mount table, and `statvfs` of the real path.
pub fn bind_sources(
    engine: &dyn Helpers,
    image: &str,
    sources: &[PathBuf],
) -> Result<BTreeMap<PathBuf, HostSource>, EngineError> {
    let resolved = resolve_paths(engine, image, sources)?;
    let reals: BTreeSet<PathBuf> = resolved
        .values()
        .filter(|f| f.exists)
        .filter_map(|f| f.real.clone())
        .collect();
    let queries: Vec<Query> = reals.into_iter().map(Query::FsNumbers).collect();
    let (answers, mounts) = if queries.is_empty() {
        (Vec::new(), BTreeMap::new())
    } else {
        ask(engine, image, &queries)?
    };
    let answers: BTreeMap<Query, Answer> = answers.into_iter().collect();
    Ok(sources
        .iter()
        .map(|source| {
            let facts = resolved.get(source);
            let exists = facts.is_some_and(|f| f.exists);
            let fs = facts
                .filter(|_| exists)
                .and_then(|f| f.real.as_deref())
                .and_then(|real| fs_view(real, &answers, &mounts));
            let seen = HostSource {
                source: source.clone(),
                real: facts
                    .filter(|f| f.is_symlinked())
                    .and_then(|f| f.real.clone()),
                exists,
                fs,
            };
            (source.clone(), seen)
        })
        .collect())
}

/// The filesystem holding `real` on the engine's host, from the answers of one helper run.
fn fs_view(
    real: &Path,
    answers: &BTreeMap<Query, Answer>,
    mounts: &BTreeMap<PathBuf, HostMount>,
) -> Option<FsView> {
    let numbers = match answers.get(&Query::FsNumbers(real.to_path_buf())) {
        Some(Answer::FsNumbers(Ok(numbers))) => Some(usage_numbers(*numbers)),
        _ => None,
    };
    let mount = real.ancestors().find_map(|a| mounts.get(a));
    if numbers.is_none() && mount.is_none() {
        return None;
    }
    Some(FsView {
        fs_type: mount.map(|m| m.fs_type.clone()),
        device: mount.map(|m| m.device.clone()),
        mount_source: None,
        size_bytes: numbers.as_ref().map(|n| n.size_bytes),
        used_bytes: numbers.as_ref().map(|n| n.used_bytes),
        available_bytes: numbers.as_ref().map(|n| n.available_bytes),
        covered_by: None,
    })
}

/// `f_blocks`, `f_bfree`, `f_bavail`, `f_frsize` as sizes in bytes (`f_frsize`, never
/// `f_bsize`).
fn usage_numbers([blocks, free, available, fragment]: [u64; 4]) -> FsNumbers {
    FsNumbers {
        size_bytes: blocks.saturating_mul(fragment),
        used_bytes: blocks.saturating_sub(free).saturating_mul(fragment),
        available_bytes: available.saturating_mul(fragment),
    }
}

/// A tier root's presence from the helper's answer (`tierfs::presence` on this machine).
fn presence(
    seen: Option<(PathBuf, Answer)>,
    mount_points: &BTreeMap<PathBuf, HostMount>,
) -> TierPresence {
    let Some((real, Answer::TierRoot(Some(root)))) = seen else {
        return TierPresence {
            root_is_dir: false,
            root_empty: true,
            marker: Marker::Missing,
            mount_point: None,
        };
    };
    let marker = match root.marker {
        None => Marker::Missing,
        Some(None) => Marker::Unreadable {
            message: format!("`{MARKER_FILE}` could not be read on the engine's host"),
        },
        Some(Some(bytes)) => crate::tierfs::parse_marker(&String::from_utf8_lossy(&bytes)),
    };
    let mount_point = match root.devices {
        _ if real == Path::new("/") || mount_points.contains_key(&real) => Some(true),
        (Some(device), Some(parent)) => Some(device != parent),
        _ => None,
    };
    TierPresence {
        root_is_dir: true,
        root_empty: root.empty.unwrap_or(true),
        marker,
        mount_point,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_become_arguments_without_the_leading_slash() {
        assert_eq!(Query::Kind("/srv/a b".into()).argument(), "l/srv/a b");
        assert_eq!(Query::TierRoot("/".into()).argument(), "t/");
    }

    #[test]
    fn answers_and_mount_points_are_parsed() {
        let queries = vec![
            Query::Kind("/a".into()),
            Query::Kind("/a/l".into()),
            Query::Kind("/gone".into()),
            Query::Empty("/a".into()),
            Query::TierRoot("/t".into()),
            Query::TierRoot("/u".into()),
        ];
        let text = "D\nL\t2e2e2f62\nE\tNo such file or directory\nE\tempty\nT\tfull\t746965723a20660a69643a20310a\t2049\t2050\nT\tnodir\n#mountinfo\n36 35 8:1 / /tierctl-host rw - ext4 /dev/sda1 rw\n37 36 8:2 / /tierctl-host/mnt/fast\\040one rw - xfs /dev/sdb rw\n40 35 0:5 / /proc rw - proc proc rw\n";
        let (answers, points) = parse_output(&queries, text);
        assert_eq!(answers[0].1, Answer::Kind(Kind::Dir, None));
        assert_eq!(
            answers[1].1,
            Answer::Kind(Kind::Symlink, Some("../b".into()))
        );
        assert_eq!(
            answers[2].1,
            Answer::Failed("No such file or directory".into())
        );
        assert_eq!(answers[3].1, Answer::Empty(Some(true)));
        let Answer::TierRoot(Some(root)) = &answers[4].1 else {
            panic!("tier root: {:?}", answers[4].1)
        };
        assert_eq!(root.empty, Some(false));
        assert_eq!(root.devices, (Some(2049), Some(2050)));
        let presence = presence(Some(("/t".into(), answers[4].1.clone())), &points);
        assert_eq!(
            presence.marker,
            Marker::Present {
                tier: "f".into(),
                id: "1".into()
            }
        );
        assert_eq!(presence.mount_point, Some(true));
        assert_eq!(answers[5].1, Answer::TierRoot(None));
        assert_eq!(
            points.keys().cloned().collect::<BTreeSet<_>>(),
            BTreeSet::from([PathBuf::from("/"), PathBuf::from("/mnt/fast one")])
        );
        assert_eq!(
            points[Path::new("/mnt/fast one")],
            HostMount {
                device: "8:2".into(),
                fs_type: "xfs".into()
            }
        );
    }

    /// A walk over plain answers: what is unknown is wanted, with the rest of the path.
    #[test]
    fn an_unknown_component_is_wanted_with_the_rest_of_the_path() {
        let answers = HashMap::from([
            (PathBuf::from("/srv"), Answer::Kind(Kind::Dir, None)),
            (
                PathBuf::from("/srv/photos"),
                Answer::Kind(Kind::Symlink, Some("/mnt/fast/photos".into())),
            ),
        ]);
        let known = Known {
            answers: &answers,
            wanted: RefCell::default(),
        };
        let facts = fsx::resolve_with(Path::new("/srv/photos/2024"), &known);
        assert_eq!(facts.hops.len(), 1);
        assert_eq!(
            known.wanted.into_inner(),
            BTreeSet::from([
                PathBuf::from("/mnt"),
                PathBuf::from("/mnt/fast"),
                PathBuf::from("/mnt/fast/photos"),
                PathBuf::from("/mnt/fast/photos/2024"),
            ])
        );
    }

    /// A real path's filesystem: the nearest mount point above it, `statvfs` by `f_frsize`.
    #[test]
    fn a_bind_source_is_on_the_nearest_mount_above_its_real_path() {
        let mount = |device: &str, fs_type: &str| HostMount {
            device: device.into(),
            fs_type: fs_type.into(),
        };
        let mounts = BTreeMap::from([
            (PathBuf::from("/"), mount("8:1", "ext4")),
            (PathBuf::from("/mnt/fast"), mount("8:2", "xfs")),
        ]);
        let answers = BTreeMap::from([(
            Query::FsNumbers("/mnt/fast/photos".into()),
            Answer::FsNumbers(Ok([100, 40, 30, 4096])),
        )]);
        let view = fs_view(Path::new("/mnt/fast/photos"), &answers, &mounts).expect("a view");
        assert_eq!(view.fs_type.as_deref(), Some("xfs"));
        assert_eq!(view.device.as_deref(), Some("8:2"));
        assert_eq!(view.size_bytes, Some(409_600));
        assert_eq!(view.used_bytes, Some(245_760));
        assert_eq!(view.available_bytes, Some(122_880));
        let other = fs_view(Path::new("/mnt/fastest"), &answers, &mounts).expect("a view");
        assert_eq!(other.device.as_deref(), Some("8:1"));
        assert_eq!(other.size_bytes, None);
    }
}
