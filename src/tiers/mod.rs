//! The user's storage map, `tiers.yaml`: tier roots, placement rules with
//! path templates, access points and the directory layout.
//!
//! Pure: [`load`] takes the file's path (for messages) and its text.

mod config;
mod placement;
pub mod pool;
mod subtree;
mod template;

use std::path::{Component, Path, PathBuf};

use indexmap::IndexMap;

pub use config::{
    DirIdentity, PoolProblem, RootOnDisk, TiersError, TiersErrorKind, load, load_resolved,
};
pub use placement::{
    DEFAULT_RULES, DefaultRule, GlobError, Globs, Match, Placement, PlacementRule, Subject,
    default_rules,
};
pub use subtree::{Subtree, SubtreeError, SubtreePlacement, child_target};
pub use template::{PathTemplateError, Template, Var, safe_component};

/// A validated `tiers.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tiers {
    /// The file it was loaded from (for messages).
    pub file: PathBuf,
    /// The tiers by name, in file order. Roots are absolute and do not overlap.
    pub tiers: IndexMap<String, Tier>,
    /// Placement rules, first match wins: the file's, or the built-in defaults.
    pub placement: Vec<PlacementRule>,
    /// Whether `placement` holds the built-in defaults: the file has no
    /// `placement:`, or an empty one. The defaults use the tiers `fast`,
    /// `warm` and `cold`, and the first tier listed for any of those missing.
    pub placement_is_default: bool,
    /// Logical paths that stand for tier directories (`/Volumes/Photos: fast:photos`).
    pub access_points: Vec<AccessPoint>,
    /// Directories `tiers init` creates, with owner and mode.
    pub layout: Vec<LayoutEntry>,
    /// Tier maps by docker context (`contexts: { nas: { tiers: ... } }`): the same tier names
    /// with the roots on that context's host. See [`Tiers::for_context`].
    pub contexts: IndexMap<String, IndexMap<String, Tier>>,
    /// mergerfs pools over tier directories and their move rules (`pools:`), in file order.
    pub pools: Vec<pool::Pool>,
}

/// One storage tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// The tier name (`fast`).
    pub name: String,
    /// The absolute root directory (`/Volumes/faststore`).
    pub root: PathBuf,
    /// Free-form kind (`nvme`, `ssd`, `hdd`), if given.
    pub kind: Option<String>,
    /// `mount: true`: the root must be a mount point (its own disk) carrying the marker.
    pub mount: bool,
}

/// A logical path that stands for a directory on a tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPoint {
    /// The absolute logical path (`/Volumes/Photos`).
    pub path: PathBuf,
    /// The tier name (`fast`).
    pub tier: String,
    /// The directory below the tier root (`photos`); empty for the root itself.
    pub sub: PathBuf,
}

/// A directory on a tier that `tiers init` creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutEntry {
    /// The tier name.
    pub tier: String,
    /// The directory below the tier root; empty for the root itself.
    pub sub: PathBuf,
    /// Numeric `(uid, gid)`, from `"uid:gid"`.
    pub owner: Option<(u32, u32)>,
    /// The owner by name, `"user"` or `"user:group"`, when not numeric; `tiers init` looks it
    /// up (a user alone means that user's primary group).
    pub owner_name: Option<String>,
    /// Permission bits, from an octal string such as `"0755"`.
    pub mode: Option<u32>,
}

impl Tiers {
    /// The tiers as they are on the host of docker context `context`: its own tier map when
    /// tiers.yaml has one (`contexts.<name>.tiers`), else the main map. Placement, access points
    /// and layout are the same for every context (they name tiers, not roots).
    pub fn for_context(&self, context: &str) -> Tiers {
        match self.contexts.get(context) {
            Some(tiers) => Tiers {
                tiers: tiers.clone(),
                ..self.clone()
            },
            None => self.clone(),
        }
    }

    /// The pool named `name`.
    pub fn pool(&self, name: &str) -> Option<&pool::Pool> {
        self.pools.iter().find(|p| p.name == name)
    }

    /// Whether tiers.yaml has a tier map of its own for `context`.
    pub fn has_context(&self, context: &str) -> bool {
        self.contexts.contains_key(context)
    }

    /// Where `subject` belongs: the first rule that matches it, directly or as one of its
    /// `subtrees:` (the mount's target is the rule's target joined with the subtree:
    /// [`Tiers::place_subtree`]), or `None` when no rule does (possible only with the file's own
    /// rules).
    pub fn place(&self, subject: &Subject) -> Option<Placement> {
        self.placement
            .iter()
            .enumerate()
            .find_map(|(rule_index, rule)| {
                if let Some(placement) = self.place_subtree(rule_index, subject) {
                    return Some(Some(placement));
                }
                rule.matcher.matches(subject).then(|| {
                    let tier = self.tiers.get(&rule.tier)?;
                    Some(Placement {
                        rule_index,
                        tier: tier.name.clone(),
                        path: tier.root.join(rule.path.render(subject)),
                        rule_is_default: self.placement_is_default,
                        subtree: None,
                    })
                })
            })
            .flatten()
    }

    /// The tier whose root holds `real_path` (equal to it or an ancestor of
    /// it, compared component by component: `/Volumes/fast` does not hold
    /// `/Volumes/faststore`). `real_path` should already be free of symlinks.
    pub fn tier_of(&self, real_path: &Path) -> Option<&Tier> {
        self.tiers
            .values()
            .find(|tier| real_path.starts_with(&tier.root))
    }

    /// The directory `sub` on tier `tier`; `None` when the tier is unknown or
    /// `sub` is absolute or has a `..` component.
    pub fn tier_path(&self, tier: &str, sub: &Path) -> Option<PathBuf> {
        let tier = self.tiers.get(tier)?;
        is_plain_relative(sub).then(|| tier.root.join(sub))
    }

    /// The access point that holds `path` (equal to it or an ancestor of it,
    /// component-wise); the longest one when several do.
    pub fn access_point_for(&self, path: &Path) -> Option<&AccessPoint> {
        self.access_points
            .iter()
            .filter(|point| path.starts_with(&point.path))
            .max_by_key(|point| point.path.components().count())
    }

    /// The tier path `path` stands for when it lies under an access point:
    /// `/Volumes/Photos/2024` -> `/Volumes/faststore/photos/2024`.
    pub fn resolve_access_point(&self, path: &Path) -> Option<PathBuf> {
        let point = self.access_point_for(path)?;
        let rest = path.strip_prefix(&point.path).ok()?;
        let base = self.tier_path(&point.tier, &point.sub)?;
        Some(if rest.as_os_str().is_empty() {
            base
        } else {
            base.join(rest)
        })
    }
}

/// Whether `path` is relative and has no `..` component (it may be empty).
fn is_plain_relative(path: &Path) -> bool {
    path.components()
        .all(|component| matches!(component, Component::Normal(_) | Component::CurDir))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../fixtures/tiers/example.yaml");

    fn example() -> Tiers {
        load(Path::new("fixtures/tiers/example.yaml"), EXAMPLE).unwrap()
    }

    fn tiers_only() -> Tiers {
        let text = r#"
tiers:
  fast: { root: /Volumes/faststore, kind: nvme }
  warm: { root: /Volumes/warmstore }
  cold: { root: /Volumes/coldstore }
"#;
        load(Path::new("tiers.yaml"), text).unwrap()
    }

    #[test]
    fn parses_the_design_example() {
        let tiers = example();
        assert_eq!(tiers.file, PathBuf::from("fixtures/tiers/example.yaml"));
        let expected = [
            ("fast", "/Volumes/faststore", "nvme"),
            ("warm", "/Volumes/warmstore", "ssd"),
            ("cold", "/Volumes/coldstore", "hdd"),
        ];
        assert_eq!(tiers.tiers.len(), expected.len());
        for ((key, tier), (name, root, kind)) in tiers.tiers.iter().zip(expected) {
            assert_eq!(key, name);
            assert_eq!(
                tier,
                &Tier {
                    name: name.to_string(),
                    root: PathBuf::from(root),
                    kind: Some(kind.to_string()),
                    mount: false,
                }
            );
        }
    }

    #[test]
    fn the_design_example_lists_its_placement_rules_in_file_order() {
        let tiers = example();
        assert!(!tiers.placement_is_default);
        assert_eq!(tiers.placement.len(), 4);
        let rules: Vec<_> = tiers
            .placement
            .iter()
            .map(|rule| {
                let m = &rule.matcher;
                (
                    m.image.patterns().to_vec(),
                    m.service.patterns().to_vec(),
                    m.target.patterns().to_vec(),
                    m.volume.patterns().to_vec(),
                    rule.tier.as_str(),
                    rule.path.as_str(),
                )
            })
            .collect();
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rules,
            vec![
                (
                    strings(&["postgres*", "*/postgres*", "mariadb*", "redis*", "valkey*"]),
                    vec![],
                    vec![],
                    vec![],
                    "fast",
                    "databases/{project}/{volume}"
                ),
                (
                    vec![],
                    vec![],
                    strings(&["/config", "*/metadata*"]),
                    vec![],
                    "fast",
                    "metadata/{project}/{service}"
                ),
                (
                    vec![],
                    vec![],
                    vec![],
                    strings(&["*model*cache*"]),
                    "fast",
                    "ml_models/{project}"
                ),
                (vec![], vec![], vec![], vec![], "warm", "{project}/{volume}"),
            ]
        );
    }

    #[test]
    fn the_design_example_has_an_access_point_and_a_layout_entry() {
        let tiers = example();
        assert_eq!(
            tiers.access_points,
            vec![AccessPoint {
                path: PathBuf::from("/Volumes/Photos"),
                tier: "fast".to_string(),
                sub: PathBuf::from("photos"),
            }]
        );
        assert_eq!(
            tiers.layout,
            vec![LayoutEntry {
                tier: "fast".to_string(),
                sub: PathBuf::from("databases"),
                owner: Some((0, 0)),
                owner_name: None,
                mode: Some(0o755),
            }]
        );
    }

    #[test]
    fn example_places_by_first_matching_rule() {
        let tiers = example();
        // Matches both the database rule and the catch-all: the first wins.
        let db = tiers
            .place(&Subject::in_immich(
                "database",
                Some("ghcr.io/immich-app/postgres:14-vectorchord0.4.3"),
                "/var/lib/postgresql/data",
                Some("pgdata"),
            ))
            .unwrap();
        assert_eq!(
            db,
            Placement {
                rule_index: 0,
                tier: "fast".to_string(),
                path: PathBuf::from("/Volumes/faststore/databases/immich/pgdata"),
                rule_is_default: false,
                subtree: None,
            }
        );
        let model = tiers
            .place(&Subject::in_immich(
                "immich-machine-learning",
                Some("ghcr.io/immich-app/immich-machine-learning:release"),
                "/cache",
                Some("model-cache"),
            ))
            .unwrap();
        assert_eq!(model.rule_index, 2);
        assert_eq!(
            model.path,
            PathBuf::from("/Volumes/faststore/ml_models/immich")
        );
        // tensorchord/pgvecto-rs matches no database glob of the example.
        let vector = tiers
            .place(&Subject::in_immich(
                "database",
                Some("tensorchord/pgvecto-rs:pg14-v0.2.0"),
                "/var/lib/postgresql/data",
                None,
            ))
            .unwrap();
        assert_eq!(vector.rule_index, 3);
        assert_eq!(vector.path, PathBuf::from("/Volumes/warmstore/immich/data"));
    }

    #[test]
    fn no_matching_rule_places_nowhere() {
        let text = r#"
tiers:
  fast: { root: /f }
placement:
  - match: { service: db }
    tier: fast
    path: "{service}"
"#;
        let tiers = load(Path::new("t.yaml"), text).unwrap();
        assert!(
            tiers
                .place(&Subject::in_immich("web", None, "/srv", None))
                .is_none()
        );
        assert_eq!(
            tiers
                .place(&Subject::in_immich("db", None, "/srv", None))
                .map(|p| p.path),
            Some(PathBuf::from("/f/db"))
        );
    }

    /// `(tier, path)` the defaults give `subject`.
    fn default_place(tiers: &Tiers, subject: &Subject) -> (String, String) {
        let placement = tiers.place(subject).unwrap();
        assert!(placement.rule_is_default);
        (placement.tier, placement.path.display().to_string())
    }

    fn pair(tier: &str, path: &str) -> (String, String) {
        (tier.to_string(), path.to_string())
    }

    #[test]
    fn defaults_for_immich() {
        let tiers = tiers_only();
        assert!(tiers.placement_is_default);
        let cases = [
            (
                Subject::in_immich(
                    "database",
                    Some("ghcr.io/immich-app/postgres:14-vectorchord0.4.3-pgvectors0.2.0"),
                    "/var/lib/postgresql/data",
                    None,
                ),
                pair("fast", "/Volumes/faststore/databases/immich/database"),
            ),
            (
                Subject::in_immich(
                    "database",
                    Some("tensorchord/pgvecto-rs:pg14-v0.2.0"),
                    "/var/lib/postgresql/data",
                    Some("pgdata"),
                ),
                pair("fast", "/Volumes/faststore/databases/immich/database"),
            ),
            (
                Subject::in_immich(
                    "immich-server",
                    Some("ghcr.io/immich-app/immich-server:release"),
                    "/usr/src/app/upload",
                    None,
                ),
                pair("fast", "/Volumes/faststore/photos/immich"),
            ),
            (
                Subject::in_immich(
                    "immich-machine-learning",
                    Some("ghcr.io/immich-app/immich-machine-learning:release"),
                    "/cache",
                    Some("model-cache"),
                ),
                pair("fast", "/Volumes/faststore/ml_models/immich"),
            ),
            (
                Subject::in_immich(
                    "redis",
                    Some("docker.io/valkey/valkey:8-bookworm"),
                    "/data",
                    None,
                ),
                pair("fast", "/Volumes/faststore/databases/immich/redis"),
            ),
            (
                Subject::in_immich("redis", Some("redis:6.2-alpine"), "/data", None),
                pair("fast", "/Volumes/faststore/databases/immich/redis"),
            ),
        ];
        for (subject, expected) in cases {
            assert_eq!(default_place(&tiers, &subject), expected, "{subject:?}");
        }
    }

    #[test]
    fn defaults_for_plex_and_others() {
        let tiers = tiers_only();
        let plex = |target, volume| Subject {
            project: "plex",
            service: "plex",
            image: Some("lscr.io/linuxserver/plex:latest"),
            target,
            volume,
        };
        let cases = [
            (
                plex("/config", None),
                pair("fast", "/Volumes/faststore/metadata/plex/plex"),
            ),
            (
                plex("/movies", None),
                pair("warm", "/Volumes/warmstore/media/movies"),
            ),
            (
                plex("/tv", None),
                pair("warm", "/Volumes/warmstore/media/tv"),
            ),
            (
                plex("/music", Some("music")),
                pair("warm", "/Volumes/warmstore/media/music"),
            ),
            (
                plex("/transcode", None),
                pair("fast", "/Volumes/faststore/processing/plex/transcode"),
            ),
            (
                plex("/downloads", None),
                pair("warm", "/Volumes/warmstore/staging/plex"),
            ),
            (
                plex("/var/log/plex", None),
                pair("warm", "/Volumes/warmstore/logs/plex/plex"),
            ),
            (
                plex("/backups", None),
                pair("cold", "/Volumes/coldstore/backups/plex"),
            ),
            (
                plex("/srv/archive", None),
                pair("cold", "/Volumes/coldstore/archives/plex"),
            ),
            (
                plex("/srv/stuff", Some("stuff")),
                pair("warm", "/Volumes/warmstore/plex/stuff"),
            ),
        ];
        for (subject, expected) in cases {
            assert_eq!(default_place(&tiers, &subject), expected, "{subject:?}");
        }
        // A backup helper built on a postgres image still goes to the cold tier.
        let backup = Subject {
            image: Some("prodrigestivill/postgres-backup-local"),
            ..plex("/backups", None)
        };
        assert_eq!(default_place(&tiers, &backup).0, "cold");
    }

    #[test]
    fn defaults_fall_back_to_first_tier() {
        let text = "tiers:\n  nvme: { root: /n }\n  warm: { root: /w }\n";
        let tiers = load(Path::new("t.yaml"), text).unwrap();
        let db = Subject::in_immich("db", Some("postgres:16"), "/var/lib/postgresql/data", None);
        assert_eq!(
            default_place(&tiers, &db),
            pair("nvme", "/n/databases/immich/db")
        );
        let movies = Subject::in_immich("plex", None, "/movies", None);
        assert_eq!(
            default_place(&tiers, &movies),
            pair("warm", "/w/media/movies")
        );
        let backup = Subject::in_immich("db", None, "/backup", None);
        assert_eq!(
            default_place(&tiers, &backup),
            pair("nvme", "/n/backups/immich")
        );
    }

    #[test]
    fn tier_of_compares_components() {
        let text =
            "tiers:\n  fast: { root: /Volumes/fast }\n  store: { root: /Volumes/faststore }\n";
        let tiers = load(Path::new("t.yaml"), text).unwrap();
        let name = |path: &str| tiers.tier_of(Path::new(path)).map(|t| t.name.as_str());
        assert_eq!(name("/Volumes/fast"), Some("fast"));
        assert_eq!(name("/Volumes/fast/db"), Some("fast"));
        assert_eq!(name("/Volumes/faststore/photos"), Some("store"));
        assert_eq!(name("/Volumes/fastx"), None);
        assert_eq!(name("/Volumes"), None);
    }

    #[test]
    fn tier_path_and_access_points() {
        let tiers = example();
        assert_eq!(
            tiers.tier_path("cold", Path::new("backups/x")),
            Some(PathBuf::from("/Volumes/coldstore/backups/x"))
        );
        assert_eq!(
            tiers.tier_path("fast", Path::new("")),
            Some(PathBuf::from("/Volumes/faststore"))
        );
        assert_eq!(tiers.tier_path("nope", Path::new("x")), None);
        assert_eq!(tiers.tier_path("fast", Path::new("/etc")), None);
        assert_eq!(tiers.tier_path("fast", Path::new("../x")), None);

        let point = tiers
            .access_point_for(Path::new("/Volumes/Photos/2024"))
            .unwrap();
        assert_eq!(point.tier, "fast");
        assert!(
            tiers
                .access_point_for(Path::new("/Volumes/PhotosOld"))
                .is_none()
        );
        assert_eq!(
            tiers.resolve_access_point(Path::new("/Volumes/Photos/2024/a.jpg")),
            Some(PathBuf::from("/Volumes/faststore/photos/2024/a.jpg"))
        );
        assert_eq!(
            tiers.resolve_access_point(Path::new("/Volumes/Photos")),
            Some(PathBuf::from("/Volumes/faststore/photos"))
        );
    }

    #[test]
    fn longest_access_point_wins() {
        let text = r#"
tiers:
  fast: { root: /f }
access_points:
  /Volumes/Photos: fast:photos
  /Volumes/Photos/raw: fast:raw
"#;
        let tiers = load(Path::new("t.yaml"), text).unwrap();
        assert_eq!(
            tiers.resolve_access_point(Path::new("/Volumes/Photos/raw/1.dng")),
            Some(PathBuf::from("/f/raw/1.dng"))
        );
    }

    #[test]
    fn empty_placement_means_defaults() {
        let text = "tiers:\n  fast: { root: /f }\nplacement: []\n";
        let tiers = load(Path::new("t.yaml"), text).unwrap();
        assert!(tiers.placement_is_default);
        assert_eq!(tiers.placement.len(), DEFAULT_RULES.len());
        assert!(tiers.placement.iter().all(|rule| rule.tier == "fast"));
    }

    #[test]
    fn duplicate_tier_is_an_error() {
        let text = "tiers:\n  fast: { root: /a }\n  fast: { root: /b }\n";
        let error = load(Path::new("t.yaml"), text).unwrap_err();
        // serde_norway places the error at the start of the mapping.
        assert_eq!(
            error.to_string(),
            "t.yaml:2:3: invalid yaml: tiers: duplicate key `fast`"
        );
    }
}
