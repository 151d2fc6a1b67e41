//! Bad input: a clear error naming the file, line and what to do; exit 2; never a panic.

use predicates::prelude::*;

use crate::workspace::Workspace;

const TIERS: &str = "tiers:\n  fast: { root: /srv/fast }\n  warm: { root: /srv/warm }\n";

fn run_err(ws: &Workspace, args: &[&str]) -> String {
    let out = ws.tierctl("").args(args).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit 2 expected, stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    assert!(stderr.contains("hint: "), "a hint line: {stderr}");
    ws.redact(&stderr)
}

fn project(compose: &str) -> Workspace {
    Workspace::new()
        .file("tiers.yaml", TIERS)
        .file("compose.yaml", compose)
}

#[test]
fn invalid_yaml_names_file_and_line() {
    let ws = project("services:\n  web:\n    image: [nginx\n    volumes: x\n");
    let err = run_err(&ws, &["audit"]);
    assert!(err.contains("[ROOT]/compose.yaml:"), "{err}");
    assert!(err.contains("invalid YAML"), "{err}");
}

#[test]
fn spec_violation_names_the_key() {
    let ws = project("services:\n  web:\n    image: nginx\n    volume:\n      - /srv/www:/www\n");
    let err = run_err(&ws, &["audit"]);
    assert!(err.contains("compose.yaml:4:5"), "{err}");
    assert!(
        err.contains("unknown key `volume` in service `web` (did you mean `volumes`?)"),
        "{err}"
    );
}

#[test]
fn required_variable_unset() {
    let ws = project(
        "services:\n  web:\n    image: nginx\n    volumes:\n      - ${DATA:?set DATA to the photo dir}:/data\n",
    );
    let err = run_err(&ws, &["audit"]);
    assert!(err.contains("compose.yaml:5:9"), "{err}");
    assert!(err.contains("DATA"), "{err}");
    assert!(err.contains("set DATA to the photo dir"), "{err}");
}

#[test]
fn missing_file_given_with_f() {
    let ws = project("services: {}\n");
    let err = run_err(&ws, &["audit", "-f", "nope.yml"]);
    assert!(err.contains("nope.yml"), "{err}");
}

#[test]
fn include_cycle() {
    let ws =
        project("include: [b.yaml]\nservices: {}\n").file("b.yaml", "include: [compose.yaml]\n");
    let err = run_err(&ws, &["audit"]);
    assert!(err.contains("include cycle"), "{err}");
}

#[test]
fn extends_loop() {
    let ws = project("services:\n  a:\n    extends: b\n    image: x\n  b:\n    extends: a\n");
    let err = run_err(&ws, &["audit"]);
    assert!(err.contains("`extends` loop"), "{err}");
}

#[test]
fn bad_volume_syntax() {
    let ws = project("services:\n  a:\n    image: x\n    volumes:\n      - \"./data:\"\n");
    let err = run_err(&ws, &["audit"]);
    assert!(err.contains("compose.yaml:5:9"), "{err}");
    assert!(err.contains("empty target"), "{err}");
}

#[test]
fn tiers_errors_name_line_and_column() {
    let ws = Workspace::new()
        // (a relative root is fine since issue 12: it resolves against the tiers.yaml's directory)
        .file("tiers.yaml", "tiers:\n  fast: { root: /srv/../fast }\n")
        .file("compose.yaml", "services: {}\n");
    let err = run_err(&ws, &["audit"]);
    assert!(err.contains("tiers.yaml:2:"), "{err}");
}

#[test]
fn no_tiers_file() {
    let ws = Workspace::new().file("compose.yaml", "services: {}\n");
    let err = run_err(&ws, &["audit"]);
    assert!(err.contains("no tiers.yaml found"), "{err}");
}

#[test]
fn no_compose_file() {
    let ws = Workspace::new().file("tiers.yaml", TIERS);
    let err = run_err(&ws, &["audit"]);
    assert!(err.contains("no compose file found"), "{err}");
}

#[test]
fn unreadable_compose_file_is_an_error_not_a_panic() {
    let ws = project("services: {}\n").dir("adir");
    let out = ws
        .tierctl("")
        .args(["audit", "-f", "adir"])
        .assert()
        .code(2);
    out.stderr(predicate::str::contains("adir"));
}

#[test]
fn symlink_loop_is_a_finding_not_a_hang() {
    let ws = project("services:\n  a:\n    image: x\n    volumes: ['{root}/loop:/data']\n")
        .symlink("loop", "{root}/loop2")
        .symlink("loop2", "{root}/loop");
    let out = ws.tierctl("").arg("audit").output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("circular-symlink"), "{stdout}");
}

#[test]
fn issue12_empty_compose_file_is_refused_like_compose() {
    for text in ["", "# nothing here yet\n"] {
        let ws = project(text);
        let err = run_err(&ws, &["audit"]);
        assert!(
            err.contains("error: `[ROOT]/compose.yaml`: empty compose file"),
            "{err}"
        );
    }
}

#[test]
fn issue12_a_directory_given_as_the_compose_file_says_so() {
    let ws = project("services: {}\n").dir("stack");
    let err = run_err(&ws, &["audit", "-f", "stack"]);
    assert!(err.contains("cannot read `[ROOT]/stack`"), "{err}");
    assert!(err.contains("Is a directory"), "{err}");
    assert!(!err.contains("no such file"), "{err}");
}

#[test]
fn issue12_an_include_in_an_unreadable_directory_says_permission_denied() {
    use std::collections::BTreeMap;
    use std::io;
    use std::path::{Path, PathBuf};
    use tierctl::compose::load::{Files, LoadOptions, load};

    /// `/p/private` is a directory the user may not search (mode 0700, another owner): the
    /// kernel answers EACCES, which a test running as root cannot get from a real directory.
    struct Private(BTreeMap<PathBuf, String>);
    impl Files for Private {
        fn read(&self, path: &Path) -> io::Result<String> {
            if path.starts_with("/p/private") {
                return Err(io::Error::from(io::ErrorKind::PermissionDenied));
            }
            self.0
                .get(path)
                .cloned()
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }
        fn is_file(&self, path: &Path) -> bool {
            self.0.contains_key(path)
        }
    }
    let files = Private(BTreeMap::from([(
        PathBuf::from("/p/compose.yaml"),
        "include:\n  - private/db.yaml\n  - missing/db.yaml\nservices: {}\n".to_owned(),
    )]));
    let options = LoadOptions {
        working_dir: "/p".into(),
        home: "/home/u".into(),
        ..LoadOptions::default()
    };
    let err = load(&options, &files).expect_err("refused").to_string();
    assert!(
        err.contains(
            "included or extended file `/p/private/db.yaml` cannot be read: permission denied"
        ),
        "{err}"
    );
    assert!(!err.contains("does not exist"), "{err}");
}

#[test]
fn issue12_a_duplicate_key_points_at_the_duplicate_and_names_the_first() {
    let ws = project(
        "services:\n  web:\n    image: nginx\n  db:\n    image: postgres\n  web:\n    image: other\n",
    );
    let err = run_err(&ws, &["audit"]);
    assert!(
        err.contains(
            "[ROOT]/compose.yaml:6:3: invalid YAML: services: duplicate key `web` (first written at line 2)"
        ),
        "{err}"
    );
    let ws = project("services:\n  web:\n    image: nginx\n    volumes: []\n    image: x\n");
    let err = run_err(&ws, &["audit"]);
    assert!(
        err.contains("compose.yaml:5:5: invalid YAML: services.web: duplicate key `image` (first written at line 3)"),
        "{err}"
    );
    assert!(
        err.contains("hint: a key is written once per mapping"),
        "{err}"
    );
}
