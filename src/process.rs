//! What rinit knows about a process once it has ended, shared by the modules below the
//! supervisor (services, readiness probes) and the supervisor itself: an [`ExitStatus`],
//! decoded from `waitpid` and printed the way the shell would say it.

use std::io;

use crate::signals;

/// Send `sig` to `pid`, one of rinit's own children that it has not reaped yet (a
/// service's main, a probe, a stop_exec): such a pid cannot have been recycled, so
/// `kill(2)` is exact. Any signal number, real-time ones included (nix's `Signal` has
/// none). Never a group or everyone: `pid` must be positive.
pub fn signal_child(pid: i32, sig: i32) -> io::Result<()> {
    kill(pid, sig)
}

/// kill(2) of one process by pid, with any signal number (nix's `kill` takes only the
/// signals its `Signal` names, no real-time ones). Never a group or everyone: `pid` must
/// be positive. Exact only for a pid that cannot have been recycled (see
/// [`signal_child`]; `pidfd` checks the start time first).
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    if pid <= 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: kill(2) with a positive pid and a signal number; no memory is involved.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Children rinit has made so far (every fork or clone that succeeded): a `wait4` that
/// found no child at all stays true until this count moves.
static SPAWNED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Count one child made (called right after each successful fork or clone).
pub fn note_spawn() {
    SPAWNED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// The number of children rinit has made so far (see [`Childless`]).
pub fn spawned() -> u64 {
    SPAWNED.load(std::sync::atomic::Ordering::Relaxed)
}

/// "`wait4` said ECHILD, and rinit has made no child since": taken when a reap ends on
/// ECHILD, it holds until the next spawn. An orphan adopted later (a child of a process
/// that came in with `docker exec`) can make it stale, but such a child announces its
/// exit with SIGCHLD like any other, so only the speculative final reap and the
/// shortcut of [`has_no_children`] are skipped on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Childless(Option<u64>);

impl Childless {
    /// Remember that a `wait4` just found no child at all.
    pub fn now() -> Childless {
        Childless(Some(spawned()))
    }

    /// True while no child was made since [`Childless::now`].
    pub fn holds(self) -> bool {
        self.0 == Some(spawned())
    }
}

/// True if rinit has no child at all, exited or not; nothing is reaped. As PID 1 of a
/// namespace this means no other process is left in it: every process there is rinit's
/// descendant, and an orphan becomes rinit's child before its parent can be reaped.
pub fn has_no_children() -> bool {
    use nix::sys::wait::{Id, WaitPidFlag, waitid};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    matches!(waitid(Id::All, flags), Err(nix::errno::Errno::ECHILD))
}

/// How a process ended, as `waitpid` reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    /// The conventional single number: the code, or 128 + the signal.
    pub fn as_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => 128 + s,
        }
    }

    /// From the raw status `waitpid` fills in.
    pub fn from_raw(status: i32) -> ExitStatus {
        if libc::WIFSIGNALED(status) {
            ExitStatus::Signal(libc::WTERMSIG(status))
        } else {
            ExitStatus::Code(libc::WEXITSTATUS(status))
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Signal(s) => write!(f, "{}", signals::name(*s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn childless_ends_with_the_next_spawn() {
        assert!(!Childless::default().holds(), "never reaped: unknown");
        let reaped = Childless::now();
        note_spawn();
        assert!(!reaped.holds(), "a child made since the reap");
    }

    #[test]
    fn exit_status_codes() {
        assert_eq!(ExitStatus::Code(3).as_code(), 3);
        assert_eq!(ExitStatus::Signal(libc::SIGTERM).as_code(), 143);
        assert_eq!(ExitStatus::Signal(libc::SIGKILL).as_code(), 137);
    }
}
