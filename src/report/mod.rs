//! Renderers: the only code that produces what goes to stdout.
//!
//! A command builds a typed result ([`reports`]) and wraps it in a [`Report`]; [`render`] is
//! the one place that picks the format: `human/`, `json/` or `prometheus.rs`.

pub mod diff;
pub mod human;
pub mod json;
pub mod prometheus;
pub mod reports;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::template::ComposeTemplate;
use crate::usage::StatusReport;

pub use reports::{
    AuditReport, CheckReport, FleetReport, InitReport, LinkReport, MigratePlanReport, MountsReport,
    NewProjectReport, Outcome, PlanReport, ValidateReport, VerifyReport, VmReport,
};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for people.
    Human,
    /// The versioned JSON contract.
    Json,
    /// Prometheus textfile format for node_exporter (`tiers status` and `verify`).
    Prometheus,
}

/// How to show file paths: relative to the working directory when inside it.
#[derive(Clone, Debug)]
pub struct PathStyle {
    /// The working directory.
    pub cwd: PathBuf,
}

impl PathStyle {
    /// `path` as shown to the user.
    pub fn show(&self, path: &Path) -> String {
        match path.strip_prefix(&self.cwd) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
            _ => path.display().to_string(),
        }
    }

    /// `text` (a message or hint) with every absolute path under the working directory shown
    /// relative to it, as [`show`](Self::show) does for a path: a path starts the text or
    /// follows a space, a backtick or `(`.
    pub fn show_in(&self, text: &str) -> String {
        let cwd = self.cwd.to_string_lossy();
        if cwd.is_empty() || cwd == "/" {
            return text.to_owned();
        }
        let prefix = format!("{}/", cwd.trim_end_matches('/'));
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(&prefix) {
            out.push_str(&rest[..at]);
            let after = &rest[at + prefix.len()..];
            let starts_path = out
                .chars()
                .next_back()
                .is_none_or(|c| matches!(c, ' ' | '`' | '('));
            if !(starts_path && after.starts_with(|c: char| !matches!(c, ' ' | '`' | ')'))) {
                out.push_str(&prefix);
            }
            rest = after;
        }
        out.push_str(rest);
        out
    }
}

/// What a command has to show.
#[derive(Clone, Copy, Debug)]
pub enum Report<'a> {
    /// `audit`.
    Audit(&'a AuditReport),
    /// `mounts`.
    Mounts(&'a MountsReport),
    /// `plan` and `rewrite`.
    Plan(&'a PlanReport),
    /// `vm`.
    Vm(&'a VmReport),
    /// `verify`.
    Verify(&'a VerifyReport),
    /// `verify` on several engines.
    Fleet(&'a FleetReport),
    /// `migrate` before it runs (and `--dry-run`).
    MigratePlan(&'a MigratePlanReport),
    /// What `migrate` (a run, `--resume`, `--rollback`, `--prune-source`) did.
    Migrated {
        /// The steps and the journal.
        outcome: &'a Outcome,
        /// Whether it was a rollback.
        rollback: bool,
    },
    /// `migrate --check`.
    Check(&'a CheckReport),
    /// `tiers validate`.
    TiersValidate(&'a ValidateReport),
    /// `tiers init`.
    TiersInit(&'a InitReport),
    /// `tiers link`.
    TiersLink(&'a LinkReport),
    /// `tiers status`.
    TiersStatus(&'a StatusReport),
    /// `tiers move`.
    TiersMove(&'a crate::move_plan::MoveReport),
    /// `tiers pool mount|unmount|status`.
    TiersPool(&'a crate::move_plan::PoolReport),
    /// `tiers nodes`.
    TiersNodes(&'a reports::NodesReport),
    /// `tiers status --swarm` / `tiers validate --swarm`.
    NodeDisks(&'a reports::NodeDisksReport),
    /// `new --list`.
    Templates(&'a [ComposeTemplate]),
    /// `new TEMPLATE`.
    NewProject(&'a NewProjectReport),
}

impl<'a> Report<'a> {
    /// What a `migrate` run (or a rollback) did.
    pub fn migrated(outcome: &'a Outcome, rollback: bool) -> Report<'a> {
        Report::Migrated { outcome, rollback }
    }

    /// The command that produced it, for messages.
    pub fn command(&self) -> &'static str {
        match self {
            Report::Audit(_) => "audit",
            Report::Mounts(_) => "mounts",
            Report::Plan(_) => "plan",
            Report::Vm(_) => "vm",
            Report::Verify(_) | Report::Fleet(_) => "verify",
            Report::MigratePlan(_) | Report::Migrated { .. } => "migrate",
            Report::Check(_) => "migrate --check",
            Report::TiersValidate(_) => "tiers validate",
            Report::TiersInit(_) => "tiers init",
            Report::TiersLink(_) => "tiers link",
            Report::TiersStatus(_) => "tiers status",
            Report::TiersMove(_) => "tiers move",
            Report::TiersPool(_) => "tiers pool",
            Report::TiersNodes(_) => "tiers nodes",
            Report::NodeDisks(r) => r.command,
            Report::Templates(_) | Report::NewProject(_) => "new",
        }
    }
}

/// A report asked for in a format it has no form in (only `tiers status`, `verify` and
/// `migrate --check` have a Prometheus form).
#[derive(Debug, Error, PartialEq, Eq)]
#[error("`--format prometheus` is not supported by `{command}`")]
pub struct FormatUnsupported {
    /// The command whose report it is.
    pub command: &'static str,
}

/// Renders `report` in `format`: the one place the format is chosen. A report with no JSON
/// form (`new`) is shown as text; one with no Prometheus form is refused.
pub fn render(
    report: &Report,
    format: Format,
    paths: &PathStyle,
    color: bool,
) -> Result<String, FormatUnsupported> {
    match format {
        Format::Human => Ok(human::render(report, paths, color)),
        Format::Json => {
            Ok(json::render(report, paths).unwrap_or_else(|| human::render(report, paths, color)))
        }
        Format::Prometheus => prometheus::render(report).ok_or(FormatUnsupported {
            command: report.command(),
        }),
    }
}

/// Inputs the renderers' tests share.
#[cfg(test)]
pub(crate) mod examples {
    use super::PathStyle;
    use super::reports::{Outcome, StepOutcome};

    /// A finished migration of one stop step that kept `app_db`, seen from `/srv/app`.
    pub fn finished_run() -> (Outcome, PathStyle) {
        let outcome = Outcome {
            journal: "/srv/app/.tierctl/journal-1.jsonl".into(),
            steps: vec![StepOutcome {
                step: "stop".into(),
                result: "stopped: db".into(),
            }],
            kept: vec!["app_db".into()],
            downtime_ms: None,
        };
        let paths = PathStyle {
            cwd: "/srv/app".into(),
        };
        (outcome, paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::reports::samples;
    use crate::usage::{Thresholds, assess};

    fn paths() -> PathStyle {
        PathStyle { cwd: "/srv".into() }
    }

    #[test]
    fn a_report_without_a_prometheus_form_is_refused_by_its_command() {
        let audit = AuditReport {
            project: "p".into(),
            findings: vec![],
            notes: vec![],
            host: None,
        };
        let refused = render(&Report::Audit(&audit), Format::Prometheus, &paths(), false);
        assert!(
            matches!(refused, Err(FormatUnsupported { command: "audit" })),
            "{refused:?}"
        );
    }

    #[test]
    fn the_commands_refused_up_front_are_exactly_those_without_a_prometheus_form() {
        let verify = samples::verify();
        let status = assess(vec![], Thresholds::new(75, 85).expect("valid thresholds"));
        let audit = AuditReport {
            project: "p".into(),
            findings: vec![],
            notes: vec![],
            host: None,
        };
        for report in [
            Report::Verify(&verify),
            Report::TiersStatus(&status),
            Report::Audit(&audit),
            Report::Templates(&crate::template::TEMPLATES),
        ] {
            assert_eq!(
                prometheus::render(&report).is_some(),
                prometheus::COMMANDS.contains(&report.command()),
                "{}",
                report.command()
            );
        }
    }

    #[test]
    fn new_has_no_json_form_and_prints_its_text() {
        let report = Report::Templates(&crate::template::TEMPLATES);
        let json = render(&report, Format::Json, &paths(), false).expect("renders");
        let human = render(&report, Format::Human, &paths(), false).expect("renders");
        assert!(!human.is_empty());
        assert_eq!(json, human);
    }

    #[test]
    fn issue24_tiers_status_swarm_renders_each_node_in_every_format() {
        use crate::facts::{Marker, TierPresence};
        use crate::layout::{NodeDisks, Unreachable, judge};
        let thresholds = Thresholds::new(75, 85).expect("valid thresholds");
        let disk = judge(
            ("fast", "/mnt/nvme".into()),
            true,
            TierPresence {
                root_is_dir: true,
                root_empty: false,
                marker: Marker::Present {
                    tier: "fast".into(),
                    id: "i".into(),
                },
                mount_point: Some(true),
            },
            Ok(crate::usage::FsNumbers {
                size_bytes: 100,
                used_bytes: 10,
                available_bytes: 90,
            }),
            thresholds,
        );
        let nodes = vec![
            NodeDisks {
                node: "vm (aaaa)".into(),
                id: "aaaa".into(),
                context: Some("first".into()),
                endpoint: Some("unix:///a.sock".into()),
                outcome: Ok(vec![disk]),
            },
            NodeDisks {
                node: "vm (bbbb)".into(),
                id: "bbbb".into(),
                context: Some("second".into()),
                endpoint: None,
                outcome: Err(Unreachable {
                    message: "cannot connect to `second`".into(),
                    hint: Some("start it".into()),
                }),
            },
        ];
        let mut report = reports::NodeDisksReport {
            command: "tiers status",
            thresholds,
            nodes,
        };
        let show = |r: &reports::NodeDisksReport, f| {
            render(&Report::NodeDisks(r), f, &paths(), false).expect("renders")
        };
        let human = show(&report, Format::Human);
        assert!(
            human.contains("== node vm (aaaa), context first (unix:///a.sock): ok"),
            "{human}"
        );
        assert!(
            human.contains("== node vm (bbbb), context second: UNREACHABLE"),
            "{human}"
        );
        assert!(
            human.contains("2 node(s): 1 checked, 1 unreachable"),
            "{human}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&show(&report, Format::Json)).expect("json");
        assert_eq!(json["nodes"][0]["tiers"][0]["verdict"], "ok");
        assert_eq!(json["nodes"][0]["tiers"][0]["free_bytes"], 90);
        assert_eq!(json["nodes"][1]["reachable"], false);
        assert_eq!(json["nodes"][1]["hint"], "start it");
        let metrics = show(&report, Format::Prometheus);
        assert!(
            metrics.contains("tierctl_node_up{node=\"vm (bbbb)\",context=\"second\"} 0"),
            "{metrics}"
        );
        assert!(
            metrics.contains("tierctl_tier_ok{node=\"vm (aaaa)\",context=\"first\",tier=\"fast\",root=\"/mnt/nvme\"} 1"),
            "{metrics}"
        );
        report.command = "tiers validate";
        assert!(
            render(
                &Report::NodeDisks(&report),
                Format::Prometheus,
                &paths(),
                false
            )
            .is_err()
        );
    }
}
