//! "verify mounts": what the restarted services see at their mounts, judged as `tierctl verify`
//! judges them ([`MountViews`] is the effect), and the problems among them for the plan (pure).

use super::plan::MigratePlan;
use crate::engine::observe::VerifyError;

/// One mount as `tierctl verify` judged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewedMount {
    /// The container.
    pub container: String,
    /// Its compose service.
    pub service: String,
    /// The path inside the container.
    pub target: String,
    /// The verdict id (`ok`, `df-mismatch`, `marker-missing`, ...).
    pub verdict: String,
    /// Why, when not `ok`.
    pub reasons: Vec<String>,
}

/// The effect behind "verify mounts": observe what the project's running containers see at
/// their mounts and judge each one, as `tierctl verify` does.
pub trait MountViews {
    /// Every bind and volume mount of the project's running containers.
    fn view(&self, project: &str) -> Result<Vec<ViewedMount>, VerifyError>;
}

/// Pure: the problems among `seen` for the mounts the plan expects of the `running` services.
pub fn mount_problems(plan: &MigratePlan, running: &[String], seen: &[ViewedMount]) -> Vec<String> {
    let mut problems = Vec::new();
    for expected in plan.mounts.iter().filter(|m| running.contains(&m.service)) {
        let views: Vec<&ViewedMount> = seen
            .iter()
            .filter(|v| {
                v.service == expected.service
                    && crate::compose::target::same(&v.target, &expected.target)
            })
            .collect();
        if views.is_empty() {
            problems.push(format!(
                "service `{}`: `tierctl verify` saw no mount at `{}`",
                expected.service, expected.target
            ));
        }
        for v in views.into_iter().filter(|v| v.verdict != "ok") {
            problems.push(format!(
                "container `{}` at `{}`: {} ({})",
                v.container,
                v.target,
                v.verdict,
                v.reasons.join("; ")
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewed(service: &str, target: &str, verdict: &str) -> ViewedMount {
        ViewedMount {
            container: format!("app-{service}-1"),
            service: service.into(),
            target: target.into(),
            verdict: verdict.into(),
            reasons: vec!["the marker file is not visible".into()],
        }
    }

    #[test]
    fn verify_mounts_accepts_ok_views_and_reports_a_mismatch_or_a_missing_mount() {
        let plan = MigratePlan {
            mounts: vec![
                crate::migrate::plan::ExpectedMount {
                    service: "db".into(),
                    target: "/data".into(),
                    source: "/tiers/fast/app/db".into(),
                },
                crate::migrate::plan::ExpectedMount {
                    service: "cache".into(),
                    target: "/cache".into(),
                    source: "/tiers/fast/app/cache".into(),
                },
            ],
            ..MigratePlan::default()
        };
        let running = vec!["db".to_owned()];
        // `cache` was not running: not expected; other mounts are not judged
        let seen = vec![
            viewed("db", "/data", "ok"),
            viewed("db", "/tmp", "named-volume"),
        ];
        assert!(mount_problems(&plan, &running, &seen).is_empty());
        let seen = vec![viewed("db", "/data", "marker-missing")];
        assert_eq!(
            mount_problems(&plan, &running, &seen),
            ["container `app-db-1` at `/data`: marker-missing (the marker file is not visible)"]
        );
        assert_eq!(
            mount_problems(&plan, &running, &[]),
            ["service `db`: `tierctl verify` saw no mount at `/data`"]
        );
    }
}
