//! Splitting supervisord values as supervisord does: `command` into words (Python's
//! `shlex.split`, POSIX rules), `environment` into `KEY=VALUE` pairs separated by commas.
//! Pure.

/// `command` → argv: blanks separate words; `'…'` is literal; in `"…"` a backslash
/// escapes only `"` and `\`; outside quotes a backslash escapes any character.
pub fn split_command(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("no closing quotation (')".into()),
                    }
                }
            }
            '"' => double_quoted(&mut chars, word.get_or_insert_with(String::new))?,
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("a backslash at the end (nothing to escape)".into()),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// The rest of a `"…"` after its opening quote, appended to `out`.
fn double_quoted(chars: &mut std::str::Chars, out: &mut String) -> Result<(), String> {
    loop {
        match chars.next() {
            Some('"') => return Ok(()),
            Some('\\') => match chars.next() {
                Some(c @ ('"' | '\\')) => out.push(c),
                Some(c) => {
                    out.push('\\');
                    out.push(c);
                }
                None => return Err("no closing quotation (\")".into()),
            },
            Some(c) => out.push(c),
            None => return Err("no closing quotation (\")".into()),
        }
    }
}

/// `environment=A="1",B=two` → `[("A", "1"), ("B", "two")]`. Commas and `=` inside quotes
/// are part of the value; blanks outside quotes around keys and values are dropped.
pub fn environment_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for item in split_unquoted(text, ',')? {
        if item.trim().is_empty() {
            continue;
        }
        let (key, value) = match split_unquoted(&item, '=')?.as_slice() {
            [key, rest @ ..] if !rest.is_empty() => (key.trim().to_string(), rest.join("=")),
            _ => return Err(format!("expected KEY=VALUE, found {:?}", item.trim())),
        };
        if key.is_empty() {
            return Err(format!("expected KEY=VALUE, found {:?}", item.trim()));
        }
        let words = split_command(&value)?;
        pairs.push((key, words.join(" ")));
    }
    Ok(pairs)
}

/// `text` split at every `sep` outside quotes (the quotes are kept).
fn split_unquoted(text: &str, sep: char) -> Result<Vec<String>, String> {
    let mut parts = vec![String::new()];
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        let part = parts.last_mut().ok_or("no part")?;
        match (quote, c) {
            _ if escaped => {
                escaped = false;
                part.push(c);
            }
            (Some('"') | None, '\\') => {
                escaped = true;
                part.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                part.push(c);
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                part.push(c);
            }
            (None, c) if c == sep => parts.push(String::new()),
            _ => part.push(c),
        }
    }
    match quote {
        Some(q) => Err(format!("no closing quotation ({q})")),
        None => Ok(parts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<String> {
        split_command(text).unwrap()
    }

    #[test]
    fn commands_split_like_shlex() {
        assert_eq!(
            split("nginx -g 'daemon off;'"),
            ["nginx", "-g", "daemon off;"]
        );
        assert_eq!(
            split(r#"bash -c "exec php \"artisan\" a\b" x\ y ''"#),
            ["bash", "-c", r#"exec php "artisan" a\b"#, "x y", ""]
        );
        assert_eq!(split("  a\t b\n"), ["a", "b"]);
        assert_eq!(split("--opt=\"a b\"c"), ["--opt=a bc"]);
        assert!(split_command("echo 'open").is_err());
        assert!(split_command("echo \"open").is_err());
        assert!(split_command("echo \\").is_err());
    }

    #[test]
    fn environments_split_at_commas_outside_quotes() {
        let pairs = environment_pairs(
            "A=\"1\",B=two, C = 'x,y=z' ,\nPATH=\"/venv/bin:${PATH}\",EMPTY=\"\"",
        )
        .unwrap();
        let want = [
            ("A", "1"),
            ("B", "two"),
            ("C", "x,y=z"),
            ("PATH", "/venv/bin:${PATH}"),
            ("EMPTY", ""),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(pairs, want);
        assert_eq!(environment_pairs("A=1,").unwrap().len(), 1);
        assert!(environment_pairs("JUSTKEY").is_err());
        assert!(environment_pairs("=v").is_err());
        assert!(environment_pairs("A=\"open").is_err());
    }
}
