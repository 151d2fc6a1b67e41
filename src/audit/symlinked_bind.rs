//! `symlinked-bind`: a bind source reached through one or more symlinks. Docker resolves the
//! link on the engine's side; in a VM that does not share the link's target the container sees
//! an empty directory on the VM's disk.

use super::{Check, Context, Finding, Severity, Subjects};

pub(super) fn check(ctx: &Context<'_>, s: &Subjects<'_>) -> Option<Finding> {
    let facts = s.path?;
    if facts.hops.is_empty() || facts.problem.is_some() {
        return None;
    }
    let real = facts.real.as_deref()?;
    let tier = ctx
        .tier_name(real)
        .map_or_else(|| "on no tier".to_owned(), |t| format!("{t} tier"));
    let message = format!(
        "{}: {} -> {} ({tier})",
        s.service.name,
        facts.path.display(),
        real.display()
    );
    let hint = format!(
        "bind the real path `{}` directly so Docker and the VM see the tier itself; `tierctl rewrite` makes that edit",
        real.display()
    );
    Some(s.finding(Check::SymlinkedBind, Severity::Warning, message, hint))
}
