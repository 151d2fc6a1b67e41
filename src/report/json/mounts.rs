//! `mounts --format json`: one typed row per mount.

use serde::Serialize;

use super::VERSION;
use crate::compose::model::Syntax;
use crate::mounts::MountView;
use crate::report::PathStyle;
use crate::report::reports::MountsReport;

/// `tierctl mounts --format json`.
#[derive(Serialize)]
pub struct MountsDto<'a> {
    /// Contract version.
    pub version: u32,
    /// Project name.
    pub project: &'a str,
    /// The mounts of the enabled services, in service and entry order.
    pub mounts: Vec<MountDto<'a>>,
    /// The machine whose paths are shown (`--context`/`-H`; absent without either).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<super::HostDto<'a>>,
}

/// One mount.
#[derive(Serialize)]
pub struct MountDto<'a> {
    /// Service name.
    pub service: &'a str,
    /// The file the entry is written in, as shown to the user.
    pub file: String,
    /// 1-based line of the source (short syntax: the entry), `null` when unknown.
    pub line: Option<usize>,
    /// 1-based column, `null` when unknown.
    pub column: Option<usize>,
    /// `bind`, `volume`, `tmpfs`, `image`, `npipe` or `cluster`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `short` or `long`.
    pub syntax: &'static str,
    /// The source after interpolation (a path or a volume key); `null` when anonymous.
    pub source: Option<&'a str>,
    /// The host directory holding the data, `null` when the engine stores it.
    pub host_path: Option<String>,
    /// `host_path` with symlinks resolved, `null` when it is the same.
    pub real_path: Option<String>,
    /// A named volume's engine name.
    pub volume_name: Option<&'a str>,
    /// The container path.
    pub target: &'a str,
    /// Read-only mount.
    pub read_only: bool,
    /// The tier the data is on now, `null` when on none.
    pub tier: Option<&'a str>,
    /// Where placement puts the data, `null` when placement does not apply.
    pub placement: Option<PlacementDto<'a>>,
}

/// Where placement puts a mount's data.
#[derive(Serialize)]
pub struct PlacementDto<'a> {
    /// The tier.
    pub tier: &'a str,
    /// The directory.
    pub path: String,
}

fn mount<'a>(v: &'a MountView, paths: &PathStyle) -> MountDto<'a> {
    MountDto {
        service: &v.service,
        file: paths.show(&v.origin.file),
        line: v.origin.position.map(|p| p.line),
        column: v.origin.position.map(|p| p.column),
        kind: v.kind.as_str(),
        syntax: match v.syntax {
            Syntax::Short => "short",
            Syntax::Long => "long",
        },
        source: v.source.as_deref(),
        host_path: v.host_path.as_ref().map(|p| p.display().to_string()),
        real_path: v.real_path.as_ref().map(|p| p.display().to_string()),
        volume_name: v.volume_name.as_deref(),
        target: &v.target,
        read_only: v.read_only,
        tier: v.tier.as_deref(),
        placement: v.placement.as_ref().map(|p| PlacementDto {
            tier: &p.tier,
            path: p.path.display().to_string(),
        }),
    }
}

/// The DTO of a `mounts` report.
pub fn mounts<'a>(report: &'a MountsReport, paths: &PathStyle) -> MountsDto<'a> {
    MountsDto {
        version: VERSION,
        project: &report.project,
        host: report.host.as_ref().map(super::host),
        mounts: report.mounts.iter().map(|v| mount(v, paths)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_row_per_mount() {
        let mut report = MountsReport {
            project: "app".into(),
            mounts: crate::mounts::tests::sample(),
            host: None,
        };
        let text = serde_json::to_string(&mounts(&report, &PathStyle { cwd: "/p".into() }))
            .expect("serialises");
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(v["version"], VERSION);
        assert_eq!(v["mounts"][0]["file"], "compose.yaml");
        assert_eq!(v["mounts"][0]["volume_name"], "app_pg");
        assert_eq!(v["mounts"][0]["tier"], serde_json::Value::Null);
        assert_eq!(v["mounts"][0]["placement"]["tier"], "fast");
        assert_eq!(v["mounts"][1]["tier"], "warm");
        assert_eq!(v["mounts"][1]["real_path"], "/t/warm/photos");
        assert_eq!(v["mounts"][3]["type"], "tmpfs");
        assert_eq!(v["mounts"][3]["syntax"], "long");
        assert_eq!(v["mounts"][3]["placement"], serde_json::Value::Null);
        assert!(v.get("host").is_none(), "no host without --context: {v}");
        report.host = Some(crate::host::Host {
            context: "nas".into(),
            endpoint: "ssh://me@nas".into(),
            remote: true,
            name: None,
            rule: crate::host::Rule::ContextMark,
        });
        let v = serde_json::to_value(mounts(&report, &PathStyle { cwd: "/p".into() }))
            .expect("serialises");
        assert_eq!(v["host"]["context"], "nas");
        assert_eq!(v["host"]["remote"], true);
    }
}
