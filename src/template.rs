//! Compose templates (`compose-templates/`, built into the binary) and their rendering with
//! real tier paths for `tierctl new`.
//!
//! A template is a `compose.yaml` and an `env.template`. Placeholders in either:
//!
//! * `{{place SERVICE TARGET [owner=UID:GID] [mode=OCTAL]}}`: the directory placement gives
//!   the mount of `TARGET` in `SERVICE` (the service's image from the compose file, the project
//!   from its `name:`), so `tierctl audit` of the result agrees with it;
//! * `{{tier TIER SUB [owner=..] [mode=..]}}`: the directory `SUB` on tier `TIER`;
//! * `# {{subtrees SERVICE TARGET}}`, a comment alone on a line of a volume list (so the
//!   template stays YAML): one short-syntax entry
//!   per subtree placement puts below the mount of `TARGET` on another tier (`subtrees:` in
//!   tiers.yaml), `- DIR:TARGET/SUB`, each at the placeholder's indentation; the line goes when
//!   there is none;
//! * `{{project}}`: the compose project name.
//!
//! Every placed directory is listed so `tierctl new` can create it with its owner and mode.
//! Pure: text and tiers in, text and directories out.

use std::path::PathBuf;

use serde_norway::Value;

use crate::tiers::{Subject, Tiers};

/// A shipped compose template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComposeTemplate {
    /// Its name (`immich`).
    pub name: &'static str,
    /// One line about it.
    pub about: &'static str,
    /// `compose.yaml` with placeholders.
    pub compose: &'static str,
    /// `.env` with placeholders.
    pub env: &'static str,
}

/// The shipped templates.
pub const TEMPLATES: [ComposeTemplate; 3] = [
    ComposeTemplate {
        name: "immich",
        about: "Immich: server, machine learning, Postgres (vector search), Valkey",
        compose: include_str!("../compose-templates/immich/compose.yaml"),
        env: include_str!("../compose-templates/immich/env.template"),
    },
    ComposeTemplate {
        name: "plex",
        about: "Plex Media Server: metadata and transcode on the fast tier, media on the warm tier",
        compose: include_str!("../compose-templates/plex/compose.yaml"),
        env: include_str!("../compose-templates/plex/env.template"),
    },
    ComposeTemplate {
        name: "postgres-app",
        about: "A generic app with a Postgres database: data on the fast tier, uploads placed by rule",
        compose: include_str!("../compose-templates/postgres-app/compose.yaml"),
        env: include_str!("../compose-templates/postgres-app/env.template"),
    },
];

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// No template has this name.
    #[error("unknown compose template `{name}`")]
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// A placeholder that cannot be understood.
    #[error("bad placeholder `{placeholder}` in template `{template}`: {reason}")]
    Placeholder {
        /// The template.
        template: String,
        /// The placeholder text.
        placeholder: String,
        /// What is wrong.
        reason: String,
    },
    /// The compose file of the template is not valid YAML or has no `name:`.
    #[error("compose file of template `{template}` is invalid: {reason}")]
    Compose {
        /// The template.
        template: String,
        /// What is wrong.
        reason: String,
    },
    /// Files of the project differ from what the template renders (edited since `new` wrote
    /// them, or other tiers): nothing was written.
    #[error(
        "{} differ{} from what template `{template}` renders (edited since `tierctl new` wrote {}?); nothing was written",
        .files.iter().map(|f| format!("`{}`", f.display())).collect::<Vec<_>>().join(", "),
        if .files.len() == 1 { "s" } else { "" },
        if .files.len() == 1 { "it" } else { "them" }
    )]
    Edited {
        /// The template.
        template: String,
        /// The files that differ.
        files: Vec<PathBuf>,
    },
}

impl TemplateError {
    /// What the user should do about this error.
    pub fn hint(&self) -> String {
        match self {
            TemplateError::Unknown { .. } => format!(
                "the templates are {}",
                TEMPLATES
                    .iter()
                    .map(|t| format!("`{}`", t.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TemplateError::Placeholder { .. } => {
                "a placeholder is `{{place SERVICE TARGET}}`, `{{tier TIER SUB}}` or `{{project}}`, optionally with `owner=UID:GID` and `mode=0750`; a placement rule must match it".into()
            }
            TemplateError::Compose { .. } => "fix the template's compose.yaml".into(),
            TemplateError::Edited { .. } => "your edits are kept; to write the template's version anyway, run again with --force (each replaced file is backed up first as FILE.tierctl-TIMESTAMP.bak), or move the file away".into(),
        }
    }
}

/// What `tierctl new` does with one file of the project directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    /// The file is missing: it is created.
    Create,
    /// The file has exactly the rendered text: left as it is.
    Keep,
    /// The file differs and `--force` was given: replaced, after a backup.
    Replace,
}

/// What `tierctl new` does with each file of the project (`(path, rendered text, the text
/// there now)`), so that running it again on the directory it created changes nothing: a
/// missing file is created, an identical one left alone, and one that differs (the user's
/// edits) refuses the whole run — naming every such file — unless `force`.
pub fn file_actions(
    template: &str,
    files: &[(PathBuf, &str, Option<&str>)],
    force: bool,
) -> Result<Vec<FileAction>, TemplateError> {
    let actions: Vec<FileAction> = files
        .iter()
        .map(|(_, rendered, existing)| match existing {
            None => FileAction::Create,
            Some(text) if text == rendered => FileAction::Keep,
            Some(_) => FileAction::Replace,
        })
        .collect();
    let edited: Vec<PathBuf> = files
        .iter()
        .zip(&actions)
        .filter(|(_, a)| **a == FileAction::Replace)
        .map(|((path, _, _), _)| path.clone())
        .collect();
    if edited.is_empty() || force {
        Ok(actions)
    } else {
        Err(TemplateError::Edited {
            template: template.to_owned(),
            files: edited,
        })
    }
}

/// A directory a rendered template binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateDir {
    /// The absolute path on its tier.
    pub path: PathBuf,
    /// The tier.
    pub tier: String,
    /// Owner to give it when created.
    pub owner: Option<(u32, u32)>,
    /// Mode to give it when created.
    pub mode: Option<u32>,
}

/// A rendered template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The compose project name.
    pub project: String,
    /// `compose.yaml` text.
    pub compose: String,
    /// `.env` text.
    pub env: String,
    /// The directories it binds, in order of first use, each once.
    pub dirs: Vec<TemplateDir>,
}

/// The template named `name`.
pub fn find(name: &str) -> Result<&'static ComposeTemplate, TemplateError> {
    TEMPLATES
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| TemplateError::Unknown {
            name: name.to_string(),
        })
}

/// Renders `template` with the tier paths of `tiers`.
pub fn render(template: &ComposeTemplate, tiers: &Tiers) -> Result<Rendered, TemplateError> {
    let compose: Value =
        serde_norway::from_str(template.compose).map_err(|e| TemplateError::Compose {
            template: template.name.to_string(),
            reason: e.to_string(),
        })?;
    let project = compose
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| TemplateError::Compose {
            template: template.name.to_string(),
            reason: "no top-level `name:`".to_string(),
        })?
        .to_string();
    let mut renderer = Renderer {
        template: template.name,
        tiers,
        compose: &compose,
        project: &project,
        dirs: Vec::new(),
    };
    let compose_text = renderer.fill(template.compose)?;
    let env = renderer.fill(template.env)?;
    let dirs = renderer.dirs;
    Ok(Rendered {
        project: project.clone(),
        compose: compose_text,
        env,
        dirs,
    })
}

struct Renderer<'a> {
    template: &'a str,
    tiers: &'a Tiers,
    compose: &'a Value,
    project: &'a str,
    dirs: Vec<TemplateDir>,
}

impl Renderer<'_> {
    /// Replaces every `{{...}}` of `text`.
    fn fill(&mut self, text: &str) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| self.bad(after, "no closing `}}`"))?;
            let placeholder = after[..end].trim();
            rest = &after[end + 2..];
            if placeholder.starts_with("subtrees ") {
                let line_start = out.rfind('\n').map_or(0, |at| at + 1);
                let prefix = out.split_off(line_start);
                let indent = prefix.trim_end_matches("# ").to_owned();
                if !indent.trim().is_empty() || indent == prefix || !rest.starts_with('\n') {
                    return Err(self.bad(
                        placeholder,
                        "`subtrees` stands alone on its line, as a comment (`# {{subtrees ...}}`)",
                    ));
                }
                let lines = self.subtrees(placeholder)?;
                if lines.is_empty() {
                    rest = &rest[1..];
                } else {
                    out.push_str(&indent);
                    out.push_str(&lines.join(&format!("\n{indent}")));
                }
                continue;
            }
            out.push_str(&self.expand(placeholder)?);
        }
        out.push_str(rest);
        Ok(out)
    }

    fn bad(&self, placeholder: &str, reason: &str) -> TemplateError {
        TemplateError::Placeholder {
            template: self.template.to_string(),
            placeholder: placeholder.lines().next().unwrap_or_default().to_string(),
            reason: reason.to_string(),
        }
    }

    /// The volume entries of `{{subtrees SERVICE TARGET}}`, each directory listed.
    fn subtrees(&mut self, placeholder: &str) -> Result<Vec<String>, TemplateError> {
        let ["subtrees", service, target] = placeholder.split_whitespace().collect::<Vec<_>>()[..]
        else {
            return Err(self.bad(placeholder, "write `subtrees SERVICE TARGET`"));
        };
        let subject = Subject {
            project: self.project,
            service,
            image: self.image(service),
            target,
            volume: None,
        };
        let mut lines = Vec::new();
        for sub in self.tiers.subtrees_of(&subject) {
            let path = sub.placement.path;
            lines.push(format!("- {}:{}", path.display(), sub.target));
            if !self.dirs.iter().any(|d| d.path == path) {
                self.dirs.push(TemplateDir {
                    path,
                    tier: sub.placement.tier,
                    owner: None,
                    mode: None,
                });
            }
        }
        Ok(lines)
    }

    /// The image of `service` in the template's compose file.
    fn image(&self, service: &str) -> Option<&str> {
        self.compose
            .get("services")
            .and_then(|s| s.get(service))
            .and_then(|s| s.get("image"))
            .and_then(Value::as_str)
    }

    fn expand(&mut self, placeholder: &str) -> Result<String, TemplateError> {
        let words: Vec<&str> = placeholder.split_whitespace().collect();
        let (positional, options): (Vec<&str>, Vec<&str>) =
            words.iter().partition(|w| !w.contains('='));
        let mut owner = None;
        let mut mode = None;
        for option in options {
            match option.split_once('=') {
                Some(("owner", value)) => {
                    owner =
                        Some(parse_owner(value).ok_or_else(|| {
                            self.bad(placeholder, "owner must be numeric `uid:gid`")
                        })?);
                }
                Some(("mode", value)) => {
                    mode = Some(
                        u32::from_str_radix(value, 8)
                            .ok()
                            .filter(|m| *m <= 0o7777)
                            .ok_or_else(|| self.bad(placeholder, "mode must be octal"))?,
                    );
                }
                _ => return Err(self.bad(placeholder, "unknown option")),
            }
        }
        let (tier, path) = match positional.as_slice() {
            ["project"] => return Ok(self.project.to_string()),
            ["place", service, target] => {
                let image = self.image(service);
                let subject = Subject {
                    project: self.project,
                    service,
                    image,
                    target,
                    volume: None,
                };
                let placement = self
                    .tiers
                    .place(&subject)
                    .ok_or_else(|| self.bad(placeholder, "no placement rule matches it"))?;
                (placement.tier, placement.path)
            }
            ["tier", tier, sub] => {
                let path = self
                    .tiers
                    .tier_path(tier, std::path::Path::new(sub))
                    .ok_or_else(|| self.bad(placeholder, "unknown tier or bad path"))?;
                (tier.to_string(), path)
            }
            _ => return Err(self.bad(placeholder, "unknown placeholder")),
        };
        let shown = path.display().to_string();
        match self.dirs.iter_mut().find(|d| d.path == path) {
            Some(dir) => {
                dir.owner = dir.owner.or(owner);
                dir.mode = dir.mode.or(mode);
            }
            None => self.dirs.push(TemplateDir {
                path,
                tier,
                owner,
                mode,
            }),
        }
        Ok(shown)
    }
}

/// `"999:999"` -> `(999, 999)`.
fn parse_owner(value: &str) -> Option<(u32, u32)> {
    let (uid, gid) = value.split_once(':')?;
    Some((uid.parse().ok()?, gid.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const TIERS: &str = r#"
tiers:
  fast: { root: /t/fast, kind: nvme }
  warm: { root: /t/warm, kind: ssd }
  cold: { root: /t/cold, kind: hdd }
"#;

    fn tiers() -> Tiers {
        crate::tiers::load(Path::new("tiers.yaml"), TIERS).unwrap()
    }

    #[test]
    fn immich_places_database_photos_and_models_on_fast() {
        let rendered = render(find("immich").unwrap(), &tiers()).unwrap();
        assert_eq!(rendered.project, "immich");
        assert!(!rendered.env.contains("{{"), "{}", rendered.env);
        assert!(!rendered.compose.contains("{{"));
        let dirs: Vec<(String, Option<(u32, u32)>)> = rendered
            .dirs
            .iter()
            .map(|d| (d.path.display().to_string(), d.owner))
            .collect();
        assert_eq!(
            dirs,
            vec![
                ("/t/fast/photos/immich".to_string(), None),
                (
                    "/t/fast/databases/immich/database".to_string(),
                    Some((999, 999))
                ),
                ("/t/fast/ml_models/immich".to_string(), None),
                (
                    "/t/fast/databases/immich/redis".to_string(),
                    Some((999, 999))
                ),
            ]
        );
        assert!(
            rendered
                .env
                .contains("DB_DATA_LOCATION=/t/fast/databases/immich/database\n")
        );
    }

    #[test]
    fn issue25_immich_binds_its_subtrees_after_data_when_placement_splits_it() {
        // the default placement keeps /data whole: no nested bind, no line left
        let whole = render(find("immich").unwrap(), &tiers()).unwrap();
        assert!(
            whole.compose.contains(
                "      - ${UPLOAD_LOCATION}:/data\n      - /etc/localtime:/etc/localtime:ro\n"
            ),
            "{}",
            whole.compose
        );
        let split = crate::tiers::load(
            Path::new("tiers.yaml"),
            &format!(
                "{TIERS}placement:\n  - match: {{ image: '*immich-server*', target: /data }}\n    tier: warm\n    path: photos/{{project}}\n    subtrees: {{ thumbs: fast, encoded-video: fast }}\n  - {{ tier: fast, path: '{{project}}/{{service}}' }}\n"
            ),
        )
        .unwrap();
        let rendered = render(find("immich").unwrap(), &split).unwrap();
        assert!(
            rendered.compose.contains(
                "      - ${UPLOAD_LOCATION}:/data\n      - /t/fast/photos/immich/thumbs:/data/thumbs\n      - /t/fast/photos/immich/encoded-video:/data/encoded-video\n      - /etc/localtime:/etc/localtime:ro\n"
            ),
            "{}",
            rendered.compose
        );
        assert!(
            rendered
                .env
                .contains("UPLOAD_LOCATION=/t/warm/photos/immich\n")
        );
        let dirs: Vec<(&str, String)> = rendered
            .dirs
            .iter()
            .map(|d| (d.tier.as_str(), d.path.display().to_string()))
            .collect();
        assert!(
            dirs.contains(&("fast", "/t/fast/photos/immich/thumbs".to_owned())),
            "{dirs:?}"
        );
        assert!(
            dirs.contains(&("warm", "/t/warm/photos/immich".to_owned())),
            "{dirs:?}"
        );
    }

    #[test]
    fn plex_puts_media_on_warm() {
        let rendered = render(find("plex").unwrap(), &tiers()).unwrap();
        let tiers_of: Vec<&str> = rendered.dirs.iter().map(|d| d.tier.as_str()).collect();
        assert!(tiers_of.contains(&"warm"));
        assert!(rendered.env.contains("PLEX_MOVIES=/t/warm/media/movies\n"));
        assert!(
            rendered
                .env
                .contains("PLEX_CONFIG=/t/fast/metadata/plex/plex\n")
        );
    }

    #[test]
    fn bad_placeholders_and_names_are_errors() {
        assert!(matches!(find("nope"), Err(TemplateError::Unknown { .. })));
        let broken = ComposeTemplate {
            name: "broken",
            about: "",
            compose: "name: x\nservices: {}\n",
            env: "A={{tier nope x}}\nB={{oops}}\n",
        };
        let error = render(&broken, &tiers()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "bad placeholder `tier nope x` in template `broken`: unknown tier or bad path"
        );
        let unclosed = ComposeTemplate {
            env: "A={{project\n",
            ..broken
        };
        assert!(render(&unclosed, &tiers()).is_err());
    }

    /// Issue 12: `tierctl new` again on the directory it created: identical files are kept,
    /// missing ones created, edited ones refused by name unless `--force`.
    #[test]
    fn issue_12_new_again_keeps_identical_creates_missing_and_refuses_edited() {
        let (c, e) = (PathBuf::from("/s/compose.yaml"), PathBuf::from("/s/.env"));
        let files = [(c.clone(), "c", Some("c")), (e.clone(), "e", None)];
        assert_eq!(
            file_actions("immich", &files, false),
            Ok(vec![FileAction::Keep, FileAction::Create])
        );
        let edited = [(c.clone(), "c", Some("c")), (e.clone(), "e", Some("e2"))];
        let err = file_actions("immich", &edited, false).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "`/s/.env` differs from what template `immich` renders (edited since `tierctl new` wrote it?); nothing was written"
        );
        assert_eq!(
            file_actions("immich", &edited, true),
            Ok(vec![FileAction::Keep, FileAction::Replace])
        );
        let both = [(c, "c", Some("x")), (e, "e", Some("y"))];
        let err = file_actions("immich", &both, false).expect_err("refused");
        assert!(
            err.to_string()
                .starts_with("`/s/compose.yaml`, `/s/.env` differ from"),
            "{err}"
        );
    }
}
