//! The short syntax `[SOURCE:]TARGET[:MODE]`: split, modes, the mount type it means.

use super::{MountType, Propagation, SelinuxLabel, VolumeSyntaxError};

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
pub(super) fn is_windows_path(path: &str) -> bool {
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
