//! `tierctl mounts`: every mount of the project with its origin, type, source, target, the tier
//! its data is on and where placement puts it: the storage view of `docker compose config`.
//! [`views`] assembles the rows from the project, tiers and facts (pure); [`human`] and [`json`]
//! render them.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;
use tabled::settings::{Padding, Style};
use tabled::{Table, Tabled};

use crate::audit::{host_path, is_system};
use crate::compose::model::{ComposeProject, MountType, Service, VolumeMount};
use crate::facts::Facts;
use crate::report::PathStyle;
use crate::report::json::VERSION;
use crate::tiers::{Placement, Subject, Tiers};

/// One mount of an enabled service, with what tierctl knows about its storage.
#[derive(Debug, Clone)]
pub struct MountView<'a> {
    /// The service.
    pub service: &'a Service,
    /// The mount as loaded.
    pub mount: &'a VolumeMount,
    /// A named volume's engine name (`project_key`, `name:`, or the external name).
    pub volume_name: Option<String>,
    /// The host directory holding the data (a bind's source, a bind-like volume's device).
    pub host_path: Option<PathBuf>,
    /// `host_path` with every symlink resolved, when it differs.
    pub real_path: Option<PathBuf>,
    /// The tier the data is on now (by its real path).
    pub tier: Option<String>,
    /// Where placement puts the data; `None` for system paths, tmpfs and anonymous volumes.
    pub placement: Option<Placement>,
}

/// The mounts of every enabled service, in service and entry order.
pub fn views<'a>(project: &'a ComposeProject, tiers: &Tiers, facts: &Facts) -> Vec<MountView<'a>> {
    let mut out = Vec::new();
    for service in project.enabled_services() {
        for mount in &service.mounts {
            out.push(view(project, tiers, facts, service, mount));
        }
    }
    out
}

fn view<'a>(
    project: &'a ComposeProject,
    tiers: &Tiers,
    facts: &Facts,
    service: &'a Service,
    mount: &'a VolumeMount,
) -> MountView<'a> {
    let volume_name = project
        .volume_for(mount)
        .map(|v| v.effective_name(&project.name));
    let host = host_path(project, mount);
    let real = host
        .as_deref()
        .and_then(|p| facts.path(p))
        .and_then(|f| f.real.clone())
        .filter(|real| Some(real) != host.as_ref());
    // by the real path; a path under an access point that does not resolve here (another
    // machine's `/Volumes/Photos`) is on the access point's tier
    let tier = real
        .as_deref()
        .or(host.as_deref())
        .and_then(|p| tiers.tier_of(p))
        .map(|t| t.name.clone())
        .or_else(|| {
            let point = tiers.access_point_for(host.as_deref()?)?;
            Some(point.tier.clone())
        });
    let placed = match mount.kind {
        MountType::Bind => host.as_deref().is_some_and(|p| !is_system(p)),
        MountType::Volume => mount.source.is_some(),
        _ => false,
    };
    let placement = placed
        .then(|| {
            tiers.place(&Subject {
                project: &project.name,
                service: &service.name,
                image: service.image.as_deref(),
                target: &mount.target,
                volume: match mount.kind {
                    MountType::Volume => mount.source.as_deref(),
                    _ => None,
                },
            })
        })
        .flatten();
    MountView {
        service,
        mount,
        volume_name,
        host_path: host,
        real_path: real,
        tier,
        placement,
    }
}

fn origin(view: &MountView<'_>, paths: &PathStyle) -> String {
    let file = paths.show(&view.mount.origin.file);
    match view.mount.origin.position {
        Some(p) => format!("{file}:{}:{}", p.line, p.column),
        None => file,
    }
}

/// A source as one table cell: the host path (and its real path), or the volume and its
/// engine name. Control characters are escaped so one mount stays on one line.
fn source_text(view: &MountView<'_>) -> String {
    let text = match (view.mount.kind, &view.host_path, &view.volume_name) {
        (MountType::Bind, Some(host), _) => match &view.real_path {
            Some(real) => format!("{} -> {}", host.display(), real.display()),
            None => host.display().to_string(),
        },
        (MountType::Volume, _, Some(name)) => {
            let key = view.mount.display_source();
            if *name == key {
                key
            } else {
                format!("{key} ({name})")
            }
        }
        (MountType::Volume, _, _) => view.mount.display_source(),
        _ => view.mount.source.clone().unwrap_or_else(|| "-".to_owned()),
    };
    text.escape_debug().to_string()
}

#[derive(Tabled)]
struct Row {
    #[tabled(rename = "ORIGIN")]
    origin: String,
    #[tabled(rename = "SERVICE")]
    service: String,
    #[tabled(rename = "TYPE")]
    kind: &'static str,
    #[tabled(rename = "SOURCE")]
    source: String,
    #[tabled(rename = "TARGET")]
    target: String,
    #[tabled(rename = "TIER")]
    tier: String,
    #[tabled(rename = "PLACEMENT")]
    placement: String,
}

/// The mounts as an aligned table, then a count line.
pub fn human(project: &str, views: &[MountView<'_>], paths: &PathStyle) -> String {
    let mut out = String::new();
    let rows: Vec<Row> = views
        .iter()
        .map(|v| Row {
            origin: origin(v, paths),
            service: v.service.name.clone(),
            kind: v.mount.kind.as_str(),
            source: source_text(v),
            target: format!(
                "{}{}",
                v.mount.target.escape_debug(),
                if v.mount.read_only { " (ro)" } else { "" }
            ),
            tier: v.tier.clone().unwrap_or_else(|| "-".into()),
            placement: v.placement.as_ref().map_or_else(
                || "-".into(),
                |p| {
                    format!(
                        "{}: {}",
                        p.tier,
                        p.path.display().to_string().escape_debug()
                    )
                },
            ),
        })
        .collect();
    if !rows.is_empty() {
        let table = Table::new(rows)
            .with(Style::blank())
            .with(Padding::new(0, 2, 0, 0))
            .to_string();
        for line in table.lines() {
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    let n = views.len();
    let _ = writeln!(
        out,
        "project {project}: {n} mount{}",
        if n == 1 { "" } else { "s" }
    );
    out
}

/// `tierctl mounts --format json`.
#[derive(Serialize)]
pub struct MountsReport<'a> {
    /// Contract version.
    pub version: u32,
    /// Project name.
    pub project: &'a str,
    /// The mounts of the enabled services, in service and entry order.
    pub mounts: Vec<MountDto<'a>>,
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

/// One mount as its DTO.
fn dto<'a>(v: &'a MountView<'a>, paths: &PathStyle) -> MountDto<'a> {
    let syntax = match v.mount.syntax {
        crate::compose::model::Syntax::Short => "short",
        crate::compose::model::Syntax::Long => "long",
    };
    MountDto {
        service: &v.service.name,
        file: paths.show(&v.mount.origin.file),
        line: v.mount.origin.position.map(|p| p.line),
        column: v.mount.origin.position.map(|p| p.column),
        kind: v.mount.kind.as_str(),
        syntax,
        source: v.mount.source.as_deref(),
        host_path: v.host_path.as_ref().map(|p| p.display().to_string()),
        real_path: v.real_path.as_ref().map(|p| p.display().to_string()),
        volume_name: v.volume_name.as_deref(),
        target: &v.mount.target,
        read_only: v.mount.read_only,
        tier: v.tier.as_deref(),
        placement: v.placement.as_ref().map(|p| PlacementDto {
            tier: &p.tier,
            path: p.path.display().to_string(),
        }),
    }
}

/// The mounts as pretty JSON.
pub fn json(project: &str, views: &[MountView<'_>], paths: &PathStyle) -> String {
    let report = MountsReport {
        version: VERSION,
        project,
        mounts: views.iter().map(|v| dto(v, paths)).collect(),
    };
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_else(|e| {
        format!("{{\"version\": {VERSION}, \"error\": \"cannot render mounts: {e}\"}}")
    });
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::compose::load::{Files, LoadOptions, load};
    use crate::facts::PathFacts;

    struct Text(&'static str);

    impl Files for Text {
        fn read(&self, _: &Path) -> std::io::Result<String> {
            Ok(self.0.to_owned())
        }
        fn is_file(&self, path: &Path) -> bool {
            path.ends_with("compose.yaml")
        }
    }

    const COMPOSE: &str = "name: app\nservices:\n  db:\n    image: postgres:16\n    volumes:\n      - pg:/var/lib/postgresql/data\n      - /photos:/photos:ro\n      - /etc/localtime:/etc/localtime:ro\n      - type: tmpfs\n        target: /tmp\nvolumes:\n  pg:\n";

    const TIERS: &str = "tiers:\n  fast: { root: /t/fast }\n  warm: { root: /t/warm }\nplacement:\n  - tier: fast\n    path: '{project}/{volume}'\n";

    fn render(f: impl Fn(&[MountView<'_>], &PathStyle) -> String) -> String {
        let options = LoadOptions {
            files: vec!["/p/compose.yaml".into()],
            working_dir: "/p".into(),
            ..LoadOptions::default()
        };
        let project = load(&options, &Text(COMPOSE)).expect("compose loads");
        let tiers = crate::tiers::load(Path::new("tiers.yaml"), TIERS).expect("tiers");
        let mut facts = Facts::default();
        facts.paths.insert(
            "/photos".into(),
            PathFacts {
                path: "/photos".into(),
                hops: Vec::new(),
                real: Some("/t/warm/photos".into()),
                exists: true,
                is_dir: true,
                problem: None,
            },
        );
        let views = views(&project, &tiers, &facts);
        f(
            &views,
            &PathStyle {
                cwd: PathBuf::from("/p"),
            },
        )
    }

    #[test]
    fn rows_name_origin_tier_now_and_placement() {
        let text = render(|views, paths| human("app", views, paths));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(lines[1].starts_with("compose.yaml:6:9"), "{text}");
        assert!(lines[1].contains("pg (app_pg)"), "{text}");
        assert!(lines[1].contains("fast: /t/fast/app/pg"), "{text}");
        assert!(lines[2].contains("/photos -> /t/warm/photos"), "{text}");
        let words = |line: &str| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(words(lines[2])[7..9], ["(ro)", "warm"], "{text}");
        // a system path and a tmpfs have no tier and no placement
        assert_eq!(words(lines[3])[5..], ["(ro)", "-", "-"], "{text}");
        assert_eq!(
            words(lines[4])[1..],
            ["db", "tmpfs", "-", "/tmp", "-", "-"],
            "{text}"
        );
        assert_eq!(lines[5], "project app: 4 mounts");
    }

    #[test]
    fn json_has_a_typed_row_per_mount() {
        let text = render(|views, paths| json("app", views, paths));
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(v["version"], VERSION);
        assert_eq!(v["mounts"][0]["volume_name"], "app_pg");
        assert_eq!(v["mounts"][0]["tier"], serde_json::Value::Null);
        assert_eq!(v["mounts"][0]["placement"]["tier"], "fast");
        assert_eq!(v["mounts"][1]["tier"], "warm");
        assert_eq!(v["mounts"][1]["real_path"], "/t/warm/photos");
        assert_eq!(v["mounts"][3]["type"], "tmpfs");
        assert_eq!(v["mounts"][3]["syntax"], "long");
        assert_eq!(v["mounts"][3]["placement"], serde_json::Value::Null);
    }
}
