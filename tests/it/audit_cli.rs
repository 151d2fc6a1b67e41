//! `tierctl audit` on fixture projects built in temp dirs with real symlinks; snapshots of
//! the human and JSON output.

use crate::workspace::Workspace;

const TIERS: &str = r#"tiers:
  fast: { root: "{root}/Volumes/faststore", kind: nvme }
  warm: { root: "{root}/Volumes/warmstore", kind: ssd }
  cold: { root: "{root}/Volumes/coldstore", kind: hdd }
access_points:
  "{root}/Volumes/Photos": fast:photos
"#;

/// The seed case from the storage guide: photos bound through `/Volumes/Photos`, a symlink to
/// the fast tier; Postgres and the ML model cache in named volumes.
pub fn immich() -> Workspace {
    Workspace::new()
        .file("tiers.yaml", TIERS)
        .dir("Volumes/faststore/photos")
        .dir("Volumes/warmstore")
        .dir("Volumes/coldstore")
        .symlink("Volumes/Photos", "{root}/Volumes/faststore/photos")
        .file(
            "immich/docker-compose.yml",
            r#"name: immich

services:
  immich-server:
    image: ghcr.io/immich-app/immich-server:${IMMICH_VERSION:-release}
    volumes:
      # Do not edit the next line: edit UPLOAD_LOCATION in .env
      - ${UPLOAD_LOCATION}:/data
      - /etc/localtime:/etc/localtime:ro

  immich-machine-learning:
    image: ghcr.io/immich-app/immich-machine-learning:${IMMICH_VERSION:-release}
    volumes:
      - model-cache:/cache

  database:
    image: ghcr.io/immich-app/postgres:14-vectorchord0.4.3
    volumes:
      - pgdata:/var/lib/postgresql/data

volumes:
  model-cache:
  pgdata:
"#,
        )
        .file(
            "immich/.env",
            "# photos, through the access point\nUPLOAD_LOCATION={root}/Volumes/Photos\n",
        )
}

/// Plex with its metadata on the warm tier, plus the hard cases: a symlink loop, a link on the
/// fast tier pointing into the cold tier, a missing source, a directory on no tier, and mounts
/// to leave alone.
fn plex() -> Workspace {
    Workspace::new()
        .file("tiers.yaml", TIERS)
        .dir("Volumes/faststore")
        .dir("Volumes/warmstore/plex/config")
        .dir("Volumes/warmstore/movies")
        .dir("Volumes/coldstore/archive")
        .dir("srv/downloads")
        .symlink("Volumes/faststore/archive", "../coldstore/archive")
        .symlink("Volumes/loop-a", "loop-b")
        .symlink("Volumes/loop-b", "loop-a")
        .file(
            "plex/compose.yaml",
            r#"services:
  plex:
    image: lscr.io/linuxserver/plex:latest
    volumes:
      - {root}/Volumes/warmstore/plex/config:/config
      - {root}/Volumes/warmstore/movies:/movies:ro
      - {root}/Volumes/faststore/archive:/archive
      - {root}/Volumes/loop-a:/loop
      - type: bind
        source: ./transcode
        target: /transcode
      - {root}/srv/downloads:/downloads
      - type: tmpfs
        target: /scratch
  backup:
    image: restic/restic
    volumes:
      - shared:/shared
      - nfsdata:/nfs
      - /cache
volumes:
  shared:
    external: true
  nfsdata:
    driver_opts: { type: nfs, o: "addr=127.0.0.1", device: ":/export" }
"#,
        )
}

fn audit(ws: &Workspace, dir: &str, args: &[&str]) -> (i32, String) {
    let out = ws
        .tierctl(dir)
        .args(["audit", "--offline", "--tiers", "../tiers.yaml"])
        .args(args)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "no stderr expected: {stderr}");
    (
        out.status.code().expect("exit code"),
        ws.redact(&String::from_utf8_lossy(&out.stdout)),
    )
}

#[test]
fn seed_case_human() {
    let ws = immich();
    let (code, out) = audit(&ws, "immich", &[]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
}

#[test]
fn seed_case_json() {
    let ws = immich();
    let (code, out) = audit(&ws, "immich", &["--format", "json"]);
    assert_eq!(code, 1);
    let parsed: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(parsed["version"], 1);
    assert_eq!(parsed["project"], "immich");
    insta::assert_snapshot!(out);
}

#[test]
fn plex_and_hard_cases_human() {
    let ws = plex();
    let (code, out) = audit(&ws, "plex", &[]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
}

#[test]
fn plex_and_hard_cases_json() {
    let ws = plex();
    let (_, out) = audit(&ws, "plex", &["--format", "json"]);
    insta::assert_snapshot!(out);
}

#[test]
fn a_clean_project_exits_zero() {
    let ws = Workspace::new()
        .file("tiers.yaml", TIERS)
        .dir("Volumes/faststore/databases/app/db")
        .file(
            "app/compose.yaml",
            "services:\n  db:\n    image: postgres:16\n    volumes:\n      - {root}/Volumes/faststore/databases/app/db:/var/lib/postgresql/data\n      - /etc/localtime:/etc/localtime:ro\n",
        );
    let (code, out) = audit(&ws, "app", &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "project app: no storage problems found\n");
}

#[test]
fn completions_and_man_page() {
    let ws = Workspace::new();
    let out = ws
        .tierctl("")
        .args(["completions", "bash"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("tierctl"));
    let out = ws.tierctl("").arg("man").output().expect("runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH tierctl"));
}

#[test]
fn issue12_man_sub_pages_it_refers_to_exist() {
    let ws = Workspace::new();
    let out = ws
        .tierctl("")
        .args(["man", "--dir", "man1"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let dir = ws.path("man1");
    let mut checked = 0;
    for page in std::fs::read_dir(&dir).expect("man1 written") {
        let path = page.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("a page");
        // Every `tierctl\-x(1)` a page refers to is a file beside it.
        for part in text.split("(1)").filter_map(|p| p.rsplit_once('\n')) {
            let name = part.1.replace("\\-", "-");
            if name.starts_with("tierctl-") {
                assert!(
                    dir.join(format!("{name}.1")).is_file(),
                    "{} refers to {name}(1)",
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "{checked} references checked");
    assert!(dir.join("tierctl-tiers-init.1").is_file());
}

#[test]
fn issue12_audit_with_a_dead_engine_socket_says_vm_checks_were_skipped() {
    let ws = immich();
    let out = ws
        .tierctl("immich")
        .args(["audit", "--tiers", "../tiers.yaml"])
        .env(
            "DOCKER_HOST",
            format!("unix://{}/dead.sock", ws.root().display()),
        )
        .env_remove("DOCKER_CONTEXT")
        .output()
        .expect("runs");
    let text = ws.redact(&String::from_utf8_lossy(&out.stdout));
    let notes: Vec<&str> = text.lines().filter(|l| l.starts_with("note: ")).collect();
    assert_eq!(notes.len(), 1, "{text}");
    assert!(
        notes[0].starts_with("note: VM checks skipped: the engine does not answer ("),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    // --offline asks for it: no note.
    let (_, offline) = audit(&ws, "immich", &[]);
    assert!(!offline.contains("note:"), "{offline}");
}

#[test]
fn issue12_a_newline_in_a_path_is_escaped_in_the_human_line_format() {
    let ws = Workspace::new()
        .file("tiers.yaml", TIERS)
        .dir("Volumes/faststore")
        .dir("srv/a\nb")
        .file(
            "app/compose.yaml",
            "services:\n  app:\n    image: nginx\n    volumes:\n      - type: bind\n        source: \"{root}/srv/a\\nb\"\n        target: /data\n",
        );
    let (code, out) = audit(&ws, "app", &[]);
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "compose.yaml:6:17  bind-outside-tiers  app: [ROOT]/srv/a\\nb is on no tier",
        "{out}"
    );
    assert!(lines[1].trim_start().starts_with("hint: "), "{out}");
    assert!(lines[2].starts_with("project app: 1 finding"), "{out}");
}

/// Issue 12: `${CONFIG}/web` with CONFIG unset is `/web`; compose warns ("The "CONFIG" variable
/// is not set. Defaulting to a blank string."), so tierctl does too: once per variable, at its
/// first use — in `audit`'s notes (human and JSON), on stderr for the other commands.
#[test]
fn issue12_an_unset_variable_is_noted_once_like_compose_warns() {
    let ws = Workspace::new().file("tiers.yaml", TIERS).file(
        "app/compose.yaml",
        "services:\n  web:\n    image: nginx\n    volumes:\n      - ${CONFIG}/web:/web\n      - ${CONFIG}/b:/b\n      - ${DATA:-./data}:/data\n",
    );
    let note = "compose.yaml:5:9: The \"CONFIG\" variable is not set. Defaulting to a blank string. (used once more)";
    let human = ws
        .tierctl("app")
        .env_remove("CONFIG")
        .args(["audit", "--offline"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&human.stdout);
    assert_eq!(stdout.matches("is not set").count(), 1, "{stdout}");
    assert!(stdout.contains(&format!("note: {note}\n")), "{stdout}");
    let json = ws
        .tierctl("app")
        .env_remove("CONFIG")
        .args(["audit", "--offline", "--format", "json"])
        .output()
        .expect("runs");
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let notes: Vec<&str> = value["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].ends_with(&format!("/app/{note}")), "{notes:?}");
    let plan = ws
        .tierctl("app")
        .env_remove("CONFIG")
        .args(["plan"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&plan.stderr);
    assert_eq!(stderr.matches("is not set").count(), 1, "{stderr}");
    assert!(stderr.contains(note), "{stderr}");
    let set = ws
        .tierctl("app")
        .env("CONFIG", "/srv")
        .args(["audit", "--offline"])
        .output()
        .expect("runs");
    assert!(!String::from_utf8_lossy(&set.stdout).contains("is not set"));
}

/// Issue 26 row 13: a project compose refuses (a missing `env_file`, a service with neither
/// `image` nor `build`, an undefined network, a duplicate `container_name`) is still audited for
/// its storage, with a warning at each place. Each case on its own is a refusal of the real
/// `docker compose config` (v2), checked here when that CLI is installed.
#[test]
fn issue26_row13_audit_warns_that_compose_will_refuse_the_project() {
    const TIERS: &str = "tiers:\n  fast: { root: '{root}/fast' }\nplacement:\n  - tier: fast\n    path: '{project}/{volume}'\n";
    let cases = [
        (
            "    env_file: missing.env\n",
            "env file `missing.env` of service `a` is not there",
            6,
        ),
        (
            "    networks: [front]\n",
            "service `a` uses network `front`",
            6,
        ),
        (
            "  b:\n    command: x\n",
            "service `b` has neither `image` nor `build`",
            6,
        ),
        (
            "    container_name: cname\n  b:\n    image: busybox\n    container_name: cname\n",
            "service `b` has `container_name: cname`, which service `a` already has",
            9,
        ),
    ];
    let compose_cli = crate::compose_runner::Family::V2.program();
    for (extra, said, line) in cases {
        let compose = format!(
            "name: app\nservices:\n  a:\n    image: busybox\n    volumes: [data:/d]\n{extra}volumes:\n  data:\n"
        );
        let ws = Workspace::new()
            .file("tiers.yaml", TIERS)
            .dir("fast")
            .file("app/compose.yaml", &compose);
        let out = ws
            .tierctl("app")
            .args(["audit", "--offline", "--tiers", "../tiers.yaml"])
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "the named volume's finding: {stdout}"
        );
        assert!(
            stdout.contains(&format!("note: compose.yaml:{line}:"))
                && stdout.contains("compose will refuse this project: ")
                && stdout.contains(said),
            "{extra}: {stdout}"
        );
        assert!(
            stdout.contains("named-volume"),
            "the storage is audited: {stdout}"
        );
        let mounts = ws
            .tierctl("app")
            .args(["mounts", "--tiers", "../tiers.yaml"])
            .output()
            .expect("runs");
        assert!(
            String::from_utf8_lossy(&mounts.stderr).contains(said),
            "other commands warn on stderr"
        );
        if let Some(cli) = &compose_cli {
            let config = std::process::Command::new(&cli[0])
                .args(&cli[1..])
                .args(["config", "-q"])
                .current_dir(ws.path("app"))
                .output()
                .expect("compose runs");
            assert!(!config.status.success(), "compose refuses {extra:?}");
        }
    }
}
