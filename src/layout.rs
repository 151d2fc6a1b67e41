//! The tier layout on disk: what tiers.yaml asks for (roots, layout directories, access
//! points), checked against what is there (`tiers validate`), and the changes that make it so
//! (`tiers init`, `tiers link`).
//!
//! Pure: observations in (filled by `tierfs`), verdicts and actions out.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::facts::{PathFacts, PathProblem};
use crate::tiers::Tiers;

/// What is at a path, seen without following a final symlink (`lstat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Nothing.
    Missing,
    /// A directory.
    Dir(DirMeta),
    /// A symlink with its target text.
    Symlink {
        /// The target as written.
        target: PathBuf,
    },
    /// A file or anything else.
    Other,
    /// It could not be examined.
    Unreadable {
        /// The OS error.
        message: String,
    },
}

/// Owner, mode and content of a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirMeta {
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Permission bits (`0o7777` at most).
    pub mode: u32,
    /// Whether it has any entry (data that a chown or chmod would affect).
    pub holds_data: bool,
}

/// Which mount holds a path and with which options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountFacts {
    /// Where the filesystem is mounted.
    pub mount_point: PathBuf,
    /// Filesystem type (`ext4`, `tmpfs`).
    pub fs_type: String,
    /// Per-mount options (`rw`, `noatime`).
    pub options: Vec<String>,
}

/// What was observed about one tier root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootFacts {
    /// The tier name.
    pub tier: String,
    /// What is at the root.
    pub node: Node,
    /// Device id (`st_dev`) of the root, when it exists.
    pub device: Option<u64>,
    /// The mount holding the root, when known.
    pub mount: Option<MountFacts>,
    /// tiers.yaml says `mount: true` and the root is not a mount point (its disk is not there:
    /// the directory is on the system disk).
    pub unmounted: bool,
}

/// A directory `tiers init` creates and `tiers validate` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedDir {
    /// The tier.
    pub tier: String,
    /// The absolute path.
    pub path: PathBuf,
    /// Numeric owner, when declared.
    pub owner: Option<(u32, u32)>,
    /// Owner name as declared (`postgres`), when not numeric.
    pub owner_name: Option<String>,
    /// Permission bits, when declared.
    pub mode: Option<u32>,
    /// Whether it comes from `layout:` (checked by validate) or from placement (created only).
    pub declared: bool,
}

/// One symlink found under a tier root, with where it leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFacts {
    /// The tier whose root holds the symlink.
    pub tier: String,
    /// The symlink, resolved.
    pub facts: PathFacts,
}

/// How the bounded walk under a tier root went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkFacts {
    /// The tier.
    pub tier: String,
    /// Entries examined.
    pub entries: u64,
    /// Whether a limit stopped the walk early.
    pub truncated: bool,
    /// The symlinks found.
    pub links: Vec<LinkFacts>,
}

/// Everything `tiers validate` looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// One per tier, in file order.
    pub roots: Vec<RootFacts>,
    /// One per [`wanted_dirs`] entry, in order: the directory and its owner resolved by name.
    pub dirs: Vec<(WantedDir, Node)>,
    /// One per access point, in file order: what is at it, and it resolved.
    pub access_points: Vec<(Node, PathFacts)>,
    /// One per tier whose root exists.
    pub walks: Vec<WalkFacts>,
}

/// How bad a verdict is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Passed (shown with `-v`).
    Ok,
    /// Worth knowing; does not change the exit code.
    Note,
    /// Drift that `tiers init`/`tiers link` or a small change fixes: exit 1.
    Warning,
    /// The layout is broken: exit 2.
    Error,
}

impl Level {
    /// `ok`, `note`, `warning`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One check's result about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Check id (`root`, `shared-filesystem`, `layout-owner`, ...).
    pub check: &'static str,
    /// How bad.
    pub level: Level,
    /// The tier concerned, if one.
    pub tier: Option<String>,
    /// The path concerned.
    pub path: PathBuf,
    /// What was found.
    pub message: String,
    /// What to do; empty when nothing.
    pub hint: String,
}

/// Exit code for a list of verdicts: 0 clean or notes only, 1 warnings, 2 errors.
pub fn exit_code(verdicts: &[Verdict]) -> u8 {
    match verdicts.iter().map(|v| v.level).max() {
        Some(Level::Error) => 2,
        Some(Level::Warning) => 1,
        _ => 0,
    }
}

/// Tier kinds on flash storage, where `noatime` saves writes.
const FLASH_KINDS: [&str; 3] = ["nvme", "ssd", "flash"];

/// The directories `tiers init` creates: every `layout:` entry, then the fixed part of every
/// placement path (`databases` of `databases/{project}/{volume}`) that no entry names. A
/// built-in rule whose own tier the file lacks (`backups` without a `cold` tier, which falls
/// back to the first tier) creates nothing up front: the fast tier gets no `backups`.
pub fn wanted_dirs(tiers: &Tiers) -> Vec<WantedDir> {
    let mut out: Vec<WantedDir> = tiers
        .layout
        .iter()
        .filter_map(|entry| {
            Some(WantedDir {
                tier: entry.tier.clone(),
                path: tiers.tier_path(&entry.tier, &entry.sub)?,
                owner: entry.owner,
                owner_name: entry.owner_name.clone(),
                mode: entry.mode,
                declared: true,
            })
        })
        .collect();
    let mut seen: BTreeSet<PathBuf> = out.iter().map(|d| d.path.clone()).collect();
    for (index, rule) in tiers.placement.iter().enumerate() {
        let fallback = tiers.placement_is_default
            && crate::tiers::DEFAULT_RULES
                .get(index)
                .is_some_and(|row| row.tier != rule.tier);
        if fallback {
            continue;
        }
        let prefix = fixed_prefix(rule.path.as_str());
        if prefix.as_os_str().is_empty() {
            continue;
        }
        let Some(path) = tiers.tier_path(&rule.tier, &prefix) else {
            continue;
        };
        if seen.insert(path.clone()) {
            out.push(WantedDir {
                tier: rule.tier.clone(),
                path,
                owner: None,
                owner_name: None,
                mode: None,
                declared: false,
            });
        }
    }
    out
}

/// The leading components of a path template that hold no variable.
fn fixed_prefix(template: &str) -> PathBuf {
    template
        .split('/')
        .take_while(|part| !part.contains('{') && !part.is_empty())
        .collect()
}

/// `tiers validate`: every check over the observations, in a stable order (roots, shared
/// filesystems, layout, access points, symlinks under the roots).
pub fn validate(tiers: &Tiers, observed: &Observed) -> Vec<Verdict> {
    let mut out = Vec::new();
    for root in &observed.roots {
        out.extend(check_root(tiers, root));
    }
    out.extend(check_shared(tiers, &observed.roots));
    for (dir, node) in observed.dirs.iter().filter(|(dir, _)| dir.declared) {
        out.push(check_dir(dir, node));
    }
    for (point, (node, facts)) in tiers.access_points.iter().zip(&observed.access_points) {
        let target = tiers
            .tier_path(&point.tier, &point.sub)
            .unwrap_or_else(|| point.sub.clone());
        out.push(check_access_point(&point.path, &target, node, facts));
    }
    for walk in &observed.walks {
        out.extend(check_walk(tiers, walk));
    }
    out
}

fn verdict(check: &'static str, level: Level, tier: Option<&str>, path: &Path) -> Verdict {
    Verdict {
        check,
        level,
        tier: tier.map(str::to_string),
        path: path.to_path_buf(),
        message: String::new(),
        hint: String::new(),
    }
}

impl Verdict {
    fn says(mut self, message: String, hint: &str) -> Verdict {
        self.message = message;
        self.hint = hint.to_string();
        self
    }
}

fn check_root(tiers: &Tiers, root: &RootFacts) -> Vec<Verdict> {
    let Some(tier) = tiers.tiers.get(&root.tier) else {
        return Vec::new();
    };
    let path = tier.root.as_path();
    let at = |check, level| verdict(check, level, Some(&tier.name), path);
    let mut out = Vec::new();
    match &root.node {
        Node::Dir(_) => {
            let on = root.mount.as_ref().map_or(String::new(), |m| {
                format!(" on {} mounted at {}", m.fs_type, m.mount_point.display())
            });
            out.push(at("root", Level::Ok).says(
                format!("tier {}: root {} exists{on}", tier.name, path.display()),
                "",
            ));
        }
        Node::Missing => out.push(at("root-missing", Level::Error).says(
            format!("tier {}: root {} does not exist", tier.name, path.display()),
            "mount the disk, or fix `root:` in tiers.yaml",
        )),
        Node::Symlink { target } => out.push(at("root-symlink", Level::Error).says(
            format!(
                "tier {}: root {} is a symlink to {}",
                tier.name,
                path.display(),
                target.display()
            ),
            "write the physical path as the root in tiers.yaml",
        )),
        Node::Other => out.push(at("root-not-directory", Level::Error).says(
            format!(
                "tier {}: root {} is not a directory",
                tier.name,
                path.display()
            ),
            "fix `root:` in tiers.yaml",
        )),
        Node::Unreadable { message } => out.push(at("root-unreadable", Level::Error).says(
            format!(
                "tier {}: cannot examine {}: {message}",
                tier.name,
                path.display()
            ),
            "run as a user that can read the tier roots",
        )),
    }
    let flash = tier
        .kind
        .as_deref()
        .is_some_and(|kind| FLASH_KINDS.contains(&kind.to_ascii_lowercase().as_str()));
    if let (true, Some(mount)) = (flash, &root.mount)
        && !mount.options.iter().any(|o| o == "noatime")
    {
        let atime = mount
            .options
            .iter()
            .find(|o| o.ends_with("atime"))
            .map_or("atime", String::as_str);
        out.push(at("noatime", Level::Note).says(
            format!(
                "tier {}: {} ({}) is mounted with {atime}, not noatime",
                tier.name,
                mount.mount_point.display(),
                tier.kind.as_deref().unwrap_or_default()
            ),
            "mount it with `noatime` to save writes on flash storage",
        ));
    }
    out
}

fn check_shared(tiers: &Tiers, roots: &[RootFacts]) -> Vec<Verdict> {
    let mut out = Vec::new();
    for (index, root) in roots.iter().enumerate() {
        let Some(device) = root.device else { continue };
        let Some(earlier) = roots[..index]
            .iter()
            .find(|other| other.device == Some(device))
        else {
            continue;
        };
        let Some(tier) = tiers.tiers.get(&root.tier) else {
            continue;
        };
        out.push(
            verdict("shared-filesystem", Level::Warning, Some(&root.tier), &tier.root).says(
                format!(
                    "tiers {} and {} share one filesystem (device {}:{})",
                    earlier.tier,
                    root.tier,
                    major(device),
                    minor(device)
                ),
                "give each tier its own disk or volume; on one filesystem the tiers cannot differ in speed or fail apart",
            ),
        );
    }
    out
}

/// The `dev_t` major number, as the platform encodes it.
fn major(device: u64) -> u64 {
    nix::sys::stat::major(device as nix::libc::dev_t) as u64
}

/// The `dev_t` minor number, as the platform encodes it.
fn minor(device: u64) -> u64 {
    nix::sys::stat::minor(device as nix::libc::dev_t) as u64
}

fn check_dir(dir: &WantedDir, node: &Node) -> Verdict {
    let at = |check, level| verdict(check, level, Some(&dir.tier), &dir.path);
    let shown = dir.path.display();
    match node {
        Node::Missing => at("layout-missing", Level::Warning).says(
            format!("{shown} does not exist"),
            "create it with `tierctl tiers init`",
        ),
        Node::Symlink { target } => at("layout-symlink", Level::Error).says(
            format!("{shown} is a symlink to {}", target.display()),
            "a tier directory must be a real directory; move the data here and remove the link",
        ),
        Node::Other => at("layout-not-directory", Level::Error).says(
            format!("{shown} is not a directory"),
            "move the file away, then run `tierctl tiers init`",
        ),
        Node::Unreadable { message } => at("layout-unreadable", Level::Error).says(
            format!("cannot examine {shown}: {message}"),
            "run as a user that can read the tier roots",
        ),
        Node::Dir(meta) => {
            let mut wrong = Vec::new();
            if let Some((uid, gid)) = dir.owner
                && (meta.uid, meta.gid) != (uid, gid)
            {
                wrong.push(format!(
                    "owner {}:{} (declared {uid}:{gid})",
                    meta.uid, meta.gid
                ));
            }
            if let Some(mode) = dir.mode
                && meta.mode != mode
            {
                wrong.push(format!("mode {:04o} (declared {mode:04o})", meta.mode));
            }
            if wrong.is_empty() {
                at("layout", Level::Ok).says(
                    format!(
                        "{shown} exists, owner {}:{}, mode {:04o}",
                        meta.uid, meta.gid, meta.mode
                    ),
                    "",
                )
            } else {
                let check = if dir.owner.is_some_and(|o| o != (meta.uid, meta.gid)) {
                    "layout-owner"
                } else {
                    "layout-mode"
                };
                at(check, Level::Warning).says(
                    format!("{shown} has {}", wrong.join(", ")),
                    "run `tierctl tiers init --fix-permissions`",
                )
            }
        }
    }
}

fn check_access_point(point: &Path, target: &Path, node: &Node, facts: &PathFacts) -> Verdict {
    let at = |check, level| verdict(check, level, None, point);
    let shown = point.display();
    match node {
        Node::Missing => {
            return at("access-point-missing", Level::Warning).says(
                format!("access point {shown} does not exist"),
                "create it with `tierctl tiers link`",
            );
        }
        Node::Dir(meta) => {
            let what = if meta.holds_data {
                "a real directory holding data"
            } else {
                "an empty real directory"
            };
            return at("access-point-not-symlink", Level::Error).says(
                format!(
                    "access point {shown} is {what}, not a symlink to {}",
                    target.display()
                ),
                "move its data into the tier directory, remove it, then run `tierctl tiers link`",
            );
        }
        Node::Other | Node::Unreadable { .. } => {
            return at("access-point-not-symlink", Level::Error).says(
                format!("access point {shown} is not a symlink"),
                "remove it, then run `tierctl tiers link`",
            );
        }
        Node::Symlink { .. } => {}
    }
    if let Some(PathProblem::Loop { .. } | PathProblem::TooManyLinks) = &facts.problem {
        return at("circular-symlink", Level::Error).says(
            format!("access point {shown} is part of a symlink loop"),
            "run `tierctl tiers link` to point it at its tier directory",
        );
    }
    let single = facts.hops.len() == 1 && facts.hops[0].link == point;
    let real = facts.real.as_deref();
    if real != Some(target) {
        let leads = real.map_or("nowhere".to_string(), |r| r.display().to_string());
        return at("access-point-wrong-target", Level::Error).says(
            format!(
                "access point {shown} leads to {leads}, not {}",
                target.display()
            ),
            "run `tierctl tiers link` to point it at its tier directory",
        );
    }
    if !single {
        let chain: Vec<String> = facts
            .hops
            .iter()
            .map(|hop| hop.link.display().to_string())
            .collect();
        return at("access-point-chain", Level::Error).says(
            format!(
                "access point {shown} reaches {} through {} symlinks ({})",
                target.display(),
                facts.hops.len(),
                chain.join(" -> ")
            ),
            "make it one symlink straight to the tier directory (`tierctl tiers link`)",
        );
    }
    if !facts.exists {
        return at("access-point-dangling", Level::Warning).says(
            format!(
                "access point {shown} points at {}, which does not exist",
                target.display()
            ),
            "create the tier directory with `tierctl tiers init`",
        );
    }
    at("access-point", Level::Ok).says(format!("{shown} -> {}", target.display()), "")
}

fn check_walk(tiers: &Tiers, walk: &WalkFacts) -> Vec<Verdict> {
    let mut out = Vec::new();
    let root = tiers
        .tiers
        .get(&walk.tier)
        .map(|t| t.root.clone())
        .unwrap_or_default();
    let mut problems = 0;
    for link in &walk.links {
        let path = &link.facts.path;
        if let Some(PathProblem::Loop { .. } | PathProblem::TooManyLinks) = &link.facts.problem {
            problems += 1;
            out.push(
                verdict("circular-symlink", Level::Error, Some(&link.tier), path).says(
                    format!("{} is part of a symlink loop", path.display()),
                    "remove the link or point it at a real directory",
                ),
            );
            continue;
        }
        let Some(real) = link.facts.real.as_deref() else {
            continue;
        };
        if let Some(other) = tiers.tier_of(real)
            && other.name != link.tier
        {
            problems += 1;
            out.push(
                verdict("cross-tier-symlink", Level::Warning, Some(&link.tier), path).says(
                    format!(
                        "{} on tier {} leads to {} on tier {}",
                        path.display(),
                        link.tier,
                        real.display(),
                        other.name
                    ),
                    "bind the target directly; a container given this path sees the other tier or nothing",
                ),
            );
        }
    }
    if walk.truncated {
        out.push(
            verdict("walk-truncated", Level::Note, Some(&walk.tier), &root).says(
                format!(
                    "tier {}: stopped after {} entries; symlinks deeper down were not checked",
                    walk.tier, walk.entries
                ),
                "raise --max-entries/--max-depth to check everything",
            ),
        );
    }
    if problems == 0 {
        out.push(
            verdict("symlinks", Level::Ok, Some(&walk.tier), &root).says(
                format!(
                    "tier {}: {} entries, {} symlinks, no loop or cross-tier link",
                    walk.tier,
                    walk.entries,
                    walk.links.len()
                ),
                "",
            ),
        );
    }
    out
}

/// What `tiers init` does about one tier root's identity marker (`.tierctl-tier`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerAction {
    /// The tier.
    pub tier: String,
    /// Its root.
    pub root: PathBuf,
    /// What happens to the marker.
    pub kind: MarkerKind,
}

/// What happens to one tier root's marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerKind {
    /// None is there: write one.
    Write,
    /// One is there already: keep it.
    Keep,
    /// None is written: the root is missing or is not what tiers.yaml says (a `mount: true`
    /// root that is not a mount point would mark the system disk).
    HeldBack {
        /// Why, and what to do.
        reason: String,
    },
}

impl MarkerAction {
    /// Whether the marker was (or would be) left unwritten.
    pub fn held_back(&self) -> bool {
        matches!(self.kind, MarkerKind::HeldBack { .. })
    }
}

/// `tiers init`'s marker decision for one tier, from what is at its root. `will_exist`: the
/// root is not there yet but the directory actions create it (a dry run).
pub fn marker_plan(
    tier: &crate::tiers::Tier,
    seen: &crate::facts::TierPresence,
    will_exist: bool,
) -> MarkerAction {
    use crate::facts::Marker;
    let held_back = |reason: String| MarkerKind::HeldBack { reason };
    let kind = if tier.mount && seen.mount_point != Some(true) {
        held_back(format!(
            "the root is not a mount point (tiers.yaml says `mount: true`): {}",
            crate::audit::absence_hint(tier)
        ))
    } else if !seen.root_is_dir && !will_exist {
        held_back("the root is not a directory".into())
    } else {
        match &seen.marker {
            Marker::Present { .. } => MarkerKind::Keep,
            Marker::Missing => MarkerKind::Write,
            Marker::Unreadable { message } => held_back(format!(
                "a marker file is there but cannot be used ({message}): move it away, then run `tierctl tiers init` again"
            )),
        }
    };
    MarkerAction {
        tier: tier.name.clone(),
        root: tier.root.clone(),
        kind,
    }
}

/// What `tiers init` does about one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirAction {
    /// Create it (and missing parents), then set owner and mode when declared.
    Create {
        /// The directory.
        path: PathBuf,
        /// Owner to set.
        owner: Option<(u32, u32)>,
        /// Mode to set.
        mode: Option<u32>,
    },
    /// It exists; set owner and/or mode.
    Fix {
        /// The directory.
        path: PathBuf,
        /// `(from, to)` owner, when it changes.
        owner: Option<((u32, u32), (u32, u32))>,
        /// `(from, to)` mode, when it changes.
        mode: Option<(u32, u32)>,
    },
    /// It exists as declared.
    Keep {
        /// The directory.
        path: PathBuf,
    },
    /// It exists with another owner or mode and holds data: left alone.
    Leave {
        /// The directory.
        path: PathBuf,
        /// What differs.
        differs: String,
    },
    /// It cannot be made: the tier root is missing, or a file or symlink is in the way.
    Blocked {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl DirAction {
    /// Whether the action changes the disk.
    pub fn changes(&self) -> bool {
        matches!(self, DirAction::Create { .. } | DirAction::Fix { .. })
    }
}

/// `tiers init`: what to do about each wanted directory, given what is at it (`dirs`, in
/// [`wanted_dirs`] order, with owners resolved) and whether each root exists. Never touches a
/// directory holding data unless `fix_permissions`.
pub fn init_plan(
    dirs: &[(WantedDir, Node)],
    roots: &[RootFacts],
    fix_permissions: bool,
) -> Vec<DirAction> {
    dirs.iter()
        .map(|(dir, node)| {
            let root_ok = roots
                .iter()
                .find(|r| r.tier == dir.tier)
                .is_some_and(|r| matches!(r.node, Node::Dir(_)));
            if !root_ok {
                return DirAction::Blocked {
                    path: dir.path.clone(),
                    reason: format!(
                        "the root of tier {} is missing; mount it first (a directory made now would be on the wrong disk)",
                        dir.tier
                    ),
                };
            }
            let unmounted = roots.iter().any(|r| r.tier == dir.tier && r.unmounted);
            if unmounted && matches!(node, Node::Missing) {
                return DirAction::Blocked {
                    path: dir.path.clone(),
                    reason: format!(
                        "the root of tier {} is not a mount point (tiers.yaml says `mount: true`); mount its disk first (a directory made now would be on the system disk)",
                        dir.tier
                    ),
                };
            }
            init_dir(dir, node, fix_permissions)
        })
        .collect()
}

fn init_dir(dir: &WantedDir, node: &Node, fix_permissions: bool) -> DirAction {
    let path = dir.path.clone();
    match node {
        Node::Missing => DirAction::Create {
            path,
            owner: dir.owner,
            mode: dir.mode,
        },
        Node::Symlink { target } => DirAction::Blocked {
            path,
            reason: format!("it is a symlink to {}", target.display()),
        },
        Node::Other => DirAction::Blocked {
            path,
            reason: "a file is in the way".to_string(),
        },
        Node::Unreadable { message } => DirAction::Blocked {
            path,
            reason: message.clone(),
        },
        Node::Dir(meta) => {
            let owner = dir
                .owner
                .filter(|&o| o != (meta.uid, meta.gid))
                .map(|to| ((meta.uid, meta.gid), to));
            let mode = dir
                .mode
                .filter(|&m| m != meta.mode)
                .map(|to| (meta.mode, to));
            if owner.is_none() && mode.is_none() {
                return DirAction::Keep { path };
            }
            if meta.holds_data && !fix_permissions {
                let mut differs = Vec::new();
                if let Some(((fu, fg), (tu, tg))) = owner {
                    differs.push(format!("owner {fu}:{fg}, declared {tu}:{tg}"));
                }
                if let Some((from, to)) = mode {
                    differs.push(format!("mode {from:04o}, declared {to:04o}"));
                }
                return DirAction::Leave {
                    path,
                    differs: differs.join("; "),
                };
            }
            DirAction::Fix { path, owner, mode }
        }
    }
}

/// What `tiers link` does about one access point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkAction {
    /// Create the symlink (and missing parent directories).
    Create {
        /// The access point.
        path: PathBuf,
        /// The tier directory.
        target: PathBuf,
    },
    /// Replace what is there (a wrong symlink or an empty directory) with the symlink.
    Replace {
        /// The access point.
        path: PathBuf,
        /// The tier directory.
        target: PathBuf,
        /// What is replaced.
        old: String,
    },
    /// Already a single symlink to the tier directory.
    Keep {
        /// The access point.
        path: PathBuf,
        /// The tier directory.
        target: PathBuf,
    },
    /// Left alone.
    Refuse {
        /// The access point.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// `tiers link`: what to do about each access point, given what is at it and at its target
/// (`observed`, in file order: the access point's node and the target's node).
pub fn link_plan(tiers: &Tiers, observed: &[(Node, Node)]) -> Vec<LinkAction> {
    tiers
        .access_points
        .iter()
        .zip(observed)
        .map(|(point, (node, target_node))| {
            let path = point.path.clone();
            let Some(target) = tiers.tier_path(&point.tier, &point.sub) else {
                return LinkAction::Refuse {
                    path,
                    reason: format!("unknown tier {}", point.tier),
                };
            };
            if !matches!(target_node, Node::Dir(_)) {
                return LinkAction::Refuse {
                    path,
                    reason: format!(
                        "the target {} is not a directory; run `tierctl tiers init` first",
                        target.display()
                    ),
                };
            }
            match node {
                Node::Missing => LinkAction::Create { path, target },
                Node::Symlink { target: current } if *current == target => {
                    LinkAction::Keep { path, target }
                }
                Node::Symlink { target: current } => LinkAction::Replace {
                    path,
                    target,
                    old: format!("symlink to {}", current.display()),
                },
                Node::Dir(meta) if !meta.holds_data => LinkAction::Replace {
                    path,
                    target,
                    old: "empty directory".to_string(),
                },
                Node::Dir(_) => LinkAction::Refuse {
                    path,
                    reason: "it is a real directory holding data; move the data to the tier directory first".to_string(),
                },
                Node::Other => LinkAction::Refuse {
                    path,
                    reason: "a file is in the way".to_string(),
                },
                Node::Unreadable { message } => LinkAction::Refuse {
                    path,
                    reason: message.clone(),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Hop;

    fn marker_case(
        mount: bool,
        seen: (bool, Option<bool>),
        marker: crate::facts::Marker,
    ) -> MarkerKind {
        let tier = crate::tiers::Tier {
            name: "fast".into(),
            root: "/t/fast".into(),
            kind: None,
            mount,
        };
        let (root_is_dir, mount_point) = seen;
        let seen = crate::facts::TierPresence {
            root_is_dir,
            root_empty: false,
            marker,
            mount_point,
        };
        marker_plan(&tier, &seen, false).kind
    }

    #[test]
    fn a_marker_is_written_kept_or_held_back_with_the_reason() {
        use crate::facts::Marker;
        let present = || Marker::Present {
            tier: "fast".into(),
            id: "x".into(),
        };
        assert_eq!(
            marker_case(false, (true, Some(false)), Marker::Missing),
            MarkerKind::Write
        );
        assert_eq!(
            marker_case(false, (true, None), present()),
            MarkerKind::Keep
        );
        assert_eq!(
            marker_case(true, (true, Some(true)), Marker::Missing),
            MarkerKind::Write
        );
        let held = |kind: MarkerKind| match kind {
            MarkerKind::HeldBack { reason } => reason,
            other => panic!("held back expected, got {other:?}"),
        };
        let reason = held(marker_case(true, (true, Some(false)), Marker::Missing));
        assert!(
            reason.starts_with("the root is not a mount point"),
            "{reason}"
        );
        assert!(
            reason.contains("mount the disk of tier `fast` at /t/fast"),
            "{reason}"
        );
        let reason = held(marker_case(false, (false, None), Marker::Missing));
        assert_eq!(reason, "the root is not a directory");
        let unreadable = Marker::Unreadable {
            message: "not a marker".into(),
        };
        let reason = held(marker_case(false, (true, Some(false)), unreadable));
        assert!(reason.contains("(not a marker): move it away"), "{reason}");
    }

    const TIERS: &str = r#"
tiers:
  fast: { root: /t/fast, kind: nvme }
  warm: { root: /t/warm, kind: ssd }
  cold: { root: /t/cold, kind: hdd }
placement:
  - match: { image: "postgres*" }
    tier: fast
    path: databases/{project}/{volume}
  - tier: warm
    path: "{project}/{volume}"
access_points:
  /v/Photos: fast:photos
layout:
  - { path: fast:databases, owner: "999:999", mode: "0700" }
  - { path: fast:photos, owner: immich }
"#;

    fn tiers() -> Tiers {
        crate::tiers::load(Path::new("tiers.yaml"), TIERS).expect("valid tiers")
    }

    fn dir(uid: u32, mode: u32, holds_data: bool) -> Node {
        Node::Dir(DirMeta {
            uid,
            gid: uid,
            mode,
            holds_data,
        })
    }

    fn root(tier: &str, device: u64, options: &[&str]) -> RootFacts {
        RootFacts {
            tier: tier.to_string(),
            node: dir(0, 0o755, true),
            device: Some(device),
            mount: Some(MountFacts {
                mount_point: PathBuf::from(format!("/t/{tier}")),
                fs_type: "ext4".to_string(),
                options: options.iter().map(|o| o.to_string()).collect(),
            }),
            unmounted: false,
        }
    }

    fn resolved(path: &str, hops: &[(&str, &str)], real: &str, exists: bool) -> PathFacts {
        PathFacts {
            path: PathBuf::from(path),
            hops: hops
                .iter()
                .map(|(link, target)| Hop {
                    link: PathBuf::from(link),
                    target: PathBuf::from(target),
                    resolved: PathBuf::from(target),
                })
                .collect(),
            real: Some(PathBuf::from(real)),
            exists,
            is_dir: exists,
            problem: None,
        }
    }

    fn ids(verdicts: &[Verdict]) -> Vec<(&'static str, Level)> {
        verdicts.iter().map(|v| (v.check, v.level)).collect()
    }

    #[test]
    fn issue12_tiers_init_without_a_cold_tier_creates_no_backups_on_the_fast_tier() {
        let tiers = crate::tiers::load(
            Path::new("tiers.yaml"),
            "tiers:\n  fast: { root: /f }\n  warm: { root: /w }\n",
        )
        .expect("valid tiers");
        let dirs: Vec<PathBuf> = wanted_dirs(&tiers).into_iter().map(|d| d.path).collect();
        assert!(dirs.contains(&PathBuf::from("/f/databases")), "{dirs:?}");
        for absent in ["/f/backups", "/f/archives"] {
            assert!(!dirs.contains(&PathBuf::from(absent)), "{dirs:?}");
        }
    }

    #[test]
    fn wanted_dirs_are_layout_then_placement_prefixes() {
        let wanted = wanted_dirs(&tiers());
        let paths: Vec<(&str, bool)> = wanted
            .iter()
            .map(|d| (d.path.to_str().unwrap(), d.declared))
            .collect();
        // `databases` is both a layout entry and a placement prefix: listed once.
        assert_eq!(
            paths,
            vec![("/t/fast/databases", true), ("/t/fast/photos", true)]
        );
        assert_eq!(wanted[1].owner_name.as_deref(), Some("immich"));
        assert_eq!(fixed_prefix("media/movies"), PathBuf::from("media/movies"));
        assert_eq!(fixed_prefix("{project}/x"), PathBuf::new());
    }

    fn clean_observed() -> Observed {
        let t = tiers();
        let mut dirs: Vec<(WantedDir, Node)> = wanted_dirs(&t)
            .into_iter()
            .map(|d| (d, dir(999, 0o700, true)))
            .collect();
        dirs[1].0.owner = Some((1000, 1000));
        dirs[1].1 = dir(1000, 0o755, true);
        Observed {
            roots: vec![
                root("fast", 1, &["rw", "noatime"]),
                root("warm", 2, &["rw", "relatime"]),
                root("cold", 3, &["rw", "relatime"]),
            ],
            dirs,
            access_points: vec![(
                Node::Symlink {
                    target: PathBuf::from("/t/fast/photos"),
                },
                resolved(
                    "/v/Photos",
                    &[("/v/Photos", "/t/fast/photos")],
                    "/t/fast/photos",
                    true,
                ),
            )],
            walks: vec![WalkFacts {
                tier: "fast".into(),
                entries: 10,
                truncated: false,
                links: vec![],
            }],
        }
    }

    #[test]
    fn a_clean_layout_has_ok_verdicts_and_one_note() {
        let verdicts = validate(&tiers(), &clean_observed());
        assert_eq!(
            ids(&verdicts),
            vec![
                ("root", Level::Ok),
                ("root", Level::Ok),
                ("noatime", Level::Note),
                ("root", Level::Ok),
                ("layout", Level::Ok),
                ("layout", Level::Ok),
                ("access-point", Level::Ok),
                ("symlinks", Level::Ok),
            ]
        );
        assert_eq!(
            verdicts[2].message,
            "tier warm: /t/warm (ssd) is mounted with relatime, not noatime"
        );
        assert_eq!(exit_code(&verdicts), 0);
    }

    #[test]
    fn shared_filesystem_and_drift_are_warnings() {
        let mut observed = clean_observed();
        observed.roots[2].device = Some(2);
        observed.dirs[0].1 = dir(0, 0o755, false);
        observed.access_points[0].0 = Node::Missing;
        let verdicts = validate(&tiers(), &observed);
        let problems: Vec<_> = verdicts
            .iter()
            .filter(|v| v.level >= Level::Warning)
            .map(|v| (v.check, v.message.as_str()))
            .collect();
        assert_eq!(
            problems,
            vec![
                (
                    "shared-filesystem",
                    "tiers warm and cold share one filesystem (device 0:2)"
                ),
                (
                    "layout-owner",
                    "/t/fast/databases has owner 0:0 (declared 999:999), mode 0755 (declared 0700)"
                ),
                (
                    "access-point-missing",
                    "access point /v/Photos does not exist"
                ),
            ]
        );
        assert_eq!(exit_code(&verdicts), 1);
    }

    #[test]
    fn access_point_chains_wrong_targets_and_directories_are_errors() {
        let t = tiers();
        let target = Path::new("/t/fast/photos");
        let point = Path::new("/v/Photos");
        let link = Node::Symlink {
            target: PathBuf::from("/v/other"),
        };
        let chain = resolved(
            "/v/Photos",
            &[("/v/Photos", "/v/other"), ("/v/other", "/t/fast/photos")],
            "/t/fast/photos",
            true,
        );
        let v = check_access_point(point, target, &link, &chain);
        assert_eq!(v.check, "access-point-chain");
        assert_eq!(
            v.message,
            "access point /v/Photos reaches /t/fast/photos through 2 symlinks (/v/Photos -> /v/other)"
        );
        let wrong = resolved(
            "/v/Photos",
            &[("/v/Photos", "/t/warm/x")],
            "/t/warm/x",
            true,
        );
        assert_eq!(
            check_access_point(point, target, &link, &wrong).check,
            "access-point-wrong-target"
        );
        let data = check_access_point(point, target, &dir(0, 0o755, true), &chain);
        assert_eq!(
            (data.check, data.level),
            ("access-point-not-symlink", Level::Error)
        );
        let mut looped = chain.clone();
        looped.problem = Some(PathProblem::Loop {
            at: PathBuf::from("/v/Photos"),
        });
        looped.real = None;
        assert_eq!(
            check_access_point(point, target, &link, &looped).check,
            "circular-symlink"
        );
        let dangling = resolved(
            "/v/Photos",
            &[("/v/Photos", "/t/fast/photos")],
            "/t/fast/photos",
            false,
        );
        assert_eq!(
            check_access_point(point, target, &link, &dangling).check,
            "access-point-dangling"
        );
        assert!(t.access_points.len() == 1);
    }

    #[test]
    fn walk_finds_loops_and_cross_tier_links() {
        let mut looped = resolved("/t/fast/a", &[("/t/fast/a", "b")], "/", false);
        looped.problem = Some(PathProblem::Loop {
            at: PathBuf::from("/t/fast/a"),
        });
        looped.real = None;
        let walk = WalkFacts {
            tier: "fast".into(),
            entries: 5000,
            truncated: true,
            links: vec![
                LinkFacts {
                    tier: "fast".into(),
                    facts: looped,
                },
                LinkFacts {
                    tier: "fast".into(),
                    facts: resolved(
                        "/t/fast/movies",
                        &[("/t/fast/movies", "/t/warm/movies")],
                        "/t/warm/movies",
                        true,
                    ),
                },
                LinkFacts {
                    tier: "fast".into(),
                    facts: resolved(
                        "/t/fast/same",
                        &[("/t/fast/same", "photos")],
                        "/t/fast/photos",
                        true,
                    ),
                },
            ],
        };
        let verdicts = check_walk(&tiers(), &walk);
        assert_eq!(
            ids(&verdicts),
            vec![
                ("circular-symlink", Level::Error),
                ("cross-tier-symlink", Level::Warning),
                ("walk-truncated", Level::Note),
            ]
        );
        assert_eq!(
            verdicts[1].message,
            "/t/fast/movies on tier fast leads to /t/warm/movies on tier warm"
        );
        assert_eq!(exit_code(&verdicts), 2);
    }

    #[test]
    fn init_creates_fixes_empty_dirs_and_leaves_data_alone() {
        let t = tiers();
        let wanted = wanted_dirs(&t);
        let roots = vec![root("fast", 1, &[]), root("warm", 2, &[])];
        let dirs = vec![
            (wanted[0].clone(), Node::Missing),
            (wanted[1].clone(), dir(5, 0o755, true)),
        ];
        let mut with_owner = dirs.clone();
        with_owner[1].0.owner = Some((1000, 1000));
        let plan = init_plan(&with_owner, &roots, false);
        assert_eq!(
            plan,
            vec![
                DirAction::Create {
                    path: PathBuf::from("/t/fast/databases"),
                    owner: Some((999, 999)),
                    mode: Some(0o700),
                },
                DirAction::Leave {
                    path: PathBuf::from("/t/fast/photos"),
                    differs: "owner 5:5, declared 1000:1000".into(),
                },
            ]
        );
        let fixed = init_plan(&with_owner, &roots, true);
        assert_eq!(
            fixed[1],
            DirAction::Fix {
                path: PathBuf::from("/t/fast/photos"),
                owner: Some(((5, 5), (1000, 1000))),
                mode: None,
            }
        );
        // An empty directory is fixed without the flag; a declared one is kept.
        with_owner[1].1 = dir(5, 0o755, false);
        assert!(matches!(
            init_plan(&with_owner, &roots, false)[1],
            DirAction::Fix { .. }
        ));
        with_owner[1].1 = dir(1000, 0o700, true);
        assert!(matches!(
            init_plan(&with_owner, &roots, false)[1],
            DirAction::Keep { .. }
        ));
        // Without its root mounted nothing is created.
        let blocked = init_plan(&dirs, &[root("warm", 2, &[])], false);
        assert!(matches!(blocked[0], DirAction::Blocked { .. }));
        assert!(!blocked[0].changes());
    }

    #[test]
    fn link_creates_repairs_and_refuses_data() {
        let t = tiers();
        let target = PathBuf::from("/t/fast/photos");
        let plan = |node: Node, target_node: Node| link_plan(&t, &[(node, target_node)]);
        let d = dir(0, 0o755, true);
        assert_eq!(
            plan(Node::Missing, d.clone()),
            vec![LinkAction::Create {
                path: PathBuf::from("/v/Photos"),
                target: target.clone()
            }]
        );
        assert!(matches!(
            plan(
                Node::Symlink {
                    target: target.clone()
                },
                d.clone()
            )[0],
            LinkAction::Keep { .. }
        ));
        assert!(matches!(
            &plan(Node::Symlink { target: PathBuf::from("/old") }, d.clone())[0],
            LinkAction::Replace { old, .. } if old == "symlink to /old"
        ));
        assert!(matches!(
            plan(dir(0, 0o755, false), d.clone())[0],
            LinkAction::Replace { .. }
        ));
        assert!(matches!(
            plan(dir(0, 0o755, true), d.clone())[0],
            LinkAction::Refuse { .. }
        ));
        assert!(matches!(
            plan(Node::Missing, Node::Missing)[0],
            LinkAction::Refuse { .. }
        ));
    }
}
