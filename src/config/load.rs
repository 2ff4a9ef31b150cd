//! Loading: files in, one [`Config`] out, every error at `FILE:LINE:COL`.
//!
//! serde reads each file twice. Once into the schema ([`ServiceConfig`], [`Global`]): that
//! catches TOML syntax errors, unknown keys and bad values, each at its byte position.
//! Once into its layout: each key's raw value and where it is. The layout names the key
//! of a bad value in its error ("stop_signal: unknown signal …"), lets the rules that
//! involve several keys point at the key they are about, and merges `[rinit]` tables
//! across files key by key. Then the services of all files are put together and their
//! dependency graph is checked.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::{Spanned, Value};

use super::values::{
    Raw, absolute_path, command_for, env_file_for, env_value, expand_for, health_value,
    instance_pattern, log_value, ready_value, service_name,
};
use super::{
    Config, ConfigError, Global, Loaded, MAIN, MAX_TIMEOUT, Origin, Restart, ServiceConfig,
};
use crate::graph::{Graph, GraphError};

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
pub(super) fn load_files(files: &[(PathBuf, String)]) -> Result<Loaded, ConfigError> {
    let mut services: Vec<Parsed> = Vec::new();
    let mut warnings = Vec::new();
    // The `[rinit]` keys of all files as written, a later file's value replacing an
    // earlier one's, and where each value kept is.
    let mut global: BTreeMap<String, (String, Origin)> = BTreeMap::new();
    for (path, text) in files {
        let mut file = FileChecker::new(path, text)?;
        for (key, value) in std::mem::take(&mut file.layout.rinit) {
            let written = text.get(value.span()).unwrap_or_default().to_string();
            global.insert(key, (written, file.origin(&value.span())));
        }
        for (name, table) in in_order_of_appearance(file.schema.service.take()) {
            for parsed in file.service(name, table)? {
                add_unique(&mut services, parsed)?;
            }
        }
        warnings.append(&mut file.warnings);
    }
    let (rinit, warning) = merged_global(&global)?;
    warnings.extend(warning);
    let services = resolve_dependencies(services)?;
    Ok(Loaded {
        config: Config { rinit, services },
        warnings,
    })
}

/// The merged `[rinit]` table, read from the values as they were written (each file's
/// table was checked when it was read), with the cap applied and its warning placed
/// where the value kept was written.
fn merged_global(
    keys: &BTreeMap<String, (String, Origin)>,
) -> Result<(Global, Option<String>), ConfigError> {
    let mut text = String::from("[rinit]\n");
    for (key, (value, _)) in keys {
        text.push_str(&format!("{key} = {value}\n"));
    }
    let at = |key: &str| keys.get(key).map(|(_, origin)| origin);
    let schema: Schema = toml::from_str(&text).map_err(|e| {
        let origin = keys
            .values()
            .next()
            .map(|(_, o)| o.clone())
            .unwrap_or_default();
        ConfigError::at(&origin, format!("[rinit]: {}", e.message()))
    })?;
    let mut global = schema.rinit.unwrap_or_default();
    let key = "shutdown_timeout";
    let warning = cap(key, &mut global.shutdown_timeout, at(key));
    Ok((global, warning))
}

/// Clamps a duration to [`MAX_TIMEOUT`]; the warning names the key and where it is set.
fn cap(key: &str, value: &mut Duration, at: Option<&Origin>) -> Option<String> {
    if *value <= MAX_TIMEOUT {
        return None;
    }
    let (given, max) = (*value, MAX_TIMEOUT);
    *value = MAX_TIMEOUT;
    let place = at.map_or_else(String::new, |o| format!("{o}: "));
    Some(format!(
        "{place}{key} = {given:?} is above the maximum of {max:?}; using {max:?}"
    ))
}

type Services = BTreeMap<Spanned<String>, Spanned<ServiceConfig>>;

/// A file as the schema sees it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Schema {
    rinit: Option<Global>,
    service: Option<Services>,
}

/// A file's layout: every key of `[rinit]` and of each service, with its raw value and
/// where that value is.
#[derive(Deserialize, Default)]
struct Layout {
    #[serde(default)]
    rinit: Keys,
    #[serde(default)]
    service: BTreeMap<String, Keys>,
}

type Keys = BTreeMap<String, Spanned<Raw>>;

impl Layout {
    /// The key whose value holds byte `offset`: the key a value error is about.
    fn key_at(&self, offset: usize) -> Option<&str> {
        std::iter::once(&self.rinit)
            .chain(self.service.values())
            .flat_map(|keys| keys.iter())
            .find(|(_, value)| value.span().contains(&offset))
            .map(|(key, _)| key.as_str())
    }
}

/// The services of one file, sorted by where their name appears.
fn in_order_of_appearance(
    services: Option<Services>,
) -> Vec<(Spanned<String>, Spanned<ServiceConfig>)> {
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
fn resolve_dependencies(mut parsed: Vec<Parsed>) -> Result<Vec<ServiceConfig>, ConfigError> {
    expand_instance_deps(&mut parsed);
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
            .filter(|(i, s)| *i != main && !dependents.contains(i) && s.enabled)
            .map(|(_, s)| s.name.clone())
            .collect();
        if let Some(main) = services.get_mut(main) {
            main.after = others;
        }
    }
    Ok(services)
}

/// `after = ["worker"]`, where worker has `instances`, means every instance: the entry is
/// replaced by `worker@1` … `worker@N` (each at the entry's place, for errors).
fn expand_instance_deps(parsed: &mut [Parsed]) {
    let groups: BTreeMap<String, Vec<String>> =
        parsed.iter().fold(BTreeMap::new(), |mut groups, p| {
            if let Some(group) = &p.config.instance_of {
                let members: &mut Vec<String> = groups.entry(group.clone()).or_default();
                members.push(p.config.name.clone());
            }
            groups
        });
    if groups.is_empty() {
        return;
    }
    for p in parsed.iter_mut() {
        let mut after = Vec::new();
        let mut after_at = Vec::new();
        for (i, dep) in p.config.after.iter().enumerate() {
            let at = p
                .after_at
                .get(i)
                .cloned()
                .unwrap_or_else(|| p.config.origin.clone());
            match groups.get(dep) {
                Some(members) if p.config.instance_of.as_ref() != Some(dep) => {
                    for m in members {
                        after.push(m.clone());
                        after_at.push(at.clone());
                    }
                }
                _ => {
                    after.push(dep.clone());
                    after_at.push(at);
                }
            }
        }
        p.config.after = after;
        p.after_at = after_at;
    }
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

/// A validated service and what is needed to check it against the others.
struct Parsed {
    config: ServiceConfig,
    /// Where each `after` entry is, for unknown-dependency and cycle errors.
    after_at: Vec<Origin>,
    /// The table sets `after` (matters for `main` only).
    after_given: bool,
}

// ---------------------------------------------------------------------------------------
// The validation pass of one file
// ---------------------------------------------------------------------------------------

/// One file, read into its schema and its layout; turns byte spans into `FILE:LINE:COL`.
struct FileChecker<'a> {
    path: &'a Path,
    text: &'a str,
    /// Byte offset of the start of every line, for positions without rescanning.
    line_starts: Vec<usize>,
    schema: Schema,
    layout: Layout,
    warnings: Vec<String>,
}

impl<'a> FileChecker<'a> {
    fn new(path: &'a Path, text: &'a str) -> Result<FileChecker<'a>, ConfigError> {
        let mut file = FileChecker {
            path,
            text,
            line_starts: line_starts(text),
            schema: Schema {
                rinit: None,
                service: None,
            },
            layout: Layout::default(),
            warnings: Vec::new(),
        };
        // The layout reads any well-formed file; if even it fails, the schema's error
        // (a syntax error) is the one to report.
        file.layout = toml::from_str(text).unwrap_or_default();
        file.schema = toml::from_str(text).map_err(|e| file.schema_error(&e))?;
        Ok(file)
    }

    /// serde's error at its position, with the key it is about.
    fn schema_error(&self, e: &toml::de::Error) -> ConfigError {
        let Some(span) = e.span() else {
            return ConfigError::whole_file(self.path, e.message());
        };
        let message = self.syntax_message(e.message(), &span);
        // serde's own type errors ("invalid type: string, expected a boolean") are shown
        // as serde words them, as they always were; rinit's checks get the key's name.
        let message = match self.layout.key_at(span.start) {
            Some(key) if !message.starts_with("invalid type: ") => format!("{key}: {message}"),
            _ => message,
        };
        self.error(&span, message)
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

    /// The rules that involve more than one key, and `main`'s defaults.
    fn service(
        &mut self,
        name: Spanned<String>,
        table: Spanned<ServiceConfig>,
    ) -> Result<Vec<Parsed>, ConfigError> {
        service_name(name.get_ref()).map_err(|e| self.error(&name.span(), e))?;
        let origin = self.origin(&table.span());
        let mut s = table.into_inner();
        s.name = name.into_inner();
        s.origin = origin;
        let empty = Keys::new();
        let keys = self.layout.service.get(&s.name).unwrap_or(&empty);
        s.main_defaults(|key| keys.contains_key(key));
        self.key_rules(&s, keys)?;
        self.oneshot_rules(&s, keys)?;
        self.resolve_commands(&mut s, keys, 1)?;
        let at = |key: &str| keys.get(key).map(|v| self.origin(&v.span()));
        let stop_timeout = cap(
            "stop_timeout",
            &mut s.stop_timeout,
            at("stop_timeout").as_ref(),
        );
        let stop_delay = cap("stop_delay", &mut s.stop_delay, at("stop_delay").as_ref());
        let after_at = keys.get("after").map_or_else(Vec::new, |a| {
            a.get_ref().items.iter().map(|i| self.origin(i)).collect()
        });
        let after_given = keys.contains_key("after");
        self.warnings
            .extend(stop_timeout.into_iter().chain(stop_delay));
        if s.instances <= 1 {
            self.read_env_files(&mut s, keys)?;
            return Ok(vec![Parsed {
                config: s,
                after_at,
                after_given,
            }]);
        }
        (1..=s.instances)
            .map(|n| {
                let mut one = s.clone();
                one.name = format!("{}@{n}", s.name);
                one.instance_of = Some(s.name.clone());
                self.resolve_instance(&mut one, keys, n)?;
                self.read_env_files(&mut one, keys)?;
                Ok(Parsed {
                    config: one,
                    after_at: after_at.clone(),
                    after_given,
                })
            })
            .collect()
    }

    /// Instance `n` of a service: its strings read again with `{instance}` = n (the
    /// schema read them as instance 1).
    fn resolve_instance(
        &self,
        s: &mut ServiceConfig,
        keys: &Keys,
        n: u32,
    ) -> Result<(), ConfigError> {
        self.resolve_commands(s, keys, n)?;
        let text = |key: &str| match keys.get(key).map(|v| (&v.get_ref().value, v)) {
            Some((Value::String(t), v)) => Some((t.clone(), v)),
            _ => None,
        };
        if let Some((t, v)) = text("workdir") {
            let dir = self.checked("workdir", v, |_| absolute_path(&expand_for(&t, n)?))?;
            s.workdir = Some(dir);
        }
        if let Some((t, v)) = text("log") {
            s.log = self.checked("log", v, |_| log_value(&expand_for(&t, n)?))?;
        }
        let number = n.to_string();
        for (key, field) in [("user", &mut s.user), ("group", &mut s.group)] {
            if let Some((t, _)) = text(key) {
                *field = Some(t.replace("{instance}", &number));
            }
        }
        let list = |key: &str| match keys.get(key).map(|v| (&v.get_ref().value, v)) {
            Some((Value::Array(items), v)) => Some((items.clone(), v)),
            _ => None,
        };
        let each = |items: Vec<Value>, f: &dyn Fn(&str) -> Result<String, String>| {
            let texts = items.iter().map(|i| i.as_str().unwrap_or_default());
            texts.map(f).collect::<Result<Vec<String>, String>>()
        };
        if let Some((items, v)) = list("patterns") {
            let f = |t: &str| instance_pattern(t, n);
            s.patterns = self.checked("patterns", v, |_| each(items.clone(), &f))?;
        }
        if let Some((items, v)) = list("env_file") {
            let f = |t: &str| env_file_for(t, n);
            s.env_file = self.checked("env_file", v, |_| each(items.clone(), &f))?;
        }
        if let Some(Value::Table(table)) = keys.get("env").map(|v| &v.get_ref().value) {
            let at = keys.get("env").map(Spanned::span).unwrap_or_default();
            for (key, value) in table {
                let value = env_value(value.clone())
                    .and_then(|t| expand_for(&t, n))
                    .map_err(|e| self.error(&at, format!("env: {e}")))?;
                s.env.retain(|(k, _)| k != key);
                s.env.push((key.clone(), value));
            }
            s.env.sort();
        }
        Ok(())
    }

    /// `env_file`: each file's variables, a later file's winning, and `env` over them
    /// all; the result sorted by name as `env` always is.
    fn read_env_files(&self, s: &mut ServiceConfig, keys: &Keys) -> Result<(), ConfigError> {
        if s.env_file.is_empty() {
            return Ok(());
        }
        let at = keys.get("env_file").map(Spanned::span).unwrap_or_default();
        let fail = |path: &str, e: String| self.error(&at, format!("env_file: {path}: {e}"));
        let mut vars: Vec<(String, String)> = Vec::new();
        for entry in &s.env_file {
            let (optional, path) = match entry.strip_prefix('-') {
                Some(path) => (true, path),
                None => (false, entry.as_str()),
            };
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(fail(path, format!("cannot read: {e}"))),
            };
            for (key, value) in super::env::parse_env_file(&text).map_err(|e| fail(path, e))? {
                if value.contains('\0') {
                    return Err(fail(
                        path,
                        format!("{key}: a value cannot contain a NUL byte"),
                    ));
                }
                vars.retain(|(k, _)| *k != key);
                vars.push((key, value));
            }
        }
        for (key, value) in std::mem::take(&mut s.env) {
            vars.retain(|(k, _)| *k != key);
            vars.push((key, value));
        }
        vars.sort();
        s.env = vars;
        Ok(())
    }

    /// Rules about keys of one table: `exec` is needed (but by `main`), `main` cannot be
    /// disabled nor have instances, `log_max_size` and `log_timestamps` need a log rinit
    /// reads.
    fn key_rules(&self, s: &ServiceConfig, keys: &Keys) -> Result<(), ConfigError> {
        if !keys.contains_key("exec") && s.name != MAIN {
            let expected = "expected exec = \"PROGRAM ARGS\" or exec = [\"PROGRAM\", \"ARG\"]";
            let message = format!("service {:?} has no exec: {expected}", s.name);
            return Err(ConfigError::at(&s.origin, message));
        }
        if !s.enabled && s.name == MAIN {
            let at = keys.get("enabled").map(Spanned::span).unwrap_or_default();
            let message = "enabled: main is the command rinit runs; it cannot be disabled";
            return Err(self.error(&at, message));
        }
        if s.instances > 1 && s.name == MAIN {
            let at = keys.get("instances").map(Spanned::span).unwrap_or_default();
            let message = "instances: main is the one command rinit runs";
            return Err(self.error(&at, message));
        }
        if s.log_max_size.is_some() && !matches!(s.log, super::LogTarget::File(_)) {
            let at = keys
                .get("log_max_size")
                .map(Spanned::span)
                .unwrap_or_default();
            let message = "log_max_size: rotates a log = \"/path\" file; this service has none";
            return Err(self.error(&at, message));
        }
        let rotated = matches!(s.log, super::LogTarget::File(_)) && s.log_max_size.is_some();
        if s.log_timestamps && s.log != super::LogTarget::Prefix && !rotated {
            let at = keys
                .get("log_timestamps")
                .map(Spanned::span)
                .unwrap_or_default();
            let message = "log_timestamps: needs log = \"prefix\" or a rotated file (only then does rinit see the lines)";
            return Err(self.error(&at, message));
        }
        Ok(())
    }

    /// A oneshot cannot restart always, nor have a `ready` probe.
    fn oneshot_rules(&self, s: &ServiceConfig, keys: &Keys) -> Result<(), ConfigError> {
        let at = |key: &str| keys.get(key).map(Spanned::span).unwrap_or_default();
        if s.oneshot && s.restart == Restart::Always {
            let message =
                "restart: a oneshot cannot restart always (use \"on-failure\" to retry it)";
            return Err(self.error(&at("restart"), message));
        }
        if s.oneshot && s.ready.is_some() {
            let message =
                "ready: a oneshot is ready when it exits with a success code; remove ready";
            return Err(self.error(&at("ready"), message));
        }
        if s.oneshot && s.watchdog.is_some() {
            let message = "watchdog: a oneshot is not watched while it runs; remove watchdog";
            return Err(self.error(&at("watchdog"), message));
        }
        if s.oneshot && s.health.is_some() {
            let message = "health: a oneshot is not checked while it runs; remove health";
            return Err(self.error(&at("health"), message));
        }
        Ok(())
    }

    /// `exec`, `stop_exec` and an `exec:` probe read again now that `shell` is known (the
    /// schema read them as if `shell = true`, which checks everything but quoting).
    fn resolve_commands(
        &self,
        s: &mut ServiceConfig,
        keys: &Keys,
        n: u32,
    ) -> Result<(), ConfigError> {
        let shell = s.shell;
        let command = |key: &str| {
            keys.get(key)
                .map(|v| self.checked(key, v, |v| command_for(v.clone(), shell, n)))
                .transpose()
        };
        if let Some(argv) = command("exec")? {
            s.exec = argv.into_iter().map(OsString::from).collect();
        }
        if let Some(argv) = command("stop_exec")? {
            s.stop_exec = Some(argv);
        }
        if let Some(value) = keys.get("ready") {
            if let Value::String(text) = &value.get_ref().value {
                let ready = |_: &Value| ready_value(&expand_for(text, n)?, shell);
                s.ready = Some(self.checked("ready", value, ready)?);
            }
        }
        if let Some(value) = keys.get("health") {
            if let Value::String(text) = &value.get_ref().value {
                let health = |_: &Value| health_value(&expand_for(text, n)?, shell);
                s.health = Some(self.checked("health", value, health)?);
            }
        }
        Ok(())
    }

    /// `check(value)`, an error placed at the value and naming `key`.
    fn checked<T>(
        &self,
        key: &str,
        value: &Spanned<Raw>,
        check: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        check(&value.get_ref().value).map_err(|e| self.error(&value.span(), format!("{key}: {e}")))
    }
}

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
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    line_col_indexed(text, &line_starts(text), offset)
}
