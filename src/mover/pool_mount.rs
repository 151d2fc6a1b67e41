//! `tierctl tiers pool mount|unmount|status`: a pool's mergerfs mount on this (Linux) host.
//! Mounting is idempotent (a pool mounted with its own branches is left as it is); what is
//! missing (Linux, `/dev/fuse`, the `mergerfs` binary) is said with what to do.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use thiserror::Error;

pub use crate::move_plan::PoolState;
use crate::tiers::pool::Pool;

/// Why a pool could not be mounted or unmounted.
#[derive(Debug, Error)]
pub enum PoolMountError {
    /// Not a Linux host (a Mac's engine runs in a VM: the pool belongs inside it).
    #[error("pool `{pool}`: mergerfs pools are mounted on a Linux host; this is {os}")]
    NotLinux {
        /// The pool.
        pool: String,
        /// This OS.
        os: &'static str,
    },
    /// `/dev/fuse` is missing.
    #[error("pool `{pool}`: `/dev/fuse` is missing")]
    NoFuse {
        /// The pool.
        pool: String,
    },
    /// `mergerfs` is not installed.
    #[error("pool `{pool}`: `mergerfs` is not installed")]
    NoMergerfs {
        /// The pool.
        pool: String,
    },
    /// Something else is mounted at the pool's mount point.
    #[error("pool `{pool}`: `{}` already holds a `{fs_type}` mount ({detail})", mount.display())]
    Occupied {
        /// The pool.
        pool: String,
        /// The mount point.
        mount: PathBuf,
        /// Its type.
        fs_type: String,
        /// What differs.
        detail: String,
    },
    /// A branch directory or the mount point could not be made or read.
    #[error("pool `{pool}`: `{}`: {source}", path.display())]
    Io {
        /// The pool.
        pool: String,
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// mergerfs or the unmount failed.
    #[error("pool `{pool}`: `{command}` failed: {stderr}")]
    Command {
        /// The pool.
        pool: String,
        /// The command.
        command: String,
        /// What it said.
        stderr: String,
    },
}

impl PoolMountError {
    /// What to do.
    pub fn hint(&self) -> String {
        match self {
            PoolMountError::NotLinux { .. } => "on a Mac, run mergerfs inside the engine's Linux VM (e.g. `colima ssh`) over directories the VM shares, or bind each tier directory on its own; tierctl mounts pools only on a native Linux host".into(),
            PoolMountError::NoFuse { .. } => "load the fuse module (`modprobe fuse`); in a container, pass `--device /dev/fuse --cap-add SYS_ADMIN`".into(),
            PoolMountError::NoMergerfs { .. } => "install it: `apt-get install mergerfs` (Debian, Ubuntu) or a release from github.com/trapexit/mergerfs".into(),
            PoolMountError::Occupied { .. } => "unmount it first (`tierctl tiers pool unmount`, or `umount` for another filesystem), or give the pool another `mount:`".into(),
            PoolMountError::Io { .. } => "create the directory or fix its permissions; the mount needs root".into(),
            PoolMountError::Command { .. } => "run as root; a busy pool unmounts once its users (containers) stop".into(),
        }
    }
}

/// The pool's state, from the mount table and mergerfs' control file.
pub fn status(pool: &Pool) -> io::Result<PoolState> {
    let table = fs::read("/proc/self/mountinfo")?;
    let Some(fs_type) = mount_type(&table, &pool.mount) else {
        return Ok(PoolState::NotMounted);
    };
    if fs_type != "fuse.mergerfs" {
        return Ok(PoolState::Occupied { fs_type });
    }
    let branches = xattr::get(pool.mount.join(".mergerfs"), "user.mergerfs.srcmounts")
        .ok()
        .flatten()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default();
    let wanted = pool.branch_list();
    if branches.is_empty() || same_branches(&branches, &wanted) {
        Ok(PoolState::Mounted)
    } else {
        Ok(PoolState::MountedOtherwise { branches })
    }
}

/// mergerfs lists branches with their mode (`/a=RW:/b=RW`).
fn same_branches(listed: &str, wanted: &str) -> bool {
    let plain: Vec<&str> = listed
        .split(':')
        .map(|b| b.split_once('=').map_or(b, |(p, _)| p))
        .collect();
    plain == wanted.split(':').collect::<Vec<_>>()
}

/// The type of the last mount at `point` in a mount table (`None`: no mount there).
fn mount_type(table: &[u8], point: &Path) -> Option<String> {
    let text = String::from_utf8_lossy(table);
    let escaped = point
        .to_string_lossy()
        .replace('\\', "\\134")
        .replace(' ', "\\040");
    text.lines().rev().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let dash = fields.iter().position(|f| *f == "-")?;
        (fields.get(4) == Some(&escaped.as_str()))
            .then(|| fields.get(dash + 1).map(|s| s.to_string()))
            .flatten()
    })
}

/// Mounts `pool` (idempotent): the branch directories and the mount point made when missing.
pub fn mount(pool: &Pool) -> Result<PoolState, PoolMountError> {
    preflight(pool)?;
    let io = |path: &Path, source| PoolMountError::Io {
        pool: pool.name.clone(),
        path: path.to_path_buf(),
        source,
    };
    match status(pool).map_err(|e| io(&pool.mount, e))? {
        PoolState::Mounted => return Ok(PoolState::Mounted),
        PoolState::MountedOtherwise { branches } => {
            return Err(occupied(
                pool,
                "fuse.mergerfs",
                format!("branches {branches}"),
            ));
        }
        PoolState::Occupied { fs_type } => {
            return Err(occupied(pool, &fs_type, "not a mergerfs pool".into()));
        }
        PoolState::NotMounted | PoolState::Failed { .. } => {}
    }
    for branch in &pool.branches {
        fs::create_dir_all(&branch.path).map_err(|e| io(&branch.path, e))?;
    }
    fs::create_dir_all(&pool.mount).map_err(|e| io(&pool.mount, e))?;
    let mut command = Command::new("mergerfs");
    command
        .arg("-o")
        .arg(pool.mount_options())
        .arg(pool.branch_list())
        .arg(&pool.mount);
    run(pool, command)?;
    status(pool).map_err(|e| io(&pool.mount, e))
}

/// Unmounts `pool` (idempotent); refuses a mount point that holds no mergerfs pool.
pub fn unmount(pool: &Pool) -> Result<PoolState, PoolMountError> {
    let state = status(pool).map_err(|source| PoolMountError::Io {
        pool: pool.name.clone(),
        path: pool.mount.clone(),
        source,
    })?;
    match state {
        PoolState::NotMounted | PoolState::Failed { .. } => Ok(PoolState::NotMounted),
        PoolState::Occupied { fs_type } => {
            Err(occupied(pool, &fs_type, "not a mergerfs pool".into()))
        }
        PoolState::Mounted | PoolState::MountedOtherwise { .. } => {
            let mut command = Command::new("umount");
            command.arg(&pool.mount);
            run(pool, command)?;
            Ok(PoolState::NotMounted)
        }
    }
}

fn occupied(pool: &Pool, fs_type: &str, detail: String) -> PoolMountError {
    PoolMountError::Occupied {
        pool: pool.name.clone(),
        mount: pool.mount.clone(),
        fs_type: fs_type.to_owned(),
        detail,
    }
}

fn preflight(pool: &Pool) -> Result<(), PoolMountError> {
    if !cfg!(target_os = "linux") {
        return Err(PoolMountError::NotLinux {
            pool: pool.name.clone(),
            os: std::env::consts::OS,
        });
    }
    if !Path::new("/dev/fuse").exists() {
        return Err(PoolMountError::NoFuse {
            pool: pool.name.clone(),
        });
    }
    if which::which("mergerfs").is_err() {
        return Err(PoolMountError::NoMergerfs {
            pool: pool.name.clone(),
        });
    }
    Ok(())
}

fn run(pool: &Pool, mut command: Command) -> Result<(), PoolMountError> {
    let shown = format!("{command:?}");
    let output = command.output().map_err(|e| PoolMountError::Command {
        pool: pool.name.clone(),
        command: shown.clone(),
        stderr: e.to_string(),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(PoolMountError::Command {
            pool: pool.name.clone(),
            command: shown,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_table_names_the_last_mount_at_a_point() {
        let table = b"36 35 98:0 / /mnt/media rw - ext4 /dev/sda rw\n37 36 0:50 / /mnt/media rw - fuse.mergerfs tierctl-media rw\n";
        assert_eq!(
            mount_type(table, Path::new("/mnt/media")).as_deref(),
            Some("fuse.mergerfs")
        );
        assert_eq!(mount_type(table, Path::new("/mnt")), None);
        assert!(same_branches("/f/m=RW:/c/m=RW", "/f/m:/c/m"));
        assert!(!same_branches("/c/m=RW:/f/m=RW", "/f/m:/c/m"));
    }
}
