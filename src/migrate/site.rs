//! Where a migration's copies go, decided once: the engine that runs the project after the move
//! (this one, or engine B of `--to-context`), and whether tierctl reaches its tier directories
//! itself (this machine, or its VM through its shares) or only through helper containers on that
//! engine (another machine: `crate::host`, or B). Every step, the preflight, the rollback and
//! the prune ask [`MigrateContext::site`]; none re-derives it.

use std::path::{Path, PathBuf};

use super::MigrateContext;
use crate::engine::{ArchiveWriter, Engine};

/// An engine a migration can stream archives into (B of `--to-context`).
pub trait StreamTarget: Engine + ArchiveWriter + Sync {}
impl<T: Engine + ArchiveWriter + Sync> StreamTarget for T {}

/// Engine B of `migrate --to-context`: the project moves there; its trees are read and
/// written only by helpers on it, and the data crosses as archive streams from this engine.
pub struct OtherEngine<'a> {
    /// The engine.
    pub engine: &'a dyn StreamTarget,
    /// Its docker context (the compose CLI is pointed at it by `DOCKER_CONTEXT`).
    pub context: String,
    /// The swarm's manager, when the move is a Swarm service's to B's node
    /// ([`super::swarm_service`]).
    pub swarm: Option<&'a dyn crate::engine::swarm::SwarmServices>,
}

/// The engine whose tier directories receive the copies, and how tierctl reaches them.
#[derive(Clone, Copy)]
pub struct Site<'a> {
    /// The engine that runs the project after the move.
    pub engine: &'a dyn Engine,
    /// How tierctl reaches its tier directories.
    pub reach: Reach<'a>,
    /// The tier roots there (each target lies in one).
    pub roots: &'a [PathBuf],
    /// The helper image.
    pub image: &'a str,
}

/// How tierctl reaches a site's tier directories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach<'a> {
    /// This machine (or its VM, through its shares): tierctl looks at them and creates them.
    Here,
    /// The engine's host is another machine (context named): only helpers on it see them.
    EngineHost(&'a str),
    /// Engine B of `--to-context` (context named): only helpers on it see them.
    OtherEngine(&'a str),
}

impl Site<'_> {
    /// The context of another machine whose paths the tier directories are; `None`: this one.
    pub fn elsewhere(&self) -> Option<&str> {
        match self.reach {
            Reach::Here => None,
            Reach::EngineHost(context) | Reach::OtherEngine(context) => Some(context),
        }
    }

    /// Where, for messages: `" on the engine's host (context `X`)"`, `" on `B`"`, or nothing.
    pub fn on(&self) -> String {
        match self.reach {
            Reach::Here => String::new(),
            Reach::EngineHost(context) => format!(" on the engine's host (context `{context}`)"),
            Reach::OtherEngine(context) => format!(" on `{context}`"),
        }
    }

    /// The tier root `target` lies in and the path below it.
    pub fn root_of(&self, target: &Path) -> Option<(&Path, String)> {
        super::cross_plan::root_of(self.roots, target)
    }
}

impl<'a> MigrateContext<'a> {
    /// Where the copies go ([`Site`]).
    pub fn site(&self) -> Site<'_> {
        match &self.to {
            Some(b) => Site {
                engine: b.engine,
                reach: Reach::OtherEngine(&b.context),
                roots: &self.roots,
                image: &self.image,
            },
            None => Site {
                engine: self.engine,
                reach: match &self.elsewhere {
                    Some(context) => Reach::EngineHost(context),
                    None => Reach::Here,
                },
                roots: &self.roots,
                image: &self.image,
            },
        }
    }
}
