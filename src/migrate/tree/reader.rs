//! Who reads the two trees of a copy (the source at side 0, the target at side 1): one trait,
//! [`TreeReader`], for listing (the delta's `stat` records) and hashing (manifests), with a
//! host implementation ([`HostReader`]: the trees are host paths the engine says the host sees
//! as it does, read here) and a helper-container one ([`HelperReader`]: the trees are the mounts
//! of a never-started helper, [`copy::FROM`] and [`copy::TO`], read where they live by the one
//! manifest helper, only its listing crossing). Both give the same keys, records and entries
//! for one tree ([`super::stat`], [`super::name`]). The host reads the target (the tree a copy
//! wrote) from the disk, its pages dropped ([`from_side`]).

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

use super::helper::{self, Depth};
use super::host;
use super::known::{HandOn, Known};
use super::listing::{self, Listed};
use super::manifest::{ContentHash, Digest, Kind, Manifest};
use super::name;
use super::sides::{TreeError, helper_manifests};
use crate::engine::{Capability, EngineError, HelperSpec, Helpers};
use crate::migrate::copy::{self, CopyJob};

/// Reads the two trees of a copy.
pub trait TreeReader {
    /// Both trees' `stat` records, and the reader's clock (seconds) when it began.
    fn listed(&self) -> Result<Listed, TreeError>;

    /// The manifests of `sides` (0: the source, 1: the target), in that order, each read as
    /// deep as asked, content hashed with `digest` where the reader chooses it (a helper hashes
    /// with SHA-256); with what each read now knows (`known`: what earlier reads knew; a helper
    /// knows nothing). `hashed` grows by every content byte read.
    fn manifests(
        &self,
        sides: &[(usize, Depth)],
        digest: Digest,
        known: &[Known; 2],
        hashed: &AtomicU64,
    ) -> Result<Vec<(Manifest, Known)>, TreeError>;

    /// The content hashes of the regular files `paths` of `side` (manifest keys, relative to
    /// its root), each read as [`Self::manifests`] reads that side (the target from the disk),
    /// with `digest` where the reader chooses it (a helper hashes with SHA-256); a path that is
    /// no regular file now, or gone, is left out (the listing says what it is). `hashed` grows by
    /// every content byte read.
    fn hashes(
        &self,
        side: usize,
        paths: &[String],
        digest: Digest,
        hashed: &AtomicU64,
    ) -> Result<Hashes, TreeError>;
}

/// Content hashes by path (a manifest key).
pub type Hashes = BTreeMap<String, ContentHash>;

/// Bytes of file arguments one helper of [`TreeReader::hashes`] takes at most (well below the
/// kernel's limit on a command line, 2 MiB with the environment).
const ARGUMENT_BYTES: usize = 256 * 1024;

/// The trees at these host paths (source, target), read here; a side without a path is not
/// read by this reader.
pub struct HostReader {
    /// Source and target on the host.
    pub roots: [Option<PathBuf>; 2],
    /// Whether a hashed read builds what it knows for a later read ([`HandOn`]).
    pub hand_on: HandOn,
}

/// Where the host reads `side`'s content from: the target (side 1, the tree a copy wrote) from
/// the disk, the source from wherever the kernel has it.
pub fn from_side(side: usize) -> host::ReadFrom {
    match side {
        1 => host::ReadFrom::Medium,
        _ => host::ReadFrom::Cache,
    }
}

/// The trees mounted in `spec` (a never-started helper with the source at [`copy::FROM`] and
/// the target at [`copy::TO`], both read-only: [`copy::verify_spec`]), read by helpers made
/// from it on `engine`.
pub struct HelperReader<'a> {
    /// The engine the trees live on.
    pub engine: &'a dyn Helpers,
    /// The mounts (and image, journal) every reading helper takes.
    pub spec: &'a HelperSpec,
}

/// Where each side is mounted in a [`HelperReader`]'s helpers.
const ROOTS: [&str; 2] = [copy::FROM, copy::TO];

impl HostReader {
    /// The host reader of `job`'s trees when the engine says the host sees both as it does.
    pub fn for_copy(engine: &dyn Helpers, job: &CopyJob) -> Result<Option<Self>, EngineError> {
        Ok(
            super::reach::host_reads_both(engine, job)?.map(|(source, target)| HostReader {
                roots: [Some(source), Some(target)],
                hand_on: HandOn::Nothing,
            }),
        )
    }

    fn host_error(&self, side: usize, source: io::Error) -> TreeError {
        TreeError::Host {
            path: self.roots[side].clone().unwrap_or_default(),
            source,
        }
    }

    /// The host path of `side`.
    fn root(&self, side: usize) -> Result<&PathBuf, TreeError> {
        self.roots[side]
            .as_ref()
            .ok_or_else(|| TreeError::NotOnHost {
                root: ROOTS[side].into(),
            })
    }
}

impl TreeReader for HostReader {
    fn listed(&self) -> Result<Listed, TreeError> {
        // the clock before the listing, as the helper's `date +%s`
        let began = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        // both at once: the services are down while this runs
        let (source, target) = (self.root(0)?, self.root(1)?);
        let (source, target) = std::thread::scope(|scope| {
            let target = scope.spawn(|| listing::list(target));
            let source = listing::list(source);
            let target = target
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the listing thread panicked")));
            (source, target)
        });
        Ok(Listed {
            began,
            source: source.map_err(|e| self.host_error(0, e))?,
            target: target.map_err(|e| self.host_error(1, e))?,
        })
    }

    fn manifests(
        &self,
        sides: &[(usize, Depth)],
        digest: Digest,
        known: &[Known; 2],
        hashed: &AtomicU64,
    ) -> Result<Vec<(Manifest, Known)>, TreeError> {
        let read = |side: usize, depth: Depth| {
            let root = self.root(side)?;
            let read = match depth {
                Depth::Hashed => {
                    let from = from_side(side);
                    host::read_using(root, digest, hashed, &known[side], from, self.hand_on)
                }
                Depth::Medium => {
                    let from = host::ReadFrom::Medium;
                    host::read_using(root, digest, hashed, &known[side], from, self.hand_on)
                }
                Depth::Listed => host::listing(root).map(|m| (m, Known::default())),
            };
            read.map_err(|e| self.host_error(side, e))
        };
        std::thread::scope(|scope| {
            let handles: Vec<_> = sides
                .iter()
                .map(|&(side, depth)| (side, scope.spawn(move || read(side, depth))))
                .collect();
            handles
                .into_iter()
                .map(|(side, h)| {
                    h.join().unwrap_or_else(|_| {
                        Err(TreeError::Panicked {
                            path: self.roots[side].clone().unwrap_or_default(),
                        })
                    })
                })
                .collect()
        })
    }

    fn hashes(
        &self,
        side: usize,
        paths: &[String],
        digest: Digest,
        hashed: &AtomicU64,
    ) -> Result<Hashes, TreeError> {
        use rayon::prelude::*;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(host::readers())
            .build()
            .map_err(|e| self.host_error(side, io::Error::other(e)))?;
        let read: Vec<Option<(String, ContentHash)>> = pool.install(|| {
            paths
                .par_iter()
                .map(|p| {
                    Ok(self
                        .hash_one(side, p, digest, hashed)?
                        .map(|h| (p.clone(), h)))
                })
                .collect::<Result<_, TreeError>>()
        })?;
        Ok(read.into_iter().flatten().collect())
    }
}

impl HostReader {
    /// [`TreeReader::hashes`] of one file; `None`: no regular file there now.
    fn hash_one(
        &self,
        side: usize,
        path: &str,
        digest: Digest,
        hashed: &AtomicU64,
    ) -> Result<Option<ContentHash>, TreeError> {
        let full = self.root(side)?.join(name::path(path));
        match std::fs::symlink_metadata(&full) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.host_error(side, e)),
        }
        match host::hash_file(&full, digest, hashed, from_side(side)) {
            Ok(hash) => Ok(Some(hash)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.host_error(
                side,
                io::Error::new(e.kind(), format!("`{}`: {e}", full.display())),
            )),
        }
    }
}

impl TreeReader for HelperReader<'_> {
    fn listed(&self) -> Result<Listed, TreeError> {
        let output = self.engine.run_to_end(&list_spec(self.spec))?;
        listing::parse_listed(&output).map_err(|source| TreeError::Listing {
            root: ROOTS.join(", "),
            source,
        })
    }

    fn manifests(
        &self,
        sides: &[(usize, Depth)],
        _digest: Digest,
        _known: &[Known; 2],
        hashed: &AtomicU64,
    ) -> Result<Vec<(Manifest, Known)>, TreeError> {
        let roots: Vec<(&str, Depth)> = sides
            .iter()
            .map(|&(side, depth)| (ROOTS[side], depth))
            .collect();
        let read = helper_manifests(self.engine, self.spec, &roots, hashed)?;
        Ok(read.into_iter().map(|m| (m, Known::default())).collect())
    }

    fn hashes(
        &self,
        side: usize,
        paths: &[String],
        _digest: Digest,
        hashed: &AtomicU64,
    ) -> Result<Hashes, TreeError> {
        let root = ROOTS[side];
        let depth = Depth::hashed(side == 1);
        let mut out = BTreeMap::new();
        // a helper takes its files as arguments: a name that is not UTF-8 cannot be one
        let full: Vec<String> = paths
            .iter()
            .filter_map(|p| String::from_utf8(name::decode(p)).ok())
            .map(|p| format!("{root}/{p}"))
            .collect();
        let mut start = 0;
        while start < full.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < full.len() && (end == start || bytes + full[end].len() < ARGUMENT_BYTES) {
                bytes += full[end].len() + 1;
                end += 1;
            }
            let spec = files_spec(self.spec, root, depth, &full[start..end]);
            let output = self.engine.run_to_end(&spec)?;
            let read =
                helper::parse(&output, &[(root, depth)]).map_err(|source| TreeError::Listing {
                    root: root.into(),
                    source,
                })?;
            for m in read {
                hashed.fetch_add(m.bytes(), std::sync::atomic::Ordering::Relaxed);
                for (path, entry) in m.entries {
                    if let (Kind::File, Some(hash)) = (entry.kind, entry.hash) {
                        out.insert(path, hash);
                    }
                }
            }
            start = end;
        }
        Ok(out)
    }
}

/// The list helper of [`HelperReader::listed`], as [`super::helper::spec`] makes the manifest helper:
/// `spec`'s mounts, the listing command, `DAC_READ_SEARCH`.
pub fn list_spec(spec: &HelperSpec) -> HelperSpec {
    HelperSpec {
        command: listing::list_command(),
        capabilities: vec![Capability::DacReadSearch],
        purpose: "list".into(),
        ..spec.clone()
    }
}

/// The script of [`files_spec`]: `$1` is [`helper::BATCH`], `$2` the root, `$3` the depth,
/// then the files (full paths under the root); one `@root`, one batch of them, `@done`.
const FILES: &str = "set -o pipefail
batch=$1; root=$2; depth=$3; shift 3
echo \"@root $depth $root\"
if [ $# -gt 0 ]; then sh -c \"$batch\" tierctl-batch \"$depth\" \"$@\" || exit 1; fi
echo @done";

/// The manifest helper for only `files` under `root` (full paths inside the container, e.g.
/// `/to/db/1`), read as `depth` says: `migrate --check --subset`'s chosen files.
/// [`helper::parse`] with `[(root, depth)]` reads its output into a manifest of those entries
/// (no root entry).
pub fn files_spec(verify: &HelperSpec, root: &str, depth: Depth, files: &[String]) -> HelperSpec {
    let mut command: Vec<String> = vec![
        "sh".into(),
        "-c".into(),
        FILES.into(),
        "tierctl-files".into(),
        helper::BATCH.into(),
        root.into(),
        depth.word().into(),
    ];
    command.extend(files.iter().cloned());
    HelperSpec {
        command,
        capabilities: vec![Capability::DacReadSearch],
        purpose: "manifest".into(),
        ..verify.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn tree(root: &std::path::Path) {
        use std::os::unix::ffi::OsStrExt;
        fs::create_dir_all(root.join("d")).expect("dir");
        fs::write(root.join("d/f"), "12345").expect("file");
        let odd = std::ffi::OsStr::from_bytes(b"n\xff\nm");
        fs::write(root.join(odd), "x").expect("odd name");
    }

    #[test]
    fn the_host_reader_lists_and_hashes_each_side_and_refuses_a_side_it_has_no_path_for() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        tree(&from);
        fs::create_dir(&to).expect("to");
        let reader = HostReader {
            roots: [Some(from.clone()), Some(to.clone())],
            hand_on: HandOn::Known,
        };
        let listed = reader.listed().expect("listed");
        assert_eq!(listed.source, listing::list(&from).expect("list"));
        assert_eq!(listed.target.keys().collect::<Vec<_>>(), ["."]);
        assert!(listed.began > 0);
        let none = [Known::default(), Known::default()];
        let hashed = AtomicU64::new(0);
        let read = reader
            .manifests(
                &[(0, Depth::Hashed), (1, Depth::Listed)],
                Digest::Blake3,
                &none,
                &hashed,
            )
            .expect("read");
        assert_eq!(read.len(), 2);
        assert_eq!(
            read[0].0,
            host::read(&from, Digest::Blake3, &hashed).expect("read")
        );
        assert!(read[0].0.entries.contains_key("n\0ff\nm"));
        assert_eq!(read[1].0, host::listing(&to).expect("listing"));
        let half = HostReader {
            roots: [Some(from), None],
            hand_on: HandOn::Known,
        };
        let err = half
            .manifests(&[(1, Depth::Hashed)], Digest::Blake3, &none, &hashed)
            .expect_err("no path");
        assert!(matches!(err, TreeError::NotOnHost { .. }), "{err}");
        assert!(half.listed().is_err());
    }

    #[test]
    fn the_list_helper_is_the_verify_helpers_mounts_with_the_listing_command() {
        let verify = HelperSpec::new("verify", "img", vec!["true".into()]);
        let list = list_spec(&verify);
        assert_eq!(list.purpose, "list");
        assert_eq!(list.capabilities, [Capability::DacReadSearch]);
        assert_eq!(list.command, listing::list_command());
        assert_eq!(list.command[5..], [copy::FROM, "list", copy::TO, "list"]);
    }
}
