//! What a step learns that a later step of the same run uses, as typed step outputs: the step
//! returns it ([`StepDone`]), the step loop keeps it by copy and hands it to the step that uses
//! it ([`super::run`]). Nothing of it is hidden in the migrate context, and nothing of it is
//! needed to resume: a resumed run reads the trees again, or loads what the journal's side
//! files kept (the `Known` of each side, the manifests).

use super::journal::Detail;
use super::tree;
use super::tree::manifest::Manifest;

/// What the steps of this run learned about one copy's trees, for its verify.
#[derive(Debug, Default)]
pub struct Learned {
    /// Both trees as the copy helper read them right after its copy (a VM: the host reads
    /// neither tree), for the verify while the services are still stopped.
    pub after_copy: Option<tree::AfterCopy>,
    /// What is known of each tree (source, copy): files settled before a read, with their
    /// stamps; the verify reads again only what moved since.
    pub known: Option<[tree::Known; 2]>,
    /// The stopped source's manifest a move to B took in its delta: the verify does not read the
    /// source twice while the services are down.
    pub stopped_source: Option<Manifest>,
}

impl Learned {
    /// `newer`'s parts over this one's.
    pub fn update(&mut self, newer: Learned) {
        let Learned {
            after_copy,
            known,
            stopped_source,
        } = newer;
        self.after_copy = after_copy.or(self.after_copy.take());
        self.known = known.or(self.known.take());
        self.stopped_source = stopped_source.or(self.stopped_source.take());
    }
}

/// What a step did: what the journal records, its line for the report, what it learned for a
/// later step of this run, and (the start step) how long the services were down.
#[derive(Debug)]
pub struct StepDone {
    /// Journaled with the step's end.
    pub detail: Detail,
    /// The report's line.
    pub line: String,
    /// For a later step of this run.
    pub learned: Learned,
    /// Milliseconds from the stop to the start (the start step).
    pub downtime_ms: Option<u64>,
}

impl StepDone {
    /// A step that learned nothing for later.
    pub fn new(detail: Detail, line: String) -> StepDone {
        StepDone {
            detail,
            line,
            learned: Learned::default(),
            downtime_ms: None,
        }
    }

    /// This step's outcome with what it `learned`.
    pub fn learned(mut self, learned: Learned) -> StepDone {
        self.learned = learned;
        self
    }
}

impl From<(Detail, String)> for StepDone {
    fn from((detail, line): (Detail, String)) -> StepDone {
        StepDone::new(detail, line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::tree::manifest::Digest;

    #[test]
    fn a_newer_part_replaces_the_older_and_a_missing_one_keeps_it() {
        let mut older = Learned {
            known: Some(Default::default()),
            ..Learned::default()
        };
        older.update(Learned {
            stopped_source: Some(Manifest {
                digest: Digest::Sha256,
                ..Manifest::default()
            }),
            known: None,
            ..Learned::default()
        });
        assert!(older.known.is_some());
        assert_eq!(older.stopped_source.map(|m| m.digest), Some(Digest::Sha256));
        assert!(older.after_copy.is_none());
    }
}
