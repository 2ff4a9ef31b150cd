//! Variables in the configuration: `${VAR}` and `${VAR:-default}` in strings, expanded
//! from rinit's environment when the configuration is loaded (and reloaded), and
//! environment files (`env_file`, systemd's `EnvironmentFile=`, Docker's `--env-file`).
//! Both are pure functions here; the loader gives them rinit's environment and the
//! files' text.

/// Expand `${VAR}`, `${VAR:-default}` (the default when VAR is unset or empty) and `$$`
/// (a literal `$`) in `text`; any other `$` stays as it is, so `$HOME` in a shell command
/// is left to the shell. An unset variable without a default is an error naming it.
pub fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + 1..).unwrap_or_default();
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                return Err(format!("unclosed \"${{\" in {text:?} (expected ${{VAR}})"));
            };
            let inner = body.get(..end).unwrap_or_default();
            out.push_str(&variable(inner, lookup)?);
            rest = body.get(end + 1..).unwrap_or_default();
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of `NAME` or `NAME:-default`.
fn variable(inner: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let (name, default) = match inner.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (inner, None),
    };
    if !is_name(name) {
        return Err(format!(
            "invalid variable ${{{inner}}} (expected ${{NAME}} or ${{NAME:-default}}, NAME of letters, digits and _)"
        ));
    }
    match (
        lookup(name).filter(|v| !v.is_empty() || default.is_none()),
        default,
    ) {
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_string()),
        (None, None) => Err(format!(
            "${{{name}}} is not set in rinit's environment (give a default: ${{{name}:-value}})"
        )),
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variables of an environment file: `KEY=VALUE` lines; blank lines and lines
/// starting with `#` are skipped; `export ` before a key is allowed; a value in single
/// quotes is taken as it is, in double quotes with `\"`, `\\`, `\n` and `\$` undone;
/// an unquoted value is trimmed. Errors name the line. Later lines win.
pub fn parse_env_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut vars: Vec<(String, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected KEY=VALUE", n + 1));
        };
        let key = key.trim();
        if !is_name(key) {
            return Err(format!("line {}: invalid variable name {key:?}", n + 1));
        }
        let value = unquote(value.trim()).map_err(|e| format!("line {}: {e}", n + 1))?;
        vars.retain(|(k, _)| k != key);
        vars.push((key.to_string(), value));
    }
    Ok(vars)
}

fn unquote(value: &str) -> Result<String, String> {
    if let Some(inner) = value.strip_prefix('\'') {
        return inner
            .strip_suffix('\'')
            .map(str::to_string)
            .ok_or_else(|| "unclosed single quote".to_string());
    }
    let Some(inner) = value.strip_prefix('"') else {
        return Ok(value.to_string());
    };
    let Some(inner) = inner.strip_suffix('"') else {
        return Err("unclosed double quote".into());
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            ('\\', Some(e @ ('"' | '\\' | '$'))) => {
                out.push(e);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("8080".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn variables_and_defaults() {
        let x = |t: &str| expand(t, &env);
        assert_eq!(x("tcp:${PORT}"), Ok("tcp:8080".into()));
        assert_eq!(x("${HOST:-localhost}:${PORT}"), Ok("localhost:8080".into()));
        assert_eq!(x("${EMPTY:-fallback}"), Ok("fallback".into()));
        assert_eq!(x("[${EMPTY}]"), Ok("[]".into()));
        assert_eq!(
            x("cost: $$5, home: $HOME, lone $"),
            Ok("cost: $5, home: $HOME, lone $".into())
        );
        assert_eq!(x("${A:-x:-y}"), Ok("x:-y".into()));
        assert_eq!(x("é${PORT}é"), Ok("é8080é".into()));
        assert!(x("${NOPE}").unwrap_err().contains("${NOPE} is not set"));
        assert!(x("${PORT").unwrap_err().contains("unclosed"));
        assert!(x("${1X}").unwrap_err().contains("invalid variable"));
        assert!(x("${}").is_err());
    }

    #[test]
    fn env_files() {
        let text = "# app settings\n\nA=1\nexport B = two words \nC='single $x'\nD=\"dq \\\"q\\\" \\$y\\n\"\nA=again\n";
        let vars = parse_env_file(text).unwrap();
        assert_eq!(
            vars,
            vec![
                ("B".to_string(), "two words".to_string()),
                ("C".to_string(), "single $x".to_string()),
                ("D".to_string(), "dq \"q\" $y\n".to_string()),
                ("A".to_string(), "again".to_string()),
            ]
        );
        assert_eq!(
            parse_env_file("no equals").unwrap_err(),
            "line 1: expected KEY=VALUE"
        );
        assert!(
            parse_env_file("\n1A=x")
                .unwrap_err()
                .starts_with("line 2: invalid variable name")
        );
        assert!(
            parse_env_file("A='open")
                .unwrap_err()
                .contains("unclosed single quote")
        );
    }
}
