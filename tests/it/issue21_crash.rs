//! Issue 21 item 1 on the fake engine: a crash point at every durable action. A clean run of
//! each kind (a pre-copy move, a `--stop-first` move, a rollback of a finished move whose
//! services wrote on the tier, a prune of a finished move, a rollback `--discard-copy` of a
//! finished move, a pre-copy and a `--stop-first` move to another engine with `--to-context`)
//! records the failpoints it passes
//! (`tierctl::migrate::durable`); then, for every hit `i`, a fresh stack runs the same command
//! with an abort (as `kill -9`) or an injected error at `i`, then `--resume` or `--rollback`
//! as `tierctl migrate` would take them (refused by the journal's phase where it refuses them;
//! then the command the refusal names), and the state is checked: the data the services use is
//! byte for byte the source at the stop (or what they wrote on the tier, for a rollback), no
//! source byte changed, the compose file is exactly the old or the new text, the services run
//! on one of them, and the journal's phase says which. `docs/safety.md` ("Crash points") is the
//! table of these runs; `issue21_the_crash_table_in_docs_safety_is_current` fails when it is
//! stale, `cargo test --test it issue21_write_the_crash_table -- --ignored` writes it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tierctl::engine::{MountSource, Volumes};
use tierctl::migrate::durable::{Durable, Failpoints, Point};
use tierctl::migrate::journal::{self, JournalState, Phase};
use tierctl::migrate::plan::MigratePlan;

use super::fake::FakeStack;
use super::fake::failpoint::{self, Fault};
use super::fake::stack::{COMPOSE, Ended, Entry, ended, snapshot};

const KEYS: [&str; 2] = ["dbdata", "webdata"];

/// The data of both volumes (or tier directories), by volume key.
type Trees = BTreeMap<&'static str, BTreeMap<String, Entry>>;

/// What a run of the matrix runs with a fault in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    /// `tierctl migrate` (pre-copy while the services run).
    PreCopy,
    /// `tierctl migrate --stop-first`.
    StopFirst,
    /// `tierctl migrate --rollback` of a finished move whose services wrote on the tier.
    Rollback,
    /// `tierctl migrate --prune-source` of a finished move.
    Prune,
    /// `tierctl migrate --rollback --discard-copy` of a finished move: rolled back, then its
    /// copies removed.
    Discard,
    /// `tierctl migrate --to-context B` (pre-copy while the services run on A).
    ToContext,
    /// `tierctl migrate --to-context B --stop-first`.
    ToContextStopFirst,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::PreCopy,
        Kind::StopFirst,
        Kind::Rollback,
        Kind::Prune,
        Kind::Discard,
        Kind::ToContext,
        Kind::ToContextStopFirst,
    ];

    /// A move to engine B.
    fn to_b(self) -> bool {
        matches!(self, Kind::ToContext | Kind::ToContextStopFirst)
    }

    fn name(self) -> &'static str {
        match self {
            Kind::PreCopy => "pre-copy move",
            Kind::StopFirst => "`--stop-first` move",
            Kind::Rollback => "rollback",
            Kind::Prune => "prune",
            Kind::Discard => "rollback `--discard-copy`",
            Kind::ToContext => "pre-copy move to another engine",
            Kind::ToContextStopFirst => "`--stop-first` move to another engine",
        }
    }
}

/// The command after the fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Then {
    /// `tierctl migrate --resume`.
    Resume,
    /// `tierctl migrate --rollback --yes`.
    Rollback,
}

impl Then {
    const ALL: [Then; 2] = [Then::Resume, Then::Rollback];

    fn name(self) -> &'static str {
        match self {
            Then::Resume => "--resume",
            Then::Rollback => "--rollback",
        }
    }
}

/// A stack ready for a run of `kind`, with what the end state must hold.
struct Ready {
    stack: FakeStack,
    /// The plan of a move (pre-copy or stop-first).
    plan: Option<MigratePlan>,
    /// What the volumes hold before the move.
    before: Trees,
    /// What the volumes must hold once rolled back (the tier's data, for a rollback run).
    rolled_back: Trees,
    /// What the tier directories must hold while the services run on them.
    on_tier: Trees,
    /// The compose file's text once moved.
    moved_text: String,
}

fn trees(stack: &FakeStack, at: impl Fn(&FakeStack, &str) -> PathBuf) -> Trees {
    KEYS.iter().map(|k| (*k, snapshot(&at(stack, k)))).collect()
}

/// A fresh stack for `kind`: a plan to move, or a finished move (the services of a rollback
/// run wrote on the tier: a new file, a changed one, a removed one).
fn ready(kind: Kind, name: &str) -> Option<Ready> {
    let stack = match kind.to_b() {
        true => FakeStack::with_b(name)?,
        false => FakeStack::new(name)?,
    };
    if matches!(kind, Kind::PreCopy | Kind::ToContext) {
        // the volumes' files settled before the pre-copy begins (ctimes a second older than
        // its clock): its delta and catch-up passes then find nothing to copy again, so every
        // run passes the same points; filled in the same second, they are copied again, which
        // depends on how loaded the machine is
        std::thread::sleep(std::time::Duration::from_millis(2100));
    }
    let before = trees(&stack, |s, k| s.volume(k));
    let stop_first = matches!(kind, Kind::StopFirst | Kind::ToContextStopFirst);
    let plan = stack.plan(stop_first, false);
    let moved_text = plan.files[0].new.clone();
    let mut ready = Ready {
        rolled_back: before.clone(),
        on_tier: before.clone(),
        before,
        plan: Some(plan),
        moved_text,
        stack,
    };
    if matches!(kind, Kind::Rollback | Kind::Prune | Kind::Discard) {
        // finished by a `--stop-first` move: the same journal phase as a pre-copy move's,
        // without its pre-verify's 2 s waits (`tree::RACY_MARGIN_NS`) in every case's setup
        ready.plan = None;
        let plan = ready.stack.plan(true, false);
        ready.moved_text = plan.files[0].new.clone();
        ready.stack.migrate(&plan, None).done();
    }
    if kind == Kind::Rollback {
        let tier = ready.stack.tier_dir("dbdata");
        fs::write(tier.join("base/1/new-table"), "written on the tier\n").expect("write");
        fs::write(tier.join("PG_VERSION"), "17\n").expect("write");
        fs::remove_file(tier.join("secret")).expect("rm");
        ready.on_tier = trees(&ready.stack, |s, k| s.tier_dir(k));
        ready.rolled_back = ready.on_tier.clone();
    }
    Some(ready)
}

/// The command of `kind` with `fail`.
fn run(ready: &Ready, kind: Kind, fail: Failpoints) -> Ended {
    let stack = &ready.stack;
    match (kind, &ready.plan) {
        (
            Kind::PreCopy | Kind::StopFirst | Kind::ToContext | Kind::ToContextStopFirst,
            Some(plan),
        ) => stack.migrate_with(plan, &|_: &str, _: bool| {}, fail),
        (Kind::Rollback, _) => ended(|| stack.rollback_with(false, fail)),
        (Kind::Prune, _) => ended(|| stack.prune_with(fail)),
        (Kind::Discard, _) => ended(|| stack.rollback_with(true, fail)),
        (kind, None) => panic!("{kind:?} without a plan"),
    }
}

/// The newest journal's state (`None`: no journal); `Err` when it cannot be read, which makes
/// every `tierctl migrate` refuse (`app::migrate` reads it before choosing the task).
fn state(stack: &FakeStack) -> Result<Option<JournalState>, String> {
    let Some(path) = journal::latest(&journal::dir(&stack.ws.path("app"))) else {
        return Ok(None);
    };
    let records =
        journal::read(&path).map_err(|e| format!("every `tierctl migrate` refuses: {e}"))?;
    Ok(JournalState::of(&records))
}

fn phase(stack: &FakeStack) -> Result<Phase, String> {
    Ok(journal::phase_of(state(stack)?.as_ref()))
}

/// `then` as `tierctl migrate` takes it (refused where the journal's phase refuses it), then
/// what the refusal's hint says to finish: `--rollback` for a rollback that began, and
/// `--prune-source` again for a prune.
fn follow(ready: &Ready, kind: Kind, then: Then) -> Result<(), String> {
    let stack = &ready.stack;
    match (phase(stack)?, then) {
        (Phase::Open, Then::Resume) => match stack.resume(None) {
            Ended::Done(_) => {}
            other => return Err(format!("--resume did not finish: {other:?}")),
        },
        (Phase::NoJournal | Phase::RolledBack { .. }, Then::Rollback) => {}
        (Phase::Finished { source_removed, .. }, Then::Rollback) => {
            match stack.rollback(false) {
                Ok(_) if !source_removed => {}
                // refused by name: the copy is the only data left (`check` sees a volume gone)
                Err(e) if e.to_string().contains("already removed") => {}
                other => return Err(format!("--rollback of a finished move: {other:?}")),
            }
        }
        (_, Then::Rollback) => {
            if let Err(e) = stack.rollback(false) {
                return Err(format!("--rollback did not finish: {e}"));
            }
        }
        // refused by phase: nothing to resume
        (_, Then::Resume) => {}
    }
    if phase(stack)? == Phase::RollingBack {
        stack
            .rollback(false)
            .map_err(|e| format!("the rollback the hint names did not finish: {e}"))?;
    }
    if kind == Kind::Prune
        && matches!(
            phase(stack)?,
            Phase::Finished {
                sources_kept: true,
                ..
            }
        )
    {
        stack
            .prune()
            .map_err(|e| format!("--prune-source again did not finish: {e}"))?;
    }
    // a discard finishes once rolled back (the copies are the services' data until then: a
    // `--resume` refused before the rollback began leaves the move as it was)
    if kind == Kind::Discard && matches!(phase(stack)?, Phase::RolledBack { .. }) {
        if phase(stack)? == (Phase::RolledBack { copies_kept: true }) {
            stack
                .rollback(true)
                .map_err(|e| format!("--rollback --discard-copy again did not finish: {e}"))?;
        }
        if let Some(key) = KEYS.iter().find(|k| stack.tier_dir(k).exists()) {
            return Err(format!("the copy of {key} is still there"));
        }
    }
    Ok(())
}

/// The invariants after the follow-up (see the module's text); `Err` says which broke.
fn check(ready: &Ready, kind: Kind) -> Result<(), String> {
    if kind.to_b() {
        return check_to_b(ready);
    }
    let stack = &ready.stack;
    let text = stack.compose_text();
    let phase = phase(stack)?;
    let (on_tier, expected_text, expected_data) = match phase {
        Phase::Finished { .. } => (true, &ready.moved_text, &ready.on_tier),
        Phase::NoJournal | Phase::RolledBack { .. } => {
            (false, &COMPOSE.to_owned(), &ready.rolled_back)
        }
        other => return Err(format!("left unfinished: {other:?}")),
    };
    if &text != expected_text {
        return Err(format!("journal {phase:?} but the compose file is\n{text}"));
    }
    for (service, key, target) in [
        ("db", "dbdata", "/var/lib/postgresql/data"),
        ("web", "webdata", "/srv"),
    ] {
        let (source, data) = match on_tier {
            true => (MountSource::Bind(stack.tier_dir(key)), stack.tier_dir(key)),
            false => (
                MountSource::Volume(stack.volume_name(key)),
                stack.volume(key),
            ),
        };
        let running = stack.running(service);
        if running != Some(vec![(source.clone(), target.to_owned())]) {
            return Err(format!(
                "journal {phase:?}: service {service} runs on {running:?}, not {source:?}"
            ));
        }
        if snapshot(&data) != expected_data[key] {
            return Err(format!(
                "journal {phase:?}: the data service {service} uses differs from the expected"
            ));
        }
        // no source byte changed (a prune may remove a volume it kept, nothing else)
        let volume = stack.volume_name(key);
        let exists = stack
            .engine
            .volume_exists(&volume)
            .map_err(|e| e.to_string())?;
        match (exists, on_tier) {
            (true, true) if snapshot(&stack.volume(key)) != ready.before[key] => {
                return Err(format!("source volume {volume} changed"));
            }
            (false, _) if kind != Kind::Prune => {
                return Err(format!("source volume {volume} is gone"));
            }
            (false, false) => return Err(format!("rolled back onto a removed volume {volume}")),
            _ => {}
        }
    }
    Ok(())
}

/// The invariants of a move to engine B: A's compose file untouched; finished, the services
/// run on B on B's tier directories, which hold the volumes' data, and nothing runs on A;
/// otherwise (no journal, rolled back) they run on A on their volumes, the file for B is gone
/// and nothing runs on B. The volumes are untouched either way.
fn check_to_b(ready: &Ready) -> Result<(), String> {
    let stack = &ready.stack;
    let phase = phase(stack)?;
    if stack.compose_text() != COMPOSE {
        return Err(format!("journal {phase:?} but A's compose file changed"));
    }
    let on_b = match phase {
        Phase::Finished { .. } => true,
        Phase::NoJournal | Phase::RolledBack { .. } => false,
        other => return Err(format!("left unfinished: {other:?}")),
    };
    if !on_b && stack.b_compose_file().exists() {
        return Err(format!(
            "journal {phase:?} but the compose file for B is there"
        ));
    }
    for (service, key, target) in [
        ("db", "dbdata", "/var/lib/postgresql/data"),
        ("web", "webdata", "/srv"),
    ] {
        let (here, there, data) = match on_b {
            true => (
                stack.running_on_b(service),
                stack.running(service),
                stack.b_tier_dir(key),
            ),
            false => (
                stack.running(service),
                stack.running_on_b(service),
                stack.volume(key),
            ),
        };
        let source = match on_b {
            true => MountSource::Bind(data.clone()),
            false => MountSource::Volume(stack.volume_name(key)),
        };
        if here != Some(vec![(source.clone(), target.to_owned())]) || there.is_some() {
            return Err(format!(
                "journal {phase:?}: service {service} runs on {here:?} (and on the other engine {there:?}), not {source:?}"
            ));
        }
        if snapshot(&data) != ready.before[key] {
            return Err(format!(
                "journal {phase:?}: the data service {service} uses differs from the source"
            ));
        }
        if snapshot(&stack.volume(key)) != ready.before[key] {
            return Err(format!("source volume of {key} changed"));
        }
    }
    Ok(())
}

/// A case and what it found (`Err`: the invariant that broke, or how a command failed).
type Found = (Case, Result<(), String>);

/// One run of the matrix: `kind` with `fault` at hit `hit`, then `then`, checked.
#[derive(Clone, Debug)]
struct Case {
    kind: Kind,
    hit: usize,
    point: Point,
    fault: Fault,
    then: Then,
}

/// What one case found (`Err`: the invariant that broke, or how a command failed).
fn one(case: &Case, name: &str) -> Result<(), String> {
    let ready = ready(case.kind, name).ok_or("the fake cannot run")?;
    let ended = run(&ready, case.kind, failpoint::fault(case.hit, case.fault));
    match (case.fault, &ended) {
        (Fault::Abort, Ended::Crashed) | (Fault::Error, Ended::Failed(_) | Ended::Done(_)) => {}
        (_, other) => return Err(format!("the faulty run ended {other:?}")),
    }
    follow(&ready, case.kind, case.then)?;
    check(&ready, case.kind)
}

/// A panic's message, as a case's failure.
fn panicked(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    format!("panicked: {text}")
}

/// The points a clean run of `kind` passes, in order (`None`: the fake cannot run).
fn points_of(kind: Kind) -> Option<Vec<Point>> {
    let ready = ready(kind, &format!("crashrec{}", kind as u8))?;
    let (fail, seen) = failpoint::recording();
    match run(&ready, kind, fail) {
        Ended::Done(_) => {}
        other => panic!("the clean {kind:?} run: {other:?}"),
    }
    check(&ready, kind).unwrap_or_else(|e| panic!("the clean {kind:?} run: {e}"));
    Some(failpoint::taken(&seen))
}

/// Every case of the matrix and what it found; `None` where the fake cannot run.
fn matrix() -> Option<Vec<Found>> {
    let mut cases = Vec::new();
    for kind in Kind::ALL {
        for (hit, point) in points_of(kind)?.into_iter().enumerate() {
            for fault in Fault::ALL {
                for then in Then::ALL {
                    cases.push(Case {
                        kind,
                        hit,
                        point: point.clone(),
                        fault,
                        then,
                    });
                }
            }
        }
    }
    let next = AtomicUsize::new(0);
    let found = Mutex::new(Vec::new());
    // the cases wait, they hardly compute (a pre-copy move: about 0.2 s of CPU in 5 s): a
    // pre-copy's volumes settle 2 s, its pre-verify sleeps 2 s per copy
    // (`tree::RACY_MARGIN_NS`), then fsyncs; so many cases at once, whatever the cores (not
    // more: the engine tests of the same binary run meanwhile, some with timed windows)
    let workers = 32;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { break };
                    let result = std::panic::catch_unwind(|| one(case, &format!("crash{i}")))
                        .unwrap_or_else(|p| Err(panicked(p.as_ref())));
                    found
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((case.clone(), result));
                }
            });
        }
    });
    let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    found.sort_by_key(|(case, _)| (case.kind, case.hit, case.fault, case.then));
    Some(found)
}

/// The "Crash points" section of `docs/safety.md`: per durable action, the hits per run kind,
/// and the cases passed per fault and next command.
fn table(found: &[Found]) -> String {
    let mut hits: BTreeMap<(Durable, Kind), usize> = BTreeMap::new();
    let mut passed: BTreeMap<(Durable, Fault, Then), (usize, usize)> = BTreeMap::new();
    for (case, result) in found {
        if case.fault == Fault::Abort && case.then == Then::Resume {
            *hits.entry((case.point.action, case.kind)).or_default() += 1;
        }
        let cell = passed
            .entry((case.point.action, case.fault, case.then))
            .or_default();
        cell.1 += 1;
        cell.0 += usize::from(result.is_ok());
    }
    let kinds: Vec<usize> = Kind::ALL
        .iter()
        .map(|k| found.iter().filter(|(c, _)| c.kind == *k).count() / 4)
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Generated by `cargo test --test it issue21_write_the_crash_table -- --ignored` from the\n\
         fake engine's matrix (`tests/it/issue21_crash.rs`); `issue21_the_crash_table_in_docs_safety_is_current`\n\
         fails when this section differs from what the matrix finds.\n\n\
         A clean run passes {} failpoints ({}); each is hit once with an abort and once with an\n\
         error, each followed by `--resume` and by `--rollback`: {} cases, {} passed.\n",
        kinds.iter().sum::<usize>(),
        Kind::ALL
            .iter()
            .zip(&kinds)
            .map(|(kind, n)| format!("{} {n}", kind.name()))
            .collect::<Vec<_>>()
            .join(", "),
        found.len(),
        found.iter().filter(|(_, r)| r.is_ok()).count(),
    );
    let mut header = "| durable action |".to_owned();
    let mut rule = "|---|".to_owned();
    for kind in Kind::ALL {
        let _ = write!(header, " hits: {} |", kind.name());
        rule.push_str("---:|");
    }
    for fault in Fault::ALL {
        for then in Then::ALL {
            let _ = write!(header, " {} then `{}` |", fault.name(), then.name());
            rule.push_str("---:|");
        }
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for action in Durable::ALL {
        let mut row = format!("| `{action}` |");
        for kind in Kind::ALL {
            let _ = write!(
                row,
                " {} |",
                hits.get(&(action, kind)).copied().unwrap_or(0)
            );
        }
        for fault in Fault::ALL {
            for then in Then::ALL {
                match passed.get(&(action, fault, then)) {
                    Some((ok, all)) => {
                        let _ = write!(row, " {ok}/{all} |");
                    }
                    None => row.push_str(" – |"),
                }
            }
        }
        let _ = writeln!(out, "{row}");
    }
    out
}

const DOC: &str = "docs/safety.md";
const BEGIN: &str = "<!-- crash-table: begin -->\n";
const END: &str = "<!-- crash-table: end -->\n";

fn doc_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC)
}

/// The generated part of `docs/safety.md` now.
fn documented() -> String {
    let text = fs::read_to_string(doc_path()).expect("docs/safety.md");
    let start = text.find(BEGIN).expect("the crash table's begin marker") + BEGIN.len();
    let end = text.find(END).expect("the crash table's end marker");
    text[start..end].to_owned()
}

/// The matrix, every case passing (the failures listed otherwise), and how long it took.
fn passing_matrix() -> Option<(Vec<Found>, f64)> {
    let began = Instant::now();
    let found = matrix()?;
    let seconds = began.elapsed().as_secs_f64();
    let failures: Vec<String> = found
        .iter()
        .filter_map(|(case, result)| {
            result.as_ref().err().map(|e| {
                format!(
                    "{:?} {} at hit {} (`{}`) then {}: {e}",
                    case.kind,
                    case.fault.name(),
                    case.hit,
                    case.point,
                    case.then.name()
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        found.len(),
        failures.join("\n")
    );
    eprintln!(
        "issue 21 crash matrix: {} cases in {seconds:.1} s",
        found.len()
    );
    Some((found, seconds))
}

#[test]
fn issue21_the_crash_table_in_docs_safety_is_current() {
    let Some((found, _)) = passing_matrix() else {
        return;
    };
    assert_eq!(
        documented(),
        table(&found),
        "docs/safety.md's crash table is stale: run `cargo test --test it issue21_write_the_crash_table -- --ignored`"
    );
}

#[test]
#[ignore = "writes docs/safety.md's crash table"]
fn issue21_write_the_crash_table() {
    let Some((found, _)) = passing_matrix() else {
        panic!("the fake engine cannot run here: the table needs it");
    };
    let text = fs::read_to_string(doc_path()).expect("docs/safety.md");
    let start = text.find(BEGIN).expect("the begin marker") + BEGIN.len();
    let end = text.find(END).expect("the end marker");
    let written = format!("{}{}{}", &text[..start], table(&found), &text[end..]);
    fs::write(doc_path(), written).expect("write docs/safety.md");
}

/// Regression (issue 21, found by the crash matrix): a prune that removed a volume and was
/// killed (or failed to journal) before the removal's end was journaled left a journal that
/// still allowed a rollback, which restarted the service on an empty volume the engine made
/// anew. The rollback is refused now: the tier directory holds the only data.
#[test]
fn issue21_a_rollback_after_a_prune_killed_right_after_it_removed_a_volume_is_refused() {
    let Some(ready) = ready(Kind::Prune, "crashprunekill") else {
        return;
    };
    let points = points_of(Kind::Prune).expect("the fake runs");
    let removed = points
        .iter()
        .position(|p| p.action == Durable::VolumeRemove)
        .expect("a volume removal");
    assert_eq!(
        points[removed + 1].action,
        Durable::JournalAppend,
        "{points:?}"
    );
    let ended = run(
        &ready,
        Kind::Prune,
        failpoint::fault(removed + 1, Fault::Abort),
    );
    assert!(matches!(ended, Ended::Crashed), "{ended:?}");
    let stack = &ready.stack;
    assert!(
        !stack
            .engine
            .volume_exists(&stack.volume_name("dbdata"))
            .expect("inspect")
    );
    let error = stack.rollback(false).expect_err("refused");
    assert!(error.to_string().contains("already removed"), "{error}");
    assert_eq!(stack.compose_text(), ready.moved_text, "nothing changed");
    check(&ready, Kind::Prune).expect("still on the tier, every byte there");
    stack.prune().expect("the prune finishes");
    check(&ready, Kind::Prune).expect("pruned, every byte on the tier");
}
