//! `tierctl migrate`: the plan before it runs, and what each step did.

use serde_json::json;

use super::{Format, PathStyle};
use crate::engine::MountSource;
use crate::migrate::plan::MigratePlan;
use crate::migrate::{self, Outcome};

/// JSON schema version of the migrate output.
pub const VERSION: u32 = 1;

/// The plan: the numbered steps, what is copied where, and which files change.
pub fn plan(plan: &MigratePlan, format: Format, paths: &PathStyle) -> String {
    if format != Format::Human {
        let copies: Vec<_> = plan
            .copies
            .iter()
            .map(|c| {
                json!({
                    "volume": c.key,
                    "source": match &c.job.source {
                        MountSource::Volume(v) => v.clone(),
                        MountSource::Bind(p) => p.display().to_string(),
                    },
                    "target": c.job.target,
                    "tier": c.tier,
                })
            })
            .collect();
        let value = json!({
            "version": VERSION,
            "project": plan.project,
            "services": plan.services,
            "copies": copies,
            "files": plan.files.iter().map(|f| paths.show(&f.path)).collect::<Vec<_>>(),
            "steps": plan.steps.iter().map(|s| s.id()).collect::<Vec<_>>(),
        });
        return format!("{value:#}\n");
    }
    if plan.is_empty() {
        return format!("{}: nothing to migrate\n", plan.project);
    }
    let total = plan.steps.len();
    let mut text = format!("{}: migrate plan\n", plan.project);
    for (index, step) in plan.steps.iter().enumerate() {
        text.push_str(&format!(
            "[{}/{total}] {}\n",
            index + 1,
            migrate::describe(plan, step)
        ));
    }
    text
}

/// What a run or a rollback did.
pub fn outcome(outcome: &Outcome, rollback: bool, format: Format, paths: &PathStyle) -> String {
    if format != Format::Human {
        let value = json!({
            "version": VERSION,
            "journal": paths.show(&outcome.journal),
            "rollback": rollback,
            "steps": outcome.steps,
            "kept_sources": outcome.kept,
        });
        return format!("{value:#}\n");
    }
    let total = outcome.steps.len();
    let mut text = String::new();
    for (index, step) in outcome.steps.iter().enumerate() {
        text.push_str(&format!(
            "[{}/{total}] {:<16} {}\n",
            index + 1,
            step.step,
            step.result
        ));
    }
    text.push_str(&format!(
        "{} (journal: {})\n",
        if rollback {
            "rolled back".to_owned()
        } else {
            migrate::kept_line(&outcome.kept)
        },
        paths.show(&outcome.journal)
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::StepOutcome;

    #[test]
    fn the_outcome_lists_every_step_and_the_journal() {
        let done = Outcome {
            journal: "/srv/app/.tierctl/journal-1.jsonl".into(),
            steps: vec![StepOutcome {
                step: "stop".into(),
                result: "stopped: db".into(),
            }],
            kept: vec!["app_db".into()],
        };
        let paths = PathStyle {
            cwd: "/srv/app".into(),
        };
        assert_eq!(
            outcome(&done, false, Format::Human, &paths),
            "[1/1] stop             stopped: db\ndone. Source volume app_db kept; remove it with `tierctl migrate --prune-source` after you are happy. (journal: .tierctl/journal-1.jsonl)\n"
        );
    }
}
