//! The kind of mount a volume entry asks for.

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
