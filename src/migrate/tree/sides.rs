//! Where each tree of a copy is read, decided once per side: on the host when the engine says
//! the host sees it as it does ([`Helpers::host_path`]); a VM share the host lists as the
//! engine does, content hashed on the host; else where it lives, by the manifest helper
//! ([`super::helper`]) or through the engine's archive stream ([`super::manifest::from_tar`]). [`Way`] says
//! how each side was read.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;
use thiserror::Error;

use super::helper::{self, Depth, ListingError};
use super::host::{ReadFrom, read_using};
use super::known::{HandOn, Known};
use super::manifest::{Digest, Kind, Manifest};
use super::reader::{HelperReader, HostReader, TreeReader};
use crate::engine::EngineError;
use crate::engine::{HelperSpec, Helpers, MountSource};
use crate::migrate::copy::{self, CopyJob};

/// How one side of a copy was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "read", content = "path", rename_all = "kebab-case")]
pub enum Way {
    /// On the host, at this path: the engine says the host sees it as it does (a native engine).
    Host(PathBuf),
    /// On the host, at this path the engine also sees (a VM share): the helper's listing of the
    /// tree equals the host's, entry for entry, so only the content was read on the host.
    Shared(PathBuf),
    /// Through the engine's archive stream (a path the host may not read).
    Archive,
    /// Where it lives, by the manifest helper container: only the manifest crossed.
    Helper,
    /// In the engine by the copy helper, right after its copy, in the same container: only the
    /// manifest crossed.
    CopyHelper,
    /// Listed in the engine by the copy helper right after its copy; the host's listing of the
    /// tree at this path (a VM share) equals the engine's, entry for entry, and the host hashed
    /// the content.
    CopyHelperShared(PathBuf),
    /// Listed in the engine by the copy helper right after its copy, the content hashed on the
    /// host at `path` (a VM share passes file content through unchanged), where the host sees
    /// owners, modes or symlinks differently: the engine's listing is the one verified.
    CopyHelperHostDiffers {
        /// The tree on the host.
        path: PathBuf,
        /// How many differences there are.
        count: usize,
        /// The first few of them.
        shown: Vec<String>,
    },
    /// By the manifest helper, because the host sees the tree at `path` differently: owners,
    /// modes or symlinks the VM share keeps where the host does not see them.
    HostDiffers {
        /// The tree on the host.
        path: PathBuf,
        /// How many differences there are.
        count: usize,
        /// The first few of them.
        shown: Vec<String>,
    },
}

/// Entries of a host view shown at most.
const SHOWN: usize = 3;

impl std::fmt::Display for Way {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const HELPER: &str = "in the engine by a helper container (only its manifest crossed)";
        const DIFFERS_WHY: &str = "the VM share keeps owners, modes or symlinks where the host does not see them (9p `mapped-xattr` keeps them in `user.virtfs.*` xattrs and the host sees symlinks as regular files); use this tier through the engine (containers), not from the host";
        const COPY_HELPER: &str =
            "in the engine by the copy helper right after its copy (only its manifest crossed)";
        match self {
            Way::Host(path) => write!(f, "on the host at `{}`", path.display()),
            Way::Shared(path) => write!(
                f,
                "on the host at `{}` (the engine's listing of it matches the host's)",
                path.display()
            ),
            Way::Archive => f.write_str("through the engine's archive stream"),
            Way::Helper => f.write_str(HELPER),
            Way::CopyHelper => f.write_str(COPY_HELPER),
            Way::CopyHelperShared(path) => write!(
                f,
                "on the host at `{}` (the copy helper's listing of it right after its copy matches the host's)",
                path.display()
            ),
            Way::CopyHelperHostDiffers { path, count, shown } => write!(
                f,
                "listed in the engine by the copy helper right after its copy, content hashed on the host at `{}`: the host sees it differently ({count} difference{}: {}{}): {DIFFERS_WHY}",
                path.display(),
                if *count == 1 { "" } else { "s" },
                shown.join("; "),
                if *count > shown.len() { "; ..." } else { "" }
            ),
            Way::HostDiffers { path, count, shown } => write!(
                f,
                "{HELPER}: the host sees `{}` differently ({count} difference{}: {}{}): {DIFFERS_WHY}",
                path.display(),
                if *count == 1 { "" } else { "s" },
                shown.join("; "),
                if *count > shown.len() { "; ..." } else { "" }
            ),
        }
    }
}

/// Why the manifests of a copy could not be read.
#[derive(Debug, Error)]
pub enum TreeError {
    /// The host walk failed for a reason other than permissions.
    #[error("cannot read `{}` on the host: {source}", path.display())]
    Host {
        /// The tree's root.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The manifest helper's output could not be read.
    #[error("cannot read the manifest helper's listing of `{root}`: {source}")]
    Listing {
        /// The roots inside the helper.
        root: String,
        /// What was wrong.
        source: ListingError,
    },
    /// A side the host reader was asked for that it does not read.
    #[error("`{root}` is not read on the host: the host does not see it as the engine does")]
    NotOnHost {
        /// The side's root inside the helpers.
        root: String,
    },
    /// A host reader's thread panicked.
    #[error("the host reader of `{}` panicked", path.display())]
    Panicked {
        /// The tree.
        path: PathBuf,
    },
}

/// Where one side's tree is read.
enum Plan {
    /// On the host: the engine named this path.
    Host(PathBuf),
    /// On the host if the helper's listing of it matches the host's, else by the helper.
    Candidate(PathBuf),
    /// By the helper.
    Helper,
}

/// One side's first read.
enum First {
    Read(Manifest, Way),
    /// The host may not read it: through the archive stream.
    Archive,
    /// By the helper, hashed: the host view differed (or could not be read).
    Helper(Way),
}

/// The manifests of a copy's source and target, in that order, each with how it was read: on
/// the host where the engine says the host sees the tree as it does ([`Helpers::host_path`]);
/// else where the tree lives, by the manifest helper ([`helper`], with the mounts of
/// `spec`: the never-started verify helper with the source at [`copy::FROM`] and the target at
/// [`copy::TO`]), except a host directory whose listing in the helper equals the host's (a VM
/// share that keeps owners, modes and symlinks as they are): its content is hashed on the host.
/// A host read refused for permissions falls back to the archive stream of `spec`. Content is
/// BLAKE3 when both sides are read by tierctl, SHA-256 when a helper hashes one. `hashed` grows
/// by every content byte read.
pub fn copy_manifests(
    engine: &dyn Helpers,
    job: &CopyJob,
    spec: &HelperSpec,
    hashed: &AtomicU64,
) -> Result<(Vec<Manifest>, [Way; 2]), TreeError> {
    let none = [Known::default(), Known::default()];
    copy_manifests_known(engine, job, spec, hashed, &none, HandOn::Nothing)
        .map(|(trees, ways, _)| (trees, ways))
}

/// Both manifests of a copy, how each side was read, and what each side knows now.
pub type KnownTrees = (Vec<Manifest>, [Way; 2], [Known; 2]);

/// The manifests of both trees of a copy, as [`copy_manifests`]: and, per side, what
/// [`read_known`] knew and now knows (when `hand_on` asks for it). A side read through the
/// archive stream or by the manifest helper hashes every file and knows nothing (its stamps are
/// not in its listing).
pub fn copy_manifests_known(
    engine: &dyn Helpers,
    job: &CopyJob,
    spec: &HelperSpec,
    hashed: &AtomicU64,
    known: &[Known; 2],
    hand_on: HandOn,
) -> Result<KnownTrees, TreeError> {
    let sides = [job.source.clone(), MountSource::Bind(job.target.clone())];
    pair_manifests_known(engine, &sides, spec, hashed, known, hand_on)
}

/// The manifests of two trees, as [`copy_manifests`] reads a copy's: `sides[0]` mounted at
/// [`copy::FROM`] in `spec`, `sides[1]` at [`copy::TO`] (a rollback's copy back has the tier
/// directory first).
pub fn pair_manifests(
    engine: &dyn Helpers,
    sides: &[MountSource; 2],
    spec: &HelperSpec,
    hashed: &AtomicU64,
) -> Result<(Vec<Manifest>, [Way; 2]), TreeError> {
    let none = [Known::default(), Known::default()];
    pair_manifests_known(engine, sides, spec, hashed, &none, HandOn::Nothing)
        .map(|(trees, ways, _)| (trees, ways))
}

fn pair_manifests_known(
    engine: &dyn Helpers,
    sides: &[MountSource; 2],
    spec: &HelperSpec,
    hashed: &AtomicU64,
    known: &[Known; 2],
    hand_on: HandOn,
) -> Result<KnownTrees, TreeError> {
    let mut plans = Vec::new();
    for side in sides {
        plans.push(match (super::reach::host_reads(engine, side)?, side) {
            (Some(path), _) => Plan::Host(path),
            (None, MountSource::Bind(path)) if listable(path) => Plan::Candidate(path.clone()),
            (None, _) => Plan::Helper,
        });
    }
    let digest = if plans.iter().all(|p| matches!(p, Plan::Host(_))) {
        Digest::Blake3
    } else {
        Digest::Sha256
    };
    let (firsts, knows) = first_reads(engine, spec, &plans, digest, hashed, known, hand_on)?;
    let (trees, ways) = second_reads(engine, spec, firsts, digest, hashed)?;
    Ok((trees, ways, knows))
}

/// The sides a first read left: through the archive stream, or hashed by the manifest helper.
fn second_reads(
    engine: &dyn Helpers,
    spec: &HelperSpec,
    firsts: Vec<First>,
    digest: Digest,
    hashed: &AtomicU64,
) -> Result<ReadTrees, TreeError> {
    let roots = [copy::FROM, copy::TO];
    let mut out: Vec<Option<Manifest>> = vec![None, None];
    let mut ways = [Way::Archive, Way::Archive];
    let (mut archive, mut helper) = (Vec::new(), Vec::new());
    for (index, first) in firsts.into_iter().enumerate() {
        match first {
            First::Read(m, way) => {
                out[index] = Some(m);
                ways[index] = way;
            }
            First::Archive => archive.push(index),
            First::Helper(way) => {
                ways[index] = way;
                helper.push(index);
            }
        }
    }
    let paths: Vec<&str> = archive.iter().map(|&i| roots[i]).collect();
    if !paths.is_empty() {
        let read = archive_manifests(engine, spec, &paths, digest, hashed)?;
        for (&index, m) in archive.iter().zip(read) {
            out[index] = Some(m);
        }
    }
    let wanted: Vec<(usize, Depth)> = helper.iter().map(|&i| (i, Depth::hashed(i == 1))).collect();
    if !wanted.is_empty() {
        let none = [Known::default(), Known::default()];
        let read = HelperReader { engine, spec }.manifests(&wanted, digest, &none, hashed)?;
        for (&index, (m, _)) in helper.iter().zip(read) {
            out[index] = Some(m);
        }
    }
    match (out.pop().flatten(), out.pop().flatten()) {
        (Some(target), Some(source)) => Ok((vec![source, target], ways)),
        _ => Err(TreeError::Engine(EngineError::Api {
            context: String::new(),
            action: "read manifests".into(),
            message: "the engine returned fewer manifests than asked for".into(),
        })),
    }
}

/// The first read of each side, all at once: the host reads on threads ([`HostReader`]) while
/// one manifest helper ([`HelperReader`]) hashes the [`Plan::Helper`] sides and lists the
/// [`Plan::Candidate`] ones.
fn first_reads(
    engine: &dyn Helpers,
    spec: &HelperSpec,
    plans: &[Plan],
    digest: Digest,
    hashed: &AtomicU64,
    known: &[Known; 2],
    hand_on: HandOn,
) -> Result<(Vec<First>, [Known; 2]), TreeError> {
    let wanted = helper_roots(plans);
    let host = HostReader {
        roots: [host_path(&plans[0]), host_path(&plans[1])],
        hand_on,
    };
    let helper = HelperReader { engine, spec };
    let (host, listed) = std::thread::scope(|scope| {
        let handles: Vec<_> = plans
            .iter()
            .enumerate()
            .map(|(side, plan)| {
                let host = &host;
                host_path(plan).map(|_| {
                    scope.spawn(move || {
                        host.manifests(&[(side, Depth::Hashed)], digest, known, hashed)
                    })
                })
            })
            .collect();
        let listed = if wanted.is_empty() {
            Ok(Vec::new())
        } else {
            helper.manifests(&wanted, digest, known, hashed)
        };
        let host: Vec<Option<io::Result<(Manifest, Known)>>> = handles
            .into_iter()
            .map(|h| h.map(|h| one_side(h.join())))
            .collect();
        (host, listed)
    });
    let listed = listed?.into_iter().map(|(m, _)| m).collect();
    settle(plans, host, listed)
}

/// The host path a side's plan reads.
fn host_path(plan: &Plan) -> Option<PathBuf> {
    match plan {
        Plan::Host(p) | Plan::Candidate(p) => Some(p.clone()),
        Plan::Helper => None,
    }
}

/// One side's host read as the I/O result [`settle`] tells permissions apart by.
fn one_side(
    joined: std::thread::Result<Result<Vec<(Manifest, Known)>, TreeError>>,
) -> io::Result<(Manifest, Known)> {
    match joined {
        Ok(Ok(mut read)) => read
            .pop()
            .ok_or_else(|| io::Error::other("the host read no tree")),
        Ok(Err(TreeError::Host { source, .. })) => Err(source),
        Ok(Err(other)) => Err(io::Error::other(other)),
        Err(_) => Err(io::Error::other("the host reader panicked")),
    }
}

/// Each side's first read from what the host read (`host`, per side) and what the manifest
/// helper listed or hashed (`listed`, the helper's sides in order).
fn settle(
    plans: &[Plan],
    host: Vec<Option<io::Result<(Manifest, Known)>>>,
    listed: Vec<Manifest>,
) -> Result<(Vec<First>, [Known; 2]), TreeError> {
    let mut listed = listed.into_iter();
    let mut firsts = Vec::new();
    let mut knows = [Known::default(), Known::default()];
    for ((plan, host), knew) in plans.iter().zip(host).zip(&mut knows) {
        firsts.push(match (plan, host) {
            (Plan::Helper, _) => First::Read(next(&mut listed)?, Way::Helper),
            (Plan::Host(path), Some(Ok((m, k)))) => {
                *knew = k;
                First::Read(m, Way::Host(path.clone()))
            }
            (Plan::Candidate(path), result) => {
                let engine = next(&mut listed)?;
                match result {
                    Some(result) => {
                        let (first, k) = candidate(path, result, engine)?;
                        *knew = k;
                        first
                    }
                    None => First::Helper(Way::Helper),
                }
            }
            (Plan::Host(_), Some(Err(e))) if e.kind() == io::ErrorKind::PermissionDenied => {
                First::Archive
            }
            (Plan::Host(path), Some(Err(source))) => {
                return Err(TreeError::Host {
                    path: path.clone(),
                    source,
                });
            }
            (Plan::Host(_), None) => First::Archive,
        });
    }
    Ok((firsts, knows))
}

/// What the first manifest helper reads: the [`Plan::Helper`] sides hashed, the
/// [`Plan::Candidate`] ones listed, source first.
fn helper_roots(plans: &[Plan]) -> Vec<(usize, Depth)> {
    plans
        .iter()
        .enumerate()
        .filter_map(|(root, plan)| match plan {
            // the target (a copy) from the disk
            Plan::Helper => Some((root, Depth::hashed(root == 1))),
            Plan::Candidate(_) => Some((root, Depth::Listed)),
            Plan::Host(_) => None,
        })
        .collect()
}

fn next(listed: &mut impl Iterator<Item = Manifest>) -> Result<Manifest, TreeError> {
    listed.next().ok_or_else(|| TreeError::Listing {
        root: "/".into(),
        source: ListingError::FewerTrees,
    })
}

/// A host directory the engine may see differently: the host's manifest when the helper's
/// listing (`engine`) matches it, else a helper read (why, when the host could read it).
fn candidate(
    path: &Path,
    host: io::Result<(Manifest, Known)>,
    engine: Manifest,
) -> Result<(First, Known), TreeError> {
    match host {
        Ok((m, known)) => {
            let differences = helper::host_view(&engine, &m);
            if differences.is_empty() {
                Ok((First::Read(m, Way::Shared(path.to_path_buf())), known))
            } else {
                let way = Way::HostDiffers {
                    path: path.to_path_buf(),
                    count: differences.len(),
                    shown: differences.into_iter().take(SHOWN).collect(),
                };
                Ok((First::Helper(way), Known::default()))
            }
        }
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            Ok((First::Helper(Way::Helper), Known::default()))
        }
        Err(source) => Err(TreeError::Host {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// What a copy helper reads right after its copy ([`helper::after_copy`]), when the host
/// reads neither tree as the engine does (a VM or remote engine, where each tree would otherwise
/// take a manifest helper run of its own): a side the host can list (a VM share) only listed
/// (its content is hashed on the host: [`host_hashed`]), the other hashed where it lives;
/// `None` when the host reads one of them as the engine does (a native engine: the verify reads
/// it there, faster). `sides` as mounted at [`copy::FROM`] and [`copy::TO`].
pub fn after_copy_roots(
    engine: &dyn Helpers,
    sides: &[MountSource; 2],
) -> Result<Option<AfterCopyRoots>, EngineError> {
    for side in sides {
        if super::reach::host_reads(engine, side)?.is_some() {
            return Ok(None);
        }
    }
    let depth = |side: &MountSource, written: bool| match side {
        MountSource::Bind(path) if listable(path) => Depth::Listed,
        _ => Depth::hashed(written),
    };
    Ok(Some([
        (copy::FROM, depth(&sides[0], false)),
        (copy::TO, depth(&sides[1], true)),
    ]))
}

/// Both manifests of a copy and how each side was read.
pub type ReadTrees = (Vec<Manifest>, [Way; 2]);

/// The roots an after-copy helper reads, with how much of each.
pub type AfterCopyRoots = [(&'static str, Depth); 2];

/// What a copy helper read of both trees right after its copy, and how much of each.
#[derive(Clone, Debug)]
pub struct AfterCopy {
    /// The trees at [`copy::FROM`] and [`copy::TO`].
    pub trees: [Manifest; 2],
    /// How they were read.
    pub roots: AfterCopyRoots,
}

/// The two manifests an [`helper::after_copy`] helper printed after its copy's own
/// output (`listing`), as [`copy::FROM`] and [`copy::TO`] held them (`roots`: as asked);
/// `hashed` grows by the content bytes it hashed.
pub fn after_copy_manifests(
    listing: &str,
    roots: &AfterCopyRoots,
    hashed: &AtomicU64,
) -> Result<[Manifest; 2], TreeError> {
    let read = helper::parse(listing, roots).map_err(|source| TreeError::Listing {
        root: format!("{}, {} (after the copy)", copy::FROM, copy::TO),
        source,
    })?;
    let [from, to]: [Manifest; 2] = read.try_into().map_err(|_| TreeError::Listing {
        root: format!("{}, {}", copy::FROM, copy::TO),
        source: ListingError::FewerTrees,
    })?;
    for (m, (_, depth)) in [&from, &to].into_iter().zip(roots) {
        if depth.hashes() {
            hashed.fetch_add(m.bytes(), Ordering::Relaxed);
        }
    }
    Ok([from, to])
}

/// A tree the copy helper listed (`listed`, no content) completed on the host at `path` (a VM
/// share, which passes file content through unchanged): the host hashes every file (SHA-256)
/// and its listing is compared with the engine's. Equal: the host's manifest. Different (a
/// `mapped-xattr` share): the engine's listing, the one the services see, with each file's hash
/// from the host. `None` when the host cannot complete it (it may not read the tree, or a file
/// of the engine's is no file of the same size on the host): read the tree in the engine then.
pub fn host_hashed(
    listed: Manifest,
    path: &Path,
    hashed: &AtomicU64,
    from: ReadFrom,
) -> Result<Option<(Manifest, Way)>, TreeError> {
    let none = Known::default();
    let host = match read_using(path, Digest::Sha256, hashed, &none, from, HandOn::Nothing)
        .map(|(m, _)| m)
    {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Ok(None),
        Err(source) => {
            return Err(TreeError::Host {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let differences = helper::host_view(&listed, &host);
    if differences.is_empty() {
        return Ok(Some((host, Way::CopyHelperShared(path.to_path_buf()))));
    }
    let mut merged = listed;
    for (name, entry) in merged
        .entries
        .iter_mut()
        .filter(|(_, e)| e.kind == Kind::File)
    {
        match host.entries.get(name) {
            Some(h) if h.kind == Kind::File && h.size == entry.size => {
                entry.hash.clone_from(&h.hash)
            }
            _ => return Ok(None),
        }
    }
    let way = Way::CopyHelperHostDiffers {
        path: path.to_path_buf(),
        count: differences.len(),
        shown: differences.into_iter().take(SHOWN).collect(),
    };
    Ok(Some((merged, way)))
}

/// A copy's manifests for its verify from what its copy helper read right after the copy
/// (`trees`: source, target, read as `roots` says): a hashed side as read; a listed side (a VM
/// share) completed on the host ([`host_hashed`]; the target from the disk). `None` when the host could not complete it:
/// the verify reads the trees again by the manifest helper.
pub fn verify_after_copy(
    trees: [Manifest; 2],
    roots: &AfterCopyRoots,
    sides: &[MountSource; 2],
    hashed: &AtomicU64,
) -> Result<Option<ReadTrees>, TreeError> {
    let mut out = Vec::new();
    let mut ways = [Way::CopyHelper, Way::CopyHelper];
    for (index, ((tree, (_, depth)), (side, way))) in trees
        .into_iter()
        .zip(roots)
        .zip(sides.iter().zip(&mut ways))
        .enumerate()
    {
        let from = super::reader::from_side(index);
        match (depth, side) {
            (Depth::Listed, MountSource::Bind(path)) => {
                match host_hashed(tree, path, hashed, from)? {
                    Some((m, w)) => {
                        out.push(m);
                        *way = w;
                    }
                    None => return Ok(None),
                }
            }
            _ => out.push(tree),
        }
    }
    Ok(Some((out, ways)))
}

/// The manifests of `roots` read where they live by one manifest helper (with the mounts of
/// `spec`); `hashed` grows by the content bytes it hashed.
pub fn helper_manifests(
    engine: &dyn Helpers,
    spec: &HelperSpec,
    roots: &[(&str, Depth)],
    hashed: &AtomicU64,
) -> Result<Vec<Manifest>, TreeError> {
    let output = engine.run_to_end(&helper::spec(spec, roots))?;
    let read = helper::parse(&output, roots).map_err(|source| TreeError::Listing {
        root: roots.iter().map(|(r, _)| *r).collect::<Vec<_>>().join(", "),
        source,
    })?;
    for (m, (_, depth)) in read.iter().zip(roots) {
        if depth.hashes() {
            hashed.fetch_add(m.bytes(), Ordering::Relaxed);
        }
    }
    Ok(read)
}

/// The manifests of `paths` inside the (never started) helper `spec`, read from the engine's
/// archive streams, all at once, content hashed with `digest`; `hashed` grows by content bytes
/// read.
pub fn archive_manifests(
    engine: &dyn Helpers,
    spec: &HelperSpec,
    paths: &[&str],
    digest: Digest,
    hashed: &AtomicU64,
) -> Result<Vec<Manifest>, EngineError> {
    let slots: Vec<Mutex<Option<Manifest>>> = paths.iter().map(|_| Mutex::new(None)).collect();
    engine.read_archives(spec, paths, &|index, tar| {
        let read = super::manifest::from_tar(tar, digest, hashed)?;
        if let Some(slot) = slots.get(index) {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(read);
        }
        Ok(())
    })?;
    Ok(slots
        .into_iter()
        .filter_map(|slot| slot.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect())
}

/// Whether the host can list `path` (a directory it may read).
fn listable(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) && fs::read_dir(path).is_ok()
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::host::{listing, read};
    use super::*;

    #[test]
    fn only_the_sides_not_read_on_the_host_go_to_the_helper() {
        let host = || Plan::Host("/t".into());
        let shared = || Plan::Candidate("/s".into());
        assert_eq!(
            helper_roots(&[Plan::Helper, Plan::Helper]),
            [(0, Depth::Hashed), (1, Depth::Medium)]
        );
        assert_eq!(
            helper_roots(&[Plan::Helper, shared()]),
            [(0, Depth::Hashed), (1, Depth::Listed)]
        );
        assert_eq!(helper_roots(&[host(), Plan::Helper]), [(1, Depth::Medium)]);
        assert!(helper_roots(&[host(), host()]).is_empty());
    }

    #[test]
    fn a_listed_share_is_hashed_on_the_host_and_keeps_the_engines_view_where_they_differ() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir(dir.path().join("pg")).expect("dir");
        fs::write(dir.path().join("pg/1"), "row\n").expect("file");
        let full = read(dir.path(), Digest::Sha256, &AtomicU64::new(0)).expect("tree");
        let listed = listing(dir.path()).expect("listed");
        let source = full.clone();
        let roots = [(copy::FROM, Depth::Hashed), (copy::TO, Depth::Listed)];
        let sides = [
            MountSource::Volume("v".into()),
            MountSource::Bind(dir.path().to_path_buf()),
        ];
        let hashed = AtomicU64::new(0);
        // the host lists the copy as the engine did: the host's manifest, content hashed there
        let (trees, ways) =
            verify_after_copy([source.clone(), listed.clone()], &roots, &sides, &hashed)
                .expect("read")
                .expect("completed");
        assert_eq!(
            ways,
            [
                Way::CopyHelper,
                Way::CopyHelperShared(dir.path().to_path_buf())
            ]
        );
        assert_eq!(trees, [source.clone(), full.clone()]);
        assert_eq!(hashed.load(Ordering::Relaxed), 4);
        // a share that keeps owners in xattrs: the engine saw another owner; its view stays,
        // with the host's hash of the content
        let mut faked = listed.clone();
        faked.entries.get_mut("pg").expect("pg").uid = 999_999;
        let (trees, ways) =
            verify_after_copy([source.clone(), faked.clone()], &roots, &sides, &hashed)
                .expect("read")
                .expect("completed");
        assert_eq!(trees[1].entries["pg"].uid, 999_999);
        assert_eq!(trees[1].entries["pg/1"].hash, full.entries["pg/1"].hash);
        let Way::CopyHelperHostDiffers { count, shown, .. } = &ways[1] else {
            panic!("{ways:?}");
        };
        assert_eq!(*count, 1);
        assert!(
            shown[0].starts_with("`pg` uid: engine 999999, host "),
            "{shown:?}"
        );
        // a file of the engine's that the host has with another size: read in the engine again
        let mut other = faked;
        other.entries.get_mut("pg/1").expect("pg/1").size = 5;
        assert_eq!(
            verify_after_copy([source, other], &roots, &sides, &hashed).expect("read"),
            None
        );
    }
}
