//! The supervisor's side of cgroup tracking (src/cgroup.rs): the mode, chosen once at
//! start and said once in the log; each service's group, made at its first start with
//! its limits; the join fd its child writes itself into before exec; freezing; usage for
//! `ctl status`; an OOM kill as the reason of an exit; and removing the groups at exit.

use log::{info, warn};

use std::rc::Rc;

use super::Supervisor;
use crate::cgroup::{Group, Hierarchy};
use crate::config::{Config, HealthProbe, Ready, ServiceConfig};
use crate::probe::ProbeGroup;
use crate::service::Run;

/// The sub-group of a service's group where its exec checks run.
pub const PROBE_GROUP: &str = ".probe";

/// The limit keys, the controller each needs, the interface file it writes, and that
/// file's value in a new group (no limit).
const LIMITS: [(&str, &str, &str, &str); 5] = [
    ("memory_max", "memory", "memory.max", "max"),
    ("memory_high", "memory", "memory.high", "max"),
    ("pids_max", "pids", "pids.max", "max"),
    ("cpu_weight", "cpu", "cpu.weight", "100"),
    ("cpu_max", "cpu", "cpu.max", "max"),
];

/// `key`'s value for `cfg`, as its interface file wants it; None if not set.
fn limit_value(cfg: &ServiceConfig, key: &str) -> Option<String> {
    match key {
        "memory_max" => cfg.memory_max.map(|b| b.to_string()),
        "memory_high" => cfg.memory_high.map(|b| b.to_string()),
        "pids_max" => cfg.pids_max.map(|n| n.to_string()),
        "cpu_weight" => cfg.cpu_weight.map(|w| w.to_string()),
        "cpu_max" => cfg.cpu_max.clone(),
        _ => None,
    }
}

/// Track services in cgroups? `[rinit] cgroups = "off"` or `RINIT_CGROUPS=off` says no;
/// otherwise wherever rinit can make groups. Said once in the log, and so is every limit
/// that cannot apply (naming the key and the services).
pub(super) fn choose(config: &Config, vm: bool) -> Option<Hierarchy> {
    let off_by_env = std::env::var("RINIT_CGROUPS").is_ok_and(|v| v == "off");
    let hierarchy = if !config.rinit.cgroups || off_by_env {
        info!("cgroups: off; tracking services through /proc");
        None
    } else {
        match Hierarchy::set_up(vm) {
            Ok(h) => {
                let controllers = match h.controllers() {
                    [] => "none".to_string(),
                    list => list.join(" "),
                };
                info!(
                    "cgroups: each service in its own group under {} (controllers: {controllers})",
                    h.root().display()
                );
                Some(h)
            }
            Err(why) => {
                info!("cgroups: not used ({why}); tracking services through /proc");
                None
            }
        }
    };
    for (key, controller, _, _) in LIMITS {
        let users: Vec<&str> = config
            .services
            .iter()
            .filter(|s| limit_value(s, key).is_some())
            .map(|s| s.name.as_str())
            .collect();
        let missing = hierarchy.as_ref().is_none_or(|h| !h.has(controller));
        if missing && !users.is_empty() {
            warn!(
                "{key} ({}) not applied: no {controller} controller for rinit's cgroups here",
                users.join(", ")
            );
        }
    }
    hierarchy
}

impl Supervisor {
    /// Service `i`'s group, made (with its limits) for each run. A group from an
    /// earlier run is made afresh once empty: one left frozen (paused, then emptied by an
    /// OOM kill or from outside) would freeze the new run at once, and on some kernels
    /// (seen on 6.18) a group that had `cgroup.kill` (a stop's SIGKILL) kills every
    /// child cloned into it afterwards. One that cannot go (something still in it) is
    /// thawed and joined after fork.
    pub(super) fn ensure_group(&mut self, i: usize) {
        let Some(h) = &self.cgroups else { return };
        let Some(svc) = self.services.get_mut(i) else {
            return;
        };
        svc.run.join_after_fork = false;
        if svc.run.group.is_some() && !retire(&mut svc.run, &svc.cfg) {
            if let Some(group) = &svc.run.group {
                let _ = group.freeze(false);
                // A reload may have changed them, or removed one.
                apply_limits(h, group, &svc.cfg, true);
                if svc.run.probe_group.is_none() {
                    svc.run.probe_group = probe_group(group, &svc.cfg);
                }
            }
            // A stop's cgroup.kill reached the checks' group too.
            if let Some(probes) = &svc.run.probe_group {
                probes.mark_killed();
            }
            svc.run.join_after_fork = true;
            return;
        }
        match h.group(&svc.cfg.name) {
            Ok(group) => {
                apply_limits(h, &group, &svc.cfg, false);
                svc.run.probe_group = probe_group(&group, &svc.cfg);
                svc.run.group = Some(group);
            }
            Err(e) => warn!("{}: no cgroup ({e}); tracked through /proc", svc.cfg.name),
        }
    }

    /// The OOM kills of service `i`'s group so far (to tell a new one at its exit).
    pub(super) fn oom_kills(&self, i: usize) -> u64 {
        if !self.cgroups.as_ref().is_some_and(|h| h.has("memory")) {
            return 0;
        }
        self.services
            .get(i)
            .and_then(|s| s.run.group.as_ref())
            .and_then(|g| g.read("memory.events", "oom_kill"))
            .unwrap_or(0)
    }

    /// A check command of service `i` was reaped, `status`. One killed by SIGKILL while
    /// the group's OOM kills went up since the check before was most likely the OOM
    /// killer's victim (its `.probe` group is within the service's limit): said now, and
    /// that one kill is not counted later as a reason for the service's own exit.
    pub(super) fn after_check(&mut self, i: usize, status: crate::process::ExitStatus) {
        let killed = status == crate::process::ExitStatus::Signal(libc::SIGKILL);
        let kills = self.oom_kills(i);
        let Some(svc) = self.services.get_mut(i) else {
            return;
        };
        let rose = kills > svc.run.oom_kills_at_last_check;
        svc.run.oom_kills_at_last_check = kills;
        if killed && rose && svc.run.probe_group.is_some() {
            svc.run.oom_kills_at_start += 1;
            let limit = memory_limit_note(&svc.cfg);
            warn!(
                "{}: its check was killed by the OOM killer{limit}",
                svc.cfg.name
            );
        }
    }

    /// Why service `i` exited as it did, if its group's OOM kills went up during its
    /// run: its main process was the one killed (`killed`), or another of its processes.
    pub(super) fn oom_reason(&self, i: usize, killed: bool) -> Option<String> {
        let svc = self.services.get(i)?;
        if self.oom_kills(i) <= svc.run.oom_kills_at_start {
            return None;
        }
        let limit = memory_limit_note(&svc.cfg);
        Some(if killed {
            format!("killed by the OOM killer{limit}")
        } else {
            format!("the OOM killer killed one of its processes{limit}")
        })
    }

    /// Freeze or thaw service `i` through `cgroup.freeze`; None where it has no group or
    /// the kernel no such file (then signals do it).
    pub(super) fn freeze(&self, i: usize, frozen: bool) -> Option<usize> {
        let group = self.services.get(i)?.run.group.as_ref()?;
        match group.freeze(frozen) {
            Ok(true) => Some(group.members().map(|m| m.len()).unwrap_or(0)),
            Ok(false) => None,
            Err(e) => {
                warn!("{}: cgroup.freeze: {e}", group.dir().display());
                None
            }
        }
    }

    /// Service `i`'s memory in bytes and CPU time in µs, from its group.
    pub(super) fn usage(&self, i: usize) -> (Option<u64>, Option<u64>) {
        let Some(group) = self.services.get(i).and_then(|s| s.run.group.as_ref()) else {
            return (None, None);
        };
        (
            group.read("memory.current", ""),
            group.read("cpu.stat", "usage_usec"),
        )
    }

    /// Remove service `i`'s group (it must be empty: after its stop).
    pub(super) fn drop_group(&mut self, i: usize) {
        if let Some(svc) = self.services.get_mut(i) {
            drop(remove_service_groups(&mut svc.run));
        }
    }

    /// `cgroup.kill` for every service's group (the deadline's last act).
    pub(super) fn kill_groups(&self) {
        for group in self.services.iter().filter_map(|s| s.run.group.as_ref()) {
            let _ = group.kill();
        }
    }

    /// At exit: every service's group, then rinit's own.
    pub(super) fn remove_groups(&mut self) {
        for svc in &mut self.services {
            let removed = remove_service_groups(&mut svc.run);
            // Their kept files are closed by the exit, all at once; VM mode unmounts
            // cgroup2 before it, so there they are closed now.
            if !self.vm {
                std::mem::forget(removed);
            }
        }
        if let Some(h) = &self.cgroups {
            h.remove();
        }
    }
}

/// The `.probe` sub-group for a service with an exec readiness or health check, where
/// those commands run; without it (refused), they run in rinit's group, killed by their
/// process group and tree as without cgroups.
fn probe_group(group: &Group, cfg: &ServiceConfig) -> ProbeGroup {
    let exec_ready = matches!(cfg.ready, Some(Ready::Exec(_)));
    let exec_health = matches!(cfg.health, Some(HealthProbe::Exec(_)));
    if !exec_ready && !exec_health {
        return None;
    }
    match group.sub(PROBE_GROUP) {
        Ok(sub) => Some(Rc::new(sub)),
        Err(e) => {
            warn!("{}: no cgroup for its checks ({e})", cfg.name);
            None
        }
    }
}

/// Remove a service's empty groups before its next run; false, and the groups kept, if
/// they cannot go (something runs in them, or a sub-group the service made is left).
fn retire(run: &mut Run, cfg: &ServiceConfig) -> bool {
    let Some(group) = &run.group else {
        return true;
    };
    if group.populated() != Some(false) {
        return false;
    }
    if let Some(sub) = &run.probe_group {
        match sub.remove() {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return false,
            _ => {}
        }
    }
    if let Err(e) = group.remove() {
        log::debug!("cannot remove {}: {e}", group.dir().display());
        // Its probe group went; it is made again for the checks.
        run.probe_group = probe_group(group, cfg);
        return false;
    }
    run.group = None;
    run.probe_group = None;
    true
}

/// A service's groups, its probe group first (a group with a sub-group cannot go);
/// they are handed back, their kept files still open.
fn remove_service_groups(run: &mut Run) -> (ProbeGroup, Option<Group>) {
    let (sub, group) = (run.probe_group.take(), run.group.take());
    for g in sub.as_deref().into_iter().chain(group.as_ref()) {
        remove(g);
    }
    (sub, group)
}

fn remove(group: &Group) {
    if let Err(e) = group.remove() {
        log::debug!("cannot remove {}: {e}", group.dir().display());
    }
}

/// Write the service's limits; one the kernel refuses is a warning naming the key.
/// `reset`: a key not set puts its file back to no limit (a group kept from a run before
/// a reload).
fn apply_limits(h: &Hierarchy, group: &Group, cfg: &ServiceConfig, reset: bool) {
    for (key, controller, file, unlimited) in LIMITS {
        let value = match limit_value(cfg, key) {
            Some(value) => value,
            None if reset => unlimited.to_string(),
            None => continue,
        };
        if !h.has(controller) {
            continue;
        }
        if let Err(e) = group.set(file, &value) {
            warn!("{}: {key} = {value}: {file}: {e}", cfg.name);
        }
    }
}

/// ` (memory_max 64M)` after an OOM kill's message, if the service has that limit.
fn memory_limit_note(cfg: &ServiceConfig) -> String {
    cfg.memory_max
        .map(|b| format!(" (memory_max {})", human_bytes(b)))
        .unwrap_or_default()
}

/// `67108864` → `64M`.
fn human_bytes(b: u64) -> String {
    for (unit, scale) in [("G", 1u64 << 30), ("M", 1 << 20), ("K", 1 << 10)] {
        if b >= scale && b.is_multiple_of(scale) {
            return format!("{}{unit}", b / scale);
        }
    }
    format!("{b} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_written_as_the_kernel_wants_them() {
        let cfg = ServiceConfig {
            memory_max: Some(64 << 20),
            pids_max: Some(100),
            cpu_max: Some("50000 100000".into()),
            ..ServiceConfig::default()
        };
        assert_eq!(limit_value(&cfg, "memory_max").as_deref(), Some("67108864"));
        assert_eq!(limit_value(&cfg, "pids_max").as_deref(), Some("100"));
        assert_eq!(
            limit_value(&cfg, "cpu_max").as_deref(),
            Some("50000 100000")
        );
        assert_eq!(limit_value(&cfg, "memory_high"), None);
        assert_eq!(human_bytes(64 << 20), "64M");
        assert_eq!(human_bytes(1 << 30), "1G");
        assert_eq!(human_bytes(1000), "1000 bytes");
    }
}
