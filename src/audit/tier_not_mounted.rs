//! `tier-not-mounted`: a bind source on a tier whose disk is not there. When an external disk
//! is not mounted, its tier root is just a directory on the system disk (or nothing at all),
//! and Docker creates the bind source there: the service starts on the wrong disk, empty.
//!
//! A tier is judged by [`absence`], from what `tierfs::presence` observed at its root: the
//! identity marker `tiers init` writes (`.tierctl-tier`, naming the tier) and, for a tier
//! declared `mount: true`, whether the root is a mount point.

use super::{Check, Context, Finding, Severity, Subjects};
use crate::facts::{Marker, TierPresence};
use crate::tiers::Tier;

/// Why a tier's disk is judged absent (always an error: data would land on the wrong disk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absence {
    /// What was seen, for messages (`its root /mnt/fast is not a mount point`).
    pub why: String,
}

/// The pure verdict on one tier root; `None` when the root is (or may well be) the tier.
/// `initialised`: some tier of the same tiers.yaml carries its marker, so `tiers init` ran
/// (it marks every tier root it finds).
///
/// * a marker naming another tier: another disk is mounted there;
/// * `mount: true`: the root must exist, be a mount point and carry its marker;
/// * otherwise, once `tiers init` ran: the root must carry its marker (an unmounted disk leaves
///   an empty directory, or nothing, at the root). Before `tiers init` ever ran, a root without
///   a marker is not judged: the user never asked for markers.
pub fn absence(tier: &Tier, seen: &TierPresence, initialised: bool) -> Option<Absence> {
    let root = tier.root.display();
    let absent = |why: String| Some(Absence { why });
    if let Marker::Present { tier: named, .. } = &seen.marker
        && named != &tier.name
    {
        return absent(format!(
            "its root {root} holds the marker of tier `{named}`"
        ));
    }
    if !tier.mount && !initialised {
        return None;
    }
    if !seen.root_is_dir {
        return absent(format!("its root {root} does not exist"));
    }
    if tier.mount && seen.mount_point == Some(false) {
        return absent(format!("its root {root} is not a mount point"));
    }
    match &seen.marker {
        Marker::Present { .. } => None,
        Marker::Missing if seen.root_empty => {
            absent(format!("its root {root} is empty and has no tier marker"))
        }
        Marker::Missing => absent(format!("its root {root} has no tier marker")),
        Marker::Unreadable { message } => {
            absent(format!("its root's tier marker cannot be read: {message}"))
        }
    }
}

/// One tier's disk as `verify` and `tiers status` report it: `absent` says why it is judged
/// not there (`tier-not-mounted`), `None` when it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierCheck {
    /// The tier's name.
    pub tier: String,
    /// Its root.
    pub root: std::path::PathBuf,
    /// Why its disk is judged absent, with what to do.
    pub absent: Option<(Absence, String)>,
}

/// The [`TierCheck`] of each tier `wanted` keeps, from what was seen at the roots
/// (`tierfs::presences`), in tiers.yaml order.
pub fn tier_checks(
    tiers: &crate::tiers::Tiers,
    seen: &std::collections::BTreeMap<String, TierPresence>,
    wanted: impl Fn(&Tier) -> bool,
) -> Vec<TierCheck> {
    let initialised = initialised(seen.values());
    tiers
        .tiers
        .values()
        .filter(|tier| wanted(tier))
        .filter_map(|tier| {
            let presence = seen.get(&tier.name)?;
            Some(TierCheck {
                tier: tier.name.clone(),
                root: tier.root.clone(),
                absent: absence(tier, presence, initialised).map(|a| (a, hint(tier))),
            })
        })
        .collect()
}

/// Whether `tiers init` ran for these tiers: some root carries a marker.
pub fn initialised<'a>(seen: impl IntoIterator<Item = &'a TierPresence>) -> bool {
    seen.into_iter()
        .any(|p| matches!(p.marker, Marker::Present { .. }))
}

/// The hint for an absent tier.
pub fn hint(tier: &Tier) -> String {
    format!(
        "mount the disk of tier `{}` at {} before starting the services; if it is mounted, \
         run `tierctl tiers init` to write its marker (and set `mount: true` in tiers.yaml when \
         the root must be a mount point)",
        tier.name,
        tier.root.display()
    )
}

pub(super) fn check(ctx: &Context<'_>, s: &Subjects<'_>) -> Option<Finding> {
    let path = s.real().or(s.host_path.as_deref())?;
    let tier = ctx.tiers.tier_of(path)?;
    let seen = ctx.facts.tiers.get(&tier.name)?;
    let absent = absence(tier, seen, initialised(ctx.facts.tiers.values()))?;
    let message = format!(
        "{}: {} is on tier `{}`, whose disk is not there: {}; data written now lands on the \
         disk below it",
        s.service.name,
        path.display(),
        tier.name,
        absent.why
    );
    Some(s.finding(Check::TierNotMounted, Severity::Error, message, hint(tier)))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn tier(mount: bool) -> Tier {
        Tier {
            name: "fast".into(),
            root: PathBuf::from("/mnt/fast"),
            kind: None,
            mount,
        }
    }

    fn seen(
        root_is_dir: bool,
        root_empty: bool,
        marker: Marker,
        mount_point: bool,
    ) -> TierPresence {
        TierPresence {
            root_is_dir,
            root_empty,
            marker,
            mount_point: Some(mount_point),
        }
    }

    fn marker(tier: &str) -> Marker {
        Marker::Present {
            tier: tier.into(),
            id: "0123abcd".into(),
        }
    }

    fn why(tier: &Tier, seen: &TierPresence, initialised: bool) -> Option<String> {
        absence(tier, seen, initialised).map(|a| a.why)
    }

    #[test]
    fn a_declared_mount_needs_its_mount_point_and_marker() {
        let t = tier(true);
        for init in [false, true] {
            assert_eq!(
                why(&t, &seen(true, false, marker("fast"), true), init),
                None
            );
            let empty_dir_on_system_disk = seen(true, true, Marker::Missing, false);
            assert_eq!(
                why(&t, &empty_dir_on_system_disk, init).as_deref(),
                Some("its root /mnt/fast is not a mount point")
            );
            assert_eq!(
                why(&t, &seen(true, false, Marker::Missing, true), init).as_deref(),
                Some("its root /mnt/fast has no tier marker")
            );
            assert_eq!(
                why(&t, &seen(false, true, Marker::Missing, false), init).as_deref(),
                Some("its root /mnt/fast does not exist")
            );
        }
    }

    #[test]
    fn without_mount_true_the_marker_counts_once_init_ran() {
        let t = tier(false);
        let unmounted = seen(true, true, Marker::Missing, false);
        // never initialised: no marker is expected anywhere
        assert_eq!(why(&t, &unmounted, false), None);
        assert_eq!(
            why(&t, &seen(true, false, Marker::Missing, false), false),
            None
        );
        // initialised (other tiers carry markers): the unmounted disk's empty root
        assert_eq!(
            why(&t, &unmounted, true).as_deref(),
            Some("its root /mnt/fast is empty and has no tier marker")
        );
        assert_eq!(
            why(&t, &seen(false, true, Marker::Missing, false), true).as_deref(),
            Some("its root /mnt/fast does not exist")
        );
        assert_eq!(
            why(&t, &seen(true, false, marker("fast"), false), true),
            None
        );
    }

    #[test]
    fn another_tiers_marker_is_absent_either_way() {
        for (mount, init) in [(false, false), (true, true)] {
            assert_eq!(
                why(&tier(mount), &seen(true, false, marker("cold"), true), init).as_deref(),
                Some("its root /mnt/fast holds the marker of tier `cold`")
            );
        }
    }

    #[test]
    fn initialised_means_some_marker() {
        let none = seen(true, true, Marker::Missing, false);
        let some = seen(true, false, marker("warm"), false);
        assert!(!initialised([&none]));
        assert!(initialised([&none, &some]));
    }
}
