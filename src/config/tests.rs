//! Unit tests of the configuration: every key, every default, every error with its
//! position, several files, `main`, and the shipped examples.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Value;

use super::load::{line_col, load_files};
use super::values::{duration_value, ready_value};
use super::*;

fn load_ok(text: &str) -> Loaded {
    match load_str("t.toml", text) {
        Ok(loaded) => loaded,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// Asserts that `text` fails with `expected` = "LINE:COL: start of the message", in
/// file t.toml.
fn assert_error(text: &str, expected: &str) {
    let e = load_str("t.toml", text).unwrap_err();
    assert_eq!(e.file, PathBuf::from("t.toml"));
    let got = format!("{}:{}: {}", e.line, e.col, e.message);
    assert!(
        got.starts_with(expected),
        "got {got:?}, expected {expected:?}"
    );
}

/// A service `a` with an exec, then `keys` from line 3 on.
fn service_with(keys: &str) -> String {
    format!("[service.a]\nexec = \"a\"\n{keys}\n")
}

fn os_strings(items: &[&str]) -> Vec<OsString> {
    items.iter().map(OsString::from).collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// --- whole configurations ---------------------------------------------------------

#[test]
fn defaults() {
    let loaded = load_ok("[service.web]\nexec = \"nginx -g 'daemon off;'\"\n");
    assert!(loaded.warnings.is_empty());
    let c = &loaded.config;
    assert_eq!(c.rinit, Global::default());
    assert_eq!(c.rinit.shutdown_timeout, Duration::from_secs(30));
    let web = c.service("web").unwrap();
    let mut expected = ServiceConfig::new(
        "web",
        Origin {
            file: "t.toml".into(),
            line: 1,
            col: 1,
        },
    );
    expected.exec = os_strings(&["nginx", "-g", "daemon off;"]);
    assert_eq!(*web, expected);
    assert_eq!(web.restart, Restart::Never);
    assert_eq!(web.stop_signal, libc::SIGTERM);
    assert_eq!(web.stop_timeout, Duration::from_secs(10));
    assert_eq!(web.ready_timeout, Duration::from_secs(60));
    assert_eq!(web.success_codes, vec![0]);
    assert_eq!(web.log, LogTarget::Prefix);
    assert_eq!(web.stop_mode, StopMode::Tree);
}

#[test]
fn every_key() {
    let text = r#"
[rinit]
shutdown_timeout = "20s"
sweep_ports = [8080, "udp/5353", "tcp/80"]
sweep_patterns = ["stray-worker"]
control_socket = "/run/rinit.sock"
hostname = "box"

[service.migrate]
exec = ["migrate", "up"]
oneshot = true
restart = "on-failure"

[service.db]
exec = ["postgres", "-D", "/data"]
after = ["migrate"]
restart = "always"
critical = true
ready = "tcp:5432"
ready_timeout = "90s"
stop_signal = "SIGINT"
stop_timeout = "20s"
stop_mode = "group"
stop_exec = "pg_ctl stop -m fast"
stop_delay = "500ms"
success_codes = [0, 143]
ports = [5432, "udp/9"]
patterns = ["postgres: "]
user = "postgres"
group = 999
workdir = "/data"
env = { PGDATA = "/data", B = 2, A = true }
log = "/var/log/db.log"
"#;
    let loaded = load_ok(text);
    let c = loaded.config;
    assert_eq!(c.rinit.shutdown_timeout, Duration::from_secs(20));
    assert_eq!(
        c.rinit.sweep_ports,
        vec![
            PortSpec {
                proto: Proto::Tcp,
                port: 8080
            },
            PortSpec {
                proto: Proto::Udp,
                port: 5353
            },
            PortSpec {
                proto: Proto::Tcp,
                port: 80
            },
        ]
    );
    assert_eq!(c.rinit.sweep_patterns, strings(&["stray-worker"]));
    assert_eq!(
        c.rinit.control_socket,
        Some(PathBuf::from("/run/rinit.sock"))
    );
    assert_eq!(c.rinit.hostname.as_deref(), Some("box"));
    let names: Vec<&str> = c.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["migrate", "db"]);
    let migrate = &c.services[0];
    assert!(migrate.oneshot);
    assert_eq!(migrate.restart, Restart::OnFailure);
    let db = &c.services[1];
    assert_eq!(
        db.origin,
        Origin {
            file: "t.toml".into(),
            line: 14,
            col: 1
        }
    );
    assert_eq!(db.after, strings(&["migrate"]));
    assert_eq!(db.restart, Restart::Always);
    assert!(db.critical);
    assert_eq!(
        db.ready,
        Some(Ready::Tcp {
            host: "127.0.0.1".into(),
            port: 5432
        })
    );
    assert_eq!(db.ready_timeout, Duration::from_secs(90));
    assert_eq!(db.stop_signal, libc::SIGINT);
    assert_eq!(db.stop_timeout, Duration::from_secs(20));
    assert_eq!(db.stop_mode, StopMode::Group);
    assert_eq!(
        db.stop_exec,
        Some(strings(&["pg_ctl", "stop", "-m", "fast"]))
    );
    assert_eq!(db.stop_delay, Duration::from_millis(500));
    assert_eq!(db.success_codes, vec![0, 143]);
    assert_eq!(db.ports.len(), 2);
    assert_eq!(db.patterns, strings(&["postgres: "]));
    assert_eq!(db.user.as_deref(), Some("postgres"));
    assert_eq!(db.group.as_deref(), Some("999"));
    assert_eq!(db.workdir, Some(PathBuf::from("/data")));
    assert_eq!(
        db.env,
        vec![
            ("A".to_string(), "true".to_string()),
            ("B".to_string(), "2".to_string()),
            ("PGDATA".to_string(), "/data".to_string()),
        ]
    );
    assert_eq!(db.log, LogTarget::File("/var/log/db.log".into()));
}

#[test]
fn services_keep_their_order_of_appearance() {
    let text = "\
[service.zeta]
exec = \"z\"
[service.alpha]
exec = \"a\"
[service.mid]
exec = \"m\"
";
    let c = load_ok(text).config;
    let names: Vec<&str> = c.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha", "mid"]);
}

#[test]
fn shell_and_integer_forms() {
    let text = r#"
[service.a]
exec = "echo $HOME && sleep 1"
shell = true
stop_exec = "kill -TERM $(cat /run/a.pid)"
stop_signal = 2
stop_timeout = 5
ready = "exec:test -e /tmp/a"
"#;
    let a = load_ok(text).config.services.remove(0);
    assert_eq!(
        a.exec,
        os_strings(&["/bin/sh", "-c", "echo $HOME && sleep 1"])
    );
    assert_eq!(
        a.stop_exec,
        Some(strings(&["/bin/sh", "-c", "kill -TERM $(cat /run/a.pid)"]))
    );
    assert_eq!(a.stop_signal, 2);
    assert_eq!(a.stop_timeout, Duration::from_secs(5));
    assert_eq!(
        a.ready,
        Some(Ready::Exec(strings(&["/bin/sh", "-c", "test -e /tmp/a"])))
    );
}

#[test]
fn ready_forms() {
    assert_eq!(ready_value("notify", false), Ok(Ready::Notify));
    assert_eq!(
        ready_value("tcp:8080", false),
        Ok(Ready::Tcp {
            host: "127.0.0.1".into(),
            port: 8080
        })
    );
    assert_eq!(
        ready_value("tcp:db:5432", false),
        Ok(Ready::Tcp {
            host: "db".into(),
            port: 5432
        })
    );
    assert_eq!(
        ready_value("tcp:[::1]:80", false),
        Ok(Ready::Tcp {
            host: "::1".into(),
            port: 80
        })
    );
    assert_eq!(
        ready_value("tcp:::1:80", false),
        Ok(Ready::Tcp {
            host: "::1".into(),
            port: 80
        })
    );
    assert_eq!(
        ready_value("file:/run/x", false),
        Ok(Ready::File("/run/x".into()))
    );
    assert_eq!(
        ready_value("exec:pg_isready -q", false),
        Ok(Ready::Exec(strings(&["pg_isready", "-q"])))
    );
    assert!(ready_value("tcp:0", false).is_err());
    assert!(ready_value("tcp:70000", false).is_err());
    assert!(ready_value("tcp::80", false).is_err());
    assert!(ready_value("file:relative", false).is_err());
    assert!(ready_value("exec:", false).is_err());
    assert!(ready_value("http:80", false).is_err());
    assert!(ready_value("ready", false).is_err());
}

#[test]
fn port_specs() {
    assert_eq!(
        PortSpec::parse("8080"),
        Ok(PortSpec {
            proto: Proto::Tcp,
            port: 8080
        })
    );
    assert_eq!(
        PortSpec::parse("tcp/80"),
        Ok(PortSpec {
            proto: Proto::Tcp,
            port: 80
        })
    );
    assert_eq!(
        PortSpec::parse("udp/5353"),
        Ok(PortSpec {
            proto: Proto::Udp,
            port: 5353
        })
    );
    for bad in [
        "0", "65536", "sctp/80", "udp/", "tcp/x", "", "-1", "udp/53/1",
    ] {
        assert!(PortSpec::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        PortSpec {
            proto: Proto::Udp,
            port: 53
        }
        .to_string(),
        "udp/53"
    );
}

// --- clamping -------------------------------------------------------------------------

#[test]
fn values_above_the_cap_are_clamped_with_a_warning() {
    let text = "\
[rinit]
shutdown_timeout = \"2m\"
[service.a]
exec = \"a\"
stop_timeout = 45
stop_delay = \"31s\"
";
    let loaded = load_ok(text);
    assert_eq!(loaded.config.rinit.shutdown_timeout, MAX_TIMEOUT);
    let a = &loaded.config.services[0];
    assert_eq!(a.stop_timeout, MAX_TIMEOUT);
    assert_eq!(a.stop_delay, MAX_TIMEOUT);
    assert_eq!(loaded.warnings.len(), 3);
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.starts_with("t.toml:2:20: shutdown_timeout = 120s"))
    );
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.starts_with("t.toml:5:16: stop_timeout = 45s"))
    );
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.starts_with("t.toml:6:14: stop_delay = 31s"))
    );
    assert!(loaded.warnings.iter().all(|w| w.ends_with("using 30s")));
}

// --- errors, each with its position ---------------------------------------------------

#[test]
fn toml_syntax_error() {
    assert_error(
        &service_with("after = [\"b\""),
        "3:13: unclosed array, expected `]`",
    );
    assert_error("[service.a\n", "1:11: unclosed table, expected `]`");
    assert_error(&service_with("[service.a]"), "3:10: duplicate key `a`");
    assert_error("x = = 1", "1:5: extra `=`");
}

#[test]
fn unknown_key_in_rinit() {
    let text = "\n[rinit]\nshutdown_timout = \"1s\"\n";
    assert_error(
        text,
        "3:1: unknown field `shutdown_timout`, expected one of",
    );
}

#[test]
fn unknown_key_in_service() {
    let text = service_with("  restrat = \"always\"");
    assert_error(
        &text,
        "3:3: unknown field `restrat`, expected one of `exec`, `shell`",
    );
}

#[test]
fn unknown_top_level_table() {
    let text = "[services.a]\nexec = \"a\"\n";
    assert_error(
        text,
        "1:2: unknown field `services`, expected `rinit` or `service`",
    );
}

#[test]
fn wrong_type() {
    assert_error(
        &service_with("oneshot = \"yes\""),
        "3:11: invalid type: string \"yes\", expected a boolean",
    );
    assert_error(
        &service_with("after = \"b\""),
        "3:9: invalid type: string \"b\", expected a sequence",
    );
    assert_error(
        "[service.a]\nexec = 5\n",
        "2:8: exec: expected a command string or an array",
    );
    assert_error(
        "[service.a]\nexec = [\"a\", 1]\n",
        "2:8: exec: expected every argument to be a string",
    );
}

#[test]
fn empty_exec() {
    let empty = "the command is empty: expected a program to run";
    assert_error("[service.a]\nexec = []\n", &format!("2:8: exec: {empty}"));
    assert_error("[service.a]\nexec = \"\"\n", &format!("2:8: exec: {empty}"));
    assert_error(
        "[service.a]\nexec = [\"\"]\n",
        &format!("2:8: exec: {empty}"),
    );
    assert_error(
        "[service.a]\nexec = \" \"\nshell = true\n",
        &format!("2:8: exec: {empty}"),
    );
    assert_error(
        &service_with("stop_exec = []"),
        &format!("3:13: stop_exec: {empty}"),
    );
}

#[test]
fn missing_exec() {
    assert_error(
        "[service.a]\noneshot = true\n",
        "1:1: service \"a\" has no exec: expected exec =",
    );
}

#[test]
fn unknown_dependency() {
    let text = "[service.a]\nexec = \"a\"\n[service.b]\nexec = \"b\"\nafter = [\"a\", \"nope\"]\n";
    assert_error(
        text,
        "5:15: after: unknown service \"nope\" (expected the name of a service)",
    );
}

#[test]
fn after_main_needs_a_main_table() {
    let text = service_with("after = [\"main\"]");
    assert_error(
        &text,
        "3:10: after: unknown service \"main\" (expected the name of a service; to",
    );
    let c = load_ok(&format!("[service.main]\n{text}")).config;
    assert_eq!(c.service(MAIN).unwrap().after, Vec::<String>::new());
}

#[test]
fn bad_signal() {
    assert_error(
        &service_with("stop_signal = \"SIGFOO\""),
        "3:15: stop_signal: unknown signal \"SIGFOO\"",
    );
    assert_error(
        &service_with("stop_signal = 99"),
        "3:15: stop_signal: signal number 99 is out of range",
    );
    assert_error(
        &service_with("stop_signal = true"),
        "3:15: stop_signal: expected a signal name",
    );
}

#[test]
fn bad_duration() {
    let expected = "expected a number followed by ms, s, m or h";
    let text = service_with("stop_timeout = \"10x\"");
    assert_error(
        &text,
        &format!("3:16: stop_timeout: invalid duration \"10x\": {expected}"),
    );
    let text = service_with("ready_timeout = -5");
    assert_error(
        &text,
        "3:17: ready_timeout: expected a non-negative number of seconds, found -5",
    );
    let text = "[rinit]\nshutdown_timeout = \"soon\"\n";
    assert_error(
        text,
        &format!("2:20: shutdown_timeout: invalid duration \"soon\": {expected}"),
    );
}

#[test]
fn dependency_cycle() {
    let text = "\
[service.c]
exec = \"c\"
after = [\"a\"]
[service.b]
exec = \"b\"
after = [\"c\"]
[service.a]
exec = \"a\"
after = [\"b\"]
";
    // Reported at a's entry for b, where the printed cycle starts.
    assert_error(text, "9:10: dependency cycle: a -> b -> c -> a");
}

#[test]
fn service_after_itself() {
    assert_error(
        &service_with("after = [\"a\"]"),
        "3:10: dependency cycle: a -> a",
    );
}

#[test]
fn two_cycle() {
    let text = "\
[service.b]
exec = \"b\"
after = [\"a\"]
[service.a]
exec = \"a\"
after = [\"x\", \"b\"]
[service.x]
exec = \"x\"
";
    assert_error(text, "6:15: dependency cycle: a -> b -> a");
}

#[test]
fn bad_keywords() {
    let text = service_with("restart = \"sometimes\"");
    assert_error(
        &text,
        "3:11: restart: unknown policy \"sometimes\" (expected never, on-failure or always)",
    );
    let text = service_with("stop_mode = \"all\"");
    assert_error(
        &text,
        "3:13: stop_mode: unknown mode \"all\" (expected tree, group or main)",
    );
    let text = service_with("log = \"logs/a.log\"");
    assert_error(
        &text,
        "3:7: log: \"logs/a.log\" is not a log target (expected prefix, inherit, null or an absolute",
    );
    let text = service_with("ready = \"http:80\"");
    assert_error(
        &text,
        "3:9: ready: unknown probe \"http:80\" (expected tcp:[HOST:]PORT, file:PATH, exec:COMMAND",
    );
    let text = service_with("ready = \"tcp:99999\"");
    assert_error(
        &text,
        "3:9: ready: \"99999\" is not a port number (expected 1 to 65535)",
    );
}

#[test]
fn oneshot_restrictions() {
    let text = service_with("oneshot = true\nrestart = \"always\"");
    assert_error(&text, "4:11: restart: a oneshot cannot restart always");
    let text = service_with("oneshot = true\nready = \"notify\"");
    assert_error(
        &text,
        "4:9: ready: a oneshot is ready when it exits with a success code",
    );
}

#[test]
fn bad_port() {
    let text = service_with("ports = [80, \"udp/x\"]");
    assert_error(
        &text,
        "3:14: ports: bad port \"udp/x\": \"x\" is not a port number",
    );
    assert_error(
        "[rinit]\nsweep_ports = [0]\n",
        "2:16: sweep_ports: \"0\" is not a port number",
    );
    let text = "[rinit]\nsweep_ports = [\"sctp/1\"]\n";
    assert_error(
        text,
        "2:16: sweep_ports: bad port \"sctp/1\": expected a port number, \"tcp/PORT\"",
    );
}

#[test]
fn bad_regex() {
    let text = service_with("patterns = [\"ok\", \"(broken\"]");
    assert_error(
        &text,
        "3:19: patterns: invalid regular expression \"(broken\": ",
    );
    let text = "[rinit]\nsweep_patterns = [\"a[\"]\n";
    assert_error(
        text,
        "2:19: sweep_patterns: invalid regular expression \"a[\": ",
    );
}

#[test]
fn bad_values() {
    let cases = [
        (
            "workdir = \"data\"",
            "3:11: workdir: \"data\" is not an absolute path",
        ),
        (
            "success_codes = [0, 300]",
            "3:21: success_codes: 300 is not an exit code",
        ),
        (
            "success_codes = [\"0\"]",
            "3:18: success_codes: expected an exit code (0 to 255)",
        ),
        (
            "success_codes = []",
            "3:17: success_codes: expected at least one exit code",
        ),
        ("user = \"\"", "3:8: user: expected a name or a numeric id"),
        ("group = -1", "3:9: group: expected a name or a numeric id"),
        (
            "env = { \"A=B\" = \"x\" }",
            "3:9: env: invalid variable name \"A=B\"",
        ),
        (
            "env = { A = [1] }",
            "3:13: env: expected a string, found array",
        ),
    ];
    for (keys, expected) in cases {
        assert_error(&service_with(keys), expected);
    }
    assert_error(
        "[service.\"a b\"]\nexec = \"a\"\n",
        "1:10: invalid service name \"a b\"",
    );
    assert_error(
        "[service.a]\nexec = \"echo 'x\"\n",
        "2:8: exec: unclosed single quote",
    );
    let text = "[rinit]\ncontrol_socket = \"rinit.sock\"\n";
    assert_error(
        text,
        "2:18: control_socket: \"rinit.sock\" is not an absolute path",
    );
    assert_error(
        "[rinit]\nhostname = \"a b\"\n",
        "2:12: hostname: invalid hostname \"a b\"",
    );
}

#[test]
fn positions_count_characters_not_bytes() {
    let text = "# é\n[service.a]\nexec = \"a\"\n  restart = \"é\"\n";
    assert_error(text, "4:13: restart: unknown policy \"é\"");
    assert_eq!(line_col("ab\ncd", 0), (1, 1));
    assert_eq!(line_col("ab\ncd", 3), (2, 1));
    assert_eq!(line_col("ab\ncd", 4), (2, 2));
    assert_eq!(line_col("ab", 99), (1, 3));
}

#[test]
fn error_display() {
    let e = load_str("conf/x.toml", &service_with("stop_mode = \"x\"")).unwrap_err();
    let expected = "conf/x.toml:3:13: stop_mode: unknown mode \"x\" (expected tree, group or main)";
    assert_eq!(e.to_string(), expected);
    let e = load(Path::new("/nonexistent/rinit.toml")).unwrap_err();
    assert_eq!((e.line, e.col), (0, 0));
    assert!(
        e.to_string()
            .starts_with("/nonexistent/rinit.toml: cannot read: ")
    );
}

// --- several files --------------------------------------------------------------------

fn files(list: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    let owned: Vec<(PathBuf, String)> = list
        .iter()
        .map(|(p, t)| (PathBuf::from(p), t.to_string()))
        .collect();
    load_files(&owned)
}

#[test]
fn files_merge_in_order() {
    let base = "[rinit]\nshutdown_timeout = \"99s\"\nhostname = \"a\"\n";
    let db = "[service.db]\nexec = \"db\"\n";
    let app = "[rinit]\nshutdown_timeout = \"5s\"\n[service.app]\nexec = \"app\"\nafter = [\"db\"]";
    let loaded = files(&[
        ("10-base.toml", base),
        ("11-db.toml", db),
        ("20-app.toml", app),
    ]);
    let loaded = loaded.unwrap();
    let c = loaded.config;
    assert_eq!(c.rinit.shutdown_timeout, Duration::from_secs(5));
    assert_eq!(c.rinit.hostname.as_deref(), Some("a"));
    // The 99s of the first file was overridden: no warning about it.
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let names: Vec<&str> = c.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["db", "app"]);
    assert_eq!(c.services[1].origin.file, PathBuf::from("20-app.toml"));
}

#[test]
fn duplicate_service_across_files() {
    let e = files(&[
        ("a.toml", "[service.db]\nexec = \"db\"\n"),
        ("b.toml", "\n\n[service.db]\nexec = \"db2\"\n"),
    ])
    .unwrap_err();
    assert_eq!(
        (e.file.as_path(), e.line, e.col),
        (Path::new("b.toml"), 3, 1)
    );
    assert_eq!(e.message, "service \"db\" is already defined at a.toml:1:1");
}

#[test]
fn directory_is_loaded_in_lexical_order() {
    let dir = std::env::temp_dir().join(format!("rinit-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("20-b.toml"),
        "[service.b]\nexec = \"b\"\nafter = [\"a\"]\n",
    )
    .unwrap();
    std::fs::write(dir.join("10-a.toml"), "[service.a]\nexec = \"a\"\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "not toml").unwrap();
    std::fs::write(dir.join(".hidden.toml"), "garbage =").unwrap();
    let loaded = load(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    let names: Vec<String> = loaded
        .unwrap()
        .config
        .services
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
}

// --- main -----------------------------------------------------------------------------

#[test]
fn command_becomes_main_after_everything() {
    let c = load_ok("[service.db]\nexec = \"db\"\n[service.app]\nexec = \"app\"\n").config;
    let c = c.with_main(os_strings(&["sh", "-c", "exit 3"])).unwrap();
    let main = c.service(MAIN).unwrap();
    assert_eq!(main.exec, os_strings(&["sh", "-c", "exit 3"]));
    assert!(main.critical);
    assert_eq!(main.log, LogTarget::Inherit);
    assert_eq!(main.after, strings(&["db", "app"]));
    assert_eq!(main.origin, Origin::command_line());
    c.require_exec().unwrap();
    let waves = c.graph().unwrap().start_waves();
    assert_eq!(waves, vec![vec![0, 1], vec![2]]);
}

#[test]
fn command_without_config() {
    let c = Config::default()
        .with_main(os_strings(&["sleep", "1"]))
        .unwrap();
    assert_eq!(c.services.len(), 1);
    assert!(c.services[0].after.is_empty());
    assert!(Config::default().with_main(Vec::new()).is_err());
}

#[test]
fn main_table_configures_the_command() {
    let text = "\
[service.db]
exec = \"db\"
[service.main]
stop_signal = \"SIGINT\"
success_codes = [0, 143]
[service.sidecar]
exec = \"tail -f /log\"
after = [\"main\"]
";
    let c = load_ok(text).config;
    let main = c.service(MAIN).unwrap();
    assert!(main.exec.is_empty());
    assert!(main.critical);
    assert_eq!(main.log, LogTarget::Inherit);
    // After everything, except the sidecar that is after main.
    assert_eq!(main.after, strings(&["db"]));
    let e = c.require_exec().unwrap_err();
    assert_eq!((e.line, e.col), (3, 1));
    assert!(e.message.contains("-- COMMAND"));
    let c = c
        .with_main(os_strings(&["java", "-jar", "app.jar"]))
        .unwrap();
    let main = c.service(MAIN).unwrap();
    assert_eq!(main.exec, os_strings(&["java", "-jar", "app.jar"]));
    assert_eq!(main.stop_signal, libc::SIGINT);
    assert_eq!(main.success_codes, vec![0, 143]);
    c.require_exec().unwrap();
    let names = |wave: &Vec<usize>| -> Vec<String> {
        wave.iter().map(|&i| c.services[i].name.clone()).collect()
    };
    let waves: Vec<Vec<String>> = c.graph().unwrap().start_waves().iter().map(names).collect();
    assert_eq!(waves, vec![vec!["db"], vec!["main"], vec!["sidecar"]]);
}

#[test]
fn main_with_its_own_after_and_exec() {
    let text = "\
[service.db]
exec = \"db\"
[service.main]
exec = \"app\"
critical = false
after = []
log = \"prefix\"
";
    let c = load_ok(text).config;
    let main = c.service(MAIN).unwrap();
    assert!(main.after.is_empty());
    assert!(!main.critical);
    assert_eq!(main.log, LogTarget::Prefix);
    assert_eq!(main.exec, os_strings(&["app"]));
    c.require_exec().unwrap();
}

#[test]
fn same_settings_ignores_the_origin() {
    let a = load_ok("[service.a]\nexec = \"a\"\n")
        .config
        .services
        .remove(0);
    let b = load_ok("\n\n[service.a]\nexec = \"a\"\n")
        .config
        .services
        .remove(0);
    assert_ne!(a, b);
    assert!(a.same_settings(&b));
    let c = load_ok("[service.a]\nexec = \"a b\"\n")
        .config
        .services
        .remove(0);
    assert!(!a.same_settings(&c));
}

// --- pure parsers ---------------------------------------------------------------------

#[test]
fn split_command_words_and_quotes() {
    assert_eq!(
        split_command("a  b\tc\n").unwrap(),
        strings(&["a", "b", "c"])
    );
    assert_eq!(
        split_command("nginx -g 'daemon off;'").unwrap(),
        strings(&["nginx", "-g", "daemon off;"])
    );
    assert_eq!(
        split_command(r#"echo "a \"b\" \$c \n""#).unwrap(),
        strings(&["echo", r#"a "b" $c \n"#])
    );
    assert_eq!(
        split_command(r"a\ b c\\d").unwrap(),
        strings(&["a b", r"c\d"])
    );
    assert_eq!(split_command("x'y'\"z\"").unwrap(), strings(&["xyz"]));
    assert_eq!(split_command("a '' \"\"").unwrap(), strings(&["a", "", ""]));
    assert_eq!(split_command("a \\\nb").unwrap(), strings(&["a", "b"]));
    assert_eq!(split_command("'it''s'").unwrap(), strings(&["its"]));
    assert_eq!(split_command("").unwrap(), Vec::<String>::new());
    assert_eq!(split_command("   ").unwrap(), Vec::<String>::new());
    assert!(split_command("'open").is_err());
    assert!(split_command("\"open").is_err());
    assert!(split_command("\"open\\\"").is_err());
    assert!(split_command("trailing\\").is_err());
}

#[test]
fn parse_duration_forms() {
    let ms = Duration::from_millis;
    assert_eq!(parse_duration("500ms"), Ok(ms(500)));
    assert_eq!(parse_duration("10s"), Ok(ms(10_000)));
    assert_eq!(parse_duration("2m"), Ok(ms(120_000)));
    assert_eq!(parse_duration("1h"), Ok(ms(3_600_000)));
    assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
    assert_eq!(parse_duration("0.1s"), Ok(ms(100)));
    assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
    assert_eq!(parse_duration(" 10 "), Ok(ms(10_000)));
    assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    assert_eq!(parse_duration("0.25"), Ok(ms(250)));
    for bad in [
        "",
        "s",
        "-1s",
        "10x",
        "1.s",
        ".5s",
        "1..5s",
        "ten",
        "10 s",
        "1e3s",
        "inf",
        "NaN",
        "99999999999999h",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
    assert!(
        parse_duration("10x")
            .unwrap_err()
            .contains("expected a number followed by ms, s, m or h")
    );
}

#[test]
fn duration_values() {
    assert_eq!(
        duration_value(Value::Integer(3)),
        Ok(Duration::from_secs(3))
    );
    assert_eq!(
        duration_value(Value::Float(0.5)),
        Ok(Duration::from_millis(500))
    );
    assert!(duration_value(Value::Integer(-1)).is_err());
    assert!(duration_value(Value::Float(-0.5)).is_err());
    assert!(duration_value(Value::Float(f64::NAN)).is_err());
    assert!(duration_value(Value::Boolean(true)).is_err());
}

// --- the shipped examples ---------------------------------------------------------------

#[test]
fn example_configs_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let loaded = load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                loaded.warnings.is_empty(),
                "{}: {:?}",
                path.display(),
                loaded.warnings
            );
            loaded
                .config
                .require_exec()
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(!loaded.config.services.is_empty());
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "expected the example configs in {}",
        dir.display()
    );
}

// --- positions and key names in less usual layouts --------------------------------------

#[test]
fn errors_name_their_key_in_every_table_layout() {
    // A dotted service name, an inline service table, a list spread over lines with a
    // comment: the error is at the bad element and names the key.
    assert_error(
        "[service.\"web.v2\"]\nexec = \"a\"\nstop_signal = \"FOO\"\n",
        "3:15: stop_signal: unknown signal \"FOO\"",
    );
    assert_error(
        "[service]\na = { exec = \"a\", stop_mode = \"x\" }\n",
        "2:31: stop_mode: unknown mode \"x\"",
    );
    assert_error(
        &service_with("ports = [\n  80,\n  # the metrics port\n  \"udp/x\",\n]"),
        "6:3: ports: bad port \"udp/x\"",
    );
    assert_error(
        &service_with("ready_timeout = 1979-05-27"),
        "3:17: ready_timeout: expected a duration like \"10s\" or a number of seconds, found datetime",
    );
}

#[test]
fn shell_decides_how_a_command_string_is_read() {
    // Unbalanced quotes are an error when rinit splits the words, not when sh reads them.
    let text = "[service.a]\nexec = \"echo 'x\"\nshell = true\n";
    let a = load_ok(text).config.services.remove(0);
    assert_eq!(a.exec, os_strings(&["/bin/sh", "-c", "echo 'x"]));
    assert_error(
        &service_with("ready = \"exec:test -e 'x\""),
        "3:9: ready: unclosed single quote",
    );
    assert_error(
        &service_with("stop_exec = \"kill 'x\""),
        "3:13: stop_exec: unclosed single quote",
    );
}

// --- health checks and http probes --------------------------------------------------------

#[test]
fn health_keys() {
    let text = service_with(
        "health = \"http://127.0.0.1:8080/healthz?deep=1\"\nhealth_interval = \"2s\"\nhealth_timeout = \"500ms\"\nhealth_retries = 5\nhealth_start_period = \"30s\"",
    );
    let a = load_ok(&text).config.services.remove(0);
    assert_eq!(
        a.health,
        Some(HealthProbe::Http(HttpTarget {
            host: "127.0.0.1".into(),
            port: 8080,
            path: "/healthz?deep=1".into()
        }))
    );
    assert_eq!(a.health_interval, Duration::from_secs(2));
    assert_eq!(a.health_timeout, Duration::from_millis(500));
    assert_eq!(a.health_retries, 5);
    assert_eq!(a.health_start_period, Duration::from_secs(30));
    let d = load_ok(&service_with("")).config.services.remove(0);
    assert_eq!(d.health, None);
    assert_eq!(
        (d.health_interval, d.health_timeout, d.health_retries),
        (Duration::from_secs(10), Duration::from_secs(1), 3)
    );
    let tcp = load_ok(&service_with("health = \"tcp:6379\""))
        .config
        .services
        .remove(0);
    assert_eq!(
        tcp.health,
        Some(HealthProbe::Tcp {
            host: "127.0.0.1".into(),
            port: 6379
        })
    );
    let exec = load_ok(&service_with("health = \"exec:redis-cli ping\""))
        .config
        .services
        .remove(0);
    assert_eq!(
        exec.health,
        Some(HealthProbe::Exec(strings(&["redis-cli", "ping"])))
    );
}

#[test]
fn http_targets() {
    let t = |url: &str| values::http_target(url);
    assert_eq!(
        t("localhost"),
        Ok(HttpTarget {
            host: "localhost".into(),
            port: 80,
            path: "/".into()
        })
    );
    assert_eq!(
        t("[::1]:8080/ready"),
        Ok(HttpTarget {
            host: "::1".into(),
            port: 8080,
            path: "/ready".into()
        })
    );
    for bad in [
        "",
        ":80/",
        "user@host/",
        "h:0/",
        "h/a b",
        "[::1/",
        "::1:80/",
    ] {
        assert!(t(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        ready_value("http://10.0.0.1:9000/", false),
        Ok(Ready::Http(HttpTarget {
            host: "10.0.0.1".into(),
            port: 9000,
            path: "/".into()
        }))
    );
}

#[test]
fn bad_health_values() {
    let cases = [
        (
            "health = \"ping\"",
            "3:10: health: unknown check \"ping\" (expected exec:COMMAND, tcp:[HOST:]PORT or http://",
        ),
        ("health = \"exec:\"", "3:10: health: the command is empty"),
        (
            "health_interval = 0",
            "3:19: health_interval: expected a duration above zero",
        ),
        (
            "health_timeout = \"0s\"",
            "3:18: health_timeout: expected a duration above zero",
        ),
        (
            "health_retries = 0",
            "3:18: health_retries: expected a number from 1, found 0",
        ),
        ("health = \"http://a b/\"", "3:10: health: \"http://a b/\""),
    ];
    for (keys, expected) in cases {
        assert_error(&service_with(keys), expected);
    }
    assert_error(
        &service_with("oneshot = true\nhealth = \"tcp:80\""),
        "4:10: health: a oneshot is not checked while it runs",
    );
    assert_error(
        &service_with("health = \"exec:check 'x\""),
        "3:10: health: unclosed single quote",
    );
}

#[test]
fn watchdog_and_notify_socket() {
    let text = "[rinit]\nnotify_socket = \"/run/rinit-notify.sock\"\n[service.a]\nexec = \"a\"\nwatchdog = \"30s\"\n";
    let c = load_ok(text).config;
    assert_eq!(
        c.rinit.notify_socket,
        Some(PathBuf::from("/run/rinit-notify.sock"))
    );
    assert_eq!(c.services[0].watchdog, Some(Duration::from_secs(30)));
    assert!(c.services[0].speaks_notify());
    assert_error(
        &service_with("watchdog = 0"),
        "3:12: watchdog: expected a duration above zero",
    );
    assert_error(
        &service_with("oneshot = true\nwatchdog = \"1s\""),
        "4:12: watchdog: a oneshot is not watched while it runs",
    );
    assert_error(
        "[rinit]\nnotify_socket = \"notify.sock\"\n",
        "2:17: notify_socket: \"notify.sock\" is not an absolute path",
    );
}

// --- enabled, env_file, ${VAR} ---------------------------------------------------------------

#[test]
fn enabled_env_file_and_variables() {
    let a = load_ok(&service_with(
        "enabled = false\nenv_file = [\"-/nonexistent/a.env\", \"-/nonexistent/b.env\"]",
    ));
    let a = &a.config.services[0];
    assert!(!a.enabled);
    assert_eq!(
        a.env_file,
        strings(&["-/nonexistent/a.env", "-/nonexistent/b.env"])
    );
    assert!(load_ok(&service_with("")).config.services[0].enabled);
    assert_error(
        "[service.main]\nenabled = false\n",
        "2:11: enabled: main is the command rinit runs; it cannot be disabled",
    );
    assert_error(
        &service_with("env_file = [\"app.env\"]"),
        "3:13: env_file: \"app.env\" is not an absolute path",
    );
    // ${VAR} from rinit's environment; PATH is set wherever tests run.
    let path = std::env::var("PATH").unwrap();
    let text = "[service.a]\nexec = [\"run\", \"${PATH}\", \"$$1\", \"${RINIT_TEST_NEVER_SET:-d}\"]\nready = \"tcp:${RINIT_TEST_NEVER_SET:-8080}\"\n";
    let a = load_ok(text).config.services.remove(0);
    assert_eq!(a.exec, os_strings(&["run", &path, "$1", "d"]));
    assert_eq!(
        a.ready,
        Some(Ready::Tcp {
            host: "127.0.0.1".into(),
            port: 8080
        })
    );
    assert_error(
        &service_with("health = \"tcp:${RINIT_TEST_NEVER_SET}\""),
        "3:10: health: ${RINIT_TEST_NEVER_SET} is not set in rinit's environment",
    );
    assert_error(
        &service_with("env = { A = \"${RINIT_TEST_NEVER_SET}\" }"),
        "3:13: env: ${RINIT_TEST_NEVER_SET} is not set",
    );
    assert_error(
        &service_with("workdir = \"${RINIT_TEST_NEVER_SET:-relative}\""),
        "3:11: workdir: \"relative\" is not an absolute path",
    );
}

#[test]
fn limits_and_settings() {
    let text = service_with(
        "limits = { nofile = 65536, nproc = \"1024:4096\", memlock = \"64M\", core = \"unlimited\" }\nnice = -5\numask = \"0027\"\noom_score_adj = -500",
    );
    let a = load_ok(&text).config.services.remove(0);
    let l = |name: &str| {
        a.limits
            .iter()
            .find(|l| l.name == name)
            .map(|l| (l.soft, l.hard))
    };
    assert_eq!(l("nofile"), Some((65536, None)));
    assert_eq!(l("nproc"), Some((1024, Some(4096))));
    assert_eq!(l("memlock"), Some((64 << 20, None)));
    assert_eq!(l("core"), Some((u64::MAX, None)));
    assert_eq!(
        (a.nice, a.umask, a.oom_score_adj),
        (Some(-5), Some(0o027), Some(-500))
    );
    let cases = [
        (
            "limits = { files = 1 }",
            "3:12: limits: unknown limit \"files\" (expected one of as, core",
        ),
        (
            "limits = { nofile = -1 }",
            "3:21: limits: expected a limit of 0 or more, found -1",
        ),
        (
            "limits = { nofile = \"9:1\" }",
            "3:21: limits: \"9:1\": the soft limit is above the hard one",
        ),
        (
            "limits = { nofile = \"lots\" }",
            "3:21: limits: \"lots\" is not a limit",
        ),
        (
            "nice = 20",
            "3:8: nice: expected a niceness from -20 to 19, found 20",
        ),
        (
            "umask = \"0999\"",
            "3:9: umask: expected an octal mask like \"0027\"",
        ),
        (
            "oom_score_adj = 2000",
            "3:17: oom_score_adj: expected a number from -1000 to 1000",
        ),
    ];
    for (keys, expected) in cases {
        assert_error(&service_with(keys), expected);
    }
}

#[test]
fn instances_are_services_of_their_own() {
    let text = "\
[service.worker]
instances = 3
exec = [\"work\", \"--id\", \"{instance}\"]
env = { SLOT = \"{instance}\" }
ready = \"tcp:900{instance}\"
log = \"/var/log/worker-{instance}.log\"

[service.report]
after = [\"worker\"]
exec = \"report\"
";
    let c = load_ok(text).config;
    let names: Vec<&str> = c.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["worker@1", "worker@2", "worker@3", "report"]);
    let w2 = c.service("worker@2").unwrap();
    assert_eq!(w2.exec, os_strings(&["work", "--id", "2"]));
    assert_eq!(w2.env, vec![("SLOT".to_string(), "2".to_string())]);
    assert_eq!(
        w2.ready,
        Some(Ready::Tcp {
            host: "127.0.0.1".into(),
            port: 9002
        })
    );
    assert_eq!(w2.log, LogTarget::File("/var/log/worker-2.log".into()));
    assert_eq!(w2.instance_of.as_deref(), Some("worker"));
    assert_eq!(
        c.service("report").unwrap().after,
        strings(&["worker@1", "worker@2", "worker@3"])
    );
    // user, group, patterns and env_file take it too; each instance reads its own file.
    let dir = std::env::temp_dir().join(format!("rinit-instance-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for n in 1..=2 {
        std::fs::write(
            dir.join(format!("w{n}.env")),
            format!("QUEUE=q{n}\nSHARED=file\n"),
        )
        .unwrap();
    }
    let text = format!(
        "[service.w]\ninstances = 2\nexec = \"w\"\nuser = \"app{{instance}}\"\ngroup = \"g{{instance}}\"\n\
         patterns = [\"w --slot {{instance}}$\"]\nenv_file = [\"{}/w{{instance}}.env\"]\n\
         env = {{ SHARED = \"env-{{instance}}\" }}\n",
        dir.display()
    );
    let c = load_ok(&text).config;
    for n in 1..=2 {
        let w = c.service(&format!("w@{n}")).unwrap();
        assert_eq!(w.user.as_deref(), Some(format!("app{n}").as_str()));
        assert_eq!(w.group.as_deref(), Some(format!("g{n}").as_str()));
        assert_eq!(w.patterns, [format!("w --slot {n}$")]);
        let env = |k: &str| {
            w.env
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(env("QUEUE"), Some(format!("q{n}")), "{:?}", w.env);
        assert_eq!(
            env("SHARED"),
            Some(format!("env-{n}")),
            "env wins over the file"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    // Without instances, {instance} is 1.
    let one = load_ok(&service_with("env = { SLOT = \"{instance}\" }")).config;
    assert_eq!(
        one.services[0].env,
        vec![("SLOT".to_string(), "1".to_string())]
    );
    assert_error(
        &service_with("instances = 0"),
        "3:13: instances: expected a number of instances from 1 to 1000",
    );
    assert_error(
        "[service.main]\ninstances = 2\n",
        "2:13: instances: main is the one command rinit runs",
    );
    let clash = "[service.w]\ninstances = 2\nexec = \"w\"\n[service.\"w@2\"]\nexec = \"x\"\n";
    assert_error(
        clash,
        "4:1: service \"w@2\" is already defined at t.toml:1:1",
    );
}

#[test]
fn log_rotation_and_buffer_keys() {
    let a = load_ok(&service_with(
        "log = \"/var/log/a.log\"\nlog_max_size = \"10M\"\nlog_keep = 3\nlog_timestamps = true",
    ));
    let a = &a.config.services[0];
    assert_eq!((a.log_max_size, a.log_keep), (Some(10 << 20), 3));
    assert_error(
        &service_with("log_max_size = \"10M\""),
        "3:16: log_max_size: rotates a log = \"/path\" file; this service has none",
    );
    assert_error(
        &service_with("log = \"/a.log\"\nlog_max_size = 100"),
        "4:16: log_max_size: expected a size like \"10M\" (at least 4K)",
    );
    assert_error(
        &service_with("log = \"null\"\nlog_timestamps = true"),
        "4:18: log_timestamps: needs log = \"prefix\"",
    );
    assert_error(
        &service_with("log_buffer = \"1G\""),
        "3:14: log_buffer: expected a size like \"64K\" (at most 128K)",
    );
}

#[test]
fn a_variable_stays_one_argument_and_main_does_not_wait_for_disabled_services() {
    let text = "[service.a]\nexec = \"run ${RINIT_TEST_NEVER_SET:-a b'c} --x\"\n";
    let a = load_ok(text).config.services.remove(0);
    assert_eq!(a.exec, os_strings(&["run", "a b'c", "--x"]));
    let text = "[service.on]\nexec = \"on\"\n[service.off]\nexec = \"off\"\nenabled = false\n";
    let c = load_ok(text)
        .config
        .with_main(os_strings(&["app"]))
        .unwrap();
    assert_eq!(c.service(MAIN).unwrap().after, strings(&["on"]));
    let text = "[service.off]\nexec = \"off\"\nenabled = false\n[service.main]\n";
    let c = load_ok(text).config;
    assert_eq!(c.service(MAIN).unwrap().after, Vec::<String>::new());
}
