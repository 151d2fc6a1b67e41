//! `migrate --check --format json`: each copy of a finished migration against the manifest
//! its journal kept, and every path that differs. Fields in this order; add, never rename.

use std::path::Path;

use serde::Serialize;

use super::VERSION;
use crate::report::PathStyle;
use crate::report::reports::{CheckReport, CopyCheck, PathDifference};

/// `tierctl migrate --check --format json`.
#[derive(Serialize)]
pub struct MigrateCheckDto<'a> {
    /// Contract version.
    pub version: u32,
    /// The journal whose copies were checked, as shown to the user.
    pub journal: String,
    /// When the check ran, seconds since the Unix epoch.
    pub checked_at: u64,
    /// `--subset`: the part of the files whose content was read; absent: every file's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subset: Option<SubsetDto<'a>>,
    /// Whether every copy was checked and none differs (exit status 0).
    pub clean: bool,
    /// Paths that differ, over every copy.
    pub differences: usize,
    /// Each copy, in plan order.
    pub copies: Vec<CopyCheckDto<'a>>,
}

/// `--subset`.
#[derive(Serialize)]
pub struct SubsetDto<'a> {
    /// Per cent of the files.
    pub percent: f64,
    /// What chose them.
    pub seed: &'a str,
}

/// One copy.
#[derive(Serialize)]
pub struct CopyCheckDto<'a> {
    /// Its index in the plan.
    pub copy: usize,
    /// Where the data came from (`volume `NAME``).
    pub source: &'a str,
    /// The tier directory.
    pub target: &'a Path,
    /// How it was read.
    pub read: &'a str,
    /// Why it was not checked; absent: checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchecked: Option<&'a str>,
    /// Entries in the kept manifest.
    pub entries: usize,
    /// Regular files in the kept manifest.
    pub files: usize,
    /// Files whose content was read and compared.
    pub files_hashed: usize,
    /// Content bytes read.
    pub bytes_hashed: u64,
    /// Every path that differs, in path order.
    /// (the report's own type: its field names are the JSON contract)
    pub differences: &'a [PathDifference],
}

/// The DTO of `report`.
pub fn check<'a>(report: &'a CheckReport, paths: &PathStyle) -> MigrateCheckDto<'a> {
    MigrateCheckDto {
        version: VERSION,
        journal: paths.show(&report.journal),
        checked_at: report.checked_at,
        subset: report.subset.as_ref().map(|s| SubsetDto {
            percent: s.percent,
            seed: &s.seed,
        }),
        clean: report.clean(),
        differences: report.differences(),
        copies: report.copies.iter().map(copy).collect(),
    }
}

fn copy(c: &CopyCheck) -> CopyCheckDto<'_> {
    CopyCheckDto {
        copy: c.copy,
        source: &c.source,
        target: &c.target,
        read: &c.read,
        unchecked: c.unchecked.as_deref(),
        entries: c.entries,
        files: c.files,
        files_hashed: c.files_hashed,
        bytes_hashed: c.bytes_hashed,
        differences: &c.differences,
    }
}
