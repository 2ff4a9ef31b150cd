//! probe: a small workload for rinit's integration tests and benchmarks.
//!
//! It records every signal it receives (`SIG <name> <signo> <monotonic ns> <pid>` lines
//! appended to `--log`), and can be told to ignore some signals, to take time to clean
//! up, to exit on a signal, or to make orphans. Tests start it under rinit and read what
//! it wrote; they never guess with sleeps.
//!
//! ```text
//! probe [--log FILE] [--name NAME] [--ready FILE] [--ignore SIG,SIG] [--cleanup-ms N]
//!       [--exit CODE] [--exit-on SIG] [--exit-now] [--orphans N] [--hold N]
//!       [--orphan-report FILE] [--ready-delay-ms N] [--listen HOST:PORT] [--touch FILE]
//!       [--notify]
//! ```
//! - `--chain N`: a chain of N descendants (NAME.1 child of NAME, NAME.2 of NAME.1, …);
//!   `--fanout N`: N children NAME.c0 … NAME.cN-1; all behave like probe itself. The
//!   ready file is written by the last process created.
//! - `--fork-on-term N`: on SIGTERM, fork N children (NAME.f0 …) and exit; they wait for
//!   their own SIGTERM. `--own-pgrp`: move to a new process group. `--daemonize`: double
//!   fork and setsid first (the parent exits 0 at once).
//! - `--listen`, `--touch`, `--notify` make it ready the way a service would (a TCP
//!   listener, a file, sd_notify `READY=1`), after `--ready-delay-ms`, logging `READY`.
//!   `--unlisten-on SIG`: on SIG, close the listener and stay alive (logging `UNLISTEN`):
//!   a service that hangs.
//! - SIGTERM and SIGINT end it (after `--cleanup-ms`, logging `DONE`), unless ignored;
//!   every other signal is logged and survived, except `--exit-on SIG`.
//! - `--hop`: never stay: with SIGTERM ignored, fork a child in a new
//!   session and exit, and let the child do the same at once — a process that keeps
//!   changing its pid and session, as a fork loop does, and that only SIGKILL ends.
//! - `--orphans N`: make N double-forked orphans that exit at once (a zombie storm).
//! - `--hold N`: make N double-forked orphans that live exactly as long as probe.
//! - `--orphan-report FILE`: make one orphan that writes its new parent's pid to FILE.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs::OpenOptions;
use std::io::Write;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Opts {
    log: Option<String>,
    name: String,
    ready: Option<String>,
    ignore: Vec<i32>,
    cleanup_ms: u64,
    exit: i32,
    exit_on: Vec<i32>,
    exit_now: bool,
    orphans: usize,
    hold: usize,
    orphan_report: Option<String>,
    ready_delay_ms: u64,
    listen: Option<String>,
    unlisten_on: Vec<i32>,
    touch: Option<String>,
    notify: bool,
    chain: usize,
    fanout: usize,
    fork_on_term: usize,
    own_pgrp: bool,
    daemonize: bool,
    hop: bool,
}

fn sig(name: &str) -> i32 {
    let n = name.trim().trim_start_matches("SIG").to_ascii_uppercase();
    if let Some(k) = n.strip_prefix("RTMIN+") {
        return libc::SIGRTMIN() + k.parse::<i32>().unwrap();
    }
    match n.as_str() {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "TERM" => libc::SIGTERM,
        "ALRM" => libc::SIGALRM,
        "WINCH" => libc::SIGWINCH,
        "PWR" => libc::SIGPWR,
        "CONT" => libc::SIGCONT,
        "TSTP" => libc::SIGTSTP,
        "RTMIN" => libc::SIGRTMIN(),
        "RTMAX" => libc::SIGRTMAX(),
        other => other.parse().expect("signal"),
    }
}

fn parse() -> Opts {
    let mut o = Opts {
        name: "probe".into(),
        ..Default::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().expect("option value");
        match a.as_str() {
            "--log" => o.log = Some(val()),
            "--name" => o.name = val(),
            "--ready" => o.ready = Some(val()),
            "--ignore" => o.ignore = val().split(',').map(sig).collect(),
            "--cleanup-ms" => o.cleanup_ms = val().parse().unwrap(),
            "--exit" => o.exit = val().parse().unwrap(),
            "--exit-on" => o.exit_on = val().split(',').map(sig).collect(),
            "--exit-now" => o.exit_now = true,
            "--orphans" => o.orphans = val().parse().unwrap(),
            "--hold" => o.hold = val().parse().unwrap(),
            "--orphan-report" => o.orphan_report = Some(val()),
            "--ready-delay-ms" => o.ready_delay_ms = val().parse().unwrap(),
            "--listen" => o.listen = Some(val()),
            "--unlisten-on" => o.unlisten_on = val().split(',').map(sig).collect(),
            "--touch" => o.touch = Some(val()),
            "--notify" => o.notify = true,
            "--chain" => o.chain = val().parse().unwrap(),
            "--fanout" => o.fanout = val().parse().unwrap(),
            "--fork-on-term" => o.fork_on_term = val().parse().unwrap(),
            "--own-pgrp" => o.own_pgrp = true,
            "--daemonize" => o.daemonize = true,
            "--hop" => o.hop = true,
            other => panic!("probe: unknown option {other}"),
        }
    }
    o
}

fn monotonic_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn record(o: &Opts, line: &str) {
    if let Some(path) = &o.log {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        // One write per line: lines from several processes never interleave.
        f.write_all(
            format!(
                "{} {line} {} {}\n",
                o.name,
                monotonic_ns(),
                std::process::id()
            )
            .as_bytes(),
        )
        .unwrap();
    }
}

fn fork() -> i32 {
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    pid
}

/// Fork a child that forks a grandchild running `f`, then exits: the grandchild is
/// orphaned and reparented to the nearest subreaper (rinit).
fn double_fork(f: impl FnOnce()) {
    let child = fork();
    if child == 0 {
        if fork() == 0 {
            f();
        }
        unsafe { libc::_exit(0) };
    }
    unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
}

fn orphan_report(path: &str) {
    let parent = std::process::id() as i32;
    double_fork(|| {
        let child_parent = unsafe { libc::getppid() };
        // Wait until the intermediate child is gone and we have been reparented.
        let start = Instant::now();
        let mut ppid = child_parent;
        while ppid == child_parent && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
            ppid = unsafe { libc::getppid() };
        }
        std::fs::write(path, format!("{ppid}\n")).unwrap();
        unsafe { libc::_exit(0) };
    });
    let _ = parent;
}

/// Signal readiness as a service would; the listener must stay open.
fn become_ready(o: &Opts) -> Option<std::net::TcpListener> {
    if o.listen.is_none() && o.touch.is_none() && !o.notify {
        return None;
    }
    std::thread::sleep(Duration::from_millis(o.ready_delay_ms));
    record(o, "READY 0");
    let listener = o
        .listen
        .as_ref()
        .map(|a| std::net::TcpListener::bind(a).unwrap());
    if let Some(path) = &o.touch {
        std::fs::write(path, "").unwrap();
    }
    if o.notify {
        let addr = std::env::var("NOTIFY_SOCKET").expect("NOTIFY_SOCKET");
        let sock = std::os::unix::net::UnixDatagram::unbound().unwrap();
        match addr.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let a = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
                sock.send_to_addr(b"READY=1\n", &a).unwrap();
            }
            None => {
                sock.send_to(b"READY=1\n", &addr).unwrap();
            }
        }
    }
    listener
}

/// Make the descendants `--chain` and `--fanout` ask for; returns whether this process
/// is the last one created (which writes the ready file).
fn make_family(o: &mut Opts) -> bool {
    let base = o.name.clone();
    for level in 1..=o.chain {
        if fork() != 0 {
            return false;
        }
        o.name = format!("{base}.{level}");
    }
    for k in 0..o.fanout {
        if fork() == 0 {
            o.name = format!("{base}.c{k}");
            return k + 1 == o.fanout;
        }
    }
    o.fanout == 0
}

/// Wait for a signal and take it, logging it *before* it stops being pending, so that
/// at every moment a signal sent to probe is either pending or in the log.
fn next_signal(o: &Opts, sfd: i32) -> i32 {
    loop {
        let mut pending = unsafe { std::mem::zeroed::<libc::sigset_t>() };
        unsafe { libc::sigpending(&mut pending) };
        if let Some(s) = (1..=64).find(|&s| unsafe { libc::sigismember(&pending, s) } == 1) {
            record(o, &format!("SIG {s}"));
            let mut one = unsafe { std::mem::zeroed::<libc::sigset_t>() };
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            unsafe {
                libc::sigemptyset(&mut one);
                libc::sigaddset(&mut one, s);
                libc::sigtimedwait(&one, std::ptr::null_mut(), &zero);
            }
            return s;
        }
        let mut pfd = libc::pollfd {
            fd: sfd,
            events: libc::POLLIN,
            revents: 0,
        };
        unsafe { libc::poll(&mut pfd, 1, -1) };
    }
}

/// How many of this process's children have neither got `sig` (pending, since probe
/// blocks everything) nor exited: with a children-first stop, always 0.
fn children_not_yet_signalled(log: Option<&str>, sig: i32) -> usize {
    let me = std::process::id();
    let kids =
        std::fs::read_to_string(format!("/proc/{me}/task/{me}/children")).unwrap_or_default();
    let bit = 1u64 << (sig - 1);
    kids.split_whitespace()
        .filter(|kid| {
            let Ok(status) = std::fs::read_to_string(format!("/proc/{kid}/status")) else {
                return false;
            };
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| u64::from_str_radix(v.trim(), 16).unwrap_or(0))
                    .unwrap_or(0)
            };
            let zombie = status
                .lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'));
            let pending = (field("ShdPnd:") | field("SigPnd:")) & bit != 0;
            !zombie && !pending && !logged(log, kid, sig)
        })
        .count()
}

/// Has process `pid` logged signal `sig` in `log`?
fn logged(log: Option<&str>, pid: &str, sig: i32) -> bool {
    let text = log
        .and_then(|l| std::fs::read_to_string(l).ok())
        .unwrap_or_default();
    text.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.get(1) == Some(&"SIG")
            && f.get(2) == Some(&sig.to_string().as_str())
            && f.get(4) == Some(&pid)
    })
}

/// `--hop`: SIGTERM ignored; at once and forever, a child in a new session takes over.
fn hop(o: &Opts) -> ! {
    unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
    record(o, "HOP");
    loop {
        if fork() != 0 {
            unsafe { libc::_exit(0) };
        }
        unsafe { libc::setsid() };
        std::thread::yield_now();
    }
}

fn main() {
    let mut o = parse();
    let mut all = unsafe { std::mem::zeroed::<libc::sigset_t>() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
    if o.daemonize {
        if fork() != 0 {
            std::process::exit(0);
        }
        unsafe { libc::setsid() };
        if fork() != 0 {
            unsafe { libc::_exit(0) };
        }
    }
    if o.own_pgrp {
        unsafe { libc::setpgid(0, 0) };
    }
    if o.hop {
        hop(&o);
    }
    let last = make_family(&mut o);
    if !last {
        o.ready = None;
    }
    for _ in 0..o.orphans {
        double_fork(|| unsafe { libc::_exit(0) });
    }
    if o.hold > 0 {
        let mut fds = [0; 2];
        unsafe { libc::pipe(fds.as_mut_ptr()) };
        for _ in 0..o.hold {
            double_fork(|| unsafe {
                libc::close(fds[1]);
                let mut b = 0u8;
                libc::read(fds[0], (&raw mut b).cast(), 1);
                libc::_exit(0);
            });
        }
        unsafe { libc::close(fds[0]) };
        // fds[1] stays open until probe exits.
    }
    if let Some(path) = &o.orphan_report {
        orphan_report(path);
    }
    record(&o, "START 0");
    let mut listener = become_ready(&o);
    if let Some(ready) = &o.ready {
        let tmp = format!("{ready}.tmp");
        std::fs::write(&tmp, format!("{}\n", std::process::id())).unwrap();
        std::fs::rename(&tmp, ready).unwrap();
    }
    if o.exit_now {
        std::process::exit(o.exit);
    }
    let sfd = unsafe { libc::signalfd(-1, &all, libc::SFD_CLOEXEC) };
    loop {
        let s = next_signal(&o, sfd);
        if s == libc::SIGTERM {
            record(
                &o,
                &format!("ORDER {}", children_not_yet_signalled(o.log.as_deref(), s)),
            );
        }
        if o.exit_on.contains(&s) {
            std::process::exit(o.exit);
        }
        if o.unlisten_on.contains(&s) && listener.take().is_some() {
            record(&o, "UNLISTEN 0");
        }
        if s == libc::SIGTERM && o.fork_on_term > 0 {
            let base = o.name.clone();
            for k in 0..o.fork_on_term {
                if fork() == 0 {
                    o.name = format!("{base}.f{k}");
                    o.fork_on_term = 0;
                    break;
                }
            }
            if o.fork_on_term > 0 {
                record(&o, "DONE 0");
                std::process::exit(o.exit);
            }
            record(&o, "START 0");
            continue;
        }
        if (s == libc::SIGTERM || s == libc::SIGINT) && !o.ignore.contains(&s) {
            if o.cleanup_ms > 0 {
                std::thread::sleep(Duration::from_millis(o.cleanup_ms));
            }
            record(&o, "DONE 0");
            std::process::exit(o.exit);
        }
    }
}
