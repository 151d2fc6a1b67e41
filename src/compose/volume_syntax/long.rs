//! The long syntax: a mapping checked against the compose schema's keys.

use indexmap::IndexMap;
use serde_norway::Value;

use super::{BindOptions, BindRecursive, MountType, Propagation, SelinuxLabel, VolumeSyntaxError};

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
pub(super) fn parse_size(text: &str) -> Option<u64> {
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
