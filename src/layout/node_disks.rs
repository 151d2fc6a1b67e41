//! `tiers status --swarm` / `tiers validate --swarm`: each node's tiers (its
//! `tierctl.tier.<name>` labels) judged from what a helper saw on that node's host: the root is a
//! directory, its marker names this tier, it is a mount point when tiers.yaml says `mount: true`
//! for the node's context, and how full it is (`swarm::Node` says which tiers a node holds). Pure:
//! `app` gathers the facts through each node's context.

use std::path::PathBuf;

use serde::Serialize;

use crate::facts::{Marker, TierPresence};
use crate::usage::{self, Alert, FsNumbers, FsNumbersError, Thresholds};

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskLevel {
    /// Worth knowing.
    Warning,
    /// The tier is not usable as labelled.
    Error,
}

/// One thing wrong with a tier on a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `root-missing`, `marker-missing`, `marker-other-tier`, `marker-unreadable`,
    /// `not-a-mount-point`, `mount-unknown`, `fs-unreadable`.
    pub check: &'static str,
    /// Its level.
    pub level: DiskLevel,
    /// What was seen.
    pub message: String,
}

/// One tier on one node, judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeDisk {
    /// The tier (from the label).
    pub tier: String,
    /// Its root on the node (the label's value).
    pub root: PathBuf,
    /// Whether tiers.yaml says the root must be a mount point (`mount: true` in the node's
    /// context map).
    pub wants_mount: bool,
    /// What was at the root.
    pub presence: TierPresence,
    /// Its filesystem numbers.
    pub fs: Result<FsNumbers, FsNumbersError>,
    /// Percent used, as `df`.
    pub percent_used: Option<u8>,
    /// The fill alert against the thresholds (`Critical` when unreadable).
    pub alert: Alert,
    /// What is wrong (empty: ok).
    pub problems: Vec<Problem>,
}

impl NodeDisk {
    /// The worst problem's level.
    pub fn worst(&self) -> Option<DiskLevel> {
        self.problems.iter().map(|p| p.level).max()
    }

    /// `ok`, or the problems' checks joined by `,`.
    pub fn verdict(&self) -> String {
        if self.problems.is_empty() {
            return "ok".into();
        }
        let checks: Vec<&str> = self.problems.iter().map(|p| p.check).collect();
        checks.join(",")
    }
}

/// Why a node's tiers could not be looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreachable {
    /// What happened.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

/// One node's tiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeDisks {
    /// The node (`hostname (id12)`).
    pub node: String,
    /// Its full id.
    pub id: String,
    /// Its `tierctl.context` label.
    pub context: Option<String>,
    /// The endpoint that context resolved to.
    pub endpoint: Option<String>,
    /// Its tiers, or why they could not be looked at.
    pub outcome: Result<Vec<NodeDisk>, Unreachable>,
}

/// Judges one tier from what the node's helper saw.
pub fn judge(
    (tier, root): (&str, PathBuf),
    wants_mount: bool,
    presence: TierPresence,
    fs: Result<FsNumbers, FsNumbersError>,
    thresholds: Thresholds,
) -> NodeDisk {
    let mut problems = Vec::new();
    let mut add = |check, level, message: String| {
        problems.push(Problem {
            check,
            level,
            message,
        });
    };
    let shown = root.display();
    if presence.root_is_dir {
        match &presence.marker {
            Marker::Present { tier: named, .. } if named == tier => {}
            Marker::Present { tier: named, .. } => add(
                "marker-other-tier",
                DiskLevel::Error,
                format!("the marker at `{shown}` names tier `{named}`, the label says `{tier}`"),
            ),
            Marker::Missing => add(
                "marker-missing",
                DiskLevel::Warning,
                format!(
                    "no identity marker at `{shown}` (`tierctl tiers init` run on that node writes it)"
                ),
            ),
            Marker::Unreadable { message } => add(
                "marker-unreadable",
                DiskLevel::Warning,
                format!("the marker at `{shown}` cannot be read: {message}"),
            ),
        }
        match (wants_mount, presence.mount_point) {
            (true, Some(false)) => add(
                "not-a-mount-point",
                DiskLevel::Error,
                format!(
                    "`{shown}` is not a mount point (tiers.yaml says `mount: true`): its disk is not mounted there"
                ),
            ),
            (true, None) => add(
                "mount-unknown",
                DiskLevel::Warning,
                format!("whether `{shown}` is a mount point could not be told"),
            ),
            _ => {}
        }
        if let Err(e) = &fs {
            add(
                "fs-unreadable",
                DiskLevel::Error,
                format!("the filesystem of `{shown}` cannot be measured: {e}"),
            );
        }
    } else {
        add(
            "root-missing",
            DiskLevel::Error,
            format!("`{shown}` is not a directory on this node"),
        );
    }
    let percent_used = fs.as_ref().ok().map(usage::percent_used);
    let alert = match percent_used {
        None => Alert::Critical,
        Some(p) if p >= thresholds.critical => Alert::Critical,
        Some(p) if p >= thresholds.warning => Alert::Warning,
        Some(_) => Alert::Ok,
    };
    NodeDisk {
        tier: tier.to_owned(),
        root,
        wants_mount,
        presence,
        fs,
        percent_used,
        alert,
        problems,
    }
}

/// The exit status over all nodes: 2 a node unreachable or an error, 1 a warning, else 0; with
/// `alerts` (`tiers status`) the fill alerts count too.
pub fn exit_code(nodes: &[NodeDisks], alerts: bool) -> u8 {
    nodes
        .iter()
        .map(|n| match &n.outcome {
            Err(_) => 2,
            Ok(disks) => disks
                .iter()
                .map(|d| {
                    let problem = match d.worst() {
                        Some(DiskLevel::Error) => 2,
                        Some(DiskLevel::Warning) => 1,
                        None => 0,
                    };
                    let fill = if alerts { d.alert.exit_code() } else { 0 };
                    problem.max(fill)
                })
                .max()
                .unwrap_or(0),
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(dir: bool, marker: Marker, mount: Option<bool>) -> TierPresence {
        TierPresence {
            root_is_dir: dir,
            root_empty: false,
            marker,
            mount_point: mount,
        }
    }

    fn fs(used: u64, free: u64) -> Result<FsNumbers, FsNumbersError> {
        Ok(FsNumbers {
            size_bytes: used + free,
            used_bytes: used,
            available_bytes: free,
        })
    }

    fn marker(tier: &str) -> Marker {
        Marker::Present {
            tier: tier.into(),
            id: "x".into(),
        }
    }

    #[test]
    fn issue24_a_node_s_tier_is_judged_by_its_root_marker_mount_and_fill() {
        let t = Thresholds::new(75, 85).expect("thresholds");
        let root = || ("fast", PathBuf::from("/mnt/nvme"));
        let ok = judge(
            root(),
            true,
            seen(true, marker("fast"), Some(true)),
            fs(1, 9),
            t,
        );
        assert_eq!(ok.verdict(), "ok");
        assert_eq!(ok.alert, Alert::Ok);

        let other = judge(
            root(),
            false,
            seen(true, marker("slow"), Some(false)),
            fs(8, 2),
            t,
        );
        assert_eq!(other.verdict(), "marker-other-tier");
        assert_eq!(other.alert, Alert::Warning);

        let unmounted = judge(
            root(),
            true,
            seen(true, Marker::Missing, Some(false)),
            fs(9, 1),
            t,
        );
        assert_eq!(unmounted.verdict(), "marker-missing,not-a-mount-point");
        assert_eq!(unmounted.alert, Alert::Critical);

        let gone = judge(
            root(),
            false,
            seen(false, Marker::Missing, None),
            Err(FsNumbersError::NotADirectory {
                root: "/mnt/nvme".into(),
            }),
            t,
        );
        assert_eq!(gone.verdict(), "root-missing");

        let node = |outcome| NodeDisks {
            node: "n".into(),
            id: "n".into(),
            context: None,
            endpoint: None,
            outcome,
        };
        let warn = judge(
            root(),
            false,
            seen(true, Marker::Missing, None),
            fs(8, 2),
            t,
        );
        assert_eq!(exit_code(&[node(Ok(vec![ok.clone()]))], true), 0);
        assert_eq!(exit_code(&[node(Ok(vec![warn.clone()]))], false), 1);
        assert_eq!(
            exit_code(&[node(Ok(vec![ok.clone(), unmounted]))], false),
            2
        );
        let full = judge(root(), false, seen(true, marker("fast"), None), fs(9, 1), t);
        assert_eq!(exit_code(&[node(Ok(vec![full.clone()]))], false), 0);
        assert_eq!(exit_code(&[node(Ok(vec![full]))], true), 2);
        let down = Unreachable {
            message: "down".into(),
            hint: None,
        };
        assert_eq!(exit_code(&[node(Ok(vec![ok])), node(Err(down))], false), 2);
    }
}
