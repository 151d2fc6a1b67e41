//! The migrate plan's tests.
use super::*;

#[test]
fn compose_durations_become_whole_seconds() {
    let cases = [
        ("10s", Some(10)),
        ("1m30s", Some(90)),
        ("1h", Some(3600)),
        ("1.5s", Some(2)),
        ("500ms", Some(1)),
        ("0s", Some(0)),
        ("45", Some(45)),
        ("2m3", None),
        ("ten", None),
        ("", None),
        ("5d", None),
    ];
    for (text, secs) in cases {
        assert_eq!(grace_secs(text), secs, "{text}");
    }
}

#[test]
fn step_ids_are_stable() {
    for (step, id) in [
        (MigrateStep::Stop, "stop"),
        (MigrateStep::CreateDir(0), "create:0"),
        (MigrateStep::Copy(0), "copy:0"),
        (MigrateStep::Verify(0), "verify:0"),
        (MigrateStep::Rewrite, "rewrite"),
        (MigrateStep::Start, "start"),
        (MigrateStep::VerifyMounts, "verify-mounts"),
        (MigrateStep::RemoveSource(1), "remove-source:1"),
        (MigrateStep::PreCopy(2), "pre-copy:2"),
        (MigrateStep::Delta(2), "delta:2"),
        (MigrateStep::PreVerify(2), "pre-verify:2"),
    ] {
        assert_eq!(step.id(), id, "{step:?}");
    }
}

#[test]
fn a_pre_copy_runs_before_the_stop_and_stop_first_keeps_the_old_order() {
    let ids = |pre_copy| -> Vec<StepId> {
        let options = Options {
            remove_source: false,
            pre_copy,
        };
        steps_of(1, options).iter().map(MigrateStep::id).collect()
    };
    assert_eq!(
        ids(true),
        [
            "create:0",
            "pre-copy:0",
            "pre-verify:0",
            "stop",
            "delta:0",
            "verify:0",
            "rewrite",
            "start",
            "verify-mounts"
        ]
    );
    assert_eq!(
        ids(false),
        [
            "stop",
            "create:0",
            "copy:0",
            "verify:0",
            "rewrite",
            "start",
            "verify-mounts"
        ]
    );
}

#[test]
fn issue26_row8_services_sharing_a_moved_services_volumes_stop_and_start_with_it() {
    let shares: BTreeMap<String, Vec<String>> = [
        ("db", vec![]),
        ("side", vec!["db:ro".to_owned()]),
        ("backup", vec!["side".to_owned()]),
        ("other", vec!["container:db".to_owned()]),
        ("web", vec![]),
    ]
    .into_iter()
    .map(|(name, from)| (name.to_owned(), from))
    .collect();
    let moved = BTreeSet::from(["db".to_owned()]);
    let all: Vec<String> = with_volumes_from(moved, &shares).into_iter().collect();
    assert_eq!(all, ["backup", "db", "side"]);
    let alone = BTreeSet::from(["web".to_owned()]);
    assert_eq!(with_volumes_from(alone.clone(), &shares), alone);
}

/// The first line of a journal written by the release before mount ids (0.x, today's
/// format): two services on one volume (one copy) and a moved bind (another copy).
const BEGIN_BEFORE_MOUNT_IDS: &str = r#"{"event":"begin","plan":{"project":"app","project_dir":"/srv/app","compose_files":["/srv/app/compose.yaml"],"services":["backup","db","web"],"grace_secs":10,"grace":{},"copies":[{"key":"pgdata","job":{"source":{"type":"volume","name":"app_pgdata"},"target":"/tiers/fast/databases/app/db"},"tier":"fast","seed":{"image":"postgres:16","path":"/var/lib/postgresql/data"}},{"key":"/srv/photos","job":{"source":{"type":"bind","name":"/srv/photos"},"target":"/tiers/warm/app/photos"},"tier":"warm"}],"files":[],"mounts":[{"service":"db","target":"/var/lib/postgresql/data","source":"/tiers/fast/databases/app/db"},{"service":"backup","target":"/backup","source":"/tiers/fast/databases/app/db"},{"service":"web","target":"/photos","source":"/tiers/warm/app/photos"}],"steps":[{"step":"stop"},{"step":"create-dir","copy":0},{"step":"copy","copy":0},{"step":"verify","copy":0},{"step":"create-dir","copy":1},{"step":"copy","copy":1},{"step":"verify","copy":1},{"step":"rewrite"},{"step":"start"},{"step":"verify-mounts"}],"pre_copy":false}}"#;

#[test]
fn issue20_item5_a_journal_written_before_mount_ids_loads_with_its_mounts_named() {
    let lines = [
        BEGIN_BEFORE_MOUNT_IDS,
        r#"{"event":"start","step":"stop"}"#,
        r#"{"event":"done","step":"stop","detail":{"kind":"stopped","running":["db","web"]}}"#,
    ];
    let records: Vec<crate::migrate::journal::Record> = lines
        .iter()
        .map(|line| serde_json::from_str(line).expect("today's journal line reads"))
        .collect();
    let state = crate::migrate::journal::JournalState::of(&records).expect("a plan");
    let plan = &state.plan;
    let ids: Vec<MountId> = plan.mounts.iter().map(|m| m.mount).collect();
    assert_eq!(ids, [MountId(0), MountId(1), MountId(2)]);
    // the volume's copy serves both services' mounts, the bind's the third
    assert_eq!(plan.copies[0].mounts, [MountId(0), MountId(1)]);
    assert_eq!(plan.copies[1].mounts, [MountId(2)]);
    assert_eq!(
        plan.expected(MountId(1)).map(|m| m.service.as_str()),
        Some("backup")
    );
    assert_eq!(state.running_services(), ["db", "web"]);
    assert!(state.is_open());
}

#[test]
fn issue20_item5_a_plan_with_mount_ids_round_trips_as_it_is() {
    let expected = |id: u32, service: &str| ExpectedMount {
        mount: MountId(id),
        service: service.into(),
        target: "/data".into(),
        source: "/tiers/fast/app/data".into(),
    };
    let plan = MigratePlan {
        project: "app".into(),
        copies: vec![VolumeCopy {
            key: "data".into(),
            // a copy serving only one of the two mounts at its directory keeps that
            mounts: vec![MountId(7)],
            job: CopyJob {
                source: MountSource::Volume("app_data".into()),
                target: "/tiers/fast/app/data".into(),
            },
            tier: Some("fast".into()),
            seed: None,
        }],
        mounts: vec![expected(7, "db"), expected(3, "side")],
        ..MigratePlan::default()
    };
    let text = serde_json::to_string(&plan).expect("serialises");
    assert!(text.contains(r#""mounts":[7]"#), "{text}");
    assert!(text.contains(r#""mount":3"#), "{text}");
    let back: MigratePlan = serde_json::from_str(&text).expect("deserialises");
    assert_eq!(back, plan);
}

#[test]
fn an_empty_rewrite_plan_is_an_empty_migration() {
    let project = ComposeProject {
        name: "app".into(),
        dir: "/srv/app".into(),
        files: vec!["/srv/app/compose.yaml".into()],
        given: vec!["/srv/app/compose.yaml".into()],
        services: Default::default(),
        volumes: Default::default(),
        environment: Default::default(),
        texts: Default::default(),
        unset_variables: Vec::new(),
        refusals: Vec::new(),
    };
    let options = Options {
        remove_source: true,
        pre_copy: true,
    };
    let m = build(&project, &Plan::default(), &[], options).expect("nothing unsupported");
    assert!(m.is_empty());
    assert!(m.steps.is_empty());
}

#[test]
fn issue23_item4_a_pre_copy_of_services_none_of_which_runs_becomes_a_single_pass() {
    let options = Options {
        remove_source: true,
        pre_copy: true,
    };
    let copy = |key: &str| VolumeCopy {
        key: key.into(),
        mounts: vec![MountId(0)],
        job: CopyJob {
            source: MountSource::Volume(format!("app_{key}")),
            target: format!("/tiers/fast/app/{key}").into(),
        },
        tier: Some("fast".into()),
        seed: None,
    };
    let plan = MigratePlan {
        services: vec!["db".into(), "web".into()],
        copies: vec![copy("db"), copy("web")],
        steps: steps_of(2, options),
        pre_copy: true,
        ..MigratePlan::default()
    };
    // one of them runs: the pre-copy stays
    let busy = plan.clone().single_pass_unless_running(&["web".into()]);
    assert_eq!(busy, plan);
    // another project's service of the same name does not count: only the plan's services
    // are listed by the caller, so nothing running is an empty list
    let idle = plan.single_pass_unless_running(&[]);
    let stop_first = Options {
        remove_source: true,
        pre_copy: false,
    };
    assert_eq!(idle.steps, steps_of(2, stop_first));
    assert!(idle.single_pass && !idle.pre_copy);
    let stop = describe(&idle, &MigrateStep::Stop);
    assert!(
        stop.contains("single pass") && stop.contains("db, web"),
        "{stop}"
    );
    // a plan already without a pre-copy is not marked
    let again = MigratePlan {
        single_pass: false,
        ..idle.clone()
    }
    .single_pass_unless_running(&[]);
    assert!(!again.single_pass);
}
