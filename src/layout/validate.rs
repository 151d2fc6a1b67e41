//! `tiers validate`: every check of the observed layout against tiers.yaml, as verdicts.

use std::path::Path;

use super::{Level, Node, Observed, RootFacts, Verdict, WalkFacts, WantedDir};
use crate::facts::{PathFacts, PathProblem};
use crate::tiers::Tiers;

/// Tier kinds on flash storage, where `noatime` saves writes.
const FLASH_KINDS: [&str; 3] = ["nvme", "ssd", "flash"];

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

pub(super) fn check_access_point(
    point: &Path,
    target: &Path,
    node: &Node,
    facts: &PathFacts,
) -> Verdict {
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

pub(super) fn check_walk(tiers: &Tiers, walk: &WalkFacts) -> Vec<Verdict> {
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
