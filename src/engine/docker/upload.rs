//! [`ArchiveWriter`] over bollard: a tar stream written into a (never started) helper's mount
//! through the engine's archive endpoint; the engine extracts it (numeric owners, modes,
//! mtimes, symlinks, hardlinks, FIFOs kept). The caller's reader is read on the calling thread
//! and handed to the runtime in chunks, so nothing is buffered whole.

use std::io::Read;

use bollard::query_parameters::UploadToContainerOptions;

use super::DockerEngine;
use crate::engine::helper::HelperSpec;
use crate::engine::{ArchiveWriter, EngineError};

/// Bytes read from the caller's reader at a time.
const CHUNK: usize = 1 << 20;

impl ArchiveWriter for DockerEngine {
    fn write_archive(
        &self,
        spec: &HelperSpec,
        path: &str,
        tar: &mut dyn Read,
    ) -> Result<(), EngineError> {
        let id = self.runtime().block_on(self.create_unstarted(spec))?;
        let result = self.upload(&id, path, tar);
        let removed = self.runtime().block_on(self.force_remove(&id));
        result?;
        removed
    }
}

impl DockerEngine {
    fn upload(&self, id: &str, path: &str, tar: &mut dyn Read) -> Result<(), EngineError> {
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(8);
        let api = |message: String| EngineError::Api {
            context: self.context().to_owned(),
            action: format!("write archive into `{path}`"),
            message,
        };
        std::thread::scope(|scope| {
            let uploading = scope.spawn(move || {
                let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|chunk| (chunk, rx))
                });
                let options = UploadToContainerOptions {
                    path: path.to_owned(),
                    ..Default::default()
                };
                self.runtime().block_on(self.docker().upload_to_container(
                    id,
                    Some(options),
                    bollard::body_try_stream(stream),
                ))
            });
            let mut read_error = None;
            loop {
                let mut buf = vec![0u8; CHUNK];
                match tar.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.blocking_send(Ok(bytes::Bytes::from(buf))).is_err() {
                            // the engine stopped reading; its answer says why
                            break;
                        }
                    }
                    Err(e) => {
                        read_error = Some(e.to_string());
                        let _ = tx.blocking_send(Err(e));
                        break;
                    }
                }
            }
            drop(tx);
            let uploaded = uploading
                .join()
                .map_err(|_| api("the upload thread panicked".into()))?;
            if let Some(message) = read_error {
                return Err(api(format!("reading the source stream failed: {message}")));
            }
            uploaded.map_err(|e| self.classify(&e, &format!("write archive into `{path}`")))
        })
    }
}
