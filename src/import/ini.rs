//! The INI dialect supervisord reads (Python's `RawConfigParser` as supervisord sets it
//! up): `[section]` headers; `key = value` or `key: value` (the first `=` or `:`), keys
//! case-insensitive; whole-line comments starting with `;` or `#`; an inline comment is a
//! `;` preceded by a blank; an indented line continues the value above it. Pure: text
//! in, sections with their line numbers out, so the importer can name every line.

/// One `key = value` line (and its continuation lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Lower-cased, as supervisord compares keys.
    pub key: String,
    /// Without inline comment and outer blanks; continuation lines joined with `\n`.
    pub value: String,
    /// 1-based line of the key.
    pub line: usize,
    /// The line as written (for the comment on a line that is not mapped).
    pub text: String,
}

/// One `[header]` with its entries in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub line: usize,
    pub text: String,
    pub entries: Vec<Entry>,
}

impl Section {
    /// The last entry for `key` (a repeated key: the later one wins, as in supervisord).
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == key)
    }
}

/// A line that is not INI: its 1-based number and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniError {
    pub line: usize,
    pub message: String,
}

/// Parse one file's text into its sections.
pub fn parse(text: &str) -> Result<Vec<Section>, IniError> {
    let mut sections: Vec<Section> = Vec::new();
    // The indentation of the last key line: a line indented deeper continues its value.
    let mut key_indent: Option<usize> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
            continue;
        }
        let content = strip_inline_comment(raw).trim();
        if content.is_empty() {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        let last_entry = sections.last_mut().and_then(|s| s.entries.last_mut());
        if let (Some(entry), Some(key_at)) = (last_entry, key_indent) {
            if indent > key_at {
                entry.value.push('\n');
                entry.value.push_str(content);
                continue;
            }
        }
        if content.starts_with('[') {
            let Some(name) = header(content) else {
                return Err(IniError {
                    line,
                    message: format!("expected a [section] header, found {content:?}"),
                });
            };
            sections.push(Section {
                name: name.to_string(),
                line,
                text: raw.to_string(),
                entries: Vec::new(),
            });
            key_indent = None;
            continue;
        }
        let Some((key, value)) = key_value(content) else {
            return Err(IniError {
                line,
                message: format!("expected [section] or key = value, found {content:?}"),
            });
        };
        let Some(section) = sections.last_mut() else {
            return Err(IniError {
                line,
                message: "key before any [section] header".into(),
            });
        };
        section.entries.push(Entry {
            key,
            value,
            line,
            text: raw.to_string(),
        });
        key_indent = Some(indent);
    }
    Ok(sections)
}

/// The text before an inline comment: a `;` or `#` that follows a space or tab (as
/// supervisord sets up Python's parser).
fn strip_inline_comment(line: &str) -> &str {
    let mut previous_blank = false;
    for (at, c) in line.char_indices() {
        if (c == ';' || c == '#') && previous_blank {
            return line.get(..at).unwrap_or(line);
        }
        previous_blank = c == ' ' || c == '\t';
    }
    line
}

/// `[name]…` → `name`: up to the last `]` (anything after it is ignored, as Python's
/// parser does), trimmed.
fn header(content: &str) -> Option<&str> {
    let inner = content.strip_prefix('[')?;
    let inner = inner.get(..inner.rfind(']')?)?.trim();
    (!inner.is_empty()).then_some(inner)
}

/// `key = value` or `key: value`, split at whichever delimiter comes first.
fn key_value(content: &str) -> Option<(String, String)> {
    let at = content.find(['=', ':'])?;
    let key = content.get(..at)?.trim();
    let value = content.get(at + 1..)?.trim();
    (!key.is_empty()).then(|| (key.to_ascii_lowercase(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sections_keys_comments_and_continuations() {
        let text = "; top comment\n[program:web]\ncommand = nginx -g 'daemon off;' ; the server\n\
                    Directory: /srv\n# full-line\nenvironment=A=\"1\",\n   B=\"2\"\r\n\n[group:g]\nprograms=web\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "program:web");
        assert_eq!(s[0].line, 2);
        let command = s[0].get("command").unwrap();
        assert_eq!(command.value, "nginx -g 'daemon off;'");
        assert_eq!(command.line, 3);
        assert_eq!(s[0].get("directory").unwrap().value, "/srv");
        assert_eq!(s[0].get("environment").unwrap().value, "A=\"1\",\nB=\"2\"");
        assert_eq!(s[1].get("programs").unwrap().value, "web");
    }

    #[test]
    fn a_semicolon_without_a_blank_before_it_is_part_of_the_value() {
        let s = parse("[x]\ncommand=bash -c 'a;b' ;note\n").unwrap();
        assert_eq!(s[0].get("command").unwrap().value, "bash -c 'a;b'");
        let s = parse("[x]\ncommand=echo a\t;tab comment\n").unwrap();
        assert_eq!(s[0].get("command").unwrap().value, "echo a");
    }

    #[test]
    fn hash_comments_headers_with_trailing_text_and_indented_keys() {
        let text = "[program:a]\ncommand=foo --x  # note\n[program:b] # the second\n  command=b\n  directory=/b\n    --more\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0].get("command").unwrap().value, "foo --x");
        assert_eq!(s[1].name, "program:b");
        assert_eq!(
            s[1].get("command").unwrap().value,
            "b",
            "same indent: a key of its own"
        );
        assert_eq!(s[1].get("directory").unwrap().value, "/b\n--more");
        assert_eq!(parse("[x]junk\na=1\n").unwrap()[0].name, "x");
        assert!(parse("[unclosed\n").is_err());
    }

    #[test]
    fn the_later_of_two_keys_wins() {
        let s = parse("[x]\na=1\nA=2\n").unwrap();
        assert_eq!(s[0].get("a").unwrap().value, "2");
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("a=1\n").unwrap_err().line, 1);
        let e = parse("[x]\n\njust words\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("just words"), "{}", e.message);
        assert!(parse("[]\n").is_err());
    }
}
