//! `circular-symlink`: the bind source's symlinks loop, so nothing can mount it.

use super::{Check, Context, Finding, Severity, Subjects};
use crate::facts::PathProblem;

pub(super) fn check(_ctx: &Context<'_>, s: &Subjects<'_>) -> Option<Finding> {
    let facts = s.path?;
    let chain: Vec<String> = facts
        .hops
        .iter()
        .map(|h| h.link.display().to_string())
        .collect();
    let at = match facts.problem.as_ref()? {
        PathProblem::Loop { at } => at.display().to_string(),
        PathProblem::TooManyLinks => "more than 40 links".to_owned(),
        _ => return None,
    };
    let message = format!(
        "{}: {} loops at {at} ({})",
        s.service.name,
        facts.path.display(),
        chain.join(" -> ")
    );
    let hint =
        "point the link at the real tier directory; the container cannot start with this bind"
            .to_owned();
    Some(s.finding(Check::CircularSymlink, Severity::Error, message, hint))
}
