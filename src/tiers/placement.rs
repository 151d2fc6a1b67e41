//! Placement rules: which tier and directory a volume belongs on, and the
//! built-in default rules that follow the storage guide.

use std::fmt;
use std::path::PathBuf;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::template::Template;

/// A list of glob patterns; matches a value when any pattern matches it.
///
/// `*` crosses `/`, so `*/postgres*` matches `ghcr.io/immich-app/postgres:14`
/// and `*/metadata*` matches `/config/metadata`. Matching is case-sensitive.
#[derive(Clone)]
pub struct Globs {
    patterns: Vec<String>,
    set: GlobSet,
}

/// A glob pattern that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid glob `{glob}`: {reason}")]
pub struct GlobError {
    /// The pattern as written.
    pub glob: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Globs {
    /// Compiles `patterns`; an empty list matches anything (the field was not given).
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, GlobError> {
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            builder.add(compile(pattern.as_ref())?);
        }
        let set = builder.build().map_err(|error| GlobError {
            glob: patterns
                .iter()
                .map(|pattern| pattern.as_ref())
                .collect::<Vec<_>>()
                .join(", "),
            reason: error.kind().to_string(),
        })?;
        Ok(Self {
            patterns: patterns.iter().map(|p| p.as_ref().to_string()).collect(),
            set,
        })
    }

    /// The patterns as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether no pattern was given (the field does not constrain the match).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any pattern matches `value`.
    pub fn is_match(&self, value: &str) -> bool {
        self.set.is_match(value)
    }

    /// Whether this field lets `value` through: no patterns, or one matches.
    /// A missing value passes only a field without patterns.
    fn allows(&self, value: Option<&str>) -> bool {
        self.is_empty() || value.is_some_and(|value| self.is_match(value))
    }
}

impl fmt::Debug for Globs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Globs").field(&self.patterns).finish()
    }
}

impl PartialEq for Globs {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}

/// Compiles one glob whose `*` crosses `/`.
fn compile(pattern: &str) -> Result<globset::Glob, GlobError> {
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .build()
        .map_err(|error| GlobError {
            glob: pattern.to_string(),
            reason: error.kind().to_string(),
        })
}

/// The `match:` of a rule. All given fields must match; a field matches when
/// any of its globs does; a field with no globs matches anything.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// Globs on the service's image (`postgres*`, `*/postgres*`).
    pub image: Globs,
    /// Globs on the service name.
    pub service: Globs,
    /// Globs on the container path (`/config`, `*/metadata*`); a trailing `/`
    /// of the target is ignored.
    pub target: Globs,
    /// Globs on the volume name: the named volume key, or for a bind mount
    /// the last component of the target (the same value `{volume}` renders).
    pub volume: Globs,
}

impl Match {
    /// A match with no fields: matches every subject.
    pub fn everything() -> Self {
        let none = || Globs::new::<&str>(&[]).expect("an empty glob set always compiles");
        Self {
            image: none(),
            service: none(),
            target: none(),
            volume: none(),
        }
    }

    /// Whether every given field matches `subject`. A subject without an image
    /// (a service with only `build:`) does not match an `image` field.
    pub fn matches(&self, subject: &Subject) -> bool {
        let target = crate::compose::target::clean(subject.target);
        self.image.allows(subject.image)
            && self.service.allows(Some(subject.service))
            && self.target.allows(Some(&target))
            && self.volume.allows(Some(&subject.volume_name()))
    }
}

/// One placement rule: where volumes that match go.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacementRule {
    /// Which volumes the rule applies to.
    pub matcher: Match,
    /// The tier name (validated against the file's tiers).
    pub tier: String,
    /// The directory below the tier root.
    pub path: Template,
    /// Directories below the mount on other tiers, each served by a nested bind
    /// ([`super::subtree`]); empty for most rules.
    pub subtrees: Vec<super::subtree::Subtree>,
}

/// A volume mount to place: one service's mount of one volume or bind source. A rule's `match:`
/// selects by it, and the rule's path template renders with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'a> {
    /// The compose project name.
    pub project: &'a str,
    /// The service name.
    pub service: &'a str,
    /// The service image, if it has one.
    pub image: Option<&'a str>,
    /// The container path.
    pub target: &'a str,
    /// The named volume key, or `None` for a bind mount.
    pub volume: Option<&'a str>,
}

impl Subject<'_> {
    /// The name `{volume}` stands for, and the `volume:` globs of a rule match: the named
    /// volume key, or for a bind mount the last component of the target (`_` when the target
    /// is `/`).
    pub fn volume_name(&self) -> String {
        match self.volume {
            Some(volume) => volume.to_string(),
            None => self
                .target
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
        }
    }
}

#[cfg(test)]
impl<'a> Subject<'a> {
    /// A mount of project `immich`, for tests.
    pub(crate) fn in_immich(
        service: &'a str,
        image: Option<&'a str>,
        target: &'a str,
        volume: Option<&'a str>,
    ) -> Self {
        Subject {
            project: "immich",
            service,
            image,
            target,
            volume,
        }
    }
}

/// Where a subject belongs, and which rule said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Index of the matching rule in [`super::Tiers::placement`].
    pub rule_index: usize,
    /// The tier name.
    pub tier: String,
    /// The tier root joined with the rendered template.
    pub path: PathBuf,
    /// Whether the rule comes from the built-in defaults.
    pub rule_is_default: bool,
    /// For a nested bind placed by a `subtrees:` entry of its rule: that subtree (`thumbs`).
    pub subtree: Option<PathBuf>,
}

/// One row of the built-in default placement.
#[derive(Debug, Clone, Copy)]
pub struct DefaultRule {
    /// Image globs (empty: any image).
    pub image: &'static [&'static str],
    /// Target globs (empty: any target).
    pub target: &'static [&'static str],
    /// Volume-name globs (empty: any volume).
    pub volume: &'static [&'static str],
    /// `fast`, `warm` or `cold`.
    pub tier: &'static str,
    /// The path template.
    pub path: &'static str,
}

const NONE: &[&str] = &[];

const DB_IMAGES: &[&str] = &[
    "postgres*",
    "*/postgres*",
    "mysql*",
    "*/mysql*",
    "mariadb*",
    "*/mariadb*",
    "mongo*",
    "*/mongo*",
    "redis*",
    "*/redis*",
    "valkey*",
    "*/valkey*",
    "tensorchord/*",
    "*/tensorchord/*",
    "*/immich-app/postgres*",
];
const DB_TARGETS: &[&str] = &[
    "/var/lib/postgresql*",
    "/var/lib/mysql*",
    "/var/lib/mariadb*",
    "/data/db",
    "/bitnami/postgresql*",
    "/bitnami/mariadb*",
];
const BACKUP: &[&str] = &["*backup*"];
const ARCHIVE: &[&str] = &["*archive*"];
const MODEL_VOLUMES: &[&str] = &["*model*cache*", "*models*"];
const MODEL_TARGETS: &[&str] = &["*model*cache*", "*/models", "*/models/*"];
/// Machine-learning services whose cache holds models (Immich's `/cache`).
const MODEL_IMAGES: &[&str] = &["*immich-machine-learning*", "*ollama*"];
const PHOTO_TARGETS: &[&str] = &["*photo*", "*upload*", "*/library*"];
const PHOTO_VOLUMES: &[&str] = &["*photo*", "*upload*"];
/// Photo apps whose library sits at a generic target (Immich's `/data` since v1.133).
const PHOTO_APP_IMAGES: &[&str] = &["*immich-server*", "*photoprism*", "*librephotos*"];
const PHOTO_APP_TARGETS: &[&str] = &["/data", "/data/*", "/usr/src/app/upload*", "/photoprism/*"];
const METADATA_TARGETS: &[&str] = &["/config", "/config/*", "*metadata*", "*thumbs*"];
const METADATA_VOLUMES: &[&str] = &["*metadata*", "*thumbs*"];
const PROCESSING: &[&str] = &["*transcode*", "*processing*", "*cache*"];
const MEDIA_TARGETS: &[&str] = &[
    "*movie*",
    "*/tv",
    "*/tv/*",
    "*/tvshows*",
    "*/series*",
    "*music*",
    "*collection*",
    "*/media",
    "*/media/*",
];
const MEDIA_VOLUMES: &[&str] = &[
    "*movie*",
    "tv",
    "tvshows",
    "*series*",
    "*music*",
    "*collection*",
];
const STAGING: &[&str] = &["*download*", "*staging*", "*incomplete*"];
const LOG_TARGETS: &[&str] = &["*/log", "*/log/*", "*/logs", "*/logs/*"];
const LOG_VOLUMES: &[&str] = &["log", "logs", "*-log", "*-logs", "*_log", "*_logs"];

/// A row's glob list.
type Patterns = &'static [&'static str];

impl DefaultRule {
    /// A row that matches services by image.
    const fn image(globs: Patterns, tier: &'static str, path: &'static str) -> Self {
        DefaultRule::new(globs, NONE, NONE, tier, path)
    }

    /// A row that matches mounts by container path.
    const fn target(globs: Patterns, tier: &'static str, path: &'static str) -> Self {
        DefaultRule::new(NONE, globs, NONE, tier, path)
    }

    /// A row that matches named volumes by name.
    const fn volume(globs: Patterns, tier: &'static str, path: &'static str) -> Self {
        DefaultRule::new(NONE, NONE, globs, tier, path)
    }

    const fn new(
        image: Patterns,
        target: Patterns,
        volume: Patterns,
        tier: &'static str,
        path: &'static str,
    ) -> Self {
        DefaultRule {
            image,
            target,
            volume,
            tier,
            path,
        }
    }
}

const DB: &str = "databases/{project}/{service}";
const MODELS: &str = "ml_models/{project}";
const PHOTOS: &str = "photos/{project}";
const METADATA: &str = "metadata/{project}/{service}";
const PROCESSED: &str = "processing/{project}/{volume}";

/// The built-in placement, used when `tiers.yaml` has no `placement:`; first
/// match wins. Backups and archives come first so that a backup helper built
/// on a database image (`*/postgres-backup*`) still lands on the cold tier;
/// model caches come before the generic cache rule.
///
/// The rows name the tiers `fast`, `warm` and `cold`; when the file lacks one
/// of them, [`default_rules`] uses the first tier the file lists instead.
pub const DEFAULT_RULES: &[DefaultRule] = &[
    DefaultRule::target(BACKUP, "cold", "backups/{project}"),
    DefaultRule::volume(BACKUP, "cold", "backups/{project}"),
    DefaultRule::target(ARCHIVE, "cold", "archives/{project}"),
    DefaultRule::volume(ARCHIVE, "cold", "archives/{project}"),
    DefaultRule::image(DB_IMAGES, "fast", DB),
    DefaultRule::target(DB_TARGETS, "fast", DB),
    DefaultRule::volume(MODEL_VOLUMES, "fast", MODELS),
    DefaultRule::image(MODEL_IMAGES, "fast", MODELS),
    DefaultRule::target(MODEL_TARGETS, "fast", MODELS),
    DefaultRule::new(PHOTO_APP_IMAGES, PHOTO_APP_TARGETS, NONE, "fast", PHOTOS),
    DefaultRule::target(PHOTO_TARGETS, "fast", PHOTOS),
    DefaultRule::volume(PHOTO_VOLUMES, "fast", PHOTOS),
    DefaultRule::target(METADATA_TARGETS, "fast", METADATA),
    DefaultRule::volume(METADATA_VOLUMES, "fast", METADATA),
    DefaultRule::target(PROCESSING, "fast", PROCESSED),
    DefaultRule::volume(PROCESSING, "fast", PROCESSED),
    DefaultRule::target(MEDIA_TARGETS, "warm", "media/{volume}"),
    DefaultRule::volume(MEDIA_VOLUMES, "warm", "media/{volume}"),
    DefaultRule::target(STAGING, "warm", "staging/{project}"),
    DefaultRule::volume(STAGING, "warm", "staging/{project}"),
    DefaultRule::target(LOG_TARGETS, "warm", "logs/{project}/{service}"),
    DefaultRule::volume(LOG_VOLUMES, "warm", "logs/{project}/{service}"),
    DefaultRule::new(NONE, NONE, NONE, "warm", "{project}/{volume}"),
];

/// Builds [`DEFAULT_RULES`] for a file whose tiers are `tier_names` (in file
/// order). A row whose tier (`fast`, `warm`, `cold`) the file lacks goes to
/// the first tier listed. Returns no rules when `tier_names` is empty.
pub fn default_rules(tier_names: &[&str]) -> Vec<PlacementRule> {
    let Some(first) = tier_names.first() else {
        return Vec::new();
    };
    DEFAULT_RULES
        .iter()
        .map(|row| {
            let tier = if tier_names.contains(&row.tier) {
                row.tier
            } else {
                first
            };
            PlacementRule {
                matcher: Match {
                    image: Globs::new(row.image).expect("built-in default globs compile"),
                    service: Globs::new::<&str>(&[]).expect("an empty glob set always compiles"),
                    target: Globs::new(row.target).expect("built-in default globs compile"),
                    volume: Globs::new(row.volume).expect("built-in default globs compile"),
                },
                tier: tier.to_string(),
                path: Template::parse(row.path).expect("built-in default templates are valid"),
                subtrees: Vec::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(patterns: &[&str]) -> Globs {
        Globs::new(patterns).unwrap()
    }

    #[test]
    fn star_crosses_slash_in_images() {
        let db = globs(&["postgres*", "*/postgres*"]);
        assert!(db.is_match("postgres:16-alpine"));
        assert!(db.is_match("ghcr.io/immich-app/postgres:14"));
        assert!(db.is_match("docker.io/library/postgres"));
        assert!(!db.is_match("tensorchord/pgvecto-rs:pg14-v0.2.0"));
        assert!(!db.is_match("ghcr.io/immich-app/immich-server:release"));
    }

    #[test]
    fn star_crosses_slash_in_targets() {
        let metadata = globs(&["/config", "*/metadata*"]);
        assert!(metadata.is_match("/config"));
        assert!(metadata.is_match("/config/Library/metadata"));
        assert!(!metadata.is_match("/config/cache"));
        assert!(!metadata.is_match("/configs"));
    }

    #[test]
    fn bad_glob_is_reported() {
        let error = Globs::new(&["[unclosed"]).unwrap_err();
        assert_eq!(error.glob, "[unclosed");
        assert!(error.to_string().starts_with("invalid glob `[unclosed`: "));
    }

    fn subject<'a>(
        image: Option<&'a str>,
        target: &'a str,
        volume: Option<&'a str>,
    ) -> Subject<'a> {
        Subject::in_immich("database", image, target, volume)
    }

    #[test]
    fn all_given_fields_must_match() {
        let matcher = Match {
            image: globs(&["postgres*"]),
            target: globs(&["/var/lib/postgresql/data"]),
            ..Match::everything()
        };
        assert!(matcher.matches(&subject(
            Some("postgres:16"),
            "/var/lib/postgresql/data/",
            Some("pgdata")
        )));
        assert!(!matcher.matches(&subject(Some("postgres:16"), "/backups", None)));
        assert!(!matcher.matches(&subject(Some("mysql:8"), "/var/lib/postgresql/data", None)));
        // A build-only service has no image: an image field cannot match it.
        assert!(!matcher.matches(&subject(None, "/var/lib/postgresql/data", None)));
        assert!(Match::everything().matches(&subject(None, "/x", None)));
    }

    #[test]
    fn volume_field_sees_bind_mount_name() {
        let matcher = Match {
            volume: globs(&["*model*cache*"]),
            ..Match::everything()
        };
        assert!(matcher.matches(&subject(None, "/cache", Some("model-cache"))));
        assert!(matcher.matches(&subject(None, "/srv/model_cache/", None)));
        assert!(!matcher.matches(&subject(None, "/cache", Some("cache"))));
    }

    #[test]
    fn defaults_compile_and_fall_back_to_first_tier() {
        let all = default_rules(&["fast", "warm", "cold"]);
        assert_eq!(all.len(), DEFAULT_RULES.len());
        assert_eq!(all[0].tier, "cold");
        assert_eq!(all.last().map(|r| r.tier.as_str()), Some("warm"));
        let only_nvme = default_rules(&["nvme", "fast"]);
        assert_eq!(only_nvme[0].tier, "nvme");
        assert!(only_nvme.iter().any(|r| r.tier == "fast"));
        assert!(
            only_nvme
                .iter()
                .all(|r| r.tier == "fast" || r.tier == "nvme")
        );
        assert!(default_rules(&[]).is_empty());
    }
}
