//! `tiers nodes` as JSON.

use serde::Serialize;

use super::VERSION;
use crate::report::reports::NodesReport;

/// `tiers nodes`.
#[derive(Serialize)]
pub struct NodesDto<'a> {
    /// Contract version.
    pub version: u32,
    /// The tiers.yaml compared with.
    pub tiers_file: String,
    /// Each node.
    pub nodes: Vec<NodeDto<'a>>,
}

/// One node.
#[derive(Serialize)]
pub struct NodeDto<'a> {
    /// The node id.
    pub node: &'a str,
    /// Its hostname.
    pub hostname: &'a str,
    /// `ready`, `down`, ...
    pub state: &'a str,
    /// `active`, `pause`, `drain`.
    pub availability: crate::swarm::Availability,
    /// Its `tierctl.context` label.
    pub context: Option<&'a str>,
    /// Whether its tier labels say what tiers.yaml says.
    pub agrees: bool,
    /// Each tier.
    pub tiers: Vec<NodeTierDto<'a>>,
    /// The labels `--write` set (`null`: removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<&'a std::collections::BTreeMap<String, Option<String>>>,
}

/// One tier on one node.
#[derive(Serialize)]
pub struct NodeTierDto<'a> {
    /// The tier.
    pub tier: &'a str,
    /// Its root by the node's label.
    pub label: Option<String>,
    /// Its root by tiers.yaml.
    pub wanted: Option<String>,
    /// `ok`, `label-missing`, `label-differs`, `not-in-tiers-yaml`.
    pub verdict: &'static str,
}

/// The DTO.
pub fn nodes(report: &NodesReport) -> NodesDto<'_> {
    NodesDto {
        version: VERSION,
        tiers_file: report.tiers_file.display().to_string(),
        nodes: report
            .nodes
            .iter()
            .map(|v| NodeDto {
                node: &v.node.id,
                hostname: &v.node.hostname,
                state: &v.node.state,
                availability: v.node.availability,
                context: v.context.as_deref(),
                agrees: v.agrees(),
                tiers: v
                    .tiers
                    .iter()
                    .map(|t| NodeTierDto {
                        tier: &t.tier,
                        label: t.labelled.as_ref().map(|p| p.display().to_string()),
                        wanted: t.wanted.as_ref().map(|p| p.display().to_string()),
                        verdict: t.verdict(),
                    })
                    .collect(),
                written: report
                    .written
                    .iter()
                    .find(|(id, _)| *id == v.node.id)
                    .map(|(_, w)| w),
            })
            .collect(),
    }
}

/// `tiers status --swarm` / `tiers validate --swarm`.
#[derive(Serialize)]
pub struct NodeDisksDto<'a> {
    /// Contract version.
    pub version: u32,
    /// `tiers status` or `tiers validate`.
    pub command: &'a str,
    /// The fill thresholds (percent used).
    pub thresholds: ThresholdsDto,
    /// Each node.
    pub nodes: Vec<NodeDisksNodeDto<'a>>,
}

/// Warning and critical percent.
#[derive(Serialize)]
pub struct ThresholdsDto {
    /// Warning at or above.
    pub warning: u8,
    /// Critical at or above.
    pub critical: u8,
}

/// One node.
#[derive(Serialize)]
pub struct NodeDisksNodeDto<'a> {
    /// `hostname (id12)`.
    pub node: &'a str,
    /// The full node id.
    pub id: &'a str,
    /// Its `tierctl.context` label.
    pub context: Option<&'a str>,
    /// The endpoint of that context.
    pub endpoint: Option<&'a str>,
    /// Whether its engine was reached and its tiers looked at.
    pub reachable: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'a str>,
    /// Each tier its labels name.
    pub tiers: Vec<NodeDiskDto<'a>>,
}

/// One tier on one node.
#[derive(Serialize)]
pub struct NodeDiskDto<'a> {
    /// The tier.
    pub tier: &'a str,
    /// Its root (the label's value).
    pub root: String,
    /// Whether the root is a directory.
    pub exists: bool,
    /// The marker.
    pub marker: &'a crate::facts::Marker,
    /// Whether the root is a mount point (`null`: unknown).
    pub mount_point: Option<bool>,
    /// Whether tiers.yaml says `mount: true`.
    pub wants_mount: bool,
    /// Filesystem size, used and free bytes (`null`: unreadable).
    pub size_bytes: Option<u64>,
    /// Used bytes.
    pub used_bytes: Option<u64>,
    /// Free bytes (`f_bavail`).
    pub free_bytes: Option<u64>,
    /// Percent used as `df`.
    pub used_percent: Option<u8>,
    /// `ok`, `warning`, `critical`.
    pub alert: &'static str,
    /// `ok` or the problems' checks joined by `,`.
    pub verdict: String,
    /// What is wrong.
    pub problems: &'a [crate::layout::Problem],
}

/// The DTO.
pub fn disks(report: &crate::report::reports::NodeDisksReport) -> NodeDisksDto<'_> {
    NodeDisksDto {
        version: VERSION,
        command: report.command,
        thresholds: ThresholdsDto {
            warning: report.thresholds.warning,
            critical: report.thresholds.critical,
        },
        nodes: report
            .nodes
            .iter()
            .map(|n| {
                let error = n.outcome.as_ref().err();
                NodeDisksNodeDto {
                    node: &n.node,
                    id: &n.id,
                    context: n.context.as_deref(),
                    endpoint: n.endpoint.as_deref(),
                    reachable: n.outcome.is_ok(),
                    error: error.map(|e| e.message.as_str()),
                    hint: error.and_then(|e| e.hint.as_deref()),
                    tiers: n
                        .outcome
                        .as_ref()
                        .map(|disks| disks.iter().map(disk).collect())
                        .unwrap_or_default(),
                }
            })
            .collect(),
    }
}

fn disk(d: &crate::layout::NodeDisk) -> NodeDiskDto<'_> {
    let fs = d.fs.as_ref().ok();
    NodeDiskDto {
        tier: &d.tier,
        root: d.root.display().to_string(),
        exists: d.presence.root_is_dir,
        marker: &d.presence.marker,
        mount_point: d.presence.mount_point,
        wants_mount: d.wants_mount,
        size_bytes: fs.map(|f| f.size_bytes),
        used_bytes: fs.map(|f| f.used_bytes),
        free_bytes: fs.map(|f| f.available_bytes),
        used_percent: d.percent_used,
        alert: d.alert.as_str(),
        verdict: d.verdict(),
        problems: &d.problems,
    }
}
