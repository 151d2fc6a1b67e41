//! Side files beside the journal: verified manifests and what a running verify knew, BLAKE3-checked.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::{JournalError, ManifestRef};
use crate::migrate::tree;
use crate::migrate::tree::manifest::Manifest;

/// Keep `manifest` beside the journal `id` in `dir` as `manifest-<id>-<name>.json`: written to
/// a temporary file, fsynced, renamed, the directory fsynced; returns the reference the journal
/// records.
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
/// journal `id` as `known-<id>-<name>.json`, as [`keep_manifest`] keeps a manifest.
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
