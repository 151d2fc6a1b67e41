//! The extended attributes of a host path, POSIX ACLs among them (`system.posix_acl_access`,
//! `system.posix_acl_default`), never following a symlink (the `xattr` crate's `l*` calls): read
//! whole ([`read`]) for a copy on the host, as an entry's digests ([`digests`]) for a
//! manifest, and set on a copy ([`write`]). Every namespace this process may read is read:
//! `user.*` (Docker Desktop's `com.docker.grpcfuse.ownership` is `user.`-namespaced, Samba's
//! `user.DOSATTRIB`), `trusted.*` as root, `security.*` (`security.capability`), `system.*`.
//! `security.selinux` is left out: it is the host's labelling policy's, set by the policy (and
//! by Docker's `:z`) where a file lies, not part of the data.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

use super::manifest::xattr_digest;
use super::name;

/// Extended attributes: each name with its value, in name order.
pub type Xattrs = Vec<(OsString, Vec<u8>)>;

/// The one attribute left out (see the module's text).
const LEFT_OUT: &[u8] = b"security.selinux";

/// A name no file has, asked for to tell "none here" from "none held by this filesystem".
const PROBE: &str = "user.tierctl.probe";

/// Whether `error` says the filesystem (or this namespace on it) holds no extended attributes.
pub fn unsupported(error: &io::Error) -> bool {
    error.raw_os_error() == Some(Errno::EOPNOTSUPP as i32)
        || error.raw_os_error() == Some(Errno::ENOSYS as i32)
}

/// Every extended attribute of `path` (the path itself when it is a symlink) this process may
/// read; `None` when its filesystem holds none (some list none rather than say so, as ramfs:
/// an empty list is asked once more, for a `user.` name, which such a filesystem refuses). An
/// attribute removed between the list and the read is left out.
pub fn read(path: &Path) -> io::Result<Option<Xattrs>> {
    let names = match xattr::list(path) {
        Ok(names) => names,
        Err(e) if unsupported(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut names = names.peekable();
    if names.peek().is_none() {
        return match xattr::get(path, PROBE) {
            Err(e) if unsupported(&e) => Ok(None),
            _ => Ok(Some(Vec::new())),
        };
    }
    let mut out = Vec::new();
    for name in names {
        if name.as_bytes() == LEFT_OUT {
            continue;
        }
        match xattr::get(path, &name) {
            Ok(Some(value)) => out.push((name, value)),
            Ok(None) => {}
            Err(e) if unsupported(&e) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(Some(out))
}

/// What a manifest entry keeps of `xattrs`: each name ([`name::encode`]d) with the digest of
/// its value.
pub fn digests(xattrs: &Xattrs) -> BTreeMap<String, String> {
    xattrs
        .iter()
        .map(|(name, value)| (name::encode(name.as_bytes()), xattr_digest(value)))
        .collect()
}

/// An entry's digests as [`read`] finds them at `path` (`None`: no extended attributes there).
pub fn digests_of(path: &Path) -> io::Result<Option<BTreeMap<String, String>>> {
    Ok(read(path)?.map(|x| digests(&x)))
}

/// Make `xattrs` the extended attributes of `path` (the path itself when it is a symlink): each
/// set, and one the source does not have removed (a directory the delta kept from an earlier
/// pass may hold one the source lost since). An attribute the target's filesystem does not
/// hold ([`unsupported`]) is skipped: preflight named that loss and went on only with
/// `--force` ([`super::super::preflight`]); the verify names it again unless the copy's
/// filesystem holds no extended attributes at all. `Err` names the attribute.
pub fn write(path: &Path, xattrs: &Xattrs) -> io::Result<()> {
    let had = match xattr::list(path) {
        Ok(names) => names.collect(),
        Err(e) if unsupported(&e) => Vec::new(),
        Err(e) => return Err(e),
    };
    for name in had {
        if name.as_bytes() == LEFT_OUT || xattrs.iter().any(|(n, _)| *n == name) {
            continue;
        }
        match xattr::remove(path, &name) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(Errno::ENODATA as i32) => {}
            Err(e) => return Err(named(&name, e)),
        }
    }
    for (name, value) in xattrs {
        match xattr::set(path, name, value) {
            Ok(()) => {}
            Err(e) if unsupported(&e) => {}
            Err(e) => return Err(named(name, e)),
        }
    }
    Ok(())
}

/// `error` with the attribute's name in front.
pub fn named(name: &OsStr, error: io::Error) -> io::Error {
    io::Error::new(
        error.kind(),
        format!(
            "xattr `{}`: {error}",
            name::shown(&name::encode(name.as_bytes()))
        ),
    )
}

/// Test support: a filesystem without extended attributes.
#[cfg(test)]
pub mod testing {
    use std::path::Path;

    /// A ramfs (no extended attributes at all) mounted on a temp dir, unmounted when dropped.
    pub struct Ramfs(tempfile::TempDir);

    impl Ramfs {
        /// `None` (said on stderr) where this process may not mount.
        pub fn mount() -> Option<Ramfs> {
            let dir = tempfile::tempdir().expect("temp dir");
            let mounted = nix::unistd::geteuid().is_root()
                && std::process::Command::new("mount")
                    .args(["-t", "ramfs", "tierctl-noxattr"])
                    .arg(dir.path())
                    .status()
                    .is_ok_and(|s| s.success());
            if !mounted {
                eprintln!("SKIPPED: a ramfs needs root and `mount`");
                return None;
            }
            Some(Ramfs(dir))
        }

        pub fn path(&self) -> &Path {
            self.0.path()
        }
    }

    impl Drop for Ramfs {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg(self.0.path())
                .status();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_write_and_digest_round_trip() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "x").expect("file");
        std::fs::write(&b, "x").expect("file");
        xattr::set(&a, "user.one", b"1").expect("tmp holds user xattrs");
        xattr::set(&a, "user.two", b"").expect("an empty value");
        let read_a = read(&a).expect("read").expect("supported");
        assert_eq!(
            read_a,
            vec![
                (OsString::from("user.one"), b"1".to_vec()),
                (OsString::from("user.two"), Vec::new())
            ]
        );
        xattr::set(&b, "user.stale", b"gone from the source").expect("xattr");
        write(&b, &read_a).expect("write");
        assert_eq!(digests_of(&b).expect("read"), Some(digests(&read_a)));
        assert_eq!(digests(&read_a)["user.one"], xattr_digest(b"1"));
    }
}
