//! The engine's archive streams of a (never started) helper container, several paths at once,
//! each handed to the caller's reader on its own thread while the runtime streams.

use bollard::query_parameters::DownloadFromContainerOptions;
use futures_util::StreamExt;

use super::DockerEngine;
use crate::engine::{ArchiveReader, EngineError};

impl DockerEngine {
    pub(super) fn stream_archives(
        &self,
        id: &str,
        paths: &[&str],
        read: ArchiveReader<'_>,
    ) -> Result<(), EngineError> {
        std::thread::scope(|scope| {
            let mut senders = Vec::new();
            let mut readers = Vec::new();
            for (index, path) in paths.iter().enumerate() {
                let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(64);
                senders.push((path, tx));
                readers.push(scope.spawn(move || {
                    let mut reader = ChannelReader {
                        rx,
                        buf: bytes::Bytes::new(),
                    };
                    read(index, &mut reader)
                }));
            }
            let streams = senders.into_iter().map(|(path, tx)| async move {
                let mut stream = self.docker().download_from_container(
                    id,
                    Some(DownloadFromContainerOptions {
                        path: (*path).to_owned(),
                    }),
                );
                while let Some(chunk) = stream.next().await {
                    let chunk =
                        chunk.map_err(|e| self.classify(&e, &format!("archive `{path}`")))?;
                    if tx.send(chunk).await.is_err() {
                        // the reader stopped early; its error is reported below
                        break;
                    }
                }
                Ok::<(), EngineError>(())
            });
            let streamed = self
                .runtime()
                .block_on(futures_util::future::join_all(streams));
            for (index, reader) in readers.into_iter().enumerate() {
                let read = reader.join().map_err(|_| EngineError::Api {
                    context: self.context().to_owned(),
                    action: format!("read archive `{}`", paths[index]),
                    message: "the archive reader panicked".into(),
                })?;
                if let Some(Err(e)) = streamed.get(index) {
                    return Err(clone_error(e));
                }
                read.map_err(|e| EngineError::Api {
                    context: self.context().to_owned(),
                    action: format!("read archive `{}`", paths[index]),
                    message: e.to_string(),
                })?;
            }
            Ok(())
        })
    }
}

/// `EngineError` is not `Clone`; rebuild the one variant a stream yields.
fn clone_error(error: &EngineError) -> EngineError {
    match error {
        EngineError::Api {
            context,
            action,
            message,
        } => EngineError::Api {
            context: context.clone(),
            action: action.clone(),
            message: message.clone(),
        },
        other => EngineError::Api {
            context: String::new(),
            action: "archive".into(),
            message: other.to_string(),
        },
    }
}

/// A blocking reader over chunks sent from the runtime.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    buf: bytes::Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.buf = chunk,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}
