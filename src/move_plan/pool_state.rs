//! `tierctl tiers pool mount|unmount|status`: each pool and how it is mounted on this host.

use std::path::PathBuf;

/// A pool's mount on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolState {
    /// Mounted by mergerfs with the pool's branches.
    Mounted,
    /// Mounted by mergerfs with other branches (mergerfs' list, `/a=RW:/b=RW`).
    MountedOtherwise {
        /// The branches mergerfs has.
        branches: String,
    },
    /// Something else is mounted there.
    Occupied {
        /// Its filesystem type.
        fs_type: String,
    },
    /// Not mounted.
    NotMounted,
    /// The command failed for this pool.
    Failed {
        /// The error.
        error: String,
        /// What to do.
        hint: String,
    },
}

impl PoolState {
    /// `mounted`, `mounted-otherwise`, `occupied`, `not-mounted`, `failed`.
    pub fn id(&self) -> &'static str {
        match self {
            PoolState::Mounted => "mounted",
            PoolState::MountedOtherwise { .. } => "mounted-otherwise",
            PoolState::Occupied { .. } => "occupied",
            PoolState::NotMounted => "not-mounted",
            PoolState::Failed { .. } => "failed",
        }
    }
}

/// One pool's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRow {
    /// The pool.
    pub pool: String,
    /// Its mount point.
    pub mount: PathBuf,
    /// Its branches, hottest first, as `tier=/dir`.
    pub branches: Vec<(String, PathBuf)>,
    /// Its create policy.
    pub create: String,
    /// Its state after the command.
    pub state: PoolState,
}

/// The report of `tiers pool`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolReport {
    /// `mount`, `unmount` or `status`.
    pub action: &'static str,
    /// Each pool.
    pub rows: Vec<PoolRow>,
}

impl PoolReport {
    /// 0 each pool as asked (mounted after `mount`, not mounted after `unmount`; status: all
    /// mounted), 1 otherwise, 2 a pool failed.
    pub fn exit_code(&self) -> u8 {
        let wanted = match self.action {
            "unmount" => PoolState::NotMounted,
            _ => PoolState::Mounted,
        };
        if self
            .rows
            .iter()
            .any(|r| matches!(r.state, PoolState::Failed { .. }))
        {
            2
        } else if self.rows.iter().all(|r| r.state == wanted) {
            0
        } else {
            1
        }
    }
}
