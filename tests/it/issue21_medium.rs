//! Issue 21 items 4 and 5: corruption is caught, and `migrate --check` scrubs data already
//! moved. On the fake engine (`fake/`, seconds, no Docker): ≥ 1,000 corruptions (a flipped bit,
//! a zeroed 4 KiB block, a truncated tail; size and mtime kept where the kind allows, as a
//! medium's corruption leaves them) planted in the tier copies of a finished move are every one
//! named by path by the check (on the host, and through the manifest helper as on a VM, its
//! content read with `dd iflag=direct`), the same planted in the kept sources every one named
//! by the late-writes comparison `--prune-source` makes, and corruptions planted in a copy
//! between the copy and the verify stop the migration with every difference counted. On a real
//! engine: `tierctl migrate --check` over a finished move, human, JSON and Prometheus, exit 0
//! then 1 naming the planted path.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use tierctl::migrate::check::{self, CheckInput, Subset};
use tierctl::migrate::journal;
use tierctl::migrate::steps::StepError;
use tierctl::migrate::{MigrateError, late_writes, tree};
use tierctl::report::reports::{CheckReport, DifferenceKind};

use super::fake::FakeStack;

/// Files added to each volume of the fake stack (two volumes: 1,300 in all).
const FILES: usize = 650;

/// A tree of `FILES` files of 8–20 KiB of pseudo-random bytes in 13 directories.
fn many_files(root: &Path, key: &str) -> Vec<String> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64 ^ key.len() as u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut paths = Vec::new();
    for i in 0..FILES {
        let rel = format!("many/d{}/f{i}", i % 13);
        let path = root.join(&rel);
        fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        let len = 8192 + (next() % 12_288) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| (next() >> 24) as u8).collect();
        fs::write(&path, bytes).expect("file");
        paths.push(rel);
    }
    paths
}

/// The kind of corruption planted in the `i`th file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Planted {
    /// One bit flipped; size and mtime kept.
    Bit,
    /// A 4 KiB block zeroed; size and mtime kept.
    Zeroed,
    /// The tail cut off; mtime kept.
    Truncated,
}

/// Plant one corruption in the file at `path`, of kind `i % 3`, keeping its mtime (and owner
/// and mode: written in place as root); returns the kind.
fn plant(path: &Path, i: usize) -> Planted {
    let meta = fs::metadata(path).expect("stat");
    let mtime = meta.modified().expect("mtime");
    let len = meta.len();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open");
    let kind = match i % 3 {
        0 => {
            let at = (i as u64 * 7919) % len;
            let mut byte = [0u8];
            file.read_exact_at(&mut byte, at).expect("read");
            byte[0] ^= 1 << (i % 8);
            file.write_all_at(&byte, at).expect("flip");
            Planted::Bit
        }
        1 => {
            // the first block holds pseudo-random bytes: zeroed it differs
            let at = 4096 * ((i as u64 / 3) % (len / 4096).max(1)).min(len / 4096 - 1);
            file.write_all_at(&[0u8; 4096], at).expect("zero");
            Planted::Zeroed
        }
        _ => {
            file.set_len(len - 1 - (i as u64 % 100)).expect("truncate");
            Planted::Truncated
        }
    };
    file.sync_all().expect("sync");
    file.set_modified(mtime).expect("mtime kept");
    kind
}

/// Plant a corruption in every `many/` file of both trees; the planted paths by tree.
fn plant_all(trees: &[(PathBuf, Vec<String>)]) -> Vec<BTreeSet<String>> {
    let mut i = 0;
    trees
        .iter()
        .map(|(root, paths)| {
            paths
                .iter()
                .map(|rel| {
                    plant(&root.join(rel), i);
                    i += 1;
                    rel.clone()
                })
                .collect()
        })
        .collect()
}

/// A finished pre-copy move of the fake stack with `FILES` more files in each volume (`vm`:
/// the engine like a VM's, every tree read by helpers): the stack and each volume's added
/// paths.
fn moved(name: &str, vm: bool) -> Option<(FakeStack, Vec<Vec<String>>)> {
    let stack = FakeStack::new(name)?;
    if vm {
        stack.engine.like_a_vm();
    }
    let added: Vec<Vec<String>> = ["dbdata", "webdata"]
        .iter()
        .map(|k| many_files(&stack.volume(k), k))
        .collect();
    let plan = stack.plan(false, false);
    stack.migrate(&plan, None).done();
    Some((stack, added))
}

/// `migrate --check` of the stack's newest journal.
fn checked(stack: &FakeStack, subset: Option<&Subset>) -> CheckReport {
    let dir = journal::dir(&stack.ws.path("app"));
    check::check(&CheckInput {
        engine: stack.engine.as_ref(),
        image: &stack.image,
        state_dir: &dir,
        subset,
        now: 1_700_000_000,
    })
    .expect("the check runs")
}

/// Every copy of `report` names exactly `planted[n]` (copies in plan order: `dbdata`,
/// `webdata`), each a changed path whose fields say what the kind changed.
fn every_one_named(report: &CheckReport, planted: &[BTreeSet<String>]) {
    assert_eq!(report.copies.len(), planted.len());
    for (copy, want) in report.copies.iter().zip(planted) {
        assert_eq!(copy.unchecked, None);
        let named: BTreeSet<String> = copy.differences.iter().map(|d| d.path.clone()).collect();
        assert_eq!(&named, want, "copy {} read {}", copy.copy, copy.read);
        for d in &copy.differences {
            assert_eq!(d.kind, DifferenceKind::Changed, "{d:?}");
            let fields: Vec<&str> = d.fields.iter().map(|f| f.field.as_str()).collect();
            assert!(fields.contains(&"content"), "{d:?}");
            assert!(!fields.contains(&"mtime"), "{d:?}");
            // a flipped bit or a zeroed block keeps the size: silent
            assert_eq!(d.silent, !fields.contains(&"size"), "{d:?}");
        }
    }
}

#[test]
fn issue21_item4_a_thousand_corruptions_in_the_copies_are_every_one_named_by_the_check() {
    let Some((stack, added)) = moved("i21copy", false) else {
        return;
    };
    let clean = checked(&stack, None);
    assert!(clean.clean(), "{:?}", clean.copies);
    assert!(
        clean
            .copies
            .iter()
            .all(|c| c.read.contains("from the disk"))
    );
    let trees: Vec<(PathBuf, Vec<String>)> = ["dbdata", "webdata"]
        .iter()
        .zip(added)
        .map(|(k, paths)| (stack.tier_dir(k), paths))
        .collect();
    let planted = plant_all(&trees);
    let total: usize = planted.iter().map(BTreeSet::len).sum();
    assert!(total >= 1000, "{total}");
    let report = checked(&stack, None);
    every_one_named(&report, &planted);
    assert_eq!(report.differences(), total, "100 % found");
    eprintln!("issue 21 item 4: {total} corruptions planted in the copies, {total} named");

    // a subset reads only its part, and names only corruptions in it (and all of those)
    let subset = Subset::parse("10", "20261207").expect("subset");
    let part = checked(&stack, Some(&subset));
    for (copy, want) in part.copies.iter().zip(&planted) {
        let chosen: BTreeSet<String> = want.iter().filter(|p| subset.chooses(p)).cloned().collect();
        subset_named(copy, want, &chosen);
        assert!(copy.files_hashed < copy.files / 5, "{copy:?}");
    }
}

/// A `--subset` check named every corruption in the chosen files, and outside them only those
/// its metadata shows (a truncated file's size): every entry's metadata is compared.
fn subset_named(
    copy: &tierctl::report::reports::CopyCheck,
    planted: &BTreeSet<String>,
    chosen: &BTreeSet<String>,
) {
    assert!(!chosen.is_empty());
    let named: BTreeSet<String> = copy.differences.iter().map(|d| d.path.clone()).collect();
    assert!(named.is_superset(chosen), "{named:?}");
    assert!(named.is_subset(planted));
    for d in copy
        .differences
        .iter()
        .filter(|d| !chosen.contains(&d.path))
    {
        let fields: Vec<&str> = d.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["size"], "{d:?}");
    }
}

#[test]
fn issue21_item5_the_check_reads_through_the_manifest_helper_where_the_engine_is_a_vm() {
    let Some((stack, added)) = moved("i21vm", true) else {
        return;
    };
    let trees: Vec<(PathBuf, Vec<String>)> = ["dbdata", "webdata"]
        .iter()
        .zip(added)
        .map(|(k, paths)| (stack.tier_dir(k), paths))
        .collect();
    let clean = checked(&stack, None);
    assert!(clean.clean(), "{:?}", clean.copies);
    assert!(
        clean
            .copies
            .iter()
            .all(|c| c.read.starts_with("in the engine by a helper container")),
        "{:?}",
        clean.copies
    );
    let planted = plant_all(&trees);
    let report = checked(&stack, None);
    every_one_named(&report, &planted);
    // the subset's files go to the helper as arguments
    let subset = Subset::parse("20", "seed").expect("subset");
    let part = checked(&stack, Some(&subset));
    for (copy, want) in part.copies.iter().zip(&planted) {
        let chosen: BTreeSet<String> = want.iter().filter(|p| subset.chooses(p)).cloned().collect();
        subset_named(copy, want, &chosen);
    }
}

#[test]
fn issue21_item4_corruptions_in_the_kept_sources_are_every_one_named_before_a_prune() {
    let Some((stack, added)) = moved("i21src", false) else {
        return;
    };
    let state = stack.state();
    let dir = journal::dir(&stack.ws.path("app"));
    let trees: Vec<(PathBuf, Vec<String>)> = ["dbdata", "webdata"]
        .iter()
        .zip(added)
        .map(|(k, paths)| (stack.volume(k), paths))
        .collect();
    let planted = plant_all(&trees);
    let total: usize = planted.iter().map(BTreeSet::len).sum();
    let mut found = 0;
    for (n, ((root, _), want)) in trees.iter().zip(&planted).enumerate() {
        let kept = match state
            .done
            .get(&tierctl::migrate::plan::MigrateStep::Verify(n).id())
        {
            Some(journal::Detail::Verified {
                manifest: Some(kept),
                ..
            }) => journal::load_manifest(&dir, kept).expect("the kept manifest"),
            other => panic!("copy {n} verified without a manifest: {other:?}"),
        };
        let now = tree::read(root, kept.digest, &AtomicU64::new(0)).expect("the source");
        let writes = late_writes::late_writes(&kept, &now, false);
        let named: BTreeSet<String> = writes
            .iter()
            .map(|w| match w {
                late_writes::LateWrite::Changed { path, .. } => path.clone(),
                other => panic!("{other}"),
            })
            .collect();
        assert_eq!(&named, want);
        found += named.len();
    }
    assert_eq!(found, total);
    assert!(total >= 1000, "{total}");
    // and `--prune-source` refuses to remove them
    let refused = stack.prune().expect_err("a changed source is not pruned");
    assert!(refused.to_string().contains("many/"), "{refused}");
    eprintln!("issue 21 item 4: {total} corruptions planted in the sources, {found} named");
}

#[test]
fn issue21_item4_corruptions_planted_between_the_copy_and_the_verify_stop_the_move() {
    let Some(stack) = FakeStack::new("i21verify") else {
        return;
    };
    let added = many_files(&stack.volume("dbdata"), "dbdata");
    let plan = stack.plan(false, false);
    let target = stack.tier_dir("dbdata");
    let planted = std::sync::Mutex::new(BTreeSet::new());
    let hook = |step: &str, after: bool| {
        if step == "verify:0" && !after {
            let mut planted = planted.lock().expect("lock");
            for (i, rel) in added.iter().enumerate().take(300) {
                plant(&target.join(rel), i);
                planted.insert(rel.clone());
            }
        }
    };
    let error = stack.migrate_hooked(&plan, &hook).failed();
    let planted = planted.into_inner().expect("lock");
    assert_eq!(planted.len(), 300);
    let MigrateError::Step { error, .. } = &error else {
        panic!("{error}");
    };
    let StepError::CopyDiffers { count, first, .. } = error.as_ref() else {
        panic!("{error}");
    };
    // each file one content difference, a truncated one its size too
    let truncated = (0..300).filter(|i| i % 3 == 2).count();
    assert_eq!(*count, 300 + truncated, "{first:?}");
    assert!(first.iter().all(|d| d.contains("many/")), "{first:?}");
}

/// The verify step's line of a finished run: how many content bytes it read, of how many.
fn verify_read(outcome: &tierctl::report::reports::Outcome) -> (u64, u64) {
    let line = outcome
        .steps
        .iter()
        .map(|s| s.result.as_str())
        .find(|r| r.starts_with("ok: ") && r.contains(" bytes read now"))
        .unwrap_or_else(|| panic!("no verify line reading part of the copy: {outcome:?}"));
    let number = |before: &str| -> u64 {
        let head = &line[..line.find(before).expect("the number's words")];
        head.rsplit([' ', ','])
            .find(|w| !w.is_empty())
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no number before `{before}` in {line}"))
    };
    (number(" bytes read now"), number(" bytes, "))
}

#[test]
fn issue21_item4_a_stop_first_copy_reads_each_file_back_and_its_verify_reads_only_the_rest() {
    let Some(stack) = FakeStack::new("i21readback") else {
        return;
    };
    many_files(&stack.volume("dbdata"), "dbdata");
    // the sources settled (their ctimes older than the margin): the copy's hashes of them stand
    // too, so what the verify reads is the copy
    let margin = u64::try_from(tree::RACY_MARGIN_NS).expect("a positive margin");
    std::thread::sleep(std::time::Duration::from_nanos(margin + 100_000_000));
    let plan = stack.plan(true, false);
    let outcome = stack.migrate(&plan, None).done();
    let (read, of) = verify_read(&outcome);
    // the copy's read-backs stand for its files: the verify reads almost nothing again (a
    // hardlinked file's stamp moved when its second name was made)
    assert!(of > 650 * 8192, "{of}");
    assert!(read * 20 < of, "{read} of {of} bytes read again");
}

#[test]
fn issue21_item4_corruptions_planted_after_the_copys_read_back_stop_a_stop_first_move() {
    let Some(stack) = FakeStack::new("i21afterback") else {
        return;
    };
    let added = many_files(&stack.volume("dbdata"), "dbdata");
    let plan = stack.plan(true, false);
    let target = stack.tier_dir("dbdata");
    let planted = std::sync::Mutex::new(BTreeSet::new());
    // right after the copy step (its read-back done), before the verify: each file's ctime
    // moves, so its read-back hash no longer stands for it
    let hook = |step: &str, after: bool| {
        if step == "verify:0" && !after {
            let mut planted = planted.lock().expect("lock");
            for (i, rel) in added.iter().enumerate().take(300) {
                plant(&target.join(rel), i);
                planted.insert(rel.clone());
            }
        }
    };
    let error = stack.migrate_hooked(&plan, &hook).failed();
    let planted = planted.into_inner().expect("lock");
    assert_eq!(planted.len(), 300);
    let MigrateError::Step { error, .. } = &error else {
        panic!("{error}");
    };
    let StepError::CopyDiffers { count, first, .. } = error.as_ref() else {
        panic!("{error}");
    };
    let truncated = (0..300).filter(|i| i % 3 == 2).count();
    assert_eq!(*count, 300 + truncated, "{first:?}");
    assert!(first.iter().all(|d| d.contains("many/")), "{first:?}");
    eprintln!("issue 21 item 4: 300 corruptions planted after the copy's read-back, 300 found");
}

#[test]
fn issue21_item5_migrate_check_on_a_real_engine_is_clean_then_names_a_corrupted_file() {
    use super::compose_runner::Family;
    use super::copy_engine::SEED;
    use super::migrate_engine::{COMPOSE, stdout, unique};
    use super::stack::Stack;

    let Some(p) = Stack::up(Family::V2, unique("tierctlit21check"), COMPOSE, SEED) else {
        return;
    };
    let check = |args: &[&str]| {
        let out = p
            .tierctl()
            .args(["migrate", "--check"])
            .args(args)
            .output()
            .expect("run");
        (out.status.code(), stdout(&out))
    };
    let (code, text) = check(&[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("no migration journal"), "{text}");
    let out = p
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    let (code, text) = check(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("from the disk"), "{text}");
    assert!(
        text.contains("check: 0 differences in 0 of 1 copy"),
        "{text}"
    );
    let (code, json) = check(&["--format", "json"]);
    assert_eq!(code, Some(0), "{json}");
    let value: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(value["version"], 1);
    assert_eq!(value["clean"], true);
    assert_eq!(
        value["copies"][0]["files_hashed"],
        value["copies"][0]["files"]
    );

    // one bit of a file the service does not write, its size and mtime kept
    let file = p.target().join("pg/base/1");
    plant(&file, 0);
    let (code, text) = check(&[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("`pg/base/1`  content ")
            && text.contains("not written through the filesystem"),
        "{text}"
    );
    let (code, json) = check(&["--format", "json"]);
    assert_eq!(code, Some(1), "{json}");
    let value: serde_json::Value = serde_json::from_str(&json).expect("json");
    // the file and its hardlink (one inode)
    assert_eq!(value["differences"], 2);
    assert_eq!(value["copies"][0]["differences"][0]["path"], "pg/base/1");
    assert_eq!(
        value["copies"][0]["differences"][1]["path"],
        "pg/base/1.link"
    );
    assert_eq!(value["copies"][0]["differences"][0]["silent"], true);
    let (code, prom) = check(&["--format", "prometheus", "--subset", "100%"]);
    assert_eq!(code, Some(1), "{prom}");
    assert!(prom.contains("tierctl_check_success{journal="), "{prom}");
    assert!(
        prom.lines()
            .any(|l| l.starts_with("tierctl_check_silent_differences{") && l.ends_with(" 2")),
        "{prom}"
    );
    let (code, text) = check(&["--subset", "0"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("`--subset 0`"), "{text}");
}
