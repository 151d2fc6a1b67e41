//! The docker CLI's context store: the config dir, `currentContext`, the stored contexts' meta files.

use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::address::classify;
use super::tls::stored_tls;
use super::{DEFAULT_CONTEXT, Endpoint, EndpointError, EndpointInput, EndpointSource};
use crate::tool_config::ConfigFiles;

/// The context store directory name for a context: the sha256 hex of its name.
pub fn context_dir_name(name: &str) -> String {
    Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The docker CLI config dir: `--config`, else `DOCKER_CONFIG`, else `~/.docker`.
pub fn config_dir(input: &EndpointInput) -> PathBuf {
    input
        .config_dir
        .clone()
        .or_else(|| input.env.get("DOCKER_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| input.home.join(".docker"))
}

/// The TLS material directory of a stored context (`docker context create --docker
/// ca=...,cert=...,key=...` copies the files there).
pub fn context_tls_dir(config_dir: &Path, name: &str) -> PathBuf {
    config_dir
        .join("contexts/tls")
        .join(context_dir_name(name))
        .join("docker")
}

/// Every context `docker context ls` lists: `default` first, then the stored contexts by name
/// (the `Name` in each `contexts/meta/*/meta.json`).
pub fn context_names(
    input: &EndpointInput,
    files: &dyn ConfigFiles,
) -> Result<Vec<String>, EndpointError> {
    #[derive(Deserialize)]
    struct Named {
        #[serde(rename = "Name", default)]
        name: String,
    }
    let store = config_dir(input).join("contexts/meta");
    let entries = match std::fs::read_dir(&store) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(vec![DEFAULT_CONTEXT.to_owned()]);
        }
        Err(source) => {
            return Err(EndpointError::Read {
                path: store,
                source,
            });
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| EndpointError::Read {
                path: store.clone(),
                source,
            })?
            .path()
            .join("meta.json");
        let Ok(text) = files.read(&path) else {
            continue; // not a context directory
        };
        let named: Named = serde_json::from_str(&text).map_err(|e| EndpointError::BadMeta {
            name: path.display().to_string(),
            path: path.clone(),
            line: e.line(),
            message: e.to_string(),
        })?;
        if !named.name.is_empty() && named.name != DEFAULT_CONTEXT {
            names.push(named.name);
        }
    }
    names.sort();
    names.insert(0, DEFAULT_CONTEXT.to_owned());
    Ok(names)
}

/// The `meta.json` of a stored context.
pub fn meta_path(config_dir: &Path, name: &str) -> PathBuf {
    config_dir
        .join("contexts/meta")
        .join(context_dir_name(name))
        .join("meta.json")
}

/// The key in a context's `Metadata` that says whether its engine's host is another machine.
pub const REMOTE_MARK: &str = "tierctl.remote";

/// The context name and where it came from (docker/cli `resolveContextName`).
pub(super) fn context_name(
    input: &EndpointInput,
    flag_context: Option<&str>,
    dir: &Path,
    files: &dyn ConfigFiles,
) -> Result<(String, EndpointSource), EndpointError> {
    if let Some(name) = flag_context {
        return Ok((name.to_owned(), EndpointSource::ContextFlag));
    }
    if !input.hosts.is_empty() {
        return Ok((DEFAULT_CONTEXT.to_owned(), EndpointSource::HostFlag));
    }
    if input.env.get("DOCKER_HOST").is_some() {
        return Ok((DEFAULT_CONTEXT.to_owned(), EndpointSource::HostEnv));
    }
    if let Some(name) = input.env.get("DOCKER_CONTEXT") {
        return Ok((name.to_owned(), EndpointSource::ContextEnv));
    }
    if let Some(name) = current_context(&dir.join("config.json"), files)? {
        return Ok((name, EndpointSource::ConfigFile));
    }
    Ok((DEFAULT_CONTEXT.to_owned(), EndpointSource::Default))
}

/// `currentContext` from `config.json`; `None` when the file or the key is absent or empty.
pub(super) fn current_context(
    path: &Path,
    files: &dyn ConfigFiles,
) -> Result<Option<String>, EndpointError> {
    #[derive(Deserialize)]
    struct ConfigFile {
        #[serde(rename = "currentContext", default)]
        current_context: Option<String>,
    }
    let text = match files.read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(EndpointError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let config: ConfigFile = serde_json::from_str(&text).map_err(|e| EndpointError::BadConfig {
        path: path.to_owned(),
        line: e.line(),
        message: e.to_string(),
    })?;
    Ok(config.current_context.filter(|c| !c.is_empty()))
}

/// A stored context's docker endpoint.
pub(super) fn stored_endpoint(
    dir: &Path,
    name: &str,
    source: EndpointSource,
    files: &dyn ConfigFiles,
) -> Result<Endpoint, EndpointError> {
    #[derive(Deserialize)]
    struct Meta {
        #[serde(rename = "Endpoints", default)]
        endpoints: Endpoints,
        #[serde(rename = "Metadata", default)]
        metadata: Option<serde_json::Map<String, serde_json::Value>>,
    }
    #[derive(Deserialize, Default)]
    struct Endpoints {
        docker: Option<DockerEndpoint>,
    }
    #[derive(Deserialize)]
    struct DockerEndpoint {
        #[serde(rename = "Host", default)]
        host: String,
        #[serde(rename = "SkipTLSVerify", default)]
        skip_tls_verify: bool,
    }
    let meta = meta_path(dir, name);
    let text = read_meta(&meta, name, source, files)?;
    let bad = |line: usize, message: String| EndpointError::BadMeta {
        name: name.to_owned(),
        path: meta.clone(),
        line,
        message,
    };
    let parsed: Meta = serde_json::from_str(&text).map_err(|e| bad(e.line(), e.to_string()))?;
    let docker = parsed
        .endpoints
        .docker
        .filter(|d| !d.host.is_empty())
        .ok_or_else(|| bad(0, "no docker endpoint (`Endpoints.docker.Host`)".to_owned()))?;
    let origin = format!("context `{name}`");
    let kind = classify(&docker.host, &origin)?;
    let remote_mark = remote_mark(parsed.metadata.as_ref()).map_err(|e| bad(0, e.to_string()))?;
    let tls = stored_tls(dir, name, &kind, !docker.skip_tls_verify, files);
    Ok(Endpoint {
        host: docker.host,
        context: name.to_owned(),
        source,
        kind,
        skip_tls_verify: docker.skip_tls_verify,
        meta_file: Some(meta),
        tls,
        remote_mark,
    })
}

/// The text of a stored context's `meta.json`; a missing file means no such context.
fn read_meta(
    meta: &Path,
    name: &str,
    source: EndpointSource,
    files: &dyn ConfigFiles,
) -> Result<String, EndpointError> {
    match files.read(meta) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(EndpointError::ContextNotFound {
            name: name.to_owned(),
            source_of_name: source,
            meta: meta.to_path_buf(),
        }),
        Err(source) => Err(EndpointError::Read {
            path: meta.to_path_buf(),
            source,
        }),
    }
}

/// A context's `Metadata.tierctl.remote` that is neither true nor false.
#[derive(Debug, Error)]
#[error("`Metadata.{REMOTE_MARK}` is `{value}`: it must be true or false")]
struct BadRemoteMark {
    /// The value written.
    value: serde_json::Value,
}

/// The context's word on whether its engine runs on another machine (`Metadata.tierctl.remote`):
/// true, false or absent; anything else makes a bad `meta.json`.
fn remote_mark(
    metadata: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<Option<bool>, BadRemoteMark> {
    match metadata.and_then(|m| m.get(REMOTE_MARK)) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
        Some(serde_json::Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(other) => Err(BadRemoteMark {
            value: other.clone(),
        }),
    }
}
