//! The text of one compose file and the positions of values in it.
//!
//! Values are found by route with `yamlpath`, which follows aliases to their anchors; keys
//! inherited through `<<:` merge keys are found by looking through the merge sources.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use yamlpath::Document;

use crate::compose::origin::{Origin, Position, Reach, Route, RouteKey, yamlpath_route};
use crate::compose::route_index::RouteIndex;

/// A compose (or tiers) file as read from disk.
pub struct SourceText {
    /// Absolute path.
    pub path: PathBuf,
    /// Full text (shared with the loaded project's copy, see [`crate::compose::LoadedFile`]).
    pub text: std::sync::Arc<str>,
    /// Built on first use: most routes are answered by the index, and a yamlpath document
    /// costs a whole tree-sitter parse.
    doc: OnceCell<Option<Document>>,
    /// Direct routes answered without a yamlpath query (see `route_index`).
    index: Option<RouteIndex>,
    /// Byte offset of the start of each line, for positions in O(log lines).
    line_starts: Vec<usize>,
}

/// The place of a value in a [`SourceText`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// The route that actually reaches the text (may pass through `<<`).
    pub route: Route,
    /// 1-based position of the value's first character.
    pub position: Position,
    /// The value's text as written.
    pub text: String,
    /// How the route reaches the text.
    pub reach: Reach,
}

impl SourceText {
    /// Wraps a file's text; direct routes are indexed at once (see `route_index`), the
    /// yamlpath document for the others is parsed when first needed.
    pub fn new(path: &Path, text: impl Into<std::sync::Arc<str>>) -> Self {
        let text = text.into();
        let index = RouteIndex::build(&text);
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceText {
            path: path.to_path_buf(),
            text,
            doc: OnceCell::new(),
            index,
            line_starts,
        }
    }

    /// The queryable document, when tree-sitter accepts the text (parsed on first use).
    pub fn document(&self) -> Option<&Document> {
        self.doc
            .get_or_init(|| Document::new(self.text.to_string()).ok())
            .as_ref()
    }

    /// The document if it was parsed already (to keep it without parsing it).
    pub fn parsed_document(&self) -> Option<&Document> {
        self.doc.get().and_then(Option::as_ref)
    }

    /// 1-based line and character column of a byte offset.
    pub fn position_of(&self, offset: usize) -> Position {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let line_start = self.line_starts[line.saturating_sub(1)];
        Position {
            line: line.max(1),
            column: self.text[line_start..offset].chars().count() + 1,
        }
    }

    /// Finds the value at `route`, through aliases and `<<:` merge keys.
    pub fn locate(&self, route: &Route) -> Option<Located> {
        if let Some((start, end)) = self.index.as_ref().and_then(|i| i.span(&route.0)) {
            return Some(Located {
                route: route.clone(),
                position: self.position_of(start),
                text: self.text[start..end].to_owned(),
                reach: Reach::Direct,
            });
        }
        let doc = self.document()?;
        let mut actual: Vec<RouteKey> = Vec::new();
        let mut reach = Reach::Direct;
        let mut span = (0, self.text.len());
        for key in &route.0 {
            let mut next = actual.clone();
            next.push(key.clone());
            if !exists(doc, &next) {
                let RouteKey::Key(name) = key else {
                    return None;
                };
                next = merge_source_route(doc, &actual, name)?;
                reach = Reach::MergeKey;
            }
            let feature = doc.query_pretty(&yamlpath_route(&next)).ok()?;
            let (start, end) = feature.location.byte_span;
            if (start < span.0 || end > span.1) && reach == Reach::Direct {
                reach = Reach::Anchor;
            }
            span = (start, end);
            actual = next;
        }
        let yroute = yamlpath_route(&actual);
        let feature = match doc.query_exact(&yroute).ok()? {
            Some(feature) => feature,
            None => doc.query_pretty(&yroute).ok()?,
        };
        let (start, _) = feature.location.byte_span;
        Some(Located {
            route: Route(actual),
            position: self.position_of(start),
            text: doc.extract(&feature).to_owned(),
            reach,
        })
    }
}

impl SourceText {
    /// The origin of the value at `route` (no variables recorded; the caller adds them).
    pub fn origin(&self, route: &Route) -> Origin {
        let located = self.locate(route);
        Origin {
            file: self.path.clone(),
            route: located
                .as_ref()
                .map_or_else(|| route.clone(), |l| l.route.clone()),
            position: located.as_ref().map(|l| l.position),
            text: located.as_ref().map(|l| l.text.clone()).unwrap_or_default(),
            reach: located.as_ref().map_or(Reach::Direct, |l| l.reach),
            variables: Vec::new(),
        }
    }

    /// The position of the key at the end of `route` (for "unknown key" errors).
    pub fn locate_key(&self, route: &Route) -> Option<Position> {
        let doc = self.document()?;
        let feature = doc.query_key_only(&route.to_yamlpath()).ok()?;
        Some(self.position_of(feature.location.byte_span.0))
    }
}

/// 1-based line and character column of a byte offset in `text`.
pub fn position_in(text: &str, offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn exists(doc: &Document, route: &[RouteKey]) -> bool {
    doc.query_exists(&yamlpath_route(route))
}

/// The route of `key` inherited by the mapping at `parent` through its `<<:` key: a single
/// merge source (`<<: *a`) or the first of a list (`<<: [*a, *b]`) that has it.
fn merge_source_route(doc: &Document, parent: &[RouteKey], key: &str) -> Option<Vec<RouteKey>> {
    let mut merge = parent.to_vec();
    merge.push(RouteKey::Key("<<".into()));
    if !exists(doc, &merge) {
        return None;
    }
    let mut single = merge.clone();
    single.push(RouteKey::Key(key.into()));
    if exists(doc, &single) {
        return Some(single);
    }
    (0..64).find_map(|i| {
        let mut item = merge.clone();
        item.push(RouteKey::Index(i));
        if !exists(doc, &item) {
            return None;
        }
        item.push(RouteKey::Key(key.into()));
        exists(doc, &item).then_some(item)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(keys: &[&str]) -> Route {
        Route::new(keys.iter().map(|k| match k.parse::<usize>() {
            Ok(i) => RouteKey::Index(i),
            Err(_) => RouteKey::Key((*k).to_owned()),
        }))
    }

    fn source(text: &str) -> SourceText {
        SourceText::new(Path::new("/p/compose.yaml"), text.to_owned())
    }

    #[test]
    fn locates_a_short_volume_with_its_quotes() {
        let s = source("services:\n  web:\n    volumes:\n      - './data:/data'  # keep\n");
        let got = s
            .locate(&route(&["services", "web", "volumes", "0"]))
            .expect("located");
        assert_eq!(got.position, Position { line: 4, column: 9 });
        assert_eq!(got.text, "'./data:/data'");
        assert_eq!(got.reach, Reach::Direct);
    }

    #[test]
    fn locates_through_an_alias_to_the_anchor() {
        let s = source(
            "x-vols: &vols\n  - /srv/a:/a\nservices:\n  one:\n    volumes: *vols\n  two:\n    volumes: *vols\n",
        );
        let got = s
            .locate(&route(&["services", "two", "volumes", "0"]))
            .expect("located");
        assert_eq!(got.position, Position { line: 2, column: 5 });
        assert_eq!(got.reach, Reach::Anchor);
    }

    #[test]
    fn locates_keys_inherited_through_merge_keys() {
        let s = source(
            "x-base: &base\n  image: pg\n  volumes:\n    - db:/var/lib/pg\nx-other: &other\n  restart: always\nservices:\n  db:\n    <<: [*other, *base]\n",
        );
        let got = s
            .locate(&route(&["services", "db", "volumes", "0"]))
            .expect("located");
        assert_eq!(got.position, Position { line: 4, column: 7 });
        assert_eq!(got.reach, Reach::MergeKey);
        assert_eq!(
            got.route,
            route(&["services", "db", "<<", "1", "volumes", "0"])
        );
    }

    #[test]
    fn flow_sequences_and_long_syntax() {
        let s =
            source("services:\n  a: {volumes: [\"x:/x\", {type: bind, source: /h, target: /t}]}\n");
        let got = s
            .locate(&route(&["services", "a", "volumes", "1", "source"]))
            .expect("located");
        assert_eq!(got.text, "/h");
        assert_eq!(got.position.line, 2);
        assert_eq!(got.position.column, 46);
    }

    #[test]
    fn a_file_above_one_megabyte_keeps_the_line_of_a_mount_near_its_end() {
        let mut text = String::from("services:\n");
        for i in 0..6_000 {
            text.push_str(&format!(
                "  svc{i}:\n    image: postgres:16\n    environment:\n      PAD: \"{:0150}\"\n    volumes:\n      - /srv/warm/app{i}:/data\n      - {{type: bind, source: ./conf{i}, target: /etc/app}}\n",
                i
            ));
        }
        text.push_str("volumes: {}\n");
        assert!(text.len() > 1_000_000);
        let s = source(&text);
        let short = s
            .locate(&route(&["services", "svc5999", "volumes", "0"]))
            .expect("located");
        let expected_line = text
            .lines()
            .position(|l| l == "      - /srv/warm/app5999:/data")
            .expect("written")
            + 1;
        assert_eq!(
            short.position,
            Position {
                line: expected_line,
                column: 9
            }
        );
        assert_eq!(short.text, "/srv/warm/app5999:/data");
        let long = s
            .locate(&route(&["services", "svc5999", "volumes", "1", "source"]))
            .expect("located");
        assert_eq!(long.position.line, expected_line + 1);
        assert_eq!(long.text, "./conf5999");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(position_in("é: x\n", 4), Position { line: 1, column: 4 });
    }

    #[test]
    fn missing_routes_are_none() {
        let s = source("services: {}\n");
        assert!(s.locate(&route(&["services", "nope"])).is_none());
    }
}
