//! Configuration: the TOML schema of DESIGN §2, its defaults, and its validation, with
//! every error pointing at `FILE:LINE:COL`.
//!
//! The schema is written once: [`ServiceConfig`] and [`Global`] are what serde reads from
//! a file (each field's kind of value is checked by an adapter in [`values`]) and what the
//! rest of rinit uses. A new key is a field here, its default in the `Default` impl and,
//! if it is a new kind of value, an adapter in `values`. The rules that involve more than
//! one key (`shell` changes how `exec` is read; a oneshot cannot restart always; `main`'s
//! own defaults; the 30 s cap) are the one validation pass in [`load`], which also merges
//! the files and checks the dependency graph with [`crate::graph`].
//!
//! Choices made here:
//! - A directory loads its `*.toml` files (not hidden ones, not sub-directories) in lexical
//!   order. `[rinit]` keys of a later file override the same keys of an earlier file; a
//!   service defined in two files is an error naming both places. Services keep their
//!   order of appearance, file after file.
//! - A command string (`exec`, `stop_exec`, `ready = "exec:…"`) is split into words like a
//!   shell would (quotes and backslashes, no expansion) by [`split_command`]; with
//!   `shell = true` a string runs as `/bin/sh -c STRING` instead. Arrays are argv as written.
//! - `shutdown_timeout`, `stop_timeout` and `stop_delay` above 30 s are clamped to 30 s with
//!   a warning naming the place and the key.
//! - The service named `main` is the `-- COMMAND` of the command line. Its `exec` is
//!   optional in files: [`Config::with_main`] sets it from the command line (replacing any
//!   `exec`), and [`Config::require_exec`] reports a `main` left without one. Its defaults
//!   differ: `critical = true`, `log = "inherit"`, and unless it sets `after` itself it is
//!   after every other service except those that depend on it. To order a service after
//!   the command, declare `[service.main]` (an empty table is enough).
//! - A oneshot cannot have `restart = "always"` or a `ready` probe: it is ready when it
//!   exits with a success code.
//! - Paths (`workdir`, a `log` file, `ready = "file:…"`, `control_socket`) must be absolute.

mod env;
mod load;
#[cfg(test)]
mod tests;
pub mod values;

pub use load::{default_path, load, load_str};
pub use values::{parse_duration, split_command};

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::graph::{Graph, GraphError};

/// The name of the service that runs the command given after `--`.
pub const MAIN: &str = "main";
/// The cap on `shutdown_timeout`, `stop_timeout` and `stop_delay`.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = MAX_TIMEOUT;
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest path a UNIX socket address can hold (`sun_path` minus its NUL).
pub(crate) const MAX_SOCKET_PATH: usize = 107;

// ---------------------------------------------------------------------------------------
// The clean configuration
// ---------------------------------------------------------------------------------------

/// Where something was defined: a file and a 1-based line and column. Line 0 means "no
/// position" (a file that cannot be read, the command line).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl Origin {
    /// The origin of the `main` service made from `-- COMMAND`.
    pub fn command_line() -> Origin {
        Origin {
            file: PathBuf::from("command line"),
            line: 0,
            col: 0,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
        }
    }
}

/// A configuration that cannot be used. Displays as `FILE:LINE:COL: message`, or
/// `FILE: message` when there is no position (line 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl ConfigError {
    pub fn at(origin: &Origin, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: origin.file.clone(),
            line: origin.line,
            col: origin.col,
            message: message.into(),
        }
    }

    pub(crate) fn whole_file(file: &Path, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            line: 0,
            col: 0,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = Origin {
            file: self.file.clone(),
            line: self.line,
            col: self.col,
        };
        write!(f, "{origin}: {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A configuration and the warnings found while loading it (clamped values).
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// The whole configuration: the `[rinit]` table and the services, in order of appearance.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Config {
    pub rinit: Global,
    pub services: Vec<ServiceConfig>,
}

/// The `[rinit]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Global {
    /// From the shutdown trigger to exit; at most 30 s.
    #[serde(deserialize_with = "values::duration")]
    pub shutdown_timeout: Duration,
    /// The final sweep kills whatever still holds these ports.
    pub sweep_ports: Vec<PortSpec>,
    /// The final sweep kills processes whose command line matches one of these regexes.
    #[serde(deserialize_with = "values::patterns")]
    pub sweep_patterns: Vec<String>,
    /// Where the control socket listens; `None` leaves the choice to the caller.
    #[serde(deserialize_with = "values::socket")]
    pub control_socket: Option<PathBuf>,
    /// VM mode only.
    #[serde(deserialize_with = "values::host")]
    pub hostname: Option<String>,
    /// A path for the sd_notify socket instead of an abstract name.
    #[serde(deserialize_with = "values::socket")]
    pub notify_socket: Option<PathBuf>,
    /// `cgroups = "auto"` (true): track services in cgroups where rinit can; `"off"`.
    #[serde(deserialize_with = "values::cgroups")]
    pub cgroups: bool,
}

impl Default for Global {
    fn default() -> Global {
        Global {
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            sweep_ports: Vec::new(),
            sweep_patterns: Vec::new(),
            control_socket: None,
            hostname: None,
            notify_socket: None,
            cgroups: true,
        }
    }
}

/// When a service is started again after it exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    Never,
    OnFailure,
    Always,
}

/// Which processes get the stop signal (DESIGN §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    /// Every process of the service, deepest first.
    Tree,
    /// The service's process group.
    Group,
    /// Only the main process.
    Main,
}

/// Where a service's stdout and stderr go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    /// Lines prefixed with the service name, on rinit's stdout.
    Prefix,
    /// rinit's own stdout and stderr.
    Inherit,
    /// /dev/null.
    Null,
    /// Appended to this file.
    File(PathBuf),
}

/// How rinit knows a service is ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ready {
    /// A TCP connection to HOST:PORT succeeds.
    Tcp { host: String, port: u16 },
    /// This file exists.
    File(PathBuf),
    /// This command exits 0.
    Exec(Vec<String>),
    /// The service sends `READY=1` on the sd_notify socket.
    Notify,
    /// An HTTP GET answers with a status from 200 to 399.
    Http(HttpTarget),
}

/// One entry of `limits`: `u64::MAX` is unlimited; no hard value keeps the hard limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitValue {
    pub name: String,
    pub soft: u64,
    pub hard: Option<u64>,
}

/// How rinit knows a running service still works (`health = …`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthProbe {
    /// This command exits 0 within `health_timeout`.
    Exec(Vec<String>),
    /// A TCP connection to HOST:PORT succeeds within `health_timeout`.
    Tcp { host: String, port: u16 },
    /// An HTTP GET answers 200 to 399 within `health_timeout`.
    Http(HttpTarget),
}

/// `http://HOST[:PORT][/PATH]`: HOST an IP address, `localhost` or a name in /etc/hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTarget {
    pub host: String,
    pub port: u16,
    /// Starts with `/`; may hold a query.
    pub path: String,
}

/// A transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// A port: `8080` or `"tcp/8080"` (TCP), `"udp/5353"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortSpec {
    pub proto: Proto,
    pub port: u16,
}

impl PortSpec {
    /// Parses `"8080"`, `"tcp/8080"` or `"udp/5353"`.
    pub fn parse(text: &str) -> Result<PortSpec, String> {
        let (proto, number) = match text.split_once('/') {
            None => (Proto::Tcp, text),
            Some(("tcp", n)) => (Proto::Tcp, n),
            Some(("udp", n)) => (Proto::Udp, n),
            Some(_) => return Err(format!("bad port {text:?}: {PORT_EXPECTED}")),
        };
        let port = values::parse_port(number).map_err(|e| format!("bad port {text:?}: {e}"))?;
        Ok(PortSpec { proto, port })
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = match self.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        write!(f, "{proto}/{}", self.port)
    }
}

pub(crate) const PORT_EXPECTED: &str = "expected a port number, \"tcp/PORT\" or \"udp/PORT\"";

/// One `[service.NAME]` table, validated, with every default filled in. The field order
/// is the order `rinit check` lists the keys in when it meets an unknown one.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    #[serde(skip)]
    pub name: String,
    /// Where the service's table starts.
    #[serde(skip)]
    pub origin: Origin,
    /// For `NAME@N`, one of the `instances` of NAME: NAME.
    #[serde(skip)]
    pub instance_of: Option<String>,

    /// The argv to run, as bytes (`-- COMMAND` may hold any). Empty only for a `main`
    /// waiting for `-- COMMAND`.
    #[serde(deserialize_with = "values::exec")]
    pub exec: Vec<OsString>,
    pub shell: bool,
    pub after: Vec<String>,
    /// false: configured and checked, started only by `ctl start`.
    pub enabled: bool,
    /// How many copies run, as `NAME@1` … `NAME@N` (`{instance}` in its strings is N).
    #[serde(deserialize_with = "values::instances")]
    pub instances: u32,
    pub oneshot: bool,
    pub restart: Restart,
    pub critical: bool,
    #[serde(deserialize_with = "values::ready")]
    pub ready: Option<Ready>,
    #[serde(deserialize_with = "values::duration")]
    pub ready_timeout: Duration,
    /// A liveness check: after `health_retries` failures in a row the service is
    /// restarted.
    #[serde(deserialize_with = "values::health")]
    pub health: Option<HealthProbe>,
    #[serde(deserialize_with = "values::interval")]
    pub health_interval: Duration,
    #[serde(deserialize_with = "values::interval")]
    pub health_timeout: Duration,
    #[serde(deserialize_with = "values::retries")]
    pub health_retries: u32,
    #[serde(deserialize_with = "values::duration")]
    pub health_start_period: Duration,
    /// sd_notify's watchdog: `WATCHDOG=1` at least this often while it runs.
    #[serde(deserialize_with = "values::watchdog")]
    pub watchdog: Option<Duration>,
    #[serde(deserialize_with = "values::signal")]
    pub stop_signal: i32,
    #[serde(deserialize_with = "values::duration")]
    pub stop_timeout: Duration,
    pub stop_mode: StopMode,
    #[serde(deserialize_with = "values::stop_exec")]
    pub stop_exec: Option<Vec<String>>,
    #[serde(deserialize_with = "values::duration")]
    pub stop_delay: Duration,
    #[serde(deserialize_with = "values::success_codes")]
    pub success_codes: Vec<i32>,
    pub ports: Vec<PortSpec>,
    #[serde(deserialize_with = "values::service_patterns")]
    pub patterns: Vec<String>,
    #[serde(deserialize_with = "values::account")]
    pub user: Option<String>,
    #[serde(deserialize_with = "values::account")]
    pub group: Option<String>,
    #[serde(deserialize_with = "values::absolute")]
    pub workdir: Option<PathBuf>,
    /// Resource limits, by name (`nofile`, `nproc`, `core`, `memlock`, …), sorted.
    #[serde(deserialize_with = "values::limits")]
    pub limits: Vec<LimitValue>,
    #[serde(deserialize_with = "values::nice")]
    pub nice: Option<i32>,
    #[serde(deserialize_with = "values::umask")]
    pub umask: Option<u32>,
    #[serde(deserialize_with = "values::oom_score_adj")]
    pub oom_score_adj: Option<i32>,
    /// Sorted by name; the variables of `env_file` included (`env` wins).
    #[serde(deserialize_with = "values::env")]
    pub env: Vec<(String, String)>,
    /// Environment files, read when the configuration is loaded; `-` before a path:
    /// missing is fine.
    #[serde(deserialize_with = "values::env_files")]
    pub env_file: Vec<String>,
    pub log: LogTarget,
    /// `log = "prefix"`: how many bytes of its last lines `ctl logs` can show.
    #[serde(deserialize_with = "values::size")]
    pub log_buffer: usize,
    /// `log = "prefix"`: an RFC 3339 time before each line.
    pub log_timestamps: bool,
    /// `log = "/path"`: rotate the file at this size (rinit then writes it itself).
    #[serde(deserialize_with = "values::file_size")]
    pub log_max_size: Option<u64>,
    /// How many rotated files (`FILE.1` …) are kept.
    #[serde(deserialize_with = "values::keep")]
    pub log_keep: u32,
    /// cgroup limits (applied where rinit tracks services in cgroups and the controller
    /// exists): `memory.max`, `memory.high` in bytes, `pids.max`, `cpu.weight`, `cpu.max`.
    #[serde(deserialize_with = "values::memory")]
    pub memory_max: Option<u64>,
    #[serde(deserialize_with = "values::memory")]
    pub memory_high: Option<u64>,
    #[serde(deserialize_with = "values::pids")]
    pub pids_max: Option<u64>,
    #[serde(deserialize_with = "values::cpu_weight")]
    pub cpu_weight: Option<u32>,
    #[serde(deserialize_with = "values::cpu_max")]
    pub cpu_max: Option<String>,
}

/// The defaults of a service other than `main` (see [`ServiceConfig::new`]).
impl Default for ServiceConfig {
    fn default() -> ServiceConfig {
        ServiceConfig {
            name: String::new(),
            origin: Origin::default(),
            instance_of: None,
            instances: 1,
            exec: Vec::new(),
            shell: false,
            after: Vec::new(),
            enabled: true,
            oneshot: false,
            restart: Restart::Never,
            critical: false,
            ready: None,
            ready_timeout: DEFAULT_READY_TIMEOUT,
            health: None,
            health_interval: Duration::from_secs(10),
            health_timeout: Duration::from_secs(1),
            health_retries: 3,
            health_start_period: Duration::ZERO,
            watchdog: None,
            stop_signal: libc::SIGTERM,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            stop_mode: StopMode::Tree,
            stop_exec: None,
            stop_delay: Duration::ZERO,
            success_codes: vec![0],
            ports: Vec::new(),
            patterns: Vec::new(),
            user: None,
            group: None,
            workdir: None,
            limits: Vec::new(),
            nice: None,
            umask: None,
            oom_score_adj: None,
            env: Vec::new(),
            env_file: Vec::new(),
            log: LogTarget::Prefix,
            log_buffer: 64 * 1024,
            log_timestamps: false,
            log_max_size: None,
            log_keep: 5,
            memory_max: None,
            memory_high: None,
            pids_max: None,
            cpu_weight: None,
            cpu_max: None,
        }
    }
}

impl ServiceConfig {
    /// A service with every default and no `exec`. `main` gets its own defaults:
    /// `critical = true` and `log = "inherit"`.
    pub fn new(name: &str, origin: Origin) -> ServiceConfig {
        let mut service = ServiceConfig {
            name: name.to_string(),
            origin,
            ..ServiceConfig::default()
        };
        service.main_defaults(|_| false);
        service
    }

    /// For `main`, `critical = true` and `log = "inherit"` where `given(KEY)` is false.
    fn main_defaults(&mut self, given: impl Fn(&str) -> bool) {
        if self.name != MAIN {
            return;
        }
        if !given("critical") {
            self.critical = true;
        }
        if !given("log") {
            self.log = LogTarget::Inherit;
        }
    }

    /// Does it speak sd_notify (`ready = "notify"` or a `watchdog`)? It then gets
    /// `NOTIFY_SOCKET`.
    pub fn speaks_notify(&self) -> bool {
        self.ready == Some(Ready::Notify) || self.watchdog.is_some()
    }

    /// True if both describe the same service, wherever their tables are: everything but
    /// `origin` is equal. A reload restarts only services for which this is false. For
    /// `main`, `after` does not count: it is usually "every other service", which any
    /// added or removed service would change, and restarting the main workload for that
    /// is not what a reload is for.
    pub fn same_settings(&self, other: &ServiceConfig) -> bool {
        let mut moved = self.clone();
        moved.origin = other.origin.clone();
        if self.name == MAIN {
            moved.after = other.after.clone();
        }
        // An instance is the same whether its group has 3 or 4 of them.
        moved.instances = other.instances;
        moved == *other
    }
}

impl Config {
    /// The service called `name`.
    #[cfg(test)]
    pub fn service(&self, name: &str) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The dependency graph, with services numbered as in `self.services`. A loaded
    /// configuration has already been checked, so this fails only for one built by hand.
    pub fn graph(&self) -> Result<Graph, GraphError> {
        Graph::new(
            self.services
                .iter()
                .map(|s| (s.name.as_str(), s.after.as_slice())),
        )
    }

    /// Adds `-- COMMAND` as the service `main`. If the configuration has a `main` table,
    /// `argv` replaces its `exec` and its other keys stay; otherwise a new `main` is added,
    /// critical, logging to rinit's own stdout, after every other service.
    pub fn with_main(mut self, argv: Vec<OsString>) -> Result<Config, String> {
        if argv.first().is_none_or(|program| program.is_empty()) {
            return Err("-- needs a COMMAND".to_string());
        }
        if let Some(main) = self.services.iter_mut().find(|s| s.name == MAIN) {
            main.exec = argv;
            return Ok(self);
        }
        let mut main = ServiceConfig::new(MAIN, Origin::command_line());
        // Not after a disabled service: it may never start.
        main.after = (self.services.iter().filter(|s| s.enabled))
            .map(|s| s.name.clone())
            .collect();
        main.exec = argv;
        self.services.push(main);
        Ok(self)
    }

    /// Checks that every service has a command: only a `[service.main]` table can lack
    /// `exec`, and then rinit must be given `-- COMMAND`.
    pub fn require_exec(&self) -> Result<(), ConfigError> {
        match self.services.iter().find(|s| s.exec.is_empty()) {
            None => Ok(()),
            Some(s) => Err(ConfigError::at(
                &s.origin,
                format!(
                    "service {:?} has no exec: give it one, or start rinit with -- COMMAND",
                    s.name
                ),
            )),
        }
    }
}
