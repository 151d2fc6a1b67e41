//! Where validation errors point: the line and column of a node of `tiers.yaml`, found with
//! yamlpath.

use std::path::{Path, PathBuf};

use yamlpath::{Component, Document, Route};

use super::error::{TiersError, TiersErrorKind};

/// Where validation errors point: the file, its text and its syntax tree.
pub(super) struct Source<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    pub(super) doc: Option<Document>,
}

impl Source<'_> {
    /// A path as written in tiers.yaml: a relative one resolves against the directory of the
    /// tiers.yaml (lexically), so a tier tree can live beside its tiers.yaml (the demo).
    pub(super) fn beside(&self, written: &str) -> PathBuf {
        let path = Path::new(written);
        match self.file.parent() {
            Some(dir) if path.is_relative() && dir.is_absolute() => {
                crate::compose::path::absolute(dir, path)
            }
            _ => path.to_path_buf(),
        }
    }

    /// An error located at the node `route` (the key and value of a mapping entry).
    pub(super) fn error_at(&self, route: &[Component], kind: TiersErrorKind) -> TiersError {
        let (line, column) = locate(self.doc.as_ref(), self.text, route);
        self.error(line, column, kind)
    }

    /// An error located at the value of the node `route`.
    pub(super) fn error_at_value(&self, route: &[Component], kind: TiersErrorKind) -> TiersError {
        let (line, column) = locate_value(self.doc.as_ref(), self.text, route);
        self.error(line, column, kind)
    }

    fn error(&self, line: usize, column: usize, kind: TiersErrorKind) -> TiersError {
        TiersError {
            file: self.file.to_path_buf(),
            line,
            column,
            kind,
        }
    }
}

/// The 1-based line and column of the node at `route` (for a mapping entry:
/// where its key starts). When the route cannot be followed (for instance a
/// key inherited through `<<:`), the nearest ancestor that can is used, and
/// `(1, 1)` when none can.
pub(super) fn locate(doc: Option<&Document>, text: &str, route: &[Component]) -> (usize, usize) {
    let Some(doc) = doc else {
        return (1, 1);
    };
    (0..=route.len())
        .rev()
        .find_map(|len| {
            let route = Route::from(route[..len].to_vec());
            doc.query_pretty(&route).ok().map(|feature| {
                let (row, byte_column) = feature.location.point_span.0;
                point(text, row, byte_column)
            })
        })
        .unwrap_or((1, 1))
}

/// Like [`locate`], but the position of the value of a mapping entry.
pub(super) fn locate_value(
    doc: Option<&Document>,
    text: &str,
    route: &[Component],
) -> (usize, usize) {
    let exact = doc.and_then(|doc| {
        let feature = doc.query_exact(&Route::from(route.to_vec())).ok()??;
        let (row, byte_column) = feature.location.point_span.0;
        Some(point(text, row, byte_column))
    });
    exact.unwrap_or_else(|| locate(doc, text, route))
}

/// 0-based row and byte column -> 1-based line and character column.
pub(super) fn point(text: &str, row: usize, byte_column: usize) -> (usize, usize) {
    let line = text.split('\n').nth(row).unwrap_or_default();
    let column = line
        .get(..byte_column)
        .map_or(byte_column, |prefix| prefix.chars().count());
    (row + 1, column + 1)
}

/// Builds a route from keys and indices.
pub(super) fn route<'a>(components: impl IntoIterator<Item = Component<'a>>) -> Vec<Component<'a>> {
    components.into_iter().collect()
}

pub(super) fn key(name: &str) -> Component<'_> {
    Component::from(name)
}
