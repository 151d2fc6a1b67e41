//! A first guess at the engine from the context name and socket path, refined by `docker info`.

use std::path::Path;

use super::{Endpoint, EndpointKind, EngineGuess};

/// Guess the engine from the context name and socket path, for this host's OS.
pub fn identify(endpoint: &Endpoint) -> EngineGuess {
    identify_on(endpoint, std::env::consts::OS)
}

/// [`identify`] for a given OS (`"linux"`, `"macos"`, ...), so it is testable everywhere.
pub fn identify_on(endpoint: &Endpoint, os: &str) -> EngineGuess {
    if let Some(guess) = from_context_name(&endpoint.context) {
        return guess;
    }
    match &endpoint.kind {
        EndpointKind::Unix(path) => from_socket(path, os),
        EndpointKind::Tcp { .. } | EndpointKind::Ssh(_) => EngineGuess::Remote,
        EndpointKind::Npipe(_) | EndpointKind::Fd(_) => EngineGuess::Unknown,
    }
}

fn from_context_name(name: &str) -> Option<EngineGuess> {
    match name {
        "colima" => Some(EngineGuess::Colima {
            profile: "default".into(),
        }),
        "desktop-linux" => Some(EngineGuess::DockerDesktop),
        "orbstack" => Some(EngineGuess::OrbStack),
        "rancher-desktop" => Some(EngineGuess::RancherDesktop),
        _ => name
            .strip_prefix("colima-")
            .filter(|p| !p.is_empty())
            .map(|p| EngineGuess::Colima {
                profile: p.to_owned(),
            }),
    }
}

fn from_socket(path: &Path, os: &str) -> EngineGuess {
    let parts: Vec<&str> = path.iter().filter_map(|c| c.to_str()).collect();
    let n = parts.len();
    let at = |i: usize| if i < n { parts[i] } else { "" };
    let file = at(n.wrapping_sub(1));
    let parent = if n >= 2 { at(n - 2) } else { "" };
    let grand = if n >= 3 { at(n - 3) } else { "" };
    match (grand, parent, file) {
        (".colima", profile, "docker.sock") => EngineGuess::Colima {
            profile: profile.to_owned(),
        },
        (_, ".colima", "docker.sock") => EngineGuess::Colima {
            profile: "default".into(),
        },
        (".docker", "run", "docker.sock") => EngineGuess::DockerDesktop,
        (".orbstack", "run", "docker.sock") => EngineGuess::OrbStack,
        (_, ".rd", "docker.sock") => EngineGuess::RancherDesktop,
        (instance, "sock", "docker.sock") if n >= 4 && at(n - 4) == ".lima" => EngineGuess::Lima {
            instance: instance.to_owned(),
        },
        _ => from_podman_socket(&parts)
            .or_else(|| native_socket(path, os))
            .unwrap_or(EngineGuess::Unknown),
    }
}

/// Podman machine sockets: `.../podman/<machine>-api.sock` (macOS temp dir),
/// `.../containers/podman/machine/<machine>/podman.sock`, `.../podman/machine/podman.sock`,
/// and rootless `/run/user/<uid>/podman/podman.sock`.
fn from_podman_socket(parts: &[&str]) -> Option<EngineGuess> {
    let file = *parts.last()?;
    let has_podman = parts.contains(&"podman");
    if !has_podman {
        return None;
    }
    if let Some(machine) = file.strip_suffix("-api.sock") {
        return Some(EngineGuess::Podman {
            machine: Some(machine.to_owned()),
        });
    }
    if file == "podman.sock" {
        let n = parts.len();
        let machine = (n >= 3 && parts[n - 3] == "machine").then(|| parts[n - 2].to_owned());
        return Some(EngineGuess::Podman { machine });
    }
    None
}

fn native_socket(path: &Path, os: &str) -> Option<EngineGuess> {
    let standard =
        path == Path::new("/var/run/docker.sock") || path == Path::new("/run/docker.sock");
    (standard && os == "linux").then_some(EngineGuess::Native)
}

/// Refine a guess with `docker info`'s `OperatingSystem` and `Name` (the VM's hostname).
/// A specific product named by the engine itself wins; otherwise the guess stands.
pub fn refine(guess: EngineGuess, operating_system: &str, name: &str) -> EngineGuess {
    let os = operating_system.to_ascii_lowercase();
    if os.starts_with("docker desktop") {
        return EngineGuess::DockerDesktop;
    }
    if os.starts_with("orbstack") {
        return EngineGuess::OrbStack;
    }
    if os.starts_with("rancher desktop") || name == "lima-rancher-desktop" {
        return EngineGuess::RancherDesktop;
    }
    match guess {
        EngineGuess::Unknown | EngineGuess::Remote => {
            if name == "colima" {
                EngineGuess::Colima {
                    profile: "default".into(),
                }
            } else if let Some(p) = name.strip_prefix("colima-").filter(|p| !p.is_empty()) {
                EngineGuess::Colima {
                    profile: p.to_owned(),
                }
            } else if let Some(i) = name.strip_prefix("lima-").filter(|i| !i.is_empty()) {
                EngineGuess::Lima {
                    instance: i.to_owned(),
                }
            } else {
                guess
            }
        }
        other => other,
    }
}
