//! Tests only: [`NoHelpers`], an engine on which no helper container may run.

use std::path::PathBuf;

use super::{ArchiveReader, EngineError, HelperOutput, HelperSpec, Helpers, MountSource};

/// Helpers that must not be asked for: every call panics, so a test that passes it shows the
/// code under test decided without a helper (a missing source, a read-only share).
pub struct NoHelpers;

impl Helpers for NoHelpers {
    fn run_helper(&self, _: &HelperSpec) -> Result<HelperOutput, EngineError> {
        panic!("no helper may run")
    }
    fn read_archives(
        &self,
        _: &HelperSpec,
        _: &[&str],
        _: ArchiveReader<'_>,
    ) -> Result<(), EngineError> {
        panic!("no helper may run")
    }
    fn populate(&self, _: &HelperSpec) -> Result<(), EngineError> {
        panic!("no helper may run")
    }
    fn host_path(&self, _: &MountSource) -> Result<Option<PathBuf>, EngineError> {
        panic!("no helper may run")
    }
}
