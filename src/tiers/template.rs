//! Path templates such as `databases/{project}/{service}`.
//!
//! A template is a relative path below a tier root. It may use the variables
//! `{project}`, `{service}`, `{volume}` and `{target}`; each value is made safe
//! for a single path component before it is substituted, so a rendered
//! template never leaves the tier root.

use std::fmt;
use std::path::PathBuf;

use super::placement::Subject;

/// A variable a path template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// The compose project name.
    Project,
    /// The service name.
    Service,
    /// The named volume key, or for a bind mount the last component of the target.
    Volume,
    /// The container path, flattened into one component (`/var/lib/x` -> `var_lib_x`).
    Target,
}

impl Var {
    /// The variable names a template may use, in the form they are written.
    pub const ALLOWED: &'static str = "`{project}`, `{service}`, `{volume}`, `{target}`";

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "project" => Some(Self::Project),
            "service" => Some(Self::Service),
            "volume" => Some(Self::Volume),
            "target" => Some(Self::Target),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::Service => "service",
            Self::Volume => "volume",
            Self::Target => "target",
        }
    }
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Var(Var),
}

/// A validated path template: relative, without `..`, using only known variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    segments: Vec<Segment>,
}

/// Why a path template was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathTemplateError {
    /// The template is empty, which would place data at the tier root itself.
    #[error("path template is empty")]
    Empty,
    /// The template names a variable that does not exist.
    #[error("unknown variable `{{{variable}}}` in path template `{template}`")]
    UnknownVariable {
        /// The whole template.
        template: String,
        /// The variable name, without braces.
        variable: String,
    },
    /// A `{` without its `}`, or a stray `}`.
    #[error("unbalanced braces in path template `{template}`")]
    UnbalancedBraces {
        /// The whole template.
        template: String,
    },
    /// The template starts with `/`.
    #[error("path template `{template}` is absolute")]
    Absolute {
        /// The whole template.
        template: String,
    },
    /// The template has a `..` component.
    #[error("path template `{template}` leaves the tier root with `..`")]
    Escapes {
        /// The whole template.
        template: String,
    },
}

impl PathTemplateError {
    /// What the user should do about this error.
    pub fn hint(&self) -> String {
        match self {
            Self::Empty => {
                "give a directory below the tier root, e.g. `{project}/{volume}`".to_string()
            }
            Self::UnknownVariable { .. } | Self::UnbalancedBraces { .. } => {
                format!("the variables a template may use are {}", Var::ALLOWED)
            }
            Self::Absolute { .. } => {
                "write the path relative to the tier root, e.g. `databases/{project}`".to_string()
            }
            Self::Escapes { .. } => {
                "remove the `..`: a template must stay inside its tier root".to_string()
            }
        }
    }
}

/// The text variable `var` stands for, for `subject`.
fn value(subject: &Subject, var: Var) -> String {
    match var {
        Var::Project => subject.project.to_string(),
        Var::Service => subject.service.to_string(),
        Var::Volume => subject.volume_name(),
        Var::Target => subject.target.trim_matches('/').to_string(),
    }
}

impl Template {
    /// Parses and validates a template.
    pub fn parse(source: &str) -> Result<Self, PathTemplateError> {
        if source.trim().is_empty() {
            return Err(PathTemplateError::Empty);
        }
        if source.starts_with('/') || source.starts_with('\\') {
            return Err(PathTemplateError::Absolute {
                template: source.to_string(),
            });
        }
        let segments = split_segments(source)?;
        let escapes = literal_components(&segments).any(|component| component == "..");
        if escapes {
            return Err(PathTemplateError::Escapes {
                template: source.to_string(),
            });
        }
        Ok(Self {
            source: source.to_string(),
            segments,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Renders the template into a relative path; every value is made safe
    /// for one path component first (see [`safe_component`]).
    pub fn render(&self, subject: &Subject) -> PathBuf {
        let text: String = self
            .segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(literal) => literal.clone(),
                Segment::Var(var) => safe_component(&value(subject, *var)),
            })
            .collect();
        text.split('/')
            .filter(|component| !component.is_empty() && *component != ".")
            .collect()
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Makes `value` safe as a single path component: `/`, `\` and NUL become
/// `_`, an empty value becomes `_`, and a value of only dots (`.`, `..`) has
/// its dots replaced by `_`. A safe value always holds a character other
/// than `.`, so no component built with it can be `..`.
pub fn safe_component(value: &str) -> String {
    let replaced: String = value
        .chars()
        .map(|c| match c {
            '/' | '\\' | '\0' => '_',
            other => other,
        })
        .collect();
    if replaced.chars().all(|c| c == '.') {
        "_".repeat(replaced.len().max(1))
    } else {
        replaced
    }
}

/// Splits a template into literals and variables.
fn split_segments(source: &str) -> Result<Vec<Segment>, PathTemplateError> {
    let unbalanced = || PathTemplateError::UnbalancedBraces {
        template: source.to_string(),
    };
    let mut segments = Vec::new();
    let mut rest = source;
    while !rest.is_empty() {
        let open = rest.find('{');
        let close = rest.find('}');
        match (open, close) {
            (None, None) => {
                segments.push(Segment::Literal(rest.to_string()));
                break;
            }
            (Some(open), Some(close)) if open < close => {
                if open > 0 {
                    segments.push(Segment::Literal(rest[..open].to_string()));
                }
                let name = &rest[open + 1..close];
                if name.contains('{') {
                    return Err(unbalanced());
                }
                let var =
                    Var::from_name(name).ok_or_else(|| PathTemplateError::UnknownVariable {
                        template: source.to_string(),
                        variable: name.to_string(),
                    })?;
                segments.push(Segment::Var(var));
                rest = &rest[close + 1..];
            }
            _ => return Err(unbalanced()),
        }
    }
    Ok(segments)
}

/// The path components made only of literal text (those a value cannot change).
fn literal_components(segments: &[Segment]) -> impl Iterator<Item = String> + '_ {
    let mut text = String::new();
    for segment in segments {
        match segment {
            Segment::Literal(literal) => text.push_str(literal),
            // A value is never only dots, so a placeholder is enough here.
            Segment::Var(var) => text.push_str(&format!("<{}>", var.name())),
        }
    }
    let components: Vec<String> = text
        .split(['/', '\\'])
        .map(|component| component.to_string())
        .collect();
    components.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Subject<'static> {
        Subject {
            project: "immich",
            service: "database",
            image: None,
            volume: Some("pgdata"),
            target: "/var/lib/postgresql/data",
        }
    }

    #[test]
    fn renders_every_variable() {
        let template = Template::parse("db/{project}/{service}/{volume}/{target}").unwrap();
        assert_eq!(
            template.render(&values()),
            PathBuf::from("db/immich/database/pgdata/var_lib_postgresql_data")
        );
    }

    #[test]
    fn volume_of_bind_mount_is_last_target_component() {
        let template = Template::parse("{project}/{volume}").unwrap();
        let bind = Subject {
            volume: None,
            target: "/usr/src/app/upload/",
            ..values()
        };
        assert_eq!(template.render(&bind), PathBuf::from("immich/upload"));
        let root = Subject {
            volume: None,
            target: "/",
            ..values()
        };
        assert_eq!(template.render(&root), PathBuf::from("immich/_"));
    }

    #[test]
    fn values_cannot_escape() {
        let template = Template::parse("x/{project}/{service}").unwrap();
        let hostile = Subject {
            project: "..",
            service: "a/../../b",
            ..values()
        };
        assert_eq!(template.render(&hostile), PathBuf::from("x/__/a_.._.._b"));
        let dotted = Template::parse(".{project}").unwrap();
        let dot = Subject {
            project: ".",
            ..values()
        };
        assert_eq!(dotted.render(&dot), PathBuf::from("._"));
    }

    #[test]
    fn rejects_unknown_variable() {
        assert_eq!(
            Template::parse("databases/{projct}"),
            Err(PathTemplateError::UnknownVariable {
                template: "databases/{projct}".to_string(),
                variable: "projct".to_string(),
            })
        );
        let error = Template::parse("{projct}").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown variable `{projct}` in path template `{projct}`"
        );
    }

    #[test]
    fn rejects_unbalanced_braces() {
        for bad in ["{project", "project}", "{{project}}", "a}{b"] {
            assert!(
                matches!(
                    Template::parse(bad),
                    Err(PathTemplateError::UnbalancedBraces { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_absolute_escaping_and_empty() {
        assert!(matches!(
            Template::parse("/srv/{project}"),
            Err(PathTemplateError::Absolute { .. })
        ));
        for bad in ["../{project}", "a/../../b", "{project}/..", "a\\..\\b"] {
            assert!(
                matches!(Template::parse(bad), Err(PathTemplateError::Escapes { .. })),
                "{bad}"
            );
        }
        assert_eq!(Template::parse(" "), Err(PathTemplateError::Empty));
        // `..` inside a name is not a parent component.
        assert!(Template::parse("a..b/{project}..").is_ok());
    }

    #[test]
    fn safe_component_examples() {
        assert_eq!(safe_component(""), "_");
        assert_eq!(safe_component("."), "_");
        assert_eq!(safe_component(".."), "__");
        assert_eq!(safe_component(".data"), ".data");
        assert_eq!(safe_component("a/b\\c"), "a_b_c");
    }
}
