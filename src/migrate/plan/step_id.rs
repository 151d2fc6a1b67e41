//! A step's identity (pure): what the journal records, what a failure names and what the test
//! hook pauses at. Written as text the way every journal since the first has written it
//! (`stop`, `copy:0`, `pre-verify:3`, `copy-back:1`, ...), and read back only when the text is
//! one of those.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A step of the whole migration (or of its rollback), without a copy index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OnceStep {
    /// Stop the services (`stop`).
    Stop,
    /// Write the compose and env files (`rewrite`).
    Rewrite,
    /// Start the services again (`start`).
    Start,
    /// Check the running services' mounts (`verify-mounts`).
    VerifyMounts,
    /// A rollback stops the services (`rollback:stop`; a pause point of the test hook, not
    /// journaled: the rollback journals `stop`).
    RollbackStop,
    /// A rollback writes the files back (`rollback:restore`; a pause point of the test hook,
    /// before the files, and after each file written for engine B is removed).
    RollbackRestore,
    /// A rollback starts the services again (`rollback:start`; a pause point of the test hook).
    RollbackStart,
}

impl OnceStep {
    /// Every kind, for [`StepId::from_str`].
    const ALL: [OnceStep; 7] = [
        OnceStep::Stop,
        OnceStep::Rewrite,
        OnceStep::Start,
        OnceStep::VerifyMounts,
        OnceStep::RollbackStop,
        OnceStep::RollbackRestore,
        OnceStep::RollbackStart,
    ];

    /// Its text.
    pub const fn name(self) -> &'static str {
        match self {
            OnceStep::Stop => "stop",
            OnceStep::Rewrite => "rewrite",
            OnceStep::Start => "start",
            OnceStep::VerifyMounts => "verify-mounts",
            OnceStep::RollbackStop => "rollback:stop",
            OnceStep::RollbackRestore => "rollback:restore",
            OnceStep::RollbackStart => "rollback:start",
        }
    }
}

/// What a step does to one copy (the copy's index is the [`StepId`]'s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CopyStep {
    /// Create the copy's tier directory (`create:N`).
    CreateDir,
    /// Copy the volume while the services are stopped (`copy:N`).
    Copy,
    /// Verify the copy (`verify:N`).
    Verify,
    /// Copy while the services run (`pre-copy:N`).
    PreCopy,
    /// Copy again what changed since the pre-copy (`delta:N`).
    Delta,
    /// Verify the pre-copy while the services run (`pre-verify:N`).
    PreVerify,
    /// Remove the source volume (`remove-source:N`).
    RemoveSource,
    /// A rollback's verified copy of the tier directory back into the source (`copy-back:N`).
    CopyBack,
    /// A rollback's removal of the copy (`remove-copy:N`, `--discard-copy`).
    RemoveCopy,
}

impl CopyStep {
    /// Every kind, for [`StepId::from_str`].
    const ALL: [CopyStep; 9] = [
        CopyStep::CreateDir,
        CopyStep::Copy,
        CopyStep::Verify,
        CopyStep::PreCopy,
        CopyStep::Delta,
        CopyStep::PreVerify,
        CopyStep::RemoveSource,
        CopyStep::CopyBack,
        CopyStep::RemoveCopy,
    ];

    /// Its text, before `:N`.
    pub const fn name(self) -> &'static str {
        match self {
            CopyStep::CreateDir => "create",
            CopyStep::Copy => "copy",
            CopyStep::Verify => "verify",
            CopyStep::PreCopy => "pre-copy",
            CopyStep::Delta => "delta",
            CopyStep::PreVerify => "pre-verify",
            CopyStep::RemoveSource => "remove-source",
            CopyStep::CopyBack => "copy-back",
            CopyStep::RemoveCopy => "remove-copy",
        }
    }

    /// This step of copy `n`.
    pub const fn of(self, n: usize) -> StepId {
        StepId::PerCopy(self, n)
    }
}

/// A step's identity: a step of the whole migration, or a step of one copy with the copy's
/// index in the plan. Displayed, serialised and parsed as the journal's text (`stop`,
/// `copy:0`, ...). `Clone`, not `Copy`: the journal's call sites clone the id they record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum StepId {
    /// A step of the whole migration.
    Once(OnceStep),
    /// A step of copy `.1`.
    PerCopy(CopyStep, usize),
}

impl StepId {
    /// The copy the step works on (`None`: a step of the whole migration).
    pub const fn copy(&self) -> Option<usize> {
        match *self {
            StepId::Once(_) => None,
            StepId::PerCopy(_, n) => Some(n),
        }
    }

    /// Whether it is `kind` of some copy.
    pub fn is(&self, kind: CopyStep) -> bool {
        matches!(*self, StepId::PerCopy(k, _) if k == kind)
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepId::Once(step) => f.write_str(step.name()),
            StepId::PerCopy(step, n) => write!(f, "{}:{n}", step.name()),
        }
    }
}

/// Text that is no step's id.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error(
    "`{text}` is not a migrate step (one of `stop`, `rewrite`, `start`, `verify-mounts`, `rollback:stop`, `rollback:restore`, `rollback:start`, or `create`, `copy`, `verify`, `pre-copy`, `delta`, `pre-verify`, `remove-source`, `copy-back`, `remove-copy` followed by `:N`)"
)]
pub struct StepIdError {
    /// The text.
    pub text: String,
}

impl FromStr for StepId {
    type Err = StepIdError;

    fn from_str(text: &str) -> Result<StepId, StepIdError> {
        if let Some(step) = OnceStep::ALL.into_iter().find(|s| s.name() == text) {
            return Ok(StepId::Once(step));
        }
        text.rsplit_once(':')
            .and_then(|(name, n)| {
                let kind = CopyStep::ALL.into_iter().find(|s| s.name() == name)?;
                // digits only, as written: `copy:+1` and `copy:01` are not `copy:1`
                let digits = n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty();
                let canonical = digits && (n == "0" || !n.starts_with('0'));
                Some(kind.of(n.parse().ok().filter(|_| canonical)?))
            })
            .ok_or_else(|| StepIdError {
                text: text.to_owned(),
            })
    }
}

/// The id is its text: `StepId == "copy:0"` as `String == "copy:0"` (the text is read
/// canonically, so equal ids have equal texts).
impl PartialEq<str> for StepId {
    fn eq(&self, text: &str) -> bool {
        text.parse::<StepId>().is_ok_and(|id| id == *self)
    }
}

impl PartialEq<&str> for StepId {
    fn eq(&self, text: &&str) -> bool {
        *self == **text
    }
}

impl From<StepId> for String {
    fn from(id: StepId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for StepId {
    type Error = StepIdError;

    fn try_from(text: String) -> Result<StepId, StepIdError> {
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every id, one per kind (copy 0 and a larger index).
    fn all() -> Vec<StepId> {
        let once = OnceStep::ALL.into_iter().map(StepId::Once);
        let per_copy = CopyStep::ALL
            .into_iter()
            .flat_map(|kind| [kind.of(0), kind.of(12)]);
        once.chain(per_copy).collect()
    }

    #[test]
    fn every_step_id_reads_back_from_its_text_and_its_json() {
        for id in all() {
            let text = id.to_string();
            assert_eq!(text.parse::<StepId>(), Ok(id.clone()), "{text}");
            let json = serde_json::to_string(&id).expect("json");
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(
                serde_json::from_str::<StepId>(&json).expect("reads back"),
                id
            );
        }
    }

    #[test]
    fn the_text_is_the_journal_text_of_every_release() {
        let texts: Vec<String> = all().iter().map(StepId::to_string).collect();
        assert_eq!(
            texts,
            [
                "stop",
                "rewrite",
                "start",
                "verify-mounts",
                "rollback:stop",
                "rollback:restore",
                "rollback:start",
                "create:0",
                "create:12",
                "copy:0",
                "copy:12",
                "verify:0",
                "verify:12",
                "pre-copy:0",
                "pre-copy:12",
                "delta:0",
                "delta:12",
                "pre-verify:0",
                "pre-verify:12",
                "remove-source:0",
                "remove-source:12",
                "copy-back:0",
                "copy-back:12",
                "remove-copy:0",
                "remove-copy:12",
            ]
        );
    }

    #[test]
    fn text_that_is_no_step_is_refused_naming_it() {
        for text in [
            "",
            "copy",
            "copy:",
            "copy:x",
            "copy:-1",
            "copy:+1",
            "copy:01",
            "stop:0",
            "rollback:0",
            "Stop",
            "copy:0:after",
            "unknown:3",
            "copy:99999999999999999999999",
        ] {
            let error = text.parse::<StepId>().expect_err(text);
            assert_eq!(error.text, text);
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("`{text}` is not a migrate step")),
                "{error}"
            );
        }
        let json = serde_json::from_str::<StepId>("\"copy:x\"").expect_err("refused");
        assert!(json.to_string().contains("`copy:x`"), "{json}");
    }

    #[test]
    fn an_id_equals_its_text_only() {
        assert_eq!(CopyStep::PreVerify.of(3), "pre-verify:3");
        assert_ne!(CopyStep::PreVerify.of(3), "pre-verify:03");
        assert_ne!(CopyStep::PreVerify.of(3), "verify:3");
        assert_ne!(StepId::Once(OnceStep::Stop), "stop ");
    }

    #[test]
    fn the_copy_index_and_kind_are_kept() {
        assert_eq!(CopyStep::Verify.of(3).copy(), Some(3));
        assert_eq!(StepId::Once(OnceStep::Stop).copy(), None);
        assert!(CopyStep::RemoveSource.of(1).is(CopyStep::RemoveSource));
        assert!(!CopyStep::Copy.of(1).is(CopyStep::RemoveSource));
        assert!(!StepId::Once(OnceStep::Stop).is(CopyStep::Copy));
    }
}
