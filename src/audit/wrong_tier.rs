//! `wrong-tier`: the data lies on one tier but placement says it belongs on another (a database
//! on the cold HDD tier, Plex metadata on the warm tier). A bind through an access point of
//! tiers.yaml states its tier itself: placement does not overrule it.

use super::{Check, Context, Finding, Severity, Subjects};

pub(super) fn check(ctx: &Context<'_>, s: &Subjects<'_>) -> Option<Finding> {
    if s.is_non_directory() {
        return None;
    }
    if s.path
        .is_some_and(|p| ctx.tiers.access_point_for(&p.path).is_some())
    {
        return None;
    }
    let real = s.real()?;
    let actual = ctx.tier_name(real)?;
    let placement = ctx.placement(s)?;
    if placement.tier == actual {
        return None;
    }
    let message = format!(
        "{}: {} is on the {actual} tier; placement puts {} on the {} tier",
        s.service.name,
        real.display(),
        s.mount.target,
        placement.tier
    );
    let hint = format!(
        "move the data to {} (`tierctl migrate`), or add a placement rule for it in tiers.yaml",
        placement.path.display()
    );
    Some(s.finding(Check::WrongTier, Severity::Warning, message, hint))
}
