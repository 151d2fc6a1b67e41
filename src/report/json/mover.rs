//! `tiers move --format json` and `tiers pool --format json`.

use serde::Serialize;

use super::VERSION;
use crate::move_plan::{FileOutcome, MoveReport, PoolReport, PoolState, Reason, Skip};
use crate::report::human::mover::{reason_text, skip_text};

/// `tierctl tiers move --format json`.
#[derive(Serialize)]
pub struct MoveDto<'a> {
    /// Contract version.
    pub version: u32,
    /// The pool.
    pub pool: &'a str,
    /// `--dry-run`.
    pub dry_run: bool,
    /// 0 all moved, 1 some skipped or held, 2 some failed.
    pub exit_code: u8,
    /// Files moved.
    pub moved: u64,
    /// Bytes moved.
    pub bytes: u64,
    /// Files skipped (retried next run).
    pub skipped: u64,
    /// Files failed.
    pub failed: u64,
    /// Files a killed run left that this run settled.
    pub recovered: u64,
    /// Seconds.
    pub seconds: f64,
    /// Each selected file.
    pub files: Vec<FileDto<'a>>,
    /// Files held back for want of room.
    pub held: Vec<HeldDto<'a>>,
}

/// One selected file.
#[derive(Serialize)]
pub struct FileDto<'a> {
    /// Path relative to the pool.
    pub path: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// From tier.
    pub from: &'a str,
    /// To tier.
    pub to: &'a str,
    /// The rule.
    pub rule: &'a str,
    /// `age`, `watermark`, `matched`.
    pub reason: &'static str,
    /// The reason for people.
    pub why: String,
    /// `moved`, `planned`, `skipped`, `failed`.
    pub outcome: &'static str,
    /// For `skipped`: `open-for-writing`, `changed`, `exists-on-target`, `vanished`, `hardlinked`.
    pub skip: Option<&'static str>,
    /// The skip or error for people.
    pub detail: Option<String>,
    /// For `moved`: the BLAKE3 hash both copies had.
    pub blake3: Option<&'a str>,
}

/// A held file.
#[derive(Serialize)]
pub struct HeldDto<'a> {
    /// Path relative to the pool.
    pub path: &'a str,
    /// The rule.
    pub rule: &'a str,
    /// Bytes it needs.
    pub needs: u64,
}

/// `tiers move` as its DTO.
pub fn moved(report: &MoveReport) -> MoveDto<'_> {
    let t = &report.totals;
    MoveDto {
        version: VERSION,
        pool: &report.pool,
        dry_run: report.dry_run,
        exit_code: report.exit_code(),
        moved: t.moved,
        bytes: t.bytes,
        skipped: t.skipped,
        failed: t.failed,
        recovered: t.recovered,
        seconds: t.seconds,
        files: report
            .files
            .iter()
            .map(|(s, outcome)| {
                let (outcome_id, skip, detail, blake3) = match outcome {
                    FileOutcome::Moved { hash } => ("moved", None, None, Some(hash.as_str())),
                    FileOutcome::Planned => ("planned", None, None, None),
                    FileOutcome::Skipped(skip) => {
                        ("skipped", Some(skip_id(skip)), Some(skip_text(skip)), None)
                    }
                    FileOutcome::Failed { error } => ("failed", None, Some(error.clone()), None),
                };
                FileDto {
                    path: &s.file.rel,
                    size: s.file.size,
                    from: &s.file.tier,
                    to: &s.to,
                    rule: &s.rule,
                    reason: match s.reason {
                        Reason::Age { .. } => "age",
                        Reason::Watermark { .. } => "watermark",
                        Reason::Matched => "matched",
                    },
                    why: reason_text(&s.reason),
                    outcome: outcome_id,
                    skip,
                    detail,
                    blake3,
                }
            })
            .collect(),
        held: report
            .held
            .iter()
            .map(|h| HeldDto {
                path: &h.rel,
                rule: &h.rule,
                needs: h.needs,
            })
            .collect(),
    }
}

fn skip_id(skip: &Skip) -> &'static str {
    match skip {
        Skip::OpenForWriting { .. } => "open-for-writing",
        Skip::Changed => "changed",
        Skip::ExistsOnTarget => "exists-on-target",
        Skip::Vanished => "vanished",
        Skip::Hardlinked { .. } => "hardlinked",
    }
}

/// `tierctl tiers pool --format json`.
#[derive(Serialize)]
pub struct PoolsDto<'a> {
    /// Contract version.
    pub version: u32,
    /// `mount`, `unmount`, `status`.
    pub action: &'a str,
    /// 0 as asked, 1 not, 2 failed.
    pub exit_code: u8,
    /// Each pool.
    pub pools: Vec<PoolDto<'a>>,
}

/// One pool.
#[derive(Serialize)]
pub struct PoolDto<'a> {
    /// Name.
    pub pool: &'a str,
    /// Mount point.
    pub mount: String,
    /// Branch directories, hottest first.
    pub branches: Vec<BranchDto<'a>>,
    /// Create policy.
    pub create: &'a str,
    /// `mounted`, `mounted-otherwise`, `occupied`, `not-mounted`, `failed`.
    pub state: &'static str,
    /// What differs, or the error.
    pub detail: Option<String>,
}

/// A branch.
#[derive(Serialize)]
pub struct BranchDto<'a> {
    /// Tier.
    pub tier: &'a str,
    /// Directory.
    pub path: String,
}

/// `tiers pool` as its DTO.
pub fn pools(report: &PoolReport) -> PoolsDto<'_> {
    PoolsDto {
        version: VERSION,
        action: report.action,
        exit_code: report.exit_code(),
        pools: report
            .rows
            .iter()
            .map(|r| PoolDto {
                pool: &r.pool,
                mount: r.mount.display().to_string(),
                branches: r
                    .branches
                    .iter()
                    .map(|(tier, path)| BranchDto {
                        tier,
                        path: path.display().to_string(),
                    })
                    .collect(),
                create: &r.create,
                state: r.state.id(),
                detail: match &r.state {
                    PoolState::MountedOtherwise { branches } => Some(branches.clone()),
                    PoolState::Occupied { fs_type } => Some(fs_type.clone()),
                    PoolState::Failed { error, .. } => Some(error.clone()),
                    PoolState::Mounted | PoolState::NotMounted => None,
                },
            })
            .collect(),
    }
}
