//! A source that is a whole variable set in an env file: the edit of that file's line.

use std::path::Path;

use super::{EditKind, Input, Unwritable, encode_env, env_value_span};

/// Why the variable cannot be edited: it is used in the compose files more often than by the
/// mounts that want the new value.
pub(super) fn env_usage_problem(input: &Input<'_>, var: &str, spots: usize) -> Option<String> {
    let uses: usize = input
        .project
        .files
        .iter()
        .filter_map(|f| input.project.text(f))
        .map(|text| count_uses(text, var))
        .sum();
    (uses > spots).then(|| {
        format!(
            "variable `{var}` is used elsewhere in the compose files: change the source by hand"
        )
    })
}

/// How often `${var...}` or `$var` occurs in `text` (`$$` escapes skipped).
pub(super) fn count_uses(text: &str, var: &str) -> usize {
    let bytes = text.as_bytes();
    let mut count = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        let rest = &text[i + 1..];
        let name = rest.strip_prefix('{').unwrap_or(rest);
        if let Some(after) = name.strip_prefix(var) {
            let ends = after
                .chars()
                .next()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
            if ends {
                count += 1;
            }
        }
        i += 1;
    }
    count
}

pub(super) fn env_line_edit(
    input: &Input<'_>,
    file: &Path,
    line: usize,
    value: &str,
) -> Result<EditKind, Unwritable> {
    let file_line = || (file.to_path_buf(), line);
    let text = input
        .project
        .text(file)
        .ok_or_else(|| Unwritable::EnvFileNotRead {
            file: file.to_path_buf(),
        })?;
    let old = text.lines().nth(line.saturating_sub(1)).ok_or_else(|| {
        let (file, line) = file_line();
        Unwritable::NoEnvLine { file, line }
    })?;
    let (start, end, quote) = env_value_span(old).ok_or_else(|| {
        let (file, line) = file_line();
        Unwritable::EnvValueNotOneLine { file, line }
    })?;
    let encoded = encode_env(value, quote).ok_or_else(|| {
        let (file, line) = file_line();
        Unwritable::EnvValueUnwritable { file, line }
    })?;
    Ok(EditKind::EnvLine {
        line,
        old: old.to_owned(),
        new: format!("{}{encoded}{}", &old[..start], &old[end..]),
    })
}
