//! One service's state machine (DESIGN §3) and its restart arithmetic.
//!
//! Every state change is an [`Event`] given to [`Service::on`], which looks it up in one
//! table, [`TRANSITIONS`]: from each state, the events it takes, where each leads and the
//! [`Action`]s it performs on the service's record (its run, probe, timer, backoff) — the
//! whole lifecycle on one screen, as in s6-supervise. Anything else is refused with an
//! error naming the state and the event. The actions are pure; what needs a system call
//! (a probe process to kill) is handed back in [`Taken`]. The restart policy — exponential
//! backoff and the restart limit — is arithmetic on timestamps, unit-tested here.
//! Deciding which event happens, and starting and stopping processes, is the supervisor's
//! job.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::config::{LogTarget, Restart, ServiceConfig};
use crate::health::{Health, HealthStatus, Verdict};
use crate::logs::{LogPipe, RotatingFile};
use crate::process::ExitStatus;
use crate::ready::Check;
use crate::users::{self, Credentials};

/// Where a service is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Waiting for its dependencies to be ready.
    Waiting,
    /// Spawned, not ready yet.
    Starting,
    /// Ready (a oneshot never is: it goes from starting to exited).
    Running,
    /// Exited; will be started again after a delay.
    Backoff,
    /// Ended successfully for good (a oneshot's normal end).
    Exited,
    /// Ended for good in failure, or never became ready.
    Failed,
    /// A dependency failed, so it will not start.
    Blocked,
    /// Stopped with SIGSTOP by `ctl pause`.
    Paused,
    /// Being stopped.
    Stopping,
    /// Stopped on request.
    Stopped,
    /// `enabled = false`: configured, started only by `ctl start`.
    Disabled,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Starting => "starting",
            State::Running => "running",
            State::Backoff => "backoff",
            State::Exited => "exited",
            State::Failed => "failed",
            State::Blocked => "blocked",
            State::Paused => "paused",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
            State::Disabled => "disabled",
        }
    }

    /// The service has (or may have) processes.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            State::Starting | State::Running | State::Paused | State::Stopping
        )
    }

    /// The service will not change again without a request.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            State::Exited | State::Failed | State::Blocked | State::Stopped | State::Disabled
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What happens to a service. Each is accepted only in the states the table lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Its dependencies are ready (or its backoff is over, or `ctl start`): spawn it.
    Start,
    /// Its readiness probe passed (or it has none).
    Ready,
    /// `ctl pause`: SIGSTOP to its tree.
    Pause,
    /// `ctl resume` of a service that was ready.
    Resume,
    /// `ctl resume` of a service whose probe had not passed yet.
    ResumeStarting,
    /// Its main exited and its policy restarts it after a backoff.
    Restart,
    /// It ended for good, successfully (a oneshot's normal end).
    Finish,
    /// It ended for good in failure (exit status, restart limit, not ready in time).
    Fail,
    /// A dependency failed or was stopped: it will not start.
    Block,
    /// A stop begins (shutdown, `ctl stop`, a reload that changed it).
    Stop,
    /// Stopped before it ever ran (it was waiting, backing off or blocked).
    Cancel,
    /// Its stop is over: nothing of it is left.
    Gone,
    /// Asked to run again (`ctl start`, a restart or reload after a stop).
    Reset,
    /// `enabled = false` (a reload that disabled it): it waits for `ctl start`.
    Disable,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What taking an event does to the service's record besides moving its state. Each
/// entry of [`TRANSITIONS`] lists its actions; [`Service::on`] performs them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A new run: its start time, no reason, the readiness probe and its deadline armed.
    BeginRun,
    /// The readiness probe and its deadline dropped; a probe process still running is
    /// handed back to be killed.
    EndProbe,
    /// Health checks begin (if it has them): the first one interval from now; so does
    /// its watchdog.
    ArmHealth,
    /// Health checks and watchdog end; a check command still running is handed back to
    /// be killed.
    EndHealth,
    /// Back from a pause: the watchdog and the health checks start their time again (a
    /// paused service could not ping, nor answer).
    ResumeChecks,
    /// The next backoff (doubled, or reset after a long run), counted towards the restart
    /// limit, with the timer set to its end.
    ArmBackoff,
    /// No timer.
    ClearTimer,
}

/// One entry of the table: an event, the state it leads to, what it does.
pub type Transition = (Event, State, &'static [Action]);

/// The lifecycle: from each state, the events it takes, the state each leads to and the
/// actions it performs.
pub const TRANSITIONS: &[(State, &[Transition])] = {
    use Event::*;
    use State::*;
    const RUN: &[Action] = &[Action::BeginRun];
    const READY: &[Action] = &[Action::EndProbe, Action::ArmHealth];
    const END: &[Action] = &[Action::EndProbe, Action::EndHealth];
    const RETRY: &[Action] = &[Action::EndProbe, Action::EndHealth, Action::ArmBackoff];
    const BACKOFF: &[Action] = &[Action::ArmBackoff];
    const UNTIME: &[Action] = &[Action::ClearTimer];
    const RESUME: &[Action] = &[Action::ResumeChecks];
    const NONE: &[Action] = &[];
    &[
        (
            Waiting,
            &[
                (Start, Starting, RUN),
                (Block, Blocked, END),
                (Cancel, Stopped, UNTIME),
                (Disable, Disabled, NONE),
            ],
        ),
        (
            Starting,
            &[
                (Ready, Running, READY),
                (Finish, Exited, END),
                (Fail, Failed, END),
                (Restart, Backoff, RETRY),
                // The probe and its deadline stay: resumed, it is still starting.
                (Pause, Paused, NONE),
                (Stop, Stopping, END),
            ],
        ),
        (
            Running,
            &[
                (Finish, Exited, END),
                (Fail, Failed, END),
                (Restart, Backoff, RETRY),
                (Pause, Paused, NONE),
                (Stop, Stopping, END),
            ],
        ),
        (
            Backoff,
            &[
                (Start, Starting, RUN),
                (Cancel, Stopped, UNTIME),
                (Fail, Failed, UNTIME),
            ],
        ),
        (
            Paused,
            &[
                (Resume, Running, RESUME),
                (ResumeStarting, Starting, NONE),
                (Stop, Stopping, END),
                (Finish, Exited, END),
                (Fail, Failed, END),
                (Restart, Backoff, RETRY),
            ],
        ),
        // A second stop request while stopping changes nothing. Restart: the stop of an
        // unhealthy service is over.
        (
            Stopping,
            &[
                (Gone, Stopped, NONE),
                (Fail, Failed, NONE),
                (Stop, Stopping, NONE),
                (Restart, Backoff, BACKOFF),
            ],
        ),
        (Exited, &[(Reset, Waiting, NONE)]),
        (Failed, &[(Reset, Waiting, NONE)]),
        (Blocked, &[(Reset, Waiting, NONE), (Cancel, Stopped, NONE)]),
        (Stopped, &[(Reset, Waiting, NONE)]),
        // `ctl start` of a disabled service starts it (for this run of rinit).
        (Disabled, &[(Reset, Waiting, NONE)]),
    ]
};

/// Where `event` leads from `from` and what it does, if the table allows it. Pure.
pub fn lookup(from: State, event: Event) -> Option<(State, &'static [Action])> {
    TRANSITIONS
        .iter()
        .filter(|(f, _)| *f == from)
        .flat_map(|(_, row)| row.iter())
        .find(|(e, _, _)| *e == event)
        .map(|(_, to, actions)| (*to, *actions))
}

/// Where `event` leads from `from`, if the table allows it. Pure.
pub fn next(from: State, event: Event) -> Option<State> {
    lookup(from, event).map(|(to, _)| to)
}

/// May a service go from `from` to `to` (by some event)?
pub fn allowed(from: State, to: State) -> bool {
    TRANSITIONS
        .iter()
        .filter(|(f, _)| *f == from)
        .flat_map(|(_, row)| row.iter())
        .any(|(_, t, _)| *t == to)
}

/// What [`Service::on`] leaves to the caller, who owns the system calls.
#[derive(Debug)]
pub struct Taken {
    pub state: State,
    /// Process groups of probe or check commands that must be killed (SIGKILL); what
    /// was in them is reaped as usual.
    pub groups_to_kill: Vec<crate::probe::Leftovers>,
}

/// Backoff before the first restart.
pub const BACKOFF_START: Duration = Duration::from_millis(100);
/// Longest backoff.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A service that stayed up this long starts again from `BACKOFF_START`.
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(10);
/// At most this many restarts within `RESTART_WINDOW`; one more and it is `failed`.
pub const RESTART_LIMIT: usize = 5;
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// The next backoff: double the previous, capped; back to the start after a long run.
pub fn next_backoff(previous: Option<Duration>, uptime: Duration) -> Duration {
    match previous {
        Some(prev) if uptime < BACKOFF_RESET_AFTER => (prev * 2).min(BACKOFF_MAX),
        _ => BACKOFF_START,
    }
}

/// Whether a restart at `now` stays within the limit, given earlier restart times
/// (older ones are dropped from `history`).
pub fn within_limit(history: &mut VecDeque<Instant>, now: Instant) -> bool {
    while history
        .front()
        .is_some_and(|t| now.duration_since(*t) >= RESTART_WINDOW)
    {
        history.pop_front();
    }
    history.len() < RESTART_LIMIT
}

/// Should a service that ended with `status` be restarted by its policy?
pub fn wants_restart(policy: Restart, success: bool) -> bool {
    match policy {
        Restart::Never => false,
        Restart::OnFailure => !success,
        Restart::Always => true,
    }
}

/// A service as the supervisor tracks it.
/// What a service needs at run time besides its state.
#[derive(Debug, Default)]
pub struct Run {
    pub log: Option<LogPipe>,
    pub check: Option<Check>,
    /// Its health checks, while it runs.
    pub health: Option<Health>,
    /// When its sd_notify watchdog runs out without a `WATCHDOG=1`, while it runs.
    pub watchdog_at: Option<Instant>,
    pub creds: Option<Credentials>,
    /// Why this service cannot start at all (user/group under a non-root rinit).
    pub refusal: Option<String>,
    /// Its cgroup, where rinit tracks services in cgroups (made at its first start).
    pub group: Option<crate::cgroup::Group>,
    /// Its group's `.probe` sub-group, where its exec checks run (with `group`, if it
    /// has an exec readiness or health check).
    pub probe_group: crate::probe::ProbeGroup,
    /// This run's child joins `group` after fork rather than being cloned into it: the
    /// group could not be made afresh (see `Spawn::join_after_fork`).
    pub join_after_fork: bool,
    /// Check commands dropped while they ran (the service stopped, failed or resumed)
    /// and killed, until rinit reaps them.
    pub dropped_checks: Vec<i32>,
    /// Its group's OOM kills when this run began, plus those its checks took.
    pub oom_kills_at_start: u64,
    /// Its group's OOM kills when its last check command was reaped.
    pub oom_kills_at_last_check: u64,
    /// The pid rinit forked for this run, until rinit reaps it.
    pub child: Option<i32>,
}

impl Run {
    /// The log pipe and credentials a service needs; errors name the service.
    pub fn prepare(cfg: &ServiceConfig) -> Result<Run, String> {
        let mut run = Run::default();
        let rotated = match (&cfg.log, cfg.log_max_size) {
            (LogTarget::File(path), Some(max)) => Some(RotatingFile::new(path, max, cfg.log_keep)),
            _ => None,
        };
        if cfg.log == LogTarget::Prefix || rotated.is_some() {
            let pipe = LogPipe::new(&cfg.name, cfg.log_buffer, cfg.log_timestamps);
            let mut pipe = pipe.map_err(|e| format!("{}: pipe: {e}", cfg.name))?;
            pipe.file = rotated;
            run.log = Some(pipe);
        }
        let creds = match (&cfg.user, &cfg.group) {
            (Some(user), group) => Some(users::resolve(user, group.as_deref())),
            (None, Some(group)) => {
                let uid = nix::unistd::getuid().to_string();
                Some(users::resolve(&uid, Some(group)))
            }
            (None, None) => None,
        };
        run.creds = creds
            .transpose()
            .map_err(|e| format!("{}: {e}", cfg.name))?;
        if let Some(c) = &run.creds {
            match users::switch_needs_root(c, cfg) {
                Some(refusal) => run.refusal = Some(refusal),
                // Already that user and group: nothing to switch.
                None if !users::is_root() => run.creds = None,
                None => {}
            }
        }
        Ok(run)
    }
}

#[derive(Debug)]
pub struct Service {
    pub cfg: ServiceConfig,
    /// What it needs at run time: its log pipe, readiness probe, credentials.
    pub run: Run,
    state: State,
    /// The main process while it runs (its pid is also its session id).
    pub pid: Option<i32>,
    /// The session of the latest run, kept after the main exits to find leftovers.
    pub session: Option<i32>,
    pub started_at: Option<Instant>,
    pub restarts: u32,
    pub restart_history: VecDeque<Instant>,
    pub backoff: Option<Duration>,
    /// When the backoff ends, or the readiness deadline while starting.
    pub timer: Option<Instant>,
    pub last_exit: Option<ExitStatus>,
    /// Why it failed or is blocked.
    pub reason: Option<String>,
    /// What the health checks of the last run said, once it ended.
    pub last_health: Option<HealthStatus>,
    /// What it said with `ERRNO=`/`EXIT_STATUS=` before its last exit.
    pub last_exit_note: Option<String>,
    /// What it said on the notify socket this run: `STATUS=`, `RELOADING=1` or
    /// `STOPPING=1` (until `READY=1`), `ERRNO=`/`EXIT_STATUS=`.
    pub notified: Notified,
}

/// What a service told rinit over sd_notify during its current run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Notified {
    pub status: Option<String>,
    /// `reloading` or `stopping`.
    pub phase: Option<&'static str>,
    /// `ERRNO=` / `EXIT_STATUS=`, shown with its last exit.
    pub failure: Option<String>,
}

impl Service {
    pub fn new(cfg: ServiceConfig, run: Run) -> Service {
        let enabled = cfg.enabled;
        Service {
            cfg,
            run,
            state: if enabled {
                State::Waiting
            } else {
                State::Disabled
            },
            pid: None,
            session: None,
            started_at: None,
            restarts: 0,
            restart_history: VecDeque::new(),
            backoff: None,
            timer: None,
            last_exit: None,
            reason: None,
            last_health: None,
            notified: Notified::default(),
            last_exit_note: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Take `event` at `now`: move to the state the table says and perform its actions,
    /// or refuse it and change nothing.
    pub fn on(&mut self, event: Event, now: Instant) -> Result<Taken, String> {
        let from = self.state;
        let Some((to, actions)) = lookup(from, event) else {
            return Err(format!("{}: {from} does not take {event}", self.name()));
        };
        if to != from {
            log::debug!("{}: {from} -> {to}", self.name());
        }
        self.state = to;
        let mut taken = Taken {
            state: to,
            groups_to_kill: Vec::new(),
        };
        for action in actions {
            match action {
                Action::BeginRun => self.begin_run(now),
                Action::EndProbe => {
                    self.timer = None;
                    let pid = self.run.check.take().and_then(|c| c.probe_leftovers());
                    taken.groups_to_kill.extend(pid);
                }
                Action::ArmHealth => {
                    let started = self.started_at.unwrap_or(now);
                    self.run.health = (self.cfg.health.as_ref()).map(|probe| {
                        let group = self.run.probe_group.clone();
                        Health::new(&self.cfg, probe, started, now, group)
                    });
                    self.run.watchdog_at = self.cfg.watchdog.and_then(|d| now.checked_add(d));
                }
                Action::EndHealth => {
                    self.run.watchdog_at = None;
                    if let Some(health) = self.run.health.take() {
                        taken.groups_to_kill.extend(health.attempt_leftovers());
                        self.last_health = Some(health.status());
                    }
                }
                Action::ArmBackoff => self.arm_backoff(now),
                Action::ResumeChecks => {
                    if self.run.watchdog_at.is_some() {
                        self.run.watchdog_at = self.cfg.watchdog.and_then(|d| now.checked_add(d));
                    }
                    let pid = self.run.health.as_mut().and_then(|h| h.resume(now));
                    taken.groups_to_kill.extend(pid);
                }
                Action::ClearTimer => self.timer = None,
            }
        }
        Ok(taken)
    }

    fn begin_run(&mut self, now: Instant) {
        self.started_at = Some(now);
        self.reason = None;
        self.notified = Notified::default();
        let group = &self.run.probe_group;
        self.run.check = (self.cfg.ready.as_ref()).map(|r| Check::new(r, now, group.clone()));
        self.timer = self
            .run
            .check
            .as_ref()
            .and_then(|_| now.checked_add(self.cfg.ready_timeout));
    }

    fn arm_backoff(&mut self, now: Instant) {
        let uptime = self
            .started_at
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        let delay = next_backoff(self.backoff, uptime);
        self.backoff = Some(delay);
        self.restarts += 1;
        self.restart_history.push_back(now);
        self.timer = now.checked_add(delay);
    }

    /// What its health checks say (services with `health` only): this run's, or the last
    /// run's until the checks begin again.
    pub fn health_status(&self) -> Option<HealthStatus> {
        self.cfg.health.as_ref()?;
        match &self.run.health {
            Some(h) => Some(h.status()),
            None => self.last_health.clone(),
        }
    }

    /// Does `status` count as success for this service?
    pub fn is_success(&self, status: ExitStatus) -> bool {
        match status {
            ExitStatus::Code(c) => self.cfg.success_codes.contains(&c),
            ExitStatus::Signal(_) => false,
        }
    }

    /// Why this service keeps the container from being healthy (`ctl health`), or None:
    /// running and ready, a oneshot that succeeded, or deliberately stopped or paused.
    pub fn health_problem(&self) -> Option<String> {
        let why = |what: &str| match &self.reason {
            Some(r) if !r.is_empty() => format!("{} {what} ({r})", self.name()),
            _ => format!("{} {what}", self.name()),
        };
        if let Some(h) = self.run.health.as_ref() {
            if h.verdict == Verdict::Unhealthy {
                let reason = h.last_failure.as_deref().unwrap_or("health check failed");
                return Some(format!("{} unhealthy ({reason})", self.name()));
            }
        }
        match self.state {
            State::Running | State::Stopped | State::Paused | State::Disabled => None,
            // A oneshot that succeeded did its job; a daemon that exited is not running.
            State::Exited if self.cfg.oneshot => None,
            State::Exited => Some(format!("{} exited", self.name())),
            State::Waiting | State::Starting => Some(format!("{} starting", self.name())),
            State::Backoff => Some(match self.last_exit {
                Some(status) => format!("{} restarting (last exit: {status})", self.name()),
                None => format!("{} restarting", self.name()),
            }),
            State::Failed => Some(why("failed")),
            State::Blocked => Some(format!("{} blocked", self.name())),
            State::Stopping => Some(format!("{} stopping", self.name())),
        }
    }

    /// Has this service done what its dependents wait for?
    pub fn satisfies_dependents(&self) -> bool {
        matches!(self.state, State::Running | State::Exited)
            || (self.state == State::Paused && !self.cfg.oneshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_allows_the_documented_life() {
        use State::*;
        for (a, b) in [
            (Waiting, Starting),
            (Starting, Running),
            (Running, Backoff),
            (Backoff, Starting),
            (Running, Exited),
            (Starting, Failed),
            (Waiting, Blocked),
            (Running, Paused),
            (Paused, Running),
            (Running, Stopping),
            (Stopping, Stopped),
            (Stopped, Waiting),
        ] {
            assert!(allowed(a, b), "{a} -> {b}");
        }
        for (a, b) in [
            (Stopping, Starting),
            (Stopping, Running),
            (Waiting, Running),
            (Exited, Running),
            (Blocked, Starting),
            (Stopped, Running),
        ] {
            assert!(!allowed(a, b), "{a} -> {b} must be refused");
        }
    }

    #[test]
    fn events_lead_where_the_table_says() {
        use Event::*;
        use State::*;
        assert_eq!(next(Waiting, Start), Some(Starting));
        assert_eq!(next(Paused, ResumeStarting), Some(Starting));
        assert_eq!(next(Stopping, Stop), Some(Stopping), "idempotent");
        assert_eq!(next(Stopping, Start), None);
        assert_eq!(next(Exited, Ready), None);
        let mut svc = service(None);
        let now = Instant::now();
        assert_eq!(svc.on(Start, now).map(|t| t.state), Ok(Starting));
        assert_eq!(svc.on(Ready, now).map(|t| t.state), Ok(Running));
        let refused = svc.on(Reset, now).unwrap_err();
        assert!(refused.contains("running does not take Reset"), "{refused}");
        assert_eq!(svc.state(), Running, "a refused event changes nothing");
    }

    fn service(ready: Option<crate::config::Ready>) -> Service {
        let mut cfg = ServiceConfig::new("a", crate::config::Origin::command_line());
        cfg.ready = ready;
        cfg.ready_timeout = Duration::from_secs(5);
        Service::new(cfg, Run::default())
    }

    #[test]
    fn a_run_arms_the_probe_and_its_deadline_and_readiness_drops_them() {
        use Event::*;
        let t0 = Instant::now();
        let mut svc = service(Some(crate::config::Ready::Notify));
        svc.reason = Some("earlier failure".into());
        svc.on(Start, t0).unwrap();
        assert!(svc.run.check.is_some());
        assert_eq!(svc.timer, Some(t0 + Duration::from_secs(5)));
        assert_eq!((svc.started_at, svc.reason.as_deref()), (Some(t0), None));
        // Paused while starting: the probe waits with it.
        svc.on(Pause, t0).unwrap();
        assert!(svc.run.check.is_some() && svc.timer.is_some());
        svc.on(ResumeStarting, t0).unwrap();
        let taken = svc.on(Ready, t0).unwrap();
        assert!(taken.groups_to_kill.is_empty());
        assert!(svc.run.check.is_none() && svc.timer.is_none());
    }

    #[test]
    fn a_restart_doubles_the_backoff_and_counts_it() {
        use Event::*;
        let t0 = Instant::now();
        let mut svc = service(None);
        svc.on(Start, t0).unwrap();
        svc.on(Restart, t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(svc.state(), State::Backoff);
        assert_eq!(svc.backoff, Some(BACKOFF_START));
        assert_eq!(svc.timer, Some(t0 + Duration::from_secs(1) + BACKOFF_START));
        let t1 = t0 + Duration::from_secs(2);
        svc.on(Start, t1).unwrap();
        svc.on(Restart, t1).unwrap();
        assert_eq!(svc.backoff, Some(BACKOFF_START * 2));
        assert_eq!((svc.restarts, svc.restart_history.len()), (2, 2));
        // Stopped while backing off: no timer is left to wake rinit.
        svc.on(Cancel, t1).unwrap();
        assert_eq!((svc.state(), svc.timer), (State::Stopped, None));
    }

    #[test]
    fn every_way_out_of_starting_ends_the_probe() {
        use Event::*;
        for event in [Ready, Finish, Fail, Restart, Stop] {
            let mut svc = service(Some(crate::config::Ready::Notify));
            let t0 = Instant::now();
            svc.on(Start, t0).unwrap();
            svc.on(event, t0).unwrap();
            assert!(svc.run.check.is_none(), "{event}: probe left");
            if event != Restart {
                assert_eq!(svc.timer, None, "{event}: deadline left");
            }
        }
    }

    #[test]
    fn every_state_has_a_row() {
        use State::*;
        for s in [
            Waiting, Starting, Running, Backoff, Exited, Failed, Blocked, Paused, Stopping,
            Stopped, Disabled,
        ] {
            assert!(TRANSITIONS.iter().any(|(f, _)| *f == s), "{s}");
        }
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let short = Duration::from_millis(50);
        let mut b = next_backoff(None, short);
        assert_eq!(b, BACKOFF_START);
        let mut seen = vec![b];
        for _ in 0..12 {
            b = next_backoff(Some(b), short);
            seen.push(b);
        }
        assert_eq!(seen.get(1), Some(&Duration::from_millis(200)));
        assert_eq!(seen.get(2), Some(&Duration::from_millis(400)));
        assert_eq!(seen.last(), Some(&BACKOFF_MAX));
        assert_eq!(
            next_backoff(Some(BACKOFF_MAX), BACKOFF_RESET_AFTER),
            BACKOFF_START
        );
    }

    #[test]
    fn restart_limit_counts_a_sliding_window() {
        let t0 = Instant::now();
        let mut h = VecDeque::new();
        for i in 0..RESTART_LIMIT {
            assert!(within_limit(&mut h, t0 + Duration::from_secs(i as u64)));
            h.push_back(t0 + Duration::from_secs(i as u64));
        }
        assert!(!within_limit(&mut h, t0 + Duration::from_secs(10)));
        assert!(within_limit(
            &mut h,
            t0 + RESTART_WINDOW + Duration::from_secs(1)
        ));
    }

    #[test]
    fn restart_policies() {
        assert!(!wants_restart(Restart::Never, false));
        assert!(wants_restart(Restart::OnFailure, false));
        assert!(!wants_restart(Restart::OnFailure, true));
        assert!(wants_restart(Restart::Always, true));
    }
}
