//! `verify` for people: a table, then every reason and note below it.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use tabled::Tabled;

use crate::report::reports::{ContainerResult, FleetReport, HostReport, MountResult, VerifyReport};
use crate::usage::human_bytes;
use crate::verify::{EngineClass, FsView, MarkerState, MountKind, MountObservation};

/// The SERVICE column: the service (with the replica number past 1), else the name.
fn label(c: &ContainerResult) -> String {
    match (&c.service, c.number.as_deref()) {
        (Some(s), Some(n)) if n != "1" => format!("{s}#{n}"),
        (Some(s), _) => s.clone(),
        (None, _) => c.name.clone(),
    }
}

#[derive(Tabled)]
struct Row {
    #[tabled(rename = "SERVICE")]
    service: String,
    #[tabled(rename = "TARGET")]
    target: String,
    #[tabled(rename = "HOST SOURCE")]
    source: String,
    #[tabled(rename = "HOST FS")]
    host_fs: String,
    #[tabled(rename = "CONTAINER FS")]
    container_fs: String,
    #[tabled(rename = "MARKER")]
    marker: &'static str,
    #[tabled(rename = "VERDICT")]
    verdict: &'static str,
}

fn fs_text(fs: Option<&FsView>) -> String {
    let Some(fs) = fs else {
        return "-".into();
    };
    let kind = fs.fs_type.as_deref().unwrap_or("?");
    match fs.size_bytes {
        Some(size) => format!("{kind} {}", human_bytes(size)),
        None => kind.to_owned(),
    }
}

fn source_text(m: &MountObservation) -> String {
    match (&m.kind, &m.host) {
        (MountKind::Volume { name }, _) => format!("(named volume {name})"),
        (MountKind::Bind, Some(h)) => match &h.real {
            Some(real) => format!("{} -> {}", h.source.display(), real.display()),
            None => h.source.display().to_string(),
        },
        (MountKind::Bind, None) => "?".into(),
    }
}

fn marker_text(marker: MarkerState) -> &'static str {
    match marker {
        MarkerState::Seen => "seen",
        MarkerState::Missing => "missing",
        MarkerState::NotWritten | MarkerState::OtherHost => "-",
    }
}

/// Whether the container's filesystem is the VM's own disk (a volume or a missed share on a VM
/// engine).
fn on_vm_disk(engine: EngineClass, m: &MountResult) -> bool {
    engine.is_vm()
        && (matches!(m.observed.kind, MountKind::Volume { .. })
            || matches!(
                m.check.verdict,
                crate::verify::Verdict::MarkerMissing | crate::verify::Verdict::MountTypeMismatch
            ))
}

/// [`label`], as `project/service` when the report holds containers of several compose
/// projects (`--all`, a fleet check).
fn labeler(report: &VerifyReport) -> impl Fn(&ContainerResult) -> String {
    let projects: BTreeSet<Option<&str>> = report
        .containers
        .iter()
        .map(|c| c.project.as_deref())
        .collect();
    let several = projects.len() > 1;
    move |c: &ContainerResult| match (&c.project, several) {
        (Some(project), true) => format!("{project}/{}", label(c)),
        _ => label(c),
    }
}

/// The table and, below it, every reason and note.
pub fn verify(report: &VerifyReport) -> String {
    let mut out = String::new();
    let label = labeler(report);
    let rows: Vec<Row> = report
        .containers
        .iter()
        .flat_map(|c| {
            c.mounts.iter().map(|m| {
                let mut container_fs = fs_text(m.observed.container.as_ref());
                if m.observed.container.is_some() && on_vm_disk(report.engine, m) {
                    container_fs.push_str(" (VM)");
                }
                Row {
                    service: label(c),
                    target: m.observed.target.clone(),
                    source: source_text(&m.observed),
                    host_fs: fs_text(m.observed.host.as_ref().and_then(|h| h.fs.as_ref())),
                    container_fs,
                    marker: marker_text(m.observed.marker),
                    verdict: m.check.verdict.id(),
                }
            })
        })
        .collect();
    if rows.is_empty() {
        let _ = writeln!(out, "no bind or volume mount to verify");
    } else {
        super::write_columns(&mut out, rows);
    }
    for c in &report.containers {
        for m in &c.mounts {
            for reason in &m.check.reasons {
                let _ = writeln!(
                    out,
                    "{} {}: {} {reason}",
                    label(c),
                    m.observed.target,
                    m.check.verdict.id()
                );
            }
            for note in &m.check.notes {
                let _ = writeln!(out, "{} {}: note: {note}", label(c), m.observed.target);
            }
        }
        for note in &c.notes {
            let _ = writeln!(out, "{}: note: {note}", label(c));
        }
    }
    for (tier, (absent, hint)) in report
        .tiers
        .iter()
        .filter_map(|t| t.absent.as_ref().map(|a| (t, a)))
    {
        let _ = writeln!(
            out,
            "tier-not-mounted: the disk of tier `{}` is not there: {}\nhint: {hint}",
            tier.tier, absent.why
        );
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// A fleet check: one block per host (a heading, then that engine's table or its error), then
/// a summary line.
pub fn fleet(fleet: &FleetReport) -> String {
    let mut out = String::new();
    for (i, host) in fleet.hosts.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let at = host
            .endpoint
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        let name = match &host.node {
            Some(node) => format!("node {node}, context {}", host.host),
            None => format!("host {}", host.host),
        };
        match &host.outcome {
            Ok(report) => {
                let state = if report.all_ok() { "ok" } else { "MISMATCH" };
                let _ = writeln!(out, "== {name}{at}: {state}");
                out.push_str(&verify(report));
            }
            Err(error) => {
                let _ = writeln!(out, "== {name}{at}: UNREACHABLE");
                let _ = writeln!(out, "error: {}", error.message);
                if let Some(hint) = &error.hint {
                    let _ = writeln!(out, "hint: {hint}");
                }
            }
        }
    }
    let count = |f: fn(&HostReport) -> bool| fleet.hosts.iter().filter(|h| f(h)).count();
    let _ = writeln!(
        out,
        "\n{} hosts: {} ok, {} with mismatches, {} unreachable",
        fleet.hosts.len(),
        count(|h| h.outcome.as_ref().is_ok_and(VerifyReport::all_ok)),
        count(|h| h.outcome.as_ref().is_ok_and(|r| !r.all_ok())),
        count(|h| h.outcome.is_err()),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::reports::samples;

    #[test]
    fn the_table_has_the_columns_and_the_reasons_below() {
        let text = verify(&samples::verify());
        insta::assert_snapshot!(text, @r"
        SERVICE         TARGET                     HOST SOURCE                                    HOST FS     CONTAINER FS    MARKER   VERDICT
        immich-server   /photos                    /Volumes/faststore/photos                      apfs 1.9T   virtiofs 1.9T   seen     ok
        immich-server   /library                   /Volumes/Photos -> /Volumes/faststore/photos   apfs 1.9T   virtiofs 1.9T   seen     symlinked-bind
        immich-server   /var/lib/postgresql/data   (named volume immich_db)                       -           ext4 58G (VM)   -        named-volume
        immich-server /photos: note: filesystem type: host `apfs`, container `virtiofs` (a VM share)
        immich-server /library: symlinked-bind `/Volumes/Photos` is a symlink to `/Volumes/faststore/photos`: bind the real path
        immich-server /library: note: filesystem type: host `apfs`, container `virtiofs` (a VM share)
        immich-server /var/lib/postgresql/data: named-volume data in the Docker volume `immich_db` on the engine's VM disk, not on a tier
        ");
    }

    #[test]
    fn a_fleet_is_grouped_by_host_and_names_the_unreachable_one() {
        let text = fleet(&samples::fleet());
        assert!(
            text.starts_with("== host default (unix:///var/run/docker.sock): MISMATCH\nSERVICE"),
            "{text}"
        );
        assert!(
            text.contains(
                "\n\n== host nas (tcp://127.0.0.1:1): UNREACHABLE\nerror: cannot connect"
            )
        );
        assert!(text.contains("\nhint: check that the engine runs\n"));
        assert!(
            text.ends_with("\n2 hosts: 0 ok, 1 with mismatches, 1 unreachable\n"),
            "{text}"
        );
    }

    #[test]
    fn several_projects_label_the_service_with_its_project() {
        let mut report = samples::verify();
        let mut other = report.containers[0].clone();
        other.project = Some("media".into());
        report.containers.push(other);
        let text = verify(&report);
        assert!(text.contains("\nimmich/immich-server "), "{text}");
        assert!(text.contains("\nmedia/immich-server "), "{text}");
    }
}
