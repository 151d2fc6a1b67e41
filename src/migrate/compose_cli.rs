//! The compose CLIs found on this machine, and the `up -d` that starts the services again with
//! the family that created them ([`compose_family`]). The processes are run by a
//! [`ComposeRunner`]: [`SystemRunner`] in production; a test's fake compose stands in through
//! [`ComposeCli::with_runner`].

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use super::compose_family::{self, Family, Installed};
use super::plan::MigratePlan;
use crate::engine::{Engine, Selector};

/// The compose CLIs found on this machine.
#[derive(Debug)]
pub struct ComposeCli {
    /// The compose CLIs on `PATH`, in order of preference; each is asked its version only when
    /// the choice for a project needs it ([`ComposeCli::program`]): Compose v1 is a Python
    /// program that takes half a second to answer.
    candidates: Vec<Candidate>,
    /// The environment that points it at the engine tierctl used: `DOCKER_HOST`, and for a TLS
    /// endpoint `DOCKER_CERT_PATH` and `DOCKER_TLS_VERIFY`/`DOCKER_TLS` ([`docker_env`]).
    pub docker_env: Vec<(String, String)>,
    /// What runs the CLI's processes.
    runner: Arc<dyn ComposeRunner>,
}

/// What a compose CLI's run said: whether it succeeded, and its stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// It exited 0.
    pub success: bool,
    /// Its stderr.
    pub stderr: String,
}

/// Runs a compose CLI's processes: the seam between the migrate run and `docker compose`.
pub trait ComposeRunner: Send + Sync + std::fmt::Debug {
    /// `PROGRAM version --short`: its stdout when it ran and succeeded.
    fn version(&self, program: &[String]) -> Option<String>;

    /// Run `args` (the program and its arguments) in `dir` with `env` set, against the engine
    /// `env` names and no other (no context or TLS setting of the user's environment).
    fn run(&self, args: &[String], dir: &Path, env: &[(String, String)]) -> std::io::Result<Ran>;
}

/// The compose CLIs of this machine, run as processes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRunner;

impl ComposeRunner for SystemRunner {
    fn version(&self, program: &[String]) -> Option<String> {
        let output = Command::new(&program[0])
            .args(&program[1..])
            .args(["version", "--short"])
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn run(&self, args: &[String], dir: &Path, env: &[(String, String)]) -> std::io::Result<Ran> {
        let mut command = Command::new(&args[0]);
        command.args(&args[1..]).current_dir(dir);
        // the endpoint tierctl used, not a context or TLS setting of the user's environment
        for name in [
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_TLS_VERIFY",
            "DOCKER_TLS",
            "DOCKER_CERT_PATH",
        ] {
            command.env_remove(name);
        }
        command.envs(env.iter().map(|(k, v)| (k, v)));
        let output = command.output()?;
        Ok(Ran {
            success: output.status.success(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// A compose CLI found on `PATH`, and its family once asked (`None`: it did not answer
/// `version --short` with a compose version).
#[derive(Debug)]
struct Candidate {
    program: Vec<String>,
    family: std::sync::OnceLock<Option<Family>>,
}

impl Candidate {
    /// The CLI as [`Installed`], asked its version (by `runner`) the first time.
    fn installed(&self, runner: &dyn ComposeRunner) -> Option<Installed> {
        let family = *self.family.get_or_init(|| {
            let version = runner.version(&self.program)?;
            Family::of_version(&version)
        });
        family.map(|family| Installed {
            program: self.program.clone(),
            family,
        })
    }
}

/// The environment variables that make a compose CLI (v1 or v2) talk to `endpoint` as tierctl
/// does: its host, and for TLS the directory of its material and whether to verify the server
/// (a context's material lives in `contexts/tls/<sha256>/docker/`, which `DOCKER_HOST` alone
/// would not find).
pub fn docker_env(endpoint: &crate::engine::endpoint::Endpoint) -> Vec<(String, String)> {
    let mut env = vec![("DOCKER_HOST".to_owned(), endpoint.host.clone())];
    if let Some(tls) = &endpoint.tls {
        env.push(("DOCKER_CERT_PATH".to_owned(), tls.dir.display().to_string()));
        let flag = if tls.verify {
            "DOCKER_TLS_VERIFY"
        } else {
            "DOCKER_TLS"
        };
        env.push((flag.to_owned(), "1".to_owned()));
    }
    env
}

impl ComposeCli {
    /// The compose CLIs on `PATH` (`docker compose`, `docker-compose-v2`, `docker-compose`);
    /// `None` when none answers `version --short` (a `docker` without the compose plugin is
    /// none). They are asked in order of preference until one answers; the rest only when a
    /// project's choice needs them ([`ComposeCli::program`]).
    pub fn find(endpoint: &crate::engine::endpoint::Endpoint) -> Option<ComposeCli> {
        let programs: [(&str, &[&str]); 3] = [
            ("docker", &["compose"]),
            ("docker-compose-v2", &[]),
            ("docker-compose", &[]),
        ];
        let programs = programs
            .into_iter()
            .filter_map(|(name, args)| {
                let path = which::which(name).ok()?;
                let mut program = vec![path.to_string_lossy().into_owned()];
                program.extend(args.iter().map(|a| (*a).to_owned()));
                Some(program)
            })
            .collect();
        ComposeCli::with_runner(programs, docker_env(endpoint), Arc::new(SystemRunner))
    }

    /// The compose CLIs `programs` (in order of preference) pointed at the engine by
    /// `docker_env`, their processes run by `runner`; `None` when none answers
    /// `version --short`. [`ComposeCli::find`] passes the system's; a test passes a fake.
    pub fn with_runner(
        programs: Vec<Vec<String>>,
        docker_env: Vec<(String, String)>,
        runner: Arc<dyn ComposeRunner>,
    ) -> Option<ComposeCli> {
        let candidates: Vec<Candidate> = programs
            .into_iter()
            .filter(|program| !program.is_empty())
            .map(|program| Candidate {
                program,
                family: std::sync::OnceLock::new(),
            })
            .collect();
        candidates
            .iter()
            .any(|c| c.installed(runner.as_ref()).is_some())
            .then(|| ComposeCli {
                candidates,
                docker_env,
                runner,
            })
    }

    /// The program that starts `project`: the family that created its containers. The CLIs
    /// are asked their version in order of preference, only until one fits.
    pub fn program(&self, engine: &dyn Engine, project: &str) -> Result<Vec<String>, String> {
        let containers = engine
            .list(&Selector::Project(project.to_owned()))
            .map_err(|e| e.to_string())?;
        let created_by = compose_family::created_by(
            containers
                .iter()
                .filter_map(|c| c.compose_version.as_deref()),
        );
        let mut installed = Vec::new();
        let runner = self.runner.as_ref();
        for cli in self.candidates.iter().filter_map(|c| c.installed(runner)) {
            let fits = created_by.is_none_or(|family| family == cli.family);
            installed.push(cli);
            if fits {
                break;
            }
        }
        compose_family::choose(created_by, &installed)
            .map_err(|err| format!("project `{project}`: {err}; hint: {}", err.hint()))
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

/// Start `services` of the plan's project with the compose CLI of the family that created its
/// containers on `engine` (`None`: none installed): on the engine tierctl used, or, with
/// `on_context`, on engine B of `--to-context` from the compose files written for it.
pub fn start(
    cli: Option<&ComposeCli>,
    engine: &dyn Engine,
    plan: &MigratePlan,
    services: &[String],
    on_context: Option<&str>,
) -> Result<(), String> {
    let on_b;
    let (plan, env) = match (on_context, plan.to_context.as_deref()) {
        (Some(context), Some(cross)) => {
            on_b = MigratePlan {
                compose_files: cross.files_for_b(),
                ..plan.clone()
            };
            let env = vec![("DOCKER_CONTEXT".to_owned(), context.to_owned())];
            (&on_b, Some(env))
        }
        _ => (plan, None),
    };
    let Some(cli) = cli else {
        return Err(format!(
            "no compose CLI found (`docker compose`, `docker-compose-v2` or `docker-compose`): start the services yourself with `{}`",
            up_command(&["docker".into(), "compose".into()], plan, services).join(" ")
        ));
    };
    let args = up_command(&cli.program(engine, &plan.project)?, plan, services);
    let env = env.as_deref().unwrap_or(&cli.docker_env);
    let ran = cli
        .runner
        .run(&args, &plan.project_dir, env)
        .map_err(|err| format!("cannot run `{}`: {err}", args.join(" ")))?;
    if !ran.success {
        let shown = match on_context {
            Some(context) => format!("DOCKER_CONTEXT={context} {}", args.join(" ")),
            None => args.join(" "),
        };
        return Err(format!("`{shown}` failed: {}", ran.stderr.trim()));
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

    #[test]
    fn a_tls_endpoint_gives_the_compose_cli_its_material_and_verify_flag() {
        use crate::engine::endpoint::{Endpoint, EndpointKind, EndpointSource, Tls};
        let mut endpoint = Endpoint {
            host: "tcp://127.0.0.1:12376".into(),
            context: "nas".into(),
            source: EndpointSource::ContextFlag,
            kind: EndpointKind::Tcp {
                address: "127.0.0.1:12376".into(),
                https: false,
            },
            skip_tls_verify: false,
            meta_file: None,
            tls: None,
            remote_mark: None,
        };
        let pairs = |e: &Endpoint| {
            docker_env(e)
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(pairs(&endpoint), ["DOCKER_HOST=tcp://127.0.0.1:12376"]);
        endpoint.tls = Some(Tls {
            dir: "/home/a/.docker/contexts/tls/abc/docker".into(),
            ca: None,
            cert: None,
            key: None,
            verify: true,
            origin: "the context's TLS material".into(),
        });
        assert_eq!(
            pairs(&endpoint),
            [
                "DOCKER_HOST=tcp://127.0.0.1:12376",
                "DOCKER_CERT_PATH=/home/a/.docker/contexts/tls/abc/docker",
                "DOCKER_TLS_VERIFY=1"
            ]
        );
        if let Some(tls) = endpoint.tls.as_mut() {
            tls.verify = false;
        }
        assert_eq!(pairs(&endpoint)[2], "DOCKER_TLS=1");
    }
}
