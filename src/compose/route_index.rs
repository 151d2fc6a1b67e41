//! Every value of a YAML text that a route reaches directly (no alias, no `<<:` merge key),
//! indexed in one walk of the tree-sitter tree.
//!
//! A yamlpath query walks from the document root and scans each mapping's keys in order, so
//! locating every mount of a file with N services costs O(N) per mount, O(N²) in all (5,000
//! services took 105 s). The index answers a direct route in O(route length); `SourceText`
//! falls back to yamlpath for the routes it does not hold (through aliases or merge keys). It
//! mirrors yamlpath's descent: the first of duplicate keys wins, quoted keys are unquoted, an
//! anchor before a value is skipped, an alias is not followed.
//!
//! tree-sitter-yaml gives up on long files (its scanner keeps rows in 16 bits: past 32,767
//! lines the whole text becomes one `ERROR` node, tree-sitter-grammars/tree-sitter-yaml#49), so
//! such a text, or any text tree-sitter finds an error in, is indexed from the events of
//! `saphyr-parser`, a YAML parser that keeps spans and does not give up.

use std::collections::HashMap;

use tree_sitter::{Node, Parser};

use crate::compose::origin::RouteKey;

/// The byte spans of the directly reachable values of one text.
pub struct RouteIndex {
    nodes: Vec<Entry>,
}

/// One indexed value: its span (the value, or the `key:` pair when the value is absent; `None`
/// for an alias, which only yamlpath resolves) and its children.
struct Entry {
    span: Option<(usize, usize)>,
    children: Children,
}

enum Children {
    Leaf,
    Map(HashMap<Box<str>, u32>),
    Seq(Vec<u32>),
}

/// Past this many lines tree-sitter-yaml's scanner overflows (see the module comment).
const TREE_SITTER_MAX_LINES: usize = 32_767;

impl RouteIndex {
    /// Indexes `text`: from the tree-sitter tree (the tree yamlpath queries) when tree-sitter
    /// accepts the text, else from saphyr-parser's events; `None` when neither parses it.
    pub fn build(text: &str) -> Option<RouteIndex> {
        let lines = text.bytes().filter(|&b| b == b'\n').count();
        let from_tree = if lines < TREE_SITTER_MAX_LINES {
            RouteIndex::from_tree(text)
        } else {
            None
        };
        from_tree.or_else(|| events::index(text))
    }

    /// Indexes `text` from its tree-sitter tree; `None` when tree-sitter finds an error in it.
    fn from_tree(text: &str) -> Option<RouteIndex> {
        let mut parser = Parser::new();
        parser
            .set_language(&tree_sitter_yaml::LANGUAGE.into())
            .ok()?;
        let tree = parser.parse(text, None)?;
        let root = tree.root_node();
        if root.has_error() {
            return None;
        }
        let top = top_object(root)?;
        let mut index = RouteIndex { nodes: Vec::new() };
        index.add(top, text.as_bytes());
        Some(index)
    }

    /// The span of the value at `route`, when the route reaches it directly.
    pub fn span(&self, route: &[RouteKey]) -> Option<(usize, usize)> {
        let mut at = 0u32;
        self.nodes.first()?;
        for key in route {
            let entry = &self.nodes[at as usize];
            at = match (&entry.children, key) {
                (Children::Map(map), RouteKey::Key(k)) => *map.get(k.as_str())?,
                (Children::Seq(items), RouteKey::Index(i)) => *items.get(*i)?,
                _ => return None,
            };
        }
        self.nodes[at as usize].span
    }

    /// Adds the value `node` (a `block_node` / `flow_node`) and everything below it; returns
    /// its entry number.
    fn add(&mut self, node: Node<'_>, text: &[u8]) -> u32 {
        let inner = first_named(node, |n| !matches!(n.kind(), "anchor" | "tag"));
        let span = match inner {
            Some(inner) if node.child(0).is_some_and(|c| c.kind() == "anchor") => {
                (inner.start_byte(), inner.end_byte())
            }
            _ => (node.start_byte(), node.end_byte()),
        };
        let is_alias = inner.is_some_and(|n| n.kind() == "alias");
        let at = self.push((!is_alias).then_some(span));
        let children = match inner {
            Some(n) if matches!(n.kind(), "block_mapping" | "flow_mapping") => {
                self.mapping(n, text)
            }
            Some(n) if matches!(n.kind(), "block_sequence" | "flow_sequence") => {
                self.sequence(n, text)
            }
            _ => Children::Leaf,
        };
        self.nodes[at as usize].children = children;
        at
    }

    fn push(&mut self, span: Option<(usize, usize)>) -> u32 {
        self.nodes.push(Entry {
            span,
            children: Children::Leaf,
        });
        u32::try_from(self.nodes.len() - 1).unwrap_or(u32::MAX)
    }

    fn mapping(&mut self, mapping: Node<'_>, text: &[u8]) -> Children {
        let mut map: HashMap<Box<str>, u32> = HashMap::new();
        let mut cursor = mapping.walk();
        let pairs: Vec<Node<'_>> = mapping.named_children(&mut cursor).collect();
        for pair in pairs {
            let (key, value) = match pair.kind() {
                "block_mapping_pair" | "flow_pair" => {
                    let Some(key) = pair.child_by_field_name("key") else {
                        continue;
                    };
                    (key, pair.child_by_field_name("value"))
                }
                // `{ foo }`: a key alone, which is its own value.
                "flow_node" => (pair, Some(pair)),
                _ => continue,
            };
            let Some(name) = key_text(key, text) else {
                continue;
            };
            if map.contains_key(name.as_str()) {
                continue;
            }
            let at = match value {
                Some(value) => self.add(value, text),
                None => self.push(Some((pair.start_byte(), pair.end_byte()))),
            };
            map.insert(name.into_boxed_str(), at);
        }
        Children::Map(map)
    }

    fn sequence(&mut self, sequence: Node<'_>, text: &[u8]) -> Children {
        let mut cursor = sequence.walk();
        let items: Vec<Node<'_>> = sequence.named_children(&mut cursor).collect();
        let mut values = Vec::new();
        for item in items {
            let value = match item.kind() {
                "block_sequence_item" => {
                    // An empty item (`-`) makes yamlpath refuse the whole sequence.
                    let Some(value) =
                        first_named(item, |n| matches!(n.kind(), "block_node" | "flow_node"))
                    else {
                        return Children::Leaf;
                    };
                    value
                }
                "flow_node" => item,
                "flow_pair" => item.child_by_field_name("value").unwrap_or(item),
                _ => continue,
            };
            values.push(value);
        }
        let at = values.into_iter().map(|v| self.add(v, text)).collect();
        Children::Seq(at)
    }
}

fn first_named<'t>(node: Node<'t>, want: impl Fn(&Node<'t>) -> bool) -> Option<Node<'t>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).find(|n| want(n))
}

/// The top-level value of the first document.
fn top_object(stream: Node<'_>) -> Option<Node<'_>> {
    let document = first_named(stream, |n| n.kind() == "document")?;
    first_named(document, |n| matches!(n.kind(), "block_node" | "flow_node"))
}

/// A mapping key as yamlpath compares it: the scalar after any anchor, quotes stripped.
fn key_text(key: Node<'_>, text: &[u8]) -> Option<String> {
    let scalar = first_named(key, |n| n.kind() != "anchor");
    let node = scalar.unwrap_or(key);
    let raw = node.utf8_text(text).ok()?;
    let quoted =
        scalar.is_some_and(|s| matches!(s.kind(), "double_quote_scalar" | "single_quote_scalar"));
    Some(if quoted && raw.len() >= 2 {
        let mut chars = raw.chars();
        chars.next();
        chars.next_back();
        chars.as_str().to_owned()
    } else {
        raw.to_owned()
    })
}

/// The index built from saphyr-parser's events (only direct routes, like the tree's).
mod events {
    use std::collections::HashMap;

    use saphyr_parser::{Event, Parser, ScalarStyle, Span};

    use super::{Children, RouteIndex};

    /// An open mapping or sequence.
    enum Frame {
        Map {
            at: u32,
            map: HashMap<Box<str>, u32>,
            /// `None` while a key is expected; then the key (`None` when it is not a scalar)
            /// and where it starts.
            key: Option<(Option<Box<str>>, usize)>,
        },
        Seq {
            at: u32,
            items: Vec<u32>,
        },
    }

    /// Indexes the first document of `text`; `None` when saphyr-parser refuses it.
    pub(super) fn index(text: &str) -> Option<RouteIndex> {
        let mut index = RouteIndex { nodes: Vec::new() };
        let mut offsets = Offsets::new(text);
        let mut stack: Vec<Frame> = Vec::new();
        for event in Parser::new_from_str(text) {
            let (event, span) = event.ok()?;
            let (start, end) = offsets.span(&span);
            match event {
                Event::Scalar(value, style, ..) => {
                    if let Some(Frame::Map {
                        key: key @ None, ..
                    }) = stack.last_mut()
                    {
                        *key = Some((Some(value.as_ref().into()), start));
                        continue;
                    }
                    let span = value_span(text, &stack, start, end, style);
                    let at = index.push(Some(span));
                    deliver(&mut stack, at, start);
                }
                Event::Alias(_) => {
                    let at = index.push(None);
                    deliver(&mut stack, at, start);
                }
                Event::MappingStart(..) => {
                    let start = skip_properties(text, start);
                    let at = index.push(Some((start, start)));
                    stack.push(Frame::Map {
                        at,
                        map: HashMap::new(),
                        key: None,
                    });
                }
                Event::SequenceStart(..) => {
                    let start = skip_properties(text, start);
                    let at = index.push(Some((start, start)));
                    stack.push(Frame::Seq {
                        at,
                        items: Vec::new(),
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    let (at, children) = match stack.pop()? {
                        Frame::Map { at, map, .. } => (at, Children::Map(map)),
                        Frame::Seq { at, items } => (at, Children::Seq(items)),
                    };
                    let entry = &mut index.nodes[at as usize];
                    entry.children = children;
                    if let Some((s, _)) = entry.span {
                        entry.span = Some((s, end.max(s)));
                    }
                    let key_start = entry.span.map_or(start, |(s, _)| s);
                    deliver(&mut stack, at, key_start);
                }
                Event::DocumentEnd | Event::StreamEnd => break,
                _ => {}
            }
        }
        index.nodes.first()?;
        Some(index)
    }

    /// A value's span; an absent value (`key:`) is its `key:` pair, as in the tree's index.
    fn value_span(
        text: &str,
        stack: &[Frame],
        start: usize,
        end: usize,
        style: ScalarStyle,
    ) -> (usize, usize) {
        if start == end
            && let Some(Frame::Map {
                key: Some((_, key_start)),
                ..
            }) = stack.last()
        {
            let pair = text[*key_start..]
                .find(':')
                .map_or(start, |i| key_start + i + 1);
            return (*key_start, pair.max(*key_start));
        }
        let start = skip_properties(text, start);
        (start, scalar_end(text, start, end.max(start), style))
    }

    /// Where the scalar starting at `start` ends: saphyr's end marker may lie past the
    /// whitespace and comment that follow it.
    fn scalar_end(text: &str, start: usize, end: usize, style: ScalarStyle) -> usize {
        let written = &text[start..end];
        let quote = match style {
            ScalarStyle::SingleQuoted => Some('\''),
            ScalarStyle::DoubleQuoted => Some('"'),
            _ => None,
        };
        if let Some(quote) = quote {
            let mut chars = written.char_indices().skip(1).peekable();
            while let Some((i, c)) = chars.next() {
                if quote == '"' && c == '\\' {
                    chars.next();
                } else if c == quote {
                    if quote == '\'' && chars.peek().is_some_and(|&(_, n)| n == '\'') {
                        chars.next();
                    } else {
                        return start + i + 1;
                    }
                }
            }
            return end;
        }
        let mut cut = written.len();
        if matches!(style, ScalarStyle::Plain) {
            for pattern in [" #", "\t#", "\n#"] {
                if let Some(i) = written.find(pattern) {
                    cut = cut.min(i);
                }
            }
        }
        start + written[..cut].trim_end().len()
    }

    /// Hands the finished value `at` to the open container: the value of the pending key (the
    /// first of duplicate keys wins), an item, or a complex key (not indexed).
    fn deliver(stack: &mut [Frame], at: u32, start: usize) {
        match stack.last_mut() {
            Some(Frame::Map { map, key, .. }) => match key.take() {
                None => *key = Some((None, start)),
                Some((Some(name), _)) => {
                    map.entry(name).or_insert(at);
                }
                Some((None, _)) => {}
            },
            Some(Frame::Seq { items, .. }) => items.push(at),
            None => {}
        }
    }

    /// The start of a node after its anchor (`&a`) and tag (`!t`), which yamlpath skips.
    fn skip_properties(text: &str, mut start: usize) -> usize {
        while let Some(rest) = text.get(start..)
            && (rest.starts_with('&') || rest.starts_with('!'))
        {
            let token = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let blank = rest[token..]
                .find(|c: char| !c.is_whitespace())
                .unwrap_or(rest.len() - token);
            start += token + blank;
        }
        start
    }

    /// saphyr-parser's markers count characters; spans here are byte offsets.
    struct Offsets<'t> {
        text: &'t str,
        ascii: bool,
        /// The last conversion: (character index, byte offset).
        at: (usize, usize),
    }

    impl<'t> Offsets<'t> {
        fn new(text: &'t str) -> Self {
            Offsets {
                text,
                ascii: text.is_ascii(),
                at: (0, 0),
            }
        }

        fn span(&mut self, span: &Span) -> (usize, usize) {
            let start = self.byte(span.start.index());
            (start, self.byte(span.end.index()).max(start))
        }

        /// The byte offset of character `index` (markers mostly move forward, so this walks
        /// from the last answer).
        fn byte(&mut self, index: usize) -> usize {
            if self.ascii {
                return index.min(self.text.len());
            }
            if index < self.at.0 {
                self.at = (0, 0);
            }
            let (mut chars, mut bytes) = self.at;
            for c in self.text[bytes..].chars() {
                if chars == index {
                    break;
                }
                chars += 1;
                bytes += c.len_utf8();
            }
            self.at = (chars, bytes);
            bytes
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> RouteKey {
        k.parse::<usize>()
            .map_or_else(|_| RouteKey::Key(k.to_owned()), RouteKey::Index)
    }

    fn text_at<'a>(text: &'a str, route: &[&str]) -> Option<&'a str> {
        let index = RouteIndex::build(text).expect("valid yaml");
        let route: Vec<RouteKey> = route.iter().map(|k| key(k)).collect();
        index.span(&route).map(|(s, e)| &text[s..e])
    }

    #[test]
    fn block_and_flow_values_are_found_directly() {
        let text = "services:\n  web:\n    volumes:\n      - './d:/d'  # c\n      - {type: bind, source: /h, target: /t}\n";
        assert_eq!(
            text_at(text, &["services", "web", "volumes", "0"]),
            Some("'./d:/d'")
        );
        assert_eq!(
            text_at(text, &["services", "web", "volumes", "1", "source"]),
            Some("/h")
        );
        assert_eq!(text_at(text, &["services", "nope"]), None);
    }

    #[test]
    fn quoted_and_duplicate_keys_follow_yamlpath() {
        let text = "\"a b\": 1\nx: first\nx: second\n";
        assert_eq!(text_at(text, &["a b"]), Some("1"));
        assert_eq!(text_at(text, &["x"]), Some("first"));
    }

    #[test]
    fn anchors_are_skipped_and_aliases_not_followed() {
        let text = "x-v: &v\n  - /a:/a\nservices:\n  s:\n    volumes: *v\n";
        assert_eq!(text_at(text, &["x-v", "0"]), Some("/a:/a"));
        assert_eq!(text_at(text, &["services", "s", "volumes", "0"]), None);
        assert_eq!(text_at(text, &["services", "s", "volumes"]), None);
        let flow = "x: &m /a:/a\ns: [*m, /b:/b]\n";
        assert_eq!(text_at(flow, &["s", "0"]), None);
        assert_eq!(text_at(flow, &["s", "1"]), Some("/b:/b"));
    }

    /// Every route of `routes` has the same span in both indexes.
    fn same_in_both(text: &str, routes: &[&[&str]]) {
        let tree = RouteIndex::from_tree(text).expect("tree-sitter accepts it");
        let events = events::index(text).expect("saphyr accepts it");
        for route in routes {
            let keys: Vec<RouteKey> = route.iter().map(|k| key(k)).collect();
            let spans = (tree.span(&keys), events.span(&keys));
            let texts = (
                spans.0.map(|(s, e)| &text[s..e]),
                spans.1.map(|(s, e)| &text[s..e]),
            );
            assert_eq!(texts.0, texts.1, "{route:?} in {text:?}");
            assert_eq!(
                spans.0.map(|s| s.0),
                spans.1.map(|s| s.0),
                "{route:?} in {text:?}"
            );
        }
    }

    #[test]
    fn the_event_index_agrees_with_the_tree_index() {
        same_in_both(
            "services:\n  web:\n    volumes:\n      - './d:/d'  # c\n      - {type: bind, source: /h, target: /t}\n      - \"/q:/q\"\n",
            &[
                &["services", "web", "volumes", "0"],
                &["services", "web", "volumes", "1", "source"],
                &["services", "web", "volumes", "2"],
                &["services", "nope"],
            ],
        );
        same_in_both("\"a b\": 1\nx: first\nx: second\n", &[&["a b"], &["x"]]);
        same_in_both(
            "x-v: &v\n  - /a:/a\nservices:\n  s:\n    volumes: *v\n  t:\n    image: &i é/ü\n    volumes:\n      - é:/é\n",
            &[
                &["x-v", "0"],
                &["services", "s", "volumes", "0"],
                &["services", "s", "volumes"],
                &["services", "t", "image"],
                &["services", "t", "volumes", "0"],
            ],
        );
        same_in_both("x: &m /a:/a\ns: [*m, /b:/b]\n", &[&["s", "0"], &["s", "1"]]);
    }

    #[test]
    fn a_text_past_tree_sitters_line_limit_is_indexed_from_events() {
        // tree-sitter-yaml turns a text of more than 32,767 lines into one ERROR node
        let mut text = String::from("services:\n");
        for i in 0..7_000 {
            text.push_str(&format!(
                "  s{i}:\n    image: pg\n    volumes:\n      - /srv/{i}:/data\n      - 'v{i}:/v'\n"
            ));
        }
        assert!(text.len() > 200_000 && text.lines().count() > 32_767);
        let index = RouteIndex::build(&text).expect("indexed");
        let route = [key("services"), key("s6999"), key("volumes"), key("1")];
        let (start, end) = index.span(&route).expect("direct route");
        assert_eq!(&text[start..end], "'v6999:/v'");
    }

    #[test]
    fn an_absent_value_is_its_pair() {
        assert_eq!(text_at("a:\nb: 1\n", &["a"]), Some("a:"));
    }
}
