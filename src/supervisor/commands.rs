//! What the control commands do to the supervisor: status, start/stop/restart,
//! pause/resume, kill, reload and shutdown (DESIGN §6).
//!
//! Every command goes through the service state machine, so an invalid request (start
//! while stopping, resume when not paused) is refused with the state machine's reason.
//! A stop is the same per-service stop as in a shutdown, run as a [`Job`]: the service's
//! dependents stop first, in reverse dependency order; when the job is done each service
//! moves on as the job says (stays stopped, starts again, or is removed by a reload).

use std::time::{Duration, Instant};

use log::{info, warn};

use super::{Supervisor, scan, scan_for_stop, take, transition};
use crate::config::{Config, MAIN, ServiceConfig};
use crate::control::{Reply, Request, ServiceStatus, error_reply};
use crate::ready::NotifySocket;
use crate::service::{Event, Run, Service, State};
use crate::shutdown::{MAX_SHUTDOWN, Shutdown};
use crate::signals;

/// What happens to a service once its stop job is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Stay stopped (`ctl stop`).
    Stopped,
    /// Start again (`ctl restart`, or a reload that changed it).
    Start,
    /// Leave the supervisor (a reload removed it).
    Remove,
    /// It was stopped because it failed (not ready in time).
    Failed,
    /// It was stopped because it was unhealthy: start it again after its backoff, within
    /// its restart limit.
    Restart,
}

/// A `ctl reload NAME` waiting for the service to say it is done.
pub struct PendingReload {
    client: u64,
    /// What the client named: a service, or one with `instances` (then all of them).
    asked: String,
    /// The services yet to say `READY=1`.
    waiting: Vec<String>,
    /// What the reply says besides: instances that could not reload.
    notes: Vec<String>,
    pub deadline: Instant,
}

/// A stop requested by a command.
pub struct Job {
    pub plan: Shutdown,
    after: Vec<(String, After)>,
}

impl Supervisor {
    pub(super) fn has_main(&self) -> bool {
        self.services.iter().any(|s| s.name() == MAIN)
    }

    /// Drive the command stops; apply what follows each finished one.
    pub(super) fn advance_jobs(&mut self, now: Instant) {
        if self.jobs.is_empty() {
            return;
        }
        let (proc_ok, me) = (self.proc_ok, self.me);
        let known = super::own_children(&self.services, me);
        for job in &mut self.jobs {
            job.plan.advance(self.me, now, &mut |pids| {
                scan_for_stop(proc_ok, me, &known, pids)
            });
        }
        let (done, running): (Vec<Job>, Vec<Job>) =
            self.jobs.drain(..).partition(|j| j.plan.is_finished());
        self.jobs = running;
        for job in done {
            for (name, after) in job.after {
                self.after_stop(&name, after);
            }
        }
    }

    /// A stop job is done with `name`. Only the instance the job stopped is touched: a
    /// service that is no longer `stopping` was started again meanwhile.
    fn after_stop(&mut self, name: &str, after: After) {
        let Some(i) = self.index_of(name) else { return };
        let Some(svc) = self.services.get_mut(i) else {
            return;
        };
        if svc.state() != State::Stopping {
            return;
        }
        svc.pid = None;
        let now = Instant::now();
        if after == After::Restart {
            self.restart_unhealthy(i, now);
            return;
        }
        let event = match after {
            After::Failed => Event::Fail,
            _ => Event::Gone,
        };
        transition(svc, event, now);
        info!("{name} {}", svc.state());
        match after {
            After::Start => {
                transition(svc, Event::Reset, now);
                if !svc.cfg.enabled {
                    transition(svc, Event::Disable, now);
                }
            }
            After::Remove => self.remove_service(i),
            After::Stopped | After::Failed | After::Restart => {}
        }
    }

    fn remove_service(&mut self, i: usize) {
        if i < self.services.len() {
            // Its child, if rinit has not reaped it (one that survived SIGKILL), is no
            // longer among the children a census counts on: look again.
            if self.services.get(i).is_some_and(|s| s.run.child.is_some()) {
                self.census = None;
            }
            self.drop_group(i);
            self.services.remove(i);
            self.rebuild_graph();
        }
    }

    fn rebuild_graph(&mut self) {
        let pairs = self
            .services
            .iter()
            .map(|s| (s.cfg.name.as_str(), s.cfg.after.as_slice()));
        match crate::graph::Graph::new(pairs) {
            Ok(g) => self.graph = g,
            Err(e) => warn!("dependency graph after a change: {e}"),
        }
    }

    /// Start a job that stops `set` (and what depends on it, first).
    pub(super) fn stop_job(&mut self, set: &[usize], after: &[(String, After)]) {
        let stages = self.stop_stages(set, false);
        let plan = Shutdown::new("ctl".into(), Instant::now(), MAX_SHUTDOWN, stages);
        self.jobs.push(Job {
            plan,
            after: after.to_vec(),
        });
    }

    /// Read requests from a client and answer each.
    pub(super) fn serve_client(&mut self, id: u64) {
        let now = Instant::now();
        let Some(control) = &mut self.control else {
            return;
        };
        let requests = control.read(id, now);
        for request in requests {
            let reply = match request {
                Ok(Request::Logs {
                    name,
                    lines,
                    follow,
                }) => self.logs(id, &name, lines.as_deref(), follow.is_some(), now),
                Ok(Request::Reload { name: Some(name) }) if self.shutdown.is_none() => {
                    match self.reload_service(id, &name, now) {
                        Some(reply) => reply,
                        // Answered when the service says it is done.
                        None => continue,
                    }
                }
                Ok(req) => self.handle(&req),
                Err(e) => error_reply(&e),
            };
            if let Some(control) = &mut self.control {
                control.reply(id, &reply);
            }
        }
    }

    /// Answer one request.
    pub(super) fn handle(&mut self, req: &Request) -> Reply {
        match req {
            Request::Status { name } => return self.status(name.as_deref()),
            Request::Health {} => return self.health(),
            _ => {}
        }
        if let Some(sd) = &self.shutdown {
            let left = sd
                .deadline
                .saturating_duration_since(Instant::now())
                .as_secs_f64();
            let message = format!("already shutting down: {left:.1} s left");
            return match req {
                Request::Shutdown {}
                | Request::Poweroff {}
                | Request::Reboot {}
                | Request::Halt {} => ok(message),
                _ => error_reply(&format!(
                    "shutting down ({left:.1} s left): only status is served"
                )),
            };
        }
        if let Some(reply) = self.for_each_instance(req) {
            return reply;
        }
        let result = match req {
            Request::Shutdown {} | Request::Poweroff {} | Request::Reboot {} | Request::Halt {} => {
                let command = req.command();
                self.action = crate::sysinit::PowerAction::for_command(command);
                self.begin_shutdown(format!("ctl {command}"), false);
                let left = self.shutdown.as_ref().map_or(0.0, |sd| {
                    sd.deadline
                        .saturating_duration_since(Instant::now())
                        .as_secs_f64()
                });
                Ok(format!("shutting down: deadline in {left:.0} s"))
            }
            Request::Reload { name: None } => self.reload(),
            Request::Reload { name: Some(name) } => self
                .send_reload(name)
                .map(|_| format!("sent SIGHUP to {name}")),
            Request::Start { name } => self.ctl_start(name),
            Request::Stop { name } => self.ctl_stop(name, After::Stopped),
            Request::Restart { name } => self.ctl_restart(name),
            Request::Pause { name } => self.ctl_pause(name),
            Request::Resume { name } => self.ctl_resume(name),
            Request::Kill { name, signal } => self.ctl_kill(name, signal),
            Request::Status { .. } | Request::Health {} | Request::Logs { .. } => {
                Err("answered above".to_string())
            }
        };
        match result {
            Ok(message) => ok(message),
            Err(e) => error_reply(&e),
        }
    }

    /// The state of service `i` (`missing` if there is none).
    fn state_of(&self, i: usize, missing: State) -> State {
        self.services.get(i).map_or(missing, Service::state)
    }

    fn lookup(&self, name: &str) -> Result<usize, String> {
        self.index_of(name).ok_or_else(|| {
            let names: Vec<&str> = self.services.iter().map(Service::name).collect();
            format!("no service {name:?} (services: {})", names.join(", "))
        })
    }

    fn status(&self, only: Option<&str>) -> Reply {
        let now = Instant::now();
        let named = |s: &Service, n: &str| s.name() == n || s.cfg.instance_of.as_deref() == Some(n);
        if let Some(name) = only {
            if !self.services.iter().any(|s| named(s, name)) {
                if let Err(e) = self.lookup(name) {
                    return error_reply(&e);
                }
            }
        }
        let services = self
            .services
            .iter()
            .enumerate()
            .filter(|(_, s)| only.is_none_or(|n| named(s, n)))
            .map(|(i, s)| {
                let (memory_bytes, cpu_usec) = self.usage(i);
                ServiceStatus {
                    memory_bytes,
                    cpu_usec,
                    ..service_json(s, now)
                }
            })
            .collect();
        let (phase, seconds_left) = match &self.shutdown {
            Some(sd) => (
                "stopping",
                Some(sd.deadline.saturating_duration_since(now).as_secs_f64()),
            ),
            None => ("running", None),
        };
        Reply::Status {
            ok: true,
            phase,
            seconds_left,
            services,
        }
    }

    /// `ctl health`: healthy when every service that should run is running and ready
    /// (oneshots: exited successfully) and no shutdown is under way. Answered from the
    /// state table alone: no system call, so it takes microseconds.
    fn health(&self) -> Reply {
        let mut problems: Vec<String> = Vec::new();
        if self.shutdown.is_some() {
            problems.push("shutting down".to_string());
        }
        problems.extend(self.services.iter().filter_map(Service::health_problem));
        let healthy = problems.is_empty();
        let message = if healthy {
            "healthy".to_string()
        } else {
            format!("unhealthy: {}", problems.join("; "))
        };
        Reply::Health {
            ok: true,
            healthy,
            message,
            problems,
        }
    }

    fn ctl_start(&mut self, name: &str) -> Result<String, String> {
        let i = self.lookup(name)?;
        let state = self.state_of(i, State::Waiting);
        if !state.is_final() {
            return Err(format!(
                "{name} is {state}; start applies to a stopped, exited, failed or blocked service"
            ));
        }
        // It cannot start while what it needs is down: start those too.
        let now = Instant::now();
        let mut woken = Vec::new();
        for j in std::iter::once(i).chain(self.all_deps(i)) {
            if let Some(svc) = self.services.get_mut(j) {
                let needed = j == i || !svc.satisfies_dependents();
                if needed && svc.state().is_final() && take(svc, Event::Reset, now).is_ok() {
                    svc.reason = None;
                    woken.push(svc.name().to_string());
                }
            }
        }
        Ok(format!("starting {}", woken.join(", ")))
    }

    fn all_deps(&self, i: usize) -> Vec<usize> {
        let mut seen = Vec::new();
        let mut stack: Vec<usize> = self.graph.deps(i).to_vec();
        while let Some(d) = stack.pop() {
            if !seen.contains(&d) {
                seen.push(d);
                stack.extend_from_slice(self.graph.deps(d));
            }
        }
        seen
    }

    /// Stop a service, its running dependents first.
    fn ctl_stop(&mut self, name: &str, after: After) -> Result<String, String> {
        let i = self.lookup(name)?;
        let state = self.state_of(i, State::Stopped);
        if state == State::Stopping {
            return Err(format!("{name} is already stopping"));
        }
        if !crate::service::allowed(state, State::Stopping)
            && !crate::service::allowed(state, State::Stopped)
        {
            return Err(format!("{name} is {state}: nothing to stop"));
        }
        let dependents: Vec<usize> = self
            .graph
            .dependents(i)
            .into_iter()
            .filter(|&d| self.services.get(d).is_some_and(|s| !s.state().is_final()))
            .collect();
        let mut set = dependents.clone();
        set.push(i);
        let names: Vec<String> = set
            .iter()
            .filter_map(|&j| self.services.get(j))
            .map(|s| s.name().to_string())
            .collect();
        let plan: Vec<(String, After)> = names.iter().map(|n| (n.clone(), after)).collect();
        self.stop_job(&set, &plan);
        let verb = if after == After::Start {
            "restarting"
        } else {
            "stopping"
        };
        if dependents.is_empty() {
            Ok(format!("{verb} {name}"))
        } else {
            let deps: Vec<&str> = names
                .iter()
                .take(dependents.len())
                .map(String::as_str)
                .collect();
            Ok(format!(
                "{verb} {name}, after its dependents: {}",
                deps.join(", ")
            ))
        }
    }

    fn ctl_restart(&mut self, name: &str) -> Result<String, String> {
        let i = self.lookup(name)?;
        let state = self.state_of(i, State::Stopped);
        if state.is_final() {
            return self.ctl_start(name);
        }
        if state == State::Stopping {
            return Err(format!("{name} is stopping"));
        }
        self.ctl_stop(name, After::Start)
    }

    /// Pause (`cgroup.freeze`, else SIGSTOP) or resume (thaw, else SIGCONT) a service.
    fn pause_or_resume(&mut self, i: usize, pause: bool) -> usize {
        match self.freeze(i, pause) {
            Some(n) => n,
            None => self.signal_tree(i, if pause { libc::SIGSTOP } else { libc::SIGCONT }),
        }
    }

    /// A signal to every process of a service: its cgroup's, else its tree's.
    fn signal_tree(&mut self, i: usize, sig: i32) -> usize {
        let Some(svc) = self.services.get(i) else {
            return 0;
        };
        let Some(session) = svc.session else { return 0 };
        // Every process read (none taken as known): each signal is checked against
        // the start time the table saw.
        let snap = match scan(self.proc_ok, self.me, &[]) {
            Ok(snap) => snap,
            Err(e) => {
                warn!("cannot read the process table: {e}");
                return 0;
            }
        };
        let in_group = svc.run.group.as_ref().and_then(|g| g.members().ok());
        let members = match in_group {
            Some(pids) => snap.deepest_first(pids),
            None => snap.service_members(svc.pid, session, self.me),
        };
        snap.alive(&members)
            .filter(|p| crate::pidfd::send_checked(p.pid, p.starttime, sig, false).is_ok())
            .count()
    }

    fn ctl_pause(&mut self, name: &str) -> Result<String, String> {
        let i = self.lookup(name)?;
        let svc = self.services.get_mut(i).ok_or("no such service")?;
        if !matches!(svc.state(), State::Running | State::Starting) {
            return Err(format!(
                "{name} is {}: only a running service can be paused",
                svc.state()
            ));
        }
        take(svc, Event::Pause, Instant::now())?;
        let n = self.pause_or_resume(i, true);
        Ok(format!("paused {name} ({n} process(es))"))
    }

    fn ctl_resume(&mut self, name: &str) -> Result<String, String> {
        let i = self.lookup(name)?;
        let pending_check = self.services.get(i).is_some_and(|s| s.run.check.is_some());
        let svc = self.services.get_mut(i).ok_or("no such service")?;
        if svc.state() != State::Paused {
            return Err(format!("{name} is {}, not paused", svc.state()));
        }
        let event = if pending_check {
            Event::ResumeStarting
        } else {
            Event::Resume
        };
        take(svc, event, Instant::now())?;
        let n = self.pause_or_resume(i, false);
        Ok(format!("resumed {name} ({n} process(es))"))
    }

    /// A command naming a service with `instances` (`ctl stop worker`) applies to each of
    /// its instances, in order (an error only if it applies to none of them); `worker@2`
    /// names one. None: `req` does not name such a service.
    fn for_each_instance(&mut self, req: &Request) -> Option<Reply> {
        let per = |n: &str| -> Option<Request> {
            let name = n.to_string();
            Some(match req {
                Request::Start { .. } => Request::Start { name },
                Request::Stop { .. } => Request::Stop { name },
                Request::Restart { .. } => Request::Restart { name },
                Request::Pause { .. } => Request::Pause { name },
                Request::Resume { .. } => Request::Resume { name },
                Request::Kill { signal, .. } => Request::Kill {
                    name,
                    signal: signal.clone(),
                },
                _ => return None,
            })
        };
        let group = match req {
            Request::Start { name }
            | Request::Stop { name }
            | Request::Restart { name }
            | Request::Pause { name }
            | Request::Resume { name }
            | Request::Kill { name, .. } => name,
            _ => return None,
        };
        if self.index_of(group).is_some() {
            return None;
        }
        let members: Vec<String> = self
            .services
            .iter()
            .filter(|s| s.cfg.instance_of.as_deref() == Some(group.as_str()))
            .map(|s| s.name().to_string())
            .collect();
        if members.is_empty() {
            return None;
        }
        // It applies to the instances it can; an error only if it applies to none.
        let mut said = Vec::new();
        let mut done = 0;
        for member in &members {
            let one = per(member)?;
            match self.handle(&one) {
                Reply::Message { message, .. } => {
                    done += 1;
                    said.push(message);
                }
                Reply::Error { error, .. } => said.push(error),
                _ => {}
            }
        }
        let text = said.join("; ");
        Some(if done == 0 {
            error_reply(&text)
        } else {
            ok(text)
        })
    }

    /// `ctl logs NAME [-n LINES] [-f]`: the last lines kept of a `prefix` service; with
    /// `follow`, the connection is held and every new line follows (a client that does
    /// not keep up is dropped by the control server, never waited for).
    fn logs(
        &mut self,
        client: u64,
        name: &str,
        lines: Option<&str>,
        follow: bool,
        now: Instant,
    ) -> Reply {
        let count = match lines.map(str::parse::<usize>) {
            None => None,
            Some(Ok(n)) => Some(n),
            Some(Err(_)) => return error_reply("logs: lines must be a number"),
        };
        let kept = match self.kept_lines(name, count) {
            Ok(kept) => kept,
            Err(e) => return error_reply(&e),
        };
        if follow {
            if let Some(control) = &mut self.control {
                control.hold(
                    client,
                    crate::probe::later(now, Duration::from_secs(u64::MAX)),
                );
                self.followers.retain(|(id, _)| control.has(*id));
            }
            let entry = (client, name.to_string());
            if !self.followers.contains(&entry) {
                self.followers.push(entry);
            }
        }
        Reply::Lines {
            ok: true,
            lines: kept,
        }
    }

    /// The last `count` lines of service `name`, or of every instance of `name` (each
    /// line then after `NAME@K | `, instance by instance).
    fn kept_lines(&self, name: &str, count: Option<usize>) -> Result<Vec<String>, String> {
        let text = |l: &[u8]| String::from_utf8_lossy(l).into_owned();
        if self.index_of(name).is_none() {
            let members: Vec<&Service> = self
                .services
                .iter()
                .filter(|s| s.cfg.instance_of.as_deref() == Some(name))
                .collect();
            if !members.is_empty() {
                let mut all: Vec<String> = Vec::new();
                for s in members {
                    let ring = s.run.log.as_ref().map(|l| &l.ring);
                    let lines = ring.into_iter().flat_map(|r| r.last(None));
                    all.extend(lines.map(|l| format!("{} | {}", s.name(), text(l))));
                }
                let skip = count.map_or(0, |n| all.len().saturating_sub(n));
                return Ok(all.split_off(skip));
            }
        }
        let i = self.lookup(name)?;
        let Some(log) = self.services.get(i).and_then(|s| s.run.log.as_ref()) else {
            return Err(format!(
                "{name} does not log with prefix, so rinit keeps no lines of it"
            ));
        };
        Ok(log.ring.last(count).map(text).collect())
    }

    /// `ctl reload NAME`: SIGHUP to its main process (to each instance's, for a service
    /// with `instances`). Services that speak sd_notify are answered when each has said
    /// `READY=1` after `RELOADING=1` (or not within its `ready_timeout`); the others at
    /// once. None: the answer comes later.
    fn reload_service(&mut self, client: u64, name: &str, now: Instant) -> Option<Reply> {
        let targets = self.reload_targets(name);
        let (mut sent, mut notes, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        let mut wait = Duration::from_secs(30);
        for target in &targets {
            match self.send_reload(target) {
                Ok(i) => {
                    sent.push(target.clone());
                    let cfg = self.services.get(i).map(|svc| &svc.cfg);
                    if let Some(cfg) = cfg.filter(|cfg| cfg.speaks_notify()) {
                        waiting.push(target.clone());
                        // Within what `rinit ctl` waits for a reply.
                        wait = wait.min(cfg.ready_timeout);
                    }
                }
                Err(e) => notes.push(e),
            }
        }
        if sent.is_empty() {
            return Some(error_reply(&notes.join("; ")));
        }
        if waiting.is_empty() {
            let note = match sent.len() {
                1 => "it does not speak sd_notify, so rinit cannot tell when it is done",
                _ => "they do not speak sd_notify, so rinit cannot tell when they are done",
            };
            notes.insert(0, note.to_string());
            let list = sent.join(", ");
            return Some(Reply::message(format!(
                "sent SIGHUP to {list} ({})",
                notes.join("; ")
            )));
        }
        notes.extend(
            sent.iter()
                .filter(|s| !waiting.contains(s))
                .map(|s| format!("{s} does not speak sd_notify")),
        );
        let deadline = crate::probe::later(now, wait);
        if let Some(control) = &mut self.control {
            control.hold(client, deadline);
        }
        self.reloads.push(PendingReload {
            client,
            asked: name.to_string(),
            waiting,
            notes,
            deadline,
        });
        None
    }

    /// The services `ctl reload NAME` signals: NAME, or each instance of it.
    fn reload_targets(&self, name: &str) -> Vec<String> {
        let instances: Vec<String> = self
            .services
            .iter()
            .filter(|s| s.cfg.instance_of.as_deref() == Some(name))
            .map(|s| s.name().to_string())
            .collect();
        match self.index_of(name) {
            None if !instances.is_empty() => instances,
            _ => vec![name.to_string()],
        }
    }

    /// SIGHUP to a running service's main process; its index.
    fn send_reload(&mut self, name: &str) -> Result<usize, String> {
        let i = self.lookup(name)?;
        let svc = self.services.get(i).ok_or("no such service")?;
        let (State::Running, Some(pid)) = (svc.state(), svc.pid) else {
            return Err(format!(
                "{name} is {}: only a running service can reload",
                svc.state()
            ));
        };
        crate::process::kill(pid, libc::SIGHUP).map_err(|e| format!("{name}: SIGHUP: {e}"))?;
        Ok(i)
    }

    /// Service `name` said `READY=1` after `RELOADING=1`: answer who asked, once every
    /// service they asked for has.
    pub(super) fn reloaded(&mut self, name: &str) {
        for r in &mut self.reloads {
            r.waiting.retain(|w| w != name);
        }
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.reloads)
            .into_iter()
            .partition(|r| r.waiting.is_empty());
        self.reloads = waiting;
        for r in done {
            let mut message = format!("reloaded {}", r.asked);
            if !r.notes.is_empty() {
                message = format!("{message} ({})", r.notes.join("; "));
            }
            if let Some(control) = &mut self.control {
                control.reply(r.client, &Reply::message(message));
            }
        }
    }

    /// Reloads that took longer than their services' `ready_timeout`, or one of whose
    /// services stopped running meanwhile, get an error naming those not done.
    pub(super) fn expire_reloads(&mut self, now: Instant) {
        if self.reloads.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.reloads);
        let running = |name: &String| {
            self.index_of(name)
                .and_then(|i| self.services.get(i))
                .is_some_and(|svc| svc.state() == State::Running)
        };
        let mut failed = Vec::new();
        let mut kept = Vec::new();
        for r in pending {
            let (up, down): (Vec<String>, Vec<String>) =
                r.waiting.iter().cloned().partition(|w| running(w));
            if now < r.deadline && down.is_empty() {
                kept.push(r);
                continue;
            }
            let mut why = Vec::new();
            if !down.is_empty() {
                why.push(format!(
                    "{} stopped running before READY=1",
                    down.join(", ")
                ));
            }
            if !up.is_empty() {
                why.push(format!(
                    "{} did not say READY=1 after its reload in time",
                    up.join(", ")
                ));
            }
            why.extend(r.notes.iter().cloned());
            failed.push((r.client, why.join("; ")));
        }
        self.reloads = kept;
        for (client, e) in failed {
            if let Some(control) = &mut self.control {
                control.reply(client, &error_reply(&e));
            }
        }
    }

    /// A shutdown began: reloads still waiting are answered (no READY=1 will count).
    pub(super) fn cancel_reloads(&mut self) {
        for r in std::mem::take(&mut self.reloads) {
            let e = format!("shutting down: {} not reloaded", r.waiting.join(", "));
            if let Some(control) = &mut self.control {
                control.reply(r.client, &error_reply(&e));
            }
        }
    }

    fn ctl_kill(&mut self, name: &str, signal: &str) -> Result<String, String> {
        let i = self.lookup(name)?;
        let sig = signals::parse(signal)?;
        let state = self.state_of(i, State::Stopped);
        if !state.is_live() {
            return Err(format!("{name} is {state}: it has no processes"));
        }
        let n = self.signal_tree(i, sig);
        Ok(format!(
            "sent {} to {n} process(es) of {name}",
            signals::name(sig)
        ))
    }

    /// Re-read the configuration; if it is valid, start what was added, stop what was
    /// removed, restart what changed, and leave the rest alone.
    pub(super) fn reload(&mut self) -> Result<String, String> {
        let (new, fresh_runs) = self
            .prepare_reload()
            .map_err(|e| format!("reload rejected, nothing changed: {e}"))?;
        let summary = self.apply_reload(new, fresh_runs);
        self.retire(&summary.changed, &summary.removed);
        let message = summary.to_string();
        info!("{message}");
        Ok(message)
    }

    /// Everything that can fail, before anything changes: the new configuration, its
    /// graph, the runs (log pipes, users) of new and changed services, the notify socket.
    fn prepare_reload(&mut self) -> Result<(Config, Vec<(String, Run)>), String> {
        let new = (self.reloader)()?;
        new.graph().map_err(|e| e.to_string())?;
        let mut fresh_runs = Vec::new();
        for cfg in &new.services {
            let unchanged = self
                .index_of(&cfg.name)
                .and_then(|i| self.services.get(i))
                .is_some_and(|s| s.cfg.same_settings(cfg));
            if !unchanged {
                fresh_runs.push((cfg.name.clone(), Run::prepare(cfg)?));
            }
        }
        if self.notify.is_none() && new.services.iter().any(ServiceConfig::speaks_notify) {
            let socket = NotifySocket::bind_at(new.rinit.notify_socket.as_deref())
                .map_err(|e| format!("notify socket: {e}"))?;
            self.notify = Some(socket);
        }
        Ok((new, fresh_runs))
    }

    /// Rebuild the service list in the new order: unchanged services keep their state
    /// and processes, changed ones their processes (until `retire` stops them), removed
    /// ones stay at the end until stopped, added ones are new.
    fn apply_reload(&mut self, new: Config, mut fresh_runs: Vec<(String, Run)>) -> ReloadSummary {
        let mut summary = ReloadSummary::default();
        let mut old: Vec<Option<Service>> = self.services.drain(..).map(Some).collect();
        let mut services = Vec::new();
        for cfg in new.services {
            let taken = old
                .iter_mut()
                .find(|slot| slot.as_ref().is_some_and(|s| s.name() == cfg.name))
                .and_then(Option::take);
            let fresh = fresh_runs
                .iter()
                .position(|(n, _)| *n == cfg.name)
                .map(|k| fresh_runs.swap_remove(k).1);
            let svc = match (taken, fresh) {
                (Some(kept), None) => {
                    summary.kept += 1;
                    kept
                }
                (Some(mut svc), Some(mut run)) => {
                    summary.changed.push(cfg.name.clone());
                    svc.cfg = cfg;
                    // The old instance keeps writing to its pipe until it has stopped,
                    // and keeps its readiness probe until the stop kills it.
                    let old_run = std::mem::take(&mut svc.run);
                    if run.log.is_some() && old_run.log.is_some() {
                        run.log = old_run.log;
                    }
                    run.check = old_run.check;
                    run.health = old_run.health;
                    run.watchdog_at = old_run.watchdog_at;
                    run.child = old_run.child;
                    svc.run = run;
                    svc
                }
                (None, fresh) => {
                    summary.added.push(cfg.name.clone());
                    Service::new(cfg, fresh.unwrap_or_default())
                }
            };
            services.push(svc);
        }
        for mut svc in old.into_iter().flatten() {
            summary.removed.push(svc.name().to_string());
            svc.cfg.after.clear();
            services.push(svc);
        }
        self.services = services;
        self.global = new.rinit;
        self.rebuild_graph();
        summary
    }

    /// After a reload: stop what changed (then start it) and what was removed (then
    /// forget it).
    fn retire(&mut self, changed: &[String], removed: &[String]) {
        let now = Instant::now();
        let mut set = Vec::new();
        let mut plan = Vec::new();
        for (names, after) in [(changed, After::Start), (removed, After::Remove)] {
            for name in names {
                let Some(i) = self.index_of(name) else {
                    continue;
                };
                let live = self.services.get(i).is_some_and(|s| s.state().is_live());
                if live {
                    set.push(i);
                    plan.push((name.clone(), after));
                } else if after == After::Remove {
                    self.remove_service(i);
                } else if let Some(svc) = self.services.get_mut(i) {
                    // Not running: it starts again with its new settings.
                    if matches!(
                        svc.state(),
                        State::Waiting | State::Backoff | State::Blocked
                    ) {
                        transition(svc, Event::Cancel, now);
                    }
                    transition(svc, Event::Reset, now);
                    if !svc.cfg.enabled {
                        transition(svc, Event::Disable, now);
                    }
                }
            }
        }
        if !set.is_empty() {
            self.stop_job(&set, &plan);
        }
    }
}

/// What a reload did.
#[derive(Default)]
struct ReloadSummary {
    added: Vec<String>,
    changed: Vec<String>,
    removed: Vec<String>,
    kept: usize,
}

impl std::fmt::Display for ReloadSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "reloaded: added [{}], removed [{}], changed [{}], {} unchanged",
            self.added.join(", "),
            self.removed.join(", "),
            self.changed.join(", "),
            self.kept
        )
    }
}

fn ok(message: String) -> Reply {
    Reply::message(message)
}

/// One service in a status reply.
fn service_json(s: &Service, now: Instant) -> ServiceStatus {
    let uptime_ms = match (s.state().is_live(), s.started_at) {
        (true, Some(t)) => u64::try_from(now.duration_since(t).as_millis()).ok(),
        _ => None,
    };
    ServiceStatus {
        name: s.name().to_string(),
        state: s.state().name().to_string(),
        pid: s.pid,
        uptime_ms,
        restarts: s.restarts,
        last_exit: s.last_exit.map(|e| match &s.last_exit_note {
            Some(said) => format!("{e}, {said}"),
            None => e.to_string(),
        }),
        ready: s.satisfies_dependents(),
        reason: s.reason.clone(),
        health: s.health_status(),
        status_text: s.notified.status.clone(),
        notify: s.notified.phase.map(String::from),
        memory_bytes: None,
        cpu_usec: None,
    }
}
