//! `tierctl verify` output: a table, the versioned JSON contract, Prometheus textfile metrics.

use std::fmt::Write as _;

use serde::Serialize;
use tabled::settings::{Padding, Style};
use tabled::{Table, Tabled};

use crate::engine::observe::ReadVia;
use crate::usage::human_bytes;
use crate::verify::{EngineClass, FsView, MarkerState, MountCheck, MountKind, MountObservation};

/// One checked mount.
#[derive(Debug, Clone)]
pub struct MountResult {
    /// What was observed.
    pub observed: MountObservation,
    /// The verdict.
    pub check: MountCheck,
}

/// One container's results.
#[derive(Debug, Clone)]
pub struct ContainerResult {
    /// The container name.
    pub name: String,
    /// The compose project label.
    pub project: Option<String>,
    /// The compose service label.
    pub service: Option<String>,
    /// The compose replica number label.
    pub number: Option<String>,
    /// How its view was read.
    pub via: Option<ReadVia>,
    /// Its mounts.
    pub mounts: Vec<MountResult>,
    /// Notes about the container (skipped mounts, compose cross-check).
    pub notes: Vec<String>,
}

impl ContainerResult {
    /// The SERVICE column: the service (with the replica number past 1), else the name.
    fn label(&self) -> String {
        match (&self.service, self.number.as_deref()) {
            (Some(s), Some(n)) if n != "1" => format!("{s}#{n}"),
            (Some(s), _) => s.clone(),
            (None, _) => self.name.clone(),
        }
    }
}

/// Everything `verify` found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The compose project (`None` with `--all` or names outside a project).
    pub project: Option<String>,
    /// The engine, as identified (`native`, `docker-desktop`, `vm`, `unknown`).
    pub engine: EngineClass,
    /// The containers, in order.
    pub containers: Vec<ContainerResult>,
    /// Notes about the run (one-off containers left out, services not running).
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// Whether every mount is `ok`.
    pub fn all_ok(&self) -> bool {
        !crate::verify::any_mismatch(
            self.containers
                .iter()
                .flat_map(|c| c.mounts.iter().map(|m| &m.check)),
        )
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
        MarkerState::NotWritten => "-",
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

/// The table and, below it, every reason and note. With containers of several compose
/// projects (a fleet check), the SERVICE column says `project/service`.
pub fn human(report: &VerifyReport) -> String {
    let mut out = String::new();
    let projects: std::collections::BTreeSet<Option<&str>> = report
        .containers
        .iter()
        .map(|c| c.project.as_deref())
        .collect();
    let label = |c: &ContainerResult| match (&c.project, projects.len() > 1) {
        (Some(project), true) => format!("{project}/{}", c.label()),
        _ => c.label(),
    };
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
        let table = Table::new(rows)
            .with(Style::blank())
            .with(Padding::new(0, 2, 0, 0))
            .to_string();
        for line in table.lines() {
            let _ = writeln!(out, "{}", line.trim_end());
        }
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
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// Version of the `verify` JSON output.
pub const VERSION: u32 = 1;

/// `tierctl verify --format json`.
#[derive(Serialize)]
pub struct VerifyDto<'a> {
    /// Contract version.
    pub version: u32,
    /// The compose project, when one was loaded.
    pub project: Option<&'a str>,
    /// `native`, `docker-desktop`, `vm` or `unknown`.
    pub engine: EngineClass,
    /// Whether every mount is `ok`.
    pub ok: bool,
    /// The containers.
    pub containers: Vec<ContainerDto<'a>>,
    /// Notes about the run.
    pub notes: &'a [String],
}

/// One container.
#[derive(Serialize)]
pub struct ContainerDto<'a> {
    /// Name.
    pub name: &'a str,
    /// Compose project label.
    pub project: Option<&'a str>,
    /// Compose service.
    pub service: Option<&'a str>,
    /// Compose replica number.
    pub number: Option<&'a str>,
    /// `exec` or `helper`.
    pub read_via: Option<ReadVia>,
    /// Its mounts.
    pub mounts: Vec<MountDto<'a>>,
    /// Notes.
    pub notes: &'a [String],
    /// The host (docker context) in a fleet check (`--context a --context b`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<&'a str>,
}

/// One filesystem view.
#[derive(Serialize)]
pub struct FsDto<'a> {
    /// Type.
    pub fs_type: Option<&'a str>,
    /// `major:minor`.
    pub device: Option<&'a str>,
    /// The mount's source as the kernel names it.
    pub mount_source: Option<&'a str>,
    /// `f_blocks * f_frsize`.
    pub size_bytes: Option<u64>,
    /// `(f_blocks - f_bfree) * f_frsize`.
    pub used_bytes: Option<u64>,
    /// `f_bavail * f_frsize`.
    pub available_bytes: Option<u64>,
}

/// One mount.
#[derive(Serialize)]
pub struct MountDto<'a> {
    /// Target in the container.
    pub target: &'a str,
    /// `bind` or `volume`.
    pub kind: &'static str,
    /// The volume name (volumes).
    pub volume: Option<&'a str>,
    /// The host path the engine was given (binds).
    pub source: Option<String>,
    /// The physical path when the source is reached through a symlink.
    pub real_source: Option<String>,
    /// Read-only mount.
    pub read_only: bool,
    /// What the host sees at the source.
    pub host: Option<FsDto<'a>>,
    /// What the container sees at the target.
    pub container: Option<FsDto<'a>>,
    /// `seen`, `missing` or `not-written`.
    pub marker: MarkerState,
    /// The verdict id.
    pub verdict: &'static str,
    /// Why.
    pub reasons: &'a [String],
    /// Differences that do not decide the verdict.
    pub notes: &'a [String],
}

fn fs_dto(fs: &FsView) -> FsDto<'_> {
    FsDto {
        fs_type: fs.fs_type.as_deref(),
        device: fs.device.as_deref(),
        mount_source: fs.mount_source.as_deref(),
        size_bytes: fs.size_bytes,
        used_bytes: fs.used_bytes,
        available_bytes: fs.available_bytes,
    }
}

fn mount_dto(m: &MountResult) -> MountDto<'_> {
    let o = &m.observed;
    let host = o.host.as_ref();
    MountDto {
        target: &o.target,
        kind: match o.kind {
            MountKind::Bind => "bind",
            MountKind::Volume { .. } => "volume",
        },
        volume: match &o.kind {
            MountKind::Volume { name } => Some(name),
            MountKind::Bind => None,
        },
        source: host.map(|h| h.source.display().to_string()),
        real_source: host.and_then(|h| h.real.as_ref().map(|r| r.display().to_string())),
        read_only: o.read_only,
        host: host.and_then(|h| h.fs.as_ref()).map(fs_dto),
        container: o.container.as_ref().map(fs_dto),
        marker: o.marker,
        verdict: m.check.verdict.id(),
        reasons: &m.check.reasons,
        notes: &m.check.notes,
    }
}

/// The containers of the JSON contract (without `host`).
pub(crate) fn container_dtos(report: &VerifyReport) -> Vec<ContainerDto<'_>> {
    report
        .containers
        .iter()
        .map(|c| ContainerDto {
            name: &c.name,
            project: c.project.as_deref(),
            service: c.service.as_deref(),
            number: c.number.as_deref(),
            read_via: c.via,
            mounts: c.mounts.iter().map(mount_dto).collect(),
            notes: &c.notes,
            host: None,
        })
        .collect()
}

/// Pretty JSON.
pub fn json(report: &VerifyReport) -> String {
    let dto = VerifyDto {
        version: VERSION,
        project: report.project.as_deref(),
        engine: report.engine,
        ok: report.all_ok(),
        containers: container_dtos(report),
        notes: &report.notes,
    };
    let mut text = serde_json::to_string_pretty(&dto).unwrap_or_else(|e| {
        format!("{{\"version\": {VERSION}, \"error\": \"cannot render the report: {e}\"}}")
    });
    text.push('\n');
    text
}

/// Prometheus textfile metrics for node_exporter's textfile collector.
pub fn prometheus(report: &VerifyReport) -> String {
    prometheus_hosts(&[(None, report)])
}

/// [`prometheus`] over the reports of several engines, each sample labelled with its `host`
/// when one is given.
pub(crate) fn prometheus_hosts(reports: &[(Option<&str>, &VerifyReport)]) -> String {
    let mut out = String::new();
    let samples: Vec<(String, &MountResult)> = reports
        .iter()
        .flat_map(|(host, report)| report.containers.iter().map(move |c| (*host, c)))
        .flat_map(|(host, c)| {
            c.mounts.iter().map(move |m| {
                let host = host
                    .map(|h| format!("host=\"{}\",", escape(h)))
                    .unwrap_or_default();
                let labels = format!(
                    "{host}project=\"{}\",service=\"{}\",container=\"{}\",target=\"{}\"",
                    escape(c.project.as_deref().unwrap_or("")),
                    escape(c.service.as_deref().unwrap_or(&c.name)),
                    escape(&c.name),
                    escape(&m.observed.target)
                );
                (labels, m)
            })
        })
        .collect();
    let mut gauge = |name: &str, help: &str, values: Vec<(String, u64)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, value) in values {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    };
    gauge(
        "tierctl_mount_ok",
        "1 when the container sees the host tier at this mount (verdict ok), else 0.",
        samples
            .iter()
            .map(|(l, m)| {
                (
                    l.clone(),
                    u64::from(m.check.verdict == crate::verify::Verdict::Ok),
                )
            })
            .collect(),
    );
    gauge(
        "tierctl_mount_verdict",
        "The verdict of this mount (always 1; the verdict is a label).",
        samples
            .iter()
            .map(|(l, m)| (format!("{l},verdict=\"{}\"", m.check.verdict.id()), 1))
            .collect(),
    );
    let sizes = |side: fn(&MountObservation) -> Option<&FsView>,
                 field: fn(&FsView) -> Option<u64>| {
        samples
            .iter()
            .filter_map(|(l, m)| Some((l.clone(), field(side(&m.observed)?)?)))
            .collect::<Vec<_>>()
    };
    fn host(o: &MountObservation) -> Option<&FsView> {
        o.host.as_ref().and_then(|h| h.fs.as_ref())
    }
    fn container(o: &MountObservation) -> Option<&FsView> {
        o.container.as_ref()
    }
    for (side_name, side) in [
        ("host", host as fn(&MountObservation) -> Option<&FsView>),
        ("container", container),
    ] {
        for (what, field, help) in [
            (
                "size",
                (|f: &FsView| f.size_bytes) as fn(&FsView) -> Option<u64>,
                "f_blocks * f_frsize",
            ),
            (
                "used",
                |f: &FsView| f.used_bytes,
                "(f_blocks - f_bfree) * f_frsize",
            ),
            (
                "available",
                |f: &FsView| f.available_bytes,
                "f_bavail * f_frsize",
            ),
        ] {
            gauge(
                &format!("tierctl_mount_{side_name}_{what}_bytes"),
                &format!("The filesystem as the {side_name} sees it at this mount: {help}."),
                sizes(side, field),
            );
        }
    }
    out
}

/// Escapes a label value: backslash, double quote and newline.
pub(crate) fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::verify::{HostSource, check};

    fn fs(fs_type: &str, size: u64) -> FsView {
        FsView {
            fs_type: Some(fs_type.into()),
            device: Some("0:55".into()),
            mount_source: Some("tierctl-test".into()),
            size_bytes: Some(size),
            used_bytes: Some(0),
            available_bytes: Some(size),
        }
    }

    fn bind(source: &str, real: Option<&str>, target: &str) -> MountObservation {
        MountObservation {
            kind: MountKind::Bind,
            target: target.into(),
            read_only: false,
            host: Some(HostSource {
                source: source.into(),
                real: real.map(Into::into),
                exists: true,
                fs: Some(fs("apfs", 1900 << 30)),
            }),
            container: Some(fs("virtiofs", 1900 << 30)),
            marker: MarkerState::Seen,
        }
    }

    pub(crate) fn report() -> VerifyReport {
        let volume = MountObservation {
            kind: MountKind::Volume {
                name: "immich_db".into(),
            },
            target: "/var/lib/postgresql/data".into(),
            read_only: false,
            host: None,
            container: Some(fs("ext4", 58 << 30)),
            marker: MarkerState::NotWritten,
        };
        let result = |o: MountObservation| MountResult {
            check: check(&o, EngineClass::Vm),
            observed: o,
        };
        VerifyReport {
            project: Some("immich".into()),
            engine: EngineClass::Vm,
            containers: vec![ContainerResult {
                name: "immich-server-1".into(),
                project: Some("immich".into()),
                service: Some("immich-server".into()),
                number: Some("1".into()),
                via: Some(ReadVia::Exec),
                mounts: vec![
                    result(bind("/Volumes/faststore/photos", None, "/photos")),
                    result(bind(
                        "/Volumes/Photos",
                        Some("/Volumes/faststore/photos"),
                        "/library",
                    )),
                    result(volume),
                ],
                notes: vec![],
            }],
            notes: vec![],
        }
    }

    #[test]
    fn the_table_has_the_columns_and_the_reasons_below() {
        let text = human(&report());
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
    fn json_is_versioned_and_names_every_verdict() {
        let value: serde_json::Value = serde_json::from_str(&json(&report())).expect("JSON");
        assert_eq!(value["version"], 1);
        assert_eq!(value["ok"], false);
        let mounts = &value["containers"][0]["mounts"];
        assert_eq!(mounts[0]["verdict"], "ok");
        assert_eq!(mounts[1]["verdict"], "symlinked-bind");
        assert_eq!(mounts[1]["real_source"], "/Volumes/faststore/photos");
        assert_eq!(mounts[1]["marker"], "seen");
        assert_eq!(mounts[2]["verdict"], "named-volume");
        assert_eq!(mounts[2]["volume"], "immich_db");
        assert_eq!(mounts[2]["container"]["size_bytes"], 58u64 << 30);
    }

    #[test]
    fn prometheus_has_one_ok_sample_per_mount_and_sizes() {
        let text = prometheus(&report());
        assert!(text.contains("# TYPE tierctl_mount_ok gauge"));
        assert!(text.contains(
            "tierctl_mount_ok{project=\"immich\",service=\"immich-server\",container=\"immich-server-1\",target=\"/photos\"} 1"
        ), "{text}");
        assert!(text.contains("verdict=\"named-volume\"} 1"), "{text}");
        assert!(text.contains("tierctl_mount_host_size_bytes{"), "{text}");
        assert!(
            text.contains("target=\"/var/lib/postgresql/data\"} 62277025792"),
            "{text}"
        );
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("tierctl_mount_host_size_bytes"))
                .count(),
            2,
            "no host size for a volume"
        );
    }
}
