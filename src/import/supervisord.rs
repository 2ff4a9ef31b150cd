//! From supervisord's sections to rinit's TOML. Every `[program:x]` becomes a
//! `[service.x]`; each of its lines is either mapped to a rinit key or repeated as a
//! comment saying why not ("not mapped: …"); a line mapped with a difference gets a
//! "note: …". Priorities become order: see [`order`]. Pure: sections in, text out.

use std::collections::BTreeMap;
use std::path::Path;

use super::expand::{self, Value};
use super::ini::{Entry, Section};
use super::sources::Source;
use super::toml_out as out;
use super::values::{boolean, bytes, integer, octal, size_text};
use super::{reasons, words};
use crate::signals;

/// supervisord's default `priority`.
const DEFAULT_PRIORITY: i64 = 999;
/// More programs than this is not a configuration but an accident (and `after` lists
/// grow with the square of it).
const MAX_PROGRAMS: usize = 1000;
/// rinit's cap on `stop_timeout`.
const MAX_STOP_SECONDS: u64 = 30;

/// A section with the file it came from.
#[derive(Clone, Copy)]
pub struct Placed<'a> {
    pub section: &'a Section,
    pub label: &'a str,
    /// `%(here)s`: the directory of the file.
    pub here: &'a str,
    /// The file was included by another (its `[include]` is not read).
    pub included: bool,
}

impl Placed<'_> {
    fn at(&self, entry: &Entry) -> String {
        format!("{}:{}", self.label, entry.line)
    }
}

/// The TOML for `sources`, or the first error (file:line: what).
/// `cwd` makes `%(here)s` absolute, as supervisord's is.
pub fn convert(sources: &[Source], cwd: &Path, environ: &Environ) -> Result<String, String> {
    let heres: Vec<String> = sources
        .iter()
        .map(|s| {
            let dir = cwd.join(s.path.parent().unwrap_or(Path::new("")));
            dir.display().to_string().trim_end_matches('/').to_string()
        })
        .collect();
    let mut placed = Vec::new();
    for (source, here) in sources.iter().zip(&heres) {
        for section in &source.sections {
            placed.push(Placed {
                section,
                label: &source.label,
                here,
                included: source.included,
            });
        }
    }
    check_duplicates(&placed)?;
    let daemon = placed.iter().find(|p| p.section.name == "supervisord");
    let inherited = Inherited::of(daemon)?;
    let groups = groups(&placed)?;
    let mut services = Vec::new();
    for p in placed
        .iter()
        .filter(|p| p.section.name.starts_with("program:"))
    {
        services.push(program(p, &inherited, &groups, environ)?);
    }
    if services.len() > MAX_PROGRAMS {
        return Err(format!(
            "{} programs: rinit imports at most {MAX_PROGRAMS}",
            services.len()
        ));
    }
    check_names(&services)?;
    let ranks: Vec<Rank> = services.iter().map(|s| s.rank).collect();
    for (service, after) in services.iter_mut().zip(order(&ranks)) {
        service.after = after;
    }
    Ok(render(sources, &placed, &services))
}

/// Two sections of one name (in one file or across includes) are refused: supervisord
/// merges them (the later line of a key winning), which is better done by hand.
fn check_duplicates(placed: &[Placed]) -> Result<(), String> {
    let mut first: BTreeMap<&str, String> = BTreeMap::new();
    for p in placed {
        let here = format!("{}:{}", p.label, p.section.line);
        if let Some(before) = first.get(p.section.name.as_str()) {
            return Err(format!(
                "{here}: [{}] again (first at {before}): supervisord merges the two; merge them by hand",
                p.section.name
            ));
        }
        first.insert(&p.section.name, here);
    }
    Ok(())
}

/// What `[supervisord]` hands down to every program: its environment and umask.
#[derive(Default)]
struct Inherited {
    env: Vec<(String, String)>,
    umask: Option<u32>,
}

impl Inherited {
    fn of(daemon: Option<&Placed>) -> Result<Inherited, String> {
        let mut inherited = Inherited::default();
        let Some(p) = daemon else {
            return Ok(inherited);
        };
        let names = |name: &str| plain_name(name, p.here);
        if let Some(e) = p.section.get("environment") {
            let text = expand::expand(&e.value, &names)
                .map_err(|m| format!("{}: environment: {m}", p.at(e)))?;
            inherited.env = words::environment_pairs(&text.text)
                .map_err(|m| format!("{}: environment: {m}", p.at(e)))?;
        }
        if let Some(e) = p.section.get("umask") {
            inherited.umask =
                Some(octal(&e.value).map_err(|m| format!("{}: umask: {m}", p.at(e)))?);
        }
        Ok(inherited)
    }
}

/// Names known outside a program: `here` and `ENV_X`.
fn plain_name(name: &str, here: &str) -> Option<Value> {
    if name == "here" {
        return Some(Value::Text(here.to_string()));
    }
    let var = name.strip_prefix("ENV_")?;
    let ok = var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && var.chars().next().is_some_and(|c| !c.is_ascii_digit());
    ok.then(|| Value::Later {
        text: format!("${{{var}}}"),
        note: None,
    })
}

/// Program name → (group name, group priority), from `[group:x] programs = a,b`.
fn groups(placed: &[Placed]) -> Result<BTreeMap<String, (String, i64)>, String> {
    let mut map = BTreeMap::new();
    for p in placed {
        let Some(group) = p.section.name.strip_prefix("group:") else {
            continue;
        };
        let priority = match p.section.get("priority") {
            Some(e) => integer(&e.value).map_err(|m| format!("{}: priority: {m}", p.at(e)))?,
            None => DEFAULT_PRIORITY,
        };
        for program in p
            .section
            .get("programs")
            .map(|e| e.value.as_str())
            .unwrap_or_default()
            .split(',')
        {
            let program = program.trim();
            if !program.is_empty() {
                map.insert(program.to_string(), (group.to_string(), priority));
            }
        }
    }
    Ok(map)
}

/// Where a program stands in supervisord's start order: (its group's priority, its own),
/// and whether it starts at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rank {
    pub group: i64,
    pub own: i64,
    pub enabled: bool,
}

/// supervisord starts programs by ascending priority (groups first by theirs, then the
/// programs in a group by their own) and stops them in reverse. In rinit: each program is
/// `after` the enabled programs of the nearest lower rank — so it starts after them and
/// stops before them; programs of one rank have no order between them, as in supervisord.
/// A disabled program (`autostart=false`) is never waited for.
pub fn order(ranks: &[Rank]) -> Vec<Vec<usize>> {
    ranks
        .iter()
        .map(|me| {
            let key = |r: &Rank| (r.group, r.own);
            let below = ranks
                .iter()
                .filter(|r| r.enabled && key(r) < key(me))
                .map(key)
                .max();
            ranks
                .iter()
                .enumerate()
                .filter(|(_, r)| r.enabled && Some(key(r)) == below)
                .map(|(i, _)| i)
                .collect()
        })
        .collect()
}

/// One `[service.x]` being written.
struct Service<'a> {
    place: Placed<'a>,
    name: String,
    rank: Rank,
    after: Vec<usize>,
    keys: Vec<(&'static str, String)>,
    /// (line, comment lines) for the lines not mapped or mapped with a note.
    comments: Vec<(usize, [String; 2])>,
}

impl Service<'_> {
    fn set(&mut self, key: &'static str, value: String) {
        self.keys.push((key, value));
    }
    /// A line that has no rinit equivalent.
    fn unmapped(&mut self, entry: &Entry, why: &str) {
        self.comment(entry, &format!("not mapped: {why}"));
    }
    /// A line mapped with a difference worth knowing.
    fn note(&mut self, entry: &Entry, what: &str) {
        self.comment(entry, &format!("note: {what}"));
    }
    fn comment(&mut self, entry: &Entry, why: &str) {
        let line = out::comment(&format!("{}: {}", self.place.at(entry), entry.text.trim()));
        self.comments
            .push((entry.line, [line, out::comment(&format!("  {why}"))]));
    }
}

/// The program's own values, as expanded for it.
struct Program<'a, 'b> {
    place: Placed<'a>,
    environ: &'b Environ,
    name: &'a str,
    group: &'b str,
    numprocs: u32,
    numprocs_start: i64,
    /// Its `environment` (over `[supervisord]`'s), rinit's forms: supervisord makes
    /// these `%(ENV_X)s` names too.
    env: Vec<(String, String)>,
}

impl Program<'_, '_> {
    fn lookup(&self, name: &str) -> Option<Value> {
        match name {
            "program_name" => Some(Value::Text(self.name.to_string())),
            "group_name" => Some(Value::Text(self.group.to_string())),
            "numprocs" => Some(Value::Number(i64::from(self.numprocs))),
            "process_num" if self.numprocs == 1 => Some(Value::Number(self.numprocs_start)),
            "process_num" => Some(Value::Later {
                text: "{instance}".into(),
                note: (self.numprocs_start != 1).then(|| {
                    format!(
                        "supervisord numbered the processes from {} (numprocs_start), rinit's {{instance}} counts from 1",
                        self.numprocs_start
                    )
                }),
            }),
            _ if name.starts_with("ENV_") && self.env_value(name).is_some() => {
                self.env_value(name).map(|v| Value::Later { text: v, note: None })
            }
            "host_node_name" => Some(Value::Later {
                text: "${HOSTNAME}".into(),
                note: Some("host_node_name became ${HOSTNAME}, read from rinit's environment (Docker sets it)".into()),
            }),
            _ => plain_name(name, self.place.here),
        }
    }

    /// `ENV_X`'s value from the program's `environment`, if it sets X.
    fn env_value(&self, name: &str) -> Option<String> {
        let var = name.strip_prefix("ENV_")?;
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == var)
            .map(|(_, v)| v.clone())
    }

    /// A value rinit reads as it is (see [`expand_now`]), with its note added to `svc`.
    fn scalar<'e>(
        &self,
        key: &str,
        entry: Option<&'e Entry>,
        svc: &mut Service,
    ) -> Result<Option<(&'e Entry, String)>, String> {
        let Some(entry) = entry else { return Ok(None) };
        let environ = |var: &str| {
            self.env_value(&format!("ENV_{var}"))
                .or_else(|| (self.environ)(var))
        };
        let names = |n: &str| self.lookup(n);
        let (text, note) = expand_now(&self.place, key, entry, &environ, &names)?;
        if let Some(note) = note {
            svc.note(entry, &note);
        }
        Ok(Some((entry, text)))
    }

    /// `key`'s entry and its expanded value.
    fn value<'e>(
        &self,
        key: &str,
        entry: Option<&'e Entry>,
    ) -> Result<Option<(&'e Entry, expand::Expanded)>, String> {
        let Some(entry) = entry else { return Ok(None) };
        let expanded = expand::expand(&entry.value, &|n| self.lookup(n))
            .map_err(|m| format!("{}: {key}: {m}", self.place.at(entry)))?;
        Ok(Some((entry, expanded)))
    }
}

/// One `[program:x]` → one service.
fn program<'a>(
    p: &Placed<'a>,
    inherited: &Inherited,
    groups: &BTreeMap<String, (String, i64)>,
    environ: &Environ,
) -> Result<Service<'a>, String> {
    let section = p.section;
    let raw_name = section
        .name
        .strip_prefix("program:")
        .unwrap_or_default()
        .trim();
    if raw_name.is_empty() {
        return Err(format!(
            "{}:{}: [program:] needs a name",
            p.label, section.line
        ));
    }
    // Read before the program's own names exist: `%(here)s` and `%(ENV_X)s` only.
    let mut early_notes = Vec::new();
    let mut early = |key: &str, default: i64| -> Result<i64, String> {
        let Some(e) = section.get(key) else {
            return Ok(default);
        };
        let plain = |name: &str| plain_name(name, p.here);
        let (text, note) = expand_now(p, key, e, environ, &plain)?;
        early_notes.extend(note.map(|n| (e, n)));
        integer(&text).map_err(|m| format!("{}: {key}: {m}", p.at(e)))
    };
    let own_priority = early("priority", DEFAULT_PRIORITY)?;
    let numprocs_start = early("numprocs_start", 0)?;
    let (numprocs, numprocs_note) = numprocs_of(p, environ)?;
    early_notes.extend(numprocs_note);
    let (group, group_priority) = groups
        .get(raw_name)
        .map(|(g, pr)| (g.as_str(), *pr))
        .unwrap_or((raw_name, own_priority));
    let mut prog = Program {
        place: *p,
        environ,
        name: raw_name,
        group,
        numprocs,
        numprocs_start,
        env: Vec::new(),
    };
    let mut svc = Service {
        place: *p,
        name: match service_name(raw_name) {
            // `main` is rinit's name for the `-- COMMAND` service.
            name if name == crate::config::MAIN => format!("{name}-program"),
            name => name,
        },
        rank: Rank {
            group: group_priority,
            own: own_priority,
            enabled: true,
        },
        after: Vec::new(),
        keys: Vec::new(),
        comments: Vec::new(),
    };
    for (entry, note) in early_notes {
        svc.note(entry, &note);
    }
    prog.env = environment(&prog, inherited, &mut svc)?;
    if let Some((e, text)) = prog.scalar("autostart", section.get("autostart"), &mut svc)? {
        svc.rank.enabled = boolean(&text).map_err(|m| format!("{}: autostart: {m}", p.at(e)))?;
    }
    let mut done: Vec<&str> = vec![
        "priority",
        "numprocs",
        "numprocs_start",
        "autostart",
        "environment",
    ];
    exec_keys(&prog, &mut svc, &mut done)?;
    if !svc.rank.enabled {
        svc.set("enabled", "false".into());
    }
    restart_keys(&prog, &mut svc, &mut done)?;
    stop_keys(&prog, &mut svc, &mut done)?;
    process_keys(&prog, inherited, &mut svc, &mut done)?;
    log_keys(&prog, &mut svc, &mut done)?;
    if numprocs_start != 0 && numprocs > 1 {
        if let Some(e) = section.get("numprocs_start") {
            svc.unmapped(
                e,
                reasons::program_key("numprocs_start").unwrap_or_default(),
            );
        }
    }
    leftovers(section, &done, &mut svc);
    Ok(svc)
}

/// `environment` (its `%(ENV_X)s` from rinit's environment) over `[supervisord]`'s.
fn environment(
    prog: &Program,
    inherited: &Inherited,
    svc: &mut Service,
) -> Result<Vec<(String, String)>, String> {
    let mut env: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut order = 0;
    let mut add = |k: String, v: String, env: &mut BTreeMap<String, (usize, String)>| {
        order += 1;
        env.insert(k, (order, v));
    };
    for (k, v) in &inherited.env {
        add(k.clone(), v.clone(), &mut env);
    }
    let section = prog.place.section;
    if let Some((e, text)) = prog.value("environment", section.get("environment"))? {
        let pairs = words::environment_pairs(&text.text)
            .map_err(|m| format!("{}: environment: {m}", prog.place.at(e)))?;
        for (k, v) in pairs {
            add(k, v, &mut env);
        }
        notes(svc, e, &text);
    }
    let mut pairs: Vec<(usize, String, String)> =
        env.into_iter().map(|(k, (at, v))| (at, k, v)).collect();
    pairs.sort();
    Ok(pairs.into_iter().map(|(_, k, v)| (k, v)).collect())
}

/// A note for a line, to be added once the service exists.
type Noted<'a> = Option<(&'a Entry, String)>;

/// `numprocs`: a number in the file, as rinit's `instances` must be.
fn numprocs_of<'a>(p: &Placed<'a>, environ: &Environ) -> Result<(u32, Noted<'a>), String> {
    let Some(entry) = p.section.get("numprocs") else {
        return Ok((1, None));
    };
    let names = |name: &str| plain_name(name, p.here);
    let (text, note) = expand_now(p, "numprocs", entry, environ, &names)?;
    let n = integer(&text).map_err(|m| format!("{}: numprocs: {m}", p.at(entry)))?;
    let n = u32::try_from(n)
        .ok()
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| {
            format!(
                "{}: numprocs: {n} (rinit runs 1 to 1000 instances)",
                p.at(entry)
            )
        })?;
    Ok((n, note.map(|note| (entry, note))))
}

/// The importer's environment (`std::env::var` outside tests).
pub type Environ = dyn Fn(&str) -> Option<String>;

/// A value rinit reads as it is (`numprocs`, `user`): its `%(ENV_X)s` are read now, from
/// the importer's environment — a variable that is not set is an error naming it — and
/// the note says so.
fn expand_now(
    p: &Placed,
    key: &str,
    entry: &Entry,
    environ: &dyn Fn(&str) -> Option<String>,
    names: &dyn Fn(&str) -> Option<Value>,
) -> Result<(String, Option<String>), String> {
    let mut used = Vec::new();
    for part in entry.value.split("%(ENV_").skip(1) {
        let var = part.split(')').next().unwrap_or_default();
        if environ(var).is_none() {
            return Err(format!(
                "{}: {key}: %(ENV_{var})s: {var} is not set (the rinit key for {key} takes no variables, so the importer needs the value: set {var})",
                p.at(entry)
            ));
        }
        used.push(var.to_string());
    }
    let lookup = |name: &str| match name.strip_prefix("ENV_") {
        Some(var) => environ(var).map(Value::Text),
        None => names(name),
    };
    let text = expand::expand(&entry.value, &lookup)
        .map_err(|m| format!("{}: {key}: {m}", p.at(entry)))?;
    let note = (!used.is_empty()).then(|| {
        format!("{} read from the environment when importing: the rinit key for {key} takes no variables", used.join(", "))
    });
    Ok((text.text, note))
}

/// `command` → `exec` (split as supervisord splits it), `numprocs` → `instances`,
/// `process_name` (rinit's instances are NAME@1 …).
fn exec_keys(prog: &Program, svc: &mut Service, done: &mut Vec<&str>) -> Result<(), String> {
    let section = prog.place.section;
    let Some((entry, command)) = prog.value("command", section.get("command"))? else {
        return Err(format!(
            "{}:{}: [{}] has no command (supervisord requires one)",
            prog.place.label, section.line, section.name
        ));
    };
    let argv = words::split_command(&command.text)
        .map_err(|m| format!("{}: command: {m}", prog.place.at(entry)))?;
    if argv.first().is_none_or(|a| a.is_empty()) {
        return Err(format!(
            "{}: command: no program to run",
            prog.place.at(entry)
        ));
    }
    svc.set("exec", out::strings(&argv));
    for note in &command.notes {
        svc.note(entry, note);
    }
    done.push("command");
    if prog.numprocs > 1 {
        svc.set("instances", prog.numprocs.to_string());
    }
    if let Some(entry) = section.get("process_name") {
        let plain = entry.value.trim() == "%(program_name)s";
        if prog.numprocs > 1 {
            let n = prog.numprocs;
            let name = &svc.name;
            svc.note(
                entry,
                &format!("rinit names the instances {name}@1 … {name}@{n}"),
            );
        } else if !plain {
            let name = svc.name.clone();
            svc.note(entry, &format!("rinit names the service {name}"));
        }
        done.push("process_name");
    }
    if svc.name != prog.name {
        let header = Entry {
            key: String::new(),
            value: String::new(),
            line: section.line,
            text: section.text.clone(),
        };
        let name = svc.name.clone();
        let why = if prog.name == crate::config::MAIN {
            "main is rinit's name for the command after --"
        } else {
            "rinit names are letters, digits and -_.@"
        };
        svc.note(&header, &format!("named {name}: {why}"));
    }
    Ok(())
}

/// `autorestart` and `exitcodes` → `restart` and `success_codes`.
fn restart_keys(prog: &Program, svc: &mut Service, done: &mut Vec<&str>) -> Result<(), String> {
    let section = prog.place.section;
    let policy = match prog.scalar("autorestart", section.get("autorestart"), svc)? {
        None => "on-failure",
        Some((e, text)) => match text.trim().to_ascii_lowercase().as_str() {
            "unexpected" => "on-failure",
            "false" | "no" | "off" | "0" => "never",
            "true" | "yes" | "on" | "1" => "always",
            other => {
                return Err(format!(
                    "{}: autorestart: {other:?} (expected false, unexpected or true)",
                    prog.place.at(e)
                ));
            }
        },
    };
    svc.set("restart", out::string(policy));
    done.push("autorestart");
    if let Some((e, text)) = prog.scalar("exitcodes", section.get("exitcodes"), svc)? {
        let mut codes = Vec::new();
        for code in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            match code.parse::<u8>() {
                Ok(c) => codes.push(c.to_string()),
                Err(_) => {
                    return Err(format!(
                        "{}: exitcodes: {code:?} is not an exit code (0 to 255)",
                        prog.place.at(e)
                    ));
                }
            }
        }
        if codes.is_empty() {
            return Err(format!(
                "{}: exitcodes: expected a list like 0,2",
                prog.place.at(e)
            ));
        }
        if codes != ["0"] {
            svc.set("success_codes", format!("[{}]", codes.join(", ")));
        }
        done.push("exitcodes");
    }
    Ok(())
}

/// `stopsignal`, `stopwaitsecs`, `stopasgroup`, `killasgroup` → `stop_signal`,
/// `stop_timeout`, `stop_mode`.
fn stop_keys(prog: &Program, svc: &mut Service, done: &mut Vec<&str>) -> Result<(), String> {
    let section = prog.place.section;
    if let Some((e, text)) = prog.scalar("stopsignal", section.get("stopsignal"), svc)? {
        let sig = signals::parse(text.trim())
            .map_err(|m| format!("{}: stopsignal: {m}", prog.place.at(e)))?;
        svc.set("stop_signal", out::string(&signals::name(sig)));
        done.push("stopsignal");
    }
    if let Some((e, text)) = prog.scalar("stopwaitsecs", section.get("stopwaitsecs"), svc)? {
        let secs =
            integer(&text).map_err(|m| format!("{}: stopwaitsecs: {m}", prog.place.at(e)))?;
        let secs = u64::try_from(secs).map_err(|_| {
            format!(
                "{}: stopwaitsecs: expected seconds, 0 or more",
                prog.place.at(e)
            )
        })?;
        let capped = secs.min(MAX_STOP_SECONDS);
        svc.set("stop_timeout", out::string(&format!("{capped}s")));
        if secs > MAX_STOP_SECONDS {
            svc.note(e, &format!(
                "stop_timeout = \"{capped}s\": rinit's maximum, as every stop ends within 30 s; a longer drain needs a faster stop"
            ));
        }
        done.push("stopwaitsecs");
    }
    let flag = |key: &str, svc: &mut Service| -> Result<Option<(&Entry, bool)>, String> {
        match prog.scalar(key, section.get(key), svc)? {
            Some((e, text)) => boolean(&text)
                .map(|b| Some((e, b)))
                .map_err(|m| format!("{}: {key}: {m}", prog.place.at(e))),
            None => Ok(None),
        }
    };
    let as_group = flag("stopasgroup", svc)?;
    let mode = if as_group.is_some_and(|(_, b)| b) {
        "group"
    } else {
        "main"
    };
    svc.set("stop_mode", out::string(mode));
    done.push("stopasgroup");
    if let Some((e, kill_group)) = flag("killasgroup", svc)? {
        if !kill_group {
            svc.note(
                e,
                "rinit's SIGKILL at stop_timeout always reaches every process left in the service",
            );
        }
        done.push("killasgroup");
    }
    Ok(())
}

/// `user`, `directory`, `umask`, `environment` (over `[supervisord]`'s).
fn process_keys(
    prog: &Program,
    inherited: &Inherited,
    svc: &mut Service,
    done: &mut Vec<&str>,
) -> Result<(), String> {
    let section = prog.place.section;
    if let Some((_, user)) = prog.scalar("user", section.get("user"), svc)? {
        svc.set("user", out::string(user.trim()));
        done.push("user");
    }
    if let Some((e, dir)) = prog.value("directory", section.get("directory"))? {
        let dir = dir.text.trim().to_string();
        if dir.starts_with('/') || dir.starts_with("${") {
            svc.set("workdir", out::string(&dir));
        } else {
            let full = format!("{}/{dir}", prog.place.here);
            svc.set("workdir", out::string(&full));
            svc.note(
                e,
                &format!("relative: made {full} (the configuration file's directory)"),
            );
        }
        done.push("directory");
    }
    let umask = match prog.scalar("umask", section.get("umask"), svc)? {
        Some((e, text)) => {
            done.push("umask");
            Some(octal(&text).map_err(|m| format!("{}: umask: {m}", prog.place.at(e)))?)
        }
        None => inherited.umask,
    };
    if let Some(mask) = umask {
        svc.set("umask", out::string(&format!("{mask:04o}")));
    }
    if !prog.env.is_empty() {
        svc.set("env", out::table(&prog.env));
    }
    Ok(())
}

fn notes(svc: &mut Service, entry: &Entry, expanded: &expand::Expanded) {
    for note in &expanded.notes {
        svc.note(entry, note);
    }
}

/// Where supervisord sent a stream.
#[derive(Debug, PartialEq, Eq)]
enum Sink {
    /// `AUTO` (or no key): a file under `childlogdir`.
    Auto,
    /// `NONE`.
    Null,
    /// `/dev/stdout` and its aliases: supervisord's own output.
    Console,
    Syslog,
    /// A device or /proc file: written to, never rotated (supervisord's size check
    /// never fires there).
    Device(String),
    File(String),
}

fn sink(value: Option<&str>, here: &str) -> Sink {
    let Some(value) = value.map(str::trim) else {
        return Sink::Auto;
    };
    match value.to_ascii_lowercase().as_str() {
        "auto" => return Sink::Auto,
        "none" | "off" | "/dev/null" => return Sink::Null,
        "syslog" => return Sink::Syslog,
        _ => {}
    }
    match value {
        "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1" | "/proc/1/fd/1" => Sink::Console,
        "/dev/stderr" | "/dev/fd/2" | "/proc/self/fd/2" | "/proc/1/fd/2" => Sink::Console,
        path if path.starts_with("/dev/") || path.starts_with("/proc/") => {
            Sink::Device(path.to_string())
        }
        path if path.starts_with('/') || path.starts_with("${") => Sink::File(path.to_string()),
        path => Sink::File(format!("{here}/{path}")),
    }
}

/// `stdout_logfile` (+ `_maxbytes`, `_backups`), `redirect_stderr`, `stderr_logfile` →
/// `log`, `log_max_size`, `log_keep`. rinit sends a service's stderr where its stdout goes.
fn log_keys(prog: &Program, svc: &mut Service, done: &mut Vec<&str>) -> Result<(), String> {
    let section = prog.place.section;
    let here = prog.place.here;
    let stdout = prog.value("stdout_logfile", section.get("stdout_logfile"))?;
    let out_sink = sink(stdout.as_ref().map(|(_, v)| v.text.as_str()), here);
    let size =
        |key: &str, default: u64, svc: &mut Service| -> Result<(Option<&Entry>, u64), String> {
            match prog.scalar(key, section.get(key), svc)? {
                Some((e, text)) => bytes(&text)
                    .map(|n| (Some(e), n))
                    .map_err(|m| format!("{}: {key}: {m}", prog.place.at(e))),
                None => Ok((None, default)),
            }
        };
    let (max_entry, max) = size("stdout_logfile_maxbytes", 50 << 20, svc)?;
    let (keep_entry, keep) = size("stdout_logfile_backups", 10, svc)?;
    match (&out_sink, &stdout) {
        (Sink::Null, Some(_)) => svc.set("log", out::string("null")),
        (Sink::Console, Some((e, _))) => {
            svc.set("log", out::string("prefix"));
            svc.note(e, "rinit writes each line as \"NAME | line\" (log = \"inherit\" would pass it on as it is)");
        }
        (Sink::Auto, Some((e, _))) => svc.note(e, "AUTO: rinit's default, log = \"prefix\", shows the lines on its stdout and keeps the last ones for `rinit ctl logs`"),
        (Sink::Syslog, Some((e, _))) => svc.unmapped(e, "rinit does not write to syslog; the lines go to its stdout (log = \"prefix\")"),
        (Sink::Device(path), Some((e, v))) => {
            svc.set("log", out::string(path));
            notes(svc, e, v);
        }
        (Sink::File(path), Some((e, v))) => {
            svc.set("log", out::string(path));
            notes(svc, e, v);
            if max > 0 {
                svc.set("log_max_size", out::string(&size_text(max.max(4096))));
                svc.set("log_keep", keep.min(100).to_string());
                if max_entry.is_none() || keep_entry.is_none() {
                    svc.note(e, "rotated at supervisord's defaults where not given: stdout_logfile_maxbytes=50MB, stdout_logfile_backups=10");
                }
                if max < 4096 {
                    svc.note(e, "log_max_size raised to 4K, rinit's smallest");
                }
                if keep > 100 {
                    svc.note(e, "log_keep lowered to 100, rinit's largest");
                }
            }
        }
        (_, None) => {}
    }
    done.push("stdout_logfile");
    let is_file = matches!(out_sink, Sink::File(_));
    for (entry, value) in [(max_entry, max), (keep_entry, keep)] {
        let Some(e) = entry else { continue };
        if !is_file && value != 0 {
            svc.unmapped(e, "rinit rotates only a log file (log = \"/path\")");
        }
        done.push(if e.key.starts_with("stdout_logfile_max") {
            "stdout_logfile_maxbytes"
        } else {
            "stdout_logfile_backups"
        });
    }
    stderr_keys(prog, &out_sink, svc, done)
}

/// `redirect_stderr` and `stderr_logfile*`: mapped when stderr ends up with stdout
/// (redirected, or both on supervisord's console, or the same file); otherwise noted.
fn stderr_keys(
    prog: &Program,
    out_sink: &Sink,
    svc: &mut Service,
    done: &mut Vec<&str>,
) -> Result<(), String> {
    let section = prog.place.section;
    let redirect = match section.get("redirect_stderr") {
        Some(e) => {
            boolean(&e.value).map_err(|m| format!("{}: redirect_stderr: {m}", prog.place.at(e)))?
        }
        None => false,
    };
    done.push("redirect_stderr");
    let stderr = prog.value("stderr_logfile", section.get("stderr_logfile"))?;
    let err_sink = sink(
        stderr.as_ref().map(|(_, v)| v.text.as_str()),
        prog.place.here,
    );
    let together = redirect || err_sink == *out_sink || matches!(err_sink, Sink::Auto);
    let stdout_entry = section.get("stdout_logfile");
    if let (false, Sink::Auto, Sink::File(_) | Sink::Device(_), Some(e)) =
        (redirect, &err_sink, out_sink, stdout_entry)
    {
        svc.note(
            e,
            "stderr goes into it too (supervisord kept stderr apart, in an AUTO file)",
        );
    }
    let why = "rinit sends a service's stderr where its stdout goes (log); a separate stderr destination is not supported";
    for key in [
        "stderr_logfile",
        "stderr_logfile_maxbytes",
        "stderr_logfile_backups",
    ] {
        if let Some(e) = section.get(key) {
            if redirect {
                svc.note(
                    e,
                    "supervisord ignores it with redirect_stderr=true, and so does rinit",
                );
            } else if !together {
                svc.unmapped(e, why);
            }
            done.push(key);
        }
    }
    Ok(())
}

/// The lines no mapping took: a reason from [`reasons::program_key`], or "unknown"; and the earlier of
/// two lines with one key.
fn leftovers(section: &Section, done: &[&str], svc: &mut Service) {
    let last_line: BTreeMap<&str, usize> = section
        .entries
        .iter()
        .map(|e| (e.key.as_str(), e.line))
        .collect();
    for entry in &section.entries {
        let line = last_line.get(entry.key.as_str()).copied().unwrap_or(0);
        if line != entry.line {
            svc.unmapped(entry, &format!("the same key again on line {line} wins"));
            continue;
        }
        if done.contains(&entry.key.as_str()) {
            continue;
        }
        match reasons::program_key(&entry.key) {
            Some(why) => svc.unmapped(entry, why),
            None => svc.unmapped(entry, "not a key supervisord knows in [program:x]"),
        }
    }
}

/// A program name as a rinit service name: anything but letters, digits and `-_.@`
/// becomes `-`.
fn service_name(name: &str) -> String {
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_.@".contains(c);
    name.chars().map(|c| if ok(c) { c } else { '-' }).collect()
}

fn check_names(services: &[Service]) -> Result<(), String> {
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    for s in services {
        let here = format!("{}:{}", s.place.label, s.place.section.line);
        if let Some(before) = seen.get(s.name.as_str()) {
            return Err(format!(
                "{here}: program name {:?} is also the name of the program at {before}",
                s.name
            ));
        }
        seen.insert(&s.name, here);
    }
    Ok(())
}

/// The whole output: a header, the comments for sections and lines that are not
/// services, then one table per program.
fn render(sources: &[Source], placed: &[Placed], services: &[Service]) -> String {
    let mut text = String::new();
    let mut line = |s: &str| {
        text.push_str(s);
        text.push('\n');
    };
    line("# Imported from supervisord by `rinit import supervisord`. Read:");
    for source in sources {
        line(&out::comment(&format!("  {}", source.label)));
        for pattern in &source.unmatched {
            line(&out::comment(&format!(
                "    [include] {pattern}: matched no file"
            )));
        }
    }
    line("# Order: supervisord starts programs by ascending priority and stops them in");
    line("# reverse; here each service is `after` those of the next lower priority.");
    line("# Lines not mapped are repeated as comments with the reason (\"not mapped\");");
    line("# \"note\" marks a line mapped with a difference.");
    for p in placed {
        for comment in global_comments(p) {
            line(&comment);
        }
    }
    for svc in services {
        line("");
        line(&out::comment(&format!(
            "{}:{}: {}",
            svc.place.label,
            svc.place.section.line,
            svc.place.section.text.trim()
        )));
        line(&format!("[service.{}]", out::key(&svc.name)));
        for (key, value) in &svc.keys {
            line(&format!("{key} = {value}"));
        }
        let after: Vec<&str> = svc
            .after
            .iter()
            .filter_map(|&i| services.get(i))
            .map(|s| s.name.as_str())
            .collect();
        if !after.is_empty() {
            line(&format!("after = {}", out::strings(&after)));
        }
        let mut comments: Vec<&(usize, [String; 2])> = svc.comments.iter().collect();
        comments.sort_by_key(|(at, _)| *at);
        for (_, pair) in comments {
            line(&pair[0]);
            line(&pair[1]);
        }
    }
    text
}

/// Comments for a section that is not a program: every line of it, and why.
fn global_comments(p: &Placed) -> Vec<String> {
    let mut lines = Vec::new();
    let at =
        |line: usize, text: &str| out::comment(&format!("{}:{line}: {}", p.label, text.trim()));
    let name = p.section.name.as_str();
    if let Some(why) = reasons::section(name) {
        lines.push(at(p.section.line, &p.section.text));
        lines.push(out::comment(&format!("  not mapped: {why}")));
        for e in &p.section.entries {
            lines.push(at(e.line, &e.text));
        }
        return lines;
    }
    let entries = p.section.entries.iter();
    if name == "supervisord" {
        for e in entries {
            if let Some(why) = reasons::daemon_key(&e.key) {
                lines.push(at(e.line, &e.text));
                lines.push(out::comment(&format!("  not mapped: {why}")));
            }
        }
    } else if name == "include" && p.included {
        lines.push(at(p.section.line, &p.section.text));
        lines.push(out::comment(
            "  not mapped: an included file cannot include more (supervisord does not read it)",
        ));
        for e in entries {
            lines.push(at(e.line, &e.text));
        }
    } else if name == "include" {
        for e in entries.filter(|e| e.key != "files") {
            lines.push(at(e.line, &e.text));
            lines.push(out::comment("  not mapped: [include] has only files"));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn convert_text(text: &str, env: &[(&str, &str)]) -> Result<String, String> {
        let source = Source {
            path: PathBuf::from("conf/s.conf"),
            label: "s.conf".into(),
            sections: crate::import::ini::parse(text).map_err(|e| e.message)?,
            unmatched: Vec::new(),
            included: false,
        };
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let environ = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        convert(&[source], Path::new("/etc"), &environ)
    }

    /// The output as TOML, and one service's table.
    fn service(toml_text: &str, name: &str) -> toml::Table {
        let all: toml::Table =
            toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}\n{toml_text}"));
        all["service"][name]
            .as_table()
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {toml_text}"))
    }

    fn rank(group: i64, own: i64, enabled: bool) -> Rank {
        Rank {
            group,
            own,
            enabled,
        }
    }

    #[test]
    fn priorities_become_after_the_nearest_lower_enabled_level() {
        let ranks = [
            rank(999, 999, true), // 0
            rank(10, 10, true),   // 1
            rank(10, 10, true),   // 2
            rank(5, 5, false),    // 3: disabled, never waited for
            rank(20, 20, true),   // 4
            rank(20, 1, true),    // 5: in a group of priority 20, before 4
        ];
        let after = order(&ranks);
        assert_eq!(after[1], Vec::<usize>::new());
        assert_eq!(after[2], Vec::<usize>::new());
        assert_eq!(after[3], Vec::<usize>::new());
        assert_eq!(after[5], vec![1, 2]);
        assert_eq!(after[4], vec![5]);
        assert_eq!(after[0], vec![4]);
    }

    #[test]
    fn a_program_maps_key_by_key() {
        let text = "[supervisord]\nenvironment=SHARED=\"s\",A=\"from-daemon\"\numask=027\n\
            [program:web]\ncommand=nginx -g 'daemon off;'\npriority=10\nstopsignal=QUIT\nstopwaitsecs=5\n\
            stopasgroup=true\nautorestart=unexpected\nexitcodes=0,2\nuser=www-data\ndirectory=/srv\n\
            environment=A=\"1\",PATH=\"/venv/bin:%(ENV_PATH)s\"\nstdout_logfile=/var/log/web.log\n\
            stdout_logfile_maxbytes=1MB\nstdout_logfile_backups=3\nredirect_stderr=true\n\
            [program:worker]\ncommand=php artisan queue:work --name=w%(process_num)02d\nnumprocs=4\n\
            numprocs_start=1\nprocess_name=%(program_name)s_%(process_num)02d\npriority=20\n\
            autostart=false\nautorestart=false\nstopwaitsecs=3600\nstdout_logfile=/dev/stdout\n";
        let out = convert_text(text, &[]).unwrap();
        let web = service(&out, "web");
        assert_eq!(web["exec"].as_array().unwrap().len(), 3);
        assert_eq!(web["exec"][2].as_str(), Some("daemon off;"));
        assert_eq!(web["stop_signal"].as_str(), Some("SIGQUIT"));
        assert_eq!(web["stop_timeout"].as_str(), Some("5s"));
        assert_eq!(web["stop_mode"].as_str(), Some("group"));
        assert_eq!(web["restart"].as_str(), Some("on-failure"));
        assert_eq!(web["success_codes"].as_array().unwrap().len(), 2);
        assert_eq!(web["user"].as_str(), Some("www-data"));
        assert_eq!(web["workdir"].as_str(), Some("/srv"));
        assert_eq!(web["umask"].as_str(), Some("0027"));
        assert_eq!(
            web["env"]["A"].as_str(),
            Some("1"),
            "the program's own wins"
        );
        assert_eq!(web["env"]["SHARED"].as_str(), Some("s"));
        assert_eq!(web["env"]["PATH"].as_str(), Some("/venv/bin:${PATH}"));
        assert_eq!(web["log"].as_str(), Some("/var/log/web.log"));
        assert_eq!(web["log_max_size"].as_str(), Some("1M"));
        assert_eq!(web["log_keep"].as_integer(), Some(3));
        assert!(web.get("after").is_none());
        let worker = service(&out, "worker");
        assert_eq!(worker["instances"].as_integer(), Some(4));
        assert_eq!(worker["exec"][3].as_str(), Some("--name=w{instance}"));
        assert_eq!(worker["enabled"].as_bool(), Some(false));
        assert_eq!(worker["restart"].as_str(), Some("never"));
        assert_eq!(worker["stop_timeout"].as_str(), Some("30s"));
        assert_eq!(worker["stop_mode"].as_str(), Some("main"));
        assert_eq!(worker["log"].as_str(), Some("prefix"));
        assert_eq!(worker["after"][0].as_str(), Some("web"));
        assert!(
            out.contains("s.conf:27: stopwaitsecs=3600\n#   note: stop_timeout = \"30s\""),
            "{out}"
        );
        assert!(out.contains("s.conf:23: process_name=%(program_name)s_%(process_num)02d\n#   note: rinit names the instances worker@1 … worker@4"), "{out}");
        assert!(
            out.contains("s.conf:22: numprocs_start=1\n#   not mapped"),
            "{out}"
        );
        assert!(
            out.contains("width of 2"),
            "the padding rinit does not do: {out}"
        );
    }

    #[test]
    fn every_line_without_a_mapping_is_a_comment_with_its_reason() {
        let text = "[unix_http_server]\nfile=/run/s.sock\n[supervisord]\nnodaemon=true\nidentifier=x\n\
            [program:a]\ncommand=a\nstartsecs=5\nfrobnicate=1\nstdout_events_enabled=true\nstdout_logfile=syslog\n\
            redirect_stderr=false\nstderr_logfile=/var/log/a.err\ncommand=a2\n\
            [eventlistener:e]\ncommand=listener\nevents=PROCESS_STATE\n[group:g]\nprograms=a\n[fcgi-program:f]\ncommand=x\n";
        let out = convert_text(text, &[]).unwrap();
        for (line, why) in [
            (1, "control socket"),
            (2, ""),
            (4, "foreground"),
            (5, "no rinit equivalent"),
            (8, "restart backoff"),
            (9, "not a key supervisord knows"),
            (10, "no event listeners"),
            (11, "syslog"),
            (13, "stderr where its stdout goes"),
            (7, "the same key again on line 14"),
            (15, "event listeners are not supported"),
            (16, ""),
            (18, "no groups"),
            (20, "socket activation"),
        ] {
            let at = format!("# s.conf:{line}: ");
            let found = out.lines().position(|l| l.starts_with(&at));
            let next = found
                .and_then(|i| out.lines().nth(i + 1))
                .unwrap_or_default();
            assert!(found.is_some(), "line {line} not commented:\n{out}");
            assert!(next.contains(why), "line {line}: {next:?}\n{out}");
        }
        assert_eq!(service(&out, "a")["exec"][0].as_str(), Some("a2"));
    }

    #[test]
    fn runtime_values_stay_variables_and_import_time_ones_are_read_now() {
        let text = "[program:app]\ncommand=gunicorn --bind :%(ENV_PORT)s --name %(host_node_name)s\n\
            user=%(ENV_APP_USER)s\ndirectory=%(here)s/app\nnumprocs=%(ENV_N)s\n";
        let out = convert_text(text, &[("APP_USER", "app"), ("N", "3")]).unwrap();
        let app = service(&out, "app");
        assert_eq!(app["exec"][2].as_str(), Some(":${PORT}"));
        assert_eq!(app["exec"][4].as_str(), Some("${HOSTNAME}"));
        assert_eq!(app["user"].as_str(), Some("app"));
        assert_eq!(app["workdir"].as_str(), Some("/etc/conf/app"));
        assert_eq!(app["instances"].as_integer(), Some(3));
        assert!(
            out.contains("N read from the environment when importing"),
            "{out}"
        );
        let e = convert_text(text, &[("N", "3")]).unwrap_err();
        assert!(
            e.starts_with("s.conf:3: user: %(ENV_APP_USER)s: APP_USER is not set"),
            "{e}"
        );
    }

    #[test]
    fn what_supervisord_refuses_is_an_error_naming_the_line() {
        for (text, want) in [
            (
                "[program:a]\nautostart=true\n",
                "s.conf:1: [program:a] has no command",
            ),
            (
                "[program:a]\ncommand=a\n[program:a]\ncommand=b\n",
                "s.conf:3: [program:a] again (first at s.conf:1)",
            ),
            (
                "[program:a]\ncommand=a 'open\n",
                "s.conf:2: command: no closing quotation",
            ),
            (
                "[program:a]\ncommand=a\nautorestart=maybe\n",
                "s.conf:3: autorestart:",
            ),
            (
                "[program:a]\ncommand=a\nstopsignal=NOPE\n",
                "s.conf:3: stopsignal:",
            ),
            (
                "[program:a]\ncommand=a\nnumprocs=0\n",
                "s.conf:3: numprocs: 0",
            ),
            (
                "[program:a]\ncommand=%(nope)s\n",
                "s.conf:2: command: %(nope)s",
            ),
            (
                "[program:a b]\ncommand=a\n[program:a-b]\ncommand=b\n",
                "s.conf:3: program name \"a-b\"",
            ),
        ] {
            let e = convert_text(text, &[]).unwrap_err();
            assert!(e.starts_with(want), "{e} (wanted {want})");
        }
    }

    #[test]
    fn log_destinations_map_as_supervisord_means_them() {
        let text = "[program:a]\ncommand=a\nstdout_logfile=/dev/null\nstdout_logfile_maxbytes=1MB\n\
            [program:b]\ncommand=b\nstdout_logfile=none\n\
            [program:c]\ncommand=c\nstdout_logfile=Off\n\
            [program:d]\ncommand=d\nstdout_logfile=/var/log/d.log\n\
            [program:e]\ncommand=e\nstdout_logfile=/proc/1/fd/3\n\
            [program:f]\ncommand=f\nstdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\nstdout_logfile_backups=0\n";
        let out = convert_text(text, &[]).unwrap();
        for name in ["a", "b", "c"] {
            let svc = service(&out, name);
            assert_eq!(svc["log"].as_str(), Some("null"), "{name}: {out}");
            assert!(
                svc.get("log_max_size").is_none(),
                "{name}: never rotate /dev/null"
            );
        }
        assert!(out.contains("s.conf:4: stdout_logfile_maxbytes=1MB\n#   not mapped: rinit rotates only a log file"), "{out}");
        let d = service(&out, "d");
        assert_eq!(
            d["log_max_size"].as_str(),
            Some("50M"),
            "supervisord's default"
        );
        assert_eq!(
            d["log_keep"].as_integer(),
            Some(10),
            "supervisord's default"
        );
        assert!(out.contains("stderr goes into it too"), "{out}");
        let e = service(&out, "e");
        assert_eq!(e["log"].as_str(), Some("/proc/1/fd/3"));
        assert!(e.get("log_max_size").is_none());
        assert_eq!(service(&out, "f")["log"].as_str(), Some("prefix"));
        assert!(
            !out.contains("s.conf:20:"),
            "maxbytes=0 with /dev/stdout is mapped: {out}"
        );
        assert!(
            !out.contains("s.conf:21:"),
            "backups=0 with /dev/stdout is mapped: {out}"
        );
    }

    #[test]
    fn env_names_come_from_environment_lines_first() {
        let text = "[supervisord]\nenvironment=ROOT=\"/srv\"\n\
            [program:app]\ncommand=run --port %(ENV_PORT)s --root %(ENV_ROOT)s --home %(ENV_HOME)s\n\
            environment=PORT=\"8080\"\nautostart=%(ENV_START)s\n";
        let out = convert_text(text, &[("START", "false")]).unwrap();
        let app = service(&out, "app");
        let exec: Vec<&str> = app["exec"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(
            exec,
            [
                "run", "--port", "8080", "--root", "/srv", "--home", "${HOME}"
            ]
        );
        assert_eq!(
            app["enabled"].as_bool(),
            Some(false),
            "booleans are expanded too"
        );
    }

    #[test]
    fn groups_name_and_order_their_programs() {
        let text = "[group:web]\nprograms=nginx,php\npriority=1\n\
            [program:nginx]\ncommand=nginx --tag %(group_name)s\npriority=900\n\
            [program:php]\ncommand=php-fpm\npriority=800\n\
            [program:db]\ncommand=postgres\npriority=100\n";
        let out = convert_text(text, &[]).unwrap();
        // The group's priority 1 puts both before db (100); inside it, php (800) first.
        assert_eq!(service(&out, "nginx")["exec"][2].as_str(), Some("web"));
        assert!(service(&out, "php").get("after").is_none(), "{out}");
        assert_eq!(service(&out, "nginx")["after"][0].as_str(), Some("php"));
        assert_eq!(service(&out, "db")["after"][0].as_str(), Some("nginx"));
    }

    #[test]
    fn a_program_called_main_is_renamed() {
        let out = convert_text("[program:main]\ncommand=app\n", &[]).unwrap();
        assert!(service(&out, "main-program")["exec"].is_array());
        assert!(
            out.contains("note: named main-program: main is rinit's name"),
            "{out}"
        );
        let e = convert_text("[program:a]\ncommand=''\n", &[]).unwrap_err();
        assert!(e.contains("no program to run"), "{e}");
    }
}
