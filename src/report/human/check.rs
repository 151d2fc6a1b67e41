//! `migrate --check` for people: each copy, how it was read, and every path that differs.

use std::fmt::Write as _;

use crate::report::PathStyle;
use crate::report::reports::{CheckReport, CopyCheck, DifferenceKind, PathDifference};
use crate::usage::human_bytes;

/// The whole check: a block per copy, then the total.
pub fn check(report: &CheckReport, paths: &PathStyle) -> String {
    let mut text = format!("journal: {}", paths.show(&report.journal));
    if let Some(subset) = &report.subset {
        let _ = write!(
            text,
            " (content of {}% of the files, seed {})",
            subset.percent, subset.seed
        );
    }
    text.push('\n');
    for copy in &report.copies {
        copy_block(&mut text, copy);
    }
    let differences = report.differences();
    let unchecked = report
        .copies
        .iter()
        .filter(|c| c.unchecked.is_some())
        .count();
    let differing = report
        .copies
        .iter()
        .filter(|c| !c.differences.is_empty())
        .count();
    let _ = write!(
        text,
        "check: {differences} difference{} in {differing} of {} cop{}",
        super::plural(differences),
        report.copies.len(),
        if report.copies.len() == 1 { "y" } else { "ies" }
    );
    if unchecked > 0 {
        let _ = write!(text, "; {unchecked} not checked");
    }
    text.push('\n');
    text
}

fn copy_block(text: &mut String, copy: &CopyCheck) {
    let _ = writeln!(
        text,
        "copy {}: {} -> `{}`",
        copy.copy,
        copy.source,
        copy.target.display()
    );
    if let Some(why) = &copy.unchecked {
        let _ = writeln!(text, "  not checked: {why}");
        return;
    }
    let _ = writeln!(
        text,
        "  read {}; {} entries, content of {} of {} files compared ({} read)",
        copy.read,
        copy.entries,
        copy.files_hashed,
        copy.files,
        human_bytes(copy.bytes_hashed)
    );
    for row in &copy.differences {
        let _ = writeln!(text, "  `{}`  {}", shown(&row.path), what(row));
    }
}

/// What differs at one path.
fn what(row: &PathDifference) -> String {
    match row.kind {
        DifferenceKind::Missing => "missing (in the kept manifest, not in the copy)".into(),
        DifferenceKind::Extra => "extra (in the copy, not in the kept manifest)".into(),
        DifferenceKind::Changed => {
            let fields: Vec<String> = row
                .fields
                .iter()
                .map(|f| match f.field.as_str() {
                    "content" => format!("content {} -> {}", short(&f.kept), short(&f.now)),
                    _ => format!("{} {} -> {}", f.field, shown(&f.kept), shown(&f.now)),
                })
                .collect();
            let mut line = fields.join("; ");
            if row.silent {
                line.push_str(" (size and mtime as kept: not written through the filesystem)");
            }
            line
        }
    }
}

/// A hash's first 12 digits.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// A manifest path or value for a message: a byte that is not UTF-8 (kept as NUL and two hex
/// digits) as `\xHH`, a newline as `\n`.
fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\0' => {
                out.push_str("\\x");
                out.extend(chars.by_ref().take(2));
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::reports::{CheckSubset, FieldChange};

    #[test]
    fn each_copy_is_shown_with_how_it_was_read_and_every_path_that_differs() {
        let report = CheckReport {
            journal: "/srv/app/.tierctl/journal-1.jsonl".into(),
            subset: Some(CheckSubset {
                percent: 5.0,
                seed: "20261207".into(),
            }),
            checked_at: 0,
            copies: vec![
                CopyCheck {
                    copy: 0,
                    source: "volume `app_db`".into(),
                    target: "/tiers/fast/app/db".into(),
                    read: "on the host at `/tiers/fast/app/db`, from the disk".into(),
                    entries: 10,
                    files: 8,
                    files_hashed: 1,
                    bytes_hashed: 2048,
                    unchecked: None,
                    differences: vec![
                        PathDifference {
                            path: "base/1".into(),
                            kind: DifferenceKind::Changed,
                            fields: vec![FieldChange {
                                field: "content".into(),
                                kept: "0123456789abcdef".into(),
                                now: "fedcba9876543210".into(),
                            }],
                            silent: true,
                        },
                        PathDifference {
                            path: "n\0ffm".into(),
                            kind: DifferenceKind::Missing,
                            fields: vec![],
                            silent: false,
                        },
                    ],
                },
                CopyCheck {
                    copy: 1,
                    source: "volume `old`".into(),
                    target: "/tiers/fast/app/old".into(),
                    read: String::new(),
                    entries: 0,
                    files: 0,
                    files_hashed: 0,
                    bytes_hashed: 0,
                    unchecked: Some("no manifest".into()),
                    differences: vec![],
                },
            ],
        };
        let paths = PathStyle {
            cwd: "/srv/app".into(),
        };
        assert_eq!(
            check(&report, &paths),
            "journal: .tierctl/journal-1.jsonl (content of 5% of the files, seed 20261207)
copy 0: volume `app_db` -> `/tiers/fast/app/db`
  read on the host at `/tiers/fast/app/db`, from the disk; 10 entries, content of 1 of 8 files compared (2.0K read)
  `base/1`  content 0123456789ab -> fedcba987654 (size and mtime as kept: not written through the filesystem)
  `n\\xffm`  missing (in the kept manifest, not in the copy)
copy 1: volume `old` -> `/tiers/fast/app/old`
  not checked: no manifest
check: 2 differences in 1 of 2 copies; 1 not checked
"
        );
    }
}
