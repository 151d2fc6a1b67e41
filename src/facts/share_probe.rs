//! What a VM share keeps, measured from inside a helper container on the engine
//! (`tierctl vm --probe`): one [`ShareProbe`] per share of the VM.
//!
//! Each capability is `Some(true)` (kept), `Some(false)` (measured: not kept) or `None` (not
//! measured: the helper image has no tool for it, or the step before it failed); the notes say
//! why a value is `None` and what was seen when it is surprising.

use std::path::PathBuf;

use serde::Serialize;

/// One share, probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareProbe {
    /// The host directory of the share.
    pub host: PathBuf,
    /// Where the VM (and so the engine) sees it.
    pub vm: PathBuf,
    /// What was measured, or why nothing was.
    pub outcome: ShareOutcome,
}

/// The result of probing one share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareOutcome {
    /// The helper ran: what the share keeps.
    Measured(ShareKeeps),
    /// Not probed (a read-only share, a host directory missing or not writable).
    Skipped {
        /// Why.
        reason: String,
    },
    /// The helper could not run there (the engine refused the mount, the helper failed).
    Failed {
        /// The engine's or the helper's message.
        message: String,
    },
}

/// What one share keeps, as a container sees it. `vm --format json` writes it as it is, inline
/// in each `share_probes` object: its field names and order are that contract's.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ShareKeeps {
    /// The filesystem type the container sees (`9p`, `virtiofs`, `fuse.sshfs`, ...).
    pub fs_type: Option<String>,
    /// A `chown` in the container sticks: the file then reads as the new owner.
    pub chown: Option<bool>,
    /// A `chmod` in the container sticks.
    pub mode: Option<bool>,
    /// A symlink made in the container reads back as a symlink with its target.
    pub symlinks: Option<bool>,
    /// A hardlink made in the container gives two names of one file (link count 2).
    pub hardlinks: Option<bool>,
    /// `fsync` on a file of the share succeeds.
    pub fsync: Option<bool>,
    /// A POSIX (`fcntl`) write lock held on the host blocks one taken in the container: what
    /// SQLite and Postgres rely on when two sides open one database.
    pub posix_locks_with_host: Option<bool>,
    /// A write through a `MAP_SHARED` mapping of a file of the share in one container is seen
    /// through another container's mapping of it, both in place (SQLite's `-shm`, Postgres'
    /// shared memory); `false` too when the share refuses a shared writable mapping.
    pub mmap_coherence: Option<bool>,
    /// The same between the host (the share's host directory) and a container: what a
    /// database opened from both sides at once would need (added after `mmap_coherence`).
    pub mmap_coherence_with_host: Option<bool>,
    /// A file the host writes into the share raises an inotify event in the container.
    pub host_inotify: Option<bool>,
    /// Two names differing only in case are two files.
    pub case_sensitive: Option<bool>,
    /// Why a value is `None`, and what was seen when it is surprising.
    pub notes: Vec<String>,
}
