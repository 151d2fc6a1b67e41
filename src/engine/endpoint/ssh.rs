//! `ssh://` destinations as docker/cli `connhelper/ssh.ParseURL` reads them.

use thiserror::Error;

/// Where an `ssh://` endpoint logs in (docker/cli `connhelper/ssh.ParseURL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshDestination {
    /// The user, when the URL names one (else ssh's own choice: `~/.ssh/config`, `$USER`).
    pub user: Option<String>,
    /// The host (a name `~/.ssh/config` may resolve, or an address).
    pub host: String,
    /// The port, when the URL names one.
    pub port: Option<u16>,
}

/// Why an `ssh://` URL is not one the docker CLI accepts.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SshUrlError {
    /// `user:password@host`.
    #[error("a password in an ssh URL is not supported")]
    Password,
    /// `@host`.
    #[error("empty user name")]
    EmptyUser,
    /// A path, query or fragment after the host.
    #[error("extra path, query or fragment after the host")]
    ExtraPath,
    /// `[::1` without its `]`.
    #[error("unclosed `[` in the host")]
    UnclosedBracket,
    /// No host at all.
    #[error("no host")]
    NoHost,
    /// A port that is not a number from 0 to 65535.
    #[error("bad port `{port}`")]
    BadPort {
        /// The port as written.
        port: String,
    },
}

impl SshDestination {
    /// Parse the part of `ssh://[user@]host[:port]` after the scheme, as the docker CLI does:
    /// no password, no path, no query.
    pub fn parse(rest: &str) -> Result<Self, SshUrlError> {
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, _)) if user.contains(':') => return Err(SshUrlError::Password),
            Some(("", _)) => return Err(SshUrlError::EmptyUser),
            Some((user, hostport)) => (Some(user.to_owned()), hostport),
            None => (None, rest),
        };
        if hostport.contains(['/', '?', '#']) {
            return Err(SshUrlError::ExtraPath);
        }
        let (host, port) = match hostport.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed
                    .split_once(']')
                    .ok_or(SshUrlError::UnclosedBracket)?;
                (host, after.strip_prefix(':'))
            }
            None => match hostport.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            },
        };
        if host.is_empty() {
            return Err(SshUrlError::NoHost);
        }
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| SshUrlError::BadPort { port: p.to_owned() })
            })
            .transpose()?;
        Ok(SshDestination {
            user,
            host: host.to_owned(),
            port,
        })
    }

    /// The destination as a user types it: `ssh [-p PORT] [USER@]HOST`.
    pub fn command_line(&self) -> String {
        let port = self.port.map(|p| format!("-p {p} ")).unwrap_or_default();
        let user = self
            .user
            .as_ref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        format!("ssh {port}{user}{}", self.host)
    }

    /// The `ssh` arguments before the remote command, as the docker CLI passes them
    /// (`-l USER -p PORT -- HOST`).
    pub fn ssh_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(user) = &self.user {
            args.extend(["-l".to_owned(), user.clone()]);
        }
        if let Some(port) = self.port {
            args.extend(["-p".to_owned(), port.to_string()]);
        }
        args.extend(["--".to_owned(), self.host.clone()]);
        args
    }
}
