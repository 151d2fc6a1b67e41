//! What every engine that changes data step by step shares (migrate, the mover): the failpoint
//! in front of each durable action ([`failpoint`]: one generic [`Failpoints`], one
//! [`Injected`] error, one [`Trigger`] read from one variable, [`TRIGGER_VAR`]) and the one
//! journal file type ([`journal_file`]: append-only JSON lines, each written and fsynced behind
//! a failpoint, a torn last line ignored). Each engine keeps its own kinds of action (an enum
//! that is [`Action`]), its own points ([`AtAction`]) and its own record types.

use std::fs::File;
use std::io;
use std::path::Path;

pub mod failpoint;
pub mod journal_file;

pub use failpoint::{
    Action, AtAction, FailFn, Failpoints, Injected, TRIGGER_VAR, Trigger, UnknownAction,
    parse_action,
};
pub use journal_file::{Damaged, Flush, JournalFile, Lines};

/// fsyncs a directory (a name made, renamed or removed in it survives a crash).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
