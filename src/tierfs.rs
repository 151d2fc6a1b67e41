//! The tier filesystem effects: observe tier roots, layout directories and access points for
//! `layout`, measure usage for `usage`, and carry out the actions `layout` decided.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::facts::{Marker, TierPresence};
use crate::layout::{
    DirAction, DirMeta, LinkAction, LinkFacts, Node, Observed, RootFacts, WalkFacts, WantedDir,
};
use crate::tiers::Tiers;
use crate::usage::{DirUsage, FsNumbers, FsNumbersError};

/// A change to the disk that failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {what} `{}`: {source}", path.display())]
pub struct ChangeError {
    /// The path changed.
    pub path: PathBuf,
    /// What was attempted (`create`, `chown`, `chmod`, `link`).
    pub what: &'static str,
    /// The OS error.
    pub source: io::Error,
}

/// An owner name that names no user or group on this system.
#[derive(Debug, thiserror::Error)]
#[error("unknown owner `{name}` of `{}`", path.display())]
pub struct OwnerError {
    /// The name as written in tiers.yaml.
    pub name: String,
    /// The layout directory it is declared for.
    pub path: PathBuf,
}

/// Limits of the symlink walk under each tier root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkLimits {
    /// Directory levels below the root examined at most.
    pub max_depth: usize,
    /// Entries examined at most per tier.
    pub max_entries: u64,
}

impl Default for WalkLimits {
    fn default() -> Self {
        WalkLimits {
            max_depth: 32,
            max_entries: 1_000_000,
        }
    }
}

/// What is at `path`, without following a final symlink.
pub fn node(path: &Path) -> Node {
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Node::Missing,
        Err(error) => {
            return Node::Unreadable {
                message: error.to_string(),
            };
        }
    };
    if metadata.file_type().is_symlink() {
        return match fs::read_link(path) {
            Ok(target) => Node::Symlink { target },
            Err(error) => Node::Unreadable {
                message: error.to_string(),
            },
        };
    }
    if !metadata.is_dir() {
        return Node::Other;
    }
    let holds_data = fs::read_dir(path)
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(true);
    Node::Dir(DirMeta {
        uid: metadata.uid(),
        gid: metadata.gid(),
        mode: metadata.mode() & 0o7777,
        holds_data,
    })
}

/// Observes every tier root: what is there, its device and its mount.
pub fn roots(tiers: &Tiers) -> Vec<RootFacts> {
    tiers
        .tiers
        .values()
        .map(|tier| {
            let node = node(&tier.root);
            let exists = matches!(node, Node::Dir(_));
            RootFacts {
                tier: tier.name.clone(),
                device: exists
                    .then(|| fs::metadata(&tier.root).ok().map(|m| m.dev()))
                    .flatten(),
                mount: exists
                    .then(|| crate::fsx::mount_of(&tier.root).ok())
                    .flatten(),
                unmounted: exists && tier.mount && is_mount_point(&tier.root) != Some(true),
                node,
            }
        })
        .collect()
}

/// Looks up owner names (`postgres`, `immich:media`) as numeric ids.
pub fn resolve_owners(wanted: Vec<WantedDir>) -> Result<Vec<WantedDir>, OwnerError> {
    wanted
        .into_iter()
        .map(|mut dir| {
            if let Some(name) = &dir.owner_name {
                let ids = owner_ids(name).ok_or_else(|| OwnerError {
                    name: name.clone(),
                    path: dir.path.clone(),
                })?;
                dir.owner = Some(ids);
            }
            Ok(dir)
        })
        .collect()
}

/// `user` (with its primary group) or `user:group` -> `(uid, gid)`.
fn owner_ids(name: &str) -> Option<(u32, u32)> {
    use nix::unistd::{Group, User};
    let (user, group) = match name.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (name, None),
    };
    let user = User::from_name(user).ok()??;
    let gid = match group {
        Some(group) => Group::from_name(group).ok()??.gid,
        None => user.gid,
    };
    Some((user.uid.as_raw(), gid.as_raw()))
}

/// What is at each wanted directory.
pub fn dirs(wanted: Vec<WantedDir>) -> Vec<(WantedDir, Node)> {
    wanted
        .into_iter()
        .map(|dir| {
            let node = node(&dir.path);
            (dir, node)
        })
        .collect()
}

/// Everything `tiers validate` looks at. `wanted` comes with owners resolved.
pub fn observe(tiers: &Tiers, wanted: Vec<WantedDir>, limits: WalkLimits) -> Observed {
    let roots = roots(tiers);
    let walks = tiers
        .tiers
        .values()
        .zip(&roots)
        .filter(|(_, facts)| matches!(facts.node, Node::Dir(_)))
        .map(|(tier, _)| walk_links(&tier.name, &tier.root, limits))
        .collect();
    Observed {
        access_points: tiers
            .access_points
            .iter()
            .map(|point| (node(&point.path), crate::fsx::resolve(&point.path)))
            .collect(),
        dirs: dirs(wanted),
        roots,
        walks,
    }
}

/// What is at each access point and at its target, for `tiers link`.
pub fn link_targets(tiers: &Tiers) -> Vec<(Node, Node)> {
    tiers
        .access_points
        .iter()
        .map(|point| {
            let target = tiers
                .tier_path(&point.tier, &point.sub)
                .map_or(Node::Missing, |t| node(&t));
            (node(&point.path), target)
        })
        .collect()
}

/// Finds every symlink under `root` without following any, depth-first, within `limits`; each
/// one found is resolved (symlink by symlink) so loops and cross-tier targets show.
pub fn walk_links(tier: &str, root: &Path, limits: WalkLimits) -> WalkFacts {
    let mut facts = WalkFacts {
        tier: tier.to_string(),
        entries: 0,
        truncated: false,
        links: Vec::new(),
    };
    let device = fs::symlink_metadata(root).map(|m| m.dev()).ok();
    let mut stack: Vec<(PathBuf, usize)> = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if facts.entries >= limits.max_entries {
                facts.truncated = true;
                return facts;
            }
            facts.entries += 1;
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_symlink() {
                facts.links.push(LinkFacts {
                    tier: tier.to_string(),
                    facts: crate::fsx::resolve(&path),
                });
            } else if kind.is_dir() {
                if depth + 1 > limits.max_depth {
                    facts.truncated = true;
                    continue;
                }
                let same_device = entry.metadata().map(|m| Some(m.dev()) == device);
                if same_device.unwrap_or(false) {
                    stack.push((path, depth + 1));
                }
            }
        }
    }
    facts.links.sort_by(|a, b| a.facts.path.cmp(&b.facts.path));
    facts
}

/// Size, used and available bytes of the filesystem holding `root` (`f_frsize` units).
pub fn fs_numbers(root: &Path) -> Result<FsNumbers, FsNumbersError> {
    let stats = nix::sys::statvfs::statvfs(root).map_err(|e| FsNumbersError::Statvfs {
        root: root.to_owned(),
        reason: e.to_string(),
    })?;
    // The field types differ between platforms (u32 on some, u64 on Linux).
    #[allow(clippy::useless_conversion)]
    let (blocks, free, available, fragment) = (
        u64::from(stats.blocks()),
        u64::from(stats.blocks_free()),
        u64::from(stats.blocks_available()),
        u64::from(stats.fragment_size()),
    );
    Ok(FsNumbers {
        size_bytes: blocks.saturating_mul(fragment),
        used_bytes: blocks.saturating_sub(free).saturating_mul(fragment),
        available_bytes: available.saturating_mul(fragment),
    })
}

struct Tally {
    bytes: AtomicU64,
    entries: AtomicU64,
}

struct UsageWalk<'a> {
    device: u64,
    tallies: Vec<Tally>,
    /// Files with more than one link: `(dev, ino)` -> (lowest top-level index seen, bytes).
    hardlinks: Mutex<HashMap<(u64, u64), (usize, u64)>>,
    progress: &'a (dyn Fn(u64) + Sync),
}

/// Allocated bytes of a file as `du` counts them.
fn allocated(metadata: &fs::Metadata) -> u64 {
    metadata.blocks().saturating_mul(512)
}

/// Usage of every top-level entry of `root`, walked in parallel on one filesystem (as
/// `du -x`), symlinks not followed, a file with several hardlinks counted once (for the first
/// top-level entry in name order that holds it). `progress` gets entry counts as they are seen.
pub fn measure_dirs(root: &Path, progress: &(dyn Fn(u64) + Sync)) -> io::Result<Vec<DirUsage>> {
    let device = fs::symlink_metadata(root)?.dev();
    let mut top: Vec<(String, fs::Metadata, PathBuf)> = fs::read_dir(root)?
        .flatten()
        .filter_map(|entry| {
            let metadata = entry.metadata().ok()?;
            Some((
                entry.file_name().to_string_lossy().into_owned(),
                metadata,
                entry.path(),
            ))
        })
        .collect();
    top.sort_by(|a, b| a.0.cmp(&b.0));
    let walk = UsageWalk {
        device,
        tallies: top
            .iter()
            .map(|_| Tally {
                bytes: AtomicU64::new(0),
                entries: AtomicU64::new(0),
            })
            .collect(),
        hardlinks: Mutex::new(HashMap::new()),
        progress,
    };
    rayon::scope(|scope| {
        for (index, (_, metadata, path)) in top.iter().enumerate() {
            if metadata.is_dir() && metadata.dev() != device {
                continue;
            }
            count(&walk, metadata, index);
            if metadata.is_dir() {
                let walk = &walk;
                let path = path.clone();
                scope.spawn(move |scope| visit(scope, walk, path, index));
            }
        }
    });
    let hardlinks = walk
        .hardlinks
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut out: Vec<DirUsage> = top
        .into_iter()
        .zip(&walk.tallies)
        .map(|((name, _, _), tally)| DirUsage {
            name,
            bytes: tally.bytes.load(Ordering::Relaxed),
            entries: tally.entries.load(Ordering::Relaxed),
        })
        .collect();
    for (index, bytes) in hardlinks.into_values() {
        if let Some(usage) = out.get_mut(index) {
            usage.bytes += bytes;
            usage.entries += 1;
        }
    }
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    Ok(out)
}

/// Counts one entry for top-level entry `index`: directly, or via the hardlink table.
fn count(walk: &UsageWalk, metadata: &fs::Metadata, index: usize) {
    if !metadata.is_dir() && metadata.nlink() > 1 {
        let mut table = walk
            .hardlinks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        table
            .entry((metadata.dev(), metadata.ino()))
            .and_modify(|seen| seen.0 = seen.0.min(index))
            .or_insert((index, allocated(metadata)));
        return;
    }
    let tally = &walk.tallies[index];
    tally
        .bytes
        .fetch_add(allocated(metadata), Ordering::Relaxed);
    tally.entries.fetch_add(1, Ordering::Relaxed);
}

fn visit<'s>(scope: &rayon::Scope<'s>, walk: &'s UsageWalk<'s>, dir: PathBuf, index: usize) {
    let Ok(entries) = fs::read_dir(&dir) else {
        return;
    };
    let mut seen = 0;
    for entry in entries.flatten() {
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        if metadata.is_dir() && metadata.dev() != walk.device {
            continue;
        }
        seen += 1;
        count(walk, &metadata, index);
        if metadata.is_dir() {
            let path = entry.path();
            scope.spawn(move |scope| visit(scope, walk, path, index));
        }
    }
    (walk.progress)(seen);
}

pub use crate::facts::MARKER_FILE;

/// Whether each tier's disk is there, keyed by tier name (for `Facts::tiers`).
pub fn presences(tiers: &Tiers) -> BTreeMap<String, TierPresence> {
    tiers
        .tiers
        .values()
        .map(|tier| (tier.name.clone(), presence(&tier.root)))
        .collect()
}

/// What is at one tier root: a directory, empty or not, its marker, whether it is a mount
/// point. Never fails: what cannot be read is reported as such.
pub fn presence(root: &Path) -> TierPresence {
    let root_is_dir = fs::metadata(root).is_ok_and(|m| m.is_dir());
    let root_empty = fs::read_dir(root).map_or(true, |mut entries| entries.next().is_none());
    let marker = match fs::read_to_string(root.join(MARKER_FILE)) {
        Ok(text) => parse_marker(&text),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Marker::Missing,
        Err(error) => Marker::Unreadable {
            message: error.to_string(),
        },
    };
    TierPresence {
        root_is_dir,
        root_empty,
        marker,
        mount_point: root_is_dir.then(|| is_mount_point(root)).flatten(),
    }
}

/// Whether `dir` is a mount point: its device differs from its parent's (the portable test,
/// `st_dev`), or, on Linux, the mount table has a mount exactly there (a bind mount of the same
/// filesystem keeps the device). `None` when neither could be read.
fn is_mount_point(dir: &Path) -> Option<bool> {
    let real = fs::canonicalize(dir).ok()?;
    let Some(parent) = real.parent() else {
        return Some(true); // `/`
    };
    let device = fs::metadata(&real).ok()?.dev();
    let parent_device = fs::metadata(parent).ok()?.dev();
    if device != parent_device {
        return Some(true);
    }
    Some(mount_table_has(&real))
}

/// Whether the mount table lists a mount at `real` (Linux: `/proc/self/mountinfo`).
#[cfg(target_os = "linux")]
fn mount_table_has(real: &Path) -> bool {
    crate::fsx::mount_of(real).is_ok_and(|m| m.mount_point == real)
}

/// Off Linux the device comparison is the whole test (`getmntinfo` would add bind-like
/// `nullfs` mounts; none are expected under a tier root on macOS).
#[cfg(not(target_os = "linux"))]
fn mount_table_has(_real: &Path) -> bool {
    false
}

/// A copy target on a tier whose disk is not there.
#[derive(Debug, thiserror::Error)]
#[error("tier-not-mounted: will not copy into `{}`: the disk of tier `{tier}` is not there ({why})\nhint: {hint}", target.display())]
pub struct AbsentTier {
    /// The copy target.
    pub target: PathBuf,
    /// Its tier.
    pub tier: String,
    /// What was seen at the tier root.
    pub why: String,
    /// What to do.
    pub hint: String,
}

/// Refuses copies into a tier whose disk is not there (`audit::absence`), by what was `seen`
/// at each tier root ([`presences`] on this machine): the error names the target, the tier
/// and what was seen, with a hint.
pub fn refuse_absent_tiers(
    tiers: &Tiers,
    seen: &BTreeMap<String, TierPresence>,
    targets: &[&Path],
) -> Result<(), AbsentTier> {
    let initialised = crate::audit::initialised(seen.values());
    for target in targets {
        let Some(tier) = tiers.tier_of(target) else {
            continue;
        };
        let Some(presence) = seen.get(&tier.name) else {
            continue;
        };
        if let Some(absent) = crate::audit::absence(tier, presence, initialised) {
            return Err(AbsentTier {
                target: target.to_path_buf(),
                tier: tier.name.clone(),
                why: absent.why,
                hint: crate::audit::absence_hint(tier),
            });
        }
    }
    Ok(())
}

/// Reads a marker file's text: `tier: NAME` and `id: HEX` lines, `#` comments.
pub fn parse_marker(text: &str) -> Marker {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    match (field("tier"), field("id")) {
        (Some(tier), Some(id)) => Marker::Present { tier, id },
        _ => Marker::Unreadable {
            message: format!("`{MARKER_FILE}` has no `tier:` and `id:` lines"),
        },
    }
}

/// Writes the identity marker at the root of `tier` unless one is there (an existing marker is
/// never replaced: its id identifies the filesystem). Returns whether it wrote one. The id is
/// random (128 bits from the standard library's randomly seeded hasher) and recorded nowhere
/// else.
pub fn write_marker(tier: &crate::tiers::Tier) -> Result<bool, ChangeError> {
    use std::hash::{BuildHasher, Hasher};
    let path = tier.root.join(MARKER_FILE);
    let id: String = (0..2)
        .map(|_| {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write(tier.root.as_os_str().as_encoded_bytes());
            format!("{:016x}", hasher.finish())
        })
        .collect();
    let text = format!(
        "# tierctl tier marker: this directory is the root of tier `{}`; keep this file\n\
         tier: {}\nid: {id}\n",
        tier.name, tier.name
    );
    let mut file = match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
        Err(error) => return Err(fail(&path, "create")(error)),
    };
    io::Write::write_all(&mut file, text.as_bytes()).map_err(fail(&path, "write"))?;
    file.sync_all().map_err(fail(&path, "write"))?;
    Ok(true)
}

/// Turns an OS error about `path` into a [`ChangeError`].
fn fail(path: &Path, what: &'static str) -> impl FnOnce(io::Error) -> ChangeError {
    let path = path.to_path_buf();
    move |source| ChangeError { path, what, source }
}

/// Carries out one `tiers init` action.
pub fn apply_dir(action: &DirAction) -> Result<(), ChangeError> {
    match action {
        DirAction::Create { path, owner, mode } => {
            fs::create_dir_all(path).map_err(fail(path, "create"))?;
            set_owner_mode(path, *owner, *mode)
        }
        DirAction::Fix { path, owner, mode } => {
            set_owner_mode(path, owner.map(|(_, to)| to), mode.map(|(_, to)| to))
        }
        DirAction::Keep { .. } | DirAction::Leave { .. } | DirAction::Blocked { .. } => Ok(()),
    }
}

fn set_owner_mode(
    path: &Path,
    owner: Option<(u32, u32)>,
    mode: Option<u32>,
) -> Result<(), ChangeError> {
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|source| ChangeError {
            path: path.to_path_buf(),
            what: "chown",
            source,
        })?;
    }
    if let Some(mode) = mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|source| {
            ChangeError {
                path: path.to_path_buf(),
                what: "chmod",
                source,
            }
        })?;
    }
    Ok(())
}

/// Creates the files `(path, text)` of a rendered template in `dir` (created if missing);
/// refuses to overwrite any file.
pub fn create_project_files(dir: &Path, files: &[(&Path, &str)]) -> Result<(), ChangeError> {
    fs::create_dir_all(dir).map_err(fail(dir, "create"))?;
    for (path, text) in files {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(fail(path, "create"))?;
        io::Write::write_all(&mut file, text.as_bytes()).map_err(fail(path, "write"))?;
    }
    Ok(())
}

/// Carries out one `tiers link` action. A wrong symlink is replaced atomically (a new link
/// renamed over it); an empty directory is removed first (`rmdir` fails if data appeared).
pub fn apply_link(action: &LinkAction) -> Result<(), ChangeError> {
    match action {
        LinkAction::Create { path, target } => {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(fail(parent, "create"))?;
            }
            std::os::unix::fs::symlink(target, path).map_err(fail(path, "link"))
        }
        LinkAction::Replace { path, target, .. } => {
            let is_dir = fs::symlink_metadata(path)
                .map(|m| m.is_dir())
                .unwrap_or(false);
            if is_dir {
                fs::remove_dir(path).map_err(fail(path, "remove the empty directory"))?;
                return std::os::unix::fs::symlink(target, path).map_err(fail(path, "link"));
            }
            let mut temp = path.as_os_str().to_owned();
            temp.push(".tierctl-new");
            let temp = PathBuf::from(temp);
            let _ = fs::remove_file(&temp);
            std::os::unix::fs::symlink(target, &temp).map_err(fail(&temp, "link"))?;
            fs::rename(&temp, path).map_err(fail(path, "replace"))
        }
        LinkAction::Keep { .. } | LinkAction::Refuse { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_counts_hardlinks_once_and_skips_symlink_targets() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        fs::create_dir_all(root.join("a/deep/er")).unwrap();
        fs::create_dir_all(root.join("b")).unwrap();
        fs::write(root.join("a/deep/er/data"), vec![7u8; 64 * 1024]).unwrap();
        fs::hard_link(root.join("a/deep/er/data"), root.join("b/same")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("b/link")).unwrap();
        let seen = AtomicU64::new(0);
        let progress = |n: u64| {
            seen.fetch_add(n, Ordering::Relaxed);
        };
        let usage = measure_dirs(root, &progress).unwrap();
        let a = usage.iter().find(|u| u.name == "a").unwrap();
        let b = usage.iter().find(|u| u.name == "b").unwrap();
        assert!(a.bytes >= 64 * 1024, "{usage:?}");
        // `b` holds a second link to the same file and a symlink: the data is `a`'s.
        assert!(b.bytes < 64 * 1024, "{usage:?}");
        assert_eq!(a.entries, 4); // a, deep, er, data
        assert_eq!(b.entries, 2); // b, link
        assert_eq!(usage[0].name, "a");
        assert!(seen.load(Ordering::Relaxed) >= 4);
    }

    #[test]
    fn walk_stops_at_its_limits() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        fs::create_dir_all(root.join("x/y/z")).unwrap();
        for i in 0..10 {
            fs::write(root.join(format!("f{i}")), "").unwrap();
        }
        std::os::unix::fs::symlink("x", root.join("x/y/z/up")).unwrap();
        let all = walk_links("fast", root, WalkLimits::default());
        assert!(!all.truncated);
        assert_eq!(all.entries, 14);
        assert_eq!(all.links.len(), 1);
        let few = walk_links(
            "fast",
            root,
            WalkLimits {
                max_depth: 32,
                max_entries: 5,
            },
        );
        assert!(few.truncated);
        assert_eq!(few.entries, 5);
        let shallow = walk_links(
            "fast",
            root,
            WalkLimits {
                max_depth: 1,
                max_entries: 100,
            },
        );
        assert!(shallow.truncated);
        assert!(shallow.links.is_empty());
    }
}
