//! The shutdown orchestrator (DESIGN §4): stages of group stops under one deadline.
//!
//! A shutdown is a queue of [`Stage`]s — waves of services in reverse dependency order,
//! then the final sweep of everything left in rinit's scope — run one after the other
//! under a global deadline of at most 30 s. Each stage is a set of [`GroupStop`]s that
//! run in parallel. A `GroupStop` signals its processes deepest first (children before
//! parents), follows with SIGCONT, re-scans on every event to catch processes forked
//! meanwhile, and escalates to SIGKILL when its own timeout expires. It is done the moment
//! none of its processes is alive: there are no fixed sleeps.
//!
//! The deadline arithmetic is pure ([`stop_deadline`], [`sweep_deadline`]); the supervisor
//! feeds every stop a fresh [`Snapshot`] and the current time.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use crate::pidfd::Pidfd;
use crate::proctree::{Proc, Scope, Snapshot};
use crate::signals;

/// Hard cap on a shutdown, from trigger to exit.
pub const MAX_SHUTDOWN: Duration = Duration::from_secs(30);
/// Default per-service stop timeout.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The end of the shutdown reserved for SIGKILL, the sweep and verification.
pub const RESERVE: Duration = Duration::from_secs(2);
/// The end of the shutdown reserved for the sweep's SIGKILL and verification.
pub const SWEEP_RESERVE: Duration = Duration::from_secs(1);

/// When a service's stop escalates to SIGKILL: its own timeout, but never later than
/// `RESERVE` before the global deadline (and never before `now`).
pub fn stop_deadline(now: Instant, timeout: Duration, deadline: Instant) -> Instant {
    let latest = deadline.checked_sub(RESERVE).unwrap_or(now).max(now);
    (now + timeout).min(latest)
}

/// When the final sweep escalates to SIGKILL: a default stop timeout's grace for
/// processes that never had a stop signal, but never later than `SWEEP_RESERVE` before the
/// global deadline.
pub fn sweep_deadline(now: Instant, deadline: Instant) -> Instant {
    let latest = deadline.checked_sub(SWEEP_RESERVE).unwrap_or(now).max(now);
    (now + DEFAULT_STOP_TIMEOUT).min(latest)
}

/// Whose processes a group stop is aimed at.
#[derive(Clone, Debug)]
pub enum Target {
    /// A service: its main process's descendants and every process in its session.
    Service { main_pid: Option<i32>, session: i32 },
    /// Everything left in rinit's scope.
    Sweep { scope: Scope, sessions: Vec<i32> },
}

/// What to stop and how, for one service.
#[derive(Clone, Debug)]
pub struct StopSpec {
    pub name: String,
    pub target: Target,
    pub signal: i32,
    pub timeout: Duration,
}

/// One step of a shutdown.
#[derive(Debug)]
pub enum Stage {
    /// Services stopped in parallel; the next stage waits until all are empty.
    Wave(Vec<StopSpec>),
    /// The final sweep of everything left in scope.
    Sweep(Target),
}

/// The outcome of one group stop, for the report.
#[derive(Clone, Debug)]
pub struct StopReport {
    pub name: String,
    pub signal: i32,
    pub signalled: usize,
    pub took: Duration,
    pub killed: bool,
}

/// Stopping one group of processes.
#[derive(Debug)]
pub struct GroupStop {
    name: String,
    target: Target,
    signal: i32,
    started: Instant,
    kill_at: Instant,
    killed: bool,
    finished: Option<Instant>,
    /// Processes signalled so far, by pid, with their start time and pidfd.
    tracked: HashMap<i32, (u64, Option<Pidfd>)>,
    /// Everyone ever signalled, for the report.
    signalled: usize,
}

impl GroupStop {
    pub fn new(spec: StopSpec, now: Instant, kill_at: Instant) -> GroupStop {
        GroupStop {
            name: spec.name,
            target: spec.target,
            signal: spec.signal,
            started: now,
            kill_at,
            killed: false,
            finished: None,
            tracked: HashMap::new(),
            signalled: 0,
        }
    }

    pub fn is_done(&self) -> bool {
        self.finished.is_some()
    }

    /// The moment this stop needs attention without any event: its SIGKILL time.
    pub fn next_deadline(&self) -> Option<Instant> {
        (!self.killed && !self.is_done()).then_some(self.kill_at)
    }

    /// The members of this group in `snap`, deepest first.
    fn members(&self, snap: &Snapshot, me: i32) -> Vec<i32> {
        match &self.target {
            Target::Service { main_pid, session } => snap.service_members(*main_pid, *session, me),
            Target::Sweep { scope, sessions } => snap.in_scope(*scope, me, sessions),
        }
    }

    /// Bring the stop up to date with the process table: escalate at the kill time,
    /// signal members not yet signalled (new forks included), and finish when nobody is
    /// left alive.
    pub fn advance(&mut self, snap: &Snapshot, me: i32, now: Instant) {
        if self.is_done() {
            return;
        }
        let members = self.members(snap, me);
        let alive: Vec<&Proc> = snap.alive(&members).collect();
        self.tracked
            .retain(|pid, (start, _)| alive.iter().any(|p| p.pid == *pid && p.starttime == *start));
        if alive.is_empty() {
            self.finished = Some(now);
            return;
        }
        if !self.killed && now >= self.kill_at {
            self.killed = true;
            warn!(
                "{}: still {} process(es) after {} ms; sending SIGKILL",
                self.name,
                alive.len(),
                now.duration_since(self.started).as_millis()
            );
            self.tracked.clear();
        }
        let fresh: Vec<&Proc> = alive
            .into_iter()
            .filter(|p| !self.tracked.contains_key(&p.pid))
            .collect();
        let sig = if self.killed {
            libc::SIGKILL
        } else {
            self.signal
        };
        for p in &fresh {
            let pidfd = send(p, sig, &self.name);
            self.tracked.insert(p.pid, (p.starttime, pidfd));
            self.signalled += 1;
        }
        if sig != libc::SIGKILL {
            for p in &fresh {
                if let Some((_, Some(fd))) = self.tracked.get(&p.pid) {
                    let _ = fd.signal(libc::SIGCONT);
                }
            }
        }
    }

    /// The pidfds to wait on: any of them becoming readable means a member exited.
    pub fn pidfds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.tracked
            .values()
            .filter_map(|(_, fd)| fd.as_ref().map(|f| f.as_fd()))
    }

    pub fn report(&self, now: Instant) -> StopReport {
        StopReport {
            name: self.name.clone(),
            signal: self.signal,
            signalled: self.signalled,
            took: self.finished.unwrap_or(now).duration_since(self.started),
            killed: self.killed,
        }
    }
}

/// Signal one process through a verified pidfd. Returns the pidfd to wait on.
fn send(p: &Proc, sig: i32, who: &str) -> Option<Pidfd> {
    match Pidfd::open_checked(p.pid, p.starttime) {
        Ok(fd) => {
            debug!(
                "{who}: {} -> pid {} ({})",
                signals::name(sig),
                p.pid,
                p.comm
            );
            if let Err(e) = fd.signal(sig) {
                if e.raw_os_error() != Some(libc::ESRCH) {
                    warn!(
                        "{who}: cannot send {} to pid {}: {e}",
                        signals::name(sig),
                        p.pid
                    );
                }
            }
            Some(fd)
        }
        Err(e) => {
            if e.raw_os_error() != Some(libc::ESRCH) {
                warn!("{who}: cannot open pid {}: {e}", p.pid);
            }
            None
        }
    }
}

/// A shutdown in progress.
#[derive(Debug)]
pub struct Shutdown {
    pub t0: Instant,
    pub deadline: Instant,
    pub reason: String,
    stages: VecDeque<Stage>,
    current: Vec<GroupStop>,
    reports: Vec<StopReport>,
    finished: bool,
}

impl Shutdown {
    pub fn new(reason: String, t0: Instant, timeout: Duration, stages: Vec<Stage>) -> Shutdown {
        let deadline = t0 + timeout.min(MAX_SHUTDOWN);
        Shutdown {
            t0,
            deadline,
            reason,
            stages: stages.into(),
            current: Vec::new(),
            reports: Vec::new(),
            finished: false,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The nearest moment the shutdown must act without an event.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        let stops = self.current.iter().filter_map(|s| s.next_deadline());
        Some(stops.fold(self.deadline, Instant::min))
    }

    pub fn pidfds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.current.iter().flat_map(|s| s.pidfds())
    }

    /// Drive the shutdown as far as it can go now. `scan` reads the process table.
    pub fn advance(&mut self, me: i32, now: Instant, scan: &mut dyn FnMut() -> Snapshot) {
        while !self.finished {
            if now >= self.deadline {
                warn!("shutdown deadline reached; giving up on what is left");
                self.finish_current(now);
                self.stages.clear();
                self.finished = true;
                return;
            }
            if self.current.is_empty() {
                match self.stages.pop_front() {
                    Some(stage) => self.begin(stage, now),
                    None => {
                        self.finished = true;
                        return;
                    }
                }
            }
            let snap = scan();
            for stop in &mut self.current {
                stop.advance(&snap, me, now);
            }
            if self.current.iter().all(GroupStop::is_done) {
                self.finish_current(now);
            } else {
                return;
            }
        }
    }

    fn begin(&mut self, stage: Stage, now: Instant) {
        match stage {
            Stage::Wave(specs) => {
                for spec in specs {
                    let kill_at = stop_deadline(now, spec.timeout, self.deadline);
                    self.current.push(GroupStop::new(spec, now, kill_at));
                }
            }
            Stage::Sweep(target) => {
                let spec = StopSpec {
                    name: "sweep".to_string(),
                    target,
                    signal: libc::SIGTERM,
                    timeout: DEFAULT_STOP_TIMEOUT,
                };
                let kill_at = sweep_deadline(now, self.deadline);
                self.current.push(GroupStop::new(spec, now, kill_at));
            }
        }
    }

    fn finish_current(&mut self, now: Instant) {
        for stop in self.current.drain(..) {
            self.reports.push(stop.report(now));
        }
    }

    /// Log the shutdown report: per group the signal, time, and whether SIGKILL was needed.
    pub fn log_report(&self, now: Instant) {
        for r in &self.reports {
            if r.signalled == 0 {
                continue;
            }
            info!(
                "report: {:<12} {:<10} {:>4} process(es) {:>6} ms{}",
                r.name,
                signals::name(r.signal),
                r.signalled,
                r.took.as_millis(),
                if r.killed { "  KILLED" } else { "" }
            );
        }
        info!(
            "shutdown complete in {} ms ({})",
            now.duration_since(self.t0).as_millis(),
            self.reason
        );
    }

    pub fn reports(&self) -> &[StopReport] {
        &self.reports
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_deadline_is_clamped_to_the_reserve() {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(30);
        assert_eq!(
            stop_deadline(t0, Duration::from_secs(10), deadline),
            t0 + Duration::from_secs(10)
        );
        assert_eq!(
            stop_deadline(t0, Duration::from_secs(30), deadline),
            t0 + Duration::from_secs(28)
        );
        let late = t0 + Duration::from_secs(29);
        assert_eq!(stop_deadline(late, Duration::from_secs(10), deadline), late);
    }

    #[test]
    fn sweep_deadline_keeps_one_second() {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(30);
        assert_eq!(sweep_deadline(t0, deadline), t0 + DEFAULT_STOP_TIMEOUT);
        let late = t0 + Duration::from_secs(28);
        assert_eq!(sweep_deadline(late, deadline), t0 + Duration::from_secs(29));
    }

    #[test]
    fn shutdown_caps_its_deadline_at_30s() {
        let t0 = Instant::now();
        let s = Shutdown::new("t".into(), t0, Duration::from_secs(99), vec![]);
        assert_eq!(s.deadline, t0 + MAX_SHUTDOWN);
        let s = Shutdown::new("t".into(), t0, Duration::from_secs(5), vec![]);
        assert_eq!(s.deadline, t0 + Duration::from_secs(5));
    }

    #[test]
    fn empty_stages_finish_at_once() {
        let t0 = Instant::now();
        let mut s = Shutdown::new(
            "t".into(),
            t0,
            MAX_SHUTDOWN,
            vec![
                Stage::Wave(vec![StopSpec {
                    name: "a".into(),
                    target: Target::Service {
                        main_pid: Some(10),
                        session: 10,
                    },
                    signal: libc::SIGTERM,
                    timeout: DEFAULT_STOP_TIMEOUT,
                }]),
                Stage::Sweep(Target::Sweep {
                    scope: Scope::Namespace,
                    sessions: vec![],
                }),
            ],
        );
        s.advance(1, t0, &mut Snapshot::default);
        assert!(s.is_finished());
        assert_eq!(s.reports().len(), 2);
        assert_eq!(s.next_deadline(), None);
    }
}
