//! The storage view of a project (`tierctl mounts`): every mount of the enabled services with
//! its origin, type, source, target, the tier its data is on now and where placement puts it,
//! the storage part of `docker compose config`. Pure: project, tiers and facts in, rows out.

use std::path::PathBuf;

use crate::audit::host_path;
use crate::compose::model::{ComposeProject, MountId, MountType, Service, Syntax, VolumeMount};
use crate::compose::origin::Place;
use crate::facts::Facts;
use crate::facts::is_system_path as is_system;
use crate::tiers::{Placement, Subject, Tiers};

/// One mount of an enabled service, with what tierctl knows about its storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountView {
    /// The mount's identity in the loaded project.
    pub id: MountId,
    /// The service.
    pub service: String,
    /// Where the entry is written (its source for the long syntax).
    pub origin: Place,
    /// Bind, volume, tmpfs, ...
    pub kind: MountType,
    /// Short or long syntax.
    pub syntax: Syntax,
    /// The source after interpolation (a path or a volume key); `None` when anonymous.
    pub source: Option<String>,
    /// The container path.
    pub target: String,
    /// Read-only mount.
    pub read_only: bool,
    /// A named volume's engine name (`project_key`, `name:`, or the external name).
    pub volume_name: Option<String>,
    /// The host directory holding the data (a bind's source, a bind-like volume's device).
    pub host_path: Option<PathBuf>,
    /// `host_path` with every symlink resolved, when it differs.
    pub real_path: Option<PathBuf>,
    /// The tier the data is on now.
    pub tier: Option<String>,
    /// Where placement puts the data; `None` for system paths, tmpfs and anonymous volumes.
    pub placement: Option<Placement>,
}

/// The mounts of every enabled service, in service and entry order.
pub fn views(project: &ComposeProject, tiers: &Tiers, facts: &Facts) -> Vec<MountView> {
    project
        .enabled_services()
        .flat_map(|service| {
            service
                .mounts
                .iter()
                .map(move |mount| view(project, tiers, facts, service, mount))
        })
        .collect()
}

fn view(
    project: &ComposeProject,
    tiers: &Tiers,
    facts: &Facts,
    service: &Service,
    mount: &VolumeMount,
) -> MountView {
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
    let volume = match mount.kind {
        MountType::Volume => mount.source.as_deref(),
        _ => None,
    };
    let placement = placed
        .then(|| {
            tiers.place(&Subject {
                project: &project.name,
                service: &service.name,
                image: service.image.as_deref(),
                target: &mount.target,
                volume,
            })
        })
        .flatten();
    MountView {
        id: mount.id,
        service: service.name.clone(),
        origin: Place {
            file: mount.origin.file.clone(),
            position: mount.origin.position,
        },
        kind: mount.kind,
        syntax: mount.syntax,
        source: mount.source.clone(),
        target: mount.target.clone(),
        read_only: mount.read_only,
        volume_name: project
            .volume_for(mount)
            .map(|v| v.effective_name(&project.name)),
        host_path: host,
        real_path: real,
        tier,
        placement,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    use super::*;
    use crate::facts::PathFacts;

    const COMPOSE: &str = "name: app\nservices:\n  db:\n    image: postgres:16\n    volumes:\n      - pg:/var/lib/postgresql/data\n      - /photos:/photos:ro\n      - /etc/localtime:/etc/localtime:ro\n      - type: tmpfs\n        target: /tmp\n      - /Volumes/Photos/2024:/y\nvolumes:\n  pg:\n";

    const TIERS: &str = "tiers:\n  fast: { root: /t/fast }\n  warm: { root: /t/warm }\naccess_points:\n  /Volumes/Photos: fast:photos\nplacement:\n  - tier: fast\n    path: '{project}/{volume}'\n";

    /// The views of [`COMPOSE`], with `/photos` a symlink to `/t/warm/photos`.
    pub(crate) fn sample() -> Vec<MountView> {
        let project = crate::compose::load::one_file::project(COMPOSE);
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
        views(&project, &tiers, &facts)
    }

    #[test]
    fn each_mount_has_its_tier_now_and_its_placement() {
        let v = sample();
        assert_eq!(v.len(), 5);
        assert_eq!(v[0].volume_name.as_deref(), Some("app_pg"));
        assert_eq!(v[0].tier, None, "a named volume is on no tier");
        let placed = v[0].placement.as_ref().expect("placed");
        assert_eq!(
            (placed.tier.as_str(), placed.path.as_path()),
            ("fast", Path::new("/t/fast/app/pg"))
        );
        assert_eq!(v[1].real_path.as_deref(), Some(Path::new("/t/warm/photos")));
        assert_eq!(v[1].tier.as_deref(), Some("warm"), "by the real path");
        assert_eq!(v[2].placement, None, "a system path is left alone");
        assert_eq!(
            (v[3].kind, v[3].placement.is_none()),
            (MountType::Tmpfs, true)
        );
        assert_eq!(v[4].tier.as_deref(), Some("fast"), "by the access point");
        assert_eq!(
            v[1].origin.position.map(|p| (p.line, p.column)),
            Some((7, 9))
        );
    }
}
