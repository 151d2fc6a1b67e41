//! The TLS an endpoint speaks and where its material lies.

use std::path::{Path, PathBuf};

use super::{EndpointInput, EndpointKind, Tls, config_dir, context_tls_dir};
use crate::tool_config::ConfigFiles;

/// `ca.pem`, `cert.pem` and `key.pem` in `dir`, each when present.
fn tls_material(dir: &Path, verify: bool, origin: String, files: &dyn ConfigFiles) -> Tls {
    let present = |file: &str| {
        let path = dir.join(file);
        files.read(&path).is_ok().then_some(path)
    };
    Tls {
        dir: dir.to_owned(),
        ca: present("ca.pem"),
        cert: present("cert.pem"),
        key: present("key.pem"),
        verify,
        origin,
    }
}

/// The default context's TLS (docker/cli `SetDefaultOptions`): on with a non-empty
/// `DOCKER_TLS_VERIFY` (verifying) or `DOCKER_TLS` (not verifying); material from
/// `DOCKER_CERT_PATH`, else the config dir.
pub(super) fn env_tls(input: &EndpointInput, files: &dyn ConfigFiles) -> Option<Tls> {
    let set = |name: &str| input.env.get(name).is_some_and(|v| !v.is_empty());
    let verify = set("DOCKER_TLS_VERIFY");
    if !verify && !set("DOCKER_TLS") {
        return None;
    }
    let dir = input
        .env
        .get("DOCKER_CERT_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| config_dir(input));
    let origin = if verify {
        "DOCKER_TLS_VERIFY"
    } else {
        "DOCKER_TLS"
    };
    Some(tls_material(&dir, verify, origin.to_owned(), files))
}

/// The TLS a stored context's endpoint speaks: always for `https://`, for a plain tcp endpoint
/// only when the context stores TLS material.
pub(super) fn stored_tls(
    dir: &Path,
    name: &str,
    kind: &EndpointKind,
    verify: bool,
    files: &dyn ConfigFiles,
) -> Option<Tls> {
    let material = tls_material(&context_tls_dir(dir, name), verify, String::new(), files);
    let has_material = material.ca.is_some() || material.cert.is_some() || material.key.is_some();
    match kind {
        EndpointKind::Tcp { https: true, .. } => Some(Tls {
            origin: "https://".to_owned(),
            ..material
        }),
        EndpointKind::Tcp { https: false, .. } if has_material => Some(Tls {
            origin: format!("the TLS material of context `{name}`"),
            ..material
        }),
        _ => None,
    }
}
