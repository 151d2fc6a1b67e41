//! Which compose CLI starts a project again: the family that created its containers.
//!
//! Compose v1 (`docker-compose` 1.x) names containers `project_service_1`, Compose v2
//! (`docker compose`, `docker-compose-v2`) `project-service-1`; starting a v1 project with v2
//! recreates every container under a new name. Each container carries the version of the CLI
//! that created it in its `com.docker.compose.version` label. Pure: [`choose`] takes the labels'
//! family and the installed CLIs (found by [`super::compose_cli`]) and returns the program.

use serde::Serialize;

/// A compose CLI family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `docker-compose` 1.x (Python).
    V1,
    /// Compose v2 (Go): the `docker compose` plugin or a standalone `docker-compose` 2.x.
    V2,
}

impl Family {
    /// The family of a compose version (`1.29.2`, `2.40.3`, `v2.40.3`); `None` for anything else.
    pub fn of_version(version: &str) -> Option<Family> {
        let major = version.trim().trim_start_matches('v').split('.').next()?;
        match major {
            "1" => Some(Family::V1),
            // v2 and every later major keep v2's container names
            m if m.parse::<u32>().is_ok_and(|n| n >= 2) => Some(Family::V2),
            _ => None,
        }
    }

    /// How the family is named in messages.
    pub fn name(self) -> &'static str {
        match self {
            Family::V1 => "Compose v1 (`docker-compose` 1.x)",
            Family::V2 => "Compose v2 (`docker compose`)",
        }
    }
}

/// A compose CLI that answered on this machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Installed {
    /// The program and its leading arguments (`["/usr/bin/docker", "compose"]`).
    pub program: Vec<String>,
    /// Its family.
    pub family: Family,
}

/// The family that created a project's containers, from their `com.docker.compose.version`
/// labels: the family most containers name (v2 on a tie); `None` without any labelled container.
pub fn created_by<'a>(versions: impl IntoIterator<Item = &'a str>) -> Option<Family> {
    let (mut v1, mut v2) = (0usize, 0usize);
    for family in versions.into_iter().filter_map(Family::of_version) {
        match family {
            Family::V1 => v1 += 1,
            Family::V2 => v2 += 1,
        }
    }
    match (v1, v2) {
        (0, 0) => None,
        (v1, v2) if v1 > v2 => Some(Family::V1),
        _ => Some(Family::V2),
    }
}

/// Why no installed CLI fits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    /// No compose CLI is installed at all.
    #[error("no compose CLI found (`docker compose`, `docker-compose-v2` or `docker-compose`)")]
    NoneInstalled,
    /// The project's containers were created by a family that is not installed.
    #[error(
        "the project's containers were created by {}, which is not installed; {} would recreate them under new names",
        .created_by.name(),
        .other.name()
    )]
    FamilyMissing {
        /// The family that created the containers.
        created_by: Family,
        /// The family that is installed.
        other: Family,
    },
}

impl ChoiceError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ChoiceError::NoneInstalled => {
                "install Docker Compose v2 (the `docker compose` plugin), then run again"
            }
            ChoiceError::FamilyMissing {
                created_by: Family::V1,
                ..
            } => {
                "install `docker-compose` 1.x, or recreate the project with `docker compose up -d` first"
            }
            ChoiceError::FamilyMissing { .. } => {
                "install Docker Compose v2 (the `docker compose` plugin or `docker-compose-v2`)"
            }
        }
    }
}

/// The program that starts a project whose containers were created by `created_by` (`None`:
/// no container yet, any family will do), among `installed` (in order of preference).
pub fn choose(
    created_by: Option<Family>,
    installed: &[Installed],
) -> Result<Vec<String>, ChoiceError> {
    let first = installed.first().ok_or(ChoiceError::NoneInstalled)?;
    let Some(family) = created_by else {
        return Ok(first.program.clone());
    };
    installed
        .iter()
        .find(|cli| cli.family == family)
        .map(|cli| cli.program.clone())
        .ok_or(ChoiceError::FamilyMissing {
            created_by: family,
            other: first.family,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(program: &str, family: Family) -> Installed {
        Installed {
            program: program.split(' ').map(str::to_owned).collect(),
            family,
        }
    }

    fn both() -> Vec<Installed> {
        vec![
            cli("/usr/bin/docker compose", Family::V2),
            cli("/usr/bin/docker-compose", Family::V1),
        ]
    }

    #[test]
    fn versions_name_their_family() {
        assert_eq!(Family::of_version("1.29.2"), Some(Family::V1));
        assert_eq!(Family::of_version("2.40.3\n"), Some(Family::V2));
        assert_eq!(Family::of_version("v2.40.3"), Some(Family::V2));
        assert_eq!(Family::of_version("5.0.0"), Some(Family::V2));
        assert_eq!(Family::of_version(""), None);
        assert_eq!(Family::of_version("dev"), None);
    }

    #[test]
    fn the_labels_say_which_family_created_the_project() {
        assert_eq!(created_by(["1.29.2", "1.29.2"]), Some(Family::V1));
        assert_eq!(created_by(["2.40.3"]), Some(Family::V2));
        assert_eq!(
            created_by(["1.29.2", "2.40.3"]),
            Some(Family::V2),
            "a tie goes to v2"
        );
        assert_eq!(created_by(["1.29.2", "1.29.2", "2.40.3"]), Some(Family::V1));
        assert_eq!(created_by(["", "dev"]), None);
        assert_eq!(created_by(Vec::<&str>::new()), None);
    }

    #[test]
    fn a_v1_project_starts_with_docker_compose_v1_even_when_v2_is_preferred() {
        assert_eq!(
            choose(Some(Family::V1), &both()),
            Ok(vec!["/usr/bin/docker-compose".to_owned()])
        );
    }

    #[test]
    fn a_v2_project_starts_with_the_first_v2_cli() {
        let installed = vec![
            cli("/usr/bin/docker-compose", Family::V1),
            cli("/usr/local/bin/docker-compose-v2", Family::V2),
            cli("/usr/bin/docker compose", Family::V2),
        ];
        assert_eq!(
            choose(Some(Family::V2), &installed),
            Ok(vec!["/usr/local/bin/docker-compose-v2".to_owned()])
        );
    }

    #[test]
    fn a_project_without_containers_takes_the_preferred_cli() {
        assert_eq!(
            choose(None, &both()),
            Ok(vec!["/usr/bin/docker".to_owned(), "compose".to_owned()])
        );
    }

    #[test]
    fn a_missing_family_is_refused_with_a_hint() {
        let only_v2 = vec![cli("/usr/bin/docker compose", Family::V2)];
        let err = choose(Some(Family::V1), &only_v2).expect_err("v1 is missing");
        assert_eq!(
            err,
            ChoiceError::FamilyMissing {
                created_by: Family::V1,
                other: Family::V2
            }
        );
        assert!(err.to_string().contains("recreate them under new names"));
        assert!(err.hint().contains("docker-compose"));
        assert_eq!(choose(None, &[]), Err(ChoiceError::NoneInstalled));
        assert_eq!(
            choose(Some(Family::V2), &[]),
            Err(ChoiceError::NoneInstalled)
        );
    }
}
