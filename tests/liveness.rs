//! Health checks (`health = …`): a service that stops working is restarted — only that
//! service — after `health_retries` failed checks in a row; a check that hangs is killed
//! at its timeout and counts; a flapping check below the threshold never acts; failures
//! in `health_start_period` do not count; nothing a check starts outlives it. rinit runs
//! as PID 1 of its own PID and network namespace (tests/common). Every wait is for an
//! event (a log line, a file's lines), never a sleep.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

fn net() -> Opts {
    Opts {
        net: true,
        ..Opts::default()
    }
}

fn lines(path: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count()
}

/// Processes named `comm` in rinit's namespace.
fn count(r: &Rinit, comm: &str) -> usize {
    r.ns_procs().iter().filter(|p| p.comm == comm).count()
}

#[test]
fn a_service_that_stops_answering_its_port_is_restarted_alone() {
    let config = r#"
[service.web]
exec = ["{probe}", "--name", "web", "--log", "{dir}/events", "--listen", "127.0.0.1:18080", "--unlisten-on", "USR1"]
ready = "tcp:127.0.0.1:18080"
health = "tcp:127.0.0.1:18080"
health_interval = "100ms"
health_retries = 3

[service.app]
after = ["web"]
exec = ["{probe}", "--name", "app", "--log", "{dir}/events"]
"#;
    let (mut r, dir) = start_with_config("liveness-tcp", config, net());
    let log = dir.path("events");
    wait_contains(&log, "app START", LIMIT);
    wait_for("web healthy", LIMIT, || {
        let (_, json, _) = r.ctl(&["--json", "status"]);
        json.contains(r#""health":{"state":"healthy","failures":0"#)
            .then_some(())
    });
    let app_pid = r.probe_named("app").unwrap().host_pid;
    let web = r.probe_named("web").unwrap();
    r.signal_host_pid(web.host_pid, libc::SIGUSR1);
    wait_contains(&log, "web UNLISTEN", LIMIT);
    // The web process is alive but no longer answers: three failed checks, then the
    // normal stop (its SIGTERM), then a new web that answers again.
    wait_for("web restarted", LIMIT, || {
        let ev = events(&log);
        (ev.iter()
            .filter(|e| e.name == "web" && e.event == "READY")
            .count()
            == 2)
            .then_some(())
    });
    let err = r.stderr();
    for n in 1..=3 {
        assert!(
            err.contains(&format!("web: health check failed ({n} of 3)")),
            "{err}"
        );
    }
    assert!(err.contains("web is unhealthy ("), "{err}");
    let ev = events(&log);
    assert!(
        sigs_of(&ev, "web").contains(&libc::SIGTERM),
        "the normal stop: {ev:?}"
    );
    assert!(r.probe_named("web").unwrap().host_pid != web.host_pid);
    // Dependents are not restarted.
    assert_eq!(r.probe_named("app").unwrap().host_pid, app_pid);
    assert_eq!(
        ev.iter()
            .filter(|e| e.name == "app" && e.event == "START")
            .count(),
        1
    );
    let (_, status, _) = r.ctl(&["status"]);
    let web_line = status.lines().find(|l| l.starts_with("web ")).unwrap();
    let restarts = web_line.split_whitespace().nth(4);
    assert_eq!(restarts, Some("1"), "{status}");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}

#[test]
fn a_hanging_check_is_killed_at_its_timeout_and_counts() {
    let config = r#"
[service.db]
exec = ["{probe}", "--name", "db"]
health = "exec:sh -c 'echo $$ >> {dir}/checks; exec sleep 60'"
health_interval = "50ms"
health_timeout = "300ms"
health_retries = 2
"#;
    let (mut r, dir) = start_with_config("liveness-hang", config, Opts::default());
    wait_for("db unhealthy", LIMIT, || {
        r.stderr().contains("db is unhealthy").then_some(())
    });
    let err = r.stderr();
    assert!(
        err.contains("db: health check failed (1 of 2): timed out after 300ms"),
        "{err}"
    );
    assert!(err.contains("db: health check failed (2 of 2): timed out after 300ms"));
    assert!(lines(&dir.path("checks")) >= 2);
    // Each hung check was killed at its timeout: at most the one now running (and one
    // killed, not yet reaped) is left.
    assert!(count(&r, "sleep") <= 2, "{:?}", r.ns_procs());
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}

#[test]
fn nothing_a_check_starts_outlives_it() {
    // Each check leaves a background sleep behind and fails at once; failures never
    // reach the threshold.
    let config = r#"
[service.db]
exec = ["{probe}", "--name", "db"]
health = "exec:sh -c 'sleep 300 & echo $! >> {dir}/left; echo refusing; exit 1'"
health_interval = "50ms"
health_retries = 1000
"#;
    let (mut r, dir) = start_with_config("liveness-leftovers", config, Opts::default());
    let left = dir.path("left");
    wait_for("5 checks", LIMIT, || (lines(&left) >= 5).then_some(()));
    let procs = r.ns_procs();
    let sleeps = procs.iter().filter(|p| p.comm == "sleep").count();
    assert!(sleeps <= 2, "leftovers of earlier checks: {procs:?}");
    let zombies: Vec<_> = procs.iter().filter(|p| p.state == 'Z').collect();
    assert!(zombies.len() <= 2, "zombies are reaped: {procs:?}");
    // The reason is the check's last line of output.
    assert!(
        r.stderr().contains("): exit code 1: refusing"),
        "{}",
        r.stderr()
    );
    let (_, status, _) = r.ctl(&["status"]);
    assert!(status.contains("health: starting"), "{status}");
    assert!(
        status.contains("failed in a row, last: exit code 1: refusing"),
        "{status}"
    );
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}

#[test]
fn a_flapping_check_below_the_threshold_never_restarts() {
    let config = r#"
[service.web]
exec = ["{probe}", "--name", "web"]
health = "exec:sh -c 'echo x >> {dir}/runs; if [ -e {dir}/flip ]; then rm {dir}/flip; else touch {dir}/flip; exit 1; fi'"
health_interval = "20ms"
health_retries = 2
"#;
    let (mut r, dir) = start_with_config("liveness-flap", config, Opts::default());
    let runs = dir.path("runs");
    let pid = wait_for("web", LIMIT, || r.probe_named("web")).host_pid;
    wait_for("12 checks", LIMIT, || (lines(&runs) >= 12).then_some(()));
    let err = r.stderr();
    assert!(err.contains("web: health check failed (1 of 2)"), "{err}");
    assert!(!err.contains("(2 of 2)"), "{err}");
    assert!(!err.contains("unhealthy"), "{err}");
    assert_eq!(r.probe_named("web").unwrap().host_pid, pid);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}

#[test]
fn failures_in_the_start_period_do_not_count() {
    let config = r#"
[service.slow]
exec = ["{probe}", "--name", "slow"]
health = "exec:sh -c 'echo x >> {dir}/slow; exit 1'"
health_interval = "20ms"
health_retries = 1
health_start_period = "60s"

[service.quick]
exec = ["{probe}", "--name", "quick"]
health = "exec:sh -c 'echo x >> {dir}/quick; exit 1'"
health_interval = "20ms"
health_retries = 1
health_start_period = "200ms"
"#;
    let (mut r, dir) = start_with_config("liveness-start", config, Opts::default());
    // quick's period ends first: its next failure counts and restarts it.
    wait_for("quick unhealthy", LIMIT, || {
        r.stderr().contains("quick is unhealthy").then_some(())
    });
    wait_for("slow checked 5 times", LIMIT, || {
        (lines(&dir.path("slow")) >= 5).then_some(())
    });
    let err = r.stderr();
    assert!(
        err.contains("slow: health check failed in the start period"),
        "{err}"
    );
    assert!(!err.contains("slow: health check failed ("), "{err}");
    assert!(!err.contains("slow is unhealthy"), "{err}");
    let (_, json, _) = r.ctl(&["--json", "status"]);
    assert!(
        json.contains(r#""name":"slow","state":"running""#),
        "{json}"
    );
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}

#[test]
fn http_probes_for_readiness_and_health() {
    // Python's http.server: 200 for its directory, 404 for a missing path.
    let config = r#"
[service.srv]
exec = ["python3", "-m", "http.server", "18081", "--bind", "127.0.0.1", "--directory", "{dir}"]
ready = "http://127.0.0.1:18081/"
log = "null"

[service.app]
after = ["srv"]
exec = ["{probe}", "--name", "app"]
health = "http://127.0.0.1:18081/missing"
health_interval = "50ms"
health_retries = 2
"#;
    let (mut r, _dir) = start_with_config("liveness-http", config, net());
    wait_for("app unhealthy", LIMIT, || {
        r.stderr().contains("app is unhealthy").then_some(())
    });
    let err = r.stderr();
    assert!(err.contains("srv is ready"), "{err}");
    assert!(
        err.contains("app: health check failed (2 of 2): HTTP status 404"),
        "{err}"
    );
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}

#[test]
fn a_hung_check_is_killed_with_its_whole_tree() {
    // Each check starts a child in a session of its own, then hangs: at its timeout the
    // whole tree goes, not just the check's process group.
    let config = r#"
[service.db]
exec = ["{probe}", "--name", "db"]
health = "exec:sh -c 'echo x >> {dir}/runs; setsid sleep 301 & exec sleep 302'"
health_interval = "20ms"
health_timeout = "100ms"
health_retries = 1000
"#;
    let (mut r, dir) = start_with_config("liveness-tree", config, Opts::default());
    let runs = dir.path("runs");
    wait_for("6 checks", LIMIT, || (lines(&runs) >= 6).then_some(()));
    let procs = r.ns_procs();
    let sleeps = procs.iter().filter(|p| p.comm == "sleep").count();
    // The running check's two, and at most two killed but not yet reaped.
    assert!(sleeps <= 4, "leftovers of timed-out checks: {procs:?}");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}
