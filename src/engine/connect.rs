//! Why a remote endpoint (ssh, TLS) could not be used, read from what ssh printed or from the
//! TLS library's error, with what to do about it. Pure: the texts come in, a verdict goes out.

use std::fmt;
use std::path::PathBuf;

use super::endpoint::SshDestination;

/// What went wrong reaching a remote engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectProblem {
    /// ssh does not know (or no longer trusts) the server's host key.
    UnknownHostKey,
    /// ssh reached the server but no key was accepted.
    SshAuth,
    /// Nothing listens at the address (ssh or tcp).
    Refused,
    /// No answer in time.
    Timeout {
        /// The bound, in seconds.
        seconds: u64,
    },
    /// The host name does not resolve.
    UnknownHost,
    /// The remote login has no `docker` command, or it cannot reach the remote engine.
    RemoteDocker,
    /// Any other ssh failure.
    Ssh,
    /// The `ssh://` URL itself is wrong.
    BadSshUrl,
    /// The server's certificate is not signed by the CA we trust (or names another host).
    WrongCa,
    /// The server refused our client certificate (or we sent none).
    ClientCertRejected,
    /// TLS is asked for but `ca.pem`, `cert.pem` or `key.pem` is missing.
    TlsMaterialMissing {
        /// Where they were looked for.
        dir: PathBuf,
        /// The missing files.
        missing: Vec<&'static str>,
    },
    /// TLS without verifying the server (`DOCKER_TLS`, `SkipTLSVerify`) is refused.
    TlsWithoutVerify,
    /// Plain http was sent to an engine that speaks TLS.
    TlsExpected,
    /// The TLS handshake failed otherwise.
    Tls,
}

impl fmt::Display for ConnectProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectProblem::UnknownHostKey => f.write_str("the ssh host key is unknown or changed"),
            ConnectProblem::SshAuth => f.write_str("ssh login refused (no key was accepted)"),
            ConnectProblem::Refused => f.write_str("connection refused (nothing listens there)"),
            ConnectProblem::Timeout { seconds } => write!(f, "no answer within {seconds} s"),
            ConnectProblem::UnknownHost => f.write_str("the host name does not resolve"),
            ConnectProblem::RemoteDocker => {
                f.write_str("`docker system dial-stdio` failed on the remote host")
            }
            ConnectProblem::Ssh => f.write_str("ssh failed"),
            ConnectProblem::BadSshUrl => f.write_str("bad ssh:// URL"),
            ConnectProblem::WrongCa => {
                f.write_str("the server's certificate is not signed by the CA in ca.pem")
            }
            ConnectProblem::ClientCertRejected => {
                f.write_str("the engine refused the client certificate")
            }
            ConnectProblem::TlsMaterialMissing { dir, missing } => {
                write!(f, "TLS needs {} in `{}`", missing.join(", "), dir.display())
            }
            ConnectProblem::TlsWithoutVerify => {
                f.write_str("TLS without verifying the server is not supported")
            }
            ConnectProblem::Tls => f.write_str("the TLS handshake failed"),
            ConnectProblem::TlsExpected => {
                f.write_str("the engine speaks TLS but no TLS was asked for")
            }
        }
    }
}

impl ConnectProblem {
    /// What the user can do about it; `host` is the endpoint as written.
    pub fn hint(&self, host: &str) -> String {
        let ssh_host = host
            .strip_prefix("ssh://")
            .and_then(|rest| SshDestination::parse(rest).ok())
            .map(|d| d.command_line())
            .unwrap_or_else(|| host.to_owned());
        match self {
            ConnectProblem::UnknownHostKey => format!(
                "check the host's key and add it to known_hosts: run `{ssh_host}` once and compare the fingerprint (or `ssh-keyscan`); tierctl never accepts a new host key by itself"
            ),
            ConnectProblem::SshAuth => format!(
                "`{ssh_host} docker version` must work without a prompt: load the key into the agent (`ssh-add`) or name it with `IdentityFile` in ~/.ssh/config"
            ),
            ConnectProblem::Refused => format!(
                "check that the engine (tcp) or sshd (ssh) runs and listens at `{host}`, and the port"
            ),
            ConnectProblem::Timeout { .. } => format!(
                "check that `{host}` is up and reachable (firewall, VPN); `docker -H {host} info` shows the same"
            ),
            ConnectProblem::UnknownHost => {
                format!("check the host name in `{host}` (or its `Host` entry in ~/.ssh/config)")
            }
            ConnectProblem::RemoteDocker => format!(
                "on the remote host the login user needs the docker CLI (18.09+) on PATH and access to the engine: try `{ssh_host} docker version`"
            ),
            ConnectProblem::Ssh => format!("try `{ssh_host} docker version` to see the problem"),
            ConnectProblem::BadSshUrl => {
                "write it as ssh://[user@]host[:port], without password or path".into()
            }
            ConnectProblem::WrongCa => {
                "use the ca.pem of the CA that signed the engine's certificate (DOCKER_CERT_PATH, or `docker context update --docker ca=...`); the certificate must name this host".into()
            }
            ConnectProblem::ClientCertRejected => {
                "use a client cert.pem/key.pem signed by the CA the engine trusts (its --tlscacert)".into()
            }
            ConnectProblem::TlsMaterialMissing { .. } => {
                "put ca.pem, cert.pem and key.pem there (DOCKER_CERT_PATH, or `docker context create --docker host=...,ca=...,cert=...,key=...`)".into()
            }
            ConnectProblem::TlsWithoutVerify => {
                "set DOCKER_TLS_VERIFY=1 with the engine's CA, or use a context without SkipTLSVerify".into()
            }
            ConnectProblem::Tls => format!("`docker -H {host} --tlsverify info` shows the same"),
            ConnectProblem::TlsExpected => {
                "set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or use a context with the engine's TLS material".into()
            }
        }
    }
}

/// What ssh's stderr says went wrong (OpenSSH's messages).
pub fn from_ssh_stderr(stderr: &str) -> ConnectProblem {
    let has = |needle: &str| stderr.contains(needle);
    if has("Host key verification failed") || has("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        ConnectProblem::UnknownHostKey
    } else if has("Permission denied") || has("Too many authentication failures") {
        ConnectProblem::SshAuth
    } else if has("Connection refused") {
        ConnectProblem::Refused
    } else if has("Could not resolve hostname") {
        ConnectProblem::UnknownHost
    } else if has("timed out") {
        ConnectProblem::Timeout { seconds: 0 }
    } else if has("not found") || has("docker daemon") || has("Cannot connect to the Docker") {
        ConnectProblem::RemoteDocker
    } else {
        ConnectProblem::Ssh
    }
}

/// The TLS library's own words in an error chain (`invalid peer certificate: UnknownIssuer`),
/// without the HTTP client's wrapping; the whole chain when they are not found.
pub fn tls_words(chain: &str) -> &str {
    ["invalid peer certificate", "received fatal alert"]
        .iter()
        .find_map(|w| chain.find(w).map(|i| &chain[i..]))
        .unwrap_or(chain)
}

/// What a TLS connection error (its whole source chain as text) says went wrong, if TLS is
/// what failed.
pub fn from_tls_error(chain: &str) -> Option<ConnectProblem> {
    let has = |needle: &str| chain.contains(needle);
    if has("UnknownIssuer") || has("NotValidForName") || has("unknown authority") {
        Some(ConnectProblem::WrongCa)
    } else if has("BadCertificate") || has("CertificateRequired") || has("UnknownCA") {
        Some(ConnectProblem::ClientCertRejected)
    } else if has("invalid peer certificate") || has("received fatal alert") {
        Some(ConnectProblem::Tls)
    } else {
        None
    }
}

/// The last non-empty line of a tool's stderr (the message, without banners).
pub fn last_line(stderr: &str) -> &str {
    stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssh_messages() {
        let cases = [
            (
                "Host key verification failed.\r\n",
                ConnectProblem::UnknownHostKey,
            ),
            (
                "@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n",
                ConnectProblem::UnknownHostKey,
            ),
            (
                "tierctl-remote@127.0.0.1: Permission denied (publickey).\r\n",
                ConnectProblem::SshAuth,
            ),
            (
                "ssh: connect to host 127.0.0.1 port 1: Connection refused\r\n",
                ConnectProblem::Refused,
            ),
            (
                "ssh: connect to host 10.0.0.9 port 22: Connection timed out\r\n",
                ConnectProblem::Timeout { seconds: 0 },
            ),
            (
                "ssh: Could not resolve hostname nas: Name or service not known\r\n",
                ConnectProblem::UnknownHost,
            ),
            ("sh: 1: docker: not found\n", ConnectProblem::RemoteDocker),
            (
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n",
                ConnectProblem::RemoteDocker,
            ),
            (
                "kex_exchange_identification: read: reset\n",
                ConnectProblem::Ssh,
            ),
        ];
        for (stderr, want) in cases {
            assert_eq!(from_ssh_stderr(stderr), want, "{stderr}");
        }
    }

    #[test]
    fn rustls_messages() {
        let cases = [
            (
                "error trying to connect: invalid peer certificate: UnknownIssuer",
                Some(ConnectProblem::WrongCa),
            ),
            (
                "invalid peer certificate: NotValidForName",
                Some(ConnectProblem::WrongCa),
            ),
            (
                "received fatal alert: BadCertificate",
                Some(ConnectProblem::ClientCertRejected),
            ),
            (
                "received fatal alert: CertificateRequired",
                Some(ConnectProblem::ClientCertRejected),
            ),
            (
                "received fatal alert: HandshakeFailure",
                Some(ConnectProblem::Tls),
            ),
            ("connection reset by peer", None),
        ];
        for (chain, want) in cases {
            assert_eq!(from_tls_error(chain), want, "{chain}");
        }
    }

    #[test]
    fn hints_name_the_host() {
        let hint = ConnectProblem::UnknownHostKey.hint("ssh://alice@nas");
        assert!(hint.contains("`ssh alice@nas`"), "{hint}");
        let hint = ConnectProblem::SshAuth.hint("ssh://alice@127.0.0.1:2222");
        assert!(
            hint.contains("`ssh -p 2222 alice@127.0.0.1 docker version`"),
            "{hint}"
        );
        assert_eq!(
            tls_words("client error (Connect): invalid peer certificate: UnknownIssuer"),
            "invalid peer certificate: UnknownIssuer"
        );
        let hint = ConnectProblem::Timeout { seconds: 5 }.hint("tcp://127.0.0.1:2376");
        assert!(hint.contains("tcp://127.0.0.1:2376"), "{hint}");
        assert_eq!(
            last_line("banner\nssh: connect to host x port 1: Connection refused\r\n\n"),
            "ssh: connect to host x port 1: Connection refused"
        );
    }
}
