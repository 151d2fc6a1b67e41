use super::*;
use crate::engine::MountSource;
use crate::migrate::tree::manifest::Manifest;

fn plan() -> MigratePlan {
    MigratePlan {
        project: "app".into(),
        ..MigratePlan::default()
    }
}

#[test]
fn progress_folds_the_records() {
    let records = vec![
        Record::Begin { plan: plan() },
        Record::Start {
            step: "stop".into(),
        },
        Record::Done {
            step: "stop".into(),
            detail: Detail::Stopped {
                running: vec!["db".into()],
                at_ms: None,
            },
        },
        Record::Start {
            step: "copy:0".into(),
        },
        Record::Failed {
            step: "copy:0".into(),
            error: "disk full".into(),
        },
    ];
    let p = JournalState::of(&records).expect("begins with the plan");
    assert!(p.is_open());
    assert_eq!(p.begun, ["copy:0"]);
    assert_eq!(
        p.done["stop"],
        Detail::Stopped {
            running: vec!["db".into()],
            at_ms: None,
        }
    );
    assert_eq!(p.failed, Some(("copy:0".into(), "disk full".into())));
}

#[test]
fn a_torn_last_line_is_ignored_but_a_damaged_middle_line_is_not() {
    let begin = serde_json::to_string(&Record::Begin { plan: plan() }).expect("json");
    let path = Path::new("j.jsonl");
    let torn = parse(path, &[begin.clone(), r#"{"event":"sta"#.into()]).expect("torn end");
    assert_eq!(torn.len(), 1);
    let damaged = parse(
        path,
        &[begin, "{oops".into(), r#"{"event":"finished"}"#.into()],
    );
    assert!(matches!(
        damaged,
        Err(JournalError::Damaged { line: 2, .. })
    ));
    assert!(matches!(
        parse(path, &[r#"{"event":"finished"}"#.into()]),
        Err(JournalError::NoPlan { .. })
    ));
}

#[test]
fn a_torn_last_line_is_cut_before_the_next_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut j = Journal::create(dir.path(), "1", &plan()).expect("create");
    j.append(&Record::Finished).expect("append");
    let text = fs::read_to_string(&j.path).expect("read");
    fs::write(&j.path, &text[..text.len() - 5]).expect("tear");
    let (mut reopened, records) = Journal::open(&j.path).expect("open");
    assert_eq!(records.len(), 1);
    reopened.append(&Record::RollbackBegun).expect("append");
    let records = read(&j.path).expect("whole");
    assert_eq!(records.len(), 2);
    assert_eq!(records[1], Record::RollbackBegun);
}

#[test]
fn written_records_read_back_and_the_newest_journal_is_found() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut j = Journal::create(dir.path(), "20250101T000000-1", &plan()).expect("create");
    j.append(&Record::Finished).expect("append");
    Journal::create(dir.path(), "20250102T000000-1", &plan()).expect("create");
    let newest = latest(dir.path()).expect("a journal");
    assert!(newest.ends_with("journal-20250102T000000-1.jsonl"));
    let (reopened, records) = Journal::open(&j.path).expect("open");
    assert_eq!(reopened.id, "20250101T000000-1");
    assert_eq!(records.len(), 2);
    assert!(!JournalState::of(&records).expect("plan").is_open());
}

fn state(records: Vec<Record>) -> JournalState {
    let mut all = vec![Record::Begin {
        plan: MigratePlan {
            project: "app".into(),
            copies: vec![crate::migrate::plan::VolumeCopy {
                key: "db".into(),
                mounts: vec![crate::compose::model::MountId(0)],
                job: crate::migrate::copy::CopyJob {
                    source: MountSource::Volume("app_db".into()),
                    target: "/fast/app/db".into(),
                },
                tier: None,
                seed: None,
            }],
            ..MigratePlan::default()
        },
    }];
    all.extend(records);
    JournalState::of(&all).expect("begins with the plan")
}

fn done(step: &str) -> Record {
    Record::Done {
        step: step.into(),
        detail: Detail::None,
    }
}

/// Issue 11 item 10 / D13: every phase names only commands the journal accepts in it.
#[test]
fn the_next_command_follows_the_journal_phase() {
    let open = state(vec![done("stop")]);
    assert_eq!(open.phase(), Phase::Open);
    assert!(next_commands(open.phase()).contains("tierctl migrate --resume"));

    let finished = state(vec![
        done("create:0"),
        done("verify-mounts"),
        Record::Finished,
    ]);
    let hint = next_commands(finished.phase());
    assert!(hint.contains("--prune-source --yes") && hint.contains("--rollback --yes"));
    assert!(!hint.contains("--resume"), "{hint}");

    let pruned = state(vec![
        done("create:0"),
        Record::Finished,
        done("remove-source:0"),
    ]);
    let hint = next_commands(pruned.phase());
    assert!(
        !hint.contains("--resume") && !hint.contains("--rollback"),
        "{hint}"
    );

    let rolling = state(vec![done("create:0"), Record::RollbackBegun]);
    assert_eq!(rolling.phase(), Phase::RollingBack);
    let hint = next_commands(rolling.phase());
    assert!(hint.contains("--rollback --yes") && hint.contains("`--resume` is refused"));

    let rolled = state(vec![
        done("create:0"),
        Record::RollbackBegun,
        Record::RolledBack,
    ]);
    let hint = next_commands(rolled.phase());
    assert!(hint.contains("--rollback --discard-copy --yes"), "{hint}");
    assert!(!hint.contains("--resume"), "{hint}");

    let discarded = state(vec![
        done("create:0"),
        Record::RolledBack,
        done(&discard_step(0)),
    ]);
    assert_eq!(discarded.phase(), Phase::RolledBack { copies_kept: false });
    assert!(!next_commands(discarded.phase()).contains("--discard-copy"));
    assert!(next_commands(phase_of(None)).contains("`tierctl migrate`"));
}

#[test]
fn the_newest_verified_manifest_is_the_copy_back_one() {
    let kept = |file: &str| Detail::Verified {
        entries: 1,
        bytes: 0,
        manifest: Some(ManifestRef {
            file: file.into(),
            blake3: "x".into(),
        }),
    };
    let s = state(vec![Record::Done {
        step: "verify:0".into(),
        detail: kept("a"),
    }]);
    assert_eq!(s.manifest_of(0).map(|m| m.file.as_str()), Some("a"));
    let s = state(vec![
        Record::Done {
            step: "verify:0".into(),
            detail: kept("a"),
        },
        Record::Done {
            step: reverse_step(0),
            detail: kept("b"),
        },
    ]);
    assert_eq!(s.manifest_of(0).map(|m| m.file.as_str()), Some("b"));
    assert_eq!(s.manifest_of(1), None);
}

#[test]
fn a_kept_manifest_reads_back_and_an_edited_one_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut m = Manifest::default();
    m.entries.insert(
        ".".into(),
        crate::migrate::tree::manifest::Entry {
            kind: crate::migrate::tree::manifest::Kind::Dir,
            size: 0,
            uid: 999,
            gid: 999,
            mode: 0o700,
            mtime: Some(1),
            link: None,
            device: None,
            hardlink_group: None,
            hash: None,
        },
    );
    let kept = keep_manifest(dir.path(), "j1", "verify-0", &m).expect("kept");
    assert_eq!(load_manifest(dir.path(), &kept).expect("read back"), m);
    std::fs::write(dir.path().join(&kept.file), b"{\"entries\":{}}").expect("edit");
    assert!(matches!(
        load_manifest(dir.path(), &kept),
        Err(JournalError::ManifestChanged { .. })
    ));
}

/// A journal written before manifests were kept still reads: its verified copies have none.
#[test]
fn an_old_verified_record_reads_without_a_manifest() {
    let line =
        r#"{"event":"done","step":"verify:0","detail":{"kind":"verified","entries":3,"bytes":9}}"#;
    let record: Record = serde_json::from_str(line).expect("old record");
    assert_eq!(
        record,
        Record::Done {
            step: "verify:0".into(),
            detail: Detail::Verified {
                entries: 3,
                bytes: 9,
                manifest: None
            }
        }
    );
}
