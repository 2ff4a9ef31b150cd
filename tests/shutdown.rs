//! The shutdown (DESIGN §4): order, per-service signals and timeouts, stop modes, the
//! sweep and its scope, the 30 s cap — each with rinit as PID 1 of its own namespace
//! (or, for the scope test, as a subreaper inside one).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

const SHORT: Duration = Duration::from_secs(15);

fn start(config: &str, opts: Opts) -> (Rinit, TempDir) {
    start_with_config("stop", config, opts)
}

fn time_of(ev: &[Event], name: &str, event: &str, sig: i32) -> u128 {
    ev.iter()
        .find(|e| e.name == name && e.event == event && (event != "SIG" || e.sig == sig))
        .unwrap_or_else(|| panic!("no {event} {sig} from {name}: {ev:?}"))
        .ns
}

/// The report line of a service: `  NAME  SIGNAL  N ms  OUTCOME`.
fn report_line(stderr: &str, name: &str) -> String {
    stderr
        .lines()
        .find(|l| {
            l.trim_start_matches("rinit:").split_whitespace().next() == Some(name)
                && l.contains(" ms ")
        })
        .unwrap_or_else(|| panic!("no report line for {name} in:\n{stderr}"))
        .to_string()
}

#[test]
fn children_get_the_stop_signal_before_their_parents() {
    let config = r#"
[service.tree]
exec = ["{probe}", "--name", "t", "--log", "{dir}/log", "--chain", "2", "--ready", "{dir}/ready"]
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_file(&dir.path("ready"), SHORT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let ev = events(&dir.path("log"));
    // When a parent handles its SIGTERM, each child must already have it (pending or
    // handled): the probe records how many children did not ("ORDER n").
    let order: Vec<(&str, i32)> = ev
        .iter()
        .filter(|e| e.event == "ORDER")
        .map(|e| (e.name.as_str(), e.sig))
        .collect();
    for name in ["t", "t.1", "t.2"] {
        assert!(
            order.contains(&(name, 0)),
            "{name} was signalled before a child: {order:?}"
        );
    }
    // And the order rinit sent them in, as its log says.
    let sent = signal_order(&r.stderr(), "SIGTERM");
    let pids: Vec<u32> = ["t.2", "t.1", "t"]
        .iter()
        .map(|n| probe_pid(&ev, n))
        .collect();
    assert_eq!(sent, pids, "deepest first");
}

#[test]
fn dependents_are_gone_before_their_dependencies_get_a_signal() {
    let config = r#"
[service.b]
exec = ["{probe}", "--name", "b", "--log", "{dir}/log", "--touch", "{dir}/b.ready"]
ready = "file:{dir}/b.ready"

[service.a]
after = ["b"]
exec = ["{probe}", "--name", "a", "--log", "{dir}/log", "--chain", "1", "--cleanup-ms", "200", "--ready", "{dir}/a.ready"]
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_file(&dir.path("a.ready"), SHORT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let ev = events(&dir.path("log"));
    let b_signalled = time_of(&ev, "b", "SIG", libc::SIGTERM);
    for name in ["a", "a.1"] {
        assert!(
            time_of(&ev, name, "DONE", 0) < b_signalled,
            "{name} still ran when b was signalled"
        );
    }
}

#[test]
fn a_slow_stop_holds_up_only_what_it_depends_on() {
    // Two chains: db1 <- app1, which ignores SIGTERM (only SIGKILL at its 20 s timeout, or
    // this test, ends it), and db2 <- app2. db2 stops as soon as app2 is gone, while app1
    // still runs; db1 waits for app1. (Stop waves as barriers would hold db2 back too.)
    let config = r#"
[service.db1]
exec = ["{probe}", "--name", "db1", "--log", "{dir}/log"]

[service.app1]
after = ["db1"]
exec = ["{probe}", "--name", "app1", "--log", "{dir}/log", "--ignore", "TERM"]
stop_timeout = "20s"

[service.db2]
exec = ["{probe}", "--name", "db2", "--log", "{dir}/log"]

[service.app2]
after = ["db2"]
exec = ["{probe}", "--name", "app2", "--log", "{dir}/log"]
"#;
    let (mut r, dir) = start(config, Opts::default());
    let log = dir.path("log");
    for name in ["db1", "app1", "db2", "app2"] {
        wait_contains(&log, &format!("{name} START"), SHORT);
    }
    r.signal(libc::SIGTERM);
    wait_for("db2's SIGTERM", SHORT, || {
        let ev = events(&log);
        ev.iter()
            .any(|e| e.name == "db2" && e.event == "SIG" && e.sig == libc::SIGTERM)
            .then_some(())
    });
    let app1 = r
        .probe_named("app1")
        .expect("app1 still runs: it ignores SIGTERM");
    let ev = events(&log);
    assert!(
        !ev.iter()
            .any(|e| e.name == "db1" && e.event == "SIG" && e.sig != libc::SIGCHLD),
        "db1 waits for app1: {ev:?}"
    );
    r.signal_host_pid(app1.host_pid, libc::SIGKILL);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let ev = events(&log);
    assert!(
        time_of(&ev, "db2", "SIG", libc::SIGTERM) < time_of(&ev, "db1", "SIG", libc::SIGTERM),
        "{ev:?}"
    );
}

#[test]
fn custom_stop_signals_are_sent() {
    let mut config = String::new();
    for name in ["INT", "QUIT", "USR1", "HUP"] {
        writeln!(
            config,
            "[service.s{name}]\nstop_signal = \"SIG{name}\"\n\
             exec = [\"{{probe}}\", \"--name\", \"{name}\", \"--log\", \"{{dir}}/log\", \"--exit-on\", \"{name}\", \"--ready\", \"{{dir}}/{name}.ready\"]\n"
        )
        .unwrap();
    }
    let (mut r, dir) = start(&config, Opts::default());
    for name in ["INT", "QUIT", "USR1", "HUP"] {
        wait_file(&dir.path(&format!("{name}.ready")), SHORT);
    }
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let ev = events(&dir.path("log"));
    for (name, sig) in [
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("USR1", libc::SIGUSR1),
        ("HUP", libc::SIGHUP),
    ] {
        assert_eq!(sigs_of(&ev, name).first(), Some(&sig), "{name}: {ev:?}");
    }
}

#[test]
fn stop_mode_group_signals_only_the_process_group() {
    let config = r#"
[service.g]
stop_mode = "group"
stop_timeout = "1s"
shell = true
exec = "{probe} --name grouped --log {dir}/log --ready {dir}/grouped.ready & {probe} --name loner --own-pgrp --log {dir}/log --ready {dir}/loner.ready & exec {probe} --name leader --log {dir}/log --ready {dir}/leader.ready"
"#;
    let (mut r, dir) = start(config, Opts::default());
    for name in ["grouped", "loner", "leader"] {
        wait_file(&dir.path(&format!("{name}.ready")), SHORT);
    }
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let ev = events(&dir.path("log"));
    assert_eq!(sigs_of(&ev, "leader").first(), Some(&libc::SIGTERM));
    assert_eq!(sigs_of(&ev, "grouped").first(), Some(&libc::SIGTERM));
    assert!(
        sigs_of(&ev, "loner").is_empty(),
        "outside the group: {ev:?}"
    );
    assert!(
        report_line(&r.stderr(), "g").contains("KILLED"),
        "{}",
        r.stderr()
    );
}

#[test]
fn stop_mode_main_signals_only_the_main_process() {
    let config = r#"
[service.m]
stop_mode = "main"
stop_timeout = "1s"
exec = ["{probe}", "--name", "master", "--log", "{dir}/log", "--chain", "1", "--ready", "{dir}/ready"]
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_file(&dir.path("ready"), SHORT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let ev = events(&dir.path("log"));
    assert_eq!(sigs_of(&ev, "master").first(), Some(&libc::SIGTERM));
    assert!(
        sigs_of(&ev, "master.1").is_empty(),
        "the worker is the master's job: {ev:?}"
    );
}

#[test]
fn stop_exec_runs_instead_of_the_signal_to_main() {
    let config = r#"
[service.db]
shell = true
stop_exec = "kill -USR2 $MAINPID"
exec = "exec {probe} --name db --log {dir}/log --exit-on USR2 --ready {dir}/ready"
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_file(&dir.path("ready"), SHORT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let ev = events(&dir.path("log"));
    assert_eq!(
        sigs_of(&ev, "db"),
        vec![libc::SIGUSR2],
        "stop_exec, not SIGTERM: {ev:?}"
    );
    assert!(r.stderr().contains("running stop_exec"), "{}", r.stderr());
}

/// A service that ignores SIGTERM and never stops printing: its lines wake rinit all
/// the time, yet its stop timeout still ends it.
#[test]
fn a_service_that_never_stops_printing_is_still_killed_at_its_timeout() {
    let config = r#"
[service.chatty]
stop_timeout = "300ms"
exec = ["sh", "-c", "trap '' TERM; touch {dir}/chatty.ready; exec yes chatty"]
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_file(&dir.path("chatty.ready"), SHORT);
    let t0 = Instant::now();
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let took = t0.elapsed();
    // SIGKILL at 300 ms, as for a quiet service (see the test below for the bounds).
    assert!(
        took < Duration::from_millis(1200),
        "SIGKILL came late: {took:?}"
    );
    let stderr = r.stderr();
    assert!(
        report_line(&stderr, "chatty").contains("KILLED"),
        "{stderr}"
    );
}

#[test]
fn stop_timeout_is_honoured_and_compliant_services_are_not_killed() {
    let config = r#"
[service.stubborn]
stop_timeout = "2s"
exec = ["{probe}", "--name", "stubborn", "--log", "{dir}/log", "--ignore", "TERM", "--ready", "{dir}/stubborn.ready"]

[service.polite]
exec = ["{probe}", "--name", "polite", "--log", "{dir}/log", "--ready", "{dir}/polite.ready"]
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_file(&dir.path("stubborn.ready"), SHORT);
    wait_file(&dir.path("polite.ready"), SHORT);
    let t0 = Instant::now();
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1950),
        "SIGKILL came early: {took:?}"
    );
    assert!(
        took < Duration::from_millis(2900),
        "SIGKILL came late: {took:?}"
    );
    let stderr = r.stderr();
    assert!(
        report_line(&stderr, "stubborn").contains("KILLED"),
        "{stderr}"
    );
    assert!(
        report_line(&stderr, "polite").contains("stopped"),
        "{stderr}"
    );
    let ev = events(&dir.path("log"));
    assert!(
        ev.iter().any(|e| e.name == "polite" && e.event == "DONE"),
        "{ev:?}"
    );
}

#[test]
fn a_stopped_service_still_stops_gracefully() {
    let config = r#"
[service.frozen]
exec = ["{probe}", "--name", "frozen", "--log", "{dir}/log", "--ready", "{dir}/ready"]
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_file(&dir.path("ready"), SHORT);
    let probe = r
        .ns_procs()
        .into_iter()
        .find(|p| p.comm == "probe")
        .unwrap();
    r.signal_host_pid(probe.host_pid, libc::SIGSTOP);
    wait_for("probe stopped", SHORT, || {
        r.ns_procs()
            .iter()
            .any(|p| p.host_pid == probe.host_pid && p.state == 'T')
            .then_some(())
    });
    let t0 = Instant::now();
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "waited for the timeout"
    );
    let ev = events(&dir.path("log"));
    assert!(
        ev.iter().any(|e| e.name == "frozen" && e.event == "DONE"),
        "{ev:?}"
    );
    assert!(report_line(&r.stderr(), "frozen").contains("stopped"));
}

#[test]
fn children_forked_during_the_stop_are_stopped_too() {
    let config = r#"
[service.hydra]
exec = ["{probe}", "--name", "h", "--log", "{dir}/log", "--fork-on-term", "3", "--ready", "{dir}/ready"]
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_file(&dir.path("ready"), SHORT);
    let t0 = Instant::now();
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "the new children were not signalled"
    );
    let ev = events(&dir.path("log"));
    for k in 0..3 {
        let name = format!("h.f{k}");
        assert_eq!(
            sigs_of(&ev, &name).first(),
            Some(&libc::SIGTERM),
            "{name}: {ev:?}"
        );
    }
    assert!(
        report_line(&r.stderr(), "hydra").contains("stopped"),
        "{}",
        r.stderr()
    );
}

#[test]
fn escaped_daemons_are_swept_by_port_and_pattern() {
    let tag = format!("stray-worker-{}", std::process::id());
    let config = format!(
        r#"
[rinit]
sweep_ports = [47222]
sweep_patterns = ["{tag}"]

[service.spawner]
shell = true
exec = "{{probe}} --daemonize --name porter --listen 127.0.0.1:47222 --log {{dir}}/log --ready {{dir}}/porter.ready; {{probe}} --daemonize --name {tag} --log {{dir}}/log --ready {{dir}}/stray.ready; exec sleep 1000"
"#
    );
    // Daemons escape only /proc tracking: under cgroups they stay their service's and
    // are stopped with it (tests/cgroups.rs), so the sweep is shown with cgroups off.
    let (mut r, dir) = start(
        &config,
        Opts {
            net: true,
            ..without_cgroups()
        },
    );
    wait_file(&dir.path("porter.ready"), SHORT);
    wait_file(&dir.path("stray.ready"), SHORT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let ev = events(&dir.path("log"));
    assert_eq!(
        sigs_of(&ev, "porter").first(),
        Some(&libc::SIGTERM),
        "{ev:?}"
    );
    assert_eq!(sigs_of(&ev, &tag).first(), Some(&libc::SIGTERM), "{ev:?}");
    let stderr = r.stderr();
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("sweep") && l.contains("port tcp/47222")),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("sweep") && l.contains(&format!("pattern {tag:?}"))),
        "{stderr}"
    );
    // Nothing of the test is left anywhere on the machine.
    let left = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&tag))
                .unwrap_or(false)
        })
        .count();
    assert_eq!(left, 0, "a process of the test survived rinit");
}

#[test]
fn a_subreaper_never_sweeps_outside_its_scope() {
    let tag = format!("bystander-{}", std::process::id());
    let dir = TempDir::new("scope");
    let config = dir.path("rinit.toml");
    std::fs::write(
        &config,
        format!(
            "[rinit]\nsweep_ports = [47333]\nsweep_patterns = [\"{tag}\"]\n\n\
             [service.app]\nexec = [\"{}\", \"--name\", \"app\", \"--log\", \"{}\", \"--ready\", \"{}\"]\n",
            probe(),
            dir.path("log"),
            dir.path("app.ready")
        ),
    )
    .unwrap();
    let (log, ready, alive) = (
        dir.path("log"),
        dir.path("bystander.ready"),
        dir.path("alive"),
    );
    // sh is PID 1; the bystander is its child, not rinit's.
    let wrapper = format!(
        "{p} --name {tag} --listen 127.0.0.1:47333 --log {log} --ready {ready} & b=$!; \
         while [ ! -e {ready} ]; do sleep 0.01; done; $RINIT; \
         kill -0 $b && echo alive > {alive}",
        p = probe()
    );
    let mut r = Rinit::start(
        &["-c", &config],
        Opts {
            net: true,
            wrapper: Some(wrapper),
            ..Opts::default()
        },
    );
    wait_file(&dir.path("app.ready"), SHORT);
    r.signal(libc::SIGTERM);
    r.wait(SHORT);
    assert_eq!(
        std::fs::read_to_string(&alive).ok().as_deref(),
        Some("alive\n"),
        "{}",
        r.stderr()
    );
    assert!(
        sigs_of(&events(&log), &tag).is_empty(),
        "the bystander was signalled"
    );
    assert!(
        r.stderr()
            .contains("outside rinit's scope are neither read nor signalled"),
        "{}",
        r.stderr()
    );
    assert_eq!(sigs_of(&events(&log), "app").first(), Some(&libc::SIGTERM));
}

#[test]
fn the_30_second_cap_holds_whatever_the_services_do() {
    let tag = format!("escapee-{}", std::process::id());
    let config = format!(
        r#"
[service.c]
stop_timeout = "30s"
exec = ["{{probe}}", "--name", "c", "--log", "{{dir}}/log", "--ignore", "TERM", "--touch", "{{dir}}/c.ready"]
ready = "file:{{dir}}/c.ready"

[service.b]
after = ["c"]
stop_timeout = "30s"
exec = ["{{probe}}", "--name", "b", "--log", "{{dir}}/log", "--ignore", "TERM", "--touch", "{{dir}}/b.ready"]
ready = "file:{{dir}}/b.ready"

[service.a]
after = ["b"]
stop_timeout = "30s"
shell = true
exec = "{{probe}} --daemonize --name {tag} --ignore TERM --log {{dir}}/log --ready {{dir}}/escapee.ready; exec {{probe}} --name a --log {{dir}}/log --ignore TERM --ready {{dir}}/a.ready"
"#
    );
    // The escapee escapes only /proc tracking (see escaped_daemons_are_swept_…).
    let (mut r, dir) = start(&config, without_cgroups());
    wait_file(&dir.path("a.ready"), SHORT);
    wait_file(&dir.path("escapee.ready"), SHORT);
    let t0 = Instant::now();
    r.signal(libc::SIGPWR);
    r.wait(Duration::from_secs(40));
    let took = t0.elapsed();
    eprintln!(
        "SIGPWR to exit with three stubborn waves: {} ms",
        took.as_millis()
    );
    assert!(took <= Duration::from_millis(30_500), "took {took:?}");
    let ev = events(&dir.path("log"));
    for name in ["a", "b", "c", tag.as_str()] {
        assert_eq!(
            sigs_of(&ev, name).first(),
            Some(&libc::SIGTERM),
            "{name} never got its stop signal: {ev:?}"
        );
    }
    assert!(
        r.stderr()
            .lines()
            .any(|l| l.contains("sweep") && l.contains(&tag)),
        "{}",
        r.stderr()
    );
    assert!(r.ns_procs().is_empty());
}

#[test]
fn ten_compliant_services_stop_in_well_under_a_second() {
    let mut config = String::new();
    for k in 0..10 {
        writeln!(
            config,
            "[service.s{k}]\nexec = [\"{{probe}}\", \"--name\", \"s{k}\", \"--chain\", \"2\", \"--ready\", \"{{dir}}/s{k}.ready\"]\n"
        )
        .unwrap();
    }
    let (mut r, dir) = start(&config, Opts::default());
    for k in 0..10 {
        wait_file(&dir.path(&format!("s{k}.ready")), SHORT);
    }
    let t0 = Instant::now();
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let took = t0.elapsed();
    eprintln!(
        "10 services x 3 processes: SIGTERM to exit {} ms",
        took.as_millis()
    );
    assert!(took < Duration::from_millis(1000), "took {took:?}");
}

#[test]
fn a_thousand_process_tree_stops_promptly() {
    let config = r#"
[service.big]
exec = ["{probe}", "--name", "big", "--fanout", "999", "--ready", "{dir}/ready"]
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_file(&dir.path("ready"), Duration::from_secs(60));
    let t0 = Instant::now();
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let took = t0.elapsed();
    eprintln!(
        "1,000-process tree: SIGTERM to exit {} ms",
        took.as_millis()
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(!r.stderr().contains("KILLED"), "{}", r.stderr());
}

#[test]
fn every_trigger_takes_the_same_path_and_nothing_restarts() {
    let config = r#"
[service.always]
restart = "always"
exec = ["{probe}", "--name", "always", "--log", "{dir}/log", "--exit", "1", "--ready", "{dir}/ready"]

[service.job]
critical = true
exec = ["{probe}", "--name", "job", "--exit-on", "USR1", "--exit", "0", "--touch", "{dir}/job.ready"]
ready = "file:{dir}/job.ready"
"#;
    for trigger in ["TERM", "PWR", "INT", "RTMIN+3", "critical"] {
        let (mut r, dir) = start(config, Opts::default());
        wait_file(&dir.path("ready"), SHORT);
        wait_file(&dir.path("job.ready"), SHORT);
        match trigger {
            "TERM" => r.signal(libc::SIGTERM),
            "PWR" => r.signal(libc::SIGPWR),
            "INT" => r.signal(libc::SIGINT),
            "RTMIN+3" => r.signal(libc::SIGRTMIN() + 3),
            _ => {
                let job = r.probe_named("job").unwrap();
                r.signal_host_pid(job.host_pid, libc::SIGUSR1);
            }
        }
        assert_eq!(r.wait(SHORT), 0, "{trigger}: {}", r.stderr());
        let stderr = r.stderr();
        assert!(stderr.contains("shutting down"), "{trigger}: {stderr}");
        assert!(stderr.contains("shutdown report"), "{trigger}: {stderr}");
        let ev = events(&dir.path("log"));
        let starts = ev
            .iter()
            .filter(|e| e.name == "always" && e.event == "START")
            .count();
        assert_eq!(starts, 1, "{trigger}: restarted during shutdown: {ev:?}");
        assert_eq!(
            sigs_of(&ev, "always").first(),
            Some(&libc::SIGTERM),
            "{trigger}"
        );
    }
}

/// A Python process that writes `NAME-up` in DIR, and on SIGTERM writes `NAME-term`; the
/// main one then waits for a byte on the fifo DIR/go (held open from the start, so the
/// test's non-blocking write finds it) before it exits.
const TERM_RECORDER: &str = r#"
import os, signal, sys
d, name = sys.argv[1], sys.argv[2]
go = os.open(f"{d}/go", os.O_RDWR) if name == "main" else None
def term(*_):
    open(f"{d}/{name}-term", "w").close()
    if go is not None:
        os.read(go, 1)
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
open(f"{d}/{name}-up", "w").close()
while True:
    signal.pause()
"#;

/// A process that came into the namespace from outside (as `docker exec` and `nsenter`
/// do) while the last service was stopping gets SIGTERM before rinit exits, not the
/// kernel's SIGKILL when PID 1 is gone: the look at the namespace that rinit takes while
/// its last child dies does not hide a process that entered after it.
#[test]
fn a_process_that_came_in_during_the_last_stop_gets_sigterm_before_rinit_exits() {
    if !is_root() {
        eprintln!("skipped: entering the namespace from outside needs root");
        return;
    }
    let dir = TempDir::new("came-in");
    let go = dir.path("go");
    let fifo = std::ffi::CString::new(go.clone()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let d = dir.0.to_str().unwrap();
    let mut r = Rinit::start(
        &["--", "python3", "-c", TERM_RECORDER, d, "main"],
        Opts::default(),
    );
    wait_file(&dir.path("main-up"), SHORT);
    r.signal(libc::SIGTERM);
    // main has its SIGTERM and waits for the fifo: rinit waits for main's exit.
    wait_file(&dir.path("main-term"), SHORT);
    let target = r.host_pid().to_string();
    let mut entrant = std::process::Command::new("nsenter")
        .args(["-t", &target, "-p", "--", "python3", "-c", TERM_RECORDER, d])
        .arg("entrant")
        .spawn()
        .expect("nsenter");
    wait_file(&dir.path("entrant-up"), SHORT);
    // Non-blocking: fails (ENXIO) instead of hanging if main is gone.
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut fifo = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&go)
        .expect("main holds the fifo open");
    fifo.write_all(b"g").unwrap();
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let status = entrant.wait().unwrap();
    assert!(
        status.success() && std::path::Path::new(&dir.path("entrant-term")).exists(),
        "the process that came in was not stopped with SIGTERM ({status:?}):\n{}",
        r.stderr()
    );
}

/// Options for a run tracked through /proc, without cgroups.
fn without_cgroups() -> Opts {
    Opts {
        env: vec![("RINIT_CGROUPS".into(), "off".into())],
        ..Opts::default()
    }
}

/// `rinit -- sleep 1000`, stopped with SIGTERM once rinit has gone idle (and taken its
/// census of the namespace): its log.
fn stop_a_quiet_sleep(opts: Opts) -> String {
    let mut r = Rinit::start(&["--", "sleep", "1000"], opts);
    wait_contains(
        &r.dir.path("stderr"),
        "census: only rinit and its children",
        SHORT,
    );
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 143, "{}", r.stderr());
    r.stderr()
}

/// With nobody else in the namespace, the stop lists /proc neither before its signal nor
/// after the reap: rinit looked when it went idle after starting main, and then only
/// checks that no pid was handed out since. (Without cgroups: with them, the stop reads
/// main's cgroup instead of /proc before its signal.)
#[test]
fn with_nobody_else_in_the_namespace_the_stop_does_not_list_proc() {
    let stderr = stop_a_quiet_sleep(without_cgroups());
    assert!(
        stderr.contains("only rinit's children are in the namespace: no listing")
            && stderr.contains("no pid was handed out since the last look"),
        "the stop listed /proc:\n{stderr}"
    );
}

/// With cgroups (where this machine has them), the stop reads main's cgroup before its
/// signal, and after the reap the census says rinit is alone.
#[test]
fn the_last_stop_ends_on_the_look_taken_while_the_child_died() {
    let stderr = stop_a_quiet_sleep(Opts::default());
    assert!(
        stderr.contains("no pid was handed out since the last look"),
        "the stop did not end on the census:\n{stderr}"
    );
}

/// A main process that forked after rinit went idle moved the pid cursor: the stop lists
/// /proc, and the child gets its signal before its parent.
#[test]
fn a_fork_after_the_look_makes_the_stop_list_proc() {
    let dir = TempDir::new("forked");
    let (log, ready) = (dir.path("log"), dir.path("ready"));
    let probe = probe();
    let args = [
        "--", &probe, "--name", "t", "--log", &log, "--chain", "1", "--ready", &ready,
    ];
    let mut r = Rinit::start(&args, without_cgroups());
    wait_file(&ready, SHORT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let stderr = r.stderr();
    assert!(!stderr.contains("no listing"), "{stderr}");
    let ev = events(&log);
    assert_eq!(sigs_of(&ev, "t.1"), vec![libc::SIGTERM], "{stderr}");
    let sent = signal_order(&stderr, "SIGTERM");
    assert_eq!(
        sent,
        vec![probe_pid(&ev, "t.1"), probe_pid(&ev, "t")],
        "deepest first"
    );
}
