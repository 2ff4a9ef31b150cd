//! Configuration: the TOML schema of DESIGN §2, its defaults, and its validation, with
//! every error pointing at `FILE:LINE:COL`.
//!
//! Loading takes two passes. serde first reads each file into "raw" structs whose fields
//! are `Option<Spanned<…>>`; that catches TOML syntax errors, unknown keys and wrong types,
//! with their byte positions. Then the `Checker` turns raw values into the clean types
//! below, so every semantic error (a bad signal, an empty `exec`, …) points at the exact
//! value. Finally the services of all files are merged and their dependency graph is
//! checked with [`crate::graph`].
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

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::{Spanned, Value};

use crate::graph::{Graph, GraphError};
use crate::pattern::Pattern;
use crate::signals;

/// The name of the service that runs the command given after `--`.
pub const MAIN: &str = "main";
/// The cap on `shutdown_timeout`, `stop_timeout` and `stop_delay`.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = MAX_TIMEOUT;
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest path a UNIX socket address can hold (`sun_path` minus its NUL).
const MAX_SOCKET_PATH: usize = 107;

// ---------------------------------------------------------------------------------------
// The clean configuration
// ---------------------------------------------------------------------------------------

/// Where something was defined: a file and a 1-based line and column. Line 0 means "no
/// position" (a file that cannot be read, the command line).
#[derive(Clone, Debug, PartialEq, Eq)]
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

    fn whole_file(file: &Path, message: impl Into<String>) -> ConfigError {
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
#[derive(Clone, Debug, PartialEq)]
pub struct Global {
    /// From the shutdown trigger to exit; at most 30 s.
    pub shutdown_timeout: Duration,
    /// The final sweep kills whatever still holds these ports.
    pub sweep_ports: Vec<PortSpec>,
    /// The final sweep kills processes whose command line matches one of these regexes.
    pub sweep_patterns: Vec<String>,
    /// Where the control socket listens; `None` leaves the choice to the caller.
    pub control_socket: Option<PathBuf>,
    /// VM mode only.
    pub hostname: Option<String>,
}

impl Default for Global {
    fn default() -> Global {
        Global {
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            sweep_ports: Vec::new(),
            sweep_patterns: Vec::new(),
            control_socket: None,
            hostname: None,
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
        let port = parse_port(number).map_err(|e| format!("bad port {text:?}: {e}"))?;
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

const PORT_EXPECTED: &str = "expected a port number, \"tcp/PORT\" or \"udp/PORT\"";

/// One `[service.NAME]` table, validated, with every default filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceConfig {
    pub name: String,
    /// Where the service's table starts.
    pub origin: Origin,
    /// The argv to run, as bytes (`-- COMMAND` may hold any). Empty only for a `main`
    /// waiting for `-- COMMAND`.
    pub exec: Vec<OsString>,
    pub shell: bool,
    pub after: Vec<String>,
    pub oneshot: bool,
    pub restart: Restart,
    pub critical: bool,
    pub ready: Option<Ready>,
    pub ready_timeout: Duration,
    pub stop_signal: i32,
    pub stop_timeout: Duration,
    pub stop_mode: StopMode,
    pub stop_exec: Option<Vec<String>>,
    pub stop_delay: Duration,
    pub success_codes: Vec<i32>,
    pub ports: Vec<PortSpec>,
    pub patterns: Vec<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub workdir: Option<PathBuf>,
    /// Sorted by name.
    pub env: Vec<(String, String)>,
    pub log: LogTarget,
}

impl ServiceConfig {
    /// A service with every default and no `exec`. `main` gets its own defaults:
    /// `critical = true` and `log = "inherit"`.
    pub fn new(name: &str, origin: Origin) -> ServiceConfig {
        let is_main = name == MAIN;
        ServiceConfig {
            name: name.to_string(),
            origin,
            exec: Vec::new(),
            shell: false,
            after: Vec::new(),
            oneshot: false,
            restart: Restart::Never,
            critical: is_main,
            ready: None,
            ready_timeout: DEFAULT_READY_TIMEOUT,
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
            env: Vec::new(),
            log: if is_main {
                LogTarget::Inherit
            } else {
                LogTarget::Prefix
            },
        }
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
        main.after = self.services.iter().map(|s| s.name.clone()).collect();
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

// ---------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------

/// The configuration path to use without `-c`: `$RINIT_CONFIG`, else
/// `/etc/rinit/rinit.toml` if it exists, else `/etc/rinit/rinit.d/` if it exists.
pub fn default_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RINIT_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    ["/etc/rinit/rinit.toml", "/etc/rinit/rinit.d"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Loads a TOML file, or every `*.toml` file of a directory in lexical order.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let metadata = std::fs::metadata(path)
        .map_err(|e| ConfigError::whole_file(path, format!("cannot read: {e}")))?;
    let paths = if metadata.is_dir() {
        toml_files_in(path)?
    } else {
        vec![path.to_path_buf()]
    };
    let mut files = Vec::with_capacity(paths.len());
    for file in paths {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| ConfigError::whole_file(&file, format!("cannot read: {e}")))?;
        files.push((file, text));
    }
    load_files(&files)
}

/// Loads one configuration held in memory; `file` names it in messages.
pub fn load_str(file: &str, text: &str) -> Result<Loaded, ConfigError> {
    load_files(&[(PathBuf::from(file), text.to_string())])
}

/// The regular files named `*.toml` (not hidden) in `dir`, sorted by name.
fn toml_files_in(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| ConfigError::whole_file(dir, format!("cannot list directory: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry
            .map_err(|e| ConfigError::whole_file(dir, format!("cannot list directory: {e}")))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        if name.ends_with(".toml") && !name.starts_with('.') && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Parses, validates and merges `(path, text)` files, in that order.
fn load_files(files: &[(PathBuf, String)]) -> Result<Loaded, ConfigError> {
    let mut global = GlobalPatch::default();
    let mut services: Vec<Parsed> = Vec::new();
    let mut warnings = Vec::new();
    for (path, text) in files {
        let mut checker = Checker {
            path,
            text,
            line_starts: line_starts(text),
            warnings: Vec::new(),
        };
        let raw = checker.parse()?;
        if let Some(table) = raw.rinit {
            global.override_with(checker.global(table)?);
        }
        for (name, table) in in_order_of_appearance(raw.service) {
            add_unique(&mut services, checker.service(name, table)?)?;
        }
        warnings.append(&mut checker.warnings);
    }
    let (rinit, global_warning) = global.finish();
    warnings.extend(global_warning);
    let services = resolve_dependencies(services)?;
    Ok(Loaded {
        config: Config { rinit, services },
        warnings,
    })
}

type RawServices = BTreeMap<Spanned<String>, Spanned<RawService>>;

/// The services of one file, sorted by where their name appears.
fn in_order_of_appearance(
    services: Option<RawServices>,
) -> Vec<(Spanned<String>, Spanned<RawService>)> {
    let mut list: Vec<_> = services.unwrap_or_default().into_iter().collect();
    list.sort_by_key(|(name, _)| name.span().start);
    list
}

/// Appends `service`, unless a service of that name is already defined.
fn add_unique(services: &mut Vec<Parsed>, service: Parsed) -> Result<(), ConfigError> {
    let name = &service.config.name;
    if let Some(first) = services.iter().find(|s| s.config.name == *name) {
        return Err(ConfigError::at(
            &service.config.origin,
            format!(
                "service {name:?} is already defined at {}",
                first.config.origin
            ),
        ));
    }
    services.push(service);
    Ok(())
}

/// Checks the dependency graph of all services, then fills `main`'s implicit `after`.
fn resolve_dependencies(parsed: Vec<Parsed>) -> Result<Vec<ServiceConfig>, ConfigError> {
    let graph = Graph::new(
        parsed
            .iter()
            .map(|p| (p.config.name.as_str(), p.config.after.as_slice())),
    )
    .map_err(|e| graph_error(&parsed, e))?;
    let implicit_main = parsed
        .iter()
        .position(|p| p.config.name == MAIN && !p.after_given);
    let mut services: Vec<ServiceConfig> = parsed.into_iter().map(|p| p.config).collect();
    if let Some(main) = implicit_main {
        let dependents = graph.dependents(main);
        let others: Vec<String> = services
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != main && !dependents.contains(i))
            .map(|(_, s)| s.name.clone())
            .collect();
        if let Some(main) = services.get_mut(main) {
            main.after = others;
        }
    }
    Ok(services)
}

/// A graph error as a configuration error, placed at the `after` entry at fault.
fn graph_error(parsed: &[Parsed], error: GraphError) -> ConfigError {
    let find = |name: &str| parsed.iter().find(|p| p.config.name == name);
    let (origin, message) = match &error {
        GraphError::UnknownDependency {
            service,
            dep,
            index,
        } => {
            let at = find(service).and_then(|p| p.after_at.get(*index));
            let hint = if dep == MAIN {
                "; to order a service after -- COMMAND, declare an empty [service.main]"
            } else {
                ""
            };
            let expected = "expected the name of a service";
            (
                at,
                format!("after: unknown service {dep:?} ({expected}{hint})"),
            )
        }
        GraphError::Cycle(names) => {
            // The first service of the printed cycle, at its entry for the second one.
            let at = names.first().and_then(|a| find(a)).map(|p| {
                let index = names
                    .get(1)
                    .and_then(|b| p.config.after.iter().position(|d| d == b));
                index
                    .and_then(|i| p.after_at.get(i))
                    .unwrap_or(&p.config.origin)
            });
            (at, error.to_string())
        }
        GraphError::DuplicateService { name, .. } => {
            (find(name).map(|p| &p.config.origin), error.to_string())
        }
    };
    let fallback = Origin {
        file: PathBuf::from("configuration"),
        line: 0,
        col: 0,
    };
    ConfigError::at(origin.unwrap_or(&fallback), message)
}

// ---------------------------------------------------------------------------------------
// Raw structs: what serde reads, with positions
// ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    rinit: Option<RawGlobal>,
    service: Option<RawServices>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGlobal {
    shutdown_timeout: Option<Spanned<Value>>,
    sweep_ports: Option<Vec<Spanned<Value>>>,
    sweep_patterns: Option<Vec<Spanned<String>>>,
    control_socket: Option<Spanned<String>>,
    hostname: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    exec: Option<Spanned<Value>>,
    shell: Option<bool>,
    after: Option<Vec<Spanned<String>>>,
    oneshot: Option<bool>,
    restart: Option<Spanned<String>>,
    critical: Option<bool>,
    ready: Option<Spanned<String>>,
    ready_timeout: Option<Spanned<Value>>,
    stop_signal: Option<Spanned<Value>>,
    stop_timeout: Option<Spanned<Value>>,
    stop_mode: Option<Spanned<String>>,
    stop_exec: Option<Spanned<Value>>,
    stop_delay: Option<Spanned<Value>>,
    success_codes: Option<Spanned<Vec<Spanned<Value>>>>,
    ports: Option<Vec<Spanned<Value>>>,
    patterns: Option<Vec<Spanned<String>>>,
    user: Option<Spanned<Value>>,
    group: Option<Spanned<Value>>,
    workdir: Option<Spanned<String>>,
    env: Option<BTreeMap<Spanned<String>, Spanned<Value>>>,
    log: Option<Spanned<String>>,
}

/// A validated service and what is needed to check it against the others.
struct Parsed {
    config: ServiceConfig,
    /// Where each `after` entry is, for unknown-dependency and cycle errors.
    after_at: Vec<Origin>,
    /// The table sets `after` (matters for `main` only).
    after_given: bool,
}

/// The `[rinit]` keys one file sets; later files override earlier ones key by key.
#[derive(Default)]
struct GlobalPatch {
    /// The value and the warning if it was clamped.
    shutdown_timeout: Option<(Duration, Option<String>)>,
    sweep_ports: Option<Vec<PortSpec>>,
    sweep_patterns: Option<Vec<String>>,
    control_socket: Option<PathBuf>,
    hostname: Option<String>,
}

impl GlobalPatch {
    fn override_with(&mut self, later: GlobalPatch) {
        fn take<T>(slot: &mut Option<T>, later: Option<T>) {
            if later.is_some() {
                *slot = later;
            }
        }
        take(&mut self.shutdown_timeout, later.shutdown_timeout);
        take(&mut self.sweep_ports, later.sweep_ports);
        take(&mut self.sweep_patterns, later.sweep_patterns);
        take(&mut self.control_socket, later.control_socket);
        take(&mut self.hostname, later.hostname);
    }

    /// The merged `[rinit]` table with defaults, and the warning of the value kept.
    fn finish(self) -> (Global, Option<String>) {
        let (shutdown_timeout, warning) = self
            .shutdown_timeout
            .unwrap_or((DEFAULT_SHUTDOWN_TIMEOUT, None));
        let global = Global {
            shutdown_timeout,
            sweep_ports: self.sweep_ports.unwrap_or_default(),
            sweep_patterns: self.sweep_patterns.unwrap_or_default(),
            control_socket: self.control_socket,
            hostname: self.hostname,
        };
        (global, warning)
    }
}

// ---------------------------------------------------------------------------------------
// Validation of one file
// ---------------------------------------------------------------------------------------

/// Validates the raw values of one file, turning byte spans into `FILE:LINE:COL`.
struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
    /// Byte offset of the start of every line, for positions without rescanning.
    line_starts: Vec<usize>,
    warnings: Vec<String>,
}

impl Checker<'_> {
    fn parse(&self) -> Result<RawFile, ConfigError> {
        toml::from_str(self.text).map_err(|e| match e.span() {
            Some(span) => self.error(&span, self.syntax_message(e.message(), &span)),
            None => ConfigError::whole_file(self.path, e.message()),
        })
    }

    /// toml's message, naming the key when it says only "duplicate key".
    fn syntax_message(&self, message: &str, span: &Range<usize>) -> String {
        match self.text.get(span.clone()) {
            Some(key) if message == "duplicate key" => format!("duplicate key `{key}`"),
            _ => message.to_string(),
        }
    }

    fn origin(&self, span: &Range<usize>) -> Origin {
        let (line, col) = line_col_indexed(self.text, &self.line_starts, span.start);
        Origin {
            file: self.path.to_path_buf(),
            line,
            col,
        }
    }

    fn error(&self, span: &Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::at(&self.origin(span), message)
    }

    /// `check(value)`, or `default` if the key is absent; an error names `key`.
    fn field<T, U>(
        &self,
        key: &str,
        value: Option<Spanned<T>>,
        default: U,
        check: impl FnOnce(T) -> Result<U, String>,
    ) -> Result<U, ConfigError> {
        match value {
            None => Ok(default),
            Some(value) => self.checked(key, value, check),
        }
    }

    /// `check(value)`, an error placed at the value and naming `key`.
    fn checked<T, U>(
        &self,
        key: &str,
        value: Spanned<T>,
        check: impl FnOnce(T) -> Result<U, String>,
    ) -> Result<U, ConfigError> {
        let span = value.span();
        check(value.into_inner()).map_err(|e| self.error(&span, format!("{key}: {e}")))
    }

    /// `check` applied to each element of a list (absent: empty).
    fn list<T, U>(
        &self,
        key: &str,
        values: Option<Vec<Spanned<T>>>,
        check: impl Fn(T) -> Result<U, String>,
    ) -> Result<Vec<U>, ConfigError> {
        let values = values.unwrap_or_default();
        values
            .into_iter()
            .map(|v| self.checked(key, v, &check))
            .collect()
    }

    /// A duration clamped to [`MAX_TIMEOUT`], with the warning if it was clamped.
    fn capped_duration(
        &self,
        key: &str,
        value: Option<Spanned<Value>>,
        default: Duration,
    ) -> Result<(Duration, Option<String>), ConfigError> {
        let span = value.as_ref().map(Spanned::span);
        let duration = self.field(key, value, default, duration_value)?;
        match span {
            Some(span) if duration > MAX_TIMEOUT => {
                let place = self.origin(&span);
                let max = MAX_TIMEOUT;
                let warning = format!(
                    "{place}: {key} = {duration:?} is above the maximum of {max:?}; using {max:?}"
                );
                Ok((MAX_TIMEOUT, Some(warning)))
            }
            _ => Ok((duration, None)),
        }
    }

    /// Like [`Checker::capped_duration`], keeping the warning with the file's warnings.
    fn service_duration(
        &mut self,
        key: &str,
        value: Option<Spanned<Value>>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        let (duration, warning) = self.capped_duration(key, value, default)?;
        self.warnings.extend(warning);
        Ok(duration)
    }

    fn global(&self, raw: RawGlobal) -> Result<GlobalPatch, ConfigError> {
        let shutdown_timeout = match raw.shutdown_timeout {
            None => None,
            Some(v) => Some(self.capped_duration("shutdown_timeout", Some(v), MAX_TIMEOUT)?),
        };
        Ok(GlobalPatch {
            shutdown_timeout,
            sweep_ports: self.optional_list("sweep_ports", raw.sweep_ports, port_value)?,
            sweep_patterns: self.optional_list("sweep_patterns", raw.sweep_patterns, regex)?,
            control_socket: self.field("control_socket", raw.control_socket, None, |s| {
                socket_path(&s).map(Some)
            })?,
            hostname: self.field("hostname", raw.hostname, None, |h| hostname(h).map(Some))?,
        })
    }

    /// Like [`Checker::list`], but `None` when the key is absent (for `[rinit]` merging).
    fn optional_list<T, U>(
        &self,
        key: &str,
        values: Option<Vec<Spanned<T>>>,
        check: impl Fn(T) -> Result<U, String>,
    ) -> Result<Option<Vec<U>>, ConfigError> {
        match values {
            None => Ok(None),
            some => self.list(key, some, check).map(Some),
        }
    }

    fn service(
        &mut self,
        name: Spanned<String>,
        table: Spanned<RawService>,
    ) -> Result<Parsed, ConfigError> {
        service_name(name.get_ref()).map_err(|e| self.error(&name.span(), e))?;
        let origin = self.origin(&table.span());
        let mut config = ServiceConfig::new(name.get_ref(), origin);
        let mut raw = table.into_inner();
        let after_given = raw.after.is_some();
        let after = raw.after.take().unwrap_or_default();
        config.after = after.iter().map(|a| a.get_ref().clone()).collect();
        let after_at = after.iter().map(|a| self.origin(&a.span())).collect();
        self.command_keys(&mut config, &mut raw)?;
        self.lifecycle_keys(&mut config, &mut raw)?;
        self.stop_keys(&mut config, &mut raw)?;
        self.process_keys(&mut config, &mut raw)?;
        Ok(Parsed {
            config,
            after_at,
            after_given,
        })
    }

    /// `shell`, `exec`, `stop_exec`.
    fn command_keys(&self, s: &mut ServiceConfig, raw: &mut RawService) -> Result<(), ConfigError> {
        s.shell = raw.shell.unwrap_or(false);
        let shell = s.shell;
        if raw.exec.is_none() && s.name != MAIN {
            let expected = "expected exec = \"PROGRAM ARGS\" or exec = [\"PROGRAM\", \"ARG\"]";
            let message = format!("service {:?} has no exec: {expected}", s.name);
            return Err(ConfigError::at(&s.origin, message));
        }
        s.exec = self.field("exec", raw.exec.take(), Vec::new(), |v| {
            command_value(v, shell).map(|argv| argv.into_iter().map(OsString::from).collect())
        })?;
        s.stop_exec = self.field("stop_exec", raw.stop_exec.take(), None, |v| {
            command_value(v, shell).map(Some)
        })?;
        Ok(())
    }

    /// `oneshot`, `restart`, `critical`, `ready`, `ready_timeout`, `success_codes`.
    fn lifecycle_keys(
        &self,
        s: &mut ServiceConfig,
        raw: &mut RawService,
    ) -> Result<(), ConfigError> {
        s.oneshot = raw.oneshot.unwrap_or(false);
        s.critical = raw.critical.unwrap_or(s.critical);
        let (oneshot, shell) = (s.oneshot, s.shell);
        s.restart = self.field("restart", raw.restart.take(), Restart::Never, |r| {
            let restart = restart_value(&r)?;
            if oneshot && restart == Restart::Always {
                return Err(
                    "a oneshot cannot restart always (use \"on-failure\" to retry it)".into(),
                );
            }
            Ok(restart)
        })?;
        s.ready = self.field("ready", raw.ready.take(), None, |r| {
            if oneshot {
                return Err(
                    "a oneshot is ready when it exits with a success code; remove ready".into(),
                );
            }
            ready_value(&r, shell).map(Some)
        })?;
        let ready_timeout = raw.ready_timeout.take();
        s.ready_timeout = self.field(
            "ready_timeout",
            ready_timeout,
            DEFAULT_READY_TIMEOUT,
            duration_value,
        )?;
        if let Some(codes) = raw.success_codes.take() {
            let span = codes.span();
            s.success_codes = self.list("success_codes", Some(codes.into_inner()), exit_code)?;
            if s.success_codes.is_empty() {
                let message = "success_codes: expected at least one exit code, like [0]";
                return Err(self.error(&span, message));
            }
        }
        Ok(())
    }

    /// `stop_signal`, `stop_timeout`, `stop_mode`, `stop_delay`, `ports`, `patterns`.
    fn stop_keys(
        &mut self,
        s: &mut ServiceConfig,
        raw: &mut RawService,
    ) -> Result<(), ConfigError> {
        s.stop_signal = self.field(
            "stop_signal",
            raw.stop_signal.take(),
            libc::SIGTERM,
            signal_value,
        )?;
        s.stop_timeout = self.service_duration(
            "stop_timeout",
            raw.stop_timeout.take(),
            DEFAULT_STOP_TIMEOUT,
        )?;
        s.stop_mode = self.field("stop_mode", raw.stop_mode.take(), StopMode::Tree, |m| {
            stop_mode_value(&m)
        })?;
        s.stop_delay =
            self.service_duration("stop_delay", raw.stop_delay.take(), Duration::ZERO)?;
        s.ports = self.list("ports", raw.ports.take(), port_value)?;
        s.patterns = self.list("patterns", raw.patterns.take(), regex)?;
        Ok(())
    }

    /// `user`, `group`, `workdir`, `env`, `log`.
    fn process_keys(&self, s: &mut ServiceConfig, raw: &mut RawService) -> Result<(), ConfigError> {
        s.user = self.field("user", raw.user.take(), None, |v| {
            account_value(v).map(Some)
        })?;
        s.group = self.field("group", raw.group.take(), None, |v| {
            account_value(v).map(Some)
        })?;
        s.workdir = self.field("workdir", raw.workdir.take(), None, |w| {
            absolute_path(&w).map(Some)
        })?;
        let default_log = s.log.clone();
        s.log = self.field("log", raw.log.take(), default_log, |l| log_value(&l))?;
        for (key, value) in raw.env.take().unwrap_or_default() {
            env_name(key.get_ref()).map_err(|e| self.error(&key.span(), format!("env: {e}")))?;
            let value = self.checked("env", value, env_value)?;
            s.env.push((key.into_inner(), value));
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
/// Where each line of `text` starts.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// 1-based line and column (in characters) of a byte offset, using `line_starts`:
/// a binary search for the line, then a count within it.
fn line_col_indexed(text: &str, starts: &[usize], offset: usize) -> (usize, usize) {
    let line = starts.partition_point(|&s| s <= offset).max(1);
    let start = starts.get(line - 1).copied().unwrap_or(0);
    let before = text.get(start..).map_or(0, |t| {
        t.char_indices()
            .take_while(|(i, _)| start + i < offset)
            .count()
    });
    (line, before + 1)
}

#[cfg(test)]
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    line_col_indexed(text, &line_starts(text), offset)
}

// ---------------------------------------------------------------------------------------
// Value checks: pure functions from a TOML value to a clean one, or what was expected
// ---------------------------------------------------------------------------------------

/// A service name: letters, digits, `-`, `_`, `.` and `@`.
fn service_name(name: &str) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_.@".contains(c);
    if name.is_empty() || !name.chars().all(ok) {
        return Err(format!(
            "invalid service name {name:?}: expected letters, digits, '-', '_', '.' or '@'"
        ));
    }
    Ok(())
}

/// A command: an array of strings (argv), or a string split into words, or run by
/// `/bin/sh -c` when `shell` is set.
fn command_value(value: Value, shell: bool) -> Result<Vec<String>, String> {
    let argv = match value {
        Value::String(s) if shell => {
            if s.trim().is_empty() {
                Vec::new()
            } else {
                vec!["/bin/sh".into(), "-c".into(), s]
            }
        }
        Value::String(s) => split_command(&s)?,
        Value::Array(items) => items.into_iter().map(argument).collect::<Result<_, _>>()?,
        other => {
            return Err(format!(
                "expected a command string or an array of strings, found {}",
                other.type_str()
            ));
        }
    };
    if argv.first().is_none_or(|program| program.is_empty()) {
        let example = "like \"nginx -g 'daemon off;'\" or [\"nginx\"]";
        return Err(format!(
            "the command is empty: expected a program to run, {example}"
        ));
    }
    if argv.iter().any(|a| a.contains('\0')) {
        return Err("an argument contains a NUL byte".into());
    }
    Ok(argv)
}

fn argument(value: Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(format!(
            "expected every argument to be a string, found {}",
            other.type_str()
        )),
    }
}

/// Splits a command line into words the way a POSIX shell does, without any expansion:
/// blanks separate words; `'…'` keeps everything literally; `"…"` keeps everything but a
/// backslash before `"`, `\`, `$` or `` ` ``; outside quotes a backslash keeps the next
/// character (a backslash-newline joins lines). An unclosed quote is an error.
pub fn split_command(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            if in_word {
                words.push(std::mem::take(&mut word));
                in_word = false;
            }
            continue;
        }
        in_word = true;
        match c {
            '\'' => single_quoted(&mut chars, &mut word)?,
            '"' => double_quoted(&mut chars, &mut word)?,
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(escaped) => word.push(escaped),
                None => return Err("the command ends with a lone backslash".into()),
            },
            _ => word.push(c),
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Reads up to the closing `'`, the opening one already read.
fn single_quoted(chars: &mut std::str::Chars<'_>, word: &mut String) -> Result<(), String> {
    for c in chars.by_ref() {
        if c == '\'' {
            return Ok(());
        }
        word.push(c);
    }
    Err("unclosed single quote in the command".into())
}

/// Reads up to the closing `"`, the opening one already read.
fn double_quoted(chars: &mut std::str::Chars<'_>, word: &mut String) -> Result<(), String> {
    while let Some(c) = chars.next() {
        match c {
            '"' => return Ok(()),
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(e @ ('"' | '\\' | '$' | '`')) => word.push(e),
                Some(other) => {
                    word.push('\\');
                    word.push(other);
                }
                None => break,
            },
            _ => word.push(c),
        }
    }
    Err("unclosed double quote in the command".into())
}

/// Parses a duration: `"500ms"`, `"10s"`, `"2m"`, `"1h"`, `"1.5s"`, `"1m30s"`, or a bare
/// number of seconds (`"10"`, `"0.5"`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected = || {
        let example = "like \"500ms\", \"10s\" or \"1.5m\"";
        format!("invalid duration {text:?}: expected a number followed by ms, s, m or h, {example}")
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(expected());
    }
    if t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return scaled_nanos(t, NANOS_PER_SECOND)
            .map(Duration::from_nanos)
            .ok_or_else(expected);
    }
    let mut total: u64 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after_number) = rest.split_at_checked(number_len).ok_or_else(expected)?;
        let unit_len = after_number
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number
            .split_at_checked(unit_len)
            .ok_or_else(expected)?;
        let nanos = unit_nanos(unit).and_then(|per_unit| scaled_nanos(number, per_unit));
        total = nanos
            .and_then(|n| total.checked_add(n))
            .ok_or_else(expected)?;
        rest = after_unit;
    }
    Ok(Duration::from_nanos(total))
}

const NANOS_PER_SECOND: u64 = 1_000_000_000;

fn unit_nanos(unit: &str) -> Option<u64> {
    match unit {
        "ms" => Some(1_000_000),
        "s" => Some(NANOS_PER_SECOND),
        "m" => Some(60 * NANOS_PER_SECOND),
        "h" => Some(3600 * NANOS_PER_SECOND),
        _ => None,
    }
}

/// `number` (digits, optionally a `.` and more digits) times `per_unit` nanoseconds,
/// computed exactly; `None` if malformed or too large.
fn scaled_nanos(number: &str, per_unit: u64) -> Option<u64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_only = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) {
        return None;
    }
    if number.ends_with('.') {
        return None;
    }
    let mut nanos = whole.parse::<u64>().ok()?.checked_mul(per_unit)?;
    let mut scale = per_unit;
    for digit in fraction.chars().filter_map(|c| c.to_digit(10)) {
        scale /= 10;
        nanos = nanos.checked_add(u64::from(digit).checked_mul(scale)?)?;
    }
    Some(nanos)
}

/// A duration from a TOML string (see [`parse_duration`]) or number of seconds.
fn duration_value(value: Value) -> Result<Duration, String> {
    match value {
        Value::String(s) => parse_duration(&s),
        Value::Integer(n) => u64::try_from(n)
            .map(Duration::from_secs)
            .map_err(|_| format!("expected a non-negative number of seconds, found {n}")),
        Value::Float(f) => Duration::try_from_secs_f64(f)
            .map_err(|_| format!("expected a non-negative number of seconds, found {f}")),
        other => Err(format!(
            "expected a duration like \"10s\" or a number of seconds, found {}",
            other.type_str()
        )),
    }
}

/// A signal from a name (`"SIGINT"`, `"INT"`, `"RTMIN+3"`) or a number.
fn signal_value(value: Value) -> Result<i32, String> {
    match value {
        Value::String(s) => signals::parse(&s),
        Value::Integer(n) => signals::parse(&n.to_string()),
        other => Err(format!(
            "expected a signal name like \"SIGTERM\" or a number, found {}",
            other.type_str()
        )),
    }
}

fn parse_port(number: &str) -> Result<u16, String> {
    match number.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!(
            "{number:?} is not a port number (expected 1 to 65535)"
        )),
    }
}

/// A port from a TOML integer (TCP) or a string (see [`PortSpec::parse`]).
fn port_value(value: Value) -> Result<PortSpec, String> {
    match value {
        Value::Integer(n) => parse_port(&n.to_string()).map(|port| PortSpec {
            proto: Proto::Tcp,
            port,
        }),
        Value::String(s) => PortSpec::parse(&s),
        other => Err(format!("{PORT_EXPECTED}, found {}", other.type_str())),
    }
}

/// A regular expression that compiles.
fn regex(source: String) -> Result<String, String> {
    Pattern::new(&source).map_err(|e| format!("invalid regular expression {source:?}: {e}"))?;
    Ok(source)
}

fn restart_value(text: &str) -> Result<Restart, String> {
    match text {
        "never" => Ok(Restart::Never),
        "on-failure" => Ok(Restart::OnFailure),
        "always" => Ok(Restart::Always),
        _ => Err(format!(
            "unknown policy {text:?} (expected never, on-failure or always)"
        )),
    }
}

fn stop_mode_value(text: &str) -> Result<StopMode, String> {
    match text {
        "tree" => Ok(StopMode::Tree),
        "group" => Ok(StopMode::Group),
        "main" => Ok(StopMode::Main),
        _ => Err(format!(
            "unknown mode {text:?} (expected tree, group or main)"
        )),
    }
}

fn log_value(text: &str) -> Result<LogTarget, String> {
    match text {
        "prefix" => Ok(LogTarget::Prefix),
        "inherit" => Ok(LogTarget::Inherit),
        "null" => Ok(LogTarget::Null),
        path if path.starts_with('/') => Ok(LogTarget::File(PathBuf::from(path))),
        _ => Err(format!(
            "{text:?} is not a log target (expected prefix, inherit, null or an absolute file path)"
        )),
    }
}

/// `tcp:[HOST:]PORT | file:PATH | exec:COMMAND | notify`.
fn ready_value(text: &str, shell: bool) -> Result<Ready, String> {
    let expected = "expected tcp:[HOST:]PORT, file:PATH, exec:COMMAND or notify";
    if text == "notify" {
        return Ok(Ready::Notify);
    }
    let Some((kind, rest)) = text.split_once(':') else {
        return Err(format!("unknown probe {text:?} ({expected})"));
    };
    match kind {
        "tcp" => ready_tcp(rest),
        "file" => absolute_path(rest).map(Ready::File),
        "exec" => command_value(Value::String(rest.to_string()), shell).map(Ready::Exec),
        _ => Err(format!("unknown probe {text:?} ({expected})")),
    }
}

/// `[HOST:]PORT`, HOST possibly an IPv6 address, bracketed or not.
fn ready_tcp(target: &str) -> Result<Ready, String> {
    let (host, port) = match target.rsplit_once(':') {
        Some((host, port)) => (host.trim_start_matches('[').trim_end_matches(']'), port),
        None => ("127.0.0.1", target),
    };
    if host.is_empty() {
        return Err(format!(
            "tcp:{target}: the host is empty (expected tcp:[HOST:]PORT)"
        ));
    }
    Ok(Ready::Tcp {
        host: host.to_string(),
        port: parse_port(port)?,
    })
}

fn absolute_path(text: &str) -> Result<PathBuf, String> {
    if text.starts_with('/') {
        Ok(PathBuf::from(text))
    } else {
        Err(format!(
            "{text:?} is not an absolute path (expected a path starting with /)"
        ))
    }
}

fn socket_path(text: &str) -> Result<PathBuf, String> {
    if text.len() > MAX_SOCKET_PATH {
        return Err(format!(
            "{text:?} is too long for a socket (at most {MAX_SOCKET_PATH} bytes)"
        ));
    }
    absolute_path(text)
}

fn hostname(name: String) -> Result<String, String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok) {
        return Err(format!(
            "invalid hostname {name:?} (expected 1 to 64 letters, digits, '-' or '.')"
        ));
    }
    Ok(name)
}

/// A user or group: a name, or a numeric id as a string or integer.
fn account_value(value: Value) -> Result<String, String> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(s),
        Value::Integer(n) if n >= 0 => Ok(n.to_string()),
        other => Err(format!("expected a name or a numeric id, found {other}")),
    }
}

fn exit_code(value: Value) -> Result<i32, String> {
    match value {
        Value::Integer(code) => match i32::try_from(code) {
            Ok(c) if (0..=255).contains(&c) => Ok(c),
            _ => Err(format!("{code} is not an exit code (expected 0 to 255)")),
        },
        other => Err(format!(
            "expected an exit code (0 to 255), found {}",
            other.type_str()
        )),
    }
}

fn env_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Err(format!(
            "invalid variable name {name:?} (it must be non-empty, without '=')"
        ));
    }
    Ok(())
}

/// An environment value: a string, or a number or boolean written as text.
fn env_value(value: Value) -> Result<String, String> {
    let text = match value {
        Value::String(s) => s,
        Value::Integer(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        other => return Err(format!("expected a string, found {}", other.type_str())),
    };
    if text.contains('\0') {
        return Err("a value cannot contain a NUL byte".into());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
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
        let text =
            "[service.a]\nexec = \"a\"\n[service.b]\nexec = \"b\"\nafter = [\"a\", \"nope\"]\n";
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
        let expected =
            "conf/x.toml:3:13: stop_mode: unknown mode \"x\" (expected tree, group or main)";
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
        let app =
            "[rinit]\nshutdown_timeout = \"5s\"\n[service.app]\nexec = \"app\"\nafter = [\"db\"]";
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
}
