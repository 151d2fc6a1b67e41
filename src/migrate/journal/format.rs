//! The journal's format version, recorded in its first line (`"version": N` in the `begin`
//! record) and checked before any other line is read.
//!
//! Version 1 is the format every release has written so far: the releases before the version
//! was recorded wrote no `version`, and their journals read as version 1 (they resume and roll
//! back as they always did). A change that an older release would misread (a record, a field or
//! a step id it does not know, a field whose meaning changes) raises [`FORMAT`]; this release
//! refuses a journal of a version above it by name ([`JournalError::UnknownFormat`]), and the
//! user finishes that migration with the release that wrote it.
//!
//! Version 2 (issue 21 item 7): the manifests of its side files record extended attributes
//! (`xattrs`) and symlink mtimes, which a version-1 release would compare with its own reads
//! (no symlink mtime) and name as writes that did not happen. This release reads version 1 as
//! it is: a manifest without them is read, and what it lacks is not compared
//! ([`crate::migrate::tree::manifest::Rules`]).

use std::path::Path;

use serde::Deserialize;

use super::JournalError;

/// The format version this release writes, and the newest it reads.
pub const FORMAT: u32 = 2;

/// The version of a journal whose first line records none (written before versions were
/// recorded).
pub const LEGACY_FORMAT: u32 = 1;

/// The version a `begin` record without one is in ([`LEGACY_FORMAT`]).
pub(super) fn legacy() -> u32 {
    LEGACY_FORMAT
}

/// The part of the first line the version check reads.
#[derive(Deserialize)]
struct Head {
    #[serde(default = "legacy")]
    version: u32,
}

/// Refuse a journal whose first line records a version this release does not read. A first line
/// that is not a JSON object with a whole-number `version` is left to the record parser (which
/// names it damaged, or not the plan).
pub(super) fn check(path: &Path, first_line: &[u8]) -> Result<(), JournalError> {
    match serde_json::from_slice::<Head>(first_line) {
        Ok(Head { version }) if !(LEGACY_FORMAT..=FORMAT).contains(&version) => {
            Err(JournalError::UnknownFormat {
                path: path.to_path_buf(),
                version,
            })
        }
        _ => Ok(()),
    }
}
