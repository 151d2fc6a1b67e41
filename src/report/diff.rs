//! Diffs of a patched file: a unified diff for people, the changed runs of lines for JSON.

use std::fmt::Write;

use similar::{ChangeTag, TextDiff};

use crate::rewrite::Patched;

/// A unified diff of one file (3 lines of context).
pub fn unified(name: &str, p: &Patched, color: bool) -> String {
    let text = TextDiff::from_lines(&p.old, &p.new);
    let mut out = format!("--- {name}\n+++ {name}\n");
    for hunk in text.unified_diff().context_radius(3).iter_hunks() {
        let _ = writeln!(out, "{}", hunk.header());
        for change in hunk.iter_changes() {
            let (sign, paint) = match change.tag() {
                ChangeTag::Delete => ("-", "\x1b[31m"),
                ChangeTag::Insert => ("+", "\x1b[32m"),
                ChangeTag::Equal => (" ", ""),
            };
            let line = change.value();
            let nl = if line.ends_with('\n') {
                ""
            } else {
                "\n\\ No newline at end of file\n"
            };
            if color && !paint.is_empty() {
                let _ = write!(
                    out,
                    "{paint}{sign}{}\x1b[0m{}",
                    line.trim_end_matches('\n'),
                    if nl.is_empty() { "\n" } else { nl }
                );
            } else {
                let _ = write!(out, "{sign}{line}{nl}");
            }
        }
    }
    out
}

/// `(line, old, new)` for every changed run of lines (line is 1-based in the old text).
pub fn line_patches(p: &Patched) -> Vec<(usize, String, String)> {
    let text = TextDiff::from_lines(&p.old, &p.new);
    let mut out = Vec::new();
    for op in text.ops() {
        let (old, new) = (op.old_range(), op.new_range());
        if matches!(op.tag(), similar::DiffTag::Equal) {
            continue;
        }
        let lines = |t: &str, r: std::ops::Range<usize>| {
            t.split_inclusive('\n')
                .skip(r.start)
                .take(r.len())
                .collect::<String>()
        };
        out.push((old.start + 1, lines(&p.old, old), lines(&p.new, new)));
    }
    out
}
