use std::path::PathBuf;

use super::layout::{is_owner_name, parse_mode, parse_owner};
use super::*;

const TIERS: &str = r#"tiers:
  fast: { root: /Volumes/faststore }
  warm: { root: /Volumes/warmstore }
"#;

fn error(text: &str) -> TiersError {
    load(Path::new("tiers.yaml"), text).unwrap_err()
}

/// `(line, column, message)` of the error for `text`.
fn at(text: &str) -> (usize, usize, String) {
    let error = error(text);
    (error.line, error.column, error.kind.to_string())
}

#[test]
fn display_names_file_line_and_column() {
    let error = error("tiers:\n  fast: { root: relative/dir }\n");
    assert_eq!(
        error.to_string(),
        "tiers.yaml:2:17: root `relative/dir` of tier `fast` is not an absolute path"
    );
    assert!(error.hint().contains("/Volumes/faststore"));
}

#[test]
fn yaml_syntax_error() {
    let error = error("tiers:\n  fast: { root: /a\n  warm: [\n");
    assert!(matches!(error.kind, TiersErrorKind::Yaml { .. }));
    assert_eq!((error.line, error.column), (3, 7));
    assert_eq!(
        error.to_string(),
        "tiers.yaml:3:7: invalid yaml: did not find expected ',' or '}', \
             while parsing a flow mapping at line 2 column 9"
    );
}

#[test]
fn yaml_shape_error_uses_serde_location() {
    let (line, column, message) = at("tiers:\n  fast: { rooot: /a }\n");
    assert_eq!((line, column), (2, 11));
    assert!(message.contains("unknown field `rooot`"), "{message}");
    let (line, _, message) = at("tiers:\n  fast: { root: /a }\nplacement:\n  - path: x\n");
    assert_eq!(line, 4);
    assert!(message.contains("missing field `tier`"), "{message}");
}

#[test]
fn unknown_top_level_key() {
    let text = format!("{TIERS}placemnt: []\n");
    assert_eq!(
        at(&text),
        (4, 1, "unknown top-level key `placemnt`".to_string())
    );
    assert!(error(&text).hint().contains("`placement`"));
}

#[test]
fn issue15_a_context_has_its_own_tier_map() {
    let text = format!(
        "{TIERS}contexts:\n  nas:\n    tiers:\n      fast: {{ root: /mnt/fast }}\n      warm: {{ root: /mnt/warm }}\n"
    );
    let tiers = load(Path::new("tiers.yaml"), &text).expect("valid");
    assert!(tiers.has_context("nas"));
    let nas = tiers.for_context("nas");
    assert_eq!(nas.tiers["fast"].root, Path::new("/mnt/fast"));
    assert_eq!(nas.placement, tiers.placement);
    let other = tiers.for_context("default");
    assert_eq!(other.tiers["fast"].root, Path::new("/Volumes/faststore"));
}

#[test]
fn issue15_context_tier_maps_are_validated_with_file_and_line() {
    let base = format!("{TIERS}contexts:\n  nas:\n");
    let missing = format!("{base}    tiers:\n      fast: {{ root: /mnt/fast }}\n");
    let error = error(&missing);
    assert_eq!(
        error.to_string(),
        "tiers.yaml:6:5: the tiers of context `nas` differ from `tiers:`: missing `warm`, extra none"
    );
    assert!(error.hint().contains("context `nas`"));
    let relative = format!(
        "{base}    tiers:\n      fast: {{ root: /mnt/fast }}\n      warm: {{ root: rel/warm }}\n"
    );
    let (line, _, message) = at(&relative);
    assert_eq!(line, 8);
    assert!(message.contains("is not an absolute path"), "{message}");
    let nested = format!(
        "{base}    tiers:\n      fast: {{ root: /mnt }}\n      warm: {{ root: /mnt/warm }}\n"
    );
    let (line, _, message) = at(&nested);
    assert_eq!(line, 8);
    assert!(
        message.contains("lies inside the root of tier `fast`"),
        "{message}"
    );
    assert_eq!(
        at(&format!("{base}    tier: {{}}\n")).2,
        "invalid yaml: contexts.nas: unknown field `tier`, expected `tiers`"
    );
    assert_eq!(
        at(&format!("{base}    {{}}\n")),
        (5, 3, "context `nas` has no `tiers:` map".to_string())
    );
}

#[test]
fn empty_or_missing_tiers() {
    assert_eq!(at("tiers: {}\n"), (1, 1, "no tiers defined".to_string()));
    assert_eq!(at("layout: []\n"), (1, 1, "no tiers defined".to_string()));
    assert_eq!(at(""), (1, 1, "no tiers defined".to_string()));
    assert_eq!(at("# nothing\n"), (1, 1, "no tiers defined".to_string()));
}

#[test]
fn bad_tier_name() {
    assert_eq!(
        at("tiers:\n  \"a:b\": { root: /x }\n"),
        (2, 3, "invalid tier name `a:b`".to_string())
    );
}

#[test]
fn relative_root_and_parent_root() {
    let (line, column, message) = at("tiers:\n  fast:\n    root: faststore\n");
    assert_eq!((line, column), (3, 11));
    assert_eq!(
        message,
        "root `faststore` of tier `fast` is not an absolute path"
    );
    let (line, column, message) = at("tiers:\n  fast:\n    root: /a/../b\n");
    assert_eq!((line, column), (3, 11));
    assert_eq!(message, "root `/a/../b` of tier `fast` contains `..`");
}

#[test]
fn same_root() {
    let text = "tiers:\n  fast: { root: /Volumes/a }\n  warm: { root: /Volumes/a/ }\n";
    assert_eq!(
        at(text),
        (
            3,
            17,
            "tiers `warm` and `fast` have the same root `/Volumes/a/`".to_string()
        )
    );
}

#[test]
fn issue12_roots_overlapping_through_a_symlink_are_refused() {
    // `fastlink -> faststore`: `warm` written under the link lies inside `fast`.
    let text = "tiers:\n  fast: { root: /x/faststore }\n  warm: { root: /x/fastlink/databases }\n";
    let real = |p: &Path| {
        RootOnDisk::as_written(&PathBuf::from(
            p.to_string_lossy().replace("/x/fastlink", "/x/faststore"),
        ))
    };
    let error = load_resolved(Path::new("tiers.yaml"), text, &real).unwrap_err();
    assert_eq!(
        error.to_string(),
        "tiers.yaml:3:17: root `/x/fastlink/databases` of tier `warm` is `/x/faststore/databases` by its real path, which overlaps the root of tier `fast` (`/x/faststore`)"
    );
    assert!(error.hint().contains("real path"), "{}", error.hint());
    // Without the symlink the same file is fine.
    assert!(load(Path::new("tiers.yaml"), text).is_ok());
}

/// Issue 26 row 16: `mount --bind /x/a /x/m` and `warm: /x/m/b`: the real paths do not
/// overlap, the identities do (`/x/m` is `/x/a`), either order; distinct directories pass.
#[test]
fn issue26_row16_roots_overlapping_through_a_bind_mount_are_refused() {
    let id = |path: &str, inode: u64| DirIdentity {
        path: PathBuf::from(path),
        device: 8,
        inode,
    };
    let on_disk = |p: &Path| {
        let chain = match p.to_str() {
            Some("/x/a") => vec![id("/x/a", 10), id("/x", 2)],
            Some("/x/m/b") => vec![id("/x/m/b", 11), id("/x/m", 10), id("/x", 2)],
            Some("/x/m/new") => vec![id("/x/m", 10), id("/x", 2)],
            _ => vec![id(&p.display().to_string(), 99), id("/x", 2)],
        };
        RootOnDisk {
            real: p.to_path_buf(),
            chain,
        }
    };
    let text = "tiers:\n  fast: { root: /x/a }\n  warm: { root: /x/m/b }\n";
    let error = load_resolved(Path::new("tiers.yaml"), text, &on_disk).unwrap_err();
    assert_eq!(
        error.to_string(),
        "tiers.yaml:3:17: roots of tier `warm` (`/x/m/b`) and tier `fast` (`/x/a`) overlap: `/x/m` is the same directory as `/x/a` (device and inode), a bind mount"
    );
    assert!(error.hint().contains("bind mount"), "{}", error.hint());
    let reversed = "tiers:\n  warm: { root: /x/m/b }\n  fast: { root: /x/a }\n";
    let error = load_resolved(Path::new("tiers.yaml"), reversed, &on_disk).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`/x/m` is the same directory as `/x/a`"),
        "{error}"
    );
    // a root not made yet under the bind mount overlaps too
    let later = "tiers:\n  fast: { root: /x/a }\n  warm: { root: /x/m/new }\n";
    assert!(load_resolved(Path::new("tiers.yaml"), later, &on_disk).is_err());
    let apart = "tiers:\n  fast: { root: /x/a }\n  warm: { root: /x/w }\n";
    assert!(load_resolved(Path::new("tiers.yaml"), apart, &on_disk).is_ok());
}

#[test]
fn issue12_relative_roots_resolve_against_the_tiers_yaml_directory() {
    let text = "tiers:\n  fast: { root: tiers/faststore }\n  cold: { root: ./tiers/coldstore }\naccess_points:\n  Photos: fast:photos\n";
    let tiers = load(Path::new("/repo/demo/tiers.yaml"), text).expect("loads");
    assert_eq!(
        tiers.tiers["fast"].root,
        Path::new("/repo/demo/tiers/faststore")
    );
    assert_eq!(
        tiers.tiers["cold"].root,
        Path::new("/repo/demo/tiers/coldstore")
    );
    assert_eq!(tiers.access_points[0].path, Path::new("/repo/demo/Photos"));
}

#[test]
fn nested_roots_both_ways() {
    let inside = "tiers:\n  fast: { root: /Volumes/a }\n  warm: { root: /Volumes/a/b }\n";
    assert_eq!(
        at(inside),
        (
            3,
            17,
            "root `/Volumes/a/b` of tier `warm` lies inside the root of tier `fast`".to_string()
        )
    );
    let outside = "tiers:\n  fast: { root: /Volumes/a/b }\n  warm: { root: /Volumes/a }\n";
    assert_eq!(
        at(outside),
        (
            3,
            17,
            "root `/Volumes/a/b` of tier `fast` lies inside the root of tier `warm`".to_string()
        )
    );
    // Component-wise: a shared string prefix is no overlap.
    let siblings =
        "tiers:\n  fast: { root: /Volumes/fast }\n  warm: { root: /Volumes/faststore }\n";
    assert!(load(Path::new("t.yaml"), siblings).is_ok());
}

#[test]
fn unknown_tier_in_rule_lists_known_tiers() {
    let text = format!("{TIERS}placement:\n  - tier: fats\n    path: x\n");
    let error = error(&text);
    assert_eq!((error.line, error.column), (5, 11));
    assert_eq!(
        error.kind.to_string(),
        "unknown tier `fats` (known tiers: `fast`, `warm`)"
    );
    assert_eq!(
        error.hint(),
        "use one of `fast`, `warm` or define `fats` under `tiers:`"
    );
}

#[test]
fn unknown_tier_in_access_point_and_layout() {
    let text = format!("{TIERS}access_points:\n  /Volumes/Photos: cold:photos\n");
    assert_eq!(
        at(&text),
        (
            5,
            20,
            "unknown tier `cold` (known tiers: `fast`, `warm`)".to_string()
        )
    );
    let text = format!("{TIERS}layout:\n  - path: cold:x\n");
    assert_eq!(at(&text).0, 5);
    assert_eq!(at(&text).1, 11);
    assert!(at(&text).2.starts_with("unknown tier `cold`"));
}

#[test]
fn relative_access_point_and_bad_tier_dir() {
    let text = format!("{TIERS}access_points:\n  Photos: fast:photos\n");
    assert_eq!(
        at(&text),
        (
            5,
            3,
            "access point `Photos` is not an absolute path".to_string()
        )
    );
    let text = format!("{TIERS}access_points:\n  /P: fast:../photos\n");
    assert_eq!(
        at(&text),
        (
            5,
            7,
            "tier directory `fast:../photos` must be `tier:relative/path` without `..`".to_string()
        )
    );
    let text = format!("{TIERS}layout:\n  - path: fast:/abs\n");
    assert_eq!(at(&text).0, 5);
    assert!(at(&text).2.starts_with("tier directory `fast:/abs`"));
}

#[test]
fn bad_template_variable() {
    let text = format!("{TIERS}placement:\n  - tier: fast\n    path: databases/{{projct}}\n");
    let error = error(&text);
    assert_eq!((error.line, error.column), (6, 11));
    assert_eq!(
        error.kind.to_string(),
        "unknown variable `{projct}` in path template `databases/{projct}`"
    );
    assert_eq!(
        error.hint(),
        "the variables a template may use are `{project}`, `{service}`, `{volume}`, `{target}`"
    );
}

#[test]
fn absolute_and_escaping_template() {
    let text = format!("{TIERS}placement:\n  - tier: fast\n    path: /srv/{{project}}\n");
    assert_eq!(
        at(&text),
        (
            6,
            11,
            "path template `/srv/{project}` is absolute".to_string()
        )
    );
    let text = format!("{TIERS}placement:\n  - tier: fast\n    path: \"../{{project}}\"\n");
    assert_eq!(
        at(&text),
        (
            6,
            11,
            "path template `../{project}` leaves the tier root with `..`".to_string()
        )
    );
}

#[test]
fn bad_glob_points_at_list_item() {
    let text = format!(
        "{TIERS}placement:\n  - match: {{ image: [\"ok*\", \"[bad\"] }}\n    tier: fast\n    path: x\n"
    );
    let (line, column, message) = at(&text);
    assert_eq!((line, column), (5, 29));
    assert!(message.starts_with("invalid glob `[bad`"), "{message}");
    let text = format!(
        "{TIERS}placement:\n  - match:\n      image: \"[bad\"\n    tier: fast\n    path: x\n"
    );
    assert_eq!(at(&text).0, 6);
    assert_eq!(at(&text).1, 14);
}

#[test]
fn bad_owner_and_mode() {
    let text = format!("{TIERS}layout:\n  - {{ path: fast:db, owner: \"root:0\" }}\n");
    assert_eq!(at(&text), (5, 29, "invalid owner `root:0`".to_string()));
    let text = format!("{TIERS}layout:\n  - path: fast:db\n    mode: \"0855\"\n");
    assert_eq!(at(&text), (6, 11, "invalid mode `0855`".to_string()));
    let text = format!("{TIERS}layout:\n  - path: fast:db\n    mode: \"17777\"\n");
    assert_eq!(at(&text).2, "invalid mode `17777`");
}

#[test]
fn owner_and_mode_forms() {
    assert_eq!(parse_owner("999:70"), Some((999, 70)));
    assert!(is_owner_name("postgres"));
    assert!(is_owner_name("immich:media"));
    assert!(!is_owner_name("root:0"));
    assert!(!is_owner_name("Root"));
    assert!(!is_owner_name(""));
    assert_eq!(parse_owner("999"), None);
    assert_eq!(parse_owner("-1:0"), None);
    assert_eq!(parse_owner("0:"), None);
    assert_eq!(parse_mode("0755"), Some(0o755));
    assert_eq!(parse_mode("755"), Some(0o755));
    assert_eq!(parse_mode("0o2775"), Some(0o2775));
    assert_eq!(parse_mode(""), None);
    assert_eq!(parse_mode("rwx"), None);
}

#[test]
fn unquoted_mode_is_read_as_written() {
    let text = format!("{TIERS}layout:\n  - {{ path: \"fast:\", owner: 999:999, mode: 0750 }}\n");
    let tiers = load(Path::new("t.yaml"), &text).unwrap();
    assert_eq!(tiers.layout[0].mode, Some(0o750));
    assert_eq!(tiers.layout[0].owner, Some((999, 999)));
    assert_eq!(tiers.layout[0].sub, PathBuf::new());
}

#[test]
fn single_string_match_fields() {
    let text = format!(
        "{TIERS}placement:\n  - match: {{ image: \"postgres*\", service: db }}\n    tier: fast\n    path: x\n"
    );
    let tiers = load(Path::new("t.yaml"), &text).unwrap();
    assert_eq!(tiers.placement[0].matcher.image.patterns(), ["postgres*"]);
    assert_eq!(tiers.placement[0].matcher.service.patterns(), ["db"]);
    assert!(tiers.placement[0].matcher.target.is_empty());
}

#[test]
fn column_counts_characters_not_bytes() {
    let text = "tiers:\n  fast: { root: /Vol/é }\n  \"é\": { root: rel }\n";
    assert_eq!(at(text).0, 3);
    assert_eq!(at(text).1, 16);
}

/// Issue 25 item 1: Immich's generated files on the fast tier, its originals on the warm one.
const IMMICH_SPLIT: &str = r#"tiers:
  fast: { root: /Volumes/faststore }
  warm: { root: /Volumes/warmstore }
placement:
  - match: { image: "*immich-server*", target: /data }
    tier: warm
    path: photos/{project}
    subtrees:
      thumbs: fast
      encoded-video: { tier: fast, path: "cache/{project}/encoded-video" }
  - tier: warm
    path: "{project}/{volume}"
"#;

#[test]
fn issue25_subtrees_place_nested_binds_on_their_tiers() {
    let tiers = load(Path::new("tiers.yaml"), IMMICH_SPLIT).unwrap();
    let server = |target| {
        crate::tiers::Subject::in_immich(
            "immich-server",
            Some("ghcr.io/immich-app/immich-server:release"),
            target,
            None,
        )
    };
    let data = tiers.place(&server("/data")).unwrap();
    assert_eq!(
        (data.tier.as_str(), data.path.as_path(), data.subtree),
        ("warm", Path::new("/Volumes/warmstore/photos/immich"), None)
    );
    let thumbs = tiers.place(&server("/data/thumbs/")).unwrap();
    assert_eq!(
        (thumbs.tier.as_str(), thumbs.path.as_path()),
        ("fast", Path::new("/Volumes/faststore/photos/immich/thumbs"))
    );
    assert_eq!(thumbs.subtree, Some(PathBuf::from("thumbs")));
    let video = tiers.place(&server("/data/encoded-video")).unwrap();
    assert_eq!(
        video.path,
        Path::new("/Volumes/faststore/cache/immich/encoded-video")
    );
    // Not a subtree: the catch-all places it.
    let library = tiers.place(&server("/data/library")).unwrap();
    assert_eq!((library.rule_index, library.subtree), (1, None));
    let listed: Vec<(String, String)> = tiers
        .subtrees_of(&server("/data"))
        .into_iter()
        .map(|s| (s.target, s.placement.tier))
        .collect();
    assert_eq!(
        listed,
        [
            ("/data/thumbs".to_owned(), "fast".to_owned()),
            ("/data/encoded-video".to_owned(), "fast".to_owned())
        ]
    );
    assert!(tiers.subtrees_of(&server("/data/thumbs")).is_empty());
}

#[test]
fn issue25_bad_subtrees_are_located() {
    let rule = |subtrees: &str| {
        format!("{TIERS}placement:\n  - tier: warm\n    path: x\n    subtrees:\n{subtrees}")
    };
    let (line, column, message) = at(&rule("      /thumbs: fast\n"));
    assert_eq!((line, column), (8, 7));
    assert!(
        message.contains("subtree `/thumbs` is not a relative path"),
        "{message}"
    );
    let (line, _, message) = at(&rule("      thumbs: warm\n"));
    assert_eq!(line, 8);
    assert_eq!(message, "subtree `thumbs` is on its rule's own tier `warm`");
    let (line, column, message) = at(&rule("      thumbs: { tier: cold }\n"));
    assert_eq!((line, column), (8, 23));
    assert!(message.starts_with("unknown tier `cold`"), "{message}");
    let (line, _, message) = at(&rule("      thumbs: fast\n      thumbs/small: fast\n"));
    assert_eq!(line, 9);
    assert_eq!(
        message,
        "subtree `thumbs/small` lies inside subtree `thumbs` of the same rule"
    );
    assert!(
        error(&rule("      a/../b: fast\n"))
            .hint()
            .contains("`thumbs`")
    );
}
