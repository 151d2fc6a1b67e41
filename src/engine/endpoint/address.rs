//! Host URLs as the docker CLI reads them (`opts.ParseHost`) and the connection kind they mean.

use std::path::PathBuf;

use super::{DEFAULT_UNIX_SOCKET, EndpointError, EndpointKind};

/// docker/cli `opts.ParseHost`: empty means the default socket, no scheme means tcp, `tcp://`
/// gets the default host and port 2375 (2376 with TLS), `unix://` the default socket.
pub(super) fn parse_host(raw: &str, origin: &str, tls: bool) -> Result<String, EndpointError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(format!("unix://{DEFAULT_UNIX_SOCKET}"));
    }
    let (scheme, rest) = raw.split_once("://").unwrap_or(("tcp", raw));
    match scheme.to_ascii_lowercase().as_str() {
        "tcp" => Ok(format!("tcp://{}", tcp_address(rest, tls))),
        "unix" if rest.is_empty() => Ok(format!("unix://{DEFAULT_UNIX_SOCKET}")),
        "unix" | "npipe" | "fd" | "ssh" => Ok(raw.to_owned()),
        _ => Err(EndpointError::UnknownScheme {
            host: raw.to_owned(),
            origin: origin.to_owned(),
        }),
    }
}

/// Fill in `localhost` and port 2375 (2376 with TLS) the way `opts.ParseTCPAddr` does.
fn tcp_address(rest: &str, tls: bool) -> String {
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !authority.ends_with(']') => (h, p),
        _ => (authority, ""),
    };
    let host = if host.is_empty() { "localhost" } else { host };
    let port = match (port.is_empty(), tls) {
        (false, _) => port,
        (true, false) => "2375",
        (true, true) => "2376",
    };
    format!("{host}:{port}{path}")
}

/// The connection kind of a host URL.
pub(super) fn classify(host: &str, origin: &str) -> Result<EndpointKind, EndpointError> {
    let unknown = || EndpointError::UnknownScheme {
        host: host.to_owned(),
        origin: origin.to_owned(),
    };
    let (scheme, rest) = host.split_once("://").ok_or_else(unknown)?;
    Ok(match scheme.to_ascii_lowercase().as_str() {
        "unix" => EndpointKind::Unix(PathBuf::from(rest)),
        "tcp" | "http" => EndpointKind::Tcp {
            address: rest.to_owned(),
            https: false,
        },
        "https" => EndpointKind::Tcp {
            address: rest.to_owned(),
            https: true,
        },
        "ssh" => EndpointKind::Ssh(rest.to_owned()),
        "npipe" => EndpointKind::Npipe(rest.to_owned()),
        "fd" => EndpointKind::Fd(rest.to_owned()),
        _ => return Err(unknown()),
    })
}
