//! `tierctl plan` and `tierctl rewrite` on fixture projects: diff snapshots, writing twice,
//! refusals.

use crate::workspace::Workspace;

const TIERS: &str = "tiers:\n  fast: { root: '{root}/fast' }\n  warm: { root: '{root}/warm' }\nplacement:\n  - match: { image: ['postgres*', '*/postgres*'] }\n    tier: fast\n    path: databases/{project}/{volume}\n  - match: { volume: ['*model*cache*'] }\n    tier: fast\n    path: ml_models/{project}\n  - match: { target: ['/config'] }\n    tier: fast\n    path: metadata/{project}/{service}\n  - tier: warm\n    path: '{project}/{volume}'\n";

const IMMICH: &str = r#"name: immich
# Immich, trimmed
services:
  immich-server:
    image: ghcr.io/immich-app/immich-server:release
    volumes:
      # Do not edit the next line. If you want to change the media storage location on your system, edit the value of UPLOAD_LOCATION in the .env file
      - ${UPLOAD_LOCATION}:/usr/src/app/upload
      - /etc/localtime:/etc/localtime:ro
  immich-machine-learning:
    image: ghcr.io/immich-app/immich-machine-learning:release
    volumes:
      - model-cache:/cache   # models
  database:
    image: docker.io/tensorchord/pgvecto-rs:pg14-v0.2.0
    volumes: ["pgdata:/var/lib/postgresql/data", 'photos dir:/photos:ro,z']
volumes:
  model-cache:
  pgdata:
  photos dir:
    # kept: has a comment
"#;

const IMMICH_ENV: &str = "# The location where your uploaded files are stored\nUPLOAD_LOCATION=./library\n# The location where your database files are stored\nDB_DATA_LOCATION=./postgres\nTZ=Etc/UTC\n";

fn immich() -> Workspace {
    Workspace::new()
        .file("tiers.yaml", TIERS)
        .file("app/compose.yaml", IMMICH)
        .file("app/.env", IMMICH_ENV)
        .dir("fast/photos")
        .symlink("app/library", "{root}/fast/photos")
}

fn stdout(ws: &Workspace, args: &[&str]) -> String {
    let out = ws
        .tierctl("app")
        .args(args)
        .args(["--tiers", "../tiers.yaml"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ws.redact(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn immich_plan_diff() {
    let ws = immich();
    insta::assert_snapshot!(stdout(&ws, &["plan"]));
}

#[test]
fn immich_plan_json() {
    let ws = immich();
    let text = stdout(&ws, &["plan", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["version"], 1);
    assert!(v["patches"].as_array().is_some_and(|p| !p.is_empty()));
    insta::assert_snapshot!(text);
}

/// Immich with binds only: a symlinked bind in compose.yaml and one through `.env`. `rewrite
/// --write` re-points no named volume, so it needs no Docker engine (issue 26 row 17).
const IMMICH_BINDS: &str = "name: immich\nservices:\n  immich-server:\n    image: ghcr.io/immich-app/immich-server:release\n    volumes:\n      - ${UPLOAD_LOCATION}:/usr/src/app/upload\n      - ./media:/media   # the media\n";

fn immich_binds() -> Workspace {
    Workspace::new()
        .file("tiers.yaml", TIERS)
        .file("app/compose.yaml", IMMICH_BINDS)
        .file("app/.env", IMMICH_ENV)
        .dir("fast/photos")
        .dir("fast/media")
        .symlink("app/library", "{root}/fast/photos")
        .symlink("app/media", "{root}/fast/media")
}

/// A dry run writes nothing; the first `--write` writes compose.yaml and `.env` with a backup
/// each; the second writes nothing.
fn assert_write_twice_changes_nothing_the_second_time(ws: &Workspace) {
    let before = std::fs::read_to_string(ws.path("app/compose.yaml")).expect("read");
    let dry = stdout(ws, &["rewrite"]);
    assert!(dry.contains("+++ compose.yaml"), "{dry}");
    assert_eq!(
        std::fs::read_to_string(ws.path("app/compose.yaml")).expect("read"),
        before,
        "a dry run writes nothing"
    );
    let first = stdout(ws, &["rewrite", "--write"]);
    assert!(first.contains("wrote compose.yaml"), "{first}");
    assert!(first.contains("wrote .env"), "{first}");
    let env = std::fs::read_to_string(ws.path("app/.env")).expect("read");
    assert!(env.contains(&format!(
        "UPLOAD_LOCATION={}/fast/photos\n",
        ws.root().display()
    )));
    let backups = std::fs::read_dir(ws.path("app"))
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tierctl-"))
        .count();
    assert_eq!(backups, 2);
    let after = std::fs::read_to_string(ws.path("app/compose.yaml")).expect("read");
    let second = stdout(ws, &["rewrite", "--write"]);
    assert!(!second.contains("wrote"), "{second}");
    assert_eq!(
        std::fs::read_to_string(ws.path("app/compose.yaml")).expect("read"),
        after
    );
}

/// Issue 26 row 17: binds only, so no engine is needed; with an engine, the Immich project
/// whose named volumes the stranded-data check asks the engine about, too.
#[test]
fn rewrite_write_twice_changes_nothing_the_second_time() {
    assert_write_twice_changes_nothing_the_second_time(&immich_binds());
    if crate::engine::engine().is_some() {
        assert_write_twice_changes_nothing_the_second_time(&immich());
    }
}

const PLEX: &str = "services:\n  plex:\n    image: lscr.io/linuxserver/plex\n    volumes:\n      - type: volume\n        source: plex-config\n        target: /config\n        volume:\n          nocopy: true\n      - type: bind\n        source: /Volumes/Media\n        target: /media\n        read_only: true\nvolumes:\n  plex-config: {}\n";

#[test]
fn plex_long_syntax_strict_binds_diff() {
    let ws = Workspace::new()
        .file("tiers.yaml", TIERS)
        .file("app/compose.yaml", PLEX)
        .dir("warm/media")
        .symlink("Volumes/Media", "{root}/warm/media");
    let text = PLEX.replace(
        "/Volumes/Media",
        &ws.path("Volumes/Media").display().to_string(),
    );
    std::fs::write(ws.path("app/compose.yaml"), text).expect("write");
    insta::assert_snapshot!(stdout(&ws, &["rewrite", "--strict-binds"]));
}

const ANCHORS: &str = "x-media: &media\n  - ./media:/media:ro   # shared\nx-base: &base\n  image: alpine\n  volumes: *media\nservices:\n  a:\n    <<: *base\n  b:\n    <<: *base\n  c:\n    image: alpine\n    volumes:\n      - \"./media:/media:ro\"\n";

#[test]
fn anchors_shared_by_several_services_diff() {
    let ws = Workspace::new()
        .file("tiers.yaml", TIERS)
        .file("app/compose.yaml", ANCHORS)
        .dir("warm/media dir")
        .symlink("app/media", "{root}/warm/media dir");
    insta::assert_snapshot!(stdout(&ws, &["plan"]));
}

#[test]
fn file_changed_between_plan_and_write_is_refused() {
    use tierctl::write::{FileWrite, WriteError, hash, write_all};
    let ws = immich();
    let path = ws.path("app/compose.yaml");
    let read = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, format!("{read}# edited meanwhile\n")).expect("write");
    let err = write_all(
        &[FileWrite {
            path: path.clone(),
            read_hash: hash(&read),
            text: "services: {}\n".into(),
        }],
        "20240101T000000",
    )
    .expect_err("refused");
    assert!(matches!(err, WriteError::Changed { .. }), "{err}");
    assert!(
        std::fs::read_to_string(&path)
            .expect("read")
            .ends_with("# edited meanwhile\n")
    );
}

#[test]
fn read_only_compose_file_is_refused_and_left_intact() {
    use std::os::unix::fs::PermissionsExt;
    // binds only: the refusal needs no engine (issue 26 row 17)
    let ws = immich_binds();
    let path = ws.path("app/compose.yaml");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let out = ws
        .tierctl("app")
        .args(["rewrite", "--write", "--tiers", "../tiers.yaml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is read-only"));
    assert_eq!(std::fs::read_to_string(&path).expect("read"), IMMICH_BINDS);
}

/// A read-only directory (a read-only mount: root ignores permission bits) and a full disk (a
/// 64 KiB tmpfs). Needs root to mount; skipped loudly otherwise.
#[test]
fn read_only_directory_and_full_disk_leave_the_original() {
    use tierctl::write::{FileWrite, hash, write_all};
    let dir = tempfile::tempdir().expect("temp dir");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).expect("mkdir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        skipped!("cannot mount a tmpfs (not root); full disk is tested with /dev/full in write.rs");
        return;
    }
    let path = mnt.join("compose.yaml");
    std::fs::write(&path, "a: 1\n").expect("write");
    // full disk: the temp file does not fit
    let big = FileWrite {
        path: path.clone(),
        read_hash: hash("a: 1\n"),
        text: "#".repeat(200_000),
    };
    let full = write_all(std::slice::from_ref(&big), "s");
    // read-only filesystem
    let remount = std::process::Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    let small = FileWrite {
        text: "a: 2\n".into(),
        ..big
    };
    let ro = write_all(std::slice::from_ref(&small), "s");
    let contents = std::fs::read_to_string(&path).expect("read");
    let entries = std::fs::read_dir(&mnt).expect("dir").count();
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    let err = full.expect_err("disk full");
    assert!(err.to_string().contains("No space left"), "{err}");
    assert!(remount);
    assert!(ro.is_err());
    assert_eq!(contents, "a: 1\n");
    assert_eq!(entries, 1, "no backup or temp file left behind");
}
