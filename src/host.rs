//! Which machine a command describes: is the engine's host this machine (its host paths are
//! this machine's paths, possibly through a VM's shares) or another one (they are that
//! machine's paths, and only a helper container on that engine may look at them)?
//!
//! The rule, first match wins:
//!
//! 1. `tierctl.remote: true|false` in the docker context's `Metadata` (the user's word);
//! 2. a unix socket or a named pipe: this machine (a native engine, or a VM engine whose shares
//!    `vm` reads);
//! 3. `ssh://`, `tcp://`, `http(s)://`: another machine, unless the engine proves otherwise:
//!    a marker file written on this machine (random name and content, in the temp dir) is read
//!    back by a helper container on that engine at the same path. Seen: this machine (an ssh
//!    or tcp endpoint of a local engine). Not seen, or the helper could not run: another
//!    machine.
//!
//! Pure: the proof is the caller's effect (`engine::host_fs::sees_marker`).

use serde::Serialize;

use crate::endpoint::{Endpoint, EndpointKind};

/// The machine a command describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    /// The docker context (`default` for `-H`, `DOCKER_HOST` or the default socket).
    pub context: String,
    /// The endpoint URL.
    pub endpoint: String,
    /// Whether it is another machine than the one tierctl runs on.
    pub remote: bool,
    /// `docker info`'s `Name` (the engine host's hostname), when the engine was asked.
    pub name: Option<String>,
    /// Which part of the rule decided.
    pub rule: Rule,
}

/// Which part of the rule decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// `tierctl.remote` in the context's metadata.
    ContextMark,
    /// A unix socket or named pipe: this machine.
    LocalSocket,
    /// A network endpoint of an engine `docker info` names as a VM engine (Colima, Lima,
    /// Docker Desktop, OrbStack, Rancher Desktop): this machine, through the VM's shares.
    VmEngine,
    /// A network endpoint whose engine read this machine's marker file.
    MarkerSeen,
    /// A network endpoint whose engine did not read this machine's marker file.
    MarkerNotSeen,
    /// Without the engine (`--offline`): a network endpoint is taken as another machine.
    Offline,
}

impl Rule {
    /// Why, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::ContextMark => "`tierctl.remote` in the context's metadata",
            Rule::LocalSocket => "a local socket",
            Rule::VmEngine => "a VM engine of this machine (through its shares)",
            Rule::MarkerSeen => "the engine read a marker file written on this machine",
            Rule::MarkerNotSeen => {
                "the engine could not read a marker file written on this machine"
            }
            Rule::Offline => "a network endpoint, not asked (offline)",
        }
    }
}

/// What the endpoint alone says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Decided: remote or not, and why.
    Decided {
        /// Another machine.
        remote: bool,
        /// Why.
        rule: Rule,
    },
    /// A network endpoint: the marker file decides.
    Probe,
}

/// Rules 1 and 2 (see the module); [`Decision::Probe`] for rule 3.
pub fn decide(endpoint: &Endpoint) -> Decision {
    if let Some(remote) = endpoint.remote_mark {
        return Decision::Decided {
            remote,
            rule: Rule::ContextMark,
        };
    }
    match endpoint.kind {
        EndpointKind::Unix(_) | EndpointKind::Npipe(_) | EndpointKind::Fd(_) => Decision::Decided {
            remote: false,
            rule: Rule::LocalSocket,
        },
        EndpointKind::Tcp { .. } | EndpointKind::Ssh(_) => Decision::Probe,
    }
}

/// Rule 2 for a network endpoint once `docker info` answered: an engine identified as a VM
/// engine (`endpoint::refine`) is this machine's, through the VM's shares.
pub fn decide_with_engine(endpoint: &Endpoint, vm_engine: bool) -> Decision {
    match decide(endpoint) {
        Decision::Probe if vm_engine => Decision::Decided {
            remote: false,
            rule: Rule::VmEngine,
        },
        other => other,
    }
}

/// The host once the marker file decided (`seen`: the engine read it), or without the engine.
pub fn host(endpoint: &Endpoint, seen: Option<bool>, name: Option<String>) -> Host {
    decided(endpoint, decide(endpoint), seen, name)
}

/// [`host`] from a decision already made ([`decide_with_engine`]).
pub fn decided(
    endpoint: &Endpoint,
    decision: Decision,
    seen: Option<bool>,
    name: Option<String>,
) -> Host {
    let (remote, rule) = match (decision, seen) {
        (Decision::Decided { remote, rule }, _) => (remote, rule),
        (Decision::Probe, Some(true)) => (false, Rule::MarkerSeen),
        (Decision::Probe, Some(false)) => (true, Rule::MarkerNotSeen),
        (Decision::Probe, None) => (true, Rule::Offline),
    };
    Host {
        context: endpoint.context.clone(),
        endpoint: endpoint.host.clone(),
        remote,
        name,
        rule,
    }
}

impl Host {
    /// One line for the top of human output: `host: nas (ssh://nas, remote: ...)`.
    pub fn line(&self) -> String {
        let side = if self.remote {
            "remote: paths are that machine's"
        } else {
            "this machine"
        };
        let name = self
            .name
            .as_deref()
            .map(|n| format!(", engine host `{n}`"))
            .unwrap_or_default();
        format!(
            "host: {} ({}{name}; {side}, by {})",
            self.context,
            self.endpoint,
            self.rule.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::EndpointSource;

    fn endpoint(kind: EndpointKind, mark: Option<bool>) -> Endpoint {
        Endpoint {
            host: "x://".into(),
            context: "nas".into(),
            source: EndpointSource::ContextFlag,
            kind,
            skip_tls_verify: false,
            meta_file: None,
            tls: None,
            remote_mark: mark,
        }
    }

    #[test]
    fn the_context_mark_wins_then_sockets_are_local_then_network_endpoints_probe() {
        let unix = EndpointKind::Unix("/var/run/docker.sock".into());
        let ssh = EndpointKind::Ssh("nas".into());
        let tcp = EndpointKind::Tcp {
            address: "127.0.0.1:2376".into(),
            https: false,
        };
        assert_eq!(
            decide(&endpoint(unix.clone(), Some(true))),
            Decision::Decided {
                remote: true,
                rule: Rule::ContextMark
            }
        );
        assert_eq!(
            decide(&endpoint(ssh.clone(), Some(false))),
            Decision::Decided {
                remote: false,
                rule: Rule::ContextMark
            }
        );
        assert_eq!(
            decide(&endpoint(unix, None)),
            Decision::Decided {
                remote: false,
                rule: Rule::LocalSocket
            }
        );
        assert_eq!(decide(&endpoint(ssh.clone(), None)), Decision::Probe);
        assert_eq!(decide(&endpoint(tcp.clone(), None)), Decision::Probe);
        assert!(!host(&endpoint(tcp.clone(), None), Some(true), None).remote);
        assert!(host(&endpoint(tcp, None), Some(false), None).remote);
        let offline = host(&endpoint(ssh, None), None, None);
        assert!(offline.remote);
        assert_eq!(offline.rule, Rule::Offline);
    }

    #[test]
    fn a_network_endpoint_of_a_vm_engine_is_this_machine_without_a_probe() {
        let tcp = EndpointKind::Tcp {
            address: "127.0.0.1:23760".into(),
            https: false,
        };
        let vm = decide_with_engine(&endpoint(tcp.clone(), None), true);
        assert_eq!(
            vm,
            Decision::Decided {
                remote: false,
                rule: Rule::VmEngine
            }
        );
        assert_eq!(
            decide_with_engine(&endpoint(tcp.clone(), None), false),
            Decision::Probe
        );
        // the user's word still wins
        assert_eq!(
            decide_with_engine(&endpoint(tcp, Some(true)), true),
            Decision::Decided {
                remote: true,
                rule: Rule::ContextMark
            }
        );
    }

    #[test]
    fn the_line_names_the_context_the_endpoint_and_the_side() {
        let mut h = host(
            &endpoint(EndpointKind::Ssh("nas".into()), None),
            Some(false),
            Some("nas".into()),
        );
        h.endpoint = "ssh://nas".into();
        assert_eq!(
            h.line(),
            "host: nas (ssh://nas, engine host `nas`; remote: paths are that machine's, by the engine could not read a marker file written on this machine)"
        );
    }
}
