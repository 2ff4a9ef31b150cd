//! Why a supervisord line has no rinit equivalent: one sentence per key or section, for
//! the comment the importer prints in its place (and the README's table says the same).

/// Keys a `[program:x]` may have that rinit does not map, and why.
const PROGRAM_KEYS: &[(&str, &str)] = &[
    (
        "startsecs",
        "rinit counts a service as started once it runs (or once its `ready` check passes); its restart backoff (100 ms doubling to 30 s) and limit (more than 5 restarts within 60 s: failed) take the place of startsecs and startretries",
    ),
    (
        "startretries",
        "rinit's restart limit is fixed: more than 5 restarts within 60 s and the service is failed (see startsecs)",
    ),
    (
        "numprocs_start",
        "rinit numbers instances from 1 (NAME@1 …)",
    ),
    (
        "serverurl",
        "services talk to rinit with `rinit ctl` over its control socket",
    ),
    (
        "stdout_capture_maxbytes",
        "capture mode feeds event listeners, which rinit does not have",
    ),
    (
        "stderr_capture_maxbytes",
        "capture mode feeds event listeners, which rinit does not have",
    ),
    ("stdout_events_enabled", "rinit has no event listeners"),
    ("stderr_events_enabled", "rinit has no event listeners"),
    (
        "stdout_syslog",
        "rinit does not write to syslog; a service's lines go to rinit's stdout (log = \"prefix\")",
    ),
    (
        "stderr_syslog",
        "rinit does not write to syslog; a service's lines go to rinit's stdout (log = \"prefix\")",
    ),
];

/// Why a `[program:x]` key is not mapped; `None`: not a key supervisord knows.
pub fn program_key(key: &str) -> Option<&'static str> {
    PROGRAM_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, why)| *why)
}

/// Reasons for whole sections that have no rinit equivalent.
pub fn section(name: &str) -> Option<&'static str> {
    if name == "supervisord" || name == "include" || name.starts_with("program:") {
        return None;
    }
    let kind = name.split(':').next().unwrap_or(name);
    Some(match kind {
        "DEFAULT" => "supervisord applies its values to every section; copy them into the programs",
        "unix_http_server" | "inet_http_server" => {
            "rinit's control socket (`control_socket`, `rinit ctl`) takes its place"
        }
        "supervisorctl" => "use `rinit ctl` (status, start, stop, restart, logs)",
        "rpcinterface" => {
            "rinit has no XML-RPC interface; `rinit ctl --json` is its interface for programs"
        }
        "ctlplugin" => "rinit ctl has no plugins",
        "eventlistener" => {
            "event listeners are not supported: rinit has no event protocol; health checks (`health`) and `rinit ctl status --json` cover their usual uses"
        }
        "fcgi-program" => {
            "rinit does not open sockets for services (no socket activation): run the FastCGI server so that it listens itself (php-fpm does)"
        }
        "group" => {
            "rinit has no groups: each program is a service of its own (`rinit ctl stop NAME` for each); the group's priority orders its programs"
        }
        _ => "a section supervisord does not know",
    })
}

/// Reasons for `[supervisord]` keys; `None`: mapped onto every service.
pub fn daemon_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "environment" | "umask" => return None,
        "nodaemon" => "rinit always runs in the foreground",
        "logfile" | "logfile_maxbytes" | "logfile_backups" => "rinit writes its own log to stderr",
        "loglevel" => "rinit's log level is RINIT_LOG (e.g. RINIT_LOG=debug)",
        "pidfile" => "rinit writes no pid file; `rinit ctl` finds it by its control socket",
        "user" => {
            "rinit runs as the user that starts it (USER in a Dockerfile); per service: user = …"
        }
        "minfds" => {
            "rinit does not raise its own limits; give a service what it needs with limits = { nofile = N }"
        }
        "minprocs" => {
            "rinit does not raise its own limits; give a service what it needs with limits = { nproc = N }"
        }
        "childlogdir" => {
            "rinit keeps no AUTO log files: services log through it (log = \"prefix\")"
        }
        "directory" => "rinit does not daemonize; set workdir per service",
        _ => "has no rinit equivalent",
    })
}
