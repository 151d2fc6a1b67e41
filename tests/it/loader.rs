//! The compose loader against real files: merge, include, extends, profiles, env, origins.

use std::path::PathBuf;

use tierctl::compose::env::VarSource;
use tierctl::compose::load::{LoadOptions, load};
use tierctl::compose::model::{ComposeProject, MountType, VolumeMount};
use tierctl::compose::origin::{Position, Reach};
use tierctl::probe::DiskFiles;

use crate::workspace::Workspace;

fn options(ws: &Workspace, files: &[&str]) -> LoadOptions {
    LoadOptions {
        files: files.iter().map(PathBuf::from).collect(),
        working_dir: ws.root(),
        home: PathBuf::from("/home/me"),
        ..LoadOptions::default()
    }
}

fn load_ok(_ws: &Workspace, opts: &LoadOptions) -> ComposeProject {
    match load(opts, &DiskFiles) {
        Ok(p) => p,
        Err(e) => panic!("load failed: {e}"),
    }
}

fn mount<'a>(p: &'a ComposeProject, service: &str, target: &str) -> &'a VolumeMount {
    p.services[service]
        .mounts
        .iter()
        .find(|m| m.target == target)
        .unwrap_or_else(|| panic!("{service} has no mount at {target}"))
}

#[test]
fn override_files_merge_mounts_by_target_and_keep_each_origin() {
    let ws = Workspace::new()
        .file(
            "compose.yaml",
            "services:\n  web:\n    image: nginx\n    volumes:\n      - ./html:/usr/share/nginx/html\n      - logs:/var/log/nginx\nvolumes:\n  logs:\n",
        )
        .file(
            "compose.override.yaml",
            "services:\n  web:\n    volumes:\n      - /srv/html:/usr/share/nginx/html:ro\n",
        );
    let opts = options(&ws, &[]);
    let p = load_ok(&ws, &opts);
    assert_eq!(p.files.len(), 2, "discovery finds the override file");
    let html = mount(&p, "web", "/usr/share/nginx/html");
    assert_eq!(html.source.as_deref(), Some("/srv/html"));
    assert!(html.read_only);
    assert_eq!(html.origin.file, ws.path("compose.override.yaml"));
    assert_eq!(html.origin.position, Some(Position { line: 4, column: 9 }));
    let logs = mount(&p, "web", "/var/log/nginx");
    assert_eq!(logs.kind, MountType::Volume);
    assert_eq!(logs.origin.file, ws.path("compose.yaml"));
    assert_eq!(logs.origin.position, Some(Position { line: 6, column: 9 }));
    assert_eq!(
        p.name,
        ws.root()
            .file_name()
            .map(|n| tierctl::compose::load::normalize_project_name(&n.to_string_lossy()))
            .expect("dir name")
    );
}

#[test]
fn variables_keep_the_env_file_line_that_set_them() {
    let ws = Workspace::new()
        .file(
            "docker-compose.yml",
            "name: immich\nservices:\n  server:\n    image: immich\n    volumes:\n      # do not edit the next line\n      - ${UPLOAD_LOCATION}:/data\n      - ${BASE:-/srv}/thumbs:/thumbs\n",
        )
        .file(".env", "# where photos live\n\nUPLOAD_LOCATION=/Volumes/Photos\n");
    let p = load_ok(&ws, &options(&ws, &[]));
    assert_eq!(p.name, "immich");
    let data = mount(&p, "server", "/data");
    assert_eq!(data.source.as_deref(), Some("/Volumes/Photos"));
    assert_eq!(data.origin.text, "${UPLOAD_LOCATION}:/data");
    let var = &data.origin.variables[0];
    assert_eq!(var.name, "UPLOAD_LOCATION");
    assert!(var.whole);
    assert_eq!(
        var.set_by,
        Some(VarSource::EnvFile {
            path: ws.path(".env"),
            line: 3
        })
    );
    let thumbs = mount(&p, "server", "/thumbs");
    assert_eq!(thumbs.source.as_deref(), Some("/srv/thumbs"));
    assert!(thumbs.origin.variables[0].used_default);
    assert!(!thumbs.origin.variables[0].whole);
}

#[test]
fn process_environment_wins_over_dot_env() {
    let ws = Workspace::new()
        .file(
            "compose.yaml",
            "services:\n  a:\n    image: x\n    volumes: ['${D}:/d']\n",
        )
        .file(".env", "D=/from/file\n");
    let mut opts = options(&ws, &[]);
    opts.process_env = vec![("D".into(), "/from/env".into())];
    let p = load_ok(&ws, &opts);
    let d = mount(&p, "a", "/d");
    assert_eq!(d.source.as_deref(), Some("/from/env"));
    assert_eq!(d.origin.variables[0].set_by, Some(VarSource::Environment));
}

#[test]
fn compose_file_variable_with_custom_separator() {
    let ws = Workspace::new()
        .file("one.yml", "services:\n  a:\n    image: x\n")
        .file("two.yml", "services:\n  a:\n    volumes: ['/x:/x']\n");
    let mut opts = options(&ws, &[]);
    opts.process_env = vec![
        ("COMPOSE_FILE".into(), "one.yml;two.yml".into()),
        ("COMPOSE_PATH_SEPARATOR".into(), ";".into()),
        ("COMPOSE_PROJECT_NAME".into(), "My.Project".into()),
    ];
    let p = load_ok(&ws, &opts);
    assert_eq!(p.name, "myproject");
    assert_eq!(p.services["a"].image.as_deref(), Some("x"));
    assert_eq!(mount(&p, "a", "/x").origin.file, ws.path("two.yml"));
}

#[test]
fn anchors_and_merge_keys_point_at_the_anchor() {
    let ws = Workspace::new().file(
        "compose.yaml",
        "x-data: &data\n  volumes:\n    - /srv/shared:/shared\nservices:\n  a:\n    <<: *data\n    image: a\n  b:\n    image: b\n    volumes: &vols\n      - /srv/b:/b\n  c:\n    image: c\n    volumes: *vols\n",
    );
    let p = load_ok(&ws, &options(&ws, &[]));
    let a = mount(&p, "a", "/shared");
    assert_eq!(a.origin.reach, Reach::MergeKey);
    assert_eq!(a.origin.position, Some(Position { line: 3, column: 7 }));
    let c = mount(&p, "c", "/b");
    assert_eq!(c.origin.reach, Reach::Anchor);
    assert_eq!(
        c.origin.position,
        Some(Position {
            line: 11,
            column: 9
        })
    );
    assert_eq!(mount(&p, "b", "/b").origin.reach, Reach::Direct);
}

#[test]
fn extends_in_the_same_file_and_another_file() {
    let ws = Workspace::new()
        .file(
            "compose.yaml",
            "services:\n  base:\n    image: pg\n    volumes: ['./data:/data']\n  child:\n    extends: base\n    volumes: ['./cache:/cache']\n  remote:\n    extends:\n      file: lib/common.yml\n      service: common\n",
        )
        .file("lib/common.yml", "services:\n  common:\n    image: common\n    volumes: ['./lib-data:/x']\n");
    let p = load_ok(&ws, &options(&ws, &[]));
    assert_eq!(p.services["child"].image.as_deref(), Some("pg"));
    let inherited = mount(&p, "child", "/data");
    assert_eq!(inherited.origin.reach, Reach::Extends);
    assert_eq!(inherited.host_path, Some(ws.path("data")));
    let remote = mount(&p, "remote", "/x");
    assert_eq!(
        remote.host_path,
        Some(ws.path("lib/lib-data")),
        "relative to the extended file"
    );
    assert_eq!(remote.origin.file, ws.path("lib/common.yml"));
}

#[test]
fn include_loads_a_project_relative_to_its_own_directory() {
    let ws = Workspace::new()
        .file("compose.yaml", "include:\n  - db/compose.yaml\nservices:\n  app:\n    image: app\n")
        .file("db/compose.yaml", "services:\n  db:\n    image: postgres\n    volumes: ['./pg:/var/lib/postgresql/data', 'dbdata:/backup']\nvolumes:\n  dbdata:\n");
    let p = load_ok(&ws, &options(&ws, &[]));
    let pg = mount(&p, "db", "/var/lib/postgresql/data");
    assert_eq!(pg.host_path, Some(ws.path("db/pg")));
    assert!(p.volumes.contains_key("dbdata"));
    assert!(p.services.contains_key("app"));
}

#[test]
fn profiles_enable_services() {
    let ws = Workspace::new().file(
        "compose.yaml",
        "services:\n  a:\n    image: a\n  dbg:\n    image: d\n    profiles: [debug]\n",
    );
    let mut opts = options(&ws, &[]);
    let p = load_ok(&ws, &opts);
    assert!(p.services["a"].enabled);
    assert!(!p.services["dbg"].enabled);
    opts.process_env = vec![("COMPOSE_PROFILES".into(), "debug".into())];
    assert!(load_ok(&ws, &opts).services["dbg"].enabled);
    opts.process_env.clear();
    opts.profiles = vec!["debug".into()];
    assert!(load_ok(&ws, &opts).services["dbg"].enabled);
}

#[test]
fn needs_come_from_depends_on_links_and_volumes_from() {
    let ws = Workspace::new().file(
        "compose.yaml",
        "services:\n  db:\n    image: p\n  cache:\n    image: r\n  app:\n    image: a\n    depends_on: [db]\n    links: ['cache:redis']\n  worker:\n    image: w\n    depends_on:\n      db:\n        condition: service_healthy\n    volumes_from: ['app:ro', 'container:other']\n",
    );
    let p = load_ok(&ws, &options(&ws, &[]));
    assert_eq!(p.services["app"].needs, ["cache", "db"]);
    assert_eq!(p.services["worker"].needs, ["app", "db"]);
    assert!(p.services["db"].needs.is_empty());
}

#[test]
fn reset_and_override_tags_in_an_override_file() {
    let ws = Workspace::new()
        .file("a.yml", "services:\n  s:\n    image: s\n    volumes: ['/a:/a', '/b:/b']\n  t:\n    image: t\n    volumes: ['/c:/c']\n")
        .file("b.yml", "services:\n  s:\n    volumes: !reset []\n  t:\n    volumes: !override ['/d:/d']\n");
    let p = load_ok(&ws, &options(&ws, &["a.yml", "b.yml"]));
    assert!(p.services["s"].mounts.is_empty());
    let t: Vec<&str> = p.services["t"]
        .mounts
        .iter()
        .map(|m| m.target.as_str())
        .collect();
    assert_eq!(t, ["/d"]);
}

#[test]
fn long_syntax_and_top_level_volume_kinds() {
    let ws = Workspace::new().file(
        "compose.yaml",
        r#"services:
  s:
    image: s
    volumes:
      - type: bind
        source: ~/photos
        target: /photos
        read_only: true
        bind:
          create_host_path: false
      - type: volume
        source: ext
        target: /ext
        volume:
          nocopy: true
      - type: tmpfs
        target: /tmp
      - /anon
volumes:
  ext:
    external: true
  legacy:
    external:
      name: real-name
  named:
    name: custom
  nfs:
    driver_opts: {type: nfs, o: "addr=10.0.0.1", device: ":/export"}
  disguised:
    driver: local
    driver_opts: {type: none, o: bind, device: /Volumes/fast/x}
  plain:
"#,
    );
    let p = load_ok(&ws, &options(&ws, &[]));
    let photos = mount(&p, "s", "/photos");
    assert_eq!(photos.host_path, Some(PathBuf::from("/home/me/photos")));
    assert!(photos.read_only && !photos.create_host_path);
    assert_eq!(photos.origin.text, "~/photos");
    assert_eq!(
        photos.origin.position,
        Some(Position {
            line: 6,
            column: 17
        })
    );
    assert!(mount(&p, "s", "/ext").nocopy);
    assert_eq!(mount(&p, "s", "/tmp").kind, MountType::Tmpfs);
    assert_eq!(mount(&p, "s", "/anon").source, None);
    let v = &p.volumes;
    assert_eq!(v["ext"].effective_name("proj"), "ext");
    assert_eq!(v["legacy"].effective_name("proj"), "real-name");
    assert!(v["legacy"].external);
    assert_eq!(v["named"].effective_name("proj"), "custom");
    assert_eq!(
        v["plain"].effective_name(&p.name),
        format!("{}_plain", p.name)
    );
    assert_eq!(v["nfs"].bind_device(), None);
    assert_eq!(
        v["disguised"].bind_device(),
        Some(PathBuf::from("/Volumes/fast/x"))
    );
}
