//! The syntax of one entry in a compose service's `volumes:` list.
//!
//! Short syntax is `[SOURCE:]TARGET[:MODE]`, split by the rules of compose-go's
//! `ParseVolume`: a `:` right after a single letter is a Windows drive letter,
//! a `:` inside `${...}` belongs to the variable, a spec of one or two bytes is
//! a target. Long syntax is a mapping checked against the compose schema's
//! keys. Everything here is pure: the input is text or `serde_norway` values,
//! already interpolated; nothing touches the filesystem or the environment.

use std::path::{Component, Path, PathBuf};

use indexmap::IndexMap;
use serde_norway::Value;

/// Modes the short syntax accepts after the target, separated by `,`.
///
/// `ro`/`rw`, SELinux relabelling (`z`, `Z`), `nocopy`, macOS consistency
/// (`consistent`, `cached`, `delegated`) and bind propagation.
pub const KNOWN_MODES: &[&str] = &[
    "ro",
    "rw",
    "z",
    "Z",
    "nocopy",
    "consistent",
    "cached",
    "delegated",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
];

/// A short-syntax volume entry split into its parts, text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortVolume {
    /// Host path or volume name; `None` for an anonymous volume (`/data`).
    pub source: Option<String>,
    /// Path inside the container.
    pub target: String,
    /// The `,`-separated modes after the target, in order (`["ro", "z"]`).
    pub modes: Vec<String>,
}

/// The kind of mount a volume entry asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    /// A host path mounted into the container.
    Bind,
    /// A named (or anonymous) volume managed by the engine.
    Volume,
    /// A memory-backed filesystem.
    Tmpfs,
    /// The content of an image.
    Image,
    /// A Windows named pipe.
    Npipe,
    /// A Swarm cluster volume.
    Cluster,
}

impl MountType {
    /// The name compose uses for this type (`bind`, `volume`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Volume => "volume",
            MountType::Tmpfs => "tmpfs",
            MountType::Image => "image",
            MountType::Npipe => "npipe",
            MountType::Cluster => "cluster",
        }
    }

    /// The type named `name`, as written in a long-syntax `type:` key.
    pub fn parse(name: &str) -> Option<MountType> {
        Some(match name {
            "bind" => MountType::Bind,
            "volume" => MountType::Volume,
            "tmpfs" => MountType::Tmpfs,
            "image" => MountType::Image,
            "npipe" => MountType::Npipe,
            "cluster" => MountType::Cluster,
            _ => return None,
        })
    }
}

/// Bind propagation (`bind.propagation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    /// `private`
    Private,
    /// `rprivate`
    Rprivate,
    /// `shared`
    Shared,
    /// `rshared`
    Rshared,
    /// `slave`
    Slave,
    /// `rslave`
    Rslave,
}

impl Propagation {
    /// The name compose and the engine use.
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Private => "private",
            Propagation::Rprivate => "rprivate",
            Propagation::Shared => "shared",
            Propagation::Rshared => "rshared",
            Propagation::Slave => "slave",
            Propagation::Rslave => "rslave",
        }
    }

    /// The propagation named `name` (a long-syntax value or a short-syntax mode).
    pub fn parse(name: &str) -> Option<Propagation> {
        Some(match name {
            "private" => Propagation::Private,
            "rprivate" => Propagation::Rprivate,
            "shared" => Propagation::Shared,
            "rshared" => Propagation::Rshared,
            "slave" => Propagation::Slave,
            "rslave" => Propagation::Rslave,
            _ => return None,
        })
    }
}

/// SELinux relabelling of a bind mount (`bind.selinux`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum SelinuxLabel {
    /// `z`: content shared between containers.
    #[serde(rename = "z")]
    Shared,
    /// `Z`: content private to this container.
    #[serde(rename = "Z")]
    Private,
}

impl SelinuxLabel {
    /// `z` or `Z`.
    pub fn as_str(self) -> &'static str {
        match self {
            SelinuxLabel::Shared => "z",
            SelinuxLabel::Private => "Z",
        }
    }
}

/// Recursive mount behaviour of a bind mount (`bind.recursive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindRecursive {
    /// `enabled`
    Enabled,
    /// `disabled`
    Disabled,
    /// `writable`
    Writable,
    /// `readonly`
    Readonly,
}

impl BindRecursive {
    /// The name compose uses.
    pub fn as_str(self) -> &'static str {
        match self {
            BindRecursive::Enabled => "enabled",
            BindRecursive::Disabled => "disabled",
            BindRecursive::Writable => "writable",
            BindRecursive::Readonly => "readonly",
        }
    }
}

/// The `bind:` block of a long-syntax entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindOptions {
    /// `propagation`
    pub propagation: Option<Propagation>,
    /// `create_host_path`; `None` when not written (compose's default applies).
    pub create_host_path: Option<bool>,
    /// `selinux`
    pub selinux: Option<SelinuxLabel>,
    /// `recursive`
    pub recursive: Option<BindRecursive>,
}

/// The `volume:` block of a long-syntax entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeOptions {
    /// `nocopy` (false when not written).
    pub nocopy: bool,
    /// `subpath`
    pub subpath: Option<String>,
    /// `labels`, from either a mapping or a list of `KEY=VALUE`.
    pub labels: IndexMap<String, String>,
}

/// The `tmpfs:` block of a long-syntax entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TmpfsOptions {
    /// `size` in bytes; strings take docker's units (`64m`, `1g`, `1.5GiB`).
    pub size: Option<u64>,
    /// `mode`; a string is read as octal (`"1777"`), a number as written.
    pub mode: Option<u32>,
}

/// The `image:` block of a long-syntax entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageOptions {
    /// `subpath`
    pub subpath: Option<String>,
}

/// A long-syntax volume entry with every field typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongVolume {
    /// `type`
    pub mount_type: MountType,
    /// `source`: host path, volume name or image; `None` when not written.
    pub source: Option<String>,
    /// `target`
    pub target: String,
    /// `read_only` (false when not written).
    pub read_only: bool,
    /// `consistency`
    pub consistency: Option<String>,
    /// `bind:` block
    pub bind: Option<BindOptions>,
    /// `volume:` block
    pub volume: Option<VolumeOptions>,
    /// `tmpfs:` block
    pub tmpfs: Option<TmpfsOptions>,
    /// `image:` block
    pub image: Option<ImageOptions>,
}

/// Why a volume entry could not be read.
///
/// Short-syntax variants name the spec text; long-syntax variants name the
/// entry by its target (or source, or type) and the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeSyntaxError {
    /// The short spec is the empty string.
    #[error("volume spec is empty")]
    EmptySpec,
    /// Nothing before the first `:`.
    #[error("volume `{spec}` has an empty source")]
    EmptySource {
        /// The spec as written.
        spec: String,
    },
    /// Nothing between the source and the next `:` or the end.
    #[error("volume `{spec}` has an empty target")]
    EmptyTarget {
        /// The spec as written.
        spec: String,
    },
    /// A trailing `:` or `,` with no mode after it.
    #[error("volume `{spec}` has an empty mode")]
    EmptyMode {
        /// The spec as written.
        spec: String,
    },
    /// More than `SOURCE:TARGET:MODE`.
    #[error("volume `{spec}` has too many `:`-separated parts")]
    TooManyParts {
        /// The spec as written.
        spec: String,
    },
    /// A mode that is not in [`KNOWN_MODES`].
    #[error("volume `{spec}` has unknown mode `{mode}`")]
    UnknownMode {
        /// The spec as written.
        spec: String,
        /// The offending mode.
        mode: String,
    },
    /// A long-syntax entry that is not a mapping.
    #[error("volume entry must be a string or a mapping, found {found}")]
    NotAMapping {
        /// What was found instead (`a sequence`, `a number`, ...).
        found: &'static str,
    },
    /// A required long-syntax key is missing.
    #[error("volume `{entry}` is missing the required key `{key}`")]
    MissingKey {
        /// The entry's target, source or type.
        entry: String,
        /// The missing key.
        key: &'static str,
    },
    /// A key the compose schema does not allow.
    #[error("volume `{entry}` has unknown key `{key}`")]
    UnknownKey {
        /// The entry's target, source or type.
        entry: String,
        /// The key, dotted for nested blocks (`bind.propagaton`).
        key: String,
    },
    /// A key whose value has the wrong type or an invalid value.
    #[error("volume `{entry}` key `{key}` must be {expected}, found `{found}`")]
    InvalidValue {
        /// The entry's target, source or type.
        entry: String,
        /// The key, dotted for nested blocks.
        key: String,
        /// What the key accepts.
        expected: &'static str,
        /// The value as found, rendered briefly.
        found: String,
    },
}

impl VolumeSyntaxError {
    /// What the user can do about this error, for a `hint:` line.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            VolumeSyntaxError::EmptySpec => "remove the empty entry or write `SOURCE:TARGET`",
            VolumeSyntaxError::EmptySource { .. } => {
                "write `SOURCE:TARGET`, or only `TARGET` for an anonymous volume"
            }
            VolumeSyntaxError::EmptyTarget { .. } => {
                "write the container path after the `:`, e.g. `./data:/data`"
            }
            VolumeSyntaxError::EmptyMode { .. } => {
                "remove the trailing `:` or `,`, or write a mode such as `ro`"
            }
            VolumeSyntaxError::TooManyParts { .. } => {
                "the short syntax is `SOURCE:TARGET:MODE`; join modes with `,` or use the long syntax for paths containing `:`"
            }
            VolumeSyntaxError::UnknownMode { .. } => {
                "valid modes are ro, rw, z, Z, nocopy, consistent, cached, delegated, shared, rshared, slave, rslave, private, rprivate"
            }
            VolumeSyntaxError::NotAMapping { .. } => {
                "write `SOURCE:TARGET` or a mapping with `type`, `source` and `target`"
            }
            VolumeSyntaxError::MissingKey { .. } => {
                "a long-syntax volume needs at least `type` and `target`"
            }
            VolumeSyntaxError::UnknownKey { .. } => {
                "check the spelling; custom keys must start with `x-`"
            }
            VolumeSyntaxError::InvalidValue { .. } => return None,
        })
    }
}

/// Split a short-syntax spec and check every mode against [`KNOWN_MODES`].
///
/// Unlike compose, which silently ignores modes it does not know, an
/// unknown mode is an error here (`./a:/a:rwz` fails on `rwz`); use
/// [`split_short_lenient`] to accept what compose accepts.
pub fn split_short(spec: &str) -> Result<ShortVolume, VolumeSyntaxError> {
    let volume = split_short_lenient(spec)?;
    if let Some(mode) = volume
        .modes
        .iter()
        .find(|mode| !KNOWN_MODES.contains(&mode.as_str()))
    {
        return Err(VolumeSyntaxError::UnknownMode {
            spec: spec.to_owned(),
            mode: mode.clone(),
        });
    }
    Ok(volume)
}

/// Split a short-syntax spec exactly as compose-go does, keeping unknown modes.
///
/// Empty sections and a fourth section are errors; a trailing `,` in the
/// modes is an error too (compose ignores it).
pub fn split_short_lenient(spec: &str) -> Result<ShortVolume, VolumeSyntaxError> {
    if spec.is_empty() {
        return Err(VolumeSyntaxError::EmptySpec);
    }
    // compose takes any spec of one or two bytes as a bare target
    if spec.len() <= 2 {
        return Ok(ShortVolume {
            source: None,
            target: spec.to_owned(),
            modes: Vec::new(),
        });
    }
    let sections = split_sections(spec);
    let owned = || spec.to_owned();
    for (index, section) in sections.iter().enumerate() {
        if section.is_empty() {
            return Err(match index {
                0 => VolumeSyntaxError::EmptySource { spec: owned() },
                1 => VolumeSyntaxError::EmptyTarget { spec: owned() },
                _ => VolumeSyntaxError::EmptyMode { spec: owned() },
            });
        }
        if index == 2 && sections.len() > 3 {
            return Err(VolumeSyntaxError::TooManyParts { spec: owned() });
        }
    }
    match sections.as_slice() {
        [target] => Ok(ShortVolume {
            source: None,
            target: (*target).to_owned(),
            modes: Vec::new(),
        }),
        [source, target] => Ok(ShortVolume {
            source: Some((*source).to_owned()),
            target: (*target).to_owned(),
            modes: Vec::new(),
        }),
        [source, target, modes] => {
            let modes = modes.split(',').map(str::to_owned).collect::<Vec<_>>();
            if modes.iter().any(String::is_empty) {
                return Err(VolumeSyntaxError::EmptyMode { spec: owned() });
            }
            Ok(ShortVolume {
                source: Some((*source).to_owned()),
                target: (*target).to_owned(),
                modes,
            })
        }
        _ => Err(VolumeSyntaxError::TooManyParts { spec: owned() }),
    }
}

/// Cut `spec` at every `:` that is neither a drive letter's nor inside `${...}`.
fn split_sections(spec: &str) -> Vec<&str> {
    let mut sections = Vec::new();
    let mut start = 0;
    let mut depth = 0usize;
    let mut chars = spec.char_indices().peekable();
    while let Some((at, ch)) = chars.next() {
        match ch {
            '$' if chars.peek().is_some_and(|&(_, next)| next == '{') => depth += 1,
            '}' if depth > 0 => depth -= 1,
            ':' if is_drive_letter(&spec[start..at]) => {}
            ':' if depth == 0 => {
                sections.push(&spec[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    sections.push(&spec[start..]);
    sections
}

/// Whether `section` is a single letter, so that a following `:` makes a drive.
fn is_drive_letter(section: &str) -> bool {
    let mut chars = section.chars();
    matches!((chars.next(), chars.next()), (Some(letter), None) if letter.is_alphabetic())
}

/// Whether a short-syntax source is a host path (bind mount) rather than a
/// volume name, by compose's rule: it starts with `.`, `/` or `~`, or it is a
/// Windows drive path (`C:\x`, `c:/x`), UNC path or named pipe (`\\...`).
pub fn is_path_source(source: &str) -> bool {
    source.starts_with(['.', '/', '~']) || is_windows_path(source)
}

/// Whether `path` is written as a Windows drive path, UNC path or named pipe.
fn is_windows_path(path: &str) -> bool {
    if path.starts_with(r"\\") {
        return true;
    }
    let mut chars = path.chars();
    matches!((chars.next(), chars.next()), (Some(letter), Some(':')) if letter.is_alphabetic())
}

/// Whether the modes make the mount read-only: the last of `ro`/`rw` wins.
pub fn read_only(modes: &[String]) -> bool {
    modes
        .iter()
        .rev()
        .find_map(|mode| match mode.as_str() {
            "ro" => Some(true),
            "rw" => Some(false),
            _ => None,
        })
        .unwrap_or(false)
}

/// The bind propagation the modes ask for: the last propagation mode wins (as in compose).
pub fn short_propagation(modes: &[String]) -> Option<Propagation> {
    modes.iter().rev().find_map(|mode| Propagation::parse(mode))
}

/// The SELinux relabelling the modes ask for: the last of `z`/`Z` wins (as in compose).
pub fn short_selinux(modes: &[String]) -> Option<SelinuxLabel> {
    modes.iter().rev().find_map(|mode| match mode.as_str() {
        "z" => Some(SelinuxLabel::Shared),
        "Z" => Some(SelinuxLabel::Private),
        _ => None,
    })
}

/// The mount type compose gives a short-syntax entry: no source is an
/// anonymous volume, a path source a bind mount, anything else a named volume.
pub fn classify_short(v: &ShortVolume) -> MountType {
    match &v.source {
        Some(source) if is_path_source(source) => MountType::Bind,
        _ => MountType::Volume,
    }
}

/// Expand a leading `~` or `~/` to `home`; `None` for anything else
/// (including `~user`, which compose does not expand).
pub fn expand_home(source: &str, home: &Path) -> Option<PathBuf> {
    if source == "~" {
        return Some(home.to_path_buf());
    }
    source
        .strip_prefix("~/")
        .map(|rest| home.join(rest.trim_start_matches('/')))
}

/// Turn a bind source into an absolute path without touching the filesystem.
///
/// `~` and `~/x` expand to `home`; a relative source is joined onto
/// `project_dir`; `.` and `..` are then removed lexically (`..` stops at the
/// root). Windows paths are returned as written.
pub fn resolve_against(source: &str, project_dir: &Path, home: &Path) -> PathBuf {
    if is_windows_path(source) {
        return PathBuf::from(source);
    }
    let joined = match expand_home(source, home) {
        Some(expanded) => expanded,
        None => project_dir.join(source),
    };
    normalize_lexically(&joined)
}

/// Remove `.` and resolve `..` against the preceding component, lexically.
fn normalize_lexically(path: &Path) -> PathBuf {
    let mut parts: Vec<Component<'_>> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => parts.push(component),
            },
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}

/// Read a long-syntax volume entry (a mapping) into a [`LongVolume`].
///
/// Booleans may be YAML booleans or, after interpolation, strings
/// (`true`/`false`, and compose's `yes`/`no`/`on`/`off`/`y`/`n`, any case).
/// Keys outside the compose schema are errors; `x-` keys are skipped.
pub fn parse_long(value: &Value) -> Result<LongVolume, VolumeSyntaxError> {
    let Value::Mapping(mapping) = value else {
        return Err(VolumeSyntaxError::NotAMapping {
            found: kind_of(value),
        });
    };
    let entry = entry_name(mapping);
    let reader = Reader {
        entry: &entry,
        prefix: "",
    };
    let mut mount_type = None;
    let mut volume = LongVolume {
        mount_type: MountType::Volume,
        source: None,
        target: String::new(),
        read_only: false,
        consistency: None,
        bind: None,
        volume: None,
        tmpfs: None,
        image: None,
    };
    let mut target = None;
    for (key, value) in entries(&reader, mapping)? {
        match key {
            "type" => {
                let name = reader.string(key, value)?;
                mount_type = Some(MountType::parse(&name).ok_or_else(|| {
                    reader.invalid(
                        key,
                        "one of bind, volume, tmpfs, image, npipe, cluster",
                        value,
                    )
                })?);
            }
            "source" => volume.source = reader.optional_string(key, value)?,
            "target" => target = reader.optional_string(key, value)?,
            "read_only" => volume.read_only = reader.optional_bool(key, value)?.unwrap_or(false),
            "consistency" => volume.consistency = reader.optional_string(key, value)?,
            "bind" => volume.bind = Some(parse_bind(&reader, value)?),
            "volume" => volume.volume = Some(parse_volume_block(&reader, value)?),
            "tmpfs" => volume.tmpfs = Some(parse_tmpfs(&reader, value)?),
            "image" => volume.image = Some(parse_image(&reader, value)?),
            other => return Err(reader.unknown(other)),
        }
    }
    volume.mount_type = mount_type.ok_or_else(|| VolumeSyntaxError::MissingKey {
        entry: entry.clone(),
        key: "type",
    })?;
    volume.target = target.ok_or_else(|| VolumeSyntaxError::MissingKey {
        entry: entry.clone(),
        key: "target",
    })?;
    Ok(volume)
}

fn parse_bind(reader: &Reader<'_>, value: &Value) -> Result<BindOptions, VolumeSyntaxError> {
    let (block, fields) = reader.nested("bind", value)?;
    let mut bind = BindOptions::default();
    for (key, value) in fields {
        match key {
            "propagation" => {
                bind.propagation = block
                    .optional_string(key, value)?
                    .map(|name| {
                        Propagation::parse(&name).ok_or_else(|| {
                            block.invalid(
                                key,
                                "one of shared, rshared, slave, rslave, private, rprivate",
                                value,
                            )
                        })
                    })
                    .transpose()?;
            }
            "create_host_path" => bind.create_host_path = block.optional_bool(key, value)?,
            "selinux" => {
                bind.selinux = block
                    .optional_string(key, value)?
                    .map(|name| match name.as_str() {
                        "z" => Ok(SelinuxLabel::Shared),
                        "Z" => Ok(SelinuxLabel::Private),
                        _ => Err(block.invalid(key, "`z` or `Z`", value)),
                    })
                    .transpose()?;
            }
            "recursive" => {
                bind.recursive = block
                    .optional_string(key, value)?
                    .map(|name| match name.as_str() {
                        "enabled" => Ok(BindRecursive::Enabled),
                        "disabled" => Ok(BindRecursive::Disabled),
                        "writable" => Ok(BindRecursive::Writable),
                        "readonly" => Ok(BindRecursive::Readonly),
                        _ => Err(block.invalid(
                            key,
                            "one of enabled, disabled, writable, readonly",
                            value,
                        )),
                    })
                    .transpose()?;
            }
            other => return Err(block.unknown(other)),
        }
    }
    Ok(bind)
}

fn parse_volume_block(
    reader: &Reader<'_>,
    value: &Value,
) -> Result<VolumeOptions, VolumeSyntaxError> {
    let (block, fields) = reader.nested("volume", value)?;
    let mut options = VolumeOptions::default();
    for (key, value) in fields {
        match key {
            "nocopy" => options.nocopy = block.optional_bool(key, value)?.unwrap_or(false),
            "subpath" => options.subpath = block.optional_string(key, value)?,
            "labels" => options.labels = block.labels(key, value)?,
            other => return Err(block.unknown(other)),
        }
    }
    Ok(options)
}

fn parse_tmpfs(reader: &Reader<'_>, value: &Value) -> Result<TmpfsOptions, VolumeSyntaxError> {
    let (block, fields) = reader.nested("tmpfs", value)?;
    let mut options = TmpfsOptions::default();
    for (key, value) in fields {
        match key {
            "size" => {
                options.size = match value {
                    Value::Null => None,
                    Value::Number(number) => Some(
                        number
                            .as_u64()
                            .ok_or_else(|| block.invalid(key, "a size in bytes", value))?,
                    ),
                    Value::String(text) => Some(
                        parse_size(text)
                            .ok_or_else(|| block.invalid(key, "a size such as `64m`", value))?,
                    ),
                    _ => return Err(block.invalid(key, "a size such as `64m`", value)),
                };
            }
            "mode" => {
                let expected = "a file mode such as `1777`";
                options.mode = match value {
                    Value::Null => None,
                    Value::Number(number) => Some(
                        number
                            .as_u64()
                            .and_then(|mode| u32::try_from(mode).ok())
                            .ok_or_else(|| block.invalid(key, expected, value))?,
                    ),
                    Value::String(text) => Some(
                        u32::from_str_radix(text.trim(), 8)
                            .map_err(|_| block.invalid(key, expected, value))?,
                    ),
                    _ => return Err(block.invalid(key, expected, value)),
                };
            }
            other => return Err(block.unknown(other)),
        }
    }
    Ok(options)
}

fn parse_image(reader: &Reader<'_>, value: &Value) -> Result<ImageOptions, VolumeSyntaxError> {
    let (block, fields) = reader.nested("image", value)?;
    let mut options = ImageOptions::default();
    for (key, value) in fields {
        match key {
            "subpath" => options.subpath = block.optional_string(key, value)?,
            other => return Err(block.unknown(other)),
        }
    }
    Ok(options)
}

/// Docker's RAM sizes: a number, an optional space, then `k`/`m`/`g`/`t`/`p`
/// with optional `i` and `b`, any case, in powers of 1024 (`1.5g`, `64MiB`).
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let number_end = text
        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_end);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    let number: f64 = number.parse().ok()?;
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let mut unit_chars = unit.as_str();
    let power = match unit_chars.chars().next() {
        Some(letter @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            unit_chars = &unit_chars[1..];
            "kmgtp".find(letter).map_or(0, |index| index + 1)
        }
        _ => 0,
    };
    let rest = unit_chars.strip_prefix('i').unwrap_or(unit_chars);
    let rest = rest.strip_prefix('b').unwrap_or(rest);
    if !rest.is_empty() {
        return None;
    }
    let bytes = number * 1024f64.powi(i32::try_from(power).ok()?);
    // the cast saturates, which is fine for a size far beyond any memory
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u64)
}

/// A name for a long-syntax entry in messages: its target, source or type.
fn entry_name(mapping: &serde_norway::Mapping) -> String {
    ["target", "source", "type"]
        .iter()
        .find_map(|key| match mapping.get(*key) {
            Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "<unnamed>".to_owned())
}

/// The string keys of a mapping with their values, in order.
type Fields<'a> = Vec<(&'a str, &'a Value)>;

/// The string keys of `mapping` with their values, minus `x-` extensions.
fn entries<'a>(
    reader: &Reader<'_>,
    mapping: &'a serde_norway::Mapping,
) -> Result<Fields<'a>, VolumeSyntaxError> {
    let mut out = Vec::with_capacity(mapping.len());
    for (key, value) in mapping {
        let Value::String(key) = key else {
            return Err(reader.unknown(&render(key)));
        };
        if !key.starts_with("x-") {
            out.push((key.as_str(), value));
        }
    }
    Ok(out)
}

/// Reads typed values out of one block, naming the entry and dotted key in errors.
struct Reader<'a> {
    entry: &'a str,
    prefix: &'static str,
}

impl Reader<'_> {
    fn key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn unknown(&self, key: &str) -> VolumeSyntaxError {
        VolumeSyntaxError::UnknownKey {
            entry: self.entry.to_owned(),
            key: self.key(key),
        }
    }

    fn invalid(&self, key: &str, expected: &'static str, value: &Value) -> VolumeSyntaxError {
        VolumeSyntaxError::InvalidValue {
            entry: self.entry.to_owned(),
            key: self.key(key),
            expected,
            found: render(value),
        }
    }

    /// A reader for the nested block `name` and its fields; the block must be
    /// a mapping (or null, which has no fields).
    fn nested<'v>(
        &self,
        name: &'static str,
        value: &'v Value,
    ) -> Result<(Reader<'_>, Fields<'v>), VolumeSyntaxError> {
        let reader = Reader {
            entry: self.entry,
            prefix: name,
        };
        let fields = match value {
            Value::Mapping(mapping) => entries(&reader, mapping)?,
            Value::Null => Vec::new(),
            _ => return Err(self.invalid(name, "a mapping", value)),
        };
        Ok((reader, fields))
    }

    fn string(&self, key: &str, value: &Value) -> Result<String, VolumeSyntaxError> {
        match value {
            Value::String(text) => Ok(text.clone()),
            _ => Err(self.invalid(key, "a string", value)),
        }
    }

    fn optional_string(
        &self,
        key: &str,
        value: &Value,
    ) -> Result<Option<String>, VolumeSyntaxError> {
        match value {
            Value::Null => Ok(None),
            other => self.string(key, other).map(Some),
        }
    }

    fn optional_bool(&self, key: &str, value: &Value) -> Result<Option<bool>, VolumeSyntaxError> {
        let expected = "a boolean (`true` or `false`)";
        match value {
            Value::Null => Ok(None),
            Value::Bool(flag) => Ok(Some(*flag)),
            Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "on" => Ok(Some(true)),
                "false" | "no" | "n" | "off" => Ok(Some(false)),
                _ => Err(self.invalid(key, expected, value)),
            },
            _ => Err(self.invalid(key, expected, value)),
        }
    }

    /// Compose's `list_or_dict`: a mapping of scalars or a list of `KEY=VALUE`.
    fn labels(
        &self,
        key: &str,
        value: &Value,
    ) -> Result<IndexMap<String, String>, VolumeSyntaxError> {
        let expected = "a mapping or a list of `KEY=VALUE`";
        let mut labels = IndexMap::new();
        match value {
            Value::Null => {}
            Value::Mapping(mapping) => {
                for (name, label) in mapping {
                    let Value::String(name) = name else {
                        return Err(self.invalid(key, expected, value));
                    };
                    let text = match label {
                        Value::Null => String::new(),
                        Value::String(text) => text.clone(),
                        Value::Bool(flag) => flag.to_string(),
                        Value::Number(number) => number.to_string(),
                        _ => return Err(self.invalid(key, expected, value)),
                    };
                    labels.insert(name.clone(), text);
                }
            }
            Value::Sequence(items) => {
                for item in items {
                    let Value::String(item) = item else {
                        return Err(self.invalid(key, expected, value));
                    };
                    let (name, text) = item.split_once('=').unwrap_or((item.as_str(), ""));
                    labels.insert(name.to_owned(), text.to_owned());
                }
            }
            _ => return Err(self.invalid(key, expected, value)),
        }
        Ok(labels)
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a sequence",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A short rendering of a value for messages.
fn render(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        other => kind_of(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `(spec, source, target, modes, type)`.
    type SplitCase = (
        &'static str,
        Option<&'static str>,
        &'static str,
        &'static [&'static str],
        MountType,
    );

    /// Specs that must split, and what into.
    #[rustfmt::skip]
    const SPLITS: &[SplitCase] = &[
        // real-world entries from the compose corpus
        (r"./certificates:/usr/local/share/ca-certificates:ro", Some("./certificates"), "/usr/local/share/ca-certificates", &["ro"], MountType::Bind),
        (r"/etc/dnsmasq.d/:/etc/dnsmasq.d/", Some("/etc/dnsmasq.d/"), "/etc/dnsmasq.d/", &[], MountType::Bind),
        (r"/var/run/docker.sock:/var/run/docker.sock:ro", Some("/var/run/docker.sock"), "/var/run/docker.sock", &["ro"], MountType::Bind),
        (r"portainer_data:/data", Some("portainer_data"), "/data", &[], MountType::Volume),
        (r"sentry-postgres:/var/lib/postgresql/data", Some("sentry-postgres"), "/var/lib/postgresql/data", &[], MountType::Volume),
        (r"~/minecraft_data:/data", Some("~/minecraft_data"), "/data", &[], MountType::Bind),
        (r"./volumes/api/kong.yml:/home/kong/temp.yml:ro,z", Some("./volumes/api/kong.yml"), "/home/kong/temp.yml", &["ro", "z"], MountType::Bind),
        (r"./volumes/db/jwt.sql:/docker-entrypoint-initdb.d/init-scripts/99-jwt.sql:Z", Some("./volumes/db/jwt.sql"), "/docker-entrypoint-initdb.d/init-scripts/99-jwt.sql", &["Z"], MountType::Bind),
        (r"./volumes/storage:/var/lib/storage:z", Some("./volumes/storage"), "/var/lib/storage", &["z"], MountType::Bind),
        (r"./:/mnt", Some("./"), "/mnt", &[], MountType::Bind),
        (r".:/code", Some("."), "/code", &[], MountType::Bind),
        (r"/code/node_modules", None, "/code/node_modules", &[], MountType::Volume),
        (r"/tmp", None, "/tmp", &[], MountType::Volume),
        (r"/var/lib/anonymous", None, "/var/lib/anonymous", &[], MountType::Volume),
        (r"/dev/dri:/dev/dri", Some("/dev/dri"), "/dev/dri", &[], MountType::Bind),
        (r"/sys/kernel/debug/:/sys/kernel/debug/:ro", Some("/sys/kernel/debug/"), "/sys/kernel/debug/", &["ro"], MountType::Bind),
        (r"/etc/localtime:/etc/localtime:ro", Some("/etc/localtime"), "/etc/localtime", &["ro"], MountType::Bind),
        (r"/path/to/plex/library:/config", Some("/path/to/plex/library"), "/config", &[], MountType::Bind),
        (r"dbdata:/var/lib/postgresql/data", Some("dbdata"), "/var/lib/postgresql/data", &[], MountType::Volume),
        (r"db_data:/var/lib/mysql", Some("db_data"), "/var/lib/mysql", &[], MountType::Volume),
        (r"model-cache:/cache", Some("model-cache"), "/cache", &[], MountType::Volume),
        (r"nextcloud_aio_nextcloud:/var/www/html:ro", Some("nextcloud_aio_nextcloud"), "/var/www/html", &["ro"], MountType::Volume),
        (r"nextcloud_aio_database:/var/lib/postgresql/data:rw", Some("nextcloud_aio_database"), "/var/lib/postgresql/data", &["rw"], MountType::Volume),
        (r"snmptraps:/var/lib/zabbix/snmptraps:ro", Some("snmptraps"), "/var/lib/zabbix/snmptraps", &["ro"], MountType::Volume),
        (r"/mnt/photos:/photos:ro,z", Some("/mnt/photos"), "/photos", &["ro", "z"], MountType::Bind),
        // uninterpolated variables: a `:` inside `${...}` does not split
        (r"${UPLOAD_LOCATION}:/data", Some("${UPLOAD_LOCATION}"), "/data", &[], MountType::Volume),
        (r"${DOCKER_SOCKET_LOCATION}:/var/run/docker.sock:ro,z", Some("${DOCKER_SOCKET_LOCATION}"), "/var/run/docker.sock", &["ro", "z"], MountType::Volume),
        (r"${NEXTCLOUD_MOUNT}:${NEXTCLOUD_MOUNT}:rw", Some("${NEXTCLOUD_MOUNT}"), "${NEXTCLOUD_MOUNT}", &["rw"], MountType::Volume),
        (r"kong_prefix_vol:${KONG_PREFIX:-/var/run/kong}", Some("kong_prefix_vol"), "${KONG_PREFIX:-/var/run/kong}", &[], MountType::Volume),
        (r"${DATA:-/a:b}:/data:ro", Some("${DATA:-/a:b}"), "/data", &["ro"], MountType::Volume),
        (r"${A:-${B:-/x:y}}:/data", Some("${A:-${B:-/x:y}}"), "/data", &[], MountType::Volume),
        // relative, home and spaces
        (r"./data:/data", Some("./data"), "/data", &[], MountType::Bind),
        (r"../x:/x", Some("../x"), "/x", &[], MountType::Bind),
        (r"~:/root", Some("~"), "/root", &[], MountType::Bind),
        (r"~/x:/x", Some("~/x"), "/x", &[], MountType::Bind),
        (r"/Volumes/My Photos:/photos", Some("/Volumes/My Photos"), "/photos", &[], MountType::Bind),
        (r"./my data/sub dir:/srv/my data:ro", Some("./my data/sub dir"), "/srv/my data", &["ro"], MountType::Bind),
        (r".hidden:/x", Some(".hidden"), "/x", &[], MountType::Bind),
        // Windows
        (r"C:\data:/data", Some(r"C:\data"), "/data", &[], MountType::Bind),
        (r"c:/data:/data:ro", Some("c:/data"), "/data", &["ro"], MountType::Bind),
        (r"\\.\pipe\docker_engine:\\.\pipe\docker_engine", Some(r"\\.\pipe\docker_engine"), r"\\.\pipe\docker_engine", &[], MountType::Bind),
        (r"\\server\share\dir:/share", Some(r"\\server\share\dir"), "/share", &[], MountType::Bind),
        (r"C:\source\foo:D:\target:ro,rprivate", Some(r"C:\source\foo"), r"D:\target", &["ro", "rprivate"], MountType::Bind),
        (r"c:\program files:d:\s p a c e", Some(r"c:\program files"), r"d:\s p a c e", &[], MountType::Bind),
        (r"c:\:d:\", Some(r"c:\"), r"d:\", &[], MountType::Bind),
        (r"C:\foo\:/foo", Some(r"C:\foo\"), "/foo", &[], MountType::Bind),
        (r"c:/:d:/forward/slashes", Some("c:/"), "d:/forward/slashes", &[], MountType::Bind),
        (r"name:D:", Some("name"), "D:", &[], MountType::Volume),
        (r"./foo:d:\target", Some("./foo"), r"d:\target", &[], MountType::Bind),
        (r"C:\path", None, r"C:\path", &[], MountType::Volume),
        (r"d:\path with space", None, r"d:\path with space", &[], MountType::Volume),
        // compose quirk: a one-letter source reads as a drive letter
        (r"a:/data", None, "a:/data", &[], MountType::Volume),
        // compose quirk: one or two bytes are always a bare target
        (r".", None, ".", &[], MountType::Volume),
        (r"/a", None, "/a", &[], MountType::Volume),
        (r"a:", None, "a:", &[], MountType::Volume),
        (r":", None, ":", &[], MountType::Volume),
        (r"/tmp/x/y:/foo/x/y", Some("/tmp/x/y"), "/foo/x/y", &[], MountType::Bind),
    ];

    fn owned(modes: &[&str]) -> Vec<String> {
        modes.iter().map(|mode| (*mode).to_owned()).collect()
    }

    #[test]
    fn splits_the_spec_table() {
        for &(spec, source, target, modes, mount_type) in SPLITS {
            let volume = split_short(spec).unwrap_or_else(|err| panic!("{spec}: {err}"));
            assert_eq!(
                volume,
                ShortVolume {
                    source: source.map(str::to_owned),
                    target: target.to_owned(),
                    modes: owned(modes),
                },
                "{spec}"
            );
            assert_eq!(classify_short(&volume), mount_type, "{spec}");
        }
    }

    #[test]
    fn accepts_every_known_mode_alone_and_after_ro() {
        for mode in KNOWN_MODES {
            for modes in [mode.to_string(), format!("ro,{mode}"), format!("{mode},rw")] {
                let spec = format!("./src:/dst:{modes}");
                let volume = split_short(&spec).unwrap_or_else(|err| panic!("{spec}: {err}"));
                assert_eq!(volume.modes.join(","), modes, "{spec}");
                assert_eq!(volume.target, "/dst");
            }
        }
    }

    #[test]
    fn accepts_realistic_mode_combinations() {
        let cases: &[(&str, &[&str], bool)] = &[
            ("ro", &["ro"], true),
            ("rw", &["rw"], false),
            ("z", &["z"], false),
            ("Z", &["Z"], false),
            ("ro,z", &["ro", "z"], true),
            ("ro,Z", &["ro", "Z"], true),
            ("rw,Z", &["rw", "Z"], false),
            ("cached", &["cached"], false),
            ("delegated", &["delegated"], false),
            ("consistent", &["consistent"], false),
            ("ro,cached", &["ro", "cached"], true),
            ("nocopy", &["nocopy"], false),
            ("ro,nocopy", &["ro", "nocopy"], true),
            ("rshared", &["rshared"], false),
            ("ro,rslave", &["ro", "rslave"], true),
            ("rw,private,z", &["rw", "private", "z"], false),
            ("ro,rw", &["ro", "rw"], false),
            ("rw,ro", &["rw", "ro"], true),
        ];
        for &(text, modes, ro) in cases {
            let spec = format!("data:/data:{text}");
            let volume = split_short(&spec).unwrap_or_else(|err| panic!("{spec}: {err}"));
            assert_eq!(volume.modes, owned(modes), "{spec}");
            assert_eq!(read_only(&volume.modes), ro, "{spec}");
        }
    }

    #[test]
    fn the_last_propagation_and_selinux_modes_win() {
        let modes = owned(&["Z", "z", "shared", "ro", "rslave"]);
        assert_eq!(short_propagation(&modes), Some(Propagation::Rslave));
        assert_eq!(short_selinux(&modes), Some(SelinuxLabel::Shared));
        assert_eq!(short_propagation(&owned(&["ro", "nocopy"])), None);
        assert_eq!(short_selinux(&owned(&["cached"])), None);
    }

    #[test]
    fn read_only_is_false_without_modes() {
        assert!(!read_only(&[]));
        assert!(!read_only(&owned(&["z", "cached"])));
    }

    fn err(spec: &str) -> VolumeSyntaxError {
        match split_short(spec) {
            Ok(volume) => panic!("{spec} split into {volume:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn rejects_bad_specs_with_a_message_naming_them() {
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("", "volume spec is empty"),
            ("./a:", "volume `./a:` has an empty target"),
            ("data:", "volume `data:` has an empty target"),
            (":/data", "volume `:/data` has an empty source"),
            ("/foo::ro", "volume `/foo::ro` has an empty target"),
            ("./a:/b:", "volume `./a:/b:` has an empty mode"),
            ("./a:/b:ro,", "volume `./a:/b:ro,` has an empty mode"),
            ("./a:/b:,ro", "volume `./a:/b:,ro` has an empty mode"),
            ("/foo:/foo:ro:foo", "volume `/foo:/foo:ro:foo` has too many `:`-separated parts"),
            ("./a:/b:ro:rw:z", "volume `./a:/b:ro:rw:z` has too many `:`-separated parts"),
            ("name:/target:bogus", "volume `name:/target:bogus` has unknown mode `bogus`"),
            ("snmptraps:/var/lib/zabbix/snmptraps:rwz", "volume `snmptraps:/var/lib/zabbix/snmptraps:rwz` has unknown mode `rwz`"),
            ("./a:/b:ro,RW", "volume `./a:/b:ro,RW` has unknown mode `RW`"),
            ("name:/target:nocopy,subpath=etc", "volume `name:/target:nocopy,subpath=etc` has unknown mode `subpath=etc`"),
            // a device path with `:` cannot be written in the short syntax
            ("/dev/usb-0:1.3:1.0-port0:/dev/usb-0:1.3:1.0-port0", "volume `/dev/usb-0:1.3:1.0-port0:/dev/usb-0:1.3:1.0-port0` has too many `:`-separated parts"),
        ];
        for &(spec, message) in cases {
            let error = err(spec);
            assert_eq!(error.to_string(), message, "{spec}");
            assert!(error.hint().is_some(), "{spec} has no hint");
        }
    }

    #[test]
    fn lenient_split_keeps_modes_compose_ignores() {
        let volume = split_short_lenient("snmptraps:/var/lib/zabbix/snmptraps:rwz")
            .expect("compose accepts unknown modes");
        assert_eq!(volume.modes, owned(&["rwz"]));
        assert!(!read_only(&volume.modes));
        assert_eq!(
            split_short_lenient("./a:"),
            Err(VolumeSyntaxError::EmptyTarget {
                spec: "./a:".to_owned()
            })
        );
    }

    #[test]
    fn path_sources_follow_compose() {
        for source in [
            ".",
            "./a",
            "../a",
            ".env",
            "/",
            "/a",
            "~",
            "~/a",
            "~user/a",
            r"C:\a",
            "c:/a",
            "Z:",
            r"\\.\pipe\x",
            r"\\host\share",
        ] {
            assert!(is_path_source(source), "{source}");
        }
        for source in [
            "",
            "data",
            "db_data",
            "a界",
            "1:x",
            "${HOME}/x",
            "a",
            "http://x",
            r"\single",
        ] {
            assert!(!is_path_source(source), "{source}");
        }
    }

    #[test]
    fn mount_type_names_round_trip() {
        for mount_type in [
            MountType::Bind,
            MountType::Volume,
            MountType::Tmpfs,
            MountType::Image,
            MountType::Npipe,
            MountType::Cluster,
        ] {
            assert_eq!(MountType::parse(mount_type.as_str()), Some(mount_type));
        }
        assert_eq!(MountType::parse("Bind"), None);
    }

    #[test]
    fn expands_home_only_for_tilde_and_tilde_slash() {
        let home = Path::new("/home/ann");
        assert_eq!(expand_home("~", home), Some(PathBuf::from("/home/ann")));
        assert_eq!(
            expand_home("~/photos", home),
            Some(PathBuf::from("/home/ann/photos"))
        );
        assert_eq!(
            expand_home("~//x", home),
            Some(PathBuf::from("/home/ann/x"))
        );
        assert_eq!(expand_home("~bob/x", home), None);
        assert_eq!(expand_home("./x", home), None);
        assert_eq!(expand_home("/x/~", home), None);
    }

    #[test]
    fn resolves_sources_lexically() {
        let project = Path::new("/srv/app");
        let home = Path::new("/home/ann");
        let cases: &[(&str, &str)] = &[
            (".", "/srv/app"),
            ("./", "/srv/app"),
            ("./data", "/srv/app/data"),
            ("data/./db/", "/srv/app/data/db"),
            ("../shared", "/srv/shared"),
            ("../../../../etc", "/etc"),
            ("./a/../b", "/srv/app/b"),
            ("~", "/home/ann"),
            ("~/media/../photos", "/home/ann/photos"),
            ("~bob/x", "/srv/app/~bob/x"),
            ("/Volumes/Photos", "/Volumes/Photos"),
            ("/Volumes/Photos/../faststore/./x/", "/Volumes/faststore/x"),
            ("/a//b", "/a/b"),
            ("./my data", "/srv/app/my data"),
            (r"C:\data\..\x", r"C:\data\..\x"),
            ("c:/data", "c:/data"),
            (r"\\.\pipe\docker_engine", r"\\.\pipe\docker_engine"),
        ];
        for &(source, expected) in cases {
            assert_eq!(
                resolve_against(source, project, home),
                PathBuf::from(expected),
                "{source}"
            );
        }
    }

    #[test]
    fn resolving_against_a_relative_project_keeps_leading_parents() {
        let home = Path::new("/home/ann");
        assert_eq!(
            resolve_against("../../x", Path::new("app"), home),
            PathBuf::from("../x")
        );
        assert_eq!(
            resolve_against("..", Path::new("app"), home),
            PathBuf::from(".")
        );
    }

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).expect("test YAML parses")
    }

    fn long(text: &str) -> LongVolume {
        parse_long(&yaml(text)).unwrap_or_else(|err| panic!("{text}: {err}"))
    }

    fn long_err(text: &str) -> String {
        match parse_long(&yaml(text)) {
            Ok(volume) => panic!("{text} parsed into {volume:?}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn parses_a_full_bind_entry() {
        let volume = long(
            r#"
type: bind
source: ./static
target: /opt/app/static
read_only: true
consistency: cached
bind:
  propagation: rshared
  create_host_path: false
  selinux: Z
  recursive: readonly
x-note: kept out
"#,
        );
        assert_eq!(
            volume,
            LongVolume {
                mount_type: MountType::Bind,
                source: Some("./static".to_owned()),
                target: "/opt/app/static".to_owned(),
                read_only: true,
                consistency: Some("cached".to_owned()),
                bind: Some(BindOptions {
                    propagation: Some(Propagation::Rshared),
                    create_host_path: Some(false),
                    selinux: Some(SelinuxLabel::Private),
                    recursive: Some(BindRecursive::Readonly),
                }),
                volume: None,
                tmpfs: None,
                image: None,
            }
        );
    }

    #[test]
    fn parses_volume_tmpfs_image_and_npipe_entries() {
        let named = long(
            r#"
type: volume
source: db-data
target: /var/lib/postgresql/data
volume:
  nocopy: "true"
  subpath: pg16
  labels: [com.example=1, bare]
"#,
        );
        assert_eq!(named.mount_type, MountType::Volume);
        assert_eq!(named.source.as_deref(), Some("db-data"));
        let options = named.volume.expect("volume block present");
        assert!(options.nocopy);
        assert_eq!(options.subpath.as_deref(), Some("pg16"));
        assert_eq!(
            options.labels.get("com.example").map(String::as_str),
            Some("1")
        );
        assert_eq!(options.labels.get("bare").map(String::as_str), Some(""));

        let tmpfs = long("{type: tmpfs, target: /run, tmpfs: {size: 64m, mode: '1777'}}");
        assert_eq!(tmpfs.mount_type, MountType::Tmpfs);
        assert_eq!(tmpfs.source, None);
        assert_eq!(
            tmpfs.tmpfs,
            Some(TmpfsOptions {
                size: Some(64 * 1024 * 1024),
                mode: Some(0o1777),
            })
        );
        let sized = long("{type: tmpfs, target: /run, tmpfs: {size: 100000, mode: 511}}");
        assert_eq!(
            sized.tmpfs,
            Some(TmpfsOptions {
                size: Some(100_000),
                mode: Some(511),
            })
        );

        let image =
            long("{type: image, source: 'alpine:3.20', target: /ro, image: {subpath: etc}}");
        assert_eq!(image.mount_type, MountType::Image);
        assert_eq!(image.image.and_then(|i| i.subpath).as_deref(), Some("etc"));

        let pipe = long(
            r#"{type: npipe, source: '\\.\pipe\docker_engine', target: '\\.\pipe\docker_engine'}"#,
        );
        assert_eq!(pipe.mount_type, MountType::Npipe);
        assert_eq!(pipe.target, r"\\.\pipe\docker_engine");

        let cluster = long("{type: cluster, source: group:db, target: /data}");
        assert_eq!(cluster.mount_type, MountType::Cluster);
        assert!(!cluster.read_only);
    }

    #[test]
    fn reads_booleans_from_yaml_and_interpolated_strings() {
        for (text, expected) in [
            ("true", true),
            ("false", false),
            ("'true'", true),
            ("'false'", false),
            ("'TRUE'", true),
            ("'yes'", true),
            ("'off'", false),
            ("~", false),
        ] {
            let volume = long(&format!(
                "{{type: bind, source: ., target: /a, read_only: {text}}}"
            ));
            assert_eq!(volume.read_only, expected, "{text}");
        }
        let volume = long("{type: bind, source: ., target: /a, bind: {create_host_path: 'true'}}");
        assert_eq!(volume.bind.and_then(|b| b.create_host_path), Some(true));
    }

    #[test]
    fn empty_blocks_read_as_defaults() {
        let volume = long("{type: volume, source: v, target: /v, volume: {}, bind: null}");
        assert_eq!(volume.volume, Some(VolumeOptions::default()));
        assert_eq!(volume.bind, Some(BindOptions::default()));
    }

    #[test]
    fn parses_tmpfs_sizes_like_docker() {
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("1024", Some(1024)),
            ("1k", Some(1024)),
            ("1K", Some(1024)),
            ("64m", Some(64 << 20)),
            ("64mb", Some(64 << 20)),
            ("64MiB", Some(64 << 20)),
            ("1 g", Some(1 << 30)),
            ("1.5g", Some(3 << 29)),
            ("2t", Some(2 << 40)),
            ("1b", Some(1)),
            ("", None),
            ("m", None),
            ("1x", None),
            ("-1m", None),
            ("1..5m", None),
            (".5m", None),
            ("1mm", None),
        ];
        for &(text, expected) in cases {
            assert_eq!(parse_size(text), expected, "{text:?}");
        }
    }

    #[test]
    fn rejects_bad_long_entries_naming_entry_and_key() {
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("{source: ./a, target: /a}", "volume `/a` is missing the required key `type`"),
            ("{type: bind, source: ./a}", "volume `./a` is missing the required key `target`"),
            ("{type: bind}", "volume `bind` is missing the required key `target`"),
            ("{type: bind, source: ./a, target: /a, readonly: true}", "volume `/a` has unknown key `readonly`"),
            ("{type: bind, source: ./a, target: /a, bind: {propagaton: shared}}", "volume `/a` has unknown key `bind.propagaton`"),
            ("{type: volume, source: v, target: /a, volume: {no_copy: true}}", "volume `/a` has unknown key `volume.no_copy`"),
            ("{type: tmpfs, target: /a, tmpfs: {sise: 1}}", "volume `/a` has unknown key `tmpfs.sise`"),
            ("{type: image, source: i, target: /a, image: {path: x}}", "volume `/a` has unknown key `image.path`"),
            ("{type: disk, target: /a}", "volume `/a` key `type` must be one of bind, volume, tmpfs, image, npipe, cluster, found `disk`"),
            ("{type: bind, source: ./a, target: /a, read_only: maybe}", "volume `/a` key `read_only` must be a boolean (`true` or `false`), found `maybe`"),
            ("{type: bind, source: ./a, target: /a, bind: {propagation: up}}", "volume `/a` key `bind.propagation` must be one of shared, rshared, slave, rslave, private, rprivate, found `up`"),
            ("{type: bind, source: ./a, target: /a, bind: {selinux: x}}", "volume `/a` key `bind.selinux` must be `z` or `Z`, found `x`"),
            ("{type: bind, source: ./a, target: /a, bind: {recursive: yes}}", "volume `/a` key `bind.recursive` must be one of enabled, disabled, writable, readonly, found `yes`"),
            ("{type: bind, source: ./a, target: /a, bind: {recursive: true}}", "volume `/a` key `bind.recursive` must be a string, found `true`"),
            ("{type: bind, source: ./a, target: /a, bind: shared}", "volume `/a` key `bind` must be a mapping, found `shared`"),
            ("{type: bind, source: 12, target: /a}", "volume `/a` key `source` must be a string, found `12`"),
            ("{type: tmpfs, target: /a, tmpfs: {size: 12q}}", "volume `/a` key `tmpfs.size` must be a size such as `64m`, found `12q`"),
            ("{type: tmpfs, target: /a, tmpfs: {size: -1}}", "volume `/a` key `tmpfs.size` must be a size in bytes, found `-1`"),
            ("{type: tmpfs, target: /a, tmpfs: {mode: '0989'}}", "volume `/a` key `tmpfs.mode` must be a file mode such as `1777`, found `0989`"),
            ("{type: volume, source: v, target: /a, volume: {labels: 3}}", "volume `/a` key `volume.labels` must be a mapping or a list of `KEY=VALUE`, found `3`"),
            ("{1: x, type: bind, target: /a}", "volume `/a` has unknown key `1`"),
            ("{type: volume}", "volume `volume` is missing the required key `target`"),
            ("{}", "volume `<unnamed>` is missing the required key `type`"),
            ("[a, b]", "volume entry must be a string or a mapping, found a sequence"),
            ("./a:/a", "volume entry must be a string or a mapping, found a string"),
        ];
        for &(text, message) in cases {
            assert_eq!(long_err(text), message, "{text}");
        }
    }

    #[test]
    fn long_errors_have_hints_where_useful() {
        let error = parse_long(&yaml("{type: bind, target: /a, bnd: {}}"))
            .expect_err("unknown key is rejected");
        assert_eq!(
            error.hint(),
            Some("check the spelling; custom keys must start with `x-`")
        );
    }

    proptest! {
        #[test]
        fn split_short_never_panics(spec in r"[a-zA-Z0-9./~\\:,${}\- _界]{0,24}") {
            let _ = split_short(&spec);
        }

        #[test]
        fn split_short_never_panics_on_any_text(spec in any::<String>()) {
            let _ = split_short(&spec);
        }

        #[test]
        fn plain_source_target_modes_round_trip(
            source in r"(\./|/|~/)?[a-z][a-z0-9_ -]{1,10}",
            target in r"/[a-z0-9_/]{1,12}",
            modes in proptest::sample::subsequence(KNOWN_MODES.to_vec(), 0..3),
        ) {
            let mut spec = format!("{source}:{target}");
            if !modes.is_empty() {
                spec.push(':');
                spec.push_str(&modes.join(","));
            }
            let volume = split_short(&spec).expect("generated spec is valid");
            prop_assert_eq!(volume.target, target);
            prop_assert_eq!(volume.modes, owned(&modes));
            prop_assert_eq!(volume.source, Some(source));
        }
    }
}
