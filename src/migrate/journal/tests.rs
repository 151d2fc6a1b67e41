use super::*;
use crate::engine::MountSource;
use crate::migrate::plan::{MigrateStep, StepId};
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
        Record::begin(plan()),
        Record::Start { step: id("stop") },
        Record::Done {
            step: id("stop"),
            detail: Detail::Stopped {
                running: vec!["db".into()],
                at_ms: None,
            },
        },
        Record::Start { step: id("copy:0") },
        Record::Failed {
            step: id("copy:0"),
            error: "disk full".into(),
        },
    ];
    let p = JournalState::of(&records).expect("begins with the plan");
    assert!(p.is_open());
    assert_eq!(p.begun, ["copy:0"]);
    assert_eq!(
        p.done[&id("stop")],
        Detail::Stopped {
            running: vec!["db".into()],
            at_ms: None,
        }
    );
    assert_eq!(p.failed, Some((id("copy:0"), "disk full".into())));
}

#[test]
fn a_torn_last_line_is_ignored_but_a_damaged_middle_line_is_not() {
    let begin = serde_json::to_string(&Record::begin(plan())).expect("json");
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
    let mut all = vec![Record::begin(MigratePlan {
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
    })];
    all.extend(records);
    JournalState::of(&all).expect("begins with the plan")
}

/// The id written `text` (as a journal writes it).
fn id(text: &str) -> StepId {
    text.parse().expect("a step id")
}

fn done(step: &str) -> Record {
    Record::Done {
        step: id(step),
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
        done(&discard_step(0).to_string()),
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
        step: id("verify:0"),
        detail: kept("a"),
    }]);
    assert_eq!(s.manifest_of(0).map(|m| m.file.as_str()), Some("a"));
    let s = state(vec![
        Record::Done {
            step: id("verify:0"),
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
            mtime_nsec: None,
            link: None,
            device: None,
            hardlink_group: None,
            hash: None,
            xattrs: None,
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
            step: id("verify:0"),
            detail: Detail::Verified {
                entries: 3,
                bytes: 9,
                manifest: None
            }
        }
    );
}

/// A journal as the releases before the format version wrote it (no `version` in its first
/// line): a `--stop-first` migration of one volume, stopped, its directory made, its copy done
/// and verified, then killed while it rewrote the compose file.
const UNVERSIONED: &str = r#"{"event":"begin","plan":{"project":"app","project_dir":"/srv/app","compose_files":["/srv/app/compose.yaml"],"services":["db"],"grace_secs":10,"grace":{},"copies":[{"key":"db","job":{"source":{"type":"volume","name":"app_db"},"target":"/fast/app/db"},"tier":"fast"}],"files":[],"mounts":[],"steps":[{"step":"stop"},{"step":"create-dir","copy":0},{"step":"copy","copy":0},{"step":"verify","copy":0},{"step":"rewrite"},{"step":"start"},{"step":"verify-mounts"}],"pre_copy":false}}
{"event":"start","step":"stop"}
{"event":"running","services":["db"]}
{"event":"done","step":"stop","detail":{"kind":"stopped","running":["db"],"at_ms":1700000000000}}
{"event":"start","step":"create:0"}
{"event":"done","step":"create:0","detail":{"kind":"created","made":"/fast/app"}}
{"event":"start","step":"copy:0"}
{"event":"failed","step":"copy:0","error":"disk full"}
{"event":"start","step":"copy:0"}
{"event":"done","step":"copy:0","detail":{"kind":"copied","known":{"file":"known-20250101T000000-1-copy-source-0.json","blake3":"ab"}}}
{"event":"start","step":"verify:0"}
{"event":"done","step":"verify:0","detail":{"kind":"verified","entries":3,"bytes":9,"manifest":{"file":"manifest-20250101T000000-1-verify-0.json","blake3":"cd"}}}
{"event":"interrupted","step":null}
{"event":"start","step":"rewrite"}
{"event":"interrupted","step":"rewrite"}
"#;

/// The journal text `text` as the lines [`parse`] reads.
fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

#[test]
fn a_journal_written_before_the_format_version_reads_as_version_one_with_typed_steps() {
    let records = parse(Path::new("j.jsonl"), &lines(UNVERSIONED)).expect("today's format reads");
    let Some(Record::Begin { version, plan }) = records.first() else {
        panic!("no plan: {records:?}");
    };
    assert_eq!((*version, LEGACY_FORMAT), (1, 1));
    assert_eq!(plan.steps.len(), 7);
    let state = JournalState::of(&records).expect("a plan");
    assert_eq!(
        state.done.keys().collect::<Vec<_>>(),
        [
            &MigrateStep::Stop.id(),
            &MigrateStep::CreateDir(0).id(),
            &MigrateStep::Copy(0).id(),
            &MigrateStep::Verify(0).id(),
        ]
    );
    assert_eq!(state.begun, [MigrateStep::Rewrite.id()]);
    assert_eq!(
        state.failed,
        Some((MigrateStep::Copy(0).id(), "disk full".into()))
    );
    assert!(state.interrupted && state.is_open() && state.rewrite_began());
    assert_eq!(state.running_services(), ["db"]);
    assert_eq!(
        state.manifest_of(0).map(|m| m.file.as_str()),
        Some("manifest-20250101T000000-1-verify-0.json")
    );
    assert_eq!(state.phase(), Phase::Open);
}

/// Every record this release writes is the line today's release wrote, but for the format
/// version it adds to the first (the version the journal was read in: an unversioned one is
/// [`LEGACY_FORMAT`]), and the copies' `mounts` in the plan (a field added with a default,
/// which today's release ignores): a journal one release began, the other finishes.
#[test]
fn this_release_writes_todays_records_and_a_version_in_the_first_line() {
    let records = parse(Path::new("j.jsonl"), &lines(UNVERSIONED)).expect("reads");
    let written: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(r).expect("json"))
        .collect();
    let old = lines(UNVERSIONED);
    assert_eq!(written[1..], old[1..]);
    assert!(
        written[0].starts_with(&format!(
            r#"{{"event":"begin","version":{LEGACY_FORMAT},"plan":"#
        )),
        "{}",
        written[0]
    );
    let mut first: serde_json::Value = serde_json::from_str(&written[0]).expect("json");
    let begin = first.as_object_mut().expect("an object");
    begin.remove("version");
    for copy in begin["plan"]["copies"].as_array_mut().expect("copies") {
        copy.as_object_mut().expect("a copy").remove("mounts");
    }
    let old_first: serde_json::Value = serde_json::from_str(&old[0]).expect("json");
    assert_eq!(first, old_first);
}

#[test]
fn an_unversioned_journal_resumes_in_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("journal-20250101T000000-1.jsonl");
    fs::write(&path, UNVERSIONED).expect("write");
    let (mut journal, records) = Journal::open(&path).expect("today's journal opens");
    assert_eq!(records.len(), 15);
    journal
        .append(&Record::Done {
            step: MigrateStep::Rewrite.id(),
            detail: Detail::None,
        })
        .expect("append");
    let state = JournalState::of(&read(&path).expect("reads")).expect("a plan");
    assert!(state.begun.is_empty());
    assert!(state.done.contains_key(&MigrateStep::Rewrite.id()));
    assert!(
        fs::read_to_string(&path).expect("text").ends_with(
            "\n{\"event\":\"done\",\"step\":\"rewrite\",\"detail\":{\"kind\":\"none\"}}\n"
        )
    );
}

#[test]
fn a_new_journal_records_its_format_version_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let j = Journal::create(dir.path(), "1", &plan()).expect("create");
    let text = fs::read_to_string(&j.path).expect("read");
    assert!(
        text.starts_with(&format!(r#"{{"event":"begin","version":{FORMAT},"plan":"#)),
        "{text}"
    );
    assert!(matches!(
        read(&j.path).expect("reads back").first(),
        Some(Record::Begin { version, .. }) if *version == FORMAT
    ));
}

#[test]
fn a_journal_of_an_unknown_format_is_refused_naming_its_path_and_version() {
    let path = Path::new("/p/.tierctl/journal-2.jsonl");
    for version in [FORMAT + 1, 0] {
        // what follows may not even parse in this release's records: the version is read first
        let newer = lines(&format!(
            "{{\"event\":\"begin\",\"version\":{version},\"plan\":{{\"moved\":true}}}}\n{{\"event\":\"checkpoint\",\"step\":\"copy-slice:0:3\"}}\n{{\"event\":\"finished\"}}\n"
        ));
        let error = parse(path, &newer).expect_err("refused");
        assert!(
            matches!(&error, JournalError::UnknownFormat { path: p, version: v } if p == path && *v == version),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "journal `/p/.tierctl/journal-2.jsonl` is in format version {version}, which this tierctl does not read"
            )),
            "{message}"
        );
        let hint = error.hint();
        let named = if version > FORMAT {
            hint.contains("with the release that wrote it")
                && hint.contains("`tierctl migrate --resume`")
        } else {
            hint.starts_with("no tierctl release writes that version")
        };
        assert!(named && hint.ends_with("nothing was changed"), "{hint}");
    }
    let current = lines(&format!(
        "{{\"event\":\"begin\",\"version\":{FORMAT},\"plan\":{}}}\n",
        serde_json::to_string(&plan()).expect("json")
    ));
    assert!(parse(path, &current).is_ok());
}

/// Issue 21 item 7: format 2 records extended attributes and symlink times in its manifests; a
/// journal of format 1 (today's release) still reads, and its manifests without them too.
#[test]
fn issue21_a_format_1_journal_and_its_manifest_without_xattrs_still_read() {
    assert_eq!(FORMAT, 2);
    let path = Path::new("/p/.tierctl/journal-1.jsonl");
    let v1 = lines(&format!(
        "{{\"event\":\"begin\",\"version\":1,\"plan\":{}}}\n",
        serde_json::to_string(&plan()).expect("json")
    ));
    assert!(parse(path, &v1).is_ok());
    let dir = tempfile::tempdir().expect("temp dir");
    let old = r#"{"entries":{"l":{"kind":"symlink","size":0,"uid":0,"gid":0,"mode":511,"mtime":null,"link":"a","device":null,"hardlink_group":null,"hash":null}},"digest":"blake3"}"#;
    let kept = SideKind::Verify
        .of(0)
        .keep_manifest(dir.path(), "j1", &serde_json::from_str(old).expect("old"))
        .expect("kept");
    // the side file holds the old text as an old release wrote it (no `xattrs`, a null mtime)
    let text = fs::read_to_string(dir.path().join(&kept.file)).expect("side file");
    assert_eq!(text.trim_end(), old);
    let m = load_manifest(dir.path(), &kept).expect("an old manifest reads");
    assert_eq!(
        (m.entries["l"].mtime, &m.entries["l"].xattrs),
        (None, &None)
    );
}

#[test]
fn a_record_naming_no_step_is_a_damaged_line_naming_the_text() {
    let mut text = lines(UNVERSIONED);
    text.insert(2, r#"{"event":"start","step":"copy:x"}"#.into());
    let error = parse(Path::new("j.jsonl"), &text).expect_err("refused");
    let JournalError::Damaged { line, message, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(*line, 3);
    assert!(
        message.contains("`copy:x` is not a migrate step"),
        "{message}"
    );
}

#[test]
fn side_files_are_named_as_before_and_read_back() {
    let named: Vec<String> = [
        SideKind::PreCopy.of(0),
        SideKind::Verify.of(1),
        SideKind::CopyBack.of(2),
        SideKind::CopySource.of(3),
        SideKind::Source.of(4),
        SideKind::Copy.of(10),
    ]
    .iter()
    .map(|side| {
        assert_eq!(side.to_string().parse::<SideFile>(), Ok(*side));
        side.to_string()
    })
    .collect();
    assert_eq!(
        named,
        [
            "precopy-0",
            "verify-1",
            "copy-back-2",
            "copy-source-3",
            "source-4",
            "copy-10"
        ]
    );
    for text in [
        "",
        "verify",
        "verify-",
        "verify-x",
        "verify-01",
        "manifest-0",
        "copy:0",
    ] {
        let error = text.parse::<SideFile>().expect_err(text);
        assert!(
            error
                .to_string()
                .starts_with(&format!("`{text}` is not a journal side file")),
            "{error}"
        );
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let kept = SideKind::Verify
        .of(0)
        .keep_manifest(dir.path(), "j1", &Manifest::default())
        .expect("kept");
    assert_eq!(kept.file, "manifest-j1-verify-0.json");
    assert_eq!(
        load_manifest(dir.path(), &kept).expect("reads back"),
        Manifest::default()
    );
    let known = crate::migrate::tree::Known::default();
    let kept = SideKind::Source
        .of(2)
        .keep_known(dir.path(), "j1", &known)
        .expect("kept");
    assert_eq!(kept.file, "known-j1-source-2.json");
    assert_eq!(load_known(dir.path(), &kept).expect("reads back"), known);
}
