//! The delta of a move to another engine, on the wire: the entries of a
//! [`CrossDelta`](super::delta::CrossDelta) go from A to B as one tar stream. Regular
//! files' content comes from A's archive endpoint (one never-started helper per batch of files,
//! the files of a batch fetched at once and written in path order); every other entry is a
//! header made from A's stopped manifest; B extracts the stream into the copy like the full
//! pass. Nothing is staged on the host running tierctl.

use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

use tar::{Builder, EntryType, Header};

use super::delta::{CrossDelta, Sent};
use crate::engine::{Engine, EngineError, MountSource};
use crate::migrate::cross_plan as xp;
use crate::migrate::site::StreamTarget;
use crate::migrate::tree::manifest::{Entry, Kind, Manifest};
use crate::migrate::tree::name;

/// Files fetched from A by one helper, at once: each is one connection to A's engine (over
/// `ssh://` an ssh session each; sshd's default `MaxStartups` begins refusing above 10).
const BATCH: usize = 8;

/// A reader that counts the bytes read through it.
pub struct Counted<'c> {
    /// What is read.
    pub inner: &'c mut dyn Read,
    /// Bytes read so far.
    pub count: &'c AtomicU64,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Where the delta goes, and how.
pub struct Route<'r> {
    /// Engine A.
    pub a: &'r dyn Engine,
    /// Engine B.
    pub b: &'r dyn StreamTarget,
    /// The source on A.
    pub source: &'r MountSource,
    /// The copy on B.
    pub target: &'r Path,
    /// The helper image.
    pub image: &'r str,
    /// The journal's id (labels the helpers).
    pub journal: &'r str,
}

fn engine_error(e: EngineError) -> String {
    format!("{e}; hint: {}", e.hint())
}

/// Stream `delta`'s entries of `now` (A's stopped tree) from A into B; `count` grows by the
/// bytes of tar sent.
pub fn send(
    route: &Route<'_>,
    delta: &CrossDelta,
    now: &Manifest,
    count: &AtomicU64,
) -> Result<(), String> {
    if let Some(odd) = delta.send.iter().find_map(|sent| match sent {
        Sent::Data(path) if name::has_encoded(path) => Some(path),
        _ => None,
    }) {
        return Err(not_fetchable(odd));
    }
    let (mut reader, writer) =
        io::pipe().map_err(|e| format!("cannot make a pipe for the delta: {e}"))?;
    let spec = xp::write_spec(route.target, route.image, route.journal);
    let b = route.b;
    std::thread::scope(|scope| {
        let extracting = scope.spawn(move || {
            let mut counted = Counted {
                inner: &mut reader,
                count,
            };
            // returning drops the reader: a writer B stopped reading sees a closed pipe
            b.write_archive(&spec, xp::TO, &mut counted)
        });
        let wrote = write_tar(route, delta, now, writer);
        let extracted = extracting
            .join()
            .map_err(|_| "the delta's extraction on the other engine panicked".to_owned())?;
        extracted.map_err(engine_error)?;
        wrote
    })
}

/// Why a changed file whose name is not UTF-8 cannot be sent by the delta: A's archive endpoint
/// takes a path as text; the full pass streams the whole tree, names as bytes.
fn not_fetchable(path: &str) -> String {
    format!(
        "`{}` changed since the pre-copy and its name is not UTF-8: the engine's archive API cannot fetch it by name; hint: `tierctl migrate --rollback --yes`, then move with `--to-context B --stop-first` (one archive of the whole tree, every name kept)",
        name::shown(path)
    )
}

/// Write the delta's tar into `out`: headers in path order, each batch of files' content
/// fetched from A at once.
fn write_tar(
    route: &Route<'_>,
    delta: &CrossDelta,
    now: &Manifest,
    out: io::PipeWriter,
) -> Result<(), String> {
    let builder = Mutex::new(Builder::new(out));
    let mut headers: Vec<&Sent> = Vec::new();
    let mut batch: Vec<(Vec<&Sent>, &str)> = Vec::new();
    for sent in &delta.send {
        match sent {
            Sent::Data(path) => {
                batch.push((std::mem::take(&mut headers), path));
                if batch.len() == BATCH {
                    fetch(route, &batch, now, &builder)?;
                    batch.clear();
                }
            }
            other => headers.push(other),
        }
    }
    if !batch.is_empty() {
        fetch(route, &batch, now, &builder)?;
    }
    let mut builder = builder.into_inner().unwrap_or_else(PoisonError::into_inner);
    for sent in headers {
        append_header(&mut builder, sent, now)?;
    }
    builder
        .finish()
        .map_err(|e| format!("cannot end the delta's tar: {e}"))
}

/// Fetch a batch of files from A; each file's turn comes in path order, after the headers
/// before it.
fn fetch(
    route: &Route<'_>,
    batch: &[(Vec<&Sent>, &str)],
    now: &Manifest,
    builder: &Mutex<Builder<io::PipeWriter>>,
) -> Result<(), String> {
    let paths: Vec<String> = batch
        .iter()
        .map(|(_, p)| format!("{}/{p}", xp::FROM))
        .collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    // (whose turn, whether one failed)
    let turn = Mutex::new((0usize, false));
    let next = Condvar::new();
    let read = |index: usize, tar: &mut dyn Read| -> io::Result<()> {
        let mut state = turn.lock().unwrap_or_else(PoisonError::into_inner);
        while state.0 != index && !state.1 {
            state = next.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        if state.1 {
            return Err(io::Error::other("an earlier file of the delta failed"));
        }
        let (headers, path) = &batch[index];
        let written = {
            let mut builder = builder.lock().unwrap_or_else(PoisonError::into_inner);
            headers
                .iter()
                .try_for_each(|h| append_header(&mut builder, h, now))
                .and_then(|()| append_file(&mut builder, path, tar))
        };
        state.0 += 1;
        state.1 |= written.is_err();
        next.notify_all();
        written.map_err(io::Error::other)
    };
    let spec = xp::read_spec(route.source, route.image, route.journal);
    route
        .a
        .read_archives(&spec, &refs, &read)
        .map_err(engine_error)
}

/// Copy the one regular file of A's archive of it into the delta's tar at `path`.
fn append_file(
    builder: &mut Builder<io::PipeWriter>,
    path: &str,
    tar: &mut dyn Read,
) -> Result<(), String> {
    let shown = name::shown(path);
    let bad = |e: io::Error| format!("`{shown}` in the source's archive: {e}");
    let mut archive = tar::Archive::new(tar);
    let mut entries = archive.entries().map_err(bad)?;
    let mut entry = entries
        .next()
        .ok_or_else(|| format!("`{shown}` is missing from the source's archive"))?
        .map_err(bad)?;
    let theirs = entry.header();
    if theirs.entry_type() != EntryType::Regular {
        return Err(format!(
            "`{shown}` is no longer a regular file on the stopped source; hint: something changed it while the services were stopped: run `tierctl migrate --resume` again"
        ));
    }
    let mut header = Header::new_gnu();
    header.set_entry_type(EntryType::Regular);
    header.set_size(entry.size());
    header.set_mode(theirs.mode().map_err(bad)? & 0o7777);
    header.set_uid(theirs.uid().map_err(bad)?);
    header.set_gid(theirs.gid().map_err(bad)?);
    header.set_mtime(theirs.mtime().map_err(bad)?);
    builder
        .append_data(&mut header, name::path(path), &mut entry)
        .map_err(|e| format!("cannot send `{}`: {e}", name::shown(path)))
}

/// A header-only entry (directory, symlink, FIFO, device, hardlink) made from A's manifest.
fn append_header(
    builder: &mut Builder<io::PipeWriter>,
    sent: &Sent,
    now: &Manifest,
) -> Result<(), String> {
    let path = sent.path();
    let entry = now.entries.get(path).ok_or_else(|| {
        format!(
            "`{}` is not in the stopped source's manifest",
            name::shown(path)
        )
    })?;
    let mut header = Header::new_gnu();
    header.set_size(0);
    header.set_mode(entry.mode);
    header.set_uid(entry.uid);
    header.set_gid(entry.gid);
    header.set_mtime(entry.mtime.unwrap_or_default());
    let cannot = |e: io::Error| format!("cannot send `{}`: {e}", name::shown(path));
    if let Sent::Link { to, .. } = sent {
        header.set_entry_type(EntryType::Link);
        return builder
            .append_link(&mut header, name::path(path), name::path(to))
            .map_err(cannot);
    }
    header.set_entry_type(entry_type(entry));
    if let Some((major, minor)) = entry.device {
        header.set_device_major(major).map_err(cannot)?;
        header.set_device_minor(minor).map_err(cannot)?;
    }
    match &entry.link {
        // the target as written (the tar crate's own setter normalises paths)
        Some(to) if name::decode(to).len() < 100 => header
            .set_link_name_literal(name::decode(to))
            .map_err(cannot)?,
        Some(to) => {
            return builder
                .append_link(&mut header, name::path(path), name::path(to))
                .map_err(cannot);
        }
        None => {}
    }
    builder
        .append_data(&mut header, name::path(path), io::empty())
        .map_err(cannot)
}

fn entry_type(entry: &Entry) -> EntryType {
    match entry.kind {
        Kind::Dir => EntryType::Directory,
        Kind::Symlink => EntryType::Symlink,
        Kind::Fifo => EntryType::Fifo,
        Kind::CharDevice => EntryType::Char,
        Kind::BlockDevice => EntryType::Block,
        Kind::File => EntryType::Regular,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i26_row5_a_changed_file_named_not_utf8_is_refused_with_the_way_that_carries_it() {
        let message = not_fetchable(&name::encode(b"caf\xe9"));
        assert!(
            message.starts_with("`caf\\xe9` changed since the pre-copy"),
            "{message}"
        );
        assert!(message.contains("--stop-first"), "{message}");
    }
}
