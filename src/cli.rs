//! Command-line arguments (clap derive only; meaning is given in `settings`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `--format` (`settings` maps it to `report::Format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    Human,
    /// The versioned JSON contract.
    Json,
    /// Prometheus textfile format for node_exporter (`tiers status` and `verify`).
    Prometheus,
}

const TIERS_HELP: &str = "\
A minimal tiers.yaml (without placement rules, built-in defaults put databases, photos,
metadata and ML models on `fast`, media on `warm`, backups and archives on `cold`):

  tiers:
    fast: { root: /Volumes/faststore, kind: nvme }
    warm: { root: /Volumes/warmstore, kind: ssd }
    cold: { root: /Volumes/coldstore, kind: hdd }
  access_points:
    /Volumes/Photos: fast:photos

Exit status: 0 clean, 1 findings, 2 error.";

/// Put Docker Compose data on the right storage tier.
///
/// tierctl finds bind mounts through symlinks or unshared paths, data stuck in named volumes
/// and data on the wrong tier, and rewrites compose files so every mount binds its tier
/// directory directly.
#[derive(Debug, Parser)]
#[command(
    name = "tierctl",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_long_help = TIERS_HELP
)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command (the same names as `docker compose`).
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Compose file (repeatable, merged in order); default: COMPOSE_FILE, else compose.yaml /
    /// docker-compose.yml and its override file in this directory or a parent
    #[arg(short = 'f', long = "file", global = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Project name; default: COMPOSE_PROJECT_NAME, the top-level `name:`, else the directory name
    #[arg(short = 'p', long = "project-name", global = true, value_name = "NAME")]
    pub project_name: Option<String>,
    /// Directory relative paths resolve against; default: the first compose file's directory
    #[arg(long, global = true, value_name = "DIR")]
    pub project_directory: Option<PathBuf>,
    /// Env file for interpolation (repeatable); default: the project directory's .env
    #[arg(long = "env-file", global = true, value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Enable a profile (repeatable); default: COMPOSE_PROFILES
    #[arg(long = "profile", global = true, value_name = "NAME")]
    pub profiles: Vec<String>,
    /// The storage map; default: the first tiers.yaml in the working directory or one of its
    /// parents, then $XDG_CONFIG_HOME/tierctl/tiers.yaml (~/.config/tierctl/tiers.yaml)
    #[arg(long, global = true, env = "TIERCTL_TIERS", value_name = "PATH")]
    pub tiers: Option<PathBuf>,
    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Make no call to a Docker engine
    #[arg(long, global = true)]
    pub offline: bool,
    /// Docker context to use (like `docker --context`); default: DOCKER_CONTEXT, then the
    /// docker CLI's current context. `verify` takes it more than once to check several engines
    #[arg(long = "context", global = true, value_name = "NAME")]
    pub contexts: Vec<String>,
    /// Docker engine to use (like `docker -H`); default: DOCKER_HOST
    #[arg(short = 'H', long = "host", global = true, value_name = "URL")]
    pub hosts: Vec<String>,
    /// No colour, even on a terminal (NO_COLOR is honoured too)
    #[arg(long, global = true)]
    pub no_color: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find every storage problem of a compose project, with its place in the files
    ///
    /// Exit status: 0 when nothing at warning level or above was found, 1 when something was,
    /// 2 on error.
    Audit {
        /// Also audit the stack as `docker stack deploy` runs it on the swarm whose manager
        /// `--context`/`-H` names: placement per node (`swarm-unpinned`, `swarm-shared-bind`).
        #[arg(long)]
        swarm: bool,
    },
    /// List every mount of the project: origin (file:line:col), type, source, target, the tier
    /// its data is on and where placement puts it (the storage view of `docker compose config`)
    Mounts,
    /// Create, check and watch the tier layout tiers.yaml describes
    Tiers {
        /// The tiers command.
        #[command(subcommand)]
        command: TiersCommand,
    },
    /// Render a compose template whose mounts point at the tiers, and create its directories
    New(NewArgs),
    /// Show what `rewrite` would change: a step table and a unified diff of every file
    Plan {
        /// Also plan the Swarm placement constraints `audit --swarm` asks for.
        #[arg(long)]
        swarm: bool,
        /// Write long-syntax binds with `bind.create_host_path: false`
        #[arg(long)]
        strict_binds: bool,
    },
    /// Rewrite compose and .env files so every mount binds its tier directory (dry run unless
    /// --write)
    ///
    /// Keeps comments, order, quotes and anchors; checks the result reloads to the same project
    /// except the changed sources; writes atomically with a timestamped backup, under the
    /// project lock, refusing a file another program changed meanwhile. Refuses to re-point a
    /// named volume that holds data (move it with `tierctl migrate`) unless --force.
    Rewrite {
        /// Also add the Swarm placement constraints `audit --swarm` asks for.
        #[arg(long)]
        swarm: bool,
        /// Write the files (default: print the diff only)
        #[arg(long)]
        write: bool,
        /// Write long-syntax binds with `bind.create_host_path: false`
        #[arg(long)]
        strict_binds: bool,
        /// With --write: re-point mounts even when their data is not at the new path (a named
        /// volume that holds data, or the engine cannot tell); the data stays behind
        #[arg(long, requires = "write")]
        force: bool,
        /// Image for the helper container that looks into a named volume when the host cannot
        /// (needs `sh`, `ls`, `head`); default: busybox:1.36
        #[arg(long, env = "TIERCTL_HELPER_IMAGE", value_name = "IMAGE")]
        helper_image: Option<String>,
    },
    /// Which engine and VM serve the Docker endpoint, what the VM shares, and which bind
    /// sources it does not share, with the exact fix
    ///
    /// Exit status: 0 when the engine sees every bind source, 1 when it does not, 2 on error.
    Vm(VmArgs),
    /// Move named volumes into their tier directories: stop, copy, verify, rewrite, start
    ///
    /// Every step is journaled in `.tierctl/` beside the compose files: `--resume` continues an
    /// interrupted run, `--rollback` undoes it. The source volume is kept unless
    /// `--remove-source`.
    Migrate(MigrateArgs),
    /// Check that every running container of the project sees the host tier at each mount:
    /// filesystem type, device and size on both sides, and a marker file
    ///
    /// Containers are found by their compose labels (the project of this directory), or all
    /// running ones (--all), or by name. Exit status: 0 every mount ok, 1 a mismatch, 2 error.
    Verify(VerifyArgs),
    /// Print a shell completion script
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write it and one page per subcommand to a directory
    Man {
        /// Write `tierctl.1` and every `tierctl-<command>.1` it refers to into this directory
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

/// `tierctl vm` options.
#[derive(Debug, Args)]
pub struct VmArgs {
    /// Prove it from the engine: a helper container per bind source compares the filesystem
    /// it sees with the host's and looks for a marker file
    #[arg(long)]
    pub probe: bool,
    /// Image for the helper containers (needs `sh` and busybox `stat`); default: busybox:1.36
    #[arg(long, env = "TIERCTL_HELPER_IMAGE", value_name = "IMAGE")]
    pub helper_image: Option<String>,
}

/// `tierctl verify` options.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Every running container, not only the compose project's
    #[arg(long, conflicts_with = "containers")]
    pub all: bool,
    /// Check every docker context (`docker context ls`) in one run, grouped by host; with
    /// several `--context`, those. Every compose project on each engine is checked, or the one
    /// `-p` names
    #[arg(long, conflicts_with_all = ["contexts", "hosts"])]
    pub all_contexts: bool,
    /// Containers by name or id (default: the running containers of the compose project)
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Print nothing; only the exit status tells (for cron)
    #[arg(short, long)]
    pub quiet: bool,
    /// Every task of the stack (`-p` or the compose project's name) on the swarm whose manager
    /// `--context`/`-H` names, each on its node through that node's `tierctl.context` label
    #[arg(long, conflicts_with_all = ["all", "all_contexts", "containers"])]
    pub swarm: bool,
    /// Image for the helper containers used when a container has no shell, `stat` or `df`;
    /// default: busybox:1.36
    #[arg(long, env = "TIERCTL_HELPER_IMAGE", value_name = "IMAGE")]
    pub helper_image: Option<String>,
}

/// `tierctl migrate` options.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Show the plan and stop
    #[arg(long, conflicts_with_all = ["resume", "rollback"])]
    pub dry_run: bool,
    /// Do it without asking
    #[arg(short, long)]
    pub yes: bool,
    /// Continue the last interrupted migration from its journal
    #[arg(long, conflicts_with = "rollback")]
    pub resume: bool,
    /// Undo the last migration: compose files back byte for byte, services restarted on their
    /// old volumes; the copies stay unless `--discard-copy`
    #[arg(long)]
    pub rollback: bool,
    /// With `--rollback`: also remove the copies this migration made
    #[arg(long, requires = "rollback")]
    pub discard_copy: bool,
    /// Remove each source volume after its copy verified and the services started; after a
    /// finished migration, removes the source volumes it kept
    #[arg(long, conflicts_with_all = ["resume", "rollback", "prune_source"])]
    pub remove_source: bool,
    /// After a finished migration: remove the source volumes it kept, each only while it still
    /// equals the copy that verified and nothing uses it. Never starts a migration
    #[arg(long, conflicts_with_all = ["resume", "rollback", "dry_run", "stop_first"])]
    pub prune_source: bool,
    /// Stop the services first and copy and verify while they are down (the default copies
    /// while they run and stops them only for the delta and the verify)
    #[arg(long, conflicts_with_all = ["resume", "rollback"])]
    pub stop_first: bool,
    /// Go on although a service was killed at the stop (exit 137, out of memory, or its grace
    /// period ran out): its data may be inconsistent; or although a stopped container outside
    /// the plan uses a source volume (it keeps the old volume); with `--rollback`, copy a
    /// changed tier directory back over a source written since its copy verified
    #[arg(long)]
    pub force: bool,
    /// No `[n/N] step` progress lines on stderr
    #[arg(short, long)]
    pub quiet: bool,
    /// Image for the helper containers (needs busybox `cp`, `find`, `du`, `stat`)
    #[arg(long, env = "TIERCTL_HELPER_IMAGE", value_name = "IMAGE")]
    pub helper_image: Option<String>,
    /// Move the project to the engine of this docker context: its data streamed from this
    /// engine's helpers into that engine's tier directories, verified by manifests computed on
    /// each side, a compose file `<name>.CONTEXT.<ext>` written beside the original (which stays
    /// for `--rollback`), the project started there. This engine's data is kept
    #[arg(long, value_name = "CONTEXT", conflicts_with_all = ["resume", "rollback", "remove_source", "prune_source"])]
    pub to_context: Option<String>,
    /// Move a Swarm service (`--service`) of the stack (`-p`, else the project's name) to this
    /// node (its id, a unique id prefix, or its hostname): its data on the tiers of the node it
    /// runs on streamed into the same tier of NODE (its `tierctl.tier.*` labels), verified on
    /// both nodes' engines (their `tierctl.context` labels), the stack file's binds and
    /// placement constraints rewritten for NODE (comments kept), the service placed there
    /// through the manager (`--context`/`-H`). The old node's data is kept; `--rollback` puts
    /// the service back
    #[arg(long, value_name = "NODE", requires = "service", conflicts_with_all = ["resume", "rollback", "remove_source", "prune_source", "to_context", "check"])]
    pub to_node: Option<String>,
    /// With `--to-node`: the service of the stack file to move
    #[arg(long, value_name = "SERVICE", requires = "to_node")]
    pub service: Option<String>,
    /// Check a finished migration's copies (a scrub, e.g. from cron): each tier directory read
    /// again, its content from the disk, and compared with the manifest the journal kept when
    /// the copy verified; every path that differs is named (content, size, owner, mode, type,
    /// missing, extra). Changes nothing. Exit status: 0 clean, 1 differences, 2 error
    #[arg(long, conflicts_with_all = ["dry_run", "resume", "rollback", "remove_source", "prune_source", "stop_first", "to_context", "yes"])]
    pub check: bool,
    /// With `--check`: read the content of only PCT per cent of the files (`5` or `5%` for a
    /// nightly run), another part each day; every entry's metadata is still compared
    #[arg(long, value_name = "PCT", requires = "check")]
    pub subset: Option<String>,
    /// With `--subset`: what chooses the files (default: today's UTC date, `YYYYMMDD`); the
    /// same seed reads the same files
    #[arg(long, value_name = "TEXT", requires = "subset")]
    pub subset_seed: Option<String>,
    /// With `--to-context`: the tier map of the other host (a tiers.yaml whose roots are paths
    /// on that host); default: that context's map in tiers.yaml (`contexts:`)
    #[arg(long, value_name = "PATH", requires = "to_context")]
    pub to_tiers: Option<std::path::PathBuf>,
}

/// `tierctl tiers ...`.
#[derive(Debug, Subcommand)]
pub enum TiersCommand {
    /// Check roots, filesystems, layout directories, access points and symlinks under the roots
    ///
    /// Exit status: 0 clean (notes allowed), 1 warnings, 2 errors (or the tool failed).
    Validate {
        /// Show passed checks too
        #[arg(short, long, conflicts_with = "quiet")]
        verbose: bool,
        /// Print nothing; only the exit status tells
        #[arg(short, long)]
        quiet: bool,
        /// Directory levels below each root the symlink walk descends at most
        #[arg(long, default_value_t = 32, value_name = "N")]
        max_depth: usize,
        /// Entries the symlink walk examines at most per tier
        #[arg(long, default_value_t = 1_000_000, value_name = "N")]
        max_entries: u64,
        /// Each swarm node's tiers instead (its `tierctl.tier.*` labels, through the manager
        /// `--context`/`-H` names): root, marker, mount, free space, checked through the node's
        /// own context
        #[arg(long, conflicts_with = "verbose")]
        swarm: bool,
    },
    /// Create the layout directories with their owner and mode (idempotent)
    ///
    /// Creates every `layout:` directory and the fixed part of every placement path. A directory
    /// that already holds data keeps its owner and mode unless --fix-permissions.
    /// Exit status: 0 done, 1 something was left alone or blocked, 2 error.
    Init {
        /// Print what would be done, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Also change owner and mode of directories that hold data
        #[arg(long)]
        fix_permissions: bool,
    },
    /// Size, used and free space per tier, usage per top-level directory, alerts
    ///
    /// Exit status: 0 every tier below the warning threshold, 1 a tier at or above it,
    /// 2 a tier at or above the critical threshold or not readable (or the tool failed).
    Status {
        /// Filesystem numbers only: no walk of the directories
        #[arg(short, long)]
        summary: bool,
        /// Warning threshold, percent used
        #[arg(short, long, default_value_t = 75, value_parser = clap::value_parser!(u8).range(0..=100))]
        warning: u8,
        /// Critical threshold, percent used
        #[arg(short, long, default_value_t = 85, value_parser = clap::value_parser!(u8).range(0..=100))]
        critical: u8,
        /// Each swarm node's tiers instead (its `tierctl.tier.*` labels, through the manager
        /// `--context`/`-H` names), measured through the node's own context
        #[arg(long)]
        swarm: bool,
    },
    /// Move files between the branches of a mergerfs pool by its rules, verified
    ///
    /// The pool's `move:` rules select by age, size, path and free space. Each file is copied,
    /// synced, verified from the colder disk and only then removed from the warmer one; a file
    /// open for writing or changed meanwhile waits for the next run.
    /// Exit status: 0 every selected file moved, 1 some skipped or held back, 2 some failed
    /// (or the tool failed).
    Move {
        /// The pool (may be left out when tiers.yaml has one)
        pool: Option<String>,
        /// Show what would move and why; move nothing
        #[arg(long)]
        dry_run: bool,
        /// Copy at most this many bytes per second (`50M`)
        #[arg(long, value_name = "SIZE", value_parser = crate::tiers::pool::parse_size)]
        rate: Option<u64>,
        /// Move at most this many files this run
        #[arg(long, value_name = "N")]
        max_files: Option<usize>,
        /// Run only this rule (by `name:`); repeatable
        #[arg(long = "rule", value_name = "NAME")]
        rules: Vec<String>,
    },
    /// Mount, unmount or show the mergerfs pools of tiers.yaml (a native Linux host, as root)
    Pool {
        /// What to do.
        #[command(subcommand)]
        action: PoolAction,
    },
    /// Create or repair the access-point symlinks (one level, straight to the tier directory)
    ///
    /// Never replaces a real directory that holds data.
    /// Exit status: 0 done, 1 an access point was refused, 2 error.
    Link {
        /// Print what would be done, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Each swarm node (through the manager `--context`/`-H` names): its `tierctl.context`
    /// label and its `tierctl.tier.<name>` labels against tiers.yaml (the map of that
    /// context). Exit 1 when a node's labels differ.
    Nodes {
        /// Set each node's tier labels to what tiers.yaml says for its context.
        #[arg(long)]
        write: bool,
        /// Label node NODE (id or hostname) with `tierctl.context=CONTEXT` first.
        #[arg(long, value_name = "NODE=CONTEXT")]
        assign: Vec<String>,
    },
}

/// `tierctl tiers pool ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum PoolAction {
    /// Mount each pool (or the one named) with mergerfs; a pool already mounted is left as it is
    ///
    /// Exit status: 0 mounted, 1 not, 2 error.
    Mount {
        /// The pool (default: every pool)
        pool: Option<String>,
    },
    /// Unmount each pool (or the one named)
    Unmount {
        /// The pool (default: every pool)
        pool: Option<String>,
    },
    /// Show each pool's branches, policy and mount
    Status {
        /// The pool (default: every pool)
        pool: Option<String>,
    },
}

/// `tierctl new TEMPLATE`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The template (`immich`, `plex`, `postgres-app`); `--list` shows them
    #[arg(required_unless_present = "list")]
    pub template: Option<String>,
    /// The directory to write compose.yaml and .env into
    #[arg(short, long, value_name = "DIR", required_unless_present = "list")]
    pub output: Option<PathBuf>,
    /// Print the rendered files and the directories, write and create nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Replace project files that differ from the template (your edits; each is backed up
    /// first as FILE.tierctl-TIMESTAMP.bak). Without it, `new` again keeps identical files,
    /// creates missing ones and refuses when any differs
    #[arg(long)]
    pub force: bool,
    /// List the templates
    #[arg(long)]
    pub list: bool,
}
