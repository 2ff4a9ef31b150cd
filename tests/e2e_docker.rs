//! End to end on a real Docker engine: rinit as a container's ENTRYPOINT, stopped with
//! `docker stop`. Every image is built locally `FROM scratch` with the static rinit and
//! Debian's busybox-static; nothing is pulled. Run with `make e2e` (which builds the
//! static binary first); without a Docker engine the tests are skipped, unless
//! `RINIT_REQUIRE_DOCKER=1` (as in CI) makes that a failure. Every container and image
//! is removed, also when a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const STATIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/static/rinit");

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("cannot run docker")
}

fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One test at a time: parallel builds on the legacy builder share cached layers, and
/// one test removing its image can pull a parent layer from under another's build.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Docker is usable and the static binary is built (else skip, or fail in CI); the
/// guard keeps the tests serial.
fn ready() -> Option<std::sync::MutexGuard<'static, ()>> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    prerequisites().then_some(guard)
}

fn prerequisites() -> bool {
    let have_docker = docker(&["info"]).status.success();
    let have_static = std::path::Path::new(STATIC).exists();
    let have_busybox = std::path::Path::new("/bin/busybox").exists();
    if have_docker && have_static && have_busybox {
        return true;
    }
    let why = format!(
        "docker engine: {have_docker}, static rinit (make static): {have_static}, /bin/busybox (busybox-static): {have_busybox}"
    );
    assert!(
        std::env::var_os("RINIT_REQUIRE_DOCKER").is_none(),
        "e2e prerequisites missing: {why}"
    );
    eprintln!("skipped: {why}");
    false
}

/// A locally built image, removed on drop.
struct Image(String);

impl Image {
    /// Build `FROM scratch` + busybox + rinit, plus `extra` Dockerfile lines and files.
    fn build(extra: &str, files: &[(&str, &str)]) -> Image {
        static N: AtomicUsize = AtomicUsize::new(0);
        let tag = format!(
            "rinit-e2e-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let dir = std::env::temp_dir().join(&tag);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy("/bin/busybox", dir.join("busybox")).unwrap();
        std::fs::copy(STATIC, dir.join("rinit")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let dockerfile = format!(
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
             COPY rinit /sbin/rinit\n{extra}\nENTRYPOINT [\"/sbin/rinit\"]\n"
        );
        std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
        let out = docker(&["build", "-q", "-t", &tag, dir.to_str().unwrap()]);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "docker build: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Image(tag)
    }

    fn with_config(config: &str, extra: &str) -> Image {
        Image::build(
            &format!("COPY rinit.toml /etc/rinit/rinit.toml\n{extra}"),
            &[("rinit.toml", config)],
        )
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.0]);
    }
}

/// A container, removed on drop.
struct Container(String);

impl Container {
    fn run(image: &Image, opts: &[&str], args: &[&str]) -> Container {
        let name = format!("{}-c", image.0);
        let mut all = vec!["run", "-d", "--name", &name];
        all.extend_from_slice(opts);
        all.push(&image.0);
        all.extend_from_slice(args);
        docker_ok(&all);
        Container(name)
    }

    fn logs(&self) -> String {
        let out = docker(&["logs", &self.0]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    fn wait_log(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let logs = self.logs();
            if logs.contains(needle) {
                return logs;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no {needle:?} in logs:\n{logs}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn exit_code(&self) -> i32 {
        docker_ok(&["wait", &self.0]).trim().parse().unwrap()
    }

    /// `docker stop` with a timeout; return how long it took.
    fn stop(&self, timeout: u32) -> Duration {
        let t0 = Instant::now();
        docker_ok(&["stop", "-t", &timeout.to_string(), &self.0]);
        t0.elapsed()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

/// The position of the first log line containing `needle`.
fn line_of(logs: &str, needle: &str) -> usize {
    logs.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in:\n{logs}"))
}

#[test]
fn exit_codes_pass_through() {
    let Some(_serial) = ready() else { return };
    let image = Image::build("", &[]);
    for (script, want) in [
        ("exit 7", 7),
        ("exit 0", 0),
        ("kill -TERM $$", 143),
        ("kill -KILL $$", 137),
    ] {
        let out = docker(&["run", "--rm", &image.0, "--", "sh", "-c", script]);
        assert_eq!(
            out.status.code(),
            Some(want),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = docker(&["run", "--rm", &image.0, "--", "/no/such/command"]);
    assert_eq!(out.status.code(), Some(127));
}

const MULTI: &str = r#"
[rinit]
shutdown_timeout = "25s"

[service.db]
shell = true
exec = "trap 'echo db: stopping; exit 0' TERM; echo db: up; mkdir -p /tmp; touch /tmp/db.ready; while :; do sleep 1 & wait; done"
ready = "file:/tmp/db.ready"

[service.app]
after = ["db"]
shell = true
exec = "trap 'echo app: stopping; exit 0' TERM; echo app: up; while :; do sleep 1 & wait; done"
"#;

#[test]
fn docker_stop_runs_the_ordered_shutdown() {
    let Some(_serial) = ready() else { return };
    let image = Image::with_config(MULTI, "");
    let c = Container::run(&image, &[], &[]);
    c.wait_log("app | app: up");
    let took = c.stop(40);
    assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
    assert_eq!(
        c.exit_code(),
        0,
        "a requested shutdown with no main exits 0"
    );
    let logs = c.logs();
    assert!(
        logs.contains("db | db: up") && logs.contains("app | app: stopping"),
        "{logs}"
    );
    assert!(
        line_of(&logs, "stopping app with SIGTERM") < line_of(&logs, "stopping db with SIGTERM"),
        "{logs}"
    );
    assert!(
        line_of(&logs, "app exited") < line_of(&logs, "stopping db with SIGTERM"),
        "{logs}"
    );
    assert!(logs.contains("shutdown report"), "{logs}");
}

#[test]
fn a_service_ignoring_sigterm_takes_its_stop_timeout_not_dockers() {
    let Some(_serial) = ready() else { return };
    let config = r#"
[service.stubborn]
stop_timeout = "3s"
shell = true
exec = "trap '' TERM; echo stubborn: up; while :; do sleep 1; done"
"#;
    let image = Image::with_config(config, "");
    let c = Container::run(&image, &[], &[]);
    c.wait_log("stubborn: up");
    let took = c.stop(40);
    assert!(took >= Duration::from_millis(2900), "{took:?}");
    assert!(
        took < Duration::from_secs(8),
        "took Docker's timeout, not the service's: {took:?}"
    );
    let logs = c.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("stubborn") && l.contains("KILLED")),
        "{logs}"
    );
}

#[test]
fn stopsignal_sigpwr_and_sigrtmin_3_stop_the_same_way() {
    let Some(_serial) = ready() else { return };
    for signal in ["SIGPWR", "SIGRTMIN+3"] {
        let image = Image::with_config(MULTI, &format!("STOPSIGNAL {signal}"));
        let c = Container::run(&image, &[], &[]);
        c.wait_log("app | app: up");
        let took = c.stop(40);
        assert!(took < Duration::from_secs(5), "{signal}: {took:?}");
        assert_eq!(c.exit_code(), 0);
        let logs = c.logs();
        assert!(
            logs.contains(&format!("shutting down ({signal} received)")),
            "{signal}: {logs}"
        );
        assert!(
            line_of(&logs, "stopping app") < line_of(&logs, "stopping db"),
            "{logs}"
        );
    }
}

#[test]
fn docker_kill_hup_reaches_main() {
    let Some(_serial) = ready() else { return };
    let image = Image::build("", &[]);
    let script = "trap 'echo main: got HUP' HUP; echo main: up; while :; do sleep 1 & wait; done";
    let c = Container::run(&image, &[], &["--", "sh", "-c", script]);
    c.wait_log("main: up");
    docker_ok(&["kill", "-s", "HUP", &c.0]);
    c.wait_log("main: got HUP");
    c.stop(10);
}

#[test]
fn zombies_are_reaped_without_docker_init() {
    let Some(_serial) = ready() else { return };
    let image = Image::build("", &[]);
    let script = "i=0; while [ $i -lt 200 ]; do (sh -c 'exit 0' &); i=$((i+1)); done; echo main: orphans made; while :; do sleep 1 & wait; done";
    let c = Container::run(&image, &[], &["--", "sh", "-c", script]);
    c.wait_log("main: orphans made");
    let start = Instant::now();
    loop {
        let states = docker_ok(&[
            "exec",
            &c.0,
            "sh",
            "-c",
            "cat /proc/[0-9]*/stat 2>/dev/null",
        ]);
        let zombies = states
            .lines()
            .filter(|l| {
                l.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            })
            .count();
        if zombies == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{zombies} zombies left"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    c.stop(10);
}

#[test]
fn rinit_ctl_status_through_docker_exec() {
    let Some(_serial) = ready() else { return };
    let image = Image::with_config(MULTI, "");
    let c = Container::run(&image, &[], &[]);
    c.wait_log("app | app: up");
    let status = docker_ok(&["exec", &c.0, "rinit", "ctl", "status"]);
    assert!(status.starts_with("phase: running"), "{status}");
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("app ") && l.contains("running")),
        "{status}"
    );
    c.stop(10);
}

#[test]
fn with_pid_host_a_matching_host_process_survives_the_sweep() {
    let Some(_serial) = ready() else { return };
    // A process on the machine whose command line matches the container's sweep pattern.
    let tag = format!("4242.{}", std::process::id());
    let mut bystander = Command::new("sleep").arg(&tag).spawn().unwrap();
    let config = format!(
        "[rinit]\nsweep_patterns = [\"sleep {tag}\"]\n\n[service.app]\nshell = true\nexec = \"echo app: up; while :; do sleep 1 & wait; done\"\n"
    );
    let image = Image::with_config(&config, "");
    let c = Container::run(&image, &["--pid=host"], &[]);
    c.wait_log("app: up");
    c.stop(10);
    let logs = c.logs();
    let alive = bystander.try_wait().unwrap().is_none();
    let _ = bystander.kill();
    let _ = bystander.wait();
    assert!(
        alive,
        "the host process was killed by the container's sweep:\n{logs}"
    );
    assert!(
        logs.contains("outside rinit's scope are neither read nor signalled"),
        "{logs}"
    );
}

#[test]
fn user_names_resolve_without_nss_in_a_static_image() {
    let Some(_serial) = ready() else { return };
    let passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234:app:/:/bin/sh\n";
    let group = "root:x:0:\napp:x:1234:\naudio:x:29:app\n";
    let config = "[service.who]\nuser = \"app\"\noneshot = true\nexec = \"id\"\n\n[service.keep]\nexec = \"sleep 1000\"\n";
    let image = Image::build(
        "COPY passwd /etc/passwd\nCOPY group /etc/group\nCOPY rinit.toml /etc/rinit/rinit.toml",
        &[("passwd", passwd), ("group", group), ("rinit.toml", config)],
    );
    let c = Container::run(&image, &[], &[]);
    let logs = c.wait_log("who | uid=");
    let line = logs.lines().find(|l| l.starts_with("who | uid=")).unwrap();
    assert!(line.contains("uid=1234(app) gid=1234(app)"), "{line}");
    assert!(line.contains("29(audio)"), "supplementary groups: {line}");
    c.stop(10);
}

// ----- containers as people run them (interactive, non-root, read-only, health, --init)

/// Services that write only below /tmp, for non-root and read-only containers.
const TMP_ONLY: &str = r#"
[rinit]
shutdown_timeout = "25s"

[service.db]
shell = true
exec = "trap 'echo db: stopping; exit 0' TERM; echo db: up; touch /tmp/db.ready; while :; do sleep 1 & wait; done"
ready = "file:/tmp/db.ready"

[service.app]
after = ["db"]
shell = true
exec = "trap 'echo app: stopping; exit 0' TERM; echo app: up; while :; do sleep 1 & wait; done"
"#;

/// A world-writable /tmp in the image, as every distribution has.
const WITH_TMP: &str = "RUN [\"/bin/mkdir\", \"-m\", \"1777\", \"/tmp\"]";

/// The ordered stop, seen in the logs: app stopped (and gone) before db got its signal.
fn assert_ordered_stop(logs: &str) {
    assert!(
        line_of(logs, "app exited") < line_of(logs, "stopping db with SIGTERM"),
        "{logs}"
    );
    assert!(logs.contains("shutdown report"), "{logs}");
    assert!(!logs.contains("KILLED"), "{logs}");
}

/// What a tmux pane shows, history included.
fn pane(session: &str) -> String {
    let out = Command::new("tmux")
        .args(["capture-pane", "-p", "-J", "-S", "-2000", "-t", session])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_pane(session: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let text = pane(session);
        if ok(&text) {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "waiting for {what}; the terminal shows:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn keys(session: &str, keys: &[&str]) {
    let status = Command::new("tmux")
        .args(["send-keys", "-t", session])
        .args(keys)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Kills the tmux session on drop.
struct Tmux(String);

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

/// Is a process with exactly this command line running in the container?
fn running_in(container: &str, cmdline: &str) -> bool {
    // docker top needs the PID column; the command line is the rest of each row.
    let out = docker(&["top", container, "-o", "pid,args"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().split_once(char::is_whitespace))
        .any(|(_, args)| args.trim() == cmdline)
}

#[test]
fn docker_run_it_gives_the_shell_the_terminal_like_tini() {
    let Some(_serial) = ready() else { return };
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("RINIT_REQUIRE_DOCKER").is_none(),
            "tmux is needed to drive docker run -it"
        );
        return;
    }
    let image = Image::with_config(MULTI, "");
    let name = format!("{}-it", image.0);
    // Dropped last-but-one: the container goes even if the test fails midway.
    let _container = Container(name.clone());
    let session = Tmux(format!("{}-tmux", image.0));
    let rc = std::env::temp_dir().join(format!("{}.rc", image.0));
    let _ = std::fs::remove_file(&rc);
    let line = format!(
        "docker run -it --rm --name {name} {} -- sh; echo rc=$? > {}; sleep 60",
        image.0,
        rc.display()
    );
    let status = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session.0,
            "-x",
            "200",
            "-y",
            "50",
            &line,
        ])
        .status()
        .unwrap();
    assert!(status.success());
    // Service lines may land on the prompt's line: look for the prompt anywhere.
    wait_pane(&session.0, "the shell's prompt", |t| t.contains("/ # "));
    keys(&session.0, &["sleep 4242", "Enter"]);
    let start = Instant::now();
    while !running_in(&name, "sleep 4242") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            pane(&session.0)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Ctrl+C reaches the shell's foreground job, not rinit.
    keys(&session.0, &["C-c"]);
    let start = Instant::now();
    while running_in(&name, "sleep 4242") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            pane(&session.0)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    keys(&session.0, &["echo alive", "Enter"]);
    let text = wait_pane(&session.0, "alive", |t| {
        t.lines().any(|l| l.trim() == "alive")
    });
    assert!(!text.contains("shutting down"), "{text}");
    assert!(!text.contains("can't access tty"), "{text}");
    // The configured services kept running through the Ctrl+C.
    let status = docker_ok(&["exec", &name, "rinit", "ctl", "status"]);
    for svc in ["db ", "app "] {
        assert!(
            status
                .lines()
                .any(|l| l.starts_with(svc) && l.contains("running")),
            "{status}"
        );
    }
    keys(&session.0, &["exit 3", "Enter"]);
    let start = Instant::now();
    let code = loop {
        if let Ok(text) = std::fs::read_to_string(&rc) {
            break text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{}",
            pane(&session.0)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = std::fs::remove_file(&rc);
    assert_eq!(code.trim(), "rc=3", "{}", pane(&session.0));
    // The services ran until the shell's exit and were then stopped in order.
    let text = pane(&session.0);
    assert!(
        text.contains("shutting down (critical service main failed)"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(" app ") && l.contains("stopped")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(" db ") && l.contains("stopped")),
        "{text}"
    );
}

#[test]
fn a_non_root_container_runs_its_services_and_answers_ctl() {
    let Some(_serial) = ready() else { return };
    let config =
        format!("{TMP_ONLY}\n[service.needs_root]\nuser = \"0\"\nexec = [\"sleep\", \"1000\"]\n");
    let image = Image::with_config(&config, WITH_TMP);
    let c = Container::run(&image, &["--user", "1234:1234"], &[]);
    c.wait_log("app | app: up");
    // Docker copies stdout and stderr apart: wait for the stderr line too (the control
    // socket's line comes before it on stderr).
    let logs = c.wait_log("user = \"0\" needs rinit to run as root");
    let first = logs.lines().find(|l| l.starts_with("rinit:")).unwrap_or("");
    assert!(
        first.contains("control socket: /tmp/rinit-1234/rinit.sock"),
        "the first line says where: {logs}"
    );
    assert!(
        logs.contains("needs_root failed")
            && logs.contains("user = \"0\" needs rinit to run as root"),
        "{logs}"
    );
    let status = docker_ok(&["exec", &c.0, "rinit", "ctl", "status"]);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("app ") && l.contains("running")),
        "{status}"
    );
    c.stop(40);
    assert_eq!(c.exit_code(), 0);
    assert_ordered_stop(&c.logs());
    // `rinit check` run as that user says the same, with the table's position.
    let out = docker(&["run", "--rm", "--user", "1234:1234", &image.0, "check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/etc/rinit/rinit.toml:")
            && err.contains("service \"needs_root\": user = \"0\" needs rinit to run as root"),
        "{err}"
    );
}

#[test]
fn a_read_only_root_filesystem_with_a_tmpfs_works() {
    let Some(_serial) = ready() else { return };
    let image = Image::with_config(TMP_ONLY, "");
    let c = Container::run(&image, &["--read-only", "--tmpfs", "/tmp"], &[]);
    c.wait_log("app | app: up");
    // On stderr, which Docker copies apart from stdout.
    c.wait_log("control socket: /tmp/rinit-0/rinit.sock");
    let status = docker_ok(&["exec", &c.0, "rinit", "ctl", "status"]);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("db ") && l.contains("running")),
        "{status}"
    );
    c.stop(40);
    assert_eq!(c.exit_code(), 0);
    assert_ordered_stop(&c.logs());
}

fn health_of(container: &str) -> String {
    docker_ok(&["inspect", "-f", "{{.State.Health.Status}}", container])
        .trim()
        .to_string()
}

#[test]
fn docker_healthcheck_reads_rinit_ctl_health() {
    let Some(_serial) = ready() else { return };
    let config = format!(
        "{TMP_ONLY}\n[service.doomed]\nshell = true\nexec = \"echo doomed: up; while [ ! -e /tmp/fail ]; do sleep 0.2; done; exit 1\"\n"
    );
    let extra = format!(
        "{WITH_TMP}\nHEALTHCHECK --interval=1s --timeout=5s --retries=1 CMD [\"/sbin/rinit\", \"ctl\", \"health\"]"
    );
    let image = Image::with_config(&config, &extra);
    let c = Container::run(&image, &[], &[]);
    c.wait_log("doomed | doomed: up");
    let start = Instant::now();
    while health_of(&c.0) != "healthy" {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", c.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    docker_ok(&["exec", &c.0, "touch", "/tmp/fail"]);
    let start = Instant::now();
    while health_of(&c.0) != "unhealthy" {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", c.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = docker(&["exec", &c.0, "rinit", "ctl", "health"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.trim() == "unhealthy: doomed failed (exit code 1)",
        "{text}"
    );
    c.stop(40);
}

#[test]
fn under_docker_init_rinit_is_a_subreaper_and_stops_in_order() {
    let Some(_serial) = ready() else { return };
    let image = Image::with_config(MULTI, "");
    let c = Container::run(&image, &["--init"], &[]);
    c.wait_log("app | app: up");
    let top = docker_ok(&["top", &c.0, "-o", "pid,args"]);
    assert!(top.contains("docker-init"), "{top}");
    c.stop(40);
    assert_eq!(c.exit_code(), 0);
    assert_ordered_stop(&c.logs());
}

/// The worked example of a multi-service image: Debian 12 (debootstrap + docker import,
/// no registry) with PostgreSQL and an app under rinit. `stack/build.sh` builds it
/// (cached in target/stack/), `stack/test.sh` checks it: the app answers, `docker stop
/// -t 40` exits 0 in order with PostgreSQL shut down cleanly, the next `docker start`
/// needs no recovery, `docker kill -s SIGPWR` stops it the same way.
#[test]
fn the_debian_postgres_stack_image_stops_clean_and_restarts_without_recovery() {
    let Some(_serial) = ready() else { return };
    if Command::new("debootstrap")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("RINIT_REQUIRE_DOCKER").is_none(),
            "debootstrap (Debian's package) is needed to build the stack image"
        );
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let build = Command::new("bash")
        .args(["stack/build.sh", STATIC])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "stack/build.sh:\n{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    let test = Command::new("bash")
        .args(["stack/test.sh", "rinit-stack"])
        .current_dir(root)
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
    assert!(test.status.success(), "stack/test.sh:\n{out}");
    assert!(out.contains("PostgreSQL shut down cleanly"), "{out}");
    assert!(
        out.contains("PostgreSQL started from a clean shutdown"),
        "{out}"
    );
}
