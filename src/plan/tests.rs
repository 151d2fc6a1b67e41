//! Plan and rewrite on in-memory projects.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::env_edit::count_uses;
use super::*;
use crate::compose::load::{Files, LoadOptions, load};
use crate::facts::{Facts, Hop, PathFacts};
use crate::rewrite;

struct Mem(BTreeMap<PathBuf, String>);

impl Files for Mem {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
    fn is_file(&self, path: &Path) -> bool {
        self.0.contains_key(path)
    }
}

const TIERS: &str = "tiers:\n  fast: { root: /t/fast }\n  warm: { root: /t/warm }\nplacement:\n  - match: { volume: ['*model*cache*'] }\n    tier: fast\n    path: ml_models/{project}\n  - tier: warm\n    path: '{project}/{volume}'\n";

/// `(plan, patched files)` for a project whose files are given as `(name, text)` in `/p`, with
/// `links` symlinked host paths (path -> real).
fn run(
    files: &[(&str, &str)],
    links: &[(&str, &str)],
    strict: bool,
) -> (Plan, Vec<rewrite::Patched>) {
    run_with(files, links, strict, false)
}

/// As [`run`], planning for `migrate` when `move_binds`.
fn run_with(
    files: &[(&str, &str)],
    links: &[(&str, &str)],
    strict: bool,
    move_binds: bool,
) -> (Plan, Vec<rewrite::Patched>) {
    run_tiers(TIERS, files, links, strict, move_binds)
}

/// As [`run_with`], with the tiers.yaml `tiers_text`.
fn run_tiers(
    tiers_text: &str,
    files: &[(&str, &str)],
    links: &[(&str, &str)],
    strict: bool,
    move_binds: bool,
) -> (Plan, Vec<rewrite::Patched>) {
    let mem = Mem(files
        .iter()
        .map(|(n, t)| (Path::new("/p").join(n), (*t).to_owned()))
        .collect());
    let options = LoadOptions {
        working_dir: PathBuf::from("/p"),
        home: PathBuf::from("/home/u"),
        ..LoadOptions::default()
    };
    let project = load(&options, &mem).expect("loads");
    let tiers = crate::tiers::load(Path::new("tiers.yaml"), tiers_text).expect("tiers");
    let mut facts = Facts::default();
    for path in crate::audit::host_paths(&project) {
        let link = links.iter().find(|(l, _)| Path::new(l) == path);
        facts.paths.insert(
            path.clone(),
            PathFacts {
                path: path.clone(),
                hops: link
                    .map(|(l, r)| {
                        vec![Hop {
                            link: PathBuf::from(l),
                            target: PathBuf::from(r),
                            resolved: PathBuf::from(r),
                        }]
                    })
                    .unwrap_or_default(),
                real: Some(link.map_or(path.clone(), |(_, r)| PathBuf::from(r))),
                exists: true,
                is_dir: true,
                problem: None,
            },
        );
    }
    let plan = plan(&Input {
        project: &project,
        tiers: &tiers,
        facts: &facts,
        strict_binds: strict,
        mode: if move_binds {
            Mode::Migrate
        } else {
            Mode::Rewrite
        },
    });
    let patched = rewrite::patch(&plan, &project).expect("patches");
    rewrite::check_reload(&plan, &project, &options, &mem, &patched).expect("verified");
    (plan, patched)
}

fn new_text<'a>(patched: &'a [rewrite::Patched], name: &str) -> &'a str {
    patched
        .iter()
        .find(|p| p.file == Path::new("/p").join(name))
        .map(|p| p.new.as_str())
        .expect("file patched")
}

#[test]
fn named_volume_becomes_its_tier_directory_and_the_entry_goes() {
    let compose = "services:\n  ml:\n    image: immich-ml\n    volumes:\n      - model-cache:/cache:ro,nocopy # models\nvolumes:\n  model-cache:\n";
    let (plan, patched) = run(&[("compose.yaml", compose)], &[], false);
    assert_eq!(
        new_text(&patched, "compose.yaml"),
        "services:\n  ml:\n    image: immich-ml\n    volumes:\n      - /t/fast/ml_models/p:/cache:ro # models\n"
    );
    assert_eq!(plan.removed_volumes, vec!["model-cache".to_owned()]);
    assert!(plan.steps[0].notes.iter().any(|n| n.contains("nocopy")));
}

#[test]
fn symlinked_bind_binds_the_real_path_keeping_quotes() {
    let compose = "services:\n  web:\n    image: nginx\n    volumes:\n      - '/Volumes/Photos:/photos:ro'\n      - \"./data:/data\"\n";
    let (_, patched) = run(
        &[("compose.yaml", compose)],
        &[
            ("/Volumes/Photos", "/t/fast/photos"),
            ("/p/data", "/t/warm/my data"),
        ],
        false,
    );
    let text = new_text(&patched, "compose.yaml");
    assert!(
        text.contains("      - '/t/fast/photos:/photos:ro'\n"),
        "{text}"
    );
    assert!(
        text.contains("      - \"/t/warm/my data:/data\"\n"),
        "{text}"
    );
}

#[test]
fn variable_from_env_file_is_edited_there() {
    let compose = "services:\n  server:\n    image: immich\n    volumes:\n      # do not edit the next line\n      - ${UPLOAD_LOCATION}:/usr/src/app/upload\n";
    let env = "# where photos go\nUPLOAD_LOCATION=./library # keep\nDB=x\n";
    let (plan, patched) = run(
        &[("compose.yaml", compose), (".env", env)],
        &[("/p/library", "/t/fast/photos")],
        false,
    );
    assert_eq!(patched.len(), 1);
    assert_eq!(
        new_text(&patched, ".env"),
        "# where photos go\nUPLOAD_LOCATION=/t/fast/photos # keep\nDB=x\n"
    );
    assert!(plan.manual.is_empty());
}

#[test]
fn variable_used_elsewhere_needs_a_manual_edit() {
    let compose = "services:\n  server:\n    image: immich\n    environment:\n      WHERE: ${UPLOAD_LOCATION}\n    volumes:\n      - ${UPLOAD_LOCATION}:/upload\n";
    let env = "UPLOAD_LOCATION=./library\n";
    let (plan, patched) = run(
        &[("compose.yaml", compose), (".env", env)],
        &[("/p/library", "/t/fast/photos")],
        false,
    );
    assert!(patched.is_empty());
    assert!(
        plan.manual[0].reason.contains("used elsewhere"),
        "{:?}",
        plan.manual
    );
}

#[test]
fn anchor_shared_alike_is_edited_once_else_manual() {
    let same = "x-vol: &media /Volumes/Media:/media\nservices:\n  a:\n    image: a\n    volumes: [*media]\n  b:\n    image: b\n    volumes: [*media]\n";
    let (plan, patched) = run(
        &[("compose.yaml", same)],
        &[("/Volumes/Media", "/t/warm/media")],
        false,
    );
    assert_eq!(plan.edits.len(), 1, "{plan:#?}");
    // the one edit writes the fix of both users, each named by its MountId
    assert_eq!(plan.edits[0].mounts, [MountId(0), MountId(1)]);
    assert!(new_text(&patched, "compose.yaml").starts_with("x-vol: &media /t/warm/media:/media\n"));

    let differ = "x-vol: &data data:/data\nservices:\n  a:\n    image: a\n    volumes: [*data]\n  b:\n    image: b\n    volumes: [*data]\nvolumes:\n  data:\n";
    let tiers_split = run(&[("compose.yaml", differ)], &[], false).0;
    // one volume shared by two services lands in one directory ({project}/{volume})
    assert_eq!(tiers_split.manual.len(), 0);
}

#[test]
fn long_syntax_volume_becomes_a_strict_bind() {
    let compose = "services:\n  db:\n    image: postgres:16\n    volumes:\n      - type: volume\n        source: pgdata\n        target: /var/lib/postgresql/data\n        volume:\n          nocopy: true\nvolumes:\n  pgdata: {}\n  other:\n";
    let (plan, patched) = run(&[("compose.yaml", compose)], &[], true);
    assert_eq!(
        new_text(&patched, "compose.yaml"),
        "services:\n  db:\n    image: postgres:16\n    volumes:\n      - type: bind\n        source: /t/warm/p/pgdata\n        target: /var/lib/postgresql/data\n        bind:\n          create_host_path: false\nvolumes:\n  other:\n"
    );
    assert!(!plan.changes[0].create_host_path);
}

#[test]
fn external_and_driver_volumes_are_left_alone() {
    let compose = "services:\n  a:\n    image: a\n    volumes:\n      - ext:/e\n      - nfs:/n\n      - /anon\n      - type: tmpfs\n        target: /tmp\nvolumes:\n  ext: { external: true }\n  nfs:\n    driver_opts: { type: nfs, o: addr=1.2.3.4, device: ':/x' }\n";
    let (plan, patched) = run(&[("compose.yaml", compose)], &[], false);
    assert!(patched.is_empty());
    let reasons: Vec<&str> = plan.left_alone.iter().map(|l| l.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["external", "mounted-filesystem", "anonymous", "not-storage"]
    );
}

#[test]
fn count_uses_skips_escapes_and_longer_names() {
    assert_eq!(count_uses("${A} $A ${A:-x} $$A ${AB} $A_B", "A"), 3);
}

#[test]
fn anchor_with_a_user_that_did_not_ask_needs_a_manual_edit() {
    let compose = "x-vol: &media /Volumes/Media:/media\nservices:\n  a:\n    image: a\n    volumes: [*media]\n  b:\n    image: b\n    profiles: [later]\n    volumes: [*media]\n";
    let (plan, patched) = run(
        &[("compose.yaml", compose)],
        &[("/Volumes/Media", "/t/warm/media")],
        false,
    );
    assert!(patched.is_empty());
    assert_eq!(plan.manual.len(), 1);
    assert!(
        plan.manual[0].reason.contains("`b` (/media)"),
        "{:?}",
        plan.manual
    );
}

mod props {
    use proptest::prelude::*;

    use super::*;

    fn entry() -> impl Strategy<Value = (String, bool)> {
        // (entry text, is a named volume)
        prop_oneof![
            (
                "[a-z]{1,6}",
                0..3usize,
                prop_oneof![Just(""), Just(":ro"), Just(":ro,z"), Just(":nocopy")]
            )
                .prop_map(|(name, q, mode)| {
                    let raw = format!("vol{name}:/data/{name}{mode}");
                    let text = match q {
                        0 => raw,
                        1 => format!("'{raw}'"),
                        _ => format!("\"{raw}\""),
                    };
                    (text, true)
                }),
            "[a-z]{1,6}".prop_map(|n| (format!("/srv/{n}:/b/{n}"), false)),
        ]
    }

    fn document() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            (
                proptest::collection::vec(entry(), 1..4),
                any::<bool>(),
                any::<bool>(),
            ),
            1..4,
        )
        .prop_map(|services| {
            let mut text = String::from("# generated\nservices:\n");
            let mut volumes = BTreeSet::new();
            for (i, (entries, flow, comment)) in services.iter().enumerate() {
                text.push_str(&format!(
                    "  s{i}:\n    image: app{i}  # image\n    volumes:"
                ));
                if *flow {
                    let items: Vec<&str> = entries.iter().map(|(t, _)| t.as_str()).collect();
                    text.push_str(&format!(" [{}]\n", items.join(", ")));
                } else {
                    text.push('\n');
                    for (t, _) in entries {
                        text.push_str(&format!("      - {t}"));
                        text.push_str(if *comment { "  # keep\n" } else { "\n" });
                    }
                }
                for (t, named) in entries {
                    if *named {
                        let raw = t.trim_matches(['\'', '"']);
                        volumes.insert(raw.split(':').next().unwrap_or_default().to_owned());
                    }
                }
            }
            if !volumes.is_empty() {
                text.push_str("volumes:\n");
                for v in volumes {
                    text.push_str(&format!("  {v}:\n"));
                }
            }
            text
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn rewrite_is_idempotent_and_touches_only_volume_lines(doc in document()) {
            let (_, patched) = run(&[("compose.yaml", &doc)], &[], false);
            let new = patched.first().map_or(doc.clone(), |p| p.new.clone());
            let (_, again) = run(&[("compose.yaml", &new)], &[], false);
            prop_assert!(again.is_empty(), "second rewrite changed:\n{new}");
            let kept = |t: &str| -> Vec<String> {
                t.lines()
                    .filter(|l| !l.contains(":/") && !l.starts_with("volumes:") && !l.starts_with("  vol"))
                    .map(str::to_owned)
                    .collect()
            };
            prop_assert_eq!(kept(&doc), kept(&new));
        }
    }
}

#[test]
fn plain_binds_off_their_tier_are_left_alone_because_data_must_move() {
    let compose = "services:\n  app:\n    image: x\n    volumes:\n      - /t/fast/cache:/data\n      - /srv/elsewhere:/other\n      - /t/warm/p/data:/warm\n";
    let (plan, patched) = run(&[("compose.yaml", compose)], &[], false);
    assert!(patched.is_empty(), "nothing is rewritten");
    let reasons: Vec<(&str, &Reason)> = plan
        .left_alone
        .iter()
        .map(|l| (l.target.as_str(), &l.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            ("/data", &Reason::WrongTier),
            ("/other", &Reason::OutsideTiers)
        ]
    );
}

#[test]
fn a_bind_outside_the_tiers_is_left_alone_for_rewrite_and_moved_for_migrate() {
    let compose = "services:\n  app:\n    image: x\n    volumes:\n      - /srv/photos:/photos\n";
    let (plan, _) = run(&[("compose.yaml", compose)], &[], false);
    assert!(plan.steps.is_empty());
    assert_eq!(plan.left_alone[0].reason, Reason::OutsideTiers);

    let (plan, patched) = run_with(&[("compose.yaml", compose)], &[], false, true);
    assert!(plan.left_alone.is_empty(), "{:?}", plan.left_alone);
    let step = &plan.steps[0];
    assert_eq!(step.action, Action::MoveBind);
    assert_eq!(step.from.as_deref(), Some(Path::new("/srv/photos")));
    assert_eq!(step.tier.as_deref(), Some("warm"));
    assert!(step.new.starts_with("/t/warm/"), "{}", step.new);
    assert!(
        new_text(&patched, "compose.yaml").contains(&format!("- {}:/photos", step.new)),
        "{}",
        new_text(&patched, "compose.yaml")
    );
}

#[test]
fn a_symlinked_bind_on_the_wrong_tier_moves_for_migrate_and_binds_its_real_path_otherwise() {
    let compose = "services:\n  app:\n    image: x\n    volumes:\n      - /v/Photos:/photos\n";
    let links = [("/v/Photos", "/t/fast/photos")];
    let (plan, _) = run(&[("compose.yaml", compose)], &links, false);
    assert_eq!(plan.steps[0].action, Action::BindRealPath);
    let (plan, _) = run_with(&[("compose.yaml", compose)], &links, false, true);
    assert_eq!(plan.steps[0].action, Action::MoveBind);
    assert_eq!(
        plan.steps[0].from.as_deref(),
        Some(Path::new("/t/fast/photos"))
    );
}

/// [`Mem`] that counts reads per path.
struct Counting(Mem, std::cell::RefCell<BTreeMap<PathBuf, usize>>);

impl Files for Counting {
    fn read(&self, path: &Path) -> io::Result<String> {
        *self.1.borrow_mut().entry(path.to_path_buf()).or_default() += 1;
        self.0.read(path)
    }
    fn is_file(&self, path: &Path) -> bool {
        self.0.is_file(path)
    }
}

#[test]
fn the_loader_reads_each_file_once_and_keeps_text_hash_tree_and_mount_ids() {
    let compose = "x-data: &data ./data:/data\nservices:\n  a:\n    image: x\n    volumes: [*data, \"${CACHE}:/cache\"]\n  b:\n    extends: { file: base.yaml, service: base }\n";
    let base = "services:\n  base:\n    image: y\n    volumes: [\"vol:/v\"]\nvolumes:\n  vol: {}\n";
    let files = Counting(
        Mem([
            ("/p/compose.yaml", compose),
            ("/p/base.yaml", base),
            ("/p/.env", "CACHE=/t/fast/cache\n"),
        ]
        .into_iter()
        .map(|(p, t)| (PathBuf::from(p), t.to_owned()))
        .collect()),
        Default::default(),
    );
    let options = LoadOptions {
        working_dir: PathBuf::from("/p"),
        home: PathBuf::from("/home/u"),
        ..LoadOptions::default()
    };
    let project = load(&options, &files).expect("loads");
    assert!(files.1.borrow().values().all(|&n| n == 1), "{:?}", files.1);
    let compose_file = &project.texts[Path::new("/p/compose.yaml")];
    assert_eq!(&*compose_file.text, compose);
    assert_eq!(compose_file.hash, crate::write::hash(compose));
    assert!(compose_file.tree.is_some() && compose_file.doc().is_some());
    let env = &project.texts[Path::new("/p/.env")];
    assert!(env.tree.is_none());
    let ids: Vec<(String, String, u32)> = project
        .mounts()
        .map(|(s, m)| (s.name.clone(), m.target.clone(), m.id.0))
        .collect();
    assert_eq!(
        ids,
        [
            ("a".to_owned(), "/data".to_owned(), 0),
            ("a".to_owned(), "/cache".to_owned(), 1),
            ("b".to_owned(), "/v".to_owned(), 2)
        ]
    );
    assert_eq!(
        project.mount(MountId(2)).map(|(s, _)| s.name.as_str()),
        Some("b")
    );
}

#[test]
fn a_variable_set_in_an_included_projects_env_file_is_edited_there() {
    // before the project kept its loaded texts, that env file was never read: a manual edit
    let (plan, patched) = run(
        &[
            ("compose.yaml", "include:\n  - sub/compose.yaml\n"),
            (
                "sub/compose.yaml",
                "services:\n  a:\n    image: x\n    volumes: [\"${DATA}:/data\"]\n",
            ),
            ("sub/.env", "DATA=/Volumes/x\n"),
        ],
        &[("/Volumes/x", "/t/fast/x")],
        false,
    );
    assert!(plan.manual.is_empty(), "{:?}", plan.manual);
    assert_eq!(new_text(&patched, "sub/.env"), "DATA=/t/fast/x\n");
}

/// Issue 12: the `remove-volume-entry` step pointed at the volume's body (one line too low).
#[test]
fn issue_12_remove_volume_entry_points_at_the_key() {
    let compose = "services:\n  a:\n    image: x\n    volumes:\n      - data:/d\nvolumes:\n  data:\n    driver: local\n";
    let (plan, _) = run(&[("compose.yaml", compose)], &[], false);
    let step = plan
        .steps
        .iter()
        .find(|s| s.action == Action::RemoveVolumeEntry)
        .expect("removal step");
    assert_eq!(step.place.position, Some(Position { line: 7, column: 3 }));
}

/// Issue 12: the comment above a removed `volumes:` block was left dangling at the end of the
/// file. Comment lines directly above (no blank line, same indentation) go with the key; others
/// stay.
#[test]
fn issue_12_comment_above_a_removed_volumes_block_goes_with_it() {
    let compose = "services:\n  a:\n    image: x\n    volumes:\n      - data:/d\n\n# kept: a blank line between\n\n# the volumes\nvolumes:\n  data:\n    driver: local\n";
    let (plan, patched) = run(&[("compose.yaml", compose)], &[], false);
    assert_eq!(
        new_text(&patched, "compose.yaml"),
        "services:\n  a:\n    image: x\n    volumes:\n      - /t/warm/p/data:/d\n\n# kept: a blank line between\n"
    );
    let step = plan
        .steps
        .iter()
        .find(|s| s.action == Action::RemoveVolumeEntry)
        .expect("removal step");
    assert!(
        step.notes.iter().any(|n| n.contains("`# the volumes`")),
        "{:?}",
        step.notes
    );
}

/// Issue 12: the comment above one removed entry goes with it; the block and the other
/// entries' comments stay, and a comment after the block belongs to what follows.
#[test]
fn issue_12_comment_above_a_removed_entry_goes_with_it() {
    let compose = "services:\n  a:\n    image: x\n    volumes:\n      - data:/d\n      - keep:/k\n      - ./b:/b\nvolumes:\n  # the data\n  data:\n  # kept\n  keep:\n    external: true\n\n# about x-a\nx-a: 1\n";
    let (plan, patched) = run(&[("compose.yaml", compose)], &[], false);
    assert_eq!(plan.removed_volumes, ["data"]);
    assert_eq!(
        new_text(&patched, "compose.yaml"),
        "services:\n  a:\n    image: x\n    volumes:\n      - /t/warm/p/data:/d\n      - keep:/k\n      - ./b:/b\nvolumes:\n  # kept\n  keep:\n    external: true\n\n# about x-a\nx-a: 1\n"
    );
}

/// Issue 12: `:z,ro` entries gained quotes they did not need; in a flow list they still need
/// them.
#[test]
fn issue_12_mode_lists_are_not_quoted_in_a_block_list() {
    let compose = "services:\n  a:\n    image: x\n    volumes:\n      - data:/d:z,ro\n  b:\n    image: y\n    volumes: [\"other:/o:ro,z\", more:/m:z]\nvolumes:\n  data:\n  other:\n  more:\n";
    let (_, patched) = run(&[("compose.yaml", compose)], &[], false);
    assert_eq!(
        new_text(&patched, "compose.yaml"),
        "services:\n  a:\n    image: x\n    volumes:\n      - /t/warm/p/data:/d:z,ro\n  b:\n    image: y\n    volumes: [\"/t/warm/p/other:/o:ro,z\", /t/warm/p/more:/m:z]\n"
    );
}

/// Issue 12: a file without a final newline gained one. The edits change only their own bytes:
/// a file keeps its final-newline state, and a removal that reaches the end of the file leaves
/// the last kept line as it was (its line end included).
#[test]
fn issue_12_the_final_newline_state_is_kept() {
    for end in ["", "\n"] {
        let compose = format!(
            "volumes:\n  data:\n  other:\nservices:\n  a:\n    image: x\n    volumes:\n      - other:/o\n      - data:/d{end}"
        );
        let (_, patched) = run(&[("compose.yaml", &compose)], &[], false);
        assert_eq!(
            new_text(&patched, "compose.yaml"),
            format!(
                "services:\n  a:\n    image: x\n    volumes:\n      - /t/warm/p/other:/o\n      - /t/warm/p/data:/d{end}"
            )
        );
        let removed = format!(
            "services:\n  a:\n    image: x\n    volumes:\n      - data:/d\n      - ./b:/b\n\nvolumes:\n  data:\n    driver: local{end}"
        );
        let (_, patched) = run(&[("compose.yaml", &removed)], &[], false);
        assert_eq!(
            new_text(&patched, "compose.yaml"),
            "services:\n  a:\n    image: x\n    volumes:\n      - /t/warm/p/data:/d\n      - ./b:/b\n"
        );
    }
}

/// Issue 26 row 12: a commented-out entry is user content. Emptying the `volumes:` block would
/// delete `# cache:`, so the block stays whole, wherever the commented-out entry sits (above
/// or below the real entries); a prose comment heading a removed block still goes, a
/// commented-out entry above it stays; removing one entry keeps the commented-out one above it.
#[test]
fn issue26_row12_commented_out_entries_stay_with_their_key() {
    for block in [
        "volumes:\n  # cache:\n  data:\n",
        "volumes:\n  data:\n  # cache:\n",
        "volumes:\n  # - a:/b\n  data:\n",
        "volumes:\n  # name: old\n  data:\n",
    ] {
        let compose =
            format!("services:\n  a:\n    image: x\n    volumes:\n      - data:/d\n{block}");
        let (plan, patched) = run(&[("compose.yaml", &compose)], &[], false);
        assert!(plan.removed_volumes.is_empty(), "{block}");
        assert_eq!(
            new_text(&patched, "compose.yaml"),
            format!(
                "services:\n  a:\n    image: x\n    volumes:\n      - /t/warm/p/data:/d\n{block}"
            )
        );
    }
    let headed = "services:\n  a:\n    image: x\n    volumes:\n      - data:/d\n# old: x\n# the volumes\nvolumes:\n  data:\n";
    let (plan, patched) = run(&[("compose.yaml", headed)], &[], false);
    assert_eq!(plan.removed_volumes, ["data"]);
    assert_eq!(
        new_text(&patched, "compose.yaml"),
        "services:\n  a:\n    image: x\n    volumes:\n      - /t/warm/p/data:/d\n# old: x\n"
    );
    let one = "services:\n  a:\n    image: x\n    volumes:\n      - data:/d\n      - keep:/k\nvolumes:\n  # cache:\n  # the data\n  data:\n  keep:\n    external: true\n";
    let (plan, patched) = run(&[("compose.yaml", one)], &[], false);
    assert_eq!(plan.removed_volumes, ["data"]);
    assert_eq!(
        new_text(&patched, "compose.yaml"),
        "services:\n  a:\n    image: x\n    volumes:\n      - /t/warm/p/data:/d\n      - keep:/k\nvolumes:\n  # cache:\n  keep:\n    external: true\n"
    );
}

/// Issue 25 item 1: Immich's thumbnails and transcodes on fast, the rest of `/data` on warm.
const IMMICH_SPLIT: &str = "tiers:\n  fast: { root: /t/fast }\n  warm: { root: /t/warm }\nplacement:\n  - match: { image: '*immich-server*', target: /data }\n    tier: warm\n    path: photos/{project}\n    subtrees: { thumbs: fast, encoded-video: fast }\n  - tier: warm\n    path: '{project}/{volume}'\n";

const IMMICH_COMPOSE: &str = "name: immich\nservices:\n  immich-server:\n    image: ghcr.io/immich-app/immich-server:release\n    volumes:\n      # Do not edit the next line.\n      - ${UPLOAD_LOCATION}:/data\n      - /etc/localtime:/etc/localtime:ro # the host's time zone\n    env_file:\n      - .env\n";

#[test]
fn issue25_rewrite_appends_nested_binds_of_the_data_where_it_is() {
    let files = [
        ("compose.yaml", IMMICH_COMPOSE),
        (".env", "UPLOAD_LOCATION=/t/warm/photos/immich\n"),
    ];
    let (plan, patched) = run_tiers(IMMICH_SPLIT, &files, &[], false, false);
    assert_eq!(
        new_text(&patched, "compose.yaml"),
        "name: immich\nservices:\n  immich-server:\n    image: ghcr.io/immich-app/immich-server:release\n    volumes:\n      # Do not edit the next line.\n      - ${UPLOAD_LOCATION}:/data\n      - /etc/localtime:/etc/localtime:ro # the host's time zone\n      - /t/warm/photos/immich/thumbs:/data/thumbs\n      - /t/warm/photos/immich/encoded-video:/data/encoded-video\n    env_file:\n      - .env\n"
    );
    let steps: Vec<(Action, &str, &str)> = plan
        .steps
        .iter()
        .map(|s| (s.action, s.target.as_deref().unwrap_or(""), s.new.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (
                Action::AddNestedBind,
                "/data/thumbs",
                "/t/warm/photos/immich/thumbs"
            ),
            (
                Action::AddNestedBind,
                "/data/encoded-video",
                "/t/warm/photos/immich/encoded-video"
            ),
        ]
    );
    assert!(
        plan.steps[0].notes[0]
            .contains("moves them to /t/fast/photos/immich/thumbs on the fast tier")
    );
    // once written, nothing more to add
    let again = [
        ("compose.yaml", new_text(&patched, "compose.yaml")),
        (".env", "UPLOAD_LOCATION=/t/warm/photos/immich\n"),
    ];
    let (plan, patched) = run_tiers(IMMICH_SPLIT, &again, &[], false, false);
    assert!(plan.steps.is_empty() && patched.is_empty(), "{plan:?}");
    // `migrate` moves each nested bind to its subtree's tier, as any bind on the wrong tier
    let (plan, _) = run_tiers(IMMICH_SPLIT, &again, &[], false, true);
    let moves: Vec<(Action, &str, &str)> = plan
        .steps
        .iter()
        .map(|s| (s.action, s.target.as_deref().unwrap_or(""), s.new.as_str()))
        .collect();
    assert_eq!(
        moves,
        [
            (
                Action::MoveBind,
                "/data/thumbs",
                "/t/fast/photos/immich/thumbs"
            ),
            (
                Action::MoveBind,
                "/data/encoded-video",
                "/t/fast/photos/immich/encoded-video"
            ),
        ]
    );
}

#[test]
fn issue25_a_read_only_parent_gives_read_only_nested_binds_and_a_volume_a_manual_edit() {
    let compose = "services:\n  immich-server:\n    image: immich-server\n    volumes:\n      - type: bind\n        source: /t/warm/photos/p\n        target: /data\n        read_only: true\n";
    let (plan, patched) = run_tiers(
        IMMICH_SPLIT,
        &[("compose.yaml", compose)],
        &[],
        false,
        false,
    );
    assert!(
        new_text(&patched, "compose.yaml").ends_with(
            "        read_only: true\n      - /t/warm/photos/p/thumbs:/data/thumbs:ro\n      - /t/warm/photos/p/encoded-video:/data/encoded-video:ro\n"
        ),
        "{}",
        new_text(&patched, "compose.yaml")
    );
    assert_eq!(plan.added.len(), 2);
    let compose = "services:\n  immich-server:\n    image: immich-server\n    volumes:\n      - photos:/data\nvolumes:\n  photos:\n";
    let (plan, _) = run_tiers(
        IMMICH_SPLIT,
        &[("compose.yaml", compose)],
        &[],
        false,
        false,
    );
    assert!(plan.added.is_empty());
    assert!(
        plan.manual.iter().any(|m| m.wanted == "/t/warm/photos/p"
            && m.reason.starts_with(
                "its subtrees /data/thumbs (fast), /data/encoded-video (fast) get nested binds below a bind mount only"
            )),
        "{:?}",
        plan.manual
    );
}

#[test]
fn issue25_an_entry_through_an_anchor_gets_its_nested_binds_as_a_manual_edit() {
    // an aliased entry in the service's own list: the nested binds go to that list
    let compose = "x-data: &data /t/warm/photos/p:/data\nservices:\n  immich-server:\n    image: immich-server\n    volumes:\n      - *data\n";
    let (plan, patched) = run_tiers(
        IMMICH_SPLIT,
        &[("compose.yaml", compose)],
        &[],
        false,
        false,
    );
    assert!(
        new_text(&patched, "compose.yaml").ends_with(
            "      - *data\n      - /t/warm/photos/p/thumbs:/data/thumbs\n      - /t/warm/photos/p/encoded-video:/data/encoded-video\n"
        ),
        "{}",
        new_text(&patched, "compose.yaml")
    );
    assert_eq!(plan.added.len(), 2);
    // the list itself shared through an anchor: written by hand
    let compose = "x-vols: &vols\n  - /t/warm/photos/p:/data\nservices:\n  immich-server:\n    image: immich-server\n    volumes: *vols\n";
    let (plan, patched) = run_tiers(
        IMMICH_SPLIT,
        &[("compose.yaml", compose)],
        &[],
        false,
        false,
    );
    assert!(plan.added.is_empty() && patched.is_empty(), "{plan:?}");
    assert_eq!(plan.manual.len(), 1, "{:?}", plan.manual);
    assert!(
        plan.manual[0].reason.ends_with(
            "add the nested binds /t/warm/photos/p/thumbs:/data/thumbs, /t/warm/photos/p/encoded-video:/data/encoded-video to the service's own `volumes:` by hand"
        ),
        "{}",
        plan.manual[0].reason
    );
}
