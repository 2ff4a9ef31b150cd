//! Fuzzes `rinit::config::load_str` (TOML parsing, validation, dependency graph) on one file.
//! Must hold: no panic and no hang on any input; a loaded config has an acyclic graph.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        common::check(rinit::config::load_str("fuzz.toml", text));
    }
});
