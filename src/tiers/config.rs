//! Parsing and validation of `tiers.yaml`.
//!
//! The text is parsed twice: serde_norway turns it into raw structs (and
//! reports syntax and shape errors with its own location), and yamlpath finds
//! the line and column of any node a validation error is about.

use std::fmt;
use std::path::{Component as PathComponent, Path, PathBuf};

use indexmap::IndexMap;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use yamlpath::{Component, Document, Route};

use super::placement::{GlobError, Globs, Match, PlacementRule, default_rules};
use super::template::{PathTemplateError, Template};
use super::{AccessPoint, LayoutEntry, Tier, Tiers, is_plain_relative};

/// The keys allowed at the top of `tiers.yaml`.
const TOP_LEVEL_KEYS: [&str; 5] = ["tiers", "placement", "access_points", "layout", "contexts"];

/// Two tier roots that overlap by their real paths (see [`TiersErrorKind::RealRootOverlap`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealOverlap {
    /// The later tier.
    pub tier: String,
    /// Its root as written.
    pub root: String,
    /// Its real path.
    pub real: String,
    /// The earlier tier.
    pub other: String,
    /// That tier's real root.
    pub other_real: String,
}

/// A tier root as this machine has it, observed by the caller's effect: its real path
/// (symlinks followed) and the identity (device, inode) of it and of each existing directory
/// above it. A bind mount (`mount --bind a m`) makes `m` the same directory as `a` under
/// another real path: only the identities show that `m/b` lies inside `a`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootOnDisk {
    /// The real path.
    pub real: PathBuf,
    /// The real path and each of its ancestors that exists, nearest first, with its identity.
    pub chain: Vec<DirIdentity>,
}

impl RootOnDisk {
    /// A root taken as written (nothing observed: `load`, another machine's roots).
    pub fn as_written(root: &Path) -> Self {
        RootOnDisk {
            real: root.to_path_buf(),
            chain: Vec::new(),
        }
    }

    /// The root's own identity, when it exists.
    fn own(&self) -> Option<&DirIdentity> {
        self.chain.first().filter(|d| d.path == self.real)
    }
}

/// A directory's identity: `st_dev` and `st_ino`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirIdentity {
    /// The directory (a real path).
    pub path: PathBuf,
    /// `st_dev`.
    pub device: u64,
    /// `st_ino`.
    pub inode: u64,
}

/// Two tier roots that overlap because two real paths are one directory (see
/// [`TiersErrorKind::SameDirectoryOverlap`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirOverlap {
    /// The later tier.
    pub tier: String,
    /// Its root as written.
    pub root: String,
    /// The earlier tier.
    pub other: String,
    /// Its root as written.
    pub other_root: String,
    /// The directory on the way to one root...
    pub alias: String,
    /// ...that is the other root (same device and inode).
    pub same_as: String,
}

/// A `tiers.yaml` that could not be loaded, with the position of the node at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {kind}", file.display())]
pub struct TiersError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub kind: TiersErrorKind,
}

impl TiersError {
    /// What the user should do about this error.
    pub fn hint(&self) -> String {
        self.kind.hint()
    }
}

/// What is wrong with a `tiers.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TiersErrorKind {
    /// The text is not YAML, or does not have the expected shape.
    #[error("invalid yaml: {message}")]
    Yaml {
        /// The parser's message, without its position.
        message: String,
    },
    /// A top-level key other than `tiers`, `placement`, `access_points`, `layout`.
    #[error("unknown top-level key `{key}`")]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// `tiers:` is missing or empty.
    #[error("no tiers defined")]
    NoTiers,
    /// A tier name that is empty or holds `:`, `/` or whitespace.
    #[error("invalid tier name `{tier}`")]
    BadTierName {
        /// The name.
        tier: String,
    },
    /// A tier root that is not an absolute path.
    #[error("root `{root}` of tier `{tier}` is not an absolute path")]
    RelativeRoot {
        /// The tier.
        tier: String,
        /// The root as written.
        root: String,
    },
    /// A tier root with a `..` component.
    #[error("root `{root}` of tier `{tier}` contains `..`")]
    RootHasParent {
        /// The tier.
        tier: String,
        /// The root as written.
        root: String,
    },
    /// Two tiers with the same root.
    #[error("tiers `{tier}` and `{other}` have the same root `{root}`")]
    SameRoot {
        /// The later tier.
        tier: String,
        /// The earlier tier.
        other: String,
        /// The shared root.
        root: String,
    },
    /// One tier root inside another.
    #[error("root `{inner_root}` of tier `{inner}` lies inside the root of tier `{outer}`")]
    NestedRoot {
        /// The tier whose root lies inside the other's.
        inner: String,
        /// That tier's root.
        inner_root: String,
        /// The tier whose root holds the other's.
        outer: String,
    },
    /// Two tier roots that overlap once symlinks are followed.
    #[error(
        "root `{}` of tier `{}` is `{}` by its real path, which overlaps the root of tier `{}` (`{}`)",
        .0.root, .0.tier, .0.real, .0.other, .0.other_real
    )]
    RealRootOverlap(Box<RealOverlap>),
    /// Two tier roots that overlap because two real paths are the same directory (a bind mount).
    #[error(
        "roots of tier `{}` (`{}`) and tier `{}` (`{}`) overlap: `{}` is the same directory as `{}` (device and inode), a bind mount",
        .0.tier, .0.root, .0.other, .0.other_root, .0.alias, .0.same_as
    )]
    SameDirectoryOverlap(Box<DirOverlap>),
    /// A rule, access point or layout entry names a tier that is not defined.
    #[error("unknown tier `{tier}` (known tiers: {})", backticked(known))]
    UnknownTier {
        /// The name used.
        tier: String,
        /// The tiers the file defines.
        known: Vec<String>,
    },
    /// A context's tier map does not name the same tiers as the main `tiers:` map (placement,
    /// access points and layout refer to tiers by name).
    #[error(
        "the tiers of context `{context}` differ from `tiers:`: missing {}, extra {}",
        names_or_none(missing),
        names_or_none(extra)
    )]
    ContextTiersDiffer {
        /// The docker context.
        context: String,
        /// Tiers of the main map the context lacks.
        missing: Vec<String>,
        /// Tiers the context has that the main map lacks.
        extra: Vec<String>,
    },
    /// A context entry without a `tiers:` map.
    #[error("context `{context}` has no `tiers:` map")]
    ContextWithoutTiers {
        /// The docker context.
        context: String,
    },
    /// A bad path template in a placement rule.
    #[error(transparent)]
    Template(#[from] PathTemplateError),
    /// A glob in a `match:` that does not compile.
    #[error(transparent)]
    Glob(#[from] GlobError),
    /// An access point that is not an absolute path.
    #[error("access point `{path}` is not an absolute path")]
    RelativeAccessPoint {
        /// The path as written.
        path: String,
    },
    /// A `tier:sub` value whose sub-path is absolute or has `..`.
    #[error("tier directory `{value}` must be `tier:relative/path` without `..`")]
    BadTierDir {
        /// The value as written.
        value: String,
    },
    /// An owner that is not `uid:gid`.
    #[error("invalid owner `{owner}`")]
    BadOwner {
        /// The owner as written.
        owner: String,
    },
    /// A mode that is not an octal number up to `7777`.
    #[error("invalid mode `{mode}`")]
    BadMode {
        /// The mode as written.
        mode: String,
    },
}

impl TiersErrorKind {
    /// What the user should do about this error.
    pub fn hint(&self) -> String {
        match self {
            Self::Yaml { .. } => "fix the YAML at this position; see the `tiers.yaml` example in the documentation".to_string(),
            Self::UnknownKey { .. } => format!(
                "remove the key or rename it; allowed top-level keys are {}",
                backticked(&TOP_LEVEL_KEYS)
            ),
            Self::NoTiers => {
                "define at least one tier, e.g. `tiers: { fast: { root: /Volumes/faststore } }`".to_string()
            }
            Self::BadTierName { .. } => {
                "use a short name without `:`, `/` or spaces, e.g. `fast`".to_string()
            }
            Self::RelativeRoot { .. } | Self::RootHasParent { .. } => {
                "write the root as an absolute path without `..`, e.g. `/Volumes/faststore`".to_string()
            }
            Self::SameRoot { .. } | Self::NestedRoot { .. } => {
                "give each tier its own directory; no root may lie inside another".to_string()
            }
            Self::SameDirectoryOverlap(_) => {
                "give each tier its own directory, on its own filesystem or outside the other's bind mounts; no root may lie inside another".to_string()
            }
            Self::RealRootOverlap(_) => {
                "give each tier its own directory, written as its real path (no symlink in it); no root may lie inside another".to_string()
            }
            Self::UnknownTier { tier, known } => format!(
                "use one of {} or define `{tier}` under `tiers:`",
                backticked(known)
            ),
            Self::ContextTiersDiffer { context, .. } => format!(
                "give context `{context}` a root for every tier of `tiers:` and no other tier, e.g. `contexts: {{ {context}: {{ tiers: {{ fast: {{ root: /mnt/fast }} }} }} }}`"
            ),
            Self::ContextWithoutTiers { context } => format!(
                "add the tier roots on that host, e.g. `contexts: {{ {context}: {{ tiers: {{ fast: {{ root: /mnt/fast }} }} }} }}`, or remove the entry"
            ),
            Self::Template(error) => error.hint(),
            Self::Glob(_) => {
                "fix the pattern: `*` matches any text (including `/`), `?` one character, `[abc]` a set".to_string()
            }
            Self::RelativeAccessPoint { .. } => {
                "write the access point as an absolute path, e.g. `/Volumes/Photos`".to_string()
            }
            Self::BadTierDir { .. } => {
                "write a tier name, a colon and a path below its root, e.g. `fast:photos`".to_string()
            }
            Self::BadOwner { .. } => {
                "write the owner as numeric `uid:gid` in quotes (`\"999:999\"`) or as names (`postgres`, `immich:media`)".to_string()
            }
            Self::BadMode { .. } => {
                "write the mode as an octal string in quotes, e.g. `\"0755\"`".to_string()
            }
        }
    }
}

/// `a`, `b` -> "`a`, `b`"; none -> "none".
fn names_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        backticked(names)
    }
}

/// `a`, `b` -> "`a`, `b`".
fn backticked<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|name| format!("`{}`", name.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    tiers: Option<UniqueMap<RawTier>>,
    #[serde(default)]
    placement: Option<Vec<RawRule>>,
    #[serde(default)]
    access_points: Option<UniqueMap<String>>,
    #[serde(default)]
    layout: Option<Vec<RawLayout>>,
    #[serde(default)]
    contexts: Option<UniqueMap<RawContext>>,
}

/// `contexts: { nas: { tiers: { fast: { root: ... } } } }`: the tier map on another host.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContext {
    #[serde(default)]
    tiers: Option<UniqueMap<RawTier>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    root: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    mount: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default, rename = "match")]
    matcher: Option<RawMatch>,
    tier: String,
    path: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    #[serde(default)]
    image: OneOrMany,
    #[serde(default)]
    service: OneOrMany,
    #[serde(default)]
    target: OneOrMany,
    #[serde(default)]
    volume: OneOrMany,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayout {
    path: String,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    mode: Option<String>,
}

/// A match field: one glob (`image: "postgres*"`) or a list of globs.
#[derive(Debug, Default)]
struct OneOrMany {
    globs: Vec<String>,
    /// Written as a single string, not a list (changes the node's route).
    single: bool,
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor;

        impl<'de> Visitor<'de> for OneOrManyVisitor {
            type Value = OneOrMany;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a glob or a list of globs")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany {
                    globs: vec![value.to_string()],
                    single: true,
                })
            }

            fn visit_unit<E: de::Error>(self) -> Result<OneOrMany, E> {
                Ok(OneOrMany::default())
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut globs = Vec::new();
                while let Some(glob) = seq.next_element::<String>()? {
                    globs.push(glob);
                }
                Ok(OneOrMany {
                    globs,
                    single: false,
                })
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

/// A mapping that rejects a repeated key (serde would keep the last silently).
#[derive(Debug)]
struct UniqueMap<V>(IndexMap<String, V>);

impl<V> Default for UniqueMap<V> {
    fn default() -> Self {
        Self(IndexMap::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UniqueMapVisitor<V>(std::marker::PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for UniqueMapVisitor<V> {
            type Value = UniqueMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }

            fn visit_unit<E: de::Error>(self) -> Result<UniqueMap<V>, E> {
                Ok(UniqueMap::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueMap<V>, A::Error> {
                let mut entries = IndexMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if entries.contains_key(&key) {
                        return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
                    }
                    let value = map.next_value()?;
                    entries.insert(key, value);
                }
                Ok(UniqueMap(entries))
            }
        }

        deserializer.deserialize_map(UniqueMapVisitor(std::marker::PhantomData))
    }
}

/// Where validation errors point: the file, its text and its syntax tree.
struct Source<'a> {
    file: &'a Path,
    text: &'a str,
    doc: Option<Document>,
}

impl Source<'_> {
    /// A path as written in tiers.yaml: a relative one resolves against the directory of the
    /// tiers.yaml (lexically), so a tier tree can live beside its tiers.yaml (the demo).
    fn beside(&self, written: &str) -> PathBuf {
        let path = Path::new(written);
        match self.file.parent() {
            Some(dir) if path.is_relative() && dir.is_absolute() => {
                crate::compose::path::absolute(dir, path)
            }
            _ => path.to_path_buf(),
        }
    }

    /// An error located at the node `route` (the key and value of a mapping entry).
    fn error_at(&self, route: &[Component], kind: TiersErrorKind) -> TiersError {
        let (line, column) = locate(self.doc.as_ref(), self.text, route);
        self.error(line, column, kind)
    }

    /// An error located at the value of the node `route`.
    fn error_at_value(&self, route: &[Component], kind: TiersErrorKind) -> TiersError {
        let (line, column) = locate_value(self.doc.as_ref(), self.text, route);
        self.error(line, column, kind)
    }

    fn error(&self, line: usize, column: usize, kind: TiersErrorKind) -> TiersError {
        TiersError {
            file: self.file.to_path_buf(),
            line,
            column,
            kind,
        }
    }
}

/// The 1-based line and column of the node at `route` (for a mapping entry:
/// where its key starts). When the route cannot be followed (for instance a
/// key inherited through `<<:`), the nearest ancestor that can is used, and
/// `(1, 1)` when none can.
fn locate(doc: Option<&Document>, text: &str, route: &[Component]) -> (usize, usize) {
    let Some(doc) = doc else {
        return (1, 1);
    };
    (0..=route.len())
        .rev()
        .find_map(|len| {
            let route = Route::from(route[..len].to_vec());
            doc.query_pretty(&route).ok().map(|feature| {
                let (row, byte_column) = feature.location.point_span.0;
                point(text, row, byte_column)
            })
        })
        .unwrap_or((1, 1))
}

/// Like [`locate`], but the position of the value of a mapping entry.
fn locate_value(doc: Option<&Document>, text: &str, route: &[Component]) -> (usize, usize) {
    let exact = doc.and_then(|doc| {
        let feature = doc.query_exact(&Route::from(route.to_vec())).ok()??;
        let (row, byte_column) = feature.location.point_span.0;
        Some(point(text, row, byte_column))
    });
    exact.unwrap_or_else(|| locate(doc, text, route))
}

/// 0-based row and byte column -> 1-based line and character column.
fn point(text: &str, row: usize, byte_column: usize) -> (usize, usize) {
    let line = text.split('\n').nth(row).unwrap_or_default();
    let column = line
        .get(..byte_column)
        .map_or(byte_column, |prefix| prefix.chars().count());
    (row + 1, column + 1)
}

/// Builds a route from keys and indices.
fn route<'a>(components: impl IntoIterator<Item = Component<'a>>) -> Vec<Component<'a>> {
    components.into_iter().collect()
}

fn key(name: &str) -> Component<'_> {
    Component::from(name)
}

/// Loads and validates `tiers.yaml`: `path` is used in messages only, `text`
/// is the file's content. Returns the first error found, located at the
/// offending node.
pub fn load(path: &Path, text: &str) -> Result<Tiers, TiersError> {
    load_resolved(path, text, &RootOnDisk::as_written)
}

/// [`load`], with `real` giving each tier root as this machine has it (the caller's effect) so
/// that roots overlapping through a symlink or a bind mount are refused too.
pub fn load_resolved(
    path: &Path,
    text: &str,
    real: &dyn Fn(&Path) -> RootOnDisk,
) -> Result<Tiers, TiersError> {
    let yaml_error = |error: serde_norway::Error| yaml_error(path, error);
    let top: Option<IndexMap<String, IgnoredAny>> =
        serde_norway::from_str(text).map_err(yaml_error)?;
    let source = Source {
        file: path,
        text,
        doc: Document::new(text).ok(),
    };
    let top = top.unwrap_or_default();
    if let Some(unknown) = top.keys().find(|k| !TOP_LEVEL_KEYS.contains(&k.as_str())) {
        return Err(source.error_at(
            &route([key(unknown)]),
            TiersErrorKind::UnknownKey {
                key: unknown.clone(),
            },
        ));
    }
    let raw: Option<RawFile> = serde_norway::from_str(text).map_err(yaml_error)?;
    let raw = raw.unwrap_or(RawFile {
        tiers: None,
        placement: None,
        access_points: None,
        layout: None,
        contexts: None,
    });

    let tiers = validate_tiers(&source, &[], raw.tiers.unwrap_or_default().0, real)?;
    let contexts = validate_contexts(&source, &tiers, raw.contexts.unwrap_or_default().0)?;
    let known: Vec<String> = tiers.keys().cloned().collect();
    let raw_rules = raw.placement.unwrap_or_default();
    let placement_is_default = raw_rules.is_empty();
    let placement = if placement_is_default {
        let names: Vec<&str> = known.iter().map(String::as_str).collect();
        default_rules(&names)
    } else {
        raw_rules
            .iter()
            .enumerate()
            .map(|(index, rule)| validate_rule(&source, &known, index, rule))
            .collect::<Result<_, _>>()?
    };
    let access_points = raw
        .access_points
        .unwrap_or_default()
        .0
        .iter()
        .map(|(point, value)| validate_access_point(&source, &known, point, value))
        .collect::<Result<_, _>>()?;
    let layout = raw
        .layout
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(index, entry)| validate_layout(&source, &known, index, entry))
        .collect::<Result<_, _>>()?;

    Ok(Tiers {
        file: path.to_path_buf(),
        tiers,
        placement,
        placement_is_default,
        access_points,
        layout,
        contexts,
    })
}

/// Each context's tier map, validated like `tiers:` (its roots are the other host's paths, so
/// they are compared as written, never resolved here), naming the same tiers.
fn validate_contexts(
    source: &Source,
    main: &IndexMap<String, Tier>,
    raw: IndexMap<String, RawContext>,
) -> Result<IndexMap<String, IndexMap<String, Tier>>, TiersError> {
    let as_written = RootOnDisk::as_written;
    let mut contexts = IndexMap::new();
    for (name, context) in raw {
        let base = [key("contexts"), key(&name)];
        let Some(raw_tiers) = context.tiers else {
            return Err(source.error_at(
                &base,
                TiersErrorKind::ContextWithoutTiers {
                    context: name.clone(),
                },
            ));
        };
        let tiers = validate_tiers(source, &base, raw_tiers.0, &as_written)?;
        let missing: Vec<String> = main
            .keys()
            .filter(|k| !tiers.contains_key(*k))
            .cloned()
            .collect();
        let extra: Vec<String> = tiers
            .keys()
            .filter(|k| !main.contains_key(*k))
            .cloned()
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            let at = route(base.iter().cloned().chain([key("tiers")]));
            return Err(source.error_at(
                &at,
                TiersErrorKind::ContextTiersDiffer {
                    context: name.clone(),
                    missing,
                    extra,
                },
            ));
        }
        contexts.insert(name, tiers);
    }
    Ok(contexts)
}

/// A serde_norway error at its own position; the message drops that position
/// (it is shown in front) but keeps any other ("while parsing ... at line 2").
fn yaml_error(file: &Path, error: serde_norway::Error) -> TiersError {
    let (line, column) = error
        .location()
        .map_or((1, 1), |location| (location.line(), location.column()));
    let own_position = format!(" at line {line} column {column}");
    let message = error.to_string().replacen(&own_position, "", 1);
    TiersError {
        file: file.to_path_buf(),
        line,
        column,
        kind: TiersErrorKind::Yaml { message },
    }
}

fn validate_tiers(
    source: &Source,
    base: &[Component],
    raw: IndexMap<String, RawTier>,
    real: &dyn Fn(&Path) -> RootOnDisk,
) -> Result<IndexMap<String, Tier>, TiersError> {
    if raw.is_empty() {
        let at = route(base.iter().cloned().chain([key("tiers")]));
        return Err(source.error_at(&at, TiersErrorKind::NoTiers));
    }
    let mut tiers: IndexMap<String, Tier> = IndexMap::new();
    let mut real_roots: IndexMap<String, RootOnDisk> = IndexMap::new();
    for (name, tier) in raw {
        let here = route(base.iter().cloned().chain([key("tiers"), key(&name)]));
        if name.is_empty() || name.contains([':', '/']) || name.contains(char::is_whitespace) {
            return Err(source.error_at(&here, TiersErrorKind::BadTierName { tier: name.clone() }));
        }
        let root_route = route(
            base.iter()
                .cloned()
                .chain([key("tiers"), key(&name), key("root")]),
        );
        let root = source.beside(&tier.root);
        if !root.is_absolute() {
            return Err(source.error_at_value(
                &root_route,
                TiersErrorKind::RelativeRoot {
                    tier: name.clone(),
                    root: tier.root.clone(),
                },
            ));
        }
        if Path::new(&tier.root)
            .components()
            .any(|c| c == PathComponent::ParentDir)
        {
            return Err(source.error_at_value(
                &root_route,
                TiersErrorKind::RootHasParent {
                    tier: name.clone(),
                    root: tier.root.clone(),
                },
            ));
        }
        if let Some(kind) = overlap(&tiers, &name, &root) {
            return Err(source.error_at_value(&root_route, kind));
        }
        let real_root = real(&root);
        if let Some(kind) = real_overlap(&real_roots, &name, &root, &real_root.real) {
            return Err(source.error_at_value(&root_route, kind));
        }
        if let Some(kind) = same_directory_overlap(&tiers, &real_roots, &name, &root, &real_root) {
            return Err(source.error_at_value(&root_route, kind));
        }
        real_roots.insert(name.clone(), real_root);
        tiers.insert(
            name.clone(),
            Tier {
                name,
                root,
                kind: tier.kind,
                mount: tier.mount,
            },
        );
    }
    Ok(tiers)
}

/// The overlap of `root` (tier `name`) with an earlier tier's root, if any;
/// compared component by component.
fn overlap(earlier: &IndexMap<String, Tier>, name: &str, root: &Path) -> Option<TiersErrorKind> {
    earlier.values().find_map(|other| {
        let shown = |path: &Path| path.display().to_string();
        if root == other.root {
            Some(TiersErrorKind::SameRoot {
                tier: name.to_string(),
                other: other.name.clone(),
                root: shown(root),
            })
        } else if root.starts_with(&other.root) {
            Some(TiersErrorKind::NestedRoot {
                inner: name.to_string(),
                inner_root: shown(root),
                outer: other.name.clone(),
            })
        } else if other.root.starts_with(root) {
            Some(TiersErrorKind::NestedRoot {
                inner: other.name.clone(),
                inner_root: shown(&other.root),
                outer: name.to_string(),
            })
        } else {
            None
        }
    })
}

/// The overlap of `root`'s real path with an earlier tier's real root, if any (roots that
/// overlap as written are [`overlap`]'s).
fn real_overlap(
    earlier_real: &IndexMap<String, RootOnDisk>,
    name: &str,
    root: &Path,
    real_root: &Path,
) -> Option<TiersErrorKind> {
    earlier_real
        .iter()
        .map(|(other, on_disk)| (other, &on_disk.real))
        .find(|(_, other)| real_root.starts_with(other) || other.starts_with(real_root))
        .map(|(other, other_real)| {
            TiersErrorKind::RealRootOverlap(Box::new(RealOverlap {
                tier: name.to_string(),
                root: root.display().to_string(),
                real: real_root.display().to_string(),
                other: other.clone(),
                other_real: other_real.display().to_string(),
            }))
        })
}

/// The overlap of `root` (tier `name`, as this machine has it: `on_disk`) with an earlier
/// tier's root by identity: one root, or a directory above it, is the other root (a bind mount
/// shows the same directory under two real paths).
fn same_directory_overlap(
    earlier: &IndexMap<String, Tier>,
    earlier_on_disk: &IndexMap<String, RootOnDisk>,
    name: &str,
    root: &Path,
    on_disk: &RootOnDisk,
) -> Option<TiersErrorKind> {
    let same = |a: &DirIdentity, b: &DirIdentity| a.device == b.device && a.inode == b.inode;
    let inside = |inner: &RootOnDisk, outer: &RootOnDisk| {
        let outer_own = outer.own()?;
        inner
            .chain
            .iter()
            .find(|d| same(d, outer_own))
            .map(|alias| (alias.path.clone(), outer_own.path.clone()))
    };
    earlier_on_disk.iter().find_map(|(other, other_on_disk)| {
        let (alias, same_as) =
            inside(on_disk, other_on_disk).or_else(|| inside(other_on_disk, on_disk))?;
        Some(TiersErrorKind::SameDirectoryOverlap(Box::new(DirOverlap {
            tier: name.to_string(),
            root: root.display().to_string(),
            other: other.clone(),
            other_root: earlier
                .get(other)
                .map_or_else(|| other_on_disk.real.clone(), |t| t.root.clone())
                .display()
                .to_string(),
            alias: alias.display().to_string(),
            same_as: same_as.display().to_string(),
        })))
    })
}

fn check_tier(
    source: &Source,
    known: &[String],
    tier: &str,
    at: &[Component],
) -> Result<(), TiersError> {
    if known.iter().any(|k| k == tier) {
        Ok(())
    } else {
        Err(source.error_at_value(
            at,
            TiersErrorKind::UnknownTier {
                tier: tier.to_string(),
                known: known.to_vec(),
            },
        ))
    }
}

fn validate_rule(
    source: &Source,
    known: &[String],
    index: usize,
    raw: &RawRule,
) -> Result<PlacementRule, TiersError> {
    let at = |field: &'static str| route([key("placement"), Component::from(index), key(field)]);
    let matcher = match &raw.matcher {
        None => Match::everything(),
        Some(raw_match) => Match {
            image: globs(source, index, "image", &raw_match.image)?,
            service: globs(source, index, "service", &raw_match.service)?,
            target: globs(source, index, "target", &raw_match.target)?,
            volume: globs(source, index, "volume", &raw_match.volume)?,
        },
    };
    check_tier(source, known, &raw.tier, &at("tier"))?;
    let path = Template::parse(&raw.path)
        .map_err(|error| source.error_at_value(&at("path"), error.into()))?;
    Ok(PlacementRule {
        matcher,
        tier: raw.tier.clone(),
        path,
    })
}

/// Compiles one match field, locating a bad glob at its own list item.
fn globs(
    source: &Source,
    index: usize,
    field: &'static str,
    raw: &OneOrMany,
) -> Result<Globs, TiersError> {
    Globs::new(&raw.globs).map_err(|error| {
        let mut at = route([
            key("placement"),
            Component::from(index),
            key("match"),
            key(field),
        ]);
        let position = raw.globs.iter().position(|glob| *glob == error.glob);
        if let (false, Some(position)) = (raw.single, position) {
            at.push(Component::from(position));
        }
        source.error_at_value(&at, error.into())
    })
}

/// `fast:photos` -> (`fast`, `photos`); `fast` and `fast:` -> (`fast`, ``).
fn split_tier_dir(value: &str) -> (&str, &str) {
    value.split_once(':').unwrap_or((value, ""))
}

fn validate_tier_dir(
    source: &Source,
    known: &[String],
    value: &str,
    at: &[Component],
) -> Result<(String, PathBuf), TiersError> {
    let (tier, sub) = split_tier_dir(value);
    check_tier(source, known, tier, at)?;
    let sub = PathBuf::from(sub);
    if !is_plain_relative(&sub) {
        return Err(source.error_at_value(
            at,
            TiersErrorKind::BadTierDir {
                value: value.to_string(),
            },
        ));
    }
    Ok((tier.to_string(), sub))
}

fn validate_access_point(
    source: &Source,
    known: &[String],
    point: &str,
    value: &str,
) -> Result<AccessPoint, TiersError> {
    let at = route([key("access_points"), key(point)]);
    let path = source.beside(point);
    if !path.is_absolute() {
        return Err(source.error_at(
            &at,
            TiersErrorKind::RelativeAccessPoint {
                path: point.to_string(),
            },
        ));
    }
    let (tier, sub) = validate_tier_dir(source, known, value, &at)?;
    Ok(AccessPoint { path, tier, sub })
}

fn validate_layout(
    source: &Source,
    known: &[String],
    index: usize,
    raw: &RawLayout,
) -> Result<LayoutEntry, TiersError> {
    let at = |field: &'static str| route([key("layout"), Component::from(index), key(field)]);
    let (tier, sub) = validate_tier_dir(source, known, &raw.path, &at("path"))?;
    let owner_name = raw
        .owner
        .as_deref()
        .filter(|owner| parse_owner(owner).is_none() && is_owner_name(owner))
        .map(str::to_string);
    let owner = raw
        .owner
        .as_deref()
        .filter(|_| owner_name.is_none())
        .map(|owner| {
            parse_owner(owner).ok_or_else(|| {
                source.error_at_value(
                    &at("owner"),
                    TiersErrorKind::BadOwner {
                        owner: owner.to_string(),
                    },
                )
            })
        })
        .transpose()?;
    let mode = raw
        .mode
        .as_deref()
        .map(|mode| {
            parse_mode(mode).ok_or_else(|| {
                source.error_at_value(
                    &at("mode"),
                    TiersErrorKind::BadMode {
                        mode: mode.to_string(),
                    },
                )
            })
        })
        .transpose()?;
    Ok(LayoutEntry {
        tier,
        sub,
        owner,
        owner_name,
        mode,
    })
}

/// `"999:999"` -> `(999, 999)`.
fn parse_owner(owner: &str) -> Option<(u32, u32)> {
    let (uid, gid) = owner.split_once(':')?;
    let number = |text: &str| {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<u32>().ok())
            .flatten()
    };
    Some((number(uid)?, number(gid)?))
}

/// `"postgres"` or `"immich:media"`: a user name, optionally with a group name.
fn is_owner_name(owner: &str) -> bool {
    let name = |text: &str| {
        text.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && text.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.')
            })
    };
    match owner.split_once(':') {
        Some((user, group)) => name(user) && name(group),
        None => name(owner),
    }
}

/// `"0755"`, `"755"` or `"0o755"` -> `0o755`; at most `0o7777`.
fn parse_mode(mode: &str) -> Option<u32> {
    let digits = mode.strip_prefix("0o").unwrap_or(mode);
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
}

#[cfg(test)]
mod tests {
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
        let text =
            "tiers:\n  fast: { root: /x/faststore }\n  warm: { root: /x/fastlink/databases }\n";
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
                "root `/Volumes/a/b` of tier `warm` lies inside the root of tier `fast`"
                    .to_string()
            )
        );
        let outside = "tiers:\n  fast: { root: /Volumes/a/b }\n  warm: { root: /Volumes/a }\n";
        assert_eq!(
            at(outside),
            (
                3,
                17,
                "root `/Volumes/a/b` of tier `fast` lies inside the root of tier `warm`"
                    .to_string()
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
                "tier directory `fast:../photos` must be `tier:relative/path` without `..`"
                    .to_string()
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
        let text =
            format!("{TIERS}layout:\n  - {{ path: \"fast:\", owner: 999:999, mode: 0750 }}\n");
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
}
