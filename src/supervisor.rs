//! The event loop (DESIGN §5): one thread blocking in `poll(2)`, owning every service.
//!
//! The supervisor waits on the signalfd, the sd_notify socket, the services' log pipes,
//! readiness probes' fds and the pidfds of processes being stopped, with a timeout taken
//! from the nearest deadline (backoff, readiness, stop timeout, shutdown deadline) — or
//! none at all: an idle rinit never wakes up. Each wakeup it dispatches what is ready,
//! then [`Supervisor::schedule`] moves services along their state machine (start what
//! is unblocked, restart what backed off, time out what is not ready), or the shutdown
//! advances. SIGCHLD reaps every zombie with `waitpid(-1, WNOHANG)` until none is left,
//! recognising services' main processes inside that loop so coalesced SIGCHLDs never
//! lose a status.

use std::collections::HashSet;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

mod cgroups;
mod commands;

use crate::census::{Census, PidCursor};
use crate::config::{Config, Global, LogTarget, MAIN, ServiceConfig};
use crate::control::{self, Server, Slot};
use crate::graph::Graph;
use crate::health::Health;
use crate::logs::{self, Output};
use crate::notify::{self, Notice, Watchdog};
use crate::process::ExitStatus;
use crate::proctree::{self, Proc, Scope, Snapshot};
use crate::ready::{Check, DirWatch, NotifySocket};
use crate::service::{self, Event, Run, Service, State};
use crate::shutdown::{self, Pending, Shutdown, Stage, StopSpec, Target};
use crate::signals::{self, Disposition, SignalFd};
use crate::spawn::{Spawn, Stdio};
use crate::sysinit::PowerAction;

/// What a poll slot belongs to.
/// Notify messages handled per wakeup at most.
const NOTIFY_BATCH: usize = 64;

#[derive(Clone, Copy)]
enum Token {
    Signals,
    Notify,
    Log(usize),
    Listener,
    Client(u64),
    DirWatch,
    Stdout,
    Stderr,
    Other,
}

/// Everything the event loop owns.
pub struct Supervisor {
    me: i32,
    scope: Scope,
    /// /proc shows this PID namespace; without it no process tree can be read safely.
    proc_ok: bool,
    signals: SignalFd,
    notify: Option<NotifySocket>,
    global: Global,
    graph: Graph,
    /// Every service with its run-time state (log pipe, probe, credentials) inside.
    services: Vec<Service>,
    null: Option<OwnedFd>,
    shutdown: Option<Shutdown>,
    /// Decided when a critical service ended the run.
    exit_code: Option<i32>,
    /// The control socket, if it could be created.
    control: Option<Server>,
    /// Stops requested with `ctl stop`, `restart` and `reload`.
    jobs: Vec<commands::Job>,
    /// `ctl reload NAME` requests waiting for the service's `READY=1`.
    reloads: Vec<commands::PendingReload>,
    /// `ctl logs -f` connections: (connection, service).
    followers: Vec<(u64, String)>,
    /// Reads the configuration again, for `reload` and SIGHUP.
    reloader: Reloader,
    /// rinit is the kernel's init: power signals and a power action at the end.
    vm: bool,
    /// What the machine does once the shutdown is over (VM mode).
    action: PowerAction,
    /// The inotify instance of the `file:` readiness probes, once one is needed.
    dirwatch: Option<DirWatch>,
    /// Service lines on their way to rinit's stdout.
    output: Output,
    /// poll(2)'s arrays, kept between wakeups.
    poll_tokens: Vec<Token>,
    poll_fds: Vec<libc::pollfd>,
    /// poll(2) failed this many times in a row (see `poll_failed`).
    poll_failures: u32,
    /// The last wakeup was only output to write or service lines to read: nothing a
    /// stop waits for (exits come as SIGCHLD, pidfds, cgroup events or deadlines).
    quiet_wakeup: bool,
    /// Where services get cgroups of their own; None: tracked through /proc.
    cgroups: Option<crate::cgroup::Hierarchy>,
    /// The last reap found no child at all (and none was made since): the final reap
    /// and the alone-check's `waitid` are skipped.
    childless: crate::process::Childless,
    /// A look at the namespace (taken when rinit went idle after a spawn, or while a
    /// shutdown's last children are dying) that holds while no pid is handed out, and
    /// the pid cursor it reads, opened on first use (`None` inside: not available).
    census: Option<Census>,
    pid_cursor: Option<Option<PidCursor>>,
    /// [`crate::process::spawned`] when rinit last went idle.
    census_spawns: u64,
}

/// How long rinit waits on its signals alone after poll(2) failed, before trying again.
const POLL_RETRY: Duration = Duration::from_millis(100);

/// Re-reads the configuration (files plus `-- COMMAND`), fully validated.
pub type Reloader = Box<dyn Fn() -> Result<Config, String>>;

impl Supervisor {
    /// Take over signals, become a subreaper when not PID 1, and prepare every service.
    pub fn new(config: Config, reloader: Reloader, vm: bool) -> Result<Supervisor, String> {
        let graph = config.graph().map_err(|e| e.to_string())?;
        // First, so that rinit's first log line says where to reach it.
        logs::rinit_lines().open();
        let control = open_control(config.rinit.control_socket.as_deref());
        crate::pidfd::set_fd_limit(crate::spawn::raise_fd_limit());
        if !crate::pidfd::supported() {
            warn!("this kernel has no pidfds: signals use kill(2) after a start-time check");
        }
        let signals = signals::take_over().map_err(|e| format!("cannot set up signals: {e}"))?;
        let me = std::process::id() as i32;
        let scope = claim_scope(me);
        let proc_ok = proc_matches_namespace(me);
        if proc_ok {
            // Opened now, not on the stop path: every scan lists this handle again.
            let _ = proctree::with_proc_dir(|_| ());
        } else {
            error!("/proc does not show this PID namespace: process trees and sweeps are disabled");
        }
        let services = config
            .services
            .iter()
            .map(|cfg| Ok(Service::new(cfg.clone(), Run::prepare(cfg)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let notify = notify_socket_for(&config)?;
        let cgroups = cgroups::choose(&config, vm);
        let mut output = Output::default();
        output.open();
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .ok()
            .map(OwnedFd::from);
        Ok(Supervisor {
            me,
            scope,
            proc_ok,
            signals,
            notify,
            global: config.rinit,
            graph,
            services,
            null,
            shutdown: None,
            exit_code: None,
            control,
            jobs: Vec::new(),
            reloads: Vec::new(),
            followers: Vec::new(),
            reloader,
            vm,
            action: PowerAction::PowerOff,
            dirwatch: None,
            output,
            poll_tokens: Vec::new(),
            poll_fds: Vec::new(),
            poll_failures: 0,
            quiet_wakeup: false,
            cgroups,
            childless: crate::process::Childless::default(),
            census: None,
            pid_cursor: None,
            census_spawns: 0,
        })
    }

    /// The power action the shutdown asked for (VM mode).
    pub fn power_action(&self) -> PowerAction {
        self.action
    }

    /// Run until the shutdown is complete; return rinit's exit status.
    pub fn run(&mut self) -> i32 {
        info!("starting {} service(s)", self.services.len());
        loop {
            let now = Instant::now();
            if self.shutdown.is_none() {
                self.advance_jobs(now);
                self.schedule(now);
                self.expire_reloads(now);
                // A file may appear just before its directory is watched: look again.
                while self.sync_watches() {
                    self.schedule(now);
                }
            }
            // No reap here: every exit since the last one comes as a SIGCHLD, which the
            // dispatch reaps on; one not read yet is a zombie the stops count as alive,
            // and it makes the next poll return at once.
            // A quiet wakeup (output only) skips the round unless a deadline is due: a
            // service logging without pause must not hold off its stop timeout.
            let quiet = self.quiet_wakeup;
            let skip = |sd: &Shutdown| quiet && sd.next_deadline().is_none_or(|d| d > now);
            let round = self.shutdown.as_ref().is_some_and(|sd| !skip(sd));
            // PID 1 alone in its namespace: nothing is left to stop or sweep.
            let alone = round && self.scope == Scope::Namespace && self.alone_in_namespace();
            if let Some(sd) = self.shutdown.as_mut().filter(|_| round) {
                let (proc_ok, me) = (self.proc_ok, self.me);
                if alone {
                    sd.nothing_left(now);
                }
                let known = own_children(&self.services, me);
                // While no pid was handed out since a census that listed only rinit's
                // children, they are all there is: a whole table needs no listing.
                let census = self.census.filter(Census::is_useful);
                let cursor = self.pid_cursor.as_ref().and_then(Option::as_ref);
                sd.advance(self.me, now, &mut |pids| {
                    let current =
                        || census.is_some_and(|c| c.is_current(cursor.and_then(PidCursor::read)));
                    if pids.is_none() && current() {
                        debug!("only rinit's children are in the namespace: no listing");
                        return Snapshot::of_pids(&[], &known);
                    }
                    scan_for_stop(proc_ok, me, &known, pids)
                });
                if sd.is_finished() {
                    if now >= sd.deadline {
                        match scan(proc_ok, self.me, &own_children(&self.services, self.me)) {
                            Ok(snap) => {
                                // Each group whole first: what forks this instant too.
                                self.kill_groups();
                                shutdown::kill_everything(&snap, self.scope, self.me)
                            }
                            Err(e) => error!("cannot read the process table: {e}"),
                        }
                    }
                    break;
                }
            }
            if round
                && self
                    .shutdown
                    .as_ref()
                    .is_some_and(Shutdown::waits_only_for_children)
            {
                self.take_census();
            }
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(now));
            if self.shutdown.is_none() && timeout.is_none() && self.spawned_since_census() {
                // Going idle after starting something: the census a shutdown will use.
                self.take_census();
            }
            self.wait_and_dispatch(timeout);
        }
        if !self.childless.holds() {
            self.reap();
        }
        for log in self.services.iter_mut().filter_map(|s| s.run.log.as_mut()) {
            log.drain(&mut self.output);
        }
        // The last lines may wait a little for a slow stdout, not forever.
        let until = Instant::now() + Duration::from_secs(1);
        if let Some(n) = self.output.flush_until(until) {
            warn!("stdout did not keep up: {n} service line(s) dropped");
        }
        if self.output.dropped() > 0 {
            warn!(
                "stdout did not keep up: {} service line(s) dropped",
                self.output.dropped()
            );
        }
        if let Some(control) = &mut self.control {
            control.flush_and_prune(Instant::now());
        }
        self.finish()
    }

    /// Watch the directories that `file:` probes wait in; true if a watch was added.
    fn sync_watches(&mut self) -> bool {
        let dirs: HashSet<PathBuf> = self
            .services
            .iter()
            .filter_map(|s| s.run.check.as_ref()?.watch_dir().map(Path::to_path_buf))
            .collect();
        if dirs.is_empty() && self.dirwatch.is_none() {
            return false;
        }
        if self.dirwatch.is_none() {
            match DirWatch::new() {
                Ok(w) => self.dirwatch = Some(w),
                Err(e) => warn!("no inotify for file probes, polling instead: {e}"),
            }
        }
        let Some(watch) = &mut self.dirwatch else {
            return false;
        };
        let added = watch.sync(&dirs);
        for check in self
            .services
            .iter_mut()
            .filter_map(|s| s.run.check.as_mut())
        {
            let watched = check.watch_dir().is_some_and(|d| watch.is_watched(d));
            check.set_watched(watched);
        }
        added
    }

    /// The nearest moment something must happen without an event.
    fn next_deadline(&self) -> Option<Instant> {
        let control = self.control.as_ref().and_then(Server::next_deadline);
        if let Some(sd) = &self.shutdown {
            return sd.next_deadline().into_iter().chain(control).min();
        }
        // Only a starting service's readiness and a backed-off service's restart have
        // timers; anything left over from another state must not wake us.
        let waiting = |s: &Service| matches!(s.state(), State::Starting | State::Backoff);
        let timers = self
            .services
            .iter()
            .filter(|s| waiting(s))
            .filter_map(|s| s.timer);
        let checks = self
            .services
            .iter()
            .filter(|s| s.state() == State::Starting)
            .filter_map(|s| s.run.check.as_ref()?.next_deadline());
        let running = || self.services.iter().filter(|s| s.state() == State::Running);
        let health = running().filter_map(|s| Some(s.run.health.as_ref()?.deadline()));
        let watchdogs = running().filter_map(|s| s.run.watchdog_at);
        let jobs = self.jobs.iter().filter_map(|j| j.plan.next_deadline());
        let reloads = self.reloads.iter().map(|r| r.deadline);
        timers
            .chain(reloads)
            .chain(checks)
            .chain(health)
            .chain(watchdogs)
            .chain(jobs)
            .chain(control)
            .min()
    }

    /// Block in poll(2) on everything that can bring news, then handle what arrived.
    /// The two buffers live in the supervisor, so a wakeup allocates nothing.
    fn wait_and_dispatch(&mut self, timeout: Option<Duration>) {
        // Lines queued since the last wakeup go out now, after the round that followed
        // it: a shutdown's first signals are not held up by its log lines.
        self.flush_outputs();
        let mut tokens = std::mem::take(&mut self.poll_tokens);
        let mut fds = std::mem::take(&mut self.poll_fds);
        tokens.clear();
        fds.clear();
        self.poll_set(&mut tokens, &mut fds);
        let ms = timeout.map_or(-1, |t| {
            // Round up so we never wake just before a deadline and spin.
            i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
        });
        // SAFETY: fds is a valid array of the given length.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        self.quiet_wakeup = rc > 0 && only_output(&tokens, &fds);
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                self.poll_failed(&err, ms);
            }
        } else {
            if self.poll_failures > 0 {
                info!("poll works again after {} failure(s)", self.poll_failures);
                self.poll_failures = 0;
            }
            for (token, pfd) in tokens.iter().zip(&fds) {
                if pfd.revents != 0 {
                    self.dispatch(*token);
                }
            }
        }
        if let Some(control) = &mut self.control {
            control.flush_and_prune(Instant::now());
        }
        self.poll_tokens = tokens;
        self.poll_fds = fds;
    }

    /// poll(2) itself failed (EINVAL when its fds outnumber an fd limit lowered from
    /// outside, ENOMEM): waiting on nothing would spin. Wait on the signalfd alone, for
    /// at most [`POLL_RETRY`], so signals and deadlines are still served, and try the
    /// full set again.
    fn poll_failed(&mut self, err: &std::io::Error, ms: i32) {
        if self.poll_failures == 0 {
            error!("poll failed: {err}; serving signals only until it works again");
        }
        self.poll_failures = self.poll_failures.saturating_add(1);
        let retry = i32::try_from(POLL_RETRY.as_millis()).unwrap_or(i32::MAX);
        let wait = if ms < 0 { retry } else { ms.min(retry) };
        let mut fds = [PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
        if poll(&mut fds, timeout).is_ok_and(|n| n > 0) {
            self.drain_signals();
        }
    }

    /// Everything to wait on, each with what it belongs to.
    fn poll_set(&self, tokens: &mut Vec<Token>, fds: &mut Vec<libc::pollfd>) {
        let mut add = |token, fd: std::os::fd::BorrowedFd<'_>, events| {
            tokens.push(token);
            fds.push(libc::pollfd {
                fd: fd.as_raw_fd(),
                events,
                revents: 0,
            });
        };
        add(Token::Signals, self.signals.as_fd(), libc::POLLIN);
        if let Some(n) = &self.notify {
            add(Token::Notify, n.as_fd(), libc::POLLIN);
        }
        if let Some(w) = self.dirwatch.as_ref().filter(|w| !w.is_idle()) {
            add(Token::DirWatch, w.as_fd(), libc::POLLIN);
        }
        if self.output.wants_write() {
            if let Some(fd) = self.output.poll_fd() {
                add(Token::Stdout, fd, libc::POLLOUT);
            }
        }
        {
            let rinit_lines = logs::rinit_lines();
            if rinit_lines.wants_write() {
                if let Some(fd) = rinit_lines.poll_fd() {
                    add(Token::Stderr, fd, libc::POLLOUT);
                }
            }
        }
        for (i, svc) in self.services.iter().enumerate() {
            let run = &svc.run;
            if let Some(log) = &run.log {
                add(Token::Log(i), log.as_fd(), libc::POLLIN);
            }
            let probe = match svc.state() {
                State::Starting => run.check.as_ref().and_then(Check::poll_fd),
                State::Running => run.health.as_ref().and_then(Health::poll_fd),
                _ => None,
            };
            if let Some((fd, events)) = probe {
                add(Token::Other, fd, events);
            }
        }
        let stopping = self.shutdown.iter().flat_map(Shutdown::pidfds);
        let jobs = self.jobs.iter().flat_map(|j| j.plan.pidfds());
        for fd in stopping.chain(jobs) {
            add(Token::Other, fd, libc::POLLIN);
        }
        // A stopping service's cgroup.events: "empty" wakes the loop (the stop reads it
        // again, which re-arms it).
        let emptied = self.shutdown.iter().flat_map(Shutdown::event_fds);
        let job_groups = self.jobs.iter().flat_map(|j| j.plan.event_fds());
        for fd in emptied.chain(job_groups) {
            add(Token::Other, fd, libc::POLLPRI);
        }
        if let Some(control) = &self.control {
            for (slot, fd, events) in control.poll_fds() {
                let token = match slot {
                    Slot::Listener => Token::Listener,
                    Slot::Conn(id) => Token::Client(id),
                };
                add(token, fd, events);
            }
        }
    }

    /// Handle one ready fd.
    fn dispatch(&mut self, token: Token) {
        match token {
            Token::Signals => self.drain_signals(),
            Token::Notify => self.read_notify(),
            Token::Log(i) => self.drain_log(i, false),
            Token::Listener => {
                if let Some(control) = &mut self.control {
                    control.accept(Instant::now());
                }
            }
            Token::Client(id) => self.serve_client(id),
            Token::DirWatch => {
                let paths = self
                    .dirwatch
                    .as_ref()
                    .map(DirWatch::drain)
                    .unwrap_or_default();
                for check in self
                    .services
                    .iter_mut()
                    .filter_map(|s| s.run.check.as_mut())
                {
                    for path in &paths {
                        check.poke(path);
                    }
                }
            }
            Token::Stdout | Token::Stderr => self.flush_outputs(),
            Token::Other => {}
        }
    }

    /// Write the queued service lines and rinit's own lines as far as stdout and stderr
    /// take them now; report drops once an output has drained.
    fn flush_outputs(&mut self) {
        if self.output.drops_began() {
            warn!("stdout is not keeping up: dropping service lines until it does");
        }
        if let Some(n) = self.output.flush() {
            warn!("stdout did not keep up: {n} service line(s) dropped");
        }
        logs::flush_rinit_lines();
    }

    /// Handle every pending signal. A short batch means the signalfd is empty; anything
    /// arriving later makes it readable again for the next poll(2).
    fn drain_signals(&mut self) {
        let mut batch = [0; signals::BATCH];
        loop {
            let count = self.signals.read_batch(&mut batch);
            for &signo in batch.iter().take(count) {
                self.on_signal(signo);
            }
            if count < signals::BATCH {
                break;
            }
        }
    }

    /// Dispatch one signal through the table in `signals`.
    fn on_signal(&mut self, signo: i32) {
        match signals::disposition_for(signo, self.vm) {
            Disposition::Reap => self.reap(),
            Disposition::Shutdown => self.on_trigger(signo),
            Disposition::Forward if signo == libc::SIGHUP && !self.has_main() => {
                if self.shutdown.is_some() {
                    info!("SIGHUP received; shutting down, so no reload");
                } else if let Err(e) = self.reload() {
                    warn!("SIGHUP: {e}");
                }
            }
            Disposition::Forward => self.forward(signo),
            Disposition::Ignore | Disposition::Default => {}
        }
    }

    /// rinit, PID 1, is alone in its namespace. A main process it has not seen end
    /// says no without a system call; after a reap that found no child, only a process
    /// that came in from outside can be left: a census rules that out if no pid was
    /// handed out since it was taken, else /proc's listing.
    fn alone_in_namespace(&mut self) -> bool {
        if self.services.iter().any(|s| s.pid.is_some()) {
            return false;
        }
        if !self.childless.holds() {
            return proctree::alone_in_namespace(self.me);
        }
        let census = self.census.take();
        let proven = census.is_some_and(|c| c.proves_alone(self.read_pid_cursor()));
        if proven {
            debug!("alone in the namespace: no pid was handed out since the last look");
            return true;
        }
        proctree::nobody_else_listed(self.me)
    }

    /// rinit made a child since the last census was taken at idle (and remembers now).
    fn spawned_since_census(&mut self) -> bool {
        let spawned = crate::process::spawned();
        std::mem::replace(&mut self.census_spawns, spawned) != spawned
    }

    /// The namespace's pid cursor, if a census opened it.
    fn read_pid_cursor(&self) -> Option<u64> {
        self.pid_cursor.as_ref()?.as_ref()?.read()
    }

    /// Look at the namespace now, for a later moment that needs to know who is there
    /// (see [`Census`]): when rinit goes idle after starting something (for the first
    /// round of a shutdown), and when a shutdown waits only for rinit's own children to
    /// exit (for after the last reap). One kept from earlier is kept while no pid was
    /// handed out since. Not in VM mode: there the kernel's threads are listed too, so no
    /// census could prove anything.
    fn take_census(&mut self) {
        if self.scope != Scope::Namespace || !self.proc_ok || self.vm {
            return;
        }
        if let Some(census) = self.census {
            if census.is_current(self.read_pid_cursor()) {
                return;
            }
        }
        let cursor = self.pid_cursor.get_or_insert_with(PidCursor::open);
        let Some(cursor) = cursor.as_ref() else {
            return;
        };
        let children: Vec<i32> = self.services.iter().filter_map(|s| s.run.child).collect();
        // One that saw someone else is no use: the next round looks again.
        let census = Census::take(cursor, self.me, &children, self.shutdown.is_some());
        self.census = census.filter(Census::is_useful);
        if self.census.is_some() {
            debug!("census: only rinit and its children are in the namespace");
        }
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name() == name)
    }

    /// Reap every zombie, and hand each status to whoever waits for it.
    fn reap(&mut self) {
        // A forking daemon sends MAINPID=N and then its first process exits: read what it
        // said before deciding what that exit means.
        self.read_notify();
        let now = Instant::now();
        loop {
            let mut raw = 0;
            // SAFETY: raw is a valid out-pointer.
            let pid = unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG) };
            if pid <= 0 {
                let none = pid < 0 && nix::errno::Errno::last() == nix::errno::Errno::ECHILD;
                self.childless = match none {
                    true => crate::process::Childless::now(),
                    false => crate::process::Childless::default(),
                };
                break;
            }
            let status = ExitStatus::from_raw(raw);
            for svc in self
                .services
                .iter_mut()
                .filter(|s| s.run.child == Some(pid))
            {
                svc.run.child = None;
            }
            if let Some(i) = self.services.iter().position(|s| s.pid == Some(pid)) {
                // Print what it wrote before saying it exited.
                self.drain_log(i, true);
                self.on_service_exit(i, status, now);
            } else if let Some(i) = self.services.iter_mut().position(|s| {
                s.run
                    .check
                    .as_mut()
                    .is_some_and(|c| c.on_exit(pid, status, now))
            }) {
                debug!("ready probe (pid {pid}) exited: {status}");
                self.after_check(i, status);
            } else if let Some(i) = self.services.iter_mut().position(|s| {
                s.run
                    .health
                    .as_mut()
                    .is_some_and(|h| h.on_exit(pid, status))
            }) {
                debug!("health check (pid {pid}) exited: {status}");
                self.after_check(i, status);
            } else if let Some(i) = self.services.iter_mut().position(|s| {
                let dropped = &mut s.run.dropped_checks;
                let at = dropped.iter().position(|p| *p == pid);
                at.map(|at| dropped.swap_remove(at)).is_some()
            }) {
                debug!("check (pid {pid}), dropped with its service's state, exited: {status}");
                self.after_check(i, status);
            } else {
                debug!("reaped pid {pid}: {status}");
            }
        }
    }

    /// Read what service `i` wrote (and its last line without a newline, if it exited):
    /// onto rinit's stdout, into its ring for `ctl logs`, and to its `ctl logs -f`
    /// followers.
    fn drain_log(&mut self, i: usize, exited: bool) {
        let Some(svc) = self.services.get_mut(i) else {
            return;
        };
        let Some(log) = svc.run.log.as_mut() else {
            return;
        };
        let name = &svc.cfg.name;
        let group = svc.cfg.instance_of.as_ref();
        log.followed = self
            .followers
            .iter()
            .any(|(_, f)| f == name || Some(f) == group);
        log.drain(&mut self.output);
        if exited {
            log.flush_partial(&mut self.output);
        }
        let fresh = log.take_fresh();
        if self.followers.is_empty() || fresh.is_empty() {
            return;
        }
        let name = svc.cfg.name.clone();
        let group = svc.cfg.instance_of.clone();
        let Some(control) = &mut self.control else {
            return;
        };
        self.followers.retain(|(id, _)| control.has(*id));
        for (id, followed) in &self.followers {
            // A follower of the whole group gets each line after its instance's name.
            let prefix = match followed {
                f if *f == name => "",
                f if group.as_ref() == Some(f) => name.as_str(),
                _ => continue,
            };
            for line in &fresh {
                let text = String::from_utf8_lossy(line);
                let line = match prefix {
                    "" => text.into_owned(),
                    p => format!("{p} | {text}"),
                };
                control.reply(*id, &control::Reply::Line { line });
            }
        }
    }

    /// Forward a signal to the main service (tini's behaviour).
    fn forward(&self, sig: i32) {
        let main = self
            .index_of(MAIN)
            .and_then(|i| self.services.get(i))
            .and_then(|s| s.pid);
        match main {
            Some(pid) => {
                debug!("forwarding {} to main (pid {pid})", signals::name(sig));
                if let Err(err) = crate::process::signal_child(pid, sig) {
                    warn!("cannot forward {} to main: {err}", signals::name(sig));
                }
            }
            None => debug!(
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
        self.action = PowerAction::for_signal(sig);
        // Joined by hand: the formatting machinery is the slowest part of the way from
        // the signal to the plan.
        let mut reason = signals::name(sig);
        reason.push_str(" received");
        self.begin_shutdown(reason, sig == libc::SIGINT);
    }

    // ----- starting and supervising -------------------------------------------------

    /// Move services along: start the unblocked, restart the backed-off, promote the
    /// ready, fail the late. Repeats until nothing changes, so a chain of services that
    /// are ready at once starts in one wakeup.
    fn schedule(&mut self, now: Instant) {
        let mut changed = true;
        while changed && self.shutdown.is_none() {
            changed = false;
            for i in 0..self.services.len() {
                changed |= self.step(i, now);
            }
        }
    }

    /// One service's step; true if its state changed.
    fn step(&mut self, i: usize, now: Instant) -> bool {
        let Some(svc) = self.services.get(i) else {
            return false;
        };
        match svc.state() {
            State::Waiting => match self.dependency_verdict(i) {
                Verdict::Ready => self.start(i, now),
                Verdict::Wait => false,
                Verdict::Blocked(reason) => {
                    self.end_for_good(i, State::Blocked, reason, now);
                    true
                }
            },
            State::Backoff if svc.timer.is_some_and(|t| now >= t) => self.start(i, now),
            State::Starting => self.check_ready(i, now),
            State::Running => self.check_health(i, now) || self.check_watchdog(i, now),
            _ => false,
        }
    }

    fn dependency_verdict(&self, i: usize) -> Verdict {
        let mut ready = true;
        for &d in self.graph.deps(i) {
            let Some(dep) = self.services.get(d) else {
                continue;
            };
            match dep.state() {
                State::Failed | State::Blocked | State::Stopped => {
                    return Verdict::Blocked(format!(
                        "dependency {} is {}",
                        dep.name(),
                        dep.state()
                    ));
                }
                _ if dep.satisfies_dependents() => {}
                _ => ready = false,
            }
        }
        if ready { Verdict::Ready } else { Verdict::Wait }
    }

    /// Spawn service `i`. True (its state changed) even when the spawn failed.
    fn start(&mut self, i: usize, now: Instant) -> bool {
        if let Some(refusal) = self.services.get(i).and_then(|s| s.run.refusal.clone()) {
            if let Some(svc) = self.services.get_mut(i) {
                transition(svc, Event::Start, now);
            }
            self.end_for_good(i, State::Failed, refusal, now);
            return true;
        }
        self.ensure_group(i);
        let join = self.services.get(i).and_then(|s| self.join_fd(s));
        if join.is_none() {
            // Tracked through /proc this run, as the log said: no group to go by.
            self.drop_group(i);
        }
        let oom_kills = self.oom_kills(i);
        let result = self.spawn(i, join);
        let Some(svc) = self.services.get_mut(i) else {
            return false;
        };
        svc.run.oom_kills_at_start = oom_kills;
        svc.run.oom_kills_at_last_check = oom_kills;
        if let Err(e) = take(svc, Event::Start, now) {
            error!("{e}");
            return false;
        }
        match result {
            Ok(pid) => {
                info!("started {} (pid {pid})", svc.name());
                svc.pid = Some(pid);
                svc.run.child = Some(pid);
                svc.session = Some(pid);
                if svc.run.check.is_none() && !svc.cfg.oneshot {
                    transition(svc, Event::Ready, now);
                }
            }
            Err(e) => {
                error!("{}: {e}", svc.name());
                self.on_service_exit(i, ExitStatus::Code(crate::spawn::EXIT_NOT_EXECUTABLE), now);
            }
        }
        true
    }

    fn spawn(&self, i: usize, cgroup: Option<OwnedFd>) -> Result<i32, String> {
        let Some(svc) = self.services.get(i) else {
            return Err("no such service".into());
        };
        let cfg = &svc.cfg;
        let mut file = None;
        let stdio = match &cfg.log {
            LogTarget::Inherit => Stdio::Inherit,
            LogTarget::Prefix => svc
                .run
                .log
                .as_ref()
                .map_or(Stdio::Inherit, |l| Stdio::Fd(l.writer())),
            LogTarget::Null => self
                .null
                .as_ref()
                .map_or(Stdio::Inherit, |n| Stdio::Fd(n.as_raw_fd())),
            // A rotated file: rinit reads the pipe and writes the file itself.
            LogTarget::File(_) if svc.run.log.is_some() => svc
                .run
                .log
                .as_ref()
                .map_or(Stdio::Inherit, |l| Stdio::Fd(l.writer())),
            LogTarget::File(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
                let fd = f.as_raw_fd();
                file = Some(f);
                Stdio::Fd(fd)
            }
        };
        let mut env = cfg.env.clone();
        if let Some(n) = self.notify.as_ref().filter(|_| cfg.speaks_notify()) {
            env.push(("NOTIFY_SOCKET".to_string(), n.address.clone()));
        }
        if let Some(period) = cfg.watchdog {
            env.push(("WATCHDOG_USEC".to_string(), period.as_micros().to_string()));
        }
        let stdin = if cfg.log == LogTarget::Inherit {
            None
        } else {
            self.null.as_ref().map(|n| n.as_raw_fd())
        };
        // `docker run -it IMAGE -- sh`: main gets the terminal, as under tini.
        let foreground = cfg.name == MAIN
            && stdin.is_none()
            && nix::unistd::isatty(std::io::stdin().as_fd()).unwrap_or(false);
        let pid = Spawn::new(&cfg.name, &cfg.exec, stdio)?
            .stdin(stdin)
            .foreground(foreground)
            .env(&env)?
            .watchdog_pid(cfg.watchdog.is_some())
            .settings(settings_of(cfg))
            .workdir(cfg.workdir.as_deref())?
            .credentials(svc.run.creds.clone())
            .cgroup(cgroup)
            .join_after_fork(svc.run.join_after_fork)
            .spawn()
            .map_err(|e| format!("fork failed: {e}"))?;
        drop(file);
        Ok(pid)
    }

    /// The cgroup directory a service's child is born in or joins (None: no group, or it cannot be
    /// opened — then the service runs tracked through /proc, and the log says why).
    fn join_fd(&self, svc: &Service) -> Option<OwnedFd> {
        let group = svc.run.group.as_ref()?;
        match group.join_fd() {
            Ok(fd) => Some(fd),
            Err(e) => {
                warn!("{}: cannot open its cgroup directory: {e}", svc.name());
                None
            }
        }
    }

    /// A starting service: ready yet, or too late?
    fn check_ready(&mut self, i: usize, now: Instant) -> bool {
        let Some(svc) = self.services.get_mut(i) else {
            return false;
        };
        let Some(check) = svc.run.check.as_mut() else {
            return false;
        };
        if check.advance(&svc.cfg.name, now) {
            info!("{} is ready", svc.name());
            return take(svc, Event::Ready, now).is_ok();
        }
        if svc.timer.is_some_and(|t| now >= t) {
            let reason = format!("not ready after {} ms", svc.cfg.ready_timeout.as_millis());
            if svc.cfg.critical {
                // The shutdown this starts stops it like everything else.
                self.end_for_good(i, State::Failed, reason, now);
            } else {
                // The same stop as any other (its tree, its signal, its timeout), then
                // `failed`; its dependents are blocked.
                warn!("{} failed: {reason}; stopping it", svc.name());
                svc.reason = Some(reason);
                let plan = [(svc.cfg.name.clone(), commands::After::Failed)];
                self.stop_job(&[i], &plan);
            }
            return true;
        }
        false
    }

    /// A running service's health check: due, done, or past its timeout? After too many
    /// failures the service is restarted by the same stop as any other (its tree, its
    /// signal, its timeout), then the usual backoff and restart limit; its dependents
    /// are left alone. True if its state changed.
    fn check_health(&mut self, i: usize, now: Instant) -> bool {
        let Some(svc) = self.services.get_mut(i) else {
            return false;
        };
        let name = svc.cfg.name.clone();
        let Some(reason) = svc.run.health.as_mut().and_then(|h| h.advance(&name, now)) else {
            return false;
        };
        warn!("{name} is unhealthy ({reason}); restarting it");
        svc.reason = Some(format!("unhealthy: {reason}"));
        self.stop_job(&[i], &[(name, commands::After::Restart)]);
        true
    }

    /// The stop of an unhealthy service is over: back off and start it again, as if it
    /// had exited, unless that goes past the restart limit.
    fn restart_unhealthy(&mut self, i: usize, now: Instant) {
        self.restart_within_limit(i, now, "unhealthy, and ");
    }

    /// Back off and start service `i` again, unless that is one restart too many: then
    /// it has failed (`why` opens the reason).
    fn restart_within_limit(&mut self, i: usize, now: Instant, why: &str) {
        let Some(svc) = self.services.get_mut(i) else {
            return;
        };
        if service::within_limit(&mut svc.restart_history, now) {
            transition(svc, Event::Restart, now);
            let delay = svc.backoff.unwrap_or_default();
            info!("{}: restarting in {} ms", svc.name(), delay.as_millis());
            return;
        }
        let reason = format!(
            "{why}restarted {} times within {} s",
            service::RESTART_LIMIT,
            service::RESTART_WINDOW.as_secs()
        );
        self.end_for_good(i, State::Failed, reason, now);
    }

    /// The main process of service `i` exited with `status`.
    fn on_service_exit(&mut self, i: usize, status: ExitStatus, now: Instant) {
        let stopping = self.shutdown.is_some();
        let Some(svc) = self.services.get_mut(i) else {
            return;
        };
        svc.pid = None;
        svc.last_exit = Some(status);
        // ERRNO= / EXIT_STATUS= said during this run belong with this exit.
        svc.last_exit_note = svc.notified.failure.take();
        let was = svc.state();
        info!("{} exited: {status}", svc.name());
        let oom = self.oom_reason(i, status == ExitStatus::Signal(libc::SIGKILL));
        if let Some(oom) = &oom {
            warn!("{}: {oom}", self.services.get(i).map_or("?", |s| s.name()));
            if let Some(svc) = self.services.get_mut(i) {
                svc.last_exit_note = Some(oom.clone());
            }
        }
        let Some(svc) = self.services.get_mut(i) else {
            return;
        };
        if stopping || !matches!(was, State::Starting | State::Running | State::Paused) {
            return;
        }
        let success = svc.is_success(status);
        if svc.cfg.oneshot && success {
            self.end_for_good(i, State::Exited, String::new(), now);
            return;
        }
        if service::wants_restart(svc.cfg.restart, success) {
            self.restart_within_limit(i, now, "");
            return;
        }
        let (to, reason) = match (success, oom) {
            (true, _) => (State::Exited, String::new()),
            (false, Some(oom)) => (State::Failed, format!("{status}: {oom}")),
            (false, None) => (State::Failed, status.to_string()),
        };
        self.end_for_good(i, to, reason, now);
    }

    /// Service `i` will not run again: record why, and end the run if it is critical.
    fn end_for_good(&mut self, i: usize, to: State, reason: String, now: Instant) {
        let Some(svc) = self.services.get_mut(i) else {
            return;
        };
        let event = match to {
            State::Exited => Event::Finish,
            State::Blocked => Event::Block,
            _ => Event::Fail,
        };
        if let Err(e) = take(svc, event, now) {
            error!("{e}");
            return;
        }
        if !reason.is_empty() {
            warn!("{} {to}: {reason}", svc.name());
            svc.reason = Some(reason.clone());
        }
        if !svc.cfg.critical || self.shutdown.is_some() {
            return;
        }
        let code = match (to, svc.last_exit) {
            (State::Exited, _) => 0,
            (_, Some(status)) if svc.is_success(status) => 0,
            (_, Some(status)) => status.as_code(),
            (_, None) => 1,
        };
        self.exit_code = Some(code);
        let why = format!("critical service {} {to}", svc.name());
        self.begin_shutdown(why, false);
    }

    /// Datagrams on the notify socket, each from a process of one of the live services
    /// (checked with the sender's kernel-supplied pid), or ignored.
    fn read_notify(&mut self) {
        let now = Instant::now();
        // At most a batch per wakeup: a flooding service cannot hold PID 1 here (the
        // socket stays readable, so the rest comes on the next turn of the loop).
        for _ in 0..NOTIFY_BATCH {
            let Some(datagram) = self.notify.as_ref().and_then(NotifySocket::recv) else {
                return;
            };
            let pid = datagram.pid;
            let notice = notify::parse(&datagram.text);
            let owner = self
                .services
                .iter()
                .position(|s| s.state().is_live() && is_of(s, pid));
            match owner {
                Some(i) => self.on_notice(i, notice, now),
                None if notice.ready => {
                    warn!("READY=1 from pid {pid}, which belongs to no starting service; ignored")
                }
                None => debug!("notify message from pid {pid}, which belongs to no service"),
            }
            // Its fds close here: the barrier's answer, after the sender was checked.
            drop(datagram);
        }
    }

    /// What service `i` said on the notify socket (see the README's table).
    fn on_notice(&mut self, i: usize, notice: Notice, now: Instant) {
        let Some(svc) = self.services.get_mut(i) else {
            return;
        };
        let notified = &mut svc.notified;
        if let Some(status) = notice.status {
            notified.status = Some(status);
        }
        if notice.reloading {
            notified.phase = Some("reloading");
        }
        if notice.stopping {
            notified.phase = Some("stopping");
        }
        let failure = match (notice.errno, &notice.exit_status) {
            (Some(e), _) => Some(format!(
                "ERRNO={e} ({})",
                nix::errno::Errno::from_raw(e).desc()
            )),
            (None, Some(status)) => Some(format!("EXIT_STATUS={status}")),
            (None, None) => None,
        };
        if failure.is_some() {
            notified.failure = failure;
        }
        let mut reload_done = false;
        if notice.ready {
            if notified.phase == Some("reloading") {
                notified.phase = None;
                reload_done = true;
            }
            if let Some(check) = svc.run.check.as_mut() {
                check.notify_ready();
            }
        }
        if reload_done {
            let name = svc.cfg.name.clone();
            self.reloaded(&name);
        }
        if let Some(pid) = notice.mainpid {
            self.take_main_pid(i, pid);
        }
        if let Some(more) = notice.extend_timeout {
            self.extend_timeout(i, more, now);
        }
        match notice.watchdog {
            Some(Watchdog::Ping) => {
                if let Some(svc) = self.services.get_mut(i) {
                    if let (Some(_), Some(period)) = (svc.run.watchdog_at, svc.cfg.watchdog) {
                        svc.run.watchdog_at = now.checked_add(period);
                    }
                }
            }
            Some(Watchdog::Trigger) => self.watchdog_expired(i, "WATCHDOG=trigger"),
            None => {}
        }
    }

    /// `MAINPID=N`: accepted only if N is one of the service's own processes (the
    /// forking-daemon case); rinit then waits for N as the service's main process.
    fn take_main_pid(&mut self, i: usize, pid: i32) {
        let Some(svc) = self.services.get_mut(i) else {
            return;
        };
        let ours = is_of(svc, pid);
        if !ours || pid == self.me {
            warn!(
                "{}: MAINPID={pid} is not one of its processes; ignored",
                svc.name()
            );
            return;
        }
        // Its exit must come to rinit: it is rinit's child already, or the child of the
        // main process, whose exit (what a forking daemon's first process does next)
        // hands it to rinit, PID 1 or a subreaper.
        let parent = proctree::read_proc(pid).map(|p| p.ppid);
        if parent != Some(self.me) && parent.is_none_or(|pp| Some(pp) != svc.pid) {
            warn!(
                "{}: MAINPID={pid} is neither a child of its main process nor of rinit, so rinit could not see it exit; ignored",
                svc.name()
            );
            return;
        }
        if svc.pid != Some(pid) {
            info!("{}: main process is now pid {pid} (MAINPID)", svc.name());
            svc.pid = Some(pid);
        }
    }

    /// `EXTEND_TIMEOUT_USEC=N`: the ready timeout of a starting service, or the stop
    /// timeout of a stopping one, ends no sooner than N from now — never past the
    /// shutdown's own deadline.
    fn extend_timeout(&mut self, i: usize, more: Duration, now: Instant) {
        let Some(svc) = self.services.get_mut(i) else {
            return;
        };
        let name = svc.cfg.name.clone();
        match svc.state() {
            State::Starting => {
                if let (Some(timer), Some(until)) = (svc.timer, now.checked_add(more)) {
                    svc.timer = Some(timer.max(until));
                    debug!("{name}: ready timeout extended by {more:?}");
                }
            }
            State::Stopping => {
                let stops = self
                    .shutdown
                    .iter_mut()
                    .chain(self.jobs.iter_mut().map(|j| &mut j.plan));
                for plan in stops {
                    plan.extend_stop(&name, more, now);
                }
            }
            _ => {}
        }
    }

    /// A running service with a watchdog: has `WATCHDOG=1` come in time? True if its
    /// state changed.
    fn check_watchdog(&mut self, i: usize, now: Instant) -> bool {
        let expired = self
            .services
            .get(i)
            .and_then(|s| s.run.watchdog_at)
            .is_some_and(|at| now >= at);
        if expired {
            self.watchdog_expired(i, "no WATCHDOG=1 in time");
        }
        expired
    }

    /// The watchdog ran out (or `WATCHDOG=trigger`): as systemd does, SIGABRT to the main
    /// process first so that it can dump core, then the normal stop and a restart, as for
    /// an unhealthy service.
    fn watchdog_expired(&mut self, i: usize, why: &str) {
        let Some(svc) = self.services.get_mut(i) else {
            return;
        };
        if svc.state() != State::Running {
            return;
        }
        let period = svc.cfg.watchdog.unwrap_or_default();
        warn!(
            "{}: watchdog timeout ({why}, watchdog {period:?}); SIGABRT, then restarting it",
            svc.name()
        );
        svc.run.watchdog_at = None;
        svc.reason = Some(format!("watchdog timeout ({why})"));
        if let Some(pid) = svc.pid {
            let _ = crate::process::kill(pid, libc::SIGABRT);
        }
        let name = svc.cfg.name.clone();
        self.stop_job(&[i], &[(name, commands::After::Restart)]);
    }

    // ----- shutdown ------------------------------------------------------------------

    /// Start the one shutdown path (DESIGN §4). `interrupt`: the trigger was SIGINT.
    fn begin_shutdown(&mut self, reason: String, interrupt: bool) {
        let now = Instant::now();
        // Stops already under way for `ctl` become part of the shutdown.
        self.jobs.clear();
        let all: Vec<usize> = (0..self.services.len()).collect();
        let mut stages = self.stop_stages(&all, interrupt);
        let mut ports = self.global.sweep_ports.clone();
        let mut patterns = self.global.sweep_patterns.clone();
        for svc in &self.services {
            ports.extend(svc.cfg.ports.iter().copied());
            patterns.extend(svc.cfg.patterns.iter().cloned());
        }
        stages.push(Stage::Sweep(Target::Sweep {
            scope: self.scope,
            ports,
            patterns,
        }));
        let reason = if self.vm {
            format!("{reason}; then {}", self.action.name())
        } else {
            reason
        };
        let sd = Shutdown::new(reason, now, self.global.shutdown_timeout, stages);
        info!(
            "shutting down ({}): {} service(s), deadline in {} s",
            sd.reason,
            self.services.len(),
            sd.deadline.duration_since(now).as_secs()
        );
        self.shutdown = Some(sd);
        self.cancel_reloads();
        // Its first round runs whatever woke rinit.
        self.quiet_wakeup = false;
    }

    /// The stops of the services in `set`: each service is marked `stopping` (or
    /// `stopped`, if it had nothing running) and, if it ever ran, gets a [`StopSpec`]
    /// that waits for the stops of the services depending on it (through any that have
    /// nothing to stop), and for nothing else.
    fn stop_stages(&mut self, set: &[usize], interrupt: bool) -> Vec<Stage> {
        let order = self.graph.stop_order().to_vec();
        let mut specs: Vec<(usize, StopSpec)> = Vec::new();
        for i in order.into_iter().filter(|i| set.contains(i)) {
            if let Some(spec) = self.stop_spec(i, interrupt) {
                specs.push((i, spec));
            }
        }
        let has_spec: Vec<usize> = specs.iter().map(|(i, _)| *i).collect();
        let pending: Vec<Pending> = specs
            .into_iter()
            .map(|(i, spec)| {
                let after = self
                    .stopping_dependents(i, &has_spec)
                    .into_iter()
                    .filter_map(|d| self.services.get(d).map(|s| s.cfg.name.clone()))
                    .collect();
                Pending { spec, after }
            })
            .collect();
        if pending.is_empty() {
            return Vec::new();
        }
        vec![Stage::Services(pending)]
    }

    /// The nearest services among `stopping` that depend on `i`: its dependents that are
    /// in it, and for one that is not, its own such dependents.
    fn stopping_dependents(&self, i: usize, stopping: &[usize]) -> Vec<usize> {
        let mut found = Vec::new();
        let mut seen = vec![false; self.graph.len()];
        let mut todo: Vec<usize> = self.graph.direct_dependents(i).to_vec();
        while let Some(d) = todo.pop() {
            match seen.get_mut(d) {
                Some(flag) if !*flag => *flag = true,
                _ => continue,
            }
            if stopping.contains(&d) {
                found.push(d);
            } else {
                todo.extend_from_slice(self.graph.direct_dependents(d));
            }
        }
        found.sort_unstable();
        found
    }

    fn stop_spec(&mut self, i: usize, interrupt: bool) -> Option<StopSpec> {
        let now = Instant::now();
        let svc = self.services.get_mut(i)?;
        // A frozen group is thawed just before its signal (a service paused with SIGSTOP
        // gets a SIGCONT after it instead).
        let paused = svc.state() == State::Paused;
        if svc.state().is_live() {
            transition(svc, Event::Stop, now);
        } else if matches!(
            svc.state(),
            State::Waiting | State::Backoff | State::Blocked
        ) {
            transition(svc, Event::Cancel, now);
        }
        let session = svc.session?;
        // Ctrl+C stops the main command with SIGINT, as a terminal would.
        let mut signal = svc.cfg.stop_signal;
        if interrupt && svc.cfg.name == MAIN && signal == libc::SIGTERM {
            signal = libc::SIGINT;
        }
        let main_pid = svc.pid;
        if !self.proc_ok {
            if let Some(pid) = main_pid {
                // Without /proc only the main process itself can be stopped.
                let _ = crate::process::signal_child(pid, signal);
            }
        }
        let stop_exec = match main_pid.map(|pid| self.stop_exec(i, pid)) {
            Some(Ok(exec)) => exec,
            Some(Err(e)) => {
                warn!("{e}");
                None
            }
            None => None,
        };
        let svc = self.services.get(i)?;
        Some(StopSpec {
            name: svc.cfg.name.clone(),
            target: Target::Service {
                main_pid,
                session,
                mode: svc.cfg.stop_mode,
                cgroup: svc.run.group.as_ref().map(|g| g.dir().to_path_buf()),
            },
            signal,
            timeout: svc.cfg.stop_timeout,
            delay: svc.cfg.stop_delay,
            stop_exec,
            files: svc.run.group.as_ref().and_then(|g| g.files()),
            paused,
        })
    }

    /// The service's `stop_exec`, ready to spawn with its environment (plus `MAINPID`),
    /// user and workdir; stdout and stderr go where the service's go.
    fn stop_exec(&self, i: usize, main_pid: i32) -> Result<Option<Spawn>, String> {
        let Some(svc) = self.services.get(i) else {
            return Ok(None);
        };
        let Some(argv) = &svc.cfg.stop_exec else {
            return Ok(None);
        };
        let stdio = svc
            .run
            .log
            .as_ref()
            .map_or(Stdio::Inherit, |l| Stdio::Fd(l.writer()));
        let mut env = svc.cfg.env.clone();
        env.push(("MAINPID".to_string(), main_pid.to_string()));
        let name = format!("{} stop_exec", svc.cfg.name);
        let spawn = Spawn::new(&name, argv, stdio)?
            .env(&env)?
            .workdir(svc.cfg.workdir.as_deref())?
            .credentials(svc.run.creds.clone());
        Ok(Some(spawn))
    }

    /// Report survivors and the shutdown, and compute the exit status (DESIGN §1).
    fn finish(&mut self) -> i32 {
        // Removes the control socket, and the notify socket's file if it has one.
        self.control = None;
        self.notify = None;
        self.remove_groups();
        let now = Instant::now();
        for svc in &mut self.services {
            if svc.state() == State::Stopping {
                transition(svc, Event::Gone, now);
            }
        }
        // Survivors are possible only when the deadline cut the shutdown short: otherwise
        // the sweep ended on a scan that found nothing alive.
        let cut_short = self.shutdown.as_ref().is_none_or(Shutdown::timed_out);
        if let Some(Ok(snap)) =
            (self.proc_ok && cut_short).then(|| Snapshot::scan_without(self.me, &[]))
        {
            let left = snap.in_scope(self.scope, self.me);
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
        // No fd of rinit's may keep /proc busy when VM mode unmounts it (elsewhere the
        // exit closes it).
        if self.vm {
            proctree::close_proc_dir();
            self.pid_cursor = None;
        }
        if let Some(code) = self.exit_code {
            return code;
        }
        match self.index_of(MAIN).and_then(|i| self.services.get(i)) {
            Some(main) => match main.last_exit {
                Some(status) if main.is_success(status) => 0,
                Some(status) => status.as_code(),
                None if main.session.is_none() => 1,
                None => {
                    error!("main could not be stopped");
                    1
                }
            },
            None => 0,
        }
    }
}

/// Give `svc` an event: the table moves its state and keeps its record
/// ([`Service::on`]); the system calls that asks for are made here.
pub(super) fn take(svc: &mut Service, event: Event, now: Instant) -> Result<State, String> {
    let taken = svc.on(event, now)?;
    for (pgid, group) in taken.groups_to_kill {
        // Unreaped: the check's pid is still its own.
        crate::probe::kill_leftovers(pgid, &group, crate::probe::Reaped::No);
        svc.run.dropped_checks.push(pgid);
    }
    Ok(taken.state)
}

/// [`take`] an event the caller knows the state takes; a refusal is a bug in rinit,
/// logged, never silently dropped.
pub(super) fn transition(svc: &mut Service, event: Event, now: Instant) {
    if let Err(e) = take(svc, event, now) {
        error!("{e}");
    }
}

/// The limits and settings a service's process gets before exec.
fn settings_of(cfg: &ServiceConfig) -> crate::spawn::Settings {
    let limits = cfg.limits.iter().filter_map(|l| {
        let (resource, label) = crate::spawn::resource_named(&l.name)?;
        Some(crate::spawn::Limit {
            resource,
            soft: l.soft,
            hard: l.hard,
            label,
        })
    });
    crate::spawn::Settings {
        limits: limits.collect(),
        nice: cfg.nice,
        umask: cfg.umask,
        oom_score_adj: cfg.oom_score_adj,
    }
}

/// The notify socket, if a service is ready by `READY=1`.
fn notify_socket_for(config: &Config) -> Result<Option<NotifySocket>, String> {
    let wanted = config.services.iter().any(ServiceConfig::speaks_notify);
    if !wanted {
        return Ok(None);
    }
    NotifySocket::bind_at(config.rinit.notify_socket.as_deref())
        .map(Some)
        .map_err(|e| format!("cannot create the notify socket: {e}"))
}

/// Whether a service's dependencies let it start.
enum Verdict {
    Ready,
    Wait,
    Blocked(String),
}

/// Is `pid` one of `svc`'s processes: in its cgroup, or in its session or below its
/// main process?
fn is_of(svc: &Service, pid: i32) -> bool {
    let in_group = svc.run.group.as_ref().and_then(|g| g.members().ok());
    in_group.is_some_and(|m| m.contains(&pid))
        || svc.session.is_some_and(|sid| belongs_to(pid, svc.pid, sid))
}

/// Is `pid` one of a service's processes: in its session, or a descendant of its main?
fn belongs_to(pid: i32, main: Option<i32>, session: i32) -> bool {
    let mut cur = pid;
    for _ in 0..64 {
        let Some(p) = proctree::read_proc(cur) else {
            return false;
        };
        if p.session == session || Some(p.pid) == main {
            return true;
        }
        if p.ppid <= 1 {
            return false;
        }
        cur = p.ppid;
    }
    false
}

/// What rinit may touch: as PID 1, its whole PID namespace; otherwise it becomes a child
/// subreaper (so its services' orphans come to it) and keeps to its descendants.
fn claim_scope(me: i32) -> Scope {
    if me == 1 {
        return Scope::Namespace;
    }
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        warn!("cannot become a child subreaper: {e}");
    }
    Scope::Descendants
}

/// The control socket, or none (with a warning) when it can be created nowhere: the
/// configured or default path first, then the fallbacks of a non-root or read-only
/// container (see [`control::fallback_paths`]).
fn open_control(configured: Option<&Path>) -> Option<Server> {
    let first = control::socket_path(configured);
    let mut failures = Vec::new();
    for path in std::iter::once(first).chain(control::fallback_paths()) {
        match Server::bind(&path) {
            Ok(server) => {
                let why: Vec<String> = failures
                    .iter()
                    .map(|(tried, e)| format!("not {tried}: {e}"))
                    .collect();
                match why.is_empty() {
                    true => info!("control socket: {}", path.display()),
                    false => info!("control socket: {} ({})", path.display(), why.join("; ")),
                }
                return Some(server);
            }
            // Another rinit listens there, or a file that is not a socket is there:
            // that path is taken, and falling back would hide the conflict.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::AddrInUse | std::io::ErrorKind::AlreadyExists
                ) =>
            {
                warn!("no control socket at {}: {e}", path.display());
                return None;
            }
            Err(e) => failures.push((path.display().to_string(), e)),
        }
    }
    for (tried, e) in &failures {
        warn!("no control socket at {tried}: {e}");
    }
    None
}

/// Read the process table, or nothing when /proc is not this namespace's.
fn scan(proc_ok: bool, me: i32, known: &[Proc]) -> std::io::Result<Snapshot> {
    if proc_ok {
        Snapshot::scan_without(me, known)
    } else {
        Ok(Snapshot::default())
    }
}

/// The services' processes rinit forked and has not reaped, as table records that need
/// no /proc read (see [`Proc::own_child`]).
fn own_children(services: &[Service], me: i32) -> Vec<Proc> {
    services
        .iter()
        .filter_map(|s| {
            let pid = s.run.child?;
            let program = s.cfg.exec.first().map(|p| Path::new(p).file_name());
            let label = program.flatten().map(|n| n.to_string_lossy());
            Some(Proc::own_child(
                pid,
                me,
                label.as_deref().unwrap_or(s.name()),
            ))
        })
        .collect()
}

/// Were the ready fds only output to write and service lines to read? Pure.
fn only_output(tokens: &[Token], fds: &[libc::pollfd]) -> bool {
    tokens
        .iter()
        .zip(fds)
        .filter(|(_, pfd)| pfd.revents != 0)
        .all(|(token, _)| matches!(token, Token::Stdout | Token::Stderr | Token::Log(_)))
}

/// What a stop's table needs: the whole of /proc, or only the processes `pids`.
fn scan_for_stop(
    proc_ok: bool,
    me: i32,
    known: &[Proc],
    pids: Option<&[i32]>,
) -> std::io::Result<Snapshot> {
    match pids {
        Some(pids) if proc_ok => Snapshot::of_pids(pids, known),
        _ => scan(proc_ok, me, known),
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

    fn ready(fd: i32, revents: i16) -> libc::pollfd {
        libc::pollfd {
            fd,
            events: 0,
            revents,
        }
    }

    #[test]
    fn output_and_service_lines_alone_are_a_quiet_wakeup() {
        let tokens = [Token::Signals, Token::Stderr, Token::Log(0), Token::Other];
        let out = libc::POLLOUT;
        let quiet = [
            ready(3, 0),
            ready(4, out),
            ready(5, libc::POLLIN),
            ready(6, 0),
        ];
        assert!(only_output(&tokens, &quiet));
        // A signal (SIGCHLD) or a pidfd / cgroup event is news for a stop.
        let chld = [
            ready(3, libc::POLLIN),
            ready(4, out),
            ready(5, 0),
            ready(6, 0),
        ];
        assert!(!only_output(&tokens, &chld));
        let event = [
            ready(3, 0),
            ready(4, 0),
            ready(5, 0),
            ready(6, libc::POLLPRI),
        ];
        assert!(!only_output(&tokens, &event));
    }
}
