use super::*;
use crate::engine::endpoint::EngineGuess;
use crate::migrate::copy::CopyJob;
use crate::migrate::plan::VolumeCopy;
use crate::vm::view::VmView;
use crate::vm::{Share, VmEngine, VmShares};

fn copy(source: MountSource, target: &str) -> VolumeCopy {
    VolumeCopy {
        key: "k".into(),
        mounts: vec![crate::compose::model::MountId(0)],
        job: CopyJob {
            source,
            target: target.into(),
        },
        tier: None,
        seed: None,
    }
}

#[test]
fn the_probe_covers_each_bind_source_and_each_targets_tier_root_once() {
    let plan = MigratePlan {
        copies: vec![
            copy(
                MountSource::Bind("/home/u/media".into()),
                "/tiers/bulk/app/media",
            ),
            copy(MountSource::Volume("app_db".into()), "/tiers/fast/app/db"),
            copy(
                MountSource::Volume("app_cache".into()),
                "/tiers/fast/app/cache",
            ),
        ],
        ..MigratePlan::default()
    };
    let roots = vec![PathBuf::from("/tiers/fast"), PathBuf::from("/tiers/bulk")];
    assert_eq!(
        probed_paths(&plan, &roots),
        vec![
            PathBuf::from("/home/u/media"),
            PathBuf::from("/tiers/bulk"),
            PathBuf::from("/tiers/fast")
        ]
    );
}

#[test]
fn an_unshared_source_on_a_colima_vm_is_refused_naming_the_share_and_the_fix() {
    let vm = VmFix {
        view: VmView {
            engine: EngineGuess::Colima {
                profile: "default".into(),
            },
            shares: Some(VmShares {
                engine: VmEngine::Colima,
                instance: Some("default".into()),
                shares: vec![Share::same_path("/tiers", true, Some("virtiofs"))],
                source_files: Vec::new(),
                notes: Vec::new(),
            }),
        },
        home: "/home/u".into(),
    };
    let verdicts = vec![
        (PathBuf::from("/tiers/fast"), Verdict::Same),
        (
            PathBuf::from("/home/u/media"),
            Verdict::Different {
                reasons: vec!["marker file not visible".into()],
            },
        ),
    ];
    let problems = probe_problems(&verdicts, Some(&vm));
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(
        problems[0],
        "`/home/u/media`: the engine sees another directory there (marker file not visible); the VM does not share it: copying would read or write the engine's own directory, not the host's"
    );
    assert!(
        problems[1].starts_with(
            "share the missing directories with the VM: colima stop && colima start --mount"
        ) && problems[1].contains("- location: /home/u/media\n"),
        "{}",
        problems[1]
    );
    // a native engine: no share to name, the verdict alone refuses
    let problems = probe_problems(&verdicts[1..], None);
    assert_eq!(problems.len(), 1);
    assert!(probe_problems(&verdicts[..1], None).is_empty());
}

fn container(name: &str, compose: Option<(&str, &str)>, running: bool) -> ContainerState {
    ContainerState {
        id: name.into(),
        name: name.into(),
        project: compose.map(|(p, _)| p.into()),
        service: compose.map(|(_, s)| s.into()),
        running,
        mounts: Vec::new(),
        compose_version: None,
        oneoff: false,
    }
}

#[test]
fn issue26_row2_every_container_on_the_volume_but_the_plans_services_is_outside() {
    let plan = MigratePlan {
        project: "app".into(),
        services: vec!["db".into()],
        ..MigratePlan::default()
    };
    let users = outside(
        &plan,
        &[
            container("app-db-1", Some(("app", "db")), false),
            // this project's stopped profile service, which the plan does not move
            container("app-side-1", Some(("app", "side")), false),
            // another project's stopped container on the same volume (`external: true`)
            container("b-web-1", Some(("b", "web")), false),
            container("b-db-1", Some(("b", "db")), true),
            container("loose", None, false),
            // `docker compose run db`, stopped: never started again by the migration
            ContainerState {
                oneoff: true,
                ..container("app-db-run-1", Some(("app", "db")), false)
            },
        ],
    );
    let names: Vec<(&str, bool)> = users.iter().map(|u| (u.name.as_str(), u.running)).collect();
    assert_eq!(
        names,
        vec![
            ("app-side-1", false),
            ("b-web-1", false),
            ("b-db-1", true),
            ("loose", false),
            ("app-db-run-1", false)
        ]
    );
    let stopped = users[1].problem("app_pgdata");
    assert!(
        stopped.starts_with("volume `app_pgdata` is used by container `b-web-1` (service `web` of project `b`) outside the plan (stopped)"),
        "{stopped}"
    );
    assert!(
        stopped.contains("`docker rm b-web-1`") && stopped.contains("`--force`"),
        "{stopped}"
    );
    assert_eq!(
        users[2].problem("app_pgdata"),
        "volume `app_pgdata` is in use by container `b-db-1` (service `db` of project `b`) outside the plan (running): stop it first"
    );
    assert!(
        users[4]
            .problem("app_pgdata")
            .contains("container `app-db-run-1` (`docker compose run` of service `db` of project `app`) outside the plan (stopped)"),
        "{:?}",
        users[4]
    );
    let hint = stopped_users_hint(&["b-web-1".into()], "the same command with `--force`");
    assert!(
        hint.starts_with("nothing was changed; remove `b-web-1`"),
        "{hint}"
    );
}

#[test]
fn issue26_row3_the_hint_after_late_writes_says_how_to_keep_them() {
    use crate::migrate::journal::{Detail, Record};
    let mut state = JournalState::of(&[Record::begin(MigratePlan::default())]).expect("a plan");
    let before_start = late_hint(&state);
    assert!(
        before_start.starts_with("nothing was started on the tier directories yet")
            && before_start.contains("`tierctl migrate --rollback --discard-copy --yes`")
            && before_start.contains("`tierctl migrate` then moves them again"),
        "{before_start}"
    );
    state.done.insert(MigrateStep::Start.id(), Detail::None);
    let after_start = late_hint(&state);
    assert!(
        after_start.contains("copy what you need")
            && after_start.contains("`tierctl migrate --rollback --discard-copy --force --yes`"),
        "{after_start}"
    );
}

#[test]
fn the_margin_grows_with_size_and_entries() {
    assert_eq!(margin(0, 0), 8 << 20);
    assert_eq!(margin(2_000_000, 10), 100_000 + 40_960 + (8 << 20));
}

#[test]
fn target_facts_see_a_symlink_on_the_way_to_a_missing_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let real = dir.path().join("real");
    std::fs::create_dir(&real).expect("dir");
    std::os::unix::fs::symlink(&real, dir.path().join("link")).expect("symlink");
    let canonical = std::fs::canonicalize(dir.path()).expect("canonical");
    let facts = target_facts(&canonical.join("link/db"));
    assert!(!facts.exists);
    assert_eq!(facts.real, Some(canonical.join("real/db")));
    let facts = target_facts(&canonical.join("real"));
    assert!(facts.exists && facts.is_dir && facts.empty);
}

#[test]
fn issue21_a_loss_is_refused_unless_force_and_then_warned() {
    let lost = vec!["volume `v`: extended attributes would be lost".to_owned()];
    assert_eq!(
        losses_verdict(lost.clone(), false),
        (lost.clone(), Vec::new())
    );
    assert_eq!(
        losses_verdict(lost, true),
        (
            Vec::new(),
            vec![
                "warning: volume `v`: extended attributes would be lost (going on: --force)"
                    .to_owned()
            ]
        )
    );
    assert!(KEEPS_HINT.starts_with("nothing was changed"));
    assert!(KEEPS_HINT.contains("`--force`"));
    assert!(not_checked("volume `v`").contains("not checked"));
}
