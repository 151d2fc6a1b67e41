//! What `tierctl tiers move` moves and why (issue 25 item 2), and what it did: pure. The mover
//! (`mover/`) observes the branches and carries the selection out.
//!
//! A file is a [`Candidate`] on one branch of a [`Pool`]; [`select`] runs the pool's rules in
//! file order (a file the first rule takes is not looked at again) and returns each file that
//! moves with its [`Reason`], or why a file the rules wanted stays ([`Held`]).

mod outcome;
mod pool_state;
mod select;

pub use outcome::{FileOutcome, MoveReport, MoveTotals, Skip};
pub use pool_state::{PoolReport, PoolRow, PoolState};
pub use select::{BranchSpace, Candidate, Held, Reason, Selected, Selection, select};
