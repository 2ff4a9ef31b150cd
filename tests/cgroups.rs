//! cgroup v2 tracking (issue 17): where rinit can make groups — here, the host's
//! cgroup2 mount (/sys/fs/cgroup/unified on this hybrid CI machine), in a group of its
//! own below the test's, removed at exit — a service's processes are its group's. Each
//! test starts rinit in its own PID namespace (tests/common) with `RINIT_CGROUPS=auto`
//! (CI also runs the whole suite with `RINIT_CGROUPS=off`, the /proc fallback).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

fn with_cgroups() -> Opts {
    Opts {
        env: vec![("RINIT_CGROUPS".into(), "auto".into())],
        ..Opts::default()
    }
}

/// The rinit.N group rinit made, from the log line that names it.
fn root_of(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| l.contains("cgroups: each service in its own group under "))
        .unwrap_or_else(|| panic!("rinit does not use cgroups here:\n{stderr}"));
    let rest = line.split(" under ").nth(1).unwrap_or_default();
    rest.split(" (").next().unwrap_or_default().to_string()
}

/// rinit's stderr once it holds every one of `lines`. rinit queues its log lines and
/// writes them from its event loop, so a line logged before a child was spawned can
/// reach the file after that child's first act: wait for the line, not for the child.
fn stderr_with(r: &Rinit, lines: &[&str]) -> String {
    wait_for(&format!("{lines:?} in rinit's stderr"), LIMIT, || {
        let stderr = r.stderr();
        lines.iter().all(|l| stderr.contains(l)).then_some(stderr)
    })
}

/// The report lines that say the sweep found something.
fn sweep_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("  sweep    pid"))
        .collect()
}

#[test]
fn a_setsid_double_forked_escapee_stops_with_its_service_under_a_subreaper() {
    let dir = TempDir::new("cg-escapee");
    let config = dir.path("rinit.toml");
    let log = dir.path("log");
    // `( setsid … & )`: a new session, and its parent (the subshell) gone at once — out
    // of the main process's tree and session, which is all /proc tracking can see.
    let script = format!(
        "( setsid {p} --name escapee --log {log} --touch {d}/escaped & ); exec {p} --name app --log {log}",
        p = probe(),
        d = dir.0.display()
    );
    std::fs::write(
        &config,
        format!("[service.app]\nexec = [\"sh\", \"-c\", {script:?}]\n"),
    )
    .unwrap();
    let mut opts = with_cgroups();
    // sh is PID 1 of the namespace; rinit is its child and a subreaper.
    opts.wrapper = Some("$RINIT; true".into());
    let mut r = Rinit::start(&["-c", &config], opts);
    wait_file(&dir.path("escaped"), LIMIT);
    wait_contains(&log, "app START", LIMIT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0, "{}", r.stderr());
    let stderr = r.stderr();
    root_of(&stderr);
    let ev = events(&log);
    assert_eq!(
        sigs_of(&ev, "escapee").first(),
        Some(&libc::SIGTERM),
        "{ev:?}"
    );
    assert!(
        sweep_lines(&stderr).is_empty(),
        "the escapee was the service's, not a leftover:\n{stderr}"
    );
}

#[test]
fn a_fork_loop_is_killed_whole_at_its_stop_timeout() {
    let config = r#"
[service.loop]
exec = ["{probe}", "--name", "loop", "--log", "{dir}/log", "--hop"]
stop_timeout = "1s"
"#;
    let (mut r, dir) = start_with_config("cg-hop", config, with_cgroups());
    wait_contains(&dir.path("log"), "loop HOP", LIMIT);
    // The loop runs: its first process is long gone.
    wait_for("the first hop's exit", LIMIT, || {
        r.stderr().contains("loop exited").then_some(())
    });
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0, "{}", r.stderr());
    let stderr = r.stderr();
    root_of(&stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains(" loop ") && l.contains(" ms "))
        .unwrap_or_else(|| panic!("no report line for loop:\n{stderr}"));
    assert!(line.contains("KILLED"), "{line}\n{stderr}");
    assert!(sweep_lines(&stderr).is_empty(), "{stderr}");
    assert!(!stderr.contains("survivor"), "{stderr}");
}

#[test]
fn pause_freezes_the_group_and_resume_thaws_it_without_signals() {
    let config = r#"
[service.app]
exec = ["{probe}", "--name", "app", "--log", "{dir}/log", "--chain", "1", "--ready", "{dir}/ready"]
"#;
    let (mut r, dir) = start_with_config("cg-freeze", config, with_cgroups());
    wait_file(&dir.path("ready"), LIMIT);
    let root = root_of(&stderr_with(&r, &["rinit: starting "]));
    let events_file = format!("{root}/app/cgroup.events");
    let (code, out, err) = r.ctl(&["pause", "app"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("paused app (2 process(es))"), "{out}");
    wait_for("frozen 1", LIMIT, || {
        let text = std::fs::read_to_string(&events_file).unwrap_or_default();
        text.contains("frozen 1").then_some(())
    });
    let (_, status, _) = r.ctl(&["status", "app"]);
    assert!(status.contains("paused"), "{status}");
    let (code, out, _) = r.ctl(&["resume", "app"]);
    assert_eq!(code, 0, "{out}");
    wait_for("frozen 0", LIMIT, || {
        let text = std::fs::read_to_string(&events_file).unwrap_or_default();
        text.contains("frozen 0").then_some(())
    });
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0, "{}", r.stderr());
    // Frozen and thawed, never stopped and continued: the first signal either process
    // saw is the shutdown's SIGTERM.
    let ev = events(&dir.path("log"));
    for name in ["app", "app.1"] {
        assert_eq!(
            sigs_of(&ev, name).first(),
            Some(&libc::SIGTERM),
            "{name}: {ev:?}"
        );
    }
    assert!(
        !std::path::Path::new(&root).exists(),
        "rinit removes its groups at exit: {root}"
    );
}

#[test]
fn status_shows_cpu_time_and_limits_without_controllers_are_warned_about_once() {
    let config = r#"
[service.app]
exec = ["{probe}", "--name", "app", "--log", "{dir}/log", "--ready", "{dir}/ready"]
memory_max = "64M"
pids_max = 100

[service.other]
exec = ["{probe}", "--name", "other", "--log", "{dir}/log"]
memory_max = "32M"
"#;
    let (mut r, dir) = start_with_config("cg-status", config, with_cgroups());
    wait_file(&dir.path("ready"), LIMIT);
    let root = root_of(&stderr_with(&r, &["rinit: starting "]));
    let (_, out, _) = r.ctl(&["status", "app"]);
    assert!(out.contains("cpu "), "{out}");
    let offered = std::fs::read_to_string(format!("{root}/cgroup.controllers")).unwrap_or_default();
    let stderr = r.stderr();
    if !offered.contains("memory") {
        let warned: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("memory_max"))
            .collect();
        assert_eq!(warned.len(), 1, "{stderr}");
        assert!(warned[0].contains("(app, other) not applied"), "{stderr}");
    }
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0, "{}", r.stderr());
}

#[test]
fn cgroups_off_tracks_through_proc_and_says_so() {
    let config = r#"
[rinit]
cgroups = "off"

[service.app]
exec = ["{probe}", "--name", "app", "--log", "{dir}/log", "--ready", "{dir}/ready"]
"#;
    let (mut r, dir) = start_with_config("cg-off", config, with_cgroups());
    wait_file(&dir.path("ready"), LIMIT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0, "{}", r.stderr());
    assert!(
        r.stderr()
            .contains("cgroups: off; tracking services through /proc"),
        "{}",
        r.stderr()
    );
}

#[test]
fn a_paused_service_is_thawed_and_stops_gracefully() {
    let config = r#"
[service.app]
exec = ["{probe}", "--name", "app", "--log", "{dir}/log", "--ready", "{dir}/ready"]
stop_timeout = "10s"
"#;
    let (mut r, dir) = start_with_config("cg-paused-stop", config, with_cgroups());
    wait_file(&dir.path("ready"), LIMIT);
    let root = root_of(&stderr_with(&r, &["rinit: starting "]));
    let (code, out, _) = r.ctl(&["pause", "app"]);
    assert_eq!(code, 0, "{out}");
    wait_for("frozen 1", LIMIT, || {
        let text = std::fs::read_to_string(format!("{root}/app/cgroup.events")).unwrap_or_default();
        text.contains("frozen 1").then_some(())
    });
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0, "{}", r.stderr());
    let stderr = r.stderr();
    let line = stderr
        .lines()
        .find(|l| l.contains(" app ") && l.contains(" ms "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.contains("stopped"),
        "thawed, it acted on SIGTERM: {line}"
    );
    assert!(
        events(&dir.path("log"))
            .iter()
            .any(|e| e.name == "app" && e.event == "DONE"),
        "{stderr}"
    );
}

/// Each service's process is born in its own group: cloned into it (clone3 with
/// CLONE_INTO_CGROUP) where the kernel can, else forked and written into the group's
/// cgroup.procs before exec — here with a seccomp filter answering ENOSYS for clone3, as
/// a kernel older than 5.3 does and Docker's default seccomp profile (since moby#42681, 2021; older
/// ones answered EPERM, which rinit takes the same way), which rinit says once.
#[test]
fn each_service_is_born_in_its_own_group_with_or_without_clone3() {
    let config = r#"
[service.a]
exec = ["{probe}", "--name", "a", "--log", "{dir}/log", "--ready", "{dir}/a-ready"]

[service.b]
exec = ["{probe}", "--name", "b", "--log", "{dir}/log", "--ready", "{dir}/b-ready"]
"#;
    for without_clone3 in [false, true] {
        let mut opts = with_cgroups();
        opts.old_kernel = without_clone3;
        let (mut r, dir) = start_with_config("cg-born", config, opts);
        wait_file(&dir.path("a-ready"), LIMIT);
        wait_file(&dir.path("b-ready"), LIMIT);
        let root = root_of(&stderr_with(&r, &["rinit: starting "]));
        for name in ["a", "b"] {
            let p = r.probe_named(name).expect("the service's probe");
            let line = std::fs::read_to_string(format!("/proc/{}/cgroup", p.host_pid)).unwrap();
            let path = line
                .lines()
                .find_map(|l| l.strip_prefix("0::"))
                .unwrap_or_else(|| panic!("no cgroup v2 line: {line}"));
            assert!(
                format!("{root}/{name}").ends_with(path) && path.ends_with(&format!("/{name}")),
                "{name} (clone3 {}) is in {path}, not in {root}/{name}",
                if without_clone3 { "refused" } else { "allowed" }
            );
        }
        // Both spawned: every line logged at or before their spawns is in the file.
        let stderr = stderr_with(&r, &["a: starting -> running", "b: starting -> running"]);
        let said = stderr
            .matches("children join their group after fork")
            .count();
        assert_eq!(said, usize::from(without_clone3), "{stderr}");
        r.signal(libc::SIGTERM);
        assert_eq!(r.wait(LIMIT), 0, "{}", r.stderr());
    }
}

/// The cgroup path of a process from the `0::` line its /proc/PID/cgroup had.
fn v2_path(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or_else(|| panic!("no cgroup v2 line: {text}"))
        .to_string()
}

/// A service's exec checks run in its group's `.probe` sub-group: its limits apply to
/// them, and what a check leaves running — even a `setsid` double fork, out of the
/// check's session and tree — is killed with the group when the check exits (readiness
/// and health checks alike). Through /proc (cgroups off) such an escapee is out of reach
/// and lives on until the final sweep.
#[test]
fn exec_checks_run_in_the_services_probe_group_and_leave_nothing_behind() {
    let config = r#"
[service.app]
exec = ["{probe}", "--name", "app", "--log", "{dir}/log"]
ready = "exec:sh -c 'cat /proc/self/cgroup > {dir}/ready-cgroup; ( setsid {probe} --name left-by-ready --log {dir}/log --ready {dir}/ready-left-up & ); while ! test -e {dir}/ready-left-up; do sleep 0.01; done'"

[service.web]
exec = ["{probe}", "--name", "web", "--log", "{dir}/log"]
health = "exec:sh -c 'test -e {dir}/spawned || ( touch {dir}/spawned; cat /proc/self/cgroup > {dir}/health-cgroup; setsid {probe} --name escapee --log {dir}/log --ready {dir}/escapee-up & ); while ! test -e {dir}/escapee-up; do sleep 0.01; done'"
health_interval = "100ms"
health_timeout = "15s"
"#;
    for cgroups in [true, false] {
        let mut opts = with_cgroups();
        if !cgroups {
            opts.env = vec![("RINIT_CGROUPS".into(), "off".into())];
        }
        let (mut r, dir) = start_with_config("cg-checks", config, opts);
        // Each escapee is up before its check exits (the check waits for it).
        wait_file(&dir.path("ready-left-up"), LIMIT);
        wait_file(&dir.path("escapee-up"), LIMIT);
        wait_for("a healthy web", LIMIT, || {
            let (_, json, _) = r.ctl(&["--json", "status", "web"]);
            json.contains(r#""health":{"state":"healthy""#)
                .then_some(())
        });
        if cgroups {
            let root = root_of(&stderr_with(&r, &["rinit: starting "]));
            for (file, service) in [("ready-cgroup", "app"), ("health-cgroup", "web")] {
                let path = v2_path(&std::fs::read_to_string(dir.path(file)).unwrap());
                let want = format!("{root}/{service}/.probe");
                assert!(
                    path.ends_with(&format!("/{service}/.probe")) && want.ends_with(&path),
                    "{file}: {path}, not {want}"
                );
            }
            for name in ["left-by-ready", "escapee"] {
                wait_for(
                    &format!("{name} killed with the checks' group"),
                    LIMIT,
                    || r.probe_named(name).is_none().then_some(()),
                );
            }
        } else {
            for name in ["left-by-ready", "escapee"] {
                assert!(
                    r.probe_named(name).is_some(),
                    "without cgroups a setsid double fork escapes the check: {name}"
                );
            }
        }
        r.signal(libc::SIGTERM);
        assert_eq!(r.wait(LIMIT), 0, "{}", r.stderr());
        if cgroups {
            let root = root_of(&r.stderr());
            assert!(
                !std::path::Path::new(&root).exists(),
                "rinit removes its groups, .probe included: {root}"
            );
        }
    }
}

/// A service whose stop ended in `cgroup.kill` starts again: on some kernels (seen on
/// 6.18) every child later cloned into a group that was killed is killed at birth, so
/// rinit makes the group afresh when the service starts again.
#[test]
fn a_service_killed_at_its_stop_timeout_starts_again_in_a_fresh_group() {
    let config = r#"
[service.app]
exec = ["{probe}", "--name", "app", "--log", "{dir}/log", "--ignore", "TERM"]
stop_timeout = "300ms"
"#;
    let (mut r, dir) = start_with_config("cg-restart", config, with_cgroups());
    let log = dir.path("log");
    wait_contains(&log, "app START", LIMIT);
    let first = r.probe_named("app").expect("app runs").host_pid;
    for round in 1..=2 {
        let (code, out, err) = r.ctl(&["restart", "app"]);
        assert_eq!(code, 0, "{out}{err}");
        wait_for("app started again", LIMIT, || {
            let starts = events(&log)
                .iter()
                .filter(|e| e.name == "app" && e.event == "START")
                .count();
            (starts > round).then_some(())
        });
    }
    let now = r.probe_named("app").expect("app runs again").host_pid;
    assert_ne!(now, first);
    let stderr = stderr_with(&r, &["sending SIGKILL"]);
    assert!(!stderr.contains("app failed"), "{stderr}");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0, "{}", r.stderr());
}

#[test]
fn a_killed_rinits_group_is_removed_by_the_next_rinit_and_a_live_ones_is_not() {
    let config = r#"
[service.app]
exec = ["{probe}", "--name", "app", "--log", "{dir}/log"]
"#;
    let (mut killed, killed_dir) = start_with_config("cg-stale-a", config, with_cgroups());
    wait_contains(&killed_dir.path("log"), "app START", LIMIT);
    let stale = root_of(&stderr_with(&killed, &["cgroups: each service"]));
    // SIGKILL: no chance to remove its group; the namespace (its services) dies with it.
    killed.signal(libc::SIGKILL);
    killed.wait_status(LIMIT);

    // The live rinit's groups are all empty for a moment (its oneshot is done, its app
    // not yet running): only the lock keeps them.
    let live_config = format!(
        "{config}after = [\"setup\"]\n[service.setup]\nexec = [\"true\"]\noneshot = true\n"
    );
    let (mut live, live_dir) = start_with_config("cg-stale-c", &live_config, with_cgroups());
    wait_contains(&live_dir.path("log"), "app START", LIMIT);
    let kept = root_of(&stderr_with(&live, &["cgroups: each service"]));
    let setup = std::path::Path::new(&kept).join("setup");
    assert!(setup.is_dir(), "{}", live.stderr());

    let (mut next, next_dir) = start_with_config("cg-stale-b", config, with_cgroups());
    wait_contains(&next_dir.path("log"), "app START", LIMIT);
    let stderr = stderr_with(&next, &["cgroups: each service"]);
    assert!(
        !std::path::Path::new(&stale).exists(),
        "{stale} is still there:\n{stderr}"
    );
    assert!(
        setup.is_dir(),
        "{kept}'s empty group was removed under its rinit:\n{stderr}"
    );
    for r in [&mut live, &mut next] {
        r.signal(libc::SIGTERM);
        assert_eq!(r.wait(LIMIT), 0, "{}", r.stderr());
    }
    assert!(!std::path::Path::new(&kept).exists(), "removed at exit");
}
