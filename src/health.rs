//! Liveness checks (`health = …`): Kubernetes' probe model, per service.
//!
//! While a service runs, one [`Attempt`] every `health_interval` (the first one interval
//! after it became ready), never two at once: a check still running at
//! `health_timeout` is killed and counts as a failure. `health_retries` failures in a
//! row make the service `unhealthy`, and the supervisor restarts it with its normal stop
//! and restart backoff. Failures within `health_start_period` of the service's start do
//! not count; a success resets the count. Everything is a deadline in the event loop:
//! an idle rinit wakes only at the check times.
//!
//! [`Health::record`], the decision on an attempt's outcome, is pure and unit-tested.

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::{HealthProbe, ServiceConfig};
use crate::probe::{Attempt, Leftovers, Outcome, ProbeGroup, later};
use crate::process::ExitStatus;

/// What the checks say about a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No check has passed yet.
    Starting,
    /// The last check passed.
    Healthy,
    /// `health_retries` checks failed in a row.
    Unhealthy,
}

/// The health checks of one run of a service.
#[derive(Debug)]
pub struct Health {
    probe: HealthProbe,
    interval: Duration,
    timeout: Duration,
    retries: u32,
    /// Failures before this do not count.
    period_ends: Instant,
    pub verdict: Verdict,
    /// Failures in a row (that counted).
    pub failures: u32,
    pub last_failure: Option<String>,
    /// When the next attempt starts (while none runs).
    next: Instant,
    attempt: Option<Attempt>,
    /// Where its commands run (the service's probe cgroup), if anywhere.
    group: ProbeGroup,
}

/// The health part of `ctl status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthStatus {
    pub state: Verdict,
    pub failures: u32,
    pub last_failure: Option<String>,
}

impl Health {
    /// Checks for a service that became ready at `now`, started at `started`.
    pub fn new(
        cfg: &ServiceConfig,
        probe: &HealthProbe,
        started: Instant,
        now: Instant,
        group: ProbeGroup,
    ) -> Health {
        Health {
            group,
            probe: probe.clone(),
            interval: cfg.health_interval,
            timeout: cfg.health_timeout,
            retries: cfg.health_retries.max(1),
            period_ends: later(started, cfg.health_start_period),
            verdict: Verdict::Starting,
            failures: 0,
            last_failure: None,
            next: later(now, cfg.health_interval),
            attempt: None,
        }
    }

    /// When something must happen without an event: the next attempt, or the running
    /// one's timeout.
    pub fn deadline(&self) -> Instant {
        self.attempt.as_ref().map_or(self.next, Attempt::deadline)
    }

    pub fn poll_fd(&self) -> Option<(BorrowedFd<'_>, i16)> {
        self.attempt.as_ref().and_then(Attempt::poll_fd)
    }

    /// The running command's process group and probe group, to kill when the service
    /// stops.
    pub fn attempt_leftovers(&self) -> Option<Leftovers> {
        self.attempt.as_ref().and_then(Attempt::leftovers)
    }

    /// The service was paused: an attempt that ran across the pause says nothing (it
    /// would count as timed out); drop it, returning its command's group to kill, and
    /// check again one interval from now.
    pub fn resume(&mut self, now: Instant) -> Option<Leftovers> {
        self.next = later(now, self.interval);
        let attempt = self.attempt.take()?;
        attempt.leftovers()
    }

    /// A command exited; true if it was this check's.
    pub fn on_exit(&mut self, pid: i32, status: ExitStatus) -> bool {
        self.attempt
            .as_mut()
            .is_some_and(|a| a.on_exit(pid, status))
    }

    /// Start an attempt when one is due, advance the running one. Returns the reason
    /// when the service has just become unhealthy.
    pub fn advance(&mut self, name: &str, now: Instant) -> Option<String> {
        if self.attempt.is_none() {
            if now < self.next {
                return None;
            }
            match Attempt::start(&self.probe, name, now, self.timeout, &self.group) {
                Ok(a) => self.attempt = Some(a),
                Err(e) => return self.record(name, Outcome::Failed(e), now),
            }
        }
        let outcome = self.attempt.as_mut()?.advance(now);
        if outcome == Outcome::Pending {
            return None;
        }
        self.attempt = None;
        self.record(name, outcome, now)
    }

    /// The decision on an attempt's outcome at `now`, and the next attempt one interval
    /// later. Pure apart from logging.
    pub fn record(&mut self, name: &str, outcome: Outcome, now: Instant) -> Option<String> {
        self.next = later(now, self.interval);
        let reason = match outcome {
            Outcome::Pending => return None,
            Outcome::Passed => {
                if self.verdict != Verdict::Healthy {
                    log::info!("{name} is healthy");
                }
                self.verdict = Verdict::Healthy;
                self.failures = 0;
                return None;
            }
            Outcome::Failed(reason) => reason,
        };
        if now < self.period_ends {
            log::debug!("{name}: health check failed in the start period: {reason}");
            return None;
        }
        self.failures += 1;
        log::warn!(
            "{name}: health check failed ({} of {}): {reason}",
            self.failures,
            self.retries
        );
        self.last_failure = Some(reason.clone());
        if self.failures < self.retries {
            return None;
        }
        self.verdict = Verdict::Unhealthy;
        Some(reason)
    }

    pub fn status(&self) -> HealthStatus {
        HealthStatus {
            state: self.verdict,
            failures: self.failures,
            last_failure: self.last_failure.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(retries: u32, start_period: Duration, t0: Instant) -> Health {
        let mut cfg = ServiceConfig::new("web", crate::config::Origin::default());
        cfg.health_interval = Duration::from_secs(10);
        cfg.health_retries = retries;
        cfg.health_start_period = start_period;
        let probe = HealthProbe::Tcp {
            host: "127.0.0.1".into(),
            port: 80,
        };
        Health::new(&cfg, &probe, t0, t0, None)
    }

    fn failed() -> Outcome {
        Outcome::Failed("refused".into())
    }

    #[test]
    fn retries_failures_in_a_row_make_it_unhealthy() {
        let t0 = Instant::now();
        let mut h = health(3, Duration::ZERO, t0);
        assert_eq!(
            h.deadline(),
            t0 + Duration::from_secs(10),
            "first check one interval on"
        );
        let s = Duration::from_secs;
        assert_eq!(h.record("web", failed(), t0 + s(10)), None);
        assert_eq!(h.record("web", failed(), t0 + s(20)), None);
        assert_eq!(h.failures, 2);
        assert_eq!(
            h.record("web", failed(), t0 + s(30)),
            Some("refused".into())
        );
        assert_eq!(h.verdict, Verdict::Unhealthy);
        assert_eq!(h.deadline(), t0 + s(40));
    }

    #[test]
    fn a_success_resets_the_count_so_flapping_never_acts() {
        let t0 = Instant::now();
        let mut h = health(2, Duration::ZERO, t0);
        for round in 0..20u64 {
            let at = t0 + Duration::from_secs(10 * round);
            let outcome = if round % 2 == 0 {
                failed()
            } else {
                Outcome::Passed
            };
            assert_eq!(h.record("web", outcome, at), None, "round {round}");
        }
        assert_eq!(h.verdict, Verdict::Healthy);
    }

    #[test]
    fn failures_in_the_start_period_do_not_count() {
        let t0 = Instant::now();
        let mut h = health(1, Duration::from_secs(30), t0);
        assert_eq!(
            h.record("web", failed(), t0 + Duration::from_secs(29)),
            None
        );
        assert_eq!((h.failures, h.verdict), (0, Verdict::Starting));
        let after = h.record("web", failed(), t0 + Duration::from_secs(31));
        assert_eq!(after, Some("refused".into()));
    }
}
