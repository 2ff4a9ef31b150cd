//! supervisord's `%(name)s` expansions (Python %-formatting with a mapping), turned into
//! text rinit reads the same way: known values are written out, values only known when
//! rinit runs become rinit's own forms (`%(ENV_X)s` → `${X}`, `%(process_num)d` of an
//! instanced program → `{instance}`), and a literal `$` that rinit would take for a
//! variable is doubled. Pure.

/// What a name expands to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Known now (`program_name`, `here`).
    Text(String),
    /// Known now, formatted with `d`/`s` and a width (`process_num` of one process).
    Number(i64),
    /// Known when rinit loads the file: written as `text`; `note` says what differs.
    Later { text: String, note: Option<String> },
}

/// An expanded string, and what the reader should know about it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expanded {
    pub text: String,
    pub notes: Vec<String>,
}

enum Piece {
    Literal(char),
    Raw(String),
}

/// Expand `raw`; `lookup` gives a name's value, `None` for a name supervisord would refuse.
pub fn expand(raw: &str, lookup: &dyn Fn(&str) -> Option<Value>) -> Result<Expanded, String> {
    let mut pieces = Vec::new();
    let mut notes = Vec::new();
    let mut rest = raw;
    while let Some(at) = rest.find('%') {
        pieces.extend(
            rest.get(..at)
                .unwrap_or_default()
                .chars()
                .map(Piece::Literal),
        );
        let after = rest.get(at + 1..).unwrap_or_default();
        if let Some(tail) = after.strip_prefix('%') {
            pieces.push(Piece::Literal('%'));
            rest = tail;
            continue;
        }
        let Some(inner) = after.strip_prefix('(') else {
            return Err("a lone % (write %% for a literal %, %(name)s for a value)".into());
        };
        let close = inner
            .find(')')
            .ok_or_else(|| format!("unclosed %({inner}"))?;
        let name = inner.get(..close).unwrap_or_default();
        let (spec, tail) = conversion(inner.get(close + 1..).unwrap_or_default())
            .ok_or_else(|| format!("%({name}) needs a conversion such as s or d"))?;
        let value = lookup(name).ok_or_else(|| unknown(name))?;
        let text = format_value(&value, &spec, name, &mut notes)?;
        pieces.push(Piece::Raw(text));
        rest = tail;
    }
    pieces.extend(rest.chars().map(Piece::Literal));
    if raw.contains("{instance}") {
        notes.push("rinit replaces {instance} here with the instance number".into());
    }
    Ok(Expanded {
        text: join(&pieces),
        notes,
    })
}

fn unknown(name: &str) -> String {
    format!(
        "%({name})s: supervisord knows no such name (expected ENV_NAME, here, program_name, \
         process_num, group_name, host_node_name or numprocs)"
    )
}

/// `[flags][width][.precision]type` after `%(name)`.
struct Spec {
    zero: bool,
    left: bool,
    width: usize,
    kind: char,
}

fn conversion(text: &str) -> Option<(Spec, &str)> {
    let mut spec = Spec {
        zero: false,
        left: false,
        width: 0,
        kind: 's',
    };
    let mut chars = text.char_indices().peekable();
    while let Some(&(_, c)) = chars.peek() {
        match c {
            '0' => spec.zero = true,
            '-' => spec.left = true,
            ' ' | '+' | '#' => {}
            _ => break,
        }
        chars.next();
    }
    while let Some(&(_, c)) = chars.peek() {
        let Some(d) = c.to_digit(10) else { break };
        spec.width = spec
            .width
            .saturating_mul(10)
            .saturating_add(d as usize)
            .min(64);
        chars.next();
    }
    let (at, kind) = chars.next()?;
    if !"sdir".contains(kind) {
        return None;
    }
    spec.kind = kind;
    Some((spec, text.get(at + kind.len_utf8()..).unwrap_or_default()))
}

fn format_value(
    value: &Value,
    spec: &Spec,
    name: &str,
    notes: &mut Vec<String>,
) -> Result<String, String> {
    let pad = |text: String, zero: bool| {
        let fill = spec.width.saturating_sub(text.chars().count());
        let filler: String = std::iter::repeat_n(if zero { '0' } else { ' ' }, fill).collect();
        if spec.left {
            text + &filler
        } else {
            filler + &text
        }
    };
    match value {
        Value::Number(n) => Ok(pad(
            n.to_string(),
            spec.zero && spec.kind != 's' && !spec.left,
        )),
        Value::Text(t) if spec.kind == 's' || spec.kind == 'r' => Ok(pad(t.clone(), false)),
        Value::Text(t) => match t.parse::<i64>() {
            Ok(n) => Ok(pad(n.to_string(), spec.zero && !spec.left)),
            Err(_) => Err(format!("%({name}){}: {t:?} is not a number", spec.kind)),
        },
        Value::Later { text, note } => {
            notes.extend(note.clone());
            if spec.width > 1 {
                notes.push(format!(
                    "%({name}) had a width of {}: rinit does not pad {text}",
                    spec.width
                ));
            }
            Ok(text.clone())
        }
    }
}

/// Pieces to text: a literal `$` before `{` or `$` becomes `$$`, so that rinit reads it
/// as the `$` it was.
fn join(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        match piece {
            Piece::Raw(text) => out.push_str(text),
            Piece::Literal('$') => {
                let next = match pieces.get(i + 1) {
                    Some(Piece::Literal(c)) => Some(*c),
                    Some(Piece::Raw(text)) => text.chars().next(),
                    None => None,
                };
                out.push('$');
                if matches!(next, Some('{' | '$')) {
                    out.push('$');
                }
            }
            Piece::Literal(c) => out.push(*c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(name: &str) -> Option<Value> {
        match name {
            "program_name" => Some(Value::Text("worker".into())),
            "process_num" => Some(Value::Number(3)),
            "here" => Some(Value::Text("/etc/supervisor".into())),
            "instance" => Some(Value::Later {
                text: "{instance}".into(),
                note: Some("counts from 1".into()),
            }),
            _ => name.strip_prefix("ENV_").map(|v| Value::Later {
                text: format!("${{{v}}}"),
                note: None,
            }),
        }
    }

    fn text(raw: &str) -> String {
        expand(raw, &names).unwrap().text
    }

    #[test]
    fn known_names_are_written_out_with_their_format() {
        assert_eq!(text("%(program_name)s_%(process_num)02d"), "worker_03");
        assert_eq!(
            text("%(process_num)d|%(process_num)3d|%(process_num)-3d|"),
            "3|  3|3  |"
        );
        assert_eq!(text("%(here)s/app.log"), "/etc/supervisor/app.log");
        assert_eq!(text("100%% sure"), "100% sure");
    }

    #[test]
    fn runtime_names_become_rinit_forms_with_notes() {
        assert_eq!(text("--port=%(ENV_PORT)s"), "--port=${PORT}");
        let e = expand("q%(instance)02d", &names).unwrap();
        assert_eq!(e.text, "q{instance}");
        assert_eq!(e.notes.len(), 2, "{:?}", e.notes);
    }

    #[test]
    fn a_dollar_rinit_would_read_is_doubled_and_no_other() {
        assert_eq!(text("echo $HOME"), "echo $HOME");
        assert_eq!(text("echo ${ENV_DEBUG:-x} $$"), "echo $${ENV_DEBUG:-x} $$$");
        assert_eq!(text("$%(ENV_X)s"), "$$${X}");
        assert_eq!(text("cost: 5$"), "cost: 5$");
    }

    #[test]
    fn what_supervisord_refuses_is_an_error() {
        assert!(expand("%(nosuch)s", &names).unwrap_err().contains("nosuch"));
        assert!(expand("50%", &names).is_err());
        assert!(expand("%(program_name)", &names).is_err());
        assert!(expand("%(program_name)q", &names).is_err());
        assert!(expand("%(program_name", &names).is_err());
        assert!(expand("%(program_name)d", &names).is_err());
    }

    #[test]
    fn literal_instance_placeholders_are_pointed_out() {
        let e = expand("echo {instance}", &names).unwrap();
        assert_eq!(e.notes.len(), 1);
    }
}
