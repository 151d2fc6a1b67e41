//! A [`Manifest`] read straight from a host directory: walked with `symlink_metadata` (no
//! symlink is ever followed), every file hashed in parallel.
//!
//! It records exactly what [`manifest::from_tar`](crate::migrate::manifest::from_tar) records from the
//! engine's archive stream and [`helper_manifest`] from a helper container's listing, with the
//! same path normalisation, so the manifests of one tree compare equal whichever way they were
//! read: sockets are left out (the engine's archive leaves them out too), a hardlink group is
//! only a group when two of its paths lie inside the tree, symlinks carry no mtime.
//!
//! [`read`] is the one function with effects on the host; [`copy_manifests`] chooses, per side of
//! a copy, where its tree is read: on the host when the host sees it as the engine does, else
//! where it lives, by the manifest helper; [`group`] is pure.
//!
//! [`read_known`] is [`read`] that also returns what it [`Known`]: the hash of every file whose
//! [`Stamp`] (device, inode, size, mtime, ctime to the nanosecond) was already older than the
//! read by [`RACY_MARGIN_NS`], and, given such a `Known` of an earlier read (with the same
//! digest), takes a file's hash from it instead of reading the file when its stamp is still the
//! same. The argument: any write, truncate, rename, link, chmod or chown of an inode sets its
//! ctime to the kernel's clock, which userspace cannot set back; a stamp whose ctime was older
//! than the start of the earlier read by more than the clock's granularity, and which is
//! unchanged now, proves that nothing changed the inode since that read began, so the content it
//! hashed is the content now.

use std::collections::BTreeMap;
use std::fs::{self, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::engine::EngineError;
use crate::engine::{HelperSpec, Helpers, MountSource};
use crate::migrate::copy::{self, CopyJob};
use crate::migrate::helper_manifest::{self, Depth};
use crate::migrate::manifest::{self, Digest, Entry, Kind, Manifest};

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
    /// On the host at this path, by tierctl's own copy right after it copied the tree, while the
    /// filesystem synced (the services stopped, in the same run).
    HostAfterCopy(PathBuf),
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
            Way::HostAfterCopy(path) => write!(
                f,
                "on the host at `{}` right after the copy, while it synced",
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
    #[error("cannot read the manifest helper's listing of `{root}`: {message}")]
    Listing {
        /// The roots inside the helper.
        root: String,
        /// What was wrong.
        message: String,
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
/// else where the tree lives, by the manifest helper ([`helper_manifest`], with the mounts of
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
    copy_manifests_known(engine, job, spec, hashed, &none).map(|(trees, ways, _)| (trees, ways))
}

/// Both manifests of a copy, how each side was read, and what each side knows now.
pub type KnownTrees = (Vec<Manifest>, [Way; 2], [Known; 2]);

/// The manifests of both trees of a copy, as [`copy_manifests`]: and, per side, what
/// [`read_known`] knew and now knows. A side read through the archive stream or by the manifest
/// helper hashes every file and knows nothing (its stamps are not in its listing).
pub fn copy_manifests_known(
    engine: &dyn Helpers,
    job: &CopyJob,
    spec: &HelperSpec,
    hashed: &AtomicU64,
    known: &[Known; 2],
) -> Result<KnownTrees, TreeError> {
    let sides = [job.source.clone(), MountSource::Bind(job.target.clone())];
    pair_manifests_known(engine, &sides, spec, hashed, known)
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
    pair_manifests_known(engine, sides, spec, hashed, &none).map(|(trees, ways, _)| (trees, ways))
}

fn pair_manifests_known(
    engine: &dyn Helpers,
    sides: &[MountSource; 2],
    spec: &HelperSpec,
    hashed: &AtomicU64,
    known: &[Known; 2],
) -> Result<KnownTrees, TreeError> {
    let mut plans = Vec::new();
    for side in sides {
        plans.push(match (engine.host_path(side)?, side) {
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
    let roots = [copy::FROM, copy::TO];
    let (firsts, knows) = first_reads(engine, spec, &plans, digest, hashed, known)?;
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
    let wanted: Vec<(&str, Depth)> = helper.iter().map(|&i| (roots[i], Depth::Hashed)).collect();
    if !wanted.is_empty() {
        let read = helper_manifests(engine, spec, &wanted, hashed)?;
        for (&index, m) in helper.iter().zip(read) {
            out[index] = Some(m);
        }
    }
    match (out.pop().flatten(), out.pop().flatten()) {
        (Some(target), Some(source)) => Ok((vec![source, target], ways, knows)),
        _ => Err(TreeError::Engine(EngineError::Api {
            context: String::new(),
            action: "read manifests".into(),
            message: "the engine returned fewer manifests than asked for".into(),
        })),
    }
}

/// The first read of each side, all at once: the host reads on threads while one manifest
/// helper hashes the [`Plan::Helper`] sides and lists the [`Plan::Candidate`] ones.
fn first_reads(
    engine: &dyn Helpers,
    spec: &HelperSpec,
    plans: &[Plan],
    digest: Digest,
    hashed: &AtomicU64,
    known: &[Known; 2],
) -> Result<(Vec<First>, [Known; 2]), TreeError> {
    let wanted = helper_roots(plans);
    let (host, listed) = std::thread::scope(|scope| {
        let handles: Vec<_> = plans
            .iter()
            .zip(known)
            .map(|(plan, k)| match plan {
                Plan::Host(p) | Plan::Candidate(p) => {
                    Some(scope.spawn(move || read_known(p, digest, hashed, k)))
                }
                Plan::Helper => None,
            })
            .collect();
        let listed = if wanted.is_empty() {
            Ok(Vec::new())
        } else {
            helper_manifests(engine, spec, &wanted, hashed)
        };
        let host: Vec<Option<io::Result<(Manifest, Known)>>> = handles
            .into_iter()
            .map(|h| {
                h.map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(io::Error::other("the host reader panicked")))
                })
            })
            .collect();
        (host, listed)
    });
    let mut listed = listed?.into_iter();
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
fn helper_roots(plans: &[Plan]) -> Vec<(&'static str, Depth)> {
    plans
        .iter()
        .zip([copy::FROM, copy::TO])
        .filter_map(|(plan, root)| match plan {
            Plan::Helper => Some((root, Depth::Hashed)),
            Plan::Candidate(_) => Some((root, Depth::Listed)),
            Plan::Host(_) => None,
        })
        .collect()
}

fn next(listed: &mut impl Iterator<Item = Manifest>) -> Result<Manifest, TreeError> {
    listed.next().ok_or_else(|| TreeError::Listing {
        root: "/".into(),
        message: "fewer trees than asked for".into(),
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
            let differences = helper_manifest::host_view(&engine, &m);
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

/// What a copy helper reads right after its copy ([`helper_manifest::after_copy`]), when the host
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
        if engine.host_path(side)?.is_some() {
            return Ok(None);
        }
    }
    let depth = |side: &MountSource| match side {
        MountSource::Bind(path) if listable(path) => Depth::Listed,
        _ => Depth::Hashed,
    };
    Ok(Some([
        (copy::FROM, depth(&sides[0])),
        (copy::TO, depth(&sides[1])),
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

/// The two manifests an [`helper_manifest::after_copy`] helper printed after its copy's own
/// output (`listing`), as [`copy::FROM`] and [`copy::TO`] held them (`roots`: as asked);
/// `hashed` grows by the content bytes it hashed.
pub fn after_copy_manifests(
    listing: &str,
    roots: &AfterCopyRoots,
    hashed: &AtomicU64,
) -> Result<[Manifest; 2], TreeError> {
    let read = helper_manifest::parse(listing, roots).map_err(|message| TreeError::Listing {
        root: format!("{}, {} (after the copy)", copy::FROM, copy::TO),
        message,
    })?;
    let [from, to]: [Manifest; 2] = read.try_into().map_err(|_| TreeError::Listing {
        root: format!("{}, {}", copy::FROM, copy::TO),
        message: "not two trees".into(),
    })?;
    for (m, (_, depth)) in [&from, &to].into_iter().zip(roots) {
        if *depth == Depth::Hashed {
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
) -> Result<Option<(Manifest, Way)>, TreeError> {
    let host = match read(path, Digest::Sha256, hashed) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Ok(None),
        Err(source) => {
            return Err(TreeError::Host {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let differences = helper_manifest::host_view(&listed, &host);
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
/// share) completed on the host ([`host_hashed`]). `None` when the host could not complete it:
/// the verify reads the trees again by the manifest helper.
pub fn verify_after_copy(
    trees: [Manifest; 2],
    roots: &AfterCopyRoots,
    sides: &[MountSource; 2],
    hashed: &AtomicU64,
) -> Result<Option<ReadTrees>, TreeError> {
    let mut out = Vec::new();
    let mut ways = [Way::CopyHelper, Way::CopyHelper];
    for ((tree, (_, depth)), (side, way)) in trees
        .into_iter()
        .zip(roots)
        .zip(sides.iter().zip(&mut ways))
    {
        match (depth, side) {
            (Depth::Listed, MountSource::Bind(path)) => match host_hashed(tree, path, hashed)? {
                Some((m, w)) => {
                    out.push(m);
                    *way = w;
                }
                None => return Ok(None),
            },
            _ => out.push(tree),
        }
    }
    Ok(Some((out, ways)))
}

/// A copy's manifests for its verify when tierctl copied on the host and read the target right
/// after ([`Way::HostAfterCopy`], BLAKE3): the source read again now on the host, a file whose
/// stamp `known` (what the copy's reader knew of the source) still holds not read again, and
/// the target as the copy read it. Reading the source again after the copy is what catches a
/// source changed under the copy. `None` when the host does not see the source as the engine
/// does, or the target was not read with BLAKE3: read both trees as usual then.
pub fn with_copy_read(
    engine: &dyn Helpers,
    job: &CopyJob,
    target: Manifest,
    known: &Known,
    hashed: &AtomicU64,
) -> Result<Option<ReadTrees>, TreeError> {
    let Some(source) = engine.host_path(&job.source)? else {
        return Ok(None);
    };
    if target.digest != Digest::Blake3 {
        return Ok(None);
    }
    let (manifest, _) =
        read_known(&source, Digest::Blake3, hashed, known).map_err(|e| TreeError::Host {
            path: source.clone(),
            source: e,
        })?;
    let ways = [Way::Host(source), Way::HostAfterCopy(job.target.clone())];
    Ok(Some((vec![manifest, target], ways)))
}

/// The manifests of `roots` read where they live by one manifest helper (with the mounts of
/// `spec`); `hashed` grows by the content bytes it hashed.
pub fn helper_manifests(
    engine: &dyn Helpers,
    spec: &HelperSpec,
    roots: &[(&str, Depth)],
    hashed: &AtomicU64,
) -> Result<Vec<Manifest>, TreeError> {
    let output = engine.run_to_end(&helper_manifest::spec(spec, roots))?;
    let read = helper_manifest::parse(&output, roots).map_err(|message| TreeError::Listing {
        root: roots.iter().map(|(r, _)| *r).collect::<Vec<_>>().join(", "),
        message,
    })?;
    for (m, (_, depth)) in read.iter().zip(roots) {
        if *depth == Depth::Hashed {
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
        let read = manifest::from_tar(tar, digest, hashed)?;
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

/// Bytes read from a file at a time.
const BUFFER: usize = 1 << 20;

/// Files hashed (or copied, [`super::host_apply`]) at once: enough to keep an SSD's queue busy
/// on a small machine.
pub fn readers() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .saturating_mul(2)
        .max(4)
}

/// One path found by the walk, before hashing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Path relative to the root (`.` is the root).
    pub path: String,
    /// The entry, `hash` and `hardlink_group` still empty.
    pub entry: Entry,
    /// `(device, inode)` of a file with more than one link.
    pub inode: Option<(u64, u64)>,
    /// A file's stamp (`None` for other types).
    pub stamp: Option<Stamp>,
}

/// Nanoseconds a ctime must be older than the start of a read for the read's hash of the file
/// to be [`Known`]: more than the coarsest timestamp granularity of the filesystems a tier
/// lives on (1 s; 2 s on FAT) and the lag of the kernel's coarse clock behind the real time.
pub const RACY_MARGIN_NS: i64 = 2_000_000_000;

/// What identifies a file's state: any change of its content or attributes moves its ctime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// mtime, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// ctime, nanoseconds since the epoch.
    pub ctime_ns: i64,
}

impl Stamp {
    /// The stamp of a file's metadata.
    pub fn of(meta: &Metadata) -> Stamp {
        let ns = |secs: i64, nanos: i64| secs.saturating_mul(1_000_000_000).saturating_add(nanos);
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether nothing can have changed the file since `started` (ns) without moving this
    /// stamp: its ctime is older than `started` by more than [`RACY_MARGIN_NS`].
    pub fn settled_before(&self, started: i64) -> bool {
        self.ctime_ns < started.saturating_sub(RACY_MARGIN_NS)
    }
}

/// A file's hash as a read found it, with its stamp then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownFile {
    /// The stamp when the file was walked (before it was hashed).
    pub stamp: Stamp,
    /// BLAKE3 of the content, hex.
    pub hash: String,
}

/// The hashes a read of a tree may hand to a later read of the same tree: only files settled
/// before the read began ([`Stamp::settled_before`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    /// When the read began, ns since the epoch (0: nothing known).
    pub started_ns: i64,
    /// What the hashes are (known hashes stand only for a read with the same digest).
    #[serde(default)]
    pub digest: Digest,
    /// By path relative to the root.
    pub files: BTreeMap<String, KnownFile>,
}

impl Known {
    /// The hash of `path` when its stamp is still the one known.
    pub fn hash_of(&self, path: &str, stamp: Option<&Stamp>) -> Option<&str> {
        let known = self.files.get(path)?;
        (Some(&known.stamp) == stamp).then_some(known.hash.as_str())
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Read a manifest of the directory `root` on the host, content hashed with `digest`. `hashed`
/// grows by every content byte read (each hardlinked inode once).
pub fn read(root: &Path, digest: Digest, hashed: &AtomicU64) -> io::Result<Manifest> {
    read_known(root, digest, hashed, &Known::default()).map(|(manifest, _)| manifest)
}

/// [`read`], taking the hash of a file whose stamp `known` holds unchanged from it instead of
/// reading the file (only when `known` was hashed with the same `digest`); also returns what
/// this read knows (see the module's text). `hashed` grows by every content byte read.
pub fn read_known(
    root: &Path,
    digest: Digest,
    hashed: &AtomicU64,
    known: &Known,
) -> io::Result<(Manifest, Known)> {
    let started_ns = now_ns();
    let meta = fs::symlink_metadata(root).map_err(|e| at(root, e))?;
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{}` is not a directory", root.display()),
        ));
    }
    let mut walked = Vec::new();
    walk(root, ".", &meta, &mut walked)?;
    let (found, fulls): (Vec<Found>, Vec<PathBuf>) = walked.into_iter().unzip();
    let groups = group(&found);
    // one hash per inode: the smallest path of a group stands for it; the file is opened by its
    // real name (a name that is not UTF-8 is not its lossy string)
    let owners: Vec<(&Found, &Path)> = found
        .iter()
        .zip(&fulls)
        .filter(|(f, _)| f.entry.kind == Kind::File)
        .filter(|(f, _)| {
            f.inode
                .and_then(|key| groups.get(&key))
                .is_none_or(|first| first == &f.path)
        })
        .map(|(f, full)| (f, full.as_path()))
        .collect();
    let usable = known.digest == digest;
    let mut hashes: BTreeMap<&str, String> = BTreeMap::new();
    let mut jobs: Vec<(u64, &str, &Path)> = Vec::new();
    for (f, full) in &owners {
        match known.hash_of(&f.path, f.stamp.as_ref()).filter(|_| usable) {
            Some(hash) => {
                hashes.insert(&f.path, hash.to_owned());
            }
            None => jobs.push((f.stamp.map_or(0, |s| s.ino), &f.path, full)),
        }
    }
    hashes.extend(hash_all(&mut jobs, digest, hashed)?);
    let mut now = Known {
        started_ns,
        digest,
        files: BTreeMap::new(),
    };
    for (f, _) in &owners {
        if let (Some(stamp), Some(hash)) = (f.stamp, hashes.get(f.path.as_str()))
            && stamp.settled_before(started_ns)
        {
            let hash = hash.clone();
            now.files.insert(f.path.clone(), KnownFile { stamp, hash });
        }
    }
    let entries = assemble(&found, &groups, &hashes);
    Ok((Manifest { entries, digest }, now))
}

/// The manifest of the directory `root` on the host without content (no file is read): what
/// [`helper_manifest::host_view`] compares with the engine's listing.
pub fn listing(root: &Path) -> io::Result<Manifest> {
    let meta = fs::symlink_metadata(root).map_err(|e| at(root, e))?;
    let mut walked = Vec::new();
    walk(root, ".", &meta, &mut walked)?;
    let found: Vec<Found> = walked.into_iter().map(|(f, _)| f).collect();
    let entries = assemble(&found, &group(&found), &BTreeMap::new());
    Ok(Manifest {
        entries,
        digest: Digest::Sha256,
    })
}

/// The entries of a walk: each file's hash by its group's first path (or its own), and its
/// hardlink group.
fn assemble(
    found: &[Found],
    groups: &BTreeMap<(u64, u64), String>,
    hashes: &BTreeMap<&str, String>,
) -> BTreeMap<String, Entry> {
    let mut entries = BTreeMap::new();
    for f in found {
        let mut entry = f.entry.clone();
        let first = f.inode.and_then(|key| groups.get(&key));
        if entry.kind == Kind::File {
            let owner = first.map_or(f.path.as_str(), String::as_str);
            entry.hash = hashes.get(owner).cloned();
        }
        entry.hardlink_group = first.cloned();
        entries.insert(f.path.clone(), entry);
    }
    entries
}

/// Hash the files `jobs` names (inode, path, full path) in parallel, in inode order (which
/// reads a freshly written tree roughly in disk order).
fn hash_all<'a>(
    jobs: &mut [(u64, &'a str, &Path)],
    digest: Digest,
    hashed: &AtomicU64,
) -> io::Result<BTreeMap<&'a str, String>> {
    jobs.sort_unstable();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(readers())
        .build()
        .map_err(io::Error::other)?;
    pool.install(|| {
        jobs.par_iter()
            .map(|(_, path, full)| {
                hash_file(full, digest, hashed)
                    .map(|h| (*path, h))
                    .map_err(|e| at(full, e))
            })
            .collect::<io::Result<_>>()
    })
}

/// The hardlink groups of a walk: `(device, inode)` -> the group's smallest path, for every
/// inode reached by two paths or more.
pub fn group(found: &[Found]) -> BTreeMap<(u64, u64), String> {
    let mut members: BTreeMap<(u64, u64), Vec<&str>> = BTreeMap::new();
    for f in found {
        if let Some(key) = f.inode {
            members.entry(key).or_default().push(&f.path);
        }
    }
    members
        .into_iter()
        .filter(|(_, paths)| paths.len() > 1)
        .filter_map(|(key, paths)| paths.into_iter().min().map(|p| (key, p.to_owned())))
        .collect()
}

/// The entry for one path's metadata (`None` for a socket, which archives leave out).
pub fn entry(meta: &Metadata, link: Option<String>) -> Option<Entry> {
    let ft = meta.file_type();
    let kind = if ft.is_file() {
        Kind::File
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_symlink() {
        Kind::Symlink
    } else if ft.is_fifo() {
        Kind::Fifo
    } else if ft.is_char_device() {
        Kind::CharDevice
    } else if ft.is_block_device() {
        Kind::BlockDevice
    } else {
        return None;
    };
    let device = matches!(kind, Kind::CharDevice | Kind::BlockDevice).then(|| {
        let rdev = meta.rdev();
        (
            u32::try_from(nix::sys::stat::major(rdev)).unwrap_or(u32::MAX),
            u32::try_from(nix::sys::stat::minor(rdev)).unwrap_or(u32::MAX),
        )
    });
    Some(Entry {
        kind,
        size: if kind == Kind::File { meta.len() } else { 0 },
        uid: u64::from(meta.uid()),
        gid: u64::from(meta.gid()),
        mode: meta.mode() & 0o7777,
        mtime: (kind != Kind::Symlink).then(|| u64::try_from(meta.mtime()).unwrap_or(0)),
        link: if kind == Kind::Symlink { link } else { None },
        device,
        hardlink_group: None,
        hash: None,
    })
}

/// Every path under `dir` (itself included) with its full path on the host, depth first in
/// name order.
fn walk(dir: &Path, rel: &str, meta: &Metadata, out: &mut Vec<(Found, PathBuf)>) -> io::Result<()> {
    if let Some(entry) = entry(meta, None) {
        let found = Found {
            path: rel.to_owned(),
            entry,
            inode: None,
            stamp: None,
        };
        out.push((found, dir.to_path_buf()));
    }
    let mut items: Vec<(std::ffi::OsString, fs::DirEntry)> = fs::read_dir(dir)
        .map_err(|e| at(dir, e))?
        .map(|d| d.map(|d| (d.file_name(), d)))
        .collect::<io::Result<_>>()
        .map_err(|e| at(dir, e))?;
    items.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (name, item) in items {
        let full = dir.join(&name);
        let name = name.to_string_lossy();
        let path = if rel == "." {
            name.into_owned()
        } else {
            format!("{rel}/{name}")
        };
        // lstat relative to the open directory (no path lookup from the root)
        let meta = item.metadata().map_err(|e| at(&full, e))?;
        if meta.is_dir() {
            walk(&full, &path, &meta, out)?;
            continue;
        }
        let link = if meta.file_type().is_symlink() {
            Some(
                fs::read_link(&full)
                    .map_err(|e| at(&full, e))?
                    .to_string_lossy()
                    .into_owned(),
            )
        } else {
            None
        };
        let Some(entry) = entry(&meta, link) else {
            continue;
        };
        let inode = (meta.nlink() > 1).then(|| (meta.dev(), meta.ino()));
        let stamp = meta.is_file().then(|| Stamp::of(&meta));
        let found = Found {
            path,
            entry,
            inode,
            stamp,
        };
        out.push((found, full));
    }
    Ok(())
}

fn hash_file(path: &Path, digest: Digest, hashed: &AtomicU64) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = digest.hasher();
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        hashed.fetch_add(n as u64, Ordering::Relaxed);
    }
    Ok(hasher.finish())
}

fn at(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("`{}`: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn manifest(root: &Path) -> Manifest {
        read(root, Digest::Blake3, &AtomicU64::new(0)).expect("readable tree")
    }

    #[test]
    fn reads_types_modes_links_hardlink_groups_and_hashes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        fs::create_dir_all(root.join("pg/base")).expect("dirs");
        fs::write(root.join("pg/base/1"), "row one\n").expect("file");
        fs::hard_link(root.join("pg/base/1"), root.join("pg/base/0.link")).expect("hardlink");
        std::os::unix::fs::symlink("base/1", root.join("pg/current")).expect("symlink");
        nix::unistd::mkfifo(
            &root.join("pg/fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o640),
        )
        .expect("fifo");
        fs::set_permissions(root.join("pg"), fs::Permissions::from_mode(0o700)).expect("chmod");
        let _socket = std::os::unix::net::UnixListener::bind(root.join("sock")).expect("socket");

        let hashed = AtomicU64::new(0);
        let m = read(root, Digest::Blake3, &hashed).expect("readable tree");
        assert_eq!(
            m.entries.keys().collect::<Vec<_>>(),
            [
                ".",
                "pg",
                "pg/base",
                "pg/base/0.link",
                "pg/base/1",
                "pg/current",
                "pg/fifo"
            ]
        );
        // the hardlinked inode is hashed once
        assert_eq!(hashed.load(Ordering::Relaxed), 8);
        let one = &m.entries["pg/base/1"];
        assert_eq!(
            (one.kind, one.size, one.mode),
            (Kind::File, 8, 0o644 & !umask())
        );
        assert_eq!(
            one.hash.as_deref(),
            Some(blake3::hash(b"row one\n").to_hex().as_str())
        );
        assert_eq!(one.hardlink_group.as_deref(), Some("pg/base/0.link"));
        assert_eq!(m.entries["pg/base/0.link"], *one);
        let link = &m.entries["pg/current"];
        assert_eq!(
            (link.kind, link.link.as_deref(), link.mtime),
            (Kind::Symlink, Some("base/1"), None)
        );
        assert_eq!(m.entries["pg/fifo"].kind, Kind::Fifo);
        assert_eq!(m.entries["pg"].mode, 0o700);
        assert_eq!(
            (m.entries["pg"].size, m.entries["pg"].hash.as_deref()),
            (0, None)
        );
        assert_eq!(m.bytes(), 8);
    }

    fn umask() -> u32 {
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        nix::sys::stat::umask(old);
        old.bits()
    }

    #[test]
    fn a_name_that_is_not_utf8_is_hashed_by_its_real_name() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let name = std::ffi::OsStr::from_bytes(b"n\xffm");
        fs::write(dir.path().join(name), "latin1\n").expect("file");
        let m = manifest(dir.path());
        assert_eq!(m.entries.keys().collect::<Vec<_>>(), [".", "n\u{fffd}m"]);
        assert_eq!(
            m.entries["n\u{fffd}m"].hash.as_deref(),
            Some(blake3::hash(b"latin1\n").to_hex().as_str())
        );
    }

    #[test]
    fn a_symlinked_directory_is_not_followed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outside = tempfile::tempdir().expect("temp dir");
        fs::write(outside.path().join("secret"), "x").expect("file");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).expect("symlink");
        let m = manifest(dir.path());
        assert_eq!(m.entries.keys().collect::<Vec<_>>(), [".", "out"]);
        assert_eq!(m.entries["out"].kind, Kind::Symlink);
    }

    #[test]
    fn the_same_content_in_two_trees_compares_equal_and_a_flipped_byte_does_not() {
        let a = tempfile::tempdir().expect("temp dir");
        let b = tempfile::tempdir().expect("temp dir");
        for root in [a.path(), b.path()] {
            fs::create_dir(root.join("d")).expect("dir");
            fs::write(root.join("d/f"), vec![7u8; 3 * BUFFER + 5]).expect("file");
            let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000);
            fs::File::options()
                .write(true)
                .open(root.join("d/f"))
                .expect("open")
                .set_modified(mtime)
                .expect("mtime");
            fs::File::open(root.join("d"))
                .expect("open dir")
                .set_modified(mtime)
                .expect("dir mtime");
        }
        let rules = crate::migrate::manifest::Rules {
            root_attributes: false,
            dir_mtimes: true,
        };
        let (ma, mb) = (manifest(a.path()), manifest(b.path()));
        assert_eq!(crate::migrate::manifest::compare(&ma, &mb, rules), vec![]);
        let mut bytes = fs::read(b.path().join("d/f")).expect("read");
        bytes[BUFFER + 1] ^= 1;
        fs::write(b.path().join("d/f"), bytes).expect("flip");
        let fields: Vec<&str> = crate::migrate::manifest::compare(&ma, &manifest(b.path()), rules)
            .into_iter()
            .filter_map(|d| match d {
                crate::migrate::manifest::Difference::Changed { field, .. } => Some(field),
                _ => None,
            })
            .collect();
        assert!(fields.contains(&"content"), "{fields:?}");
    }

    #[test]
    fn a_group_needs_two_paths_inside_the_tree() {
        let file = |path: &str, inode| Found {
            path: path.into(),
            entry: entry(&fs::symlink_metadata(".").expect("cwd"), None)
                .expect("a directory is an entry"),
            inode,
            stamp: None,
        };
        let found = [
            file("b", Some((1, 10))),
            file("a", Some((1, 10))),
            file("lonely", Some((1, 11))),
            file("plain", None),
        ];
        assert_eq!(group(&found), BTreeMap::from([((1, 10), "a".to_owned())]));
    }

    #[test]
    fn only_the_sides_not_read_on_the_host_go_to_the_helper() {
        let host = || Plan::Host("/t".into());
        let shared = || Plan::Candidate("/s".into());
        assert_eq!(
            helper_roots(&[Plan::Helper, Plan::Helper]),
            [("/from", Depth::Hashed), ("/to", Depth::Hashed)]
        );
        assert_eq!(
            helper_roots(&[Plan::Helper, shared()]),
            [("/from", Depth::Hashed), ("/to", Depth::Listed)]
        );
        assert_eq!(
            helper_roots(&[host(), Plan::Helper]),
            [("/to", Depth::Hashed)]
        );
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

    #[test]
    fn the_host_listing_is_the_manifest_without_content() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("a"), "x").expect("file");
        fs::hard_link(dir.path().join("a"), dir.path().join("b")).expect("hardlink");
        let mut full = read(dir.path(), Digest::Sha256, &AtomicU64::new(0)).expect("tree");
        for entry in full.entries.values_mut() {
            entry.hash = None;
        }
        assert_eq!(listing(dir.path()).expect("listed"), full);
        assert_eq!(full.entries["b"].hardlink_group.as_deref(), Some("a"));
    }

    #[test]
    fn a_missing_root_names_it() {
        let err = read(
            Path::new("/nonexistent/tierctl-tree"),
            Digest::Blake3,
            &AtomicU64::new(0),
        )
        .expect_err("missing");
        assert!(
            err.to_string().contains("`/nonexistent/tierctl-tree`"),
            "{err}"
        );
    }

    #[test]
    fn a_known_hash_stands_for_a_file_only_while_its_stamp_is_unchanged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        fs::write(root.join("kept"), "old content\n").expect("file");
        fs::write(root.join("changed"), "abc\n").expect("file");
        let stamp = |name: &str| Stamp::of(&fs::symlink_metadata(root.join(name)).expect("stat"));
        let claimed = |name: &str| KnownFile {
            stamp: stamp(name),
            hash: format!("hash-known-for-{name}"),
        };
        let known = Known {
            started_ns: 1,
            digest: Digest::Blake3,
            files: BTreeMap::from([
                ("kept".to_owned(), claimed("kept")),
                ("changed".to_owned(), claimed("changed")),
            ]),
        };
        // same size, same mtime, other bytes: only the ctime (and so the stamp) moves
        let mtime = fs::symlink_metadata(root.join("changed"))
            .expect("stat")
            .modified()
            .expect("mtime");
        fs::write(root.join("changed"), "xyz\n").expect("rewrite");
        fs::File::options()
            .write(true)
            .open(root.join("changed"))
            .expect("open")
            .set_modified(mtime)
            .expect("mtime back");
        let hashed = AtomicU64::new(0);
        let (m, now) = read_known(root, Digest::Blake3, &hashed, &known).expect("readable tree");
        // the unchanged file is not read: its known hash stands for it
        assert_eq!(
            m.entries["kept"].hash.as_deref(),
            Some("hash-known-for-kept")
        );
        assert_eq!(
            m.entries["changed"].hash.as_deref(),
            Some(blake3::hash(b"xyz\n").to_hex().as_str())
        );
        assert_eq!(hashed.load(Ordering::Relaxed), 4);
        // written within the margin before this read: not known to the next read
        assert!(now.files.is_empty(), "{now:?}");
        assert!(now.started_ns > 0);
    }

    #[test]
    fn a_stamp_is_settled_only_when_older_than_the_read_by_the_margin() {
        let stamp = Stamp {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: 0,
            ctime_ns: 10_000_000_000,
        };
        assert!(stamp.settled_before(10_000_000_000 + RACY_MARGIN_NS + 1));
        assert!(!stamp.settled_before(10_000_000_000 + RACY_MARGIN_NS));
        assert!(!stamp.settled_before(10_000_000_000));
        let known = Known {
            started_ns: 1,
            digest: Digest::Blake3,
            files: BTreeMap::from([(
                "a".to_owned(),
                KnownFile {
                    stamp,
                    hash: "h".into(),
                },
            )]),
        };
        assert_eq!(known.hash_of("a", Some(&stamp)), Some("h"));
        let moved = Stamp {
            ctime_ns: stamp.ctime_ns + 1,
            ..stamp
        };
        assert_eq!(known.hash_of("a", Some(&moved)), None);
        assert_eq!(known.hash_of("b", Some(&stamp)), None);
        assert_eq!(known.hash_of("a", None), None);
    }
}
