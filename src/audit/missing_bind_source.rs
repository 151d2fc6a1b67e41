//! `missing-bind-source`: the bind source does not exist. Compose creates it as an empty
//! root-owned directory (on the VM's disk when the VM does not share the path), and the service
//! starts without its data.

use super::{Check, Context, Finding, Severity, Subjects};
use crate::facts::PathProblem;

pub(super) fn check(_ctx: &Context<'_>, s: &Subjects<'_>) -> Option<Finding> {
    let facts = s.path?;
    if facts.exists
        || matches!(
            facts.problem,
            Some(PathProblem::Loop { .. } | PathProblem::TooManyLinks)
        )
    {
        return None;
    }
    let shown = facts.real.as_deref().unwrap_or(&facts.path);
    let (severity, message) = if !s.mount.create_host_path
        || s.host_path.as_deref() != s.mount.host_path.as_deref()
    {
        (
            Severity::Error,
            format!(
                "{}: {} does not exist and will not be created; the container will fail to start",
                s.service.name,
                shown.display()
            ),
        )
    } else {
        (
            Severity::Warning,
            format!(
                "{}: {} does not exist; compose would create it empty and owned by root",
                s.service.name,
                shown.display()
            ),
        )
    };
    let hint = match &facts.problem {
        Some(PathProblem::PermissionDenied { at }) => {
            format!("`{}` cannot be read by this user; run as a user that can, or fix its permissions", at.display())
        }
        _ => "create the directory on its tier with the right owner (`tierctl tiers init`), or fix the path".to_owned(),
    };
    Some(s.finding(Check::MissingBindSource, severity, message, hint))
}
