use super::validate::{check_access_point, check_walk};
use super::*;
use crate::facts::Hop;
use crate::facts::PathProblem;
use std::path::Path;

fn marker_case(
    mount: bool,
    seen: (bool, Option<bool>),
    marker: crate::facts::Marker,
) -> MarkerKind {
    let tier = crate::tiers::Tier {
        name: "fast".into(),
        root: "/t/fast".into(),
        kind: None,
        mount,
    };
    let (root_is_dir, mount_point) = seen;
    let seen = crate::facts::TierPresence {
        root_is_dir,
        root_empty: false,
        marker,
        mount_point,
    };
    marker_plan(&tier, &seen, false).kind
}

#[test]
fn a_marker_is_written_kept_or_held_back_with_the_reason() {
    use crate::facts::Marker;
    let present = || Marker::Present {
        tier: "fast".into(),
        id: "x".into(),
    };
    assert_eq!(
        marker_case(false, (true, Some(false)), Marker::Missing),
        MarkerKind::Write
    );
    assert_eq!(
        marker_case(false, (true, None), present()),
        MarkerKind::Keep
    );
    assert_eq!(
        marker_case(true, (true, Some(true)), Marker::Missing),
        MarkerKind::Write
    );
    let held = |kind: MarkerKind| match kind {
        MarkerKind::HeldBack { reason } => reason,
        other => panic!("held back expected, got {other:?}"),
    };
    let reason = held(marker_case(true, (true, Some(false)), Marker::Missing));
    assert!(
        reason.starts_with("the root is not a mount point"),
        "{reason}"
    );
    assert!(
        reason.contains("mount the disk of tier `fast` at /t/fast"),
        "{reason}"
    );
    let reason = held(marker_case(false, (false, None), Marker::Missing));
    assert_eq!(reason, "the root is not a directory");
    let unreadable = Marker::Unreadable {
        message: "not a marker".into(),
    };
    let reason = held(marker_case(false, (true, Some(false)), unreadable));
    assert!(reason.contains("(not a marker): move it away"), "{reason}");
}

const TIERS: &str = r#"
tiers:
  fast: { root: /t/fast, kind: nvme }
  warm: { root: /t/warm, kind: ssd }
  cold: { root: /t/cold, kind: hdd }
placement:
  - match: { image: "postgres*" }
    tier: fast
    path: databases/{project}/{volume}
  - tier: warm
    path: "{project}/{volume}"
access_points:
  /v/Photos: fast:photos
layout:
  - { path: fast:databases, owner: "999:999", mode: "0700" }
  - { path: fast:photos, owner: immich }
"#;

fn tiers() -> Tiers {
    crate::tiers::load(Path::new("tiers.yaml"), TIERS).expect("valid tiers")
}

fn dir(uid: u32, mode: u32, holds_data: bool) -> Node {
    Node::Dir(DirMeta {
        uid,
        gid: uid,
        mode,
        holds_data,
    })
}

fn root(tier: &str, device: u64, options: &[&str]) -> RootFacts {
    RootFacts {
        tier: tier.to_string(),
        node: dir(0, 0o755, true),
        device: Some(device),
        mount: Some(MountFacts {
            mount_point: PathBuf::from(format!("/t/{tier}")),
            fs_type: "ext4".to_string(),
            options: options.iter().map(|o| o.to_string()).collect(),
        }),
        unmounted: false,
    }
}

fn resolved(path: &str, hops: &[(&str, &str)], real: &str, exists: bool) -> PathFacts {
    PathFacts {
        path: PathBuf::from(path),
        hops: hops
            .iter()
            .map(|(link, target)| Hop {
                link: PathBuf::from(link),
                target: PathBuf::from(target),
                resolved: PathBuf::from(target),
            })
            .collect(),
        real: Some(PathBuf::from(real)),
        exists,
        is_dir: exists,
        problem: None,
    }
}

fn ids(verdicts: &[Verdict]) -> Vec<(&'static str, Level)> {
    verdicts.iter().map(|v| (v.check, v.level)).collect()
}

#[test]
fn issue12_tiers_init_without_a_cold_tier_creates_no_backups_on_the_fast_tier() {
    let tiers = crate::tiers::load(
        Path::new("tiers.yaml"),
        "tiers:\n  fast: { root: /f }\n  warm: { root: /w }\n",
    )
    .expect("valid tiers");
    let dirs: Vec<PathBuf> = wanted_dirs(&tiers).into_iter().map(|d| d.path).collect();
    assert!(dirs.contains(&PathBuf::from("/f/databases")), "{dirs:?}");
    for absent in ["/f/backups", "/f/archives"] {
        assert!(!dirs.contains(&PathBuf::from(absent)), "{dirs:?}");
    }
}

#[test]
fn wanted_dirs_are_layout_then_placement_prefixes() {
    let wanted = wanted_dirs(&tiers());
    let paths: Vec<(&str, bool)> = wanted
        .iter()
        .map(|d| (d.path.to_str().unwrap(), d.declared))
        .collect();
    // `databases` is both a layout entry and a placement prefix: listed once.
    assert_eq!(
        paths,
        vec![("/t/fast/databases", true), ("/t/fast/photos", true)]
    );
    assert_eq!(wanted[1].owner_name.as_deref(), Some("immich"));
    assert_eq!(fixed_prefix("media/movies"), PathBuf::from("media/movies"));
    assert_eq!(fixed_prefix("{project}/x"), PathBuf::new());
}

fn clean_observed() -> Observed {
    let t = tiers();
    let mut dirs: Vec<(WantedDir, Node)> = wanted_dirs(&t)
        .into_iter()
        .map(|d| (d, dir(999, 0o700, true)))
        .collect();
    dirs[1].0.owner = Some((1000, 1000));
    dirs[1].1 = dir(1000, 0o755, true);
    Observed {
        roots: vec![
            root("fast", 1, &["rw", "noatime"]),
            root("warm", 2, &["rw", "relatime"]),
            root("cold", 3, &["rw", "relatime"]),
        ],
        dirs,
        access_points: vec![(
            Node::Symlink {
                target: PathBuf::from("/t/fast/photos"),
            },
            resolved(
                "/v/Photos",
                &[("/v/Photos", "/t/fast/photos")],
                "/t/fast/photos",
                true,
            ),
        )],
        walks: vec![WalkFacts {
            tier: "fast".into(),
            entries: 10,
            truncated: false,
            links: vec![],
        }],
    }
}

#[test]
fn a_clean_layout_has_ok_verdicts_and_one_note() {
    let verdicts = validate(&tiers(), &clean_observed());
    assert_eq!(
        ids(&verdicts),
        vec![
            ("root", Level::Ok),
            ("root", Level::Ok),
            ("noatime", Level::Note),
            ("root", Level::Ok),
            ("layout", Level::Ok),
            ("layout", Level::Ok),
            ("access-point", Level::Ok),
            ("symlinks", Level::Ok),
        ]
    );
    assert_eq!(
        verdicts[2].message,
        "tier warm: /t/warm (ssd) is mounted with relatime, not noatime"
    );
    assert_eq!(exit_code(&verdicts), 0);
}

#[test]
fn shared_filesystem_and_drift_are_warnings() {
    let mut observed = clean_observed();
    observed.roots[2].device = Some(2);
    observed.dirs[0].1 = dir(0, 0o755, false);
    observed.access_points[0].0 = Node::Missing;
    let verdicts = validate(&tiers(), &observed);
    let problems: Vec<_> = verdicts
        .iter()
        .filter(|v| v.level >= Level::Warning)
        .map(|v| (v.check, v.message.as_str()))
        .collect();
    assert_eq!(
        problems,
        vec![
            (
                "shared-filesystem",
                "tiers warm and cold share one filesystem (device 0:2)"
            ),
            (
                "layout-owner",
                "/t/fast/databases has owner 0:0 (declared 999:999), mode 0755 (declared 0700)"
            ),
            (
                "access-point-missing",
                "access point /v/Photos does not exist"
            ),
        ]
    );
    assert_eq!(exit_code(&verdicts), 1);
}

#[test]
fn access_point_chains_wrong_targets_and_directories_are_errors() {
    let t = tiers();
    let target = Path::new("/t/fast/photos");
    let point = Path::new("/v/Photos");
    let link = Node::Symlink {
        target: PathBuf::from("/v/other"),
    };
    let chain = resolved(
        "/v/Photos",
        &[("/v/Photos", "/v/other"), ("/v/other", "/t/fast/photos")],
        "/t/fast/photos",
        true,
    );
    let v = check_access_point(point, target, &link, &chain);
    assert_eq!(v.check, "access-point-chain");
    assert_eq!(
        v.message,
        "access point /v/Photos reaches /t/fast/photos through 2 symlinks (/v/Photos -> /v/other)"
    );
    let wrong = resolved(
        "/v/Photos",
        &[("/v/Photos", "/t/warm/x")],
        "/t/warm/x",
        true,
    );
    assert_eq!(
        check_access_point(point, target, &link, &wrong).check,
        "access-point-wrong-target"
    );
    let data = check_access_point(point, target, &dir(0, 0o755, true), &chain);
    assert_eq!(
        (data.check, data.level),
        ("access-point-not-symlink", Level::Error)
    );
    let mut looped = chain.clone();
    looped.problem = Some(PathProblem::Loop {
        at: PathBuf::from("/v/Photos"),
    });
    looped.real = None;
    assert_eq!(
        check_access_point(point, target, &link, &looped).check,
        "circular-symlink"
    );
    let dangling = resolved(
        "/v/Photos",
        &[("/v/Photos", "/t/fast/photos")],
        "/t/fast/photos",
        false,
    );
    assert_eq!(
        check_access_point(point, target, &link, &dangling).check,
        "access-point-dangling"
    );
    assert!(t.access_points.len() == 1);
}

#[test]
fn walk_finds_loops_and_cross_tier_links() {
    let mut looped = resolved("/t/fast/a", &[("/t/fast/a", "b")], "/", false);
    looped.problem = Some(PathProblem::Loop {
        at: PathBuf::from("/t/fast/a"),
    });
    looped.real = None;
    let walk = WalkFacts {
        tier: "fast".into(),
        entries: 5000,
        truncated: true,
        links: vec![
            LinkFacts {
                tier: "fast".into(),
                facts: looped,
            },
            LinkFacts {
                tier: "fast".into(),
                facts: resolved(
                    "/t/fast/movies",
                    &[("/t/fast/movies", "/t/warm/movies")],
                    "/t/warm/movies",
                    true,
                ),
            },
            LinkFacts {
                tier: "fast".into(),
                facts: resolved(
                    "/t/fast/same",
                    &[("/t/fast/same", "photos")],
                    "/t/fast/photos",
                    true,
                ),
            },
        ],
    };
    let verdicts = check_walk(&tiers(), &walk);
    assert_eq!(
        ids(&verdicts),
        vec![
            ("circular-symlink", Level::Error),
            ("cross-tier-symlink", Level::Warning),
            ("walk-truncated", Level::Note),
        ]
    );
    assert_eq!(
        verdicts[1].message,
        "/t/fast/movies on tier fast leads to /t/warm/movies on tier warm"
    );
    assert_eq!(exit_code(&verdicts), 2);
}

#[test]
fn init_creates_fixes_empty_dirs_and_leaves_data_alone() {
    let t = tiers();
    let wanted = wanted_dirs(&t);
    let roots = vec![root("fast", 1, &[]), root("warm", 2, &[])];
    let dirs = vec![
        (wanted[0].clone(), Node::Missing),
        (wanted[1].clone(), dir(5, 0o755, true)),
    ];
    let mut with_owner = dirs.clone();
    with_owner[1].0.owner = Some((1000, 1000));
    let plan = init_plan(&with_owner, &roots, false);
    assert_eq!(
        plan,
        vec![
            DirAction::Create {
                path: PathBuf::from("/t/fast/databases"),
                owner: Some((999, 999)),
                mode: Some(0o700),
            },
            DirAction::Leave {
                path: PathBuf::from("/t/fast/photos"),
                differs: "owner 5:5, declared 1000:1000".into(),
            },
        ]
    );
    let fixed = init_plan(&with_owner, &roots, true);
    assert_eq!(
        fixed[1],
        DirAction::Fix {
            path: PathBuf::from("/t/fast/photos"),
            owner: Some(((5, 5), (1000, 1000))),
            mode: None,
        }
    );
    // An empty directory is fixed without the flag; a declared one is kept.
    with_owner[1].1 = dir(5, 0o755, false);
    assert!(matches!(
        init_plan(&with_owner, &roots, false)[1],
        DirAction::Fix { .. }
    ));
    with_owner[1].1 = dir(1000, 0o700, true);
    assert!(matches!(
        init_plan(&with_owner, &roots, false)[1],
        DirAction::Keep { .. }
    ));
    // Without its root mounted nothing is created.
    let blocked = init_plan(&dirs, &[root("warm", 2, &[])], false);
    assert!(matches!(blocked[0], DirAction::Blocked { .. }));
    assert!(!blocked[0].changes());
}

#[test]
fn link_creates_repairs_and_refuses_data() {
    let t = tiers();
    let target = PathBuf::from("/t/fast/photos");
    let plan = |node: Node, target_node: Node| link_plan(&t, &[(node, target_node)]);
    let d = dir(0, 0o755, true);
    assert_eq!(
        plan(Node::Missing, d.clone()),
        vec![LinkAction::Create {
            path: PathBuf::from("/v/Photos"),
            target: target.clone()
        }]
    );
    assert!(matches!(
        plan(
            Node::Symlink {
                target: target.clone()
            },
            d.clone()
        )[0],
        LinkAction::Keep { .. }
    ));
    assert!(matches!(
        &plan(Node::Symlink { target: PathBuf::from("/old") }, d.clone())[0],
        LinkAction::Replace { old, .. } if old == "symlink to /old"
    ));
    assert!(matches!(
        plan(dir(0, 0o755, false), d.clone())[0],
        LinkAction::Replace { .. }
    ));
    assert!(matches!(
        plan(dir(0, 0o755, true), d.clone())[0],
        LinkAction::Refuse { .. }
    ));
    assert!(matches!(
        plan(Node::Missing, Node::Missing)[0],
        LinkAction::Refuse { .. }
    ));
}
