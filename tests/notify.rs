//! The sd_notify protocol with real clients rinit did not write: Debian's `systemd-notify`
//! (package systemd) and the Python bindings (`python3-systemd`). rinit runs as PID 1 of
//! its own PID namespace (tests/common). Missing clients fail the test in CI
//! (`RINIT_REQUIRE_STACKS`), and skip it elsewhere.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);
const PYTHON: &str = "/usr/bin/python3";

/// Whether `what` is installed: required in CI, a skip elsewhere.
fn have(what: &str, present: bool) -> bool {
    if !present && std::env::var_os("RINIT_REQUIRE_STACKS").is_some() {
        panic!("{what} is missing (CI installs it)");
    }
    if !present {
        eprintln!("skipped: {what} is not installed");
    }
    present
}

fn systemd_notify() -> bool {
    have(
        "systemd-notify",
        std::path::Path::new("/usr/bin/systemd-notify").exists(),
    )
}

fn python_systemd() -> bool {
    let ok = std::process::Command::new(PYTHON)
        .args(["-c", "import systemd.daemon"])
        .status()
        .is_ok_and(|s| s.success());
    have("python3-systemd", ok)
}

/// The `ctl --json status` object of service `name`; null while rinit does not answer
/// yet (its control socket comes up with it).
fn status_of(r: &Rinit, name: &str) -> serde_json::Value {
    let (code, json, _) = r.ctl(&["--json", "status"]);
    let Ok(reply) = serde_json::from_str::<serde_json::Value>(json.trim()) else {
        assert_ne!(code, 0, "an answer that is not JSON: {json:?}");
        return serde_json::Value::Null;
    };
    let services = reply["services"].as_array().cloned().unwrap_or_default();
    services
        .into_iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {json}"))
}

#[test]
fn systemd_notify_makes_a_shell_service_ready_and_says_its_status() {
    if !systemd_notify() {
        return;
    }
    let config = r#"
[service.db]
exec = "sh -c 'systemd-notify --status=loading && systemd-notify --ready --status=\"accepting connections\" && exec sleep 1000'"
ready = "notify"

[service.app]
after = ["db"]
exec = ["{probe}", "--name", "app", "--log", "{dir}/events"]
"#;
    let (mut r, dir) = start_with_config("notify-cli", config, Opts::default());
    wait_contains(&dir.path("events"), "app START", LIMIT);
    let db = status_of(&r, "db");
    assert_eq!(db["state"], "running");
    assert_eq!(db["status_text"], "accepting connections", "{db}");
    let (_, text, _) = r.ctl(&["status"]);
    assert!(text.contains("status: accepting connections"), "{text}");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}

#[test]
fn a_forking_daemon_names_its_main_process_with_mainpid() {
    if !systemd_notify() {
        return;
    }
    // The first process starts the real daemon, says MAINPID, and exits 0: the service
    // goes on with the daemon as its main process.
    // This one is told a socket path instead of an abstract name.
    let config = r#"
[rinit]
notify_socket = "{dir}/notify.sock"

[service.daemon]
exec = "sh -c '{probe} --name daemon --log {dir}/events & systemd-notify --ready --pid=$!; exit 0'"
ready = "notify"
"#;
    let (mut r, dir) = start_with_config("notify-mainpid", config, Opts::default());
    let log = dir.path("events");
    wait_contains(&log, "daemon START", LIMIT);
    let daemon = wait_for("daemon as main", LIMIT, || {
        let s = status_of(&r, "daemon");
        let ev = events(&log);
        let pid = ev.iter().find(|e| e.name == "daemon").map(|e| e.pid)?;
        (s["pid"] == pid && s["state"] == "running").then_some(pid)
    });
    assert!(
        r.stderr()
            .contains(&format!("main process is now pid {daemon} (MAINPID)"))
    );
    assert!(std::path::Path::new(&dir.path("notify.sock")).exists());
    // Its stop is the daemon's: SIGTERM, a clean end.
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
    assert_eq!(sigs_of(&events(&log), "daemon"), vec![libc::SIGTERM]);
    assert!(
        !std::path::Path::new(&dir.path("notify.sock")).exists(),
        "removed at exit"
    );
}

#[test]
fn python_clients_speak_status_reloading_errno_and_the_watchdog() {
    if !python_systemd() {
        return;
    }
    let script = r#"
import os, signal, sys, time
from systemd import daemon
d = sys.argv[1]
with open(d + "/env", "a") as f:
    f.write("%s %s %s\n" % (os.environ.get("WATCHDOG_USEC"), os.environ.get("WATCHDOG_PID"), os.getpid()))
def reload(*_):
    daemon.notify("RELOADING=1")
    while not os.path.exists(d + "/reloaded"):
        time.sleep(0.02)
    daemon.notify("READY=1")
def fail(*_):
    daemon.notify("ERRNO=5")
    sys.exit(1)
signal.signal(signal.SIGHUP, reload)
signal.signal(signal.SIGUSR2, fail)
daemon.notify("READY=1\nSTATUS=serving")
pings = 0
while True:
    if not os.path.exists(d + "/hang"):
        daemon.notify("WATCHDOG=1")
        pings += 1
    time.sleep(0.05)
"#;
    let config = r#"
[service.py]
exec = ["/usr/bin/python3", "{dir}/svc.py", "{dir}"]
ready = "notify"
watchdog = "1s"
"#;
    let dir0 = TempDir::new("notify-py");
    std::fs::write(dir0.path("svc.py"), script).unwrap();
    let path = write_config(&dir0, config);
    let mut r = Rinit::start(&["-c", &path], Opts::default());
    let env = dir0.path("env");
    wait_for("py serving", LIMIT, || {
        (status_of(&r, "py")["status_text"] == "serving").then_some(())
    });
    // WATCHDOG_USEC is the watchdog, WATCHDOG_PID the service's own pid.
    let first = std::fs::read_to_string(&env).unwrap();
    let f: Vec<&str> = first.split_whitespace().collect();
    assert_eq!(f[0], "1000000", "{first}");
    assert_eq!(f[1], f[2], "WATCHDOG_PID is its pid: {first}");
    // `ctl reload py`: SIGHUP, RELOADING=1 ... READY=1, and only then the reply.
    std::thread::scope(|scope| {
        let reload = scope.spawn(|| r.ctl(&["reload", "py"]));
        wait_for("reloading", LIMIT, || {
            (status_of(&r, "py")["notify"] == "reloading").then_some(())
        });
        assert!(!reload.is_finished(), "the reply waits for READY=1");
        std::fs::write(dir0.path("reloaded"), "").unwrap();
        let (code, out, err) = reload.join().unwrap();
        assert_eq!((code, out.trim()), (0, "reloaded py"), "{err}");
    });
    assert!(status_of(&r, "py").get("notify").is_none());
    // Pings keep it alive well past its watchdog; then it hangs: SIGABRT and a restart.
    std::fs::write(dir0.path("hang"), "").unwrap();
    wait_for("watchdog timeout", LIMIT, || {
        r.stderr().contains("py: watchdog timeout").then_some(())
    });
    // The next run pings again.
    std::fs::remove_file(dir0.path("hang")).unwrap();
    wait_for("watchdog restart", LIMIT, || {
        (std::fs::read_to_string(&env).unwrap().lines().count() == 2).then_some(())
    });
    let err = r.stderr();
    assert!(
        err.contains("py: watchdog timeout (no WATCHDOG=1 in time"),
        "{err}"
    );
    let py = status_of(&r, "py");
    assert_eq!(py["restarts"], 1, "{py}");
    assert!(
        py["last_exit"].as_str().unwrap().contains("SIGABRT"),
        "{py}"
    );
    // ERRNO= before a failure is shown with the exit.
    wait_for("py running", LIMIT, || {
        (status_of(&r, "py")["state"] == "running").then_some(())
    });
    r.ctl(&["kill", "py", "USR2"]);
    let last = wait_for("py failed", LIMIT, || {
        let s = status_of(&r, "py");
        (s["state"] == "exited" || s["state"] == "failed").then(|| s["last_exit"].clone())
    });
    assert_eq!(last, "exit code 1, ERRNO=5 (I/O error)");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}

#[test]
fn extend_timeout_gives_a_slow_start_and_a_slow_stop_more_time() {
    if !python_systemd() {
        return;
    }
    let script = r#"
import signal, sys, time
from systemd import daemon
def stop(*_):
    daemon.notify("EXTEND_TIMEOUT_USEC=10000000")
    time.sleep(3.5)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
daemon.notify("EXTEND_TIMEOUT_USEC=10000000")
time.sleep(3.5)
daemon.notify("READY=1")
while True:
    time.sleep(1)
"#;
    let config = r#"
[service.slow]
exec = ["/usr/bin/python3", "{dir}/svc.py"]
ready = "notify"
ready_timeout = "2s"
stop_timeout = "2s"
"#;
    let dir0 = TempDir::new("notify-extend");
    std::fs::write(dir0.path("svc.py"), script).unwrap();
    let path = write_config(&dir0, config);
    let mut r = Rinit::start(&["-c", &path], Opts::default());
    wait_for("slow ready", LIMIT, || {
        r.stderr().contains("slow is ready").then_some(())
    });
    assert!(!r.stderr().contains("not ready after"), "{}", r.stderr());
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
    let err = r.stderr();
    assert!(
        !err.contains("SIGKILL"),
        "the extended stop needs no SIGKILL: {err}"
    );
    assert!(err.contains("slow exited: exit code 0"), "{err}");
}

#[test]
fn an_outer_managers_notify_variables_are_not_passed_on() {
    // rinit under systemd or `podman --sdnotify` is given NOTIFY_SOCKET itself: its
    // services must not talk to that manager.
    let config = r#"
[service.plain]
oneshot = true
exec = "sh -c 'env > {dir}/env.tmp && mv {dir}/env.tmp {dir}/env'"
"#;
    let opts = Opts {
        env: vec![
            ("NOTIFY_SOCKET".into(), "@outer-manager".into()),
            ("WATCHDOG_USEC".into(), "5000000".into()),
            ("KEEP_ME".into(), "1".into()),
        ],
        ..Opts::default()
    };
    let (mut r, dir) = start_with_config("notify-outer", config, opts);
    let env = wait_file(&dir.path("env"), LIMIT);
    assert!(env.contains("KEEP_ME=1"), "{env}");
    assert!(!env.contains("NOTIFY_SOCKET"), "{env}");
    assert!(!env.contains("WATCHDOG_USEC"), "{env}");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0);
}

#[test]
fn reload_of_a_service_with_instances_is_answered_once_every_instance_is_ready_again() {
    if !have("python3", std::path::Path::new(PYTHON).exists()) {
        return;
    }
    // sd_notify by hand (no python3-systemd needed): RELOADING=1 on SIGHUP, READY=1 once
    // the test lets this instance finish.
    let script = r#"
import os, signal, socket, sys, time
d, me = sys.argv[1], sys.argv[2]
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
def reload(*_):
    s.sendto(b"RELOADING=1", addr)
    while not os.path.exists("%s/go-%s" % (d, me)):
        time.sleep(0.02)
    s.sendto(b"READY=1", addr)
signal.signal(signal.SIGHUP, reload)
s.sendto(b"READY=1", addr)
while True:
    time.sleep(1)
"#;
    let config = r#"
[service.worker]
exec = ["/usr/bin/python3", "{dir}/svc.py", "{dir}", "{instance}"]
instances = 2
ready = "notify"

[service.plain]
exec = ["{probe}", "--name", "plain{instance}", "--log", "{dir}/log", "--ignore", "HUP"]
instances = 2
"#;
    let dir = TempDir::new("notify-instances");
    std::fs::write(dir.path("svc.py"), script).unwrap();
    let path = write_config(&dir, config);
    let mut r = Rinit::start(&["-c", &path], Opts::default());
    for name in ["worker@1", "worker@2", "plain@1", "plain@2"] {
        wait_for(&format!("{name} running"), LIMIT, || {
            (status_of(&r, name)["state"] == "running").then_some(())
        });
    }
    // Without sd_notify: SIGHUP to each instance, answered at once.
    let (code, out, err) = r.ctl(&["reload", "plain"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("sent SIGHUP to plain@1, plain@2 ("),
        "{out}"
    );
    let log = dir.path("log");
    for name in ["plain1", "plain2"] {
        wait_for(&format!("{name} got SIGHUP"), LIMIT, || {
            sigs_of(&events(&log), name)
                .contains(&libc::SIGHUP)
                .then_some(())
        });
    }
    // With it: the reply waits for the last instance's READY=1.
    std::thread::scope(|scope| {
        let reload = scope.spawn(|| r.ctl(&["reload", "worker"]));
        for name in ["worker@1", "worker@2"] {
            wait_for(&format!("{name} reloading"), LIMIT, || {
                (status_of(&r, name)["notify"] == "reloading").then_some(())
            });
        }
        std::fs::write(dir.path("go-1"), "").unwrap();
        wait_for("worker@1 ready again", LIMIT, || {
            let s = status_of(&r, "worker@1");
            (s["state"] == "running" && s.get("notify").is_none()).then_some(())
        });
        // No reply may come now; a wrong one would have been sent with worker@1's
        // READY=1, before the status above: give its client a moment to print it.
        let until = std::time::Instant::now() + Duration::from_millis(300);
        while std::time::Instant::now() < until {
            assert!(!reload.is_finished(), "worker@2 has not said READY=1");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::write(dir.path("go-2"), "").unwrap();
        let (code, out, err) = reload.join().unwrap();
        assert_eq!((code, out.trim()), (0, "reloaded worker"), "{err}");
    });
    // A reload still waiting when a shutdown begins is answered, not left hanging.
    std::fs::remove_file(dir.path("go-1")).unwrap();
    std::fs::remove_file(dir.path("go-2")).unwrap();
    std::thread::scope(|scope| {
        let reload = scope.spawn(|| r.ctl(&["reload", "worker"]));
        wait_for("worker@1 reloading again", LIMIT, || {
            (status_of(&r, "worker@1")["notify"] == "reloading").then_some(())
        });
        r.signal(libc::SIGTERM);
        let (code, out, err) = reload.join().unwrap();
        assert_ne!(code, 0, "{out}");
        assert!(err.contains("shutting down"), "{out}{err}");
    });
    assert_eq!(r.wait(LIMIT), 0, "{}", r.stderr());
}
