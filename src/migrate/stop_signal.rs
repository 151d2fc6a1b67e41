//! Whether a running service survives its stop only by being killed (issue 26 row 10): the
//! kernel delivers a signal to the init of a pid namespace (PID 1 in the container) only when
//! that process catches (or blocks) it, so a `sleep` or a shell loop without a `trap` as PID 1
//! ignores `docker stop`'s SIGTERM and is killed with SIGKILL when the grace period ends, with
//! whatever it had not written yet. Preflight names such a service before anything stops.
//!
//! The pure part decides from plain data ([`SignalMasks`], a signal number, whether docker-init
//! is PID 1); the effect reads `/proc/<pid>/status` of the container's main process
//! ([`problems`]): on the host where tierctl sees the engine's processes (a native engine), else
//! (a VM's or another machine's engine, whose pids mean nothing here) by a helper container in
//! the container's pid namespace ([`masks_by_helper`]).

use super::MigrateContext;
use super::plan::MigratePlan;
use crate::engine::{ContainerInfo, Engine, EngineError, HelperSpec, Selector};

/// SIGTERM, what `docker stop` sends when the container names no other signal.
pub const SIGTERM: u8 = 15;
/// SIGKILL, which nothing catches: a container whose stop signal it is asked to be killed.
pub const SIGKILL: u8 = 9;

/// The signal masks of a process, as `/proc/<pid>/status` shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignalMasks {
    /// `SigCgt`: the signals it has a handler for.
    pub caught: u64,
    /// `SigBlk`: the signals it blocks (an init like tini blocks them and waits for them with
    /// `sigtimedwait`: they are delivered too).
    pub blocked: u64,
}

impl SignalMasks {
    /// The masks of a `/proc/<pid>/status` text (`None` when it has no `SigCgt` line).
    pub fn parse(status: &str) -> Option<SignalMasks> {
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        };
        Some(SignalMasks {
            caught: field("SigCgt:")?,
            blocked: field("SigBlk:").unwrap_or(0),
        })
    }

    /// Whether `signal` reaches the process: it catches or blocks it.
    pub fn receives(&self, signal: u8) -> bool {
        let Some(bit) = signal.checked_sub(1).filter(|b| *b < 64) else {
            return false;
        };
        (self.caught | self.blocked) & (1u64 << bit) != 0
    }
}

/// The number of a stop signal as docker takes it: `SIGINT`, `INT`, `sigquit`, `3`,
/// `SIGRTMIN+3` (`None`: not a Linux signal).
pub fn number(name: &str) -> Option<u8> {
    let name = name.trim();
    if let Ok(n) = name.parse::<u8>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rest) = bare.strip_prefix("RTMIN") {
        let plus = match rest.strip_prefix('+') {
            Some(n) => n.parse::<u8>().ok()?,
            None if rest.is_empty() => 0,
            None => return None,
        };
        return 34u8.checked_add(plus).filter(|n| *n <= 64);
    }
    if let Some(rest) = bare.strip_prefix("RTMAX") {
        let minus = match rest.strip_prefix('-') {
            Some(n) => n.parse::<u8>().ok()?,
            None if rest.is_empty() => 0,
            None => return None,
        };
        return 64u8.checked_sub(minus).filter(|n| *n >= 34);
    }
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    match bare {
        "IOT" => Some(6),
        "POLL" => Some(29),
        _ => NAMES
            .iter()
            .position(|n| *n == bare)
            .and_then(|i| u8::try_from(i + 1).ok()),
    }
}

/// Whether a container's stop kills its main process instead of asking it to end (pure):
/// docker-init as PID 1 (`init: true`) forwards the signal, a SIGKILL stop signal is asked
/// for, else PID 1 must catch or block `signal`.
pub fn killed_on_stop(masks: SignalMasks, signal: u8, init: bool) -> bool {
    !init && signal != SIGKILL && !masks.receives(signal)
}

/// The preflight problem naming a service killed on its stop, and the fix (pure).
pub fn problem(service: &str, container: &str, signal: &str) -> String {
    format!(
        "service `{service}` (container `{container}`) would be killed, not stopped: its main process (PID 1) does not handle {signal}, so `docker stop` kills it after the grace period with whatever it had not written; add `init: true` to the service (docker-init forwards the signal), make its command handle {signal} (`trap`, `exec` the server), or set `stop_signal` to one it handles"
    )
}

/// A service the plan stops that would be killed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Killed {
    /// The compose service.
    pub service: String,
    /// The preflight problem naming it and its container ([`problem`]).
    pub problem: String,
}

/// The running containers of the plan's services whose main process would be killed by their
/// stop. A process's status is read from `/proc` on this host when the engine runs here
/// natively, else (a VM's or another machine's engine) by a helper in the container's pid
/// namespace ([`masks_by_helper`]); a container whose status cannot be read is left out.
pub fn problems(ctx: &MigrateContext<'_>, plan: &MigratePlan) -> Result<Vec<Killed>, EngineError> {
    let here = ctx.vm.is_none() && ctx.elsewhere.is_none();
    let containers = ctx.engine.list(&Selector::Project(plan.project.clone()))?;
    let mut killed = Vec::new();
    for c in containers.iter().filter(|c| c.running) {
        let Some(service) = c.service.as_ref().filter(|s| plan.services.contains(s)) else {
            continue;
        };
        let Some(info) = ctx.engine.inspect(&c.id)? else {
            continue;
        };
        let masks = match (info.init, here) {
            // docker-init forwards the stop signal: nothing to read
            (true, _) => None,
            (false, true) => masks_on_host(&info),
            (false, false) => masks_by_helper(ctx.engine, &ctx.image, &info.id)?,
        };
        if let Some(problem) = masks.and_then(|m| container_problem(service, &info, m)) {
            killed.push(Killed {
                service: service.clone(),
                problem,
            });
        }
    }
    Ok(killed)
}

/// Whether one container's main process, with these `masks`, would be killed (pure).
fn container_problem(service: &str, info: &ContainerInfo, masks: SignalMasks) -> Option<String> {
    let shown = info.stop_signal.as_deref().unwrap_or("SIGTERM");
    let signal = match info.stop_signal.as_deref() {
        None => SIGTERM,
        Some(name) => number(name)?,
    };
    killed_on_stop(masks, signal, info.init).then(|| problem(service, &info.name, shown))
}

/// The main process's signal masks from `/proc` on this host (the engine runs here natively).
fn masks_on_host(info: &ContainerInfo) -> Option<SignalMasks> {
    let pid = info.pid?;
    // the pid is the engine host's: it is this process's only when the container's cgroup
    // names the container (tierctl in another pid namespace would read another process)
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    if info.id.is_empty() || !cgroup.contains(&info.id) {
        return None;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    SignalMasks::parse(&status)
}

/// The main process's signal masks as a helper in the container's pid namespace reads them
/// (`/proc/1/status`: world-readable, no capability needed; no network, read-only root): on
/// a VM's or another machine's engine, whose processes this host does not see. `None` when
/// the helper's output has no masks.
pub fn masks_by_helper(
    engine: &dyn Engine,
    image: &str,
    container: &str,
) -> Result<Option<SignalMasks>, EngineError> {
    let spec = HelperSpec {
        pid_namespace_of: Some(container.to_owned()),
        ..HelperSpec::new(
            "stop-signal",
            image,
            vec!["cat".into(), "/proc/1/status".into()],
        )
    };
    Ok(SignalMasks::parse(&engine.run_to_end(&spec)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue26_row10_stop_signals_parse_as_docker_takes_them() {
        assert_eq!(number("SIGTERM"), Some(15));
        assert_eq!(number("SIGINT"), Some(2));
        assert_eq!(number("quit"), Some(3));
        assert_eq!(number("sigkill"), Some(9));
        assert_eq!(number("SIGUSR1"), Some(10));
        assert_eq!(number("SIGWINCH"), Some(28));
        assert_eq!(number("SIGSYS"), Some(31));
        assert_eq!(number("15"), Some(15));
        assert_eq!(number("SIGRTMIN"), Some(34));
        assert_eq!(number("SIGRTMIN+3"), Some(37));
        assert_eq!(number("SIGRTMAX-1"), Some(63));
        assert_eq!(number("0"), None);
        assert_eq!(number("65"), None);
        assert_eq!(number("SIGNOPE"), None);
        assert_eq!(number("SIGRTMIN+40"), None);
    }

    #[test]
    fn issue26_row10_a_pid1_that_does_not_catch_its_stop_signal_is_killed() {
        // a PID-1 `sleep`: no handler at all
        let sleep = SignalMasks::parse(
            "Name:\tsleep\nSigQ:\t0/63412\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n",
        )
        .expect("masks");
        assert!(killed_on_stop(sleep, SIGTERM, false));
        // the same with `init: true`: docker-init forwards the signal
        assert!(!killed_on_stop(sleep, SIGTERM, true));
        // a stop signal of SIGKILL asks for the kill
        assert!(!killed_on_stop(sleep, SIGKILL, false));
        // a shell with `trap ... TERM` (bit 15) and SIGINT (bit 2) caught
        let trap = SignalMasks::parse("SigBlk:\t0000000000000000\nSigCgt:\t0000000000004002\n")
            .expect("masks");
        assert!(!killed_on_stop(trap, SIGTERM, false));
        assert!(!killed_on_stop(trap, 2, false));
        // ... which does not catch SIGQUIT
        assert!(killed_on_stop(trap, 3, false));
        // an init like tini blocks the signals it waits for
        let tini = SignalMasks {
            caught: 0,
            blocked: 1 << (SIGTERM - 1),
        };
        assert!(!killed_on_stop(tini, SIGTERM, false));
        // high real-time signals use the top bits
        let rt = SignalMasks {
            caught: 1 << 63,
            blocked: 0,
        };
        assert!(rt.receives(64) && !rt.receives(63));
        assert!(!rt.receives(0));
        assert_eq!(SignalMasks::parse("Name:\tx\n"), None);
    }

    #[test]
    fn issue26_row10_the_problem_names_the_service_and_the_fixes() {
        let p = problem("db", "app-db-1", "SIGTERM");
        assert!(
            p.starts_with("service `db` (container `app-db-1`) would be killed, not stopped"),
            "{p}"
        );
        assert!(
            p.contains("`init: true`") && p.contains("`stop_signal`") && p.contains("SIGTERM"),
            "{p}"
        );
    }
}
