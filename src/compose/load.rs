//! Loading a compose project the way `docker compose` does: file discovery, `COMPOSE_FILE`,
//! `.env`, interpolation, `include`, `extends`, merge keys, `!reset`/`!override`, the override
//! rules between `-f` files, profiles and the project name. Every mount keeps its origin.
//!
//! The loader reads files through the [`Files`] trait and never touches the environment: the
//! process environment comes in [`LoadOptions`].

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_norway::{Mapping, Value};

use crate::compose::env::{ComposeEnv, EnvFileError, parse_env_file};
use crate::compose::error::ComposeError;
use crate::compose::interpolate::interpolate;
use crate::compose::merge::{
    ComposeTag, compose_tag, merge_override, resolve_merge_keys, strip_tags,
};
use crate::compose::model::{ComposeProject, LoadedFile, Service, TopVolume, VolumeMount};
use crate::compose::mount::{self, MountContext};
use crate::compose::origin::{Origin, Place, Position, Reach, Route, RouteKey};
use crate::compose::path::absolute;
use crate::compose::refusal::{self, Refusal};
use crate::compose::source::SourceText;
use crate::compose::spec;
use crate::compose::unset::UnsetVariables;

/// Read access to files, so the loader can be tested with plain data.
pub trait Files {
    /// The whole text of a file.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// The whole text, shareable (the loader keeps one copy of each file's text).
    fn read_shared(&self, path: &Path) -> io::Result<Arc<str>> {
        self.read(path).map(Arc::from)
    }
    /// Whether a regular file exists at `path`.
    fn is_file(&self, path: &Path) -> bool;
}

/// What the user asked for (flags and environment), before anything is read.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `-f` files as given; empty means `COMPOSE_FILE` or discovery.
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `--env-file` (repeatable); empty means the project directory's `.env`.
    pub env_files: Vec<PathBuf>,
    /// `--profile` (repeatable); empty means `COMPOSE_PROFILES`.
    pub profiles: Vec<String>,
    /// The directory the command runs in (absolute).
    pub working_dir: PathBuf,
    /// The process environment.
    pub process_env: Vec<(String, String)>,
    /// The user's home directory, for `~` in bind sources.
    pub home: PathBuf,
}

/// The file names `docker compose` looks for, in order.
pub const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// Reads each file once: later reads of the same path get the first text, and every text
/// read stays available for the project ([`ComposeProject::texts`]).
struct ReadOnce<'a> {
    files: &'a dyn Files,
    texts: RefCell<BTreeMap<PathBuf, Arc<str>>>,
}

impl Files for ReadOnce<'_> {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.read_shared(path).map(|text| text.to_string())
    }

    fn read_shared(&self, path: &Path) -> io::Result<Arc<str>> {
        if let Some(text) = self.texts.borrow().get(path) {
            return Ok(Arc::clone(text));
        }
        let text: Arc<str> = self.files.read(path)?.into();
        self.texts
            .borrow_mut()
            .insert(path.to_path_buf(), Arc::clone(&text));
        Ok(text)
    }

    fn is_file(&self, path: &Path) -> bool {
        self.texts.borrow().contains_key(path) || self.files.is_file(path)
    }
}

/// Loads the compose project described by `options`.
pub fn load(options: &LoadOptions, files: &dyn Files) -> Result<ComposeProject, ComposeError> {
    let once = ReadOnce {
        files,
        texts: RefCell::new(BTreeMap::new()),
    };
    let (mut project, mut trees) = load_through(options, &once)?;
    project.texts = once
        .texts
        .into_inner()
        .into_iter()
        .map(|(path, text)| {
            let loaded = match trees.remove(&path) {
                Some((tree, doc)) => LoadedFile::compose(text, tree, doc),
                None => LoadedFile::env(text),
            };
            (path, loaded)
        })
        .collect();
    project.assign_mount_ids();
    Ok(project)
}

/// Each compose file's parsed tree and yamlpath document, by path.
type Trees = BTreeMap<PathBuf, (Value, Option<yamlpath::Document>)>;

fn load_through(
    options: &LoadOptions,
    files: &dyn Files,
) -> Result<(ComposeProject, Trees), ComposeError> {
    let (compose_files, project_dir, env) = locate(options, files)?;

    let mut loader = Loader {
        files,
        home: options.home.clone(),
        process_env: &options.process_env,
        include_stack: Vec::new(),
        loaded: Vec::new(),
        trees: BTreeMap::new(),
        unset: UnsetVariables::default(),
    };
    let partial = loader.load_files(&compose_files, &project_dir, &env)?;
    let mut value = partial.value;
    strip_tags(&mut value);
    validate_spec(&value, &loader.loaded, files)?;

    let name = project_name(options, &env, &value, &project_dir)?;
    let profiles = if options.profiles.is_empty() {
        env.get("COMPOSE_PROFILES")
            .map(|v| split_list(&v.value, ','))
            .unwrap_or_default()
    } else {
        options.profiles.clone()
    };

    let services = services(
        partial.mounts,
        &partial.service_origins,
        &value,
        &profiles,
        &compose_files[0],
    );
    let volumes = volumes(
        &value,
        &partial.volume_origins,
        &compose_files[0],
        &project_dir,
    );

    let refusals = refusals(&value, &services, &project_dir, &loader.loaded, files);
    let project = ComposeProject {
        name,
        dir: project_dir,
        files: loader.loaded,
        given: compose_files,
        services,
        volumes,
        environment: env,
        texts: BTreeMap::new(),
        unset_variables: loader.unset.into_vec(),
        refusals,
    };
    Ok((project, loader.trees))
}

/// The compose files, the project directory and the project's environment (read first from
/// the `--project-directory` or working directory, again from the project directory when the
/// files put it elsewhere).
fn locate(
    options: &LoadOptions,
    files: &dyn Files,
) -> Result<(Vec<PathBuf>, PathBuf, ComposeEnv), ComposeError> {
    let wd = &options.working_dir;
    let bootstrap_dir = options
        .project_directory
        .as_ref()
        .map(|d| absolute(wd, d))
        .unwrap_or_else(|| wd.clone());
    let bootstrap = environment(options, files, &bootstrap_dir)?;
    let compose_files = compose_files(options, &bootstrap, files)?;
    let project_dir = match &options.project_directory {
        Some(dir) => absolute(wd, dir),
        None => compose_files[0]
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| wd.clone()),
    };
    let env = if project_dir == bootstrap_dir {
        bootstrap
    } else {
        environment(options, files, &project_dir)?
    };
    Ok((compose_files, project_dir, env))
}

/// The merged project's services with their mounts, each at its origin (the first compose
/// file when none is known).
fn services(
    mounts: IndexMap<String, Vec<VolumeMount>>,
    origins: &IndexMap<String, Origin>,
    value: &Value,
    profiles: &[String],
    first_file: &Path,
) -> IndexMap<String, Service> {
    let mut services = IndexMap::new();
    for (svc_name, mounts) in mounts {
        let origin = origins
            .get(&svc_name)
            .cloned()
            .unwrap_or_else(|| bare_origin(first_file));
        let def = &value["services"][svc_name.as_str()];
        let service = service_of(svc_name.clone(), def, mounts, profiles, origin);
        services.insert(svc_name, service);
    }
    services
}

/// The merged project's top-level volumes, each at its origin (the first compose file when
/// none is known).
fn volumes(
    value: &Value,
    origins: &IndexMap<String, Origin>,
    first_file: &Path,
    project_dir: &Path,
) -> IndexMap<String, TopVolume> {
    let mut volumes = IndexMap::new();
    if let Value::Mapping(map) = &value["volumes"] {
        for (key, def) in map {
            let Some(key) = key.as_str() else { continue };
            let origin = origins
                .get(key)
                .cloned()
                .unwrap_or_else(|| bare_origin(first_file));
            volumes.insert(key.to_owned(), top_volume(key, def, origin, project_dir));
        }
    }
    volumes
}

/// The service `name` of the merged definition `def`, enabled when one of the active
/// `profiles` names it (or it has none).
fn service_of(
    name: String,
    def: &Value,
    mounts: Vec<VolumeMount>,
    profiles: &[String],
    origin: Origin,
) -> Service {
    let svc_profiles = string_list(&def["profiles"]);
    let enabled = svc_profiles.is_empty()
        || profiles
            .iter()
            .any(|p| p == "*" || svc_profiles.contains(p));
    Service {
        name,
        image: def["image"].as_str().map(str::to_owned),
        profiles: svc_profiles,
        enabled,
        mounts,
        volumes_from: string_list(&def["volumes_from"]),
        stop_grace_period: match &def["stop_grace_period"] {
            Value::String(text) => Some(text.clone()),
            Value::Number(n) => Some(format!("{n}s")),
            _ => None,
        },
        needs: needs(def),
        origin,
    }
}

/// The services `def` needs running first: `depends_on` (a list, or a map by service),
/// `links` (`service[:alias]`) and `volumes_from` (`service[:ro|rw]`, not `container:…`).
fn needs(def: &Value) -> Vec<String> {
    let mut out: Vec<String> = match &def["depends_on"] {
        Value::Mapping(map) => map
            .keys()
            .filter_map(|k| k.as_str())
            .map(str::to_owned)
            .collect(),
        other => string_list(other),
    };
    let named = |entry: &String| entry.split(':').next().unwrap_or_default().to_owned();
    out.extend(string_list(&def["links"]).iter().map(named));
    out.extend(
        string_list(&def["volumes_from"])
            .iter()
            .filter(|e| !e.starts_with("container:"))
            .map(named),
    );
    out.retain(|s| !s.is_empty());
    out.sort();
    out.dedup();
    out
}

/// The process environment layered over the env files (`--env-file` or `<dir>/.env`).
fn environment(
    options: &LoadOptions,
    files: &dyn Files,
    dir: &Path,
) -> Result<ComposeEnv, ComposeError> {
    let paths: Vec<PathBuf> = if options.env_files.is_empty() {
        let dot_env = dir.join(".env");
        if files.is_file(&dot_env) {
            vec![dot_env]
        } else {
            Vec::new()
        }
    } else {
        options
            .env_files
            .iter()
            .map(|p| absolute(&options.working_dir, p))
            .collect()
    };
    let mut texts = Vec::with_capacity(paths.len());
    for path in paths {
        let text = files.read(&path).map_err(|source| ComposeError::Read {
            path: path.clone(),
            source,
        })?;
        texts.push((path, text));
    }
    ComposeEnv::load(options.process_env.clone(), &texts).map_err(ComposeError::EnvFile)
}

/// `-f` files, else `COMPOSE_FILE`, else the first default file found in the working directory
/// or one of its parents, with its override file.
fn compose_files(
    options: &LoadOptions,
    env: &ComposeEnv,
    files: &dyn Files,
) -> Result<Vec<PathBuf>, ComposeError> {
    let wd = &options.working_dir;
    let chosen: Vec<PathBuf> = if !options.files.is_empty() {
        options.files.iter().map(|f| absolute(wd, f)).collect()
    } else if let Some(var) = env.get("COMPOSE_FILE").filter(|v| !v.value.is_empty()) {
        let separator = env
            .get("COMPOSE_PATH_SEPARATOR")
            .and_then(|v| v.value.chars().next())
            .unwrap_or(':');
        split_list(&var.value, separator)
            .into_iter()
            .map(|f| absolute(wd, Path::new(&f)))
            .collect()
    } else {
        discover(wd, files)?
    };
    for file in &chosen {
        if file.as_os_str() == "-" || file.ends_with("-") {
            return Err(ComposeError::Stdin);
        }
        if !files.is_file(file) {
            return Err(ComposeError::Read {
                path: file.clone(),
                source: not_a_file(files, file),
            });
        }
    }
    Ok(chosen)
}

/// Why `path` is not a regular file: the error reading it gives (a directory, permission
/// denied), else "no such file".
fn not_a_file(files: &dyn Files, path: &Path) -> io::Error {
    match files.read(path) {
        Err(error) => error,
        Ok(_) => io::Error::new(io::ErrorKind::NotFound, "no such file"),
    }
}

/// The error for an `include` or `extends: file:` that is not a regular file.
fn include_error(files: &dyn Files, place: Place, path: PathBuf) -> ComposeError {
    match not_a_file(files, &path) {
        error if error.kind() == io::ErrorKind::NotFound => {
            ComposeError::IncludeMissing { place, path }
        }
        source => ComposeError::IncludeUnreadable {
            place,
            path,
            source,
        },
    }
}

fn discover(wd: &Path, files: &dyn Files) -> Result<Vec<PathBuf>, ComposeError> {
    for dir in wd.ancestors() {
        for name in DEFAULT_FILES {
            let candidate = dir.join(name);
            if files.is_file(&candidate) {
                let (stem, ext) = name.rsplit_once('.').unwrap_or((name, "yaml"));
                let mut found = vec![candidate];
                for over_ext in [ext, if ext == "yml" { "yaml" } else { "yml" }] {
                    let over = dir.join(format!("{stem}.override.{over_ext}"));
                    if files.is_file(&over) {
                        found.push(over);
                        break;
                    }
                }
                return Ok(found);
            }
        }
    }
    Err(ComposeError::NotFound {
        dir: wd.to_path_buf(),
    })
}

/// `-p`, `COMPOSE_PROJECT_NAME`, top-level `name:`, else the project directory's name; all
/// normalised as compose does.
fn project_name(
    options: &LoadOptions,
    env: &ComposeEnv,
    value: &Value,
    project_dir: &Path,
) -> Result<String, ComposeError> {
    let raw = options
        .project_name
        .clone()
        .or_else(|| {
            env.get("COMPOSE_PROJECT_NAME")
                .map(|v| v.value.clone())
                .filter(|v| !v.is_empty())
        })
        .or_else(|| value["name"].as_str().map(str::to_owned))
        .or_else(|| {
            project_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let name = normalize_project_name(&raw);
    if name.is_empty() {
        return Err(ComposeError::ProjectName { raw });
    }
    Ok(name)
}

/// Compose's normalisation: lowercase, keep `a-z0-9_-`, no leading `_` or `-`.
pub fn normalize_project_name(raw: &str) -> String {
    let kept: String = raw
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_owned()
}

/// What one file (or a merge of files) contributes.
#[derive(Default)]
struct Partial {
    /// Interpolated, merge keys resolved, compose tags kept for the next merge.
    value: Value,
    /// Service -> its mounts, with the compose tag on its `volumes:` key.
    mounts_by_service: IndexMap<String, (Vec<VolumeMount>, Option<ComposeTag>)>,
    service_origins: IndexMap<String, Origin>,
    volume_origins: IndexMap<String, Origin>,
}

/// The merged result of a list of files.
struct Merged {
    value: Value,
    mounts: IndexMap<String, Vec<VolumeMount>>,
    service_origins: IndexMap<String, Origin>,
    volume_origins: IndexMap<String, Origin>,
}

/// One parsed file.
struct FileData {
    source: SourceText,
    /// Each service's `volumes:` as written (merge keys resolved, not interpolated): the only
    /// part of the raw tree the mounts need, kept instead of a whole second tree (a 50 MB file's
    /// tree is ~90 MB).
    raw_volumes: BTreeMap<String, Value>,
    value: Value,
    /// Relative bind sources resolve against this directory.
    base_dir: PathBuf,
}

impl FileData {
    /// Service `name`'s `volumes:` as written; null when it has none.
    fn raw_volumes(&self, name: &str) -> &Value {
        static NONE: Value = Value::Null;
        self.raw_volumes.get(name).unwrap_or(&NONE)
    }
}

/// Each service's `volumes:` value of a raw tree, by service name.
fn raw_volumes(raw: &Value) -> BTreeMap<String, Value> {
    let Value::Mapping(services) = &raw["services"] else {
        return BTreeMap::new();
    };
    services
        .iter()
        .filter_map(|(name, def)| {
            let volumes = def.get("volumes")?;
            Some((name.as_str()?.to_owned(), volumes.clone()))
        })
        .collect()
}

struct Loader<'a> {
    files: &'a dyn Files,
    home: PathBuf,
    process_env: &'a [(String, String)],
    include_stack: Vec<PathBuf>,
    loaded: Vec<PathBuf>,
    trees: Trees,
    /// Variables blanked by interpolation because they are not set.
    unset: UnsetVariables,
}

impl Loader<'_> {
    fn load_files(
        &mut self,
        paths: &[PathBuf],
        base_dir: &Path,
        env: &ComposeEnv,
    ) -> Result<Merged, ComposeError> {
        let mut merged = Merged {
            value: Value::Mapping(Mapping::new()),
            mounts: IndexMap::new(),
            service_origins: IndexMap::new(),
            volume_origins: IndexMap::new(),
        };
        for path in paths {
            let partial = self.load_file(path, base_dir, env)?;
            merged.value = merge_override(merged.value, partial.value, "");
            for (svc, (mounts, tag)) in partial.mounts_by_service {
                let entry = merged.mounts.entry(svc).or_default();
                *entry = match tag {
                    Some(ComposeTag::Reset) => Vec::new(),
                    Some(ComposeTag::Override) => mounts,
                    None => mount::merge_by_target(std::mem::take(entry), mounts),
                };
            }
            for (svc, origin) in partial.service_origins {
                merged.service_origins.entry(svc).or_insert(origin);
            }
            for (vol, origin) in partial.volume_origins {
                merged.volume_origins.entry(vol).or_insert(origin);
            }
        }
        Ok(merged)
    }

    fn parse(
        &mut self,
        path: &Path,
        base_dir: &Path,
        env: &ComposeEnv,
    ) -> Result<FileData, ComposeError> {
        let text = self
            .files
            .read_shared(path)
            .map_err(|source| ComposeError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        if !self.loaded.iter().any(|p| p == path) {
            self.loaded.push(path.to_path_buf());
        }
        let source = SourceText::new(path, text);
        let mut raw: Value = match serde_norway::from_str(&source.text) {
            Ok(Value::Null) => {
                return Err(ComposeError::Empty {
                    path: path.to_path_buf(),
                });
            }
            Ok(value) => value,
            Err(err) => {
                let position = err.location().map(|l| Position {
                    line: l.line(),
                    column: l.column(),
                });
                // a duplicate key: at the second occurrence, naming the first one's line
                let duplicate = crate::compose::duplicate::locate(&source.text, &err);
                return Err(ComposeError::Yaml {
                    place: Place {
                        file: path.to_path_buf(),
                        position: duplicate.as_ref().map(|d| d.second).or(position),
                    },
                    message: duplicate.map_or_else(|| yaml_message(&err), |d| d.message()),
                });
            }
        };
        self.trees
            .entry(path.to_path_buf())
            .or_insert_with(|| (raw.clone(), source.parsed_document().cloned()));
        if !raw.is_mapping() {
            return Err(ComposeError::Spec {
                place: Place::at(path, Position { line: 1, column: 1 }),
                message: "the top level of a compose file must be a mapping".into(),
            });
        }
        resolve_merge_keys(&mut raw).map_err(|e| ComposeError::Spec {
            place: Place::file(path),
            message: e.to_string(),
        })?;
        let raw_volumes = raw_volumes(&raw);
        let mut value = raw;
        interpolate_tree(&mut value, &Route::default(), &source, env, &mut self.unset)?;
        Ok(FileData {
            source,
            raw_volumes,
            value,
            base_dir: base_dir.to_path_buf(),
        })
    }

    fn load_file(
        &mut self,
        path: &Path,
        base_dir: &Path,
        env: &ComposeEnv,
    ) -> Result<Partial, ComposeError> {
        if self.include_stack.iter().any(|p| p == path) {
            let mut chain = self.include_stack.clone();
            chain.push(path.to_path_buf());
            return Err(ComposeError::IncludeCycle { chain });
        }
        let mut file = self.parse(path, base_dir, env)?;
        self.include_stack.push(path.to_path_buf());
        let included = self.includes(&file, env);
        self.include_stack.pop();
        let included = included?;

        let mut partial = Partial::default();
        let names: Vec<String> = match &file.value["services"] {
            Value::Mapping(m) => m
                .keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                return Err(ComposeError::Spec {
                    place: self.place(&file, &Route::new(["services".into()])),
                    message: "`services` must be a mapping of service names".into(),
                });
            }
        };
        for name in &names {
            let mut chain = Vec::new();
            let (value, mounts) = self.service(&file, name, &mut chain, env)?;
            let tag = compose_tag(file.raw_volumes(name));
            set_service(&mut file.value, name, value);
            partial
                .mounts_by_service
                .insert(name.clone(), (mounts, tag));
            let route = Route::new(["services".into(), name.as_str().into()]);
            partial
                .service_origins
                .insert(name.clone(), key_origin(&file, &route));
        }
        if let Value::Mapping(m) = &file.value["volumes"] {
            for key in m.keys().filter_map(Value::as_str) {
                let route = Route::new(["volumes".into(), key.into()]);
                partial
                    .volume_origins
                    .insert(key.to_owned(), key_origin(&file, &route));
            }
        }
        if let Value::Mapping(m) = &mut file.value {
            m.remove("include");
        }
        partial.value = file.value;

        for inc in included {
            merge_include(&mut partial, inc, path)?;
        }
        Ok(partial)
    }

    /// Loads every `include:` entry as its own project.
    fn includes(&mut self, file: &FileData, env: &ComposeEnv) -> Result<Vec<Merged>, ComposeError> {
        let Some(list) = file.value.get("include") else {
            return Ok(Vec::new());
        };
        let Value::Sequence(entries) = list else {
            return Err(ComposeError::Spec {
                place: self.place(file, &Route::new(["include".into()])),
                message: "`include` must be a list".into(),
            });
        };
        let dir = file
            .source
            .path
            .parent()
            .unwrap_or(Path::new("/"))
            .to_path_buf();
        let mut out = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let route = Route::new(["include".into(), i.into()]);
            let (paths, project_dir, env_files) = match entry {
                Value::String(p) => (vec![p.clone()], None, Vec::new()),
                Value::Mapping(m) => {
                    let paths = match m.get("path") {
                        Some(Value::String(p)) => vec![p.clone()],
                        Some(v @ Value::Sequence(_)) => string_list(v),
                        _ => {
                            return Err(ComposeError::Spec {
                                place: self.place(file, &route),
                                message: "an `include` entry needs a `path`".into(),
                            });
                        }
                    };
                    let project_dir = m
                        .get("project_directory")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    let env_files = match m.get("env_file") {
                        Some(Value::String(p)) => vec![p.clone()],
                        Some(v) => string_list(v),
                        None => Vec::new(),
                    };
                    (paths, project_dir, env_files)
                }
                _ => {
                    return Err(ComposeError::Spec {
                        place: self.place(file, &route),
                        message: "an `include` entry must be a path or a mapping".into(),
                    });
                }
            };
            let paths: Vec<PathBuf> = paths.iter().map(|p| absolute(&dir, Path::new(p))).collect();
            for p in &paths {
                if !self.files.is_file(p) {
                    let place = self.place(file, &route);
                    return Err(include_error(self.files, place, p.clone()));
                }
            }
            let inc_dir = match project_dir {
                Some(d) => absolute(&dir, Path::new(&d)),
                None => paths[0].parent().unwrap_or(Path::new("/")).to_path_buf(),
            };
            let inc_env = self.include_env(&inc_dir, &dir, &env_files, env)?;
            out.push(self.load_files(&paths, &inc_dir, &inc_env)?);
        }
        Ok(out)
    }

    /// An included project's variables: the including project's, then its own env files.
    fn include_env(
        &self,
        inc_dir: &Path,
        including_dir: &Path,
        env_files: &[String],
        env: &ComposeEnv,
    ) -> Result<ComposeEnv, ComposeError> {
        let paths: Vec<PathBuf> = if env_files.is_empty() {
            let p = inc_dir.join(".env");
            if self.files.is_file(&p) {
                vec![p]
            } else {
                Vec::new()
            }
        } else {
            env_files
                .iter()
                .map(|p| absolute(including_dir, Path::new(p)))
                .collect()
        };
        if paths.is_empty() {
            return Ok(env.clone());
        }
        let mut parsed = Vec::new();
        for path in paths {
            let text = self
                .files
                .read(&path)
                .map_err(|source| ComposeError::Read {
                    path: path.clone(),
                    source,
                })?;
            let lookup = |name: &str| env.get(name).map(|v| v.value.clone());
            parsed.push(parse_env_file(&path, &text, &lookup).map_err(ComposeError::EnvFile)?);
        }
        let mut layered = ComposeEnv::layered(self.process_env.to_vec(), &parsed);
        for (name, var) in env.iter() {
            if layered.get(name).is_none() {
                layered.insert(name.to_owned(), var.clone());
            }
        }
        Ok(layered)
    }

    /// A service's definition with its `extends` chain resolved, and its mounts.
    fn service(
        &mut self,
        file: &FileData,
        name: &str,
        chain: &mut Vec<(PathBuf, String)>,
        env: &ComposeEnv,
    ) -> Result<(Value, Vec<VolumeMount>), ComposeError> {
        let link = (file.source.path.clone(), name.to_owned());
        if chain.contains(&link) {
            chain.push(link);
            return Err(ComposeError::ExtendsLoop {
                chain: chain
                    .iter()
                    .map(|(f, s)| format!("{} ({})", s, f.display()))
                    .collect(),
            });
        }
        chain.push(link);
        let route = Route::new(["services".into(), name.into()]);
        let mut def = match &file.value["services"][name] {
            Value::Mapping(m) => Value::Mapping(m.clone()),
            Value::Null => Value::Mapping(Mapping::new()),
            _ => {
                return Err(ComposeError::Spec {
                    place: self.place(file, &route),
                    message: format!("service `{name}` must be a mapping"),
                });
            }
        };
        let context = MountContext {
            source: &file.source,
            service_route: &route,
            base_dir: &file.base_dir,
            home: &self.home,
            env,
        };
        let mounts = mount::service_mounts(
            &context,
            file.raw_volumes(name),
            &file.value["services"][name]["volumes"],
        )?;
        let Some(extends) = def.as_mapping_mut().and_then(|m| m.remove("extends")) else {
            chain.pop();
            return Ok((def, mounts));
        };
        let base = self.extends_target(file, name, &extends)?;
        let (base_def, base_mounts) = self.base_service(file, name, base, chain, env)?;
        chain.pop();
        let mounts = match compose_tag(file.raw_volumes(name)) {
            Some(ComposeTag::Reset) => Vec::new(),
            Some(ComposeTag::Override) => mounts,
            None => mount::merge_by_target(inherited_mounts(base_mounts), mounts),
        };
        Ok((merge_override(inherited_def(base_def), def, ""), mounts))
    }

    /// The service (and the file, when another) that `extends` of service `name` names.
    fn extends_target(
        &self,
        file: &FileData,
        name: &str,
        extends: &Value,
    ) -> Result<(String, Option<String>), ComposeError> {
        let ext_route = Route::new(["services".into(), name.into(), "extends".into()]);
        match extends {
            Value::String(s) => Ok((s.clone(), None)),
            Value::Mapping(m) => Ok((
                m.get("service")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| ComposeError::Spec {
                        place: self.place(file, &ext_route),
                        message: format!("`extends` of service `{name}` needs a `service`"),
                    })?,
                m.get("file").and_then(Value::as_str).map(str::to_owned),
            )),
            _ => Err(ComposeError::Spec {
                place: self.place(file, &ext_route),
                message: format!("`extends` of service `{name}` must be a name or a mapping"),
            }),
        }
    }

    /// The extended service `base_name` of service `name`, in `file` or in `base_file`
    /// (relative to `file`), with its own `extends` resolved.
    fn base_service(
        &mut self,
        file: &FileData,
        name: &str,
        (base_name, base_file): (String, Option<String>),
        chain: &mut Vec<(PathBuf, String)>,
        env: &ComposeEnv,
    ) -> Result<(Value, Vec<VolumeMount>), ComposeError> {
        let ext_route = Route::new(["services".into(), name.into(), "extends".into()]);
        let missing = |place, file| ComposeError::ExtendsMissing {
            place,
            service: name.to_owned(),
            base: base_name.clone(),
            file,
        };
        let Some(other) = base_file else {
            if file.value["services"].get(base_name.as_str()).is_none() {
                let place = self.place(file, &ext_route);
                return Err(missing(place, file.source.path.clone()));
            }
            return self.service(file, &base_name, chain, env);
        };
        let dir = file.source.path.parent().unwrap_or(Path::new("/"));
        let other_path = absolute(dir, Path::new(&other));
        if !self.files.is_file(&other_path) {
            let place = self.place(file, &ext_route);
            return Err(include_error(self.files, place, other_path));
        }
        let other_dir = other_path.parent().unwrap_or(Path::new("/")).to_path_buf();
        let other_file = self.parse(&other_path, &other_dir, env)?;
        if other_file.value["services"]
            .get(base_name.as_str())
            .is_none()
        {
            let place = self.place(file, &ext_route);
            return Err(missing(place, other_path));
        }
        self.service(&other_file, &base_name, chain, env)
    }

    fn place(&self, file: &FileData, route: &Route) -> Place {
        place_of(&file.source, route)
    }
}

/// An extended service's definition without what compose does not inherit from it.
fn inherited_def(mut base_def: Value) -> Value {
    if let Some(m) = base_def.as_mapping_mut() {
        for key in ["depends_on", "links", "volumes_from", "net", "ipc", "pid"] {
            m.remove(key);
        }
    }
    base_def
}

/// An extended service's mounts, reached through `extends`.
fn inherited_mounts(base_mounts: Vec<VolumeMount>) -> Vec<VolumeMount> {
    base_mounts
        .into_iter()
        .map(|mut m| {
            m.origin.reach = Reach::Extends;
            m
        })
        .collect()
}

fn place_of(source: &SourceText, route: &Route) -> Place {
    Place {
        file: source.path.clone(),
        position: source.locate(route).map(|l| l.position),
    }
}

fn set_service(value: &mut Value, name: &str, def: Value) {
    if let Some(services) = value.get_mut("services").and_then(Value::as_mapping_mut) {
        services.insert(Value::String(name.to_owned()), def);
    }
}

fn merge_include(partial: &mut Partial, inc: Merged, including: &Path) -> Result<(), ComposeError> {
    let mut inc_value = inc.value;
    strip_tags(&mut inc_value);
    for (svc, mounts) in inc.mounts {
        if partial.mounts_by_service.contains_key(&svc) {
            return Err(ComposeError::IncludeConflict {
                service: svc,
                file: including.to_path_buf(),
            });
        }
        partial.mounts_by_service.insert(svc, (mounts, None));
    }
    for (svc, origin) in inc.service_origins {
        partial.service_origins.insert(svc, origin);
    }
    for (vol, origin) in inc.volume_origins {
        partial.volume_origins.entry(vol).or_insert(origin);
    }
    // included definitions come first; the including file's own keys win
    let own = std::mem::replace(&mut partial.value, Value::Null);
    let mut base = Mapping::new();
    for section in ["services", "volumes", "networks", "secrets", "configs"] {
        if let Some(v) = inc_value.get(section) {
            base.insert(Value::String(section.into()), v.clone());
        }
    }
    partial.value = merge_override(Value::Mapping(base), own, "");
    Ok(())
}

fn interpolate_tree(
    value: &mut Value,
    route: &Route,
    source: &SourceText,
    env: &ComposeEnv,
    unset: &mut UnsetVariables,
) -> Result<(), ComposeError> {
    match value {
        Value::String(s) if s.contains('$') => {
            let lookup = |name: &str| env.get(name).map(|v| v.value.clone());
            match interpolate(s, &lookup) {
                Ok(done) => {
                    unset.record(source, route, &done.variables);
                    *s = done.value;
                }
                Err(error) => {
                    return Err(ComposeError::Interpolation {
                        place: place_of(source, route),
                        route: route.clone(),
                        error: Box::new(error),
                    });
                }
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = match k {
                    Value::String(s) => RouteKey::Key(s.clone()),
                    other => RouteKey::Key(scalar_text(other)),
                };
                interpolate_tree(v, &route.with(key), source, env, unset)?;
            }
        }
        Value::Sequence(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                interpolate_tree(v, &route.with(i), source, env, unset)?;
            }
        }
        Value::Tagged(tagged) => {
            interpolate_tree(&mut tagged.value, route, source, env, unset)?;
        }
        _ => {}
    }
    Ok(())
}

/// Checks the merged model against the compose specification, naming the first place (in the
/// last file that writes it) that breaks it.
fn validate_spec(value: &Value, files: &[PathBuf], reader: &dyn Files) -> Result<(), ComposeError> {
    let Some(violation) = spec::check(value) else {
        return Ok(());
    };
    Err(ComposeError::Spec {
        place: place_in(files, reader, &violation.route, violation.at_key),
        message: violation.message,
    })
}

/// The place of `route` (its key when `at_key`) in the last of `files` that writes it.
fn place_in(files: &[PathBuf], reader: &dyn Files, route: &Route, at_key: bool) -> Place {
    files
        .iter()
        .rev()
        .find_map(|f| {
            let text = reader.read(f).ok()?;
            let source = SourceText::new(f, text);
            let position = if at_key {
                source.locate_key(route)?
            } else {
                source.locate(route)?.position
            };
            Some(Place::at(f, position))
        })
        .unwrap_or_else(|| Place::file(files.first().cloned().unwrap_or_default()))
}

/// Why compose will refuse the project ([`refusal::find`]), each placed. A relative env file
/// counts as there when it is there against the project directory, the directory of the file
/// that defines its service, or that of any compose file loaded (an included or extended
/// file's own directory): a false "compose will refuse" is worse than a missed one.
fn refusals(
    value: &Value,
    services: &IndexMap<String, Service>,
    project_dir: &Path,
    files: &[PathBuf],
    reader: &dyn Files,
) -> Vec<Refusal> {
    let enabled = |s: &str| services.get(s).is_none_or(|s| s.enabled);
    let exists = |service: &str, path: &str| {
        if path.starts_with('~') {
            return true; // the home directory: not checked
        }
        let own_dir = services
            .get(service)
            .and_then(|s| s.origin.file.parent().map(Path::to_path_buf));
        let loaded_dirs = files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf));
        std::iter::once(project_dir.to_path_buf())
            .chain(own_dir)
            .chain(loaded_dirs)
            .any(|dir| reader.is_file(&absolute(&dir, Path::new(path))))
    };
    refusal::find(value, &enabled, &exists)
        .into_iter()
        .map(|found| Refusal {
            place: place_in(files, reader, &found.route, found.at_key),
            problem: found.problem,
        })
        .collect()
}

fn top_volume(key: &str, def: &Value, origin: Origin, project_dir: &Path) -> TopVolume {
    let external = match &def["external"] {
        Value::Bool(b) => *b,
        Value::String(s) => s == "true",
        Value::Mapping(_) => true,
        _ => false,
    };
    let name = def["name"]
        .as_str()
        .or_else(|| def["external"]["name"].as_str())
        .map(str::to_owned);
    let driver_opts = match &def["driver_opts"] {
        Value::Mapping(m) => m
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), scalar_text(v))))
            .collect(),
        _ => IndexMap::new(),
    };
    TopVolume {
        key: key.to_owned(),
        name,
        external,
        driver: def["driver"].as_str().map(str::to_owned),
        driver_opts,
        origin,
        project_dir: project_dir.to_path_buf(),
    }
}

/// Where a service or top-level volume is written. Its text is not kept: it is the whole body
/// (a 50 MB file's service bodies would be held a second time), and nothing edits it as text.
fn key_origin(file: &FileData, route: &Route) -> Origin {
    Origin {
        text: String::new(),
        ..file.source.origin(route)
    }
}

fn bare_origin(file: &Path) -> Origin {
    Origin {
        file: file.to_path_buf(),
        route: Route::default(),
        position: None,
        text: String::new(),
        reach: Reach::Direct,
        variables: Vec::new(),
    }
}

/// The text of a scalar (numbers and booleans as YAML writes them).
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => serde_norway::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

fn string_list(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().map(scalar_text).collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn split_list(text: &str, separator: char) -> Vec<String> {
    text.split(separator)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn yaml_message(err: &serde_norway::Error) -> String {
    let text = err.to_string();
    // serde_norway appends " at line L column C"; the place already says it
    match text.find(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

impl From<EnvFileError> for ComposeError {
    fn from(error: EnvFileError) -> Self {
        ComposeError::EnvFile(error)
    }
}
