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
