//! The control socket and `rinit ctl` (DESIGN §6), with rinit as PID 1 of its own PID
//! namespace and each rinit on its own socket.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

const SHORT: Duration = Duration::from_secs(15);

const CONFIG: &str = r#"
[service.db]
exec = ["{probe}", "--name", "db", "--log", "{dir}/log", "--touch", "{dir}/db.ready"]
ready = "file:{dir}/db.ready"

[service.app]
after = ["db"]
exec = ["{probe}", "--name", "app", "--log", "{dir}/log", "--cleanup-ms", "100", "--touch", "{dir}/app.ready"]
ready = "file:{dir}/app.ready"

[service.lone]
exec = ["{probe}", "--name", "lone", "--log", "{dir}/log", "--touch", "{dir}/lone.ready"]
ready = "file:{dir}/lone.ready"
"#;

fn start(config: &str) -> (Rinit, TempDir, String) {
    let dir = TempDir::new("ctl");
    let path = write_config(&dir, config);
    let r = Rinit::start(&["-c", &path], Opts::default());
    wait_for("the control socket", SHORT, || {
        std::path::Path::new(&r.socket()).exists().then_some(())
    });
    (r, dir, path)
}

/// Wait until every service is in `state` per `ctl --json status`.
fn wait_states(r: &Rinit, want: &[(&str, &str)]) -> String {
    wait_for(&format!("states {want:?}"), SHORT, || {
        let (_, out, _) = r.ctl(&["--json", "status"]);
        want.iter()
            .all(|(name, state)| {
                out.contains(&format!("\"name\":\"{name}\",\"state\":\"{state}\""))
            })
            .then_some(out)
    })
}

fn pid_of(status: &str, name: &str) -> Option<u32> {
    let start = status.find(&format!("\"name\":\"{name}\""))?;
    let rest = &status[start..];
    let pid = rest.split("\"pid\":").nth(1)?;
    pid.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Send raw lines on one connection; read one reply line per request.
fn raw(socket: &str) -> (UnixStream, BufReader<UnixStream>) {
    let s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(SHORT)).unwrap();
    let reader = BufReader::new(s.try_clone().unwrap());
    (s, reader)
}

fn read_line(reader: &mut BufReader<UnixStream>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line
}

#[test]
fn status_as_a_table_and_as_json() {
    let (mut r, _dir, _) = start(CONFIG);
    let json = wait_states(
        &r,
        &[("db", "running"), ("app", "running"), ("lone", "running")],
    );
    assert!(
        json.starts_with("{\"ok\":true,\"phase\":\"running\""),
        "{json}"
    );
    assert!(
        json.contains("\"restarts\":0") && json.contains("\"uptime_ms\":"),
        "{json}"
    );
    let (code, table, _) = r.ctl(&["status"]);
    assert_eq!(code, 0);
    assert!(table.starts_with("phase: running\n"), "{table}");
    assert!(table.lines().nth(1).unwrap().contains("STATE"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("db ") && l.contains("running")),
        "{table}"
    );
    let (code, one, _) = r.ctl(&["--json", "status", "app"]);
    assert_eq!(code, 0);
    assert!(
        one.contains("\"name\":\"app\"") && !one.contains("\"name\":\"db\""),
        "{one}"
    );
    let (code, _, err) = r.ctl(&["status", "ghost"]);
    assert_eq!(code, 1);
    assert!(err.contains("no service \"ghost\""), "{err}");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0);
}

#[test]
fn stop_start_and_restart_respect_dependents() {
    let (mut r, dir, _) = start(CONFIG);
    let before = wait_states(
        &r,
        &[("db", "running"), ("app", "running"), ("lone", "running")],
    );
    let (code, out, _) = r.ctl(&["stop", "db"]);
    assert_eq!(code, 0);
    assert!(out.contains("after its dependents: app"), "{out}");
    let (code, _, err) = r.ctl(&["stop", "db"]);
    assert_eq!(code, 1, "a second stop while stopping is refused");
    assert!(err.contains("already stopping"), "{err}");
    wait_states(
        &r,
        &[("db", "stopped"), ("app", "stopped"), ("lone", "running")],
    );
    let ev = events(&dir.path("log"));
    let app_done = ev
        .iter()
        .find(|e| e.name == "app" && e.event == "DONE")
        .unwrap()
        .ns;
    let db_term = ev
        .iter()
        .find(|e| e.name == "db" && e.event == "SIG")
        .unwrap()
        .ns;
    assert!(
        app_done < db_term,
        "app must be gone before db gets its signal"
    );
    // Starting app brings db back first.
    let (code, out, _) = r.ctl(&["start", "app"]);
    assert_eq!(code, 0, "{out}");
    let after = wait_states(&r, &[("db", "running"), ("app", "running")]);
    assert_ne!(pid_of(&before, "db"), pid_of(&after, "db"));
    // Invalid transitions are refused.
    let (code, _, err) = r.ctl(&["start", "app"]);
    assert_eq!(code, 1);
    assert!(err.contains("app is running"), "{err}");
    // Restart: new pids for db and its dependent; lone untouched.
    let (code, out, _) = r.ctl(&["restart", "db"]);
    assert_eq!(code, 0, "{out}");
    wait_for("new pids after restart", SHORT, || {
        let (_, s, _) = r.ctl(&["--json", "status"]);
        let fresh = pid_of(&s, "db").is_some_and(|p| Some(p) != pid_of(&after, "db"))
            && pid_of(&s, "app").is_some_and(|p| Some(p) != pid_of(&after, "app"))
            && s.contains("\"name\":\"app\",\"state\":\"running\"");
        fresh.then_some(())
    });
    let (_, now, _) = r.ctl(&["--json", "status"]);
    assert_eq!(pid_of(&now, "lone"), pid_of(&before, "lone"));
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
}

#[test]
fn reload_adds_removes_changes_and_keeps() {
    let (mut r, dir, _) = start(CONFIG);
    let before = wait_states(
        &r,
        &[("db", "running"), ("app", "running"), ("lone", "running")],
    );
    // A broken config changes nothing.
    std::fs::write(
        dir.path("rinit.toml"),
        "[service.db]\nexec = \"true\"\nafter = [\"nope\"]\n",
    )
    .unwrap();
    let (code, _, err) = r.ctl(&["reload"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("reload rejected, nothing changed") && err.contains("nope"),
        "{err}"
    );
    let (_, same, _) = r.ctl(&["--json", "status"]);
    for name in ["db", "app", "lone"] {
        assert_eq!(pid_of(&same, name), pid_of(&before, name), "{name} changed");
    }
    // db unchanged, app changed, lone removed, extra added.
    let new = CONFIG.replace("\"--cleanup-ms\", \"100\"", "\"--cleanup-ms\", \"50\"").replace(
        "[service.lone]\nexec = [\"{probe}\", \"--name\", \"lone\", \"--log\", \"{dir}/log\", \"--touch\", \"{dir}/lone.ready\"]\nready = \"file:{dir}/lone.ready\"\n",
        "[service.extra]\nexec = [\"{probe}\", \"--name\", \"extra\", \"--log\", \"{dir}/log\"]\n",
    );
    assert!(new.contains("extra") && new.contains("\"50\""));
    write_config(&dir, &new);
    let (code, out, _) = r.ctl(&["reload"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("added [extra]")
            && out.contains("removed [lone]")
            && out.contains("changed [app]"),
        "{out}"
    );
    let after = wait_for("reload applied", SHORT, || {
        let (_, s, _) = r.ctl(&["--json", "status"]);
        let app_new = pid_of(&s, "app").is_some_and(|p| Some(p) != pid_of(&before, "app"));
        (app_new
            && !s.contains("\"lone\"")
            && s.contains("\"name\":\"extra\",\"state\":\"running\""))
        .then_some(s)
    });
    assert_eq!(
        pid_of(&after, "db"),
        pid_of(&before, "db"),
        "unchanged db keeps its pid"
    );
    let ev = events(&dir.path("log"));
    assert!(
        ev.iter().any(|e| e.name == "lone" && e.event == "SIG"),
        "lone was stopped"
    );
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
}

#[test]
fn sighup_reloads_when_there_is_no_main() {
    let (mut r, dir, _) = start(CONFIG);
    wait_states(&r, &[("lone", "running")]);
    write_config(
        &dir,
        &format!("{CONFIG}\n[service.late]\nexec = [\"sleep\", \"1000\"]\n"),
    );
    r.signal(libc::SIGHUP);
    wait_states(&r, &[("late", "running")]);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0);
}

/// Paused: stopped by SIGSTOP (/proc tracking) or in a frozen cgroup (cgroup tracking,
/// where frozen processes do not show as stopped).
fn paused(host_pid: i32) -> bool {
    let cgroup = std::fs::read_to_string(format!("/proc/{host_pid}/cgroup")).unwrap_or_default();
    let frozen = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .is_some_and(|path| {
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            let mount = mountinfo
                .lines()
                .find(|l| l.contains(" - cgroup2 "))
                .and_then(|l| l.split_whitespace().nth(4).map(String::from))
                .unwrap_or_default();
            let events = std::fs::read_to_string(format!("{mount}{path}/cgroup.events"));
            events.unwrap_or_default().contains("frozen 1")
        });
    frozen || proc_state(host_pid) == 'T'
}

fn proc_state(host_pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{host_pid}/stat")).unwrap();
    stat.rsplit(')')
        .next()
        .unwrap()
        .trim()
        .chars()
        .next()
        .unwrap()
}

#[test]
fn pause_resume_and_kill() {
    let (mut r, dir, _) = start(CONFIG);
    wait_states(&r, &[("lone", "running")]);
    let lone = r.probe_named("lone").unwrap();
    assert_eq!(r.ctl(&["pause", "lone"]).0, 0);
    wait_for("lone paused", SHORT, || paused(lone.host_pid).then_some(()));
    wait_states(&r, &[("lone", "paused")]);
    let (code, _, err) = r.ctl(&["resume", "db"]);
    assert_eq!(code, 1);
    assert!(err.contains("not paused"), "{err}");
    assert_eq!(r.ctl(&["resume", "lone"]).0, 0);
    wait_for("lone running", SHORT, || {
        (!paused(lone.host_pid)).then_some(())
    });
    wait_states(&r, &[("lone", "running")]);
    let (code, out, _) = r.ctl(&["kill", "lone", "USR1"]);
    assert_eq!(code, 0, "{out}");
    wait_for("SIGUSR1 at lone", SHORT, || {
        events(&dir.path("log"))
            .iter()
            .any(|e| e.name == "lone" && e.event == "SIG" && e.sig == libc::SIGUSR1)
            .then_some(())
    });
    let (code, _, err) = r.ctl(&["kill", "lone", "SIGBOGUS"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown signal"), "{err}");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0);
}

#[test]
fn shutdown_twice_and_the_socket_goes_away() {
    let (mut r, _dir, _) = start(CONFIG);
    wait_states(&r, &[("app", "running")]);
    let mode = std::fs::metadata(r.socket()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "socket mode {mode:o}");
    // Hold a connection, so the second request reaches a rinit that is stopping.
    let (mut s, mut reader) = raw(&r.socket());
    let (code, out, _) = r.ctl(&["shutdown"]);
    assert_eq!(code, 0);
    assert!(out.contains("shutting down"), "{out}");
    s.write_all(b"{\"command\":\"shutdown\"}\n").unwrap();
    let second = read_line(&mut reader);
    assert!(
        second.contains("\"ok\":true") && second.contains("already shutting down"),
        "{second}"
    );
    s.write_all(b"{\"command\":\"status\"}\n").unwrap();
    let status = read_line(&mut reader);
    assert!(
        status.contains("\"phase\":\"stopping\"") && status.contains("\"seconds_left\":"),
        "{status}"
    );
    s.write_all(b"{\"command\":\"stop\",\"name\":\"db\"}\n")
        .unwrap();
    let refused = read_line(&mut reader);
    assert!(
        refused.contains("\"ok\":false") && refused.contains("shutting down"),
        "{refused}"
    );
    assert_eq!(r.wait(SHORT), 0);
    assert!(
        !std::path::Path::new(&r.socket()).exists(),
        "the socket must be removed at exit"
    );
}

#[test]
fn garbage_and_oversized_lines_get_errors_and_nothing_breaks() {
    let (mut r, _dir, _) = start(CONFIG);
    wait_states(&r, &[("app", "running")]);
    let (mut s, mut reader) = raw(&r.socket());
    for bad in [
        "garbage",
        "{\"command\":",
        "[]",
        "{\"command\":\"explode\"}",
        "{\"command\":\"stop\"}",
        "\u{1}\u{2}",
    ] {
        s.write_all(format!("{bad}\n").as_bytes()).unwrap();
        let reply = read_line(&mut reader);
        assert!(
            reply.starts_with("{\"ok\":false,\"error\":"),
            "{bad:?}: {reply}"
        );
    }
    s.write_all(b"{\"command\":\"status\"}\n").unwrap();
    assert!(
        read_line(&mut reader).contains("\"ok\":true"),
        "the connection stays usable"
    );
    // An unterminated 1 MiB line: an error, then the connection is closed.
    let (mut big, mut big_reader) = raw(&r.socket());
    let chunk = vec![b'x'; 1024 * 1024];
    let _ = big.write_all(&chunk);
    let reply = read_line(&mut big_reader);
    assert!(reply.contains("longer than"), "{reply}");
    let mut rest = Vec::new();
    let _ = big_reader.read_to_end(&mut rest);
    assert!(rest.is_empty(), "closed after the error");
    assert_eq!(r.ctl(&["status"]).0, 0, "rinit still serves others");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0);
}

#[test]
fn idle_clients_cannot_crowd_out_status_during_a_zombie_storm() {
    let config = format!(
        "{CONFIG}\n[service.storm]\nexec = [\"{{probe}}\", \"--name\", \"storm\", \"--orphans\", \"3000\", \"--ready\", \"{{dir}}/storm.ready\"]\n"
    );
    let (mut r, dir, _) = start(&config);
    wait_states(&r, &[("app", "running")]);
    let idle: Vec<UnixStream> = (0..200)
        .map(|_| UnixStream::connect(r.socket()).unwrap())
        .collect();
    wait_file(&dir.path("storm.ready"), Duration::from_secs(60));
    let t0 = Instant::now();
    let (code, out, err) = r.ctl(&["status"]);
    let took = t0.elapsed();
    assert_eq!(code, 0, "{out}{err}");
    assert!(took < Duration::from_secs(1), "status took {took:?}");
    wait_for("no zombies", SHORT, || {
        (r.ns_procs().iter().filter(|p| p.state == 'Z').count() == 0).then_some(())
    });
    drop(idle);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0);
}

#[test]
fn other_users_are_refused() {
    if !is_root() {
        eprintln!("skipped: needs root to run a client as another user");
        return;
    }
    let (mut r, dir, _) = start(CONFIG);
    wait_states(&r, &[("app", "running")]);
    let as_nobody = || {
        std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                common::RINIT,
                "ctl",
                "-s",
                &r.socket(),
                "status",
            ])
            .output()
            .unwrap()
    };
    // Mode 0600: the kernel refuses the connection.
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = as_nobody();
    assert_ne!(out.status.code(), Some(0));
    // Even when the socket is opened up, rinit checks the peer's credentials.
    std::fs::set_permissions(r.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = as_nobody();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("permission denied"),
        "{out:?}"
    );
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0);
}

#[test]
fn no_server_is_exit_3_with_a_helpful_message() {
    let out = std::process::Command::new(common::RINIT)
        .args(["ctl", "-s", "/nonexistent/rinit.sock", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/rinit.sock") && err.contains("RINIT_SOCKET"),
        "{err}"
    );
}
