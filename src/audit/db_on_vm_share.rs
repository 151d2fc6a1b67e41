//! `db-on-vm-share`: a database's data on a VM share, whatever its type (virtiofs included):
//! found by the service's image ([`database::by_image`]) or by the database files the bind
//! source holds ([`database::sign`], read by `probe`). Why every share: see [`crate::database`].

use super::{Check, Finding, Severity, Subjects};
use crate::database::{self, Evidence};
use crate::facts::ShareKeeps;
use crate::share::{Coverage, VmView};

pub(super) fn check(view: &VmView, s: &Subjects<'_>) -> Option<Finding> {
    let evidence = Evidence::of(s.service.image.as_deref(), &s.mount.target, s.databases)?;
    let real = s.real()?;
    let engine = view.vm_engine()?;
    let Coverage::Shared { share, .. } = view.coverage(real) else {
        return None;
    };
    let share_kind = share
        .mount_type
        .as_deref()
        .map_or("a share".to_owned(), |t| format!("a {t} share"));
    let measured = s
        .facts
        .measured(&share.host)
        .map(measured_losses)
        .filter(|lost| !lost.is_empty())
        .map(|lost| format!("; `vm --probe` measured on it: {}", lost.join(", ")))
        .unwrap_or_default();
    Some(s.finding(
        Check::DbOnVmShare,
        Severity::Warning,
        format!(
            "{}: database data ({}) in {} is on {share_kind} of the {engine} VM: a database on a VM share corrupts (SQLite WAL, Postgres) or cannot chown{measured}",
            s.service.name,
            evidence.describe(),
            real.display()
        ),
        database::ON_SHARE_FIX.to_owned(),
    ))
}

/// What a database needs that the share was measured not to keep, in words.
fn measured_losses(keeps: &ShareKeeps) -> Vec<&'static str> {
    [
        (keeps.chown, "a chown does not stick"),
        (keeps.mode, "a chmod does not stick"),
        (keeps.fsync, "fsync fails"),
        (
            keeps.posix_locks_with_host,
            "a POSIX lock held on the host does not hold in the VM",
        ),
        (
            keeps.mmap_coherence,
            "shared mappings (SQLite's -shm) are refused or not coherent between containers",
        ),
        (
            keeps.mmap_coherence_with_host,
            "a shared mapping is not coherent between the host and the VM",
        ),
    ]
    .into_iter()
    .filter_map(|(kept, what)| (kept == Some(false)).then_some(what))
    .collect()
}
