//! Every shipped compose template: `tierctl new` renders it with real tier paths and creates
//! its directories, the result validates against the compose schema, and `tierctl audit` of it
//! (with the same tiers.yaml) is clean.

use std::os::unix::fs::MetadataExt;

use tierctl::template::TEMPLATES;

use crate::corpus_tree::corpus_dir;
use crate::workspace::Workspace;

const TIERS: &str = "\
tiers:
  fast: { root: '{root}/faststore', kind: nvme }
  warm: { root: '{root}/warmstore', kind: ssd }
  cold: { root: '{root}/coldstore', kind: hdd }
";

fn schema() -> Option<jsonschema::Validator> {
    let corpus = corpus_dir()?;
    let text = std::fs::read_to_string(corpus.join("compose-spec.schema.json")).ok()?;
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    Some(jsonschema::validator_for(&schema).expect("schema compiles"))
}

#[test]
fn every_template_renders_validates_and_audits_clean() {
    let schema = schema();
    if schema.is_none() {
        skipped!("compose schema validation (no corpus)");
    }
    for template in TEMPLATES {
        let ws = Workspace::new()
            .file("tiers.yaml", TIERS)
            .dir("faststore")
            .dir("warmstore")
            .dir("coldstore");
        let out = ws
            .tierctl("")
            .args(["new", template.name, "-o", "stack"])
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {stdout}{}",
            template.name,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("tierctl audit"), "{stdout}");
        let compose = std::fs::read_to_string(ws.path("stack/compose.yaml")).expect("compose.yaml");
        let env = std::fs::read_to_string(ws.path("stack/.env")).expect(".env");
        assert!(
            !compose.contains("{{") && !env.contains("{{"),
            "{}",
            template.name
        );
        assert!(
            env.contains(&ws.path("faststore").display().to_string()),
            "{env}"
        );

        if let Some(validator) = &schema {
            let value: serde_json::Value = serde_norway::from_str(&compose).expect("YAML");
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", template.name);
        }

        let audit = ws
            .tierctl("stack")
            .args(["--tiers", "../tiers.yaml", "audit"])
            .output()
            .expect("runs");
        assert_eq!(
            audit.status.code(),
            Some(0),
            "{}: {}",
            template.name,
            String::from_utf8_lossy(&audit.stdout)
        );

        // Rendering again keeps the identical files (issue 12: `new` is re-runnable; edited
        // files are refused: `issue12_new_again_...`).
        let again = ws
            .tierctl("")
            .args(["new", template.name, "-o", "stack"])
            .output()
            .expect("runs");
        assert_eq!(again.status.code(), Some(0), "{}", template.name);
        assert_eq!(
            std::fs::read_to_string(ws.path("stack/compose.yaml")).expect("kept"),
            compose
        );
    }
}

#[test]
fn postgres_data_is_owned_by_uid_999() {
    if !nix::unistd::geteuid().is_root() {
        skipped!("postgres_data_is_owned_by_uid_999 needs root");
        return;
    }
    let ws = Workspace::new()
        .file("tiers.yaml", TIERS)
        .dir("faststore")
        .dir("warmstore")
        .dir("coldstore");
    ws.tierctl("")
        .args(["new", "immich", "-o", "immich"])
        .assert()
        .success();
    let meta = std::fs::metadata(ws.path("faststore/databases/immich/database")).expect("created");
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (999, 999, 0o700)
    );
}

#[test]
fn unknown_template_names_the_known_ones() {
    let ws = Workspace::new().file("tiers.yaml", TIERS);
    let out = ws
        .tierctl("")
        .args(["new", "nextcloud", "-o", "x"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown compose template `nextcloud`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`immich`, `plex`, `postgres-app`"),
        "{stderr}"
    );
}

#[test]
fn issue12_new_projects_next_step_audit_finds_tiers_yaml_in_a_parent() {
    let ws = Workspace::new()
        .file("tiers.yaml", TIERS)
        .dir("faststore")
        .dir("warmstore")
        .dir("coldstore");
    ws.tierctl("")
        .args(["new", "postgres-app", "-o", "stack"])
        .assert()
        .success();
    // The printed next step: `cd stack && tierctl audit`.
    let out = ws
        .tierctl("stack")
        .args(["audit", "--offline"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("no tiers.yaml found"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// Issue 12: `tierctl new` must be re-runnable. Again on the directory it created it keeps the
/// identical files (exit 0, nothing rewritten); a missing file is created; a file with the
/// user's edits refuses the run by name, writing nothing, unless `--force`, which backs it up
/// first.
#[test]
fn issue12_new_again_keeps_identical_files_creates_missing_and_refuses_edited_ones() {
    let ws = Workspace::new()
        .file("tiers.yaml", TIERS)
        .dir("faststore")
        .dir("warmstore")
        .dir("coldstore");
    let new = |extra: &[&str]| {
        ws.tierctl("")
            .args(["new", "postgres-app", "-o", "stack"])
            .args(extra)
            .output()
            .expect("runs")
    };
    assert_eq!(new(&[]).status.code(), Some(0));
    let compose = std::fs::read_to_string(ws.path("stack/compose.yaml")).expect("written");
    let again = new(&[]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("kept   "), "{stdout}");
    assert!(!stdout.contains("wrote"), "{stdout}");

    std::fs::remove_file(ws.path("stack/compose.yaml")).expect("removed");
    let edited = "# my password\nPOSTGRES_PASSWORD=mine\n";
    std::fs::write(ws.path("stack/.env"), edited).expect("edited");
    let refused = new(&[]);
    let stderr = ws.redact(&String::from_utf8_lossy(&refused.stderr));
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "error: `[ROOT]/stack/.env` differs from what template `postgres-app` renders"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert!(!ws.path("stack/compose.yaml").exists(), "nothing written");
    assert_eq!(
        std::fs::read_to_string(ws.path("stack/.env")).expect("kept"),
        edited
    );

    let forced = new(&["--force"]);
    let stdout = String::from_utf8_lossy(&forced.stdout);
    assert_eq!(forced.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("replaced  "), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(ws.path("stack/compose.yaml")).expect("created"),
        compose
    );
    let backup = std::fs::read_dir(ws.path("stack"))
        .expect("listed")
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with(".env.tierctl-"))
        .expect("a backup of the edited .env");
    assert_eq!(
        std::fs::read_to_string(backup.path()).expect("backup"),
        edited
    );
}

/// Issue 25 item 1: `tierctl new immich` with a tiers.yaml that splits Immich's `/data` binds
/// its thumbnails and transcodes on the fast tier below `/data` on the warm one, creates each
/// directory, and the result audits clean with the same tiers.yaml.
#[test]
fn issue25_new_immich_binds_the_subtrees_placement_splits_off() {
    let tiers = format!(
        "{TIERS}placement:\n  - match: {{ image: '*immich-server*', target: /data }}\n    tier: warm\n    path: photos/{{project}}\n    subtrees: {{ thumbs: fast, encoded-video: fast }}\n  - match: {{ image: ['*postgres*', '*valkey*'] }}\n    tier: fast\n    path: databases/{{project}}/{{service}}\n  - tier: fast\n    path: '{{project}}/{{service}}'\n"
    );
    let ws = Workspace::new()
        .file("tiers.yaml", &tiers)
        .dir("faststore")
        .dir("warmstore")
        .dir("coldstore");
    let out = ws
        .tierctl("")
        .args(["new", "immich", "-o", "immich"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let compose = std::fs::read_to_string(ws.path("immich/compose.yaml")).expect("compose");
    let fast = ws.path("faststore/photos/immich");
    assert!(
        compose.contains(&format!(
            "      - ${{UPLOAD_LOCATION}}:/data\n      - {0}/thumbs:/data/thumbs\n      - {0}/encoded-video:/data/encoded-video\n",
            fast.display()
        )),
        "{compose}"
    );
    assert!(fast.join("thumbs").is_dir() && fast.join("encoded-video").is_dir());
    assert!(ws.path("warmstore/photos/immich").is_dir());
    let audit = ws
        .tierctl("immich")
        .args(["--tiers", "../tiers.yaml", "audit"])
        .output()
        .expect("runs");
    assert_eq!(
        audit.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
}
