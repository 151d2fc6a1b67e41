//! Where a value of the compose model came from: file, YAML route, line and column, and the
//! variable that supplied it. `rewrite` edits exactly these places, so they must be exact.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::compose::env::VarSource;

/// One step of a route into a YAML document.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum RouteKey {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteKey::Key(k) => write!(f, "{k}"),
            RouteKey::Index(i) => write!(f, "[{i}]"),
        }
    }
}

impl From<&str> for RouteKey {
    fn from(key: &str) -> Self {
        RouteKey::Key(key.to_owned())
    }
}

impl From<usize> for RouteKey {
    fn from(index: usize) -> Self {
        RouteKey::Index(index)
    }
}

/// A route into a YAML document, e.g. `services.web.volumes[0]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Route(pub Vec<RouteKey>);

/// Route keys as yamlpath's query.
pub fn yamlpath_route(keys: &[RouteKey]) -> yamlpath::Route<'static> {
    keys.iter()
        .map(|key| match key {
            RouteKey::Key(k) => yamlpath::Component::Key(k.clone().into()),
            RouteKey::Index(i) => yamlpath::Component::Index(*i),
        })
        .collect::<Vec<_>>()
        .into()
}

impl Route {
    /// The same route as yamlpath's query (for locating and patching the text).
    pub fn to_yamlpath(&self) -> yamlpath::Route<'static> {
        yamlpath_route(&self.0)
    }

    /// A route made of the given keys.
    pub fn new(keys: impl IntoIterator<Item = RouteKey>) -> Self {
        Route(keys.into_iter().collect())
    }

    /// This route extended by one key.
    pub fn with(&self, key: impl Into<RouteKey>) -> Self {
        let mut keys = self.0.clone();
        keys.push(key.into());
        Route(keys)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, key) in self.0.iter().enumerate() {
            match key {
                RouteKey::Key(k) if i == 0 => write!(f, "{k}")?,
                RouteKey::Key(k) => write!(f, ".{k}")?,
                RouteKey::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A 1-based line and column in a file (the column counts characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// How the route reaches the value in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reach {
    /// The value is written at its own place in the service.
    Direct,
    /// The value is written inside an anchor (`&name`) that the service uses through an alias.
    Anchor,
    /// The value is inherited through a `<<:` merge key.
    MergeKey,
    /// The value comes from a service this one `extends`.
    Extends,
}

/// A variable that supplied (part of) a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceVariable {
    /// Variable name.
    pub name: String,
    /// Where its value was set; `None` when it is unset (a default applied or it is empty).
    pub set_by: Option<VarSource>,
    /// Whether the default of `${VAR:-default}` / `${VAR-default}` was used.
    pub used_default: bool,
    /// Whether the variable expression is the whole source (`${UPLOAD_LOCATION}`), so editing
    /// the variable's value edits exactly this source.
    pub whole: bool,
}

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The compose file (absolute path).
    pub file: PathBuf,
    /// The YAML route of the value in that file.
    pub route: Route,
    /// Where the value is written; `None` when the text could not be located.
    pub position: Option<Position>,
    /// The YAML text as written (with quotes if it is quoted).
    pub text: String,
    /// How the service reaches it.
    pub reach: Reach,
    /// Variables used in the value, in order.
    pub variables: Vec<SourceVariable>,
}

/// A place in a file for error messages: `file:line:col` (line and column when known).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Place {
    /// The file.
    pub file: PathBuf,
    /// The position, when known.
    pub position: Option<Position>,
}

impl Place {
    /// A place at a known position.
    pub fn at(file: impl Into<PathBuf>, position: Position) -> Self {
        Place {
            file: file.into(),
            position: Some(position),
        }
    }

    /// A whole file.
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Place {
            file: file.into(),
            position: None,
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{}:{}:{}", self.file.display(), p.line, p.column),
            None => write!(f, "{}", self.file.display()),
        }
    }
}
