//! `mounts` for people: one aligned row per mount (origin, service, type, source, target, tier
//! now, placement), then a count line.

use std::fmt::Write as _;

use tabled::Tabled;

use super::plural;
use crate::compose::model::MountType;
use crate::mounts::MountView;
use crate::report::PathStyle;
use crate::report::reports::MountsReport;

#[derive(Tabled)]
struct Row {
    #[tabled(rename = "ORIGIN")]
    origin: String,
    #[tabled(rename = "SERVICE")]
    service: String,
    #[tabled(rename = "TYPE")]
    kind: &'static str,
    #[tabled(rename = "SOURCE")]
    source: String,
    #[tabled(rename = "TARGET")]
    target: String,
    #[tabled(rename = "TIER")]
    tier: String,
    #[tabled(rename = "PLACEMENT")]
    placement: String,
}

/// A source as one cell: the host path (and its real path), or the volume and its engine name.
/// Control characters are escaped so that one mount stays on one line.
fn source_text(view: &MountView) -> String {
    let text = match (view.kind, &view.host_path, &view.volume_name) {
        (MountType::Bind, Some(host), _) => match &view.real_path {
            Some(real) => format!("{} -> {}", host.display(), real.display()),
            None => host.display().to_string(),
        },
        (MountType::Volume, _, Some(name)) => {
            let key = view.source.clone().unwrap_or_default();
            if *name == key {
                key
            } else {
                format!("{key} ({name})")
            }
        }
        (MountType::Volume, _, None) => view
            .source
            .clone()
            .unwrap_or_else(|| "(anonymous)".to_owned()),
        _ => view.source.clone().unwrap_or_else(|| "-".to_owned()),
    };
    text.escape_debug().to_string()
}

fn row(view: &MountView, paths: &PathStyle) -> Row {
    Row {
        origin: super::place_column(paths, &view.origin),
        service: view.service.clone(),
        kind: view.kind.as_str(),
        source: source_text(view),
        target: format!(
            "{}{}",
            view.target.escape_debug(),
            if view.read_only { " (ro)" } else { "" }
        ),
        tier: view.tier.clone().unwrap_or_else(|| "-".into()),
        placement: view.placement.as_ref().map_or_else(
            || "-".into(),
            |p| {
                format!(
                    "{}: {}",
                    p.tier,
                    p.path.display().to_string().escape_debug()
                )
            },
        ),
    }
}

/// The mounts as an aligned table, then a count line.
pub fn mounts(report: &MountsReport, paths: &PathStyle) -> String {
    let mut out = super::host_header(report.host.as_ref());
    if !report.mounts.is_empty() {
        let rows: Vec<Row> = report.mounts.iter().map(|v| row(v, paths)).collect();
        super::write_columns(&mut out, rows);
    }
    let n = report.mounts.len();
    let _ = writeln!(out, "project {}: {n} mount{}", report.project, plural(n));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_mount_with_tier_and_placement() {
        let report = MountsReport {
            project: "app".into(),
            mounts: crate::mounts::tests::sample(),
            host: None,
        };
        let text = mounts(&report, &PathStyle { cwd: "/p".into() });
        let lines: Vec<&str> = text.lines().collect();
        let words = |line: &str| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(lines.len(), 7, "{text}");
        assert_eq!(
            words(lines[1]),
            [
                "compose.yaml:6:9",
                "db",
                "volume",
                "pg",
                "(app_pg)",
                "/var/lib/postgresql/data",
                "-",
                "fast:",
                "/t/fast/app/pg"
            ],
            "{text}"
        );
        assert_eq!(
            words(lines[2])[3..],
            [
                "/photos",
                "->",
                "/t/warm/photos",
                "/photos",
                "(ro)",
                "warm",
                "fast:",
                "/t/fast/app/photos"
            ],
            "{text}"
        );
        assert_eq!(
            words(lines[3])[3..],
            ["/etc/localtime", "/etc/localtime", "(ro)", "-", "-"],
            "{text}"
        );
        assert_eq!(
            words(lines[4])[1..],
            ["db", "tmpfs", "-", "/tmp", "-", "-"],
            "{text}"
        );
        assert_eq!(lines[6], "project app: 5 mounts");
    }

    #[test]
    fn another_machine_is_named_first() {
        let report = MountsReport {
            project: "app".into(),
            mounts: crate::mounts::tests::sample(),
            host: Some(crate::host::Host {
                context: "nas".into(),
                endpoint: "ssh://me@nas".into(),
                remote: true,
                name: Some("nas".into()),
                rule: crate::host::Rule::ContextMark,
            }),
        };
        let text = mounts(&report, &PathStyle { cwd: "/p".into() });
        let first = text.lines().next().unwrap_or_default();
        assert!(first.starts_with("host: "), "{text}");
        assert!(first.contains("remote: paths are that machine's"), "{text}");
        assert_eq!(text.lines().count(), 8, "{text}");
    }
}
