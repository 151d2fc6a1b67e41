//! The one error type commands return, its exit code and its hint.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::compose::error::ComposeError;
use crate::engine::EngineError;
use crate::engine::endpoint::EndpointError;
use crate::tiers::TiersError;
use crate::vm::VmError;

/// Exit codes: 0 clean, 1 findings, 2 error.
pub mod exit {
    /// Nothing to report.
    pub const CLEAN: u8 = 0;
    /// Findings at warning level or above.
    pub const FINDINGS: u8 = 1;
    /// The tool could not do its job.
    pub const ERROR: u8 = 2;
}

/// Why a command could not do its job.
#[derive(Debug, Error)]
pub enum Error {
    /// The compose project could not be loaded.
    #[error(transparent)]
    Compose(Box<ComposeError>),
    /// tiers.yaml is invalid.
    #[error(transparent)]
    Tiers(Box<TiersError>),
    /// No tiers.yaml was found.
    #[error("no tiers.yaml found (looked in {})", searched.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", "))]
    TiersNotFound {
        /// The places looked in.
        searched: Vec<PathBuf>,
    },
    /// The engine's host is another machine and the command cannot serve it: its paths can only
    /// be read there, never on this machine.
    #[error("the engine of context `{context}` (`{endpoint}`) is on another machine and {why}")]
    RemoteHost {
        /// The docker context.
        context: String,
        /// The endpoint URL.
        endpoint: String,
        /// Why the engine is not asked, or why the command cannot serve it.
        why: String,
        /// What to do.
        hint: String,
    },
    /// A file could not be read or written.
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The rewrite could not be made or failed its check.
    #[error(transparent)]
    Rewrite(#[from] crate::rewrite::RewriteError),
    /// A rewritten file could not be written.
    #[error(transparent)]
    Write(#[from] crate::write::WriteError),
    /// The Docker endpoint could not be resolved.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The Docker engine could not be used.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The VM's shares could not be read.
    #[error(transparent)]
    Vm(#[from] VmError),
    /// `--format` names a format this command does not produce.
    #[error(transparent)]
    FormatUnsupported(#[from] crate::report::FormatUnsupported),
    /// A layout owner name that is not a user or group here.
    #[error(transparent)]
    Owner(#[from] crate::tierfs::OwnerError),
    /// A change to the disk failed.
    #[error(transparent)]
    Change(#[from] crate::tierfs::ChangeError),
    /// Bad `--warning`/`--critical`.
    #[error(transparent)]
    Thresholds(#[from] crate::usage::ThresholdsError),
    /// A compose template could not be rendered.
    #[error(transparent)]
    Template(#[from] crate::template::TemplateError),
    /// `verify` could not observe the containers.
    #[error(transparent)]
    Verify(#[from] crate::engine::observe::VerifyError),
    /// A migration stopped or was refused.
    #[error(transparent)]
    Migrate(#[from] crate::migrate::MigrateError),
    /// `migrate --check` could not check.
    #[error(transparent)]
    Check(#[from] crate::migrate::check::CheckError),
    /// `migrate --check --subset` with no percentage.
    #[error(transparent)]
    Subset(#[from] crate::migrate::check::SubsetError),
    /// The migration journal could not be used.
    #[error(transparent)]
    Journal(#[from] crate::migrate::journal::JournalError),
    /// Another run holds the project lock, or it could not be taken.
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    /// `rewrite --write` would leave data behind.
    #[error(transparent)]
    Stranded(#[from] crate::stranded::StrandedError),
    /// `tiers move` stopped (issue 25).
    #[error(transparent)]
    Mover(#[from] crate::mover::MoveError),
    /// `tiers move` or `tiers pool` named no pool, or one tiers.yaml does not have.
    #[error("{0}")]
    PoolChoice(#[from] crate::mover::PoolChoice),
    /// Writing to stdout failed.
    /// `--swarm` needs a swarm manager's engine.
    #[error("the engine of context `{context}` cannot list the swarm's nodes: {source}")]
    SwarmManager {
        /// The context.
        context: String,
        /// What the engine said.
        source: Box<EngineError>,
    },
    /// `tiers nodes --assign` takes `NODE=CONTEXT`.
    #[error("`--assign {text}` is not `NODE=CONTEXT`")]
    SwarmAssign {
        /// As given.
        text: String,
    },
    /// `verify --swarm` found no task of the stack.
    #[error("the swarm runs no task of stack `{stack}`")]
    SwarmNoTasks {
        /// The stack (project) name.
        stack: String,
    },
    #[error("cannot write output: {0}")]
    Output(io::Error),
}

impl From<ComposeError> for Error {
    fn from(error: ComposeError) -> Self {
        Error::Compose(Box::new(error))
    }
}

impl From<TiersError> for Error {
    fn from(error: TiersError) -> Self {
        Error::Tiers(Box::new(error))
    }
}

impl Error {
    /// The exit code for this error.
    pub fn exit_code(&self) -> u8 {
        exit::ERROR
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Compose(e) => e.hint(),
            Error::Tiers(e) => Some(e.hint().to_string()),
            Error::TiersNotFound { .. } => Some(
                "write a tiers.yaml (an example is at the end of `tierctl --help`) or pass --tiers"
                    .into(),
            ),
            Error::Io { .. } => Some("check the path and its permissions".into()),
            Error::RemoteHost { hint, .. } => Some(hint.clone()),
            Error::Rewrite(
                crate::rewrite::RewriteError::Bug { .. } | crate::rewrite::RewriteError::Reload(_),
            ) => Some(
                "please report this with the compose files; `tierctl plan` shows the edits".into(),
            ),
            Error::Rewrite(_) => Some("run `tierctl plan` again".into()),
            Error::Write(e) => Some(e.hint()),
            Error::Endpoint(e) => Some(e.hint()),
            Error::Engine(e) => Some(e.hint()),
            Error::SwarmAssign { .. } => {
                Some("e.g. `--assign worker1=engine2` (the node's id or hostname)".into())
            }
            Error::SwarmNoTasks { .. } => Some(
                "deploy it (`docker stack deploy -c compose.yaml NAME`) or pass `-p NAME`".into(),
            ),
            Error::SwarmManager { .. } => Some(
                "point `--context`/`-H` at a swarm manager (`docker node ls` works there)".into(),
            ),
            Error::Vm(e) => Some(e.hint().to_owned()),
            Error::FormatUnsupported(_) => Some(
                "use `--format human` or `--format json`; prometheus is for `tiers status`, `verify`, `migrate --check` and `tiers move`".into(),
            ),
            Error::Owner(_) => Some(
                "create the user or group, or write the owner as numeric `uid:gid` in tiers.yaml"
                    .into(),
            ),
            Error::Change(_) => Some("run as root, or check the path and its permissions".into()),
            Error::Thresholds(_) => Some("e.g. `-w 75 -c 85`".into()),
            Error::Template(e) => Some(e.hint()),
            Error::Verify(e) => Some(e.hint()),
            Error::Migrate(e) => Some(e.hint()),
            Error::Check(e) => Some(e.hint()),
            Error::Subset(_) => Some("e.g. `--subset 5` reads 5 % of the files".into()),
            Error::Journal(e) => Some(e.hint()),
            Error::Lock(e) => Some(e.hint()),
            Error::Stranded(e) => Some(e.hint()),
            Error::Mover(e) => Some(e.hint()),
            Error::PoolChoice(e) => Some(e.hint()),
            Error::Output(_) => None,
        }
    }
}
