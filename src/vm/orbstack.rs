//! OrbStack: shares the whole Mac filesystem at the same paths, writable; there is no file
//! to read. A container's `chown` on a bind mount does not stick: the file keeps the owner the
//! Mac shows (orbstack#1587, open; Docker Desktop keeps it in an xattr instead).

use super::{HostConfig, Share, VmEngine, VmError, VmShares};

/// What OrbStack does with a container's `chown` on a bind mount (orbstack#1587).
pub const CHOWN_NOTE: &str = "OrbStack does not keep a container's `chown` on a bind mount: the file keeps the owner the Mac shows (orbstack#1587); data whose owner matters (a database's) belongs in a named volume";

/// OrbStack's shares: `/` at `/`, writable, mount type `orbstack`.
pub fn read(_host: HostConfig<'_>, _instance: Option<&str>) -> Result<VmShares, VmError> {
    Ok(VmShares {
        engine: VmEngine::OrbStack,
        instance: None,
        shares: vec![Share::same_path("/", true, Some("orbstack"))],
        source_files: Vec::new(),
        notes: vec![
            "OrbStack shares every host path at the same path".into(),
            CHOWN_NOTE.into(),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::EnvVars;
    use crate::vm::share_for;
    use crate::vm::testfiles::{HOME, MemFiles};
    use std::path::Path;

    #[test]
    fn everything_is_shared_at_the_same_path() {
        let got = read(
            HostConfig::new(&MemFiles::new(), &EnvVars::new(), Path::new(HOME)),
            None,
        )
        .expect("infallible");
        let share = share_for(&got.shares, Path::new("/Volumes/faststore/db")).expect("covered");
        assert!(share.writable);
        assert_eq!(
            share.vm_path(Path::new("/Volumes/faststore/db")),
            Some("/Volumes/faststore/db".into())
        );
        // issue 22 item 4: the chown loss is said
        assert!(got.notes.iter().any(|n| n.contains("orbstack#1587")));
    }
}
