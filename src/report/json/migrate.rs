//! `migrate --format json`: the plan before it runs, and what a run or a rollback did.
//!
//! The fields are in alphabetical order: that is the order this output has always had.

use std::path::Path;

use serde::Serialize;

use super::VERSION;
use crate::compose::model::MountSource;
use crate::report::PathStyle;
use crate::report::reports::{MigratePlanReport, Outcome};

/// `tierctl migrate --dry-run --format json` (and the preview before a run).
#[derive(Serialize)]
pub struct MigratePlanDto<'a> {
    /// What is copied where.
    pub copies: Vec<CopyDto<'a>>,
    /// The compose and env files that change, as shown to the user.
    pub files: Vec<String>,
    /// Project name.
    pub project: &'a str,
    /// The services that are stopped and started again.
    pub services: &'a [String],
    /// The step ids, in order.
    pub steps: Vec<String>,
    /// `--to-context`: the docker context the project moves to (absent for a local migration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_context: Option<&'a str>,
    /// Contract version.
    pub version: u32,
}

/// One copy into a tier directory.
#[derive(Serialize)]
pub struct CopyDto<'a> {
    /// The volume name or the host directory copied.
    pub source: String,
    /// The tier directory.
    pub target: &'a Path,
    /// The tier.
    pub tier: Option<&'a str>,
    /// The volume's key under top-level `volumes:`.
    pub volume: &'a str,
}

/// What `tierctl migrate` (a run, `--resume`, `--rollback`, `--prune-source`) did.
#[derive(Serialize)]
pub struct MigratedDto<'a> {
    /// How long the services were down, their stop to their start (a run that started them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downtime_seconds: Option<f64>,
    /// The journal, as shown to the user.
    pub journal: String,
    /// Source volumes left in place.
    pub kept_sources: &'a [String],
    /// Whether it was a rollback.
    pub rollback: bool,
    /// Every step.
    pub steps: Vec<StepDto<'a>>,
    /// Contract version.
    pub version: u32,
}

/// One step's result.
#[derive(Serialize)]
pub struct StepDto<'a> {
    /// What happened (`done`, `already done`, `skipped: ...`).
    pub result: &'a str,
    /// The step id.
    pub step: &'a str,
}

/// The plan as its DTO.
pub fn plan<'a>(plan: &'a MigratePlanReport, paths: &PathStyle) -> MigratePlanDto<'a> {
    MigratePlanDto {
        copies: plan
            .copies
            .iter()
            .map(|c| CopyDto {
                source: match &c.source {
                    MountSource::Volume(v) => v.clone(),
                    MountSource::Bind(p) => p.display().to_string(),
                },
                target: &c.target,
                tier: c.tier.as_deref(),
                volume: &c.volume,
            })
            .collect(),
        files: plan.files.iter().map(|f| paths.show(f)).collect(),
        project: &plan.project,
        services: &plan.services,
        steps: plan.steps.iter().map(|s| s.id.clone()).collect(),
        to_context: plan.to_context.as_deref(),
        version: VERSION,
    }
}

/// A run's or a rollback's outcome as its DTO.
pub fn migrated<'a>(outcome: &'a Outcome, rollback: bool, paths: &PathStyle) -> MigratedDto<'a> {
    MigratedDto {
        downtime_seconds: outcome.downtime_ms.map(|ms| ms as f64 / 1000.0),
        journal: paths.show(&outcome.journal),
        kept_sources: &outcome.kept,
        rollback,
        steps: outcome
            .steps
            .iter()
            .map(|s| StepDto {
                result: &s.result,
                step: &s.step,
            })
            .collect(),
        version: VERSION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_keeps_its_alphabetical_field_order() {
        let (done, paths) = crate::report::examples::finished_run();
        assert_eq!(
            super::super::pretty(&migrated(&done, true, &paths)),
            r#"{
  "journal": ".tierctl/journal-1.jsonl",
  "kept_sources": [
    "app_db"
  ],
  "rollback": true,
  "steps": [
    {
      "result": "stopped: db",
      "step": "stop"
    }
  ],
  "version": 1
}
"#
        );
        let timed = Outcome {
            downtime_ms: Some(1400),
            ..done
        };
        let text = super::super::pretty(&migrated(&timed, false, &paths));
        assert!(
            text.starts_with("{\n  \"downtime_seconds\": 1.4,\n  \"journal\""),
            "{text}"
        );
    }
}
