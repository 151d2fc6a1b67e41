//! Issue 20 item 5: one mount identity to the end. The loader's `MountId` names a mount in the
//! migrate plan (its expected mounts and the mounts each copy serves), in the journal that
//! holds the plan, and in `rewrite`'s stranded-data check; the one (service, target) join left
//! is `verify::identify`, where a container's mounts come back from the engine.

use std::fs;
use std::path::Path;

use tierctl::compose::load::{LoadOptions, load};
use tierctl::compose::model::{ComposeProject, MountId};
use tierctl::migrate;
use tierctl::migrate::plan::MigratePlan;
use tierctl::plan::Plan;
use tierctl::probe::DiskFiles;
use tierctl::stranded;

use crate::workspace::Workspace;

const COMPOSE: &str = "name: app
services:
  db:
    image: postgres:16
    volumes:
      - pgdata:/var/lib/postgresql/data
  backup:
    image: busybox
    volumes:
      - ./notes:/notes
      - pgdata:/backup:ro
volumes:
  pgdata:
";

/// The project of [`COMPOSE`], its rewrite plan for a migration, and the migration
/// `tierctl migrate --stop-first` plans for it.
fn planned(ws: &Workspace) -> (ComposeProject, Plan, MigratePlan) {
    let options = LoadOptions {
        working_dir: ws.path("app"),
        ..LoadOptions::default()
    };
    let project = load(&options, &DiskFiles).expect("the project loads");
    let tiers_path = ws.path("tiers.yaml");
    let tiers_text = fs::read_to_string(&tiers_path).expect("tiers.yaml");
    let tiers =
        tierctl::tiers::load_resolved(&tiers_path, &tiers_text, &tierctl::fsx::root_on_disk)
            .expect("tiers.yaml loads");
    let stop_first = migrate::plan::Options {
        remove_source: false,
        pre_copy: false,
    };
    let (plan, migration) = crate::fake::stack::migration(&project, &tiers, &options, stop_first);
    (project, plan, migration)
}

#[test]
fn issue20_item5_the_migrate_plan_names_each_mount_by_the_loaders_id() {
    let ws = Workspace::new()
        .file("app/compose.yaml", COMPOSE)
        .dir("app/notes")
        .dir("fast");
    let tiers = format!(
        "tiers:\n  fast: {{ root: \"{}\" }}\nplacement:\n  - tier: fast\n    path: \"{{project}}/{{volume}}\"\n",
        ws.path("fast").display()
    );
    fs::write(ws.path("tiers.yaml"), tiers).expect("tiers.yaml");
    let (project, rewrite, plan) = planned(&ws);
    // the volume's two mounts and the bind outside the tiers
    assert_eq!(plan.mounts.len(), 3, "{plan:#?}");
    assert_eq!(plan.copies.len(), 2, "{plan:#?}");
    for expected in &plan.mounts {
        let (service, mount) = project
            .mount(expected.mount)
            .unwrap_or_else(|| panic!("{} is a mount of the project", expected.mount));
        assert_eq!(
            (service.name.as_str(), mount.target.as_str()),
            (expected.service.as_str(), expected.target.as_str())
        );
    }
    // one volume, two services: one copy serving both mounts, by id
    let id_at = |service: &str, target: &str| -> MountId {
        project.services[service]
            .mounts
            .iter()
            .find(|m| m.target == target)
            .map(|m| m.id)
            .expect("the mount is in the project")
    };
    let volume = plan
        .copies
        .iter()
        .find(|c| c.key == "pgdata")
        .expect("the volume is copied");
    assert_eq!(
        volume.mounts,
        [
            id_at("db", "/var/lib/postgresql/data"),
            id_at("backup", "/backup")
        ]
    );
    for copy in &plan.copies {
        for id in &copy.mounts {
            let expected = plan.expected(*id).expect("a copy serves an expected mount");
            assert_eq!(expected.source, copy.job.target);
        }
    }
    // `rewrite`'s stranded-data check finds each re-pointed mount by the step's id
    let repointed = stranded::repointed(&project, &rewrite);
    assert_eq!(repointed.len(), 3, "{repointed:#?}");
    for r in &repointed {
        let expected = plan
            .expected(r.mount)
            .expect("re-pointed mounts are the plan's");
        assert_eq!(
            (&r.service, &r.target),
            (&expected.service, &expected.target)
        );
        let pgdata = stranded::From::Volume("app_pgdata".into());
        assert_eq!(r.from == pgdata, r.target != "/notes", "{r:?}");
    }
    // the journal keeps them
    let line = serde_json::to_string(&plan).expect("serialises");
    let back: MigratePlan = serde_json::from_str(&line).expect("deserialises");
    assert_eq!(back, plan);
}

#[test]
fn issue20_item5_targets_are_joined_only_where_a_containers_mounts_come_back_from_the_engine() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    walk(&src, &mut |path, text| {
        let rel = path
            .strip_prefix(&src)
            .expect("under src")
            .display()
            .to_string();
        // the loader merges a service's entries by target before mounts have ids
        if rel.starts_with("compose/") {
            return;
        }
        let n = text.matches("target::same(").count();
        if n > 0 {
            found.push((rel, n));
        }
    });
    // issue 25: a subtree's nested bind has no mount (and no id) until `rewrite` adds it:
    // whether the service has one is asked by its target (`nested_bind::unsplit`), and the
    // reload check finds the one `rewrite` added by its target; neither joins a mount's two
    // representations
    assert_eq!(
        found,
        [
            ("audit/nested_bind.rs".to_owned(), 1),
            ("rewrite.rs".to_owned(), 1),
            ("verify/mod.rs".to_owned(), 1)
        ],
        "only `verify::identify`, and the nested binds no mount serves yet"
    );
}

fn walk(dir: &Path, each: &mut dyn FnMut(&Path, &str)) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("src/ reads")
        .map(|e| e.expect("an entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, each);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).expect("a source file");
            each(&path, &text);
        }
    }
}

/// The first line of `journal` as today's release wrote it before plans named mounts: no
/// `mount` in the expected mounts, no `mounts` in the copies.
fn without_mount_ids(journal: &Path) {
    let text = fs::read_to_string(journal).expect("the journal");
    let (begin, rest) = text.split_once('\n').expect("a first line");
    let mut begin: serde_json::Value = serde_json::from_str(begin).expect("the begin record");
    let plan = &mut begin["plan"];
    for (list, key) in [("mounts", "mount"), ("copies", "mounts")] {
        for item in plan[list].as_array_mut().expect("a list") {
            let removed = item.as_object_mut().expect("an object").remove(key);
            assert!(removed.is_some(), "this release writes `{key}` in `{list}`");
        }
    }
    let begin = serde_json::to_string(&begin).expect("serialises");
    fs::write(journal, format!("{begin}\n{rest}")).expect("the journal written back");
}

#[test]
fn issue20_item5_a_journal_written_before_mount_ids_resumes_and_checks_each_mount_on_the_fake() {
    use crate::fake::FakeStack;
    use crate::fake::stack::{Crash, Ended};
    let Some(stack) = FakeStack::new("fakeoldids") else {
        return;
    };
    let plan = stack.plan(false, false);
    let crashed = stack.migrate(&plan, Some(Crash::Before("rewrite".into())));
    assert!(matches!(crashed, Ended::Crashed), "{crashed:?}");
    without_mount_ids(&stack.journal());
    let state = stack.state();
    let ids: Vec<MountId> = state.plan.mounts.iter().map(|m| m.mount).collect();
    assert_eq!(ids, [MountId(0), MountId(1)]);
    for (n, copy) in state.plan.copies.iter().enumerate() {
        assert_eq!(copy.mounts, [MountId(u32::try_from(n).expect("small"))]);
    }
    // verify mounts names each view by the numbered mount: web's, not db's
    stack.views.judge(
        "web",
        Some(("df-mismatch", "the container sees another filesystem")),
    );
    let error = match stack.resume(None) {
        Ended::Failed(e) => e.to_string(),
        other => panic!("the resume did not fail at verify-mounts: {other:?}"),
    };
    assert!(
        error.contains("container `fakeoldids-web-1` at `/srv`: df-mismatch")
            && !error.contains("fakeoldids-db-1"),
        "{error}"
    );
    stack.views.judge("web", None);
    let outcome = stack.resume(None).done();
    let mounts = outcome.steps.last().expect("verify-mounts");
    assert_eq!(mounts.result, "ok: 2 mount(s), tierctl verify ok");
    assert!(stack.state().finished);
}
