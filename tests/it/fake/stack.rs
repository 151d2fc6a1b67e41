//! [`FakeStack`]: a compose project with data on the fake engine, and the migrate run driven as
//! `app::migrate` drives it: plan, the absent-tier check, preflight under the project lock, the
//! journal, the step loop; `--resume`, `--rollback [--discard-copy]`, `--prune-source` on the
//! newest journal. A run can crash at a step ([`Crash`]): before it runs (its start journaled)
//! or after it ran (before its end is journaled), as a `kill -9` at the `Pause` hook's two
//! points would; the next call is then a new process's.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tierctl::compose::load::{LoadOptions, load};
use tierctl::compose::model::ComposeProject;
use tierctl::engine::MountSource;
use tierctl::migrate::cross_plan;
use tierctl::migrate::durable::Failpoints;
use tierctl::migrate::journal::{self, Journal, JournalState};
use tierctl::migrate::plan::MigratePlan;
use tierctl::migrate::site::OtherEngine;
use tierctl::migrate::{self, MigrateContext, MigrateError, Outcome};
use tierctl::probe::DiskFiles;
use tierctl::tiers::Tiers;

use super::compose::FakeCompose;
use super::engine::FakeEngine;
use super::sandbox;
use super::views::FakeViews;
use crate::workspace::Workspace;

/// The helper image the fake knows.
pub const IMAGE: &str = "tierctl-helper:busybox";

/// Two services on named volumes; `web` needs `db` (stopped first, started after).
pub const COMPOSE: &str = r#"services:
  db:
    image: postgres:16
    stop_grace_period: 5s
    volumes:
      - dbdata:/var/lib/postgresql/data   # the database
  web:
    image: nginx
    depends_on: [db]
    volumes:
      - webdata:/srv
volumes:
  dbdata:
  webdata:
"#;

/// One fast tier; each volume goes to `fast/<project>/<volume>`.
pub const TIERS: &str = r#"tiers:
  fast: { root: "{root}/fast" }
placement:
  - tier: fast
    path: "{project}/{volume}"
"#;

/// Engine B's context name (`--to-context fakeb`).
pub const B_CONTEXT: &str = "fakeb";

/// B's tier map (`--to-tiers`): one fast tier at `bfast/`, a path on B's host.
pub const TIERS_B: &str = r#"tiers:
  fast: { root: "{root}/bfast" }
placement:
  - tier: fast
    path: "{project}/{volume}"
"#;

/// Engine B of `migrate --to-context`: another fake engine, like another machine's (its
/// `host_path` answers nothing: tierctl reaches its trees only through helpers and archive
/// streams there), started by the same compose CLI under `DOCKER_CONTEXT`.
pub struct OtherSide {
    /// The engine.
    pub engine: Arc<FakeEngine>,
    /// Its docker context.
    pub context: String,
}

/// What `tierctl migrate` plans for `project` (loaded with `load_options`) on `tiers`, the
/// facts read on this machine: the rewrite plan (checked by reloading the patched files) and
/// the migration built from it.
pub fn migration(
    project: &ComposeProject,
    tiers: &Tiers,
    load_options: &LoadOptions,
    options: migrate::plan::Options,
) -> (tierctl::plan::Plan, MigratePlan) {
    let facts = tierctl::probe::paths(tierctl::audit::host_paths(project));
    let plan = tierctl::plan::plan(&tierctl::plan::Input {
        project,
        tiers,
        facts: &facts,
        strict_binds: false,
        mode: tierctl::audit::Mode::Migrate,
    });
    let patched = tierctl::rewrite::patch(&plan, project).expect("patch");
    tierctl::rewrite::check_reload(&plan, project, load_options, &DiskFiles, &patched)
        .expect("the rewrite reloads");
    let migration =
        migrate::plan::build(project, &plan, &patched, options).expect("a migration plan");
    (plan, migration)
}

/// Where a run crashes: at the step with this id (`copy:0`, `rewrite`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Crash {
    /// Its start is journaled, nothing of it ran.
    Before(String),
    /// It ran, its end is not journaled.
    After(String),
}

/// How a run ended.
#[derive(Debug)]
pub enum Ended {
    /// It finished.
    Done(Outcome),
    /// It stopped with an error.
    Failed(MigrateError),
    /// It crashed where it was told to.
    Crashed,
}

impl Ended {
    /// The outcome of a finished run (panics naming how it ended otherwise).
    pub fn done(self) -> Outcome {
        match self {
            Ended::Done(outcome) => outcome,
            other => panic!("the run did not finish: {other:?}"),
        }
    }

    /// The error of a failed run (panics naming how it ended otherwise).
    pub fn failed(self) -> MigrateError {
        match self {
            Ended::Failed(e) => e,
            other => panic!("the run did not fail: {other:?}"),
        }
    }
}

/// The panic a crash point raises (the test's `kill -9`; also a failpoint's abort,
/// `fake::failpoint`).
pub struct Killed;

/// A project on the fake engine (see the module's text).
pub struct FakeStack {
    /// The workspace: `app/compose.yaml`, `tiers.yaml`, the tier root `fast/`.
    pub ws: Workspace,
    /// The engine.
    pub engine: Arc<FakeEngine>,
    /// Its compose CLI.
    pub compose: Arc<FakeCompose>,
    /// The compose project name.
    pub name: String,
    /// `--force` on every run.
    pub force: bool,
    /// The helper image the runs name.
    pub image: String,
    /// What "verify mounts" sees.
    pub views: FakeViews,
    /// No compose CLI is installed.
    pub no_compose: bool,
    /// Engine B: every run is `--to-context B` ([`FakeStack::with_b`]).
    pub b: Option<OtherSide>,
    /// The engine the runs talk to instead of [`FakeStack::engine`] (`fake::outage`).
    pub via: Option<Arc<dyn tierctl::engine::Engine>>,
}

impl FakeStack {
    /// [`COMPOSE`] up on a fresh fake engine, each volume filled with a small tree (owners,
    /// modes, a symlink, a hardlink, a FIFO, an empty directory); `None` (skipped loudly)
    /// where the fake cannot run.
    pub fn new(name: &str) -> Option<FakeStack> {
        Self::with_compose(name, COMPOSE)
    }

    /// [`FakeStack::new`] with another compose file.
    pub fn with_compose(name: &str, compose: &str) -> Option<FakeStack> {
        if let Some(why) = sandbox::unavailable() {
            if crate::engine::required() {
                panic!("TIERCTL_REQUIRE_DOCKER=1 but the fake engine cannot run: {why}");
            }
            skipped!("fake engine: {why}");
            return None;
        }
        let ws = Workspace::new()
            .file("app/compose.yaml", compose)
            .file("tiers.yaml", TIERS)
            .dir("fast");
        let engine = Arc::new(FakeEngine::new(IMAGE));
        let compose = FakeCompose::new(engine.clone());
        let views = FakeViews::new(engine.clone());
        let stack = FakeStack {
            ws,
            engine,
            compose,
            name: name.to_owned(),
            force: false,
            image: IMAGE.into(),
            views,
            no_compose: false,
            b: None,
            via: None,
        };
        stack
            .compose
            .up(&stack.name, &[], &stack.ws.path("app"), &[])
            .expect("the fake compose starts the project");
        for key in ["dbdata", "webdata"] {
            if stack.engine.volume_dir(&stack.volume_name(key)).exists() {
                fill(&stack.volume(key), key);
            }
        }
        stack.engine.clear_calls();
        Some(stack)
    }

    /// [`FakeStack::new`] with engine B beside A: the runs move the project there
    /// (`--to-context fakeb --to-tiers tiers-b.yaml`); B's tier root is `bfast/`.
    pub fn with_b(name: &str) -> Option<FakeStack> {
        let mut stack = Self::new(name)?;
        let root = stack.ws.root().display().to_string();
        fs::write(
            stack.ws.path("tiers-b.yaml"),
            TIERS_B.replace("{root}", &root),
        )
        .expect("tiers-b.yaml");
        fs::create_dir(stack.ws.path("bfast")).expect("B's tier root");
        let engine = Arc::new(FakeEngine::new(IMAGE));
        engine.like_a_vm();
        stack.compose.add_context(B_CONTEXT, engine.clone());
        stack.b = Some(OtherSide {
            engine,
            context: B_CONTEXT.into(),
        });
        Some(stack)
    }

    /// Engine B (panics when the stack has none).
    pub fn b(&self) -> &FakeEngine {
        &self.b.as_ref().expect("a stack with engine B").engine
    }

    /// B's tier directory volume `key` moves to.
    pub fn b_tier_dir(&self, key: &str) -> PathBuf {
        self.ws.path("bfast").join(&self.name).join(key)
    }

    /// The compose file written for B.
    pub fn b_compose_file(&self) -> PathBuf {
        self.ws.path(&format!("app/compose.{B_CONTEXT}.yaml"))
    }

    /// B's tier map (its roots are B's paths: not resolved here).
    pub fn tiers_b(&self) -> Tiers {
        let path = self.ws.path("tiers-b.yaml");
        let text = fs::read_to_string(&path).expect("tiers-b.yaml");
        tierctl::tiers::load(&path, &text).expect("tiers-b.yaml loads")
    }

    /// The running container of `service` on engine B: its mounts (source, target).
    pub fn running_on_b(&self, service: &str) -> Option<Vec<(MountSource, String)>> {
        running_in(self.b(), &format!("{}-{service}-1", self.name))
    }

    /// The engine's name of volume `key`.
    pub fn volume_name(&self, key: &str) -> String {
        format!("{}_{key}", self.name)
    }

    /// The directory of volume `key`.
    pub fn volume(&self, key: &str) -> PathBuf {
        self.engine.volume_dir(&self.volume_name(key))
    }

    /// The tier directory volume `key` moves to.
    pub fn tier_dir(&self, key: &str) -> PathBuf {
        self.ws.path("fast").join(&self.name).join(key)
    }

    /// The compose file's text now.
    pub fn compose_text(&self) -> String {
        fs::read_to_string(self.ws.path("app/compose.yaml")).expect("compose file")
    }

    fn load_options(&self) -> LoadOptions {
        LoadOptions {
            project_name: Some(self.name.clone()),
            working_dir: self.ws.path("app"),
            ..LoadOptions::default()
        }
    }

    /// The project as it is on disk.
    pub fn project(&self) -> ComposeProject {
        load(&self.load_options(), &DiskFiles).expect("the project loads")
    }

    /// tiers.yaml, roots resolved.
    pub fn tiers(&self) -> Tiers {
        let path = self.ws.path("tiers.yaml");
        let text = fs::read_to_string(&path).expect("tiers.yaml");
        tierctl::tiers::load_resolved(&path, &text, &tierctl::fsx::root_on_disk)
            .expect("tiers.yaml loads")
    }

    /// The context a run works with (a new one per run: a new process); with engine B, a move
    /// there as `app::to_context` builds it (B's roots, no mount views).
    pub fn ctx(&self) -> MigrateContext<'_> {
        if let Some(b) = &self.b {
            let roots = self
                .tiers_b()
                .tiers
                .values()
                .map(|t| t.root.clone())
                .collect();
            return MigrateContext {
                roots,
                views: None,
                tiers: None,
                to: Some(OtherEngine {
                    engine: b.engine.as_ref(),
                    context: b.context.clone(),
                    swarm: None,
                }),
                ..self.ctx_here()
            };
        }
        self.ctx_here()
    }

    fn ctx_here(&self) -> MigrateContext<'_> {
        MigrateContext {
            engine: self.via.as_deref().unwrap_or(self.engine.as_ref()),
            image: self.image.clone(),
            compose: (!self.no_compose).then(|| self.compose.cli()),
            roots: self
                .tiers()
                .tiers
                .values()
                .map(|t| t.root.clone())
                .collect(),
            quiet: true,
            views: Some(&self.views),
            pause: None,
            hook: None,
            failpoints: Failpoints::default(),
            invocation: Vec::new(),
            helper_cleanup: None,
            vm: None,
            force: self.force,
            elsewhere: None,
            tiers: None,
            to: None,
        }
    }

    /// The migration `tierctl migrate [--stop-first] [--remove-source]` plans.
    pub fn plan(&self, stop_first: bool, remove_source: bool) -> MigratePlan {
        let options = migrate::plan::Options {
            remove_source,
            pre_copy: !stop_first,
        };
        let project = self.project();
        if self.b.is_some() {
            return self.plan_to_b(&project, options);
        }
        migration(&project, &self.tiers(), &self.load_options(), options).1
    }

    /// What `tierctl migrate --to-context B` plans, as `app::to_context` plans it: the local
    /// plan with B's tier map, then a copy of each compose file for B.
    fn plan_to_b(&self, project: &ComposeProject, options: migrate::plan::Options) -> MigratePlan {
        let tiers = self.tiers_b();
        let options = migrate::plan::Options {
            remove_source: false,
            ..options
        };
        let local = migration(project, &tiers, &self.load_options(), options).1;
        assert_eq!(cross_plan::unsupported(&local, &project.given), None);
        let originals: Vec<(PathBuf, String)> = project
            .given
            .iter()
            .map(|f| {
                let text = project.texts.get(f).map(|t| t.text.to_string());
                (f.clone(), text.unwrap_or_default())
            })
            .collect();
        let services = project
            .services
            .iter()
            .filter(|(_, s)| s.enabled)
            .map(|(name, s)| (name.clone(), s.image.clone()))
            .collect();
        let roots = tiers.tiers.values().map(|t| t.root.clone()).collect();
        cross_plan::build(local, B_CONTEXT, roots, services, &originals)
    }

    /// A new migration of `plan` (the absent-tier check, preflight under the lock, a journal,
    /// the run), crashing at `crash`.
    pub fn migrate(&self, plan: &MigratePlan, crash: Option<Crash>) -> Ended {
        self.migrate_hooked(plan, &crash_at(crash))
    }

    /// [`FakeStack::migrate`] with `hook(step, after)` called before each step runs (its start
    /// journaled) and after it ran (its end not yet journaled): a test changes the trees there,
    /// or crashes ([`crash_at`]).
    pub fn migrate_hooked(&self, plan: &MigratePlan, hook: Hook<'_>) -> Ended {
        self.migrate_with(plan, hook, Failpoints::default())
    }

    /// [`FakeStack::migrate_hooked`] with the run's failpoints (issue 21: the journal's
    /// creation and every durable action of the run).
    pub fn migrate_with(&self, plan: &MigratePlan, hook: Hook<'_>, fail: Failpoints) -> Ended {
        let mut ctx = self.ctx();
        ctx.hook = Some(hook);
        ctx.failpoints = fail.clone();
        let lock = tierctl::lock::project(&self.project()).expect("the project lock");
        let tiers = self.tiers();
        let targets: Vec<&Path> = plan.copies.iter().map(|c| c.job.target.as_path()).collect();
        // B's tiers are looked at by helpers there (the site's checks), not here
        if self.b.is_none()
            && let Err(why) = tierctl::tierfs::refuse_absent_tiers(
                &tiers,
                &tierctl::tierfs::presences(&tiers),
                &targets,
            )
        {
            return Ended::Failed(MigrateError::Refused(why.to_string()));
        }
        if let Err(e) = migrate::preflight(&ctx, plan, &lock) {
            return Ended::Failed(e);
        }
        let dir = journal::dir(&plan.project_dir);
        let id = format!("fake-{:03}", journal_count(&dir) + 1);
        let created = catch_unwind(AssertUnwindSafe(|| {
            Journal::create_with(&dir, &id, plan, fail)
        }));
        let mut journal = match created {
            Ok(Ok(journal)) => journal,
            Ok(Err(e)) => return Ended::Failed(e.into()),
            Err(payload) if payload.is::<Killed>() => return Ended::Crashed,
            Err(payload) => std::panic::resume_unwind(payload),
        };
        let records = journal::read(&journal.path).expect("journal records");
        ended(|| migrate::run(&ctx, &mut journal, &records))
    }

    /// `tierctl migrate --resume` of the newest journal, crashing at `crash`.
    pub fn resume(&self, crash: Option<Crash>) -> Ended {
        self.resume_with(crash, Failpoints::default())
    }

    /// [`FakeStack::resume`] with the run's failpoints.
    pub fn resume_with(&self, crash: Option<Crash>, fail: Failpoints) -> Ended {
        let hook = crash_at(crash);
        let mut ctx = self.ctx();
        ctx.hook = Some(&hook);
        ctx.failpoints = fail;
        let _lock = tierctl::lock::project(&self.project()).expect("the project lock");
        let (mut journal, records) = Journal::open(&self.journal()).expect("journal");
        if let Some(state) = JournalState::of(&records) {
            ctx.remove_helpers(&journal.id);
            if let Err(e) = migrate::preflight::outside_users(&ctx, &state, &journal.id) {
                return Ended::Failed(e);
            }
        }
        ended(|| migrate::run(&ctx, &mut journal, &records))
    }

    /// `tierctl migrate --rollback [--discard-copy]` of the newest journal.
    pub fn rollback(&self, discard_copy: bool) -> Result<Outcome, MigrateError> {
        self.rollback_as(discard_copy, self.force, Failpoints::default())
    }

    /// `tierctl migrate --rollback --force` of the newest journal.
    pub fn rollback_forced(&self) -> Result<Outcome, MigrateError> {
        self.rollback_as(false, true, Failpoints::default())
    }

    /// [`FakeStack::rollback`] with the run's failpoints (an abort unwinds: [`ended`]).
    pub fn rollback_with(
        &self,
        discard_copy: bool,
        fail: Failpoints,
    ) -> Result<Outcome, MigrateError> {
        self.rollback_as(discard_copy, self.force, fail)
    }

    fn rollback_as(
        &self,
        discard_copy: bool,
        force: bool,
        fail: Failpoints,
    ) -> Result<Outcome, MigrateError> {
        let mut ctx = MigrateContext {
            force,
            ..self.ctx()
        };
        ctx.failpoints = fail;
        let _lock = tierctl::lock::project(&self.project()).expect("the project lock");
        let (mut journal, records) = Journal::open(&self.journal()).expect("journal");
        let reload = || load(&self.load_options(), &DiskFiles);
        migrate::rollback(&ctx, &mut journal, &records, discard_copy, &reload)
    }

    /// [`FakeStack::rollback`] with `hook` at the rollback's points (`rollback:restore`,
    /// `copy-back:N`, `remove-copy:N`, ...): a crash there ends it as [`Ended::Crashed`].
    pub fn rollback_hooked(&self, discard_copy: bool, hook: Hook<'_>) -> Ended {
        let mut ctx = self.ctx();
        ctx.hook = Some(hook);
        let _lock = tierctl::lock::project(&self.project()).expect("the project lock");
        let (mut journal, records) = Journal::open(&self.journal()).expect("journal");
        let reload = || load(&self.load_options(), &DiskFiles);
        ended(|| migrate::rollback(&ctx, &mut journal, &records, discard_copy, &reload))
    }

    /// `tierctl migrate --prune-source` of the newest journal.
    pub fn prune(&self) -> Result<Outcome, MigrateError> {
        self.prune_with(Failpoints::default())
    }

    /// [`FakeStack::prune`] with the run's failpoints (an abort unwinds: [`ended`]).
    pub fn prune_with(&self, fail: Failpoints) -> Result<Outcome, MigrateError> {
        let mut ctx = self.ctx();
        ctx.failpoints = fail;
        let _lock = tierctl::lock::project(&self.project()).expect("the project lock");
        let (mut journal, records) = Journal::open(&self.journal()).expect("journal");
        let reload = || load(&self.load_options(), &DiskFiles);
        migrate::prune_sources(&ctx, &mut journal, &records, &reload)
    }

    /// The newest journal.
    pub fn journal(&self) -> PathBuf {
        journal::latest(&journal::dir(&self.ws.path("app"))).expect("a journal")
    }

    /// The newest journal's state.
    pub fn state(&self) -> JournalState {
        let records = journal::read(&self.journal()).expect("journal records");
        JournalState::of(&records).expect("a journal with a plan")
    }

    /// The running container of `service`: its mounts (source, target).
    pub fn running(&self, service: &str) -> Option<Vec<(MountSource, String)>> {
        running_in(&self.engine, &format!("{}-{service}-1", self.name))
    }
}

/// The running container `name` of `engine`: its mounts (source, target).
fn running_in(engine: &FakeEngine, name: &str) -> Option<Vec<(MountSource, String)>> {
    engine
        .containers()
        .into_iter()
        .find(|c| c.running && c.name == name)
        .map(|c| c.mounts.into_iter().map(|(s, t, _)| (s, t)).collect())
}

/// What a run calls before (`false`) and after (`true`) each step, with the step's id.
pub type Hook<'a> = &'a dyn Fn(&str, bool);

/// The hook that crashes at `crash` (none: never).
pub fn crash_at(crash: Option<Crash>) -> impl Fn(&str, bool) {
    move |id: &str, after: bool| {
        let here = match &crash {
            Some(Crash::Before(at)) => !after && at == id,
            Some(Crash::After(at)) => after && at == id,
            None => false,
        };
        if here {
            std::panic::resume_unwind(Box::new(Killed));
        }
    }
}

/// Run `run` (its context's hook may crash, [`crash_at`]); a crash ends it as
/// [`Ended::Crashed`].
pub fn ended(run: impl FnOnce() -> Result<Outcome, MigrateError>) -> Ended {
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(outcome)) => Ended::Done(outcome),
        Ok(Err(e)) => Ended::Failed(e),
        Err(payload) if payload.is::<Killed>() => Ended::Crashed,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// How many journals `dir` holds.
fn journal_count(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("journal-"))
            .count()
    })
}

/// A small tree with what a copy must keep: owners, modes, times, a symlink, a hardlink, a
/// FIFO, an empty directory.
pub fn fill(dir: &Path, key: &str) {
    let at = |rel: &str| dir.join(rel);
    fs::create_dir_all(at("base/1")).expect("mkdir");
    fs::create_dir_all(at("empty")).expect("mkdir");
    fs::write(at("PG_VERSION"), "16\n").expect("file");
    fs::write(at("base/1/table"), format!("{key} rows\n").repeat(1000)).expect("file");
    fs::write(at("secret"), "s3cret\n").expect("file");
    fs::set_permissions(at("secret"), fs::Permissions::from_mode(0o600)).expect("chmod");
    fs::hard_link(at("base/1/table"), at("hardlink")).expect("hardlink");
    std::os::unix::fs::symlink("base/1/table", at("link")).expect("symlink");
    nix::unistd::mkfifo(&at("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o640))
        .expect("fifo");
    for rel in [
        "base",
        "base/1",
        "base/1/table",
        "secret",
        "PG_VERSION",
        "empty",
        "fifo",
        ".",
    ] {
        std::os::unix::fs::lchown(at(rel), Some(999), Some(999)).expect("chown");
    }
    std::os::unix::fs::lchown(at("link"), Some(70), Some(70)).expect("chown link");
    fs::set_permissions(at("base"), fs::Permissions::from_mode(0o700)).expect("chmod");
}

/// One entry of a tree as the test compares it: type, mode, owner, size, mtime (not of
/// directories), link target or content (BLAKE3, hex), hardlink count. The mtime is in whole
/// seconds, as the verify compares it: the pre-copy helper's busybox `cp -a` drops the
/// sub-second part (a copy on the host keeps nanoseconds).
pub type Entry = (String, u32, u32, u32, u64, i64, String, u64);

/// Every entry of the tree at `root`, by relative path (`.` the root), read with `lstat`.
pub fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    walk(root, ".", &mut out);
    out
}

fn walk(path: &Path, rel: &str, out: &mut BTreeMap<String, Entry>) {
    let meta = fs::symlink_metadata(path).expect("lstat");
    let ft = meta.file_type();
    let (kind, body, mtime) = if ft.is_dir() {
        ("dir", Vec::new(), 0)
    } else if ft.is_symlink() {
        let target = fs::read_link(path).expect("readlink");
        ("link", target.into_os_string().into_encoded_bytes(), 0)
    } else if ft.is_file() {
        ("file", fs::read(path).expect("read"), meta.mtime())
    } else {
        ("other", Vec::new(), meta.mtime())
    };
    let nlink = if ft.is_dir() { 0 } else { meta.nlink() };
    out.insert(
        rel.to_owned(),
        (
            kind.to_owned(),
            meta.mode() & 0o7777,
            meta.uid(),
            meta.gid(),
            if ft.is_dir() { 0 } else { meta.size() },
            mtime,
            blake3::hash(&body).to_hex()[..16].to_owned(),
            nlink,
        ),
    );
    if ft.is_dir() {
        let mut names: Vec<_> = fs::read_dir(path)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        for name in names {
            // a name that is not UTF-8 is keyed lossily, and read by its bytes
            let shown = name.to_string_lossy();
            let child = if rel == "." {
                shown.into_owned()
            } else {
                format!("{rel}/{shown}")
            };
            walk(&path.join(&name), &child, out);
        }
    }
}
