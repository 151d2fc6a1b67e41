//! A compose project on the real engine, shared by the migrate test files: a workspace with
//! `app/compose.yaml` and `app/tiers.yaml` (the one fast tier), a project name unique to this
//! process, the `db` service running on the named volume `dbdata` seeded by a script, and
//! `down -v` plus the volume's removal when it goes out of scope (also after a failed
//! assertion). A test file adds the helpers only it needs in its own `impl Stack` block.

use std::path::PathBuf;
use std::process::Command;

use super::compose_runner::Family;
use super::engine::{engine, helper_image};
use super::migrate_engine::{TIERS, compose_output, project_tierctl, run_compose, stdout};
use super::workspace::Workspace;

/// A running compose project in its own workspace.
pub struct Stack {
    pub ws: Workspace,
    /// The compose project name.
    pub name: String,
    /// The compose CLI family that started it.
    pub family: Family,
    /// That family's command line.
    pub cli: Vec<String>,
    /// The compose file as the project started (`{image}` replaced by the helper image).
    pub old: String,
}

impl Stack {
    /// `compose` (its `{image}` the helper image) started as project `name` by `family`'s
    /// CLI, after a `down -v` of any leftover, its volume seeded by `seed`; `None` (the test
    /// skips loudly) without an engine or that CLI.
    pub fn up(family: Family, name: String, compose: &str, seed: &str) -> Option<Stack> {
        engine()?;
        let cli = family.require()?;
        let old = compose.replace("{image}", &helper_image());
        let ws = Workspace::new()
            .file("app/compose.yaml", &old)
            .file("app/tiers.yaml", TIERS)
            .dir("fast");
        let s = Stack {
            ws,
            name,
            family,
            cli,
            old,
        };
        s.compose(&["down", "-v"]);
        let up = compose_output(&s.cli, &s.name, &s.ws, &["up", "-d"]).expect("compose runs");
        assert!(up.status.success(), "compose up: {}", stdout(&up));
        s.on_volume(seed);
        Some(s)
    }

    /// The named volume's engine name.
    pub fn volume(&self) -> String {
        format!("{}_dbdata", self.name)
    }

    /// Where the migration puts the volume's data.
    pub fn target(&self) -> PathBuf {
        self.ws.path(&format!("fast/{}/dbdata", self.name))
    }

    /// `compose -p NAME ARGS` in the project's directory; whether it succeeded.
    pub fn compose(&self, args: &[&str]) -> bool {
        run_compose(&self.cli, &self.name, &self.ws, args)
    }

    /// The compose file as it is now.
    pub fn compose_text(&self) -> String {
        std::fs::read_to_string(self.ws.path("app/compose.yaml")).expect("compose file")
    }

    /// `tierctl` in the project's directory, for this project, with the test helper image.
    pub fn tierctl(&self) -> assert_cmd::Command {
        project_tierctl(&self.ws, &self.name)
    }

    /// Run `script` in a one-off container with the volume at `/data`.
    pub fn on_volume(&self, script: &str) {
        let out = Command::new("docker")
            .args(["run", "--rm", "-v"])
            .arg(format!("{}:/data", self.volume()))
            .args([&helper_image(), "sh", "-c", script])
            .output()
            .expect("docker run");
        assert!(
            out.status.success(),
            "script on the volume: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Where the engine keeps the volume's data on the host.
    pub fn volume_mountpoint(&self) -> PathBuf {
        let out = Command::new("docker")
            .args(["volume", "inspect", "--format", "{{.Mountpoint}}"])
            .arg(self.volume())
            .output()
            .expect("docker volume inspect");
        assert!(out.status.success(), "volume `{}` exists", self.volume());
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    }

    /// The id of the project's container (`db`), in any state.
    pub fn db(&self) -> String {
        let out = Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label=com.docker.compose.project={}", self.name))
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The `/data` mount source of the `db` container: the volume's name or the bind's path.
    pub fn db_mount(&self) -> String {
        let out = Command::new("docker")
            .args([
                "inspect",
                "--format",
                "{{range .Mounts}}{{if .Name}}{{.Name}}{{else}}{{.Source}}{{end}}{{end}}",
                &self.db(),
            ])
            .output()
            .expect("docker inspect");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `down -v`, then the volume by name (after a migration compose no longer declares it).
    pub fn down(&self) {
        self.compose(&["down", "-v"]);
        crate::leftovers::remove_project(None, &self.name);
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.volume()])
            .output();
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.down();
    }
}
