//! Tier usage for `tiers status`: filesystem numbers and per-directory usage in, percent used
//! and alerts against warning and critical thresholds out.
//!
//! Pure: `tierfs` measures, this module decides.

use std::path::PathBuf;

use thiserror::Error;

/// Filesystem numbers of a tier root, from `statvfs` (`f_frsize` units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsNumbers {
    /// `f_blocks * f_frsize`.
    pub size_bytes: u64,
    /// `(f_blocks - f_bfree) * f_frsize`.
    pub used_bytes: u64,
    /// `f_bavail * f_frsize`: what unprivileged users can still write.
    pub available_bytes: u64,
}

/// Why a tier root's filesystem numbers could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FsNumbersError {
    /// `statvfs` of the root failed, on this machine or in a helper on the engine's host.
    #[error("{reason}")]
    Statvfs {
        /// The tier root.
        root: PathBuf,
        /// The system's message.
        reason: String,
    },
    /// The root is not a directory on the engine's host.
    #[error("`{}` is not a directory on the engine's host", root.display())]
    NotADirectory {
        /// The tier root.
        root: PathBuf,
    },
    /// The helper found the root but no real path for it.
    #[error("unresolved")]
    Unresolved {
        /// The tier root.
        root: PathBuf,
    },
    /// The helper did not answer for the root.
    #[error("no answer from the helper")]
    NoAnswer {
        /// The tier root.
        root: PathBuf,
    },
}

/// Usage of one top-level directory of a tier (hardlinked files counted once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirUsage {
    /// The directory name below the root.
    pub name: String,
    /// Allocated bytes (`st_blocks * 512`), as `du` counts.
    pub bytes: u64,
    /// Files, directories and other entries below it, itself included.
    pub entries: u64,
}

/// What was measured about one tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierMeasure {
    /// The tier name.
    pub tier: String,
    /// Its root.
    pub root: PathBuf,
    /// Its kind, if declared.
    pub kind: Option<String>,
    /// The filesystem numbers, or why they could not be read.
    pub fs: Result<FsNumbers, FsNumbersError>,
    /// Per top-level directory usage, largest first; `None` with `--summary`.
    pub dirs: Option<Vec<DirUsage>>,
}

/// Warning and critical thresholds in percent used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// At or above this: warning.
    pub warning: u8,
    /// At or above this: critical.
    pub critical: u8,
}

/// How full a tier is against the thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Alert {
    /// Below the warning threshold.
    Ok,
    /// At or above the warning threshold.
    Warning,
    /// At or above the critical threshold, or not measurable (root missing).
    Critical,
}

impl Alert {
    /// `ok`, `warning`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Alert::Ok => "ok",
            Alert::Warning => "warning",
            Alert::Critical => "critical",
        }
    }

    /// The exit code of `tiers status`: 0 ok, 1 warning, 2 critical.
    pub fn exit_code(self) -> u8 {
        match self {
            Alert::Ok => 0,
            Alert::Warning => 1,
            Alert::Critical => 2,
        }
    }
}

/// One tier assessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierStatus {
    /// What was measured.
    pub measure: TierMeasure,
    /// Percent used as `df` shows it: `used / (used + available)`, rounded up; `None` when
    /// the filesystem could not be read.
    pub percent_used: Option<u8>,
    /// The alert.
    pub alert: Alert,
}

/// All tiers assessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// The thresholds used.
    pub thresholds: Thresholds,
    /// One per tier, in file order.
    pub tiers: Vec<TierStatus>,
    /// The machine whose disks were measured, when an engine was named (`--context`, `-H`);
    /// `None`: this machine.
    pub host: Option<crate::host::Host>,
    /// The tiers whose disk is judged not there (`tier-not-mounted`), on this machine.
    pub not_mounted: Vec<crate::audit::TierCheck>,
}

impl StatusReport {
    /// The worst alert over all tiers (`Ok` when there are none).
    pub fn worst(&self) -> Alert {
        self.tiers
            .iter()
            .map(|t| t.alert)
            .max()
            .unwrap_or(Alert::Ok)
    }
}

/// Why thresholds were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "warning threshold `{warning}` must not exceed critical threshold `{critical}` (both 0 to 100)"
)]
pub struct ThresholdsError {
    /// The warning threshold given.
    pub warning: u8,
    /// The critical threshold given.
    pub critical: u8,
}

impl Thresholds {
    /// Checks `warning <= critical <= 100`.
    pub fn new(warning: u8, critical: u8) -> Result<Thresholds, ThresholdsError> {
        if warning <= critical && critical <= 100 {
            Ok(Thresholds { warning, critical })
        } else {
            Err(ThresholdsError { warning, critical })
        }
    }
}

/// Percent used as `df` computes it (rounded up; 0 for an empty filesystem).
pub fn percent_used(fs: &FsNumbers) -> u8 {
    let total = u128::from(fs.used_bytes) + u128::from(fs.available_bytes);
    if total == 0 {
        return 0;
    }
    let percent = (u128::from(fs.used_bytes) * 100).div_ceil(total);
    u8::try_from(percent.min(100)).unwrap_or(100)
}

/// Assesses every tier against the thresholds.
pub fn assess(measures: Vec<TierMeasure>, thresholds: Thresholds) -> StatusReport {
    let tiers = measures
        .into_iter()
        .map(|measure| {
            let percent = measure.fs.as_ref().ok().map(percent_used);
            let alert = match percent {
                None => Alert::Critical,
                Some(p) if p >= thresholds.critical => Alert::Critical,
                Some(p) if p >= thresholds.warning => Alert::Warning,
                Some(_) => Alert::Ok,
            };
            TierStatus {
                measure,
                percent_used: percent,
                alert,
            }
        })
        .collect();
    StatusReport {
        thresholds,
        tiers,
        host: None,
        not_mounted: Vec::new(),
    }
}

/// `1536` -> `1.5K`, as `du -h`/`df -h` (powers of 1024).
///
/// Kept on purpose instead of indicatif's `HumanBytes` (which prints `58.00 GiB`): users compare
/// these sizes with `df -h` run on the host and inside the container, which print `58G`. The one
/// byte formatter of the project: `tiers status`, `verify` reasons and the tests use it (the
/// progress bars' `{bytes}` are indicatif's own). See "Hand-written helpers" in
/// docs/ARCHITECTURE.md.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "K", "M", "G", "T", "P", "E"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else if value < 10.0 {
        format!("{value:.1}{}", UNITS[unit])
    } else {
        format!("{value:.0}{}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(tier: &str, used: u64, available: u64) -> TierMeasure {
        TierMeasure {
            tier: tier.to_string(),
            root: PathBuf::from(format!("/t/{tier}")),
            kind: None,
            fs: Ok(FsNumbers {
                size_bytes: used + available,
                used_bytes: used,
                available_bytes: available,
            }),
            dirs: None,
        }
    }

    #[test]
    fn percent_rounds_up_like_df() {
        let fs = |used, available| FsNumbers {
            size_bytes: used + available,
            used_bytes: used,
            available_bytes: available,
        };
        assert_eq!(percent_used(&fs(0, 0)), 0);
        assert_eq!(percent_used(&fs(1, 999)), 1);
        assert_eq!(percent_used(&fs(750, 250)), 75);
        assert_eq!(percent_used(&fs(751, 249)), 76);
        assert_eq!(percent_used(&fs(u64::MAX, 0)), 100);
    }

    #[test]
    fn thresholds_give_alerts_and_exit_codes() {
        let thresholds = Thresholds::new(75, 85).unwrap();
        let report = assess(
            vec![
                measure("fast", 74, 26),
                measure("warm", 75, 25),
                measure("cold", 85, 15),
            ],
            thresholds,
        );
        let alerts: Vec<_> = report.tiers.iter().map(|t| t.alert).collect();
        assert_eq!(alerts, vec![Alert::Ok, Alert::Warning, Alert::Critical]);
        assert_eq!(report.worst().exit_code(), 2);
        let calm = assess(vec![measure("fast", 10, 90)], thresholds);
        assert_eq!(calm.worst().exit_code(), 0);
        let warm = assess(vec![measure("fast", 80, 20)], thresholds);
        assert_eq!(warm.worst().exit_code(), 1);
    }

    #[test]
    fn an_unreadable_tier_is_critical() {
        let mut gone = measure("cold", 0, 0);
        gone.fs = Err(FsNumbersError::NotADirectory {
            root: "/cold".into(),
        });
        let report = assess(vec![gone], Thresholds::new(75, 85).unwrap());
        assert_eq!(report.tiers[0].percent_used, None);
        assert_eq!(report.worst(), Alert::Critical);
    }

    #[test]
    fn thresholds_must_be_ordered() {
        assert!(Thresholds::new(90, 80).is_err());
        assert!(Thresholds::new(80, 101).is_err());
        assert_eq!(
            Thresholds::new(90, 80).unwrap_err().to_string(),
            "warning threshold `90` must not exceed critical threshold `80` (both 0 to 100)"
        );
    }

    #[test]
    fn human_bytes_like_df() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1536), "1.5K");
        assert_eq!(human_bytes(1024 * 1024 * 1024 * 1900), "1.9T");
        assert_eq!(human_bytes(58 * 1024 * 1024 * 1024), "58G");
    }
}
