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
use thiserror::Error;

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

/// Why the delta could not be sent from A to B; a path is a manifest's ([`name::encode`]d).
#[derive(Debug, Error)]
pub enum SendError {
    /// A changed file whose name is not UTF-8: A's archive endpoint takes a path as text; the
    /// full pass streams the whole tree, names as bytes.
    #[error(
        "`{}` changed since the pre-copy and its name is not UTF-8: the engine's archive API cannot fetch it by name; hint: `tierctl migrate --rollback --yes`, then move with `--to-context B --stop-first` (one archive of the whole tree, every name kept)",
        name::shown(path)
    )]
    NotFetchable {
        /// The file.
        path: String,
    },
    /// The pipe between the tar writer and B's extraction could not be made.
    #[error("cannot make a pipe for the delta: {0}")]
    Pipe(io::Error),
    /// The thread extracting into B panicked.
    #[error("the delta's extraction on the other engine panicked")]
    ExtractionPanicked,
    /// Engine A or B failed.
    #[error("{error}; hint: {}", error.hint())]
    Engine {
        /// What the engine said.
        error: EngineError,
    },
    /// The tar could not be ended.
    #[error("cannot end the delta's tar: {0}")]
    EndTar(io::Error),
    /// A file's archive from A could not be read.
    #[error("`{}` in the source's archive: {error}", name::shown(path))]
    Archive {
        /// The file.
        path: String,
        /// Why.
        error: io::Error,
    },
    /// A's archive of a file is empty.
    #[error("`{}` is missing from the source's archive", name::shown(path))]
    MissingFromArchive {
        /// The file.
        path: String,
    },
    /// A file of the delta is no longer a regular file on A.
    #[error(
        "`{}` is no longer a regular file on the stopped source; hint: something changed it while the services were stopped: run `tierctl migrate --resume` again",
        name::shown(path)
    )]
    NotRegular {
        /// The entry.
        path: String,
    },
    /// An entry could not be written into the delta's tar.
    #[error("cannot send `{}`: {error}", name::shown(path))]
    Entry {
        /// The entry.
        path: String,
        /// Why.
        error: io::Error,
    },
    /// An entry of the delta is not in A's stopped manifest.
    #[error("`{}` is not in the stopped source's manifest", name::shown(path))]
    NotInManifest {
        /// The entry.
        path: String,
    },
}

fn engine_error(error: EngineError) -> SendError {
    SendError::Engine { error }
}

/// Stream `delta`'s entries of `now` (A's stopped tree) from A into B; `count` grows by the
/// bytes of tar sent.
pub fn send(
    route: &Route<'_>,
    delta: &CrossDelta,
    now: &Manifest,
    count: &AtomicU64,
) -> Result<(), SendError> {
    if let Some(odd) = delta.send.iter().find_map(|sent| match sent {
        Sent::Data(path) if name::has_encoded(path) => Some(path),
        _ => None,
    }) {
        return Err(SendError::NotFetchable {
            path: odd.to_owned(),
        });
    }
    let (mut reader, writer) = io::pipe().map_err(SendError::Pipe)?;
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
            .map_err(|_| SendError::ExtractionPanicked)?;
        extracted.map_err(engine_error)?;
        wrote
    })
}

/// Write the delta's tar into `out`: headers in path order, each batch of files' content
/// fetched from A at once.
fn write_tar(
    route: &Route<'_>,
    delta: &CrossDelta,
    now: &Manifest,
    out: io::PipeWriter,
) -> Result<(), SendError> {
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
    builder.finish().map_err(SendError::EndTar)
}

/// Fetch a batch of files from A; each file's turn comes in path order, after the headers
/// before it.
fn fetch(
    route: &Route<'_>,
    batch: &[(Vec<&Sent>, &str)],
    now: &Manifest,
    builder: &Mutex<Builder<io::PipeWriter>>,
) -> Result<(), SendError> {
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
) -> Result<(), SendError> {
    let bad = |error: io::Error| SendError::Archive {
        path: path.to_owned(),
        error,
    };
    let mut archive = tar::Archive::new(tar);
    let mut entries = archive.entries().map_err(bad)?;
    let mut entry = entries
        .next()
        .ok_or_else(|| SendError::MissingFromArchive {
            path: path.to_owned(),
        })?
        .map_err(bad)?;
    let theirs = entry.header();
    if theirs.entry_type() != EntryType::Regular {
        return Err(SendError::NotRegular {
            path: path.to_owned(),
        });
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
        .map_err(|error| SendError::Entry {
            path: path.to_owned(),
            error,
        })
}

/// A header-only entry (directory, symlink, FIFO, device, hardlink) made from A's manifest.
fn append_header(
    builder: &mut Builder<io::PipeWriter>,
    sent: &Sent,
    now: &Manifest,
) -> Result<(), SendError> {
    let path = sent.path();
    let entry = now
        .entries
        .get(path)
        .ok_or_else(|| SendError::NotInManifest {
            path: path.to_owned(),
        })?;
    let mut header = Header::new_gnu();
    header.set_size(0);
    header.set_mode(entry.mode);
    header.set_uid(entry.uid);
    header.set_gid(entry.gid);
    header.set_mtime(entry.mtime.unwrap_or_default());
    let cannot = |error: io::Error| SendError::Entry {
        path: path.to_owned(),
        error,
    };
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
        let message = SendError::NotFetchable {
            path: name::encode(b"caf\xe9"),
        }
        .to_string();
        assert!(
            message.starts_with("`caf\\xe9` changed since the pre-copy"),
            "{message}"
        );
        assert!(message.contains("--stop-first"), "{message}");
    }
}
