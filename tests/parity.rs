//! What supervisord and s6-overlay users rely on (issue 16): services disabled until
//! asked, environment files, `${VAR}` from rinit's environment. rinit runs as PID 1 of
//! its own PID namespace (tests/common).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn a_disabled_service_waits_for_ctl_start_and_so_do_its_dependents() {
    let config = r#"
[service.web]
exec = ["{probe}", "--name", "web", "--log", "{dir}/events"]

[service.worker]
enabled = false
exec = ["{probe}", "--name", "worker", "--log", "{dir}/events", "--touch", "{dir}/worker.ready"]
ready = "file:{dir}/worker.ready"

[service.reporter]
after = ["worker"]
exec = ["{probe}", "--name", "reporter", "--log", "{dir}/events"]
"#;
    let (mut r, dir) = start_with_config("parity-disabled", config, Opts::default());
    let log = dir.path("events");
    wait_contains(&log, "web START", LIMIT);
    let (_, status, _) = r.ctl(&["status"]);
    let state = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.split_whitespace().nth(1).map(String::from))
    };
    assert_eq!(state("worker").as_deref(), Some("disabled"), "{status}");
    assert_eq!(state("reporter").as_deref(), Some("waiting"), "{status}");
    // Deliberately off is not unhealthy.
    let (code, out, _) = r.ctl(&["health"]);
    assert_eq!(code, 1, "reporter still waits: {out}");
    assert!(!out.contains("worker"), "{out}");
    assert!(r.probe_named("worker").is_none());
    let (code, out, _) = r.ctl(&["start", "worker"]);
    assert_eq!(code, 0, "{out}");
    wait_contains(&log, "reporter START", LIMIT);
    let ev = events(&log);
    let at = |name: &str| ev.iter().position(|e| e.name == name && e.event == "START");
    assert!(at("worker") < at("reporter"), "{ev:?}");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}

#[test]
fn env_files_and_variables_reach_the_service() {
    let dir = TempDir::new("parity-env");
    std::fs::write(
        dir.path("app.env"),
        "# app\nDB_URL=postgres://db/app\nexport GREETING=\"hello world\"\nPORT=1\n",
    )
    .unwrap();
    let config = r#"
[service.app]
oneshot = true
env_file = ["{dir}/app.env", "-{dir}/missing.env"]
env = { PORT = "${APP_PORT:-9090}", FROM_RINIT = "${RINIT_TEST_VALUE}" }
exec = ["sh", "-c", "env > {dir}/env.tmp && mv {dir}/env.tmp {dir}/env", "${RINIT_TEST_VALUE}"]
workdir = "${RINIT_TEST_DIR}"
"#;
    let path = write_config(&dir, config);
    let opts = Opts {
        env: vec![
            ("RINIT_TEST_VALUE".into(), "from-rinit".into()),
            ("RINIT_TEST_DIR".into(), dir.path("")),
        ],
        ..Opts::default()
    };
    let mut r = Rinit::start(&["-c", &path], opts);
    let env = wait_file(&dir.path("env"), LIMIT);
    assert!(env.contains("DB_URL=postgres://db/app\n"), "{env}");
    assert!(env.contains("GREETING=hello world\n"), "{env}");
    assert!(env.contains("PORT=9090\n"), "env wins over the file: {env}");
    assert!(env.contains("FROM_RINIT=from-rinit\n"), "{env}");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}

#[test]
fn check_names_an_undefined_variable_and_a_missing_env_file() {
    let dir = TempDir::new("parity-check");
    let bad_var = write_config(
        &dir,
        "[service.a]\nexec = \"run ${RINIT_TEST_SURELY_UNSET}\"\n",
    );
    let out = std::process::Command::new(RINIT)
        .args(["check", "-c", &bad_var])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("rinit.toml:2:8: exec: ${RINIT_TEST_SURELY_UNSET} is not set"),
        "{err}"
    );
    let missing = write_config(
        &dir,
        "[service.a]\nexec = \"a\"\nenv_file = [\"/nonexistent/app.env\"]\n",
    );
    let out = std::process::Command::new(RINIT)
        .args(["check", "-c", &missing])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rinit.toml:3:12: env_file: /nonexistent/app.env: cannot read: "),
        "{err}"
    );
}

#[test]
fn limits_and_process_settings_are_applied_before_exec() {
    let config = r#"
[service.app]
oneshot = true
exec = "sh -c 'echo nofile=$(ulimit -n) core=$(ulimit -c) umask=$(umask) oom=$(cat /proc/self/oom_score_adj) nice=$(cut -d\" \" -f19 /proc/self/stat) > {dir}/out.tmp && mv {dir}/out.tmp {dir}/out'"
limits = { nofile = 123, core = 0 }
nice = 5
umask = "0027"
oom_score_adj = 500

[service.refused]
exec = ["{probe}", "--name", "refused"]
limits = { nofile = "2000000000:2000000000" }
"#;
    let (mut r, dir) = start_with_config("parity-limits", config, Opts::default());
    let out = wait_file(&dir.path("out"), LIMIT);
    assert_eq!(
        out.trim(),
        "nofile=123 core=0 umask=0027 oom=500 nice=5",
        "{}",
        r.stderr()
    );
    // A value the kernel refuses: the service does not run without it.
    let err = wait_for("refused failed", LIMIT, || {
        let err = r.stderr();
        err.contains("refused failed").then_some(err)
    });
    // The child says why on its output, which rinit prefixes with the service's name.
    let out = wait_for("the reason", LIMIT, || {
        let out = r.stdout();
        out.contains("limits.nofile: ").then_some(out)
    });
    assert!(
        out.contains("refused | rinit: refused: cannot run"),
        "{out}\n{err}"
    );
    assert!(r.probe_named("refused").is_none());
    r.signal(libc::SIGTERM);
    r.wait(LIMIT);
}

#[test]
fn instances_run_log_and_stop_as_services_of_their_own() {
    let config = r#"
[service.worker]
instances = 3
exec = ["{probe}", "--name", "worker{instance}", "--log", "{dir}/events", "--touch", "{dir}/w{instance}.ready"]
ready = "file:{dir}/w{instance}.ready"
env = { SLOT = "{instance}" }

[service.report]
after = ["worker"]
exec = ["{probe}", "--name", "report", "--log", "{dir}/events"]
"#;
    let (mut r, dir) = start_with_config("parity-instances", config, Opts::default());
    let log = dir.path("events");
    wait_contains(&log, "report START", LIMIT);
    let ev = events(&log);
    let start = |name: &str| ev.iter().position(|e| e.name == name && e.event == "START");
    for n in 1..=3 {
        let w = format!("worker{n}");
        assert!(start(&w).is_some() && start(&w) < start("report"), "{ev:?}");
    }
    let (_, status, _) = r.ctl(&["status", "worker"]);
    for n in 1..=3 {
        assert!(status.contains(&format!("worker@{n} ")), "{status}");
    }
    assert!(!status.contains("report"), "{status}");
    // One instance, then all of them.
    let (code, out, err) = r.ctl(&["stop", "worker@2"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for("worker2 done", LIMIT, || {
        events(&log)
            .iter()
            .any(|e| e.name == "worker2" && e.event == "DONE")
            .then_some(())
    });
    assert!(r.probe_named("worker1").is_some() && r.probe_named("worker3").is_some());
    let (code, out, err) = r.ctl(&["stop", "worker"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for("all workers done", LIMIT, || {
        let ev = events(&log);
        ["worker1", "worker3"]
            .iter()
            .all(|w| ev.iter().any(|e| e.name == *w && e.event == "DONE"))
            .then_some(())
    });
    let (code, out, err) = r.ctl(&["start", "worker@2"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for("worker2 again", LIMIT, || r.probe_named("worker2"));
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}

#[test]
fn logs_on_demand_last_lines_and_follow() {
    let config = r#"
[service.app]
exec = "sh -c 'for i in 1 2 3 4 5; do echo line $i; done; while [ ! -e {dir}/go ]; do sleep 0.02; done; echo second; exec sleep 1000'"

[service.stamped]
exec = "sh -c 'echo hello; exec sleep 1000'"
log_timestamps = true

[service.quiet]
exec = "sleep 1000"
log = "null"
"#;
    let (mut r, dir) = start_with_config("parity-logs", config, Opts::default());
    let (_, all, _) = wait_for("5 lines", LIMIT, || {
        let reply = r.ctl(&["logs", "app"]);
        (reply.1.lines().count() == 5).then_some(reply)
    });
    assert_eq!(all, "line 1\nline 2\nline 3\nline 4\nline 5\n");
    let (code, last, _) = r.ctl(&["logs", "app", "-n", "2"]);
    assert_eq!((code, last.as_str()), (0, "line 4\nline 5\n"));
    let (_, stamped, _) = wait_for("stamped", LIMIT, || {
        let reply = r.ctl(&["logs", "stamped"]);
        reply.1.contains("hello").then_some(reply)
    });
    // 2026-12-02T10:30:05.123Z hello
    let (time, text) = stamped.trim().split_once(' ').unwrap();
    assert_eq!(text, "hello");
    assert!(
        time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{time}"
    );
    let (code, _, err) = r.ctl(&["logs", "quiet"]);
    assert_eq!(code, 1);
    assert!(err.contains("does not log with prefix"), "{err}");
    // -f: the kept lines, then each new one, while the connection stays open.
    let mut follow = std::process::Command::new(RINIT)
        .args(["ctl", "-s", &r.socket(), "logs", "app", "-n", "1", "-f"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(follow.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line, "line 5\n");
    std::fs::write(dir.path("go"), "").unwrap();
    line.clear();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line, "second\n");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
    // rinit gone: the follower ends.
    assert!(follow.wait().unwrap().success());
}

#[test]
fn a_log_file_rotates_by_size_without_any_signal() {
    let config = r#"
[service.app]
exec = "sh -c 'i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; exec sleep 1000'"
log = "{dir}/app.log"
log_max_size = "4K"
log_keep = 2
"#;
    let (mut r, dir) = start_with_config("parity-rotate", config, Opts::default());
    wait_for("all lines", LIMIT, || {
        let (_, out, _) = r.ctl(&["logs", "app", "-n", "1"]);
        out.contains("line-299-").then_some(())
    });
    let size = |name: &str| std::fs::metadata(dir.path(name)).map(|m| m.len()).ok();
    for name in ["app.log", "app.log.1", "app.log.2"] {
        let s = size(name).unwrap_or_else(|| panic!("{name} missing"));
        assert!(s <= 4096, "{name}: {s} bytes");
    }
    assert_eq!(size("app.log.3"), None);
    let newest = std::fs::read_to_string(dir.path("app.log")).unwrap();
    assert!(newest.ends_with("line-299-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"));
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}

#[test]
fn logs_of_a_group_show_every_instance_by_name() {
    let config = r#"
[service.w]
instances = 2
exec = "sh -c 'echo hi {instance}; exec sleep 1000'"
"#;
    let (mut r, _dir) = start_with_config("parity-group-logs", config, Opts::default());
    let (code, out, _) = wait_for("both lines", LIMIT, || {
        let reply = r.ctl(&["logs", "w"]);
        (reply.1.lines().count() == 2).then_some(reply)
    });
    assert_eq!(code, 0);
    assert_eq!(out, "w@1 | hi 1\nw@2 | hi 2\n");
    let (_, last, _) = r.ctl(&["logs", "w", "-n", "1"]);
    assert_eq!(last, "w@2 | hi 2\n");
    let (code, one, _) = r.ctl(&["logs", "w@1"]);
    assert_eq!((code, one.as_str()), (0, "hi 1\n"));
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}
