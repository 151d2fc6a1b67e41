//! Late writes: what changed in a source after its copy verified (issue 26 rows 1 and 3). The
//! verify step journals the manifest of the copy it found equal to the stopped source; a source
//! that differs from it now was written by someone else since (a `docker run`, another
//! project's container), and those writes are not in the tier directory. `--prune-source`
//! removes a volume only while it still equals that manifest, and a resumed run past the
//! rewrite finishes only then.
//!
//! [`late_writes`] is the pure comparison; [`since_verify`] reads the source where it lives (on
//! the host when it may, else by a helper on the engine) and compares.

use std::fmt;
use std::sync::atomic::AtomicU64;

use thiserror::Error;

use super::copy::{self, CopyJob};
use super::journal::{self, Detail, JournalError, JournalState};
use super::plan::MigrateStep;
use super::tree::TreeError;
use super::tree::helper::Depth;
use super::tree::manifest::{self, Difference, Digest, Manifest, Rules};
use super::{MigrateContext, tree};
use crate::engine::{EngineError, MountSource};

/// How many late writes a message names.
pub const SHOWN: usize = 5;

/// One path of a source that is not what its copy verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LateWrite {
    /// A path that was not there.
    Added(String),
    /// A path that is gone.
    Removed(String),
    /// A path whose `field` (content, size, mode, ...) changed.
    Changed {
        /// The path, relative to the source's root (`.` is the root).
        path: String,
        /// What changed.
        field: &'static str,
    },
}

impl fmt::Display for LateWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LateWrite::Added(path) => write!(f, "`{path}` added"),
            LateWrite::Removed(path) => write!(f, "`{path}` removed"),
            LateWrite::Changed { path, field } => write!(f, "`{path}` {field} changed"),
        }
    }
}

/// What differs between the manifest `verified` (the copy that verified equal to the stopped
/// source) and the source `now` (pure). `seeded`: the source was empty and the copy was made
/// from the image's content, so the source is expected to hold nothing but its root.
pub fn late_writes(verified: &Manifest, now: &Manifest, seeded: bool) -> Vec<LateWrite> {
    if seeded {
        return now
            .entries
            .keys()
            .filter(|path| path.as_str() != ".")
            .map(|path| LateWrite::Added(path.clone()))
            .collect();
    }
    // the copy's manifest against its source: what a helper copy keeps (the copy may have
    // been made by one, with `--force`)
    manifest::compare(verified, now, Rules::copy(false))
        .into_iter()
        .map(|d| match d {
            Difference::Missing { path } => LateWrite::Removed(path),
            Difference::Extra { path } => LateWrite::Added(path),
            Difference::Changed { path, field, .. } => LateWrite::Changed { path, field },
        })
        .fold(Vec::new(), |mut out, w| {
            // one line per path: its first changed field says enough
            let path = |w: &LateWrite| match w {
                LateWrite::Added(p) | LateWrite::Removed(p) => p.clone(),
                LateWrite::Changed { path, .. } => path.clone(),
            };
            if out.last().is_none_or(|last| path(last) != path(&w)) {
                out.push(w);
            }
            out
        })
}

/// The first [`SHOWN`] late writes, and how many more there are (pure).
pub fn shown(writes: &[LateWrite]) -> String {
    let mut text: Vec<String> = writes.iter().take(SHOWN).map(ToString::to_string).collect();
    if writes.len() > SHOWN {
        text.push(format!("and {} more", writes.len() - SHOWN));
    }
    text.join(", ")
}

/// Whether copy `n` was made from the image's content because its source was empty (pure).
pub fn seeded(state: &JournalState, n: usize) -> bool {
    let copied = state.done.get(&MigrateStep::Copy(n).id());
    let pre_copied = state.done.get(&MigrateStep::PreCopy(n).id());
    matches!(
        copied,
        Some(
            Detail::Seeded { .. }
                | Detail::Copied {
                    seeded: Some(_),
                    ..
                }
        )
    ) || matches!(
        pre_copied,
        Some(Detail::PreCopied {
            seeded: Some(_),
            ..
        })
    )
}

/// Why the source could not be compared with its verified copy.
#[derive(Debug, Error)]
pub enum LateWriteError {
    /// The verify of copy `n` journaled no manifest (a journal from before they were kept).
    #[error("the journal kept no manifest of the verified copy of {subject}")]
    NoManifest {
        /// The source, as messages show it.
        subject: String,
    },
    /// The journaled manifest is missing or damaged.
    #[error("the manifest journaled when the copy of {subject} verified cannot be used: {source}")]
    Manifest {
        /// The source, as messages show it.
        subject: String,
        /// Why.
        source: JournalError,
    },
    /// The source could not be read.
    #[error("cannot read {subject} to compare it with its verified copy: {reason}")]
    Read {
        /// The source, as messages show it.
        subject: String,
        /// What the host or the engine said.
        reason: Box<SourceReadError>,
    },
}

/// Why the source could not be read now (where it lives).
#[derive(Debug, Error)]
pub enum SourceReadError {
    /// The engine failed (where the source is, or its helper).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The helper's manifest could not be read.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// The host walk of the source failed for a reason other than permissions.
    #[error("`{}`: {error}", path.display())]
    Host {
        /// The source as the host sees it.
        path: std::path::PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The engine returned no manifest of the source.
    #[error("the engine returned no manifest")]
    NoManifest,
}

/// The late writes into copy `n`'s source since its copy verified, read now where the source
/// lives; `journal` labels the helper that reads it.
pub fn since_verify(
    ctx: &MigrateContext<'_>,
    journal: &str,
    state: &JournalState,
    n: usize,
) -> Result<Vec<LateWrite>, LateWriteError> {
    let job = &state.plan.copies[n].job;
    let subject = show(&job.source);
    let Some(Detail::Verified {
        manifest: Some(kept),
        ..
    }) = state.done.get(&MigrateStep::Verify(n).id())
    else {
        return Err(LateWriteError::NoManifest { subject });
    };
    let verified = journal::load_manifest(&journal::dir(&state.plan.project_dir), kept)
        .map_err(|source| LateWriteError::Manifest { subject, source })?;
    let now = read_source(ctx, journal, job, verified.digest)?;
    Ok(late_writes(&verified, &now, seeded(state, n)))
}

/// The source's manifest now, hashed with `digest`: on the host when it may read it, else by a
/// helper on the engine (the verify step reads it the same ways).
fn read_source(
    ctx: &MigrateContext<'_>,
    journal: &str,
    job: &CopyJob,
    digest: Digest,
) -> Result<Manifest, LateWriteError> {
    let failed = |reason: SourceReadError| LateWriteError::Read {
        subject: show(&job.source),
        reason: Box::new(reason),
    };
    let hashed = AtomicU64::new(0);
    if let Some(path) =
        tree::reach::host_reads(ctx.engine, &job.source).map_err(|e| failed(e.into()))?
    {
        match tree::read(&path, digest, &hashed) {
            Ok(m) => return Ok(m),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
            Err(error) => return Err(failed(SourceReadError::Host { path, error })),
        }
    }
    let mut spec = copy::verify_spec(job, &ctx.image, journal);
    spec.mounts.retain(|m| m.target == copy::FROM);
    let read = match digest {
        Digest::Sha256 => {
            tree::helper_manifests(ctx.engine, &spec, &[(copy::FROM, Depth::Hashed)], &hashed)
                .map_err(|e| failed(e.into()))?
        }
        Digest::Blake3 => {
            tree::archive_manifests(ctx.engine, &spec, &[copy::FROM], digest, &hashed)
                .map_err(|e| failed(e.into()))?
        }
    };
    read.into_iter()
        .next()
        .ok_or_else(|| failed(SourceReadError::NoManifest))
}

/// A source in messages.
pub fn show(source: &MountSource) -> String {
    match source {
        MountSource::Volume(name) => format!("volume `{name}`"),
        MountSource::Bind(path) => format!("`{}`", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::tree::manifest::{Entry, Kind};

    fn entry(kind: Kind, hash: Option<&str>) -> Entry {
        Entry {
            kind,
            size: hash.map_or(0, |h| h.len() as u64),
            uid: 999,
            gid: 999,
            mode: 0o700,
            mtime: Some(1_700_000_000),
            mtime_nsec: None,
            link: None,
            device: None,
            hardlink_group: None,
            hash: hash.map(Into::into),
            xattrs: None,
        }
    }

    fn tree(files: &[(&str, &str)]) -> Manifest {
        let mut m = Manifest::default();
        m.entries.insert(".".into(), entry(Kind::Dir, None));
        for (path, hash) in files {
            m.entries
                .insert((*path).into(), entry(Kind::File, Some(hash)));
        }
        m
    }

    #[test]
    fn issue26_row1_a_source_written_after_its_copy_verified_names_what_differs() {
        let verified = tree(&[("PG_VERSION", "aa"), ("base/1", "bb")]);
        assert!(late_writes(&verified, &verified.clone(), false).is_empty());
        let mut now = tree(&[("PG_VERSION", "aa"), ("base/1", "cc"), ("LATE", "dd")]);
        now.entries.remove("PG_VERSION");
        let writes = late_writes(&verified, &now, false);
        assert_eq!(
            writes,
            vec![
                LateWrite::Removed("PG_VERSION".into()),
                LateWrite::Changed {
                    path: "base/1".into(),
                    field: "content"
                },
                LateWrite::Added("LATE".into()),
            ]
        );
        assert_eq!(
            shown(&writes),
            "`PG_VERSION` removed, `base/1` content changed, `LATE` added"
        );
    }

    #[test]
    fn issue26_row1_a_seeded_source_is_expected_empty_and_only_more_than_its_root_differs() {
        // the copy came from the image; the source volume was empty and must still be
        let verified = tree(&[("from-the-image", "aa")]);
        assert!(late_writes(&verified, &tree(&[]), true).is_empty());
        assert_eq!(
            late_writes(&verified, &tree(&[("LATE", "dd")]), true),
            vec![LateWrite::Added("LATE".into())]
        );
    }

    #[test]
    fn issue26_row1_only_the_first_few_late_writes_are_named() {
        let writes: Vec<LateWrite> = (0..8).map(|i| LateWrite::Added(format!("f{i}"))).collect();
        let text = shown(&writes);
        assert!(text.starts_with("`f0` added, "), "{text}");
        assert!(text.ends_with("`f4` added, and 3 more"), "{text}");
    }

    #[test]
    fn issue26_row1_a_seeded_copy_is_known_from_its_journaled_step() {
        use crate::migrate::plan::MigratePlan;
        let mut state =
            JournalState::of(&[journal::Record::begin(MigratePlan::default())]).expect("a plan");
        assert!(!seeded(&state, 0));
        state.done.insert(
            MigrateStep::PreCopy(0).id(),
            Detail::PreCopied {
                since: 0,
                passes: 1,
                seeded: Some("tierctl-seed-j-0".into()),
            },
        );
        assert!(seeded(&state, 0));
        assert!(!seeded(&state, 1));
    }
}
