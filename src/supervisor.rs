//! The event loop (DESIGN §5): one thread blocking in `poll(2)`.
//!
//! The supervisor owns the services and the shutdown. It waits on the signalfd and on
//! the pidfds of processes being stopped, with a timeout taken from the nearest deadline,
//! or none at all: an idle rinit never wakes up. Every signal is dispatched through the
//! table in `signals`; SIGCHLD reaps every zombie with `waitpid(-1, WNOHANG)` until none
//! is left, recognising the main process's status inside that loop so coalesced SIGCHLDs
//! never lose it.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};

use crate::proctree::{Scope, Snapshot};
use crate::shutdown::{self, Shutdown, Stage, StopSpec, Target};
use crate::signals::{self, Disposition, SignalFd};
use crate::spawn::{Spawn, Stdio};

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

    fn from_raw(status: i32) -> ExitStatus {
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

/// The service started from `-- COMMAND`.
struct Main {
    pid: i32,
    status: Option<ExitStatus>,
}

/// Everything the event loop owns.
pub struct Supervisor {
    me: i32,
    scope: Scope,
    /// /proc shows this PID namespace; without it no process tree can be read safely.
    proc_ok: bool,
    signals: SignalFd,
    main: Option<Main>,
    shutdown: Option<Shutdown>,
}

impl Supervisor {
    /// Take over signals and become a subreaper when not PID 1.
    pub fn new() -> std::io::Result<Supervisor> {
        let signals = signals::take_over()?;
        let me = std::process::id() as i32;
        let scope = if me == 1 {
            Scope::Namespace
        } else {
            // SAFETY: prctl with integer arguments.
            if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
                warn!(
                    "cannot become a child subreaper: {}",
                    std::io::Error::last_os_error()
                );
            }
            Scope::Descendants
        };
        let proc_ok = proc_matches_namespace(me);
        if !proc_ok {
            error!("/proc does not show this PID namespace: process trees and sweeps are disabled");
        }
        Ok(Supervisor {
            me,
            scope,
            proc_ok,
            signals,
            main: None,
            shutdown: None,
        })
    }

    /// Start `-- COMMAND` as the main service.
    pub fn start_main(&mut self, argv: &[String]) -> Result<(), String> {
        let spawn = Spawn::new("main", argv, Stdio::Inherit)?;
        let pid = spawn
            .spawn()
            .map_err(|e| format!("main: fork failed: {e}"))?;
        info!("started main (pid {pid}): {}", argv.join(" "));
        self.main = Some(Main { pid, status: None });
        Ok(())
    }

    /// Run until the shutdown is complete; return rinit's exit status.
    pub fn run(&mut self) -> i32 {
        loop {
            let now = Instant::now();
            if let Some(sd) = &mut self.shutdown {
                let proc_ok = self.proc_ok;
                sd.advance(self.me, now, &mut || scan(proc_ok));
                if sd.is_finished() {
                    break;
                }
            }
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(now));
            self.wait(timeout);
            self.drain_signals();
        }
        self.reap();
        self.finish()
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.shutdown.as_ref().and_then(Shutdown::next_deadline)
    }

    /// Block in poll(2) on the signalfd and the pidfds of processes being stopped.
    fn wait(&self, timeout: Option<Duration>) {
        let mut fds: Vec<BorrowedFd<'_>> = vec![self.signals.as_fd()];
        if let Some(sd) = &self.shutdown {
            fds.extend(sd.pidfds());
        }
        let mut pollfds: Vec<libc::pollfd> = fds
            .iter()
            .map(|fd| libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let ms = timeout.map_or(-1, |t| {
            // Round up so we never wake just before a deadline and spin.
            let ms = t.as_micros().div_ceil(1000);
            i32::try_from(ms).unwrap_or(i32::MAX)
        });
        // SAFETY: pollfds is a valid array of the given length.
        let rc = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, ms) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                error!("poll failed: {err}");
            }
        }
    }

    fn drain_signals(&mut self) {
        while let Some(sig) = self.signals.read() {
            match signals::disposition(sig.signo) {
                Disposition::Reap => self.reap(),
                Disposition::Shutdown => self.on_trigger(sig.signo),
                Disposition::Forward => self.forward(sig.signo),
                Disposition::Ignore | Disposition::Default => {}
            }
        }
    }

    /// Reap every zombie; note the main process's status when it is among them.
    fn reap(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: status is a valid out-pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            let status = ExitStatus::from_raw(status);
            match &mut self.main {
                Some(main) if main.pid == pid => {
                    info!("main (pid {pid}) exited: {status}");
                    main.status = Some(status);
                    if self.shutdown.is_none() {
                        self.begin_shutdown(format!("main exited with {status}"), libc::SIGTERM);
                    }
                }
                _ => debug!("reaped pid {pid}: {status}"),
            }
        }
    }

    fn forward(&self, sig: i32) {
        match &self.main {
            Some(main) if main.status.is_none() => {
                debug!(
                    "forwarding {} to main (pid {})",
                    signals::name(sig),
                    main.pid
                );
                // SAFETY: main is our own unreaped child, so its pid cannot be reused.
                if unsafe { libc::kill(main.pid, sig) } != 0 {
                    warn!(
                        "cannot forward {} to main: {}",
                        signals::name(sig),
                        std::io::Error::last_os_error()
                    );
                }
            }
            _ => debug!(
                "{} received; no main process to forward it to",
                signals::name(sig)
            ),
        }
    }

    fn on_trigger(&mut self, sig: i32) {
        if let Some(sd) = &self.shutdown {
            let left = sd.deadline.saturating_duration_since(Instant::now());
            info!(
                "{} received; already shutting down ({} ms left)",
                signals::name(sig),
                left.as_millis()
            );
            return;
        }
        // Ctrl+C stops the main command with SIGINT, as a terminal would; else SIGTERM.
        let stop = if sig == libc::SIGINT {
            libc::SIGINT
        } else {
            libc::SIGTERM
        };
        self.begin_shutdown(format!("{} received", signals::name(sig)), stop);
    }

    fn begin_shutdown(&mut self, reason: String, main_signal: i32) {
        let now = Instant::now();
        let mut stages = Vec::new();
        let mut sessions = Vec::new();
        if let Some(main) = &self.main {
            sessions.push(main.pid);
            let alive = main.status.is_none();
            if alive && !self.proc_ok {
                // Without /proc only the main process itself can be stopped.
                // SAFETY: main is our own unreaped child.
                unsafe { libc::kill(main.pid, main_signal) };
            }
            stages.push(Stage::Wave(vec![StopSpec {
                name: "main".to_string(),
                target: Target::Service {
                    main_pid: alive.then_some(main.pid),
                    session: main.pid,
                },
                signal: main_signal,
                timeout: shutdown::DEFAULT_STOP_TIMEOUT,
            }]));
        }
        stages.push(Stage::Sweep(Target::Sweep {
            scope: self.scope,
            sessions,
        }));
        let sd = Shutdown::new(reason, now, shutdown::MAX_SHUTDOWN, stages);
        info!(
            "shutting down ({}): {} service(s), deadline in {} s",
            sd.reason,
            usize::from(self.main.is_some()),
            sd.deadline.duration_since(now).as_secs()
        );
        self.shutdown = Some(sd);
    }

    /// Report survivors and the shutdown, and compute the exit status (DESIGN §1).
    fn finish(&self) -> i32 {
        let now = Instant::now();
        if self.proc_ok {
            let snap = Snapshot::scan();
            let left = snap.in_scope(self.scope, self.me, &[]);
            for p in snap.alive(&left) {
                let note = if p.state == 'D' {
                    " (uninterruptible: cannot be killed)"
                } else {
                    ""
                };
                warn!("survivor: pid {} {} state {}{note}", p.pid, p.comm, p.state);
            }
        }
        if let Some(sd) = &self.shutdown {
            sd.log_report(now);
        }
        match &self.main {
            Some(Main {
                status: Some(status),
                ..
            }) => status.as_code(),
            Some(Main { status: None, pid }) => {
                error!("main (pid {pid}) could not be stopped");
                1
            }
            None => 0,
        }
    }
}

/// Read the process table, or nothing when /proc is not this namespace's.
fn scan(proc_ok: bool) -> Snapshot {
    if proc_ok {
        Snapshot::scan()
    } else {
        Snapshot::default()
    }
}

/// True when /proc belongs to rinit's PID namespace: /proc/self names rinit's own pid.
/// (After `unshare --pid` without `--mount-proc`, /proc still shows the parent namespace,
/// and its pids would name other processes here.)
fn proc_matches_namespace(me: i32) -> bool {
    std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str().and_then(|s| s.parse::<i32>().ok()))
        == Some(me)
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
