//! Why a volume entry could not be read.

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
