//! `relative-bind`: a bind source written relative to the project directory. The data moves
//! with the project folder rather than living on a tier.

use super::{Check, Context, Finding, Severity, Subjects};

pub(super) fn check(ctx: &Context<'_>, s: &Subjects<'_>) -> Option<Finding> {
    if !s.mount.is_relative() || s.is_non_directory() {
        return None;
    }
    let host = s.mount.host_path.as_deref()?;
    let message = format!(
        "{}: {} resolves against the project directory to {}",
        s.service.name,
        s.mount.display_source(),
        host.display()
    );
    let hint = match ctx.placement(s) {
        Some(p) => format!(
            "write an absolute path on its tier, e.g. {} ({} tier)",
            p.path.display(),
            p.tier
        ),
        None => "write an absolute path on a tier".to_owned(),
    };
    Some(s.finding(Check::RelativeBind, Severity::Info, message, hint))
}
