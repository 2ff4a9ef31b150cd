//! Fuzzes `rinit::control::parse_request` on control-socket lines, and the replies built
//! from what it says. Must hold: no panic and no hang; a parsed request names a known
//! command; every error reply is one line of valid JSON that says `"ok": false`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::control::{COMMANDS, Reply, parse_request};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let reply = match parse_request(&text) {
        Ok(request) => {
            assert!(COMMANDS.contains(&request.command()));
            Reply::message(request.command())
        }
        Err(e) => Reply::error(e),
    };
    let line = reply.to_line();
    assert!(!line.contains('\n'), "a reply is one line: {line:?}");
    let value: serde_json::Value = match serde_json::from_str(&line) {
        Ok(v) => v,
        Err(e) => panic!("rinit's own reply {line:?} is not JSON: {e}"),
    };
    assert!(value.get("ok").is_some_and(serde_json::Value::is_boolean));
});
