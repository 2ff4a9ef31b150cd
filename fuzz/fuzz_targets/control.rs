//! Fuzzes `rinit::control::parse_request` and `rinit::json::parse` on control-socket lines.
//! Must hold: no panic and no hang; JSON that parses round-trips through its Display.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::json::{self, Json};

/// No number is infinite: the writer prints a non-finite number as `null`, so only such
/// values can come back different (the parser reads `1e999` as infinity).
fn all_finite(v: &Json) -> bool {
    match v {
        Json::Num(n) => n.is_finite(),
        Json::Arr(items) => items.iter().all(all_finite),
        Json::Obj(members) => members.iter().all(|(_, v)| all_finite(v)),
        Json::Null | Json::Bool(_) | Json::Str(_) => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(request) = rinit::control::parse_request(&text) {
        assert!(rinit::control::COMMANDS.contains(&request.command.as_str()));
    }
    let Ok(value) = json::parse(&text) else {
        return;
    };
    let written = value.to_string();
    let again = match json::parse(&written) {
        Ok(v) => v,
        Err(e) => panic!("rinit's own output {written:?} does not parse: {e}"),
    };
    if all_finite(&value) {
        assert_eq!(again, value, "round trip through {written:?}");
    }
    // Written once, the text is canonical: writing again gives the same bytes.
    assert_eq!(again.to_string(), written);
});
