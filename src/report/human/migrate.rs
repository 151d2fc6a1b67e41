//! `migrate` for people: the plan before it runs, and what each step did.

use crate::report::PathStyle;
use crate::report::reports::{MigratePlanReport, Outcome, kept_line};

/// The plan: the numbered steps, what is copied where, and which files change.
pub fn plan(plan: &MigratePlanReport) -> String {
    if plan.is_empty() {
        return format!("{}: nothing to migrate\n", plan.project);
    }
    let total = plan.steps.len();
    let mut text = format!("{}: migrate plan\n", plan.project);
    for (index, step) in plan.steps.iter().enumerate() {
        text.push_str(&format!("[{}/{total}] {}\n", index + 1, step.description));
    }
    text
}

/// What a run or a rollback did.
pub fn migrated(outcome: &Outcome, rollback: bool, paths: &PathStyle) -> String {
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
            kept_line(&outcome.kept)
        },
        paths.show(&outcome.journal)
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_lists_every_step_and_the_journal() {
        let (done, paths) = crate::report::examples::finished_run();
        assert_eq!(
            migrated(&done, false, &paths),
            "[1/1] stop             stopped: db\ndone. Source volume app_db kept; remove it with `tierctl migrate --prune-source` after you are happy. (journal: .tierctl/journal-1.jsonl)\n"
        );
    }
}
