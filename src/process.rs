//! What rinit knows about a process once it has ended, shared by the modules below the
//! supervisor (services, readiness probes) and the supervisor itself: an [`ExitStatus`],
//! decoded from `waitpid` and printed the way the shell would say it.

use crate::signals;

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
    fn exit_status_codes() {
        assert_eq!(ExitStatus::Code(3).as_code(), 3);
        assert_eq!(ExitStatus::Signal(libc::SIGTERM).as_code(), 143);
        assert_eq!(ExitStatus::Signal(libc::SIGKILL).as_code(), 137);
    }
}
