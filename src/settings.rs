//! Raw CLI arguments plus the environment turned into resolved settings, in one place.

use std::path::{Path, PathBuf};

use crate::cli::{self, GlobalArgs};
use crate::compose::load::LoadOptions;
use crate::compose::path::absolute;
use crate::durable::{AtAction, Failpoints, TRIGGER_VAR, Trigger};
use crate::migrate::Pause;
use crate::report::{Format, PathStyle};

/// Everything a command needs to know, resolved.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How to load the compose project.
    pub load: LoadOptions,
    /// The tiers.yaml candidates, in order; the first that exists is used.
    pub tiers_candidates: Vec<PathBuf>,
    /// Whether the user named the tiers file (then it must exist).
    pub tiers_explicit: bool,
    /// Output format.
    pub format: Format,
    /// Colour on stdout.
    pub color: bool,
    /// No engine calls.
    pub offline: bool,
    /// How paths are shown.
    pub paths: PathStyle,
    /// Test hook of `migrate` (`TIERCTL_TEST_MIGRATE_PAUSE=STEP[:after]`,
    /// `TIERCTL_TEST_MIGRATE_PAUSE_MS`): sleep at a step so a test can kill tierctl there.
    pub migrate_pause: Option<Pause>,
    /// Test hook of `migrate` and `tiers move` (`TIERCTL_TEST_FAIL=ACTION[:N]`): abort the
    /// process at the N-th hit of a durable action ([`crate::durable`]), as `kill -9` would there.
    pub test_fail: Option<Trigger>,
}

/// The process's view of the world that settings depend on.
pub struct Environment {
    /// Working directory.
    pub cwd: PathBuf,
    /// Process environment.
    pub vars: Vec<(String, String)>,
    /// Whether stdout is a terminal.
    pub stdout_is_terminal: bool,
}

impl Environment {
    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

impl Settings {
    /// Resolves the global arguments against the environment.
    pub fn resolve(args: &GlobalArgs, env: &Environment) -> Settings {
        let home = env
            .var("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        let (tiers_candidates, tiers_explicit) = match &args.tiers {
            Some(path) => (vec![absolute(&env.cwd, path)], true),
            None => {
                let config = env
                    .var("XDG_CONFIG_HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| home.join(".config"));
                // Like the compose file: the working directory, then each parent, then the
                // user's config directory.
                let mut candidates: Vec<PathBuf> =
                    env.cwd.ancestors().map(|d| d.join("tiers.yaml")).collect();
                candidates.push(config.join("tierctl").join("tiers.yaml"));
                (candidates, false)
            }
        };
        let color = !args.no_color && env.var("NO_COLOR").is_none() && env.stdout_is_terminal;
        Settings {
            load: LoadOptions {
                files: args.files.clone(),
                project_name: args.project_name.clone(),
                project_directory: args.project_directory.clone(),
                env_files: args.env_files.clone(),
                profiles: args.profiles.clone(),
                working_dir: env.cwd.clone(),
                process_env: env.vars.clone(),
                home,
            },
            tiers_candidates,
            tiers_explicit,
            format: match args.format {
                cli::Format::Human => Format::Human,
                cli::Format::Json => Format::Json,
                cli::Format::Prometheus => Format::Prometheus,
            },
            color,
            offline: args.offline,
            paths: PathStyle {
                cwd: env.cwd.clone(),
            },
            migrate_pause: Pause::parse(
                env.var("TIERCTL_TEST_MIGRATE_PAUSE"),
                env.var("TIERCTL_TEST_MIGRATE_PAUSE_MS"),
            ),
            test_fail: Trigger::parse(env.var(TRIGGER_VAR)),
        }
    }

    /// The failpoints of a run (migrate's or the mover's points): the `TIERCTL_TEST_FAIL`
    /// trigger's when it names one of their actions, else none.
    pub fn failpoints<P: AtAction>(&self) -> Failpoints<P> {
        self.test_fail
            .as_ref()
            .map(Trigger::failpoints)
            .unwrap_or_default()
    }

    /// The tiers file to read: the first candidate for which `exists` holds.
    pub fn tiers_path(&self, exists: impl Fn(&Path) -> bool) -> Option<&Path> {
        if self.tiers_explicit {
            return self.tiers_candidates.first().map(PathBuf::as_path);
        }
        self.tiers_candidates
            .iter()
            .map(PathBuf::as_path)
            .find(|p| exists(p))
    }
}
