//! The compose CLI: found on this machine, and the `up -d` that starts the services again.

use std::process::Command;

use serde::Serialize;

use super::plan::MigratePlan;

/// The compose CLI found on this machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ComposeCli {
    /// The program and its leading arguments (`docker compose` or `docker-compose`).
    pub program: Vec<String>,
    /// `DOCKER_HOST` for it (the endpoint tierctl used).
    pub docker_host: Option<String>,
}

impl ComposeCli {
    /// `docker compose` (v2) when it answers, else `docker-compose` (v1), found on `PATH`.
    pub fn find(docker_host: Option<String>) -> Option<ComposeCli> {
        if let Ok(docker) = which::which("docker") {
            let v2 = Command::new(&docker)
                .args(["compose", "version"])
                .output()
                .is_ok_and(|o| o.status.success());
            if v2 {
                return Some(ComposeCli {
                    program: vec![docker.to_string_lossy().into_owned(), "compose".into()],
                    docker_host,
                });
            }
        }
        which::which("docker-compose").ok().map(|p| ComposeCli {
            program: vec![p.to_string_lossy().into_owned()],
            docker_host,
        })
    }
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

/// Start `services` of the plan's project with the compose CLI (`None`: none installed).
pub fn start(
    cli: Option<&ComposeCli>,
    plan: &MigratePlan,
    services: &[String],
) -> Result<(), String> {
    let Some(cli) = cli else {
        return Err(format!(
            "no compose CLI found (`docker compose` or `docker-compose`): start the services yourself with `{}`",
            up_command(&["docker".into(), "compose".into()], plan, services).join(" ")
        ));
    };
    let args = up_command(&cli.program, plan, services);
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
