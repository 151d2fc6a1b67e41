//! `extends:`: a service's definition and mounts with the service it extends, in the same file
//! or another one.

use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

use crate::compose::env::ComposeEnv;
use crate::compose::error::ComposeError;
use crate::compose::merge::{ComposeTag, compose_tag, merge_override};
use crate::compose::model::VolumeMount;
use crate::compose::mount::{self, MountContext};
use crate::compose::origin::{Reach, Route};
use crate::compose::path::absolute;

use super::discovery::include_error;
use super::loader::{FileData, Loader};

impl Loader<'_> {
    /// A service's definition with its `extends` chain resolved, and its mounts.
    pub(super) fn service(
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
    pub(super) fn extends_target(
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
    pub(super) fn base_service(
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
}

/// An extended service's definition without what compose does not inherit from it.
pub(super) fn inherited_def(mut base_def: Value) -> Value {
    if let Some(m) = base_def.as_mapping_mut() {
        for key in ["depends_on", "links", "volumes_from", "net", "ipc", "pid"] {
            m.remove(key);
        }
    }
    base_def
}

/// An extended service's mounts, reached through `extends`.
pub(super) fn inherited_mounts(base_mounts: Vec<VolumeMount>) -> Vec<VolumeMount> {
    base_mounts
        .into_iter()
        .map(|mut m| {
            m.origin.reach = Reach::Extends;
            m
        })
        .collect()
}
