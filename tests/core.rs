//! rinit as PID 1 for one command: exit codes, signal forwarding, the child's signal
//! state, reaping, subreaper mode, and the single-service stop.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use std::time::{Duration, Instant};

const SHORT: Duration = Duration::from_secs(10);

fn run(args: &[&str]) -> (i32, Rinit) {
    let mut r = Rinit::start(args, Opts::default());
    let code = r.wait(SHORT);
    (code, r)
}

#[test]
fn exit_code_matrix() {
    for code in [0, 1, 3, 255] {
        let script = format!("exit {code}");
        let (got, r) = run(&["--", "sh", "-c", &script]);
        assert_eq!(got, code, "exit {code}; stderr:\n{}", r.stderr());
    }
    for (sig, name) in [
        (libc::SIGTERM, "TERM"),
        (libc::SIGKILL, "KILL"),
        (libc::SIGHUP, "HUP"),
        (libc::SIGUSR1, "USR1"),
        (libc::SIGQUIT, "QUIT"),
    ] {
        let script = format!("ulimit -c 0; kill -{name} $$");
        let (got, r) = run(&["--", "sh", "-c", &script]);
        assert_eq!(
            got,
            128 + sig,
            "killed by SIG{name}; stderr:\n{}",
            r.stderr()
        );
    }
    let (got, r) = run(&["--", "/nonexistent/command"]);
    assert_eq!(got, 127);
    assert!(r.stderr().contains("cannot run"), "{}", r.stderr());

    let dir = TempDir::new("noexec");
    let file = dir.path("not-executable");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    let (got, _) = run(&["--", &file]);
    assert_eq!(got, 126);
}

#[test]
fn usage_errors_exit_2() {
    for args in [&[][..], &["--"][..], &["--bogus"][..], &["-c"][..]] {
        let out = std::process::Command::new(RINIT)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "args {args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("usage"),
            "args {args:?}"
        );
    }
}

#[test]
fn child_gets_clean_signal_mask_and_dispositions() {
    // rinit inherits ignored and blocked signals from its parent; the child must not.
    let mut r = Rinit::start(
        &["--", "cat", "/proc/self/status"],
        Opts {
            dirty_signals: true,
            ..Opts::default()
        },
    );
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let out = r.stdout();
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} missing in {out}"))
            .trim()
            .to_string()
    };
    assert_eq!(field("SigBlk:"), "0000000000000000");
    assert_eq!(field("SigIgn:"), "0000000000000000");
}

#[test]
fn non_trigger_signals_are_forwarded_to_main() {
    let probe = probe();
    let dir = TempDir::new("fwd");
    let (log, ready) = (dir.path("log"), dir.path("ready"));
    let mut r = Rinit::start(
        &["--", &probe, "--log", &log, "--ready", &ready],
        Opts::default(),
    );
    wait_file(&ready, SHORT);
    let rtmin = libc::SIGRTMIN();
    let forwarded = [
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
        libc::SIGQUIT,
        libc::SIGALRM,
        libc::SIGTSTP,
        libc::SIGCONT,
        rtmin,
        rtmin + 1,
        rtmin + 2,
        rtmin + 4,
        libc::SIGRTMAX(),
    ];
    for sig in forwarded {
        r.signal(sig);
        wait_for(&format!("signal {sig} forwarded"), SHORT, || {
            events(&log)
                .iter()
                .any(|e| e.event == "SIG" && e.sig == sig)
                .then_some(())
        });
    }
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let got: Vec<i32> = events(&log)
        .iter()
        .filter(|e| e.event == "SIG")
        .map(|e| e.sig)
        .collect();
    assert_eq!(got.last(), Some(&libc::SIGTERM));
}

#[test]
fn every_trigger_stops_main_and_sigint_is_passed_as_sigint() {
    let probe = probe();
    for (trigger, expected) in [
        (libc::SIGTERM, libc::SIGTERM),
        (libc::SIGINT, libc::SIGINT),
        (libc::SIGPWR, libc::SIGTERM),
        (libc::SIGRTMIN() + 3, libc::SIGTERM),
    ] {
        let dir = TempDir::new("trigger");
        let (log, ready) = (dir.path("log"), dir.path("ready"));
        let mut r = Rinit::start(
            &[
                "--", &probe, "--log", &log, "--ready", &ready, "--exit", "9",
            ],
            Opts::default(),
        );
        wait_file(&ready, SHORT);
        r.signal(trigger);
        assert_eq!(r.wait(SHORT), 9, "trigger {trigger}: {}", r.stderr());
        let sigs: Vec<i32> = events(&log)
            .iter()
            .filter(|e| e.event == "SIG")
            .map(|e| e.sig)
            .collect();
        // SIGCONT follows the stop signal; the probe may exit before it reads it.
        assert_eq!(sigs.first(), Some(&expected), "trigger {trigger}");
        assert!(
            sigs.iter().skip(1).all(|&s| s == libc::SIGCONT),
            "trigger {trigger}: {sigs:?}"
        );
    }
}

#[test]
fn stop_reaches_children_before_parents() {
    let probe = probe();
    let dir = TempDir::new("tree");
    let (log, ready) = (dir.path("log"), dir.path("ready"));
    let script = format!(
        "{probe} --name child --log {log} --ready {ready}.child & \
         while [ ! -e {ready}.child ]; do sleep 0.01; done; \
         exec {probe} --name parent --log {log} --ready {ready}"
    );
    let mut r = Rinit::start(&["--", "sh", "-c", &script], Opts::default());
    wait_file(&ready, SHORT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let ev = events(&log);
    // The parent checks, as it handles its SIGTERM, that its child already has one.
    let order: Vec<i32> = ev
        .iter()
        .filter(|e| e.name == "parent" && e.event == "ORDER")
        .map(|e| e.sig)
        .collect();
    assert_eq!(
        order,
        vec![0],
        "the parent was signalled before its child: {ev:?}"
    );
    let sent = signal_order(&r.stderr(), "SIGTERM");
    let (child, parent) = (probe_pid(&ev, "child"), probe_pid(&ev, "parent"));
    let pos = |pid| sent.iter().position(|&p| p == pid).unwrap();
    assert!(
        pos(child) < pos(parent),
        "sent {sent:?}; child {child}, parent {parent}"
    );
}

#[test]
fn reaps_a_storm_of_5000_orphans_while_main_runs() {
    let probe = probe();
    let dir = TempDir::new("storm");
    let ready = dir.path("ready");
    let mut r = Rinit::start(
        &["--", &probe, "--orphans", "5000", "--ready", &ready],
        Opts::default(),
    );
    wait_file(&ready, Duration::from_secs(60));
    wait_for("no zombies left", SHORT, || {
        let procs = r.ns_procs();
        let zombies = procs.iter().filter(|p| p.state == 'Z').count();
        (zombies == 0).then_some(())
    });
    assert!(
        r.ns_procs().iter().any(|p| p.comm == "probe"),
        "main must still run"
    );
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0);
    let reaped = r.stderr().matches("reaped pid").count();
    assert!(reaped >= 5000, "rinit reaped {reaped} orphans");
}

#[test]
fn coalesced_sigchld_never_loses_the_main_status() {
    let probe = probe();
    let dir = TempDir::new("coalesce");
    let ready = dir.path("ready");
    let mut r = Rinit::start(
        &[
            "--",
            &probe,
            "--hold",
            "8",
            "--exit-on",
            "USR1",
            "--exit",
            "42",
            "--ready",
            &ready,
        ],
        Opts::default(),
    );
    wait_file(&ready, SHORT);
    let procs = r.ns_procs();
    let main = procs
        .iter()
        .find(|p| p.comm == "probe" && p.ns_pid == 2)
        .expect("main");
    assert_eq!(procs.iter().filter(|p| p.comm == "probe").count(), 9);
    // Freeze rinit, let main and its 8 orphans exit, then let rinit run again: the
    // kernel delivers one SIGCHLD for nine exits.
    r.signal(libc::SIGSTOP);
    r.signal_host_pid(main.host_pid, libc::SIGUSR1);
    wait_for("main and orphans to be zombies", SHORT, || {
        let procs = r.ns_procs();
        let probes: Vec<_> = procs.iter().filter(|p| p.comm == "probe").collect();
        (probes.len() == 9 && probes.iter().all(|p| p.state == 'Z')).then_some(())
    });
    r.signal(libc::SIGCONT);
    assert_eq!(r.wait(SHORT), 42, "{}", r.stderr());
    assert_eq!(
        r.stderr().matches("reaped pid").count(),
        8,
        "{}",
        r.stderr()
    );
}

#[test]
fn subreaper_adopts_orphans_when_not_pid_1() {
    let probe = probe();
    let dir = TempDir::new("subreaper");
    let (report, rc) = (dir.path("report"), dir.path("rc"));
    let script = format!(
        "{probe} --orphan-report {report} --ready {report}.main --exit-now; \
         while [ ! -s {report} ]; do sleep 0.01; done"
    );
    // sh is PID 1 of the namespace; rinit is its child.
    let mut r = Rinit::start(
        &["--", "sh", "-c", &script],
        Opts {
            wrapper: Some(format!("$RINIT; echo $? > {rc}; echo $$ >> {rc}")),
            ..Opts::default()
        },
    );
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let new_parent: i32 = std::fs::read_to_string(&report)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(new_parent, 1, "the orphan went to PID 1, not to rinit");
    assert!(new_parent > 1);
    let rc_text = std::fs::read_to_string(&rc).unwrap();
    assert_eq!(rc_text.lines().next(), Some("0"));
}

#[test]
fn slow_cleanup_grandchild_may_finish_after_main_exits() {
    let probe = probe();
    let dir = TempDir::new("cleanup");
    let (log, ready) = (dir.path("log"), dir.path("ready"));
    let script = format!(
        "{probe} --name grandchild --log {log} --cleanup-ms 2000 --ready {ready} & \
         while [ ! -e {ready} ]; do sleep 0.01; done; exit 5"
    );
    let mut r = Rinit::start(&["--", "sh", "-c", &script], Opts::default());
    assert_eq!(r.wait(SHORT), 5, "{}", r.stderr());
    let ev = events(&log);
    assert!(ev.iter().any(|e| e.sig == libc::SIGTERM), "{ev:?}");
    assert!(
        ev.iter().any(|e| e.event == "DONE"),
        "cleanup was cut short: {ev:?}"
    );
    assert!(!r.stderr().contains("SIGKILL"), "{}", r.stderr());
}

#[test]
fn child_ignoring_sigterm_is_killed_after_the_timeout() {
    let probe = probe();
    let dir = TempDir::new("ignore");
    let (log, ready) = (dir.path("log"), dir.path("ready"));
    let mut r = Rinit::start(
        &[
            "--", &probe, "--log", &log, "--ready", &ready, "--ignore", "TERM",
        ],
        Opts::default(),
    );
    wait_file(&ready, SHORT);
    let t0 = Instant::now();
    r.signal(libc::SIGTERM);
    let code = r.wait(Duration::from_secs(20));
    let took = t0.elapsed();
    assert_eq!(code, 128 + libc::SIGKILL, "{}", r.stderr());
    assert!(events(&log).iter().any(|e| e.sig == libc::SIGTERM));
    assert!(
        took >= Duration::from_millis(9900),
        "killed too early: {took:?}"
    );
    assert!(took < Duration::from_secs(12), "killed too late: {took:?}");
    assert!(r.ns_procs().is_empty(), "the namespace must be gone");
}
