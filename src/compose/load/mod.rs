//! Loading a compose project the way `docker compose` does: file discovery, `COMPOSE_FILE`,
//! `.env`, interpolation, `include`, `extends`, merge keys, `!reset`/`!override`, the override
//! rules between `-f` files, profiles and the project name. Every mount keeps its origin.
//!
//! The loader reads files through the [`Files`] trait and never touches the environment: the
//! process environment comes in [`LoadOptions`].

mod discovery;
mod extends;
mod include;
mod loader;
#[cfg(test)]
pub(crate) mod one_file;
mod project;
mod scalar;
mod validation;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_norway::Value;

use crate::compose::env::EnvFileError;
use crate::compose::error::ComposeError;
use crate::compose::merge::strip_tags;
use crate::compose::model::{ComposeProject, LoadedFile};
use crate::compose::unset::UnsetVariables;

pub use discovery::normalize_project_name;
use discovery::{locate, project_name};
use loader::Loader;
use project::{services, volumes};
pub use scalar::scalar_text;
use scalar::split_list;
use validation::{refusals, validate_spec};

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

impl From<EnvFileError> for ComposeError {
    fn from(error: EnvFileError) -> Self {
        ComposeError::EnvFile(error)
    }
}
