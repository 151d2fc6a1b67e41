//! The fake engine's archive endpoint, both ways, over host directories: the tar stream of a path
//! inside a (never started) helper, named as dockerd names it, and the extraction of a tar stream
//! into a helper's mount, keeping what dockerd keeps. `migrate --to-context` streams one fake's
//! archive into the other's through these ([`super::engine::FakeEngine`]'s `read_archives` and
//! `ArchiveWriter`).
//!
//! What dockerd does, and so the fake (checked against the engine here, API 1.41):
//! * the archive of `/from/.` names its entries `./`, `./a`, `./a/b`; of `/to` they are `to/`,
//!   `to/a`; of a file, its base name; entries in lexical order, a directory before its
//!   children;
//! * headers carry numeric owners, the permission bits, the mtime in whole seconds, symlink
//!   targets as written, a hardlink as a link to the first path of its inode, FIFOs and devices;
//! * the extraction creates missing parents, replaces an existing non-directory, gives each
//!   entry its owner (also a symlink's), mode and mtime (directories' once their children are
//!   in), and leaves the extraction directory's own attributes (its `./` entry).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use tar::{Builder, EntryType, Header};

/// How the archive of a path names its entries: `./` (the path ended in `/.`: its content) or
/// its base name.
fn prefix_of(container_path: &str) -> String {
    if container_path.ends_with("/.") || container_path == "." {
        return ".".into();
    }
    Path::new(container_path)
        .file_name()
        .map_or_else(|| ".".into(), |n| n.to_string_lossy().into_owned())
}

/// Write the archive of `host` (the host path of `container_path` in a helper) into `out`.
pub fn write(host: &Path, container_path: &str, out: impl Write) -> io::Result<()> {
    let mut builder = Builder::new(out);
    builder.follow_symlinks(false);
    let mut links = BTreeMap::new();
    let prefix = prefix_of(container_path);
    append(&mut builder, host, prefix.as_bytes(), &mut links)?;
    builder.into_inner()?.flush()
}

/// Append `path` as `name`, and below it its children in lexical order.
fn append<W: Write>(
    builder: &mut Builder<W>,
    path: &Path,
    name: &[u8],
    links: &mut BTreeMap<(u64, u64), Vec<u8>>,
) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    let ft = meta.file_type();
    let mut header = Header::new_gnu();
    header.set_mode(meta.mode() & 0o7777);
    header.set_uid(u64::from(meta.uid()));
    header.set_gid(u64::from(meta.gid()));
    header.set_mtime(u64::try_from(meta.mtime()).unwrap_or_default());
    header.set_size(0);
    let shown = Path::new(OsStr::from_bytes(name));
    if ft.is_dir() {
        header.set_entry_type(EntryType::Directory);
        let mut dir_name = name.to_vec();
        dir_name.push(b'/');
        builder.append_data(
            &mut header,
            Path::new(OsStr::from_bytes(&dir_name)),
            io::empty(),
        )?;
        let mut children: Vec<_> = fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        children.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for child in children {
            let mut child_name = name.to_vec();
            child_name.push(b'/');
            child_name.extend_from_slice(child.as_bytes());
            append(builder, &path.join(&child), &child_name, links)?;
        }
        return Ok(());
    }
    if meta.nlink() > 1 {
        let inode = (meta.dev(), meta.ino());
        if let Some(first) = links.get(&inode) {
            header.set_entry_type(EntryType::Link);
            let first = first.clone();
            return link(builder, &mut header, shown, &first);
        }
        links.insert(inode, name.to_vec());
    }
    if ft.is_symlink() {
        header.set_entry_type(EntryType::Symlink);
        let target = fs::read_link(path)?;
        return link(builder, &mut header, shown, target.as_os_str().as_bytes());
    }
    if ft.is_file() {
        header.set_entry_type(EntryType::Regular);
        header.set_size(meta.len());
        return builder.append_data(&mut header, shown, fs::File::open(path)?);
    }
    let kind = if ft.is_fifo() {
        EntryType::Fifo
    } else if ft.is_char_device() {
        EntryType::Char
    } else if ft.is_block_device() {
        EntryType::Block
    } else {
        // a socket: dockerd leaves it out too
        return Ok(());
    };
    header.set_entry_type(kind);
    if kind != EntryType::Fifo {
        let rdev = meta.rdev();
        header.set_device_major(nix::sys::stat::major(rdev) as u32)?;
        header.set_device_minor(nix::sys::stat::minor(rdev) as u32)?;
    }
    builder.append_data(&mut header, shown, io::empty())
}

/// A link entry whose target is kept as written (the tar crate's own setter normalises a
/// path; a long target goes through its GNU extension).
fn link<W: Write>(
    builder: &mut Builder<W>,
    header: &mut Header,
    name: &Path,
    target: &[u8],
) -> io::Result<()> {
    if target.len() < 100 {
        header.set_link_name_literal(target)?;
        return builder.append_data(header, name, io::empty());
    }
    builder.append_link(header, name, Path::new(OsStr::from_bytes(target)))
}

/// A directory's attributes, set once everything below it is in.
struct DirAttributes {
    path: PathBuf,
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: i64,
}

/// Extract the tar stream `tar` into the directory `into` (see the module's text); the stream
/// is read to its end.
pub fn extract(tar: &mut dyn Read, into: &Path) -> io::Result<()> {
    let mut archive = tar::Archive::new(&mut *tar);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive.set_unpack_xattrs(false);
    let mut dirs = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let Some(relative) = inside(&entry.path_bytes())? else {
            // `./`: the extraction directory keeps its own attributes
            continue;
        };
        let dst = into.join(&relative);
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent)?;
        }
        let header = entry.header().clone();
        let kind = header.entry_type();
        let existing = fs::symlink_metadata(&dst).ok();
        if kind.is_dir() {
            if existing.as_ref().is_some_and(|m| !m.is_dir()) {
                fs::remove_file(&dst)?;
            }
            fs::create_dir_all(&dst)?;
            dirs.push(DirAttributes {
                path: dst,
                uid: u32::try_from(header.uid()?).unwrap_or(u32::MAX),
                gid: u32::try_from(header.gid()?).unwrap_or(u32::MAX),
                mode: header.mode()? & 0o7777,
                mtime: i64::try_from(header.mtime()?).unwrap_or_default(),
            });
            continue;
        }
        if let Some(meta) = &existing {
            match meta.is_dir() {
                true => fs::remove_dir(&dst)?,
                false => fs::remove_file(&dst)?,
            }
        }
        match kind {
            EntryType::Link => {
                let to = entry.link_name_bytes().ok_or_else(|| {
                    io::Error::other(format!("hardlink `{}` without a target", dst.display()))
                })?;
                let to = inside(&to)?.ok_or_else(|| {
                    io::Error::other(format!("hardlink `{}` to the root", dst.display()))
                })?;
                fs::hard_link(into.join(to), &dst)?;
            }
            EntryType::Fifo | EntryType::Char | EntryType::Block => special(&dst, &header)?,
            _ => {
                entry.unpack(&dst)?;
            }
        }
    }
    // deepest first, so a parent's mtime is set after its children's
    dirs.sort_by(|a, b| b.path.cmp(&a.path));
    for d in dirs {
        attributes(&d.path, d.uid, d.gid, d.mode, d.mtime)?;
    }
    // dockerd reads the request body to its end
    io::copy(tar, &mut io::sink())?;
    Ok(())
}

/// A FIFO or device node with the header's owner, mode and mtime.
fn special(dst: &Path, header: &Header) -> io::Result<()> {
    use nix::sys::stat::{Mode, SFlag, makedev, mknod};
    let mode = header.mode()? & 0o7777;
    let (kind, dev) = match header.entry_type() {
        EntryType::Fifo => (SFlag::S_IFIFO, 0),
        EntryType::Char => (
            SFlag::S_IFCHR,
            makedev(
                u64::from(header.device_major()?.unwrap_or(0)),
                u64::from(header.device_minor()?.unwrap_or(0)),
            ),
        ),
        _ => (
            SFlag::S_IFBLK,
            makedev(
                u64::from(header.device_major()?.unwrap_or(0)),
                u64::from(header.device_minor()?.unwrap_or(0)),
            ),
        ),
    };
    mknod(dst, kind, Mode::from_bits_truncate(mode), dev).map_err(io::Error::from)?;
    let uid = u32::try_from(header.uid()?).unwrap_or(u32::MAX);
    let gid = u32::try_from(header.gid()?).unwrap_or(u32::MAX);
    let mtime = i64::try_from(header.mtime()?).unwrap_or_default();
    attributes(dst, uid, gid, mode, mtime)
}

/// Owner first (a chown clears set-id bits), then mode, then mtime.
fn attributes(path: &Path, uid: u32, gid: u32, mode: u32, mtime: i64) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    // through the path, never opened: opening a FIFO without a peer blocks
    let at = nix::sys::time::TimeSpec::new(mtime, 0);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &at,
        &at,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
}

/// An entry's name as a path below the extraction directory (`None`: the directory itself);
/// a name that climbs out is refused, as dockerd refuses it.
fn inside(name: &[u8]) -> io::Result<Option<PathBuf>> {
    let mut out = PathBuf::new();
    for component in Path::new(OsStr::from_bytes(name)).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(io::Error::other(format!(
                    "`{}` climbs out of the extraction directory",
                    String::from_utf8_lossy(name)
                )));
            }
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}
