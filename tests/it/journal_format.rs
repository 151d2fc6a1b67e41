//! The journal's format version (issue 20 item 3): a journal today's release wrote (no
//! `version` in its first line) still resumes to the end, and a journal of a newer format is
//! refused by name before anything runs.

use std::fs;

use tierctl::migrate::journal::{self, JournalError, JournalState};
use tierctl::migrate::plan::MigrateStep;

use super::fake::FakeStack;
use super::fake_migrate::{assert_moved, sources};
use super::workspace::Workspace;

/// A migration killed in its first step, journaled as the releases before the format version
/// wrote it (the plan line without `version`, the records as literal text), resumes to the end
/// on the fake engine; the records it appends follow the old first line.
#[test]
fn fake_an_unversioned_journal_of_todays_release_resumes_to_the_end() {
    let Some(stack) = FakeStack::new("fakeoldjournal") else {
        return;
    };
    let before = sources(&stack);
    let plan = stack.plan(false, false);
    assert_eq!(plan.steps.first(), Some(&MigrateStep::CreateDir(0)));
    let begin = format!(
        r#"{{"event":"begin","plan":{}}}"#,
        serde_json::to_string(&plan).expect("plan json")
    );
    let text = format!(
        "{begin}\n{}\n",
        [
            r#"{"event":"running","services":["db","web"]}"#,
            r#"{"event":"start","step":"create:0"}"#,
            r#"{"event":"failed","step":"create:0","error":"cannot create the directory: No space left on device"}"#,
        ]
        .join("\n")
    );
    let dir = journal::dir(&plan.project_dir);
    fs::create_dir_all(&dir).expect("journal dir");
    let path = dir.join("journal-20250101T000000-1.jsonl");
    fs::write(&path, &text).expect("old journal");
    let state = stack.state();
    assert!(state.is_open() && state.begun == [MigrateStep::CreateDir(0).id()]);

    stack.resume(None).done();
    assert_moved(&stack, &before);
    let after = fs::read_to_string(&path).expect("journal");
    assert!(after.starts_with(&text), "the old lines stay as written");
    let state = stack.state();
    assert!(plan.steps.iter().all(|s| state.done.contains_key(&s.id())));
}

/// A journal a newer release wrote (format version 9: above any this release reads) is refused by `--resume`, `--rollback`
/// and a new `migrate`, naming the journal and the version, with the release to finish it with;
/// the journal is left as it was. No engine is needed: the journal is read first.
#[test]
fn journal_format_a_newer_journal_is_refused_by_name_before_anything_runs() {
    let newer = "{\"event\":\"begin\",\"version\":9,\"plan\":{\"steps\":[{\"step\":\"copy-slice\",\"copy\":0}]}}\n{\"event\":\"checkpoint\",\"step\":\"copy-slice:0\"}\n";
    let ws = Workspace::new()
        .file(
            "app/compose.yaml",
            "services:\n  db:\n    image: postgres:16\n    volumes:\n      - dbdata:/var/lib/postgresql/data\nvolumes:\n  dbdata: {}\n",
        )
        .file("app/.tierctl/journal-20991231T000000-1.jsonl", newer);
    let path = ws.path("app/.tierctl/journal-20991231T000000-1.jsonl");
    for args in [
        &["migrate", "--resume"][..],
        &["migrate", "--rollback", "--yes"],
        &["migrate", "--dry-run"],
    ] {
        let out = ws
            .tierctl("app")
            .args(args)
            .env("DOCKER_HOST", "unix:///nonexistent/tierctl-test.sock")
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "error: journal `{}` is in format version 9, which this tierctl does not read",
                path.display()
            )),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains("hint: a newer tierctl wrote this journal: resume, roll back or prune that migration with the release that wrote it"),
            "{args:?}: {stderr}"
        );
        assert_eq!(fs::read_to_string(&path).expect("journal"), newer);
    }
    assert!(matches!(
        journal::read(&path),
        Err(JournalError::UnknownFormat { version: 9, .. })
    ));
    assert!(
        journal::read(&path)
            .ok()
            .and_then(|r| JournalState::of(&r))
            .is_none()
    );
}
