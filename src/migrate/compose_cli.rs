//! The compose CLIs found on this machine, and the `up -d` that starts the services again with
//! the family that created them ([`compose_family`]).

use std::process::Command;

use serde::Serialize;

use super::compose_family::{self, Family, Installed};
use super::plan::MigratePlan;
use crate::engine::{Engine, Selector};

/// The compose CLIs found on this machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ComposeCli {
    /// The installed CLIs, in order of preference; the project's containers choose among them
    /// ([`compose_family::choose`]).
    pub installed: Vec<Installed>,
    /// `DOCKER_HOST` for it (the endpoint tierctl used).
    pub docker_host: Option<String>,
}

impl ComposeCli {
    /// The compose CLIs on `PATH` (`docker compose`, `docker-compose-v2`, `docker-compose`).
    pub fn find(docker_host: Option<String>) -> Option<ComposeCli> {
        let installed = installed();
        (!installed.is_empty()).then_some(ComposeCli {
            installed,
            docker_host,
        })
    }

    /// The program that starts `project`: the family that created its containers.
    pub fn program(&self, engine: &dyn Engine, project: &str) -> Result<Vec<String>, String> {
        let containers = engine
            .list(&Selector::Project(project.to_owned()))
            .map_err(|e| e.to_string())?;
        let created_by = compose_family::created_by(
            containers
                .iter()
                .filter_map(|c| c.compose_version.as_deref()),
        );
        compose_family::choose(created_by, &self.installed)
            .map_err(|err| format!("project `{project}`: {err}; hint: {}", err.hint()))
    }
}

/// The compose CLIs that answer `version --short` on `PATH`, in order of preference: the
/// `docker compose` plugin, `docker-compose-v2`, `docker-compose` (either family).
fn installed() -> Vec<Installed> {
    let mut out = Vec::new();
    let candidates: [(&str, &[&str]); 3] = [
        ("docker", &["compose"]),
        ("docker-compose-v2", &[]),
        ("docker-compose", &[]),
    ];
    for (name, args) in candidates {
        let Ok(path) = which::which(name) else {
            continue;
        };
        let Ok(output) = Command::new(&path)
            .args(args)
            .args(["version", "--short"])
            .output()
        else {
            continue;
        };
        let version = String::from_utf8_lossy(&output.stdout);
        let Some(family) = output
            .status
            .success()
            .then(|| Family::of_version(&version))
            .flatten()
        else {
            continue;
        };
        let mut program = vec![path.to_string_lossy().into_owned()];
        program.extend(args.iter().map(|a| (*a).to_owned()));
        out.push(Installed { program, family });
    }
    out
}

/// The command line that starts `services` of the plan's project.
pub fn up_command(program: &[String], plan: &MigratePlan, services: &[String]) -> Vec<String> {
    let mut args: Vec<String> = program.to_vec();
    args.extend(["-p".into(), plan.project.clone()]);
    for file in &plan.compose_files {
        args.extend(["-f".into(), file.display().to_string()]);
    }
    args.extend(["up".into(), "-d".into()]);
    args.extend(services.iter().cloned());
    args
}

/// Start `services` of the plan's project with the compose CLI of the family that created its
/// containers (`None`: none installed).
pub fn start(
    cli: Option<&ComposeCli>,
    engine: &dyn Engine,
    plan: &MigratePlan,
    services: &[String],
) -> Result<(), String> {
    let Some(cli) = cli else {
        return Err(format!(
            "no compose CLI found (`docker compose`, `docker-compose-v2` or `docker-compose`): start the services yourself with `{}`",
            up_command(&["docker".into(), "compose".into()], plan, services).join(" ")
        ));
    };
    let args = up_command(&cli.program(engine, &plan.project)?, plan, services);
    let mut command = Command::new(&args[0]);
    command.args(&args[1..]).current_dir(&plan.project_dir);
    if let Some(host) = &cli.docker_host {
        command.env("DOCKER_HOST", host);
    }
    let output = command
        .output()
        .map_err(|err| format!("cannot run `{}`: {err}", args.join(" ")))?;
    if !output.status.success() {
        return Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_up_command_names_the_project_files_and_services() {
        let plan = MigratePlan {
            project: "immich".into(),
            compose_files: vec!["/srv/a.yml".into(), "/srv/b.yml".into()],
            ..MigratePlan::default()
        };
        assert_eq!(
            up_command(&["docker-compose".into()], &plan, &["db".into()]).join(" "),
            "docker-compose -p immich -f /srv/a.yml -f /srv/b.yml up -d db"
        );
    }
}
