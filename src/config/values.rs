//! Values: what each kind of configuration value may be, as pure functions from a TOML
//! value to a clean one (or a message saying what was expected), and the `deserialize_with`
//! adapters that let serde call them while it reads a file.
//!
//! An adapter reads the value as a [`toml::Value`] first, so a value of the wrong type
//! reaches the check and gets rinit's own message ("expected a signal name like …")
//! instead of serde's generic one. The loader puts the key's name and the value's
//! position in front of the message.

use std::ffi::OsString;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Unexpected, Visitor};
use toml::{Spanned, Value};

use super::{
    HealthProbe, HttpTarget, LimitValue, LogTarget, MAX_SOCKET_PATH, PORT_EXPECTED, PortSpec,
    Proto, Ready, Restart, StopMode,
};
use crate::pattern::Pattern;
use crate::signals;

// ---------------------------------------------------------------------------------------
// serde adapters: one per kind of value
// ---------------------------------------------------------------------------------------

/// Reads any TOML value and checks it with `check`.
fn checked<'de, D: Deserializer<'de>, T>(
    d: D,
    check: impl FnOnce(Value) -> Result<T, String>,
) -> Result<T, D::Error> {
    run_check(d, false, check)
}

/// Reads a TOML string (any other type is serde's "invalid type" error) and checks it.
fn checked_str<'de, D: Deserializer<'de>, T>(
    d: D,
    check: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error> {
    run_check(d, true, |value| match value {
        Value::String(text) => check(&text),
        _ => Err("expected a string".to_string()),
    })
}

/// Runs `check` inside the [`Check`] visitor, which is one piece of code for every kind
/// of value (the check is called through `dyn`, so each adapter adds only its check).
fn run_check<'de, D: Deserializer<'de>, T>(
    d: D,
    strings_only: bool,
    check: impl FnOnce(Value) -> Result<T, String>,
) -> Result<T, D::Error> {
    run_check_items(d, strings_only, |value, _| check(value))
}

/// Like [`run_check`], `check` also given where each element of a list is.
fn run_check_items<'de, D: Deserializer<'de>, T>(
    d: D,
    strings_only: bool,
    check: impl FnOnce(Value, Vec<Range<usize>>) -> Result<T, String>,
) -> Result<T, D::Error> {
    let mut check = Some(check);
    let mut result = None;
    let mut run = |value: Value, items: Vec<Range<usize>>| {
        let check = check.take().ok_or("checked twice")?;
        result = Some(check(value, items)?);
        Ok(())
    };
    d.deserialize_any(Check {
        check: &mut run,
        strings_only,
    })?;
    result.ok_or_else(|| D::Error::custom("no value"))
}

/// A visitor that rebuilds the TOML value and runs the check inside the visit, so that
/// toml places an error at this value even when it is an element of a list.
struct Check<'a> {
    check: &'a mut dyn FnMut(Value, Vec<Range<usize>>) -> Result<(), String>,
    strings_only: bool,
}

impl Check<'_> {
    fn finish<E: serde::de::Error>(self, value: Value) -> Result<(), E> {
        (self.check)(value, Vec::new()).map_err(E::custom)
    }
}

impl<'de> Visitor<'de> for Check<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.strings_only {
            "a string"
        } else {
            "a value"
        })
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        match self.strings_only {
            true => Err(E::invalid_type(Unexpected::Bool(v), &self)),
            false => self.finish(Value::Boolean(v)),
        }
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        match self.strings_only {
            true => Err(E::invalid_type(Unexpected::Signed(v), &self)),
            false => self.finish(Value::Integer(v)),
        }
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => Err(E::invalid_value(Unexpected::Unsigned(v), &self)),
        }
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        match self.strings_only {
            true => Err(E::invalid_type(Unexpected::Float(v), &self)),
            false => self.finish(Value::Float(v)),
        }
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.finish(Value::String(v.to_string()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.strings_only {
            return Err(serde::de::Error::invalid_type(Unexpected::Seq, &self));
        }
        let (mut items, mut spans) = (Vec::new(), Vec::new());
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            spans.push(item.span());
            items.push(item.into_inner());
        }
        (self.check)(Value::Array(items), spans).map_err(serde::de::Error::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.strings_only {
            return Err(serde::de::Error::invalid_type(Unexpected::Map, &self));
        }
        let mut table = toml::Table::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            table.insert(key, value);
        }
        self.finish(datetime(&table).unwrap_or(Value::Table(table)))
    }
}

/// A value as written, and where each element is if it is a list: what the loader's
/// layout of a file holds for each key.
#[derive(Debug)]
pub struct Raw {
    pub value: Value,
    pub items: Vec<Range<usize>>,
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        run_check_items(d, false, |value, items| Ok(Raw { value, items }))
    }
}

/// `exec`: as if `shell = true`, which checks everything but quoting. The loader then
/// reads the string again with the service's real `shell` (see `load::resolve_commands`).
pub fn exec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<OsString>, D::Error> {
    checked(d, |v| command_value(expanded(v)?, true))
        .map(|argv| argv.into_iter().map(OsString::from).collect())
}

/// `stop_exec`: as [`exec`].
pub fn stop_exec<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    checked(d, |v| command_value(expanded(v)?, true)).map(Some)
}

/// `ready`: as [`exec`] for an `exec:` probe.
pub fn ready<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Ready>, D::Error> {
    checked_str(d, |t| ready_value(&expand_str(t)?, true)).map(Some)
}

/// `health`: as [`exec`] for an `exec:` check.
pub fn health<'de, D: Deserializer<'de>>(d: D) -> Result<Option<HealthProbe>, D::Error> {
    checked_str(d, |t| health_value(&expand_str(t)?, true)).map(Some)
}

/// `health_interval`, `health_timeout`: more than zero (a zero interval would spin).
pub fn interval<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    checked(d, |v| match duration_value(v)? {
        Duration::ZERO => Err("expected a duration above zero, like \"10s\"".to_string()),
        d => Ok(d),
    })
}

/// `watchdog`: as [`interval`].
pub fn watchdog<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    interval(d).map(Some)
}

/// `health_retries`: a count from 1.
pub fn retries<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    checked(d, |v| match v {
        Value::Integer(n) if n >= 1 => u32::try_from(n).map_err(|_| format!("{n} is too many")),
        other => Err(format!("expected a number from 1, found {other}")),
    })
}

/// A duration (`ready_timeout`; the capped ones are clamped by the loader).
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    checked(d, duration_value)
}

/// `stop_signal`.
pub fn signal<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    checked(d, signal_value)
}

/// A port (`ports`, `sweep_ports`), each element checked at its own position.
impl<'de> Deserialize<'de> for PortSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PortSpec, D::Error> {
        checked(d, port_value)
    }
}

/// `sweep_patterns`: regular expressions that compile.
pub fn patterns<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = Vec::<Regex>::deserialize(d)?;
    Ok(list.into_iter().map(|r| r.0).collect())
}

/// A service's `patterns`: as [`patterns`], with `{instance}` (1 here; each instance's
/// are read again, see [`instance_pattern`]).
pub fn service_patterns<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = Vec::<InstanceRegex>::deserialize(d)?;
    Ok(list.into_iter().map(|r| r.0).collect())
}

struct InstanceRegex(String);

impl<'de> Deserialize<'de> for InstanceRegex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<InstanceRegex, D::Error> {
        checked_str(d, |s| instance_pattern(s, 1)).map(InstanceRegex)
    }
}

/// One `patterns` entry for instance `n`: `{instance}` replaced, then compiled.
pub fn instance_pattern(text: &str, n: u32) -> Result<String, String> {
    regex(text.replace("{instance}", &n.to_string()))
}

/// One regular expression, checked at its own position in the list.
struct Regex(String);

impl<'de> Deserialize<'de> for Regex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Regex, D::Error> {
        checked_str(d, |s| regex(s.to_string())).map(Regex)
    }
}

/// `success_codes`: at least one exit code, each checked at its own position.
pub fn success_codes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    let codes = Vec::<ExitCode>::deserialize(d)?;
    if codes.is_empty() {
        return Err(D::Error::custom(
            "expected at least one exit code, like [0]",
        ));
    }
    Ok(codes.into_iter().map(|c| c.0).collect())
}

struct ExitCode(i32);

impl<'de> Deserialize<'de> for ExitCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ExitCode, D::Error> {
        checked(d, exit_code).map(ExitCode)
    }
}

/// `user`, `group`.
pub fn account<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, |v| {
        account_value(v).map(|a| a.replace("{instance}", "1"))
    })
    .map(Some)
}

/// `workdir`.
pub fn absolute<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    checked_str(d, |t| absolute_path(&expand_str(t)?)).map(Some)
}

/// `limits = { nofile = 65536, core = 0, memlock = "64M", nproc = "1024:4096" }`: a bad
/// name is reported at the name, a bad value at the value.
pub fn limits<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<LimitValue>, D::Error> {
    let table = std::collections::BTreeMap::<LimitName, LimitNumbers>::deserialize(d)?;
    Ok(table
        .into_iter()
        .map(|(name, n)| LimitValue {
            name: name.0,
            soft: n.0,
            hard: n.1,
        })
        .collect())
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct LimitName(String);

impl<'de> Deserialize<'de> for LimitName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LimitName, D::Error> {
        let name = String::deserialize(d)?;
        if crate::spawn::resource_named(&name).is_none() {
            let known: Vec<&str> = crate::spawn::RESOURCES.iter().map(|r| r.0).collect();
            let message = format!(
                "unknown limit {name:?} (expected one of {})",
                known.join(", ")
            );
            return Err(D::Error::custom(message));
        }
        Ok(LimitName(name))
    }
}

struct LimitNumbers(u64, Option<u64>);

impl<'de> Deserialize<'de> for LimitNumbers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LimitNumbers, D::Error> {
        checked(d, |v| match v {
            Value::Integer(n) => u64::try_from(n)
                .map(|n| LimitNumbers(n, None))
                .map_err(|_| format!("expected a limit of 0 or more, found {n}")),
            Value::String(s) => limit_text(&s),
            other => Err(format!(
                "expected a number, \"64M\", \"unlimited\" or \"SOFT:HARD\", found {}",
                other.type_str()
            )),
        })
    }
}

/// `"64M"`, `"unlimited"`, or `"SOFT:HARD"` of those. Pure.
fn limit_text(text: &str) -> Result<LimitNumbers, String> {
    match text.split_once(':') {
        Some((soft, hard)) => {
            let (soft, hard) = (limit_number(soft)?, limit_number(hard)?);
            if soft > hard {
                return Err(format!("{text:?}: the soft limit is above the hard one"));
            }
            Ok(LimitNumbers(soft, Some(hard)))
        }
        None => Ok(LimitNumbers(limit_number(text)?, None)),
    }
}

/// A number with an optional K, M, G or T (powers of 1024), or `unlimited`/`infinity`.
fn limit_number(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t == "unlimited" || t == "infinity" {
        return Ok(u64::MAX);
    }
    let (digits, scale) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (t.get(..i), 1u64 << 10),
        Some((i, 'M' | 'm')) => (t.get(..i), 1 << 20),
        Some((i, 'G' | 'g')) => (t.get(..i), 1 << 30),
        Some((i, 'T' | 't')) => (t.get(..i), 1 << 40),
        _ => (Some(t), 1),
    };
    digits
        .and_then(|d| d.parse::<u64>().ok())
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| {
            format!("{text:?} is not a limit (expected a number, \"64M\" or \"unlimited\")")
        })
}

/// `log_buffer`: a size like `"64K"` or a number of bytes, at most 128K (a `ctl logs` reply
/// stays under the control server's 1 MiB of unsent output, even with every byte escaped).
pub fn size<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    const MAX: u64 = 128 << 10;
    checked(d, |v| {
        let bytes = match &v {
            Value::Integer(n) => u64::try_from(*n).ok(),
            Value::String(s) if s != "unlimited" && s != "infinity" => limit_number(s).ok(),
            _ => None,
        };
        match bytes {
            Some(b) if b <= MAX => Ok(b as usize),
            _ => Err(format!(
                "expected a size like \"64K\" (at most 128K), found {v}"
            )),
        }
    })
}

/// `log_max_size`: a size like `"10M"`, at least 4K.
pub fn file_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    checked(d, |v| {
        let bytes = match &v {
            Value::Integer(n) => u64::try_from(*n).ok(),
            Value::String(s) if s != "unlimited" && s != "infinity" => limit_number(s).ok(),
            _ => None,
        };
        match bytes {
            Some(b) if b >= 4096 => Ok(Some(b)),
            _ => Err(format!(
                "expected a size like \"10M\" (at least 4K), found {v}"
            )),
        }
    })
}

/// `memory_max`, `memory_high`: a size like `"64M"` (at least 1M), or `"max"` (no limit).
pub fn memory<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    checked(d, |v| {
        if v.as_str() == Some("max") {
            return Ok(None);
        }
        let bytes = match &v {
            Value::Integer(n) => u64::try_from(*n).ok(),
            Value::String(s) if s != "unlimited" && s != "infinity" => limit_number(s).ok(),
            _ => None,
        };
        match bytes {
            Some(b) if b >= 1 << 20 => Ok(Some(b)),
            _ => Err(format!(
                "expected a size like \"64M\" (at least 1M) or \"max\", found {v}"
            )),
        }
    })
}

/// `pids_max`: 1 or more processes, or `"max"`.
pub fn pids<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    checked(d, |v| match v {
        Value::String(s) if s == "max" => Ok(None),
        other => int_in(other, 1..=4_194_304, "a number of processes").map(|n| Some(n as u64)),
    })
}

/// `cpu_weight`: 1 to 10000 (100 is the default share).
pub fn cpu_weight<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    checked(d, |v| {
        int_in(v, 1..=10_000, "a weight").map(|n| Some(n as u32))
    })
}

/// `cpu_max`: `"50%"` of one CPU, `"QUOTA PERIOD"` in µs, or `"max"`; kept as `cpu.max`
/// wants it.
pub fn cpu_max<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked_str(d, |t| crate::cgroup::cpu_max(t).map(Some))
}

/// `[rinit] cgroups`: `"auto"` (use them where rinit can) or `"off"`.
pub fn cgroups<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    checked_str(d, |t| match t {
        "auto" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("expected \"auto\" or \"off\", found {other:?}")),
    })
}

/// An integer in `range`, or "expected WHAT from A to B". Pure.
fn int_in(v: Value, range: std::ops::RangeInclusive<i64>, what: &str) -> Result<i64, String> {
    match v {
        Value::Integer(n) if range.contains(&n) => Ok(n),
        other => Err(format!(
            "expected {what} from {} to {}, found {other}",
            range.start(),
            range.end()
        )),
    }
}

/// `log_keep`: 0 to 100 rotated files.
pub fn keep<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    checked(d, |v| {
        int_in(v, 0..=100, "a number of files").map(|n| n as u32)
    })
}

/// `nice`: -20 (first) to 19 (last).
pub fn nice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    checked(d, |v| {
        int_in(v, -20..=19, "a niceness").map(|n| Some(n as i32))
    })
}

/// `umask`: an octal string like `"0027"`, or the number.
pub fn umask<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    checked(d, |v| {
        let mask = match &v {
            Value::String(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8).ok(),
            Value::Integer(n) => u32::try_from(*n).ok(),
            _ => None,
        };
        match mask {
            Some(m) if m <= 0o777 => Ok(Some(m)),
            _ => Err(format!("expected an octal mask like \"0027\", found {v}")),
        }
    })
}

/// `oom_score_adj`: -1000 (never killed) to 1000 (killed first).
pub fn oom_score_adj<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    checked(d, |v| {
        int_in(v, -1000..=1000, "a number").map(|n| Some(n as i32))
    })
}

/// `env_file`: absolute paths, each optionally after `-` (a missing file is then fine).
pub fn env_files<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let files = Vec::<EnvFile>::deserialize(d)?;
    Ok(files.into_iter().map(|f| f.0).collect())
}

struct EnvFile(String);

impl<'de> Deserialize<'de> for EnvFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EnvFile, D::Error> {
        checked_str(d, |t| env_file_for(t, 1).map(EnvFile))
    }
}

/// One `env_file` entry for instance `n`: `{instance}` replaced; the path absolute.
pub fn env_file_for(text: &str, n: u32) -> Result<String, String> {
    let text = text.replace("{instance}", &n.to_string());
    absolute_path(text.strip_prefix('-').unwrap_or(&text))?;
    Ok(text)
}

/// `${VAR}`, `${VAR:-default}` and `$$` in a string, or in each string of a list, from
/// rinit's environment (see [`super::env::expand`]).
pub fn expanded(value: Value) -> Result<Value, String> {
    expanded_for(value, 1)
}

/// [`expanded`] for instance `n` of a service (`{instance}` is `n`).
pub fn expanded_for(value: Value, n: u32) -> Result<Value, String> {
    match value {
        Value::String(s) => expand_for(&s, n).map(Value::String),
        Value::Array(items) => items
            .into_iter()
            .map(|v| expanded_for(v, n))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other),
    }
}

/// A command (see [`command_value`]) for instance `n`, with `${VAR}` expanded after a
/// string is split into words: a value with blanks or quotes stays one argument, as in
/// systemd's `${VAR}`. With `shell`, the whole string is expanded and given to sh.
pub fn command_for(value: Value, shell: bool, n: u32) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) if !shell => {
            let words = split_command(&s)?
                .iter()
                .map(|w| expand_for(w, n).map(Value::String))
                .collect::<Result<Vec<_>, _>>()?;
            command_value(Value::Array(words), false)
        }
        other => command_value(expanded_for(other, n)?, shell),
    }
}

/// [`expanded`] for one string.
pub fn expand_str(text: &str) -> Result<String, String> {
    expand_for(text, 1)
}

/// `{instance}` replaced by `n` (1 for a service without `instances`), then `${VAR}`.
pub fn expand_for(text: &str, n: u32) -> Result<String, String> {
    let text = text.replace("{instance}", &n.to_string());
    super::env::expand(&text, &|name| std::env::var(name).ok())
}

/// `instances`: how many copies of the service run, 1 to 1000.
pub fn instances<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    checked(d, |v| {
        int_in(v, 1..=1000, "a number of instances").map(|n| n as u32)
    })
}

/// `control_socket`.
pub fn socket<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    checked_str(d, socket_path).map(Some)
}

/// `hostname`.
pub fn host<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked_str(d, |h| hostname(h.to_string())).map(Some)
}

/// `env`: a table of variables, sorted by name; a bad name is reported at the name, a bad
/// value at the value.
pub fn env<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    let table = std::collections::BTreeMap::<EnvName, EnvValue>::deserialize(d)?;
    Ok(table.into_iter().map(|(k, v)| (k.0, v.0)).collect())
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct EnvName(String);

impl<'de> Deserialize<'de> for EnvName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EnvName, D::Error> {
        let name = String::deserialize(d)?;
        env_name(&name).map_err(D::Error::custom)?;
        Ok(EnvName(name))
    }
}

struct EnvValue(String);

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EnvValue, D::Error> {
        checked(d, |v| expand_str(&env_value(v)?)).map(EnvValue)
    }
}

impl<'de> Deserialize<'de> for Restart {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Restart, D::Error> {
        checked_str(d, restart_value)
    }
}

impl<'de> Deserialize<'de> for StopMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StopMode, D::Error> {
        checked_str(d, stop_mode_value)
    }
}

impl<'de> Deserialize<'de> for LogTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LogTarget, D::Error> {
        checked_str(d, |t| log_value(&expand_str(t)?))
    }
}

/// toml hands a date or time to a visitor as a one-entry table under a private key; this
/// turns it back into a datetime, so messages say "found datetime".
fn datetime(table: &toml::Table) -> Option<Value> {
    match table.iter().next() {
        Some((key, Value::String(text))) if table.len() == 1 && key.starts_with("$__toml") => {
            text.parse().ok().map(Value::Datetime)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Value checks: pure functions from a TOML value to a clean one, or what was expected
// ---------------------------------------------------------------------------------------

pub fn service_name(name: &str) -> Result<(), String> {
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
pub fn command_value(value: Value, shell: bool) -> Result<Vec<String>, String> {
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
/// character (a backslash-newline joins lines); `$$` and `${…}` are kept whole, for the
/// expansion that follows. An unclosed quote is an error.
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
            // `$$` and `${…}` pass whole (expanded after the split): a default may hold
            // blanks or quotes.
            '$' if chars.clone().next() == Some('$') => {
                word.push_str("$$");
                chars.next();
            }
            '$' if chars.clone().next() == Some('{') => {
                word.push('$');
                for c in chars.by_ref() {
                    word.push(c);
                    if c == '}' {
                        break;
                    }
                }
            }
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
pub fn duration_value(value: Value) -> Result<Duration, String> {
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

pub fn parse_port(number: &str) -> Result<u16, String> {
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

pub fn log_value(text: &str) -> Result<LogTarget, String> {
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
pub fn ready_value(text: &str, shell: bool) -> Result<Ready, String> {
    let expected =
        "expected tcp:[HOST:]PORT, file:PATH, exec:COMMAND, http://HOST[:PORT]/PATH or notify";
    if text == "notify" {
        return Ok(Ready::Notify);
    }
    if let Some(url) = text.strip_prefix("http://") {
        return http_target(url).map(Ready::Http);
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

/// `exec:COMMAND | tcp:[HOST:]PORT | http://HOST[:PORT]/PATH`.
pub fn health_value(text: &str, shell: bool) -> Result<HealthProbe, String> {
    let expected = "expected exec:COMMAND, tcp:[HOST:]PORT or http://HOST[:PORT]/PATH";
    if let Some(url) = text.strip_prefix("http://") {
        return http_target(url).map(HealthProbe::Http);
    }
    match text.split_once(':') {
        Some(("exec", command)) => {
            command_value(Value::String(command.to_string()), shell).map(HealthProbe::Exec)
        }
        Some(("tcp", target)) => match ready_tcp(target)? {
            Ready::Tcp { host, port } => Ok(HealthProbe::Tcp { host, port }),
            _ => Err(format!("unknown check {text:?} ({expected})")),
        },
        _ => Err(format!("unknown check {text:?} ({expected})")),
    }
}

/// What follows `http://`: `HOST[:PORT][/PATH]`, an IPv6 HOST in brackets; port 80 and
/// path `/` by default. No user, no fragment, nothing that would break the request line.
pub fn http_target(rest: &str) -> Result<HttpTarget, String> {
    let url = format!("http://{rest}");
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if path.contains(|c: char| c.is_whitespace() || c.is_control() || c == '#') {
        return Err(format!("{url:?}: the path cannot hold blanks or '#'"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, "")) => (host, "80"),
            Some((host, port)) => (host, port.strip_prefix(':').unwrap_or("x")),
            None => return Err(format!("{url:?}: unclosed '[' in the host")),
        },
        None => authority.rsplit_once(':').unwrap_or((authority, "80")),
    };
    let bracketed = authority.starts_with('[');
    let name_ok = |c: char| c.is_ascii_alphanumeric() || "-._".contains(c);
    let valid = if bracketed {
        host.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty() && host.chars().all(name_ok)
    };
    if !valid {
        return Err(format!(
            "{url:?}: expected http://HOST[:PORT]/PATH with HOST an IP address or a name"
        ));
    }
    Ok(HttpTarget {
        host: host.to_string(),
        port: parse_port(port)?,
        path: path.to_string(),
    })
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

pub fn absolute_path(text: &str) -> Result<PathBuf, String> {
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
pub fn env_value(value: Value) -> Result<String, String> {
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
