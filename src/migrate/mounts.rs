//! "verify mounts": what the restarted services see at their mounts, judged as `tierctl verify`
//! judges them ([`MountViews`] is the effect), and the problems among them for the plan (pure).
//! The containers' mounts come back from the engine as (service, target); each is named by the
//! plan's [`MountId`] it is through [`crate::verify::identify`] (the one such join), and
//! compared by that id.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::plan::{ExpectedMount, MigratePlan};
use crate::compose::model::MountId;
use crate::engine::ContainerState;
use crate::engine::observe::VerifyError;
use crate::verify::identify;

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

/// The plan's expected mounts as [`identify`] takes them.
fn declared(mounts: &[ExpectedMount]) -> impl Iterator<Item = (&str, &str, MountId)> {
    mounts
        .iter()
        .map(|m| (m.service.as_str(), m.target.as_str(), m.mount))
}

/// Pure: the problems among `seen` for the mounts the plan expects of the `running` services.
pub fn mount_problems(plan: &MigratePlan, running: &[String], seen: &[ViewedMount]) -> Vec<String> {
    let named: Vec<(Option<MountId>, &ViewedMount)> = seen
        .iter()
        .map(|v| (identify(declared(&plan.mounts), &v.service, &v.target), v))
        .collect();
    let mut problems = Vec::new();
    for expected in plan.mounts.iter().filter(|m| running.contains(&m.service)) {
        let views: Vec<&ViewedMount> = named
            .iter()
            .filter(|(id, _)| *id == Some(expected.mount))
            .map(|(_, v)| *v)
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

/// Pure: whether a running service's expected mount was judged `stale-bind`: its container was
/// started before the tier's disk was mounted (dockerd restarts containers at boot), so it binds
/// the directory below the mount point.
pub fn started_before_disk(plan: &MigratePlan, running: &[String], seen: &[ViewedMount]) -> bool {
    seen.iter().any(|v| {
        v.verdict == crate::verify::Verdict::StaleBind.id()
            && identify(declared(&plan.mounts), &v.service, &v.target).is_some_and(|id| {
                plan.mounts
                    .iter()
                    .any(|m| m.mount == id && running.contains(&m.service))
            })
    })
}

/// Why inspect does not show an expected mount.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BindCheckError {
    /// A running container of the service binds another directory there, or nothing.
    #[error("container `{container}` does not bind `{}` at `{target}`", dir.display())]
    NotBound {
        /// The container.
        container: String,
        /// The tier directory it should bind.
        dir: PathBuf,
        /// The container path.
        target: String,
    },
    /// No container of the service runs.
    #[error("service `{service}` is not running after the start")]
    NotRunning {
        /// The service.
        service: String,
    },
}

/// How many running containers of the expected mount's service bind its source at its target
/// (as inspect says); an error for one that does not, or when none runs.
pub fn inspected_binds(
    containers: &[ContainerState],
    expected: &ExpectedMount,
) -> Result<usize, BindCheckError> {
    let mut checked = 0;
    for c in containers
        .iter()
        .filter(|c| c.running && c.service.as_deref() == Some(expected.service.as_str()))
    {
        let ok = c.mounts.iter().any(|(source, dest)| {
            identify(
                declared(std::slice::from_ref(expected)),
                &expected.service,
                dest,
            ) == Some(expected.mount)
                && Path::new(source) == expected.source
        });
        if !ok {
            return Err(BindCheckError::NotBound {
                container: c.name.clone(),
                dir: expected.source.clone(),
                target: expected.target.clone(),
            });
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(BindCheckError::NotRunning {
            service: expected.service.clone(),
        });
    }
    Ok(checked)
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

    fn container(name: &str, service: &str, running: bool, bind: (&str, &str)) -> ContainerState {
        ContainerState {
            id: name.into(),
            name: name.into(),
            project: Some("app".into()),
            service: Some(service.into()),
            running,
            mounts: vec![(bind.0.into(), bind.1.into())],
            compose_version: None,
            oneoff: false,
        }
    }

    #[test]
    fn issue20_item5_inspect_names_the_expected_mount_by_service_and_clean_target() {
        let expected = ExpectedMount {
            mount: MountId(4),
            service: "db".into(),
            target: "/data/".into(),
            source: "/tiers/fast/app/db".into(),
        };
        let tier = "/tiers/fast/app/db";
        let containers = [
            container("app-db-1", "db", true, (tier, "/data")),
            // another service's mount at the same target is not db's
            container("app-web-1", "web", true, ("/srv/web", "/data")),
            container("app-db-2", "db", false, ("/old", "/data")),
        ];
        assert_eq!(inspected_binds(&containers, &expected), Ok(1));
        let stale = [container("app-db-1", "db", true, ("/old", "/data"))];
        assert_eq!(
            inspected_binds(&stale, &expected),
            Err(BindCheckError::NotBound {
                container: "app-db-1".into(),
                dir: tier.into(),
                target: "/data/".into(),
            })
        );
        let other_target = [container("app-db-1", "db", true, (tier, "/var/data"))];
        assert!(matches!(
            inspected_binds(&other_target, &expected),
            Err(BindCheckError::NotBound { .. })
        ));
        assert_eq!(
            inspected_binds(&containers[1..], &expected)
                .map_err(|e| e.to_string())
                .unwrap_err(),
            "service `db` is not running after the start"
        );
    }

    #[test]
    fn verify_mounts_accepts_ok_views_and_reports_a_mismatch_or_a_missing_mount() {
        let plan = MigratePlan {
            mounts: vec![
                crate::migrate::plan::ExpectedMount {
                    mount: MountId(0),
                    service: "db".into(),
                    target: "/data".into(),
                    source: "/tiers/fast/app/db".into(),
                },
                crate::migrate::plan::ExpectedMount {
                    mount: MountId(1),
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
        assert!(!started_before_disk(&plan, &running, &seen));
        // issue 21 (the power-cut soak): the container started before the tier's disk mounted
        let stale = vec![viewed("db", "/data", "stale-bind")];
        assert!(started_before_disk(&plan, &running, &stale));
        assert!(!started_before_disk(&plan, &[], &stale));
    }
}
