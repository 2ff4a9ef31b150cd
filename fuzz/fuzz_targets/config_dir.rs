//! Fuzzes `rinit::config::load` on a directory of up to 4 files (input split on `---` lines).
//! Must hold: no panic and no hang, even on non-UTF-8 files; the merged config is acyclic.
#![no_main]

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

mod common;

const NAMES: [&str; 4] = ["10-a.toml", "20-b.toml", "30-c.toml", "40-d.toml"];

/// This process's scratch directory, made empty on first use.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("rinit-fuzz-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the fuzz directory");
        dir
    })
}

/// The input cut at lines that are exactly `---` (a `\r` before the `\n` allowed), into at
/// most `NAMES.len()` parts: separators after the last cut stay in the last part.
fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut line = 0;
    while line < data.len() && parts.len() + 1 < NAMES.len() {
        let end = data[line..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| line + i);
        let text = &data[line..end];
        let next = (end + 1).min(data.len());
        if text == b"---" || text == b"---\r" {
            parts.push(&data[start..line]);
            start = next;
        }
        line = next;
        if end == data.len() {
            break;
        }
    }
    parts.push(&data[start..]);
    parts
}

fuzz_target!(|data: &[u8]| {
    let dir = dir();
    // Clear what the previous run left.
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let _ = fs::remove_file(entry.path());
        }
    }
    for (name, part) in NAMES.iter().zip(split(data)) {
        fs::write(dir.join(name), part).expect("write a fuzz config file");
    }
    common::check(rinit::config::load(dir));
});
