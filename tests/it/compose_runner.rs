//! The compose CLIs the engine and differential tests run: Compose v2 (`docker-compose-v2`, or
//! the `docker compose` plugin) and Compose v1 (Debian's `docker-compose` 1.29). `.ci/docker`
//! installs both. A missing CLI skips loudly, and fails under `TIERCTL_REQUIRE_DOCKER=1`.

use std::process::Command;

use super::engine::required;

/// A compose CLI family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `docker-compose` 1.x (Python): containers named `project_service_1`.
    V1,
    /// Compose v2 (Go): containers named `project-service-1`.
    V2,
}

impl Family {
    /// The version prefix `compose version --short` prints.
    fn prefix(self) -> &'static str {
        match self {
            Family::V1 => "1.",
            Family::V2 => "2.",
        }
    }

    /// Candidate programs, in order of preference.
    fn candidates(self) -> Vec<Vec<String>> {
        let owned = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect();
        match self {
            Family::V1 => vec![owned(&["docker-compose"])],
            Family::V2 => vec![
                owned(&["docker-compose-v2"]),
                owned(&["docker", "compose"]),
                owned(&["docker-compose"]),
            ],
        }
    }

    /// The program (and leading arguments) of this family on this machine.
    pub fn program(self) -> Option<Vec<String>> {
        self.candidates().into_iter().find(|cli| {
            Command::new(&cli[0])
                .args(&cli[1..])
                .args(["version", "--short"])
                .output()
                .is_ok_and(|o| {
                    let text = String::from_utf8_lossy(&o.stdout);
                    o.status.success()
                        && text
                            .trim()
                            .trim_start_matches('v')
                            .starts_with(self.prefix())
                })
        })
    }

    /// The program, or `None` after a loud skip note; panics under `TIERCTL_REQUIRE_DOCKER=1`.
    pub fn require(self) -> Option<Vec<String>> {
        let found = self.program();
        if found.is_none() {
            assert!(
                !required(),
                "TIERCTL_REQUIRE_DOCKER=1 but no compose {self:?} CLI; run `sudo bash .ci/docker`"
            );
            skipped!("no compose {self:?} CLI (run `sudo bash .ci/docker` to install it)");
        }
        found
    }

    /// The separator between project, service and index in container names.
    pub fn separator(self) -> char {
        match self {
            Family::V1 => '_',
            Family::V2 => '-',
        }
    }
}
