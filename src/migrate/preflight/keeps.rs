//! What a copy keeps, said before anything stops (issue 21 item 7): a source's extended
//! attributes (POSIX ACLs and `security.capability` among them) and the holes of its sparse
//! files. The copy on the host keeps both ([`crate::migrate::host_apply`]) where the target's
//! filesystem holds each attribute (a probe file there is given each name the source has); a
//! helper container's busybox `cp -a` keeps neither, nor does the archive stream to another
//! engine (`--to-context`). Each loss is a problem naming the volume, an
//! example path and why; refused unless `--force`. A source only a helper reads (a VM's disk,
//! another machine) is not checked: busybox cannot list extended attributes, and that is said.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::refused;
use crate::migrate::late_writes::show;
use crate::migrate::plan::MigratePlan;
use crate::migrate::tree::reach;
use crate::migrate::tree::xattrs;
use crate::migrate::{MigrateContext, MigrateError};

/// Distinct attribute names probed on a target's filesystem, at most.
const PROBED: usize = 16;

/// What a source holds that not every copy keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holds {
    /// Each extended attribute name with its first path (relative to the source), whether that
    /// is a directory, and its value there.
    pub xattrs: BTreeMap<OsString, Sample>,
    /// The first sparse file (relative to the source).
    pub sparse: Option<PathBuf>,
}

/// Where an extended attribute was first found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// The path, relative to the source.
    pub path: PathBuf,
    /// Whether it is a directory (a default ACL exists only there).
    pub dir: bool,
    /// The value.
    pub value: Vec<u8>,
}

/// Who copies a source, as far as what it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Copier {
    /// The host ([`crate::migrate::host_apply`]): keeps both, where the target holds them.
    Host,
    /// A helper container's busybox `cp -a`: keeps neither.
    Helper,
    /// The archive stream to another engine (`--to-context`): keeps neither (a full pass
    /// `security.capability` at most).
    Stream,
}

impl Copier {
    /// Why this copier loses what it loses (pure).
    fn why(self) -> &'static str {
        match self {
            Copier::Host => "",
            Copier::Helper => "the copy runs in a helper container, whose busybox `cp -a`",
            Copier::Stream => {
                "the copy to another engine goes through the engine's archive stream, which"
            }
        }
    }
}

/// The problems (each a loss) and the notes (what was not checked) of every copy of `plan`.
pub(super) fn losses(
    ctx: &MigrateContext<'_>,
    plan: &MigratePlan,
) -> Result<(Vec<String>, Vec<String>), MigrateError> {
    let (mut problems, mut notes) = (Vec::new(), Vec::new());
    // the targets are on this machine (no path of another machine is looked at here)
    let here = ctx.site().elsewhere().is_none();
    for copy in &plan.copies {
        let source = show(&copy.job.source);
        // where this machine reads the source: its engine's only
        let read = match ctx.elsewhere.is_none() {
            true => reach::host_reads(ctx.engine, &copy.job.source).map_err(|e| refused(&e))?,
            false => None,
        };
        let dir = here.then(|| nearest_existing(&copy.job.target)).flatten();
        let copier = match (&ctx.to, &dir) {
            (Some(_), _) => Copier::Stream,
            (None, Some(dir)) => {
                match reach::host_copies_into(ctx.engine, &copy.job.source, dir.clone())
                    .map_err(|e| refused(&e))?
                {
                    Some(_) => Copier::Host,
                    None => Copier::Helper,
                }
            }
            (None, None) => Copier::Helper,
        };
        let Some(read) = read else {
            notes.push(not_checked(&source));
            continue;
        };
        // not root: the engine's volume directory may be closed to this user
        let holds = match scan(&read) {
            Ok(holds) => holds,
            Err(e) => {
                notes.push(format!(
                    "{source}: extended attributes, POSIX ACLs and holes not checked: reading `{}` here failed: {e}",
                    read.display()
                ));
                continue;
            }
        };
        problems.extend(lost(&source, copier, &holds));
        if let (Copier::Host, Some(dir)) = (copier, &dir) {
            problems.extend(refused_by_target(&source, dir, &holds));
        }
    }
    Ok((problems, notes))
}

/// The note for a source only a helper reads (pure).
pub fn not_checked(source: &str) -> String {
    format!(
        "{source}: extended attributes, POSIX ACLs and holes not checked: only a helper container reads it, and its busybox cannot list extended attributes; a helper's copy keeps none of them and writes holes as zeros"
    )
}

/// What `copier` loses of what a source holds, each naming `source`, an example and why
/// (pure).
pub fn lost(source: &str, copier: Copier, holds: &Holds) -> Vec<String> {
    if copier == Copier::Host {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(first) = holds.xattrs.values().next() {
        out.push(format!(
            "{source}: extended attributes would be lost ({}; e.g. `{}`): {} keeps none",
            names(holds),
            first.path.display(),
            copier.why()
        ));
    }
    if let Some(sparse) = &holds.sparse {
        out.push(format!(
            "{source}: the holes of sparse files would be written as zeros (e.g. `{}`): {} writes them dense",
            sparse.display(),
            copier.why()
        ));
    }
    out
}

/// The attribute names of `holds`, each said (pure).
fn names(holds: &Holds) -> String {
    holds
        .xattrs
        .keys()
        .map(|n| said(&n.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An attribute name as said to the user: an ACL named as one.
fn said(name: &str) -> String {
    match name {
        "system.posix_acl_access" => format!("`{name}` (a POSIX ACL)"),
        "system.posix_acl_default" => format!("`{name}` (a default POSIX ACL)"),
        "com.docker.grpcfuse.ownership" | "user.com.docker.grpcfuse.ownership" => {
            format!("`{name}` (Docker Desktop's owners)")
        }
        _ => format!("`{name}`"),
    }
}

/// Each attribute of `holds` the filesystem of `dir` (the target's nearest existing directory)
/// refuses: set on a probe file (a probe directory for one found on a directory), then removed.
fn refused_by_target(source: &str, dir: &Path, holds: &Holds) -> Vec<String> {
    let mut out = Vec::new();
    let probe = dir.join(format!(".tierctl-xattrs-{}", std::process::id()));
    let probe_dir = dir.join(format!(".tierctl-xattrs-{}.d", std::process::id()));
    for (name, sample) in holds.xattrs.iter().take(PROBED) {
        let at = if sample.dir { &probe_dir } else { &probe };
        let made = match sample.dir {
            true => fs::create_dir(at),
            false => fs::write(at, b""),
        };
        let result = made.and_then(|()| xattr::set(at, name, &sample.value));
        let _ = match sample.dir {
            true => fs::remove_dir(at),
            false => fs::remove_file(at),
        };
        if let Err(e) = result {
            out.push(refused_text(
                source,
                dir,
                &name.to_string_lossy(),
                sample,
                &e,
            ));
        }
    }
    out
}

/// The problem of an attribute the target's filesystem refused (pure).
pub fn refused_text(
    source: &str,
    dir: &Path,
    name: &str,
    sample: &Sample,
    error: &io::Error,
) -> String {
    format!(
        "{source}: extended attribute {} would be lost (e.g. `{}`): the filesystem of `{}` refuses it: {error}",
        said(name),
        sample.path.display(),
        dir.display()
    )
}

/// What the source at `root` holds (see [`Holds`]): every entry's extended attributes
/// ([`xattrs::read`]) and whether it is a sparse file; symlinks are not followed, an entry that
/// vanished meanwhile (the services run) is left out.
pub fn scan(root: &Path) -> io::Result<Holds> {
    let mut holds = Holds::default();
    let meta = fs::symlink_metadata(root)?;
    visit(root, Path::new("."), &meta, &mut holds)?;
    Ok(holds)
}

fn visit(full: &Path, rel: &Path, meta: &fs::Metadata, holds: &mut Holds) -> io::Result<()> {
    match xattrs::read(full) {
        Ok(found) => {
            for (name, value) in found.unwrap_or_default() {
                holds.xattrs.entry(name).or_insert_with(|| Sample {
                    path: rel.to_path_buf(),
                    dir: meta.is_dir(),
                    value,
                });
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    if meta.is_file() && holds.sparse.is_none() && meta.blocks().saturating_mul(512) < meta.len() {
        holds.sparse = Some(rel.to_path_buf());
    }
    if !meta.is_dir() {
        return Ok(());
    }
    let items = match fs::read_dir(full) {
        Ok(items) => items,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for item in items {
        let item = item?;
        let meta = match item.metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let name = item.file_name();
        let rel = match rel == Path::new(".") {
            true => PathBuf::from(&name),
            false => rel.join(&name),
        };
        visit(&full.join(&name), &rel, &meta, holds)?;
    }
    Ok(())
}

/// The nearest directory at or above `path` that exists on this machine.
fn nearest_existing(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_dir()))
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holding() -> Holds {
        let mut holds = Holds::default();
        holds.xattrs.insert(
            "system.posix_acl_access".into(),
            Sample {
                path: "photos/a.jpg".into(),
                dir: false,
                value: vec![2],
            },
        );
        holds.xattrs.insert(
            "user.DOSATTRIB".into(),
            Sample {
                path: "photos".into(),
                dir: true,
                value: vec![1],
            },
        );
        holds.sparse = Some("db/disk.img".into());
        holds
    }

    #[test]
    fn issue21_a_helper_copy_names_each_loss_with_an_example() {
        let problems = lost("volume `app_data`", Copier::Helper, &holding());
        assert_eq!(
            problems,
            [
                "volume `app_data`: extended attributes would be lost (`system.posix_acl_access` (a POSIX ACL), `user.DOSATTRIB`; e.g. `photos/a.jpg`): the copy runs in a helper container, whose busybox `cp -a` keeps none",
                "volume `app_data`: the holes of sparse files would be written as zeros (e.g. `db/disk.img`): the copy runs in a helper container, whose busybox `cp -a` writes them dense",
            ]
        );
        assert!(lost("volume `app_data`", Copier::Host, &holding()).is_empty());
        assert!(
            lost("volume `app_data`", Copier::Stream, &holding())[0].ends_with(
                "the copy to another engine goes through the engine's archive stream, which keeps none"
            )
        );
        assert!(lost("volume `x`", Copier::Helper, &Holds::default()).is_empty());
    }

    #[test]
    fn issue21_the_scan_finds_xattrs_acls_and_holes_without_following_symlinks() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outside = tempfile::tempdir().expect("temp dir");
        fs::create_dir(dir.path().join("sub")).expect("dir");
        fs::write(dir.path().join("sub/f"), "x").expect("file");
        xattr::set(dir.path().join("sub/f"), "user.tag", b"1").expect("user xattr");
        fs::write(outside.path().join("o"), "o").expect("file");
        xattr::set(outside.path().join("o"), "user.outside", b"1").expect("user xattr");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).expect("symlink");
        let sparse = fs::File::create(dir.path().join("sparse")).expect("file");
        sparse.set_len(1 << 20).expect("a hole");
        let holds = scan(dir.path()).expect("scan");
        assert_eq!(
            holds.xattrs.keys().collect::<Vec<_>>(),
            [&OsString::from("user.tag")]
        );
        assert_eq!(
            holds.xattrs[&OsString::from("user.tag")].path,
            Path::new("sub/f")
        );
        assert_eq!(holds.sparse.as_deref(), Some(Path::new("sparse")));
    }

    #[test]
    fn issue21_a_target_without_xattrs_refuses_each_name() {
        let Some(ramfs) = crate::migrate::tree::xattrs::testing::Ramfs::mount() else {
            return;
        };
        let problems = refused_by_target("volume `v`", ramfs.path(), &holding());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("volume `v`: extended attribute `system.posix_acl_access` (a POSIX ACL) would be lost (e.g. `photos/a.jpg`): the filesystem of "),
            "{problems:?}"
        );
        // a filesystem that keeps them refuses nothing, and no probe is left
        let dir = tempfile::tempdir().expect("temp dir");
        let mut user_only = holding();
        user_only
            .xattrs
            .remove(&OsString::from("system.posix_acl_access"));
        assert_eq!(
            refused_by_target("volume `v`", dir.path(), &user_only),
            Vec::<String>::new()
        );
        assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}
