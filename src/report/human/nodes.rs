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

#[derive(tabled::Tabled)]
struct DiskRow {
    #[tabled(rename = "TIER")]
    tier: String,
    #[tabled(rename = "ROOT")]
    root: String,
    #[tabled(rename = "MARKER")]
    marker: String,
    #[tabled(rename = "MOUNT")]
    mount: String,
    #[tabled(rename = "SIZE")]
    size: String,
    #[tabled(rename = "FREE")]
    free: String,
    #[tabled(rename = "USE%")]
    percent: String,
    #[tabled(rename = "VERDICT")]
    verdict: String,
}

/// `tiers status --swarm` / `tiers validate --swarm`: a block per node, then a summary.
pub fn disks(report: &crate::report::reports::NodeDisksReport) -> String {
    use crate::facts::Marker;
    use crate::usage::human_bytes;
    let mut out = String::new();
    let mut reached = 0;
    for node in &report.nodes {
        let via = match (&node.context, &node.endpoint) {
            (Some(c), Some(e)) => format!(", context {c} ({e})"),
            (Some(c), None) => format!(", context {c}"),
            _ => String::new(),
        };
        let disks = match &node.outcome {
            Ok(disks) => disks,
            Err(e) => {
                let _ = writeln!(out, "== node {}{via}: UNREACHABLE", node.node);
                let _ = writeln!(out, "error: {}", e.message);
                if let Some(hint) = &e.hint {
                    let _ = writeln!(out, "hint: {hint}");
                }
                out.push('\n');
                continue;
            }
        };
        reached += 1;
        let worst = disks
            .iter()
            .filter_map(crate::layout::NodeDisk::worst)
            .max();
        let verdict = match worst {
            None => "ok",
            Some(crate::layout::DiskLevel::Warning) => "warnings",
            Some(crate::layout::DiskLevel::Error) => "ERRORS",
        };
        let _ = writeln!(out, "== node {}{via}: {verdict}", node.node);
        if disks.is_empty() {
            let _ = writeln!(
                out,
                "no tier labels (`tierctl tiers nodes --write` sets them)\n"
            );
            continue;
        }
        let rows = disks.iter().map(|d| {
            let marker = match &d.presence.marker {
                Marker::Present { tier, .. } => tier.clone(),
                Marker::Missing => "-".into(),
                Marker::Unreadable { .. } => "unreadable".into(),
            };
            let mount = match (d.presence.mount_point, d.wants_mount) {
                (Some(true), _) => "yes",
                (Some(false), true) => "NO (mount: true)",
                (Some(false), false) => "no",
                (None, _) => "?",
            };
            let fs = d.fs.as_ref().ok();
            let percent = d.percent_used.map_or_else(
                || "-".to_owned(),
                |p| match d.alert {
                    crate::usage::Alert::Ok => format!("{p}%"),
                    alert => format!("{p}% {}", alert.as_str()),
                },
            );
            DiskRow {
                tier: d.tier.clone(),
                root: d.root.display().to_string(),
                marker,
                mount: mount.into(),
                size: fs.map_or_else(|| "-".into(), |f| human_bytes(f.size_bytes)),
                free: fs.map_or_else(|| "-".into(), |f| human_bytes(f.available_bytes)),
                percent,
                verdict: d.verdict(),
            }
        });
        super::write_columns(&mut out, rows.collect::<Vec<_>>());
        for problem in disks.iter().flat_map(|d| &d.problems) {
            let level = match problem.level {
                crate::layout::DiskLevel::Warning => "warning",
                crate::layout::DiskLevel::Error => "error",
            };
            let _ = writeln!(out, "{level}: {}: {}", problem.check, problem.message);
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} node(s): {reached} checked, {} unreachable (thresholds: warning {}%, critical {}%)",
        report.nodes.len(),
        report.nodes.len() - reached,
        report.thresholds.warning,
        report.thresholds.critical
    );
    out
}
