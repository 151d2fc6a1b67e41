//! `verify --format json`.

use std::borrow::Cow;

use serde::Serialize;

use super::VERSION;
use crate::report::reports::{FleetReport, HostReport, MountResult, VerifyReport};
use crate::verify::ReadVia;
use crate::verify::{EngineClass, FsView, MarkerState, MountKind};

/// What a single-engine check and a fleet check both say, first and in this order: the fleet
/// contract is the single-engine one with added fields only.
#[derive(Serialize)]
pub struct CheckDto<'a> {
    /// Contract version.
    pub version: u32,
    /// The compose project, when one was loaded; always `null` in a fleet check (it is not
    /// about one compose project).
    pub project: Option<&'a str>,
    /// `native`, `docker-desktop`, `vm` or `unknown`; in a fleet check the engines' class when
    /// they agree, else `unknown`.
    pub engine: EngineClass,
    /// Whether every mount is `ok` (in a fleet check: and every engine was checked).
    pub ok: bool,
    /// The containers (in a fleet check: of every checked engine, each with its `host`).
    pub containers: Vec<ContainerDto<'a>>,
    /// Notes about the run (in a fleet check: each prefixed with its host).
    pub notes: Cow<'a, [String]>,
}

/// `tierctl verify --format json`.
#[derive(Serialize)]
pub struct VerifyDto<'a> {
    /// The fields a fleet check shares.
    #[serde(flatten)]
    pub check: CheckDto<'a>,
    /// The machine whose engine was checked (added in issue 15).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<super::HostDto<'a>>,
    /// The tiers the checked binds lie on and whether each one's disk is there
    /// (`tier-not-mounted`; added in issue 12, absent when none was checked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<TierDto<'a>>,
}

/// One tier checked by verify.
#[derive(Serialize)]
pub struct TierDto<'a> {
    /// The tier's name.
    pub tier: &'a str,
    /// Its root.
    pub root: &'a std::path::Path,
    /// Whether its disk is there (false: `tier-not-mounted`).
    pub mounted: bool,
    /// Why it is judged absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<&'a str>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'a str>,
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
    /// The swarm node the container runs on (`verify --swarm`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<&'a str>,
}

/// One host of a fleet check.
#[derive(Serialize)]
pub struct HostDto<'a> {
    /// The context name.
    pub host: &'a str,
    /// The swarm node (`verify --swarm`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<&'a str>,
    /// The endpoint URL, when it resolved.
    pub endpoint: Option<&'a str>,
    /// Whether the engine was checked.
    pub reachable: bool,
    /// Its class, when checked.
    pub engine: Option<EngineClass>,
    /// Checked and every mount `ok`.
    pub ok: bool,
    /// Why it could not be checked.
    pub error: Option<&'a str>,
    /// What to do about it.
    pub hint: Option<&'a str>,
}

/// `tierctl verify --context a --context b --format json`: the single-engine contract with
/// added fields only (`host` on each container, `hosts`).
#[derive(Serialize)]
pub struct FleetDto<'a> {
    /// The single-engine contract's fields.
    #[serde(flatten)]
    pub check: CheckDto<'a>,
    /// Every host, in the order asked for.
    pub hosts: Vec<HostDto<'a>>,
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

/// The containers of a report, labelled with `host` in a fleet check.
fn containers<'a>(
    report: &'a VerifyReport,
    (host, node): (Option<&'a str>, Option<&'a str>),
) -> Vec<ContainerDto<'a>> {
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
            host,
            node,
        })
        .collect()
}

/// The report as its DTO.
pub fn verify(report: &VerifyReport) -> VerifyDto<'_> {
    VerifyDto {
        check: CheckDto {
            version: VERSION,
            project: report.project.as_deref(),
            engine: report.engine,
            ok: report.all_ok(),
            containers: containers(report, (None, None)),
            notes: Cow::Borrowed(&report.notes),
        },
        host: report.host.as_ref().map(super::host),
        tiers: report
            .tiers
            .iter()
            .map(|t| TierDto {
                tier: &t.tier,
                root: &t.root,
                mounted: t.absent.is_none(),
                why: t.absent.as_ref().map(|(a, _)| a.why.as_str()),
                hint: t.absent.as_ref().map(|(_, h)| h.as_str()),
            })
            .collect(),
    }
}

/// A fleet check as its DTO.
pub fn fleet(fleet: &FleetReport) -> FleetDto<'_> {
    let reports: Vec<(&str, Option<&str>, &VerifyReport)> = fleet
        .hosts
        .iter()
        .filter_map(|h| {
            let r = h.outcome.as_ref().ok()?;
            Some((h.host.as_str(), h.node.as_deref(), r))
        })
        .collect();
    let engines: Vec<EngineClass> = reports.iter().map(|(_, _, r)| r.engine).collect();
    FleetDto {
        check: CheckDto {
            version: VERSION,
            project: None,
            engine: match engines.split_first() {
                Some((first, rest)) if rest.iter().all(|e| e == first) => *first,
                _ => EngineClass::Unknown,
            },
            ok: fleet.all_ok(),
            containers: reports
                .iter()
                .flat_map(|(host, node, r)| containers(r, (Some(host), *node)))
                .collect(),
            notes: Cow::Owned(
                reports
                    .iter()
                    .flat_map(|(host, _, r)| r.notes.iter().map(move |n| format!("{host}: {n}")))
                    .collect(),
            ),
        },
        hosts: fleet.hosts.iter().map(host_dto).collect(),
    }
}

fn host_dto(h: &HostReport) -> HostDto<'_> {
    HostDto {
        host: &h.host,
        node: h.node.as_deref(),
        endpoint: h.endpoint.as_deref(),
        reachable: h.outcome.is_ok(),
        engine: h.outcome.as_ref().ok().map(|r| r.engine),
        ok: h.outcome.as_ref().is_ok_and(VerifyReport::all_ok),
        error: h.outcome.as_ref().err().map(|e| e.message.as_str()),
        hint: h.outcome.as_ref().err().and_then(|e| e.hint.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::reports::samples;

    #[test]
    fn json_is_versioned_and_names_every_verdict() {
        let value: serde_json::Value =
            serde_json::from_str(&super::super::pretty(&verify(&samples::verify()))).expect("JSON");
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

    /// The top-level keys of a pretty JSON object, in the order written.
    fn top_level_keys(text: &str) -> Vec<&str> {
        text.lines()
            .filter_map(|line| line.strip_prefix("  \""))
            .filter_map(|rest| rest.split_once('"').map(|(key, _)| key))
            .collect()
    }

    #[test]
    fn a_fleet_writes_the_single_engine_keys_first_in_their_order() {
        let fleet = super::super::pretty(&fleet(&samples::fleet()));
        let single = super::super::pretty(&verify(&samples::verify()));
        let mut expected = top_level_keys(&single);
        expected.push("hosts");
        assert_eq!(top_level_keys(&fleet), expected);
    }

    #[test]
    fn a_fleet_adds_host_fields_only() {
        let value: serde_json::Value =
            serde_json::from_str(&super::super::pretty(&fleet(&samples::fleet()))).expect("JSON");
        let single: serde_json::Value =
            serde_json::from_str(&super::super::pretty(&verify(&samples::verify()))).expect("JSON");
        // every key of the single-engine contract, and the same container objects plus `host`
        for key in single.as_object().expect("object").keys() {
            assert!(value.get(key).is_some(), "{key}");
        }
        assert!(single["containers"][0].get("host").is_none());
        let mut container = value["containers"][0].clone();
        assert_eq!(container["host"], "default");
        container.as_object_mut().expect("object").remove("host");
        assert_eq!(container, single["containers"][0]);
        assert_eq!(value["ok"], false);
        assert_eq!(value["hosts"][0]["reachable"], true);
        assert_eq!(value["hosts"][1]["host"], "nas");
        assert_eq!(value["hosts"][1]["reachable"], false);
        assert!(
            value["hosts"][1]["error"]
                .as_str()
                .expect("error")
                .contains("`nas`")
        );
    }
}
