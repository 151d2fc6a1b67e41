//! The options of a bind mount: propagation, SELinux relabelling, recursion.

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
