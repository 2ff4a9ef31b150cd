//! Command-line patterns for the final sweep: POSIX extended regular expressions, matched
//! the way `pkill -f` does (anywhere in the command line, arguments joined by spaces).
//!
//! The C library's `regcomp`/`regexec` do the work, so rinit needs no regex crate.
//! A [`Pattern`] owns its compiled `regex_t` (boxed, so its address never moves) and
//! frees it on drop. It is not `Clone`: the configuration keeps patterns as strings,
//! validates them with [`Pattern::new`] at load time, and the sweep compiles them again
//! when it needs them.

use std::ffi::{CStr, CString};

/// A compiled POSIX extended regular expression (`REG_EXTENDED | REG_NOSUB`).
pub struct Pattern {
    source: String,
    regex: Box<libc::regex_t>,
}

impl Pattern {
    /// Compiles `src`. The error is the C library's description of what is wrong.
    pub fn new(src: &str) -> Result<Pattern, String> {
        let c_src =
            CString::new(src).map_err(|_| "a pattern cannot contain a NUL byte".to_string())?;
        let flags = libc::REG_EXTENDED | libc::REG_NOSUB;
        // SAFETY: regex_t is a plain C struct for which all-zero bytes are a valid value,
        // which regcomp initialises through a pointer to writable memory for one regex_t;
        // `c_src` is a valid NUL-terminated string that outlives the call.
        let (regex, code) = unsafe {
            let mut regex: Box<libc::regex_t> = Box::new(std::mem::zeroed());
            let code = libc::regcomp(&mut *regex, c_src.as_ptr(), flags);
            (regex, code)
        };
        if code != 0 {
            // regcomp failed, so there is nothing to regfree.
            return Err(describe_error(code, &regex));
        }
        Ok(Pattern {
            source: src.to_string(),
            regex,
        })
    }

    /// True if the pattern matches anywhere in `text`.
    #[cfg(test)]
    pub fn is_match(&self, text: &str) -> bool {
        self.is_match_bytes(text.as_bytes())
    }

    /// Like [`Pattern::is_match`], for raw bytes such as `/proc/PID/cmdline`: NUL bytes
    /// (the separators between arguments there) are matched as spaces, and a trailing
    /// NUL is ignored, so the text seen is what `ps` and `pkill -f` show.
    pub fn is_match_bytes(&self, text: &[u8]) -> bool {
        let c_text = match CString::new(nul_to_space(text)) {
            Ok(c) => c,
            Err(_) => return false, // unreachable: every NUL was replaced
        };
        // SAFETY: `self.regex` was initialised by a successful regcomp and is not freed
        // until drop; `c_text` is NUL-terminated; nmatch = 0 so pmatch may be null.
        let code =
            unsafe { libc::regexec(&*self.regex, c_text.as_ptr(), 0, std::ptr::null_mut(), 0) };
        code == 0
    }

    /// The text the pattern was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl Drop for Pattern {
    fn drop(&mut self) {
        // SAFETY: a Pattern only exists after a successful regcomp, and this is the one
        // place that frees it.
        unsafe { libc::regfree(&mut *self.regex) }
    }
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

/// The message `regerror` gives for error `code`.
fn describe_error(code: libc::c_int, regex: &libc::regex_t) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for its full length, which is what we pass.
    unsafe { libc::regerror(code, regex, buf.as_mut_ptr().cast(), buf.len()) };
    let text = CStr::from_bytes_until_nul(&buf).map_or_else(|_| "".into(), CStr::to_string_lossy);
    if text.is_empty() {
        format!("invalid regular expression (error {code})")
    } else {
        text.into()
    }
}

/// `text` with a trailing NUL removed and every other NUL turned into a space.
fn nul_to_space(text: &[u8]) -> Vec<u8> {
    let text = text.strip_suffix(&[0]).unwrap_or(text);
    text.iter()
        .map(|&b| if b == 0 { b' ' } else { b })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_anywhere_in_the_text() {
        let p = Pattern::new("postgres: ").unwrap();
        assert!(p.is_match("postgres: checkpointer"));
        assert!(p.is_match("/usr/lib/postgres: x"));
        assert!(!p.is_match("postgres"));
        assert_eq!(p.source(), "postgres: ");
    }

    #[test]
    fn extended_syntax_and_anchors() {
        let p = Pattern::new("^(php-fpm|nginx): (master|worker)+").unwrap();
        assert!(p.is_match("nginx: worker process"));
        assert!(p.is_match("php-fpm: master process (/etc/php/fpm.conf)"));
        assert!(!p.is_match(" nginx: worker"));
        let q = Pattern::new("worker[0-9]{2}$").unwrap();
        assert!(q.is_match("stray-worker42"));
        assert!(!q.is_match("stray-worker4"));
    }

    #[test]
    fn cmdline_bytes_are_joined_by_spaces() {
        let p = Pattern::new("sleep 1000").unwrap();
        assert!(p.is_match_bytes(b"sleep\x001000\x00"));
        assert!(!p.is_match_bytes(b"sleep\x00100\x00"));
        let end = Pattern::new("1000$").unwrap();
        assert!(end.is_match_bytes(b"sleep\x001000\x00"));
    }

    #[test]
    fn invalid_patterns_are_described() {
        let err = Pattern::new("(unclosed").unwrap_err();
        assert!(!err.is_empty());
        assert!(Pattern::new("a[").is_err());
        assert!(Pattern::new("a\0b").unwrap_err().contains("NUL"));
    }

    #[test]
    fn many_patterns_compile_and_drop() {
        for i in 0..1000 {
            let p = Pattern::new(&format!("worker-{i}")).unwrap();
            assert!(p.is_match(&format!("x worker-{i} y")));
        }
    }
}
