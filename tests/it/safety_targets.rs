//! Issue 11 item 9: mount targets compare as paths (`/vol/` is `/vol`), in the override merge,
//! in verify's compose cross-check and in migrate's mount check. Regression tests named after
//! the row D12 (mailcow writes four of its targets with a trailing slash).

use std::path::PathBuf;

use tierctl::compose::load::{LoadOptions, load};
use tierctl::compose::model::{ComposeProject, MountId};
use tierctl::migrate::ViewedMount;
use tierctl::migrate::mounts::mount_problems;
use tierctl::migrate::plan::{ExpectedMount, MigratePlan};
use tierctl::probe::DiskFiles;
use tierctl::verify::{MountKind, RunningMount, cross_check};

use crate::workspace::Workspace;

const MAILCOW: &str = "name: mailcow\nservices:\n  dovecot:\n    image: dovecot\n    volumes:\n      - vmail-vol-1:/var/vmail/\n      - crypt-vol-1:/mail_crypt/\nvolumes:\n  vmail-vol-1:\n  crypt-vol-1:\n";

const OVERRIDE: &str = "services:\n  dovecot:\n    volumes:\n      - /srv/vmail:/var/vmail\n      - /srv/crypt://mail_crypt/./\n";

fn mailcow() -> (Workspace, ComposeProject) {
    let ws = Workspace::new()
        .file("app/compose.yaml", MAILCOW)
        .file("app/compose.override.yaml", OVERRIDE);
    let options = LoadOptions {
        working_dir: ws.path("app"),
        home: PathBuf::from("/home/me"),
        ..LoadOptions::default()
    };
    let project = load(&options, &DiskFiles).unwrap_or_else(|e| panic!("load failed: {e}"));
    (ws, project)
}

#[test]
fn d12_an_override_of_a_target_with_a_trailing_slash_gives_one_mount_like_compose_go() {
    let (_ws, project) = mailcow();
    let mounts = &project.services["dovecot"].mounts;
    assert_eq!(mounts.len(), 2, "{mounts:#?}");
    let sources: Vec<_> = mounts.iter().map(|m| m.host_path.clone()).collect();
    assert_eq!(
        sources,
        [
            Some(PathBuf::from("/srv/vmail")),
            Some(PathBuf::from("/srv/crypt"))
        ]
    );
}

#[test]
fn d12_verify_matches_a_compose_target_with_a_trailing_slash_to_the_engines_clean_one() {
    let ws = Workspace::new().file("app/compose.yaml", MAILCOW);
    let options = LoadOptions {
        working_dir: ws.path("app"),
        ..LoadOptions::default()
    };
    let project = load(&options, &DiskFiles).unwrap_or_else(|e| panic!("load failed: {e}"));
    // the engine reports destinations cleaned
    let running = [
        RunningMount {
            kind: MountKind::Volume {
                name: "mailcow_vmail-vol-1".into(),
            },
            source: "mailcow_vmail-vol-1".into(),
            target: "/var/vmail".into(),
        },
        RunningMount {
            kind: MountKind::Volume {
                name: "mailcow_crypt-vol-1".into(),
            },
            source: "mailcow_crypt-vol-1".into(),
            target: "/mail_crypt".into(),
        },
    ];
    assert_eq!(
        cross_check(&project, "dovecot", &running),
        Vec::<String>::new()
    );
}

#[test]
fn d12_migrates_mount_check_matches_a_target_with_a_trailing_slash() {
    let plan = MigratePlan {
        mounts: vec![ExpectedMount {
            mount: MountId(0),
            service: "dovecot".into(),
            target: "/var/vmail/".into(),
            source: "/tiers/fast/mailcow/vmail".into(),
        }],
        ..MigratePlan::default()
    };
    let seen = [ViewedMount {
        container: "mailcow-dovecot-1".into(),
        service: "dovecot".into(),
        target: "/var/vmail".into(),
        verdict: "ok".into(),
        reasons: Vec::new(),
    }];
    assert_eq!(
        mount_problems(&plan, &["dovecot".to_owned()], &seen),
        Vec::<String>::new()
    );
}
