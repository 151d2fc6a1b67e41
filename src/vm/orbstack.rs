//! OrbStack: shares the whole Mac filesystem at the same paths, writable; there is no file
//! to read.

use std::path::Path;

use super::{ConfigFiles, EnvVars, Share, VmEngine, VmError, VmShares};

/// OrbStack's shares: `/` at `/`, writable, mount type `orbstack`.
pub fn read(
    _files: &dyn ConfigFiles,
    _env: &EnvVars,
    _home: &Path,
    _instance: Option<&str>,
) -> Result<VmShares, VmError> {
    Ok(VmShares {
        engine: VmEngine::OrbStack,
        instance: None,
        shares: vec![Share::same_path("/", true, Some("orbstack"))],
        source_files: Vec::new(),
        notes: vec!["OrbStack shares every host path at the same path".into()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::share_for;
    use crate::vm::testfiles::MemFiles;

    #[test]
    fn everything_is_shared_at_the_same_path() {
        let got = read(
            &MemFiles::new(),
            &EnvVars::new(),
            Path::new("/Users/alice"),
            None,
        )
        .expect("infallible");
        let share = share_for(&got.shares, Path::new("/Volumes/faststore/db")).expect("covered");
        assert!(share.writable);
        assert_eq!(
            share.vm_path(Path::new("/Volumes/faststore/db")),
            Some("/Volumes/faststore/db".into())
        );
    }
}
