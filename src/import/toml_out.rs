//! Writing TOML by hand, for the few shapes the importer prints: basic strings, keys,
//! arrays of strings or integers, inline tables of strings, and comments. Pure.

/// `text` as a TOML basic string: `"…"` with `\` and `"` escaped, control characters as
/// escapes.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A key: bare when TOML allows it (`A-Za-z0-9_-`), quoted otherwise.
pub fn key(name: &str) -> String {
    let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if !name.is_empty() && name.chars().all(bare) {
        name.to_string()
    } else {
        string(name)
    }
}

/// `["a", "b"]`.
pub fn strings<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items.iter().map(|s| string(s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

/// `{ A = "1", B = "2" }`.
pub fn table(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return "{}".into();
    }
    let items: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{} = {}", key(k), string(v)))
        .collect();
    format!("{{ {} }}", items.join(", "))
}

/// One comment line: `# text`, with what a TOML comment may not hold replaced by `?`.
pub fn comment(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect();
    format!("# {clean}").trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_keys_and_tables_are_valid_toml() {
        let text = format!(
            "a = {}\nb = {}\nc = {}\n{} = 1\n{}\n",
            string("say \"hi\"\\\n\t\u{1}é"),
            strings(&["x", "y z"]),
            table(&[("PATH".into(), "/bin".into()), ("a.b".into(), "".into())]),
            key("needs quoting"),
            comment("a\nb\u{7f}"),
        );
        let v: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(v["a"].as_str(), Some("say \"hi\"\\\n\t\u{1}é"));
        assert_eq!(v["b"].as_array().map(|a| a.len()), Some(2));
        assert_eq!(v["c"]["a.b"].as_str(), Some(""));
        assert_eq!(v["needs quoting"].as_integer(), Some(1));
        assert_eq!(key("web-1_x"), "web-1_x");
        assert_eq!(table(&[]), "{}");
    }
}
