//! `tierctl tiers move` and `tierctl tiers pool` (issue 25 items 2 and 3): the effects. The
//! selection is the core's (`move_plan`); here the branches are scanned, each file is copied,
//! verified from the medium and placed before its warmer copy goes, under a journal with a
//! failpoint at every durable action; and mergerfs pools are mounted.

pub mod durable;
pub mod journal;
pub mod pool_mount;
pub mod run;
pub mod scan;
pub mod stamp;
pub mod transfer;
pub mod writers;

pub use run::{MoveError, MoveOptions, run};

/// A `tiers move`/`tiers pool` pool argument that picks no pool.
#[derive(Debug, thiserror::Error)]
pub enum PoolChoice {
    /// tiers.yaml has no pool of that name.
    #[error("tiers.yaml has no pool `{name}` (pools: {})", known.join(", "))]
    Unknown {
        /// The name given.
        name: String,
        /// The pools there are.
        known: Vec<String>,
    },
    /// Several pools and none named.
    #[error("tiers.yaml has several pools ({}): name one", known.join(", "))]
    Ambiguous {
        /// The pools.
        known: Vec<String>,
    },
    /// No pools at all.
    #[error("tiers.yaml has no `pools:`")]
    None,
}

impl PoolChoice {
    /// What to do.
    pub fn hint(&self) -> String {
        match self {
            PoolChoice::Unknown { .. } | PoolChoice::Ambiguous { .. } => {
                "name a pool of tiers.yaml, e.g. `tierctl tiers move media`".into()
            }
            PoolChoice::None => "add a pool, e.g. `pools: { media: { mount: /mnt/pools/media, branches: [fast:media, cold:media], move: [{ older_than: 90d }] } }`; docs/usage.md has the syntax".into(),
        }
    }
}
