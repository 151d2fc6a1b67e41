//! `tiers move` and `tiers pool` as text.

use std::fmt::Write;

use crate::move_plan::{FileOutcome, MoveReport, PoolReport, PoolState, Reason, Skip};

/// `tierctl tiers move`: a summary line, then one line per selected file.
pub fn moved(report: &MoveReport) -> String {
    let mut out = String::new();
    let t = &report.totals;
    if report.dry_run {
        let bytes: u64 = report.files.iter().map(|(s, _)| s.file.size).sum();
        let _ = writeln!(
            out,
            "pool {}: would move {} files ({}) (--dry-run: nothing moved)",
            report.pool,
            report.files.len(),
            size(bytes)
        );
    } else {
        let _ = writeln!(
            out,
            "pool {}: moved {} files ({}) in {:.1} s, skipped {}, failed {}, settled {} left by a killed run",
            report.pool,
            t.moved,
            size(t.bytes),
            t.seconds,
            t.skipped,
            t.failed,
            t.recovered
        );
    }
    for (selected, outcome) in &report.files {
        let what = match outcome {
            FileOutcome::Moved { .. } => "moved".to_owned(),
            FileOutcome::Planned if report.dry_run => "would move".to_owned(),
            FileOutcome::Planned => "not reached".to_owned(),
            FileOutcome::Skipped(skip) => format!("skipped ({})", skip_text(skip)),
            FileOutcome::Failed { error } => format!("FAILED ({error})"),
        };
        let _ = writeln!(
            out,
            "  {what}  {}  {} -> {}  {}: {}",
            selected.file.rel,
            selected.file.tier,
            selected.to,
            selected.rule,
            reason_text(&selected.reason)
        );
    }
    for held in &report.held {
        let _ = writeln!(
            out,
            "  held  {}  {}: no room for {} on the colder branch",
            held.rel,
            held.rule,
            size(held.needs)
        );
    }
    out
}

/// Why a file was selected, for people.
pub fn reason_text(reason: &Reason) -> String {
    match reason {
        Reason::Age { clock, age, limit } => format!(
            "{} {} old, older than {}",
            clock.name(),
            days(*age),
            days(*limit)
        ),
        Reason::Watermark {
            used_permille,
            above,
            until,
        } => format!(
            "branch {}.{} % used (above {above} % moves the oldest first until {until} %)",
            used_permille / 10,
            used_permille % 10
        ),
        Reason::Matched => "matches the rule".to_owned(),
    }
}

/// Why a file was skipped, for people.
pub fn skip_text(skip: &Skip) -> String {
    match skip {
        Skip::OpenForWriting { pid, command } => {
            format!("open for writing by pid {pid} `{command}`; retried next run")
        }
        Skip::Changed => "changed during the move; retried next run".to_owned(),
        Skip::ExistsOnTarget => "the colder branch already has this path".to_owned(),
        Skip::Vanished => "gone before its turn".to_owned(),
        Skip::Hardlinked { links } => {
            format!("{links} hard links: moving one path would split the link; left where it is")
        }
    }
}

fn days(seconds: u64) -> String {
    if seconds >= 86_400 {
        format!("{}d", seconds / 86_400)
    } else {
        format!("{seconds}s")
    }
}

fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `tierctl tiers pool ...`: one line per pool.
pub fn pools(report: &PoolReport) -> String {
    let mut out = String::new();
    for row in &report.rows {
        let branches: Vec<String> = row
            .branches
            .iter()
            .map(|(tier, dir)| format!("{tier}={}", dir.display()))
            .collect();
        let state = match &row.state {
            PoolState::Mounted => "mounted".to_owned(),
            PoolState::NotMounted => "not mounted".to_owned(),
            PoolState::MountedOtherwise { branches } => {
                format!("mounted with other branches: {branches}")
            }
            PoolState::Occupied { fs_type } => format!("`{fs_type}` is mounted there"),
            PoolState::Failed { error, hint } => format!("error: {error}\n  hint: {hint}"),
        };
        let _ = writeln!(
            out,
            "{}  {}  {}  create={}  {state}",
            row.pool,
            row.mount.display(),
            branches.join(":"),
            row.create
        );
    }
    if report.rows.is_empty() {
        out.push_str("no pools in tiers.yaml (`pools:`)\n");
    }
    out
}
