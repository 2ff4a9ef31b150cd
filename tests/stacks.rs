//! The shipped example stacks, run with Debian 12's real daemons: nginx in front of
//! PHP-FPM (configs/nginx-php.toml), PostgreSQL with a migration and an application
//! (configs/postgres-app.toml), Redis (configs/redis.toml).
//!
//! Each test reads the shipped configuration and changes only paths (data directories,
//! sockets, configuration files in a temp dir) — ports stay, because rinit runs as PID 1
//! of its own PID *and* network namespace. The test talks to the services from a thread
//! that joins that network namespace (`setns`). Needs root and Debian's `nginx` (or
//! `nginx-light`), `php8.2-fpm`, `postgresql-15` and `redis-server`; without them the
//! tests are skipped, unless `RINIT_REQUIRE_STACKS=1` (as in CI) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

use common::*;

const LONG: Duration = Duration::from_secs(60);

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// Are these programs installed (and are we root)? Else skip — or fail in CI.
fn have(programs: &[&str]) -> bool {
    let missing: Vec<&&str> = programs
        .iter()
        .filter(|p| !std::path::Path::new(p).exists())
        .collect();
    if missing.is_empty() && is_root() {
        return true;
    }
    assert!(
        std::env::var_os("RINIT_REQUIRE_STACKS").is_none(),
        "stack tests need root and {missing:?}"
    );
    eprintln!("skipped: needs root and {missing:?}");
    false
}

/// A shipped configuration with `(from, to)` replacements, each of which must apply.
fn shipped(name: &str, changes: &[(&str, String)]) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/").to_string() + name;
    let mut text = std::fs::read_to_string(path).unwrap();
    for (from, to) in changes {
        assert!(text.contains(from), "{name} no longer contains {from:?}");
        text = text.replace(from, to);
    }
    text
}

/// Run `f` on a thread inside the network namespace of `pid` (a host pid).
fn in_netns<T: Send + 'static>(pid: i32, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
    std::thread::spawn(move || {
        assert_eq!(
            unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) },
            0
        );
        f()
    })
    .join()
    .unwrap()
}

/// One request/response over TCP on 127.0.0.1:`port` in rinit's network namespace.
fn exchange(r: &Rinit, port: u16, request: &str) -> String {
    let request = request.to_string();
    in_netns(r.host_pid(), move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        reply
    })
}

fn http_get(r: &Rinit, port: u16, path: &str) -> String {
    exchange(
        r,
        port,
        &format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n"),
    )
}

/// The index of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"))
}

/// Nothing was left for SIGKILL or the sweep: every process stopped by itself.
fn assert_clean_stop(stderr: &str) {
    assert!(stderr.contains("shutdown report"), "{stderr}");
    assert!(!stderr.contains("KILLED"), "{stderr}");
    assert!(!stderr.contains("SIGKILL"), "{stderr}");
    assert!(!stderr.contains("  sweep    pid"), "{stderr}");
}

/// `chown` a path to a system user (the daemons' data directories).
fn chown(path: &str, user: &str) {
    let status = Command::new("chown")
        .args(["-R", &format!("{user}:{user}"), path])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn nginx_in_front_of_php_fpm_serves_and_stops_gracefully_in_order() {
    if !have(&["/usr/sbin/nginx", "/usr/sbin/php-fpm8.2"]) {
        return;
    }
    let dir = TempDir::new("nginx-php");
    let d = dir.0.display().to_string();
    std::fs::create_dir_all(dir.0.join("www")).unwrap();
    std::fs::write(
        dir.0.join("www/index.php"),
        "<?php echo 'hello from php ' . PHP_VERSION . \"\\n\";\n",
    )
    .unwrap();
    std::fs::write(
        dir.0.join("php-fpm.conf"),
        format!(
            "[global]\npid = {d}/php/php-fpm.pid\nerror_log = {d}/php-fpm.log\nlog_level = notice\n\n\
             [www]\nuser = www-data\ngroup = www-data\nlisten = {d}/php/php8.2-fpm.sock\n\
             listen.owner = www-data\nlisten.group = www-data\npm = static\npm.max_children = 2\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.0.join("nginx.conf"),
        format!(
            "user www-data;\nworker_processes 2;\npid {d}/nginx.pid;\n\
             error_log {d}/nginx-error.log notice;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log {d}/nginx-access.log;\n  server {{\n    listen 80;\n    root {d}/www;\n\
             \x20   location ~ \\.php$ {{\n      include /etc/nginx/fastcgi_params;\n\
             \x20     fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n\
             \x20     fastcgi_pass unix:{d}/php/php8.2-fpm.sock;\n    }}\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let config = shipped(
        "nginx-php.toml",
        &[
            ("/run/rinit.sock", format!("{d}/rinit.sock")),
            ("/run/php", format!("{d}/php")),
            ("/etc/php/8.2/fpm/php-fpm.conf", format!("{d}/php-fpm.conf")),
            (
                "/usr/sbin/nginx -g",
                format!("/usr/sbin/nginx -c {d}/nginx.conf -g"),
            ),
        ],
    );
    let path = write_config(&dir, &config);
    let mut r = Rinit::start(
        &["-c", &path],
        Opts {
            net: true,
            ..Opts::default()
        },
    );
    wait_contains(&r.dir.path("stderr"), "nginx is ready", LONG);
    let page = http_get(&r, 80, "/index.php");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("hello from php 8.2"), "{page}");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LONG), 0, "{}", r.stderr());
    let stderr = r.stderr();
    // nginx (the dependent) is gone before PHP-FPM's master gets its SIGQUIT.
    assert!(
        line_of(&stderr, "nginx exited") < line_of(&stderr, "stopping php-fpm with SIGQUIT"),
        "{stderr}"
    );
    assert_clean_stop(&stderr);
    let nginx_log = std::fs::read_to_string(dir.0.join("nginx-error.log")).unwrap();
    assert!(
        nginx_log.contains("gracefully shutting down"),
        "{nginx_log}"
    );
    assert!(nginx_log.contains("exit"), "{nginx_log}");
    let fpm_log = std::fs::read_to_string(dir.0.join("php-fpm.log")).unwrap();
    assert!(fpm_log.contains("Finishing"), "{fpm_log}");
    assert!(fpm_log.contains("exiting, bye-bye"), "{fpm_log}");
}

/// The application the PostgreSQL example runs as /usr/local/bin/app: `migrate` adds a
/// row, `serve --port N` answers every GET with the number of rows.
fn write_app(dir: &TempDir) -> String {
    let d = dir.0.display();
    let path = dir.path("app");
    std::fs::write(
        &path,
        format!(
            r#"#!/bin/sh
set -e
psql() {{ {PG_BIN}/psql -h {d}/pgrun -U postgres -d postgres -v ON_ERROR_STOP=1 -tA "$@"; }}
case "$1" in
migrate)
    psql -c "CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY, at timestamptz DEFAULT now())"
    psql -c "INSERT INTO visits DEFAULT VALUES"
    echo "migrated"
    ;;
serve)
    exec /usr/bin/python3 -c '
import http.server, signal, subprocess, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        n = subprocess.run(["{PG_BIN}/psql", "-h", "{d}/pgrun", "-U", "postgres", "-d", "postgres",
                            "-tA", "-c", "SELECT count(*) FROM visits"],
                           capture_output=True, text=True, check=True).stdout.strip()
        body = ("rows: " + n + "\n").encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[3])), H).serve_forever()
' "$@"
    ;;
esac
"#
        ),
    )
    .unwrap();
    let status = Command::new("chmod").args(["755", &path]).status().unwrap();
    assert!(status.success());
    path
}

/// Run the PostgreSQL stack once: ready, a page through the app, SIGTERM; return
/// (the page, rinit's stdout, its stderr).
fn postgres_run(dir: &TempDir, config: &str) -> (String, String, String) {
    let path = write_config(dir, config);
    let mut r = Rinit::start(
        &["-c", &path],
        Opts {
            net: true,
            ..Opts::default()
        },
    );
    wait_contains(&r.dir.path("stderr"), "app is ready", LONG);
    let page = http_get(&r, 8080, "/");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LONG), 0, "{}", r.stderr());
    (page, r.stdout(), r.stderr())
}

#[test]
fn postgres_migrates_serves_and_shuts_down_clean() {
    let initdb = format!("{PG_BIN}/initdb");
    if !have(&[&initdb, "/usr/bin/python3", "/usr/bin/setpriv"]) {
        return;
    }
    let dir = TempDir::new("postgres");
    let d = dir.0.display().to_string();
    std::fs::create_dir_all(dir.0.join("pg")).unwrap();
    chown(&dir.path("pg"), "postgres");
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            "postgres",
            "--regid",
            "postgres",
            "--init-groups",
        ])
        .args([&initdb, "-D", &format!("{d}/pg/data"), "-U", "postgres"])
        .args(["--auth=trust", "--no-sync"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut conf = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.0.join("pg/data/postgresql.conf"))
        .unwrap();
    writeln!(
        conf,
        "unix_socket_directories = '{d}/pgrun'\nlisten_addresses = '127.0.0.1'\nlogging_collector = off"
    )
    .unwrap();
    write_app(&dir);
    let config = shipped(
        "postgres-app.toml",
        &[
            ("/run/postgresql", format!("{d}/pgrun")),
            ("/var/lib/postgresql/15/main", format!("{d}/pg/data")),
            (
                "config_file=/etc/postgresql/15/main/postgresql.conf",
                format!("config_file={d}/pg/data/postgresql.conf"),
            ),
            ("/usr/local/bin/app", format!("{d}/app")),
            ("/srv/app", d.clone()),
            // This machine has no `app` user; the database's own user runs the app.
            ("user = \"app\"", "user = \"postgres\"".to_string()),
        ],
    );
    let (page, stdout, stderr) = postgres_run(&dir, &config);
    assert!(page.contains("rows: 1"), "{page}\n{stderr}");
    // notify: postgres was ready only once it accepted connections, so the migration
    // worked the first time.
    assert!(stdout.contains("migrate | migrated"), "{stdout}");
    assert!(!stderr.contains("migrate: restarting"), "{stderr}");
    assert!(
        line_of(&stderr, "app exited") < line_of(&stderr, "stopping postgres with SIGINT"),
        "{stderr}"
    );
    assert!(stdout.contains("database system is shut down"), "{stdout}");
    assert_clean_stop(&stderr);
    // The same data directory again: a clean start, no recovery.
    let (page, stdout, stderr) = postgres_run(&dir, &config);
    assert!(page.contains("rows: 2"), "{page}\n{stderr}");
    assert!(
        stdout.contains("database system was shut down at"),
        "{stdout}"
    );
    assert!(!stdout.contains("not properly shut down"), "{stdout}");
    assert!(!stdout.contains("automatic recovery"), "{stdout}");
    assert_clean_stop(&stderr);
}

#[test]
fn redis_saves_its_dataset_on_sigterm() {
    if !have(&["/usr/bin/redis-server"]) {
        return;
    }
    let dir = TempDir::new("redis");
    let d = dir.0.display().to_string();
    std::fs::create_dir_all(dir.0.join("data")).unwrap();
    chown(&dir.path("data"), "redis");
    std::fs::write(
        dir.0.join("redis.conf"),
        format!(
            "bind 127.0.0.1\nport 6379\ndir {d}/data\npidfile {d}/redis-run/redis-server.pid\n\
             save 3600 1\nappendonly no\n"
        ),
    )
    .unwrap();
    let config = shipped(
        "redis.toml",
        &[
            ("/etc/redis/redis.conf", format!("{d}/redis.conf")),
            ("/run/redis", format!("{d}/redis-run")),
        ],
    );
    let path = write_config(&dir, &config);
    let mut r = Rinit::start(
        &["-c", &path],
        Opts {
            net: true,
            ..Opts::default()
        },
    );
    wait_contains(&r.dir.path("stderr"), "redis is ready", LONG);
    let reply = exchange(&r, 6379, "SET greeting hello\r\nQUIT\r\n");
    assert!(reply.starts_with("+OK"), "{reply}");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LONG), 0, "{}", r.stderr());
    let stdout = r.stdout();
    assert!(stdout.contains("DB saved on disk"), "{stdout}");
    let rdb = std::fs::read(dir.0.join("data/dump.rdb")).unwrap();
    assert!(rdb.starts_with(b"REDIS"), "an RDB file");
    assert!(
        rdb.windows(b"greeting".len()).any(|w| w == b"greeting"),
        "the key was saved"
    );
    assert_clean_stop(&r.stderr());
}
