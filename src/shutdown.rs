//! The shutdown orchestrator (DESIGN §4): stages of group stops under one deadline.
//!
//! A shutdown is a queue of [`Stage`]s — waves of services in reverse dependency order,
//! then the final sweep of everything left in rinit's scope — run one after the other
//! under a global deadline of at most 30 s. Each stage is a set of [`GroupStop`]s that
//! run in parallel. A `GroupStop` waits out its `stop_delay`, runs `stop_exec` if any,
//! signals its processes deepest first (children before parents) as its `stop_mode`
//! says, follows with SIGCONT, re-scans on every event to catch processes forked
//! meanwhile, and escalates to SIGKILL when its own timeout expires. It is done the moment
//! none of its processes is alive: there are no fixed sleeps.
//!
//! The deadline arithmetic is pure ([`stop_deadline`], [`sweep_deadline`]); the supervisor
//! feeds every stop a fresh [`Snapshot`] and the current time.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};

use crate::cgroup::GroupFiles;
use crate::config::{PortSpec, StopMode};
use crate::pidfd::{self, Pidfd, Signaller};
use crate::pidhash::PidMap;
use crate::proctree::{self, Proc, Scope, Snapshot};
use crate::signals;
use crate::spawn::Spawn;
use crate::sweep::Targets;

/// Hard cap on a shutdown, from trigger to exit.
pub const MAX_SHUTDOWN: Duration = Duration::from_secs(30);
/// Default per-service stop timeout, and the sweep's grace.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The end of the shutdown reserved for SIGKILL, the sweep and verification.
pub const RESERVE: Duration = Duration::from_secs(2);
/// The end of the shutdown reserved for the sweep's SIGKILL and verification.
pub const SWEEP_RESERVE: Duration = Duration::from_secs(1);
/// Even a service stopped late gets this long between its stop signal and SIGKILL.
pub const MIN_GRACE: Duration = Duration::from_millis(100);
/// How long processes get to die after SIGKILL before a stop gives up on them (one in
/// uninterruptible sleep cannot die): the next wave must still get its stop signal.
pub const KILL_GRACE: Duration = Duration::from_millis(500);
/// First and longest delay between re-scans for processes rinit cannot watch through a
/// pidfd (more processes than the fd budget allows, or a kernel without pidfds) and for
/// a /proc scan that failed. This timer exists only in those cases.
pub const RECHECK_START: Duration = Duration::from_millis(10);
pub const RECHECK_MAX: Duration = Duration::from_millis(100);

/// The delay before re-check number `n` (0-based) without progress. Pure.
pub fn recheck_delay(n: u32) -> Duration {
    RECHECK_START
        .saturating_mul(1u32.checked_shl(n.min(8)).unwrap_or(u32::MAX))
        .min(RECHECK_MAX)
}

/// When a service's stop escalates to SIGKILL: after its own timeout, but no later than
/// `RESERVE` before the global deadline — except that a service reached late still gets
/// `MIN_GRACE` to act on its stop signal, within `SWEEP_RESERVE` of the deadline.
pub fn stop_deadline(now: Instant, timeout: Duration, deadline: Instant) -> Instant {
    let reserve_start = deadline.checked_sub(RESERVE).unwrap_or(now);
    let sweep_start = deadline.checked_sub(SWEEP_RESERVE).unwrap_or(now);
    let latest = reserve_start.max(now + MIN_GRACE).min(sweep_start).max(now);
    (now + timeout).min(latest)
}

/// When the final sweep escalates to SIGKILL: a default stop timeout's grace for
/// processes that never had a stop signal, but no later than `SWEEP_RESERVE` before the
/// deadline (and at least `MIN_GRACE`, within the deadline).
pub fn sweep_deadline(now: Instant, deadline: Instant) -> Instant {
    let sweep_start = deadline.checked_sub(SWEEP_RESERVE).unwrap_or(now);
    let latest = sweep_start.max(now + MIN_GRACE).min(deadline).max(now);
    (now + DEFAULT_STOP_TIMEOUT).min(latest)
}

/// When a service's stop signal goes out: after its `stop_delay`, cut so that the signal
/// is sent no later than `RESERVE` before the deadline.
pub fn signal_time(now: Instant, delay: Duration, deadline: Instant) -> Instant {
    let latest = deadline.checked_sub(RESERVE).unwrap_or(now).max(now);
    (now + delay).min(latest)
}

/// Whose processes a group stop is aimed at.
#[derive(Clone, Debug)]
pub enum Target {
    /// A service: the processes of its cgroup where it has one, else its main process's
    /// descendants and every process in its session.
    Service {
        main_pid: Option<i32>,
        session: i32,
        mode: StopMode,
        cgroup: Option<PathBuf>,
    },
    /// Everything left in rinit's scope, with the ports and patterns that name targets.
    Sweep {
        scope: Scope,
        ports: Vec<PortSpec>,
        patterns: Vec<String>,
    },
}

/// What to stop and how, for one service.
pub struct StopSpec {
    pub name: String,
    pub target: Target,
    pub signal: i32,
    pub timeout: Duration,
    pub delay: Duration,
    /// Run instead of signalling the main process.
    pub stop_exec: Option<Spawn>,
    /// The cgroup's files its group keeps open (else the stop opens `cgroup.events`).
    pub files: Option<Rc<GroupFiles>>,
    /// The service is paused: its frozen group is thawed just before its signal.
    pub paused: bool,
}

/// One service's stop, and the stops that must be done before it begins: those of the
/// services that depend on it.
pub struct Pending {
    pub spec: StopSpec,
    pub after: Vec<String>,
}

/// One step of a shutdown.
pub enum Stage {
    /// Services, each stopped the moment the stops it waits for are done — the mirror of
    /// the start, where each starts the moment its dependencies are ready; no service
    /// waits for an unrelated one. The next stage begins when all are done.
    Services(Vec<Pending>),
    /// The final sweep of everything left in scope.
    Sweep(Target),
}

/// A process the sweep signalled, and why.
#[derive(Clone, Debug)]
pub struct SweepKill {
    pub pid: i32,
    pub command: String,
    pub reason: String,
}

/// The outcome of one group stop, for the report.
#[derive(Clone, Debug)]
pub struct StopReport {
    pub name: String,
    pub signal: i32,
    pub signalled: usize,
    pub took: Duration,
    pub killed: bool,
    pub sweep: Vec<SweepKill>,
}

/// A process a stop watches: its identity, and its pidfd when the budget allowed one.
#[derive(Debug)]
struct Tracked {
    starttime: u64,
    pidfd: Option<Pidfd>,
    /// rinit's own child: SIGCHLD reports its exit, no pidfd needed.
    child: bool,
}

impl Tracked {
    /// Neither a pidfd nor SIGCHLD tells rinit when it exits: re-checks must.
    fn unwatched(&self) -> bool {
        self.pidfd.is_none() && !self.child
    }
}

/// Re-scans for processes that no pidfd watches: when, and how many came without news.
#[derive(Debug, Default)]
struct Recheck {
    at: Option<Instant>,
    idle_rounds: u32,
    alive: usize,
    /// A signal could not be sent for lack of fds: it is retried on the re-check.
    pending: bool,
}

impl Recheck {
    /// After an advance: `alive` members, `unwatched` of them without a pidfd.
    fn update(&mut self, alive: usize, unwatched: usize, now: Instant) {
        let unwatched = unwatched + usize::from(std::mem::take(&mut self.pending));
        if unwatched == 0 {
            *self = Recheck::default();
            return;
        }
        if self.at.is_none() || alive < self.alive {
            self.idle_rounds = 0;
        } else {
            self.idle_rounds = self.idle_rounds.saturating_add(1);
        }
        self.alive = alive;
        self.at = Some(now + recheck_delay(self.idle_rounds));
    }
}

/// Stopping one group of processes.
pub struct GroupStop {
    name: String,
    target: Target,
    signal: i32,
    begun: Instant,
    signal_at: Instant,
    kill_at: Instant,
    stop_exec: Option<Spawn>,
    stop_exec_pid: Option<i32>,
    /// The signal time has come.
    active: bool,
    killed: bool,
    finished: Option<Instant>,
    tracked: PidMap<Tracked>,
    signalled: usize,
    sweep_targets: Option<Targets>,
    sweep: Vec<SweepKill>,
    recheck: Recheck,
    /// The service's `cgroup.events`, polled for "empty" (and read again each round,
    /// which re-arms the poll), and its `cgroup.procs`; let go when the stop is done.
    files: Option<Rc<GroupFiles>>,
    /// Thaw the group before the stop signal (a paused service).
    thaw_first: bool,
    /// How many processes its cgroup held at the last look (0 without a cgroup).
    in_group: usize,
    /// Its cgroup's members as read in this round (one read of cgroup.procs serves the
    /// emptiness check, the table and the signals); cleared when a round begins.
    listed: Option<Vec<i32>>,
}

impl GroupStop {
    pub fn new(spec: StopSpec, now: Instant, signal_at: Instant, kill_at: Instant) -> GroupStop {
        GroupStop {
            name: spec.name,
            target: spec.target,
            signal: spec.signal,
            begun: now,
            signal_at,
            kill_at,
            stop_exec: spec.stop_exec,
            stop_exec_pid: None,
            active: false,
            killed: false,
            finished: None,
            tracked: PidMap::default(),
            signalled: 0,
            sweep_targets: None,
            sweep: Vec::new(),
            recheck: Recheck::default(),
            files: spec.files,
            thaw_first: spec.paused,
            in_group: 0,
            listed: None,
        }
        .with_events()
    }

    /// Open the cgroup's `cgroup.events` to poll, if the target has a cgroup and the
    /// spec brought no open one.
    fn with_events(mut self) -> GroupStop {
        if let Target::Service {
            cgroup: Some(dir), ..
        } = &self.target
        {
            if self.files.is_none() {
                self.files = GroupFiles::events_only(dir).ok().map(Rc::new);
            }
        }
        self
    }

    /// The cgroup's `cgroup.events` fd, to poll with POLLPRI once the stop signal has
    /// gone out (it is read, which re-arms it, only from then on: its first poll may
    /// wake once for what the group did since the service started).
    pub fn event_fd(&self) -> Option<BorrowedFd<'_>> {
        let files = self.files.as_ref().filter(|_| self.active);
        files.map(|f| f.events.as_fd())
    }

    /// Read `cgroup.events` again (one pread), which re-arms its poll: (populated,
    /// frozen). A file that cannot be read (its group was removed and made again from
    /// outside: ENODEV) is let go, with the rest of the kept files — polled, it would
    /// wake the loop again and again — and the stop goes on by path and /proc.
    fn read_events(&mut self) -> (Option<bool>, bool) {
        let Some(files) = &self.files else {
            return (None, false);
        };
        let mut buf = [0u8; 128];
        match nix::sys::uio::pread(&files.events, &mut buf, 0) {
            Ok(n) => {
                let text = String::from_utf8_lossy(buf.get(..n).unwrap_or_default());
                let populated = crate::cgroup::keyed(&text, "populated").map(|n| n != 0);
                let frozen = crate::cgroup::keyed(&text, "frozen").unwrap_or(0) != 0;
                (populated, frozen)
            }
            Err(e) => {
                debug!("{}: cgroup.events: {e}; not watched any more", self.name);
                self.files = None;
                (None, false)
            }
        }
    }

    /// `cgroup.freeze` 0: a frozen process acts on no signal.
    fn thaw(&self) {
        if let Some(dir) = self.cgroup() {
            if let Err(e) = std::fs::write(dir.join("cgroup.freeze"), "0") {
                debug!("{}: cgroup.freeze: {e}", self.name);
            }
        }
    }

    /// `cgroup.kill`: the whole group at once, forks of this very moment too.
    fn kill_group(&self) {
        if let Some(dir) = self.cgroup() {
            if let Err(e) = std::fs::write(dir.join("cgroup.kill"), "1") {
                debug!("{}: cgroup.kill: {e}", self.name);
            }
        }
    }

    /// Done: nothing left (a stop_exec still running is killed).
    fn finish(&mut self, now: Instant) {
        self.kill_stop_exec();
        self.give_up(now);
    }

    /// Done, whatever is left: nothing more is tracked, watched or kept open.
    fn give_up(&mut self, now: Instant) {
        self.finished = Some(now);
        self.tracked.clear();
        self.recheck = Recheck::default();
        self.files = None;
    }

    /// With a cgroup, an empty group is a finished stop, known without a /proc scan
    /// (once the stop is under way: its first round needs the table anyway).
    fn finish_if_group_empty(&mut self, now: Instant) {
        if self.is_done() || !self.active {
            return;
        }
        // Re-armed every round, even one whose scan fails: a raised cgroup.events left
        // unread would make poll(2) return at once, again and again.
        let (populated, frozen) = self.read_events();
        if frozen && !self.killed {
            // Frozen from outside while it stops: thawed, it can act on its signal.
            self.thaw();
        }
        // A child of rinit's leaves its group when it exits, before rinit can reap it:
        // until then the table, which holds it, decides (its exit is handled, and
        // logged, before the stops waiting for this one begin).
        let child_unreaped = self.tracked_children().next().is_some();
        if populated == Some(false) {
            // No process in the group or below it: `cgroup.procs` need not be read.
            match child_unreaped {
                true => self.listed = Some(Vec::new()),
                false => self.finish(now),
            }
            return;
        }
        let Some(Ok(members)) = self.group_members() else {
            return;
        };
        if members.is_empty() && !child_unreaped {
            self.active = true;
            self.finish(now);
        } else {
            self.listed = Some(members);
        }
    }

    /// SIGKILL goes out now: the grace for the kernel to end what it killed counts from
    /// this moment, not from the planned kill time (a late round, on a loaded machine,
    /// would otherwise give up on processes killed a moment ago).
    fn mark_killed(&mut self, now: Instant) {
        self.killed = true;
        self.kill_at = self.kill_at.max(now);
    }

    /// The processes of its cgroup and the groups below (None: it has no cgroup).
    fn group_members(&self) -> Option<io::Result<Vec<i32>>> {
        self.cgroup()
            .map(|dir| crate::cgroup::members_with(dir, self.files.as_deref()))
    }

    /// The target's cgroup directory, if it has one.
    fn cgroup(&self) -> Option<&Path> {
        match &self.target {
            Target::Service { cgroup, .. } => cgroup.as_deref(),
            Target::Sweep { .. } => None,
        }
    }

    pub fn is_done(&self) -> bool {
        self.finished.is_some()
    }

    /// Its signal is out and every process it watches is one of rinit's own children,
    /// whose exits SIGCHLD reports.
    fn waits_only_for_children(&self) -> bool {
        self.active && !self.tracked.is_empty() && self.tracked.values().all(|t| t.child)
    }

    /// The moment this stop needs attention without any event.
    pub fn next_deadline(&self) -> Option<Instant> {
        let own = if self.is_done() {
            return None;
        } else if self.killed {
            self.kill_at + KILL_GRACE
        } else if self.active {
            self.kill_at
        } else {
            return Some(self.signal_at);
        };
        Some(self.recheck.at.map_or(own, |at| at.min(own)))
    }

    /// The members of this group in `snap`, deepest first. With a cgroup they are its
    /// processes (and `in_group` says how many it has, in `snap` or not yet).
    fn members(&mut self, snap: &Snapshot, me: i32) -> Vec<i32> {
        let listed = self.listed.take();
        let in_cgroup = match listed {
            Some(pids) => self.cgroup().map(|_| Ok(pids)),
            None => self.group_members(),
        };
        let mut members = match (&self.target, in_cgroup) {
            (Target::Service { .. }, Some(Ok(mut pids))) => {
                // Never rinit itself, whatever the group holds.
                pids.retain(|p| *p != me);
                self.in_group = pids.len();
                // rinit's children that exited have left the group but count until
                // reaped: the table holds them until then.
                let held: Vec<i32> = self
                    .held_children()
                    .filter(|p| !pids.contains(p) && self.still_own_child(snap, *p, me))
                    .collect();
                let known: Vec<i32> = pids
                    .into_iter()
                    .filter(|p| snap.get(*p).is_some())
                    .chain(held)
                    .collect();
                snap.deepest_first(known)
            }
            (
                Target::Service {
                    main_pid, session, ..
                },
                _,
            ) => {
                self.in_group = 0;
                snap.service_members(*main_pid, *session, me)
            }
            (Target::Sweep { scope, .. }, _) => snap.in_scope(*scope, me),
        };
        // A running stop_exec is not one of the processes being stopped.
        members.retain(|pid| Some(*pid) != self.stop_exec_pid);
        members
    }

    /// rinit's children this stop holds on to when its cgroup no longer lists them (one
    /// that exited has left its group, and counts until rinit has reaped it): those it
    /// tracks, and its main process.
    fn held_children(&self) -> impl Iterator<Item = i32> + '_ {
        let main = match &self.target {
            Target::Service { main_pid, .. } => *main_pid,
            Target::Sweep { .. } => None,
        };
        let main = main.filter(|m| !self.tracked.contains_key(m));
        self.tracked_children().chain(main)
    }

    /// The processes it tracks that are rinit's children.
    fn tracked_children(&self) -> impl Iterator<Item = i32> + '_ {
        let children = self.tracked.iter().filter(|(_, t)| t.child);
        children.map(|(pid, _)| *pid)
    }

    /// `pid` is still, in `snap`, the child of rinit's this stop knew (not reaped, and
    /// not a new process that got its pid).
    fn still_own_child(&self, snap: &Snapshot, pid: i32, me: i32) -> bool {
        let same = |p: &Proc| {
            self.tracked
                .get(&pid)
                .is_none_or(|t| t.starttime == p.starttime)
        };
        snap.get(pid).is_some_and(|p| p.ppid == me && same(p))
    }

    /// Does `p` get the stop signal (as opposed to being only watched)?
    fn gets_stop_signal(&self, p: &Proc) -> bool {
        match &self.target {
            Target::Sweep { .. } => true,
            Target::Service {
                main_pid,
                session,
                mode,
                ..
            } => {
                let is_main = Some(p.pid) == *main_pid;
                if is_main && self.stop_exec_pid.is_some() {
                    return false;
                }
                match mode {
                    StopMode::Tree => true,
                    StopMode::Group => p.pgrp == *session,
                    StopMode::Main => is_main,
                }
            }
        }
    }

    /// Bring the stop up to date with the process table: run stop_exec and signal at the
    /// signal time, escalate at the kill time, signal members not yet signalled (new
    /// forks included), and finish when nobody is left alive.
    pub fn advance(&mut self, snap: &Snapshot, me: i32, now: Instant, sys: &mut dyn Signaller) {
        if self.is_done() || now < self.signal_at {
            return;
        }
        if !self.active && std::mem::take(&mut self.thaw_first) {
            // A paused (frozen) service would never act on its signal: thaw it first.
            self.thaw();
        }
        self.active = true;
        if matches!(self.target, Target::Sweep { .. }) && self.sweep_targets.is_none() {
            self.sweep_targets = Some(self.sweep_targeting());
        }
        let members = self.members(snap, me);
        // rinit's own zombie children count until rinit has reaped them (their SIGCHLD is
        // already queued), so a service's exit is handled — and logged — before the
        // next wave gets its signal.
        let alive: Vec<&Proc> = members
            .iter()
            .filter_map(|pid| snap.get(*pid))
            .filter(|p| !p.is_dead() || p.ppid == me)
            .collect();
        self.tracked.retain(|pid, t| {
            alive
                .iter()
                .any(|p| p.pid == *pid && p.starttime == t.starttime)
        });
        if alive.is_empty() && self.in_group > 0 {
            // In the cgroup but not (alive) in the table: forked since the scan, or a
            // zombie leader whose threads still run. Look again soon; at the kill time
            // the whole group gets cgroup.kill, and after the grace the stop moves on.
            if self.killed && now >= self.kill_at + KILL_GRACE {
                warn!(
                    "{}: {} process(es) of its cgroup survived SIGKILL; moving on",
                    self.name, self.in_group
                );
                self.finish(now);
                return;
            }
            if !self.killed && now >= self.kill_at {
                self.mark_killed(now);
                self.kill_group();
            }
            self.recheck.update(self.in_group, self.in_group, now);
            return;
        }
        if alive.is_empty() {
            self.finish(now);
            return;
        }
        if self.killed && now >= self.kill_at + KILL_GRACE {
            for p in &alive {
                warn!(
                    "{}: pid {} ({}, state {}) survived SIGKILL; moving on",
                    self.name, p.pid, p.comm, p.state
                );
            }
            self.give_up(now);
            return;
        }
        if let Some(exec) = self.stop_exec.take() {
            self.run_stop_exec(&exec);
        }
        if !self.killed && now >= self.kill_at {
            self.mark_killed(now);
            warn!(
                "{}: {} process(es) left after {} ms; sending SIGKILL",
                self.name,
                alive.len(),
                now.duration_since(self.signal_at).as_millis()
            );
            self.kill_group();
            self.tracked.clear();
            self.kill_stop_exec();
        }
        let count = alive.len();
        // A process already exiting gets no signal (and is no sweep target): it is only
        // waited for, like the rest.
        let fresh: Vec<&Proc> = alive
            .into_iter()
            .filter(|p| !self.tracked.contains_key(&p.pid))
            .collect();
        self.signal_fresh(&fresh, me, sys);
        self.watch_unwatched(sys);
        let unwatched = self.tracked.values().filter(|t| t.unwatched()).count();
        self.recheck.update(count, unwatched, now);
    }

    /// Close every pidfd this stop holds; its processes are re-checked by scans instead.
    fn release_pidfds(&mut self) {
        for t in self.tracked.values_mut() {
            t.pidfd = None;
        }
    }

    /// Give tracked processes without a pidfd one, as far as the budget allows: their
    /// exits then wake rinit instead of a re-check timer.
    fn watch_unwatched(&mut self, sys: &mut dyn Signaller) {
        for (pid, t) in self.tracked.iter_mut().filter(|(_, t)| t.unwatched()) {
            if !sys.may_hold() {
                return;
            }
            if let Ok(fd) = sys.watch(*pid, t.starttime) {
                t.pidfd = fd;
            }
        }
    }

    fn signal_fresh(&mut self, fresh: &[&Proc], me: i32, sys: &mut dyn Signaller) {
        let sig = if self.killed {
            libc::SIGKILL
        } else {
            self.signal
        };
        let mut to_continue = Vec::new();
        for p in fresh {
            let signal =
                !p.is_exiting() && !p.is_dead() && (self.killed || self.gets_stop_signal(p));
            if signal && self.signalled == 0 {
                info!("stopping {} with {}", self.name, signals::name(sig));
            }
            let pidfd = if signal {
                // Why the sweep takes it, read while its command line is still there.
                self.note_sweep_kill(p);
                match send(sys, p, me, sig, &self.name) {
                    Sent::Gone => continue,
                    // Not tracked, so the next round (a re-check) tries it again.
                    Sent::Later => {
                        self.recheck.pending = true;
                        continue;
                    }
                    Sent::Signalled(fd) => {
                        self.signalled += 1;
                        if !self.killed && p.may_be_stopped() {
                            to_continue.push((p.pid, p.starttime));
                        }
                        fd
                    }
                }
            } else if p.ppid == me {
                None
            } else {
                match sys.watch(p.pid, p.starttime) {
                    Ok(fd) => fd,
                    Err(_) => continue,
                }
            };
            self.tracked.insert(
                p.pid,
                Tracked {
                    starttime: p.starttime,
                    pidfd,
                    child: p.ppid == me,
                },
            );
        }
        // SIGCONT after the stop signal, so a stopped process can act on it (one stopped
        // after the scan is not continued: SIGKILL at the timeout still ends it).
        for (pid, starttime) in to_continue {
            let _ = match self.tracked.get(&pid) {
                Some(Tracked { child: true, .. }) => sys.signal_child(pid, libc::SIGCONT),
                Some(Tracked {
                    pidfd: Some(fd), ..
                }) => fd.signal(libc::SIGCONT),
                _ => sys.signal(pid, starttime, libc::SIGCONT, false).map(drop),
            };
        }
    }

    fn note_sweep_kill(&mut self, p: &Proc) {
        let Some(targets) = &self.sweep_targets else {
            return;
        };
        if self.sweep.iter().any(|k| k.pid == p.pid) {
            return;
        }
        let reason = targets
            .reason(p.pid)
            .unwrap_or_else(|| "left over".to_string());
        let command = match proctree::cmdline(p.pid) {
            c if c.is_empty() => p.comm.clone(),
            c => c,
        };
        info!("sweep: pid {} ({command}): {reason}", p.pid);
        self.sweep.push(SweepKill {
            pid: p.pid,
            command,
            reason,
        });
    }

    /// Prepare the sweep's port and pattern lookups. As a subreaper, rinit does not even
    /// read the processes outside its scope: a command line read from a process stuck in
    /// uninterruptible sleep can block, and those processes are never signalled anyway.
    fn sweep_targeting(&self) -> Targets {
        let Target::Sweep {
            scope,
            ports,
            patterns,
        } = &self.target
        else {
            return Targets::new(&[], &[]);
        };
        let targets = Targets::new(ports, patterns);
        if *scope == Scope::Descendants && !targets.is_empty() {
            info!(
                "sweep: ports and patterns are matched among rinit's descendants only; \
                 processes outside rinit's scope are neither read nor signalled"
            );
        }
        targets
    }

    fn run_stop_exec(&mut self, exec: &Spawn) {
        match exec.spawn() {
            Ok(pid) => {
                info!("{}: running stop_exec (pid {pid})", self.name);
                self.stop_exec_pid = Some(pid);
            }
            Err(e) => warn!("{}: cannot run stop_exec: {e}", self.name),
        }
    }

    fn kill_stop_exec(&mut self) {
        if let Some(pid) = self.stop_exec_pid.take() {
            // Only while it is still rinit's child: once reaped, its pid could be anyone's.
            if proctree::read_proc(pid).is_some_and(|p| p.ppid == std::process::id() as i32) {
                let _ = crate::process::signal_child(pid, libc::SIGKILL);
            }
        }
    }

    /// The pidfds to wait on: any of them becoming readable means a member exited.
    pub fn pidfds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.tracked
            .values()
            .filter_map(|t| t.pidfd.as_ref().map(|f| f.as_fd()))
    }

    pub fn report(&self, now: Instant) -> StopReport {
        StopReport {
            name: self.name.clone(),
            signal: self.signal,
            signalled: self.signalled,
            took: self.finished.unwrap_or(now).duration_since(self.begun),
            killed: self.killed,
            sweep: self.sweep.clone(),
        }
    }
}

/// What became of a signal to a process from the snapshot.
enum Sent {
    /// It had exited (or its pid names another process now).
    Gone,
    /// The system ran short (no fd to check it with): try again on the next round.
    Later,
    /// Sent (or the attempt failed and was logged); the pidfd to wait on, if held.
    Signalled(Option<Pidfd>),
}

/// Signal one process, checked against its start time (rinit's own children need no
/// check); a failure is logged, never fatal. The pidfd is kept only while the fd budget
/// allows.
fn send(sys: &mut dyn Signaller, p: &Proc, me: i32, sig: i32, who: &str) -> Sent {
    debug!(
        "{who}: {} -> pid {} ({})",
        signals::name(sig),
        p.pid,
        p.comm
    );
    let sent = if p.ppid == me {
        sys.signal_child(p.pid, sig).map(|()| None)
    } else {
        let keep = sys.may_hold();
        sys.signal(p.pid, p.starttime, sig, keep)
    };
    match sent {
        Ok(fd) => Sent::Signalled(fd),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Sent::Gone,
        Err(e) if pidfd::is_shortage(&e) => {
            debug!("{who}: no fd to signal pid {} now: {e}; later", p.pid);
            Sent::Later
        }
        Err(e) => {
            warn!(
                "{who}: cannot send {} to pid {}: {e}",
                signals::name(sig),
                p.pid
            );
            Sent::Signalled(None)
        }
    }
}

/// A shutdown in progress.
pub struct Shutdown {
    pub t0: Instant,
    pub deadline: Instant,
    pub reason: String,
    stages: VecDeque<Stage>,
    /// The stops of the current stage that wait for others.
    waiting: Vec<Pending>,
    /// The stops of the current stage under way (or done).
    current: Vec<GroupStop>,
    reports: Vec<StopReport>,
    finished: bool,
    timed_out: bool,
    /// The last /proc scan failed: when to try again, and how many failed in a row.
    scan_retry: Option<(Instant, u32)>,
}

impl Shutdown {
    pub fn new(reason: String, t0: Instant, timeout: Duration, stages: Vec<Stage>) -> Shutdown {
        let deadline = t0 + timeout.min(MAX_SHUTDOWN);
        Shutdown {
            t0,
            deadline,
            reason,
            stages: stages.into(),
            waiting: Vec::new(),
            current: Vec::new(),
            reports: Vec::new(),
            finished: false,
            timed_out: false,
            scan_retry: None,
        }
    }

    /// `EXTEND_TIMEOUT_USEC`: the stop of service `name` under way escalates to SIGKILL
    /// no sooner than `more` from now, yet never past what the deadline allows.
    pub fn extend_stop(&mut self, name: &str, more: Duration, now: Instant) {
        let latest = stop_deadline(now, more, self.deadline);
        for stop in self
            .current
            .iter_mut()
            .filter(|s| s.name == name && !s.killed)
        {
            stop.kill_at = stop.kill_at.max(latest);
        }
    }

    /// The deadline ended the shutdown, so something may have survived.
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The nearest moment the shutdown must act without an event.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        if self.current.is_empty() {
            // Not begun yet: due at once.
            return Some(self.t0);
        }
        // After a failed scan the stops could not move: only the retry (or the deadline)
        // is due, not their stale timers.
        if let Some((at, _)) = self.scan_retry {
            return Some(at.min(self.deadline));
        }
        let stops = self.current.iter().filter_map(|s| s.next_deadline());
        Some(stops.fold(self.deadline, Instant::min))
    }

    pub fn pidfds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.current.iter().flat_map(|s| s.pidfds())
    }

    /// rinit is PID 1 of its namespace and has no child left, so no process is: every
    /// stop (begun or not) is done and there is nothing to sweep. Ends the shutdown
    /// without another /proc scan; the report lists each service.
    pub fn nothing_left(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        let mut pending = std::mem::take(&mut self.waiting);
        for stage in std::mem::take(&mut self.stages) {
            if let Stage::Services(list) = stage {
                pending.extend(list);
            }
        }
        for p in pending {
            self.current.push(GroupStop::new(p.spec, now, now, now));
        }
        for stop in &mut self.current {
            if !stop.is_done() {
                stop.finish(now);
            }
        }
        self.finish_current(now);
        self.finished = true;
    }

    /// No stop waits to begin, and those under way wait only for rinit's own children to
    /// exit: the moment to take a [`crate::census::Census`].
    pub fn waits_only_for_children(&self) -> bool {
        let mut under_way = self.current.iter().filter(|s| !s.is_done());
        !self.finished
            && self.waiting.is_empty()
            && under_way.all(GroupStop::waits_only_for_children)
    }

    /// The `cgroup.events` of the stops under way, to poll with POLLPRI.
    pub fn event_fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.current
            .iter()
            .filter(|s| !s.is_done())
            .filter_map(GroupStop::event_fd)
    }

    /// Drive the shutdown as far as it can go now. `scan` reads the process table; when
    /// it fails, nothing advances (a stop never ends on a table it could not read) and
    /// the scan is tried again after [`recheck_delay`].
    pub fn advance(
        &mut self,
        me: i32,
        now: Instant,
        scan: &mut dyn FnMut(Option<&[i32]>) -> io::Result<Snapshot>,
    ) {
        self.advance_with(me, now, scan, &mut pidfd::System);
    }

    /// [`Shutdown::advance`], signalling through `sys`. `scan(None)` reads the whole
    /// process table, `scan(Some(pids))` only those processes: when every stop under way
    /// has a cgroup, its members are all the table needs.
    pub fn advance_with(
        &mut self,
        me: i32,
        now: Instant,
        scan: &mut dyn FnMut(Option<&[i32]>) -> io::Result<Snapshot>,
        sys: &mut dyn Signaller,
    ) {
        // One scan per wakeup: a stage that ends lets the next begin on the same table,
        // except the sweep, which looks afresh (what the last wave killed may be gone),
        // and except after a table of some groups' members only (`partial`).
        let mut snap: Option<Snapshot> = None;
        let mut partial = false;
        for stop in &mut self.current {
            stop.listed = None;
        }
        while !self.finished {
            if now >= self.deadline {
                warn!("shutdown deadline reached; killing what is left");
                self.finish_current(now);
                self.waiting.clear();
                self.stages.clear();
                self.finished = true;
                self.timed_out = true;
                return;
            }
            if self.current.is_empty() && self.waiting.is_empty() {
                match self.stages.pop_front() {
                    Some(stage) => {
                        if matches!(stage, Stage::Sweep(_)) {
                            snap = None;
                        }
                        self.begin(stage, now, me);
                        if self.waiting.is_empty() && self.current.iter().all(GroupStop::is_done) {
                            // Nothing to look at (a sweep of an empty namespace).
                            self.finish_current(now);
                            continue;
                        }
                    }
                    None => {
                        self.finished = true;
                        return;
                    }
                }
            }
            // Stops whose cgroup is empty are done without a scan; if that ends the
            // stage, the next one begins without one too.
            for stop in &mut self.current {
                stop.finish_if_group_empty(now);
            }
            if self.begin_ready(now) {
                continue;
            }
            if self.waiting.is_empty() && self.current.iter().all(GroupStop::is_done) {
                self.finish_current(now);
                continue;
            }
            if snap.is_none() {
                let members = self.cgroup_members();
                match scan(members.as_deref()) {
                    Ok(table) => {
                        self.scan_retry = None;
                        partial = members.is_some();
                        snap = Some(table);
                    }
                    Err(e) => {
                        let failures = self.scan_retry.map_or(0, |(_, n)| n.saturating_add(1));
                        if failures == 0 {
                            error!("cannot read the process table: {e}; retrying");
                        }
                        if pidfd::is_shortage(&e) {
                            // Out of fds: give back the pidfds (which also stops their
                            // readiness from waking poll in a loop) and hold fewer.
                            pidfd::shrink_budget();
                            for stop in &mut self.current {
                                stop.release_pidfds();
                            }
                        }
                        self.scan_retry = Some((now + recheck_delay(failures), failures));
                        return;
                    }
                }
            }
            let Some(table) = snap.as_ref() else { return };
            let began = loop {
                for stop in self.current.iter_mut().filter(|s| !s.is_done()) {
                    stop.advance(table, me, now, sys);
                }
                // Stops whose dependents are done begin now, on the same table — unless
                // it holds only the members of the stops before them.
                let began = self.begin_ready(now);
                if !began || partial {
                    break began;
                }
            };
            if began {
                snap = None; // partial: a table with the new stops' members
                continue;
            }
            if self.waiting.is_empty() && self.current.iter().all(GroupStop::is_done) {
                self.finish_current(now);
                if partial {
                    snap = None;
                }
            } else {
                return;
            }
        }
    }

    /// The members of every stop under way, when each has a cgroup to list them (a stop
    /// without one, or a sweep, needs the whole table: `None`).
    fn cgroup_members(&mut self) -> Option<Vec<i32>> {
        let mut pids = Vec::new();
        for stop in self.current.iter_mut().filter(|s| !s.is_done()) {
            if stop.listed.is_none() {
                stop.listed = Some(stop.group_members()?.ok()?);
            }
            pids.extend(stop.listed.iter().flatten());
            // Its children that exited, until reaped (a service's main process rinit
            // forked is in every table anyway, as a known child).
            let held: Vec<i32> = stop
                .tracked_children()
                .filter(|p| !pids.contains(p))
                .collect();
            pids.extend(held);
        }
        Some(pids)
    }

    fn begin(&mut self, stage: Stage, now: Instant, me: i32) {
        pidfd::resize_budget();
        match stage {
            Stage::Services(pending) => {
                self.waiting = pending;
                self.begin_ready(now);
            }
            Stage::Sweep(target) => {
                let spec = StopSpec {
                    name: "sweep".to_string(),
                    target,
                    signal: libc::SIGTERM,
                    timeout: DEFAULT_STOP_TIMEOUT,
                    delay: Duration::ZERO,
                    stop_exec: None,
                    files: None,
                    paused: false,
                };
                let kill_at = sweep_deadline(now, self.deadline);
                let mut sweep = GroupStop::new(spec, now, now, kill_at);
                // As PID 1 alone in its namespace: nothing to sweep, no scan needed.
                let whole_namespace = matches!(
                    sweep.target,
                    Target::Sweep {
                        scope: Scope::Namespace,
                        ..
                    }
                );
                if whole_namespace && crate::proctree::alone_in_namespace(me) {
                    sweep.finished = Some(now);
                }
                self.current.push(sweep);
            }
        }
    }

    /// Begin every waiting stop whose `after` stops are all done (a name not in this
    /// stage counts as done); true if any began.
    fn begin_ready(&mut self, now: Instant) -> bool {
        let unfinished: Vec<String> = self
            .current
            .iter()
            .filter(|s| !s.is_done())
            .map(|s| s.name.clone())
            .chain(self.waiting.iter().map(|p| p.spec.name.clone()))
            .collect();
        let (mut ready, waiting): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|p| !p.after.iter().any(|a| unfinished.contains(a)));
        self.waiting = waiting;
        // Nothing under way and nothing ready can only be a bad plan: never hang on it.
        if ready.is_empty() && self.current.iter().all(GroupStop::is_done) {
            ready = std::mem::take(&mut self.waiting);
        }
        let began = !ready.is_empty();
        for Pending { spec, .. } in ready {
            let signal_at = signal_time(now, spec.delay, self.deadline);
            let kill_at = stop_deadline(signal_at, spec.timeout, self.deadline);
            self.current
                .push(GroupStop::new(spec, now, signal_at, kill_at));
        }
        began
    }

    fn finish_current(&mut self, now: Instant) {
        for stop in self.current.drain(..) {
            self.reports.push(stop.report(now));
        }
    }

    /// Log the shutdown report: per service the signal, the time it took and whether
    /// SIGKILL was needed; per sweep kill the pid, command and reason; the total.
    pub fn log_report(&self, now: Instant) {
        info!("shutdown report ({}):", self.reason);
        for r in &self.reports {
            if r.name == "sweep" {
                for k in &r.sweep {
                    info!("  sweep    pid {:<7} {:<40} {}", k.pid, k.command, k.reason);
                }
                continue;
            }
            let outcome = match (r.signalled, r.killed) {
                (0, _) => "already gone".to_string(),
                (_, true) => "KILLED".to_string(),
                _ => "stopped".to_string(),
            };
            info!(
                "  {:<12} {:<10} {:>7} ms  {outcome}",
                r.name,
                signals::name(r.signal),
                r.took.as_millis()
            );
        }
        info!("  total {} ms", now.duration_since(self.t0).as_millis());
    }

    #[cfg(test)]
    pub fn reports(&self) -> &[StopReport] {
        &self.reports
    }
}

/// SIGKILL everything left in scope, deepest first, without waiting: the last act of a
/// shutdown that reached its deadline.
pub fn kill_everything(snap: &Snapshot, scope: Scope, me: i32) {
    let left = snap.in_scope(scope, me);
    for p in snap.alive(&left) {
        send(&mut pidfd::System, p, me, libc::SIGKILL, "deadline");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn stop_deadline_is_clamped_to_the_reserve() {
        let t0 = Instant::now();
        let deadline = t0 + secs(30);
        assert_eq!(stop_deadline(t0, secs(10), deadline), t0 + secs(10));
        assert_eq!(stop_deadline(t0, secs(30), deadline), t0 + secs(28));
        // Reached late: still MIN_GRACE, but never into the sweep's last second.
        let late = t0 + secs(28) + Duration::from_millis(500);
        assert_eq!(stop_deadline(late, secs(10), deadline), late + MIN_GRACE);
        let very_late = t0 + Duration::from_millis(28_950);
        assert_eq!(stop_deadline(very_late, secs(10), deadline), t0 + secs(29));
        let past = t0 + secs(31);
        assert_eq!(stop_deadline(past, secs(10), deadline), past);
    }

    #[test]
    fn sweep_deadline_keeps_one_second() {
        let t0 = Instant::now();
        let deadline = t0 + secs(30);
        assert_eq!(sweep_deadline(t0, deadline), t0 + DEFAULT_STOP_TIMEOUT);
        let late = t0 + secs(28);
        assert_eq!(sweep_deadline(late, deadline), t0 + secs(29));
        let later = t0 + Duration::from_millis(29_950);
        assert_eq!(sweep_deadline(later, deadline), deadline);
    }

    #[test]
    fn stop_delay_counts_against_the_deadline() {
        let t0 = Instant::now();
        let deadline = t0 + secs(30);
        assert_eq!(signal_time(t0, secs(5), deadline), t0 + secs(5));
        assert_eq!(signal_time(t0, secs(60), deadline), t0 + secs(28));
    }

    /// Records every signal a stop sends; holds no pidfds (so every process is
    /// "unwatched", as past the fd budget or on a kernel without pidfds).
    #[derive(Default)]
    struct Recorder {
        sent: Vec<(i32, i32)>,
        gone: Vec<i32>,
        /// The pids signalled as rinit's children (no pidfd, no start-time check).
        children: Vec<i32>,
    }

    impl Signaller for Recorder {
        fn signal(&mut self, pid: i32, _: u64, sig: i32, _: bool) -> io::Result<Option<Pidfd>> {
            if self.gone.contains(&pid) {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            self.sent.push((pid, sig));
            Ok(None)
        }

        fn signal_child(&mut self, pid: i32, sig: i32) -> io::Result<()> {
            self.children.push(pid);
            self.signal(pid, 0, sig, false).map(drop)
        }

        fn watch(&mut self, _: i32, _: u64) -> io::Result<Option<Pidfd>> {
            Ok(None)
        }

        fn may_hold(&self) -> bool {
            false
        }
    }

    impl Recorder {
        /// The signals sent, without the SIGCONTs that follow each stop signal.
        fn stops(&self) -> Vec<(i32, i32)> {
            let cont = libc::SIGCONT;
            self.sent
                .iter()
                .copied()
                .filter(|&(_, s)| s != cont)
                .collect()
        }
    }

    fn proc(pid: i32, ppid: i32, session: i32, state: char) -> Proc {
        Proc::fixture(pid, ppid, session, state)
    }

    /// rinit (1) -> main (10) -> 11 -> 12, and 13 (main's child) in its own group.
    fn tree() -> Vec<Proc> {
        vec![
            proc(1, 0, 1, 'S'),
            proc(10, 1, 10, 'S'),
            proc(11, 10, 10, 'S'),
            proc(12, 11, 10, 'S'),
            Proc {
                pgrp: 13,
                ..proc(13, 10, 10, 'S')
            },
        ]
    }

    fn service_stop(mode: StopMode, t0: Instant, delay: Duration) -> GroupStop {
        let spec = StopSpec {
            name: "svc".into(),
            target: Target::Service {
                main_pid: Some(10),
                session: 10,
                mode,
                cgroup: None,
            },
            signal: libc::SIGTERM,
            timeout: secs(5),
            delay,
            stop_exec: None,
            files: None,
            paused: false,
        };
        GroupStop::new(spec, t0, t0 + delay, t0 + delay + secs(5))
    }

    #[test]
    fn the_grace_after_sigkill_counts_from_when_it_was_sent() {
        let t0 = Instant::now();
        let mut stop = service_stop(StopMode::Tree, t0, Duration::ZERO);
        let mut sys = Recorder::default();
        let snap = Snapshot::from_procs(tree());
        stop.advance(&snap, 1, t0, &mut sys);
        // The kill round comes 2 s late (a loaded machine): SIGKILL now...
        let late = t0 + secs(7);
        stop.advance(&snap, 1, late, &mut sys);
        assert!(sys.stops().contains(&(12, libc::SIGKILL)));
        // ...and what it killed gets its grace from now, not from the planned 5 s.
        stop.advance(&snap, 1, late + Duration::from_millis(100), &mut sys);
        assert!(!stop.is_done(), "gave up on processes killed 100 ms ago");
        stop.advance(&snap, 1, late + KILL_GRACE, &mut sys);
        assert!(stop.is_done());
    }

    #[test]
    fn rinits_own_children_are_signalled_by_pid_and_need_no_recheck() {
        let t0 = Instant::now();
        let mut stop = service_stop(StopMode::Tree, t0, Duration::ZERO);
        let mut sys = Recorder::default();
        let only_main = vec![proc(1, 0, 1, 'S'), proc(10, 1, 10, 'S')];
        stop.advance(&Snapshot::from_procs(only_main), 1, t0, &mut sys);
        assert_eq!(sys.children, vec![10]);
        assert_eq!(sys.stops(), vec![(10, libc::SIGTERM)]);
        // SIGCHLD reports main's exit: only the stop timeout is a deadline, no re-check.
        assert_eq!(stop.next_deadline(), Some(t0 + secs(5)));

        // Grandchildren are not rinit's: checked signals, and re-checks while no pidfd
        // watches them.
        let mut stop = service_stop(StopMode::Tree, t0, Duration::ZERO);
        let mut sys = Recorder::default();
        stop.advance(&Snapshot::from_procs(tree()), 1, t0, &mut sys);
        assert_eq!(sys.children, vec![10]);
        assert!(stop.next_deadline().is_some_and(|at| at < t0 + secs(5)));
    }

    #[test]
    fn a_cgroup_stop_lasts_until_rinit_has_reaped_its_child() {
        let dir = fake_cgroup("reaped", &[10]);
        let t0 = Instant::now();
        let mut stop = cgroup_stop(&dir, t0);
        let main = [Proc::own_child(10, 1, "main")];
        let mut sys = Recorder::default();
        stop.advance(&Snapshot::of_pids(&[10], &main).unwrap(), 1, t0, &mut sys);
        assert_eq!(sys.stops(), vec![(10, libc::SIGTERM)]);
        // main exits: it leaves its group at once, and is reaped a little later.
        std::fs::write(dir.join("cgroup.procs"), "").unwrap();
        std::fs::write(dir.join("cgroup.events"), "populated 0\nfrozen 0\n").unwrap();
        stop.finish_if_group_empty(t0);
        assert!(!stop.is_done(), "done before rinit reaped main");
        stop.advance(&Snapshot::of_pids(&[], &main).unwrap(), 1, t0, &mut sys);
        assert!(!stop.is_done(), "done before rinit reaped main");
        // Reaped: no longer one of rinit's children.
        stop.finish_if_group_empty(t0);
        stop.advance(&Snapshot::of_pids(&[], &[]).unwrap(), 1, t0, &mut sys);
        assert!(stop.is_done());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_census_is_due_once_every_signal_is_out_to_rinits_own_children() {
        let t0 = Instant::now();
        let only_main = || Snapshot::from_procs(vec![proc(1, 0, 1, 'S'), proc(10, 1, 10, 'S')]);
        let mut stop = service_stop(StopMode::Tree, t0, Duration::ZERO);
        assert!(!stop.waits_only_for_children(), "not looked at yet");
        stop.advance(&only_main(), 1, t0, &mut Recorder::default());
        assert!(stop.waits_only_for_children());
        // Grandchildren exit unseen by SIGCHLD: no census while they are there.
        let mut stop = service_stop(StopMode::Tree, t0, Duration::ZERO);
        stop.advance(
            &Snapshot::from_procs(tree()),
            1,
            t0,
            &mut Recorder::default(),
        );
        assert!(!stop.waits_only_for_children());
        // A stop_delay not yet over: its signal is not out.
        let mut stop = service_stop(StopMode::Tree, t0, secs(1));
        stop.advance(&only_main(), 1, t0, &mut Recorder::default());
        assert!(!stop.waits_only_for_children());
    }

    #[test]
    fn a_tree_stop_signals_children_before_parents_then_continues_them() {
        let t0 = Instant::now();
        // 11 was stopped (SIGSTOP, `ctl pause` without cgroups).
        let procs = tree()
            .into_iter()
            .map(|p| {
                if p.pid == 11 {
                    Proc { state: 'T', ..p }
                } else {
                    p
                }
            })
            .collect();
        let snap = Snapshot::from_procs(procs);
        let mut stop = service_stop(StopMode::Tree, t0, Duration::ZERO);
        let mut sys = Recorder::default();
        stop.advance(&snap, 1, t0, &mut sys);
        let term = libc::SIGTERM;
        assert_eq!(
            sys.stops(),
            vec![(12, term), (13, term), (11, term), (10, term)]
        );
        let conts: Vec<i32> = sys
            .sent
            .iter()
            .filter(|&&(_, s)| s == libc::SIGCONT)
            .map(|&(pid, _)| pid)
            .collect();
        assert_eq!(
            conts,
            [11],
            "SIGCONT follows for a stopped process, so it can act on it"
        );
        assert_eq!(stop.next_deadline(), Some(t0 + RECHECK_START));
        // Nothing is signalled twice on the next event; the re-check backs off.
        let t1 = t0 + Duration::from_millis(5);
        stop.advance(&snap, 1, t1, &mut sys);
        assert_eq!(sys.stops().len(), 4);
        assert!(!stop.is_done());
        assert_eq!(stop.next_deadline(), Some(t1 + recheck_delay(1)));
    }

    #[test]
    fn stop_modes_choose_who_gets_the_signal() {
        let t0 = Instant::now();
        let snap = Snapshot::from_procs(tree());
        let mut sys = Recorder::default();
        service_stop(StopMode::Main, t0, Duration::ZERO).advance(&snap, 1, t0, &mut sys);
        assert_eq!(sys.stops(), vec![(10, libc::SIGTERM)]);
        let mut sys = Recorder::default();
        service_stop(StopMode::Group, t0, Duration::ZERO).advance(&snap, 1, t0, &mut sys);
        let pids: Vec<i32> = sys.stops().iter().map(|&(p, _)| p).collect();
        assert_eq!(pids, vec![12, 11, 10], "13 left the process group");
    }

    #[test]
    fn the_signal_waits_for_stop_delay() {
        let t0 = Instant::now();
        let snap = Snapshot::from_procs(tree());
        let mut stop = service_stop(StopMode::Tree, t0, secs(2));
        let mut sys = Recorder::default();
        stop.advance(&snap, 1, t0 + secs(1), &mut sys);
        assert!(sys.sent.is_empty());
        assert_eq!(stop.next_deadline(), Some(t0 + secs(2)));
        stop.advance(&snap, 1, t0 + secs(2), &mut sys);
        assert_eq!(sys.stops().len(), 4);
    }

    #[test]
    fn what_is_left_at_the_timeout_gets_sigkill_deepest_first() {
        let t0 = Instant::now();
        let snap = Snapshot::from_procs(tree());
        let mut stop = service_stop(StopMode::Main, t0, Duration::ZERO);
        let mut sys = Recorder::default();
        stop.advance(&snap, 1, t0, &mut sys);
        stop.advance(&snap, 1, t0 + secs(5), &mut sys);
        let kills: Vec<i32> = sys
            .stops()
            .into_iter()
            .filter(|&(_, s)| s == libc::SIGKILL)
            .map(|(p, _)| p)
            .collect();
        assert_eq!(kills, vec![12, 13, 11, 10]);
        let next = stop.next_deadline().unwrap();
        assert!(
            next <= t0 + secs(5) + KILL_GRACE,
            "gives up on survivors at the grace"
        );
        // One that cannot die (uninterruptible sleep) does not hold up the next wave.
        stop.advance(&snap, 1, t0 + secs(5) + KILL_GRACE, &mut sys);
        assert!(stop.is_done());
        assert!(stop.report(t0 + secs(6)).killed);
    }

    #[test]
    fn done_only_when_nothing_is_left_and_rinit_has_reaped_its_children() {
        let t0 = Instant::now();
        let mut stop = service_stop(StopMode::Tree, t0, Duration::ZERO);
        let mut sys = Recorder::default();
        stop.advance(&Snapshot::from_procs(tree()), 1, t0, &mut sys);
        // The children are gone; main is a zombie rinit has not reaped yet.
        let zombie = Snapshot::from_procs(vec![proc(1, 0, 1, 'S'), proc(10, 1, 10, 'Z')]);
        stop.advance(&zombie, 1, t0 + secs(1), &mut sys);
        assert!(!stop.is_done(), "its exit is handled first");
        let reaped = Snapshot::from_procs(vec![proc(1, 0, 1, 'S')]);
        stop.advance(&reaped, 1, t0 + secs(1), &mut sys);
        assert!(stop.is_done());
        assert_eq!(stop.next_deadline(), None);
        let report = stop.report(t0 + secs(2));
        assert!(!report.killed);
        assert_eq!(report.signalled, 4);
    }

    #[test]
    fn forks_during_the_stop_are_signalled_but_exiting_processes_are_not() {
        let t0 = Instant::now();
        let mut stop = service_stop(StopMode::Tree, t0, Duration::ZERO);
        let mut sys = Recorder::default();
        stop.advance(&Snapshot::from_procs(tree()), 1, t0, &mut sys);
        let mut procs = tree();
        procs.push(proc(14, 11, 10, 'S'));
        procs.push(Proc {
            flags: 0x4, // PF_EXITING
            ..proc(15, 10, 10, 'R')
        });
        stop.advance(&Snapshot::from_procs(procs), 1, t0 + secs(1), &mut sys);
        let stops = sys.stops();
        assert_eq!(stops.last(), Some(&(14, libc::SIGTERM)));
        assert!(
            !stops.iter().any(|&(p, _)| p == 15),
            "an exiting process needs no signal"
        );
    }

    #[test]
    fn a_signal_that_found_no_fd_is_sent_on_the_next_round() {
        struct Short(Recorder, bool);
        impl Signaller for Short {
            fn signal(&mut self, pid: i32, t: u64, sig: i32, k: bool) -> io::Result<Option<Pidfd>> {
                if pid == 12 && std::mem::take(&mut self.1) {
                    return Err(io::Error::from_raw_os_error(libc::EMFILE));
                }
                self.0.signal(pid, t, sig, k)
            }
            fn signal_child(&mut self, pid: i32, sig: i32) -> io::Result<()> {
                self.signal(pid, 0, sig, false).map(drop)
            }
            fn watch(&mut self, pid: i32, t: u64) -> io::Result<Option<Pidfd>> {
                self.0.watch(pid, t)
            }
            fn may_hold(&self) -> bool {
                false
            }
        }
        let t0 = Instant::now();
        let snap = Snapshot::from_procs(tree());
        let mut stop = service_stop(StopMode::Tree, t0, Duration::ZERO);
        let mut sys = Short(Recorder::default(), true);
        stop.advance(&snap, 1, t0, &mut sys);
        assert!(!sys.0.stops().contains(&(12, libc::SIGTERM)));
        assert_eq!(stop.report(t0).signalled, 3, "not counted as signalled");
        stop.advance(&snap, 1, t0 + RECHECK_START, &mut sys);
        assert!(sys.0.stops().contains(&(12, libc::SIGTERM)), "retried");
    }

    #[test]
    fn a_process_gone_before_its_signal_is_not_counted() {
        let t0 = Instant::now();
        let mut stop = service_stop(StopMode::Tree, t0, Duration::ZERO);
        let mut sys = Recorder {
            gone: vec![12],
            ..Recorder::default()
        };
        stop.advance(&Snapshot::from_procs(tree()), 1, t0, &mut sys);
        assert_eq!(stop.report(t0).signalled, 3);
    }

    #[test]
    fn rechecks_back_off_and_stay_short() {
        assert_eq!(recheck_delay(0), RECHECK_START);
        assert_eq!(recheck_delay(1), RECHECK_START * 2);
        assert_eq!(recheck_delay(30), RECHECK_MAX);
        let t0 = Instant::now();
        let mut r = Recheck::default();
        r.update(10, 0, t0);
        assert_eq!(r.at, None, "every process watched: no timer at all");
        r.update(10, 4, t0);
        assert_eq!(r.at, Some(t0 + RECHECK_START));
        r.update(10, 4, t0);
        assert_eq!(r.at, Some(t0 + recheck_delay(1)));
        r.update(10, 4, t0);
        assert_eq!(r.at, Some(t0 + recheck_delay(2)));
        r.update(9, 3, t0);
        assert_eq!(
            r.at,
            Some(t0 + RECHECK_START),
            "progress resets the backoff"
        );
    }

    #[test]
    fn a_failed_scan_never_ends_a_stop() {
        let t0 = Instant::now();
        let spec = StopSpec {
            name: "a".into(),
            target: Target::Service {
                main_pid: Some(10),
                session: 10,
                mode: StopMode::Tree,
                cgroup: None,
            },
            signal: libc::SIGTERM,
            timeout: DEFAULT_STOP_TIMEOUT,
            delay: Duration::ZERO,
            stop_exec: None,
            files: None,
            paused: false,
        };
        let stage = Stage::Services(vec![Pending {
            spec,
            after: vec![],
        }]);
        let mut s = Shutdown::new("t".into(), t0, MAX_SHUTDOWN, vec![stage]);
        let mut failing = |_: Option<&[i32]>| Err(io::Error::from_raw_os_error(libc::EMFILE));
        s.advance(1, t0, &mut failing);
        assert!(!s.is_finished());
        assert!(s.reports().is_empty(), "the wave is still under way");
        assert_eq!(s.next_deadline(), Some(t0 + RECHECK_START));
        s.advance(1, t0, &mut failing);
        assert_eq!(s.next_deadline(), Some(t0 + recheck_delay(1)));
        s.advance(1, t0, &mut |_| Ok(Snapshot::default()));
        assert!(s.is_finished(), "a table that reads shows the wave gone");
    }

    #[test]
    fn shutdown_caps_its_deadline_at_30s() {
        let t0 = Instant::now();
        let s = Shutdown::new("t".into(), t0, secs(99), vec![]);
        assert_eq!(s.deadline, t0 + MAX_SHUTDOWN);
        let s = Shutdown::new("t".into(), t0, secs(5), vec![]);
        assert_eq!(s.deadline, t0 + secs(5));
    }

    #[test]
    fn empty_stages_finish_at_once() {
        let t0 = Instant::now();
        let mut s = Shutdown::new(
            "t".into(),
            t0,
            MAX_SHUTDOWN,
            vec![
                Stage::Services(vec![Pending {
                    spec: spec_for("a", 10, &[]).spec,
                    after: vec![],
                }]),
                Stage::Sweep(Target::Sweep {
                    scope: Scope::Namespace,
                    ports: vec![],
                    patterns: vec![],
                }),
            ],
        );
        s.advance(1, t0, &mut |_| Ok(Snapshot::default()));
        assert!(s.is_finished());
        assert_eq!(s.reports().len(), 2);
        assert_eq!(s.next_deadline(), None);
    }

    /// A stop of the service whose main process (and session) is `pid`, after `after`.
    fn spec_for(name: &str, pid: i32, after: &[&str]) -> Pending {
        Pending {
            spec: StopSpec {
                name: name.into(),
                target: Target::Service {
                    main_pid: Some(pid),
                    session: pid,
                    mode: StopMode::Tree,
                    cgroup: None,
                },
                signal: libc::SIGTERM,
                timeout: DEFAULT_STOP_TIMEOUT,
                delay: Duration::ZERO,
                stop_exec: None,
                files: None,
                paused: false,
            },
            after: after.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn each_service_stops_once_its_own_dependents_are_done_not_a_whole_level() {
        // Two chains: db1 <- app1 (slow to go) and db2 <- app2; app2 is gone at once.
        let t0 = Instant::now();
        let stage = Stage::Services(vec![
            spec_for("app1", 10, &[]),
            spec_for("app2", 30, &[]),
            spec_for("db1", 20, &["app1"]),
            spec_for("db2", 40, &["app2"]),
        ]);
        let mut s = Shutdown::new("t".into(), t0, MAX_SHUTDOWN, vec![stage]);
        let mut sys = Recorder::default();
        let table = |pids: &[i32]| {
            let mut procs = vec![proc(1, 0, 1, 'S')];
            procs.extend(pids.iter().map(|&p| proc(p, 1, p, 'S')));
            Snapshot::from_procs(procs)
        };
        s.advance_with(1, t0, &mut |_| Ok(table(&[10, 20, 40])), &mut sys);
        let term = libc::SIGTERM;
        assert_eq!(
            sys.stops(),
            vec![(10, term), (40, term)],
            "db2 does not wait for app1; db1 does"
        );
        // app1 goes: db1 is next, on the same table.
        s.advance_with(1, t0, &mut |_| Ok(table(&[20])), &mut sys);
        assert_eq!(sys.stops(), vec![(10, term), (40, term), (20, term)]);
        assert!(!s.is_finished());
        s.advance_with(1, t0, &mut |_| Ok(table(&[])), &mut sys);
        assert!(s.is_finished());
        let names: Vec<&str> = s.reports().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names.len(), 4, "{names:?}");
    }

    /// A directory that looks like a service's cgroup: `cgroup.procs` holding `pids`.
    fn fake_cgroup(tag: &str, pids: &[i32]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rinit-fake-cg-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let procs: String = pids.iter().map(|p| format!("{p}\n")).collect();
        std::fs::write(dir.join("cgroup.procs"), procs).unwrap();
        std::fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        std::fs::write(dir.join("cgroup.kill"), "").unwrap();
        dir
    }

    fn cgroup_stop(dir: &Path, t0: Instant) -> GroupStop {
        let spec = StopSpec {
            name: "svc".into(),
            target: Target::Service {
                main_pid: None,
                session: 10,
                mode: StopMode::Tree,
                cgroup: Some(dir.to_path_buf()),
            },
            signal: libc::SIGTERM,
            timeout: secs(5),
            delay: Duration::ZERO,
            stop_exec: None,
            files: None,
            paused: false,
        };
        GroupStop::new(spec, t0, t0, t0 + secs(5))
    }

    #[test]
    fn with_a_cgroup_its_members_are_the_service_and_sigkill_is_cgroup_kill() {
        let t0 = Instant::now();
        // 40 left the session and lost its parent: /proc tracking would not see it.
        let dir = fake_cgroup("kill", &[40]);
        let snap = Snapshot::from_procs(vec![proc(1, 0, 1, 'S'), proc(40, 1, 40, 'S')]);
        let mut stop = cgroup_stop(&dir, t0);
        assert!(stop.event_fd().is_none(), "not polled before its signal");
        let mut sys = Recorder::default();
        stop.advance(&snap, 1, t0, &mut sys);
        assert_eq!(sys.stops(), vec![(40, libc::SIGTERM)]);
        assert!(stop.event_fd().is_some(), "cgroup.events is polled");
        stop.advance(&snap, 1, t0 + secs(5), &mut sys);
        assert_eq!(
            std::fs::read_to_string(dir.join("cgroup.kill")).unwrap(),
            "1"
        );
        assert!(sys.stops().contains(&(40, libc::SIGKILL)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn members_of_sub_groups_are_the_service_s_and_rinit_never_is() {
        let t0 = Instant::now();
        // 42 runs in a group the service made below its own (a nested engine); rinit's
        // own pid in the group is ignored.
        let dir = fake_cgroup("nested", &[1]);
        std::fs::create_dir_all(dir.join("inner")).unwrap();
        std::fs::write(dir.join("inner/cgroup.procs"), "42\n").unwrap();
        let snap = Snapshot::from_procs(vec![proc(1, 0, 1, 'S'), proc(42, 1, 42, 'S')]);
        let mut stop = cgroup_stop(&dir, t0);
        let mut sys = Recorder::default();
        stop.advance(&snap, 1, t0, &mut sys);
        assert_eq!(sys.stops(), vec![(42, libc::SIGTERM)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_member_not_yet_in_the_table_keeps_the_stop_going() {
        let t0 = Instant::now();
        // Forked after the scan: in cgroup.procs, not in the snapshot.
        let dir = fake_cgroup("unseen", &[41]);
        let snap = Snapshot::from_procs(vec![proc(1, 0, 1, 'S')]);
        let mut stop = cgroup_stop(&dir, t0);
        let mut sys = Recorder::default();
        stop.advance(&snap, 1, t0, &mut sys);
        assert!(!stop.is_done(), "the group is not empty");
        assert_eq!(
            stop.next_deadline(),
            Some(t0 + RECHECK_START),
            "looked at again soon"
        );
        std::fs::write(dir.join("cgroup.procs"), "").unwrap();
        stop.advance(&snap, 1, t0, &mut sys);
        assert!(stop.is_done(), "an empty group is a finished stop");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unpopulated_group_ends_its_stop_without_reading_its_members() {
        let t0 = Instant::now();
        let dir = fake_cgroup("unpopulated", &[40]);
        // Not rinit's child (that one would count until reaped: see the test above).
        let snap = Snapshot::from_procs(vec![proc(1, 0, 1, 'S'), proc(40, 30, 40, 'S')]);
        let mut stop = cgroup_stop(&dir, t0);
        let mut sys = Recorder::default();
        stop.advance(&snap, 1, t0, &mut sys);
        assert_eq!(sys.stops(), vec![(40, libc::SIGTERM)]);
        stop.finish_if_group_empty(t0);
        assert!(!stop.is_done(), "populated 1 and a member: still running");
        // cgroup.events says empty; cgroup.procs (stale here) is not consulted.
        std::fs::write(dir.join("cgroup.events"), "populated 0\nfrozen 0\n").unwrap();
        stop.finish_if_group_empty(t0);
        assert!(stop.is_done());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_frozen_group_is_thawed_paused_before_its_signal_or_frozen_later_at_once() {
        let t0 = Instant::now();
        let snap = Snapshot::from_procs(vec![proc(1, 0, 1, 'S'), proc(40, 1, 40, 'S')]);
        let freeze = |dir: &Path| std::fs::read_to_string(dir.join("cgroup.freeze")).ok();
        // Paused by `ctl pause`: thawed as its signal goes out.
        let dir = fake_cgroup("paused", &[40]);
        let mut stop = cgroup_stop(&dir, t0);
        stop.thaw_first = true;
        assert_eq!(freeze(&dir), None);
        stop.advance(&snap, 1, t0, &mut Recorder::default());
        assert_eq!(freeze(&dir).as_deref(), Some("0"));
        std::fs::remove_dir_all(&dir).unwrap();
        // Frozen from outside while it stops: thawed at the next look.
        let dir = fake_cgroup("frozen-later", &[40]);
        let mut stop = cgroup_stop(&dir, t0);
        stop.advance(&snap, 1, t0, &mut Recorder::default());
        assert_eq!(freeze(&dir), None, "not paused: nothing to thaw");
        std::fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        stop.finish_if_group_empty(t0);
        assert_eq!(freeze(&dir).as_deref(), Some("0"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unreadable_cgroup_events_is_let_go_not_polled_forever() {
        let t0 = Instant::now();
        let dir = fake_cgroup("unreadable", &[40]);
        let snap = Snapshot::from_procs(vec![proc(1, 0, 1, 'S'), proc(40, 1, 40, 'S')]);
        let mut stop = cgroup_stop(&dir, t0);
        // A directory's fd: pread fails (EISDIR), as a removed group's file does (ENODEV).
        stop.files = Some(Rc::new(GroupFiles {
            events: crate::proctree::open_ro(&dir).unwrap(),
            procs: None,
            dir: None,
        }));
        stop.advance(&snap, 1, t0, &mut Recorder::default());
        assert!(stop.event_fd().is_some());
        stop.finish_if_group_empty(t0);
        assert!(stop.event_fd().is_none(), "let go");
        assert!(!stop.is_done(), "the member list still says 40 is there");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rinit_s_own_child_known_without_proc_gets_sigcont_after_its_signal() {
        let t0 = Instant::now();
        let mut s = Shutdown::new(
            "t".into(),
            t0,
            MAX_SHUTDOWN,
            vec![Stage::Services(vec![spec_for("app", 10, &[])])],
        );
        let mut sys = Recorder::default();
        // Its state was not read: it may be stopped, so SIGCONT follows the signal.
        let table = vec![proc(1, 0, 1, 'S'), Proc::own_child(10, 1, "app")];
        s.advance_with(
            1,
            t0,
            &mut |_| Ok(Snapshot::from_procs(table.clone())),
            &mut sys,
        );
        assert_eq!(sys.sent, vec![(10, libc::SIGTERM), (10, libc::SIGCONT)]);
        assert_eq!(sys.children, vec![10, 10], "by pid, as rinit's child");
        // Until reaped it counts as alive: the stop waits for the reap.
        s.advance_with(
            1,
            t0,
            &mut |_| Ok(Snapshot::from_procs(table.clone())),
            &mut sys,
        );
        assert!(!s.is_finished());
        assert_eq!(sys.sent.len(), 2, "no second signal");
    }

    #[test]
    fn with_cgroups_the_table_holds_only_the_members_of_the_stops_under_way() {
        let t0 = Instant::now();
        let app_dir = fake_cgroup("partial-app", &[10]);
        let db_dir = fake_cgroup("partial-db", &[20, 21]);
        let with_group = |name: &str, pid: i32, dir: &Path, after: &[&str]| {
            let mut p = spec_for(name, pid, after);
            if let Target::Service { cgroup, .. } = &mut p.spec.target {
                *cgroup = Some(dir.to_path_buf());
            }
            p
        };
        let stage = Stage::Services(vec![
            with_group("app", 10, &app_dir, &[]),
            with_group("db", 20, &db_dir, &["app"]),
        ]);
        let mut s = Shutdown::new("t".into(), t0, MAX_SHUTDOWN, vec![stage]);
        let mut sys = Recorder::default();
        let mut asked: Vec<Option<Vec<i32>>> = Vec::new();
        // Processes rinit has reaped: gone from /proc.
        let reaped = std::cell::RefCell::new(Vec::new());
        let mut scan = |pids: Option<&[i32]>| {
            asked.push(pids.map(<[i32]>::to_vec));
            let mut procs = vec![proc(1, 0, 1, 'S')];
            let all = [10, 20, 21];
            let wanted = pids.unwrap_or(&all).iter();
            let wanted = wanted.filter(|p| !reaped.borrow().contains(*p));
            procs.extend(wanted.map(|&p| proc(p, 1, p, 'S')));
            Ok(Snapshot::from_procs(procs))
        };
        s.advance_with(1, t0, &mut scan, &mut sys);
        assert_eq!(sys.stops(), vec![(10, libc::SIGTERM)]);
        // app's main exits: it leaves its group at once, but until rinit has reaped it
        // app is not done, and db waits.
        std::fs::write(app_dir.join("cgroup.procs"), "").unwrap();
        s.advance_with(1, t0, &mut scan, &mut sys);
        assert_eq!(
            sys.stops(),
            vec![(10, libc::SIGTERM)],
            "db before app's reap"
        );
        // Reaped: db begins, and only its members are read for it.
        reaped.borrow_mut().push(10);
        s.advance_with(1, t0, &mut scan, &mut sys);
        let term = libc::SIGTERM;
        assert_eq!(sys.stops(), vec![(10, term), (21, term), (20, term)]);
        // Between them, only app's main, 10, is looked for: it has left the group but
        // counts until reaped.
        assert_eq!(
            asked,
            vec![
                Some(vec![10]),
                Some(vec![10]),
                Some(vec![10]),
                Some(vec![20, 21])
            ],
            "never all of /proc"
        );
        std::fs::remove_dir_all(&app_dir).unwrap();
        std::fs::remove_dir_all(&db_dir).unwrap();
    }

    #[test]
    fn nothing_left_ends_every_stop_and_skips_the_sweep() {
        let t0 = Instant::now();
        let stage = Stage::Services(vec![spec_for("app", 10, &[]), spec_for("db", 20, &["app"])]);
        let sweep = Stage::Sweep(Target::Sweep {
            scope: Scope::Namespace,
            ports: vec![],
            patterns: vec![],
        });
        let mut s = Shutdown::new("t".into(), t0, MAX_SHUTDOWN, vec![stage, sweep]);
        let mut sys = Recorder::default();
        let table = Snapshot::from_procs(vec![proc(1, 0, 1, 'S'), proc(10, 1, 10, 'S')]);
        s.advance_with(1, t0, &mut |_| Ok(table.clone()), &mut sys);
        assert_eq!(sys.stops(), vec![(10, libc::SIGTERM)]);
        s.nothing_left(t0);
        assert!(s.is_finished());
        let names: Vec<&str> = s.reports().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["app", "db"],
            "db is reported, the sweep is not needed"
        );
        s.advance_with(
            1,
            t0,
            &mut |_| panic!("no scan after nothing_left"),
            &mut sys,
        );
    }
}
