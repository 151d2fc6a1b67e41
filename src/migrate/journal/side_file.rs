//! Side files beside the journal: verified manifests and what a running verify knew, BLAKE3-checked.
//! Each is named by a [`SideFile`]: what it holds for which copy.

use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;

use super::{JournalError, ManifestRef};
use crate::migrate::tree;
use crate::migrate::tree::manifest::Manifest;

/// What a side file holds, for one copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SideKind {
    /// The manifest of a pre-copy on another engine, taken right after it (`precopy`).
    PreCopy,
    /// The manifest of the verified copy (`verify`).
    Verify,
    /// The manifest of a rollback's verified copy back into the source (`copy-back`).
    CopyBack,
    /// What a copy while the services were stopped knew of its source (`copy-source`).
    CopySource,
    /// What the verify while the services ran knew of the source (`source`).
    Source,
    /// What the verify while the services ran knew of the copy (`copy`).
    Copy,
}

impl SideKind {
    /// Every kind, for [`SideFile::from_str`].
    const ALL: [SideKind; 6] = [
        SideKind::PreCopy,
        SideKind::Verify,
        SideKind::CopyBack,
        SideKind::CopySource,
        SideKind::Source,
        SideKind::Copy,
    ];

    /// Its text, before `-N`.
    pub const fn name(self) -> &'static str {
        match self {
            SideKind::PreCopy => "precopy",
            SideKind::Verify => "verify",
            SideKind::CopyBack => "copy-back",
            SideKind::CopySource => "copy-source",
            SideKind::Source => "source",
            SideKind::Copy => "copy",
        }
    }

    /// This side file of copy `n`.
    pub const fn of(self, n: usize) -> SideFile {
        SideFile {
            kind: self,
            copy: n,
        }
    }
}

/// A side file's identity: what it holds and the copy (its index in the plan) it is of. Its
/// text (`verify-0`, `copy-source-2`, ...) is the part of the file name after the journal id:
/// `manifest-<journal>-verify-0.json`, `known-<journal>-copy-source-2.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SideFile {
    /// What it holds.
    pub kind: SideKind,
    /// The copy.
    pub copy: usize,
}

impl fmt::Display for SideFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.kind.name(), self.copy)
    }
}

/// Text that names no side file.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error(
    "`{text}` is not a journal side file (one of `precopy`, `verify`, `copy-back`, `copy-source`, `source`, `copy` followed by `-N`)"
)]
pub struct SideFileError {
    /// The text.
    pub text: String,
}

impl FromStr for SideFile {
    type Err = SideFileError;

    fn from_str(text: &str) -> Result<SideFile, SideFileError> {
        text.rsplit_once('-')
            .and_then(|(name, n)| {
                let kind = SideKind::ALL.into_iter().find(|k| k.name() == name)?;
                let digits = n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty();
                let canonical = digits && (n == "0" || !n.starts_with('0'));
                Some(kind.of(n.parse().ok().filter(|_| canonical)?))
            })
            .ok_or_else(|| SideFileError {
                text: text.to_owned(),
            })
    }
}

impl SideFile {
    /// Keep `manifest` beside the journal `journal` in `dir` as
    /// `manifest-<journal>-<self>.json` (see [`keep_manifest`]).
    pub fn keep_manifest(
        self,
        dir: &Path,
        journal: &str,
        manifest: &Manifest,
    ) -> Result<ManifestRef, JournalError> {
        keep_manifest(dir, journal, &self.to_string(), manifest)
    }

    /// Keep what a verify knew of one tree beside the journal `journal` in `dir` as
    /// `known-<journal>-<self>.json` (see [`keep_known`]).
    pub fn keep_known(
        self,
        dir: &Path,
        journal: &str,
        known: &tree::Known,
    ) -> Result<ManifestRef, JournalError> {
        keep_known(dir, journal, &self.to_string(), known)
    }
}

/// Keep `manifest` beside the journal `id` in `dir` as `manifest-<id>-<name>.json`: written to
/// a temporary file, fsynced, renamed, the directory fsynced; returns the reference the journal
/// records. `name` is a [`SideFile`]'s text: [`SideFile::keep_manifest`] is the typed call (the
/// text form stays only until the executor's call sites move to it).
pub fn keep_manifest(
    dir: &Path,
    id: &str,
    name: &str,
    manifest: &Manifest,
) -> Result<ManifestRef, JournalError> {
    keep_side_file(dir, format!("manifest-{id}-{name}.json"), manifest)
}

/// Read a kept manifest back, refused when its bytes are not the ones the journal recorded.
pub fn load_manifest(dir: &Path, kept: &ManifestRef) -> Result<Manifest, JournalError> {
    load_side_file(dir, kept)
}

/// Keep what a verify while the services ran knew of one tree (see [`tree::Known`]) beside the
/// journal `id` as `known-<id>-<name>.json`, as [`keep_manifest`] keeps a manifest (the typed
/// call: [`SideFile::keep_known`]).
pub fn keep_known(
    dir: &Path,
    id: &str,
    name: &str,
    known: &tree::Known,
) -> Result<ManifestRef, JournalError> {
    keep_side_file(dir, format!("known-{id}-{name}.json"), known)
}

/// Read a kept [`tree::Known`] back, refused when its bytes are not the ones journaled.
pub fn load_known(dir: &Path, kept: &ManifestRef) -> Result<tree::Known, JournalError> {
    load_side_file(dir, kept)
}

fn keep_side_file(
    dir: &Path,
    file: String,
    value: &impl Serialize,
) -> Result<ManifestRef, JournalError> {
    let path = dir.join(&file);
    let io = |source| JournalError::Io {
        path: path.clone(),
        source,
    };
    let bytes = serde_json::to_vec(value).map_err(|e| io(e.into()))?;
    let temp = dir.join(format!(".{file}.tmp"));
    let mut out = File::create(&temp).map_err(io)?;
    out.write_all(&bytes).map_err(io)?;
    out.sync_all().map_err(io)?;
    fs::rename(&temp, &path).map_err(io)?;
    if let Ok(d) = File::open(dir) {
        d.sync_all().map_err(io)?;
    }
    Ok(ManifestRef {
        file,
        blake3: blake3::hash(&bytes).to_hex().to_string(),
    })
}

fn load_side_file<T: serde::de::DeserializeOwned>(
    dir: &Path,
    kept: &ManifestRef,
) -> Result<T, JournalError> {
    let path = dir.join(&kept.file);
    let bytes = fs::read(&path).map_err(|source| JournalError::Io {
        path: path.clone(),
        source,
    })?;
    if blake3::hash(&bytes).to_hex().as_str() != kept.blake3 {
        return Err(JournalError::ManifestChanged { path });
    }
    serde_json::from_slice(&bytes).map_err(|_| JournalError::ManifestChanged { path })
}
