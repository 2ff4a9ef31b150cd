//! Services from TOML: dependency order gated by readiness, oneshots, restarts, critical
//! services, process setup and prefixed logs — each run with rinit as PID 1 of its own
//! PID namespace.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

const SHORT: Duration = Duration::from_secs(15);

fn start(config: &str, opts: Opts) -> (Rinit, TempDir) {
    start_with_config("svc", config, opts)
}

fn first(ev: &[Event], name: &str, event: &str) -> u128 {
    ev.iter()
        .find(|e| e.name == name && e.event == event)
        .unwrap_or_else(|| panic!("no {event} from {name} in {ev:?}"))
        .ns
}

#[test]
fn diamond_starts_in_order_gated_by_each_readiness_kind() {
    // top -> {tcp, file, exec, notify} -> bottom. Each middle service becomes ready 300 ms
    // after it starts, so a bottom that did not wait would start too early.
    let config = r#"
[service.top]
exec = ["{probe}", "--name", "top", "--log", "{dir}/log", "--touch", "{dir}/top.ready"]
ready = "file:{dir}/top.ready"

[service.tcp]
after = ["top"]
exec = ["{probe}", "--name", "tcp", "--log", "{dir}/log", "--ready-delay-ms", "300", "--listen", "127.0.0.1:47111"]
ready = "tcp:127.0.0.1:47111"

[service.file]
after = ["top"]
exec = ["{probe}", "--name", "file", "--log", "{dir}/log", "--ready-delay-ms", "300", "--touch", "{dir}/file.ready"]
ready = "file:{dir}/file.ready"

[service.exec]
after = ["top"]
exec = ["{probe}", "--name", "exec", "--log", "{dir}/log", "--ready-delay-ms", "300", "--touch", "{dir}/exec.ready"]
ready = "exec:test -e {dir}/exec.ready"

[service.notify]
after = ["top"]
exec = ["{probe}", "--name", "notify", "--log", "{dir}/log", "--ready-delay-ms", "300", "--notify"]
ready = "notify"

[service.bottom]
after = ["tcp", "file", "exec", "notify"]
exec = ["{probe}", "--name", "bottom", "--log", "{dir}/log", "--ready", "{dir}/bottom.started"]
"#;
    let (mut r, dir) = start(
        config,
        Opts {
            net: true,
            ..Opts::default()
        },
    );
    wait_file(&dir.path("bottom.started"), SHORT);
    let ev = events(&dir.path("log"));
    let top_ready = first(&ev, "top", "READY");
    for mid in ["tcp", "file", "exec", "notify"] {
        assert!(
            first(&ev, mid, "START") > top_ready,
            "{mid} started before top was ready"
        );
        assert!(
            first(&ev, "bottom", "START") > first(&ev, mid, "READY"),
            "bottom started before {mid} was ready: {ev:?}"
        );
    }
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
}

#[test]
fn a_hundred_service_dag_starts_in_dependency_order() {
    // 10 levels of 10; each service depends on two services of the level above.
    let mut config = String::new();
    for level in 0..10 {
        for k in 0..10 {
            let after = if level == 0 {
                String::new()
            } else {
                format!(
                    "after = [\"s{}_{}\", \"s{}_{}\"]",
                    level - 1,
                    k,
                    level - 1,
                    (k + 3) % 10
                )
            };
            writeln!(
                config,
                "[service.s{level}_{k}]\n{after}\nlog = \"null\"\n\
                 ready = \"file:{{dir}}/s{level}_{k}.ready\"\n\
                 exec = [\"{{probe}}\", \"--name\", \"s{level}_{k}\", \"--log\", \"{{dir}}/log\", \
                 \"--touch\", \"{{dir}}/s{level}_{k}.ready\"]\n"
            )
            .unwrap();
        }
    }
    let t0 = Instant::now();
    let (mut r, dir) = start(&config, Opts::default());
    let log = dir.path("log");
    wait_for("100 services started", SHORT, || {
        (events(&log).iter().filter(|e| e.event == "START").count() == 100).then_some(())
    });
    eprintln!(
        "100-service DAG: all started {} ms after rinit was launched",
        t0.elapsed().as_millis()
    );
    let ev = events(&log);
    let start: HashMap<String, u128> = ev
        .iter()
        .filter(|e| e.event == "START")
        .map(|e| (e.name.clone(), e.ns))
        .collect();
    for level in 1..10 {
        for k in 0..10 {
            let me = start[&format!("s{level}_{k}")];
            for dep in [k, (k + 3) % 10] {
                assert!(
                    me > start[&format!("s{}_{dep}", level - 1)],
                    "s{level}_{k} before its dep"
                );
            }
        }
    }
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
}

#[test]
fn failed_oneshot_blocks_its_dependents() {
    let config = r#"
[service.setup]
oneshot = true
exec = "sh -c 'exit 3'"

[service.app]
after = ["setup"]
exec = ["{probe}", "--name", "app", "--log", "{dir}/log"]

[service.other]
exec = ["{probe}", "--name", "other", "--log", "{dir}/log", "--ready", "{dir}/other.started"]
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_file(&dir.path("other.started"), SHORT);
    wait_for("app blocked", SHORT, || {
        r.stderr().contains("app blocked").then_some(())
    });
    assert!(
        r.stderr().contains("dependency setup is failed"),
        "{}",
        r.stderr()
    );
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    assert!(
        events(&dir.path("log")).iter().all(|e| e.name != "app"),
        "app must never start"
    );
}

#[test]
fn oneshot_success_releases_dependents() {
    let config = r#"
[service.setup]
oneshot = true
exec = "sh -c 'touch {dir}/setup.done'"

[service.app]
after = ["setup"]
exec = "sh -c 'test -e {dir}/setup.done && touch {dir}/app.saw-setup; exec sleep 1000'"
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_file(&dir.path("app.saw-setup"), SHORT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
}

#[test]
fn restart_backoff_grows_until_the_limit() {
    let config = r#"
[service.flaky]
restart = "always"
exec = ["{probe}", "--name", "flaky", "--log", "{dir}/log", "--exit-now", "--exit", "1"]

[service.keeper]
exec = ["sleep", "1000"]
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_for("flaky to fail for good", SHORT, || {
        r.stderr()
            .contains("flaky failed: restarted 5 times")
            .then_some(())
    });
    let starts: Vec<u128> = events(&dir.path("log"))
        .iter()
        .filter(|e| e.event == "START")
        .map(|e| e.ns)
        .collect();
    assert_eq!(starts.len(), 6, "one start and five restarts");
    let gaps: Vec<u128> = starts
        .windows(2)
        .map(|w| (w[1] - w[0]) / 1_000_000)
        .collect();
    eprintln!("restart gaps (ms): {gaps:?}");
    assert!(gaps[0] >= 100, "first backoff is 100 ms: {gaps:?}");
    for w in gaps.windows(2) {
        assert!(w[1] >= w[0] * 3 / 2, "backoff must grow: {gaps:?}");
    }
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
}

#[test]
fn critical_service_ends_the_run_with_its_status() {
    let config = r#"
[service.long]
exec = ["{probe}", "--name", "long", "--log", "{dir}/log", "--ready", "{dir}/long.ready"]
ready = "file:{dir}/long.ready"

[service.job]
after = ["long"]
critical = true
exec = "sh -c 'exit 3'"
"#;
    let (mut r, dir) = start(config, Opts::default());
    assert_eq!(r.wait(SHORT), 3, "{}", r.stderr());
    let ev = events(&dir.path("log"));
    assert!(
        ev.iter()
            .any(|e| e.name == "long" && e.sig == libc::SIGTERM),
        "long was stopped: {ev:?}"
    );
}

#[test]
fn success_codes_count_as_success() {
    let config = r#"
[service.jvm]
critical = true
success_codes = [0, 143]
exec = "sh -c 'exit 143'"
"#;
    let (mut r, _dir) = start(config, Opts::default());
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
}

#[test]
fn main_command_starts_after_configured_services() {
    let dir = TempDir::new("main");
    let path = dir.path("rinit.toml");
    std::fs::write(
        &path,
        format!("[service.db]\nexec = \"sh -c 'sleep 0.3; touch {0}/db.ready; exec sleep 1000'\"\nready = \"file:{0}/db.ready\"\n", dir.0.display()),
    )
    .unwrap();
    let script = format!("test -e {}/db.ready && exit 7; exit 1", dir.0.display());
    let mut r = Rinit::start(&["-c", &path, "--", "sh", "-c", &script], Opts::default());
    assert_eq!(r.wait(SHORT), 7, "{}", r.stderr());
}

#[test]
fn process_setup_env_workdir_fds_and_user() {
    let user = if is_root() {
        "user = \"nobody\"\ngroup = \"nogroup\""
    } else {
        ""
    };
    let config = format!(
        r#"
[service.setup]
{user}
workdir = "/tmp"
env = {{ GREETING = "hello world" }}
log = "{{dir}}/out"
oneshot = true
shell = true
exec = "echo \"greeting=$GREETING\"; echo \"pwd=$(pwd)\"; ls /proc/self/fd | tr '\n' ' '; echo; grep -E '^(Uid|Gid|Groups):' /proc/self/status"
"#
    );
    let (mut r, dir) = start(&config, Opts::default());
    let out = wait_contains(&dir.path("out"), "Groups:", SHORT);
    assert!(out.contains("greeting=hello world"), "{out}");
    assert!(out.contains("pwd=/tmp"), "{out}");
    let fds = out.lines().nth(2).unwrap();
    // ls's own fds: 0, 1, 2 and the directory it reads (3); nothing of rinit's.
    assert!(
        fds.split_whitespace()
            .all(|f| f.parse::<u32>().unwrap() <= 3),
        "fds leaked into the child: {fds}"
    );
    if is_root() {
        let nobody = "65534";
        let uid = out.lines().find(|l| l.starts_with("Uid:")).unwrap();
        let gid = out.lines().find(|l| l.starts_with("Gid:")).unwrap();
        let groups = out.lines().find(|l| l.starts_with("Groups:")).unwrap();
        assert!(uid.split_whitespace().skip(1).all(|v| v == nobody), "{uid}");
        assert!(gid.split_whitespace().skip(1).all(|v| v == nobody), "{gid}");
        assert_eq!(
            groups.split_whitespace().skip(1).collect::<Vec<_>>(),
            vec![nobody],
            "{groups}"
        );
    }
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
}

#[test]
fn prefixed_lines_stay_whole_while_three_services_print() {
    let mut config = String::new();
    for name in ["alpha", "beta", "gamma"] {
        writeln!(
            config,
            "[service.{name}]\noneshot = true\nshell = true\n\
             exec = \"i=0; while [ $i -lt 3000 ]; do echo \\\"{name} line $i 0123456789abcdefghijklmnopqrstuvwxyz\\\"; i=$((i+1)); done\"\n"
        )
        .unwrap();
    }
    writeln!(config, "[service.done]\nafter = [\"alpha\", \"beta\", \"gamma\"]\nexec = \"touch {{dir}}/done\"\noneshot = true\n").unwrap();
    let (mut r, dir) = start(&config, Opts::default());
    wait_file(&dir.path("done"), Duration::from_secs(60));
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let out = r.stdout();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for line in out.lines() {
        let (name, payload) = line
            .split_once(" | ")
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let words: Vec<&str> = payload.split(' ').collect();
        assert_eq!(words.len(), 4, "torn line {line:?}");
        assert_eq!(
            words[0], name,
            "line of {} under {name}: {line:?}",
            words[0]
        );
        assert_eq!(
            words[3], "0123456789abcdefghijklmnopqrstuvwxyz",
            "torn line {line:?}"
        );
        *counts.entry(name).or_default() += 1;
    }
    for name in ["alpha", "beta", "gamma"] {
        assert_eq!(counts.get(name), Some(&3000), "{counts:?}");
    }
}

#[test]
fn a_flood_of_output_does_not_stall_reaping_or_shutdown() {
    let config = r#"
[service.flood]
exec = "sh -c 'head -c 50000000 /dev/zero | tr \"\\0\" x | fold -w 100; exec sleep 1000'"

[service.storm]
exec = ["{probe}", "--name", "storm", "--orphans", "3000", "--ready", "{dir}/storm.ready"]
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_file(&dir.path("storm.ready"), Duration::from_secs(60));
    wait_for("no zombies while the flood runs", SHORT, || {
        (r.ns_procs().iter().filter(|p| p.state == 'Z').count() == 0).then_some(())
    });
    let t0 = Instant::now();
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let took = t0.elapsed();
    eprintln!(
        "SIGTERM to exit during a 50 MB flood: {} ms",
        took.as_millis()
    );
    assert!(
        took < Duration::from_secs(3),
        "shutdown was slow during a flood: {took:?}"
    );
}

#[test]
fn check_reports_errors_with_position_and_exits_2() {
    let dir = TempDir::new("check");
    let path = dir.path("bad.toml");
    std::fs::write(&path, "[service.a]\nexec = \"true\"\nafter = [\"ghost\"]\n").unwrap();
    let out = std::process::Command::new(RINIT)
        .args(["check", "-c", &path])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{path}:3:")), "{err}");
    assert!(err.contains("ghost"), "{err}");

    std::fs::write(&path, "[service.a]\nexec = \"true\"\nafter = [\"b\"]\n[service.b]\nexec = \"true\"\nafter = [\"a\"]\n").unwrap();
    let out = std::process::Command::new(RINIT)
        .args(["check", "-c", &path])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a -> b -> a"),
        "{:?}",
        out
    );
}

#[test]
fn check_prints_waves_for_every_example_config() {
    let configs = concat!(env!("CARGO_MANIFEST_DIR"), "/configs");
    for entry in std::fs::read_dir(configs).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let out = std::process::Command::new(RINIT)
            .args(["check", "-c", path.to_str().unwrap()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("start waves:") && text.contains("stop waves"),
            "{text}"
        );
    }
}

#[test]
fn a_service_that_is_never_ready_fails_after_its_ready_timeout() {
    let config = r#"
[service.silent]
ready = "file:{dir}/never"
ready_timeout = "500ms"
exec = ["{probe}", "--name", "silent", "--log", "{dir}/log", "--ready", "{dir}/silent.started"]

[service.dependent]
after = ["silent"]
exec = ["{probe}", "--name", "dependent", "--log", "{dir}/log"]

[service.keeper]
exec = ["sleep", "1000"]
"#;
    let (mut r, dir) = start(config, Opts::default());
    wait_file(&dir.path("silent.started"), SHORT);
    let t0 = Instant::now();
    wait_for("silent to fail", SHORT, || {
        r.stderr()
            .contains("silent failed: not ready after 500 ms")
            .then_some(())
    });
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "the timeout was not enforced on time"
    );
    wait_for("dependent blocked", SHORT, || {
        r.stderr().contains("dependent blocked").then_some(())
    });
    // The silent service was told to stop (the probe logs it when it gets there).
    let first_sig = wait_for("silent to log its signal", SHORT, || {
        events(&dir.path("log"))
            .iter()
            .find(|e| e.name == "silent" && e.event == "SIG")
            .map(|e| e.sig)
    });
    assert_eq!(first_sig, libc::SIGTERM);
    let ev = events(&dir.path("log"));
    assert!(
        ev.iter().all(|e| e.name != "dependent"),
        "dependent must never start"
    );
    // Nothing is left to wait for: rinit is idle, not spinning on a stale timer.
    let before = r.wakeups();
    std::thread::sleep(Duration::from_millis(500));
    let woke = r.wakeups() - before;
    assert!(woke <= 2, "rinit woke {woke} times while idle");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
}

#[test]
fn a_stdout_nobody_reads_does_not_stall_rinit() {
    // rinit's stdout is a pipe that fills up and is never read: services keep printing,
    // and rinit must still reap a zombie storm and answer SIGTERM at once.
    let config = r#"
[service.chatty]
exec = "sh -c 'yes a-line-of-service-output | head -c 20000000; exec sleep 1000'"

[service.storm]
exec = ["{probe}", "--name", "storm", "--orphans", "2000", "--ready", "{dir}/storm.ready"]
"#;
    let (mut r, dir) = start(
        config,
        Opts {
            stuck_stdout: true,
            ..Opts::default()
        },
    );
    wait_file(&dir.path("storm.ready"), Duration::from_secs(60));
    wait_for("no zombies while stdout is stuck", SHORT, || {
        (r.ns_procs().iter().filter(|p| p.state == 'Z').count() == 0).then_some(())
    });
    let t0 = Instant::now();
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(SHORT), 0, "{}", r.stderr());
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "shutdown stalled on stdout: {took:?}"
    );
    assert!(
        r.stderr().contains("dropping service lines"),
        "{}",
        r.stderr()
    );
}
