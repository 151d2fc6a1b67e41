//! The mmap coherence measure of `tierctl vm --probe` (issue 22): is a write through a
//! `MAP_SHARED` mapping of a file in one process seen through another process's mapping of the
//! same file, while both mappings stay in place? That is what SQLite's `-shm` index and
//! Postgres' shared memory need of the files they map.
//!
//! Two [`Party`]s, one on each side (two containers, or the host and a container), map the
//! same file of [`LEN`] bytes (made by [`prepare`]). Each says it is there with a file next to
//! it (`FILE.ready0` / `FILE.ready1`, plain file I/O, which every share carries), then for each
//! round `n` writes `n` into its own slot of the mapping and waits for the peer's slot to reach
//! `n`. Coherent mappings go through every round in lockstep; mappings that are not see the
//! peer's slot stay behind and stop at the first round ([`Outcome::Stuck`]).
//!
//! The same code runs on the host (inside `tierctl`) and in the helper container (the static
//! `tierctl-mmap` binary, `src/main.rs`): one protocol, one output format ([`Outcome`]'s
//! `Display` and `FromStr`).

// An effect from end to end (files, mappings, threads, the clock): the workspace's clippy.toml
// bans those calls for tierctl's pure core, not here.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The length of the mapped file: one page.
pub const LEN: usize = 4096;

/// How far apart the two slots are (their own cache lines).
const SLOT_STRIDE: usize = 64;

/// How many rounds a coherent pair goes through.
pub const ROUNDS: u32 = 5;

/// How long a party waits for its peer to say it is there (a container starting under TCG,
/// a new file showing through a share's attribute cache).
pub const PEER_WAIT: Duration = Duration::from_secs(90);

/// How long a party waits for the peer's slot to reach a round: a coherent mapping shows it at
/// once; this only absorbs a slow, shared machine.
pub const ROUND_WAIT: Duration = Duration::from_secs(5);

/// How often a party looks.
const POLL: Duration = Duration::from_millis(2);

/// Which slot a party writes: `0` or `1`; the peer writes the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Slot 0 (the host, or the second container).
    Zero,
    /// Slot 1 (the probe's helper container).
    One,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::Zero => 0,
            Side::One => 1,
        }
    }

    fn peer(self) -> Side {
        match self {
            Side::Zero => Side::One,
            Side::One => Side::Zero,
        }
    }
}

impl FromStr for Side {
    type Err = UnknownSide;

    fn from_str(s: &str) -> Result<Side, UnknownSide> {
        match s {
            "0" => Ok(Side::Zero),
            "1" => Ok(Side::One),
            other => Err(UnknownSide(other.to_owned())),
        }
    }
}

/// A side that is neither `0` nor `1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSide(pub String);

impl fmt::Display for UnknownSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "side `{}` is neither 0 nor 1", self.0)
    }
}

impl std::error::Error for UnknownSide {}

/// What one party saw. Written as one line (`Display`), read back with `FromStr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every round went through: the peer's writes showed in this mapping. `coherent N`.
    Coherent {
        /// The rounds gone through.
        rounds: u32,
    },
    /// The peer's slot did not reach `round` within [`ROUND_WAIT`]; it read `peer_read`.
    /// `stuck ROUND PEER_READ`.
    Stuck {
        /// The round waited for.
        round: u32,
        /// What the peer's slot read when this party gave up.
        peer_read: u32,
    },
    /// The peer never said it was there. `no-peer`.
    NoPeer,
    /// The file could not be opened or mapped shared and writable (9p without a cache refuses
    /// a writable shared mapping). `failed STEP: MESSAGE`.
    Failed {
        /// `open`, `mmap` or `ready` (writing the ready file).
        step: String,
        /// The system's message.
        message: String,
    },
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Coherent { rounds } => write!(f, "coherent {rounds}"),
            Outcome::Stuck { round, peer_read } => write!(f, "stuck {round} {peer_read}"),
            Outcome::NoPeer => f.write_str("no-peer"),
            Outcome::Failed { step, message } => write!(f, "failed {step}: {message}"),
        }
    }
}

/// A line that is not an [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAnOutcome(pub String);

impl fmt::Display for NotAnOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a tierctl-mmap outcome", self.0)
    }
}

impl std::error::Error for NotAnOutcome {}

impl FromStr for Outcome {
    type Err = NotAnOutcome;

    fn from_str(line: &str) -> Result<Outcome, NotAnOutcome> {
        let bad = || NotAnOutcome(line.to_owned());
        let line = line.trim();
        if line == "no-peer" {
            return Ok(Outcome::NoPeer);
        }
        if let Some(rest) = line.strip_prefix("coherent ") {
            return rest
                .parse()
                .map(|rounds| Outcome::Coherent { rounds })
                .map_err(|_| bad());
        }
        if let Some(rest) = line.strip_prefix("stuck ") {
            let (round, peer_read) = rest.split_once(' ').ok_or_else(bad)?;
            return Ok(Outcome::Stuck {
                round: round.parse().map_err(|_| bad())?,
                peer_read: peer_read.parse().map_err(|_| bad())?,
            });
        }
        if let Some(rest) = line.strip_prefix("failed ") {
            let (step, message) = rest.split_once(": ").ok_or_else(bad)?;
            return Ok(Outcome::Failed {
                step: step.to_owned(),
                message: message.to_owned(),
            });
        }
        Err(bad())
    }
}

/// Make the file both parties map: [`LEN`] zero bytes, mode 0666 (the helper's root may show as
/// another user on a share).
pub fn prepare(path: &Path) -> io::Result<()> {
    let file = File::create(path)?;
    file.set_len(LEN as u64)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o666))
}

/// One side of the measure.
#[derive(Debug, Clone)]
pub struct Party {
    /// The file, made by [`prepare`].
    pub file: PathBuf,
    /// This party's slot.
    pub side: Side,
    /// Rounds to go through.
    pub rounds: u32,
    /// How long to wait for the peer to be there.
    pub peer_wait: Duration,
    /// How long to wait for each round.
    pub round_wait: Duration,
}

impl Party {
    /// A party with the defaults ([`ROUNDS`], [`PEER_WAIT`], [`ROUND_WAIT`]).
    pub fn new(file: impl Into<PathBuf>, side: Side) -> Party {
        Party {
            file: file.into(),
            side,
            rounds: ROUNDS,
            peer_wait: PEER_WAIT,
            round_wait: ROUND_WAIT,
        }
    }

    /// The file that says `side` has mapped the file.
    pub fn ready_file(&self, side: Side) -> PathBuf {
        let mut name = self.file.clone().into_os_string();
        name.push(format!(".ready{}", side.index()));
        PathBuf::from(name)
    }

    /// Map the file, say so, wait for the peer and go through the rounds. `give_up` is asked
    /// while waiting for the peer: `true` ends the wait with [`Outcome::NoPeer`] (the host stops
    /// when the container it waits for has ended).
    pub fn run(&self, give_up: &dyn Fn() -> bool) -> Outcome {
        let failed = |step: &str, e: io::Error| Outcome::Failed {
            step: step.to_owned(),
            message: e.to_string(),
        };
        let file = match OpenOptions::new().read(true).write(true).open(&self.file) {
            Ok(file) => file,
            Err(e) => return failed("open", e),
        };
        let map = match Mapping::shared(&file) {
            Ok(map) => map,
            Err(e) => return failed("mmap", e),
        };
        if let Err(e) = File::create(self.ready_file(self.side)) {
            return failed("ready", e);
        }
        let peer_ready = self.ready_file(self.side.peer());
        let start = Instant::now();
        while !peer_ready.exists() {
            if give_up() || start.elapsed() > self.peer_wait {
                return Outcome::NoPeer;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mine = map.slot(self.side);
        let theirs = map.slot(self.side.peer());
        for round in 1..=self.rounds {
            mine.store(round, Ordering::SeqCst);
            let start = Instant::now();
            loop {
                let peer_read = theirs.load(Ordering::SeqCst);
                if peer_read >= round {
                    break;
                }
                if start.elapsed() > self.round_wait {
                    return Outcome::Stuck { round, peer_read };
                }
                std::thread::sleep(POLL);
            }
        }
        Outcome::Coherent {
            rounds: self.rounds,
        }
    }
}

/// A `MAP_SHARED`, read-write mapping of the first [`LEN`] bytes of a file; unmapped when
/// dropped.
struct Mapping {
    addr: NonNull<libc::c_void>,
}

impl Mapping {
    fn shared(file: &File) -> io::Result<Mapping> {
        // SAFETY: a new mapping at an address the kernel chooses, of a file descriptor that is
        // open for reading and writing; nothing else in this process aliases it.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        NonNull::new(addr)
            .map(|addr| Mapping { addr })
            .ok_or_else(|| io::Error::other("mmap returned a null address"))
    }

    /// The slot of `side`: an atomic, since another process writes it.
    fn slot(&self, side: Side) -> &AtomicU32 {
        // SAFETY: the offset is inside the mapping (2 × 64 < LEN), aligned for a u32 (the
        // mapping is page-aligned), and the mapping lives as long as the borrow of `self`.
        unsafe {
            &*self
                .addr
                .as_ptr()
                .cast::<u8>()
                .add(side.index() * SLOT_STRIDE)
                .cast::<AtomicU32>()
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `shared`, of that length, no longer borrowed.
        unsafe {
            libc::munmap(self.addr.as_ptr(), LEN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_back_as_written() {
        for outcome in [
            Outcome::Coherent { rounds: 5 },
            Outcome::Stuck {
                round: 1,
                peer_read: 0,
            },
            Outcome::NoPeer,
            Outcome::Failed {
                step: "mmap".into(),
                message: "Invalid argument (os error 22)".into(),
            },
        ] {
            assert_eq!(outcome.to_string().parse(), Ok(outcome));
        }
        assert!("coherent many".parse::<Outcome>().is_err());
        assert!("stuck 1".parse::<Outcome>().is_err());
        assert!("no-tool".parse::<Outcome>().is_err());
    }

    #[test]
    fn two_processes_mappings_of_a_local_file_are_coherent() {
        let dir = std::env::temp_dir().join(format!("tierctl-mmap-test-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("map");
        prepare(&file).expect("prepare");
        let zero = Party::new(&file, Side::Zero);
        let one = Party::new(&file, Side::One);
        // two threads, two mappings of one file: the kernel's page cache is the same one
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| zero.run(&|| false));
            let b = s.spawn(|| one.run(&|| false));
            (a.join().expect("zero"), b.join().expect("one"))
        });
        fs::remove_dir_all(&dir).expect("clean up");
        assert_eq!(a, Outcome::Coherent { rounds: ROUNDS });
        assert_eq!(b, Outcome::Coherent { rounds: ROUNDS });
    }

    #[test]
    fn a_peer_that_never_comes_and_a_peer_that_never_writes_are_told_apart() {
        let dir =
            std::env::temp_dir().join(format!("tierctl-mmap-test-alone-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("map");
        prepare(&file).expect("prepare");
        let party = Party {
            round_wait: Duration::from_millis(100),
            ..Party::new(&file, Side::One)
        };
        assert_eq!(party.run(&|| true), Outcome::NoPeer);
        // the peer said it was there but its writes never show (a mapping that is not coherent)
        File::create(party.ready_file(Side::Zero)).expect("peer's ready file");
        assert_eq!(
            party.run(&|| false),
            Outcome::Stuck {
                round: 1,
                peer_read: 0
            }
        );
        assert_eq!(
            Party::new(dir.join("missing"), Side::Zero).run(&|| false),
            Outcome::Failed {
                step: "open".into(),
                message: "No such file or directory (os error 2)".into()
            }
        );
        fs::remove_dir_all(&dir).expect("clean up");
    }
}
