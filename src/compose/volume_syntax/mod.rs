//! The syntax of one entry in a compose service's `volumes:` list.
//!
//! Short syntax is `[SOURCE:]TARGET[:MODE]`, split by the rules of compose-go's
//! `ParseVolume`: a `:` right after a single letter is a Windows drive letter,
//! a `:` inside `${...}` belongs to the variable, a spec of one or two bytes is
//! a target. Long syntax is a mapping checked against the compose schema's
//! keys. Everything here is pure: the input is text or `serde_norway` values,
//! already interpolated; nothing touches the filesystem or the environment.

mod bind;
mod error;
mod host_path;
mod long;
mod mount_type;
mod short;

pub use bind::{BindOptions, BindRecursive, Propagation, SelinuxLabel};
pub use error::VolumeSyntaxError;
pub use host_path::{expand_home, resolve_against};
pub use long::{ImageOptions, LongVolume, TmpfsOptions, VolumeOptions, parse_long};
pub use mount_type::MountType;
pub use short::{
    KNOWN_MODES, ShortVolume, classify_short, is_path_source, read_only, short_propagation,
    short_selinux, split_short, split_short_lenient,
};

#[cfg(test)]
mod tests;
