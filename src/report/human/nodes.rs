//! `tiers nodes`: each swarm node, its context and its tier labels against tiers.yaml.

use std::fmt::Write as _;

use crate::report::reports::NodesReport;

#[derive(tabled::Tabled)]
struct Row {
    #[tabled(rename = "NODE")]
    node: String,
    #[tabled(rename = "STATE")]
    state: String,
    #[tabled(rename = "CONTEXT")]
    context: String,
    #[tabled(rename = "TIER")]
    tier: String,
    #[tabled(rename = "LABEL")]
    labelled: String,
    #[tabled(rename = "TIERS.YAML")]
    wanted: String,
    #[tabled(rename = "VERDICT")]
    verdict: String,
}

/// The nodes as a table, then what `--write` changed.
pub fn nodes(report: &NodesReport) -> String {
    let mut rows = Vec::new();
    for view in &report.nodes {
        let node = view.node.display();
        let state = format!(
            "{}/{}",
            view.node.state,
            serde_plain(&view.node.availability)
        );
        let context = view.context.clone().unwrap_or_else(|| "-".into());
        let show = |p: &Option<std::path::PathBuf>| {
            p.as_ref()
                .map_or_else(|| "-".to_owned(), |p| p.display().to_string())
        };
        if view.context.is_none() || view.tiers.is_empty() {
            let verdict = if view.context.is_none() {
                "no-context (label tierctl.context)"
            } else {
                "no tiers"
            };
            rows.push(Row {
                node,
                state,
                context,
                tier: "-".into(),
                labelled: "-".into(),
                wanted: "-".into(),
                verdict: verdict.into(),
            });
            continue;
        }
        for tier in &view.tiers {
            rows.push(Row {
                node: node.clone(),
                state: state.clone(),
                context: context.clone(),
                tier: tier.tier.clone(),
                labelled: show(&tier.labelled),
                wanted: show(&tier.wanted),
                verdict: tier.verdict().into(),
            });
        }
    }
    let mut out = String::new();
    super::write_columns(&mut out, rows);
    for (node, changes) in &report.written {
        for (key, value) in changes {
            let _ = match value {
                Some(v) => writeln!(out, "labelled {node}: {key}={v}"),
                None => writeln!(out, "unlabelled {node}: {key}"),
            };
        }
    }
    let off = report.nodes.iter().filter(|v| !v.agrees()).count();
    let _ = writeln!(
        out,
        "{} node(s), {off} whose tier labels do not say what {} says",
        report.nodes.len(),
        report.tiers_file.display()
    );
    out
}

fn serde_plain(availability: &crate::swarm::Availability) -> &'static str {
    match availability {
        crate::swarm::Availability::Active => "active",
        crate::swarm::Availability::Pause => "pause",
        crate::swarm::Availability::Drain => "drain",
    }
}
