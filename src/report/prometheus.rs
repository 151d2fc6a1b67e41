//! Prometheus textfile output for node_exporter's textfile collector
//! (`tierctl tiers status --format prometheus > /var/lib/node_exporter/tierctl.prom`); only
//! `tiers status`, `verify` and `migrate --check` have this form.

use std::fmt::Write as _;

use crate::report::Report;
use crate::report::reports::{CheckReport, FleetReport, MountResult, VerifyReport};
use crate::usage::StatusReport;
use crate::verify::{FsView, MountObservation};

/// The commands with a Prometheus form: the up-front refusal and [`render`] agree on them.
pub const COMMANDS: [&str; 4] = ["tiers status", "verify", "migrate --check", "tiers move"];

/// Renders `report`; `None` when it has no Prometheus form.
pub fn render(report: &Report) -> Option<String> {
    match report {
        Report::TiersStatus(status) => Some(tiers_status(status)),
        Report::Verify(report) => Some(verify(report)),
        Report::Fleet(fleet) => Some(verify_fleet(fleet)),
        Report::Check(report) => Some(check(report)),
        Report::TiersMove(report) => Some(tiers_move(report)),
        Report::NodeDisks(report) if report.command == "tiers status" => Some(node_disks(report)),
        _ => None,
    }
}

/// Renders `tiers status` as Prometheus text exposition format.
pub fn tiers_status(status: &StatusReport) -> String {
    let mut out = Gauges::default();
    tier_gauges(&mut out, status);
    dir_gauges(&mut out, status);
    threshold_gauges(&mut out, status);
    out.0
}

/// Each tier's filesystem sizes, percent used and alert level.
fn tier_gauges(out: &mut Gauges, status: &StatusReport) {
    let tier_label = |tier: &str, root: &std::path::Path| {
        format!(
            "tier=\"{}\",root=\"{}\"",
            escape(tier),
            escape(&root.display().to_string())
        )
    };
    let readable: Vec<_> = status
        .tiers
        .iter()
        .filter_map(|t| {
            let fs = t.measure.fs.as_ref().ok()?;
            Some((tier_label(&t.measure.tier, &t.measure.root), fs, t))
        })
        .collect();
    out.gauge(
        "tierctl_tier_size_bytes",
        "Size of the tier's filesystem (f_blocks * f_frsize).",
        readable
            .iter()
            .map(|(l, fs, _)| (l.clone(), fs.size_bytes))
            .collect(),
    );
    out.gauge(
        "tierctl_tier_used_bytes",
        "Used bytes of the tier's filesystem ((f_blocks - f_bfree) * f_frsize).",
        readable
            .iter()
            .map(|(l, fs, _)| (l.clone(), fs.used_bytes))
            .collect(),
    );
    out.gauge(
        "tierctl_tier_free_bytes",
        "Bytes available to unprivileged users (f_bavail * f_frsize).",
        readable
            .iter()
            .map(|(l, fs, _)| (l.clone(), fs.available_bytes))
            .collect(),
    );
    out.gauge(
        "tierctl_tier_used_percent",
        "Percent used as df shows it.",
        readable
            .iter()
            .filter_map(|(l, _, t)| Some((l.clone(), u64::from(t.percent_used?))))
            .collect(),
    );
    out.gauge(
        "tierctl_tier_alert",
        "0 ok, 1 warning, 2 critical (at or above the threshold, or the root is not readable).",
        status
            .tiers
            .iter()
            .map(|t| {
                (
                    tier_label(&t.measure.tier, &t.measure.root),
                    u64::from(t.alert.exit_code()),
                )
            })
            .collect(),
    );
}

/// The thresholds the alert levels were decided by.
fn threshold_gauges(out: &mut Gauges, status: &StatusReport) {
    out.gauge(
        "tierctl_threshold_percent",
        "The warning and critical thresholds used.",
        vec![
            (
                "level=\"warning\"".to_string(),
                u64::from(status.thresholds.warning),
            ),
            (
                "level=\"critical\"".to_string(),
                u64::from(status.thresholds.critical),
            ),
        ],
    );
}

/// The top-level directories' sizes and entry counts (none with `--summary`).
fn dir_gauges(out: &mut Gauges, status: &StatusReport) {
    let dirs: Vec<_> = status
        .tiers
        .iter()
        .flat_map(|t| {
            t.measure.dirs.iter().flatten().map(move |d| {
                (
                    format!(
                        "tier=\"{}\",dir=\"{}\"",
                        escape(&t.measure.tier),
                        escape(&d.name)
                    ),
                    d,
                )
            })
        })
        .collect();
    if !dirs.is_empty() {
        out.gauge(
            "tierctl_dir_bytes",
            "Allocated bytes below a top-level directory of the tier (hardlinks counted once).",
            dirs.iter().map(|(l, d)| (l.clone(), d.bytes)).collect(),
        );
        out.gauge(
            "tierctl_dir_entries",
            "Entries below a top-level directory of the tier.",
            dirs.iter().map(|(l, d)| (l.clone(), d.entries)).collect(),
        );
    }
}

/// Renders `verify`: one `ok` and one verdict sample per mount, and each side's sizes.
pub fn verify(report: &VerifyReport) -> String {
    let mut out = Gauges::default();
    run_gauges(report, &mut out);
    verify_gauges(&mut out, &[(None, report)]);
    out.0
}

/// Renders `migrate --check`: whether it was clean, when it ran, and per copy the paths that
/// differ (and how many were silent: content changed, size and mtime as kept), the files and
/// bytes read, whether it was checked.
pub fn check(report: &CheckReport) -> String {
    let mut out = Gauges::default();
    let journal = format!(
        "journal=\"{}\"",
        escape(&report.journal.display().to_string())
    );
    out.gauge(
        "tierctl_check_success",
        "1 when every copy of the migration was checked and none differs from its kept manifest, else 0.",
        vec![(journal.clone(), u64::from(report.clean()))],
    );
    out.gauge(
        "tierctl_check_timestamp_seconds",
        "When migrate --check ran, in seconds since the Unix epoch.",
        vec![(journal, report.checked_at)],
    );
    let copy = |c: &crate::report::reports::CopyCheck| {
        format!(
            "copy=\"{}\",source=\"{}\",target=\"{}\"",
            c.copy,
            escape(&c.source),
            escape(&c.target.display().to_string())
        )
    };
    let per_copy = |value: &dyn Fn(&crate::report::reports::CopyCheck) -> u64| {
        report.copies.iter().map(|c| (copy(c), value(c))).collect()
    };
    out.gauge(
        "tierctl_check_copy_checked",
        "1 when the copy was read and compared, 0 when its journal kept no manifest of it.",
        per_copy(&|c| u64::from(c.unchecked.is_none())),
    );
    out.gauge(
        "tierctl_check_differences",
        "Paths of the copy that differ from the manifest kept when it verified.",
        per_copy(&|c| c.differences.len() as u64),
    );
    out.gauge(
        "tierctl_check_silent_differences",
        "Files whose content changed while size and mtime are as kept (not written through the filesystem).",
        per_copy(&|c| c.differences.iter().filter(|d| d.silent).count() as u64),
    );
    out.gauge(
        "tierctl_check_files_hashed",
        "Files whose content was read (all, or the --subset).",
        per_copy(&|c| c.files_hashed as u64),
    );
    out.gauge(
        "tierctl_check_bytes_hashed",
        "Content bytes read.",
        per_copy(&|c| c.bytes_hashed),
    );
    out.0
}

/// Renders a fleet check: `tierctl_host_up` per host, then [`verify`]'s samples of every
/// checked engine with a `host` label.
pub fn verify_fleet(fleet: &FleetReport) -> String {
    let mut out = Gauges::default();
    out.gauge(
        "tierctl_host_up",
        "1 when the engine of this host (docker context) was checked, 0 when it could not be reached.",
        fleet
            .hosts
            .iter()
            .map(|h| {
                (
                    host_label(&h.host, h.node.as_deref())
                        .trim_end_matches(',')
                        .to_owned(),
                    u64::from(h.outcome.is_ok()),
                )
            })
            .collect(),
    );
    let reports: Vec<(Option<String>, &VerifyReport)> = fleet
        .hosts
        .iter()
        .filter_map(|h| {
            let r = h.outcome.as_ref().ok()?;
            Some((Some(host_label(&h.host, h.node.as_deref())), r))
        })
        .collect();
    verify_gauges(&mut out, &reports);
    out.0
}

/// `host="…",` and, for a swarm node, `node="…",`: the labels a fleet's samples start with.
fn host_label(host: &str, node: Option<&str>) -> String {
    let node = node
        .map(|n| format!("node=\"{}\",", escape(n)))
        .unwrap_or_default();
    format!("host=\"{}\",{node}", escape(host))
}

/// The mount samples of the reports, each labelled with its `host` (and `node`) when given.
fn verify_gauges(out: &mut Gauges, reports: &[(Option<String>, &VerifyReport)]) {
    let samples = mount_samples(reports);
    verdict_gauges(out, &samples);
    size_gauges(out, &samples);
}

/// Every mount of the reports with its labels (`host`, when given, first).
fn mount_samples<'a>(
    reports: &[(Option<String>, &'a VerifyReport)],
) -> Vec<(String, &'a MountResult)> {
    reports
        .iter()
        .flat_map(|(host, report)| report.containers.iter().map(move |c| (host, c)))
        .flat_map(|(host, c)| {
            c.mounts.iter().map(move |m| {
                let host = host.clone().unwrap_or_default();
                let labels = format!(
                    "{host}project=\"{}\",service=\"{}\",container=\"{}\",target=\"{}\"",
                    escape(c.project.as_deref().unwrap_or("")),
                    escape(c.service.as_deref().unwrap_or(&c.name)),
                    escape(&c.name),
                    escape(&m.observed.target)
                );
                (labels, m)
            })
        })
        .collect()
}

/// Whether each mount is ok, and its verdict as a label.
fn verdict_gauges(out: &mut Gauges, samples: &[(String, &MountResult)]) {
    out.gauge(
        "tierctl_mount_ok",
        "1 when the container sees the host tier at this mount (verdict ok), else 0.",
        samples
            .iter()
            .map(|(l, m)| {
                (
                    l.clone(),
                    u64::from(m.check.verdict == crate::verify::Verdict::Ok),
                )
            })
            .collect(),
    );
    out.gauge(
        "tierctl_mount_verdict",
        "The verdict of this mount (always 1; the verdict is a label).",
        samples
            .iter()
            .map(|(l, m)| (format!("{l},verdict=\"{}\"", m.check.verdict.id()), 1))
            .collect(),
    );
}

/// Each side's (host, container) filesystem size, used and available bytes at each mount.
fn size_gauges(out: &mut Gauges, samples: &[(String, &MountResult)]) {
    let sizes = |side: fn(&MountObservation) -> Option<&FsView>,
                 field: fn(&FsView) -> Option<u64>| {
        samples
            .iter()
            .filter_map(|(l, m)| Some((l.clone(), field(side(&m.observed)?)?)))
            .collect::<Vec<_>>()
    };
    fn host(o: &MountObservation) -> Option<&FsView> {
        o.host.as_ref().and_then(|h| h.fs.as_ref())
    }
    fn container(o: &MountObservation) -> Option<&FsView> {
        o.container.as_ref()
    }
    for (side_name, side) in [
        ("host", host as fn(&MountObservation) -> Option<&FsView>),
        ("container", container),
    ] {
        for (what, field, help) in [
            (
                "size",
                (|f: &FsView| f.size_bytes) as fn(&FsView) -> Option<u64>,
                "f_blocks * f_frsize",
            ),
            (
                "used",
                |f: &FsView| f.used_bytes,
                "(f_blocks - f_bfree) * f_frsize",
            ),
            (
                "available",
                |f: &FsView| f.available_bytes,
                "f_bavail * f_frsize",
            ),
        ] {
            out.gauge(
                &format!("tierctl_mount_{side_name}_{what}_bytes"),
                &format!("The filesystem as the {side_name} sees it at this mount: {help}."),
                sizes(side, field),
            );
        }
    }
}

/// Whether the run succeeded, when it ran, and which services run: written also when the
/// stack is down, so a textfile collector never keeps an old, all-ok file.
fn run_gauges(report: &VerifyReport, out: &mut Gauges) {
    let project = escape(report.project.as_deref().unwrap_or(""));
    out.gauge(
        "tierctl_verify_success",
        "1 when every selected service runs and every mount is ok, else 0.",
        vec![(format!("project=\"{project}\""), u64::from(report.all_ok()))],
    );
    let tiers: Vec<(String, u64)> = report
        .tiers
        .iter()
        .map(|t| {
            let labels = format!("project=\"{project}\",tier=\"{}\"", escape(&t.tier));
            (labels, u64::from(t.absent.is_none()))
        })
        .collect();
    if !tiers.is_empty() {
        out.gauge(
            "tierctl_verify_tier_mounted",
            "1 when the disk of this tier (a checked bind lies on it) is there, 0 for tier-not-mounted.",
            tiers,
        );
    }
    out.gauge(
        "tierctl_verify_timestamp_seconds",
        "When verify ran, in seconds since the Unix epoch.",
        vec![(format!("project=\"{project}\""), report.checked_at)],
    );
    out.gauge(
        "tierctl_container_running",
        "1 when a container of this compose service runs, else 0.",
        report
            .services
            .iter()
            .map(|(service, running)| {
                (
                    format!("project=\"{project}\",service=\"{}\"", escape(service)),
                    u64::from(*running),
                )
            })
            .collect(),
    );
}

/// `tiers status --swarm`: `tierctl_node_up` per node, then each node's tiers labelled `node`,
/// `context`, `tier` and `root`.
pub fn node_disks(report: &crate::report::reports::NodeDisksReport) -> String {
    let mut out = Gauges::default();
    let node_label = |n: &crate::layout::NodeDisks| {
        format!(
            "node=\"{}\",context=\"{}\"",
            escape(&n.node),
            escape(n.context.as_deref().unwrap_or(""))
        )
    };
    out.gauge(
        "tierctl_node_up",
        "1 when the swarm node's engine was reached through its context and its tiers looked at.",
        report
            .nodes
            .iter()
            .map(|n| (node_label(n), u64::from(n.outcome.is_ok())))
            .collect(),
    );
    let disks: Vec<(String, &crate::layout::NodeDisk)> = report
        .nodes
        .iter()
        .filter_map(|n| Some((node_label(n), n.outcome.as_ref().ok()?)))
        .flat_map(|(label, disks)| {
            disks.iter().map(move |d| {
                (
                    format!(
                        "{label},tier=\"{}\",root=\"{}\"",
                        escape(&d.tier),
                        escape(&d.root.display().to_string())
                    ),
                    d,
                )
            })
        })
        .collect();
    let numbers = |pick: fn(&crate::usage::FsNumbers) -> u64| {
        disks
            .iter()
            .filter_map(|(l, d)| Some((l.clone(), pick(d.fs.as_ref().ok()?))))
            .collect::<Vec<_>>()
    };
    out.gauge(
        "tierctl_tier_size_bytes",
        "Size of the tier's filesystem (f_blocks * f_frsize).",
        numbers(|f| f.size_bytes),
    );
    out.gauge(
        "tierctl_tier_used_bytes",
        "Used bytes of the tier's filesystem ((f_blocks - f_bfree) * f_frsize).",
        numbers(|f| f.used_bytes),
    );
    out.gauge(
        "tierctl_tier_free_bytes",
        "Bytes unprivileged users can still write (f_bavail * f_frsize).",
        numbers(|f| f.available_bytes),
    );
    out.gauge(
        "tierctl_tier_used_percent",
        "Percent used as df shows it.",
        disks
            .iter()
            .filter_map(|(l, d)| Some((l.clone(), u64::from(d.percent_used?))))
            .collect(),
    );
    out.gauge(
        "tierctl_tier_alert",
        "0 ok, 1 warning, 2 critical (at or above the thresholds, or not measurable).",
        disks
            .iter()
            .map(|(l, d)| (l.clone(), u64::from(d.alert.exit_code())))
            .collect(),
    );
    out.gauge(
        "tierctl_tier_ok",
        "1 when the node's tier root exists, carries its own marker and is mounted as tiers.yaml says.",
        disks
            .iter()
            .map(|(l, d)| (l.clone(), u64::from(d.worst().is_none())))
            .collect(),
    );
    out.0
}

/// Gauges in the text exposition format.
#[derive(Default)]
struct Gauges(String);

impl Gauges {
    /// One gauge: its help and type lines, then a sample per label set.
    fn gauge(&mut self, name: &str, help: &str, samples: Vec<(String, u64)>) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(self.0, "{name}{{{labels}}} {value}");
        }
    }
}

/// Renders `tiers move` (one run of a pool's mover) for node_exporter's textfile collector.
pub fn tiers_move(report: &crate::move_plan::MoveReport) -> String {
    let mut out = Gauges::default();
    let label = format!("pool=\"{}\"", escape(&report.pool));
    let t = &report.totals;
    let rows: [(&str, &str, u64); 7] = [
        (
            "tierctl_mover_files_moved",
            "Files moved (verified on the colder branch) by the last run.",
            t.moved,
        ),
        (
            "tierctl_mover_bytes_moved",
            "Bytes moved by the last run.",
            t.bytes,
        ),
        (
            "tierctl_mover_files_skipped",
            "Files skipped (open for writing, changed) by the last run; retried next run.",
            t.skipped,
        ),
        (
            "tierctl_mover_files_failed",
            "Files the last run failed to move (kept where they were).",
            t.failed,
        ),
        (
            "tierctl_mover_files_held",
            "Files held back for want of room on the colder branch.",
            report.held.len() as u64,
        ),
        (
            "tierctl_mover_files_recovered",
            "Files a killed run left that the last run settled.",
            t.recovered,
        ),
        (
            "tierctl_mover_run_milliseconds",
            "Duration of the last run.",
            (t.seconds * 1000.0) as u64,
        ),
    ];
    for (name, help, value) in rows {
        out.gauge(name, help, vec![(label.clone(), value)]);
    }
    out.0
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::report::reports::samples;
    use crate::usage::{DirUsage, FsNumbers, Thresholds, TierMeasure, assess};

    #[test]
    fn a_check_has_its_success_time_and_per_copy_differences() {
        use crate::report::reports::{CopyCheck, DifferenceKind, PathDifference};
        let report = CheckReport {
            journal: "/srv/app/.tierctl/journal-1.jsonl".into(),
            subset: None,
            checked_at: 1_700_000_000,
            copies: vec![CopyCheck {
                copy: 0,
                source: "volume `app_db`".into(),
                target: "/tiers/fast/app/db".into(),
                read: "on the host".into(),
                entries: 3,
                files: 2,
                files_hashed: 2,
                bytes_hashed: 4096,
                unchecked: None,
                differences: vec![PathDifference {
                    path: "a".into(),
                    kind: DifferenceKind::Changed,
                    fields: vec![],
                    silent: true,
                }],
            }],
        };
        let text = check(&report);
        let copy = r#"copy="0",source="volume `app_db`",target="/tiers/fast/app/db""#;
        for line in [
            r#"tierctl_check_success{journal="/srv/app/.tierctl/journal-1.jsonl"} 0"#.to_owned(),
            r#"tierctl_check_timestamp_seconds{journal="/srv/app/.tierctl/journal-1.jsonl"} 1700000000"#.to_owned(),
            format!("tierctl_check_copy_checked{{{copy}}} 1"),
            format!("tierctl_check_differences{{{copy}}} 1"),
            format!("tierctl_check_silent_differences{{{copy}}} 1"),
            format!("tierctl_check_files_hashed{{{copy}}} 2"),
            format!("tierctl_check_bytes_hashed{{{copy}}} 4096"),
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        assert!(COMMANDS.contains(&Report::Check(&report).command()));
    }

    #[test]
    fn a_fleet_labels_each_sample_with_its_host() {
        let text = verify_fleet(&samples::fleet());
        assert!(
            text.contains("tierctl_host_up{host=\"default\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("tierctl_host_up{host=\"nas\"} 0\n"), "{text}");
        let samples: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("tierctl_mount_ok{"))
            .collect();
        assert!(!samples.is_empty());
        assert!(
            samples
                .iter()
                .all(|l| l.starts_with("tierctl_mount_ok{host=\"default\","))
        );
        // one engine alone: no host label
        assert!(!verify(&samples::verify()).contains("host=\""));
    }

    #[test]
    fn renders_gauges_with_escaped_labels() {
        let status = assess(
            vec![
                TierMeasure {
                    tier: "fast".into(),
                    root: PathBuf::from("/Volumes/fast \"store\""),
                    kind: Some("nvme".into()),
                    fs: Ok(FsNumbers {
                        size_bytes: 1000,
                        used_bytes: 800,
                        available_bytes: 200,
                    }),
                    dirs: Some(vec![DirUsage {
                        name: "photos".into(),
                        bytes: 700,
                        entries: 3,
                    }]),
                },
                TierMeasure {
                    tier: "cold".into(),
                    root: PathBuf::from("/c"),
                    kind: None,
                    fs: Err(crate::usage::FsNumbersError::NotADirectory {
                        root: PathBuf::from("/c"),
                    }),
                    dirs: None,
                },
            ],
            Thresholds::new(75, 85).unwrap(),
        );
        let text = tiers_status(&status);
        assert!(text.contains(
            "tierctl_tier_size_bytes{tier=\"fast\",root=\"/Volumes/fast \\\"store\\\"\"} 1000\n"
        ));
        assert!(text.contains(
            "tierctl_tier_used_percent{tier=\"fast\",root=\"/Volumes/fast \\\"store\\\"\"} 80\n"
        ));
        assert!(text.contains("tierctl_tier_alert{tier=\"cold\",root=\"/c\"} 2\n"));
        assert!(text.contains("tierctl_dir_bytes{tier=\"fast\",dir=\"photos\"} 700\n"));
        assert!(!text.contains("tierctl_tier_size_bytes{tier=\"cold\""));
        assert!(text.contains("# TYPE tierctl_tier_free_bytes gauge\n"));
    }

    #[test]
    fn issue12_verify_prometheus_with_the_stack_down_says_not_running() {
        let down = VerifyReport {
            tiers: Vec::new(),
            containers: vec![],
            services: vec![("immich-server".into(), false), ("database".into(), false)],
            ..samples::verify()
        };
        let text = verify(&down);
        for line in [
            "tierctl_verify_success{project=\"immich\"} 0\n",
            "tierctl_verify_timestamp_seconds{project=\"immich\"} 1790000000\n",
            "tierctl_container_running{project=\"immich\",service=\"immich-server\"} 0\n",
            "tierctl_container_running{project=\"immich\",service=\"database\"} 0\n",
        ] {
            assert!(text.contains(line), "{line}: {text}");
        }
        assert!(!down.all_ok());
        let up = verify(&samples::verify());
        assert!(
            up.contains(
                "tierctl_container_running{project=\"immich\",service=\"immich-server\"} 1\n"
            ),
            "{up}"
        );
    }

    #[test]
    fn prometheus_has_one_ok_sample_per_mount_and_sizes() {
        let text = verify(&samples::verify());
        assert!(text.contains("# TYPE tierctl_mount_ok gauge"));
        assert!(text.contains(
            "tierctl_mount_ok{project=\"immich\",service=\"immich-server\",container=\"immich-server-1\",target=\"/photos\"} 1"
        ), "{text}");
        assert!(text.contains("verdict=\"named-volume\"} 1"), "{text}");
        assert!(text.contains("tierctl_mount_host_size_bytes{"), "{text}");
        assert!(
            text.contains("target=\"/var/lib/postgresql/data\"} 62277025792"),
            "{text}"
        );
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("tierctl_mount_host_size_bytes"))
                .count(),
            2,
            "no host size for a volume"
        );
    }
}
