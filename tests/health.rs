//! `rinit ctl health`: the one answer Docker's HEALTHCHECK and Kubernetes' exec probes
//! need — exit 0 when every service that should run is running and ready (oneshots:
//! exited successfully), 1 with one line naming what is not. rinit runs as PID 1 of its
//! own PID namespace (tests/common).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::time::Duration;

const SHORT: Duration = Duration::from_secs(15);

#[test]
fn health_names_what_is_not_running_and_ready() {
    let config = r#"
[service.setup]
oneshot = true
exec = ["true"]

[service.db]
after = ["setup"]
exec = ["{probe}", "--name", "db", "--touch", "{dir}/db.ready"]
ready = "file:{dir}/db.ready"

[service.flaky]
exec = ["{probe}", "--name", "flaky", "--exit-on", "USR1", "--exit", "1", "--ready", "{dir}/flaky.ready"]

[service.app]
after = ["flaky"]
exec = ["{probe}", "--name", "app"]

[service.late]
after = ["db"]
exec = ["{probe}", "--name", "late", "--ready-delay-ms", "60000", "--touch", "{dir}/late.ready"]
ready = "file:{dir}/late.ready"
ready_timeout = "120s"
stop_timeout = "1s"
"#;
    let (mut r, dir) = start_with_config("health", config, Opts::default());
    wait_file(&dir.path("db.ready"), SHORT);
    wait_file(&dir.path("flaky.ready"), SHORT);
    // `late` is still starting: not healthy yet, and it says so.
    let (code, out, _) = wait_for("late starting", SHORT, || {
        let reply = r.ctl(&["health"]);
        reply.1.contains("late starting").then_some(reply)
    });
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("unhealthy: "), "{out}");
    assert!(
        !out.contains("setup"),
        "a oneshot that succeeded is healthy: {out}"
    );
    assert!(!out.contains("db"), "{out}");
    // flaky fails for good (no restart): named with its exit status.
    let flaky = r.probe_named("flaky").unwrap();
    r.signal_host_pid(flaky.host_pid, libc::SIGUSR1);
    let (code, out, _) = wait_for("flaky failed", SHORT, || {
        let reply = r.ctl(&["health"]);
        reply.1.contains("flaky failed").then_some(reply)
    });
    assert_eq!(code, 1);
    assert!(out.contains("flaky failed (exit code 1)"), "{out}");
    let (code, json, _) = r.ctl(&["--json", "health"]);
    assert_eq!(code, 1);
    assert!(json.contains("\"healthy\":false"), "{json}");
    assert!(json.contains("\"problems\":["), "{json}");
    r.signal(libc::SIGTERM);
    r.wait(SHORT);
}

#[test]
fn health_is_zero_when_all_is_well() {
    let config = r#"
[service.once]
oneshot = true
exec = ["true"]

[service.web]
after = ["once"]
exec = ["{probe}", "--name", "web", "--touch", "{dir}/web.ready"]
ready = "file:{dir}/web.ready"
"#;
    let (mut r, dir) = start_with_config("health-ok", config, Opts::default());
    wait_file(&dir.path("web.ready"), SHORT);
    let (code, out, err) = wait_for("healthy", SHORT, || {
        let reply = r.ctl(&["health"]);
        (reply.0 == 0).then_some(reply)
    });
    assert_eq!((code, out.trim()), (0, "healthy"), "{err}");
    // A service stopped on request is not a problem.
    assert_eq!(r.ctl(&["stop", "web"]).0, 0);
    wait_for("web stopped", SHORT, || {
        r.ctl(&["--json", "status", "web"])
            .1
            .contains("\"state\":\"stopped\"")
            .then_some(())
    });
    assert_eq!(r.ctl(&["health"]).0, 0);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
}
