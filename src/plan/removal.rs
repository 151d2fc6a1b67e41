//! Removing a top-level volume entry (or the whole `volumes:` block) from a compose file's text,
//! with the comment lines that belong to it. `plan` decides with it and `rewrite` applies it, so
//! both remove exactly the same lines.
//!
//! The rule: the comment lines directly above a removed key — no blank line between them and
//! the key, indented exactly as the key — describe it and go with it. Every other comment stays
//! (one after a blank line, or indented differently, is about something else). A commented-out
//! entry is user content, not a description: a comment line whose text reads as YAML (`# cache:`,
//! `# name: x`, `# - a:/b`; see [`commented_out_entry`]) never goes with a key, and the walk up
//! stops there. A removal that leaves the file ending in blank lines drops them.

use thiserror::Error;
use yamlpath::{Document, QueryError};

use crate::compose::origin::{Position, Route};
use crate::compose::source::position_in;

/// A key removed from a document.
pub struct Removal {
    /// The document without the key, its value and its comment lines.
    pub doc: Document,
    /// The comment lines removed with the key, as written (no line ends), top to bottom.
    pub comments: Vec<String>,
}

/// Why a key could not be removed.
#[derive(Debug, Error)]
pub enum RemovalError {
    /// The route names no key of the document.
    #[error("no key `{route}`: {source}")]
    NoKey {
        /// The route.
        route: Route,
        /// What yamlpath found instead.
        source: QueryError,
    },
    /// The text left without the key is not a document yamlpath reads.
    #[error("{source}")]
    Unreadable {
        /// The route of the removed key.
        route: Route,
        /// yamlpath's complaint.
        source: QueryError,
    },
}

/// The position of the key at the end of `route` (the first character of `name:`).
pub fn key_position(doc: &Document, route: &Route) -> Option<Position> {
    let offset = key_offset(doc, route).ok()?;
    Some(position_in(doc.source(), offset))
}

/// The comment lines that belong to the key at the end of `route` (see the module rule).
pub fn attached_comments(doc: &Document, route: &Route) -> Result<Vec<String>, RemovalError> {
    let key = key_offset(doc, route)?;
    Ok(comments_above(doc.source(), key).1)
}

/// Removes the key at the end of `route` with its value and its comment lines.
pub fn remove_key(doc: &Document, route: &Route) -> Result<Removal, RemovalError> {
    let key = key_offset(doc, route)?;
    let text = doc.source();
    let feature = doc
        .query_pretty(&route.to_yamlpath())
        .map_err(|source| RemovalError::NoKey {
            route: route.clone(),
            source,
        })?;
    let (cut, comments) = comments_above(text, key);
    let end = content_end(text, key, feature.location.byte_span.1);
    let rest = &text[end..];
    let new = if rest.trim().is_empty() {
        // the removal reaches the end: no blank lines left dangling there; the last kept line
        // stays as it was, line end included
        without_trailing_blank_lines(&text[..cut]).to_owned()
    } else {
        format!("{}{rest}", &text[..cut])
    };
    let doc = Document::new(new).map_err(|source| RemovalError::Unreadable {
        route: route.clone(),
        source,
    })?;
    Ok(Removal { doc, comments })
}

/// The end (after its line end) of the last line of the value that ends at byte `end` which is
/// content: the blank lines and the comment lines no deeper than the key (at byte `key`) that
/// the parser counts into the value belong to what follows it.
fn content_end(text: &str, key: usize, end: usize) -> usize {
    let key_line = line_start(text, key);
    let indent = key - key_line;
    let mut end = text[end.saturating_sub(1).max(key)..]
        .find('\n')
        .map_or(text.len(), |i| end.saturating_sub(1).max(key) + i + 1);
    while end > key_line {
        let last = line_start(text, end - 1);
        if last <= key_line {
            break;
        }
        let line = text[last..end].trim_end_matches(['\n', '\r']);
        let body = line.trim_start_matches(' ');
        let outer_comment = body.starts_with('#') && line.len() - body.len() <= indent;
        if !(body.trim().is_empty() || outer_comment) {
            break;
        }
        end = last;
    }
    end
}

/// `text` (empty or ending with a line end) without the whitespace-only lines at its end.
fn without_trailing_blank_lines(text: &str) -> &str {
    let mut kept = text;
    while !kept.is_empty() {
        let last = line_start(kept, kept.len() - 1);
        if !kept[last..].trim().is_empty() {
            break;
        }
        kept = &kept[..last];
    }
    kept
}

fn key_offset(doc: &Document, route: &Route) -> Result<usize, RemovalError> {
    let feature =
        doc.query_key_only(&route.to_yamlpath())
            .map_err(|source| RemovalError::NoKey {
                route: route.clone(),
                source,
            })?;
    Ok(feature.location.byte_span.0)
}

fn line_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind('\n').map_or(0, |i| i + 1)
}

/// The start of the first comment line that belongs to the key at byte `key`, and those lines.
fn comments_above(text: &str, key: usize) -> (usize, Vec<String>) {
    let key_line = line_start(text, key);
    let indent = &text[key_line..key];
    let mut start = key_line;
    let mut comments = Vec::new();
    if !indent.chars().all(|c| c == ' ') {
        return (start, comments);
    }
    while start > 0 {
        let above = line_start(text, start - 1);
        let line = text[above..start].trim_end_matches(['\n', '\r']);
        let body = line.trim_start_matches(' ');
        if !body.starts_with('#')
            || line.len() - body.len() != indent.len()
            || commented_out_entry(line)
        {
            break;
        }
        comments.push(line.to_owned());
        start = above;
    }
    comments.reverse();
    (start, comments)
}

/// Whether a comment line is a commented-out entry rather than prose: its text after `#` starts
/// like a sequence item (`- `) or a mapping key (`word:` then a space or the line end, the key
/// without spaces). Prose that happens to start so (`# TODO: x`) counts as an entry: it stays.
pub fn commented_out_entry(line: &str) -> bool {
    let Some(body) = line.trim_start().strip_prefix('#') else {
        return false;
    };
    let body = body.trim();
    if body == "-" || body.starts_with("- ") {
        return true;
    }
    match body.split_once(':') {
        Some((key, rest)) => {
            !key.is_empty()
                && !key.contains(char::is_whitespace)
                && (rest.is_empty() || rest.starts_with([' ', '\t']))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::origin::RouteKey;

    fn volumes(keys: &[&str]) -> Route {
        Route::new(
            std::iter::once(RouteKey::from("volumes")).chain(keys.iter().map(|k| (*k).into())),
        )
    }

    fn remove(text: &str, route: &Route) -> (String, Vec<String>) {
        let doc = Document::new(text.to_owned()).expect("parses");
        let removal = remove_key(&doc, route).expect("removed");
        (removal.doc.source().to_owned(), removal.comments)
    }

    #[test]
    fn comment_lines_directly_above_the_block_go_with_it() {
        let text = "services:\n  a:\n    image: x\n\n# kept: after a blank line\n\n# the volumes\n# of the project\nvolumes:\n  data:\n    driver: local\n";
        let (new, comments) = remove(text, &volumes(&[]));
        assert_eq!(
            new,
            "services:\n  a:\n    image: x\n\n# kept: after a blank line\n"
        );
        assert_eq!(comments, ["# the volumes", "# of the project"]);
    }

    #[test]
    fn comments_of_other_entries_and_other_indentation_stay() {
        let text = "volumes:\n  # about data\n  data:\n    driver: local\n# not indented as the key\n  other:\n  # about last\n  last: {}\nx-a: 1\n";
        let (new, comments) = remove(text, &volumes(&["data"]));
        assert_eq!(
            new,
            "volumes:\n# not indented as the key\n  other:\n  # about last\n  last: {}\nx-a: 1\n"
        );
        assert_eq!(comments, ["  # about data"]);
        let (new, comments) = remove(text, &volumes(&["other"]));
        assert!(
            new.contains("# not indented as the key\n  # about last"),
            "{new}"
        );
        assert!(comments.is_empty());
    }

    #[test]
    fn comments_after_the_block_belong_to_what_follows() {
        let text = "services: {}\n# the volumes\nvolumes:\n  data:\n    driver: local\n\n# about x\nx-a: 1\n";
        let (new, comments) = remove(text, &volumes(&[]));
        assert_eq!(new, "services: {}\n\n# about x\nx-a: 1\n");
        assert_eq!(comments, ["# the volumes"]);
        let text = "services: {}\nvolumes:\n  data:\n    driver: local\n    # driver_opts: {}\n  # other: {}\n# end\n";
        let (new, _) = remove(text, &volumes(&[]));
        assert_eq!(new, "services: {}\n# end\n");
        let (new, _) = remove(text, &volumes(&["data"]));
        assert_eq!(new, "services: {}\nvolumes:\n  # other: {}\n# end\n");
    }

    #[test]
    fn issue26_row12_commented_out_entries_are_not_prose() {
        for entry in [
            "  # cache:",
            "# name: x",
            "  #   driver: local",
            "# - a:/b",
            "#-",
            "# TODO: prose that reads as a key stays too",
        ] {
            assert!(commented_out_entry(entry), "{entry:?}");
        }
        for prose in [
            "# the volumes",
            "  # see https://docs.docker.com",
            "# Note that: x",
            "#",
            "not a comment: 1",
        ] {
            assert!(!commented_out_entry(prose), "{prose:?}");
        }
        let text = "# the volumes\n# cache:\n# about data\nvolumes:\n  data: {}\n";
        let (new, comments) = remove(text, &volumes(&[]));
        assert_eq!(new, "# the volumes\n# cache:\n");
        assert_eq!(comments, ["# about data"]);
    }

    #[test]
    fn key_position_is_the_key_not_its_body() {
        let text = "services: {}\nvolumes:\n  data:\n    driver: local\n";
        let doc = Document::new(text.to_owned()).expect("parses");
        assert_eq!(
            key_position(&doc, &volumes(&["data"])),
            Some(Position { line: 3, column: 3 })
        );
        assert_eq!(
            key_position(&doc, &volumes(&[])),
            Some(Position { line: 2, column: 1 })
        );
    }
}
