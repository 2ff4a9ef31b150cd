//! Robustness: the ordered stop and PID 1's life must survive ordinary environments —
//! fd limits, bytes that are not UTF-8, shared network namespaces, stuck output, kernels
//! without pidfds, and the smaller traps found by reading the code. Each test runs rinit
//! as PID 1 of its own PID namespace (see tests/common), and each failed on the code
//! before the fix it covers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::Duration;

use common::*;

const SHORT: Duration = Duration::from_secs(15);
const LONG: Duration = Duration::from_secs(60);

fn start(config: &str, opts: Opts) -> (Rinit, TempDir) {
    start_with_config("robust", config, opts)
}

/// The first event of `kind` ("SIG", "DONE", …) from a probe named `name`.
fn first(ev: &[Event], name: &str, kind: &str) -> Option<u128> {
    ev.iter()
        .find(|e| e.name == name && e.event == kind)
        .map(|e| e.ns)
}

/// Under a hard limit of 1,024 fds, a wave of 2,000 processes gets its stop signal, every
/// one of them, and the next wave then gets its own — no pidfd per process, no scan that
/// silently fails.
#[test]
fn a_two_thousand_process_wave_stops_in_order_under_a_1024_fd_limit() {
    let config = r#"
[service.db]
exec = ["{probe}", "--name", "db", "--log", "{dir}/log"]

[service.big]
after = ["db"]
stop_timeout = "25s"
exec = ["{probe}", "--name", "big", "--log", "{dir}/log", "--fanout", "2000", "--ready", "{dir}/big.ready"]
"#;
    let (mut r, dir) = start(
        config,
        Opts {
            nofile: Some(1024),
            ..Opts::default()
        },
    );
    wait_file(&dir.path("big.ready"), LONG);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LONG), 0, "{}", r.stderr());
    let ev = events(&dir.path("log"));
    let big: Vec<&Event> = ev
        .iter()
        .filter(|e| e.name.starts_with("big") && e.event == "SIG")
        .collect();
    let terms = big.iter().filter(|e| e.sig == libc::SIGTERM).count();
    assert_eq!(terms, 2001, "every process of big got SIGTERM");
    // SIGCONT follows the stop signal (and the kernel sends big SIGCHLD); nothing else.
    let expected = [libc::SIGTERM, libc::SIGCONT, libc::SIGCHLD];
    let odd: Vec<_> = big.iter().filter(|e| !expected.contains(&e.sig)).collect();
    assert!(odd.is_empty(), "{odd:?}");
    let big_done = ev
        .iter()
        .filter(|e| e.name.starts_with("big") && e.event == "DONE")
        .map(|e| e.ns)
        .max()
        .unwrap();
    let db_sig = first(&ev, "db", "SIG").expect("db got its stop signal");
    assert!(db_sig > big_done, "db was signalled before big was gone");
    let stderr = r.stderr();
    assert!(!stderr.contains("KILLED"), "{stderr}");
    assert!(!stderr.contains("SIGKILL"), "{stderr}");
}

/// rinit raises its own soft fd limit to the hard one; its services get the inherited
/// soft limit back.
#[test]
fn rinit_raises_its_fd_limit_and_services_get_the_inherited_one() {
    let config = r#"
[service.lim]
shell = true
exec = "ulimit -Sn > {dir}/soft.tmp; mv {dir}/soft.tmp {dir}/soft; exec sleep 1000"
"#;
    let (mut r, dir) = start(
        config,
        Opts {
            nofile: Some(4096),
            nofile_soft: Some(300),
            ..Opts::default()
        },
    );
    assert_eq!(wait_file(&dir.path("soft"), SHORT).trim(), "300");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", r.host_pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let soft: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(soft[3], "4096", "{line}");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
}

/// `rinit -- COMMAND` with arguments and an environment that are not UTF-8: they arrive
/// byte-exact, through `env` and `stop_exec` too, and nothing panics.
#[test]
fn bytes_that_are_not_utf8_pass_through_exactly() {
    let dir = TempDir::new("bytes");
    let config = format!(
        r#"
[service.envy]
env = {{ EXTRA = "1" }}
shell = true
exec = "printf %s \"$ODD\" > {d}/env.out; exec sleep 1000"
stop_exec = "printf %s \"$ODD\" > {d}/stop.out; kill $MAINPID"
"#,
        d = dir.0.display()
    );
    let path = dir.path("rinit.toml");
    std::fs::write(&path, config).unwrap();
    let odd = OsString::from_vec(b"\xff\xfe-\xc3(".to_vec());
    let out = dir.path("arg.out");
    let mut args: Vec<OsString> = [
        "-c",
        &path,
        "--",
        "sh",
        "-c",
        "printf %s \"$1\" > \"$2\"; exec sleep 1000",
        "sh",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.push(odd.clone());
    args.push(OsString::from(&out));
    let mut r = Rinit::start(
        &args,
        Opts {
            env_os: vec![(OsString::from("ODD"), odd.clone())],
            ..Opts::default()
        },
    );
    wait_for("main's argument", SHORT, || {
        std::fs::read(&out).ok().filter(|b| !b.is_empty())
    });
    assert_eq!(std::fs::read(&out).unwrap(), odd.as_bytes());
    wait_for("the service's environment", SHORT, || {
        std::fs::read(dir.path("env.out"))
            .ok()
            .filter(|b| !b.is_empty())
    });
    assert_eq!(std::fs::read(dir.path("env.out")).unwrap(), odd.as_bytes());
    r.signal(libc::SIGTERM);
    // main (sleep) dies of the SIGTERM: 128 + 15.
    assert_eq!(r.wait(SHORT), 143, "{}", r.stderr());
    assert_eq!(std::fs::read(dir.path("stop.out")).unwrap(), odd.as_bytes());
    assert!(!r.stderr().contains("panicked"), "{}", r.stderr());
}

/// A process whose name is not UTF-8 (the kernel cut "ääääääää" mid-letter at 15 bytes)
/// is still one of its service's processes: stopped, in order.
#[test]
fn a_process_whose_name_is_not_utf8_is_still_stopped_in_order() {
    let dir = TempDir::new("comm");
    let odd = dir.0.join("ääääääää");
    std::fs::copy(probe(), &odd).unwrap();
    let config = format!(
        r#"
[service.db]
exec = ["{{probe}}", "--name", "db", "--log", "{{dir}}/log"]

[service.app]
after = ["db"]
exec = ["{odd}", "--name", "app", "--log", "{{dir}}/log", "--cleanup-ms", "200", "--ready", "{{dir}}/app.ready"]
"#,
        odd = odd.display()
    );
    let path = write_config(&dir, &config);
    let mut r = Rinit::start(&["-c", &path], Opts::default());
    wait_file(&dir.path("app.ready"), SHORT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let ev = events(&dir.path("log"));
    let app_done = first(&ev, "app", "DONE").expect("app got SIGTERM and cleaned up");
    let db_sig = first(&ev, "db", "SIG").unwrap();
    assert!(db_sig > app_done, "db was signalled while app still ran");
}

/// Two rinits in one network namespace (`--network host`, two containers of a pod), each
/// PID 1 of its own PID namespace and each with a notify service: both work.
#[test]
fn two_rinits_in_one_network_namespace_both_take_notify() {
    let config = r#"
[service.n]
ready = "notify"
exec = ["{probe}", "--name", "n", "--log", "{dir}/log", "--notify"]

[service.after]
after = ["n"]
exec = ["{probe}", "--name", "after", "--ready", "{dir}/after.ready"]
"#;
    let (mut a, dir_a) = start(config, Opts::default());
    wait_file(&dir_a.path("after.ready"), SHORT);
    let (mut b, dir_b) = start(config, Opts::default());
    wait_file(&dir_b.path("after.ready"), SHORT);
    for r in [&mut a, &mut b] {
        r.signal(libc::SIGTERM);
        assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    }
}

/// stdout and stderr are one pipe nobody reads, rinit logs at debug level and runs 300
/// services: it still starts them all, stops them all with SIGTERM, and exits.
#[test]
fn a_stuck_stdout_and_stderr_never_hang_pid_1() {
    let mut config = String::new();
    for i in 0..300 {
        config.push_str(&format!(
            "[service.s{i}]\nexec = [\"{{probe}}\", \"--name\", \"s{i}\", \"--log\", \"{{dir}}/log\", \"--ready\", \"{{dir}}/r{i}\"]\n\n"
        ));
    }
    let (mut r, dir) = start(
        &config,
        Opts {
            stuck_both: true,
            ..Opts::default()
        },
    );
    for i in 0..300 {
        wait_file(&dir.path(&format!("r{i}")), LONG);
    }
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0);
    let ev = events(&dir.path("log"));
    for i in 0..300 {
        assert_eq!(
            sigs_of(&ev, &format!("s{i}")),
            vec![libc::SIGTERM],
            "service s{i}"
        );
    }
}

/// As on a kernel without pidfds (and without close_range and clone3): every process is
/// still stopped gracefully and in order.
#[test]
fn without_pidfds_the_ordered_stop_still_holds() {
    ordered_stop_without_pidfds(libc::ENOSYS);
}

/// The same where a seccomp profile refuses pidfds with EPERM (Docker before 20.10).
#[test]
fn with_pidfds_refused_by_seccomp_the_ordered_stop_still_holds() {
    ordered_stop_without_pidfds(libc::EPERM);
}

fn ordered_stop_without_pidfds(errno: i32) {
    let config = r#"
[service.db]
exec = ["{probe}", "--name", "db", "--log", "{dir}/log", "--cleanup-ms", "100"]

[service.app]
after = ["db"]
exec = ["{probe}", "--name", "app", "--log", "{dir}/log", "--fanout", "3", "--cleanup-ms", "300", "--ready", "{dir}/app.ready"]
"#;
    let (mut r, dir) = start(
        config,
        Opts {
            old_kernel: true,
            old_kernel_errno: Some(errno),
            ..Opts::default()
        },
    );
    wait_file(&dir.path("app.ready"), SHORT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let stderr = r.stderr();
    assert!(stderr.contains("no pidfds"), "{stderr}");
    assert!(!stderr.contains("SIGKILL"), "{stderr}");
    let ev = events(&dir.path("log"));
    let app: Vec<&Event> = ev
        .iter()
        .filter(|e| e.name.starts_with("app") && e.event == "DONE")
        .collect();
    assert_eq!(
        app.len(),
        4,
        "app and its three children stopped gracefully"
    );
    let app_done = app.iter().map(|e| e.ns).max().unwrap();
    let db_sig = first(&ev, "db", "SIG").unwrap();
    assert!(db_sig > app_done, "db was signalled while app still ran");
    assert!(first(&ev, "db", "DONE").is_some());
    // Children before their parent, as with pidfds: when app took its SIGTERM, each of
    // its children had its own already (probe's ORDER line counts those that had not).
    let order = ev.iter().find(|e| e.name == "app" && e.event == "ORDER");
    assert_eq!(order.map(|e| e.sig), Some(0), "{ev:?}");
}

/// Out of fds, control clients keep coming: rinit pauses accepting instead of spinning
/// on a listener that stays readable.
#[test]
fn running_out_of_fds_for_control_clients_does_not_spin() {
    let config = r#"
[service.a]
exec = ["{probe}", "--name", "a", "--ready", "{dir}/a.ready"]
"#;
    let (mut r, dir) = start(
        config,
        Opts {
            nofile: Some(40),
            ..Opts::default()
        },
    );
    wait_file(&dir.path("a.ready"), SHORT);
    let clients: Vec<_> = (0..60)
        .filter_map(|_| std::os::unix::net::UnixStream::connect(r.socket()).ok())
        .collect();
    assert!(
        clients.len() > 40,
        "only {} clients connected",
        clients.len()
    );
    // rinit has taken clients until no fd was left.
    let fds = format!("/proc/{}/fd", r.host_pid());
    wait_for("rinit out of fds", SHORT, || {
        (std::fs::read_dir(&fds).ok()?.count() >= 39).then_some(())
    });
    // Said in the loop round that ran out of fds, written at that round's end.
    wait_for("the accept pause in rinit's log", SHORT, || {
        r.stderr().contains("cannot accept a client").then_some(())
    });
    let before = r.wakeups();
    std::thread::sleep(Duration::from_millis(500));
    let woke = r.wakeups() - before;
    assert!(woke < 20, "rinit woke {woke} times in 0.5 s");
    drop(clients);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
}

fn dir_stderr(r: &Rinit) -> String {
    r.dir.path("stderr")
}

/// poll(2) fails for good (the fd limit lowered from outside below the number of fds it
/// waits on): rinit serves signals at a bounded rate instead of spinning, and recovers.
#[test]
fn a_persistent_poll_error_does_not_spin() {
    let mut config = String::new();
    for i in 0..10 {
        config.push_str(&format!(
            "[service.s{i}]\nexec = [\"{{probe}}\", \"--name\", \"s{i}\", \"--log\", \"{{dir}}/log\", \"--ready\", \"{{dir}}/r{i}\"]\n\n"
        ));
    }
    let (mut r, dir) = start(&config, Opts::default());
    for i in 0..10 {
        wait_file(&dir.path(&format!("r{i}")), SHORT);
    }
    let pid = r.host_pid();
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    let set = |n: u64| {
        let lim = libc::rlimit {
            rlim_cur: n.min(old.rlim_max),
            rlim_max: old.rlim_max,
        };
        let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &lim, std::ptr::null_mut()) };
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    };
    set(8);
    // A signal that needs nothing but the signalfd: forwarded or ignored, it wakes rinit.
    r.signal(libc::SIGUSR1);
    wait_contains(&dir_stderr(&r), "poll failed", SHORT);
    let before = r.wakeups();
    std::thread::sleep(Duration::from_millis(500));
    let woke = r.wakeups() - before;
    assert!(woke < 30, "rinit woke {woke} times in 0.5 s");
    set(1024);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let ev = events(&dir.path("log"));
    for i in 0..10 {
        assert_eq!(sigs_of(&ev, &format!("s{i}")), vec![libc::SIGTERM]);
    }
}

/// A reload that changes a starting service kills its running exec probe with it.
#[test]
fn reload_kills_the_probe_of_a_changed_service() {
    let tag = format!("424242{}", std::process::id());
    let config = format!(
        r#"
[service.slow]
ready = "exec:sleep {tag}"
ready_timeout = "60s"
exec = ["{{probe}}", "--name", "slow", "--log", "{{dir}}/log"]
"#
    );
    let (mut r, dir) = start(&config, Opts::default());
    let probe_running = |r: &Rinit| {
        r.ns_procs()
            .iter()
            .any(|p| argv_of(p.host_pid).contains(&tag))
    };
    wait_for("the exec probe", SHORT, || probe_running(&r).then_some(()));
    let changed = config.replace(
        "\"slow\", \"--log\"",
        "\"slow\", \"--cleanup-ms\", \"1\", \"--log\"",
    );
    write_config(&dir, &changed);
    let (code, out, err) = r.ctl(&["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("changed [slow]"), "{out}");
    wait_for("the old probe gone", SHORT, || {
        (!probe_running(&r)).then_some(())
    });
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
}

/// The control socket's path holds a file that is not a socket: rinit leaves it alone.
#[test]
fn the_control_socket_never_replaces_another_file() {
    let config = r#"
[service.a]
exec = ["{probe}", "--name", "a", "--ready", "{dir}/a.ready"]
"#;
    let dir = TempDir::new("notsock");
    let precious = dir.path("precious");
    std::fs::write(&precious, "keep me\n").unwrap();
    let path = write_config(&dir, config);
    let mut r = Rinit::start(
        &["-c", &path],
        Opts {
            env: vec![("RINIT_SOCKET".into(), precious.clone())],
            ..Opts::default()
        },
    );
    wait_file(&dir.path("a.ready"), SHORT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me\n");
    assert!(r.stderr().contains("not a socket"), "{}", r.stderr());
}

/// After SIGKILL at the stop timeout, what the kernel is tearing down or has left as a
/// zombie is gone, not "left over" for the sweep.
#[test]
fn killed_processes_are_not_swept_as_leftovers() {
    let config = r#"
[service.stubborn]
stop_timeout = "300ms"
exec = ["{probe}", "--name", "st", "--ignore", "TERM", "--fanout", "300", "--ready", "{dir}/st.ready"]
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_file(&dir.path("st.ready"), LONG);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let stderr = r.stderr();
    assert!(stderr.contains("sending SIGKILL"), "{stderr}");
    assert!(!stderr.contains("left over"), "{stderr}");
}
