//! A duplicate mapping key, placed where compose places it: at the second occurrence.
//!
//! serde_norway refuses a mapping with a repeated key, but its error points at the mapping (the
//! position of its first key), which sends the user to the wrong line. This finds the mapping
//! in the tree-sitter tree and the first two keys with that name in it.

use tree_sitter::{Node, Parser};

use crate::compose::origin::Position;
use crate::compose::source::position_in;

/// A key written twice in one mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// The key.
    pub key: String,
    /// Where it is first written.
    pub first: Position,
    /// Where it is written again: the place to report.
    pub second: Position,
    /// The mapping's route as serde_norway names it (`services.web`; empty at the top level).
    pub route: String,
}

impl Duplicate {
    /// The message for the error: the route, the key and the line of its first occurrence.
    pub fn message(&self) -> String {
        let at = if self.route.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.route)
        };
        format!(
            "{at}duplicate key `{}` (first written at line {})",
            self.key, self.first.line
        )
    }
}

/// The duplicate key serde_norway refused `text` for, when `err` is that refusal and the
/// mapping is found.
pub fn locate(text: &str, err: &serde_norway::Error) -> Option<Duplicate> {
    let message = err.to_string();
    let (route, key) = parse_message(&message)?;
    let mapping_start = err.location()?.index();
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_yaml::LANGUAGE.into())
        .ok()?;
    let tree = parser.parse(text, None)?;
    let mapping = mapping_at(tree.root_node(), mapping_start)?;
    let mut cursor = mapping.walk();
    let mut found = mapping
        .named_children(&mut cursor)
        .filter_map(|pair| pair.child_by_field_name("key"))
        .filter(|k| key_text(*k, text).as_deref() == Some(key.as_str()))
        .map(|k| position_in(text, k.start_byte()));
    let first = found.next()?;
    let second = found.next()?;
    Some(Duplicate {
        key,
        first,
        second,
        route,
    })
}

/// `(route, key)` from serde_norway's `ROUTE: duplicate entry with key "KEY" at line ..`.
fn parse_message(message: &str) -> Option<(String, String)> {
    const MARK: &str = "duplicate entry with key \"";
    let at = message.find(MARK)?;
    let route = message[..at].trim_end().trim_end_matches(':').to_owned();
    let rest = &message[at + MARK.len()..];
    let end = rest.rfind('"')?;
    let quoted = format!("\"{}\"", &rest[..end]);
    let key: String = serde_json::from_str(&quoted).unwrap_or_else(|_| rest[..end].to_owned());
    Some((route, key))
}

/// The innermost block or flow mapping that starts at byte `start`, else the innermost one
/// around it.
fn mapping_at(root: Node<'_>, start: usize) -> Option<Node<'_>> {
    let mut node = root.descendant_for_byte_range(start, start)?;
    let mut around = None;
    loop {
        if matches!(node.kind(), "block_mapping" | "flow_mapping") {
            if node.start_byte() == start {
                return Some(node);
            }
            around.get_or_insert(node);
        }
        match node.parent() {
            Some(parent) => node = parent,
            None => return around,
        }
    }
}

/// A key's string as YAML reads it (quotes and escapes resolved).
fn key_text(key: Node<'_>, text: &str) -> Option<String> {
    let raw = key.utf8_text(text.as_bytes()).ok()?;
    match serde_norway::from_str::<serde_norway::Value>(raw).ok()? {
        serde_norway::Value::String(s) => Some(s),
        serde_norway::Value::Number(n) => Some(n.to_string()),
        serde_norway::Value::Bool(b) => Some(b.to_string()),
        _ => Some(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duplicate(text: &str) -> Duplicate {
        let err = serde_norway::from_str::<serde_norway::Value>(text).expect_err("duplicate");
        locate(text, &err).unwrap_or_else(|| panic!("not located: {err}"))
    }

    fn at(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    #[test]
    fn the_second_occurrence_is_reported_with_the_first_line() {
        let d = duplicate(
            "services:\n  a:\n    image: x\n  web:\n    image: n\n  web:\n    image: o\n",
        );
        assert_eq!((d.first, d.second), (at(4, 3), at(6, 3)));
        assert_eq!(
            d.message(),
            "services: duplicate key `web` (first written at line 4)"
        );
        let d = duplicate("services:\n  web:\n    image: n\n    volumes: []\n    image: o\n");
        assert_eq!((d.first, d.second), (at(3, 5), at(5, 5)));
        assert_eq!(d.route, "services.web");
    }

    #[test]
    fn top_level_quoted_and_flow_duplicates_are_found() {
        let d = duplicate("services: {}\nvolumes: {}\n\"services\": {}\n");
        assert_eq!((d.key.as_str(), d.second), ("services", at(3, 1)));
        assert_eq!(
            d.message(),
            "duplicate key `services` (first written at line 1)"
        );
        let d = duplicate("x: {a: 1, b: 2, a: 3}\n");
        assert_eq!((d.first, d.second), (at(1, 5), at(1, 17)));
    }
}
