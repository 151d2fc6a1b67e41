//! Each check on plain data: a hand-made project, hand-made facts, tiers from text.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::{
    Check, Context, Finding, Fix, Mode, Reason, RebindAction, Severity, Via, audit, fixes,
};
use crate::compose::env::ComposeEnv;
use crate::compose::model::{
    ComposeProject, MountId, MountType, Service, Syntax, TopVolume, VolumeMount,
};
use crate::compose::origin::{Origin, Position, Reach, Route};
use crate::facts::{Facts, Hop, PathFacts, PathProblem};
use crate::tiers::Tiers;

const TIERS: &str = "tiers:\n  fast: { root: /t/fast }\n  warm: { root: /t/warm }\n  cold: { root: /t/cold }\naccess_points:\n  /Volumes/Photos: fast:photos\n";

fn tiers() -> Tiers {
    crate::tiers::load(Path::new("/p/tiers.yaml"), TIERS).expect("tiers parse")
}

fn origin(line: usize) -> Origin {
    Origin {
        file: PathBuf::from("/p/compose.yaml"),
        route: Route::default(),
        position: Some(Position { line, column: 9 }),
        text: String::new(),
        reach: Reach::Direct,
        variables: Vec::new(),
    }
}

fn bind(source: &str, target: &str) -> VolumeMount {
    let host = if let Some(rel) = source.strip_prefix("./") {
        PathBuf::from("/p").join(rel)
    } else {
        PathBuf::from(source)
    };
    VolumeMount {
        id: MountId::default(),
        kind: MountType::Bind,
        syntax: Syntax::Short,
        source: Some(source.into()),
        host_path: Some(host),
        target: target.into(),
        read_only: false,
        modes: Vec::new(),
        create_host_path: true,
        nocopy: false,
        subpath: None,
        propagation: None,
        selinux: None,
        origin: origin(1),
    }
}

fn volume(key: Option<&str>, target: &str) -> VolumeMount {
    VolumeMount {
        kind: MountType::Volume,
        source: key.map(str::to_owned),
        host_path: None,
        ..bind("/unused", target)
    }
}

fn top(key: &str, edit: impl FnOnce(&mut TopVolume)) -> (String, TopVolume) {
    let mut v = TopVolume {
        key: key.into(),
        name: None,
        external: false,
        driver: None,
        driver_opts: IndexMap::new(),
        origin: origin(1),
        project_dir: PathBuf::from("/p"),
    };
    edit(&mut v);
    (key.into(), v)
}

fn project(
    image: &str,
    mounts: Vec<VolumeMount>,
    volumes: Vec<(String, TopVolume)>,
) -> ComposeProject {
    let service = Service {
        name: "app".into(),
        image: Some(image.into()),
        profiles: Vec::new(),
        enabled: true,
        mounts,
        volumes_from: Vec::new(),
        stop_grace_period: None,
        needs: Vec::new(),
        deploy: Default::default(),
        origin: origin(1),
    };
    let mut project = ComposeProject {
        name: "proj".into(),
        dir: PathBuf::from("/p"),
        files: vec![PathBuf::from("/p/compose.yaml")],
        given: vec![PathBuf::from("/p/compose.yaml")],
        services: [("app".to_owned(), service)].into_iter().collect(),
        volumes: volumes.into_iter().collect(),
        environment: ComposeEnv::new(),
        texts: Default::default(),
        unset_variables: Vec::new(),
        refusals: Vec::new(),
    };
    project.assign_mount_ids();
    project
}

fn dir(path: &str) -> PathFacts {
    PathFacts {
        path: path.into(),
        hops: Vec::new(),
        real: Some(path.into()),
        exists: true,
        is_dir: true,
        problem: None,
    }
}

fn linked(path: &str, real: &str) -> PathFacts {
    PathFacts {
        hops: vec![Hop {
            link: path.into(),
            target: real.into(),
            resolved: real.into(),
        }],
        real: Some(real.into()),
        ..dir(path)
    }
}

fn run(project: &ComposeProject, facts: Vec<PathFacts>) -> Vec<Finding> {
    let facts = Facts {
        paths: facts.into_iter().map(|f| (f.path.clone(), f)).collect(),
        ..Facts::default()
    };
    audit(&Context {
        project,
        tiers: &tiers(),
        facts: &facts,
    })
}

fn checks(findings: &[Finding]) -> Vec<(Check, Severity)> {
    findings.iter().map(|f| (f.check, f.severity)).collect()
}

#[test]
fn symlinked_bind_names_link_real_path_and_tier() {
    let p = project(
        "immich-server",
        vec![bind("/Volumes/Photos", "/data")],
        vec![],
    );
    let f = run(&p, vec![linked("/Volumes/Photos", "/t/fast/photos")]);
    assert_eq!(checks(&f), [(Check::SymlinkedBind, Severity::Warning)]);
    assert_eq!(
        f[0].message,
        "app: /Volumes/Photos -> /t/fast/photos (fast tier)"
    );
    assert!(f[0].hint.contains("`/t/fast/photos`"));
}

#[test]
fn circular_symlink_is_an_error_and_silences_path_checks() {
    let mut loop_facts = linked("/t/fast/a", "/t/fast/b");
    loop_facts.real = None;
    loop_facts.exists = false;
    loop_facts.problem = Some(PathProblem::Loop {
        at: "/t/fast/a".into(),
    });
    let p = project("x", vec![bind("/t/fast/a", "/a")], vec![]);
    assert_eq!(
        checks(&run(&p, vec![loop_facts])),
        [(Check::CircularSymlink, Severity::Error)]
    );
}

#[test]
fn cross_tier_symlink_from_fast_to_cold() {
    let p = project("x", vec![bind("/t/fast/archive", "/archive")], vec![]);
    let f = run(&p, vec![linked("/t/fast/archive", "/t/cold/archive")]);
    assert!(checks(&f).contains(&(Check::CrossTierSymlink, Severity::Warning)));
}

#[test]
fn access_point_leading_off_its_tier() {
    let p = project("x", vec![bind("/Volumes/Photos", "/photos")], vec![]);
    let f = run(&p, vec![linked("/Volumes/Photos", "/t/warm/photos")]);
    let cross: Vec<&Finding> = f
        .iter()
        .filter(|f| f.check == Check::CrossTierSymlink)
        .collect();
    assert_eq!(cross.len(), 1);
    assert!(
        cross[0].message.contains("stands for /t/fast/photos"),
        "{}",
        cross[0].message
    );
}

#[test]
fn named_volume_warns_with_engine_name_and_placement() {
    let p = project(
        "postgres:16",
        vec![volume(Some("pgdata"), "/var/lib/postgresql/data")],
        vec![top("pgdata", |_| {})],
    );
    let f = run(&p, vec![]);
    assert_eq!(checks(&f), [(Check::NamedVolume, Severity::Warning)]);
    assert!(f[0].message.contains("volume `proj_pgdata`"));
    assert!(
        f[0].hint.contains("/t/fast/databases/proj/app"),
        "{}",
        f[0].hint
    );
}

#[test]
fn volumes_left_alone_are_info() {
    let p = project(
        "x",
        vec![
            volume(None, "/anon"),
            volume(Some("ext"), "/ext"),
            volume(Some("nfs"), "/nfs"),
            volume(Some("driver"), "/driver"),
        ],
        vec![
            top("ext", |v| v.external = true),
            top("nfs", |v| {
                v.driver_opts.insert("type".into(), "nfs".into());
            }),
            top("driver", |v| v.driver = Some("rexray/s3fs".into())),
        ],
    );
    let f = run(&p, vec![]);
    assert_eq!(f.len(), 4);
    assert!(f.iter().all(|f| f.severity == Severity::Info), "{f:#?}");
}

#[test]
fn undeclared_volume_is_an_error() {
    let p = project("x", vec![volume(Some("nope"), "/n")], vec![]);
    assert_eq!(
        checks(&run(&p, vec![])),
        [(Check::NamedVolume, Severity::Error)]
    );
}

#[test]
fn bind_in_disguise_is_checked_as_a_bind() {
    let p = project(
        "x",
        vec![volume(Some("data"), "/data")],
        vec![top("data", |v| {
            v.driver_opts.insert("type".into(), "none".into());
            v.driver_opts.insert("o".into(), "bind".into());
            v.driver_opts.insert("device".into(), "/srv/data".into());
        })],
    );
    let f = run(&p, vec![dir("/srv/data")]);
    assert_eq!(checks(&f), [(Check::BindOutsideTiers, Severity::Warning)]);
}

#[test]
fn wrong_tier_for_metadata_on_warm() {
    let p = project(
        "lscr.io/linuxserver/plex",
        vec![bind("/t/warm/plex/config", "/config")],
        vec![],
    );
    let f = run(&p, vec![dir("/t/warm/plex/config")]);
    assert_eq!(checks(&f), [(Check::WrongTier, Severity::Warning)]);
    assert!(
        f[0].message
            .contains("on the warm tier; placement puts /config on the fast tier")
    );
}

#[test]
fn missing_bind_source_warns_or_errors() {
    let mut missing = dir("/t/fast/new");
    missing.exists = false;
    missing.is_dir = false;
    let p = project("x", vec![bind("/t/fast/new", "/config")], vec![]);
    assert_eq!(
        checks(&run(&p, vec![missing.clone()])),
        [(Check::MissingBindSource, Severity::Warning)]
    );
    let mut strict = bind("/t/fast/new", "/config");
    strict.create_host_path = false;
    let p = project("x", vec![strict], vec![]);
    assert_eq!(
        checks(&run(&p, vec![missing])),
        [(Check::MissingBindSource, Severity::Error)]
    );
}

#[test]
fn relative_bind_is_info_and_names_the_resolved_path() {
    let p = project("x", vec![bind("./data", "/data")], vec![]);
    let f = run(&p, vec![dir("/p/data")]);
    let relative: Vec<_> = f
        .iter()
        .filter(|f| f.check == Check::RelativeBind)
        .collect();
    assert_eq!(relative.len(), 1);
    assert_eq!(relative[0].severity, Severity::Info);
    assert!(relative[0].message.contains("/p/data"));
}

#[test]
fn issue12_data_outside_every_tier_is_a_warning_however_written() {
    // Immich's default `.env`: `DB_DATA_LOCATION=./postgres`, in the project directory on no
    // tier. Written relative or absolute, it is the same warning.
    let p = project(
        "x",
        vec![
            bind("./postgres", "/var/lib/postgresql/data"),
            bind("/p/postgres", "/var/lib/postgresql/data"),
        ],
        vec![],
    );
    let f = run(&p, vec![dir("/p/postgres")]);
    let outside: Vec<_> = f
        .iter()
        .filter(|f| f.check == Check::BindOutsideTiers)
        .map(|f| f.severity)
        .collect();
    assert_eq!(outside, [Severity::Warning, Severity::Warning], "{f:?}");
}

#[test]
fn system_paths_and_files_are_left_alone() {
    let mut file = dir("/srv/app.conf");
    file.is_dir = false;
    let p = project(
        "x",
        vec![
            bind("/etc/localtime", "/etc/localtime"),
            bind("/var/run/docker.sock", "/var/run/docker.sock"),
            bind("/srv/app.conf", "/app.conf"),
        ],
        vec![],
    );
    assert_eq!(
        run(
            &p,
            vec![linked("/etc/localtime", "/usr/share/zoneinfo/UTC"), file]
        ),
        []
    );
}

#[test]
fn tier_membership_is_component_wise() {
    let p = project("x", vec![bind("/t/fastx/data", "/data")], vec![]);
    let f = run(&p, vec![dir("/t/fastx/data")]);
    assert_eq!(checks(&f), [(Check::BindOutsideTiers, Severity::Warning)]);
}

#[test]
fn a_correct_bind_has_no_finding() {
    let p = project(
        "postgres:16",
        vec![bind(
            "/t/fast/databases/proj/app",
            "/var/lib/postgresql/data",
        )],
        vec![],
    );
    assert_eq!(run(&p, vec![dir("/t/fast/databases/proj/app")]), []);
}

#[test]
fn disabled_services_are_not_audited() {
    let mut p = project("x", vec![volume(Some("v"), "/v")], vec![top("v", |_| {})]);
    p.services["app"].enabled = false;
    assert_eq!(run(&p, vec![]), []);
}

mod vm {
    //! The VM checks on plain data: a Colima VM sharing `$HOME` writable over sshfs and
    //! `/Volumes/ro` read-only.

    use super::*;
    use crate::audit::audit_vm;
    use crate::endpoint::EngineGuess;
    use crate::share::{Share, VmView};

    fn colima() -> VmView {
        crate::share::colima(vec![
            Share::same_path("/Users/alice", true, Some("sshfs")),
            Share::same_path("/Volumes/ro", false, Some("sshfs")),
        ])
    }

    fn run_vm(project: &ComposeProject, facts: Vec<PathFacts>, view: &VmView) -> Vec<Finding> {
        let facts = Facts {
            paths: facts.into_iter().map(|f| (f.path.clone(), f)).collect(),
            ..Facts::default()
        };
        audit_vm(project, &facts, view)
    }

    #[test]
    fn symlink_into_an_unshared_volume_is_vm_share_missing() {
        let p = project(
            "nginx",
            vec![bind("/Users/alice/photos", "/photos")],
            vec![],
        );
        let facts = vec![linked("/Users/alice/photos", "/Volumes/faststore/photos")];
        let findings = run_vm(&p, facts, &colima());
        assert_eq!(
            checks(&findings),
            [(Check::VmShareMissing, Severity::Error)]
        );
        assert!(findings[0].message.contains("/Volumes/faststore/photos"));
    }

    #[test]
    fn read_only_share_of_a_writable_mount_is_vm_share_readonly() {
        let mut ro = bind("/Volumes/ro/lib", "/lib-ro");
        ro.read_only = true;
        let p = project("nginx", vec![bind("/Volumes/ro/data", "/data"), ro], vec![]);
        let facts = vec![dir("/Volumes/ro/data"), dir("/Volumes/ro/lib")];
        let findings = run_vm(&p, facts, &colima());
        assert_eq!(
            checks(&findings),
            [(Check::VmShareReadonly, Severity::Error)]
        );
    }

    #[test]
    fn postgres_on_an_sshfs_share_is_db_on_vm_share() {
        let p = project(
            "postgres:16",
            vec![bind("/Users/alice/db", "/var/lib/postgresql/data")],
            vec![],
        );
        let findings = run_vm(&p, vec![dir("/Users/alice/db")], &colima());
        assert_eq!(checks(&findings), [(Check::DbOnVmShare, Severity::Warning)]);
    }

    fn shared_as(mount_type: &str) -> VmView {
        crate::share::colima(vec![Share::same_path(
            "/Users/alice",
            true,
            Some(mount_type),
        )])
    }

    /// Issue 22 item 3: a database on any VM share, virtiofs included, and never advised
    /// onto one.
    #[test]
    fn issue22_a_database_by_image_on_every_share_type() {
        let p = project(
            "lscr.io/linuxserver/radarr:latest",
            vec![
                bind("/Users/alice/radarr", "/config"),
                bind("/Users/alice/movies", "/movies"),
            ],
            vec![],
        );
        let facts = || vec![dir("/Users/alice/radarr"), dir("/Users/alice/movies")];
        for mount_type in ["virtiofs", "sshfs", "reverse-sshfs", "9p", "grpcfuse"] {
            let findings = run_vm(&p, facts(), &shared_as(mount_type));
            assert_eq!(
                checks(&findings),
                [(Check::DbOnVmShare, Severity::Warning)],
                "{mount_type}"
            );
            let f = &findings[0];
            assert_eq!(f.target.as_deref(), Some("/config"), "{mount_type}");
            assert!(
                f.message.contains(&format!("a {mount_type} share")),
                "{}",
                f.message
            );
            assert!(!f.hint.contains("virtiofs"), "{}", f.hint);
            assert!(f.hint.contains("named volume"), "{}", f.hint);
        }
    }

    /// Issue 22 item 3: found by what the bind source holds when the image says nothing.
    #[test]
    fn issue22_a_database_by_content_on_a_virtiofs_share() {
        let p = project(
            "example/app",
            vec![
                bind("/Users/alice/state", "/state"),
                bind("/Users/alice/media", "/media"),
            ],
            vec![],
        );
        let mut facts = Facts {
            paths: [dir("/Users/alice/state"), dir("/Users/alice/media")]
                .into_iter()
                .map(|f| (f.path.clone(), f))
                .collect(),
            ..Facts::default()
        };
        facts.databases.insert(
            "/Users/alice/state".into(),
            vec![
                crate::facts::DatabaseSign::Sqlite {
                    file: "app.db".into(),
                },
                crate::facts::DatabaseSign::SqliteJournal {
                    file: "app.db-wal".into(),
                },
            ],
        );
        let findings = audit_vm(&p, &facts, &shared_as("virtiofs"));
        assert_eq!(checks(&findings), [(Check::DbOnVmShare, Severity::Warning)]);
        assert!(
            findings[0]
                .message
                .contains("SQLite files (app.db, app.db-wal)"),
            "{}",
            findings[0].message
        );
        // the same files on the VM's own disk (not shared) are fine
        let not_shared = crate::share::colima(vec![Share::same_path("/Volumes", true, None)]);
        let findings = audit_vm(&p, &facts, &not_shared);
        assert!(
            findings.iter().all(|f| f.check != Check::DbOnVmShare),
            "{findings:?}"
        );
    }

    /// Issue 22 item 5: a watched library on a share that carries no host event.
    #[test]
    fn issue22_a_watched_library_on_a_share_without_host_events() {
        let p = project(
            "lscr.io/linuxserver/jellyfin:latest",
            vec![
                bind("/Users/alice/jellyfin", "/config"),
                bind("/Users/alice/movies", "/data/movies"),
            ],
            vec![],
        );
        let facts = || vec![dir("/Users/alice/jellyfin"), dir("/Users/alice/movies")];
        for mount_type in ["virtiofs", "sshfs", "reverse-sshfs", "9p"] {
            let findings: Vec<Finding> = run_vm(&p, facts(), &shared_as(mount_type))
                .into_iter()
                .filter(|f| f.check == Check::WatchedLibraryOnVmShare)
                .collect();
            assert_eq!(findings.len(), 1, "{mount_type}: {findings:?}");
            let f = &findings[0];
            assert_eq!(f.target.as_deref(), Some("/data/movies"));
            assert!(f.message.contains("real-time monitoring"), "{}", f.message);
            assert!(f.hint.contains("Scan Media Library"), "{}", f.hint);
        }
        // Docker Desktop forwards host events itself: not judged
        let desktop = VmView {
            engine: EngineGuess::DockerDesktop,
            shares: Some(crate::share::VmShares {
                engine: crate::share::VmEngine::DockerDesktop,
                instance: None,
                shares: vec![Share::same_path("/Users", true, Some("virtiofs"))],
                source_files: Vec::new(),
                notes: Vec::new(),
            }),
        };
        assert!(
            run_vm(&p, facts(), &desktop)
                .iter()
                .all(|f| f.check != Check::WatchedLibraryOnVmShare)
        );
    }

    /// Issue 22 item 2: what `vm --probe` measured on a share wins over the engine's
    /// documented behaviour, both ways, and a database's finding names what was measured lost.
    #[test]
    fn issue22_the_vm_checks_use_the_measured_share_facts() {
        use crate::facts::{ShareKeeps, ShareOutcome, ShareProbe};
        let p = project(
            "lscr.io/linuxserver/jellyfin:latest",
            vec![
                bind("/Users/alice/jellyfin", "/config"),
                bind("/Users/alice/movies", "/data/movies"),
            ],
            vec![],
        );
        let measured = |host: &str, keeps: ShareKeeps| Facts {
            paths: [dir("/Users/alice/jellyfin"), dir("/Users/alice/movies")]
                .into_iter()
                .map(|f| (f.path.clone(), f))
                .collect(),
            shares: vec![ShareProbe {
                host: host.into(),
                vm: host.into(),
                outcome: ShareOutcome::Measured(keeps),
            }],
            ..Facts::default()
        };
        let watched = |facts: &Facts, view: &VmView| -> Vec<Finding> {
            audit_vm(&p, facts, view)
                .into_iter()
                .filter(|f| f.check == Check::WatchedLibraryOnVmShare)
                .collect()
        };
        // virtiofs measured to carry host events: no finding, although documented otherwise
        let carries = measured(
            "/Users/alice",
            ShareKeeps {
                host_inotify: Some(true),
                ..ShareKeeps::default()
            },
        );
        assert!(watched(&carries, &shared_as("virtiofs")).is_empty());
        // a measurement of another share does not count: the documented rule holds
        let elsewhere = measured(
            "/Volumes/other",
            ShareKeeps {
                host_inotify: Some(true),
                ..ShareKeeps::default()
            },
        );
        assert_eq!(watched(&elsewhere, &shared_as("virtiofs")).len(), 1);
        // Docker Desktop is documented to forward events; measured not to: a finding
        let lost = measured(
            "/Users/alice",
            ShareKeeps {
                host_inotify: Some(false),
                chown: Some(false),
                posix_locks_with_host: Some(false),
                fsync: Some(true),
                ..ShareKeeps::default()
            },
        );
        let desktop = VmView {
            engine: EngineGuess::DockerDesktop,
            shares: Some(crate::share::VmShares {
                engine: crate::share::VmEngine::DockerDesktop,
                instance: None,
                shares: vec![Share::same_path("/Users/alice", true, Some("virtiofs"))],
                source_files: Vec::new(),
                notes: Vec::new(),
            }),
        };
        let found = watched(&lost, &desktop);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("(measured by `vm --probe`)"),
            "{}",
            found[0].message
        );
        // the database finding (Jellyfin keeps SQLite under /config) names the measured losses
        let db: Vec<Finding> = audit_vm(&p, &lost, &shared_as("virtiofs"))
            .into_iter()
            .filter(|f| f.check == Check::DbOnVmShare)
            .collect();
        assert_eq!(db.len(), 1, "{db:?}");
        assert!(
            db[0].message.ends_with(
                "; `vm --probe` measured on it: a chown does not stick, a POSIX lock held on the host does not hold in the VM"
            ),
            "{}",
            db[0].message
        );
    }

    /// Issue 22 item 5: Paperless' consume folder, and only that folder.
    #[test]
    fn issue22_paperless_consume_dir_names_the_polling_workaround() {
        let p = project(
            "ghcr.io/paperless-ngx/paperless-ngx:latest",
            vec![
                bind("/Users/alice/consume", "/usr/src/paperless/consume"),
                bind("/Users/alice/media", "/usr/src/paperless/media"),
            ],
            vec![],
        );
        let facts = vec![dir("/Users/alice/consume"), dir("/Users/alice/media")];
        let findings: Vec<Finding> = run_vm(&p, facts, &shared_as("virtiofs"))
            .into_iter()
            .filter(|f| f.check == Check::WatchedLibraryOnVmShare)
            .collect();
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(findings[0].hint.contains("PAPERLESS_CONSUMER_POLLING"));
        assert!(findings[0].message.contains("never picked up"));
    }

    #[test]
    fn a_native_engine_shares_everything() {
        let p = project(
            "postgres:16",
            vec![bind("/srv/db", "/var/lib/postgresql/data")],
            vec![],
        );
        let native = VmView {
            engine: EngineGuess::Native,
            shares: None,
        };
        assert!(run_vm(&p, vec![dir("/srv/db")], &native).is_empty());
    }
}

#[test]
fn a_symlinked_bind_finding_carries_the_real_path_fix() {
    let p = project(
        "immich-server",
        vec![bind("/Volumes/Photos", "/data")],
        vec![],
    );
    let f = run(&p, vec![linked("/Volumes/Photos", "/t/fast/photos")]);
    let Some(Fix::Rebind(rebind)) = &f[0].fix else {
        panic!("no rebind: {:?}", f[0].fix);
    };
    assert_eq!(rebind.action, RebindAction::BindRealPath);
    assert_eq!(rebind.path, Path::new("/t/fast/photos"));
    assert_eq!(rebind.tier.as_deref(), Some("fast"));
    assert_eq!(rebind.via, Via::Entry);
    assert_eq!(f[0].mount, p.services["app"].mounts[0].id);
}

#[test]
fn a_named_volume_finding_carries_the_placement_fix_and_an_external_one_its_reason() {
    let p = project(
        "postgres:16",
        vec![
            volume(Some("pgdata"), "/var/lib/postgresql/data"),
            volume(Some("shared"), "/shared"),
        ],
        vec![top("pgdata", |_| {}), top("shared", |v| v.external = true)],
    );
    let f = run(&p, vec![]);
    let fixes: Vec<Option<&Fix>> = f.iter().map(|f| f.fix.as_ref()).collect();
    let [Some(Fix::Rebind(rebind)), Some(Fix::LeftAlone { reason })] = fixes.as_slice() else {
        panic!("{fixes:?}");
    };
    assert_eq!(rebind.action, RebindAction::VolumeToBind);
    assert_eq!(rebind.path, Path::new("/t/fast/databases/proj/app"));
    assert_eq!(*reason, Reason::External);
}

#[test]
fn a_bind_on_the_wrong_tier_is_left_alone_by_rewrite_and_moved_by_migrate() {
    let p = project(
        "postgres:16",
        vec![bind("/t/cold/db", "/var/lib/postgresql/data")],
        vec![],
    );
    let facts = Facts {
        paths: [(PathBuf::from("/t/cold/db"), dir("/t/cold/db"))]
            .into_iter()
            .collect(),
        ..Facts::default()
    };
    let tiers = tiers();
    let ctx = Context {
        project: &p,
        tiers: &tiers,
        facts: &facts,
    };
    let id = p.services["app"].mounts[0].id;
    assert_eq!(
        fixes(&ctx, Mode::Rewrite),
        [(
            id,
            Fix::LeftAlone {
                reason: Reason::WrongTier
            }
        )]
    );
    let moved = fixes(&ctx, Mode::Migrate);
    let [(_, Fix::Rebind(rebind))] = moved.as_slice() else {
        panic!("{moved:?}");
    };
    assert_eq!(rebind.action, RebindAction::MoveBind);
    assert_eq!(rebind.from.as_deref(), Some(Path::new("/t/cold/db")));
}

#[test]
fn a_source_from_a_process_variable_is_a_manual_fix() {
    let mut mount = bind("/Volumes/Photos", "/data");
    mount.origin.variables = vec![crate::compose::origin::SourceVariable {
        name: "PHOTOS".into(),
        set_by: Some(crate::compose::env::VarSource::Environment),
        whole: true,
        used_default: false,
    }];
    let p = project("immich-server", vec![mount], vec![]);
    let f = run(&p, vec![linked("/Volumes/Photos", "/t/fast/photos")]);
    let Some(Fix::Manual { wanted, reason }) = &f[0].fix else {
        panic!("{:?}", f[0].fix);
    };
    assert_eq!(wanted, Path::new("/t/fast/photos"));
    assert!(reason.contains("set only in the environment"), "{reason}");
}

/// A postgres service bound to the placement directory of its old volume `dbdata`.
fn stranded_case(empty: bool, left: bool) -> Vec<Finding> {
    let tiers = tiers();
    let placed = tiers
        .place(&crate::tiers::Subject {
            project: "proj",
            service: "app",
            image: Some("postgres:16"),
            target: "/var/lib/postgresql/data",
            volume: Some("dbdata"),
        })
        .expect("placement")
        .path;
    let shown = placed.display().to_string();
    let p = project(
        "postgres:16",
        vec![bind(&shown, "/var/lib/postgresql/data")],
        vec![],
    );
    let facts = Facts {
        paths: [(placed.clone(), dir(&shown))].into_iter().collect(),
        left_volumes: if left {
            vec![crate::facts::LeftVolume {
                name: "proj_dbdata".into(),
                key: "dbdata".into(),
            }]
        } else {
            Vec::new()
        },
        empty_dirs: if empty {
            [placed].into_iter().collect()
        } else {
            Default::default()
        },
        ..Facts::default()
    };
    audit(&Context {
        project: &p,
        tiers: &tiers,
        facts: &facts,
    })
}

#[test]
fn d7_an_empty_tier_dir_whose_old_volume_still_holds_data_is_stranded_data() {
    let found = stranded_case(true, true);
    let stranded: Vec<&Finding> = found
        .iter()
        .filter(|f| f.check == Check::StrandedData)
        .collect();
    assert_eq!(stranded.len(), 1, "{found:?}");
    assert_eq!(stranded[0].severity, Severity::Error);
    assert!(
        stranded[0].message.contains(
            "is empty but volume `proj_dbdata` (`dbdata`), whose placement it is, still holds the data"
        ),
        "{}",
        stranded[0].message
    );
    assert!(stranded[0].hint.contains("tierctl migrate"));
}

#[test]
fn d7_a_filled_dir_or_no_left_volume_is_not_stranded_data() {
    for (empty, left) in [(false, true), (true, false)] {
        assert!(
            !stranded_case(empty, left)
                .iter()
                .any(|f| f.check == Check::StrandedData),
            "empty {empty} left {left}"
        );
    }
}

#[test]
fn issue25_a_bind_into_a_pool_is_on_several_tiers_and_a_database_there_is_an_error() {
    let text = format!(
        "{TIERS}pools:\n  media:\n    mount: /mnt/media\n    branches: [fast:media, cold:media]\n"
    );
    let tiers = crate::tiers::load(Path::new("/p/tiers.yaml"), &text).expect("tiers parse");
    let audit_with = |image: &str, target: &str| {
        let p = project(image, vec![bind("/mnt/media/library", target)], vec![]);
        let facts = Facts {
            paths: [dir("/mnt/media/library")]
                .into_iter()
                .map(|f| (f.path.clone(), f))
                .collect(),
            ..Facts::default()
        };
        let ctx = Context {
            project: &p,
            tiers: &tiers,
            facts: &facts,
        };
        let fixed = fixes(&ctx, Mode::Migrate);
        (audit(&ctx), fixed)
    };
    let (library, fixed) = audit_with("ghcr.io/immich-app/immich-server:release", "/data");
    assert_eq!(checks(&library), [(Check::BindInPool, Severity::Info)]);
    assert!(
        library[0]
            .message
            .contains("pool `media`, on tiers fast, cold"),
        "{}",
        library[0].message
    );
    // not `bind-outside-tiers`, and migrate leaves it where the pool keeps it
    assert!(matches!(
        &fixed[0].1,
        Fix::LeftAlone {
            reason: Reason::InPool
        }
    ));
    let (database, _) = audit_with("postgres:16", "/var/lib/postgresql/data");
    assert_eq!(checks(&database), [(Check::BindInPool, Severity::Error)]);
}

/// Issue 25 item 1: Immich's `/data` on warm, its thumbnails and transcodes on fast.
const SPLIT: &str = "tiers:\n  fast: { root: /t/fast }\n  warm: { root: /t/warm }\nplacement:\n  - match: { target: /data }\n    tier: warm\n    path: photos/{project}\n    subtrees: { thumbs: fast, encoded-video: fast }\n  - { tier: warm, path: \"{project}/{volume}\" }\n";

fn run_split(project: &ComposeProject, facts: Vec<PathFacts>) -> Vec<Finding> {
    let facts = Facts {
        paths: facts.into_iter().map(|f| (f.path.clone(), f)).collect(),
        ..Facts::default()
    };
    let tiers = crate::tiers::load(Path::new("/p/tiers.yaml"), SPLIT).expect("tiers parse");
    audit(&Context {
        project,
        tiers: &tiers,
        facts: &facts,
    })
}

#[test]
fn issue25_an_unsplit_subtree_names_the_nested_binds_to_add() {
    let p = project(
        "immich-server",
        vec![bind("/t/warm/photos/proj", "/data")],
        vec![],
    );
    let f = run_split(&p, vec![dir("/t/warm/photos/proj")]);
    assert_eq!(checks(&f), [(Check::SubtreeNotSplit, Severity::Warning)]);
    assert_eq!(
        f[0].message,
        "app: placement puts parts of /data on other tiers (/data/thumbs on the fast tier, /data/encoded-video on the fast tier), and no bind mount serves them"
    );
    assert!(
        f[0].hint.contains(
            "moves /t/warm/photos/proj/thumbs to /t/fast/photos/proj/thumbs, /t/warm/photos/proj/encoded-video to /t/fast/photos/proj/encoded-video"
        ),
        "{}",
        f[0].hint
    );
}

#[test]
fn issue25_a_split_layout_is_clean_and_each_child_is_checked_as_a_bind() {
    let mounts = || {
        vec![
            bind("/t/fast/photos/proj/thumbs", "/data/thumbs"),
            bind("/t/warm/photos/proj", "/data"),
            bind("/t/fast/photos/proj/encoded-video", "/data/encoded-video"),
        ]
    };
    let facts = || {
        vec![
            dir("/t/warm/photos/proj"),
            dir("/t/fast/photos/proj/thumbs"),
            dir("/t/fast/photos/proj/encoded-video"),
        ]
    };
    // the child written before its parent is not a finding: the engine mounts by depth
    assert_eq!(
        run_split(&project("immich-server", mounts(), vec![]), facts()),
        []
    );
    // a child still inside its parent (as `rewrite` adds it): on the wrong tier until migrated
    let mut inside = mounts();
    inside[0] = bind("/t/warm/photos/proj/thumbs", "/data/thumbs");
    let mut facts_inside = facts();
    facts_inside[1] = dir("/t/warm/photos/proj/thumbs");
    let f = run_split(&project("immich-server", inside, vec![]), facts_inside);
    assert_eq!(checks(&f), [(Check::WrongTier, Severity::Warning)]);
    assert!(
        f[0].hint.contains("/t/fast/photos/proj/thumbs"),
        "{}",
        f[0].hint
    );
    // a child on no tier
    let mut outside = mounts();
    outside[2] = bind("/srv/video", "/data/encoded-video");
    let mut facts_outside = facts();
    facts_outside[2] = dir("/srv/video");
    let f = run_split(&project("immich-server", outside, vec![]), facts_outside);
    assert_eq!(checks(&f), [(Check::BindOutsideTiers, Severity::Warning)]);
    assert!(
        f[0].hint
            .contains("on the fast tier at /t/fast/photos/proj/encoded-video"),
        "{}",
        f[0].hint
    );
}

#[test]
fn issue25_a_nested_bind_on_its_parents_tier_is_needless() {
    let p = project(
        "x",
        vec![
            bind("/t/warm/app", "/srv"),
            bind("/t/warm/app/cache", "/srv/cache"),
            bind("/t/warm/elsewhere", "/srv/logs/"),
        ],
        vec![],
    );
    let f = run(
        &p,
        vec![
            dir("/t/warm/app"),
            dir("/t/warm/app/cache"),
            dir("/t/warm/elsewhere"),
        ],
    );
    let needless: Vec<&Finding> = f.iter().filter(|f| f.check == Check::NestedBind).collect();
    assert_eq!(needless.len(), 2, "{f:?}");
    assert_eq!(needless[0].severity, Severity::Info);
    assert_eq!(
        needless[0].message,
        "app: the nested bind /srv/cache is on the warm tier, like its parent /srv: it needs no bind mount of its own"
    );
    assert_eq!(
        needless[0].hint,
        "remove this entry: the bind of /srv already shows /t/warm/app/cache at /srv/cache"
    );
    assert!(
        needless[1].hint.starts_with(
            "move the data of /t/warm/elsewhere into /t/warm/app/logs and remove this entry"
        ),
        "{}",
        needless[1].hint
    );
}

#[test]
fn issue25_data_left_below_a_nested_bind_is_named_with_what_to_do() {
    let p = project(
        "immich-server",
        vec![
            bind("/t/warm/photos/proj", "/data"),
            bind("/t/fast/photos/proj/thumbs", "/data/thumbs"),
        ],
        vec![],
    );
    let facts = Facts {
        paths: [
            dir("/t/warm/photos/proj"),
            dir("/t/fast/photos/proj/thumbs"),
        ]
        .into_iter()
        .map(|f| (f.path.clone(), f))
        .collect(),
        under_nested: [PathBuf::from("/t/warm/photos/proj/thumbs")].into(),
        ..Facts::default()
    };
    let tiers = crate::tiers::load(Path::new("/p/tiers.yaml"), SPLIT).expect("tiers parse");
    let ctx = Context {
        project: &p,
        tiers: &tiers,
        facts: &facts,
    };
    assert_eq!(
        super::nested_bind::mount_points(&ctx),
        [PathBuf::from("/t/warm/photos/proj/thumbs")]
    );
    // (`encoded-video` has no nested bind yet: `subtree-not-split` too)
    let f: Vec<Finding> = audit(&ctx)
        .into_iter()
        .filter(|f| f.check != Check::SubtreeNotSplit)
        .collect();
    assert_eq!(checks(&f), [(Check::DataUnderNestedBind, Severity::Info)]);
    assert_eq!(
        f[0].message,
        "app: /t/warm/photos/proj/thumbs holds data the container does not see: the nested bind /data/thumbs of /t/fast/photos/proj/thumbs is mounted over it"
    );
    assert!(
        f[0].hint
            .contains("keeping the empty directory (the mount point)")
    );
    // empty there: nothing to say
    let empty = Facts {
        under_nested: Default::default(),
        ..facts
    };
    let quiet = audit(&Context {
        project: &p,
        tiers: &tiers,
        facts: &empty,
    });
    assert_eq!(
        checks(&quiet),
        [(Check::SubtreeNotSplit, Severity::Warning)]
    );
}
