//! `rinit import supervisord` (issue 16): real supervisord configurations from public
//! projects (tests/fixtures/supervisord/, each naming its source) convert, and the output
//! passes `rinit check`; priorities become order; and an imported configuration runs
//! under rinit (PID 1 of its own PID namespace, tests/common) with supervisord's order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/supervisord");
const LIMIT: Duration = Duration::from_secs(20);

/// `rinit import supervisord FILES` run in `dir`: (status, stdout, stderr).
fn import(dir: &str, files: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(RINIT)
        .args(["import", "supervisord"])
        .args(files)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// `rinit check` on `toml`: (status, stdout + stderr).
fn check(tmp: &TempDir, toml: &str, env: &[(&str, &str)]) -> (i32, String) {
    let path = tmp.path("imported.toml");
    std::fs::write(&path, toml).unwrap();
    let out = Command::new(RINIT)
        .args(["check", "-c", &path])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The lines of `rinit check`'s "start waves:" list.
fn start_waves(check_output: &str) -> Vec<String> {
    check_output
        .lines()
        .skip_while(|l| *l != "start waves:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim().to_string())
        .collect()
}

/// A fixture, the environment its `%(ENV_X)s` need, and the services `rinit check` counts.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], usize);

#[test]
fn every_real_configuration_converts_and_passes_check() {
    let tmp = TempDir::new("import-fixtures");
    let cases: &[Case] = &[
        ("django-paperless-ngx.conf", &[], 5),
        ("django-vinodpandey.conf", &[], 5),
        (
            "laravel-worker-blog-docker.conf",
            &[
                ("APP_ENV", "production"),
                ("REMOTE_SRC", "/var/www"),
                ("USER_NAME", "app"),
            ],
            6,
        ),
        ("laravel-worker-jincor.conf", &[], 2),
        ("laravel-worker-laravel-docs.conf", &[], 8),
        ("nginx-php-fpm-richarvey.conf", &[], 2),
        ("nginx-php-fpm-trafex.conf", &[], 2),
        ("include-demo/supervisord.conf", &[], 9),
        ("supervisord-sample.conf", &[], 0),
        ("supervisord-docs-include.conf", &[], 0),
        (
            "supervisord-docs-env.conf",
            &[
                ("CAT_NUMPROCS", "2"),
                ("CAT_OPTZ", "z"),
                ("CAT_DIR", "/tmp"),
                ("USER", "root"),
            ],
            2,
        ),
    ];
    for (file, env, services) in cases {
        let (code, toml, err) = import(FIXTURES, &[file], env);
        assert_eq!(code, 0, "{file}: {err}");
        let (code, out) = check(&tmp, &toml, env);
        assert_eq!(code, 0, "{file}: {out}\n{toml}");
        let want = format!("configuration OK: {services} service(s)");
        assert!(out.contains(&want), "{file}: {out}");
    }
}

#[test]
fn supervisords_documented_examples_convert_once_their_bare_key_has_a_value() {
    // As documented, two lines are a bare `stderr_logfile_backups`: supervisord's parser
    // refuses the file, and so does the importer, naming the line.
    let (code, _, err) = import(FIXTURES, &["supervisord-docs-examples.conf"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("supervisord-docs-examples.conf:93: expected [section] or key = value"),
        "{err}"
    );
    let tmp = TempDir::new("import-docs");
    let text =
        std::fs::read_to_string(format!("{FIXTURES}/supervisord-docs-examples.conf")).unwrap();
    let fixed = text.replace(
        "\nstderr_logfile_backups\n",
        "\nstderr_logfile_backups=10\n",
    );
    std::fs::write(tmp.path("docs.conf"), fixed).unwrap();
    let (code, toml, err) = import(tmp.0.to_str().unwrap(), &["docs.conf"], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, out) = check(&tmp, &toml, &[]);
    assert_eq!(code, 0, "{out}\n{toml}");
    for expected in [
        "success_codes = [0, 2]",
        "log_max_size = \"1M\"",
        "env = { KEY1 = \"value1\", KEY2 = \"value2\", A = \"1\", B = \"2\" }",
        "not mapped: event listeners are not supported",
        "not mapped: rinit does not open sockets for services",
        "not mapped: rinit has no groups",
    ] {
        assert!(toml.contains(expected), "{expected}:\n{toml}");
    }
}

#[test]
fn priorities_become_the_start_order_and_its_reverse_the_stop_order() {
    let tmp = TempDir::new("import-order");
    let (_, toml, _) = import(FIXTURES, &["django-paperless-ngx.conf"], &[]);
    let (_, out) = check(&tmp, &toml, &[]);
    assert_eq!(
        start_waves(&out),
        [
            "1: gunicorn",
            "2: celery",
            "3: celery-beat",
            "4: consumer",
            "5: celery-flower"
        ],
        "{out}"
    );
    let (_, toml, _) = import(FIXTURES, &["nginx-php-fpm-richarvey.conf"], &[]);
    let (_, out) = check(&tmp, &toml, &[]);
    assert_eq!(start_waves(&out), ["1: php-fpm", "2: nginx"], "{out}");
    // Laravel workers: numprocs=8 is eight instances; the name pattern is rinit's.
    let (_, toml, _) = import(FIXTURES, &["laravel-worker-laravel-docs.conf"], &[]);
    assert!(toml.contains("instances = 8"), "{toml}");
    assert!(
        toml.contains("note: rinit names the instances laravel-worker@1 … laravel-worker@8"),
        "{toml}"
    );
}

#[test]
fn an_imported_configuration_runs_in_supervisords_order() {
    let dir = TempDir::new("import-run");
    let probe = probe();
    let conf = format!(
        "[supervisord]\nnodaemon=true\n\n\
         [program:db]\ncommand={probe} --name db --log %(here)s/events\npriority=1\nstopsignal=INT\n\n\
         [program:app]\ncommand={probe} --name app --log %(here)s/events\npriority=10\n\n\
         [program:worker]\ncommand={probe} --name worker-%(process_num)d --log %(here)s/events\n\
         process_name=%(program_name)s_%(process_num)02d\nnumprocs=3\nnumprocs_start=1\npriority=20\nstopasgroup=true\n\n\
         [program:manual]\ncommand={probe} --name manual --log %(here)s/events\nautostart=false\npriority=5\n"
    );
    std::fs::write(dir.path("supervisord.conf"), conf).unwrap();
    let (code, toml, err) = import(dir.0.to_str().unwrap(), &["supervisord.conf"], &[]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(dir.path("rinit.toml"), &toml).unwrap();
    let mut r = Rinit::start(&["-c", &dir.path("rinit.toml")], Opts::default());
    let log = dir.path("events");
    for name in ["db", "app", "worker-1", "worker-2", "worker-3"] {
        wait_contains(&log, &format!("{name} START"), LIMIT);
    }
    let (_, status, _) = r.ctl(&["status"]);
    let line = status
        .lines()
        .find(|l| l.starts_with("manual "))
        .unwrap_or_default();
    assert!(line.contains("disabled"), "autostart=false: {status}");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait(LIMIT), 0, "{}", r.stderr());
    // Started in priority order (rinit's own log, in spawn order)...
    let stderr = r.stderr();
    let started = |name: &str| {
        stderr
            .find(&format!("started {name} (pid"))
            .unwrap_or_else(|| panic!("{name}: {stderr}"))
    };
    assert!(started("db") < started("app"), "{stderr}");
    for n in 1..=3 {
        assert!(started("app") < started(&format!("worker@{n}")), "{stderr}");
    }
    // ...stopped in reverse: every worker (SIGTERM, to its group) before app, app before
    // db, which gets its stopsignal.
    let ev = events(&log);
    let first_sig = |name: &str| {
        ev.iter()
            .filter(|e| e.name == name && e.event == "SIG" && e.sig != libc::SIGCHLD)
            .map(|e| (e.ns, e.sig))
            .next()
            .unwrap_or_else(|| panic!("{name} got no signal: {ev:?}"))
    };
    let (app_at, app_sig) = first_sig("app");
    let (db_at, db_sig) = first_sig("db");
    assert_eq!((app_sig, db_sig), (libc::SIGTERM, libc::SIGINT));
    for n in 1..=3 {
        let (at, sig) = first_sig(&format!("worker-{n}"));
        assert_eq!(sig, libc::SIGTERM);
        assert!(at < app_at, "worker-{n} stops before app: {ev:?}");
    }
    assert!(app_at < db_at, "app stops before db: {ev:?}");
    assert!(!ev.iter().any(|e| e.name == "manual"), "{ev:?}");
}
