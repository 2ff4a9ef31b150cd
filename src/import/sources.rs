//! Reading the supervisord files: the ones named on the command line and, in order, the
//! ones their `[include] files = …` globs match (relative to the including file's
//! directory, sorted, each file once). File access goes through [`Files`] so the rules
//! are tested on an in-memory tree.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use super::ini::{self, Section};

/// What the importer needs from a file system.
pub trait Files {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The names in a directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
}

/// The real file system.
pub struct Disk;

impl Files for Disk {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }
}

/// One file read: where it is, how to name it in messages, its sections.
#[derive(Debug)]
pub struct Source {
    pub path: PathBuf,
    pub label: String,
    pub sections: Vec<Section>,
    /// `[include]` patterns that matched no file (supervisord skips them too).
    pub unmatched: Vec<String>,
    /// Read because another file included it (its own `[include]` is not followed).
    pub included: bool,
}

/// A larger file is not a configuration.
const MAX_FILE: usize = 4 << 20;

/// Read `paths` and what they include, in order. `cwd` makes `%(here)s` absolute.
pub fn load(paths: &[PathBuf], files: &dyn Files, cwd: &Path) -> Result<Vec<Source>, String> {
    let mut sources = Vec::new();
    let mut seen = BTreeSet::new();
    for path in paths {
        read_with_includes(path, files, cwd, &mut sources, &mut seen)?;
    }
    Ok(sources)
}

/// One file named on the command line, then the files its `[include]` names.
fn read_with_includes(
    path: &Path,
    files: &dyn Files,
    cwd: &Path,
    sources: &mut Vec<Source>,
    seen: &mut BTreeSet<PathBuf>,
) -> Result<(), String> {
    if !seen.insert(normalize(&cwd.join(path))) {
        return Ok(());
    }
    let label = path.display().to_string();
    let sections = read_one(&cwd.join(path), &label, files)?;
    let dir = normalize(&cwd.join(path.parent().unwrap_or(Path::new(""))));
    let here = dir.display().to_string();
    let mut included = Vec::new();
    let mut unmatched = Vec::new();
    for entry in sections
        .iter()
        .filter(|s| s.name == "include")
        .filter_map(|s| s.get("files"))
    {
        for pattern in entry.value.split_whitespace() {
            let pattern = pattern.replace("%(here)s", &here);
            let found = matches(&dir, &pattern, files)
                .map_err(|e| format!("{label}:{}: files: {e}", entry.line))?;
            if found.is_empty() {
                unmatched.push(pattern);
            }
            included.extend(found);
        }
    }
    sources.push(Source {
        path: path.to_path_buf(),
        label,
        sections,
        unmatched,
        included: false,
    });
    for next in included {
        if !seen.insert(normalize(&cwd.join(&next))) {
            continue;
        }
        let label = next.display().to_string();
        let sections = read_one(&next, &label, files)?;
        sources.push(Source {
            path: next,
            label,
            sections,
            unmatched: Vec::new(),
            included: true,
        });
    }
    Ok(())
}

/// One file's sections; bytes that are not UTF-8 are an error naming their line.
fn read_one(path: &Path, label: &str, files: &dyn Files) -> Result<Vec<Section>, String> {
    let bytes = files.read(path).map_err(|e| format!("{label}: {e}"))?;
    if bytes.len() > MAX_FILE {
        return Err(format!("{label}: larger than {} MiB", MAX_FILE >> 20));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let bytes = e.as_bytes();
            let at = e.utf8_error().valid_up_to();
            let line = 1 + bytes.iter().take(at).filter(|&&b| b == b'\n').count();
            return Err(format!("{label}:{line}: not UTF-8 text"));
        }
    };
    ini::parse(&text).map_err(|e| format!("{label}:{}: {}", e.line, e.message))
}

/// The files `pattern` names, relative to `dir` unless absolute; wildcards (`*`, `?`,
/// `[…]`) in the last component only; sorted.
fn matches(dir: &Path, pattern: &str, files: &dyn Files) -> Result<Vec<PathBuf>, String> {
    let full = normalize(&dir.join(pattern));
    let parent = full.parent().unwrap_or(Path::new("/")).to_path_buf();
    let name = full
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if parent.to_string_lossy().contains(['*', '?', '[']) {
        return Err(format!(
            "{pattern:?}: wildcards are supported in the file name only"
        ));
    }
    if !name.contains(['*', '?', '[']) {
        return Ok(match files.read(&full) {
            Ok(_) => vec![full],
            Err(_) => Vec::new(),
        });
    }
    let mut found: Vec<PathBuf> = match files.list(&parent) {
        Ok(names) => names
            .into_iter()
            .filter(|n| !n.starts_with('.') && glob_match(&name, n))
            .map(|n| parent.join(n))
            .collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    Ok(found)
}

/// `a/./b/../c` → `a/c`, so that one file reached by two spellings is read once.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Shell-style matching of one name: `*`, `?`, `[abc]`, `[a-z]`, `[!abc]`. Linear in
/// practice: a `*` is retried from the last one only (no exponential backtracking).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    // After the last `*` seen: where its pattern goes on, and the name position it
    // swallowed up to.
    let mut star: Option<(usize, usize)> = None;
    while let Some(&c) = n.get(ni) {
        if p.get(pi) == Some(&'*') {
            pi += 1;
            star = Some((pi, ni));
            continue;
        }
        if let Some(len) = element(&p, pi, c) {
            pi += len;
            ni += 1;
            continue;
        }
        match star {
            Some((after, swallowed)) => {
                pi = after;
                ni = swallowed + 1;
                star = Some((after, swallowed + 1));
            }
            None => return false,
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

/// If the pattern element at `at` matches `c`: its length in the pattern.
fn element(p: &[char], at: usize, c: char) -> Option<usize> {
    match p.get(at)? {
        '?' => Some(1),
        '[' => match class(p.get(at + 1..)?) {
            Some((hit, len)) => hit(c).then_some(len + 1),
            None => (c == '[').then_some(1),
        },
        &literal => (literal == c).then_some(1),
    }
}

/// A `[…]` class after its `[`: the test, and its length up to and with its `]`.
#[allow(clippy::type_complexity)]
fn class(p: &[char]) -> Option<(Box<dyn Fn(char) -> bool + '_>, usize)> {
    let (negate, body, skip) = match p.split_first() {
        Some(('!', rest)) => (true, rest, 1),
        _ => (false, p, 0),
    };
    // A `]` right after `[` or `[!` is a member, as in the shell.
    let close = body.iter().skip(1).position(|&c| c == ']')? + 1;
    let members = body.get(..close)?;
    let test = move |c: char| {
        let mut hit = false;
        let mut i = 0;
        while let Some(&m) = members.get(i) {
            match (members.get(i + 1), members.get(i + 2)) {
                (Some('-'), Some(&hi)) => {
                    hit |= m <= c && c <= hi;
                    i += 3;
                }
                _ => {
                    hit |= m == c;
                    i += 1;
                }
            }
        }
        hit != negate
    };
    Some((Box::new(test), skip + close + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Memory(BTreeMap<PathBuf, String>);

    impl Files for Memory {
        fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
            self.0
                .get(path)
                .map(|t| t.clone().into_bytes())
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }
        fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
            Ok(self
                .0
                .keys()
                .filter(|p| p.parent() == Some(dir))
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect())
        }
    }

    fn tree(files: &[(&str, &str)]) -> Memory {
        Memory(
            files
                .iter()
                .map(|(p, t)| (PathBuf::from(p), t.to_string()))
                .collect(),
        )
    }

    #[test]
    fn includes_are_read_after_their_file_sorted_and_once() {
        let fs = tree(&[
            (
                "/etc/s/main.conf",
                "[include]\nfiles = conf.d/*.conf /etc/s/extra.ini none/*.conf\n",
            ),
            ("/etc/s/conf.d/b.conf", "[program:b]\ncommand=b\n"),
            (
                "/etc/s/conf.d/a.conf",
                "[program:a]\ncommand=a\n[include]\nfiles=../main.conf\n",
            ),
            ("/etc/s/conf.d/.hidden.conf", "[program:h]\ncommand=h\n"),
            ("/etc/s/conf.d/c.txt", "[program:c]\ncommand=c\n"),
            ("/etc/s/extra.ini", "[program:e]\ncommand=e\n"),
        ]);
        let sources = load(&[PathBuf::from("/etc/s/main.conf")], &fs, Path::new("/")).unwrap();
        let labels: Vec<&str> = sources.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "/etc/s/main.conf",
                "/etc/s/conf.d/a.conf",
                "/etc/s/conf.d/b.conf",
                "/etc/s/extra.ini"
            ]
        );
        assert_eq!(sources[0].unmatched, ["none/*.conf"]);
        assert!(!sources[0].included && sources[1].included);
    }

    #[test]
    fn an_included_files_include_is_not_followed_and_here_is_absolute() {
        let fs = tree(&[
            (
                "/etc/s/main.conf",
                "[include]\nfiles = %(here)s/conf.d/*.conf\n",
            ),
            ("/etc/s/conf.d/a.conf", "[include]\nfiles = more/*.conf\n"),
            ("/etc/s/conf.d/more/b.conf", "[program:b]\ncommand=b\n"),
        ]);
        // Named relative to the working directory /etc/s.
        let sources = load(&[PathBuf::from("main.conf")], &fs, Path::new("/etc/s")).unwrap();
        let labels: Vec<&str> = sources.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["main.conf", "/etc/s/conf.d/a.conf"]);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let fs = tree(&[("/a.conf", "[x]\nbad line\n")]);
        let e = load(&[PathBuf::from("/a.conf")], &fs, Path::new("/")).unwrap_err();
        assert!(e.starts_with("/a.conf:2: "), "{e}");
        let e = load(&[PathBuf::from("/missing.conf")], &fs, Path::new("/")).unwrap_err();
        assert!(e.starts_with("/missing.conf: "), "{e}");
        let fs = tree(&[("/a.conf", "[include]\nfiles=*/x.conf\n")]);
        let e = load(&[PathBuf::from("/a.conf")], &fs, Path::new("/")).unwrap_err();
        assert!(e.contains("/a.conf:2: files:"), "{e}");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_an_error_on_their_line() {
        struct Bytes;
        impl Files for Bytes {
            fn read(&self, _: &Path) -> io::Result<Vec<u8>> {
                Ok(b"[x]\na=1\nb=\xff\xfe\n".to_vec())
            }
            fn list(&self, _: &Path) -> io::Result<Vec<String>> {
                Ok(Vec::new())
            }
        }
        let e = load(&[PathBuf::from("/b.conf")], &Bytes, Path::new("/")).unwrap_err();
        assert_eq!(e, "/b.conf:3: not UTF-8 text");
    }

    #[test]
    fn globs_match_like_the_shell() {
        assert!(glob_match("*.conf", "a.conf"));
        assert!(!glob_match("*.conf", "a.conf.bak"));
        assert!(glob_match("config??.conf", "config01.conf"));
        assert!(!glob_match("config??.conf", "config1.conf"));
        assert!(glob_match("[ab]*", "b1"));
        assert!(!glob_match("[!ab]*", "b1"));
        assert!(glob_match("w[0-9].ini", "w7.ini"));
        assert!(glob_match("[]x]", "]"));
        assert!(glob_match("a[", "a["));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("a*b*c", "aXbYbZ"));
        assert!(glob_match("*[0-9]", "x7"));
        // Many stars against a long name that does not match: no exponential search.
        let stars = "*a".repeat(40) + "b";
        assert!(!glob_match(&stars, &"a".repeat(250)));
    }
}
